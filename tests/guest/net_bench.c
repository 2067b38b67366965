/*
 * virtio-net benchmark (tools/bench-net.sh runs it under minnow and QEMU
 * against tools/bench-net-peer.c on the tap at 10.0.0.1): UDP from the
 * guest to the host and from the host to the guest, full-size and
 * minimum-size frames.
 *
 * CPL 0 code is emulated on kvm_pvm hosts, so everything after device
 * set-up runs at CPL 3 through user_call(): the driver keeps its own ring
 * indices, fills whole rings before it publishes them, kicks only when
 * event-idx asks for it, suppresses used-buffer interrupts and polls the
 * used rings. Each test prints "bench: begin NAME" before it starts and
 * "bench: NAME dir=D frame=F pkts=P bytes=B us=T ..." when it is done;
 * bytes are Ethernet frame bytes (no virtio header, no FCS).
 */
#include "lib/guest.h"
#include "lib/virtio.h"
#include "lib/x86.h"

#define QSIZE     256
#define BUF_BYTES 2048u
#define HDR_LEN   12u /* virtio 1.2, 5.1.6: the header with num_buffers */
#define F_MAC     (1ull << 5)

#define ETH_LEN     14u
#define IP_LEN      20u
#define UDP_LEN     8u
#define CTL_PORT    7777 /* control datagrams, both ways */
#define DATA_PORT   7778 /* bulk datagrams, both ways */
#define END_PORT    7779 /* host to guest: the burst is over */
#define MSG_MAX     128u
#define CTL_WAIT_MS 5000u

static const uint8_t guest_ip[4] = {10, 0, 0, 2};
static const uint8_t host_ip[4] = {10, 0, 0, 1};
/* tools/bench-net.sh gives the tap this address. */
static const uint8_t host_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
static uint8_t guest_mac[6];

/* One queue as this program drives it, apart from lib/virtio's state. */
struct ring {
	struct virtq *q;
	volatile uint32_t *notify; /* QueueNotify, written from CPL 3 */
	uint16_t avail_idx, kicked_idx, last_used;
	uint16_t nr_free;
	uint16_t free_ids[QSIZE];
	uint64_t kicks;
};

static struct virtio_dev dev;
static struct ring rx, tx;
static uint8_t *rx_pool;  /* QSIZE buffers of BUF_BYTES, by descriptor */
static uint8_t *data_buf; /* header + bulk frame to send */
static uint8_t *ctl_buf;  /* header + control frame to send */
static uint64_t ticks_per_ms;

/* ---- frames ------------------------------------------------------------ */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Writes a zeroed virtio header and an Ethernet/IPv4/UDP frame from the
 * guest to the host's port with payload_len bytes of payload (taken from
 * payload, or zeros). Returns the frame length. UDP checksum 0: none
 * (RFC 768).
 */
static uint32_t build_frame(uint8_t *buf, uint16_t port, const void *payload,
			    uint32_t payload_len)
{
	uint8_t *f = buf + HDR_LEN, *ip = f + ETH_LEN, *udp = ip + IP_LEN;
	uint32_t sum = 0;

	memset(buf, 0, HDR_LEN + ETH_LEN + IP_LEN + UDP_LEN);
	memcpy(f, host_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(IP_LEN + UDP_LEN + payload_len));
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, guest_ip, 4);
	memcpy(ip + 16, host_ip, 4);
	for (unsigned int i = 0; i < IP_LEN; i += 2)
		sum += get16(ip + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(ip + 10, (uint16_t)~sum);
	put16(udp, CTL_PORT);
	put16(udp + 2, port);
	put16(udp + 4, (uint16_t)(UDP_LEN + payload_len));
	if (payload)
		memcpy(udp + UDP_LEN, payload, payload_len);
	else
		memset(udp + UDP_LEN, 0, payload_len);
	return ETH_LEN + IP_LEN + UDP_LEN + payload_len;
}

/* The UDP destination port of a received frame, or 0 if it is not UDP. */
static uint16_t rx_udp_port(const uint8_t *f, uint32_t len)
{
	const uint8_t *ip = f + ETH_LEN;

	if (len < ETH_LEN + IP_LEN + UDP_LEN || get16(f + 12) != 0x0800 ||
	    ip[9] != 17 || (ip[0] & 0x0f) != 5)
		return 0;
	return get16(ip + IP_LEN + 2);
}

