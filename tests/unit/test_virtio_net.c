/*
 * virtio-net through the virtio-mmio transport with the event loop running
 * on its own thread, and a datagram socketpair standing in for the tap
 * (each datagram is one vnet-header-prefixed frame, as on a tap). Driven
 * like Linux's virtio-net driver, and like a hostile one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "devices/net_hdr.h"
#include "devices/net_offload.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_net.h"
#include "vmm/vm.h"
#include "vq_driver.h"

#define BASE    LAYOUT_VIRTIO_MMIO_BASE
#define RXQ_GPA 0x10000ull
#define TXQ_GPA 0x20000ull
#define BUF_GPA 0x100000ull
#define QSIZE   16
#define F(bit)  NET_FEATURE(VIRTIO_NET_F_##bit)

struct fixture {
	struct vm vm;
	struct virtio_mmio *m;
	struct virtio_dev *dev;
	struct vq_driver rx, tx;
	int peer; /* the far end of the "tap" */
	pthread_t loop_thread;
	uint64_t features;
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

static void setup_queue(struct fixture *f, unsigned int i, struct vq_driver *d,
			gpa_t gpa)
{
	vqd_init(d, &f->vm.mem, QSIZE, gpa);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, i);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)d->desc);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)d->avail);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)d->used);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
}

/* The driver's side of initialisation (virtio 1.2, 3.1.1 and 5.1.5). */
static void driver_init(struct fixture *f, uint64_t features)
{
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	f->features = features | (1ull << VIRTIO_F_VERSION_1);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, s);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f->features);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f->features >> 32));
	s |= VIRTIO_STATUS_FEATURES_OK;
	wr(f, VIRTIO_MMIO_STATUS, s);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), s);
	setup_queue(f, 0, &f->rx, RXQ_GPA);
	setup_queue(f, 1, &f->tx, TXQ_GPA);
	wr(f, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS),
			 s | VIRTIO_STATUS_DRIVER_OK);
}

static void on_wake(void *ctx)
{
	evloop_stop(ctx);
}

static void *loop_main(void *arg)
{
	struct fixture *f = arg;

	evloop_run(&f->vm.loop);
	return NULL;
}

static int setup(void **state)
{
	static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x42};
	struct fixture *f = calloc(1, sizeof(*f));
	struct net_tap tap = {.is_tap = false,
			      .name = "socketpair",
			      .offloads = NET_TUN_OFFLOADS_ALL};
	int sv[2];

	assert_non_null(f);
	f->vm.vm_fd = -1;
	assert_int_equal(gmem_init(&f->vm.mem, 16u << 20, false), 0);
	bus_init(&f->vm.mmio, "mmio");
	assert_int_equal(evloop_init(&f->vm.loop, 64), 0);
	evloop_set_wake_handler(&f->vm.loop, on_wake, &f->vm.loop);
	assert_int_equal(socketpair(AF_UNIX,
				    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				    0, sv),
			 0);
	tap.fd = sv[0];
	tap.owned = true;
	f->peer = sv[1];
	f->dev = virtio_net_create(&f->vm.loop, &tap, mac, 0);
	assert_non_null(f->dev);
	assert_int_equal(virtio_mmio_attach(&f->vm, f->dev), 0);
	f->m = f->vm.virtio[0];
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	assert_int_equal(pthread_create(&f->loop_thread, NULL, loop_main, f),
			 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	evloop_wake(&f->vm.loop);
	pthread_join(f->loop_thread, NULL);
	evloop_destroy(&f->vm.loop);
	virtio_mmio_destroy(f->m);
	close(f->peer);
	gmem_destroy(&f->vm.mem);
	free(f);
	return 0;
}

/* Waits up to two seconds for a used entry. */
static bool wait_used(struct vq_driver *d, uint32_t *id, uint32_t *len)
{
	for (int i = 0; i < 2000; i++) {
		if (vqd_get_used(d, id, len))
			return true;
		usleep(1000);
	}
	return false;
}

static struct virtio_net_counters counters(struct fixture *f)
{
	struct virtio_net_counters c;

	virtio_net_get_counters(f->dev, &c);
	return c;
}

/* Sends frame_len bytes of frame (with a zero header) on the tx queue. */
static uint16_t send_frame(struct fixture *f, gpa_t gpa, uint32_t frame_len,
			   const struct virtio_net_hdr *hdr)
{
	struct virtio_net_hdr zero = {0};
	struct vqd_buf b[2] = {
		{gpa, NET_HDR_LEN, false},
		{gpa + 0x1000, frame_len, false},
	};
	uint16_t head;

	gmem_write(&f->vm.mem, gpa, hdr ? hdr : &zero, NET_HDR_LEN);
	for (uint32_t i = 0; i < frame_len; i++)
		((uint8_t *)gmem_ptr(&f->vm.mem, gpa + 0x1000,
				     frame_len))[i] = (uint8_t)i;
	head = vqd_add(&f->tx, b, 2);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	return head;
}

