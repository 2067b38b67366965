/* virtio-vsock: the rx, tx and event queues and the streams behind them. */
#include "devices/virtio_vsock.h"
#include "devices/vsock_conn.h"
#include "devices/vsock_pkt.h"
#include "devices/vsock_unix.h"
#include "vmm/log.h"
#include "vmm/util.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* virtio 1.2, 5.10.2: queue indices. */
enum { VSOCK_VQ_RX, VSOCK_VQ_TX, VSOCK_VQ_EVENT, VSOCK_NR_VQS };

/* RST replies to packets with no stream; tx waits while this is full. */
#define VSOCK_RST_QUEUE 64u

/* How often deadlines are checked while some stream has one. */
#define VSOCK_TICK_NS (100ull * 1000 * 1000)

/* Host ports for host-initiated streams start here. */
#define VSOCK_HOST_PORT_FIRST 0x40000000u

struct vsock_stream {
	struct vsock_conn conn;
	struct vsock_unix_sock sock;
	struct vsock_stream *next, *prev; /* every stream of the device */
	struct vsock_stream *ready_next;  /* rx FIFO */
	bool ready;                       /* in the rx FIFO */
	bool in_table;
	bool released; /* the host socket is gone */
};

struct vsock_rst {
	uint32_t host_port;
	uint32_t guest_port;
};

struct virtio_vsock {
	struct virtio_dev dev;
	struct virtqueue vqs[VSOCK_NR_VQS];
	struct iovec iov[VIRTIO_VSOCK_QUEUE_SIZE];
	uint64_t guest_cid;
	struct evloop *loop;
	struct vsock_unix bridge;
	bool bridge_ready;

	/* lock: everything below. */
	struct vsock_conn_table table;
	struct vsock_stream *streams;
	unsigned int nr_streams;
	struct vsock_stream *ready_head, *ready_tail;
	struct vsock_rst rst[VSOCK_RST_QUEUE];
	unsigned int rst_head, rst_len;
	bool tx_stalled;
	bool event_pending; /* TRANSPORT_RESET owed (virtio 1.2, 5.10.6.7) */
	bool was_active;
	uint32_t next_host_port;

	int sweep_fd; /* the vCPU-side reset asks the loop to sweep */
	struct ev_op sweep_op;
	struct ev_op tick_op;
	struct __kernel_timespec tick_ts;
};

static struct virtio_vsock *to_vsock(struct virtio_dev *dev)
{
	return container_of(dev, struct virtio_vsock, dev);
}

/* ---- streams ---------------------------------------------------------- */

static void vsock_stream_free(struct virtio_vsock *v, struct vsock_stream *s)
{
	if (s->next)
		s->next->prev = s->prev;
	if (s->prev)
		s->prev->next = s->next;
	else
		v->streams = s->next;
	v->nr_streams--;
	vsock_conn_cleanup(&s->conn);
	free(s);
}

static void vsock_stream_maybe_free(struct virtio_vsock *v,
				    struct vsock_stream *s)
{
	if (s->released && !s->ready && !s->in_table &&
	    vsock_conn_finished(&s->conn))
		vsock_stream_free(v, s);
}

static void vsock_ready_push(struct virtio_vsock *v, struct vsock_stream *s)
{
	if (s->ready)
		return;
	s->ready = true;
	s->ready_next = NULL;
	if (v->ready_tail)
		v->ready_tail->ready_next = s;
	else
		v->ready_head = s;
	v->ready_tail = s;
}

static struct vsock_stream *vsock_ready_pop(struct virtio_vsock *v)
{
	struct vsock_stream *s = v->ready_head;

	if (!s)
		return NULL;
	v->ready_head = s->ready_next;
	if (!v->ready_head)
		v->ready_tail = NULL;
	s->ready = false;
	return s;
}

/*
 * After anything changed a stream (loop thread): a closed one leaves the
 * table and closes its socket; one with packets for the guest joins the
 * rx FIFO; the rest get their socket I/O restarted. May free s.
 */
static void vsock_stream_update(struct virtio_vsock *v, struct vsock_stream *s)
{
	if (s->conn.state == VSOCK_CONN_CLOSED) {
		if (s->in_table) {
			vsock_conn_remove(&v->table, &s->conn);
			s->in_table = false;
		}
		if (vsock_conn_has_output(&s->conn))
			vsock_ready_push(v, s);
		if (!s->sock.closing)
			vsock_unix_sock_close(&s->sock); /* may release */
		else
			vsock_stream_maybe_free(v, s);
		return;
	}
	if (vsock_conn_has_output(&s->conn))
		vsock_ready_push(v, s);
	vsock_unix_sock_kick(&s->sock);
}

