/*
 * How devices ask the VM to stop: the i8042 reset line, the debug-exit port,
 * a guest power-off. The VM supplies the sink; the request is only recorded
 * and acted on by the VM's own threads, so it is safe from any thread and
 * from inside a device handler holding its lock.
 */
#ifndef MINNOW_POWER_H
#define MINNOW_POWER_H

enum power_event {
	POWER_EVENT_OFF,        /* guest powered off */
	POWER_EVENT_RESET,      /* guest asked for a reset */
	POWER_EVENT_DEBUG_EXIT, /* guest wrote code to the debug-exit port */
};

struct power_sink {
	void (*request)(void *ctx, enum power_event event, int code);
	void *ctx;
};

static inline void power_request(const struct power_sink *sink,
				 enum power_event event, int code)
{
	if (sink && sink->request)
		sink->request(sink->ctx, event, code);
}

#endif
