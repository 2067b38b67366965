/*
 * The file server's front: taking a request from the transport, checking
 * it, dispatching it and writing the reply; INIT, the forget calls and
 * the attribute calls live here too.
 */
#include "devices/fs_server_impl.h"
#include "vmm/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Attribute and entry lifetimes for each cache mode, in seconds. */
static const uint64_t fs_cache_secs[] = {
	[FS_CACHE_NEVER] = 0,
	[FS_CACHE_AUTO] = 1,
	[FS_CACHE_ALWAYS] = 86400,
};

int fs_cache_parse(const char *name, enum fs_cache *out)
{
	static const char *const names[] = {"never", "auto", "always"};

	for (unsigned int i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum fs_cache)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *fs_fd_name(int fd, char *buf, size_t size)
{
	snprintf(buf, size, "%d", fd);
	return buf;
}

int fs_reopen(struct fs_server *s, const struct fs_inode *ino, int flags)
{
	char name[16];
	int fd;

	/* Through /proc a symlink would be followed: never reopen one. */
	if (ino->type == S_IFLNK)
		return -ELOOP;
	fd = openat(s->proc_fd, fs_fd_name(ino->fd, name, sizeof(name)),
		    flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

size_t fs_iov_slice(const struct iovec *iov, unsigned int nr, size_t skip,
		    size_t max, struct iovec *dst, unsigned int cap)
{
	unsigned int n = 0;
	size_t total = 0;

	for (unsigned int i = 0; i < nr && n < cap && total < max; i++) {
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		len = MIN(len - skip, max - total);
		dst[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		dst[n].iov_len = len;
		skip = 0;
		total += len;
		n++;
	}
	/* Zero-length tail entries mark the end for the caller. */
	for (unsigned int i = n; i < cap; i++)
		dst[i] = (struct iovec){0};
	return total;
}

/* Copies len bytes from src into the out iovecs at byte offset off. */
static void fs_out_copy(struct fs_server *s, size_t off, const void *src,
			size_t len)
{
	const uint8_t *p = src;

	for (unsigned int i = 0; i < s->nr_out && len; i++) {
		size_t l = s->out[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = MIN(l - off, len);
		memcpy((uint8_t *)s->out[i].iov_base + off, p, l);
		p += l;
		len -= l;
		off = 0;
	}
}

void fs_fill_attr(const struct fs_server *s, const struct stat *st,
		  struct fuse_attr *a)
{
	*a = (struct fuse_attr){
		.ino = st->st_ino,
		.size = (uint64_t)st->st_size,
		.blocks = (uint64_t)st->st_blocks,
		.atime = (uint64_t)st->st_atim.tv_sec,
		.mtime = (uint64_t)st->st_mtim.tv_sec,
		.ctime = (uint64_t)st->st_ctim.tv_sec,
		.atimensec = (uint32_t)st->st_atim.tv_nsec,
		.mtimensec = (uint32_t)st->st_mtim.tv_nsec,
		.ctimensec = (uint32_t)st->st_ctim.tv_nsec,
		.mode = st->st_mode,
		.nlink = (uint32_t)st->st_nlink,
		.uid = st->st_uid,
		.gid = st->st_gid,
		.rdev = (uint32_t)st->st_rdev,
		.blksize = (uint32_t)st->st_blksize,
	};
}

void fs_fill_entry(const struct fs_server *s, const struct fs_inode *ino,
		   const struct stat *st, struct fuse_entry_out *e)
{
	uint64_t secs = fs_cache_secs[s->cache];

	*e = (struct fuse_entry_out){
		.nodeid = ino->nodeid,
		/* Node IDs are never reused, so one generation will do. */
		.generation = 0,
		.entry_valid = secs,
		.attr_valid = secs,
	};
	fs_fill_attr(s, st, &e->attr);
}

static int fs_stat_inode(const struct fs_inode *ino, struct stat *st)
{
	if (fstatat(ino->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	return 0;
}

/* Replies fuse_attr_out for ino (or for the open handle fd, if >= 0). */
static int fs_reply_attr(struct fs_server *s, const struct fs_inode *ino,
			 int fd)
{
	struct fuse_attr_out *out = (struct fuse_attr_out *)s->reply;
	struct stat st;
	int err = fd >= 0 ? (fstat(fd, &st) ? -errno : 0)
			  : fs_stat_inode(ino, &st);

	if (err)
		return err;
	*out = (struct fuse_attr_out){.attr_valid = fs_cache_secs[s->cache]};
	fs_fill_attr(s, &st, &out->attr);
	return sizeof(*out);
}

/*
 * INIT (FUSE 7.31): answer with 7.31 and only the flags the server
 * actually honours, of those the client offered.
 */
static int fs_op_init(struct fs_server *s, const struct fs_msg *m,
		      struct fs_inode *ino)
{
	const struct fuse_init_in *in = m->arg;
	struct fuse_init_out *out = (struct fuse_init_out *)s->reply;
	uint32_t ours = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC |
			FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS |
			FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS |
			FUSE_MAX_PAGES;

	if (s->cache == FS_CACHE_AUTO)
		ours |= FUSE_AUTO_INVAL_DATA;
	if (s->cache != FS_CACHE_NEVER)
		ours |= FUSE_CACHE_SYMLINKS;
	memset(out, 0, sizeof(*out));
	out->major = FUSE_KERNEL_VERSION;
	out->minor = FS_FUSE_MIN_MINOR;

	/* A newer major: tell the client ours and let it retry. */
	if (in->major > FUSE_KERNEL_VERSION)
		return sizeof(*out);
	if (in->major < FUSE_KERNEL_VERSION || in->minor < FS_FUSE_MIN_MINOR)
		return -EPROTO;
	if (s->ready)
		return -EINVAL;

	s->flags = in->flags & ours;
	s->ready = true;
	out->flags = s->flags;
	out->max_readahead = MIN(in->max_readahead, FS_MAX_IO_BYTES);
	out->max_background = 64;
	out->congestion_threshold = 48;
	out->max_write = FS_MAX_IO_BYTES;
	out->time_gran = 1;
	out->max_pages = FS_MAX_PAGES;
	return sizeof(*out);
}

static int fs_op_destroy(struct fs_server *s, const struct fs_msg *m,
			 struct fs_inode *ino)
{
	fs_table_clear(&s->t);
	s->ready = false;
	return 0;
}

static void fs_forget_one(struct fs_server *s, uint64_t nodeid, uint64_t n)
{
	struct fs_inode *ino = fs_inode_get(&s->t, nodeid);

	if (ino)
		fs_inode_forget(&s->t, ino, n);
}

static int fs_op_forget(struct fs_server *s, const struct fs_msg *m,
			struct fs_inode *ino)
{
	const struct fuse_forget_in *in = m->arg;

	fs_forget_one(s, m->hdr.nodeid, in->nlookup);
	return FS_NO_REPLY;
}

static int fs_op_batch_forget(struct fs_server *s, const struct fs_msg *m,
			      struct fs_inode *ino)
{
	const struct fuse_forget_one *one = m->data;
	uint32_t count = m->data_len / sizeof(*one);

	for (uint32_t i = 0; i < count; i++)
		fs_forget_one(s, one[i].nodeid, one[i].nlookup);
	return FS_NO_REPLY;
}

static int fs_op_getattr(struct fs_server *s, const struct fs_msg *m,
			 struct fs_inode *ino)
{
	const struct fuse_getattr_in *in = m->arg;

	if (in->getattr_flags & FUSE_GETATTR_FH) {
		struct fs_handle *h = fs_handle_get(&s->t, in->fh, false);

		if (!h)
			return -EBADF;
		return fs_reply_attr(s, ino, h->fd);
	}
	return fs_reply_attr(s, ino, -1);
}

static int fs_setattr_mode(struct fs_server *s, const struct fs_inode *ino,
			   mode_t mode)
{
	char name[16];

	/* Linux has no mode on symlinks; chmod through /proc would follow. */
	if (ino->type == S_IFLNK)
		return -EOPNOTSUPP;
	if (fchmodat(s->proc_fd, fs_fd_name(ino->fd, name, sizeof(name)),
		     mode & 07777, 0))
		return -errno;
	return 0;
}

static int fs_setattr_size(struct fs_server *s, const struct fs_inode *ino,
			   const struct fuse_setattr_in *in)
{
	struct fs_handle *h = NULL;
	int fd, err = 0;

	if (in->valid & FATTR_FH) {
		h = fs_handle_get(&s->t, in->fh, false);
		if (!h)
			return -EBADF;
		return ftruncate(h->fd, (off_t)in->size) ? -errno : 0;
	}
	if (ino->type != S_IFREG)
		return ino->type == S_IFDIR ? -EISDIR : -EINVAL;
	fd = fs_reopen(s, ino, O_WRONLY);
	if (fd < 0)
		return fd;
	if (ftruncate(fd, (off_t)in->size))
		err = -errno;
	close(fd);
	return err;
}

static struct timespec fs_setattr_time(uint32_t valid, uint32_t set,
				       uint32_t now, uint64_t sec,
				       uint32_t nsec)
{
	if (valid & now)
		return (struct timespec){.tv_nsec = UTIME_NOW};
	if (valid & set)
		return (struct timespec){.tv_sec = (time_t)sec,
					 .tv_nsec = nsec};
	return (struct timespec){.tv_nsec = UTIME_OMIT};
}

static int fs_setattr_times(const struct fs_inode *ino,
			    const struct fuse_setattr_in *in)
{
	struct timespec ts[2] = {
		fs_setattr_time(in->valid, FATTR_ATIME, FATTR_ATIME_NOW,
				in->atime, in->atimensec),
		fs_setattr_time(in->valid, FATTR_MTIME, FATTR_MTIME_NOW,
				in->mtime, in->mtimensec),
	};

	if (ts[0].tv_nsec != UTIME_NOW && ts[0].tv_nsec != UTIME_OMIT &&
	    ts[0].tv_nsec >= 1000000000)
		return -EINVAL;
	if (ts[1].tv_nsec != UTIME_NOW && ts[1].tv_nsec != UTIME_OMIT &&
	    ts[1].tv_nsec >= 1000000000)
		return -EINVAL;
	if (utimensat(ino->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	return 0;
}

static int fs_op_setattr(struct fs_server *s, const struct fs_msg *m,
			 struct fs_inode *ino)
{
	const struct fuse_setattr_in *in = m->arg;
	uid_t uid = in->valid & FATTR_UID ? in->uid : (uid_t)-1;
	gid_t gid = in->valid & FATTR_GID ? in->gid : (gid_t)-1;
	int err = 0;

	if (in->valid & FATTR_MODE)
		err = fs_setattr_mode(s, ino, in->mode);
	if (!err && (in->valid & (FATTR_UID | FATTR_GID)) &&
	    fchownat(ino->fd, "", uid, gid,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		err = -errno;
	if (!err && (in->valid & FATTR_SIZE))
		err = fs_setattr_size(s, ino, in);
	if (!err && (in->valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW |
				  FATTR_MTIME_NOW)))
		err = fs_setattr_times(ino, in);
	if (err)
		return err;
	return fs_reply_attr(s, ino, -1);
}

static int fs_op_readlink(struct fs_server *s, const struct fs_msg *m,
			  struct fs_inode *ino)
{
	ssize_t n;

	if (ino->type != S_IFLNK)
		return -EINVAL;
	n = readlinkat(ino->fd, "", (char *)s->reply, PATH_MAX);
	return n < 0 ? -errno : (int)n;
}

static int fs_op_statfs(struct fs_server *s, const struct fs_msg *m,
			struct fs_inode *ino)
{
	struct fuse_statfs_out *out = (struct fuse_statfs_out *)s->reply;
	struct statvfs sv;

	if (fstatvfs(ino->fd, &sv))
		return -errno;
	*out = (struct fuse_statfs_out){
		.st = {
			.blocks = sv.f_blocks,
			.bfree = sv.f_bfree,
			.bavail = sv.f_bavail,
			.files = sv.f_files,
			.ffree = sv.f_ffree,
			.bsize = (uint32_t)sv.f_bsize,
			.namelen = (uint32_t)sv.f_namemax,
			.frsize = (uint32_t)sv.f_frsize,
		}};
	return sizeof(*out);
}

static int fs_op_access(struct fs_server *s, const struct fs_msg *m,
			struct fs_inode *ino)
{
	const struct fuse_access_in *in = m->arg;

	if (in->mask & ~(uint32_t)(R_OK | W_OK | X_OK))
		return -EINVAL;
	if ((in->mask & W_OK) && s->readonly)
		return -EROFS;
	if (faccessat(ino->fd, "", (int)in->mask, AT_EMPTY_PATH))
		return -errno;
	return 0;
}

/* How the dispatcher treats each implemented opcode. */
struct fs_op_rule {
	fs_handler fn;
	bool modifies; /* EROFS in read-only mode */
	bool no_node;  /* the header's nodeid is not looked up */
};

static const struct fs_op_rule fs_rules[] = {
	[FUSE_INIT] = {fs_op_init, false, true},
	[FUSE_DESTROY] = {fs_op_destroy, false, true},
	[FUSE_FORGET] = {fs_op_forget, false, true},
	[FUSE_BATCH_FORGET] = {fs_op_batch_forget, false, true},
	[FUSE_LOOKUP] = {fs_op_lookup, false, false},
	[FUSE_GETATTR] = {fs_op_getattr, false, false},
	[FUSE_SETATTR] = {fs_op_setattr, true, false},
	[FUSE_READLINK] = {fs_op_readlink, false, false},
	[FUSE_SYMLINK] = {fs_op_symlink, true, false},
	[FUSE_MKNOD] = {fs_op_mknod, true, false},
	[FUSE_MKDIR] = {fs_op_mkdir, true, false},
	[FUSE_UNLINK] = {fs_op_unlink, true, false},
	[FUSE_RMDIR] = {fs_op_rmdir, true, false},
	[FUSE_RENAME] = {fs_op_rename, true, false},
	[FUSE_RENAME2] = {fs_op_rename2, true, false},
	[FUSE_LINK] = {fs_op_link, true, false},
	[FUSE_OPEN] = {fs_op_open, false, false},
	[FUSE_READ] = {fs_op_read, false, false},
	[FUSE_WRITE] = {fs_op_write, true, false},
	[FUSE_STATFS] = {fs_op_statfs, false, false},
	[FUSE_RELEASE] = {fs_op_release, false, false},
	[FUSE_FSYNC] = {fs_op_fsync, false, false},
	[FUSE_FLUSH] = {fs_op_flush, false, false},
	[FUSE_SETXATTR] = {fs_op_setxattr, true, false},
	[FUSE_GETXATTR] = {fs_op_getxattr, false, false},
	[FUSE_LISTXATTR] = {fs_op_listxattr, false, false},
	[FUSE_REMOVEXATTR] = {fs_op_removexattr, true, false},
	[FUSE_OPENDIR] = {fs_op_opendir, false, false},
	[FUSE_READDIR] = {fs_op_readdir, false, false},
	[FUSE_READDIRPLUS] = {fs_op_readdir, false, false},
	[FUSE_RELEASEDIR] = {fs_op_releasedir, false, false},
	[FUSE_FSYNCDIR] = {fs_op_fsyncdir, false, false},
	[FUSE_ACCESS] = {fs_op_access, false, false},
	[FUSE_CREATE] = {fs_op_create, true, false},
	[FUSE_FALLOCATE] = {fs_op_fallocate, true, false},
	[FUSE_LSEEK] = {fs_op_lseek, false, false},
	[FUSE_COPY_FILE_RANGE] = {fs_op_copy_file_range, true, false},
};

/* Runs a parsed request; returns what a handler returns. */
static int fs_dispatch(struct fs_server *s, const struct fs_msg *m)
{
	uint32_t op = m->hdr.opcode;
	const struct fs_op_rule *rule;
	struct fs_inode *ino = NULL;

	if (op >= ARRAY_SIZE(fs_rules) || !fs_rules[op].fn)
		return -ENOSYS;
	rule = &fs_rules[op];

	/* Nothing but INIT before INIT (a FORGET is dropped silently). */
	if (!s->ready && op != FUSE_INIT)
		return rule->no_node && op != FUSE_DESTROY ? FS_NO_REPLY : -EIO;
	if (!rule->no_node) {
		ino = fs_inode_get(&s->t, m->hdr.nodeid);
		if (!ino)
			return -ENOENT;
	}
	if (rule->modifies && s->readonly)
		return -EROFS;
	return rule->fn(s, m, ino);
}

/* Gathers the first bytes of the request into s->req_buf. */
static size_t fs_gather(struct fs_server *s, size_t *total)
{
	size_t want, got = 0;

	*total = 0;
	for (unsigned int i = 0; i < s->nr_in; i++)
		*total += s->in[i].iov_len;
	want = MIN(*total, FS_MSG_MAX_BYTES);
	for (unsigned int i = 0; i < s->nr_in && got < want; i++) {
		size_t l = MIN(s->in[i].iov_len, want - got);

		memcpy((uint8_t *)s->req_buf + got, s->in[i].iov_base, l);
		got += l;
	}
	return got;
}

/* Writes the header and (unless direct) the payload. */
static uint32_t fs_reply(struct fs_server *s, uint64_t unique, int res)
{
	struct fuse_out_header hdr = {.unique = unique};
	uint32_t payload = res > 0 ? (uint32_t)res : 0;

	if (s->out_bytes < sizeof(hdr))
		return 0;
	if (payload > s->out_bytes - sizeof(hdr)) {
		/* The client's reply buffer cannot hold the answer. */
		payload = 0;
		res = -EOVERFLOW;
	}
	hdr.error = res < 0 ? res : 0;
	hdr.len = (uint32_t)sizeof(hdr) + payload;
	fs_out_copy(s, 0, &hdr, sizeof(hdr));
	if (payload && !s->direct)
		fs_out_copy(s, sizeof(hdr), s->reply, payload);
	return hdr.len;
}

uint32_t fs_server_handle(struct fs_server *s, const struct iovec *in,
			  unsigned int nr_in, const struct iovec *out,
			  unsigned int nr_out)
{
	struct fs_msg m;
	size_t total, got;
	int res;

	s->in = in;
	s->nr_in = nr_in;
	s->out = out;
	s->nr_out = nr_out;
	s->out_bytes = 0;
	s->direct = false;
	for (unsigned int i = 0; i < nr_out; i++)
		s->out_bytes += (uint32_t)MIN(out[i].iov_len,
					      UINT32_MAX - s->out_bytes);

	got = fs_gather(s, &total);
	res = fs_msg_parse(s->req_buf, got, total, &m);
	if (res == 0)
		res = fs_dispatch(s, &m);
	else if (res == -ENOSYS)
		log_debug("fs: opcode %u not implemented", m.hdr.opcode);
	else
		log_warn_ratelimited(
			&s->rl, "fs: bad %s request (%zu bytes): %s",
			fs_msg_opname(m.hdr.opcode), total, strerror(-res));
	if (res == FS_NO_REPLY)
		return 0;
	return fs_reply(s, m.hdr.unique, res);
}

int fs_server_create(const struct fs_server_config *cfg, struct fs_server **out)
{
	struct fs_server *s = calloc(1, sizeof(*s));
	int root_fd, err;

	if (!s)
		return -ENOMEM;
	s->readonly = cfg->readonly;
	s->cache = cfg->cache;
	s->as_root = geteuid() == 0;
	s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->proc_fd < 0) {
		err = -errno;
		log_error("fs: /proc/self/fd: %s (is /proc mounted?)",
			  strerror(-err));
		free(s);
		return err;
	}
	root_fd = open(cfg->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		err = -errno;
		log_error("fs: %s: %s", cfg->dir, strerror(-err));
		goto fail;
	}
	err = fs_table_init(&s->t, root_fd);
	if (err) {
		log_error("fs: %s: %s", cfg->dir, strerror(-err));
		goto fail;
	}
	s->req_buf = malloc(FS_MSG_MAX_BYTES);
	s->reply = malloc(FS_REPLY_BYTES);
	s->dirents = malloc(FS_MAX_IO_BYTES);
	if (!s->req_buf || !s->reply || !s->dirents) {
		err = -ENOMEM;
		goto fail;
	}
	*out = s;
	return 0;

fail:
	fs_server_destroy(s);
	return err;
}

void fs_server_destroy(struct fs_server *s)
{
	if (!s)
		return;
	if (s->t.by_id)
		fs_table_destroy(&s->t);
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	free(s->req_buf);
	free(s->reply);
	free(s->dirents);
	free(s);
}