static void vsock_tick_arm(struct virtio_vsock *v)
{
	if (!v->tick_op.busy && !v->loop->stopping)
		evloop_timeout(v->loop, &v->tick_op, &v->tick_ts,
			       VSOCK_TICK_NS);
}

static struct vsock_stream *vsock_stream_new(struct virtio_vsock *v, int fd,
					     uint32_t host_port,
					     uint32_t guest_port,
					     const struct vsock_hdr *req)
{
	struct vsock_stream *s;

	if (v->nr_streams >= VIRTIO_VSOCK_MAX_STREAMS)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	vsock_conn_init(&s->conn, v->guest_cid, host_port, guest_port, req);
	vsock_unix_sock_init(&s->sock, &v->bridge, &s->conn, fd);
	vsock_conn_insert(&v->table, &s->conn);
	s->in_table = true;
	s->next = v->streams;
	if (s->next)
		s->next->prev = s;
	v->streams = s;
	v->nr_streams++;
	return s;
}

/* ---- packets to the guest (rx) ---------------------------------------- */

static bool vsock_rst_queue(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	struct vsock_rst *r;

	if (v->rst_len == VSOCK_RST_QUEUE)
		return false;
	r = &v->rst[(v->rst_head + v->rst_len++) % VSOCK_RST_QUEUE];
	r->host_port = h->dst_port;
	r->guest_port = h->src_port;
	return true;
}

static void vsock_rst_take(struct virtio_vsock *v, struct vsock_hdr *hdr)
{
	struct vsock_rst *r = &v->rst[v->rst_head];

	v->rst_head = (v->rst_head + 1) % VSOCK_RST_QUEUE;
	v->rst_len--;
	*hdr = (struct vsock_hdr){
		.src_cid = VSOCK_CID_HOST,
		.dst_cid = v->guest_cid,
		.src_port = r->host_port,
		.dst_port = r->guest_port,
		.type = VSOCK_TYPE_STREAM,
		.op = VSOCK_OP_RST,
	};
}

/* The next stream with something to send, dropping stale FIFO entries. */
static struct vsock_stream *vsock_ready_peek(struct virtio_vsock *v)
{
	struct vsock_stream *s;

	while ((s = v->ready_head) && !vsock_conn_has_output(&s->conn)) {
		vsock_ready_pop(v);
		vsock_stream_maybe_free(v, s);
	}
	return s;
}

/*
 * Fills one rx chain with the next packet: an RST reply first, else the
 * head of the FIFO, which goes to the back if it has more (round robin).
 */
static void vsock_rx_fill(struct virtio_vsock *v, const struct vq_chain *ch)
{
	const struct iovec *wiov = &ch->iov[ch->nr_readable];
	struct vsock_stream *s = NULL;
	struct vsock_hdr_le le;
	struct vsock_hdr hdr;
	bool have;

	if (v->rst_len) {
		vsock_rst_take(v, &hdr);
		have = true;
	} else {
		s = vsock_ready_pop(v);
		have = vsock_conn_emit(&s->conn, &hdr, wiov, ch->nr_writable,
				       ch->writable_bytes - VSOCK_HDR_BYTES);
	}
	if (have) {
		vsock_hdr_encode(&hdr, &le);
		vsock_iov_write(wiov, ch->nr_writable, 0, &le, sizeof(le));
	}
	vq_push_used(&v->vqs[VSOCK_VQ_RX], ch->head,
		     have ? VSOCK_HDR_BYTES + hdr.len : 0);
	if (s)
		vsock_stream_update(v, s);
}

/* Sends what the streams owe while the driver gives rx buffers. */
static void vsock_rx_flush(struct virtio_vsock *v)
{
	struct virtqueue *vq = &v->vqs[VSOCK_VQ_RX];
	struct vq_chain ch = {.iov = v->iov, .iov_cap = ARRAY_SIZE(v->iov)};
	bool pushed = false;
	int ret;

	while (v->rst_len || vsock_ready_peek(v)) {
		ret = vq_pop_chain(vq, &ch);
		if (ret == 0)
			break;
		if (ret < 0) {
			virtio_dev_fail(&v->dev, "rx queue: %s",
					vq_strerror(ret));
			return;
		}
		/* virtio 1.2, 5.10.6.4: rx buffers are device-writable. */
		if (ch.nr_readable || ch.writable_bytes < VSOCK_HDR_BYTES) {
			virtio_dev_fail(&v->dev,
					"rx buffer %u: %u readable buffers, "
					"%u writable bytes (need %u)",
					ch.head, ch.nr_readable,
					ch.writable_bytes, VSOCK_HDR_BYTES);
			return;
		}
		vsock_rx_fill(v, &ch);
		pushed = true;
	}
	if (pushed)
		virtio_notify_queue(&v->dev, vq);
}

