/* The per-service watch engine: see watch.h for the contract. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch.h"

/* Look s up in a table of names indexed by enum value. */
static int name_lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], s) == 0)
			return i;
	return -EINVAL;
}

#define NAME_TABLE(type, prefix, max, ...)					\
	static const char *const prefix##_names[max] = { __VA_ARGS__ };		\
	const char *prefix##_str(enum type v)					\
	{									\
		return (unsigned)v < (unsigned)(max) && prefix##_names[v] ?	\
		    prefix##_names[v] : "unknown";				\
	}

NAME_TABLE(rbd_state, rbd_state, _RBD_STATE_MAX,
    [RBD_STATE_IDLE] = "idle",
    [RBD_STATE_WATCHING] = "watching",
    [RBD_STATE_ROLLING_BACK] = "rolling_back",
    [RBD_STATE_VERIFYING] = "verifying",
    [RBD_STATE_HELD] = "held")

NAME_TABLE(rbd_release_status, rbd_release_status, _RBD_RELEASE_STATUS_MAX,
    [RBD_RELEASE_WATCHING] = "watching",
    [RBD_RELEASE_GOOD] = "good",
    [RBD_RELEASE_BAD] = "bad",
    [RBD_RELEASE_SUPERSEDED] = "superseded")

NAME_TABLE(rbd_sample_result, rbd_sample_result, _RBD_SAMPLE_RESULT_MAX,
    [RBD_SAMPLE_OK] = "ok",
    [RBD_SAMPLE_FAIL] = "fail",
    [RBD_SAMPLE_UNKNOWN] = "unknown")

NAME_TABLE(rbd_deploy_result, rbd_deploy_result, _RBD_DEPLOY_RESULT_MAX,
    [RBD_DEPLOY_OK] = "ok",
    [RBD_DEPLOY_FAILED] = "failed",
    [RBD_DEPLOY_TIMED_OUT] = "timed out")

NAME_TABLE(rbd_event_type, rbd_event_type, _RBD_EV_MAX,
    [RBD_EV_DEPLOYED] = "deployed",
    [RBD_EV_SAMPLE] = "sample",
    [RBD_EV_TIMER] = "timer",
    [RBD_EV_DEPLOY_DONE] = "deploy-done",
    [RBD_EV_MARK_GOOD] = "mark-good",
    [RBD_EV_MARK_BAD] = "mark-bad",
    [RBD_EV_ROLLBACK] = "rollback")

NAME_TABLE(rbd_verdict, rbd_verdict, _RBD_VERDICT_MAX,
    [RBD_VERDICT_PROMOTED] = "promoted",
    [RBD_VERDICT_ROLLED_BACK] = "rolled_back",
    [RBD_VERDICT_HELD] = "held",
    [RBD_VERDICT_SUPERSEDED] = "superseded")

NAME_TABLE(rbd_action_type, rbd_action_type, _RBD_ACT_MAX,
    [RBD_ACT_START_PROBES] = "start-probes",
    [RBD_ACT_STOP_PROBES] = "stop-probes",
    [RBD_ACT_RUN_DEPLOY] = "run-deploy",
    [RBD_ACT_SET_TIMER] = "set-timer",
    [RBD_ACT_CANCEL_TIMER] = "cancel-timer",
    [RBD_ACT_NOTIFY] = "notify")

int rbd_state_from_str(const char *s, enum rbd_state *ret)
{
	int r = name_lookup(rbd_state_names, _RBD_STATE_MAX, s);

	if (r < 0)
		return r;
	*ret = (enum rbd_state)r;
	return 0;
}

int rbd_release_status_from_str(const char *s, enum rbd_release_status *ret)
{
	int r = name_lookup(rbd_release_status_names, _RBD_RELEASE_STATUS_MAX, s);

	if (r < 0)
		return r;
	*ret = (enum rbd_release_status)r;
	return 0;
}

struct rbd_watch *rbd_watch_new(const struct rbd_policy *policy)
{
	struct rbd_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->state = RBD_STATE_IDLE;
	w->next_deploy_id = 1;
	w->n_checks = policy->n_checks;
	if (w->n_checks) {
		w->fails = calloc(w->n_checks, sizeof(*w->fails));
		if (!w->fails) {
			free(w);
			return NULL;
		}
	}
	return w;
}

void rbd_watch_free(struct rbd_watch *w)
{
	if (!w)
		return;
	free(w->fails);
	free(w);
}

/* TODO(watch helper): rbd_watch_set_policy, rbd_watch_step,
 * rbd_watch_resume, rbd_watch_rollback_target. */
