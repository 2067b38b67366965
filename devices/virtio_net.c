/* virtio-net: moving packets between a tap and the guest's virtqueues. */
#include "devices/virtio_net.h"
#include "devices/net_hdr.h"
#include "devices/net_offload.h"
#include "devices/net_spec.h"
#include "vmm/log.h"
#include "vmm/util.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>

#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1

/*
 * Receive buffers gathered for one read: enough iovecs that one more chain
 * always fits (a chain has at most queue-size buffers), and a bound on the
 * chains a mergeable packet may span.
 */
#define VIRTIO_NET_RX_IOV    (2 * VIRTIO_NET_QUEUE_SIZE)
#define VIRTIO_NET_RX_CHAINS 64u

/*
 * Receive reads submitted together, one per chain, when each chain can
 * take the largest packet alone: one io_uring_enter for up to this many
 * packets.
 */
#define VIRTIO_NET_RX_BATCH 16u

/* Transmit writes in flight at once. */
#define VIRTIO_NET_TX_OPS 32u

/* The largest packet read through the bounce buffer, header included. */
#define VIRTIO_NET_BOUNCE_BYTES (NET_HDR_LEN + NET_GSO_MAX_FRAME)

/* One receive chain held for the next read. */
struct net_rx_slot {
	uint16_t head;
	uint32_t cap; /* writable bytes */
	unsigned int first_iov;
	unsigned int nr_iov;
};

enum net_rx_state {
	NET_RX_IDLE,    /* nothing in flight */
	NET_RX_READING, /* a read is in flight */
	NET_RX_POLLING, /* waiting for the tap to become readable */
};

struct virtio_net;

/* One read of a batch, into the held chain with the same index. */
struct net_rx_read {
	struct ev_op op;
	struct virtio_net *net;
	int res;
};

/* One transmit write in flight, with the chain it came from. */
struct net_tx_op {
	struct ev_op op;
	struct virtio_net *net;
	uint32_t gen;
	uint16_t head;
	uint32_t frame_len;
	struct iovec iov[VIRTIO_NET_QUEUE_SIZE];
};

struct virtio_net {
	struct virtio_dev dev;
	struct virtqueue vqs[2];
	struct evloop *loop;
	struct net_tap tap;
	struct virtio_net_config config;
	uint32_t mtu;

	/* Bumped on reset; a completion from an older one is stale. */
	uint32_t gen;

	/* Receive: all under dev->lock. */
	struct ev_op rx_op;
	enum net_rx_state rx_state;
	uint32_t rx_gen;
	bool rx_stalled; /* out of buffers: resume on the next kick */
	bool rx_bounced; /* the read in flight targets rx_bounce */
	unsigned int rx_nr_iov, rx_nr_chains;
	unsigned int rx_nr_whole; /* leading chains that hold rx_need alone */
	uint32_t rx_need;         /* header + the largest packet */
	unsigned int rx_nr_reads, rx_nr_pending; /* batch in flight */
	struct net_rx_read rx_reads[VIRTIO_NET_RX_BATCH];
	uint32_t rx_cap;
	struct iovec rx_iov[VIRTIO_NET_RX_IOV];
	struct net_rx_slot rx_chains[VIRTIO_NET_RX_CHAINS];
	struct iovec rx_bounce_iov;
	uint8_t *rx_bounce;

	/* Transmit: under dev->lock. */
	struct net_tx_op *tx_ops;
	unsigned int tx_nr_free;
	unsigned int tx_free[VIRTIO_NET_TX_OPS];
	bool tx_blocked; /* stopped for want of a free op */

	struct virtio_net_counters stats; /* dev->lock */
};

static struct virtio_net *to_net(struct virtio_dev *dev)
{
	return container_of(dev, struct virtio_net, dev);
}

/*
 * The MTU the driver works to: ours if it took VIRTIO_NET_F_MTU, else it
 * assumes Ethernet's 1500 (virtio 1.2, 5.1.6.2), which we then allow too.
 */
static uint32_t net_effective_mtu(const struct virtio_net *net)
{
	if (net->dev.driver_features & NET_FEATURE(VIRTIO_NET_F_MTU))
		return net->mtu;
	return MAX(net->mtu, NET_MTU_DEFAULT);
}

