/*
 * Where minnow puts things in guest-physical memory and in the MMIO hole.
 * Everything below 1 MiB that minnow writes sits below 0x9fc00, outside the
 * legacy video and BIOS areas that the e820 map reserves.
 */
#ifndef MINNOW_LAYOUT_H
#define MINNOW_LAYOUT_H

#define LAYOUT_GDT_ADDR         0x00000500ull /* boot GDT, 4 entries */
#define LAYOUT_START_INFO_ADDR  0x00006000ull /* PVH hvm_start_info + memmap */
#define LAYOUT_BOOT_PARAMS_ADDR 0x00007000ull /* Linux zero page */
#define LAYOUT_PML4_ADDR        0x00009000ull /* identity page tables: */
#define LAYOUT_PDPT_ADDR        0x0000a000ull /*   PML4, PDPT and four */
#define LAYOUT_PD_ADDR          0x0000b000ull /*   PDs mapping 4 GiB */
#define LAYOUT_CMDLINE_ADDR     0x00020000ull
#define LAYOUT_CMDLINE_MAX      0x00010000ull /* 64 KiB with the NUL */
#define LAYOUT_SETUP_DATA_ADDR  0x00030000ull /* setup_data: the DTB */
#define LAYOUT_SETUP_DATA_MAX   0x00020000ull
#define LAYOUT_EBDA_ADDR        0x0009fc00ull /* MP floating pointer */
#define LAYOUT_LOW_RAM_END      0x000a0000ull /* then VGA and BIOS */
#define LAYOUT_MPTABLE_ADDR     0x000f0000ull /* MP configuration table, */
#define LAYOUT_MPTABLE_END      0x00100000ull /*   in the BIOS area */
#define LAYOUT_HIGH_RAM_START   0x00100000ull
#define LAYOUT_KERNEL_ADDR      0x01000000ull /* bzImage load address */

/* The MMIO hole (see vmm/gmem.h). */
#define LAYOUT_VIRTIO_MMIO_BASE 0xd0000000ull /* 4 KiB per device */
#define LAYOUT_VIRTIO_MMIO_SIZE 0x1000ull
#define LAYOUT_VIRTIO_MMIO_MAX  32
#define LAYOUT_IOAPIC_ADDR      0xfec00000ull
#define LAYOUT_LAPIC_ADDR       0xfee00000ull

/* Interrupt lines (IOAPIC pins). Virtio devices take pins from 5 up. */
#define LAYOUT_IRQ_SERIAL       4
#define LAYOUT_IRQ_VIRTIO_FIRST 5
#define LAYOUT_IRQ_VIRTIO_LAST  23

/* Legacy ports. */
#define LAYOUT_PORT_I8042      0x60 /* 0x60 and 0x64 */
#define LAYOUT_PORT_RTC        0x70 /* 0x70 and 0x71 */
#define LAYOUT_PORT_COM1       0x3f8
#define LAYOUT_PORT_DEBUG_EXIT 0x501 /* like QEMU's isa-debug-exit */
#define LAYOUT_PORT_DEBUG_MARK 0x510 /* progress markers, see README */

#endif
