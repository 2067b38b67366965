/* `minnow pod run`: a container in a VM of its own; see pod.h. */
#include "vmm/pod.h"
#include "vmm/launch.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/*
 * The guest kernel initialises and frees every page of RAM at boot, which
 * is emulated on kvm_pvm hosts: 256 MiB cost 3.4 s more than 128 there.
 */
#define POD_DEFAULT_MEM_MIB 128
#define POD_JOB_MAX         (64 * 1024)
#define POD_KERNEL_NAME     "vmlinux"
#define POD_INITRD_NAME     "pod-initramfs.cpio"
#define POD_TEXT_TAIL       4096

/*
 * The guest kernel's command line: COM1 console, an i8042 reset as the
 * way out, no reboot delay after a panic, and (unless --verbose) only
 * emergencies on the console so the init's frames stay whole.
 */
#define POD_CMDLINE_BASE                                                       \
	"console=ttyS0 reboot=k panic=-1 rodata=off rdinit=/init"
#define POD_CMDLINE_QUIET " quiet loglevel=1"

/* --- Arguments ----------------------------------------------------------- */

enum {
	OPT_MEMORY = 256,
	OPT_CPUS,
	OPT_NET,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_ROOTFS,
	OPT_ROOTFS_IMAGE,
	OPT_BUNDLE,
	OPT_VOLUME,
	OPT_VSOCK,
	OPT_IP,
	OPT_ENV,
	OPT_WORKDIR,
	OPT_HOSTNAME,
	OPT_VERBOSE,
	OPT_HELP,
};

static const struct option pod_options[] = {
	{"memory", required_argument, NULL, OPT_MEMORY},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"net", required_argument, NULL, OPT_NET},
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"rootfs", required_argument, NULL, OPT_ROOTFS},
	{"rootfs-image", required_argument, NULL, OPT_ROOTFS_IMAGE},
	{"bundle", required_argument, NULL, OPT_BUNDLE},
	{"volume", required_argument, NULL, OPT_VOLUME},
	{"vsock", required_argument, NULL, OPT_VSOCK},
	{"ip", required_argument, NULL, OPT_IP},
	{"env", required_argument, NULL, OPT_ENV},
	{"workdir", required_argument, NULL, OPT_WORKDIR},
	{"hostname", required_argument, NULL, OPT_HOSTNAME},
	{"verbose", no_argument, NULL, OPT_VERBOSE},
	{"help", no_argument, NULL, OPT_HELP},
	{0},
};

static void pod_usage(void)
{
	printf("usage: minnow pod run [options] (--rootfs DIR | --rootfs-image "
	       "FILE | --bundle DIR) [-- CMD [ARGS...]]\n"
	       "  --memory MIB      guest RAM (default %d)\n"
	       "  --cpus N          vCPUs (default 1)\n"
	       "  --net SPEC        a virtio-net device, as for minnow run\n"
	       "  --rootfs DIR      the container's root, copied into the "
	       "initramfs\n"
	       "  --rootfs-image F  an ext4 image as the root (virtio-blk)\n"
	       "  --vsock SPEC      a virtio-vsock device, as for minnow run\n"
	       "  --ip A/N[,GW]     eth0's IPv4 address, prefix length and "
	       "gateway\n"
	       "  --volume DIR:PATH share host DIR read-write (virtio-fs) "
	       "at PATH\n"
	       "  --bundle DIR      an OCI bundle: process and root from "
	       "config.json\n"
	       "  --env K=V         environment (repeatable)\n"
	       "  --workdir DIR     working directory (default /)\n"
	       "  --hostname NAME   the container's host name\n"
	       "  --kernel FILE     guest kernel (default: found next to "
	       "minnow)\n"
	       "  --initrd FILE     base initramfs with the pod init (same)\n"
	       "  --verbose         show the guest kernel's messages\n"
	       "minnow exits with the process's status; %d when none came.\n",
	       POD_DEFAULT_MEM_MIB, POD_EXIT_NO_STATUS);
}

static int parse_uint(const char *flag, const char *arg, uint64_t max,
		      uint64_t *out)
{
	if (cli_parse_uint(arg, 1, max, out)) {
		fprintf(stderr,
			"minnow: --%s wants a number from 1 to %llu, "
			"got '%s'\n",
			flag, (unsigned long long)max, arg);
		return -EINVAL;
	}
	return 0;
}

static int pod_parse_one(int opt, const char *arg, struct pod_opts *o)
{
	uint64_t v;

	switch (opt) {
	case OPT_MEMORY:
		if (parse_uint("memory", arg, CLI_MAX_MEM_MIB, &o->mem_mib))
			return -EINVAL;
		return 0;
	case OPT_CPUS:
		if (parse_uint("cpus", arg, VM_MAX_CPUS, &v))
			return -EINVAL;
		o->cpus = (unsigned int)v;
		return 0;
	case OPT_NET:
		if (o->nets.nr == CLI_MAX_DEVICES) {
			fprintf(stderr,
				"minnow: --net given more than %d "
				"times\n",
				CLI_MAX_DEVICES);
			return -EINVAL;
		}
		o->nets.specs[o->nets.nr++] = arg;
		return 0;
	case OPT_VSOCK:
		if (o->vsock.nr == 1) {
			fprintf(stderr, "minnow: --vsock given twice\n");
			return -EINVAL;
		}
		o->vsock.specs[o->vsock.nr++] = arg;
		return 0;
	case OPT_IP:
		o->ip = arg;
		return 0;
	case OPT_KERNEL:
		o->kernel = arg;
		return 0;
	case OPT_INITRD:
		o->initrd = arg;
		return 0;
	case OPT_ROOTFS:
		o->rootfs_dir = arg;
		return 0;
	case OPT_ROOTFS_IMAGE:
		o->rootfs_image = arg;
		return 0;
	case OPT_BUNDLE:
		o->bundle = arg;
		return 0;
	case OPT_VOLUME: {
		const char *colon = strrchr(arg, ':');
		size_t len = colon ? (size_t)(colon - arg) : 0;

		if (o->volume_guest || !colon || len == 0 ||
		    len >= sizeof(o->volume_host) || colon[1] != '/' ||
		    colon[2] == '\0') {
			fprintf(stderr,
				"minnow: --volume wants HOST_DIR:/GUEST_PATH "
				"(once), got '%s'\n",
				arg);
			return -EINVAL;
		}
		memcpy(o->volume_host, arg, len);
		o->volume_host[len] = '\0';
		o->volume_guest = colon + 1;
		return 0;
	}
	case OPT_ENV:
		if (!strchr(arg, '=') || o->envc == POD_MAX_ENV) {
			fprintf(stderr,
				"minnow: --env wants KEY=VALUE (at most "
				"%d), got '%s'\n",
				POD_MAX_ENV, arg);
			return -EINVAL;
		}
		o->env[o->envc++] = arg;
		return 0;
	case OPT_WORKDIR:
		o->cwd = arg;
		return 0;
	case OPT_HOSTNAME:
		o->hostname = arg;
		return 0;
	case OPT_VERBOSE:
		o->verbose = true;
		return 0;
	default:
		return -EINVAL;
	}
}

int pod_parse_args(int argc, char **argv, struct pod_opts *o)
{
	int opt, roots;

	*o = (struct pod_opts){
		.mem_mib = POD_DEFAULT_MEM_MIB,
		.cpus = 1,
	};
	optind = 1;
	opterr = 0;
	/* "+": stop at the first non-option, the command. */
	while ((opt = getopt_long(argc, argv, "+:", pod_options, NULL)) != -1) {
		if (opt == OPT_HELP) {
			pod_usage();
			return 1;
		}
		if (opt == '?' || opt == ':') {
			fprintf(stderr,
				"minnow: pod run: bad option '%s' (see "
				"minnow pod run --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		}
		if (pod_parse_one(opt, optarg, o))
			return -EINVAL;
	}

	roots = !!o->rootfs_dir + !!o->rootfs_image + !!o->bundle;
	if (roots != 1) {
		fprintf(stderr,
			"minnow: pod run wants exactly one of --rootfs, "
			"--rootfs-image and --bundle\n");
		return -EINVAL;
	}
	for (; optind < argc; optind++) {
		if (o->argc == POD_MAX_ARGS) {
			fprintf(stderr,
				"minnow: pod run: more than %d "
				"arguments\n",
				POD_MAX_ARGS);
			return -EINVAL;
		}
		o->argv[o->argc++] = argv[optind];
	}
	if (o->argc == 0 && !o->bundle) {
		fprintf(stderr, "minnow: pod run: no command (give it after "
				"--)\n");
		return -EINVAL;
	}
	return 0;
}

/* --- OCI bundle ---------------------------------------------------------- */

static struct json_object *json_path(struct json_object *o, const char *a,
				     const char *b)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, a, &v))
		return NULL;
	if (b && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return v;
}

