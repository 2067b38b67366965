/*
 * The transport-independent half of a virtio device: what a device type
 * (rng, blk, net...) provides, the state every device shares (status,
 * features, queues) and the rules for changing it. A transport (today
 * virtio-mmio) maps registers onto this and delivers notifications.
 *
 * Locking: each device has one mutex, dev->lock. It guards every field
 * below marked "lock" and all of the device's virtqueues. Transports take
 * it around each register access (vCPU threads) and around
 * ops->queue_notify (event-loop thread); every ops callback runs with it
 * held, and virtio_dev_fail(), virtio_notify_queue() and
 * virtio_notify_config() must be called with it held. A device that
 * completes requests asynchronously takes it in its completion callback.
 */
#ifndef MINNOW_VIRTIO_H
#define MINNOW_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtqueue.h"
#include "vmm/gmem.h"
#include "vmm/log.h"

/* virtio 1.2, 2.1: device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

/* virtio 1.2, 6: reserved feature bits minnow uses. */
#define VIRTIO_F_VERSION_1 32

/* virtio 1.2, 5: device IDs. */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_ENTROPY 4
#define VIRTIO_ID_VSOCK   19
#define VIRTIO_ID_FS      26

/* Why a device signals the driver. */
enum virtio_signal {
	VIRTIO_SIGNAL_QUEUE,  /* used buffer notification */
	VIRTIO_SIGNAL_CONFIG, /* configuration change notification */
};

struct virtio_dev;
struct evloop;

/* What a device type implements. Every callback runs under dev->lock. */
struct virtio_dev_ops {
	/*
	 * Device configuration space (virtio 1.2, 2.5). The transport checks
	 * that [offset, offset + len) lies within dev->config_size.
	 * Either may be NULL when config_size is 0.
	 */
	void (*config_read)(struct virtio_dev *dev, uint32_t offset,
			    uint8_t *data, uint32_t len);
	void (*config_write)(struct virtio_dev *dev, uint32_t offset,
			     const uint8_t *data, uint32_t len);

	/*
	 * The driver made buffers available on queue qidx. Runs on the
	 * event-loop thread, only while the device is running (DRIVER_OK,
	 * not NEEDS_RESET) and the queue is ready.
	 */
	void (*queue_notify)(struct virtio_dev *dev, unsigned int qidx);

	/*
	 * The driver set DRIVER_OK. Returns 0, or a negative errno which
	 * fails the device. May be NULL.
	 */
	int (*activate)(struct virtio_dev *dev);

	/*
	 * The driver reset the device: drop in-flight work and device state.
	 * The queues are already reset. May be NULL.
	 */
	void (*reset)(struct virtio_dev *dev);

	/* Frees the device; called once by the transport at teardown. */
	void (*destroy)(struct virtio_dev *dev);

	/*
	 * The transport attached the device and set up its notifications;
	 * called once, on the thread that runs loop, before it runs. A
	 * device arms its own polls here (an op armed before attach would
	 * outlive a device freed when attach fails). May be NULL.
	 */
	void (*attached)(struct virtio_dev *dev, struct evloop *loop);
};

/* What a transport implements for the shared code. */
struct virtio_transport_ops {
	/*
	 * Tells the driver about a used buffer on queue qidx, or a config
	 * change (qidx unused). Called under dev->lock; must not block.
	 */
	void (*signal)(struct virtio_dev *dev, enum virtio_signal why,
		       unsigned int qidx);

	/*
	 * The eventfd that the driver's available buffer notifications for
	 * queue qidx land on (a KVM ioeventfd), for a device whose queues
	 * another process serves (queues_external); -1 when there is none.
	 */
	int (*queue_notify_fd)(struct virtio_dev *dev, unsigned int qidx);
};

struct virtio_dev {
	/* Set by the device type before it is attached to a transport. */
	const char *name;   /* for logs: "virtio-rng" */
	uint32_t device_id; /* VIRTIO_ID_* */
	uint64_t features;  /* offered, VERSION_1 included */
	unsigned int nr_queues;
	uint16_t queue_max_size; /* a power of two, <= VQ_MAX_SIZE */
	uint32_t config_size;    /* bytes of configuration space */
	const struct virtio_dev_ops *ops;
	struct virtqueue *vqs; /* nr_queues of them, owned by the device */
	/*
	 * Another process serves the queues (vhost-user): the transport
	 * leaves the notification eventfds to it, never reading them, and
	 * the device signals used buffers itself through transport->signal.
	 */
	bool queues_external;

	/* Set by the transport when it attaches the device. */
	const struct virtio_transport_ops *transport;
	void *transport_ctx;
	const struct gmem *mem;

	pthread_mutex_t lock;
	uint8_t status;             /* lock */
	uint64_t driver_features;   /* lock: what the driver accepted */
	uint32_t config_generation; /* lock */
	struct log_ratelimit rl;    /* lock */
};

/* Initialises the shared state and the lock. Returns 0 or -errno. */
int virtio_dev_init(struct virtio_dev *dev);

/* Releases what virtio_dev_init() took; the device must be idle. */
void virtio_dev_cleanup(struct virtio_dev *dev);

/* Frees the device through ops->destroy (for a device never attached). */
void virtio_dev_destroy(struct virtio_dev *dev);

/*
 * Device reset (virtio 1.2, 2.4): status, features and every queue back
 * to their initial state, then ops->reset. Under dev->lock.
 */
void virtio_dev_reset(struct virtio_dev *dev);

/*
 * A driver's write of a non-zero status (virtio 1.2, 2.1 and 3.1.1):
 * refuses FEATURES_OK for a bad feature set (the bit then reads back
 * clear), activates the device on DRIVER_OK, ignores bits the driver may
 * not change. Writing 0 is a reset, which the transport handles. Under
 * dev->lock.
 */
void virtio_dev_set_status(struct virtio_dev *dev, uint8_t status);

/*
 * A driver's write of 32 feature bits (sel 0: bits 0-31, sel 1: bits
 * 32-63). Ignored once FEATURES_OK is set. Under dev->lock.
 */
void virtio_dev_set_driver_features(struct virtio_dev *dev, uint32_t sel,
				    uint32_t bits);

/* Offered features, 32 at a time as for virtio_dev_set_driver_features. */
uint32_t virtio_dev_get_features(const struct virtio_dev *dev, uint32_t sel);

/* DRIVER_OK is set and NEEDS_RESET is not. Under dev->lock. */
bool virtio_dev_running(const struct virtio_dev *dev);

/*
 * The guest broke the rules: sets DEVICE_NEEDS_RESET, sends a config
 * change notification if the driver is up (virtio 1.2, 2.1.2), and logs
 * one rate-limited warning "<name>: <message>". The device processes no
 * queue until the driver resets it. Under dev->lock.
 */
void virtio_dev_fail(struct virtio_dev *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Sends a used buffer notification for vq if the driver wants one
 * (vq_need_interrupt). Under dev->lock.
 */
void virtio_notify_queue(struct virtio_dev *dev, struct virtqueue *vq);

/*
 * The device changed its configuration space: bumps the generation
 * (virtio 1.2, 2.5) and notifies the driver. Under dev->lock.
 */
void virtio_notify_config(struct virtio_dev *dev);

/*
 * Entry point for transports: the driver kicked queue qidx. Takes
 * dev->lock and calls ops->queue_notify if the device is running and the
 * queue ready; ignores it otherwise. Event-loop thread.
 */
void virtio_dev_queue_notify(struct virtio_dev *dev, unsigned int qidx);

#endif
