/*
 * The kvm_pvm instruction completer: decoding, the page-table walk and
 * each instruction on synthetic registers, XSAVE image and guest memory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/pvm_emulate.h"

#define RAM_BYTES (4u << 20)

/* Page tables: one PML4, a kernel PDPT and PD, a user PDPT, PD, PT. */
#define PML4   0x1000
#define PDPT   0x2000
#define PD     0x3000
#define PT     0x4000
#define PDPT_U 0x5000
#define PD_U   0x6000

/* A kernel 2 MiB page at KVA -> 0x200000; user 4 KiB pages at UVA. */
#define KVA     0xffffffff80000000ull
#define KVA_GPA 0x200000ull
#define UVA     0x400000ull
#define UVA_GPA 0x10000ull
#define UVA_RO  (UVA + 0x1000) /* read-only user page -> 0x11000 */
#define UVA_NP  (UVA + 0x2000) /* not present */

#define RFLAGS_ZF (1ull << 6)
#define RFLAGS_AC (1ull << 18)

struct fixture {
	struct gmem gm;
	struct pvm_cpu cpu;
	struct pvm_xsave_layout layout;
	uint8_t image[4096];
};

static void put64(struct gmem *gm, gpa_t gpa, uint64_t v)
{
	assert_int_equal(gmem_write(gm, gpa, &v, 8), 0);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(gmem_init(&f.gm, RAM_BYTES, false), 0);

	/* KVA: PML4[511] -> PDPT[510] -> PD[0], a 2 MiB page. */
	put64(&f.gm, PML4 + 511 * 8, PDPT | 0x3);
	put64(&f.gm, PDPT + 510 * 8, PD | 0x3);
	put64(&f.gm, PD + 0 * 8, KVA_GPA | 0x83);
	/* UVA: PML4[0] -> PDPT[0] -> PD[2] -> PT, user pages. */
	put64(&f.gm, PML4 + 0, PDPT_U | 0x7);
	put64(&f.gm, PDPT_U, PD_U | 0x7);
	put64(&f.gm, PD_U + 2 * 8, PT | 0x7);
	put64(&f.gm, PT + 0 * 8, UVA_GPA | 0x7);
	put64(&f.gm, PT + 1 * 8, (UVA_GPA + 0x1000) | 0x5);

	/* XSAVE layout: AVX (component 2) at 576, 256 bytes. */
	f.layout.supported = 0x7;
	f.layout.offset[2] = 576;
	f.layout.size[2] = 256;
	f.layout.xgetbv1 = true;

	f.cpu.layout = &f.layout;
	f.cpu.xsave = f.image;
	f.cpu.xsave_len = sizeof(f.image);
	f.cpu.xcr0 = 0x7;
	f.cpu.sregs.cr3 = PML4;
	f.cpu.sregs.cr0 = 0x80010033; /* PG, WP, PE */
	f.cpu.sregs.cr4 = 0x20;       /* PAE */
	f.cpu.regs.rip = KVA + 0x100;
	f.cpu.regs.rflags = 0x2;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	gmem_destroy(&f->gm);
	return 0;
}

static int decode(const char *hex, struct pvm_insn *in)
{
	uint8_t bytes[16];
	size_t n = 0;
	unsigned int b;

	while (*hex && sscanf(hex, "%2x", &b) == 1) {
		bytes[n++] = (uint8_t)b;
		hex += 2;
		while (*hex == ' ')
			hex++;
	}
	return pvm_insn_decode(bytes, n, in);
}

static void test_decode_system(void **state)
{
	struct pvm_insn in;

	assert_int_equal(decode("0f 01 ca", &in), 0);
	assert_int_equal(in.op, PVM_OP_CLAC);
	assert_int_equal(in.len, 3);
	assert_int_equal(decode("0f 01 cb", &in), 0);
	assert_int_equal(in.op, PVM_OP_STAC);
	assert_int_equal(decode("0f 01 d0", &in), 0);
	assert_int_equal(in.op, PVM_OP_XGETBV);
	assert_int_equal(decode("0f 01 d1", &in), 0);
	assert_int_equal(in.op, PVM_OP_XSETBV);
	assert_int_equal(decode("cc", &in), 0);
	assert_int_equal(in.op, PVM_OP_INT3);
	assert_int_equal(in.len, 1);
	assert_int_equal(decode("9b", &in), 0);
	assert_int_equal(in.op, PVM_OP_FWAIT);
}

