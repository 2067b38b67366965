/*
 * The --disk option string, in Cloud Hypervisor's syntax:
 * path=PATH[,readonly=on][,direct=on][,serial=ID][,num_queues=N]
 * [,queue_size=N]
 */
#ifndef MINNOW_BLK_OPTS_H
#define MINNOW_BLK_OPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/blk_req.h"

#define BLK_DEFAULT_QUEUES     1
#define BLK_MAX_QUEUES         16
#define BLK_DEFAULT_QUEUE_SIZE 256
/* A chain fits one readv/writev: at most UIO_MAXIOV buffers. */
#define BLK_MAX_QUEUE_SIZE 1024
#define BLK_MIN_QUEUE_SIZE 4

struct blk_options {
	char path[4096];
	bool readonly;
	bool direct;
	char serial[VIRTIO_BLK_ID_BYTES + 1]; /* NUL-terminated, may be "" */
	unsigned int num_queues;
	unsigned int queue_size;
};

/*
 * Parses spec into opts (defaults filled in). Returns 0, or -EINVAL
 * after logging one error that names the field and what is allowed.
 */
int blk_options_parse(const char *spec, struct blk_options *opts);

#endif
