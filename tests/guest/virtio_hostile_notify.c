/*
 * Hostile guest: QueueNotify for queues that were never set up: queue 0
 * before any setup (device running), a queue index the device does not
 * have, and the largest index. virtio 1.2 puts no requirement on the
 * device here and minnow ignores such a kick (devices/virtio.h), so the
 * device must stay healthy: no NEEDS_RESET, no used buffer, no
 * interrupt, and the queue, once set up, must work. minnow must not
 * crash on the way (the kick for a missing queue reaches its MMIO
 * handler, not an ioeventfd).
 */
#include "virtio_hostile.h"

#define SETTLE_US 200000

static void expect_ignored(struct virtio_dev *dev, const char *what)
{
	uint32_t irqs = dev->nr_irqs;

	delay_us(SETTLE_US);
	if (dev->irq_slot >= 0)
		virtio_wait_irq(dev, ~0u, SETTLE_US);
	if (virtio_needs_reset(dev) || dev->nr_irqs != irqs) {
		printf("hostile-notify: %s: status 0x%x, %u interrupts\n", what,
		       virtio_status(dev), dev->nr_irqs - irqs);
		guest_exit(GUEST_EXIT_FAIL);
	}
	printf("hostile-notify: %s: ignored, status 0x%x\n", what,
	       virtio_status(dev));
}

int main(void)
{
	struct virtio_dev dev;
	struct virtq *q;

	hostile_find("hostile-notify");

	/* Running (DRIVER_OK) with queue 0 never set up. */
	hostile_init(&dev);
	virtio_driver_ok(&dev);
	virtio_notify(&dev, 0);
	expect_ignored(&dev, "queue 0 never set up");
	virtio_notify(&dev, 1);
	expect_ignored(&dev, "queue 1 (absent)");
	virtio_notify(&dev, 0xffffffffu);
	expect_ignored(&dev, "queue 0xffffffff");

	/* Before DRIVER_OK, then the normal sequence on the same device. */
	hostile_init(&dev);
	virtio_notify(&dev, 0);
	expect_ignored(&dev, "queue 0 before DRIVER_OK");
	q = virtq_init(&dev, 0, HOSTILE_QUEUE_SIZE);
	if (!q)
		return GUEST_EXIT_FAIL;
	virtio_driver_ok(&dev);
	hostile_expect_works(q, "after the stray kicks");
	hostile_expect_recovers(&dev, "after reset");
	printf("hostile-notify: ok\n");
	return GUEST_EXIT_PASS;
}
