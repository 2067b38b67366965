/*
 * seccomp-bpf filters, one allow-list per kind of thread, each installed by
 * the thread itself once set-up is finished (libseccomp).
 *
 * Order: seccomp_configure() once, from main(), before any thread starts;
 * then each thread calls seccomp_thread_enter() with its kind:
 *  - a vCPU thread at its start, before its first KVM_RUN (vmm/vcpu.c);
 *  - the event-loop thread in vm_run(), after it started the vCPU threads
 *    and before the loop runs (vmm/vm.c);
 *  - the API thread just before it serves (vmm/vmm_main.c).
 * A filter cannot be removed and a thread created later inherits its
 * creator's filter, so a kind whose thread creates others (the API thread
 * creates VM threads, which create vCPU threads) must allow what those
 * threads do as well; the tables in seccomp.c are built that way.
 *
 * Policies: ENFORCE (default): a forbidden call raises SIGSYS; the handler
 * writes "minnow: error: seccomp: thread NAME made forbidden system call
 * NR (NAME)" to stderr and ends the process with status 128 + SIGSYS (159).
 * LOG: a forbidden call is allowed and the kernel logs it (audit record
 * type=1326 in dmesg or the audit log, with comm= the thread's name and
 * syscall= its number; see docs/security.md). OFF: no filter.
 *
 * Self-test (a hidden flag, not in --help): `--seccomp-selftest=vcpu|loop|
 * api` makes that kind of thread call syslog(2) right after it installed
 * its filter: with ENFORCE the process must die with the line above, with
 * LOG it must go on. tests/security drives it.
 */
#ifndef MINNOW_SECCOMP_H
#define MINNOW_SECCOMP_H

#include <stdbool.h>

enum seccomp_policy {
	SECCOMP_POLICY_ENFORCE, /* forbidden call: log line, process ends */
	SECCOMP_POLICY_LOG,     /* forbidden call: kernel audit log only */
	SECCOMP_POLICY_OFF,     /* no filters */
};

enum seccomp_thread {
	SECCOMP_THREAD_NONE, /* self-test off */
	SECCOMP_THREAD_VCPU,
	SECCOMP_THREAD_LOOP,
	SECCOMP_THREAD_API,
};

/* The exit status after a forbidden call under ENFORCE: 128 + SIGSYS. */
#define SECCOMP_EXIT_STATUS 159

/* "true", "log" or "false" (also "on"/"off"). 0 or -EINVAL. */
int seccomp_policy_parse(const char *s, enum seccomp_policy *out);

/* "vcpu", "loop" or "api", for --seccomp-selftest. 0 or -EINVAL. */
int seccomp_thread_parse(const char *s, enum seccomp_thread *out);

/*
 * Sets the process-wide policy and self-test; installs the SIGSYS
 * handler. loop_builds_vms: the event-loop thread also builds VMs after
 * its filter is in place (the REST API's VM thread reboots a VM on the
 * same thread), so its filter allows VM set-up too. Call once, before
 * any other thread starts. Returns 0 or a negative errno (logged).
 */
int seccomp_configure(enum seccomp_policy policy, enum seccomp_thread selftest,
		      bool loop_builds_vms);

/* The configured policy (ENFORCE until seccomp_configure()). */
enum seccomp_policy seccomp_policy_get(void);

/*
 * Installs kind's filter on the calling thread (nothing under OFF; once
 * per thread: a second call for a thread that has one returns 0), then
 * runs the self-test if it names kind. name is how the log line calls
 * the thread (copied; at most 15 characters). Returns 0 or a negative
 * errno after a log line; the caller must then stop the VM.
 */
int seccomp_thread_enter(enum seccomp_thread kind, const char *name);

/* For tests: how many system calls and ioctl requests kind allows. */
void seccomp_table_size(enum seccomp_thread kind, unsigned int *nr_syscalls,
			unsigned int *nr_ioctls);

#endif
