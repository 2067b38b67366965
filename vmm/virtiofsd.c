/* `minnow virtiofsd`: command line, socket set-up and the poll loop of the back
 * end. */
#include "vmm/virtiofsd.h"
#include "devices/vhost_user_backend.h"
#include "devices/virtio.h"
#include "devices/virtio_fs.h"
#include "vmm/util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* virtio 1.2, 5.11.2: the hiprio queue and up to 8 request queues. */
#define VIRTIOFSD_MAX_QUEUES 9
#define VIRTIOFSD_QUEUE_SIZE 1024

static void virtiofsd_usage(void)
{
	printf("usage: minnow virtiofsd --socket-path PATH | --fd N\n"
	       "                        --shared-dir DIR [--readonly]\n"
	       "                        [--cache never|auto|always]\n"
	       "                        [--log-level error|warn|info|debug]\n"
	       "\n"
	       "Serves DIR to one vhost-user front end (a virtio-fs device)\n"
	       "and exits when it disconnects. Also accepts virtiofsd's\n"
	       "--opt=VALUE forms, -o source=DIR,cache=MODE and\n"
	       "--print-capabilities; --syslog, --sandbox, --seccomp,\n"
	       "--thread-pool-size, --xattr, --announce-submounts and\n"
	       "--inode-file-handles are accepted and ignored.\n");
}

/* virtiofsd's cache names: "metadata" is closest to auto; "none" is never. */
static int virtiofsd_cache(const char *val, enum fs_cache *out)
{
	if (strcmp(val, "none") == 0) {
		*out = FS_CACHE_NEVER;
		return 0;
	}
	if (strcmp(val, "metadata") == 0) {
		*out = FS_CACHE_AUTO;
		return 0;
	}
	if (fs_cache_parse(val, out) == 0)
		return 0;
	fprintf(stderr,
		"virtiofsd: --cache: 'never', 'auto' or 'always' "
		"(not '%s')\n",
		val);
	return -EINVAL;
}

/* One item of an -o list: source=, cache=, vhost_user_socket=, others ignored.
 */
static int virtiofsd_o_item(char *item, struct virtiofsd_opts *out)
{
	char *eq = strchr(item, '=');
	const char *val = eq ? eq + 1 : "";

	if (eq)
		*eq = '\0';
	if (strcmp(item, "source") == 0)
		out->shared_dir = val;
	else if (strcmp(item, "cache") == 0)
		return virtiofsd_cache(val, &out->cache);
	else if (strcmp(item, "vhost_user_socket") == 0)
		out->socket_path = val;
	else if (strcmp(item, "readonly") == 0)
		out->readonly = true;
	return 0;
}

static int virtiofsd_o_list(char *list, struct virtiofsd_opts *out)
{
	char *save = NULL;

	for (char *item = strtok_r(list, ",", &save); item;
	     item = strtok_r(NULL, ",", &save))
		if (virtiofsd_o_item(item, out))
			return -EINVAL;
	return 0;
}

/* Options that take a value and change nothing here. */
static const char *const virtiofsd_ignored_valued[] = {
	"sandbox",       "seccomp",    "thread-pool-size", "inode-file-handles",
	"rlimit-nofile", "modcaps",    "xattrmap",         "translate-uid",
	"translate-gid", "allow-mmap", "preserve-noatime",
};

/* Flags that change nothing here. */
static const char *const virtiofsd_ignored_flags[] = {
	"syslog",         "xattr",
	"no-xattr",       "announce-submounts",
	"posix-acl",      "no-announce-submounts",
	"killpriv-v2",    "no-killpriv-v2",
	"security-label", "writeback",
	"no-writeback",   "allow-direct-io",
	"posix-lock",     "no-posix-lock",
	"flock",          "no-flock",
	"no-readdirplus", "readdirplus",
};

static bool virtiofsd_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

/* A long option NAME with VAL (NULL for a flag). */
static int virtiofsd_long(const char *name, char *val,
			  struct virtiofsd_opts *out)
{
	char *end;

	if (strcmp(name, "socket-path") == 0 || strcmp(name, "socket") == 0) {
		out->socket_path = val;
	} else if (strcmp(name, "shared-dir") == 0) {
		out->shared_dir = val;
	} else if (strcmp(name, "cache") == 0) {
		return virtiofsd_cache(val, &out->cache);
	} else if (strcmp(name, "fd") == 0) {
		long fd = strtol(val, &end, 10);

		if (!*val || *end || fd < 0 || fd > 65535) {
			fprintf(stderr,
				"virtiofsd: --fd: a descriptor number "
				"(not '%s')\n",
				val);
			return -EINVAL;
		}
		out->fd = (int)fd;
	} else if (strcmp(name, "log-level") == 0) {
		/* virtiofsd says "warn" too, and "trace" for the most. */
		if (strcmp(val, "trace") == 0)
			val = "debug";
		if (log_level_parse(val, &out->log_level)) {
			fprintf(stderr,
				"virtiofsd: --log-level: error, warn, "
				"info or debug (not '%s')\n",
				val);
			return -EINVAL;
		}
	}
	return 0;
}

