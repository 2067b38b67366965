/*
 * The bare-KVM floor for the start-up benchmark: one VM, one page of guest
 * memory, one vCPU and a four-instruction guest that writes the debug-exit
 * port. No VMM can start and stop a VM on this host with less work.
 *
 * Usage: kvm-floor [--timings]. With --timings, prints the same JSON object
 * as `minnow run --timings=json` on stderr at exit (absolute
 * CLOCK_MONOTONIC nanoseconds). Exits 0 when the guest wrote the port, 1
 * on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_PAGE_SIZE  4096
#define FLOOR_DEBUG_PORT 0x501

enum floor_phase {
	FLOOR_MAIN,
	FLOOR_MEMORY_READY,
	FLOOR_FIRST_RUN,
	FLOOR_VM_STOPPED,
	FLOOR_EXIT,
	FLOOR_NR_PHASES,
};

/*
 * The names minnow's --timings=json uses for the same moments; with no
 * irqchip here there is no kvm_ready.
 */
static const char *const floor_phase_names[FLOOR_NR_PHASES] = {
	"main", "memory_ready", "first_kvm_run", "vm_stopped", "exit",
};

static uint64_t floor_ns[FLOOR_NR_PHASES];

/* Real mode at 0:0: mov dx, 0x501; xor al, al; out dx, al; hlt. */
static const uint8_t floor_guest[] = {
	0xba, FLOOR_DEBUG_PORT & 0xff, FLOOR_DEBUG_PORT >> 8, 0x30, 0xc0, 0xee,
	0xf4,
};

static void floor_mark(enum floor_phase phase)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	floor_ns[phase] = (uint64_t)ts.tv_sec * 1000000000u +
			  (uint64_t)ts.tv_nsec;
}

static int floor_fail(const char *what)
{
	fprintf(stderr, "kvm-floor: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Real mode, code segment at 0, first instruction at address 0. */
static int floor_set_regs(int vcpu_fd)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {.rip = 0, .rflags = 0x2};

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -1;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -1;
	return ioctl(vcpu_fd, KVM_SET_REGS, &regs);
}

static void floor_print_json(void)
{
	const char *sep = "";

	fprintf(stderr, "{\"clock\": \"CLOCK_MONOTONIC\", \"phases_ns\": {");
	for (int i = 0; i < FLOOR_NR_PHASES; i++) {
		fprintf(stderr, "%s\"%s\": %llu", sep, floor_phase_names[i],
			(unsigned long long)floor_ns[i]);
		sep = ", ";
	}
	fprintf(stderr,
		"}, \"guest_markers_ns\": [], "
		"\"guest_ram_resident_bytes\": %d}\n",
		FLOOR_PAGE_SIZE);
}

int main(int argc, char **argv)
{
	struct kvm_userspace_memory_region region = {
		.memory_size = FLOOR_PAGE_SIZE,
	};
	struct kvm_run *run;
	int kvm_fd, vm_fd, vcpu_fd, run_size;
	void *mem;

	floor_mark(FLOOR_MAIN);
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		return floor_fail("/dev/kvm");
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		return floor_fail("KVM_CREATE_VM");

	mem = mmap(NULL, FLOOR_PAGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return floor_fail("mmap");
	memcpy(mem, floor_guest, sizeof(floor_guest));
	region.userspace_addr = (uint64_t)(uintptr_t)mem;
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return floor_fail("KVM_SET_USER_MEMORY_REGION");
	floor_mark(FLOOR_MEMORY_READY);

	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0)
		return floor_fail("KVM_CREATE_VCPU");
	run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		return floor_fail("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu_fd, 0);
	if (run == MAP_FAILED)
		return floor_fail("mmap of the vCPU run area");
	if (floor_set_regs(vcpu_fd) < 0)
		return floor_fail("setting the vCPU registers");

	/* Runs until the OUT (or, should it be skipped, the HLT). */
	floor_mark(FLOOR_FIRST_RUN);
	for (;;) {
		if (ioctl(vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			return floor_fail("KVM_RUN");
		}
		if (run->exit_reason == KVM_EXIT_HLT ||
		    (run->exit_reason == KVM_EXIT_IO &&
		     run->io.port == FLOOR_DEBUG_PORT))
			break;
		fprintf(stderr, "kvm-floor: unexpected exit reason %u\n",
			run->exit_reason);
		return 1;
	}
	floor_mark(FLOOR_VM_STOPPED);

	/* Teardown is left to exit(), as the fastest VMM would leave it. */
	floor_mark(FLOOR_EXIT);
	if (argc > 1 && strcmp(argv[1], "--timings") == 0)
		floor_print_json();
	return 0;
}
