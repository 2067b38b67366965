/*
 * A FUSE client's side of the built-in file server, for unit tests:
 * builds one request, hands it to fs_server_handle() and splits the
 * reply. Header-only; every function is static inline.
 */
#ifndef MINNOW_TEST_FS_CLIENT_H
#define MINNOW_TEST_FS_CLIENT_H

#include <linux/fuse.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "devices/fs_server.h"

#define FSC_BUF_BYTES (FS_MAX_IO_BYTES + 8192)

struct fs_client {
	struct fs_server *srv;
	uint64_t unique;
	uint32_t reply_len; /* bytes the server wrote, 0: none */
	struct fuse_out_header hdr;
	uint64_t req[FSC_BUF_BYTES / 8];
	uint64_t rep[FSC_BUF_BYTES / 8];
};

/* The reply's payload. */
static inline void *fsc_payload(struct fs_client *c)
{
	return (uint8_t *)c->rep + sizeof(struct fuse_out_header);
}

/*
 * Sends opcode on nodeid with arg, then up to two strings (each with its
 * NUL), then data. Returns the reply's error (0 or -errno), or 1 when
 * there was no reply.
 */
static inline int fsc_call(struct fs_client *c, uint32_t opcode,
			   uint64_t nodeid, const void *arg, size_t arg_len,
			   const char *s1, const char *s2, const void *data,
			   size_t data_len)
{
	struct fuse_in_header *h = (struct fuse_in_header *)c->req;
	uint8_t *p = (uint8_t *)(h + 1);
	struct iovec in, out;

	if (arg_len)
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
	if (data_len)
		memcpy(p, data, data_len);
	p += data_len;
	*h = (struct fuse_in_header){
		.len = (uint32_t)(p - (uint8_t *)c->req),
		.opcode = opcode,
		.unique = ++c->unique,
		.nodeid = nodeid,
	};
	in = (struct iovec){c->req, h->len};
	out = (struct iovec){c->rep, sizeof(c->rep)};
	memset(c->rep, 0xa5, sizeof(struct fuse_out_header));
	c->reply_len = fs_server_handle(c->srv, &in, 1, &out, 1);
	if (!c->reply_len)
		return 1;
	memcpy(&c->hdr, c->rep, sizeof(c->hdr));
	return c->hdr.error;
}

static inline int fsc_init(struct fs_client *c, uint32_t minor, uint32_t flags)
{
	struct fuse_init_in in = {.major = 7,
				  .minor = minor,
				  .max_readahead = 65536,
				  .flags = flags};

	return fsc_call(c, FUSE_INIT, 0, &in, sizeof(in), NULL, NULL, NULL, 0);
}

/* LOOKUP; returns the node ID, or 0 with *err set. */
static inline uint64_t fsc_lookup(struct fs_client *c, uint64_t dir,
				  const char *name, int *err)
{
	*err = fsc_call(c, FUSE_LOOKUP, dir, NULL, 0, name, NULL, NULL, 0);
	if (*err)
		return 0;
	return ((struct fuse_entry_out *)fsc_payload(c))->nodeid;
}

/* CREATE name in dir; returns the handle and sets *nodeid. */
static inline int fsc_create(struct fs_client *c, uint64_t dir,
			     const char *name, uint32_t flags, uint64_t *nodeid,
			     uint64_t *fh)
{
	struct fuse_create_in in = {.flags = flags, .mode = 0644};
	int err = fsc_call(c, FUSE_CREATE, dir, &in, sizeof(in), name, NULL,
			   NULL, 0);
	struct fuse_entry_out *e = fsc_payload(c);

	if (err)
		return err;
	*nodeid = e->nodeid;
	*fh = ((struct fuse_open_out *)(e + 1))->fh;
	return 0;
}

static inline int fsc_write(struct fs_client *c, uint64_t nodeid, uint64_t fh,
			    uint64_t off, const void *data, uint32_t len)
{
	struct fuse_write_in in = {.fh = fh, .offset = off, .size = len};

	return fsc_call(c, FUSE_WRITE, nodeid, &in, sizeof(in), NULL, NULL,
			data, len);
}

static inline int fsc_read(struct fs_client *c, uint64_t nodeid, uint64_t fh,
			   uint64_t off, uint32_t len)
{
	struct fuse_read_in in = {.fh = fh, .offset = off, .size = len};

	return fsc_call(c, FUSE_READ, nodeid, &in, sizeof(in), NULL, NULL, NULL,
			0);
}

#endif
