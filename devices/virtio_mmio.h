/*
 * The virtio-mmio transport, version 2 (virtio 1.2, 4.2): one 4 KiB window
 * of registers per device in the MMIO hole, one IOAPIC pin each.
 *
 * Notifications never reach user space on the hot path: each queue's
 * QueueNotify write is a KVM ioeventfd (datamatch = queue index) that the
 * event loop polls, and interrupts are injected through a KVM irqfd. Only
 * the driver's register accesses (setup, InterruptStatus, InterruptACK)
 * exit to minnow.
 *
 * Threading: register accesses arrive on vCPU threads, queue work runs on
 * the event-loop thread; both take the device's lock (see devices/virtio.h).
 *
 * Order: virtio_mmio_attach() for each device after vm_create() and before
 * vm_run(), on the thread that will run the event loop; then
 * virtio_mmio_cmdline() and/or boot_fdt_build() describe the devices to
 * the guest. Teardown: evloop_destroy(), then virtio_mmio_destroy() for
 * each device, then the VM fd is closed.
 *
 * Without KVM (vm->vm_fd < 0, as in unit tests) no ioeventfd or irqfd is
 * registered: a QueueNotify write is handled by the bus handler itself
 * (through the event loop if it is running, else at once) and each
 * interrupt is one write to the plain eventfd virtio_mmio.irq_fd, which a
 * test may read.
 */
#ifndef MINNOW_VIRTIO_MMIO_H
#define MINNOW_VIRTIO_MMIO_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio.h"
#include "devices/virtio_mmio_regs.h"
#include "vmm/evloop.h"

struct vm;
struct virtio_mmio;

/* One queue's notification path and the registers the driver stages. */
struct virtio_mmio_queue {
	struct virtio_mmio *mmio;
	unsigned int index;
	int notify_fd; /* eventfd: KVM ioeventfd or fed by the handler */
	struct ev_op notify_op;
	uint32_t num; /* QueueNum as written */
	uint64_t desc, driver, device;
};

struct virtio_mmio {
	struct virtio_dev *dev;
	struct evloop *loop;
	int vm_fd;     /* -1 without KVM */
	uint64_t base; /* guest-physical base of the window */
	uint32_t irq;  /* IOAPIC pin / GSI */
	int irq_fd;    /* eventfd: KVM irqfd, or read by tests */

	/* Register state, under dev->lock. */
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t shm_sel;
	uint32_t interrupt_status;

	struct virtio_mmio_queue *queues; /* dev->nr_queues */
};

/*
 * Puts dev in the next free window and IOAPIC pin, registers the window
 * on vm->mmio, sets up each queue's notification eventfd (a KVM ioeventfd
 * polled by vm->loop) and the interrupt eventfd (a KVM irqfd), and records
 * the device in vm->virtio[]. From then on the transport owns dev and
 * frees it in virtio_mmio_destroy(); on failure the caller keeps it
 * (virtio_dev_destroy()). Returns 0, -ENOSPC when no window or
 * pin is left, or another negative errno with a logged message.
 */
int virtio_mmio_attach(struct vm *vm, struct virtio_dev *dev);

/*
 * Frees m and its device. The event loop must already be destroyed (its
 * polls point into m).
 */
void virtio_mmio_destroy(struct virtio_mmio *m);

/*
 * Appends " virtio_mmio.device=4K@0x<base>:<irq>" for each attached device
 * to the NUL-terminated string in buf (size bytes). Returns 0 or -ENOSPC
 * (buf then unchanged).
 */
int virtio_mmio_cmdline(const struct vm *vm, char *buf, size_t size);

/* The bus handler for the register window (exported for tests). */
void virtio_mmio_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		    bool is_write);

#endif
