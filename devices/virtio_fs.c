/*
 * virtio-fs with the built-in FUSE server: each chain on the hiprio or
 * the request queue is one FUSE request (device-readable part) and the
 * room for its reply (device-writable part), virtio 1.2, 5.11.6.
 */
#include "devices/virtio_fs.h"
#include "devices/vhost_user_fs.h"
#include "vmm/log.h"
#include "vmm/util.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct virtio_fs {
	struct virtio_dev dev;
	struct virtqueue vqs[VIRTIO_FS_NR_QUEUES];
	struct virtio_fs_config config;
	struct fs_server *server;
	struct iovec iov[VIRTIO_FS_QUEUE_SIZE];
};

static int virtio_fs_spec_field(struct virtio_fs_spec *out, const char *key,
				const char *val)
{
	if (strcmp(key, "tag") == 0) {
		if (!*val || strlen(val) > VIRTIO_FS_TAG_BYTES) {
			log_error("--fs: tag: 1 to %d bytes",
				  VIRTIO_FS_TAG_BYTES);
			return -EINVAL;
		}
		strcpy(out->tag, val);
	} else if (strcmp(key, "dir") == 0 || strcmp(key, "socket") == 0) {
		bool dir = key[0] == 'd';
		size_t cap = dir ? sizeof(out->dir) : sizeof(out->socket);

		if (!*val || strlen(val) >= cap) {
			log_error("--fs: %s: empty or too long", key);
			return -EINVAL;
		}
		strcpy(dir ? out->dir : out->socket, val);
	} else if (strcmp(key, "readonly") == 0) {
		if (strcmp(val, "on") && strcmp(val, "off")) {
			log_error("--fs: readonly: 'on' or 'off'");
			return -EINVAL;
		}
		out->readonly = strcmp(val, "on") == 0;
	} else if (strcmp(key, "cache") == 0) {
		if (fs_cache_parse(val, &out->cache)) {
			log_error("--fs: cache: 'never', 'auto' or 'always'");
			return -EINVAL;
		}
	} else {
		log_error("--fs: unknown field '%s' (tag, dir, socket, "
			  "readonly, cache)",
			  key);
		return -EINVAL;
	}
	return 0;
}

int virtio_fs_spec_parse(const char *str, struct virtio_fs_spec *out)
{
	char *copy = strdup(str), *save = NULL, *item;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	*out = (struct virtio_fs_spec){.cache = FS_CACHE_AUTO};
	for (item = strtok_r(copy, ",", &save); item && !err;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');

		if (!eq) {
			log_error("--fs: '%s' is not key=value", item);
			err = -EINVAL;
			break;
		}
		*eq = '\0';
		err = virtio_fs_spec_field(out, item, eq + 1);
	}
	free(copy);
	if (err)
		return err;
	if (!out->tag[0]) {
		log_error("--fs: tag= is required");
		return -EINVAL;
	}
	if (!out->dir[0] == !out->socket[0]) {
		log_error("--fs: exactly one of dir= and socket= is required");
		return -EINVAL;
	}
	if (out->socket[0] && out->readonly) {
		log_error("--fs: readonly: set it on the vhost-user back end");
		return -EINVAL;
	}
	return 0;
}

static void virtio_fs_config_read(struct virtio_dev *dev, uint32_t offset,
				  uint8_t *data, uint32_t len)
{
	struct virtio_fs *fs = container_of(dev, struct virtio_fs, dev);

	memcpy(data, (const uint8_t *)&fs->config + offset, len);
}

/*
 * Serves one chain. A request needs a readable part; the writable part
 * may be absent for FORGET and BATCH_FORGET (virtio 1.2, 5.11.6.1), and
 * the server answers any request it cannot reply to with nothing.
 */
static void virtio_fs_serve(struct virtio_fs *fs, struct virtqueue *vq,
			    const struct vq_chain *chain)
{
	uint32_t written = fs_server_handle(
		fs->server, chain->iov, chain->nr_readable,
		chain->iov + chain->nr_readable, chain->nr_writable);

	vq_push_used(vq, chain->head, written);
}

/*
 * TODO(fs-uring): requests run to completion here, on the event-loop
 * thread under the device lock, reads and writes included (preadv and
 * pwritev straight on guest memory). Moving them onto io_uring needs the
 * server to complete requests out of order; until then a slow host
 * file system stalls the other devices on the loop.
 */
static void virtio_fs_queue_notify(struct virtio_dev *dev, unsigned int qidx)
{
	struct virtio_fs *fs = container_of(dev, struct virtio_fs, dev);
	struct virtqueue *vq = &fs->vqs[qidx];
	struct vq_chain chain = {.iov = fs->iov,
				 .iov_cap = ARRAY_SIZE(fs->iov)};
	int ret;

	do {
		vq_disable_notify(vq);
		while ((ret = vq_pop_chain(vq, &chain)) == 1)
			virtio_fs_serve(fs, vq, &chain);
		if (ret < 0) {
			virtio_dev_fail(dev, "queue %u: %s", qidx,
					vq_strerror(ret));
			return;
		}
		virtio_notify_queue(dev, vq);
	} while (vq_enable_notify(vq));
}

static void virtio_fs_destroy(struct virtio_dev *dev)
{
	struct virtio_fs *fs = container_of(dev, struct virtio_fs, dev);

	fs_server_destroy(fs->server);
	free(fs);
}

static const struct virtio_dev_ops virtio_fs_ops = {
	.config_read = virtio_fs_config_read,
	.queue_notify = virtio_fs_queue_notify,
	.destroy = virtio_fs_destroy,
};

struct virtio_dev *virtio_fs_create(const struct virtio_fs_spec *spec)
{
	struct fs_server_config cfg = {
		.dir = spec->dir,
		.readonly = spec->readonly,
		.cache = spec->cache,
	};
	struct virtio_fs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	if (fs_server_create(&cfg, &fs->server)) {
		free(fs);
		return NULL;
	}
	memcpy(fs->config.tag, spec->tag, strlen(spec->tag));
	fs->config.num_request_queues = htole32(1);
	fs->dev = (struct virtio_dev){
		.name = "virtio-fs",
		.device_id = VIRTIO_ID_FS,
		/* virtio 1.2, 5.11.3: no notification queue offered. */
		.features = (1ull << VIRTIO_F_VERSION_1) |
			    (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
			    (1ull << VIRTIO_RING_F_EVENT_IDX),
		.nr_queues = VIRTIO_FS_NR_QUEUES,
		.queue_max_size = VIRTIO_FS_QUEUE_SIZE,
		.config_size = sizeof(fs->config),
		.ops = &virtio_fs_ops,
		.vqs = fs->vqs,
	};
	return &fs->dev;
}

int virtio_fs_from_spec(struct vm *vm, const char *str, struct virtio_dev **out)
{
	struct virtio_fs_spec spec;
	int err = virtio_fs_spec_parse(str, &spec);

	if (err)
		return err;
	if (spec.socket[0])
		return vhost_user_fs_create(&spec, out);
	*out = virtio_fs_create(&spec);
	return *out ? 0 : -EINVAL;
}
