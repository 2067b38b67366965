/*
 * The CMOS RTC read the way Linux's mc146818_get_time() reads it, with a
 * fixed time injected, in BCD and binary and in 24- and 12-hour modes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <time.h>

#include "devices/bus.h"
#include "devices/rtc_cmos.h"

#define INDEX 0x70
#define DATA  0x71

#define SECONDS      0x00
#define MINUTES      0x02
#define HOURS        0x04
#define DAY_OF_WEEK  0x06
#define DAY_OF_MONTH 0x07
#define MONTH        0x08
#define YEAR         0x09
#define REG_A        0x0a
#define REG_B        0x0b
#define REG_C        0x0c
#define REG_D        0x0d
#define CENTURY      0x32

/* Thursday 2024-02-29 13:05:09 UTC. */
#define LEAP_DAY_AFTERNOON ((time_t)1709211909)
/* Thursday 2099-12-31 00:30:59 UTC. */
#define LAST_NIGHT_2099 ((time_t)4102360259)
/* Sunday 2000-01-02 12:00:00 UTC. */
#define NOON_Y2K ((time_t)946814400)

static time_t fixed_clock(void *ctx)
{
	return *(const time_t *)ctx;
}

struct fixture {
	struct bus pio;
	struct rtc_cmos rtc;
	time_t now;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	bus_init(&f->pio, "pio");
	assert_int_equal(rtc_cmos_init(&f->rtc), 0);
	assert_int_equal(rtc_cmos_register(&f->rtc, &f->pio, INDEX), 0);
	f->now = LEAP_DAY_AFTERNOON;
	rtc_cmos_set_clock(&f->rtc, fixed_clock, &f->now);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rtc_cmos_destroy(&f->rtc);
	free(f);
	return 0;
}

/* CMOS_READ(): select with NMI masked, as Linux's x86 code does. */
static uint8_t cmos_read(struct fixture *f, uint8_t reg)
{
	uint8_t index = 0x80 | reg, val = 0;

	assert_true(bus_access(&f->pio, INDEX, &index, 1, true));
	assert_true(bus_access(&f->pio, DATA, &val, 1, false));
	return val;
}

static void cmos_write(struct fixture *f, uint8_t reg, uint8_t val)
{
	assert_true(bus_access(&f->pio, INDEX, &reg, 1, true));
	assert_true(bus_access(&f->pio, DATA, &val, 1, true));
}

static void test_status_registers(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmos_read(f, REG_A), 0x26);
	assert_int_equal(cmos_read(f, REG_B), 0x02);
	assert_int_equal(cmos_read(f, REG_C), 0x00);
	assert_int_equal(cmos_read(f, REG_D), 0x80);

	/* UIP and register D cannot be set; C has no flags to clear. */
	cmos_write(f, REG_A, 0xa6);
	assert_int_equal(cmos_read(f, REG_A), 0x26);
	cmos_write(f, REG_D, 0x00);
	assert_int_equal(cmos_read(f, REG_D), 0x80);
	cmos_write(f, REG_C, 0xff);
	assert_int_equal(cmos_read(f, REG_C), 0x00);
}

static void test_bcd_24h(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmos_read(f, REG_A) & 0x80, 0); /* no UIP */
	assert_int_equal(cmos_read(f, SECONDS), 0x09);
	assert_int_equal(cmos_read(f, MINUTES), 0x05);
	assert_int_equal(cmos_read(f, HOURS), 0x13);
	assert_int_equal(cmos_read(f, DAY_OF_WEEK), 0x05);
	assert_int_equal(cmos_read(f, DAY_OF_MONTH), 0x29);
	assert_int_equal(cmos_read(f, MONTH), 0x02);
	assert_int_equal(cmos_read(f, YEAR), 0x24);
	assert_int_equal(cmos_read(f, CENTURY), 0x20);

	f->now = LAST_NIGHT_2099;
	assert_int_equal(cmos_read(f, SECONDS), 0x59);
	assert_int_equal(cmos_read(f, MINUTES), 0x30);
	assert_int_equal(cmos_read(f, HOURS), 0x00);
	assert_int_equal(cmos_read(f, DAY_OF_MONTH), 0x31);
	assert_int_equal(cmos_read(f, MONTH), 0x12);
	assert_int_equal(cmos_read(f, YEAR), 0x99);
}

