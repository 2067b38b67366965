/* vhost-user front end: minnow's requests to a back end, one round trip each.
 */
#include "devices/vhost_user_frontend.h"
#include "devices/virtio.h"
#include "vmm/log.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* A failed exchange: the connection is no longer usable. */
static int vu_frontend_broke(struct vu_frontend *fe, uint32_t request, int err)
{
	if (!fe->broken)
		log_warn("%s: vhost-user %s: %s", fe->name,
			 vu_request_name(request),
			 err == -EAGAIN ? "no answer in time" : strerror(-err));
	fe->broken = true;
	return err == -ECONNRESET || err == -EPIPE ? -ENOTCONN : err;
}

/*
 * Sends msg and waits for its answer: the explicit reply of GET_*
 * requests (into *reply), or with REPLY_ACK the status of any other.
 */
static int vu_frontend_call(struct vu_frontend *fe, struct vu_msg *msg,
			    struct vu_msg *reply)
{
	bool ack = !reply &&
		   (fe->protocol_features & (1ull << VU_PROTOCOL_F_REPLY_ACK));
	struct vu_msg ack_msg;
	int err;

	if (fe->broken || fe->sock < 0)
		return -ENOTCONN;
	if (ack)
		msg->hdr.flags |= VU_FLAG_NEED_REPLY;
	err = vu_msg_send(fe->sock, msg);
	if (err)
		return vu_frontend_broke(fe, msg->hdr.request, err);
	if (!reply && !ack)
		return 0;

	if (!reply)
		reply = &ack_msg;
	err = vu_msg_recv(fe->sock, reply);
	if (err)
		return vu_frontend_broke(fe, msg->hdr.request, err);
	vu_msg_close_fds(reply);
	if (reply->hdr.request != msg->hdr.request ||
	    !(reply->hdr.flags & VU_FLAG_REPLY))
		return vu_frontend_broke(fe, msg->hdr.request, -EPROTO);

	/* "REPLY_ACK": a u64, zero for success. */
	if (reply == &ack_msg) {
		if (reply->hdr.size != sizeof(uint64_t))
			return vu_frontend_broke(fe, msg->hdr.request, -EPROTO);
		if (reply->payload.u64) {
			log_warn("%s: vhost-user back end refused %s", fe->name,
				 vu_request_name(msg->hdr.request));
			return -EIO;
		}
	}
	return 0;
}

/* A request answered with one u64 (GET_FEATURES...). */
static int vu_frontend_get_u64(struct vu_frontend *fe, uint32_t request,
			       uint64_t *val)
{
	struct vu_msg msg, reply;
	int err;

	vu_msg_init(&msg, request, 0);
	err = vu_frontend_call(fe, &msg, &reply);
	if (err)
		return err;
	if (reply.hdr.size != sizeof(uint64_t))
		return vu_frontend_broke(fe, request, -EPROTO);
	*val = reply.payload.u64;
	return 0;
}

static int vu_frontend_set_u64(struct vu_frontend *fe, uint32_t request,
			       uint64_t val)
{
	struct vu_msg msg;

	vu_msg_init(&msg, request, sizeof(val));
	msg.payload.u64 = val;
	return vu_frontend_call(fe, &msg, NULL);
}

static int vu_frontend_set_state(struct vu_frontend *fe, uint32_t request,
				 unsigned int index, uint32_t num)
{
	struct vu_msg msg;

	vu_msg_init(&msg, request, sizeof(msg.payload.state));
	msg.payload.state.index = index;
	msg.payload.state.num = num;
	return vu_frontend_call(fe, &msg, NULL);
}

static int vu_frontend_set_fd(struct vu_frontend *fe, uint32_t request,
			      unsigned int index, int fd)
{
	struct vu_msg msg;

	vu_msg_init(&msg, request, sizeof(uint64_t));
	msg.payload.u64 = index & VU_VRING_INDEX_MASK;
	if (fd < 0) {
		msg.payload.u64 |= VU_VRING_NOFD;
	} else {
		msg.fds[0] = fd;
		msg.nr_fds = 1;
	}
	return vu_frontend_call(fe, &msg, NULL);
}

/* A blocking socket that gives up after VU_FRONTEND_TIMEOUT_MS. */
static int vu_frontend_socket(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = VU_FRONTEND_TIMEOUT_MS / 1000,
			     .tv_usec = (VU_FRONTEND_TIMEOUT_MS % 1000) * 1000};
	int fd, err;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* GET/SET_PROTOCOL_FEATURES: REPLY_ACK is all minnow asks for. */
static int vu_frontend_protocol(struct vu_frontend *fe)
{
	uint64_t offered, want = 1ull << VU_PROTOCOL_F_REPLY_ACK;
	int err;

	if (!(fe->features & (1ull << VU_F_PROTOCOL_FEATURES)))
		return 0;
	err = vu_frontend_get_u64(fe, VU_GET_PROTOCOL_FEATURES, &offered);
	if (!err)
		err = vu_frontend_set_u64(fe, VU_SET_PROTOCOL_FEATURES,
					  offered & want);
	if (!err)
		fe->protocol_features = offered & want;
	return err;
}

