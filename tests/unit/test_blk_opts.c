/* blk_options_parse(): the --disk string, its defaults and its refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "devices/blk_opts.h"

static void test_defaults(void **state)
{
	struct blk_options o;

	(void)state;
	assert_int_equal(blk_options_parse("path=/img", &o), 0);
	assert_string_equal(o.path, "/img");
	assert_false(o.readonly);
	assert_false(o.direct);
	assert_string_equal(o.serial, "");
	assert_int_equal(o.num_queues, BLK_DEFAULT_QUEUES);
	assert_int_equal(o.queue_size, BLK_DEFAULT_QUEUE_SIZE);
}

static void test_all_fields(void **state)
{
	struct blk_options o;

	(void)state;
	assert_int_equal(
		blk_options_parse("path=/a/b.img,readonly=on,direct=on,"
				  "serial=ABC-123,num_queues=4,"
				  "queue_size=128",
				  &o),
		0);
	assert_string_equal(o.path, "/a/b.img");
	assert_true(o.readonly);
	assert_true(o.direct);
	assert_string_equal(o.serial, "ABC-123");
	assert_int_equal(o.num_queues, 4);
	assert_int_equal(o.queue_size, 128);
	assert_int_equal(
		blk_options_parse("readonly=false,path=/x,direct=off", &o), 0);
	assert_false(o.readonly);
	/* 20 characters fit exactly. */
	assert_int_equal(
		blk_options_parse("path=/x,serial=01234567890123456789", &o),
		0);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"readonly=on", /* no path */
		"path=",
		"path=/x,readonly=yes",
		"path=/x,direct=1",
		"path=/x,num_queues=0",
		"path=/x,num_queues=17",
		"path=/x,num_queues=-1",
		"path=/x,num_queues=2x",
		"path=/x,queue_size=100", /* not a power of two */
		"path=/x,queue_size=2",
		"path=/x,queue_size=2048",
		"path=/x,serial=012345678901234567890", /* 21 */
		"path=/x,serial=a b",
		"path=/x,colour=blue",
		"path=/x,readonly",
	};
	struct blk_options o;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (blk_options_parse(bad[i], &o) != -22)
			fail_msg("accepted: \"%s\"", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_fields),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
