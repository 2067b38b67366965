/*
 * PVH entry (Xen PVH boot ABI, as QEMU and minnow implement it): 32-bit
 * protected mode, paging off, flat segments, ebx = struct hvm_start_info.
 * Everything here runs emulated on kvm_pvm hosts, so it only switches to
 * long mode with the prebuilt tables and jumps to 64-bit code.
 */
#include "asm.h"

/* The ELF note that tells a PVH loader where to enter. */
	.section .note.Xen, "a", @note
	.p2align 2
	.long 4                 /* name size, "Xen" with its NUL */
	.long 4                 /* descriptor size */
	.long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_entry32

	.section .text.entry, "ax"
	.code32
	.globl pvh_entry32
pvh_entry32:
	cli
	mov $PORT_MARKER, %dx
	mov $1, %al
	outb %al, %dx
	mov %ebx, %esi

	mov $guest_pml4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $(CR0_PG | CR0_PE), %eax
	mov %eax, %cr0

	lgdt guest_gdt_ptr
	ljmp $GDT_CODE64, $pvh_entry64

	.code64
pvh_entry64:
	mov $BOOT_KIND_PVH, %edi
	mov %esi, %esi
	jmp guest_start64
