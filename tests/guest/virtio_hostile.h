/*
 * What the hostile virtio-rng guests share: open the device, show that a
 * request works, expect NEEDS_RESET after breaking a rule, and show that
 * a reset brings the device back. Each program includes this once.
 */
#ifndef GUEST_VIRTIO_HOSTILE_H
#define GUEST_VIRTIO_HOSTILE_H

#include "lib/guest.h"
#include "lib/virtio.h"

/* Not every program uses every helper. */
#define HOSTILE_FN static __attribute__((unused))

#define HOSTILE_QUEUE_SIZE 16
#define HOSTILE_WAIT_US    2000000

static struct virtio_window hostile_window;
static const char *hostile_name;

/* Finds virtio-rng; fails the test without one. */
HOSTILE_FN void hostile_find(const char *name)
{
	hostile_name = name;
	if (virtio_find(VIRTIO_ID_ENTROPY, 0, &hostile_window)) {
		printf("%s: no virtio-rng device\n", name);
		guest_exit(GUEST_EXIT_FAIL);
	}
}

/* Initialises the device with interrupts where the line is known. */
HOSTILE_FN void hostile_init(struct virtio_dev *dev)
{
	int err = virtio_init(dev, &hostile_window, 0);

	if (!err && hostile_window.irq != VIRTIO_IRQ_UNKNOWN)
		err = virtio_irq_enable(dev);
	if (err) {
		printf("%s: init: %s\n", hostile_name, virtio_strerror(err));
		guest_exit(GUEST_EXIT_FAIL);
	}
}

/* hostile_init, queue 0 and DRIVER_OK: a running device. */
HOSTILE_FN struct virtq *hostile_open(struct virtio_dev *dev)
{
	struct virtq *q;

	hostile_init(dev);
	q = virtq_init(dev, 0, HOSTILE_QUEUE_SIZE);
	if (!q)
		guest_exit(GUEST_EXIT_FAIL);
	virtio_driver_ok(dev);
	return q;
}

/* One 64-byte request must come back filled. */
HOSTILE_FN void hostile_expect_works(struct virtq *q, const char *when)
{
	static uint8_t buf[64];
	struct virtq_buf b = {
		.addr = buf, .len = sizeof(buf), .writable = true};
	uint32_t len = 0;
	int err = virtq_roundtrip(q, &b, 1, &len, HOSTILE_WAIT_US);

	if (err || len == 0 || len > sizeof(buf)) {
		printf("%s: %s: request failed: %s (len %u, status 0x%x)\n",
		       hostile_name, when, virtio_strerror(err), len,
		       virtio_status(q->dev));
		guest_exit(GUEST_EXIT_FAIL);
	}
	printf("%s: %s: a request works (%u bytes)\n", hostile_name, when, len);
}

/*
 * NEEDS_RESET must come within the wait; with DRIVER_OK and interrupts
 * on, so must a config change interrupt (virtio 1.2, 2.1.2).
 */
HOSTILE_FN void hostile_expect_needs_reset(struct virtio_dev *dev,
					   const char *what)
{
	uint32_t status;

	if (virtio_wait_needs_reset(dev, HOSTILE_WAIT_US)) {
		printf("%s: %s: no NEEDS_RESET (status 0x%x)\n", hostile_name,
		       what, virtio_status(dev));
		guest_exit(GUEST_EXIT_FAIL);
	}
	status = virtio_status(dev);
	if ((status & VIRTIO_STATUS_DRIVER_OK) && dev->irq_slot >= 0 &&
	    !dev->nr_config_irqs &&
	    virtio_wait_irq(dev, VIRTIO_MMIO_INT_CONFIG, HOSTILE_WAIT_US)) {
		printf("%s: %s: NEEDS_RESET without a config interrupt\n",
		       hostile_name, what);
		guest_exit(GUEST_EXIT_FAIL);
	}
	printf("%s: %s: status 0x%x, %u config interrupts\n", hostile_name,
	       what, status, dev->nr_config_irqs);
}

/* Resets, sets the device up again and shows it works. */
HOSTILE_FN void hostile_expect_recovers(struct virtio_dev *dev,
					const char *what)
{
	struct virtq *q;

	virtio_reset(dev);
	if (virtio_status(dev) != 0) {
		printf("%s: %s: status 0x%x after reset\n", hostile_name, what,
		       virtio_status(dev));
		guest_exit(GUEST_EXIT_FAIL);
	}
	q = hostile_open(dev);
	hostile_expect_works(q, what);
}

#endif
