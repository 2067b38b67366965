/* Create, boot and run a VM from a parsed configuration. */
#include "vmm/launch.h"
#include "vmm/console.h"
#include "vmm/legacy.h"
#include "vmm/log.h"
#include "vmm/timings.h"
#include "vmm/vm.h"
#include "vmm/vm_devices.h"

#include <string.h>

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

int launch_run(const struct cli_run *opts)
{
	static struct launch l;
	int status = VM_EXIT_ERROR;

	if (launch_prepare(&l, opts) == 0)
		status = vm_run(&l.vm);
	launch_cleanup(&l);
	return status;
}
