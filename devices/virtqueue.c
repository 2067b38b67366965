/* Split virtqueues, device side: walking chains and filling the used ring. */
#include "devices/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

static const char *const vq_error_names[] = {
	[VQ_ERR_NOT_READY - VQ_ERR_NOT_READY] = "queue not ready",
	[VQ_ERR_AVAIL_IDX - VQ_ERR_NOT_READY] =
		"available index moved more than the queue size",
	[VQ_ERR_HEAD_RANGE - VQ_ERR_NOT_READY] = "head index out of range",
	[VQ_ERR_NEXT_RANGE - VQ_ERR_NOT_READY] = "next index out of range",
	[VQ_ERR_LOOP - VQ_ERR_NOT_READY] = "descriptor chain loops",
	[VQ_ERR_TOO_LONG -
		VQ_ERR_NOT_READY] = "descriptor chain longer than the queue",
	[VQ_ERR_ZERO_LEN - VQ_ERR_NOT_READY] = "zero-length descriptor",
	[VQ_ERR_LEN_OVERFLOW -
		VQ_ERR_NOT_READY] = "descriptor length overflows",
	[VQ_ERR_ADDR - VQ_ERR_NOT_READY] = "buffer outside guest memory",
	[VQ_ERR_INDIRECT_FEATURE -
		VQ_ERR_NOT_READY] = "indirect descriptor without INDIRECT_DESC",
	[VQ_ERR_INDIRECT_NESTED - VQ_ERR_NOT_READY] =
		"indirect descriptor inside an indirect table",
	[VQ_ERR_INDIRECT_NEXT -
		VQ_ERR_NOT_READY] = "indirect descriptor with NEXT set",
	[VQ_ERR_INDIRECT_LEN - VQ_ERR_NOT_READY] = "bad indirect table length",
	[VQ_ERR_ORDER - VQ_ERR_NOT_READY] =
		"device-readable descriptor after a device-writable one",
	[VQ_ERR_IOV_FULL -
		VQ_ERR_NOT_READY] = "too many buffers for the device",
};

const char *vq_strerror(int err)
{
	int code = -err;

	if (code >= VQ_ERR_NOT_READY && code < VQ_ERR_LAST)
		return vq_error_names[code - VQ_ERR_NOT_READY];
	return strerror(code);
}

void vq_reset(struct virtqueue *vq)
{
	vq->size = 0;
	vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
	vq->ready = vq->event_idx = vq->indirect = false;
	vq->mem = NULL;
	vq->desc = NULL;
	vq->avail = vq->used_hdr = vq->avail_event = NULL;
	vq->used_ring = NULL;
	vq->last_avail_idx = vq->used_idx = vq->signalled_used = 0;
}

static bool vq_aligned(gpa_t gpa, uint64_t align)
{
	return (gpa & (align - 1)) == 0;
}

