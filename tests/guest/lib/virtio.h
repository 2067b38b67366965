/*
 * A small virtio-mmio version 2 driver for guest test programs: finding
 * devices, the initialisation sequence, split virtqueues, interrupts and
 * configuration space, plus raw register access for tests that misbehave
 * on purpose.
 *
 * Typical use, polling:
 *
 *	struct virtio_window w;
 *	struct virtio_dev dev;
 *	struct virtq *q;
 *
 *	if (virtio_find(VIRTIO_ID_ENTROPY, 0, &w) < 0) ...;
 *	if (virtio_init(&dev, &w, 0) < 0) ...;           reset, ACK, DRIVER,
 *	q = virtq_init(&dev, 0, 64);                      features, FEATURES_OK
 *	virtio_driver_ok(&dev);
 *	virtq_add(q, bufs, n, &head); virtq_kick(q);
 *	virtq_wait(q, &id, &len, 1000000);
 *
 * For interrupts, call virtio_irq_enable(&dev) once (after virtio_init);
 * virtq_wait() then sleeps in hlt until the handler has seen the device's
 * interrupt. Everything runs on the BSP at CPL 0; none of it is
 * thread-safe. Guest memory is identity-mapped, so a pointer is its own
 * guest-physical address.
 *
 * Functions that can fail return 0 (or a count) on success and a negative
 * VIRTIO_E* code otherwise; virtio_strerror() names it.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Register offsets and bits, the same as minnow's transport uses. */
#include "devices/virtio_mmio_regs.h"

/* virtio 1.2, 2.1: device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER      2u
#define VIRTIO_STATUS_DRIVER_OK   4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED      128u

/* virtio 1.2, 6: reserved feature bits, as masks. */
#define VIRTIO_F_INDIRECT_DESC (1ull << 28)
#define VIRTIO_F_EVENT_IDX     (1ull << 29)
#define VIRTIO_F_VERSION_1     (1ull << 32)

/* virtio 1.2, 5: device IDs. */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_ENTROPY 4
#define VIRTIO_ID_VSOCK   19
#define VIRTIO_ID_FS      26

/* virtio 1.2, 2.7.5 and 2.7.6: descriptor and ring flags. */
#define VIRTQ_DESC_F_NEXT          1
#define VIRTQ_DESC_F_WRITE         2
#define VIRTQ_DESC_F_INDIRECT      4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

/* Where devices are looked for when the command line names none. */
#define VIRTIO_MINNOW_BASE   0xd0000000ull /* boot/layout.h */
#define VIRTIO_MINNOW_STRIDE 0x1000ull
#define VIRTIO_MINNOW_SLOTS  32
#define VIRTIO_MINNOW_IRQ0   5             /* slot n uses IOAPIC pin 5 + n */
#define VIRTIO_QEMU_BASE     0xfeb00000ull /* QEMU 7.2 microvm */
#define VIRTIO_QEMU_STRIDE   0x200ull
#define VIRTIO_QEMU_SLOTS    24

/* Error codes, returned negated. */
#define VIRTIO_ENODEV   1  /* no such device, or not virtio-mmio v2 */
#define VIRTIO_EFEATURE 2  /* the device lacks a required feature */
#define VIRTIO_EREFUSED 3  /* FEATURES_OK did not stick */
#define VIRTIO_ENOMEM   4  /* the static allocator is exhausted */
#define VIRTIO_EQUEUE   5  /* queue absent, in use, or size unsupported */
#define VIRTIO_ENOSPC   6  /* not enough free descriptors */
#define VIRTIO_ETIMEOUT 7  /* nothing completed in time */
#define VIRTIO_ERESET   8  /* the device set NEEDS_RESET */
#define VIRTIO_EBADUSED 9  /* the device returned an id we never gave */
#define VIRTIO_ENOIRQ   10 /* the device's interrupt line is unknown */

/* virtio 1.2, 2.7.5: a descriptor, as laid out in guest memory. */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc is 16 bytes");

/* virtio 1.2, 2.7.6: the available ring; used_event follows ring[]. */
struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};
_Static_assert(sizeof(struct virtq_avail) == 4, "virtq_avail header");

/* virtio 1.2, 2.7.8: the used ring; avail_event follows ring[]. */
struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq_used_elem");

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];
};
_Static_assert(sizeof(struct virtq_used) == 4, "virtq_used header");