/* Receives one datagram from the device, waiting up to two seconds. */
static ssize_t peer_recv(struct fixture *f, void *buf, size_t len)
{
	struct pollfd p = {.fd = f->peer, .events = POLLIN};

	if (poll(&p, 1, 2000) != 1)
		return -1;
	return recv(f->peer, buf, len, 0);
}

static void test_config_space(void **state)
{
	struct fixture *f = *state;
	uint8_t cfg[12];

	for (unsigned int i = 0; i < sizeof(cfg); i++)
		assert_true(bus_access(&f->vm.mmio,
				       BASE + VIRTIO_MMIO_CONFIG + i, &cfg[i],
				       1, false));
	assert_int_equal(cfg[0], 0x02);
	assert_int_equal(cfg[5], 0x42);
	assert_int_equal(cfg[6], VIRTIO_NET_S_LINK_UP);
	assert_int_equal(cfg[8], 1);
	assert_int_equal(cfg[10] | cfg[11] << 8, NET_MTU_DEFAULT);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_true(rd(f, VIRTIO_MMIO_DEVICE_FEATURES) & F(MRG_RXBUF));
	assert_true(rd(f, VIRTIO_MMIO_DEVICE_FEATURES) & F(HOST_TSO4));
}

static void test_transmit(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[2048];
	uint32_t id, len;
	uint16_t head;

	driver_init(f, F(CSUM) | F(MRG_RXBUF));
	head = send_frame(f, BUF_GPA, 60, NULL);
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 60);
	assert_int_equal(buf[NET_HDR_LEN + 59], 59);
	assert_true(wait_used(&f->tx, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(counters(f).tx_packets, 1);
	assert_int_equal(counters(f).tx_bytes, 60);
}

/* Too big for the MTU without TSO: dropped whole, counted. */
static void test_transmit_oversized_dropped(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[2048];
	uint32_t id, len;

	driver_init(f, F(CSUM) | F(MTU));
	send_frame(f, BUF_GPA, NET_MTU_DEFAULT + NET_ETH_OVERHEAD + 1, NULL);
	assert_true(wait_used(&f->tx, &id, &len));
	send_frame(f, BUF_GPA + 0x10000, 100, NULL);
	assert_true(wait_used(&f->tx, &id, &len));
	assert_int_equal(peer_recv(f, buf, sizeof(buf)), NET_HDR_LEN + 100);
	assert_int_equal(counters(f).tx_dropped, 1);
	assert_int_equal(counters(f).tx_packets, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET,
			 0);
}

/* An offload the driver did not negotiate: dropped, not sent. */
static void test_transmit_unnegotiated_gso_dropped(void **state)
{
	struct fixture *f = *state;
	struct virtio_net_hdr h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.gso_size = htole16(1448),
		.csum_start = htole16(34),
		.csum_offset = htole16(16),
	};
	uint32_t id, len;

	driver_init(f, F(CSUM));
	send_frame(f, BUF_GPA, 1000, &h);
	assert_true(wait_used(&f->tx, &id, &len));
	assert_int_equal(counters(f).tx_dropped, 1);
	assert_int_equal(counters(f).tx_packets, 0);
}

