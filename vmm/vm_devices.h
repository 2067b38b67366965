/*
 * The virtio devices a `minnow run` command line asks for, attached to the
 * VM's virtio-mmio slots in a fixed order (rng, disks, nets, fs, vsock) so
 * the guest sees the same layout on every boot.
 */
#ifndef MINNOW_VM_DEVICES_H
#define MINNOW_VM_DEVICES_H

#include "vmm/cli.h"
#include "vmm/vm.h"

/* Returns 0 or a negative errno after a message naming the device. */
int vm_devices_attach(struct vm *vm, const struct cli_run *opts);

/* Writes the VM's device tree to path. Returns 0 or a negative errno. */
int vm_dump_dtb(const struct vm *vm, const char *path);

#endif
