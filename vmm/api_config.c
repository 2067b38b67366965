/*
 * VmConfig JSON (Cloud Hypervisor's REST API schema) to run options.
 * Unknown fields are ignored; a known field of the wrong type or with an
 * impossible value is refused with a message naming it.
 */
#include "vmm/api_config.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define API_JSON_MAX_DEPTH 32
#define API_MAX_VCPUS      1024 /* max_vcpus is accepted, not used */
#define API_TAP_NAME_MAX   15   /* IFNAMSIZ - 1 */
#define API_FS_TAG_MAX     36   /* virtio 1.2, 5.11.4: tag[36] */

__attribute__((format(printf, 2, 3))) static int api_fail(struct api_error *err,
							  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const char *api_type_name(json_type type)
{
	switch (type) {
	case json_type_int:
		return "an integer";
	case json_type_boolean:
		return "true or false";
	case json_type_string:
		return "a string";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	default:
		return "something else";
	}
}

/*
 * Looks up key in obj (where names obj in messages). Returns 1 with *out
 * set, 0 when absent or null, -EINVAL when of another type.
 */
static int api_field(json_object *obj, const char *where, const char *key,
		     json_type type, json_object **out, struct api_error *err)
{
	json_object *v = NULL;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, type))
		return api_fail(err, "%s%s%s: must be %s", where,
				*where ? "." : "", key, api_type_name(type));
	*out = v;
	return 1;
}

/* An integer field in [min, max]: 1 present, 0 absent, -EINVAL. */
static int api_uint(json_object *obj, const char *where, const char *key,
		    uint64_t min, uint64_t max, uint64_t *out,
		    struct api_error *err)
{
	json_object *v;
	int64_t n;
	int ret;

	ret = api_field(obj, where, key, json_type_int, &v, err);
	if (ret <= 0)
		return ret;
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max || n == INT64_MAX)
		return api_fail(
			err, "%s%s%s: %lld is out of range (%llu to %llu)",
			where, *where ? "." : "", key, (long long)n,
			(unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)n;
	return 1;
}

static int api_bool(json_object *obj, const char *where, const char *key,
		    bool *out, struct api_error *err)
{
	json_object *v;
	int ret;

	ret = api_field(obj, where, key, json_type_boolean, &v, err);
	if (ret > 0)
		*out = json_object_get_boolean(v);
	return ret;
}

/*
 * A string field, borrowed from obj. in_spec: it goes into a SPEC string,
 * so it may not hold the separator ','. Returns 1, 0 (absent) or -EINVAL.
 */
static int api_str(json_object *obj, const char *where, const char *key,
		   bool required, bool in_spec, const char **out,
		   struct api_error *err)
{
	const char *dot = *where ? "." : "";
	json_object *v;
	const char *s;
	int ret;

	ret = api_field(obj, where, key, json_type_string, &v, err);
	if (ret < 0)
		return ret;
	if (ret == 0) {
		if (required)
			return api_fail(err, "%s%s%s: is required", where, dot,
					key);
		return 0;
	}
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return api_fail(err, "%s%s%s: contains a NUL character", where,
				dot, key);
	if (required && !*s)
		return api_fail(err, "%s%s%s: may not be empty", where, dot,
				key);
	if (in_spec && strchr(s, ','))
		return api_fail(err,
				"%s%s%s: '%s' contains ',', which minnow "
				"cannot pass on",
				where, dot, key, s);
	*out = s;
	return 1;
}

/* A section that minnow cannot provide: refused when present. */
static int api_refuse(json_object *obj, const char *key, const char *why,
		      struct api_error *err)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v) || !v)
		return 0;
	if (json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) == 0)
		return 0;
	return api_fail(err, "%s: not supported by minnow: %s", key, why);
}

static json_object *api_json_parse(const char *body, size_t len,
				   struct api_error *err)
{
	struct json_tokener *tok;
	json_object *obj;
	size_t end;

