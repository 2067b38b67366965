/*
 * Reads 1 MiB from virtio-rng through lib/virtio, first by polling the
 * used ring, then (when the device's interrupt line is known) by
 * interrupt, keeping the queue full of 4 KiB requests. Each MiB must look
 * random: every byte value about as frequent as the others.
 *
 * Command line: "rng-poll" or "rng-irq" runs that mode only; "rng-big"
 * reads 16 MiB per mode instead of 1, and "rng-serial" keeps one request
 * in flight instead of a full queue (both to measure per-request costs).
 */
#include "lib/guest.h"
#include "lib/virtio.h"
#include "lib/x86.h"

#define MIB        (1u << 20)
#define QUEUE_SIZE 64
#define CHUNK      4096u
#define WAIT_US    5000000
/* 1 MiB of uniform bytes: 4096 of each value, standard deviation ~64. */
#define COUNT_MIN 3000u
#define COUNT_MAX 5200u

struct rng_run {
	uint8_t *data;
	uint32_t total;
	uint32_t requests;
	uint32_t short_replies;
	uint16_t depth; /* requests in flight at most */
	uint64_t head_off[QUEUE_SIZE];
	uint32_t head_len[QUEUE_SIZE];
};

static uint32_t histogram[256];

/* Runs at CPL 3 (native on kvm_pvm): counts byte values in one MiB. */
static void count_bytes(void *arg)
{
	const uint8_t *p = arg;

	for (unsigned int i = 0; i < MIB; i++)
		histogram[p[i]]++;
}

static void zero_mib(void *arg)
{
	volatile uint8_t *p = arg;

	for (unsigned int i = 0; i < MIB; i++)
		p[i] = 0;
}

static int check_random(const char *mode, uint8_t *data, uint32_t total)
{
	uint32_t lo = UINT32_MAX, hi = 0;

	for (uint32_t off = 0; off < total; off += MIB) {
		memset(histogram, 0, sizeof(histogram));
		user_call(count_bytes, data + off);
		for (unsigned int v = 0; v < 256; v++) {
			lo = histogram[v] < lo ? histogram[v] : lo;
			hi = histogram[v] > hi ? histogram[v] : hi;
		}
	}
	printf("virtio-rng: %s: byte value counts per MiB %u..%u\n", mode, lo,
	       hi);
	if (lo < COUNT_MIN || hi > COUNT_MAX) {
		printf("virtio-rng: %s: bytes do not look random\n", mode);
		return -1;
	}
	return 0;
}

static int submit(struct virtq *q, struct rng_run *r, uint64_t off,
		  uint32_t len)
{
	struct virtq_buf b = {
		.addr = r->data + off, .len = len, .writable = true};
	uint16_t head;
	int err = virtq_add(q, &b, 1, &head);

	if (err)
		return err;
	r->head_off[head] = off;
	r->head_len[head] = len;
	r->requests++;
	return 0;
}

/* One completed request; a short one is resubmitted for the rest. */
static int complete(struct virtq *q, struct rng_run *r, uint16_t id,
		    uint32_t len, uint32_t *done)
{
	if (len == 0 || len > r->head_len[id]) {
		printf("virtio-rng: request %u: device wrote %u of %u bytes\n",
		       id, len, r->head_len[id]);
		return -1;
	}
	*done += len;
	if (len < r->head_len[id]) {
		r->short_replies++;
		return submit(q, r, r->head_off[id] + len,
			      r->head_len[id] - len);
	}
	return 0;
}

/*
 * Waits for the next completions: by polling, or, as an interrupt-driven
 * driver does, for a used buffer interrupt. Returns the first one's id
 * and length in *id and *len (1), nothing (0), or an error (-1).
 */
static int wait_used(struct virtq *q, bool irq, uint16_t *id, uint32_t *len)
{
	int ret;

	if (!irq)
		ret = virtq_wait(q, id, len, WAIT_US);
	else
		ret = virtio_wait_irq(
			q->dev, VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG,
			WAIT_US);
	/* NEEDS_RESET comes with a config interrupt; Status costs an exit. */
	if (!ret && irq && q->dev->nr_config_irqs && virtio_needs_reset(q->dev))
		ret = -VIRTIO_ERESET;
	if (ret) {
		printf("virtio-rng: waiting: %s\n", virtio_strerror(ret));
		return -1;
	}
	return irq ? virtq_get_used(q, id, len) : 1;
}

