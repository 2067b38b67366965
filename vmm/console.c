/* The serial console's host side: stdout or a file out, stdin in. */
#include "vmm/console.h"
#include "vmm/log.h"
#include "vmm/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

int console_open_output(struct console *con, const char *path)
{
	memset(con, 0, sizeof(*con));
	con->in_fd = con->room_fd = -1;
	if (!path) {
		con->out_fd = STDOUT_FILENO;
		return 0;
	}
	con->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			   0644);
	if (con->out_fd < 0) {
		int err = -errno;

		log_error("serial: cannot open %s: %s", path, strerror(-err));
		return err;
	}
	con->out_owned = true;
	return 0;
}

/* Raw input so keys reach the guest as typed; ^C still stops minnow. */
static void console_tty_raw(struct console *con)
{
	struct termios raw;

	if (tcgetattr(con->in_fd, &con->saved_tty) < 0)
		return;
	raw = con->saved_tty;
	cfmakeraw(&raw);
	raw.c_lflag |= ISIG;
	raw.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(con->in_fd, TCSANOW, &raw) == 0)
		con->tty_raw = true;
}

static void console_arm_input(struct console *con)
{
	io_uring_prep_poll_add(evloop_prep(con->loop, &con->in_op), con->in_fd,
			       POLLIN);
}

/* Offers pending input to the UART; true when all of it was taken. */
static bool console_flush_pending(struct console *con)
{
	size_t taken;

	taken = serial_8250_receive(con->uart, con->pending + con->pending_off,
				    con->pending_len);
	con->pending_off += taken;
	con->pending_len -= taken;
	return con->pending_len == 0;
}

static void console_on_input(struct ev_op *op, int res, uint32_t flags)
{
	struct console *con = container_of(op, struct console, in_op);
	ssize_t n;

	if (res < 0)
		return; /* cancelled at shutdown */
	n = read(con->in_fd, con->pending, sizeof(con->pending));
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		console_arm_input(con);
		return;
	}
	if (n <= 0) {
		/* End of input: the guest simply gets no more. */
		log_debug("serial: end of input");
		return;
	}
	con->pending_off = 0;
	con->pending_len = (size_t)n;

	/* When the UART is full, wait for its room signal instead. */
	if (console_flush_pending(con))
		console_arm_input(con);
}

static void console_on_room(struct ev_op *op, int res, uint32_t flags)
{
	struct console *con = container_of(op, struct console, room_op);
	uint64_t count;

	if (res < 0)
		return;
	if (read(con->room_fd, &count, sizeof(count)) < 0)
		return;
	if (con->pending_len && console_flush_pending(con))
		console_arm_input(con);
}

/* On a vCPU thread, when the guest has drained the UART's FIFO. */
static void console_rx_ready(void *ctx)
{
	struct console *con = ctx;
	uint64_t one = 1;

	if (write(con->room_fd, &one, sizeof(one)) < 0)
		return; /* the counter is already non-zero */
}

int console_start_input(struct console *con, struct serial_8250 *uart,
			struct evloop *loop)
{
	struct stat st;

	con->uart = uart;
	con->loop = loop;
	if (fstat(STDIN_FILENO, &st) < 0)
		return 0; /* no stdin at all */
	if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode) &&
	    !S_ISSOCK(st.st_mode) && !S_ISREG(st.st_mode))
		return 0;

	con->room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (con->room_fd < 0) {
		log_error("serial: eventfd: %s", strerror(errno));
		return -errno;
	}
	con->in_fd = STDIN_FILENO;
	if (isatty(con->in_fd))
		console_tty_raw(con);

	con->in_op.complete = console_on_input;
	con->room_op.complete = console_on_room;
	serial_8250_set_rx_ready(uart, console_rx_ready, con);
	evloop_poll(loop, &con->room_op, con->room_fd, POLLIN);
	console_arm_input(con);
	return 0;
}

void console_close(struct console *con)
{
	if (con->tty_raw)
		tcsetattr(con->in_fd, TCSANOW, &con->saved_tty);
	con->tty_raw = false;
	if (con->room_fd >= 0)
		close(con->room_fd);
	con->room_fd = -1;
	if (con->out_owned)
		close(con->out_fd);
	con->out_owned = false;
}
