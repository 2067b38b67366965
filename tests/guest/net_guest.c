/*
 * Drives minnow's virtio-net from inside the guest, against a host peer
 * on the tap (tests/guest/net_run.py) at 10.0.0.1 that answers ARP and
 * echoes UDP on port 7777 ("burst N" asks it for N numbered datagrams).
 *
 * Command line words pick the run:
 *   net-echo     ARP, UDP echo, a receive burst bigger than the ring;
 *                with net-csum, checksum offload both ways
 *   net-hostile  oversized and short frames (dropped, device lives on),
 *                a writable transmit buffer and a readable receive
 *                buffer (NEEDS_RESET, then a reset brings it back)
 */
#include "lib/guest.h"
#include "lib/virtio.h"
#include "lib/x86.h"

#define QSIZE     64
#define BUF_BYTES 2048u
#define HDR_LEN   12u
#define WAIT_US   3000000

/* virtio 1.2, 5.1.3 feature bits and 5.1.6 header flags. */
#define F_CSUM           (1ull << 0)
#define F_GUEST_CSUM     (1ull << 1)
#define F_MTU            (1ull << 3)
#define F_MAC            (1ull << 5)
#define F_MRG_RXBUF      (1ull << 15)
#define F_STATUS         (1ull << 16)
#define HDR_F_NEEDS_CSUM 1
#define HDR_F_DATA_VALID 2

#define ETH_ARP 0x0806
#define ETH_IP  0x0800
#define PORT    7777

struct net_hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
} __attribute__((packed));

static const uint8_t guest_ip[4] = {10, 0, 0, 2};
static const uint8_t host_ip[4] = {10, 0, 0, 1};
static uint8_t guest_mac[6], host_mac[6];

static struct virtio_dev dev;
static struct virtq *rxq, *txq;
static uint8_t *rx_bufs[QSIZE]; /* by descriptor head */
static uint8_t *tx_buf;
static uint8_t *rx_pool;
static unsigned int rx_partial, rx_valid, rx_full;

/* Microseconds from the TSC: loops here are slow when emulated. */
static uint64_t now_us(void)
{
	return rdtsc() / (tsc_khz() / 1000);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* One's complement sum of len bytes, added to sum (RFC 1071). */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += be16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The UDP pseudo-header sum for ip (an IPv4 header) and udp_len. */
static uint32_t pseudo_sum(const uint8_t *ip, uint16_t udp_len)
{
	uint32_t sum = csum_add(0, ip + 12, 8);

	return sum + 17 + udp_len;
}

__attribute__((noreturn)) static void fail(const char *what)
{
	printf("net: FAIL: %s\n", what);
	guest_exit(1);
}

static void post_rx(uint8_t *buf)
{
	struct virtq_buf b = {buf, BUF_BYTES, true};
	uint16_t head;

	if (virtq_add(rxq, &b, 1, &head) < 0)
		fail("receive queue full");
	rx_bufs[head] = buf;
}

static void setup(bool csum, bool fill)
{
	struct virtio_window w;
	uint64_t want = F_MAC | F_STATUS | F_MTU | F_MRG_RXBUF;

	if (virtio_find(VIRTIO_ID_NET, 0, &w) < 0)
		fail("no virtio-net device");
	if (csum)
		want |= F_CSUM | F_GUEST_CSUM;
	if (virtio_init(&dev, &w, want) < 0)
		fail("virtio_init");
	if (!(dev.features & F_MAC) || (csum && !(dev.features & F_CSUM)))
		fail("device lacks MAC or CSUM");
	virtio_config_read(&dev, 0, guest_mac, 6);
	if (!(virtio_config_read16(&dev, 6) & 1))
		fail("link down");
	if (virtio_config_read16(&dev, 10) != 1500)
		fail("config mtu is not 1500");
	rxq = virtq_init(&dev, 0, QSIZE);
	txq = virtq_init(&dev, 1, QSIZE);
	if (!rxq || !txq)
		fail("virtq_init");
	virtio_driver_ok(&dev);
	if (!rx_pool)
		rx_pool = virtio_zalloc(QSIZE * BUF_BYTES, 4096);
	if (!tx_buf)
		tx_buf = virtio_zalloc(BUF_BYTES * 2, 4096);
	for (unsigned int i = 0; fill && i < QSIZE; i++)
		post_rx(rx_pool + i * BUF_BYTES);
	virtq_kick(rxq);
}

/* Sends hdr + frame of len bytes (at tx_buf + HDR_LEN) and reclaims it. */
static void send_frame(const struct net_hdr *hdr, uint32_t len)
{
	struct virtq_buf b[2] = {
		{tx_buf, HDR_LEN, false},
		{tx_buf + HDR_LEN, len, false},
	};
	uint32_t used;

	memcpy(tx_buf, hdr, HDR_LEN);
	if (virtq_roundtrip(txq, b, 2, &used, WAIT_US) < 0)
		fail("transmit did not complete");
}

static uint8_t *eth_start(const uint8_t *dst, uint16_t type)
{
	uint8_t *f = tx_buf + HDR_LEN;

	memcpy(f, dst, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, type);
	return f + 14;
}

/*
 * Takes the next received frame within timeout_us; returns its length
 * (without the header) and copies it to out, or 0 on timeout. The buffer
 * goes straight back to the device.
 */
static uint32_t recv_frame(uint8_t *out, struct net_hdr *hdr,
			   uint64_t timeout_us)
{
	uint64_t end = now_us() + timeout_us;

	while (now_us() < end) {
		uint16_t id;
		uint32_t len;
		int r = virtq_get_used(rxq, &id, &len);
		uint8_t *buf;

		if (r < 0)
			fail("bad used entry on the receive queue");
		if (r == 0) {
			if (virtio_needs_reset(&dev))
				fail("device needs reset");
			delay_us(20);
			continue;
		}
		buf = rx_bufs[id];
		if (len < HDR_LEN || len > BUF_BYTES)
			fail("bad receive length");
		memcpy(hdr, buf, HDR_LEN);
		if (hdr->num_buffers != 1)
			fail("num_buffers is not 1");
		memcpy(out, buf + HDR_LEN, len - HDR_LEN);
		post_rx(buf);
		virtq_kick(rxq);
		return len - HDR_LEN;
	}
	return 0;
}

static void arp_resolve(void)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static uint8_t f[BUF_BYTES];
	struct net_hdr hdr = {0};
	uint8_t *a = eth_start(bcast, ETH_ARP);
	uint32_t len;

	/* RFC 826: Ethernet, IPv4, request. */
	put16(a, 1);
	put16(a + 2, ETH_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, guest_mac, 6);
	memcpy(a + 14, guest_ip, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, host_ip, 4);
	send_frame(&hdr, 14 + 28);

	while ((len = recv_frame(f, &hdr, WAIT_US))) {
		if (len >= 42 && be16(f + 12) == ETH_ARP && be16(f + 20) == 2 &&
		    !memcmp(f + 28, host_ip, 4)) {
			memcpy(host_mac, f + 22, 6);
			printf("net: arp: 10.0.0.1 is at %x:%x:%x:%x:%x:%x\n",
			       host_mac[0], host_mac[1], host_mac[2],
			       host_mac[3], host_mac[4], host_mac[5]);
			return;
		}
	}
	fail("no ARP reply");
}