/* ---- receive ---------------------------------------------------------- */

static void net_rx_forget(struct virtio_net *net)
{
	net->rx_nr_iov = 0;
	net->rx_nr_chains = 0;
	net->rx_nr_whole = 0;
	net->rx_cap = 0;
}

/* True while gathering should go on (see net_rx_gather). */
static bool net_rx_want_more(const struct virtio_net *net, uint32_t need,
			     bool mrg)
{
	bool all_whole = net->rx_nr_whole == net->rx_nr_chains;

	if (net->rx_nr_chains >= VIRTIO_NET_RX_CHAINS ||
	    net->rx_nr_iov + VIRTIO_NET_QUEUE_SIZE > VIRTIO_NET_RX_IOV)
		return false;
	if (all_whole)
		return net->rx_nr_chains < VIRTIO_NET_RX_BATCH;
	return mrg && net->rx_cap < need;
}

/*
 * Takes chains off the receive queue: while each holds need bytes alone,
 * up to a batch of them; otherwise until they hold need bytes together.
 * Without MRG_RXBUF one chain holds one packet (virtio 1.2, 5.1.6.3), so
 * a chain too small for need ends the gathering. Stops early when the
 * queue is empty. Returns false if the driver broke the rules (the device
 * is then failed).
 */
static bool net_rx_gather(struct virtio_net *net, uint32_t need)
{
	struct virtqueue *vq = &net->vqs[VIRTIO_NET_RXQ];
	bool mrg = net->dev.driver_features &
		   NET_FEATURE(VIRTIO_NET_F_MRG_RXBUF);

	while (net_rx_want_more(net, need, mrg)) {
		struct net_rx_slot *slot = &net->rx_chains[net->rx_nr_chains];
		struct vq_chain chain = {
			.iov = net->rx_iov + net->rx_nr_iov,
			.iov_cap = VIRTIO_NET_RX_IOV - net->rx_nr_iov,
		};
		int ret = vq_pop_chain(vq, &chain);

		if (ret == 0)
			break;
		if (ret < 0) {
			virtio_dev_fail(&net->dev, "receiveq: %s",
					vq_strerror(ret));
			return false;
		}
		/* virtio 1.2, 5.1.6.3.1: writable, and room for the header. */
		if (chain.nr_readable || chain.writable_bytes < NET_HDR_LEN) {
			virtio_dev_fail(&net->dev,
					"receive buffer %u: %u readable "
					"buffers, %u writable bytes",
					chain.head, chain.nr_readable,
					chain.writable_bytes);
			return false;
		}
		*slot = (struct net_rx_slot){
			.head = chain.head,
			.cap = chain.writable_bytes,
			.first_iov = net->rx_nr_iov,
			.nr_iov = chain.nr_writable,
		};
		if (net->rx_nr_whole == net->rx_nr_chains &&
		    chain.writable_bytes >= need)
			net->rx_nr_whole++;
		net->rx_nr_iov += chain.nr_writable;
		net->rx_nr_chains++;
		net->rx_cap += chain.writable_bytes;
	}
	return true;
}

/*
 * Starts one read per leading chain that holds a whole packet, all in one
 * submission. Like net_rx_submit's read, each is done before the submit
 * returns.
 */
static void net_rx_submit_batch(struct virtio_net *net)
{
	unsigned int n = MIN(net->rx_nr_whole, VIRTIO_NET_RX_BATCH);

	for (unsigned int i = 0; i < n; i++) {
		const struct net_rx_slot *s = &net->rx_chains[i];
		struct net_rx_read *r = &net->rx_reads[i];

		io_uring_prep_readv2(evloop_prep(net->loop, &r->op),
				     net->tap.fd, net->rx_iov + s->first_iov,
				     s->nr_iov, (uint64_t)-1, RWF_NOWAIT);
	}
	net->rx_nr_reads = n;
	net->rx_nr_pending = n;
	net->rx_gen = net->gen;
	net->rx_state = NET_RX_READING;
	io_uring_submit(&net->loop->ring);
}

