/*
 * A guest side for minnow's virtio-vsock, driven by tests/guest/vsock_run.py
 * on the host: a stream echo server on port 1024 that refuses the first
 * connections as a not-yet-listening agent would, and a client that
 * connects to the host.
 *
 * Command line words:
 *   vsock-refuse   answer the first 1000 REQUESTs to port 1024 with RST
 *   vsock-client   after the server part, connect to host port 5000, send
 *                  64 MiB of pattern, read 64 MiB of pattern and check it
 *   vsock-hostile  then misbehave: a stream to host port 5001 granting no
 *                  credit until the host dials guest port 12, bogus ops and
 *                  types, wrong CIDs, and last a packet longer than its
 *                  buffer (NEEDS_RESET expected); after a reset the device
 *                  must work again
 * The server also accepts guest port 1025 granting no credit ever, and
 * runs until a REQUEST to port 9 ("done") arrives; the program then
 * reports and exits 0.
 *
 * Set-up and reports run at CPL 0; everything after runs at CPL 3 through
 * user_call(), because CPL 0 code is emulated on kvm_pvm hosts (about
 * 30 KB/s of echo instead of megabytes). Nothing prints at CPL 3: fail()
 * there records the reason and leaves through user_exit_point, and CPL 0
 * prints it. Polling only.
 */
#include "lib/guest.h"
#include "lib/virtio.h"
#include "lib/x86.h"

#define QSIZE         128
#define NR_RX         64
#define RX_ROOM       4096u
#define HDR           44u
#define BUF_ALLOC     (256u * 1024)
#define MAX_STREAMS   80
#define WAIT_US       20000000ull
#define PATTERN_BYTES (64u << 20)

enum {
	OP_REQUEST = 1,
	OP_RESPONSE,
	OP_RST,
	OP_SHUTDOWN,
	OP_RW,
	OP_CREDIT_UPDATE,
	OP_CREDIT_REQUEST
};

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct hdr) == HDR, "virtio_vsock_hdr");

struct stream {
	bool used;
	uint32_t lport, pport; /* guest port, host port */
	uint32_t fwd_cnt;      /* bytes consumed (echoed or checked) */
	uint32_t peer_buf, peer_fwd, tx_cnt;
	uint8_t *ring; /* echo data waiting for host credit */
	uint32_t head, len;
};

static struct virtio_dev dev;
static struct virtq *rxq, *txq;
static uint64_t cid;
static uint8_t *rxbuf[QSIZE];
static struct stream streams[MAX_STREAMS];
static struct hdr txh;
static uint32_t refused, accepted, stingy_credit_requests;
static bool done;
static const char *failed;

extern char user_exit_point[];

static void fail(const char *what)
{
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	if ((cs & 3) == 3) {
		failed = what;
		__asm__ volatile("jmp user_exit_point");
		__builtin_unreachable();
	}
	printf("vsock: FAIL: %s\n", what);
	guest_exit(1);
}

/* Runs fn at CPL 3; a failure there is reported here, at CPL 0. */
static void at_cpl3(void (*fn)(void *))
{
	user_call(fn, NULL);
	if (failed)
		fail(failed);
}

static void post_rx(uint8_t *b)
{
	struct virtq_buf vb = {b, HDR + RX_ROOM, true};
	uint16_t head;

	if (virtq_add(rxq, &vb, 1, &head) < 0)
		fail("rx add");
	rxbuf[head] = b;
}

/* Sends one packet and waits for the device to take it. */
static void send_pkt(struct stream *s, uint32_t lport, uint32_t pport,
		     uint16_t op, uint32_t flags, const void *data,
		     uint32_t len)
{
	struct virtq_buf vb[2] = {{&txh, HDR, false}, {data, len, false}};
	uint32_t wl;

	txh = (struct hdr){.src_cid = cid,
			   .dst_cid = 2,
			   .src_port = lport,
			   .dst_port = pport,
			   .len = len,
			   .type = 1,
			   .op = op,
			   .flags = flags,
			   .buf_alloc = BUF_ALLOC,
			   .fwd_cnt = s ? s->fwd_cnt : 0};
	if (virtq_roundtrip(txq, vb, len ? 2 : 1, &wl, WAIT_US) < 0)
		fail("tx");
	if (s)
		s->tx_cnt += len;
}