/*
 * Sends payload to 10.0.0.1:7777 in a frame padded to frame_len (0: no
 * padding). With offload, the checksum is left to the device.
 */
static void udp_send(const char *payload, uint32_t plen, bool offload,
		     uint32_t frame_len)
{
	struct net_hdr hdr = {0};
	uint8_t *ip = eth_start(host_mac, ETH_IP), *udp = ip + 20;
	uint16_t udp_len, tot;

	if (frame_len > 42 + plen)
		plen = frame_len - 42;
	udp_len = (uint16_t)(8 + plen);
	tot = (uint16_t)(20 + udp_len);
	memset(ip, 0, 28);
	ip[0] = 0x45;
	put16(ip + 2, tot);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, guest_ip, 4);
	memcpy(ip + 16, host_ip, 4);
	put16(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, 20)));
	put16(udp, 40000);
	put16(udp + 2, PORT);
	put16(udp + 4, udp_len);
	memset(udp + 8, 'x', plen);
	memcpy(udp + 8, payload, strlen(payload));

	if (offload) {
		/* virtio 1.2, 5.1.6.2: the device sums from csum_start. */
		hdr.flags = HDR_F_NEEDS_CSUM;
		hdr.csum_start = 14 + 20;
		hdr.csum_offset = 6;
		put16(udp + 6, csum_fold(pseudo_sum(ip, udp_len)));
	} else {
		uint32_t s = csum_add(pseudo_sum(ip, udp_len), udp, udp_len);

		put16(udp + 6, (uint16_t)~csum_fold(s));
	}
	send_frame(&hdr, 14u + tot);
}

/* Checks a received UDP frame's checksum the way the header says. */
static bool udp_csum_ok(uint8_t *f, const struct net_hdr *hdr)
{
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint16_t udp_len = be16(udp + 4);

	if (hdr->flags & HDR_F_NEEDS_CSUM) {
		/* virtio 1.2, 5.1.6.4.1: finish the partial checksum. */
		uint32_t s = csum_add(0, f + hdr->csum_start,
				      14u + 20 + udp_len - hdr->csum_start);

		put16(f + hdr->csum_start + hdr->csum_offset,
		      (uint16_t)~csum_fold(s));
		rx_partial++;
	} else if (hdr->flags & HDR_F_DATA_VALID) {
		rx_valid++;
		return true;
	} else {
		rx_full++;
	}
	return csum_fold(csum_add(pseudo_sum(ip, udp_len), udp, udp_len)) ==
	       0xffff;
}

