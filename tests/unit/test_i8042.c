/*
 * The i8042 controller driven the way Linux's i8042 driver probes it, and
 * the reset line the kernel's reboot=k path pulls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "devices/bus.h"
#include "devices/i8042.h"

#define DATA    0x60
#define COMMAND 0x64
#define SPEAKER 0x61

#define STATUS_OBF 0x01
#define STATUS_IBF 0x02
#define STATUS_SYS 0x04

/* The fake power sink: every request, in order. */
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
	struct i8042 kbc;
	struct power_log power;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct power_sink sink;

	assert_non_null(f);
	sink = (struct power_sink){.request = record_power, .ctx = &f->power};
	bus_init(&f->pio, "pio");
	assert_int_equal(i8042_init(&f->kbc, sink), 0);
	assert_int_equal(i8042_register(&f->kbc, &f->pio), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	i8042_destroy(&f->kbc);
	free(f);
	return 0;
}

static void outb(struct fixture *f, uint16_t port, uint8_t val)
{
	assert_true(bus_access(&f->pio, port, &val, 1, true));
}

static uint8_t inb(struct fixture *f, uint16_t port)
{
	uint8_t val = 0;

	assert_true(bus_access(&f->pio, port, &val, 1, false));
	return val;
}

/* i8042_command(): wait for IBF clear, write, then wait for OBF. */
static uint8_t command_with_result(struct fixture *f, uint8_t cmd)
{
	assert_int_equal(inb(f, COMMAND) & STATUS_IBF, 0);
	outb(f, COMMAND, cmd);
	assert_int_equal(inb(f, COMMAND) & STATUS_OBF, STATUS_OBF);
	return inb(f, DATA);
}

static void test_idle_status(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(inb(f, COMMAND), STATUS_SYS);

	/* i8042_flush(): nothing to drain. */
	assert_int_equal(inb(f, COMMAND) & STATUS_OBF, 0);
}

static void test_speaker_port_left_to_kvm(void **state)
{
	struct fixture *f = *state;

	assert_null(bus_find(&f->pio, SPEAKER));
	assert_non_null(bus_find(&f->pio, DATA));
	assert_non_null(bus_find(&f->pio, COMMAND));
}

static void test_linux_probe(void **state)
{
	struct fixture *f = *state;
	uint8_t ctr;

	/* i8042_controller_init(): read the CTR twice, expect it stable. */
	ctr = command_with_result(f, 0x20);
	assert_int_equal(command_with_result(f, 0x20), ctr);
	assert_int_equal(inb(f, COMMAND) & STATUS_OBF, 0);

	/* Keyboard off, interrupt off, then write it back. */
	ctr = (uint8_t)((ctr & ~0x01) | 0x10);
	outb(f, COMMAND, 0x60);
	outb(f, DATA, ctr);
	assert_int_equal(command_with_result(f, 0x20), ctr);

	/* i8042_controller_selftest(). */
	assert_int_equal(command_with_result(f, 0xaa), 0x55);

	/* i8042_toggle_aux() reads the disable bit back through the CTR. */
	outb(f, COMMAND, 0xa7);
	assert_int_equal(command_with_result(f, 0x20) & 0x20, 0x20);
	outb(f, COMMAND, 0xa8);
	assert_int_equal(command_with_result(f, 0x20) & 0x20, 0x00);
	outb(f, COMMAND, 0xae);
	assert_int_equal(command_with_result(f, 0x20) & 0x10, 0x00);

	/* No aux device: its loopback gets no answer. */
	outb(f, COMMAND, 0xd3);
	outb(f, DATA, 0x5a);
	assert_int_equal(inb(f, COMMAND) & STATUS_OBF, 0);

	/* The data port keeps its last byte. */
	assert_int_equal(inb(f, DATA), ctr & ~0x10);
	assert_int_equal(f->power.nr, 0);
}

static void test_reset_once_per_write(void **state)
{
	struct fixture *f = *state;

	outb(f, COMMAND, 0xfe);
	assert_int_equal(f->power.nr, 1);
	assert_int_equal(f->power.event, POWER_EVENT_RESET);
	assert_int_equal(f->power.code, 0);

	outb(f, COMMAND, 0xfe);
	assert_int_equal(f->power.nr, 2);

	/* 0xff pulses no line; 0xfe's data byte does not exist. */
	outb(f, COMMAND, 0xff);
	outb(f, DATA, 0x00);
	assert_int_equal(f->power.nr, 2);
}

static void test_reset_through_output_port(void **state)
{
	struct fixture *f = *state;

	/* Writing the output port with bit 0 clear pulls reset... */
	outb(f, COMMAND, 0xd1);
	outb(f, DATA, 0xdf);
	assert_int_equal(f->power.nr, 0);
	outb(f, COMMAND, 0xd1);
	outb(f, DATA, 0xde);
	assert_int_equal(f->power.nr, 1);
	assert_int_equal(f->power.event, POWER_EVENT_RESET);

	/* ...and a second data byte is for the keyboard, not the port. */
	outb(f, DATA, 0x00);
	assert_int_equal(f->power.nr, 1);
}

static void test_wide_read(void **state)
{
	struct fixture *f = *state;
	uint8_t data[2] = {0, 0};

	assert_true(bus_access(&f->pio, COMMAND, data, 2, false));
	assert_int_equal(data[0], STATUS_SYS);
	assert_int_equal(data[1], 0xff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_idle_status),
		T(test_speaker_port_left_to_kvm),
		T(test_linux_probe),
		T(test_reset_once_per_write),
		T(test_reset_through_output_port),
		T(test_wide_read),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
