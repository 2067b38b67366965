/* virtio-net header checks and iovec helpers, free of any I/O. */
#include "devices/net_hdr.h"
#include "vmm/util.h"

#include <endian.h>
#include <stdint.h>
#include <string.h>

const char *net_tx_strerror(int err)
{
	static const char *const names[] = {
		[NET_TX_ERR_SHORT] = "shorter than the virtio-net header",
		[NET_TX_ERR_TOO_BIG] = "larger than the negotiated limit",
		[NET_TX_ERR_GSO_TYPE] = "segmentation offload not negotiated",
		[NET_TX_ERR_GSO_SIZE] = "segmentation offload without a size",
		[NET_TX_ERR_CSUM] = "checksum offload not negotiated or "
				    "out of range",
	};
	unsigned int e = err < 0 ? (unsigned int)-err : 0;

	if (e && e < ARRAY_SIZE(names) && names[e])
		return names[e];
	return "unknown error";
}

uint32_t net_tx_max_frame(uint64_t features, uint32_t mtu)
{
	const uint64_t gso = NET_FEATURE(VIRTIO_NET_F_HOST_TSO4) |
			     NET_FEATURE(VIRTIO_NET_F_HOST_TSO6) |
			     NET_FEATURE(VIRTIO_NET_F_HOST_UFO);

	return features & gso ? NET_GSO_MAX_FRAME : mtu + NET_ETH_OVERHEAD;
}

uint32_t net_rx_max_frame(uint64_t features, uint32_t mtu)
{
	const uint64_t gso = NET_FEATURE(VIRTIO_NET_F_GUEST_TSO4) |
			     NET_FEATURE(VIRTIO_NET_F_GUEST_TSO6) |
			     NET_FEATURE(VIRTIO_NET_F_GUEST_UFO);

	return features & gso ? NET_GSO_MAX_FRAME : mtu + NET_ETH_OVERHEAD;
}

/* The feature a GSO type (without the ECN bit) needs, or 0 if unknown. */
static uint64_t net_gso_feature(uint8_t type)
{
	switch (type) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return NET_FEATURE(VIRTIO_NET_F_HOST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return NET_FEATURE(VIRTIO_NET_F_HOST_TSO6);
	case VIRTIO_NET_HDR_GSO_UDP:
		return NET_FEATURE(VIRTIO_NET_F_HOST_UFO);
	default:
		return 0;
	}
}

static int net_hdr_tx_check_gso(const struct virtio_net_hdr *hdr,
				uint64_t features)
{
	uint8_t type = hdr->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	uint64_t need;

	if (hdr->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return 0;

	/* virtio 1.2, 5.1.6.2.1: only offloads the driver negotiated. */
	need = net_gso_feature(type);
	if ((hdr->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    !(features & NET_FEATURE(VIRTIO_NET_F_HOST_ECN)))
		return -NET_TX_ERR_GSO_TYPE;
	if (!need || !(features & need))
		return -NET_TX_ERR_GSO_TYPE;
	if (!le16toh(hdr->gso_size))
		return -NET_TX_ERR_GSO_SIZE;
	return 0;
}

static int net_hdr_tx_check_csum(const struct virtio_net_hdr *hdr,
				 uint64_t features, size_t frame_len)
{
	size_t end;

	if (!(hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 0;
	if (!(features & NET_FEATURE(VIRTIO_NET_F_CSUM)))
		return -NET_TX_ERR_CSUM;

	/* The 16-bit checksum field must lie inside the frame. */
	end = (size_t)le16toh(hdr->csum_start) + le16toh(hdr->csum_offset) + 2;
	return end <= frame_len ? 0 : -NET_TX_ERR_CSUM;
}

int net_hdr_tx_check(const struct virtio_net_hdr *hdr, uint64_t features,
		     size_t frame_len, uint32_t max_frame)
{
	int err;

	if (frame_len > max_frame)
		return -NET_TX_ERR_TOO_BIG;
	err = net_hdr_tx_check_gso(hdr, features);
	if (err)
		return err;
	return net_hdr_tx_check_csum(hdr, features, frame_len);
}

void net_hdr_rx_finish(struct virtio_net_hdr *hdr, uint64_t features,
		       uint16_t num_buffers)
{
	/* virtio 1.2, 5.1.6.4: num_buffers is 1 without MRG_RXBUF. */
	if (!(features & NET_FEATURE(VIRTIO_NET_F_MRG_RXBUF)))
		num_buffers = 1;
	hdr->num_buffers = htole16(num_buffers);

	/* virtio 1.2, 5.1.6.4.1: checksum flags only with GUEST_CSUM. */
	if (!(features & NET_FEATURE(VIRTIO_NET_F_GUEST_CSUM)))
		hdr->flags &= (uint8_t) ~(VIRTIO_NET_HDR_F_NEEDS_CSUM |
					  VIRTIO_NET_HDR_F_DATA_VALID);
}

size_t net_iov_bytes(const struct iovec *iov, unsigned int nr)
{
	size_t total = 0;

	for (unsigned int i = 0; i < nr; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

/* Walks the list copying len bytes from offset; to_iov picks the way. */
static size_t net_iov_copy(const struct iovec *iov, unsigned int nr,
			   size_t offset, uint8_t *buf, size_t len, bool to_iov)
{
	size_t done = 0;

	for (unsigned int i = 0; i < nr && done < len; i++) {
		size_t n;

		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		n = MIN(iov[i].iov_len - offset, len - done);
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + offset, buf + done,
			       n);
		else
			memcpy(buf + done, (uint8_t *)iov[i].iov_base + offset,
			       n);
		done += n;
		offset = 0;
	}
	return done;
}

size_t net_iov_to_buf(const struct iovec *iov, unsigned int nr, size_t offset,
		      void *buf, size_t len)
{
	return net_iov_copy(iov, nr, offset, buf, len, false);
}

size_t net_iov_from_buf(const struct iovec *iov, unsigned int nr, size_t offset,
			const void *buf, size_t len)
{
	/* The buffer is only read on this path. */
	return net_iov_copy(iov, nr, offset, (uint8_t *)(uintptr_t)buf, len,
			    true);
}

unsigned int net_rx_split(const uint32_t *cap, unsigned int nr, size_t len,
			  uint32_t *used)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		used[i] = (uint32_t)MIN((size_t)cap[i], len);
		len -= used[i];
		if (!len)
			return i + 1;
	}
	return 0;
}
