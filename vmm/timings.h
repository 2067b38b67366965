/*
 * Start-up phase timestamps on CLOCK_MONOTONIC, for `--timings` and the
 * startup benchmark (tools/bench-startup). Each phase is recorded once, the
 * first time it is reached; recording is a single atomic store.
 */
#ifndef MINNOW_TIMINGS_H
#define MINNOW_TIMINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/debug_port.h"

enum timing_phase {
	TIMING_MAIN,          /* main() entered */
	TIMING_MEMORY_READY,  /* VM created, guest RAM created and mapped */
	TIMING_KVM_READY,     /* irqchip and PIT created */
	TIMING_DEVICES_READY, /* every device attached */
	TIMING_KERNEL_LOADED, /* kernel and boot structures in guest RAM */
	TIMING_FIRST_RUN,     /* vcpu0 about to call KVM_RUN the first time */
	TIMING_VM_STOPPED,    /* the stop request (power-off, exit port...) */
	TIMING_EXIT,          /* everything torn down, about to exit */
	TIMING_NR_PHASES,
};

void timings_mark(enum timing_phase phase);

/* The time of phase in ns, or 0 when it was not reached. */
uint64_t timings_get(enum timing_phase phase);

/* Notes how much guest RAM was resident at the end, for the report. */
void timings_set_guest_resident(uint64_t bytes);

/*
 * Prints every phase reached and the guest's progress markers, as a table
 * (times relative to TIMING_MAIN) or as one JSON object (absolute
 * CLOCK_MONOTONIC nanoseconds, so a harness can subtract its own exec
 * time).
 */
void timings_print(FILE *out, bool json,
		   const struct debug_port_marker *markers, size_t nr_markers);

#endif