/* A control packet with the credit fields given, no stream state. */
static void send_hdr(uint32_t lport, uint32_t pport, uint16_t op,
		     uint32_t flags, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct virtq_buf vb = {&txh, HDR, false};
	uint32_t wl;

	txh = (struct hdr){.src_cid = cid,
			   .dst_cid = 2,
			   .src_port = lport,
			   .dst_port = pport,
			   .type = 1,
			   .op = op,
			   .flags = flags,
			   .buf_alloc = buf_alloc,
			   .fwd_cnt = fwd_cnt};
	if (virtq_roundtrip(txq, &vb, 1, &wl, WAIT_US) < 0)
		fail("tx");
}

static struct stream *find(uint32_t lport, uint32_t pport)
{
	for (int i = 0; i < MAX_STREAMS; i++)
		if (streams[i].used && streams[i].lport == lport &&
		    streams[i].pport == pport)
			return &streams[i];
	return NULL;
}

static uint32_t credit(const struct stream *s)
{
	return s->peer_buf - (s->tx_cnt - s->peer_fwd);
}

/* Echoes what waits, as far as the host's credit goes. */
static void flush_echo(struct stream *s)
{
	while (s->len && credit(s)) {
		uint32_t n = s->len;

		if (n > BUF_ALLOC - s->head)
			n = BUF_ALLOC - s->head;
		if (n > credit(s))
			n = credit(s);
		if (n > 65536)
			n = 65536;
		s->fwd_cnt += n; /* consumed once sent back */
		send_pkt(s, s->lport, s->pport, OP_RW, 0, s->ring + s->head, n);
		s->head = (s->head + n) % BUF_ALLOC;
		s->len -= n;
	}
}

static bool refuse;

static void on_request(const struct hdr *h)
{
	struct stream *s = NULL;

	if (h->dst_port == 9) {
		done = true;
		send_pkt(NULL, h->dst_port, h->src_port, OP_RST, 0, NULL, 0);
		return;
	}
	if ((h->dst_port != 1024 && h->dst_port != 1025) ||
	    (h->dst_port == 1024 && refuse && refused < 1000)) {
		refused++;
		send_pkt(NULL, h->dst_port, h->src_port, OP_RST, 0, NULL, 0);
		return;
	}
	for (int i = 0; i < MAX_STREAMS && !s; i++)
		if (!streams[i].used)
			s = &streams[i];
	if (!s)
		fail("too many streams");
	if (!s->ring)
		s->ring = virtio_alloc(BUF_ALLOC, 4096);
	*s = (struct stream){.used = true,
			     .lport = h->dst_port,
			     .pport = h->src_port,
			     .peer_buf = h->buf_alloc,
			     .peer_fwd = h->fwd_cnt,
			     .ring = s->ring};
	accepted++;
	if (s->lport == 1025) /* stingy: grants nothing, ever */
		send_hdr(s->lport, s->pport, OP_RESPONSE, 0, 0, 0);
	else
		send_pkt(s, s->lport, s->pport, OP_RESPONSE, 0, NULL, 0);
}

/* Guest port 1025 said buf_alloc 0: minnow may ask, never send data. */
static void on_stingy(struct stream *s, const struct hdr *h)
{
	if (h->op == OP_RW)
		fail("data sent to a stream that granted no credit");
	if (h->op == OP_CREDIT_REQUEST)
		stingy_credit_requests++;
	if (h->op == OP_SHUTDOWN || h->op == OP_RST) {
		if (h->op == OP_SHUTDOWN)
			send_hdr(s->lport, s->pport, OP_RST, 0, 0, 0);
		s->used = false;
	}
}

static void on_packet(const struct hdr *h, const uint8_t *data)
{
	struct stream *s;

	if (h->dst_cid != cid || h->src_cid != 2)
		fail("packet for the wrong CID");
	if (h->op == OP_REQUEST) {
		on_request(h);
		return;
	}
	s = find(h->dst_port, h->src_port);
	if (!s)
		return; /* an RST for something already gone */
	s->peer_buf = h->buf_alloc;
	s->peer_fwd = h->fwd_cnt;
	if (s->lport == 1025) {
		on_stingy(s, h);
		return;
	}
	switch (h->op) {
	case OP_RW:
		if (h->len > BUF_ALLOC - s->len)
			fail("host sent past our credit");
		for (uint32_t i = 0; i < h->len; i++)
			s->ring[(s->head + s->len + i) % BUF_ALLOC] = data[i];
		s->len += h->len;
		break;
	case OP_SHUTDOWN: /* the host closed: close our side too */
		flush_echo(s);
		send_pkt(s, s->lport, s->pport, OP_SHUTDOWN, 0, NULL, 0);
		send_pkt(s, s->lport, s->pport, OP_RST, 0, NULL, 0);
		s->used = false;
		return;
	case OP_RST:
		s->used = false;
		return;
	case OP_CREDIT_REQUEST:
		send_pkt(s, s->lport, s->pport, OP_CREDIT_UPDATE, 0, NULL, 0);
		break;
	default:
		break;
	}
	flush_echo(s);
}

