/*
 * Copies what the VMM passed at entry (PVH hvm_start_info, or a Linux
 * boot_params on the bzImage path) into boot_info, so later code does not
 * depend on where those structures live.
 */
#include "asm.h"
#include "guest.h"

/* Xen public/arch-x86/hvm/start_info.h, version 1. */
#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;   /* version >= 1 */
	uint32_t memmap_entries; /* version >= 1 */
	uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info");

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_memmap_entry) == 24, "hvm memmap entry");

/* Linux boot protocol: offsets into struct boot_params (the zero page). */
#define BP_ACPI_RSDP_ADDR   0x070
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES     0x1e8
#define BP_CMD_LINE_PTR     0x228
#define BP_E820_TABLE       0x2d0
#define BP_E820_MAX         128

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct e820_entry) == 20, "e820 entry");

struct guest_boot_info boot_info;

/* Hides the integer origin of a pointer from the optimiser. */
static const void *phys(uint64_t addr)
{
	__asm__("" : "+r"(addr));
	return (const void *)addr;
}

static void copy_cmdline(uint64_t addr)
{
	const char *s = phys(addr);
	unsigned int i;

	if (!addr)
		return;
	for (i = 0; i < GUEST_CMDLINE_MAX - 1 && s[i]; i++)
		boot_info.cmdline[i] = s[i];
	boot_info.cmdline[i] = '\0';
}

static void add_range(uint64_t addr, uint64_t size, uint32_t type)
{
	struct guest_mem_range *r;

	if (boot_info.nr_ranges == GUEST_MAX_MEMMAP) {
		printf("boot: memory map has over %u ranges, ignoring the "
		       "rest\n",
		       GUEST_MAX_MEMMAP);
		return;
	}
	r = &boot_info.ranges[boot_info.nr_ranges++];
	r->addr = addr;
	r->size = size;
	r->type = type;
}

static int parse_pvh(uint64_t addr)
{
	const struct hvm_start_info *si = phys(addr);
	const struct hvm_memmap_entry *mm;
	uint32_t i;

	if (si->magic != HVM_START_MAGIC) {
		printf("boot: hvm_start_info at %lx has magic %x\n", addr,
		       si->magic);
		return -1;
	}
	boot_info.protocol = "pvh";
	copy_cmdline(si->cmdline_paddr);
	boot_info.rsdp_addr = si->rsdp_paddr;
	if (si->version < 1)
		return 0;

	mm = phys(si->memmap_paddr);
	for (i = 0; i < si->memmap_entries; i++)
		add_range(mm[i].addr, mm[i].size, mm[i].type);
	return 0;
}

static int parse_linux64(uint64_t addr)
{
	const uint8_t *bp = phys(addr);
	const struct e820_entry *e820 = (const void *)(bp + BP_E820_TABLE);
	uint64_t cmdline;
	unsigned int i, n;

	boot_info.protocol = "linux64";
	cmdline = *(const uint32_t *)(bp + BP_CMD_LINE_PTR) |
		  (uint64_t) * (const uint32_t *)(bp + BP_EXT_CMD_LINE_PTR)
			  << 32;
	copy_cmdline(cmdline);
	boot_info.rsdp_addr = *(const uint64_t *)(bp + BP_ACPI_RSDP_ADDR);

	n = bp[BP_E820_ENTRIES];
	if (n > BP_E820_MAX)
		n = BP_E820_MAX;
	for (i = 0; i < n; i++)
		add_range(e820[i].addr, e820[i].size, e820[i].type);
	return 0;
}

int boot_info_parse(unsigned int kind, uint64_t info_addr)
{
	if (!info_addr)
		return -1;
	if (kind == BOOT_KIND_PVH)
		return parse_pvh(info_addr);
	return parse_linux64(info_addr);
}

int cmdline_has(const char *word)
{
	const char *p = boot_info.cmdline;
	size_t n = strlen(word);

	while (*p) {
		while (*p == ' ')
			p++;
		if (!memcmp(p, word, n) && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		while (*p && *p != ' ')
			p++;
	}
	return 0;
}
