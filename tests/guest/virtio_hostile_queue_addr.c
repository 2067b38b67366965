/*
 * Hostile guest: virtqueues the device cannot use. QueueReady = 1 with
 * the descriptor table past the end of RAM, the used ring straddling the
 * end of RAM, the available ring in the MMIO hole, a misaligned table and
 * a size that is not a power of two. Each must leave the queue not ready
 * and the device in NEEDS_RESET (before DRIVER_OK, so no interrupt is
 * due), and a reset must bring the device back.
 */
#include "virtio_hostile.h"

#define QSIZE 16

struct bad_queue {
	const char *what;
	uint64_t desc, driver, device;
	uint32_t num;
};

static void program_queue(struct virtio_dev *dev, const struct bad_queue *c)
{
	virtio_write(dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	virtio_write(dev, VIRTIO_MMIO_QUEUE_NUM, c->num);
	virtio_write(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)c->desc);
	virtio_write(dev, VIRTIO_MMIO_QUEUE_DESC_HIGH,
		     (uint32_t)(c->desc >> 32));
	virtio_write(dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)c->driver);
	virtio_write(dev, VIRTIO_MMIO_QUEUE_DRIVER_HIGH,
		     (uint32_t)(c->driver >> 32));
	virtio_write(dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)c->device);
	virtio_write(dev, VIRTIO_MMIO_QUEUE_DEVICE_HIGH,
		     (uint32_t)(c->device >> 32));
	virtio_write(dev, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void run_case(const struct bad_queue *c)
{
	struct virtio_dev dev;

	hostile_init(&dev);
	program_queue(&dev, c);
	hostile_expect_needs_reset(&dev, c->what);
	if (virtio_read(&dev, VIRTIO_MMIO_QUEUE_READY)) {
		printf("hostile-queue-addr: %s: queue reads ready\n", c->what);
		guest_exit(GUEST_EXIT_FAIL);
	}

	/* DRIVER_OK on a broken device must not start it either. */
	virtio_driver_ok(&dev);
	if (!virtio_needs_reset(&dev)) {
		printf("hostile-queue-addr: %s: NEEDS_RESET lost\n", c->what);
		guest_exit(GUEST_EXIT_FAIL);
	}
	hostile_expect_recovers(&dev, "after reset");
}

int main(void)
{
	uint64_t end = virtio_ram_end();
	uint8_t *rings = virtio_zalloc(3 * 4096, 4096);
	uint64_t d = (uint64_t)rings, a = d + 4096, u = d + 8192;
	struct bad_queue cases[] = {
		{"descriptors past the end of RAM", end + 0x100000, a, u,
		 QSIZE},
		{"used ring straddling the end of RAM", d, a, end - 64, QSIZE},
		{"available ring in the MMIO hole", d, 0, u, QSIZE},
		{"misaligned descriptors", d + 8, a, u, QSIZE},
		{"size not a power of two", d, a, u, QSIZE - 1},
		{"size zero", d, a, u, 0},
	};

	hostile_find("hostile-queue-addr");
	cases[2].driver = hostile_window.base;
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	printf("hostile-queue-addr: ok\n");
	return GUEST_EXIT_PASS;
}
