/*
 * Split virtqueues driven by a fake guest driver: well-formed chains,
 * indirect tables, notification suppression both ways, index wrap-around,
 * and every malformed chain the device must refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "devices/virtqueue.h"
#include "vq_driver.h"

#define RAM_BYTES (16u << 20)
#define RING_GPA  0x10000ull
#define TABLE_GPA 0x80000ull /* indirect tables */
#define BUF_GPA   0x100000ull
#define QSIZE     8

#define F_INDIRECT (1ull << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT    (1ull << VIRTIO_RING_F_EVENT_IDX)

struct fixture {
	struct gmem mem;
	struct vq_driver drv;
	struct virtqueue vq;
	struct iovec iov[1024];
	struct vq_chain chain;
};

static int setup_with(void **state, uint16_t size, uint64_t features)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(gmem_init(&f->mem, RAM_BYTES, false), 0);
	vqd_init(&f->drv, &f->mem, size, RING_GPA);
	assert_int_equal(vqd_attach(&f->drv, &f->vq, features), 0);
	f->chain = (struct vq_chain){.iov = f->iov, .iov_cap = 1024};
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, QSIZE, F_INDIRECT);
}

static int setup_event_idx(void **state)
{
	return setup_with(state, QSIZE, F_INDIRECT | F_EVENT);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	gmem_destroy(&f->mem);
	free(f);
	return 0;
}

static int pop(struct fixture *f)
{
	return vq_pop_chain(&f->vq, &f->chain);
}

static void *host(struct fixture *f, gpa_t gpa)
{
	return gmem_ptr(&f->mem, gpa, 1);
}

static void test_empty_ring(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(pop(f), 0);
}

static void test_normal_chain(void **state)
{
	struct fixture *f = *state;
	const struct vqd_buf bufs[] = {
		{BUF_GPA, 16, false},
		{BUF_GPA + 0x1000, 512, false},
		{BUF_GPA + 0x2000, 1, true},
	};
	uint32_t id, len;
	uint16_t head = vqd_add(&f->drv, bufs, 3);

	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.head, head);
	assert_int_equal(f->chain.nr_readable, 2);
	assert_int_equal(f->chain.nr_writable, 1);
	assert_int_equal(f->chain.readable_bytes, 528);
	assert_int_equal(f->chain.writable_bytes, 1);
	assert_ptr_equal(f->iov[0].iov_base, host(f, BUF_GPA));
	assert_int_equal(f->iov[1].iov_len, 512);
	assert_ptr_equal(f->iov[2].iov_base, host(f, BUF_GPA + 0x2000));
	assert_int_equal(pop(f), 0);

	assert_false(vqd_get_used(&f->drv, &id, &len));
	vq_push_used(&f->vq, f->chain.head, 1);
	assert_true(vqd_get_used(&f->drv, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 1);
}

static void test_several_chains_in_order(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b = {BUF_GPA, 64, true};
	uint16_t heads[3];

	for (int i = 0; i < 3; i++)
		heads[i] = vqd_add(&f->drv, &b, 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->chain.head, heads[i]);
		assert_int_equal(f->chain.nr_readable, 0);
		assert_int_equal(f->chain.writable_bytes, 64);
	}
	assert_int_equal(pop(f), 0);
}

static void test_indirect_chain(void **state)
{
	struct fixture *f = *state;
	const struct vqd_buf bufs[] = {
		{BUF_GPA, 16, false},
		{BUF_GPA + 0x1000, 4096, true},
		{BUF_GPA + 0x3000, 2, true},
	};
	uint16_t head = vqd_add_indirect(&f->drv, TABLE_GPA, bufs, 3);

	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.head, head);
	assert_int_equal(f->chain.nr_readable, 1);
	assert_int_equal(f->chain.nr_writable, 2);
	assert_int_equal(f->chain.writable_bytes, 4098);
	assert_ptr_equal(f->iov[2].iov_base, host(f, BUF_GPA + 0x3000));
}

