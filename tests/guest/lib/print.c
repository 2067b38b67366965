/* Output through the COM1 8250 UART, and a small printf on top of it. */
#include <stdbool.h>

#include "guest.h"
#include "x86.h"

#define UART_THR      0 /* transmit holding register */
#define UART_IER      1
#define UART_FCR      2
#define UART_LCR      3
#define UART_LSR      5
#define UART_LSR_THRE 0x20
#define UART_LCR_8N1  0x03

/* Bounds the wait for THRE so an absent UART cannot hang the guest. */
#define UART_SPIN_MAX 100000

static volatile int print_lock;

void serial_init(void)
{
	outb(GUEST_PORT_COM1 + UART_IER, 0);
	outb(GUEST_PORT_COM1 + UART_LCR, UART_LCR_8N1);
	outb(GUEST_PORT_COM1 + UART_FCR, 0);
}

static void serial_put_raw(char c)
{
	unsigned int spins = 0;

	while (!(inb(GUEST_PORT_COM1 + UART_LSR) & UART_LSR_THRE) &&
	       spins++ < UART_SPIN_MAX)
		cpu_relax();
	outb(GUEST_PORT_COM1 + UART_THR, (uint8_t)c);
}

void serial_putc(char c)
{
	if (c == '\n')
		serial_put_raw('\r');
	serial_put_raw(c);
}

static void put_uint(uint64_t v, unsigned int base, int width, bool zero)
{
	char buf[24];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (width-- > n)
		serial_putc(zero ? '0' : ' ');
	while (n)
		serial_putc(buf[--n]);
}

static void put_str(const char *s, int width)
{
	int n = (int)strlen(s);

	while (width-- > n)
		serial_putc(' ');
	while (*s)
		serial_putc(*s++);
}

/* Formats one conversion; fmt points just past the '%'. */
static const char *put_conv(const char *fmt, va_list *ap)
{
	bool zero = false, is_long = false;
	int width = 0;
	int64_t sv;

	if (*fmt == '0') {
		zero = true;
		fmt++;
	}
	while (*fmt >= '0' && *fmt <= '9')
		width = width * 10 + (*fmt++ - '0');
	if (*fmt == 'l') {
		is_long = true;
		fmt++;
	}

	switch (*fmt) {
	case 'd':
		sv = is_long ? va_arg(*ap, int64_t) : va_arg(*ap, int);
		if (sv < 0) {
			serial_putc('-');
			put_uint((uint64_t)-sv, 10, width - 1, zero);
		} else {
			put_uint((uint64_t)sv, 10, width, zero);
		}
		break;
	case 'u':
		put_uint(is_long ? va_arg(*ap, uint64_t)
				 : va_arg(*ap, unsigned),
			 10, width, zero);
		break;
	case 'x':
		put_uint(is_long ? va_arg(*ap, uint64_t)
				 : va_arg(*ap, unsigned),
			 16, width, zero);
		break;
	case 'p':
		put_str("0x", 0);
		put_uint((uint64_t)va_arg(*ap, void *), 16, width, zero);
		break;
	case 's':
		put_str(va_arg(*ap, const char *), width);
		break;
	case 'c':
		serial_putc((char)va_arg(*ap, int));
		break;
	case '\0':
		return fmt;
	default:
		serial_putc(*fmt);
		break;
	}
	return fmt + 1;
}

int vprintf(const char *fmt, va_list ap)
{
	va_list aq;

	va_copy(aq, ap);
	while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
	while (*fmt) {
		if (*fmt == '%')
			fmt = put_conv(fmt + 1, &aq);
		else
			serial_putc(*fmt++);
	}
	__atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
	va_end(aq);
	return 0;
}

int printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	return 0;
}
