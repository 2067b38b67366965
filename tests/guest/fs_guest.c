/*
 * A minimal FUSE client over virtio-fs (virtio 1.2, 5.11) through
 * lib/virtio: INIT, then create, write, read back, mkdir, rename,
 * readdir and unlink, leaving a tree that fs_run.py checks on the host;
 * then escape attempts, each of which must fail: LOOKUP ".." at the
 * root, a symlink to /etc used as a directory or opened, renames out of
 * the tree, and a node ID the server never handed out.
 */
#include <linux/fuse.h>

#include "lib/guest.h"
#include "lib/virtio.h"

#define WAIT_US   10000000
#define REQ_BYTES 8192
#define REP_BYTES 8192
#define GREETING  "hello from the guest through virtio-fs\n"

static struct virtio_dev dev;
static struct virtq *requestq;
static uint8_t *req, *rep;
static uint64_t next_unique = 1;
static int failures;

/*
 * Sends one request: the header, then arg, then up to two strings (each
 * with its NUL), then data. Returns the reply's error (0 or -errno), or
 * 1 if the transport failed.
 */
static int fuse_call(uint32_t opcode, uint64_t nodeid, const void *arg,
		     uint32_t arg_len, const char *s1, const char *s2,
		     const void *data, uint32_t data_len)
{
	struct fuse_in_header *h = (struct fuse_in_header *)req;
	struct fuse_out_header *o = (struct fuse_out_header *)rep;
	uint8_t *p = req + sizeof(*h);
	struct virtq_buf bufs[2];
	uint32_t len;
	int err;

	memcpy(p, arg, arg_len);
	p += arg_len;
	if (s1) {
		memcpy(p, s1, strlen(s1) + 1);
		p += strlen(s1) + 1;
	}
	if (s2) {
		memcpy(p, s2, strlen(s2) + 1);
		p += strlen(s2) + 1;
	}
	memcpy(p, data, data_len);
	p += data_len;
	*h = (struct fuse_in_header){.len = (uint32_t)(p - req),
				     .opcode = opcode,
				     .unique = next_unique++,
				     .nodeid = nodeid};
	memset(rep, 0, sizeof(*o));
	bufs[0] = (struct virtq_buf){req, h->len, false};
	bufs[1] = (struct virtq_buf){rep, REP_BYTES, true};
	err = virtq_roundtrip(requestq, bufs, 2, &len, WAIT_US);
	if (err) {
		printf("fs: opcode %u: %s\n", opcode, virtio_strerror(err));
		return 1;
	}
	if (len < sizeof(*o) || o->len != len || o->unique != h->unique) {
		printf("fs: opcode %u: bad reply (len %u, header %u)\n", opcode,
		       len, o->len);
		return 1;
	}
	return o->error;
}

static void *payload(void)
{
	return rep + sizeof(struct fuse_out_header);
}

static void expect(bool ok, const char *what)
{
	if (!ok) {
		printf("fs: FAILED: %s\n", what);
		failures++;
	}
}

static uint64_t lookup(uint64_t dir, const char *name, int *err)
{
	*err = fuse_call(FUSE_LOOKUP, dir, NULL, 0, name, NULL, NULL, 0);
	return *err ? 0 : ((struct fuse_entry_out *)payload())->nodeid;
}

static int create(uint64_t dir, const char *name, uint64_t *node, uint64_t *fh)
{
	struct fuse_create_in in = {.flags = 2 /* O_RDWR */, .mode = 0644};
	int err = fuse_call(FUSE_CREATE, dir, &in, sizeof(in), name, NULL, NULL,
			    0);
	struct fuse_entry_out *e = payload();

	if (err)
		return err;
	*node = e->nodeid;
	*fh = ((struct fuse_open_out *)(e + 1))->fh;
	return 0;
}

static int write_file(uint64_t node, uint64_t fh, const char *text)
{
	struct fuse_write_in in = {.fh = fh, .size = (uint32_t)strlen(text)};
	int err = fuse_call(FUSE_WRITE, node, &in, sizeof(in), NULL, NULL, text,
			    in.size);

	if (err)
		return err;
	return ((struct fuse_write_out *)payload())->size == in.size ? 0 : 1;
}

