/*
 * The built-in FUSE server over a temporary directory, driven like a
 * guest's FUSE client: INIT negotiation, the file and directory calls,
 * forgetting, read-only mode, and every escape attempt, each checked on
 * the host side too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_fs_client.h"

struct fixture {
	char dir[64];
	char outside[96];
	struct fs_client c;
};

static char *path(struct fixture *f, const char *name)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s/%s", f->dir, name);
	return buf;
}

static int setup_mode(void **state, bool readonly)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct fs_server_config cfg = {.readonly = readonly,
				       .cache = FS_CACHE_AUTO};

	strcpy(f->dir, "/tmp/minnow-fs-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	/* A file next to the shared directory that must stay untouched. */
	snprintf(f->outside, sizeof(f->outside), "%s-outside", f->dir);
	assert_int_equal(mkdir(f->outside, 0755), 0);
	close(open(path(f, "existing"), O_CREAT | O_WRONLY, 0644));
	cfg.dir = f->dir;
	assert_int_equal(fs_server_create(&cfg, &f->c.srv), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_mode(state, false);
}

static int setup_ro(void **state)
{
	return setup_mode(state, true);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[256];

	fs_server_destroy(f->c.srv);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", f->dir, f->outside);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_init_negotiates_honestly(void **state)
{
	struct fixture *f = *state;
	struct fuse_init_out *o = fsc_payload(&f->c);
	struct fuse_getattr_in gi = {0};

	/* Nothing before INIT. */
	assert_int_equal(fsc_call(&f->c, FUSE_GETATTR, 1, &gi, sizeof(gi), NULL,
				  NULL, NULL, 0),
			 -EIO);
	assert_int_equal(fsc_init(&f->c, 30, 0), -EPROTO);
	assert_int_equal(fsc_init(&f->c, 38,
				  FUSE_ASYNC_READ | FUSE_WRITEBACK_CACHE |
					  FUSE_POSIX_ACL | FUSE_DO_READDIRPLUS),
			 0);
	assert_int_equal(o->major, 7);
	assert_int_equal(o->minor, 31);
	/* Granted only what was offered and is implemented. */
	assert_int_equal(o->flags, FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS);
	assert_int_equal(o->max_write, FS_MAX_IO_BYTES);
	assert_int_equal(f->c.reply_len, 16 + sizeof(*o));
	/* A second INIT is refused. */
	assert_int_equal(fsc_init(&f->c, 31, 0), -EINVAL);
}

static void test_create_write_read(void **state)
{
	struct fixture *f = *state;
	uint64_t node = 0, fh = 0;
	char host[16] = {0};
	int fd;

	assert_int_equal(fsc_init(&f->c, 31, 0), 0);
	assert_int_equal(fsc_create(&f->c, 1, "hello", O_RDWR, &node, &fh), 0);
	assert_int_equal(fsc_write(&f->c, node, fh, 0, "hello world", 11), 0);
	assert_int_equal(((struct fuse_write_out *)fsc_payload(&f->c))->size,
			 11);
	assert_int_equal(fsc_read(&f->c, node, fh, 6, 100), 0);
	assert_int_equal(f->c.hdr.len, 16 + 5);
	assert_memory_equal(fsc_payload(&f->c), "world", 5);

	/* The host sees it. */
	fd = open(path(f, "hello"), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, host, sizeof(host)), 11);
	assert_string_equal(host, "hello world");
	close(fd);

	/* A stale handle after RELEASE. */
	struct fuse_release_in rel = {.fh = fh};

	assert_int_equal(fsc_call(&f->c, FUSE_RELEASE, node, &rel, sizeof(rel),
				  NULL, NULL, NULL, 0),
			 0);
	assert_int_equal(fsc_read(&f->c, node, fh, 0, 10), -EBADF);
}

