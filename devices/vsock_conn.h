/*
 * One virtio-vsock stream connection as the device sees it: the state
 * machine (virtio 1.2, 5.10.6.5), credit-based flow control both ways
 * (5.10.6.3), the bounded byte buffers between guest and host socket, and
 * the table that finds a connection by its ports. Pure bookkeeping: no
 * file descriptors and no guest memory, so it is tested on its own.
 *
 * Naming: "to_host" holds payload the guest sent, waiting to be written to
 * the host socket; "to_guest" holds bytes read from the host socket,
 * waiting for rx buffers and guest credit.
 *
 * Contract: the caller (the device, under its lock) feeds in what the
 * guest sent (vsock_conn_recv), what happened on the host socket
 * (vsock_conn_host_*), and takes packets out (vsock_conn_emit) whenever
 * vsock_conn_has_output() says so. A connection whose state is
 * VSOCK_CONN_CLOSED and that owes the guest nothing is finished
 * (vsock_conn_finished) and may be freed.
 */
#ifndef MINNOW_VSOCK_CONN_H
#define MINNOW_VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/vsock_pkt.h"

/*
 * Credit minnow gives the guest per connection (buf_alloc): at most this
 * many bytes wait in to_host. Bytes read from the host socket and not yet
 * in the guest wait in a to_guest buffer of VSOCK_TO_GUEST_BYTES.
 */
#define VSOCK_BUF_ALLOC      (256u * 1024)
#define VSOCK_TO_GUEST_BYTES (64u * 1024)

enum vsock_conn_state {
	VSOCK_CONN_CONNECTING, /* host-initiated, no RESPONSE yet */
	VSOCK_CONN_ESTABLISHED,
	VSOCK_CONN_CLOSED, /* over; may still owe the guest an RST */
};

/* Control packets owed to the guest (vsock_conn.owed). */
#define VSOCK_OWE_REQUEST        (1u << 0)
#define VSOCK_OWE_RESPONSE       (1u << 1)
#define VSOCK_OWE_RST            (1u << 2)
#define VSOCK_OWE_SHUTDOWN       (1u << 3)
#define VSOCK_OWE_CREDIT_UPDATE  (1u << 4)
#define VSOCK_OWE_CREDIT_REQUEST (1u << 5)

/* What vsock_conn_recv() tells the caller to do; a bit mask. */
#define VSOCK_EV_CONNECTED (1u << 0) /* RESPONSE: tell the host client */
#define VSOCK_EV_CLOSE     (1u << 1) /* close the host socket now */
#define VSOCK_EV_VIOLATION (1u << 2) /* the guest broke the protocol */

/* A bounded byte FIFO; the memory is allocated on first use. */
struct vsock_ring {
	uint8_t *buf;
	uint32_t cap;
	uint32_t head; /* offset of the oldest byte */
	uint32_t len;
};

struct vsock_conn {
	uint32_t host_port;
	uint32_t guest_port;
	uint64_t guest_cid;
	enum vsock_conn_state state;
	bool host_initiated;
	bool request_sent;       /* the REQUEST reached the guest */
	uint32_t owed;           /* VSOCK_OWE_* */
	uint32_t peer_shutdown;  /* SHUTDOWN flags the guest sent */
	uint32_t local_shutdown; /* SHUTDOWN flags minnow decided on */
	uint32_t shutdown_sent;  /* of those, already sent */
	bool host_eof;           /* the host socket will send no more */

	/* Guest to host: the credit minnow grants (virtio 1.2, 5.10.6.3). */
	uint32_t buf_alloc;
	uint32_t rx_cnt;       /* payload bytes taken from the guest */
	uint32_t fwd_cnt;      /* of them, written to the host socket */
	uint32_t fwd_cnt_told; /* fwd_cnt in the last packet sent */
	struct vsock_ring to_host;

	/* Host to guest: the credit the guest grants. */
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	uint32_t tx_cnt;   /* payload bytes sent to the guest */
	bool credit_asked; /* CREDIT_REQUEST sent since the last news */
	struct vsock_ring to_guest;

	uint64_t deadline_ns; /* CONNECTING: give up then; 0 = none */

	struct vsock_conn *hash_next; /* owned by the table */
};

/* Ring helpers; all lengths in bytes. */
void vsock_ring_init(struct vsock_ring *r, uint32_t cap);
void vsock_ring_free(struct vsock_ring *r);
static inline uint32_t vsock_ring_space(const struct vsock_ring *r)
{
	return r->cap - r->len;
}
/*
 * The contiguous free area after the data (allocating the buffer on first
 * use): returns its length and sets *p, or returns 0 when full or when
 * memory is short.
 */
