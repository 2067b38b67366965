/*
 * The REST API's VM: one VM at a time, run by launch_prepare() and
 * vm_run() on a thread of its own while the API thread keeps serving.
 *
 * Every function here is called from the API thread only. The VM thread
 * reboots the VM itself when the guest resets, and ends when the VM stops
 * for good; if the guest (not the API) stopped it, the event fd becomes
 * readable and api_vm_guest_exit() says with which status.
 */
#ifndef MINNOW_API_VM_H
#define MINNOW_API_VM_H

#include <pthread.h>
#include <stdbool.h>

#include "vmm/cli.h"
#include "vmm/launch.h"

enum api_vm_state {
	API_VM_CREATED, /* never booted */
	API_VM_RUNNING,
	API_VM_PAUSED,
	API_VM_SHUTDOWN, /* booted once, stopped now */
};

struct api_vm {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct cli_run run; /* what the VM thread boots, again on reboot */
	struct launch *launch;
	pthread_t thread;
	bool thread_started; /* not yet joined */
	bool vm_live;        /* launch->vm exists and may be used */
	enum api_vm_state state;
	unsigned int generation; /* launch_prepare() attempts so far */
	int prepare_err;
	bool reboot_requested;
	bool stop_requested; /* by the API: do not reboot, do not exit */
	bool guest_exited;
	int exit_status;
	int event_fd; /* eventfd: the guest ended the VM */
};

/* Returns 0 or a negative errno. */
int api_vm_init(struct api_vm *v);

/* Stops a running VM and frees everything. */
void api_vm_destroy(struct api_vm *v);

enum api_vm_state api_vm_state(struct api_vm *v);

/*
 * Boots a VM from run (copied; its strings must outlive the VM). Returns
 * once the VM is built and its vCPUs are starting: 0, or the negative
 * errno launch_prepare() gave (it logged why). -EBUSY when one is live.
 */
int api_vm_boot(struct api_vm *v, const struct cli_run *run);

/* Stops the VM and waits for its thread. 0, or -ESRCH if none runs. */
int api_vm_shutdown(struct api_vm *v);

/* 0, or -ESRCH when not running (pause) or not paused (resume). */
int api_vm_pause(struct api_vm *v);
int api_vm_resume(struct api_vm *v);

/*
 * Stops the VM and boots it again from the same options. Returns 0,
 * -ESRCH when none runs, or the error of the new boot.
 */
int api_vm_reboot(struct api_vm *v);

/* After vm.delete (the VM stopped): the next VM starts as Created. */
void api_vm_forget(struct api_vm *v);

/* True, with the status, once the guest ended the VM by itself. */
bool api_vm_guest_exit(struct api_vm *v, int *status);

#endif
