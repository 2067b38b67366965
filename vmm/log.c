/* Logging to stderr with levels and a rate limit for guest-triggered warnings. */
#include "vmm/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum log_level log_threshold = LOG_INFO;

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warn",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int saved_errno = errno;

	if (level > log_threshold)
		return;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	/* One write per line so lines from several threads do not interleave. */
	fprintf(stderr, "minnow: %s: %s\n", level_names[level], line);
	errno = saved_errno;
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

uint64_t clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool log_ratelimit_allow(struct log_ratelimit *rl)
{
	uint64_t now_ms = clock_now_ns() / 1000000;

	if (now_ms - rl->window_start_ms >= LOG_RATELIMIT_INTERVAL_MS) {
		if (rl->suppressed)
			log_warn("%u similar messages suppressed",
				 rl->suppressed);
		rl->window_start_ms = now_ms;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < LOG_RATELIMIT_BURST) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}
