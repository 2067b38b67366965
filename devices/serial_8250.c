/*
 * 16550A UART: register file, FIFOs, interrupt identification and
 * loopback, following the TI/National PC16550D datasheet.
 */
#include "devices/serial_8250.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Register offsets from the base port. */
#define UART_RBR 0 /* read, DLAB = 0 */
#define UART_THR 0 /* write, DLAB = 0 */
#define UART_DLL 0 /* DLAB = 1 */
#define UART_IER 1 /* DLAB = 0 */
#define UART_DLM 1 /* DLAB = 1 */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI  0x04 /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK  0x0f

/* IIR bits 3:0, in falling priority (datasheet table 4). */
#define IIR_NONE      0x01
#define IIR_RLS       0x06
#define IIR_RDA       0x04
#define IIR_TIMEOUT   0x0c
#define IIR_THRE      0x02
#define IIR_MS        0x00
#define IIR_FIFO_BITS 0xc0 /* both set while FCR enables the FIFOs */

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_TRIGGER  0xc0

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08 /* on a PC, gates the IRQ output */
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR     0x01
#define LSR_OE     0x02
#define LSR_PE     0x04
#define LSR_FE     0x08
#define LSR_BI     0x10
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS   0x01
#define MSR_DDSR   0x02
#define MSR_TERI   0x04
#define MSR_DDCD   0x08
#define MSR_CTS    0x10
#define MSR_DSR    0x20
#define MSR_RI     0x40
#define MSR_DCD    0x80
#define MSR_DELTAS 0x0f

/* Outside loopback the line looks like a connected, ready terminal. */
#define MSR_LINES_CONNECTED (MSR_DCD | MSR_DSR | MSR_CTS)

/* Divisor for 9600 baud from the PC's 1.8432 MHz clock, until set. */
#define DIVISOR_RESET 12

static unsigned int serial_rx_capacity(const struct serial_8250 *s)
{
	return (s->fcr & FCR_ENABLE) ? SERIAL_8250_RX_FIFO_SIZE : 1;
}

static unsigned int serial_rx_trigger(const struct serial_8250 *s)
{
	static const unsigned int levels[] = {1, 4, 8, 14};

	if (!(s->fcr & FCR_ENABLE))
		return 1;
	return levels[(s->fcr & FCR_TRIGGER) >> 6];
}

/* The highest-priority pending interrupt, as IIR bits 3:0. */
static uint8_t serial_iir_source(const struct serial_8250 *s)
{
	if ((s->ier & IER_ELSI) && (s->lsr_err & LSR_ERRORS))
		return IIR_RLS;
	if ((s->ier & IER_ERBFI) && s->rx_count) {
		if (s->rx_count >= serial_rx_trigger(s))
			return IIR_RDA;
		return IIR_TIMEOUT;
	}
	if ((s->ier & IER_ETBEI) && s->thre_pending)
		return IIR_THRE;
	if ((s->ier & IER_EDSSI) && (s->msr & MSR_DELTAS))
		return IIR_MS;
	return IIR_NONE;
}

/*
 * Drives the irq line to "interrupt pending". On a PC, OUT2 enables the
 * UART's IRQ driver, and loopback forces OUT2 inactive at the pin.
 */
