/*
 * virtio-rng through the virtio-mmio transport, driven like Linux's
 * virtio-rng driver: writable buffers come back filled, with the right
 * used length; a device-readable buffer fails the device.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio_mmio.h"
#include "devices/virtio_rng.h"
#include "vmm/vm.h"
#include "vq_driver.h"

#define BASE      LAYOUT_VIRTIO_MMIO_BASE
#define RING_GPA  0x10000ull
#define TABLE_GPA 0x80000ull
#define BUF_GPA   0x100000ull
#define QSIZE     16

struct fixture {
	struct vm vm;
	struct virtio_mmio *m;
	struct vq_driver drv;
};

static uint32_t rd(struct fixture *f, uint64_t off)
{
	uint32_t v;

	assert_true(
		bus_access(&f->vm.mmio, BASE + off, (uint8_t *)&v, 4, false));
	return le32toh(v);
}

static void wr(struct fixture *f, uint64_t off, uint32_t v)
{
	v = htole32(v);
	assert_true(
		bus_access(&f->vm.mmio, BASE + off, (uint8_t *)&v, 4, true));
}

/* The driver's side of initialisation (virtio 1.2, 3.1.1 and 4.2.3). */
static void driver_init(struct fixture *f, uint32_t features_lo)
{
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, s);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, features_lo);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	s |= VIRTIO_STATUS_FEATURES_OK;
	wr(f, VIRTIO_MMIO_STATUS, s);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), s);

	vqd_init(&f->drv, &f->vm.mem, QSIZE, RING_GPA);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_true(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX) >= QSIZE);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)f->drv.desc);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)f->drv.avail);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)f->drv.used);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(f, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS),
			 s | VIRTIO_STATUS_DRIVER_OK);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct virtio_dev *dev = virtio_rng_create();

	assert_non_null(f);
	assert_non_null(dev);
	f->vm.vm_fd = -1;
	assert_int_equal(gmem_init(&f->vm.mem, 16u << 20, false), 0);
	bus_init(&f->vm.mmio, "mmio");
	assert_int_equal(virtio_mmio_attach(&f->vm, dev), 0);
	f->m = f->vm.virtio[0];
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_ENTROPY);
	driver_init(f, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	virtio_mmio_destroy(f->m);
	gmem_destroy(&f->vm.mem);
	free(f);
	return 0;
}

static bool all_zero(struct fixture *f, gpa_t gpa, size_t len)
{
	const uint8_t *p = gmem_ptr(&f->vm.mem, gpa, len);

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static uint64_t irqs(struct fixture *f)
{
	uint64_t n = 0;

	if (read(f->m->irq_fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static void test_fills_writable_chain(void **state)
{
	struct fixture *f = *state;
	const struct vqd_buf bufs[] = {
		{BUF_GPA, 64, true},
		{BUF_GPA + 0x1000, 4096, true},
		{BUF_GPA + 0x3000, 7, true},
	};
	uint32_t id, len;
	uint16_t head = vqd_add(&f->drv, bufs, 3);

	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(vqd_get_used(&f->drv, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 64 + 4096 + 7);
	/* 64 random bytes are all zero with probability 2^-512. */
	assert_false(all_zero(f, BUF_GPA, 64));
	assert_false(all_zero(f, BUF_GPA + 0x1000, 4096));
	/* Nothing written past the buffers. */
	assert_true(all_zero(f, BUF_GPA + 64, 0x1000 - 64));
	assert_true(all_zero(f, BUF_GPA + 0x3007, 64));
	assert_int_equal(irqs(f), 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_VRING);
}

static void test_several_requests(void **state)
{
	struct fixture *f = *state;
	uint32_t id, len;

	for (unsigned int i = 0; i < 40; i++) {
		struct vqd_buf b = {BUF_GPA + 64ull * (i % 8), 32, true};
		uint16_t head = vqd_add(&f->drv, &b, 1);

		wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		assert_true(vqd_get_used(&f->drv, &id, &len));
		assert_int_equal(id, head);
		assert_int_equal(len, 32);
	}
	assert_false(vqd_get_used(&f->drv, &id, &len));
}

static void test_indirect_request(void **state)
{
	struct fixture *f = *state;
	const struct vqd_buf bufs[] = {
		{BUF_GPA, 16, true},
		{BUF_GPA + 0x100, 16, true},
	};
	uint32_t id, len;

	driver_init(f, 1u << VIRTIO_RING_F_INDIRECT_DESC);
	vqd_add_indirect(&f->drv, TABLE_GPA, bufs, 2);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(vqd_get_used(&f->drv, &id, &len));
	assert_int_equal(len, 32);
}

/* virtio 1.2, 5.4.6.2: the device may fill less than offered. */
static void test_large_request_capped(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b = {BUF_GPA, 1u << 20, true};
	uint32_t id, len;

	vqd_add(&f->drv, &b, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(vqd_get_used(&f->drv, &id, &len));
	assert_int_equal(len, VIRTIO_RNG_MAX_REQUEST);
	assert_true(all_zero(f, BUF_GPA + VIRTIO_RNG_MAX_REQUEST, 4096));
}

/* virtio 1.2, 5.4.6.1: only device-writable buffers. */
static void test_readable_chain_fails(void **state)
{
	struct fixture *f = *state;
	const struct vqd_buf bufs[] = {
		{BUF_GPA, 16, false},
		{BUF_GPA + 0x100, 16, false},
	};
	struct vqd_buf good = {BUF_GPA, 16, true};
	uint32_t id, len;

	irqs(f);
	vqd_add(&f->drv, bufs, 2);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_false(vqd_get_used(&f->drv, &id, &len));
	assert_true(all_zero(f, BUF_GPA, 16));
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(irqs(f), 1);

	/* After a reset the device works again. */
	driver_init(f, 0);
	vqd_add(&f->drv, &good, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(vqd_get_used(&f->drv, &id, &len));
	assert_int_equal(len, 16);
}

static void test_mixed_chain_fails(void **state)
{
	struct fixture *f = *state;
	const struct vqd_buf bufs[] = {
		{BUF_GPA, 16, false},
		{BUF_GPA + 0x100, 16, true},
	};

	vqd_add(&f->drv, bufs, 2);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(all_zero(f, BUF_GPA + 0x100, 16));
}

static void test_bad_chain_fails(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b = {(16u << 20) - 8, 16, true};

	vqd_add(&f->drv, &b, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fills_writable_chain), T(test_several_requests),
		T(test_indirect_request),     T(test_large_request_capped),
		T(test_readable_chain_fails), T(test_mixed_chain_fails),
		T(test_bad_chain_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
