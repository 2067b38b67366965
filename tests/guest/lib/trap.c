/*
 * The IDT and the TSS. Exceptions (vectors 0-31) are fatal: they print the
 * CPU state and fail the test, except the #UD at user_exit_point, which is
 * how user_call() gets back to CPL 0.
 */
#include <stdint.h>

#include "asm.h"
#include "guest.h"
#include "trap.h"

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "IDT gate is 16 bytes");

/* Intel SDM vol. 3, 8.7: the 64-bit task-state segment. */
struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS is 104 bytes");

struct trap_frame {
	uint64_t vector;
	uint64_t error;
	uint64_t rip;
	uint64_t cs;
	uint64_t rflags;
	uint64_t rsp;
	uint64_t ss;
};

#define TRAP_EXCEPTIONS 32
#define TRAP_STUB_SIZE  16
#define IDT_ENTRIES     TRAP_EXCEPTIONS
#define GATE_INTR_DPL0  0x8e /* present, 64-bit interrupt gate */
#define VEC_UD          6
#define TSS_TYPE_AVAIL  0x89 /* present, 64-bit TSS (available) */

extern char trap_stubs[];
extern uint64_t guest_gdt_tss[2];
extern char user_exit_point[];
__attribute__((noreturn)) void user_return(void);
void trap_report(const struct trap_frame *f);
void tss_set_rsp0(uint64_t rsp0);

static struct idt_gate idt[IDT_ENTRIES];
static struct tss64 tss;

static void idt_set(unsigned int vec, uint64_t handler, uint8_t type_attr)
{
	idt[vec].offset_lo = (uint16_t)handler;
	idt[vec].selector = GDT_CODE64;
	idt[vec].type_attr = type_attr;
	idt[vec].offset_mid = (uint16_t)(handler >> 16);
	idt[vec].offset_hi = (uint32_t)(handler >> 32);
}

/* Puts tss in the GDT's TSS slot and loads the task register. */
static void tss_install(void)
{
	uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;

	/* No I/O bitmap: ports are reachable from CPL 3 through IOPL. */
	tss.iomap_base = sizeof(tss);
	guest_gdt_tss[0] = (limit & 0xffff) | (base & 0xffffff) << 16 |
			   (uint64_t)TSS_TYPE_AVAIL << 40 |
			   ((base >> 24) & 0xff) << 56;
	guest_gdt_tss[1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(GDT_TSS));
}

void tss_set_rsp0(uint64_t rsp0)
{
	tss.rsp[0] = rsp0;
}

void trap_init(void)
{
	unsigned int i;

	for (i = 0; i < TRAP_EXCEPTIONS; i++)
		idt_set(i, (uint64_t)trap_stubs + i * TRAP_STUB_SIZE,
			GATE_INTR_DPL0);
	tss_install();
	trap_load();
}

void trap_load(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} ptr = {sizeof(idt) - 1, (uint64_t)idt};

	__asm__ volatile("lidt %0" : : "m"(ptr));
}

void trap_report(const struct trap_frame *f)
{
	uint64_t cr2;

	if (f->vector == VEC_UD && f->rip == (uint64_t)user_exit_point &&
	    (f->cs & 3) == 3)
		user_return();

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	printf("trap: vector %lu error %lx rip %lx cs %lx rsp %lx cr2 %lx\n",
	       f->vector, f->error, f->rip, f->cs, f->rsp, cr2);
	guest_exit(GUEST_EXIT_FAIL);
}
