/*
 * virtio-vsock without KVM: packet parsing and classification, the
 * connection state machine, credit accounting both ways, the connection
 * table and the CONNECT line parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "devices/vsock_conn.h"
#include "devices/vsock_pkt.h"
#include "devices/vsock_unix.h"

#define GUEST_CID  3u
#define HOST_PORT  1000u
#define GUEST_PORT 5000u

/* A guest packet: header, then payload, in one buffer. */
struct pkt {
	struct vsock_hdr hdr;
	uint8_t buf[VSOCK_HDR_BYTES + 8192];
	struct iovec iov;
};

static struct pkt *mk(struct pkt *p, uint16_t op, uint32_t len,
		      uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct vsock_hdr_le le;

	memset(p, 0, sizeof(*p));
	p->hdr = (struct vsock_hdr){
		.src_cid = GUEST_CID,
		.dst_cid = VSOCK_CID_HOST,
		.src_port = GUEST_PORT,
		.dst_port = HOST_PORT,
		.len = len,
		.type = VSOCK_TYPE_STREAM,
		.op = op,
		.buf_alloc = buf_alloc,
		.fwd_cnt = fwd_cnt,
	};
	vsock_hdr_encode(&p->hdr, &le);
	memcpy(p->buf, &le, sizeof(le));
	for (uint32_t i = 0; i < len; i++)
		p->buf[VSOCK_HDR_BYTES + i] = (uint8_t)i;
	p->iov = (struct iovec){p->buf, VSOCK_HDR_BYTES + len};
	return p;
}

static uint32_t recv_pkt(struct vsock_conn *c, struct pkt *p)
{
	return vsock_conn_recv(c, &p->hdr, &p->iov, 1);
}

/* Takes the next packet for the guest into out; returns its op or 0. */
static uint16_t emit(struct vsock_conn *c, struct vsock_hdr *out,
		     uint8_t *payload, uint32_t room)
{
	static uint8_t rxbuf[VSOCK_HDR_BYTES + 65536];
	struct iovec iov = {rxbuf, sizeof(rxbuf)};

	if (!vsock_conn_emit(c, out, &iov, 1, room))
		return 0;
	if (payload)
		memcpy(payload, rxbuf + VSOCK_HDR_BYTES, out->len);
	return out->op;
}

/* Puts n bytes into to_guest as a host socket read would. */
static void host_sends(struct vsock_conn *c, uint32_t n)
{
	while (n) {
		uint8_t *p;
		uint32_t k = vsock_ring_write_area(&c->to_guest, &p);

		assert_true(k > 0);
		k = k < n ? k : n;
		memset(p, 'h', k);
		vsock_conn_host_read(c, k);
		n -= k;
	}
}

static void guest_connects(struct vsock_conn *c, uint32_t buf_alloc)
{
	struct pkt p;
	struct vsock_hdr h;

	mk(&p, VSOCK_OP_REQUEST, 0, buf_alloc, 0);
	vsock_conn_init(c, GUEST_CID, HOST_PORT, GUEST_PORT, &p.hdr);
	assert_int_equal(emit(c, &h, NULL, 4096), VSOCK_OP_RESPONSE);
	assert_int_equal(h.src_cid, VSOCK_CID_HOST);
	assert_int_equal(h.dst_cid, GUEST_CID);
	assert_int_equal(h.src_port, HOST_PORT);
	assert_int_equal(h.dst_port, GUEST_PORT);
	assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
	assert_false(vsock_conn_has_output(c));
}

static void test_parse(void **state)
{
	struct pkt p;
	struct vsock_hdr h;
	struct iovec split[3];

	(void)state;
	mk(&p, VSOCK_OP_RW, 10, 0, 0);
	assert_int_equal(vsock_pkt_parse(&p.iov, 1, VSOCK_HDR_BYTES + 10, &h),
			 0);
	assert_int_equal(h.len, 10);
	assert_int_equal(h.src_port, GUEST_PORT);

	/* The header may straddle buffers. */
	split[0] = (struct iovec){p.buf, 5};
	split[1] = (struct iovec){p.buf + 5, 30};
	split[2] = (struct iovec){p.buf + 35, 19};
	assert_int_equal(vsock_pkt_parse(split, 3, 54, &h), 0);
	assert_int_equal(h.op, VSOCK_OP_RW);

	assert_int_equal(vsock_pkt_parse(&p.iov, 1, 43, &h),
			 -VSOCK_PKT_ERR_SHORT);
	/* len past the buffer. */
	assert_int_equal(vsock_pkt_parse(&p.iov, 1, VSOCK_HDR_BYTES + 9, &h),
			 -VSOCK_PKT_ERR_LEN);
	mk(&p, VSOCK_OP_RW, 0, 0, 0);
	p.hdr.len = 0xffffffffu;
	{
		struct vsock_hdr_le le;

		vsock_hdr_encode(&p.hdr, &le);
		memcpy(p.buf, &le, sizeof(le));
	}
	assert_int_equal(vsock_pkt_parse(&p.iov, 1, VSOCK_HDR_BYTES, &h),
			 -VSOCK_PKT_ERR_TOO_BIG);
}

