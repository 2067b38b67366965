/* The C side of start-up, the exit path and progress markers. */
#include "guest.h"
#include "trap.h"
#include "x86.h"

void guest_start(unsigned int kind, uint64_t info_addr);

void guest_marker(uint8_t code)
{
	outb(GUEST_PORT_MARKER, code);
}

void guest_exit(uint32_t code)
{
	guest_marker(GUEST_MARK_EXIT);
	outl(GUEST_PORT_DEBUG_EXIT, code);

	/* A VMM without the exit port leaves us here; the runner times out. */
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* Called once, by guest_start64 on the boot stack with bss zeroed. */
void guest_start(unsigned int kind, uint64_t info_addr)
{
	serial_init();
	trap_init();

	if (boot_info_parse(kind, info_addr) < 0) {
		printf("guest: no usable boot information\n");
		guest_exit(GUEST_EXIT_FAIL);
	}

	guest_marker(GUEST_MARK_MAIN);
	guest_exit((uint32_t)main());
}
