/*
 * libFuzzer target for `minnow run` flag parsing: the input is split at
 * NUL bytes into arguments.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli.h"

#define FUZZ_MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[FUZZ_MAX_ARGS + 2];
	char *copy = malloc(size + 1);
	struct cli_run opts;
	int argc = 1;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';

	argv[0] = "run";
	for (char *p = copy; p <= copy + size && argc <= FUZZ_MAX_ARGS;
	     p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;

	cli_parse_run(argc, argv, &opts);
	free(copy);
	return 0;
}
