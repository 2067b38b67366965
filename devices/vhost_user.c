/* vhost-user messages: checks, names, and reading and writing them on a socket.
 */
#include "devices/vhost_user.h"
#include "vmm/util.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *const vu_names[] = {
	[VU_GET_FEATURES] = "GET_FEATURES",
	[VU_SET_FEATURES] = "SET_FEATURES",
	[VU_SET_OWNER] = "SET_OWNER",
	[VU_RESET_OWNER] = "RESET_OWNER",
	[VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VU_SET_LOG_BASE] = "SET_LOG_BASE",
	[VU_SET_LOG_FD] = "SET_LOG_FD",
	[VU_SET_VRING_NUM] = "SET_VRING_NUM",
	[VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VU_SET_VRING_BASE] = "SET_VRING_BASE",
	[VU_GET_VRING_BASE] = "GET_VRING_BASE",
	[VU_SET_VRING_KICK] = "SET_VRING_KICK",
	[VU_SET_VRING_CALL] = "SET_VRING_CALL",
	[VU_SET_VRING_ERR] = "SET_VRING_ERR",
	[VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
};

const char *vu_request_name(uint32_t request)
{
	if (request < ARRAY_SIZE(vu_names) && vu_names[request])
		return vu_names[request];
	return "unknown";
}

void vu_msg_init(struct vu_msg *m, uint32_t request, uint32_t payload_size)
{
	memset(m, 0, sizeof(*m));
	m->hdr.request = request;
	m->hdr.flags = VU_VERSION;
	m->hdr.size = payload_size;
}

void vu_msg_close_fds(struct vu_msg *m)
{
	for (unsigned int i = 0; i < m->nr_fds; i++)
		close(m->fds[i]);
	m->nr_fds = 0;
}

/* The payload size a known request must have; -1 for the memory table. */
static int vu_payload_size(uint32_t request)
{
	switch (request) {
	case VU_GET_FEATURES:
	case VU_SET_OWNER:
	case VU_RESET_OWNER:
	case VU_GET_PROTOCOL_FEATURES:
	case VU_GET_QUEUE_NUM:
	case VU_SET_LOG_FD:
		return 0;
	case VU_SET_FEATURES:
	case VU_SET_PROTOCOL_FEATURES:
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		return sizeof(uint64_t);
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_BASE:
	case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
		return sizeof(struct vu_vring_state);
	case VU_SET_VRING_ADDR:
		return sizeof(struct vu_vring_addr);
	case VU_SET_MEM_TABLE:
		return -1;
	default:
		return -2;
	}
}

/* "Memory regions description": 8 bytes, then 32 per region. */
static int vu_check_mem_table(const struct vu_msg *m)
{
	uint32_t n;

	if (m->hdr.size < 8)
		return -EPROTO;
	n = m->payload.mem.nr_regions;
	if (n == 0 || n > VU_MAX_REGIONS ||
	    m->hdr.size != 8 + n * sizeof(struct vu_mem_region))
		return -EPROTO;
	return m->nr_fds == n ? 0 : -EPROTO;
}

int vu_msg_check(const struct vu_msg *m)
{
	int want = vu_payload_size(m->hdr.request);

	if ((m->hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION ||
	    (m->hdr.flags & VU_FLAG_REPLY) || m->hdr.size > VU_MAX_PAYLOAD)
		return -EPROTO;
	if (want == -1)
		return vu_check_mem_table(m);
	if (want == -2)
		return m->nr_fds ? -EPROTO : 0;
	if (m->hdr.size != (uint32_t)want)
		return -EPROTO;

	switch (m->hdr.request) {
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		/* "Bit 8 is the invalid FD flag": then no fd comes with it. */
		if (m->payload.u64 & VU_VRING_NOFD)
			return m->nr_fds == 0 ? 0 : -EPROTO;
		return m->nr_fds == 1 ? 0 : -EPROTO;
	case VU_SET_LOG_FD:
		return m->nr_fds <= 1 ? 0 : -EPROTO;
	default:
		return m->nr_fds ? -EPROTO : 0;
	}
}

/* Takes the SCM_RIGHTS fds out of a received control message. */
static void vu_take_fds(struct msghdr *mh, struct vu_msg *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (m->nr_fds < VU_MAX_FDS)
				m->fds[m->nr_fds++] = fd;
			else
				close(fd);
		}
	}
}

/* Reads exactly len bytes (after the header); 0, -ECONNRESET or -errno. */
static int vu_read_full(int sock, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(sock, (uint8_t *)buf + done, len - done, 0);

		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

int vu_msg_recv(int sock, struct vu_msg *m)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = &m->hdr, .iov_len = sizeof(m->hdr)};
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;
	int err;

	memset(&m->hdr, 0, sizeof(m->hdr));
	m->nr_fds = 0;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return -errno;
	vu_take_fds(&mh, m);
	if (mh.msg_flags & MSG_CTRUNC) {
		err = -EPROTO;
		goto err_close;
	}

	/* The fds came with the first bytes; the rest is plain data. */
	err = vu_read_full(sock, (uint8_t *)&m->hdr + n,
			   sizeof(m->hdr) - (size_t)n);
	if (err)
		goto err_close;
	if (m->hdr.size > VU_MAX_PAYLOAD) {
		err = -EPROTO;
		goto err_close;
	}
	err = vu_read_full(sock, &m->payload, m->hdr.size);
	if (err)
		goto err_close;
	return 0;

err_close:
	vu_msg_close_fds(m);
	return err;
}

int vu_msg_send(int sock, const struct vu_msg *m)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = {
		{.iov_base = (void *)(uintptr_t)&m->hdr,
		 .iov_len = sizeof(m->hdr)},
		{.iov_base = (void *)(uintptr_t)&m->payload,
		 .iov_len = m->hdr.size},
	};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	size_t total = sizeof(m->hdr) + m->hdr.size;
	ssize_t n;

	if (m->hdr.size > VU_MAX_PAYLOAD || m->nr_fds > VU_MAX_FDS)
		return -EINVAL;
	if (m->nr_fds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(m->nr_fds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(m->nr_fds * sizeof(int));
		memcpy(CMSG_DATA(c), m->fds, m->nr_fds * sizeof(int));
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	/* A stream socket takes a message this small whole, or fails. */
	return (size_t)n == total ? 0 : -EIO;
}
