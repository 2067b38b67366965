/*
 * `minnow --api-socket PATH [-v...] [--seccomp X] [--config FILE]`: the
 * process the Kata runtime starts in place of cloud-hypervisor.
 */
#include "vmm/vmm_main.h"
#include "vmm/api.h"
#include "vmm/caps.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VMM_CONFIG_MAX_BYTES (1u << 20)

struct vmm_args {
	const char *api_socket;
	const char *config;
	enum log_level log_level;
	enum seccomp_policy seccomp;
	enum seccomp_thread seccomp_selftest; /* hidden, see seccomp.h */
};

bool vmm_main_wants(const char *arg)
{
	return strncmp(arg, "--api-socket", 12) == 0 ||
	       strncmp(arg, "-v", 2) == 0 || strcmp(arg, "--seccomp") == 0;
}

static void vmm_usage(void)
{
	fprintf(stderr,
		"Usage: minnow --api-socket PATH [--config FILE] [-v...] "
		"[--seccomp true|false|log]\n"
		"Serves Cloud Hypervisor's REST API on a unix socket at "
		"PATH;\n"
		"with --config, boots the VmConfig (JSON) in FILE at "
		"once.\n");
}

/* "-v", "-vv", ...: each v is one level louder, from warn. */
static int vmm_parse_verbose(const char *arg, enum log_level *level)
{
	for (const char *p = arg + 1; *p; p++) {
		if (*p != 'v')
			return -EINVAL;
		if (*level < LOG_DEBUG)
			(*level)++;
	}
	return 0;
}

/* Takes --flag VALUE or --flag=VALUE; advances *i past what it used. */
static const char *vmm_value(int argc, char **argv, int *i, const char *flag)
{
	size_t len = strlen(flag);

	if (argv[*i][len] == '=')
		return argv[*i] + len + 1;
	if (*i + 1 >= argc) {
		fprintf(stderr, "minnow: %s needs a value\n", flag);
		return NULL;
	}
	return argv[++*i];
}

static bool vmm_is_flag(const char *arg, const char *flag)
{
	size_t len = strlen(flag);

	return strncmp(arg, flag, len) == 0 &&
	       (arg[len] == '\0' || arg[len] == '=');
}

static int vmm_parse_args(int argc, char **argv, struct vmm_args *out)
{
	const char *v;

	*out = (struct vmm_args){.log_level = LOG_WARN};
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (vmm_is_flag(arg, "--api-socket")) {
			v = vmm_value(argc, argv, &i, "--api-socket");
			if (!v)
				return -EINVAL;
			/* Cloud Hypervisor also takes path=PATH. */
			out->api_socket = strncmp(v, "path=", 5) ? v : v + 5;
		} else if (vmm_is_flag(arg, "--config")) {
			out->config = vmm_value(argc, argv, &i, "--config");
			if (!out->config)
				return -EINVAL;
		} else if (vmm_is_flag(arg, "--seccomp")) {
			v = vmm_value(argc, argv, &i, "--seccomp");
			if (!v || seccomp_policy_parse(v, &out->seccomp)) {
				fprintf(stderr, "minnow: --seccomp: use true, "
						"log or false\n");
				return -EINVAL;
			}
		} else if (vmm_is_flag(arg, "--seccomp-selftest")) {
			v = vmm_value(argc, argv, &i, "--seccomp-selftest");
			if (!v ||
			    seccomp_thread_parse(v, &out->seccomp_selftest)) {
				fprintf(stderr, "minnow: --seccomp-selftest: "
						"use vcpu, loop or api\n");
				return -EINVAL;
			}
		} else if (vmm_is_flag(arg, "--log-level")) {
			v = vmm_value(argc, argv, &i, "--log-level");
			if (!v || log_level_parse(v, &out->log_level)) {
				fprintf(stderr, "minnow: --log-level: use "
						"error, warn, info or debug\n");
				return -EINVAL;
			}
		} else if (arg[0] == '-' && arg[1] == 'v') {
			if (vmm_parse_verbose(arg, &out->log_level)) {
				fprintf(stderr, "minnow: unknown option '%s'\n",
					arg);
				return -EINVAL;
			}
		} else {
			fprintf(stderr, "minnow: unknown option '%s'\n", arg);
			vmm_usage();
			return -EINVAL;
		}
	}
	if (!out->api_socket || !*out->api_socket) {
		fprintf(stderr, "minnow: --api-socket PATH is required\n");
		vmm_usage();
		return -EINVAL;
	}
	return 0;
}

/* Reads all of path (a VmConfig); returns a malloc'd buffer or NULL. */
static char *vmm_read_config(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf;

	if (!f) {
		log_error("api: --config: cannot open %s: %s", path,
			  strerror(errno));
		return NULL;
	}
	buf = malloc(VMM_CONFIG_MAX_BYTES + 1);
	*len = buf ? fread(buf, 1, VMM_CONFIG_MAX_BYTES + 1, f) : 0;
	if (buf && (*len > VMM_CONFIG_MAX_BYTES || ferror(f))) {
		log_error("api: --config: cannot read %s (at most %u bytes)",
			  path, VMM_CONFIG_MAX_BYTES);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf)
		buf[*len] = '\0';
	return buf;
}

int vmm_main(int argc, char **argv)
{
	struct vmm_args args;
	struct api_vmm vmm;
	sigset_t mask;
	int status;

	if (vmm_parse_args(argc, argv, &args))
		return VM_EXIT_USAGE;
	log_threshold = args.log_level;

	/* Every thread started from here on inherits this mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);

	/*
	 * The runtime hands over tap fds, so no capability is needed past
	 * this point but a root file server's. VM threads reboot their VM
	 * after their filter is in: the loop's filter allows building one.
	 */
	if (seccomp_configure(args.seccomp, args.seccomp_selftest, true) ||
	    caps_drop(geteuid() == 0))
		return VM_EXIT_ERROR;

	if (api_vmm_init(&vmm)) {
		log_error("api: cannot set up: out of memory or eventfd");
		return VM_EXIT_ERROR;
	}
	if (args.config) {
		size_t len = 0;
		char *json = vmm_read_config(args.config, &len);
		int err = json ? api_vmm_create_and_boot(&vmm, json, len)
			       : -EINVAL;

		free(json);
		if (err) {
			api_vmm_destroy(&vmm);
			return VM_EXIT_ERROR;
		}
	}
	if (seccomp_thread_enter(SECCOMP_THREAD_API, "api")) {
		api_vmm_destroy(&vmm);
		return VM_EXIT_ERROR;
	}
	status = api_server_run(&vmm, args.api_socket);
	api_vmm_destroy(&vmm);
	return status;
}