/* Lists dir through OPENDIR/READDIR(PLUS); returns the names joined. */
static void list_dir(struct fixture *f, uint64_t dir, uint32_t op, char *names,
		     size_t size)
{
	struct fuse_open_in oi = {0};
	struct fuse_read_in ri = {.size = 4096};
	uint64_t fh = 0;

	names[0] = 0;
	assert_int_equal(fsc_call(&f->c, FUSE_OPENDIR, dir, &oi, sizeof(oi),
				  NULL, NULL, NULL, 0),
			 0);
	fh = ((struct fuse_open_out *)fsc_payload(&f->c))->fh;
	ri.fh = fh;
	for (;;) {
		uint8_t *p, *end;

		assert_int_equal(fsc_call(&f->c, op, dir, &ri, sizeof(ri), NULL,
					  NULL, NULL, 0),
				 0);
		p = fsc_payload(&f->c);
		end = (uint8_t *)f->c.rep + f->c.hdr.len;
		if (p == end)
			break;
		while (p < end) {
			struct fuse_dirent *d = (void *)p;
			size_t off = 0;

			if (op == FUSE_READDIRPLUS) {
				d = &((struct fuse_direntplus *)p)->dirent;
				off = FUSE_NAME_OFFSET_DIRENTPLUS -
				      FUSE_NAME_OFFSET;
			}
			strncat(names, d->name, d->namelen);
			strcat(names, ",");
			ri.offset = d->off;
			p += FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + off +
					       d->namelen);
		}
		assert_true(strlen(names) < size);
	}
	struct fuse_release_in rel = {.fh = fh};

	assert_int_equal(fsc_call(&f->c, FUSE_RELEASEDIR, dir, &rel,
				  sizeof(rel), NULL, NULL, NULL, 0),
			 0);
}

static void test_readdir_rename_unlink(void **state)
{
	struct fixture *f = *state;
	struct fuse_mkdir_in mi = {.mode = 0755};
	struct fuse_rename_in rn;
	uint64_t node, fh, sub;
	char names[512];
	int err;

	assert_int_equal(fsc_init(&f->c, 31, FUSE_DO_READDIRPLUS), 0);
	assert_int_equal(fsc_create(&f->c, 1, "a", O_WRONLY, &node, &fh), 0);
	assert_int_equal(fsc_call(&f->c, FUSE_MKDIR, 1, &mi, sizeof(mi), "d",
				  NULL, NULL, 0),
			 0);
	sub = ((struct fuse_entry_out *)fsc_payload(&f->c))->nodeid;

	list_dir(f, 1, FUSE_READDIR, names, sizeof(names));
	assert_non_null(strstr(names, "a,"));
	assert_non_null(strstr(names, "d,"));
	assert_non_null(strstr(names, "existing,"));
	list_dir(f, 1, FUSE_READDIRPLUS, names, sizeof(names));
	assert_non_null(strstr(names, "existing,"));

	/* Rename a into d as b. */
	rn = (struct fuse_rename_in){.newdir = sub};
	assert_int_equal(fsc_call(&f->c, FUSE_RENAME, 1, &rn, sizeof(rn), "a",
				  "b", NULL, 0),
			 0);
	assert_int_equal(access(path(f, "a"), F_OK), -1);
	assert_int_equal(access(path(f, "d/b"), F_OK), 0);
	assert_int_not_equal(fsc_lookup(&f->c, sub, "b", &err), 0);

	assert_int_equal(
		fsc_call(&f->c, FUSE_UNLINK, sub, NULL, 0, "b", NULL, NULL, 0),
		0);
	assert_int_equal(
		fsc_call(&f->c, FUSE_RMDIR, 1, NULL, 0, "d", NULL, NULL, 0), 0);
	assert_int_equal(access(path(f, "d"), F_OK), -1);
}