/* Strings in the config stay owned by the parsed object, kept for good. */
static int bundle_strings(struct json_object *arr, const char *field,
			  const char **out, unsigned int max, unsigned int *n)
{
	size_t len;

	if (!arr)
		return 0;
	if (!json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) > max) {
		fprintf(stderr,
			"minnow: bundle: %s must be an array of at most "
			"%u strings\n",
			field, max);
		return -EINVAL;
	}
	len = json_object_array_length(arr);
	for (size_t i = 0; i < len; i++) {
		struct json_object *s = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(s, json_type_string)) {
			fprintf(stderr,
				"minnow: bundle: %s[%zu] is not a "
				"string\n",
				field, i);
			return -EINVAL;
		}
		out[(*n)++] = json_object_get_string(s);
	}
	return 0;
}

int pod_bundle_load(struct pod_opts *o, char *root_buf, size_t root_size)
{
	char path[PATH_MAX];
	struct json_object *cfg, *v;
	const char *root;

	snprintf(path, sizeof(path), "%s/config.json", o->bundle);
	cfg = json_object_from_file(path);
	if (!cfg) {
		fprintf(stderr, "minnow: bundle: cannot read %s\n", path);
		return -EINVAL;
	}

	/* Arguments on our command line win over process.args. */
	if (o->argc == 0 &&
	    bundle_strings(json_path(cfg, "process", "args"), "process.args",
			   o->argv, POD_MAX_ARGS, &o->argc))
		return -EINVAL;
	if (bundle_strings(json_path(cfg, "process", "env"), "process.env",
			   o->env, POD_MAX_ENV - o->envc, &o->envc))
		return -EINVAL;
	if (o->argc == 0) {
		fprintf(stderr, "minnow: bundle: process.args is empty\n");
		return -EINVAL;
	}
	v = json_path(cfg, "process", "cwd");
	if (v && !o->cwd)
		o->cwd = json_object_get_string(v);
	v = json_path(cfg, "hostname", NULL);
	if (v && !o->hostname)
		o->hostname = json_object_get_string(v);
	v = json_path(cfg, "process", "user");
	if (v) {
		struct json_object *id;

		if (json_object_object_get_ex(v, "uid", &id))
			o->uid = (unsigned int)json_object_get_int64(id);
		if (json_object_object_get_ex(v, "gid", &id))
			o->gid = (unsigned int)json_object_get_int64(id);
	}

	v = json_path(cfg, "root", "path");
	root = v ? json_object_get_string(v) : "rootfs";
	if (!root || !*root) {
		fprintf(stderr, "minnow: bundle: root.path is empty\n");
		return -EINVAL;
	}
	if (root[0] == '/')
		snprintf(root_buf, root_size, "%s", root);
	else
		snprintf(root_buf, root_size, "%s/%s", o->bundle, root);
	o->rootfs_dir = root_buf;
	return 0;
}

/* --- The job ------------------------------------------------------------- */

static int job_put(char *buf, size_t size, size_t *off, const char *key,
		   const char *val)
{
	int n;

	if (*off >= size)
		return -E2BIG;
	n = snprintf(buf + *off, size - *off, "%s=%s", key, val);
	if (n < 0 || (size_t)n + 1 > size - *off)
		return -E2BIG;
	*off += (size_t)n + 1; /* the NUL ends the record */
	return 0;
}