static void test_classify(void **state)
{
	struct pkt p;

	(void)state;
	mk(&p, VSOCK_OP_RW, 0, 0, 0);
	assert_int_equal(vsock_pkt_classify(&p.hdr, GUEST_CID),
			 VSOCK_PKT_HANDLE);
	p.hdr.src_cid = 7;
	assert_int_equal(vsock_pkt_classify(&p.hdr, GUEST_CID), VSOCK_PKT_DROP);
	p.hdr.src_cid = GUEST_CID;
	p.hdr.dst_cid = 1;
	assert_int_equal(vsock_pkt_classify(&p.hdr, GUEST_CID), VSOCK_PKT_DROP);
	p.hdr.dst_cid = VSOCK_CID_HOST;
	p.hdr.op = 99;
	assert_int_equal(vsock_pkt_classify(&p.hdr, GUEST_CID),
			 VSOCK_PKT_REPLY_RST);
	p.hdr.op = VSOCK_OP_INVALID;
	assert_int_equal(vsock_pkt_classify(&p.hdr, GUEST_CID),
			 VSOCK_PKT_REPLY_RST);
	p.hdr.op = VSOCK_OP_REQUEST;
	p.hdr.type = 2; /* seqpacket was not negotiated */
	assert_int_equal(vsock_pkt_classify(&p.hdr, GUEST_CID),
			 VSOCK_PKT_REPLY_RST);
	p.hdr.op = VSOCK_OP_RST;
	assert_int_equal(vsock_pkt_classify(&p.hdr, GUEST_CID), VSOCK_PKT_DROP);
}