static void test_escapes_refused(void **state)
{
	struct fixture *f = *state;
	struct fuse_rename_in rn = {.newdir = 1};
	struct fuse_open_in oi = {.flags = O_RDONLY};
	uint64_t link, node, fh;
	int err;

	assert_int_equal(fsc_init(&f->c, 31, 0), 0);
	assert_int_equal(fsc_lookup(&f->c, 1, "..", &err), 0);
	assert_int_equal(err, -EPERM);
	assert_int_equal(fsc_lookup(&f->c, 1, ".", &err), 0);
	assert_int_equal(err, -EPERM);
	assert_int_equal(fsc_lookup(&f->c, 1, "../etc", &err), 0);
	assert_int_equal(err, -EINVAL);

	/* A symlink to /etc is stored, never followed. */
	assert_int_equal(fsc_call(&f->c, FUSE_SYMLINK, 1, NULL, 0, "esc",
				  "/etc", NULL, 0),
			 0);
	link = fsc_lookup(&f->c, 1, "esc", &err);
	assert_int_not_equal(link, 0);
	assert_int_equal(fsc_lookup(&f->c, link, "passwd", &err), 0);
	assert_int_equal(err, -ENOTDIR);
	assert_int_equal(fsc_call(&f->c, FUSE_OPEN, link, &oi, sizeof(oi), NULL,
				  NULL, NULL, 0),
			 -EPERM);
	assert_int_equal(fsc_call(&f->c, FUSE_OPENDIR, link, &oi, sizeof(oi),
				  NULL, NULL, NULL, 0),
			 -ENOTDIR);
	assert_int_equal(fsc_call(&f->c, FUSE_READLINK, link, NULL, 0, NULL,
				  NULL, NULL, 0),
			 0);
	assert_int_equal(f->c.hdr.len, 16 + 4);
	/* Creating through the symlink's name does not follow it either. */
	assert_int_equal(fsc_create(&f->c, 1, "esc", O_WRONLY, &node, &fh),
			 -ELOOP);

	/* Renames out of the tree. */
	assert_int_equal(fsc_call(&f->c, FUSE_RENAME, 1, &rn, sizeof(rn),
				  "existing", "../escaped", NULL, 0),
			 -EINVAL);
	assert_int_equal(fsc_call(&f->c, FUSE_RENAME, 1, &rn, sizeof(rn),
				  "existing", "..", NULL, 0),
			 -EPERM);
	rn.newdir = 999;
	assert_int_equal(fsc_call(&f->c, FUSE_RENAME, 1, &rn, sizeof(rn),
				  "existing", "x", NULL, 0),
			 -ENOENT);
	assert_int_equal(access(path(f, "existing"), F_OK), 0);

	/* A node ID never handed out. */
	struct fuse_getattr_in gi = {0};

	assert_int_equal(fsc_call(&f->c, FUSE_GETATTR, 12345, &gi, sizeof(gi),
				  NULL, NULL, NULL, 0),
			 -ENOENT);
	assert_int_equal(fsc_lookup(&f->c, 12345, "x", &err), 0);
	assert_int_equal(err, -ENOENT);

	/* Nothing appeared outside. */
	DIR *d = opendir(f->outside);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		n++;
	closedir(d);
	assert_int_equal(n, 2);
}

static void test_mknod_device_refused(void **state)
{
	struct fixture *f = *state;
	struct fuse_mknod_in in = {.mode = S_IFCHR | 0600, .rdev = 0x0103};

	assert_int_equal(fsc_init(&f->c, 31, 0), 0);
	assert_int_equal(fsc_call(&f->c, FUSE_MKNOD, 1, &in, sizeof(in), "null",
				  NULL, NULL, 0),
			 -EPERM);
	in.mode = S_IFIFO | 0600;
	assert_int_equal(fsc_call(&f->c, FUSE_MKNOD, 1, &in, sizeof(in), "fifo",
				  NULL, NULL, 0),
			 0);
}

static void test_forget_invalidates(void **state)
{
	struct fixture *f = *state;
	struct fuse_forget_in fi = {.nlookup = 1};
	struct fuse_getattr_in gi = {0};
	uint64_t a, b;
	int err;

	assert_int_equal(fsc_init(&f->c, 31, 0), 0);
	a = fsc_lookup(&f->c, 1, "existing", &err);
	b = fsc_lookup(&f->c, 1, "existing", &err);
	assert_int_equal(a, b);
	assert_int_equal(fsc_call(&f->c, FUSE_FORGET, a, &fi, sizeof(fi), NULL,
				  NULL, NULL, 0),
			 1);
	assert_int_equal(fsc_call(&f->c, FUSE_GETATTR, a, &gi, sizeof(gi), NULL,
				  NULL, NULL, 0),
			 0);
	assert_int_equal(fsc_call(&f->c, FUSE_FORGET, a, &fi, sizeof(fi), NULL,
				  NULL, NULL, 0),
			 1);
	assert_int_equal(fsc_call(&f->c, FUSE_GETATTR, a, &gi, sizeof(gi), NULL,
				  NULL, NULL, 0),
			 -ENOENT);
	/* The root is never forgotten. */
	fi.nlookup = 100;
	fsc_call(&f->c, FUSE_FORGET, 1, &fi, sizeof(fi), NULL, NULL, NULL, 0);
	assert_int_equal(fsc_call(&f->c, FUSE_GETATTR, 1, &gi, sizeof(gi), NULL,
				  NULL, NULL, 0),
			 0);
	/* A looked-up-again file gets a fresh node ID. */
	assert_int_not_equal(fsc_lookup(&f->c, 1, "existing", &err), a);
}

