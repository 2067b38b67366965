/* The optional jail: namespaces, a new root, limits, a user to become. */
#include "vmm/jail.h"
#include "vmm/cli.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define JAIL_HOSTNAME      "minnow"
#define JAIL_PVM_MARK      "/sys/module/kvm_pvm"
#define JAIL_CPU_PERIOD_US 100000u

/* What jail_drop_ids() needs after jail_enter(). */
static struct {
	bool entered;
	bool has_uid, has_gid;
	uid_t uid;
	gid_t gid;
} jail_state;

static int jail_error(const char *key, const char *value, const char *allowed)
{
	fprintf(stderr, "minnow: --jail: %s '%s' is not valid: %s\n", key,
		value, allowed);
	return -EINVAL;
}

/* One key=value of SPEC. */
static int jail_parse_option(char *opt, struct jail_spec *out)
{
	char *value = strchr(opt, '=');
	uint64_t v;

	if (!value)
		return jail_error("option", opt, "use key=value");
	*value++ = '\0';
	if (strcmp(opt, "uid") == 0 || strcmp(opt, "gid") == 0) {
		/* (uid_t)-1 means "unchanged" to the kernel: refuse it. */
		if (cli_parse_uint(value, 0, UINT32_MAX - 1, &v))
			return jail_error(opt, value, "give a number");
		if (opt[0] == 'u') {
			out->has_uid = true;
			out->uid = (uid_t)v;
		} else {
			out->has_gid = true;
			out->gid = (gid_t)v;
		}
	} else if (strcmp(opt, "netns") == 0) {
		if (strcmp(value, "on") && strcmp(value, "off"))
			return jail_error(opt, value, "use on or off");
		out->netns = strcmp(value, "on") == 0;
	} else if (strcmp(opt, "nofile") == 0) {
		if (cli_parse_uint(value, 0, 1u << 20, &v) || v < 16)
			return jail_error(opt, value, "give 16 to 1048576");
		out->nofile = v;
	} else if (strcmp(opt, "fsize") == 0) {
		if (cli_parse_uint(value, 0, 1ull << 30, &v) || v == 0)
			return jail_error(opt, value,
					  "give the largest file in MiB");
		out->fsize_mib = v;
	} else if (strcmp(opt, "cgroup") == 0) {
		if (value[0] != '/' || strlen(value) >= sizeof(out->cgroup))
			return jail_error(opt, value,
					  "give an absolute path in a cgroup "
					  "v2 hierarchy");
		strcpy(out->cgroup, value);
	} else if (strcmp(opt, "memory") == 0) {
		if (cli_parse_uint(value, 0, 1u << 30, &v) || v == 0)
			return jail_error(opt, value, "give MiB, at least 1");
		out->memory_mib = v;
	} else if (strcmp(opt, "cpu") == 0) {
		if (cli_parse_uint(value, 0, 100u * 1024, &v) || v == 0)
			return jail_error(opt, value,
					  "give a percentage of one CPU");
		out->cpu_percent = (unsigned int)v;
	} else {
		return jail_error("key", opt,
				  "use uid, gid, netns, nofile, fsize, cgroup, "
				  "memory or cpu");
	}
	return 0;
}

int jail_spec_parse(const char *spec, struct jail_spec *out)
{
	char buf[PATH_MAX + 256];
	char *save = NULL, *tok;
	int err;

	*out = (struct jail_spec){0};
	if (strlen(spec) >= sizeof(buf))
		return jail_error("spec", "...", "too long");
	strcpy(buf, spec);
	tok = strtok_r(buf, ",", &save);
	if (!tok || strlen(tok) >= sizeof(out->dir) || strchr(tok, '='))
		return jail_error("directory", spec, "give DIR first");
	strcpy(out->dir, tok);
	while ((tok = strtok_r(NULL, ",", &save))) {
		err = jail_parse_option(tok, out);
		if (err)
			return err;
	}
	if ((out->memory_mib || out->cpu_percent) && !out->cgroup[0])
		return jail_error("memory/cpu", "", "need cgroup=PATH");
	return 0;
}

