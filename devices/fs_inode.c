/* The file server's inode and handle tables: chained hash maps. */
#include "devices/fs_inode.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define FS_INITIAL_BUCKETS 64

static size_t fs_hash64(uint64_t v, size_t nr_buckets)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdull;
	v ^= v >> 33;
	return (size_t)v & (nr_buckets - 1);
}

static size_t fs_key_bucket(dev_t dev, ino_t ino, size_t nr_buckets)
{
	return fs_hash64((uint64_t)ino * 31 + (uint64_t)dev, nr_buckets);
}

static void fs_inode_link(struct fs_table *t, struct fs_inode *ino)
{
	size_t b = fs_hash64(ino->nodeid, t->nr_buckets);
	size_t k = fs_key_bucket(ino->dev, ino->ino, t->nr_buckets);

	ino->next_by_id = t->by_id[b];
	t->by_id[b] = ino;
	ino->next_by_key = t->by_key[k];
	t->by_key[k] = ino;
}

/* Doubles both inode maps once they average more than one per bucket. */
static int fs_table_grow(struct fs_table *t)
{
	size_t old_nr = t->nr_buckets, nr = old_nr * 2;
	struct fs_inode **old_id = t->by_id;
	struct fs_inode **id = calloc(nr, sizeof(*id));
	struct fs_inode **key = calloc(nr, sizeof(*key));

	if (!id || !key) {
		free(id);
		free(key);
		return -ENOMEM;
	}
	free(t->by_key);
	t->by_id = id;
	t->by_key = key;
	t->nr_buckets = nr;
	for (size_t b = 0; b < old_nr; b++) {
		struct fs_inode *ino = old_id[b], *next;

		for (; ino; ino = next) {
			next = ino->next_by_id;
			fs_inode_link(t, ino);
		}
	}
	free(old_id);
	return 0;
}

static struct fs_inode *fs_inode_new(struct fs_table *t, int fd,
				     const struct stat *st)
{
	struct fs_inode *ino;

	if (t->nr_inodes >= t->nr_buckets && fs_table_grow(t))
		return NULL;
	ino = calloc(1, sizeof(*ino));
	if (!ino)
		return NULL;
	ino->nodeid = t->next_nodeid++;
	ino->dev = st->st_dev;
	ino->ino = st->st_ino;
	ino->type = st->st_mode & S_IFMT;
	ino->fd = fd;
	fs_inode_link(t, ino);
	t->nr_inodes++;
	return ino;
}

int fs_table_init(struct fs_table *t, int root_fd)
{
	struct stat st;

	*t = (struct fs_table){.next_nodeid = FS_ROOT_NODEID, .next_fh = 1};
	if (fstat(root_fd, &st) < 0) {
		int err = -errno;

		close(root_fd);
		return err;
	}
	t->nr_buckets = FS_INITIAL_BUCKETS;
	t->nr_hbuckets = FS_INITIAL_BUCKETS;
	t->by_id = calloc(t->nr_buckets, sizeof(*t->by_id));
	t->by_key = calloc(t->nr_buckets, sizeof(*t->by_key));
	t->handles = calloc(t->nr_hbuckets, sizeof(*t->handles));
	if (t->by_id && t->by_key && t->handles)
		t->root = fs_inode_new(t, root_fd, &st);
	if (!t->root) {
		close(root_fd);
		fs_table_destroy(t);
		return -ENOMEM;
	}
	/* The client holds the root without ever looking it up. */
	t->root->nlookup = 1;
	return 0;
}

struct fs_inode *fs_inode_get(struct fs_table *t, uint64_t nodeid)
{
	struct fs_inode *ino = t->by_id[fs_hash64(nodeid, t->nr_buckets)];

	while (ino && ino->nodeid != nodeid)
		ino = ino->next_by_id;
	return ino;
}

int fs_inode_ref(struct fs_table *t, int fd, const struct stat *st,
		 struct fs_inode **out)
{
	size_t k = fs_key_bucket(st->st_dev, st->st_ino, t->nr_buckets);
	struct fs_inode *ino = t->by_key[k];

	while (ino && (ino->dev != st->st_dev || ino->ino != st->st_ino))
		ino = ino->next_by_key;
	if (ino) {
		close(fd);
	} else {
		ino = fs_inode_new(t, fd, st);
		if (!ino) {
			close(fd);
			return -ENOMEM;
		}
	}
	ino->nlookup++;
	*out = ino;
	return 0;
}

