/* Create, boot and run a VM from a parsed configuration. */
#include "vmm/launch.h"
#include "vmm/console.h"
#include "vmm/legacy.h"
#include "vmm/log.h"
#include "vmm/vm.h"
#include "vmm/vm_devices.h"

#include <string.h>

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
	if (opts->dump_dtb && vm_dump_dtb(&vm, opts->dump_dtb))
		goto out;
	if (vm_load_kernel(&vm, &spec))
		goto out;
	status = vm_run(&vm);

out:
	vm_destroy(&vm);
	legacy_devices_destroy(&legacy);
	console_close(&con);
	return status;
}
