/*
 * Entry of the protected-mode part of a bzImage (Linux boot protocol
 * 2.15, "64-bit boot protocol"): the 64-bit entry sits 0x200 bytes into the
 * loaded image and is called in long mode with the loaded range identity
 * mapped and rsi = boot_params.
 *
 * The code is linked at LAYOUT_KERNEL_ADDR (16 MiB). When a loader put it
 * elsewhere (the header says relocatable_kernel), it first copies itself
 * to its link address, which is therefore assumed to be free RAM.
 */
#include "asm.h"

	.section .text.entry, "ax"
	.code32
	.globl bz_entry32
bz_entry32:
	/* The 32-bit entry is not supported: report failure. */
	mov $PORT_DEBUG_EXIT, %dx
	mov $1, %eax
	outl %eax, %dx
1:	hlt
	jmp 1b

	.org 0x200
	.code64
	.globl bz_entry64
bz_entry64:
	cli
	cld
	mov $PORT_MARKER, %dx
	mov $1, %al
	outb %al, %dx
	mov %rsi, %r13

	/* Loaded at its link address? If not, move there. */
	lea bz_entry64(%rip), %rsi
	sub $0x200, %rsi
	mov $__image_start, %rdi
	cmp %rdi, %rsi
	je 3f
	mov $__load_end, %rcx
	sub %rdi, %rcx
	cmp %rsi, %rdi
	jb 2f
	/* Moving up: copy backwards in case the ranges overlap. */
	lea -1(%rsi, %rcx), %rsi
	lea -1(%rdi, %rcx), %rdi
	std
2:	rep movsb
	cld
	mov $3f, %rax
	jmp *%rax

3:	mov $guest_pml4, %rax
	mov %rax, %cr3
	mov $boot_stack_top_bz, %rsp
	call gdt_reload
	mov $BOOT_KIND_LINUX64, %edi
	mov %r13, %rsi
	jmp guest_start64

	/* A few words of stack for gdt_reload, before bss is zeroed. */
	.section .bss, "aw", @nobits
	.p2align 4
	.skip 64
boot_stack_top_bz:
