/* minnow's entry point: subcommands. */
#include "vmm/cli.h"
#include "vmm/launch.h"
#include "vmm/log.h"
#include "vmm/pod.h"
#include "vmm/timings.h"
#include "vmm/virtiofsd.h"
#include "vmm/vm.h"
#include "vmm/vmm_main.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static int cmd_run(int argc, char **argv)
{
	struct cli_run opts;
	int err;

	err = cli_parse_run(argc, argv, &opts);
	if (err == 1) {
		cli_usage("minnow");
		return 0;
	}
	if (err)
		return VM_EXIT_USAGE;
	log_threshold = opts.log_level;
	return launch_run(&opts);
}

int main(int argc, char **argv)
{
	const char *self;

	timings_mark(TIMING_MAIN);

	/* A closed console reader must not kill the VM. */
	signal(SIGPIPE, SIG_IGN);

	/* Started as "virtiofsd" (a symlink), e.g. by the Kata runtime. */
	self = strrchr(argv[0], '/');
	if (strcmp(self ? self + 1 : argv[0], "virtiofsd") == 0)
		return virtiofsd_main(argc, argv);
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
	/* Cloud Hypervisor's command line, as the Kata runtime gives it. */
	if (vmm_main_wants(argv[1]))
		return vmm_main(argc, argv);
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "pod") == 0)
		return pod_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "virtiofsd") == 0)
		return virtiofsd_main(argc - 1, argv + 1);

	fprintf(stderr, "minnow: unknown command '%s' (see minnow --help)\n",
		argv[1]);
	return VM_EXIT_USAGE;
}
