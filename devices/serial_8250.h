/*
 * A 16550A UART on the port-I/O bus: the guest's serial console (ttyS0).
 * Output goes straight to a host fd; input comes from the event loop.
 *
 * Contract: serial_8250_init(), then serial_8250_set_rx_ready() if input is
 * wanted, then serial_8250_register(), all before the first vCPU runs.
 * After that the port handler (vCPU threads), serial_8250_receive() and
 * serial_8250_rx_space() (event loop thread) may run at the same time;
 * the device lock orders them. serial_8250_destroy() after the vCPUs and
 * the event loop have stopped. The caller owns out_fd and closes it.
 *
 * Left out: baud rate timing (bytes leave as soon as they are written, so
 * THR and the transmitter are always empty), parity, framing and break
 * conditions, break in loopback, the 64-byte FIFO mode of the 16750, and a
 * real character timeout: received data below the FIFO trigger level is
 * reported as a timeout interrupt at once, as if the line had gone idle.
 */
#ifndef MINNOW_SERIAL_8250_H
#define MINNOW_SERIAL_8250_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"
#include "vmm/log.h"

#define SERIAL_8250_NR_PORTS 8 /* registers, base + 0 to base + 7 */

/*
 * Receive FIFO depth. A 16550A has 16 bytes; a deeper FIFO is invisible to
 * Linux's driver (it reads while LSR.DR is set) and means fewer interrupts
 * when the host pastes a burst.
 */
#define SERIAL_8250_RX_FIFO_SIZE 64

/* How long one byte of output may wait for a stalled reader. */
#define SERIAL_8250_OUT_WAIT_MS 100

/*
 * Called when the guest has drained the receive FIFO after
 * serial_8250_receive() turned bytes away. Runs on a vCPU thread without
 * the device lock held; it must not block (evloop_wake() fits).
 */
typedef void (*serial_8250_rx_ready_fn)(void *ctx);

struct serial_8250 {
	pthread_mutex_t lock;
	const char *name; /* for logs, e.g. "serial" */
	struct irq_line irq;
	bool irq_level;     /* level last set on irq */
	int out_fd;         /* -1: output is discarded */
	bool out_broken;    /* a write failed; output is dropped from then on */
	bool out_may_block; /* a pipe, socket or terminal: poll before writing */
	bool out_stalled;   /* its reader stopped reading; bytes are dropped */

	/*
	 * Registers, named as in the 16550A datasheet. lsr_err holds only the
	 * error bits; DR, THRE and TEMT follow from the FIFO.
	 */
	uint8_t ier, lcr, mcr, lsr_err, msr, scr, fcr, dll, dlm;
	bool thre_pending; /* THR-empty interrupt not yet acknowledged */

	uint8_t rx_fifo[SERIAL_8250_RX_FIFO_SIZE];
	unsigned int rx_head;  /* index of the oldest byte */
	unsigned int rx_count; /* bytes in the FIFO */
	bool rx_wanted;        /* input was turned away; call rx_ready */
	serial_8250_rx_ready_fn rx_ready;
	void *rx_ready_ctx;

	struct log_ratelimit rl;
};

/*
 * Puts the UART in its reset state. name must outlive the device. Guest
 * output goes to out_fd (-1 to discard it) byte by byte as the guest writes
 * THR. The process should ignore SIGPIPE so that a closed reader yields
 * EPIPE. A write error stops output for good, logged once; a reader that
 * stops reading for SERIAL_8250_OUT_WAIT_MS makes the UART drop bytes until
 * it reads again, so the guest never waits on the host for long. Returns 0
 * or a negative errno.
 */
int serial_8250_init(struct serial_8250 *s, const char *name,
		     struct irq_line irq, int out_fd);

/* Sets the back-pressure hook (see serial_8250_rx_ready_fn). */
void serial_8250_set_rx_ready(struct serial_8250 *s, serial_8250_rx_ready_fn fn,
			      void *ctx);

/*
 * Claims ports base to base + 7 on pio. Returns 0 or bus_register()'s
 * negative errno.
 */
int serial_8250_register(struct serial_8250 *s, struct bus *pio, uint16_t base);

/*
 * Offers len bytes of host input. Returns how many the UART took (the room
 * in its receive FIFO: one byte with FIFOs off, none in loopback mode).
 * When it takes fewer than len, it calls rx_ready once the guest has read
 * the FIFO empty; offer the rest then.
 */
size_t serial_8250_receive(struct serial_8250 *s, const uint8_t *buf,
			   size_t len);

/* Bytes serial_8250_receive() would take now. */
size_t serial_8250_rx_space(struct serial_8250 *s);

/* Frees the lock; does not close out_fd. */
void serial_8250_destroy(struct serial_8250 *s);

#endif
