/*
 * `minnow virtiofsd`: the built-in FUSE server (devices/fs_server.h) as a
 * vhost-user back end for one front end, so that a VMM (minnow's own
 * --fs tag=,socket=, or the Kata runtime's hypervisor) can use it in
 * virtiofsd's place. minnow also runs as this when started under the
 * name "virtiofsd" (a symlink).
 */
#ifndef MINNOW_VIRTIOFSD_H
#define MINNOW_VIRTIOFSD_H

#include <stdbool.h>

#include "devices/fs_server.h"
#include "vmm/log.h"

struct virtiofsd_opts {
	const char *socket_path; /* --socket-path; NULL with --fd */
	int fd;                  /* --fd: an inherited socket; -1 when none */
	const char *shared_dir;  /* --shared-dir or -o source= */
	bool readonly;
	enum fs_cache cache;
	enum log_level log_level;
	bool print_capabilities;
};

/*
 * Parses the arguments after "virtiofsd". Accepts virtiofsd's own
 * spellings (--opt VALUE and --opt=VALUE, and the older -o key=value
 * list) and ignores the options that make no difference here
 * (--syslog, --sandbox, --seccomp, --thread-pool-size, --xattr,
 * --announce-submounts...). Returns 0; 1 after printing help; or -EINVAL
 * after printing one message naming the option.
 */
int virtiofsd_parse(int argc, char **argv, struct virtiofsd_opts *out);

/*
 * Runs the back end: waits for one front end on the socket, serves it,
 * and returns 0 when it disconnects; 1 on a failure (logged), 2 for a
 * bad command line. argv[0] is "virtiofsd".
 */
int virtiofsd_main(int argc, char **argv);

#endif
