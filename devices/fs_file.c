/*
 * The file server's open files and directories: OPEN and CREATE's handle,
 * READ and WRITE straight between the file and the transport's buffers,
 * directory listings, and extended attributes.
 */
#include "devices/fs_server_impl.h"
#include "vmm/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The most iovecs one READ or WRITE is split into. */
#define FS_IOV_MAX 1024

uint32_t fs_open_reply_flags(const struct fs_server *s)
{
	switch (s->cache) {
	case FS_CACHE_NEVER:
		return FOPEN_DIRECT_IO;
	case FS_CACHE_ALWAYS:
		return FOPEN_KEEP_CACHE;
	case FS_CACHE_AUTO:
		break;
	}
	return 0;
}

static int fs_reply_open(struct fs_server *s, int fd, bool is_dir,
			 uint32_t open_flags)
{
	struct fuse_open_out *o = (struct fuse_open_out *)s->reply;
	int err;

	memset(o, 0, sizeof(*o));
	err = fs_handle_add(&s->t, fd, is_dir, &o->fh);
	if (err) {
		close(fd);
		return err;
	}
	o->open_flags = open_flags;
	return sizeof(*o);
}

int fs_op_open(struct fs_server *s, const struct fs_msg *m,
	       struct fs_inode *ino)
{
	const struct fuse_open_in *in = m->arg;
	int flags = fs_open_flags((int)in->flags) & ~O_EXCL;
	int fd;

	/* Special files are the guest kernel's; directories use OPENDIR. */
	if (ino->type != S_IFREG)
		return ino->type == S_IFDIR ? -EISDIR : -EPERM;
	if (s->readonly &&
	    ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)))
		return -EROFS;
	fd = fs_reopen(s, ino, flags);
	if (fd < 0)
		return fd;
	return fs_reply_open(s, fd, false, fs_open_reply_flags(s));
}

/*
 * READ: preadv() straight into the reply buffers after the header.
 * TODO(fs-uring): synchronous on the caller's thread; an io_uring read
 * into the same iovecs would let the event loop go on meanwhile. Kept
 * synchronous until the device completes requests out of order.
 */
int fs_op_read(struct fs_server *s, const struct fs_msg *m,
	       struct fs_inode *ino)
{
	const struct fuse_read_in *in = m->arg;
	struct fs_handle *h = fs_handle_get(&s->t, in->fh, false);
	struct iovec iov[FS_IOV_MAX];
	size_t want, space;
	unsigned int n = 0;
	ssize_t got;

	if (!h)
		return -EBADF;
	if (in->offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	space = s->out_bytes - sizeof(struct fuse_out_header);
	want = fs_iov_slice(s->out, s->nr_out, sizeof(struct fuse_out_header),
			    MIN(MIN((size_t)in->size, space), FS_MAX_IO_BYTES),
			    iov, FS_IOV_MAX);
	while (n < FS_IOV_MAX && iov[n].iov_len)
		n++;
	if (!want)
		return 0;
	got = preadv(h->fd, iov, (int)n, (off_t)in->offset);
	if (got < 0)
		return -errno;
	s->direct = true;
	return (int)got;
}

/* WRITE: pwritev() straight from the request buffers after the args. */
int fs_op_write(struct fs_server *s, const struct fs_msg *m,
		struct fs_inode *ino)
{
	const struct fuse_write_in *in = m->arg;
	struct fs_handle *h = fs_handle_get(&s->t, in->fh, false);
	struct fuse_write_out *o = (struct fuse_write_out *)s->reply;
	struct iovec iov[FS_IOV_MAX];
	size_t skip = sizeof(struct fuse_in_header) + sizeof(*in);
	unsigned int n = 0;
	ssize_t done;

	if (!h)
		return -EBADF;
	if (in->offset > (uint64_t)INT64_MAX || m->write_len > FS_MAX_IO_BYTES)
		return -EINVAL;
	fs_iov_slice(s->in, s->nr_in, skip, m->write_len, iov, FS_IOV_MAX);
	while (n < FS_IOV_MAX && iov[n].iov_len)
		n++;
	done = pwritev(h->fd, iov, (int)n, (off_t)in->offset);
	if (done < 0)
		return -errno;
	*o = (struct fuse_write_out){.size = (uint32_t)done};
	return sizeof(*o);
}

int fs_op_release(struct fs_server *s, const struct fs_msg *m,
		  struct fs_inode *ino)
{
	const struct fuse_release_in *in = m->arg;

	return fs_handle_remove(&s->t, in->fh, false);
}

int fs_op_releasedir(struct fs_server *s, const struct fs_msg *m,
		     struct fs_inode *ino)
{
	const struct fuse_release_in *in = m->arg;

