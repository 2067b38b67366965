/* vCPU threads: creation, boot registers and the KVM_RUN loop. */
#include "vmm/vcpu.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/timings.h"

#include <asm/kvm.h>
#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* Local APIC registers and LVT delivery modes (Intel SDM vol. 3, 11.5.1). */
#define APIC_LVT_LINT0     0x350
#define APIC_LVT_LINT1     0x360
#define APIC_MODE_NMI      0x4
#define APIC_MODE_EXTINT   0x7
#define APIC_LVT_MODE_MASK (0x7u << 8)

#define X86_CR0_PE   0x1u
#define X86_CR0_ET   0x10u
#define X86_CR0_PG   0x80000000u
#define X86_CR4_PAE  0x20u
#define X86_EFER_LME 0x100u
#define X86_EFER_LMA 0x400u

static void vcpu_kick_handler(int sig)
{
	(void)sig; /* only here to interrupt KVM_RUN */
}

int vcpu_install_kick_handler(void)
{
	struct sigaction sa = {.sa_handler = vcpu_kick_handler};

	/* No SA_RESTART: KVM_RUN must return EINTR. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

/* Through LINT0 the PIC reaches the BSP; LINT1 carries NMIs. */
static int vcpu_set_lint(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;
	uint32_t *lint0, *lint1;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	lint0 = (uint32_t *)(void *)&lapic.regs[APIC_LVT_LINT0];
	lint1 = (uint32_t *)(void *)&lapic.regs[APIC_LVT_LINT1];
	*lint0 = (*lint0 & ~APIC_LVT_MODE_MASK) | (APIC_MODE_EXTINT << 8);
	*lint1 = (*lint1 & ~APIC_LVT_MODE_MASK) | (APIC_MODE_NMI << 8);
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}

static int vcpu_set_cpuid(struct vcpu *vcpu,
			  const struct cpuid_table *supported)
{
	struct vm *vm = vcpu->vm;
	struct cpuid_table table = *supported;

	cpuid_adjust(&table, vcpu->index, vm->config.nr_cpus,
		     vm->config.cpu_template, vm->host_is_pvm);
	return cpuid_set(vcpu->fd, &table);
}

int vcpu_create(struct vm *vm, unsigned int index,
		const struct cpuid_table *supported)
{
	struct vcpu *vcpu = &vm->vcpus[index];
	void *run;
	int err;

	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vcpu->fd < 0) {
		err = -errno;
		log_error("vcpu%u: KVM_CREATE_VCPU: %s", index, strerror(-err));
		return err;
	}

	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu->fd, 0);
	if (run == MAP_FAILED) {
		err = -errno;
		log_error("vcpu%u: cannot map its run area: %s", index,
			  strerror(-err));
		goto err_close;
	}
	vcpu->run = run;

	err = vcpu_set_cpuid(vcpu, supported);
	if (err) {
		log_error("vcpu%u: KVM_SET_CPUID2: %s", index, strerror(-err));
		goto err_unmap;
	}
	err = vcpu_set_lint(vcpu);
	if (err) {
		log_error("vcpu%u: cannot set up its local APIC: %s", index,
			  strerror(-err));
		goto err_unmap;
	}
	return 0;

err_unmap:
	munmap(vcpu->run, vm->run_size);
	vcpu->run = NULL;
err_close:
	close(vcpu->fd);
	vcpu->fd = -1;
	return err;
}

static void segment_flat(struct kvm_segment *seg, uint16_t selector,
			 uint8_t type, bool long_code)
{
	*seg = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = long_code ? 0 : 1,
		.s = 1,
		.l = long_code ? 1 : 0,
		.g = 1,
	};
}

int vcpu_set_boot_regs(struct vcpu *vcpu, const struct boot_entry *entry)
{
	bool long_mode = entry->kind == BOOT_ENTRY_LINUX64;
	struct kvm_sregs sregs;
	struct kvm_regs regs = {0};
	struct kvm_fpu fpu = {0};

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;

	/* Code: execute/read, accessed; data: read/write, accessed. */
	segment_flat(&sregs.cs, BOOT_GDT_CODE, 0xb, long_mode);
	segment_flat(&sregs.ds, BOOT_GDT_DATA, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = entry->gdt;
	sregs.gdt.limit = entry->gdt_limit;

	sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
	if (long_mode) {
		sregs.cr0 |= X86_CR0_PG;
		sregs.cr3 = entry->cr3;
		sregs.cr4 |= X86_CR4_PAE;
		sregs.efer |= X86_EFER_LME | X86_EFER_LMA;
	}
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	/* PVH passes hvm_start_info in EBX, Linux boot_params in RSI. */
	regs.rflags = 0x2;
	regs.rip = entry->rip;
	if (long_mode)
		regs.rsi = entry->boot_info;
	else
		regs.rbx = entry->boot_info;
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;

	/* The x87 and SSE state a CPU has after FNINIT / reset. */
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return 0;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	sigset_t unblock;
	char name[16];

	/* Only this thread's kick signal gets through. */
	sigemptyset(&unblock);
	sigaddset(&unblock, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);

	/* Confined before the guest runs a single instruction. */
	snprintf(name, sizeof(name), "vcpu%u", vcpu->index);
	if (seccomp_thread_enter(SECCOMP_THREAD_VCPU, name)) {
		vm_request_stop(vm, VM_EXIT_ERROR, "no seccomp filter");
		return NULL;
	}
	if (vcpu->index == 0)
		timings_mark(TIMING_FIRST_RUN);

	while (!atomic_load(&vm->stop_requested)) {
		vm_vcpu_park_if_paused(vm);
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			int err = errno;

			if (err == EINTR || err == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				continue;
			}
			log_error("vcpu%u: KVM_RUN: %s", vcpu->index,
				  strerror(err));
			vm_request_stop(vm, VM_EXIT_CRASH, "KVM_RUN failed");
			break;
		}
		if (vcpu_handle_exit(vm, vcpu->run, vcpu->index) == VCPU_STOP)
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	char name[16];
	int err;

	err = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	if (err) {
		log_error("vcpu%u: cannot start its thread: %s", vcpu->index,
			  strerror(err));
		return -err;
	}
	vcpu->started = true;

	/* The Kata runtime finds vCPU threads by this exact name. */
	snprintf(name, sizeof(name), "vcpu%u", vcpu->index);
	pthread_setname_np(vcpu->thread, name);
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->started)
		return;
	vcpu->run->immediate_exit = 1;
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->started) {
		pthread_join(vcpu->thread, NULL);
		vcpu->started = false;
	}
	if (vcpu->run) {
		munmap(vcpu->run, vcpu->vm->run_size);
		vcpu->run = NULL;
	}
	if (vcpu->fd >= 0) {
		close(vcpu->fd);
		vcpu->fd = -1;
	}
}
