/* The per-service watch engine: see watch.h for the contract. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
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

/* The per-check arrays of a watch, allocated or adopted together. */
struct counts {
	unsigned *fails;
	unsigned *unknowns;
	unsigned *window_ok;
	char (*window_no_data)[RBD_DETAIL_MAX];
};

/* Free the arrays of k (NULL ones too). */
static void counts_free(struct counts *k)
{
	free(k->fails);
	free(k->unknowns);
	free(k->window_ok);
	free(k->window_no_data);
}

/* Zeroed arrays for n checks in *k (all NULL when n is 0). Returns 0 or
 * -ENOMEM, with nothing left allocated. */
static int counts_new(size_t n, struct counts *k)
{
	memset(k, 0, sizeof(*k));
	if (!n)
		return 0;
	k->fails = calloc(n, sizeof(*k->fails));
	k->unknowns = calloc(n, sizeof(*k->unknowns));
	k->window_ok = calloc(n, sizeof(*k->window_ok));
	k->window_no_data = calloc(n, sizeof(*k->window_no_data));
	if (!k->fails || !k->unknowns || !k->window_ok ||
	    !k->window_no_data) {
		counts_free(k);
		memset(k, 0, sizeof(*k));
		return -ENOMEM;
	}
	return 0;
}

/* Hand the arrays of k to w, which must own none. */
static void counts_adopt(struct rbd_watch *w, const struct counts *k)
{
	w->fails = k->fails;
	w->unknowns = k->unknowns;
	w->window_ok = k->window_ok;
	w->window_no_data = k->window_no_data;
}

struct rbd_watch *rbd_watch_new(const struct rbd_policy *policy)
{
	struct rbd_watch *w = calloc(1, sizeof(*w));
	struct counts k;

	if (!w)
		return NULL;
	w->state = RBD_STATE_IDLE;
	w->next_deploy_id = 1;
	w->n_checks = policy->n_checks;
	if (counts_new(w->n_checks, &k) < 0) {
		free(w);
		return NULL;
	}
	counts_adopt(w, &k);
	return w;
}

void rbd_watch_free(struct rbd_watch *w)
{
	if (!w)
		return;
	free(w->fails);
	free(w->unknowns);
	free(w->window_ok);
	free(w->window_no_data);
	free(w);
}

/* Zero every per-check counter and window tally. */
void rbd_watch_reset_counts(struct rbd_watch *w)
{
	size_t n = w->n_checks;

	if (w->fails)
		memset(w->fails, 0, n * sizeof(*w->fails));
	if (w->unknowns)
		memset(w->unknowns, 0, n * sizeof(*w->unknowns));
	if (w->window_ok)
		memset(w->window_ok, 0, n * sizeof(*w->window_ok));
	if (w->window_no_data)
		memset(w->window_no_data, 0, n * sizeof(*w->window_no_data));
}

/* Index of the check called name in p, or -1. */
static int check_index(const struct rbd_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_checks; i++)
		if (name && p->checks[i].name &&
		    strcmp(p->checks[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Adopt a reloaded policy, carrying the per-check counters over by check
 * name. */
int rbd_watch_set_policy(struct rbd_watch *w, const struct rbd_policy *old,
    const struct rbd_policy *new_policy)
{
	struct counts k, mine;

	if (counts_new(new_policy->n_checks, &k) < 0)
		return -ENOMEM;
	for (size_t i = 0; old && i < old->n_checks && i < w->n_checks; i++) {
		int j = check_index(new_policy, old->checks[i].name);

		if (j < 0)
			continue;
		k.fails[j] = w->fails[i];
		k.unknowns[j] = w->unknowns[i];
		k.window_ok[j] = w->window_ok[i];
		memcpy(k.window_no_data[j], w->window_no_data[i],
		    sizeof(k.window_no_data[j]));
	}
	mine = (struct counts){ w->fails, w->unknowns, w->window_ok,
	    w->window_no_data };
	counts_free(&mine);
	counts_adopt(w, &k);
	w->n_checks = new_policy->n_checks;
	return 0;
}

/* Index of v in a list of versions, or -1. */
static int list_find(char (*list)[RBD_VERSION_MAX + 1], size_t n,
    const char *v)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], v) == 0)
			return (int)i;
	return -1;
}

