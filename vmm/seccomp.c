/* Per-thread-kind seccomp-bpf allow-lists and the SIGSYS reporter. */
#include "vmm/seccomp.h"
#include "vmm/log.h"
#include "vmm/util.h"

#include <errno.h>
#include <linux/kvm.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * The allow-lists. Each kind of thread is a list of groups; a group is a
 * table of system calls and one of ioctl requests (matched on the request
 * number, argument 1). To let a thread make a new call, add it to the
 * group that names why it is needed. Found by running every test with
 * --seccomp log and reading the kernel's audit records (docs/security.md).
 */
struct seccomp_group {
	const int *syscalls;
	unsigned int nr_syscalls;
	const unsigned long *ioctls;
	unsigned int nr_ioctls;
};

#define GROUP(calls, reqs)                                                     \
	{                                                                      \
		calls, ARRAY_SIZE(calls), reqs, ARRAY_SIZE(reqs)               \
	}
#define GROUP_CALLS(calls)                                                     \
	{                                                                      \
		calls, ARRAY_SIZE(calls), NULL, 0                              \
	}

/* Every thread: libc, memory, locks, time, logging, exiting. */
static const int common_calls[] = {
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(writev),
	SCMP_SYS(close),
	SCMP_SYS(futex),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(mprotect),
	SCMP_SYS(madvise),
	SCMP_SYS(brk),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(nanosleep),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(tgkill),
	SCMP_SYS(sched_yield),
	SCMP_SYS(getrandom),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(lseek),
	/* glibc's pthread_create and pthread_join (and so its stacks). */
	SCMP_SYS(rseq),
	SCMP_SYS(set_robust_list),
};

/* A vCPU thread: running the vCPU and completing its exits. */
static const int vcpu_calls[] = {
	SCMP_SYS(ioctl),
};

static const unsigned long vcpu_ioctls[] = {
	KVM_RUN,
	/* vmm/pvm_emulate.c completes instructions kvm_pvm rejects. */
	KVM_GET_REGS,
	KVM_SET_REGS,
	KVM_GET_SREGS,
	KVM_SET_SREGS,
	KVM_GET_XSAVE,
	KVM_GET_XSAVE2,
	KVM_SET_XSAVE,
	KVM_GET_XCRS,
	KVM_SET_XCRS,
	KVM_GET_VCPU_EVENTS,
	KVM_SET_VCPU_EVENTS,
	KVM_CHECK_EXTENSION,
	/* Legacy devices (serial, i8042, RTC) raise their lines. */
	KVM_IRQ_LINE,
};

/*
 * Device code, run by a vCPU thread (register writes: feature
 * negotiation, reset) and by the loop (requests): eventfds, the tap's
 * offloads, sockets of virtio-vsock.
 */
static const int device_calls[] = {
	SCMP_SYS(ioctl),    SCMP_SYS(readv),    SCMP_SYS(pread64),
	SCMP_SYS(pwrite64), SCMP_SYS(preadv),   SCMP_SYS(pwritev),
	SCMP_SYS(fcntl),    SCMP_SYS(ppoll),    SCMP_SYS(poll),
	SCMP_SYS(sendmsg),  SCMP_SYS(recvmsg),  SCMP_SYS(sendto),
	SCMP_SYS(recvfrom), SCMP_SYS(shutdown), SCMP_SYS(getsockopt),
};

static const unsigned long device_ioctls[] = {
	TUNSETOFFLOAD,
	KVM_IRQ_LINE,
};

/* The event loop: io_uring, signals, and what devices do from it. */
static const unsigned long loop_ioctls[] = {
	/* After the VM stops: the console gives the terminal back. */
	TCSETS,
};

static const int loop_calls[] = {
	SCMP_SYS(ioctl),
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(io_uring_register),
	/* virtio-vsock: host- and guest-initiated unix-socket streams. */
	SCMP_SYS(socket),
	SCMP_SYS(connect),
	SCMP_SYS(accept4),
	SCMP_SYS(setsockopt),
	/* ...and at teardown it removes the socket it listened on. */
	SCMP_SYS(unlink),
	/* --timings: how much guest RAM is resident, counted at exit. */
	SCMP_SYS(mincore),
	/* vm_run()'s end: joining the vCPU threads, unmapping. */
	SCMP_SYS(rt_sigaction),
};

