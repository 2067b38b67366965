/*
 * Starting application processors: INIT, SIPI, SIPI (Intel SDM vol. 3,
 * 9.4.4.1 "Typical BSP Initialization Sequence"), one AP at a time, each
 * through the trampoline in ap_tramp.S.
 */
#include "asm.h"
#include "guest.h"
#include "trap.h"
#include "x86.h"

#define AP_STACK_SIZE 8192
#define INIT_DELAY_US 10000 /* after INIT, before the first SIPI */
#define SIPI_DELAY_US 200   /* between the two SIPIs */

extern const char ap_tramp_start[], ap_tramp_end[];
extern const char ap_tramp_cr3[], ap_tramp_stack[], ap_tramp_entry[];

void ap_start64(void);
void ap_start(void);

static uint8_t ap_stacks[GUEST_MAX_CPUS][AP_STACK_SIZE]
	__attribute__((section(".noinit"))) __attribute__((aligned(16)));

/* Handed from the BSP to the AP being started. */
static volatile unsigned int ap_next_index;
static ap_main_fn volatile ap_next_fn;
static volatile int ap_arrived;

/* Where the trampoline copy's slot for sym lies. */
static volatile uint64_t *tramp_slot(const char *sym)
{
	uint64_t addr = AP_TRAMP_ADDR + (uint64_t)(sym - ap_tramp_start);

	__asm__("" : "+r"(addr));
	return (volatile uint64_t *)addr;
}

static void tramp_install(unsigned int cpu_index)
{
	uint64_t dst = AP_TRAMP_ADDR;

	__asm__("" : "+r"(dst));
	memcpy((void *)dst, ap_tramp_start,
	       (size_t)(ap_tramp_end - ap_tramp_start));
	*tramp_slot(ap_tramp_cr3) = read_cr3();
	*tramp_slot(ap_tramp_stack) =
		(uint64_t)&ap_stacks[cpu_index][AP_STACK_SIZE];
	*tramp_slot(ap_tramp_entry) = (uint64_t)ap_start64;
}

static int wait_arrival(uint64_t timeout_us)
{
	uint64_t waited;

	for (waited = 0; waited < timeout_us; waited += 10) {
		if (__atomic_load_n(&ap_arrived, __ATOMIC_ACQUIRE))
			return 0;
		delay_us(10);
	}
	return -1;
}

int smp_start_ap(uint32_t apic_id, unsigned int cpu_index, ap_main_fn fn,
		 unsigned int timeout_ms)
{
	if (cpu_index >= GUEST_MAX_CPUS)
		return -1;

	tramp_install(cpu_index);
	ap_next_index = cpu_index;
	ap_next_fn = fn;
	__atomic_store_n(&ap_arrived, 0, __ATOMIC_RELEASE);

	lapic_send_init(apic_id);
	delay_us(INIT_DELAY_US);
	lapic_send_sipi(apic_id, AP_TRAMP_ADDR >> 12);
	if (wait_arrival(SIPI_DELAY_US) == 0)
		return 0;

	/* A CPU already running ignores the second SIPI. */
	lapic_send_sipi(apic_id, AP_TRAMP_ADDR >> 12);
	return wait_arrival((uint64_t)timeout_ms * 1000);
}

/* Runs on the AP, on its own stack, with guest_gdt loaded. */
void ap_start(void)
{
	unsigned int index = ap_next_index;
	ap_main_fn fn = ap_next_fn;

	trap_load();
	__atomic_store_n(&ap_arrived, 1, __ATOMIC_RELEASE);

	fn(index);
	for (;;)
		__asm__ volatile("cli; hlt");
}