static bool virtiofsd_takes_value(const char *name)
{
	static const char *const valued[] = {
		"socket-path", "socket", "shared-dir",
		"cache",       "fd",     "log-level",
	};

	return virtiofsd_in(name, valued, ARRAY_SIZE(valued)) ||
	       virtiofsd_in(name, virtiofsd_ignored_valued,
			    ARRAY_SIZE(virtiofsd_ignored_valued));
}

/* One "--name[=value]" argument; may consume argv[*i + 1]. */
static int virtiofsd_arg_long(int argc, char **argv, int *i,
			      struct virtiofsd_opts *out)
{
	char *name = argv[*i] + 2, *val = NULL, *eq = strchr(name, '=');

	if (eq) {
		*eq = '\0';
		val = eq + 1;
	}
	if (strcmp(name, "help") == 0)
		return 1;
	if (strcmp(name, "readonly") == 0 || strcmp(name, "read-only") == 0) {
		out->readonly = true;
		return 0;
	}
	if (strcmp(name, "print-capabilities") == 0) {
		out->print_capabilities = true;
		return 0;
	}
	if (virtiofsd_in(name, virtiofsd_ignored_flags,
			 ARRAY_SIZE(virtiofsd_ignored_flags)))
		return 0;
	if (!virtiofsd_takes_value(name)) {
		fprintf(stderr,
			"virtiofsd: unknown option '--%s' (see minnow "
			"virtiofsd --help)\n",
			name);
		return -EINVAL;
	}
	if (!val) {
		if (*i + 1 >= argc) {
			fprintf(stderr, "virtiofsd: --%s needs a value\n",
				name);
			return -EINVAL;
		}
		val = argv[++*i];
	}
	return virtiofsd_long(name, val, out);
}

int virtiofsd_parse(int argc, char **argv, struct virtiofsd_opts *out)
{
	int err;

	*out = (struct virtiofsd_opts){
		.fd = -1, .cache = FS_CACHE_AUTO, .log_level = LOG_WARN};
	for (int i = 1; i < argc; i++) {
		char *arg = argv[i];

		if (strncmp(arg, "--", 2) == 0) {
			err = virtiofsd_arg_long(argc, argv, &i, out);
		} else if (strcmp(arg, "-h") == 0) {
			err = 1;
		} else if (strncmp(arg, "-o", 2) == 0) {
			char *list = arg[2] ? arg + 2 : NULL;

			if (!list && i + 1 < argc)
				list = argv[++i];
			if (!list) {
				fprintf(stderr, "virtiofsd: -o needs a list\n");
				return -EINVAL;
			}
			err = virtiofsd_o_list(list, out);
		} else {
			fprintf(stderr, "virtiofsd: unexpected argument '%s'\n",
				arg);
			err = -EINVAL;
		}
		if (err == 1)
			virtiofsd_usage();
		if (err)
			return err;
	}
	if (out->print_capabilities)
		return 0;
	if (!out->shared_dir || !*out->shared_dir) {
		fprintf(stderr, "virtiofsd: --shared-dir DIR is required\n");
		return -EINVAL;
	}
	if (!out->socket_path == (out->fd < 0)) {
		fprintf(stderr, "virtiofsd: exactly one of --socket-path and "
				"--fd is required\n");
		return -EINVAL;
	}
	if (out->socket_path &&
	    strlen(out->socket_path) >=
		    sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "virtiofsd: --socket-path: too long\n");
		return -EINVAL;
	}
	return 0;
}

/* Binds and listens on path; a stale socket there is replaced. */
static int virtiofsd_listen(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, err;

	strcpy(addr.sun_path, path);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, 1) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* The connection to serve: accepted on a listening socket, else fd itself. */
static int virtiofsd_connection(int fd)
{
	int listening = 0, conn;
	socklen_t len = sizeof(listening);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
		return -errno;
	if (!listening)
		return fd;
	do {
		conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	} while (conn < 0 && errno == EINTR);
	if (conn < 0)
		return -errno;
	close(fd);
	return conn;
}

static uint32_t virtiofsd_serve(void *ctx, const struct vq_chain *chain)
{
	return fs_server_handle(ctx, chain->iov, chain->nr_readable,
				chain->iov + chain->nr_readable,
				chain->nr_writable);
}

