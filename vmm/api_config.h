/*
 * Cloud Hypervisor's VmConfig (JSON) to minnow's run options, and back for
 * vm.info. Devices become the same SPEC strings `minnow run --disk/--net/
 * --fs/--vsock` takes, so each device keeps a single validator.
 *
 * Threading: one thread (the API server's) owns a config; the VM thread
 * only reads the cli_run built from it while the VM exists.
 */
#ifndef MINNOW_API_CONFIG_H
#define MINNOW_API_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/cli.h"

struct json_object;

/* One message for the client, naming the field at fault. */
struct api_error {
	char msg[256];
};

struct api_devices {
	unsigned int nr;
	char *specs[CLI_MAX_DEVICES];
};

#define API_CONFIG_MAX_FDS CLI_MAX_DEVICES

struct api_config {
	struct json_object *json; /* as accepted, echoed by vm.info */
	char *kernel;
	char *initramfs;
	char *cmdline;
	unsigned int boot_vcpus;
	unsigned int max_vcpus;
	uint64_t mem_bytes;
	uint64_t hotplug_bytes; /* reported, never used */
	bool hugepages;
	bool rng;
	enum serial_mode serial;
	char *serial_path;
	struct api_devices disks, nets, fs, vsock;

	/* Tap fds from vm.add-net; the config owns (and closes) them. */
	int fds[API_CONFIG_MAX_FDS];
	unsigned int nr_fds;
};

enum api_device_kind { API_DEV_DISK, API_DEV_NET, API_DEV_FS, API_DEV_VSOCK };

/*
 * Parses a VmConfig body. Returns a new config, or NULL with err filled
 * (a bad field or malformed JSON: the client's fault).
 */
struct api_config *api_config_parse(const char *body, size_t len,
				    struct api_error *err);

/*
 * Adds one device from a vm.add-* body (DiskConfig, NetConfig, FsConfig,
 * VsockConfig). fds are the descriptors that came with the request: on
 * success the config owns those it keeps and *nr_fds says how many it
 * took (from the front); the caller closes the rest. Returns 0 or
 * -EINVAL with err filled.
 */
int api_config_add_device(struct api_config *c, enum api_device_kind kind,
			  const char *body, size_t len, const int *fds,
			  unsigned int *nr_fds, struct api_error *err);

/*
 * Checks a vm.resize body against the config. Returns 0 when it changes
 * nothing, -EINVAL for a malformed body, -ENOTSUP for a real change;
 * err is filled for both.
 */
int api_config_check_resize(const struct api_config *c, const char *body,
			    size_t len, struct api_error *err);

/* The run options for this config; they point into c. */
void api_config_to_run(const struct api_config *c, struct cli_run *out);

/* The vm.info body (malloc'd), or NULL when out of memory. */
char *api_config_info(const struct api_config *c, const char *state);

/* Frees c and closes the fds it owns. NULL is fine. */
void api_config_free(struct api_config *c);

#endif
