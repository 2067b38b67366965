/* virtio-vsock stream connections: state, credit and buffers. */
#include "devices/vsock_conn.h"
#include "vmm/util.h"

#include <stdlib.h>
#include <string.h>

void vsock_ring_init(struct vsock_ring *r, uint32_t cap)
{
	memset(r, 0, sizeof(*r));
	r->cap = cap;
}

void vsock_ring_free(struct vsock_ring *r)
{
	free(r->buf);
	r->buf = NULL;
	r->head = r->len = 0;
}

uint32_t vsock_ring_write_area(struct vsock_ring *r, uint8_t **p)
{
	uint32_t tail;

	if (r->len == r->cap)
		return 0;
	if (!r->buf) {
		r->buf = malloc(r->cap);
		if (!r->buf)
			return 0;
	}
	tail = (r->head + r->len) % r->cap;
	*p = r->buf + tail;
	/* Up to the end of the buffer, or up to the head if it wrapped. */
	return tail >= r->head ? r->cap - tail : r->head - tail;
}

uint32_t vsock_ring_read_area(const struct vsock_ring *r, const uint8_t **p)
{
	if (!r->len)
		return 0;
	*p = r->buf + r->head;
	return MIN(r->len, r->cap - r->head);
}

void vsock_ring_produce(struct vsock_ring *r, uint32_t n)
{
	r->len += n;
}

void vsock_ring_consume(struct vsock_ring *r, uint32_t n)
{
	/*
	 * The head only moves forward, even when the ring empties: a read
	 * may be filling the area after the tail meanwhile.
	 */
	r->len -= n;
	r->head = (r->head + n) % r->cap;
}

void vsock_ring_peek(const struct vsock_ring *r, void *dst, uint32_t n)
{
	uint32_t first = MIN(n, r->cap - r->head);

	memcpy(dst, r->buf + r->head, first);
	memcpy((uint8_t *)dst + first, r->buf, n - first);
}

/* Appends len bytes at offset off of the iovecs; false if out of memory. */
static bool vsock_ring_fill_iov(struct vsock_ring *r, const struct iovec *iov,
				unsigned int nr_iov, size_t off, uint32_t len)
{
	while (len) {
		uint8_t *p;
		uint32_t n = vsock_ring_write_area(r, &p);

		if (!n)
			return false;
		n = MIN(n, len);
		vsock_iov_read(iov, nr_iov, off, p, n);
		vsock_ring_produce(r, n);
		off += n;
		len -= n;
	}
	return true;
}

void vsock_conn_init(struct vsock_conn *c, uint64_t guest_cid,
		     uint32_t host_port, uint32_t guest_port,
		     const struct vsock_hdr *req)
{
	memset(c, 0, sizeof(*c));
	c->guest_cid = guest_cid;
	c->host_port = host_port;
	c->guest_port = guest_port;
	c->buf_alloc = VSOCK_BUF_ALLOC;
	vsock_ring_init(&c->to_host, VSOCK_BUF_ALLOC);
	vsock_ring_init(&c->to_guest, VSOCK_TO_GUEST_BYTES);
	if (req) {
		c->state = VSOCK_CONN_ESTABLISHED;
		c->owed = VSOCK_OWE_RESPONSE;
		c->peer_buf_alloc = req->buf_alloc;
		c->peer_fwd_cnt = req->fwd_cnt;
	} else {
		c->host_initiated = true;
		c->state = VSOCK_CONN_CONNECTING;
		c->owed = VSOCK_OWE_REQUEST;
	}
}

void vsock_conn_cleanup(struct vsock_conn *c)
{
	vsock_ring_free(&c->to_host);
	vsock_ring_free(&c->to_guest);
}

uint32_t vsock_conn_peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	/* virtio 1.2, 5.10.6.3; a fwd_cnt ahead of tx_cnt grants nothing. */
	if (in_flight > c->peer_buf_alloc)
		return 0;
	return c->peer_buf_alloc - in_flight;
}

static bool vsock_conn_guest_receives(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONN_ESTABLISHED &&
	       !(c->peer_shutdown & VSOCK_SHUTDOWN_RCV);
}

