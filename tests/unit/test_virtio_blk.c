/*
 * virtio-blk through the virtio-mmio transport and a real io_uring event
 * loop over a temporary image, driven like Linux's virtio-blk driver: the
 * test writes, reads back and checks the image's bytes on the host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/blk_req.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_mmio.h"
#include "vmm/util.h"
#include "vmm/vm.h"
#include "vq_driver.h"

#define BASE       LAYOUT_VIRTIO_MMIO_BASE
#define RING_GPA   0x10000ull
#define HDR_GPA    0x100000ull /* request headers, 64 bytes apart */
#define STATUS_GPA 0x180000ull /* status bytes, one per request */
#define BUF_GPA    0x200000ull /* data */
#define IMG_BYTES  (1024 * 1024)
#define QSIZE      64
#define MAX_QUEUES 4

struct fixture {
	struct vm vm;
	struct virtio_mmio *m;
	struct vq_driver drv[MAX_QUEUES];
	char path[64];
	int fd; /* the test's own view of the image */
	struct ev_op tick;
	struct __kernel_timespec ts;
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

static void tick_done(struct ev_op *op, int res, uint32_t flags)
{
	struct fixture *f = container_of(op, struct fixture, tick);

	(void)res;
	(void)flags;
	evloop_stop(&f->vm.loop);
}

/* Runs the event loop for about a millisecond. */
static void run_loop(struct fixture *f)
{
	evloop_timeout(&f->vm.loop, &f->tick, &f->ts, 1000000);
	assert_int_equal(evloop_run(&f->vm.loop), 0);
}

/* virtio 1.2, 3.1.1 and 4.2.3: the driver's side, nq queues. */
static void driver_init(struct fixture *f, unsigned int nq)
{
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, s);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES,
	   rd(f, VIRTIO_MMIO_DEVICE_FEATURES) &
		   ~(1u << VIRTIO_RING_F_EVENT_IDX));
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	s |= VIRTIO_STATUS_FEATURES_OK;
	wr(f, VIRTIO_MMIO_STATUS, s);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), s);

	for (unsigned int q = 0; q < nq; q++) {
		struct vq_driver *d = &f->drv[q];

		vqd_init(d, &f->vm.mem, QSIZE, RING_GPA + 0x4000ull * q);
		wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
		wr(f, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)d->desc);
		wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)d->avail);
		wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
		wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)d->used);
		wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
		wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(f, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS),
			 s | VIRTIO_STATUS_DRIVER_OK);
}

static int make_fixture(void **state, const char *extra, unsigned int nq)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct virtio_dev *dev;
	struct blk_options opts;
	char spec[256];
	uint8_t fill[4096];

	assert_non_null(f);
	strcpy(f->path, "/tmp/minnow-test-blk-XXXXXX");
	f->fd = mkstemp(f->path);
	assert_true(f->fd >= 0);
	/* Every byte of the image starts as 0xee, so writes show. */
	memset(fill, 0xee, sizeof(fill));
	for (int i = 0; i < IMG_BYTES / 4096; i++)
		assert_int_equal(pwrite(f->fd, fill, 4096, 4096 * i), 4096);

	f->vm.vm_fd = -1;
	assert_int_equal(gmem_init(&f->vm.mem, 16u << 20, false), 0);
	bus_init(&f->vm.mmio, "mmio");
	assert_int_equal(evloop_init(&f->vm.loop, 64), 0);
	f->tick.complete = tick_done;
	snprintf(spec, sizeof(spec), "path=%s,queue_size=%u,num_queues=%u%s",
		 f->path, QSIZE, nq, extra);
	assert_int_equal(blk_options_parse(spec, &opts), 0);
	assert_int_equal(virtio_blk_create(&opts, &f->vm.loop, 0, &dev), 0);
	assert_int_equal(virtio_mmio_attach(&f->vm, dev), 0);
	f->m = f->vm.virtio[0];
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	driver_init(f, nq);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return make_fixture(state, "", 1);
}

static int setup_ro(void **state)
{
	return make_fixture(state, ",readonly=on,serial=minnow-serial-0001", 1);
}