/* ---- packets from the guest (tx) -------------------------------------- */

/* A REQUEST to the host: bridge it to PATH_<port>, or refuse with RST. */
static void vsock_tx_request(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	struct vsock_stream *s;
	int fd;

	if (v->nr_streams >= VIRTIO_VSOCK_MAX_STREAMS) {
		vsock_rst_queue(v, h);
		return;
	}
	fd = vsock_unix_connect_port(&v->bridge, h->dst_port);
	if (fd < 0) {
		log_debug("%s: guest port %u to host port %u: %s", v->dev.name,
			  h->src_port, h->dst_port, strerror(-fd));
		vsock_rst_queue(v, h);
		return;
	}
	s = vsock_stream_new(v, fd, h->dst_port, h->src_port, h);
	if (!s) {
		close(fd);
		vsock_rst_queue(v, h);
		return;
	}
	vsock_stream_update(v, s);
}

static void vsock_tx_for_stream(struct virtio_vsock *v, struct vsock_stream *s,
				const struct vsock_hdr *h,
				const struct vq_chain *ch)
{
	uint32_t ev = vsock_conn_recv(&s->conn, h, ch->iov, ch->nr_readable);

	if (ev & VSOCK_EV_CLOSE)
		log_debug("%s: guest port %u, host port %u: closed by op %u",
			  v->dev.name, h->src_port, h->dst_port, h->op);

	if (ev & VSOCK_EV_VIOLATION)
		log_warn_ratelimited(&v->dev.rl,
				     "%s: guest port %u broke the protocol "
				     "(op %u, len %u): connection reset",
				     v->dev.name, h->src_port, h->op, h->len);
	if (ev & VSOCK_EV_CONNECTED)
		vsock_unix_sock_connected(&s->sock);
	vsock_stream_update(v, s);
}

/*
 * Handles one tx packet. Returns false when the chain broke the rules and
 * the device failed.
 */
static bool vsock_tx_handle(struct virtio_vsock *v, const struct vq_chain *ch)
{
	struct vsock_conn *c;
	struct vsock_hdr h;
	int err;

	/* virtio 1.2, 5.10.6.4: tx buffers are device-readable only. */
	if (ch->nr_writable) {
		virtio_dev_fail(&v->dev,
				"tx packet %u has %u writable "
				"buffers",
				ch->head, ch->nr_writable);
		return false;
	}
	err = vsock_pkt_parse(ch->iov, ch->nr_readable, ch->readable_bytes, &h);
	if (err) {
		virtio_dev_fail(&v->dev, "tx packet %u (%u bytes): %s",
				ch->head, ch->readable_bytes,
				vsock_pkt_strerror(err));
		return false;
	}

	switch (vsock_pkt_classify(&h, v->guest_cid)) {
	case VSOCK_PKT_DROP:
		if (h.op != VSOCK_OP_RST)
			log_warn_ratelimited(
				&v->dev.rl,
				"%s: dropped op %u from cid %" PRIu64
				" to cid %" PRIu64,
				v->dev.name, h.op, h.src_cid, h.dst_cid);
		return true;
	case VSOCK_PKT_REPLY_RST:
		vsock_rst_queue(v, &h);
		return true;
	case VSOCK_PKT_HANDLE:
		break;
	}

	c = vsock_conn_find(&v->table, h.dst_port, h.src_port);
	if (c)
		vsock_tx_for_stream(
			v, container_of(c, struct vsock_stream, conn), &h, ch);
	else if (h.op == VSOCK_OP_REQUEST)
		vsock_tx_request(v, &h);
	else if (h.op != VSOCK_OP_RST)
		vsock_rst_queue(v, &h); /* virtio 1.2, 5.10.6.5 */
	return true;
}

/*
 * Takes tx packets. Each may need an RST reply, so none is taken while
 * the reply queue is full (virtio 1.2, 5.10.6.1: the device must not let
 * a guest that does not read rx make it buffer without bound); rx
 * progress resumes it.
 */
