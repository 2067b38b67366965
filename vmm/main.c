/* minnow's entry point: subcommands and the `run` flow. */
#include "vmm/cli.h"
#include "vmm/console.h"
#include "vmm/legacy.h"
#include "vmm/log.h"
#include "vmm/vm.h"
#include "vmm/vm_devices.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd_run(int argc, char **argv)
{
	struct cli_run opts;
	struct vm_config config;
	struct boot_spec spec;
	struct console con;
	struct legacy_devices legacy;
	static struct vm vm;
	int status, err;

	err = cli_parse_run(argc, argv, &opts);
	if (err == 1) {
		cli_usage("minnow");
		return 0;
	}
	if (err)
		return VM_EXIT_USAGE;
	log_threshold = opts.log_level;

	/* A closed console reader must not kill the VM. */
	signal(SIGPIPE, SIG_IGN);

	config = (struct vm_config){
		.nr_cpus = opts.cpus,
		.mem_bytes = opts.mem_mib << 20,
		.hugepages = opts.hugepages,
		.cpu_template = opts.cpu_template,
	};
	spec = (struct boot_spec){
		.kernel_path = opts.kernel,
		.initrd_path = opts.initrd,
		.cmdline = opts.cmdline,
	};

	status = VM_EXIT_ERROR;
	err = console_open_output(&con, opts.serial == SERIAL_FILE
						? opts.serial_path
						: NULL);
	if (err)
		return VM_EXIT_ERROR;
	memset(&legacy, 0, sizeof(legacy));
	if (vm_create(&vm, &config))
		goto out;
	if (legacy_devices_attach(&legacy, &vm,
				  opts.serial == SERIAL_OFF ? NULL : &con,
				  opts.serial == SERIAL_STDIO))
		goto out;
	if (vm_devices_attach(&vm, &opts))
		goto out;
	if (opts.dump_dtb && vm_dump_dtb(&vm, opts.dump_dtb))
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

int main(int argc, char **argv)
{
	if (argc < 2) {
		cli_usage("minnow");
		return VM_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("minnow v%s\n", MINNOW_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cli_usage("minnow");
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);

	fprintf(stderr, "minnow: unknown command '%s' (see minnow --help)\n",
		argv[1]);
	return VM_EXIT_USAGE;
}
