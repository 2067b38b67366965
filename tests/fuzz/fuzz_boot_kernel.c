/*
 * libFuzzer target: any bytes as a kernel file, through format detection,
 * the ELF or bzImage loader and the boot structures, into 64 MiB of RAM.
 * Nearly every input is refused with a log line: run with -close_fd_mask=2.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot/boot.h"
#include "vmm/gmem.h"
#include "vmm/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gmem fuzz_gm;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct boot_spec spec = {.cmdline = "console=ttyS0", .nr_cpus = 2};
	struct boot_entry entry;
	char path[64];
	int fd;

	if (!fuzz_gm.base) {
		if (gmem_init(&fuzz_gm, 64ull << 20, false))
			abort();
	}

	fd = memfd_create("minnow-fuzz-kernel", MFD_CLOEXEC);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	spec.kernel_path = path;

	boot_load(&fuzz_gm, &spec, &entry);
	close(fd);
	return 0;
}
