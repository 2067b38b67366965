/*
 * The 16550A UART driven through the port bus the way Linux's 8250 driver
 * drives it: probe, startup, transmit and receive interrupts, loopback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/serial_8250.h"
#include "vmm/log.h"

#define COM1 0x3f8

#define RBR 0
#define THR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

/* The fake irqchip: every irq_line_set() call, in order. */
#define MAX_IRQ_CALLS 64
static bool irq_calls[MAX_IRQ_CALLS];
static unsigned int nr_irq_calls;

int irq_line_set(const struct irq_line *line, bool level)
{
	assert_int_equal(line->gsi, 4);
	assert_true(nr_irq_calls < MAX_IRQ_CALLS);
	irq_calls[nr_irq_calls++] = level;
	return 0;
}

int irq_line_pulse(const struct irq_line *line)
{
	fail_msg("the UART drives a level, never a pulse");
	return -EINVAL;
}

static unsigned int nr_rx_ready;

static void count_rx_ready(void *ctx)
{
	nr_rx_ready++;
}

struct fixture {
	struct bus pio;
	struct serial_8250 uart;
	int pipe_fds[2]; /* guest output arrives on pipe_fds[0] */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct irq_line irq = {.vm_fd = -1, .gsi = 4};

	assert_non_null(f);
	assert_int_equal(pipe2(f->pipe_fds, O_NONBLOCK), 0);
	bus_init(&f->pio, "pio");
	assert_int_equal(
		serial_8250_init(&f->uart, "serial", irq, f->pipe_fds[1]), 0);
	serial_8250_set_rx_ready(&f->uart, count_rx_ready, NULL);
	assert_int_equal(serial_8250_register(&f->uart, &f->pio, COM1), 0);
	nr_irq_calls = 0;
	nr_rx_ready = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	serial_8250_destroy(&f->uart);
	close(f->pipe_fds[0]);
	if (f->pipe_fds[1] >= 0)
		close(f->pipe_fds[1]);
	free(f);
	return 0;
}

static void outb(struct fixture *f, unsigned int reg, uint8_t val)
{
	assert_true(bus_access(&f->pio, COM1 + reg, &val, 1, true));
}

static uint8_t inb(struct fixture *f, unsigned int reg)
{
	uint8_t val = 0;

	assert_true(bus_access(&f->pio, COM1 + reg, &val, 1, false));
	return val;
}

static void receive_all(struct fixture *f, const char *text)
{
	size_t len = strlen(text);

	assert_int_equal(
		serial_8250_receive(&f->uart, (const uint8_t *)text, len), len);
}

static void test_divisor_latch_round_trip(void **state)
{
	struct fixture *f = *state;

	/* 115200 baud, 8n1, as serial8250_set_termios() programs it. */
	outb(f, IER, 0x05);
	outb(f, LCR, 0x83);
	outb(f, DLL, 0x01);
	outb(f, DLM, 0x00);
	assert_int_equal(inb(f, DLL), 0x01);
	assert_int_equal(inb(f, DLM), 0x00);
	outb(f, DLM, 0x12);
	assert_int_equal(inb(f, DLM), 0x12);
	outb(f, LCR, 0x03);

	/* With DLAB clear, offsets 0 and 1 are the data and IER again. */
	assert_int_equal(inb(f, LCR), 0x03);
	assert_int_equal(inb(f, IER), 0x05);
	outb(f, LCR, 0x80);
	assert_int_equal(inb(f, DLL), 0x01);
	assert_int_equal(inb(f, DLM), 0x12);
}

static void test_scratch_and_ier_mask(void **state)
{
	struct fixture *f = *state;

	outb(f, SCR, 0x5a);
	assert_int_equal(inb(f, SCR), 0x5a);

	/* autoconfig(): IER keeps exactly its low four bits. */
	outb(f, IER, 0x00);
	assert_int_equal(inb(f, IER) & 0x0f, 0x00);
	outb(f, IER, 0x0f);
	assert_int_equal(inb(f, IER) & 0x0f, 0x0f);

	/* The XScale probe sets IER bit 6; a 16550A does not keep it. */
	outb(f, IER, 0x40);
	assert_int_equal(inb(f, IER), 0x00);
}

static void test_probe_identifies_16550a(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(inb(f, IIR), 0x01);

	/* autoconfig(): FIFOs on, IIR bits 7:6 = 3 means 16550A. */
	outb(f, LCR, 0x00);
	outb(f, FCR, 0x07);
	assert_int_equal(inb(f, IIR) >> 6, 3);

	/* No EFR behind LCR 0xbf: offset 2 still reads IIR, not zero. */
	outb(f, LCR, 0xbf);
	assert_int_not_equal(inb(f, IIR), 0);

	/* Not a 16750: the 64-byte FIFO bit never shows in IIR bit 5. */
	outb(f, LCR, 0x00);
	outb(f, FCR, 0x21);
	assert_int_equal(inb(f, IIR) >> 5, 6);
	outb(f, LCR, 0x80);
	outb(f, FCR, 0x21);
	assert_int_equal(inb(f, IIR) >> 5, 6);
	outb(f, LCR, 0x00);

	/* Disabling the FIFOs clears IIR bits 7:6. */
	outb(f, FCR, 0x00);
	assert_int_equal(inb(f, IIR), 0x01);
}

