/*
 * Two ports for test and start-up harnesses: debug-exit (0x501), which
 * stops the VM with a code the guest chooses, and the progress-marker
 * port (0x510), which timestamps one-byte codes the guest writes as it
 * boots.
 *
 * Contract: debug_port_init(), then debug_port_register() before the
 * first vCPU runs; debug_port_destroy() after the vCPUs have stopped.
 * debug_port_markers() and debug_port_dropped() may be called from any
 * thread at any time in between.
 */
#ifndef MINNOW_DEBUG_PORT_H
#define MINNOW_DEBUG_PORT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/power.h"
#include "vmm/log.h"

/* Markers kept; later ones are only counted. */
#define DEBUG_PORT_MAX_MARKERS 64

struct debug_port_marker {
	uint8_t code;
	uint64_t time_ns; /* clock_now_ns() when the guest wrote it */
};

struct debug_port {
	pthread_mutex_t lock;
	struct power_sink power;
	struct debug_port_marker markers[DEBUG_PORT_MAX_MARKERS];
	size_t nr_markers;
	uint64_t nr_dropped;
	struct log_ratelimit rl;
};

/*
 * A write of value v (1, 2 or 4 bytes) to the debug-exit port asks power
 * for POWER_EVENT_DEBUG_EXIT with code v & 0xff. Returns 0 or -errno.
 */
int debug_port_init(struct debug_port *d, struct power_sink power);

/*
 * Claims LAYOUT_PORT_DEBUG_EXIT and LAYOUT_PORT_DEBUG_MARK, one byte each.
 * Returns 0 or bus_register()'s negative errno.
 */
int debug_port_register(struct debug_port *d, struct bus *pio);

/*
 * The markers recorded so far, oldest first; *nr receives their number.
 * The array only grows: the first *nr entries never change afterwards, so
 * they stay readable without the lock until debug_port_destroy().
 */
const struct debug_port_marker *debug_port_markers(struct debug_port *d,
						   size_t *nr);

/* How many markers arrived after the array was full. */
uint64_t debug_port_dropped(struct debug_port *d);

void debug_port_destroy(struct debug_port *d);

#endif
