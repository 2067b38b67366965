/* The event loop: polls, timers, cancellation, and no leaked fds. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/evloop.h"
#include "vmm/util.h"

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

struct counter {
	struct ev_op op;
	struct evloop *loop;
	int fd;
	unsigned int hits;
	int last_res;
	bool stop_after;
};

static void on_event(struct ev_op *op, int res, uint32_t flags)
{
	struct counter *c = container_of(op, struct counter, op);
	uint64_t v;

	c->hits++;
	c->last_res = res;
	if (c->fd >= 0 && res > 0)
		assert_int_equal(read(c->fd, &v, sizeof(v)), sizeof(v));
	if (c->stop_after)
		evloop_stop(c->loop);
}

static void test_poll_and_timer(void **state)
{
	struct evloop loop;
	struct counter ev = {.op.complete = on_event, .fd = -1};
	struct counter timer = {.op.complete = on_event, .fd = -1};
	struct __kernel_timespec ts;
	uint64_t one = 1;
	int before = count_fds();

	assert_int_equal(evloop_init(&loop, 8), 0);
	ev.loop = timer.loop = &loop;
	ev.fd = eventfd(0, EFD_NONBLOCK);
	evloop_poll(&loop, &ev.op, ev.fd, POLLIN);

	/* Two separate wake-ups on the same multishot poll. */
	ev.stop_after = true;
	assert_int_equal(write(ev.fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(evloop_run(&loop), 0);
	assert_int_equal(ev.hits, 1);
	assert_int_equal(write(ev.fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(evloop_run(&loop), 0);
	assert_int_equal(ev.hits, 2);
	assert_true(ev.op.busy);

	/* A timer fires with -ETIME. */
	ev.stop_after = false;
	timer.stop_after = true;
	evloop_timeout(&loop, &timer.op, &ts, 1000000);
	assert_int_equal(evloop_run(&loop), 0);
	assert_int_equal(timer.hits, 1);
	assert_int_equal(timer.last_res, -ETIME);
	assert_false(timer.op.busy);

	/* Destroy cancels the poll still in flight and closes the ring. */
	evloop_destroy(&loop);
	assert_false(ev.op.busy);
	assert_int_equal(ev.last_res, -ECANCELED);
	close(ev.fd);
	assert_int_equal(count_fds(), before);
}

struct waker {
	struct evloop *loop;
	unsigned int calls;
};

static void on_wake(void *ctx)
{
	struct waker *w = ctx;

	w->calls++;
	evloop_stop(w->loop);
}

static void test_wake(void **state)
{
	struct evloop loop;
	struct waker w = {.loop = &loop};

	assert_int_equal(evloop_init(&loop, 8), 0);
	evloop_set_wake_handler(&loop, on_wake, &w);
	evloop_wake(&loop);
	evloop_wake(&loop);
	assert_int_equal(evloop_run(&loop), 0);
	assert_int_equal(w.calls, 1);
	evloop_destroy(&loop);
	/* Harmless after destroy. */
	evloop_wake(&loop);
	evloop_destroy(&loop);
}

static void test_cancel(void **state)
{
	struct evloop loop;
	struct counter ev = {
		.op.complete = on_event, .fd = -1, .stop_after = true};

	assert_int_equal(evloop_init(&loop, 8), 0);
	ev.loop = &loop;
	ev.fd = eventfd(0, EFD_NONBLOCK);
	evloop_poll(&loop, &ev.op, ev.fd, POLLIN);
	evloop_cancel(&loop, &ev.op);
	assert_int_equal(evloop_run(&loop), 0);
	assert_int_equal(ev.last_res, -ECANCELED);
	assert_false(ev.op.busy);
	evloop_destroy(&loop);
	close(ev.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poll_and_timer),
		cmocka_unit_test(test_wake),
		cmocka_unit_test(test_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