/* One device window: where it is and which interrupt line it raises. */
struct virtio_window {
	uint64_t base;
	uint32_t irq;       /* IOAPIC pin; VIRTIO_IRQ_UNKNOWN if not known */
	uint32_t device_id; /* read from the window */
};
#define VIRTIO_IRQ_UNKNOWN 0xffffffffu

struct virtio_dev;

/*
 * One split virtqueue. The rings are public so that hostile tests can
 * write them by hand; normal users go through virtq_add/virtq_get_used.
 */
struct virtq {
	struct virtio_dev *dev;
	uint16_t index;
	uint16_t size;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;

	uint16_t free_head; /* first free descriptor, linked by next */
	uint16_t num_free;
	uint16_t avail_idx;  /* our copy of avail->idx */
	uint16_t kicked_idx; /* avail_idx at the last notification */
	uint16_t last_used;  /* next used entry to consume */
	uint16_t *chain_len; /* descriptors in the chain at each head; 0 free */

	/* Counters, for tests to report. */
	uint32_t nr_added;
	uint32_t nr_kicks;
	uint32_t nr_kicks_skipped; /* suppressed by the device */
};

#define VIRTIO_MAX_QUEUES 8

struct virtio_dev {
	uint64_t base;
	uint32_t irq;
	uint32_t device_id;
	uint64_t features; /* negotiated */
	struct virtq *queues[VIRTIO_MAX_QUEUES];

	/* Interrupts (virtio_irq_enable); written by the handler. */
	int irq_slot; /* -1 when interrupts are off */
	/* InterruptStatus bits the handler saw and no one consumed yet. */
	volatile uint32_t isr_pending;
	volatile uint32_t nr_irqs;
	volatile uint32_t nr_vring_irqs;
	volatile uint32_t nr_config_irqs;
};

struct virtq_buf {
	const void *addr;
	uint32_t len;
	bool writable; /* device-writable */
};

/* ---- Finding devices ---- */

/*
 * Checks the window at base: magic, version 2. Returns the device ID (0
 * for an empty slot) or -VIRTIO_ENODEV.
 */
int virtio_probe(uint64_t base);

/*
 * Lists the virtio-mmio devices: those the command line names with
 * virtio_mmio.device=SIZE@ADDR:IRQ (minnow and QEMU microvm without ACPI
 * add them), or, when it names none, those found by probing minnow's
 * windows and QEMU microvm's. Empty slots are skipped. Returns how many
 * were stored (at most max).
 */
unsigned int virtio_find_all(struct virtio_window *out, unsigned int max);

/*
 * The nth (from 0) device with device_id. Returns 0 and fills *w, or
 * -VIRTIO_ENODEV.
 */
int virtio_find(uint32_t device_id, unsigned int nth, struct virtio_window *w);

/* ---- Memory ---- */

/*
 * Bump allocator over guest RAM above the loaded image (never freed).
 * align is a power of two. Returns uninitialised memory or NULL.
 */
void *virtio_alloc(size_t size, size_t align);
void *virtio_zalloc(size_t size, size_t align);

/* One past the highest RAM byte in the memory map: a safe "past RAM". */
uint64_t virtio_ram_end(void);

/* ---- Device setup (virtio 1.2, 3.1.1) ---- */

/*
 * Resets the device at w, sets ACKNOWLEDGE and DRIVER, accepts the
 * features in wanted that the device offers plus VERSION_1 (required),
 * and sets FEATURES_OK, checking it sticks. dev->features says what was
 * accepted. Queues are set up next, then virtio_driver_ok().
 */
int virtio_init(struct virtio_dev *dev, const struct virtio_window *w,
		uint64_t wanted);

/*
 * Allocates and programs queue index with size entries (a power of two
 * no larger than QueueNumMax) and sets QueueReady. Returns the queue, or
 * NULL with the reason printed.
 */
struct virtq *virtq_init(struct virtio_dev *dev, uint16_t index, uint16_t size);

/* Sets DRIVER_OK. */
void virtio_driver_ok(struct virtio_dev *dev);

/* Writes 0 to Status and waits for it to read back 0 (virtio 1.2, 4.2.3.1). */
void virtio_reset(struct virtio_dev *dev);

/* The Status register. */
uint32_t virtio_status(struct virtio_dev *dev);
bool virtio_needs_reset(struct virtio_dev *dev);

/* ---- Virtqueues (virtio 1.2, 2.7.13) ---- */

/*
 * Puts a chain of n buffers on the available ring (device-readable ones
 * first, as 2.7.4.2 requires) and returns its head in *head. Does not
 * notify. Returns 0 or -VIRTIO_ENOSPC.
 */
