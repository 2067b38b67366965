/*
 * The REST API's unix-socket server: one thread, poll(), keep-alive
 * connections, file descriptors received with SCM_RIGHTS.
 */
#include "vmm/api.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define API_MAX_CONNS    32
#define API_CONN_MAX_FDS 8
#define API_RECV_BYTES   16384

struct api_conn {
	int fd;
	struct api_http_parser http;
	char *in; /* received, not yet parsed (after a pipelined request) */
	size_t in_len;
	char *out; /* response not yet sent */
	size_t out_len, out_off;
	int fds[API_CONN_MAX_FDS]; /* received, not yet given to a request */
	unsigned int nr_fds;
	bool closing; /* close once out is sent */
};

struct api_server {
	struct api_vmm *vmm;
	int listen_fd;
	int signal_fd;
	struct api_conn *conns[API_MAX_CONNS];
	bool quit;
	int status;
};

static void api_conn_close_fds(struct api_conn *c)
{
	for (unsigned int i = 0; i < c->nr_fds; i++)
		close(c->fds[i]);
	c->nr_fds = 0;
}

static void api_conn_free(struct api_conn *c)
{
	close(c->fd);
	api_conn_close_fds(c);
	api_http_parser_free(&c->http);
	free(c->in);
	free(c->out);
	free(c);
}

/* Queues a response; the connection stops reading until it is sent. */
static void api_conn_respond(struct api_conn *c, int code, char *body,
			     bool keep_alive)
{
	size_t len = 0;
	char *out;

	out = api_http_response(code, body, keep_alive, &len);
	free(body);
	if (!out) {
		c->closing = true;
		return;
	}
	free(c->out);
	c->out = out;
	c->out_len = len;
	c->out_off = 0;
	if (!keep_alive)
		c->closing = true;
}

static void api_conn_handle(struct api_server *srv, struct api_conn *c)
{
	struct api_http_request *req = &c->http.req;
	struct api_response resp;

	api_handle(srv->vmm, req, c->fds, c->nr_fds, &resp);
	for (unsigned int i = 0; i < c->nr_fds; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	c->nr_fds = 0;
	api_conn_respond(c, resp.code, resp.body, req->keep_alive);
	api_http_next(&c->http);
}

/* Parses what is buffered, answering at most one request. */
static void api_conn_parse(struct api_server *srv, struct api_conn *c,
			   const char *data, size_t len)
{
	size_t used = api_http_parse(&c->http, data, len);

	if (c->http.error) {
		api_conn_respond(c, c->http.error, NULL, false);
		return;
	}
	if (c->http.done)
		api_conn_handle(srv, c);

	/* Keep a pipelined remainder for when the response is sent. */
	if (used < len && !c->closing) {
		char *rest = malloc(len - used);

		if (!rest) {
			c->closing = true;
			return;
		}
		memcpy(rest, data + used, len - used);
		free(c->in);
		c->in = rest;
		c->in_len = len - used;
	}
}

static void api_conn_take_fds(struct api_conn *c, struct msghdr *msg)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm;
	     cm = CMSG_NXTHDR(msg, cm)) {
		size_t n;
		int *fds;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)(void *)CMSG_DATA(cm);
		for (size_t i = 0; i < n; i++) {
			if (c->nr_fds < API_CONN_MAX_FDS)
				c->fds[c->nr_fds++] = fds[i];
			else
				close(fds[i]);
		}
	}
}

