/*
 * virtio-blk benchmark (tools/bench-blk.sh runs it under minnow and QEMU):
 * 4 KiB random reads at queue depth 1 and 32, 128 KiB sequential reads
 * and writes at depth 8, by polling the used ring.
 *
 * CPL 0 code is emulated on kvm_pvm hosts (about a microsecond an
 * instruction), which would make the guest's own bookkeeping the
 * bottleneck under either VMM, so each test's loop runs at CPL 3 through
 * user_call(): every request slot owns a fixed three-descriptor chain
 * (header, data, status), a request is a sector number and one avail
 * entry, the ring is published once per refill, the device is kicked only
 * when event-idx asks for it, and used-buffer interrupts stay off.
 *
 * Prints one line per test: "bench: NAME ios=N us=T iops=I kbps=K
 * kicks=K". Command-line words naming tests (randread-4k-qd1 ...) run
 * only those.
 */
#include "blk_common.h"

#define QSIZE     128u
#define MAX_DEPTH 32u
#define MAX_BS    (128u * 1024)
#define SPAN      (256ull << 20) /* bytes of the image the tests cover */
#define TIMEOUT_S 60u
#define NR_TESTS  (sizeof(tests) / sizeof(tests[0]))

struct test {
	const char *name;
	uint32_t type, bs, depth, total;
	bool random;
};

/* tools/bench-blk.sh runs fio with the same shapes and counts. */
static const struct test tests[] = {
	{"randread-4k-qd1", BLK_T_IN, 4096, 1, 10000, true},
	{"randread-4k-qd32", BLK_T_IN, 4096, 32, 100000, true},
	{"seqread-128k-qd8", BLK_T_IN, MAX_BS, 8, 4096, false},
	{"seqwrite-128k-qd8", BLK_T_OUT, MAX_BS, 8, 4096, false},
};

/* The queue as this program drives it, apart from lib/virtio's state. */
struct ring {
	struct virtq *q;
	volatile uint32_t *notify; /* QueueNotify, written from CPL 3 */
	uint16_t avail_idx, kicked_idx, last_used;
	uint64_t kicks;
};

struct run_arg {
	const struct test *t;
	uint64_t span;
	uint64_t t0, t1;
	unsigned int done;
	bool timed_out, bad_status;
};

static struct virtio_dev dev;
static struct ring ring;
static struct blk_slot *slots; /* MAX_DEPTH; slot i owns descriptor 3i */
static uint8_t *bufs;          /* MAX_DEPTH buffers of MAX_BS */
static uint64_t ticks_per_s;
static uint64_t rng_state = 88172645463325252ull;

/* ---- CPL 3 ----------------------------------------------------------- */

static uint64_t next_rand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* virtio 1.2, 2.7.10: avail_event follows the used ring. */
static uint16_t ring_avail_event(void)
{
	const volatile uint8_t *u = (const volatile uint8_t *)ring.q->used;

	return *(const volatile uint16_t *)(u + 4 + 8u * ring.q->size);
}

