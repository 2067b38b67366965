/* Guest CPUID: KVM's supported table, per-vCPU topology and templates. */
#include "vmm/cpuid.h"
#include "vmm/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* Leaf 1 ECX/EDX, leaf 7 EBX/ECX/EDX bits used below (Intel SDM vol. 2A). */
#define CPUID_1_ECX_MONITOR     (1u << 3)
#define CPUID_1_ECX_VMX         (1u << 5)
#define CPUID_1_ECX_SMX         (1u << 6)
#define CPUID_1_ECX_FMA         (1u << 12)
#define CPUID_1_ECX_PCID        (1u << 17)
#define CPUID_1_ECX_X2APIC      (1u << 21)
#define CPUID_1_ECX_MOVBE       (1u << 22)
#define CPUID_1_ECX_TSC_DL      (1u << 24)
#define CPUID_1_ECX_XSAVE       (1u << 26)
#define CPUID_1_ECX_OSXSAVE     (1u << 27)
#define CPUID_1_ECX_AVX         (1u << 28)
#define CPUID_1_ECX_F16C        (1u << 29)
#define CPUID_1_ECX_RDRAND      (1u << 30)
#define CPUID_1_ECX_HYPERV      (1u << 31)
#define CPUID_1_EDX_HTT         (1u << 28)
#define CPUID_7_EBX_HLE         (1u << 4)
#define CPUID_7_EBX_AVX2        (1u << 5)
#define CPUID_7_EBX_RTM         (1u << 11)
#define CPUID_7_EBX_MPX         (1u << 14)
#define CPUID_7_EBX_AVX512F     (1u << 16)
#define CPUID_7_EBX_AVX512_MASK 0xdc230000u /* F DQ IFMA PF ER CD BW VL */
/* VBMI, VBMI2, VNNI, BITALG and VPOPCNTDQ. */
#define CPUID_7_ECX_AVX512_MASK 0x00005842u
#define CPUID_7_ECX_PKU         (1u << 3)
#define CPUID_7_ECX_WAITPKG     (1u << 5)
#define CPUID_7_EDX_AMX_MASK    0x01c00000u /* AMX-BF16 AMX-TILE AMX-INT8 */

/* KVM's paravirtual leaf (Documentation/virt/kvm/x86/cpuid.rst). */
#define KVM_CPUID_FEATURES      0x40000001u
#define KVM_FEATURE_PV_SEND_IPI 11

int cpu_template_parse(const char *name, enum cpu_template *out)
{
	if (strcmp(name, "host") == 0)
		*out = CPU_TEMPLATE_HOST;
	else if (strcmp(name, "minimal") == 0)
		*out = CPU_TEMPLATE_MINIMAL;
	else
		return -EINVAL;
	return 0;
}

const char *cpu_template_name(enum cpu_template t)
{
	return t == CPU_TEMPLATE_MINIMAL ? "minimal" : "host";
}

/* struct kvm_cpuid2 ends in a flexible array; give it room for ours. */
static struct kvm_cpuid2 *cpuid_kvm_alloc(void)
{
	return calloc(1, sizeof(struct kvm_cpuid2) +
				 CPUID_MAX_ENTRIES *
					 sizeof(struct kvm_cpuid_entry2));
}

int cpuid_get_supported(int kvm_fd, struct cpuid_table *table)
{
	struct kvm_cpuid2 *kc = cpuid_kvm_alloc();
	int err = 0;

	if (!kc)
		return -ENOMEM;
	kc->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, kc) < 0) {
		err = -errno;
	} else {
		table->nent = kc->nent;
		memcpy(table->entries, kc->entries,
		       kc->nent * sizeof(kc->entries[0]));
	}
	free(kc);
	return err;
}

int cpuid_set(int vcpu_fd, const struct cpuid_table *table)
{
	struct kvm_cpuid2 *kc = cpuid_kvm_alloc();
	int err = 0;

	if (!kc)
		return -ENOMEM;
	kc->nent = table->nent;
	memcpy(kc->entries, table->entries,
	       table->nent * sizeof(table->entries[0]));
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, kc) < 0)
		err = -errno;
	free(kc);
	return err;
}

struct kvm_cpuid_entry2 *cpuid_find(struct cpuid_table *table,
				    unsigned int function, unsigned int index)
{
	for (unsigned int i = 0; i < table->nent; i++) {
		struct kvm_cpuid_entry2 *e = &table->entries[i];
		bool indexed = e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

		if (e->function == function && (!indexed || e->index == index))
			return e;
	}
	return NULL;
}