/* Take v out of a list of versions, if it is there. */
static void list_remove(char (*list)[RBD_VERSION_MAX + 1], size_t *n,
    const char *v)
{
	int i = list_find(list, *n, v);

	if (i < 0)
		return;
	memmove(list[i], list[i + 1], (*n - (size_t)i - 1) * sizeof(list[0]));
	(*n)--;
}

/* Copy a version (validated, so it fits) into a fixed buffer. */
static void copy_version(char *dst, const char *src)
{
	snprintf(dst, RBD_VERSION_MAX + 1, "%s", src);
}

/* Put v first in a list of at most max versions; the oldest falls off. */
static void list_push(char (*list)[RBD_VERSION_MAX + 1], size_t *n,
    size_t max, const char *v)
{
	list_remove(list, n, v);
	if (*n == max)
		(*n)--;
	memmove(list[1], list[0], *n * sizeof(list[0]));
	copy_version(list[0], v);
	(*n)++;
}

/* Whether v is marked bad in w. */
static bool is_bad(const struct rbd_watch *w, const char *v)
{
	for (size_t i = 0; i < w->n_bad; i++)
		if (strcmp(w->bad[i], v) == 0)
			return true;
	return false;
}

/* The newest known-good release that is neither live nor bad. */
const char *rbd_watch_rollback_target(const struct rbd_watch *w)
{
	for (size_t i = 0; i < w->n_good; i++)
		if (strcmp(w->good[i], w->live) != 0 && !is_bad(w, w->good[i]))
			return w->good[i];
	return NULL;
}

/* One step in the making. Everything is computed here and copied out only
 * when the event is accepted, so a refused event changes nothing. The
 * per-check arrays live on the heap, shared with the caller's watch: they
 * are changed only at commit, through counts_reset and cnt. */
struct ctx {
	const struct rbd_policy *p;
	const struct rbd_event *ev;
	uint64_t now;
	const struct rbd_watch *old;	/* the caller's watch, read-only */
	struct rbd_watch w;		/* the new state */
	struct rbd_step s;
	bool entered;			/* a state was (re-)entered */
	bool counts_reset;		/* at commit: zero every counter */
	struct {			/* at commit, when set: check i's */
		bool set;
		size_t i;
		unsigned fails, unknowns, window_ok;
		const char *no_data;	/* non-NULL: its window_no_data */
	} cnt;
	char *errbuf;
	size_t errlen;
};