static int setup_mq(void **state)
{
	return make_fixture(state, "", MAX_QUEUES);
}

static int setup_direct(void **state)
{
	return make_fixture(state, ",direct=on", 1);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	evloop_destroy(&f->vm.loop);
	virtio_mmio_destroy(f->m);
	gmem_destroy(&f->vm.mem);
	close(f->fd);
	unlink(f->path);
	free(f);
	return 0;
}

static uint8_t *gptr(struct fixture *f, gpa_t gpa, size_t len)
{
	uint8_t *p = gmem_ptr(&f->vm.mem, gpa, len);

	assert_non_null(p);
	return p;
}

/*
 * Adds a request on queue q the way Linux does: header, data (n bytes at
 * buf, split into pieces of at most piece bytes), status. slot picks the
 * header and status bytes. Returns the head.
 */
static uint16_t add_req_q(struct fixture *f, unsigned int q, unsigned int slot,
			  uint32_t type, uint64_t sector, gpa_t buf, uint32_t n,
			  uint32_t piece)
{
	struct virtio_blk_req_hdr h = {.type = htole32(type),
				       .sector = htole64(sector)};
	struct vqd_buf b[QSIZE];
	bool writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	unsigned int nb = 0;

	gmem_write(&f->vm.mem, HDR_GPA + 64ull * slot, &h, sizeof(h));
	*gptr(f, STATUS_GPA + slot, 1) = 0xaa;
	b[nb++] = (struct vqd_buf){HDR_GPA + 64ull * slot, 16, false};
	for (uint32_t off = 0; off < n && nb < QSIZE - 1; off += piece)
		b[nb++] = (struct vqd_buf){buf + off, MIN(piece, n - off),
					   writes};
	b[nb++] = (struct vqd_buf){STATUS_GPA + slot, 1, true};
	return vqd_add(&f->drv[q], b, nb);
}

static uint16_t add_req(struct fixture *f, unsigned int slot, uint32_t type,
			uint64_t sector, gpa_t buf, uint32_t n)
{
	return add_req_q(f, 0, slot, type, sector, buf, n, 4096);
}

