/*
 * Hostile guest: descriptor chains that loop, through the direct table
 * (two descriptors naming each other, and one naming itself). virtio-rng
 * must refuse each with NEEDS_RESET, not spin, and work after a reset.
 */
#include "virtio_hostile.h"

static uint8_t buf[2][64];

/* Makes desc[a] -> desc[b] -> desc[a] ..., writable, and offers it. */
static void offer_loop(struct virtq *q, uint16_t a, uint16_t b)
{
	q->desc[a] = (struct virtq_desc){.addr = (uint64_t)buf[0],
					 .len = sizeof(buf[0]),
					 .flags = VIRTQ_DESC_F_NEXT |
						  VIRTQ_DESC_F_WRITE,
					 .next = b};
	q->desc[b] = (struct virtq_desc){.addr = (uint64_t)buf[1],
					 .len = sizeof(buf[1]),
					 .flags = VIRTQ_DESC_F_NEXT |
						  VIRTQ_DESC_F_WRITE,
					 .next = a};
	virtq_publish(q, a);
	virtio_notify(q->dev, q->index);
}

static void run_case(uint16_t a, uint16_t b, const char *what)
{
	struct virtio_dev dev;
	struct virtq *q;
	uint16_t used_before;

	q = hostile_open(&dev);
	hostile_expect_works(q, "before");
	used_before = q->used->idx;
	offer_loop(q, a, b);
	hostile_expect_needs_reset(&dev, what);
	if (q->used->idx != used_before) {
		printf("hostile-loop: %s: the looping chain was used\n", what);
		guest_exit(GUEST_EXIT_FAIL);
	}
	hostile_expect_recovers(&dev, "after reset");
}

int main(void)
{
	hostile_find("hostile-loop");
	run_case(3, 7, "two-descriptor loop");
	run_case(5, 5, "self loop");
	printf("hostile-loop: ok\n");
	return GUEST_EXIT_PASS;
}