uint32_t vsock_ring_write_area(struct vsock_ring *r, uint8_t **p);
/* The contiguous data at the head: returns its length and sets *p. */
uint32_t vsock_ring_read_area(const struct vsock_ring *r, const uint8_t **p);
void vsock_ring_produce(struct vsock_ring *r, uint32_t n);
void vsock_ring_consume(struct vsock_ring *r, uint32_t n);
/* Copies n bytes from the head to dst without consuming them. */
void vsock_ring_peek(const struct vsock_ring *r, void *dst, uint32_t n);

/*
 * Starts a connection between host_port and the guest's guest_port.
 * Host-initiated ones start CONNECTING and owe a REQUEST; guest-initiated
 * ones (the guest's REQUEST, whose credit fields are in req) start
 * ESTABLISHED and owe a RESPONSE.
 */
void vsock_conn_init(struct vsock_conn *c, uint64_t guest_cid,
		     uint32_t host_port, uint32_t guest_port,
		     const struct vsock_hdr *req);

/* Frees the buffers. */
void vsock_conn_cleanup(struct vsock_conn *c);

/*
 * The guest's packet hdr for this connection (ports already matched),
 * payload (hdr->len bytes) at offset VSOCK_HDR_BYTES of iov[0, nr_iov).
 * Updates the state and credit, copies RW payload to to_host. Returns
 * VSOCK_EV_* bits. A protocol violation (data beyond the credit given,
 * data after SHUTDOWN, an op that makes no sense in the state) resets the
 * connection: EV_CLOSE | EV_VIOLATION, with an RST owed.
 */
uint32_t vsock_conn_recv(struct vsock_conn *c, const struct vsock_hdr *hdr,
			 const struct iovec *iov, unsigned int nr_iov);

/* Credit the guest grants now: bytes minnow may still send it. */
uint32_t vsock_conn_peer_credit(const struct vsock_conn *c);

/*
 * Bytes to read from the host socket now (into to_guest): none unless
 * established, the host has not ended and the guest still receives; and
 * never more than the guest's credit leaves room for.
 */
uint32_t vsock_conn_want_read(const struct vsock_conn *c);

/* n bytes were read from the host socket into to_guest's write area. */
void vsock_conn_host_read(struct vsock_conn *c, uint32_t n);

/* The host socket reached end of file: the host sends no more. */
void vsock_conn_host_eof(struct vsock_conn *c);

/* n bytes of to_host were written to the host socket. */
void vsock_conn_host_written(struct vsock_conn *c, uint32_t n);

/*
 * Whether the host socket's write side can be shut down: the guest sends
 * no more and everything it sent has been written.
 */
bool vsock_conn_host_write_done(const struct vsock_conn *c);

/*
 * The host side is gone (I/O error, client vanished, refused) or minnow
 * gives up (timeout, device reset): CLOSED, with an RST owed if the guest
 * knows of the connection and send_rst is set.
 */
void vsock_conn_abort(struct vsock_conn *c, bool send_rst);

/* Whether vsock_conn_emit() has a packet to give. */
bool vsock_conn_has_output(const struct vsock_conn *c);

/*
 * Takes the next packet for the guest: fills *hdr and writes its payload
 * (if any) at offset VSOCK_HDR_BYTES of iov[0, nr_iov), at most room
 * bytes. Returns false when nothing is owed. Control packets come first,
 * then data, then SHUTDOWN once the data is out.
 */
bool vsock_conn_emit(struct vsock_conn *c, struct vsock_hdr *hdr,
		     const struct iovec *iov, unsigned int nr_iov,
		     uint32_t room);

/* CLOSED and nothing owed: the caller may free it. */
bool vsock_conn_finished(const struct vsock_conn *c);

/* A connection table: open hashing on (host_port, guest_port). */
#define VSOCK_CONN_BUCKETS 256u

struct vsock_conn_table {
	struct vsock_conn *bucket[VSOCK_CONN_BUCKETS];
	unsigned int count;
};

struct vsock_conn *vsock_conn_find(const struct vsock_conn_table *t,
				   uint32_t host_port, uint32_t guest_port);
void vsock_conn_insert(struct vsock_conn_table *t, struct vsock_conn *c);
void vsock_conn_remove(struct vsock_conn_table *t, struct vsock_conn *c);

#endif
