/*
 * The vhost-user protocol (QEMU docs/interop/vhost-user.rst): message
 * layout, checks and socket I/O, shared by minnow's front end (a
 * virtio-fs device whose queues another process serves) and its back end
 * (`minnow virtiofsd`).
 *
 * Names: vu_ for the protocol, vu_backend_ and vu_frontend_ for the two
 * sides (devices/vhost_user_backend.h, devices/vhost_user_frontend.h).
 * All numbers on the wire are in the host's byte order ("Message
 * Specification"): both ends run on the same machine.
 */
#ifndef MINNOW_VHOST_USER_H
#define MINNOW_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "Header": the lower two bits of flags are the version, which is 1. */
#define VU_VERSION           0x1u
#define VU_FLAG_VERSION_MASK 0x3u
#define VU_FLAG_REPLY        (1u << 2)
#define VU_FLAG_NEED_REPLY   (1u << 3)

/* "Communication": the reserved virtio feature bit 30. */
#define VU_F_PROTOCOL_FEATURES 30

/* "Protocol features": the ones minnow knows. */
#define VU_PROTOCOL_F_MQ        0
#define VU_PROTOCOL_F_REPLY_ACK 3

/* "Front-end message types": the requests minnow sends or serves. */
enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
};

/* SET_VRING_KICK/CALL/ERR: bits 0-7 the ring, bit 8 "no file descriptor". */
#define VU_VRING_INDEX_MASK 0xffu
#define VU_VRING_NOFD       (1u << 8)

/* "Memory regions description": at most 8 regions, one fd each. */
#define VU_MAX_REGIONS 8
#define VU_MAX_FDS     8

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes */
};
_Static_assert(sizeof(struct vu_hdr) == 12, "vhost-user header");

/* "A vring state description". */
struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};
_Static_assert(sizeof(struct vu_vring_state) == 8, "vring state");

/*
 * "A vring address description", as the kernel's struct vhost_vring_addr
 * lays it out: the ring addresses are the front end's user addresses.
 */
struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};
_Static_assert(sizeof(struct vu_vring_addr) == 40, "vring address");

/* One entry of "Memory regions description". */
struct vu_mem_region {
	uint64_t guest_addr;
	uint64_t size;
	uint64_t user_addr;
	uint64_t mmap_offset;
};
_Static_assert(sizeof(struct vu_mem_region) == 32, "memory region");

struct vu_mem_table {
	uint32_t nr_regions;
	uint32_t padding;
	struct vu_mem_region regions[VU_MAX_REGIONS];
};
_Static_assert(sizeof(struct vu_mem_table) == 8 + 8 * 32, "memory table");

/* One message with the file descriptors that travelled with it. */
struct vu_msg {
	struct vu_hdr hdr;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_vring_addr addr;
		struct vu_mem_table mem;
		uint8_t bytes[sizeof(struct vu_mem_table)];
	} payload;
	int fds[VU_MAX_FDS];
	unsigned int nr_fds;
};

/* The largest payload minnow accepts: the memory table. */
#define VU_MAX_PAYLOAD sizeof(struct vu_mem_table)

/* A request's name for logs ("SET_MEM_TABLE"), or "unknown". */
const char *vu_request_name(uint32_t request);

/*
 * Checks a received request before anyone reads its payload: the version,
 * no reply flag, a payload of the size the request type has (the memory
 * table: 8 bytes plus 32 per region, at most VU_MAX_REGIONS), and the
 * file descriptors it may carry (SET_MEM_TABLE: one per region;
 * SET_VRING_KICK/CALL/ERR: one, or none with VU_VRING_NOFD; others:
 * none). Unknown requests pass when their size is within
 * VU_MAX_PAYLOAD and they carry no fd, so the caller can answer them.
 * Returns 0, or -EPROTO.
 */
int vu_msg_check(const struct vu_msg *m);

/*
 * Reads one message from a stream socket: the header, then the payload
 * (at most VU_MAX_PAYLOAD bytes), with the file descriptors that came
 * with it (close-on-exec). Returns 0; -ECONNRESET when the peer closed the
 * connection; -EPROTO for a truncated or oversized message (its fds then
 * closed); another negative errno from recvmsg. Blocking: with
 * SO_RCVTIMEO set, -EAGAIN when it expires.
 */
int vu_msg_recv(int sock, struct vu_msg *m);

/*
 * Sends m: header, m->hdr.size bytes of payload and m->nr_fds fds as
 * SCM_RIGHTS. Returns 0 or a negative errno (-EPIPE when the peer is
 * gone; MSG_NOSIGNAL, so no SIGPIPE).
 */
int vu_msg_send(int sock, const struct vu_msg *m);

/* Closes m's file descriptors and forgets them. */
void vu_msg_close_fds(struct vu_msg *m);

/* A request with no payload, or with a u64, or with a vring state. */
void vu_msg_init(struct vu_msg *m, uint32_t request, uint32_t payload_size);

#endif
