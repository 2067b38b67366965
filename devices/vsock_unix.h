/*
 * The host side of virtio-vsock: unix sockets bridged to guest streams,
 * in the "hybrid vsock" protocol Firecracker and Cloud Hypervisor use and
 * the Kata runtime dials.
 *
 * - minnow listens on PATH. A client connects and writes "CONNECT <port>\n"
 *   (decimal guest port); the bridge hands it to the device, which asks
 *   the guest (REQUEST). When the guest accepts (RESPONSE) the client
 *   reads "OK <host_port>\n" and from then on the socket carries the
 *   stream's bytes both ways. A refusal (RST) or no answer in time closes
 *   the client's socket.
 * - A guest connection to the host (CID 2), port P, is bridged to the unix
 *   socket "PATH_P" (PATH, an underscore, P in decimal) if something
 *   listens there; otherwise the guest gets RST.
 *
 * All socket I/O goes through the event loop (io_uring recv and send; the
 * listener is a multishot poll followed by non-blocking accepts). Every
 * function here runs on the loop thread with *lock held; completions take
 * *lock themselves before calling back.
 */
#ifndef MINNOW_VSOCK_UNIX_H
#define MINNOW_VSOCK_UNIX_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/vsock_conn.h"
#include "vmm/evloop.h"

/* Longest "CONNECT <port>\n" line accepted, and clients waiting to send one. */
#define VSOCK_UNIX_LINE_MAX    32u
#define VSOCK_UNIX_MAX_CLIENTS 256u

/*
 * A client that has not sent its whole line this long after connecting is
 * closed, so that silent clients cannot hold every waiting slot. Checked
 * once a VSOCK_UNIX_TICK_MS, so a client may wait up to one tick longer.
 */
#define VSOCK_UNIX_LINE_TIMEOUT_MS 5000u
#define VSOCK_UNIX_TICK_MS         250u

struct vsock_unix_sock;

/* What the device provides; each is called with *lock held. */
struct vsock_unix_ops {
	/*
	 * A client asked for guest port port. On success (0) the device owns
	 * fd; early holds early_len bytes the client sent after its line.
	 * On a negative errno the bridge closes fd.
	 */
	int (*host_connect)(void *ctx, int fd, uint32_t port,
			    const uint8_t *early, uint32_t early_len);
	/* I/O on sock changed its connection's state. */
	void (*sock_event)(void *ctx, struct vsock_unix_sock *sock);
	/* sock is closed and no I/O is left on it: it may be freed. */
	void (*sock_released)(void *ctx, struct vsock_unix_sock *sock);
};

struct vsock_unix_client;

struct vsock_unix {
	char path[108];
	int listen_fd;
	struct ev_op listen_op;
	struct evloop *loop;
	pthread_mutex_t *lock;
	const struct vsock_unix_ops *ops;
	void *ctx;
	struct vsock_unix_client *clients;
	unsigned int nr_clients;
	uint32_t line_timeout_ms; /* VSOCK_UNIX_LINE_TIMEOUT_MS; tests lower it
				   */
	struct ev_op tick_op;     /* armed while clients wait for their line */
	struct __kernel_timespec tick_ts;
};

/* One bridged stream's unix socket, embedded next to its connection. */
struct vsock_unix_sock {
	struct vsock_unix *bridge;
	struct vsock_conn *conn;
	int fd;
	struct ev_op recv_op;
	struct ev_op send_op;
	struct ev_op hup_op; /* CONNECTING: notices a client giving up */
	char reply[VSOCK_UNIX_LINE_MAX]; /* "OK <port>\n" still to send */
	uint32_t reply_len;
	uint32_t reply_off;
	bool wr_shut;
	bool closing;
};

/*
 * Parses a client's first bytes buf[0, len). Returns 1 with *port and
 * *line_len (bytes of the line, newline included) for "CONNECT <port>\n"
 * (port in decimal, no sign, at most 4294967295), 0 when more bytes may
 * complete a valid line, -EINVAL when they cannot.
 */
int vsock_unix_parse_connect(const char *buf, size_t len, uint32_t *port,
			     size_t *line_len);

/*
 * Creates and binds the listening socket at path (a stale socket file
 * nobody listens on is replaced; a live one is an error). Nothing is
 * armed until vsock_unix_start(). Returns 0 or a negative errno after a
 * message naming path.
 */
int vsock_unix_init(struct vsock_unix *b, const char *path, struct evloop *loop,
		    pthread_mutex_t *lock, const struct vsock_unix_ops *ops,
		    void *ctx);

/* Starts accepting clients. Loop thread (or before the loop runs). */
void vsock_unix_start(struct vsock_unix *b);

/*
 * Closes everything and removes the socket file. The event loop must be
 * destroyed already (no operation in flight).
 */
void vsock_unix_destroy(struct vsock_unix *b);

/*
 * Connects to "PATH_port" for a guest-initiated stream. Returns a
 * non-blocking fd, or a negative errno (-ECONNREFUSED, -ENOENT,
 * -EAGAIN...) when nothing takes the connection.
 */
int vsock_unix_connect_port(struct vsock_unix *b, uint32_t port);

/* Ties fd to conn; starts no I/O (see vsock_unix_sock_kick). */
void vsock_unix_sock_init(struct vsock_unix_sock *s, struct vsock_unix *b,
			  struct vsock_conn *conn, int fd);

/* The guest accepted a host-initiated stream: queue "OK <host_port>\n". */
void vsock_unix_sock_connected(struct vsock_unix_sock *s);

/*
 * Starts whatever I/O the connection's state allows and is not already
 * in flight: a recv into to_guest as far as the guest's credit goes, a
 * send of to_host, the write side's shutdown once the guest sends no more.
 */
void vsock_unix_sock_kick(struct vsock_unix_sock *s);

/*
 * Closes the socket: cancels its I/O and, once none is left, closes the
 * fd and calls ops->sock_released, possibly before returning; the caller
 * must not touch s after this unless it knows otherwise.
 */
void vsock_unix_sock_close(struct vsock_unix_sock *s);

/* For teardown after the loop is gone: closes the fd, no callback. */
void vsock_unix_sock_drop(struct vsock_unix_sock *s);

#endif
