/* Guest memory: layout around the MMIO hole and translation bounds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmm/gmem.h"
#include "vmm/util.h"

static void test_small_layout(void **state)
{
	struct gmem gm;

	assert_int_equal(gmem_init(&gm, 64 * MIB, false), 0);
	assert_int_equal(gm.nr_regions, 1);
	assert_int_equal(gmem_low_end(&gm), 64 * MIB);
	assert_non_null(gmem_ptr(&gm, 0, 64 * MIB));
	assert_ptr_equal(gmem_ptr(&gm, 4096, 8), gm.base + 4096);
	gmem_destroy(&gm);
}

static void test_bounds(void **state)
{
	struct gmem gm;

	assert_int_equal(gmem_init(&gm, 2 * MIB, false), 0);
	/* Last byte is fine; one past it is not. */
	assert_non_null(gmem_ptr(&gm, 2 * MIB - 1, 1));
	assert_null(gmem_ptr(&gm, 2 * MIB - 1, 2));
	assert_null(gmem_ptr(&gm, 2 * MIB, 1));
	/* Empty ranges and ranges that wrap around are refused. */
	assert_null(gmem_ptr(&gm, 0, 0));
	assert_null(gmem_ptr(&gm, UINT64_MAX, 2));
	assert_null(gmem_ptr(&gm, 1, UINT64_MAX));
	assert_null(gmem_ptr(&gm, 0, UINT64_MAX));
	gmem_destroy(&gm);
}

static void test_hole_split(void **state)
{
	struct gmem gm;
	uint8_t byte = 0x5a, back = 0;

	/* 3.5 GiB: 3 GiB below the hole, 512 MiB above 4 GiB. Not touched. */
	assert_int_equal(gmem_init(&gm, 3584 * MIB, false), 0);
	assert_int_equal(gm.nr_regions, 2);
	assert_int_equal(gmem_low_end(&gm), GMEM_MMIO_HOLE_START);
	assert_int_equal(gm.regions[1].gpa, GMEM_4GIB);
	assert_int_equal(gm.regions[1].size, 512 * MIB);

	/* The hole is not RAM, and no range may span it. */
	assert_null(gmem_ptr(&gm, GMEM_MMIO_HOLE_START, 1));
	assert_null(gmem_ptr(&gm, GMEM_MMIO_HOLE_START - 1, 2));
	assert_null(gmem_ptr(&gm, GMEM_4GIB - 1, 2));
	assert_non_null(gmem_ptr(&gm, GMEM_4GIB, 512 * MIB));
	assert_null(gmem_ptr(&gm, GMEM_4GIB, 512 * MIB + 1));

	/* High RAM maps right after low RAM in the memfd. */
	assert_ptr_equal(gmem_ptr(&gm, GMEM_4GIB, 1),
			 gm.base + GMEM_MMIO_HOLE_START);
	assert_int_equal(gmem_write(&gm, GMEM_4GIB + 7, &byte, 1), 0);
	assert_int_equal(gmem_read(&gm, &back, GMEM_4GIB + 7, 1), 0);
	assert_int_equal(back, 0x5a);
	assert_int_equal(gmem_read(&gm, &back, GMEM_MMIO_HOLE_START, 1),
			 -EFAULT);
	gmem_destroy(&gm);
}

static void test_bad_sizes(void **state)
{
	struct gmem gm;

	assert_int_equal(gmem_init(&gm, 0, false), -EINVAL);
	assert_int_equal(gmem_init(&gm, 3 * MIB, false), -EINVAL);
	assert_int_equal(gm.fd, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_layout),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_hole_split),
		cmocka_unit_test(test_bad_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
