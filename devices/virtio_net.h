/*
 * virtio-net (virtio 1.2, 5.1) on a tap device: one receive and one
 * transmit queue whose buffers the event loop's io_uring reads into and
 * writes from directly.
 *
 * Not offered yet: CTRL_VQ (so no runtime MAC/VLAN/offload changes and no
 * announcements) and MQ (one queue pair).
 *
 * Threading: queue work and completions run on the event-loop thread
 * under dev->lock (devices/virtio.h); activate and reset may run on a
 * vCPU thread, also under dev->lock, and never touch the ring.
 */
#ifndef MINNOW_VIRTIO_NET_H
#define MINNOW_VIRTIO_NET_H

#include <stdint.h>

#include "devices/net_tap.h"
#include "devices/virtio.h"
#include "vmm/evloop.h"

/* Entries in each queue: Linux fills all it is given. */
#define VIRTIO_NET_QUEUE_SIZE 256u

/* virtio 1.2, 5.1.4: status bit. */
#define VIRTIO_NET_S_LINK_UP 1

/* virtio 1.2, 5.1.4: the configuration space up to mtu. */
struct virtio_net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
};
_Static_assert(sizeof(struct virtio_net_config) == 12,
	       "virtio_net_config up to mtu is 12 bytes");

/* Packet counters; bytes are frame bytes without the virtio header. */
struct virtio_net_counters {
	uint64_t rx_packets, rx_bytes;
	uint64_t rx_dropped; /* the guest had no room: too big, or no buffer */
	uint64_t rx_errors;  /* the tap failed a read */
	uint64_t tx_packets, tx_bytes;
	uint64_t tx_dropped; /* refused: too big, bad header, too short */
	uint64_t tx_errors;  /* the tap refused a write */
};

/*
 * A new virtio-net device on tap (moved in: the device closes it if
 * owned), with MAC mac (NULL: a random locally administered one) and MTU
 * mtu (0: NET_MTU_DEFAULT). loop is the event loop the device will run
 * on. Returns NULL when out of memory; the caller then keeps the tap.
 * Attach with virtio_mmio_attach(), which takes ownership.
 */
struct virtio_dev *virtio_net_create(struct evloop *loop,
				     const struct net_tap *tap,
				     const uint8_t *mac, uint32_t mtu);

/*
 * Parses a --net SPEC (devices/net_spec.h), opens or adopts the tap and
 * creates the device in *out. Returns 0 or a negative errno after one
 * message naming the flag and the problem.
 */
int virtio_net_from_spec(struct evloop *loop, const char *spec,
			 struct virtio_dev **out);

/* A snapshot of dev's counters (dev must be a virtio-net). Any thread. */
void virtio_net_get_counters(struct virtio_dev *dev,
			     struct virtio_net_counters *out);

#endif