/* Waits for a UDP datagram from port 7777; returns its payload length. */
static int udp_recv(uint8_t *f, uint8_t **payload, uint64_t timeout_us)
{
	struct net_hdr hdr;
	uint32_t len;

	while ((len = recv_frame(f, &hdr, timeout_us))) {
		if (len < 42 || be16(f + 12) != ETH_IP || f[23] != 17 ||
		    be16(f + 34) != PORT)
			continue;
		if (!udp_csum_ok(f, &hdr))
			fail("received UDP checksum is wrong");
		*payload = f + 42;
		return be16(f + 38) - 8;
	}
	return -1;
}

static void echo_once(const char *msg, bool offload)
{
	static uint8_t f[BUF_BYTES];
	uint8_t *p;
	int n;

	udp_send(msg, strlen(msg), offload, 0);
	n = udp_recv(f, &p, WAIT_US);
	if (n != (int)strlen(msg) || memcmp(p, msg, (size_t)n))
		fail("no echo, or a wrong one");
}

/* More datagrams than the ring holds, with the guest slow to start. */
static void burst(unsigned int count)
{
	static uint8_t f[BUF_BYTES];
	char req[16] = "burst ";
	unsigned int got = 0, i = 6;
	uint8_t *p;
	int n;

	for (unsigned int c = count, d = 1000; d; d /= 10)
		if (c >= d || i > 6 || d == 1)
			req[i++] = (char)('0' + (c / d) % 10);
	req[i] = 0;
	udp_send(req, i, false, 0);
	delay_us(300000);
	while (got < count && (n = udp_recv(f, &p, WAIT_US)) >= 0) {
		unsigned int seq = 0;

		for (int k = 4; k < n && p[k] >= '0' && p[k] <= '9'; k++)
			seq = seq * 10 + (unsigned int)(p[k] - '0');
		if (n < 5 || memcmp(p, "seq ", 4) || seq != got)
			fail("burst datagram out of order or missing");
		got++;
	}
	printf("net: burst: %u of %u datagrams in order through a %u-entry "
	       "ring\n",
	       got, count, QSIZE);
	if (got != count)
		fail("burst incomplete");
}

static void run_echo(void)
{
	bool csum = cmdline_has("net-csum");

	setup(csum, true);
	arp_resolve();
	for (int i = 0; i < 3; i++)
		echo_once("hello minnow", csum);
	printf("net: udp: 3 echoes (tx checksum %s)\n",
	       csum ? "offloaded" : "by the guest");
	burst(300);
	printf("net: rx checksums: %u partial, %u data-valid, %u full\n",
	       rx_partial, rx_valid, rx_full);
	if (csum && !rx_partial && !rx_valid)
		fail("checksum offload never used on receive");
	if (!csum && (rx_partial || rx_valid))
		fail("checksum flags without GUEST_CSUM");
}

static void expect_reset(const char *what)
{
	if (virtio_wait_needs_reset(&dev, WAIT_US) < 0)
		fail(what);
	printf("net: hostile: %s: NEEDS_RESET\n", what);
	setup(false, true);
	arp_resolve();
	echo_once("after reset", false);
}

static void run_hostile(void)
{
	static uint8_t f[BUF_BYTES];
	struct net_hdr hdr = {0};
	struct virtq_buf b[2];
	uint16_t head;
	uint32_t len;
	uint8_t *p;

	setup(false, true);
	arp_resolve();

	/* 1600 bytes of IP: over the 1500 MTU, so dropped, never cut. */
	udp_send("oversized", 9, false, 14 + 1600);
	if (udp_recv(f, &p, 500000) >= 0)
		fail("an oversized frame reached the host");
	echo_once("after oversized", false);
	printf("net: hostile: oversized frame dropped\n");

	/* Shorter than the header: dropped, the device lives on. */
	b[0] = (struct virtq_buf){tx_buf, 4, false};
	if (virtq_roundtrip(txq, b, 1, &len, WAIT_US) < 0)
		fail("short frame not returned");
	echo_once("after short", false);
	printf("net: hostile: short frame dropped\n");

	/* virtio 1.2, 5.1.6.2: a writable transmit buffer. */
	b[0] = (struct virtq_buf){tx_buf, HDR_LEN, false};
	b[1] = (struct virtq_buf){tx_buf + HDR_LEN, 64, true};
	memcpy(tx_buf, &hdr, HDR_LEN);
	virtq_add(txq, b, 2, &head);
	virtq_kick(txq);
	expect_reset("writable transmit buffer");

	/* virtio 1.2, 5.1.6.3: a device-readable receive buffer. */
	virtio_reset(&dev);
	setup(false, false);
	b[0] = (struct virtq_buf){tx_buf, 64, false};
	virtq_add(rxq, b, 1, &head);
	virtq_kick(rxq);
	expect_reset("readable receive buffer");
}

int main(void)
{
	if (cmdline_has("net-hostile"))
		run_hostile();
	else
		run_echo();
	printf("net: ok\n");
	return 0;
}
