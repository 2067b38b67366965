/*
 * Building and running a VM from a parsed configuration: what `minnow run`
 * does, shared by every front end (the CLI, the REST API, `pod run`).
 */
#ifndef MINNOW_LAUNCH_H
#define MINNOW_LAUNCH_H

#include "vmm/cli.h"

/*
 * Creates the VM described by opts, boots it and runs it on the calling
 * thread until it stops. Returns minnow's exit status (enum vm_exit, or
 * the guest's debug-exit code).
 */
int launch_run(const struct cli_run *opts);

#endif
