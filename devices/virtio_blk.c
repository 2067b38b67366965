/* virtio-blk: request queues over a raw image through io_uring. */
#include "devices/virtio_blk.h"
#include "devices/blk_req.h"
#include "devices/blk_uring.h"
#include "vmm/log.h"
#include "vmm/util.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Data buffers a request holds without a separate allocation. */
#define VIRTIO_BLK_INLINE_IOV 8

/* How long a reset waits for I/O in flight before giving up on it. */
#define VIRTIO_BLK_RESET_WAIT_S 10

/* The most one merged read or write may cover (see virtio_blk_run_add). */
#define VIRTIO_BLK_MERGE_MAX_BYTES (2u << 20)
#define VIRTIO_BLK_MERGE_MAX_IOV   IOV_MAX

struct virtio_blk_queue;

/* One chain taken from the driver and not yet returned. */
struct virtio_blk_request {
	struct blk_io io;
	struct virtio_blk_queue *q;
	struct virtio_blk_request *next_free;
	struct virtio_blk_request *run_next; /* in a queue's run or a group */
	uint8_t *status;
	uint32_t used_len;   /* bytes written for the driver, status too */
	uint32_t generation; /* the device's, when the chain was taken */
	uint16_t head;
	struct iovec *iov; /* iov_inline or allocated */
	struct iovec iov_inline[VIRTIO_BLK_INLINE_IOV];
};

struct virtio_blk_queue {
	struct virtio_blk *blk;
	struct virtqueue *vq;
	struct iovec *chain_iov; /* queue_size: vq_pop_chain's */
	struct iovec *data_iov;  /* queue_size: blk_req_parse's */
	struct virtio_blk_request *reqs;
	struct virtio_blk_request *free;
	/* Requests started since the last submission, in order (lock). */
	struct virtio_blk_request *run_first, *run_last;
	unsigned int run_nr, run_iov;
	uint64_t run_bytes;
};

/*
 * Contiguous reads (or writes) taken from the driver together, as one
 * back-end operation over all their buffers.
 */
struct virtio_blk_group {
	struct blk_io io;
	struct virtio_blk_queue *q;
	struct virtio_blk_request *first;
	struct iovec iov[];
};

struct virtio_blk {
	struct virtio_dev dev;
	char name[24];
	struct blk_options opts;
	struct blk_image img;
	struct blk_backend be;
	uint8_t config[VIRTIO_BLK_CONFIG_SIZE];
	struct blk_limits lim; /* lock; set on activate */
	struct virtqueue *vqs;
	struct virtio_blk_queue *queues;
	unsigned int in_flight; /* lock */
	uint32_t generation;    /* lock; bumped by reset */
	pthread_cond_t idle;    /* in_flight reached 0 */
	pthread_t loop_thread;  /* lock */
	bool loop_thread_known; /* lock */
};

static void put_le16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

/* virtio 1.2, 5.2.4: the configuration space, fixed for the VM's life. */
static void virtio_blk_build_config(struct virtio_blk *blk)
{
	uint8_t *c = blk->config;

	memset(c, 0, sizeof(blk->config));
	put_le64(c + VIRTIO_BLK_CFG_CAPACITY, blk->img.capacity);
	put_le32(c + VIRTIO_BLK_CFG_SIZE_MAX, VIRTIO_BLK_SIZE_MAX);
	/* virtio 1.2, 5.2.5: header and status take two descriptors. */
	put_le32(c + VIRTIO_BLK_CFG_SEG_MAX, blk->opts.queue_size - 2);
	put_le32(c + VIRTIO_BLK_CFG_BLK_SIZE, blk->img.block_size);
	put_le16(c + VIRTIO_BLK_CFG_NUM_QUEUES, (uint16_t)blk->opts.num_queues);
	put_le32(c + VIRTIO_BLK_CFG_MAX_DISCARD, VIRTIO_BLK_MAX_DWZ_SECTORS);
	put_le32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 1);
	put_le32(c + VIRTIO_BLK_CFG_DISCARD_ALIGN,
		 blk->img.block_size >> BLK_SECTOR_SHIFT);
	put_le32(c + VIRTIO_BLK_CFG_MAX_WZ, VIRTIO_BLK_MAX_DWZ_SECTORS);
	put_le32(c + VIRTIO_BLK_CFG_MAX_WZ_SEG, 1);
	c[VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 1;
}

