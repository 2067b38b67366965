/*
 * The boot GDT and the identity page tables a 64-bit entry runs on
 * (Intel SDM vol. 3, 3.4.5 segment descriptors and 4.5 4-level paging).
 */
#include "boot/boot_internal.h"
#include "boot/layout.h"

#include <string.h>

#define GDT_ENTRIES 4

/* Flat 4 GiB descriptors, present, DPL 0, accessed. */
#define GDT_CODE64 0x00af9b000000ffffull /* L=1, execute/read */
#define GDT_CODE32 0x00cf9b000000ffffull /* D=1, execute/read */
#define GDT_DATA   0x00cf93000000ffffull /* B=1, read/write */

#define PTE_PRESENT 0x001ull
#define PTE_WRITE   0x002ull
#define PTE_HUGE    0x080ull /* PS: a 2 MiB page in a PD entry */
#define PT_ENTRIES  512
#define PD_COUNT    4 /* one PD per GiB */
#define PAGE_2MIB   0x200000ull
#define PAGE_1GIB   0x40000000ull

_Static_assert(LAYOUT_GDT_ADDR + GDT_ENTRIES * 8 <= LAYOUT_START_INFO_ADDR,
	       "GDT fits below hvm_start_info");
_Static_assert(LAYOUT_PD_ADDR + PD_COUNT * 0x1000 <= LAYOUT_CMDLINE_ADDR,
	       "page tables fit below the command line");

int boot_gdt_write(struct gmem *gm, enum boot_entry_kind kind,
		   struct boot_entry *entry)
{
	uint64_t gdt[GDT_ENTRIES] = {
		[BOOT_GDT_CODE64 / 8] = GDT_CODE64,
		[BOOT_GDT_CODE / 8] = kind == BOOT_ENTRY_PVH ? GDT_CODE32
							     : GDT_CODE64,
		[BOOT_GDT_DATA / 8] = GDT_DATA,
	};
	int err;

	err = gmem_write(gm, LAYOUT_GDT_ADDR, gdt, sizeof(gdt));
	if (err)
		return err;
	entry->gdt = LAYOUT_GDT_ADDR;
	entry->gdt_limit = sizeof(gdt) - 1;
	return 0;
}

int boot_pagetables_write(struct gmem *gm, struct boot_entry *entry)
{
	uint64_t table[PT_ENTRIES];
	int err;

	memset(table, 0, sizeof(table));
	table[0] = LAYOUT_PDPT_ADDR | PTE_PRESENT | PTE_WRITE;
	err = gmem_write(gm, LAYOUT_PML4_ADDR, table, sizeof(table));
	if (err)
		return err;

	memset(table, 0, sizeof(table));
	for (unsigned int i = 0; i < PD_COUNT; i++)
		table[i] = (LAYOUT_PD_ADDR + i * sizeof(table)) | PTE_PRESENT |
			   PTE_WRITE;
	err = gmem_write(gm, LAYOUT_PDPT_ADDR, table, sizeof(table));
	if (err)
		return err;

	for (unsigned int i = 0; i < PD_COUNT; i++) {
		for (unsigned int j = 0; j < PT_ENTRIES; j++)
			table[j] = (i * PAGE_1GIB + j * PAGE_2MIB) |
				   PTE_PRESENT | PTE_WRITE | PTE_HUGE;
		err = gmem_write(gm, LAYOUT_PD_ADDR + i * sizeof(table), table,
				 sizeof(table));
		if (err)
			return err;
	}

	entry->cr3 = LAYOUT_PML4_ADDR;
	return 0;
}