int vq_setup(struct virtqueue *vq, const struct gmem *mem, uint64_t features)
{
	unsigned int n = vq->size;
	uint8_t *desc, *avail, *used;

	/* virtio 1.2, 2.7: a power of 2, at most 32768. */
	if (n == 0 || n > VQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;

	/* virtio 1.2, 2.7.1: each part starts at its alignment. */
	if (!vq_aligned(vq->desc_gpa, VQ_DESC_ALIGN) ||
	    !vq_aligned(vq->avail_gpa, VQ_AVAIL_ALIGN) ||
	    !vq_aligned(vq->used_gpa, VQ_USED_ALIGN))
		return -EINVAL;

	/* Map each part once, with its full length, for the queue's life. */
	desc = gmem_ptr(mem, vq->desc_gpa, VQ_DESC_BYTES(n));
	avail = gmem_ptr(mem, vq->avail_gpa, VQ_AVAIL_BYTES(n));
	used = gmem_ptr(mem, vq->used_gpa, VQ_USED_BYTES(n));
	if (!desc || !avail || !used)
		return -EFAULT;

	vq->mem = mem;
	vq->desc = desc;
	vq->avail = (uint16_t *)(void *)avail;
	vq->used_hdr = (uint16_t *)(void *)used;
	vq->used_ring = (struct vq_used_elem *)(void *)(used + 4);
	vq->avail_event = (uint16_t *)(void *)(used + 4 + 8ull * n);
	vq->event_idx = features & (1ull << VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = features & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	vq->last_avail_idx = vq->used_idx = vq->signalled_used = 0;
	vq->ready = true;
	return 0;
}

/* Little-endian 16-bit loads and stores on the shared ring, each done once. */
static uint16_t vq_load16(const uint16_t *p, int order)
{
	return le16toh(__atomic_load_n(p, order));
}

static void vq_store16(uint16_t *p, uint16_t v, int order)
{
	__atomic_store_n(p, htole16(v), order);
}

/*
 * Copies one descriptor out of guest memory. The compiler barrier keeps
 * the copy a copy: later uses read the local, never the guest's memory
 * again, so a guest changing it underneath cannot pass a check and then
 * be used with another value.
 */
static void vq_desc_fetch(const uint8_t *table, unsigned int i,
			  struct vq_desc *d)
{
	memcpy(d, table + 16ull * i, sizeof(*d));
	__asm__ __volatile__("" ::: "memory");
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

/* Walk state for one chain: which table, how far, what came before. */
struct vq_walk {
	const uint8_t *table;
	unsigned int table_len; /* entries */
	bool in_indirect;
	bool seen_writable;
	uint64_t total;
};

static int vq_add_buffer(struct virtqueue *vq, struct vq_chain *chain,
			 struct vq_walk *w, const struct vq_desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	unsigned int n = chain->nr_readable + chain->nr_writable;
	gpa_t last;
	void *host;

	if (d->len == 0)
		return -VQ_ERR_ZERO_LEN;
	if (__builtin_add_overflow(d->addr, (uint64_t)d->len - 1, &last))
		return -VQ_ERR_LEN_OVERFLOW;

	/* virtio 1.2, 2.7.5.2: no chain of 2^32 bytes or more. */
	w->total += d->len;
	if (w->total > UINT32_MAX)
		return -VQ_ERR_LEN_OVERFLOW;

	/* virtio 1.2, 2.7.4.2: device-writable buffers come last. */
	if (!writable && w->seen_writable)
		return -VQ_ERR_ORDER;
	w->seen_writable |= writable;

	/* virtio 1.2, 2.7.5.3.1: no chain longer than the queue size. */
	if (n >= vq->size)
		return -VQ_ERR_TOO_LONG;
	if (n >= chain->iov_cap)
		return -VQ_ERR_IOV_FULL;

	host = gmem_ptr(vq->mem, d->addr, d->len);
	if (!host)
		return -VQ_ERR_ADDR;
	chain->iov[n] = (struct iovec){.iov_base = host, .iov_len = d->len};
	if (writable) {
		chain->nr_writable++;
		chain->writable_bytes += d->len;
	} else {
		chain->nr_readable++;
		chain->readable_bytes += d->len;
	}
	return 0;
}

/*
 * Switches the walk to the indirect table d describes (virtio 1.2,
 * 2.7.5.3) and returns the index of its first descriptor (0).
 */
static int vq_enter_indirect(struct virtqueue *vq, struct vq_walk *w,
			     const struct vq_desc *d)
{
	const uint8_t *table;

	if (!vq->indirect)
		return -VQ_ERR_INDIRECT_FEATURE;
	if (w->in_indirect)
		return -VQ_ERR_INDIRECT_NESTED;
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return -VQ_ERR_INDIRECT_NEXT;
	if (d->len == 0 || d->len % 16 || d->len / 16 > vq->size)
		return -VQ_ERR_INDIRECT_LEN;
	table = gmem_ptr(vq->mem, d->addr, d->len);
	if (!table)
		return -VQ_ERR_ADDR;

	w->table = table;
	w->table_len = d->len / 16;
	w->in_indirect = true;
	memset(vq->seen, 0, (w->table_len + 7) / 8);
	return 0;
}

/* Marks descriptor i of the current table seen; false if it already was. */
static bool vq_mark_seen(struct virtqueue *vq, unsigned int i)
{
	uint8_t bit = (uint8_t)(1u << (i % 8));

	if (vq->seen[i / 8] & bit)
		return false;
	vq->seen[i / 8] |= bit;
	return true;
}

static int vq_walk_chain(struct virtqueue *vq, struct vq_chain *chain,
			 uint16_t head)
{
	struct vq_walk w = {.table = vq->desc, .table_len = vq->size};
	unsigned int i = head;
	struct vq_desc d;
	int err;

	memset(vq->seen, 0, (vq->size + 7u) / 8);
	for (;;) {
		if (!vq_mark_seen(vq, i))
			return -VQ_ERR_LOOP;
		vq_desc_fetch(w.table, i, &d);

		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			err = vq_enter_indirect(vq, &w, &d);
			if (err)
				return err;
			i = 0;
			continue;
		}

		err = vq_add_buffer(vq, chain, &w, &d);
		if (err)
			return err;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= w.table_len)
			return -VQ_ERR_NEXT_RANGE;
		i = d.next;
	}
}

int vq_pop_chain(struct virtqueue *vq, struct vq_chain *chain)
{
	uint16_t avail_idx, head;
	int err;

	if (!vq->ready)
		return -VQ_ERR_NOT_READY;

	/*
	 * virtio 1.2, 2.7.13.3: the driver writes the ring entry before idx;
	 * the acquire load pairs with its barrier so the entry read below is
	 * at least as new as idx.
	 */
	avail_idx = vq_load16(&vq->avail[1], __ATOMIC_ACQUIRE);
	if (avail_idx == vq->last_avail_idx)
		return 0;
	if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->size)
		return -VQ_ERR_AVAIL_IDX;

	head = vq_load16(&vq->avail[2 + vq->last_avail_idx % vq->size],
			 __ATOMIC_RELAXED);
	if (head >= vq->size)
		return -VQ_ERR_HEAD_RANGE;

	chain->nr_readable = chain->nr_writable = 0;
	chain->readable_bytes = chain->writable_bytes = 0;
	chain->head = head;
	vq->last_avail_idx++;
	err = vq_walk_chain(vq, chain, head);
	return err ? err : 1;
}

