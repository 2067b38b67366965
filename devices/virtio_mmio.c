/* virtio-mmio v2 transport: registers, ioeventfd kicks and irqfd interrupts. */
#include "devices/virtio_mmio.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* One rate-limited line per malformed access; under dev->lock. */
static void virtio_mmio_bad_access(struct virtio_mmio *m, uint64_t offset,
				   uint32_t len, bool is_write)
{
	log_warn_ratelimited(&m->dev->rl,
			     "%s: ignored %u-byte %s at register offset "
			     "0x%03" PRIx64,
			     m->dev->name, len, is_write ? "write" : "read",
			     offset);
}

static void virtio_mmio_signal(struct virtio_dev *dev, enum virtio_signal why,
			       unsigned int qidx)
{
	struct virtio_mmio *m = dev->transport_ctx;
	uint64_t one = 1;
	ssize_t n;

	m->interrupt_status |= why == VIRTIO_SIGNAL_QUEUE
				       ? VIRTIO_MMIO_INT_VRING
				       : VIRTIO_MMIO_INT_CONFIG;

	/* An eventfd write only fails when the counter is full: still set. */
	n = write(m->irq_fd, &one, sizeof(one));
	(void)n;
}

static int virtio_mmio_queue_notify_fd(struct virtio_dev *dev,
				       unsigned int qidx)
{
	struct virtio_mmio *m = dev->transport_ctx;

	return qidx < dev->nr_queues ? m->queues[qidx].notify_fd : -1;
}

static const struct virtio_transport_ops virtio_mmio_transport = {
	.signal = virtio_mmio_signal,
	.queue_notify_fd = virtio_mmio_queue_notify_fd,
};

/* Device reset plus the transport's own registers (virtio 1.2, 4.2.2.1). */
static void virtio_mmio_reset(struct virtio_mmio *m)
{
	virtio_dev_reset(m->dev);
	m->device_features_sel = m->driver_features_sel = 0;
	m->queue_sel = m->shm_sel = 0;
	m->interrupt_status = 0;
	for (unsigned int i = 0; i < m->dev->nr_queues; i++) {
		struct virtio_mmio_queue *q = &m->queues[i];

		q->num = 0;
		q->desc = q->driver = q->device = 0;
	}
}

static struct virtio_mmio_queue *virtio_mmio_cur_queue(struct virtio_mmio *m)
{
	if (m->queue_sel >= m->dev->nr_queues)
		return NULL;
	return &m->queues[m->queue_sel];
}

/* QueueReady = 1: check what the driver staged and start the queue. */
static void virtio_mmio_queue_enable(struct virtio_mmio *m,
				     struct virtio_mmio_queue *q)
{
	struct virtio_dev *dev = m->dev;
	struct virtqueue *vq = &dev->vqs[q->index];
	int err;

	/* virtio 1.2, 4.2.2.2 and 2.7: a power of 2, at most QueueNumMax. */
	if (q->num == 0 || q->num > dev->queue_max_size ||
	    q->num > VQ_MAX_SIZE || (q->num & (q->num - 1))) {
		virtio_dev_fail(dev, "queue %u: bad size %" PRIu32, q->index,
				q->num);
		return;
	}
	vq->size = (uint16_t)q->num;
	vq->desc_gpa = q->desc;
	vq->avail_gpa = q->driver;
	vq->used_gpa = q->device;
	err = vq_setup(vq, dev->mem, dev->driver_features);
	if (err) {
		virtio_dev_fail(dev,
				"queue %u: %s rings at desc 0x%" PRIx64
				" driver 0x%" PRIx64 " device 0x%" PRIx64,
				q->index,
				err == -EFAULT ? "out-of-RAM" : "misaligned",
				q->desc, q->driver, q->device);
		vq_reset(vq);
	}
}

static void virtio_mmio_set_half(uint64_t *reg, uint32_t val, bool high)
{
	if (high)
		*reg = (*reg & 0xffffffffull) | ((uint64_t)val << 32);
	else
		*reg = (*reg & ~0xffffffffull) | val;
}

