/*
 * Intel MultiProcessor Specification 1.4 tables, so that a guest without
 * ACPI finds its CPUs, the IOAPIC and the interrupt routing. Both the
 * floating pointer and the configuration table sit in the last KiB of
 * base memory, where Linux looks for them and which the e820 map reserves.
 */
#include "boot/boot_internal.h"
#include "boot/layout.h"

#include <errno.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#define MP_SPEC_REV_1_4   4
#define MP_LAPIC_VERSION  0x14 /* an integrated local APIC */
#define MP_IOAPIC_VERSION 0x11 /* KVM's in-kernel IOAPIC */
#define MP_IOAPIC_PINS    24
#define MP_ISA_BUS_ID     0
#define MP_ALL_LAPICS     0xff

/* MP 1.4, 4.3: entry types, in the order the table lists them. */
enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_IOINTR, MP_LINTR };
/* MP 1.4, table 4-9: interrupt types. */
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
#define MP_CPU_ENABLED    0x01
#define MP_CPU_BSP        0x02
#define MP_IOAPIC_USABLE  0x01
#define MP_IRQ_CONFORMING 0x0000 /* polarity and trigger of the bus */

struct mp_floating_pointer {
	char signature[4]; /* "_MP_" */
	uint32_t config_paddr;
	uint8_t length; /* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t features[5]; /* all 0: a table is present, virtual wire mode */
} __attribute__((packed));

