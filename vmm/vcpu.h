/*
 * vCPUs: creation, boot registers, the KVM_RUN loop thread, and exit
 * dispatch. The run loop (vcpu.c) only calls KVM_RUN; what each exit means
 * is decided by vcpu_handle_exit() (exit.c), which works on a struct
 * kvm_run alone so tests can feed it synthetic exits.
 */
#ifndef MINNOW_VCPU_H
#define MINNOW_VCPU_H

#include "vmm/cpuid.h"
#include "vmm/vm.h"

enum vcpu_action {
	VCPU_CONTINUE, /* run the vCPU again */
	VCPU_STOP,     /* the VM is stopping: vm_request_stop() was called */
};

/* Creates vCPU index: KVM_CREATE_VCPU, the run area, CPUID, LAPIC LINTs. */
int vcpu_create(struct vm *vm, unsigned int index,
		const struct cpuid_table *supported);

/* Sets the BSP's registers for the kernel entry described by entry. */
int vcpu_set_boot_regs(struct vcpu *vcpu, const struct boot_entry *entry);

/* Starts the thread "vcpuN" running the KVM_RUN loop. */
int vcpu_start(struct vcpu *vcpu);

/* Makes a running KVM_RUN return soon (immediate_exit and a signal). */
void vcpu_kick(struct vcpu *vcpu);

/* Waits for the thread to end, then frees the vCPU. */
void vcpu_destroy(struct vcpu *vcpu);

/* Decides what one exit means; see exit.c. */
enum vcpu_action vcpu_handle_exit(struct vm *vm, struct kvm_run *run,
				  unsigned int index);

/* The signal used to kick vCPU threads out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1

/* Installs the (empty) handler for VCPU_KICK_SIGNAL; once per process. */
int vcpu_install_kick_handler(void);

#endif
