/*
 * Loading an ELF64 x86-64 vmlinux: PT_LOAD segments at their physical
 * addresses, entered through its Xen PVH note when it has one, else
 * through its 64-bit entry point with boot_params.
 */
#include "boot/boot_internal.h"
#include "boot/layout.h"
#include "vmm/log.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Xen public/elfnote.h: the 32-bit physical PVH entry point. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* A vmlinux has a handful; anything this large is not a kernel. */
#define ELF_MAX_PHNUM      64
#define ELF_MAX_NOTES_SIZE (64 * 1024)

struct elf_file {
	int fd;
	uint64_t size;
	const char *name;
	Elf64_Ehdr ehdr;
	Elf64_Phdr *phdrs;
};

static int elf_bad(const struct elf_file *f, const char *what)
{
	log_error("boot: %s: %s", f->name, what);
	return -ENOEXEC;
}

static int elf_read(const struct elf_file *f, void *buf, size_t len,
		    uint64_t off)
{
	int err = boot_read_full(f->fd, buf, len, off);

	if (err == -ENODATA)
		return elf_bad(f, "file ends inside a header it declares");
	if (err)
		log_error("boot: %s: read: %s", f->name, strerror(-err));
	return err;
}

/* Is [off, off + len) inside the file? */
static bool elf_in_file(const struct elf_file *f, uint64_t off, uint64_t len)
{
	return off <= f->size && len <= f->size - off;
}

static int elf_check_ehdr(const struct elf_file *f)
{
	const Elf64_Ehdr *eh = &f->ehdr;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return elf_bad(f, "no ELF magic");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_ident[EI_VERSION] != EV_CURRENT)
		return elf_bad(f, "not a little-endian ELF64 file");
	if (eh->e_machine != EM_X86_64)
		return elf_bad(f, "not an x86-64 ELF file");
	if (eh->e_type != ET_EXEC)
		return elf_bad(f, "not an ELF executable");
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return elf_bad(f, "unexpected program header size");
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHNUM)
		return elf_bad(f, "implausible number of program headers");
	if (!elf_in_file(f, eh->e_phoff,
			 (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)))
		return elf_bad(f, "program headers lie outside the file");
	return 0;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/*
 * Every PT_LOAD must come from inside the file, fit wholly inside guest
 * RAM above the low memory minnow writes, and not overlap another.
 */
static int elf_check_loads(const struct elf_file *f, struct gmem *gm)
{
	for (unsigned int i = 0; i < f->ehdr.e_phnum; i++) {
		const Elf64_Phdr *ph = &f->phdrs[i];

		if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
			continue;
		if (ph->p_filesz > ph->p_memsz)
			return elf_bad(f, "segment larger in file than memory");
		if (!elf_in_file(f, ph->p_offset, ph->p_filesz))
			return elf_bad(f, "segment lies outside the file");
		if (ph->p_paddr < LAYOUT_HIGH_RAM_START)
			return elf_bad(f, "segment below 1 MiB");
		if (!gmem_ptr(gm, ph->p_paddr, ph->p_memsz)) {
			log_error("boot: %s: segment at 0x%llx (0x%llx bytes) "
				  "does not fit in guest RAM",
				  f->name, (unsigned long long)ph->p_paddr,
				  (unsigned long long)ph->p_memsz);
			return -ENOEXEC;
		}
		for (unsigned int j = 0; j < i; j++) {
			const Elf64_Phdr *o = &f->phdrs[j];

			if (o->p_type == PT_LOAD && o->p_memsz &&
			    ranges_overlap(ph->p_paddr, ph->p_memsz, o->p_paddr,
					   o->p_memsz))
				return elf_bad(f, "segments overlap");
		}
	}
	return 0;
}

static int elf_copy_loads(const struct elf_file *f, struct gmem *gm,
			  struct boot_kernel *k)
{
	bool any = false;
	int err;

	k->start = UINT64_MAX;
	k->end = 0;
	for (unsigned int i = 0; i < f->ehdr.e_phnum; i++) {
		const Elf64_Phdr *ph = &f->phdrs[i];
		uint8_t *dst;

		if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
			continue;
		dst = gmem_ptr(gm, ph->p_paddr, ph->p_memsz);
		err = elf_read(f, dst, ph->p_filesz, ph->p_offset);
		if (err)
			return err;
		memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);

		any = true;
		if (ph->p_paddr < k->start)
			k->start = ph->p_paddr;
		if (ph->p_paddr + ph->p_memsz > k->end)
			k->end = ph->p_paddr + ph->p_memsz;
	}
	if (!any)
		return elf_bad(f, "no loadable segment");
	return 0;
}

/* The loaded segment that holds physical address pa, if any. */
static bool elf_paddr_loaded(const struct elf_file *f, uint64_t pa)
{
	for (unsigned int i = 0; i < f->ehdr.e_phnum; i++) {
		const Elf64_Phdr *ph = &f->phdrs[i];

		if (ph->p_type == PT_LOAD && pa >= ph->p_paddr &&
		    pa - ph->p_paddr < ph->p_memsz)
			return true;
	}
	return false;
}

