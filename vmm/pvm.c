/* What minnow does differently on a kvm_pvm host; see pvm.h. */
#include "vmm/pvm.h"

#include <unistd.h>

#define PVM_MODULE_PATH "/sys/module/kvm_pvm"

bool pvm_host_detect(void)
{
	return access(PVM_MODULE_PATH, F_OK) == 0;
}

const char *pvm_cmdline_for(enum cpu_template tmpl, bool host_is_pvm)
{
	if (!host_is_pvm)
		return "";

	/*
	 * The emulator that runs guest kernel code cannot execute XSAVES,
	 * XSAVEC, CLAC/STAC or POPCNT: the kernel is told to do without
	 * them (smap and popcnt would otherwise cost an exit each, which
	 * vmm/pvm_emulate.c would complete). erms/fsrm select string copies
	 * that are slow to emulate. XSAVE and XRSTOR stay on, completed by
	 * vmm/pvm_emulate.c: guest user code runs with the host's XCR0 and
	 * sees the host's CPUID whatever the kernel hides, so a kernel
	 * without XSAVE (noxsave) or without AVX (the "minimal" template's
	 * clearcpuid=avx on hardware) would not save the AVX state user
	 * code uses across context switches. Both templates get the same
	 * line here for that reason.
	 * noreplace-smp: a kernel built for SMP that finds one CPU rewrites
	 * every LOCK prefix of its text, one text_poke each, seconds of
	 * emulated work (3.4 s measured) to save nothing here.
	 */
	(void)tmpl;
	return "noxsaves clearcpuid=xsavec,xsaves,smap,popcnt,erms,fsrm "
	       "noreplace-smp";
}
