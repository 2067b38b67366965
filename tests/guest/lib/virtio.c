/* The guest side of virtio-mmio v2 and split virtqueues (see virtio.h). */
#include "virtio.h"
#include "asm.h"
#include "guest.h"
#include "x86.h"

#define CMDLINE_DEVICE_KEY "virtio_mmio.device="

#define IOAPIC_BASE     0xfec00000ull
#define IOAPIC_REGSEL   0x00
#define IOAPIC_WIN      0x10
#define IOAPIC_REDIR(n) (0x10 + 2 * (n))
#define IOAPIC_PINS     24
#define IOAPIC_MASKED   0x10000u

#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_DATA  0xa1

#define MSR_APIC_BASE        0x1b
#define APIC_BASE_ADDR_MASK  0xfffffffffffff000ull
#define LAPIC_EOI            0x0b0
#define LAPIC_LVT_TIMER      0x320
#define LAPIC_TIMER_INIT     0x380
#define LAPIC_TIMER_DIVIDE   0x3e0
#define LAPIC_TIMER_PERIODIC 0x20000u
#define LAPIC_DIVIDE_16      0x3u
/* A wake-up tick while halting, so a lost interrupt ends in a timeout. */
#define LAPIC_TICK_COUNT 1000000u

#define IDT_VECTORS     256
#define VEC_VIRTIO_BASE 0x40
#define VEC_TICK        0x4f
#define IRQ_SLOTS       4
#define GATE_INTR_DPL0  0x8e

/* How often a polling wait reads Status to notice NEEDS_RESET. */
#define STATUS_CHECK_US  10000
#define RESET_TIMEOUT_US 1000000

/* ---- Registers ---- */

uint32_t virtio_read(struct virtio_dev *dev, uint32_t offset)
{
	return mmio_read32(dev->base + offset);
}

void virtio_write(struct virtio_dev *dev, uint32_t offset, uint32_t v)
{
	mmio_write32(dev->base + offset, v);
}

void virtio_notify(struct virtio_dev *dev, uint32_t qidx)
{
	virtio_write(dev, VIRTIO_MMIO_QUEUE_NOTIFY, qidx);
}

uint32_t virtio_status(struct virtio_dev *dev)
{
	return virtio_read(dev, VIRTIO_MMIO_STATUS);
}

bool virtio_needs_reset(struct virtio_dev *dev)
{
	return virtio_status(dev) & VIRTIO_STATUS_NEEDS_RESET;
}

const char *virtio_strerror(int err)
{
	static const char *const names[] = {
		[0] = "success",
		[VIRTIO_ENODEV] = "no virtio-mmio v2 device",
		[VIRTIO_EFEATURE] = "device lacks a required feature",
		[VIRTIO_EREFUSED] = "device refused FEATURES_OK",
		[VIRTIO_ENOMEM] = "guest allocator exhausted",
		[VIRTIO_EQUEUE] = "queue absent, in use or bad size",
		[VIRTIO_ENOSPC] = "no free descriptors",
		[VIRTIO_ETIMEOUT] = "timed out",
		[VIRTIO_ERESET] = "device needs reset",
		[VIRTIO_EBADUSED] = "device returned an unknown id",
		[VIRTIO_ENOIRQ] = "interrupt line unknown or unroutable",
	};
	unsigned int code = (unsigned int)-err;

	if (err > 0 || code >= sizeof(names) / sizeof(names[0]))
		return "unknown error";
	return names[code];
}

static uint64_t us_to_tsc(uint64_t us)
{
	return us * tsc_khz() / 1000;
}

/* ---- Finding devices ---- */

