/*
 * virtio-vsock packets on the wire (virtio 1.2, 5.10.6): the header, its
 * constants, and validating a packet the driver put on the tx queue. No
 * connection state lives here, so the parser can be tested and fuzzed
 * alone.
 */
#ifndef MINNOW_VSOCK_PKT_H
#define MINNOW_VSOCK_PKT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* virtio 1.2, 5.10.4: reserved CIDs; 2 is the host. */
#define VSOCK_CID_HOST 2u

/* virtio 1.2, 5.10.3: feature bits. */
#define VIRTIO_VSOCK_F_STREAM    0
#define VIRTIO_VSOCK_F_SEQPACKET 1

/* virtio 1.2, 5.10.6.2: socket types. */
#define VSOCK_TYPE_STREAM 1u

/* virtio 1.2, 5.10.6: operations. */
enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

/*
 * virtio 1.2, 5.10.6.5: SHUTDOWN flags. RCV: the sender will receive no
 * more data; SEND: the sender will send no more data.
 */
#define VSOCK_SHUTDOWN_RCV  1u
#define VSOCK_SHUTDOWN_SEND 2u
#define VSOCK_SHUTDOWN_BOTH (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)

/* virtio 1.2, 5.10.6.7: the one event. */
#define VSOCK_EVENT_TRANSPORT_RESET 0u

/*
 * The largest payload minnow accepts in one packet, and the most it puts
 * in one. Linux's driver sends at most 64 KiB per packet.
 */
#define VSOCK_MAX_PAYLOAD (64u * 1024)

/* virtio 1.2, 5.10.6: the packet header, little-endian in guest memory. */
struct vsock_hdr_le {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct vsock_hdr_le) == 44,
	       "virtio_vsock_hdr is 44 bytes");

#define VSOCK_HDR_BYTES ((uint32_t)sizeof(struct vsock_hdr_le))

/* The same header in host byte order. */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
};

/* Why vsock_pkt_parse() refused a tx chain; each is returned negated. */
enum vsock_pkt_error {
	VSOCK_PKT_ERR_SHORT = 1, /* fewer readable bytes than a header */
	VSOCK_PKT_ERR_LEN,       /* len past the readable buffers */
	VSOCK_PKT_ERR_TOO_BIG,   /* len over VSOCK_MAX_PAYLOAD */
};

/*
 * What the device does with a parsed packet, by the header alone
 * (virtio 1.2, 5.10.6.2 and 5.10.6.4).
 */
enum vsock_pkt_class {
	VSOCK_PKT_HANDLE,    /* a stream packet for a host port: handle it */
	VSOCK_PKT_DROP,      /* wrong CIDs, or an RST nobody must answer */
	VSOCK_PKT_REPLY_RST, /* unknown type or op: answer with RST */
};

/* A short description of err (a negated enum vsock_pkt_error). */
const char *vsock_pkt_strerror(int err);

/*
 * Reads and checks the header of a tx packet whose device-readable
 * buffers are iov[0, nr_iov), readable_bytes in all. On success fills
 * *hdr and returns 0; hdr->len payload bytes follow the header in the
 * same buffers. Returns -VSOCK_PKT_ERR_* for a chain too short for its
 * header or its len: the driver broke virtio 1.2, 5.10.6.4.
 */
int vsock_pkt_parse(const struct iovec *iov, unsigned int nr_iov,
		    uint32_t readable_bytes, struct vsock_hdr *hdr);

/*
 * Classifies a parsed packet from the driver of the guest with CID
 * guest_cid: its source must be the guest, its destination the host.
 */
enum vsock_pkt_class vsock_pkt_classify(const struct vsock_hdr *hdr,
					uint64_t guest_cid);

/* Encodes hdr for the guest. */
void vsock_hdr_encode(const struct vsock_hdr *hdr, struct vsock_hdr_le *out);

/*
 * Copies len bytes starting offset bytes into the buffers iov[0, nr_iov)
 * to dst (vsock_iov_read) or from src into them (vsock_iov_write).
 * Returns the bytes copied: fewer when the buffers end first.
 */
size_t vsock_iov_read(const struct iovec *iov, unsigned int nr_iov,
		      size_t offset, void *dst, size_t len);
size_t vsock_iov_write(const struct iovec *iov, unsigned int nr_iov,
		       size_t offset, const void *src, size_t len);

#endif