uint32_t vsock_conn_want_read(const struct vsock_conn *c)
{
	uint32_t credit = vsock_conn_peer_credit(c);

	if (!vsock_conn_guest_receives(c) || c->host_eof)
		return 0;
	/* Bytes already waiting will use up credit first. */
	if (credit <= c->to_guest.len)
		return 0;
	return MIN(credit - c->to_guest.len, vsock_ring_space(&c->to_guest));
}

void vsock_conn_abort(struct vsock_conn *c, bool send_rst)
{
	bool guest_knows = !c->host_initiated || c->request_sent;

	if (c->state == VSOCK_CONN_CLOSED)
		return;
	c->state = VSOCK_CONN_CLOSED;
	c->owed = send_rst && guest_knows ? VSOCK_OWE_RST : 0;
	c->deadline_ns = 0;
	/* The buffers stay until vsock_conn_cleanup(): I/O may use them. */
	vsock_ring_consume(&c->to_guest, c->to_guest.len);
	vsock_ring_consume(&c->to_host, c->to_host.len);
}

/*
 * Ends the connection once both directions are over (virtio 1.2,
 * 5.10.6.5): the guest receives no more, or sends no more and minnow
 * told it the host does not either; and all the guest sent was written.
 * The RST is the clean end the guest waits for after its SHUTDOWN.
 */
static void vsock_conn_maybe_finish(struct vsock_conn *c)
{
	bool guest_done = c->peer_shutdown == VSOCK_SHUTDOWN_BOTH ||
			  ((c->peer_shutdown & VSOCK_SHUTDOWN_SEND) &&
			   (c->shutdown_sent & VSOCK_SHUTDOWN_SEND));

	if (c->state == VSOCK_CONN_ESTABLISHED && guest_done &&
	    c->to_host.len == 0)
		vsock_conn_abort(c, true);
}

/* Asks the guest for credit once when data waits and none is left. */
static void vsock_conn_check_credit(struct vsock_conn *c)
{
	if (vsock_conn_guest_receives(c) && c->to_guest.len &&
	    !vsock_conn_peer_credit(c) && !c->credit_asked)
		c->owed |= VSOCK_OWE_CREDIT_REQUEST;
}

static uint32_t vsock_conn_violation(struct vsock_conn *c)
{
	vsock_conn_abort(c, true);
	return VSOCK_EV_CLOSE | VSOCK_EV_VIOLATION;
}

static uint32_t vsock_conn_recv_rw(struct vsock_conn *c,
				   const struct vsock_hdr *hdr,
				   const struct iovec *iov, unsigned int nr_iov)
{
	/* Data after "I send no more", or beyond the credit given. */
	if (c->peer_shutdown & VSOCK_SHUTDOWN_SEND)
		return vsock_conn_violation(c);
	if (hdr->len > vsock_ring_space(&c->to_host))
		return vsock_conn_violation(c);
	if (!vsock_ring_fill_iov(&c->to_host, iov, nr_iov, VSOCK_HDR_BYTES,
				 hdr->len)) {
		vsock_conn_abort(c, true); /* out of memory */
		return VSOCK_EV_CLOSE;
	}
	c->rx_cnt += hdr->len;
	return 0;
}

