/*
 * Completes guest-kernel instructions that kvm_pvm's emulator rejects;
 * see pvm_emulate.h. Instruction semantics follow the Intel SDM vol. 2
 * (XSAVE, XRSTOR, XGETBV, XSETBV, CLAC, STAC, POPCNT) and vol. 1, 13.
 */
#include "vmm/pvm_emulate.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define RFLAGS_CF (1ull << 0)
#define RFLAGS_PF (1ull << 2)
#define RFLAGS_AF (1ull << 4)
#define RFLAGS_ZF (1ull << 6)
#define RFLAGS_SF (1ull << 7)
#define RFLAGS_OF (1ull << 11)
#define RFLAGS_AC (1ull << 18)

#define CR0_WP   (1ull << 16)
#define CR4_LA57 (1ull << 12)
#define CR4_SMAP (1ull << 21)
#define EFER_NXE (1ull << 11)

#define PTE_P    (1ull << 0)
#define PTE_RW   (1ull << 1)
#define PTE_US   (1ull << 2)
#define PTE_A    (1ull << 5)
#define PTE_D    (1ull << 6)
#define PTE_PS   (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull

/* #PF error code bits (SDM vol. 3, 4.7). */
#define PF_PRESENT 0x1u
#define PF_WRITE   0x2u
#define PF_USER    0x4u

#define VEC_BP 3
#define VEC_GP 13
#define VEC_PF 14

/* The XSAVE area (SDM vol. 1, 13.4): legacy region, then the header. */
#define XSAVE_LEGACY_SIZE  512
#define XSAVE_HEADER_SIZE  64
#define XSAVE_MXCSR        24
#define XSAVE_MXCSR_MASK   28
#define XSAVE_XMM          160
#define XSAVE_XSTATE_BV    512
#define XSAVE_XCOMP_BV     520
#define XSAVE_ALIGN        64
#define XFEATURE_X87       (1ull << 0)
#define XFEATURE_SSE       (1ull << 1)
#define XFEATURE_AVX       (1ull << 2)
#define MXCSR_DEFAULT_MASK 0xffbfu

#define PAGE_SIZE_4K 4096ull

/* --- Decoding ----------------------------------------------------------- */

struct decoder {
	const uint8_t *bytes;
	size_t n, pos;
	uint8_t rex;
};

static int dec_byte(struct decoder *d, uint8_t *b)
{
	if (d->pos >= d->n)
		return -ENODATA;
	*b = d->bytes[d->pos++];
	return 0;
}

static int dec_disp(struct decoder *d, unsigned int size, int64_t *disp)
{
	uint32_t v = 0;
	uint8_t b;

	for (unsigned int i = 0; i < size; i++) {
		if (dec_byte(d, &b))
			return -ENODATA;
		v |= (uint32_t)b << (8 * i);
	}
	*disp = size == 1 ? (int8_t)v : (int32_t)v;
	return 0;
}

/* ModRM and SIB in 64-bit mode (SDM vol. 2, 2.1.5 and 2.2.1). */
static int dec_modrm(struct decoder *d, uint8_t modrm, struct pvm_insn *in)
{
	unsigned int mod = modrm >> 6, rm = modrm & 7;
	struct pvm_mem_operand *m = &in->mem;
	uint8_t sib;

	in->reg = ((modrm >> 3) & 7) | (d->rex & 4 ? 8 : 0);
	if (mod == 3) {
		in->rm = rm | (d->rex & 1 ? 8 : 0);
		return 0;
	}

	in->has_mem = true;
	m->base = -1;
	m->index = -1;
	if (rm == 4) {
		if (dec_byte(d, &sib))
			return -ENODATA;
		m->scale = sib >> 6;
		if ((((sib >> 3) & 7) | (d->rex & 2 ? 8 : 0)) != 4)
			m->index = ((sib >> 3) & 7) | (d->rex & 2 ? 8 : 0);
		if ((sib & 7) == 5 && mod == 0)
			return dec_disp(d, 4, &m->disp);
		m->base = (sib & 7) | (d->rex & 1 ? 8 : 0);
	} else if (rm == 5 && mod == 0) {
		m->rip_relative = true;
		return dec_disp(d, 4, &m->disp);
	} else {
		m->base = rm | (d->rex & 1 ? 8 : 0);
	}
	if (mod == 1)
		return dec_disp(d, 1, &m->disp);
	if (mod == 2)
		return dec_disp(d, 4, &m->disp);
	return 0;
}