/* virtio 1.2, 2.7.5.3.2: plain descriptors, then one indirect. */
static void test_direct_then_indirect(void **state)
{
	struct fixture *f = *state;

	vqd_write_desc(&f->mem, TABLE_GPA, 0, BUF_GPA + 0x1000, 8,
		       VIRTQ_DESC_F_WRITE, 0);
	vqd_desc(&f->drv, 3, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 5);
	/* The WRITE flag on the table descriptor is ignored. */
	vqd_desc(&f->drv, 5, TABLE_GPA, 16,
		 VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	vqd_publish(&f->drv, 3);

	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.nr_readable, 1);
	assert_int_equal(f->chain.nr_writable, 1);
}

static void test_wraparound(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b = {BUF_GPA, 32, true};
	uint32_t id, len;

	vqd_start_at(&f->drv, &f->vq, 65530);
	for (unsigned int i = 0; i < 40; i++) {
		uint16_t head = vqd_add(&f->drv, &b, 1);

		assert_int_equal(pop(f), 1);
		assert_int_equal(f->chain.head, head);
		vq_push_used(&f->vq, head, i);
		assert_true(vqd_get_used(&f->drv, &id, &len));
		assert_int_equal(id, head);
		assert_int_equal(len, i);
	}
	assert_int_equal(f->vq.last_avail_idx, (uint16_t)(65530 + 40));
	assert_int_equal(pop(f), 0);
}

/* A full ring across the wrap: exactly size chains are fine. */
static void test_full_ring_across_wrap(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b = {BUF_GPA, 32, true};

	vqd_start_at(&f->drv, &f->vq, 65534);
	for (int i = 0; i < QSIZE; i++)
		vqd_add(&f->drv, &b, 1);
	for (int i = 0; i < QSIZE; i++)
		assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 0);
}

static void test_no_interrupt_flag(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b = {BUF_GPA, 8, true};

	/* Nothing used yet: nothing to signal. */
	assert_false(vq_need_interrupt(&f->vq));

	vqd_add(&f->drv, &b, 1);
	assert_int_equal(pop(f), 1);
	vq_push_used(&f->vq, f->chain.head, 8);
	assert_true(vq_need_interrupt(&f->vq));
	assert_false(vq_need_interrupt(&f->vq));

	vqd_set_avail_flags(&f->drv, VIRTQ_AVAIL_F_NO_INTERRUPT);
	vqd_add(&f->drv, &b, 1);
	assert_int_equal(pop(f), 1);
	vq_push_used(&f->vq, f->chain.head, 8);
	assert_false(vq_need_interrupt(&f->vq));
}

/* Without EVENT_IDX, suppressing kicks is the used ring's NO_NOTIFY flag. */
static void test_no_notify_flag(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b = {BUF_GPA, 8, true};

	vq_disable_notify(&f->vq);
	assert_int_equal(vqd_used_flags(&f->drv), VIRTQ_USED_F_NO_NOTIFY);
	assert_false(vq_enable_notify(&f->vq));
	assert_int_equal(vqd_used_flags(&f->drv), 0);

	vq_disable_notify(&f->vq);
	vqd_add(&f->drv, &b, 1);
	/* A buffer that raced in while disabled must be reported. */
	assert_true(vq_enable_notify(&f->vq));
}

/* Used buffer suppression (virtio 1.2, 2.7.7): interrupt at used_event. */
static void test_event_idx_used(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b = {BUF_GPA, 8, true};

	/* The driver wants an interrupt once entry 2 is used. */
	vqd_set_used_event(&f->drv, 2);
	/* NO_INTERRUPT must be ignored with EVENT_IDX. */
	vqd_set_avail_flags(&f->drv, VIRTQ_AVAIL_F_NO_INTERRUPT);
	for (int i = 0; i < 5; i++)
		vqd_add(&f->drv, &b, 1);

	for (int i = 0; i < 2; i++) {
		assert_int_equal(pop(f), 1);
		vq_push_used(&f->vq, f->chain.head, 8);
		assert_false(vq_need_interrupt(&f->vq));
	}
	assert_int_equal(pop(f), 1);
	vq_push_used(&f->vq, f->chain.head, 8); /* entry 2: used idx 3 */
	assert_true(vq_need_interrupt(&f->vq));

	/* Batching past used_event in one go still interrupts once. */
	vqd_set_used_event(&f->drv, 3);
	assert_int_equal(pop(f), 1);
	vq_push_used(&f->vq, f->chain.head, 8);
	assert_int_equal(pop(f), 1);
	vq_push_used(&f->vq, f->chain.head, 8);
	assert_true(vq_need_interrupt(&f->vq));
	assert_false(vq_need_interrupt(&f->vq));
}

