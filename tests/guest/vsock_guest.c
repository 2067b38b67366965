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
 * The server runs until a REQUEST to port 9 ("done") arrives; the program
 * then reports and exits 0. Polling only; all at CPL 0.
 */
#include "lib/guest.h"
#include "lib/virtio.h"

#define QSIZE      128
#define NR_RX      64
#define RX_ROOM    4096u
#define HDR        44u
#define BUF_ALLOC  (256u * 1024)
#define MAX_STREAMS 80
#define WAIT_US    20000000ull
#define PATTERN_BYTES (64u << 20)

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW,
       OP_CREDIT_UPDATE, OP_CREDIT_REQUEST };

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct hdr) == HDR, "virtio_vsock_hdr");

struct stream {
	bool used;
	uint32_t lport, pport;     /* guest port, host port */
	uint32_t fwd_cnt;          /* bytes consumed (echoed or checked) */
	uint32_t peer_buf, peer_fwd, tx_cnt;
	uint8_t *ring;             /* echo data waiting for host credit */
	uint32_t head, len;
};

static struct virtio_dev dev;
static struct virtq *rxq, *txq;
static uint64_t cid;
static uint8_t *rxbuf[QSIZE];
static struct stream streams[MAX_STREAMS];
static struct hdr txh;
static uint32_t refused, accepted;
static bool done;

static void fail(const char *what)
{
	printf("vsock: FAIL: %s\n", what);
	guest_exit(1);
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

	txh = (struct hdr){.src_cid = cid, .dst_cid = 2, .src_port = lport,
			   .dst_port = pport, .len = len, .type = 1, .op = op,
			   .flags = flags, .buf_alloc = BUF_ALLOC,
			   .fwd_cnt = s ? s->fwd_cnt : 0};
	if (virtq_roundtrip(txq, vb, len ? 2 : 1, &wl, WAIT_US) < 0)
		fail("tx");
	if (s)
		s->tx_cnt += len;
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

static void on_request(const struct hdr *h)
{
	struct stream *s = NULL;

	if (h->dst_port == 9) {
		done = true;
		send_pkt(NULL, h->dst_port, h->src_port, OP_RST, 0, NULL, 0);
		return;
	}
	if (h->dst_port != 1024 ||
	    (cmdline_has("vsock-refuse") && refused < 1000)) {
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
	*s = (struct stream){.used = true, .lport = h->dst_port,
			     .pport = h->src_port, .peer_buf = h->buf_alloc,
			     .peer_fwd = h->fwd_cnt, .ring = s->ring};
	accepted++;
	send_pkt(s, s->lport, s->pport, OP_RESPONSE, 0, NULL, 0);
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
			send_pkt(&client, client.lport, 5000,
				 OP_CREDIT_UPDATE, 0, NULL, 0);
	}
}

static void run_client(void)
{
	static uint8_t chunk[65536];
	uint32_t sent = 0;
	uint64_t spins = 0;

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
	printf("vsock: client: %u bytes each way checked\n", PATTERN_BYTES);
}

int main(void)
{
	struct virtio_window w;
	struct virtq *evq;

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
	cid = virtio_config_read64(&dev, 0);
	printf("vsock: guest cid %u\n", (unsigned int)cid);
	for (int i = 0; i < NR_RX; i++)
		post_rx(virtio_alloc(HDR + RX_ROOM, 16));
	virtq_kick(rxq);
	printf("vsock: listening on port 1024\n");

	while (!done) {
		poll_rx(on_packet);
		if (virtio_needs_reset(&dev))
			fail("device needs reset");
	}
	printf("vsock: server: refused %u, accepted %u\n", refused, accepted);
	if (cmdline_has("vsock-client"))
		run_client();
	printf("vsock: ok\n");
	return 0;
}
