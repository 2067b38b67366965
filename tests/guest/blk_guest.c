/*
 * virtio-blk as a driver sees it. The command line picks the mode:
 *   blk-basic    write patterns and read them back, flush, write-zeroes
 *                (with and without unmap), discard, GET_ID, an unknown
 *                type, ranges past the end, 32 requests in flight
 *   blk-ro       a read-only disk refuses writes and still reads
 *   blk-mq       one write on each of the device's queues
 *   blk-safety   writes 1 MiB, flushes, says so, then waits to be killed
 *   blk-hostile  a header too short fails the device; a reset recovers
 * blk_run.py then checks the image's bytes on the host.
 */
#include "blk_common.h"

#define QSIZE 128

static struct virtio_dev dev;
static struct blk_slot *slots;
static uint8_t *buf, *rbuf;
static uint64_t capacity;

struct fill_args {
	uint8_t *p;
	uint32_t len;
	uint64_t off;
	uint8_t seed;
	int bad; /* out: first mismatch + 1, or 0 */
};

/* CPL 3 (native on kvm_pvm): fill or check a pattern. */
static void fill_user(void *arg)
{
	struct fill_args *a = arg;

	for (uint32_t i = 0; i < a->len; i++)
		a->p[i] = blk_pattern_byte(a->off + i, a->seed);
}

static void check_user(void *arg)
{
	struct fill_args *a = arg;

	a->bad = 0;
	for (uint32_t i = 0; i < a->len; i++) {
		if (a->p[i] != blk_pattern_byte(a->off + i, a->seed)) {
			a->bad = (int)i + 1;
			return;
		}
	}
}

static void fill(uint8_t *p, uint32_t len, uint64_t off, uint8_t seed)
{
	struct fill_args a = {p, len, off, seed, 0};

	user_call(fill_user, &a);
}

static int check(uint8_t *p, uint32_t len, uint64_t off, uint8_t seed)
{
	struct fill_args a = {p, len, off, seed, 0};

	user_call(check_user, &a);
	if (a.bad)
		printf("blk: mismatch at image offset %lu\n",
		       off + (uint64_t)a.bad - 1);
	return a.bad ? -1 : 0;
}

#define EXPECT(what, got, want)                                                \
	do {                                                                   \
		int got_ = (got);                                              \
		if (got_ != (want)) {                                          \
			printf("blk: %s: got %d, want %d\n", what, got_,       \
			       want);                                          \
			return -1;                                             \
		}                                                              \
	} while (0)

static struct virtq *setup(uint64_t wanted, unsigned int nq)
{
	struct virtio_window w;
	struct virtq *q = NULL;
	int err;

	if (virtio_find(VIRTIO_ID_BLOCK, 0, &w) < 0) {
		printf("blk: no virtio-blk device\n");
		return NULL;
	}
	err = virtio_init(&dev, &w, wanted);
	if (err) {
		printf("blk: init: %s\n", virtio_strerror(err));
		return NULL;
	}
	for (unsigned int i = 0; i < nq; i++) {
		struct virtq *qi = virtq_init(&dev, (uint16_t)i, QSIZE);

		if (!qi)
			return NULL;
		if (!q)
			q = qi;
	}
	virtio_driver_ok(&dev);
	capacity = virtio_config_read64(&dev, BLK_CFG_CAPACITY);
	printf("blk: capacity %lu sectors, features %lx\n", capacity,
	       dev.features);
	return q;
}

static int zero_check(uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (p[i])
			return -1;
	return 0;
}

static int dwz(struct virtq *q, uint32_t type, uint64_t sector, uint32_t n,
	       uint32_t flags)
{
	slots[0].seg[0] = sector;
	slots[0].seg[1] = n | ((uint64_t)flags << 32);
	return blk_do(q, &slots[0], type, 0, NULL, 0);
}

