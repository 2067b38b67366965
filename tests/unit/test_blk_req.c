/*
 * blk_req_parse(): each request type laid out the way Linux's driver does,
 * headers split across buffers, every malformed shape, and the ranges and
 * flags answered with a status instead of I/O.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <string.h>

#include "devices/blk_req.h"

#define CAPACITY 2048 /* sectors: 1 MiB */

struct chain_builder {
	struct iovec iov[16];
	struct vq_chain chain;
	struct iovec data[16];
};

static uint8_t hdr_buf[64], data_buf[8192], status_buf[4], seg_buf[64];

static const struct blk_limits limits = {
	.capacity = CAPACITY,
	.discard = true,
	.write_zeroes = true,
	.max_discard_sectors = 1024,
	.max_write_zeroes_sectors = 1024,
};

static void set_hdr(uint32_t type, uint64_t sector)
{
	struct virtio_blk_req_hdr h = {
		.type = htole32(type),
		.sector = htole64(sector),
	};

	memcpy(hdr_buf, &h, sizeof(h));
}

/* Appends a buffer; all readable ones must come first. */
static void add(struct chain_builder *b, void *p, size_t len, bool writable)
{
	struct vq_chain *c = &b->chain;

	b->iov[c->nr_readable + c->nr_writable] = (struct iovec){
		.iov_base = p, .iov_len = len};
	if (writable) {
		c->nr_writable++;
		c->writable_bytes += (uint32_t)len;
	} else {
		c->nr_readable++;
		c->readable_bytes += (uint32_t)len;
	}
}

static void init(struct chain_builder *b)
{
	memset(b, 0, sizeof(*b));
	b->chain.iov = b->iov;
	b->chain.iov_cap = 16;
}

static int parse(struct chain_builder *b, const struct blk_limits *lim,
		 struct blk_req *req)
{
	return blk_req_parse(&b->chain, lim, b->data, 16, req);
}

/* header | data (writable) | status (writable), as Linux lays out IN. */
static int parse_read(uint64_t sector, size_t len, struct blk_req *req)
{
	static struct chain_builder b; /* req points into it */

	init(&b);
	set_hdr(VIRTIO_BLK_T_IN, sector);
	add(&b, hdr_buf, 16, false);
	add(&b, data_buf, len, true);
	add(&b, status_buf, 1, true);
	return parse(&b, &limits, req);
}

static void test_read(void **state)
{
	struct blk_req req;

	(void)state;
	assert_int_equal(parse_read(8, 4096, &req), 0);
	assert_int_equal(req.op, BLK_OP_READ);
	assert_int_equal(req.offset, 8 * 512);
	assert_int_equal(req.len, 4096);
	assert_int_equal(req.nr_data, 1);
	assert_ptr_equal(req.data[0].iov_base, data_buf);
	assert_ptr_equal(req.status_ptr, status_buf);
}

static void test_write_split_header(void **state)
{
	struct chain_builder b;
	struct blk_req req;

	(void)state;
	init(&b);
	set_hdr(VIRTIO_BLK_T_OUT, 3);
	/* virtio 1.2, 2.6.4: any framing; header in two pieces, data after. */
	memcpy(data_buf, hdr_buf + 10, 6);
	add(&b, hdr_buf, 10, false);
	add(&b, data_buf, 6 + 1024, false);
	add(&b, status_buf, 1, true);
	assert_int_equal(parse(&b, &limits, &req), 0);
	assert_int_equal(req.op, BLK_OP_WRITE);
	assert_int_equal(req.sector, 3);
	assert_int_equal(req.len, 1024);
	assert_int_equal(req.nr_data, 1);
	assert_ptr_equal(req.data[0].iov_base, data_buf + 6);
}

/* Data and status in one writable buffer: the status is its last byte. */
static void test_status_shares_buffer(void **state)
{
	struct chain_builder b;
	struct blk_req req;

	(void)state;
	init(&b);
	set_hdr(VIRTIO_BLK_T_IN, 0);
	add(&b, hdr_buf, 16, false);
	add(&b, data_buf, 512 + 1, true);
	assert_int_equal(parse(&b, &limits, &req), 0);
	assert_int_equal(req.len, 512);
	assert_int_equal(req.data[0].iov_len, 512);
	assert_ptr_equal(req.status_ptr, data_buf + 512);
}