/* Writes text to dir/name: a cgroup control file. */
static int jail_write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX + 64];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (err)
		log_error("jail: cannot write '%s' to %s: %s", text, path,
			  strerror(-err));
	return err;
}

/* Creates the cgroup (if new), sets its limits and moves us into it. */
static int jail_join_cgroup(const struct jail_spec *j)
{
	char text[64];
	int err;

	if (!j->cgroup[0])
		return 0;
	if (mkdir(j->cgroup, 0755) < 0 && errno != EEXIST) {
		err = -errno;
		log_error("jail: cannot create cgroup %s: %s", j->cgroup,
			  strerror(-err));
		return err;
	}
	if (j->memory_mib) {
		snprintf(text, sizeof(text), "%" PRIu64, j->memory_mib << 20);
		err = jail_write_file(j->cgroup, "memory.max", text);
		if (err)
			return err;
	}
	if (j->cpu_percent) {
		snprintf(text, sizeof(text), "%u %u",
			 j->cpu_percent * (JAIL_CPU_PERIOD_US / 100),
			 JAIL_CPU_PERIOD_US);
		err = jail_write_file(j->cgroup, "cpu.max", text);
		if (err)
			return err;
	}
	snprintf(text, sizeof(text), "%d", (int)getpid());
	return jail_write_file(j->cgroup, "cgroup.procs", text);
}

static int jail_mkdir(const char *root, const char *sub, mode_t mode)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s%s", root, sub);
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Bind-mounts the host's device node dev onto root/dev (a new file). */
static int jail_bind_dev(const char *root, const char *dev)
{
	char path[PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s%s", root, dev);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	if (mount(dev, path, NULL, MS_BIND, NULL) < 0)
		return -errno;
	return 0;
}

/*
 * The jail's /dev, /proc and /sys: a small tmpfs with only /dev/kvm (and
 * /dev/net/tun), a /proc of the new PID namespace, and on kvm_pvm hosts
 * an empty /sys that shows the module's directory (vmm/pvm.c looks).
 */
static int jail_mount_system(const struct jail_spec *j)
{
	const unsigned long tmp_flags = MS_NOSUID | MS_NOEXEC;
	char path[PATH_MAX + 64];
	int err;

	snprintf(path, sizeof(path), "%s/dev", j->dir);
	if ((err = jail_mkdir(j->dir, "/dev", 0755)) ||
	    (mount("tmpfs", path, "tmpfs", tmp_flags, "mode=755,size=64k") &&
	     (err = -errno)) ||
	    (err = jail_bind_dev(j->dir, "/dev/kvm")))
		return err;
	if (j->need_tun && ((err = jail_mkdir(j->dir, "/dev/net", 0755)) ||
			    (err = jail_bind_dev(j->dir, "/dev/net/tun"))))
		return err;

	snprintf(path, sizeof(path), "%s/proc", j->dir);
	if ((err = jail_mkdir(j->dir, "/proc", 0555)) ||
	    (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		   NULL) &&
	     (err = -errno)))
		return err;

	if (access(JAIL_PVM_MARK, F_OK) == 0) {
		snprintf(path, sizeof(path), "%s/sys", j->dir);
		if ((err = jail_mkdir(j->dir, "/sys", 0555)) ||
		    (mount("tmpfs", path, "tmpfs", tmp_flags | MS_NODEV,
			   "mode=555,size=4k") &&
		     (err = -errno)) ||
		    (err = jail_mkdir(j->dir, "/sys/module", 0555)) ||
		    (err = jail_mkdir(j->dir, JAIL_PVM_MARK, 0555)))
			return err;
	}
	return 0;
}

/* In the child: DIR becomes / and the host's tree goes away. */
static int jail_pivot(const struct jail_spec *j)
{
	int err;

	/* Nothing done here may reach the host's mount table. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(j->dir, j->dir, NULL, MS_BIND | MS_REC, NULL) < 0) {
		err = -errno;
		log_error("jail: cannot bind %s: %s", j->dir, strerror(-err));
		return err;
	}
	err = jail_mount_system(j);
	if (err) {
		log_error("jail: cannot set up /dev, /proc or /sys in %s: %s",
			  j->dir, strerror(-err));
		return err;
	}

	/* pivot_root(2): with new and old root both ".", old sits on top. */
	if (chdir(j->dir) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
		err = -errno;
		log_error("jail: cannot make %s the root: %s", j->dir,
			  strerror(-err));
		return err;
	}
	if (sethostname(JAIL_HOSTNAME, strlen(JAIL_HOSTNAME)) < 0)
		log_warn("jail: sethostname: %s", strerror(errno));
	return 0;
}

