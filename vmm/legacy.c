/* Attaching the PC devices every VM has to the port bus. */
#include "vmm/legacy.h"
#include "boot/layout.h"
#include "vmm/log.h"

#include <errno.h>
#include <string.h>

static int legacy_attach_serial(struct legacy_devices *ld, struct vm *vm,
				struct console *con, bool with_input)
{
	struct irq_line irq = {.vm_fd = vm->vm_fd, .gsi = LAYOUT_IRQ_SERIAL};
	int err;

	err = serial_8250_init(&ld->serial, "serial", irq, con->out_fd);
	if (err)
		return err;
	ld->has_serial = true;
	if (with_input) {
		err = console_start_input(con, &ld->serial, &vm->loop);
		if (err)
			return err;
	}
	return serial_8250_register(&ld->serial, &vm->pio, LAYOUT_PORT_COM1);
}

int legacy_devices_attach(struct legacy_devices *ld, struct vm *vm,
			  struct console *con, bool with_input)
{
	int err;

	memset(ld, 0, sizeof(*ld));
	if (con) {
		err = legacy_attach_serial(ld, vm, con, with_input);
		if (err)
			goto fail;
	}

	err = i8042_init(&ld->i8042, vm->power);
	if (err)
		goto fail;
	ld->has_i8042 = true;
	err = i8042_register(&ld->i8042, &vm->pio);
	if (err)
		goto fail;

	err = rtc_cmos_init(&ld->rtc);
	if (err)
		goto fail;
	ld->has_rtc = true;
	err = rtc_cmos_register(&ld->rtc, &vm->pio, LAYOUT_PORT_RTC);
	if (err)
		goto fail;

	err = debug_port_init(&ld->debug, vm->power);
	if (err)
		goto fail;
	ld->has_debug = true;
	err = debug_port_register(&ld->debug, &vm->pio);
	if (err)
		goto fail;
	return 0;

fail:
	log_error("vm: cannot set up the PC devices: %s", strerror(-err));
	return err;
}

void legacy_devices_destroy(struct legacy_devices *ld)
{
	if (ld->has_serial)
		serial_8250_destroy(&ld->serial);
	if (ld->has_i8042)
		i8042_destroy(&ld->i8042);
	if (ld->has_rtc)
		rtc_cmos_destroy(&ld->rtc);
	if (ld->has_debug)
		debug_port_destroy(&ld->debug);
	memset(ld, 0, sizeof(*ld));
}
