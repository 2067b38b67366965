/*
 * The virtual machine: KVM VM and vCPUs, guest memory, buses, devices and
 * the event loop, and its lifecycle.
 *
 * Order: vm_create() (KVM, irqchip, memory) → devices attach to the buses
 * and the event loop → vm_load_kernel() → vm_run() (starts the vCPU
 * threads, runs the event loop on the calling thread until the VM stops)
 * → vm_destroy().
 */
#ifndef MINNOW_VM_H
#define MINNOW_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "boot/boot.h"
#include "boot/layout.h"
#include "devices/bus.h"
#include "devices/power.h"
#include "vmm/cpuid.h"
#include "vmm/evloop.h"
#include "vmm/gmem.h"

#define VM_MAX_CPUS 64

struct virtio_mmio;

/* Why a VM stopped; also minnow's exit status (see README). */
enum vm_exit {
	VM_EXIT_POWEROFF = 0, /* guest powered off */
	VM_EXIT_ERROR = 1,    /* minnow failed */
	VM_EXIT_USAGE = 2,    /* bad command line (never from a VM) */
	VM_EXIT_RESET = 3,    /* guest asked for a reset */
	VM_EXIT_CRASH = 4,    /* triple fault or a vCPU KVM cannot run */
	VM_EXIT_SIGNAL = 128, /* + signal number: SIGTERM, SIGINT */
};

struct vm_config {
	unsigned int nr_cpus;
	uint64_t mem_bytes;
	bool hugepages;
	enum cpu_template cpu_template;
};

struct vcpu {
	struct vm *vm;
	unsigned int index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct vm {
	struct vm_config config;
	int kvm_fd;
	int vm_fd;
	size_t run_size;  /* mmap size of struct kvm_run */
	bool host_is_pvm; /* software nested KVM (kvm_pvm), see vmm/pvm.h */
	struct gmem mem;
	struct bus pio;
	struct bus mmio;
	struct evloop loop;
	struct power_sink power;
	struct boot_entry entry;
	struct vcpu vcpus[VM_MAX_CPUS];

	/* virtio-mmio devices in slot order (see devices/virtio_mmio.h). */
	struct virtio_mmio *virtio[LAYOUT_VIRTIO_MMIO_MAX];
	unsigned int nr_virtio;

	/* Stop request: the first one wins; read by all threads. */
	atomic_bool stop_requested;
	int exit_status; /* enum vm_exit or a debug-exit code */
	pthread_mutex_t stop_lock;

	/* Pausing: vCPU threads park between two KVM_RUN calls. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool pause_requested;
	unsigned int nr_parked;
};

/* Opens /dev/kvm, checks capabilities, creates VM, memory, irqchip, PIT. */
int vm_create(struct vm *vm, const struct vm_config *config);

/* Loads the kernel and boot structures; fills vm->entry. */
int vm_load_kernel(struct vm *vm, const struct boot_spec *spec);

/*
 * Runs the VM: vCPU threads named vcpu0, vcpu1, ... and the event loop on
 * the calling thread. Returns the exit status when the VM stops.
 */
int vm_run(struct vm *vm);

/*
 * Asks the VM to stop with status; safe from any thread and from signal
 * handlers' callers. The first request's status is kept.
 */
void vm_request_stop(struct vm *vm, int status, const char *why);

void vm_destroy(struct vm *vm);

/*
 * Pauses a running VM: kicks every vCPU out of KVM_RUN and waits until
 * all of them are parked (or the VM is stopping). Devices and the event
 * loop go on. Any thread but a vCPU's; returns 0, or -ESHUTDOWN when the
 * VM stopped instead.
 */
int vm_pause(struct vm *vm);

/* Lets parked vCPUs run again. Any thread but a vCPU's. */
void vm_resume(struct vm *vm);

/* From a vCPU thread between two KVM_RUN calls: parks while paused. */
void vm_vcpu_park_if_paused(struct vm *vm);

#endif
