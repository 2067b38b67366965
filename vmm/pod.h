/*
 * `minnow pod run`: one container in its own VM. Boots the pod guest
 * (guest-kernel/: its kernel and its init), hands it the job and the root
 * file system, prints the container's output and returns its status.
 *
 * Guest contract (guest-kernel/README.md): the initrd is the base
 * initramfs (the init) followed by a second cpio archive with
 * /minnow/job and, for --rootfs, the root under /rootfs; the init
 * reports over the serial console in frames "\x02" KIND LEN4HEX ":" DATA
 * (KIND o: stdout, e: stderr, m: the init's messages, x: exit status in
 * decimal) and ends the VM with an i8042 reset (reboot=k).
 */
#ifndef MINNOW_POD_H
#define MINNOW_POD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmm/cli.h"

#define POD_MAX_ARGS 256
#define POD_MAX_ENV  256

/* minnow's own exit status when the container's status never came. */
#define POD_EXIT_NO_STATUS 125

/* The virtio-fs tag of the --volume share. */
#define POD_VOLUME_TAG "podvol"

struct pod_opts {
	uint64_t mem_mib;
	unsigned int cpus;
	bool verbose;
	const char *kernel; /* NULL: look next to the binary */
	const char *initrd; /* the base initramfs; NULL: likewise */
	const char *rootfs_dir;
	const char *rootfs_image;
	const char *bundle;
	struct cli_devices nets;
	struct cli_devices vsock; /* --vsock, as for minnow run */
	/* --ip ADDR/PREFIX[,GATEWAY]: eth0's address, set by the kernel. */
	const char *ip;
	/*
	 * --volume HOST:GUEST: the host directory, shared read-write over
	 * virtio-fs (tag POD_VOLUME_TAG), mounted at GUEST in the container.
	 */
	char volume_host[PATH_MAX];
	const char *volume_guest;

	/* The process; from the command line or the bundle's config.json. */
	const char *argv[POD_MAX_ARGS + 1];
	unsigned int argc;
	const char *env[POD_MAX_ENV];
	unsigned int envc;
	const char *cwd;
	const char *hostname;
	unsigned int uid, gid;
};

/*
 * Parses the arguments after "pod run" (argv[0] is "run"). Returns 0, 1
 * for --help (usage printed), or -EINVAL after one message naming the
 * flag.
 */
int pod_parse_args(int argc, char **argv, struct pod_opts *opts);

/*
 * Fills the process fields of opts from OCI bundle dir's config.json
 * (process.args, env, cwd, user.uid/gid, hostname, root.path). The root
 * path is written into root_buf (root_size bytes) and opts->rootfs_dir
 * points there. Returns 0 or -EINVAL after a message naming the field.
 */
int pod_bundle_load(struct pod_opts *opts, char *root_buf, size_t root_size);

/*
 * The job file for the guest init: NUL-terminated key=value records.
 * root is "initramfs", "virtiofs:TAG" or "blk:/dev/vdX". Returns the
 * length, or -E2BIG when it does not fit in size.
 */
int pod_job_encode(const struct pod_opts *opts, const char *root, char *buf,
		   size_t size);

/* A cpio (newc) archive being written to a FILE; see Linux's
 * Documentation/driver-api/early-userspace/buffer-format.rst. */
struct pod_cpio {
	FILE *out;
	uint64_t offset;
	uint32_t ino;
	int err; /* the first error, as a negative errno */
};

void pod_cpio_begin(struct pod_cpio *c, FILE *out);
/* One entry: mode includes the file type; data may be NULL when len 0. */
void pod_cpio_entry(struct pod_cpio *c, const char *name, uint32_t mode,
		    const void *data, uint64_t len);
/* Adds host directory dir under name, recursively (no root needed). */
void pod_cpio_tree(struct pod_cpio *c, const char *dir, const char *name);
/* Writes the trailer; returns c->err. */
int pod_cpio_end(struct pod_cpio *c);

/* Splits the serial stream into the init's frames and kernel text. */
struct pod_frames {
	int state; /* where in a frame the parser is */
	char kind;
	unsigned int len, got, hdr_got;
	char hdr[5];
	void (*on_data)(void *ctx, char kind, const char *data, size_t len);
	void (*on_text)(void *ctx, const char *data, size_t len);
	void *ctx;
};

void pod_frames_init(struct pod_frames *pf);
void pod_frames_feed(struct pod_frames *pf, const char *data, size_t len);

/* `minnow pod ...`: argv[0] is "pod". Returns minnow's exit status. */
int pod_main(int argc, char **argv);

#endif
