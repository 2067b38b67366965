/* `minnow pod run`'s pieces: arguments, the job, cpio and console frames. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/pod.h"

static int parse(struct pod_opts *o, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	while (args[argc]) {
		argv[argc] = (char *)(uintptr_t)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	return pod_parse_args(argc, argv, o);
}

static void test_args(void **state)
{
	static const char *const ok[] = {
		"run",      "--memory", "128",     "--cpus", "2",
		"--rootfs", "/r",       "--env",   "A=1",    "--verbose",
		"--",       "echo",     "--hello", NULL};
	struct pod_opts o;

	assert_int_equal(parse(&o, ok), 0);
	assert_int_equal(o.mem_mib, 128);
	assert_int_equal(o.cpus, 2);
	assert_string_equal(o.rootfs_dir, "/r");
	assert_true(o.verbose);
	assert_int_equal(o.envc, 1);
	assert_int_equal(o.argc, 2);
	assert_string_equal(o.argv[0], "echo");
	assert_string_equal(o.argv[1], "--hello");
}

static void test_args_refused(void **state)
{
	static const char *const no_root[] = {"run", "--", "true", NULL};
	static const char *const two_roots[] = {
		"run", "--rootfs", "a", "--bundle", "b", "--", "true", NULL};
	static const char *const no_cmd[] = {"run", "--rootfs", "a", NULL};
	static const char *const bad_mem[] = {
		"run", "--memory", "0x10", "--rootfs", "a", "true", NULL};
	static const char *const bad_env[] = {"run", "--env", "A", "--rootfs",
					      "a",   "true",  NULL};
	struct pod_opts o;

	assert_int_equal(parse(&o, no_root), -EINVAL);
	assert_int_equal(parse(&o, two_roots), -EINVAL);
	assert_int_equal(parse(&o, no_cmd), -EINVAL);
	assert_int_equal(parse(&o, bad_mem), -EINVAL);
	assert_int_equal(parse(&o, bad_env), -EINVAL);
}

static void test_job(void **state)
{
	static const char want[] = "arg=sh\0arg=-c\0arg=a b\0env=PATH=/bin\0"
				   "cwd=/tmp\0uid=5\0gid=6\0root=initramfs";
	struct pod_opts o = {
		.argv = {"sh", "-c", "a b"},
		.argc = 3,
		.env = {"PATH=/bin"},
		.envc = 1,
		.cwd = "/tmp",
		.uid = 5,
		.gid = 6,
	};
	char buf[256], tiny[20];

	assert_int_equal(pod_job_encode(&o, "initramfs", buf, sizeof(buf)),
			 sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(pod_job_encode(&o, "initramfs", tiny, sizeof(tiny)),
			 -E2BIG);
}

struct seen {
	char out[256], text[256], x[16];
	size_t out_len, text_len, x_len;
};

static void on_data(void *ctx, char kind, const char *data, size_t len)
{
	struct seen *s = ctx;

	if (kind == 'o') {
		memcpy(s->out + s->out_len, data, len);
		s->out_len += len;
	} else if (kind == 'x') {
		memcpy(s->x + s->x_len, data, len);
		s->x_len += len;
	}
}

static void on_text(void *ctx, const char *data, size_t len)
{
	struct seen *s = ctx;

	memcpy(s->text + s->text_len, data, len);
	s->text_len += len;
}

static void test_frames(void **state)
{
	static const char stream[] = "boot\n\x02o0006:hello\n[ 1.0] k\n"
				     "\x02q12\x02o00zz\x02x0001:7";
	struct seen s = {0};
	struct pod_frames pf = {
		.on_data = on_data, .on_text = on_text, .ctx = &s};

	/* Byte by byte: frames split anywhere still parse. */
	pod_frames_init(&pf);
	for (size_t i = 0; i < sizeof(stream) - 1; i++)
		pod_frames_feed(&pf, stream + i, 1);
	assert_int_equal(s.out_len, 6);
	assert_memory_equal(s.out, "hello\n", 6);
	assert_int_equal(s.x_len, 1);
	assert_int_equal(s.x[0], '7');
	/* Kernel text, and the broken headers, come out as text. */
	s.text[s.text_len] = '\0';
	assert_string_equal(s.text, "boot\n[ 1.0] k\n\x02q12\x02o00zz");
}

static void test_cpio(void **state)
{
	char dir[] = "/tmp/test_pod_XXXXXX", path[64];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct pod_cpio c;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	FILE *w = fopen(path, "w");
	fputs("abc", w);
	fclose(w);
	snprintf(path, sizeof(path), "%s/l", dir);
	assert_int_equal(symlink("f", path), 0);

	pod_cpio_begin(&c, f);
	pod_cpio_entry(&c, "minnow/job", S_IFREG | 0644, "x\0", 2);
	pod_cpio_tree(&c, dir, "rootfs");
	assert_int_equal(pod_cpio_end(&c), 0);
	fclose(f);

	/* Every header 4-aligned: magic at 0, the sizes as written. */
	assert_memory_equal(buf, "070701", 6);
	assert_memory_equal(buf + 6 + 6 * 8, "00000002", 8);  /* filesize */
	assert_memory_equal(buf + 6 + 11 * 8, "0000000b", 8); /* namesize */
	assert_int_equal(len % 4, 0);
	assert_non_null(memmem(buf, len, "rootfs/f\0", 9));
	assert_non_null(memmem(buf, len, "rootfs/l\0", 9));
	assert_non_null(memmem(buf, len, "TRAILER!!!", 10));
	assert_non_null(memmem(buf, len, "abc", 3));
	free(buf);

	snprintf(path, sizeof(path), "%s/f", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/l", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_args_refused),
		cmocka_unit_test(test_job),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_cpio),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