static void vsock_tx_process(struct virtio_vsock *v)
{
	struct virtqueue *vq = &v->vqs[VSOCK_VQ_TX];
	struct vq_chain ch = {.iov = v->iov, .iov_cap = ARRAY_SIZE(v->iov)};
	int ret;

	do {
		vq_disable_notify(vq);
		for (;;) {
			if (v->rst_len == VSOCK_RST_QUEUE) {
				v->tx_stalled = true;
				virtio_notify_queue(&v->dev, vq);
				return;
			}
			ret = vq_pop_chain(vq, &ch);
			if (ret == 0)
				break;
			if (ret < 0) {
				virtio_dev_fail(&v->dev, "tx queue: %s",
						vq_strerror(ret));
				return;
			}
			if (!vsock_tx_handle(v, &ch))
				return;
			vq_push_used(vq, ch.head, 0);
		}
		virtio_notify_queue(&v->dev, vq);
	} while (vq_enable_notify(vq));
}

/* Runs both directions until neither can progress. Under dev->lock. */
static void vsock_run(struct virtio_vsock *v)
{
	for (;;) {
		if (!virtio_dev_running(&v->dev))
			return;
		vsock_rx_flush(v);
		if (!v->tx_stalled || v->rst_len == VSOCK_RST_QUEUE ||
		    !virtio_dev_running(&v->dev))
			return;
		v->tx_stalled = false;
		vsock_tx_process(v);
	}
}

/* virtio 1.2, 5.10.6.7: delivers a pending transport-reset event. */
static void vsock_event_process(struct virtio_vsock *v)
{
	struct virtqueue *vq = &v->vqs[VSOCK_VQ_EVENT];
	struct vq_chain ch = {.iov = v->iov, .iov_cap = ARRAY_SIZE(v->iov)};
	uint32_t id = htole32(VSOCK_EVENT_TRANSPORT_RESET);
	int ret;

	if (!v->event_pending)
		return;
	ret = vq_pop_chain(vq, &ch);
	if (ret == 0)
		return;
	if (ret < 0 || ch.nr_readable || ch.writable_bytes < sizeof(id)) {
		virtio_dev_fail(&v->dev, "event queue: %s",
				ret < 0 ? vq_strerror(ret)
					: "buffer not a writable event");
		return;
	}
	vsock_iov_write(&ch.iov[0], ch.nr_writable, 0, &id, sizeof(id));
	vq_push_used(vq, ch.head, sizeof(id));
	v->event_pending = false;
	virtio_notify_queue(&v->dev, vq);
}

/* ---- virtio_dev_ops --------------------------------------------------- */

static void vsock_queue_notify(struct virtio_dev *dev, unsigned int qidx)
{
	struct virtio_vsock *v = to_vsock(dev);

	if (qidx == VSOCK_VQ_EVENT) {
		vsock_event_process(v);
		return;
	}
	if (qidx == VSOCK_VQ_TX && !v->tx_stalled)
		vsock_tx_process(v);
	vsock_run(v);
}

static void vsock_config_read(struct virtio_dev *dev, uint32_t offset,
			      uint8_t *data, uint32_t len)
{
	/* virtio 1.2, 5.10.4: le64 guest_cid, upper 32 bits zero. */
	uint64_t cid = htole64(to_vsock(dev)->guest_cid);

	memcpy(data, (const uint8_t *)&cid + offset, len);
}

static void vsock_config_write(struct virtio_dev *dev, uint32_t offset,
			       const uint8_t *data, uint32_t len)
{
	(void)offset;
	(void)data;
	log_warn_ratelimited(&dev->rl,
			     "%s: ignored %u-byte write to the "
			     "read-only guest_cid",
			     dev->name, len);
}

static int vsock_activate(struct virtio_dev *dev)
{
	to_vsock(dev)->was_active = true;
	return 0;
}

/*
 * The driver reset the device (vCPU thread): every stream ends without a
 * word to the guest, which forgot them; the loop thread closes their
 * sockets (sweep). The next driver learns through the event queue.
 */
static void vsock_reset(struct virtio_dev *dev)
{
	struct virtio_vsock *v = to_vsock(dev);
	uint64_t one = 1;

	for (struct vsock_stream *s = v->streams; s; s = s->next) {
		vsock_conn_abort(&s->conn, false);
		if (s->in_table)
			vsock_conn_remove(&v->table, &s->conn);
		s->in_table = false;
	}
	while (vsock_ready_pop(v))
		;
	v->rst_len = v->rst_head = 0;
	v->tx_stalled = false;
	if (v->was_active)
		v->event_pending = true;
	v->was_active = false;
	if (v->sweep_fd >= 0 && write(v->sweep_fd, &one, sizeof(one)) < 0)
		log_debug("%s: sweep eventfd: %s", dev->name, strerror(errno));
}

