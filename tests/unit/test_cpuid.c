/* CPUID adjustment: topology per vCPU, templates, kvm_pvm needs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/cpuid.h"

static struct cpuid_table table;

static void add(unsigned int fn, unsigned int idx, bool indexed, uint32_t eax,
		uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	struct kvm_cpuid_entry2 *e = &table.entries[table.nent++];

	*e = (struct kvm_cpuid_entry2){
		.function = fn,
		.index = idx,
		.eax = eax,
		.ebx = ebx,
		.ecx = ecx,
		.edx = edx,
		.flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0};
}

/* A host-like table: AVX, AVX2, AVX-512F, XSAVE, PV_SEND_IPI present. */
static int setup(void **state)
{
	memset(&table, 0, sizeof(table));
	add(1, 0, false, 0x806f8, 0x00000800, (1u << 26) | (1u << 28), 0);
	add(4, 0, true, 0x121, 0, 0, 0); /* L1d */
	add(4, 3, true, 0x163, 0, 0, 0); /* L3 */
	add(7, 0, true, 0, (1u << 5) | (1u << 16), 0, 0);
	add(0xb, 0, true, 1, 2, 0x100, 0);
	add(0xb, 1, true, 4, 8, 0x201, 0);
	add(0xb, 2, true, 0, 0, 2, 0);
	add(0xd, 0, true, 0x2e7, 0xa88, 0xa88, 0);
	add(0x40000001, 0, false, (1u << 11) | (1u << 3), 0, 0, 0);
	return 0;
}

static void test_topology(void **state)
{
	struct kvm_cpuid_entry2 *e;

	cpuid_adjust(&table, 3, 4, CPU_TEMPLATE_HOST, false);
	e = cpuid_find(&table, 1, 0);
	assert_int_equal(e->ebx >> 24, 3);          /* initial APIC ID */
	assert_int_equal((e->ebx >> 16) & 0xff, 4); /* logical CPUs */
	assert_true(e->edx & (1u << 28));           /* HTT */
	assert_true(e->ecx & (1u << 31));           /* hypervisor */

	e = cpuid_find(&table, 0xb, 0);
	assert_int_equal(e->ebx, 1);
	assert_int_equal(e->edx, 3);
	e = cpuid_find(&table, 0xb, 1);
	assert_int_equal(e->eax, 2); /* 4 CPUs need 2 bits */
	assert_int_equal(e->ebx, 4);
	assert_int_equal(e->ecx >> 8, 2);
	e = cpuid_find(&table, 0xb, 2);
	assert_int_equal(e->ebx, 0);

	assert_int_equal(cpuid_find(&table, 4, 0)->eax >> 26, 3);
	assert_int_equal((cpuid_find(&table, 4, 0)->eax >> 14) & 0xfff, 0);
	assert_int_equal((cpuid_find(&table, 4, 3)->eax >> 14) & 0xfff, 3);
	/* The host keeps its features; PV_SEND_IPI stays on real KVM. */
	assert_true(cpuid_find(&table, 7, 0)->ebx & (1u << 5));
	assert_true(cpuid_find(&table, 0x40000001, 0)->eax & (1u << 11));
}

static void test_pvm_clears_pv_send_ipi(void **state)
{
	cpuid_adjust(&table, 0, 2, CPU_TEMPLATE_HOST, true);
	assert_false(cpuid_find(&table, 0x40000001, 0)->eax & (1u << 11));
	assert_true(cpuid_find(&table, 0x40000001, 0)->eax & (1u << 3));
}

static void test_minimal_template(void **state)
{
	cpuid_adjust(&table, 0, 1, CPU_TEMPLATE_MINIMAL, false);
	assert_false(cpuid_find(&table, 1, 0)->ecx & (1u << 28)); /* AVX */
	assert_false(cpuid_find(&table, 1, 0)->ecx & (1u << 26)); /* XSAVE */
	assert_false(cpuid_find(&table, 7, 0)->ebx & (1u << 5));  /* AVX2 */
	assert_false(cpuid_find(&table, 7, 0)->ebx & (1u << 16)); /* 512F */
	assert_int_equal(cpuid_find(&table, 0xd, 0)->eax, 0);
	/* One CPU: no HTT. */
	assert_false(cpuid_find(&table, 1, 0)->edx & (1u << 28));
}

static void test_template_names(void **state)
{
	enum cpu_template t;

	assert_int_equal(cpu_template_parse("minimal", &t), 0);
	assert_int_equal(t, CPU_TEMPLATE_MINIMAL);
	assert_string_equal(cpu_template_name(t), "minimal");
	assert_int_equal(cpu_template_parse("host", &t), 0);
	assert_int_equal(t, CPU_TEMPLATE_HOST);
	assert_int_not_equal(cpu_template_parse("Host", &t), 0);
	assert_null(cpuid_find(&table, 0x12345, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_topology, setup),
		cmocka_unit_test_setup(test_pvm_clears_pv_send_ipi, setup),
		cmocka_unit_test_setup(test_minimal_template, setup),
		cmocka_unit_test_setup(test_template_names, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
