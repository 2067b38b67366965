/*
 * CPUID for the guest: what KVM supports, adjusted per vCPU and by a named
 * template.
 */
#ifndef MINNOW_CPUID_H
#define MINNOW_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>

enum cpu_template {
	CPU_TEMPLATE_HOST,    /* everything KVM supports */
	CPU_TEMPLATE_MINIMAL, /* a conservative baseline, see cpuid.c */
};

/* "host" or "minimal"; returns 0 or -EINVAL. */
int cpu_template_parse(const char *name, enum cpu_template *out);
const char *cpu_template_name(enum cpu_template t);

#define CPUID_MAX_ENTRIES 256

struct cpuid_table {
	unsigned int nent;
	struct kvm_cpuid_entry2 entries[CPUID_MAX_ENTRIES];
};

/* Fills table with KVM_GET_SUPPORTED_CPUID. Returns 0 or -errno. */
int cpuid_get_supported(int kvm_fd, struct cpuid_table *table);

/* Gives table to a vCPU with KVM_SET_CPUID2. Returns 0 or -errno. */
int cpuid_set(int vcpu_fd, const struct cpuid_table *table);

/*
 * Adjusts a copy of the supported table for one vCPU: APIC IDs, topology
 * (nr_cpus cores, one thread each, one socket), the hypervisor leaves, and
 * the template. host_is_pvm clears what a software nested KVM cannot do.
 */
void cpuid_adjust(struct cpuid_table *table, unsigned int cpu_index,
		  unsigned int nr_cpus, enum cpu_template tmpl,
		  bool host_is_pvm);

/* The entry for (function, index), or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct cpuid_table *table,
				    unsigned int function, unsigned int index);

#endif
