/* Status, features and failure handling shared by every virtio device. */
#include "devices/virtio.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int virtio_dev_init(struct virtio_dev *dev)
{
	int err = pthread_mutex_init(&dev->lock, NULL);

	if (err)
		return -err;
	dev->status = 0;
	dev->driver_features = 0;
	dev->config_generation = 0;
	memset(&dev->rl, 0, sizeof(dev->rl));
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		vq_reset(&dev->vqs[i]);
	return 0;
}

void virtio_dev_cleanup(struct virtio_dev *dev)
{
	pthread_mutex_destroy(&dev->lock);
}

void virtio_dev_destroy(struct virtio_dev *dev)
{
	if (dev->ops->destroy)
		dev->ops->destroy(dev);
}

void virtio_dev_reset(struct virtio_dev *dev)
{
	dev->status = 0;
	dev->driver_features = 0;
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		vq_reset(&dev->vqs[i]);
	if (dev->ops->reset)
		dev->ops->reset(dev);
}

uint32_t virtio_dev_get_features(const struct virtio_dev *dev, uint32_t sel)
{
	if (sel > 1)
		return 0;
	return (uint32_t)(dev->features >> (32 * sel));
}

void virtio_dev_set_driver_features(struct virtio_dev *dev, uint32_t sel,
				    uint32_t bits)
{
	uint64_t mask;

	/* virtio 1.2, 2.2.1: features are fixed once FEATURES_OK is set. */
	if (sel > 1 || (dev->status & VIRTIO_STATUS_FEATURES_OK))
		return;
	mask = 0xffffffffull << (32 * sel);
	dev->driver_features = (dev->driver_features & ~mask) |
			       ((uint64_t)bits << (32 * sel));
}

/*
 * virtio 1.2, 2.2.2: the device accepts only a subset of what it offered;
 * minnow offers no legacy interface, so VERSION_1 is required (6.1).
 */
static bool virtio_features_acceptable(const struct virtio_dev *dev)
{
	if (dev->driver_features & ~dev->features)
		return false;
	return dev->driver_features & (1ull << VIRTIO_F_VERSION_1);
}

static void virtio_dev_activate(struct virtio_dev *dev)
{
	int err;

	if (!dev->ops->activate)
		return;
	err = dev->ops->activate(dev);
	if (err)
		virtio_dev_fail(dev, "cannot start: %s", strerror(-err));
}

void virtio_dev_set_status(struct virtio_dev *dev, uint8_t status)
{
	uint8_t old = dev->status, added;

	/* NEEDS_RESET belongs to the device; the driver cannot set it. */
	status = (uint8_t)((status & ~VIRTIO_STATUS_NEEDS_RESET) |
			   (old & VIRTIO_STATUS_NEEDS_RESET));

	/* virtio 1.2, 2.1.1: only a reset (0) clears bits. */
	if (old & ~status) {
		log_warn_ratelimited(&dev->rl,
				     "%s: driver cleared status bits "
				     "0x%02x without a reset; ignored",
				     dev->name, old & ~status);
		return;
	}
	added = status & ~old;

	/* virtio 1.2, 3.1.1 step 5: refuse features we cannot accept. */
	if ((added & VIRTIO_STATUS_FEATURES_OK) &&
	    !virtio_features_acceptable(dev)) {
		log_warn_ratelimited(
			&dev->rl,
			"%s: driver features 0x%llx not acceptable "
			"(offered 0x%llx); FEATURES_OK refused",
			dev->name, (unsigned long long)dev->driver_features,
			(unsigned long long)dev->features);
		status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		added &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}

	/* DRIVER_OK only makes sense on top of an accepted feature set. */
	if ((added & VIRTIO_STATUS_DRIVER_OK) &&
	    !(status & VIRTIO_STATUS_FEATURES_OK)) {
		log_warn_ratelimited(&dev->rl,
				     "%s: DRIVER_OK without FEATURES_OK; "
				     "ignored",
				     dev->name);
		status &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
		added &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	}

	dev->status = status;
	if (added & VIRTIO_STATUS_DRIVER_OK)
		virtio_dev_activate(dev);
}

bool virtio_dev_running(const struct virtio_dev *dev)
{
	return (dev->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

void virtio_dev_fail(struct virtio_dev *dev, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn_ratelimited(&dev->rl, "%s: %s; device needs reset", dev->name,
			     msg);

	if (dev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	dev->status |= VIRTIO_STATUS_NEEDS_RESET;

	/* virtio 1.2, 2.1.2: tell a running driver through a config change. */
	if (dev->status & VIRTIO_STATUS_DRIVER_OK)
		dev->transport->signal(dev, VIRTIO_SIGNAL_CONFIG, 0);
}

void virtio_notify_queue(struct virtio_dev *dev, struct virtqueue *vq)
{
	if (vq_need_interrupt(vq))
		dev->transport->signal(dev, VIRTIO_SIGNAL_QUEUE,
				       (unsigned int)(vq - dev->vqs));
}

void virtio_notify_config(struct virtio_dev *dev)
{
	dev->config_generation++;
	if (dev->status & VIRTIO_STATUS_DRIVER_OK)
		dev->transport->signal(dev, VIRTIO_SIGNAL_CONFIG, 0);
}

void virtio_dev_queue_notify(struct virtio_dev *dev, unsigned int qidx)
{
	pthread_mutex_lock(&dev->lock);
	if (qidx < dev->nr_queues && virtio_dev_running(dev) &&
	    dev->vqs[qidx].ready)
		dev->ops->queue_notify(dev, qidx);
	pthread_mutex_unlock(&dev->lock);
}
