/* virtio-fs whose queues a vhost-user back end serves: start, stop, relays. */
#include "devices/vhost_user_fs.h"
#include "devices/vhost_user_frontend.h"
#include "vmm/evloop.h"
#include "vmm/util.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct vhost_user_fs;

/* One queue's eventfds from the back end, polled by the event loop. */
struct vufs_queue {
	struct vhost_user_fs *fs;
	unsigned int index;
	int call_fd; /* the back end signals used buffers */
	int err_fd;  /* the back end gave up on the ring */
	struct ev_op call_op, err_op;
	bool started; /* lock: running on the back end */
};

struct vhost_user_fs {
	struct virtio_dev dev;
	struct virtqueue vqs[VIRTIO_FS_NR_QUEUES];
	struct virtio_fs_config config;
	struct vu_frontend fe; /* lock */
	struct evloop *loop;
	struct ev_op hup_op; /* watches the socket for the back end leaving */
	struct vufs_queue q[VIRTIO_FS_NR_QUEUES];
};

/* What minnow passes on to the guest of what the back end offers. */
#define VUFS_FEATURES                                                          \
	((1ull << VIRTIO_F_VERSION_1) |                                        \
	 (1ull << VIRTIO_RING_F_INDIRECT_DESC) |                               \
	 (1ull << VIRTIO_RING_F_EVENT_IDX))

static struct vhost_user_fs *vufs(struct virtio_dev *dev)
{
	return container_of(dev, struct vhost_user_fs, dev);
}

static void vufs_config_read(struct virtio_dev *dev, uint32_t offset,
			     uint8_t *data, uint32_t len)
{
	memcpy(data, (const uint8_t *)&vufs(dev)->config + offset, len);
}

/*
 * A kick that reached the device instead of the back end (no KVM
 * ioeventfd: unit tests): pass it on through the same eventfd.
 */
static void vufs_queue_notify(struct virtio_dev *dev, unsigned int qidx)
{
	int fd = dev->transport->queue_notify_fd(dev, qidx);
	uint64_t one = 1;
	ssize_t n;

	if (fd >= 0) {
		n = write(fd, &one, sizeof(one));
		(void)n;
	}
}

/* DRIVER_OK: hand the memory and every ready ring to the back end. */
static int vufs_activate(struct virtio_dev *dev)
{
	struct vhost_user_fs *fs = vufs(dev);
	int err;

	if (fs->fe.broken)
		return -ENOTCONN;
	err = vu_frontend_set_features(&fs->fe, dev->driver_features);
	if (!err)
		err = vu_frontend_set_mem_table(&fs->fe, dev->mem);
	for (unsigned int i = 0; i < dev->nr_queues && !err; i++) {
		struct vufs_queue *q = &fs->q[i];

		if (!dev->vqs[i].ready)
			continue;
		err = vu_frontend_start_ring(
			&fs->fe, i, &dev->vqs[i],
			dev->transport->queue_notify_fd(dev, i), q->call_fd,
			q->err_fd);
		q->started = !err;
	}
	return err;
}

/* Device reset: "GET_VRING_BASE" stops each ring the back end runs. */
static void vufs_reset(struct virtio_dev *dev)
{
	struct vhost_user_fs *fs = vufs(dev);
	uint16_t base;

	for (unsigned int i = 0; i < dev->nr_queues; i++) {
		if (fs->q[i].started && !fs->fe.broken)
			vu_frontend_stop_ring(&fs->fe, i, &base);
		fs->q[i].started = false;
	}
}

/* Drains an eventfd; false when it held nothing. */
static bool vufs_drain(int fd)
{
	uint64_t count;

	return read(fd, &count, sizeof(count)) == sizeof(count);
}

/* Event loop: the back end used buffers on one queue; interrupt the guest. */
static void vufs_call_complete(struct ev_op *op, int res, uint32_t flags)
{
	struct vufs_queue *q = container_of(op, struct vufs_queue, call_op);
	struct vhost_user_fs *fs = q->fs;

	if (!(flags & IORING_CQE_F_MORE) && !fs->loop->stopping)
		evloop_poll(fs->loop, &q->call_op, q->call_fd, POLLIN);
	if (res < 0 || !vufs_drain(q->call_fd))
		return;

	/* The back end decided the driver wants it (event index). */
	pthread_mutex_lock(&fs->dev.lock);
	if (virtio_dev_running(&fs->dev))
		fs->dev.transport->signal(&fs->dev, VIRTIO_SIGNAL_QUEUE,
					  q->index);
	pthread_mutex_unlock(&fs->dev.lock);
}