	return fs_handle_remove(&s->t, in->fh, true);
}

static int fs_sync(struct fs_server *s, const struct fs_msg *m, bool is_dir)
{
	const struct fuse_fsync_in *in = m->arg;
	struct fs_handle *h = fs_handle_get(&s->t, in->fh, is_dir);
	int err;

	if (!h)
		return -EBADF;
	/* FUSE_FSYNC_FDATASYNC: data only. */
	err = (in->fsync_flags & 1) ? fdatasync(h->fd) : fsync(h->fd);
	return err ? -errno : 0;
}

int fs_op_fsync(struct fs_server *s, const struct fs_msg *m,
		struct fs_inode *ino)
{
	return fs_sync(s, m, false);
}

int fs_op_fsyncdir(struct fs_server *s, const struct fs_msg *m,
		   struct fs_inode *ino)
{
	return fs_sync(s, m, true);
}

/* FLUSH: every write already reached the host file; no locks to drop. */
int fs_op_flush(struct fs_server *s, const struct fs_msg *m,
		struct fs_inode *ino)
{
	const struct fuse_flush_in *in = m->arg;

	return fs_handle_get(&s->t, in->fh, false) ? 0 : -EBADF;
}

int fs_op_fallocate(struct fs_server *s, const struct fs_msg *m,
		    struct fs_inode *ino)
{
	const struct fuse_fallocate_in *in = m->arg;
	struct fs_handle *h = fs_handle_get(&s->t, in->fh, false);

	if (!h)
		return -EBADF;
	if (in->offset > (uint64_t)INT64_MAX ||
	    in->length > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (fallocate(h->fd, (int)in->mode, (off_t)in->offset,
		      (off_t)in->length))
		return -errno;
	return 0;
}

int fs_op_lseek(struct fs_server *s, const struct fs_msg *m,
		struct fs_inode *ino)
{
	const struct fuse_lseek_in *in = m->arg;
	struct fs_handle *h = fs_handle_get(&s->t, in->fh, false);
	struct fuse_lseek_out *o = (struct fuse_lseek_out *)s->reply;
	off_t pos;

	if (!h)
		return -EBADF;
	if (in->whence != SEEK_DATA && in->whence != SEEK_HOLE)
		return -EINVAL;
	pos = lseek(h->fd, (off_t)in->offset, (int)in->whence);
	if (pos < 0)
		return -errno;
	o->offset = (uint64_t)pos;
	return sizeof(*o);
}

int fs_op_copy_file_range(struct fs_server *s, const struct fs_msg *m,
			  struct fs_inode *ino)
{
	const struct fuse_copy_file_range_in *in = m->arg;
	struct fs_handle *src = fs_handle_get(&s->t, in->fh_in, false);
	struct fs_handle *dst = fs_handle_get(&s->t, in->fh_out, false);
	struct fuse_write_out *o = (struct fuse_write_out *)s->reply;
	loff_t off_in = (loff_t)in->off_in, off_out = (loff_t)in->off_out;
	ssize_t n;

	if (!src || !dst || !fs_inode_get(&s->t, in->nodeid_out))
		return -EBADF;
	if (in->off_in > (uint64_t)INT64_MAX ||
	    in->off_out > (uint64_t)INT64_MAX)
		return -EINVAL;
	n = copy_file_range(src->fd, &off_in, dst->fd, &off_out,
			    MIN(in->len, (uint64_t)UINT32_MAX),
			    (unsigned int)in->flags);
	if (n < 0)
		return -errno;
	*o = (struct fuse_write_out){.size = (uint32_t)n};
	return sizeof(*o);
}

int fs_op_opendir(struct fs_server *s, const struct fs_msg *m,
		  struct fs_inode *ino)
{
	uint32_t flags = s->cache == FS_CACHE_ALWAYS ? FOPEN_CACHE_DIR : 0;
	int fd;