static void test_binary_24h(void **state)
{
	struct fixture *f = *state;

	cmos_write(f, REG_B, 0x06);
	assert_int_equal(cmos_read(f, REG_B), 0x06);
	assert_int_equal(cmos_read(f, SECONDS), 9);
	assert_int_equal(cmos_read(f, MINUTES), 5);
	assert_int_equal(cmos_read(f, HOURS), 13);
	assert_int_equal(cmos_read(f, DAY_OF_WEEK), 5);
	assert_int_equal(cmos_read(f, DAY_OF_MONTH), 29);
	assert_int_equal(cmos_read(f, MONTH), 2);
	assert_int_equal(cmos_read(f, YEAR), 24);
	assert_int_equal(cmos_read(f, CENTURY), 20);

	f->now = NOON_Y2K;
	assert_int_equal(cmos_read(f, DAY_OF_WEEK), 1);
	assert_int_equal(cmos_read(f, YEAR), 0);
	assert_int_equal(cmos_read(f, CENTURY), 20);
}

static void test_12h_modes(void **state)
{
	struct fixture *f = *state;

	/* BCD, 12-hour: 13:05 is 1 PM. */
	cmos_write(f, REG_B, 0x00);
	assert_int_equal(cmos_read(f, HOURS), 0x81);
	f->now = LAST_NIGHT_2099; /* 00:30 is 12 AM */
	assert_int_equal(cmos_read(f, HOURS), 0x12);
	f->now = NOON_Y2K; /* 12:00 is 12 PM */
	assert_int_equal(cmos_read(f, HOURS), 0x92);

	/* Binary, 12-hour. */
	cmos_write(f, REG_B, 0x04);
	assert_int_equal(cmos_read(f, HOURS), 0x80 | 12);
	f->now = LEAP_DAY_AFTERNOON;
	assert_int_equal(cmos_read(f, HOURS), 0x80 | 1);
	assert_int_equal(cmos_read(f, MINUTES), 5);
}

static void test_time_writes_ignored(void **state)
{
	struct fixture *f = *state;

	/* mc146818_set_time(): SET, write the time, clear SET. */
	cmos_write(f, REG_B, 0x82);
	cmos_write(f, SECONDS, 0x00);
	cmos_write(f, HOURS, 0x01);
	cmos_write(f, YEAR, 0x99);
	cmos_write(f, REG_B, 0x02);

	assert_int_equal(cmos_read(f, SECONDS), 0x09);
	assert_int_equal(cmos_read(f, HOURS), 0x13);
	assert_int_equal(cmos_read(f, YEAR), 0x24);
}

static void test_cmos_memory(void **state)
{
	struct fixture *f = *state;
	uint8_t val = 0;

	/* Alarm and plain memory bytes keep what the guest writes. */
	cmos_write(f, 0x01, 0x42);
	assert_int_equal(cmos_read(f, 0x01), 0x42);
	cmos_write(f, 0x7f, 0xa5);
	assert_int_equal(cmos_read(f, 0x7f), 0xa5);

	/* Index bit 7 is the NMI mask: 0xff selects 0x7f. */
	cmos_write(f, 0xff, 0x5a);
	assert_int_equal(cmos_read(f, 0x7f), 0x5a);
	assert_int_equal(cmos_read(f, 0x34), 0x00);

	/* The index port is write-only. */
	assert_true(bus_access(&f->pio, INDEX, &val, 1, false));
	assert_int_equal(val, 0xff);
}

static void test_host_clock(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	struct tm tm;
	uint8_t year;

	rtc_cmos_set_clock(&f->rtc, NULL, NULL);
	cmos_write(f, REG_B, 0x06);
	year = cmos_read(f, YEAR);
	assert_non_null(gmtime_r(&now, &tm));
	assert_int_equal(year, (tm.tm_year + 1900) % 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_status_registers),    T(test_bcd_24h),
		T(test_binary_24h),          T(test_12h_modes),
		T(test_time_writes_ignored), T(test_cmos_memory),
		T(test_host_clock),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
