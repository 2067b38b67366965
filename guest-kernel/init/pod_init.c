/*
 * PID 1 of the pod guest: sets the guest up, runs the container's process
 * in its own namespaces and root, relays its output to the host and
 * reports its exit status, then ends the VM.
 *
 * The job: /minnow/job in the initramfs, NUL-terminated "key=value"
 * records (see guest-kernel/README.md). Output to the host: frames on
 * the serial console, "\x02" KIND LEN4HEX ":" DATA, where KIND is 'o'
 * (stdout), 'e' (stderr), 'x' (exit status, decimal) or 'm' (a message
 * from this init); anything outside frames is the kernel's.
 *
 * Every syscall is expensive under a software hypervisor (about 250 us),
 * so the code keeps them few: no shell, one fork, large reads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define JOB_PATH    "/minnow/job"
#define JOB_MAX     (64 * 1024)
#define MAX_ARGS    256
#define MAX_ENV     256
#define FRAME_MAX   0xffff
#define CONSOLE     "/dev/ttyS0"
#define NEWROOT     "/mnt"
#define OVERLAY_DIR "/run/overlay"

/* Exit statuses of our own failures, as container runtimes use them. */
#define STATUS_SETUP_FAILED 125
#define STATUS_EXEC_FAILED  127

struct job {
	char *argv[MAX_ARGS + 1];
	char *envp[MAX_ENV + 1];
	unsigned int argc, envc;
	const char *cwd, *hostname, *root;
	const char *volume; /* "TAG:/path": a virtio-fs share, read-write */
	uid_t uid;
	gid_t gid;
};

