/*
 * virtio-blk requests on the wire (virtio 1.2, 5.2.6) and the parser that
 * turns one descriptor chain into a request, without doing any I/O.
 *
 * Contract: blk_req_parse() is pure. It reads the chain's buffers (guest
 * memory the guest may change at any time: each field is copied once),
 * decides whether the chain is well formed, and either says what to
 * execute or which status to answer at once. It is unit-tested and fuzzed
 * on its own; the device (devices/virtio_blk.c) runs what it returns
 * through the back end (devices/blk_uring.c).
 */
#ifndef MINNOW_BLK_REQ_H
#define MINNOW_BLK_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtqueue.h"

/* virtio 1.2, 5.2.3: feature bits. */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_GEOMETRY     4
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_TOPOLOGY     10
#define VIRTIO_BLK_F_CONFIG_WCE   11
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* virtio 1.2, 5.2.6: request types. */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_GET_LIFETIME 10
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_T_SECURE_ERASE 14

/* virtio 1.2, 5.2.6: status values. */
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

/* virtio 1.2, 5.2.6: sectors are 512 bytes whatever blk_size says. */
#define BLK_SECTOR_SHIFT 9
#define BLK_SECTOR_SIZE  512u

/* virtio 1.2, 5.2.6: GET_ID answers with at most 20 bytes. */
#define VIRTIO_BLK_ID_BYTES 20

/* virtio 1.2, 5.2.6: the request header, device-readable. */
struct virtio_blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};
_Static_assert(sizeof(struct virtio_blk_req_hdr) == 16,
	       "virtio-blk request header is 16 bytes");

/* virtio 1.2, 5.2.6: one DISCARD or WRITE_ZEROES segment. */
struct virtio_blk_dwz_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};
_Static_assert(sizeof(struct virtio_blk_dwz_seg) == 16,
	       "virtio-blk discard/write-zeroes segment is 16 bytes");

#define VIRTIO_BLK_WZ_F_UNMAP 1u

/* What the device lets requests do; fixed once the driver is running. */
struct blk_limits {
	uint64_t capacity; /* in 512-byte sectors */
	bool readonly;
	bool discard;      /* DISCARD negotiated */
	bool write_zeroes; /* WRITE_ZEROES negotiated */
	uint32_t max_discard_sectors;
	uint32_t max_write_zeroes_sectors;
};

/* What the back end is asked to do. */
enum blk_op {
	BLK_OP_NONE,         /* answer req->status without I/O */
	BLK_OP_READ,         /* read data_bytes at offset into data */
	BLK_OP_WRITE,        /* write data at offset */
	BLK_OP_FLUSH,        /* make completed writes durable */
	BLK_OP_GET_ID,       /* fill data with the serial */
	BLK_OP_DISCARD,      /* forget [offset, offset + len) */
	BLK_OP_WRITE_ZEROES, /* zero [offset, offset + len) */
};

/*
 * Why a chain is not a request: the driver broke the rules and the device
 * must be reset (virtio 1.2, 2.1.2). Returned negated, above the errno
 * range.
 */
enum blk_req_error {
	BLK_REQ_ERR_HDR = 8192, /* fewer than 16 device-readable bytes */
	BLK_REQ_ERR_STATUS,     /* no device-writable byte for the status */
	BLK_REQ_ERR_DIRECTION,  /* data buffers of the wrong direction */
	BLK_REQ_ERR_IOV,        /* the caller's iovec array is too small */
	BLK_REQ_ERR_LAST,
};

/* A short description of err (a negated enum blk_req_error). */
const char *blk_req_strerror(int err);

struct blk_req {
	uint32_t type;   /* VIRTIO_BLK_T_*, as the driver wrote it */
	uint64_t sector; /* from the header */
	enum blk_op op;
	uint8_t status;      /* for BLK_OP_NONE: what to answer */
	uint8_t *status_ptr; /* the status byte in guest memory */

	/* Data buffers, slices of the chain's (IN, OUT, GET_ID). */
	struct iovec *data;
	unsigned int nr_data;
	uint64_t data_bytes;

	/* The byte range the back end touches; checked against capacity. */
	uint64_t offset;
	uint64_t len;
	bool unmap; /* WRITE_ZEROES: the driver allows a hole */
};

/*
 * Parses chain into req. data (cap entries; the chain's iov_cap always
 * suffices) receives the data buffers as slices of the chain's iovecs.
 *
 * Returns 0 when req is a request: either req->op says what to execute,
 * or req->op is BLK_OP_NONE and req->status is the answer (UNSUPP for an
 * unknown or unnegotiated type, IOERR for a range outside the image, a
 * length not a multiple of 512 or a write to a read-only disk). Returns a
 * negated enum blk_req_error when the chain is malformed: the device
 * must then fail, and req->status_ptr is not to be trusted.
 */
int blk_req_parse(const struct vq_chain *chain, const struct blk_limits *lim,
		  struct iovec *data, unsigned int cap, struct blk_req *req);

/* Copies up to len bytes from the front of iov[0, n) into dst. */
uint64_t blk_iov_gather(void *dst, const struct iovec *iov, unsigned int n,
			uint64_t len);

/* Copies up to len bytes from src over iov[0, n). */
uint64_t blk_iov_scatter(const struct iovec *iov, unsigned int n,
			 const void *src, uint64_t len);

#endif
