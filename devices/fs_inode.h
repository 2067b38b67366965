/*
 * The file server's tables: inodes the client knows (keyed by the host's
 * (st_dev, st_ino), each holding an O_PATH descriptor and the client's
 * lookup count) and open file or directory handles.
 *
 * Node IDs and handles are never reused while the table lives, so a stale
 * one from the client finds nothing rather than someone else's file.
 * Single-threaded: the owner (one server) serialises every call.
 */
#ifndef MINNOW_FS_INODE_H
#define MINNOW_FS_INODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* FUSE's root node ID (include/uapi/linux/fuse.h, FUSE_ROOT_ID). */
#define FS_ROOT_NODEID 1

struct fs_inode {
	uint64_t nodeid;
	dev_t dev;
	ino_t ino;
	mode_t type;      /* S_IFMT bits of the host file */
	int fd;           /* O_PATH | O_NOFOLLOW, owned */
	uint64_t nlookup; /* references the client holds */
	struct fs_inode *next_by_id;
	struct fs_inode *next_by_key;
};

struct fs_handle {
	uint64_t fh;
	int fd; /* an ordinary open descriptor, owned */
	bool is_dir;
	struct fs_handle *next;
};

struct fs_table {
	struct fs_inode **by_id;
	struct fs_inode **by_key;
	size_t nr_buckets; /* a power of two, for both inode maps */
	size_t nr_inodes;
	struct fs_handle **handles;
	size_t nr_hbuckets; /* a power of two */
	size_t nr_handles;
	uint64_t next_nodeid;
	uint64_t next_fh;
	struct fs_inode *root;
};

/*
 * Sets up an empty table whose root is root_fd (an O_PATH directory
 * descriptor, owned by the table from now on, even on failure).
 * Returns 0 or -errno.
 */
int fs_table_init(struct fs_table *t, int root_fd);

/* Closes every descriptor and frees everything. */
void fs_table_destroy(struct fs_table *t);

/* Forgets every inode but the root and closes every handle (DESTROY). */
void fs_table_clear(struct fs_table *t);

/* The inode with that node ID, or NULL if the client was never given it. */
struct fs_inode *fs_inode_get(struct fs_table *t, uint64_t nodeid);

/*
 * The client was told about the file at fd (O_PATH, described by st):
 * bumps the lookup count of the known inode for (st_dev, st_ino) and
 * closes fd, or adds a new inode owning fd. Either way fd is consumed.
 * Returns 0 with *out set, or -ENOMEM.
 */
int fs_inode_ref(struct fs_table *t, int fd, const struct stat *st,
		 struct fs_inode **out);

/*
 * FORGET: drops n lookups (at most what is held). At zero the inode is
 * freed and its node ID is no longer valid; the root is never freed.
 */
void fs_inode_forget(struct fs_table *t, struct fs_inode *ino, uint64_t n);

/* Adds a handle owning fd. Returns 0 with *fh set, or -ENOMEM. */
int fs_handle_add(struct fs_table *t, int fd, bool is_dir, uint64_t *fh);

/* The handle fh of that kind, or NULL (a stale or foreign handle). */
struct fs_handle *fs_handle_get(struct fs_table *t, uint64_t fh, bool is_dir);

/* Closes and forgets handle fh. Returns 0 or -EBADF. */
int fs_handle_remove(struct fs_table *t, uint64_t fh, bool is_dir);

#endif