/*
 * virtio-fs: the built-in FUSE server works on the shared directory
 * through file descriptors (the *at calls), on the loop thread.
 */
static const int fs_calls[] = {
	SCMP_SYS(openat),    SCMP_SYS(openat2),     SCMP_SYS(statx),
	SCMP_SYS(fstatfs),   SCMP_SYS(getdents64),  SCMP_SYS(readlinkat),
	SCMP_SYS(mkdirat),   SCMP_SYS(mknodat),     SCMP_SYS(unlinkat),
	SCMP_SYS(renameat2), SCMP_SYS(renameat),    SCMP_SYS(linkat),
	SCMP_SYS(symlinkat), SCMP_SYS(fchmod),      SCMP_SYS(fchmodat),
	SCMP_SYS(fchownat),  SCMP_SYS(fchown),      SCMP_SYS(ftruncate),
	SCMP_SYS(fallocate), SCMP_SYS(utimensat),   SCMP_SYS(fsync),
	SCMP_SYS(fdatasync), SCMP_SYS(getxattr),    SCMP_SYS(setxattr),
	SCMP_SYS(listxattr), SCMP_SYS(removexattr), SCMP_SYS(fgetxattr),
	SCMP_SYS(fsetxattr), SCMP_SYS(flistxattr),  SCMP_SYS(fremovexattr),
	SCMP_SYS(lgetxattr), SCMP_SYS(llistxattr),  SCMP_SYS(copy_file_range),
	SCMP_SYS(dup),       SCMP_SYS(faccessat),   SCMP_SYS(faccessat2),
	SCMP_SYS(umask),     SCMP_SYS(setresuid),   SCMP_SYS(setresgid),
	SCMP_SYS(setfsuid),  SCMP_SYS(setfsgid),
};

/*
 * Building a VM (launch_prepare()): only for threads that build VMs after
 * their filter is in place, the REST API's (see seccomp_configure()).
 */
static const int setup_calls[] = {
	SCMP_SYS(open),           SCMP_SYS(openat),
	SCMP_SYS(access),         SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2),     SCMP_SYS(memfd_create),
	SCMP_SYS(ftruncate),      SCMP_SYS(fallocate),
	SCMP_SYS(eventfd2),       SCMP_SYS(signalfd4),
	SCMP_SYS(io_uring_setup), SCMP_SYS(clone),
	SCMP_SYS(clone3),         SCMP_SYS(rt_sigaction),
	SCMP_SYS(sigaltstack),    SCMP_SYS(pipe2),
	SCMP_SYS(bind),           SCMP_SYS(listen),
	SCMP_SYS(unlink),         SCMP_SYS(unlinkat),
	SCMP_SYS(prctl),          SCMP_SYS(sched_getaffinity),
	SCMP_SYS(getdents64),     SCMP_SYS(readlink),
	SCMP_SYS(statfs),         SCMP_SYS(fstatfs),
	SCMP_SYS(mlock),          SCMP_SYS(seccomp),
	SCMP_SYS(uname),          SCMP_SYS(getuid),
	SCMP_SYS(geteuid),        SCMP_SYS(getgid),
	SCMP_SYS(getegid),
};

