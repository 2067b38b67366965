/*
 * The file server's name operations: every call that takes a directory
 * node ID and a name. Each name is checked, then resolved strictly
 * beneath the directory's held descriptor.
 */
#include "devices/fs_server_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* No symlink or magic link is followed, and nothing leaves the dir. */
#define FS_RESOLVE                                                             \
	(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

int fs_name_check(const char *name)
{
	if (strlen(name) > NAME_MAX || strchr(name, '/'))
		return -EINVAL;
	/* Never "." or "..": the client resolves those itself. */
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EPERM;
	return 0;
}

/* openat2() beneath dir_fd; returns the descriptor or -errno. */
static int fs_openat_beneath(int dir_fd, const char *name, int flags,
			     mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = FS_RESOLVE,
	};
	long fd;

	do {
		fd = syscall(SYS_openat2, dir_fd, name, &how, sizeof(how));
	} while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : (int)fd;
}

int fs_lookup_entry(struct fs_server *s, struct fs_inode *dir, const char *name,
		    struct fuse_entry_out *e)
{
	struct fs_inode *ino;
	struct stat st;
	int fd, err;

	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	err = fs_name_check(name);
	if (err)
		return err;
	fd = fs_openat_beneath(dir->fd, name, O_PATH, 0);
	if (fd < 0)
		return fd;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		err = -errno;
		close(fd);
		return err;
	}
	err = fs_inode_ref(&s->t, fd, &st, &ino);
	if (err)
		return err;
	fs_fill_entry(s, ino, &st, e);
	return 0;
}

/* Replies with the entry for name under dir (after creating it). */
static int fs_reply_entry(struct fs_server *s, struct fs_inode *dir,
			  const char *name)
{
	struct fuse_entry_out *e = (struct fuse_entry_out *)s->reply;
	int err = fs_lookup_entry(s, dir, name, e);

	return err ? err : (int)sizeof(*e);
}

/* Gives a new file to the caller, as the kernel would for a local one. */
static void fs_set_owner(struct fs_server *s, const struct fs_msg *m,
			 struct fs_inode *dir, const char *name)
{
	if (!s->as_root)
		return;
	if (fchownat(dir->fd, name, m->hdr.uid, m->hdr.gid,
		     AT_SYMLINK_NOFOLLOW))
		log_warn_ratelimited(&s->rl, "fs: chown of a new file: %s",
				     strerror(errno));
}

/* The checks every creating or removing call makes first. */
static int fs_dir_name_check(const struct fs_inode *dir, const char *name)
{
	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	return fs_name_check(name);
}

int fs_op_lookup(struct fs_server *s, const struct fs_msg *m,
		 struct fs_inode *ino)
{
	return fs_reply_entry(s, ino, m->name);
}

int fs_op_mknod(struct fs_server *s, const struct fs_msg *m,
		struct fs_inode *ino)
{
	const struct fuse_mknod_in *in = m->arg;
	mode_t type = in->mode & S_IFMT;
	int err = fs_dir_name_check(ino, m->name);

	if (err)
		return err;
	/*
	 * Device nodes would be host device nodes, usable by anyone on the
	 * host who can reach the directory: refused.
	 */
	if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK)
		return -EPERM;
	if (mknodat(ino->fd, m->name, in->mode & (S_IFMT | 07777), 0))
		return -errno;
	fs_set_owner(s, m, ino, m->name);
	return fs_reply_entry(s, ino, m->name);
}

int fs_op_mkdir(struct fs_server *s, const struct fs_msg *m,
		struct fs_inode *ino)
{
	const struct fuse_mkdir_in *in = m->arg;
	int err = fs_dir_name_check(ino, m->name);

	if (err)
		return err;
	if (mkdirat(ino->fd, m->name, in->mode & 07777))
		return -errno;
	fs_set_owner(s, m, ino, m->name);
	return fs_reply_entry(s, ino, m->name);
}

/* SYMLINK: name, then the target, which is stored and never followed. */
int fs_op_symlink(struct fs_server *s, const struct fs_msg *m,
		  struct fs_inode *ino)
{
	int err = fs_dir_name_check(ino, m->name);