static void test_loopback_probe(void **state)
{
	struct fixture *f = *state;
	char c;

	/* autoconfig(): MCR = LOOP | OUT2 | RTS must read back DCD | CTS. */
	outb(f, MCR, 0x1a);
	assert_int_equal(inb(f, MSR) & 0xf0, 0x90);
	outb(f, MCR, 0x1f);
	assert_int_equal(inb(f, MSR) & 0xf0, 0xf0);

	/* In loopback a byte returns to the receiver, not to the host. */
	outb(f, THR, 'x');
	assert_int_equal(inb(f, LSR) & 0x01, 0x01);
	assert_int_equal(inb(f, RBR), 'x');
	assert_int_equal(read(f->pipe_fds[0], &c, 1), -1);
	assert_int_equal(errno, EAGAIN);

	/* ...and the receiver does not listen to the host. */
	assert_int_equal(serial_8250_rx_space(&f->uart), 0);
	assert_int_equal(serial_8250_receive(&f->uart, (const uint8_t *)"h", 1),
			 0);

	/* No IRQ leaves the chip in loopback, even with OUT2 set. */
	outb(f, IER, 0x02);
	assert_int_equal(inb(f, IIR), 0x02);
	assert_int_equal(nr_irq_calls, 0);

	/* Back on the line: a connected terminal, and the host may send. */
	outb(f, IER, 0x00);
	outb(f, MCR, 0x00);
	assert_int_equal(inb(f, MSR) & 0xf0, 0xb0);
	assert_int_equal(nr_rx_ready, 1);
	assert_int_equal(serial_8250_rx_space(&f->uart), 1);
}

static void test_lsr_after_transmit(void **state)
{
	struct fixture *f = *state;
	char out[8];

	assert_int_equal(inb(f, LSR), 0x60);
	outb(f, THR, 'o');
	outb(f, THR, 'k');
	assert_int_equal(inb(f, LSR) & 0x60, 0x60);
	outb(f, THR, '\n');

	assert_int_equal(read(f->pipe_fds[0], out, sizeof(out)), 3);
	assert_memory_equal(out, "ok\n", 3);
}

static void test_thre_interrupt(void **state)
{
	struct fixture *f = *state;

	/* serial8250_do_startup(): FIFOs on, OUT2 set for a PC port. */
	outb(f, FCR, 0x07);
	outb(f, MCR, 0x0b);
	assert_int_equal(nr_irq_calls, 0);

	/* The UART_BUG_THRE check: enabling ETBEI must raise THRE. */
	outb(f, IER, 0x02);
	assert_int_equal(nr_irq_calls, 1);
	assert_true(irq_calls[0]);
	assert_int_equal(inb(f, IIR), 0xc2);

	/* Reading IIR acknowledged it. */
	assert_int_equal(nr_irq_calls, 2);
	assert_false(irq_calls[1]);
	assert_int_equal(inb(f, IIR), 0xc1);
	outb(f, IER, 0x00);
	outb(f, IER, 0x02);
	assert_int_equal(inb(f, IIR), 0xc2);
	assert_int_equal(nr_irq_calls, 4);

	/* Transmit: each THR write empties at once and raises THRE again. */
	outb(f, THR, 'a');
	assert_int_equal(nr_irq_calls, 5);
	assert_true(irq_calls[4]);
	outb(f, THR, 'b');
	assert_int_equal(nr_irq_calls, 5); /* level unchanged: no call */

	/* __stop_tx(): clearing ETBEI drops the line. */
	outb(f, IER, 0x00);
	assert_int_equal(nr_irq_calls, 6);
	assert_false(irq_calls[5]);
	assert_int_equal(inb(f, IIR), 0xc1);
}

static void test_out2_gates_irq(void **state)
{
	struct fixture *f = *state;

	outb(f, IER, 0x02);
	assert_int_equal(inb(f, IIR) & 0x0f, 0x02);
	outb(f, IER, 0x00);
	outb(f, IER, 0x02);
	assert_int_equal(nr_irq_calls, 0);

	outb(f, MCR, 0x08);
	assert_int_equal(nr_irq_calls, 1);
	assert_true(irq_calls[0]);
	outb(f, MCR, 0x00);
	assert_int_equal(nr_irq_calls, 2);
	assert_false(irq_calls[1]);
	assert_int_equal(inb(f, IIR) & 0x0f, 0x02);
}

