/*
 * Split virtqueues (virtio 1.2, 2.7), seen from the device: taking
 * descriptor chains off the available ring, returning them on the used
 * ring, and deciding when either side needs to be notified.
 *
 * Contract: the ring lives in guest memory that a running guest changes
 * at any time. Every field is read once into a local copy and checked
 * before use; nothing here trusts an index or a length it read. A
 * virtqueue is used by one thread at a time: the owner (the device, under
 * its lock) serialises vq_setup(), vq_pop_chain(), vq_push_used() and the
 * notification helpers.
 */
#ifndef MINNOW_VIRTQUEUE_H
#define MINNOW_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/gmem.h"

/* virtio 1.2, 2.7.5: descriptor flags. */
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

/* virtio 1.2, 2.7.6 and 2.7.8: ring flags. */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

/* virtio 1.2, 6: ring feature bits. */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29

/* virtio 1.2, 2.7: the largest queue size. */
#define VQ_MAX_SIZE 32768u

/* virtio 1.2, 2.7: alignment of each part of a split virtqueue. */
#define VQ_DESC_ALIGN  16u
#define VQ_AVAIL_ALIGN 2u
#define VQ_USED_ALIGN  4u

/* virtio 1.2, 2.7.5: one descriptor, little-endian in guest memory. */
struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct vq_desc) == 16, "virtq_desc is 16 bytes");

/* virtio 1.2, 2.7.8: one used ring element. */
struct vq_used_elem {
	uint32_t id;
	uint32_t len;
};
_Static_assert(sizeof(struct vq_used_elem) == 8, "virtq_used_elem is 8 bytes");

/* Sizes of the three parts for a queue of n entries (virtio 1.2, 2.7). */
#define VQ_DESC_BYTES(n)  (16ull * (n))
#define VQ_AVAIL_BYTES(n) (6ull + 2ull * (n))
#define VQ_USED_BYTES(n)  (6ull + 8ull * (n))

/*
 * Why vq_pop_chain() refused a chain. Each is returned negated. They start
 * above the errno range so that they can never be mistaken for one.
 */
enum vq_error {
	VQ_ERR_NOT_READY = 4096, /* queue not set up */
	VQ_ERR_AVAIL_IDX,        /* avail idx more than size ahead */
	VQ_ERR_HEAD_RANGE,       /* head index >= queue size */
	VQ_ERR_NEXT_RANGE,       /* next index outside its table */
	VQ_ERR_LOOP,             /* a descriptor reached twice */
	VQ_ERR_TOO_LONG,         /* more buffers than the queue size */
	VQ_ERR_ZERO_LEN,         /* a buffer of length 0 */
	VQ_ERR_LEN_OVERFLOW,     /* addr + len wraps, or total >= 4 GiB */
	VQ_ERR_ADDR,             /* buffer or table outside guest RAM */
	VQ_ERR_INDIRECT_FEATURE, /* INDIRECT without the feature */
	VQ_ERR_INDIRECT_NESTED,  /* INDIRECT inside an indirect table */
	VQ_ERR_INDIRECT_NEXT,    /* INDIRECT and NEXT both set */
	VQ_ERR_INDIRECT_LEN,     /* table size 0, not 16*n or > queue size */
	VQ_ERR_ORDER,            /* device-readable after device-writable */
	VQ_ERR_IOV_FULL,         /* the caller's iovec array is too small */
	VQ_ERR_LAST,
};

/* A short description of err (a negated enum vq_error or errno). */
const char *vq_strerror(int err);

struct virtqueue {
	/* Set by the transport before vq_setup(). */
	uint16_t size;   /* entries; 0 means not configured */
	gpa_t desc_gpa;  /* descriptor area */
	gpa_t avail_gpa; /* driver area */
	gpa_t used_gpa;  /* device area */

	/* Set by vq_setup() from the negotiated features. */
	bool ready;
	bool event_idx;
	bool indirect;
	const struct gmem *mem;
	const uint8_t *desc; /* host view of the descriptor table */
	uint16_t *avail;     /* flags, idx, ring[size], used_event */
	uint16_t *used_hdr;  /* flags, idx; elements follow */
	struct vq_used_elem *used_ring;
	uint16_t *avail_event;

	/* Device-side indices (free-running, modulo 2^16). */
	uint16_t last_avail_idx;
	uint16_t used_idx;
	uint16_t signalled_used; /* used_idx at the last interrupt check */

	/* Loop detection: one bit per descriptor of the table being walked. */
	uint8_t seen[VQ_MAX_SIZE / 8];
};

/*
 * One descriptor chain as the device sees it: iov[0, nr_readable) are the
 * device-readable buffers, then nr_writable device-writable ones. The
 * caller owns iov (iov_cap entries); a chain never has more buffers than
 * the queue size, so iov_cap = queue size always suffices.
 */
struct vq_chain {
	struct iovec *iov;
	unsigned int iov_cap;
	unsigned int nr_readable;
	unsigned int nr_writable;
	uint32_t readable_bytes;
	uint32_t writable_bytes;
	uint16_t head;
};

/* Forgets everything: back to the state after a device reset. */
void vq_reset(struct virtqueue *vq);

/*
 * Makes vq usable once size and the three addresses are set: checks the
 * size (a power of two, 1..VQ_MAX_SIZE), the alignments (virtio 1.2,
 * 2.7.1) and that each part lies in guest RAM, then maps it. features
 * are the negotiated ones (for INDIRECT_DESC and EVENT_IDX).
 * Returns 0, -EINVAL for a bad size or alignment, -EFAULT for a part
 * outside RAM.
 */
int vq_setup(struct virtqueue *vq, const struct gmem *mem, uint64_t features);

/*
 * Takes the next available chain. Returns 1 and fills chain, 0 when the
 * driver has made nothing new available, or a negated enum vq_error when
 * the driver broke the rules; the queue must then not be used until the
 * device is reset.
 */
int vq_pop_chain(struct virtqueue *vq, struct vq_chain *chain);

/*
 * Returns chain head to the driver with len bytes written, and publishes
 * it (virtio 1.2, 2.7.8.1: the element before the index).
 */
void vq_push_used(struct virtqueue *vq, uint16_t head, uint32_t len);

/*
 * Whether the driver wants a used buffer notification for what was pushed
 * since the last call (virtio 1.2, 2.7.7.2): with EVENT_IDX, whether
 * used_event was passed; without, whether NO_INTERRUPT is clear.
 */
bool vq_need_interrupt(struct virtqueue *vq);

/*
 * Available buffer notification suppression (virtio 1.2, 2.7.10): while
 * processing, the device may ask not to be kicked. vq_enable_notify() asks
 * for kicks again and returns true when buffers arrived meanwhile, in which
 * case the caller must process them (or it may never be kicked for them).
 */
void vq_disable_notify(struct virtqueue *vq);
bool vq_enable_notify(struct virtqueue *vq);

#endif
