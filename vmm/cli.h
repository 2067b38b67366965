/*
 * The command line: `minnow run ...` parsed into a cli_run. Parsing is
 * separate from acting on it so that tests (and fuzzers) can drive it.
 */
#ifndef MINNOW_CLI_H
#define MINNOW_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/cpuid.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"

enum serial_mode {
	SERIAL_STDIO, /* output to stdout, input from stdin */
	SERIAL_FILE,  /* output to a file, no input */
	SERIAL_OFF,   /* no COM1 at all */
};

enum cli_timings { CLI_TIMINGS_OFF, CLI_TIMINGS_TABLE, CLI_TIMINGS_JSON };

#define CLI_DEFAULT_CPUS    1
#define CLI_DEFAULT_MEM_MIB 512
#define CLI_MAX_MEM_MIB     (1024ull * 1024) /* 1 TiB */

/* Repeatable device flags; each device's own parser reads the strings. */
#define CLI_MAX_DEVICES 8

struct cli_devices {
	unsigned int nr;
	const char *specs[CLI_MAX_DEVICES];
};

struct cli_run {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	unsigned int cpus;
	uint64_t mem_mib;
	bool hugepages;
	enum serial_mode serial;
	const char *serial_path;
	enum cpu_template cpu_template;
	enum log_level log_level;
	const char *dump_dtb;
	bool rng;
	enum cli_timings timings;
	struct cli_devices disks; /* --disk */
	struct cli_devices nets;  /* --net */
	struct cli_devices fs;    /* --fs */
	struct cli_devices vsock; /* --vsock */
	/* --seccomp (default true), its hidden self-test, --jail SPEC. */
	enum seccomp_policy seccomp;
	enum seccomp_thread seccomp_selftest;
	const char *jail;
};

/*
 * Parses the arguments after "run". Returns 0, or -EINVAL after printing
 * one message that names the flag and what is allowed. Prints help and
 * returns 1 for --help.
 */
int cli_parse_run(int argc, char **argv, struct cli_run *out);

void cli_usage(const char *prog);

/*
 * A whole decimal number in [min, max]: digits only, no sign, spaces or
 * suffix. Returns 0 or -EINVAL. Shared by every option parser.
 */
int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
