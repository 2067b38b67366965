/* Extends the boot identity map above 4 GiB, for programs that need it. */
#include "guest.h"
#include "x86.h"

#define GIB       (1ull << 30)
#define PDE_2M_RW 0x087 /* present, writable, user, 2 MiB page */
#define PDPTE_RW  0x007

extern uint64_t guest_pdpt[512];

static uint64_t pd_pool[GUEST_MAP_MAX_GIB - 4][512]
	__attribute__((aligned(4096), section(".noinit")));

int paging_map_identity(uint64_t end)
{
	uint64_t gib, last = (end + GIB - 1) / GIB;
	unsigned int i;

	if (last > GUEST_MAP_MAX_GIB)
		return -1;

	for (gib = 4; gib < last; gib++) {
		uint64_t *pd = pd_pool[gib - 4];

		if (guest_pdpt[gib])
			continue;
		for (i = 0; i < 512; i++)
			pd[i] = gib * GIB + ((uint64_t)i << 21) + PDE_2M_RW;
		guest_pdpt[gib] = (uint64_t)pd + PDPTE_RW;
	}
	write_cr3(read_cr3());
	return 0;
}