int pod_job_encode(const struct pod_opts *o, const char *root, char *buf,
		   size_t size)
{
	char num[16];
	size_t off = 0;
	int err = 0;

	for (unsigned int i = 0; i < o->argc && !err; i++)
		err = job_put(buf, size, &off, "arg", o->argv[i]);
	for (unsigned int i = 0; i < o->envc && !err; i++)
		err = job_put(buf, size, &off, "env", o->env[i]);
	if (!err && o->cwd)
		err = job_put(buf, size, &off, "cwd", o->cwd);
	if (!err && o->hostname)
		err = job_put(buf, size, &off, "hostname", o->hostname);
	snprintf(num, sizeof(num), "%u", o->uid);
	if (!err)
		err = job_put(buf, size, &off, "uid", num);
	snprintf(num, sizeof(num), "%u", o->gid);
	if (!err)
		err = job_put(buf, size, &off, "gid", num);
	if (!err)
		err = job_put(buf, size, &off, "root", root);
	if (!err && o->volume_guest) {
		char vol[PATH_MAX];

		snprintf(vol, sizeof(vol), "%s:%s", POD_VOLUME_TAG,
			 o->volume_guest);
		err = job_put(buf, size, &off, "volume", vol);
	}
	return err ? err : (int)off;
}

/* --- cpio ---------------------------------------------------------------- */

void pod_cpio_begin(struct pod_cpio *c, FILE *out)
{
	*c = (struct pod_cpio){.out = out, .ino = 1};
}

static void cpio_write(struct pod_cpio *c, const void *data, size_t len)
{
	if (c->err || len == 0)
		return;
	if (fwrite(data, 1, len, c->out) != len)
		c->err = -EIO;
	c->offset += len;
}

static void cpio_pad(struct pod_cpio *c)
{
	static const char zeros[4];

	cpio_write(c, zeros, (4 - c->offset % 4) % 4);
}

static void cpio_header(struct pod_cpio *c, const char *name, uint32_t mode,
			uint64_t len, uint32_t rdev_major, uint32_t rdev_minor)
{
	char hdr[6 + 13 * 8 + 1];
	uint32_t namesize = (uint32_t)strlen(name) + 1;

	if (len > UINT32_MAX) {
		c->err = c->err ? c->err : -EFBIG;
		return;
	}
	/* newc: magic, then ino mode uid gid nlink mtime filesize
	 * devmajor devminor rdevmajor rdevminor namesize check. */
	snprintf(hdr, sizeof(hdr),
		 "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		 c->ino++, mode, 0u, 0u, S_ISDIR(mode) ? 2u : 1u, 0u,
		 (uint32_t)len, 0u, 0u, rdev_major, rdev_minor, namesize, 0u);
	cpio_write(c, hdr, sizeof(hdr) - 1);
	cpio_write(c, name, namesize);
	cpio_pad(c);
}

void pod_cpio_entry(struct pod_cpio *c, const char *name, uint32_t mode,
		    const void *data, uint64_t len)
{
	cpio_header(c, name, mode, len, 0, 0);
	cpio_write(c, data, (size_t)len);
	cpio_pad(c);
}

static void cpio_file(struct pod_cpio *c, const char *path, const char *name,
		      const struct stat *st)
{
	char buf[65536];
	uint64_t left = (uint64_t)st->st_size;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		c->err = c->err ? c->err : -errno;
		return;
	}
	cpio_header(c, name, st->st_mode, left, 0, 0);
	while (left > 0 && !c->err) {
		ssize_t n = read(fd, buf,
				 left < sizeof(buf) ? left : sizeof(buf));

		if (n <= 0) {
			c->err = n < 0 ? -errno : -EIO;
			break;
		}
		cpio_write(c, buf, (size_t)n);
		left -= (uint64_t)n;
	}
	close(fd);
	cpio_pad(c);
}

