/*
 * The serial console's host side: guest output to stdout or a file, host
 * input from stdin (a terminal in raw mode, restored on exit, or a pipe)
 * fed to the UART through the event loop with back-pressure.
 */
#ifndef MINNOW_CONSOLE_H
#define MINNOW_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "devices/serial_8250.h"
#include "vmm/evloop.h"

struct console {
	struct serial_8250 *uart;
	struct evloop *loop;
	int in_fd;      /* -1 when there is no input */
	int out_fd;     /* what the UART writes to */
	bool out_owned; /* out_fd is a file we opened */
	bool tty_raw;   /* in_fd's terminal settings need restoring */
	struct termios saved_tty;
	int room_fd; /* eventfd: the UART has room again */
	struct ev_op in_op;
	struct ev_op room_op;
	uint8_t pending[256]; /* input read but not yet taken by the UART */
	size_t pending_off, pending_len;
};

/*
 * Opens the output: stdout when path is NULL, else the file at path
 * (created or truncated). Returns 0 or a negative errno after a message.
 */
int console_open_output(struct console *con, const char *path);

/*
 * Starts feeding stdin to uart, if stdin is a terminal, pipe, socket or
 * file. Call after the UART is set up and before the loop runs.
 */
int console_start_input(struct console *con, struct serial_8250 *uart,
			struct evloop *loop);

/* Restores the terminal and closes what the console opened. */
void console_close(struct console *con);

#endif
