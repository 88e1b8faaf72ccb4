/* Judging a systemd unit's state: see unitcheck.h. */
#include <stdio.h>
#include <string.h>

#include "unitcheck.h"

/* Whether a unit in this ActiveState is up: "reloading" is a running
 * unit re-reading its configuration. */
static bool state_up(const char *active)
{
	return strcmp(active, "active") == 0 || strcmp(active, "reloading") == 0;
}

enum rbd_sample_result rbd_unit_judge(const struct rbd_unit_probe *probe,
    const struct rbd_unit_props *now, struct rbd_unit_base *base,
    char *detail, size_t len)
{
	uint32_t grown = 0;
	char state[2 * RBD_UNIT_STATE_MAX + 4];

	if (strcmp(now->load_state, "loaded") != 0) {
		snprintf(detail, len, "%s is not loaded: %s", probe->unit,
		    now->load_state[0] ? now->load_state : "no load state");
		return RBD_SAMPLE_FAIL;
	}
	if (now->has_restarts) {
		if (!base->set || now->n_restarts < base->n_restarts) {
			base->set = true;
			base->n_restarts = now->n_restarts;
		}
		grown = now->n_restarts - base->n_restarts;
	}
	snprintf(state, sizeof(state), "%s (%s)", now->active_state,
	    now->sub_state[0] ? now->sub_state : "-");
	if (grown > probe->max_restarts) {
		snprintf(detail, len, "%s restarted %u time%s since the watch "
		    "began (max_restarts %u); %s", probe->unit, grown,
		    grown == 1 ? "" : "s", probe->max_restarts, state);
		return RBD_SAMPLE_FAIL;
	}
	if (!state_up(now->active_state)) {
		snprintf(detail, len, "%s is %s", probe->unit, state);
		return RBD_SAMPLE_FAIL;
	}
	if (now->has_restarts)
		snprintf(detail, len, "%s: %s, %u restart%s since the watch "
		    "began", probe->unit, state, grown, grown == 1 ? "" : "s");
	else
		snprintf(detail, len, "%s: %s", probe->unit, state);
	return RBD_SAMPLE_OK;
}
