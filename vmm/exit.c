/*
 * What a vCPU exit means: port and MMIO accesses go to the buses, guest
 * power events and failures stop the VM. Works on struct kvm_run alone.
 */
#include "vmm/log.h"
#include "vmm/pvm_emulate.h"
#include "vmm/util.h"
#include "vmm/vcpu.h"

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

/* Ports that hit no device, logged once each. */
static _Atomic uint64_t pio_unclaimed_seen[65536 / 64];

/* MMIO addresses that hit no device: the first few are logged. */
#define MMIO_UNCLAIMED_LOGGED 32
static uint64_t mmio_unclaimed_seen[MMIO_UNCLAIMED_LOGGED];
static unsigned int mmio_unclaimed_count;
static pthread_mutex_t mmio_unclaimed_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_unclaimed_pio(uint16_t port, bool is_write)
{
	uint64_t bit = 1ull << (port % 64);

	if (atomic_fetch_or(&pio_unclaimed_seen[port / 64], bit) & bit)
		return;
	log_debug("pio: %s of port 0x%x hits no device",
		  is_write ? "write" : "read", port);
}

static void log_unclaimed_mmio(uint64_t addr, bool is_write)
{
	bool log = true;

	pthread_mutex_lock(&mmio_unclaimed_lock);
	for (unsigned int i = 0; i < mmio_unclaimed_count; i++)
		if (mmio_unclaimed_seen[i] == addr)
			log = false;
	if (log && mmio_unclaimed_count < MMIO_UNCLAIMED_LOGGED)
		mmio_unclaimed_seen[mmio_unclaimed_count++] = addr;
	else
		log = false;
	pthread_mutex_unlock(&mmio_unclaimed_lock);
	if (log)
		log_debug("mmio: %s of 0x%llx hits no device",
			  is_write ? "write" : "read",
			  (unsigned long long)addr);
}

static enum vcpu_action exit_io(struct vm *vm, struct kvm_run *run)
{
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	/* String I/O (REP INS/OUTS) arrives as count back-to-back items. */
	for (uint32_t i = 0; i < run->io.count; i++) {
		if (!bus_access(&vm->pio, run->io.port, data, run->io.size,
				is_write))
			log_unclaimed_pio(run->io.port, is_write);
		data += run->io.size;
	}
	return atomic_load(&vm->stop_requested) ? VCPU_STOP : VCPU_CONTINUE;
}

static enum vcpu_action exit_mmio(struct vm *vm, struct kvm_run *run)
{
	uint32_t len = run->mmio.len;

	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	if (!bus_access(&vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
			run->mmio.is_write))
		log_unclaimed_mmio(run->mmio.phys_addr, run->mmio.is_write);
	return atomic_load(&vm->stop_requested) ? VCPU_STOP : VCPU_CONTINUE;
}

static enum vcpu_action exit_system_event(struct vm *vm, struct kvm_run *run,
					  unsigned int index)
{
	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_stop(vm, VM_EXIT_POWEROFF, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_stop(vm, VM_EXIT_RESET, "guest asked for a reset");
		break;
	default:
		log_error("vcpu%u: system event %u (crash)", index,
			  run->system_event.type);
		vm_request_stop(vm, VM_EXIT_CRASH, "guest crashed");
		break;
	}
	return VCPU_STOP;
}

static enum vcpu_action exit_internal_error(struct vm *vm, struct kvm_run *run,
					    unsigned int index)
{
	char bytes[3 * 16 + 1] = "";

	/* kvm_pvm's emulator gives up on a few instructions we can finish. */
	if (vm->host_is_pvm && pvm_emulate(vm, index, run) == 0)
		return VCPU_CONTINUE;

	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (run->emulation_failure.flags &
	     KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		unsigned int n = run->emulation_failure.insn_size;

		if (n > sizeof(run->emulation_failure.insn_bytes))
			n = sizeof(run->emulation_failure.insn_bytes);
		for (unsigned int i = 0; i < n; i++)
			snprintf(bytes + 3 * i, sizeof(bytes) - 3 * i, " %02x",
				 run->emulation_failure.insn_bytes[i]);
	}
	log_error("vcpu%u: KVM internal error, suberror %u%s%s", index,
		  run->internal.suberror, bytes[0] ? ", instruction" : "",
		  bytes);
	vm_request_stop(vm, VM_EXIT_CRASH, "vCPU cannot continue");
	return VCPU_STOP;
}

enum vcpu_action vcpu_handle_exit(struct vm *vm, struct kvm_run *run,
				  unsigned int index)
{
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return exit_io(vm, run);
	case KVM_EXIT_MMIO:
		return exit_mmio(vm, run);
	case KVM_EXIT_INTR:
		/* A kick: see whether the VM is stopping. */
		return atomic_load(&vm->stop_requested) ? VCPU_STOP
							: VCPU_CONTINUE;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; keep going. */
		return VCPU_CONTINUE;
	case KVM_EXIT_SHUTDOWN:
		/* A triple fault: how PCs (and Linux's reboot=t) reset. */
		log_info("vcpu%u: triple fault, treating it as a reset", index);
		vm_request_stop(vm, VM_EXIT_RESET, "guest triple fault");
		return VCPU_STOP;
	case KVM_EXIT_SYSTEM_EVENT:
		return exit_system_event(vm, run, index);
	case KVM_EXIT_INTERNAL_ERROR:
		return exit_internal_error(vm, run, index);
	case KVM_EXIT_FAIL_ENTRY:
		log_error("vcpu%u: KVM cannot enter the guest, hardware "
			  "reason 0x%llx",
			  index,
			  (unsigned long long)run->fail_entry
				  .hardware_entry_failure_reason);
		vm_request_stop(vm, VM_EXIT_CRASH, "vCPU entry failed");
		return VCPU_STOP;
	default:
		log_error("vcpu%u: unexpected KVM exit reason %u", index,
			  run->exit_reason);
		vm_request_stop(vm, VM_EXIT_CRASH, "unexpected vCPU exit");
		return VCPU_STOP;
	}
}