/* Takes every rx packet there is; returns how many. */
static unsigned int poll_rx(void (*fn)(const struct hdr *, const uint8_t *))
{
	unsigned int n = 0;
	uint16_t id;
	uint32_t len;

	while (virtq_get_used(rxq, &id, &len) == 1) {
		uint8_t *b = rxbuf[id];
		struct hdr h;

		memcpy(&h, b, HDR);
		if (len != HDR + h.len || h.len > RX_ROOM)
			fail("rx length");
		fn(&h, b + HDR);
		post_rx(b);
		n++;
	}
	if (n)
		virtq_kick(rxq);
	return n;
}

/* ---- the client: 64 MiB to the host, 64 MiB back, pattern checked ---- */

static struct stream client;
static uint32_t client_got;
static bool client_up, client_reset;

static uint8_t pattern(uint32_t i)
{
	return (uint8_t)(i * 31u + (i >> 13));
}

static void on_client_packet(const struct hdr *h, const uint8_t *data)
{
	if (h->dst_port != client.lport)
		return;
	client.peer_buf = h->buf_alloc;
	client.peer_fwd = h->fwd_cnt;
	if (h->op == OP_RESPONSE)
		client_up = true;
	else if (h->op == OP_RST)
		client_reset = true;
	else if (h->op == OP_RW) {
		for (uint32_t i = 0; i < h->len; i++)
			if (data[i] != pattern(client_got + i))
				fail("host data does not match the pattern");
		client_got += h->len;
		client.fwd_cnt += h->len;
		if (client.fwd_cnt % (64u * 1024) < h->len)
			send_pkt(&client, client.lport, 5000, OP_CREDIT_UPDATE,
				 0, NULL, 0);
	}
}

static void run_client(void *unused)
{
	static uint8_t chunk[65536];
	uint32_t sent = 0;
	uint64_t spins = 0;

	(void)unused;
	client = (struct stream){.lport = 50000, .pport = 5000};
	send_pkt(&client, 50000, 5000, OP_REQUEST, 0, NULL, 0);
	while (!client_up && !client_reset && spins++ < 100000000)
		poll_rx(on_client_packet);
	if (!client_up)
		fail("the host refused the client");
	while (sent < PATTERN_BYTES || client_got < PATTERN_BYTES) {
		uint32_t n = PATTERN_BYTES - sent;

		poll_rx(on_client_packet);
		if (client_reset)
			fail("client reset");
		if (n > credit(&client))
			n = credit(&client);
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		if (!n)
			continue;
		for (uint32_t i = 0; i < n; i++)
			chunk[i] = pattern(sent + i);
		send_pkt(&client, 50000, 5000, OP_RW, 0, chunk, n);
		sent += n;
	}
	send_pkt(&client, 50000, 5000, OP_SHUTDOWN, 3, NULL, 0);
	for (spins = 0; !client_reset && spins < 100000000; spins++)
		poll_rx(on_client_packet);
	if (!client_reset)
		fail("no RST after the client's SHUTDOWN");
}

/* ---- set-up, here and again after a reset (CPL 0) ---------------------- */

static struct virtq *evq;
static uint8_t *rx_pool[NR_RX];
static uint32_t ev_buf;

static void setup_device(void)
{
	struct virtio_window w;

	if (virtio_find(VIRTIO_ID_VSOCK, 0, &w) < 0)
		fail("no virtio-vsock device");
	if (virtio_init(&dev, &w, VIRTIO_F_VERSION_1) < 0)
		fail("init");
	rxq = virtq_init(&dev, 0, QSIZE);
	txq = virtq_init(&dev, 1, QSIZE);
	evq = virtq_init(&dev, 2, 8);
	if (!rxq || !txq || !evq)
		fail("queues");
	virtio_driver_ok(&dev);
	for (int i = 0; i < NR_RX; i++) {
		if (!rx_pool[i])
			rx_pool[i] = virtio_alloc(HDR + RX_ROOM, 16);
		post_rx(rx_pool[i]);
	}
	virtq_kick(rxq);
}

