/* virtio-vsock packet headers: decoding, checking and encoding. */
#include "devices/vsock_pkt.h"

#include <endian.h>
#include <string.h>

const char *vsock_pkt_strerror(int err)
{
	switch (-err) {
	case VSOCK_PKT_ERR_SHORT:
		return "packet shorter than its header";
	case VSOCK_PKT_ERR_LEN:
		return "payload length past the buffers";
	case VSOCK_PKT_ERR_TOO_BIG:
		return "payload length over 64 KiB";
	default:
		return "unknown packet error";
	}
}

size_t vsock_iov_read(const struct iovec *iov, unsigned int nr_iov,
		      size_t offset, void *dst, size_t len)
{
	uint8_t *out = dst;
	size_t done = 0;

	for (unsigned int i = 0; i < nr_iov && done < len; i++) {
		size_t n;

		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - offset;
		if (n > len - done)
			n = len - done;
		memcpy(out + done, (const uint8_t *)iov[i].iov_base + offset,
		       n);
		done += n;
		offset = 0;
	}
	return done;
}

size_t vsock_iov_write(const struct iovec *iov, unsigned int nr_iov,
		       size_t offset, const void *src, size_t len)
{
	const uint8_t *in = src;
	size_t done = 0;

	for (unsigned int i = 0; i < nr_iov && done < len; i++) {
		size_t n;

		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - offset;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)iov[i].iov_base + offset, in + done, n);
		done += n;
		offset = 0;
	}
	return done;
}

static void vsock_hdr_decode(const struct vsock_hdr_le *le,
			     struct vsock_hdr *hdr)
{
	hdr->src_cid = le64toh(le->src_cid);
	hdr->dst_cid = le64toh(le->dst_cid);
	hdr->src_port = le32toh(le->src_port);
	hdr->dst_port = le32toh(le->dst_port);
	hdr->len = le32toh(le->len);
	hdr->type = le16toh(le->type);
	hdr->op = le16toh(le->op);
	hdr->flags = le32toh(le->flags);
	hdr->buf_alloc = le32toh(le->buf_alloc);
	hdr->fwd_cnt = le32toh(le->fwd_cnt);
}

void vsock_hdr_encode(const struct vsock_hdr *hdr, struct vsock_hdr_le *out)
{
	out->src_cid = htole64(hdr->src_cid);
	out->dst_cid = htole64(hdr->dst_cid);
	out->src_port = htole32(hdr->src_port);
	out->dst_port = htole32(hdr->dst_port);
	out->len = htole32(hdr->len);
	out->type = htole16(hdr->type);
	out->op = htole16(hdr->op);
	out->flags = htole32(hdr->flags);
	out->buf_alloc = htole32(hdr->buf_alloc);
	out->fwd_cnt = htole32(hdr->fwd_cnt);
}

int vsock_pkt_parse(const struct iovec *iov, unsigned int nr_iov,
		    uint32_t readable_bytes, struct vsock_hdr *hdr)
{
	struct vsock_hdr_le le;

	/* The header is read once: the guest may change it meanwhile. */
	if (readable_bytes < VSOCK_HDR_BYTES ||
	    vsock_iov_read(iov, nr_iov, 0, &le, sizeof(le)) != sizeof(le))
		return -VSOCK_PKT_ERR_SHORT;
	vsock_hdr_decode(&le, hdr);

	if (hdr->len > VSOCK_MAX_PAYLOAD)
		return -VSOCK_PKT_ERR_TOO_BIG;
	if (hdr->len > readable_bytes - VSOCK_HDR_BYTES)
		return -VSOCK_PKT_ERR_LEN;
	return 0;
}

enum vsock_pkt_class vsock_pkt_classify(const struct vsock_hdr *hdr,
					uint64_t guest_cid)
{
	/*
	 * virtio 1.2, 5.10.6.4: the driver uses guest_cid as source. A
	 * packet from elsewhere or for someone other than the host has no
	 * flow here, and answering it would only echo the guest's lie.
	 */
	if (hdr->src_cid != guest_cid || hdr->dst_cid != VSOCK_CID_HOST)
		return VSOCK_PKT_DROP;

	/* virtio 1.2, 5.10.6.4: an unknown type gets an RST reply. */
	if (hdr->type != VSOCK_TYPE_STREAM)
		return hdr->op == VSOCK_OP_RST ? VSOCK_PKT_DROP
					       : VSOCK_PKT_REPLY_RST;

	switch (hdr->op) {
	case VSOCK_OP_REQUEST:
	case VSOCK_OP_RESPONSE:
	case VSOCK_OP_RST:
	case VSOCK_OP_SHUTDOWN:
	case VSOCK_OP_RW:
	case VSOCK_OP_CREDIT_UPDATE:
	case VSOCK_OP_CREDIT_REQUEST:
		return VSOCK_PKT_HANDLE;
	default:
		return VSOCK_PKT_REPLY_RST;
	}
}