/*
 * Starts the read, straight into the gathered buffers when they can take
 * the largest packet, else into the bounce buffer. It is submitted at
 * once, under the lock, and never waits: it is done (or has failed with
 * -EAGAIN, and a poll then waits instead) before a vCPU can reset the
 * device and reuse the buffers.
 */
static void net_rx_submit(struct virtio_net *net, uint32_t need)
{
	struct io_uring_sqe *sqe;
	const struct iovec *iov = net->rx_iov;
	unsigned int nr = net->rx_nr_iov;

	if (net->rx_nr_whole) {
		net_rx_submit_batch(net);
		return;
	}
	sqe = evloop_prep(net->loop, &net->rx_op);
	net->rx_nr_reads = 0;
	net->rx_bounced = net->rx_cap < need;
	if (net->rx_bounced) {
		iov = &net->rx_bounce_iov;
		nr = 1;
	}
	/*
	 * RWF_NOWAIT: the file's O_NONBLOCK alone does not stop io_uring
	 * from parking the read until data comes, by which time a reset
	 * may have handed the buffers back to the guest.
	 */
	io_uring_prep_readv2(sqe, net->tap.fd, iov, nr, (uint64_t)-1,
			     RWF_NOWAIT);
	net->rx_gen = net->gen;
	net->rx_state = NET_RX_READING;
	io_uring_submit(&net->loop->ring);
}

/* Reads the next packet if the driver has buffers for it. */
static void net_rx_try(struct virtio_net *net)
{
	struct virtqueue *vq = &net->vqs[VIRTIO_NET_RXQ];
	uint32_t need;

	if (net->rx_state != NET_RX_IDLE || !virtio_dev_running(&net->dev) ||
	    !vq->ready || net->loop->stopping)
		return;
	need = (uint32_t)NET_HDR_LEN +
	       net_rx_max_frame(net->dev.driver_features,
				net_effective_mtu(net));
	if (need != net->rx_need) {
		/* Features changed since the chains were held: recount. */
		net->rx_need = need;
		net->rx_nr_whole = 0;
		while (net->rx_nr_whole < net->rx_nr_chains &&
		       net->rx_chains[net->rx_nr_whole].cap >= need)
			net->rx_nr_whole++;
	}
	for (;;) {
		if (!net_rx_gather(net, need))
			return;
		if (net->rx_nr_chains)
			break;

		/* virtio 1.2, 2.7.10: ask for a kick, then look again. */
		if (!vq_enable_notify(vq)) {
			net->rx_stalled = true;
			return;
		}
	}
	vq_disable_notify(vq);
	net->rx_stalled = false;
	net_rx_submit(net, need);
}

/* Drops the first n held chains, keeping the rest in order. */
static void net_rx_consume(struct virtio_net *net, unsigned int n)
{
	unsigned int iov_off;

	if (n == net->rx_nr_chains) {
		net_rx_forget(net);
		return;
	}
	iov_off = net->rx_chains[n].first_iov;
	memmove(net->rx_iov, net->rx_iov + iov_off,
		(net->rx_nr_iov - iov_off) * sizeof(net->rx_iov[0]));
	memmove(net->rx_chains, net->rx_chains + n,
		(net->rx_nr_chains - n) * sizeof(net->rx_chains[0]));
	net->rx_nr_chains -= n;
	net->rx_nr_iov -= iov_off;
	net->rx_cap = 0;
	net->rx_nr_whole = 0;
	for (unsigned int i = 0; i < net->rx_nr_chains; i++) {
		net->rx_chains[i].first_iov -= iov_off;
		net->rx_cap += net->rx_chains[i].cap;
		if (net->rx_nr_whole == i &&
		    net->rx_chains[i].cap >= net->rx_need)
			net->rx_nr_whole++;
	}
}

/*
 * Keeps only the first n held chains whose keep[] is true, in order, and
 * everything held after the first n.
 */
