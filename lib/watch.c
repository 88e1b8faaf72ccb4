/* The per-service watch engine: see watch.h for the contract. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duration.h"
#include "watch.h"

/* Look s up in a table of names indexed by enum value. */
static int name_lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (s && names[i] && strcmp(names[i], s) == 0)
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
    [RBD_STATE_HELD] = "held",
    [RBD_STATE_REMEDYING] = "remedying",
    [RBD_STATE_DRILLING] = "drilling")

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
    [RBD_EV_ROLLBACK] = "rollback",
    [RBD_EV_GUARD_SAMPLE] = "guard-sample",
    [RBD_EV_PAUSE] = "pause",
    [RBD_EV_RESUME] = "resume",
    [RBD_EV_REMEDY_DONE] = "remedy-done",
    [RBD_EV_DRILL] = "drill",
    [RBD_EV_DRILL_ABORT] = "drill-abort")

NAME_TABLE(rbd_verdict, rbd_verdict, _RBD_VERDICT_MAX,
    [RBD_VERDICT_PROMOTED] = "promoted",
    [RBD_VERDICT_ROLLED_BACK] = "rolled_back",
    [RBD_VERDICT_HELD] = "held",
    [RBD_VERDICT_SUPERSEDED] = "superseded",
    [RBD_VERDICT_DRILL_PASSED] = "drill_passed",
    [RBD_VERDICT_DRILL_FAILED] = "drill_failed",
    [RBD_VERDICT_DRILL_ABORTED] = "drill_aborted")

NAME_TABLE(rbd_action_type, rbd_action_type, _RBD_ACT_MAX,
    [RBD_ACT_START_PROBES] = "start-probes",
    [RBD_ACT_STOP_PROBES] = "stop-probes",
    [RBD_ACT_RUN_DEPLOY] = "run-deploy",
    [RBD_ACT_SET_TIMER] = "set-timer",
    [RBD_ACT_CANCEL_TIMER] = "cancel-timer",
    [RBD_ACT_NOTIFY] = "notify",
    [RBD_ACT_RUN_MIGRATION] = "run-migration",
    [RBD_ACT_RUN_REMEDY] = "run-remedy")

NAME_TABLE(rbd_migration, rbd_migration, _RBD_MIGRATION_MAX,
    [RBD_MIGRATION_NONE] = "none",
    [RBD_MIGRATION_REVERSIBLE] = "reversible",
    [RBD_MIGRATION_IRREVERSIBLE] = "irreversible")

NAME_TABLE(rbd_drill_phase, rbd_drill_phase, _RBD_DRILL_PHASE_MAX,
    [RBD_DRILL_NONE] = "none",
    [RBD_DRILL_BACK] = "back",
    [RBD_DRILL_VERIFY_BACK] = "verify-back",
    [RBD_DRILL_FORWARD] = "forward",
    [RBD_DRILL_VERIFY_FORWARD] = "verify-forward")

NAME_TABLE(rbd_drill_result, rbd_drill_result, _RBD_DRILL_RESULT_MAX,
    [RBD_DRILL_RESULT_NONE] = "none",
    [RBD_DRILL_PASSED] = "passed",
    [RBD_DRILL_FAILED] = "failed",
    [RBD_DRILL_ABORTED] = "aborted")

NAME_TABLE(rbd_drill_leg_state, rbd_drill_leg_state, _RBD_LEG_STATE_MAX,
    [RBD_LEG_PENDING] = "pending",
    [RBD_LEG_DEPLOY_FAILED] = "deploy-failed",
    [RBD_LEG_VERIFYING] = "verifying",
    [RBD_LEG_UNHEALTHY] = "unhealthy",
    [RBD_LEG_VERIFIED] = "verified",
    [RBD_LEG_CUT] = "cut")

int rbd_drill_phase_from_str(const char *s, enum rbd_drill_phase *ret)
{
	int r = name_lookup(rbd_drill_phase_names, _RBD_DRILL_PHASE_MAX, s);

	if (r < 0)
		return r;
	*ret = (enum rbd_drill_phase)r;
	return 0;
}

int rbd_drill_result_from_str(const char *s, enum rbd_drill_result *ret)
{
	int r = name_lookup(rbd_drill_result_names, _RBD_DRILL_RESULT_MAX, s);

	if (r < 0)
		return r;
	*ret = (enum rbd_drill_result)r;
	return 0;
}

int rbd_drill_leg_state_from_str(const char *s,
    enum rbd_drill_leg_state *ret)
{
	int r = name_lookup(rbd_drill_leg_state_names, _RBD_LEG_STATE_MAX, s);

	if (r < 0)
		return r;
	*ret = (enum rbd_drill_leg_state)r;
	return 0;
}

int rbd_state_from_str(const char *s, enum rbd_state *ret)
{
	int r = name_lookup(rbd_state_names, _RBD_STATE_MAX, s);

	if (r < 0)
		return r;
	*ret = (enum rbd_state)r;
	return 0;
}