static int jail_set_limits(const struct jail_spec *j)
{
	/* A core dump would hold guest memory. */
	struct rlimit core = {0, 0};
	struct rlimit nofile = {j->nofile, j->nofile};
	struct rlimit fsize = {j->fsize_mib << 20, j->fsize_mib << 20};

	if (setrlimit(RLIMIT_CORE, &core) < 0 ||
	    (j->nofile && setrlimit(RLIMIT_NOFILE, &nofile) < 0) ||
	    (j->fsize_mib && setrlimit(RLIMIT_FSIZE, &fsize) < 0)) {
		int err = -errno;

		log_error("jail: setrlimit: %s", strerror(-err));
		return err;
	}
	return 0;
}

/* The parent outside: forwards stop signals, exits as the child did. */
static _Noreturn void jail_wait(pid_t child, const sigset_t *mask)
{
	siginfo_t info;
	int status;

	for (;;) {
		if (sigwaitinfo(mask, &info) < 0)
			continue;
		if (info.si_signo != SIGCHLD) {
			kill(child, info.si_signo);
			continue;
		}
		if (waitpid(child, &status, WNOHANG) != child)
			continue;
		if (WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		if (WIFSIGNALED(status))
			_exit(VM_EXIT_SIGNAL + WTERMSIG(status));
	}
}

int jail_enter(const struct jail_spec *j)
{
	int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
	sigset_t mask, old;
	pid_t child;
	int err;

	if (access(j->dir, X_OK) < 0) {
		err = -errno;
		log_error("jail: %s: %s (it must exist and hold the VM's "
			  "files)",
			  j->dir, strerror(-err));
		return err;
	}
	err = jail_join_cgroup(j);
	if (err)
		return err;

	if (j->netns)
		flags |= CLONE_NEWNET;
	if (unshare(flags) < 0) {
		err = -errno;
		log_error("jail: cannot create namespaces: %s (needs root)",
			  strerror(-err));
		return err;
	}

	/* Blocked before the fork so that no signal slips past the parent. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, &old);
	child = fork();
	if (child < 0) {
		err = -errno;
		log_error("jail: fork: %s", strerror(-err));
		sigprocmask(SIG_SETMASK, &old, NULL);
		return err;
	}
	if (child > 0)
		jail_wait(child, &mask);

	sigprocmask(SIG_SETMASK, &old, NULL);
	/* The child ends with the parent, not orphaned. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	err = jail_pivot(j);
	if (!err)
		err = jail_set_limits(j);
	if (err)
		return err;
	jail_state.entered = true;
	jail_state.has_uid = j->has_uid;
	jail_state.has_gid = j->has_gid;
	jail_state.uid = j->uid;
	jail_state.gid = j->gid;
	log_debug("jail: in %s as PID 1 of new namespaces", j->dir);
	return 0;
}

bool jail_wants_ids(void)
{
	return jail_state.entered && (jail_state.has_uid || jail_state.has_gid);
}

int jail_drop_ids(void)
{
	int err;

	if (!jail_wants_ids())
		return 0;
	/* Groups first: after the uid changes, that takes no privilege. */
	if (setgroups(0, NULL) < 0 ||
	    (jail_state.has_gid &&
	     setresgid(jail_state.gid, jail_state.gid, jail_state.gid) < 0) ||
	    (jail_state.has_uid &&
	     setresuid(jail_state.uid, jail_state.uid, jail_state.uid) < 0)) {
		err = -errno;
		log_error("jail: cannot become uid %u gid %u: %s",
			  (unsigned int)jail_state.uid,
			  (unsigned int)jail_state.gid, strerror(-err));
		return err;
	}
	return 0;
}
