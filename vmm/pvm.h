/*
 * Hosts whose /dev/kvm is kvm_pvm, a software nested hypervisor for
 * machines without VMX/SVM (cloud VMs without nested virtualization).
 * Everything minnow does differently on such a host is in pvm.c and is
 * active only when pvm_host_detect() says so.
 */
#ifndef MINNOW_PVM_H
#define MINNOW_PVM_H

#include <stdbool.h>

#include "vmm/cpuid.h"

/* True when the kvm_pvm module is loaded. */
bool pvm_host_detect(void);

/*
 * Kernel command-line words a Linux guest needs on such a host for a CPU
 * template: the features CPUID cannot hide there (KVM_SET_CPUID2 mostly
 * does not reach the guest) are turned off in the guest kernel instead.
 * Empty on other hosts.
 */
const char *pvm_cmdline_for(enum cpu_template tmpl, bool host_is_pvm);

#endif