static void test_range_checks(void **state)
{
	struct blk_req req;

	(void)state;
	/* The last sector is fine, one past is not. */
	assert_int_equal(parse_read(CAPACITY - 1, 512, &req), 0);
	assert_int_equal(req.op, BLK_OP_READ);
	assert_int_equal(parse_read(CAPACITY - 1, 1024, &req), 0);
	assert_int_equal(req.op, BLK_OP_NONE);
	assert_int_equal(req.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(parse_read(CAPACITY, 512, &req), 0);
	assert_int_equal(req.status, VIRTIO_BLK_S_IOERR);
	/* A sector number that overflows when turned into bytes. */
	assert_int_equal(parse_read(UINT64_MAX, 512, &req), 0);
	assert_int_equal(req.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(parse_read(UINT64_MAX >> 9, 512, &req), 0);
	assert_int_equal(req.status, VIRTIO_BLK_S_IOERR);
	/* Not a whole number of sectors. */
	assert_int_equal(parse_read(0, 100, &req), 0);
	assert_int_equal(req.op, BLK_OP_NONE);
	assert_int_equal(req.status, VIRTIO_BLK_S_IOERR);
}

static void test_readonly_refuses_writes(void **state)
{
	struct blk_limits ro = limits;
	struct chain_builder b;
	struct blk_req req;

	(void)state;
	ro.readonly = true;
	init(&b);
	set_hdr(VIRTIO_BLK_T_OUT, 0);
	add(&b, hdr_buf, 16, false);
	add(&b, data_buf, 512, false);
	add(&b, status_buf, 1, true);
	assert_int_equal(parse(&b, &ro, &req), 0);
	assert_int_equal(req.op, BLK_OP_NONE);
	assert_int_equal(req.status, VIRTIO_BLK_S_IOERR);
}

static void test_flush_and_get_id(void **state)
{
	struct chain_builder b;
	struct blk_req req;

	(void)state;
	init(&b);
	set_hdr(VIRTIO_BLK_T_FLUSH, 0);
	add(&b, hdr_buf, 16, false);
	add(&b, status_buf, 1, true);
	assert_int_equal(parse(&b, &limits, &req), 0);
	assert_int_equal(req.op, BLK_OP_FLUSH);

	init(&b);
	set_hdr(VIRTIO_BLK_T_GET_ID, 0);
	add(&b, hdr_buf, 16, false);
	add(&b, data_buf, 20, true);
	add(&b, status_buf, 1, true);
	assert_int_equal(parse(&b, &limits, &req), 0);
	assert_int_equal(req.op, BLK_OP_GET_ID);
	assert_int_equal(req.data_bytes, 20);
}

static void test_unsupported_types(void **state)
{
	static const uint32_t types[] = {2, 3, VIRTIO_BLK_T_GET_LIFETIME,
					 VIRTIO_BLK_T_SECURE_ERASE, 0xffffffff};
	struct chain_builder b;
	struct blk_req req;

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		init(&b);
		set_hdr(types[i], 0);
		add(&b, hdr_buf, 16, false);
		add(&b, data_buf, 64, true);
		add(&b, status_buf, 1, true);
		assert_int_equal(parse(&b, &limits, &req), 0);
		assert_int_equal(req.op, BLK_OP_NONE);
		assert_int_equal(req.status, VIRTIO_BLK_S_UNSUPP);
	}
}

static int parse_dwz(uint32_t type, uint64_t sector, uint32_t n, uint32_t flags,
		     const struct blk_limits *lim, struct blk_req *req)
{
	struct virtio_blk_dwz_seg seg = {
		.sector = htole64(sector),
		.num_sectors = htole32(n),
		.flags = htole32(flags),
	};
	struct chain_builder b;

	init(&b);
	set_hdr(type, 0);
	memcpy(seg_buf, &seg, sizeof(seg));
	add(&b, hdr_buf, 16, false);
	add(&b, seg_buf, sizeof(seg), false);
	add(&b, status_buf, 1, true);
	return parse(&b, lim, req);
}

static void test_discard_write_zeroes(void **state)
{
	struct blk_limits off = limits;
	struct blk_req req;

	(void)state;
	assert_int_equal(
		parse_dwz(VIRTIO_BLK_T_DISCARD, 8, 16, 0, &limits, &req), 0);
	assert_int_equal(req.op, BLK_OP_DISCARD);
	assert_int_equal(req.offset, 8 * 512);
	assert_int_equal(req.len, 16 * 512);

	assert_int_equal(parse_dwz(VIRTIO_BLK_T_WRITE_ZEROES, 0, 8,
				   VIRTIO_BLK_WZ_F_UNMAP, &limits, &req),
			 0);
	assert_int_equal(req.op, BLK_OP_WRITE_ZEROES);
	assert_true(req.unmap);

	/* virtio 1.2, 5.2.6.2: unmap on discard, unknown flags: UNSUPP. */
	parse_dwz(VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WZ_F_UNMAP, &limits,
		  &req);
	assert_int_equal(req.status, VIRTIO_BLK_S_UNSUPP);
	parse_dwz(VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 2, &limits, &req);
	assert_int_equal(req.status, VIRTIO_BLK_S_UNSUPP);

	/* Too many sectors, or past the end. */
	parse_dwz(VIRTIO_BLK_T_DISCARD, 0, 1025, 0, &limits, &req);
	assert_int_equal(req.status, VIRTIO_BLK_S_IOERR);
	parse_dwz(VIRTIO_BLK_T_WRITE_ZEROES, CAPACITY - 4, 8, 0, &limits, &req);
	assert_int_equal(req.op, BLK_OP_NONE);
	assert_int_equal(req.status, VIRTIO_BLK_S_IOERR);
	parse_dwz(VIRTIO_BLK_T_WRITE_ZEROES, UINT64_MAX, 8, 0, &limits, &req);
	assert_int_equal(req.status, VIRTIO_BLK_S_IOERR);

	/* Not negotiated. */
	off.discard = off.write_zeroes = false;
	parse_dwz(VIRTIO_BLK_T_DISCARD, 0, 8, 0, &off, &req);
	assert_int_equal(req.status, VIRTIO_BLK_S_UNSUPP);
	parse_dwz(VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0, &off, &req);
	assert_int_equal(req.status, VIRTIO_BLK_S_UNSUPP);
}

static void test_malformed(void **state)
{
	struct chain_builder b;
	struct blk_req req;

	(void)state;
	/* Header too short. */
	init(&b);
	set_hdr(VIRTIO_BLK_T_IN, 0);
	add(&b, hdr_buf, 15, false);
	add(&b, data_buf, 512, true);
	add(&b, status_buf, 1, true);
	assert_int_equal(parse(&b, &limits, &req), -BLK_REQ_ERR_HDR);

	/* No writable status byte. */
	init(&b);
	set_hdr(VIRTIO_BLK_T_OUT, 0);
	add(&b, hdr_buf, 16, false);
	add(&b, data_buf, 513, false);
	assert_int_equal(parse(&b, &limits, &req), -BLK_REQ_ERR_STATUS);

	/* Only writable buffers: no header either. */
	init(&b);
	add(&b, data_buf, 64, true);
	assert_int_equal(parse(&b, &limits, &req), -BLK_REQ_ERR_HDR);

	/* IN with device-readable data. */
	init(&b);
	set_hdr(VIRTIO_BLK_T_IN, 0);
	add(&b, hdr_buf, 16 + 512, false);
	add(&b, status_buf, 1, true);
	assert_int_equal(parse(&b, &limits, &req), -BLK_REQ_ERR_DIRECTION);

	/* OUT with device-writable data. */
	init(&b);
	set_hdr(VIRTIO_BLK_T_OUT, 0);
	add(&b, hdr_buf, 16, false);
	add(&b, data_buf, 512, true);
	add(&b, status_buf, 1, true);
	assert_int_equal(parse(&b, &limits, &req), -BLK_REQ_ERR_DIRECTION);

	/* FLUSH with data. */
	init(&b);
	set_hdr(VIRTIO_BLK_T_FLUSH, 0);
	add(&b, hdr_buf, 16, false);
	add(&b, data_buf, 512, true);
	add(&b, status_buf, 1, true);
	assert_int_equal(parse(&b, &limits, &req), -BLK_REQ_ERR_DIRECTION);

	/* GET_ID with readable data. */
	init(&b);
	set_hdr(VIRTIO_BLK_T_GET_ID, 0);
	add(&b, hdr_buf, 32, false);
	add(&b, data_buf, 20, true);
	add(&b, status_buf, 1, true);
	assert_int_equal(parse(&b, &limits, &req), -BLK_REQ_ERR_DIRECTION);

	/* DISCARD with writable data. */
	init(&b);
	set_hdr(VIRTIO_BLK_T_DISCARD, 0);
	add(&b, hdr_buf, 32, false);
	add(&b, data_buf, 16, true);
	add(&b, status_buf, 1, true);
	assert_int_equal(parse(&b, &limits, &req), -BLK_REQ_ERR_DIRECTION);
}

static void test_iov_cap(void **state)
{
	struct chain_builder b;
	struct blk_req req;

	(void)state;
	init(&b);
	set_hdr(VIRTIO_BLK_T_IN, 0);
	add(&b, hdr_buf, 16, false);
	for (int i = 0; i < 4; i++)
		add(&b, data_buf + 512 * i, 512, true);
	add(&b, status_buf, 1, true);
	assert_int_equal(blk_req_parse(&b.chain, &limits, b.data, 3, &req),
			 -BLK_REQ_ERR_IOV);
	assert_int_equal(blk_req_parse(&b.chain, &limits, b.data, 4, &req), 0);
	assert_int_equal(req.nr_data, 4);
	assert_string_equal(blk_req_strerror(-BLK_REQ_ERR_IOV),
			    "too many data buffers");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_write_split_header),
		cmocka_unit_test(test_status_shares_buffer),
		cmocka_unit_test(test_range_checks),
		cmocka_unit_test(test_readonly_refuses_writes),
		cmocka_unit_test(test_flush_and_get_id),
		cmocka_unit_test(test_unsupported_types),
		cmocka_unit_test(test_discard_write_zeroes),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_iov_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
