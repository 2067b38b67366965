/* Checking one FUSE request's lengths, argument structure and names. */
#include "devices/fs_msg.h"
#include "vmm/util.h"

#include <errno.h>
#include <string.h>

_Static_assert(sizeof(struct fuse_in_header) == 40, "fuse_in_header");
_Static_assert(sizeof(struct fuse_out_header) == 16, "fuse_out_header");
_Static_assert(sizeof(struct fuse_write_in) == 40, "fuse_write_in");
_Static_assert(sizeof(struct fuse_read_in) == 40, "fuse_read_in");
_Static_assert(sizeof(struct fuse_setattr_in) == 88, "fuse_setattr_in");
_Static_assert(sizeof(struct fuse_entry_out) == 128, "fuse_entry_out");
_Static_assert(sizeof(struct fuse_forget_one) == 16, "fuse_forget_one");

/* What follows an opcode's argument structure. */
enum fs_tail {
	TAIL_NONE,    /* nothing */
	TAIL_NAME,    /* one NUL-terminated name, ending the request */
	TAIL_NAME2,   /* two of them (RENAME, SYMLINK) */
	TAIL_XATTR,   /* a name, then fuse_setxattr_in.size bytes */
	TAIL_FORGETS, /* fuse_batch_forget_in.count fuse_forget_one */
	TAIL_WRITE,   /* fuse_write_in.size bytes, left in the transport */
};

struct fs_op_shape {
	const char *name;
	uint32_t arg_len; /* 0: no argument structure */
	enum fs_tail tail;
};

#define OP(code, n, a, t) [code] = {.name = n, .arg_len = a, .tail = t}

/* FUSE 7.31 request formats (include/uapi/linux/fuse.h). */
static const struct fs_op_shape fs_ops[] = {
	OP(FUSE_LOOKUP, "LOOKUP", 0, TAIL_NAME),
	OP(FUSE_FORGET, "FORGET", sizeof(struct fuse_forget_in), TAIL_NONE),
	OP(FUSE_GETATTR, "GETATTR", sizeof(struct fuse_getattr_in), TAIL_NONE),
	OP(FUSE_SETATTR, "SETATTR", sizeof(struct fuse_setattr_in), TAIL_NONE),
	OP(FUSE_READLINK, "READLINK", 0, TAIL_NONE),
	OP(FUSE_SYMLINK, "SYMLINK", 0, TAIL_NAME2),
	OP(FUSE_MKNOD, "MKNOD", sizeof(struct fuse_mknod_in), TAIL_NAME),
	OP(FUSE_MKDIR, "MKDIR", sizeof(struct fuse_mkdir_in), TAIL_NAME),
	OP(FUSE_UNLINK, "UNLINK", 0, TAIL_NAME),
	OP(FUSE_RMDIR, "RMDIR", 0, TAIL_NAME),
	OP(FUSE_RENAME, "RENAME", sizeof(struct fuse_rename_in), TAIL_NAME2),
	OP(FUSE_LINK, "LINK", sizeof(struct fuse_link_in), TAIL_NAME),
	OP(FUSE_OPEN, "OPEN", sizeof(struct fuse_open_in), TAIL_NONE),
	OP(FUSE_READ, "READ", sizeof(struct fuse_read_in), TAIL_NONE),
	OP(FUSE_WRITE, "WRITE", sizeof(struct fuse_write_in), TAIL_WRITE),
	OP(FUSE_STATFS, "STATFS", 0, TAIL_NONE),
	OP(FUSE_RELEASE, "RELEASE", sizeof(struct fuse_release_in), TAIL_NONE),
	OP(FUSE_FSYNC, "FSYNC", sizeof(struct fuse_fsync_in), TAIL_NONE),
	/* Without FUSE_SETXATTR_EXT, the 7.31 8-byte form. */
	OP(FUSE_SETXATTR, "SETXATTR", 8, TAIL_XATTR),
	OP(FUSE_GETXATTR, "GETXATTR", sizeof(struct fuse_getxattr_in),
	   TAIL_NAME),
	OP(FUSE_LISTXATTR, "LISTXATTR", sizeof(struct fuse_getxattr_in),
	   TAIL_NONE),
	OP(FUSE_REMOVEXATTR, "REMOVEXATTR", 0, TAIL_NAME),
	OP(FUSE_FLUSH, "FLUSH", sizeof(struct fuse_flush_in), TAIL_NONE),
	/* Checked separately: its size grew in 7.36. */
	OP(FUSE_INIT, "INIT", 0, TAIL_NONE),
	OP(FUSE_OPENDIR, "OPENDIR", sizeof(struct fuse_open_in), TAIL_NONE),
	OP(FUSE_READDIR, "READDIR", sizeof(struct fuse_read_in), TAIL_NONE),
	OP(FUSE_RELEASEDIR, "RELEASEDIR", sizeof(struct fuse_release_in),
	   TAIL_NONE),
	OP(FUSE_FSYNCDIR, "FSYNCDIR", sizeof(struct fuse_fsync_in), TAIL_NONE),
	OP(FUSE_ACCESS, "ACCESS", sizeof(struct fuse_access_in), TAIL_NONE),
	OP(FUSE_CREATE, "CREATE", sizeof(struct fuse_create_in), TAIL_NAME),
	OP(FUSE_DESTROY, "DESTROY", 0, TAIL_NONE),
	OP(FUSE_BATCH_FORGET, "BATCH_FORGET",
	   sizeof(struct fuse_batch_forget_in), TAIL_FORGETS),
	OP(FUSE_FALLOCATE, "FALLOCATE", sizeof(struct fuse_fallocate_in),
	   TAIL_NONE),
	OP(FUSE_READDIRPLUS, "READDIRPLUS", sizeof(struct fuse_read_in),
	   TAIL_NONE),
	OP(FUSE_RENAME2, "RENAME2", sizeof(struct fuse_rename2_in), TAIL_NAME2),
	OP(FUSE_LSEEK, "LSEEK", sizeof(struct fuse_lseek_in), TAIL_NONE),
	OP(FUSE_COPY_FILE_RANGE, "COPY_FILE_RANGE",
	   sizeof(struct fuse_copy_file_range_in), TAIL_NONE),
};