static void test_guest_to_host_credit(void **state)
{
	struct vsock_conn c;
	struct vsock_hdr h;
	struct pkt p;
	const uint8_t *area;
	uint32_t sent = 0;

	(void)state;
	guest_connects(&c, 65536);

	/* The guest may fill exactly buf_alloc, and not a byte more. */
	while (sent + 8192 <= VSOCK_BUF_ALLOC) {
		assert_int_equal(
			recv_pkt(&c, mk(&p, VSOCK_OP_RW, 8192, 65536, 0)), 0);
		sent += 8192;
	}
	assert_int_equal(c.to_host.len, VSOCK_BUF_ALLOC);
	assert_int_equal(vsock_ring_read_area(&c.to_host, &area),
			 VSOCK_BUF_ALLOC);
	assert_int_equal(area[0], 0);
	assert_int_equal(area[8191], (uint8_t)8191);
	assert_false(vsock_conn_has_output(&c));

	/* The guest believes it has no credit: any progress is news. */
	vsock_conn_host_written(&c, VSOCK_BUF_ALLOC / 4);
	assert_int_equal(emit(&c, &h, NULL, 4096), VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(h.fwd_cnt, VSOCK_BUF_ALLOC / 4);
	assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
	assert_false(vsock_conn_has_output(&c));
	vsock_conn_host_written(&c, VSOCK_BUF_ALLOC * 3 / 4);
	assert_int_equal(emit(&c, &h, NULL, 4096), VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(h.fwd_cnt, VSOCK_BUF_ALLOC);

	/* While the guest believes half is free, no update is sent. */
	for (uint32_t k = 0; k < 8; k++)
		recv_pkt(&c, mk(&p, VSOCK_OP_RW, 8192, 65536, 0));
	vsock_conn_host_written(&c, 8 * 8192);
	assert_false(vsock_conn_has_output(&c));

	/* Past the credit: the connection is reset, not buffered. */
	assert_int_equal(recv_pkt(&c, mk(&p, VSOCK_OP_RW, 8192, 65536, 0)), 0);
	for (uint32_t k = 0; k < VSOCK_BUF_ALLOC / 8192 - 1; k++)
		assert_int_equal(
			recv_pkt(&c, mk(&p, VSOCK_OP_RW, 8192, 65536, 0)), 0);
	assert_int_equal(c.to_host.len, VSOCK_BUF_ALLOC);
	assert_int_equal(recv_pkt(&c, mk(&p, VSOCK_OP_RW, 1, 65536, 0)),
			 VSOCK_EV_CLOSE | VSOCK_EV_VIOLATION);
	assert_int_equal(c.state, VSOCK_CONN_CLOSED);
	assert_int_equal(emit(&c, &h, NULL, 4096), VSOCK_OP_RST);
	assert_true(vsock_conn_finished(&c));
	vsock_conn_cleanup(&c);
}

static void test_credit_request(void **state)
{
	struct vsock_conn c;
	struct vsock_hdr h;
	struct pkt p;

	(void)state;
	guest_connects(&c, 4096);
	recv_pkt(&c, mk(&p, VSOCK_OP_RW, 100, 4096, 0));
	vsock_conn_host_written(&c, 100);
	assert_int_equal(
		recv_pkt(&c, mk(&p, VSOCK_OP_CREDIT_REQUEST, 0, 4096, 0)), 0);
	assert_int_equal(emit(&c, &h, NULL, 4096), VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(h.fwd_cnt, 100);
	vsock_conn_cleanup(&c);
}

static void test_host_to_guest_credit(void **state)
{
	struct vsock_conn c;
	struct vsock_hdr h;
	struct pkt p;
	static uint8_t payload[65536];

	(void)state;
	guest_connects(&c, 3000);

	/* Reads never ask for more than the guest's credit. */
	assert_int_equal(vsock_conn_want_read(&c), 3000);
	host_sends(&c, 3000);
	assert_int_equal(vsock_conn_want_read(&c), 0);

	/* Packets are cut to the rx buffer's room. */
	assert_int_equal(emit(&c, &h, payload, 1000), VSOCK_OP_RW);
	assert_int_equal(h.len, 1000);
	assert_int_equal(payload[999], 'h');
	assert_int_equal(emit(&c, &h, payload, 4096), VSOCK_OP_RW);
	assert_int_equal(h.len, 2000);
	assert_false(vsock_conn_has_output(&c));
	assert_int_equal(vsock_conn_peer_credit(&c), 0);
	assert_int_equal(vsock_conn_want_read(&c), 0);

	/* The guest consumed 1000: that much may be read and sent. */
	recv_pkt(&c, mk(&p, VSOCK_OP_CREDIT_UPDATE, 0, 3000, 1000));
	assert_int_equal(vsock_conn_want_read(&c), 1000);

	/* A guest that never grants credit: data waits, one request. */
	host_sends(&c, 1000);
	recv_pkt(&c, mk(&p, VSOCK_OP_CREDIT_UPDATE, 0, 0, 1000));
	assert_int_equal(vsock_conn_want_read(&c), 0);
	assert_int_equal(emit(&c, &h, NULL, 4096), VSOCK_OP_CREDIT_REQUEST);
	assert_false(vsock_conn_has_output(&c));
	assert_int_equal(vsock_conn_want_read(&c), 0);

	/* A fwd_cnt ahead of what was sent grants nothing. */
	recv_pkt(&c, mk(&p, VSOCK_OP_CREDIT_UPDATE, 0, 3000, 999999));
	assert_int_equal(vsock_conn_peer_credit(&c), 0);
	vsock_conn_cleanup(&c);
}

static void test_host_initiated(void **state)
{
	struct vsock_conn c;
	struct vsock_hdr h;
	struct pkt p;

	(void)state;
	vsock_conn_init(&c, GUEST_CID, HOST_PORT, GUEST_PORT, NULL);
	assert_int_equal(c.state, VSOCK_CONN_CONNECTING);
	assert_int_equal(vsock_conn_want_read(&c), 0);
	assert_int_equal(emit(&c, &h, NULL, 4096), VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, GUEST_PORT);
	assert_false(vsock_conn_has_output(&c));

	/* Data before RESPONSE breaks the protocol. */
	{
		struct vsock_conn d;

		vsock_conn_init(&d, GUEST_CID, HOST_PORT, GUEST_PORT, NULL);
		emit(&d, &h, NULL, 4096);
		assert_true(recv_pkt(&d, mk(&p, VSOCK_OP_RW, 1, 4096, 0)) &
			    VSOCK_EV_VIOLATION);
		vsock_conn_cleanup(&d);
	}

	assert_int_equal(recv_pkt(&c, mk(&p, VSOCK_OP_RESPONSE, 0, 4096, 0)),
			 VSOCK_EV_CONNECTED);
	assert_int_equal(c.state, VSOCK_CONN_ESTABLISHED);
	assert_int_equal(vsock_conn_want_read(&c), 4096);

	/* A second RESPONSE is nonsense: reset. */
	assert_true(recv_pkt(&c, mk(&p, VSOCK_OP_RESPONSE, 0, 4096, 0)) &
		    VSOCK_EV_VIOLATION);
	assert_int_equal(emit(&c, &h, NULL, 4096), VSOCK_OP_RST);
	vsock_conn_cleanup(&c);
}

static void test_refused_and_abandoned(void **state)
{
	struct vsock_conn c;
	struct vsock_hdr h;
	struct pkt p;

	(void)state;
	/* The guest refuses: closed, nothing owed back. */
	vsock_conn_init(&c, GUEST_CID, HOST_PORT, GUEST_PORT, NULL);
	emit(&c, &h, NULL, 4096);
	assert_int_equal(recv_pkt(&c, mk(&p, VSOCK_OP_RST, 0, 0, 0)),
			 VSOCK_EV_CLOSE);
	assert_true(vsock_conn_finished(&c));
	vsock_conn_cleanup(&c);

	/* The client gives up before the REQUEST went out: no RST. */
	vsock_conn_init(&c, GUEST_CID, HOST_PORT, GUEST_PORT, NULL);
	vsock_conn_abort(&c, true);
	assert_true(vsock_conn_finished(&c));
	vsock_conn_cleanup(&c);

	/* ... after it went out: the guest is told. */
	vsock_conn_init(&c, GUEST_CID, HOST_PORT, GUEST_PORT, NULL);
	emit(&c, &h, NULL, 4096);
	vsock_conn_abort(&c, true);
	assert_false(vsock_conn_finished(&c));
	assert_int_equal(emit(&c, &h, NULL, 4096), VSOCK_OP_RST);
	assert_true(vsock_conn_finished(&c));
	vsock_conn_cleanup(&c);
}

static void test_shutdown_guest_closes(void **state)
{
	struct vsock_conn c;
	struct vsock_hdr h;
	struct pkt p;

	(void)state;
	guest_connects(&c, 4096);
	recv_pkt(&c, mk(&p, VSOCK_OP_RW, 10, 4096, 0));
	/* Half-close: the guest sends no more; write side shut once drained. */
	assert_false(vsock_conn_host_write_done(&c));
	{
		struct pkt q;

		mk(&q, VSOCK_OP_SHUTDOWN, 0, 4096, 0);
		q.hdr.flags = VSOCK_SHUTDOWN_SEND;
		assert_int_equal(recv_pkt(&c, &q), 0);
	}
	assert_false(vsock_conn_host_write_done(&c));
	vsock_conn_host_written(&c, 10);
	assert_true(vsock_conn_host_write_done(&c));
	/* Flags are permanent: a SHUTDOWN with none keeps SEND. */
	assert_int_equal(recv_pkt(&c, mk(&p, VSOCK_OP_SHUTDOWN, 0, 4096, 0)),
			 0);
	assert_int_equal(c.peer_shutdown, VSOCK_SHUTDOWN_SEND);

	/* The host still talks; then the host ends too: SHUTDOWN, RST. */
	host_sends(&c, 5);
	vsock_conn_host_eof(&c);
	assert_int_equal(emit(&c, &h, NULL, 4096), VSOCK_OP_RW);
	assert_int_equal(emit(&c, &h, NULL, 4096), VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VSOCK_SHUTDOWN_SEND);
	assert_int_equal(c.state, VSOCK_CONN_CLOSED);
	assert_int_equal(emit(&c, &h, NULL, 4096), VSOCK_OP_RST);
	assert_true(vsock_conn_finished(&c));
	vsock_conn_cleanup(&c);
}

static void test_shutdown_both(void **state)
{
	struct vsock_conn c;
	struct vsock_hdr h;
	struct pkt p;

	(void)state;
	guest_connects(&c, 4096);
	recv_pkt(&c, mk(&p, VSOCK_OP_RW, 10, 4096, 0));
	host_sends(&c, 100);
	mk(&p, VSOCK_OP_SHUTDOWN, 0, 4096, 0);
	p.hdr.flags = VSOCK_SHUTDOWN_BOTH;
	/* Linux's close(): what the host has not written yet is still due. */
	assert_int_equal(recv_pkt(&c, &p), 0);
	assert_int_equal(c.to_guest.len, 0);
	assert_false(vsock_conn_has_output(&c));
	vsock_conn_host_written(&c, 10);
	assert_int_equal(c.state, VSOCK_CONN_CLOSED);
	assert_int_equal(emit(&c, &h, NULL, 4096), VSOCK_OP_RST);
	vsock_conn_cleanup(&c);

	/* After SHUTDOWN(SEND), more data is a violation. */
	guest_connects(&c, 4096);
	mk(&p, VSOCK_OP_SHUTDOWN, 0, 4096, 0);
	p.hdr.flags = VSOCK_SHUTDOWN_SEND;
	recv_pkt(&c, &p);
	assert_true(recv_pkt(&c, mk(&p, VSOCK_OP_RW, 1, 4096, 0)) &
		    VSOCK_EV_VIOLATION);
	vsock_conn_cleanup(&c);
}

static void test_duplicate_request(void **state)
{
	struct vsock_conn c;
	struct pkt p;

	(void)state;
	guest_connects(&c, 4096);
	assert_true(recv_pkt(&c, mk(&p, VSOCK_OP_REQUEST, 0, 4096, 0)) &
		    VSOCK_EV_VIOLATION);
	vsock_conn_cleanup(&c);
}

static void test_ring_wrap(void **state)
{
	struct vsock_ring r;
	uint8_t *w;
	const uint8_t *rd;
	uint8_t out[8];

	(void)state;
	vsock_ring_init(&r, 8);
	assert_int_equal(vsock_ring_write_area(&r, &w), 8);
	memcpy(w, "abcdef", 6);
	vsock_ring_produce(&r, 6);
	vsock_ring_consume(&r, 6);
	/* Empty but the head stays: the free area wraps. */
	assert_int_equal(vsock_ring_write_area(&r, &w), 2);
	memcpy(w, "gh", 2);
	vsock_ring_produce(&r, 2);
	assert_int_equal(vsock_ring_write_area(&r, &w), 6);
	memcpy(w, "ij", 2);
	vsock_ring_produce(&r, 2);
	assert_int_equal(vsock_ring_read_area(&r, &rd), 2);
	vsock_ring_peek(&r, out, 4);
	assert_memory_equal(out, "ghij", 4);
	vsock_ring_free(&r);
}

static void test_table(void **state)
{
	static struct vsock_conn c[600];
	struct vsock_conn_table t;

	(void)state;
	memset(&t, 0, sizeof(t));
	for (uint32_t i = 0; i < 600; i++) {
		vsock_conn_init(&c[i], GUEST_CID, 1024 + i % 3, 40000 + i,
				NULL);
		vsock_conn_insert(&t, &c[i]);
	}
	assert_int_equal(t.count, 600);
	assert_ptr_equal(vsock_conn_find(&t, 1024 + 7 % 3, 40007), &c[7]);
	assert_null(vsock_conn_find(&t, 1024, 40001));
	vsock_conn_remove(&t, &c[7]);
	assert_null(vsock_conn_find(&t, 1025, 40007));
	assert_ptr_equal(vsock_conn_find(&t, 1024 + 599 % 3, 40599), &c[599]);
	assert_int_equal(t.count, 599);
}

static void test_connect_line(void **state)
{
	uint32_t port = 0;
	size_t n = 0;

	(void)state;
	assert_int_equal(
		vsock_unix_parse_connect("CONNECT 1024\n", 13, &port, &n), 1);
	assert_int_equal(port, 1024);
	assert_int_equal(n, 13);
	assert_int_equal(
		vsock_unix_parse_connect("CONNECT 52\nxyz", 14, &port, &n), 1);
	assert_int_equal(n, 11);
	assert_int_equal(
		vsock_unix_parse_connect("CONNECT 4294967295\n", 19, &port, &n),
		1);
	assert_int_equal(port, 4294967295u);
	assert_int_equal(vsock_unix_parse_connect("CONN", 4, &port, &n), 0);
	assert_int_equal(vsock_unix_parse_connect("CONNECT 10", 10, &port, &n),
			 0);
	assert_int_equal(
		vsock_unix_parse_connect("CONNECT 4294967296\n", 19, &port, &n),
		-EINVAL);
	assert_int_equal(vsock_unix_parse_connect("CONNECT \n", 9, &port, &n),
			 -EINVAL);
	assert_int_equal(
		vsock_unix_parse_connect("CONNECT -1\n", 11, &port, &n),
		-EINVAL);
	assert_int_equal(vsock_unix_parse_connect("GET / HTTP", 10, &port, &n),
			 -EINVAL);
	assert_int_equal(
		vsock_unix_parse_connect("CONNECT 1 \n", 11, &port, &n),
		-EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_guest_to_host_credit),
		cmocka_unit_test(test_credit_request),
		cmocka_unit_test(test_host_to_guest_credit),
		cmocka_unit_test(test_host_initiated),
		cmocka_unit_test(test_refused_and_abandoned),
		cmocka_unit_test(test_shutdown_guest_closes),
		cmocka_unit_test(test_shutdown_both),
		cmocka_unit_test(test_duplicate_request),
		cmocka_unit_test(test_ring_wrap),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_connect_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