static void serial_update_irq(struct serial_8250 *s)
{
	bool level = serial_iir_source(s) != IIR_NONE &&
		     (s->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;
	int err;

	if (level == s->irq_level)
		return;
	err = irq_line_set(&s->irq, level);
	if (err) {
		log_warn_ratelimited(&s->rl, "%s: setting irq %u: %s", s->name,
				     s->irq.gsi, strerror(-err));
		return;
	}
	s->irq_level = level;
}

static void serial_rx_clear(struct serial_8250 *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

/*
 * One byte arriving at the receiver. A full FIFO keeps what it holds and
 * loses the new byte; without FIFOs the new byte overwrites RBR. Both set
 * the overrun error.
 */
static void serial_rx_push(struct serial_8250 *s, uint8_t byte)
{
	if (s->rx_count >= serial_rx_capacity(s)) {
		s->lsr_err |= LSR_OE;
		if (!(s->fcr & FCR_ENABLE))
			s->rx_fifo[s->rx_head] = byte;
		return;
	}
	s->rx_fifo[(s->rx_head + s->rx_count) % SERIAL_8250_RX_FIFO_SIZE] =
		byte;
	s->rx_count++;
}

static uint8_t serial_rx_pop(struct serial_8250 *s)
{
	uint8_t byte;

	if (!s->rx_count)
		return 0;
	byte = s->rx_fifo[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_8250_RX_FIFO_SIZE;
	s->rx_count--;
	return byte;
}

/*
 * True once when input that was turned away can now be offered again:
 * the guest has read the FIFO empty and the receiver listens to the line.
 */
static bool serial_rx_take_ready(struct serial_8250 *s)
{
	if (!s->rx_wanted || s->rx_count || (s->mcr & MCR_LOOP))
		return false;
	s->rx_wanted = false;
	return true;
}

/*
 * Whether a byte can go to out_fd now without blocking the vCPU for good.
 * Once the reader has stalled, bytes are dropped at once until it reads.
 */
static bool serial_output_ready(struct serial_8250 *s)
{
	struct pollfd pfd = {.fd = s->out_fd, .events = POLLOUT};
	int n;

	if (!s->out_may_block)
		return true;
	n = poll(&pfd, 1, s->out_stalled ? 0 : SERIAL_8250_OUT_WAIT_MS);
	if (n > 0) {
		/* POLLERR and POLLHUP too: the write will say what failed. */
		s->out_stalled = false;
		return true;
	}
	if (!s->out_stalled)
		log_warn_ratelimited(&s->rl,
				     "%s: output stalled; dropping "
				     "bytes until its reader catches up",
				     s->name);
	s->out_stalled = true;
	return false;
}

static void serial_output(struct serial_8250 *s, uint8_t byte)
{
	ssize_t n;
	int err;

	if (s->out_fd < 0 || s->out_broken || !serial_output_ready(s))
		return;
	do {
		n = write(s->out_fd, &byte, 1);
	} while (n < 0 && errno == EINTR);
	if (n == 1)
		return;

	err = n < 0 ? errno : EIO;
	if (err == EAGAIN || err == EWOULDBLOCK) {
		log_warn_ratelimited(&s->rl, "%s: output full; byte dropped",
				     s->name);
		return;
	}
	s->out_broken = true;
	log_error("%s: writing output: %s; dropping output from now on",
		  s->name, strerror(err));
}

/* The modem input lines, MSR bits 7:4: wired back from MCR in loopback. */
static uint8_t serial_modem_lines(const struct serial_8250 *s)
{
	uint8_t lines = 0;

	if (!(s->mcr & MCR_LOOP))
		return MSR_LINES_CONNECTED;
	if (s->mcr & MCR_DTR)
		lines |= MSR_DSR;
	if (s->mcr & MCR_RTS)
		lines |= MSR_CTS;
	if (s->mcr & MCR_OUT1)
		lines |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		lines |= MSR_DCD;
	return lines;
}

/* Latches the new input lines and the delta bits their changes set. */
static void serial_update_msr(struct serial_8250 *s)
{
	uint8_t lines = serial_modem_lines(s);
	uint8_t changed = (s->msr ^ lines) & 0xf0;
	uint8_t deltas = s->msr & MSR_DELTAS;

	if (changed & MSR_CTS)
		deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		deltas |= MSR_DDSR;
	if ((changed & MSR_RI) && !(lines & MSR_RI))
		deltas |= MSR_TERI; /* trailing edge only */
	if (changed & MSR_DCD)
		deltas |= MSR_DDCD;
	s->msr = lines | deltas;
}

/* datasheet 8.4: bit 0 gates every other FCR bit; toggling it clears. */
static void serial_write_fcr(struct serial_8250 *s, uint8_t val)
{
	if ((val ^ s->fcr) & FCR_ENABLE)
		serial_rx_clear(s);
	if (!(val & FCR_ENABLE)) {
		s->fcr = 0;
		return;
	}
	if (val & FCR_CLEAR_RX)
		serial_rx_clear(s);
	s->fcr = val & (FCR_ENABLE | FCR_TRIGGER);
}

static void serial_write_thr(struct serial_8250 *s, uint8_t val)
{
	if (s->mcr & MCR_LOOP)
		serial_rx_push(s, val);
	else
		serial_output(s, val);

	/* The byte left at once: THR is empty again. */
	s->thre_pending = true;
}

static void serial_write_ier(struct serial_8250 *s, uint8_t val)
{
	val &= IER_MASK;

	/*
	 * Enabling ETBEI while THR is empty raises the THR-empty interrupt;
	 * Linux's startup checks this (UART_BUG_THRE) and its transmit path
	 * relies on it.
	 */
	if ((val & IER_ETBEI) && !(s->ier & IER_ETBEI))
		s->thre_pending = true;
	s->ier = val;
}

static void serial_write(struct serial_8250 *s, unsigned int reg, uint8_t val)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case UART_THR:
		if (dlab)
			s->dll = val;
		else
			serial_write_thr(s, val);
		break;
	case UART_IER:
		if (dlab)
			s->dlm = val;
		else
			serial_write_ier(s, val);
		break;
	case UART_FCR:
		serial_write_fcr(s, val);
		break;
	case UART_LCR:
		s->lcr = val;
		break;
	case UART_MCR:
		s->mcr = val & MCR_MASK;
		serial_update_msr(s);
		break;
	case UART_SCR:
		s->scr = val;
		break;
	default:
		/* LSR and MSR are read-only; writes do nothing on hardware. */
		break;
	}
	serial_update_irq(s);
}

static uint8_t serial_read_iir(struct serial_8250 *s)
{
	uint8_t source = serial_iir_source(s);

	/* Reading IIR acknowledges a THR-empty interrupt it reports. */
	if (source == IIR_THRE)
		s->thre_pending = false;
	return source | ((s->fcr & FCR_ENABLE) ? IIR_FIFO_BITS : 0);
}

static uint8_t serial_read_lsr(struct serial_8250 *s)
{
	uint8_t val = s->lsr_err | LSR_THRE | LSR_TEMT;

	if (s->rx_count)
		val |= LSR_DR;

	/* Error bits clear on read. */
	s->lsr_err = 0;
	return val;
}

static uint8_t serial_read(struct serial_8250 *s, unsigned int reg)
{
	bool dlab = s->lcr & LCR_DLAB;
	uint8_t val;

	switch (reg) {
	case UART_RBR:
		val = dlab ? s->dll : serial_rx_pop(s);
		break;
	case UART_IER:
		val = dlab ? s->dlm : s->ier;
		break;
	case UART_IIR:
		val = serial_read_iir(s);
		break;
	case UART_LCR:
		val = s->lcr;
		break;
	case UART_MCR:
		val = s->mcr;
		break;
	case UART_LSR:
		val = serial_read_lsr(s);
		break;
	case UART_MSR:
		val = s->msr;
		s->msr &= ~MSR_DELTAS;
		break;
	default:
		val = s->scr;
		break;
	}
	serial_update_irq(s);
	return val;
}

/*
 * The registers are eight bits wide. A wider access reaches the following
 * ports byte by byte, as an ISA bus splits it; bytes past the UART read as
 * all ones.
 */
static void serial_io(void *opaque, uint64_t offset, uint8_t *data,
		      uint32_t len, bool is_write)
{
	struct serial_8250 *s = opaque;
	bool notify;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t reg = offset + i;

		if (reg >= SERIAL_8250_NR_PORTS) {
			if (!is_write)
				data[i] = 0xff;
		} else if (is_write) {
			serial_write(s, (unsigned int)reg, data[i]);
		} else {
			data[i] = serial_read(s, (unsigned int)reg);
		}
	}
	notify = serial_rx_take_ready(s);
	pthread_mutex_unlock(&s->lock);

	if (notify && s->rx_ready)
		s->rx_ready(s->rx_ready_ctx);
}

