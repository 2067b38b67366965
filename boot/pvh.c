/*
 * The PVH start of day: hvm_start_info version 1 (Xen public
 * arch-x86/hvm/start_info.h), its module list and memory map.
 */
#include "boot/boot_internal.h"
#include "boot/layout.h"

#include <stddef.h>
#include <string.h>

#define PVH_START_MAGIC   0x336ec578u
#define PVH_START_VERSION 1

struct pvh_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;   /* version 1 */
	uint32_t memmap_entries; /* version 1 */
	uint32_t reserved;
};
_Static_assert(sizeof(struct pvh_start_info) == 56, "hvm_start_info size");
_Static_assert(offsetof(struct pvh_start_info, memmap_paddr) == 40,
	       "memmap_paddr offset");

struct pvh_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};
_Static_assert(sizeof(struct pvh_modlist_entry) == 32, "modlist entry size");

struct pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* e820 types */
	uint32_t reserved;
};
_Static_assert(sizeof(struct pvh_memmap_entry) == 24, "memmap entry size");

/* Everything sits in one page at LAYOUT_START_INFO_ADDR. */
#define PVH_MODLIST_ADDR (LAYOUT_START_INFO_ADDR + 0x40)
#define PVH_MEMMAP_ADDR  (LAYOUT_START_INFO_ADDR + 0x80)
_Static_assert(PVH_MEMMAP_ADDR + BOOT_E820_MAX *
					 sizeof(struct pvh_memmap_entry) <=
		       LAYOUT_START_INFO_ADDR + 0x1000,
	       "PVH structures fit in their page");

int boot_pvh_write(struct gmem *gm, const struct boot_placement *place)
{
	struct boot_e820_entry e820[BOOT_E820_MAX];
	struct pvh_memmap_entry map[BOOT_E820_MAX];
	struct pvh_start_info si;
	unsigned int n;
	int err;

	memset(&si, 0, sizeof(si));
	si.magic = PVH_START_MAGIC;
	si.version = PVH_START_VERSION;
	si.cmdline_paddr = place->cmdline;

	if (place->initrd_size) {
		struct pvh_modlist_entry mod = {.paddr = place->initrd,
						.size = place->initrd_size};

		err = gmem_write(gm, PVH_MODLIST_ADDR, &mod, sizeof(mod));
		if (err)
			return err;
		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST_ADDR;
	}

	n = boot_e820_build(gm, e820);
	memset(map, 0, sizeof(map));
	for (unsigned int i = 0; i < n; i++) {
		map[i].addr = e820[i].addr;
		map[i].size = e820[i].size;
		map[i].type = e820[i].type;
	}
	err = gmem_write(gm, PVH_MEMMAP_ADDR, map, n * sizeof(map[0]));
	if (err)
		return err;
	si.memmap_paddr = PVH_MEMMAP_ADDR;
	si.memmap_entries = n;

	return gmem_write(gm, LAYOUT_START_INFO_ADDR, &si, sizeof(si));
}
