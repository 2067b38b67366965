/* Guest RAM on a shared memfd, and bounds-checked guest address translation. */
#include "vmm/gmem.h"
#include "vmm/log.h"
#include "vmm/util.h"

#include <errno.h>
#include <linux/memfd.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int gmem_init(struct gmem *gm, uint64_t mem_bytes, bool hugepages)
{
	unsigned int flags = MFD_CLOEXEC;
	uint64_t low;
	int err;

	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
	if (mem_bytes == 0 || mem_bytes % (2 * MIB)) {
		log_error("memory: size must be a non-zero multiple of 2 MiB");
		return -EINVAL;
	}

	if (hugepages)
		flags |= MFD_HUGETLB | MFD_HUGE_2MB;
	gm->fd = memfd_create("minnow-ram", flags);
	if (gm->fd < 0) {
		err = -errno;
		log_error("memory: memfd_create%s: %s",
			  hugepages ? " with 2 MiB huge pages" : "",
			  strerror(-err));
		return err;
	}
	if (ftruncate(gm->fd, (off_t)mem_bytes) < 0) {
		err = -errno;
		log_error("memory: cannot size guest RAM to %llu MiB: %s",
			  (unsigned long long)(mem_bytes / MIB),
			  strerror(-err));
		goto err_close;
	}

	/* Shared so that other processes (vhost-user back ends) can map it. */
	gm->base = mmap(NULL, mem_bytes, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_NORESERVE, gm->fd, 0);
	if (gm->base == MAP_FAILED) {
		err = -errno;
		gm->base = NULL;
		log_error("memory: cannot map %llu MiB of guest RAM: %s",
			  (unsigned long long)(mem_bytes / MIB),
			  strerror(-err));
		goto err_close;
	}
	gm->size = mem_bytes;

	low = mem_bytes < GMEM_MMIO_HOLE_START ? mem_bytes
					       : GMEM_MMIO_HOLE_START;
	gm->regions[0] = (struct gmem_region){
		.gpa = 0, .size = low, .host = gm->base, .fd_offset = 0};
	gm->nr_regions = 1;
	if (mem_bytes > low) {
		gm->regions[1] = (struct gmem_region){
			.gpa = GMEM_4GIB,
			.size = mem_bytes - low,
			.host = gm->base + low,
			.fd_offset = low,
		};
		gm->nr_regions = 2;
	}
	return 0;

err_close:
	close(gm->fd);
	gm->fd = -1;
	return err;
}

void gmem_destroy(struct gmem *gm)
{
	if (gm->base)
		munmap(gm->base, gm->size);
	if (gm->fd >= 0)
		close(gm->fd);
	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
}

void gmem_init_external(struct gmem *gm)
{
	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
}

int gmem_add_region(struct gmem *gm, gpa_t gpa, uint64_t size, uint8_t *host)
{
	gpa_t last;

	if (size == 0 || !host || __builtin_add_overflow(gpa, size - 1, &last))
		return -EINVAL;
	if (gm->nr_regions >= GMEM_MAX_REGIONS)
		return -ENOSPC;
	for (size_t i = 0; i < gm->nr_regions; i++) {
		const struct gmem_region *r = &gm->regions[i];

		if (gpa <= r->gpa + (r->size - 1) && r->gpa <= last)
			return -EINVAL;
	}
	gm->regions[gm->nr_regions++] = (struct gmem_region){
		.gpa = gpa, .size = size, .host = host};
	gm->size += size;
	return 0;
}

void *gmem_ptr(const struct gmem *gm, gpa_t gpa, uint64_t len)
{
	gpa_t last;

	if (len == 0 || __builtin_add_overflow(gpa, len - 1, &last))
		return NULL;

	for (size_t i = 0; i < gm->nr_regions; i++) {
		const struct gmem_region *r = &gm->regions[i];

		if (gpa >= r->gpa && last - r->gpa < r->size &&
		    gpa - r->gpa < r->size)
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int gmem_read(const struct gmem *gm, void *dst, gpa_t gpa, uint64_t len)
{
	const void *src = gmem_ptr(gm, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int gmem_write(const struct gmem *gm, gpa_t gpa, const void *src, uint64_t len)
{
	void *dst = gmem_ptr(gm, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

uint64_t gmem_low_end(const struct gmem *gm)
{
	return gm->nr_regions ? gm->regions[0].size : 0;
}

uint64_t gmem_resident_bytes(const struct gmem *gm)
{
	static unsigned char vec[4096];
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), bytes = 0;
	uint64_t chunk = sizeof(vec) * page;

	for (uint64_t off = 0; off < gm->size; off += chunk) {
		uint64_t len = gm->size - off < chunk ? gm->size - off : chunk;

		if (mincore(gm->base + off, len, vec) < 0)
			return 0;
		for (uint64_t i = 0; i < (len + page - 1) / page; i++)
			bytes += (vec[i] & 1) ? page : 0;
	}
	return bytes;
}