/* Returns false when the connection is finished. */
static bool api_conn_read(struct api_server *srv, struct api_conn *c)
{
	char buf[API_RECV_BYTES];
	union {
		char space[CMSG_SPACE(sizeof(int) * API_CONN_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.space,
		.msg_controllen = sizeof(control.space),
	};
	ssize_t n;

	n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	api_conn_take_fds(c, &msg);
	if (n == 0)
		return false;
	api_conn_parse(srv, c, buf, (size_t)n);
	return true;
}

/* Returns false when the connection is finished. */
static bool api_conn_write(struct api_server *srv, struct api_conn *c)
{
	while (c->out && c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	if (c->closing)
		return false;

	/* Answer what arrived behind the last request. */
	while (c->in && !c->out && !c->closing) {
		char *in = c->in;
		size_t len = c->in_len;

		c->in = NULL;
		c->in_len = 0;
		api_conn_parse(srv, c, in, len);
		free(in);
		if (c->out)
			return api_conn_write(srv, c);
	}
	return true;
}

/* Returns false when nothing was waiting. */
static bool api_server_accept(struct api_server *srv)
{
	struct api_conn *c;
	unsigned int slot;
	int fd;

	fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return false;
	for (slot = 0; slot < API_MAX_CONNS && srv->conns[slot]; slot++)
		;
	c = slot < API_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		log_warn("api: too many connections, refusing one");
		close(fd);
		return true;
	}
	c->fd = fd;
	api_http_parser_init(&c->http);
	srv->conns[slot] = c;
	return true;
}

static int api_server_listen(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, err;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("api: --api-socket: '%s' is longer than %zu bytes",
			  path, sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);

	/* A socket left by an earlier run; never remove anything else. */
	if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, 16) < 0) {
		err = -errno;
		log_error("api: cannot listen on %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

static void api_server_on_signal(struct api_server *srv)
{
	struct signalfd_siginfo info;

	if (read(srv->signal_fd, &info, sizeof(info)) != sizeof(info))
		return;
	log_info("api: %s received, stopping",
		 info.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
	srv->quit = true;
	srv->status = VM_EXIT_SIGNAL + (int)info.ssi_signo;
}

static void api_server_on_vm_event(struct api_server *srv)
{
	uint64_t count;
	int status;

	if (read(srv->vmm->vm.event_fd, &count, sizeof(count)) < 0)
		return;
	if (api_vm_guest_exit(&srv->vmm->vm, &status)) {
		log_info("api: the VM stopped (status %d), exiting", status);
		srv->quit = true;
		srv->status = status;
	}
}

/* One poll() round over the listener, signals, the VM and connections. */
static void api_server_poll(struct api_server *srv)
{
	struct pollfd pfd[3 + API_MAX_CONNS];
	unsigned int n = 3;

	pfd[0] = (struct pollfd){.fd = srv->listen_fd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = srv->signal_fd, .events = POLLIN};
	pfd[2] = (struct pollfd){.fd = srv->vmm->vm.event_fd, .events = POLLIN};
	for (unsigned int i = 0; i < API_MAX_CONNS; i++) {
		struct api_conn *c = srv->conns[i];

		pfd[n] = (struct pollfd){.fd = -1};
		if (c)
			pfd[n] = (struct pollfd){
				.fd = c->fd,
				.events = c->out ? POLLOUT : POLLIN,
			};
		n++;
	}
	if (poll(pfd, n, -1) < 0)
		return;

	for (unsigned int i = 0; i < API_MAX_CONNS; i++) {
		struct api_conn *c = srv->conns[i];
		short ev = pfd[3 + i].revents;
		bool alive = true;

		if (!c || !ev)
			continue;
		if (ev & POLLIN)
			alive = api_conn_read(srv, c);
		else if (ev & (POLLHUP | POLLERR | POLLNVAL))
			alive = false;
		if (alive && c->out)
			alive = api_conn_write(srv, c);
		if (!alive) {
			api_conn_free(c);
			srv->conns[i] = NULL;
		}
	}
	/* Drain the backlog: a burst of clients must not see it full. */
	if (pfd[0].revents & POLLIN)
		for (int i = 0; i < 16 && api_server_accept(srv); i++)
			;
	if (pfd[1].revents & POLLIN)
		api_server_on_signal(srv);
	if (pfd[2].revents & POLLIN)
		api_server_on_vm_event(srv);
}

/* After vmm.shutdown: send what is queued (briefly) before exiting. */
static void api_server_flush(struct api_server *srv)
{
	for (unsigned int i = 0; i < API_MAX_CONNS; i++) {
		struct api_conn *c = srv->conns[i];

		if (c && c->out) {
			struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};

			c->closing = true;
			while (poll(&pfd, 1, 1000) > 0 &&
			       api_conn_write(srv, c))
				;
		}
	}
}

int api_server_run(struct api_vmm *vmm, const char *path)
{
	struct api_server srv = {.vmm = vmm, .status = VM_EXIT_POWEROFF};
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	srv.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (srv.signal_fd < 0) {
		log_error("api: signalfd: %s", strerror(errno));
		return VM_EXIT_ERROR;
	}
	srv.listen_fd = api_server_listen(path);
	if (srv.listen_fd < 0) {
		close(srv.signal_fd);
		return VM_EXIT_ERROR;
	}
	log_info("api: listening on %s", path);

	while (!srv.quit && !vmm->exit_requested)
		api_server_poll(&srv);

	api_server_flush(&srv);
	for (unsigned int i = 0; i < API_MAX_CONNS; i++)
		if (srv.conns[i])
			api_conn_free(srv.conns[i]);
	close(srv.listen_fd);
	close(srv.signal_fd);
	unlink(path);
	return srv.status;
}