/* Refuse the event: say why in errbuf and return err. */
static int refuse(struct ctx *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(struct ctx *c, int err, const char *fmt, ...)
{
	va_list ap;

	if (c->errbuf && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->errbuf, c->errlen, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* Whether a state has a window (probes running, a timer armed). */
static bool has_window(enum rbd_state s)
{
	return s == RBD_STATE_WATCHING || s == RBD_STATE_VERIFYING;
}

/* When the current state's window ends; UINT64_MAX without a window. */
static uint64_t window_end(const struct rbd_watch *w,
    const struct rbd_policy *p)
{
	uint64_t len;

	if (w->state == RBD_STATE_WATCHING)
		len = p->duration_usec;
	else if (w->state == RBD_STATE_VERIFYING)
		len = p->verify_usec;
	else
		return UINT64_MAX;
	return w->since + len < w->since ? UINT64_MAX : w->since + len;
}

/* Append an action of this type to the step; the caller fills the rest. */
static struct rbd_action *add_action(struct ctx *c, enum rbd_action_type t)
{
	struct rbd_action *a;

	assert(c->s.n_actions < RBD_STEP_ACTIONS_MAX);
	a = &c->s.actions[c->s.n_actions++];
	memset(a, 0, sizeof(*a));
	a->type = t;
	return a;
}

/* Record a release status change (a later one for the same release wins). */
static void set_status(struct ctx *c, const char *v,
    enum rbd_release_status st)
{
	struct rbd_release_update *u = NULL;

	for (size_t i = 0; i < c->s.n_updates && !u; i++)
		if (strcmp(c->s.updates[i].version, v) == 0)
			u = &c->s.updates[i];
	if (!u) {
		assert(c->s.n_updates < RBD_STEP_UPDATES_MAX);
		u = &c->s.updates[c->s.n_updates++];
		copy_version(u->version, v);
	}
	u->status = st;
}

/* v is known-good: first in good[], out of bad[]. */
static void push_good(struct ctx *c, const char *v)
{
	list_push(c->w.good, &c->w.n_good, RBD_WATCH_GOOD_MAX, v);
	list_remove(c->w.bad, &c->w.n_bad, v);
	set_status(c, v, RBD_RELEASE_GOOD);
}

/* v is bad: first in bad[], out of good[], never a rollback target. */
static void push_bad(struct ctx *c, const char *v)
{
	list_push(c->w.bad, &c->w.n_bad, RBD_WATCH_BAD_MAX, v);
	list_remove(c->w.good, &c->w.n_good, v);
	set_status(c, v, RBD_RELEASE_BAD);
}

/* Tell whoever waits on release v its verdict (the reason comes later). */
static struct rbd_action *notify(struct ctx *c, const char *v,
    enum rbd_verdict verdict)
{
	struct rbd_action *a = add_action(c, RBD_ACT_NOTIFY);

	copy_version(a->version, v);
	a->verdict = verdict;
	return a;
}

/* Start probing and arm the timer for the current state's window. */
static void arm_window(struct ctx *c)
{
	add_action(c, RBD_ACT_START_PROBES);
	add_action(c, RBD_ACT_SET_TIMER)->deadline = window_end(&c->w, c->p);
}

/* Leave the current state and enter to, with the actions both imply. */
static void enter(struct ctx *c, enum rbd_state to)
{
	if (has_window(c->w.state)) {
		add_action(c, RBD_ACT_STOP_PROBES);
		add_action(c, RBD_ACT_CANCEL_TIMER);
	}
	c->w.deploy_id = 0;	/* only a rollback in flight has one */
	if (to == RBD_STATE_IDLE || to == RBD_STATE_WATCHING) {
		c->w.target[0] = '\0';
		c->w.from[0] = '\0';
	}
	c->w.state = to;
	c->w.since = c->now;
	c->entered = true;
	if (has_window(to)) {
		c->counts_reset = true;
		c->cnt.set = false;
		arm_window(c);
	}
}

/* Give every RUN_DEPLOY and NOTIFY without a reason of its own this one. */
static void fill_reasons(struct ctx *c, const char *reason)
{
	for (size_t i = 0; i < c->s.n_actions; i++) {
		struct rbd_action *a = &c->s.actions[i];

		if ((a->type == RBD_ACT_RUN_DEPLOY ||
		    a->type == RBD_ACT_NOTIFY) && !a->reason[0])
			snprintf(a->reason, sizeof(a->reason), "%s", reason);
	}
}

/* Make the step a history record with this event name and reason. */
static void record(struct ctx *c, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void record(struct ctx *c, const char *event, const char *fmt, ...)
{
	va_list ap;

	c->s.record = true;
	c->s.event = event;
	va_start(ap, fmt);
	vsnprintf(c->s.reason, sizeof(c->s.reason), fmt, ap);
	va_end(ap);
	if (c->entered)
		memcpy(c->w.reason, c->s.reason, sizeof(c->w.reason));
	fill_reasons(c, c->s.reason);
}

/* s, or dflt when s is NULL or empty. */
static const char *text_or(const char *s, const char *dflt)
{
	return s && *s ? s : dflt;
}

/* Who asked, for a reason: the actor, or "an operator". */
static const char *who(const struct rbd_event *ev)
{
	return text_or(ev->actor, "an operator");
}

/* "from R to K", or "to K" when nothing was live. */
static const char *route(char *buf, size_t len, const char *from,
    const char *to)
{
	if (*from)
		snprintf(buf, len, "from %s to %s", from, to);
	else
		snprintf(buf, len, "to %s", to);
	return buf;
}

/* Run the deploy command for the rollback in w (target, from). */
static void run_deploy(struct ctx *c)
{
	struct rbd_action *a = add_action(c, RBD_ACT_RUN_DEPLOY);

	c->w.deploy_id = c->w.next_deploy_id++;
	copy_version(a->version, c->w.target);
	copy_version(a->from_version, c->w.from);
	a->deploy_id = c->w.deploy_id;
}

/* Roll back from the live release to k (the live release is already
 * marked bad by the caller); its waiter hears it when it was watched. */
static void start_rollback(struct ctx *c, const char *k)
{
	bool was_watching = c->w.state == RBD_STATE_WATCHING;
	char r[RBD_VERSION_MAX + 1];

	copy_version(r, c->w.live);
	enter(c, RBD_STATE_ROLLING_BACK);
	copy_version(c->w.target, k);
	copy_version(c->w.from, r);
	run_deploy(c);
	if (was_watching)
		notify(c, r, RBD_VERDICT_ROLLED_BACK);
}

/* The watched release is degraded (why): roll back, or hold without a
 * target. Never a second rollback: a degraded verification holds. */
static int degrade(struct ctx *c, const char *why)
{
	char r[RBD_VERSION_MAX + 1];
	const char *k;

	copy_version(r, c->w.live);
	if (c->w.state == RBD_STATE_VERIFYING) {
		enter(c, RBD_STATE_HELD);
		record(c, "degraded", "rolled back to %s, but %s is unhealthy "
		    "too: %s; holding, a person must decide", r, r, why);
		return 0;
	}
	push_bad(c, r);
	k = rbd_watch_rollback_target(&c->w);
	if (k) {
		char target[RBD_VERSION_MAX + 1];

		copy_version(target, k);
		start_rollback(c, target);
		record(c, "degraded", "%s; rolling back from %s to %s", why, r,
		    target);
		return 0;
	}
	enter(c, RBD_STATE_HELD);
	notify(c, r, RBD_VERDICT_HELD);
	record(c, "degraded", "%s; no known-good release to roll back to "
	    "(rollbackctl mark-good seeds one)", why);
	return 0;
}

/* No data on the live release (why): hold, for a person to decide, rather
 * than roll back or promote. Nothing says the release is bad, so it is not
 * marked bad; its waiter hears "held" when it was watched. */
static int hold_no_data(struct ctx *c, const char *why)
{
	bool was_watching = c->w.state == RBD_STATE_WATCHING;
	char r[RBD_VERSION_MAX + 1];

	copy_version(r, c->w.live);
	enter(c, RBD_STATE_HELD);
	if (was_watching)
		notify(c, r, RBD_VERDICT_HELD);
	record(c, "inconclusive", "%s", why);
	return 0;
}

/* What an unknown sample of chk counts as; a value out of range is the
 * default, inconclusive (held at worst, never a rollback). */
static enum rbd_no_data no_data_of(const struct rbd_check *chk)
{
	return (unsigned)chk->no_data < _RBD_NO_DATA_MAX ? chk->no_data :
	    RBD_NO_DATA_INCONCLUSIVE;
}

/* The number of unknown samples in a row that holds chk (0: the default). */
static unsigned inconclusive_after(const struct rbd_check *chk)
{
	return chk->inconclusive_after ? chk->inconclusive_after :
	    RBD_WATCH_INCONCLUSIVE_AFTER;
}

/* The first check with no_data inconclusive that had judged unknown samples
 * and no judged OK one in the whole window, or -1. */
static int window_no_data(const struct ctx *c)
{
	size_t n = c->old->n_checks < c->p->n_checks ? c->old->n_checks :
	    c->p->n_checks;

	for (size_t i = 0; i < n; i++)
		if (no_data_of(&c->p->checks[i]) == RBD_NO_DATA_INCONCLUSIVE &&
		    c->old->window_no_data[i][0] && !c->old->window_ok[i])
			return (int)i;
	return -1;
}

/* The window of watching or verifying has passed without degradation:
 * promote (or verify), unless a check had nothing but no data. */
static int window_passed(struct ctx *c)
{
	char d[RBD_DURATION_STR_MAX];
	char v[RBD_VERSION_MAX + 1];
	int nd = window_no_data(c);

	copy_version(v, c->w.live);
	if (nd >= 0) {
		char why[RBD_REASON_MAX];

		if (c->w.state == RBD_STATE_VERIFYING)
			snprintf(why, sizeof(why), "%s: no data during the "
			    "whole window (%.*s); not verifying the rollback "
			    "to %s on no data", c->p->checks[nd].name,
			    RBD_DETAIL_MAX - 1, c->old->window_no_data[nd], v);
		else
			snprintf(why, sizeof(why), "%s: no data during the "
			    "whole window (%.*s); not promoting on no data",
			    c->p->checks[nd].name, RBD_DETAIL_MAX - 1,
			    c->old->window_no_data[nd]);
		return hold_no_data(c, why);
	}
	if (c->w.state == RBD_STATE_VERIFYING) {
		rbd_duration_str(c->p->verify_usec, d, sizeof(d));
		enter(c, RBD_STATE_IDLE);
		record(c, "verified", "rollback to %s verified: healthy for %s",
		    v, d);
		return 0;
	}
	rbd_duration_str(c->p->duration_usec, d, sizeof(d));
	push_good(c, v);
	enter(c, RBD_STATE_IDLE);
	notify(c, v, RBD_VERDICT_PROMOTED);
	record(c, "promoted", "%s healthy for %s; now the known-good release",
	    v, d);
	return 0;
}

/* DEPLOYED: a hook announced a release; watch it afresh. */
static int on_deployed(struct ctx *c)
{
	const char *v = c->ev->version;
	char old[RBD_VERSION_MAX + 1];
	char d[RBD_DURATION_STR_MAX], wu[RBD_DURATION_STR_MAX];
	char by[RBD_ACTOR_MAX + 16] = "";
	bool superseded;

	if (c->w.state == RBD_STATE_ROLLING_BACK) {
		char rt[2 * RBD_VERSION_MAX + 16];

		return refuse(c, -EBUSY, "%s is rolling back %s; announce %s "
		    "again once the rollback has finished (rollbackctl status "
		    "%s)", c->p->service, route(rt, sizeof(rt), c->w.from,
		    c->w.target), v, c->p->service);
	}
	superseded = c->w.state == RBD_STATE_WATCHING &&
	    strcmp(c->w.live, v) != 0;
	copy_version(old, c->w.live);
	enter(c, RBD_STATE_WATCHING);
	copy_version(c->w.live, v);
	list_remove(c->w.bad, &c->w.n_bad, v);
	set_status(c, v, RBD_RELEASE_WATCHING);
	if (superseded) {
		set_status(c, old, RBD_RELEASE_SUPERSEDED);
		snprintf(notify(c, old, RBD_VERDICT_SUPERSEDED)->reason,
		    RBD_REASON_MAX, "%s announced before the watch of %s ended",
		    v, old);
	}
	if (c->ev->actor && *c->ev->actor)
		snprintf(by, sizeof(by), " by %.*s", RBD_ACTOR_MAX - 1,
		    c->ev->actor);
	record(c, "deployed", "%s announced%s; watching for %s (warm-up %s)",
	    v, by, rbd_duration_str(c->p->duration_usec, d, sizeof(d)),
	    rbd_duration_str(c->p->warmup_usec, wu, sizeof(wu)));
	return 0;
}

/* A failing sample of check i (prefix "no data: " for an unknown one under
 * no_data fail): count it, and degrade at fail_after. */
static int judge_failure(struct ctx *c, size_t i, const char *prefix,
    const char *detail)
{
	const struct rbd_check *chk = &c->p->checks[i];
	unsigned n = c->old->fails[i] + 1;
	char why[RBD_REASON_MAX];

	c->cnt.fails = n;
	c->cnt.unknowns = 0;
	if (n < chk->fail_after)
		return 0;
	if (n == 1)
		snprintf(why, sizeof(why), "%s: %s%.*s (fail_after %u)",
		    chk->name, prefix, RBD_DETAIL_MAX - 1, detail,
		    chk->fail_after);
	else
		snprintf(why, sizeof(why), "%s: %s%.*s for %u consecutive "
		    "samples (fail_after %u)", chk->name, prefix,
		    RBD_DETAIL_MAX - 1, detail, n, chk->fail_after);
	return degrade(c, why);
}

/* An unknown sample of check i under no_data inconclusive: count it,
 * remember it for the window, and hold at inconclusive_after. */
static int judge_unknown(struct ctx *c, size_t i, const char *detail)
{
	const struct rbd_check *chk = &c->p->checks[i];
	unsigned after = inconclusive_after(chk);
	unsigned n = c->old->unknowns[i] + 1;
	char why[RBD_REASON_MAX];

	c->cnt.unknowns = n;
	c->cnt.no_data = detail;
	if (n < after)
		return 0;
	if (n == 1)
		snprintf(why, sizeof(why), "%s: no data (%.*s); holding: a "
		    "person must decide (no_data: inconclusive, "
		    "inconclusive_after %u)", chk->name, RBD_DETAIL_MAX - 1,
		    detail, after);
	else
		snprintf(why, sizeof(why), "%s: no data for %u consecutive "
		    "samples (%.*s); holding: a person must decide (no_data: "
		    "inconclusive, inconclusive_after %u)", chk->name, n,
		    RBD_DETAIL_MAX - 1, detail, after);
	return hold_no_data(c, why);
}

/* SAMPLE: judged only in a window, after the warm-up, before its end. */
static int on_sample(struct ctx *c)
{
	size_t i = c->ev->check;

	if (!has_window(c->w.state))
		return 0;
	if (c->now >= window_end(&c->w, c->p))
		return window_passed(c);
	if (c->now < c->w.since || c->now - c->w.since < c->p->warmup_usec)
		return 0;
	/* Start from the check's counters as they are; a handler changes
	 * what the sample changes, and commit writes them back. */
	c->cnt.set = true;
	c->cnt.i = i;
	c->cnt.fails = c->old->fails[i];
	c->cnt.unknowns = c->old->unknowns[i];
	c->cnt.window_ok = c->old->window_ok[i];
	c->cnt.no_data = NULL;
	switch (c->ev->sample) {
	case RBD_SAMPLE_OK:
		c->cnt.fails = 0;
		c->cnt.unknowns = 0;
		if (c->cnt.window_ok < UINT_MAX)
			c->cnt.window_ok++;
		return 0;
	case RBD_SAMPLE_FAIL:
		return judge_failure(c, i, "", text_or(c->ev->detail,
		    "failed"));
	default:
		break;
	}
	/* Unknown: not healthy; what else is the check's to say. */
	switch (no_data_of(&c->p->checks[i])) {
	case RBD_NO_DATA_FAIL:
		return judge_failure(c, i, "no data: ",
		    text_or(c->ev->detail, "unknown"));
	case RBD_NO_DATA_IGNORE:
		c->cnt.set = false;
		return 0;
	default:
		return judge_unknown(c, i, text_or(c->ev->detail, "unknown"));
	}
}

/* TIMER: the window has passed. A timer that fires before the window's
 * end (the shell's timer clock is coarser than its sample clock) is armed
 * again for the end; one outside a window is stale and ignored. */
static int on_timer(struct ctx *c)
{
	struct rbd_action *a;

	if (!has_window(c->w.state))
		return 0;
	if (c->now >= window_end(&c->w, c->p))
		return window_passed(c);
	a = add_action(c, RBD_ACT_SET_TIMER);
	a->deadline = window_end(&c->w, c->p);
	return 0;
}

/* DEPLOY_DONE: the rollback's deploy command ended. */
static int on_deploy_done(struct ctx *c)
{
	const char *detail = text_or(c->ev->detail,
	    rbd_deploy_result_str(c->ev->deploy));
	char rt[2 * RBD_VERSION_MAX + 16];
	char k[RBD_VERSION_MAX + 1];

	if (c->w.state != RBD_STATE_ROLLING_BACK ||
	    c->ev->deploy_id != c->w.deploy_id)
		return 0;	/* stale: an earlier deploy, or none in flight */
	copy_version(k, c->w.target);
	route(rt, sizeof(rt), c->w.from, k);
	if (c->ev->deploy != RBD_DEPLOY_OK) {
		enter(c, RBD_STATE_HELD);
		record(c, "rollback-failed", "rollback %s failed: deploy "
		    "command %.*s", rt, RBD_DETAIL_MAX - 1, detail);
		return 0;
	}
	copy_version(c->w.live, k);
	enter(c, RBD_STATE_VERIFYING);
	if (*c->w.from)
		record(c, "rolled-back", "deployed %s (rollback from %s)", k,
		    c->w.from);
	else
		record(c, "rolled-back", "deployed %s (rollback)", k);
	return 0;
}

/* MARK_GOOD: an operator vouches for a release. */
static int on_mark_good(struct ctx *c)
{
	const char *v = c->ev->version;
	bool was_watching = c->w.state == RBD_STATE_WATCHING;

	push_good(c, v);
	if (strcmp(v, c->w.live) == 0 && (has_window(c->w.state) ||
	    c->w.state == RBD_STATE_HELD)) {
		enter(c, RBD_STATE_IDLE);
		if (was_watching)
			notify(c, v, RBD_VERDICT_PROMOTED);
	}
	record(c, "marked-good", "%s marked good by %.*s", v,
	    RBD_ACTOR_MAX - 1, who(c->ev));
	return 0;
}

/* MARK_BAD: an operator condemns a release; the live one is degraded. */
static int on_mark_bad(struct ctx *c)
{
	const char *v = c->ev->version;
	char why[RBD_REASON_MAX];

	push_bad(c, v);
	snprintf(why, sizeof(why), "marked bad by %.*s", RBD_ACTOR_MAX - 1,
	    who(c->ev));
	if (strcmp(v, c->w.live) == 0 && has_window(c->w.state))
		return degrade(c, why);
	record(c, "marked-bad", "%s %s", v, why);
	return 0;
}

/* ROLLBACK [V]: an operator asks for a rollback, to V or the target. */
static int on_rollback(struct ctx *c)
{
	const char *v = c->ev->version;
	char k[RBD_VERSION_MAX + 1];

	if (c->w.state == RBD_STATE_ROLLING_BACK) {
		char rt[2 * RBD_VERSION_MAX + 16];

		return refuse(c, -EBUSY, "already rolling back %s",
		    route(rt, sizeof(rt), c->w.from, c->w.target));
	}
	if (v && is_bad(&c->w, v))
		return refuse(c, -EINVAL, "%s is marked bad; mark it good "
		    "first to roll back to it", v);
	if (v && strcmp(v, c->w.live) == 0)
		return refuse(c, -EALREADY, "%s is already live", v);
	if (!v && !(v = rbd_watch_rollback_target(&c->w)))
		return refuse(c, -ENOENT,
		    "no known-good release to roll back to");
	copy_version(k, v);
	if (*c->w.live)
		push_bad(c, c->w.live);
	start_rollback(c, k);
	record(c, "rollback-requested", "rollback to %s requested by %.*s", k,
	    RBD_ACTOR_MAX - 1, who(c->ev));
	return 0;
}

/* Whether an event of this type carries a version: 0 no, 1 required,
 * 2 optional. */
static const unsigned char version_use[_RBD_EV_MAX] = {
	[RBD_EV_DEPLOYED] = 1,
	[RBD_EV_MARK_GOOD] = 1,
	[RBD_EV_MARK_BAD] = 1,
	[RBD_EV_ROLLBACK] = 2,
};

/* Refuse an event that is malformed whatever the state. */
static int validate(struct ctx *c)
{
	const struct rbd_event *ev = c->ev;
	const char *why = NULL;
	size_t n;

	if ((unsigned)ev->type >= _RBD_EV_MAX)
		return refuse(c, -EINVAL, "unknown event type %d",
		    (int)ev->type);
	if ((version_use[ev->type] == 1 || (version_use[ev->type] == 2 &&
	    ev->version)) && rbd_version_check(ev->version, &why) < 0)
		return refuse(c, -EINVAL, "invalid release version: it %s",
		    why ? why : "is not valid");
	n = c->old->n_checks < c->p->n_checks ? c->old->n_checks :
	    c->p->n_checks;
	if (ev->type == RBD_EV_SAMPLE && ev->check >= n)
		return refuse(c, -EINVAL, "no check #%zu", ev->check);
	if (ev->type == RBD_EV_SAMPLE &&
	    (unsigned)ev->sample >= _RBD_SAMPLE_RESULT_MAX)
		return refuse(c, -EINVAL, "unknown sample result %d",
		    (int)ev->sample);
	if (ev->type == RBD_EV_DEPLOY_DONE &&
	    (unsigned)ev->deploy >= _RBD_DEPLOY_RESULT_MAX)
		return refuse(c, -EINVAL, "unknown deploy result %d",
		    (int)ev->deploy);
	return 0;
}

/* The handler for each event type; each returns 0 or a refusal. */
static int (*const handlers[_RBD_EV_MAX])(struct ctx *) = {
	[RBD_EV_DEPLOYED] = on_deployed,
	[RBD_EV_SAMPLE] = on_sample,
	[RBD_EV_TIMER] = on_timer,
	[RBD_EV_DEPLOY_DONE] = on_deploy_done,
	[RBD_EV_MARK_GOOD] = on_mark_good,
	[RBD_EV_MARK_BAD] = on_mark_bad,
	[RBD_EV_ROLLBACK] = on_rollback,
};

/* Start a step from w as it is now. */
static void ctx_init(struct ctx *c, struct rbd_watch *w,
    const struct rbd_policy *p, uint64_t now)
{
	memset(c, 0, sizeof(*c));
	c->p = p;
	c->now = now;
	c->old = w;
	memcpy(&c->w, w, sizeof(c->w));
	c->s.from = w->state;
	c->s.to = w->state;
}

/* Copy the accepted step out: counters, then the state and the step. */
static void commit(struct ctx *c, struct rbd_watch *w,
    struct rbd_step *ret_step)
{
	size_t i = c->cnt.i;

	if (c->counts_reset)
		rbd_watch_reset_counts(w);
	if (c->cnt.set) {
		w->fails[i] = c->cnt.fails;
		w->unknowns[i] = c->cnt.unknowns;
		w->window_ok[i] = c->cnt.window_ok;
		if (c->cnt.no_data)
			snprintf(w->window_no_data[i],
			    sizeof(w->window_no_data[i]), "%s",
			    c->cnt.no_data);
	}
	c->s.to = c->w.state;
	memcpy(w, &c->w, sizeof(*w));
	*ret_step = c->s;
}

/* Advance w by one event: validate, handle, and commit only on success. */
int rbd_watch_step(struct rbd_watch *w, const struct rbd_policy *policy,
    const struct rbd_event *ev, uint64_t now, struct rbd_step *ret_step,
    char *errbuf, size_t errlen)
{
	struct ctx c;
	int r;

	ctx_init(&c, w, policy, now);
	c.ev = ev;
	c.errbuf = errbuf;
	c.errlen = errlen;
	r = validate(&c);
	if (r < 0)
		return r;
	r = handlers[ev->type](&c);
	if (r < 0)
		return r;
	commit(&c, w, ret_step);
	return 0;
}

/* After a restart: the actions that carry on what w was doing. */
void rbd_watch_resume(struct rbd_watch *w, const struct rbd_policy *policy,
    uint64_t now, struct rbd_step *ret_step)
{
	struct ctx c;

	ctx_init(&c, w, policy, now);
	if (has_window(w->state))
		arm_window(&c);
	else if (w->state == RBD_STATE_ROLLING_BACK)
		run_deploy(&c);
	fill_reasons(&c, w->reason);
	commit(&c, w, ret_step);
}