struct mp_config_header {
	char signature[4]; /* "PCMP" */
	uint16_t base_length;
	uint8_t spec_rev;
	uint8_t checksum;
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table_paddr;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_paddr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mp_processor {
	uint8_t type;
	uint8_t lapic_id;
	uint8_t lapic_version;
	uint8_t cpu_flags;
	uint32_t cpu_signature;
	uint32_t feature_flags;
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus {
	uint8_t type;
	uint8_t bus_id;
	char bus_type[6];
} __attribute__((packed));

struct mp_ioapic {
	uint8_t type;
	uint8_t ioapic_id;
	uint8_t version;
	uint8_t flags;
	uint32_t paddr;
} __attribute__((packed));

/* I/O and local interrupt assignments share one layout. */
struct mp_intr {
	uint8_t type;
	uint8_t intr_type;
	uint16_t flags;
	uint8_t src_bus_id;
	uint8_t src_bus_irq;
	uint8_t dst_apic_id;
	uint8_t dst_pin;
} __attribute__((packed));

_Static_assert(sizeof(struct mp_floating_pointer) == 16, "MP pointer size");
_Static_assert(sizeof(struct mp_config_header) == 44, "MP header size");
_Static_assert(sizeof(struct mp_processor) == 20, "MP processor size");
_Static_assert(sizeof(struct mp_bus) == 8, "MP bus size");
_Static_assert(sizeof(struct mp_ioapic) == 8, "MP IOAPIC size");
_Static_assert(sizeof(struct mp_intr) == 8, "MP interrupt size");

#define MP_FIXED_SIZE                                                          \
	(sizeof(struct mp_config_header) + sizeof(struct mp_bus) +             \
	 sizeof(struct mp_ioapic) + MP_IOAPIC_PINS * sizeof(struct mp_intr) +  \
	 2 * sizeof(struct mp_intr))
#define MP_AREA_SIZE (LAYOUT_MPTABLE_END - LAYOUT_MPTABLE_ADDR)
_Static_assert(MP_FIXED_SIZE + BOOT_MPTABLE_MAX_CPUS *
				       sizeof(struct mp_processor) <=
		       MP_AREA_SIZE,
	       "BOOT_MPTABLE_MAX_CPUS fit in the BIOS area");

size_t boot_mptable_size(unsigned int nr_cpus)
{
	return MP_FIXED_SIZE + (size_t)nr_cpus * sizeof(struct mp_processor);
}

/* The two's complement that makes the bytes sum to zero. */
static uint8_t mp_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

/* CPUID leaf 1: the signature (EAX) and feature flags (EDX) of this CPU. */
static void mp_cpu_id(struct mp_processor *cpu)
{
	unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;

#if defined(__x86_64__) || defined(__i386__)
	__get_cpuid(1, &eax, &ebx, &ecx, &edx);
#endif
	cpu->cpu_signature = eax;
	cpu->feature_flags = edx;
}

static uint8_t *mp_put_processors(uint8_t *p, unsigned int nr_cpus)
{
	struct mp_processor cpu = {
		.type = MP_PROCESSOR,
		.lapic_version = MP_LAPIC_VERSION,
	};

	mp_cpu_id(&cpu);
	for (unsigned int i = 0; i < nr_cpus; i++) {
		cpu.lapic_id = (uint8_t)i;
		cpu.cpu_flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0);
		memcpy(p, &cpu, sizeof(cpu));
		p += sizeof(cpu);
	}
	return p;
}

static uint8_t *mp_put_intr(uint8_t *p, uint8_t type, uint8_t intr_type,
			    uint8_t irq, uint8_t apic_id, uint8_t pin)
{
	struct mp_intr e = {
		.type = type,
		.intr_type = intr_type,
		.flags = MP_IRQ_CONFORMING,
		.src_bus_id = MP_ISA_BUS_ID,
		.src_bus_irq = irq,
		.dst_apic_id = apic_id,
		.dst_pin = pin,
	};

	memcpy(p, &e, sizeof(e));
	return p + sizeof(e);
}

/*
 * Buses, the IOAPIC and the routing. minnow keeps KVM's default GSI
 * routing, where GSI n drives IOAPIC pin n (and PIC line n below 16),
 * and the in-kernel PIT raises GSI 0. So ISA IRQ n, the timer included,
 * arrives on pin n: the IRQ 0 -> pin 2 entry of a real PC would point
 * Linux's timer at a pin the PIT does not drive here.
 * Pins 16-23 carry the virtio lines, listed as ISA IRQs like the rest.
 */
static uint8_t *mp_put_io(uint8_t *p, uint8_t ioapic_id)
{
	struct mp_bus bus = {.type = MP_BUS, .bus_id = MP_ISA_BUS_ID};
	struct mp_ioapic ioapic = {
		.type = MP_IOAPIC,
		.ioapic_id = ioapic_id,
		.version = MP_IOAPIC_VERSION,
		.flags = MP_IOAPIC_USABLE,
		.paddr = (uint32_t)LAYOUT_IOAPIC_ADDR,
	};

	memcpy(bus.bus_type, "ISA   ", sizeof(bus.bus_type));
	memcpy(p, &bus, sizeof(bus));
	p += sizeof(bus);
	memcpy(p, &ioapic, sizeof(ioapic));
	p += sizeof(ioapic);

	for (uint8_t pin = 0; pin < MP_IOAPIC_PINS; pin++)
		p = mp_put_intr(p, MP_IOINTR, MP_INT, pin, ioapic_id, pin);

	/* MP 1.4, 3.6.2.2 virtual wire mode: the PIC on LINT0, NMI on LINT1. */
	p = mp_put_intr(p, MP_LINTR, MP_EXTINT, 0, MP_ALL_LAPICS, 0);
	return mp_put_intr(p, MP_LINTR, MP_NMI, 0, MP_ALL_LAPICS, 1);
}

int boot_mptable_write(struct gmem *gm, unsigned int nr_cpus)
{
	size_t size = boot_mptable_size(nr_cpus);
	struct mp_floating_pointer *mpf;
	struct mp_config_header *mpc;
	uint8_t *base, *end;

	if (nr_cpus == 0 || nr_cpus > BOOT_MPTABLE_MAX_CPUS)
		return -EINVAL;
	mpf = gmem_ptr(gm, LAYOUT_EBDA_ADDR, sizeof(*mpf));
	base = gmem_ptr(gm, LAYOUT_MPTABLE_ADDR, size);
	if (!mpf || !base)
		return -EFAULT;
	memset(mpf, 0, sizeof(*mpf));
	memset(base, 0, size);

	mpc = (struct mp_config_header *)base;
	end = mp_put_processors((uint8_t *)(mpc + 1), nr_cpus);
	end = mp_put_io(end, (uint8_t)nr_cpus);

	memcpy(mpc->signature, "PCMP", 4);
	mpc->base_length = (uint16_t)size;
	mpc->spec_rev = MP_SPEC_REV_1_4;
	memcpy(mpc->oem_id, "MINNOW  ", sizeof(mpc->oem_id));
	memcpy(mpc->product_id, "MINNOW VM   ", sizeof(mpc->product_id));
	mpc->entry_count = (uint16_t)(nr_cpus + 2 + MP_IOAPIC_PINS + 2);
	mpc->lapic_paddr = (uint32_t)LAYOUT_LAPIC_ADDR;
	mpc->checksum = mp_checksum((uint8_t *)mpc, mpc->base_length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->config_paddr = (uint32_t)LAYOUT_MPTABLE_ADDR;
	mpf->length = 1;
	mpf->spec_rev = MP_SPEC_REV_1_4;
	mpf->checksum = mp_checksum((uint8_t *)mpf, sizeof(*mpf));

	return end == base + size ? 0 : -EINVAL;
}
