/*
 * virtio-fs (virtio 1.2, 5.11) with its queues served by a vhost-user
 * back end (`minnow virtiofsd`, or any virtiofsd): --fs tag=TAG,socket=PATH.
 *
 * minnow keeps the registers and the configuration space (the tag);
 * the back end reads the rings straight from guest RAM. Kicks go
 * from the guest to the back end without minnow: each queue's KVM
 * ioeventfd is the back end's kick eventfd. Interrupts come back through
 * minnow: on virtio-mmio an interrupt must come with InterruptStatus
 * set, which only the transport can do, and Linux's driver ignores an
 * interrupt whose status reads 0; so minnow polls each call eventfd and
 * signals through the transport (one hop through user space).
 *
 * A back end that goes away fails the device (NEEDS_RESET, one warning);
 * the VM goes on. Reconnection is not attempted.
 */
#ifndef MINNOW_VHOST_USER_FS_H
#define MINNOW_VHOST_USER_FS_H

#include "devices/virtio.h"
#include "devices/virtio_fs.h"

/*
 * Connects to spec->socket and creates the device (owned by the caller
 * until attached to a transport). Returns 0 with *out set, or a negative
 * errno after logging.
 */
int vhost_user_fs_create(const struct virtio_fs_spec *spec,
			 struct virtio_dev **out);

#endif
