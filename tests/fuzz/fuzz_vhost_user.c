/*
 * libFuzzer target for the vhost-user back end: the input is the start of
 * guest RAM (where rings and buffers live), then a stream of front-end
 * messages (header, payload, and a count of memfds to attach),
 * each checked and applied by vu_backend_handle(); after each one every
 * ring is processed, so that ring set-up from the memory table and the
 * chains in a small guest RAM get exercised too.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/vhost_user_backend.h"
#include "devices/virtio.h"

#define FUZZ_MEM_BYTES (1u << 20)

static int mem_fd = -1;

/* Reads every byte the chain offers, writes every byte it may. */
static uint32_t fuzz_serve(void *ctx, const struct vq_chain *chain)
{
	volatile uint8_t sink = 0;
	uint32_t written = 0;

	(void)ctx;
	for (unsigned int i = 0; i < chain->nr_readable; i++)
		for (size_t j = 0; j < chain->iov[i].iov_len; j += 64)
			sink ^= ((uint8_t *)chain->iov[i].iov_base)[j];
	for (unsigned int i = 0; i < chain->nr_writable; i++) {
		const struct iovec *w = &chain->iov[chain->nr_readable + i];

		memset(w->iov_base, 0xa5, w->iov_len);
		written += (uint32_t)w->iov_len;
	}
	(void)sink;
	return written;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vu_backend_config cfg = {
		.name = "fuzz",
		.features = (1ull << VIRTIO_F_VERSION_1) |
			    (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
			    (1ull << VIRTIO_RING_F_EVENT_IDX),
		.nr_queues = 2,
		.queue_max_size = 64,
		.serve = fuzz_serve,
	};
	struct vu_backend b;
	struct vu_msg msg, reply;

	log_threshold = LOG_ERROR;
	if (mem_fd < 0) {
		mem_fd = memfd_create("fuzz-ram", MFD_CLOEXEC);
		if (mem_fd < 0 || ftruncate(mem_fd, FUZZ_MEM_BYTES) < 0)
			return 0;
	}
	if (size < 1 || vu_backend_init(&b, &cfg))
		return 0;

	/* First byte: how many 64-byte blocks of guest RAM follow (rings). */
	{
		size_t ram = (size_t)data[0] * 64;

		ram = ram < size - 1 ? ram : size - 1;
		if (pwrite(mem_fd, data + 1, ram, 0) < 0)
			ram = 0;
		data += 1 + ram;
		size -= 1 + ram;
	}

	/* Each message: a 12-byte header, 1 byte of fd count, the payload. */
	while (size >= sizeof(msg.hdr) + 1) {
		unsigned int nr_fds = data[sizeof(msg.hdr)] % (VU_MAX_FDS + 1);
		size_t len;

		memset(&msg, 0, sizeof(msg));
		memcpy(&msg.hdr, data, sizeof(msg.hdr));
		data += sizeof(msg.hdr) + 1;
		size -= sizeof(msg.hdr) + 1;
		len = msg.hdr.size < VU_MAX_PAYLOAD ? msg.hdr.size
						    : VU_MAX_PAYLOAD;
		len = len < size ? len : size;
		msg.hdr.size = (uint32_t)len;
		memcpy(&msg.payload, data, len);
		data += len;
		size -= len;

		/* Guest RAM for the memory table, eventfds for the rest. */
		for (unsigned int i = 0; i < nr_fds; i++)
			msg.fds[msg.nr_fds++] =
				msg.hdr.request == VU_SET_MEM_TABLE
					? dup(mem_fd)
					: eventfd(0,
						  EFD_CLOEXEC | EFD_NONBLOCK);
		if (vu_backend_handle(&b, &msg, &reply) < 0)
			break;
		for (unsigned int q = 0; q < cfg.nr_queues; q++)
			vu_backend_process(&b, q);
	}
	vu_backend_cleanup(&b);
	return 0;
}
