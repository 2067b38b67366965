/*
 * The host side of the virtio-net benchmark (tools/bench-net.sh): a UDP
 * peer at 10.0.0.1 that counts what the guest sends and sends the guest
 * bursts on request. It runs inside the benchmark's network namespace.
 *
 * Control datagrams on port 7777, answered to their sender:
 *   "tx-reset"         zero the counters; answer "ok"
 *   "tx-report"        answer "host_pkts=P host_bytes=B host_us=T" for
 *                      what reached port 7778 since the reset (bytes:
 *                      Ethernet frame bytes; us: first datagram to last)
 *   "rx PAYLOAD COUNT" answer "ok", then send COUNT datagrams of PAYLOAD
 *                      bytes to the sender's port 7778 as fast as the
 *                      kernel takes them, then "end" datagrams to its
 *                      port 7779
 * Build: cc -O2 -o bench-net-peer tools/bench-net-peer.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HOST_IP        "10.0.0.1"
#define CTL_PORT       7777
#define DATA_PORT      7778
#define END_PORT       7779
#define BATCH          64
#define FRAME_OVERHEAD 42u /* Ethernet, IPv4 and UDP headers */

struct counts {
	uint64_t pkts, bytes, first_ns, last_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int udp_bind(uint16_t port, int rcvbuf)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	if (fd < 0) {
		perror("bench-net-peer: socket");
		exit(1);
	}
	inet_pton(AF_INET, HOST_IP, &a.sin_addr);
	/* As root, past net.core.rmem_max/wmem_max. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("bench-net-peer: bind " HOST_IP);
		exit(1);
	}
	return fd;
}

/* Counts every datagram waiting on fd. */
static void drain(int fd, struct counts *c)
{
	static char bufs[BATCH][2048];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	int n;

	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
		msgs[i] = (struct mmsghdr){
			.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
	}
	while ((n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL)) > 0) {
		uint64_t t = now_ns();

		if (!c->pkts)
			c->first_ns = t;
		c->last_ns = t;
		for (int i = 0; i < n; i++)
			c->bytes += msgs[i].msg_len + FRAME_OVERHEAD;
		c->pkts += (uint64_t)n;
	}
}

/* Sends count datagrams of payload bytes to dst, then end markers. */
static void burst(int fd, struct sockaddr_in dst, unsigned int payload,
		  unsigned int count)
{
	static char buf[2048];
	struct mmsghdr msgs[BATCH];
	struct iovec iov = {buf, payload < sizeof(buf) ? payload : sizeof(buf)};
	unsigned int sent = 0;
	uint64_t t0;

	/* Let the guest get back to its polling loop first. */
	usleep(50000);
	t0 = now_ns();
	for (int i = 0; i < BATCH; i++)
		msgs[i] = (struct mmsghdr){
			.msg_hdr = {.msg_name = &dst,
				    .msg_namelen = sizeof(dst),
				    .msg_iov = &iov,
				    .msg_iovlen = 1}};
	while (sent < count) {
		unsigned int want = count - sent < BATCH ? count - sent : BATCH;
		int n = sendmmsg(fd, msgs, want, 0);

		if (n < 0) {
			if (errno == EAGAIN || errno == ENOBUFS) {
				struct pollfd p = {fd, POLLOUT, 0};

				poll(&p, 1, 10);
				continue;
			}
			perror("bench-net-peer: sendmmsg");
			break;
		}
		sent += (unsigned int)n;
	}
	fprintf(stderr,
		"bench-net-peer: sent %u datagrams of %u bytes in %.3f s\n",
		sent, payload, (double)(now_ns() - t0) / 1e9);
	dst.sin_port = htons(END_PORT);
	for (int i = 0; i < 20; i++) {
		usleep(2000);
		sendto(fd, "end", 3, 0, (struct sockaddr *)&dst, sizeof(dst));
	}
}

int main(void)
{
	int ctl = udp_bind(CTL_PORT, 1 << 20);
	int data = udp_bind(DATA_PORT, 64 << 20);
	struct counts c = {0};

	fprintf(stderr, "bench-net-peer: ready\n");
	for (;;) {
		struct pollfd p[2] = {{ctl, POLLIN, 0}, {data, POLLIN, 0}};
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		char msg[128], reply[128];
		unsigned int payload, count;
		ssize_t n;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return 1;
		if (p[1].revents & POLLIN)
			drain(data, &c);
		if (!(p[0].revents & POLLIN))
			continue;
		n = recvfrom(ctl, msg, sizeof(msg) - 1, MSG_DONTWAIT,
			     (struct sockaddr *)&from, &flen);
		if (n <= 0)
			continue;
		msg[n] = 0;
		if (!strcmp(msg, "tx-reset")) {
			drain(data, &c);
			c = (struct counts){0};
			sendto(ctl, "ok", 2, 0, (struct sockaddr *)&from, flen);
		} else if (!strcmp(msg, "tx-report")) {
			drain(data, &c);
			n = snprintf(
				reply, sizeof(reply),
				"host_pkts=%llu host_bytes=%llu host_us=%llu",
				(unsigned long long)c.pkts,
				(unsigned long long)c.bytes,
				(unsigned long long)(c.last_ns - c.first_ns) /
					1000);
			sendto(ctl, reply, (size_t)n, 0,
			       (struct sockaddr *)&from, flen);
		} else if (sscanf(msg, "rx %u %u", &payload, &count) == 2) {
			sendto(ctl, "ok", 2, 0, (struct sockaddr *)&from, flen);
			from.sin_port = htons(DATA_PORT);
			burst(data, from, payload, count);
		} else {
			fprintf(stderr,
				"bench-net-peer: unknown request \"%s\"\n",
				msg);
		}
	}
}
