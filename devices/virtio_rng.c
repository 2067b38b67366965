/* virtio-rng: fills the guest's buffers with bytes from getrandom(). */
#include "devices/virtio_rng.h"
#include "vmm/log.h"
#include "vmm/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct virtio_rng {
	struct virtio_dev dev;
	struct virtqueue vq;
	struct iovec iov[VIRTIO_RNG_QUEUE_SIZE];
};

/*
 * Fills up to len bytes at buf. Returns how many were filled: len, or
 * fewer if the host's generator failed (logged).
 */
static size_t virtio_rng_fill(struct virtio_rng *rng, uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = getrandom(buf + done, len - done, 0);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		log_warn_ratelimited(&rng->dev.rl, "%s: getrandom: %s",
				     rng->dev.name,
				     n < 0 ? strerror(errno) : "no bytes");
		break;
	}
	return done;
}

/* Fills the chain's writable buffers; returns the bytes written. */
static uint32_t virtio_rng_fill_chain(struct virtio_rng *rng,
				      const struct vq_chain *chain)
{
	uint32_t total = 0;

	for (unsigned int i = 0; i < chain->nr_writable; i++) {
		const struct iovec *iov = &chain->iov[chain->nr_readable + i];
		size_t want = MIN(iov->iov_len, VIRTIO_RNG_MAX_REQUEST - total);
		size_t got = virtio_rng_fill(rng, iov->iov_base, want);

		total += (uint32_t)got;
		if (got < want || total == VIRTIO_RNG_MAX_REQUEST)
			break;
	}
	return total;
}

/*
 * Handles one chain. virtio 1.2, 5.4.6.1: the driver places only
 * device-writable buffers, so a device-readable one is a broken driver
 * and fails the device rather than being skipped.
 */
static bool virtio_rng_handle(struct virtio_rng *rng,
			      const struct vq_chain *chain)
{
	if (chain->nr_readable) {
		virtio_dev_fail(&rng->dev,
				"request %u has %u device-readable buffers",
				chain->head, chain->nr_readable);
		return false;
	}
	vq_push_used(&rng->vq, chain->head, virtio_rng_fill_chain(rng, chain));
	return true;
}

static void virtio_rng_queue_notify(struct virtio_dev *dev, unsigned int qidx)
{
	struct virtio_rng *rng = container_of(dev, struct virtio_rng, dev);
	struct vq_chain chain = {.iov = rng->iov,
				 .iov_cap = ARRAY_SIZE(rng->iov)};
	int ret;

	do {
		vq_disable_notify(&rng->vq);
		while ((ret = vq_pop_chain(&rng->vq, &chain)) == 1) {
			if (!virtio_rng_handle(rng, &chain))
				return;
		}
		if (ret < 0) {
			virtio_dev_fail(dev, "requestq: %s", vq_strerror(ret));
			return;
		}
		virtio_notify_queue(dev, &rng->vq);
	} while (vq_enable_notify(&rng->vq));
}

static void virtio_rng_destroy(struct virtio_dev *dev)
{
	free(container_of(dev, struct virtio_rng, dev));
}

static const struct virtio_dev_ops virtio_rng_ops = {
	.queue_notify = virtio_rng_queue_notify,
	.destroy = virtio_rng_destroy,
};

struct virtio_dev *virtio_rng_create(void)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));

	if (!rng)
		return NULL;
	rng->dev = (struct virtio_dev){
		.name = "virtio-rng",
		.device_id = VIRTIO_ID_ENTROPY,
		/* virtio 1.2, 5.4.3: no device features. */
		.features = (1ull << VIRTIO_F_VERSION_1) |
			    (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
			    (1ull << VIRTIO_RING_F_EVENT_IDX),
		.nr_queues = 1,
		.queue_max_size = VIRTIO_RNG_QUEUE_SIZE,
		.config_size = 0,
		.ops = &virtio_rng_ops,
		.vqs = &rng->vq,
	};
	return &rng->dev;
}
