/* virtio-blk's io_uring back end: raw images read and written in place. */
#include "devices/blk_uring.h"
#include "vmm/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes of zeroes written per operation when fallocate cannot zero. */
#define BLK_ZERO_CHUNK (128u * 1024)

/* Bounded io_uring workers each queue may keep busy. */
#define BLK_WORKERS_PER_QUEUE 8u
#define BLK_WORKERS_MAX       64u

/* Resubmissions after -EAGAIN or -EINTR before giving up. */
#define BLK_MAX_RETRIES 16u

/* Stages of WRITE_ZEROES: the cheapest way first. */
enum { BLK_WZ_PUNCH, BLK_WZ_ZERO_RANGE, BLK_WZ_WRITE };

static uint8_t blk_zeroes[BLK_ZERO_CHUNK] __attribute__((aligned(4096)));

/* The bounded-worker cap already registered on the loop's ring. */
static unsigned int blk_workers_capped;

static int blk_image_lock(struct blk_image *img)
{
	struct flock fl = {
		.l_type = img->readonly ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
	};
	int err;

	if (fcntl(img->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	err = -errno;
	if (err == -EAGAIN || err == -EACCES) {
		log_error("virtio-blk: %s is locked by another process "
			  "(another VM using it?); %s",
			  img->path,
			  img->readonly ? "a writer holds it"
					: "a writable disk cannot be shared");
		return -EAGAIN;
	}
	log_error("virtio-blk: cannot lock %s: %s", img->path, strerror(-err));
	return err;
}

/* Fills size_bytes; regular files and block devices only. */
static int blk_image_measure(struct blk_image *img)
{
	struct stat st;

	if (fstat(img->fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		img->size_bytes = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(img->fd, BLKGETSIZE64, &img->size_bytes) < 0)
			return -errno;
		return 0;
	}
	log_error("virtio-blk: %s is neither a regular file nor a block "
		  "device",
		  img->path);
	return -EINVAL;
}

/* O_DIRECT's alignment rules for this file (statx, Linux 6.1 and up). */
static void blk_image_dio_align(struct blk_image *img)
{
	uint32_t mem = BLK_SECTOR_SIZE, off = BLK_SECTOR_SIZE;
	struct statx stx;
	int ssz;

	if (statx(img->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
		mem = stx.stx_dio_mem_align;
		off = stx.stx_dio_offset_align;
	} else if (ioctl(img->fd, BLKSSZGET, &ssz) == 0 && ssz > 0) {
		mem = off = (uint32_t)ssz;
	}
	img->mem_align = MAX(mem, 1u);
	img->block_size = MAX(off, BLK_SECTOR_SIZE);
}

int blk_image_open(struct blk_image *img, const struct blk_options *opts)
{
	int flags = O_CLOEXEC | (opts->readonly ? O_RDONLY : O_RDWR);
	int err;

	memset(img, 0, sizeof(*img));
	img->path = opts->path;
	img->readonly = opts->readonly;
	img->direct = opts->direct;
	img->mem_align = 1;
	img->block_size = BLK_SECTOR_SIZE;
	if (opts->direct)
		flags |= O_DIRECT;

	img->fd = open(opts->path, flags);
	if (img->fd < 0) {
		err = -errno;
		if (err == -EINVAL && opts->direct)
			log_error("virtio-blk: %s: direct=on: its filesystem "
				  "does not support O_DIRECT",
				  opts->path);
		else
			log_error("virtio-blk: cannot open %s: %s%s",
				  opts->path, strerror(-err),
				  err == -EROFS || err == -EACCES
					  ? " (readonly=on?)"
					  : "");
		return err;
	}
	err = blk_image_lock(img);
	if (err)
		goto err_close;
	err = blk_image_measure(img);
	if (err)
		goto err_close;
	img->capacity = img->size_bytes >> BLK_SECTOR_SHIFT;
	if (!img->capacity) {
		log_error("virtio-blk: %s is smaller than one 512-byte sector",
			  opts->path);
		err = -EINVAL;
		goto err_close;
	}
	if (opts->direct)
		blk_image_dio_align(img);
	if (img->block_size > 4096 ||
	    (img->block_size & (img->block_size - 1))) {
		log_error(
			"virtio-blk: %s: O_DIRECT block size %u not supported",
			opts->path, img->block_size);
		err = -EINVAL;
		goto err_close;
	}
	return 0;

err_close:
	close(img->fd);
	img->fd = -1;
	return err;
}

void blk_image_close(struct blk_image *img)
{
	if (img->fd >= 0)
		close(img->fd); /* drops the OFD lock */
	img->fd = -1;
}

void blk_backend_init(struct blk_backend *be, struct evloop *loop,
		      struct blk_image *img, const char *name)
{
	memset(be, 0, sizeof(*be));
	be->loop = loop;
	be->img = img;
	be->name = name;
}

int blk_backend_cap_workers(struct blk_backend *be, unsigned int nr_queues)
{
	unsigned int want = MIN(blk_workers_capped +
					BLK_WORKERS_PER_QUEUE * nr_queues,
				BLK_WORKERS_MAX);
	unsigned int vals[2] = {want, 0}; /* bounded; unbounded unchanged */
	int err;

	err = io_uring_register_iowq_max_workers(&be->loop->ring, vals);
	if (err < 0) {
		log_debug("%s: cannot cap io_uring workers: %s", be->name,
			  strerror(-err));
		return err == -EINVAL ? 0 : err;
	}
	blk_workers_capped = want;
	return 0;
}

/* Whether every buffer suits O_DIRECT as it is. */
static bool blk_io_aligned(const struct blk_io *io, uint32_t align)
{
	for (unsigned int i = 0; i < io->nr_iov; i++) {
		if ((uintptr_t)io->iov[i].iov_base % align ||
		    io->iov[i].iov_len % align)
			return false;
	}
	return true;
}

/*
 * O_DIRECT with a guest buffer it cannot take: move the data through one
 * aligned buffer instead. Returns 0 or -ENOMEM.
 */
static int blk_io_bounce(struct blk_io *io, uint32_t align)
{
	void *buf;

	if (posix_memalign(&buf, MAX(align, 4096u), io->len))
		return -ENOMEM;
	if (io->kind == BLK_OP_WRITE)
		blk_iov_gather(buf, io->iov, io->nr_iov, io->len);
	io->bounce = buf;
	io->guest_iov = io->iov;
	io->guest_nr = io->nr_iov;
	io->bounce_iov = (struct iovec){.iov_base = buf, .iov_len = io->len};
	io->iov = &io->bounce_iov;
	io->nr_iov = 1;
	return 0;
}

/* Queues the next operation for io's current state. */
static void blk_io_prep(struct blk_backend *be, struct blk_io *io)
{
	struct io_uring_sqe *sqe = evloop_prep(be->loop, &io->op);
	int fd = be->img->fd;
	int mode;

	switch (io->kind) {
	case BLK_OP_READ:
		io_uring_prep_readv(sqe, fd, io->iov, io->nr_iov, io->offset);
		break;
	case BLK_OP_WRITE:
		io_uring_prep_writev(sqe, fd, io->iov, io->nr_iov, io->offset);
		break;
	case BLK_OP_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case BLK_OP_DISCARD:
		io_uring_prep_fallocate(
			sqe, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			io->offset, io->remaining);
		break;
	case BLK_OP_WRITE_ZEROES:
		if (io->stage == BLK_WZ_WRITE) {
			io_uring_prep_write(sqe, fd, blk_zeroes,
					    (unsigned int)MIN(io->remaining,
							      BLK_ZERO_CHUNK),
					    io->offset);
			break;
		}
		mode = io->stage == BLK_WZ_PUNCH ? FALLOC_FL_PUNCH_HOLE
						 : FALLOC_FL_ZERO_RANGE;
		io_uring_prep_fallocate(sqe, fd, mode | FALLOC_FL_KEEP_SIZE,
					io->offset, io->remaining);
		break;
	default:
		io_uring_prep_nop(sqe);
		io->fail = -EINVAL;
		break;
	}
}

/* Steps over n bytes done by a short readv/writev. */
static void blk_io_advance(struct blk_io *io, uint64_t n)
{
	io->offset += n;
	io->remaining -= n;
	while (n && io->nr_iov) {
		if (n >= io->iov->iov_len) {
			n -= io->iov->iov_len;
			io->iov++;
			io->nr_iov--;
			continue;
		}
		io->iov->iov_base = (uint8_t *)io->iov->iov_base + n;
		io->iov->iov_len -= n;
		n = 0;
	}
}

static const char *blk_op_name(enum blk_op kind)
{
	switch (kind) {
	case BLK_OP_READ:
		return "read";
	case BLK_OP_WRITE:
		return "write";
	case BLK_OP_FLUSH:
		return "flush";
	case BLK_OP_DISCARD:
		return "discard";
	case BLK_OP_WRITE_ZEROES:
		return "write-zeroes";
	default:
		return "request";
	}
}

static void blk_io_finish(struct blk_backend *be, struct blk_io *io, int err)
{
	if (!err && io->bounce && io->kind == BLK_OP_READ)
		blk_iov_scatter(io->guest_iov, io->guest_nr, io->bounce,
				io->len);
	free(io->bounce);
	io->bounce = NULL;
	if (err && err != -ECANCELED)
		log_warn_ratelimited(
			&be->rl, "%s: %s of %llu bytes at %llu: %s", be->name,
			blk_op_name(io->kind), (unsigned long long)io->len,
			(unsigned long long)io->offset, strerror(-err));
	io->done(io, err);
}

/*
 * What a completion means for WRITE_ZEROES: the next stage when the file
 * cannot do this one, else the data path's rules. Returns true when the
 * caller should treat res as a data transfer result.
 */
static bool blk_io_wz_fallback(struct blk_io *io, int res)
{
	if (io->stage == BLK_WZ_WRITE)
		return true;
	if (res == -EOPNOTSUPP || res == -EINVAL || res == -ENOTTY) {
		io->stage = io->stage == BLK_WZ_PUNCH ? BLK_WZ_ZERO_RANGE
						      : BLK_WZ_WRITE;
		return false;
	}
	if (res >= 0)
		io->remaining = 0;
	return true;
}

static void blk_io_complete(struct ev_op *op, int res, uint32_t flags)
{
	struct blk_io *io = container_of(op, struct blk_io, op);
	struct blk_backend *be = io->be;

	(void)flags;
	if (io->fail)
		res = io->fail;
	if ((res == -EAGAIN || res == -EINTR) &&
	    io->retries++ < BLK_MAX_RETRIES && !be->loop->stopping)
		goto resubmit;

	switch (io->kind) {
	case BLK_OP_FLUSH:
		blk_io_finish(be, io, MIN(res, 0));
		return;
	case BLK_OP_DISCARD:
		/* virtio 1.2, 5.2.6: discard is a hint; contents may stay. */
		blk_io_finish(be, io, res == -EOPNOTSUPP ? 0 : MIN(res, 0));
		return;
	case BLK_OP_WRITE_ZEROES:
		if (!blk_io_wz_fallback(io, res))
			goto resubmit;
		break;
	default:
		break;
	}

	/* Data transfers: a short one continues where it stopped. */
	if (res < 0) {
		blk_io_finish(be, io, res);
		return;
	}
	if (res == 0 && io->remaining) {
		blk_io_finish(be, io, -EIO); /* the image shrank under us */
		return;
	}
	if (io->kind == BLK_OP_WRITE_ZEROES && io->stage == BLK_WZ_WRITE) {
		io->offset += (uint64_t)res;
		io->remaining -= MIN((uint64_t)res, io->remaining);
	} else if (io->remaining) {
		blk_io_advance(io, MIN((uint64_t)res, io->remaining));
	}
	if (!io->remaining) {
		blk_io_finish(be, io, 0);
		return;
	}
	if (be->loop->stopping) {
		blk_io_finish(be, io, -ECANCELED);
		return;
	}
resubmit:
	io->fail = 0;
	blk_io_prep(be, io);
}

void blk_io_submit(struct blk_backend *be, struct blk_io *io)
{
	io->be = be;
	io->op = (struct ev_op){.complete = blk_io_complete};
	io->remaining = io->len;
	io->stage = io->unmap ? BLK_WZ_PUNCH : BLK_WZ_ZERO_RANGE;
	io->fail = 0;
	io->retries = 0;
	io->bounce = NULL;

	if (be->img->direct &&
	    (io->kind == BLK_OP_READ || io->kind == BLK_OP_WRITE) &&
	    !blk_io_aligned(io, be->img->mem_align)) {
		io->fail = blk_io_bounce(io, be->img->mem_align);
		if (io->fail) {
			/* Report it from the loop, never from here. */
			io_uring_prep_nop(evloop_prep(be->loop, &io->op));
			return;
		}
	}
	blk_io_prep(be, io);
}