static void net_rx_keep(struct virtio_net *net, const bool *keep,
			unsigned int n)
{
	unsigned int dst = 0, dst_iov = 0;

	for (unsigned int i = 0; i < net->rx_nr_chains; i++) {
		struct net_rx_slot s = net->rx_chains[i];

		if (i < n && !keep[i])
			continue;
		memmove(net->rx_iov + dst_iov, net->rx_iov + s.first_iov,
			s.nr_iov * sizeof(net->rx_iov[0]));
		s.first_iov = dst_iov;
		net->rx_chains[dst++] = s;
		dst_iov += s.nr_iov;
	}
	net->rx_nr_chains = dst;
	net->rx_nr_iov = dst_iov;
	net->rx_cap = 0;
	net->rx_nr_whole = 0;
	for (unsigned int i = 0; i < dst; i++) {
		net->rx_cap += net->rx_chains[i].cap;
		if (net->rx_nr_whole == i &&
		    net->rx_chains[i].cap >= net->rx_need)
			net->rx_nr_whole++;
	}
}

/*
 * Hands a packet of len bytes (header included) to the driver: copies it
 * from the bounce buffer if it was read there, completes the header and
 * returns the chains it fills (virtio 1.2, 5.1.6.4).
 */
static void net_rx_deliver(struct virtio_net *net, size_t len)
{
	struct virtqueue *vq = &net->vqs[VIRTIO_NET_RXQ];
	uint32_t cap[VIRTIO_NET_RX_CHAINS], used[VIRTIO_NET_RX_CHAINS];
	const struct net_rx_slot *first = &net->rx_chains[0];
	struct virtio_net_hdr hdr;
	unsigned int n;
	size_t off = 0;

	for (unsigned int i = 0; i < net->rx_nr_chains; i++)
		cap[i] = net->rx_chains[i].cap;
	n = net_rx_split(cap, net->rx_nr_chains, len, used);
	if (!n) {
		/* Only a bounced read can be larger than the buffers. */
		net->stats.rx_dropped++;
		return;
	}
	if (net->rx_bounced) {
		for (unsigned int i = 0; i < n; i++) {
			const struct net_rx_slot *s = &net->rx_chains[i];

			net_iov_from_buf(net->rx_iov + s->first_iov, s->nr_iov,
					 0, net->rx_bounce + off, used[i]);
			off += used[i];
		}
	}

	/* The tap wrote the header's first 10 bytes; finish it in place. */
	net_iov_to_buf(net->rx_iov + first->first_iov, first->nr_iov, 0, &hdr,
		       sizeof(hdr));
	net_hdr_rx_finish(&hdr, net->dev.driver_features, (uint16_t)n);
	net_iov_from_buf(net->rx_iov + first->first_iov, first->nr_iov, 0, &hdr,
			 sizeof(hdr));

	for (unsigned int i = 0; i < n; i++)
		vq_push_used(vq, net->rx_chains[i].head, used[i]);
	net_rx_consume(net, n);
	net->stats.rx_packets++;
	net->stats.rx_bytes += len - NET_HDR_LEN;
	virtio_notify_queue(&net->dev, vq);
}

/* Handles the result of a read that belongs to the current generation. */
static void net_rx_result(struct virtio_net *net, int res)
{
	if (res == -EAGAIN || res == -EINTR) {
		/* Nothing to read: wait for the tap, keeping the buffers. */
		io_uring_prep_poll_add(evloop_prep(net->loop, &net->rx_op),
				       net->tap.fd, POLLIN);
		net->rx_state = NET_RX_POLLING;
		return;
	}
	if (res == -ECANCELED) {
		/* The event loop is shutting down. */
		return;
	}
	if (res == -EFAULT || res == -EMSGSIZE) {
		/* Linux tun/tap: the packet was larger than the buffers. */
		net->stats.rx_dropped++;
	} else if (res < (int)NET_HDR_LEN) {
		net->stats.rx_errors++;
		log_warn_ratelimited(&net->dev.rl, "%s: %s: read: %s",
				     net->dev.name, net->tap.name,
				     res < 0 ? strerror(-res) : "short read");
		/* Do not spin on a broken tap: wait for the next kick. */
		net->rx_stalled = true;
		return;
	} else {
		net_rx_deliver(net, (size_t)res);
	}
	net_rx_try(net);
}

