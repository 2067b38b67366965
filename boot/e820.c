/* The guest's memory map, shared by boot_params (e820) and PVH (memmap). */
#include "boot/boot_internal.h"
#include "boot/layout.h"

static void e820_add(struct boot_e820_entry *table, unsigned int *n,
		     uint64_t addr, uint64_t size, uint32_t type)
{
	if (size == 0 || *n >= BOOT_E820_MAX)
		return;
	table[*n] = (struct boot_e820_entry){
		.addr = addr, .size = size, .type = type};
	(*n)++;
}

unsigned int boot_e820_build(const struct gmem *gm,
			     struct boot_e820_entry table[BOOT_E820_MAX])
{
	uint64_t low_end = gmem_low_end(gm);
	unsigned int n = 0;

	/* Below 1 MiB: base memory, then the EBDA, video memory and BIOS. */
	e820_add(table, &n, 0, LAYOUT_EBDA_ADDR, BOOT_E820_RAM);
	e820_add(table, &n, LAYOUT_EBDA_ADDR,
		 LAYOUT_HIGH_RAM_START - LAYOUT_EBDA_ADDR, BOOT_E820_RESERVED);

	if (low_end > LAYOUT_HIGH_RAM_START)
		e820_add(table, &n, LAYOUT_HIGH_RAM_START,
			 low_end - LAYOUT_HIGH_RAM_START, BOOT_E820_RAM);

	for (size_t i = 0; i < gm->nr_regions; i++) {
		const struct gmem_region *r = &gm->regions[i];

		if (r->gpa >= GMEM_4GIB)
			e820_add(table, &n, r->gpa, r->size, BOOT_E820_RAM);
	}
	return n;
}