/* ---- the hostile guest (CPL 3) ------------------------------------------ */

#define STINGY_PORT  7010
#define STINGY_BYTES (4u << 20)
#define GRANT_PORT   12
#define NR_PROBES    7

/* What came back to each of the guest ports 7000.. used below. */
static uint32_t rst_seen[NR_PROBES];
static uint32_t stingy_requests, stingy_got, stingy_fwd;
static bool stingy_up, stingy_granted, stingy_over;

static uint64_t deadline_after_ms(uint64_t ms)
{
	return rdtsc() + ms * tsc_khz();
}

static void send_raw(const struct hdr *h)
{
	struct virtq_buf vb = {&txh, HDR, false};
	uint32_t wl;

	txh = *h;
	if (virtq_roundtrip(txq, &vb, 1, &wl, WAIT_US) < 0)
		fail("tx");
}

static void on_hostile_packet(const struct hdr *h, const uint8_t *data)
{
	(void)data;
	if (h->op == OP_REQUEST && h->dst_port == GRANT_PORT) {
		stingy_granted = true;
		send_hdr(h->dst_port, h->src_port, OP_RST, 0, 0, 0);
		return;
	}
	if (h->dst_port >= 7000 && h->dst_port < 7000 + NR_PROBES) {
		if (h->op == OP_RST)
			rst_seen[h->dst_port - 7000]++;
		return;
	}
	if (h->dst_port != STINGY_PORT)
		return;
	if (h->op == OP_RESPONSE)
		stingy_up = true;
	else if (h->op == OP_CREDIT_REQUEST)
		stingy_requests++;
	else if (h->op == OP_RW && !stingy_granted)
		fail("data sent past a zero buf_alloc");
	else if (h->op == OP_RW) {
		stingy_got += h->len;
		stingy_fwd += h->len;
		if (stingy_fwd % (64u * 1024) < h->len)
			send_hdr(STINGY_PORT, 5001, OP_CREDIT_UPDATE, 0,
				 BUF_ALLOC, stingy_fwd);
	} else if (h->op == OP_SHUTDOWN || h->op == OP_RST) {
		if (h->op == OP_SHUTDOWN)
			send_hdr(STINGY_PORT, 5001, OP_RST, 0, 0, 0);
		stingy_over = true;
	}
}

/*
 * A stream to host port 5001 with buf_alloc 0: minnow must ask for credit
 * and send no data (the host measures that it stops reading) until the
 * host dials guest port 12; then 4 MiB must arrive.
 */
static void hostile_stingy(void *unused)
{
	uint64_t end = deadline_after_ms(60000);

	(void)unused;
	send_hdr(STINGY_PORT, 5001, OP_REQUEST, 0, 0, 0);
	while (!stingy_granted && rdtsc() < end)
		poll_rx(on_hostile_packet);
	if (!stingy_up || !stingy_granted)
		fail("stingy stream: no RESPONSE or no grant from the host");
	/*
	 * No CREDIT_REQUEST is required (virtio 1.2, 5.10.6.3 makes it
	 * optional); minnow reads nothing while it has no credit, so it
	 * has nothing to ask for. The count is reported.
	 */
	send_hdr(STINGY_PORT, 5001, OP_CREDIT_UPDATE, 0, BUF_ALLOC, 0);
	while (!stingy_over && rdtsc() < end)
		poll_rx(on_hostile_packet);
	if (stingy_got != STINGY_BYTES)
		fail("stingy stream: wrong byte count after the grant");
}

/* Bogus ops and types, wrong CIDs, data for no stream. */
static void hostile_bogus(void *unused)
{
	struct hdr h = {.src_cid = cid,
			.dst_cid = 2,
			.type = 1,
			.buf_alloc = BUF_ALLOC};
	uint64_t end = deadline_after_ms(10000);

	(void)unused;
	h.src_port = 7000, h.dst_port = 6000, h.op = 99;
	send_raw(&h); /* unknown op: RST */
	h.src_port = 7001, h.type = 7, h.op = OP_REQUEST;
	send_raw(&h); /* unknown type: RST */
	h.type = 1;
	h.src_port = 7002, h.dst_cid = 77;
	send_raw(&h); /* not for the host: dropped */
	h.src_port = 7003, h.dst_cid = 2, h.src_cid = cid + 1;
	send_raw(&h); /* not from us: dropped */
	h.src_port = 7004, h.src_cid = cid, h.op = OP_RW;
	send_raw(&h); /* RW for no stream: RST */
	h.src_port = 7005, h.dst_port = 5002, h.op = OP_REQUEST;
	send_raw(&h); /* nobody at PATH_5002: RST */
	while (!rst_seen[5] && rdtsc() < end)
		poll_rx(on_hostile_packet);
	if (rst_seen[0] != 1 || rst_seen[1] != 1 || rst_seen[4] != 1 ||
	    rst_seen[5] != 1)
		fail("bogus packets: an RST reply missing");
	if (rst_seen[2] || rst_seen[3])
		fail("bogus packets: a reply to a wrong CID");
	if (virtio_needs_reset(&dev))
		fail("bogus packets broke the device");
}

