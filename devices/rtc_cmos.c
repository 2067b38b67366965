/*
 * CMOS RTC: the index/data port pair, time registers computed from the
 * host clock, registers A-D and plain CMOS memory (MC146818A datasheet).
 */
#include "devices/rtc_cmos.h"

#include "vmm/log.h"

#include <errno.h>
#include <string.h>

#define PORT_INDEX 0
#define PORT_DATA  1

#define INDEX_NMI_MASK 0x80 /* the index port's top bit gates NMI */

/* Register numbers. */
#define REG_SECONDS      0x00
#define REG_MINUTES      0x02
#define REG_HOURS        0x04
#define REG_DAY_OF_WEEK  0x06
#define REG_DAY_OF_MONTH 0x07
#define REG_MONTH        0x08
#define REG_YEAR         0x09
#define REG_A            0x0a
#define REG_B            0x0b
#define REG_C            0x0c
#define REG_D            0x0d
#define REG_CENTURY      0x32 /* where the ACPI FADT points, by convention */

#define A_UIP     0x80 /* update in progress: read-only */
#define A_DV_32K  0x20 /* 32.768 kHz time base */
#define A_RS_1024 0x06 /* 1024 Hz periodic rate */

#define B_24H    0x02 /* 24-hour mode */
#define B_BINARY 0x04 /* data mode: binary rather than BCD */

#define D_VRT 0x80 /* valid RAM and time: the battery is good */

#define HOURS_PM 0x80 /* 12-hour mode: afternoon */

static time_t rtc_host_clock(void *ctx)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static bool rtc_is_time_reg(uint8_t reg)
{
	return reg == REG_SECONDS || reg == REG_MINUTES || reg == REG_HOURS ||
	       (reg >= REG_DAY_OF_WEEK && reg <= REG_YEAR) ||
	       reg == REG_CENTURY;
}

/* A value from 0 to 99 in the data mode register B selects. */
static uint8_t rtc_encode(const struct rtc_cmos *r, unsigned int val)
{
	if (r->ram[REG_B] & B_BINARY)
		return (uint8_t)val;
	return (uint8_t)((val / 10) << 4 | val % 10);
}

static uint8_t rtc_encode_hours(const struct rtc_cmos *r, int hour)
{
	int hour12;

	if (r->ram[REG_B] & B_24H)
		return rtc_encode(r, (unsigned int)hour);

	/* 12-hour mode: 1 to 12, midnight and noon are 12. */
	hour12 = hour % 12 ? hour % 12 : 12;
	return rtc_encode(r, (unsigned int)hour12) |
	       (hour >= 12 ? HOURS_PM : 0);
}

static uint8_t rtc_read_time(const struct rtc_cmos *r, uint8_t reg)
{
	time_t now = r->clock(r->clock_ctx);
	struct tm tm;

	if (!gmtime_r(&now, &tm))
		return 0;

	switch (reg) {
	case REG_SECONDS:
		return rtc_encode(r, (unsigned int)tm.tm_sec);
	case REG_MINUTES:
		return rtc_encode(r, (unsigned int)tm.tm_min);
	case REG_HOURS:
		return rtc_encode_hours(r, tm.tm_hour);
	case REG_DAY_OF_WEEK:
		return rtc_encode(r, (unsigned int)tm.tm_wday + 1); /* Sun 1 */
	case REG_DAY_OF_MONTH:
		return rtc_encode(r, (unsigned int)tm.tm_mday);
	case REG_MONTH:
		return rtc_encode(r, (unsigned int)tm.tm_mon + 1);
	case REG_YEAR:
		return rtc_encode(r, (unsigned int)(tm.tm_year + 1900) % 100);
	default: /* REG_CENTURY */
		return rtc_encode(r, (unsigned int)(tm.tm_year + 1900) / 100);
	}
}

static uint8_t rtc_read_reg(struct rtc_cmos *r, uint8_t reg)
{
	if (rtc_is_time_reg(reg))
		return rtc_read_time(r, reg);
	switch (reg) {
	case REG_A:
		return r->ram[REG_A] & ~A_UIP;
	case REG_C:
		return 0; /* no interrupt flags: nothing ever fires */
	case REG_D:
		return D_VRT;
	default:
		return r->ram[reg];
	}
}

static void rtc_write_reg(struct rtc_cmos *r, uint8_t reg, uint8_t val)
{
	if (rtc_is_time_reg(reg)) {
		if (!r->warned_time_write)
			log_debug("rtc: guest writes to the time registers "
				  "are ignored (first: 0x%02x = 0x%02x)",
				  reg, val);
		r->warned_time_write = true;
		return;
	}
	switch (reg) {
	case REG_A:
		r->ram[REG_A] = val & ~A_UIP;
		break;
	case REG_C:
	case REG_D:
		break; /* read-only */
	default:
		r->ram[reg] = val;
		break;
	}
}

/*
 * Both ports are one byte wide; a wider access reaches the following
 * ports byte by byte, and bytes past the pair read as all ones.
 */
static void rtc_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write)
{
	struct rtc_cmos *r = opaque;

	pthread_mutex_lock(&r->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t port = offset + i;

		if (port == PORT_INDEX && is_write)
			r->index = data[i] & ~INDEX_NMI_MASK;
		else if (port == PORT_DATA && is_write)
			rtc_write_reg(r, r->index, data[i]);
		else if (port == PORT_DATA)
			data[i] = rtc_read_reg(r, r->index);
		else if (!is_write)
			data[i] = 0xff; /* the index port is write-only */
	}
	pthread_mutex_unlock(&r->lock);
}

int rtc_cmos_init(struct rtc_cmos *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	err = pthread_mutex_init(&r->lock, NULL);
	if (err)
		return -err;

	r->clock = rtc_host_clock;
	r->ram[REG_A] = A_DV_32K | A_RS_1024;
	r->ram[REG_B] = B_24H;
	return 0;
}

void rtc_cmos_set_clock(struct rtc_cmos *r, rtc_cmos_clock_fn fn, void *ctx)
{
	pthread_mutex_lock(&r->lock);
	r->clock = fn ? fn : rtc_host_clock;
	r->clock_ctx = ctx;
	pthread_mutex_unlock(&r->lock);
}

int rtc_cmos_register(struct rtc_cmos *r, struct bus *pio, uint16_t base)
{
	return bus_register(pio, base, RTC_CMOS_NR_PORTS, "rtc", rtc_io, r);
}

void rtc_cmos_destroy(struct rtc_cmos *r)
{
	pthread_mutex_destroy(&r->lock);
}
