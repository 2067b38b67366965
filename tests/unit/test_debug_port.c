/*
 * The debug-exit port as test guests use it (outb, outw or outl of a
 * code), and the progress markers the start-up harness reads back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "boot/layout.h"
#include "devices/bus.h"
#include "devices/debug_port.h"
#include "vmm/log.h"

struct power_log {
	unsigned int nr;
	enum power_event event;
	int code;
};

static void record_power(void *ctx, enum power_event event, int code)
{
	struct power_log *log = ctx;

	log->nr++;
	log->event = event;
	log->code = code;
}

struct fixture {
	struct bus pio;
	struct debug_port debug;
	struct power_log power;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct power_sink sink;

	assert_non_null(f);
	sink = (struct power_sink){.request = record_power, .ctx = &f->power};
	bus_init(&f->pio, "pio");
	assert_int_equal(debug_port_init(&f->debug, sink), 0);
	assert_int_equal(debug_port_register(&f->debug, &f->pio), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	debug_port_destroy(&f->debug);
	free(f);
	return 0;
}

static void out(struct fixture *f, uint16_t port, uint32_t val, uint32_t len)
{
	uint8_t data[4] = {(uint8_t)val, (uint8_t)(val >> 8),
			   (uint8_t)(val >> 16), (uint8_t)(val >> 24)};

	assert_true(bus_access(&f->pio, port, data, len, true));
}

static void test_exit_code(void **state)
{
	struct fixture *f = *state;

	out(f, LAYOUT_PORT_DEBUG_EXIT, 0x2a, 1);
	assert_int_equal(f->power.nr, 1);
	assert_int_equal(f->power.event, POWER_EVENT_DEBUG_EXIT);
	assert_int_equal(f->power.code, 0x2a);

	/* Wider writes: only the low byte is the code. */
	out(f, LAYOUT_PORT_DEBUG_EXIT, 0x1234, 2);
	assert_int_equal(f->power.nr, 2);
	assert_int_equal(f->power.code, 0x34);
	out(f, LAYOUT_PORT_DEBUG_EXIT, 0xdeadbe01, 4);
	assert_int_equal(f->power.nr, 3);
	assert_int_equal(f->power.code, 0x01);

	/* A guest may exit with code 0 too. */
	out(f, LAYOUT_PORT_DEBUG_EXIT, 0x100, 2);
	assert_int_equal(f->power.nr, 4);
	assert_int_equal(f->power.code, 0);
}

static void test_reads_all_ones(void **state)
{
	struct fixture *f = *state;
	uint8_t data[4] = {0};

	assert_true(
		bus_access(&f->pio, LAYOUT_PORT_DEBUG_EXIT, data, 4, false));
	for (int i = 0; i < 4; i++)
		assert_int_equal(data[i], 0xff);
	data[0] = 0;
	assert_true(
		bus_access(&f->pio, LAYOUT_PORT_DEBUG_MARK, data, 1, false));
	assert_int_equal(data[0], 0xff);
	assert_int_equal(f->power.nr, 0);
}

static void test_markers(void **state)
{
	struct fixture *f = *state;
	const struct debug_port_marker *m;
	uint64_t before = clock_now_ns();
	size_t nr;

	m = debug_port_markers(&f->debug, &nr);
	assert_int_equal(nr, 0);

	out(f, LAYOUT_PORT_DEBUG_MARK, 0x01, 1);
	out(f, LAYOUT_PORT_DEBUG_MARK, 0x02, 1);
	out(f, LAYOUT_PORT_DEBUG_MARK, 0x0303, 2); /* not a marker */
	m = debug_port_markers(&f->debug, &nr);
	assert_int_equal(nr, 2);
	assert_int_equal(m[0].code, 0x01);
	assert_int_equal(m[1].code, 0x02);
	assert_true(m[0].time_ns >= before);
	assert_true(m[1].time_ns >= m[0].time_ns);
	assert_true(m[1].time_ns <= clock_now_ns());
	assert_int_equal(debug_port_dropped(&f->debug), 0);
	assert_int_equal(f->power.nr, 0);
}

static void test_marker_overflow(void **state)
{
	struct fixture *f = *state;
	const struct debug_port_marker *m;
	size_t nr;

	for (unsigned int i = 0; i < DEBUG_PORT_MAX_MARKERS + 10; i++)
		out(f, LAYOUT_PORT_DEBUG_MARK, i, 1);

	/* The first ones are kept in order; the overflow is only counted. */
	m = debug_port_markers(&f->debug, &nr);
	assert_int_equal(nr, DEBUG_PORT_MAX_MARKERS);
	for (unsigned int i = 0; i < DEBUG_PORT_MAX_MARKERS; i++)
		assert_int_equal(m[i].code, i);
	assert_int_equal(debug_port_dropped(&f->debug), 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_exit_code),
		T(test_reads_all_ones),
		T(test_markers),
		T(test_marker_overflow),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
