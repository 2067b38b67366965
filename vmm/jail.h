/*
 * `minnow run --jail SPEC`: minnow confines itself before it opens
 * anything. New mount, PID, IPC and UTS namespaces (and a network one if
 * asked); DIR becomes the root; optional cgroup v2 limits, resource
 * limits, and a user and group to become once the devices are open.
 *
 * SPEC: DIR[,uid=N][,gid=N][,netns=on][,nofile=N][,fsize=MIB][,cgroup=PATH]
 *       [,memory=MIB][,cpu=PERCENT]
 * DIR must exist and hold what the VM needs at the paths given to the
 * other flags, which are read inside the jail (see docs/security.md).
 *
 * Order: jail_spec_parse() → jail_enter() (before the VM is built, one
 * thread) → launch_prepare() → jail_drop_ids() → caps_drop().
 */
#ifndef MINNOW_JAIL_H
#define MINNOW_JAIL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct jail_spec {
	char dir[PATH_MAX];
	bool has_uid, has_gid;
	uid_t uid;
	gid_t gid;
	bool netns;               /* a network namespace of its own */
	bool need_tun;            /* bind /dev/net/tun (set by the caller) */
	uint64_t nofile;          /* RLIMIT_NOFILE, 0: unchanged */
	uint64_t fsize_mib;       /* RLIMIT_FSIZE, 0: unchanged */
	char cgroup[PATH_MAX];    /* cgroup v2 directory to create and join */
	uint64_t memory_mib;      /* memory.max, 0: unlimited */
	unsigned int cpu_percent; /* cpu.max as a share of one CPU, 0: none */
};

/*
 * Parses SPEC into out. Returns 0, or -EINVAL after one message naming
 * the key and what is allowed.
 */
int jail_spec_parse(const char *spec, struct jail_spec *out);

/*
 * Enters the jail. The calling process forks: the parent stays outside,
 * forwards SIGTERM and SIGINT and exits with the child's status (it never
 * returns); the child, PID 1 of the new namespace with DIR as its root,
 * returns 0. Returns a negative errno (logged) when the jail cannot be
 * set up; nothing has been started then.
 */
int jail_enter(const struct jail_spec *j);

/*
 * Becomes the spec's uid and gid (no supplementary groups), if the jail
 * entered asked for them; nothing otherwise. 0 or a negative errno.
 */
int jail_drop_ids(void);

/* True when jail_enter() ran and a uid or gid is still to be taken. */
bool jail_wants_ids(void);

#endif