/* A header promising 64 KiB of payload in a chain of 44 bytes. */
static void hostile_overlong(void *unused)
{
	struct virtq_buf vb = {&txh, HDR, false};
	uint16_t head;

	(void)unused;
	txh = (struct hdr){.src_cid = cid,
			   .dst_cid = 2,
			   .src_port = 7006,
			   .dst_port = 5002,
			   .len = 65536,
			   .type = 1,
			   .op = OP_RW,
			   .buf_alloc = BUF_ALLOC};
	if (virtq_add(txq, &vb, 1, &head) < 0)
		fail("tx add");
	virtq_kick(txq);
	if (virtio_wait_needs_reset(&dev, 5000000) < 0)
		fail("an overlong packet did not set NEEDS_RESET");
}

/* After the reset: the transport-reset event, then a working device. */
static void hostile_after_reset(void *unused)
{
	struct virtq_buf vb = {&ev_buf, sizeof(ev_buf), true};
	uint16_t head, id;
	uint32_t len;
	uint64_t end = deadline_after_ms(10000);

	(void)unused;
	ev_buf = 0xffffffffu;
	if (virtq_add(evq, &vb, 1, &head) < 0)
		fail("event add");
	virtq_kick(evq);
	if (virtq_wait(evq, &id, &len, 5000000) < 0 || len != 4 || ev_buf != 0)
		fail("no transport-reset event after the reset");
	rst_seen[5] = 0;
	send_hdr(7005, 5002, OP_REQUEST, 0, BUF_ALLOC, 0);
	while (!rst_seen[5] && rdtsc() < end)
		poll_rx(on_hostile_packet);
	if (!rst_seen[5])
		fail("the device does not answer after the reset");
}

static void hostile(void)
{
	at_cpl3(hostile_stingy);
	printf("vsock: hostile: zero buf_alloc: %u credit requests, no data "
	       "until granted, then %u bytes\n",
	       stingy_requests, stingy_got);
	at_cpl3(hostile_bogus);
	printf("vsock: hostile: bogus op, type and RW answered with RST; "
	       "wrong CIDs dropped\n");
	at_cpl3(hostile_overlong);
	printf("vsock: hostile: overlong packet: NEEDS_RESET\n");
	virtio_reset(&dev);
	setup_device();
	at_cpl3(hostile_after_reset);
	printf("vsock: hostile: after the reset: transport-reset event, "
	       "device answers\n");
}

/* The echo server, until the host dials port 9. */
static void serve(void *unused)
{
	uint64_t next_check = 0, every = tsc_khz() * 10; /* 10 ms */

	(void)unused;
	while (!done) {
		if (poll_rx(on_packet) || rdtsc() < next_check)
			continue;
		/* Status is an exit: read it only when idle, now and then. */
		if (virtio_needs_reset(&dev))
			fail("device needs reset");
		next_check = rdtsc() + every;
	}
}

int main(void)
{
	setup_device();
	cid = virtio_config_read64(&dev, 0);
	printf("vsock: guest cid %u\n", (unsigned int)cid);
	printf("vsock: listening on port 1024\n");

	refuse = cmdline_has("vsock-refuse");
	tsc_khz(); /* cpuid here, at CPL 0; CPL 3 uses the cached rate */
	at_cpl3(serve);
	printf("vsock: server: refused %u, accepted %u, credit requests to "
	       "the stingy port %u\n",
	       refused, accepted, stingy_credit_requests);
	if (cmdline_has("vsock-client")) {
		at_cpl3(run_client);
		printf("vsock: client: %u bytes each way checked\n",
		       PATTERN_BYTES);
	}
	if (cmdline_has("vsock-hostile"))
		hostile();
	printf("vsock: ok\n");
	return 0;
}
