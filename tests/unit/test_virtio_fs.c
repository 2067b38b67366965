/*
 * virtio-fs through the virtio-mmio transport, driven like Linux's
 * virtiofs driver: the tag in config space, INIT on the request queue,
 * a FORGET without reply buffers on hiprio; and the --fs parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/fuse.h>

#include "devices/virtio_fs.h"
#include "devices/virtio_mmio.h"
#include "vmm/vm.h"
#include "vq_driver.h"

#define BASE      LAYOUT_VIRTIO_MMIO_BASE
#define RING0_GPA 0x10000ull
#define RING1_GPA 0x20000ull
#define REQ_GPA   0x100000ull
#define REP_GPA   0x200000ull
#define QSIZE     16

struct fixture {
	struct vm vm;
	struct virtio_mmio *m;
	struct vq_driver hiprio, req;
	char dir[64];
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

static void queue_init(struct fixture *f, unsigned int q, struct vq_driver *d,
		       gpa_t ring)
{
	vqd_init(d, &f->vm.mem, QSIZE, ring);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)d->desc);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)d->avail);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)d->used);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
}

/* virtio 1.2, 3.1.1 and 4.2.3. */
static void driver_init(struct fixture *f)
{
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, s);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	s |= VIRTIO_STATUS_FEATURES_OK;
	wr(f, VIRTIO_MMIO_STATUS, s);
	queue_init(f, 0, &f->hiprio, RING0_GPA);
	queue_init(f, 1, &f->req, RING1_GPA);
	wr(f, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct virtio_fs_spec spec;
	char str[128];
	struct virtio_dev *dev;

	strcpy(f->dir, "/tmp/minnow-vfs-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(str, sizeof(str), "tag=shared,dir=%s", f->dir);
	assert_int_equal(virtio_fs_spec_parse(str, &spec), 0);
	dev = virtio_fs_create(&spec);
	assert_non_null(dev);
	f->vm.vm_fd = -1;
	assert_int_equal(gmem_init(&f->vm.mem, 16u << 20, false), 0);
	bus_init(&f->vm.mmio, "mmio");
	assert_int_equal(virtio_mmio_attach(&f->vm, dev), 0);
	f->m = f->vm.virtio[0];
	driver_init(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	virtio_mmio_destroy(f->m);
	gmem_destroy(&f->vm.mem);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_config(void **state)
{
	struct fixture *f = *state;
	char tag[VIRTIO_FS_TAG_BYTES + 1] = {0};

	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_FS);
	for (unsigned int i = 0; i < VIRTIO_FS_TAG_BYTES; i += 4) {
		uint32_t v = htole32(rd(f, VIRTIO_MMIO_CONFIG + i));

		memcpy(tag + i, &v, 4);
	}
	assert_string_equal(tag, "shared");
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 36), 1);
}

static void test_init_and_forget(void **state)
{
	struct fixture *f = *state;
	struct {
		struct fuse_in_header h;
		struct fuse_init_in in;
	} init = {
		.h = {.len = sizeof(init), .opcode = FUSE_INIT, .unique = 5},
		.in = {.major = 7, .minor = 31},
	};
	struct {
		struct fuse_in_header h;
		struct fuse_forget_in in;
	} forget = {
		.h = {.len = sizeof(forget),
		      .opcode = FUSE_FORGET,
		      .nodeid = 1},
		.in = {.nlookup = 1},
	};
	/* Header and argument in separate buffers, like Linux. */
	const struct vqd_buf bufs[] = {
		{REQ_GPA, sizeof(init.h), false},
		{REQ_GPA + 0x100, sizeof(init.in), false},
		{REP_GPA, 16, true},
		{REP_GPA + 0x100, sizeof(struct fuse_init_out), true},
	};
	struct vqd_buf fb = {REQ_GPA + 0x1000, sizeof(forget), false};
	struct fuse_out_header *oh;
	struct fuse_init_out *io;
	uint32_t id, len;

	gmem_write(&f->vm.mem, REQ_GPA, &init.h, sizeof(init.h));
	gmem_write(&f->vm.mem, REQ_GPA + 0x100, &init.in, sizeof(init.in));
	vqd_add(&f->req, bufs, 4);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_true(vqd_get_used(&f->req, &id, &len));
	assert_int_equal(len, 16 + sizeof(*io));
	oh = gmem_ptr(&f->vm.mem, REP_GPA, sizeof(*oh));
	io = gmem_ptr(&f->vm.mem, REP_GPA + 0x100, sizeof(*io));
	assert_int_equal(oh->unique, 5);
	assert_int_equal(oh->error, 0);
	assert_int_equal(io->minor, 31);

	gmem_write(&f->vm.mem, REQ_GPA + 0x1000, &forget, sizeof(forget));
	vqd_add(&f->hiprio, &fb, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(vqd_get_used(&f->hiprio, &id, &len));
	assert_int_equal(len, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET,
			 0);
}

static void test_spec_parse(void **state)
{
	struct virtio_fs_spec s;

	assert_int_equal(virtio_fs_spec_parse("tag=a,dir=/x,readonly=on,"
					      "cache=never",
					      &s),
			 0);
	assert_string_equal(s.tag, "a");
	assert_string_equal(s.dir, "/x");
	assert_true(s.readonly);
	assert_int_equal(s.cache, FS_CACHE_NEVER);
	assert_int_equal(virtio_fs_spec_parse("tag=a,socket=/s", &s), 0);
	assert_string_equal(s.socket, "/s");
	assert_int_equal(virtio_fs_spec_parse("dir=/x", &s), -EINVAL);
	assert_int_equal(virtio_fs_spec_parse("tag=a", &s), -EINVAL);
	assert_int_equal(virtio_fs_spec_parse("tag=a,dir=/x,socket=/s", &s),
			 -EINVAL);
	assert_int_equal(virtio_fs_spec_parse("tag=a,dir=/x,cache=maybe", &s),
			 -EINVAL);
	assert_int_equal(virtio_fs_spec_parse("tag=a,dir=/x,bogus=1", &s),
			 -EINVAL);
	assert_int_equal(virtio_fs_spec_parse(
				 "tag=0123456789012345678901234567890123456,"
				 "dir=/x",
				 &s),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_and_forget, setup,
						teardown),
		cmocka_unit_test(test_spec_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