static void test_decode_xsave(void **state)
{
	struct pvm_insn in;

	/* xsave64 (%rdi), xrstor64 (%rdi), xsaveopt64 (%rdi) */
	assert_int_equal(decode("48 0f ae 27", &in), 0);
	assert_int_equal(in.op, PVM_OP_XSAVE);
	assert_int_equal(in.len, 4);
	assert_true(in.has_mem);
	assert_int_equal(in.mem.base, 7);
	assert_int_equal(in.mem.index, -1);
	assert_int_equal(decode("48 0f ae 2f", &in), 0);
	assert_int_equal(in.op, PVM_OP_XRSTOR);
	assert_int_equal(decode("48 0f ae 37", &in), 0);
	assert_int_equal(in.op, PVM_OP_XSAVEOPT);

	/* xsave 0x8(%rsp): SIB with base RSP, disp8 */
	assert_int_equal(decode("0f ae 64 24 08", &in), 0);
	assert_int_equal(in.len, 5);
	assert_int_equal(in.mem.base, 4);
	assert_int_equal(in.mem.disp, 8);

	/* xrstor %gs:-0x10(%r12,%r13,4): REX.XB, SIB, disp8, segment */
	assert_int_equal(decode("65 43 0f ae 6c ac f0", &in), 0);
	assert_int_equal(in.op, PVM_OP_XRSTOR);
	assert_int_equal(in.mem.base, 12);
	assert_int_equal(in.mem.index, 13);
	assert_int_equal(in.mem.scale, 2);
	assert_int_equal(in.mem.disp, -16);
	assert_int_equal(in.mem.seg, PVM_SEG_GS);
	assert_int_equal(in.len, 7);
}

static void test_decode_popcnt(void **state)
{
	struct pvm_insn in;

	assert_int_equal(decode("f3 48 0f b8 c7", &in), 0);
	assert_int_equal(in.op, PVM_OP_POPCNT);
	assert_int_equal(in.opsize, 8);
	assert_int_equal(in.reg, 0);
	assert_int_equal(in.rm, 7);
	assert_false(in.has_mem);
	assert_int_equal(decode("f3 0f b8 c7", &in), 0);
	assert_int_equal(in.opsize, 4);
	assert_int_equal(decode("66 f3 0f b8 c7", &in), 0);
	assert_int_equal(in.opsize, 2);
	/* popcnt %r9, %r8 */
	assert_int_equal(decode("f3 4d 0f b8 c1", &in), 0);
	assert_int_equal(in.reg, 8);
	assert_int_equal(in.rm, 9);
	/* popcnt 0x10(%rip), %rax */
	assert_int_equal(decode("f3 48 0f b8 05 10 00 00 00", &in), 0);
	assert_true(in.mem.rip_relative);
	assert_int_equal(in.mem.disp, 16);
	assert_int_equal(in.len, 9);
}

static void test_decode_rejects(void **state)
{
	struct pvm_insn in;

	assert_int_equal(decode("0f ae e8", &in), -ENOTSUP);    /* lfence */
	assert_int_equal(decode("0f b8 c0", &in), -ENOTSUP);    /* no F3 */
	assert_int_equal(decode("f0 0f c7 0e", &in), -ENOTSUP); /* lock */
	assert_int_equal(decode("0f c7 27", &in), -ENOTSUP);    /* xsavec */
	assert_int_equal(decode("66 0f ae 37", &in), -ENOTSUP); /* clwb */
	assert_int_equal(decode("90", &in), -ENOTSUP);
	assert_int_equal(decode("48 0f", &in), -ENODATA);
	assert_int_equal(decode("0f ae 64 24", &in), -ENODATA);
	assert_int_equal(decode("", &in), -ENODATA);
	/* 16 prefixes: longer than any instruction may be */
	assert_int_equal(decode("66 66 66 66 66 66 66 66 66 66 66 66 66 66 "
				"66 66",
				&in),
			 -ENODATA);
}

static int run(struct fixture *f, const char *hex)
{
	struct pvm_insn in;
	int err = decode(hex, &in);

	if (err)
		return err;
	return pvm_insn_execute(&f->cpu, &f->gm, &in);
}

static void test_clac_stac(void **state)
{
	struct fixture *f = *state;
	uint64_t rip = f->cpu.regs.rip;

	assert_int_equal(run(f, "0f 01 cb"), 0);
	assert_true(f->cpu.regs.rflags & RFLAGS_AC);
	assert_int_equal(f->cpu.regs.rip, rip + 3);
	assert_int_equal(run(f, "0f 01 ca"), 0);
	assert_false(f->cpu.regs.rflags & RFLAGS_AC);
	assert_int_equal(f->cpu.regs.rip, rip + 6);
	assert_false(f->cpu.exc.pending);
}

static void test_popcnt(void **state)
{
	struct fixture *f = *state;

	f->cpu.regs.rdi = 0xf0f0f0f0f0f0f0f0ull;
	f->cpu.regs.rax = ~0ull;
	f->cpu.regs.rflags = 0x2 | 0x8d5; /* CF PF AF SF OF set */
	assert_int_equal(run(f, "f3 48 0f b8 c7"), 0);
	assert_int_equal(f->cpu.regs.rax, 32);
	assert_int_equal(f->cpu.regs.rflags, 0x2);

	/* 32-bit: upper half of the source ignored, result zero-extended */
	f->cpu.regs.rax = ~0ull;
	assert_int_equal(run(f, "f3 0f b8 c7"), 0);
	assert_int_equal(f->cpu.regs.rax, 16);

	/* 16-bit: the destination keeps bits 63:16 */
	f->cpu.regs.rax = 0x1234567800000000ull;
	assert_int_equal(run(f, "66 f3 0f b8 c7"), 0);
	assert_int_equal(f->cpu.regs.rax, 0x1234567800000008ull);

	/* zero sets ZF */
	f->cpu.regs.r9 = 0;
	assert_int_equal(run(f, "f3 4d 0f b8 c1"), 0);
	assert_int_equal(f->cpu.regs.r8, 0);
	assert_int_equal(f->cpu.regs.rflags, 0x2 | RFLAGS_ZF);
}

static void test_popcnt_memory(void **state)
{
	struct fixture *f = *state;
	uint64_t v = 0x7;

	/* popcnt 0x10(%rip), %rax with the operand in the kernel page */
	assert_int_equal(gmem_write(&f->gm, KVA_GPA + 0x100 + 9 + 0x10, &v, 8),
			 0);
	assert_int_equal(run(f, "f3 48 0f b8 05 10 00 00 00"), 0);
	assert_int_equal(f->cpu.regs.rax, 3);
	assert_int_equal(f->cpu.regs.rip, KVA + 0x100 + 9);
}

static void test_walk(void **state)
{
	struct fixture *f = *state;
	uint64_t pte;
	gpa_t gpa;

	assert_int_equal(
		pvm_gva_translate(&f->cpu, &f->gm, KVA + 0x1234, false, &gpa),
		0);
	assert_int_equal(gpa, KVA_GPA + 0x1234);
	assert_int_equal(
		pvm_gva_translate(&f->cpu, &f->gm, UVA + 0x10, true, &gpa), 0);
	assert_int_equal(gpa, UVA_GPA + 0x10);
	/* accessed and dirty bits set on the leaf */
	assert_int_equal(gmem_read(&f->gm, &pte, PT, 8), 0);
	assert_int_equal(pte & 0x60, 0x60);

	/* not present: #PF, error code 0 for a supervisor read */
	assert_int_equal(
		pvm_gva_translate(&f->cpu, &f->gm, UVA_NP, false, &gpa),
		-EFAULT);
	assert_true(f->cpu.exc.pending);
	assert_int_equal(f->cpu.exc.vector, 14);
	assert_int_equal(f->cpu.exc.error_code, 0);
	assert_int_equal(f->cpu.exc.cr2, UVA_NP);

	/* write to a read-only page with CR0.WP: present | write */
	assert_int_equal(pvm_gva_translate(&f->cpu, &f->gm, UVA_RO, true, &gpa),
			 -EFAULT);
	assert_int_equal(f->cpu.exc.error_code, 0x3);

	/* user mode reading a supervisor page: present | user */
	f->cpu.sregs.cs.dpl = 3;
	assert_int_equal(pvm_gva_translate(&f->cpu, &f->gm, KVA, false, &gpa),
			 -EFAULT);
	assert_int_equal(f->cpu.exc.error_code, 0x5);
	f->cpu.sregs.cs.dpl = 0;

	/* SMAP: a user page from the kernel needs RFLAGS.AC */
	f->cpu.sregs.cr4 |= 1ull << 21;
	assert_int_equal(pvm_gva_translate(&f->cpu, &f->gm, UVA, false, &gpa),
			 -EFAULT);
	f->cpu.regs.rflags |= RFLAGS_AC;
	assert_int_equal(pvm_gva_translate(&f->cpu, &f->gm, UVA, false, &gpa),
			 0);

	/* non-canonical: #GP */
	assert_int_equal(pvm_gva_translate(&f->cpu, &f->gm,
					   0x0000800000000000ull, false, &gpa),
			 -EFAULT);
	assert_int_equal(f->cpu.exc.vector, 13);
}

/* Fills the vCPU image with recognisable state: x87, SSE, AVX in use. */
static void fill_image(struct fixture *f)
{
	for (unsigned int i = 0; i < sizeof(f->image); i++)
		f->image[i] = (uint8_t)(i * 7 + 1);
	memset(f->image + 512, 0, 64);
	f->image[512] = 0x7;
	memcpy(f->image + 24, "\x80\x1f\x00\x00\xff\xff\x00\x00", 8);
}

static void test_xsave(void **state)
{
	struct fixture *f = *state;
	uint8_t *mem = gmem_ptr(&f->gm, KVA_GPA + 0x1000, 832);

	fill_image(f);
	memset(mem, 0xee, 832);
	put64(&f->gm, KVA_GPA + 0x1000 + 512, 0x8); /* a stale bit 3 */
	f->cpu.regs.rdi = KVA + 0x1000;
	f->cpu.regs.rax = ~0ull;
	f->cpu.regs.rdx = ~0ull;

	assert_int_equal(run(f, "48 0f ae 27"), 0);
	assert_false(f->cpu.exc.pending);
	assert_int_equal(f->cpu.regs.rip, KVA + 0x100 + 4);
	assert_memory_equal(mem, f->image, 24);              /* x87 */
	assert_memory_equal(mem + 24, f->image + 24, 8);     /* MXCSR */
	assert_memory_equal(mem + 32, f->image + 32, 384);   /* ST, XMM */
	assert_memory_equal(mem + 576, f->image + 576, 256); /* AVX */
	/* bits outside RFBM are kept; reserved legacy bytes untouched */
	assert_int_equal(get64(mem + 512), 0x8 | 0x7);
	assert_int_equal(mem[464], 0xee);
	assert_false(f->cpu.xsave_dirty);
}

static void test_xsave_partial_and_faults(void **state)
{
	struct fixture *f = *state;
	uint8_t *mem = gmem_ptr(&f->gm, KVA_GPA + 0x1000, 832);
	uint64_t rip = f->cpu.regs.rip;

	/* x87 only: the XMM and AVX areas are not written */
	fill_image(f);
	memset(mem, 0xee, 832);
	put64(&f->gm, KVA_GPA + 0x1000 + 512, 0);
	f->cpu.regs.rdi = KVA + 0x1000;
	f->cpu.regs.rax = 0x1;
	f->cpu.regs.rdx = 0;
	assert_int_equal(run(f, "48 0f ae 27"), 0);
	assert_memory_equal(mem, f->image, 24);
	assert_int_equal(mem[160], 0xee);
	assert_int_equal(mem[576], 0xee);
	assert_int_equal(mem[24], 0xee); /* MXCSR goes with SSE or AVX */
	assert_int_equal(get64(mem + 512), 0x1);

	/* misaligned: #GP, RIP stays */
	rip = f->cpu.regs.rip;
	f->cpu.regs.rdi = KVA + 0x1008;
	assert_int_equal(run(f, "48 0f ae 27"), 0);
	assert_true(f->cpu.exc.pending);
	assert_int_equal(f->cpu.exc.vector, 13);
	assert_int_equal(f->cpu.regs.rip, rip);

	/* the area crosses into a read-only page: #PF, nothing written */
	memset(gmem_ptr(&f->gm, UVA_GPA, 0x1000), 0xee, 0x1000);
	f->cpu.regs.rdi = UVA + 0x1000 - 64 * 4;
	f->cpu.regs.rflags |= RFLAGS_AC;
	assert_int_equal(run(f, "48 0f ae 27"), 0);
	assert_true(f->cpu.exc.pending);
	assert_int_equal(f->cpu.exc.vector, 14);
	assert_int_equal(f->cpu.exc.cr2, UVA_RO);
	assert_int_equal(f->cpu.exc.error_code, 0x3);
	assert_int_equal(*(uint8_t *)gmem_ptr(&f->gm, UVA_GPA + 0xf00, 1),
			 0xee);
	assert_int_equal(f->cpu.regs.rip, rip);
}