static void test_receive(void **state)
{
	struct fixture *f = *state;

	outb(f, FCR, 0x07); /* trigger level 1 */
	outb(f, MCR, 0x08);
	outb(f, IER, 0x01);
	assert_int_equal(inb(f, LSR) & 0x01, 0x00);

	receive_all(f, "abc");
	assert_int_equal(nr_irq_calls, 1);
	assert_true(irq_calls[0]);
	assert_int_equal(inb(f, IIR), 0xc4);
	assert_int_equal(inb(f, LSR), 0x61);

	/* serial8250_rx_chars(): read while LSR.DR, oldest byte first. */
	assert_int_equal(inb(f, RBR), 'a');
	assert_int_equal(inb(f, RBR), 'b');
	assert_int_equal(inb(f, LSR) & 0x01, 0x01);
	assert_int_equal(inb(f, RBR), 'c');
	assert_int_equal(inb(f, LSR), 0x60);
	assert_int_equal(inb(f, IIR), 0xc1);
	assert_int_equal(nr_irq_calls, 2);
	assert_false(irq_calls[1]);

	/* Below a trigger level of 14 the data shows as a timeout. */
	outb(f, FCR, 0xc1);
	receive_all(f, "xyz");
	assert_int_equal(inb(f, IIR), 0xcc);
	assert_int_equal(inb(f, RBR), 'x');
}

static void test_receive_back_pressure(void **state)
{
	struct fixture *f = *state;
	uint8_t in[100];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;

	/* FIFOs off: one holding register. */
	assert_int_equal(serial_8250_rx_space(&f->uart), 1);
	assert_int_equal(serial_8250_receive(&f->uart, in, 5), 1);
	assert_int_equal(inb(f, RBR), 0);
	assert_int_equal(nr_rx_ready, 1);

	outb(f, FCR, 0x01);
	assert_int_equal(serial_8250_rx_space(&f->uart),
			 SERIAL_8250_RX_FIFO_SIZE);
	assert_int_equal(serial_8250_receive(&f->uart, in, sizeof(in)),
			 SERIAL_8250_RX_FIFO_SIZE);
	assert_int_equal(serial_8250_rx_space(&f->uart), 0);

	/* The hook fires once, when the guest has read the FIFO empty. */
	for (unsigned int i = 0; i < SERIAL_8250_RX_FIFO_SIZE - 1; i++)
		assert_int_equal(inb(f, RBR), i);
	assert_int_equal(nr_rx_ready, 1);
	assert_int_equal(inb(f, RBR), SERIAL_8250_RX_FIFO_SIZE - 1);
	assert_int_equal(nr_rx_ready, 2);
	inb(f, LSR);
	assert_int_equal(nr_rx_ready, 2);

	/* Input that was never turned away does not call the hook. */
	receive_all(f, "q");
	assert_int_equal(inb(f, RBR), 'q');
	assert_int_equal(nr_rx_ready, 2);

	/* No overrun: back-pressure lost nothing. */
	assert_int_equal(inb(f, LSR), 0x60);
}

static void test_fifo_overrun_keeps_earlier_bytes(void **state)
{
	struct fixture *f = *state;

	outb(f, FCR, 0x07);
	outb(f, MCR, 0x18); /* loopback, OUT2 */
	outb(f, IER, 0x05); /* data and line status */
	for (unsigned int i = 0; i <= SERIAL_8250_RX_FIFO_SIZE; i++)
		outb(f, THR, (uint8_t)(0x80 + i));

	/* Line status outranks data available; reading LSR clears OE. */
	assert_int_equal(inb(f, IIR), 0xc6);
	assert_int_equal(inb(f, LSR), 0x63);
	assert_int_equal(inb(f, LSR), 0x61);
	assert_int_equal(inb(f, IIR), 0xc4);

	for (unsigned int i = 0; i < SERIAL_8250_RX_FIFO_SIZE; i++)
		assert_int_equal(inb(f, RBR), 0x80 + i);
	assert_int_equal(inb(f, LSR), 0x60);
	assert_int_equal(inb(f, IIR), 0xc1);
}

static void test_overrun_without_fifo(void **state)
{
	struct fixture *f = *state;

	outb(f, MCR, 0x10);
	outb(f, THR, '1');
	outb(f, THR, '2');

	/* A 16450 overwrites RBR: the newest byte wins. */
	assert_int_equal(inb(f, LSR), 0x63);
	assert_int_equal(inb(f, RBR), '2');
	assert_int_equal(inb(f, LSR), 0x60);
}