int virtio_probe(uint64_t base)
{
	if (mmio_read32(base + VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC)
		return -VIRTIO_ENODEV;
	/* virtio 1.2, 4.2.2: version 1 is the legacy interface; not ours. */
	if (mmio_read32(base + VIRTIO_MMIO_VERSION) != 2)
		return -VIRTIO_ENODEV;
	return (int)mmio_read32(base + VIRTIO_MMIO_DEVICE_ID);
}

/* Parses a number (0x hex or decimal) at *p; returns false if none. */
static bool parse_num(const char **p, uint64_t *v)
{
	const char *s = *p;
	unsigned int base = 10, digit;
	uint64_t n = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			digit = (unsigned int)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			digit = (unsigned int)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			digit = (unsigned int)(*s - 'A' + 10);
		else
			break;
		n = n * base + digit;
	}
	if (s == *p)
		return false;
	*p = s;
	*v = n;
	return true;
}

/* Parses "SIZE[K|M|G]@ADDR:IRQ[:ID]" (Linux's virtio_mmio.device=). */
static bool parse_device_word(const char *s, uint64_t *base, uint32_t *irq)
{
	uint64_t size, addr, line;

	if (!parse_num(&s, &size))
		return false;
	if (*s == 'K' || *s == 'k' || *s == 'M' || *s == 'm' || *s == 'G' ||
	    *s == 'g')
		s++;
	if (*s++ != '@' || !parse_num(&s, &addr))
		return false;
	if (*s++ != ':' || !parse_num(&s, &line))
		return false;
	*base = addr;
	*irq = (uint32_t)line;
	return true;
}

static bool add_window(struct virtio_window *out, unsigned int max,
		       unsigned int *n, uint64_t base, uint32_t irq)
{
	int id = virtio_probe(base);

	if (id <= 0 || *n >= max)
		return false;
	out[*n] = (struct virtio_window){
		.base = base, .irq = irq, .device_id = (uint32_t)id};
	(*n)++;
	return true;
}

/* The command line's virtio_mmio.device= words; returns how many named. */
static unsigned int find_from_cmdline(struct virtio_window *out,
				      unsigned int max, unsigned int *n)
{
	const size_t keylen = sizeof(CMDLINE_DEVICE_KEY) - 1;
	const char *p = boot_info.cmdline;
	unsigned int named = 0;
	uint64_t base;
	uint32_t irq;

	while (*p) {
		while (*p == ' ')
			p++;
		if (memcmp(p, CMDLINE_DEVICE_KEY, keylen) == 0 &&
		    parse_device_word(p + keylen, &base, &irq)) {
			named++;
			add_window(out, max, n, base, irq);
		}
		while (*p && *p != ' ')
			p++;
	}
	return named;
}

unsigned int virtio_find_all(struct virtio_window *out, unsigned int max)
{
	unsigned int n = 0, i;

	if (find_from_cmdline(out, max, &n))
		return n;

	/*
	 * Nothing named: probe minnow's windows (pin 5 + slot) and QEMU
	 * microvm's. QEMU's pins depend on its ACPI and second-IOAPIC
	 * settings, so they are left unknown; polling still works.
	 */
	for (i = 0; i < VIRTIO_MINNOW_SLOTS; i++)
		add_window(out, max, &n,
			   VIRTIO_MINNOW_BASE + i * VIRTIO_MINNOW_STRIDE,
			   VIRTIO_MINNOW_IRQ0 + i);
	for (i = 0; i < VIRTIO_QEMU_SLOTS; i++)
		add_window(out, max, &n,
			   VIRTIO_QEMU_BASE + i * VIRTIO_QEMU_STRIDE,
			   VIRTIO_IRQ_UNKNOWN);
	return n;
}

int virtio_find(uint32_t device_id, unsigned int nth, struct virtio_window *w)
{
	struct virtio_window all[VIRTIO_MINNOW_SLOTS + VIRTIO_QEMU_SLOTS];
	unsigned int n = virtio_find_all(all, VIRTIO_MINNOW_SLOTS +
						      VIRTIO_QEMU_SLOTS);

	for (unsigned int i = 0; i < n; i++) {
		if (all[i].device_id != device_id)
			continue;
		if (nth-- == 0) {
			*w = all[i];
			return 0;
		}
	}
	return -VIRTIO_ENODEV;
}

