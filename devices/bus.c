/* Port-I/O and MMIO buses: range registration and access routing. */
#include "devices/bus.h"

#include <errno.h>
#include <string.h>

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const char *name,
		 bus_io_fn io, void *opaque)
{
	uint64_t last;
	size_t pos;

	if (len == 0 || !io || __builtin_add_overflow(base, len - 1, &last))
		return -EINVAL;
	if (bus->nr_ranges == BUS_MAX_RANGES)
		return -ENOSPC;

	/* Keep the array sorted by base; refuse any overlap. */
	for (pos = 0; pos < bus->nr_ranges; pos++) {
		const struct bus_range *r = &bus->ranges[pos];

		if (base <= r->base + (r->len - 1) && r->base <= last)
			return -EEXIST;
		if (r->base > base)
			break;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos],
		(bus->nr_ranges - pos) * sizeof(bus->ranges[0]));
	bus->ranges[pos] = (struct bus_range){.base = base,
					      .len = len,
					      .name = name,
					      .io = io,
					      .opaque = opaque};
	bus->nr_ranges++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->nr_ranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_access(const struct bus *bus, uint64_t addr, uint8_t *data,
		uint32_t len, bool is_write)
{
	const struct bus_range *r = bus_find(bus, addr);

	if (!r) {
		if (!is_write)
			memset(data, 0xff, len);
		return false;
	}
	r->io(r->opaque, addr - r->base, data, len, is_write);
	return true;
}