uint32_t vsock_conn_recv(struct vsock_conn *c, const struct vsock_hdr *hdr,
			 const struct iovec *iov, unsigned int nr_iov)
{
	uint32_t ev = 0;

	if (c->state == VSOCK_CONN_CLOSED)
		return 0;

	/* virtio 1.2, 5.10.6.3: every packet carries the peer's credit. */
	c->peer_buf_alloc = hdr->buf_alloc;
	c->peer_fwd_cnt = hdr->fwd_cnt;
	if (vsock_conn_peer_credit(c))
		c->credit_asked = false;

	switch (hdr->op) {
	case VSOCK_OP_RST:
		vsock_conn_abort(c, false);
		return VSOCK_EV_CLOSE;
	case VSOCK_OP_RESPONSE:
		if (c->state != VSOCK_CONN_CONNECTING || !c->request_sent)
			return vsock_conn_violation(c);
		c->state = VSOCK_CONN_ESTABLISHED;
		c->deadline_ns = 0;
		return VSOCK_EV_CONNECTED;
	case VSOCK_OP_REQUEST:
		return vsock_conn_violation(c);
	default:
		break;
	}
	if (c->state != VSOCK_CONN_ESTABLISHED)
		return vsock_conn_violation(c);

	switch (hdr->op) {
	case VSOCK_OP_RW:
		ev = vsock_conn_recv_rw(c, hdr, iov, nr_iov);
		break;
	case VSOCK_OP_SHUTDOWN:
		/* virtio 1.2, 5.10.6.5: the hints are permanent. */
		c->peer_shutdown |= hdr->flags & VSOCK_SHUTDOWN_BOTH;
		if (c->peer_shutdown & VSOCK_SHUTDOWN_RCV) {
			vsock_ring_consume(&c->to_guest, c->to_guest.len);
			c->owed &= ~VSOCK_OWE_CREDIT_REQUEST;
		}
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		c->owed |= VSOCK_OWE_CREDIT_UPDATE;
		break;
	default: /* CREDIT_UPDATE: the credit is already taken */
		break;
	}
	if (c->state == VSOCK_CONN_CLOSED)
		return ev;
	vsock_conn_maybe_finish(c);
	if (c->state == VSOCK_CONN_CLOSED)
		return ev | VSOCK_EV_CLOSE;
	vsock_conn_check_credit(c);
	return ev;
}

void vsock_conn_host_read(struct vsock_conn *c, uint32_t n)
{
	vsock_ring_produce(&c->to_guest, n);
	vsock_conn_check_credit(c);
}

void vsock_conn_host_eof(struct vsock_conn *c)
{
	if (c->host_eof || c->state != VSOCK_CONN_ESTABLISHED)
		return;
	c->host_eof = true;
	c->local_shutdown |= VSOCK_SHUTDOWN_SEND;
	c->owed |= VSOCK_OWE_SHUTDOWN;
}

void vsock_conn_host_written(struct vsock_conn *c, uint32_t n)
{
	vsock_ring_consume(&c->to_host, n);
	c->fwd_cnt += n;

	/*
	 * virtio 1.2, 5.10.6.3: an update may be sent at any time. Send one
	 * once the guest believes less than half its credit is left; every
	 * other packet carries fwd_cnt too.
	 */
	if (c->rx_cnt - c->fwd_cnt_told > c->buf_alloc / 2 &&
	    c->fwd_cnt != c->fwd_cnt_told)
		c->owed |= VSOCK_OWE_CREDIT_UPDATE;
	vsock_conn_maybe_finish(c);
}

bool vsock_conn_host_write_done(const struct vsock_conn *c)
{
	return (c->peer_shutdown & VSOCK_SHUTDOWN_SEND) && !c->to_host.len;
}

/* The op vsock_conn_emit() would send next, or VSOCK_OP_INVALID. */
static enum vsock_op vsock_conn_next_op(const struct vsock_conn *c)
{
	if (c->owed & VSOCK_OWE_RST)
		return VSOCK_OP_RST;
	if (c->state == VSOCK_CONN_CLOSED)
		return VSOCK_OP_INVALID;
	if (c->owed & VSOCK_OWE_REQUEST)
		return VSOCK_OP_REQUEST;
	if (c->owed & VSOCK_OWE_RESPONSE)
		return VSOCK_OP_RESPONSE;
	if (c->state != VSOCK_CONN_ESTABLISHED)
		return VSOCK_OP_INVALID;
	if (vsock_conn_guest_receives(c) && c->to_guest.len &&
	    vsock_conn_peer_credit(c))
		return VSOCK_OP_RW;
	/* SHUTDOWN(SEND) only after the data it ends. */
	if ((c->owed & VSOCK_OWE_SHUTDOWN) &&
	    (!c->to_guest.len || !vsock_conn_guest_receives(c)))
		return VSOCK_OP_SHUTDOWN;
	if (c->owed & VSOCK_OWE_CREDIT_UPDATE)
		return VSOCK_OP_CREDIT_UPDATE;
	if (c->owed & VSOCK_OWE_CREDIT_REQUEST)
		return VSOCK_OP_CREDIT_REQUEST;
	return VSOCK_OP_INVALID;
}

bool vsock_conn_has_output(const struct vsock_conn *c)
{
	return vsock_conn_next_op(c) != VSOCK_OP_INVALID;
}

