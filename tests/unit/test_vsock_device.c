/*
 * virtio-vsock end to end without KVM: the test thread is the guest's
 * driver (register accesses and rings, as a vCPU would) and the host's
 * unix-socket clients; the event loop runs on its own thread as in
 * minnow. Covers CONNECT/OK, refusals in a redial loop, guest-initiated
 * streams, half-closes, bulk data with hashes, many streams at once, a
 * guest that grants no credit, hostile packets and device reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio_mmio.h"
#include "devices/virtio_vsock.h"
#include "devices/vsock_pkt.h"
#include "vmm/util.h"
#include "vmm/vm.h"
#include "vq_driver.h"

#define BASE     LAYOUT_VIRTIO_MMIO_BASE
#define RING_GPA 0x10000ull
#define RX_GPA   0x100000ull
#define TX_GPA   0x400000ull
#define EV_GPA   0x0f0000ull
#define QSIZE    64
#define NR_RX    48
#define RX_BYTES (VSOCK_HDR_BYTES + 4096)
#define CID      3u

struct fixture {
	struct vm vm;
	struct virtio_mmio *m;
	struct vq_driver drv[3];
	pthread_t loop_thread;
	char path[96];
	uint16_t rx_head_slot[QSIZE]; /* rx descriptor head -> buffer slot */
};

static uint32_t rd(struct fixture *f, uint64_t off)
{
	uint32_t v;

	assert_true(
		bus_access(&f->vm.mmio, BASE + off, (uint8_t *)&v, 4, false));
	return le32toh(v);
}

static void wr(struct fixture *f, uint64_t off, uint32_t v)
{
	v = htole32(v);
	assert_true(
		bus_access(&f->vm.mmio, BASE + off, (uint8_t *)&v, 4, true));
}

static void *loop_main(void *arg)
{
	struct fixture *f = arg;

	evloop_run(&f->vm.loop);
	return NULL;
}

static void on_wake(void *ctx)
{
	evloop_stop(ctx);
}

static void sleep_us(long us)
{
	struct timespec ts = {0, us * 1000};

	nanosleep(&ts, NULL);
}

static void post_rx(struct fixture *f, unsigned int slot)
{
	struct vqd_buf b = {RX_GPA + 0x2000ull * slot, RX_BYTES, true};
	uint16_t head = vqd_add(&f->drv[0], &b, 1);

	f->rx_head_slot[head] = (uint16_t)slot;
}

static void driver_init(struct fixture *f)
{
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, s);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	s |= VIRTIO_STATUS_FEATURES_OK;
	wr(f, VIRTIO_MMIO_STATUS, s);
	for (unsigned int q = 0; q < 3; q++) {
		struct vq_driver *d = &f->drv[q];

		vqd_init(d, &f->vm.mem, QSIZE, RING_GPA + 0x4000ull * q);
		wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
		wr(f, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)d->desc);
		wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)d->avail);
		wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
		wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)d->used);
		wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
		wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(f, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS),
			 s | VIRTIO_STATUS_DRIVER_OK);

	/* virtio 1.2, 5.10.5: event buffers, then rx buffers. */
	for (unsigned int i = 0; i < 4; i++) {
		struct vqd_buf b = {EV_GPA + 8ull * i, 4, true};

		vqd_add(&f->drv[2], &b, 1);
	}
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 2);
	for (unsigned int i = 0; i < NR_RX; i++)
		post_rx(f, i);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct virtio_vsock_config cfg = {.guest_cid = CID};
	struct virtio_dev *dev;

	assert_non_null(f);
	snprintf(f->path, sizeof(f->path), "/tmp/minnow-vsock-test-%d.sock",
		 (int)getpid());
	cfg.socket_path = f->path;
	f->vm.vm_fd = -1;
	assert_int_equal(gmem_init(&f->vm.mem, 16u << 20, false), 0);
	bus_init(&f->vm.mmio, "mmio");
	assert_int_equal(evloop_init(&f->vm.loop, 256), 0);
	dev = virtio_vsock_create(&cfg, &f->vm.loop);
	assert_non_null(dev);
	assert_int_equal(virtio_mmio_attach(&f->vm, dev), 0);
	virtio_vsock_start(dev);
	f->m = f->vm.virtio[0];
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_VSOCK);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG), CID);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 4), 0);
	evloop_set_wake_handler(&f->vm.loop, on_wake, &f->vm.loop);
	assert_int_equal(pthread_create(&f->loop_thread, NULL, loop_main, f),
			 0);
	driver_init(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	evloop_wake(&f->vm.loop);
	pthread_join(f->loop_thread, NULL);
	evloop_destroy(&f->vm.loop);
	virtio_mmio_destroy(f->m);
	gmem_destroy(&f->vm.mem);
	assert_int_equal(access(f->path, F_OK), -1); /* removed */
	free(f);
	return 0;
}

