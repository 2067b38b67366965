/* Where the trampoline lands: switch to guest_gdt, then into C. */
#include "asm.h"

	.text
	.code64
	.globl ap_start64
ap_start64:
	call gdt_reload
	call ap_start
1:	cli
	hlt
	jmp 1b
