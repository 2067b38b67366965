/*
 * vhost-user without KVM: messages through a socketpair (header, payload
 * and file descriptors), the checks on what a front end sends, and the
 * back end set up by messages as a front end would, then serving a chain
 * that a test driver lays out in a memfd-backed guest RAM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/vhost_user.h"
#include "devices/vhost_user_backend.h"
#include "devices/virtio.h"
#include "vq_driver.h"

#define MEM_BYTES (4u << 20)
#define RING_GPA  0x10000ull
#define REQ_GPA   0x100000ull
#define REP_GPA   0x101000ull
#define QSIZE     16
#define REPLY     "served"

/* ---- messages on a socket ---- */

static void socket_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
}

static void test_msg_roundtrip_with_fd(void **state)
{
	struct vu_msg out, in;
	uint64_t v = 7, got = 0;
	int sv[2], efd = eventfd(0, EFD_CLOEXEC);

	(void)state;
	socket_pair(sv);
	vu_msg_init(&out, VU_SET_VRING_CALL, sizeof(uint64_t));
	out.payload.u64 = 1;
	out.fds[0] = efd;
	out.nr_fds = 1;
	assert_int_equal(vu_msg_send(sv[0], &out), 0);
	assert_int_equal(vu_msg_recv(sv[1], &in), 0);
	assert_int_equal(in.hdr.request, VU_SET_VRING_CALL);
	assert_int_equal(in.hdr.flags, VU_VERSION);
	assert_int_equal(in.hdr.size, 8);
	assert_int_equal(in.payload.u64, 1);
	assert_int_equal(in.nr_fds, 1);
	assert_int_equal(vu_msg_check(&in), 0);

	/* The fd that arrived is the same eventfd. */
	assert_int_equal(write(in.fds[0], &v, 8), 8);
	assert_int_equal(read(efd, &got, 8), 8);
	assert_int_equal(got, 7);
	assert_true(fcntl(in.fds[0], F_GETFD) & FD_CLOEXEC);
	vu_msg_close_fds(&in);
	close(efd);
	close(sv[0]);
	close(sv[1]);
}

static void test_msg_recv_eof_and_truncation(void **state)
{
	struct vu_msg m;
	struct vu_hdr h = {.request = VU_GET_FEATURES, .flags = 1, .size = 8};
	int sv[2];

	(void)state;
	socket_pair(sv);
	close(sv[0]);
	assert_int_equal(vu_msg_recv(sv[1], &m), -ECONNRESET);
	close(sv[1]);

	/* A header promising 8 bytes, then the peer goes. */
	socket_pair(sv);
	assert_int_equal(write(sv[0], &h, sizeof(h)), sizeof(h));
	close(sv[0]);
	assert_int_equal(vu_msg_recv(sv[1], &m), -ECONNRESET);
	close(sv[1]);

	/* A payload larger than any request has. */
	socket_pair(sv);
	h.size = VU_MAX_PAYLOAD + 1;
	assert_int_equal(write(sv[0], &h, sizeof(h)), sizeof(h));
	assert_int_equal(vu_msg_recv(sv[1], &m), -EPROTO);
	close(sv[0]);
	close(sv[1]);
}

static struct vu_msg make(uint32_t req, uint32_t size, unsigned int nr_fds)
{
	struct vu_msg m;

	vu_msg_init(&m, req, size);
	m.nr_fds = nr_fds;
	for (unsigned int i = 0; i < nr_fds; i++)
		m.fds[i] = 100 + (int)i;
	return m;
}

static void test_msg_check(void **state)
{
	struct vu_msg m;

	(void)state;
	m = make(VU_GET_FEATURES, 0, 0);
	assert_int_equal(vu_msg_check(&m), 0);
	m.hdr.flags = 2; /* version 2 */
	assert_int_equal(vu_msg_check(&m), -EPROTO);
	m = make(VU_GET_FEATURES, 0, 0);
	m.hdr.flags |= VU_FLAG_REPLY;
	assert_int_equal(vu_msg_check(&m), -EPROTO);
	m = make(VU_SET_FEATURES, 4, 0);
	assert_int_equal(vu_msg_check(&m), -EPROTO);
	m = make(VU_SET_VRING_ADDR, 40, 0);
	assert_int_equal(vu_msg_check(&m), 0);
	m = make(VU_SET_VRING_NUM, 8, 1); /* an fd it cannot carry */
	assert_int_equal(vu_msg_check(&m), -EPROTO);

	/* KICK: one fd, or none with the no-fd bit. */
	m = make(VU_SET_VRING_KICK, 8, 0);
	assert_int_equal(vu_msg_check(&m), -EPROTO);
	m.payload.u64 = VU_VRING_NOFD;
	assert_int_equal(vu_msg_check(&m), 0);
	m.nr_fds = 1;
	assert_int_equal(vu_msg_check(&m), -EPROTO);

	/* The memory table: 1 to 8 regions, one fd each, exact size. */
	m = make(VU_SET_MEM_TABLE, 8 + 32, 1);
	m.payload.mem.nr_regions = 1;
	assert_int_equal(vu_msg_check(&m), 0);
	m.payload.mem.nr_regions = 2;
	assert_int_equal(vu_msg_check(&m), -EPROTO);
	m = make(VU_SET_MEM_TABLE, 8, 0);
	assert_int_equal(vu_msg_check(&m), -EPROTO);
	m = make(VU_SET_MEM_TABLE, 8 + 9 * 32, 0);
	assert_int_equal(vu_msg_check(&m), -EPROTO);

	/* Unknown requests pass the check when they carry no fd. */
	m = make(99, 16, 0);
	assert_int_equal(vu_msg_check(&m), 0);
	m.nr_fds = 1;
	assert_int_equal(vu_msg_check(&m), -EPROTO);
}

