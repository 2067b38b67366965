/* The Linux zero page for a 64-bit entry (Linux boot protocol 2.12+). */
#include "boot/boot_internal.h"
#include "boot/layout.h"

#include <errno.h>
#include <string.h>

/* A vmlinux carries no setup header: give the kernel the fields it reads. */
static void params_fake_header(struct boot_setup_header *hdr)
{
	hdr->boot_flag = BOOT_FLAG_MAGIC;
	hdr->header = BOOT_HDRS_MAGIC;
	hdr->version = BOOT_PROTOCOL_MIN;
	hdr->loadflags = BOOT_LOADED_HIGH;
	hdr->kernel_alignment = 0x200000;
	hdr->cmdline_size = LAYOUT_CMDLINE_MAX - 1;
}

int boot_setup_data_write(struct gmem *gm, const void *dtb, size_t size,
			  struct boot_placement *place)
{
	struct boot_setup_data head = {.type = BOOT_SETUP_DTB,
				       .len = (uint32_t)size};
	int err;

	if (size > LAYOUT_SETUP_DATA_MAX - sizeof(head))
		return -E2BIG;
	err = gmem_write(gm, LAYOUT_SETUP_DATA_ADDR, &head, sizeof(head));
	if (!err)
		err = gmem_write(gm, LAYOUT_SETUP_DATA_ADDR + sizeof(head), dtb,
				 size);
	if (!err)
		place->setup_data = LAYOUT_SETUP_DATA_ADDR;
	return err;
}

int boot_linux_params_write(struct gmem *gm, const struct boot_kernel *k,
			    const struct boot_placement *place)
{
	struct boot_e820_entry e820[BOOT_E820_MAX];
	struct boot_params bp;
	unsigned int n;

	memset(&bp, 0, sizeof(bp));
	if (k->has_setup_header)
		bp.hdr = k->hdr;
	else
		params_fake_header(&bp.hdr);

	/* boot.rst, "Details of header fields": the loader's own fields. */
	bp.hdr.type_of_loader = BOOT_LOADER_TYPE_UNDEFINED;
	bp.hdr.vid_mode = BOOT_VID_MODE_NORMAL;
	bp.hdr.loadflags |= BOOT_LOADED_HIGH;
	bp.hdr.cmd_line_ptr = (uint32_t)place->cmdline;
	bp.ext_cmd_line_ptr = (uint32_t)(place->cmdline >> 32);
	bp.hdr.ramdisk_image = (uint32_t)place->initrd;
	bp.ext_ramdisk_image = (uint32_t)(place->initrd >> 32);
	bp.hdr.ramdisk_size = (uint32_t)place->initrd_size;
	bp.ext_ramdisk_size = (uint32_t)(place->initrd_size >> 32);
	bp.hdr.setup_data = place->setup_data;

	n = boot_e820_build(gm, e820);
	memcpy(bp.e820_table, e820, n * sizeof(e820[0]));
	bp.e820_entries = (uint8_t)n;

	return gmem_write(gm, LAYOUT_BOOT_PARAMS_ADDR, &bp, sizeof(bp));
}
