/*
 * FUSE requests as they arrive from a guest: checking the lengths, the
 * argument structure and the names of one request before anything acts
 * on it. Transport-independent; no file system access here.
 *
 * The wire format is the Linux FUSE protocol (include/uapi/linux/fuse.h),
 * little-endian as the guest is x86-64; minnow speaks 7.31 and later.
 */
#ifndef MINNOW_FS_MSG_H
#define MINNOW_FS_MSG_H

#include <linux/fuse.h>
#include <stddef.h>
#include <stdint.h>

/* The oldest protocol minor a client may speak with us. */
#define FS_FUSE_MIN_MINOR 31

/*
 * The largest request copied into host memory: the header, the argument
 * structure, two names (NAME_MAX + 1 each, plus a symlink target of up to
 * PATH_MAX) and a SETXATTR value (XATTR_SIZE_MAX). WRITE data is never
 * copied; it stays in the guest's buffers.
 */
#define FS_MSG_MAX_BYTES (4096u + 4096u + 65536u)

/* The most FORGET entries one BATCH_FORGET may carry. */
#define FS_MSG_MAX_FORGETS ((FS_MSG_MAX_BYTES - 48u) / 16u)

/* One parsed request. Pointers point into the buffer that was parsed. */
struct fs_msg {
	struct fuse_in_header hdr;
	const void *arg;   /* the opcode's argument structure, or NULL */
	uint32_t arg_len;  /* its size as sent (INIT varies) */
	const char *name;  /* first NUL-terminated string, or NULL */
	const char *name2; /* second one (new name, symlink target) */
	const void *data;  /* SETXATTR value, BATCH_FORGET entries */
	uint32_t data_len;
	uint32_t write_len; /* WRITE: data bytes left in the transport */
};

/*
 * Parses one request. buf holds its first buf_len bytes (at least
 * min(total_len, FS_MSG_MAX_BYTES), or for a WRITE at least the header
 * and struct fuse_write_in), 8-byte aligned; total_len is what the
 * transport received in all. Fills m->hdr whenever buf_len >= 40 so the
 * caller can answer with the request's unique.
 *
 * Returns 0, or a negative errno to answer with:
 *  -EPROTO  shorter than a header (m->hdr is zeroed; no reply possible
 *           that the client could match)
 *  -EINVAL  lengths disagree: hdr.len vs total_len, the argument size,
 *           a name without its NUL or with bytes after it, a count that
 *           does not fit
 *  -E2BIG   a request larger than FS_MSG_MAX_BYTES (other than WRITE)
 *  -ENOSYS  an opcode minnow does not implement
 */
int fs_msg_parse(const void *buf, size_t buf_len, size_t total_len,
		 struct fs_msg *m);

/* A short name for an opcode, for logs ("LOOKUP"); "?" if unknown. */
const char *fs_msg_opname(uint32_t opcode);

#endif