static void test_bad_message_answered(void **state)
{
	struct fixture *f = *state;
	struct fuse_in_header *h = (void *)f->c.req;
	struct iovec in = {f->c.req, sizeof(*h) + 3};
	struct iovec out = {f->c.rep, sizeof(f->c.rep)};
	struct fuse_out_header *o = (void *)f->c.rep;

	assert_int_equal(fsc_init(&f->c, 31, 0), 0);
	*h = (struct fuse_in_header){.len = sizeof(*h) + 4,
				     .opcode = FUSE_LOOKUP,
				     .unique = 42,
				     .nodeid = 1};
	memcpy(h + 1, "abc", 3);
	assert_int_equal(fs_server_handle(f->c.srv, &in, 1, &out, 1), 16);
	assert_int_equal(o->unique, 42);
	assert_int_equal(o->error, -EINVAL);

	/* No NUL within the length. */
	h->len = sizeof(*h) + 3;
	assert_int_equal(fs_server_handle(f->c.srv, &in, 1, &out, 1), 16);
	assert_int_equal(o->error, -EINVAL);

	/* Unknown opcodes are ENOSYS. */
	h->opcode = FUSE_GETLK;
	in.iov_len = h->len = sizeof(*h);
	assert_int_equal(fs_server_handle(f->c.srv, &in, 1, &out, 1), 16);
	assert_int_equal(o->error, -ENOSYS);

	/* No room for even a header: no reply. */
	out.iov_len = 8;
	assert_int_equal(fs_server_handle(f->c.srv, &in, 1, &out, 1), 0);
}

static void test_split_buffers(void **state)
{
	struct fixture *f = *state;
	struct fuse_write_in wi = {.size = 6};
	struct fuse_in_header h = {.len = sizeof(h) + sizeof(wi) + 6,
				   .opcode = FUSE_WRITE,
				   .unique = 9};
	uint8_t rep_hdr[16], rep_body[64];
	struct iovec in[4], out[2];
	uint64_t node = 0, fh = 0;

	assert_int_equal(fsc_init(&f->c, 31, 0), 0);
	assert_int_equal(fsc_create(&f->c, 1, "split", O_RDWR, &node, &fh), 0);
	/* Header, argument and data each in their own buffer, as Linux. */
	h.nodeid = node;
	wi.fh = fh;
	in[0] = (struct iovec){&h, sizeof(h)};
	in[1] = (struct iovec){&wi, sizeof(wi)};
	in[2] = (struct iovec){"abc", 3};
	in[3] = (struct iovec){"def", 3};
	out[0] = (struct iovec){rep_hdr, sizeof(rep_hdr)};
	out[1] = (struct iovec){rep_body, sizeof(rep_body)};
	assert_int_equal(fs_server_handle(f->c.srv, in, 4, out, 2), 24);
	assert_int_equal(fsc_read(&f->c, node, fh, 0, 100), 0);
	assert_memory_equal(fsc_payload(&f->c), "abcdef", 6);
}

