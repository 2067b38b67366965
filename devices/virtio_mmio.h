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
#include "vmm/evloop.h"

/* virtio 1.2, 4.2.2: register offsets. */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000
#define VIRTIO_MMIO_VERSION             0x004
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_SHM_SEL             0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW         0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH        0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW        0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH       0x0bc
#define VIRTIO_MMIO_QUEUE_RESET         0x0c0
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100

#define VIRTIO_MMIO_MAGIC      0x74726976u /* "virt" */
#define VIRTIO_MMIO_VENDOR     0x4d4e4f57u /* "WONM": any value will do */
#define VIRTIO_MMIO_INT_VRING  1u          /* InterruptStatus: used buffer */
#define VIRTIO_MMIO_INT_CONFIG 2u          /* InterruptStatus: config change */

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