void pod_cpio_tree(struct pod_cpio *c, const char *dir, const char *name)
{
	char path[PATH_MAX], child[PATH_MAX], target[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (c->err)
		return;
	d = opendir(dir);
	if (!d) {
		c->err = -errno;
		return;
	}
	while ((de = readdir(d)) && !c->err) {
		ssize_t n;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
			    (int)sizeof(path) ||
		    snprintf(child, sizeof(child), "%s/%s", name, de->d_name) >=
			    (int)sizeof(child)) {
			c->err = -ENAMETOOLONG;
			break;
		}
		if (lstat(path, &st) < 0) {
			c->err = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			cpio_header(c, child, st.st_mode, 0, 0, 0);
			pod_cpio_tree(c, path, child);
		} else if (S_ISREG(st.st_mode)) {
			cpio_file(c, path, child, &st);
		} else if (S_ISLNK(st.st_mode)) {
			n = readlink(path, target, sizeof(target));
			if (n < 0 || n == (ssize_t)sizeof(target)) {
				c->err = n < 0 ? -errno : -ENAMETOOLONG;
				break;
			}
			pod_cpio_entry(c, child, st.st_mode, target,
				       (uint64_t)n);
		} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			cpio_header(c, child, st.st_mode, 0, major(st.st_rdev),
				    minor(st.st_rdev));
		}
		/* Sockets and FIFOs: nothing in a root fs needs them. */
	}
	closedir(d);
}

int pod_cpio_end(struct pod_cpio *c)
{
	pod_cpio_entry(c, "TRAILER!!!", 0, NULL, 0);
	if (!c->err && fflush(c->out) != 0)
		c->err = -EIO;
	return c->err;
}

/* --- Frames from the serial console -------------------------------------- */

enum { PF_TEXT, PF_KIND, PF_HEADER, PF_DATA };

void pod_frames_init(struct pod_frames *pf)
{
	pf->state = PF_TEXT;
}

static bool frame_kind_ok(char k)
{
	return k == 'o' || k == 'e' || k == 'm' || k == 'x';
}

/* A header that turned out not to be one goes out as text. */
static void frames_abandon(struct pod_frames *pf)
{
	char text[7] = {'\x02'};
	size_t n = 1;

	if (pf->state >= PF_HEADER)
		text[n++] = pf->kind;
	memcpy(text + n, pf->hdr, pf->hdr_got);
	n += pf->hdr_got;
	pf->state = PF_TEXT;
	if (pf->on_text)
		pf->on_text(pf->ctx, text, n);
}

void pod_frames_feed(struct pod_frames *pf, const char *data, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t start = i, n;

		switch (pf->state) {
		case PF_TEXT:
			while (i < len && data[i] != '\x02')
				i++;
			if (i > start && pf->on_text)
				pf->on_text(pf->ctx, data + start, i - start);
			if (i < len) {
				pf->state = PF_KIND;
				i++;
			}
			break;
		case PF_KIND:
			pf->kind = data[i];
			pf->hdr_got = 0;
			if (!frame_kind_ok(pf->kind)) {
				frames_abandon(pf);
				break; /* re-read this byte as text */
			}
			pf->state = PF_HEADER;
			i++;
			break;
		case PF_HEADER: {
			char c = data[i];
			bool hex = (c >= '0' && c <= '9') ||
				   (c >= 'a' && c <= 'f');

			if ((pf->hdr_got < 4 && !hex) ||
			    (pf->hdr_got == 4 && c != ':')) {
				frames_abandon(pf);
				break;
			}
			pf->hdr[pf->hdr_got++] = c;
			i++;
			if (pf->hdr_got == 5) {
				pf->hdr[4] = '\0';
				pf->len = (unsigned int)strtoul(pf->hdr, NULL,
								16);
				pf->got = 0;
				pf->state = pf->len ? PF_DATA : PF_TEXT;
				if (!pf->len && pf->on_data)
					pf->on_data(pf->ctx, pf->kind, "", 0);
			}
			break;
		}
		case PF_DATA:
			n = len - i;
			if (n > pf->len - pf->got)
				n = pf->len - pf->got;
			if (pf->on_data)
				pf->on_data(pf->ctx, pf->kind, data + i, n);
			pf->got += (unsigned int)n;
			i += n;
			if (pf->got == pf->len)
				pf->state = PF_TEXT;
			break;
		}
	}
}

