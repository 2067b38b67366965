/*
 * The boot loader's internal steps, split so that each can be tested (and
 * fuzzed) on its own. Only boot/ and its tests include this header.
 *
 * boot_load() runs them in this order: a format loader (ELF or bzImage)
 * fills a boot_kernel; the command line and initrd are placed around it;
 * then boot_params or hvm_start_info, the GDT, page tables and MP table are
 * written. Every writer works on guest memory through gmem_ptr() only.
 */
#ifndef MINNOW_BOOT_INTERNAL_H
#define MINNOW_BOOT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "boot/linux_params.h"
#include "vmm/gmem.h"

/* What a format loader learnt about the kernel it put into guest memory. */
struct boot_kernel {
	enum boot_entry_kind kind;
	gpa_t entry;         /* guest-physical entry point */
	gpa_t start;         /* [start, end): memory the kernel may use */
	gpa_t end;           /*   while it starts, bss and init_size included */
	uint64_t initrd_end; /* the initrd must end at or below this */
	uint64_t cmdline_max; /* longest command line, NUL excluded */
	bool has_setup_header;
	struct boot_setup_header hdr; /* bzImage: as read from the file */
};

/*
 * Reads exactly len bytes at offset off of fd. Returns 0, -ENODATA when the
 * file ends first, or a negative errno from pread.
 */
int boot_read_full(int fd, void *buf, size_t len, uint64_t off);

/*
 * Format loaders. fd is open for reading, file_size is its size and name
 * is what messages call it. Each checks every field it uses, copies the
 * kernel into gm and fills *k. Return 0, -ENOEXEC for a bad file (after
 * logging one line) or a negative errno for an I/O error.
 */
int boot_elf_load(struct gmem *gm, int fd, uint64_t file_size, const char *name,
		  struct boot_kernel *k);
int boot_bzimage_load(struct gmem *gm, int fd, uint64_t file_size,
		      const char *name, struct boot_kernel *k);

/*
 * The guest's memory map: RAM below the EBDA, the EBDA and BIOS area
 * reserved up to 1 MiB, RAM from 1 MiB to the MMIO hole and RAM above
 * 4 GiB when gm has it. Returns the number of entries written to table
 * (at most BOOT_E820_MAX).
 */
#define BOOT_E820_MAX 4
unsigned int boot_e820_build(const struct gmem *gm,
			     struct boot_e820_entry table[BOOT_E820_MAX]);

/* Where the command line and initrd went; size 0 means no initrd. */
struct boot_placement {
	gpa_t cmdline;
	uint64_t cmdline_len; /* NUL excluded */
	gpa_t initrd;
	uint64_t initrd_size;
	gpa_t setup_data; /* first struct setup_data, or 0 */
};

/* Linux boot protocol 2.09+: the setup_data list; type 2 is a DTB. */
struct boot_setup_data {
	uint64_t next;
	uint32_t type;
	uint32_t len;
};
_Static_assert(sizeof(struct boot_setup_data) == 16, "setup_data size");
#define BOOT_SETUP_DTB 2

/*
 * Copies dtb into guest memory as the only SETUP_DTB setup_data entry and
 * records it in place. Returns 0 or -E2BIG when it does not fit.
 */
int boot_setup_data_write(struct gmem *gm, const void *dtb, size_t size,
			  struct boot_placement *place);

/*
 * Writes the zero page at LAYOUT_BOOT_PARAMS_ADDR for a LINUX64 entry:
 * the kernel's setup header when it has one, loader fields, e820 map.
 */
int boot_linux_params_write(struct gmem *gm, const struct boot_kernel *k,
			    const struct boot_placement *place);

/*
 * Writes hvm_start_info (version 1) at LAYOUT_START_INFO_ADDR, followed by
 * the initrd's module entry and the memory map.
 */
int boot_pvh_write(struct gmem *gm, const struct boot_placement *place);

/* Writes the GDT for kind and sets entry->gdt and entry->gdt_limit. */
int boot_gdt_write(struct gmem *gm, enum boot_entry_kind kind,
		   struct boot_entry *entry);

/* Identity-maps the first 4 GiB with 2 MiB pages; sets entry->cr3. */
int boot_pagetables_write(struct gmem *gm, struct boot_entry *entry);

/*
 * Intel MP 1.4 tables: the floating pointer in the first KiB of the EBDA
 * (LAYOUT_EBDA_ADDR), where Linux looks first, and the configuration table
 * in the BIOS area (LAYOUT_MPTABLE_ADDR). boot_mptable_size() is the
 * configuration table's size for nr_cpus. The write returns -EINVAL when
 * nr_cpus is 0 or more than BOOT_MPTABLE_MAX_CPUS: APIC IDs are 8 bits and
 * the IOAPIC takes the ID after the last CPU's.
 */
size_t boot_mptable_size(unsigned int nr_cpus);
int boot_mptable_write(struct gmem *gm, unsigned int nr_cpus);
#define BOOT_MPTABLE_MAX_CPUS 254

#endif
