/*
 * libFuzzer target for blk_req_parse(): the input describes a chain
 * (buffer count, each buffer's length and direction, then the bytes) and
 * the limits; the parser must never read or write outside the buffers,
 * and whatever it accepts must lie inside the image.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/blk_req.h"

#define MAX_BUFS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iovec iov[MAX_BUFS], out[MAX_BUFS];
	uint8_t *bufs[MAX_BUFS] = {0};
	struct vq_chain chain = {.iov = iov, .iov_cap = MAX_BUFS};
	struct blk_limits lim = {0};
	struct blk_req req;
	unsigned int n, i;
	bool writing = false;

	if (size < 12)
		return 0;
	n = data[0] % MAX_BUFS + 1;
	lim.capacity = data[1] * 8ull;
	lim.readonly = data[2] & 1;
	lim.discard = data[2] & 2;
	lim.write_zeroes = data[2] & 4;
	lim.max_discard_sectors = data[3];
	lim.max_write_zeroes_sectors = data[4];
	data += 5;
	size -= 5;

	/* Each buffer: one byte of length (x2) and direction, then bytes. */
	for (i = 0; i < n && size; i++) {
		size_t len = (size_t)(data[0] & 0x7f) * 2 + 1;
		bool w = data[0] & 0x80;

		data++;
		size--;
		/* vq_pop_chain() guarantees readable buffers come first. */
		writing |= w;
		bufs[i] = calloc(1, len);
		if (!bufs[i])
			break;
		memcpy(bufs[i], data, len < size ? len : size);
		data += len < size ? len : size;
		size -= len < size ? len : size;
		iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = len};
		if (writing) {
			chain.nr_writable++;
			chain.writable_bytes += (uint32_t)len;
		} else {
			chain.nr_readable++;
			chain.readable_bytes += (uint32_t)len;
		}
	}

	if (blk_req_parse(&chain, &lim, out, MAX_BUFS, &req) == 0) {
		uint64_t end = req.offset + req.len;

		*req.status_ptr = 0;
		if (req.op == BLK_OP_READ || req.op == BLK_OP_WRITE ||
		    req.op == BLK_OP_DISCARD || req.op == BLK_OP_WRITE_ZEROES) {
			if (end < req.offset ||
			    end > lim.capacity * BLK_SECTOR_SIZE)
				abort();
		}
		for (i = 0; i < req.nr_data; i++)
			memset(req.data[i].iov_base, 0, req.data[i].iov_len);
	}
	for (i = 0; i < MAX_BUFS; i++)
		free(bufs[i]);
	return 0;
}