static int read_random(struct virtq *q, struct rng_run *r, bool irq)
{
	uint32_t submitted = 0, done = 0, len;
	uint16_t id;
	int ret;

	while (done < r->total) {
		while (submitted < r->total &&
		       q->size - q->num_free < r->depth) {
			if (submit(q, r, submitted, CHUNK))
				return -1;
			submitted += CHUNK;
		}
		virtq_kick(q);

		ret = wait_used(q, irq, &id, &len);
		while (ret == 1) {
			if (complete(q, r, id, len, &done))
				return -1;
			ret = virtq_get_used(q, &id, &len);
		}
		if (ret < 0) {
			printf("virtio-rng: %s\n", virtio_strerror(ret));
			return -1;
		}
	}
	return 0;
}

static int run_mode(const struct virtio_window *w, bool irq, uint8_t *data,
		    uint32_t total)
{
	const char *mode = irq ? "irq" : "poll";
	static struct rng_run r;
	struct virtio_dev dev;
	struct virtq *q;
	uint64_t t0, us;
	int err;

	err = virtio_init(&dev, w, VIRTIO_F_EVENT_IDX);
	if (err) {
		printf("virtio-rng: init: %s\n", virtio_strerror(err));
		return -1;
	}
	if (irq && (err = virtio_irq_enable(&dev))) {
		printf("virtio-rng: irq %u: %s\n", dev.irq,
		       virtio_strerror(err));
		return -1;
	}
	q = virtq_init(&dev, 0, QUEUE_SIZE);
	if (!q)
		return -1;
	virtio_driver_ok(&dev);

	for (uint32_t off = 0; off < total; off += MIB)
		user_call(zero_mib, data + off);
	memset(&r, 0, sizeof(r));
	r.data = data;
	r.total = total;
	r.depth = cmdline_has("rng-serial") ? 1 : QUEUE_SIZE;
	t0 = rdtsc();
	if (read_random(q, &r, irq))
		return -1;
	us = (rdtsc() - t0) * 1000 / tsc_khz();
	printf("virtio-rng: %s: %u bytes in %u requests (%u short), "
	       "%u kicks (%u suppressed), %u interrupts, %lu us\n",
	       mode, total, r.requests, r.short_replies, q->nr_kicks,
	       q->nr_kicks_skipped, dev.nr_irqs, us);
	if (irq && !dev.nr_vring_irqs) {
		printf("virtio-rng: irq: no used buffer interrupt seen\n");
		return -1;
	}
	if (virtio_needs_reset(&dev)) {
		printf("virtio-rng: %s: device needs reset\n", mode);
		return -1;
	}
	virtio_reset(&dev);
	return check_random(mode, data, total);
}

int main(void)
{
	bool only_poll = cmdline_has("rng-poll"),
	     only_irq = cmdline_has("rng-irq");
	uint32_t total = cmdline_has("rng-big") ? 16 * MIB : MIB;
	struct virtio_window w;
	uint8_t *data;

	if (virtio_find(VIRTIO_ID_ENTROPY, 0, &w)) {
		printf("virtio-rng: no entropy device found\n");
		return GUEST_EXIT_FAIL;
	}
	printf("virtio-rng: device at %lx, irq %d\n", w.base, (int)w.irq);
	data = virtio_alloc(total, 4096);
	if (!data) {
		printf("virtio-rng: no room for %u bytes\n", total);
		return GUEST_EXIT_FAIL;
	}

	if (!only_irq && run_mode(&w, false, data, total))
		return GUEST_EXIT_FAIL;
	if (!only_poll) {
		if (w.irq == VIRTIO_IRQ_UNKNOWN && !only_irq) {
			printf("virtio-rng: irq line unknown; irq mode "
			       "skipped\n");
		} else if (run_mode(&w, true, data, total)) {
			return GUEST_EXIT_FAIL;
		}
	}
	printf("virtio-rng: ok\n");
	return GUEST_EXIT_PASS;
}