static void kick(struct fixture *f, unsigned int q)
{
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

/* Runs the loop until n used entries arrive on queue q (or 5 s pass). */
static void wait_used(struct fixture *f, unsigned int q, unsigned int n,
		      uint32_t *ids, uint32_t *lens)
{
	unsigned int got = 0;

	for (int i = 0; i < 5000 && got < n; i++) {
		uint32_t id, len;

		while (got < n && vqd_get_used(&f->drv[q], &id, &len)) {
			if (ids)
				ids[got] = id;
			if (lens)
				lens[got] = len;
			got++;
		}
		if (got < n)
			run_loop(f);
	}
	assert_int_equal(got, n);
}

static uint8_t status_of(struct fixture *f, unsigned int slot)
{
	return *gptr(f, STATUS_GPA + slot, 1);
}

/* One request, run to completion; returns its status. */
static uint8_t do_req(struct fixture *f, uint32_t type, uint64_t sector,
		      gpa_t buf, uint32_t n)
{
	add_req(f, 0, type, sector, buf, n);
	kick(f, 0);
	wait_used(f, 0, 1, NULL, NULL);
	return status_of(f, 0);
}

static void host_read(struct fixture *f, uint64_t off, void *buf, size_t n)
{
	assert_int_equal(pread(f->fd, buf, n, (off_t)off), (ssize_t)n);
}

static void fill_pattern(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

static void test_config(void **state)
{
	struct fixture *f = *state;
	uint64_t cap;
	uint8_t b[8];

	for (int i = 0; i < 8; i++) {
		assert_true(bus_access(&f->vm.mmio,
				       BASE + VIRTIO_MMIO_CONFIG + i, &b[i], 1,
				       false));
	}
	memcpy(&cap, b, 8);
	assert_int_equal(le64toh(cap), IMG_BYTES / 512);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_true(rd(f, VIRTIO_MMIO_DEVICE_FEATURES) &
		    (1u << VIRTIO_BLK_F_DISCARD));
	assert_false(rd(f, VIRTIO_MMIO_DEVICE_FEATURES) &
		     (1u << VIRTIO_BLK_F_RO));
}

static void test_write_read_back(void **state)
{
	struct fixture *f = *state;
	uint8_t host[3 * 4096 + 512];
	const uint32_t n = sizeof(host);
	uint32_t id, len;

	fill_pattern(gptr(f, BUF_GPA, n), n, 1);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_OUT, 9, BUF_GPA, n),
			 VIRTIO_BLK_S_OK);
	host_read(f, 9 * 512, host, n);
	assert_memory_equal(host, gptr(f, BUF_GPA, n), n);
	/* Neighbours untouched. */
	host_read(f, 8 * 512, host, 512);
	assert_int_equal(host[511], 0xee);
	host_read(f, 9 * 512 + n, host, 1);
	assert_int_equal(host[0], 0xee);

	/* Read it back into other buffers, in 512-byte pieces. */
	memset(gptr(f, BUF_GPA + 0x100000, n), 0, n);
	add_req_q(f, 0, 0, VIRTIO_BLK_T_IN, 9, BUF_GPA + 0x100000, n, 512);
	kick(f, 0);
	wait_used(f, 0, 1, &id, &len);
	assert_int_equal(status_of(f, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(len, n + 1);
	assert_memory_equal(gptr(f, BUF_GPA + 0x100000, n), gptr(f, BUF_GPA, n),
			    n);
}

/* Many requests in flight at once; every one comes back exactly once. */
static void test_many_in_flight(void **state)
{
	struct fixture *f = *state;
	/* Three descriptors each: as many as the queue holds. */
	const unsigned int nreq = QSIZE / 3;
	uint32_t ids[QSIZE / 3];
	bool seen[QSIZE] = {false};
	uint16_t heads[QSIZE / 3];

	for (unsigned int i = 0; i < nreq; i++) {
		fill_pattern(gptr(f, BUF_GPA + 8192ull * i, 8192), 8192,
			     (uint8_t)i);
		heads[i] = add_req_q(f, 0, i, VIRTIO_BLK_T_OUT, 16ull * i,
				     BUF_GPA + 8192ull * i, 8192, 8192);
	}
	kick(f, 0);
	wait_used(f, 0, nreq, ids, NULL);
	for (unsigned int i = 0; i < nreq; i++) {
		assert_true(ids[i] < QSIZE);
		assert_false(seen[ids[i]]);
		seen[ids[i]] = true;
	}
	for (unsigned int i = 0; i < nreq; i++) {
		uint8_t host[8192];

		assert_true(seen[heads[i]]);
		assert_int_equal(status_of(f, i), VIRTIO_BLK_S_OK);
		host_read(f, 8192ull * i, host, sizeof(host));
		assert_memory_equal(host, gptr(f, BUF_GPA + 8192ull * i, 8192),
				    8192);
	}
}

static void test_flush(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(do_req(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0),
			 VIRTIO_BLK_S_OK);
}

static uint8_t do_dwz(struct fixture *f, uint32_t type, uint64_t sector,
		      uint32_t n, uint32_t flags)
{
	struct virtio_blk_dwz_seg seg = {.sector = htole64(sector),
					 .num_sectors = htole32(n),
					 .flags = htole32(flags)};
	struct virtio_blk_req_hdr h = {.type = htole32(type)};
	struct vqd_buf b[3] = {
		{HDR_GPA, 16, false},
		{HDR_GPA + 16, 16, false},
		{STATUS_GPA, 1, true},
	};

	gmem_write(&f->vm.mem, HDR_GPA, &h, sizeof(h));
	gmem_write(&f->vm.mem, HDR_GPA + 16, &seg, sizeof(seg));
	vqd_add(&f->drv[0], b, 3);
	kick(f, 0);
	wait_used(f, 0, 1, NULL, NULL);
	return status_of(f, 0);
}

static bool host_all(struct fixture *f, uint64_t off, size_t n, uint8_t v)
{
	uint8_t buf[8192];

	assert_true(n <= sizeof(buf));
	host_read(f, off, buf, n);
	for (size_t i = 0; i < n; i++)
		if (buf[i] != v)
			return false;
	return true;
}

static void test_write_zeroes_discard(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 8, 8, 0),
			 VIRTIO_BLK_S_OK);
	assert_true(host_all(f, 8 * 512, 4096, 0));
	assert_true(host_all(f, 7 * 512, 512, 0xee));
	assert_true(host_all(f, 16 * 512, 512, 0xee));

	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 64, 16,
				VIRTIO_BLK_WZ_F_UNMAP),
			 VIRTIO_BLK_S_OK);
	assert_true(host_all(f, 64 * 512, 8192, 0));
	assert_true(host_all(f, 80 * 512, 512, 0xee));

	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_DISCARD, 128, 16, 0),
			 VIRTIO_BLK_S_OK);
	/* virtio 1.2, 5.2.6.2: unmap on discard is unsupported. */
	assert_int_equal(
		do_dwz(f, VIRTIO_BLK_T_DISCARD, 128, 16, VIRTIO_BLK_WZ_F_UNMAP),
		VIRTIO_BLK_S_UNSUPP);
	/* Past the end: refused, and the file does not grow. */
	assert_int_equal(
		do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, IMG_BYTES / 512 - 4, 8, 0),
		VIRTIO_BLK_S_IOERR);
	assert_int_equal(fstat(f->fd, &st), 0);
	assert_int_equal(st.st_size, IMG_BYTES);
}

