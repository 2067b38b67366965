/*
 * The device side of vhost-user (QEMU docs/interop/vhost-user.rst): the
 * state one front end sets up with its messages (features, the memory
 * table, each ring's size, addresses, base and eventfds) and the work on
 * the rings, handed chain by chain to a serve callback.
 *
 * Usage: vu_backend_init(), then for each message read with vu_msg_recv()
 * vu_backend_handle() and send the reply it fills in; whenever a ring's
 * kick eventfd (vu_backend_kick_fd) is readable, read it and call
 * vu_backend_process(). vu_backend_cleanup() at the end. Nothing here
 * touches the socket, so a test or a fuzzer can drive it directly.
 *
 * Threading: one thread at a time (the caller's loop).
 */
#ifndef MINNOW_VHOST_USER_BACKEND_H
#define MINNOW_VHOST_USER_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/vhost_user.h"
#include "devices/virtqueue.h"
#include "vmm/gmem.h"
#include "vmm/log.h"

/*
 * Serves one descriptor chain; returns the bytes written into its
 * device-writable part. Must not fail: a bad request is answered inside.
 */
typedef uint32_t (*vu_serve_fn)(void *ctx, const struct vq_chain *chain);

struct vu_backend_config {
	const char *name;  /* for logs: "virtiofsd" */
	uint64_t features; /* virtio features offered */
	unsigned int nr_queues;
	uint16_t queue_max_size; /* a power of two, <= VQ_MAX_SIZE */
	vu_serve_fn serve;
	void *serve_ctx;
};

struct vu_vring {
	struct virtqueue vq;       /* ready once set up from the fields below */
	uint32_t num;              /* SET_VRING_NUM; 0 until then */
	struct vu_vring_addr addr; /* SET_VRING_ADDR, front-end addresses */
	bool addr_set;
	uint16_t base; /* next available index to read */
	int kick_fd, call_fd, err_fd;
	bool started; /* kick fd given, not stopped since */
	bool enabled;
	bool broken; /* the driver broke the ring's rules */
};

/* One mapping of SET_MEM_TABLE, as the front end described it. */
struct vu_mapping {
	struct vu_mem_region region;
	void *map; /* what mmap returned */
	size_t map_len;
};

struct vu_backend {
	struct vu_backend_config cfg;
	uint64_t offered; /* cfg.features | PROTOCOL_FEATURES */
	uint64_t protocol_offered;
	uint64_t acked;          /* SET_FEATURES */
	uint64_t protocol_acked; /* SET_PROTOCOL_FEATURES */
	bool owned;              /* SET_OWNER seen */

	struct gmem mem; /* guest-physical view of the mappings */
	struct vu_mapping maps[VU_MAX_REGIONS];
	unsigned int nr_maps;

	struct vu_vring *vrings; /* cfg.nr_queues */
	struct iovec *iov;       /* cfg.queue_max_size */
	struct log_ratelimit rl;
};

/* Returns 0, or -ENOMEM / -EINVAL for a bad cfg. */
int vu_backend_init(struct vu_backend *b, const struct vu_backend_config *cfg);

/* Unmaps the memory table and closes every fd the front end gave. */
void vu_backend_cleanup(struct vu_backend *b);

/*
 * Handles one received message. Takes its fds (kept or closed). Returns
 * 1 with *reply filled when a reply is due (GET_* requests, or REPLY_ACK
 * when negotiated and the front end asked for one), 0 when none is, or
 * -EPROTO when the front end broke the protocol badly enough (a malformed
 * message, an unknown request it expects no answer to) that the
 * connection should be dropped. Logs what it refuses.
 */
int vu_backend_handle(struct vu_backend *b, struct vu_msg *msg,
		      struct vu_msg *reply);

/* The kick eventfd to poll for ring qidx, or -1 when it is not started. */
int vu_backend_kick_fd(const struct vu_backend *b, unsigned int qidx);

/*
 * Serves what the driver made available on ring qidx, if the ring is
 * started, enabled and not broken: sets the ring up from the memory table
 * on first use, pops each chain, serves it, pushes it used, and writes
 * the call eventfd when the driver wants an interrupt. A ring the driver
 * broke is logged once, signalled on its err eventfd and left alone
 * until the front end sets it up again.
 */
void vu_backend_process(struct vu_backend *b, unsigned int qidx);

/*
 * Translates a front-end user address to a guest-physical one through
 * the memory table. Returns 0 or -EFAULT.
 */
int vu_backend_user_to_gpa(const struct vu_backend *b, uint64_t user_addr,
			   gpa_t *gpa);

#endif
