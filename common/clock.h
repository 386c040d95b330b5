/* clock.h: the monotonic clock in milliseconds, for timeouts and
 * deadlines (never for timestamps that leave the process). */
#ifndef OBJFS_CLOCK_H
#define OBJFS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The monotonic clock in nanoseconds (deadlines of common/workq.h). */
static inline int64_t clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
