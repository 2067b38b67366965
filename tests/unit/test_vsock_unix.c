/*
 * The hybrid-vsock bridge's listener on its own: clients that never send
 * their CONNECT line are closed at the deadline and give back their
 * waiting slot; a client that does send it reaches the device.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/vsock_unix.h"
#include "vmm/log.h"

#define LINE_TIMEOUT_MS 300u

struct fixture {
	struct evloop loop;
	pthread_mutex_t lock;
	struct vsock_unix bridge;
	pthread_t loop_thread;
	char path[96];
	volatile uint32_t connects; /* host_connect calls */
	volatile uint32_t last_port;
};

static int fake_host_connect(void *ctx, int fd, uint32_t port,
			     const uint8_t *early, uint32_t early_len)
{
	struct fixture *f = ctx;

	(void)fd;
	(void)early;
	(void)early_len;
	f->last_port = port;
	__atomic_add_fetch(&f->connects, 1, __ATOMIC_SEQ_CST);
	return -ECONNREFUSED; /* the bridge closes the client */
}

static void fake_sock_event(void *ctx, struct vsock_unix_sock *sock)
{
	(void)ctx;
	(void)sock;
}

static const struct vsock_unix_ops fake_ops = {
	.host_connect = fake_host_connect,
	.sock_event = fake_sock_event,
	.sock_released = fake_sock_event,
};

static void *loop_main(void *arg)
{
	evloop_run(arg);
	return NULL;
}

static void on_wake(void *ctx)
{
	evloop_stop(ctx);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->path, sizeof(f->path), "/tmp/minnow-vsock-unix-%d.sock",
		 (int)getpid());
	pthread_mutex_init(&f->lock, NULL);
	assert_int_equal(evloop_init(&f->loop, 512), 0);
	assert_int_equal(vsock_unix_init(&f->bridge, f->path, &f->loop,
					 &f->lock, &fake_ops, f),
			 0);
	f->bridge.line_timeout_ms = LINE_TIMEOUT_MS;
	vsock_unix_start(&f->bridge);
	evloop_set_wake_handler(&f->loop, on_wake, &f->loop);
	assert_int_equal(
		pthread_create(&f->loop_thread, NULL, loop_main, &f->loop), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	evloop_wake(&f->loop);
	pthread_join(f->loop_thread, NULL);
	evloop_destroy(&f->loop);
	vsock_unix_destroy(&f->bridge);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

static int dial(const struct fixture *f)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Milliseconds until fd reads end of file, or -1 after limit_ms. */
static long ms_until_eof(int fd, long limit_ms)
{
	uint64_t t0 = clock_now_ns();
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	while (poll(&p, 1, (int)limit_ms) == 1) {
		if (read(fd, &c, 1) <= 0)
			return (long)((clock_now_ns() - t0) / 1000000);
	}
	return -1;
}

static uint32_t nr_clients(struct fixture *f)
{
	uint32_t n;

	pthread_mutex_lock(&f->lock);
	n = f->bridge.nr_clients;
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* A silent client is closed at the deadline, not before, not much after. */
static void test_silent_client_closed(void **state)
{
	struct fixture *f = *state;
	int fd = dial(f);
	long ms = ms_until_eof(fd, 5000);

	assert_true(ms >= (long)LINE_TIMEOUT_MS - 20);
	assert_true(ms <= (long)(LINE_TIMEOUT_MS + VSOCK_UNIX_TICK_MS + 500));
	assert_int_equal(f->connects, 0);
	close(fd);
}

/* Half a line is not enough either. */
static void test_partial_line_closed(void **state)
{
	struct fixture *f = *state;
	int fd = dial(f);

	assert_int_equal(write(fd, "CONNECT 10", 10), 10);
	assert_true(ms_until_eof(fd, 5000) >= 0);
	assert_int_equal(f->connects, 0);
	close(fd);
}

/*
 * Every waiting slot held by a silent client: a dialer is turned away
 * until the deadline frees them, then gets through.
 */
static void test_slots_come_back(void **state)
{
	struct fixture *f = *state;
	int fds[VSOCK_UNIX_MAX_CLIENTS], fd;

	for (unsigned int i = 0; i < VSOCK_UNIX_MAX_CLIENTS; i++)
		fds[i] = dial(f);
	for (int i = 0; i < 200 && nr_clients(f) < VSOCK_UNIX_MAX_CLIENTS; i++)
		usleep(5000);
	assert_int_equal(nr_clients(f), VSOCK_UNIX_MAX_CLIENTS);

	/* Full: this one is dropped at once. */
	fd = dial(f);
	assert_true(ms_until_eof(fd, 2000) >= 0);
	close(fd);

	for (unsigned int i = 0; i < VSOCK_UNIX_MAX_CLIENTS; i++) {
		assert_true(ms_until_eof(fds[i], 5000) >= 0);
		close(fds[i]);
	}
	for (int i = 0; i < 200 && nr_clients(f); i++)
		usleep(5000);
	assert_int_equal(nr_clients(f), 0);

	fd = dial(f);
	assert_int_equal(write(fd, "CONNECT 1024\n", 13), 13);
	assert_true(ms_until_eof(fd, 2000) >= 0);
	assert_int_equal(f->connects, 1);
	assert_int_equal(f->last_port, 1024);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_silent_client_closed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_line_closed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_slots_come_back, setup,
						teardown),
	};

	log_threshold = LOG_ERROR;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
