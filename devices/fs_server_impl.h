/*
 * Inside the file server: the state shared by fs_server.c (requests,
 * replies, attributes), fs_namei.c (names) and fs_file.c (open files,
 * directories, xattrs). Not for use outside devices/fs_*.c.
 */
#ifndef MINNOW_FS_SERVER_IMPL_H
#define MINNOW_FS_SERVER_IMPL_H

#include "devices/fs_inode.h"
#include "devices/fs_msg.h"
#include "devices/fs_server.h"
#include "vmm/log.h"

#include <sys/uio.h>

#define FS_MAX_PAGES (FS_MAX_IO_BYTES / 4096u)
/* Room for the biggest reply built in host memory (READDIR, xattrs). */
#define FS_REPLY_BYTES (FS_MAX_IO_BYTES + 65536u)

struct fs_server {
	struct fs_table t;
	int proc_fd; /* /proc/self/fd */
	bool readonly;
	enum fs_cache cache;
	bool ready;        /* INIT done, DESTROY not yet */
	uint32_t flags;    /* negotiated FUSE_* init flags */
	bool as_root;      /* new files are chowned to the caller */
	uint64_t *req_buf; /* FS_MSG_MAX_BYTES, 8-byte aligned */
	uint8_t *reply;    /* FS_REPLY_BYTES of reply payload */
	uint8_t *dirents;  /* FS_MAX_IO_BYTES for getdents64 */
	struct log_ratelimit rl;

	/* The request being handled. */
	const struct iovec *in;
	unsigned int nr_in;
	const struct iovec *out;
	unsigned int nr_out;
	uint32_t out_bytes; /* total space in out */
	bool direct;        /* payload already written to out */
};

/*
 * Every handler returns a negative errno to answer with, or the payload
 * bytes it put in s->reply (or, with s->direct, straight into s->out
 * after the header), or FS_NO_REPLY.
 */
#define FS_NO_REPLY (-0x10000)

typedef int (*fs_handler)(struct fs_server *s, const struct fs_msg *m,
			  struct fs_inode *ino);

/* fs_server.c */
void fs_fill_attr(const struct fs_server *s, const struct stat *st,
		  struct fuse_attr *attr);
void fs_fill_entry(const struct fs_server *s, const struct fs_inode *ino,
		   const struct stat *st, struct fuse_entry_out *e);
/* "/proc/self/fd/N" relative to s->proc_fd: writes "N" into buf. */
const char *fs_fd_name(int fd, char *buf, size_t size);
/* Reopens ino (not a symlink) with flags through /proc/self/fd. */
int fs_reopen(struct fs_server *s, const struct fs_inode *ino, int flags);
size_t fs_iov_slice(const struct iovec *iov, unsigned int nr, size_t skip,
		    size_t max, struct iovec *dst, unsigned int cap);

/* fs_namei.c */
int fs_name_check(const char *name);
/* Resolves name under dir, takes a lookup, fills e. */
int fs_lookup_entry(struct fs_server *s, struct fs_inode *dir, const char *name,
		    struct fuse_entry_out *e);
int fs_op_lookup(struct fs_server *s, const struct fs_msg *m,
		 struct fs_inode *ino);
int fs_op_mknod(struct fs_server *s, const struct fs_msg *m,
		struct fs_inode *ino);
int fs_op_mkdir(struct fs_server *s, const struct fs_msg *m,
		struct fs_inode *ino);
int fs_op_symlink(struct fs_server *s, const struct fs_msg *m,
		  struct fs_inode *ino);
int fs_op_unlink(struct fs_server *s, const struct fs_msg *m,
		 struct fs_inode *ino);
int fs_op_rmdir(struct fs_server *s, const struct fs_msg *m,
		struct fs_inode *ino);
int fs_op_rename(struct fs_server *s, const struct fs_msg *m,
		 struct fs_inode *ino);
int fs_op_rename2(struct fs_server *s, const struct fs_msg *m,
		  struct fs_inode *ino);
int fs_op_link(struct fs_server *s, const struct fs_msg *m,
	       struct fs_inode *ino);
int fs_op_create(struct fs_server *s, const struct fs_msg *m,
		 struct fs_inode *ino);
/* The open(2) flags a client may pass on to the host. */
int fs_open_flags(int flags);

/* fs_file.c */
/* FOPEN_* flags for an open file under the cache mode. */
uint32_t fs_open_reply_flags(const struct fs_server *s);
int fs_op_open(struct fs_server *s, const struct fs_msg *m,
	       struct fs_inode *ino);
int fs_op_read(struct fs_server *s, const struct fs_msg *m,
	       struct fs_inode *ino);
int fs_op_write(struct fs_server *s, const struct fs_msg *m,
		struct fs_inode *ino);
int fs_op_release(struct fs_server *s, const struct fs_msg *m,
		  struct fs_inode *ino);
int fs_op_fsync(struct fs_server *s, const struct fs_msg *m,
		struct fs_inode *ino);
int fs_op_flush(struct fs_server *s, const struct fs_msg *m,
		struct fs_inode *ino);
int fs_op_fallocate(struct fs_server *s, const struct fs_msg *m,
		    struct fs_inode *ino);
int fs_op_lseek(struct fs_server *s, const struct fs_msg *m,
		struct fs_inode *ino);
int fs_op_copy_file_range(struct fs_server *s, const struct fs_msg *m,
			  struct fs_inode *ino);
int fs_op_opendir(struct fs_server *s, const struct fs_msg *m,
		  struct fs_inode *ino);
int fs_op_readdir(struct fs_server *s, const struct fs_msg *m,
		  struct fs_inode *ino);
int fs_op_releasedir(struct fs_server *s, const struct fs_msg *m,
		     struct fs_inode *ino);
int fs_op_fsyncdir(struct fs_server *s, const struct fs_msg *m,
		   struct fs_inode *ino);
int fs_op_setxattr(struct fs_server *s, const struct fs_msg *m,
		   struct fs_inode *ino);
int fs_op_getxattr(struct fs_server *s, const struct fs_msg *m,
		   struct fs_inode *ino);
int fs_op_listxattr(struct fs_server *s, const struct fs_msg *m,
		    struct fs_inode *ino);
int fs_op_removexattr(struct fs_server *s, const struct fs_msg *m,
		      struct fs_inode *ino);

#endif
