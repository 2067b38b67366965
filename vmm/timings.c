/* Start-up phase timestamps and their report. */
#include "vmm/timings.h"
#include "vmm/log.h"
#include "vmm/util.h"

#include <stdatomic.h>

static _Atomic uint64_t phase_ns[TIMING_NR_PHASES];
static uint64_t guest_resident_bytes;

static const char *const phase_names[TIMING_NR_PHASES] = {
	[TIMING_MAIN] = "main",
	[TIMING_MEMORY_READY] = "memory_ready",
	[TIMING_KVM_READY] = "kvm_ready",
	[TIMING_DEVICES_READY] = "devices_ready",
	[TIMING_KERNEL_LOADED] = "kernel_loaded",
	[TIMING_FIRST_RUN] = "first_kvm_run",
	[TIMING_VM_STOPPED] = "vm_stopped",
	[TIMING_EXIT] = "exit",
};

void timings_mark(enum timing_phase phase)
{
	uint64_t unset = 0;

	atomic_compare_exchange_strong(&phase_ns[phase], &unset,
				       clock_now_ns());
}

uint64_t timings_get(enum timing_phase phase)
{
	return atomic_load(&phase_ns[phase]);
}

void timings_set_guest_resident(uint64_t bytes)
{
	guest_resident_bytes = bytes;
}

static void timings_print_json(FILE *out,
			       const struct debug_port_marker *markers,
			       size_t nr_markers)
{
	const char *sep = "";

	fprintf(out, "{\"clock\": \"CLOCK_MONOTONIC\", \"phases_ns\": {");
	for (unsigned int i = 0; i < TIMING_NR_PHASES; i++) {
		if (!timings_get(i))
			continue;
		fprintf(out, "%s\"%s\": %llu", sep, phase_names[i],
			(unsigned long long)timings_get(i));
		sep = ", ";
	}
	fprintf(out, "}, \"guest_markers_ns\": [");
	for (size_t i = 0; i < nr_markers; i++)
		fprintf(out, "%s[%u, %llu]", i ? ", " : "", markers[i].code,
			(unsigned long long)markers[i].time_ns);
	fprintf(out, "], \"guest_ram_resident_bytes\": %llu}\n",
		(unsigned long long)guest_resident_bytes);
}

static void timings_print_row(FILE *out, const char *name, uint64_t t,
			      uint64_t t0, uint64_t *prev)
{
	fprintf(out, "  %-22s %10.3f ms  (+%.3f)\n", name, (t - t0) / 1e6,
		(t - *prev) / 1e6);
	*prev = t;
}

void timings_print(FILE *out, bool json,
		   const struct debug_port_marker *markers, size_t nr_markers)
{
	uint64_t t0 = timings_get(TIMING_MAIN), prev = t0;
	char name[32];
	size_t m = 0;

	if (json) {
		timings_print_json(out, markers, nr_markers);
		return;
	}

	/* Phases and markers merged in time order. */
	fprintf(out, "minnow timings (from main):\n");
	for (unsigned int i = 0; i < TIMING_NR_PHASES; i++) {
		uint64_t t = timings_get(i);

		if (!t)
			continue;
		for (; m < nr_markers && markers[m].time_ns <= t; m++) {
			snprintf(name, sizeof(name), "guest marker 0x%02x",
				 markers[m].code);
			timings_print_row(out, name, markers[m].time_ns, t0,
					  &prev);
		}
		timings_print_row(out, phase_names[i], t, t0, &prev);
	}
	for (; m < nr_markers; m++) {
		snprintf(name, sizeof(name), "guest marker 0x%02x",
			 markers[m].code);
		timings_print_row(out, name, markers[m].time_ns, t0, &prev);
	}
	fprintf(out, "  guest RAM resident     %10.3f MiB\n",
		guest_resident_bytes / 1048576.0);
}
