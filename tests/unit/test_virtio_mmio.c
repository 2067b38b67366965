/*
 * The virtio-mmio transport driven through the MMIO bus as Linux's
 * virtio_mmio driver would, without KVM: registers, feature negotiation,
 * queue setup checks, reset, config space, NEEDS_RESET and recovery, the
 * kernel command line and the device tree that describe the devices.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/fdt.h"
#include "devices/virtio_mmio.h"
#include "vmm/util.h"
#include "vmm/vm.h"
#include "vq_driver.h"

#define BASE           LAYOUT_VIRTIO_MMIO_BASE
#define RING_GPA       0x10000ull
#define BUF_GPA        0x100000ull
#define TEST_ID        42
#define F_VERSION_1_HI (1u << (VIRTIO_F_VERSION_1 - 32))

/* A device with two queues, 8 bytes of config space and feature bit 0. */
struct test_dev {
	struct virtio_dev dev;
	struct virtqueue vqs[2];
	struct iovec iov[16];
	uint8_t config[8];
	unsigned int notifies;
	unsigned int resets;
	unsigned int activations;
	bool fail_next_notify;
};

static void test_config_read(struct virtio_dev *dev, uint32_t off,
			     uint8_t *data, uint32_t len)
{
	memcpy(data, container_of(dev, struct test_dev, dev)->config + off,
	       len);
}

static void test_config_write(struct virtio_dev *dev, uint32_t off,
			      const uint8_t *data, uint32_t len)
{
	memcpy(container_of(dev, struct test_dev, dev)->config + off, data,
	       len);
}

/* Returns each chain with its writable length as used. */
static void test_queue_notify(struct virtio_dev *dev, unsigned int qidx)
{
	struct test_dev *t = container_of(dev, struct test_dev, dev);
	struct vq_chain chain = {.iov = t->iov, .iov_cap = 16};
	struct virtqueue *vq = &dev->vqs[qidx];
	int ret;

	t->notifies++;
	if (t->fail_next_notify) {
		t->fail_next_notify = false;
		virtio_dev_fail(dev, "test failure on queue %u", qidx);
		return;
	}
	while ((ret = vq_pop_chain(vq, &chain)) == 1)
		vq_push_used(vq, chain.head, chain.writable_bytes);
	if (ret < 0)
		virtio_dev_fail(dev, "queue %u: %s", qidx, vq_strerror(ret));
	virtio_notify_queue(dev, vq);
}

static int test_activate(struct virtio_dev *dev)
{
	container_of(dev, struct test_dev, dev)->activations++;
	return 0;
}

static void test_reset(struct virtio_dev *dev)
{
	container_of(dev, struct test_dev, dev)->resets++;
}

static void test_destroy(struct virtio_dev *dev)
{
	free(container_of(dev, struct test_dev, dev));
}

static const struct virtio_dev_ops test_ops = {
	.config_read = test_config_read,
	.config_write = test_config_write,
	.queue_notify = test_queue_notify,
	.activate = test_activate,
	.reset = test_reset,
	.destroy = test_destroy,
};

