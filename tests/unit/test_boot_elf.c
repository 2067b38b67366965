/* boot_load() with synthetic ELF64 vmlinux files: good, PVH and hostile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/boot_internal.h"
#include "boot/layout.h"
#include "vmm/gmem.h"

#define MIB        (1024ull * 1024)
#define RAM_BYTES  (64 * MIB)
#define FILE_BYTES 0x3000
#define NOTE_OFF   0x800
#define SEG_OFF    0x1000
#define SEG_FILESZ 0x1000
#define SEG_MEMSZ  0x3000
#define SEG_PADDR  0x1000000ull
#define SEG_VADDR  0xffffffff81000000ull
#define ENTRY_OFF  0x40
#define PVH_ENTRY  (SEG_PADDR + 0x100)

/* A vmlinux under construction: the file's bytes, edited by each test. */
struct elf_image {
	uint8_t bytes[FILE_BYTES];
	size_t len;
};

struct fixture {
	struct gmem gm;
	struct elf_image img;
	char path[64];
	char initrd[64];
};

static Elf64_Ehdr *ehdr(struct elf_image *img)
{
	return (Elf64_Ehdr *)img->bytes;
}

static Elf64_Phdr *phdr(struct elf_image *img, unsigned int i)
{
	return (Elf64_Phdr *)(img->bytes + sizeof(Elf64_Ehdr)) + i;
}

/* One PT_LOAD of 4 KiB of pattern plus 8 KiB of bss, entry at +0x40. */
static void elf_image_init(struct elf_image *img)
{
	Elf64_Ehdr *eh = ehdr(img);
	Elf64_Phdr *ph = phdr(img, 0);

	memset(img, 0, sizeof(*img));
	img->len = FILE_BYTES;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = SEG_VADDR + ENTRY_OFF;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 1;

	ph->p_type = PT_LOAD;
	ph->p_offset = SEG_OFF;
	ph->p_vaddr = SEG_VADDR;
	ph->p_paddr = SEG_PADDR;
	ph->p_filesz = SEG_FILESZ;
	ph->p_memsz = SEG_MEMSZ;
	ph->p_align = 0x200000;
	for (size_t i = 0; i < SEG_FILESZ; i++)
		img->bytes[SEG_OFF + i] = (uint8_t)(i * 7 + 1);
}

/* Appends a note at NOTE_OFF + *off and returns its length. */
static size_t put_note(struct elf_image *img, size_t off, uint32_t namesz,
		       const char *name, uint32_t type, uint32_t descsz,
		       const void *desc)
{
	Elf64_Nhdr nh = {
		.n_namesz = namesz, .n_descsz = descsz, .n_type = type};
	uint8_t *p = img->bytes + NOTE_OFF + off;
	size_t name_len = (strlen(name) + 1 + 3) & ~3u;

	memcpy(p, &nh, sizeof(nh));
	memcpy(p + sizeof(nh), name, strlen(name) + 1);
	memcpy(p + sizeof(nh) + name_len, desc, descsz);
	return sizeof(nh) + name_len + ((descsz + 3) & ~3u);
}

/* Adds a PT_NOTE holding an unrelated note and the Xen PVH entry note. */
static void add_pvh_note(struct elf_image *img, uint32_t descsz, uint64_t entry)
{
	Elf64_Phdr *ph = phdr(img, ehdr(img)->e_phnum++);
	uint32_t gnu_desc = 0x12345678;
	size_t len;

	len = put_note(img, 0, 4, "GNU", 3, 4, &gnu_desc);
	len += put_note(img, len, 4, "Xen", 18, descsz, &entry);
	*ph = (Elf64_Phdr){.p_type = PT_NOTE,
			   .p_offset = NOTE_OFF,
			   .p_filesz = len,
			   .p_align = 4};
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	int fd;

	assert_non_null(fx);
	assert_int_equal(gmem_init(&fx->gm, RAM_BYTES, false), 0);
	elf_image_init(&fx->img);
	strcpy(fx->path, "/tmp/minnow-elf-XXXXXX");
	fd = mkstemp(fx->path);
	assert_true(fd >= 0);
	close(fd);
	fx->initrd[0] = '\0';
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	unlink(fx->path);
	if (fx->initrd[0])
		unlink(fx->initrd);
	gmem_destroy(&fx->gm);
	free(fx);
	return 0;
}

