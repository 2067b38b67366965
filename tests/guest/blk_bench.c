/*
 * virtio-blk benchmark (tools/bench-blk.sh runs it under minnow and QEMU):
 * 4 KiB random reads at queue depth 1 and 32, 128 KiB sequential reads
 * and writes at depth 8, by polling the used ring. Prints one line per
 * test: "bench: NAME ios=N us=T iops=I kbps=K".
 */
#include "blk_common.h"

#define QSIZE 128
#define SPAN  (256ull << 20) /* bytes of the image the tests cover */

static struct virtio_dev dev;
static struct blk_slot *slots;
static uint8_t *bufs;
static uint64_t rng_state = 88172645463325252ull;

static uint64_t next_rand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/*
 * Runs total requests of bs bytes with depth in flight: random offsets
 * (4 KiB aligned) or sequential ones. Returns the microseconds taken, or
 * 0 on failure.
 */
static uint64_t run(struct virtq *q, uint32_t type, uint32_t bs,
		    unsigned int depth, unsigned int total, bool random,
		    uint64_t span)
{
	unsigned int issued = 0, done = 0, inflight = 0;
	uint64_t seq = 0, t0 = rdtsc();
	uint16_t head, id;
	uint32_t len;

	while (done < total) {
		while (inflight < depth && issued < total) {
			uint64_t off = random ? (next_rand() % (span / 4096)) * 4096
					      : seq;

			seq = (seq + bs) % span;
			if (blk_add_pieces(q, &slots[issued % depth], type,
					   off / 512,
					   bufs + (uint64_t)bs * (issued % depth),
					   bs, bs, &head))
				return 0;
			issued++;
			inflight++;
		}
		virtq_kick(q);
		if (virtq_wait(q, &id, &len, BLK_WAIT_US))
			return 0;
		done++;
		inflight--;
		while (virtq_get_used(q, &id, &len) == 1) {
			done++;
			inflight--;
		}
	}
	return (rdtsc() - t0) * 1000 / tsc_khz();
}

static int report(struct virtq *q, const char *name, uint32_t type,
		  uint32_t bs, unsigned int depth, unsigned int total,
		  bool random, uint64_t span)
{
	uint64_t us = run(q, type, bs, depth, total, random, span);

	if (!us) {
		printf("bench: %s failed\n", name);
		return -1;
	}
	printf("bench: %s ios=%u us=%lu iops=%lu kbps=%lu\n", name, total, us,
	       (uint64_t)total * 1000000 / us,
	       (uint64_t)total * bs / 1024 * 1000000 / us);
	return 0;
}

int main(void)
{
	struct virtio_window w;
	struct virtq *q;
	uint64_t span;
	int err;

	slots = virtio_zalloc(sizeof(*slots) * 64, 64);
	bufs = virtio_alloc(32 * 128 * 1024, 4096);
	if (!slots || !bufs || virtio_find(VIRTIO_ID_BLOCK, 0, &w) < 0)
		return 1;
	err = virtio_init(&dev, &w, VIRTIO_F_EVENT_IDX | BLK_F_SEG_MAX);
	if (err)
		return 1;
	q = virtq_init(&dev, 0, QSIZE);
	if (!q)
		return 1;
	virtio_driver_ok(&dev);
	span = virtio_config_read64(&dev, BLK_CFG_CAPACITY) * 512;
	span = span < SPAN ? span : SPAN;
	span &= ~(128ull * 1024 - 1);

	if (report(q, "randread-4k-qd1", BLK_T_IN, 4096, 1, 2000, true, span) ||
	    report(q, "randread-4k-qd32", BLK_T_IN, 4096, 32, 20000, true,
		   span) ||
	    report(q, "seqread-128k-qd8", BLK_T_IN, 131072, 8, 1024, false,
		   span) ||
	    report(q, "seqwrite-128k-qd8", BLK_T_OUT, 131072, 8, 1024, false,
		   span))
		return 1;
	printf("bench: done\n");
	return 0;
}