/* Removes ino from both maps. */
static void fs_inode_unlink(struct fs_table *t, struct fs_inode *ino)
{
	struct fs_inode **pp = &t->by_id[fs_hash64(ino->nodeid, t->nr_buckets)];

	while (*pp != ino)
		pp = &(*pp)->next_by_id;
	*pp = ino->next_by_id;
	pp = &t->by_key[fs_key_bucket(ino->dev, ino->ino, t->nr_buckets)];
	while (*pp != ino)
		pp = &(*pp)->next_by_key;
	*pp = ino->next_by_key;
	t->nr_inodes--;
}

void fs_inode_forget(struct fs_table *t, struct fs_inode *ino, uint64_t n)
{
	ino->nlookup -= n < ino->nlookup ? n : ino->nlookup;
	if (ino->nlookup || ino == t->root)
		return;
	fs_inode_unlink(t, ino);
	close(ino->fd);
	free(ino);
}

/* Doubles the handle map once it averages more than one per bucket. */
static int fs_handles_grow(struct fs_table *t)
{
	size_t old_nr = t->nr_hbuckets, nr = old_nr * 2;
	struct fs_handle **old = t->handles;
	struct fs_handle **map = calloc(nr, sizeof(*map));

	if (!map)
		return -ENOMEM;
	for (size_t b = 0; b < old_nr; b++) {
		struct fs_handle *h = old[b], *next;

		for (; h; h = next) {
			size_t nb = fs_hash64(h->fh, nr);

			next = h->next;
			h->next = map[nb];
			map[nb] = h;
		}
	}
	t->handles = map;
	t->nr_hbuckets = nr;
	free(old);
	return 0;
}

int fs_handle_add(struct fs_table *t, int fd, bool is_dir, uint64_t *fh)
{
	struct fs_handle *h;
	size_t b;

	if (t->nr_handles >= t->nr_hbuckets && fs_handles_grow(t))
		return -ENOMEM;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fh = t->next_fh++;
	h->fd = fd;
	h->is_dir = is_dir;
	b = fs_hash64(h->fh, t->nr_hbuckets);
	h->next = t->handles[b];
	t->handles[b] = h;
	t->nr_handles++;
	*fh = h->fh;
	return 0;
}

struct fs_handle *fs_handle_get(struct fs_table *t, uint64_t fh, bool is_dir)
{
	struct fs_handle *h = t->handles[fs_hash64(fh, t->nr_hbuckets)];

	while (h && h->fh != fh)
		h = h->next;
	return h && h->is_dir == is_dir ? h : NULL;
}

int fs_handle_remove(struct fs_table *t, uint64_t fh, bool is_dir)
{
	struct fs_handle **pp = &t->handles[fs_hash64(fh, t->nr_hbuckets)];
	struct fs_handle *h;

	while (*pp && (*pp)->fh != fh)
		pp = &(*pp)->next;
	h = *pp;
	if (!h || h->is_dir != is_dir)
		return -EBADF;
	*pp = h->next;
	close(h->fd);
	free(h);
	t->nr_handles--;
	return 0;
}

static void fs_table_close_handles(struct fs_table *t)
{
	for (size_t b = 0; t->handles && b < t->nr_hbuckets; b++) {
		struct fs_handle *h = t->handles[b], *next;

		for (; h; h = next) {
			next = h->next;
			close(h->fd);
			free(h);
		}
		t->handles[b] = NULL;
	}
	t->nr_handles = 0;
}

void fs_table_clear(struct fs_table *t)
{
	fs_table_close_handles(t);
	for (size_t b = 0; b < t->nr_buckets; b++) {
		struct fs_inode *ino = t->by_id[b], *next;

		for (; ino; ino = next) {
			next = ino->next_by_id;
			if (ino == t->root)
				continue;
			ino->nlookup = 0;
			fs_inode_forget(t, ino, 0);
		}
	}
}

void fs_table_destroy(struct fs_table *t)
{
	if (t->by_id && t->by_key)
		fs_table_clear(t);
	if (t->root) {
		close(t->root->fd);
		free(t->root);
	}
	free(t->by_id);
	free(t->by_key);
	free(t->handles);
	*t = (struct fs_table){0};
}