/* A write to one of the queue setup registers, ignored once it runs. */
static void virtio_mmio_queue_write(struct virtio_mmio *m, uint64_t offset,
				    uint32_t val)
{
	struct virtio_mmio_queue *q = virtio_mmio_cur_queue(m);

	if (!q)
		return;
	if (offset == VIRTIO_MMIO_QUEUE_READY) {
		if (val && !m->dev->vqs[q->index].ready)
			virtio_mmio_queue_enable(m, q);
		else if (!val)
			vq_reset(&m->dev->vqs[q->index]);
		return;
	}

	/* virtio 1.2, 4.2.2.2: no reconfiguration while the queue is ready. */
	if (m->dev->vqs[q->index].ready) {
		virtio_mmio_bad_access(m, offset, 4, true);
		return;
	}
	switch (offset) {
	case VIRTIO_MMIO_QUEUE_NUM:
		q->num = val;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		virtio_mmio_set_half(&q->desc, val,
				     offset == VIRTIO_MMIO_QUEUE_DESC_HIGH);
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		virtio_mmio_set_half(&q->driver, val,
				     offset == VIRTIO_MMIO_QUEUE_DRIVER_HIGH);
		break;
	default:
		virtio_mmio_set_half(&q->device, val,
				     offset == VIRTIO_MMIO_QUEUE_DEVICE_HIGH);
		break;
	}
}

static uint32_t virtio_mmio_queue_read(struct virtio_mmio *m, uint64_t offset)
{
	struct virtio_mmio_queue *q = virtio_mmio_cur_queue(m);

	/* virtio 1.2, 4.2.2.1: QueueNumMax reads 0 for an absent queue. */
	if (!q)
		return 0;
	switch (offset) {
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return m->dev->queue_max_size;
	case VIRTIO_MMIO_QUEUE_NUM:
		return q->num;
	case VIRTIO_MMIO_QUEUE_READY:
		return m->dev->vqs[q->index].ready;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return (uint32_t)q->desc;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return (uint32_t)(q->desc >> 32);
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
		return (uint32_t)q->driver;
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		return (uint32_t)(q->driver >> 32);
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
		return (uint32_t)q->device;
	default:
		return (uint32_t)(q->device >> 32);
	}
}

static uint32_t virtio_mmio_reg_read(struct virtio_mmio *m, uint64_t offset)
{
	struct virtio_dev *dev = m->dev;

	switch (offset) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return dev->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return virtio_dev_get_features(dev, m->device_features_sel);
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		return virtio_mmio_queue_read(m, offset);
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return m->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return dev->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		/* virtio 1.2, 4.2.2.1: no shared memory regions: length ~0. */
		return 0xffffffffu;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return dev->config_generation;
	default:
		/* Write-only and reserved registers read as 0. */
		return 0;
	}
}

static void virtio_mmio_reg_write(struct virtio_mmio *m, uint64_t offset,
				  uint32_t val)
{
	struct virtio_dev *dev = m->dev;

	switch (offset) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->device_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		virtio_dev_set_driver_features(dev, m->driver_features_sel,
					       val);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		m->driver_features_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		m->queue_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		virtio_mmio_queue_write(m, offset, val);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		m->interrupt_status &= ~val;
		break;
	case VIRTIO_MMIO_STATUS:
		/* virtio 1.2, 4.2.2.1: writing 0 resets the device. */
		if (val == 0)
			virtio_mmio_reset(m);
		else
			virtio_dev_set_status(dev, (uint8_t)val);
		break;
	case VIRTIO_MMIO_SHM_SEL:
		m->shm_sel = val;
		break;
	default:
		virtio_mmio_bad_access(m, offset, 4, true);
		break;
	}
}

static bool virtio_mmio_config_access(struct virtio_mmio *m, uint64_t offset,
				      uint8_t *data, uint32_t len,
				      bool is_write)
{
	struct virtio_dev *dev = m->dev;
	uint64_t off = offset - VIRTIO_MMIO_CONFIG;

	/* virtio 1.2, 4.2.2.2: config space takes 8-, 16-, 32-, 64-bit. */
	if (off >= dev->config_size || len > dev->config_size - off)
		return false;
	if (is_write) {
		if (dev->ops->config_write)
			dev->ops->config_write(dev, (uint32_t)off, data, len);
	} else if (dev->ops->config_read) {
		dev->ops->config_read(dev, (uint32_t)off, data, len);
	}
	return true;
}

