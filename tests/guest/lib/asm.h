/* Constants shared by the runtime's assembly files. */
#ifndef GUEST_ASM_H
#define GUEST_ASM_H

#define GDT_CODE64      0x08
#define GDT_CODE32      0x10
#define GDT_DATA        0x18
#define GDT_USER_DATA   0x20 /* DPL 3; selectors take RPL 3 */
#define GDT_USER_CODE64 0x28
#define GDT_TSS         0x30 /* 16 bytes, filled in by trap.c */

/* Every mapping is user-accessible: see user.S for why. */
#define PTE_P_RW    0x007
#define PTE_PCD_PWT 0x018
#define PTE_PS      0x080

#define CR0_PE   0x00000001
#define CR0_PG   0x80000000
#define CR4_PAE  0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

#define BOOT_STACK_SIZE 0x4000
#define USER_STACK_SIZE 0x4000
#define RFLAGS_IOPL3    0x3002 /* IOPL 3, IF clear, bit 1 set */

#define PORT_MARKER     0x510
#define PORT_DEBUG_EXIT 0x501

/* Boot protocol kinds passed to guest_start(). */
#define BOOT_KIND_PVH     0
#define BOOT_KIND_LINUX64 1

/* Where smp.c copies ap_tramp.S; the SIPI vector is its page number. */
#define AP_TRAMP_ADDR 0x8000

#endif
