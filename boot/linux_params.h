/*
 * The Linux x86 zero page (struct boot_params) and its setup header, laid
 * out as Documentation/arch/x86/boot.rst and zero-page.rst describe them.
 * Shared with the guest: every offset below is part of the ABI.
 */
#ifndef MINNOW_BOOT_LINUX_PARAMS_H
#define MINNOW_BOOT_LINUX_PARAMS_H

#include <stddef.h>
#include <stdint.h>

/* Offsets in a bzImage file (and in the zero page). */
#define BOOT_SETUP_HEADER_OFFSET 0x1f1
#define BOOT_SETUP_JUMP_OFFSET   0x200 /* end of the header is 0x202 + */
				       /* the byte at 0x201 */
#define BOOT_SECTOR_SIZE         512
#define BOOT_SETUP_SECTS_DEFAULT 4

#define BOOT_FLAG_MAGIC   0xaa55
#define BOOT_HDRS_MAGIC   0x53726448u /* "HdrS" */
#define BOOT_PROTOCOL_MIN 0x020c      /* 2.12: xloadflags */

/* loadflags */
#define BOOT_LOADED_HIGH  0x01
#define BOOT_CAN_USE_HEAP 0x80
/* xloadflags */
#define BOOT_XLF_KERNEL_64 0x0001

#define BOOT_LOADER_TYPE_UNDEFINED 0xff
#define BOOT_VID_MODE_NORMAL       0xffff
/* Highest initrd address for kernels that do not say (protocol < 2.03). */
#define BOOT_INITRD_ADDR_MAX_DEFAULT 0x37ffffffu
/* A 64-bit kernel enters at its 32-bit entry + 0x200. */
#define BOOT_ENTRY64_OFFSET 0x200

#define BOOT_E820_RAM       1
#define BOOT_E820_RESERVED  2
#define BOOT_E820_TABLE_MAX 128

struct boot_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct boot_e820_entry) == 20, "e820 entry size");

struct boot_setup_header {
	uint8_t setup_sects; /* 0x1f1 */
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode; /* 0x1fa */
	uint16_t root_dev;
	uint16_t boot_flag; /* 0x1fe */
	uint16_t jump;      /* 0x200 */
	uint32_t header;    /* 0x202 */
	uint16_t version;   /* 0x206 */
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader; /* 0x210 */
	uint8_t loadflags;      /* 0x211 */
	uint16_t setup_move_size;
	uint32_t code32_start;  /* 0x214 */
	uint32_t ramdisk_image; /* 0x218 */
	uint32_t ramdisk_size;  /* 0x21c */
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr; /* 0x224 */
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;      /* 0x228 */
	uint32_t initrd_addr_max;   /* 0x22c */
	uint32_t kernel_alignment;  /* 0x230 */
	uint8_t relocatable_kernel; /* 0x234 */
	uint8_t min_alignment;
	uint16_t xloadflags;   /* 0x236 */
	uint32_t cmdline_size; /* 0x238 */
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;   /* 0x250 */
	uint64_t pref_address; /* 0x258 */
	uint32_t init_size;    /* 0x260 */
	uint32_t handover_offset;
	uint32_t kernel_info_offset; /* 0x268 */
} __attribute__((packed));

#define BOOT_HDR_OFF(field)                                                    \
	(BOOT_SETUP_HEADER_OFFSET + offsetof(struct boot_setup_header, field))
_Static_assert(sizeof(struct boot_setup_header) == 0x26c - 0x1f1,
	       "setup header size");
_Static_assert(BOOT_HDR_OFF(boot_flag) == 0x1fe, "boot_flag offset");
_Static_assert(BOOT_HDR_OFF(header) == 0x202, "header offset");
_Static_assert(BOOT_HDR_OFF(type_of_loader) == 0x210, "type_of_loader");
_Static_assert(BOOT_HDR_OFF(cmd_line_ptr) == 0x228, "cmd_line_ptr offset");
_Static_assert(BOOT_HDR_OFF(xloadflags) == 0x236, "xloadflags offset");
_Static_assert(BOOT_HDR_OFF(pref_address) == 0x258, "pref_address offset");
_Static_assert(BOOT_HDR_OFF(init_size) == 0x260, "init_size offset");

/* The fields minnow does not fill are kept as opaque padding. */
struct boot_params {
	uint8_t screen_info[0x40];   /* 0x000 */
	uint8_t apm_bios_info[0x14]; /* 0x040 */
	uint8_t pad_054[4];
	uint64_t tboot_addr;     /* 0x058 */
	uint8_t ist_info[0x10];  /* 0x060 */
	uint64_t acpi_rsdp_addr; /* 0x070 */
	uint8_t pad_078[8];
	uint8_t hd0_info[16]; /* 0x080 */
	uint8_t hd1_info[16];
	uint8_t sys_desc_table[0x10];  /* 0x0a0 */
	uint8_t olpc_ofw_header[0x10]; /* 0x0b0 */
	uint32_t ext_ramdisk_image;    /* 0x0c0 */
	uint32_t ext_ramdisk_size;     /* 0x0c4 */
	uint32_t ext_cmd_line_ptr;     /* 0x0c8 */
	uint8_t pad_0cc[0x140 - 0x0cc];
	uint8_t edid_info[0x80]; /* 0x140 */
	uint8_t efi_info[0x20];  /* 0x1c0 */
	uint32_t alt_mem_k;      /* 0x1e0 */
	uint32_t scratch;
	uint8_t e820_entries; /* 0x1e8 */
	uint8_t eddbuf_entries;
	uint8_t edd_mbr_sig_buf_entries;
	uint8_t kbd_status;
	uint8_t secure_boot;
	uint8_t pad_1ed[2];
	uint8_t sentinel; /* 0x1ef */
	uint8_t pad_1f0;
	struct boot_setup_header hdr; /* 0x1f1 */
	uint8_t pad_26c[0x290 - 0x26c];
	uint32_t edd_mbr_sig_buffer[16];                        /* 0x290 */
	struct boot_e820_entry e820_table[BOOT_E820_TABLE_MAX]; /* 0x2d0 */
	uint8_t pad_cd0[0x1000 - 0xcd0]; /* eddbuf and padding */
} __attribute__((packed));

_Static_assert(sizeof(struct boot_params) == 4096, "zero page size");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0c0,
	       "ext_ramdisk_image offset");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8,
	       "e820_entries offset");
_Static_assert(offsetof(struct boot_params, sentinel) == 0x1ef,
	       "sentinel offset");
_Static_assert(offsetof(struct boot_params, hdr) == 0x1f1, "hdr offset");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0,
	       "e820_table offset");

#endif