/*
 * A QueueNotify write that reached user space: KVM had no ioeventfd for
 * it (no KVM, or a queue index the device lacks). Queue work belongs to
 * the event loop, so it goes through the queue's eventfd when the loop
 * runs; a unit test without a loop gets it handled at once.
 */
static void virtio_mmio_kick(struct virtio_mmio *m, uint32_t qidx)
{
	uint64_t one = 1;
	ssize_t n;

	if (qidx >= m->dev->nr_queues)
		return;
	if (m->loop && m->loop->ready) {
		n = write(m->queues[qidx].notify_fd, &one, sizeof(one));
		(void)n;
		return;
	}
	virtio_dev_queue_notify(m->dev, qidx);
}

void virtio_mmio_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		    bool is_write)
{
	struct virtio_mmio *m = opaque;
	uint32_t val = 0;

	if (!is_write)
		memset(data, 0, len);
	if (is_write && len == 4)
		memcpy(&val, data, 4);

	/* virtio 1.2, 4.2.2.2: registers are 32 bits wide and aligned. */
	if (offset == VIRTIO_MMIO_QUEUE_NOTIFY && is_write && len == 4) {
		virtio_mmio_kick(m, le32toh(val));
		return;
	}

	pthread_mutex_lock(&m->dev->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		if ((len == 1 || len == 2 || len == 4 || len == 8) &&
		    virtio_mmio_config_access(m, offset, data, len, is_write))
			goto out;
	} else if (len == 4 && offset % 4 == 0) {
		if (is_write) {
			virtio_mmio_reg_write(m, offset, le32toh(val));
		} else {
			val = htole32(virtio_mmio_reg_read(m, offset));
			memcpy(data, &val, 4);
		}
		goto out;
	}
	virtio_mmio_bad_access(m, offset, len, is_write);
out:
	pthread_mutex_unlock(&m->dev->lock);
}

/* Event-loop callback: the driver kicked one queue. */
static void virtio_mmio_notify_complete(struct ev_op *op, int res,
					uint32_t flags)
{
	struct virtio_mmio_queue *q = container_of(op, struct virtio_mmio_queue,
						   notify_op);
	struct virtio_mmio *m = q->mmio;
	uint64_t count;

	if (!(flags & IORING_CQE_F_MORE) && !m->loop->stopping)
		evloop_poll(m->loop, &q->notify_op, q->notify_fd, POLLIN);
	if (res < 0)
		return;

	/* Clear the eventfd before the work, so no kick is lost after it. */
	if (read(q->notify_fd, &count, sizeof(count)) != sizeof(count))
		return;
	virtio_dev_queue_notify(m->dev, q->index);
}

static int virtio_mmio_setup_queue(struct virtio_mmio *m, unsigned int i)
{
	struct virtio_mmio_queue *q = &m->queues[i];
	struct kvm_ioeventfd ioev;

	q->mmio = m;
	q->index = i;
	q->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->notify_fd < 0)
		return -errno;
	q->notify_op.complete = virtio_mmio_notify_complete;

	if (m->vm_fd >= 0) {
		/* virtio 1.2, 4.2.2: the queue index is what the driver writes. */
		ioev = (struct kvm_ioeventfd){
			.datamatch = i,
			.addr = m->base + VIRTIO_MMIO_QUEUE_NOTIFY,
			.len = 4,
			.fd = q->notify_fd,
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		if (ioctl(m->vm_fd, KVM_IOEVENTFD, &ioev) < 0)
			return -errno;
	}
	/* Kicks for queues served elsewhere are that process's to read. */
	if (m->loop && m->loop->ready && !m->dev->queues_external)
		evloop_poll(m->loop, &q->notify_op, q->notify_fd, POLLIN);
	return 0;
}

