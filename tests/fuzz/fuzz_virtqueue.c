/*
 * libFuzzer target for the split virtqueue parser: the input becomes the
 * start of guest memory (rings, descriptors, indirect tables) and a few
 * header bytes pick the queue size and features; the device then pops
 * chains until the queue is empty or refuses one, touching every buffer
 * it was given as a device would.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "devices/virtqueue.h"
#include "vmm/gmem.h"

#define FUZZ_RAM_BYTES   (2u << 20)
#define FUZZ_IMAGE_BYTES (64u * 1024) /* what the input may fill */
#define FUZZ_HEADER      4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gmem mem;
static struct iovec iov[VQ_MAX_SIZE];
static struct virtqueue vq;

/* Reads every readable byte and writes every writable one. */
static void fuzz_touch(const struct vq_chain *chain)
{
	volatile uint8_t sum = 0;

	for (unsigned int i = 0; i < chain->nr_readable; i++) {
		const uint8_t *p = chain->iov[i].iov_base;

		for (size_t j = 0; j < chain->iov[i].iov_len; j += 4096)
			sum ^= p[j];
		sum ^= p[chain->iov[i].iov_len - 1];
	}
	for (unsigned int i = 0; i < chain->nr_writable; i++) {
		const struct iovec *w = &chain->iov[chain->nr_readable + i];

		memset(w->iov_base, 0xa5, w->iov_len < 64 ? w->iov_len : 64);
		((uint8_t *)w->iov_base)[w->iov_len - 1] = 0x5a;
	}
	(void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vq_chain chain = {.iov = iov, .iov_cap = VQ_MAX_SIZE};
	uint64_t features = 0;
	unsigned int rounds = 0;
	int ret;

	if (!mem.base && gmem_init(&mem, FUZZ_RAM_BYTES, false))
		__builtin_trap();
	if (size < FUZZ_HEADER)
		return 0;

	/* Header: log2 of the queue size, features, ring placement. */
	vq_reset(&vq);
	vq.size = (uint16_t)(1u << (data[0] % 16));
	if (data[1] & 1)
		features |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	if (data[1] & 2)
		features |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	vq.desc_gpa = 0;
	vq.avail_gpa = VQ_DESC_BYTES(vq.size) + 2ull * data[2];
	vq.used_gpa = ((vq.avail_gpa + VQ_AVAIL_BYTES(vq.size) + 3) & ~3ull) +
		      4ull * data[3];
	data += FUZZ_HEADER;
	size -= FUZZ_HEADER;

	memset(mem.base, 0, FUZZ_IMAGE_BYTES);
	memcpy(mem.base, data,
	       size < FUZZ_IMAGE_BYTES ? size : FUZZ_IMAGE_BYTES);
	if (vq_setup(&vq, &mem, features))
		return 0;

	/* Start where the input's avail idx says, as after a migration. */
	vq.last_avail_idx = size >= 2 ? (uint16_t)(data[0] | data[1] << 8) : 0;
	vq.used_idx = vq.signalled_used = vq.last_avail_idx;

	vq_disable_notify(&vq);
	while ((ret = vq_pop_chain(&vq, &chain)) == 1) {
		/* Each pop consumes an available entry: at most size of them. */
		if (++rounds > vq.size)
			__builtin_trap();
		fuzz_touch(&chain);
		vq_push_used(&vq, chain.head, chain.writable_bytes);
		vq_need_interrupt(&vq);
	}
	vq_enable_notify(&vq);
	return 0;
}