static void net_rx_complete(struct ev_op *op, int res, uint32_t flags)
{
	struct virtio_net *net = container_of(op, struct virtio_net, rx_op);
	bool was_read;

	(void)flags;
	pthread_mutex_lock(&net->dev.lock);
	was_read = net->rx_state == NET_RX_READING;
	net->rx_state = NET_RX_IDLE;
	if (net->rx_gen != net->gen) {
		/* Reset meanwhile: the buffers went with it. */
		if (was_read && res > 0)
			net->stats.rx_dropped++;
		net_rx_try(net);
	} else if (was_read) {
		net_rx_result(net, res);
	} else {
		net_rx_try(net);
	}
	pthread_mutex_unlock(&net->dev.lock);
}

/*
 * Hands the driver a packet of len bytes (header included) read into held
 * chain i alone (virtio 1.2, 5.1.6.4: num_buffers is 1).
 */
static void net_rx_deliver_one(struct virtio_net *net, unsigned int i,
			       size_t len)
{
	const struct net_rx_slot *s = &net->rx_chains[i];
	const struct iovec *iov = net->rx_iov + s->first_iov;
	struct virtio_net_hdr hdr;

	net_iov_to_buf(iov, s->nr_iov, 0, &hdr, sizeof(hdr));
	net_hdr_rx_finish(&hdr, net->dev.driver_features, 1);
	net_iov_from_buf(iov, s->nr_iov, 0, &hdr, sizeof(hdr));
	vq_push_used(&net->vqs[VIRTIO_NET_RXQ], s->head, (uint32_t)len);
	net->stats.rx_packets++;
	net->stats.rx_bytes += len - NET_HDR_LEN;
}

/*
 * Every read of a batch is back: delivers what came, keeps the chains of
 * reads that found nothing, and waits for the tap if one did. Returns to
 * the queue through net_rx_try() otherwise.
 */
static void net_rx_batch_result(struct virtio_net *net)
{
	bool keep[VIRTIO_NET_RX_BATCH];
	unsigned int n = net->rx_nr_reads, delivered = 0;
	bool empty = false, broken = false;

	for (unsigned int i = 0; i < n; i++) {
		int res = net->rx_reads[i].res;

		keep[i] = true;
		if (res == -EAGAIN || res == -EINTR) {
			empty = true;
		} else if (res == -ECANCELED) {
			/* The event loop is shutting down. */
			return;
		} else if (res == -EFAULT || res == -EMSGSIZE) {
			net->stats.rx_dropped++;
		} else if (res < (int)NET_HDR_LEN) {
			net->stats.rx_errors++;
			log_warn_ratelimited(&net->dev.rl, "%s: %s: read: %s",
					     net->dev.name, net->tap.name,
					     res < 0 ? strerror(-res)
						     : "short read");
			broken = true;
		} else {
			net_rx_deliver_one(net, i, (size_t)res);
			keep[i] = false;
			delivered++;
		}
	}
	net_rx_keep(net, keep, n);
	if (delivered)
		virtio_notify_queue(&net->dev, &net->vqs[VIRTIO_NET_RXQ]);
	if (broken) {
		/* Do not spin on a broken tap: wait for the next kick. */
		net->rx_stalled = true;
	} else if (empty) {
		io_uring_prep_poll_add(evloop_prep(net->loop, &net->rx_op),
				       net->tap.fd, POLLIN);
		net->rx_state = NET_RX_POLLING;
	} else {
		net_rx_try(net);
	}
}

static void net_rx_read_complete(struct ev_op *op, int res, uint32_t flags)
{
	struct net_rx_read *r = container_of(op, struct net_rx_read, op);
	struct virtio_net *net = r->net;

	(void)flags;
	pthread_mutex_lock(&net->dev.lock);
	r->res = res;
	if (--net->rx_nr_pending)
		goto out;
	net->rx_state = NET_RX_IDLE;
	if (net->rx_gen != net->gen) {
		/* Reset meanwhile: the buffers went with it. */
		for (unsigned int i = 0; i < net->rx_nr_reads; i++)
			if (net->rx_reads[i].res > 0)
				net->stats.rx_dropped++;
		net_rx_try(net);
	} else {
		net_rx_batch_result(net);
	}
out:
	pthread_mutex_unlock(&net->dev.lock);
}