/* ---- the guest driver's side ------------------------------------------ */

struct gpkt {
	struct vsock_hdr h;
	uint8_t data[4096];
};

static void g_send_raw(struct fixture *f, const struct vsock_hdr *h,
		       const void *payload, uint32_t desc_len)
{
	struct vsock_hdr_le le;
	struct vqd_buf b = {TX_GPA, desc_len, false};
	uint32_t id, len;
	int spins = 0;

	vsock_hdr_encode(h, &le);
	gmem_write(&f->vm.mem, TX_GPA, &le, sizeof(le));
	if (h->len && payload)
		gmem_write(&f->vm.mem, TX_GPA + VSOCK_HDR_BYTES, payload,
			   MIN(h->len, desc_len - VSOCK_HDR_BYTES));
	vqd_add(&f->drv[1], &b, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	/* The one tx buffer is reused: wait until the device is done. */
	while (!vqd_get_used(&f->drv[1], &id, &len)) {
		if (rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET)
			return;
		assert_true(++spins < 200000);
		sleep_us(10);
	}
}

static void g_send(struct fixture *f, uint16_t op, uint32_t src_port,
		   uint32_t dst_port, const void *payload, uint32_t n,
		   uint32_t flags, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct vsock_hdr h = {
		.src_cid = CID,
		.dst_cid = VSOCK_CID_HOST,
		.src_port = src_port,
		.dst_port = dst_port,
		.len = n,
		.type = VSOCK_TYPE_STREAM,
		.op = op,
		.flags = flags,
		.buf_alloc = buf_alloc,
		.fwd_cnt = fwd_cnt,
	};

	g_send_raw(f, &h, payload, VSOCK_HDR_BYTES + n);
}

/* Takes the next rx packet within timeout_ms and gives the buffer back. */
static bool g_recv(struct fixture *f, struct gpkt *p, int timeout_ms)
{
	struct vsock_hdr_le le;
	uint32_t id, len;
	gpa_t gpa;

	for (int t = 0; !vqd_get_used(&f->drv[0], &id, &len); t++) {
		if (t >= timeout_ms * 10)
			return false;
		sleep_us(100);
	}
	assert_true(len >= VSOCK_HDR_BYTES);
	gpa = RX_GPA + 0x2000ull * f->rx_head_slot[id];
	gmem_read(&f->vm.mem, &le, gpa, sizeof(le));
	p->h.src_cid = le64toh(le.src_cid);
	p->h.dst_cid = le64toh(le.dst_cid);
	p->h.src_port = le32toh(le.src_port);
	p->h.dst_port = le32toh(le.dst_port);
	p->h.len = le32toh(le.len);
	p->h.type = le16toh(le.type);
	p->h.op = le16toh(le.op);
	p->h.flags = le32toh(le.flags);
	p->h.buf_alloc = le32toh(le.buf_alloc);
	p->h.fwd_cnt = le32toh(le.fwd_cnt);
	assert_int_equal(len, VSOCK_HDR_BYTES + p->h.len);
	assert_true(p->h.len <= sizeof(p->data));
	gmem_read(&f->vm.mem, p->data, gpa + VSOCK_HDR_BYTES, p->h.len);
	assert_int_equal(p->h.src_cid, VSOCK_CID_HOST);
	assert_int_equal(p->h.dst_cid, CID);
	post_rx(f, f->rx_head_slot[id]);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	return true;
}

static void g_expect(struct fixture *f, struct gpkt *p, uint16_t op)
{
	assert_true(g_recv(f, p, 3000));
	if (p->h.op != op)
		fail_msg("expected op %u, got op %u (ports %u->%u)", op,
			 p->h.op, p->h.src_port, p->h.dst_port);
}

/* ---- the host's side -------------------------------------------------- */

static int h_dial(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static int h_listen(struct fixture *f, uint32_t port)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", f->path, port);
	unlink(sa.sun_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 64), 0);
	return fd;
}