static struct test_dev *test_dev_new(void)
{
	struct test_dev *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->dev = (struct virtio_dev){
		.name = "virtio-test",
		.device_id = TEST_ID,
		.features = 1ull | (1ull << VIRTIO_F_VERSION_1) |
			    (1ull << VIRTIO_RING_F_EVENT_IDX),
		.nr_queues = 2,
		.queue_max_size = 16,
		.config_size = sizeof(t->config),
		.ops = &test_ops,
		.vqs = t->vqs,
	};
	memcpy(t->config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	return t;
}

struct fixture {
	struct vm vm;
	struct test_dev *t;
	struct virtio_mmio *m;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->vm.vm_fd = -1;
	f->vm.config.nr_cpus = 2;
	assert_int_equal(gmem_init(&f->vm.mem, 16u << 20, false), 0);
	bus_init(&f->vm.mmio, "mmio");
	f->t = test_dev_new();
	assert_int_equal(virtio_mmio_attach(&f->vm, &f->t->dev), 0);
	f->m = f->vm.virtio[0];
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (unsigned int i = 0; i < f->vm.nr_virtio; i++)
		virtio_mmio_destroy(f->vm.virtio[i]);
	gmem_destroy(&f->vm.mem);
	free(f);
	return 0;
}

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

/* How many interrupts were injected since the last call. */
static uint64_t irqs(struct fixture *f)
{
	uint64_t n = 0;

	if (read(f->m->irq_fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

/* virtio 1.2, 3.1.1 steps 1-6; returns the status read back. */
static uint32_t negotiate(struct fixture *f, uint32_t lo, uint32_t hi)
{
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(f, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, lo);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, hi);
	wr(f, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		   VIRTIO_STATUS_FEATURES_OK);
	return rd(f, VIRTIO_MMIO_STATUS);
}

static void setup_queue(struct fixture *f, uint32_t q, uint32_t num,
			uint64_t desc, uint64_t drv, uint64_t dev)
{
	wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, num);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)drv);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(drv >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)dev);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(dev >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void driver_ok(struct fixture *f)
{
	uint32_t s = rd(f, VIRTIO_MMIO_STATUS);

	wr(f, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
}

/* Negotiates VERSION_1, sets up queue 0 with drv's rings, DRIVER_OK. */
static void bring_up(struct fixture *f, struct vq_driver *drv)
{
	assert_true(negotiate(f, 0, F_VERSION_1_HI) &
		    VIRTIO_STATUS_FEATURES_OK);
	vqd_init(drv, &f->vm.mem, 8, RING_GPA);
	setup_queue(f, 0, 8, drv->desc, drv->avail, drv->used);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
	driver_ok(f);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK,
			 VIRTIO_STATUS_DRIVER_OK);
}

static void test_identity_registers(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(f, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), TEST_ID);
	assert_int_equal(rd(f, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	assert_int_equal(f->m->base, BASE);
	assert_int_equal(f->m->irq, LAYOUT_IRQ_VIRTIO_FIRST);
}

static void test_shm_absent(void **state)
{
	struct fixture *f = *state;

	wr(f, VIRTIO_MMIO_SHM_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffffu);
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffffu);
}

static void test_device_features(void **state)
{
	struct fixture *f = *state;

	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES),
			 1u | (1u << VIRTIO_RING_F_EVENT_IDX));
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), F_VERSION_1_HI);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

static void test_features_ok_accepted(void **state)
{
	struct fixture *f = *state;

	assert_true(negotiate(f, 1, F_VERSION_1_HI) &
		    VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(f->t->dev.driver_features,
			 1ull | (1ull << VIRTIO_F_VERSION_1));

	/* Features are frozen once FEATURES_OK is set. */
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	assert_int_equal(f->t->dev.driver_features & 1, 1);
}

static void test_features_ok_rejected_unoffered(void **state)
{
	struct fixture *f = *state;

	/* Bit 1 was never offered. */
	assert_false(negotiate(f, 3, F_VERSION_1_HI) &
		     VIRTIO_STATUS_FEATURES_OK);
	/* Nor may DRIVER_OK follow. */
	driver_ok(f);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->t->activations, 0);
}

static void test_features_ok_rejected_without_version_1(void **state)
{
	struct fixture *f = *state;

	assert_false(negotiate(f, 1, 0) & VIRTIO_STATUS_FEATURES_OK);
}

static void test_queue_num_max(void **state)
{
	struct fixture *f = *state;

	wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 16);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
}

static void test_queue_setup_valid(void **state)
{
	struct fixture *f = *state;
	struct vq_driver drv;

	bring_up(f, &drv);
	assert_true(f->t->vqs[0].ready);
	assert_int_equal(f->t->vqs[0].size, 8);
	assert_int_equal(f->t->activations, 1);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

/* Each bad queue: QueueReady stays 0 and the device needs a reset. */
static void expect_bad_queue(struct fixture *f, uint32_t num, uint64_t desc,
			     uint64_t drv, uint64_t dev)
{
	negotiate(f, 0, F_VERSION_1_HI);
	setup_queue(f, 0, num, desc, drv, dev);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_queue_setup_invalid(void **state)
{
	struct fixture *f = *state;
	const uint64_t d = RING_GPA, a = RING_GPA + 0x1000,
		       u = RING_GPA + 0x2000;

	expect_bad_queue(f, 6, d, a, u);     /* not a power of two */
	expect_bad_queue(f, 0, d, a, u);     /* zero */
	expect_bad_queue(f, 32, d, a, u);    /* above QueueNumMax */
	expect_bad_queue(f, 8, d + 8, a, u); /* descriptors not 16-aligned */
	expect_bad_queue(f, 8, d, a + 1, u); /* avail not 2-aligned */
	expect_bad_queue(f, 8, d, a, u + 2); /* used not 4-aligned */
	/* Rings outside RAM, in the MMIO hole, and wrapping. */
	expect_bad_queue(f, 8, BASE, a, u);
	expect_bad_queue(f, 8, d, (16u << 20) - 8, u);
	expect_bad_queue(f, 8, d, a, 0xfffffffffffffff0ull);
}

static void test_reset_clears_state(void **state)
{
	struct fixture *f = *state;
	struct vq_driver drv;
	unsigned int resets;

	bring_up(f, &drv);
	resets = f->t->resets;
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 4);
	f->m->interrupt_status = VIRTIO_MMIO_INT_VRING;

	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(f->t->dev.driver_features, 0);
	assert_int_equal(f->t->resets, resets + 1);
	for (uint32_t q = 0; q < 2; q++) {
		wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
		assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM), 0);
		assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
		assert_false(f->t->vqs[q].ready);
	}
}