static void test_out_of_range(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	assert_int_equal(
		do_req(f, VIRTIO_BLK_T_OUT, IMG_BYTES / 512 - 1, BUF_GPA, 1024),
		VIRTIO_BLK_S_IOERR);
	assert_int_equal(
		do_req(f, VIRTIO_BLK_T_IN, IMG_BYTES / 512, BUF_GPA, 512),
		VIRTIO_BLK_S_IOERR);
	assert_int_equal(
		do_req(f, VIRTIO_BLK_T_OUT, UINT64_MAX / 512, BUF_GPA, 512),
		VIRTIO_BLK_S_IOERR);
	assert_int_equal(fstat(f->fd, &st), 0);
	assert_int_equal(st.st_size, IMG_BYTES);
	assert_true(host_all(f, IMG_BYTES - 512, 512, 0xee));
	/* The last sector itself is fine. */
	assert_int_equal(
		do_req(f, VIRTIO_BLK_T_OUT, IMG_BYTES / 512 - 1, BUF_GPA, 512),
		VIRTIO_BLK_S_OK);
}

static void test_unsupported(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(do_req(f, VIRTIO_BLK_T_GET_LIFETIME, 0, BUF_GPA, 16),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET,
			 0);
}

/* A malformed chain fails the device; the VM (this test) goes on. */
static void test_malformed_fails_device(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b[2] = {{HDR_GPA, 8, false}, {STATUS_GPA, 1, true}};

	vqd_add(&f->drv[0], b, 2);
	kick(f, 0);
	for (int i = 0; i < 20; i++)
		run_loop(f);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);

	/* After a reset the device works again. */
	driver_init(f, 1);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0),
			 VIRTIO_BLK_S_OK);
}

static void test_readonly(void **state)
{
	struct fixture *f = *state;
	char id[VIRTIO_BLK_ID_BYTES + 1] = {0};
	uint32_t got, len;

	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_true(rd(f, VIRTIO_MMIO_DEVICE_FEATURES) &
		    (1u << VIRTIO_BLK_F_RO));
	assert_false(rd(f, VIRTIO_MMIO_DEVICE_FEATURES) &
		     (1u << VIRTIO_BLK_F_DISCARD));
	memset(gptr(f, BUF_GPA, 4096), 0x11, 4096);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_OUT, 0, BUF_GPA, 4096),
			 VIRTIO_BLK_S_IOERR);
	assert_true(host_all(f, 0, 4096, 0xee));
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, 0, BUF_GPA, 4096),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(*gptr(f, BUF_GPA, 1), 0xee);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0),
			 VIRTIO_BLK_S_OK);

	/* GET_ID: the serial, exactly 20 bytes here. */
	memset(gptr(f, BUF_GPA, 64), 0xff, 64);
	add_req(f, 0, VIRTIO_BLK_T_GET_ID, 0, BUF_GPA, 20);
	kick(f, 0);
	wait_used(f, 0, 1, &got, &len);
	assert_int_equal(status_of(f, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 21);
	memcpy(id, gptr(f, BUF_GPA, 20), 20);
	/* Shorter than 20 bytes: NUL-padded. */
	assert_string_equal(id, "minnow-serial-0001");
}

