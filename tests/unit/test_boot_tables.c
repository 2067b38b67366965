/* The boot structures on their own: e820, MP table, page tables, GDT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"
#include "boot/boot_internal.h"
#include "boot/layout.h"
#include "vmm/gmem.h"

#define MIB (1024ull * 1024)
#define GIB (1024 * MIB)

static uint64_t rd(const struct gmem *gm, gpa_t gpa, unsigned int size)
{
	uint64_t v = 0;

	assert_int_equal(gmem_read(gm, &v, gpa, size), 0);
	return v;
}

static uint8_t sum(const struct gmem *gm, gpa_t gpa, uint64_t len)
{
	const uint8_t *p = gmem_ptr(gm, gpa, len);
	uint8_t s = 0;

	assert_non_null(p);
	while (len--)
		s += *p++;
	return s;
}

static void expect_e820(const struct boot_e820_entry *e, uint64_t addr,
			uint64_t size, uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

static void test_e820_small(void **state)
{
	struct boot_e820_entry t[BOOT_E820_MAX];
	struct gmem gm;

	(void)state;
	assert_int_equal(gmem_init(&gm, 64 * MIB, false), 0);
	assert_int_equal(boot_e820_build(&gm, t), 3);
	expect_e820(&t[0], 0, LAYOUT_EBDA_ADDR, BOOT_E820_RAM);
	expect_e820(&t[1], LAYOUT_EBDA_ADDR, 0x100000 - LAYOUT_EBDA_ADDR,
		    BOOT_E820_RESERVED);
	expect_e820(&t[2], 0x100000, 63 * MIB, BOOT_E820_RAM);
	gmem_destroy(&gm);
}

/* 3.5 GiB: 3 GiB below the MMIO hole, the other 512 MiB above 4 GiB. */
static void test_e820_above_4g(void **state)
{
	struct boot_e820_entry t[BOOT_E820_MAX];
	struct boot_placement place = {.cmdline = LAYOUT_CMDLINE_ADDR};
	struct boot_kernel k = {.kind = BOOT_ENTRY_LINUX64};
	gpa_t zp = LAYOUT_BOOT_PARAMS_ADDR, si = LAYOUT_START_INFO_ADDR, map;
	struct gmem gm;

	(void)state;
	assert_int_equal(gmem_init(&gm, 3 * GIB + 512 * MIB, false), 0);
	assert_int_equal(boot_e820_build(&gm, t), 4);
	expect_e820(&t[2], 0x100000, 3 * GIB - 0x100000, BOOT_E820_RAM);
	expect_e820(&t[3], 4 * GIB, 512 * MIB, BOOT_E820_RAM);

	/* The same map in the zero page... */
	assert_int_equal(boot_linux_params_write(&gm, &k, &place), 0);
	assert_int_equal(rd(&gm, zp + 0x1e8, 1), 4);
	assert_int_equal(rd(&gm, zp + 0x2d0 + 3 * 20, 8), 4 * GIB);
	assert_int_equal(rd(&gm, zp + 0x2d0 + 3 * 20 + 8, 8), 512 * MIB);
	assert_int_equal(rd(&gm, zp + 0x2d0 + 3 * 20 + 16, 4), 1);

	/* ...and in the PVH memory map. */
	assert_int_equal(boot_pvh_write(&gm, &place), 0);
	assert_int_equal(rd(&gm, si + 48, 4), 4);
	map = rd(&gm, si + 40, 8);
	assert_int_equal(rd(&gm, map + 3 * 24, 8), 4 * GIB);
	assert_int_equal(rd(&gm, map + 3 * 24 + 8, 8), 512 * MIB);
	assert_int_equal(rd(&gm, map + 3 * 24 + 16, 4), 1);
	gmem_destroy(&gm);
}