/* ---- the back end ---- */

struct fixture {
	struct gmem mem; /* the front end's guest RAM */
	struct vu_backend b;
	struct vq_driver drv;
	int kick, call, err; /* the front end's ends of the eventfds */
	unsigned int served;
};

static uint32_t serve(void *ctx, const struct vq_chain *chain)
{
	struct fixture *f = ctx;
	const struct iovec *w = &chain->iov[chain->nr_readable];

	f->served++;
	if (!chain->nr_writable || w->iov_len < sizeof(REPLY))
		return 0;
	memcpy(w->iov_base, REPLY, sizeof(REPLY));
	return sizeof(REPLY);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vu_backend_config cfg = {
		.name = "test",
		.features = (1ull << VIRTIO_F_VERSION_1) |
			    (1ull << VIRTIO_RING_F_EVENT_IDX),
		.nr_queues = 2,
		.queue_max_size = 64,
		.serve = serve,
		.serve_ctx = f,
	};

	assert_non_null(f);
	assert_int_equal(gmem_init(&f->mem, MEM_BYTES, false), 0);
	assert_int_equal(vu_backend_init(&f->b, &cfg), 0);
	vqd_init(&f->drv, &f->mem, QSIZE, RING_GPA);
	f->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vu_backend_cleanup(&f->b);
	gmem_destroy(&f->mem);
	close(f->kick);
	close(f->call);
	close(f->err);
	free(f);
	return 0;
}

/* Sends one request to the back end; returns what vu_backend_handle did. */
static int handle(struct fixture *f, struct vu_msg *m, struct vu_msg *reply)
{
	struct vu_msg scratch;

	return vu_backend_handle(&f->b, m, reply ? reply : &scratch);
}

static int req_u64(struct fixture *f, uint32_t req, uint64_t v)
{
	struct vu_msg m;

	vu_msg_init(&m, req, 8);
	m.payload.u64 = v;
	return handle(f, &m, NULL);
}

static int req_state(struct fixture *f, uint32_t req, uint32_t idx,
		     uint32_t num, struct vu_msg *reply)
{
	struct vu_msg m;

	vu_msg_init(&m, req, 8);
	m.payload.state = (struct vu_vring_state){idx, num};
	return handle(f, &m, reply);
}

static int req_fd(struct fixture *f, uint32_t req, uint32_t idx, int fd)
{
	struct vu_msg m;

	vu_msg_init(&m, req, 8);
	m.payload.u64 = idx;
	m.fds[0] = dup(fd);
	m.nr_fds = 1;
	return handle(f, &m, NULL);
}

static int req_mem_table(struct fixture *f)
{
	struct vu_msg m;

	vu_msg_init(&m, VU_SET_MEM_TABLE, 8 + 32);
	m.payload.mem.nr_regions = 1;
	m.payload.mem.regions[0] = (struct vu_mem_region){
		.guest_addr = 0,
		.size = MEM_BYTES,
		.user_addr = (uintptr_t)f->mem.base,
		.mmap_offset = 0,
	};
	m.fds[0] = dup(f->mem.fd);
	m.nr_fds = 1;
	return handle(f, &m, NULL);
}

static int req_addr(struct fixture *f, uint32_t idx, gpa_t desc)
{
	struct vu_msg m;

	vu_msg_init(&m, VU_SET_VRING_ADDR, sizeof(m.payload.addr));
	m.payload.addr = (struct vu_vring_addr){
		.index = idx,
		.desc_user_addr = (uintptr_t)gmem_ptr(&f->mem, desc, 1),
		.avail_user_addr = (uintptr_t)gmem_ptr(&f->mem, f->drv.avail,
						       1),
		.used_user_addr = (uintptr_t)gmem_ptr(&f->mem, f->drv.used, 1),
	};
	return handle(f, &m, NULL);
}

