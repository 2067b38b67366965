/* The io_uring event loop that runs device back ends on one thread. */
#include "vmm/evloop.h"
#include "vmm/log.h"
#include "vmm/util.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void evloop_wake_complete(struct ev_op *op, int res, uint32_t flags)
{
	struct evloop *loop = container_of(op, struct evloop, wake_op);
	uint64_t count;

	/* A multishot poll that ended (flags without F_MORE) is re-armed. */
	if (!(flags & IORING_CQE_F_MORE) && !loop->stopping)
		evloop_poll(loop, &loop->wake_op, loop->wake_fd, POLLIN);
	if (res < 0)
		return;
	while (read(loop->wake_fd, &count, sizeof(count)) == sizeof(count))
		loop->wake_count += count;
	if (loop->on_wake)
		loop->on_wake(loop->on_wake_ctx);
}

static int evloop_check_features(struct evloop *loop)
{
	struct io_uring_probe *probe;
	static const struct {
		int op;
		const char *name;
	} needed[] = {
		{IORING_OP_POLL_ADD, "POLL_ADD"},
		{IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
		{IORING_OP_TIMEOUT, "TIMEOUT"},
		{IORING_OP_READV, "READV"},
		{IORING_OP_WRITEV, "WRITEV"},
		{IORING_OP_READ, "READ"},
		{IORING_OP_WRITE, "WRITE"},
	};
	int err = 0;

	if (!(loop->ring.features & IORING_FEAT_NODROP)) {
		log_error("evloop: io_uring lacks IORING_FEAT_NODROP "
			  "(Linux 5.5 or later is needed)");
		return -EOPNOTSUPP;
	}
	probe = io_uring_get_probe_ring(&loop->ring);
	if (!probe) {
		log_error("evloop: cannot probe io_uring operations "
			  "(Linux 5.6 or later is needed)");
		return -EOPNOTSUPP;
	}
	for (size_t i = 0; i < ARRAY_SIZE(needed); i++) {
		if (!io_uring_opcode_supported(probe, needed[i].op)) {
			log_error("evloop: io_uring lacks IORING_OP_%s",
				  needed[i].name);
			err = -EOPNOTSUPP;
		}
	}
	io_uring_free_probe(probe);
	return err;
}

int evloop_init(struct evloop *loop, unsigned int entries)
{
	int err;

	memset(loop, 0, sizeof(*loop));
	loop->wake_fd = -1;
	err = io_uring_queue_init(entries, &loop->ring, 0);
	if (err < 0) {
		log_error("evloop: io_uring_queue_init: %s%s", strerror(-err),
			  err == -EPERM ? " (io_uring disabled by sysctl?)"
					: "");
		return err;
	}
	err = evloop_check_features(loop);
	if (err)
		goto err_ring;

	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0) {
		err = -errno;
		log_error("evloop: eventfd: %s", strerror(-err));
		goto err_ring;
	}
	loop->wake_op.complete = evloop_wake_complete;
	evloop_poll(loop, &loop->wake_op, loop->wake_fd, POLLIN);
	loop->ready = true;
	return 0;

err_ring:
	io_uring_queue_exit(&loop->ring);
	return err;
}

struct io_uring_sqe *evloop_prep(struct evloop *loop, struct ev_op *op)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(&loop->ring)))
		io_uring_submit(&loop->ring);
	io_uring_sqe_set_data(sqe, op);
	if (!op->busy)
		loop->in_flight++;
	op->busy = true;
	return sqe;
}

void evloop_poll(struct evloop *loop, struct ev_op *op, int fd,
		 unsigned int mask)
{
	io_uring_prep_poll_multishot(evloop_prep(loop, op), fd, mask);
}

void evloop_timeout(struct evloop *loop, struct ev_op *op,
		    struct __kernel_timespec *ts, uint64_t ns)
{
	ts->tv_sec = (long long)(ns / 1000000000ull);
	ts->tv_nsec = (long long)(ns % 1000000000ull);
	io_uring_prep_timeout(evloop_prep(loop, op), ts, 0, 0);
}

void evloop_cancel(struct evloop *loop, struct ev_op *op)
{
	struct io_uring_sqe *sqe;

	if (!op->busy)
		return;
	while (!(sqe = io_uring_get_sqe(&loop->ring)))
		io_uring_submit(&loop->ring);
	/* The cancel's own completion carries no ev_op. */
	io_uring_prep_cancel(sqe, op, 0);
	io_uring_sqe_set_data(sqe, NULL);
}

/* Delivers every ready completion; returns how many. */
static unsigned int evloop_reap(struct evloop *loop)
{
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0;

	io_uring_for_each_cqe (&loop->ring, head, cqe) {
		struct ev_op *op = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		uint32_t flags = cqe->flags;

		seen++;
		if (!op)
			continue;
		if (!(flags & IORING_CQE_F_MORE)) {
			op->busy = false;
			loop->in_flight--;
		}
		/* The callback may submit; the CQE is not touched after. */
		op->complete(op, res, flags);
	}
	io_uring_cq_advance(&loop->ring, seen);
	return seen;
}

int evloop_run(struct evloop *loop)
{
	loop->stopping = false;
	while (!loop->stopping) {
		int err = io_uring_submit_and_wait(&loop->ring, 1);

		if (err < 0 && err != -EINTR && err != -EAGAIN &&
		    err != -EBUSY) {
			log_error("evloop: io_uring_submit_and_wait: %s",
				  strerror(-err));
			return err;
		}
		evloop_reap(loop);
	}
	return 0;
}

void evloop_stop(struct evloop *loop)
{
	loop->stopping = true;
}

void evloop_wake(struct evloop *loop)
{
	uint64_t one = 1;
	ssize_t n;

	if (!loop->ready)
		return;
	n = write(loop->wake_fd, &one, sizeof(one));
	(void)n; /* a full counter already means "wake up" */
}

void evloop_set_wake_handler(struct evloop *loop, void (*fn)(void *ctx),
			     void *ctx)
{
	loop->on_wake = fn;
	loop->on_wake_ctx = ctx;
}

void evloop_destroy(struct evloop *loop)
{
	struct io_uring_sqe *sqe;

	if (!loop->ready)
		return;
	loop->stopping = true;

	/* Cancel everything still in flight and wait for it to finish. */
	if (loop->in_flight) {
		while (!(sqe = io_uring_get_sqe(&loop->ring)))
			io_uring_submit(&loop->ring);
		io_uring_prep_cancel(sqe, NULL, IORING_ASYNC_CANCEL_ANY);
		io_uring_sqe_set_data(sqe, NULL);
	}
	while (loop->in_flight) {
		if (io_uring_submit_and_wait(&loop->ring, 1) < 0)
			break;
		evloop_reap(loop);
	}
	io_uring_queue_exit(&loop->ring);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	memset(loop, 0, sizeof(*loop));
	loop->wake_fd = -1;
}