static uint64_t virtio_blk_features(const struct blk_options *opts)
{
	uint64_t f = (1ull << VIRTIO_F_VERSION_1) |
		     (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
		     (1ull << VIRTIO_RING_F_EVENT_IDX) |
		     (1ull << VIRTIO_BLK_F_SIZE_MAX) |
		     (1ull << VIRTIO_BLK_F_SEG_MAX) |
		     (1ull << VIRTIO_BLK_F_BLK_SIZE) |
		     (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_MQ);

	/* A read-only disk says so and offers nothing that writes. */
	if (opts->readonly)
		return f | (1ull << VIRTIO_BLK_F_RO);
	return f | (1ull << VIRTIO_BLK_F_DISCARD) |
	       (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
}

static void virtio_blk_config_read(struct virtio_dev *dev, uint32_t offset,
				   uint8_t *data, uint32_t len)
{
	struct virtio_blk *blk = container_of(dev, struct virtio_blk, dev);

	memcpy(data, blk->config + offset, len);
}

/* Nothing is writable without CONFIG_WCE, which minnow does not offer. */
static void virtio_blk_config_write(struct virtio_dev *dev, uint32_t offset,
				    const uint8_t *data, uint32_t len)
{
	(void)data;
	log_warn_ratelimited(&dev->rl,
			     "%s: driver wrote %u config bytes at "
			     "%u; ignored",
			     dev->name, len, offset);
}

static struct virtio_blk_request *virtio_blk_get_req(struct virtio_blk_queue *q)
{
	struct virtio_blk_request *r = q->free;

	if (r)
		q->free = r->next_free;
	return r;
}

static void virtio_blk_put_req(struct virtio_blk_queue *q,
			       struct virtio_blk_request *r)
{
	if (r->iov != r->iov_inline)
		free(r->iov);
	r->iov = r->iov_inline;
	r->next_free = q->free;
	q->free = r;
}

/* Returns r's chain to the driver with status, unless a reset came between. */
static void virtio_blk_answer(struct virtio_blk_queue *q,
			      struct virtio_blk_request *r, uint8_t status)
{
	if (r->generation != q->blk->generation)
		return;
	*r->status = status;
	vq_push_used(q->vq, r->head,
		     status == VIRTIO_BLK_S_OK ? r->used_len : 1);
}

/*
 * Answers a request whose I/O finished and frees it. Returns whether its
 * answer went to the driver (no reset since it was taken). Under the lock.
 */
static bool virtio_blk_finish(struct virtio_blk_queue *q,
			      struct virtio_blk_request *r, int err)
{
	struct virtio_blk *blk = q->blk;
	bool current = r->generation == blk->generation;

	virtio_blk_answer(q, r, err ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
	virtio_blk_put_req(q, r);
	if (--blk->in_flight == 0)
		pthread_cond_broadcast(&blk->idle);
	return current;
}

/* Back-end completion of one request, on the loop thread. */
static void virtio_blk_io_done(struct blk_io *io, int err)
{
	struct virtio_blk_request *r = container_of(
		io, struct virtio_blk_request, io);
	struct virtio_blk_queue *q = r->q;
	struct virtio_blk *blk = q->blk;

	pthread_mutex_lock(&blk->dev.lock);
	if (virtio_blk_finish(q, r, err))
		virtio_notify_queue(&blk->dev, q->vq);
	pthread_mutex_unlock(&blk->dev.lock);
}

/*
 * Back-end completion of a group: every request answered, then one
 * notification for all. A failed group is retried request by request, so
 * that an error reaches only the requests it belongs to.
 */
static void virtio_blk_group_done(struct blk_io *io, int err)
{
	struct virtio_blk_group *g = container_of(io, struct virtio_blk_group,
						  io);
	struct virtio_blk_queue *q = g->q;
	struct virtio_blk *blk = q->blk;
	struct virtio_blk_request *r, *next;
	bool notify = false;

	if (err && err != -ECANCELED) {
		for (r = g->first; r; r = next) {
			next = r->run_next;
			blk_io_submit(&blk->be, &r->io);
		}
		free(g);
		return;
	}

	pthread_mutex_lock(&blk->dev.lock);
	for (r = g->first; r; r = next) {
		next = r->run_next;
		notify |= virtio_blk_finish(q, r, err);
	}
	if (notify)
		virtio_notify_queue(&blk->dev, q->vq);
	pthread_mutex_unlock(&blk->dev.lock);
	free(g);
}

/*
 * Submits the requests of q's run: alone, or as one group when there are
 * several (they are contiguous; see virtio_blk_run_add).
 */
static void virtio_blk_run_submit(struct virtio_blk_queue *q)
{
	struct virtio_blk_request *r = q->run_first, *next;
	struct virtio_blk_group *g = NULL;
	unsigned int n = 0;

	if (q->run_nr > 1)
		g = malloc(sizeof(*g) + sizeof(g->iov[0]) * q->run_iov);
	if (g) {
		g->q = q;
		g->first = r;
		g->io = (struct blk_io){
			.kind = r->io.kind,
			.offset = r->io.offset,
			.len = q->run_bytes,
			.iov = g->iov,
			.nr_iov = q->run_iov,
			.done = virtio_blk_group_done,
		};
		for (; r; r = r->run_next) {
			memcpy(g->iov + n, r->io.iov,
			       sizeof(g->iov[0]) * r->io.nr_iov);
			n += r->io.nr_iov;
		}
		blk_io_submit(&q->blk->be, &g->io);
	} else {
		/* One request, or no memory to merge: each on its own. */
		for (; r; r = next) {
			next = r->run_next;
			blk_io_submit(&q->blk->be, &r->io);
		}
	}
	q->run_first = q->run_last = NULL;
	q->run_nr = q->run_iov = 0;
	q->run_bytes = 0;
}

/* Whether r may join q's run: it continues the run's read or write. */
static bool virtio_blk_run_fits(const struct virtio_blk_queue *q,
				const struct virtio_blk_request *r)
{
	const struct blk_io *last = &q->run_last->io;

	return (r->io.kind == BLK_OP_READ || r->io.kind == BLK_OP_WRITE) &&
	       r->io.kind == last->kind &&
	       last->offset + last->len == r->io.offset &&
	       q->run_iov + r->io.nr_iov <= VIRTIO_BLK_MERGE_MAX_IOV &&
	       q->run_bytes + r->io.len <= VIRTIO_BLK_MERGE_MAX_BYTES;
}

/*
 * Queues a started request for submission when the driver's batch has
 * been taken. Contiguous reads (or writes) that arrive together become
 * one readv (writev) over all their buffers: a sequential stream of
 * 128 KiB requests then costs the host one operation per batch instead
 * of one per request. Anything else submits the run before it, so the
 * order of submission stays the driver's.
 */
static void virtio_blk_run_add(struct virtio_blk_queue *q,
			       struct virtio_blk_request *r)
{
	if (q->run_first && !virtio_blk_run_fits(q, r))
		virtio_blk_run_submit(q);
	r->run_next = NULL;
	if (q->run_first)
		q->run_last->run_next = r;
	else
		q->run_first = r;
	q->run_last = r;
	q->run_nr++;
	q->run_iov += r->io.nr_iov;
	q->run_bytes += r->io.len;
	if (r->io.kind != BLK_OP_READ && r->io.kind != BLK_OP_WRITE)
		virtio_blk_run_submit(q);
}

/* virtio 1.2, 5.2.6: the serial, NUL-padded when shorter than 20 bytes. */
static uint32_t virtio_blk_get_id(struct virtio_blk *blk,
				  const struct blk_req *req)
{
	uint8_t id[VIRTIO_BLK_ID_BYTES] = {0};

	memcpy(id, blk->opts.serial, strlen(blk->opts.serial));
	return (uint32_t)blk_iov_scatter(req->data, req->nr_data, id,
					 MIN(req->data_bytes, sizeof(id)));
}

/* Gives the request its own copy of the data iovecs. */
static int virtio_blk_take_iov(struct virtio_blk_request *r,
			       const struct blk_req *req)
{
	r->iov = r->iov_inline;
	if (req->nr_data > VIRTIO_BLK_INLINE_IOV) {
		r->iov = malloc(sizeof(*r->iov) * req->nr_data);
		if (!r->iov) {
			r->iov = r->iov_inline;
			return -ENOMEM;
		}
	}
	if (req->nr_data)
		memcpy(r->iov, req->data, sizeof(*r->iov) * req->nr_data);
	return 0;
}

/* Starts the back end on a parsed request that needs I/O. */
static void virtio_blk_start_io(struct virtio_blk_queue *q,
				struct virtio_blk_request *r,
				const struct blk_req *req)
{
	struct virtio_blk *blk = q->blk;

	if (virtio_blk_take_iov(r, req)) {
		virtio_blk_answer(q, r, VIRTIO_BLK_S_IOERR);
		virtio_blk_put_req(q, r);
		return;
	}
	r->io = (struct blk_io){
		.kind = req->op,
		.offset = req->offset,
		.len = req->len,
		.iov = r->iov,
		.nr_iov = req->nr_data,
		.unmap = req->unmap,
		.done = virtio_blk_io_done,
	};
	blk->in_flight++;
	virtio_blk_run_add(q, r);
}

/*
 * Handles one chain: answers it at once or starts its I/O. Returns false
 * when the chain was malformed and the device failed.
 */
static bool virtio_blk_handle(struct virtio_blk_queue *q,
			      const struct vq_chain *chain)
{
	struct virtio_blk *blk = q->blk;
	struct virtio_blk_request *r;
	struct blk_req req;
	int err;

	err = blk_req_parse(chain, &blk->lim, q->data_iov, chain->iov_cap,
			    &req);
	if (err) {
		virtio_dev_fail(&blk->dev, "queue %u: request %u: %s",
				(unsigned int)(q->vq - blk->vqs), chain->head,
				blk_req_strerror(err));
		return false;
	}
	r = virtio_blk_get_req(q);
	r->head = chain->head;
	r->status = req.status_ptr;
	r->generation = blk->generation;
	r->used_len = 1;
	if (req.type == VIRTIO_BLK_T_IN)
		r->used_len = (uint32_t)req.data_bytes + 1;

	/* Reading a read-only disk's cache back is all a flush could do. */
	if (req.op == BLK_OP_FLUSH && blk->img.readonly)
		req.op = BLK_OP_NONE;

	switch (req.op) {
	case BLK_OP_NONE:
		virtio_blk_answer(q, r, req.status);
		break;
	case BLK_OP_GET_ID:
		r->used_len = virtio_blk_get_id(blk, &req) + 1;
		virtio_blk_answer(q, r, VIRTIO_BLK_S_OK);
		break;
	default:
		virtio_blk_start_io(q, r, &req);
		return true;
	}
	virtio_blk_put_req(q, r);
	return true;
}

/* Takes every chain the driver made available on q, until it stops. */
static void virtio_blk_drain(struct virtio_blk_queue *q, unsigned int qidx)
{
	struct virtio_blk *blk = q->blk;
	struct virtio_dev *dev = &blk->dev;
	struct vq_chain chain = {.iov = q->chain_iov,
				 .iov_cap = blk->opts.queue_size};
	int ret;

	do {
		vq_disable_notify(q->vq);
		while ((ret = vq_pop_chain(q->vq, &chain)) == 1) {
			/* Each chain holds a descriptor: never more than the
			 * size. */
			if (!q->free) {
				virtio_dev_fail(dev,
						"queue %u: more than %u "
						"requests in flight",
						qidx, blk->opts.queue_size);
				return;
			}
			if (!virtio_blk_handle(q, &chain))
				return;
		}
		if (ret < 0) {
			virtio_dev_fail(dev, "queue %u: %s", qidx,
					vq_strerror(ret));
			return;
		}
		virtio_notify_queue(dev, q->vq);
	} while (vq_enable_notify(q->vq));
}

static void virtio_blk_queue_notify(struct virtio_dev *dev, unsigned int qidx)
{
	struct virtio_blk *blk = container_of(dev, struct virtio_blk, dev);
	struct virtio_blk_queue *q = &blk->queues[qidx];

	blk->loop_thread = pthread_self();
	blk->loop_thread_known = true;
	virtio_blk_drain(q, qidx);

	/* Requests started before a failure still complete. */
	if (q->run_first)
		virtio_blk_run_submit(q);
}

static int virtio_blk_activate(struct virtio_dev *dev)
{
	struct virtio_blk *blk = container_of(dev, struct virtio_blk, dev);

	blk->lim = (struct blk_limits){
		.capacity = blk->img.capacity,
		.readonly = blk->img.readonly,
		.discard = dev->driver_features &
			   (1ull << VIRTIO_BLK_F_DISCARD),
		.write_zeroes = dev->driver_features &
				(1ull << VIRTIO_BLK_F_WRITE_ZEROES),
		.max_discard_sectors = VIRTIO_BLK_MAX_DWZ_SECTORS,
		.max_write_zeroes_sectors = VIRTIO_BLK_MAX_DWZ_SECTORS,
	};
	return 0;
}

/*
 * virtio 1.2, 2.4: after a reset the driver may reuse every buffer, so
 * requests still in flight must not touch them: their answers are dropped
 * (generation), and a reset from a vCPU thread waits for their I/O.
 */
static void virtio_blk_reset(struct virtio_dev *dev)
{
	struct virtio_blk *blk = container_of(dev, struct virtio_blk, dev);
	struct timespec deadline;

	blk->generation++;
	if (!blk->in_flight || !blk->loop_thread_known ||
	    pthread_equal(blk->loop_thread, pthread_self()))
		return;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += VIRTIO_BLK_RESET_WAIT_S;
	while (blk->in_flight) {
		if (pthread_cond_timedwait(&blk->idle, &dev->lock, &deadline)) {
			log_warn("%s: reset: %u requests still in flight",
				 dev->name, blk->in_flight);
			break;
		}
	}
}

static void virtio_blk_free(struct virtio_blk *blk)
{
	for (unsigned int i = 0; blk->queues && i < blk->opts.num_queues; i++) {
		struct virtio_blk_queue *q = &blk->queues[i];

		for (unsigned int j = 0; q->reqs && j < blk->opts.queue_size;
		     j++)
			if (q->reqs[j].iov != q->reqs[j].iov_inline)
				free(q->reqs[j].iov);
		free(q->reqs);
		free(q->chain_iov);
		free(q->data_iov);
	}
	free(blk->queues);
	free(blk->vqs);
	blk_image_close(&blk->img);
	pthread_cond_destroy(&blk->idle);
	free(blk);
}

static void virtio_blk_destroy(struct virtio_dev *dev)
{
	virtio_blk_free(container_of(dev, struct virtio_blk, dev));
}

static const struct virtio_dev_ops virtio_blk_ops = {
	.config_read = virtio_blk_config_read,
	.config_write = virtio_blk_config_write,
	.queue_notify = virtio_blk_queue_notify,
	.activate = virtio_blk_activate,
	.reset = virtio_blk_reset,
	.destroy = virtio_blk_destroy,
};

static int virtio_blk_alloc_queue(struct virtio_blk *blk, unsigned int i)
{
	struct virtio_blk_queue *q = &blk->queues[i];
	unsigned int size = blk->opts.queue_size;

	q->blk = blk;
	q->vq = &blk->vqs[i];
	q->chain_iov = calloc(size, sizeof(*q->chain_iov));
	q->data_iov = calloc(size, sizeof(*q->data_iov));
	q->reqs = calloc(size, sizeof(*q->reqs));
	if (!q->chain_iov || !q->data_iov || !q->reqs)
		return -ENOMEM;
	for (unsigned int j = size; j-- > 0;) {
		q->reqs[j].q = q;
		q->reqs[j].iov = q->reqs[j].iov_inline;
		virtio_blk_put_req(q, &q->reqs[j]);
	}
	return 0;
}

static int virtio_blk_alloc(struct virtio_blk *blk)
{
	unsigned int n = blk->opts.num_queues;
	int err = 0;

	blk->vqs = calloc(n, sizeof(*blk->vqs));
	blk->queues = calloc(n, sizeof(*blk->queues));
	if (!blk->vqs || !blk->queues)
		return -ENOMEM;
	for (unsigned int i = 0; i < n && !err; i++)
		err = virtio_blk_alloc_queue(blk, i);
	return err;
}

int virtio_blk_create(const struct blk_options *opts, struct evloop *loop,
		      unsigned int index, struct virtio_dev **out)
{
	struct virtio_blk *blk = calloc(1, sizeof(*blk));
	int err;

	if (!blk)
		return -ENOMEM;
	blk->opts = *opts;
	blk->img.fd = -1;
	pthread_cond_init(&blk->idle, NULL);
	snprintf(blk->name, sizeof(blk->name), "virtio-blk%u", index);
	err = blk_image_open(&blk->img, &blk->opts);
	if (err)
		goto err_free;
	err = virtio_blk_alloc(blk);
	if (err) {
		log_error("%s: out of memory", blk->name);
		goto err_free;
	}
	blk_backend_init(&blk->be, loop, &blk->img, blk->name);
	err = blk_backend_cap_workers(&blk->be, opts->num_queues);
	if (err) {
		log_error("%s: cannot cap io_uring workers: %s", blk->name,
			  strerror(-err));
		goto err_free;
	}
	virtio_blk_build_config(blk);
	blk->dev = (struct virtio_dev){
		.name = blk->name,
		.device_id = VIRTIO_ID_BLOCK,
		.features = virtio_blk_features(opts),
		.nr_queues = opts->num_queues,
		.queue_max_size = (uint16_t)opts->queue_size,
		.config_size = VIRTIO_BLK_CONFIG_SIZE,
		.ops = &virtio_blk_ops,
		.vqs = blk->vqs,
	};
	log_debug("%s: %s, %llu sectors%s%s", blk->name, opts->path,
		  (unsigned long long)blk->img.capacity,
		  opts->readonly ? ", read-only" : "",
		  opts->direct ? ", O_DIRECT" : "");
	*out = &blk->dev;
	return 0;

err_free:
	virtio_blk_free(blk);
	return err;
}