/* The sequence a front end sends at DRIVER_OK, for ring 1. */
static void start_ring(struct fixture *f, uint64_t features)
{
	struct vu_msg m, reply;

	vu_msg_init(&m, VU_SET_OWNER, 0);
	assert_int_equal(handle(f, &m, NULL), 0);
	vu_msg_init(&m, VU_GET_FEATURES, 0);
	assert_int_equal(handle(f, &m, &reply), 1);
	assert_true(reply.hdr.flags & VU_FLAG_REPLY);
	assert_true(reply.payload.u64 & (1ull << VU_F_PROTOCOL_FEATURES));
	assert_int_equal(req_u64(f, VU_SET_FEATURES, features), 0);
	assert_int_equal(req_mem_table(f), 0);
	assert_int_equal(req_state(f, VU_SET_VRING_NUM, 1, QSIZE, NULL), 0);
	assert_int_equal(req_addr(f, 1, f->drv.desc), 0);
	assert_int_equal(req_state(f, VU_SET_VRING_BASE, 1, 0, NULL), 0);
	assert_int_equal(req_fd(f, VU_SET_VRING_CALL, 1, f->call), 0);
	assert_int_equal(req_fd(f, VU_SET_VRING_ERR, 1, f->err), 0);
	assert_int_equal(req_fd(f, VU_SET_VRING_KICK, 1, f->kick), 0);
	assert_int_equal(vu_backend_kick_fd(&f->b, 0), -1);
	assert_true(vu_backend_kick_fd(&f->b, 1) >= 0);
}

static uint16_t add_request(struct fixture *f)
{
	struct vqd_buf bufs[2] = {
		{REQ_GPA, 64, false},
		{REP_GPA, 64, true},
	};

	return vqd_add(&f->drv, bufs, 2);
}

static bool fd_fired(int fd)
{
	uint64_t n;

	return read(fd, &n, sizeof(n)) == sizeof(n);
}