/* 32 writes in flight at once, each 4 KiB at 1 MiB + 4 KiB * i. */
static int many_in_flight(struct virtq *q)
{
	uint16_t head, id;
	uint32_t len;
	unsigned int done = 0;

	fill(buf, 32 * 4096, 1u << 20, 3);
	for (unsigned int i = 0; i < 32; i++) {
		if (blk_add(q, &slots[i], BLK_T_OUT, 2048 + 8 * i,
			    buf + 4096 * i, 4096, &head))
			return -1;
	}
	virtq_kick(q);
	while (done < 32) {
		int err = virtq_wait(q, &id, &len, BLK_WAIT_US);

		if (err) {
			printf("blk: in flight: %s\n", virtio_strerror(err));
			return -1;
		}
		done++;
	}
	for (unsigned int i = 0; i < 32; i++)
		EXPECT("in-flight status", slots[i].status, BLK_S_OK);
	return 0;
}

static int mode_basic(void)
{
	uint64_t want = BLK_F_FLUSH | BLK_F_DISCARD | BLK_F_WRITE_ZEROES |
			BLK_F_BLK_SIZE | BLK_F_SEG_MAX | BLK_F_SIZE_MAX |
			VIRTIO_F_EVENT_IDX;
	struct virtq *q = setup(want, 1);
	char id[21] = {0};

	if (!q)
		return -1;
	/* SIZE_MAX is optional (QEMU offers none); the rest is needed. */
	want &= ~BLK_F_SIZE_MAX;
	if ((dev.features & want) != want) {
		printf("blk: features missing: %lx\n", want & ~dev.features);
		return -1;
	}
	/* 64 KiB at sector 0, read back elsewhere. */
	fill(buf, 65536, 0, 1);
	EXPECT("write 64k", blk_do(q, &slots[0], BLK_T_OUT, 0, buf, 65536),
	       BLK_S_OK);
	memset(rbuf, 0, 65536);
	EXPECT("read 64k", blk_do(q, &slots[0], BLK_T_IN, 0, rbuf, 65536),
	       BLK_S_OK);
	if (check(rbuf, 65536, 0, 1))
		return -1;

	fill(buf, 4096, 128 * 1024, 2);
	EXPECT("write 4k", blk_do(q, &slots[0], BLK_T_OUT, 256, buf, 4096),
	       BLK_S_OK);
	EXPECT("flush", blk_do(q, &slots[0], BLK_T_FLUSH, 0, NULL, 0),
	       BLK_S_OK);

	/* Zeroes at 256 KiB (8 KiB) and, with unmap, at 264 KiB (8 KiB). */
	EXPECT("write-zeroes", dwz(q, BLK_T_WRITE_ZEROES, 512, 16, 0),
	       BLK_S_OK);
	EXPECT("write-zeroes unmap", dwz(q, BLK_T_WRITE_ZEROES, 528, 16, 1),
	       BLK_S_OK);
	memset(rbuf, 0xff, 16384);
	EXPECT("read zeroes", blk_do(q, &slots[0], BLK_T_IN, 512, rbuf, 16384),
	       BLK_S_OK);
	EXPECT("zeroes read back", zero_check(rbuf, 16384), 0);
	EXPECT("discard", dwz(q, BLK_T_DISCARD, 1024, 16, 0), BLK_S_OK);
	EXPECT("discard with unmap", dwz(q, BLK_T_DISCARD, 1024, 16, 1),
	       BLK_S_UNSUPP);

	/* Past the end: refused, nothing written. */
	EXPECT("write past end",
	       blk_do(q, &slots[0], BLK_T_OUT, capacity - 1, buf, 1024),
	       BLK_S_IOERR);
	EXPECT("read past end",
	       blk_do(q, &slots[0], BLK_T_IN, capacity, rbuf, 512),
	       BLK_S_IOERR);
	EXPECT("zeroes past end",
	       dwz(q, BLK_T_WRITE_ZEROES, capacity - 1, 2, 0), BLK_S_IOERR);

	EXPECT("get-id", blk_do(q, &slots[0], BLK_T_GET_ID, 0, id, 20),
	       BLK_S_OK);
	printf("blk: serial '%s'\n", id);
	EXPECT("unknown type", blk_do(q, &slots[0], 99, 0, NULL, 0),
	       BLK_S_UNSUPP);
	if (many_in_flight(q))
		return -1;
	EXPECT("needs reset", virtio_needs_reset(&dev), 0);
	return 0;
}