	if (!body || len == 0) {
		api_fail(err, "body: a JSON object is required");
		return NULL;
	}
	tok = json_tokener_new_ex(API_JSON_MAX_DEPTH);
	if (!tok) {
		api_fail(err, "body: out of memory");
		return NULL;
	}
	obj = json_tokener_parse_ex(tok, body, (int)len);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success) {
		api_fail(err, "body: malformed JSON (%s)",
			 json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(obj);
		json_tokener_free(tok);
		return NULL;
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (end < len && isspace((unsigned char)body[end]))
		end++;
	if (end != len || !json_object_is_type(obj, json_type_object)) {
		api_fail(err, "body: must be one JSON object");
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static int api_mac_check(const char *mac, const char *where,
			 struct api_error *err)
{
	for (int i = 0; i < 17; i++) {
		bool colon = i % 3 == 2;

		if (colon ? mac[i] != ':' : !isxdigit((unsigned char)mac[i]))
			goto bad;
	}
	if (mac[17] == '\0')
		return 0;
bad:
	return api_fail(err,
			"%s.mac: '%s' is not a MAC address "
			"(aa:bb:cc:dd:ee:ff)",
			where, mac);
}

static int api_spec_push(struct api_devices *list, char *spec, const char *what,
			 struct api_error *err)
{
	if (!spec)
		return api_fail(err, "%s: out of memory", what);
	if (list->nr == CLI_MAX_DEVICES) {
		free(spec);
		return api_fail(err, "%s: at most %d of these are allowed",
				what, CLI_MAX_DEVICES);
	}
	list->specs[list->nr++] = spec;
	return 0;
}

/* Like asprintf, but returns the string (NULL when out of memory). */
__attribute__((format(printf, 1, 2))) static char *api_sprintf(const char *fmt,
							       ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

/* DiskConfig: path=P[,readonly=on][,direct=on] for devices/blk_opts.c. */
static int api_parse_disk(struct api_config *c, json_object *o,
			  const char *where, struct api_error *err)
{
	bool readonly = false, direct = false, vhost = false;
	const char *path;

	if (api_str(o, where, "path", true, true, &path, err) < 0 ||
	    api_bool(o, where, "readonly", &readonly, err) < 0 ||
	    api_bool(o, where, "direct", &direct, err) < 0 ||
	    api_bool(o, where, "vhost_user", &vhost, err) < 0)
		return -EINVAL;
	if (vhost)
		return api_fail(err, "%s.vhost_user: not supported by minnow",
				where);
	return api_spec_push(&c->disks,
			     api_sprintf("path=%s%s%s", path,
					 readonly ? ",readonly=on" : "",
					 direct ? ",direct=on" : ""),
			     where, err);
}

/*
 * NetConfig: fd=N (a tap passed with the request) or tap=NAME, then mac
 * and mtu, for devices/net_spec.c. The body's own "fds" numbers mean
 * nothing in this process and are ignored.
 */
static int api_parse_net(struct api_config *c, json_object *o,
			 const char *where, int fd, struct api_error *err)
{
	const char *tap = NULL, *mac = NULL;
	uint64_t mtu = 0;
	bool vhost = false;
	char mac_part[32] = "", mtu_part[32] = "";

	if (api_str(o, where, "tap", false, true, &tap, err) < 0 ||
	    api_str(o, where, "mac", false, true, &mac, err) < 0 ||
	    api_uint(o, where, "mtu", 68, 65535, &mtu, err) < 0 ||
	    api_bool(o, where, "vhost_user", &vhost, err) < 0)
		return -EINVAL;
	if (vhost)
		return api_fail(err, "%s.vhost_user: not supported by minnow",
				where);
	if (mac && api_mac_check(mac, where, err))
		return -EINVAL;
	if (tap && strlen(tap) > API_TAP_NAME_MAX)
		return api_fail(err, "%s.tap: '%s' is longer than %d bytes",
				where, tap, API_TAP_NAME_MAX);
	if (fd < 0 && !(tap && *tap))
		return api_fail(err,
				"%s: give a tap name, or pass the tap's "
				"fd with vm.add-net",
				where);
	if (mac)
		snprintf(mac_part, sizeof(mac_part), ",mac=%s", mac);
	if (mtu)
		snprintf(mtu_part, sizeof(mtu_part), ",mtu=%llu",
			 (unsigned long long)mtu);
	if (fd >= 0)
		return api_spec_push(
			&c->nets,
			api_sprintf("fd=%d%s%s", fd, mac_part, mtu_part), where,
			err);
	return api_spec_push(&c->nets,
			     api_sprintf("tap=%s%s%s", tap, mac_part, mtu_part),
			     where, err);
}

/* FsConfig: tag=T,socket=S for the virtio-fs device. */
static int api_parse_fs(struct api_config *c, json_object *o, const char *where,
			struct api_error *err)
{
	const char *tag, *socket;

	if (api_str(o, where, "tag", true, true, &tag, err) < 0 ||
	    api_str(o, where, "socket", true, true, &socket, err) < 0)
		return -EINVAL;
	if (strlen(tag) > API_FS_TAG_MAX || strchr(tag, '='))
		return api_fail(err,
				"%s.tag: '%s' must be 1 to %d bytes "
				"without '='",
				where, tag, API_FS_TAG_MAX);
	return api_spec_push(&c->fs,
			     api_sprintf("tag=%s,socket=%s", tag, socket),
			     where, err);
}

/* VsockConfig: cid=N,socket=S for the virtio-vsock device. */
static int api_parse_vsock(struct api_config *c, json_object *o,
			   const char *where, struct api_error *err)
{
	const char *socket;
	uint64_t cid = 0;
	int ret;

	ret = api_uint(o, where, "cid", 3, 0xfffffffeull, &cid, err);
	if (ret < 0)
		return ret;
	if (ret == 0)
		return api_fail(err, "%s.cid: is required", where);
	if (api_str(o, where, "socket", true, true, &socket, err) < 0)
		return -EINVAL;
	if (c->vsock.nr)
		return api_fail(err, "%s: the VM has a vsock device already",
				where);
	return api_spec_push(&c->vsock,
			     api_sprintf("cid=%llu,socket=%s",
					 (unsigned long long)cid, socket),
			     where, err);
}

/* payload {kernel, cmdline, initramfs}, or the older top-level objects. */
static int api_parse_payload(struct api_config *c, json_object *root,
			     struct api_error *err)
{
	const char *kernel = NULL, *cmdline = NULL, *initramfs = NULL;
	json_object *p, *o;
	int ret;

	ret = api_field(root, "", "payload", json_type_object, &p, err);
	if (ret < 0)
		return ret;
	if (ret > 0) {
		if (api_refuse(p, "firmware", "boot a kernel", err) ||
		    api_refuse(p, "igvm", "boot a kernel", err))
			return -EINVAL;
		if (api_str(p, "payload", "kernel", true, false, &kernel, err) <
			    0 ||
		    api_str(p, "payload", "cmdline", false, false, &cmdline,
			    err) < 0 ||
		    api_str(p, "payload", "initramfs", false, false, &initramfs,
			    err) < 0)
			return -EINVAL;
	} else {
		if (api_field(root, "", "kernel", json_type_object, &o, err) <
		    0)
			return -EINVAL;
		if (!o)
			return api_fail(err, "payload.kernel: is required");
		if (api_str(o, "kernel", "path", true, false, &kernel, err) < 0)
			return -EINVAL;
		if (api_field(root, "", "cmdline", json_type_object, &o, err) <
			    0 ||
		    (o && api_str(o, "cmdline", "args", false, false, &cmdline,
				  err) < 0))
			return -EINVAL;
		if (api_field(root, "", "initramfs", json_type_object, &o,
			      err) < 0 ||
		    (o && api_str(o, "initramfs", "path", true, false,
				  &initramfs, err) < 0))
			return -EINVAL;
	}
	c->kernel = strdup(kernel);
	c->cmdline = strdup(cmdline ? cmdline : "");
	c->initramfs = initramfs ? strdup(initramfs) : NULL;
	if (!c->kernel || !c->cmdline || (initramfs && !c->initramfs))
		return api_fail(err, "payload: out of memory");
	return 0;
}

static int api_parse_cpus(struct api_config *c, json_object *root,
			  struct api_error *err)
{
	uint64_t boot = 1, max = 0;
	json_object *cpus, *topo;
	int ret;

	ret = api_field(root, "", "cpus", json_type_object, &cpus, err);
	if (ret <= 0) {
		if (ret == 0) {
			cpus = json_object_new_object();
			json_object_object_add(root, "cpus", cpus);
			goto defaults;
		}
		return ret;
	}
	if (api_uint(cpus, "cpus", "boot_vcpus", 1, VM_MAX_CPUS, &boot, err) <
		    0 ||
	    api_uint(cpus, "cpus", "max_vcpus", 1, API_MAX_VCPUS, &max, err) <
		    0 ||
	    api_field(cpus, "cpus", "topology", json_type_object, &topo, err) <
		    0)
		return -EINVAL;
	if (max && max < boot)
		return api_fail(err,
				"cpus.max_vcpus: %llu is less than "
				"boot_vcpus (%llu)",
				(unsigned long long)max,
				(unsigned long long)boot);

defaults:
	c->boot_vcpus = (unsigned int)boot;
	c->max_vcpus = (unsigned int)(max ? max : boot);
	/* vm.info must carry what the schema requires. */
	json_object_object_add(cpus, "boot_vcpus",
			       json_object_new_int64(c->boot_vcpus));
	json_object_object_add(cpus, "max_vcpus",
			       json_object_new_int64(c->max_vcpus));
	return 0;
}

static int api_parse_memory(struct api_config *c, json_object *root,
			    struct api_error *err)
{
	uint64_t size = (uint64_t)CLI_DEFAULT_MEM_MIB << 20, hotplug = 0;
	json_object *mem;
	int ret;

	ret = api_field(root, "", "memory", json_type_object, &mem, err);
	if (ret < 0)
		return ret;
	if (ret == 0) {
		mem = json_object_new_object();
		json_object_object_add(root, "memory", mem);
	} else {
		if (api_uint(mem, "memory", "size", 2 << 20,
			     CLI_MAX_MEM_MIB << 20, &size, err) < 0 ||
		    api_uint(mem, "memory", "hotplug_size", 0, UINT64_MAX,
			     &hotplug, err) < 0 ||
		    api_bool(mem, "memory", "hugepages", &c->hugepages, err) <
			    0 ||
		    api_refuse(mem, "zones", "give one size", err))
			return -EINVAL;
		if (size % (2 << 20))
			return api_fail(err,
					"memory.size: %llu is not a "
					"multiple of 2 MiB",
					(unsigned long long)size);
	}
	c->mem_bytes = size;
	c->hotplug_bytes = hotplug;
	json_object_object_add(mem, "size",
			       json_object_new_int64((int64_t)c->mem_bytes));
	return 0;
}

/* serial and console: ConsoleConfig {mode, file}. */
static int api_parse_consoles(struct api_config *c, json_object *root,
			      struct api_error *err)
{
	const char *mode = "Null", *file = NULL;
	json_object *o;

	if (api_field(root, "", "serial", json_type_object, &o, err) < 0 ||
	    (o && (api_str(o, "serial", "mode", true, false, &mode, err) < 0 ||
		   api_str(o, "serial", "file", false, false, &file, err) < 0)))
		return -EINVAL;
	if (strcmp(mode, "Off") == 0 || strcmp(mode, "Null") == 0) {
		c->serial = SERIAL_OFF;
	} else if (strcmp(mode, "Tty") == 0) {
		c->serial = SERIAL_STDIO;
	} else if (strcmp(mode, "File") == 0 && file && *file) {
		c->serial = SERIAL_FILE;
		c->serial_path = strdup(file);
		if (!c->serial_path)
			return api_fail(err, "serial: out of memory");
	} else {
		return api_fail(err,
				"serial.mode: '%s' is not supported: use "
				"Off, Null, Tty or File (with file)",
				mode);
	}

	/* No virtio-console yet: its Tty default is accepted, unused. */
	mode = "Tty";
	if (api_field(root, "", "console", json_type_object, &o, err) < 0 ||
	    (o && api_str(o, "console", "mode", true, false, &mode, err) < 0))
		return -EINVAL;
	if (strcmp(mode, "Off") != 0 && strcmp(mode, "Null") != 0 &&
	    strcmp(mode, "Tty") != 0)
		return api_fail(err,
				"console.mode: '%s' is not supported: use "
				"Off, Null or Tty",
				mode);
	return 0;
}

typedef int (*api_dev_parse_fn)(struct api_config *c, json_object *o,
				const char *where, struct api_error *err);

static int api_parse_array(struct api_config *c, json_object *root,
			   const char *key, api_dev_parse_fn parse,
			   struct api_error *err)
{
	json_object *arr;
	char where[32];
	size_t n;
	int ret;

	ret = api_field(root, "", key, json_type_array, &arr, err);
	if (ret <= 0)
		return ret;
	n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);

		snprintf(where, sizeof(where), "%s[%zu]", key, i);
		if (!o || !json_object_is_type(o, json_type_object))
			return api_fail(err, "%s: must be an object", where);
		ret = parse(c, o, where, err);
		if (ret)
			return ret;
	}
	return 0;
}

static int api_parse_net_entry(struct api_config *c, json_object *o,
			       const char *where, struct api_error *err)
{
	return api_parse_net(c, o, where, -1, err);
}

static int api_parse_devices(struct api_config *c, json_object *root,
			     struct api_error *err)
{
	json_object *o;
	int ret;

	if (api_parse_array(c, root, "disks", api_parse_disk, err) ||
	    api_parse_array(c, root, "net", api_parse_net_entry, err) ||
	    api_parse_array(c, root, "fs", api_parse_fs, err))
		return -EINVAL;
	ret = api_field(root, "", "vsock", json_type_object, &o, err);
	if (ret > 0)
		ret = api_parse_vsock(c, o, "vsock", err);
	if (ret < 0)
		return ret;

	/* rng: always virtio-rng fed by getrandom(); its src is unused. */
	c->rng = true;
	if (api_field(root, "", "rng", json_type_object, &o, err) < 0 ||
	    (o && api_str(o, "rng", "src", false, false, &(const char *){NULL},
			  err) < 0))
		return -EINVAL;
	return 0;
}

static int api_parse_refused(json_object *root, struct api_error *err)
{
	static const struct {
		const char *key, *why;
	} refused[] = {
		{"pmem", "use an initramfs or a disk"},
		{"devices", "no device passthrough"},
		{"user_devices", "no vfio-user"},
		{"vdpa", "no vDPA"},
		{"balloon", "no balloon device"},
		{"sgx_epc", "no SGX"},
		{"numa", "one NUMA node only"},
		{"tdx", "no TDX"},
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (api_refuse(root, refused[i].key, refused[i].why, err))
			return -EINVAL;
	return 0;
}

struct api_config *api_config_parse(const char *body, size_t len,
				    struct api_error *err)
{
	struct api_config *c;
	json_object *root;

	root = api_json_parse(body, len, err);
	if (!root)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		api_fail(err, "body: out of memory");
		json_object_put(root);
		return NULL;
	}
	c->json = root;

	if (api_parse_refused(root, err) || api_parse_payload(c, root, err) ||
	    api_parse_cpus(c, root, err) || api_parse_memory(c, root, err) ||
	    api_parse_consoles(c, root, err) ||
	    api_parse_devices(c, root, err)) {
		api_config_free(c);
		return NULL;
	}
	return c;
}

/* Appends a device added after vm.create to the echoed config. */
static void api_config_echo_device(struct api_config *c, const char *key,
				   json_object *dev)
{
	json_object *arr = NULL;

	if (strcmp(key, "vsock") == 0) {
		json_object_object_add(c->json, key, json_object_get(dev));
		return;
	}
	if (!json_object_object_get_ex(c->json, key, &arr) || !arr ||
	    !json_object_is_type(arr, json_type_array)) {
		arr = json_object_new_array();
		json_object_object_add(c->json, key, arr);
	}
	json_object_array_add(arr, json_object_get(dev));
}

int api_config_add_device(struct api_config *c, enum api_device_kind kind,
			  const char *body, size_t len, const int *fds,
			  unsigned int *nr_fds, struct api_error *err)
{
	static const char *const keys[] = {
		[API_DEV_DISK] = "disks",
		[API_DEV_NET] = "net",
		[API_DEV_FS] = "fs",
		[API_DEV_VSOCK] = "vsock",
	};
	unsigned int given = *nr_fds;
	json_object *dev;
	int ret;

	*nr_fds = 0;
	dev = api_json_parse(body, len, err);
	if (!dev)
		return -EINVAL;
	if (kind != API_DEV_NET && given) {
		ret = api_fail(err, "body: this request takes no file "
				    "descriptors");
		goto out;
	}

	switch (kind) {
	case API_DEV_DISK:
		ret = api_parse_disk(c, dev, "disk", err);
		break;
	case API_DEV_FS:
		ret = api_parse_fs(c, dev, "fs", err);
		break;
	case API_DEV_VSOCK:
		ret = api_parse_vsock(c, dev, "vsock", err);
		break;
	default:
		/* One tap fd per device: minnow's net has one queue pair. */
		if (given > 1) {
			ret = api_fail(err,
				       "net: %u file descriptors passed; "
				       "minnow takes one tap per device",
				       given);
			break;
		}
		if (given && c->nr_fds == API_CONFIG_MAX_FDS) {
			ret = api_fail(err, "net: too many devices");
			break;
		}
		ret = api_parse_net(c, dev, "net", given ? fds[0] : -1, err);
		if (ret == 0 && given) {
			c->fds[c->nr_fds++] = fds[0];
			*nr_fds = 1;
		}
		break;
	}
	if (ret == 0)
		api_config_echo_device(c, keys[kind], dev);
out:
	json_object_put(dev);
	return ret;
}

int api_config_check_resize(const struct api_config *c, const char *body,
			    size_t len, struct api_error *err)
{
	uint64_t vcpus = c->boot_vcpus, ram = c->mem_bytes, balloon = 0;
	json_object *o;
	int ret;

	o = api_json_parse(body, len, err);
	if (!o)
		return -EINVAL;
	ret = api_uint(o, "", "desired_vcpus", 1, API_MAX_VCPUS, &vcpus, err);
	if (ret >= 0)
		ret = api_uint(o, "", "desired_ram", 0, UINT64_MAX, &ram, err);
	if (ret >= 0)
		ret = api_uint(o, "", "desired_balloon", 0, UINT64_MAX,
			       &balloon, err);
	json_object_put(o);
	if (ret < 0)
		return ret;

	/* A valid request for a change minnow cannot make. */
	if (vcpus != c->boot_vcpus)
		api_fail(err,
			 "desired_vcpus: minnow cannot change the number "
			 "of vCPUs (%u) yet",
			 c->boot_vcpus);
	else if (ram != c->mem_bytes)
		api_fail(err,
			 "desired_ram: minnow cannot resize memory (%llu "
			 "bytes) yet",
			 (unsigned long long)c->mem_bytes);
	else if (balloon)
		api_fail(err, "desired_balloon: minnow has no balloon");
	else
		return 0;
	return -ENOTSUP;
}

static void api_devices_to_run(const struct api_devices *from,
			       struct cli_devices *to)
{
	to->nr = from->nr;
	for (unsigned int i = 0; i < from->nr; i++)
		to->specs[i] = from->specs[i];
}

void api_config_to_run(const struct api_config *c, struct cli_run *out)
{
	*out = (struct cli_run){
		.kernel = c->kernel,
		.initrd = c->initramfs,
		.cmdline = c->cmdline,
		.cpus = c->boot_vcpus,
		.mem_mib = c->mem_bytes >> 20,
		.hugepages = c->hugepages,
		.serial = c->serial,
		.serial_path = c->serial_path,
		.cpu_template = CPU_TEMPLATE_HOST,
		.log_level = log_threshold,
		.rng = c->rng,
		.timings = CLI_TIMINGS_OFF,
	};
	api_devices_to_run(&c->disks, &out->disks);
	api_devices_to_run(&c->nets, &out->nets);
	api_devices_to_run(&c->fs, &out->fs);
	api_devices_to_run(&c->vsock, &out->vsock);
}

char *api_config_info(const struct api_config *c, const char *state)
{
	json_object *info = json_object_new_object();
	char *out;

	if (!info)
		return NULL;
	json_object_object_add(info, "config", json_object_get(c->json));
	json_object_object_add(info, "state", json_object_new_string(state));
	json_object_object_add(info, "memory_actual_size",
			       json_object_new_int64((int64_t)c->mem_bytes));
	out = strdup(json_object_to_json_string_ext(
		info, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(info);
	return out;
}

static void api_devices_free(struct api_devices *list)
{
	for (unsigned int i = 0; i < list->nr; i++)
		free(list->specs[i]);
	list->nr = 0;
}

void api_config_free(struct api_config *c)
{
	if (!c)
		return;
	json_object_put(c->json);
	free(c->kernel);
	free(c->initramfs);
	free(c->cmdline);
	free(c->serial_path);
	api_devices_free(&c->disks);
	api_devices_free(&c->nets);
	api_devices_free(&c->fs);
	api_devices_free(&c->vsock);
	for (unsigned int i = 0; i < c->nr_fds; i++)
		close(c->fds[i]);
	free(c);
}