/* ---- rings (CPL 3) -------------------------------------------------- */

/* virtio 1.2, 2.7.10: avail_event follows the used ring. */
static uint16_t ring_avail_event(const struct ring *r)
{
	const volatile uint8_t *u = (const volatile uint8_t *)r->q->used;

	return *(const volatile uint16_t *)(u + 4 + 8u * r->q->size);
}

/* Publishes what was added and kicks if the device asked for it. */
static void ring_publish(struct ring *r)
{
	uint16_t old = r->kicked_idx, now = r->avail_idx;

	if (old == now)
		return;
	__atomic_store_n(&r->q->avail->idx, now, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* virtio 1.2, 2.7.10.1: vring_need_event(). */
	if ((uint16_t)(now - ring_avail_event(r) - 1) < (uint16_t)(now - old)) {
		*r->notify = r->q->index;
		r->kicks++;
	}
	r->kicked_idx = now;
}

static void ring_add(struct ring *r, uint16_t id)
{
	r->q->avail->ring[r->avail_idx & (QSIZE - 1)] = id;
	r->avail_idx++;
}

/* Takes one used entry: true with *id and *len, false if none. */
static bool ring_used(struct ring *r, uint16_t *id, uint32_t *len)
{
	const struct virtq_used_elem *e;

	if (__atomic_load_n(&r->q->used->idx, __ATOMIC_ACQUIRE) == r->last_used)
		return false;
	e = &r->q->used->ring[r->last_used & (QSIZE - 1)];
	*id = (uint16_t)e->id;
	*len = e->len;
	r->last_used++;
	return true;
}

/*
 * Never ask for a used-buffer interrupt: with event-idx, a used_event the
 * device has just passed is next crossed 65536 buffers later.
 */
static void ring_quiet(struct ring *r)
{
	r->q->avail->ring[r->q->size] = (uint16_t)(r->last_used - 1);
	r->q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
}

static void ring_setup(struct ring *r, struct virtq *q)
{
	r->q = q;
	r->notify = (volatile uint32_t *)(uintptr_t)(dev.base +
						     VIRTIO_MMIO_QUEUE_NOTIFY);
	r->nr_free = QSIZE;
	for (unsigned int i = 0; i < QSIZE; i++)
		r->free_ids[i] = (uint16_t)i;
}

/* Returns finished transmit descriptors to the free list; counts them. */
static unsigned int tx_reclaim(void)
{
	unsigned int n = 0;
	uint16_t id;
	uint32_t len;

	while (ring_used(&tx, &id, &len)) {
		tx.free_ids[tx.nr_free++] = id;
		n++;
	}
	return n;
}

/* Queues one frame of len bytes (header included) at buf; no publish. */
static void tx_add(uint8_t *buf, uint32_t len)
{
	uint16_t id = tx.free_ids[--tx.nr_free];

	tx.q->desc[id] = (struct virtq_desc){(uint64_t)(uintptr_t)buf, len, 0,
					     0};
	ring_add(&tx, id);
}

static void rx_repost(uint16_t id)
{
	ring_add(&rx, id);
}

/* ---- control messages (CPL 3) -------------------------------------- */

struct ctl_arg {
	const char *send;    /* to send, or NULL */
	char reply[MSG_MAX]; /* the next control datagram, NUL-terminated */
	int ok;
};

static uint64_t now_ticks(void)
{
	return rdtsc();
}

/* Sends a and waits for the next control datagram from the host. */
static void ctl_exchange(void *p)
{
	struct ctl_arg *a = p;
	uint64_t end = now_ticks() + CTL_WAIT_MS * ticks_per_ms;
	uint32_t n = (uint32_t)strlen(a->send);

	a->ok = 0;
	while (!tx.nr_free)
		tx_reclaim();
	tx_add(ctl_buf, HDR_LEN + build_frame(ctl_buf, CTL_PORT, a->send, n));
	ring_publish(&tx);

	while (now_ticks() < end) {
		uint16_t id;
		uint32_t len;

		tx_reclaim();
		if (!ring_used(&rx, &id, &len)) {
			cpu_relax();
			continue;
		}
		if (len > HDR_LEN + ETH_LEN + IP_LEN + UDP_LEN &&
		    rx_udp_port(rx_pool + id * BUF_BYTES + HDR_LEN,
				len - HDR_LEN) == CTL_PORT) {
			const uint8_t *pl = rx_pool + id * BUF_BYTES + HDR_LEN +
					    ETH_LEN + IP_LEN + UDP_LEN;
			uint32_t pl_len = len - HDR_LEN - ETH_LEN - IP_LEN -
					  UDP_LEN;

			pl_len = pl_len < MSG_MAX - 1 ? pl_len : MSG_MAX - 1;
			memcpy(a->reply, pl, pl_len);
			a->reply[pl_len] = 0;
			a->ok = 1;
		}
		rx_repost(id);
		ring_publish(&rx);
		if (a->ok)
			return;
	}
}

/* ---- the tests (CPL 3) ---------------------------------------------- */

struct bench_arg {
	uint32_t frame_len; /* without the virtio header */
	uint32_t count;
	/* Results. */
	uint64_t pkts, bytes, t0, t1;
	int timed_out;
};

/* Sends count frames as fast as the device takes them. */
static void bench_tx(void *p)
{
	struct bench_arg *a = p;
	uint32_t added = 0, done = 0;
	uint64_t end;

	a->t0 = now_ticks();
	end = a->t0 + 60000 * ticks_per_ms;
	while (done < a->count) {
		while (tx.nr_free && added < a->count) {
			tx_add(data_buf, HDR_LEN + a->frame_len);
			added++;
		}
		ring_publish(&tx);
		done += tx_reclaim();
		if (now_ticks() > end) {
			a->timed_out = 1;
			break;
		}
	}
	a->t1 = now_ticks();
	a->pkts = done;
	a->bytes = (uint64_t)done * a->frame_len;
}

/*
 * Counts bulk datagrams until the host's end marker, or 2 s without one.
 * The clock runs from the first bulk datagram to the last.
 */
static void bench_rx(void *p)
{
	struct bench_arg *a = p;
	uint64_t idle = 2000 * ticks_per_ms, last = now_ticks();

	a->pkts = a->bytes = 0;
	for (;;) {
		uint16_t id;
		uint32_t len;
		bool end = false;
		unsigned int n = 0;

		while (ring_used(&rx, &id, &len)) {
			const uint8_t *f = rx_pool + id * BUF_BYTES + HDR_LEN;
			uint32_t flen = len - HDR_LEN;
			uint16_t port = len > HDR_LEN ? rx_udp_port(f, flen)
						      : 0;

			if (port == DATA_PORT) {
				last = now_ticks();
				if (!a->pkts)
					a->t0 = last;
				a->t1 = last;
				a->pkts++;
				a->bytes += flen;
			} else if (port == END_PORT) {
				end = true;
			}
			rx_repost(id);
			n++;
		}
		if (n)
			ring_publish(&rx);
		if (end)
			return;
		if (now_ticks() - last > idle) {
			a->timed_out = 1;
			return;
		}
		if (!n)
			cpu_relax();
	}
}

/* ---- CPL 0 --------------------------------------------------------- */

static int ctl(const char *msg, char *reply)
{
	struct ctl_arg a = {.send = msg};

	user_call(ctl_exchange, &a);
	if (!a.ok) {
		printf("bench: no answer to \"%s\" from the host\n", msg);
		return -1;
	}
	memcpy(reply, a.reply, MSG_MAX);
	return 0;
}

static uint64_t ticks_to_us(uint64_t t)
{
	return t * 1000 / tsc_khz();
}

/*
 * Guest to host: the host counts what reaches its socket and its clock
 * (first to last datagram) gives the rate; the guest's own is printed too.
 */
static int run_tx(const char *name, uint32_t payload, uint32_t count)
{
	struct bench_arg a = {.count = count};
	char reply[MSG_MAX];

	a.frame_len = build_frame(data_buf, DATA_PORT, NULL, payload);
	if (ctl("tx-reset", reply))
		return -1;
	printf("bench: begin %s\n", name);
	user_call(bench_tx, &a);
	if (ctl("tx-report", reply))
		return -1;
	printf("bench: %s dir=tx frame=%u sent=%lu guest_us=%lu kicks=%lu "
	       "%s%s\n",
	       name, a.frame_len, a.pkts, ticks_to_us(a.t1 - a.t0), tx.kicks,
	       reply, a.timed_out ? " timeout" : "");
	return a.timed_out ? -1 : 0;
}

static void fmt_rx_request(char *out, uint32_t payload, uint32_t count)
{
	/* "rx PAYLOAD COUNT" without snprintf. */
	char digits[24];
	char *o = out;
	uint32_t vals[2] = {payload, count};

	memcpy(o, "rx", 2);
	o += 2;
	for (unsigned int v = 0; v < 2; v++) {
		unsigned int n = 0;
		uint32_t x = vals[v];

		do {
			digits[n++] = (char)('0' + x % 10);
			x /= 10;
		} while (x);
		*o++ = ' ';
		while (n)
			*o++ = digits[--n];
	}
	*o = 0;
}

/* Host to guest: the guest counts, from the first datagram to the last. */
static int run_rx(const char *name, uint32_t payload, uint32_t count)
{
	struct bench_arg a = {.count = count};
	char msg[MSG_MAX], reply[MSG_MAX];
	uint64_t us;

	fmt_rx_request(msg, payload, count);
	if (ctl(msg, reply))
		return -1;
	printf("bench: begin %s\n", name);
	user_call(bench_rx, &a);
	us = ticks_to_us(a.t1 - a.t0);
	printf("bench: %s dir=rx frame=%u pkts=%lu bytes=%lu us=%lu "
	       "kicks=%lu%s\n",
	       name, ETH_LEN + IP_LEN + UDP_LEN + payload, a.pkts, a.bytes,
	       us ? us : 1, rx.kicks, a.timed_out ? " timeout" : "");
	return a.pkts ? 0 : -1;
}

int main(void)
{
	struct virtio_window w;
	struct virtq *rq, *tq;
	bool quick = cmdline_has("quick");
	uint32_t big = quick ? 20000 : 200000, small = quick ? 50000 : 500000;

	ticks_per_ms = tsc_khz();
	if (virtio_find(VIRTIO_ID_NET, 0, &w) < 0 ||
	    virtio_init(&dev, &w, F_MAC | VIRTIO_F_EVENT_IDX) < 0 ||
	    !(dev.features & VIRTIO_F_EVENT_IDX)) {
		printf("bench: no virtio-net device with event-idx\n");
		return 1;
	}
	virtio_config_read(&dev, 0, guest_mac, 6);
	rq = virtq_init(&dev, 0, QSIZE);
	tq = virtq_init(&dev, 1, QSIZE);
	rx_pool = virtio_zalloc(QSIZE * BUF_BYTES, 4096);
	data_buf = virtio_zalloc(BUF_BYTES, 4096);
	ctl_buf = virtio_zalloc(BUF_BYTES, 4096);
	if (!rq || !tq || !rx_pool || !data_buf || !ctl_buf)
		return 1;
	virtio_driver_ok(&dev);
	ring_setup(&rx, rq);
	ring_setup(&tx, tq);
	ring_quiet(&rx);
	ring_quiet(&tx);
	for (unsigned int i = 0; i < QSIZE; i++) {
		rq->desc[i] = (struct virtq_desc){
			(uint64_t)(uintptr_t)(rx_pool + i * BUF_BYTES),
			BUF_BYTES, VIRTQ_DESC_F_WRITE, 0};
		rx_repost((uint16_t)i);
	}
	rx.nr_free = 0;
	ring_publish(&rx);

	/* Full-size frames (1514 bytes) and minimum ones (60, 64 with FCS). */
	if (run_tx("tx-1514", 1472, big) || run_tx("tx-60", 18, small) ||
	    run_rx("rx-1514", 1472, big) || run_rx("rx-60", 18, small))
		return 1;
	printf("bench: done\n");
	return 0;
}
