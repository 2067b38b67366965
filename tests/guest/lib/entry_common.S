/*
 * Long-mode state shared by both entry stubs: the boot GDT, identity page
 * tables for the first 4 GiB (built by the assembler, so the emulated
 * 32-bit PVH path does as little as possible), and guest_start64, which
 * zeroes bss, sets the boot stack and calls guest_start(kind, info).
 */
#include "asm.h"

	.section .data.pagetables, "aw"
	.p2align 12
	.globl guest_pml4
guest_pml4:
	.quad guest_pdpt + PTE_P_RW
	.fill 511, 8, 0

	.globl guest_pdpt
guest_pdpt:
	.quad guest_pd + 0x0000 + PTE_P_RW
	.quad guest_pd + 0x1000 + PTE_P_RW
	.quad guest_pd + 0x2000 + PTE_P_RW
	.quad guest_pd + 0x3000 + PTE_P_RW
	.fill 508, 8, 0

/* 2048 2 MiB pages; the top 32 MiB (IOAPIC, LAPIC) uncached. */
guest_pd:
	.set page, 0
	.rept 2048
	.if page >= 0xfe000000
	.quad page + PTE_P_RW + PTE_PS + PTE_PCD_PWT
	.else
	.quad page + PTE_P_RW + PTE_PS
	.endif
	.set page, page + 0x200000
	.endr

	.section .data, "aw"
	.p2align 3
	.globl guest_gdt
guest_gdt:
	.quad 0                  /* null */
	.quad 0x00af9a000000ffff /* GDT_CODE64 */
	.quad 0x00cf9a000000ffff /* GDT_CODE32 */
	.quad 0x00cf92000000ffff /* GDT_DATA */
	.quad 0x00cff2000000ffff /* GDT_USER_DATA */
	.quad 0x00affa000000ffff /* GDT_USER_CODE64 */
	.globl guest_gdt_tss
guest_gdt_tss:
	.quad 0, 0               /* GDT_TSS */
guest_gdt_end:

	.globl guest_gdt_ptr
guest_gdt_ptr:
	.word guest_gdt_end - guest_gdt - 1
	.quad guest_gdt

	/* Not zeroed at start-up: zeroing is emulated on kvm_pvm, so slow. */
	.section .noinit, "aw", @nobits
	.p2align 12
boot_stack:
	.skip BOOT_STACK_SIZE
boot_stack_top:

	.text
	.code64
/*
 * In: long mode, CS = GDT_CODE64 from guest_gdt, edi = boot protocol
 * kind, rsi = its info structure. Does not return.
 */
	.globl guest_start64, boot_stack_top
guest_start64:
	mov $GDT_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov %edi, %r12d
	mov %rsi, %r13

	cld
	mov $__bss_start, %rdi
	mov $__bss_end, %rcx
	sub %rdi, %rcx
	xor %eax, %eax
	rep stosb

	mov $boot_stack_top, %rsp
	mov %r12d, %edi
	mov %r13, %rsi
	call guest_start
1:	cli
	hlt
	jmp 1b

/*
 * Reloads guest_gdt and the segment registers on the current CPU; for
 * CPUs arriving with someone else's GDT. Needs a valid stack.
 */
	.globl gdt_reload
gdt_reload:
	lgdt guest_gdt_ptr
	mov $GDT_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	pop %rax
	pushq $GDT_CODE64
	push %rax
	lretq
