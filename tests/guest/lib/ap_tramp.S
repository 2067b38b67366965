/*
 * Application-processor start-up code. smp.c copies the bytes between
 * ap_tramp_start and ap_tramp_end to AP_TRAMP_ADDR and fills the three
 * slots at its end; a SIPI with vector AP_TRAMP_ADDR >> 12 then runs it in
 * real mode at CS:IP = 0x800:0. It goes to protected mode, then long mode
 * with the BSP's page tables, takes its stack and jumps to the entry.
 */
#include "asm.h"

#define TRAMP(sym) (AP_TRAMP_ADDR + (sym) - ap_tramp_start)

	.section .rodata.ap_tramp, "a"
	.code16
	.globl ap_tramp_start
ap_tramp_start:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	lgdtl tramp_gdt_ptr - ap_tramp_start
	mov %cr0, %eax
	or $CR0_PE, %eax
	mov %eax, %cr0
	ljmpl $GDT_CODE32, $TRAMP(tramp32)

	.code32
tramp32:
	mov $GDT_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov TRAMP(ap_tramp_cr3), %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $CR0_PG, %eax
	mov %eax, %cr0
	ljmp $GDT_CODE64, $TRAMP(tramp64)

	.code64
tramp64:
	mov TRAMP(ap_tramp_stack), %rsp
	mov TRAMP(ap_tramp_entry), %rax
	jmp *%rax

	.p2align 3
tramp_gdt:
	.quad 0
	.quad 0x00af9a000000ffff /* GDT_CODE64 */
	.quad 0x00cf9a000000ffff /* GDT_CODE32 */
	.quad 0x00cf92000000ffff /* GDT_DATA */
tramp_gdt_ptr:
	.word tramp_gdt_ptr - tramp_gdt - 1
	.long TRAMP(tramp_gdt)

	/* Filled in by smp.c in the copy. */
	.p2align 3
	.globl ap_tramp_cr3, ap_tramp_stack, ap_tramp_entry
ap_tramp_cr3:
	.quad 0
ap_tramp_stack:
	.quad 0
ap_tramp_entry:
	.quad 0
	.globl ap_tramp_end
ap_tramp_end:
