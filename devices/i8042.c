/*
 * i8042 keyboard controller without a keyboard: the command byte, the
 * self-test and the reset line.
 */
#include "devices/i8042.h"

#include "boot/layout.h"

#include <errno.h>

#define I8042_DATA_PORT    LAYOUT_PORT_I8042       /* 0x60 */
#define I8042_COMMAND_PORT (LAYOUT_PORT_I8042 + 4) /* 0x64 */

/* Status register. */
#define STATUS_OBF 0x01 /* output buffer full: the data port has a byte */
#define STATUS_SYS 0x04 /* system flag: self-test passed (from the CTR) */

/* Controller configuration byte (the "command byte"). */
#define CTR_SYS    0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40

/* As a BIOS leaves it: POST passed, translation on, no interrupts. */
#define CTR_RESET (CTR_SYS | CTR_XLATE)

/* Commands written to the command port. */
#define CMD_READ_CTR      0x20
#define CMD_WRITE_CTR     0x60
#define CMD_AUX_DISABLE   0xa7
#define CMD_AUX_ENABLE    0xa8
#define CMD_SELF_TEST     0xaa
#define CMD_KBD_DISABLE   0xad
#define CMD_KBD_ENABLE    0xae
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_PULSE_FIRST   0xf0 /* 0xf0-0xff pulse the output lines */

#define SELF_TEST_PASSED 0x55

/* Output port bit 0 is the CPU reset line, active low. */
#define OUTPORT_RESET_N 0x01

static void i8042_output(struct i8042 *k, uint8_t byte)
{
	k->out_byte = byte;
	k->out_full = true;
}

static void i8042_reset_request(struct i8042 *k)
{
	log_debug("i8042: guest asked for a reset");
	power_request(&k->power, POWER_EVENT_RESET, 0);
}

static void i8042_command(struct i8042 *k, uint8_t cmd)
{
	k->pending_cmd = 0;

	switch (cmd) {
	case CMD_READ_CTR:
		i8042_output(k, k->ctr);
		return;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPORT:
		k->pending_cmd = cmd;
		return;
	case CMD_AUX_DISABLE:
		k->ctr |= CTR_AUXDIS;
		return;
	case CMD_AUX_ENABLE:
		k->ctr &= ~CTR_AUXDIS;
		return;
	case CMD_KBD_DISABLE:
		k->ctr |= CTR_KBDDIS;
		return;
	case CMD_KBD_ENABLE:
		k->ctr &= ~CTR_KBDDIS;
		return;
	case CMD_SELF_TEST:
		i8042_output(k, SELF_TEST_PASSED);
		return;
	}

	/* A pulse command's low bits name the lines to pulse, active low. */
	if (cmd >= CMD_PULSE_FIRST) {
		if (!(cmd & OUTPORT_RESET_N))
			i8042_reset_request(k);
		return;
	}
	if (log_threshold >= LOG_DEBUG && log_ratelimit_allow(&k->rl))
		log_debug("i8042: command 0x%02x ignored", cmd);
}

static void i8042_write_data(struct i8042 *k, uint8_t byte)
{
	uint8_t cmd = k->pending_cmd;

	k->pending_cmd = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		k->ctr = byte;
		break;
	case CMD_WRITE_OUTPORT:
		if (!(byte & OUTPORT_RESET_N))
			i8042_reset_request(k);
		break;
	default:
		/* A byte for the keyboard, and there is none. */
		break;
	}
}

static uint8_t i8042_read_data(struct i8042 *k)
{
	k->out_full = false;
	return k->out_byte;
}

static uint8_t i8042_read_status(const struct i8042 *k)
{
	uint8_t status = k->ctr & CTR_SYS ? STATUS_SYS : 0;

	if (k->out_full)
		status |= STATUS_OBF;
	return status;
}

/*
 * Both ports are one byte wide; further bytes of a wider access belong to
 * other ports and read as all ones.
 */
static void i8042_io(struct i8042 *k, bool command_port, uint8_t *data,
		     uint32_t len, bool is_write)
{
	pthread_mutex_lock(&k->lock);
	if (is_write && command_port)
		i8042_command(k, data[0]);
	else if (is_write)
		i8042_write_data(k, data[0]);
	else if (command_port)
		data[0] = i8042_read_status(k);
	else
		data[0] = i8042_read_data(k);
	pthread_mutex_unlock(&k->lock);

	for (uint32_t i = 1; i < len && !is_write; i++)
		data[i] = 0xff;
}

static void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data,
			  uint32_t len, bool is_write)
{
	i8042_io(opaque, false, data, len, is_write);
}

static void i8042_command_io(void *opaque, uint64_t offset, uint8_t *data,
			     uint32_t len, bool is_write)
{
	i8042_io(opaque, true, data, len, is_write);
}

int i8042_init(struct i8042 *k, struct power_sink power)
{
	int err;

	*k = (struct i8042){.power = power, .ctr = CTR_RESET};
	err = pthread_mutex_init(&k->lock, NULL);
	return -err;
}

int i8042_register(struct i8042 *k, struct bus *pio)
{
	int err;

	err = bus_register(pio, I8042_DATA_PORT, 1, "i8042", i8042_data_io, k);
	if (err)
		return err;
	return bus_register(pio, I8042_COMMAND_PORT, 1, "i8042",
			    i8042_command_io, k);
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}
