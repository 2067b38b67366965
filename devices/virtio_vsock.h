/*
 * virtio-vsock, the socket device (virtio 1.2, 5.10), in minnow's own
 * process: stream sockets between the guest and unix sockets on the host.
 *
 * Conventions (what a host program and a guest agent can rely on):
 * - The guest's CID is the cid= given to --vsock (3 to 0xfffffffe); the
 *   host is CID 2 (virtio 1.2, 5.10.4). Only stream sockets exist.
 * - Host to guest: connect to the unix socket PATH (socket=), write
 *   "CONNECT <guest port>\n", read "OK <host port>\n", then the socket is
 *   the stream. If the guest refuses or does not answer within
 *   VIRTIO_VSOCK_CONNECT_TIMEOUT_MS, the socket is closed instead of "OK".
 *   Kata's agent listens on guest port 1024.
 * - Guest to host: connecting to CID 2 port P reaches whoever listens on
 *   the unix socket "PATH_P"; nobody there means RST (ECONNRESET in the
 *   guest).
 * - A shutdown(SHUT_WR) on either side reaches the other as end of file;
 *   closing either side closes the stream. A device reset closes every
 *   host socket and the next driver gets a transport-reset event.
 *
 * Files: vsock_pkt (header parsing), vsock_conn (per-connection state
 * and credit), vsock_unix (the unix-socket bridge), this one (queues).
 * Threading: queue work and socket completions run on the event-loop
 * thread under dev->lock (devices/virtio.h); register accesses and the
 * reset on vCPU threads, which never touch the ring.
 */
#ifndef MINNOW_VIRTIO_VSOCK_H
#define MINNOW_VIRTIO_VSOCK_H

#include <stdint.h>

#include "devices/virtio.h"
#include "vmm/evloop.h"

/* Entries in each of the three queues. */
#define VIRTIO_VSOCK_QUEUE_SIZE 256u

/* Streams at once; a REQUEST or CONNECT past this gets RST or a close. */
#define VIRTIO_VSOCK_MAX_STREAMS 1024u

/* How long a host CONNECT waits for the guest's RESPONSE. */
#define VIRTIO_VSOCK_CONNECT_TIMEOUT_MS 5000u

/* What --vsock cid=N,socket=PATH says. */
struct virtio_vsock_config {
	uint64_t guest_cid;
	const char *socket_path; /* points into the parsed spec string */
};

/*
 * Parses a --vsock SPEC ("cid=N,socket=PATH", in any order). The path is
 * kept as a pointer into a copy that *storage receives (free it).
 * Returns 0, or -EINVAL after one message naming the field.
 */
int virtio_vsock_parse_spec(const char *spec, struct virtio_vsock_config *cfg,
			    char **storage);

/*
 * A new vsock device listening on cfg->socket_path, ready for
 * virtio_mmio_attach() (which takes ownership); nothing is armed on loop
 * until virtio_vsock_start(). Returns NULL after a message naming the
 * socket.
 */
struct virtio_dev *virtio_vsock_create(const struct virtio_vsock_config *cfg,
				       struct evloop *loop);

/*
 * Arms the listener and the device's own loop operations. Call once,
 * after the device is attached (so that a failed attach frees nothing
 * the loop still points at), before the loop runs.
 */
void virtio_vsock_start(struct virtio_dev *dev);

#endif
