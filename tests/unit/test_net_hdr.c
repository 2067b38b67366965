/*
 * virtio-net header checks, offload negotiation, mergeable-buffer
 * splitting and --net SPEC parsing: the pure parts of virtio-net.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <string.h>

#include "devices/net_hdr.h"
#include "devices/net_offload.h"
#include "devices/net_spec.h"

#define F(bit) NET_FEATURE(VIRTIO_NET_F_##bit)

static struct virtio_net_hdr hdr(uint8_t flags, uint8_t gso, uint16_t gso_size,
				 uint16_t cstart, uint16_t coff)
{
	return (struct virtio_net_hdr){
		.flags = flags,
		.gso_type = gso,
		.gso_size = htole16(gso_size),
		.csum_start = htole16(cstart),
		.csum_offset = htole16(coff),
	};
}

static void test_tx_plain_frames(void **state)
{
	struct virtio_net_hdr h = hdr(0, 0, 0, 0, 0);

	(void)state;
	assert_int_equal(net_tx_max_frame(0, 1500), 1518);
	assert_int_equal(net_hdr_tx_check(&h, 0, 60, 1518), 0);
	assert_int_equal(net_hdr_tx_check(&h, 0, 1518, 1518), 0);
	assert_int_equal(net_hdr_tx_check(&h, 0, 1519, 1518),
			 -NET_TX_ERR_TOO_BIG);
}

/* virtio 1.2, 5.1.6.2.1: offloads only as negotiated. */
static void test_tx_offloads_need_features(void **state)
{
	struct virtio_net_hdr csum = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 34,
					 16);
	struct virtio_net_hdr tso4 = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM,
					 VIRTIO_NET_HDR_GSO_TCPV4, 1448, 34,
					 16);
	struct virtio_net_hdr tso6 = tso4;
	struct virtio_net_hdr ufo = tso4;
	uint64_t all = F(CSUM) | F(HOST_TSO4) | F(HOST_TSO6) | F(HOST_UFO);
	uint32_t max = net_tx_max_frame(all, 1500);

	(void)state;
	tso6.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	ufo.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	assert_int_equal(max, NET_GSO_MAX_FRAME);
	assert_int_equal(net_hdr_tx_check(&csum, 0, 100, 1518),
			 -NET_TX_ERR_CSUM);
	assert_int_equal(net_hdr_tx_check(&csum, F(CSUM), 100, 1518), 0);
	assert_int_equal(net_hdr_tx_check(&tso4, F(CSUM), 100, 1518),
			 -NET_TX_ERR_GSO_TYPE);
	assert_int_equal(net_hdr_tx_check(&tso4, all, 60000, max), 0);
	assert_int_equal(
		net_hdr_tx_check(&tso6, all & ~F(HOST_TSO6), 60000, max),
		-NET_TX_ERR_GSO_TYPE);
	assert_int_equal(net_hdr_tx_check(&tso6, all, 60000, max), 0);
	assert_int_equal(net_hdr_tx_check(&ufo, all, 60000, max), 0);
	assert_int_equal(
		net_hdr_tx_check(&tso4, all, NET_GSO_MAX_FRAME + 1, max),
		-NET_TX_ERR_TOO_BIG);
}

static void test_tx_bad_headers(void **state)
{
	uint64_t all = F(CSUM) | F(HOST_TSO4) | F(HOST_TSO6) | F(HOST_UFO);
	struct virtio_net_hdr h;

	(void)state;
	/* The checksum field must lie in the frame. */
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 90, 8);
	assert_int_equal(net_hdr_tx_check(&h, all, 100, 1518), 0);
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 90, 9);
	assert_int_equal(net_hdr_tx_check(&h, all, 100, 1518),
			 -NET_TX_ERR_CSUM);
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0xffff, 0xffff);
	assert_int_equal(net_hdr_tx_check(&h, all, 100, 1518),
			 -NET_TX_ERR_CSUM);

	/* Unknown types, ECN without HOST_ECN, no segment size. */
	h = hdr(0, 2, 1448, 0, 0);
	assert_int_equal(net_hdr_tx_check(&h, all, 100, 65554),
			 -NET_TX_ERR_GSO_TYPE);
	h = hdr(0, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 1448, 0,
		0);
	assert_int_equal(net_hdr_tx_check(&h, all, 100, 65554),
			 -NET_TX_ERR_GSO_TYPE);
	h = hdr(0, VIRTIO_NET_HDR_GSO_TCPV4, 0, 0, 0);
	assert_int_equal(net_hdr_tx_check(&h, all, 100, 65554),
			 -NET_TX_ERR_GSO_SIZE);
	assert_string_equal(net_tx_strerror(-NET_TX_ERR_TOO_BIG),
			    "larger than the negotiated limit");
	assert_string_equal(net_tx_strerror(-999), "unknown error");
}

static void test_rx_max_frame_and_finish(void **state)
{
	struct virtio_net_hdr h = hdr(VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0);

	(void)state;
	assert_int_equal(net_rx_max_frame(F(GUEST_CSUM), 9000), 9018);
	assert_int_equal(net_rx_max_frame(F(GUEST_CSUM) | F(GUEST_TSO6), 1500),
			 NET_GSO_MAX_FRAME);

	/* virtio 1.2, 5.1.6.4: num_buffers is 1 without MRG_RXBUF. */
	net_hdr_rx_finish(&h, F(GUEST_CSUM), 3);
	assert_int_equal(le16toh(h.num_buffers), 1);
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	net_hdr_rx_finish(&h, F(MRG_RXBUF), 3);
	assert_int_equal(le16toh(h.num_buffers), 3);
	assert_int_equal(h.flags, 0);
}

