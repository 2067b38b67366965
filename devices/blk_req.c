/* Parsing virtio-blk request chains (virtio 1.2, 5.2.6); no I/O here. */
#include "devices/blk_req.h"
#include "vmm/util.h"

#include <endian.h>
#include <string.h>

static const char *const blk_req_errors[] = {
	[BLK_REQ_ERR_HDR -
	 BLK_REQ_ERR_HDR] = "request header shorter than 16 bytes",
	[BLK_REQ_ERR_STATUS - BLK_REQ_ERR_HDR] = "no writable status byte",
	[BLK_REQ_ERR_DIRECTION -
		BLK_REQ_ERR_HDR] = "data buffers of the wrong direction",
	[BLK_REQ_ERR_IOV - BLK_REQ_ERR_HDR] = "too many data buffers",
};

const char *blk_req_strerror(int err)
{
	int e = -err;

	if (e >= BLK_REQ_ERR_HDR && e < BLK_REQ_ERR_LAST)
		return blk_req_errors[e - BLK_REQ_ERR_HDR];
	return "unknown request error";
}

uint64_t blk_iov_gather(void *dst, const struct iovec *iov, unsigned int n,
			uint64_t len)
{
	uint64_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		uint64_t part = MIN(iov[i].iov_len, len - done);

		memcpy((uint8_t *)dst + done, iov[i].iov_base, part);
		done += part;
	}
	return done;
}

uint64_t blk_iov_scatter(const struct iovec *iov, unsigned int n,
			 const void *src, uint64_t len)
{
	uint64_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		uint64_t part = MIN(iov[i].iov_len, len - done);

		memcpy(iov[i].iov_base, (const uint8_t *)src + done, part);
		done += part;
	}
	return done;
}

/*
 * Copies the part [skip, skip + len) of the bytes in iov[0, n) to out as
 * iovecs. Returns 0, or -BLK_REQ_ERR_IOV when more than cap are needed.
 */
static int blk_iov_slice(const struct iovec *iov, unsigned int n, uint64_t skip,
			 uint64_t len, struct iovec *out, unsigned int cap,
			 unsigned int *nr_out)
{
	unsigned int nr = 0;

	for (unsigned int i = 0; i < n && len; i++) {
		uint64_t avail = iov[i].iov_len;
		uint64_t part;

		if (skip >= avail) {
			skip -= avail;
			continue;
		}
		if (nr == cap)
			return -BLK_REQ_ERR_IOV;
		part = MIN(avail - skip, len);
		out[nr].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[nr].iov_len = part;
		nr++;
		len -= part;
		skip = 0;
	}
	*nr_out = nr;
	return 0;
}

/* Sets an immediate answer; returns 0 so callers can return it. */
static int blk_req_answer(struct blk_req *req, uint8_t status)
{
	req->op = BLK_OP_NONE;
	req->status = status;
	return 0;
}

/* Whether [sector, sector + nr_sectors) lies inside the image. */
static bool blk_range_ok(const struct blk_limits *lim, uint64_t sector,
			 uint64_t nr_sectors)
{
	return sector <= lim->capacity && nr_sectors <= lim->capacity - sector;
}

/* IN, OUT, GET_ID: the data between header and status. */
static int blk_req_data(const struct vq_chain *chain, struct blk_req *req,
			bool device_writes, struct iovec *data,
			unsigned int cap)
{
	const struct iovec *w = &chain->iov[chain->nr_readable];
	uint64_t rd_bytes = chain->readable_bytes -
			    sizeof(struct virtio_blk_req_hdr);
	uint64_t wr_bytes = chain->writable_bytes - 1;

	req->data = data;
	if (device_writes) {
		if (rd_bytes)
			return -BLK_REQ_ERR_DIRECTION;
		req->data_bytes = wr_bytes;
		return blk_iov_slice(w, chain->nr_writable, 0, wr_bytes, data,
				     cap, &req->nr_data);
	}
	if (wr_bytes)
		return -BLK_REQ_ERR_DIRECTION;
	req->data_bytes = rd_bytes;
	return blk_iov_slice(chain->iov, chain->nr_readable,
			     sizeof(struct virtio_blk_req_hdr), rd_bytes, data,
			     cap, &req->nr_data);
}

/* virtio 1.2, 5.2.6.2: IN and OUT move whole sectors inside the image. */
static int blk_req_rw(const struct vq_chain *chain,
		      const struct blk_limits *lim, struct iovec *data,
		      unsigned int cap, struct blk_req *req)
{
	bool is_read = req->type == VIRTIO_BLK_T_IN;
	int err = blk_req_data(chain, req, is_read, data, cap);

	if (err)
		return err;
	if (!is_read && lim->readonly)
		return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
	if (req->data_bytes % BLK_SECTOR_SIZE ||
	    !blk_range_ok(lim, req->sector,
			  req->data_bytes >> BLK_SECTOR_SHIFT))
		return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
	if (!req->data_bytes)
		return blk_req_answer(req, VIRTIO_BLK_S_OK);
	req->op = is_read ? BLK_OP_READ : BLK_OP_WRITE;
	req->offset = req->sector << BLK_SECTOR_SHIFT;
	req->len = req->data_bytes;
	return 0;
}

