/*
 * fs_msg_parse(): FUSE requests of the right shape are accepted, and every
 * way a request's lengths and names can disagree gets its error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "devices/fs_msg.h"

static uint64_t buf[FS_MSG_MAX_BYTES / 8 + 8];

/* Builds header + arg + tail bytes in buf; returns the total length. */
static size_t build(uint32_t opcode, const void *arg, size_t arg_len,
		    const void *tail, size_t tail_len)
{
	struct fuse_in_header *h = (struct fuse_in_header *)buf;
	size_t len = sizeof(*h) + arg_len + tail_len;

	memset(buf, 0, sizeof(buf));
	*h = (struct fuse_in_header){.len = (uint32_t)len,
				     .opcode = opcode,
				     .unique = 77,
				     .nodeid = 1};
	if (arg_len)
		memcpy((uint8_t *)buf + sizeof(*h), arg, arg_len);
	if (tail_len)
		memcpy((uint8_t *)buf + sizeof(*h) + arg_len, tail, tail_len);
	return len;
}

static void test_lookup(void **state)
{
	struct fs_msg m;
	size_t len = build(FUSE_LOOKUP, NULL, 0, "name", 5);

	assert_int_equal(fs_msg_parse(buf, len, len, &m), 0);
	assert_int_equal(m.hdr.unique, 77);
	assert_string_equal(m.name, "name");
	assert_null(m.name2);
}

static void test_name_without_nul(void **state)
{
	struct fs_msg m;
	size_t len = build(FUSE_LOOKUP, NULL, 0, "name", 4);

	assert_int_equal(fs_msg_parse(buf, len, len, &m), -EINVAL);
	/* The unique is still there to answer with. */
	assert_int_equal(m.hdr.unique, 77);
}

static void test_empty_name_and_trailing_bytes(void **state)
{
	struct fs_msg m;
	size_t len = build(FUSE_UNLINK, NULL, 0, "", 1);

	assert_int_equal(fs_msg_parse(buf, len, len, &m), -EINVAL);
	len = build(FUSE_UNLINK, NULL, 0, "a\0b", 4);
	assert_int_equal(fs_msg_parse(buf, len, len, &m), -EINVAL);
}

static void test_rename_two_names(void **state)
{
	struct fuse_rename_in in = {.newdir = 5};
	struct fs_msg m;
	size_t len = build(FUSE_RENAME, &in, sizeof(in), "old\0new", 8);

	assert_int_equal(fs_msg_parse(buf, len, len, &m), 0);
	assert_string_equal(m.name, "old");
	assert_string_equal(m.name2, "new");
	len = build(FUSE_RENAME, &in, sizeof(in), "old\0new", 7);
	assert_int_equal(fs_msg_parse(buf, len, len, &m), -EINVAL);
}

static void test_header_len_disagrees(void **state)
{
	struct fuse_getattr_in in = {0};
	struct fs_msg m;
	size_t len = build(FUSE_GETATTR, &in, sizeof(in), NULL, 0);

	assert_int_equal(fs_msg_parse(buf, len, len, &m), 0);
	assert_int_equal(fs_msg_parse(buf, len, len + 8, &m), -EINVAL);
	/* An argument structure cut short. */
	len = build(FUSE_GETATTR, &in, sizeof(in) - 4, NULL, 0);
	assert_int_equal(fs_msg_parse(buf, len, len, &m), -EINVAL);
	/* Extra bytes after a fixed-size argument. */
	len = build(FUSE_GETATTR, &in, sizeof(in), "xx", 2);
	assert_int_equal(fs_msg_parse(buf, len, len, &m), -EINVAL);
}

static void test_short_header(void **state)
{
	struct fs_msg m;

	assert_int_equal(fs_msg_parse(buf, 39, 39, &m), -EPROTO);
	assert_int_equal(m.hdr.unique, 0);
}

static void test_unknown_opcode(void **state)
{
	struct fs_msg m;
	size_t len = build(FUSE_GETLK, NULL, 0, NULL, 0);

	assert_int_equal(fs_msg_parse(buf, len, len, &m), -ENOSYS);
	len = build(100000, NULL, 0, NULL, 0);
	assert_int_equal(fs_msg_parse(buf, len, len, &m), -ENOSYS);
}

