/*
 * Loading a bzImage: the protected-mode part goes to LAYOUT_KERNEL_ADDR
 * and is entered through its 64-bit entry (Linux boot protocol, "64-bit
 * boot protocol"); the setup header travels on in boot_params.
 */
#include "boot/boot_internal.h"
#include "boot/layout.h"
#include "vmm/log.h"

#include <errno.h>
#include <string.h>

/* A 2.12 header runs at least to the end of handover_offset. */
#define BZ_HDR_MIN_END 0x268
#define BZ_HDR_MAX_END                                                         \
	(BOOT_SETUP_HEADER_OFFSET + sizeof(struct boot_setup_header))
/* Larger alignments than this are not something a kernel asks for. */
#define BZ_MAX_ALIGNMENT (1ull << 30)

static int bz_bad(const char *name, const char *what)
{
	log_error("boot: %s: %s", name, what);
	return -ENOEXEC;
}

static int bz_read(int fd, const char *name, void *buf, size_t len,
		   uint64_t off)
{
	int err = boot_read_full(fd, buf, len, off);

	if (err == -ENODATA)
		return bz_bad(name, "file is truncated");
	if (err)
		log_error("boot: %s: read: %s", name, strerror(-err));
	return err;
}

/*
 * Reads the setup header as the 64-bit protocol says: from 0x1f1 to
 * 0x202 + the byte at 0x201, limited to the fields minnow knows.
 */
static int bz_read_header(int fd, uint64_t file_size, const char *name,
			  struct boot_setup_header *hdr)
{
	uint8_t jump_len;
	uint64_t end;
	int err;

	memset(hdr, 0, sizeof(*hdr));
	if (file_size < BZ_HDR_MIN_END)
		return bz_bad(name, "too short for a bzImage setup header");
	err = bz_read(fd, name, &jump_len, 1, BOOT_SETUP_JUMP_OFFSET + 1);
	if (err)
		return err;

	end = BOOT_SETUP_JUMP_OFFSET + 2 + jump_len;
	if (end < BZ_HDR_MIN_END)
		return bz_bad(name, "setup header is too short");
	if (end > BZ_HDR_MAX_END)
		end = BZ_HDR_MAX_END;
	if (end > file_size)
		return bz_bad(name, "file ends inside the setup header");
	return bz_read(fd, name, hdr, end - BOOT_SETUP_HEADER_OFFSET,
		       BOOT_SETUP_HEADER_OFFSET);
}

/* Linux boot protocol 2.12: what a 64-bit loader needs from the kernel. */
static int bz_check_header(const struct boot_setup_header *hdr,
			   const char *name)
{
	if (hdr->boot_flag != BOOT_FLAG_MAGIC)
		return bz_bad(name, "no 0xAA55 boot flag");
	if (hdr->header != BOOT_HDRS_MAGIC)
		return bz_bad(name, "no HdrS setup header");
	if (hdr->version < BOOT_PROTOCOL_MIN) {
		log_error("boot: %s: boot protocol %u.%02u is older than 2.12",
			  name, hdr->version >> 8, hdr->version & 0xff);
		return -ENOEXEC;
	}
	if (!(hdr->loadflags & BOOT_LOADED_HIGH))
		return bz_bad(name, "kernel does not load high");
	if (!hdr->relocatable_kernel)
		return bz_bad(name, "kernel is not relocatable");
	if (!(hdr->xloadflags & BOOT_XLF_KERNEL_64))
		return bz_bad(name, "kernel has no 64-bit entry point");
	if (hdr->kernel_alignment == 0 ||
	    (hdr->kernel_alignment & (hdr->kernel_alignment - 1)) ||
	    hdr->kernel_alignment > BZ_MAX_ALIGNMENT)
		return bz_bad(name, "kernel_alignment is not a power of two");
	return 0;
}

int boot_bzimage_load(struct gmem *gm, int fd, uint64_t file_size,
		      const char *name, struct boot_kernel *k)
{
	struct boot_setup_header *hdr = &k->hdr;
	uint64_t setup_size, payload, load, need;
	unsigned int sects;
	void *dst;
	int err;

	memset(k, 0, sizeof(*k));
	err = bz_read_header(fd, file_size, name, hdr);
	if (err)
		return err;
	err = bz_check_header(hdr, name);
	if (err)
		return err;

	sects = hdr->setup_sects ? hdr->setup_sects : BOOT_SETUP_SECTS_DEFAULT;
	setup_size = (uint64_t)(sects + 1) * BOOT_SECTOR_SIZE;
	if (setup_size >= file_size)
		return bz_bad(name,
			      "setup sectors run past the end of the file");
	payload = file_size - setup_size;
	if (payload <= BOOT_ENTRY64_OFFSET)
		return bz_bad(name, "kernel ends before its 64-bit entry");

	/* The kernel decompresses itself within init_size of its start. */
	load = (LAYOUT_KERNEL_ADDR + hdr->kernel_alignment - 1) &
	       ~((uint64_t)hdr->kernel_alignment - 1);
	need = hdr->init_size > payload ? hdr->init_size : payload;
	if (!gmem_ptr(gm, load, need)) {
		log_error("boot: %s: kernel needs 0x%llx bytes at 0x%llx, "
			  "more than guest RAM has",
			  name, (unsigned long long)need,
			  (unsigned long long)load);
		return -ENOEXEC;
	}

	dst = gmem_ptr(gm, load, payload);
	err = bz_read(fd, name, dst, payload, setup_size);
	if (err)
		return err;

	k->kind = BOOT_ENTRY_LINUX64;
	k->entry = load + BOOT_ENTRY64_OFFSET;
	k->start = load;
	k->end = load + need;
	k->initrd_end = (uint64_t)(hdr->initrd_addr_max
					   ? hdr->initrd_addr_max
					   : BOOT_INITRD_ADDR_MAX_DEFAULT) +
			1;
	k->cmdline_max = hdr->cmdline_size;
	k->has_setup_header = true;
	hdr->code32_start = (uint32_t)load;
	return 0;
}
