/* virtio-vsock's host side: the hybrid unix-socket bridge on io_uring. */
#include "devices/vsock_unix.h"
#include "vmm/log.h"
#include "vmm/util.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A client that has not finished its CONNECT line yet. */
struct vsock_unix_client {
	struct vsock_unix *bridge;
	int fd;
	struct ev_op recv_op;
	char line[VSOCK_UNIX_LINE_MAX];
	uint32_t len;
	uint64_t deadline_ns; /* closed if the line is not complete by then */
	bool expired;         /* its recv is being cancelled */
	struct vsock_unix_client *next, **pprev;
};

int vsock_unix_parse_connect(const char *buf, size_t len, uint32_t *port,
			     size_t *line_len)
{
	static const char verb[] = "CONNECT ";
	const size_t verb_len = sizeof(verb) - 1;
	uint64_t value = 0;
	size_t i;

	if (memcmp(buf, verb, MIN(len, verb_len)))
		return -EINVAL;
	if (len <= verb_len)
		return 0;
	for (i = verb_len; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		value = value * 10 + (uint64_t)(buf[i] - '0');
		if (value > UINT32_MAX || i - verb_len >= 10)
			return -EINVAL;
	}
	if (i == len)
		return 0;
	if (i == verb_len || buf[i] != '\n')
		return -EINVAL;
	*port = (uint32_t)value;
	*line_len = i + 1;
	return 1;
}

static bool vsock_unix_stopping(const struct vsock_unix *b)
{
	return b->loop->stopping;
}

static void vsock_unix_client_free(struct vsock_unix_client *c)
{
	struct vsock_unix *b = c->bridge;

	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	b->nr_clients--;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static void vsock_unix_client_recv(struct vsock_unix_client *c)
{
	struct io_uring_sqe *sqe = evloop_prep(c->bridge->loop, &c->recv_op);

	io_uring_prep_recv(sqe, c->fd, c->line + c->len,
			   sizeof(c->line) - c->len, 0);
}

/* A complete line: hand the client to the device, or drop it. */
static void vsock_unix_client_line(struct vsock_unix_client *c, uint32_t port,
				   size_t line_len)
{
	struct vsock_unix *b = c->bridge;
	int err;

	err = b->ops->host_connect(b->ctx, c->fd, port,
				   (const uint8_t *)c->line + line_len,
				   c->len - (uint32_t)line_len);
	if (!err)
		c->fd = -1; /* the device owns it now */
	else
		log_debug("vsock: CONNECT %u refused: %s", port,
			  strerror(-err));
	vsock_unix_client_free(c);
}

static void vsock_unix_client_done(struct ev_op *op, int res, uint32_t flags)
{
	struct vsock_unix_client *c = container_of(op, struct vsock_unix_client,
						   recv_op);
	struct vsock_unix *b = c->bridge;
	size_t line_len = 0;
	uint32_t port = 0;
	int ret = -EINVAL;

	(void)flags;
	pthread_mutex_lock(b->lock);
	if (res > 0 && !c->expired && !vsock_unix_stopping(b)) {
		c->len += (uint32_t)res;
		ret = vsock_unix_parse_connect(c->line, c->len, &port,
					       &line_len);
	}
	if (ret == 1)
		vsock_unix_client_line(c, port, line_len);
	else if (ret == 0 && c->len < sizeof(c->line))
		vsock_unix_client_recv(c);
	else
		vsock_unix_client_free(c); /* EOF, error or a bad line */
	pthread_mutex_unlock(b->lock);
}

static void vsock_unix_tick_arm(struct vsock_unix *b)
{
	if (!b->tick_op.busy && !vsock_unix_stopping(b))
		evloop_timeout(b->loop, &b->tick_op, &b->tick_ts,
			       VSOCK_UNIX_TICK_MS * 1000000ull);
}

/*
 * Closes clients whose line is overdue: their recv is cancelled and its
 * completion frees them. Re-arms itself while clients wait.
 */
static void vsock_unix_tick(struct ev_op *op, int res, uint32_t flags)
{
	struct vsock_unix *b = container_of(op, struct vsock_unix, tick_op);
	uint64_t now = clock_now_ns();
	struct vsock_unix_client *c;

	(void)res;
	(void)flags;
	pthread_mutex_lock(b->lock);
	if (vsock_unix_stopping(b))
		goto out;
	for (c = b->clients; c; c = c->next) {
		if (c->expired || c->deadline_ns > now)
			continue;
		log_debug("vsock: %s: no CONNECT line within %u ms, closing",
			  b->path, b->line_timeout_ms);
		c->expired = true;
		evloop_cancel(b->loop, &c->recv_op);
	}
	if (b->clients)
		vsock_unix_tick_arm(b);
out:
	pthread_mutex_unlock(b->lock);
}

static void vsock_unix_accept_one(struct vsock_unix *b, int fd)
{
	struct vsock_unix_client *c;

	if (b->nr_clients >= VSOCK_UNIX_MAX_CLIENTS ||
	    !(c = calloc(1, sizeof(*c)))) {
		log_debug("vsock: %s: too many clients, dropping one", b->path);
		close(fd);
		return;
	}
	c->bridge = b;
	c->fd = fd;
	c->deadline_ns = clock_now_ns() + b->line_timeout_ms * 1000000ull;
	c->recv_op.complete = vsock_unix_client_done;
	c->next = b->clients;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &b->clients;
	b->clients = c;
	b->nr_clients++;
	vsock_unix_client_recv(c);
	vsock_unix_tick_arm(b);
}

static void vsock_unix_listen_ready(struct ev_op *op, int res, uint32_t flags)
{
	struct vsock_unix *b = container_of(op, struct vsock_unix, listen_op);

	pthread_mutex_lock(b->lock);
	if (vsock_unix_stopping(b))
		goto out;
	if (!(flags & IORING_CQE_F_MORE))
		evloop_poll(b->loop, &b->listen_op, b->listen_fd, POLLIN);
	if (res < 0)
		goto out;
	for (;;) {
		int fd = accept4(b->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("vsock: %s: accept: %s", b->path,
					 strerror(errno));
			if (errno != EINTR && errno != ECONNABORTED)
				break;
			continue;
		}
		vsock_unix_accept_one(b, fd);
	}
out:
	pthread_mutex_unlock(b->lock);
}

static int vsock_unix_addr(struct sockaddr_un *sa, const char *path,
			   const char *suffix)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s%s", path, suffix);
	return n < 0 || (size_t)n >= sizeof(sa->sun_path) ? -ENAMETOOLONG : 0;
}