static void test_write_data_stays_behind(void **state)
{
	struct fuse_write_in in = {.size = 4096};
	struct fs_msg m;
	size_t len = build(FUSE_WRITE, &in, sizeof(in), NULL, 0);

	/* Only the header and fuse_write_in were copied. */
	assert_int_equal(fs_msg_parse(buf, len, len + 4096, &m), -EINVAL);
	((struct fuse_in_header *)buf)->len = (uint32_t)len + 4096;
	assert_int_equal(fs_msg_parse(buf, len, len + 4096, &m), 0);
	assert_int_equal(m.write_len, 4096);
	/* size disagreeing with what arrived */
	assert_int_equal(fs_msg_parse(buf, len, len + 4095, &m), -EINVAL);
}

static void test_too_big(void **state)
{
	struct fs_msg m;
	size_t total = FS_MSG_MAX_BYTES + 100;

	build(FUSE_LOOKUP, NULL, 0, "x", 2);
	((struct fuse_in_header *)buf)->len = (uint32_t)total;
	assert_int_equal(fs_msg_parse(buf, FS_MSG_MAX_BYTES, total, &m),
			 -E2BIG);
}

static void test_setxattr_value_size(void **state)
{
	struct fuse_setxattr_in in = {.size = 3};
	struct fs_msg m;
	size_t len = build(FUSE_SETXATTR, &in, 8, "user.a\0abc", 10);

	assert_int_equal(fs_msg_parse(buf, len, len, &m), 0);
	assert_string_equal(m.name, "user.a");
	assert_int_equal(m.data_len, 3);
	assert_memory_equal(m.data, "abc", 3);
	len = build(FUSE_SETXATTR, &in, 8, "user.a\0ab", 9);
	assert_int_equal(fs_msg_parse(buf, len, len, &m), -EINVAL);
}

static void test_batch_forget_count(void **state)
{
	uint8_t tail[sizeof(struct fuse_batch_forget_in) +
		     2 * sizeof(struct fuse_forget_one)] = {0};
	struct fuse_batch_forget_in *in = (void *)tail;
	struct fs_msg m;
	size_t len;

	in->count = 2;
	len = build(FUSE_BATCH_FORGET, tail, sizeof(tail), NULL, 0);
	assert_int_equal(fs_msg_parse(buf, len, len, &m), 0);
	assert_int_equal(m.data_len, 32);
	in->count = 3;
	len = build(FUSE_BATCH_FORGET, tail, sizeof(tail), NULL, 0);
	assert_int_equal(fs_msg_parse(buf, len, len, &m), -EINVAL);
	in->count = UINT32_MAX;
	len = build(FUSE_BATCH_FORGET, tail, sizeof(tail), NULL, 0);
	assert_int_equal(fs_msg_parse(buf, len, len, &m), -EINVAL);
}

static void test_init_sizes(void **state)
{
	struct fuse_init_in in = {.major = 7, .minor = 31};
	struct fs_msg m;
	size_t len = build(FUSE_INIT, &in, 16, NULL, 0);

	assert_int_equal(fs_msg_parse(buf, len, len, &m), 0);
	assert_int_equal(m.arg_len, 16);
	len = build(FUSE_INIT, &in, sizeof(in), NULL, 0);
	assert_int_equal(fs_msg_parse(buf, len, len, &m), 0);
	len = build(FUSE_INIT, &in, 12, NULL, 0);
	assert_int_equal(fs_msg_parse(buf, len, len, &m), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_name_without_nul),
		cmocka_unit_test(test_empty_name_and_trailing_bytes),
		cmocka_unit_test(test_rename_two_names),
		cmocka_unit_test(test_header_len_disagrees),
		cmocka_unit_test(test_short_header),
		cmocka_unit_test(test_unknown_opcode),
		cmocka_unit_test(test_write_data_stays_behind),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_setxattr_value_size),
		cmocka_unit_test(test_batch_forget_count),
		cmocka_unit_test(test_init_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