/* 0F 01 with a fixed ModRM byte. */
static int dec_0f01(uint8_t modrm, struct pvm_insn *in)
{
	switch (modrm) {
	case 0xca:
		in->op = PVM_OP_CLAC;
		return 0;
	case 0xcb:
		in->op = PVM_OP_STAC;
		return 0;
	case 0xd0:
		in->op = PVM_OP_XGETBV;
		return 0;
	case 0xd1:
		in->op = PVM_OP_XSETBV;
		return 0;
	default:
		return -ENOTSUP;
	}
}

/* 0F AE /4, /5, /6 with a memory operand and no 66/F2/F3 prefix. */
static int dec_0fae(struct decoder *d, struct pvm_insn *in)
{
	uint8_t modrm;
	int err;

	if (dec_byte(d, &modrm))
		return -ENODATA;
	err = dec_modrm(d, modrm, in);
	if (err)
		return err;
	if (!in->has_mem)
		return -ENOTSUP; /* LFENCE, MFENCE, SFENCE: not ours */
	switch ((modrm >> 3) & 7) {
	case 4:
		in->op = PVM_OP_XSAVE;
		return 0;
	case 5:
		in->op = PVM_OP_XRSTOR;
		return 0;
	case 6:
		in->op = PVM_OP_XSAVEOPT;
		return 0;
	default:
		return -ENOTSUP;
	}
}

int pvm_insn_decode(const uint8_t *bytes, size_t n, struct pvm_insn *out)
{
	struct decoder d = {.bytes = bytes, .n = n > 15 ? 15 : n};
	bool p66 = false, pf2 = false, pf3 = false, any = false;
	uint8_t b, op;
	int err;

	memset(out, 0, sizeof(*out));
	out->mem.base = out->mem.index = -1;

	/* Legacy prefixes, then at most one REX right before the opcode. */
	for (;;) {
		if (dec_byte(&d, &b))
			return -ENODATA;
		if (b == 0x66)
			p66 = true;
		else if (b == 0x67)
			out->mem.addr32 = true;
		else if (b == 0xf2)
			pf2 = true;
		else if (b == 0xf3)
			pf3 = true;
		else if (b == 0x64)
			out->mem.seg = PVM_SEG_FS;
		else if (b == 0x65)
			out->mem.seg = PVM_SEG_GS;
		else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e)
			; /* null segment prefixes in 64-bit mode */
		else if (b == 0xf0)
			return -ENOTSUP; /* LOCK: nothing of ours takes it */
		else
			break;
		any = true;
	}
	if ((b & 0xf0) == 0x40) {
		d.rex = b;
		if (dec_byte(&d, &b))
			return -ENODATA;
	}
	op = b;

	if (op == 0xcc || op == 0x9b) {
		if (any || d.rex)
			return -ENOTSUP;
		out->op = op == 0xcc ? PVM_OP_INT3 : PVM_OP_FWAIT;
		out->len = d.pos;
		return 0;
	}
	if (op != 0x0f)
		return -ENOTSUP;
	if (dec_byte(&d, &op))
		return -ENODATA;

	switch (op) {
	case 0x01:
		if (p66 || pf2 || pf3)
			return -ENOTSUP;
		if (dec_byte(&d, &b))
			return -ENODATA;
		err = dec_0f01(b, out);
		break;
	case 0xae:
		if (p66 || pf2 || pf3)
			return -ENOTSUP;
		err = dec_0fae(&d, out);
		break;
	case 0xb8:
		/* POPCNT is F3 0F B8 /r; without F3 it is JMPE. */
		if (!pf3 || pf2)
			return -ENOTSUP;
		if (dec_byte(&d, &b))
			return -ENODATA;
		out->op = PVM_OP_POPCNT;
		out->opsize = d.rex & 8 ? 8 : p66 ? 2 : 4;
		err = dec_modrm(&d, b, out);
		break;
	default:
		return -ENOTSUP;
	}
	if (err)
		return err;
	out->len = d.pos;
	return 0;
}

