/* Parsing the --disk option string. */
#include "devices/blk_opts.h"
#include "vmm/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* "on"/"true" or "off"/"false"; returns 0 or -EINVAL. */
static int blk_parse_bool(const char *key, const char *val, bool *out)
{
	if (!strcmp(val, "on") || !strcmp(val, "true")) {
		*out = true;
		return 0;
	}
	if (!strcmp(val, "off") || !strcmp(val, "false")) {
		*out = false;
		return 0;
	}
	log_error("--disk: %s=%s: expected on or off", key, val);
	return -EINVAL;
}

static int blk_parse_uint(const char *key, const char *val, unsigned int min,
			  unsigned int max, unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno || end == val || *end || val[0] == '-' || v < min ||
	    v > max) {
		log_error("--disk: %s=%s: expected a number from %u to %u", key,
			  val, min, max);
		return -EINVAL;
	}
	*out = (unsigned int)v;
	return 0;
}

/* virtio 1.2, 5.2.6: the ID is bytes, but keep it printable for logs. */
static int blk_parse_serial(const char *val, char *out)
{
	size_t len = strlen(val);

	if (len > VIRTIO_BLK_ID_BYTES) {
		log_error("--disk: serial=%s: at most %u characters", val,
			  VIRTIO_BLK_ID_BYTES);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (val[i] < 0x21 || val[i] > 0x7e) {
			log_error("--disk: serial: only printable ASCII "
				  "without spaces is allowed");
			return -EINVAL;
		}
	}
	memcpy(out, val, len + 1);
	return 0;
}

static int blk_parse_pair(char *pair, struct blk_options *o)
{
	char *val = strchr(pair, '=');

	if (!val) {
		log_error("--disk: '%s' is not key=value", pair);
		return -EINVAL;
	}
	*val++ = '\0';
	if (!strcmp(pair, "path")) {
		if (!*val || strlen(val) >= sizeof(o->path)) {
			log_error("--disk: path: empty or too long");
			return -EINVAL;
		}
		strcpy(o->path, val);
		return 0;
	}
	if (!strcmp(pair, "readonly"))
		return blk_parse_bool(pair, val, &o->readonly);
	if (!strcmp(pair, "direct"))
		return blk_parse_bool(pair, val, &o->direct);
	if (!strcmp(pair, "serial"))
		return blk_parse_serial(val, o->serial);
	if (!strcmp(pair, "num_queues"))
		return blk_parse_uint(pair, val, 1, BLK_MAX_QUEUES,
				      &o->num_queues);
	if (!strcmp(pair, "queue_size")) {
		if (blk_parse_uint(pair, val, BLK_MIN_QUEUE_SIZE,
				   BLK_MAX_QUEUE_SIZE, &o->queue_size))
			return -EINVAL;
		if (o->queue_size & (o->queue_size - 1)) {
			log_error(
				"--disk: queue_size=%s: must be a power of two",
				val);
			return -EINVAL;
		}
		return 0;
	}
	log_error("--disk: unknown field '%s' (path, readonly, direct, serial, "
		  "num_queues, queue_size)",
		  pair);
	return -EINVAL;
}

int blk_options_parse(const char *spec, struct blk_options *opts)
{
	char *copy = strdup(spec), *save = NULL, *pair;
	int err = 0;

	memset(opts, 0, sizeof(*opts));
	opts->num_queues = BLK_DEFAULT_QUEUES;
	opts->queue_size = BLK_DEFAULT_QUEUE_SIZE;
	if (!copy)
		return -ENOMEM;
	for (pair = strtok_r(copy, ",", &save); pair && !err;
	     pair = strtok_r(NULL, ",", &save))
		err = blk_parse_pair(pair, opts);
	free(copy);
	if (!err && !opts->path[0]) {
		log_error("--disk: path=PATH is required");
		err = -EINVAL;
	}
	return err;
}
