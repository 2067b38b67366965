/*
 * Hostile guest: buffers virtio-rng cannot reach. A descriptor past the
 * end of RAM, one straddling the end of RAM, one in the MMIO hole (the
 * device's own register window) and one whose address + length wraps.
 * Each must end in NEEDS_RESET without a byte written, and a reset must
 * bring the device back.
 */
#include "virtio_hostile.h"

struct bad_buf {
	const char *what;
	uint64_t addr;
	uint32_t len;
};

static void run_case(const struct bad_buf *c)
{
	struct virtio_dev dev;
	struct virtq *q;
	uint16_t used_before;

	q = hostile_open(&dev);
	hostile_expect_works(q, "before");
	used_before = q->used->idx;

	q->desc[0] = (struct virtq_desc){
		.addr = c->addr, .len = c->len, .flags = VIRTQ_DESC_F_WRITE};
	virtq_publish(q, 0);
	virtio_notify(&dev, q->index);
	hostile_expect_needs_reset(&dev, c->what);
	if (q->used->idx != used_before) {
		printf("hostile-past-ram: %s: the buffer was used\n", c->what);
		guest_exit(GUEST_EXIT_FAIL);
	}
	hostile_expect_recovers(&dev, "after reset");
}

int main(void)
{
	uint64_t end = virtio_ram_end();
	struct bad_buf cases[] = {
		{"past the end of RAM", end + 0x100000, 4096},
		{"straddling the end of RAM", end - 2048, 4096},
		{"in the MMIO hole", 0, 4096},
		{"wrapping the address space", ~0ull - 1023, 4096},
	};

	hostile_find("hostile-past-ram");
	cases[2].addr = hostile_window.base;
	printf("hostile-past-ram: RAM ends at %lx\n", end);
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	printf("hostile-past-ram: ok\n");
	return GUEST_EXIT_PASS;
}