static int load(struct fixture *fx, const char *cmdline, unsigned int cpus,
		struct boot_entry *entry)
{
	struct boot_spec spec = {
		.kernel_path = fx->path,
		.initrd_path = fx->initrd[0] ? fx->initrd : NULL,
		.cmdline = cmdline,
		.nr_cpus = cpus,
	};

	write_file(fx->path, fx->img.bytes, fx->img.len);
	return boot_load(&fx->gm, &spec, entry);
}

static uint8_t *guest(struct fixture *fx, gpa_t gpa, uint64_t len)
{
	uint8_t *p = gmem_ptr(&fx->gm, gpa, len);

	assert_non_null(p);
	return p;
}

static uint64_t rd(struct fixture *fx, gpa_t gpa, unsigned int size)
{
	uint64_t v = 0;

	assert_int_equal(gmem_read(&fx->gm, &v, gpa, size), 0);
	return v;
}

static void make_initrd(struct fixture *fx, size_t len)
{
	uint8_t *buf = malloc(len);
	int fd;

	assert_non_null(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i ^ 0x5a);
	strcpy(fx->initrd, "/tmp/minnow-initrd-XXXXXX");
	fd = mkstemp(fx->initrd);
	assert_true(fd >= 0);
	close(fd);
	write_file(fx->initrd, buf, len);
	free(buf);
}

static void test_linux64_entry(void **state)
{
	struct fixture *fx = *state;
	struct boot_entry e;
	uint8_t *seg;

	/* Stale bytes where the bss goes must be cleared. */
	memset(guest(fx, SEG_PADDR, SEG_MEMSZ), 0xaa, SEG_MEMSZ);
	assert_int_equal(load(fx, "console=ttyS0", 1, &e), 0);

	assert_int_equal(e.kind, BOOT_ENTRY_LINUX64);
	assert_int_equal(e.rip, SEG_PADDR + ENTRY_OFF);
	assert_int_equal(e.boot_info, LAYOUT_BOOT_PARAMS_ADDR);
	assert_int_equal(e.cr3, LAYOUT_PML4_ADDR);
	assert_int_equal(e.gdt, LAYOUT_GDT_ADDR);
	assert_int_equal(e.gdt_limit, 31);

	seg = guest(fx, SEG_PADDR, SEG_MEMSZ);
	assert_memory_equal(seg, fx->img.bytes + SEG_OFF, SEG_FILESZ);
	for (size_t i = SEG_FILESZ; i < SEG_MEMSZ; i++)
		assert_int_equal(seg[i], 0);

	/* Zero page: loader fields, command line, e820 (Linux zero-page.rst). */
	assert_int_equal(rd(fx, LAYOUT_BOOT_PARAMS_ADDR + 0x1fe, 2), 0xaa55);
	assert_int_equal(rd(fx, LAYOUT_BOOT_PARAMS_ADDR + 0x202, 4),
			 0x53726448);
	assert_int_equal(rd(fx, LAYOUT_BOOT_PARAMS_ADDR + 0x210, 1), 0xff);
	assert_int_equal(rd(fx, LAYOUT_BOOT_PARAMS_ADDR + 0x228, 4),
			 LAYOUT_CMDLINE_ADDR);
	assert_int_equal(rd(fx, LAYOUT_BOOT_PARAMS_ADDR + 0x218, 4), 0);
	assert_string_equal((char *)guest(fx, LAYOUT_CMDLINE_ADDR, 14),
			    "console=ttyS0");
	assert_int_equal(rd(fx, LAYOUT_BOOT_PARAMS_ADDR + 0x1e8, 1), 3);
	assert_int_equal(rd(fx, LAYOUT_BOOT_PARAMS_ADDR + 0x2d0 + 40, 8),
			 0x100000);
	assert_int_equal(rd(fx, LAYOUT_BOOT_PARAMS_ADDR + 0x2d0 + 48, 8),
			 RAM_BYTES - 0x100000);
	assert_int_equal(rd(fx, LAYOUT_BOOT_PARAMS_ADDR + 0x2d0 + 56, 4), 1);

	/* The code segment at 0x10 is 64-bit (L set). */
	assert_int_equal(rd(fx, LAYOUT_GDT_ADDR + 0x10, 8),
			 0x00af9b000000ffffull);
	assert_true(rd(fx, LAYOUT_GDT_ADDR + 0x18, 8) & (1ull << 47));
}