/*
 * Reads and handles one message. Returns 0, or 1 when the front end is
 * gone (a normal end), or a negative errno.
 */
static int virtiofsd_message(struct vu_backend *b, int conn)
{
	struct vu_msg msg, reply;
	int ret = vu_msg_recv(conn, &msg);

	if (ret == -ECONNRESET)
		return 1;
	if (ret) {
		log_error("virtiofsd: cannot read a message: %s",
			  strerror(-ret));
		return ret;
	}
	log_debug("virtiofsd: %s", vu_request_name(msg.hdr.request));
	ret = vu_backend_handle(b, &msg, &reply);
	if (ret < 0)
		return ret;
	if (ret == 1) {
		ret = vu_msg_send(conn, &reply);
		if (ret == -EPIPE || ret == -ECONNRESET)
			return 1;
		if (ret)
			log_error("virtiofsd: cannot reply: %s",
				  strerror(-ret));
	}
	return ret;
}

/* Empties a kick eventfd; false when it had nothing (a spurious wake). */
static bool virtiofsd_drain(int fd)
{
	uint64_t count;

	return read(fd, &count, sizeof(count)) == sizeof(count);
}

/*
 * The loop: the socket and every started ring's kick eventfd. A simple
 * poll(2) loop is enough: one front end, one server, one thread.
 */
static int virtiofsd_loop(struct vu_backend *b, int conn)
{
	struct pollfd pfd[1 + VIRTIOFSD_MAX_QUEUES];
	unsigned int ring[1 + VIRTIOFSD_MAX_QUEUES];
	int ret;

	for (;;) {
		nfds_t n = 1;

		pfd[0] = (struct pollfd){.fd = conn, .events = POLLIN};
		for (unsigned int q = 0; q < b->cfg.nr_queues; q++) {
			int fd = vu_backend_kick_fd(b, q);

			if (fd < 0)
				continue;
			ring[n] = q;
			pfd[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (nfds_t i = 1; i < n; i++)
			if ((pfd[i].revents & POLLIN) &&
			    virtiofsd_drain(pfd[i].fd))
				vu_backend_process(b, ring[i]);
		if (pfd[0].revents) {
			ret = virtiofsd_message(b, conn);
			if (ret)
				return ret > 0 ? 0 : ret;
		}
	}
}

static int virtiofsd_run(const struct virtiofsd_opts *o, struct fs_server *srv)
{
	struct vu_backend_config cfg = {
		.name = "virtiofsd",
		.features = (1ull << VIRTIO_F_VERSION_1) |
			    (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
			    (1ull << VIRTIO_RING_F_EVENT_IDX),
		.nr_queues = VIRTIOFSD_MAX_QUEUES,
		.queue_max_size = VIRTIOFSD_QUEUE_SIZE,
		.serve = virtiofsd_serve,
		.serve_ctx = srv,
	};
	struct vu_backend b;
	int fd = o->fd, conn, err;

	if (o->socket_path) {
		fd = virtiofsd_listen(o->socket_path);
		if (fd < 0) {
			log_error("virtiofsd: %s: cannot listen: %s",
				  o->socket_path, strerror(-fd));
			return 1;
		}
		log_info("virtiofsd: waiting for a front end on %s",
			 o->socket_path);
	}
	conn = virtiofsd_connection(fd);
	if (o->socket_path)
		unlink(o->socket_path); /* one front end; nobody else comes */
	if (conn < 0) {
		log_error("virtiofsd: no front end connected: %s",
			  strerror(-conn));
		close(fd);
		return 1;
	}

	err = vu_backend_init(&b, &cfg);
	if (!err) {
		err = virtiofsd_loop(&b, conn);
		vu_backend_cleanup(&b);
	}
	close(conn);
	if (err) {
		log_error("virtiofsd: %s; stopping", strerror(-err));
		return 1;
	}
	log_info("virtiofsd: the front end disconnected");
	return 0;
}

int virtiofsd_main(int argc, char **argv)
{
	struct virtiofsd_opts o;
	struct fs_server_config fcfg;
	struct fs_server *srv;
	int err = virtiofsd_parse(argc, argv, &o), ret;

	if (err == 1)
		return 0;
	if (err)
		return 2;
	if (o.print_capabilities) {
		/* vhost-user.rst, "Backend program conventions". */
		printf("{\n  \"type\": \"fs\",\n  \"features\": []\n}\n");
		return 0;
	}
	log_threshold = o.log_level;

	fcfg = (struct fs_server_config){
		.dir = o.shared_dir, .readonly = o.readonly, .cache = o.cache};
	if (fs_server_create(&fcfg, &srv))
		return 1;
	ret = virtiofsd_run(&o, srv);
	fs_server_destroy(srv);
	return ret;
}