static void vsock_destroy(struct virtio_dev *dev)
{
	struct virtio_vsock *v = to_vsock(dev);

	/* The loop is gone: no I/O is in flight and nothing calls back. */
	while (v->streams) {
		vsock_unix_sock_drop(&v->streams->sock);
		vsock_stream_free(v, v->streams);
	}
	if (v->bridge_ready)
		vsock_unix_destroy(&v->bridge);
	if (v->sweep_fd >= 0)
		close(v->sweep_fd);
	free(v);
}

static const struct virtio_dev_ops vsock_ops = {
	.config_read = vsock_config_read,
	.config_write = vsock_config_write,
	.queue_notify = vsock_queue_notify,
	.activate = vsock_activate,
	.reset = vsock_reset,
	.destroy = vsock_destroy,
};

/* ---- the bridge's callbacks and the loop's ---------------------------- */

static int vsock_host_connect(void *ctx, int fd, uint32_t port,
			      const uint8_t *early, uint32_t early_len)
{
	struct virtio_vsock *v = ctx;
	struct vsock_stream *s;
	uint32_t host_port;

	do {
		host_port = v->next_host_port++;
		if (v->next_host_port < VSOCK_HOST_PORT_FIRST)
			v->next_host_port = VSOCK_HOST_PORT_FIRST;
	} while (vsock_conn_find(&v->table, host_port, port));
	s = vsock_stream_new(v, fd, host_port, port, NULL);
	if (!s)
		return -EMFILE;
	/* Bytes sent right after the line are the stream's first. */
	while (early_len) {
		uint8_t *p;
		uint32_t n = vsock_ring_write_area(&s->conn.to_guest, &p);

		n = MIN(n, early_len);
		if (!n)
			break;
		memcpy(p, early, n);
		vsock_ring_produce(&s->conn.to_guest, n);
		early += n;
		early_len -= n;
	}
	s->conn.deadline_ns = clock_now_ns() +
			      VIRTIO_VSOCK_CONNECT_TIMEOUT_MS * 1000000ull;
	vsock_tick_arm(v);
	vsock_stream_update(v, s);
	vsock_run(v);
	return 0;
}

static void vsock_sock_event(void *ctx, struct vsock_unix_sock *sock)
{
	struct virtio_vsock *v = ctx;

	vsock_stream_update(v, container_of(sock, struct vsock_stream, sock));
	vsock_run(v);
}

static void vsock_sock_released(void *ctx, struct vsock_unix_sock *sock)
{
	struct vsock_stream *s = container_of(sock, struct vsock_stream, sock);

	s->released = true;
	vsock_stream_maybe_free(ctx, s);
}

static const struct vsock_unix_ops vsock_bridge_ops = {
	.host_connect = vsock_host_connect,
	.sock_event = vsock_sock_event,
	.sock_released = vsock_sock_released,
};

/* Closes the sockets of streams that ended while nobody was looking. */
static void vsock_sweep(struct virtio_vsock *v)
{
	struct vsock_stream *s = v->streams, *next;

	while (s) {
		next = s->next;
		if (s->conn.state == VSOCK_CONN_CLOSED)
			vsock_stream_update(v, s);
		s = next;
	}
}

static void vsock_sweep_ready(struct ev_op *op, int res, uint32_t flags)
{
	struct virtio_vsock *v = container_of(op, struct virtio_vsock,
					      sweep_op);
	uint64_t count;

	pthread_mutex_lock(&v->dev.lock);
	if (v->loop->stopping)
		goto out;
	if (!(flags & IORING_CQE_F_MORE))
		evloop_poll(v->loop, &v->sweep_op, v->sweep_fd, POLLIN);
	if (res >= 0 && read(v->sweep_fd, &count, sizeof(count)) > 0)
		vsock_sweep(v);
out:
	pthread_mutex_unlock(&v->dev.lock);
}

