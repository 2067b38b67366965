/*
 * Writes an address-dependent pattern over every RAM range of the memory
 * map above 2 MiB (less this program's own image), then reads it all
 * back. Writing everything before reading anything catches two guest
 * addresses backed by the same host page.
 */
#include "lib/guest.h"

#define SKIP_BELOW  (2ul << 20)
#define MIB         (1ul << 20)
#define MAX_REPORTS 8

struct span {
	uint64_t start;
	uint64_t end;
};

static uint64_t pattern(uint64_t addr)
{
	return (addr * 0x9e3779b97f4a7c15ull) ^ (addr >> 3) ^
	       0x5a5a5a5a5a5a5a5aull;
}

/* Clips RAM range r to the tested area; returns up to two spans. */
static unsigned int tested_spans(const struct guest_mem_range *r,
				 struct span out[2])
{
	uint64_t img_lo = (uint64_t)__image_start & ~(MIB - 1);
	uint64_t img_hi = ((uint64_t)__image_end + MIB - 1) & ~(MIB - 1);
	uint64_t lo = (r->addr + 7) & ~7ull, hi = (r->addr + r->size) & ~7ull;
	unsigned int n = 0;

	if (lo < SKIP_BELOW)
		lo = SKIP_BELOW;
	if (lo >= hi)
		return 0;
	if (lo < img_lo)
		out[n++] = (struct span){lo, hi < img_lo ? hi : img_lo};
	if (hi > img_hi)
		out[n++] = (struct span){lo > img_hi ? lo : img_hi, hi};
	return n;
}

static void fill_span(const struct span *s)
{
	uint64_t a;

	for (a = s->start; a < s->end; a += 8)
		*(volatile uint64_t *)a = pattern(a);
}

static unsigned int check(const struct span *s, unsigned int reported)
{
	unsigned int bad = 0;
	uint64_t a, v;

	for (a = s->start; a < s->end; a += 8) {
		v = *(volatile uint64_t *)a;
		if (v == pattern(a))
			continue;
		if (reported + bad < MAX_REPORTS)
			printf("memory: at %lx read %lx, wrote %lx\n", a, v,
			       pattern(a));
		bad++;
	}
	return bad;
}

/* Calls fn on every tested span; returns the number of bytes covered. */
static uint64_t for_each_span(void (*fn)(const struct span *))
{
	struct span s[2];
	uint64_t bytes = 0;
	unsigned int i, j, n;

	for (i = 0; i < boot_info.nr_ranges; i++) {
		if (boot_info.ranges[i].type != GUEST_MEM_RAM)
			continue;
		n = tested_spans(&boot_info.ranges[i], s);
		for (j = 0; j < n; j++) {
			fn(&s[j]);
			bytes += s[j].end - s[j].start;
		}
	}
	return bytes;
}

static unsigned int errors;
static uint64_t bytes;

static void check_span(const struct span *s)
{
	errors += check(s, errors);
}

/* Both passes run at CPL 3: see user_call() for why. */
static void fill_all(void *unused)
{
	bytes = for_each_span(fill_span);
}

static void check_all(void *unused)
{
	for_each_span(check_span);
}

int main(void)
{
	uint64_t top = 0;
	unsigned int i;

	for (i = 0; i < boot_info.nr_ranges; i++) {
		const struct guest_mem_range *r = &boot_info.ranges[i];

		printf("memory: range %lx-%lx type %u\n", r->addr,
		       r->addr + r->size, r->type);
		if (r->type == GUEST_MEM_RAM && r->addr + r->size > top)
			top = r->addr + r->size;
	}
	if (top > (4ull << 30) && paging_map_identity(top) < 0) {
		printf("memory: RAM ends at %lx, past the %u GiB we can map\n",
		       top, GUEST_MAP_MAX_GIB);
		return GUEST_EXIT_FAIL;
	}

	user_call(fill_all, NULL);
	user_call(check_all, NULL);
	if (!bytes) {
		printf("memory: no RAM above 2 MiB to test\n");
		return GUEST_EXIT_FAIL;
	}
	printf("memory: checked %lu MiB, %u bad words\n", bytes / MIB, errors);
	return errors ? GUEST_EXIT_FAIL : GUEST_EXIT_PASS;
}
