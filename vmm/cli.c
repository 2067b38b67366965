/* Parsing `minnow run` flags, in Cloud Hypervisor's style where one exists. */
#include "vmm/cli.h"
#include "vmm/vm.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_CPUS,
	OPT_MEMORY,
	OPT_HUGEPAGES,
	OPT_SERIAL,
	OPT_CPU_TEMPLATE,
	OPT_LOG_LEVEL,
	OPT_DUMP_DTB,
	OPT_RNG,
	OPT_TIMINGS,
	OPT_DISK,
	OPT_NET,
	OPT_FS,
	OPT_VSOCK,
	OPT_SECCOMP,
	OPT_SECCOMP_SELFTEST,
	OPT_JAIL,
	OPT_HELP,
};

static const struct option run_options[] = {
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"initramfs", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"memory", required_argument, NULL, OPT_MEMORY},
	{"hugepages", no_argument, NULL, OPT_HUGEPAGES},
	{"serial", required_argument, NULL, OPT_SERIAL},
	{"cpu-template", required_argument, NULL, OPT_CPU_TEMPLATE},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"dump-dtb", required_argument, NULL, OPT_DUMP_DTB},
	{"rng", required_argument, NULL, OPT_RNG},
	{"timings", optional_argument, NULL, OPT_TIMINGS},
	{"disk", required_argument, NULL, OPT_DISK},
	{"net", required_argument, NULL, OPT_NET},
	{"fs", required_argument, NULL, OPT_FS},
	{"vsock", required_argument, NULL, OPT_VSOCK},
	{"seccomp", required_argument, NULL, OPT_SECCOMP},
	{"seccomp-selftest", required_argument, NULL, OPT_SECCOMP_SELFTEST},
	{"jail", required_argument, NULL, OPT_JAIL},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

void cli_usage(const char *prog)
{
	printf("Usage: %s run --kernel PATH [options]\n"
	       "       %s virtiofsd --socket-path PATH --shared-dir DIR "
	       "[--readonly]\n"
	       "       %s --version | --help\n"
	       "\n"
	       "Boots a kernel in a KVM virtual machine.\n"
	       "\n"
	       "  --kernel PATH           vmlinux (ELF, PVH or 64-bit entry) "
	       "or bzImage\n"
	       "  --initrd PATH           initial ramdisk (alias "
	       "--initramfs)\n"
	       "  --cmdline STR           kernel command line\n"
	       "  --cpus N | boot=N       vCPUs, 1 to %u (default %u)\n"
	       "  --memory MIB | size=S   guest RAM in MiB, or S with a "
	       "K/M/G suffix\n"
	       "                          (default %u MiB, a multiple of 2 "
	       "MiB)\n"
	       "  --hugepages             back guest RAM with 2 MiB huge "
	       "pages\n"
	       "  --serial MODE           stdio (or tty), file=PATH, off (or "
	       "null)\n"
	       "  --cpu-template NAME     host (default) or minimal\n"
	       "  --log-level LEVEL       error, warn, info (default) or "
	       "debug\n"
	       "  --dump-dtb PATH         write the VM's device tree to PATH\n"
	       "  --rng on|off            virtio-rng fed by getrandom() "
	       "(default on)\n"
	       "  --timings[=table|json] print start-up phase times on "
	       "stderr at exit\n"
	       "  --disk SPEC, --net SPEC, --fs SPEC, --vsock SPEC\n"
	       "                          virtio devices (see README), "
	       "repeatable\n"
	       "  --seccomp true|log|false system call filters (default "
	       "true)\n"
	       "  --jail DIR[,uid=N,...]  run in namespaces, chrooted to DIR "
	       "(docs/security.md)\n"
	       "\n"
	       "Exit status: 0 guest powered off, 1 minnow failed, 2 bad "
	       "usage,\n"
	       "3 guest reset, 4 guest crashed, 128+N stopped by signal N;\n"
	       "a guest's write of V to port 0x501 exits with V.\n",
	       prog, prog, prog, VM_MAX_CPUS, CLI_DEFAULT_CPUS,
	       CLI_DEFAULT_MEM_MIB);
}

static int cli_error(const char *flag, const char *value, const char *allowed)
{
	fprintf(stderr, "minnow: --%s: '%s' is not valid: %s\n", flag, value,
		allowed);
	return -EINVAL;
}

int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_cpus(const char *arg, unsigned int *cpus)
{
	uint64_t n;

	/* Cloud Hypervisor spells it boot=N. */
	if (strncmp(arg, "boot=", 5) == 0)
		arg += 5;
	if (cli_parse_uint(arg, 1, VM_MAX_CPUS, &n))
		return -EINVAL;
	*cpus = (unsigned int)n;
	return 0;
}

/* "512" (MiB) or Cloud Hypervisor's "size=512M" / "size=1G". */
static int parse_memory(const char *arg, uint64_t *mib)
{
	char number[32];
	uint64_t n, scale_kib = 1024;
	size_t len;

	if (strncmp(arg, "size=", 5) != 0) {
		if (cli_parse_uint(arg, 2, CLI_MAX_MEM_MIB, mib) || *mib % 2)
			return -EINVAL;
		return 0;
	}
	arg += 5;
	len = strlen(arg);
	if (len == 0 || len >= sizeof(number))
		return -EINVAL;
	memcpy(number, arg, len + 1);
	switch (number[len - 1]) {
	case 'K':
		scale_kib = 1;
		number[--len] = '\0';
		break;
	case 'M':
		number[--len] = '\0';
		break;
	case 'G':
		scale_kib = 1024 * 1024;
		number[--len] = '\0';
		break;
	default:
		/* A bare number is bytes, as in Cloud Hypervisor. */
		if (cli_parse_uint(number, 1, CLI_MAX_MEM_MIB << 20, &n) ||
		    n % (2 << 20))
			return -EINVAL;
		*mib = n >> 20;
		return 0;
	}
	if (cli_parse_uint(number, 1, CLI_MAX_MEM_MIB * 1024, &n))
		return -EINVAL;
	n *= scale_kib;
	if (n % 2048 || n / 1024 > CLI_MAX_MEM_MIB)
		return -EINVAL;
	*mib = n / 1024;
	return 0;
}

