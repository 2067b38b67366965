/*
 * Completing the guest-kernel instructions that kvm_pvm's emulator gives
 * up on (XSAVE/XSAVEOPT/XRSTOR, XGETBV/XSETBV, CLAC/STAC, POPCNT, FWAIT,
 * INT3). Only used on kvm_pvm hosts; see vmm/pvm.h.
 *
 * Layers: pvm_insn_decode() turns instruction bytes into a struct
 * pvm_insn; pvm_insn_execute() applies it to a struct pvm_cpu (registers,
 * XSAVE image, XCR0) and guest memory, with no ioctl, so tests can drive
 * it on synthetic state; pvm_emulate() does the KVM ioctls around them
 * for a real vCPU.
 */
#ifndef MINNOW_PVM_EMULATE_H
#define MINNOW_PVM_EMULATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/gmem.h"

struct vm;

enum pvm_op {
	PVM_OP_XSAVE,
	PVM_OP_XSAVEOPT,
	PVM_OP_XRSTOR,
	PVM_OP_XGETBV,
	PVM_OP_XSETBV,
	PVM_OP_CLAC,
	PVM_OP_STAC,
	PVM_OP_POPCNT,
	PVM_OP_FWAIT,
	PVM_OP_INT3,
};

enum pvm_seg { PVM_SEG_NONE, PVM_SEG_FS, PVM_SEG_GS };

/* A ModRM memory operand: seg:[base + index * 2^scale + disp]. */
struct pvm_mem_operand {
	int base;  /* register number 0-15, or -1 */
	int index; /* register number 0-15, or -1 */
	unsigned int scale;
	int64_t disp;
	bool rip_relative;
	bool addr32; /* 0x67 prefix: the address is truncated to 32 bits */
	enum pvm_seg seg;
};

struct pvm_insn {
	enum pvm_op op;
	unsigned int len;    /* bytes, prefixes included */
	unsigned int opsize; /* POPCNT: 2, 4 or 8 */
	unsigned int reg;    /* POPCNT: destination register 0-15 */
	bool has_mem;        /* the r/m operand is memory */
	unsigned int rm;     /* the r/m register when !has_mem */
	struct pvm_mem_operand mem;
};

/*
 * Decodes one instruction of 64-bit code from bytes[0..n). Returns 0, or
 * -ENOTSUP for an instruction this file does not complete, -ENODATA when
 * n is too short for it.
 */
int pvm_insn_decode(const uint8_t *bytes, size_t n, struct pvm_insn *out);

/* Where each XSAVE state component lives in the standard format. */
#define PVM_XSAVE_COMPONENTS 64
struct pvm_xsave_layout {
	uint64_t supported;                    /* XCR0 bits the CPU knows */
	uint32_t offset[PVM_XSAVE_COMPONENTS]; /* CPUID.(0xD, i).EBX */
	uint32_t size[PVM_XSAVE_COMPONENTS];   /* CPUID.(0xD, i).EAX */
	bool xgetbv1;                          /* XGETBV with ECX = 1 */
};

/* An exception to deliver instead of completing the instruction. */
struct pvm_exception {
	bool pending;
	uint8_t vector; /* 13 (#GP) or 14 (#PF) */
	uint32_t error_code;
	uint64_t cr2; /* #PF: the faulting linear address */
};

/* The part of a vCPU the instructions read and write. */
struct pvm_cpu {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint64_t xcr0;
	uint8_t *xsave; /* KVM_GET_XSAVE image, standard format */
	size_t xsave_len;
	const struct pvm_xsave_layout *layout;

	/* What pvm_insn_execute() changed. */
	bool xsave_dirty;
	bool xcr0_dirty;
	struct pvm_exception exc;
};

/*
 * Carries out insn on cpu at cpu->regs.rip, with its memory operand
 * (if any) in gm. On success RIP points past the instruction, or
 * cpu->exc describes the fault to deliver (RIP unchanged). Returns 0, or
 * -ENOTSUP for a form this file does not complete (the caller stops the
 * VM as before).
 */
int pvm_insn_execute(struct pvm_cpu *cpu, const struct gmem *gm,
		     const struct pvm_insn *insn);

/*
 * Translates a guest linear address with cpu's page tables (4- or
 * 5-level, from CR3), checking the access as the CPU would for cpu's
 * privilege. Sets the accessed (and for writes, dirty) bits. Returns 0
 * with *gpa set, or -EFAULT with cpu->exc set to the #PF or #GP.
 */
int pvm_gva_translate(struct pvm_cpu *cpu, const struct gmem *gm, uint64_t gva,
		      bool write, gpa_t *gpa);

/* Fills layout from this host's CPUID leaf 0xD (the guest sees it too). */
void pvm_xsave_layout_from_host(struct pvm_xsave_layout *layout);

/*
 * Called on KVM_EXIT_INTERNAL_ERROR from vCPU index's thread: completes
 * the instruction the emulator rejected, if it is one of ours, and
 * returns 0 so the vCPU resumes; a negative errno means the exit stands.
 * Only on kvm_pvm hosts (vm->host_is_pvm).
 */
int pvm_emulate(struct vm *vm, unsigned int index, struct kvm_run *run);

#endif
