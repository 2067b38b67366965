/*
 * CPU discovery: the Intel MultiProcessor Specification 1.4 table first
 * (what minnow provides), then the ACPI MADT (what QEMU provides).
 */
#include <stdbool.h>

#include "guest.h"

#define BDA_EBDA_SEGMENT  0x40e
#define BASE_MEM_LAST_KIB 0x9fc00
#define BIOS_ROM_START    0xe0000
#define BIOS_ROM_END      0x100000

/* MP spec 1.4, 4.1: the floating pointer structure. */
struct mp_floating {
	char signature[4]; /* "_MP_" */
	uint32_t config_addr;
	uint8_t length; /* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t features[5];
};
_Static_assert(sizeof(struct mp_floating) == 16, "MP floating pointer");

/* MP spec 1.4, 4.2: the configuration table header. */
struct mp_config {
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec_rev;
	uint8_t checksum;
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table_addr;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
};
_Static_assert(sizeof(struct mp_config) == 44, "MP config header");

/* MP spec 1.4, 4.3: entry types and lengths. */
#define MP_ENTRY_PROCESSOR 0
#define MP_PROCESSOR_LEN   20
#define MP_OTHER_LEN       8
#define MP_CPU_ENABLED     0x01

/* ACPI 6.5, 5.2.5.3 and 5.2.6: RSDP and the common table header. */
struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_addr;
	uint32_t length;
	uint64_t xsdt_addr;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "ACPI header");

/* ACPI 6.5, 5.2.12: MADT entries after a 44-byte table start. */
#define MADT_ENTRIES_OFFSET       44
#define MADT_LAPIC                0
#define MADT_X2APIC               9
#define MADT_LAPIC_ENABLED        0x01
#define MADT_LAPIC_ONLINE_CAPABLE 0x02

static const void *phys(uint64_t addr)
{
	__asm__("" : "+r"(addr));
	return (const void *)addr;
}

static uint8_t sum_bytes(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return sum;
}

/* Finds a checksummed structure with signature sig on a 16-byte boundary. */
static uint64_t scan(uint64_t start, uint64_t end, const char *sig,
		     size_t sig_len, size_t sum_len)
{
	uint64_t a;

	for (a = start & ~0xfull; a + sum_len <= end; a += 16)
		if (!memcmp(phys(a), sig, sig_len) &&
		    !sum_bytes(phys(a), sum_len))
			return a;
	return 0;
}

/* The legacy places to look: EBDA, last KiB of base memory, BIOS ROM. */
static uint64_t scan_legacy(const char *sig, size_t sig_len, size_t sum_len)
{
	uint64_t ebda = (uint64_t) * (const uint16_t *)phys(BDA_EBDA_SEGMENT)
			<< 4;
	uint64_t a = 0;

	if (ebda >= 0x80000 && ebda < 0xa0000)
		a = scan(ebda, ebda + 1024, sig, sig_len, sum_len);
	if (!a)
		a = scan(BASE_MEM_LAST_KIB, BASE_MEM_LAST_KIB + 1024, sig,
			 sig_len, sum_len);
	if (!a)
		a = scan(BIOS_ROM_START, BIOS_ROM_END, sig, sig_len, sum_len);
	return a;
}

unsigned int cpus_discover_mptable(uint32_t *ids, unsigned int max)
{
	const struct mp_floating *fp;
	const struct mp_config *cfg;
	const uint8_t *e, *end;
	unsigned int n = 0;
	uint64_t a;

	a = scan_legacy("_MP_", 4, sizeof(*fp));
	if (!a)
		return 0;
	fp = phys(a);
	if (!fp->config_addr)
		return 0; /* a default configuration: not used by our VMMs */
	cfg = phys(fp->config_addr);
	if (memcmp(cfg->signature, "PCMP", 4) || sum_bytes(cfg, cfg->length)) {
		printf("cpus: bad MP configuration table at %x\n",
		       fp->config_addr);
		return 0;
	}

	e = (const uint8_t *)(cfg + 1);
	end = (const uint8_t *)cfg + cfg->length;
	while (e < end) {
		if (e[0] != MP_ENTRY_PROCESSOR) {
			e += MP_OTHER_LEN;
			continue;
		}
		if ((e[3] & MP_CPU_ENABLED) && n < max)
			ids[n++] = e[1];
		e += MP_PROCESSOR_LEN;
	}
	return n;
}

static const struct acpi_header *acpi_table(uint64_t addr, const char *sig)
{
	const struct acpi_header *h = phys(addr);

	if (!addr || memcmp(h->signature, sig, 4) || sum_bytes(h, h->length))
		return NULL;
	return h;
}

static const struct acpi_header *acpi_find_madt(void)
{
	const struct acpi_rsdp *rsdp;
	const struct acpi_header *sdt;
	uint64_t a = boot_info.rsdp_addr;
	unsigned int i, n, width;

	if (!a)
		a = scan_legacy("RSD PTR ", 8, 20);
	if (!a)
		return NULL;
	rsdp = phys(a);

	/* Prefer the XSDT (64-bit entries) when the RSDP has one. */
	sdt = rsdp->revision >= 2 ? acpi_table(rsdp->xsdt_addr, "XSDT") : NULL;
	width = 8;
	if (!sdt) {
		sdt = acpi_table(rsdp->rsdt_addr, "RSDT");
		width = 4;
	}
	if (!sdt)
		return NULL;

	n = (sdt->length - sizeof(*sdt)) / width;
	for (i = 0; i < n; i++) {
		const uint8_t *p = (const uint8_t *)(sdt + 1) + i * width;
		uint64_t t = width == 8 ? *(const uint64_t *)p
					: *(const uint32_t *)p;
		const struct acpi_header *h = acpi_table(t, "APIC");

		if (h)
			return h;
	}
	return NULL;
}

unsigned int cpus_discover_madt(uint32_t *ids, unsigned int max)
{
	const struct acpi_header *madt = acpi_find_madt();
	const uint8_t *e, *end;
	unsigned int n = 0;

	if (!madt)
		return 0;
	e = (const uint8_t *)madt + MADT_ENTRIES_OFFSET;
	end = (const uint8_t *)madt + madt->length;
	while (e + 2 <= end && e[1] >= 2) {
		bool on;

		if (e[0] == MADT_LAPIC) {
			on = *(const uint32_t *)(e + 4) & MADT_LAPIC_ENABLED;
			if (on && n < max)
				ids[n++] = e[3];
		} else if (e[0] == MADT_X2APIC) {
			on = *(const uint32_t *)(e + 8) & MADT_LAPIC_ENABLED;
			if (on && n < max)
				ids[n++] = *(const uint32_t *)(e + 4);
		}
		e += e[1];
	}
	return n;
}

unsigned int cpus_discover(uint32_t *apic_ids, unsigned int max,
			   const char **source)
{
	unsigned int n;

	n = cpus_discover_mptable(apic_ids, max);
	if (n) {
		*source = "MP table";
		return n;
	}
	n = cpus_discover_madt(apic_ids, max);
	*source = n ? "ACPI MADT" : "none";
	return n;
}
