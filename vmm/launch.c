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

int launch_run(const struct cli_run *opts)
{
	static struct vm vm;
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
	struct legacy_devices legacy;
	struct console con;
	int status = VM_EXIT_ERROR;

	if (console_open_output(&con, opts->serial == SERIAL_FILE
					      ? opts->serial_path
					      : NULL))
		return VM_EXIT_ERROR;
	memset(&legacy, 0, sizeof(legacy));

	if (vm_create(&vm, &config))
		goto out;
	if (legacy_devices_attach(&legacy, &vm,
				  opts->serial == SERIAL_OFF ? NULL : &con,
				  opts->serial == SERIAL_STDIO))
		goto out;
	if (vm_devices_attach(&vm, opts))
		goto out;
	timings_mark(TIMING_DEVICES_READY);
	if (opts->dump_dtb && vm_dump_dtb(&vm, opts->dump_dtb))
		goto out;
	if (vm_load_kernel(&vm, &spec))
		goto out;
	timings_mark(TIMING_KERNEL_LOADED);
	status = vm_run(&vm);

out:
	vm_destroy(&vm);
	timings_mark(TIMING_EXIT);
	if (opts->timings != CLI_TIMINGS_OFF)
		launch_print_timings(&legacy, opts->timings == CLI_TIMINGS_JSON);
	legacy_devices_destroy(&legacy);
	console_close(&con);
	return status;
}
