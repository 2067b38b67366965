/* I/O buses: registration rules and routing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "devices/bus.h"

struct fake_dev {
	uint64_t last_offset;
	uint32_t last_len;
	bool last_write;
	unsigned int calls;
};

static void fake_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		    bool is_write)
{
	struct fake_dev *d = opaque;

	d->last_offset = offset;
	d->last_len = len;
	d->last_write = is_write;
	d->calls++;
	if (!is_write)
		memset(data, 0x42, len);
}

static void test_routing(void **state)
{
	struct bus bus;
	struct fake_dev a = {0}, b = {0};
	uint8_t data[8];

	bus_init(&bus, "pio");
	assert_int_equal(bus_register(&bus, 0x3f8, 8, "a", fake_io, &a), 0);
	assert_int_equal(bus_register(&bus, 0x60, 1, "b", fake_io, &b), 0);

	assert_true(bus_access(&bus, 0x3fd, data, 1, false));
	assert_int_equal(a.last_offset, 5);
	assert_int_equal(data[0], 0x42);
	assert_true(bus_access(&bus, 0x60, data, 1, true));
	assert_int_equal(b.calls, 1);
	assert_true(b.last_write);

	/* Just outside both: all ones, no device called. */
	memset(data, 0, sizeof(data));
	assert_false(bus_access(&bus, 0x400, data, 4, false));
	assert_int_equal(data[0], 0xff);
	assert_int_equal(data[3], 0xff);
	assert_false(bus_access(&bus, 0x3f7, data, 1, true));
	assert_false(bus_access(&bus, 0x61, data, 1, false));
	assert_int_equal(a.calls, 1);
}

static void test_overlap_refused(void **state)
{
	struct bus bus;
	struct fake_dev d = {0};

	bus_init(&bus, "mmio");
	assert_int_equal(bus_register(&bus, 0x1000, 0x1000, "x", fake_io, &d),
			 0);
	assert_int_equal(bus_register(&bus, 0x1fff, 1, "y", fake_io, &d),
			 -EEXIST);
	assert_int_equal(bus_register(&bus, 0x0, 0x1001, "y", fake_io, &d),
			 -EEXIST);
	assert_int_equal(bus_register(&bus, 0x2000, 1, "y", fake_io, &d), 0);
	assert_int_equal(bus_register(&bus, 0xfff, 1, "z", fake_io, &d), 0);
	assert_int_equal(bus_register(&bus, 0x10, 0, "z", fake_io, &d),
			 -EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX, 2, "z", fake_io, &d),
			 -EINVAL);
	/* Sorted, so lookups find each one. */
	assert_string_equal(bus_find(&bus, 0xfff)->name, "z");
	assert_string_equal(bus_find(&bus, 0x1800)->name, "x");
	assert_string_equal(bus_find(&bus, 0x2000)->name, "y");
	assert_null(bus_find(&bus, 0x2001));
}

static void test_full(void **state)
{
	struct bus bus;
	struct fake_dev d = {0};

	bus_init(&bus, "pio");
	for (unsigned int i = 0; i < BUS_MAX_RANGES; i++)
		assert_int_equal(
			bus_register(&bus, i * 16, 16, "n", fake_io, &d), 0);
	assert_int_equal(bus_register(&bus, 0x10000, 1, "n", fake_io, &d),
			 -ENOSPC);
	for (unsigned int i = 0; i < BUS_MAX_RANGES; i++)
		assert_non_null(bus_find(&bus, i * 16 + 15));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_overlap_refused),
		cmocka_unit_test(test_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