static void test_get_id_short_serial(void **state)
{
	struct fixture *f = *state;

	memset(gptr(f, BUF_GPA, 20), 0xff, 20);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_GET_ID, 0, BUF_GPA, 20),
			 VIRTIO_BLK_S_OK);
	/* No serial: NUL bytes. */
	assert_int_equal(*gptr(f, BUF_GPA, 1), 0);
}

/* A second writer, or a reader next to a writer, is refused. */
static void test_lock(void **state)
{
	struct fixture *f = *state;
	struct blk_options opts;
	struct virtio_dev *dev;
	char spec[128];

	snprintf(spec, sizeof(spec), "path=%s", f->path);
	assert_int_equal(blk_options_parse(spec, &opts), 0);
	assert_int_equal(virtio_blk_create(&opts, &f->vm.loop, 1, &dev),
			 -EAGAIN);
	opts.readonly = true;
	assert_int_equal(virtio_blk_create(&opts, &f->vm.loop, 1, &dev),
			 -EAGAIN);
}

static void test_readonly_shared(void **state)
{
	struct fixture *f = *state;
	struct blk_options opts;
	struct virtio_dev *dev;
	char spec[128];

	snprintf(spec, sizeof(spec), "path=%s,readonly=on", f->path);
	assert_int_equal(blk_options_parse(spec, &opts), 0);
	assert_int_equal(virtio_blk_create(&opts, &f->vm.loop, 1, &dev), 0);
	virtio_dev_destroy(dev);
	opts.readonly = false;
	assert_int_equal(virtio_blk_create(&opts, &f->vm.loop, 1, &dev),
			 -EAGAIN);
}

/* Each queue works on its own. */
static void test_multiqueue(void **state)
{
	struct fixture *f = *state;

	for (unsigned int q = 0; q < MAX_QUEUES; q++) {
		gpa_t buf = BUF_GPA + 0x10000ull * q;

		fill_pattern(gptr(f, buf, 4096), 4096, (uint8_t)(q + 50));
		add_req_q(f, q, q, VIRTIO_BLK_T_OUT, 8ull * q, buf, 4096, 4096);
		kick(f, q);
	}
	for (unsigned int q = 0; q < MAX_QUEUES; q++) {
		uint8_t host[4096];

		wait_used(f, q, 1, NULL, NULL);
		assert_int_equal(status_of(f, q), VIRTIO_BLK_S_OK);
		host_read(f, 4096ull * q, host, 4096);
		assert_memory_equal(
			host, gptr(f, BUF_GPA + 0x10000ull * q, 4096), 4096);
	}
}

/*
 * Contiguous writes and reads kicked together (which the device submits
 * as one operation), with a request of another kind between two runs:
 * every request answered once, with its own bytes.
 */