/* --- Registers and guest memory ----------------------------------------- */

/* General registers in encoding order (SDM vol. 2, 2.1.5). */
static __u64 *gpr(struct kvm_regs *r, unsigned int n)
{
	__u64 *const map[16] = {
		&r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp,
		&r->rsi, &r->rdi, &r->r8,  &r->r9,  &r->r10, &r->r11,
		&r->r12, &r->r13, &r->r14, &r->r15,
	};

	return map[n & 15];
}

static uint64_t effective_address(struct pvm_cpu *cpu,
				  const struct pvm_insn *in)
{
	const struct pvm_mem_operand *m = &in->mem;
	uint64_t ea = (uint64_t)m->disp;

	if (m->base >= 0)
		ea += *gpr(&cpu->regs, m->base);
	if (m->index >= 0)
		ea += *gpr(&cpu->regs, m->index) << m->scale;
	if (m->rip_relative)
		ea += cpu->regs.rip + in->len;
	if (m->addr32)
		ea &= 0xffffffffull;
	if (m->seg == PVM_SEG_FS)
		ea += cpu->sregs.fs.base;
	else if (m->seg == PVM_SEG_GS)
		ea += cpu->sregs.gs.base;
	return ea;
}

static void queue_exc(struct pvm_cpu *cpu, uint8_t vector, uint32_t error,
		      uint64_t cr2)
{
	cpu->exc = (struct pvm_exception){
		.pending = true,
		.vector = vector,
		.error_code = error,
		.cr2 = cr2,
	};
}

static bool is_canonical(uint64_t va, unsigned int bits)
{
	int64_t s = (int64_t)(va << (64 - bits)) >> (64 - bits);

	return (uint64_t)s == va;
}

/* Sets bits in a page-table entry the way the CPU would, atomically. */
static void pte_set_bits(uint64_t *pte, uint64_t bits)
{
	if ((*pte & bits) != bits)
		__atomic_fetch_or(pte, bits, __ATOMIC_SEQ_CST);
}

int pvm_gva_translate(struct pvm_cpu *cpu, const struct gmem *gm, uint64_t gva,
		      bool write, gpa_t *gpa)
{
	unsigned int levels = cpu->sregs.cr4 & CR4_LA57 ? 5 : 4;
	bool user = cpu->sregs.cs.dpl == 3;
	uint32_t pf = (write ? PF_WRITE : 0) | (user ? PF_USER : 0);
	gpa_t table = cpu->sregs.cr3 & PTE_ADDR;
	bool writable = true, user_ok = true;

	if (!is_canonical(gva, levels == 5 ? 57 : 48)) {
		queue_exc(cpu, VEC_GP, 0, 0);
		return -EFAULT;
	}

	for (unsigned int level = levels; level >= 1; level--) {
		unsigned int shift = 12 + 9 * (level - 1);
		gpa_t at = table + ((gva >> shift) & 511) * 8;
		uint64_t *pte = gmem_ptr(gm, at, 8);

		if (!pte || (at & 7)) {
			/* Page tables outside RAM: the guest is broken. */
			queue_exc(cpu, VEC_PF, pf, gva);
			return -EFAULT;
		}
		if (!(*pte & PTE_P)) {
			queue_exc(cpu, VEC_PF, pf, gva);
			return -EFAULT;
		}
		writable = writable && (*pte & PTE_RW);
		user_ok = user_ok && (*pte & PTE_US);
		pte_set_bits(pte, PTE_A);

		/* 1 GiB and 2 MiB pages end the walk early. */
		if (level == 1 ||
		    ((level == 2 || level == 3) && (*pte & PTE_PS))) {
			uint64_t span = 1ull << shift;

			pf |= PF_PRESENT;
			if (user && !user_ok)
				goto fault;
			if (write && !writable &&
			    (user || (cpu->sregs.cr0 & CR0_WP)))
				goto fault;
			/* SMAP: supervisor data access to a user page. */
			if (!user && user_ok && (cpu->sregs.cr4 & CR4_SMAP) &&
			    !(cpu->regs.rflags & RFLAGS_AC))
				goto fault;
			if (write)
				pte_set_bits(pte, PTE_D);
			*gpa = (*pte & PTE_ADDR & ~(span - 1)) |
			       (gva & (span - 1));
			return 0;
		}
		table = *pte & PTE_ADDR;
	}
fault:
	queue_exc(cpu, VEC_PF, pf, gva);
	return -EFAULT;
}

