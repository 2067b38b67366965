/*
 * Exception entry stubs for vectors 0-31, each 16 bytes long so trap.c can
 * compute its address. Every stub leaves the same frame (vector, error
 * code, then the CPU's frame) and calls trap_report(), which never
 * returns.
 */
	.text
	.code64
	.p2align 4
	.globl trap_stubs
trap_stubs:
	.set vec, 0
	.rept 32
	.p2align 4
	/* The CPU pushes an error code for 8, 10-14, 17, 21, 29 and 30. */
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp trap_common
	.set vec, vec + 1
	.endr

trap_common:
	mov %rsp, %rdi
	and $-16, %rsp
	call trap_report
1:	cli
	hlt
	jmp 1b
