/*
 * I/O buses: the port-I/O and MMIO address spaces, each a sorted set of
 * non-overlapping ranges claimed by devices.
 *
 * Contract: every range is registered before the first vCPU runs; after
 * that the bus is read-only and lookups take no lock. A handler may be
 * called from several vCPU threads at once, so each device locks its own
 * state.
 */
#ifndef MINNOW_BUS_H
#define MINNOW_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Called for an access of len bytes (1, 2, 4 or 8) at offset within the
 * range. For a read, the handler fills data; for a write, data holds the
 * value in guest (little-endian) byte order.
 */
typedef void (*bus_io_fn)(void *opaque, uint64_t offset, uint8_t *data,
			  uint32_t len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	const char *name;
	bus_io_fn io;
	void *opaque;
};

#define BUS_MAX_RANGES 64

struct bus {
	const char *name; /* "pio" or "mmio", for logs */
	size_t nr_ranges;
	struct bus_range ranges[BUS_MAX_RANGES];
};

void bus_init(struct bus *bus, const char *name);

/* Returns 0, -EEXIST if the range overlaps another, -ENOSPC, -EINVAL. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const char *name,
		 bus_io_fn io, void *opaque);

/* The range holding addr, or NULL. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr);

/*
 * Routes one access. An access that hits no device reads as all ones and
 * writes are dropped; returns false in that case so the caller can log it.
 */
bool bus_access(const struct bus *bus, uint64_t addr, uint8_t *data,
		uint32_t len, bool is_write);

#endif