/* ---- transmit --------------------------------------------------------- */

static struct net_tx_op *net_tx_get(struct virtio_net *net)
{
	if (!net->tx_nr_free)
		return NULL;
	return &net->tx_ops[net->tx_free[--net->tx_nr_free]];
}

static void net_tx_put(struct virtio_net *net, struct net_tx_op *op)
{
	net->tx_free[net->tx_nr_free++] = (unsigned int)(op - net->tx_ops);
}

/*
 * Checks one transmit chain and starts its write: the whole chain, header
 * included, in one writev (Linux tun/tap reads the vnet header from the
 * front of what is written). Returns false if the device was failed.
 */
static bool net_tx_start(struct virtio_net *net, struct net_tx_op *op,
			 const struct vq_chain *chain)
{
	struct virtqueue *vq = &net->vqs[VIRTIO_NET_TXQ];
	struct virtio_net_hdr hdr;
	uint32_t max;
	int err;

	/* virtio 1.2, 5.1.6.2: the driver only adds device-readable ones. */
	if (chain->nr_writable) {
		virtio_dev_fail(&net->dev,
				"transmit buffer %u has %u "
				"device-writable buffers",
				chain->head, chain->nr_writable);
		net_tx_put(net, op);
		return false;
	}
	max = net_tx_max_frame(net->dev.driver_features,
			       net_effective_mtu(net));
	if (chain->readable_bytes < NET_HDR_LEN) {
		err = -NET_TX_ERR_SHORT;
	} else {
		net_iov_to_buf(chain->iov, chain->nr_readable, 0, &hdr,
			       sizeof(hdr));
		err = net_hdr_tx_check(&hdr, net->dev.driver_features,
				       chain->readable_bytes - NET_HDR_LEN,
				       max);
	}
	if (err) {
		/* A bad frame is dropped, counted, and never truncated. */
		net->stats.tx_dropped++;
		log_warn_ratelimited(&net->dev.rl,
				     "%s: dropped %u-byte "
				     "transmit buffer %u: %s",
				     net->dev.name, chain->readable_bytes,
				     chain->head, net_tx_strerror(err));
		vq_push_used(vq, chain->head, 0);
		net_tx_put(net, op);
		return true;
	}

	op->gen = net->gen;
	op->head = chain->head;
	op->frame_len = chain->readable_bytes - (uint32_t)NET_HDR_LEN;
	io_uring_prep_writev(evloop_prep(net->loop, &op->op), net->tap.fd,
			     op->iov, chain->nr_readable, (uint64_t)-1);
	return true;
}

/* Starts writes for every available chain while ops are free. */
static void net_tx_process(struct virtio_net *net)
{
	struct virtqueue *vq = &net->vqs[VIRTIO_NET_TXQ];
	int ret;

	if (net->loop->stopping)
		return;
	do {
		vq_disable_notify(vq);
		for (;;) {
			struct net_tx_op *op = net_tx_get(net);
			struct vq_chain chain;

			if (!op) {
				/* Resumed by the next completion. */
				net->tx_blocked = true;
				virtio_notify_queue(&net->dev, vq);
				return;
			}
			chain = (struct vq_chain){
				.iov = op->iov,
				.iov_cap = ARRAY_SIZE(op->iov),
			};
			ret = vq_pop_chain(vq, &chain);
			if (ret <= 0) {
				net_tx_put(net, op);
				break;
			}
			if (!net_tx_start(net, op, &chain))
				return;
		}
		if (ret < 0) {
			virtio_dev_fail(&net->dev, "transmitq: %s",
					vq_strerror(ret));
			return;
		}
		virtio_notify_queue(&net->dev, vq);
	} while (vq_enable_notify(vq));
}