/* Walks and checks an MP 1.4 table; returns the processor count. */
static unsigned int check_mptable(const struct gmem *gm, unsigned int cpus)
{
	gpa_t mpf = LAYOUT_EBDA_ADDR, mpc, p, end;
	unsigned int n_cpu = 0, n_bus = 0, n_ioapic = 0, n_io = 0, n_local = 0;
	unsigned int entries;
	int last_type = 0;

	/* Floating pointer (MP 1.4, 4.1). */
	assert_int_equal(mpf % 16, 0);
	assert_memory_equal(gmem_ptr(gm, mpf, 4), "_MP_", 4);
	assert_int_equal(rd(gm, mpf + 8, 1), 1);
	assert_int_equal(rd(gm, mpf + 9, 1), 4);
	assert_int_equal(sum(gm, mpf, 16), 0);
	assert_int_equal(rd(gm, mpf + 11, 1), 0); /* table present */

	/* Configuration table header (MP 1.4, 4.2). */
	mpc = rd(gm, mpf + 4, 4);
	assert_memory_equal(gmem_ptr(gm, mpc, 4), "PCMP", 4);
	assert_int_equal(rd(gm, mpc + 6, 1), 4);
	end = mpc + rd(gm, mpc + 4, 2);
	assert_true(mpc >= LAYOUT_MPTABLE_ADDR && end <= LAYOUT_MPTABLE_END);
	assert_int_equal(sum(gm, mpc, end - mpc), 0);
	assert_int_equal(rd(gm, mpc + 36, 4), LAYOUT_LAPIC_ADDR);
	entries = rd(gm, mpc + 34, 2);

	for (p = mpc + 44; p < end; entries--) {
		int type = rd(gm, p, 1);

		assert_true(type >= last_type); /* sorted by type */
		last_type = type;
		switch (type) {
		case 0:
			assert_int_equal(rd(gm, p + 1, 1), n_cpu);
			assert_int_equal(rd(gm, p + 3, 1),
					 n_cpu == 0 ? 0x3 : 0x1);
			n_cpu++;
			p += 20;
			break;
		case 1:
			assert_memory_equal(gmem_ptr(gm, p + 2, 6), "ISA   ",
					    6);
			n_bus++;
			p += 8;
			break;
		case 2:
			assert_int_equal(rd(gm, p + 1, 1), cpus);
			assert_int_equal(rd(gm, p + 2, 1), 0x11);
			assert_int_equal(rd(gm, p + 3, 1), 1);
			assert_int_equal(rd(gm, p + 4, 4), LAYOUT_IOAPIC_ADDR);
			n_ioapic++;
			p += 8;
			break;
		case 3:
			/* INT, conforming, ISA IRQ n on pin n. */
			assert_int_equal(rd(gm, p + 1, 1), 0);
			assert_int_equal(rd(gm, p + 2, 2), 0);
			assert_int_equal(rd(gm, p + 5, 1), n_io);
			assert_int_equal(rd(gm, p + 6, 1), cpus);
			assert_int_equal(rd(gm, p + 7, 1), n_io);
			n_io++;
			p += 8;
			break;
		case 4:
			/* ExtINT on LINT0, then NMI on LINT1, all APICs. */
			assert_int_equal(rd(gm, p + 1, 1), n_local ? 1 : 3);
			assert_int_equal(rd(gm, p + 6, 1), 0xff);
			assert_int_equal(rd(gm, p + 7, 1), n_local);
			n_local++;
			p += 8;
			break;
		default:
			fail_msg("MP entry type %d at 0x%llx", type,
				 (unsigned long long)p);
		}
	}
	assert_int_equal(p, end);
	assert_int_equal(entries, 0);
	assert_int_equal(n_bus, 1);
	assert_int_equal(n_ioapic, 1);
	assert_int_equal(n_io, 24);
	assert_int_equal(n_local, 2);
	return n_cpu;
}