static int console_fd = 2;

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/* One frame: a single write so frames stay whole on the console. */
static void frame(char kind, const void *data, size_t len)
{
	static char buf[7 + FRAME_MAX];

	while (len > 0 || kind == 'x') {
		size_t chunk = len > FRAME_MAX ? FRAME_MAX : len;

		snprintf(buf, 8, "\x02%c%04zx:", kind, chunk);
		memcpy(buf + 7, data, chunk);
		write_all(console_fd, buf, 7 + chunk);
		data = (const char *)data + chunk;
		len -= chunk;
		if (kind == 'x')
			break;
	}
}

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0)
		frame('m', msg,
		      (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

/* Ends the VM: reboot=k makes it an i8042 reset, which minnow sees. */
static void __attribute__((noreturn)) finish(int status)
{
	char s[16];
	int n = snprintf(s, sizeof(s), "%d", status);

	frame('x', s, (size_t)n);
	tcdrain(console_fd);
	sync();
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

static void __attribute__((noreturn)) fail(const char *what)
{
	say("init: %s: %s", what, strerror(errno));
	finish(STATUS_SETUP_FAILED);
}

static void console_open(void)
{
	struct termios t;
	int fd = open(CONSOLE, O_WRONLY | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return;
	/* Bytes as they are: no CR added before LF. */
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	console_fd = fd;
}

static void mount_or_fail(const char *src, const char *dst, const char *type,
			  unsigned long flags, const char *data)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, flags, data) < 0)
		fail(dst);
}

static void mount_base(void)
{
	mount_or_fail("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	console_open();
	mount_or_fail("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		      NULL);
	mount_or_fail("sysfs", "/sys", "sysfs",
		      MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_or_fail("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV,
		      "mode=0755");
	mount_or_fail("cgroup2", "/sys/fs/cgroup", "cgroup2",
		      MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

static char *job_read(size_t *out_len)
{
	static char buf[JOB_MAX + 1];
	size_t len = 0;
	ssize_t n;
	int fd = open(JOB_PATH, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fail(JOB_PATH);
	while ((n = read(fd, buf + len, JOB_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	*out_len = len;
	return len ? buf : NULL;
}

static void job_parse(char *buf, size_t len, struct job *job)
{
	char *end = buf + len;

	memset(job, 0, sizeof(*job));
	job->cwd = "/";
	job->root = "initramfs";
	/* The next record is found before this one is split at its '='. */
	for (char *rec = buf, *next; rec < end; rec = next) {
		char *val = strchr(rec, '=');

		next = rec + strlen(rec) + 1;
		if (!val)
			continue;
		*val++ = '\0';
		if (!strcmp(rec, "arg") && job->argc < MAX_ARGS)
			job->argv[job->argc++] = val;
		else if (!strcmp(rec, "env") && job->envc < MAX_ENV)
			job->envp[job->envc++] = val;
		else if (!strcmp(rec, "cwd"))
			job->cwd = val;
		else if (!strcmp(rec, "hostname"))
			job->hostname = val;
		else if (!strcmp(rec, "root"))
			job->root = val;
		else if (!strcmp(rec, "volume"))
			job->volume = val;
		else if (!strcmp(rec, "uid"))
			job->uid = (uid_t)strtoul(val, NULL, 10);
		else if (!strcmp(rec, "gid"))
			job->gid = (gid_t)strtoul(val, NULL, 10);
	}
}

/*
 * The container's root at NEWROOT: the read-only lower layer (the
 * initramfs's /rootfs, a virtio-fs tag or a virtio-blk disk) under a
 * tmpfs that takes the writes.
 */
static void root_prepare(const char *root)
{
	const char *lower = "/rootfs";

	if (!strncmp(root, "virtiofs:", 9)) {
		lower = "/lower";
		mount_or_fail(root + 9, lower, "virtiofs", MS_RDONLY, NULL);
	} else if (!strncmp(root, "blk:", 4)) {
		lower = "/lower";
		mount_or_fail(root + 4, lower, "ext4", MS_RDONLY, NULL);
	} else if (strcmp(root, "initramfs") != 0) {
		errno = EINVAL;
		fail(root);
	}
	mount_or_fail("tmpfs", OVERLAY_DIR, "tmpfs", 0, "mode=0755");
	mkdir(OVERLAY_DIR "/upper", 0755);
	mkdir(OVERLAY_DIR "/work", 0755);
	char opts[256];
	snprintf(opts, sizeof(opts),
		 "lowerdir=%s,upperdir=" OVERLAY_DIR
		 "/upper,workdir=" OVERLAY_DIR "/work",
		 lower);
	mount_or_fail("overlay", NEWROOT, "overlay", 0, opts);
}

/*
 * Makes the current directory, the container's root, the root of this
 * mount namespace. pivot_root(2) refuses when the old root is the
 * initramfs (it is mounted on nothing), so there the new root is moved
 * over the old one and entered with chroot, as switch_root does.
 * TODO(pod-root): the initramfs then stays under the moved mount, where a
 * process with CAP_SYS_CHROOT could reach it; the VM is the boundary that
 * holds, and moving the init to a tmpfs first would close this.
 */
static int root_enter(void)
{
	if (syscall(SYS_pivot_root, ".", ".oldroot") == 0) {
		if (chdir("/") < 0 || umount2("/.oldroot", MNT_DETACH) < 0)
			return -1;
		rmdir("/.oldroot");
		return 0;
	}
	if (errno != EINVAL)
		return -1;
	rmdir(".oldroot");
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0)
		return -1;
	return chdir("/");
}

/*
 * Mounts the virtio-fs share "TAG:/path" at path under the current
 * directory (the container's root), creating the directories on the way.
 */
static int volume_mount(const char *spec)
{
	char tag[64], path[256];
	const char *colon = strchr(spec, ':');

	if (!colon || (size_t)(colon - spec) >= sizeof(tag) ||
	    strlen(colon + 1) >= sizeof(path) || colon[1] != '/') {
		errno = EINVAL;
		return -1;
	}
	memcpy(tag, spec, (size_t)(colon - spec));
	tag[colon - spec] = '\0';
	strcpy(path, colon + 2); /* relative to the root */
	for (char *p = path; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	mkdir(path, 0755);
	return mount(tag, path, "virtiofs", MS_NOSUID | MS_NODEV, NULL);
}

/* In the child, in its new namespaces: enter the root and run. */
static void __attribute__((noreturn))
child_run(struct job *job, int out, int err)
{
	dup2(out, 1);
	dup2(err, 2);
	close(0);
	open("/dev/null", O_RDONLY);

	/* A private mount tree, then the container's root. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    chdir(NEWROOT) < 0)
		goto fail;
	mkdir("proc", 0555);
	mkdir("dev", 0755);
	mkdir("sys", 0555);
	mkdir("tmp", 01777);
	mkdir(".oldroot", 0700);
	if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0 ||
	    mount("/dev", "dev", NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    mount("/sys", "sys", NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    mount("tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, NULL) < 0)
		goto fail;
	if (job->volume && volume_mount(job->volume) < 0)
		goto fail;
	if (root_enter() < 0)
		goto fail;

	if (job->hostname &&
	    sethostname(job->hostname, strlen(job->hostname)) < 0)
		goto fail;
	if (chdir(job->cwd) < 0)
		goto fail;
	if (setgroups(0, NULL) < 0 || setgid(job->gid) < 0 ||
	    setuid(job->uid) < 0)
		goto fail;
	/* execvp searches the job's PATH, not ours. */
	environ = job->envp;
	execvp(job->argv[0], job->argv);
	dprintf(2, "minnow-init: cannot run %s: %s\n", job->argv[0],
		strerror(errno));
	_exit(STATUS_EXEC_FAILED);
fail:
	dprintf(2, "minnow-init: cannot set up the container: %s\n",
		strerror(errno));
	_exit(STATUS_SETUP_FAILED);
}

/* Copies what is in fd to the host as kind frames: 1, 0 at EOF, -1. */
static int relay(int fd, char kind)
{
	static char buf[FRAME_MAX];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return -1;
	if (n <= 0)
		return 0;
	frame(kind, buf, (size_t)n);
	return 1;
}

static int status_of(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return STATUS_SETUP_FAILED;
}

/*
 * Relays output until the process exits and its pipes are drained, and
 * reaps every other child meanwhile. Returns the process's status.
 */
static int supervise(pid_t pid, int out, int err, int sigfd)
{
	struct pollfd p[3] = {
		{.fd = out, .events = POLLIN},
		{.fd = err, .events = POLLIN},
		{.fd = sigfd, .events = POLLIN},
	};
	int status = -1, wstatus;
	pid_t done;

	while (p[0].fd >= 0 || p[1].fd >= 0 || status < 0) {
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			fail("poll");
		for (int i = 0; i < 2; i++)
			if (p[i].fd >= 0 && p[i].revents &&
			    relay(p[i].fd, i == 0 ? 'o' : 'e') == 0) {
				close(p[i].fd);
				p[i].fd = -1;
			}
		if (p[2].revents) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) < 0 && errno != EAGAIN)
				fail("signalfd");
			while ((done = waitpid(-1, &wstatus, WNOHANG)) > 0)
				if (done == pid)
					status = status_of(wstatus);
		}
		if (status < 0)
			continue;

		/*
		 * Once the process is gone, a pipe some daemon still holds
		 * open must not keep the VM up: drain what is there and end.
		 */
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0)
				continue;
			fcntl(p[i].fd, F_SETFL, O_NONBLOCK);
			while (relay(p[i].fd, i == 0 ? 'o' : 'e') > 0)
				;
			close(p[i].fd);
			p[i].fd = -1;
		}
	}
	return status;
}

int main(void)
{
	int out[2], err[2], sigfd;
	struct job job;
	sigset_t chld;
	char *buf;
	size_t len;
	pid_t pid;

	mount_base();
	buf = job_read(&len);
	if (!buf) {
		errno = ENODATA;
		fail(JOB_PATH);
	}
	job_parse(buf, len, &job);
	if (job.argc == 0) {
		errno = EINVAL;
		fail("job has no command");
	}
	root_prepare(job.root);

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		fail("pipes");

	/* One clone: the process is PID 1 of new PID, mount, UTS, IPC ns. */
	pid = (pid_t)syscall(SYS_clone,
			     CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS |
				     CLONE_NEWIPC | SIGCHLD,
			     NULL, NULL, NULL, NULL);
	if (pid < 0)
		fail("clone");
	if (pid == 0) {
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		child_run(&job, out[1], err[1]);
	}
	close(out[1]);
	close(err[1]);
	finish(supervise(pid, out[0], err[0], sigfd));
}