static int virtio_mmio_setup_irq(struct virtio_mmio *m)
{
	struct kvm_irqfd irqfd;

	m->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->irq_fd < 0)
		return -errno;
	if (m->vm_fd < 0)
		return 0;
	irqfd = (struct kvm_irqfd){.fd = (uint32_t)m->irq_fd, .gsi = m->irq};
	if (ioctl(m->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	return 0;
}

static struct virtio_mmio *virtio_mmio_alloc(struct vm *vm,
					     struct virtio_dev *dev,
					     unsigned int slot)
{
	struct virtio_mmio *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->queues = calloc(dev->nr_queues, sizeof(*m->queues));
	if (!m->queues) {
		free(m);
		return NULL;
	}
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		m->queues[i].notify_fd = -1;
	m->dev = dev;
	m->loop = &vm->loop;
	m->vm_fd = vm->vm_fd;
	m->base = LAYOUT_VIRTIO_MMIO_BASE + slot * LAYOUT_VIRTIO_MMIO_SIZE;
	m->irq = LAYOUT_IRQ_VIRTIO_FIRST + slot;
	m->irq_fd = -1;
	dev->transport = &virtio_mmio_transport;
	dev->transport_ctx = m;
	dev->mem = &vm->mem;
	return m;
}

/* Frees the transport's part only; the caller still owns dev. */
static void virtio_mmio_free(struct virtio_mmio *m)
{
	for (unsigned int i = 0; i < m->dev->nr_queues; i++)
		if (m->queues[i].notify_fd >= 0)
			close(m->queues[i].notify_fd);
	if (m->irq_fd >= 0)
		close(m->irq_fd);
	free(m->queues);
	free(m);
}

int virtio_mmio_attach(struct vm *vm, struct virtio_dev *dev)
{
	unsigned int slot = vm->nr_virtio;
	struct virtio_mmio *m;
	int err;

	if (slot >= LAYOUT_VIRTIO_MMIO_MAX ||
	    LAYOUT_IRQ_VIRTIO_FIRST + slot > LAYOUT_IRQ_VIRTIO_LAST) {
		log_error("%s: no virtio-mmio window or interrupt left "
			  "(at most %u devices)",
			  dev->name, slot);
		return -ENOSPC;
	}
	m = virtio_mmio_alloc(vm, dev, slot);
	if (!m)
		return -ENOMEM;

	err = virtio_dev_init(dev);
	if (err)
		goto err_free;
	err = virtio_mmio_setup_irq(m);
	if (err) {
		log_error("%s: cannot set up interrupt %u (KVM_IRQFD): %s",
			  dev->name, m->irq, strerror(-err));
		goto err_dev;
	}
	for (unsigned int i = 0; i < dev->nr_queues; i++) {
		err = virtio_mmio_setup_queue(m, i);
		if (err) {
			log_error("%s: cannot set up queue %u notification "
				  "(KVM_IOEVENTFD): %s",
				  dev->name, i, strerror(-err));
			goto err_dev;
		}
	}
	err = bus_register(&vm->mmio, m->base, LAYOUT_VIRTIO_MMIO_SIZE,
			   dev->name, virtio_mmio_io, m);
	if (err) {
		log_error("%s: cannot claim MMIO window 0x%" PRIx64 ": %s",
			  dev->name, m->base, strerror(-err));
		goto err_dev;
	}

	vm->virtio[slot] = m;
	vm->nr_virtio = slot + 1;
	if (dev->ops->attached)
		dev->ops->attached(dev, m->loop);
	return 0;

err_dev:
	/* TODO(teardown): KVM drops ioeventfds and irqfds with the VM fd;
	 * attach failures end minnow, so they are not deassigned here. */
	virtio_dev_cleanup(dev);
err_free:
	virtio_mmio_free(m);
	return err;
}

void virtio_mmio_destroy(struct virtio_mmio *m)
{
	struct virtio_dev *dev = m->dev;

	virtio_mmio_free(m);
	virtio_dev_cleanup(dev);
	virtio_dev_destroy(dev);
}

int virtio_mmio_cmdline(const struct vm *vm, char *buf, size_t size)
{
	size_t used = strnlen(buf, size);
	size_t start = used;
	int n;

	for (unsigned int i = 0; i < vm->nr_virtio; i++) {
		const struct virtio_mmio *m = vm->virtio[i];

		n = snprintf(buf + used, size - used,
			     "%svirtio_mmio.device=4K@0x%" PRIx64 ":%" PRIu32,
			     used ? " " : "", m->base, m->irq);
		if (n < 0 || (size_t)n >= size - used) {
			if (start < size)
				buf[start] = '\0';
			return -ENOSPC;
		}
		used += (size_t)n;
	}
	return 0;
}