static int mode_ro(void)
{
	struct virtq *q = setup(BLK_F_RO | BLK_F_FLUSH | BLK_F_DISCARD, 1);

	if (!q)
		return -1;
	EXPECT("RO offered", !!(dev.features & BLK_F_RO), 1);
	EXPECT("DISCARD offered", !!(dev.features & BLK_F_DISCARD), 0);
	fill(buf, 4096, 0, 1);
	EXPECT("write on ro", blk_do(q, &slots[0], BLK_T_OUT, 0, buf, 4096),
	       BLK_S_IOERR);
	EXPECT("read on ro", blk_do(q, &slots[0], BLK_T_IN, 0, rbuf, 4096),
	       BLK_S_OK);
	EXPECT("old contents", rbuf[0], 0x5a);
	EXPECT("discard on ro", dwz(q, BLK_T_DISCARD, 0, 8, 0), BLK_S_UNSUPP);
	return 0;
}

static int mode_mq(void)
{
	struct virtq *q = setup(BLK_F_MQ, 1);
	unsigned int nq;

	if (!q)
		return -1;
	nq = virtio_config_read16(&dev, BLK_CFG_NUM_QUEUES);
	printf("blk: %u queues\n", nq);
	if (nq < 2 || nq > VIRTIO_MAX_QUEUES)
		return -1;
	q = setup(BLK_F_MQ, nq);
	if (!q)
		return -1;
	for (unsigned int i = 0; i < nq; i++) {
		uint64_t off = (2u << 20) + 4096ull * i;

		fill(buf, 4096, off, (uint8_t)(10 + i));
		EXPECT("write on queue",
		       blk_do(dev.queues[i], &slots[i], BLK_T_OUT, off / 512,
			      buf, 4096),
		       BLK_S_OK);
	}
	return 0;
}

static int mode_safety(void)
{
	struct virtq *q = setup(BLK_F_FLUSH, 1);

	if (!q)
		return -1;
	for (uint32_t off = 0; off < (1u << 20); off += 65536) {
		fill(buf, 65536, (4u << 20) + off, 20);
		EXPECT("write",
		       blk_do(q, &slots[0], BLK_T_OUT, ((4u << 20) + off) / 512,
			      buf, 65536),
		       BLK_S_OK);
	}
	EXPECT("flush", blk_do(q, &slots[0], BLK_T_FLUSH, 0, NULL, 0),
	       BLK_S_OK);
	printf("blk-safety: flushed\n");
	for (;;)
		delay_us(1000000);
}

static int mode_hostile(void)
{
	struct virtq *q = setup(BLK_F_FLUSH, 1);
	struct virtq_buf b[2];
	uint16_t head;

	if (!q)
		return -1;
	b[0] = (struct virtq_buf){&slots[0].hdr, 8, false};
	b[1] = (struct virtq_buf){&slots[0].status, 1, true};
	if (virtq_add(q, b, 2, &head))
		return -1;
	virtq_kick(q);
	EXPECT("needs reset", virtio_wait_needs_reset(&dev, BLK_WAIT_US), 0);
	q = setup(BLK_F_FLUSH, 1);
	if (!q)
		return -1;
	EXPECT("flush after reset",
	       blk_do(q, &slots[0], BLK_T_FLUSH, 0, NULL, 0), BLK_S_OK);
	return 0;
}

int main(void)
{
	int err = -1;

	slots = virtio_zalloc(sizeof(*slots) * 64, 64);
	buf = virtio_alloc(256 * 1024, 4096);
	rbuf = virtio_alloc(256 * 1024, 4096);
	if (!slots || !buf || !rbuf)
		return 1;
	if (cmdline_has("blk-basic"))
		err = mode_basic();
	else if (cmdline_has("blk-ro"))
		err = mode_ro();
	else if (cmdline_has("blk-mq"))
		err = mode_mq();
	else if (cmdline_has("blk-safety"))
		err = mode_safety();
	else if (cmdline_has("blk-hostile"))
		err = mode_hostile();
	else
		printf("blk: no mode on the command line\n");
	printf("blk: %s\n", err ? "FAILED" : "ok");
	return err ? 1 : 0;
}
