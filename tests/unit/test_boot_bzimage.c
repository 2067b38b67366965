/* boot_load() with synthetic bzImages, hostile ones, and Debian's kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/boot_internal.h"
#include "boot/layout.h"
#include "vmm/gmem.h"

#define MIB         (1024ull * 1024)
#define RAM_BYTES   (64 * MIB)
#define SETUP_SECTS 4
#define SETUP_BYTES ((SETUP_SECTS + 1) * 512)
#define PAYLOAD     0x4000
#define FILE_BYTES  (SETUP_BYTES + PAYLOAD)
#define ZP          LAYOUT_BOOT_PARAMS_ADDR

struct fixture {
	struct gmem gm;
	uint8_t img[FILE_BYTES];
	size_t len;
	char path[64];
	char initrd[64];
};

static void put(uint8_t *img, size_t off, uint64_t v, unsigned int size)
{
	memcpy(img + off, &v, size);
}

/* A protocol 2.15 header (offsets from the Linux boot protocol). */
static void bz_init(struct fixture *fx)
{
	uint8_t *img = fx->img;

	memset(img, 0, sizeof(fx->img));
	fx->len = FILE_BYTES;
	put(img, 0x1f1, SETUP_SECTS, 1);
	put(img, 0x1fe, 0xaa55, 2);
	put(img, 0x200, 0xeb, 1);
	put(img, 0x201, 0x6a, 1); /* header ends at 0x26c */
	put(img, 0x202, 0x53726448, 4);
	put(img, 0x206, 0x020f, 2);
	put(img, 0x211, 0x01, 1);       /* LOADED_HIGH */
	put(img, 0x214, 0x100000, 4);   /* code32_start */
	put(img, 0x22c, 0x7fffffff, 4); /* initrd_addr_max */
	put(img, 0x230, 0x200000, 4);   /* kernel_alignment */
	put(img, 0x234, 1, 1);          /* relocatable_kernel */
	put(img, 0x236, 0x3, 2);        /* XLF_KERNEL_64 | above 4G */
	put(img, 0x238, 2047, 4);       /* cmdline_size */
	put(img, 0x258, 0x1000000, 8);  /* pref_address */
	put(img, 0x260, 0x200000, 4);   /* init_size */
	for (size_t i = 0; i < PAYLOAD; i++)
		img[SETUP_BYTES + i] = (uint8_t)(i * 13 + 5);
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
	bz_init(fx);
	strcpy(fx->path, "/tmp/minnow-bz-XXXXXX");
	fd = mkstemp(fx->path);
	assert_true(fd >= 0);
	close(fd);
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

static int load(struct fixture *fx, const char *cmdline,
		struct boot_entry *entry)
{
	struct boot_spec spec = {
		.kernel_path = fx->path,
		.initrd_path = fx->initrd[0] ? fx->initrd : NULL,
		.cmdline = cmdline,
		.nr_cpus = 1,
	};

	write_file(fx->path, fx->img, fx->len);
	return boot_load(&fx->gm, &spec, entry);
}

static uint64_t rd(struct fixture *fx, gpa_t gpa, unsigned int size)
{
	uint64_t v = 0;

	assert_int_equal(gmem_read(&fx->gm, &v, gpa, size), 0);
	return v;
}

static void make_initrd(struct fixture *fx, size_t len)
{
	uint8_t *buf = calloc(1, len);
	int fd;

	assert_non_null(buf);
	buf[0] = 0x1f;
	buf[len - 1] = 0x8b;
	strcpy(fx->initrd, "/tmp/minnow-bzinitrd-XXXXXX");
	fd = mkstemp(fx->initrd);
	assert_true(fd >= 0);
	close(fd);
	write_file(fx->initrd, buf, len);
	free(buf);
}

static void test_good(void **state)
{
	struct fixture *fx = *state;
	struct boot_entry e;
	uint8_t *kernel;

	assert_int_equal(load(fx, "root=/dev/vda rw", &e), 0);
	assert_int_equal(e.kind, BOOT_ENTRY_LINUX64);
	assert_int_equal(e.rip, LAYOUT_KERNEL_ADDR + 0x200);
	assert_int_equal(e.boot_info, ZP);
	assert_int_equal(e.cr3, LAYOUT_PML4_ADDR);

	kernel = gmem_ptr(&fx->gm, LAYOUT_KERNEL_ADDR, PAYLOAD);
	assert_non_null(kernel);
	assert_memory_equal(kernel, fx->img + SETUP_BYTES, PAYLOAD);

	/* The setup header travels into the zero page unchanged... */
	assert_int_equal(rd(fx, ZP + 0x1f1, 1), SETUP_SECTS);
	assert_int_equal(rd(fx, ZP + 0x1fe, 2), 0xaa55);
	assert_int_equal(rd(fx, ZP + 0x202, 4), 0x53726448);
	assert_int_equal(rd(fx, ZP + 0x206, 2), 0x020f);
	assert_int_equal(rd(fx, ZP + 0x236, 2), 0x3);
	assert_int_equal(rd(fx, ZP + 0x238, 4), 2047);
	assert_int_equal(rd(fx, ZP + 0x260, 4), 0x200000);
	/* ...with the loader's fields filled in. */
	assert_int_equal(rd(fx, ZP + 0x210, 1), 0xff);
	assert_true(rd(fx, ZP + 0x211, 1) & 0x01);
	assert_int_equal(rd(fx, ZP + 0x214, 4), LAYOUT_KERNEL_ADDR);
	assert_int_equal(rd(fx, ZP + 0x228, 4), LAYOUT_CMDLINE_ADDR);
	assert_string_equal((char *)gmem_ptr(&fx->gm, LAYOUT_CMDLINE_ADDR, 17),
			    "root=/dev/vda rw");
	assert_int_equal(rd(fx, ZP + 0x218, 4), 0);
	assert_int_equal(rd(fx, ZP + 0x21c, 4), 0);
	assert_int_equal(rd(fx, ZP + 0x1ef, 1), 0); /* sentinel */

	/* e820: RAM, reserved EBDA..1 MiB, RAM to the end. */
	assert_int_equal(rd(fx, ZP + 0x1e8, 1), 3);
	assert_int_equal(rd(fx, ZP + 0x2d0, 8), 0);
	assert_int_equal(rd(fx, ZP + 0x2d0 + 8, 8), LAYOUT_EBDA_ADDR);
	assert_int_equal(rd(fx, ZP + 0x2d0 + 16, 4), 1);
	assert_int_equal(rd(fx, ZP + 0x2d0 + 20, 8), LAYOUT_EBDA_ADDR);
	assert_int_equal(rd(fx, ZP + 0x2d0 + 28, 8),
			 0x100000 - LAYOUT_EBDA_ADDR);
	assert_int_equal(rd(fx, ZP + 0x2d0 + 36, 4), 2);
	assert_int_equal(rd(fx, ZP + 0x2d0 + 40, 8), 0x100000);
	assert_int_equal(rd(fx, ZP + 0x2d0 + 48, 8), RAM_BYTES - 0x100000);
	assert_int_equal(rd(fx, ZP + 0x2d0 + 60, 8), 0); /* no fourth */
}

/* A device tree rides along as the one SETUP_DTB setup_data entry. */
static void test_setup_dtb(void **state)
{
	static const uint8_t dtb[] = {0xd0, 0x0d, 0xfe, 0xed, 1, 2, 3, 4};
	struct fixture *fx = *state;
	struct boot_spec spec = {.kernel_path = fx->path,
				 .cmdline = "",
				 .nr_cpus = 1,
				 .dtb = dtb,
				 .dtb_size = sizeof(dtb)};
	struct boot_entry e;

	assert_int_equal(rd(fx, ZP + 0x250, 8), 0);
	write_file(fx->path, fx->img, fx->len);
	assert_int_equal(boot_load(&fx->gm, &spec, &e), 0);
	assert_int_equal(rd(fx, ZP + 0x250, 8), LAYOUT_SETUP_DATA_ADDR);
	assert_int_equal(rd(fx, LAYOUT_SETUP_DATA_ADDR, 8), 0); /* next */
	assert_int_equal(rd(fx, LAYOUT_SETUP_DATA_ADDR + 8, 4), 2);
	assert_int_equal(rd(fx, LAYOUT_SETUP_DATA_ADDR + 12, 4), sizeof(dtb));
	assert_memory_equal(
		gmem_ptr(&fx->gm, LAYOUT_SETUP_DATA_ADDR + 16, sizeof(dtb)),
		dtb, sizeof(dtb));

	/* One that cannot fit is refused, not truncated. */
	spec.dtb_size = LAYOUT_SETUP_DATA_MAX;
	assert_int_equal(boot_load(&fx->gm, &spec, &e), -E2BIG);
}

/* The kernel goes to the next kernel_alignment boundary. */
static void test_alignment(void **state)
{
	struct fixture *fx = *state;
	struct boot_entry e;

	put(fx->img, 0x230, 0x2000000, 4);
	assert_int_equal(load(fx, "", &e), 0);
	assert_int_equal(e.rip, 0x2000200);
	assert_int_equal(rd(fx, 0x2000000, 1), fx->img[SETUP_BYTES]);
	assert_int_equal(rd(fx, ZP + 0x214, 4), 0x2000000);
}

/* setup_sects 0 means 4. */
static void test_setup_sects_zero(void **state)
{
	struct fixture *fx = *state;
	struct boot_entry e;

	put(fx->img, 0x1f1, 0, 1);
	assert_int_equal(load(fx, "", &e), 0);
	assert_int_equal(rd(fx, LAYOUT_KERNEL_ADDR, 1), fx->img[SETUP_BYTES]);
}

static void test_initrd(void **state)
{
	struct fixture *fx = *state;
	const size_t len = 5 * 4096 + 7;
	struct boot_entry e;
	uint64_t addr;

	make_initrd(fx, len);
	assert_int_equal(load(fx, "", &e), 0);
	addr = rd(fx, ZP + 0x218, 4);
	assert_int_equal(rd(fx, ZP + 0x21c, 4), len);
	assert_int_equal(addr % 4096, 0);
	assert_int_equal(addr, (RAM_BYTES - len) & ~4095ull);
	assert_int_equal(rd(fx, addr, 1), 0x1f);
	assert_int_equal(rd(fx, addr + len - 1, 1), 0x8b);

	/* initrd_addr_max is the last byte the initrd may use. */
	put(fx->img, 0x22c, 0x2ffffff, 4);
	assert_int_equal(load(fx, "", &e), 0);
	addr = rd(fx, ZP + 0x218, 4);
	assert_true(addr + len - 1 <= 0x2ffffff);
	assert_int_equal(addr, (0x3000000 - len) & ~4095ull);

	/* No room between the kernel's init_size and the limit. */
	put(fx->img, 0x22c, 0x1200fff, 4);
	assert_int_equal(load(fx, "", &e), -ENOEXEC);
}

static void test_cmdline_size(void **state)
{
	struct fixture *fx = *state;
	struct boot_entry e;

	put(fx->img, 0x238, 5, 4);
	assert_int_equal(load(fx, "12345", &e), 0);
	assert_int_equal(load(fx, "123456", &e), -EINVAL);
}

static void expect_noexec(struct fixture *fx)
{
	struct boot_entry e;

	assert_int_equal(load(fx, "", &e), -ENOEXEC);
	assert_int_equal(rd(fx, LAYOUT_KERNEL_ADDR, 8), 0);
	bz_init(fx);
}

static void test_bad_headers(void **state)
{
	struct fixture *fx = *state;

	put(fx->img, 0x1fe, 0x55aa, 2);
	expect_noexec(fx);
	put(fx->img, 0x202, 0x53726449, 4); /* not HdrS: not a kernel */
	expect_noexec(fx);
	put(fx->img, 0x206, 0x020b, 2);
	expect_noexec(fx);
	put(fx->img, 0x211, 0x00, 1);
	expect_noexec(fx);
	put(fx->img, 0x234, 0, 1);
	expect_noexec(fx);
	put(fx->img, 0x236, 0x2, 2);
	expect_noexec(fx);
	put(fx->img, 0x230, 0x300000, 4);
	expect_noexec(fx);
	put(fx->img, 0x230, 0, 4);
	expect_noexec(fx);
	put(fx->img, 0x201, 0x20, 1); /* header too short for 2.12 */
	expect_noexec(fx);
}

static void test_truncated(void **state)
{
	struct fixture *fx = *state;

	fx->len = 0x250;
	expect_noexec(fx);
	fx->len = 0x266;
	expect_noexec(fx);
	fx->len = SETUP_BYTES; /* no protected-mode part */
	expect_noexec(fx);
	fx->len = SETUP_BYTES + 0x100; /* ends before the 64-bit entry */
	expect_noexec(fx);
	put(fx->img, 0x1f1, 255, 1); /* setup runs past the file */
	expect_noexec(fx);
}

static void test_too_big_for_ram(void **state)
{
	struct fixture *fx = *state;

	put(fx->img, 0x260, RAM_BYTES - LAYOUT_KERNEL_ADDR + 1, 4);
	expect_noexec(fx);
	put(fx->img, 0x260, 0xffffffff, 4);
	expect_noexec(fx);
}

/* Debian's own kernel parses and loads (not run: that is a guest test). */
static void test_debian_kernel(void **state)
{
	struct boot_spec spec = {.cmdline = "console=ttyS0", .nr_cpus = 4};
	struct boot_entry e;
	struct gmem gm;
	glob_t g;

	(void)state;
	if (glob("/boot/vmlinuz-*", 0, NULL, &g) != 0 || g.gl_pathc == 0 ||
	    access(g.gl_pathv[0], R_OK) != 0) {
		globfree(&g);
		print_message("no readable /boot/vmlinuz-*\n");
		skip();
	}
	spec.kernel_path = g.gl_pathv[0];
	assert_int_equal(gmem_init(&gm, 512 * MIB, false), 0);

	assert_int_equal(boot_load(&gm, &spec, &e), 0);
	assert_int_equal(e.kind, BOOT_ENTRY_LINUX64);
	assert_int_equal(e.rip % 0x200000, 0x200);
	{
		uint64_t v = 0;

		assert_int_equal(gmem_read(&gm, &v, ZP + 0x202, 4), 0);
		assert_int_equal(v, 0x53726448);
		assert_int_equal(gmem_read(&gm, &v, ZP + 0x206, 2), 0);
		assert_true(v >= 0x020c);
	}

	gmem_destroy(&gm);
	globfree(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_good),
		T(test_setup_dtb),
		T(test_alignment),
		T(test_setup_sects_zero),
		T(test_initrd),
		T(test_cmdline_size),
		T(test_bad_headers),
		T(test_truncated),
		T(test_too_big_for_ram),
		cmocka_unit_test(test_debian_kernel),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
