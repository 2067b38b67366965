/* Create, boot and run a VM from a parsed configuration. */
#include "vmm/launch.h"
#include "vmm/caps.h"
#include "vmm/console.h"
#include "vmm/jail.h"
#include "vmm/legacy.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/timings.h"
#include "vmm/vm.h"
#include "vmm/vm_devices.h"

#include <string.h>
#include <unistd.h>

static void launch_print_timings(struct legacy_devices *legacy, bool json)
{
	const struct debug_port_marker *markers = NULL;
	size_t nr = 0;

	if (legacy->has_debug)
		markers = debug_port_markers(&legacy->debug, &nr);
	timings_print(stderr, json, markers, nr);
}

int launch_prepare(struct launch *l, const struct cli_run *opts)
{
	struct vm_config config = {
		.nr_cpus = opts->cpus,
		.mem_bytes = opts->mem_mib << 20,
		.hugepages = opts->hugepages,
		.cpu_template = opts->cpu_template,
	};
	struct boot_spec spec = {
		.kernel_path = opts->kernel,
		.initrd_path = opts->initrd,
		.cmdline = opts->cmdline,
	};
	int err;

	l->opts = opts;
	l->vm_created = false;
	memset(&l->legacy, 0, sizeof(l->legacy));
	err = console_open_output(&l->con, opts->serial == SERIAL_FILE
						   ? opts->serial_path
						   : NULL);
	if (err)
		return err;
	l->con_open = true;

	l->vm_created = true;
	err = vm_create(&l->vm, &config);
	if (err)
		return err;
	err = legacy_devices_attach(&l->legacy, &l->vm,
				    opts->serial == SERIAL_OFF ? NULL : &l->con,
				    opts->serial == SERIAL_STDIO);
	if (err)
		return err;
	err = vm_devices_attach(&l->vm, opts);
	if (err)
		return err;
	timings_mark(TIMING_DEVICES_READY);
	if (opts->dump_dtb) {
		err = vm_dump_dtb(&l->vm, opts->dump_dtb);
		if (err)
			return err;
	}
	err = vm_load_kernel(&l->vm, &spec);
	if (err)
		return err;
	timings_mark(TIMING_KERNEL_LOADED);
	return 0;
}

void launch_cleanup(struct launch *l)
{
	const struct cli_run *opts = l->opts;

	if (l->vm_created) {
		if (opts->timings != CLI_TIMINGS_OFF)
			timings_set_guest_resident(
				gmem_resident_bytes(&l->vm.mem));
		vm_destroy(&l->vm);
	}
	l->vm_created = false;
	timings_mark(TIMING_EXIT);
	if (opts->timings != CLI_TIMINGS_OFF)
		launch_print_timings(&l->legacy,
				     opts->timings == CLI_TIMINGS_JSON);
	legacy_devices_destroy(&l->legacy);
	if (l->con_open)
		console_close(&l->con);
	l->con_open = false;
}

/* Before anything is opened: the jail, if asked for. */
static int launch_enter_jail(const struct cli_run *opts)
{
	static struct jail_spec jail;
	int err;

	if (!opts->jail)
		return 0;
	err = jail_spec_parse(opts->jail, &jail);
	if (err)
		return err;
	jail.need_tun = opts->nets.nr > 0;
	return jail_enter(&jail);
}

/*
 * Once the devices are open: the jail's user, no capabilities (but a
 * root file server's), no new privileges, and the seccomp policy that
 * vm_run()'s threads apply to themselves.
 */
static int launch_confine(const struct cli_run *opts)
{
	bool keep_fs;
	int err;

	err = seccomp_configure(opts->seccomp, opts->seccomp_selftest, false);
	if (err)
		return err;
	if (jail_wants_ids()) {
		err = caps_drop_bounding();
		if (!err)
			err = jail_drop_ids();
		if (err)
			return err;
	}
	keep_fs = opts->fs.nr > 0 && geteuid() == 0;
	return caps_drop(keep_fs);
}

int launch_run(const struct cli_run *opts)
{
	static struct launch l;
	int status = VM_EXIT_ERROR;

	if (launch_enter_jail(opts))
		return VM_EXIT_ERROR;
	if (launch_prepare(&l, opts) == 0 && launch_confine(opts) == 0)
		status = vm_run(&l.vm);
	launch_cleanup(&l);
	return status;
}