int rbd_migration_from_str(const char *s, enum rbd_migration *ret)
{
	int r = name_lookup(rbd_migration_names, _RBD_MIGRATION_MAX, s);

	if (r < 0)
		return r;
	*ret = (enum rbd_migration)r;
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

/* The per-guard arrays of a watch, the same way. */
struct guards {
	unsigned *fails;
	uint64_t *since_wall;
	char (*detail)[RBD_DETAIL_MAX];
};

/* Free the arrays of g (NULL ones too). */
static void guards_free(struct guards *g)
{
	free(g->fails);
	free(g->since_wall);
	free(g->detail);
}

/* Zeroed arrays for n guards in *g (all NULL when n is 0). Returns 0 or
 * -ENOMEM, with nothing left allocated. */
static int guards_new(size_t n, struct guards *g)
{
	memset(g, 0, sizeof(*g));
	if (!n)
		return 0;
	g->fails = calloc(n, sizeof(*g->fails));
	g->since_wall = calloc(n, sizeof(*g->since_wall));
	g->detail = calloc(n, sizeof(*g->detail));
	if (!g->fails || !g->since_wall || !g->detail) {
		guards_free(g);
		memset(g, 0, sizeof(*g));
		return -ENOMEM;
	}
	return 0;
}

/* Hand the arrays of g to w, which must own none. */
static void guards_adopt(struct rbd_watch *w, const struct guards *g)
{
	w->guard_fails = g->fails;
	w->guard_since_wall = g->since_wall;
	w->guard_detail = g->detail;
}

struct rbd_watch *rbd_watch_new(const struct rbd_policy *policy)
{
	struct rbd_watch *w = calloc(1, sizeof(*w));
	struct counts k;
	struct guards g;

	if (!w)
		return NULL;
	w->state = RBD_STATE_IDLE;
	w->next_deploy_id = 1;
	w->schema = RBD_SCHEMA_NONE;
	w->schema_before = RBD_SCHEMA_NONE;
	w->target_schema = RBD_SCHEMA_NONE;
	w->n_checks = policy->n_checks;
	w->n_guards = policy->n_guards;
	if (counts_new(w->n_checks, &k) < 0) {
		free(w);
		return NULL;
	}
	if (guards_new(w->n_guards, &g) < 0) {
		counts_free(&k);
		free(w);
		return NULL;
	}
	counts_adopt(w, &k);
	guards_adopt(w, &g);
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
	free(w->guard_fails);
	free(w->guard_since_wall);
	free(w->guard_detail);
	free(w);
}

/* Zero every per-check counter and window tally (entering a window). */
static void checks_reset(struct rbd_watch *w)
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

/* Forget every guard's run. */
static void guards_reset(struct rbd_watch *w)
{
	size_t n = w->n_guards;

	if (w->guard_fails)
		memset(w->guard_fails, 0, n * sizeof(*w->guard_fails));
	if (w->guard_since_wall)
		memset(w->guard_since_wall, 0,
		    n * sizeof(*w->guard_since_wall));
	if (w->guard_detail)
		memset(w->guard_detail, 0, n * sizeof(*w->guard_detail));
}

/* Zero every per-check counter, window tally and guard run (a restart:
 * none of them is stored). */
void rbd_watch_reset_counts(struct rbd_watch *w)
{
	checks_reset(w);
	guards_reset(w);
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

/* Index of the guard called name in p, or -1. */
static int guard_index(const struct rbd_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_guards; i++)
		if (name && p->guards[i].name &&
		    strcmp(p->guards[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Adopt a reloaded policy, carrying the per-check counters and the guards'
 * runs over by name. Everything is allocated before anything of w is
 * freed, so a failure leaves w as it was. */
int rbd_watch_set_policy(struct rbd_watch *w, const struct rbd_policy *old,
    const struct rbd_policy *new_policy)
{
	struct counts k, mine;
	struct guards g, gmine;

	if (counts_new(new_policy->n_checks, &k) < 0)
		return -ENOMEM;
	if (guards_new(new_policy->n_guards, &g) < 0) {
		counts_free(&k);
		return -ENOMEM;
	}
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
	for (size_t i = 0; old && i < old->n_guards && i < w->n_guards; i++) {
		int j = guard_index(new_policy, old->guards[i].name);

		if (j < 0)
			continue;
		g.fails[j] = w->guard_fails[i];
		g.since_wall[j] = w->guard_since_wall[i];
		memcpy(g.detail[j], w->guard_detail[i], sizeof(g.detail[j]));
	}
	mine = (struct counts){ w->fails, w->unknowns, w->window_ok,
	    w->window_no_data };
	counts_free(&mine);
	gmine = (struct guards){ w->guard_fails, w->guard_since_wall,
	    w->guard_detail };
	guards_free(&gmine);
	counts_adopt(w, &k);
	guards_adopt(w, &g);
	w->n_checks = new_policy->n_checks;
	w->n_guards = new_policy->n_guards;
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

/* Index of v in w->good, or -1. */
static int good_index(const struct rbd_watch *w, const char *v)
{
	for (size_t i = 0; i < w->n_good; i++)
		if (strcmp(w->good[i], v) == 0)
			return (int)i;
	return -1;
}

/* Take v out of the known-good releases, with its schema. */
static void good_remove(struct rbd_watch *w, const char *v)
{
	int i = good_index(w, v);
	size_t rest;

	if (i < 0)
		return;
	rest = w->n_good - (size_t)i - 1;
	memmove(w->good[i], w->good[i + 1], rest * sizeof(w->good[0]));
	memmove(&w->good_schema[i], &w->good_schema[i + 1],
	    rest * sizeof(w->good_schema[0]));
	w->n_good--;
}

/* Put v first in the known-good releases, running against schema; the
 * oldest falls off. good_schema stays parallel to good. */
static void good_push(struct rbd_watch *w, const char *v, int64_t schema)
{
	good_remove(w, v);
	if (w->n_good == RBD_WATCH_GOOD_MAX)
		w->n_good--;
	memmove(w->good[1], w->good[0], w->n_good * sizeof(w->good[0]));
	memmove(&w->good_schema[1], &w->good_schema[0],
	    w->n_good * sizeof(w->good_schema[0]));
	copy_version(w->good[0], v);
	w->good_schema[0] = schema;
	w->n_good++;
}

/* The schema release v runs against, as far as w knows: the database's
 * when v is live and that is known, else what v had as a known-good
 * release (a mark-good of a release not live keeps what is known of it). */
static int64_t schema_for(const struct rbd_watch *w, const char *v)
{
	int i;

	if (strcmp(v, w->live) == 0 && w->schema != RBD_SCHEMA_NONE)
		return w->schema;
	i = good_index(w, v);
	return i < 0 ? RBD_SCHEMA_NONE : w->good_schema[i];
}

/* Whether v is marked bad in w. */
static bool is_bad(const struct rbd_watch *w, const char *v)
{
	for (size_t i = 0; i < w->n_bad; i++)
		if (strcmp(w->bad[i], v) == 0)
			return true;
	return false;
}

/* Whether good[i] could be a rollback target at all: not live, not bad. */
static bool is_candidate(const struct rbd_watch *w, size_t i)
{
	return strcmp(w->good[i], w->live) != 0 && !is_bad(w, w->good[i]);
}

/* The newest known-good release that is neither live nor bad. */
const char *rbd_watch_rollback_target(const struct rbd_watch *w)
{
	for (size_t i = 0; i < w->n_good; i++)
		if (is_candidate(w, i))
			return w->good[i];
	return NULL;
}

/* Append to a NUL-terminated buffer, cutting what does not fit. */
static void appendf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t len, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!buf || !len)
		return;
	used = strnlen(buf, len);
	if (used >= len - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* How the live release moved the schema; a value out of range is taken
 * as the worst, irreversible. */
static enum rbd_migration migration_of(const struct rbd_watch *w)
{
	return (unsigned)w->migration < _RBD_MIGRATION_MAX ? w->migration :
	    RBD_MIGRATION_IRREVERSIBLE;
}

/* How a release that runs against schema ks fits the database as the
 * live release left it (the rules of rbd_watch_choose_target). */
enum fit {
	FIT_OK,			/* as it is */
	FIT_MIGRATE,		/* after migrate_down to ks */
	FIT_UNKNOWN_IRREVERSIBLE,	/* ks unknown, the migration one-way */
	FIT_NEWER,		/* ks above the database's */
	FIT_IRREVERSIBLE,	/* below, across a one-way migration */
	FIT_UNANNOUNCED,	/* below, with no reversible migration said */
	FIT_NO_MIGRATE_DOWN,	/* below, and the policy cannot migrate down */
	FIT_BEFORE,		/* below where the live release's migration
				 * began, or that is unknown */
};

/* How a release that runs against schema ks fits w under policy p. */
static enum fit fit_of(const struct rbd_watch *w, const struct rbd_policy *p,
    int64_t ks)
{
	int64_t s = w->schema;

	if (s == RBD_SCHEMA_NONE || ks == s)
		return FIT_OK;
	if (ks == RBD_SCHEMA_NONE)
		return migration_of(w) == RBD_MIGRATION_IRREVERSIBLE ?
		    FIT_UNKNOWN_IRREVERSIBLE : FIT_OK;
	if (ks > s)
		return FIT_NEWER;
	switch (migration_of(w)) {
	case RBD_MIGRATION_IRREVERSIBLE:
		return FIT_IRREVERSIBLE;
	case RBD_MIGRATION_REVERSIBLE:
		break;
	default:
		return FIT_UNANNOUNCED;
	}
	if (!p->migrate_down_argv || !p->migrate_down_argv[0])
		return FIT_NO_MIGRATE_DOWN;
	if (w->schema_before == RBD_SCHEMA_NONE || ks < w->schema_before)
		return FIT_BEFORE;
	return FIT_MIGRATE;
}

/* "v2.5.0 migrated the schema irreversibly from 42 to 43" (how: the
 * adverb), without the "from" part when the schema before is unknown. */
static void migrated_str(char *buf, size_t len, const struct rbd_watch *w,
    const char *how)
{
	const char *r = *w->live ? w->live : "the live release";

	if (w->schema_before != RBD_SCHEMA_NONE &&
	    w->schema_before != w->schema)
		appendf(buf, len, "%s migrated the schema %s from %" PRId64
		    " to %" PRId64, r, how, w->schema_before, w->schema);
	else
		appendf(buf, len, "%s migrated the schema %s to %" PRId64, r,
		    how, w->schema);
}

/* Why release k (schema ks, which fits as f, not FIT_OK/FIT_MIGRATE) is
 * no rollback target, appended to buf. app follows k's name: ", the last
 * known-good release," or "". */
static void misfit_str(char *buf, size_t len, const struct rbd_watch *w,
    enum fit f, const char *k, int64_t ks, const char *app)
{
	const char *r = *w->live ? w->live : "the live release";

	switch (f) {
	case FIT_UNKNOWN_IRREVERSIBLE:
		migrated_str(buf, len, w, "irreversibly");
		appendf(buf, len, "; %s%s runs against an unknown schema", k,
		    app);
		return;
	case FIT_NEWER:
		appendf(buf, len, "%s%s expects schema %" PRId64 ", but %s "
		    "left the database at %" PRId64, k, app, ks, r, w->schema);
		return;
	case FIT_IRREVERSIBLE:
		migrated_str(buf, len, w, "irreversibly");
		break;
	case FIT_UNANNOUNCED:
		appendf(buf, len, "the database is at schema %" PRId64 " and "
		    "%s announced no reversible migration", w->schema, r);
		break;
	case FIT_NO_MIGRATE_DOWN:
		migrated_str(buf, len, w, "reversibly");
		appendf(buf, len, ", but the policy has no migrate_down "
		    "command");
		break;
	case FIT_BEFORE:
		migrated_str(buf, len, w, "reversibly");
		appendf(buf, len, " and migrate_down only undoes that");
		break;
	default:
		return;
	}
	appendf(buf, len, "; %s%s expects schema %" PRId64, k, app, ks);
}

/* The rollback target with schemas considered: see watch.h. */
int rbd_watch_choose_target(const struct rbd_watch *w,
    const struct rbd_policy *policy, int64_t *ret_to_schema, char *why,
    size_t whylen)
{
	size_t first = SIZE_MAX, n_refused = 0;
	enum fit first_fit = FIT_OK;

	if (why && whylen)
		why[0] = '\0';
	for (size_t i = 0; i < w->n_good; i++) {
		int64_t ks = w->good_schema[i];
		enum fit f;

		if (!is_candidate(w, i))
			continue;
		f = fit_of(w, policy, ks);
		if (first == SIZE_MAX) {
			first = i;
			first_fit = f;
		}
		if (f != FIT_OK && f != FIT_MIGRATE) {
			n_refused++;
			continue;
		}
		if (i != first) {
			int64_t ks0 = w->good_schema[first];

			appendf(why, whylen, "%s, the newest known-good "
			    "release that ", w->good[i]);
			if (f == FIT_MIGRATE)
				appendf(why, whylen, "runs against schema %"
				    PRId64 ", within reach of migrate_down (",
				    ks);
			else if (ks == RBD_SCHEMA_NONE)
				appendf(why, whylen, "may run against schema %"
				    PRId64 " (its own schema is unknown; ",
				    w->schema);
			else
				appendf(why, whylen, "runs against schema %"
				    PRId64 " (", w->schema);
			if (ks0 == RBD_SCHEMA_NONE)
				appendf(why, whylen, "%s's schema is unknown",
				    w->good[first]);
			else
				appendf(why, whylen, "%s expects %" PRId64,
				    w->good[first], ks0);
			if (n_refused > 1)
				appendf(why, whylen, "; %zu more newer "
				    "release%s did not fit either",
				    n_refused - 1, n_refused > 2 ? "s" : "");
			appendf(why, whylen, ")");
		}
		if (ret_to_schema)
			*ret_to_schema = f == FIT_MIGRATE ? ks : RBD_SCHEMA_NONE;
		return (int)i;
	}
	if (first == SIZE_MAX) {
		appendf(why, whylen, "no known-good release to roll back to");
		return -ENOENT;
	}
	misfit_str(why, whylen, w, first_fit, w->good[first],
	    w->good_schema[first], ", the last known-good release,");
	if (n_refused > 1)
		appendf(why, whylen, "; %zu older known-good release%s not "
		    "compatible either", n_refused - 1,
		    n_refused > 2 ? "s are" : " is");
	return -ENOENT;
}

/* Whether w is paused at time now. */
bool rbd_watch_paused(const struct rbd_watch *w, uint64_t now)
{
	return w->paused && (!w->pause_until || now < w->pause_until);
}

/* Whether an automatic rollback decided at t is within the loop breaker's
 * period ending at now. A time after now (a clock that went back) counts:
 * the breaker errs on the side of holding. */
static bool auto_recent(uint64_t t, uint64_t now, uint64_t per)
{
	return t > now || now - t < per;
}

/* Automatic rollbacks in the period ending at now. */
size_t rbd_watch_auto_count(const struct rbd_watch *w,
    const struct rbd_policy *policy, uint64_t now)
{
	size_t n = 0;

	for (size_t i = 0; i < w->n_auto && i < RBD_WATCH_AUTO_MAX; i++)
		if (auto_recent(w->auto_times[i], now,
		    policy->automatic_per_usec))
			n++;
	return n;
}

/* "10:42:07 UTC" for a wall time (usec since the epoch), with the date in
 * front when it is not on the day of ref (the event's own wall time; 0:
 * unknown, no date). */
static const char *clock_str(uint64_t wall, uint64_t ref, char *buf,
    size_t len)
{
	time_t t = (time_t)(wall / RBD_USEC_PER_SEC);
	time_t rt = (time_t)(ref / RBD_USEC_PER_SEC);
	struct tm tm, rtm;
	bool same_day = true;

	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, len, "an unknown time");
		return buf;
	}
	if (ref && gmtime_r(&rt, &rtm))
		same_day = rtm.tm_year == tm.tm_year &&
		    rtm.tm_yday == tm.tm_yday;
	if (!strftime(buf, len, same_day ? "%H:%M:%S UTC" :
	    "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "an unknown time");
	return buf;
}

/* What a sample does to its check's counters, written at commit. */
struct check_count {
	bool set;
	size_t i;
	unsigned fails, unknowns, window_ok;
	const char *no_data;	/* non-NULL: its window_no_data */
};

/* What a guard sample does to its guard's run, written at commit. */
struct guard_count {
	bool set;
	size_t i;
	unsigned fails;
	uint64_t since_wall;
	char detail[RBD_DETAIL_MAX];
};

/* One step in the making. Everything is computed here and copied out only
 * when the event is accepted, so a refused event changes nothing. The
 * per-check and per-guard arrays live on the heap, shared with the
 * caller's watch: they are changed only at commit, through counts_reset,
 * cnt and gcnt. (Samples that change nothing but their counters never
 * get here: see step_sample_fast.) */
struct ctx {
	const struct rbd_policy *p;
	const struct rbd_event *ev;
	uint64_t now;
	const struct rbd_watch *old;	/* the caller's watch, read-only */
	struct rbd_watch w;		/* the new state */
	struct rbd_step s;
	bool entered;			/* a state was (re-)entered */
	bool counts_reset;		/* at commit: zero every check counter */
	/* Remedies */
	bool keep_probes;		/* enter(): probes go on (remedying) */
	bool no_remedy;			/* degrade(): an operator's, no remedy */
	struct check_count cnt;		/* at commit, when set: check i's */
	struct guard_count gcnt;	/* at commit, when set: guard i's */
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

/* Drill: the drill_* family, below the other handlers. */
static void drill_run_deploy(struct ctx *c);
static int drill_unhealthy(struct ctx *c, const char *why);
static int drill_window_passed(struct ctx *c);
static int drill_deploy_done(struct ctx *c, const char *detail);
static int drill_sample_ok(struct ctx *c, size_t i);
static int drill_refuse_busy(struct ctx *c, const char *what);

/* Whether a state has a window (probes running, a timer armed). */
static bool has_window(enum rbd_state s)
{
	return s == RBD_STATE_WATCHING || s == RBD_STATE_VERIFYING;
}

/* Drill: whether a drill is verifying a release (a window of verify). */
static bool drill_verifying(const struct rbd_watch *w)
{
	return w->state == RBD_STATE_DRILLING &&
	    (w->drill_phase == RBD_DRILL_VERIFY_BACK ||
	    w->drill_phase == RBD_DRILL_VERIFY_FORWARD);
}

/* Whether w has a window now (probes running, a timer armed). */
static bool in_window(const struct rbd_watch *w)
{
	return has_window(w->state) || drill_verifying(w);
}

/* Whether w probes its checks: a window, or remedying. */
static bool probing(const struct rbd_watch *w)
{
	return in_window(w) || w->state == RBD_STATE_REMEDYING;
}

/* Whether the live release in this state still waits for its verdict:
 * watched, or being remedied. */
static bool awaiting_verdict(enum rbd_state s)
{
	return s == RBD_STATE_WATCHING || s == RBD_STATE_REMEDYING;
}

/* When the current state's window ends; UINT64_MAX without a window. */
static uint64_t window_end(const struct rbd_watch *w,
    const struct rbd_policy *p)
{
	uint64_t len;

	if (w->state == RBD_STATE_WATCHING)
		len = p->duration_usec;
	else if (w->state == RBD_STATE_VERIFYING || drill_verifying(w))
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
	a->from_schema = RBD_SCHEMA_NONE;
	a->to_schema = RBD_SCHEMA_NONE;
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

/* v is known-good, running against schema: first in good[], out of
 * bad[]. */
static void push_good(struct ctx *c, const char *v, int64_t schema)
{
	good_push(&c->w, v, schema);
	list_remove(c->w.bad, &c->w.n_bad, v);
	set_status(c, v, RBD_RELEASE_GOOD);
}

/* v is bad: first in bad[], out of good[], never a rollback target. */
static void push_bad(struct ctx *c, const char *v)
{
	list_push(c->w.bad, &c->w.n_bad, RBD_WATCH_BAD_MAX, v);
	good_remove(&c->w, v);
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
	if (probing(&c->w)) {
		if (!c->keep_probes)
			add_action(c, RBD_ACT_STOP_PROBES);
		add_action(c, RBD_ACT_CANCEL_TIMER);
	}
	c->w.deploy_id = 0;	/* only a rollback in flight has one */
	c->w.migrating = false;
	c->w.target_schema = RBD_SCHEMA_NONE;
	if (to == RBD_STATE_IDLE || to == RBD_STATE_WATCHING) {
		c->w.target[0] = '\0';
		c->w.from[0] = '\0';
	}
	c->w.state = to;
	c->w.drill_phase = RBD_DRILL_NONE;	/* drill_enter enters drilling */
	c->w.since = c->now;
	c->entered = true;
	c->w.remedy_settling = false;
	c->w.remedy_at = 0;
	if (has_window(to) || to == RBD_STATE_REMEDYING) {
		c->counts_reset = true;
		c->cnt.set = false;
	}
	if (has_window(to) && c->keep_probes)
		add_action(c, RBD_ACT_SET_TIMER)->deadline =
		    window_end(&c->w, c->p);
	else if (has_window(to))
		arm_window(c);
	else if (to == RBD_STATE_REMEDYING && !c->keep_probes)
		add_action(c, RBD_ACT_START_PROBES);
}

/* Give every RUN_DEPLOY, RUN_MIGRATION and NOTIFY without a reason of its
 * own this one. */
static void fill_reasons(struct ctx *c, const char *reason)
{
	for (size_t i = 0; i < c->s.n_actions; i++) {
		struct rbd_action *a = &c->s.actions[i];

		if ((a->type == RBD_ACT_RUN_DEPLOY ||
		    a->type == RBD_ACT_RUN_MIGRATION ||
		    a->type == RBD_ACT_RUN_REMEDY ||
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

/* The service's name, for a reason. */
static const char *service_of(const struct ctx *c)
{
	return text_or(c->p->service, "the service");
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

/* Run migrate_down for the rollback in w: from the database's schema to
 * target_schema, before the code's deploy. */
static void run_migration(struct ctx *c)
{
	struct rbd_action *a = add_action(c, RBD_ACT_RUN_MIGRATION);

	c->w.deploy_id = c->w.next_deploy_id++;
	copy_version(a->version, c->w.target);
	copy_version(a->from_version, c->w.from);
	a->from_schema = c->w.schema;
	a->to_schema = c->w.target_schema;
	a->deploy_id = c->w.deploy_id;
}

/* Roll back from the live release to k, after a down-migration to
 * to_schema unless it is RBD_SCHEMA_NONE (the live release is already
 * marked bad by the caller); its waiter hears it when it was watched. */
static void start_rollback(struct ctx *c, const char *k, int64_t to_schema)
{
	bool was_watching = awaiting_verdict(c->w.state);
	char r[RBD_VERSION_MAX + 1];

	copy_version(r, c->w.live);
	enter(c, RBD_STATE_ROLLING_BACK);
	copy_version(c->w.target, k);
	copy_version(c->w.from, r);
	if (to_schema != RBD_SCHEMA_NONE) {
		c->w.migrating = true;
		c->w.target_schema = to_schema;
		run_migration(c);
	} else {
		run_deploy(c);
	}
	if (was_watching)
		notify(c, r, RBD_VERDICT_ROLLED_BACK);
}

/* Hold the live release r instead of acting (the caller says why in the
 * record); its waiter hears "held" when it was watched. */
static void hold(struct ctx *c, const char *r)
{
	bool was_watching = awaiting_verdict(c->w.state);

	enter(c, RBD_STATE_HELD);
	if (was_watching)
		notify(c, r, RBD_VERDICT_HELD);
}

/* The number of failing samples in a row that make chk fail (0 is 1). */
static unsigned fail_after(const struct rbd_check *chk)
{
	return chk->fail_after ? chk->fail_after : 1;
}

/* The first guard, in policy order, that is failing now, or -1. */
static int failing_guard(const struct ctx *c)
{
	size_t n = c->old->n_guards < c->p->n_guards ? c->old->n_guards :
	    c->p->n_guards;

	for (size_t i = 0; i < n; i++)
		if (c->old->guard_fails[i] &&
		    c->old->guard_fails[i] >= fail_after(&c->p->guards[i]))
			return (int)i;
	return -1;
}

/* Rule 1: guard g is failing, so the deploy is probably not the cause of
 * r's degradation (why): held, r not marked bad. */
static int hold_guarded(struct ctx *c, size_t g, const char *r,
    const char *why)
{
	uint64_t since = c->old->guard_since_wall[g];
	char when[64] = "", t[48];

	if (since)
		snprintf(when, sizeof(when), " since %s",
		    clock_str(since, c->ev->wall, t, sizeof(t)));
	hold(c, r);
	record(c, "guarded", "guard %s failing%s (%.*s); not rolling back %s "
	    "%s (%s)", text_or(c->p->guards[g].name, "?"), when,
	    RBD_DETAIL_MAX - 1, text_or(c->old->guard_detail[g], "failed"),
	    service_of(c), r, why);
	return 0;
}

/* The largest number of automatic rollbacks the policy allows in its
 * period (no more than the watch remembers). */
static unsigned auto_limit(const struct rbd_policy *p)
{
	return p->max_automatic < RBD_WATCH_AUTO_MAX ? p->max_automatic :
	    RBD_WATCH_AUTO_MAX;
}

/* Rule 2: whether the loop breaker holds r (degraded: why) now; if so the
 * step is made. */
static bool loop_breaker(struct ctx *c, const char *r, const char *why)
{
	size_t n = rbd_watch_auto_count(&c->w, c->p, c->now);
	char per[RBD_DURATION_STR_MAX];

	if (n < auto_limit(c->p))
		return false;
	push_bad(c, r);
	hold(c, r);
	if (!c->p->max_automatic)
		record(c, "loop-breaker", "automatic rollbacks are off for %s "
		    "(rollback.max_automatic 0); not rolling back %s (%s): a "
		    "person must decide", service_of(c), r, why);
	else
		record(c, "loop-breaker", "%zu automatic rollback%s of %s in "
		    "the last %s (rollback.max_automatic %u); not rolling back "
		    "%s (%s): a person must decide", n, n == 1 ? "" : "s",
		    service_of(c), rbd_duration_str(c->p->automatic_per_usec,
		    per, sizeof(per)), c->p->max_automatic, r, why);
	return true;
}

/* Remember an automatic rollback (or a would-be one) decided now for the
 * loop breaker: those out of the period are dropped, and the oldest when
 * the list is full. */
static void auto_note(struct ctx *c)
{
	struct rbd_watch *w = &c->w;
	size_t n = 0;

	for (size_t i = 0; i < w->n_auto && i < RBD_WATCH_AUTO_MAX; i++)
		if (auto_recent(w->auto_times[i], c->now,
		    c->p->automatic_per_usec))
			w->auto_times[n++] = w->auto_times[i];
	if (n == RBD_WATCH_AUTO_MAX) {
		memmove(&w->auto_times[0], &w->auto_times[1],
		    (n - 1) * sizeof(w->auto_times[0]));
		n--;
	}
	w->auto_times[n++] = c->now;
	w->n_auto = n;
}

/* "paused by uid 0 pid 7 until 10:52:07 UTC: db maintenance", for the
 * pause in force in w. */
static void pause_str(const struct ctx *c, char *buf, size_t len)
{
	const struct rbd_watch *w = &c->w;
	char t[48], d[RBD_DURATION_STR_MAX];

	buf[0] = '\0';
	appendf(buf, len, "paused by %s", text_or(w->paused_by,
	    "an operator"));
	if (!w->pause_until)
		appendf(buf, len, " until resumed");
	else if (w->pause_until_wall)
		appendf(buf, len, " until %s", clock_str(w->pause_until_wall,
		    c->ev->wall, t, sizeof(t)));
	else
		appendf(buf, len, " for %s more", rbd_duration_str(
		    w->pause_until - c->now, d, sizeof(d)));
	if (*w->pause_reason)
		appendf(buf, len, ": %s", w->pause_reason);
}

/* ---- Remedies (see watch.h): the remedy_* family ---- */

static int degrade(struct ctx *c, const char *why);

/* The remedy being tried, or NULL when a reload took it away. */
static const struct rbd_remedy *remedy_of(const struct ctx *c)
{
	return c->w.remedy < c->p->n_remedies ?
	    &c->p->remedies[c->w.remedy] : NULL;
}

/* "flag-off (1 of 2)" for the remedy being tried, into buf. */
static const char *remedy_label(const struct ctx *c, char *buf, size_t len)
{
	const struct rbd_remedy *rm = remedy_of(c);

	snprintf(buf, len, "%s (%zu of %zu)", rm ? rm->name : "(removed)",
	    c->w.remedy + 1, c->p->n_remedies);
	return buf;
}

/* The index of the next remedy to try when the live release degrades
 * now: the first from watching, the one after the current from
 * remedying; n_remedies when there is none (or an operator decided). */
static size_t remedy_next(const struct ctx *c)
{
	if (c->no_remedy)
		return c->p->n_remedies;
	return c->w.state == RBD_STATE_REMEDYING ? c->w.remedy + 1 : 0;
}

/* "tried remedies flag-off, restart-workers, then " for dry-run and a
 * pause: the remedies that would have run before the rollback; "" none. */
static void remedy_would(const struct ctx *c, char *buf, size_t len)
{
	size_t i = remedy_next(c), n = c->p->n_remedies;

	buf[0] = '\0';
	if (i >= n)
		return;
	appendf(buf, len, "tried remed%s ", n - i == 1 ? "y" : "ies");
	for (; i < n; i++)
		appendf(buf, len, "%s%s", c->p->remedies[i].name,
		    i + 1 < n ? ", " : ", then ");
}

/* Run the action of the remedy being tried. {version} is the live
 * release; {from_version} the release a rollback would return to. */
static void remedy_run(struct ctx *c)
{
	struct rbd_action *a = add_action(c, RBD_ACT_RUN_REMEDY);
	const char *k = rbd_watch_rollback_target(&c->w);

	c->w.deploy_id = c->w.next_deploy_id++;
	a->remedy = c->w.remedy;
	copy_version(a->version, c->w.live);
	copy_version(a->from_version, k ? k : "");
	a->deploy_id = c->w.deploy_id;
}

/* Rule 2a: try the next remedy instead of rolling back, when there is
 * one and actions may run (neither dry-run nor a pause). why says what
 * degraded and, from remedying, how the last remedy went. Returns
 * whether the step is made. Every remedy counts for the loop breaker. */
static bool remedy_try(struct ctx *c, const char *r, const char *why)
{
	size_t i = remedy_next(c);
	char lbl[RBD_REASON_MAX];

	if (i >= c->p->n_remedies || c->p->mode == RBD_MODE_DRY_RUN ||
	    rbd_watch_paused(&c->w, c->now))
		return false;
	if (c->w.state != RBD_STATE_REMEDYING) {
		c->w.remedy_watch_since = c->w.since;
		snprintf(c->w.remedy_why, sizeof(c->w.remedy_why), "%s", why);
	}
	c->keep_probes = true;
	enter(c, RBD_STATE_REMEDYING);
	c->keep_probes = false;
	c->w.remedy = i;
	auto_note(c);
	remedy_run(c);
	record(c, "remedying", "%s; trying remedy %s before a rollback of %s %s",
	    why, remedy_label(c, lbl, sizeof(lbl)), service_of(c), r);
	return true;
}

/* The remedy being tried did not help (what: "failed: exit status 1",
 * "did not fix it: ..."): the next one, or what degrade() does after the
 * last, with the degradation that started the remedies. */
static int remedy_fail(struct ctx *c, const char *what)
{
	char why[RBD_REASON_MAX], lbl[RBD_REASON_MAX];

	why[0] = '\0';
	appendf(why, sizeof(why), "%.*s; remedy %s %s", RBD_REASON_MAX / 2,
	    c->w.remedy_why, remedy_label(c, lbl, sizeof(lbl)), what);
	return degrade(c, why);
}

/* REMEDY_DONE: the action of the remedy being tried ended. Success starts
 * its settle period, with every check's counters at zero; a failure is
 * the next remedy (or the rollback). */
static int remedy_on_done(struct ctx *c)
{
	const struct rbd_remedy *rm = remedy_of(c);
	const char *detail = text_or(c->ev->detail,
	    rbd_deploy_result_str(c->ev->deploy));
	char what[RBD_REASON_MAX], lbl[RBD_REASON_MAX];
	char d[RBD_DURATION_STR_MAX];

	if (c->w.state != RBD_STATE_REMEDYING || c->w.remedy_settling ||
	    c->ev->deploy_id != c->w.deploy_id)
		return 0;	/* stale: an earlier remedy, or none in flight */
	if (!rm || c->ev->deploy != RBD_DEPLOY_OK) {
		snprintf(what, sizeof(what), "failed: %.*s", RBD_DETAIL_MAX - 1,
		    rm ? detail : "it is no longer in the policy");
		return remedy_fail(c, what);
	}
	c->w.deploy_id = 0;
	c->w.remedy_settling = true;
	c->w.remedy_at = c->now;
	c->counts_reset = true;
	c->cnt.set = false;
	add_action(c, RBD_ACT_SET_TIMER)->deadline =
	    rbd_watch_settle_end(&c->w, c->p);
	record(c, "remedy-ran", "remedy %s ran (%.*s); settling for %s: every "
	    "check must recover", remedy_label(c, lbl, sizeof(lbl)),
	    RBD_DETAIL_MAX - 1, detail, rbd_duration_str(rm->settle_usec, d,
	    sizeof(d)));
	return 0;
}

/* The settle period has passed without a completed fail_after run:
 * recovered when every check's latest judged sample is OK and it had at
 * least one OK sample in the period; then back to watching the live
 * release for the rest of its window (the settle period's tallies count
 * in it), else the next remedy. */
static int remedy_settled(struct ctx *c)
{
	size_t n = c->old->n_checks < c->p->n_checks ? c->old->n_checks :
	    c->p->n_checks;
	const struct rbd_remedy *rm = remedy_of(c);
	char what[RBD_REASON_MAX], lbl[RBD_REASON_MAX];
	char d[RBD_DURATION_STR_MAX], r[RBD_VERSION_MAX + 1];

	for (size_t i = 0; i < n; i++) {
		const char *name = c->p->checks[i].name;

		if (c->old->fails[i])
			snprintf(what, sizeof(what), "did not fix it: %s still "
			    "failing at the end of the settle period", name);
		else if (c->old->unknowns[i])
			snprintf(what, sizeof(what), "did not fix it: %s had no "
			    "data at the end of the settle period", name);
		else if (!c->old->window_ok[i])
			snprintf(what, sizeof(what), "did not fix it: %s had no "
			    "healthy sample during the settle period", name);
		else
			continue;
		return remedy_fail(c, what);
	}
	copy_version(r, c->w.live);
	remedy_label(c, lbl, sizeof(lbl));
	rbd_duration_str(rm ? rm->settle_usec : 0, d, sizeof(d));
	c->keep_probes = true;
	enter(c, RBD_STATE_WATCHING);
	c->keep_probes = false;
	c->counts_reset = false;
	c->w.since = c->w.remedy_watch_since;
	/* enter() armed the timer for a window from now: the window is the
	 * one the remedy interrupted. */
	c->s.actions[c->s.n_actions - 1].deadline = window_end(&c->w, c->p);
	record(c, "remedied", "remedy %s fixed %s %s: every check recovered "
	    "within its settle period (%s) after %.*s; watching %s for the rest "
	    "of its window", lbl, service_of(c), r, d, RBD_REASON_MAX / 2,
	    c->w.remedy_why, r);
	return 0;
}

/* TIMER while remedying: the settle period has ended (or, after a
 * restart, the remedy is no longer in the policy). */
static int remedy_on_timer(struct ctx *c)
{
	if (!remedy_of(c))
		return remedy_fail(c, "failed: it is no longer in the policy");
	if (!c->w.remedy_settling)
		return 0;
	if (c->now >= rbd_watch_settle_end(&c->w, c->p))
		return remedy_settled(c);
	add_action(c, RBD_ACT_SET_TIMER)->deadline =
	    rbd_watch_settle_end(&c->w, c->p);
	return 0;
}

/* After a restart while remedying: probe again and run the remedy again
 * from its action (remedies are idempotent, like deploy commands); its
 * settle period starts afresh. A remedy no longer in the policy is left
 * to the timer, which moves on. */
static void remedy_resume(struct ctx *c)
{
	add_action(c, RBD_ACT_START_PROBES);
	if (!remedy_of(c)) {
		add_action(c, RBD_ACT_SET_TIMER)->deadline = c->now;
		return;
	}
	c->w.remedy_settling = false;
	c->w.remedy_at = 0;
	remedy_run(c);
}

uint64_t rbd_watch_settle_end(const struct rbd_watch *w,
    const struct rbd_policy *policy)
{
	uint64_t settle;

	if (w->state != RBD_STATE_REMEDYING || !w->remedy_settling ||
	    w->remedy >= policy->n_remedies)
		return 0;
	settle = policy->remedies[w->remedy].settle_usec;
	return w->remedy_at + settle < w->remedy_at ? UINT64_MAX :
	    w->remedy_at + settle;
}

/* Rule 4: a dry-run policy or a pause in force: nothing runs; r is held
 * and stays marked bad. tt names the target (k, or why it was chosen). */
static void would_roll_back(struct ctx *c, const char *r, const char *tt,
    int64_t to_schema, const char *why)
{
	char mig[96] = "", tail[RBD_REASON_MAX], rem[RBD_REASON_MAX] = "";
	bool dry = c->p->mode == RBD_MODE_DRY_RUN;

	remedy_would(c, rem, sizeof(rem));

	if (to_schema != RBD_SCHEMA_NONE)
		snprintf(mig, sizeof(mig), "migrated the schema down from %"
		    PRId64 " to %" PRId64 ", then ", c->w.schema, to_schema);
	if (dry)
		snprintf(tail, sizeof(tail), "mode: dry-run");
	else
		pause_str(c, tail, sizeof(tail));
	hold(c, r);
	record(c, "would-roll-back", "%s: would have %s%srolled back %s from "
	    "%s to %s (%s); nothing was run (%s)", dry ? "dry-run" : "paused",
	    rem, mig, service_of(c), r, tt, why, tail);
}

/* The watched release is degraded (why): before an automatic rollback,
 * the rules of watch.h in their order (guards, the loop breaker, the
 * target, dry-run and pause); then roll back. Never a second rollback: a
 * degraded verification holds. */
static int degrade(struct ctx *c, const char *why)
{
	char r[RBD_VERSION_MAX + 1], k[RBD_VERSION_MAX + 1];
	char chosen[RBD_REASON_MAX];
	int64_t to_schema = RBD_SCHEMA_NONE;
	int g, i;

	copy_version(r, c->w.live);
	if (c->w.state == RBD_STATE_DRILLING)
		return drill_unhealthy(c, why);
	if (c->w.state == RBD_STATE_VERIFYING) {
		enter(c, RBD_STATE_HELD);
		record(c, "degraded", "rolled back to %s, but %s is unhealthy "
		    "too: %s; holding, a person must decide", r, r, why);
		return 0;
	}
	g = failing_guard(c);
	if (g >= 0)
		return hold_guarded(c, (size_t)g, r, why);
	if (loop_breaker(c, r, why))
		return 0;
	if (remedy_try(c, r, why))
		return 0;
	push_bad(c, r);
	i = rbd_watch_choose_target(&c->w, c->p, &to_schema, chosen,
	    sizeof(chosen));
	if (i < 0) {
		bool none = !rbd_watch_rollback_target(&c->w);

		hold(c, r);
		if (none)
			record(c, "degraded", "%s; %s (rollbackctl mark-good "
			    "seeds one)", why, chosen);
		else
			record(c, "degraded", "%s; %s: not rolling back "
			    "automatically, a person must decide", why, chosen);
		return 0;
	}
	copy_version(k, c->w.good[i]);
	auto_note(c);
	if (c->p->mode == RBD_MODE_DRY_RUN || rbd_watch_paused(&c->w, c->now)) {
		would_roll_back(c, r, *chosen ? chosen : k, to_schema, why);
		return 0;
	}
	start_rollback(c, k, to_schema);
	if (to_schema != RBD_SCHEMA_NONE)
		record(c, "degraded", "%s; migrating the schema down from %"
		    PRId64 " to %" PRId64 ", then rolling back from %s to %s",
		    why, c->w.schema, to_schema, r, *chosen ? chosen : k);
	else
		record(c, "degraded", "%s; rolling back from %s to %s", why, r,
		    *chosen ? chosen : k);
	return 0;
}

/* No data on the live release (why): hold, for a person to decide, rather
 * than roll back or promote. Nothing says the release is bad, so it is not
 * marked bad; its waiter hears "held" when it was watched. */
static int hold_no_data(struct ctx *c, const char *why)
{
	char r[RBD_VERSION_MAX + 1];

	if (c->w.state == RBD_STATE_DRILLING)
		return drill_unhealthy(c, why);
	copy_version(r, c->w.live);
	hold(c, r);
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
	if (c->w.state == RBD_STATE_DRILLING)
		return drill_window_passed(c);
	if (c->w.state == RBD_STATE_VERIFYING) {
		rbd_duration_str(c->p->verify_usec, d, sizeof(d));
		enter(c, RBD_STATE_IDLE);
		record(c, "verified", "rollback to %s verified: healthy for %s",
		    v, d);
		return 0;
	}
	rbd_duration_str(c->p->duration_usec, d, sizeof(d));
	push_good(c, v, schema_for(&c->w, v));
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

	if (c->w.state == RBD_STATE_DRILLING)
		return drill_refuse_busy(c, "announce a release");
	if (c->w.state == RBD_STATE_ROLLING_BACK) {
		char rt[2 * RBD_VERSION_MAX + 16];

		return refuse(c, -EBUSY, "%s is rolling back %s; announce %s "
		    "again once the rollback has finished (rollbackctl status "
		    "%s)", service_of(c), route(rt, sizeof(rt), c->w.from,
		    c->w.target), v, service_of(c));
	}
	superseded = awaiting_verdict(c->w.state) &&
	    strcmp(c->w.live, v) != 0;
	copy_version(old, c->w.live);
	enter(c, RBD_STATE_WATCHING);
	copy_version(c->w.live, v);
	c->w.schema_before = c->w.schema;
	c->w.schema = c->ev->schema;
	c->w.migration = c->ev->migration;
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
	if (c->w.state == RBD_STATE_REMEDYING) {
		char what[RBD_REASON_MAX];

		snprintf(what, sizeof(what), "did not fix it: %.*s",
		    RBD_REASON_MAX - 32, why);
		return remedy_fail(c, what);
	}
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

	if (c->w.state == RBD_STATE_REMEDYING) {
		/* Remedies: judged in the settle period only; a sample at
		 * its end is too late, as at a window's. */
		uint64_t end = rbd_watch_settle_end(&c->w, c->p);

		if (!end || c->now < c->w.remedy_at)
			return 0;
		if (c->now >= end)
			return remedy_settled(c);
	} else if (!in_window(&c->w)) {
		return 0;
	} else if (c->now >= window_end(&c->w, c->p)) {
		return window_passed(c);
	} else if (c->now < c->w.since ||
	    c->now - c->w.since < c->p->warmup_usec) {
		return 0;
	}
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
		if (drill_verifying(&c->w))
			return drill_sample_ok(c, i);
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

/* A failing sample of guard g->i (prefix "no data: " for an unknown one
 * under no_data fail): extend its run, which starts at this sample's wall
 * time when it is the first. */
static void guard_failure(struct guard_count *g, const struct rbd_event *ev,
    const char *prefix, const char *detail)
{
	if (!g->fails)
		g->since_wall = ev->wall;
	if (g->fails < UINT_MAX)
		g->fails++;
	/* Cut to fit: a long detail loses its end, never the prefix. */
	g->detail[0] = '\0';
	appendf(g->detail, sizeof(g->detail), "%s%s", prefix, detail);
}

/* What guard sample ev does to its guard's run in w, into *g (g->set
 * false: nothing). Never a transition. */
static void guard_judge(struct guard_count *g, const struct rbd_watch *w,
    const struct rbd_policy *p, const struct rbd_event *ev)
{
	size_t i = ev->check;

	g->set = true;
	g->i = i;
	g->fails = w->guard_fails[i];
	g->since_wall = w->guard_since_wall[i];
	memcpy(g->detail, w->guard_detail[i], sizeof(g->detail));
	switch (ev->sample) {
	case RBD_SAMPLE_OK:
		g->fails = 0;
		g->since_wall = 0;
		g->detail[0] = '\0';
		return;
	case RBD_SAMPLE_FAIL:
		guard_failure(g, ev, "", text_or(ev->detail, "failed"));
		return;
	default:
		break;
	}
	/* Unknown: it neither breaks nor extends the run, unless the guard
	 * says no data is a failure. */
	if (no_data_of(&p->guards[i]) == RBD_NO_DATA_FAIL)
		guard_failure(g, ev, "no data: ", text_or(ev->detail,
		    "unknown"));
	else
		g->set = false;
}

/* GUARD_SAMPLE: counted in every state; never a record of its own.
 * (step_sample_fast takes every one; this is for completeness.) */
static int on_guard_sample(struct ctx *c)
{
	guard_judge(&c->gcnt, c->old, c->p, c->ev);
	return 0;
}

/* TIMER: the window has passed. A timer that fires before the window's
 * end (the shell's timer clock is coarser than its sample clock) is armed
 * again for the end; one outside a window is stale and ignored. */
static int on_timer(struct ctx *c)
{
	struct rbd_action *a;

	if (c->w.state == RBD_STATE_REMEDYING)
		return remedy_on_timer(c);
	if (!in_window(&c->w))
		return 0;
	if (c->now >= window_end(&c->w, c->p))
		return window_passed(c);
	a = add_action(c, RBD_ACT_SET_TIMER);
	a->deadline = window_end(&c->w, c->p);
	return 0;
}

/* DEPLOY_DONE for the down-migration of the rollback rt: on success the
 * database is at target_schema and the code's deploy follows (same
 * state); on failure held, the code is not rolled back. */
static int migration_done(struct ctx *c, const char *rt, const char *detail)
{
	int64_t from = c->w.schema, to = c->w.target_schema;

	if (c->ev->deploy != RBD_DEPLOY_OK) {
		enter(c, RBD_STATE_HELD);
		record(c, "migration-failed", "rollback %s failed: migrate_down "
		    "command (schema %" PRId64 " to %" PRId64 ") %.*s; the "
		    "code was not rolled back, a person must decide", rt, from,
		    to, RBD_DETAIL_MAX - 1, detail);
		return 0;
	}
	c->w.schema = to;
	c->w.migration = RBD_MIGRATION_NONE;
	c->w.migrating = false;
	run_deploy(c);
	record(c, "migrated-down", "migrate_down took the schema from %" PRId64
	    " to %" PRId64 "; now deploying %s (rollback %s)", from, to,
	    c->w.target, rt);
	return 0;
}

/* DEPLOY_DONE: the rollback's migration or deploy command ended. */
static int on_deploy_done(struct ctx *c)
{
	const char *detail = text_or(c->ev->detail,
	    rbd_deploy_result_str(c->ev->deploy));
	char rt[2 * RBD_VERSION_MAX + 16];
	char k[RBD_VERSION_MAX + 1];
	int64_t ks;

	if (c->w.state == RBD_STATE_DRILLING &&
	    c->ev->deploy_id == c->w.deploy_id && c->w.deploy_id)
		return drill_deploy_done(c, detail);
	if (c->w.state != RBD_STATE_ROLLING_BACK ||
	    c->ev->deploy_id != c->w.deploy_id)
		return 0;	/* stale: an earlier deploy, or none in flight */
	copy_version(k, c->w.target);
	route(rt, sizeof(rt), c->w.from, k);
	if (c->w.migrating)
		return migration_done(c, rt, detail);
	if (c->ev->deploy != RBD_DEPLOY_OK) {
		enter(c, RBD_STATE_HELD);
		record(c, "rollback-failed", "rollback %s failed: deploy "
		    "command %.*s", rt, RBD_DETAIL_MAX - 1, detail);
		return 0;
	}
	/* The database now runs as the target expects: the migration's
	 * to_schema, else the target's own when known. */
	ks = c->w.target_schema;
	if (ks == RBD_SCHEMA_NONE) {
		int i = good_index(&c->w, k);

		ks = i < 0 ? RBD_SCHEMA_NONE : c->w.good_schema[i];
	}
	if (ks != RBD_SCHEMA_NONE)
		c->w.schema = ks;
	c->w.schema_before = c->w.schema;
	c->w.migration = RBD_MIGRATION_NONE;
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
	bool was_watching = awaiting_verdict(c->w.state);

	if (c->w.state == RBD_STATE_DRILLING && (strcmp(v, c->w.from) == 0 ||
	    strcmp(v, c->w.target) == 0))
		return drill_refuse_busy(c, "mark it good");
	push_good(c, v, schema_for(&c->w, v));
	if (strcmp(v, c->w.live) == 0 && (probing(&c->w) ||
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

	if (c->w.state == RBD_STATE_DRILLING && (strcmp(v, c->w.from) == 0 ||
	    strcmp(v, c->w.target) == 0))
		return drill_refuse_busy(c, "mark it bad");
	push_bad(c, v);
	snprintf(why, sizeof(why), "marked bad by %.*s", RBD_ACTOR_MAX - 1,
	    who(c->ev));
	/* A person judged it: no remedy is tried. */
	c->no_remedy = true;
	if (strcmp(v, c->w.live) == 0 && probing(&c->w))
		return degrade(c, why);
	record(c, "marked-bad", "%s %s", v, why);
	return 0;
}

/* ROLLBACK [V]: an operator asks for a rollback, to V or the target with
 * schemas considered. A person's decision: no guard, loop breaker, dry-run
 * or pause stops it, and it is not counted. */
static int on_rollback(struct ctx *c)
{
	const char *v = c->ev->version;
	char k[RBD_VERSION_MAX + 1];
	char chosen[RBD_REASON_MAX] = "", note[RBD_REASON_MAX] = "";
	int64_t to_schema = RBD_SCHEMA_NONE;

	if (c->w.state == RBD_STATE_DRILLING)
		return drill_refuse_busy(c, "roll back");
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
	if (!v) {
		int i = rbd_watch_choose_target(&c->w, c->p, &to_schema,
		    chosen, sizeof(chosen));
		const char *first = rbd_watch_rollback_target(&c->w);

		if (i < 0 && !first)
			return refuse(c, -ENOENT, "%s", chosen);
		if (i < 0)
			return refuse(c, -ENOENT, "%s: name a release to roll "
			    "back to it anyway (rollbackctl rollback %s --to "
			    "%s)", chosen, service_of(c), first);
		copy_version(k, c->w.good[i]);
	} else {
		int64_t ks = schema_for(&c->w, v);
		enum fit f = fit_of(&c->w, c->p, ks);

		copy_version(k, v);
		if (f == FIT_MIGRATE)
			to_schema = ks;
		else if (f != FIT_OK)
			misfit_str(note, sizeof(note), &c->w, f, k, ks, "");
	}
	if (*c->w.live)
		push_bad(c, c->w.live);
	start_rollback(c, k, to_schema);
	if (to_schema != RBD_SCHEMA_NONE)
		record(c, "rollback-requested", "rollback to %s%s requested by "
		    "%.*s; migrating the schema down from %" PRId64 " to %"
		    PRId64 " first", *chosen ? chosen : k, *chosen ? "," : "",
		    RBD_ACTOR_MAX - 1, who(c->ev), c->w.schema, to_schema);
	else if (*note)
		record(c, "rollback-requested", "rollback to %s requested by "
		    "%.*s; %s: rolling back as asked, without migrate_down", k,
		    RBD_ACTOR_MAX - 1, who(c->ev), note);
	else
		record(c, "rollback-requested", "rollback to %s%s requested by "
		    "%.*s", *chosen ? chosen : k, *chosen ? "," : "",
		    RBD_ACTOR_MAX - 1, who(c->ev));
	return 0;
}

/* "for 10m (until 10:52:07 UTC)", "for 10m" or "until resumed": how long
 * a pause of duration d lasts, ending at wall time end_wall (0 unknown). */
static void pause_span(const struct ctx *c, char *buf, size_t len,
    uint64_t d, uint64_t end_wall)
{
	char ds[RBD_DURATION_STR_MAX], t[48];

	buf[0] = '\0';
	if (!d)
		appendf(buf, len, "until resumed");
	else if (end_wall)
		appendf(buf, len, "for %s (until %s)", rbd_duration_str(d, ds,
		    sizeof(ds)), clock_str(end_wall, c->ev->wall, t,
		    sizeof(t)));
	else
		appendf(buf, len, "for %s", rbd_duration_str(d, ds,
		    sizeof(ds)));
}

/* PAUSE: automatic actions stop (judgement goes on) until resumed or for
 * a duration; a pause in force is replaced. No state changes. */
static int on_pause(struct ctx *c)
{
	const struct rbd_event *ev = c->ev;
	bool again = rbd_watch_paused(&c->w, c->now);
	uint64_t until = 0, until_wall = 0;
	char span[128], why[RBD_PAUSE_REASON_MAX + 3] = "";
	const char *verb = "paused";

	if (ev->duration) {
		until = c->now + ev->duration < c->now ? UINT64_MAX :
		    c->now + ev->duration;
		if (ev->wall)
			until_wall = ev->wall + ev->duration < ev->wall ? 0 :
			    ev->wall + ev->duration;
	}
	if (again)
		verb = !until || (c->w.pause_until && until > c->w.pause_until) ?
		    "pause extended" : "pause changed";
	c->w.paused = true;
	c->w.pause_until = until;
	c->w.pause_until_wall = until_wall;
	snprintf(c->w.pause_reason, sizeof(c->w.pause_reason), "%s",
	    text_or(ev->text, ""));
	snprintf(c->w.paused_by, sizeof(c->w.paused_by), "%.*s",
	    RBD_ACTOR_MAX - 1, who(ev));
	pause_span(c, span, sizeof(span), ev->duration, until_wall);
	if (*c->w.pause_reason)
		snprintf(why, sizeof(why), ": %.*s", RBD_PAUSE_REASON_MAX,
		    c->w.pause_reason);
	record(c, "paused", "%s by %s %s%s; judging continues, automatic "
	    "rollbacks do not run", verb, c->w.paused_by, span, why);
	return 0;
}

/* RESUME: an operator ends the pause; without an actor it is the pause
 * timer, which ends it only when its time has come. No state changes. */
static int on_resume(struct ctx *c)
{
	char by[RBD_ACTOR_MAX], why[RBD_PAUSE_REASON_MAX + 3] = "";
	char held[RBD_VERSION_MAX + 64] = "", t[48];

	if (!c->ev->actor) {
		if (!c->w.paused || !c->w.pause_until ||
		    c->now < c->w.pause_until)
			return 0;	/* stale: no pause, or not yet */
	} else if (!rbd_watch_paused(&c->w, c->now)) {
		return refuse(c, -EALREADY, "%s is not paused", service_of(c));
	}
	snprintf(by, sizeof(by), "%s", text_or(c->w.paused_by,
	    "an operator"));
	if (*c->w.pause_reason)
		snprintf(why, sizeof(why), ": %.*s", RBD_PAUSE_REASON_MAX,
		    c->w.pause_reason);
	if (c->w.state == RBD_STATE_HELD)
		snprintf(held, sizeof(held), "; %s stays held, a person must "
		    "decide", service_of(c));
	c->w.paused = false;
	c->w.pause_until = 0;
	c->w.pause_until_wall = 0;
	c->w.pause_reason[0] = '\0';
	c->w.paused_by[0] = '\0';
	if (!c->ev->actor && c->old->pause_until_wall)
		record(c, "resumed", "pause by %s ended at %s%s; automatic "
		    "rollbacks run again%s", by,
		    clock_str(c->old->pause_until_wall, c->ev->wall, t,
		    sizeof(t)), why, held);
	else if (!c->ev->actor)
		record(c, "resumed", "pause by %s ended%s; automatic rollbacks "
		    "run again%s", by, why, held);
	else
		record(c, "resumed", "resumed by %.*s (paused by %s%s); "
		    "automatic rollbacks run again%s", RBD_ACTOR_MAX - 1,
		    who(c->ev), by, why, held);
	return 0;
}

/* ---- Drill: the drill_* family (see "Drills" in watch.h) ---- */

/* Drill: how long since the current phase began. */
static uint64_t drill_elapsed(const struct ctx *c)
{
	return c->now > c->w.since ? c->now - c->w.since : 0;
}

/* Drill: the leg of the current phase: [0] back to K, [1] forward to L. */
static struct rbd_drill_leg *drill_leg(struct ctx *c)
{
	return &c->w.drill_legs[c->w.drill_phase >= RBD_DRILL_FORWARD];
}

/* Drill: run the deploy command of the phase, exactly as a rollback runs
 * it: K from L going back, L from K going forward. */
static void drill_run_deploy(struct ctx *c)
{
	struct rbd_action *a = add_action(c, RBD_ACT_RUN_DEPLOY);
	bool back = c->w.drill_phase == RBD_DRILL_BACK;

	c->w.deploy_id = c->w.next_deploy_id++;
	copy_version(a->version, back ? c->w.target : c->w.from);
	copy_version(a->from_version, back ? c->w.from : c->w.target);
	a->deploy_id = c->w.deploy_id;
}

/* Drill: enter phase ph of state drilling: a deploy phase runs its
 * command, a verify phase opens a window of the policy's verify. */
static void drill_enter(struct ctx *c, enum rbd_drill_phase ph)
{
	if (in_window(&c->w)) {
		add_action(c, RBD_ACT_STOP_PROBES);
		add_action(c, RBD_ACT_CANCEL_TIMER);
	}
	c->w.deploy_id = 0;
	c->w.migrating = false;
	c->w.target_schema = RBD_SCHEMA_NONE;
	c->w.state = RBD_STATE_DRILLING;
	c->w.drill_phase = ph;
	c->w.since = c->now;
	c->entered = true;
	if (!drill_verifying(&c->w)) {
		drill_run_deploy(c);
		return;
	}
	drill_leg(c)->state = RBD_LEG_VERIFYING;
	if (!c->p->n_checks)
		drill_leg(c)->healthy = true;	/* nothing to wait for */
	c->counts_reset = true;
	c->cnt.set = false;
	arm_window(c);
}

/* Drill: end the verification of the current leg as st. */
static void drill_leg_end(struct ctx *c, enum rbd_drill_leg_state st)
{
	struct rbd_drill_leg *l = drill_leg(c);

	l->state = st;
	l->verify_usec = drill_elapsed(c);
}

static int drill_close(struct ctx *c, const char *how);

/* Drill: a judged OK sample of check i in a verify phase: the leg is
 * healthy from the first moment every check's last judged sample is OK.
 * An aborted drill ends as soon as L is healthy again. */
static int drill_sample_ok(struct ctx *c, size_t i)
{
	struct rbd_drill_leg *l = drill_leg(c);
	size_t n = c->old->n_checks < c->p->n_checks ? c->old->n_checks :
	    c->p->n_checks;

	if (l->healthy)
		return 0;
	for (size_t j = 0; j < n; j++)
		if (j != i && (!c->old->window_ok[j] || c->old->fails[j] ||
		    c->old->unknowns[j]))
			return 0;
	l->healthy = true;
	l->healthy_usec = drill_elapsed(c);
	if (!c->w.drill_abort || c->w.drill_phase != RBD_DRILL_VERIFY_FORWARD)
		return 0;
	drill_leg_end(c, RBD_LEG_CUT);
	return drill_close(c, "is live and healthy again");
}

/* Drill: one leg of the report, appended to buf: "rollback to v1: deploy
 * command 1.2s, healthy after 300ms, verified for 2s". */
static void drill_leg_str(char *buf, size_t len, const char *what,
    const char *v, const struct rbd_drill_leg *l)
{
	char d[RBD_DURATION_STR_MAX], h[RBD_DURATION_STR_MAX];
	char t[RBD_DURATION_STR_MAX];

	appendf(buf, len, "%s to %s: ", what, v);
	rbd_elapsed_str(l->deploy_usec, d, sizeof(d));
	rbd_elapsed_str(l->healthy_usec, h, sizeof(h));
	rbd_elapsed_str(l->verify_usec, t, sizeof(t));
	switch (l->state) {
	case RBD_LEG_PENDING:
		appendf(buf, len, "not run");
		return;
	case RBD_LEG_DEPLOY_FAILED:
		appendf(buf, len, "deploy command FAILED after %s", d);
		return;
	default:
		break;
	}
	appendf(buf, len, "deploy command %s, ", d);
	if (l->healthy)
		appendf(buf, len, "healthy after %s, ", h);
	else
		appendf(buf, len, "never healthy, ");
	switch (l->state) {
	case RBD_LEG_UNHEALTHY:
		appendf(buf, len, "UNHEALTHY after %s", t);
		break;
	case RBD_LEG_VERIFIED:
		appendf(buf, len, "verified for %s", t);
		break;
	case RBD_LEG_CUT:
		appendf(buf, len, "verification cut short after %s by the "
		    "abort", t);
		break;
	default:
		appendf(buf, len, "still verifying");
		break;
	}
}

/* Drill: the whole report, both legs, into buf. */
static void drill_report(const struct rbd_watch *w, char *buf, size_t len,
    const char *k, const char *l)
{
	buf[0] = '\0';
	drill_leg_str(buf, len, "rollback", k, &w->drill_legs[0]);
	appendf(buf, len, "; ");
	drill_leg_str(buf, len, "roll forward", l, &w->drill_legs[1]);
}

/* Drill: the drill is over (the caller has entered its final state):
 * remember how it ended, and tell whoever waits on L. */
static enum rbd_drill_result drill_finish(struct ctx *c, const char *l)
{
	enum rbd_drill_result res = *c->w.drill_failure ? RBD_DRILL_FAILED :
	    c->w.drill_abort ? RBD_DRILL_ABORTED : RBD_DRILL_PASSED;
	static const enum rbd_verdict verdicts[] = {
		[RBD_DRILL_PASSED] = RBD_VERDICT_DRILL_PASSED,
		[RBD_DRILL_FAILED] = RBD_VERDICT_DRILL_FAILED,
		[RBD_DRILL_ABORTED] = RBD_VERDICT_DRILL_ABORTED,
	};

	c->w.drill_last = res;
	c->w.drill_last_wall = c->ev->wall;
	if (res == RBD_DRILL_PASSED)
		c->w.drill_passed_wall = c->ev->wall;
	snprintf(c->w.drill_last_reason, sizeof(c->w.drill_last_reason), "%s",
	    res == RBD_DRILL_FAILED ? c->w.drill_failure :
	    res == RBD_DRILL_ABORTED ? "aborted" : "passed");
	notify(c, l, verdicts[res]);
	return res;
}

/* Drill: back on L, verified or cut short: the drill ends, idle(L). */
static int drill_close(struct ctx *c, const char *how)
{
	char k[RBD_VERSION_MAX + 1], l[RBD_VERSION_MAX + 1];
	char rep[RBD_REASON_MAX];
	enum rbd_drill_result res;

	copy_version(k, c->w.target);
	copy_version(l, c->w.from);
	drill_report(&c->w, rep, sizeof(rep), k, l);
	enter(c, RBD_STATE_IDLE);
	res = drill_finish(c, l);
	if (res == RBD_DRILL_FAILED)
		record(c, "drill-failed", "drill FAILED: %s; %s %s; %s",
		    c->w.drill_failure, l, how, rep);
	else if (res == RBD_DRILL_ABORTED)
		record(c, "drill-aborted", "drill aborted: %s %s; %s", l, how,
		    rep);
	else
		record(c, "drill-passed", "drill passed: %s", rep);
	return 0;
}

/* Drill: the current phase's release is unhealthy (why): going back, K
 * failed the drill and L is deployed again at once (K is not marked bad:
 * a drill is practice, the team decides); going forward, L is unhealthy
 * after the drill: held, a person must decide. */
static int drill_unhealthy(struct ctx *c, const char *why)
{
	char k[RBD_VERSION_MAX + 1], l[RBD_VERSION_MAX + 1];

	copy_version(k, c->w.target);
	copy_version(l, c->w.from);
	drill_leg_end(c, RBD_LEG_UNHEALTHY);
	if (c->w.drill_phase == RBD_DRILL_VERIFY_BACK) {
		snprintf(c->w.drill_failure, sizeof(c->w.drill_failure),
		    "%s unhealthy: %s", k, why);
		drill_enter(c, RBD_DRILL_FORWARD);
		record(c, "drill-target-unhealthy", "drill FAILED: %s, the "
		    "rollback target, is unhealthy: %s; rolling forward to %s "
		    "at once (%s stays known-good: a drill is practice; "
		    "rollbackctl mark-bad %s %s keeps rollbacks away from it)",
		    k, why, l, k, service_of(c), k);
		return 0;
	}
	if (!*c->w.drill_failure)
		snprintf(c->w.drill_failure, sizeof(c->w.drill_failure),
		    "%s unhealthy after the roll forward: %s", l, why);
	enter(c, RBD_STATE_HELD);
	drill_finish(c, l);
	record(c, "drill-forward-failed", "drill FAILED: rolled forward to %s, "
	    "but it is unhealthy: %s; holding, a person must decide", l, why);
	return 0;
}

/* Drill: a verify phase's window passed cleanly. */
static int drill_window_passed(struct ctx *c)
{
	char v[RBD_DURATION_STR_MAX], h[RBD_DURATION_STR_MAX + 32] = "";
	char k[RBD_VERSION_MAX + 1];
	struct rbd_drill_leg *leg = drill_leg(c);

	drill_leg_end(c, RBD_LEG_VERIFIED);
	if (c->w.drill_phase == RBD_DRILL_VERIFY_FORWARD)
		return drill_close(c, "is live and verified again");
	copy_version(k, c->w.target);
	if (leg->healthy) {
		char t[RBD_DURATION_STR_MAX];

		snprintf(h, sizeof(h), " (healthy after %s)",
		    rbd_elapsed_str(leg->healthy_usec, t, sizeof(t)));
	}
	drill_enter(c, RBD_DRILL_FORWARD);
	record(c, "drill-verified", "drill: %s healthy for %s%s: the rollback "
	    "path works; rolling forward to %s", k,
	    rbd_duration_str(c->p->verify_usec, v, sizeof(v)), h, c->w.from);
	return 0;
}

/* Drill: DEPLOY_DONE of the drill's deploy command (detail: how it
 * ended). */
static int drill_deploy_done(struct ctx *c, const char *detail)
{
	struct rbd_drill_leg *leg = drill_leg(c);
	char k[RBD_VERSION_MAX + 1], l[RBD_VERSION_MAX + 1];
	char d[RBD_DURATION_STR_MAX], v[RBD_DURATION_STR_MAX];
	bool ok = c->ev->deploy == RBD_DEPLOY_OK;

	copy_version(k, c->w.target);
	copy_version(l, c->w.from);
	leg->deploy_usec = drill_elapsed(c);
	rbd_elapsed_str(leg->deploy_usec, d, sizeof(d));
	rbd_duration_str(c->p->verify_usec, v, sizeof(v));
	if (c->w.drill_phase == RBD_DRILL_BACK && !ok) {
		leg->state = RBD_LEG_DEPLOY_FAILED;
		snprintf(c->w.drill_failure, sizeof(c->w.drill_failure),
		    "the rollback to %s failed: deploy command %.*s", k,
		    RBD_DETAIL_MAX - 1, detail);
		drill_enter(c, RBD_DRILL_FORWARD);
		record(c, "drill-rollback-failed", "drill FAILED: rolling back "
		    "from %s to %s failed after %s: deploy command %.*s; "
		    "rolling forward to %s at once", l, k, d,
		    RBD_DETAIL_MAX - 1, detail, l);
		return 0;
	}
	if (c->w.drill_phase == RBD_DRILL_BACK) {
		copy_version(c->w.live, k);
		if (c->w.drill_abort) {
			leg->state = RBD_LEG_CUT;
			drill_enter(c, RBD_DRILL_FORWARD);
			record(c, "drill-rolled-back", "drill: deployed %s "
			    "(rollback from %s) in %s; the drill was aborted: "
			    "rolling forward to %s", k, l, d, l);
			return 0;
		}
		drill_enter(c, RBD_DRILL_VERIFY_BACK);
		record(c, "drill-rolled-back", "drill: deployed %s (rollback "
		    "from %s) in %s; verifying it for %s", k, l, d, v);
		return 0;
	}
	if (!ok) {
		leg->state = RBD_LEG_DEPLOY_FAILED;
		if (!*c->w.drill_failure)
			snprintf(c->w.drill_failure,
			    sizeof(c->w.drill_failure), "rolling forward to "
			    "%s failed: deploy command %.*s", l,
			    RBD_DETAIL_MAX - 1, detail);
		enter(c, RBD_STATE_HELD);
		drill_finish(c, l);
		record(c, "drill-forward-failed", "drill FAILED: rolling forward "
		    "from %s to %s failed after %s: deploy command %.*s; %s may "
		    "not be live: holding, a person must act", k, l, d,
		    RBD_DETAIL_MAX - 1, detail, l);
		return 0;
	}
	copy_version(c->w.live, l);
	drill_enter(c, RBD_DRILL_VERIFY_FORWARD);
	record(c, "drill-rolled-forward", "drill: deployed %s again (roll "
	    "forward from %s) in %s; verifying it for %s", l, k, d, v);
	return 0;
}

/* Drill: an operator event that would disturb the drill (what: "roll
 * back", ...): refused while drilling. */
static int drill_refuse_busy(struct ctx *c, const char *what)
{
	return refuse(c, -EBUSY, "%s is in a drill (%s, from %s to %s and "
	    "back): let it end, or abort it (rollbackctl drill --abort %s), "
	    "then %s", service_of(c), rbd_drill_phase_str(c->w.drill_phase),
	    c->w.from, c->w.target, service_of(c), what);
}

/* DRILL: start a drill from idle(L), L known-good and healthy, K the
 * rollback target; refused, with the reason, otherwise. */
static int on_drill(struct ctx *c)
{
	char chosen[RBD_REASON_MAX], k[RBD_VERSION_MAX + 1];
	char l[RBD_VERSION_MAX + 1], v[RBD_DURATION_STR_MAX];
	char by[RBD_ACTOR_MAX + 32], ps[RBD_REASON_MAX];
	int64_t to_schema = RBD_SCHEMA_NONE;
	const char *svc = service_of(c);
	int g, i;

	if (c->w.state == RBD_STATE_DRILLING)
		return refuse(c, -EBUSY, "%s is already in a drill (%s, from %s "
		    "to %s and back); rollbackctl drill --abort %s ends it", svc,
		    rbd_drill_phase_str(c->w.drill_phase), c->w.from,
		    c->w.target, svc);
	if (c->p->mode == RBD_MODE_DRY_RUN)
		return refuse(c, -EPERM, "%s is in dry-run mode: a drill runs "
		    "the deploy command, and dry-run never does", svc);
	if (c->w.state != RBD_STATE_IDLE)
		return refuse(c, -EBUSY, "%s is %s%s%s, not idle: a drill "
		    "starts only when the service is idle and healthy", svc,
		    rbd_state_str(c->w.state), *c->w.live ? " at " : "",
		    c->w.live);
	if (rbd_watch_paused(&c->w, c->now)) {
		pause_str(c, ps, sizeof(ps));
		return refuse(c, -EBUSY, "%s is %s: resume it before a drill",
		    svc, ps);
	}
	if (!*c->w.live)
		return refuse(c, -ENOENT, "%s has no live release: a drill "
		    "starts from a known-good release that is live", svc);
	if (good_index(&c->w, c->w.live) < 0)
		return refuse(c, -ENOENT, "%s, the live release of %s, is not "
		    "known-good: a drill starts from a known-good release",
		    c->w.live, svc);
	g = failing_guard(c);
	if (g >= 0)
		return refuse(c, -EBUSY, "guard %s is failing (%.*s): %s is "
		    "not healthy, not drilling", text_or(c->p->guards[g].name,
		    "?"), RBD_DETAIL_MAX - 1, text_or(c->old->guard_detail[g],
		    "failed"), svc);
	i = rbd_watch_choose_target(&c->w, c->p, &to_schema, chosen,
	    sizeof(chosen));
	if (i < 0)
		return refuse(c, -ENOENT, "nothing to drill with: %s", chosen);
	if (to_schema != RBD_SCHEMA_NONE)
		return refuse(c, -EOPNOTSUPP, "rolling back to %s needs "
		    "migrate_down from schema %" PRId64 " to %" PRId64 ", and "
		    "nothing migrates it up again: a drill never changes the "
		    "schema", c->w.good[i], c->w.schema, to_schema);
	copy_version(k, c->w.good[i]);
	copy_version(l, c->w.live);
	if (c->ev->actor)
		snprintf(by, sizeof(by), "requested by %.*s", RBD_ACTOR_MAX - 1,
		    c->ev->actor);
	else
		snprintf(by, sizeof(by), "scheduled by the policy");
	memset(c->w.drill_legs, 0, sizeof(c->w.drill_legs));
	c->w.drill_failure[0] = '\0';
	c->w.drill_abort = false;
	copy_version(c->w.from, l);
	copy_version(c->w.target, k);
	copy_version(c->w.drill_l, l);
	copy_version(c->w.drill_k, k);
	drill_enter(c, RBD_DRILL_BACK);
	record(c, "drill-started", "drill %s: rolling back from %s to %s%s%s "
	    "as an automatic rollback would, verifying it for %s, then "
	    "rolling forward to %s and verifying it again", by, l, k,
	    *chosen ? " " : "", *chosen ? chosen : "",
	    rbd_duration_str(c->p->verify_usec, v, sizeof(v)), l);
	return 0;
}

/* DRILL_ABORT: back to L as soon as possible. */
static int on_drill_abort(struct ctx *c)
{
	const char *svc = service_of(c);
	char l[RBD_VERSION_MAX + 1];

	if (c->w.state != RBD_STATE_DRILLING)
		return refuse(c, -EALREADY, "%s is not in a drill", svc);
	if (c->w.drill_abort)
		return refuse(c, -EALREADY, "the drill of %s is already being "
		    "aborted", svc);
	copy_version(l, c->w.from);
	c->w.drill_abort = true;
	switch (c->w.drill_phase) {
	case RBD_DRILL_BACK:
		record(c, "drill-abort-requested", "drill aborted by %.*s: "
		    "rolling forward to %s as soon as the rollback's deploy "
		    "command ends", RBD_ACTOR_MAX - 1, who(c->ev), l);
		return 0;
	case RBD_DRILL_VERIFY_BACK:
		drill_leg_end(c, RBD_LEG_CUT);
		drill_enter(c, RBD_DRILL_FORWARD);
		record(c, "drill-abort-requested", "drill aborted by %.*s: "
		    "rolling forward to %s now", RBD_ACTOR_MAX - 1, who(c->ev),
		    l);
		return 0;
	case RBD_DRILL_FORWARD:
		record(c, "drill-abort-requested", "drill aborted by %.*s: "
		    "already rolling forward to %s", RBD_ACTOR_MAX - 1,
		    who(c->ev), l);
		return 0;
	default:
		if (!drill_leg(c)->healthy) {
			record(c, "drill-abort-requested", "drill aborted by "
			    "%.*s: %s is live again; the drill ends as soon as "
			    "it is healthy", RBD_ACTOR_MAX - 1, who(c->ev), l);
			return 0;
		}
		drill_leg_end(c, RBD_LEG_CUT);
		return drill_close(c, "is live and healthy again");
	}
}

/* Whether an event of this type carries a version: 0 no, 1 required,
 * 2 optional. */
static const unsigned char version_use[_RBD_EV_MAX] = {
	[RBD_EV_DEPLOYED] = 1,
	[RBD_EV_MARK_GOOD] = 1,
	[RBD_EV_MARK_BAD] = 1,
	[RBD_EV_ROLLBACK] = 2,
};

/* Refuse a DEPLOYED event's schema and migration when they make no
 * sense. */
static int validate_schema(struct ctx *c)
{
	const struct rbd_event *ev = c->ev;

	if (ev->schema != RBD_SCHEMA_NONE &&
	    (ev->schema < 0 || ev->schema > RBD_SCHEMA_MAX))
		return refuse(c, -EINVAL, "invalid schema version %" PRId64
		    ": it must be between 0 and %" PRId64, ev->schema,
		    RBD_SCHEMA_MAX);
	if ((unsigned)ev->migration >= _RBD_MIGRATION_MAX)
		return refuse(c, -EINVAL, "unknown migration %d",
		    (int)ev->migration);
	if (ev->migration != RBD_MIGRATION_NONE &&
	    ev->schema == RBD_SCHEMA_NONE)
		return refuse(c, -EINVAL, "%s %s migration needs the schema "
		    "version the release runs against",
		    ev->migration == RBD_MIGRATION_IRREVERSIBLE ? "an" : "a",
		    rbd_migration_str(ev->migration));
	return 0;
}

/* Refuse a pause reason a history line could not show as it is. */
static int validate_pause(struct ctx *c)
{
	const char *s = c->ev->text;
	size_t len;

	if (!s)
		return 0;
	len = strlen(s);
	if (len > RBD_PAUSE_REASON_MAX)
		return refuse(c, -EINVAL, "pause reason too long (%zu bytes; "
		    "at most %d)", len, RBD_PAUSE_REASON_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return refuse(c, -EINVAL, "pause reason contains a "
			    "control character");
	return 0;
}

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
	n = c->old->n_guards < c->p->n_guards ? c->old->n_guards :
	    c->p->n_guards;
	if (ev->type == RBD_EV_GUARD_SAMPLE && ev->check >= n)
		return refuse(c, -EINVAL, "no guard #%zu", ev->check);
	if ((ev->type == RBD_EV_SAMPLE || ev->type == RBD_EV_GUARD_SAMPLE) &&
	    (unsigned)ev->sample >= _RBD_SAMPLE_RESULT_MAX)
		return refuse(c, -EINVAL, "unknown sample result %d",
		    (int)ev->sample);
	if ((ev->type == RBD_EV_DEPLOY_DONE ||
	    ev->type == RBD_EV_REMEDY_DONE) &&
	    (unsigned)ev->deploy >= _RBD_DEPLOY_RESULT_MAX)
		return refuse(c, -EINVAL, "unknown deploy result %d",
		    (int)ev->deploy);
	if (ev->type == RBD_EV_DEPLOYED)
		return validate_schema(c);
	if (ev->type == RBD_EV_PAUSE)
		return validate_pause(c);
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
	[RBD_EV_GUARD_SAMPLE] = on_guard_sample,
	[RBD_EV_PAUSE] = on_pause,
	[RBD_EV_RESUME] = on_resume,
	[RBD_EV_REMEDY_DONE] = remedy_on_done,
	[RBD_EV_DRILL] = on_drill,
	[RBD_EV_DRILL_ABORT] = on_drill_abort,
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

/* Write a check's counters (when set) into w. */
static void check_count_commit(struct rbd_watch *w,
    const struct check_count *k)
{
	if (!k->set)
		return;
	w->fails[k->i] = k->fails;
	w->unknowns[k->i] = k->unknowns;
	w->window_ok[k->i] = k->window_ok;
	if (k->no_data)
		snprintf(w->window_no_data[k->i],
		    sizeof(w->window_no_data[k->i]), "%s", k->no_data);
}

/* Write a guard's run (when set) into w. */
static void guard_count_commit(struct rbd_watch *w,
    const struct guard_count *g)
{
	if (!g->set)
		return;
	w->guard_fails[g->i] = g->fails;
	w->guard_since_wall[g->i] = g->since_wall;
	memcpy(w->guard_detail[g->i], g->detail, sizeof(w->guard_detail[g->i]));
}

/* Copy the accepted step out: counters, then the state and the step. */
static void commit(struct ctx *c, struct rbd_watch *w,
    struct rbd_step *ret_step)
{
	if (c->counts_reset)
		checks_reset(w);
	check_count_commit(w, &c->cnt);
	guard_count_commit(w, &c->gcnt);
	c->s.to = c->w.state;
	memcpy(w, &c->w, sizeof(*w));
	*ret_step = c->s;
}

/* The step of an event that changed nothing but counters: no record, no
 * update, no action, the state as it is. The arrays are left as they are
 * (only their first n_updates and n_actions entries mean anything). */
static void step_quiet(const struct rbd_watch *w, struct rbd_step *ret_step)
{
	ret_step->record = false;
	ret_step->event = NULL;
	ret_step->from = w->state;
	ret_step->to = w->state;
	ret_step->reason[0] = '\0';
	ret_step->n_updates = 0;
	ret_step->n_actions = 0;
}

/* The common case of a sample, taken without a ctx: one that changes at
 * most its own check's counters or guard's run, with no record and no
 * action, written straight into w. A ctx costs a copy of the whole watch
 * and the zeroing of a whole step (some 20 KB together, more than the
 * rest of a probe), for every sample. Returns false, having written
 * nothing, when the sample may do more: at or after the end of a window
 * or settle period, the sample that completes a fail_after or
 * inconclusive_after run, an OK sample while a drill verifies; on_sample
 * takes those. This must decide exactly as on_sample does (check_watch's
 * "quiet samples" tests pin both sides of every edge). ev has been
 * validated. */
static bool step_sample_fast(struct rbd_watch *w, const struct rbd_policy *p,
    const struct rbd_event *ev, uint64_t now, struct rbd_step *ret_step)
{
	struct check_count k = { .set = true, .i = ev->check };
	const struct rbd_check *chk;
	struct guard_count g;
	uint64_t end;

	if (ev->type == RBD_EV_GUARD_SAMPLE) {
		guard_judge(&g, w, p, ev);
		guard_count_commit(w, &g);
		step_quiet(w, ret_step);
		return true;
	}
	if (ev->type != RBD_EV_SAMPLE)
		return false;
	if (w->state == RBD_STATE_REMEDYING) {
		end = rbd_watch_settle_end(w, p);
		if (!end || now < w->remedy_at)
			k.set = false;
		else if (now >= end)
			return false;
	} else if (!in_window(w)) {
		k.set = false;
	} else if (now >= window_end(w, p)) {
		return false;
	} else if (now < w->since || now - w->since < p->warmup_usec) {
		k.set = false;
	}
	if (!k.set)
		goto quiet;
	chk = &p->checks[k.i];
	k.fails = w->fails[k.i];
	k.unknowns = w->unknowns[k.i];
	k.window_ok = w->window_ok[k.i];
	switch (ev->sample) {
	case RBD_SAMPLE_OK:
		if (drill_verifying(w))
			return false;
		k.fails = 0;
		k.unknowns = 0;
		if (k.window_ok < UINT_MAX)
			k.window_ok++;
		goto quiet;
	case RBD_SAMPLE_FAIL:
		break;
	default:
		switch (no_data_of(chk)) {
		case RBD_NO_DATA_FAIL:
			break;
		case RBD_NO_DATA_IGNORE:
			k.set = false;
			goto quiet;
		default:
			/* judge_unknown below inconclusive_after */
			if (k.unknowns + 1 >= inconclusive_after(chk))
				return false;
			k.unknowns++;
			k.no_data = text_or(ev->detail, "unknown");
			goto quiet;
		}
		break;
	}
	/* judge_failure below fail_after */
	if (k.fails + 1 >= chk->fail_after)
		return false;
	k.fails++;
	k.unknowns = 0;
quiet:
	check_count_commit(w, &k);
	step_quiet(w, ret_step);
	return true;
}

/* Advance w by one event: validate, handle, and commit only on success. */
int rbd_watch_step(struct rbd_watch *w, const struct rbd_policy *policy,
    const struct rbd_event *ev, uint64_t now, struct rbd_step *ret_step,
    char *errbuf, size_t errlen)
{
	struct ctx c;
	int r;

	/* validate() reads only these: a quiet sample never pays for
	 * ctx_init's copy of the watch and zeroing of the step. */
	c.p = policy;
	c.ev = ev;
	c.now = now;
	c.old = w;
	c.errbuf = errbuf;
	c.errlen = errlen;
	r = validate(&c);
	if (r < 0)
		return r;
	if (step_sample_fast(w, policy, ev, now, ret_step))
		return 0;
	ctx_init(&c, w, policy, now);
	c.ev = ev;
	c.errbuf = errbuf;
	c.errlen = errlen;
	r = handlers[ev->type](&c);
	if (r < 0)
		return r;
	commit(&c, w, ret_step);
	return 0;
}

/* After a restart: the actions that carry on what w was doing. A rollback
 * in progress is run again, its down-migration first when that had not
 * finished (both are idempotent by contract); a pause does not stop a
 * rollback already under way. */
void rbd_watch_resume(struct rbd_watch *w, const struct rbd_policy *policy,
    uint64_t now, struct rbd_step *ret_step)
{
	static const struct rbd_event none;
	struct ctx c;

	ctx_init(&c, w, policy, now);
	c.ev = &none;
	if (in_window(w))
		arm_window(&c);
	else if (w->state == RBD_STATE_DRILLING)
		drill_run_deploy(&c);
	else if (w->state == RBD_STATE_ROLLING_BACK && w->migrating)
		run_migration(&c);
	else if (w->state == RBD_STATE_ROLLING_BACK)
		run_deploy(&c);
	else if (w->state == RBD_STATE_REMEDYING)
		remedy_resume(&c);
	fill_reasons(&c, w->reason);
	commit(&c, w, ret_step);
}
