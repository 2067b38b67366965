/*
 * Loading a kernel into guest memory and describing how to enter it.
 *
 * Order: the VM creates guest memory, then calls boot_load(), which reads
 * the kernel (and initrd), writes every boot structure minnow provides
 * (e820 map, command line, boot_params or hvm_start_info, page tables, GDT,
 * MP table) and fills a boot_entry. The vCPU code turns the boot_entry into
 * the BSP's registers; application processors wait for INIT/SIPI.
 */
#ifndef MINNOW_BOOT_H
#define MINNOW_BOOT_H

#include <stdint.h>

#include "vmm/gmem.h"

enum boot_entry_kind {
	/*
	 * PVH: 32-bit protected mode, paging off, flat segments from the
	 * GDT at LAYOUT_GDT_ADDR, EBX = hvm_start_info.
	 */
	BOOT_ENTRY_PVH,
	/*
	 * Linux 64-bit boot protocol: long mode, identity-mapped page tables
	 * at cr3, flat segments (__BOOT_CS 0x10, __BOOT_DS 0x18) from the GDT,
	 * RSI = boot_params.
	 */
	BOOT_ENTRY_LINUX64,
};

struct boot_entry {
	enum boot_entry_kind kind;
	gpa_t rip;
	gpa_t boot_info; /* hvm_start_info (PVH) or boot_params (LINUX64) */
	gpa_t cr3;       /* LINUX64 only */
	gpa_t gdt;       /* base of the GDT */
	uint16_t gdt_limit;
};

/* GDT selectors shared by both entry kinds. */
#define BOOT_GDT_CODE64 0x08 /* unused by PVH */
#define BOOT_GDT_CODE   0x10 /* 64-bit for LINUX64, 32-bit for PVH */
#define BOOT_GDT_DATA   0x18

/* Kinds of kernel file. */
enum boot_format { BOOT_FORMAT_AUTO, BOOT_FORMAT_ELF, BOOT_FORMAT_BZIMAGE };

struct boot_spec {
	const char *kernel_path;
	const char *initrd_path; /* NULL when none */
	const char *cmdline;     /* "" when none */
	unsigned int nr_cpus;    /* for the MP table */
	/*
	 * A flattened device tree, or NULL. The 64-bit entry hands it to
	 * Linux as SETUP_DTB setup_data; a PVH entry has no place for it.
	 */
	const void *dtb;
	size_t dtb_size;
};

/*
 * Loads spec's kernel into gm and writes the boot structures. The format is
 * recognised from the file: an ELF64 vmlinux (PVH note preferred, else its
 * 64-bit entry with boot_params) or a bzImage (its 64-bit entry). Every
 * field read from a file is checked; on a bad file logs one message naming
 * the file and the problem and returns -ENOEXEC (or -errno for I/O).
 */
int boot_load(struct gmem *gm, const struct boot_spec *spec,
	      struct boot_entry *entry);

#endif