/*
 * Walks one PT_NOTE's notes: a 12-byte header (namesz, descsz, type),
 * the name, then the descriptor, with the descriptor and the next note
 * starting at multiples of align from the note's start (as binutils reads
 * them). Sets *found and *entry when the Xen PHYS32_ENTRY note is there.
 */
static int elf_scan_notes(const struct elf_file *f, const uint8_t *buf,
			  size_t len, uint64_t align, bool *found,
			  uint64_t *entry)
{
	size_t pos = 0;

	while (len - pos >= sizeof(Elf64_Nhdr)) {
		uint64_t left = len - pos, desc_off, next;
		const uint8_t *note = buf + pos;
		Elf64_Nhdr nh;

		memcpy(&nh, note, sizeof(nh));
		desc_off = (sizeof(nh) + (uint64_t)nh.n_namesz + align - 1) &
			   ~(align - 1);
		if (desc_off > left || nh.n_descsz > left - desc_off)
			return elf_bad(f, "note runs past its segment");
		next = (desc_off + nh.n_descsz + align - 1) & ~(align - 1);
		pos += next < left ? next : left;

		if (nh.n_namesz != 4 || memcmp(note + sizeof(nh), "Xen", 4) ||
		    nh.n_type != XEN_ELFNOTE_PHYS32_ENTRY)
			continue;
		if (nh.n_descsz == 4) {
			uint32_t v;

			memcpy(&v, note + desc_off, sizeof(v));
			*entry = v;
		} else if (nh.n_descsz == 8) {
			memcpy(entry, note + desc_off, sizeof(*entry));
		} else {
			return elf_bad(f, "PVH entry note has a bad size");
		}
		if (*entry > UINT32_MAX || !elf_paddr_loaded(f, *entry))
			return elf_bad(f, "PVH entry is outside the kernel");
		*found = true;
	}
	return 0;
}

static int elf_find_pvh_entry(const struct elf_file *f, bool *found,
			      uint64_t *entry)
{
	*found = false;
	for (unsigned int i = 0; i < f->ehdr.e_phnum; i++) {
		const Elf64_Phdr *ph = &f->phdrs[i];
		uint8_t *buf;
		int err;

		if (ph->p_type != PT_NOTE || ph->p_filesz == 0)
			continue;
		if (!elf_in_file(f, ph->p_offset, ph->p_filesz))
			return elf_bad(f, "note segment lies outside the file");
		if (ph->p_filesz > ELF_MAX_NOTES_SIZE)
			return elf_bad(f, "note segment is implausibly large");

		buf = malloc(ph->p_filesz);
		if (!buf)
			return -ENOMEM;
		err = elf_read(f, buf, ph->p_filesz, ph->p_offset);
		/* Like binutils: 8-byte notes only where the segment says. */
		if (!err)
			err = elf_scan_notes(f, buf, ph->p_filesz,
					     ph->p_align == 8 ? 8 : 4, found,
					     entry);
		free(buf);
		if (err)
			return err;
	}
	return 0;
}

/* The 64-bit entry is virtual; the PT_LOAD holding it says where it is. */
static int elf_entry_phys(const struct elf_file *f, uint64_t *entry)
{
	uint64_t va = f->ehdr.e_entry;

	for (unsigned int i = 0; i < f->ehdr.e_phnum; i++) {
		const Elf64_Phdr *ph = &f->phdrs[i];

		if (ph->p_type == PT_LOAD && va >= ph->p_vaddr &&
		    va - ph->p_vaddr < ph->p_memsz) {
			*entry = va - ph->p_vaddr + ph->p_paddr;
			return 0;
		}
	}
	return elf_bad(f, "entry point is outside every segment");
}

int boot_elf_load(struct gmem *gm, int fd, uint64_t file_size, const char *name,
		  struct boot_kernel *k)
{
	struct elf_file f = {.fd = fd, .size = file_size, .name = name};
	bool pvh;
	int err;

	memset(k, 0, sizeof(*k));
	if (file_size < sizeof(f.ehdr))
		return elf_bad(&f, "too short for an ELF header");
	err = elf_read(&f, &f.ehdr, sizeof(f.ehdr), 0);
	if (err)
		return err;
	err = elf_check_ehdr(&f);
	if (err)
		return err;

	f.phdrs = calloc(f.ehdr.e_phnum, sizeof(*f.phdrs));
	if (!f.phdrs)
		return -ENOMEM;
	err = elf_read(&f, f.phdrs, f.ehdr.e_phnum * sizeof(*f.phdrs),
		       f.ehdr.e_phoff);
	if (err)
		goto out;

	/* Check everything before writing anything into the guest. */
	err = elf_check_loads(&f, gm);
	if (err)
		goto out;
	err = elf_find_pvh_entry(&f, &pvh, &k->entry);
	if (err)
		goto out;
	if (pvh)
		k->kind = BOOT_ENTRY_PVH;
	else {
		k->kind = BOOT_ENTRY_LINUX64;
		err = elf_entry_phys(&f, &k->entry);
		if (err)
			goto out;
	}

	err = elf_copy_loads(&f, gm, k);
	if (err)
		goto out;
	k->initrd_end = gmem_low_end(gm);
	k->cmdline_max = LAYOUT_CMDLINE_MAX - 1;

out:
	free(f.phdrs);
	return err;
}