/* Host CONNECTs the guest has not answered in time are given up. */
static void vsock_tick(struct ev_op *op, int res, uint32_t flags)
{
	struct virtio_vsock *v = container_of(op, struct virtio_vsock, tick_op);
	uint64_t now = clock_now_ns();
	bool waiting = false;
	struct vsock_stream *s, *next;

	(void)res;
	(void)flags;
	pthread_mutex_lock(&v->dev.lock);
	if (v->loop->stopping)
		goto out;
	for (s = v->streams; s; s = next) {
		next = s->next;
		if (s->conn.state != VSOCK_CONN_CONNECTING)
			continue;
		if (s->conn.deadline_ns > now) {
			waiting = true;
			continue;
		}
		log_debug("%s: guest port %u did not answer CONNECT",
			  v->dev.name, s->conn.guest_port);
		vsock_conn_abort(&s->conn, true);
		vsock_stream_update(v, s);
	}
	if (waiting)
		vsock_tick_arm(v);
	vsock_run(v);
out:
	pthread_mutex_unlock(&v->dev.lock);
}

/* ---- creation --------------------------------------------------------- */

int virtio_vsock_parse_spec(const char *spec, struct virtio_vsock_config *cfg,
			    char **storage)
{
	char *copy = strdup(spec), *save = NULL, *field;
	bool have_cid = false;

	memset(cfg, 0, sizeof(*cfg));
	*storage = copy;
	if (!copy)
		return -ENOMEM;
	for (field = strtok_r(copy, ",", &save); field;
	     field = strtok_r(NULL, ",", &save)) {
		char *end;

		if (!strncmp(field, "cid=", 4)) {
			errno = 0;
			cfg->guest_cid = strtoull(field + 4, &end, 10);
			/* virtio 1.2, 5.10.4: 0-2 and 2^32-1 are reserved. */
			if (errno || end == field + 4 || *end ||
			    field[4] == '-' || cfg->guest_cid < 3 ||
			    cfg->guest_cid >= 0xffffffffull) {
				log_error("--vsock: cid=%s: expected a number "
					  "from 3 to 4294967294",
					  field + 4);
				return -EINVAL;
			}
			have_cid = true;
		} else if (!strncmp(field, "socket=", 7) && field[7]) {
			cfg->socket_path = field + 7;
		} else {
			log_error("--vsock: unknown or empty field '%s' "
				  "(expected cid=N,socket=PATH)",
				  field);
			return -EINVAL;
		}
	}
	if (!have_cid || !cfg->socket_path) {
		log_error("--vsock: %s is missing (expected cid=N,socket=PATH)",
			  have_cid ? "socket=PATH" : "cid=N");
		return -EINVAL;
	}
	return 0;
}

struct virtio_dev *virtio_vsock_create(const struct virtio_vsock_config *cfg,
				       struct evloop *loop)
{
	struct virtio_vsock *v = calloc(1, sizeof(*v));

	if (!v) {
		log_error("virtio-vsock: out of memory");
		return NULL;
	}
	v->dev = (struct virtio_dev){
		.name = "virtio-vsock",
		.device_id = VIRTIO_ID_VSOCK,
		/* virtio 1.2, 5.10.3: streams only. */
		.features = (1ull << VIRTIO_F_VERSION_1) |
			    (1ull << VIRTIO_VSOCK_F_STREAM) |
			    (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
			    (1ull << VIRTIO_RING_F_EVENT_IDX),
		.nr_queues = VSOCK_NR_VQS,
		.queue_max_size = VIRTIO_VSOCK_QUEUE_SIZE,
		.config_size = sizeof(uint64_t),
		.ops = &vsock_ops,
		.vqs = v->vqs,
	};
	v->guest_cid = cfg->guest_cid;
	v->loop = loop;
	v->next_host_port = VSOCK_HOST_PORT_FIRST;
	v->sweep_op.complete = vsock_sweep_ready;
	v->tick_op.complete = vsock_tick;
	v->sweep_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->sweep_fd < 0) {
		log_error("virtio-vsock: eventfd: %s", strerror(errno));
		free(v);
		return NULL;
	}
	if (vsock_unix_init(&v->bridge, cfg->socket_path, loop, &v->dev.lock,
			    &vsock_bridge_ops, v) < 0) {
		close(v->sweep_fd);
		free(v);
		return NULL;
	}
	v->bridge_ready = true;
	return &v->dev;
}

void virtio_vsock_start(struct virtio_dev *dev)
{
	struct virtio_vsock *v = to_vsock(dev);

	pthread_mutex_lock(&dev->lock);
	vsock_unix_start(&v->bridge);
	evloop_poll(v->loop, &v->sweep_op, v->sweep_fd, POLLIN);
	pthread_mutex_unlock(&dev->lock);
}