static void test_backend_serves_ring(void **state)
{
	struct fixture *f = *state;
	uint32_t id, len;
	uint16_t head;
	struct vu_msg reply;

	start_ring(f, (1ull << VIRTIO_F_VERSION_1) |
			      (1ull << VU_F_PROTOCOL_FEATURES));
	head = add_request(f);

	/* With protocol features the ring waits for SET_VRING_ENABLE. */
	vu_backend_process(&f->b, 1);
	assert_int_equal(f->served, 0);
	assert_int_equal(req_state(f, VU_SET_VRING_ENABLE, 1, 1, NULL), 0);
	assert_int_equal(f->served, 1);
	assert_true(vqd_get_used(&f->drv, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, sizeof(REPLY));
	assert_string_equal((char *)gmem_ptr(&f->mem, REP_GPA, 8), REPLY);
	assert_true(fd_fired(f->call));
	assert_false(fd_fired(f->err));

	/* GET_VRING_BASE stops the ring and says where it stood. */
	assert_int_equal(req_state(f, VU_GET_VRING_BASE, 1, 0, &reply), 1);
	assert_int_equal(reply.payload.state.index, 1);
	assert_int_equal(reply.payload.state.num, 1);
	assert_int_equal(vu_backend_kick_fd(&f->b, 1), -1);
	add_request(f);
	vu_backend_process(&f->b, 1);
	assert_int_equal(f->served, 1);
}

static void test_backend_without_protocol_features(void **state)
{
	struct fixture *f = *state;
	uint32_t id, len;

	/* "Ring states": enabled as soon as it starts. */
	start_ring(f, 1ull << VIRTIO_F_VERSION_1);
	add_request(f);
	vu_backend_process(&f->b, 1);
	assert_int_equal(f->served, 1);
	assert_true(vqd_get_used(&f->drv, &id, &len));
}

static void test_backend_resumes_at_base(void **state)
{
	struct fixture *f = *state;
	uint32_t id, len;

	/* The driver already made 3 chains available and got them back. */
	for (int i = 0; i < 3; i++)
		add_request(f);
	f->drv.last_used = 3;
	vqd_put16(&f->mem, f->drv.used + 2, 3);
	add_request(f);
	start_ring(f, 1ull << VIRTIO_F_VERSION_1);
	assert_int_equal(req_state(f, VU_SET_VRING_BASE, 1, 3, NULL), 0);
	vu_backend_process(&f->b, 1);
	assert_int_equal(f->served, 1);
	assert_true(vqd_get_used(&f->drv, &id, &len));
	assert_int_equal(id, 6); /* the 4th chain's head */
}

static void test_backend_reply_ack(void **state)
{
	struct fixture *f = *state;
	struct vu_msg m, reply;

	assert_int_equal(req_u64(f, VU_SET_PROTOCOL_FEATURES,
				 1ull << VU_PROTOCOL_F_REPLY_ACK),
			 0);
	vu_msg_init(&m, VU_SET_VRING_NUM, 8);
	m.hdr.flags |= VU_FLAG_NEED_REPLY;
	m.payload.state = (struct vu_vring_state){1, 16};
	assert_int_equal(handle(f, &m, &reply), 1);
	assert_int_equal(reply.payload.u64, 0);

	/* Not a power of two; a ring that does not exist. */
	m.payload.state = (struct vu_vring_state){1, 24};
	assert_int_equal(handle(f, &m, &reply), 1);
	assert_int_not_equal(reply.payload.u64, 0);
	m.payload.state = (struct vu_vring_state){7, 16};
	assert_int_equal(handle(f, &m, &reply), 1);
	assert_int_not_equal(reply.payload.u64, 0);

	/* Protocol features never offered are refused. */
	m.hdr.request = VU_SET_PROTOCOL_FEATURES;
	m.payload.u64 = 1ull << 40;
	assert_int_equal(handle(f, &m, &reply), 1);
	assert_int_not_equal(reply.payload.u64, 0);
}

static void test_backend_bad_ring_signals_err(void **state)
{
	struct fixture *f = *state;

	start_ring(f, 1ull << VIRTIO_F_VERSION_1);

	/* A descriptor table that is not in the memory table. */
	assert_int_equal(req_state(f, VU_SET_VRING_NUM, 1, QSIZE, NULL), 0);
	{
		struct vu_msg m;

		vu_msg_init(&m, VU_SET_VRING_ADDR, sizeof(m.payload.addr));
		m.payload.addr.index = 1;
		m.payload.addr.desc_user_addr = 0x1000; /* not ours */
		m.payload.addr.avail_user_addr = (uintptr_t)f->mem.base;
		m.payload.addr.used_user_addr = (uintptr_t)f->mem.base;
		assert_int_equal(handle(f, &m, NULL), 0);
	}
	add_request(f);
	vu_backend_process(&f->b, 1);
	assert_int_equal(f->served, 0);
	assert_true(fd_fired(f->err));

	/* A chain that loops: the ring stops, the err fd fires. */
	assert_int_equal(req_addr(f, 1, f->drv.desc), 0);
	vqd_desc(&f->drv, 0, REQ_GPA, 64, VIRTQ_DESC_F_NEXT, 0);
	vu_backend_process(&f->b, 1);
	assert_true(fd_fired(f->err));
	assert_int_equal(f->served, 0);
}

static void test_backend_refuses(void **state)
{
	struct fixture *f = *state;
	struct vu_msg m;

	/* Features beyond the offer, an unknown request: no silent yes. */
	assert_int_equal(req_u64(f, VU_SET_FEATURES, 1ull << 45), 0);
	assert_int_equal(f->b.acked, 0);
	vu_msg_init(&m, 77, 0);
	assert_int_equal(handle(f, &m, NULL), -EPROTO);
	m = make(VU_SET_VRING_NUM, 3, 0);
	assert_int_equal(handle(f, &m, NULL), -EPROTO);

	/* A memory table whose fd cannot be mapped keeps the old one. */
	vu_msg_init(&m, VU_SET_MEM_TABLE, 8 + 32);
	m.payload.mem.nr_regions = 1;
	m.payload.mem.regions[0].size = MEM_BYTES;
	m.fds[0] = eventfd(0, EFD_CLOEXEC);
	m.nr_fds = 1;
	assert_int_equal(handle(f, &m, NULL), 0);
	assert_int_equal(f->b.nr_maps, 0);

	/* Polling mode (a kick without fd) is not offered. */
	vu_msg_init(&m, VU_SET_VRING_KICK, 8);
	m.payload.u64 = 1 | VU_VRING_NOFD;
	assert_int_equal(handle(f, &m, NULL), 0);
	assert_int_equal(vu_backend_kick_fd(&f->b, 1), -1);
}

static void test_user_to_gpa(void **state)
{
	struct fixture *f = *state;
	gpa_t gpa;

	assert_int_equal(req_mem_table(f), 0);
	assert_int_equal(vu_backend_user_to_gpa(
				 &f->b, (uintptr_t)f->mem.base + 0x1234, &gpa),
			 0);
	assert_int_equal(gpa, 0x1234);
	assert_int_equal(
		vu_backend_user_to_gpa(
			&f->b, (uintptr_t)f->mem.base + MEM_BYTES, &gpa),
		-EFAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_roundtrip_with_fd),
		cmocka_unit_test(test_msg_recv_eof_and_truncation),
		cmocka_unit_test(test_msg_check),
		cmocka_unit_test_setup_teardown(test_backend_serves_ring, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_backend_without_protocol_features, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_backend_resumes_at_base,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_reply_ack, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_backend_bad_ring_signals_err, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_refuses, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_user_to_gpa, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
