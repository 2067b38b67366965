/*
 * boot_load(): recognises the kernel's format, loads it, places the
 * command line and initrd, and writes every structure the entry needs.
 */
#include "boot/boot.h"
#include "boot/boot_internal.h"
#include "boot/layout.h"
#include "vmm/log.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_SIZE 0x1000ull

/* Opens path for reading and returns its size; logs on failure. */
static int boot_open(const char *path, const char *what, uint64_t *size)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		log_error("boot: cannot open %s %s: %s", what, path,
			  strerror(-err));
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		log_error("boot: %s: %s", path, strerror(-err));
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		log_error("boot: %s: %s is not a regular file", path, what);
		goto err_close;
	}
	*size = (uint64_t)st.st_size;
	return fd;

err_close:
	close(fd);
	return err;
}

/* ELF by its magic; a bzImage by "HdrS" in its setup header. */
static int boot_detect(int fd, uint64_t size, const char *path,
		       enum boot_format *format)
{
	uint8_t ident[SELFMAG];
	uint32_t magic;

	if (size >= SELFMAG && boot_read_full(fd, ident, SELFMAG, 0) == 0 &&
	    memcmp(ident, ELFMAG, SELFMAG) == 0) {
		*format = BOOT_FORMAT_ELF;
		return 0;
	}
	if (size >= BOOT_HDR_OFF(header) + sizeof(magic) &&
	    boot_read_full(fd, &magic, sizeof(magic), BOOT_HDR_OFF(header)) ==
		    0 &&
	    magic == BOOT_HDRS_MAGIC) {
		*format = BOOT_FORMAT_BZIMAGE;
		return 0;
	}
	log_error("boot: %s: neither an ELF vmlinux nor a bzImage", path);
	return -ENOEXEC;
}

static int boot_place_cmdline(struct gmem *gm, const struct boot_kernel *k,
			      const char *cmdline, const char *path,
			      struct boot_placement *place)
{
	size_t len = strlen(cmdline);
	uint64_t max = k->cmdline_max;

	if (max > LAYOUT_CMDLINE_MAX - 1)
		max = LAYOUT_CMDLINE_MAX - 1;
	if (len > max) {
		log_error("boot: %s: command line of %zu bytes is longer "
			  "than the %llu bytes the kernel accepts",
			  path, len, (unsigned long long)max);
		return -EINVAL;
	}
	place->cmdline = LAYOUT_CMDLINE_ADDR;
	place->cmdline_len = len;
	return gmem_write(gm, LAYOUT_CMDLINE_ADDR, cmdline, len + 1);
}

/*
 * The initrd goes page-aligned as high as the kernel allows in low RAM,
 * which keeps it clear of the kernel as it decompresses and sets up.
 */
static int boot_place_initrd(struct gmem *gm, const struct boot_kernel *k,
			     const char *path, struct boot_placement *place)
{
	uint64_t size, top = gmem_low_end(gm);
	gpa_t addr;
	void *dst;
	int fd, err;

	fd = boot_open(path, "initrd", &size);
	if (fd < 0)
		return fd;

	if (k->initrd_end < top)
		top = k->initrd_end;
	top &= ~(PAGE_SIZE - 1);
	if (size == 0 || size > top ||
	    ((top - size) & ~(PAGE_SIZE - 1)) < k->end) {
		log_error("boot: %s: initrd of %llu bytes does not fit between "
			  "the kernel's end at 0x%llx and 0x%llx",
			  path, (unsigned long long)size,
			  (unsigned long long)k->end, (unsigned long long)top);
		err = -ENOEXEC;
		goto out;
	}
	addr = (top - size) & ~(PAGE_SIZE - 1);

	dst = gmem_ptr(gm, addr, size);
	err = dst ? boot_read_full(fd, dst, size, 0) : -EFAULT;
	if (err) {
		if (err == -ENODATA)
			err = -EIO;
		log_error("boot: %s: read: %s", path, strerror(-err));
		goto out;
	}
	place->initrd = addr;
	place->initrd_size = size;

out:
	close(fd);
	return err;
}

static int boot_load_kernel(struct gmem *gm, const char *path,
			    struct boot_kernel *k)
{
	enum boot_format format;
	uint64_t size;
	int fd, err;

	fd = boot_open(path, "kernel", &size);
	if (fd < 0)
		return fd;
	err = boot_detect(fd, size, path, &format);
	if (!err && format == BOOT_FORMAT_ELF)
		err = boot_elf_load(gm, fd, size, path, k);
	else if (!err)
		err = boot_bzimage_load(gm, fd, size, path, k);
	close(fd);
	return err;
}

static int boot_write_tables(struct gmem *gm, const struct boot_kernel *k,
			     const struct boot_placement *place,
			     unsigned int nr_cpus, struct boot_entry *entry)
{
	int err;

	if (k->kind == BOOT_ENTRY_PVH) {
		err = boot_pvh_write(gm, place);
		entry->boot_info = LAYOUT_START_INFO_ADDR;
	} else {
		err = boot_linux_params_write(gm, k, place);
		entry->boot_info = LAYOUT_BOOT_PARAMS_ADDR;
		if (!err)
			err = boot_pagetables_write(gm, entry);
	}
	if (!err)
		err = boot_gdt_write(gm, k->kind, entry);
	if (!err)
		err = boot_mptable_write(gm, nr_cpus);
	return err;
}

int boot_load(struct gmem *gm, const struct boot_spec *spec,
	      struct boot_entry *entry)
{
	struct boot_placement place = {0};
	struct boot_kernel k;
	int err;

	memset(entry, 0, sizeof(*entry));
	if (spec->nr_cpus == 0 || spec->nr_cpus > BOOT_MPTABLE_MAX_CPUS) {
		log_error(
			"boot: %u vCPUs requested; the MP table holds 1 to %u",
			spec->nr_cpus, BOOT_MPTABLE_MAX_CPUS);
		return -EINVAL;
	}

	err = boot_load_kernel(gm, spec->kernel_path, &k);
	if (err)
		return err;

	err = boot_place_cmdline(gm, &k, spec->cmdline ? spec->cmdline : "",
				 spec->kernel_path, &place);
	if (err)
		return err;
	if (spec->initrd_path) {
		err = boot_place_initrd(gm, &k, spec->initrd_path, &place);
		if (err)
			return err;
	}

	if (spec->dtb && k.kind == BOOT_ENTRY_LINUX64) {
		err = boot_setup_data_write(gm, spec->dtb, spec->dtb_size,
					    &place);
		if (err) {
			log_error("boot: the device tree (%zu bytes) does not "
				  "fit in setup_data",
				  spec->dtb_size);
			return err;
		}
	}

	err = boot_write_tables(gm, &k, &place, spec->nr_cpus, entry);
	if (err) {
		log_error("boot: cannot write boot structures: %s",
			  strerror(-err));
		return err;
	}
	entry->kind = k.kind;
	entry->rip = k.entry;
	return 0;
}