/* used_event across the 16-bit wrap. */
static void test_event_idx_used_wrap(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b = {BUF_GPA, 8, true};

	vqd_start_at(&f->drv, &f->vq, 65534);
	vqd_set_used_event(&f->drv, 0); /* interrupt when idx reaches 1 */
	for (int i = 0; i < 3; i++)
		vqd_add(&f->drv, &b, 1);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pop(f), 1);
		vq_push_used(&f->vq, f->chain.head, 8);
		assert_false(vq_need_interrupt(&f->vq));
	}
	assert_int_equal(pop(f), 1);
	vq_push_used(&f->vq, f->chain.head, 8);
	assert_true(vq_need_interrupt(&f->vq));
}

/* Available buffer suppression (virtio 1.2, 2.7.10): avail_event. */
static void test_event_idx_avail(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b = {BUF_GPA, 8, true};

	vqd_add(&f->drv, &b, 1);
	vqd_add(&f->drv, &b, 1);
	vq_disable_notify(&f->vq);
	/* With EVENT_IDX the flag stays clear; avail_event does the work. */
	assert_int_equal(vqd_used_flags(&f->drv), 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 0);
	assert_false(vq_enable_notify(&f->vq));
	assert_int_equal(vqd_avail_event(&f->drv), 2);

	vqd_add(&f->drv, &b, 1);
	assert_true(vq_enable_notify(&f->vq));
}

/* ---- Hostile drivers: each must give its error, not crash or hang. ---- */

static void test_avail_idx_jump(void **state)
{
	struct fixture *f = *state;

	vqd_set_avail_idx(&f->drv, QSIZE + 1);
	assert_int_equal(pop(f), -VQ_ERR_AVAIL_IDX);
}

static void test_head_out_of_range(void **state)
{
	struct fixture *f = *state;

	vqd_publish(&f->drv, QSIZE);
	assert_int_equal(pop(f), -VQ_ERR_HEAD_RANGE);
}

static void test_next_out_of_range(void **state)
{
	struct fixture *f = *state;

	vqd_desc(&f->drv, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, QSIZE);
	vqd_publish(&f->drv, 0);
	assert_int_equal(pop(f), -VQ_ERR_NEXT_RANGE);
}