/* --- Running it ---------------------------------------------------------- */

struct pod_console {
	int fd; /* read end of the serial console's pipe */
	bool verbose;
	struct pod_frames frames;
	char status[16];
	size_t status_len;
	int exit_status; /* -1 until an 'x' frame ends */
	bool in_exit_frame;
	char tail[POD_TEXT_TAIL]; /* the kernel's last words */
	size_t tail_len;
	char msg[512];
	size_t msg_len;
};

static void console_on_text(void *ctx, const char *data, size_t len)
{
	struct pod_console *pc = ctx;

	if (pc->verbose) {
		fwrite(data, 1, len, stderr);
		return;
	}
	if (len >= sizeof(pc->tail)) {
		data += len - sizeof(pc->tail);
		len = sizeof(pc->tail);
	}
	if (pc->tail_len + len > sizeof(pc->tail)) {
		size_t drop = pc->tail_len + len - sizeof(pc->tail);

		memmove(pc->tail, pc->tail + drop, pc->tail_len - drop);
		pc->tail_len -= drop;
	}
	memcpy(pc->tail + pc->tail_len, data, len);
	pc->tail_len += len;
}

static void write_fd(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* a closed stdout must not stop the pod */
		data += n;
		len -= (size_t)n;
	}
}

static void console_on_data(void *ctx, char kind, const char *data, size_t len)
{
	struct pod_console *pc = ctx;
	size_t room;

	switch (kind) {
	case 'o':
		write_fd(STDOUT_FILENO, data, len);
		break;
	case 'e':
		write_fd(STDERR_FILENO, data, len);
		break;
	case 'm':
		room = sizeof(pc->msg) - 1 - pc->msg_len;
		len = len < room ? len : room;
		memcpy(pc->msg + pc->msg_len, data, len);
		pc->msg_len += len;
		if (pc->frames.got + len >= pc->frames.len) {
			pc->msg[pc->msg_len] = '\0';
			fprintf(stderr, "minnow: pod: %s\n", pc->msg);
			pc->msg_len = 0;
		}
		break;
	case 'x':
		room = sizeof(pc->status) - 1 - pc->status_len;
		len = len < room ? len : room;
		memcpy(pc->status + pc->status_len, data, len);
		pc->status_len += len;
		if (pc->frames.got + len >= pc->frames.len) {
			pc->status[pc->status_len] = '\0';
			pc->exit_status = atoi(pc->status) & 0xff;
		}
		break;
	}
}

static void *console_reader(void *arg)
{
	struct pod_console *pc = arg;
	char buf[4096];
	ssize_t n;

	while ((n = read(pc->fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		pod_frames_feed(&pc->frames, buf, (size_t)n);
	}
	return NULL;
}

/* dir of the running binary, for finding the guest files. */
static int exe_dir(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);
	char *slash;

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
	return 0;
}

/*
 * A guest file: given, else next to the binary (a build tree keeps them
 * in guest-kernel/), else in the install prefix's share/minnow.
 */
static int find_guest_file(const char *given, const char *name, char *out,
			   size_t size)
{
	static const char *const places[] = {"/guest-kernel/",
					     "/../share/minnow/", "/"};
	char dir[PATH_MAX];

	if (given) {
		snprintf(out, size, "%s", given);
		if (access(out, R_OK) == 0)
			return 0;
		fprintf(stderr, "minnow: pod: cannot read %s\n", given);
		return -ENOENT;
	}
	if (exe_dir(dir, sizeof(dir)) == 0)
		for (size_t i = 0; i < ARRAY_SIZE(places); i++) {
			snprintf(out, size, "%s%s%s", dir, places[i], name);
			if (access(out, R_OK) == 0)
				return 0;
		}
	fprintf(stderr,
		"minnow: pod: no %s next to minnow or in "
		"share/minnow; build it (guest-kernel/build.sh) or "
		"name it with --%s\n",
		name, strcmp(name, POD_KERNEL_NAME) ? "initrd" : "kernel");
	return -ENOENT;
}

static int copy_file(FILE *out, const char *path)
{
	char buf[65536];
	size_t n;
	FILE *in = fopen(path, "rb");

	if (!in)
		return -errno;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n) {
			fclose(in);
			return -EIO;
		}
	fclose(in);
	return 0;
}

