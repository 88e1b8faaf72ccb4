/* The shell's clocks, and durations as libevent wants them. */
#ifndef RBD_CLOCK_H
#define RBD_CLOCK_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include "duration.h"

/* Clock id's time in usec. */
static inline uint64_t rbd_clock_usec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * RBD_USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* CLOCK_MONOTONIC in usec: what timeouts and durations are measured on. */
static inline uint64_t rbd_mono_usec(void)
{
	return rbd_clock_usec(CLOCK_MONOTONIC);
}

/* usec as a struct timeval, for event_add and evtimer_add. */
static inline struct timeval rbd_usec_tv(uint64_t usec)
{
	struct timeval tv = {
		.tv_sec = (time_t)(usec / RBD_USEC_PER_SEC),
		.tv_usec = (suseconds_t)(usec % RBD_USEC_PER_SEC),
	};

	return tv;
}

#endif
