/*
 * user_call(fn, arg): runs fn(arg) at CPL 3 with IOPL 3 and returns to
 * the caller at CPL 0 when fn returns. On kvm_pvm hosts guest code at
 * CPL 0 is emulated instruction by instruction while CPL 3 code runs
 * natively, so loops that touch a lot of memory go through here. The
 * way back is the ud2 at user_exit_point: kvm_pvm answers INT n from CPL 3
 * with #UD, so a deliberate #UD is the one gate that works everywhere.
 * trap.c recognises it and calls user_return on the TSS's stack.
 */
#include "asm.h"

	.section .noinit, "aw", @nobits
	.p2align 12
user_stack:
	.skip USER_STACK_SIZE
user_stack_top:

	.section .bss, "aw", @nobits
	.p2align 3
user_saved_rsp:
	.skip 8

	.text
	.code64
	.globl user_call
user_call:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, user_saved_rsp
	mov %rdi, %r12
	mov %rsi, %r13
	mov %rsp, %rdi
	call tss_set_rsp0
	mov %r12, %rdi
	mov %r13, %rsi

	pushq $(GDT_USER_DATA | 3)
	pushq $user_stack_top
	pushq $RFLAGS_IOPL3
	pushq $(GDT_USER_CODE64 | 3)
	pushq $user_entry
	iretq

user_entry:
	mov %rdi, %rax
	mov %rsi, %rdi
	call *%rax
	.globl user_exit_point
user_exit_point:
	ud2

	.globl user_return
user_return:
	mov user_saved_rsp, %rsp
	mov $GDT_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
