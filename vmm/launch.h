/*
 * Building and running a VM from a parsed configuration: what `minnow run`
 * does, shared by every front end (the CLI, the REST API, `pod run`).
 */
#ifndef MINNOW_LAUNCH_H
#define MINNOW_LAUNCH_H

#include <stdbool.h>

#include "vmm/cli.h"
#include "vmm/console.h"
#include "vmm/legacy.h"
#include "vmm/vm.h"

/* One VM being built or run, and the host side of its devices. */
struct launch {
	const struct cli_run *opts;
	struct vm vm;
	bool vm_created;
	struct legacy_devices legacy;
	struct console con;
	bool con_open;
};

/*
 * Creates the VM described by opts, boots it and runs it on the calling
 * thread until it stops. Returns minnow's exit status (enum vm_exit, or
 * the guest's debug-exit code).
 */
int launch_run(const struct cli_run *opts);

/*
 * launch_run() in steps, for front ends that run the VM on a thread of
 * their own: launch_prepare() creates the VM, attaches its devices and
 * loads the kernel (0 or a negative errno after a message); vm_run(&l->vm)
 * runs it; launch_cleanup() frees everything, whether or not prepare
 * succeeded. opts must stay valid until launch_cleanup().
 */
int launch_prepare(struct launch *l, const struct cli_run *opts);
void launch_cleanup(struct launch *l);

#endif
