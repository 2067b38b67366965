/*
 * Pulses the reset line through the i8042 controller, as Linux's
 * "reboot=k" does. The VMM should end the VM; getting past that is a
 * failure.
 */
#include "lib/guest.h"
#include "lib/x86.h"

#define I8042_CMD_PULSE_RESET 0xfe
#define RESET_GRACE_US        1000000

int main(void)
{
	printf("reset: pulsing the i8042 reset line\n");
	outb(GUEST_PORT_I8042_CMD, I8042_CMD_PULSE_RESET);
	delay_us(RESET_GRACE_US);
	printf("reset: still running after the reset pulse\n");
	return GUEST_EXIT_FAIL;
}