/* Moves up to room bytes of to_guest into the packet; returns them. */
static uint32_t vsock_conn_emit_data(struct vsock_conn *c,
				     const struct iovec *iov,
				     unsigned int nr_iov, uint32_t room)
{
	uint32_t n = MIN(c->to_guest.len, vsock_conn_peer_credit(c));
	uint8_t chunk[4096];
	uint32_t done = 0;

	n = MIN(n, MIN(room, VSOCK_MAX_PAYLOAD));
	while (done < n) {
		uint32_t k = MIN(n - done, (uint32_t)sizeof(chunk));

		vsock_ring_peek(&c->to_guest, chunk, k);
		vsock_iov_write(iov, nr_iov, VSOCK_HDR_BYTES + done, chunk, k);
		vsock_ring_consume(&c->to_guest, k);
		done += k;
	}
	c->tx_cnt += n;
	return n;
}

bool vsock_conn_emit(struct vsock_conn *c, struct vsock_hdr *hdr,
		     const struct iovec *iov, unsigned int nr_iov,
		     uint32_t room)
{
	enum vsock_op op = vsock_conn_next_op(c);

	if (op == VSOCK_OP_INVALID)
		return false;
	*hdr = (struct vsock_hdr){
		.src_cid = VSOCK_CID_HOST,
		.dst_cid = c->guest_cid,
		.src_port = c->host_port,
		.dst_port = c->guest_port,
		.type = VSOCK_TYPE_STREAM,
		.op = (uint16_t)op,
		.buf_alloc = c->buf_alloc,
		.fwd_cnt = c->fwd_cnt,
	};

	switch (op) {
	case VSOCK_OP_RST:
		c->owed = 0;
		return true;
	case VSOCK_OP_REQUEST:
		c->owed &= ~VSOCK_OWE_REQUEST;
		c->request_sent = true;
		break;
	case VSOCK_OP_RESPONSE:
		c->owed &= ~VSOCK_OWE_RESPONSE;
		break;
	case VSOCK_OP_RW:
		hdr->len = vsock_conn_emit_data(c, iov, nr_iov, room);
		if (!hdr->len)
			return false;
		break;
	case VSOCK_OP_SHUTDOWN:
		c->owed &= ~VSOCK_OWE_SHUTDOWN;
		hdr->flags = c->local_shutdown;
		c->shutdown_sent = c->local_shutdown;
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		c->owed &= ~VSOCK_OWE_CREDIT_REQUEST;
		c->credit_asked = true;
		break;
	default:
		break;
	}
	/* Every packet tells the guest fwd_cnt: no separate update needed. */
	c->owed &= ~VSOCK_OWE_CREDIT_UPDATE;
	c->fwd_cnt_told = c->fwd_cnt;
	if (op == VSOCK_OP_SHUTDOWN)
		vsock_conn_maybe_finish(c);
	vsock_conn_check_credit(c);
	return true;
}

bool vsock_conn_finished(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONN_CLOSED && !c->owed;
}

static unsigned int vsock_conn_hash(uint32_t host_port, uint32_t guest_port)
{
	uint32_t h = host_port * 0x9e3779b1u ^ guest_port * 0x85ebca6bu;

	return (h ^ (h >> 16)) % VSOCK_CONN_BUCKETS;
}

struct vsock_conn *vsock_conn_find(const struct vsock_conn_table *t,
				   uint32_t host_port, uint32_t guest_port)
{
	struct vsock_conn *c =
		t->bucket[vsock_conn_hash(host_port, guest_port)];

	while (c && (c->host_port != host_port || c->guest_port != guest_port))
		c = c->hash_next;
	return c;
}

void vsock_conn_insert(struct vsock_conn_table *t, struct vsock_conn *c)
{
	struct vsock_conn **head =
		&t->bucket[vsock_conn_hash(c->host_port, c->guest_port)];

	c->hash_next = *head;
	*head = c;
	t->count++;
}

void vsock_conn_remove(struct vsock_conn_table *t, struct vsock_conn *c)
{
	struct vsock_conn **p =
		&t->bucket[vsock_conn_hash(c->host_port, c->guest_port)];

	while (*p && *p != c)
		p = &(*p)->hash_next;
	if (!*p)
		return;
	*p = c->hash_next;
	c->hash_next = NULL;
	t->count--;
}
