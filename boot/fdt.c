/* The device tree given to Linux (SETUP_DTB) or written by --dump-dtb. */
#include "boot/fdt.h"
#include "devices/virtio_mmio.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <inttypes.h>
#include <libfdt.h>
#include <stdio.h>

#define BOOT_FDT_IOAPIC_PHANDLE 1

/*
 * Linux's x86 binding for an IOAPIC interrupt specifier is <pin type>;
 * type 3 programs the pin edge-triggered, active high, matching the
 * pulses a KVM irqfd injects. (Linux relabelled the four types over
 * time, but type 3 has always meant an active-high edge.)
 */
#define BOOT_FDT_IRQ_EDGE_RISING 3

/* A reg property of one (address, size) pair with 2 cells each. */
static int boot_fdt_reg(void *fdt, uint64_t addr, uint64_t size)
{
	fdt64_t reg[2] = {cpu_to_fdt64(addr), cpu_to_fdt64(size)};

	return fdt_property(fdt, "reg", reg, sizeof(reg));
}

static int boot_fdt_memory(void *fdt, const struct gmem *mem)
{
	char name[32];
	int err = 0;

	for (size_t i = 0; i < mem->nr_regions && !err; i++) {
		const struct gmem_region *r = &mem->regions[i];

		snprintf(name, sizeof(name), "memory@%" PRIx64, r->gpa);
		err = fdt_begin_node(fdt, name);
		err = err ?: fdt_property_string(fdt, "device_type", "memory");
		err = err ?: boot_fdt_reg(fdt, r->gpa, r->size);
		err = err ?: fdt_end_node(fdt);
	}
	return err;
}

static int boot_fdt_cpus(void *fdt, unsigned int nr_cpus)
{
	char name[32];
	int err;

	err = fdt_begin_node(fdt, "cpus");
	err = err ?: fdt_property_u32(fdt, "#address-cells", 1);
	err = err ?: fdt_property_u32(fdt, "#size-cells", 0);
	for (unsigned int i = 0; i < nr_cpus && !err; i++) {
		snprintf(name, sizeof(name), "cpu@%u", i);
		err = fdt_begin_node(fdt, name);
		err = err ?: fdt_property_string(fdt, "device_type", "cpu");
		err = err ?: fdt_property_u32(fdt, "reg", i);
		err = err ?: fdt_end_node(fdt);
	}
	return err ?: fdt_end_node(fdt);
}

static int boot_fdt_ioapic(void *fdt)
{
	char name[32];
	int err;

	snprintf(name, sizeof(name), "ioapic@%llx", LAYOUT_IOAPIC_ADDR);
	err = fdt_begin_node(fdt, name);
	err = err
		      ?: fdt_property_string(fdt, "compatible",
					     "intel,ce4100-ioapic");
	err = err ?: fdt_property(fdt, "interrupt-controller", NULL, 0);
	err = err ?: fdt_property_u32(fdt, "#interrupt-cells", 2);
	err = err ?: boot_fdt_reg(fdt, LAYOUT_IOAPIC_ADDR, 0x1000);
	err = err ?: fdt_property_u32(fdt, "phandle", BOOT_FDT_IOAPIC_PHANDLE);
	return err ?: fdt_end_node(fdt);
}

/* virtio 1.2, 4.2.1: the "virtio,mmio" binding, one node per device. */
static int boot_fdt_virtio(void *fdt, const struct virtio_mmio *m)
{
	uint32_t irq[2] = {cpu_to_fdt32(m->irq),
			   cpu_to_fdt32(BOOT_FDT_IRQ_EDGE_RISING)};
	char name[32];
	int err;

	snprintf(name, sizeof(name), "virtio_mmio@%" PRIx64, m->base);
	err = fdt_begin_node(fdt, name);
	err = err ?: fdt_property_string(fdt, "compatible", "virtio,mmio");
	err = err ?: boot_fdt_reg(fdt, m->base, LAYOUT_VIRTIO_MMIO_SIZE);
	err = err ?: fdt_property(fdt, "interrupts", irq, sizeof(irq));
	return err ?: fdt_end_node(fdt);
}

int boot_fdt_build(const struct vm *vm, void *buf, size_t size)
{
	int err;

	if (size > INT32_MAX)
		size = INT32_MAX;
	err = fdt_create(buf, (int)size);
	err = err ?: fdt_finish_reservemap(buf);
	err = err ?: fdt_begin_node(buf, "");
	err = err ?: fdt_property_u32(buf, "#address-cells", 2);
	err = err ?: fdt_property_u32(buf, "#size-cells", 2);
	err = err ?: fdt_property_string(buf, "compatible", "minnow,vm");
	err = err ?: fdt_property_string(buf, "model", "minnow");
	err = err
		      ?: fdt_property_u32(buf, "interrupt-parent",
					  BOOT_FDT_IOAPIC_PHANDLE);
	err = err ?: boot_fdt_memory(buf, &vm->mem);
	err = err ?: boot_fdt_cpus(buf, vm->config.nr_cpus);
	err = err ?: boot_fdt_ioapic(buf);
	for (unsigned int i = 0; i < vm->nr_virtio && !err; i++)
		err = boot_fdt_virtio(buf, vm->virtio[i]);
	err = err ?: fdt_end_node(buf);
	err = err ?: fdt_finish(buf);
	err = err ?: fdt_pack(buf);
	if (err == -FDT_ERR_NOSPACE)
		return -ENOSPC;
	if (err) {
		log_error("fdt: cannot build the device tree: %s",
			  fdt_strerror(err));
		return -EINVAL;
	}
	return 0;
}