static int release(uint64_t node, uint64_t fh)
{
	struct fuse_release_in in = {.fh = fh};

	return fuse_call(FUSE_RELEASE, node, &in, sizeof(in), NULL, NULL, NULL,
			 0);
}

/* READDIR of dir: whether name is listed. */
static bool dir_has(uint64_t dir, const char *name)
{
	struct fuse_open_in oi = {0};
	struct fuse_read_in ri = {.size = 4096};
	struct fuse_release_in rel;
	bool found = false;

	if (fuse_call(FUSE_OPENDIR, dir, &oi, sizeof(oi), NULL, NULL, NULL, 0))
		return false;
	ri.fh = rel.fh = ((struct fuse_open_out *)payload())->fh;
	for (;;) {
		struct fuse_out_header *o = (struct fuse_out_header *)rep;
		uint8_t *p = payload(), *end = rep + o->len;

		if (fuse_call(FUSE_READDIR, dir, &ri, sizeof(ri), NULL, NULL,
			      NULL, 0) ||
		    p == rep + o->len)
			break;
		end = rep + o->len;
		while (p < end) {
			struct fuse_dirent *d = (struct fuse_dirent *)p;

			if (d->namelen == strlen(name) &&
			    memcmp(d->name, name, d->namelen) == 0)
				found = true;
			ri.offset = d->off;
			p += FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + d->namelen);
		}
	}
	rel = (struct fuse_release_in){.fh = ri.fh};
	fuse_call(FUSE_RELEASEDIR, dir, &rel, sizeof(rel), NULL, NULL, NULL, 0);
	return found;
}

static int fs_setup(void)
{
	struct virtio_window w;
	char tag[37] = {0};
	int err;

	err = virtio_find(VIRTIO_ID_FS, 0, &w);
	if (!err)
		err = virtio_init(&dev, &w, 0);
	if (err) {
		printf("fs: no virtio-fs device: %s\n", virtio_strerror(err));
		return -1;
	}
	virtio_config_read(&dev, 0, tag, 36);
	printf("fs: tag '%s', %u request queue(s)\n", tag,
	       virtio_config_read32(&dev, 36));
	/* virtio 1.2, 5.11.2: hiprio first, then the request queue. */
	if (!virtq_init(&dev, 0, 16))
		return -1;
	requestq = virtq_init(&dev, 1, 64);
	if (!requestq)
		return -1;
	virtio_driver_ok(&dev);
	req = virtio_zalloc(REQ_BYTES, 4096);
	rep = virtio_zalloc(REP_BYTES, 4096);
	return req && rep ? 0 : -1;
}

static void fs_init(void)
{
	struct fuse_init_in in = {.major = FUSE_KERNEL_VERSION,
				  .minor = FUSE_KERNEL_MINOR_VERSION,
				  .max_readahead = 65536,
				  .flags = FUSE_ASYNC_READ};
	struct fuse_init_out *o = payload();

	expect(fuse_call(FUSE_INIT, 0, &in, sizeof(in), NULL, NULL, NULL, 0) ==
		       0,
	       "INIT");
	printf("fs: INIT: protocol 7.%u, max_write %u\n", o->minor,
	       o->max_write);
}

