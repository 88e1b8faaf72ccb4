/* Reading a systemd unit's state over the bus, once per interval, for a
 * unit check (lib/unitcheck.h judges what is read).
 *
 * Each reading is asynchronous on the shared bus (bus.h): the manager's
 * ListUnitsByNames for the unit's LoadState, ActiveState and SubState
 * (which loads a unit systemd does not know yet, so a missing one reads
 * "not-found" rather than an error), then, for a service, the Service
 * interface's NRestarts. A reading not finished within the timeout, a bus
 * error, or no bus at all is a reading with an error, which the caller
 * turns into an unknown sample (no data).
 *
 * Its ticks are counted with the prober's (probe_http.h, rbd_sched): in
 * the schedule's samples, lateness, late, skipped and missed ticks, and
 * overload episodes. A tick while a reading is still running is skipped,
 * and a tick that fires late reads nothing: either is a reading with an
 * error (-EBUSY "skipped: previous probe still running", -ETIME "late:
 * started 1.2s after its time (rollbackd cannot keep its schedule)"),
 * delivered from the tick itself. A tick that finds the last reading not
 * yet delivered (within one loop iteration) is counted as skipped only.
 *
 * The first reading starts at the next loop iteration after
 * rbd_unit_reader_new, then one per interval. The callback is called from
 * the loop, never from within a function of this file or from inside a
 * bus callback, so it may free the reader. */
#ifndef RBD_PROBE_UNIT_H
#define RBD_PROBE_UNIT_H

#include <stdint.h>

#include "unitcheck.h"

struct event_base;
struct rbd_bus;
struct rbd_prober;
struct rbd_unit_reader;

struct rbd_unit_reading {
	uint64_t started;		/* CLOCK_MONOTONIC usec: when it was asked */
	int error;			/* 0, or -errno: no reading */
	const char *detail;		/* with error: why, for status */
	const struct rbd_unit_props *props;	/* without error */
};

/* Valid only during the call. */
typedef void (*rbd_unit_reading_cb)(void *arg,
    const struct rbd_unit_reading *r);

/* A reader of unit (copied) every interval_usec on base, over bus (NULL:
 * no bus; every reading says so), its schedule counted in prober's (NULL:
 * nowhere). Returns 0 and the reader in *ret, or -EINVAL / -ENOMEM. */
int rbd_unit_reader_new(struct event_base *base, struct rbd_bus *bus,
    struct rbd_prober *prober, const char *unit, uint64_t interval_usec,
    uint64_t timeout_usec, rbd_unit_reading_cb cb, void *arg,
    struct rbd_unit_reader **ret);
/* Cancels a reading in flight; its callback is not called. NULL is fine. */
void rbd_unit_reader_free(struct rbd_unit_reader *u);

#endif
