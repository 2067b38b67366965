/*
 * The MC146818-style CMOS real-time clock at ports 0x70 (index) and 0x71
 * (data). It reports the host's UTC time, read at each access, in the
 * format register B asks for.
 *
 * Contract: rtc_cmos_init(), optionally rtc_cmos_set_clock(), then
 * rtc_cmos_register() before the first vCPU runs; rtc_cmos_destroy()
 * after the vCPUs have stopped.
 *
 * Left out: writes to the time and date registers are ignored (the guest
 * cannot set the clock; its own clock is its business), the alarm, the
 * periodic and update interrupts (no IRQ 8; register C always reads 0),
 * the update-in-progress bit (always 0, so a guest reading across a second
 * boundary can see a torn time, as it could on hardware if it ignored
 * UIP), and the BIOS memory-size bytes (0x30/0x31, 0x34/0x35, 0x5b-0x5d),
 * which read as 0 like the rest of the 128 bytes of CMOS memory.
 */
#ifndef MINNOW_RTC_CMOS_H
#define MINNOW_RTC_CMOS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "devices/bus.h"

#define RTC_CMOS_NR_PORTS  2 /* index, data */
#define RTC_CMOS_RAM_BYTES 128

/* Returns the current time as seconds since the epoch, UTC. */
typedef time_t (*rtc_cmos_clock_fn)(void *ctx);

struct rtc_cmos {
	pthread_mutex_t lock;
	uint8_t index; /* selected register, without the NMI-mask bit */
	uint8_t ram[RTC_CMOS_RAM_BYTES]; /* registers A, B and CMOS memory */
	rtc_cmos_clock_fn clock;
	void *clock_ctx;
	bool warned_time_write;
};

/* Resets the RTC to 24-hour BCD mode. Returns 0 or a negative errno. */
int rtc_cmos_init(struct rtc_cmos *r);

/*
 * Replaces the time source (the host's CLOCK_REALTIME by default) with
 * fn(ctx); fn NULL restores the default. For tests.
 */
void rtc_cmos_set_clock(struct rtc_cmos *r, rtc_cmos_clock_fn fn, void *ctx);

/* Claims ports base and base + 1. Returns 0 or bus_register()'s errno. */
int rtc_cmos_register(struct rtc_cmos *r, struct bus *pio, uint16_t base);

void rtc_cmos_destroy(struct rtc_cmos *r);

#endif