static void test_interrupt_priority(void **state)
{
	struct fixture *f = *state;

	outb(f, FCR, 0x01);
	outb(f, MCR, 0x18);
	outb(f, IER, 0x0f);

	/*
	 * Enabling ETBEI raised THRE; entering loopback dropped CTS and DSR,
	 * a modem status change.
	 */
	assert_int_equal(inb(f, IIR), 0xc2);
	assert_int_equal(inb(f, IIR), 0xc0);
	assert_int_equal(inb(f, MSR), 0x83);
	assert_int_equal(inb(f, IIR), 0xc1);

	/* Toggling DTR in loopback changes DSR: modem status interrupt. */
	outb(f, MCR, 0x19);
	assert_int_equal(inb(f, IIR), 0xc0);
	assert_int_equal(inb(f, MSR), 0xa2);
	assert_int_equal(inb(f, IIR), 0xc1);

	/* Data outranks THRE. */
	outb(f, THR, 'd');
	assert_int_equal(inb(f, IIR), 0xc4);
	assert_int_equal(inb(f, RBR), 'd');
	assert_int_equal(inb(f, IIR), 0xc2);
}

static void test_output_to_file(void **state)
{
	struct fixture *f = *state;
	char path[] = "/tmp/minnow-serial-XXXXXX";
	struct serial_8250 uart;
	struct bus pio;
	uint8_t c;
	char out[8];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	bus_init(&pio, "pio");
	assert_int_equal(serial_8250_init(&uart, "serial",
					  (struct irq_line){.gsi = 4}, fd),
			 0);
	assert_int_equal(serial_8250_register(&uart, &pio, COM1), 0);
	for (const char *p = "boot\n"; *p; p++) {
		c = (uint8_t)*p;
		assert_true(bus_access(&pio, COM1 + THR, &c, 1, true));
	}
	serial_8250_destroy(&uart);

	assert_int_equal(pread(fd, out, sizeof(out), 0), 5);
	assert_memory_equal(out, "boot\n", 5);
	close(fd);
	(void)f;
}

static void test_output_error_drops_output(void **state)
{
	struct fixture *f = *state;
	void (*old_handler)(int) = signal(SIGPIPE, SIG_IGN);
	int fds[2];

	/* The reader goes away: EPIPE is logged once, the guest goes on. */
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	f->uart.out_fd = fds[1];
	outb(f, THR, 'a');
	assert_true(f->uart.out_broken);
	outb(f, THR, 'b');
	assert_int_equal(inb(f, LSR) & 0x60, 0x60);

	close(fds[1]);
	signal(SIGPIPE, old_handler);
}

static uint64_t elapsed_ms(uint64_t start_ns)
{
	return (clock_now_ns() - start_ns) / 1000000;
}

static void test_stalled_reader_does_not_block_guest(void **state)
{
	struct fixture *f = *state;
	char sink[4096];
	uint64_t start;
	int fds[2], flags;

	/* A blocking pipe whose reader has stopped: fill it up. */
	assert_int_equal(pipe(fds), 0);
	flags = fcntl(fds[1], F_GETFL);
	assert_int_equal(fcntl(fds[1], F_SETFL, flags | O_NONBLOCK), 0);
	while (write(fds[1], sink, sizeof(sink)) > 0)
		;
	assert_int_equal(fcntl(fds[1], F_SETFL, flags), 0);
	f->uart.out_fd = fds[1];

	/* The first byte waits a little, then is dropped... */
	start = clock_now_ns();
	outb(f, THR, 'a');
	assert_true(elapsed_ms(start) >= SERIAL_8250_OUT_WAIT_MS / 2);
	assert_true(elapsed_ms(start) < 10 * SERIAL_8250_OUT_WAIT_MS);
	assert_true(f->uart.out_stalled);

	/* ...and later ones are dropped at once. */
	start = clock_now_ns();
	for (int i = 0; i < 100; i++)
		outb(f, THR, 'b');
	assert_true(elapsed_ms(start) < SERIAL_8250_OUT_WAIT_MS);
	assert_int_equal(inb(f, LSR) & 0x60, 0x60);

	/* Once the reader drains the pipe, output flows again. */
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	while (read(fds[0], sink, sizeof(sink)) > 0)
		;
	outb(f, THR, 'c');
	assert_false(f->uart.out_stalled);
	assert_int_equal(read(fds[0], sink, sizeof(sink)), 1);
	assert_int_equal(sink[0], 'c');

	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_divisor_latch_round_trip),
		T(test_scratch_and_ier_mask),
		T(test_probe_identifies_16550a),
		T(test_loopback_probe),
		T(test_lsr_after_transmit),
		T(test_thre_interrupt),
		T(test_out2_gates_irq),
		T(test_receive),
		T(test_receive_back_pressure),
		T(test_fifo_overrun_keeps_earlier_bytes),
		T(test_overrun_without_fifo),
		T(test_interrupt_priority),
		T(test_output_to_file),
		T(test_output_error_drops_output),
		T(test_stalled_reader_does_not_block_guest),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