static int parse_serial(const char *arg, struct cli_run *out)
{
	if (strcmp(arg, "stdio") == 0 || strcmp(arg, "tty") == 0) {
		out->serial = SERIAL_STDIO;
	} else if (strcmp(arg, "off") == 0 || strcmp(arg, "null") == 0) {
		out->serial = SERIAL_OFF;
	} else if (strncmp(arg, "file=", 5) == 0 && arg[5]) {
		out->serial = SERIAL_FILE;
		out->serial_path = arg + 5;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int cli_add_device(struct cli_devices *list, const char *flag,
			  const char *spec)
{
	if (list->nr == CLI_MAX_DEVICES) {
		fprintf(stderr, "minnow: --%s: at most %d are allowed\n", flag,
			CLI_MAX_DEVICES);
		return -EINVAL;
	}
	list->specs[list->nr++] = spec;
	return 0;
}

static int cli_parse_one(int opt, const char *arg, struct cli_run *out)
{
	switch (opt) {
	case OPT_KERNEL:
		out->kernel = arg;
		return 0;
	case OPT_INITRD:
		out->initrd = arg;
		return 0;
	case OPT_CMDLINE:
		out->cmdline = arg;
		return 0;
	case OPT_CPUS:
		if (parse_cpus(arg, &out->cpus))
			return cli_error("cpus", arg,
					 "give a number from 1 to 64 "
					 "(or boot=N)");
		return 0;
	case OPT_MEMORY:
		if (parse_memory(arg, &out->mem_mib))
			return cli_error("memory", arg,
					 "give MiB as an even number, or "
					 "size=N with K, M or G, a multiple "
					 "of 2 MiB up to 1 TiB");
		return 0;
	case OPT_HUGEPAGES:
		out->hugepages = true;
		return 0;
	case OPT_SERIAL:
		if (parse_serial(arg, out))
			return cli_error("serial", arg,
					 "use stdio, tty, file=PATH, off or "
					 "null");
		return 0;
	case OPT_CPU_TEMPLATE:
		if (cpu_template_parse(arg, &out->cpu_template))
			return cli_error("cpu-template", arg,
					 "use host or minimal");
		return 0;
	case OPT_LOG_LEVEL:
		if (log_level_parse(arg, &out->log_level))
			return cli_error("log-level", arg,
					 "use error, warn, info or debug");
		return 0;
	case OPT_DUMP_DTB:
		out->dump_dtb = arg;
		return 0;
	case OPT_RNG:
		if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0)
			return cli_error("rng", arg, "use on or off");
		out->rng = strcmp(arg, "on") == 0;
		return 0;
	case OPT_TIMINGS:
		if (!arg || strcmp(arg, "table") == 0)
			out->timings = CLI_TIMINGS_TABLE;
		else if (strcmp(arg, "json") == 0)
			out->timings = CLI_TIMINGS_JSON;
		else
			return cli_error("timings", arg, "use table or json");
		return 0;
	case OPT_DISK:
		return cli_add_device(&out->disks, "disk", arg);
	case OPT_NET:
		return cli_add_device(&out->nets, "net", arg);
	case OPT_FS:
		return cli_add_device(&out->fs, "fs", arg);
	case OPT_VSOCK:
		return cli_add_device(&out->vsock, "vsock", arg);
	case OPT_SECCOMP:
		if (seccomp_policy_parse(arg, &out->seccomp))
			return cli_error("seccomp", arg,
					 "use true, log or false");
		return 0;
	case OPT_SECCOMP_SELFTEST:
		if (seccomp_thread_parse(arg, &out->seccomp_selftest))
			return cli_error("seccomp-selftest", arg,
					 "use vcpu, loop or api");
		return 0;
	case OPT_JAIL:
		out->jail = arg;
		return 0;
	default:
		return -EINVAL;
	}
}

int cli_parse_run(int argc, char **argv, struct cli_run *out)
{
	int opt, err;

	*out = (struct cli_run){
		.cmdline = "",
		.cpus = CLI_DEFAULT_CPUS,
		.mem_mib = CLI_DEFAULT_MEM_MIB,
		.serial = SERIAL_STDIO,
		.cpu_template = CPU_TEMPLATE_HOST,
		.log_level = LOG_INFO,
		.rng = true,
	};

	/* Parse from argv[0] = "run"; quiet, since we word our own errors. */
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", run_options, NULL)) != -1) {
		if (opt == OPT_HELP)
			return 1;
		if (opt == '?') {
			fprintf(stderr,
				"minnow: unknown option '%s' (see "
				"minnow --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		}
		if (opt == ':') {
			fprintf(stderr, "minnow: option '%s' needs a value\n",
				argv[optind - 1]);
			return -EINVAL;
		}
		err = cli_parse_one(opt, optarg, out);
		if (err)
			return err;
	}
	if (optind < argc) {
		fprintf(stderr, "minnow: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	if (!out->kernel) {
		fprintf(stderr, "minnow: --kernel PATH is required\n");
		return -EINVAL;
	}
	return 0;
}
