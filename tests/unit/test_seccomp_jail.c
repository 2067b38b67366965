/* --jail SPEC parsing (vmm/jail.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/jail.h"

static void test_dir_only(void **state)
{
	static struct jail_spec j;

	assert_int_equal(jail_spec_parse("/srv/jail", &j), 0);
	assert_string_equal(j.dir, "/srv/jail");
	assert_false(j.has_uid || j.has_gid || j.netns);
	assert_int_equal(j.nofile, 0);
	assert_string_equal(j.cgroup, "");
}

static void test_all_keys(void **state)
{
	static struct jail_spec j;

	assert_int_equal(
		jail_spec_parse(
			"/j,uid=1000,gid=100,netns=on,nofile=256,fsize=64,"
			"cgroup=/sys/fs/cgroup/vm1,memory=512,cpu=150",
			&j),
		0);
	assert_string_equal(j.dir, "/j");
	assert_true(j.has_uid && j.uid == 1000);
	assert_true(j.has_gid && j.gid == 100);
	assert_true(j.netns);
	assert_int_equal(j.nofile, 256);
	assert_int_equal(j.fsize_mib, 64);
	assert_string_equal(j.cgroup, "/sys/fs/cgroup/vm1");
	assert_int_equal(j.memory_mib, 512);
	assert_int_equal(j.cpu_percent, 150);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"uid=5",   /* no directory first */
		"/j,uid=", /* empty number */
		"/j,uid=-1",
		"/j,uid=4294967295", /* (uid_t)-1: "unchanged" */
		"/j,gid=12x",
		"/j,netns=yes",
		"/j,nofile=8",
		"/j,fsize=0",
		"/j,memory=512", /* a limit needs cgroup= */
		"/j,cgroup=relative,cpu=50",
		"/j,cgroup=/c,memory=0",
		"/j,cgroup=/c,cpu=0",
		"/j,colour=blue",
		"/j,uid",
	};
	static struct jail_spec j;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (jail_spec_parse(bad[i], &j) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dir_only),
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
