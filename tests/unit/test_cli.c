/* `minnow run` flag parsing: good values, and one clear refusal each. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmm/cli.h"

#define ARGV(...) ((char *[]){"run", __VA_ARGS__, NULL})
#define ARGC(...)                                                              \
	((int)(sizeof((char *[]){"run", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(out, ...) cli_parse_run(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), out)

static void test_defaults(void **state)
{
	struct cli_run r;

	assert_int_equal(PARSE(&r, "--kernel", "k"), 0);
	assert_string_equal(r.kernel, "k");
	assert_null(r.initrd);
	assert_string_equal(r.cmdline, "");
	assert_int_equal(r.cpus, CLI_DEFAULT_CPUS);
	assert_int_equal(r.mem_mib, CLI_DEFAULT_MEM_MIB);
	assert_int_equal(r.serial, SERIAL_STDIO);
	assert_int_equal(r.cpu_template, CPU_TEMPLATE_HOST);
	assert_int_equal(r.log_level, LOG_INFO);
}

static void test_everything(void **state)
{
	struct cli_run r;

	assert_int_equal(PARSE(&r, "--kernel", "k", "--initramfs", "i",
			       "--cmdline", "console=ttyS0", "--cpus", "4",
			       "--memory", "256", "--serial", "file=/tmp/x",
			       "--cpu-template", "minimal", "--log-level",
			       "debug", "--hugepages", "--dump-dtb", "d"),
			 0);
	assert_string_equal(r.initrd, "i");
	assert_string_equal(r.cmdline, "console=ttyS0");
	assert_int_equal(r.cpus, 4);
	assert_int_equal(r.mem_mib, 256);
	assert_int_equal(r.serial, SERIAL_FILE);
	assert_string_equal(r.serial_path, "/tmp/x");
	assert_int_equal(r.cpu_template, CPU_TEMPLATE_MINIMAL);
	assert_int_equal(r.log_level, LOG_DEBUG);
	assert_true(r.hugepages);
	assert_string_equal(r.dump_dtb, "d");
}

static void test_cloud_hypervisor_spellings(void **state)
{
	struct cli_run r;

	assert_int_equal(PARSE(&r, "--kernel", "k", "--cpus", "boot=2",
			       "--memory", "size=1G", "--serial", "off"),
			 0);
	assert_int_equal(r.cpus, 2);
	assert_int_equal(r.mem_mib, 1024);
	assert_int_equal(r.serial, SERIAL_OFF);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--memory", "size=64M"), 0);
	assert_int_equal(r.mem_mib, 64);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--memory", "size=2097152"),
			 0);
	assert_int_equal(r.mem_mib, 2);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--memory", "size=4096K"),
			 0);
	assert_int_equal(r.mem_mib, 4);
}

static void test_refusals(void **state)
{
	struct cli_run r;

	assert_int_equal(PARSE(&r, "--cpus", "1"), -EINVAL); /* no kernel */
	assert_int_equal(PARSE(&r, "--kernel", "k", "--cpus", "0"), -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--cpus", "65"), -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--cpus", "2x"), -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--cpus", "-1"), -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--memory", "3"), -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--memory", "0"), -EINVAL);
	assert_int_equal(
		PARSE(&r, "--kernel", "k", "--memory", "99999999999999999999"),
		-EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--memory", "size=1T"),
			 -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--memory", "size=3M"),
			 -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--memory", "size="),
			 -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--memory", "size=2048G"),
			 -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--serial", "pty"),
			 -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--serial", "file="),
			 -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--cpu-template", "x"),
			 -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--log-level", "loud"),
			 -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "--bogus"), -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel", "k", "stray"), -EINVAL);
	assert_int_equal(PARSE(&r, "--kernel"), -EINVAL);
}

static void test_help(void **state)
{
	struct cli_run r;

	assert_int_equal(PARSE(&r, "--help"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_everything),
		cmocka_unit_test(test_cloud_hypervisor_spellings),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_help),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