static const unsigned long setup_ioctls[] = {
	KVM_GET_API_VERSION,
	KVM_CHECK_EXTENSION,
	KVM_GET_VCPU_MMAP_SIZE,
	KVM_CREATE_VM,
	KVM_SET_TSS_ADDR,
	KVM_SET_IDENTITY_MAP_ADDR,
	KVM_CREATE_IRQCHIP,
	KVM_CREATE_PIT2,
	KVM_SET_USER_MEMORY_REGION,
	KVM_CREATE_VCPU,
	KVM_GET_SUPPORTED_CPUID,
	KVM_SET_CPUID2,
	KVM_GET_LAPIC,
	KVM_SET_LAPIC,
	KVM_GET_SREGS,
	KVM_SET_SREGS,
	KVM_SET_REGS,
	KVM_SET_FPU,
	KVM_IOEVENTFD,
	KVM_IRQFD,
	TUNSETIFF,
	TUNGETIFF,
	TUNSETVNETHDRSZ,
	TUNSETOFFLOAD,
	BLKSSZGET,
	BLKGETSIZE64,
	FIONBIO,
	/* The serial console puts a terminal on stdin in raw mode. */
	TCGETS,
	TCSETS,
};

/* The REST API thread: its socket, and the VM threads it starts. */
static const int api_calls[] = {
	SCMP_SYS(accept4),  SCMP_SYS(socket),   SCMP_SYS(sendmsg),
	SCMP_SYS(recvmsg),  SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	SCMP_SYS(poll),     SCMP_SYS(ppoll),    SCMP_SYS(fcntl),
	SCMP_SYS(shutdown), SCMP_SYS(readv),    SCMP_SYS(ioctl),
	SCMP_SYS(sysinfo),
};

/*
 * AddressSanitizer's runtime: a thread's exit frees its alternate signal
 * stack, and the leak check at exit stops the world from a cloned tracer
 * (ptrace, wait4) after reading /proc. Test builds only.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SECCOMP_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SECCOMP_SANITIZER 1
#endif
#endif

#ifdef SECCOMP_SANITIZER
static const int sanitizer_calls[] = {
	SCMP_SYS(sigaltstack),
	SCMP_SYS(getppid),
	SCMP_SYS(prctl),
	SCMP_SYS(open),
	SCMP_SYS(openat),
	SCMP_SYS(clone),
	SCMP_SYS(wait4),
	SCMP_SYS(ptrace),
	SCMP_SYS(getdents64),
	SCMP_SYS(getdents),
	SCMP_SYS(sched_getaffinity),
};
#define GROUP_SANITIZER GROUP_CALLS(sanitizer_calls)
#else
#define GROUP_SANITIZER                                                        \
	{                                                                      \
		NULL, 0, NULL, 0                                               \
	} /* nothing */
#endif

static const struct seccomp_group vcpu_groups[] = {
	GROUP_SANITIZER,
	GROUP_CALLS(common_calls),
	GROUP(vcpu_calls, vcpu_ioctls),
	GROUP(device_calls, device_ioctls),
};

static const struct seccomp_group loop_groups[] = {
	GROUP_SANITIZER,
	GROUP_CALLS(common_calls),
	GROUP(device_calls, device_ioctls),
	GROUP(loop_calls, loop_ioctls),
	GROUP_CALLS(fs_calls),
};

/* A loop thread that also builds VMs: all of the above and set-up. */
static const struct seccomp_group builder_groups[] = {
	GROUP_SANITIZER,
	GROUP_CALLS(common_calls),
	GROUP(vcpu_calls, vcpu_ioctls),
	GROUP(device_calls, device_ioctls),
	GROUP(loop_calls, loop_ioctls),
	GROUP_CALLS(fs_calls),
	GROUP(setup_calls, setup_ioctls),
};

/* The API thread starts VM threads, which inherit its filter. */
static const struct seccomp_group api_groups[] = {
	GROUP_SANITIZER,
	GROUP_CALLS(common_calls),
	GROUP(vcpu_calls, vcpu_ioctls),
	GROUP(device_calls, device_ioctls),
	GROUP(loop_calls, loop_ioctls),
	GROUP_CALLS(fs_calls),
	GROUP(setup_calls, setup_ioctls),
	GROUP_CALLS(api_calls),
};

struct seccomp_kind {
	const char *name;
	const struct seccomp_group *groups;
	unsigned int nr_groups;
};

static struct {
	enum seccomp_policy policy;
	enum seccomp_thread selftest;
	bool loop_builds_vms;
} seccomp_state;