/* Event loop: the back end stopped a ring the driver broke. */
static void vufs_err_complete(struct ev_op *op, int res, uint32_t flags)
{
	struct vufs_queue *q = container_of(op, struct vufs_queue, err_op);
	struct vhost_user_fs *fs = q->fs;

	if (!(flags & IORING_CQE_F_MORE) && !fs->loop->stopping)
		evloop_poll(fs->loop, &q->err_op, q->err_fd, POLLIN);
	if (res < 0 || !vufs_drain(q->err_fd))
		return;

	pthread_mutex_lock(&fs->dev.lock);
	if (virtio_dev_running(&fs->dev))
		virtio_dev_fail(&fs->dev,
				"queue %u: the vhost-user back end "
				"stopped it (a bad ring or chain)",
				q->index);
	pthread_mutex_unlock(&fs->dev.lock);
}

/*
 * Event loop: the socket hung up (only POLLRDHUP is asked for, so the
 * replies that vCPU threads read never wake this). From now on every
 * request fails at once; a running device fails.
 */
static void vufs_hup_complete(struct ev_op *op, int res, uint32_t flags)
{
	struct vhost_user_fs *fs = container_of(op, struct vhost_user_fs,
						hup_op);
	struct virtio_dev *dev = &fs->dev;

	(void)flags;
	if (res < 0)
		return;
	pthread_mutex_lock(&dev->lock);
	if (!fs->fe.broken) {
		fs->fe.broken = true;
		if (dev->status & VIRTIO_STATUS_DRIVER_OK)
			virtio_dev_fail(dev, "the vhost-user back end "
					     "disconnected");
		else
			log_warn("%s: the vhost-user back end disconnected; "
				 "the device cannot start",
				 dev->name);
	}
	pthread_mutex_unlock(&dev->lock);
}

/* Attached: arm the polls, on the loop's thread before it runs. */
static void vufs_attached(struct virtio_dev *dev, struct evloop *loop)
{
	struct vhost_user_fs *fs = vufs(dev);

	fs->loop = loop;
	for (unsigned int i = 0; i < dev->nr_queues; i++) {
		evloop_poll(loop, &fs->q[i].call_op, fs->q[i].call_fd, POLLIN);
		evloop_poll(loop, &fs->q[i].err_op, fs->q[i].err_fd, POLLIN);
	}
	evloop_poll(loop, &fs->hup_op, fs->fe.sock, POLLRDHUP);
}

static void vufs_destroy(struct virtio_dev *dev)
{
	struct vhost_user_fs *fs = vufs(dev);

	for (unsigned int i = 0; i < VIRTIO_FS_NR_QUEUES; i++) {
		if (fs->q[i].call_fd >= 0)
			close(fs->q[i].call_fd);
		if (fs->q[i].err_fd >= 0)
			close(fs->q[i].err_fd);
	}
	vu_frontend_close(&fs->fe);
	free(fs);
}

static const struct virtio_dev_ops vufs_ops = {
	.config_read = vufs_config_read,
	.queue_notify = vufs_queue_notify,
	.activate = vufs_activate,
	.reset = vufs_reset,
	.destroy = vufs_destroy,
	.attached = vufs_attached,
};

static int vufs_eventfds(struct vhost_user_fs *fs)
{
	for (unsigned int i = 0; i < VIRTIO_FS_NR_QUEUES; i++) {
		struct vufs_queue *q = &fs->q[i];

		q->fs = fs;
		q->index = i;
		q->call_op.complete = vufs_call_complete;
		q->err_op.complete = vufs_err_complete;
		q->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->call_fd < 0 || q->err_fd < 0)
			return -errno;
	}
	return 0;
}

int vhost_user_fs_create(const struct virtio_fs_spec *spec,
			 struct virtio_dev **out)
{
	struct vhost_user_fs *fs = calloc(1, sizeof(*fs));
	int err;

	if (!fs)
		return -ENOMEM;
	for (unsigned int i = 0; i < VIRTIO_FS_NR_QUEUES; i++)
		fs->q[i].call_fd = fs->q[i].err_fd = -1;
	fs->fe.sock = -1;
	fs->hup_op.complete = vufs_hup_complete;
	err = vufs_eventfds(fs);
	if (err)
		goto err_free;
	err = vu_frontend_connect(&fs->fe, "virtio-fs", spec->socket);
	if (err)
		goto err_free;
	if (!(fs->fe.features & (1ull << VIRTIO_F_VERSION_1))) {
		log_error("virtio-fs: the vhost-user back end at %s does not "
			  "offer VIRTIO_F_VERSION_1",
			  spec->socket);
		err = -ENOTSUP;
		goto err_free;
	}

	memcpy(fs->config.tag, spec->tag, strlen(spec->tag));
	fs->config.num_request_queues = htole32(1);
	fs->dev = (struct virtio_dev){
		.name = "virtio-fs",
		.device_id = VIRTIO_ID_FS,
		.features = fs->fe.features & VUFS_FEATURES,
		.nr_queues = VIRTIO_FS_NR_QUEUES,
		.queue_max_size = VIRTIO_FS_QUEUE_SIZE,
		.config_size = sizeof(fs->config),
		.ops = &vufs_ops,
		.vqs = fs->vqs,
		.queues_external = true,
	};
	*out = &fs->dev;
	return 0;

err_free:
	vufs_destroy(&fs->dev);
	return err;
}