	if (ino->type != S_IFDIR)
		return -ENOTDIR;
	fd = fs_reopen(s, ino, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	return fs_reply_open(s, fd, true, flags);
}

/* READDIRPLUS: the entry part of one record ("." and ".." get none). */
static int fs_readdir_entry(struct fs_server *s, struct fs_inode *dir,
			    const struct dirent64 *d, struct fuse_entry_out *e)
{
	int err;

	if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) {
		memset(e, 0, sizeof(*e));
		e->attr.ino = d->d_ino;
		e->attr.mode = (uint32_t)DTTOIF(d->d_type);
		return 0;
	}
	err = fs_lookup_entry(s, dir, d->d_name, e);
	/* Gone since getdents: skip it; anything else ends the listing. */
	return err == -ENOENT ? 1 : err;
}

/* Appends one record at s->reply + pos; returns its size or 0 if full. */
static size_t fs_readdir_put(struct fs_server *s, struct fs_inode *dir,
			     const struct dirent64 *d, size_t pos, size_t size,
			     bool plus, int *err)
{
	size_t namelen = strlen(d->d_name);
	size_t rec = FUSE_DIRENT_ALIGN(
		(plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET) +
		namelen);
	uint8_t *p = s->reply + pos;
	struct fuse_dirent *de;

	if (pos + rec > size)
		return 0;
	if (plus) {
		struct fuse_entry_out *e = (struct fuse_entry_out *)p;

		*err = fs_readdir_entry(s, dir, d, e);
		if (*err)
			return 0;
		de = &((struct fuse_direntplus *)p)->dirent;
	} else {
		de = (struct fuse_dirent *)p;
	}
	de->ino = d->d_ino;
	de->off = (uint64_t)d->d_off;
	de->namelen = (uint32_t)namelen;
	de->type = d->d_type;
	memcpy(de->name, d->d_name, namelen);
	memset(de->name + namelen, 0,
	       rec - (size_t)(de->name - (char *)p) - namelen);
	return rec;
}

/*
 * READDIR and READDIRPLUS: entries from the host directory's position
 * offset (the d_off of the last entry the client has), as many as fit.
 */
int fs_op_readdir(struct fs_server *s, const struct fs_msg *m,
		  struct fs_inode *ino)
{
	const struct fuse_read_in *in = m->arg;
	struct fs_handle *h = fs_handle_get(&s->t, in->fh, true);
	bool plus = m->hdr.opcode == FUSE_READDIRPLUS;
	size_t space = s->out_bytes - sizeof(struct fuse_out_header);
	size_t size = MIN(MIN((size_t)in->size, space),
			  (size_t)FS_MAX_IO_BYTES);
	size_t pos = 0;
	ssize_t n;

	if (!h)
		return -EBADF;
	if (lseek(h->fd, (off_t)in->offset, SEEK_SET) < 0)
		return -errno;
	/* A getdents record is never larger than its FUSE one. */
	n = getdents64(h->fd, s->dirents, size);
	if (n < 0)
		return -errno;
	for (ssize_t off = 0; off < n;) {
		const struct dirent64 *d =
			(const struct dirent64 *)(s->dirents + off);
		int err = 0;
		size_t rec = fs_readdir_put(s, ino, d, pos, size, plus, &err);

		off += d->d_reclen;
		if (err == 1)
			continue;
		if (err < 0 && pos == 0)
			return err;
		if (!rec)
			break;
		pos += rec;
	}
	return (int)pos;
}

/* Extended attributes go through /proc, which a symlink would follow. */
static const char *fs_xattr_path(const struct fs_inode *ino, char *buf,
				 size_t size)
{
	snprintf(buf, size, "/proc/self/fd/%d", ino->fd);
	return buf;
}

int fs_op_setxattr(struct fs_server *s, const struct fs_msg *m,
		   struct fs_inode *ino)
{
	const struct fuse_setxattr_in *in = m->arg;
	char path[40];

	if (ino->type == S_IFLNK)
		return -EPERM;
	if (setxattr(fs_xattr_path(ino, path, sizeof(path)), m->name, m->data,
		     m->data_len, (int)in->flags))
		return -errno;
	return 0;
}

/* Size 0 asks how big the value is; otherwise the value, or ERANGE. */
static int fs_reply_xattr(struct fs_server *s, uint32_t size, ssize_t n)
{
	struct fuse_getxattr_out *o = (struct fuse_getxattr_out *)s->reply;

	if (n < 0)
		return -errno;
	if (size == 0) {
		*o = (struct fuse_getxattr_out){.size = (uint32_t)n};
		return sizeof(*o);
	}
	return (int)n;
}

int fs_op_getxattr(struct fs_server *s, const struct fs_msg *m,
		   struct fs_inode *ino)
{
	const struct fuse_getxattr_in *in = m->arg;
	size_t size = MIN((size_t)in->size, (size_t)FS_REPLY_BYTES);
	char path[40];
	ssize_t n;

	if (ino->type == S_IFLNK)
		return -ENODATA;
	n = getxattr(fs_xattr_path(ino, path, sizeof(path)), m->name,
		     size ? s->reply : NULL, size);
	return fs_reply_xattr(s, in->size, n);
}

int fs_op_listxattr(struct fs_server *s, const struct fs_msg *m,
		    struct fs_inode *ino)
{
	const struct fuse_getxattr_in *in = m->arg;
	size_t size = MIN((size_t)in->size, (size_t)FS_REPLY_BYTES);
	char path[40];
	ssize_t n;

	if (ino->type == S_IFLNK)
		return fs_reply_xattr(s, in->size, 0);
	n = listxattr(fs_xattr_path(ino, path, sizeof(path)),
		      size ? (char *)s->reply : NULL, size);
	return fs_reply_xattr(s, in->size, n);
}

int fs_op_removexattr(struct fs_server *s, const struct fs_msg *m,
		      struct fs_inode *ino)
{
	char path[40];

	if (ino->type == S_IFLNK)
		return -EPERM;
	if (removexattr(fs_xattr_path(ino, path, sizeof(path)), m->name))
		return -errno;
	return 0;
}