/* ---- Memory ---- */

static uint64_t pool_next, pool_end;

/* The pool: from the end of the image to the end of its RAM range. */
static void pool_init(void)
{
	uint64_t start = ((uint64_t)__image_end + 4095) & ~4095ull;

	pool_next = pool_end = start;
	for (unsigned int i = 0; i < boot_info.nr_ranges; i++) {
		const struct guest_mem_range *r = &boot_info.ranges[i];

		if (r->type == GUEST_MEM_RAM && r->addr <= start &&
		    start < r->addr + r->size)
			pool_end = r->addr + r->size;
	}
	/* Only the first 4 GiB are mapped without paging_map_identity(). */
	if (pool_end > 1ull << 32)
		pool_end = 1ull << 32;
}

void *virtio_alloc(size_t size, size_t align)
{
	uint64_t at;

	if (!pool_end)
		pool_init();
	at = (pool_next + align - 1) & ~((uint64_t)align - 1);
	if (at > pool_end || size > pool_end - at)
		return NULL;
	pool_next = at + size;
	return (void *)at;
}

void *virtio_zalloc(size_t size, size_t align)
{
	void *p = virtio_alloc(size, align);

	if (p)
		memset(p, 0, size);
	return p;
}

uint64_t virtio_ram_end(void)
{
	uint64_t end = 0;

	for (unsigned int i = 0; i < boot_info.nr_ranges; i++) {
		const struct guest_mem_range *r = &boot_info.ranges[i];

		if (r->type == GUEST_MEM_RAM && r->addr + r->size > end)
			end = r->addr + r->size;
	}
	return end;
}

/* ---- Device setup ---- */

void virtio_reset(struct virtio_dev *dev)
{
	uint64_t deadline = rdtsc() + us_to_tsc(RESET_TIMEOUT_US);

	virtio_write(dev, VIRTIO_MMIO_STATUS, 0);
	while (virtio_status(dev) != 0 && rdtsc() < deadline)
		cpu_relax();
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		dev->queues[i] = NULL;
	dev->isr_pending = 0;
}

static void virtio_set_status(struct virtio_dev *dev, uint32_t bits)
{
	virtio_write(dev, VIRTIO_MMIO_STATUS, virtio_status(dev) | bits);
}