static void h_unlisten(struct fixture *f, int fd, uint32_t port)
{
	char p[128];

	snprintf(p, sizeof(p), "%s_%u", f->path, port);
	unlink(p);
	close(fd);
}

/* Reads exactly n bytes within a few seconds; returns what it got. */
static size_t h_read(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t k;

		if (poll(&pfd, 1, 3000) <= 0)
			break;
		k = recv(fd, (uint8_t *)buf + got, n - got, MSG_DONTWAIT);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	return got;
}

/*
 * Whether fd reaches end of file (or reset) within timeout_ms, skipping
 * data still in the way.
 */
static bool h_eof(int fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	static char sink[65536];

	while (poll(&pfd, 1, timeout_ms) > 0) {
		if (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
			return true;
	}
	return false;
}

/* A host CONNECT to guest port gport that the guest accepts. */
static int connect_accepted(struct fixture *f, uint32_t gport,
			    uint32_t *host_port, uint32_t buf_alloc)
{
	char req[32];
	struct gpkt p;
	char line[32] = {0}, want[32];
	int fd = h_dial(f->path);

	snprintf(req, sizeof(req), "CONNECT %u\n", gport);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	g_expect(f, &p, VSOCK_OP_REQUEST);
	assert_int_equal(p.h.dst_port, gport);
	assert_true(p.h.src_port >= 0x40000000u);
	*host_port = p.h.src_port;
	g_send(f, VSOCK_OP_RESPONSE, gport, p.h.src_port, NULL, 0, 0, buf_alloc,
	       0);
	snprintf(want, sizeof(want), "OK %u\n", *host_port);
	assert_int_equal(h_read(fd, line, strlen(want)), strlen(want));
	assert_string_equal(line, want);
	return fd;
}

/* ---- tests ------------------------------------------------------------ */

static void test_host_connect_echo(void **state)
{
	struct fixture *f = *state;
	struct gpkt p;
	uint32_t hp;
	char buf[16] = {0};
	int fd = connect_accepted(f, 1024, &hp, 65536);

	assert_int_equal(write(fd, "hello", 5), 5);
	g_expect(f, &p, VSOCK_OP_RW);
	assert_int_equal(p.h.len, 5);
	assert_memory_equal(p.data, "hello", 5);
	assert_int_equal(p.h.buf_alloc, 256 * 1024);

	g_send(f, VSOCK_OP_RW, 1024, hp, "world", 5, 0, 65536, 5);
	assert_int_equal(h_read(fd, buf, 5), 5);
	assert_string_equal(buf, "world");

	/* Host half-close reaches the guest as SHUTDOWN(SEND). */
	shutdown(fd, SHUT_WR);
	g_expect(f, &p, VSOCK_OP_SHUTDOWN);
	assert_int_equal(p.h.flags, VSOCK_SHUTDOWN_SEND);
	/* The guest still talks after that. */
	g_send(f, VSOCK_OP_RW, 1024, hp, "more", 4, 0, 65536, 5);
	assert_int_equal(h_read(fd, buf, 4), 4);
	assert_memory_equal(buf, "more", 4);
	/* Linux's close(): SHUTDOWN both, then the RST ends it. */
	g_send(f, VSOCK_OP_SHUTDOWN, 1024, hp, NULL, 0, VSOCK_SHUTDOWN_BOTH,
	       65536, 5);
	g_expect(f, &p, VSOCK_OP_RST);
	assert_true(h_eof(fd, 3000));
	close(fd);
}

static void test_redial_refused_then_ok(void **state)
{
	struct fixture *f = *state;
	struct gpkt p;
	uint32_t hp;

	/* The Kata runtime while the agent is not listening yet. */
	for (int i = 0; i < 1000; i++) {
		int fd = h_dial(f->path);

		assert_int_equal(write(fd, "CONNECT 1024\n", 13), 13);
		g_expect(f, &p, VSOCK_OP_REQUEST);
		g_send(f, VSOCK_OP_RST, 1024, p.h.src_port, NULL, 0, 0, 0, 0);
		assert_true(h_eof(fd, 3000));
		close(fd);
	}
	/* Clients that give up at once, before or after the REQUEST. */
	for (int i = 0; i < 200; i++) {
		int fd = h_dial(f->path);

		assert_int_equal(write(fd, "CONNECT 1024\n", 13), 13);
		close(fd);
	}
	while (g_recv(f, &p, 200))
		if (p.h.op == VSOCK_OP_REQUEST)
			g_send(f, VSOCK_OP_RESPONSE, 1024, p.h.src_port, NULL,
			       0, 0, 4096, 0);
	/* Garbage instead of a CONNECT line is dropped. */
	{
		int fd = h_dial(f->path);

		assert_int_equal(write(fd, "HELLO\n", 6), 6);
		assert_true(h_eof(fd, 3000));
		close(fd);
	}
	close(connect_accepted(f, 1024, &hp, 65536));
	g_expect(f, &p, VSOCK_OP_SHUTDOWN);
}

static void test_guest_connect(void **state)
{
	struct fixture *f = *state;
	int lfd = h_listen(f, 5000);
	struct gpkt p;
	char buf[8] = {0};
	int fd;

	g_send(f, VSOCK_OP_REQUEST, 40000, 5000, NULL, 0, 0, 65536, 0);
	g_expect(f, &p, VSOCK_OP_RESPONSE);
	assert_int_equal(p.h.src_port, 5000);
	assert_int_equal(p.h.dst_port, 40000);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	g_send(f, VSOCK_OP_RW, 40000, 5000, "abc", 3, 0, 65536, 0);
	assert_int_equal(h_read(fd, buf, 3), 3);
	assert_string_equal(buf, "abc");
	assert_int_equal(write(fd, "xyz", 3), 3);
	g_expect(f, &p, VSOCK_OP_RW);
	assert_memory_equal(p.data, "xyz", 3);

	/* Guest half-close reaches the host as end of file. */
	g_send(f, VSOCK_OP_SHUTDOWN, 40000, 5000, NULL, 0, VSOCK_SHUTDOWN_SEND,
	       65536, 3);
	assert_true(h_eof(fd, 3000));
	/* The host vanishes: the guest gets SHUTDOWN then RST. */
	close(fd);
	g_expect(f, &p, VSOCK_OP_SHUTDOWN);
	g_expect(f, &p, VSOCK_OP_RST);

	/* Nobody listens on 5001: RST. */
	g_send(f, VSOCK_OP_REQUEST, 40001, 5001, NULL, 0, 0, 65536, 0);
	g_expect(f, &p, VSOCK_OP_RST);
	assert_int_equal(p.h.dst_port, 40001);
	h_unlisten(f, lfd, 5000);
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* 4 MiB each way at once through one stream, compared by hash. */
static void test_bulk_both_ways(void **state)
{
	struct fixture *f = *state;
	const size_t total = 4u << 20;
	static uint8_t out[4096], in[65536];
	uint64_t h_sent = 0xcbf29ce484222325ull, h_got = h_sent;
	uint64_t g_sent = h_sent, g_got = h_sent;
	size_t hw = 0, hr = 0, gw = 0, gr = 0;
	uint32_t hp, host_buf = 0, host_fwd = 0, g_fwd = 0;
	struct gpkt p;
	int fd = connect_accepted(f, 1024, &hp, 65536);
	int idle = 0;

	host_buf = 256 * 1024;
	while ((hr < total || gr < total) && idle < 20000) {
		bool progress = false;
		ssize_t k;

		/* Host writes its stream (pattern) as the socket allows. */
		if (hw < total) {
			for (size_t i = 0; i < sizeof(out); i++)
				out[i] = (uint8_t)((hw + i) * 7 + 1);
			k = send(fd, out, MIN(sizeof(out), total - hw),
				 MSG_DONTWAIT);
			if (k > 0) {
				h_sent = fnv(h_sent, out, (size_t)k);
				hw += (size_t)k;
				progress = true;
			}
		}
		/* Guest receives, and tells its credit every 32 KiB. */
		while (g_recv(f, &p, 0)) {
			progress = true;
			if (p.h.op == VSOCK_OP_CREDIT_UPDATE ||
			    p.h.op == VSOCK_OP_RW) {
				host_buf = p.h.buf_alloc;
				host_fwd = p.h.fwd_cnt;
			}
			if (p.h.op == VSOCK_OP_RW) {
				g_got = fnv(g_got, p.data, p.h.len);
				gr += p.h.len;
				if (gr - g_fwd >= 32768 || gr == total) {
					g_fwd = (uint32_t)gr;
					g_send(f, VSOCK_OP_CREDIT_UPDATE, 1024,
					       hp, NULL, 0, 0, 65536, g_fwd);
				}
			} else if (p.h.op == VSOCK_OP_CREDIT_REQUEST) {
				g_send(f, VSOCK_OP_CREDIT_UPDATE, 1024, hp,
				       NULL, 0, 0, 65536, (uint32_t)gr);
			}
		}
		/* Guest sends within the host's credit. */
		if (gw < total) {
			uint32_t credit = host_buf - ((uint32_t)gw - host_fwd);
			uint32_t n = (uint32_t)MIN(MIN(credit, 4000u),
						   total - gw);

			if (n) {
				for (uint32_t i = 0; i < n; i++)
					in[i] = (uint8_t)((gw + i) * 13 + 5);
				g_sent = fnv(g_sent, in, n);
				g_send(f, VSOCK_OP_RW, 1024, hp, in, n, 0,
				       65536, (uint32_t)gr);
				gw += n;
				progress = true;
			}
		}
		/* Host reads. */
		k = recv(fd, in, sizeof(in), MSG_DONTWAIT);
		if (k > 0) {
			h_got = fnv(h_got, in, (size_t)k);
			hr += (size_t)k;
			progress = true;
		}
		idle = progress ? 0 : idle + 1;
		if (!progress)
			sleep_us(100);
	}
	assert_int_equal(hr, total);
	assert_int_equal(gr, total);
	assert_true(h_got == g_sent);
	assert_true(g_got == h_sent);
	close(fd);
	g_expect(f, &p, VSOCK_OP_SHUTDOWN);
}

static void test_many_streams(void **state)
{
	struct fixture *f = *state;
	int fds[64];
	uint32_t hp[64];
	struct gpkt p;

	for (int i = 0; i < 64; i++)
		fds[i] = connect_accepted(f, 2000 + (uint32_t)i, &hp[i], 4096);
	for (int i = 0; i < 64; i++) {
		char msg[8];

		snprintf(msg, sizeof(msg), "m%03d", i);
		assert_int_equal(write(fds[i], msg, 4), 4);
	}
	for (int i = 0; i < 64; i++) {
		char want[8];

		g_expect(f, &p, VSOCK_OP_RW);
		assert_int_equal(p.h.src_port, hp[p.h.dst_port - 2000]);
		snprintf(want, sizeof(want), "m%03u", p.h.dst_port - 2000);
		assert_memory_equal(p.data, want, 4);
	}
	for (int i = 0; i < 64; i++) {
		char buf[4];

		g_send(f, VSOCK_OP_RW, 2000 + (uint32_t)i, hp[i], "back", 4, 0,
		       4096, 4);
		assert_int_equal(h_read(fds[i], buf, 4), 4);
		assert_memory_equal(buf, "back", 4);
		close(fds[i]);
	}
	for (int i = 0; i < 64; i++)
		g_expect(f, &p, VSOCK_OP_SHUTDOWN);
}

/* A guest that grants no credit: minnow stops reading, buffers nothing. */
static void test_no_credit(void **state)
{
	struct fixture *f = *state;
	int lfd = h_listen(f, 6000);
	static uint8_t junk[65536];
	size_t written = 0;
	struct gpkt p;
	int fd;

	g_send(f, VSOCK_OP_REQUEST, 41000, 6000, NULL, 0, 0, 0, 0);
	g_expect(f, &p, VSOCK_OP_RESPONSE);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	/* The host writes until its socket is full. */
	for (int i = 0; i < 1000; i++) {
		ssize_t k = send(fd, junk, sizeof(junk), MSG_DONTWAIT);

		if (k < 0) {
			sleep_us(1000);
			if (send(fd, junk, 1, MSG_DONTWAIT) < 0)
				break;
			k = 1;
		}
		written += (size_t)k;
	}
	/* Bounded by the kernel's socket buffers, not minnow's memory. */
	assert_true(written < (16u << 20));
	assert_false(g_recv(f, &p, 100));

	/* 1000 bytes of credit: exactly that much arrives. */
	g_send(f, VSOCK_OP_CREDIT_UPDATE, 41000, 6000, NULL, 0, 0, 1000, 0);
	{
		uint32_t got = 0;

		while (g_recv(f, &p, 200)) {
			assert_int_equal(p.h.op, VSOCK_OP_RW);
			got += p.h.len;
		}
		assert_int_equal(got, 1000);
	}
	close(fd);
	h_unlisten(f, lfd, 6000);
}

static void test_hostile_packets(void **state)
{
	struct fixture *f = *state;
	struct vsock_hdr h = {
		.src_cid = CID,
		.dst_cid = VSOCK_CID_HOST,
		.src_port = 7,
		.dst_port = 8,
		.type = VSOCK_TYPE_STREAM,
		.op = 99,
	};
	struct gpkt p;
	uint32_t hp;
	int fd;

	/* A bogus op: RST. */
	g_send_raw(f, &h, NULL, VSOCK_HDR_BYTES);
	g_expect(f, &p, VSOCK_OP_RST);
	assert_int_equal(p.h.dst_port, 7);
	/* Data on a stream that does not exist: RST. */
	h.op = VSOCK_OP_RW;
	h.len = 3;
	g_send_raw(f, &h, "abc", VSOCK_HDR_BYTES + 3);
	g_expect(f, &p, VSOCK_OP_RST);
	/* Someone else's CIDs: dropped, no answer. */
	h.dst_cid = 5;
	g_send_raw(f, &h, "abc", VSOCK_HDR_BYTES + 3);
	h.dst_cid = VSOCK_CID_HOST;
	h.src_cid = 9;
	h.op = VSOCK_OP_REQUEST;
	h.len = 0;
	g_send_raw(f, &h, NULL, VSOCK_HDR_BYTES);
	assert_false(g_recv(f, &p, 100));
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);

	/* Data beyond the credit given resets that stream only. */
	fd = connect_accepted(f, 1024, &hp, 65536);
	{
		static uint8_t big[65536];
		bool reset = false;

		for (int i = 0; i < 8 && !reset; i++) {
			g_send(f, VSOCK_OP_RW, 1024, hp, big, sizeof(big), 0,
			       65536, 0);
			while (g_recv(f, &p, 20))
				reset |= p.h.op == VSOCK_OP_RST;
		}
		assert_true(reset);
	}
	assert_true(h_eof(fd, 3000));
	close(fd);

	/* A length past the buffer fails the device... */
	h = (struct vsock_hdr){
		.src_cid = CID,
		.dst_cid = VSOCK_CID_HOST,
		.src_port = 7,
		.dst_port = 8,
		.type = VSOCK_TYPE_STREAM,
		.op = VSOCK_OP_RW,
		.len = 100,
	};
	g_send_raw(f, &h, "x", VSOCK_HDR_BYTES + 1);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* ... and a reset brings it back, with a transport-reset event. */
	driver_init(f);
	{
		uint32_t id, len, ev = 0xffffffff;
		int t = 0;

		while (!vqd_get_used(&f->drv[2], &id, &len)) {
			assert_true(++t < 30000);
			sleep_us(100);
		}
		assert_int_equal(len, 4);
		gmem_read(&f->vm.mem, &ev, EV_GPA + 8ull * id, 4);
		assert_int_equal(ev, VSOCK_EVENT_TRANSPORT_RESET);
	}
	fd = connect_accepted(f, 1024, &hp, 65536);
	close(fd);
}

static void test_reset_closes_streams(void **state)
{
	struct fixture *f = *state;
	uint32_t hp;
	int fd = connect_accepted(f, 1024, &hp, 65536);

	driver_init(f);
	assert_true(h_eof(fd, 3000));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host_connect_echo, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_redial_refused_then_ok,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_connect, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bulk_both_ways, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_many_streams, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_credit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hostile_packets, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reset_closes_streams,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
