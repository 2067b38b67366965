/*
 * The device event loop: one thread, one io_uring. Devices submit
 * operations (polls on eventfds, reads and writes on files, taps and
 * sockets, timeouts) and get a completion callback on the loop thread.
 *
 * Threading rule: only the loop thread touches the ring. Other threads reach
 * the loop through file descriptors it polls: KVM ioeventfds for queue
 * notifications, and evloop_wake() for anything else.
 *
 * Each operation is an ev_op embedded in the submitter's own structure;
 * it must stay valid until its final completion (one without
 * IORING_CQE_F_MORE) has been delivered.
 */
#ifndef MINNOW_EVLOOP_H
#define MINNOW_EVLOOP_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct ev_op;

/* res is the CQE result (>= 0 or -errno); flags are the CQE flags. */
typedef void (*ev_complete_fn)(struct ev_op *op, int res, uint32_t flags);

struct ev_op {
	ev_complete_fn complete;
	bool busy; /* submitted and not finally completed */
};

struct evloop {
	struct io_uring ring;
	int wake_fd; /* eventfd for evloop_wake() */
	struct ev_op wake_op;
	uint64_t wake_count;
	bool ready;
	bool stopping;
	unsigned int in_flight; /* ev_ops not finally completed */
	void (*on_wake)(void *ctx);
	void *on_wake_ctx;
};

/*
 * Sets up the ring (entries SQEs) and checks the kernel offers what minnow
 * needs (multishot poll, IORING_FEAT_NODROP, async cancel). Returns 0 or a
 * negative errno with a message naming what is missing.
 */
int evloop_init(struct evloop *loop, unsigned int entries);

/* Cancels what is still in flight, drains it and frees the ring. */
void evloop_destroy(struct evloop *loop);

/*
 * An SQE tied to op, to be filled with io_uring_prep_*() by the caller.
 * Submission happens when the loop next waits. Never returns NULL: when the
 * queue is full it is submitted first.
 */
struct io_uring_sqe *evloop_prep(struct evloop *loop, struct ev_op *op);

/* A multishot poll of fd for mask (POLLIN...); re-armed when it ends. */
void evloop_poll(struct evloop *loop, struct ev_op *op, int fd,
		 unsigned int mask);

/* A one-shot timer firing after ns nanoseconds; ts must outlive it. */
void evloop_timeout(struct evloop *loop, struct ev_op *op,
		    struct __kernel_timespec *ts, uint64_t ns);

/* Asks the kernel to cancel op; its completion still arrives. */
void evloop_cancel(struct evloop *loop, struct ev_op *op);

/*
 * Runs until evloop_stop(). Returns 0, or a negative errno if the ring
 * fails.
 */
int evloop_run(struct evloop *loop);

/* From the loop thread: return from evloop_run() after this batch. */
void evloop_stop(struct evloop *loop);

/*
 * From any thread: makes the loop call on_wake (set with
 * evloop_set_wake_handler) on the loop thread. Async-signal-safe.
 */
void evloop_wake(struct evloop *loop);
void evloop_set_wake_handler(struct evloop *loop, void (*fn)(void *ctx),
			     void *ctx);

#endif