static void test_loop(void **state)
{
	struct fixture *f = *state;

	vqd_desc(&f->drv, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	vqd_desc(&f->drv, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	vqd_desc(&f->drv, 2, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	vqd_publish(&f->drv, 0);
	assert_int_equal(pop(f), -VQ_ERR_LOOP);
}

static void test_self_loop(void **state)
{
	struct fixture *f = *state;

	vqd_desc(&f->drv, 4, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 4);
	vqd_publish(&f->drv, 4);
	assert_int_equal(pop(f), -VQ_ERR_LOOP);
}

static void test_loop_in_indirect(void **state)
{
	struct fixture *f = *state;

	vqd_write_desc(&f->mem, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	vqd_write_desc(&f->mem, TABLE_GPA, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	vqd_desc(&f->drv, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->drv, 0);
	assert_int_equal(pop(f), -VQ_ERR_LOOP);
}

static void test_zero_length(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b[] = {{BUF_GPA, 8, false}, {BUF_GPA, 0, true}};

	vqd_add(&f->drv, b, 2);
	assert_int_equal(pop(f), -VQ_ERR_ZERO_LEN);
}

static void test_length_wraps(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b = {UINT64_MAX - 8, 16, true};

	vqd_add(&f->drv, &b, 1);
	assert_int_equal(pop(f), -VQ_ERR_LEN_OVERFLOW);
}

/* virtio 1.2, 2.7.5.2: a chain of 2^32 bytes or more. */
static void test_total_length_overflow(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b[300];

	/* 256 readable buffers of 16 MiB each add up to 4 GiB. */
	for (unsigned int i = 0; i < 300; i++)
		b[i] = (struct vqd_buf){0, RAM_BYTES, false};
	vqd_add(&f->drv, b, 300);
	assert_int_equal(pop(f), -VQ_ERR_LEN_OVERFLOW);
}

static void test_outside_ram(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b = {RAM_BYTES - 8, 16, true};

	vqd_add(&f->drv, &b, 1);
	assert_int_equal(pop(f), -VQ_ERR_ADDR);
}

static void test_indirect_table_outside_ram(void **state)
{
	struct fixture *f = *state;

	vqd_desc(&f->drv, 0, RAM_BYTES - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->drv, 0);
	assert_int_equal(pop(f), -VQ_ERR_ADDR);
}

static void test_indirect_nested(void **state)
{
	struct fixture *f = *state;

	vqd_write_desc(&f->mem, TABLE_GPA, 0, TABLE_GPA + 0x100, 16,
		       VIRTQ_DESC_F_INDIRECT, 0);
	vqd_desc(&f->drv, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->drv, 0);
	assert_int_equal(pop(f), -VQ_ERR_INDIRECT_NESTED);
}

static void test_indirect_with_next(void **state)
{
	struct fixture *f = *state;

	vqd_write_desc(&f->mem, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	vqd_desc(&f->drv, 0, TABLE_GPA, 16,
		 VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	vqd_desc(&f->drv, 1, BUF_GPA, 8, 0, 0);
	vqd_publish(&f->drv, 0);
	assert_int_equal(pop(f), -VQ_ERR_INDIRECT_NEXT);
}

static void test_indirect_bad_lengths(void **state)
{
	struct fixture *f = *state;
	const uint32_t lens[] = {0, 24, 16 * (QSIZE + 1)};

	for (unsigned int i = 0; i < 3; i++) {
		vqd_desc(&f->drv, (uint16_t)i, TABLE_GPA, lens[i],
			 VIRTQ_DESC_F_INDIRECT, 0);
		vqd_publish(&f->drv, (uint16_t)i);
		assert_int_equal(pop(f), -VQ_ERR_INDIRECT_LEN);
	}
}

static void test_indirect_next_out_of_range(void **state)
{
	struct fixture *f = *state;

	/* Table of 2; entry 0 points at entry 2. */
	vqd_write_desc(&f->mem, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	vqd_desc(&f->drv, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->drv, 0);
	assert_int_equal(pop(f), -VQ_ERR_NEXT_RANGE);
}

static void test_indirect_without_feature(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(vqd_attach(&f->drv, &f->vq, 0), 0);
	vqd_write_desc(&f->mem, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	vqd_desc(&f->drv, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->drv, 0);
	assert_int_equal(pop(f), -VQ_ERR_INDIRECT_FEATURE);
}

/* virtio 1.2, 2.7.4.2: device-writable descriptors come last. */
static void test_writable_before_readable(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b[] = {{BUF_GPA, 8, true}, {BUF_GPA, 8, false}};

	vqd_add(&f->drv, b, 2);
	assert_int_equal(pop(f), -VQ_ERR_ORDER);
}

static void test_order_across_indirect(void **state)
{
	struct fixture *f = *state;

	vqd_write_desc(&f->mem, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	vqd_desc(&f->drv, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
		 1);
	vqd_desc(&f->drv, 1, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->drv, 0);
	assert_int_equal(pop(f), -VQ_ERR_ORDER);
}

/* Direct prefix plus a full indirect table: more buffers than the queue. */
static void test_chain_too_long(void **state)
{
	struct fixture *f = *state;

	for (uint16_t i = 0; i < QSIZE; i++)
		vqd_write_desc(&f->mem, TABLE_GPA, i, BUF_GPA, 8,
			       i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0,
			       (uint16_t)(i + 1));
	vqd_desc(&f->drv, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	vqd_desc(&f->drv, 1, TABLE_GPA, 16 * QSIZE, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->drv, 0);
	assert_int_equal(pop(f), -VQ_ERR_TOO_LONG);
}

static void test_iov_full(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b[3] = {
		{BUF_GPA, 8, false}, {BUF_GPA, 8, false}, {BUF_GPA, 8, true}};

	f->chain.iov_cap = 2;
	vqd_add(&f->drv, b, 3);
	assert_int_equal(pop(f), -VQ_ERR_IOV_FULL);
}

static void test_not_ready(void **state)
{
	struct fixture *f = *state;

	vq_reset(&f->vq);
	assert_int_equal(pop(f), -VQ_ERR_NOT_READY);
	assert_false(vq_need_interrupt(&f->vq));
}

static void test_setup_validation(void **state)
{
	struct fixture *f = *state;
	struct virtqueue vq;

	/* Not a power of two. */
	vq_reset(&vq);
	vq.size = 6;
	vq.desc_gpa = RING_GPA;
	vq.avail_gpa = RING_GPA + 0x1000;
	vq.used_gpa = RING_GPA + 0x2000;
	assert_int_equal(vq_setup(&vq, &f->mem, 0), -EINVAL);
	vq.size = 0;
	assert_int_equal(vq_setup(&vq, &f->mem, 0), -EINVAL);

	/* Misaligned parts. */
	vq.size = 8;
	vq.desc_gpa = RING_GPA + 8;
	assert_int_equal(vq_setup(&vq, &f->mem, 0), -EINVAL);
	vq.desc_gpa = RING_GPA;
	vq.avail_gpa = RING_GPA + 0x1001;
	assert_int_equal(vq_setup(&vq, &f->mem, 0), -EINVAL);
	vq.avail_gpa = RING_GPA + 0x1000;
	vq.used_gpa = RING_GPA + 0x2002;
	assert_int_equal(vq_setup(&vq, &f->mem, 0), -EINVAL);

	/* A used ring running off the end of RAM. */
	vq.used_gpa = RAM_BYTES - 16;
	assert_int_equal(vq_setup(&vq, &f->mem, 0), -EFAULT);
	assert_false(vq.ready);

	vq.used_gpa = RING_GPA + 0x2000;
	assert_int_equal(vq_setup(&vq, &f->mem, 0), 0);
	assert_true(vq.ready);
}

static void test_strerror(void **state)
{
	(void)state;
	for (int e = VQ_ERR_NOT_READY; e < VQ_ERR_LAST; e++)
		assert_non_null(vq_strerror(-e));
	assert_string_equal(vq_strerror(-VQ_ERR_LOOP),
			    "descriptor chain loops");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define T_EVENT(fn)                                                            \
	cmocka_unit_test_setup_teardown(fn, setup_event_idx, teardown)

static int setup_big(void **state)
{
	return setup_with(state, 1024, F_INDIRECT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_empty_ring),
		T(test_normal_chain),
		T(test_several_chains_in_order),
		T(test_indirect_chain),
		T(test_direct_then_indirect),
		T(test_wraparound),
		T(test_full_ring_across_wrap),
		T(test_no_interrupt_flag),
		T(test_no_notify_flag),
		T_EVENT(test_event_idx_used),
		T_EVENT(test_event_idx_used_wrap),
		T_EVENT(test_event_idx_avail),
		T(test_avail_idx_jump),
		T(test_head_out_of_range),
		T(test_next_out_of_range),
		T(test_loop),
		T(test_self_loop),
		T(test_loop_in_indirect),
		T(test_zero_length),
		T(test_length_wraps),
		cmocka_unit_test_setup_teardown(test_total_length_overflow,
						setup_big, teardown),
		T(test_outside_ram),
		T(test_indirect_table_outside_ram),
		T(test_indirect_nested),
		T(test_indirect_with_next),
		T(test_indirect_bad_lengths),
		T(test_indirect_next_out_of_range),
		T(test_indirect_without_feature),
		T(test_writable_before_readable),
		T(test_order_across_indirect),
		T(test_chain_too_long),
		T(test_iov_full),
		T(test_not_ready),
		T(test_setup_validation),
		T(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
