/*
 * The wall clock, for what is stored or shown as a date (history rows, sessions, handshakes);
 * timers and deadlines run on the loop's monotonic clock instead.
 */
#ifndef PL_CLOCK_H
#define PL_CLOCK_H

#include <uv.h>

/* Unix time in milliseconds. */
static inline long long pl_wall_ms(void)
{
	uv_timeval64_t tv;
	uv_gettimeofday(&tv);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

#endif
