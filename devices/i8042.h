/*
 * A minimal i8042 keyboard controller: enough for Linux to probe it
 * without hanging and to reset the machine through it (reboot=k).
 *
 * Contract: i8042_init(), then i8042_register() before the first vCPU
 * runs; i8042_destroy() after the vCPUs have stopped. Port 0x61 is not
 * ours: KVM's in-kernel PIT owns the speaker port.
 *
 * Left out: there is no keyboard and no aux (mouse) device behind the
 * controller, and no IRQ 1 or 12. Bytes written to the data port for a
 * device are dropped, and commands that expect a device's answer (the aux
 * loopback 0xd3, for one) get none, so Linux waits out its command timeout
 * (about half a second each) while probing. Guests should boot with
 * "i8042.noaux i8042.nomux i8042.dumbkbd" to skip those probes. Also left
 * out: the input port (0xc0), the output port read (0xd0), the interface
 * tests (0xa9, 0xab) and the password commands.
 */
#ifndef MINNOW_I8042_H
#define MINNOW_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/power.h"
#include "vmm/log.h"

struct i8042 {
	pthread_mutex_t lock;
	struct power_sink power;
	uint8_t ctr;         /* controller configuration byte */
	uint8_t pending_cmd; /* command waiting for its data byte; 0: none */
	uint8_t out_byte;    /* output buffer, read at the data port */
	bool out_full;       /* status OBF */
	struct log_ratelimit rl;
};

/* Resets the controller; reset requests go to power. Returns 0 or -errno. */
int i8042_init(struct i8042 *k, struct power_sink power);

/*
 * Claims the data port (0x60) and the status/command port (0x64), one
 * byte each. Returns 0 or bus_register()'s negative errno.
 */
int i8042_register(struct i8042 *k, struct bus *pio);

void i8042_destroy(struct i8042 *k);

#endif