/* Files the host checks afterwards. */
static void fs_work(void)
{
	struct fuse_mkdir_in mi = {.mode = 0755};
	struct fuse_read_in ri = {.size = 4096};
	struct fuse_rename_in rn;
	uint64_t node, fh, sub, keep, kfh;
	int err;

	expect(create(1, "hello.txt", &node, &fh) == 0, "CREATE hello.txt");
	expect(write_file(node, fh, GREETING) == 0, "WRITE");
	ri.fh = fh;
	expect(fuse_call(FUSE_READ, node, &ri, sizeof(ri), NULL, NULL, NULL,
			 0) == 0,
	       "READ");
	expect(((struct fuse_out_header *)rep)->len ==
			       sizeof(struct fuse_out_header) +
				       strlen(GREETING) &&
		       memcmp(payload(), GREETING, strlen(GREETING)) == 0,
	       "read back what was written");
	expect(release(node, fh) == 0, "RELEASE");

	expect(fuse_call(FUSE_MKDIR, 1, &mi, sizeof(mi), "dir", NULL, NULL,
			 0) == 0,
	       "MKDIR dir");
	sub = ((struct fuse_entry_out *)payload())->nodeid;
	rn = (struct fuse_rename_in){.newdir = sub};
	expect(fuse_call(FUSE_RENAME, 1, &rn, sizeof(rn), "hello.txt",
			 "moved.txt", NULL, 0) == 0,
	       "RENAME into dir");
	expect(dir_has(1, "dir"), "READDIR / lists dir");
	expect(!dir_has(1, "hello.txt"), "READDIR / no longer lists hello.txt");
	expect(dir_has(sub, "moved.txt"), "READDIR dir lists moved.txt");

	expect(create(1, "doomed", &node, &fh) == 0, "CREATE doomed");
	expect(release(node, fh) == 0, "RELEASE doomed");
	expect(fuse_call(FUSE_UNLINK, 1, NULL, 0, "doomed", NULL, NULL, 0) == 0,
	       "UNLINK doomed");
	lookup(1, "doomed", &err);
	expect(err == -2 /* ENOENT */, "doomed is gone");

	expect(create(1, "keep.txt", &keep, &kfh) == 0, "CREATE keep.txt");
	expect(write_file(keep, kfh, "keep\n") == 0, "WRITE keep.txt");
	expect(release(keep, kfh) == 0, "RELEASE keep.txt");
}

static void fs_escapes(void)
{
	struct fuse_open_in oi = {0};
	struct fuse_getattr_in gi = {0};
	struct fuse_rename_in rn = {.newdir = 1};
	uint64_t link;
	int err;

	lookup(1, "..", &err);
	expect(err < 0, "LOOKUP .. at the root fails");
	printf("fs: escape: LOOKUP ..: %d\n", err);
	lookup(1, "../etc", &err);
	expect(err < 0, "LOOKUP ../etc fails");

	expect(fuse_call(FUSE_SYMLINK, 1, NULL, 0, "etc-link", "/etc", NULL,
			 0) == 0,
	       "SYMLINK etc-link -> /etc (stored only)");
	link = lookup(1, "etc-link", &err);
	lookup(link, "passwd", &err);
	expect(err < 0, "LOOKUP passwd through the symlink fails");
	printf("fs: escape: LOOKUP etc-link/passwd: %d\n", err);
	expect(fuse_call(FUSE_OPEN, link, &oi, sizeof(oi), NULL, NULL, NULL,
			 0) < 0,
	       "OPEN of the symlink fails");
	expect(fuse_call(FUSE_OPENDIR, link, &oi, sizeof(oi), NULL, NULL, NULL,
			 0) < 0,
	       "OPENDIR of the symlink fails");

	err = fuse_call(FUSE_RENAME, 1, &rn, sizeof(rn), "keep.txt",
			"../escaped", NULL, 0);
	expect(err < 0, "RENAME to ../escaped fails");
	printf("fs: escape: RENAME to ../escaped: %d\n", err);
	rn.newdir = 0x7777777;
	expect(fuse_call(FUSE_RENAME, 1, &rn, sizeof(rn), "keep.txt", "escaped",
			 NULL, 0) < 0,
	       "RENAME into an unknown directory fails");

	err = fuse_call(FUSE_GETATTR, 0x12345678, &gi, sizeof(gi), NULL, NULL,
			NULL, 0);
	expect(err == -2 /* ENOENT */, "GETATTR of a node never handed out");
	printf("fs: escape: unknown node: %d\n", err);
}

int main(void)
{
	if (fs_setup())
		return 1;
	fs_init();
	fs_work();
	fs_escapes();
	expect(!virtio_needs_reset(&dev), "device still healthy");
	if (failures) {
		printf("fs: %d check(s) failed\n", failures);
		return 1;
	}
	printf("fs: ok\n");
	return 0;
}
