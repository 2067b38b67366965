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
	 * The emulator that runs guest kernel code cannot execute XSAVE and
	 * relatives, CLAC/STAC or POPCNT; erms/fsrm select string copies
	 * that are slow to emulate. "minimal" also hides AVX and XSAVE,
	 * matching what its CPUID says on hardware. noreplace-smp: a kernel
	 * built for SMP that finds one CPU rewrites every LOCK prefix of its
	 * text, one text_poke each, seconds of emulated work (3.4 s measured)
	 * to save nothing here.
	 */
	if (tmpl == CPU_TEMPLATE_MINIMAL)
		return "noxsave clearcpuid=xsavec,xsaves,smap,popcnt,erms,fsrm,"
		       "avx,avx2,avx512f noreplace-smp";
	return "noxsave clearcpuid=xsavec,xsaves,smap,popcnt,erms,fsrm "
	       "noreplace-smp";
}