const char *fs_msg_opname(uint32_t opcode)
{
	if (opcode < ARRAY_SIZE(fs_ops) && fs_ops[opcode].name)
		return fs_ops[opcode].name;
	return "?";
}

/*
 * Takes one NUL-terminated string from [*p, end). Returns it and moves *p
 * past its NUL, or NULL when there is no NUL or the string is empty.
 */
static const char *fs_msg_take_name(const char **p, const char *end)
{
	const char *s = *p;
	const char *nul = memchr(s, '\0', (size_t)(end - s));

	if (!nul || nul == s)
		return NULL;
	*p = nul + 1;
	return s;
}

/* The names that follow the argument structure; all must be used up. */
static int fs_msg_parse_names(struct fs_msg *m, const char *p, const char *end,
			      unsigned int count)
{
	m->name = fs_msg_take_name(&p, end);
	if (!m->name)
		return -EINVAL;
	if (count == 2) {
		m->name2 = fs_msg_take_name(&p, end);
		if (!m->name2)
			return -EINVAL;
	}
	return p == end ? 0 : -EINVAL;
}

/* SETXATTR: a name, then exactly fuse_setxattr_in.size value bytes. */
static int fs_msg_parse_xattr(struct fs_msg *m, const char *p, const char *end)
{
	const struct fuse_setxattr_in *in = m->arg;

	m->name = fs_msg_take_name(&p, end);
	if (!m->name || (size_t)(end - p) != in->size)
		return -EINVAL;
	m->data = p;
	m->data_len = in->size;
	return 0;
}

/* BATCH_FORGET: count entries, exactly. */
static int fs_msg_parse_forgets(struct fs_msg *m, const char *p,
				const char *end)
{
	const struct fuse_batch_forget_in *in = m->arg;
	size_t bytes = (size_t)(end - p);

	if (in->count > FS_MSG_MAX_FORGETS ||
	    bytes != (size_t)in->count * sizeof(struct fuse_forget_one))
		return -EINVAL;
	m->data = p;
	m->data_len = (uint32_t)bytes;
	return 0;
}

/*
 * INIT: 7.31 clients send the first 16 bytes (major, minor, readahead,
 * flags); 7.36 and later send 64. Accept anything in between.
 */
static int fs_msg_parse_init(struct fs_msg *m, const char *p, size_t len)
{
	if (len < 16 || len > sizeof(struct fuse_init_in))
		return -EINVAL;
	m->arg = p;
	m->arg_len = (uint32_t)len;
	return 0;
}

/* WRITE: the header and fuse_write_in are in buf, size bytes follow. */
static int fs_msg_parse_write(struct fs_msg *m, size_t total_len)
{
	const struct fuse_write_in *in = m->arg;
	size_t fixed = sizeof(m->hdr) + sizeof(*in);

	if (total_len - fixed != in->size)
		return -EINVAL;
	m->write_len = in->size;
	return 0;
}

static int fs_msg_parse_tail(struct fs_msg *m, const struct fs_op_shape *op,
			     const char *p, const char *end, size_t total_len)
{
	switch (op->tail) {
	case TAIL_NONE:
		return p == end ? 0 : -EINVAL;
	case TAIL_NAME:
		return fs_msg_parse_names(m, p, end, 1);
	case TAIL_NAME2:
		return fs_msg_parse_names(m, p, end, 2);
	case TAIL_XATTR:
		return fs_msg_parse_xattr(m, p, end);
	case TAIL_FORGETS:
		return fs_msg_parse_forgets(m, p, end);
	case TAIL_WRITE:
		return fs_msg_parse_write(m, total_len);
	}
	return -EINVAL;
}

int fs_msg_parse(const void *buf, size_t buf_len, size_t total_len,
		 struct fs_msg *m)
{
	const char *p = buf;
	const struct fs_op_shape *op;
	size_t have;

	memset(m, 0, sizeof(*m));
	if (buf_len < sizeof(m->hdr) || total_len < sizeof(m->hdr))
		return -EPROTO;
	memcpy(&m->hdr, p, sizeof(m->hdr));

	/* The header's length must be what the transport carried. */
	if (m->hdr.len != total_len)
		return -EINVAL;
	if (m->hdr.opcode >= ARRAY_SIZE(fs_ops) || !fs_ops[m->hdr.opcode].name)
		return -ENOSYS;
	op = &fs_ops[m->hdr.opcode];

	/* Only WRITE may leave bytes behind in the transport. */
	have = MIN(buf_len, total_len);
	if (op->tail != TAIL_WRITE && have < total_len)
		return total_len > FS_MSG_MAX_BYTES ? -E2BIG : -EINVAL;
	p += sizeof(m->hdr);
	have -= sizeof(m->hdr);

	if (m->hdr.opcode == FUSE_INIT)
		return fs_msg_parse_init(m, p, have);
	if (have < op->arg_len)
		return -EINVAL;
	if (op->arg_len) {
		m->arg = p;
		m->arg_len = op->arg_len;
	}
	p += op->arg_len;
	have -= op->arg_len;
	return fs_msg_parse_tail(m, op, p, p + have, total_len);
}