/* Files and block devices always take a write; the rest may not. */
static bool serial_fd_may_block(int fd)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return fd >= 0;
	return !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
}

int serial_8250_init(struct serial_8250 *s, const char *name,
		     struct irq_line irq, int out_fd)
{
	int err;

	memset(s, 0, sizeof(*s));
	err = pthread_mutex_init(&s->lock, NULL);
	if (err)
		return -err;

	s->name = name;
	s->irq = irq;
	s->out_fd = out_fd;
	s->out_may_block = serial_fd_may_block(out_fd);
	s->dll = DIVISOR_RESET;
	s->msr = MSR_LINES_CONNECTED;
	return 0;
}

void serial_8250_set_rx_ready(struct serial_8250 *s, serial_8250_rx_ready_fn fn,
			      void *ctx)
{
	s->rx_ready = fn;
	s->rx_ready_ctx = ctx;
}

int serial_8250_register(struct serial_8250 *s, struct bus *pio, uint16_t base)
{
	return bus_register(pio, base, SERIAL_8250_NR_PORTS, s->name, serial_io,
			    s);
}

static size_t serial_rx_space_locked(const struct serial_8250 *s)
{
	if (s->mcr & MCR_LOOP)
		return 0;
	return serial_rx_capacity(s) - s->rx_count;
}

size_t serial_8250_receive(struct serial_8250 *s, const uint8_t *buf,
			   size_t len)
{
	size_t taken;

	pthread_mutex_lock(&s->lock);
	taken = serial_rx_space_locked(s);
	if (taken > len)
		taken = len;
	for (size_t i = 0; i < taken; i++)
		serial_rx_push(s, buf[i]);
	if (taken < len)
		s->rx_wanted = true;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return taken;
}

size_t serial_8250_rx_space(struct serial_8250 *s)
{
	size_t space;

	pthread_mutex_lock(&s->lock);
	space = serial_rx_space_locked(s);
	pthread_mutex_unlock(&s->lock);
	return space;
}

void serial_8250_destroy(struct serial_8250 *s)
{
	pthread_mutex_destroy(&s->lock);
}
