/*
 * The virtio-blk back end: a raw image file (or block device) driven with
 * io_uring operations on the VM's event loop.
 *
 * Contract: blk_image_open() runs at start-up and owns the file until
 * blk_image_close(). blk_io_submit() and every completion run on the
 * event-loop thread. An I/O never completes inside blk_io_submit(): its
 * done callback always runs later, from the loop, exactly once, so a
 * caller may submit while holding a lock that done takes. Guest buffers
 * are read and written in place (no copy) unless O_DIRECT needs an
 * aligned bounce buffer.
 */
#ifndef MINNOW_BLK_URING_H
#define MINNOW_BLK_URING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/blk_opts.h"
#include "devices/blk_req.h"
#include "vmm/evloop.h"
#include "vmm/log.h"

/* An opened, locked image. */
struct blk_image {
	int fd;
	const char *path; /* the caller's; for messages */
	uint64_t size_bytes;
	uint64_t capacity; /* whole 512-byte sectors; a tail is unused */
	bool readonly;
	bool direct;
	uint32_t mem_align;  /* O_DIRECT buffer alignment; 1 without */
	uint32_t block_size; /* logical block size offered to the guest */
};

/*
 * Opens opts->path (O_RDONLY with readonly, O_DIRECT with direct), takes
 * an OFD lock on the whole file (shared when read-only, exclusive
 * otherwise) and measures it. Returns 0, or a negative errno after one
 * logged error naming the file: -EAGAIN when another process holds a
 * conflicting lock, -EINVAL for O_DIRECT on a filesystem without it or an
 * image smaller than one sector.
 */
int blk_image_open(struct blk_image *img, const struct blk_options *opts);
void blk_image_close(struct blk_image *img);

/* The back end of one disk: the image and the loop its I/O runs on. */
struct blk_backend {
	struct evloop *loop;
	struct blk_image *img;
	const char *name;        /* for logs: the device's name */
	struct log_ratelimit rl; /* loop thread only */
};

struct blk_io;

/* err: 0, or the negative errno the request failed with. */
typedef void (*blk_io_done_fn)(struct blk_io *io, int err);

/*
 * One operation in flight; embed it in the request. Fill the fields
 * above the line, then blk_io_submit(). The iovecs are consumed (advanced
 * over short transfers); they and the memory they point to must stay
 * valid until done runs.
 */
struct blk_io {
	enum blk_op kind;  /* READ, WRITE, FLUSH, DISCARD, WRITE_ZEROES */
	uint64_t offset;   /* bytes; within the image (checked before) */
	uint64_t len;      /* bytes */
	struct iovec *iov; /* READ, WRITE */
	unsigned int nr_iov;
	bool unmap; /* WRITE_ZEROES may punch a hole */
	blk_io_done_fn done;
	/* -------- private to the back end -------- */
	struct ev_op op;
	struct blk_backend *be;
	uint64_t remaining;
	int stage;
	int fail; /* error to report from a NOP completion */
	unsigned int retries;
	void *bounce;
	struct iovec bounce_iov;
	const struct iovec *guest_iov; /* for copying a bounce read out */
	unsigned int guest_nr;
};

void blk_backend_init(struct blk_backend *be, struct evloop *loop,
		      struct blk_image *img, const char *name);

/*
 * Caps the loop's bounded io_uring workers so a busy guest cannot spawn
 * unbounded host threads (IORING_REGISTER_IOWQ_MAX_WORKERS). Each disk
 * adds its share; the cap is on the loop's ring. Returns 0 or -errno (a
 * kernel without the call is not an error: logged at debug).
 */
int blk_backend_cap_workers(struct blk_backend *be, unsigned int nr_queues);

/* Starts io; io->done runs later on the loop thread. */
void blk_io_submit(struct blk_backend *be, struct blk_io *io);

#endif
