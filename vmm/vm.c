/* The VM's lifecycle: create, load a kernel, run, stop, destroy. */
#include "vmm/vm.h"
#include "boot/fdt.h"
#include "devices/virtio_mmio.h"
#include "vmm/kvm.h"
#include "vmm/log.h"
#include "vmm/pvm.h"
#include "vmm/seccomp.h"
#include "vmm/timings.h"
#include "vmm/util.h"
#include "vmm/vcpu.h"

#include <errno.h>
#include <libfdt.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* Intel needs three pages for a real-mode TSS just below the BIOS. */
#define VM_TSS_ADDR          0xfffbd000ull
#define VM_IDENTITY_MAP_ADDR 0xfffbc000ull

static void vm_power_request(void *ctx, enum power_event event, int code)
{
	struct vm *vm = ctx;

	switch (event) {
	case POWER_EVENT_OFF:
		vm_request_stop(vm, VM_EXIT_POWEROFF, "guest powered off");
		break;
	case POWER_EVENT_RESET:
		vm_request_stop(vm, VM_EXIT_RESET, "guest asked for a reset");
		break;
	case POWER_EVENT_DEBUG_EXIT:
		vm_request_stop(vm, code, "guest wrote the debug-exit port");
		break;
	}
}

static int vm_create_irqchip(struct vm *vm)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, VM_TSS_ADDR) < 0) {
		log_error("vm: KVM_SET_TSS_ADDR: %s", strerror(errno));
		return -errno;
	}
	/* Only needed (and only offered) on some hosts. */
	uint64_t identity = VM_IDENTITY_MAP_ADDR;
	ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity);

	/* PIC, IOAPIC and local APICs in the kernel, and its PIT. */
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_error("vm: KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_error("vm: KVM_CREATE_PIT2: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int vm_map_memory(struct vm *vm)
{
	for (size_t i = 0; i < vm->mem.nr_regions; i++) {
		const struct gmem_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region region = {
			.slot = (uint32_t)i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->host,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
			log_error("vm: KVM_SET_USER_MEMORY_REGION: %s",
				  strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int vm_create_vcpus(struct vm *vm)
{
	struct cpuid_table supported;
	int err;

	err = cpuid_get_supported(vm->kvm_fd, &supported);
	if (err) {
		log_error("vm: KVM_GET_SUPPORTED_CPUID: %s", strerror(-err));
		return err;
	}
	for (unsigned int i = 0; i < vm->config.nr_cpus; i++) {
		err = vcpu_create(vm, i, &supported);
		if (err)
			return err;
	}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *config)
{
	int err, size;

	memset(vm, 0, sizeof(*vm));
	vm->config = *config;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->mem.fd = -1;
	for (unsigned int i = 0; i < VM_MAX_CPUS; i++)
		vm->vcpus[i].fd = -1;
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	vm->power = (struct power_sink){.request = vm_power_request, .ctx = vm};

	if (config->nr_cpus == 0 || config->nr_cpus > VM_MAX_CPUS) {
		log_error("vm: %u vCPUs asked for, 1 to %u allowed",
			  config->nr_cpus, VM_MAX_CPUS);
		return -EINVAL;
	}

	vm->host_is_pvm = pvm_host_detect();
	if (vm->host_is_pvm)
		log_info("vm: host KVM is kvm_pvm (software nested "
			 "virtualization); applying its guest settings");

	vm->kvm_fd = kvm_open();
	if (vm->kvm_fd < 0)
		return vm->kvm_fd;
	size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size <= 0) {
		log_error("vm: KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -EIO;
	}
	vm->run_size = (size_t)size;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		err = -errno;
		log_error("vm: KVM_CREATE_VM: %s", strerror(-err));
		return err;
	}

	/*
	 * Guest RAM before the irqchip: on some hosts a memory slot added
	 * after the irqchip waits out an SRCU grace period that the
	 * irqchip's set-up started, milliseconds that this order avoids.
	 */
	err = gmem_init(&vm->mem, config->mem_bytes, config->hugepages);
	if (err)
		return err;
	err = vm_map_memory(vm);
	if (err)
		return err;
	timings_mark(TIMING_MEMORY_READY);

	err = vm_create_irqchip(vm);
	if (err)
		return err;
	timings_mark(TIMING_KVM_READY);
	err = evloop_init(&vm->loop, 256);
	if (err)
		return err;
	return vm_create_vcpus(vm);
}

/*
 * The kernel command line: what this host needs, then the user's words,
 * then the virtio-mmio devices. Returns 0 or -E2BIG.
 */
static int vm_build_cmdline(const struct vm *vm, const char *user, char *buf,
			    size_t size)
{
	const char *host = pvm_cmdline_for(vm->config.cpu_template,
					   vm->host_is_pvm);
	int n;

	n = snprintf(buf, size, "%s%s%s", host, *host && *user ? " " : "",
		     user);
	if (n < 0 || (size_t)n >= size)
		return -E2BIG;
	return virtio_mmio_cmdline(vm, buf, size) < 0 ? -E2BIG : 0;
}

int vm_load_kernel(struct vm *vm, const struct boot_spec *spec)
{
	static char cmdline[LAYOUT_CMDLINE_MAX];
	static uint8_t dtb[BOOT_FDT_MAX_SIZE];
	struct boot_spec boot = *spec;
	int err;

	err = vm_build_cmdline(vm, spec->cmdline, cmdline, sizeof(cmdline));
	if (err) {
		log_error("vm: the kernel command line is longer than %llu "
			  "bytes",
			  (unsigned long long)LAYOUT_CMDLINE_MAX - 1);
		return err;
	}
	boot.cmdline = cmdline;
	boot.nr_cpus = vm->config.nr_cpus;

	/* The same devices, described for kernels that read a device tree. */
	err = boot_fdt_build(vm, dtb, sizeof(dtb));
	if (err) {
		log_error("vm: cannot build the device tree: %s",
			  strerror(-err));
		return err;
	}
	boot.dtb = dtb;
	boot.dtb_size = fdt_totalsize(dtb);
	err = boot_load(&vm->mem, &boot, &vm->entry);
	if (err)
		return err;
	err = vcpu_set_boot_regs(&vm->vcpus[0], &vm->entry);
	if (err)
		log_error("vcpu0: cannot set boot registers: %s",
			  strerror(-err));
	return err;
}

void vm_request_stop(struct vm *vm, int status, const char *why)
{
	bool first;

	pthread_mutex_lock(&vm->stop_lock);
	first = !atomic_load(&vm->stop_requested);
	if (first) {
		vm->exit_status = status;
		atomic_store(&vm->stop_requested, true);
	}
	pthread_mutex_unlock(&vm->stop_lock);

	if (first) {
		timings_mark(TIMING_VM_STOPPED);
		log_debug("vm: stopping (%s), status %d", why, status);
		evloop_wake(&vm->loop);

		/* Parked vCPUs must see the stop, and so must vm_pause(). */
		pthread_mutex_lock(&vm->pause_lock);
		pthread_cond_broadcast(&vm->pause_cond);
		pthread_mutex_unlock(&vm->pause_lock);
	}
}

void vm_vcpu_park_if_paused(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	if (vm->pause_requested && !atomic_load(&vm->stop_requested)) {
		vm->nr_parked++;
		pthread_cond_broadcast(&vm->pause_cond);
		while (vm->pause_requested && !atomic_load(&vm->stop_requested))
			pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
		vm->nr_parked--;
	}
	pthread_mutex_unlock(&vm->pause_lock);
}

int vm_pause(struct vm *vm)
{
	int err = 0;

	pthread_mutex_lock(&vm->pause_lock);
	vm->pause_requested = true;
	pthread_mutex_unlock(&vm->pause_lock);

	/* The flag is set before the kick, so a vCPU cannot miss both. */
	for (unsigned int i = 0; i < vm->config.nr_cpus; i++)
		vcpu_kick(&vm->vcpus[i]);

	pthread_mutex_lock(&vm->pause_lock);
	while (vm->nr_parked < vm->config.nr_cpus &&
	       !atomic_load(&vm->stop_requested))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	if (atomic_load(&vm->stop_requested))
		err = -ESHUTDOWN;
	pthread_mutex_unlock(&vm->pause_lock);
	return err;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->pause_requested = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

/* On the loop thread: a stop was requested somewhere. */
static void vm_on_wake(void *ctx)
{
	struct vm *vm = ctx;

	if (atomic_load(&vm->stop_requested))
		evloop_stop(&vm->loop);
}

struct vm_signals {
	struct ev_op op;
	int fd;
	struct vm *vm;
};

static void vm_on_signal(struct ev_op *op, int res, uint32_t flags)
{
	struct vm_signals *sigs = container_of(op, struct vm_signals, op);
	struct signalfd_siginfo info;

	if (res < 0)
		return;
	if (read(sigs->fd, &info, sizeof(info)) != sizeof(info))
		return;
	log_info("vm: %s received, stopping the VM",
		 info.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
	vm_request_stop(sigs->vm, VM_EXIT_SIGNAL + (int)info.ssi_signo,
			"signal");
}

int vm_run(struct vm *vm)
{
	struct vm_signals sigs = {.op.complete = vm_on_signal, .vm = vm};
	sigset_t mask;
	int err = 0;

	/*
	 * Every thread blocks the stop signals (the loop reads them from a
	 * signalfd) and the kick signal (each vCPU thread unblocks its own).
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sigdelset(&mask, VCPU_KICK_SIGNAL);
	sigs.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigs.fd < 0) {
		log_error("vm: signalfd: %s", strerror(errno));
		return VM_EXIT_ERROR;
	}
	err = vcpu_install_kick_handler();
	if (err) {
		log_error("vm: cannot install the vCPU kick handler: %s",
			  strerror(-err));
		close(sigs.fd);
		return VM_EXIT_ERROR;
	}
	evloop_set_wake_handler(&vm->loop, vm_on_wake, vm);
	evloop_poll(&vm->loop, &sigs.op, sigs.fd, POLLIN);

	for (unsigned int i = 0; i < vm->config.nr_cpus && !err; i++)
		err = vcpu_start(&vm->vcpus[i]);
	if (err)
		vm_request_stop(vm, VM_EXIT_ERROR, "cannot start vCPUs");

	/* After the vCPU threads exist: they do not inherit this filter. */
	if (seccomp_thread_enter(SECCOMP_THREAD_LOOP, "loop"))
		vm_request_stop(vm, VM_EXIT_ERROR, "no seccomp filter");

	if (evloop_run(&vm->loop) < 0)
		vm_request_stop(vm, VM_EXIT_ERROR, "event loop failed");

	/* Stop every vCPU and wait for it before anything is freed. */
	for (unsigned int i = 0; i < vm->config.nr_cpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned int i = 0; i < vm->config.nr_cpus; i++)
		vcpu_destroy(&vm->vcpus[i]);

	evloop_cancel(&vm->loop, &sigs.op);
	evloop_destroy(&vm->loop);
	close(sigs.fd);
	return vm->exit_status;
}

void vm_destroy(struct vm *vm)
{
	for (unsigned int i = 0; i < VM_MAX_CPUS; i++)
		if (vm->vcpus[i].vm)
			vcpu_destroy(&vm->vcpus[i]);

	/* Devices go after the loop: it may hold operations on them. */
	evloop_destroy(&vm->loop);
	for (unsigned int i = 0; i < vm->nr_virtio; i++)
		virtio_mmio_destroy(vm->virtio[i]);
	vm->nr_virtio = 0;
	gmem_destroy(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	pthread_mutex_destroy(&vm->stop_lock);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
}
