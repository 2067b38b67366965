/* vhost-user back end: the front end's messages applied, and its rings served.
 */
#include "devices/vhost_user_backend.h"
#include "devices/virtio.h"
#include "vmm/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void vu_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int vu_backend_init(struct vu_backend *b, const struct vu_backend_config *cfg)
{
	uint16_t n = cfg->queue_max_size;

	memset(b, 0, sizeof(*b));
	if (!cfg->serve || cfg->nr_queues == 0 ||
	    cfg->nr_queues > VU_VRING_INDEX_MASK + 1 || n == 0 || (n & (n - 1)))
		return -EINVAL;
	b->cfg = *cfg;
	b->offered = cfg->features | (1ull << VU_F_PROTOCOL_FEATURES);
	b->protocol_offered = (1ull << VU_PROTOCOL_F_MQ) |
			      (1ull << VU_PROTOCOL_F_REPLY_ACK);
	gmem_init_external(&b->mem);
	b->vrings = calloc(cfg->nr_queues, sizeof(*b->vrings));
	b->iov = calloc(n, sizeof(*b->iov));
	if (!b->vrings || !b->iov) {
		free(b->vrings);
		free(b->iov);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < cfg->nr_queues; i++) {
		struct vu_vring *vr = &b->vrings[i];

		vr->kick_fd = vr->call_fd = vr->err_fd = -1;
		vq_reset(&vr->vq);
	}
	return 0;
}

static void vu_unmap_all(struct vu_backend *b)
{
	for (unsigned int i = 0; i < b->nr_maps; i++)
		munmap(b->maps[i].map, b->maps[i].map_len);
	b->nr_maps = 0;
	gmem_init_external(&b->mem);
}

void vu_backend_cleanup(struct vu_backend *b)
{
	for (unsigned int i = 0; b->vrings && i < b->cfg.nr_queues; i++) {
		struct vu_vring *vr = &b->vrings[i];

		vu_close_fd(&vr->kick_fd);
		vu_close_fd(&vr->call_fd);
		vu_close_fd(&vr->err_fd);
	}
	vu_unmap_all(b);
	free(b->vrings);
	free(b->iov);
	b->vrings = NULL;
	b->iov = NULL;
}

/*
 * Forgets the ring's mapping (a new table, size or address is coming)
 * but keeps where it stood, so that it resumes at the same index.
 */
static void vu_vring_invalidate(struct vu_vring *vr)
{
	if (vr->vq.ready)
		vr->base = vr->vq.last_avail_idx;
	vq_reset(&vr->vq);
	vr->broken = false;
}

int vu_backend_user_to_gpa(const struct vu_backend *b, uint64_t user_addr,
			   gpa_t *gpa)
{
	for (unsigned int i = 0; i < b->nr_maps; i++) {
		const struct vu_mem_region *r = &b->maps[i].region;

		if (user_addr >= r->user_addr &&
		    user_addr - r->user_addr < r->size) {
			*gpa = r->guest_addr + (user_addr - r->user_addr);
			return 0;
		}
	}
	return -EFAULT;
}

/* Maps one region of the table; fd stays the caller's. */
static int vu_map_region(const struct vu_mem_region *r, int fd,
			 struct vu_mapping *out)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t start = r->mmap_offset & ~(page - 1);
	uint64_t lead = r->mmap_offset - start, len;
	struct stat st;
	void *map;

	if (r->size == 0 || __builtin_add_overflow(r->size, lead, &len) ||
	    len > SIZE_MAX || start > INT64_MAX)
		return -EINVAL;

	/* A mapping past the end of the file would SIGBUS on first touch. */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || start + len < start ||
	    start + len > (uint64_t)st.st_size)
		return -EINVAL;
	map = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)start);
	if (map == MAP_FAILED)
		return -errno;
	*out = (struct vu_mapping){.region = *r, .map = map, .map_len = len};
	return 0;
}

/*
 * SET_MEM_TABLE: maps every region, then replaces the old table; on
 * any failure the old table stays. Rings are set up again on next use.
 */
