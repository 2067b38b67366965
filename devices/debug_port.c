/* The debug-exit and progress-marker ports. */
#include "devices/debug_port.h"

#include "boot/layout.h"

#include <errno.h>
#include <string.h>

static void debug_exit_io(void *opaque, uint64_t offset, uint8_t *data,
			  uint32_t len, bool is_write)
{
	struct debug_port *d = opaque;

	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}

	/* Only the low byte of the value counts: data[0] in any width. */
	pthread_mutex_lock(&d->lock);
	if (len == 1 || len == 2 || len == 4)
		power_request(&d->power, POWER_EVENT_DEBUG_EXIT, data[0]);
	else
		log_warn_ratelimited(&d->rl,
				     "debug: %u-byte write to the exit port "
				     "ignored",
				     len);
	pthread_mutex_unlock(&d->lock);
}

static void debug_marker_record(struct debug_port *d, uint8_t code)
{
	struct debug_port_marker *m;

	if (d->nr_markers == DEBUG_PORT_MAX_MARKERS) {
		if (!d->nr_dropped)
			log_debug("debug: marker buffer full; counting the "
				  "rest as dropped");
		d->nr_dropped++;
		return;
	}
	m = &d->markers[d->nr_markers++];
	m->code = code;
	m->time_ns = clock_now_ns();
	log_debug("debug: marker 0x%02x at %llu ns", code,
		  (unsigned long long)m->time_ns);
}

static void debug_marker_io(void *opaque, uint64_t offset, uint8_t *data,
			    uint32_t len, bool is_write)
{
	struct debug_port *d = opaque;

	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}

	pthread_mutex_lock(&d->lock);
	if (len == 1)
		debug_marker_record(d, data[0]);
	else
		log_warn_ratelimited(&d->rl,
				     "debug: %u-byte write to the marker port "
				     "ignored",
				     len);
	pthread_mutex_unlock(&d->lock);
}

int debug_port_init(struct debug_port *d, struct power_sink power)
{
	int err;

	memset(d, 0, sizeof(*d));
	d->power = power;
	err = pthread_mutex_init(&d->lock, NULL);
	return -err;
}

int debug_port_register(struct debug_port *d, struct bus *pio)
{
	int err;

	err = bus_register(pio, LAYOUT_PORT_DEBUG_EXIT, 1, "debug-exit",
			   debug_exit_io, d);
	if (err)
		return err;
	return bus_register(pio, LAYOUT_PORT_DEBUG_MARK, 1, "debug-marker",
			    debug_marker_io, d);
}

const struct debug_port_marker *debug_port_markers(struct debug_port *d,
						   size_t *nr)
{
	pthread_mutex_lock(&d->lock);
	*nr = d->nr_markers;
	pthread_mutex_unlock(&d->lock);
	return d->markers;
}

uint64_t debug_port_dropped(struct debug_port *d)
{
	uint64_t dropped;

	pthread_mutex_lock(&d->lock);
	dropped = d->nr_dropped;
	pthread_mutex_unlock(&d->lock);
	return dropped;
}

void debug_port_destroy(struct debug_port *d)
{
	pthread_mutex_destroy(&d->lock);
}
