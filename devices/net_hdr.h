/*
 * The virtio-net packet header and the checks on it, kept apart from the
 * device and the tap so that they can be unit-tested and fuzzed alone.
 * Everything here is pure: no guest memory, no file descriptors.
 */
#ifndef MINNOW_NET_HDR_H
#define MINNOW_NET_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* virtio 1.2, 5.1.3: device feature bits. */
#define VIRTIO_NET_F_CSUM       0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU        3
#define VIRTIO_NET_F_MAC        5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN  9
#define VIRTIO_NET_F_GUEST_UFO  10
#define VIRTIO_NET_F_HOST_TSO4  11
#define VIRTIO_NET_F_HOST_TSO6  12
#define VIRTIO_NET_F_HOST_ECN   13
#define VIRTIO_NET_F_HOST_UFO   14
#define VIRTIO_NET_F_MRG_RXBUF  15
#define VIRTIO_NET_F_STATUS     16

#define NET_FEATURE(bit) (1ull << (bit))

/* virtio 1.2, 5.1.6: header flags and GSO types. */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE     0
#define VIRTIO_NET_HDR_GSO_TCPV4    1
#define VIRTIO_NET_HDR_GSO_UDP      3
#define VIRTIO_NET_HDR_GSO_TCPV6    4
#define VIRTIO_NET_HDR_GSO_ECN      0x80

/*
 * virtio 1.2, 5.1.6: the header in front of every packet, little-endian.
 * With VERSION_1 (the only interface minnow offers) num_buffers is always
 * present, so the header is always 12 bytes.
 */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
_Static_assert(sizeof(struct virtio_net_hdr) == 12,
	       "virtio_net_hdr with num_buffers is 12 bytes");

#define NET_HDR_LEN         sizeof(struct virtio_net_hdr)
#define NET_HDR_NUM_BUFFERS offsetof(struct virtio_net_hdr, num_buffers)

/* Ethernet header plus one VLAN tag: what an MTU does not count. */
#define NET_ETH_OVERHEAD 18u

/*
 * The largest segmentation-offload frame either way: a 64 KiB IP packet
 * plus its Ethernet and VLAN headers.
 */
#define NET_GSO_MAX_FRAME (65536u + NET_ETH_OVERHEAD)

#define NET_MTU_MIN     68u
#define NET_MTU_MAX     65535u
#define NET_MTU_DEFAULT 1500u

/* Why a transmitted frame was refused (returned negated). */
enum net_tx_error {
	NET_TX_ERR_SHORT = 1, /* shorter than the header */
	NET_TX_ERR_TOO_BIG,   /* larger than the negotiated limit */
	NET_TX_ERR_GSO_TYPE,  /* a GSO type not negotiated or unknown */
	NET_TX_ERR_GSO_SIZE,  /* GSO without a segment size */
	NET_TX_ERR_CSUM,      /* NEEDS_CSUM without CSUM, or out of range */
	NET_TX_ERR_LAST,
};

/* A short description of err (a negated enum net_tx_error). */
const char *net_tx_strerror(int err);

/*
 * The largest frame (without the virtio header) that the driver may send
 * (tx) or that the device may deliver (rx), given the negotiated features
 * and the MTU offered: virtio 1.2, 5.1.6.2 and 5.1.6.3.
 */
uint32_t net_tx_max_frame(uint64_t features, uint32_t mtu);
uint32_t net_rx_max_frame(uint64_t features, uint32_t mtu);

/*
 * Checks a header the driver wrote in front of a frame of frame_len bytes
 * (virtio 1.2, 5.1.6.2.1): offloads only as negotiated, checksum offsets
 * within the frame, the size within max_frame. Returns 0 or a negated
 * enum net_tx_error. The tap checks again; this decides what minnow
 * counts as a dropped frame rather than a tap error.
 */
int net_hdr_tx_check(const struct virtio_net_hdr *hdr, uint64_t features,
		     size_t frame_len, uint32_t max_frame);

/*
 * Completes a header the tap wrote for a received packet (virtio 1.2,
 * 5.1.6.4): sets num_buffers (1 without MRG_RXBUF) and clears the flags
 * the driver did not negotiate.
 */
void net_hdr_rx_finish(struct virtio_net_hdr *hdr, uint64_t features,
		       uint16_t num_buffers);

/* Bytes in iov[0, nr), saturating at SIZE_MAX. */
size_t net_iov_bytes(const struct iovec *iov, unsigned int nr);

/*
 * Copies len bytes between buf and the iovec list starting offset bytes
 * in. Returns the bytes copied: len, or fewer if the list ends first.
 */
size_t net_iov_to_buf(const struct iovec *iov, unsigned int nr, size_t offset,
		      void *buf, size_t len);
size_t net_iov_from_buf(const struct iovec *iov, unsigned int nr, size_t offset,
			const void *buf, size_t len);

/*
 * Mergeable receive buffers (virtio 1.2, 5.1.6.4.2): a packet of len bytes
 * was read across buffers of cap[0, nr) bytes, filled in order. Stores in
 * used[i] the bytes that landed in buffer i and returns how many buffers
 * hold data (at least 1), or 0 when len exceeds them all.
 */
unsigned int net_rx_split(const uint32_t *cap, unsigned int nr, size_t len,
			  uint32_t *used);

#endif
