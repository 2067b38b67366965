/* Logging: one line per message on stderr, each starting with its subsystem. */
#ifndef MINNOW_LOG_H
#define MINNOW_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages above this level are dropped. Set once at start-up. */
extern enum log_level log_threshold;

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* "error", "warn", "info" or "debug"; returns 0 or -EINVAL. */
int log_level_parse(const char *name, enum log_level *out);

/*
 * Rate limit for messages a guest can trigger at will: at most a burst of
 * LOG_RATELIMIT_BURST per LOG_RATELIMIT_INTERVAL_MS window. Zero-initialise;
 * not thread safe, so keep one per device and use it under the device lock.
 */
#define LOG_RATELIMIT_BURST       5
#define LOG_RATELIMIT_INTERVAL_MS 5000
struct log_ratelimit {
	uint64_t window_start_ms;
	unsigned int printed;
	unsigned int suppressed;
};
bool log_ratelimit_allow(struct log_ratelimit *rl);

#define log_warn_ratelimited(rl, ...)                                          \
	do {                                                                   \
		if (log_ratelimit_allow(rl))                                   \
			log_warn(__VA_ARGS__);                                 \
	} while (0)

/* Monotonic clock in nanoseconds, for logs and timings. */
uint64_t clock_now_ns(void);

#endif
