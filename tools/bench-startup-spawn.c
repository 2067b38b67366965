/*
 * The spawner of tools/bench-startup: starts COUNT copies of a command at
 * once and reports, per copy, its exec and reaped times on CLOCK_MONOTONIC
 * with wait4()'s status and resource usage.
 *
 * It exists because a child's ru_maxrss counts the memory of the process
 * it was exec'ed from: spawned by Python, every VMM would show Python's
 * 15 MiB. From this small program the floor is well under 2 MiB.
 *
 * Usage: bench-startup-spawn COUNT DIR TAG COMMAND [ARG...]
 * Copy i gets /dev/null on stdin and DIR/TAG-i.out, DIR/TAG-i.err. One line
 * per copy on stdout: "i exec_ns reaped_ns status user_us sys_us
 * maxrss_kib". Exits 0, or 1 when a copy could not be started.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#define SPAWN_MAX 1024

extern char **environ;

struct spawn_child {
	pid_t pid;
	uint64_t exec_ns;
};

static uint64_t spawn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t spawn_tv_us(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec;
}

static int spawn_one(struct spawn_child *child, const char *dir,
		     const char *tag, int index, char **argv)
{
	posix_spawn_file_actions_t fa;
	char out[4096], err[4096];
	int rc;

	snprintf(out, sizeof(out), "%s/%s-%d.out", dir, tag, index);
	snprintf(err, sizeof(err), "%s/%s-%d.err", dir, tag, index);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out,
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, err,
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);

	child->exec_ns = spawn_now_ns();
	rc = posix_spawn(&child->pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		fprintf(stderr, "bench-startup-spawn: %s: %s\n", argv[0],
			strerror(rc));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct spawn_child children[SPAWN_MAX];
	int count, started = 0, left;

	if (argc < 5 || (count = atoi(argv[1])) < 1 || count > SPAWN_MAX) {
		fprintf(stderr,
			"usage: bench-startup-spawn COUNT DIR TAG "
			"COMMAND [ARG...] (COUNT 1 to %d)\n",
			SPAWN_MAX);
		return 2;
	}
	for (; started < count; started++)
		if (spawn_one(&children[started], argv[2], argv[3], started,
			      argv + 4))
			break;

	for (left = started; left > 0;) {
		struct rusage ru;
		int status, i;
		pid_t pid = wait4(-1, &status, 0, &ru);
		uint64_t reaped_ns = spawn_now_ns();

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < started && children[i].pid != pid; i++)
			;
		if (i == started)
			continue;
		left--;
		printf("%d %llu %llu %d %llu %llu %ld\n", i,
		       (unsigned long long)children[i].exec_ns,
		       (unsigned long long)reaped_ns, status,
		       (unsigned long long)spawn_tv_us(&ru.ru_utime),
		       (unsigned long long)spawn_tv_us(&ru.ru_stime),
		       ru.ru_maxrss);
	}
	return started == count ? 0 : 1;
}
