/* The local APIC in xAPIC (MMIO) mode: ID, enable, INIT and SIPI. */
#include "guest.h"
#include "x86.h"

#define MSR_APIC_BASE       0x1b
#define APIC_BASE_ADDR_MASK 0xfffffffffffff000ull

#define LAPIC_ID     0x020
#define LAPIC_SVR    0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310

#define LAPIC_SVR_ENABLE     0x100
#define LAPIC_SPURIOUS_VEC   0xff
#define ICR_DELIVERY_INIT    0x500
#define ICR_DELIVERY_STARTUP 0x600
#define ICR_LEVEL_ASSERT     0x4000
#define ICR_SEND_PENDING     0x1000

/* Bounds the wait for the ICR to go idle; a real APIC takes microseconds. */
#define ICR_IDLE_TIMEOUT_US 10000

static uint64_t lapic_base;

static uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(lapic_base + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(lapic_base + reg, v);
}

void lapic_init(void)
{
	lapic_base = rdmsr(MSR_APIC_BASE) & APIC_BASE_ADDR_MASK;
	lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | LAPIC_SPURIOUS_VEC);
}

uint32_t lapic_id(void)
{
	if (!lapic_base)
		lapic_base = rdmsr(MSR_APIC_BASE) & APIC_BASE_ADDR_MASK;
	return lapic_read(LAPIC_ID) >> 24;
}

static void lapic_send_ipi(uint32_t apic_id, uint32_t icr_lo)
{
	uint64_t waited = 0;

	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr_lo);
	while ((lapic_read(LAPIC_ICR_LO) & ICR_SEND_PENDING) &&
	       waited++ < ICR_IDLE_TIMEOUT_US)
		delay_us(1);
}

void lapic_send_init(uint32_t apic_id)
{
	lapic_send_ipi(apic_id, ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT);
}

void lapic_send_sipi(uint32_t apic_id, uint8_t vector)
{
	lapic_send_ipi(apic_id,
		       ICR_DELIVERY_STARTUP | ICR_LEVEL_ASSERT | vector);
}