/* Bits needed to number n things: the APIC-ID shift of a topology level. */
static unsigned int order_base_2(unsigned int n)
{
	unsigned int bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

/* Leaves 0xB and 0x1F: one thread per core, nr_cpus cores, one package. */
static void cpuid_set_ext_topology(struct kvm_cpuid_entry2 *e,
				   unsigned int apic_id, unsigned int nr_cpus)
{
	e->edx = apic_id;
	switch (e->index) {
	case 0: /* SMT level */
		e->eax = 0;
		e->ebx = 1;
		e->ecx = 0 | (1u << 8);
		break;
	case 1: /* core level */
		e->eax = order_base_2(nr_cpus);
		e->ebx = nr_cpus;
		e->ecx = 1 | (2u << 8);
		break;
	default: /* no more levels */
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;
		break;
	}
}

static void cpuid_apply_minimal(struct cpuid_table *table)
{
	struct kvm_cpuid_entry2 *e;

	/*
	 * A conservative baseline close to x86-64-v2: no AVX family, no
	 * XSAVE, no transactional memory, no VMX/SMX, no PKU or AMX. It
	 * keeps a guest portable between hosts of one fleet.
	 */
	e = cpuid_find(table, 1, 0);
	if (e)
		e->ecx &= ~(CPUID_1_ECX_VMX | CPUID_1_ECX_SMX |
			    CPUID_1_ECX_FMA | CPUID_1_ECX_XSAVE |
			    CPUID_1_ECX_OSXSAVE | CPUID_1_ECX_AVX |
			    CPUID_1_ECX_F16C | CPUID_1_ECX_MONITOR);
	e = cpuid_find(table, 7, 0);
	if (e) {
		e->ebx &= ~(CPUID_7_EBX_HLE | CPUID_7_EBX_AVX2 |
			    CPUID_7_EBX_RTM | CPUID_7_EBX_MPX |
			    CPUID_7_EBX_AVX512_MASK);
		e->ecx &= ~(CPUID_7_ECX_AVX512_MASK | CPUID_7_ECX_PKU |
			    CPUID_7_ECX_WAITPKG);
		e->edx &= ~CPUID_7_EDX_AMX_MASK;
	}
	/* With XSAVE gone, leaf 0xD describes nothing. */
	for (unsigned int i = 0; i < table->nent; i++)
		if (table->entries[i].function == 0xd)
			table->entries[i].eax = table->entries[i].ebx =
				table->entries[i].ecx = table->entries[i].edx =
					0;
}

void cpuid_adjust(struct cpuid_table *table, unsigned int cpu_index,
		  unsigned int nr_cpus, enum cpu_template tmpl,
		  bool host_is_pvm)
{
	for (unsigned int i = 0; i < table->nent; i++) {
		struct kvm_cpuid_entry2 *e = &table->entries[i];

		switch (e->function) {
		case 1:
			/* Initial APIC ID and logical processor count. */
			e->ebx = (e->ebx & 0x0000ffffu) | (cpu_index << 24) |
				 ((nr_cpus & 0xffu) << 16);
			if (nr_cpus > 1)
				e->edx |= CPUID_1_EDX_HTT;
			e->ecx |= CPUID_1_ECX_HYPERV;
			break;
		case 4:
			/* Cores per package; caches per core, L3 shared. */
			if ((e->eax & 0x1f) == 0)
				break;
			e->eax &= 0x3fff;
			e->eax |= (nr_cpus - 1) << 26;
			if (((e->eax >> 5) & 7) == 3)
				e->eax |= (nr_cpus - 1) << 14;
			break;
		case 0xb:
		case 0x1f:
			cpuid_set_ext_topology(e, cpu_index, nr_cpus);
			break;
		case 0x80000008:
			/* AMD: number of cores in the package, minus one. */
			e->ecx = (e->ecx & ~0xffu) | ((nr_cpus - 1) & 0xffu);
			break;
		case KVM_CPUID_FEATURES:
			/*
			 * On kvm_pvm a Linux guest never brings up its second
			 * CPU when PV_SEND_IPI is offered.
			 */
			if (host_is_pvm)
				e->eax &= ~(1u << KVM_FEATURE_PV_SEND_IPI);
			break;
		default:
			break;
		}
	}
	if (tmpl == CPU_TEMPLATE_MINIMAL)
		cpuid_apply_minimal(table);
}
