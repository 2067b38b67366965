/*
 * Shared by the virtio-blk guest programs: one request at a time or many,
 * through lib/virtio, and the data pattern the host-side runner
 * (blk_run.py) recomputes to check the image.
 */
#ifndef GUEST_BLK_COMMON_H
#define GUEST_BLK_COMMON_H

#include "lib/guest.h"
#include "lib/virtio.h"
#include "lib/x86.h"

/* virtio 1.2, 5.2.3 and 5.2.6. */
#define BLK_F_SIZE_MAX     (1ull << 1)
#define BLK_F_SEG_MAX      (1ull << 2)
#define BLK_F_RO           (1ull << 5)
#define BLK_F_BLK_SIZE     (1ull << 6)
#define BLK_F_FLUSH        (1ull << 9)
#define BLK_F_MQ           (1ull << 12)
#define BLK_F_DISCARD      (1ull << 13)
#define BLK_F_WRITE_ZEROES (1ull << 14)
#define BLK_T_IN           0
#define BLK_T_OUT          1
#define BLK_T_FLUSH        4
#define BLK_T_GET_ID       8
#define BLK_T_DISCARD      11
#define BLK_T_WRITE_ZEROES 13
#define BLK_S_OK           0
#define BLK_S_IOERR        1
#define BLK_S_UNSUPP       2
#define BLK_CFG_CAPACITY   0
#define BLK_CFG_NUM_QUEUES 34

#define BLK_WAIT_US 10000000ull

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* One request slot: header, segment and status live in guest RAM. */
struct blk_slot {
	struct blk_hdr hdr;
	uint64_t seg[2];
	uint8_t status;
};

/* The byte at image offset off for pattern seed (blk_run.py agrees). */
static inline uint8_t blk_pattern_byte(uint64_t off, uint8_t seed)
{
	return (uint8_t)(off * 7 + (off >> 9) * 13 + seed);
}

/*
 * Adds one request on q: header, data (len bytes at buf, in pieces of at
 * most piece bytes, device-writable for IN and GET_ID), status. Returns
 * virtq_add()'s result.
 */
static inline int blk_add_pieces(struct virtq *q, struct blk_slot *s,
				 uint32_t type, uint64_t sector, void *buf,
				 uint32_t len, uint32_t piece, uint16_t *head)
{
	struct virtq_buf b[40];
	bool writes = type == BLK_T_IN || type == BLK_T_GET_ID;
	unsigned int n = 0;

	s->hdr = (struct blk_hdr){.type = type, .sector = sector};
	s->status = 0xaa;
	b[n++] = (struct virtq_buf){&s->hdr, sizeof(s->hdr), false};
	if (type == BLK_T_DISCARD || type == BLK_T_WRITE_ZEROES)
		b[n++] = (struct virtq_buf){s->seg, 16, false};
	for (uint32_t off = 0; off < len && n < 39; off += piece)
		b[n++] = (struct virtq_buf){
			(uint8_t *)buf + off,
			len - off < piece ? len - off : piece, writes};
	b[n++] = (struct virtq_buf){&s->status, 1, true};
	return virtq_add(q, b, n, head);
}

/* As blk_add_pieces, in 4 KiB pieces as Linux's page-sized segments. */
static inline int blk_add(struct virtq *q, struct blk_slot *s, uint32_t type,
			  uint64_t sector, void *buf, uint32_t len,
			  uint16_t *head)
{
	return blk_add_pieces(q, s, type, sector, buf, len, 4096, head);
}

/* One request, waited for; returns its status or a negative error. */
static inline int blk_do(struct virtq *q, struct blk_slot *s, uint32_t type,
			 uint64_t sector, void *buf, uint32_t len)
{
	uint16_t head, id;
	uint32_t used;
	int err = blk_add(q, s, type, sector, buf, len, &head);

	if (err)
		return err;
	virtq_kick(q);
	err = virtq_wait(q, &id, &used, BLK_WAIT_US);
	if (err)
		return err;
	if (id != head)
		return -VIRTIO_EBADUSED;
	return s->status;
}

#endif
