/*
 * Brings up every CPU the firmware tables list. Each AP bumps a shared
 * counter and records its local APIC ID; the BSP checks that every AP
 * arrived, under its own ID, within a bounded wait. With "cpus=madt" on
 * the command line it reads only the ACPI MADT, to test that path.
 */
#include "lib/guest.h"
#include "lib/x86.h"

#define AP_START_TIMEOUT_MS  2000
#define AP_REPORT_TIMEOUT_US 2000000

static uint32_t apic_ids[GUEST_MAX_CPUS];
static volatile uint32_t seen_ids[GUEST_MAX_CPUS];
static volatile unsigned int cpus_up;

static void ap_main(unsigned int cpu_index)
{
	seen_ids[cpu_index] = lapic_id();
	__atomic_fetch_add(&cpus_up, 1, __ATOMIC_SEQ_CST);
}

/* Waits for the APs' counter to reach want; true when it did. */
static int wait_for_aps(unsigned int want)
{
	uint64_t waited;

	for (waited = 0; waited < AP_REPORT_TIMEOUT_US; waited += 100) {
		if (__atomic_load_n(&cpus_up, __ATOMIC_SEQ_CST) >= want)
			return 1;
		delay_us(100);
	}
	return 0;
}

int main(void)
{
	const char *source;
	unsigned int n, i, bad = 0;
	uint32_t bsp;

	lapic_init();
	bsp = lapic_id();
	if (cmdline_has("cpus=madt")) {
		n = cpus_discover_madt(apic_ids, GUEST_MAX_CPUS);
		source = "ACPI MADT";
	} else {
		n = cpus_discover(apic_ids, GUEST_MAX_CPUS, &source);
	}
	printf("smp: %u cpus in the %s, bsp apic id %u\n", n, source, bsp);
	if (!n)
		return GUEST_EXIT_FAIL;

	cpus_up = 1; /* the BSP */
	seen_ids[0] = bsp;
	for (i = 0; i < n; i++) {
		if (apic_ids[i] == bsp)
			continue;
		if (smp_start_ap(apic_ids[i], i, ap_main, AP_START_TIMEOUT_MS) <
		    0) {
			printf("smp: cpu %u (apic id %u) did not start\n", i,
			       apic_ids[i]);
			bad++;
		}
	}
	wait_for_aps(n);

	for (i = 0; i < n; i++) {
		if (apic_ids[i] != bsp && seen_ids[i] != apic_ids[i]) {
			printf("smp: cpu %u reported apic id %u, expected %u\n",
			       i, seen_ids[i], apic_ids[i]);
			bad++;
		}
	}
	printf("smp: %u of %u cpus up\n", cpus_up, n);
	return cpus_up == n && !bad ? GUEST_EXIT_PASS : GUEST_EXIT_FAIL;
}