static void test_status_bits_cannot_be_cleared(void **state)
{
	struct fixture *f = *state;

	wr(f, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS),
			 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* NEEDS_RESET is the device's to set. */
	wr(f, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		   VIRTIO_STATUS_NEEDS_RESET);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_config_space(void **state)
{
	struct fixture *f = *state;
	uint8_t b = 0;
	uint16_t h = 0;
	uint64_t q = 0;

	assert_true(bus_access(&f->vm.mmio, BASE + 0x100 + 2, &b, 1, false));
	assert_int_equal(b, 3);
	assert_true(bus_access(&f->vm.mmio, BASE + 0x100 + 6, (uint8_t *)&h, 2,
			       false));
	assert_int_equal(h, 0x0807);
	assert_true(
		bus_access(&f->vm.mmio, BASE + 0x100, (uint8_t *)&q, 8, false));
	assert_int_equal(q, 0x0807060504030201ull);
	assert_int_equal(rd(f, 0x104), 0x08070605);

	b = 0xaa;
	assert_true(bus_access(&f->vm.mmio, BASE + 0x100, &b, 1, true));
	assert_int_equal(f->t->config[0], 0xaa);

	/* Past the end of config space: reads 0, writes dropped. */
	assert_int_equal(rd(f, 0x106), 0);
	assert_int_equal(rd(f, 0x200), 0);
	wr(f, 0x108, 0xffffffff);
	/* A 3-byte access is not one the bus can make, but 8 at 0x104 is bad. */
	q = 0;
	assert_true(
		bus_access(&f->vm.mmio, BASE + 0x104, (uint8_t *)&q, 8, false));
	assert_int_equal(q, 0);
}

static void test_config_generation(void **state)
{
	struct fixture *f = *state;
	struct vq_driver drv;

	bring_up(f, &drv);
	irqs(f);
	pthread_mutex_lock(&f->t->dev.lock);
	virtio_notify_config(&f->t->dev);
	pthread_mutex_unlock(&f->t->dev.lock);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(irqs(f), 1);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

static void test_register_width_rules(void **state)
{
	struct fixture *f = *state;
	uint16_t h = 0xffff;
	uint8_t b = VIRTIO_STATUS_ACKNOWLEDGE;
	uint64_t q = ~0ull;

	/* Registers are 32-bit only: other widths read 0, writes ignored. */
	assert_true(bus_access(&f->vm.mmio, BASE, (uint8_t *)&h, 2, false));
	assert_int_equal(h, 0);
	assert_true(bus_access(&f->vm.mmio, BASE + VIRTIO_MMIO_STATUS, &b, 1,
			       true));
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_true(bus_access(&f->vm.mmio, BASE, (uint8_t *)&q, 8, false));
	assert_int_equal(q, 0);
	/* Unaligned 32-bit access. */
	assert_int_equal(rd(f, 2), 0);
}

static void test_notify_and_interrupt(void **state)
{
	struct fixture *f = *state;
	struct vq_driver drv;
	struct vqd_buf b = {BUF_GPA, 100, true};
	uint32_t id, len;
	uint16_t head;

	bring_up(f, &drv);
	head = vqd_add(&drv, &b, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(f->t->notifies, 1);
	assert_true(vqd_get_used(&drv, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 100);
	assert_int_equal(irqs(f), 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_VRING);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	/* Kicks of absent or unready queues do nothing. */
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 7);
	assert_int_equal(f->t->notifies, 1);
}

static void test_needs_reset_and_recovery(void **state)
{
	struct fixture *f = *state;
	struct vq_driver drv;
	struct vqd_buf b = {BUF_GPA, 100, true};
	uint32_t id, len;

	bring_up(f, &drv);
	irqs(f);

	/* A chain that loops fails the device. */
	vqd_desc(&drv, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	vqd_publish(&drv, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS) &
		    VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(irqs(f), 1);

	/* No more queue processing until reset. */
	vqd_add(&drv, &b, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(f->t->notifies, 1);
	assert_false(vqd_get_used(&drv, &id, &len));

	/* The driver resets and starts over; all is well again. */
	bring_up(f, &drv);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	vqd_add(&drv, &b, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(vqd_get_used(&drv, &id, &len));
	assert_int_equal(len, 100);
}

static void test_device_fail_before_driver_ok(void **state)
{
	struct fixture *f = *state;

	negotiate(f, 0, F_VERSION_1_HI);
	irqs(f);
	pthread_mutex_lock(&f->t->dev.lock);
	virtio_dev_fail(&f->t->dev, "test");
	pthread_mutex_unlock(&f->t->dev.lock);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* No config interrupt for a driver that is not running yet. */
	assert_int_equal(irqs(f), 0);
}

static void test_cmdline(void **state)
{
	struct fixture *f = *state;
	char buf[256] = "console=ttyS0";
	char tiny[40] = "console=ttyS0";

	assert_int_equal(virtio_mmio_attach(&f->vm, &test_dev_new()->dev), 0);
	assert_int_equal(virtio_mmio_cmdline(&f->vm, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "console=ttyS0 "
				 "virtio_mmio.device=4K@0xd0000000:5 "
				 "virtio_mmio.device=4K@0xd0001000:6");
	assert_int_equal(virtio_mmio_cmdline(&f->vm, tiny, sizeof(tiny)),
			 -ENOSPC);
	assert_string_equal(tiny, "console=ttyS0");
}

static void test_out_of_slots(void **state)
{
	struct fixture *f = *state;
	unsigned int pins = LAYOUT_IRQ_VIRTIO_LAST - LAYOUT_IRQ_VIRTIO_FIRST +
			    1;
	struct test_dev *extra;

	for (unsigned int i = 1; i < pins; i++)
		assert_int_equal(
			virtio_mmio_attach(&f->vm, &test_dev_new()->dev), 0);
	assert_int_equal(f->vm.nr_virtio, pins);
	extra = test_dev_new();
	assert_int_equal(virtio_mmio_attach(&f->vm, &extra->dev), -ENOSPC);
	virtio_dev_destroy(&extra->dev);
}

static void test_fdt(void **state)
{
	struct fixture *f = *state;
	static uint8_t blob[BOOT_FDT_MAX_SIZE];
	const void *irq, *reg;
	const char *compat;
	int node, len, cpus = 0, mems = 0, virtio = 0;

	assert_int_equal(virtio_mmio_attach(&f->vm, &test_dev_new()->dev), 0);
	assert_int_equal(boot_fdt_build(&f->vm, blob, sizeof(blob)), 0);
	assert_int_equal(fdt_check_header(blob), 0);
	assert_true(fdt_totalsize(blob) <= sizeof(blob));

	fdt_for_each_subnode(node, blob, 0)
	{
		const char *name = fdt_get_name(blob, node, NULL);

		if (!strncmp(name, "memory@", 7))
			mems++;
		if (!strncmp(name, "virtio_mmio@", 12))
			virtio++;
	}
	assert_int_equal(mems, 1);
	assert_int_equal(virtio, 2);
	fdt_for_each_subnode(node, blob, fdt_path_offset(blob, "/cpus")) cpus++;
	assert_int_equal(cpus, 2);

	node = fdt_path_offset(blob, "/virtio_mmio@d0001000");
	assert_true(node >= 0);
	compat = fdt_getprop(blob, node, "compatible", &len);
	assert_string_equal(compat, "virtio,mmio");
	reg = fdt_getprop(blob, node, "reg", &len);
	assert_int_equal(len, 16);
	assert_int_equal(fdt64_ld(reg), BASE + 0x1000);
	assert_int_equal(fdt64_ld((const fdt64_t *)reg + 1), 0x1000);
	irq = fdt_getprop(blob, node, "interrupts", &len);
	assert_int_equal(len, 8);
	assert_int_equal(fdt32_ld(irq), LAYOUT_IRQ_VIRTIO_FIRST + 1);

	node = fdt_path_offset(blob, "/memory@0");
	reg = fdt_getprop(blob, node, "reg", &len);
	assert_int_equal(fdt64_ld((const fdt64_t *)reg + 1), 16u << 20);

	assert_int_equal(boot_fdt_build(&f->vm, blob, 64), -ENOSPC);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_identity_registers),
		T(test_shm_absent),
		T(test_device_features),
		T(test_features_ok_accepted),
		T(test_features_ok_rejected_unoffered),
		T(test_features_ok_rejected_without_version_1),
		T(test_queue_num_max),
		T(test_queue_setup_valid),
		T(test_queue_setup_invalid),
		T(test_reset_clears_state),
		T(test_status_bits_cannot_be_cleared),
		T(test_config_space),
		T(test_config_generation),
		T(test_register_width_rules),
		T(test_notify_and_interrupt),
		T(test_needs_reset_and_recovery),
		T(test_device_fail_before_driver_ok),
		T(test_cmdline),
		T(test_out_of_slots),
		T(test_fdt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