static int vu_set_mem_table(struct vu_backend *b, struct vu_msg *msg)
{
	const struct vu_mem_table *t = &msg->payload.mem;
	struct vu_mapping maps[VU_MAX_REGIONS];
	unsigned int mapped = 0;
	struct gmem mem;
	int err = 0;

	gmem_init_external(&mem);
	for (unsigned int i = 0; i < t->nr_regions && !err; i++) {
		const struct vu_mem_region *r = &t->regions[i];

		err = vu_map_region(r, msg->fds[i], &maps[i]);
		if (!err) {
			mapped++;
			err = gmem_add_region(
				&mem, r->guest_addr, r->size,
				(uint8_t *)maps[i].map +
					(maps[i].map_len - r->size));
		}
		if (err)
			log_warn(
				"%s: SET_MEM_TABLE: region %u (guest 0x%" PRIx64
				", %" PRIu64 " bytes): %s",
				b->cfg.name, i, r->guest_addr, r->size,
				strerror(-err));
	}
	vu_msg_close_fds(msg);
	if (err) {
		for (unsigned int j = 0; j < mapped; j++)
			munmap(maps[j].map, maps[j].map_len);
		return err;
	}

	for (unsigned int q = 0; q < b->cfg.nr_queues; q++)
		vu_vring_invalidate(&b->vrings[q]);
	vu_unmap_all(b);
	memcpy(b->maps, maps, sizeof(maps[0]) * t->nr_regions);
	b->nr_maps = t->nr_regions;
	b->mem = mem;
	return 0;
}

/* The ring a vring-state or u64 request names, or NULL (logged). */
static struct vu_vring *vu_vring_get(struct vu_backend *b, uint32_t index,
				     uint32_t request)
{
	if (index < b->cfg.nr_queues)
		return &b->vrings[index];
	log_warn_ratelimited(&b->rl, "%s: %s: no ring %" PRIu32, b->cfg.name,
			     vu_request_name(request), index);
	return NULL;
}

static int vu_set_vring_num(struct vu_backend *b, const struct vu_msg *msg)
{
	struct vu_vring *vr = vu_vring_get(b, msg->payload.state.index,
					   msg->hdr.request);
	uint32_t num = msg->payload.state.num;

	if (!vr)
		return -EINVAL;
	/* virtio 1.2, 2.7: a power of 2, at most what the device offers. */
	if (num == 0 || num > b->cfg.queue_max_size || (num & (num - 1))) {
		log_warn_ratelimited(
			&b->rl, "%s: ring %" PRIu32 ": bad size %" PRIu32,
			b->cfg.name, msg->payload.state.index, num);
		return -EINVAL;
	}
	vu_vring_invalidate(vr);
	vr->num = num;
	return 0;
}

static int vu_set_vring_addr(struct vu_backend *b, const struct vu_msg *msg)
{
	struct vu_vring *vr = vu_vring_get(b, msg->payload.addr.index,
					   msg->hdr.request);

	if (!vr)
		return -EINVAL;
	vu_vring_invalidate(vr);
	vr->addr = msg->payload.addr;
	vr->addr_set = true;
	return 0;
}

static int vu_set_vring_base(struct vu_backend *b, const struct vu_msg *msg)
{
	struct vu_vring *vr = vu_vring_get(b, msg->payload.state.index,
					   msg->hdr.request);

	if (!vr || msg->payload.state.num > UINT16_MAX)
		return -EINVAL;
	vu_vring_invalidate(vr);
	vr->base = (uint16_t)msg->payload.state.num;
	return 0;
}

/* GET_VRING_BASE stops the ring ("Ring states") and says where it stood. */
static int vu_get_vring_base(struct vu_backend *b, const struct vu_msg *msg,
			     struct vu_msg *reply)
{
	struct vu_vring *vr = vu_vring_get(b, msg->payload.state.index,
					   msg->hdr.request);

	if (!vr)
		return -EINVAL;
	vu_vring_invalidate(vr);
	vr->started = false;
	vu_close_fd(&vr->kick_fd);
	reply->payload.state.index = msg->payload.state.index;
	reply->payload.state.num = vr->base;
	reply->hdr.size = sizeof(reply->payload.state);
	return 0;
}

/* SET_VRING_KICK, CALL and ERR: an eventfd for the ring, or none. */
static int vu_set_vring_fd(struct vu_backend *b, struct vu_msg *msg)
{
	uint64_t arg = msg->payload.u64;
	struct vu_vring *vr = vu_vring_get(b, arg & VU_VRING_INDEX_MASK,
					   msg->hdr.request);
	int fd = msg->nr_fds ? msg->fds[0] : -1;

	msg->nr_fds = 0;
	if (!vr) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	switch (msg->hdr.request) {
	case VU_SET_VRING_KICK:
		/* Polling the ring instead of a kick is not offered. */
		if (fd < 0) {
			log_warn_ratelimited(&b->rl,
					     "%s: ring %u: polling "
					     "without a kick fd is not "
					     "supported",
					     b->cfg.name,
					     (unsigned int)(vr - b->vrings));
			return -EINVAL;
		}
		vu_close_fd(&vr->kick_fd);
		vr->kick_fd = fd;
		vr->started = true;
		/* "Ring states": enabled at once without protocol features. */
		if (!(b->acked & (1ull << VU_F_PROTOCOL_FEATURES)))
			vr->enabled = true;
		break;
	case VU_SET_VRING_CALL:
		vu_close_fd(&vr->call_fd);
		vr->call_fd = fd;
		break;
	default:
		vu_close_fd(&vr->err_fd);
		vr->err_fd = fd;
		break;
	}
	return 0;
}