	if (err)
		return err;
	if (strlen(m->name2) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (symlinkat(m->name2, ino->fd, m->name))
		return -errno;
	fs_set_owner(s, m, ino, m->name);
	return fs_reply_entry(s, ino, m->name);
}

static int fs_remove(struct fs_inode *dir, const char *name, int flags)
{
	int err = fs_dir_name_check(dir, name);

	if (err)
		return err;
	return unlinkat(dir->fd, name, flags) ? -errno : 0;
}

int fs_op_unlink(struct fs_server *s, const struct fs_msg *m,
		 struct fs_inode *ino)
{
	return fs_remove(ino, m->name, 0);
}

int fs_op_rmdir(struct fs_server *s, const struct fs_msg *m,
		struct fs_inode *ino)
{
	return fs_remove(ino, m->name, AT_REMOVEDIR);
}

static int fs_do_rename(struct fs_server *s, const struct fs_msg *m,
			struct fs_inode *dir, uint64_t newdir_id,
			uint32_t flags)
{
	struct fs_inode *newdir = fs_inode_get(&s->t, newdir_id);
	int err;

	if (!newdir)
		return -ENOENT;
	if (flags &
	    ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	err = fs_dir_name_check(dir, m->name);
	if (!err)
		err = fs_dir_name_check(newdir, m->name2);
	if (err)
		return err;
	if (renameat2(dir->fd, m->name, newdir->fd, m->name2, flags))
		return -errno;
	return 0;
}

int fs_op_rename(struct fs_server *s, const struct fs_msg *m,
		 struct fs_inode *ino)
{
	const struct fuse_rename_in *in = m->arg;

	return fs_do_rename(s, m, ino, in->newdir, 0);
}

int fs_op_rename2(struct fs_server *s, const struct fs_msg *m,
		  struct fs_inode *ino)
{
	const struct fuse_rename2_in *in = m->arg;

	return fs_do_rename(s, m, ino, in->newdir, in->flags);
}

/* LINK: the header's node is the new parent, oldnodeid the file. */
int fs_op_link(struct fs_server *s, const struct fs_msg *m,
	       struct fs_inode *ino)
{
	const struct fuse_link_in *in = m->arg;
	struct fs_inode *old = fs_inode_get(&s->t, in->oldnodeid);
	char name[16];
	int err = fs_dir_name_check(ino, m->name);

	if (err)
		return err;
	if (!old)
		return -ENOENT;
	if (old->type == S_IFDIR)
		return -EPERM;
	if (old->type == S_IFLNK) {
		/* Needs CAP_DAC_READ_SEARCH; /proc would follow the link. */
		err = linkat(old->fd, "", ino->fd, m->name, AT_EMPTY_PATH);
	} else {
		err = linkat(s->proc_fd,
			     fs_fd_name(old->fd, name, sizeof(name)), ino->fd,
			     m->name, AT_SYMLINK_FOLLOW);
	}
	if (err)
		return -errno;
	return fs_reply_entry(s, ino, m->name);
}

/* Open flags the client may pass on; the rest are the server's business. */
int fs_open_flags(int flags)
{
	return flags & (O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC |
			O_NONBLOCK | O_EXCL);
}

int fs_op_create(struct fs_server *s, const struct fs_msg *m,
		 struct fs_inode *ino)
{
	const struct fuse_create_in *in = m->arg;
	struct fuse_entry_out *e = (struct fuse_entry_out *)s->reply;
	struct fuse_open_out *o = (struct fuse_open_out *)(e + 1);
	int fd, err = fs_dir_name_check(ino, m->name);

	if (err)
		return err;
	fd = fs_openat_beneath(ino->fd, m->name,
			       fs_open_flags((int)in->flags) | O_CREAT,
			       in->mode & 07777);
	if (fd < 0)
		return fd;
	fs_set_owner(s, m, ino, m->name);
	err = fs_lookup_entry(s, ino, m->name, e);
	if (!err) {
		err = fs_handle_add(&s->t, fd, false, &o->fh);
		if (err)
			fs_inode_forget(&s->t, fs_inode_get(&s->t, e->nodeid),
					1);
	}
	if (err) {
		close(fd);
		return err;
	}
	o->open_flags = fs_open_reply_flags(s);
	o->padding = 0;
	return sizeof(*e) + sizeof(*o);
}