static void net_tx_complete(struct ev_op *evop, int res, uint32_t flags)
{
	struct net_tx_op *op = container_of(evop, struct net_tx_op, op);
	struct virtio_net *net = op->net;
	struct virtqueue *vq = &net->vqs[VIRTIO_NET_TXQ];

	(void)flags;
	pthread_mutex_lock(&net->dev.lock);
	net_tx_put(net, op);
	if (op->gen != net->gen || res == -ECANCELED)
		goto out;
	if (res == (int)(op->frame_len + NET_HDR_LEN)) {
		net->stats.tx_packets++;
		net->stats.tx_bytes += op->frame_len;
	} else {
		net->stats.tx_errors++;
		log_warn_ratelimited(&net->dev.rl,
				     "%s: %s: write of %u "
				     "bytes: %s",
				     net->dev.name, net->tap.name,
				     op->frame_len,
				     res < 0 ? strerror(-res) : "short");
	}

	/* virtio 1.2, 5.1.6.2: nothing written into a transmit buffer. */
	vq_push_used(vq, op->head, 0);
	virtio_notify_queue(&net->dev, vq);
	if (net->tx_blocked && virtio_dev_running(&net->dev)) {
		net->tx_blocked = false;
		net_tx_process(net);
	}
out:
	pthread_mutex_unlock(&net->dev.lock);
}

/* ---- device ops ------------------------------------------------------- */

static void virtio_net_queue_notify(struct virtio_dev *dev, unsigned int qidx)
{
	struct virtio_net *net = to_net(dev);

	if (qidx == VIRTIO_NET_RXQ) {
		net->rx_stalled = false;
		net_rx_try(net);
	} else if (qidx == VIRTIO_NET_TXQ && !net->tx_blocked) {
		net_tx_process(net);
	}
}

static void virtio_net_config_read(struct virtio_dev *dev, uint32_t offset,
				   uint8_t *data, uint32_t len)
{
	memcpy(data, (const uint8_t *)&to_net(dev)->config + offset, len);
}

/*
 * The driver is up: tell the tap which offloads it may hand us. Receiving
 * starts on the driver's first receive-queue kick, because this runs on
 * a vCPU thread, which may not touch the ring.
 */
static int virtio_net_activate(struct virtio_dev *dev)
{
	struct virtio_net *net = to_net(dev);
	unsigned int flags = net_offload_tun_flags(dev->driver_features);
	int err = net_tap_set_offloads(&net->tap, flags);

	if (err)
		log_warn("%s: %s: TUNSETOFFLOAD 0x%x: %s", dev->name,
			 net->tap.name, flags, strerror(-err));
	return err;
}

/* Forgets held buffers; completions in flight see the new generation. */
static void virtio_net_reset(struct virtio_dev *dev)
{
	struct virtio_net *net = to_net(dev);

	net->gen++;
	net_rx_forget(net);
	net->rx_stalled = false;
	net->tx_blocked = false;
	net_tap_set_offloads(&net->tap, 0);
}

static void virtio_net_destroy(struct virtio_dev *dev)
{
	struct virtio_net *net = to_net(dev);
	const struct virtio_net_counters *s = &net->stats;

	log_msg(s->rx_dropped || s->rx_errors || s->tx_dropped || s->tx_errors
			? LOG_INFO
			: LOG_DEBUG,
		"%s: %s: rx %llu packets %llu bytes %llu dropped %llu errors, "
		"tx %llu packets %llu bytes %llu dropped %llu errors",
		dev->name, net->tap.name, (unsigned long long)s->rx_packets,
		(unsigned long long)s->rx_bytes,
		(unsigned long long)s->rx_dropped,
		(unsigned long long)s->rx_errors,
		(unsigned long long)s->tx_packets,
		(unsigned long long)s->tx_bytes,
		(unsigned long long)s->tx_dropped,
		(unsigned long long)s->tx_errors);
	net_tap_close(&net->tap);
	free(net->rx_bounce);
	free(net->tx_ops);
	free(net);
}

static const struct virtio_dev_ops virtio_net_ops = {
	.config_read = virtio_net_config_read,
	.queue_notify = virtio_net_queue_notify,
	.activate = virtio_net_activate,
	.reset = virtio_net_reset,
	.destroy = virtio_net_destroy,
};