static int vu_set_vring_enable(struct vu_backend *b, const struct vu_msg *msg)
{
	unsigned int index = msg->payload.state.index;
	struct vu_vring *vr = vu_vring_get(b, index, msg->hdr.request);

	if (!vr || msg->payload.state.num > 1)
		return -EINVAL;
	vr->enabled = msg->payload.state.num;

	/* A kick that came while it was disabled was read and dropped. */
	if (vr->enabled)
		vu_backend_process(b, index);
	return 0;
}

static int vu_set_features(struct vu_backend *b, uint64_t features)
{
	if (features & ~b->offered) {
		log_warn("%s: SET_FEATURES 0x%" PRIx64
			 " beyond the offered 0x%" PRIx64,
			 b->cfg.name, features, b->offered);
		return -EINVAL;
	}
	b->acked = features;
	return 0;
}

static int vu_set_protocol_features(struct vu_backend *b, uint64_t features)
{
	if (features & ~b->protocol_offered) {
		log_warn("%s: SET_PROTOCOL_FEATURES 0x%" PRIx64 " beyond the "
			 "offered 0x%" PRIx64,
			 b->cfg.name, features, b->protocol_offered);
		return -EINVAL;
	}
	b->protocol_acked = features;
	return 0;
}

/* RESET_OWNER is deprecated; the spec suggests disabling every ring. */
static void vu_reset_owner(struct vu_backend *b)
{
	for (unsigned int i = 0; i < b->cfg.nr_queues; i++) {
		vu_vring_invalidate(&b->vrings[i]);
		b->vrings[i].started = b->vrings[i].enabled = false;
		vu_close_fd(&b->vrings[i].kick_fd);
	}
}

static void vu_reply_u64(struct vu_msg *reply, uint64_t val)
{
	reply->payload.u64 = val;
	reply->hdr.size = sizeof(val);
}

/*
 * Applies one checked request. Returns 0 or a negative errno for a
 * request refused; 1 when it filled an explicit reply.
 */
static int vu_dispatch(struct vu_backend *b, struct vu_msg *msg,
		       struct vu_msg *reply)
{
	switch (msg->hdr.request) {
	case VU_GET_FEATURES:
		vu_reply_u64(reply, b->offered);
		return 1;
	case VU_SET_FEATURES:
		return vu_set_features(b, msg->payload.u64);
	case VU_GET_PROTOCOL_FEATURES:
		vu_reply_u64(reply, b->protocol_offered);
		return 1;
	case VU_SET_PROTOCOL_FEATURES:
		return vu_set_protocol_features(b, msg->payload.u64);
	case VU_GET_QUEUE_NUM:
		vu_reply_u64(reply, b->cfg.nr_queues);
		return 1;
	case VU_SET_OWNER:
		b->owned = true;
		return 0;
	case VU_RESET_OWNER:
		vu_reset_owner(b);
		return 0;
	case VU_SET_MEM_TABLE:
		return vu_set_mem_table(b, msg);
	case VU_SET_VRING_NUM:
		return vu_set_vring_num(b, msg);
	case VU_SET_VRING_ADDR:
		return vu_set_vring_addr(b, msg);
	case VU_SET_VRING_BASE:
		return vu_set_vring_base(b, msg);
	case VU_GET_VRING_BASE:
		return vu_get_vring_base(b, msg, reply) ?: 1;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		return vu_set_vring_fd(b, msg);
	case VU_SET_VRING_ENABLE:
		return vu_set_vring_enable(b, msg);
	default:
		/* Dirty-page logging (LOG_ALL) is never offered. */
		log_warn_ratelimited(&b->rl,
				     "%s: %s (%" PRIu32 ") not "
				     "supported",
				     b->cfg.name,
				     vu_request_name(msg->hdr.request),
				     msg->hdr.request);
		return -ENOTSUP;
	}
}