static void test_pvh_note(void **state, uint32_t descsz)
{
	struct fixture *fx = *state;
	struct boot_entry e;
	gpa_t si = LAYOUT_START_INFO_ADDR;

	add_pvh_note(&fx->img, descsz, PVH_ENTRY);
	assert_int_equal(load(fx, "quiet", 2, &e), 0);

	assert_int_equal(e.kind, BOOT_ENTRY_PVH);
	assert_int_equal(e.rip, PVH_ENTRY);
	assert_int_equal(e.boot_info, si);
	assert_int_equal(e.cr3, 0);
	/* PVH enters in 32-bit protected mode: D set, L clear. */
	assert_int_equal(rd(fx, LAYOUT_GDT_ADDR + 0x10, 8),
			 0x00cf9b000000ffffull);

	/* hvm_start_info version 1. */
	assert_int_equal(rd(fx, si, 4), 0x336ec578);
	assert_int_equal(rd(fx, si + 4, 4), 1);
	assert_int_equal(rd(fx, si + 12, 4), 0); /* no modules */
	assert_int_equal(rd(fx, si + 24, 8), LAYOUT_CMDLINE_ADDR);
	assert_string_equal((char *)guest(fx, LAYOUT_CMDLINE_ADDR, 6), "quiet");
	assert_int_equal(rd(fx, si + 48, 4), 3);

	/* Memory map: 24-byte entries with e820 types. */
	{
		gpa_t map = rd(fx, si + 40, 8);

		assert_int_equal(rd(fx, map, 8), 0);
		assert_int_equal(rd(fx, map + 8, 8), LAYOUT_EBDA_ADDR);
		assert_int_equal(rd(fx, map + 16, 4), 1);
		assert_int_equal(rd(fx, map + 24, 8), LAYOUT_EBDA_ADDR);
		assert_int_equal(rd(fx, map + 40, 4), 2);
		assert_int_equal(rd(fx, map + 48 + 8, 8), RAM_BYTES - 0x100000);
	}
}

static void test_pvh_note32(void **state)
{
	test_pvh_note(state, 4);
}

static void test_pvh_note64(void **state)
{
	test_pvh_note(state, 8);
}

