/*
 * virtio-rng, the entropy device (virtio 1.2, 5.4): one request queue
 * whose device-writable buffers are filled from the host's getrandom().
 */
#ifndef MINNOW_VIRTIO_RNG_H
#define MINNOW_VIRTIO_RNG_H

#include "devices/virtio.h"

/* Entries in the request queue; Linux keeps one buffer in flight. */
#define VIRTIO_RNG_QUEUE_SIZE 64u

/*
 * Bytes given per request at most: the device may fill less than offered
 * (virtio 1.2, 5.4.6.2), and a guest must not keep the event loop busy
 * with one multi-gigabyte chain.
 */
#define VIRTIO_RNG_MAX_REQUEST (64u * 1024)

/*
 * A new entropy device, ready for virtio_mmio_attach(), which takes
 * ownership. Returns NULL when out of memory.
 */
struct virtio_dev *virtio_rng_create(void);

#endif