int vu_backend_handle(struct vu_backend *b, struct vu_msg *msg,
		      struct vu_msg *reply)
{
	bool ack = (b->protocol_acked & (1ull << VU_PROTOCOL_F_REPLY_ACK)) &&
		   (msg->hdr.flags & VU_FLAG_NEED_REPLY);
	int ret;

	vu_msg_init(reply, msg->hdr.request, 0);
	reply->hdr.flags |= VU_FLAG_REPLY;
	if (vu_msg_check(msg)) {
		log_warn("%s: malformed %s (%" PRIu32 "): %" PRIu32 " payload "
			 "bytes, %u fds; dropping the connection",
			 b->cfg.name, vu_request_name(msg->hdr.request),
			 msg->hdr.request, msg->hdr.size, msg->nr_fds);
		vu_msg_close_fds(msg);
		return -EPROTO;
	}
	ret = vu_dispatch(b, msg, reply);
	vu_msg_close_fds(msg);
	if (ret == 1)
		return 1;

	/* An unknown request may wait for an answer we cannot give. */
	if (ret == -ENOTSUP && !ack)
		return -EPROTO;

	/* "REPLY_ACK": zero on success, non-zero on failure. */
	if (!ack)
		return 0;
	vu_reply_u64(reply, ret ? 1 : 0);
	return 1;
}

int vu_backend_kick_fd(const struct vu_backend *b, unsigned int qidx)
{
	if (qidx >= b->cfg.nr_queues || !b->vrings[qidx].started)
		return -1;
	return b->vrings[qidx].kick_fd;
}

static void vu_signal(int fd)
{
	uint64_t one = 1;
	ssize_t n;

	if (fd < 0)
		return;
	/* An eventfd write fails only when the counter is full: still set. */
	n = write(fd, &one, sizeof(one));
	(void)n;
}

/* Maps the ring from the front end's addresses on first use. */
static int vu_vring_setup(struct vu_backend *b, struct vu_vring *vr)
{
	struct virtqueue *vq = &vr->vq;
	gpa_t desc, avail, used;
	int err;

	if (vq->ready)
		return 0;
	if (vu_backend_user_to_gpa(b, vr->addr.desc_user_addr, &desc) ||
	    vu_backend_user_to_gpa(b, vr->addr.avail_user_addr, &avail) ||
	    vu_backend_user_to_gpa(b, vr->addr.used_user_addr, &used))
		return -EFAULT;
	vq->size = (uint16_t)vr->num;
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	err = vq_setup(vq, &b->mem, b->acked);
	if (err) {
		vq_reset(vq);
		return err;
	}
	vq->last_avail_idx = vq->used_idx = vq->signalled_used = vr->base;
	return 0;
}

/* The driver (or the front end) broke the ring: say so once, then stop. */
static void vu_vring_fail(struct vu_backend *b, struct vu_vring *vr,
			  const char *why)
{
	log_warn_ratelimited(&b->rl,
			     "%s: ring %u: %s; ring stopped until it "
			     "is set up again",
			     b->cfg.name, (unsigned int)(vr - b->vrings), why);
	vr->broken = true;
	vu_signal(vr->err_fd);
}

void vu_backend_process(struct vu_backend *b, unsigned int qidx)
{
	struct vu_vring *vr;
	struct virtqueue *vq;
	struct vq_chain chain = {.iov = b->iov,
				 .iov_cap = b->cfg.queue_max_size};
	int ret;

	if (qidx >= b->cfg.nr_queues)
		return;
	vr = &b->vrings[qidx];
	vq = &vr->vq;
	/* Rings the front end has not finished setting up wait for it. */
	if (!vr->started || !vr->enabled || vr->broken || !vr->num ||
	    !vr->addr_set)
		return;
	ret = vu_vring_setup(b, vr);
	if (ret) {
		vu_vring_fail(b, vr,
			      ret == -EFAULT ? "ring outside the memory "
					       "table"
					     : "ring size or alignment");
		return;
	}

	do {
		vq_disable_notify(vq);
		while ((ret = vq_pop_chain(vq, &chain)) == 1)
			vq_push_used(vq, chain.head,
				     b->cfg.serve(b->cfg.serve_ctx, &chain));
		if (ret < 0) {
			vu_vring_fail(b, vr, vq_strerror(ret));
			return;
		}
		if (vq_need_interrupt(vq))
			vu_signal(vr->call_fd);
	} while (vq_enable_notify(vq));
}
