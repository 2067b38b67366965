/*
 * The PC devices every minnow VM has: COM1 (unless the serial console is
 * off), the i8042 reset line, the CMOS RTC and the debug ports.
 */
#ifndef MINNOW_LEGACY_H
#define MINNOW_LEGACY_H

#include <stdbool.h>

#include "devices/debug_port.h"
#include "devices/i8042.h"
#include "devices/rtc_cmos.h"
#include "devices/serial_8250.h"
#include "vmm/console.h"
#include "vmm/vm.h"

struct legacy_devices {
	bool has_serial, has_i8042, has_rtc, has_debug;
	struct serial_8250 serial;
	struct i8042 i8042;
	struct rtc_cmos rtc;
	struct debug_port debug;
};

/*
 * Creates the devices and claims their ports on vm's port bus. con is the
 * serial console (NULL for none); with_input feeds it stdin. Returns 0 or
 * a negative errno after a message.
 */
int legacy_devices_attach(struct legacy_devices *ld, struct vm *vm,
			  struct console *con, bool with_input);

/* After the VM has stopped. */
void legacy_devices_destroy(struct legacy_devices *ld);

#endif
