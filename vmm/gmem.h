/*
 * Guest memory: RAM backed by one memfd, mapped shared, and the single
 * checked way to turn a guest-physical range into a host pointer.
 */
#ifndef MINNOW_GMEM_H
#define MINNOW_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t gpa_t;

/*
 * RAM below 4 GiB stops at GMEM_MMIO_HOLE_START; the rest of it continues at
 * 4 GiB. The hole holds device windows, the IOAPIC and the local APICs.
 */
#define GMEM_MMIO_HOLE_START 0xC0000000ull
#define GMEM_4GIB            0x100000000ull
/* Guest RAM takes at most 2; a vhost-user back end's table up to 8. */
#define GMEM_MAX_REGIONS 8

struct gmem_region {
	gpa_t gpa;
	uint64_t size;
	uint8_t *host;      /* within gmem.base */
	uint64_t fd_offset; /* offset of this region in the memfd */
};

struct gmem {
	int fd;        /* memfd holding all of RAM; -1 when none */
	uint8_t *base; /* host mapping of the whole memfd */
	uint64_t size; /* total RAM */
	size_t nr_regions;
	struct gmem_region regions[GMEM_MAX_REGIONS];
};

/*
 * Creates guest RAM of mem_bytes (a multiple of 2 MiB), not touched by the
 * host. With hugepages, the memfd uses 2 MiB huge pages. Returns 0 or a
 * negative errno; logs the reason on failure.
 */
int gmem_init(struct gmem *gm, uint64_t mem_bytes, bool hugepages);
void gmem_destroy(struct gmem *gm);

/*
 * Guest memory that someone else mapped (a vhost-user back end maps the
 * front end's regions): gmem_init_external() makes gm empty, with no fd
 * and nothing to unmap, then gmem_add_region() adds one host mapping of
 * size bytes at gpa. It refuses a region that wraps, overlaps another or
 * would be one too many (-EINVAL, -ENOSPC). The caller keeps the mappings
 * and unmaps them after the last use of gm; gmem_destroy() leaves them.
 */
void gmem_init_external(struct gmem *gm);
int gmem_add_region(struct gmem *gm, gpa_t gpa, uint64_t size, uint8_t *host);

/*
 * The host address of guest range [gpa, gpa + len), or NULL when the range
 * wraps around, is empty, or does not lie wholly inside one RAM region.
 * This is the only place that does arithmetic on guest addresses.
 */
void *gmem_ptr(const struct gmem *gm, gpa_t gpa, uint64_t len);

/* Copies between guest and host; return 0 or -EFAULT for a bad range. */
int gmem_read(const struct gmem *gm, void *dst, gpa_t gpa, uint64_t len);
int gmem_write(const struct gmem *gm, gpa_t gpa, const void *src, uint64_t len);

/* Highest guest-physical address + 1 below 4 GiB that is RAM. */
uint64_t gmem_low_end(const struct gmem *gm);

/*
 * How many bytes of guest RAM have a page in memory, touched by the guest
 * or by minnow; for the start-up benchmark's memory figures.
 */
uint64_t gmem_resident_bytes(const struct gmem *gm);

#endif