/* Removes path if it is a socket nobody listens on. */
static int vsock_unix_remove_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, err;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0
		      ? -EADDRINUSE
		      : 0;
	close(fd);
	if (!err && unlink(sa->sun_path) < 0)
		err = -errno;
	return err;
}

int vsock_unix_init(struct vsock_unix *b, const char *path, struct evloop *loop,
		    pthread_mutex_t *lock, const struct vsock_unix_ops *ops,
		    void *ctx)
{
	struct sockaddr_un sa;
	int err;

	memset(b, 0, sizeof(*b));
	b->listen_fd = -1;
	b->loop = loop;
	b->lock = lock;
	b->ops = ops;
	b->ctx = ctx;
	b->listen_op.complete = vsock_unix_listen_ready;
	b->tick_op.complete = vsock_unix_tick;
	b->line_timeout_ms = VSOCK_UNIX_LINE_TIMEOUT_MS;

	/* Room for "_4294967295" after PATH, for guest-initiated streams. */
	if (strlen(path) + 11 >= sizeof(b->path) ||
	    vsock_unix_addr(&sa, path, "") < 0) {
		log_error("vsock: socket=%s: path too long (at most %zu "
			  "bytes)",
			  path, sizeof(b->path) - 12);
		return -ENAMETOOLONG;
	}
	strcpy(b->path, path);
	err = vsock_unix_remove_stale(&sa);
	if (err) {
		log_error("vsock: socket=%s: %s", path,
			  err == -EADDRINUSE ? "another process listens there"
			  : err == -EEXIST   ? "exists and is not a socket"
					     : strerror(-err));
		return err;
	}
	b->listen_fd = socket(AF_UNIX,
			      SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (b->listen_fd < 0 ||
	    bind(b->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(b->listen_fd, 128) < 0) {
		err = -errno;
		log_error("vsock: socket=%s: %s", path, strerror(-err));
		if (b->listen_fd >= 0)
			close(b->listen_fd);
		b->listen_fd = -1;
		return err;
	}
	return 0;
}

void vsock_unix_start(struct vsock_unix *b)
{
	evloop_poll(b->loop, &b->listen_op, b->listen_fd, POLLIN);
}

void vsock_unix_destroy(struct vsock_unix *b)
{
	while (b->clients)
		vsock_unix_client_free(b->clients);
	if (b->listen_fd >= 0) {
		close(b->listen_fd);
		unlink(b->path);
	}
	b->listen_fd = -1;
}

int vsock_unix_connect_port(struct vsock_unix *b, uint32_t port)
{
	struct sockaddr_un sa;
	char suffix[16];
	int fd, err;

	snprintf(suffix, sizeof(suffix), "_%u", port);
	if (vsock_unix_addr(&sa, b->path, suffix) < 0)
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A unix connect completes at once or fails (EAGAIN: backlog full). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void vsock_unix_sock_recv_done(struct ev_op *op, int res,
				      uint32_t flags);
static void vsock_unix_sock_send_done(struct ev_op *op, int res,
				      uint32_t flags);
static void vsock_unix_sock_hup_done(struct ev_op *op, int res, uint32_t flags);

void vsock_unix_sock_init(struct vsock_unix_sock *s, struct vsock_unix *b,
			  struct vsock_conn *conn, int fd)
{
	memset(s, 0, sizeof(*s));
	s->bridge = b;
	s->conn = conn;
	s->fd = fd;
	s->recv_op.complete = vsock_unix_sock_recv_done;
	s->send_op.complete = vsock_unix_sock_send_done;
	s->hup_op.complete = vsock_unix_sock_hup_done;
}

void vsock_unix_sock_connected(struct vsock_unix_sock *s)
{
	int n = snprintf(s->reply, sizeof(s->reply), "OK %u\n",
			 s->conn->host_port);

	s->reply_len = (uint32_t)n;
	s->reply_off = 0;
	if (s->hup_op.busy)
		evloop_cancel(s->bridge->loop, &s->hup_op);
}

/* The fd is closed once no I/O is left; true when s was released. */
static bool vsock_unix_sock_try_release(struct vsock_unix_sock *s)
{
	struct vsock_unix *b = s->bridge;

	if (!s->closing || s->recv_op.busy || s->send_op.busy || s->hup_op.busy)
		return false;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	b->ops->sock_released(b->ctx, s);
	return true;
}

static void vsock_unix_sock_start_recv(struct vsock_unix_sock *s)
{
	uint32_t want = vsock_conn_want_read(s->conn);
	struct io_uring_sqe *sqe;
	uint8_t *p;
	uint32_t n;

	/*
	 * Before the guest answers, nothing is read (it granted no credit);
	 * only a client that gives up is noticed, so that the redial loop of
	 * a client waiting for a booting guest leaves nothing behind.
	 */
	if (s->conn->state == VSOCK_CONN_CONNECTING && !s->hup_op.busy) {
		sqe = evloop_prep(s->bridge->loop, &s->hup_op);
		io_uring_prep_poll_add(sqe, s->fd, POLLRDHUP);
		return;
	}
	if (!want || s->recv_op.busy)
		return;
	n = vsock_ring_write_area(&s->conn->to_guest, &p);
	if (!n)
		return;
	sqe = evloop_prep(s->bridge->loop, &s->recv_op);
	io_uring_prep_recv(sqe, s->fd, p, MIN(n, want), 0);
}

static void vsock_unix_sock_start_send(struct vsock_unix_sock *s)
{
	struct io_uring_sqe *sqe;
	const uint8_t *p;
	uint32_t n;

	if (s->send_op.busy)
		return;
	if (s->reply_off < s->reply_len) {
		p = (const uint8_t *)s->reply + s->reply_off;
		n = s->reply_len - s->reply_off;
	} else if (s->conn->state == VSOCK_CONN_ESTABLISHED) {
		n = vsock_ring_read_area(&s->conn->to_host, &p);
	} else {
		n = 0;
	}
	if (n) {
		sqe = evloop_prep(s->bridge->loop, &s->send_op);
		io_uring_prep_send(sqe, s->fd, p, n, MSG_NOSIGNAL);
		return;
	}
	if (!s->wr_shut && s->conn->state == VSOCK_CONN_ESTABLISHED &&
	    vsock_conn_host_write_done(s->conn)) {
		/* The guest sends no more: pass the half-close on. */
		shutdown(s->fd, SHUT_WR);
		s->wr_shut = true;
	}
}

void vsock_unix_sock_kick(struct vsock_unix_sock *s)
{
	if (s->closing || vsock_unix_stopping(s->bridge))
		return;
	vsock_unix_sock_start_send(s);
	/* A host-initiated stream reads nothing before the guest accepted. */
	if (s->reply_off == s->reply_len)
		vsock_unix_sock_start_recv(s);
}

void vsock_unix_sock_close(struct vsock_unix_sock *s)
{
	if (s->closing)
		return;
	s->closing = true;
	if (s->recv_op.busy)
		evloop_cancel(s->bridge->loop, &s->recv_op);
	if (s->send_op.busy)
		evloop_cancel(s->bridge->loop, &s->send_op);
	if (s->hup_op.busy)
		evloop_cancel(s->bridge->loop, &s->hup_op);
	vsock_unix_sock_try_release(s);
}

void vsock_unix_sock_drop(struct vsock_unix_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->closing = true;
}

/* Common end of a completion: release, or tell the device. */
static void vsock_unix_sock_after_io(struct vsock_unix_sock *s)
{
	struct vsock_unix *b = s->bridge;

	if (vsock_unix_sock_try_release(s))
		return;
	if (!s->closing)
		b->ops->sock_event(b->ctx, s);
}

static void vsock_unix_sock_recv_done(struct ev_op *op, int res, uint32_t flags)
{
	struct vsock_unix_sock *s = container_of(op, struct vsock_unix_sock,
						 recv_op);
	pthread_mutex_t *lock = s->bridge->lock;

	(void)flags;
	pthread_mutex_lock(lock);
	if (!s->closing) {
		if (res > 0)
			vsock_conn_host_read(s->conn, (uint32_t)res);
		else if (res == 0)
			vsock_conn_host_eof(s->conn);
		else if (res != -EINTR && res != -EAGAIN) {
			log_debug("vsock: host port %u: recv: %s",
				  s->conn->host_port, strerror(-res));
			vsock_conn_abort(s->conn, true);
		}
	}
	vsock_unix_sock_after_io(s);
	pthread_mutex_unlock(lock);
}

static void vsock_unix_sock_send_done(struct ev_op *op, int res, uint32_t flags)
{
	struct vsock_unix_sock *s = container_of(op, struct vsock_unix_sock,
						 send_op);
	pthread_mutex_t *lock = s->bridge->lock;

	(void)flags;
	pthread_mutex_lock(lock);
	if (!s->closing) {
		if (res > 0 && s->reply_off < s->reply_len)
			s->reply_off += (uint32_t)res;
		else if (res > 0)
			vsock_conn_host_written(s->conn, (uint32_t)res);
		else if (res != -EINTR && res != -EAGAIN) {
			log_debug("vsock: host port %u: send: %s",
				  s->conn->host_port, strerror(-res));
			vsock_conn_abort(s->conn, true); /* EPIPE: gone */
		}
	}
	vsock_unix_sock_after_io(s);
	pthread_mutex_unlock(lock);
}

static void vsock_unix_sock_hup_done(struct ev_op *op, int res, uint32_t flags)
{
	struct vsock_unix_sock *s = container_of(op, struct vsock_unix_sock,
						 hup_op);
	pthread_mutex_t *lock = s->bridge->lock;

	(void)flags;
	pthread_mutex_lock(lock);
	if (!s->closing && res > 0 && (res & (POLLRDHUP | POLLHUP | POLLERR)) &&
	    s->conn->state == VSOCK_CONN_CONNECTING)
		vsock_conn_abort(s->conn, true);
	vsock_unix_sock_after_io(s);
	pthread_mutex_unlock(lock);
}