int vu_frontend_connect(struct vu_frontend *fe, const char *name,
			const char *path)
{
	struct vu_msg msg;
	int err;

	*fe = (struct vu_frontend){.name = name, .sock = -1};
	fe->sock = vu_frontend_socket(path);
	if (fe->sock < 0) {
		err = fe->sock;
		log_error("%s: cannot connect to the vhost-user back end at "
			  "%s: %s",
			  name, path, strerror(-err));
		return err;
	}

	/* "SET_OWNER": issued when a new connection is established. */
	vu_msg_init(&msg, VU_SET_OWNER, 0);
	err = vu_frontend_call(fe, &msg, NULL);
	if (!err)
		err = vu_frontend_get_u64(fe, VU_GET_FEATURES, &fe->features);
	if (!err)
		err = vu_frontend_protocol(fe);
	if (err) {
		log_error("%s: vhost-user back end at %s: handshake failed: %s",
			  name, path, strerror(-err));
		vu_frontend_close(fe);
	}
	return err;
}

void vu_frontend_close(struct vu_frontend *fe)
{
	if (fe->sock >= 0)
		close(fe->sock);
	fe->sock = -1;
	fe->broken = true;
}

int vu_frontend_set_features(struct vu_frontend *fe, uint64_t features)
{
	features |= fe->features & (1ull << VU_F_PROTOCOL_FEATURES);
	return vu_frontend_set_u64(fe, VU_SET_FEATURES, features);
}

int vu_frontend_set_mem_table(struct vu_frontend *fe, const struct gmem *mem)
{
	struct vu_msg msg;

	if (mem->fd < 0 || mem->nr_regions == 0 ||
	    mem->nr_regions > VU_MAX_REGIONS)
		return -EINVAL;
	vu_msg_init(&msg, VU_SET_MEM_TABLE,
		    8 + mem->nr_regions * sizeof(struct vu_mem_region));
	msg.payload.mem.nr_regions = (uint32_t)mem->nr_regions;
	for (size_t i = 0; i < mem->nr_regions; i++) {
		const struct gmem_region *r = &mem->regions[i];

		msg.payload.mem.regions[i] = (struct vu_mem_region){
			.guest_addr = r->gpa,
			.size = r->size,
			.user_addr = (uintptr_t)r->host,
			.mmap_offset = r->fd_offset,
		};
		msg.fds[i] = mem->fd;
	}
	msg.nr_fds = (unsigned int)mem->nr_regions;
	return vu_frontend_call(fe, &msg, NULL);
}

int vu_frontend_start_ring(struct vu_frontend *fe, unsigned int index,
			   const struct virtqueue *vq, int kick_fd, int call_fd,
			   int err_fd)
{
	struct vu_msg msg;
	int err;

	if (!vq->ready)
		return -EINVAL;
	err = vu_frontend_set_state(fe, VU_SET_VRING_NUM, index, vq->size);
	if (err)
		return err;

	vu_msg_init(&msg, VU_SET_VRING_ADDR, sizeof(msg.payload.addr));
	msg.payload.addr = (struct vu_vring_addr){
		.index = index,
		.desc_user_addr = (uintptr_t)vq->desc,
		.used_user_addr = (uintptr_t)vq->used_hdr,
		.avail_user_addr = (uintptr_t)vq->avail,
	};
	err = vu_frontend_call(fe, &msg, NULL);
	if (!err)
		err = vu_frontend_set_state(fe, VU_SET_VRING_BASE, index,
					    vq->last_avail_idx);
	if (!err)
		err = vu_frontend_set_fd(fe, VU_SET_VRING_CALL, index, call_fd);
	if (!err)
		err = vu_frontend_set_fd(fe, VU_SET_VRING_ERR, index, err_fd);
	if (!err)
		err = vu_frontend_set_fd(fe, VU_SET_VRING_KICK, index, kick_fd);

	/* "Ring states": with protocol features, rings start disabled. */
	if (!err && (fe->features & (1ull << VU_F_PROTOCOL_FEATURES)))
		err = vu_frontend_set_state(fe, VU_SET_VRING_ENABLE, index, 1);
	return err;
}

int vu_frontend_stop_ring(struct vu_frontend *fe, unsigned int index,
			  uint16_t *base)
{
	struct vu_msg msg, reply;
	int err;

	vu_msg_init(&msg, VU_GET_VRING_BASE, sizeof(msg.payload.state));
	msg.payload.state.index = index;
	err = vu_frontend_call(fe, &msg, &reply);
	if (err)
		return err;
	if (reply.hdr.size != sizeof(reply.payload.state) ||
	    reply.payload.state.index != index)
		return vu_frontend_broke(fe, VU_GET_VRING_BASE, -EPROTO);
	*base = (uint16_t)reply.payload.state.num;
	return 0;
}
