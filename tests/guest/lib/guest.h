/*
 * The guest test runtime: what a test program may call, and the contract
 * it lives under. The entry stub (entry_pvh.S or entry_bzimage.S) switches
 * to long mode with the first 4 GiB identity-mapped, then guest_start()
 * sets up the serial port, the exception handlers and boot_info, writes
 * progress marker 2 and calls the program's main(). Returning from main()
 * is the same as calling guest_exit() with its value.
 *
 * Ports (see README.md): COM1 at 0x3f8 for output, 0x501 for the exit
 * status, 0x510 for progress markers.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_PORT_COM1       0x3f8
#define GUEST_PORT_DEBUG_EXIT 0x501
#define GUEST_PORT_MARKER     0x510
#define GUEST_PORT_I8042_CMD  0x64

#define GUEST_MARK_ENTRY 0x01 /* written by the entry stub */
#define GUEST_MARK_MAIN  0x02 /* just before main() */
#define GUEST_MARK_EXIT  0xff /* just before the exit port write */

#define GUEST_EXIT_PASS 0
#define GUEST_EXIT_FAIL 1

#define GUEST_MAX_CPUS    64
#define GUEST_MAX_MEMMAP  32
#define GUEST_CMDLINE_MAX 256

#define GUEST_MEM_RAM 1 /* e820 / hvm_memmap type for usable RAM */

struct guest_mem_range {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* What the VMM told us at boot, copied out of its structures. */
struct guest_boot_info {
	const char *protocol; /* "pvh" or "linux64" */
	char cmdline[GUEST_CMDLINE_MAX];
	uint64_t rsdp_addr; /* 0 when the VMM gave none */
	unsigned int nr_ranges;
	struct guest_mem_range ranges[GUEST_MAX_MEMMAP];
};

extern struct guest_boot_info boot_info;

/* Linker-script symbols bounding the loaded image, bss included. */
extern char __image_start[], __image_end[];

/* Provided by each test program. */
int main(void);

/* lib/start.c */
void guest_marker(uint8_t code);
__attribute__((noreturn)) void guest_exit(uint32_t code);

/* lib/print.c: %s %c %d %u %x %lx %lu %ld %p %%, with width and 0 pad. */
void serial_init(void);
void serial_putc(char c);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);

/* lib/string.c: the compiler may emit calls to these. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* lib/boot_info.c: called by guest_start() with the entry's register. */
int boot_info_parse(unsigned int kind, uint64_t info_addr);

/* True when word is one of the command line's space-separated words. */
int cmdline_has(const char *word);

/*
 * lib/paging.c: identity-maps [4 GiB, end) with 2 MiB pages, so RAM above
 * 4 GiB can be touched. Returns 0, or -1 when end is past what the static
 * page-table pool covers (the pool covers GUEST_MAP_MAX_GIB).
 */
#define GUEST_MAP_MAX_GIB 64
int paging_map_identity(uint64_t end);

/*
 * lib/user.S: runs fn(arg) at CPL 3 with IOPL 3 (port I/O allowed, 8-bit
 * only on kvm_pvm) on a private stack, and returns when fn returns. On
 * kvm_pvm hosts CPL 0 code is emulated and CPL 3 code runs natively, so
 * long loops belong in here. fn must not call guest_exit() or use
 * privileged instructions; an exception in fn fails the test as usual.
 */
void user_call(void (*fn)(void *), void *arg);

/* lib/delay.c: busy waits; at least as long as asked, maybe longer. */
void delay_us(uint64_t us);
uint64_t tsc_khz(void);

/* lib/lapic.c: the local APIC in xAPIC mode, at its MSR-given base. */
void lapic_init(void);
uint32_t lapic_id(void);
void lapic_send_init(uint32_t apic_id);
void lapic_send_sipi(uint32_t apic_id, uint8_t vector);

/*
 * lib/cpus.c: finds the CPUs from the Intel MP table, else from the ACPI
 * MADT. Fills apic_ids (BSP included) and returns how many, or 0 when
 * neither table was found. *source names the table used. The _mptable
 * and _madt variants read only that table.
 */
unsigned int cpus_discover(uint32_t *apic_ids, unsigned int max,
			   const char **source);
unsigned int cpus_discover_mptable(uint32_t *apic_ids, unsigned int max);
unsigned int cpus_discover_madt(uint32_t *apic_ids, unsigned int max);

/*
 * lib/smp.c: starts the AP with apic_id through INIT, SIPI, SIPI; it runs
 * ap_main(cpu_index) on its own stack. Returns 0 once the AP has reached
 * long mode, -1 if it did not within timeout_ms. Call after lapic_init();
 * APs are started one at a time.
 */
typedef void (*ap_main_fn)(unsigned int cpu_index);
int smp_start_ap(uint32_t apic_id, unsigned int cpu_index, ap_main_fn fn,
		 unsigned int timeout_ms);

#endif
