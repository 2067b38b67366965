/*
 * A guest driver's side of a split virtqueue, for unit tests: lays out the
 * descriptor table and rings in fake guest memory, adds buffers, kicks
 * and collects used entries, the way a guest's virtio driver would.
 * Header-only; every function is static inline.
 */
#ifndef MINNOW_TEST_VQ_DRIVER_H
#define MINNOW_TEST_VQ_DRIVER_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "devices/virtqueue.h"
#include "vmm/gmem.h"

struct vq_driver {
	struct gmem *mem;
	uint16_t size;
	gpa_t desc, avail, used;
	uint16_t avail_idx; /* next slot the driver fills */
	uint16_t last_used; /* next used entry the driver reads */
	uint16_t next_desc; /* descriptors are handed out round robin */
};

/* One buffer of a chain the driver adds. */
struct vqd_buf {
	gpa_t addr;
	uint32_t len;
	bool writable;
};

static inline void vqd_put16(struct gmem *mem, gpa_t gpa, uint16_t v)
{
	uint16_t le = htole16(v);

	__atomic_store_n((uint16_t *)gmem_ptr(mem, gpa, 2), le,
			 __ATOMIC_RELEASE);
}

static inline uint16_t vqd_get16(struct gmem *mem, gpa_t gpa)
{
	return le16toh(__atomic_load_n((uint16_t *)gmem_ptr(mem, gpa, 2),
				       __ATOMIC_ACQUIRE));
}

static inline uint32_t vqd_get32(struct gmem *mem, gpa_t gpa)
{
	uint32_t v;

	memcpy(&v, gmem_ptr(mem, gpa, 4), 4);
	return le32toh(v);
}

/*
 * Lays out a queue of size entries at base (16-aligned): the descriptor
 * table, the available ring right after it, the used ring at the next
 * 4-byte boundary. Zeroes all three.
 */
static inline void vqd_init(struct vq_driver *d, struct gmem *mem,
			    uint16_t size, gpa_t base)
{
	memset(d, 0, sizeof(*d));
	d->mem = mem;
	d->size = size;
	d->desc = base;
	d->avail = base + VQ_DESC_BYTES(size);
	d->used = (d->avail + VQ_AVAIL_BYTES(size) + 3) & ~3ull;
	memset(gmem_ptr(mem, base, d->used + VQ_USED_BYTES(size) - base), 0,
	       d->used + VQ_USED_BYTES(size) - base);
}

/* Points vq at the driver's rings and sets it up; returns vq_setup()'s. */
static inline int vqd_attach(struct vq_driver *d, struct virtqueue *vq,
			     uint64_t features)
{
	vq_reset(vq);
	vq->size = d->size;
	vq->desc_gpa = d->desc;
	vq->avail_gpa = d->avail;
	vq->used_gpa = d->used;
	return vq_setup(vq, d->mem, features);
}

/* Writes descriptor i of the table at table_gpa, as the guest would. */
static inline void vqd_write_desc(struct gmem *mem, gpa_t table_gpa, uint16_t i,
				  uint64_t addr, uint32_t len, uint16_t flags,
				  uint16_t next)
{
	struct vq_desc desc = {
		.addr = htole64(addr),
		.len = htole32(len),
		.flags = htole16(flags),
		.next = htole16(next),
	};

	gmem_write(mem, table_gpa + 16ull * i, &desc, sizeof(desc));
}

static inline void vqd_desc(struct vq_driver *d, uint16_t i, uint64_t addr,
			    uint32_t len, uint16_t flags, uint16_t next)
{
	vqd_write_desc(d->mem, d->desc, i, addr, len, flags, next);
}

/* Makes the chain at head available and publishes avail->idx. */
static inline void vqd_publish(struct vq_driver *d, uint16_t head)
{
	vqd_put16(d->mem, d->avail + 4 + 2ull * (d->avail_idx % d->size), head);
	d->avail_idx++;
	vqd_put16(d->mem, d->avail + 2, d->avail_idx);
}

