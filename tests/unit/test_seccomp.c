/*
 * seccomp: the flag parsers, and each thread kind's filter loaded in a
 * child process: what it allows goes through, what it does not ends the
 * process with status 159 and the log line, or only logs.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/seccomp.h"

static void test_policy_parse(void **state)
{
	enum seccomp_policy p;

	assert_int_equal(seccomp_policy_parse("true", &p), 0);
	assert_int_equal(p, SECCOMP_POLICY_ENFORCE);
	assert_int_equal(seccomp_policy_parse("log", &p), 0);
	assert_int_equal(p, SECCOMP_POLICY_LOG);
	assert_int_equal(seccomp_policy_parse("false", &p), 0);
	assert_int_equal(p, SECCOMP_POLICY_OFF);
	assert_int_equal(seccomp_policy_parse("off", &p), 0);
	assert_int_equal(p, SECCOMP_POLICY_OFF);
	assert_int_equal(seccomp_policy_parse("", &p), -EINVAL);
	assert_int_equal(seccomp_policy_parse("TRUE", &p), -EINVAL);
	assert_int_equal(seccomp_policy_parse("1", &p), -EINVAL);
}

static void test_thread_parse(void **state)
{
	enum seccomp_thread t;

	assert_int_equal(seccomp_thread_parse("vcpu", &t), 0);
	assert_int_equal(t, SECCOMP_THREAD_VCPU);
	assert_int_equal(seccomp_thread_parse("loop", &t), 0);
	assert_int_equal(t, SECCOMP_THREAD_LOOP);
	assert_int_equal(seccomp_thread_parse("api", &t), 0);
	assert_int_equal(t, SECCOMP_THREAD_API);
	assert_int_equal(seccomp_thread_parse("vcpu0", &t), -EINVAL);
	assert_int_equal(seccomp_thread_parse("", &t), -EINVAL);
}

/* The API thread's filter holds the loop's, which holds more than none. */
static void test_table_sizes(void **state)
{
	unsigned int vcpu_calls, vcpu_ioctls, loop_calls, loop_ioctls;
	unsigned int api_calls, api_ioctls;

	seccomp_table_size(SECCOMP_THREAD_VCPU, &vcpu_calls, &vcpu_ioctls);
	seccomp_table_size(SECCOMP_THREAD_LOOP, &loop_calls, &loop_ioctls);
	seccomp_table_size(SECCOMP_THREAD_API, &api_calls, &api_ioctls);
	assert_true(vcpu_calls > 20 && vcpu_ioctls > 10);
	assert_true(loop_calls > vcpu_calls);
	assert_true(api_calls > loop_calls && api_ioctls > loop_ioctls);
}

enum probe {
	PROBE_KVM_RUN,   /* an allowed ioctl on a bad fd: EBADF */
	PROBE_TUNSETIFF, /* a request only set-up may make */
	PROBE_SYSLOG,
	PROBE_SOCKET,
};

/*
 * In a child: installs kind's filter under policy, makes the probe call,
 * exits 0 if it came back. Returns the child's exit status; its stderr
 * goes to err_path.
 */
static int run_probe(enum seccomp_policy policy, enum seccomp_thread kind,
		     enum probe probe, const char *err_path)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen(err_path, "w", stderr))
			_exit(90);
		setvbuf(stderr, NULL, _IONBF, 0);
		if (seccomp_configure(policy, SECCOMP_THREAD_NONE, false) ||
		    seccomp_thread_enter(kind, "probe"))
			_exit(91);
		switch (probe) {
		case PROBE_KVM_RUN:
			if (ioctl(-1, KVM_RUN, 0) == 0 || errno != EBADF)
				_exit(92);
			break;
		case PROBE_TUNSETIFF:
			ioctl(-1, TUNSETIFF, 0);
			break;
		case PROBE_SYSLOG:
			syscall(SYS_syslog, 0, NULL, 0);
			break;
		case PROBE_SOCKET:
			syscall(SYS_socket, -1, 0, 0);
			break;
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void test_filters(void **state)
{
	char path[] = "/tmp/minnow-seccomp-XXXXXX";
	char err[512];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(run_probe(SECCOMP_POLICY_ENFORCE, SECCOMP_THREAD_VCPU,
				   PROBE_KVM_RUN, path),
			 0);
	assert_int_equal(run_probe(SECCOMP_POLICY_ENFORCE, SECCOMP_THREAD_VCPU,
				   PROBE_TUNSETIFF, path),
			 SECCOMP_EXIT_STATUS);
	read_file(path, err, sizeof(err));
	assert_non_null(strstr(err, "minnow: error: seccomp: thread probe "
				    "made forbidden system call 16 (ioctl)"));

	assert_int_equal(run_probe(SECCOMP_POLICY_ENFORCE, SECCOMP_THREAD_VCPU,
				   PROBE_SOCKET, path),
			 SECCOMP_EXIT_STATUS);
	assert_int_equal(run_probe(SECCOMP_POLICY_ENFORCE, SECCOMP_THREAD_LOOP,
				   PROBE_SOCKET, path),
			 0);
	assert_int_equal(run_probe(SECCOMP_POLICY_ENFORCE, SECCOMP_THREAD_API,
				   PROBE_TUNSETIFF, path),
			 0);
	assert_int_equal(run_probe(SECCOMP_POLICY_ENFORCE, SECCOMP_THREAD_API,
				   PROBE_SYSLOG, path),
			 SECCOMP_EXIT_STATUS);
	read_file(path, err, sizeof(err));
	assert_non_null(strstr(err, "call 103 (syslog)"));

	/* Log mode and off: the call goes through. */
	assert_int_equal(run_probe(SECCOMP_POLICY_LOG, SECCOMP_THREAD_VCPU,
				   PROBE_SYSLOG, path),
			 0);
	assert_int_equal(run_probe(SECCOMP_POLICY_OFF, SECCOMP_THREAD_VCPU,
				   PROBE_SYSLOG, path),
			 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_parse),
		cmocka_unit_test(test_thread_parse),
		cmocka_unit_test(test_table_sizes),
		cmocka_unit_test(test_filters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
