/* Judging a systemd unit's state, for a unit check: is the unit running,
 * and has it been restarted automatically (Restart=) since the watch
 * began? A release that crash-loops under Restart= may answer its health
 * endpoint between crashes; its unit's NRestarts does not lie.
 *
 * Pure: the shell (daemon/probe_unit.c) reads the unit's properties over
 * the bus and passes them in; the judge remembers, in a struct
 * rbd_unit_base the shell keeps per watch, the restart count at the first
 * sample. systemd usually resets NRestarts when a unit is started by hand
 * (the deploy's "systemctl restart"; not when the restart comes while the
 * unit waits out RestartSec=), so the count is taken relative to the
 * first sample, and a count lower than the base is a new base, not a
 * negative growth. */
#ifndef RBD_UNITCHECK_H
#define RBD_UNITCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "sample.h"

#define RBD_UNIT_STATE_MAX 32

/* What the bus said of a unit. */
struct rbd_unit_props {
	char load_state[RBD_UNIT_STATE_MAX];	/* "loaded", "not-found", ... */
	char active_state[RBD_UNIT_STATE_MAX];	/* "active", "failed", ... */
	char sub_state[RBD_UNIT_STATE_MAX];	/* "running", "auto-restart", ... */
	bool has_restarts;			/* a service: NRestarts is known */
	uint32_t n_restarts;
};

/* The restart count the watch began with. Zero it when a watch (or a
 * verification) begins. */
struct rbd_unit_base {
	bool set;
	uint32_t n_restarts;
};

/* Judge one reading: OK while the unit is loaded, active (or reloading)
 * and restarted at most max_restarts times since the base; FAIL
 * otherwise. The first reading of a watch sets the base. detail gets a
 * line a person reads in status: "checkout.service: active (running), 0
 * restarts since the watch began" or "checkout.service restarted 3 times
 * since the watch began (max_restarts 0); activating (auto-restart)". */
enum rbd_sample_result rbd_unit_judge(const struct rbd_unit_probe *probe,
    const struct rbd_unit_props *now, struct rbd_unit_base *base,
    char *detail, size_t len);

#endif