int virtq_add(struct virtq *q, const struct virtq_buf *bufs, unsigned int n,
	      uint16_t *head);

/*
 * Makes head available without touching the descriptor table: for tests
 * that wrote descriptors themselves.
 */
void virtq_publish(struct virtq *q, uint16_t head);

/*
 * Notifies the device of new buffers unless it asked not to be (used
 * flags, or avail_event with EVENT_IDX). Returns true if it wrote
 * QueueNotify.
 */
bool virtq_kick(struct virtq *q);

/*
 * Takes one used buffer: returns 1 and fills *id and *len, 0 if none is
 * there, or -VIRTIO_EBADUSED if the device returned an id that is not an
 * outstanding head.
 */
int virtq_get_used(struct virtq *q, uint16_t *id, uint32_t *len);

/*
 * Waits up to timeout_us for a used buffer (polling the used ring, or,
 * with interrupts on, halting until the handler runs) and takes it.
 * Returns 0, -VIRTIO_ETIMEOUT, -VIRTIO_ERESET (NEEDS_RESET is set), or
 * -VIRTIO_EBADUSED.
 */
int virtq_wait(struct virtq *q, uint16_t *id, uint32_t *len,
	       uint64_t timeout_us);

/*
 * virtq_add, virtq_kick and virtq_wait for one chain; checks that the
 * buffer that came back is the one added. Returns 0 with the device's
 * written length in *len, or what virtq_add/virtq_wait returned.
 */
int virtq_roundtrip(struct virtq *q, const struct virtq_buf *bufs,
		    unsigned int n, uint32_t *len, uint64_t timeout_us);

/* Asks the device for (or not for) used buffer notifications. */
void virtq_enable_irq(struct virtq *q);
void virtq_disable_irq(struct virtq *q);

/* ---- Interrupts ---- */

/*
 * Routes the device's IOAPIC pin (edge, active high) to a vector on this
 * CPU's local APIC and installs a handler that reads InterruptStatus,
 * writes InterruptACK and counts what it saw. Leaves interrupts enabled
 * in RFLAGS only while virtq_wait()/virtio_wait_irq() halt. At most 4
 * devices; calling it again for a window (after virtio_init) reuses its
 * slot, and the handler then updates the latest struct virtio_dev. Returns 0,
 * -VIRTIO_ENOIRQ or -VIRTIO_ENOSPC.
 */
int virtio_irq_enable(struct virtio_dev *dev);

/*
 * Waits up to timeout_us for an interrupt whose InterruptStatus had any
 * of the bits in mask, and consumes those bits. Returns 0 or
 * -VIRTIO_ETIMEOUT.
 */
int virtio_wait_irq(struct virtio_dev *dev, uint32_t mask, uint64_t timeout_us);

/*
 * Waits up to timeout_us for Status to show NEEDS_RESET (virtio 1.2,
 * 2.1.2), halting for the config change interrupt when interrupts are on.
 * Returns 0 or -VIRTIO_ETIMEOUT.
 */
int virtio_wait_needs_reset(struct virtio_dev *dev, uint64_t timeout_us);

/* ---- Configuration space (virtio 1.2, 2.5 and 4.2.2.2) ---- */

/*
 * Copies len bytes at offset out of the device's configuration space,
 * retrying until ConfigGeneration is the same before and after, in
 * naturally aligned accesses of up to 4 bytes.
 */
void virtio_config_read(struct virtio_dev *dev, uint32_t offset, void *buf,
			uint32_t len);
uint8_t virtio_config_read8(struct virtio_dev *dev, uint32_t offset);
uint16_t virtio_config_read16(struct virtio_dev *dev, uint32_t offset);
uint32_t virtio_config_read32(struct virtio_dev *dev, uint32_t offset);
uint64_t virtio_config_read64(struct virtio_dev *dev, uint32_t offset);
void virtio_config_write8(struct virtio_dev *dev, uint32_t offset, uint8_t v);
void virtio_config_write16(struct virtio_dev *dev, uint32_t offset, uint16_t v);
void virtio_config_write32(struct virtio_dev *dev, uint32_t offset, uint32_t v);

/* ---- Raw access, for tests that break the rules ---- */

uint32_t virtio_read(struct virtio_dev *dev, uint32_t offset);
void virtio_write(struct virtio_dev *dev, uint32_t offset, uint32_t v);

/* Writes QueueNotify for qidx, whatever the device asked for. */
void virtio_notify(struct virtio_dev *dev, uint32_t qidx);

const char *virtio_strerror(int err);

#endif