/* The initrd goes page-aligned to the top of RAM and into the modlist. */
static void test_pvh_initrd(void **state)
{
	struct fixture *fx = *state;
	const size_t len = 10000;
	struct boot_entry e;
	gpa_t si = LAYOUT_START_INFO_ADDR, mod, addr;
	uint8_t *p;

	add_pvh_note(&fx->img, 4, PVH_ENTRY);
	make_initrd(fx, len);
	assert_int_equal(load(fx, "", 1, &e), 0);

	assert_int_equal(rd(fx, si + 12, 4), 1);
	mod = rd(fx, si + 16, 8);
	addr = rd(fx, mod, 8);
	assert_int_equal(rd(fx, mod + 8, 8), len);
	assert_int_equal(addr % 4096, 0);
	assert_true(addr + len <= RAM_BYTES);
	assert_true(addr + len + 4096 > RAM_BYTES);
	p = guest(fx, addr, len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(p[i], (uint8_t)(i ^ 0x5a));
}

static void test_linux64_initrd(void **state)
{
	struct fixture *fx = *state;
	struct boot_entry e;
	uint64_t addr;

	make_initrd(fx, 4096 * 3);
	assert_int_equal(load(fx, "", 1, &e), 0);
	addr = rd(fx, LAYOUT_BOOT_PARAMS_ADDR + 0x218, 4);
	assert_int_equal(addr, RAM_BYTES - 4096 * 3);
	assert_int_equal(rd(fx, LAYOUT_BOOT_PARAMS_ADDR + 0x21c, 4), 4096 * 3);
}

/* An initrd that cannot fit above the kernel is refused. */
static void test_initrd_too_big(void **state)
{
	struct fixture *fx = *state;
	struct boot_entry e;

	make_initrd(fx, 0);
	assert_int_equal(load(fx, "", 1, &e), -ENOEXEC);
	unlink(fx->initrd);
	strcpy(fx->initrd, "/tmp/minnow-no-such-initrd");
	assert_int_equal(load(fx, "", 1, &e), -ENOENT);
	fx->initrd[0] = '\0';
}

static void expect_noexec(struct fixture *fx)
{
	struct boot_entry e;

	assert_int_equal(load(fx, "", 1, &e), -ENOEXEC);
	/* Nothing was copied: every check runs before the first write. */
	assert_int_equal(rd(fx, SEG_PADDR, 8), 0);
}

static void test_bad_ident(void **state)
{
	struct fixture *fx = *state;

	ehdr(&fx->img)->e_ident[EI_CLASS] = ELFCLASS32;
	expect_noexec(fx);
	elf_image_init(&fx->img);
	ehdr(&fx->img)->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_noexec(fx);
	elf_image_init(&fx->img);
	ehdr(&fx->img)->e_machine = EM_386;
	expect_noexec(fx);
	elf_image_init(&fx->img);
	ehdr(&fx->img)->e_type = ET_DYN;
	expect_noexec(fx);
	elf_image_init(&fx->img);
	ehdr(&fx->img)->e_phentsize = 32;
	expect_noexec(fx);
}

static void test_truncated(void **state)
{
	struct fixture *fx = *state;

	fx->img.len = 40;
	expect_noexec(fx);
	fx->img.len = 0;
	expect_noexec(fx);
	/* Headers complete but the segment's bytes are not in the file. */
	fx->img.len = SEG_OFF + 16;
	expect_noexec(fx);
}

static void test_bad_phdrs(void **state)
{
	struct fixture *fx = *state;

	ehdr(&fx->img)->e_phnum = 0xffff;
	expect_noexec(fx);
	ehdr(&fx->img)->e_phnum = 0;
	expect_noexec(fx);
	ehdr(&fx->img)->e_phnum = 1;
	ehdr(&fx->img)->e_phoff = FILE_BYTES - 8;
	expect_noexec(fx);
	ehdr(&fx->img)->e_phoff = UINT64_MAX - 8;
	expect_noexec(fx);
}

static void test_segment_outside_file(void **state)
{
	struct fixture *fx = *state;

	phdr(&fx->img, 0)->p_offset = FILE_BYTES - 0x100;
	expect_noexec(fx);
	phdr(&fx->img, 0)->p_offset = UINT64_MAX - 0x10;
	expect_noexec(fx);
}

static void test_segment_outside_ram(void **state)
{
	struct fixture *fx = *state;
	Elf64_Phdr *ph = phdr(&fx->img, 0);

	ph->p_paddr = RAM_BYTES - 0x1000;
	expect_noexec(fx);
	ph->p_paddr = UINT64_MAX - 0x1000;
	expect_noexec(fx);
	ph->p_paddr = 0x8000; /* over minnow's own boot structures */
	expect_noexec(fx);
	ph->p_paddr = SEG_PADDR;
	ph->p_memsz = UINT64_MAX;
	expect_noexec(fx);
}

static void test_memsz_below_filesz(void **state)
{
	struct fixture *fx = *state;

	phdr(&fx->img, 0)->p_memsz = SEG_FILESZ - 1;
	expect_noexec(fx);
}

static void test_overlapping_segments(void **state)
{
	struct fixture *fx = *state;
	Elf64_Phdr *second = phdr(&fx->img, 1);

	*second = *phdr(&fx->img, 0);
	second->p_paddr = SEG_PADDR + SEG_MEMSZ - 1;
	ehdr(&fx->img)->e_phnum = 2;
	expect_noexec(fx);
}

static void test_entry_outside(void **state)
{
	struct fixture *fx = *state;

	ehdr(&fx->img)->e_entry = SEG_VADDR + SEG_MEMSZ;
	expect_noexec(fx);
	elf_image_init(&fx->img);
	add_pvh_note(&fx->img, 4, SEG_PADDR + SEG_MEMSZ);
	expect_noexec(fx);
	elf_image_init(&fx->img);
	add_pvh_note(&fx->img, 8, (1ull << 32) | PVH_ENTRY);
	expect_noexec(fx);
}

static void test_bad_notes(void **state)
{
	struct fixture *fx = *state;
	Elf64_Phdr *note;

	/* A descriptor size the Xen note cannot have. */
	add_pvh_note(&fx->img, 2, PVH_ENTRY);
	expect_noexec(fx);

	/* A name size that runs past the segment. */
	elf_image_init(&fx->img);
	add_pvh_note(&fx->img, 4, PVH_ENTRY);
	((Elf64_Nhdr *)(fx->img.bytes + NOTE_OFF))->n_namesz = 0xfffffff0;
	expect_noexec(fx);

	/* A descriptor size that runs past the segment. */
	elf_image_init(&fx->img);
	add_pvh_note(&fx->img, 4, PVH_ENTRY);
	((Elf64_Nhdr *)(fx->img.bytes + NOTE_OFF))->n_descsz = 0xffffffff;
	expect_noexec(fx);

	/* The segment cut just inside the Xen note. */
	elf_image_init(&fx->img);
	add_pvh_note(&fx->img, 4, PVH_ENTRY);
	note = phdr(&fx->img, 1);
	note->p_filesz -= 2;
	expect_noexec(fx);

	/* The note segment outside the file. */
	note->p_filesz = FILE_BYTES;
	expect_noexec(fx);
}

/*
 * With p_align 8, descriptors and notes start 8-byte aligned: a "GNU" note
 * with a 4-byte descriptor takes 24 bytes, so the Xen note is at 24, where
 * the 4-byte rule would not look.
 */
static void test_note_alignment(void **state)
{
	struct fixture *fx = *state;
	struct boot_entry e;
	Elf64_Nhdr gnu = {.n_namesz = 4, .n_descsz = 4, .n_type = 5};
	Elf64_Nhdr xen = {.n_namesz = 4, .n_descsz = 8, .n_type = 18};
	uint64_t entry = PVH_ENTRY;
	uint8_t *p = fx->img.bytes + NOTE_OFF;
	Elf64_Phdr *ph;

	memcpy(p, &gnu, sizeof(gnu));
	memcpy(p + 12, "GNU", 4);
	memset(p + 16, 0xee, 4);
	memcpy(p + 24, &xen, sizeof(xen));
	memcpy(p + 36, "Xen", 4);
	memcpy(p + 40, &entry, 8);
	ph = phdr(&fx->img, ehdr(&fx->img)->e_phnum++);
	*ph = (Elf64_Phdr){.p_type = PT_NOTE,
			   .p_offset = NOTE_OFF,
			   .p_filesz = 48,
			   .p_align = 8};
	assert_int_equal(load(fx, "", 1, &e), 0);
	assert_int_equal(e.kind, BOOT_ENTRY_PVH);
	assert_int_equal(e.rip, PVH_ENTRY);

	/* Read with 4-byte alignment the same bytes are not valid notes. */
	ph->p_align = 4;
	assert_int_equal(load(fx, "", 1, &e), -ENOEXEC);
}

static void test_missing_and_garbage(void **state)
{
	struct fixture *fx = *state;
	struct boot_spec spec = {.kernel_path = "/tmp/minnow-no-such-kernel",
				 .cmdline = "",
				 .nr_cpus = 1};
	struct boot_entry e;

	assert_int_equal(boot_load(&fx->gm, &spec, &e), -ENOENT);
	spec.kernel_path = "/tmp";
	assert_int_equal(boot_load(&fx->gm, &spec, &e), -EINVAL);

	memset(fx->img.bytes, 0x90, sizeof(fx->img.bytes));
	expect_noexec(fx);
}

static void test_cmdline_and_cpus(void **state)
{
	struct fixture *fx = *state;
	size_t len = LAYOUT_CMDLINE_MAX;
	char *cmdline = malloc(len + 1);
	struct boot_entry e;

	assert_non_null(cmdline);
	memset(cmdline, 'x', len);
	cmdline[len] = '\0';
	assert_int_equal(load(fx, cmdline, 1, &e), -EINVAL);
	cmdline[len - 1] = '\0'; /* 64 KiB with the NUL: the most that fits */
	assert_int_equal(load(fx, cmdline, 1, &e), 0);
	assert_int_equal(rd(fx, LAYOUT_CMDLINE_ADDR + len - 1, 1), 0);
	free(cmdline);

	assert_int_equal(load(fx, "", 0, &e), -EINVAL);
	assert_int_equal(load(fx, "", BOOT_MPTABLE_MAX_CPUS + 1, &e), -EINVAL);
	assert_int_equal(load(fx, "", BOOT_MPTABLE_MAX_CPUS, &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_linux64_entry),
		T(test_pvh_note32),
		T(test_pvh_note64),
		T(test_pvh_initrd),
		T(test_linux64_initrd),
		T(test_initrd_too_big),
		T(test_bad_ident),
		T(test_truncated),
		T(test_bad_phdrs),
		T(test_segment_outside_file),
		T(test_segment_outside_ram),
		T(test_memsz_below_filesz),
		T(test_overlapping_segments),
		T(test_entry_outside),
		T(test_bad_notes),
		T(test_note_alignment),
		T(test_missing_and_garbage),
		T(test_cmdline_and_cpus),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
