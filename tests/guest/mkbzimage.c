/*
 * Host tool: wraps a guest program (an ELF linked at its load address with
 * its 64-bit entry 0x200 bytes in) as a bzImage, so a VMM's bzImage path
 * can be tested without Linux. Header fields follow the Linux x86 boot
 * protocol, version 2.15.
 *
 * Usage: mkbzimage IN.elf OUT.bzImage
 */
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETUP_SECTS       1 /* setup is (1 + setup_sects) 512-byte sectors */
#define SECTOR_SIZE       512
#define ENTRY64_OFFSET    0x200
#define BOOT_FLAG         0xaa55
#define HDRS_MAGIC        0x53726448 /* "HdrS" */
#define PROTOCOL_VERSION  0x020f
#define LOADED_HIGH       0x01
#define XLF_KERNEL_64     0x0001
#define KERNEL_ALIGNMENT  0x200000
#define MIN_ALIGNMENT_LOG 21
#define CMDLINE_SIZE      255 /* what the runtime copies, without the NUL */
#define MAX_IMAGE_BYTES   (64u << 20)

/* Linux boot protocol 2.15: the setup header, at 0x1f1 in the file. */
struct setup_header {
	uint8_t setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;
	uint16_t jump;
	uint32_t header;
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
} __attribute__((packed));

#define HDR_OFFSET    0x1f1
#define HDR_AT(field) (HDR_OFFSET + offsetof(struct setup_header, field))
_Static_assert(HDR_AT(boot_flag) == 0x1fe, "boot_flag");
_Static_assert(HDR_AT(header) == 0x202, "header");
_Static_assert(HDR_AT(loadflags) == 0x211, "loadflags");
_Static_assert(HDR_AT(kernel_alignment) == 0x230, "kernel_alignment");
_Static_assert(HDR_AT(xloadflags) == 0x236, "xloadflags");
_Static_assert(HDR_AT(pref_address) == 0x258, "pref_address");
_Static_assert(HDR_AT(init_size) == 0x260, "init_size");
_Static_assert(HDR_AT(kernel_info_offset) + 4 ==
		       HDR_OFFSET + sizeof(struct setup_header),
	       "header end");

/* Real-mode code the jump lands on: cli; hlt; jmp back to the hlt. */
static const uint8_t realmode_stop[] = {0xfa, 0xf4, 0xeb, 0xfd};
#define REALMODE_CODE_AT (HDR_OFFSET + sizeof(struct setup_header))

struct image {
	uint8_t *bytes;     /* the loadable part, from base */
	uint64_t base;      /* lowest PT_LOAD physical address */
	uint64_t file_size; /* bytes to write */
	uint64_t mem_size;  /* including bss */
};

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    n <= (long)MAX_IMAGE_BYTES && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* Checks that [off, off + size) lies within a file of len bytes. */
static int in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

static int image_from_elf(const uint8_t *elf, size_t len, struct image *img)
{
	const Elf64_Ehdr *eh = (const void *)elf;
	const Elf64_Phdr *ph;
	uint64_t lo = UINT64_MAX, file_hi = 0, mem_hi = 0;
	int i;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64 ||
	    eh->e_phentsize != sizeof(*ph) ||
	    !in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(*ph), len))
		return -1;
	ph = (const void *)(elf + eh->e_phoff);

	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (ph[i].p_filesz > ph[i].p_memsz ||
		    ph[i].p_memsz > MAX_IMAGE_BYTES ||
		    ph[i].p_paddr > UINT32_MAX ||
		    !in_file(ph[i].p_offset, ph[i].p_filesz, len))
			return -1;
		if (ph[i].p_paddr < lo)
			lo = ph[i].p_paddr;
		if (ph[i].p_paddr + ph[i].p_filesz > file_hi)
			file_hi = ph[i].p_paddr + ph[i].p_filesz;
		if (ph[i].p_paddr + ph[i].p_memsz > mem_hi)
			mem_hi = ph[i].p_paddr + ph[i].p_memsz;
	}
	if (lo == UINT64_MAX || mem_hi - lo > MAX_IMAGE_BYTES ||
	    eh->e_entry != lo + ENTRY64_OFFSET || file_hi <= eh->e_entry)
		return -1;

	img->base = lo;
	img->file_size = file_hi - lo;
	img->mem_size = mem_hi - lo;
	img->bytes = calloc(1, img->file_size);
	if (!img->bytes)
		return -1;
	for (i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD)
			memcpy(img->bytes + (ph[i].p_paddr - lo),
			       elf + ph[i].p_offset, ph[i].p_filesz);
	return 0;
}

static void setup_fill(uint8_t *setup, const struct image *img)
{
	struct setup_header h;

	memset(&h, 0, sizeof(h));
	h.setup_sects = SETUP_SECTS;
	h.syssize = (uint32_t)((img->file_size + 15) / 16);
	h.boot_flag = BOOT_FLAG;
	/* A two-byte short jump from 0x202 to the real-mode stop code. */
	h.jump = 0xeb | (uint16_t)((REALMODE_CODE_AT - 0x202) << 8);
	h.header = HDRS_MAGIC;
	h.version = PROTOCOL_VERSION;
	h.loadflags = LOADED_HIGH;
	h.code32_start = 0x100000;
	h.initrd_addr_max = 0x7fffffff;
	h.kernel_alignment = KERNEL_ALIGNMENT;
	h.relocatable_kernel = 1;
	h.min_alignment = MIN_ALIGNMENT_LOG;
	h.xloadflags = XLF_KERNEL_64;
	h.cmdline_size = CMDLINE_SIZE;
	h.pref_address = img->base;
	h.init_size = (uint32_t)((img->mem_size + 4095) & ~4095ull);

	memcpy(setup + HDR_OFFSET, &h, sizeof(h));
	memcpy(setup + REALMODE_CODE_AT, realmode_stop, sizeof(realmode_stop));
}

int main(int argc, char **argv)
{
	uint8_t setup[(1 + SETUP_SECTS) * SECTOR_SIZE] = {0};
	struct image img;
	uint8_t *elf;
	size_t len = 0;
	FILE *out;

	if (argc != 3) {
		fprintf(stderr, "usage: mkbzimage IN.elf OUT.bzImage\n");
		return 2;
	}
	elf = read_file(argv[1], &len);
	if (!elf) {
		fprintf(stderr, "mkbzimage: cannot read %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	if (image_from_elf(elf, len, &img) < 0) {
		fprintf(stderr,
			"mkbzimage: %s: not an x86-64 ELF with its "
			"entry 0x%x bytes into the image\n",
			argv[1], ENTRY64_OFFSET);
		return 1;
	}
	setup_fill(setup, &img);

	out = fopen(argv[2], "wb");
	if (!out || fwrite(setup, sizeof(setup), 1, out) != 1 ||
	    fwrite(img.bytes, img.file_size, 1, out) != 1 || fclose(out)) {
		fprintf(stderr, "mkbzimage: cannot write %s: %s\n", argv[2],
			strerror(errno));
		return 1;
	}
	free(img.bytes);
	free(elf);
	return 0;
}
