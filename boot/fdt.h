/*
 * A flattened device tree describing the VM to Linux: memory, CPUs, the
 * IOAPIC as interrupt parent, and each virtio-mmio device. libfdt owns
 * the fdt_ prefix, so minnow's functions are boot_fdt_*.
 */
#ifndef MINNOW_BOOT_FDT_H
#define MINNOW_BOOT_FDT_H

#include <stddef.h>

struct vm;

/* Room that is always enough for boot_fdt_build() (32 devices, 64 CPUs). */
#define BOOT_FDT_MAX_SIZE (64u * 1024)

/*
 * Writes the tree for vm into buf (size bytes) and packs it; the blob's
 * length is then fdt_totalsize(buf). Call after every device is attached.
 * Returns 0, -ENOSPC when buf is too small, or -EINVAL for another libfdt
 * error (logged).
 */
int boot_fdt_build(const struct vm *vm, void *buf, size_t size);

#endif
