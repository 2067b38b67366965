/*
 * Busy waits on the TSC. The rate comes from CPUID; when CPUID does not
 * say, a high guess makes every wait at least as long as asked.
 */
#include "guest.h"
#include "x86.h"

#define TSC_KHZ_GUESS 5000000ull /* 5 GHz */

static uint64_t tsc_rate_khz;

static uint64_t tsc_khz_from_cpuid(void)
{
	uint32_t r[4];
	uint32_t max_leaf;

	cpuid(0, 0, r);
	max_leaf = r[0];

	/* Leaf 0x15: TSC = crystal (ecx Hz) * ebx / eax. */
	if (max_leaf >= 0x15) {
		cpuid(0x15, 0, r);
		if (r[0] && r[1] && r[2])
			return (uint64_t)r[2] * r[1] / r[0] / 1000;
	}
	/* Leaf 0x16: base frequency in MHz. */
	if (max_leaf >= 0x16) {
		cpuid(0x16, 0, r);
		if (r[0])
			return (uint64_t)r[0] * 1000;
	}
	return TSC_KHZ_GUESS;
}

uint64_t tsc_khz(void)
{
	if (!tsc_rate_khz)
		tsc_rate_khz = tsc_khz_from_cpuid();
	return tsc_rate_khz;
}

void delay_us(uint64_t us)
{
	uint64_t start = rdtsc();
	uint64_t ticks = us * tsc_khz() / 1000;

	while (rdtsc() - start < ticks)
		cpu_relax();
}