/* Sets avail->idx directly (for hostile drivers). */
static inline void vqd_set_avail_idx(struct vq_driver *d, uint16_t idx)
{
	d->avail_idx = idx;
	vqd_put16(d->mem, d->avail + 2, idx);
}

/*
 * Adds a chain of n buffers in consecutive (round-robin) descriptors,
 * publishes it and returns its head.
 */
static inline uint16_t vqd_add(struct vq_driver *d, const struct vqd_buf *b,
			       unsigned int n)
{
	uint16_t head = d->next_desc;

	for (unsigned int i = 0; i < n; i++) {
		uint16_t idx = d->next_desc;
		uint16_t next = (uint16_t)((idx + 1) % d->size);
		uint16_t flags = b[i].writable ? VIRTQ_DESC_F_WRITE : 0;

		if (i + 1 < n)
			flags |= VIRTQ_DESC_F_NEXT;
		vqd_desc(d, idx, b[i].addr, b[i].len, flags,
			 i + 1 < n ? next : 0);
		d->next_desc = next;
	}
	vqd_publish(d, head);
	return head;
}

/*
 * Adds one descriptor pointing at an indirect table at table_gpa holding
 * the n buffers, publishes it and returns its head.
 */
static inline uint16_t vqd_add_indirect(struct vq_driver *d, gpa_t table_gpa,
					const struct vqd_buf *b, unsigned int n)
{
	uint16_t head = d->next_desc;

	for (unsigned int i = 0; i < n; i++) {
		uint16_t flags = b[i].writable ? VIRTQ_DESC_F_WRITE : 0;

		if (i + 1 < n)
			flags |= VIRTQ_DESC_F_NEXT;
		vqd_write_desc(d->mem, table_gpa, (uint16_t)i, b[i].addr,
			       b[i].len, flags, (uint16_t)(i + 1));
	}
	vqd_desc(d, head, table_gpa, 16u * n, VIRTQ_DESC_F_INDIRECT, 0);
	d->next_desc = (uint16_t)((head + 1) % d->size);
	vqd_publish(d, head);
	return head;
}

/* Takes the next used entry; false when the device returned none. */
static inline bool vqd_get_used(struct vq_driver *d, uint32_t *id,
				uint32_t *len)
{
	gpa_t elem;

	if (vqd_get16(d->mem, d->used + 2) == d->last_used)
		return false;
	elem = d->used + 4 + 8ull * (d->last_used % d->size);
	*id = vqd_get32(d->mem, elem);
	*len = vqd_get32(d->mem, elem + 4);
	d->last_used++;
	return true;
}

static inline void vqd_set_avail_flags(struct vq_driver *d, uint16_t flags)
{
	vqd_put16(d->mem, d->avail, flags);
}

/* used_event lives after the available ring (virtio 1.2, 2.7.6). */
static inline void vqd_set_used_event(struct vq_driver *d, uint16_t v)
{
	vqd_put16(d->mem, d->avail + 4 + 2ull * d->size, v);
}

/* avail_event lives after the used ring (virtio 1.2, 2.7.8). */
static inline uint16_t vqd_avail_event(struct vq_driver *d)
{
	return vqd_get16(d->mem, d->used + 4 + 8ull * d->size);
}

static inline uint16_t vqd_used_flags(struct vq_driver *d)
{
	return vqd_get16(d->mem, d->used);
}

/*
 * Starts both sides at index start, as if start chains had already gone
 * round: for wrap-around tests.
 */
static inline void vqd_start_at(struct vq_driver *d, struct virtqueue *vq,
				uint16_t start)
{
	d->avail_idx = d->last_used = start;
	vqd_put16(d->mem, d->avail + 2, start);
	vqd_put16(d->mem, d->used + 2, start);
	vq->last_avail_idx = vq->used_idx = vq->signalled_used = start;
}

#endif