static uint64_t virtio_read_features(struct virtio_dev *dev)
{
	uint64_t lo, hi;

	virtio_write(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = virtio_read(dev, VIRTIO_MMIO_DEVICE_FEATURES);
	virtio_write(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	hi = virtio_read(dev, VIRTIO_MMIO_DEVICE_FEATURES);
	return hi << 32 | lo;
}

static void virtio_write_features(struct virtio_dev *dev, uint64_t f)
{
	virtio_write(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	virtio_write(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	virtio_write(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	virtio_write(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

int virtio_init(struct virtio_dev *dev, const struct virtio_window *w,
		uint64_t wanted)
{
	uint64_t offered;

	memset(dev, 0, sizeof(*dev));
	dev->base = w->base;
	dev->irq = w->irq;
	dev->irq_slot = -1;
	if (virtio_probe(w->base) <= 0)
		return -VIRTIO_ENODEV;
	dev->device_id = w->device_id;

	/* virtio 1.2, 3.1.1, steps 1-3. */
	virtio_reset(dev);
	virtio_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_set_status(dev, VIRTIO_STATUS_DRIVER);

	/* Step 4: a subset of what is offered; no legacy interface. */
	offered = virtio_read_features(dev);
	if (!(offered & VIRTIO_F_VERSION_1)) {
		virtio_set_status(dev, VIRTIO_STATUS_FAILED);
		return -VIRTIO_EFEATURE;
	}
	dev->features = (wanted | VIRTIO_F_VERSION_1) & offered;
	virtio_write_features(dev, dev->features);

	/* Steps 5-6: FEATURES_OK must read back set. */
	virtio_set_status(dev, VIRTIO_STATUS_FEATURES_OK);
	if (!(virtio_status(dev) & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_set_status(dev, VIRTIO_STATUS_FAILED);
		return -VIRTIO_EREFUSED;
	}
	return 0;
}

void virtio_driver_ok(struct virtio_dev *dev)
{
	virtio_set_status(dev, VIRTIO_STATUS_DRIVER_OK);
}

static bool has_event_idx(const struct virtq *q)
{
	return q->dev->features & VIRTIO_F_EVENT_IDX;
}

/* used_event sits after the available ring, avail_event after the used. */
static volatile uint16_t *used_event(struct virtq *q)
{
	return &q->avail->ring[q->size];
}

static volatile uint16_t *avail_event(struct virtq *q)
{
	return (volatile uint16_t *)&q->used->ring[q->size];
}

static void write_addr(struct virtio_dev *dev, uint32_t low_reg, const void *p)
{
	uint64_t a = (uint64_t)p;

	virtio_write(dev, low_reg, (uint32_t)a);
	virtio_write(dev, low_reg + 4, (uint32_t)(a >> 32));
}

struct virtq *virtq_init(struct virtio_dev *dev, uint16_t index, uint16_t size)
{
	struct virtq *q;
	uint32_t max;

	/* virtio 1.2, 4.2.3.2: select, check unused, read the maximum. */
	virtio_write(dev, VIRTIO_MMIO_QUEUE_SEL, index);
	max = virtio_read(dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (index >= VIRTIO_MAX_QUEUES || max == 0 ||
	    virtio_read(dev, VIRTIO_MMIO_QUEUE_READY) || size == 0 ||
	    size > max || (size & (size - 1))) {
		printf("virtio: queue %u: cannot set up %u entries (max %u)\n",
		       index, size, max);
		return NULL;
	}

	/* virtio 1.2, 2.7: alignments 16, 2 and 4; pages are simpler. */
	q = virtio_zalloc(sizeof(*q), 16);
	if (!q)
		goto nomem;
	q->desc = virtio_zalloc(16ull * size, 4096);
	q->avail = virtio_zalloc(6 + 2ull * size, 4096);
	q->used = virtio_zalloc(6 + 8ull * size, 4096);
	q->chain_len = virtio_zalloc(2ull * size, 2);
	if (!q->desc || !q->avail || !q->used || !q->chain_len)
		goto nomem;
	q->dev = dev;
	q->index = index;
	q->size = size;
	for (uint16_t i = 0; i < size; i++)
		q->desc[i].next = (uint16_t)(i + 1);
	q->num_free = size;
	if (dev->irq_slot >= 0)
		virtq_enable_irq(q);
	else
		virtq_disable_irq(q);

	virtio_write(dev, VIRTIO_MMIO_QUEUE_NUM, size);
	write_addr(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, q->desc);
	write_addr(dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, q->avail);
	write_addr(dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, q->used);
	virtio_write(dev, VIRTIO_MMIO_QUEUE_READY, 1);
	dev->queues[index] = q;
	return q;

nomem:
	printf("virtio: queue %u: %s\n", index,
	       virtio_strerror(-VIRTIO_ENOMEM));
	return NULL;
}

/* ---- Virtqueues ---- */

int virtq_add(struct virtq *q, const struct virtq_buf *bufs, unsigned int n,
	      uint16_t *head)
{
	uint16_t i;

	if (n == 0 || n > q->num_free)
		return -VIRTIO_ENOSPC;

	*head = i = q->free_head;
	for (unsigned int k = 0; k < n; k++) {
		struct virtq_desc *d = &q->desc[i];

		d->addr = (uint64_t)bufs[k].addr;
		d->len = bufs[k].len;
		d->flags = bufs[k].writable ? VIRTQ_DESC_F_WRITE : 0;
		if (k + 1 < n)
			d->flags |= VIRTQ_DESC_F_NEXT;
		i = d->next;
	}
	q->free_head = i;
	q->num_free = (uint16_t)(q->num_free - n);
	q->chain_len[*head] = (uint16_t)n;

	virtq_publish(q, *head);
	return 0;
}

void virtq_publish(struct virtq *q, uint16_t head)
{
	q->avail->ring[q->avail_idx % q->size] = head;

	/* virtio 1.2, 2.7.13.2: the ring entry is visible before idx. */
	q->avail_idx++;
	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
	q->nr_added++;
}

bool virtq_kick(struct virtq *q)
{
	uint16_t old = q->kicked_idx, now = q->avail_idx;
	bool need;

	q->kicked_idx = now;

	/* virtio 1.2, 2.7.13.4: idx is published before suppression is read. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (has_event_idx(q))
		need = (uint16_t)(now - *avail_event(q) - 1) <
		       (uint16_t)(now - old);
	else
		need = !(__atomic_load_n(&q->used->flags, __ATOMIC_RELAXED) &
			 VIRTQ_USED_F_NO_NOTIFY);
	if (!need) {
		q->nr_kicks_skipped++;
		return false;
	}
	virtio_notify(q->dev, q->index);
	q->nr_kicks++;
	return true;
}

/* Returns the chain at head to the free list. */
static void virtq_free_chain(struct virtq *q, uint16_t head)
{
	uint16_t i = head, n = q->chain_len[head];

	for (uint16_t k = 1; k < n; k++)
		i = q->desc[i].next;
	q->desc[i].next = q->free_head;
	q->free_head = head;
	q->num_free = (uint16_t)(q->num_free + n);
	q->chain_len[head] = 0;
}

static bool virtq_has_used(struct virtq *q)
{
	return __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) != q->last_used;
}

int virtq_get_used(struct virtq *q, uint16_t *id, uint32_t *len)
{
	volatile struct virtq_used_elem *e;
	uint32_t used_id;

	if (!virtq_has_used(q))
		return 0;
	e = &q->used->ring[q->last_used % q->size];
	used_id = e->id;
	*len = e->len;
	if (used_id >= q->size || !q->chain_len[used_id])
		return -VIRTIO_EBADUSED;
	q->last_used++;
	*id = (uint16_t)used_id;
	virtq_free_chain(q, *id);

	/* virtio 1.2, 2.7.10: with EVENT_IDX, ask for the next one. */
	if (has_event_idx(q) && q->dev->irq_slot >= 0)
		*used_event(q) = q->last_used;
	return 1;
}

void virtq_enable_irq(struct virtq *q)
{
	/* virtio 1.2, 2.7.7: with EVENT_IDX, flags stays 0. */
	if (has_event_idx(q))
		*used_event(q) = q->last_used;
	else
		q->avail->flags = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void virtq_disable_irq(struct virtq *q)
{
	/* An event index just behind us is 2^16 buffers away. */
	if (has_event_idx(q))
		*used_event(q) = (uint16_t)(q->last_used - 1);
	else
		q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
}

/* ---- Interrupts ---- */

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "IDT gate is 16 bytes");

struct idt_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

struct irq_frame; /* pushed by the CPU; the handlers do not look at it */

static struct idt_gate virtio_idt[IDT_VECTORS];
static bool idt_installed;
static struct virtio_dev *irq_devs[IRQ_SLOTS];
static uint64_t lapic_base;

static void lapic_write_reg(uint32_t reg, uint32_t v)
{
	mmio_write32(lapic_base + reg, v);
}

/* Called from the handlers, so it saves what it uses itself. */
#define ISR_CALLEE __attribute__((no_caller_saved_registers))

ISR_CALLEE static void lapic_eoi(void)
{
	lapic_write_reg(LAPIC_EOI, 0);
}

ISR_CALLEE static void virtio_isr(unsigned int slot)
{
	struct virtio_dev *dev = irq_devs[slot];
	uint32_t st;

	/* virtio 1.2, 4.2.3.4: read the cause, then acknowledge it. */
	st = virtio_read(dev, VIRTIO_MMIO_INTERRUPT_STATUS);
	if (st)
		virtio_write(dev, VIRTIO_MMIO_INTERRUPT_ACK, st);
	dev->isr_pending |= st;
	dev->nr_irqs++;
	if (st & VIRTIO_MMIO_INT_VRING)
		dev->nr_vring_irqs++;
	if (st & VIRTIO_MMIO_INT_CONFIG)
		dev->nr_config_irqs++;
	lapic_eoi();
}

#define VIRTIO_ISR(n)                                                          \
	__attribute__((interrupt)) static void virtio_isr_##n(                 \
		struct irq_frame *f)                                           \
	{                                                                      \
		(void)f;                                                       \
		virtio_isr(n);                                                 \
	}
VIRTIO_ISR(0)
VIRTIO_ISR(1)
VIRTIO_ISR(2)
VIRTIO_ISR(3)

__attribute__((interrupt)) static void virtio_tick(struct irq_frame *f)
{
	(void)f;
	lapic_eoi();
}

static void idt_set(unsigned int vec, void (*handler)(struct irq_frame *))
{
	uint64_t h = (uint64_t)handler;

	virtio_idt[vec] = (struct idt_gate){
		.offset_lo = (uint16_t)h,
		.selector = GDT_CODE64,
		.type_attr = GATE_INTR_DPL0,
		.offset_mid = (uint16_t)(h >> 16),
		.offset_hi = (uint32_t)(h >> 32),
	};
}

/*
 * The runtime's IDT covers the exceptions only; this one copies those
 * gates and adds ours. It is loaded on the BSP, which all our interrupts
 * target; APs keep the runtime's.
 */
static void idt_install(void)
{
	struct idt_ptr old, ptr;

	if (idt_installed)
		return;
	__asm__ volatile("sidt %0" : "=m"(old));
	memcpy(virtio_idt, (const void *)old.base,
	       old.limit + 1u < sizeof(virtio_idt) ? old.limit + 1u
						   : sizeof(virtio_idt));
	idt_set(VEC_VIRTIO_BASE + 0, virtio_isr_0);
	idt_set(VEC_VIRTIO_BASE + 1, virtio_isr_1);
	idt_set(VEC_VIRTIO_BASE + 2, virtio_isr_2);
	idt_set(VEC_VIRTIO_BASE + 3, virtio_isr_3);
	idt_set(VEC_TICK, virtio_tick);
	ptr.limit = sizeof(virtio_idt) - 1;
	ptr.base = (uint64_t)virtio_idt;
	__asm__ volatile("lidt %0" : : "m"(ptr));

	/*
	 * KVM wires every GSI to the 8259s too, and the BSP's LINT0 starts
	 * as ExtINT: unmasked, a PIC that was never programmed would deliver
	 * pin n as vector n, an exception. Mask both PICs.
	 */
	outb(PIC_MASTER_DATA, 0xff);
	outb(PIC_SLAVE_DATA, 0xff);

	lapic_init();
	lapic_base = rdmsr(MSR_APIC_BASE) & APIC_BASE_ADDR_MASK;
	idt_installed = true;
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(IOAPIC_BASE + IOAPIC_REGSEL, reg);
	mmio_write32(IOAPIC_BASE + IOAPIC_WIN, v);
}

int virtio_irq_enable(struct virtio_dev *dev)
{
	unsigned int slot;

	if (dev->irq_slot >= 0)
		return 0;
	if (dev->irq == VIRTIO_IRQ_UNKNOWN || dev->irq >= IOAPIC_PINS)
		return -VIRTIO_ENOIRQ;
	/* A device set up again (after a reset) takes back its old slot. */
	for (slot = 0; slot < IRQ_SLOTS && irq_devs[slot]; slot++)
		if (irq_devs[slot] == dev || irq_devs[slot]->base == dev->base)
			break;
	if (slot == IRQ_SLOTS)
		return -VIRTIO_ENOSPC;
	idt_install();
	irq_devs[slot] = dev;
	dev->irq_slot = (int)slot;

	/* Fixed delivery, physical destination, edge, active high. */
	ioapic_write(IOAPIC_REDIR(dev->irq) + 1, lapic_id() << 24);
	ioapic_write(IOAPIC_REDIR(dev->irq), VEC_VIRTIO_BASE + slot);

	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (dev->queues[i])
			virtq_enable_irq(dev->queues[i]);
	return 0;
}

/*
 * Halts with interrupts on until done(arg) or the deadline. The LAPIC
 * timer ticks meanwhile so that a missing interrupt ends in a timeout,
 * not a hang. Interrupts are off again on return.
 */
static bool halt_until(bool (*done)(void *), void *arg, uint64_t deadline)
{
	bool ok;

	lapic_write_reg(LAPIC_TIMER_DIVIDE, LAPIC_DIVIDE_16);
	lapic_write_reg(LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | VEC_TICK);
	lapic_write_reg(LAPIC_TIMER_INIT, LAPIC_TICK_COUNT);
	for (;;) {
		__asm__ volatile("cli" ::: "memory");
		ok = done(arg);
		if (ok || rdtsc() >= deadline)
			break;
		/* sti's one-instruction shadow: no wake-up lost before hlt. */
		__asm__ volatile("sti; hlt" ::: "memory");
	}
	lapic_write_reg(LAPIC_TIMER_INIT, 0);
	return ok;
}

struct irq_wait {
	struct virtio_dev *dev;
	uint32_t mask;
};

static bool irq_seen(void *arg)
{
	struct irq_wait *w = arg;

	return w->dev->isr_pending & w->mask;
}

int virtio_wait_irq(struct virtio_dev *dev, uint32_t mask, uint64_t timeout_us)
{
	struct irq_wait w = {.dev = dev, .mask = mask};

	if (dev->irq_slot < 0)
		return -VIRTIO_ENOIRQ;
	if (!halt_until(irq_seen, &w, rdtsc() + us_to_tsc(timeout_us)))
		return -VIRTIO_ETIMEOUT;
	dev->isr_pending &= ~mask;
	return 0;
}

static bool used_or_config(void *arg)
{
	struct virtq *q = arg;

	return virtq_has_used(q) ||
	       (q->dev->isr_pending & VIRTIO_MMIO_INT_CONFIG);
}

int virtq_wait(struct virtq *q, uint16_t *id, uint32_t *len,
	       uint64_t timeout_us)
{
	uint64_t now = rdtsc(), deadline = now + us_to_tsc(timeout_us);
	uint64_t check_every = us_to_tsc(STATUS_CHECK_US);
	uint64_t next_check = now + check_every;
	int ret;

	for (;;) {
		ret = virtq_get_used(q, id, len);
		if (ret)
			return ret < 0 ? ret : 0;

		if (q->dev->irq_slot >= 0) {
			/* A config change is how NEEDS_RESET is announced. */
			if (!halt_until(used_or_config, q, deadline))
				break;
			if (q->dev->isr_pending & VIRTIO_MMIO_INT_CONFIG) {
				q->dev->isr_pending &= ~VIRTIO_MMIO_INT_CONFIG;
				if (virtio_needs_reset(q->dev))
					return -VIRTIO_ERESET;
			}
			continue;
		}

		/* Polling: Status is an exit to the VMM, so read it rarely. */
		now = rdtsc();
		if (now >= next_check) {
			if (virtio_needs_reset(q->dev))
				return -VIRTIO_ERESET;
			next_check = now + check_every;
		}
		if (now >= deadline)
			break;
		cpu_relax();
	}
	return virtio_needs_reset(q->dev) ? -VIRTIO_ERESET : -VIRTIO_ETIMEOUT;
}

int virtq_roundtrip(struct virtq *q, const struct virtq_buf *bufs,
		    unsigned int n, uint32_t *len, uint64_t timeout_us)
{
	uint16_t head, id;
	int err;

	err = virtq_add(q, bufs, n, &head);
	if (err)
		return err;
	virtq_kick(q);
	err = virtq_wait(q, &id, len, timeout_us);
	if (!err && id != head)
		err = -VIRTIO_EBADUSED;
	return err;
}

static bool config_irq_seen(void *arg)
{
	struct virtio_dev *dev = arg;

	return dev->isr_pending & VIRTIO_MMIO_INT_CONFIG;
}

int virtio_wait_needs_reset(struct virtio_dev *dev, uint64_t timeout_us)
{
	uint64_t deadline = rdtsc() + us_to_tsc(timeout_us);

	while (!virtio_needs_reset(dev)) {
		if (rdtsc() >= deadline)
			return -VIRTIO_ETIMEOUT;
		if (dev->irq_slot < 0) {
			delay_us(100);
			continue;
		}
		halt_until(config_irq_seen, dev, deadline);
		dev->isr_pending &= ~VIRTIO_MMIO_INT_CONFIG;
	}
	return 0;
}

/* ---- Configuration space ---- */

static uint32_t config_access_width(uint32_t offset, uint32_t left)
{
	if (offset % 4 == 0 && left >= 4)
		return 4;
	if (offset % 2 == 0 && left >= 2)
		return 2;
	return 1;
}

void virtio_config_read(struct virtio_dev *dev, uint32_t offset, void *buf,
			uint32_t len)
{
	uint64_t cfg = dev->base + VIRTIO_MMIO_CONFIG;
	uint8_t *out = buf;
	uint32_t gen, w;

	/* virtio 1.2, 2.5.1: retry until the generation holds still. */
	do {
		gen = virtio_read(dev, VIRTIO_MMIO_CONFIG_GENERATION);
		for (uint32_t i = 0; i < len; i += w) {
			uint32_t v;

			w = config_access_width(offset + i, len - i);
			if (w == 4)
				v = *(volatile uint32_t *)(cfg + offset + i);
			else if (w == 2)
				v = *(volatile uint16_t *)(cfg + offset + i);
			else
				v = *(volatile uint8_t *)(cfg + offset + i);
			memcpy(out + i, &v, w);
		}
	} while (virtio_read(dev, VIRTIO_MMIO_CONFIG_GENERATION) != gen);
}

uint8_t virtio_config_read8(struct virtio_dev *dev, uint32_t offset)
{
	uint8_t v;

	virtio_config_read(dev, offset, &v, sizeof(v));
	return v;
}

uint16_t virtio_config_read16(struct virtio_dev *dev, uint32_t offset)
{
	uint16_t v;

	virtio_config_read(dev, offset, &v, sizeof(v));
	return v;
}

uint32_t virtio_config_read32(struct virtio_dev *dev, uint32_t offset)
{
	uint32_t v;

	virtio_config_read(dev, offset, &v, sizeof(v));
	return v;
}

uint64_t virtio_config_read64(struct virtio_dev *dev, uint32_t offset)
{
	uint64_t v;

	virtio_config_read(dev, offset, &v, sizeof(v));
	return v;
}

void virtio_config_write8(struct virtio_dev *dev, uint32_t offset, uint8_t v)
{
	*(volatile uint8_t *)(dev->base + VIRTIO_MMIO_CONFIG + offset) = v;
}

void virtio_config_write16(struct virtio_dev *dev, uint32_t offset, uint16_t v)
{
	*(volatile uint16_t *)(dev->base + VIRTIO_MMIO_CONFIG + offset) = v;
}

void virtio_config_write32(struct virtio_dev *dev, uint32_t offset, uint32_t v)
{
	*(volatile uint32_t *)(dev->base + VIRTIO_MMIO_CONFIG + offset) = v;
}