void vq_push_used(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	struct vq_used_elem *e = &vq->used_ring[vq->used_idx % vq->size];

	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(len), __ATOMIC_RELAXED);

	/* virtio 1.2, 2.7.8.1: the element is visible before the index. */
	vq->used_idx++;
	vq_store16(&vq->used_hdr[1], vq->used_idx, __ATOMIC_RELEASE);
}

bool vq_need_interrupt(struct virtqueue *vq)
{
	uint16_t old = vq->signalled_used, now = vq->used_idx, used_event;

	if (!vq->ready || old == now)
		return false;
	vq->signalled_used = now;

	/*
	 * The used index store must be visible before the driver's
	 * suppression state is read, or both sides may decide the other
	 * will act (virtio 1.2, 2.7.7 and 2.7.14: the driver re-checks after
	 * enabling interrupts; this is its counterpart).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	if (!vq->event_idx) {
		/* virtio 1.2, 2.7.7.2: flags only matters without EVENT_IDX. */
		return !(vq_load16(&vq->avail[0], __ATOMIC_RELAXED) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	}

	/* virtio 1.2, 2.7.7.2: notify when used idx passes used_event. */
	used_event = vq_load16(&vq->avail[2 + vq->size], __ATOMIC_RELAXED);
	return (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
}

void vq_disable_notify(struct virtqueue *vq)
{
	/*
	 * With EVENT_IDX, leaving avail_event behind is enough: the driver
	 * only kicks when its idx crosses it (virtio 1.2, 2.7.10).
	 */
	if (!vq->ready || vq->event_idx)
		return;
	vq_store16(&vq->used_hdr[0], VIRTQ_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

bool vq_enable_notify(struct virtqueue *vq)
{
	if (!vq->ready)
		return false;
	if (vq->event_idx)
		vq_store16(vq->avail_event, vq->last_avail_idx,
			   __ATOMIC_RELAXED);
	else
		vq_store16(&vq->used_hdr[0], 0, __ATOMIC_RELAXED);

	/*
	 * virtio 1.2, 2.7.10: the driver reads our suppression state after
	 * publishing idx; we read idx after publishing the state. A full
	 * barrier on both sides means at least one of us sees the other.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_load16(&vq->avail[1], __ATOMIC_ACQUIRE) != vq->last_avail_idx;
}