/* A random unicast, locally administered address. */
static void net_random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6)
		memset(mac, 0x5a, 6);
	mac[0] = (uint8_t)((mac[0] & ~1u) | 2u);
}

static int virtio_net_alloc(struct virtio_net *net)
{
	net->rx_bounce = malloc(VIRTIO_NET_BOUNCE_BYTES);
	net->tx_ops = calloc(VIRTIO_NET_TX_OPS, sizeof(*net->tx_ops));
	if (!net->rx_bounce || !net->tx_ops)
		return -ENOMEM;
	net->rx_bounce_iov = (struct iovec){net->rx_bounce,
					    VIRTIO_NET_BOUNCE_BYTES};
	for (unsigned int i = 0; i < VIRTIO_NET_TX_OPS; i++) {
		net->tx_ops[i].net = net;
		net->tx_ops[i].op.complete = net_tx_complete;
		net->tx_free[i] = i;
	}
	net->tx_nr_free = VIRTIO_NET_TX_OPS;
	return 0;
}

struct virtio_dev *virtio_net_create(struct evloop *loop,
				     const struct net_tap *tap,
				     const uint8_t *mac, uint32_t mtu)
{
	struct virtio_net *net = calloc(1, sizeof(*net));

	if (!net)
		return NULL;
	if (virtio_net_alloc(net)) {
		free(net->rx_bounce);
		free(net->tx_ops);
		free(net);
		return NULL;
	}
	net->loop = loop;
	net->tap = *tap;
	net->mtu = mtu ? mtu : NET_MTU_DEFAULT;
	net->rx_op.complete = net_rx_complete;
	for (unsigned int i = 0; i < VIRTIO_NET_RX_BATCH; i++) {
		net->rx_reads[i].net = net;
		net->rx_reads[i].op.complete = net_rx_read_complete;
	}
	if (mac)
		memcpy(net->config.mac, mac, 6);
	else
		net_random_mac(net->config.mac);
	net->config.status = htole16(VIRTIO_NET_S_LINK_UP);
	net->config.max_virtqueue_pairs = htole16(1);
	net->config.mtu = htole16((uint16_t)net->mtu);

	net->dev = (struct virtio_dev){
		.name = "virtio-net",
		.device_id = VIRTIO_ID_NET,
		/* virtio 1.2, 5.1.3; no CTRL_VQ or MQ yet. */
		.features = (1ull << VIRTIO_F_VERSION_1) |
			    (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
			    (1ull << VIRTIO_RING_F_EVENT_IDX) |
			    NET_FEATURE(VIRTIO_NET_F_MAC) |
			    NET_FEATURE(VIRTIO_NET_F_STATUS) |
			    NET_FEATURE(VIRTIO_NET_F_MTU) |
			    NET_FEATURE(VIRTIO_NET_F_MRG_RXBUF) |
			    net_offload_features(tap->offloads),
		.nr_queues = 2,
		.queue_max_size = VIRTIO_NET_QUEUE_SIZE,
		.config_size = sizeof(struct virtio_net_config),
		.ops = &virtio_net_ops,
		.vqs = net->vqs,
	};
	return &net->dev;
}

int virtio_net_from_spec(struct evloop *loop, const char *spec,
			 struct virtio_dev **out)
{
	struct net_spec ns;
	struct net_tap tap;
	int err;

	err = net_spec_parse(spec, &ns);
	if (err)
		return err;
	err = ns.tap[0] ? net_tap_open(&tap, ns.tap)
			: net_tap_adopt(&tap, ns.fd);
	if (err)
		return err;
	*out = virtio_net_create(loop, &tap, ns.has_mac ? ns.mac : NULL,
				 ns.mtu);
	if (!*out) {
		log_error("net: --net %s: out of memory", spec);
		net_tap_close(&tap);
		return -ENOMEM;
	}
	return 0;
}

void virtio_net_get_counters(struct virtio_dev *dev,
			     struct virtio_net_counters *out)
{
	struct virtio_net *net = to_net(dev);

	pthread_mutex_lock(&dev->lock);
	*out = net->stats;
	pthread_mutex_unlock(&dev->lock);
}