static void test_offload_mapping(void **state)
{
	uint64_t f;

	(void)state;
	assert_int_equal(net_offload_features(0), 0);
	assert_int_equal(net_offload_features(TUN_F_TSO4), 0);
	f = net_offload_features(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	assert_true(f & F(HOST_TSO6));
	assert_true(f & F(GUEST_TSO4));
	assert_false(f & (F(HOST_UFO) | F(GUEST_UFO)));
	f = net_offload_features(NET_TUN_OFFLOADS_ALL);
	assert_true(f & F(HOST_UFO));
	assert_true(f & F(GUEST_UFO));

	/* Only what the guest takes; nothing without GUEST_CSUM. */
	assert_int_equal(net_offload_tun_flags(F(CSUM) | F(HOST_TSO4)), 0);
	assert_int_equal(net_offload_tun_flags(F(GUEST_TSO4)), 0);
	assert_int_equal(net_offload_tun_flags(F(GUEST_CSUM)), TUN_F_CSUM);
	assert_int_equal(net_offload_tun_flags(F(GUEST_CSUM) | F(GUEST_TSO4) |
					       F(GUEST_TSO6) | F(GUEST_UFO)),
			 TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_UFO);
}

static void test_iov_helpers(void **state)
{
	uint8_t a[3], b[5], out[8];
	const uint8_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};

	(void)state;
	assert_int_equal(net_iov_bytes(iov, 2), 8);
	assert_int_equal(net_iov_from_buf(iov, 2, 0, in, 8), 8);
	assert_int_equal(b[0], 4);
	assert_int_equal(net_iov_to_buf(iov, 2, 2, out, 8), 6);
	assert_memory_equal(out, in + 2, 6);
	assert_int_equal(net_iov_from_buf(iov, 2, 7, in, 4), 1);
	assert_int_equal(b[4], 1);
	assert_int_equal(net_iov_to_buf(iov, 2, 9, out, 1), 0);
}

/* virtio 1.2, 5.1.6.4.2: filled in order, the last one partly. */
static void test_rx_split(void **state)
{
	const uint32_t cap[3] = {1536, 1536, 4096};
	uint32_t used[3];

	(void)state;
	assert_int_equal(net_rx_split(cap, 3, 100, used), 1);
	assert_int_equal(used[0], 100);
	assert_int_equal(net_rx_split(cap, 3, 1536, used), 1);
	assert_int_equal(net_rx_split(cap, 3, 1537, used), 2);
	assert_int_equal(used[1], 1);
	assert_int_equal(net_rx_split(cap, 3, 7168, used), 3);
	assert_int_equal(used[2], 4096);
	assert_int_equal(net_rx_split(cap, 3, 7169, used), 0);
	assert_int_equal(net_rx_split(cap, 0, 1, used), 0);
}

static void test_spec_parse(void **state)
{
	struct net_spec s;

	(void)state;
	assert_int_equal(net_spec_parse("tap=tap0", &s), 0);
	assert_string_equal(s.tap, "tap0");
	assert_int_equal(s.fd, -1);
	assert_false(s.has_mac);
	assert_int_equal(s.mtu, 0);

	assert_int_equal(
		net_spec_parse("fd=3,mac=02:AB:cd:00:11:22,mtu=9000", &s), 0);
	assert_int_equal(s.fd, 3);
	assert_true(s.has_mac);
	assert_int_equal(s.mac[1], 0xab);
	assert_int_equal(s.mac[5], 0x22);
	assert_int_equal(s.mtu, 9000);

	assert_int_equal(net_spec_parse("", &s), -EINVAL);
	assert_int_equal(net_spec_parse("tap=a,fd=3", &s), -EINVAL);
	assert_int_equal(net_spec_parse("tap=", &s), -EINVAL);
	assert_int_equal(net_spec_parse("tap=a234567890123456", &s), -EINVAL);
	assert_int_equal(net_spec_parse("tap=a,mtu=67", &s), -EINVAL);
	assert_int_equal(net_spec_parse("tap=a,mtu=65536", &s), -EINVAL);
	assert_int_equal(net_spec_parse("tap=a,mtu=1500x", &s), -EINVAL);
	assert_int_equal(net_spec_parse("fd=-1", &s), -EINVAL);
	assert_int_equal(net_spec_parse("tap=a,mac=01:00:00:00:00:01", &s),
			 -EINVAL);
	assert_int_equal(net_spec_parse("tap=a,mac=02:00:00:00:00", &s),
			 -EINVAL);
	assert_int_equal(net_spec_parse("tap=a,mac=02:00:00:00:00:001", &s),
			 -EINVAL);
	assert_int_equal(net_spec_parse("tap=a,vhost=on", &s), -EINVAL);
	assert_int_equal(net_spec_parse("tap", &s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_plain_frames),
		cmocka_unit_test(test_tx_offloads_need_features),
		cmocka_unit_test(test_tx_bad_headers),
		cmocka_unit_test(test_rx_max_frame_and_finish),
		cmocka_unit_test(test_offload_mapping),
		cmocka_unit_test(test_iov_helpers),
		cmocka_unit_test(test_rx_split),
		cmocka_unit_test(test_spec_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
