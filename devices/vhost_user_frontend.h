/*
 * The driver side of vhost-user (QEMU docs/interop/vhost-user.rst): one
 * connection to a back end, and the requests minnow makes of it, each a
 * synchronous round trip on a blocking socket with a time limit.
 *
 * Order: vu_frontend_connect() (SET_OWNER, features, protocol features);
 * on each start of the device vu_frontend_set_features(),
 * vu_frontend_set_mem_table() and vu_frontend_start_ring() per ring; on
 * its reset vu_frontend_stop_ring() per started ring; vu_frontend_close().
 *
 * Threading: the caller serialises (minnow: under the device's lock).
 * Any failure to talk to the back end closes nothing but leaves
 * fe->broken set; every later request then fails with -ENOTCONN.
 */
#ifndef MINNOW_VHOST_USER_FRONTEND_H
#define MINNOW_VHOST_USER_FRONTEND_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/vhost_user.h"
#include "devices/virtqueue.h"
#include "vmm/gmem.h"

/* How long minnow waits for the back end to read or answer a message. */
#define VU_FRONTEND_TIMEOUT_MS 5000

struct vu_frontend {
	const char *name;           /* for logs: "virtio-fs" */
	int sock;                   /* -1 when not connected */
	uint64_t features;          /* what the back end offers */
	uint64_t protocol_features; /* negotiated */
	bool broken;
};

/*
 * Connects to the back end listening on path, claims it (SET_OWNER) and
 * reads its features, negotiating REPLY_ACK when it offers protocol
 * features. Returns 0, or a negative errno after logging one line naming
 * path.
 */
int vu_frontend_connect(struct vu_frontend *fe, const char *name,
			const char *path);

/* Closes the connection (the back end sees it go). */
void vu_frontend_close(struct vu_frontend *fe);

/*
 * SET_FEATURES: the driver's features, plus PROTOCOL_FEATURES when the
 * back end offered it. Returns 0 or a negative errno.
 */
int vu_frontend_set_features(struct vu_frontend *fe, uint64_t features);

/*
 * SET_MEM_TABLE: one region per guest RAM region, each with the RAM memfd
 * and its offset in it; the user addresses are minnow's own mappings.
 */
int vu_frontend_set_mem_table(struct vu_frontend *fe, const struct gmem *mem);

/*
 * Starts ring index on the back end: SET_VRING_NUM, ADDR (minnow's user
 * addresses for vq's mapped rings), BASE (vq's next available index),
 * CALL, ERR, KICK and, with protocol features, SET_VRING_ENABLE 1.
 * vq must be set up (vq->ready). Returns 0 or a negative errno.
 */
int vu_frontend_start_ring(struct vu_frontend *fe, unsigned int index,
			   const struct virtqueue *vq, int kick_fd, int call_fd,
			   int err_fd);

/*
 * Stops ring index (GET_VRING_BASE) and stores the next available index
 * the back end would have read in *base. Returns 0 or a negative errno.
 */
int vu_frontend_stop_ring(struct vu_frontend *fe, unsigned int index,
			  uint16_t *base);

#endif