/* Names of system calls for the SIGSYS handler, resolved beforehand. */
#define SECCOMP_NAMES_MAX 512
static char *seccomp_names[SECCOMP_NAMES_MAX];

static __thread char seccomp_thread_name[16];
static __thread bool seccomp_thread_filtered;

static struct seccomp_kind seccomp_kind_of(enum seccomp_thread kind)
{
	switch (kind) {
	case SECCOMP_THREAD_VCPU:
		return (struct seccomp_kind){"vcpu", vcpu_groups,
					     ARRAY_SIZE(vcpu_groups)};
	case SECCOMP_THREAD_LOOP:
		if (seccomp_state.loop_builds_vms)
			return (struct seccomp_kind){
				"loop", builder_groups,
				ARRAY_SIZE(builder_groups)};
		return (struct seccomp_kind){"loop", loop_groups,
					     ARRAY_SIZE(loop_groups)};
	case SECCOMP_THREAD_API:
		return (struct seccomp_kind){"api", api_groups,
					     ARRAY_SIZE(api_groups)};
	case SECCOMP_THREAD_NONE:
		break;
	}
	return (struct seccomp_kind){"none", NULL, 0};
}

int seccomp_policy_parse(const char *s, enum seccomp_policy *out)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "on") == 0)
		*out = SECCOMP_POLICY_ENFORCE;
	else if (strcmp(s, "log") == 0)
		*out = SECCOMP_POLICY_LOG;
	else if (strcmp(s, "false") == 0 || strcmp(s, "off") == 0)
		*out = SECCOMP_POLICY_OFF;
	else
		return -EINVAL;
	return 0;
}

int seccomp_thread_parse(const char *s, enum seccomp_thread *out)
{
	if (strcmp(s, "vcpu") == 0)
		*out = SECCOMP_THREAD_VCPU;
	else if (strcmp(s, "loop") == 0)
		*out = SECCOMP_THREAD_LOOP;
	else if (strcmp(s, "api") == 0)
		*out = SECCOMP_THREAD_API;
	else
		return -EINVAL;
	return 0;
}

enum seccomp_policy seccomp_policy_get(void)
{
	return seccomp_state.policy;
}

/* Appends s to buf at *pos, as far as it fits; async-signal-safe. */
static void seccomp_put(char *buf, size_t size, size_t *pos, const char *s)
{
	while (*s && *pos + 1 < size)
		buf[(*pos)++] = *s++;
}

static void seccomp_put_uint(char *buf, size_t size, size_t *pos,
			     unsigned long v)
{
	char digits[24];
	unsigned int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && *pos + 1 < size)
		buf[(*pos)++] = digits[--n];
}

/*
 * SIGSYS from SCMP_ACT_TRAP: one line, then the whole process ends. Only
 * async-signal-safe calls, and only ones every filter allows (write and
 * exit_group).
 */
static void seccomp_on_sigsys(int sig, siginfo_t *info, void *uctx)
{
	char line[192];
	size_t pos = 0;
	int nr = info->si_syscall;
	const char *name = nr >= 0 && nr < SECCOMP_NAMES_MAX &&
					   seccomp_names[nr]
				   ? seccomp_names[nr]
				   : "unknown";

	seccomp_put(line, sizeof(line), &pos,
		    "minnow: error: seccomp: thread ");
	seccomp_put(line, sizeof(line), &pos,
		    seccomp_thread_name[0] ? seccomp_thread_name : "?");
	seccomp_put(line, sizeof(line), &pos, " made forbidden system call ");
	seccomp_put_uint(line, sizeof(line), &pos, (unsigned long)nr);
	seccomp_put(line, sizeof(line), &pos, " (");
	seccomp_put(line, sizeof(line), &pos, name);
	seccomp_put(line, sizeof(line), &pos, ")\n");
	if (write(STDERR_FILENO, line, pos) < 0) {
		/* Nothing more to be done: the process ends either way. */
	}
	_exit(SECCOMP_EXIT_STATUS);
}

