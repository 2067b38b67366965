/*
 * libFuzzer target for virtio-vsock packet handling: the input is a
 * script of guest packets (parsed and classified as the device does) and
 * host-side events, driven through the connection state machine. Checks
 * that buffers never exceed their bounds and that minnow never sends the
 * guest more than its credit.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/vsock_conn.h"
#include "devices/vsock_pkt.h"
#include "devices/vsock_unix.h"

#define GUEST_CID 3u
#define NR_CONNS  4

static void check(const struct vsock_conn *c)
{
	if (c->to_host.len > c->buf_alloc || c->to_guest.len > c->to_guest.cap)
		abort();
	if (c->rx_cnt - c->fwd_cnt != c->to_host.len &&
	    c->state != VSOCK_CONN_CLOSED)
		abort();
}

static void host_reads(struct vsock_conn *c, uint32_t n)
{
	uint32_t want = vsock_conn_want_read(c);
	uint8_t *p;
	uint32_t area;

	n = n < want ? n : want;
	area = vsock_ring_write_area(&c->to_guest, &p);
	n = n < area ? n : area;
	memset(p, 0x5a, n);
	vsock_conn_host_read(c, n);
}

static void emit(struct vsock_conn *c, uint32_t room)
{
	static uint8_t buf[VSOCK_HDR_BYTES + VSOCK_MAX_PAYLOAD];
	struct iovec iov = {buf, sizeof(buf)};
	uint32_t credit = vsock_conn_peer_credit(c);
	struct vsock_hdr h;

	room %= VSOCK_MAX_PAYLOAD + 1;
	if (!vsock_conn_emit(c, &h, &iov, 1, room))
		return;
	if (h.op == VSOCK_OP_RW && (h.len > credit || h.len > room))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vsock_conn conns[NR_CONNS];
	bool live[NR_CONNS] = {false};
	size_t off = 0;

	while (off + 3 <= size) {
		uint8_t kind = data[off];
		uint16_t len = (uint16_t)(data[off + 1] | data[off + 2] << 8);
		const uint8_t *rec = data + off + 3;
		size_t avail = size - off - 3;
		unsigned int i = kind >> 4 & (NR_CONNS - 1);
		struct vsock_conn *c = &conns[i];

		if (len > avail)
			len = (uint16_t)avail;
		off += 3 + len;

		switch (kind & 0xf) {
		case 0: { /* a guest packet */
			struct iovec iov = {(void *)(uintptr_t)rec, len};
			struct vsock_hdr h;

			if (vsock_pkt_parse(&iov, 1, len, &h))
				break;
			if (vsock_pkt_classify(&h, GUEST_CID) !=
			    VSOCK_PKT_HANDLE)
				break;
			if (!live[i]) {
				if (h.op != VSOCK_OP_REQUEST)
					break;
				vsock_conn_init(c, GUEST_CID, h.dst_port,
						h.src_port, &h);
				live[i] = true;
				break;
			}
			vsock_conn_recv(c, &h, &iov, 1);
			break;
		}
		case 1:
			if (!live[i]) {
				vsock_conn_init(c, GUEST_CID, 1u << 30, 1024,
						NULL);
				live[i] = true;
			}
			break;
		case 2:
			if (live[i])
				host_reads(c, len);
			break;
		case 3:
			if (live[i]) {
				uint32_t n = len < c->to_host.len
						     ? len
						     : c->to_host.len;

				vsock_conn_host_written(c, n);
			}
			break;
		case 4:
			if (live[i])
				emit(c, len);
			break;
		case 5:
			if (live[i])
				vsock_conn_host_eof(c);
			break;
		case 6:
			if (live[i])
				vsock_conn_abort(c, len & 1);
			break;
		case 7: {
			uint32_t port;
			size_t line;

			vsock_unix_parse_connect((const char *)rec, len, &port,
						 &line);
			break;
		}
		default:
			break;
		}
		if (live[i]) {
			check(c);
			if (vsock_conn_finished(c)) {
				vsock_conn_cleanup(c);
				live[i] = false;
			}
		}
	}
	for (unsigned int i = 0; i < NR_CONNS; i++)
		if (live[i])
			vsock_conn_cleanup(&conns[i]);
	return 0;
}
