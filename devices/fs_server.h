/*
 * minnow's built-in FUSE file server: serves one host directory to a
 * guest, passthrough. Transport-independent: virtio-fs (in-process) and
 * the vhost-user back end (`minnow virtiofsd`) both hand it requests.
 *
 * Confinement: the client names files only as (directory node ID, one
 * name). Each name is checked (no "/", never "." or "..") and resolved
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS) relative to the directory's held O_PATH
 * descriptor, so nothing the client sends reaches outside the shared
 * directory, and the server never follows a symlink on its behalf.
 * An inode the server itself holds is reopened through /proc/self/fd
 * (never for a symlink), which names only that inode.
 *
 * Threading: one thread at a time per server (the caller serialises).
 */
#ifndef MINNOW_FS_SERVER_H
#define MINNOW_FS_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

/* How long the client may cache what it learns (the cache= option). */
enum fs_cache {
	FS_CACHE_NEVER,  /* no attribute or entry caching, direct I/O */
	FS_CACHE_AUTO,   /* one second, page cache dropped on change */
	FS_CACHE_ALWAYS, /* a day, page cache kept across opens */
};

struct fs_server_config {
	const char *dir; /* the shared directory */
	bool readonly;   /* every change answered EROFS */
	enum fs_cache cache;
};

/* The largest READ or WRITE payload the server negotiates (max_write). */
#define FS_MAX_IO_BYTES (128u * 1024)

struct fs_server;

/*
 * Opens cfg->dir and prepares the tables. Returns 0 with *out set, or a
 * negative errno after logging "fs: <dir>: <reason>".
 */
int fs_server_create(const struct fs_server_config *cfg,
		     struct fs_server **out);

void fs_server_destroy(struct fs_server *s);

/*
 * Handles one FUSE request: in[0, nr_in) are the bytes the client sent,
 * out[0, nr_out) the space for the reply. Returns the bytes written to
 * out: 0 when the request takes no reply (FORGET, BATCH_FORGET) or when
 * out cannot even hold a reply header. Never fails otherwise: a bad
 * request gets its FUSE error in the reply.
 */
uint32_t fs_server_handle(struct fs_server *s, const struct iovec *in,
			  unsigned int nr_in, const struct iovec *out,
			  unsigned int nr_out);

/* "never", "auto" or "always"; returns 0 or -EINVAL. */
int fs_cache_parse(const char *name, enum fs_cache *out);

#endif
