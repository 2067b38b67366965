/*
 * virtio-fs (virtio 1.2, 5.11): a host directory shared with the guest
 * as FUSE requests on virtqueues, served in-process by fs_server.
 *
 * Usage: virtio_fs_spec_parse() the --fs string, then virtio_fs_create()
 * for a spec with dir= (a spec with socket= is the vhost-user front
 * end's), then virtio_mmio_attach().
 */
#ifndef MINNOW_VIRTIO_FS_H
#define MINNOW_VIRTIO_FS_H

#include <limits.h>
#include <stdbool.h>

#include "devices/fs_server.h"
#include "devices/virtio.h"

/* virtio 1.2, 5.11.4: the tag is up to 36 bytes, not NUL-terminated. */
#define VIRTIO_FS_TAG_BYTES  36
#define VIRTIO_FS_QUEUE_SIZE 256
/* virtio 1.2, 5.11.2: queue 0 is hiprio, then the request queues. */
#define VIRTIO_FS_HIPRIO_QUEUE  0
#define VIRTIO_FS_REQUEST_QUEUE 1
#define VIRTIO_FS_NR_QUEUES     2

/* virtio 1.2, 5.11.4: configuration layout (without notifications). */
struct virtio_fs_config {
	uint8_t tag[VIRTIO_FS_TAG_BYTES];
	uint32_t num_request_queues; /* little-endian */
};
_Static_assert(sizeof(struct virtio_fs_config) == 40, "virtio_fs_config");

/* One --fs flag: tag=TAG,(dir=PATH|socket=PATH)[,readonly=on][,cache=]. */
struct virtio_fs_spec {
	char tag[VIRTIO_FS_TAG_BYTES + 1];
	char dir[PATH_MAX]; /* "" when socket is set */
	char socket[108];   /* sun_path; "" when dir is set */
	bool readonly;
	enum fs_cache cache;
};

/*
 * Parses one --fs string. Returns 0, or -EINVAL after logging one message
 * naming the field ("--fs: tag: ...").
 */
int virtio_fs_spec_parse(const char *str, struct virtio_fs_spec *out);

/*
 * A virtio-fs device serving spec->dir with the built-in server. Returns
 * the device (owned by the caller until attached) or NULL, logged.
 */
struct virtio_dev *virtio_fs_create(const struct virtio_fs_spec *spec);

struct vm;

/*
 * The device for one --fs string: the built-in server for dir=, the
 * vhost-user front end for socket=. Returns 0 with *out set (the caller
 * attaches it), or a negative errno after logging.
 */
int virtio_fs_from_spec(struct vm *vm, const char *str,
			struct virtio_dev **out);

#endif
