/* The smallest guest: one line on the serial port, then a clean exit. */
#include "lib/guest.h"

int main(void)
{
	printf("hello from minnow guest (%s boot, cmdline \"%s\")\n",
	       boot_info.protocol, boot_info.cmdline);
	return GUEST_EXIT_PASS;
}