/*
 * Copies between buf and guest linear range [gva, gva + len), page by
 * page. Every page is translated before any byte moves, so a fault leaves
 * memory untouched.
 */
static int gva_copy(struct pvm_cpu *cpu, const struct gmem *gm, uint64_t gva,
		    void *buf, size_t len, bool write)
{
	for (int pass = 0; pass < 2; pass++) {
		size_t done = 0;

		while (done < len) {
			uint64_t va = gva + done;
			size_t chunk = PAGE_SIZE_4K - (va & (PAGE_SIZE_4K - 1));
			uint8_t *host;
			gpa_t gpa;

			if (chunk > len - done)
				chunk = len - done;
			if (pvm_gva_translate(cpu, gm, va, write, &gpa))
				return -EFAULT;
			host = gmem_ptr(gm, gpa, chunk);
			if (!host) {
				/* Not RAM (an MMIO window): not ours. */
				return -ENOTSUP;
			}
			if (pass == 1 && write)
				memcpy(host, (uint8_t *)buf + done, chunk);
			else if (pass == 1)
				memcpy((uint8_t *)buf + done, host, chunk);
			done += chunk;
		}
	}
	return 0;
}

/* --- XSAVE family -------------------------------------------------------- */

/* Bytes of an XSAVE area holding every component enabled in xcr0. */
static size_t xsave_size(const struct pvm_xsave_layout *lo, uint64_t xcr0)
{
	size_t size = XSAVE_LEGACY_SIZE + XSAVE_HEADER_SIZE;

	for (unsigned int i = 2; i < PVM_XSAVE_COMPONENTS; i++)
		if ((xcr0 & (1ull << i)) && lo->offset[i] + lo->size[i] > size)
			size = lo->offset[i] + lo->size[i];
	return size;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* The component ranges copied for one feature bit. */
static void copy_component(uint8_t *dst, const uint8_t *src, unsigned int i,
			   const struct pvm_xsave_layout *lo)
{
	if (i == 0) {
		/* FCW..FDP, then ST0-ST7: all but MXCSR. */
		memcpy(dst, src, XSAVE_MXCSR);
		memcpy(dst + 32, src + 32, XSAVE_XMM - 32);
	} else if (i == 1) {
		memcpy(dst + XSAVE_XMM, src + XSAVE_XMM, 16 * 16);
	} else {
		memcpy(dst + lo->offset[i], src + lo->offset[i], lo->size[i]);
	}
}

static bool component_fits(const struct pvm_cpu *cpu, unsigned int i)
{
	const struct pvm_xsave_layout *lo = cpu->layout;

	return i < 2 || (uint64_t)lo->offset[i] + lo->size[i] <= cpu->xsave_len;
}

static int check_xsave_operand(struct pvm_cpu *cpu, uint64_t ea)
{
	if (ea & (XSAVE_ALIGN - 1)) {
		queue_exc(cpu, VEC_GP, 0, 0);
		return -EFAULT;
	}
	return 0;
}

/*
 * XSAVE in the standard format: every requested component goes to memory
 * from the vCPU's state as KVM holds it; XSTATE_BV says which of them are
 * not in their initial state. XSAVEOPT may skip unmodified components;
 * writing them all is what XSAVE does and is equally correct.
 */
static int exec_xsave(struct pvm_cpu *cpu, const struct gmem *gm,
		      const struct pvm_insn *in)
{
	const struct pvm_xsave_layout *lo = cpu->layout;
	uint64_t ea = effective_address(cpu, in);
	uint64_t rfbm = cpu->xcr0 &
			((cpu->regs.rdx << 32) | (uint32_t)cpu->regs.rax);
	uint64_t inuse = get_u64(cpu->xsave + XSAVE_XSTATE_BV);
	size_t size = xsave_size(lo, cpu->xcr0);
	uint8_t *area;
	uint64_t bv;
	int err;

	if (check_xsave_operand(cpu, ea))
		return 0;
	area = malloc(size);
	if (!area)
		return -ENOMEM;
	err = gva_copy(cpu, gm, ea, area, size, false);
	if (err)
		goto out;

	for (unsigned int i = 0; i < PVM_XSAVE_COMPONENTS; i++) {
		if (!(rfbm & (1ull << i)))
			continue;
		if (!component_fits(cpu, i)) {
			err = -ENOTSUP;
			goto out;
		}
		copy_component(area, cpu->xsave, i, lo);
	}
	if (rfbm & (XFEATURE_SSE | XFEATURE_AVX))
		memcpy(area + XSAVE_MXCSR, cpu->xsave + XSAVE_MXCSR, 8);
	bv = get_u64(area + XSAVE_XSTATE_BV);
	put_u64(area + XSAVE_XSTATE_BV, (bv & ~rfbm) | (inuse & rfbm));

	err = gva_copy(cpu, gm, ea, area, size, true);
out:
	free(area);
	if (err == -EFAULT)
		return 0; /* cpu->exc holds the fault */
	if (err == 0)
		cpu->regs.rip += in->len;
	return err;
}

/* The initial state of component i (SDM vol. 1, 13.6). */
static void init_component(uint8_t *img, unsigned int i,
			   const struct pvm_xsave_layout *lo)
{
	if (i == 0) {
		memset(img, 0, XSAVE_MXCSR);
		memset(img + 32, 0, XSAVE_XMM - 32);
		img[0] = 0x7f; /* FCW = 0x037f */
		img[1] = 0x03;
	} else if (i == 1) {
		memset(img + XSAVE_XMM, 0, 16 * 16);
	} else {
		memset(img + lo->offset[i], 0, lo->size[i]);
	}
}

/* XRSTOR in the standard format, with its #GP checks on the header. */
static int exec_xrstor(struct pvm_cpu *cpu, const struct gmem *gm,
		       const struct pvm_insn *in)
{
	const struct pvm_xsave_layout *lo = cpu->layout;
	uint64_t ea = effective_address(cpu, in);
	uint64_t rfbm = cpu->xcr0 &
			((cpu->regs.rdx << 32) | (uint32_t)cpu->regs.rax);
	size_t size = xsave_size(lo, cpu->xcr0);
	uint64_t bv, inuse;
	uint32_t mxcsr, mask;
	uint8_t *area;
	int err;

	if (check_xsave_operand(cpu, ea))
		return 0;
	area = malloc(size);
	if (!area)
		return -ENOMEM;
	err = gva_copy(cpu, gm, ea, area, size, false);
	if (err)
		goto out;

	/* The compacted form comes only from XSAVEC/XSAVES, kept off. */
	bv = get_u64(area + XSAVE_XSTATE_BV);
	if (get_u64(area + XSAVE_XCOMP_BV) >> 63) {
		err = -ENOTSUP;
		goto out;
	}
	memcpy(&mxcsr, area + XSAVE_MXCSR, 4);
	memcpy(&mask, cpu->xsave + XSAVE_MXCSR_MASK, 4);
	if (!mask)
		mask = MXCSR_DEFAULT_MASK;
	if ((bv & ~cpu->xcr0) || get_u64(area + XSAVE_XCOMP_BV) ||
	    get_u64(area + XSAVE_XCOMP_BV + 8) ||
	    ((rfbm & (XFEATURE_SSE | XFEATURE_AVX)) && (mxcsr & ~mask))) {
		queue_exc(cpu, VEC_GP, 0, 0);
		goto out;
	}

	for (unsigned int i = 0; i < PVM_XSAVE_COMPONENTS; i++) {
		if (!(rfbm & (1ull << i)))
			continue;
		if (!component_fits(cpu, i)) {
			err = -ENOTSUP;
			goto out;
		}
		if (bv & (1ull << i))
			copy_component(cpu->xsave, area, i, lo);
		else
			init_component(cpu->xsave, i, lo);
	}
	if (rfbm & (XFEATURE_SSE | XFEATURE_AVX))
		memcpy(cpu->xsave + XSAVE_MXCSR, &mxcsr, 4);
	inuse = get_u64(cpu->xsave + XSAVE_XSTATE_BV);
	put_u64(cpu->xsave + XSAVE_XSTATE_BV, (inuse & ~rfbm) | (bv & rfbm));
	cpu->xsave_dirty = true;
	cpu->regs.rip += in->len;
out:
	free(area);
	return err == -EFAULT ? 0 : err;
}

static void exec_xgetbv(struct pvm_cpu *cpu, const struct pvm_insn *in)
{
	uint32_t index = (uint32_t)cpu->regs.rcx;
	uint64_t v;

	if (index == 0) {
		v = cpu->xcr0;
	} else if (index == 1 && cpu->layout->xgetbv1) {
		/* XINUSE: the components not in their initial state. */
		v = cpu->xcr0 & get_u64(cpu->xsave + XSAVE_XSTATE_BV);
	} else {
		queue_exc(cpu, VEC_GP, 0, 0);
		return;
	}
	cpu->regs.rax = (uint32_t)v;
	cpu->regs.rdx = v >> 32;
	cpu->regs.rip += in->len;
}

static void exec_xsetbv(struct pvm_cpu *cpu, const struct pvm_insn *in)
{
	uint64_t v = (cpu->regs.rdx << 32) | (uint32_t)cpu->regs.rax;

	/* x87 always on; AVX needs SSE; only what the CPU supports. */
	if ((uint32_t)cpu->regs.rcx != 0 || cpu->sregs.cs.dpl != 0 ||
	    !(v & XFEATURE_X87) || (v & ~cpu->layout->supported) ||
	    ((v & XFEATURE_AVX) && !(v & XFEATURE_SSE))) {
		queue_exc(cpu, VEC_GP, 0, 0);
		return;
	}
	cpu->xcr0 = v;
	cpu->xcr0_dirty = true;
	cpu->regs.rip += in->len;
}

/* --- The rest ------------------------------------------------------------ */

static int exec_popcnt(struct pvm_cpu *cpu, const struct gmem *gm,
		       const struct pvm_insn *in)
{
	__u64 *dst = gpr(&cpu->regs, in->reg);
	uint64_t src = 0;
	uint64_t mask = in->opsize == 8   ? ~0ull
			: in->opsize == 4 ? 0xffffffffull
					  : 0xffffull;
	unsigned int count;

	if (in->has_mem) {
		int err = gva_copy(cpu, gm, effective_address(cpu, in), &src,
				   in->opsize, false);

		if (err)
			return err == -EFAULT ? 0 : err;
	} else {
		src = *gpr(&cpu->regs, in->rm);
	}
	count = (unsigned int)__builtin_popcountll(src & mask);

	/* A 32-bit result zero-extends; a 16-bit one keeps bits 63:16. */
	if (in->opsize == 2)
		*dst = (*dst & ~0xffffull) | count;
	else
		*dst = count;
	cpu->regs.rflags &= ~(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF |
			      RFLAGS_SF | RFLAGS_OF);
	if ((src & mask) == 0)
		cpu->regs.rflags |= RFLAGS_ZF;
	cpu->regs.rip += in->len;
	return 0;
}

int pvm_insn_execute(struct pvm_cpu *cpu, const struct gmem *gm,
		     const struct pvm_insn *in)
{
	bool needs_xsave = in->op == PVM_OP_XSAVE ||
			   in->op == PVM_OP_XSAVEOPT ||
			   in->op == PVM_OP_XRSTOR || in->op == PVM_OP_XGETBV;

	cpu->exc.pending = false;
	if (needs_xsave &&
	    (!cpu->xsave ||
	     cpu->xsave_len < XSAVE_LEGACY_SIZE + XSAVE_HEADER_SIZE))
		return -ENOTSUP;

	switch (in->op) {
	case PVM_OP_XSAVE:
	case PVM_OP_XSAVEOPT:
		return exec_xsave(cpu, gm, in);
	case PVM_OP_XRSTOR:
		return exec_xrstor(cpu, gm, in);
	case PVM_OP_XGETBV:
		exec_xgetbv(cpu, in);
		return 0;
	case PVM_OP_XSETBV:
		exec_xsetbv(cpu, in);
		return 0;
	case PVM_OP_CLAC:
	case PVM_OP_STAC:
		if (cpu->sregs.cs.dpl != 0) {
			queue_exc(cpu, 6, 0, 0); /* #UD outside ring 0 */
			return 0;
		}
		if (in->op == PVM_OP_STAC)
			cpu->regs.rflags |= RFLAGS_AC;
		else
			cpu->regs.rflags &= ~RFLAGS_AC;
		cpu->regs.rip += in->len;
		return 0;
	case PVM_OP_POPCNT:
		return exec_popcnt(cpu, gm, in);
	case PVM_OP_FWAIT:
		/* No x87 exception is ever left pending here. */
		cpu->regs.rip += in->len;
		return 0;
	case PVM_OP_INT3:
		/* A trap: the handler sees RIP past the INT3. */
		cpu->regs.rip += in->len;
		queue_exc(cpu, VEC_BP, 0, 0);
		return 0;
	}
	return -ENOTSUP;
}

/* --- KVM ----------------------------------------------------------------- */

void pvm_xsave_layout_from_host(struct pvm_xsave_layout *layout)
{
	unsigned int a, b, c, d;

	memset(layout, 0, sizeof(*layout));
	if (__get_cpuid_max(0, NULL) < 0xd)
		return;
	__cpuid_count(0xd, 0, a, b, c, d);
	layout->supported = ((uint64_t)d << 32) | a;
	for (unsigned int i = 2; i < PVM_XSAVE_COMPONENTS; i++) {
		if (!(layout->supported & (1ull << i)))
			continue;
		__cpuid_count(0xd, i, a, b, c, d);
		layout->size[i] = a;
		layout->offset[i] = b;
	}
	__cpuid_count(0xd, 1, a, b, c, d);
	layout->xgetbv1 = a & (1u << 2);
}

static struct pvm_xsave_layout host_layout;
static pthread_once_t host_layout_once = PTHREAD_ONCE_INIT;

static void host_layout_init(void)
{
	pvm_xsave_layout_from_host(&host_layout);
}

/* The bytes of the rejected instruction: from KVM, else from memory. */
static size_t insn_bytes(struct pvm_cpu *cpu, const struct gmem *gm,
			 const struct kvm_run *run, uint8_t *buf, size_t size)
{
	struct pvm_cpu probe = *cpu;
	uint64_t rip = cpu->regs.rip + cpu->sregs.cs.base;
	size_t n;

	if (run->emulation_failure.flags &
	    KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) {
		n = run->emulation_failure.insn_size;
		if (n > sizeof(run->emulation_failure.insn_bytes))
			n = sizeof(run->emulation_failure.insn_bytes);
		if (n > size)
			n = size;
		memcpy(buf, run->emulation_failure.insn_bytes, n);
		return n;
	}

	/* Up to the end of RIP's page, so no second page is needed. */
	n = PAGE_SIZE_4K - (rip & (PAGE_SIZE_4K - 1));
	if (n > size)
		n = size;
	probe.sregs.cs.dpl = 0; /* instruction fetch: no SMAP check */
	probe.regs.rflags |= RFLAGS_AC;
	if (gva_copy(&probe, gm, rip, buf, n, false))
		return 0;
	return n;
}

/* The vCPU's XSAVE image: KVM_GET_XSAVE2 where it is larger. */
static int xsave_get(int vm_fd, int vcpu_fd, struct pvm_cpu *cpu)
{
	int size = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	unsigned long req = KVM_GET_XSAVE2;

	if (size < (int)sizeof(struct kvm_xsave)) {
		size = sizeof(struct kvm_xsave);
		req = KVM_GET_XSAVE;
	}
	cpu->xsave = calloc(1, (size_t)size);
	if (!cpu->xsave)
		return -ENOMEM;
	cpu->xsave_len = (size_t)size;
	if (ioctl(vcpu_fd, req, cpu->xsave) < 0)
		return -errno;
	return 0;
}

static int xcr0_get(int vcpu_fd, uint64_t *xcr0)
{
	struct kvm_xcrs xcrs = {0};

	if (ioctl(vcpu_fd, KVM_GET_XCRS, &xcrs) < 0)
		return -errno;
	for (unsigned int i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++)
		if (xcrs.xcrs[i].xcr == 0)
			*xcr0 = xcrs.xcrs[i].value;
	return 0;
}

static int xcr0_set(int vcpu_fd, uint64_t xcr0)
{
	struct kvm_xcrs xcrs = {.nr_xcrs = 1};

	xcrs.xcrs[0].xcr = 0;
	xcrs.xcrs[0].value = xcr0;
	return ioctl(vcpu_fd, KVM_SET_XCRS, &xcrs) < 0 ? -errno : 0;
}

/* Delivers cpu->exc at the next KVM_RUN (CR2 first for a #PF). */
static int inject_exception(int vcpu_fd, struct pvm_cpu *cpu)
{
	struct kvm_vcpu_events ev;

	if (cpu->exc.vector == VEC_PF) {
		cpu->sregs.cr2 = cpu->exc.cr2;
		if (ioctl(vcpu_fd, KVM_SET_SREGS, &cpu->sregs) < 0)
			return -errno;
	}
	if (ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	ev.exception.injected = 1;
	ev.exception.nr = cpu->exc.vector;
	ev.exception.has_error_code = cpu->exc.vector == VEC_GP ||
				      cpu->exc.vector == VEC_PF;
	ev.exception.error_code = cpu->exc.error_code;
	ev.flags = 0;
	if (ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	return 0;
}

static int write_back(int vcpu_fd, struct pvm_cpu *cpu)
{
	if (cpu->xsave_dirty && ioctl(vcpu_fd, KVM_SET_XSAVE, cpu->xsave) < 0)
		return -errno;
	if (cpu->xcr0_dirty) {
		int err = xcr0_set(vcpu_fd, cpu->xcr0);

		if (err)
			return err;
	}
	if (ioctl(vcpu_fd, KVM_SET_REGS, &cpu->regs) < 0)
		return -errno;
	if (cpu->exc.pending)
		return inject_exception(vcpu_fd, cpu);
	return 0;
}

static const char *const op_names[] = {
	[PVM_OP_XSAVE] = "xsave",   [PVM_OP_XSAVEOPT] = "xsaveopt",
	[PVM_OP_XRSTOR] = "xrstor", [PVM_OP_XGETBV] = "xgetbv",
	[PVM_OP_XSETBV] = "xsetbv", [PVM_OP_CLAC] = "clac",
	[PVM_OP_STAC] = "stac",     [PVM_OP_POPCNT] = "popcnt",
	[PVM_OP_FWAIT] = "fwait",   [PVM_OP_INT3] = "int3",
};

int pvm_emulate(struct vm *vm, unsigned int index, struct kvm_run *run)
{
	int fd = vm->vcpus[index].fd;
	struct pvm_cpu cpu = {.layout = &host_layout};
	struct pvm_insn in;
	uint8_t bytes[16];
	size_t n;
	int err;

	if (run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION)
		return -ENOTSUP;
	pthread_once(&host_layout_once, host_layout_init);
	if (ioctl(fd, KVM_GET_REGS, &cpu.regs) < 0 ||
	    ioctl(fd, KVM_GET_SREGS, &cpu.sregs) < 0)
		return -errno;

	n = insn_bytes(&cpu, &vm->mem, run, bytes, sizeof(bytes));
	err = pvm_insn_decode(bytes, n, &in);
	if (err)
		return err;

	if (in.op == PVM_OP_XSAVE || in.op == PVM_OP_XSAVEOPT ||
	    in.op == PVM_OP_XRSTOR || in.op == PVM_OP_XGETBV ||
	    in.op == PVM_OP_XSETBV) {
		err = xcr0_get(fd, &cpu.xcr0);
		if (!err && in.op != PVM_OP_XSETBV)
			err = xsave_get(vm->vm_fd, fd, &cpu);
		if (err)
			goto out;
	}

	err = pvm_insn_execute(&cpu, &vm->mem, &in);
	if (!err)
		err = write_back(fd, &cpu);
	if (err)
		log_error("vcpu%u: cannot complete %s at rip 0x%llx: %s", index,
			  op_names[in.op], (unsigned long long)cpu.regs.rip,
			  strerror(-err));
	else
		log_debug("vcpu%u: completed %s%s", index, op_names[in.op],
			  cpu.exc.pending ? " (fault delivered)" : "");
out:
	free(cpu.xsave);
	return err;
}