/*
 * The run's initrd in an anonymous memory file, named by its
 * /proc/self/fd path: the base initramfs, then an archive with the job
 * and (for a directory root) the root under /rootfs. The kernel unpacks
 * concatenated archives in order. Nothing is left behind on disk, and
 * nothing needs removing once the sandbox forbids unlink. Returns the
 * file's descriptor (the caller closes it once the VM has ended) or a
 * negative errno.
 */
static int build_initrd(const struct pod_opts *o, const char *base,
			const char *root, char *path, size_t size)
{
	static char job[POD_JOB_MAX];
	struct pod_cpio c;
	int fd, wfd, len, err;
	FILE *out;

	len = pod_job_encode(o, root, job, sizeof(job));
	if (len < 0) {
		fprintf(stderr,
			"minnow: pod: the command and environment "
			"exceed %d bytes\n",
			POD_JOB_MAX);
		return len;
	}
	fd = memfd_create("minnow-pod-initrd", MFD_CLOEXEC);
	wfd = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
	out = wfd < 0 ? NULL : fdopen(wfd, "wb");
	if (!out) {
		err = -errno;
		fprintf(stderr, "minnow: pod: cannot create the initrd: %s\n",
			strerror(-err));
		if (wfd >= 0)
			close(wfd);
		if (fd >= 0)
			close(fd);
		return err;
	}
	snprintf(path, size, "/proc/self/fd/%d", fd);

	err = copy_file(out, base);
	pod_cpio_begin(&c, out);
	pod_cpio_entry(&c, "minnow", S_IFDIR | 0755, NULL, 0);
	pod_cpio_entry(&c, "minnow/job", S_IFREG | 0644, job, (uint64_t)len);
	if (!strcmp(root, "initramfs")) {
		pod_cpio_entry(&c, "rootfs", S_IFDIR | 0755, NULL, 0);
		pod_cpio_tree(&c, o->rootfs_dir, "rootfs");
	}
	if (!err)
		err = pod_cpio_end(&c);
	if (fclose(out) != 0 && !err)
		err = -EIO;
	if (err) {
		fprintf(stderr, "minnow: pod: cannot write the initrd: %s\n",
			strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

/*
 * --ip ADDR/PREFIX[,GATEWAY] as the kernel's own ip= parameter
 * (Documentation/admin-guide/nfs/nfsroot.rst), so eth0 is up before the
 * init runs. Writes "" when there is no --ip. Returns 0 or -EINVAL after a
 * message.
 */
static int pod_ip_param(const char *spec, char *buf, size_t size)
{
	char addr[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN] = "";
	unsigned int prefix;
	struct in_addr a, g, mask;
	int n = 0;

	buf[0] = '\0';
	if (!spec)
		return 0;
	if (sscanf(spec, "%15[0-9.]/%u%n", addr, &prefix, &n) != 2 ||
	    prefix > 32 || inet_pton(AF_INET, addr, &a) != 1 ||
	    (spec[n] &&
	     (spec[n] != ',' || sscanf(spec + n + 1, "%15[0-9.]", gw) != 1 ||
	      inet_pton(AF_INET, gw, &g) != 1))) {
		fprintf(stderr,
			"minnow: --ip wants ADDR/PREFIX[,GATEWAY] in IPv4, "
			"got '%s'\n",
			spec);
		return -EINVAL;
	}
	mask.s_addr = htonl(prefix ? ~0u << (32 - prefix) : 0);
	snprintf(buf, size, " ip=%s::%s:%s::eth0:off", addr, gw,
		 inet_ntoa(mask));
	return 0;
}

static int pod_run(int argc, char **argv)
{
	static char root_buf[PATH_MAX], kernel[PATH_MAX], base[PATH_MAX];
	static char initrd[PATH_MAX], serial_path[64], cmdline[512];
	static char disk[PATH_MAX + 32], volume[PATH_MAX + 32];
	char ip_param[128];
	struct pod_console pc = {.exit_status = -1};
	struct cli_run run;
	struct pod_opts o;
	const char *root = "initramfs";
	pthread_t reader;
	int pipefd[2], initrd_fd, err, status;

	err = pod_parse_args(argc, argv, &o);
	if (err)
		return err == 1 ? 0 : VM_EXIT_USAGE;
	if (o.bundle && pod_bundle_load(&o, root_buf, sizeof(root_buf)))
		return VM_EXIT_USAGE;
	if (find_guest_file(o.kernel, POD_KERNEL_NAME, kernel,
			    sizeof(kernel)) ||
	    find_guest_file(o.initrd, POD_INITRD_NAME, base, sizeof(base)))
		return VM_EXIT_ERROR;

	run = (struct cli_run){
		.kernel = kernel,
		.initrd = initrd,
		.cmdline = cmdline,
		.cpus = o.cpus,
		.mem_mib = o.mem_mib,
		.serial = SERIAL_FILE,
		.serial_path = serial_path,
		.cpu_template = CPU_TEMPLATE_HOST,
		.log_level = o.verbose ? LOG_INFO : LOG_WARN,
		.rng = true,
		.nets = o.nets,
		.vsock = o.vsock,
	};
	if (o.rootfs_image) {
		/* virtio-blk devices come first: the image is /dev/vda. */
		snprintf(disk, sizeof(disk), "path=%s,readonly=on",
			 o.rootfs_image);
		run.disks.specs[run.disks.nr++] = disk;
		root = "blk:/dev/vda";
	}
	if (o.volume_guest) {
		snprintf(volume, sizeof(volume), "tag=%s,dir=%s",
			 POD_VOLUME_TAG, o.volume_host);
		run.fs.specs[run.fs.nr++] = volume;
	}
	if (pod_ip_param(o.ip, ip_param, sizeof(ip_param)))
		return VM_EXIT_USAGE;
	snprintf(cmdline, sizeof(cmdline), "%s%s%s", POD_CMDLINE_BASE,
		 o.verbose ? "" : POD_CMDLINE_QUIET, ip_param);
	log_threshold = run.log_level;

	initrd_fd = build_initrd(&o, base, root, initrd, sizeof(initrd));
	if (initrd_fd < 0)
		return VM_EXIT_ERROR;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		fprintf(stderr, "minnow: pod: pipe: %s\n", strerror(errno));
		close(initrd_fd);
		return VM_EXIT_ERROR;
	}
	snprintf(serial_path, sizeof(serial_path), "/proc/self/fd/%d",
		 pipefd[1]);
	pc.fd = pipefd[0];
	pc.verbose = o.verbose;
	pod_frames_init(&pc.frames);
	pc.frames.on_data = console_on_data;
	pc.frames.on_text = console_on_text;
	pc.frames.ctx = &pc;
	err = pthread_create(&reader, NULL, console_reader, &pc);
	if (err) {
		fprintf(stderr,
			"minnow: pod: cannot start the console "
			"reader: %s\n",
			strerror(err));
		close(pipefd[0]);
		close(pipefd[1]);
		close(initrd_fd);
		return VM_EXIT_ERROR;
	}

	status = launch_run(&run);
	close(initrd_fd);
	close(pipefd[1]);
	pthread_join(reader, NULL);
	close(pipefd[0]);

	if (pc.exit_status >= 0)
		return pc.exit_status;
	fprintf(stderr,
		"minnow: pod: the guest stopped (status %d) without "
		"the container's exit status%s\n",
		status, pc.tail_len ? "; its last console output:" : "");
	if (pc.tail_len)
		fwrite(pc.tail, 1, pc.tail_len, stderr);
	return POD_EXIT_NO_STATUS;
}

int pod_main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return pod_run(argc - 1, argv + 1);
	fprintf(stderr, "minnow: pod: unknown or missing subcommand (try "
			"minnow pod run --help)\n");
	return VM_EXIT_USAGE;
}