static void test_contiguous_batch(void **state)
{
	struct fixture *f = *state;
	const unsigned int nreq = 8, n = 8192;
	uint8_t host[8192];
	uint32_t lens[8];

	for (unsigned int i = 0; i < nreq; i++) {
		fill_pattern(gptr(f, BUF_GPA + (uint64_t)n * i, n), n,
			     (uint8_t)(3 * i));
		/* Request 4 writes elsewhere: it splits the run in two. */
		add_req_q(f, 0, i, VIRTIO_BLK_T_OUT, i == 4 ? 1000 : 16ull * i,
			  BUF_GPA + (uint64_t)n * i, n, 4096);
	}
	kick(f, 0);
	wait_used(f, 0, nreq, NULL, NULL);
	for (unsigned int i = 0; i < nreq; i++) {
		assert_int_equal(status_of(f, i), VIRTIO_BLK_S_OK);
		host_read(f, i == 4 ? 1000 * 512 : (uint64_t)n * i, host, n);
		assert_memory_equal(host, gptr(f, BUF_GPA + (uint64_t)n * i, n),
				    n);
	}
	host_read(f, (uint64_t)n * 4, host, n);
	assert_int_equal(host[0], 0xee);

	/* Read the first run back into other buffers, in 2 KiB pieces. */
	memset(gptr(f, BUF_GPA + 0x100000, n * 4), 0, n * 4);
	for (unsigned int i = 0; i < 4; i++)
		add_req_q(f, 0, i, VIRTIO_BLK_T_IN, 16ull * i,
			  BUF_GPA + 0x100000 + (uint64_t)n * i, n, 2048);
	kick(f, 0);
	wait_used(f, 0, 4, NULL, lens);
	for (unsigned int i = 0; i < 4; i++) {
		assert_int_equal(status_of(f, i), VIRTIO_BLK_S_OK);
		assert_int_equal(lens[i], n + 1);
	}
	assert_memory_equal(gptr(f, BUF_GPA + 0x100000, n * 4),
			    gptr(f, BUF_GPA, n * 4), n * 4);
}

/*
 * A host error inside a batch of contiguous reads reaches only the
 * request it belongs to: the image shrinks under the device, so the last
 * read finds nothing.
 */
static void test_contiguous_batch_error(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(ftruncate(f->fd, 8192), 0);
	memset(gptr(f, BUF_GPA, 3 * 4096), 0, 3 * 4096);
	for (unsigned int i = 0; i < 3; i++)
		add_req_q(f, 0, i, VIRTIO_BLK_T_IN, 8ull * i,
			  BUF_GPA + 4096ull * i, 4096, 4096);
	kick(f, 0);
	wait_used(f, 0, 3, NULL, NULL);
	assert_int_equal(status_of(f, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(status_of(f, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(status_of(f, 2), VIRTIO_BLK_S_IOERR);
	assert_int_equal(*gptr(f, BUF_GPA, 1), 0xee);
	assert_int_equal(*gptr(f, BUF_GPA + 8191, 1), 0xee);
}

/* O_DIRECT with guest buffers it cannot take as they are: bounced. */
static void test_direct_unaligned(void **state)
{
	struct fixture *f = *state;
	const gpa_t buf = BUF_GPA + 8; /* not 512-aligned */
	uint8_t host[4096];

	fill_pattern(gptr(f, buf, 4096), 4096, 9);
	add_req_q(f, 0, 0, VIRTIO_BLK_T_OUT, 8, buf, 4096, 1000);
	kick(f, 0);
	wait_used(f, 0, 1, NULL, NULL);
	assert_int_equal(status_of(f, 0), VIRTIO_BLK_S_OK);
	host_read(f, 4096, host, 4096);
	assert_memory_equal(host, gptr(f, buf, 4096), 4096);

	memset(gptr(f, BUF_GPA + 0x100003, 4096), 0, 4096);
	add_req_q(f, 0, 0, VIRTIO_BLK_T_IN, 8, BUF_GPA + 0x100003, 4096, 700);
	kick(f, 0);
	wait_used(f, 0, 1, NULL, NULL);
	assert_int_equal(status_of(f, 0), VIRTIO_BLK_S_OK);
	assert_memory_equal(gptr(f, BUF_GPA + 0x100003, 4096), host, 4096);

	/* And aligned ones go straight through. */
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, 0, BUF_GPA, 4096),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(*gptr(f, BUF_GPA, 1), 0xee);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_many_in_flight, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_zeroes_discard,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unsupported, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_malformed_fails_device,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup_ro,
						teardown),
		cmocka_unit_test_setup_teardown(test_get_id_short_serial, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_shared, setup_ro,
						teardown),
		cmocka_unit_test_setup_teardown(test_multiqueue, setup_mq,
						teardown),
		cmocka_unit_test_setup_teardown(test_contiguous_batch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_contiguous_batch_error,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_unaligned,
						setup_direct, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