/* Publishes what was added and kicks if the device asked for it. */
static void ring_publish(void)
{
	uint16_t old = ring.kicked_idx, now = ring.avail_idx;

	if (old == now)
		return;
	__atomic_store_n(&ring.q->avail->idx, now, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* virtio 1.2, 2.7.10.1: vring_need_event(). */
	if ((uint16_t)(now - ring_avail_event() - 1) < (uint16_t)(now - old)) {
		*ring.notify = ring.q->index;
		ring.kicks++;
	}
	ring.kicked_idx = now;
}

/* Takes one used entry: true with the slot it finished, false if none. */
static bool ring_used(unsigned int *slot)
{
	const struct virtq_used_elem *e;

	if (__atomic_load_n(&ring.q->used->idx, __ATOMIC_ACQUIRE) ==
	    ring.last_used)
		return false;
	e = &ring.q->used->ring[ring.last_used % QSIZE];
	*slot = e->id / 3;
	ring.last_used++;
	return true;
}

/* Queues slot s for sector; published later. */
static void slot_add(unsigned int s, uint64_t sector)
{
	slots[s].hdr.sector = sector;
	slots[s].status = 0xaa;
	ring.q->avail->ring[ring.avail_idx % QSIZE] = (uint16_t)(3 * s);
	ring.avail_idx++;
}

static void run_user(void *p)
{
	struct run_arg *a = p;
	const struct test *t = a->t;
	unsigned int free_slots[MAX_DEPTH], nr_free = t->depth;
	unsigned int issued = 0, s;
	uint64_t seq = 0, end;

	for (unsigned int i = 0; i < t->depth; i++)
		free_slots[i] = t->depth - 1 - i;
	a->t0 = rdtsc();
	end = a->t0 + TIMEOUT_S * ticks_per_s;
	while (a->done < t->total) {
		while (nr_free && issued < t->total) {
			uint64_t off = seq;

			if (t->random)
				off = next_rand() % (a->span / 4096) * 4096;
			seq = (seq + t->bs) % a->span;
			slot_add(free_slots[--nr_free], off / 512);
			issued++;
		}
		ring_publish();
		while (ring_used(&s)) {
			if (slots[s].status != BLK_S_OK)
				a->bad_status = true;
			free_slots[nr_free++] = s;
			a->done++;
		}
		if (rdtsc() > end) {
			a->timed_out = true;
			break;
		}
	}
	a->t1 = rdtsc();
}

/* ---- CPL 0 ----------------------------------------------------------- */

/* Points every slot's chain at its header, buffer and status for type. */
static void chains_build(uint32_t type, uint32_t bs)
{
	uint16_t data_flags = VIRTQ_DESC_F_NEXT |
			      (type == BLK_T_IN ? VIRTQ_DESC_F_WRITE : 0);

	for (unsigned int i = 0; i < MAX_DEPTH; i++) {
		struct virtq_desc *d = &ring.q->desc[3 * i];

		slots[i].hdr = (struct blk_hdr){.type = type};
		d[0] = (struct virtq_desc){(uint64_t)(uintptr_t)&slots[i].hdr,
					   sizeof(slots[i].hdr),
					   VIRTQ_DESC_F_NEXT,
					   (uint16_t)(3 * i + 1)};
		d[1] = (struct virtq_desc){
			(uint64_t)(uintptr_t)(bufs + (uint64_t)i * MAX_BS), bs,
			data_flags, (uint16_t)(3 * i + 2)};
		d[2] = (struct virtq_desc){
			(uint64_t)(uintptr_t)&slots[i].status, 1,
			VIRTQ_DESC_F_WRITE, 0};
	}
}

static bool selected(const char *name)
{
	bool any = false;

	for (unsigned int i = 0; i < NR_TESTS; i++)
		any |= cmdline_has(tests[i].name);
	return !any || cmdline_has(name);
}

static int report(const struct test *t, uint64_t span)
{
	struct run_arg a = {.t = t, .span = span};
	uint64_t kicks = ring.kicks, us;

	chains_build(t->type, t->bs);
	user_call(run_user, &a);
	us = (a.t1 - a.t0) * 1000 / tsc_khz();
	if (a.timed_out || a.bad_status || !us) {
		printf("bench: %s failed (%u of %u done%s)\n", t->name, a.done,
		       t->total, a.bad_status ? ", bad status" : "");
		return -1;
	}
	printf("bench: %s ios=%u us=%lu iops=%lu kbps=%lu kicks=%lu\n", t->name,
	       t->total, us, (uint64_t)t->total * 1000000 / us,
	       (uint64_t)t->total * t->bs / 1024 * 1000000 / us,
	       ring.kicks - kicks);
	return 0;
}

int main(void)
{
	struct virtio_window w;
	struct virtq *q;
	uint64_t span;

	ticks_per_s = tsc_khz() * 1000;
	slots = virtio_zalloc(sizeof(*slots) * MAX_DEPTH, 64);
	bufs = virtio_alloc(MAX_DEPTH * MAX_BS, 4096);
	if (!slots || !bufs || virtio_find(VIRTIO_ID_BLOCK, 0, &w) < 0 ||
	    virtio_init(&dev, &w, VIRTIO_F_EVENT_IDX) < 0 ||
	    !(dev.features & VIRTIO_F_EVENT_IDX)) {
		printf("bench: no virtio-blk device with event-idx\n");
		return 1;
	}
	q = virtq_init(&dev, 0, QSIZE);
	if (!q)
		return 1;
	virtio_driver_ok(&dev);
	ring = (struct ring){
		.q = q,
		.notify = (volatile uint32_t
				   *)(uintptr_t)(dev.base +
						 VIRTIO_MMIO_QUEUE_NOTIFY),
	};
	/*
	 * No used-buffer interrupts: with event-idx, a used_event the device
	 * has just passed is next crossed 65536 buffers later.
	 */
	q->avail->ring[QSIZE] = (uint16_t)-1;
	q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;

	span = virtio_config_read64(&dev, BLK_CFG_CAPACITY) * 512;
	span = span < SPAN ? span : SPAN;
	span &= ~((uint64_t)MAX_BS - 1);
	if (span < MAX_BS * MAX_DEPTH) {
		printf("bench: the disk is too small\n");
		return 1;
	}
	for (unsigned int i = 0; i < NR_TESTS; i++)
		if (selected(tests[i].name) && report(&tests[i], span))
			return 1;
	printf("bench: done\n");
	return 0;
}
