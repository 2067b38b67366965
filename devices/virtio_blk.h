/*
 * virtio-blk, the block device (virtio 1.2, 5.2): one or more request
 * queues over a raw image, executed by the io_uring back end on the VM's
 * event loop (devices/blk_uring.h), requests parsed by blk_req_parse().
 *
 * Threading: queue_notify and every I/O completion run on the event-loop
 * thread and take the device lock (devices/virtio.h); a completion
 * returns its chain to the driver in whatever order the host finished
 * it. A device reset from a vCPU thread waits (bounded) for the I/O in
 * flight, so no read lands in buffers the driver took back.
 */
#ifndef MINNOW_VIRTIO_BLK_H
#define MINNOW_VIRTIO_BLK_H

#include "devices/blk_opts.h"
#include "devices/virtio.h"
#include "vmm/evloop.h"

/* virtio 1.2, 5.2.4: configuration space minnow offers (up to unused1). */
#define VIRTIO_BLK_CONFIG_SIZE 60u

/* virtio 1.2, 5.2.4: offsets of the fields minnow fills. */
#define VIRTIO_BLK_CFG_CAPACITY        0
#define VIRTIO_BLK_CFG_SIZE_MAX        8
#define VIRTIO_BLK_CFG_SEG_MAX         12
#define VIRTIO_BLK_CFG_BLK_SIZE        20
#define VIRTIO_BLK_CFG_NUM_QUEUES      34
#define VIRTIO_BLK_CFG_MAX_DISCARD     36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40
#define VIRTIO_BLK_CFG_DISCARD_ALIGN   44
#define VIRTIO_BLK_CFG_MAX_WZ          48
#define VIRTIO_BLK_CFG_MAX_WZ_SEG      52
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP    56

/* The largest data buffer offered (SIZE_MAX), and per-request limits. */
#define VIRTIO_BLK_SIZE_MAX        (1u << 20)
#define VIRTIO_BLK_MAX_DWZ_SECTORS (1u << 22) /* 2 GiB per request */

/*
 * Opens and locks the image named by opts and builds a device for it,
 * ready for virtio_mmio_attach(), which takes ownership; its I/O runs on
 * loop. index numbers the disk in log messages ("virtio-blk1"). Returns
 * 0 and sets *out, or a negative errno after one logged error naming
 * the image.
 */
int virtio_blk_create(const struct blk_options *opts, struct evloop *loop,
		      unsigned int index, struct virtio_dev **out);

#endif