/* Many handles at once (the handle map grows) stay distinct and valid. */
static void test_many_handles(void **state)
{
	struct fixture *f = *state;
	struct fuse_open_in oi = {.flags = O_RDONLY};
	struct fuse_release_in rel = {0};
	uint64_t node, fh[300];
	int err;

	assert_int_equal(fsc_init(&f->c, 31, 0), 0);
	node = fsc_lookup(&f->c, 1, "existing", &err);
	for (unsigned int i = 0; i < 300; i++) {
		assert_int_equal(fsc_call(&f->c, FUSE_OPEN, node, &oi,
					  sizeof(oi), NULL, NULL, NULL, 0),
				 0);
		fh[i] = ((struct fuse_open_out *)fsc_payload(&f->c))->fh;
	}
	for (unsigned int i = 0; i < 300; i++) {
		assert_int_equal(fsc_read(&f->c, node, fh[i], 0, 10), 0);
		rel.fh = fh[i];
		assert_int_equal(fsc_call(&f->c, FUSE_RELEASE, node, &rel,
					  sizeof(rel), NULL, NULL, NULL, 0),
				 0);
	}
	/* A directory handle is not a file handle, and the reverse. */
	assert_int_equal(fsc_call(&f->c, FUSE_RELEASEDIR, node, &rel,
				  sizeof(rel), NULL, NULL, NULL, 0),
			 -EBADF);
}

static void test_readonly(void **state)
{
	struct fixture *f = *state;
	struct fuse_mkdir_in mi = {.mode = 0755};
	struct fuse_open_in oi = {.flags = O_WRONLY};
	uint64_t node = 0, fh = 0;
	int err;

	assert_int_equal(fsc_init(&f->c, 31, 0), 0);
	assert_int_equal(fsc_call(&f->c, FUSE_MKDIR, 1, &mi, sizeof(mi), "d",
				  NULL, NULL, 0),
			 -EROFS);
	assert_int_equal(fsc_create(&f->c, 1, "n", O_WRONLY, &node, &fh),
			 -EROFS);
	node = fsc_lookup(&f->c, 1, "existing", &err);
	assert_int_equal(fsc_call(&f->c, FUSE_OPEN, node, &oi, sizeof(oi), NULL,
				  NULL, NULL, 0),
			 -EROFS);
	oi.flags = O_RDONLY;
	assert_int_equal(fsc_call(&f->c, FUSE_OPEN, node, &oi, sizeof(oi), NULL,
				  NULL, NULL, 0),
			 0);
	assert_int_equal(fsc_call(&f->c, FUSE_UNLINK, 1, NULL, 0, "existing",
				  NULL, NULL, 0),
			 -EROFS);
	assert_int_equal(access(path(f, "existing"), F_OK), 0);
	assert_int_equal(access(path(f, "d"), F_OK), -1);
}

static void test_setattr_and_xattr(void **state)
{
	struct fixture *f = *state;
	struct fuse_setattr_in si = {
		.valid = FATTR_SIZE | FATTR_MODE, .size = 1000, .mode = 0600};
	struct fuse_setxattr_in sx = {.size = 3};
	struct fuse_getxattr_in gx = {.size = 0};
	struct stat st;
	uint64_t node = 0;
	int err;

	assert_int_equal(fsc_init(&f->c, 31, 0), 0);
	node = fsc_lookup(&f->c, 1, "existing", &err);
	assert_int_equal(fsc_call(&f->c, FUSE_SETATTR, node, &si, sizeof(si),
				  NULL, NULL, NULL, 0),
			 0);
	assert_int_equal(
		((struct fuse_attr_out *)fsc_payload(&f->c))->attr.size, 1000);
	assert_int_equal(stat(path(f, "existing"), &st), 0);
	assert_int_equal(st.st_size, 1000);
	assert_int_equal(st.st_mode & 07777, 0600);

	err = fsc_call(&f->c, FUSE_SETXATTR, node, &sx, 8, "user.k", NULL,
		       "val", 3);
	if (err == -EOPNOTSUPP || err == -ENOTSUP)
		return; /* tmpfs without user xattrs */
	assert_int_equal(err, 0);
	assert_int_equal(fsc_call(&f->c, FUSE_GETXATTR, node, &gx, sizeof(gx),
				  "user.k", NULL, NULL, 0),
			 0);
	assert_int_equal(((struct fuse_getxattr_out *)fsc_payload(&f->c))->size,
			 3);
	gx.size = 2;
	assert_int_equal(fsc_call(&f->c, FUSE_GETXATTR, node, &gx, sizeof(gx),
				  "user.k", NULL, NULL, 0),
			 -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_negotiates_honestly,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_write_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_readdir_rename_unlink,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_escapes_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mknod_device_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_invalidates, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_message_answered,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_buffers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_many_handles, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup_ro,
						teardown),
		cmocka_unit_test_setup_teardown(test_setattr_and_xattr, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