static void test_mptable(void **state)
{
	struct gmem gm;

	(void)state;
	assert_int_equal(gmem_init(&gm, 16 * MIB, false), 0);
	assert_int_equal(boot_mptable_write(&gm, 1), 0);
	assert_int_equal(check_mptable(&gm, 1), 1);
	assert_int_equal(boot_mptable_write(&gm, 4), 0);
	assert_int_equal(check_mptable(&gm, 4), 4);
	assert_int_equal(boot_mptable_write(&gm, BOOT_MPTABLE_MAX_CPUS), 0);
	assert_int_equal(check_mptable(&gm, BOOT_MPTABLE_MAX_CPUS),
			 BOOT_MPTABLE_MAX_CPUS);
	assert_int_equal(rd(&gm, LAYOUT_EBDA_ADDR + 4, 4), LAYOUT_MPTABLE_ADDR);
	assert_true(LAYOUT_MPTABLE_ADDR +
			    boot_mptable_size(BOOT_MPTABLE_MAX_CPUS) <=
		    LAYOUT_MPTABLE_END);

	assert_int_equal(boot_mptable_write(&gm, 0), -EINVAL);
	assert_int_equal(boot_mptable_write(&gm, BOOT_MPTABLE_MAX_CPUS + 1),
			 -EINVAL);
	assert_int_equal(boot_mptable_write(&gm, 255), -EINVAL);
	assert_int_equal(boot_mptable_write(&gm, 64), 0);
	assert_int_equal(check_mptable(&gm, 64), 64);
	gmem_destroy(&gm);
}

static void test_pagetables(void **state)
{
	struct boot_entry e = {0};
	struct gmem gm;

	(void)state;
	assert_int_equal(gmem_init(&gm, 16 * MIB, false), 0);
	assert_int_equal(boot_pagetables_write(&gm, &e), 0);
	assert_int_equal(e.cr3, LAYOUT_PML4_ADDR);

	assert_int_equal(rd(&gm, LAYOUT_PML4_ADDR, 8), LAYOUT_PDPT_ADDR | 3);
	assert_int_equal(rd(&gm, LAYOUT_PML4_ADDR + 8, 8), 0);
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(rd(&gm, LAYOUT_PDPT_ADDR + 8 * i, 8),
				 (LAYOUT_PD_ADDR + 0x1000 * i) | 3);
	assert_int_equal(rd(&gm, LAYOUT_PDPT_ADDR + 32, 8), 0);

	/* Any address below 4 GiB maps to itself through a 2 MiB page. */
	for (uint64_t va = 0; va < 4 * GIB; va += 0x3e7ffff) {
		uint64_t pdpte = rd(&gm, LAYOUT_PDPT_ADDR + 8 * (va >> 30), 8);
		uint64_t pde = rd(
			&gm, (pdpte & ~0xfffull) + 8 * ((va >> 21) & 511), 8);

		assert_int_equal(pde & 0x83, 0x83);
		assert_int_equal((pde & ~0x1fffffull) | (va & 0x1fffff), va);
	}
	gmem_destroy(&gm);
}

static void test_gdt(void **state)
{
	struct boot_entry e = {0};
	struct gmem gm;

	(void)state;
	assert_int_equal(gmem_init(&gm, 16 * MIB, false), 0);
	assert_int_equal(boot_gdt_write(&gm, BOOT_ENTRY_LINUX64, &e), 0);
	assert_int_equal(e.gdt, LAYOUT_GDT_ADDR);
	assert_int_equal(e.gdt_limit, 4 * 8 - 1);
	assert_int_equal(rd(&gm, LAYOUT_GDT_ADDR, 8), 0);
	/* Access byte 0x9b (present code) and L=1, D=0 for 64-bit. */
	assert_int_equal((rd(&gm, LAYOUT_GDT_ADDR + BOOT_GDT_CODE64, 8) >> 40) &
				 0x60ff,
			 0x209b);
	assert_int_equal((rd(&gm, LAYOUT_GDT_ADDR + BOOT_GDT_CODE, 8) >> 40) &
				 0x60ff,
			 0x209b);
	assert_int_equal((rd(&gm, LAYOUT_GDT_ADDR + BOOT_GDT_DATA, 8) >> 40) &
				 0xff,
			 0x93);

	/* PVH: the code segment is 32-bit (D=1, L=0). */
	assert_int_equal(boot_gdt_write(&gm, BOOT_ENTRY_PVH, &e), 0);
	assert_int_equal((rd(&gm, LAYOUT_GDT_ADDR + BOOT_GDT_CODE, 8) >> 40) &
				 0x60ff,
			 0x409b);
	gmem_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e820_small),
		cmocka_unit_test(test_e820_above_4g),
		cmocka_unit_test(test_mptable),
		cmocka_unit_test(test_pagetables),
		cmocka_unit_test(test_gdt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