int seccomp_configure(enum seccomp_policy policy, enum seccomp_thread selftest,
		      bool loop_builds_vms)
{
	struct sigaction sa = {.sa_sigaction = seccomp_on_sigsys,
			       .sa_flags = SA_SIGINFO};

	seccomp_state.policy = policy;
	seccomp_state.selftest = selftest;
	seccomp_state.loop_builds_vms = loop_builds_vms;
	if (policy == SECCOMP_POLICY_OFF)
		return 0;

	/* Resolved now: the handler may not allocate. */
	for (int nr = 0; nr < SECCOMP_NAMES_MAX; nr++)
		if (!seccomp_names[nr])
			seccomp_names[nr] = seccomp_syscall_resolve_num_arch(
				SCMP_ARCH_NATIVE, nr);

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		int err = errno;

		log_error("seccomp: cannot install the SIGSYS handler: %s",
			  strerror(err));
		return -err;
	}
	return 0;
}

static int seccomp_add_group(scmp_filter_ctx ctx, const struct seccomp_group *g)
{
	int err;

	for (unsigned int i = 0; i < g->nr_syscalls; i++) {
		/* An ioctl with a request list is matched per request. */
		if (g->syscalls[i] == SCMP_SYS(ioctl))
			continue;
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, g->syscalls[i], 0);
		if (err)
			return err;
	}

	/* The kernel takes the request as unsigned int: compare 32 bits. */
	for (unsigned int i = 0; i < g->nr_ioctls; i++) {
		err = seccomp_rule_add(
			ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
			SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, g->ioctls[i]));
		if (err)
			return err;
	}
	return 0;
}

/* Builds and loads the filter for kind on the calling thread. */
static int seccomp_load_kind(const struct seccomp_kind *k)
{
	uint32_t action = seccomp_state.policy == SECCOMP_POLICY_LOG
				  ? SCMP_ACT_LOG
				  : SCMP_ACT_TRAP;
	scmp_filter_ctx ctx;
	int err;

	ctx = seccomp_init(action);
	if (!ctx)
		return -ENOMEM;
	/* A call through another ABI (i386, x32) ends the whole process. */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			       SCMP_ACT_KILL_PROCESS);
	for (unsigned int i = 0; i < k->nr_groups && !err; i++)
		err = seccomp_add_group(ctx, &k->groups[i]);
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}

/* Makes a call no filter allows: syslog(2) closing the log, a no-op. */
static void seccomp_selftest_run(const char *kind)
{
	long ret;

	log_warn("seccomp: self-test: thread %s calls syslog(2)",
		 seccomp_thread_name);
	ret = syscall(SYS_syslog, 0, NULL, 0);
	log_warn("seccomp: self-test: thread %s (%s) survived its forbidden "
		 "call (returned %ld): the policy only logs",
		 seccomp_thread_name, kind, ret);
}

int seccomp_thread_enter(enum seccomp_thread kind, const char *name)
{
	struct seccomp_kind k = seccomp_kind_of(kind);
	int err;

	snprintf(seccomp_thread_name, sizeof(seccomp_thread_name), "%s", name);
	if (seccomp_state.policy != SECCOMP_POLICY_OFF &&
	    !seccomp_thread_filtered) {
		err = seccomp_load_kind(&k);
		if (err) {
			log_error("seccomp: cannot install the %s filter on "
				  "thread %s: %s",
				  k.name, name, strerror(-err));
			return err;
		}
		seccomp_thread_filtered = true;
	}
	if (seccomp_state.selftest == kind)
		seccomp_selftest_run(k.name);
	return 0;
}

void seccomp_table_size(enum seccomp_thread kind, unsigned int *nr_syscalls,
			unsigned int *nr_ioctls)
{
	struct seccomp_kind k = seccomp_kind_of(kind);

	*nr_syscalls = *nr_ioctls = 0;
	for (unsigned int i = 0; i < k.nr_groups; i++) {
		*nr_syscalls += k.groups[i].nr_syscalls;
		*nr_ioctls += k.groups[i].nr_ioctls;
	}
}