static void test_xrstor(void **state)
{
	struct fixture *f = *state;
	uint8_t *mem = gmem_ptr(&f->gm, KVA_GPA + 0x2000, 832);

	fill_image(f);
	for (unsigned int i = 0; i < 832; i++)
		mem[i] = (uint8_t)(0x55 ^ i);
	memcpy(mem + 24, "\x80\x1f\x00\x00\xff\xff\x00\x00", 8);
	memset(mem + 512, 0, 64);
	mem[512] = 0x5; /* x87 and AVX from memory, SSE in its init state */
	f->cpu.regs.rsi = KVA + 0x2000;
	f->cpu.regs.rax = 0x7;
	f->cpu.regs.rdx = 0;

	/* xrstor64 (%rsi) */
	assert_int_equal(run(f, "48 0f ae 2e"), 0);
	assert_false(f->cpu.exc.pending);
	assert_true(f->cpu.xsave_dirty);
	assert_memory_equal(f->image, mem, 24);
	assert_memory_equal(f->image + 576, mem + 576, 256);
	for (unsigned int i = 160; i < 416; i++)
		assert_int_equal(f->image[i], 0);
	assert_int_equal(get64(f->image + 512), 0x5);

	/* a component outside XCR0 in XSTATE_BV: #GP, image unchanged */
	f->cpu.xsave_dirty = false;
	mem[512] = 0x9;
	assert_int_equal(run(f, "48 0f ae 2e"), 0);
	assert_true(f->cpu.exc.pending);
	assert_int_equal(f->cpu.exc.vector, 13);
	assert_false(f->cpu.xsave_dirty);

	/* a reserved MXCSR bit: #GP */
	mem[512] = 0x7;
	memcpy(mem + 24, "\x80\x1f\x01\x00", 4);
	assert_int_equal(run(f, "48 0f ae 2e"), 0);
	assert_int_equal(f->cpu.exc.vector, 13);

	/* the compacted form is not ours */
	memcpy(mem + 24, "\x80\x1f\x00\x00", 4);
	put64(&f->gm, KVA_GPA + 0x2000 + 520, 1ull << 63 | 0x7);
	assert_int_equal(run(f, "48 0f ae 2e"), -ENOTSUP);
}

static void test_xgetbv_xsetbv(void **state)
{
	struct fixture *f = *state;

	fill_image(f);
	f->image[512] = 0x3;
	f->cpu.regs.rcx = 0;
	assert_int_equal(run(f, "0f 01 d0"), 0);
	assert_int_equal(f->cpu.regs.rax, 0x7);
	assert_int_equal(f->cpu.regs.rdx, 0);
	f->cpu.regs.rcx = 1;
	assert_int_equal(run(f, "0f 01 d0"), 0);
	assert_int_equal(f->cpu.regs.rax, 0x3);
	f->cpu.regs.rcx = 2;
	assert_int_equal(run(f, "0f 01 d0"), 0);
	assert_int_equal(f->cpu.exc.vector, 13);

	f->cpu.regs.rcx = 0;
	f->cpu.regs.rax = 0x3;
	f->cpu.regs.rdx = 0;
	assert_int_equal(run(f, "0f 01 d1"), 0);
	assert_false(f->cpu.exc.pending);
	assert_true(f->cpu.xcr0_dirty);
	assert_int_equal(f->cpu.xcr0, 0x3);
	/* AVX without SSE, or a component the CPU lacks: #GP */
	f->cpu.regs.rax = 0x5;
	assert_int_equal(run(f, "0f 01 d1"), 0);
	assert_true(f->cpu.exc.pending);
	f->cpu.regs.rax = 0x1f;
	assert_int_equal(run(f, "0f 01 d1"), 0);
	assert_true(f->cpu.exc.pending);
	assert_int_equal(f->cpu.xcr0, 0x3);
}

static void test_fwait_int3(void **state)
{
	struct fixture *f = *state;
	uint64_t rip = f->cpu.regs.rip;

	assert_int_equal(run(f, "9b"), 0);
	assert_false(f->cpu.exc.pending);
	assert_int_equal(f->cpu.regs.rip, rip + 1);
	assert_int_equal(run(f, "cc"), 0);
	assert_true(f->cpu.exc.pending);
	assert_int_equal(f->cpu.exc.vector, 3);
	assert_int_equal(f->cpu.regs.rip, rip + 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_system),
		cmocka_unit_test(test_decode_xsave),
		cmocka_unit_test(test_decode_popcnt),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test_setup_teardown(test_clac_stac, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_popcnt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_popcnt_memory, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xsave, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xsave_partial_and_faults,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_xrstor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xgetbv_xsetbv, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fwait_int3, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