/* virtio 1.2, 5.1.6.2: a device-writable transmit buffer is a bug. */
static void test_transmit_writable_fails_device(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b[2] = {
		{BUF_GPA, NET_HDR_LEN, false},
		{BUF_GPA + 0x1000, 100, true},
	};

	driver_init(f, 0);
	vqd_add(&f->tx, b, 2);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	for (int i = 0; i < 2000 && !(rd(f, VIRTIO_MMIO_STATUS) &
				      VIRTIO_STATUS_NEEDS_RESET);
	     i++)
		usleep(1000);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

/* A looping chain on the transmit queue fails the device, no more. */
static void test_transmit_loop_fails_device(void **state)
{
	struct fixture *f = *state;

	driver_init(f, 0);
	vqd_desc(&f->tx, 0, BUF_GPA, 64, VIRTQ_DESC_F_NEXT, 1);
	vqd_desc(&f->tx, 1, BUF_GPA, 64, VIRTQ_DESC_F_NEXT, 0);
	vqd_publish(&f->tx, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	for (int i = 0; i < 2000 && !(rd(f, VIRTIO_MMIO_STATUS) &
				      VIRTIO_STATUS_NEEDS_RESET);
	     i++)
		usleep(1000);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);

	/* A reset brings it back. */
	driver_init(f, 0);
	send_frame(f, BUF_GPA, 60, NULL);
	{
		uint32_t id, len;

		assert_true(wait_used(&f->tx, &id, &len));
	}
}

static void post_rx(struct fixture *f, gpa_t gpa, uint32_t len)
{
	struct vqd_buf b = {gpa, len, true};

	vqd_add(&f->rx, &b, 1);
}

/* The host sends a datagram: vnet header then frame. */
static void peer_send(struct fixture *f, size_t frame_len, uint8_t seed)
{
	uint8_t buf[4096] = {0};

	assert_true(frame_len + NET_HDR_LEN <= sizeof(buf));
	buf[0] = VIRTIO_NET_HDR_F_DATA_VALID;
	for (size_t i = 0; i < frame_len; i++)
		buf[NET_HDR_LEN + i] = (uint8_t)(seed + i);
	assert_int_equal(send(f->peer, buf, NET_HDR_LEN + frame_len, 0),
			 (ssize_t)(NET_HDR_LEN + frame_len));
}

static struct virtio_net_hdr rx_hdr(struct fixture *f, gpa_t gpa)
{
	struct virtio_net_hdr h;

	gmem_read(&f->vm.mem, &h, gpa, sizeof(h));
	return h;
}

static void test_receive_mergeable(void **state)
{
	struct fixture *f = *state;
	uint32_t id, len;
	uint8_t *p;

	driver_init(f, F(GUEST_CSUM) | F(MRG_RXBUF));
	for (unsigned int i = 0; i < 3; i++)
		post_rx(f, BUF_GPA + 0x1000ull * i, 1000);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);

	peer_send(f, 100, 7);
	assert_true(wait_used(&f->rx, &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, NET_HDR_LEN + 100);
	assert_int_equal(le16toh(rx_hdr(f, BUF_GPA).num_buffers), 1);
	assert_int_equal(rx_hdr(f, BUF_GPA).flags, VIRTIO_NET_HDR_F_DATA_VALID);
	p = gmem_ptr(&f->vm.mem, BUF_GPA + NET_HDR_LEN, 100);
	assert_int_equal(p[0], 7);
	assert_int_equal(p[99], (uint8_t)(7 + 99));

	/* Two buffers for one frame: num_buffers 2, filled in order. */
	peer_send(f, 1400, 1);
	assert_true(wait_used(&f->rx, &id, &len));
	assert_int_equal(id, 1);
	assert_int_equal(len, 1000);
	assert_true(wait_used(&f->rx, &id, &len));
	assert_int_equal(id, 2);
	assert_int_equal(len, NET_HDR_LEN + 1400 - 1000);
	assert_int_equal(le16toh(rx_hdr(f, BUF_GPA + 0x1000).num_buffers), 2);
	p = gmem_ptr(&f->vm.mem, BUF_GPA + 0x2000, 4);
	assert_int_equal(p[0], (uint8_t)(1 + 1000 - NET_HDR_LEN));
	assert_int_equal(counters(f).rx_packets, 2);
	assert_int_equal(counters(f).rx_bytes, 1500);
}

/*
 * With GUEST_TSO the largest frame is 64 KiB: buffers that cannot hold it
 * are filled through the bounce buffer, still merged in order.
 */
static void test_receive_mergeable_bounced(void **state)
{
	struct fixture *f = *state;
	uint32_t id, len;

	driver_init(f, F(GUEST_CSUM) | F(GUEST_TSO4) | F(MRG_RXBUF));
	for (unsigned int i = 0; i < 3; i++)
		post_rx(f, BUF_GPA + 0x1000ull * i, 1536);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	peer_send(f, 3500, 5);
	for (unsigned int i = 0; i < 2; i++) {
		assert_true(wait_used(&f->rx, &id, &len));
		assert_int_equal(id, i);
		assert_int_equal(len, 1536);
	}
	assert_true(wait_used(&f->rx, &id, &len));
	assert_int_equal(len, NET_HDR_LEN + 3500 - 2 * 1536);
	assert_int_equal(le16toh(rx_hdr(f, BUF_GPA).num_buffers), 3);
	assert_int_equal(*(uint8_t *)gmem_ptr(&f->vm.mem, BUF_GPA + 0x1000, 1),
			 (uint8_t)(5 + 1536 - NET_HDR_LEN));
}

/* No buffers: nothing read, nothing lost; the next kick resumes. */
static void test_receive_backpressure(void **state)
{
	struct fixture *f = *state;
	uint32_t id, len;

	driver_init(f, F(MRG_RXBUF));
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (uint8_t i = 0; i < 5; i++)
		peer_send(f, 64, i);
	usleep(50000);
	assert_false(vqd_get_used(&f->rx, &id, &len));

	for (unsigned int i = 0; i < 5; i++)
		post_rx(f, BUF_GPA + 0x1000ull * i, 1536);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (unsigned int i = 0; i < 5; i++) {
		assert_true(wait_used(&f->rx, &id, &len));
		assert_int_equal(id, i);
		/* In order: the first frame byte is the seed. */
		assert_int_equal(*(uint8_t *)gmem_ptr(&f->vm.mem,
						      BUF_GPA + 0x1000ull * i +
							      NET_HDR_LEN,
						      1),
				 i);
	}
	assert_int_equal(counters(f).rx_packets, 5);
	assert_int_equal(counters(f).rx_dropped, 0);
}

/*
 * Buffers that each hold the largest frame are read in batches, one read
 * per buffer: frames arrive in order, whole, one buffer each; buffers
 * whose read found nothing are kept for the next frames.
 */
static void test_receive_batched(void **state)
{
	struct fixture *f = *state;
	uint32_t id, len;

	driver_init(f, F(GUEST_CSUM));
	for (unsigned int i = 0; i < 4; i++)
		post_rx(f, BUF_GPA + 0x1000ull * i, 0x1000);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (uint8_t i = 0; i < 3; i++)
		peer_send(f, 60 + i, (uint8_t)(10 * i));
	for (unsigned int i = 0; i < 3; i++) {
		assert_true(wait_used(&f->rx, &id, &len));
		assert_int_equal(id, i);
		assert_int_equal(len, NET_HDR_LEN + 60 + i);
		assert_int_equal(
			le16toh(rx_hdr(f, BUF_GPA + 0x1000ull * i).num_buffers),
			1);
		assert_int_equal(*(uint8_t *)gmem_ptr(&f->vm.mem,
						      BUF_GPA + 0x1000ull * i +
							      NET_HDR_LEN,
						      1),
				 10 * i);
	}

	/* The fourth buffer was held; the fifth frame waits for a buffer. */
	peer_send(f, 1514, 40);
	peer_send(f, 100, 50);
	assert_true(wait_used(&f->rx, &id, &len));
	assert_int_equal(id, 3);
	assert_int_equal(len, NET_HDR_LEN + 1514);
	usleep(50000);
	assert_false(vqd_get_used(&f->rx, &id, &len));
	post_rx(f, BUF_GPA + 0x4000, 0x1000);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(wait_used(&f->rx, &id, &len));
	assert_int_equal(len, NET_HDR_LEN + 100);
	assert_int_equal(*(uint8_t *)gmem_ptr(
				 &f->vm.mem, BUF_GPA + 0x4000 + NET_HDR_LEN, 1),
			 50);
	assert_int_equal(counters(f).rx_packets, 5);
	assert_int_equal(counters(f).rx_dropped, 0);
}

/*
 * Without MRG_RXBUF a buffer smaller than the largest frame goes through
 * the bounce buffer: a frame that fits arrives, one that does not is
 * dropped and counted, never truncated.
 */
static void test_receive_small_buffer(void **state)
{
	struct fixture *f = *state;
	uint32_t id, len;

	driver_init(f, 0);
	post_rx(f, BUF_GPA, 200);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	peer_send(f, 500, 0);
	peer_send(f, 100, 9);
	assert_true(wait_used(&f->rx, &id, &len));
	assert_int_equal(len, NET_HDR_LEN + 100);
	assert_int_equal(
		*(uint8_t *)gmem_ptr(&f->vm.mem, BUF_GPA + NET_HDR_LEN, 1), 9);
	assert_int_equal(le16toh(rx_hdr(f, BUF_GPA).num_buffers), 1);
	/* No GUEST_CSUM: DATA_VALID cleared. */
	assert_int_equal(rx_hdr(f, BUF_GPA).flags, 0);
	assert_int_equal(counters(f).rx_dropped, 1);
	assert_int_equal(counters(f).rx_packets, 1);
}

/* virtio 1.2, 5.1.6.3.1: a readable receive buffer fails the device. */
static void test_receive_readable_fails_device(void **state)
{
	struct fixture *f = *state;
	struct vqd_buf b = {BUF_GPA, 1536, false};

	driver_init(f, F(MRG_RXBUF));
	vqd_add(&f->rx, &b, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (int i = 0; i < 2000 && !(rd(f, VIRTIO_MMIO_STATUS) &
				      VIRTIO_STATUS_NEEDS_RESET);
	     i++)
		usleep(1000);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_space, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_transmit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transmit_oversized_dropped,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_transmit_unnegotiated_gso_dropped, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_transmit_writable_fails_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transmit_loop_fails_device,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_mergeable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_receive_mergeable_bounced,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_backpressure,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_batched, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_receive_small_buffer,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_receive_readable_fails_device, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