/*
 * virtio 1.2, 5.2.6.2: DISCARD and WRITE_ZEROES carry segments. minnow
 * offers max_discard_seg = max_write_zeroes_seg = 1, so exactly one.
 */
static int blk_req_dwz(const struct vq_chain *chain,
		       const struct blk_limits *lim, struct blk_req *req)
{
	bool discard = req->type == VIRTIO_BLK_T_DISCARD;
	uint64_t rd_bytes = chain->readable_bytes -
			    sizeof(struct virtio_blk_req_hdr);
	struct virtio_blk_dwz_seg seg;
	uint8_t buf[sizeof(struct virtio_blk_req_hdr) + sizeof(seg)];
	uint32_t max, flags;

	if (chain->writable_bytes != 1)
		return -BLK_REQ_ERR_DIRECTION;
	if (discard ? !lim->discard : !lim->write_zeroes)
		return blk_req_answer(req, VIRTIO_BLK_S_UNSUPP);
	if (rd_bytes != sizeof(seg) || lim->readonly)
		return blk_req_answer(req, VIRTIO_BLK_S_IOERR);

	blk_iov_gather(buf, chain->iov, chain->nr_readable, sizeof(buf));
	memcpy(&seg, buf + sizeof(struct virtio_blk_req_hdr), sizeof(seg));
	flags = le32toh(seg.flags);

	/* Unknown flags, or unmap on a discard, are unsupported. */
	if ((flags & ~VIRTIO_BLK_WZ_F_UNMAP) ||
	    (discard && (flags & VIRTIO_BLK_WZ_F_UNMAP)))
		return blk_req_answer(req, VIRTIO_BLK_S_UNSUPP);
	max = discard ? lim->max_discard_sectors
		      : lim->max_write_zeroes_sectors;
	req->sector = le64toh(seg.sector);
	req->len = (uint64_t)le32toh(seg.num_sectors) << BLK_SECTOR_SHIFT;
	if (le32toh(seg.num_sectors) > max ||
	    !blk_range_ok(lim, req->sector, le32toh(seg.num_sectors)))
		return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
	if (!req->len)
		return blk_req_answer(req, VIRTIO_BLK_S_OK);
	req->op = discard ? BLK_OP_DISCARD : BLK_OP_WRITE_ZEROES;
	req->offset = req->sector << BLK_SECTOR_SHIFT;
	req->unmap = flags & VIRTIO_BLK_WZ_F_UNMAP;
	return 0;
}

int blk_req_parse(const struct vq_chain *chain, const struct blk_limits *lim,
		  struct iovec *data, unsigned int cap, struct blk_req *req)
{
	struct virtio_blk_req_hdr hdr;
	const struct iovec *last;
	int err;

	memset(req, 0, sizeof(*req));

	/* virtio 1.2, 2.6.4: framing is free, so the header may be split. */
	if (chain->readable_bytes < sizeof(hdr))
		return -BLK_REQ_ERR_HDR;
	if (!chain->nr_writable || !chain->writable_bytes)
		return -BLK_REQ_ERR_STATUS;
	blk_iov_gather(&hdr, chain->iov, chain->nr_readable, sizeof(hdr));
	req->type = le32toh(hdr.type);
	req->sector = le64toh(hdr.sector);

	/* The status is the very last device-writable byte. */
	last = &chain->iov[chain->nr_readable + chain->nr_writable - 1];
	req->status_ptr = (uint8_t *)last->iov_base + last->iov_len - 1;

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return blk_req_rw(chain, lim, data, cap, req);
	case VIRTIO_BLK_T_FLUSH:
		if (chain->readable_bytes != sizeof(hdr) ||
		    chain->writable_bytes != 1)
			return -BLK_REQ_ERR_DIRECTION;
		req->op = BLK_OP_FLUSH;
		return 0;
	case VIRTIO_BLK_T_GET_ID:
		err = blk_req_data(chain, req, true, data, cap);
		if (err)
			return err;
		req->op = BLK_OP_GET_ID;
		return 0;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blk_req_dwz(chain, lim, req);
	default:
		/* virtio 1.2, 5.2.6.2: unknown types are answered UNSUPP. */
		return blk_req_answer(req, VIRTIO_BLK_S_UNSUPP);
	}
}
