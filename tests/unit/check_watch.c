/* The watch engine (lib/watch.c): every transition and rule of DESIGN.md
 * section 3 and the watch spec. Reasons are compared exactly: they are what
 * a person reads in rollbackctl status and history. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "watch.h"
#include "testutil.h"

#define SEC	RBD_USEC_PER_SEC
#define MIN	RBD_USEC_PER_MIN
#define HOUR	RBD_USEC_PER_HOUR
#define DURATION (10 * MIN)
#define WARMUP	(30 * SEC)
#define VERIFY	(5 * MIN)
/* Monotonic times of the scripted history every fixture follows. */
#define T0	(1000 * SEC)		/* v1 announced */
#define T1	(T0 + 20 * MIN)		/* v2 announced (v1 promoted at T0+10m) */
#define T2	(T1 + 2 * MIN)		/* rollback deploy finished */
#define T3	(T2 + 1 * MIN)		/* an operator acts */
#define ACTOR	"uid 1000 pid 42"

#define HEALTHZ	0
#define ERRRATE	1

static char service[] = "checkout";
static char name_healthz[] = "healthz";
static char name_errrate[] = "error-rate";
static char name_p99[] = "p99";
static struct rbd_check checks[2];
static struct rbd_policy policy;

static struct rbd_watch *w;
static struct rbd_step st;	/* the last accepted step */
static uint64_t last_t;		/* the time of the last step */
static char err[256];

/* A fresh policy and watch for each test: two checks, fail_after 3 and 2. */
static void setup(void)
{
	memset(checks, 0, sizeof(checks));
	checks[HEALTHZ].name = name_healthz;
	checks[HEALTHZ].fail_after = 3;
	checks[ERRRATE].name = name_errrate;
	checks[ERRRATE].fail_after = 2;
	memset(&policy, 0, sizeof(policy));
	policy.service = service;
	policy.deploy_timeout_usec = 5 * MIN;
	policy.duration_usec = DURATION;
	policy.interval_usec = 10 * SEC;
	policy.warmup_usec = WARMUP;
	policy.verify_usec = VERIFY;
	/* The loader's defaults for the keys this policy leaves out: mode
	 * enforce (0), rollback.max_automatic 3 per 1h, no guards, no
	 * migrate_down. */
	policy.max_automatic = 3;
	policy.automatic_per_usec = HOUR;
	policy.checks = checks;
	policy.n_checks = 2;
	w = rbd_watch_new(&policy);
	ck_assert_ptr_nonnull(w);
	memset(&st, 0, sizeof(st));
}

/* Free the watch of the test. */
static void teardown(void)
{
	rbd_watch_free(w);
	w = NULL;
}

/* Event constructors. */
static struct rbd_event deployed(const char *v)
{
	return (struct rbd_event){ .type = RBD_EV_DEPLOYED, .version = v,
	    .actor = ACTOR, .schema = RBD_SCHEMA_NONE };
}

static struct rbd_event sample(size_t check, enum rbd_sample_result r,
    const char *detail)
{
	return (struct rbd_event){ .type = RBD_EV_SAMPLE, .check = check,
	    .sample = r, .detail = detail };
}

static struct rbd_event failing(size_t check)
{
	return sample(check, RBD_SAMPLE_FAIL,
	    check == HEALTHZ ? "HTTP 500" : "0.073 > 0.02");
}

static struct rbd_event timer(void)
{
	return (struct rbd_event){ .type = RBD_EV_TIMER };
}

static struct rbd_event done(uint64_t id, enum rbd_deploy_result r,
    const char *detail)
{
	return (struct rbd_event){ .type = RBD_EV_DEPLOY_DONE,
	    .deploy_id = id, .deploy = r, .detail = detail };
}

static struct rbd_event operator(enum rbd_event_type t, const char *v)
{
	return (struct rbd_event){ .type = t, .version = v, .actor = ACTOR };
}

/* Whether v is in good[] / bad[]. */
static bool in_list(char (*list)[RBD_VERSION_MAX + 1], size_t n,
    const char *v)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], v) == 0)
			return true;
	return false;
}

/* What holds after every accepted step, whatever it was. */
static void invariants(int line)
{
	ck_assert_msg(st.to == w->state, "line %d: step.to is not the state",
	    line);
	if (st.record) {
		ck_assert_msg(st.event && st.reason[0], "line %d: record "
		    "without event or reason", line);
	} else {
		ck_assert_msg(!st.event && st.from == st.to &&
		    st.n_updates == 0, "line %d: no record, yet a change", line);
	}
	for (size_t i = 0; i < st.n_actions; i++)
		if (st.actions[i].type == RBD_ACT_RUN_DEPLOY ||
		    st.actions[i].type == RBD_ACT_RUN_MIGRATION ||
		    st.actions[i].type == RBD_ACT_NOTIFY)
			ck_assert_msg(st.actions[i].reason[0],
			    "line %d: action %zu without a reason", line, i);
	for (size_t i = 0; i < w->n_good; i++)
		ck_assert_msg(!in_list(w->bad, w->n_bad, w->good[i]),
		    "line %d: %s both good and bad", line, w->good[i]);
}

/* Feed ev at t; returns what rbd_watch_step returned. */
static int try_step(struct rbd_event ev, uint64_t t)
{
	last_t = t;
	err[0] = '\0';
	return rbd_watch_step(w, &policy, &ev, t, &st, err, sizeof(err));
}

/* Feed ev at t, which must be accepted. */
static void step_ok(struct rbd_event ev, uint64_t t, int line)
{
	int r = try_step(ev, t);

	ck_assert_msg(r == 0, "line %d: %s refused: %d %s", line,
	    rbd_event_type_str(ev.type), r, err);
	invariants(line);
}
#define STEP(ev, t) step_ok((ev), (t), __LINE__)

/* Feed ev at t, which must be accepted and change nothing worth a record. */
static void quiet_ok(struct rbd_event ev, uint64_t t, int line)
{
	step_ok(ev, t, line);
	ck_assert_msg(!st.record && st.n_actions == 0,
	    "line %d: %s at %" PRIu64 " recorded '%s'", line,
	    rbd_event_type_str(ev.type), t, st.reason);
}
#define QUIET(ev, t) quiet_ok((ev), (t), __LINE__)

/* A byte-exact copy of the watch and its heap counters. */
struct snap {
	struct rbd_watch w;
	unsigned fails[8];
	unsigned unknowns[8];
	unsigned window_ok[8];
	char window_no_data[8][RBD_DETAIL_MAX];
	unsigned guard_fails[8];
	uint64_t guard_since_wall[8];
	char guard_detail[8][RBD_DETAIL_MAX];
};

/* Take a snapshot of w. */
static void snap_take(struct snap *s)
{
	size_t n = w->n_checks;

	ck_assert_uint_le(n, N_ELEMENTS(s->fails));
	ck_assert_uint_le(w->n_guards, N_ELEMENTS(s->guard_fails));
	memcpy(&s->w, w, sizeof(*w));
	if (w->n_guards) {
		memcpy(s->guard_fails, w->guard_fails,
		    w->n_guards * sizeof(*w->guard_fails));
		memcpy(s->guard_since_wall, w->guard_since_wall,
		    w->n_guards * sizeof(*w->guard_since_wall));
		memcpy(s->guard_detail, w->guard_detail,
		    w->n_guards * sizeof(*w->guard_detail));
	}
	if (!n)
		return;
	memcpy(s->fails, w->fails, n * sizeof(*w->fails));
	memcpy(s->unknowns, w->unknowns, n * sizeof(*w->unknowns));
	memcpy(s->window_ok, w->window_ok, n * sizeof(*w->window_ok));
	memcpy(s->window_no_data, w->window_no_data,
	    n * sizeof(*w->window_no_data));
}

/* Whether w is exactly as in the snapshot, counters included. */
static void snap_same(const struct snap *s, int line)
{
	size_t n = w->n_checks;

	ck_assert_msg(memcmp(&s->w, w, sizeof(*w)) == 0,
	    "line %d: watch changed", line);
	if (w->n_guards) {
		ck_assert_msg(memcmp(s->guard_fails, w->guard_fails,
		    w->n_guards * sizeof(*w->guard_fails)) == 0 &&
		    memcmp(s->guard_since_wall, w->guard_since_wall,
		    w->n_guards * sizeof(*w->guard_since_wall)) == 0 &&
		    memcmp(s->guard_detail, w->guard_detail,
		    w->n_guards * sizeof(*w->guard_detail)) == 0,
		    "line %d: guard runs changed", line);
	}
	if (!n)
		return;
	ck_assert_msg(memcmp(s->fails, w->fails, n * sizeof(*w->fails)) == 0,
	    "line %d: failure counters changed", line);
	ck_assert_msg(memcmp(s->unknowns, w->unknowns,
	    n * sizeof(*w->unknowns)) == 0,
	    "line %d: unknown counters changed", line);
	ck_assert_msg(memcmp(s->window_ok, w->window_ok,
	    n * sizeof(*w->window_ok)) == 0,
	    "line %d: window OK tallies changed", line);
	ck_assert_msg(memcmp(s->window_no_data, w->window_no_data,
	    n * sizeof(*w->window_no_data)) == 0,
	    "line %d: window no-data details changed", line);
}

/* Feed ev at t, which must be refused with want and msg (NULL: any
 * message), leaving the watch and the step output untouched. */
static void refused(struct rbd_event ev, uint64_t t, int want,
    const char *msg, int line)
{
	struct rbd_step out;
	struct snap s;
	unsigned char *p = (unsigned char *)&out;
	int r;

	snap_take(&s);
	memset(&out, 0xa5, sizeof(out));
	err[0] = '\0';
	r = rbd_watch_step(w, &policy, &ev, t, &out, err, sizeof(err));
	ck_assert_msg(r == want, "line %d: returned %d, want %d (%s)", line,
	    r, want, err);
	if (msg)
		ck_assert_msg(strcmp(err, msg) == 0,
		    "line %d: message\n  '%s'\nwant\n  '%s'", line, err, msg);
	else
		ck_assert_msg(err[0], "line %d: empty message", line);
	snap_same(&s, line);
	for (size_t i = 0; i < sizeof(out); i++)
		ck_assert_msg(p[i] == 0xa5, "line %d: step written", line);
}
#define REFUSED(ev, t, want, msg) refused((ev), (t), (want), (msg), __LINE__)

/* The actions of the last step, one word each, with their arguments:
 * "stop-probes run-deploy(v2->v1 #1) notify(v2 rolled_back)
 * set-timer(10m) run-migration(v2->v1 43->42 #1)" where a timer shows its
 * deadline relative to now. */
static const char *acts(void)
{
	static char buf[1024];
	char d[RBD_DURATION_STR_MAX];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < st.n_actions; i++) {
		const struct rbd_action *a = &st.actions[i];
		const char *name = rbd_action_type_str(a->type);
		const char *sp = i ? " " : "";

		if (a->type == RBD_ACT_RUN_DEPLOY)
			off += snprintf(buf + off, sizeof(buf) - off,
			    "%s%s(%s->%s #%" PRIu64 ")", sp, name,
			    a->from_version, a->version, a->deploy_id);
		else if (a->type == RBD_ACT_RUN_MIGRATION)
			off += snprintf(buf + off, sizeof(buf) - off,
			    "%s%s(%s->%s %" PRId64 "->%" PRId64 " #%" PRIu64
			    ")", sp, name, a->from_version, a->version,
			    a->from_schema, a->to_schema, a->deploy_id);
		else if (a->type == RBD_ACT_NOTIFY)
			off += snprintf(buf + off, sizeof(buf) - off,
			    "%s%s(%s %s)", sp, name, a->version,
			    rbd_verdict_str(a->verdict));
		else if (a->type == RBD_ACT_RUN_REMEDY)
			off += snprintf(buf + off, sizeof(buf) - off,
			    "%s%s(%zu %s k=%s #%" PRIu64 ")", sp, name,
			    a->remedy, a->version, a->from_version,
			    a->deploy_id);
		else if (a->type == RBD_ACT_SET_TIMER)
			off += snprintf(buf + off, sizeof(buf) - off,
			    "%s%s(%s%s)", sp, name,
			    a->deadline < last_t ? "-" : "",
			    rbd_duration_str(a->deadline < last_t ?
			    last_t - a->deadline : a->deadline - last_t, d,
			    sizeof(d)));
		else
			off += snprintf(buf + off, sizeof(buf) - off, "%s%s",
			    sp, name);
	}
	return buf;
}

/* The release updates of the last step: "v3=watching v2=superseded". */
static const char *updates(void)
{
	static char buf[1024];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < st.n_updates; i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s%s=%s",
		    i ? " " : "", st.updates[i].version,
		    rbd_release_status_str(st.updates[i].status));
	return buf;
}

/* The one action of type t in the last step (fails if not exactly one). */
static const struct rbd_action *action(enum rbd_action_type t)
{
	const struct rbd_action *found = NULL;

	for (size_t i = 0; i < st.n_actions; i++)
		if (st.actions[i].type == t) {
			ck_assert_ptr_null(found);
			found = &st.actions[i];
		}
	ck_assert_ptr_nonnull(found);
	return found;
}

/* Assert the last step was a record: event, from -> to, reason. */
static void recorded(const char *event, enum rbd_state from,
    enum rbd_state to, const char *reason, int line)
{
	ck_assert_msg(st.record, "line %d: no record", line);
	ck_assert_msg(strcmp(st.event, event) == 0,
	    "line %d: event '%s', want '%s'", line, st.event, event);
	ck_assert_msg(st.from == from && st.to == to,
	    "line %d: %s -> %s, want %s -> %s", line, rbd_state_str(st.from),
	    rbd_state_str(st.to), rbd_state_str(from), rbd_state_str(to));
	ck_assert_msg(strcmp(st.reason, reason) == 0,
	    "line %d: reason\n  '%s'\nwant\n  '%s'", line, st.reason, reason);
}
#define RECORDED(ev, f, t, r) recorded((ev), RBD_STATE_##f, RBD_STATE_##t, \
    (r), __LINE__)

/* A timer that fires before the window's end records nothing and is armed
 * again for the end (the shell's timer clock is coarser than its samples'). */
static void early_timer(uint64_t t, const char *want_acts, int line)
{
	step_ok(timer(), t, line);
	ck_assert_msg(!st.record, "line %d: early timer recorded '%s'", line,
	    st.reason);
	ck_assert_str_eq(acts(), want_acts);
}

/* Fixtures: the scripted history, stopped at each state. */

/* watching(v1) since T0, with no known-good release. */
static void to_first(void)
{
	STEP(deployed("v1"), T0);
}

/* idle(v1), v1 known-good since T0+10m. */
static void to_idle(void)
{
	to_first();
	STEP(timer(), T0 + DURATION);
}

/* watching(v2) since T1, v1 known-good. */
static void to_watching(void)
{
	to_idle();
	STEP(deployed("v2"), T1);
}

/* rolling_back(v2 -> v1), deploy #1; healthz has one failure counted. */
static void to_rolling(void)
{
	to_watching();
	STEP(failing(HEALTHZ), T1 + WARMUP);
	STEP(failing(ERRRATE), T1 + WARMUP + 10 * SEC);
	STEP(failing(ERRRATE), T1 + WARMUP + 20 * SEC);
	ck_assert_int_eq(w->state, RBD_STATE_ROLLING_BACK);
}

/* verifying(v1) since T2, v2 bad. */
static void to_verifying(void)
{
	to_rolling();
	STEP(done(1, RBD_DEPLOY_OK, NULL), T2);
}

/* held since T2: the rollback from v2 to v1 failed; v2 live and bad. */
static void to_held(void)
{
	to_rolling();
	STEP(done(1, RBD_DEPLOY_FAILED, "exited with status 2"), T2);
}

enum fx { FX_FRESH, FX_IDLE, FX_WATCHING, FX_ROLLING, FX_VERIFYING, FX_HELD,
	_FX_MAX };

static void (*const fixtures[_FX_MAX])(void) = {
	[FX_IDLE] = to_idle,
	[FX_WATCHING] = to_watching,
	[FX_ROLLING] = to_rolling,
	[FX_VERIFYING] = to_verifying,
	[FX_HELD] = to_held,
};

/* Bring the watch to fixture f. */
static void build(enum fx f)
{
	if (fixtures[f])
		fixtures[f]();
}

/* ---- deployed ---- */

START_TEST(test_deploy_first)
{
	STEP(deployed("v1"), T0);
	RECORDED("deployed", IDLE, WATCHING, "v1 announced by uid 1000 pid 42; "
	    "watching for 10m (warm-up 30s)");
	ck_assert_str_eq(acts(), "start-probes set-timer(10m)");
	ck_assert_str_eq(updates(), "v1=watching");
	ck_assert_str_eq(w->live, "v1");
	ck_assert_uint_eq(w->since, T0);
	ck_assert_str_eq(w->reason, st.reason);
}
END_TEST

/* No actor (or an empty one): the "by" part is left out. */
START_TEST(test_deploy_no_actor)
{
	struct rbd_event ev = deployed("v1");

	ev.actor = _i ? "" : NULL;
	STEP(ev, T0);
	ck_assert_str_eq(st.reason,
	    "v1 announced; watching for 10m (warm-up 30s)");
}
END_TEST

START_TEST(test_deploy_supersedes)
{
	to_watching();
	STEP(failing(HEALTHZ), T1 + WARMUP);
	ck_assert_uint_eq(w->fails[HEALTHZ], 1);
	STEP(deployed("v3"), T1 + MIN);
	RECORDED("deployed", WATCHING, WATCHING, "v3 announced by uid 1000 "
	    "pid 42; watching for 10m (warm-up 30s)");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer start-probes "
	    "set-timer(10m) notify(v2 superseded)");
	ck_assert_str_eq(updates(), "v3=watching v2=superseded");
	ck_assert_str_eq(action(RBD_ACT_NOTIFY)->reason,
	    "v3 announced before the watch of v2 ended");
	ck_assert_uint_eq(w->fails[HEALTHZ], 0);
	ck_assert_uint_eq(w->since, T1 + MIN);
	ck_assert_str_eq(w->live, "v3");
	/* v2 was neither promoted nor condemned: v1 is still the target. */
	ck_assert_str_eq(rbd_watch_rollback_target(w), "v1");
	ck_assert(!in_list(w->bad, w->n_bad, "v2"));
}
END_TEST

/* The same version again: a fresh watch, nobody superseded; the old
 * timer is then stale. */
START_TEST(test_deploy_same_again)
{
	to_watching();
	STEP(failing(HEALTHZ), T1 + WARMUP);
	STEP(deployed("v2"), T1 + MIN);
	RECORDED("deployed", WATCHING, WATCHING, "v2 announced by uid 1000 "
	    "pid 42; watching for 10m (warm-up 30s)");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer start-probes "
	    "set-timer(10m)");
	ck_assert_str_eq(updates(), "v2=watching");
	ck_assert_uint_eq(w->fails[HEALTHZ], 0);
	early_timer(T1 + DURATION, "set-timer(1m)", __LINE__);
	STEP(timer(), T1 + MIN + DURATION);
	RECORDED("promoted", WATCHING, IDLE,
	    "v2 healthy for 10m; now the known-good release");
}
END_TEST

/* Announcing a release marked bad watches it afresh and forgives it. */
START_TEST(test_deploy_bad_again)
{
	to_idle();
	STEP(operator(RBD_EV_MARK_BAD, "v1"), T1);
	ck_assert(in_list(w->bad, w->n_bad, "v1"));
	STEP(deployed("v1"), T1 + MIN);
	RECORDED("deployed", IDLE, WATCHING, "v1 announced by uid 1000 pid 42; "
	    "watching for 10m (warm-up 30s)");
	ck_assert_uint_eq(w->n_bad, 0);
	STEP(timer(), T1 + MIN + DURATION);
	ck_assert_str_eq(updates(), "v1=good");
	ck_assert_str_eq(w->good[0], "v1");
}
END_TEST

/* A deploy during verification abandons it; K keeps its status. */
START_TEST(test_deploy_from_verifying)
{
	to_verifying();
	STEP(deployed("v3"), T3);
	RECORDED("deployed", VERIFYING, WATCHING, "v3 announced by uid 1000 "
	    "pid 42; watching for 10m (warm-up 30s)");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer start-probes "
	    "set-timer(10m)");
	ck_assert_str_eq(updates(), "v3=watching");
	ck_assert_str_eq(w->target, "");
	ck_assert_str_eq(w->from, "");
	ck_assert_str_eq(rbd_watch_rollback_target(w), "v1");
}
END_TEST

START_TEST(test_deploy_from_held)
{
	to_held();
	STEP(deployed("v3"), T3);
	RECORDED("deployed", HELD, WATCHING, "v3 announced by uid 1000 pid 42; "
	    "watching for 10m (warm-up 30s)");
	ck_assert_str_eq(acts(), "start-probes set-timer(10m)");
	ck_assert_str_eq(updates(), "v3=watching");
}
END_TEST

/* Two deploys racing are not papered over. The refusal must not reset
 * the failure counters as entering watching would. */
START_TEST(test_deploy_refused_rolling_back)
{
	to_rolling();
	ck_assert_uint_eq(w->fails[HEALTHZ], 1);
	REFUSED(deployed("v3"), T2, -EBUSY, "checkout is rolling back from v2 "
	    "to v1; announce v3 again once the rollback has finished "
	    "(rollbackctl status checkout)");
}
END_TEST

/* ---- the watch window ---- */

START_TEST(test_promote_on_timer)
{
	to_first();
	early_timer(T0 + DURATION - 1, "set-timer(1us)", __LINE__);
	ck_assert_int_eq(w->state, RBD_STATE_WATCHING);
	STEP(timer(), T0 + DURATION);
	RECORDED("promoted", WATCHING, IDLE,
	    "v1 healthy for 10m; now the known-good release");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v1 promoted)");
	ck_assert_str_eq(action(RBD_ACT_NOTIFY)->reason, st.reason);
	ck_assert_str_eq(updates(), "v1=good");
	ck_assert_uint_eq(w->n_good, 1);
	ck_assert_str_eq(w->good[0], "v1");
	ck_assert_str_eq(w->live, "v1");
	ck_assert_uint_eq(w->since, T0 + DURATION);
	ck_assert_str_eq(w->reason, st.reason);
}
END_TEST

/* A timer that fires late still promotes. */
START_TEST(test_promote_late_timer)
{
	to_first();
	STEP(timer(), T0 + DURATION + 5 * MIN);
	RECORDED("promoted", WATCHING, IDLE,
	    "v1 healthy for 10m; now the known-good release");
}
END_TEST

/* A sample at exactly since+duration is too late: the window has passed,
 * so the release is promoted and the sample (which would complete
 * fail_after) is not judged. */
START_TEST(test_sample_at_end_promotes)
{
	to_watching();
	STEP(failing(HEALTHZ), T1 + WARMUP);
	STEP(failing(HEALTHZ), T1 + 5 * MIN);
	STEP(failing(HEALTHZ), T1 + DURATION);
	RECORDED("promoted", WATCHING, IDLE,
	    "v2 healthy for 10m; now the known-good release");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 promoted)");
	ck_assert_str_eq(w->good[0], "v2");
}
END_TEST

/* One microsecond earlier the same sample is judged and rolls back. */
START_TEST(test_sample_before_end_rolls_back)
{
	to_watching();
	STEP(failing(HEALTHZ), T1 + WARMUP);
	STEP(failing(HEALTHZ), T1 + 5 * MIN);
	STEP(failing(HEALTHZ), T1 + DURATION - 1);
	RECORDED("degraded", WATCHING, ROLLING_BACK, "healthz: HTTP 500 for 3 "
	    "consecutive samples (fail_after 3); rolling back from v2 to v1");
}
END_TEST

/* since+warmup-1 is recorded, not judged; since+warmup is judged. */
START_TEST(test_warmup_boundary)
{
	to_watching();
	QUIET(failing(ERRRATE), T1 + WARMUP - 1);
	ck_assert_uint_eq(w->fails[ERRRATE], 0);
	QUIET(failing(ERRRATE), T1 + WARMUP);
	ck_assert_uint_eq(w->fails[ERRRATE], 1);
	STEP(failing(ERRRATE), T1 + WARMUP + 10 * SEC);
	RECORDED("degraded", WATCHING, ROLLING_BACK, "error-rate: 0.073 > 0.02 "
	    "for 2 consecutive samples (fail_after 2); rolling back from v2 "
	    "to v1");
}
END_TEST

/* A timer in a state without a window changes nothing. */
START_TEST(test_timer_without_window)
{
	static const enum fx states[] = { FX_FRESH, FX_IDLE, FX_ROLLING,
	    FX_HELD };
	struct snap s;

	build(states[_i]);
	snap_take(&s);
	QUIET(timer(), T3 + 24 * 60 * MIN);
	snap_same(&s, __LINE__);
}
END_TEST

/* ---- samples ---- */

/* fail_after counts are per check: two healthz failures and one
 * error-rate failure degrade nothing; the second error-rate one does. */
START_TEST(test_fail_after_per_check)
{
	to_watching();
	QUIET(failing(HEALTHZ), T1 + WARMUP);
	QUIET(failing(HEALTHZ), T1 + WARMUP + 10 * SEC);
	QUIET(failing(ERRRATE), T1 + WARMUP + 11 * SEC);
	ck_assert_uint_eq(w->fails[HEALTHZ], 2);
	ck_assert_uint_eq(w->fails[ERRRATE], 1);
	STEP(failing(ERRRATE), T1 + WARMUP + 21 * SEC);
	RECORDED("degraded", WATCHING, ROLLING_BACK, "error-rate: 0.073 > 0.02 "
	    "for 2 consecutive samples (fail_after 2); rolling back from v2 "
	    "to v1");
}
END_TEST

/* An OK sample resets its own check's count, and only that one. */
START_TEST(test_ok_resets)
{
	to_watching();
	QUIET(failing(HEALTHZ), T1 + WARMUP);
	QUIET(failing(HEALTHZ), T1 + WARMUP + 10 * SEC);
	QUIET(sample(HEALTHZ, RBD_SAMPLE_OK, "HTTP 200"), T1 + WARMUP + 20 * SEC);
	ck_assert_uint_eq(w->fails[HEALTHZ], 0);
	QUIET(failing(HEALTHZ), T1 + WARMUP + 30 * SEC);
	QUIET(failing(HEALTHZ), T1 + WARMUP + 40 * SEC);
	QUIET(sample(ERRRATE, RBD_SAMPLE_OK, "0.001"), T1 + WARMUP + 41 * SEC);
	ck_assert_uint_eq(w->fails[HEALTHZ], 2);
	STEP(failing(HEALTHZ), T1 + WARMUP + 50 * SEC);
	RECORDED("degraded", WATCHING, ROLLING_BACK, "healthz: HTTP 500 for 3 "
	    "consecutive samples (fail_after 3); rolling back from v2 to v1");
}
END_TEST

/* UNKNOWN (no_data inconclusive, the default) neither counts towards
 * fail_after nor resets that count; it counts on its own (five in a row
 * would hold: see the no-data tests). */
START_TEST(test_unknown_neither)
{
	to_watching();
	for (int i = 0; i < 4; i++)
		QUIET(sample(HEALTHZ, RBD_SAMPLE_UNKNOWN, "skipped"),
		    T1 + WARMUP + (uint64_t)i * SEC);
	ck_assert_uint_eq(w->fails[HEALTHZ], 0);
	ck_assert_uint_eq(w->unknowns[HEALTHZ], 4);
	QUIET(failing(HEALTHZ), T1 + WARMUP + 10 * SEC);
	QUIET(failing(HEALTHZ), T1 + WARMUP + 20 * SEC);
	QUIET(sample(HEALTHZ, RBD_SAMPLE_UNKNOWN, NULL), T1 + WARMUP + 30 * SEC);
	ck_assert_uint_eq(w->fails[HEALTHZ], 2);
	STEP(failing(HEALTHZ), T1 + WARMUP + 40 * SEC);
	RECORDED("degraded", WATCHING, ROLLING_BACK, "healthz: HTTP 500 for 3 "
	    "consecutive samples (fail_after 3); rolling back from v2 to v1");
}
END_TEST

/* fail_after 1 says no "consecutive samples". */
START_TEST(test_fail_after_one)
{
	checks[ERRRATE].fail_after = 1;
	to_watching();
	STEP(sample(ERRRATE, RBD_SAMPLE_FAIL, "HTTP 500"), T1 + WARMUP);
	RECORDED("degraded", WATCHING, ROLLING_BACK, "error-rate: HTTP 500 "
	    "(fail_after 1); rolling back from v2 to v1");
}
END_TEST

/* A failure without a detail is "failed". */
START_TEST(test_fail_no_detail)
{
	const char *detail = _i ? "" : NULL;

	to_watching();
	for (uint64_t i = 0; i < 3; i++)
		STEP(sample(HEALTHZ, RBD_SAMPLE_FAIL, detail),
		    T1 + WARMUP + i * 10 * SEC);
	RECORDED("degraded", WATCHING, ROLLING_BACK, "healthz: failed for 3 "
	    "consecutive samples (fail_after 3); rolling back from v2 to v1");
}
END_TEST

/* A check index out of range is refused, in any state. */
START_TEST(test_sample_bad_index)
{
	static const enum fx states[] = { FX_FRESH, FX_WATCHING };

	build(states[_i]);
	REFUSED(failing(2), T1 + 5 * MIN, -EINVAL, "no check #2");
	REFUSED(failing((size_t)-1), T1 + 5 * MIN, -EINVAL,
	    "no check #18446744073709551615");
}
END_TEST

/* Samples outside watching and verifying are ignored entirely. */
START_TEST(test_sample_outside_window)
{
	static const enum fx states[] = { FX_FRESH, FX_IDLE, FX_ROLLING,
	    FX_HELD };
	struct snap s;

	build(states[_i]);
	snap_take(&s);
	for (uint64_t i = 0; i < 4; i++) {
		QUIET(failing(HEALTHZ), T3 + i * SEC);
		QUIET(sample(ERRRATE, RBD_SAMPLE_OK, NULL), T3 + i * SEC);
	}
	snap_same(&s, __LINE__);
}
END_TEST

/* ---- degraded ---- */

START_TEST(test_degraded_rolls_back)
{
	to_rolling();
	RECORDED("degraded", WATCHING, ROLLING_BACK, "error-rate: 0.073 > 0.02 "
	    "for 2 consecutive samples (fail_after 2); rolling back from v2 "
	    "to v1");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer "
	    "run-deploy(v2->v1 #1) notify(v2 rolled_back)");
	ck_assert_str_eq(action(RBD_ACT_RUN_DEPLOY)->reason, st.reason);
	ck_assert_str_eq(action(RBD_ACT_NOTIFY)->reason, st.reason);
	ck_assert_str_eq(updates(), "v2=bad");
	ck_assert_str_eq(w->live, "v2");
	ck_assert_str_eq(w->target, "v1");
	ck_assert_str_eq(w->from, "v2");
	ck_assert_uint_eq(w->deploy_id, 1);
	ck_assert_uint_eq(w->next_deploy_id, 2);
	ck_assert_str_eq(w->bad[0], "v2");
	ck_assert_uint_eq(w->n_good, 1);
	ck_assert_str_eq(w->good[0], "v1");
	ck_assert_str_eq(w->reason, st.reason);
}
END_TEST

/* No known-good release: held, with the way out in the reason. */
START_TEST(test_degraded_no_known_good)
{
	to_first();
	STEP(failing(ERRRATE), T0 + WARMUP);
	STEP(failing(ERRRATE), T0 + WARMUP + 10 * SEC);
	RECORDED("degraded", WATCHING, HELD, "error-rate: 0.073 > 0.02 for 2 "
	    "consecutive samples (fail_after 2); no known-good release to roll "
	    "back to (rollbackctl mark-good seeds one)");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v1 held)");
	ck_assert_str_eq(updates(), "v1=bad");
	ck_assert_str_eq(w->target, "");
	/* The operator seeds one, and a rollback goes there. */
	STEP(operator(RBD_EV_MARK_GOOD, "v0"), T0 + MIN);
	RECORDED("marked-good", HELD, HELD, "v0 marked good by uid 1000 pid 42");
	STEP(operator(RBD_EV_ROLLBACK, NULL), T0 + 2 * MIN);
	RECORDED("rollback-requested", HELD, ROLLING_BACK,
	    "rollback to v0 requested by uid 1000 pid 42");
	ck_assert_str_eq(acts(), "run-deploy(v1->v0 #1)");
}
END_TEST

/* ---- no data ---- */

#define NO_SERIES "query returned no series"

static struct rbd_event unknown(size_t check, const char *detail)
{
	return sample(check, RBD_SAMPLE_UNKNOWN, detail);
}

/* Feed n unknown samples of check, 10s apart from t, none of which may
 * change anything worth a record. */
static void unknowns_quiet(size_t check, unsigned n, uint64_t t,
    const char *detail, int line)
{
	for (unsigned i = 0; i < n; i++)
		quiet_ok(unknown(check, detail), t + i * 10 * SEC, line);
}
#define UNKNOWNS(check, n, t, d) unknowns_quiet((check), (n), (t), (d), \
    __LINE__)

/* Defaults (no_data and inconclusive_after both 0, as setup leaves them):
 * five unknown samples in a row hold a watched release, with the reason; it
 * is neither rolled back nor marked bad, and its waiter hears "held". */
START_TEST(test_inconclusive_watching)
{
	to_watching();
	UNKNOWNS(ERRRATE, 4, T1 + WARMUP, NO_SERIES);
	ck_assert_uint_eq(w->unknowns[ERRRATE], 4);
	ck_assert_uint_eq(w->fails[ERRRATE], 0);
	ck_assert_uint_eq(w->unknowns[HEALTHZ], 0);
	/* A refused event leaves the no-data counters alone too. */
	REFUSED(failing(2), T1 + WARMUP + 45 * SEC, -EINVAL, "no check #2");
	STEP(unknown(ERRRATE, NO_SERIES), T1 + WARMUP + 50 * SEC);
	RECORDED("inconclusive", WATCHING, HELD, "error-rate: no data for 5 "
	    "consecutive samples (query returned no series); holding: a person "
	    "must decide (no_data: inconclusive, inconclusive_after 5)");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 held)");
	ck_assert_str_eq(action(RBD_ACT_NOTIFY)->reason, st.reason);
	ck_assert_str_eq(updates(), "");
	ck_assert_str_eq(w->reason, st.reason);
	ck_assert_str_eq(w->live, "v2");
	ck_assert_str_eq(w->target, "");
	ck_assert_uint_eq(w->n_bad, 0);
	ck_assert_str_eq(rbd_watch_rollback_target(w), "v1");
	ck_assert_uint_eq(w->deploy_id, 0);
	/* Held: further samples change nothing; a person decides. */
	QUIET(unknown(ERRRATE, NO_SERIES), T1 + 2 * MIN);
	QUIET(timer(), T1 + DURATION);
	STEP(operator(RBD_EV_MARK_GOOD, "v2"), T1 + DURATION + MIN);
	RECORDED("marked-good", HELD, IDLE, "v2 marked good by uid 1000 pid 42");
}
END_TEST

/* Verifying a rollback holds on no data as well, without a waiter to tell
 * (the rolled-back release heard its verdict) and without condemning K. */
START_TEST(test_inconclusive_verifying)
{
	to_verifying();
	UNKNOWNS(HEALTHZ, 4, T2 + WARMUP, "scrape failed: connection refused");
	STEP(unknown(HEALTHZ, "scrape failed: connection refused"),
	    T2 + WARMUP + 40 * SEC);
	RECORDED("inconclusive", VERIFYING, HELD, "healthz: no data for 5 "
	    "consecutive samples (scrape failed: connection refused); holding: "
	    "a person must decide (no_data: inconclusive, inconclusive_after "
	    "5)");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer");
	ck_assert_str_eq(updates(), "");
	ck_assert_str_eq(w->live, "v1");
	ck_assert_str_eq(w->good[0], "v1");
	ck_assert(!in_list(w->bad, w->n_bad, "v1"));
	ck_assert(in_list(w->bad, w->n_bad, "v2"));
}
END_TEST

static const struct {
	unsigned after;		/* the check's inconclusive_after */
	unsigned n;		/* unknown samples that hold */
	const char *detail;
	const char *reason;
} inconclusive_cases[] = {
	{ 0, 5, NO_SERIES, "error-rate: no data for 5 consecutive samples "
	    "(query returned no series); holding: a person must decide "
	    "(no_data: inconclusive, inconclusive_after 5)" },
	{ 2, 2, "too little traffic: 0.1 req/s < 1 req/s", "error-rate: no "
	    "data for 2 consecutive samples (too little traffic: 0.1 req/s < 1 "
	    "req/s); holding: a person must decide (no_data: inconclusive, "
	    "inconclusive_after 2)" },
	{ 1, 1, "Prometheus unreachable", "error-rate: no data (Prometheus "
	    "unreachable); holding: a person must decide (no_data: "
	    "inconclusive, inconclusive_after 1)" },
	{ 3, 3, NULL, "error-rate: no data for 3 consecutive samples "
	    "(unknown); holding: a person must decide (no_data: inconclusive, "
	    "inconclusive_after 3)" },
	{ 3, 3, "", "error-rate: no data for 3 consecutive samples "
	    "(unknown); holding: a person must decide (no_data: inconclusive, "
	    "inconclusive_after 3)" },
};

/* inconclusive_after is the check's own; 0 means 5; one sample says no
 * "consecutive samples"; no detail is "unknown". */
START_TEST(test_inconclusive_after)
{
	const char *d = inconclusive_cases[_i].detail;
	unsigned n = inconclusive_cases[_i].n;

	checks[ERRRATE].inconclusive_after = inconclusive_cases[_i].after;
	to_watching();
	UNKNOWNS(ERRRATE, n - 1, T1 + WARMUP, d);
	STEP(unknown(ERRRATE, d), T1 + WARMUP + (n - 1) * 10 * SEC);
	RECORDED("inconclusive", WATCHING, HELD, inconclusive_cases[_i].reason);
	ck_assert_uint_eq(w->unknowns[ERRRATE], n);
}
END_TEST

/* An out-of-range no_data is taken as the default, never as a failure. */
START_TEST(test_no_data_out_of_range)
{
	checks[ERRRATE].no_data = (enum rbd_no_data)_RBD_NO_DATA_MAX;
	checks[ERRRATE].fail_after = 1;
	to_watching();
	UNKNOWNS(ERRRATE, 4, T1 + WARMUP, NO_SERIES);
	STEP(unknown(ERRRATE, NO_SERIES), T1 + WARMUP + 40 * SEC);
	ck_assert_str_eq(st.event, "inconclusive");
	ck_assert_int_eq(w->state, RBD_STATE_HELD);
}
END_TEST

/* no_data: fail judges an unknown sample exactly as a failing one, with
 * "no data: " before its detail: they count together towards fail_after. */
START_TEST(test_no_data_fail)
{
	checks[ERRRATE].no_data = RBD_NO_DATA_FAIL;
	checks[ERRRATE].fail_after = 3;
	to_watching();
	QUIET(unknown(ERRRATE, NO_SERIES), T1 + WARMUP);
	ck_assert_uint_eq(w->fails[ERRRATE], 1);
	ck_assert_uint_eq(w->unknowns[ERRRATE], 0);
	QUIET(unknown(ERRRATE, NO_SERIES), T1 + WARMUP + 10 * SEC);
	STEP(unknown(ERRRATE, NO_SERIES), T1 + WARMUP + 20 * SEC);
	RECORDED("degraded", WATCHING, ROLLING_BACK, "error-rate: no data: "
	    "query returned no series for 3 consecutive samples (fail_after 3); "
	    "rolling back from v2 to v1");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer "
	    "run-deploy(v2->v1 #1) notify(v2 rolled_back)");
	ck_assert_str_eq(updates(), "v2=bad");
}
END_TEST

/* The same with fail_after 1, without a detail, and mixed with failures. */
START_TEST(test_no_data_fail_forms)
{
	checks[ERRRATE].no_data = RBD_NO_DATA_FAIL;
	checks[ERRRATE].fail_after = 1;
	checks[HEALTHZ].no_data = RBD_NO_DATA_FAIL;
	to_watching();
	STEP(unknown(ERRRATE, NULL), T1 + WARMUP);
	RECORDED("degraded", WATCHING, ROLLING_BACK, "error-rate: no data: "
	    "unknown (fail_after 1); rolling back from v2 to v1");
	teardown();
	setup();
	checks[HEALTHZ].no_data = RBD_NO_DATA_FAIL;
	to_watching();
	QUIET(failing(HEALTHZ), T1 + WARMUP);
	QUIET(unknown(HEALTHZ, "timed out after 2s"), T1 + WARMUP + 10 * SEC);
	STEP(unknown(HEALTHZ, "timed out after 2s"), T1 + WARMUP + 20 * SEC);
	RECORDED("degraded", WATCHING, ROLLING_BACK, "healthz: no data: timed "
	    "out after 2s for 3 consecutive samples (fail_after 3); rolling "
	    "back from v2 to v1");
}
END_TEST

/* no_data: ignore: unknown samples change nothing, not even at the end of
 * a window that had nothing else for that check: the release is promoted. */
START_TEST(test_no_data_ignore)
{
	checks[ERRRATE].no_data = RBD_NO_DATA_IGNORE;
	checks[ERRRATE].inconclusive_after = 1;
	to_watching();
	QUIET(failing(ERRRATE), T1 + WARMUP);
	UNKNOWNS(ERRRATE, 20, T1 + WARMUP + 5 * SEC, NO_SERIES);
	ck_assert_uint_eq(w->unknowns[ERRRATE], 0);
	ck_assert_uint_eq(w->fails[ERRRATE], 1);	/* not reset either */
	ck_assert_str_eq(w->window_no_data[ERRRATE], "");
	STEP(timer(), T1 + DURATION);
	RECORDED("promoted", WATCHING, IDLE,
	    "v2 healthy for 10m; now the known-good release");
}
END_TEST

/* OK and FAIL samples reset the count of unknown samples in a row; only
 * five in a row hold. Before the warm-up nothing counts. */
START_TEST(test_unknowns_reset)
{
	uint64_t t = T1 + WARMUP;

	to_watching();
	UNKNOWNS(ERRRATE, 3, T1 + 5 * SEC, NO_SERIES);	/* warm-up */
	ck_assert_uint_eq(w->unknowns[ERRRATE], 0);
	UNKNOWNS(ERRRATE, 4, t, NO_SERIES);
	QUIET(sample(ERRRATE, RBD_SAMPLE_OK, "0.001"), t + 40 * SEC);
	ck_assert_uint_eq(w->unknowns[ERRRATE], 0);
	UNKNOWNS(ERRRATE, 4, t + 50 * SEC, NO_SERIES);
	/* Another check's samples leave this count alone. */
	QUIET(sample(HEALTHZ, RBD_SAMPLE_OK, "HTTP 200"), t + 85 * SEC);
	QUIET(failing(HEALTHZ), t + 86 * SEC);
	ck_assert_uint_eq(w->unknowns[ERRRATE], 4);
	QUIET(failing(ERRRATE), t + 90 * SEC);
	ck_assert_uint_eq(w->unknowns[ERRRATE], 0);
	ck_assert_uint_eq(w->fails[ERRRATE], 1);
	UNKNOWNS(ERRRATE, 4, t + 100 * SEC, NO_SERIES);
	ck_assert_uint_eq(w->fails[ERRRATE], 1);
	STEP(unknown(ERRRATE, NO_SERIES), t + 140 * SEC);
	RECORDED("inconclusive", WATCHING, HELD, "error-rate: no data for 5 "
	    "consecutive samples (query returned no series); holding: a person "
	    "must decide (no_data: inconclusive, inconclusive_after 5)");
}
END_TEST

/* Entering a window (a new deploy, a finished rollback) starts the no-data
 * counts and tallies afresh. */
START_TEST(test_unknowns_reset_on_entry)
{
	to_watching();
	QUIET(sample(ERRRATE, RBD_SAMPLE_OK, NULL), T1 + WARMUP);
	UNKNOWNS(ERRRATE, 4, T1 + WARMUP + 10 * SEC, NO_SERIES);
	ck_assert_uint_eq(w->window_ok[ERRRATE], 1);
	ck_assert_str_eq(w->window_no_data[ERRRATE], NO_SERIES);
	STEP(deployed("v3"), T1 + 2 * MIN);
	ck_assert_uint_eq(w->unknowns[ERRRATE], 0);
	ck_assert_uint_eq(w->window_ok[ERRRATE], 0);
	ck_assert_str_eq(w->window_no_data[ERRRATE], "");
	UNKNOWNS(ERRRATE, 4, T1 + 2 * MIN + WARMUP, NO_SERIES);
	ck_assert_uint_eq(w->unknowns[ERRRATE], 4);
	/* A rollback's verification starts at zero too. */
	STEP(operator(RBD_EV_ROLLBACK, NULL), T1 + 4 * MIN);
	STEP(done(1, RBD_DEPLOY_OK, NULL), T1 + 5 * MIN);
	RECORDED("rolled-back", ROLLING_BACK, VERIFYING,
	    "deployed v1 (rollback from v3)");
	ck_assert_uint_eq(w->unknowns[ERRRATE], 0);
	ck_assert_str_eq(w->window_no_data[ERRRATE], "");
}
END_TEST

/* A window that had nothing but no data for a check (never a judged OK
 * sample) does not promote, whether a timer or a late sample ends it; the
 * reason shows the last detail. */
START_TEST(test_whole_window_no_data)
{
	to_watching();
	for (uint64_t i = 0; i < 10; i++)
		QUIET(sample(HEALTHZ, RBD_SAMPLE_OK, "HTTP 200"),
		    T1 + WARMUP + i * MIN);
	QUIET(unknown(ERRRATE, NO_SERIES), T1 + WARMUP);
	QUIET(unknown(ERRRATE, "Prometheus unreachable"), T1 + 5 * MIN);
	QUIET(failing(ERRRATE), T1 + 6 * MIN);
	QUIET(unknown(ERRRATE, "Prometheus unreachable: connection refused"),
	    T1 + 7 * MIN);
	if (_i)
		STEP(sample(HEALTHZ, RBD_SAMPLE_OK, "HTTP 200"), T1 + DURATION);
	else
		STEP(timer(), T1 + DURATION);
	RECORDED("inconclusive", WATCHING, HELD, "error-rate: no data during "
	    "the whole window (Prometheus unreachable: connection refused); not "
	    "promoting on no data");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 held)");
	ck_assert_str_eq(updates(), "");
	ck_assert_uint_eq(w->n_bad, 0);
	ck_assert_uint_eq(w->n_good, 1);
	ck_assert_str_eq(w->good[0], "v1");
}
END_TEST

/* One judged OK sample in the window is enough; an OK sample during the
 * warm-up is not judged and does not count; unknown samples during the
 * warm-up do not count either; no samples at all promote as before. */
START_TEST(test_whole_window_rules)
{
	static const struct {
		uint64_t ok_at;		/* 0: none */
		uint64_t unknown_at;
		const char *event;
	} cases[] = {
		{ WARMUP + 3 * MIN, WARMUP, "promoted" },
		{ WARMUP - 1, WARMUP, "inconclusive" },
		{ 0, WARMUP - 1, "promoted" },
		{ 0, 0, "promoted" },
	};

	to_watching();
	if (cases[_i].ok_at)
		QUIET(sample(ERRRATE, RBD_SAMPLE_OK, NULL),
		    T1 + cases[_i].ok_at);
	if (cases[_i].unknown_at)
		QUIET(unknown(ERRRATE, NO_SERIES), T1 + cases[_i].unknown_at);
	STEP(timer(), T1 + DURATION);
	ck_assert_str_eq(st.event, cases[_i].event);
}
END_TEST

/* The same rule for verification: a rollback is not declared verified on
 * no data. */
START_TEST(test_whole_window_verifying)
{
	to_verifying();
	QUIET(sample(ERRRATE, RBD_SAMPLE_OK, NULL), T2 + WARMUP);
	QUIET(unknown(HEALTHZ, "skipped: daemon behind"), T2 + WARMUP);
	STEP(timer(), T2 + VERIFY);
	RECORDED("inconclusive", VERIFYING, HELD, "healthz: no data during the "
	    "whole window (skipped: daemon behind); not verifying the rollback "
	    "to v1 on no data");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer");
	ck_assert_str_eq(updates(), "");
	ck_assert_str_eq(w->good[0], "v1");
	ck_assert(!in_list(w->bad, w->n_bad, "v1"));
}
END_TEST

/* Only no_data inconclusive checks are held to the rule: under fail the
 * unknown samples were failures (fewer than fail_after: promoted, as with
 * failing ones), under ignore they were nothing. */
START_TEST(test_whole_window_other_no_data)
{
	checks[HEALTHZ].no_data = RBD_NO_DATA_FAIL;
	checks[ERRRATE].no_data = RBD_NO_DATA_IGNORE;
	to_watching();
	QUIET(unknown(HEALTHZ, NO_SERIES), T1 + WARMUP);
	QUIET(unknown(ERRRATE, NO_SERIES), T1 + WARMUP);
	STEP(timer(), T1 + DURATION);
	RECORDED("promoted", WATCHING, IDLE,
	    "v2 healthy for 10m; now the known-good release");
}
END_TEST

/* The first check in policy order that had nothing but no data is named;
 * a long detail is cut, never the reason's end. */
START_TEST(test_whole_window_first_check)
{
	char longd[400], want[RBD_REASON_MAX];

	memset(longd, 'x', sizeof(longd) - 1);
	longd[sizeof(longd) - 1] = '\0';
	to_watching();
	QUIET(unknown(ERRRATE, NO_SERIES), T1 + WARMUP);
	QUIET(unknown(HEALTHZ, longd), T1 + WARMUP);
	STEP(timer(), T1 + DURATION);
	snprintf(want, sizeof(want), "healthz: no data during the whole window "
	    "(%.*s); not promoting on no data", RBD_DETAIL_MAX - 1, longd);
	RECORDED("inconclusive", WATCHING, HELD, want);
}
END_TEST

/* ---- the rollback ---- */

START_TEST(test_rollback_deploy_ok)
{
	to_rolling();
	STEP(done(1, RBD_DEPLOY_OK, "exited with status 0"), T2);
	RECORDED("rolled-back", ROLLING_BACK, VERIFYING,
	    "deployed v1 (rollback from v2)");
	ck_assert_str_eq(acts(), "start-probes set-timer(5m)");
	ck_assert_str_eq(updates(), "");
	ck_assert_str_eq(w->live, "v1");
	ck_assert_uint_eq(w->since, T2);
	ck_assert_uint_eq(w->fails[HEALTHZ], 0);	/* was 1 */
	ck_assert_uint_eq(w->deploy_id, 0);	/* none in flight */
	ck_assert_str_eq(w->reason, st.reason);
}
END_TEST

static const struct {
	enum rbd_deploy_result result;
	const char *detail;
	const char *reason;
} deploy_failures[] = {
	{ RBD_DEPLOY_FAILED, "exited with status 2", "rollback from v2 to v1 "
	    "failed: deploy command exited with status 2" },
	{ RBD_DEPLOY_TIMED_OUT, "timed out after 5m", "rollback from v2 to v1 "
	    "failed: deploy command timed out after 5m" },
	{ RBD_DEPLOY_FAILED, NULL, "rollback from v2 to v1 failed: deploy "
	    "command failed" },
	{ RBD_DEPLOY_TIMED_OUT, "", "rollback from v2 to v1 failed: deploy "
	    "command timed out" },
};

/* A failed or timed-out rollback holds, with the detail in the reason. */
START_TEST(test_rollback_deploy_failed)
{
	to_rolling();
	STEP(done(1, deploy_failures[_i].result, deploy_failures[_i].detail),
	    T2);
	RECORDED("rollback-failed", ROLLING_BACK, HELD,
	    deploy_failures[_i].reason);
	ck_assert_str_eq(acts(), "");
	ck_assert_str_eq(updates(), "");
	ck_assert_str_eq(w->live, "v2");
	ck_assert_str_eq(w->target, "v1");
	ck_assert_uint_eq(w->deploy_id, 0);	/* none in flight */
	ck_assert_str_eq(w->reason, st.reason);
	/* The late completion of the same deploy changes nothing now. */
	QUIET(done(1, RBD_DEPLOY_OK, NULL), T3);
}
END_TEST

/* DEPLOY_DONE for another deploy id, or with none in flight, is stale. */
START_TEST(test_stale_deploy_done)
{
	struct snap s;

	to_rolling();
	snap_take(&s);
	QUIET(done(2, RBD_DEPLOY_OK, NULL), T2);
	QUIET(done(0, RBD_DEPLOY_FAILED, NULL), T2);
	snap_same(&s, __LINE__);
	STEP(done(1, RBD_DEPLOY_OK, NULL), T2);
	snap_take(&s);
	QUIET(done(1, RBD_DEPLOY_OK, NULL), T2 + SEC);
	QUIET(done(1, RBD_DEPLOY_FAILED, NULL), T2 + SEC);
	snap_same(&s, __LINE__);
}
END_TEST

START_TEST(test_verified)
{
	to_verifying();
	early_timer(T2 + VERIFY - 1, "set-timer(1us)", __LINE__);
	STEP(timer(), T2 + VERIFY);
	RECORDED("verified", VERIFYING, IDLE,
	    "rollback to v1 verified: healthy for 5m");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer");
	ck_assert_str_eq(updates(), "");
	ck_assert_str_eq(w->live, "v1");
	ck_assert_str_eq(w->reason, st.reason);
}
END_TEST

/* The verify window ends like the watch window: a sample at its end
 * verifies; before it, the warm-up applies too. */
START_TEST(test_verify_window_rules)
{
	to_verifying();
	QUIET(failing(ERRRATE), T2 + WARMUP - 1);
	ck_assert_uint_eq(w->fails[ERRRATE], 0);
	QUIET(failing(ERRRATE), T2 + WARMUP);
	STEP(failing(ERRRATE), T2 + VERIFY);
	RECORDED("verified", VERIFYING, IDLE,
	    "rollback to v1 verified: healthy for 5m");
}
END_TEST

/* The restored release unhealthy too: held, never another rollback. */
START_TEST(test_verify_degraded_holds)
{
	to_verifying();
	for (uint64_t i = 0; i < 3; i++)
		STEP(failing(HEALTHZ), T2 + WARMUP + i * 10 * SEC);
	RECORDED("degraded", VERIFYING, HELD, "rolled back to v1, but v1 is "
	    "unhealthy too: healthz: HTTP 500 for 3 consecutive samples "
	    "(fail_after 3); holding, a person must decide");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer");
	ck_assert_str_eq(updates(), "");
	ck_assert_str_eq(w->good[0], "v1");
	ck_assert_str_eq(w->reason, st.reason);
}
END_TEST

/* Even with an older known-good release to go to, no ping-pong. */
START_TEST(test_no_ping_pong)
{
	STEP(operator(RBD_EV_MARK_GOOD, "v0"), T0 - MIN);
	to_rolling();
	ck_assert_str_eq(acts(), "stop-probes cancel-timer "
	    "run-deploy(v2->v1 #1) notify(v2 rolled_back)");
	STEP(done(1, RBD_DEPLOY_OK, NULL), T2);
	for (uint64_t i = 0; i < 2; i++)
		STEP(failing(ERRRATE), T2 + WARMUP + i * 10 * SEC);
	ck_assert_int_eq(w->state, RBD_STATE_HELD);
	ck_assert_str_eq(acts(), "stop-probes cancel-timer");
	ck_assert_str_eq(rbd_watch_rollback_target(w), "v0");
}
END_TEST

/* A release marked bad is never a target, not even the newest good one. */
START_TEST(test_bad_never_target)
{
	to_watching();
	STEP(timer(), T1 + DURATION);		/* good: v2, v1 */
	ck_assert_str_eq(w->good[0], "v2");
	STEP(deployed("v3"), T2 + 10 * MIN);
	ck_assert_str_eq(rbd_watch_rollback_target(w), "v2");
	STEP(operator(RBD_EV_MARK_BAD, "v2"), T2 + 11 * MIN);
	RECORDED("marked-bad", WATCHING, WATCHING,
	    "v2 marked bad by uid 1000 pid 42");
	ck_assert_str_eq(updates(), "v2=bad");
	ck_assert_str_eq(rbd_watch_rollback_target(w), "v1");
	STEP(failing(ERRRATE), T2 + 12 * MIN);
	STEP(failing(ERRRATE), T2 + 12 * MIN + 10 * SEC);
	RECORDED("degraded", WATCHING, ROLLING_BACK, "error-rate: 0.073 > 0.02 "
	    "for 2 consecutive samples (fail_after 2); rolling back from v3 "
	    "to v1");
	ck_assert_str_eq(action(RBD_ACT_RUN_DEPLOY)->version, "v1");
}
END_TEST

START_TEST(test_rollback_target)
{
	ck_assert_ptr_null(rbd_watch_rollback_target(w));
	to_idle();
	ck_assert_ptr_null(rbd_watch_rollback_target(w));	/* v1 is live */
	STEP(deployed("v2"), T1);
	ck_assert_str_eq(rbd_watch_rollback_target(w), "v1");
	STEP(operator(RBD_EV_MARK_BAD, "v1"), T1 + MIN);
	ck_assert_ptr_null(rbd_watch_rollback_target(w));
	ck_assert_uint_eq(w->n_good, 0);
}
END_TEST

/* On a watch filled by hand (as the store loads it), a release in both
 * lists is still never the target. */
START_TEST(test_rollback_target_loaded)
{
	snprintf(w->good[0], sizeof(w->good[0]), "v3");
	snprintf(w->good[1], sizeof(w->good[1]), "v2");
	snprintf(w->good[2], sizeof(w->good[2]), "v1");
	w->n_good = 3;
	snprintf(w->bad[0], sizeof(w->bad[0]), "v2");
	w->n_bad = 1;
	snprintf(w->live, sizeof(w->live), "v3");
	ck_assert_str_eq(rbd_watch_rollback_target(w), "v1");
	w->n_good = 2;
	ck_assert_ptr_null(rbd_watch_rollback_target(w));
}
END_TEST

/* good[] keeps the newest RBD_WATCH_GOOD_MAX, newest first. */
START_TEST(test_good_list_bounded)
{
	char v[16];
	uint64_t t = T0;

	for (int i = 0; i <= RBD_WATCH_GOOD_MAX; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		STEP(deployed(v), t);
		STEP(timer(), t + DURATION);
		t += DURATION + MIN;
	}
	ck_assert_uint_eq(w->n_good, RBD_WATCH_GOOD_MAX);
	ck_assert_str_eq(w->good[0], "v16");
	ck_assert_str_eq(w->good[RBD_WATCH_GOOD_MAX - 1], "v1");
	ck_assert(!in_list(w->good, w->n_good, "v0"));
	/* Promoting a listed release again moves it to the front. */
	STEP(deployed("v5"), t);
	STEP(timer(), t + DURATION);
	ck_assert_uint_eq(w->n_good, RBD_WATCH_GOOD_MAX);
	ck_assert_str_eq(w->good[0], "v5");
	ck_assert_str_eq(w->good[1], "v16");
	ck_assert_str_eq(w->good[RBD_WATCH_GOOD_MAX - 1], "v1");
}
END_TEST

/* bad[] keeps the newest RBD_WATCH_BAD_MAX, newest first. */
START_TEST(test_bad_list_bounded)
{
	char v[16];

	for (int i = 0; i <= RBD_WATCH_BAD_MAX; i++) {
		snprintf(v, sizeof(v), "b%d", i);
		STEP(operator(RBD_EV_MARK_BAD, v), T0 + (uint64_t)i * SEC);
	}
	ck_assert_uint_eq(w->n_bad, RBD_WATCH_BAD_MAX);
	ck_assert_str_eq(w->bad[0], "b32");
	ck_assert_str_eq(w->bad[RBD_WATCH_BAD_MAX - 1], "b1");
	ck_assert(!in_list(w->bad, w->n_bad, "b0"));
}
END_TEST

/* Deploy ids are never reused: a retry gets a new one, the old is stale. */
START_TEST(test_deploy_ids_unique)
{
	to_held();
	STEP(operator(RBD_EV_ROLLBACK, NULL), T3);
	ck_assert_str_eq(acts(), "run-deploy(v2->v1 #2)");
	QUIET(done(1, RBD_DEPLOY_OK, NULL), T3 + SEC);
	STEP(done(2, RBD_DEPLOY_OK, NULL), T3 + 2 * SEC);
	RECORDED("rolled-back", ROLLING_BACK, VERIFYING,
	    "deployed v1 (rollback from v2)");
}
END_TEST

/* ---- operator commands: every command from every state ---- */

static const struct op_case {
	enum fx fx;
	enum rbd_event_type type;
	const char *version;
	int rc;
	const char *text;	/* the reason, or the refusal */
	enum rbd_state to;
	const char *event;
	const char *acts;
	const char *updates;
	const char *target;	/* rbd_watch_rollback_target() after */
} op_cases[] = {
#define NO(f, v, err, msg) { .fx = (f), .type = RBD_EV_ROLLBACK, \
	.version = (v), .rc = (err), .text = (msg) }
	/* mark-good */
	{ FX_FRESH, RBD_EV_MARK_GOOD, "v9", 0, "v9 marked good by uid 1000 pid 42",
	    RBD_STATE_IDLE, "marked-good", "", "v9=good", "v9" },
	{ FX_IDLE, RBD_EV_MARK_GOOD, "v1", 0, "v1 marked good by uid 1000 pid 42",
	    RBD_STATE_IDLE, "marked-good", "", "v1=good", NULL },
	{ FX_IDLE, RBD_EV_MARK_GOOD, "v0", 0, "v0 marked good by uid 1000 pid 42",
	    RBD_STATE_IDLE, "marked-good", "", "v0=good", "v0" },
	{ FX_WATCHING, RBD_EV_MARK_GOOD, "v2", 0, "v2 marked good by uid 1000 pid 42",
	    RBD_STATE_IDLE, "marked-good", "stop-probes cancel-timer "
	    "notify(v2 promoted)", "v2=good", "v1" },
	{ FX_WATCHING, RBD_EV_MARK_GOOD, "v0", 0, "v0 marked good by uid 1000 pid 42",
	    RBD_STATE_WATCHING, "marked-good", "", "v0=good", "v0" },
	{ FX_ROLLING, RBD_EV_MARK_GOOD, "v2", 0, "v2 marked good by uid 1000 pid 42",
	    RBD_STATE_ROLLING_BACK, "marked-good", "", "v2=good", "v1" },
	{ FX_VERIFYING, RBD_EV_MARK_GOOD, "v1", 0, "v1 marked good by uid 1000 pid 42",
	    RBD_STATE_IDLE, "marked-good", "stop-probes cancel-timer",
	    "v1=good", NULL },
	{ FX_VERIFYING, RBD_EV_MARK_GOOD, "v2", 0, "v2 marked good by uid 1000 pid 42",
	    RBD_STATE_VERIFYING, "marked-good", "", "v2=good", "v2" },
	{ FX_HELD, RBD_EV_MARK_GOOD, "v2", 0, "v2 marked good by uid 1000 pid 42",
	    RBD_STATE_IDLE, "marked-good", "", "v2=good", "v1" },
	{ FX_HELD, RBD_EV_MARK_GOOD, "v0", 0, "v0 marked good by uid 1000 pid 42",
	    RBD_STATE_HELD, "marked-good", "", "v0=good", "v0" },
	/* mark-bad */
	{ FX_FRESH, RBD_EV_MARK_BAD, "v9", 0, "v9 marked bad by uid 1000 pid 42",
	    RBD_STATE_IDLE, "marked-bad", "", "v9=bad", NULL },
	{ FX_IDLE, RBD_EV_MARK_BAD, "v1", 0, "v1 marked bad by uid 1000 pid 42",
	    RBD_STATE_IDLE, "marked-bad", "", "v1=bad", NULL },
	{ FX_WATCHING, RBD_EV_MARK_BAD, "v2", 0, "marked bad by uid 1000 pid 42; "
	    "rolling back from v2 to v1", RBD_STATE_ROLLING_BACK, "degraded",
	    "stop-probes cancel-timer run-deploy(v2->v1 #1) "
	    "notify(v2 rolled_back)", "v2=bad", "v1" },
	{ FX_WATCHING, RBD_EV_MARK_BAD, "v1", 0, "v1 marked bad by uid 1000 pid 42",
	    RBD_STATE_WATCHING, "marked-bad", "", "v1=bad", NULL },
	{ FX_ROLLING, RBD_EV_MARK_BAD, "v1", 0, "v1 marked bad by uid 1000 pid 42",
	    RBD_STATE_ROLLING_BACK, "marked-bad", "", "v1=bad", NULL },
	{ FX_VERIFYING, RBD_EV_MARK_BAD, "v1", 0, "rolled back to v1, but v1 is "
	    "unhealthy too: marked bad by uid 1000 pid 42; holding, a person "
	    "must decide", RBD_STATE_HELD, "degraded", "stop-probes "
	    "cancel-timer", "v1=bad", NULL },
	{ FX_HELD, RBD_EV_MARK_BAD, "v2", 0, "v2 marked bad by uid 1000 pid 42",
	    RBD_STATE_HELD, "marked-bad", "", "v2=bad", "v1" },
	{ FX_HELD, RBD_EV_MARK_BAD, "v1", 0, "v1 marked bad by uid 1000 pid 42",
	    RBD_STATE_HELD, "marked-bad", "", "v1=bad", NULL },
	/* rollback */
	NO(FX_FRESH, NULL, -ENOENT, "no known-good release to roll back to"),
	{ FX_FRESH, RBD_EV_ROLLBACK, "v9", 0, "rollback to v9 requested by uid "
	    "1000 pid 42", RBD_STATE_ROLLING_BACK, "rollback-requested",
	    "run-deploy(->v9 #1)", "", NULL },
	NO(FX_IDLE, NULL, -ENOENT, "no known-good release to roll back to"),
	NO(FX_IDLE, "v1", -EALREADY, "v1 is already live"),
	{ FX_IDLE, RBD_EV_ROLLBACK, "v0", 0, "rollback to v0 requested by uid "
	    "1000 pid 42", RBD_STATE_ROLLING_BACK, "rollback-requested",
	    "run-deploy(v1->v0 #1)", "v1=bad", NULL },
	{ FX_WATCHING, RBD_EV_ROLLBACK, NULL, 0, "rollback to v1 requested by "
	    "uid 1000 pid 42", RBD_STATE_ROLLING_BACK, "rollback-requested",
	    "stop-probes cancel-timer run-deploy(v2->v1 #1) "
	    "notify(v2 rolled_back)", "v2=bad", "v1" },
	NO(FX_WATCHING, "v2", -EALREADY, "v2 is already live"),
	NO(FX_ROLLING, NULL, -EBUSY, "already rolling back from v2 to v1"),
	NO(FX_ROLLING, "v0", -EBUSY, "already rolling back from v2 to v1"),
	NO(FX_VERIFYING, NULL, -ENOENT,
	    "no known-good release to roll back to"),
	NO(FX_VERIFYING, "v2", -EINVAL,
	    "v2 is marked bad; mark it good first to roll back to it"),
	{ FX_VERIFYING, RBD_EV_ROLLBACK, "v0", 0, "rollback to v0 requested by "
	    "uid 1000 pid 42", RBD_STATE_ROLLING_BACK, "rollback-requested",
	    "stop-probes cancel-timer run-deploy(v1->v0 #2)", "v1=bad", NULL },
	{ FX_HELD, RBD_EV_ROLLBACK, NULL, 0, "rollback to v1 requested by uid "
	    "1000 pid 42", RBD_STATE_ROLLING_BACK, "rollback-requested",
	    "run-deploy(v2->v1 #2)", "v2=bad", "v1" },
	NO(FX_HELD, "v2", -EINVAL,
	    "v2 is marked bad; mark it good first to roll back to it"),
#undef NO
};

/* Check one accepted operator case against the table. */
static void op_accepted(const struct op_case *c, const struct snap *before,
    int line)
{
	enum rbd_state from = before->w.state;

	recorded(c->event, from, c->to, c->text, line);
	ck_assert_str_eq(acts(), c->acts);
	ck_assert_str_eq(updates(), c->updates);
	if (c->target)
		ck_assert_str_eq(rbd_watch_rollback_target(w), c->target);
	else
		ck_assert_ptr_null(rbd_watch_rollback_target(w));
	/* w->reason follows transitions only, not records in place. */
	ck_assert_str_eq(w->reason, from != c->to ? c->text : before->w.reason);
	ck_assert_uint_eq(w->since, from != c->to ? T3 : before->w.since);
}

START_TEST(test_operator)
{
	const struct op_case *c = &op_cases[_i];
	struct snap before;

	build(c->fx);
	snap_take(&before);
	if (c->rc) {
		REFUSED(operator(c->type, c->version), T3, c->rc, c->text);
		return;
	}
	STEP(operator(c->type, c->version), T3);
	op_accepted(c, &before, __LINE__);
}
END_TEST

/* Without an actor, reasons name "an operator". */
START_TEST(test_operator_no_actor)
{
	struct rbd_event ev = operator(RBD_EV_MARK_GOOD, "v9");

	ev.actor = NULL;
	STEP(ev, T0);
	ck_assert_str_eq(st.reason, "v9 marked good by an operator");
	to_first();
	ev = operator(RBD_EV_MARK_BAD, "v1");
	ev.actor = "";
	STEP(ev, T0 + MIN);
	ck_assert_str_eq(st.reason, "marked bad by an operator; rolling back "
	    "from v1 to v9");
	STEP(done(1, RBD_DEPLOY_OK, NULL), T0 + 2 * MIN);
	ev = operator(RBD_EV_ROLLBACK, "v8");
	ev.actor = NULL;
	STEP(ev, T0 + 3 * MIN);
	ck_assert_str_eq(st.reason, "rollback to v8 requested by an operator");
}
END_TEST

/* ---- hostile input ---- */

static const char *const hostile[] = {
	"", "-rf", "../etc/passwd", "v1\n", "v1 2", "$(reboot)", "v1;reboot",
	"v\xc3\xa9", "v1\x1b[2J",
	"a234567890123456789012345678901234567890123456789012345678901234"
	"56789012345678901234567890123456789012345678901234567890123456789",
};
static const enum rbd_event_type versioned[] = { RBD_EV_DEPLOYED,
	RBD_EV_MARK_GOOD, RBD_EV_MARK_BAD, RBD_EV_ROLLBACK };

/* A hostile version is refused by every event that carries one. */
START_TEST(test_hostile_version)
{
	const char *v = hostile[_i % N_ELEMENTS(hostile)];
	enum rbd_event_type t = versioned[_i / N_ELEMENTS(hostile)];

	to_watching();
	STEP(failing(HEALTHZ), T1 + WARMUP);
	REFUSED(operator(t, v), T1 + MIN, -EINVAL, NULL);
	ck_assert_msg(strncmp(err, "invalid release version: it ", 28) == 0,
	    "message '%s'", err);
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

START_TEST(test_hostile_messages)
{
	REFUSED(operator(RBD_EV_DEPLOYED, "-rf"), T0, -EINVAL,
	    "invalid release version: it must not start with '-'");
	REFUSED(operator(RBD_EV_MARK_BAD, "v1\nrm -rf /"), T0, -EINVAL,
	    "invalid release version: it contains a newline");
	REFUSED(operator(RBD_EV_DEPLOYED, NULL), T0, -EINVAL,
	    "invalid release version: it is empty");
	REFUSED(operator(RBD_EV_MARK_GOOD, NULL), T0, -EINVAL,
	    "invalid release version: it is empty");
}
END_TEST

/* Malformed events and a missing error buffer. */
START_TEST(test_malformed_events)
{
	struct rbd_event ev = { .type = _RBD_EV_MAX };
	struct rbd_step out;
	char want[64];

	to_watching();
	/* Whatever the last event type is now: new ones go at the end. */
	snprintf(want, sizeof(want), "unknown event type %d", (int)_RBD_EV_MAX);
	REFUSED(ev, T1, -EINVAL, want);
	REFUSED(sample(HEALTHZ, _RBD_SAMPLE_RESULT_MAX, NULL), T1 + WARMUP,
	    -EINVAL, "unknown sample result 3");
	REFUSED(done(1, _RBD_DEPLOY_RESULT_MAX, NULL), T1, -EINVAL,
	    "unknown deploy result 3");
	ev = operator(RBD_EV_ROLLBACK, "v2");
	ck_assert_int_eq(rbd_watch_step(w, &policy, &ev, T1, &out, NULL, 0),
	    -EALREADY);
}
END_TEST

/* ---- resume after a restart ---- */


/* Replace w by a new watch filled from it, as the store's load does: the
 * plain fields come over, the per-check arrays are the new watch's. */
static void restart(void)
{
	struct rbd_watch *n = rbd_watch_new(&policy);
	struct rbd_watch fresh;

	ck_assert_ptr_nonnull(n);
	fresh = *n;
	memcpy(n, w, sizeof(*n));
	n->fails = fresh.fails;
	n->unknowns = fresh.unknowns;
	n->window_ok = fresh.window_ok;
	n->window_no_data = fresh.window_no_data;
	n->guard_fails = fresh.guard_fails;
	n->guard_since_wall = fresh.guard_since_wall;
	n->guard_detail = fresh.guard_detail;
	rbd_watch_reset_counts(n);
	rbd_watch_free(w);
	w = n;
}

/* Resume at t; the step must not be a record. */
static void resume(uint64_t t)
{
	memset(&st, 0xa5, sizeof(st));
	last_t = t;
	rbd_watch_resume(w, &policy, t, &st);
	ck_assert(!st.record);
	ck_assert_ptr_null(st.event);
	ck_assert_uint_eq(st.n_updates, 0);
	ck_assert_int_eq(st.from, w->state);
	ck_assert_int_eq(st.to, w->state);
}

/* Idle and held: nothing to continue. */
START_TEST(test_resume_nothing)
{
	static const enum fx states[] = { FX_FRESH, FX_IDLE, FX_HELD };
	struct snap s;

	build(states[_i]);
	restart();
	snap_take(&s);
	resume(T3 + 60 * MIN);
	ck_assert_str_eq(acts(), "");
	snap_same(&s, __LINE__);
}
END_TEST

/* A watch resumes with the time it had left, even none. */
START_TEST(test_resume_watching)
{
	struct snap s;

	to_watching();
	restart();
	snap_take(&s);
	resume(T1 + 4 * MIN);
	ck_assert_str_eq(acts(), "start-probes set-timer(6m)");
	snap_same(&s, __LINE__);
	resume(T1 + 12 * MIN);
	ck_assert_str_eq(acts(), "start-probes set-timer(-2m)");
	STEP(timer(), T1 + 12 * MIN);
	RECORDED("promoted", WATCHING, IDLE,
	    "v2 healthy for 10m; now the known-good release");
}
END_TEST

START_TEST(test_resume_verifying)
{
	to_verifying();
	restart();
	resume(T2 + MIN);
	ck_assert_str_eq(acts(), "start-probes set-timer(4m)");
}
END_TEST

/* An interrupted rollback is re-run with a fresh deploy id. */
START_TEST(test_resume_rolling_back)
{
	to_rolling();
	restart();
	resume(T2);
	ck_assert_str_eq(acts(), "run-deploy(v2->v1 #2)");
	ck_assert_str_eq(action(RBD_ACT_RUN_DEPLOY)->reason, w->reason);
	ck_assert_uint_eq(w->deploy_id, 2);
	ck_assert_uint_eq(w->next_deploy_id, 3);
	ck_assert_int_eq(w->state, RBD_STATE_ROLLING_BACK);
	QUIET(done(1, RBD_DEPLOY_OK, NULL), T2 + SEC);
	STEP(done(2, RBD_DEPLOY_OK, NULL), T2 + 2 * SEC);
	RECORDED("rolled-back", ROLLING_BACK, VERIFYING,
	    "deployed v1 (rollback from v2)");
}
END_TEST

/* ---- reload ---- */

/* Counters follow their check by name; new checks start at zero. */
START_TEST(test_set_policy_by_name)
{
	struct rbd_check nc[3] = {
		{ .name = name_errrate, .fail_after = 2 },
		{ .name = name_p99, .fail_after = 1 },
		{ .name = name_healthz, .fail_after = 3 },
	};
	struct rbd_policy np = policy;
	struct snap s;

	to_watching();
	STEP(failing(HEALTHZ), T1 + WARMUP);
	STEP(failing(HEALTHZ), T1 + WARMUP + 10 * SEC);
	STEP(failing(ERRRATE), T1 + WARMUP + 11 * SEC);
	snap_take(&s);
	np.checks = nc;
	np.n_checks = 3;
	ck_assert_int_eq(rbd_watch_set_policy(w, &policy, &np), 0);
	ck_assert_uint_eq(w->n_checks, 3);
	ck_assert_uint_eq(w->fails[0], 1);
	ck_assert_uint_eq(w->fails[1], 0);
	ck_assert_uint_eq(w->fails[2], 2);
	ck_assert_int_eq(w->state, s.w.state);
	ck_assert_uint_eq(w->since, s.w.since);
	ck_assert_str_eq(w->live, s.w.live);
	policy = np;
	STEP(sample(2, RBD_SAMPLE_FAIL, "HTTP 500"), T1 + WARMUP + 20 * SEC);
	RECORDED("degraded", WATCHING, ROLLING_BACK, "healthz: HTTP 500 for 3 "
	    "consecutive samples (fail_after 3); rolling back from v2 to v1");
}
END_TEST

/* The no-data counts and window tallies follow their check by name too. */
START_TEST(test_set_policy_keeps_unknowns)
{
	struct rbd_check nc[3] = {
		{ .name = name_errrate, .fail_after = 2 },
		{ .name = name_p99, .fail_after = 1 },
		{ .name = name_healthz, .fail_after = 3 },
	};
	struct rbd_policy np = policy;

	to_watching();
	UNKNOWNS(ERRRATE, 3, T1 + WARMUP, NO_SERIES);
	QUIET(sample(HEALTHZ, RBD_SAMPLE_OK, NULL), T1 + WARMUP);
	QUIET(unknown(HEALTHZ, "skipped"), T1 + WARMUP + 5 * SEC);
	np.checks = nc;
	np.n_checks = 3;
	ck_assert_int_eq(rbd_watch_set_policy(w, &policy, &np), 0);
	ck_assert_uint_eq(w->unknowns[0], 3);
	ck_assert_uint_eq(w->unknowns[1], 0);
	ck_assert_uint_eq(w->unknowns[2], 1);
	ck_assert_uint_eq(w->window_ok[0], 0);
	ck_assert_uint_eq(w->window_ok[2], 1);
	ck_assert_str_eq(w->window_no_data[0], NO_SERIES);
	ck_assert_str_eq(w->window_no_data[1], "");
	ck_assert_str_eq(w->window_no_data[2], "skipped");
	policy = np;
	QUIET(unknown(0, NO_SERIES), T1 + WARMUP + 30 * SEC);
	STEP(unknown(0, NO_SERIES), T1 + WARMUP + 40 * SEC);
	RECORDED("inconclusive", WATCHING, HELD, "error-rate: no data for 5 "
	    "consecutive samples (query returned no series); holding: a person "
	    "must decide (no_data: inconclusive, inconclusive_after 5)");
}
END_TEST

/* The window tallies survive a reload, so the whole-window rule still
 * holds after one; a check that is new starts with a clean tally. */
START_TEST(test_set_policy_window_rule)
{
	struct rbd_check nc[2] = {
		{ .name = name_p99, .fail_after = 1 },
		{ .name = name_errrate, .fail_after = 2 },
	};
	struct rbd_policy np = policy;

	to_watching();
	QUIET(unknown(HEALTHZ, "skipped"), T1 + WARMUP);
	QUIET(unknown(ERRRATE, NO_SERIES), T1 + WARMUP);
	np.checks = nc;
	np.n_checks = 2;
	ck_assert_int_eq(rbd_watch_set_policy(w, &policy, &np), 0);
	policy = np;
	STEP(timer(), T1 + DURATION);
	RECORDED("inconclusive", WATCHING, HELD, "error-rate: no data during "
	    "the whole window (query returned no series); not promoting on no "
	    "data");
}
END_TEST

/* A restarted watch (the store does not keep counters) judges afresh. */
START_TEST(test_restart_resets_unknowns)
{
	to_watching();
	UNKNOWNS(ERRRATE, 4, T1 + WARMUP, NO_SERIES);
	restart();
	ck_assert_uint_eq(w->unknowns[ERRRATE], 0);
	ck_assert_str_eq(w->window_no_data[ERRRATE], "");
	UNKNOWNS(ERRRATE, 4, T1 + 2 * MIN, NO_SERIES);
	STEP(unknown(ERRRATE, NO_SERIES), T1 + 3 * MIN);
	ck_assert_str_eq(st.event, "inconclusive");
}
END_TEST

/* rbd_watch_reset_counts zeroes every counter and tally. */
START_TEST(test_reset_counts)
{
	to_watching();
	QUIET(failing(HEALTHZ), T1 + WARMUP);
	QUIET(sample(ERRRATE, RBD_SAMPLE_OK, NULL), T1 + WARMUP);
	QUIET(unknown(ERRRATE, NO_SERIES), T1 + WARMUP + SEC);
	rbd_watch_reset_counts(w);
	for (size_t i = 0; i < w->n_checks; i++) {
		ck_assert_uint_eq(w->fails[i], 0);
		ck_assert_uint_eq(w->unknowns[i], 0);
		ck_assert_uint_eq(w->window_ok[i], 0);
		ck_assert_str_eq(w->window_no_data[i], "");
	}
}
END_TEST

/* Without the old policy nothing is carried over; zero checks is fine. */
START_TEST(test_set_policy_edges)
{
	struct rbd_policy np = policy;

	to_watching();
	STEP(failing(HEALTHZ), T1 + WARMUP);
	ck_assert_int_eq(rbd_watch_set_policy(w, NULL, &policy), 0);
	ck_assert_uint_eq(w->n_checks, 2);
	ck_assert_uint_eq(w->fails[HEALTHZ], 0);
	np.n_checks = 0;
	np.checks = NULL;
	ck_assert_int_eq(rbd_watch_set_policy(w, &policy, &np), 0);
	ck_assert_uint_eq(w->n_checks, 0);
	ck_assert_ptr_null(w->fails);
	ck_assert_ptr_null(w->unknowns);
	ck_assert_ptr_null(w->window_ok);
	ck_assert_ptr_null(w->window_no_data);
	rbd_watch_reset_counts(w);
	policy = np;
	REFUSED(failing(HEALTHZ), T1 + MIN, -EINVAL, "no check #0");
	STEP(timer(), T1 + DURATION);
	RECORDED("promoted", WATCHING, IDLE,
	    "v2 healthy for 10m; now the known-good release");
}
END_TEST

/* A sample for a check the watch was not sized for is refused, even if
 * the policy passed has it (the shell forgot rbd_watch_set_policy). */
START_TEST(test_policy_mismatch)
{
	struct rbd_check nc[3] = {
		{ .name = name_healthz, .fail_after = 3 },
		{ .name = name_errrate, .fail_after = 2 },
		{ .name = name_p99, .fail_after = 1 },
	};

	to_watching();
	policy.checks = nc;
	policy.n_checks = 3;
	REFUSED(failing(2), T1 + WARMUP, -EINVAL, "no check #2");
}
END_TEST

/* ==== issue 6: rollbacks that are safe to automate ==== */

/* Wall clock: 2024-05-01 10:42:07 UTC, and times after it. */
#define W0	(UINT64_C(1714560127) * SEC)
#define MIGRATE_DOWN_ARGV { "/usr/local/bin/migrate-down", "{from_schema}", \
	"{to_schema}", NULL }
static char *migrate_down_argv[] = MIGRATE_DOWN_ARGV;

/* ev with the shell's wall clock at wall. */
static struct rbd_event at_wall(struct rbd_event ev, uint64_t wall)
{
	ev.wall = wall;
	return ev;
}

/* A release that runs against schema s, migrated m. */
static struct rbd_event deployed_s(const char *v, int64_t s,
    enum rbd_migration m)
{
	struct rbd_event ev = deployed(v);

	ev.schema = s;
	ev.migration = m;
	return ev;
}

/* Give the policy a migrate_down command. */
static void with_migrate_down(void)
{
	policy.migrate_down_argv = migrate_down_argv;
	policy.migrate_down_argc = N_ELEMENTS(migrate_down_argv) - 1;
}

/* Announce v at t and degrade it at exactly t + 1m: error-rate (fail_after
 * 2) fails at t + 50s and t + 1m. */
static void deploy_degrade(struct rbd_event dep, uint64_t t, int line)
{
	step_ok(dep, t, line);
	step_ok(failing(ERRRATE), t + 50 * SEC, line);
	step_ok(failing(ERRRATE), t + MIN, line);
}
#define DEGRADE(v, t) deploy_degrade(deployed(v), (t), __LINE__)
#define DEGRADE_S(v, s, m, t) deploy_degrade(deployed_s((v), (s), (m)), (t), \
    __LINE__)

/* What the degrading sample of deploy_degrade says. */
#define ERR_WHY "error-rate: 0.073 > 0.02 for 2 consecutive samples " \
	"(fail_after 2)"

/* Finish the rollback in flight at t and verify it 5m later: idle. */
static void finish_rollback(uint64_t t, int line)
{
	step_ok(done(w->deploy_id, RBD_DEPLOY_OK, NULL), t, line);
	step_ok(timer(), t + VERIFY, line);
	ck_assert_msg(w->state == RBD_STATE_IDLE, "line %d: not idle", line);
}
#define FINISH(t) finish_rollback((t), __LINE__)

/* ---- names ---- */

START_TEST(test_new_names)
{
	enum rbd_migration m;

	ck_assert_str_eq(rbd_migration_str(RBD_MIGRATION_NONE), "none");
	ck_assert_str_eq(rbd_migration_str(RBD_MIGRATION_REVERSIBLE),
	    "reversible");
	ck_assert_str_eq(rbd_migration_str(RBD_MIGRATION_IRREVERSIBLE),
	    "irreversible");
	ck_assert_str_eq(rbd_migration_str(_RBD_MIGRATION_MAX), "unknown");
	ck_assert_int_eq(rbd_migration_from_str("irreversible", &m), 0);
	ck_assert_int_eq(m, RBD_MIGRATION_IRREVERSIBLE);
	m = RBD_MIGRATION_NONE;
	ck_assert_int_eq(rbd_migration_from_str("reversible", &m), 0);
	ck_assert_int_eq(m, RBD_MIGRATION_REVERSIBLE);
	ck_assert_int_eq(rbd_migration_from_str("Reversible", &m), -EINVAL);
	ck_assert_int_eq(rbd_migration_from_str("", &m), -EINVAL);
	ck_assert_int_eq(rbd_migration_from_str(NULL, &m), -EINVAL);
	ck_assert_int_eq(m, RBD_MIGRATION_REVERSIBLE);	/* untouched */
	ck_assert_str_eq(rbd_event_type_str(RBD_EV_GUARD_SAMPLE),
	    "guard-sample");
	ck_assert_str_eq(rbd_event_type_str(RBD_EV_PAUSE), "pause");
	ck_assert_str_eq(rbd_event_type_str(RBD_EV_RESUME), "resume");
	ck_assert_str_eq(rbd_action_type_str(RBD_ACT_RUN_MIGRATION),
	    "run-migration");
}
END_TEST

/* ---- the loop breaker ---- */

/* max_automatic rollbacks within the period go ahead (the count shows
 * them); the next one is held, the release marked bad. */
START_TEST(test_loop_breaker_limit)
{
	static const unsigned maxes[] = { 1, 2, 3, 5 };
	unsigned max = maxes[_i];
	char v[16], want[RBD_REASON_MAX];
	uint64_t t = T1;

	policy.max_automatic = max;
	to_idle();
	for (unsigned k = 0; k < max; k++) {
		ck_assert_uint_eq(rbd_watch_auto_count(w, &policy, t), k);
		snprintf(v, sizeof(v), "v%u", k + 2);
		DEGRADE(v, t);
		ck_assert_str_eq(st.event, "degraded");
		ck_assert_int_eq(w->state, RBD_STATE_ROLLING_BACK);
		ck_assert_uint_eq(rbd_watch_auto_count(w, &policy, t + MIN),
		    k + 1);
		FINISH(t + 2 * MIN);
		t += 10 * MIN;
	}
	snprintf(v, sizeof(v), "v%u", max + 2);
	DEGRADE(v, t);
	snprintf(want, sizeof(want), "%u automatic rollback%s of checkout in "
	    "the last 1h (rollback.max_automatic %u); not rolling back %s "
	    "(" ERR_WHY "): a person must decide", max, max == 1 ? "" : "s",
	    max, v);
	RECORDED("loop-breaker", WATCHING, HELD, want);
	snprintf(want, sizeof(want), "stop-probes cancel-timer notify(%s "
	    "held)", v);
	ck_assert_str_eq(acts(), want);
	ck_assert_str_eq(action(RBD_ACT_NOTIFY)->reason, st.reason);
	snprintf(want, sizeof(want), "%s=bad", v);
	ck_assert_str_eq(updates(), want);
	ck_assert(in_list(w->bad, w->n_bad, v));
	ck_assert_str_eq(w->reason, st.reason);
	/* The hold is not a rollback: nothing more is counted. */
	ck_assert_uint_eq(w->n_auto, max);
	ck_assert_uint_eq(rbd_watch_auto_count(w, &policy, t + MIN), max);
}
END_TEST

/* An entry counts while now - t < per: at t + per exactly it has aged out
 * and the rollback goes ahead; a microsecond earlier it is held. */
START_TEST(test_loop_breaker_ages_out)
{
	uint64_t d1 = T1 + MIN;		/* the first rollback's time */
	uint64_t t4 = d1 + HOUR - (_i ? 0 : 1);

	to_idle();
	DEGRADE("v2", T1);
	FINISH(T1 + 2 * MIN);
	DEGRADE("v3", T1 + 10 * MIN);
	FINISH(T1 + 12 * MIN);
	DEGRADE("v4", T1 + 20 * MIN);
	FINISH(T1 + 22 * MIN);
	ck_assert_uint_eq(w->auto_times[0], d1);
	ck_assert_uint_eq(rbd_watch_auto_count(w, &policy, d1 + HOUR - 1), 3);
	ck_assert_uint_eq(rbd_watch_auto_count(w, &policy, d1 + HOUR), 2);
	ck_assert_uint_eq(rbd_watch_auto_count(w, &policy, d1 + 2 * HOUR), 0);
	/* Times after now (a clock that went back) count: hold, not loop. */
	ck_assert_uint_eq(rbd_watch_auto_count(w, &policy, d1 - 1), 3);
	DEGRADE("v5", t4 - MIN);
	if (!_i) {
		RECORDED("loop-breaker", WATCHING, HELD, "3 automatic "
		    "rollbacks of checkout in the last 1h "
		    "(rollback.max_automatic 3); not rolling back v5 ("
		    ERR_WHY "): a person must decide");
		return;
	}
	RECORDED("degraded", WATCHING, ROLLING_BACK,
	    ERR_WHY "; rolling back from v5 to v1");
	/* The aged-out entry is dropped when the new one is noted. */
	ck_assert_uint_eq(w->n_auto, 3);
	ck_assert_uint_eq(w->auto_times[0], T1 + 11 * MIN);
	ck_assert_uint_eq(w->auto_times[2], t4);
}
END_TEST

/* max_automatic 0: never automatically; a person still can. */
START_TEST(test_loop_breaker_zero)
{
	policy.max_automatic = 0;
	to_idle();
	DEGRADE("v2", T1);
	RECORDED("loop-breaker", WATCHING, HELD, "automatic rollbacks are off "
	    "for checkout (rollback.max_automatic 0); not rolling back v2 ("
	    ERR_WHY "): a person must decide");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 held)");
	ck_assert_str_eq(updates(), "v2=bad");
	ck_assert_uint_eq(w->n_auto, 0);
	STEP(operator(RBD_EV_ROLLBACK, NULL), T1 + 2 * MIN);
	RECORDED("rollback-requested", HELD, ROLLING_BACK,
	    "rollback to v1 requested by uid 1000 pid 42");
	ck_assert_str_eq(acts(), "run-deploy(v2->v1 #1)");
	ck_assert_uint_eq(w->n_auto, 0);
}
END_TEST

/* An operator's rollback is neither counted nor stopped by the breaker;
 * nor is a marked-bad release's rollback exempt (it is automatic). */
START_TEST(test_loop_breaker_operator)
{
	policy.max_automatic = 1;
	to_idle();
	DEGRADE("v2", T1);
	FINISH(T1 + 2 * MIN);
	ck_assert_uint_eq(rbd_watch_auto_count(w, &policy, T1 + 10 * MIN), 1);
	STEP(deployed("v3"), T1 + 10 * MIN);
	STEP(operator(RBD_EV_ROLLBACK, NULL), T1 + 11 * MIN);
	RECORDED("rollback-requested", WATCHING, ROLLING_BACK,
	    "rollback to v1 requested by uid 1000 pid 42");
	ck_assert_uint_eq(rbd_watch_auto_count(w, &policy, T1 + 11 * MIN), 1);
	FINISH(T1 + 12 * MIN);
	/* Marking the watched release bad rolls back automatically: held. */
	STEP(deployed("v4"), T1 + 20 * MIN);
	STEP(operator(RBD_EV_MARK_BAD, "v4"), T1 + 21 * MIN);
	RECORDED("loop-breaker", WATCHING, HELD, "1 automatic rollback of "
	    "checkout in the last 1h (rollback.max_automatic 1); not rolling "
	    "back v4 (marked bad by uid 1000 pid 42): a person must decide");
	STEP(operator(RBD_EV_ROLLBACK, "v1"), T1 + 22 * MIN);
	RECORDED("rollback-requested", HELD, ROLLING_BACK,
	    "rollback to v1 requested by uid 1000 pid 42");
	ck_assert_uint_eq(w->n_auto, 1);
}
END_TEST

/* The breaker remembers no more than RBD_WATCH_AUTO_MAX times: when full,
 * the oldest goes; max_automatic above that is as good as the maximum. */
START_TEST(test_loop_breaker_bounded)
{
	policy.max_automatic = RBD_WATCH_AUTO_MAX;
	policy.automatic_per_usec = 30 * MIN;
	to_watching();
	for (size_t i = 0; i < RBD_WATCH_AUTO_MAX; i++)
		w->auto_times[i] = T1 - 20 * MIN + i * SEC;
	w->n_auto = RBD_WATCH_AUTO_MAX;
	w->auto_times[0] = T1 - 31 * MIN;	/* aged out */
	ck_assert_uint_eq(rbd_watch_auto_count(w, &policy, T1 + MIN),
	    RBD_WATCH_AUTO_MAX - 1);
	STEP(failing(ERRRATE), T1 + 50 * SEC);
	STEP(failing(ERRRATE), T1 + MIN);
	ck_assert_str_eq(st.event, "degraded");
	ck_assert_uint_eq(w->n_auto, RBD_WATCH_AUTO_MAX);
	ck_assert_uint_eq(w->auto_times[0], T1 - 20 * MIN + SEC);
	ck_assert_uint_eq(w->auto_times[RBD_WATCH_AUTO_MAX - 1], T1 + MIN);
	FINISH(T1 + 2 * MIN);
	policy.max_automatic = 1000;
	DEGRADE("v3", T1 + 9 * MIN);
	RECORDED("loop-breaker", WATCHING, HELD, "100 automatic rollbacks of "
	    "checkout in the last 30m (rollback.max_automatic 1000); not "
	    "rolling back v3 (" ERR_WHY "): a person must decide");
}
END_TEST

/* ---- schemas: what is recorded ---- */

/* A DEPLOYED event's schema and migration are checked and recorded;
 * promotion records the schema of the release with it. */
START_TEST(test_schema_recorded)
{
	struct rbd_event ev;

	STEP(deployed_s("v1", 42, RBD_MIGRATION_NONE), T0);
	ck_assert_int_eq(w->schema, 42);
	ck_assert_int_eq(w->schema_before, RBD_SCHEMA_NONE);
	ck_assert_int_eq(w->migration, RBD_MIGRATION_NONE);
	STEP(timer(), T0 + DURATION);
	ck_assert_int_eq(w->good_schema[0], 42);
	STEP(operator(RBD_EV_MARK_GOOD, "v0"), T0 + DURATION + MIN);
	ck_assert_str_eq(w->good[0], "v0");
	ck_assert_int_eq(w->good_schema[0], RBD_SCHEMA_NONE);
	ck_assert_int_eq(w->good_schema[1], 42);
	STEP(deployed_s("v2", 43, RBD_MIGRATION_IRREVERSIBLE), T1);
	ck_assert_int_eq(w->schema, 43);
	ck_assert_int_eq(w->schema_before, 42);
	ck_assert_int_eq(w->migration, RBD_MIGRATION_IRREVERSIBLE);
	/* Vouching again for v1, not live, keeps what is known of it. */
	STEP(operator(RBD_EV_MARK_GOOD, "v1"), T1 + MIN);
	ck_assert_str_eq(w->good[0], "v1");
	ck_assert_int_eq(w->good_schema[0], 42);
	ck_assert_str_eq(w->good[1], "v0");
	ck_assert_int_eq(w->good_schema[1], RBD_SCHEMA_NONE);
	/* Marking v1 bad takes its schema out with it. */
	STEP(operator(RBD_EV_MARK_BAD, "v1"), T1 + 2 * MIN);
	ck_assert_uint_eq(w->n_good, 1);
	ck_assert_str_eq(w->good[0], "v0");
	ck_assert_int_eq(w->good_schema[0], RBD_SCHEMA_NONE);
	/* Marking the live release good records the database's schema. */
	STEP(operator(RBD_EV_MARK_GOOD, "v2"), T1 + 3 * MIN);
	ck_assert_int_eq(w->good_schema[0], 43);
	/* A release without a schema leaves the database's unknown. */
	STEP(deployed("v3"), T1 + 4 * MIN);
	ck_assert_int_eq(w->schema, RBD_SCHEMA_NONE);
	ck_assert_int_eq(w->schema_before, 43);
	/* The limits: 0 and RBD_SCHEMA_MAX are schemas. */
	STEP(deployed_s("v4", 0, RBD_MIGRATION_REVERSIBLE), T1 + 5 * MIN);
	ck_assert_int_eq(w->schema, 0);
	STEP(deployed_s("v5", RBD_SCHEMA_MAX, RBD_MIGRATION_NONE),
	    T1 + 6 * MIN);
	ck_assert_int_eq(w->schema, RBD_SCHEMA_MAX);
	ev = deployed_s("v6", 44, RBD_MIGRATION_NONE);
	ev.actor = NULL;
	STEP(ev, T1 + 7 * MIN);
	ck_assert_str_eq(st.reason, "v6 announced; watching for 10m "
	    "(warm-up 30s)");
}
END_TEST

/* Schemas and migrations that make no sense are refused, whatever the
 * state, and change nothing. */
START_TEST(test_schema_refused)
{
	to_watching();
	REFUSED(deployed_s("v3", -2, RBD_MIGRATION_NONE), T1 + MIN, -EINVAL,
	    "invalid schema version -2: it must be between 0 and "
	    "999999999999");
	REFUSED(deployed_s("v3", RBD_SCHEMA_MAX + 1, RBD_MIGRATION_NONE),
	    T1 + MIN, -EINVAL, "invalid schema version 1000000000000: it "
	    "must be between 0 and 999999999999");
	REFUSED(deployed_s("v3", INT64_MIN, RBD_MIGRATION_NONE), T1 + MIN,
	    -EINVAL, "invalid schema version -9223372036854775808: it must be "
	    "between 0 and 999999999999");
	REFUSED(deployed_s("v3", RBD_SCHEMA_NONE, RBD_MIGRATION_REVERSIBLE),
	    T1 + MIN, -EINVAL, "a reversible migration needs the schema "
	    "version the release runs against");
	REFUSED(deployed_s("v3", RBD_SCHEMA_NONE, RBD_MIGRATION_IRREVERSIBLE),
	    T1 + MIN, -EINVAL, "an irreversible migration needs the schema "
	    "version the release runs against");
	REFUSED(deployed_s("v3", 43, _RBD_MIGRATION_MAX), T1 + MIN, -EINVAL,
	    "unknown migration 3");
}
END_TEST

/* ---- schemas: choosing the target ---- */

#define NS RBD_SCHEMA_NONE
#define MN RBD_MIGRATION_NONE
#define MR RBD_MIGRATION_REVERSIBLE
#define MI RBD_MIGRATION_IRREVERSIBLE

static const struct target_case {
	const char *good;	/* "v4:43 v3:- v2:42", newest first; "!" bad */
	int64_t s, sb;		/* the database's schema, and before */
	enum rbd_migration m;
	bool down;		/* the policy has migrate_down */
	const char *want;	/* the target, or NULL */
	int64_t to;		/* *ret_to_schema */
	const char *why;
} target_cases[] = {
	/* The database's schema unknown: the newest, whatever it runs on. */
	{ "v4:44 v3:42", NS, 42, MN, false, "v4", NS, "" },
	/* Equal. */
	{ "v4:43", 43, 42, MI, false, "v4", NS, "" },
	/* Unknown target schema: fine unless the migration was one-way. */
	{ "v4:-", 43, 42, MN, false, "v4", NS, "" },
	{ "v4:-", 43, 42, MR, false, "v4", NS, "" },
	{ "v4:-", 43, 42, MI, false, NULL, NS, "v5 migrated the schema "
	    "irreversibly from 42 to 43; v4, the last known-good release, "
	    "runs against an unknown schema" },
	/* Newer. */
	{ "v4:44", 43, 42, MR, true, NULL, NS, "v4, the last known-good "
	    "release, expects schema 44, but v5 left the database at 43" },
	/* Older: only down a reversible migration, with migrate_down, not
	 * below where the live release's migration began. */
	{ "v4:42", 43, 42, MR, true, "v4", 42, "" },
	{ "v4:42", 43, 41, MR, true, "v4", 42, "" },
	{ "v4:41", 43, 41, MR, true, "v4", 41, "" },
	{ "v4:41", 43, 42, MR, true, NULL, NS, "v5 migrated the schema "
	    "reversibly from 42 to 43 and migrate_down only undoes that; v4, "
	    "the last known-good release, expects schema 41" },
	{ "v4:42", 43, NS, MR, true, NULL, NS, "v5 migrated the schema "
	    "reversibly to 43 and migrate_down only undoes that; v4, the last "
	    "known-good release, expects schema 42" },
	{ "v4:42", 43, 42, MR, false, NULL, NS, "v5 migrated the schema "
	    "reversibly from 42 to 43, but the policy has no migrate_down "
	    "command; v4, the last known-good release, expects schema 42" },
	{ "v4:42", 43, 42, MI, true, NULL, NS, "v5 migrated the schema "
	    "irreversibly from 42 to 43; v4, the last known-good release, "
	    "expects schema 42" },
	{ "v4:42", 43, 43, MI, true, NULL, NS, "v5 migrated the schema "
	    "irreversibly to 43; v4, the last known-good release, expects "
	    "schema 42" },
	{ "v4:42", 43, 42, MN, true, NULL, NS, "the database is at schema 43 "
	    "and v5 announced no reversible migration; v4, the last "
	    "known-good release, expects schema 42" },
	/* An older release that fits is chosen, and the reason says why. */
	{ "v4:42 v3:43", 43, 42, MI, false, "v3", NS, "v3, the newest "
	    "known-good release that runs against schema 43 (v4 expects 42)" },
	{ "v4:44 v3:42 v2:43 v1:43", 43, 42, MI, true, "v2", NS, "v2, the "
	    "newest known-good release that runs against schema 43 (v4 "
	    "expects 44; 1 more newer release did not fit either)" },
	{ "v4:44 v3:40 v2:41 v1:42", 43, 42, MR, true, "v1", 42, "v1, the "
	    "newest known-good release that runs against schema 42, within "
	    "reach of migrate_down (v4 expects 44; 2 more newer releases did "
	    "not fit either)" },
	{ "v4:- v3:43", 43, 42, MI, false, "v3", NS, "v3, the newest "
	    "known-good release that runs against schema 43 (v4's schema is "
	    "unknown)" },
	{ "v4:44 v3:-", 43, 42, MN, false, "v3", NS, "v3, the newest "
	    "known-good release that may run against schema 43 (its own "
	    "schema is unknown; v4 expects 44)" },
	/* None fits: the newest candidate's reason, and how many more. */
	{ "v4:42 v3:41", 43, 42, MI, false, NULL, NS, "v5 migrated the schema "
	    "irreversibly from 42 to 43; v4, the last known-good release, "
	    "expects schema 42; 1 older known-good release is not compatible "
	    "either" },
	{ "v4:42 v3:41 v2:44", 43, 42, MN, false, NULL, NS, "the database is "
	    "at schema 43 and v5 announced no reversible migration; v4, the "
	    "last known-good release, expects schema 42; 2 older known-good "
	    "releases are not compatible either" },
	/* The live and bad releases are no candidates: v3 is the newest. */
	{ "v5:43 v4!:43 v3:43", 43, 42, MI, false, "v3", NS, "" },
	{ "v5:43 v4!:43", 43, 42, MI, false, NULL, NS,
	    "no known-good release to roll back to" },
	{ "", NS, NS, MN, false, NULL, NS,
	    "no known-good release to roll back to" },
};

/* Fill w by hand from a target case, as the store would load it. */
static void load_target_case(const struct target_case *tc)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", tc->good);
	w->n_good = 0;
	w->n_bad = 0;
	for (char *tok = strtok_r(buf, " ", &save); tok;
	    tok = strtok_r(NULL, " ", &save)) {
		char *colon = strchr(tok, ':');
		size_t i = w->n_good++;

		ck_assert_ptr_nonnull(colon);
		*colon = '\0';
		if (colon[-1] == '!') {
			colon[-1] = '\0';
			snprintf(w->bad[w->n_bad++], sizeof(w->bad[0]), "%s",
			    tok);
		}
		snprintf(w->good[i], sizeof(w->good[i]), "%s", tok);
		w->good_schema[i] = colon[1] == '-' ? RBD_SCHEMA_NONE :
		    strtoll(colon + 1, NULL, 10);
	}
	snprintf(w->live, sizeof(w->live), "v5");
	w->schema = tc->s;
	w->schema_before = tc->sb;
	w->migration = tc->m;
	if (tc->down)
		with_migrate_down();
}

START_TEST(test_choose_target)
{
	const struct target_case *tc = &target_cases[_i];
	char why[RBD_REASON_MAX];
	int64_t to = 12345;
	int i;

	load_target_case(tc);
	memset(why, 'x', sizeof(why));
	i = rbd_watch_choose_target(w, &policy, &to, why, sizeof(why));
	ck_assert_str_eq(why, tc->why);
	if (!tc->want) {
		ck_assert_int_eq(i, -ENOENT);
		ck_assert_int_eq(to, 12345);	/* untouched */
		return;
	}
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(w->good[i], tc->want);
	ck_assert_int_eq(to, tc->to);
	/* Without a why buffer or to_schema it answers the same. */
	ck_assert_int_eq(rbd_watch_choose_target(w, &policy, NULL, NULL, 0),
	    i);
}
END_TEST

/* A short why buffer is cut, never overrun. */
START_TEST(test_choose_target_short)
{
	char why[16];
	int64_t to;

	load_target_case(&target_cases[4]);
	memset(why, 'x', sizeof(why));
	ck_assert_int_eq(rbd_watch_choose_target(w, &policy, &to, why, 12),
	    -ENOENT);
	ck_assert_str_eq(why, "v5 migrated");
	ck_assert_int_eq(why[12], 'x');
}
END_TEST

/* ---- schemas: the rollback ---- */

/* History: v1, known-good, runs against schema 42. */
static void to_schema_watch(void)
{
	STEP(deployed_s("v1", 42, RBD_MIGRATION_NONE), T0);
	STEP(timer(), T0 + DURATION);
}

/* An irreversible migration past the known-good release's schema: no
 * automatic rollback; a person may still roll back by name. */
START_TEST(test_irreversible_holds)
{
	to_schema_watch();
	DEGRADE_S("v2", 43, RBD_MIGRATION_IRREVERSIBLE, T1);
	RECORDED("degraded", WATCHING, HELD, ERR_WHY "; v2 migrated the "
	    "schema irreversibly from 42 to 43; v1, the last known-good "
	    "release, expects schema 42: not rolling back automatically, a "
	    "person must decide");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 held)");
	ck_assert_str_eq(action(RBD_ACT_NOTIFY)->reason, st.reason);
	ck_assert_str_eq(updates(), "v2=bad");
	ck_assert_uint_eq(w->n_auto, 0);	/* nothing was rolled back */
	REFUSED(operator(RBD_EV_ROLLBACK, NULL), T1 + 2 * MIN, -ENOENT,
	    "v2 migrated the schema irreversibly from 42 to 43; v1, the last "
	    "known-good release, expects schema 42: name a release to roll "
	    "back to it anyway (rollbackctl rollback checkout --to v1)");
	STEP(operator(RBD_EV_ROLLBACK, "v1"), T1 + 3 * MIN);
	RECORDED("rollback-requested", HELD, ROLLING_BACK, "rollback to v1 "
	    "requested by uid 1000 pid 42; v2 migrated the schema "
	    "irreversibly from 42 to 43; v1 expects schema 42: rolling back "
	    "as asked, without migrate_down");
	ck_assert_str_eq(acts(), "run-deploy(v2->v1 #1)");
	/* Rolled back, the database is taken to run as v1 expects. */
	STEP(done(1, RBD_DEPLOY_OK, NULL), T1 + 4 * MIN);
	ck_assert_int_eq(w->schema, 42);
	ck_assert_int_eq(w->schema_before, 42);
	ck_assert_int_eq(w->migration, RBD_MIGRATION_NONE);
}
END_TEST

/* The newest compatible known-good release may be older than the last;
 * the reason says why it was chosen. */
START_TEST(test_older_target_chosen)
{
	STEP(deployed_s("v1", 43, RBD_MIGRATION_NONE), T0);
	STEP(timer(), T0 + DURATION);
	STEP(deployed_s("v1x", 42, RBD_MIGRATION_NONE), T0 + 11 * MIN);
	STEP(timer(), T0 + 21 * MIN);
	DEGRADE_S("v2", 43, RBD_MIGRATION_IRREVERSIBLE, T1 + 5 * MIN);
	RECORDED("degraded", WATCHING, ROLLING_BACK, ERR_WHY "; rolling back "
	    "from v2 to v1, the newest known-good release that runs against "
	    "schema 43 (v1x expects 42)");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer "
	    "run-deploy(v2->v1 #1) notify(v2 rolled_back)");
	STEP(done(1, RBD_DEPLOY_OK, NULL), T1 + 7 * MIN);
	ck_assert_int_eq(w->schema, 43);
	/* An operator's rollback without a version gets the same choice. */
	teardown();
	setup();
	STEP(deployed_s("v1", 43, RBD_MIGRATION_NONE), T0);
	STEP(timer(), T0 + DURATION);
	STEP(deployed_s("v1x", 42, RBD_MIGRATION_NONE), T0 + 11 * MIN);
	STEP(timer(), T0 + 21 * MIN);
	STEP(deployed_s("v2", 43, RBD_MIGRATION_IRREVERSIBLE), T1 + 5 * MIN);
	STEP(operator(RBD_EV_ROLLBACK, NULL), T1 + 6 * MIN);
	RECORDED("rollback-requested", WATCHING, ROLLING_BACK, "rollback to "
	    "v1, the newest known-good release that runs against schema 43 "
	    "(v1x expects 42), requested by uid 1000 pid 42");
}
END_TEST

/* A reversible migration with migrate_down: the down-migration runs
 * first, is recorded, and only then the code's deploy; ids never mix. */
START_TEST(test_migrate_down_order)
{
	struct snap s;

	with_migrate_down();
	to_schema_watch();
	DEGRADE_S("v2", 43, RBD_MIGRATION_REVERSIBLE, T1);
	RECORDED("degraded", WATCHING, ROLLING_BACK, ERR_WHY "; migrating "
	    "the schema down from 43 to 42, then rolling back from v2 to v1");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer "
	    "run-migration(v2->v1 43->42 #1) notify(v2 rolled_back)");
	ck_assert_str_eq(action(RBD_ACT_RUN_MIGRATION)->reason, st.reason);
	ck_assert_str_eq(updates(), "v2=bad");
	ck_assert(w->migrating);
	ck_assert_int_eq(w->target_schema, 42);
	ck_assert_uint_eq(w->deploy_id, 1);
	ck_assert_uint_eq(w->n_auto, 1);
	/* Stale completions change nothing. */
	snap_take(&s);
	QUIET(done(2, RBD_DEPLOY_OK, NULL), T1 + MIN + SEC);
	QUIET(done(0, RBD_DEPLOY_FAILED, NULL), T1 + MIN + SEC);
	snap_same(&s, __LINE__);
	/* Another deploy or rollback waits for this one. */
	REFUSED(deployed("v3"), T1 + MIN + SEC, -EBUSY, NULL);
	REFUSED(operator(RBD_EV_ROLLBACK, NULL), T1 + MIN + SEC, -EBUSY,
	    "already rolling back from v2 to v1");
	STEP(done(1, RBD_DEPLOY_OK, "exited with status 0"), T1 + 2 * MIN);
	RECORDED("migrated-down", ROLLING_BACK, ROLLING_BACK, "migrate_down "
	    "took the schema from 43 to 42; now deploying v1 (rollback from "
	    "v2 to v1)");
	ck_assert_str_eq(acts(), "run-deploy(v2->v1 #2)");
	ck_assert_str_eq(action(RBD_ACT_RUN_DEPLOY)->reason, st.reason);
	ck_assert_str_eq(updates(), "");
	ck_assert(!w->migrating);
	ck_assert_int_eq(w->schema, 42);
	ck_assert_uint_eq(w->since, T1 + MIN);	/* the same state */
	ck_assert_str_ne(w->reason, st.reason);
	/* The migration's id is stale now. */
	QUIET(done(1, RBD_DEPLOY_FAILED, NULL), T1 + 2 * MIN + SEC);
	STEP(done(2, RBD_DEPLOY_OK, NULL), T1 + 3 * MIN);
	RECORDED("rolled-back", ROLLING_BACK, VERIFYING,
	    "deployed v1 (rollback from v2)");
	ck_assert_int_eq(w->schema, 42);
	ck_assert_int_eq(w->migration, RBD_MIGRATION_NONE);
	ck_assert_int_eq(w->target_schema, RBD_SCHEMA_NONE);
	STEP(timer(), T1 + 8 * MIN);
	RECORDED("verified", VERIFYING, IDLE,
	    "rollback to v1 verified: healthy for 5m");
}
END_TEST

static const struct {
	enum rbd_deploy_result result;
	const char *detail;
	const char *reason;
} migration_failures[] = {
	{ RBD_DEPLOY_FAILED, "exited with status 1", "rollback from v2 to v1 "
	    "failed: migrate_down command (schema 43 to 42) exited with "
	    "status 1; the code was not rolled back, a person must decide" },
	{ RBD_DEPLOY_TIMED_OUT, NULL, "rollback from v2 to v1 failed: "
	    "migrate_down command (schema 43 to 42) timed out; the code was "
	    "not rolled back, a person must decide" },
};

/* A failing down-migration holds; the code is not rolled back. */
START_TEST(test_migration_failed)
{
	with_migrate_down();
	to_schema_watch();
	DEGRADE_S("v2", 43, RBD_MIGRATION_REVERSIBLE, T1);
	STEP(done(1, migration_failures[_i].result,
	    migration_failures[_i].detail), T1 + 2 * MIN);
	RECORDED("migration-failed", ROLLING_BACK, HELD,
	    migration_failures[_i].reason);
	ck_assert_str_eq(acts(), "");
	ck_assert_str_eq(updates(), "");
	ck_assert(!w->migrating);
	ck_assert_str_eq(w->live, "v2");
	ck_assert_int_eq(w->schema, 43);
	ck_assert_uint_eq(w->deploy_id, 0);
	QUIET(done(1, RBD_DEPLOY_OK, NULL), T1 + 3 * MIN);
	/* A person retries: the migration again, as the rules give it. */
	STEP(operator(RBD_EV_ROLLBACK, NULL), T1 + 4 * MIN);
	RECORDED("rollback-requested", HELD, ROLLING_BACK, "rollback to v1 "
	    "requested by uid 1000 pid 42; migrating the schema down from 43 "
	    "to 42 first");
	ck_assert_str_eq(acts(), "run-migration(v2->v1 43->42 #2)");
}
END_TEST

/* The code's deploy fails after the migration: held; a retry deploys the
 * code only, the database being at 42 now. */
START_TEST(test_migrated_then_deploy_failed)
{
	with_migrate_down();
	to_schema_watch();
	DEGRADE_S("v2", 43, RBD_MIGRATION_REVERSIBLE, T1);
	STEP(done(1, RBD_DEPLOY_OK, NULL), T1 + 2 * MIN);
	STEP(done(2, RBD_DEPLOY_FAILED, "exited with status 2"),
	    T1 + 3 * MIN);
	RECORDED("rollback-failed", ROLLING_BACK, HELD, "rollback from v2 to "
	    "v1 failed: deploy command exited with status 2");
	STEP(operator(RBD_EV_ROLLBACK, NULL), T1 + 4 * MIN);
	RECORDED("rollback-requested", HELD, ROLLING_BACK,
	    "rollback to v1 requested by uid 1000 pid 42");
	ck_assert_str_eq(acts(), "run-deploy(v2->v1 #3)");
}
END_TEST

/* Resumed after a restart: the migration again while it had not finished,
 * then the code's deploy. */
START_TEST(test_resume_migrating)
{
	with_migrate_down();
	to_schema_watch();
	DEGRADE_S("v2", 43, RBD_MIGRATION_REVERSIBLE, T1);
	restart();
	resume(T1 + 2 * MIN);
	ck_assert_str_eq(acts(), "run-migration(v2->v1 43->42 #2)");
	ck_assert_str_eq(action(RBD_ACT_RUN_MIGRATION)->reason, w->reason);
	ck_assert(w->migrating);
	QUIET(done(1, RBD_DEPLOY_OK, NULL), T1 + 2 * MIN + SEC);
	STEP(done(2, RBD_DEPLOY_OK, NULL), T1 + 3 * MIN);
	ck_assert_str_eq(st.event, "migrated-down");
	ck_assert_str_eq(acts(), "run-deploy(v2->v1 #3)");
	restart();
	resume(T1 + 4 * MIN);
	ck_assert_str_eq(acts(), "run-deploy(v2->v1 #4)");
	STEP(done(4, RBD_DEPLOY_OK, NULL), T1 + 5 * MIN);
	RECORDED("rolled-back", ROLLING_BACK, VERIFYING,
	    "deployed v1 (rollback from v2)");
}
END_TEST

/* An operator's rollback by name: a down-migration when the rules give
 * one; otherwise as asked, saying when the schema differs. */
START_TEST(test_operator_rollback_schema)
{
	with_migrate_down();
	to_schema_watch();
	STEP(deployed_s("v2", 43, RBD_MIGRATION_REVERSIBLE), T1);
	STEP(operator(RBD_EV_ROLLBACK, "v1"), T1 + MIN);
	RECORDED("rollback-requested", WATCHING, ROLLING_BACK, "rollback to "
	    "v1 requested by uid 1000 pid 42; migrating the schema down from "
	    "43 to 42 first");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer "
	    "run-migration(v2->v1 43->42 #1) notify(v2 rolled_back)");
	ck_assert_uint_eq(w->n_auto, 0);
	/* A known-good release that expects a newer schema. */
	teardown();
	setup();
	STEP(deployed_s("v3", 44, RBD_MIGRATION_NONE), T0);
	STEP(timer(), T0 + DURATION);
	STEP(deployed_s("v1", 42, RBD_MIGRATION_NONE), T0 + 11 * MIN);
	STEP(timer(), T0 + 21 * MIN);
	STEP(deployed_s("v2", 43, RBD_MIGRATION_REVERSIBLE), T1 + 5 * MIN);
	STEP(operator(RBD_EV_ROLLBACK, "v3"), T1 + 6 * MIN);
	RECORDED("rollback-requested", WATCHING, ROLLING_BACK, "rollback to "
	    "v3 requested by uid 1000 pid 42; v3 expects schema 44, but v2 "
	    "left the database at 43: rolling back as asked, without "
	    "migrate_down");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer "
	    "run-deploy(v2->v3 #1) notify(v2 rolled_back)");
	/* A release the watch knows nothing of runs against an unknown
	 * schema: as asked, nothing to say. */
	teardown();
	setup();
	to_schema_watch();
	STEP(deployed_s("v2", 43, RBD_MIGRATION_REVERSIBLE), T1);
	STEP(operator(RBD_EV_ROLLBACK, "v0"), T1 + MIN);
	RECORDED("rollback-requested", WATCHING, ROLLING_BACK,
	    "rollback to v0 requested by uid 1000 pid 42");
	STEP(done(1, RBD_DEPLOY_OK, NULL), T1 + 2 * MIN);
	ck_assert_int_eq(w->schema, 43);	/* nothing says otherwise */
}
END_TEST

/* ---- guards ---- */

#define PG	0
#define REDIS	1
static char name_postgres[] = "postgres";
static char name_redis[] = "redis";
static struct rbd_check guards[2];

/* Give the policy two guards (postgres fail_after 2, redis fail_after 1)
 * and a watch sized for them. */
static void with_guards(void)
{
	memset(guards, 0, sizeof(guards));
	guards[PG].name = name_postgres;
	guards[PG].fail_after = 2;
	guards[REDIS].name = name_redis;
	guards[REDIS].fail_after = 1;
	policy.guards = guards;
	policy.n_guards = 2;
	rbd_watch_free(w);
	w = rbd_watch_new(&policy);
	ck_assert_ptr_nonnull(w);
	ck_assert_uint_eq(w->n_guards, 2);
}

static struct rbd_event guard(size_t g, enum rbd_sample_result r,
    const char *detail, uint64_t wall)
{
	return (struct rbd_event){ .type = RBD_EV_GUARD_SAMPLE, .check = g,
	    .sample = r, .detail = detail, .wall = wall };
}

#define GFAIL(g, wall) guard((g), RBD_SAMPLE_FAIL, "connection refused", \
    (wall))

/* A failing guard holds instead of rolling back; the release is not
 * marked bad, nothing is counted; the time is the run's first sample. */
START_TEST(test_guard_holds)
{
	with_guards();
	to_watching();
	QUIET(GFAIL(PG, W0), T1 + 40 * SEC);
	QUIET(guard(PG, RBD_SAMPLE_FAIL, "timeout after 2s", W0 + 10 * SEC),
	    T1 + 50 * SEC);
	ck_assert_uint_eq(w->guard_fails[PG], 2);
	ck_assert_uint_eq(w->guard_since_wall[PG], W0);
	ck_assert_str_eq(w->guard_detail[PG], "timeout after 2s");
	STEP(failing(ERRRATE), T1 + 50 * SEC);
	STEP(at_wall(failing(ERRRATE), W0 + 20 * SEC), T1 + MIN);
	RECORDED("guarded", WATCHING, HELD, "guard postgres failing since "
	    "10:42:07 UTC (timeout after 2s); not rolling back checkout v2 ("
	    ERR_WHY ")");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 held)");
	ck_assert_str_eq(action(RBD_ACT_NOTIFY)->reason, st.reason);
	ck_assert_str_eq(updates(), "");
	ck_assert(!in_list(w->bad, w->n_bad, "v2"));
	ck_assert_uint_eq(w->n_auto, 0);
	ck_assert_str_eq(rbd_watch_rollback_target(w), "v1");
	/* A person decides: here, to roll back after all. */
	STEP(operator(RBD_EV_ROLLBACK, NULL), T1 + 2 * MIN);
	RECORDED("rollback-requested", HELD, ROLLING_BACK,
	    "rollback to v1 requested by uid 1000 pid 42");
}
END_TEST

/* fail_after is the guard's own: one failure short, the rollback goes
 * ahead; the second guard (fail_after 1) fails on its first sample. */
START_TEST(test_guard_fail_after_edge)
{
	with_guards();
	to_idle();
	QUIET(GFAIL(PG, W0), T1 - MIN);
	DEGRADE("v2", T1);
	RECORDED("degraded", WATCHING, ROLLING_BACK,
	    ERR_WHY "; rolling back from v2 to v1");
	teardown();
	setup();
	with_guards();
	to_watching();
	QUIET(GFAIL(PG, W0), T1 + 40 * SEC);
	QUIET(guard(REDIS, RBD_SAMPLE_FAIL, NULL, W0 + SEC), T1 + 41 * SEC);
	STEP(failing(ERRRATE), T1 + 50 * SEC);
	STEP(at_wall(failing(ERRRATE), W0 + 30 * SEC), T1 + MIN);
	RECORDED("guarded", WATCHING, HELD, "guard redis failing since "
	    "10:42:08 UTC (failed); not rolling back checkout v2 (" ERR_WHY
	    ")");
}
END_TEST

/* An unknown guard sample neither breaks nor extends a run (no_data
 * inconclusive, the default, or ignore). */
START_TEST(test_guard_unknown)
{
	with_guards();
	guards[PG].no_data = _i ? RBD_NO_DATA_IGNORE :
	    RBD_NO_DATA_INCONCLUSIVE;
	to_watching();
	QUIET(GFAIL(PG, W0), T1 + 30 * SEC);
	QUIET(guard(PG, RBD_SAMPLE_UNKNOWN, "no series", W0 + 10 * SEC),
	    T1 + 40 * SEC);
	ck_assert_uint_eq(w->guard_fails[PG], 1);
	ck_assert_str_eq(w->guard_detail[PG], "connection refused");
	/* One failure and an unknown: not failing, the rollback goes. */
	STEP(failing(ERRRATE), T1 + 50 * SEC);
	STEP(failing(ERRRATE), T1 + MIN);
	ck_assert_str_eq(st.event, "degraded");
	teardown();
	setup();
	with_guards();
	to_watching();
	QUIET(GFAIL(PG, W0), T1 + 30 * SEC);
	QUIET(guard(PG, RBD_SAMPLE_UNKNOWN, "no series", W0 + 10 * SEC),
	    T1 + 40 * SEC);
	QUIET(guard(PG, RBD_SAMPLE_FAIL, "HTTP 503", W0 + 20 * SEC),
	    T1 + 45 * SEC);
	ck_assert_uint_eq(w->guard_since_wall[PG], W0);
	STEP(failing(ERRRATE), T1 + 50 * SEC);
	STEP(at_wall(failing(ERRRATE), W0 + HOUR), T1 + MIN);
	RECORDED("guarded", WATCHING, HELD, "guard postgres failing since "
	    "10:42:07 UTC (HTTP 503); not rolling back checkout v2 (" ERR_WHY
	    ")");
}
END_TEST

/* no_data: fail on a guard makes an unknown sample a failure. */
START_TEST(test_guard_no_data_fail)
{
	with_guards();
	guards[PG].no_data = RBD_NO_DATA_FAIL;
	to_watching();
	QUIET(guard(PG, RBD_SAMPLE_UNKNOWN, "Prometheus unreachable", W0),
	    T1 + 30 * SEC);
	QUIET(guard(PG, RBD_SAMPLE_UNKNOWN, NULL, W0 + 10 * SEC),
	    T1 + 40 * SEC);
	STEP(failing(ERRRATE), T1 + 50 * SEC);
	STEP(at_wall(failing(ERRRATE), W0 + MIN), T1 + MIN);
	RECORDED("guarded", WATCHING, HELD, "guard postgres failing since "
	    "10:42:07 UTC (no data: unknown); not rolling back checkout v2 ("
	    ERR_WHY ")");
}
END_TEST

/* The since-time is the first failing sample of the current run: an OK
 * sample ends a run, the next failure starts a new one. */
START_TEST(test_guard_since_first)
{
	with_guards();
	to_watching();
	QUIET(GFAIL(PG, W0), T1 + 10 * SEC);
	QUIET(GFAIL(PG, W0 + 10 * SEC), T1 + 20 * SEC);
	QUIET(GFAIL(PG, W0 + 20 * SEC), T1 + 30 * SEC);
	ck_assert_uint_eq(w->guard_since_wall[PG], W0);
	QUIET(guard(PG, RBD_SAMPLE_OK, NULL, W0 + 30 * SEC), T1 + 35 * SEC);
	ck_assert_uint_eq(w->guard_fails[PG], 0);
	ck_assert_uint_eq(w->guard_since_wall[PG], 0);
	ck_assert_str_eq(w->guard_detail[PG], "");
	QUIET(GFAIL(PG, W0 + 40 * SEC), T1 + 40 * SEC);
	QUIET(guard(PG, RBD_SAMPLE_FAIL, "HTTP 503", W0 + 50 * SEC),
	    T1 + 45 * SEC);
	STEP(failing(ERRRATE), T1 + 50 * SEC);
	STEP(at_wall(failing(ERRRATE), W0 + MIN), T1 + MIN);
	RECORDED("guarded", WATCHING, HELD, "guard postgres failing since "
	    "10:42:47 UTC (HTTP 503); not rolling back checkout v2 (" ERR_WHY
	    ")");
}
END_TEST

/* A guard that recovers before the degradation lets the rollback go. */
START_TEST(test_guard_recovers)
{
	with_guards();
	to_watching();
	QUIET(GFAIL(PG, W0), T1 + 10 * SEC);
	QUIET(GFAIL(PG, W0 + 10 * SEC), T1 + 20 * SEC);
	QUIET(guard(PG, RBD_SAMPLE_OK, "HTTP 200", W0 + 20 * SEC),
	    T1 + 30 * SEC);
	STEP(failing(ERRRATE), T1 + 50 * SEC);
	STEP(failing(ERRRATE), T1 + MIN);
	RECORDED("degraded", WATCHING, ROLLING_BACK,
	    ERR_WHY "; rolling back from v2 to v1");
	ck_assert_uint_eq(w->n_auto, 1);
}
END_TEST

/* A failing guard changes nothing in verifying, which holds anyway. */
START_TEST(test_guard_verifying)
{
	with_guards();
	to_verifying();
	QUIET(GFAIL(PG, W0), T2 + 10 * SEC);
	QUIET(GFAIL(PG, W0 + 10 * SEC), T2 + 20 * SEC);
	for (uint64_t i = 0; i < 2; i++)
		STEP(failing(ERRRATE), T2 + WARMUP + i * 10 * SEC);
	RECORDED("degraded", VERIFYING, HELD, "rolled back to v1, but v1 is "
	    "unhealthy too: error-rate: 0.073 > 0.02 for 2 consecutive "
	    "samples (fail_after 2); holding, a person must decide");
}
END_TEST

/* Without a wall time the reason says no time; a run that started on
 * another day says the date; the guard comes before the loop breaker and
 * before a missing target. */
START_TEST(test_guard_forms)
{
	with_guards();
	policy.max_automatic = 0;
	to_idle();
	QUIET(guard(REDIS, RBD_SAMPLE_FAIL, "HTTP 503", 0), T1 - MIN);
	DEGRADE("v2", T1);
	RECORDED("guarded", WATCHING, HELD, "guard redis failing (HTTP 503); "
	    "not rolling back checkout v2 (" ERR_WHY ")");
	teardown();
	setup();
	with_guards();
	to_first();
	QUIET(GFAIL(PG, W0 - 11 * HOUR), T0 + 10 * SEC);
	QUIET(GFAIL(PG, W0), T0 + 20 * SEC);
	STEP(failing(ERRRATE), T0 + 50 * SEC);
	STEP(at_wall(failing(ERRRATE), W0 + MIN), T0 + MIN);
	RECORDED("guarded", WATCHING, HELD, "guard postgres failing since "
	    "2024-04-30 23:42:07 UTC (connection refused); not rolling back "
	    "checkout v1 (" ERR_WHY ")");
}
END_TEST

/* Guard samples count in every state and never make a record. */
START_TEST(test_guard_every_state)
{
	static const enum fx states[] = { FX_FRESH, FX_IDLE, FX_WATCHING,
	    FX_ROLLING, FX_VERIFYING, FX_HELD };

	with_guards();
	build(states[_i]);
	QUIET(GFAIL(REDIS, W0), T3);
	QUIET(GFAIL(REDIS, W0 + SEC), T3 + SEC);
	ck_assert_uint_eq(w->guard_fails[REDIS], 2);
	ck_assert_uint_eq(w->guard_fails[PG], 0);
	QUIET(guard(REDIS, RBD_SAMPLE_OK, NULL, W0 + 2 * SEC), T3 + 2 * SEC);
	ck_assert_uint_eq(w->guard_fails[REDIS], 0);
}
END_TEST

/* Bad guard samples are refused and change nothing. */
START_TEST(test_guard_refused)
{
	with_guards();
	to_watching();
	QUIET(GFAIL(PG, W0), T1 + SEC);
	REFUSED(GFAIL(2, W0), T1 + 2 * SEC, -EINVAL, "no guard #2");
	REFUSED(guard(PG, _RBD_SAMPLE_RESULT_MAX, NULL, W0), T1 + 2 * SEC,
	    -EINVAL, "unknown sample result 3");
	/* A policy with more guards than the watch was made for. */
	policy.n_guards = 1;
	REFUSED(GFAIL(REDIS, W0), T1 + 2 * SEC, -EINVAL, "no guard #1");
	teardown();
	setup();
	REFUSED(GFAIL(0, W0), T0, -EINVAL, "no guard #0");
}
END_TEST

/* Guard runs follow their guard by name over a reload; a restart forgets
 * them; entering a window does not. */
START_TEST(test_guard_reload)
{
	struct rbd_check ng[2] = {
		{ .name = name_redis, .fail_after = 1 },
		{ .name = name_p99, .fail_after = 1 },
	};
	struct rbd_policy np;

	with_guards();
	to_watching();
	QUIET(GFAIL(PG, W0), T1 + SEC);
	QUIET(GFAIL(REDIS, W0 + SEC), T1 + 2 * SEC);
	STEP(deployed("v3"), T1 + 3 * SEC);
	ck_assert_uint_eq(w->guard_fails[PG], 1);
	ck_assert_uint_eq(w->guard_fails[REDIS], 1);
	np = policy;
	np.guards = ng;
	np.n_guards = 2;
	ck_assert_int_eq(rbd_watch_set_policy(w, &policy, &np), 0);
	ck_assert_uint_eq(w->n_guards, 2);
	ck_assert_uint_eq(w->guard_fails[0], 1);
	ck_assert_uint_eq(w->guard_since_wall[0], W0 + SEC);
	ck_assert_str_eq(w->guard_detail[0], "connection refused");
	ck_assert_uint_eq(w->guard_fails[1], 0);
	policy = np;
	restart();
	ck_assert_uint_eq(w->guard_fails[0], 0);
	ck_assert_uint_eq(w->guard_since_wall[0], 0);
	ck_assert_str_eq(w->guard_detail[0], "");
	np.n_guards = 0;
	np.guards = NULL;
	ck_assert_int_eq(rbd_watch_set_policy(w, &policy, &np), 0);
	ck_assert_uint_eq(w->n_guards, 0);
	ck_assert_ptr_null(w->guard_fails);
	ck_assert_ptr_null(w->guard_since_wall);
	ck_assert_ptr_null(w->guard_detail);
}
END_TEST

/* ---- dry-run ---- */

/* Everything is judged and recorded; nothing runs; the release is marked
 * bad and its waiter hears "held". */
START_TEST(test_dry_run)
{
	policy.mode = RBD_MODE_DRY_RUN;
	to_idle();
	DEGRADE("v2", T1);
	RECORDED("would-roll-back", WATCHING, HELD, "dry-run: would have "
	    "rolled back checkout from v2 to v1 (" ERR_WHY "); nothing was run "
	    "(mode: dry-run)");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 held)");
	ck_assert_str_eq(action(RBD_ACT_NOTIFY)->reason, st.reason);
	ck_assert_str_eq(updates(), "v2=bad");
	ck_assert_str_eq(w->live, "v2");
	ck_assert_str_eq(w->target, "");
	ck_assert_uint_eq(w->deploy_id, 0);
	ck_assert_uint_eq(w->n_auto, 1);
	/* Promotion and no-data holds are as in enforce mode. */
	STEP(deployed("v3"), T1 + 10 * MIN);
	STEP(timer(), T1 + 20 * MIN);
	RECORDED("promoted", WATCHING, IDLE,
	    "v3 healthy for 10m; now the known-good release");
	/* An operator's rollback runs. */
	STEP(operator(RBD_EV_ROLLBACK, "v1"), T1 + 21 * MIN);
	ck_assert_str_eq(acts(), "run-deploy(v3->v1 #1)");
}
END_TEST

/* Would-be rollbacks count for the loop breaker, which then says so. */
START_TEST(test_dry_run_loop_breaker)
{
	policy.mode = RBD_MODE_DRY_RUN;
	policy.max_automatic = 1;
	to_idle();
	DEGRADE("v2", T1);
	ck_assert_str_eq(st.event, "would-roll-back");
	DEGRADE("v3", T1 + 10 * MIN);
	RECORDED("loop-breaker", WATCHING, HELD, "1 automatic rollback of "
	    "checkout in the last 1h (rollback.max_automatic 1); not rolling "
	    "back v3 (" ERR_WHY "): a person must decide");
	ck_assert_uint_eq(w->n_auto, 1);
}
END_TEST

/* Dry-run with a down-migration and with a chosen older target says what
 * would have run; without a target it holds as in enforce mode. */
START_TEST(test_dry_run_forms)
{
	policy.mode = RBD_MODE_DRY_RUN;
	with_migrate_down();
	to_schema_watch();
	DEGRADE_S("v2", 43, RBD_MIGRATION_REVERSIBLE, T1);
	RECORDED("would-roll-back", WATCHING, HELD, "dry-run: would have "
	    "migrated the schema down from 43 to 42, then rolled back checkout "
	    "from v2 to v1 (" ERR_WHY "); nothing was run (mode: dry-run)");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 held)");
	ck_assert(!w->migrating);
	ck_assert_int_eq(w->schema, 43);
	teardown();
	setup();
	policy.mode = RBD_MODE_DRY_RUN;
	STEP(deployed_s("v1", 43, RBD_MIGRATION_NONE), T0);
	STEP(timer(), T0 + DURATION);
	STEP(deployed_s("v1x", 42, RBD_MIGRATION_NONE), T0 + 11 * MIN);
	STEP(timer(), T0 + 21 * MIN);
	DEGRADE_S("v2", 43, RBD_MIGRATION_IRREVERSIBLE, T1 + 5 * MIN);
	RECORDED("would-roll-back", WATCHING, HELD, "dry-run: would have "
	    "rolled back checkout from v2 to v1, the newest known-good release "
	    "that runs against schema 43 (v1x expects 42) (" ERR_WHY "); "
	    "nothing was run (mode: dry-run)");
	teardown();
	setup();
	policy.mode = RBD_MODE_DRY_RUN;
	to_first();
	STEP(failing(ERRRATE), T0 + WARMUP);
	STEP(failing(ERRRATE), T0 + WARMUP + 10 * SEC);
	RECORDED("degraded", WATCHING, HELD, "error-rate: 0.073 > 0.02 for 2 "
	    "consecutive samples (fail_after 2); no known-good release to roll "
	    "back to (rollbackctl mark-good seeds one)");
	ck_assert_uint_eq(w->n_auto, 0);
}
END_TEST

/* ---- pause ---- */

static struct rbd_event pause_ev(uint64_t duration, const char *text,
    uint64_t wall)
{
	return (struct rbd_event){ .type = RBD_EV_PAUSE, .actor = ACTOR,
	    .text = text, .duration = duration, .wall = wall };
}

static struct rbd_event resume_ev(const char *actor, uint64_t wall)
{
	return (struct rbd_event){ .type = RBD_EV_RESUME, .actor = actor,
	    .wall = wall };
}

/* A pause until resumed: recorded, no state change, no action; automatic
 * rollbacks become would-be ones; an operator resumes. */
START_TEST(test_pause_until_resumed)
{
	to_idle();
	STEP(pause_ev(0, "db maintenance", W0), T1 - MIN);
	RECORDED("paused", IDLE, IDLE, "paused by uid 1000 pid 42 until "
	    "resumed: db maintenance; judging continues, automatic rollbacks "
	    "do not run");
	ck_assert_str_eq(acts(), "");
	ck_assert_str_eq(updates(), "");
	ck_assert(w->paused);
	ck_assert_uint_eq(w->pause_until, 0);
	ck_assert_uint_eq(w->pause_until_wall, 0);
	ck_assert_str_eq(w->pause_reason, "db maintenance");
	ck_assert_str_eq(w->paused_by, ACTOR);
	ck_assert(rbd_watch_paused(w, T1 - MIN));
	ck_assert(rbd_watch_paused(w, UINT64_MAX));
	/* The state's reason is left alone: a pause is no transition. */
	ck_assert_str_eq(w->reason,
	    "v1 healthy for 10m; now the known-good release");
	DEGRADE("v2", T1);
	RECORDED("would-roll-back", WATCHING, HELD, "paused: would have "
	    "rolled back checkout from v2 to v1 (" ERR_WHY "); nothing was run "
	    "(paused by uid 1000 pid 42 until resumed: db maintenance)");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 held)");
	ck_assert_str_eq(updates(), "v2=bad");
	ck_assert_uint_eq(w->n_auto, 1);
	/* The pause timer cannot end a pause until resumed. */
	QUIET(resume_ev(NULL, W0), T1 + 10 * HOUR);
	ck_assert(w->paused);
	STEP(resume_ev(ACTOR, W0 + HOUR), T1 + 10 * HOUR);
	RECORDED("resumed", HELD, HELD, "resumed by uid 1000 pid 42 (paused by "
	    "uid 1000 pid 42: db maintenance); automatic rollbacks run again; "
	    "checkout stays held, a person must decide");
	ck_assert_str_eq(acts(), "");
	ck_assert(!w->paused);
	ck_assert_str_eq(w->pause_reason, "");
	ck_assert_str_eq(w->paused_by, "");
	ck_assert(!rbd_watch_paused(w, T1 + 10 * HOUR));
	REFUSED(resume_ev(ACTOR, W0), T1 + 11 * HOUR, -EALREADY,
	    "checkout is not paused");
}
END_TEST

/* A pause --for ends at pause_until: the timer's RESUME before it is
 * stale, at or after it ends the pause; rbd_watch_paused turns false at
 * pause_until whatever the timer does. */
START_TEST(test_pause_for)
{
	static const int64_t offsets[] = { -1, 0, MIN };
	uint64_t p0 = T1 - 5 * MIN, end = p0 + 10 * MIN;
	uint64_t at = end + (uint64_t)offsets[_i];

	to_idle();
	STEP(pause_ev(10 * MIN, "db maintenance", W0), p0);
	RECORDED("paused", IDLE, IDLE, "paused by uid 1000 pid 42 for 10m "
	    "(until 10:52:07 UTC): db maintenance; judging continues, "
	    "automatic rollbacks do not run");
	ck_assert_uint_eq(w->pause_until, end);
	ck_assert_uint_eq(w->pause_until_wall, W0 + 10 * MIN);
	ck_assert(rbd_watch_paused(w, end - 1));
	ck_assert(!rbd_watch_paused(w, end));
	if (offsets[_i] < 0) {
		QUIET(resume_ev(NULL, W0 + 10 * MIN - 1), at);
		ck_assert(w->paused);
		return;
	}
	STEP(resume_ev(NULL, W0 + 10 * MIN), at);
	RECORDED("resumed", IDLE, IDLE, "pause by uid 1000 pid 42 ended at "
	    "10:52:07 UTC: db maintenance; automatic rollbacks run again");
	ck_assert(!w->paused);
	ck_assert_uint_eq(w->pause_until, 0);
	/* Again: nothing to end. */
	QUIET(resume_ev(NULL, W0 + 11 * MIN), at + MIN);
}
END_TEST

/* A degradation while paused is a would-be rollback until pause_until;
 * from pause_until on it is a real one, even before the timer came. */
START_TEST(test_pause_expiry_degrade)
{
	uint64_t end = T1 + MIN + (_i ? 0 : 1);

	to_idle();
	STEP(pause_ev(end - (T1 - MIN), NULL, 0), T1 - MIN);
	RECORDED("paused", IDLE, IDLE, _i ? "paused by uid 1000 pid 42 for 2m; "
	    "judging continues, automatic rollbacks do not run" :
	    "paused by uid 1000 pid 42 for 2m1us; judging continues, automatic "
	    "rollbacks do not run");
	DEGRADE("v2", T1);
	if (_i) {
		RECORDED("degraded", WATCHING, ROLLING_BACK,
		    ERR_WHY "; rolling back from v2 to v1");
		return;
	}
	RECORDED("would-roll-back", WATCHING, HELD, "paused: would have "
	    "rolled back checkout from v2 to v1 (" ERR_WHY "); nothing was run "
	    "(paused by uid 1000 pid 42 for 1us more)");
}
END_TEST

/* A pause in force is replaced: extended (later, or until resumed) or
 * changed (sooner); the new reason and actor stand. */
START_TEST(test_pause_replaced)
{
	struct rbd_event ev;

	to_idle();
	STEP(pause_ev(10 * MIN, "db maintenance", W0), T1);
	STEP(pause_ev(HOUR, "db maintenance, part 2", W0 + MIN), T1 + MIN);
	RECORDED("paused", IDLE, IDLE, "pause extended by uid 1000 pid 42 for "
	    "1h (until 11:43:07 UTC): db maintenance, part 2; judging "
	    "continues, automatic rollbacks do not run");
	ck_assert_uint_eq(w->pause_until, T1 + MIN + HOUR);
	ev = pause_ev(5 * MIN, NULL, W0 + 2 * MIN);
	ev.actor = "uid 0 pid 7";
	STEP(ev, T1 + 2 * MIN);
	RECORDED("paused", IDLE, IDLE, "pause changed by uid 0 pid 7 for 5m "
	    "(until 10:49:07 UTC); judging continues, automatic rollbacks do "
	    "not run");
	ck_assert_str_eq(w->pause_reason, "");
	ck_assert_str_eq(w->paused_by, "uid 0 pid 7");
	STEP(pause_ev(0, NULL, W0 + 3 * MIN), T1 + 3 * MIN);
	RECORDED("paused", IDLE, IDLE, "pause extended by uid 1000 pid 42 until "
	    "resumed; judging continues, automatic rollbacks do not run");
	STEP(pause_ev(MIN, NULL, W0 + 4 * MIN), T1 + 4 * MIN);
	ck_assert_str_eq(st.reason, "pause changed by uid 1000 pid 42 for 1m "
	    "(until 10:47:07 UTC); judging continues, automatic rollbacks do "
	    "not run");
	/* Expired: a new pause, not a change. */
	STEP(pause_ev(MIN, NULL, 0), T1 + 5 * MIN);
	ck_assert_str_eq(st.reason, "paused by uid 1000 pid 42 for 1m; judging "
	    "continues, automatic rollbacks do not run");
}
END_TEST

/* An operator's RESUME of a pause whose time has come is refused: it is
 * not paused (the timer's RESUME clears it). */
START_TEST(test_resume_refused)
{
	REFUSED(resume_ev(ACTOR, W0), T0, -EALREADY, "checkout is not paused");
	QUIET(resume_ev(NULL, W0), T0);
	to_idle();
	STEP(pause_ev(MIN, NULL, 0), T1);
	REFUSED(resume_ev(ACTOR, W0), T1 + MIN, -EALREADY,
	    "checkout is not paused");
	STEP(resume_ev(NULL, 0), T1 + MIN);
	RECORDED("resumed", IDLE, IDLE, "pause by uid 1000 pid 42 ended; "
	    "automatic rollbacks run again");
	/* A resume without an actor name from an operator is impossible:
	 * an empty actor is an operator all the same. */
	STEP(pause_ev(0, NULL, W0), T1 + 2 * MIN);
	STEP(resume_ev("", W0), T1 + 3 * MIN);
	RECORDED("resumed", IDLE, IDLE, "resumed by an operator (paused by uid "
	    "1000 pid 42); automatic rollbacks run again");
}
END_TEST

/* While paused: judgement and promotion go on, state actions run, an
 * operator's rollback runs and is not counted; a rollback under way
 * finishes, and is resumed after a restart. */
START_TEST(test_pause_operator)
{
	to_idle();
	STEP(pause_ev(0, "investigating", W0), T1 - MIN);
	STEP(deployed("v2"), T1);
	ck_assert_str_eq(acts(), "start-probes set-timer(10m)");
	QUIET(failing(ERRRATE), T1 + WARMUP);
	ck_assert_uint_eq(w->fails[ERRRATE], 1);
	STEP(operator(RBD_EV_ROLLBACK, NULL), T1 + MIN);
	RECORDED("rollback-requested", WATCHING, ROLLING_BACK,
	    "rollback to v1 requested by uid 1000 pid 42");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer "
	    "run-deploy(v2->v1 #1) notify(v2 rolled_back)");
	ck_assert_uint_eq(w->n_auto, 0);
	restart();
	resume(T1 + 2 * MIN);
	ck_assert_str_eq(acts(), "run-deploy(v2->v1 #2)");
	ck_assert(w->paused);
	STEP(done(2, RBD_DEPLOY_OK, NULL), T1 + 3 * MIN);
	ck_assert_int_eq(w->state, RBD_STATE_VERIFYING);
	STEP(timer(), T1 + 8 * MIN);
	ck_assert_str_eq(st.event, "verified");
	STEP(deployed("v3"), T1 + 10 * MIN);
	STEP(timer(), T1 + 20 * MIN);
	RECORDED("promoted", WATCHING, IDLE,
	    "v3 healthy for 10m; now the known-good release");
}
END_TEST

/* A pause reason a history line cannot show is refused. */
START_TEST(test_pause_reason_refused)
{
	char longr[RBD_PAUSE_REASON_MAX + 2];

	memset(longr, 'r', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = '\0';
	REFUSED(pause_ev(0, "db\nmaintenance", W0), T0, -EINVAL,
	    "pause reason contains a control character");
	REFUSED(pause_ev(0, "db\x1b[2J", W0), T0, -EINVAL,
	    "pause reason contains a control character");
	REFUSED(pause_ev(0, longr, W0), T0, -EINVAL,
	    "pause reason too long (256 bytes; at most 255)");
	longr[RBD_PAUSE_REASON_MAX] = '\0';
	STEP(pause_ev(0, longr, W0), T0);
	ck_assert_str_eq(w->pause_reason, longr);
	STEP(pause_ev(0, "caf\xc3\xa9", W0), T0);
	ck_assert_str_eq(w->pause_reason, "caf\xc3\xa9");
}
END_TEST

/* A pause with a duration so long it would overflow lasts until the end
 * of time; with the wall clock overflowing it has no time of day. */
START_TEST(test_pause_overflow)
{
	STEP(pause_ev(UINT64_MAX, NULL, W0), T0);
	ck_assert_uint_eq(w->pause_until, UINT64_MAX);
	ck_assert_uint_eq(w->pause_until_wall, 0);
	ck_assert(rbd_watch_paused(w, UINT64_MAX - 1));
}
END_TEST

#undef NS
#undef MN
#undef MR
#undef MI

/* ---- remedies ---- */

static char name_flag_off[] = "flag-off";
static char name_restart[] = "restart";
static struct rbd_remedy remedies[2];

/* Give the policy n remedies: flag-off (settle 1m), restart (settle 2m). */
static void with_remedies(size_t n)
{
	memset(remedies, 0, sizeof(remedies));
	remedies[0].name = name_flag_off;
	remedies[0].settle_usec = MIN;
	remedies[0].timeout_usec = 30 * SEC;
	remedies[1].name = name_restart;
	remedies[1].type = RBD_REMEDY_HTTP;
	remedies[1].settle_usec = 2 * MIN;
	remedies[1].timeout_usec = 30 * SEC;
	policy.remedies = remedies;
	policy.n_remedies = n;
}

static struct rbd_event remedy_done(uint64_t id, enum rbd_deploy_result r,
    const char *detail)
{
	return (struct rbd_event){ .type = RBD_EV_REMEDY_DONE,
	    .deploy_id = id, .deploy = r, .detail = detail };
}

#define HZ_WHY "healthz: HTTP 500 for 3 consecutive samples (fail_after 3)"
#define TD	(T1 + WARMUP + 20 * SEC)	/* healthz degrades */

/* watching(v2) degrades on healthz at TD: remedying, flag-off running. */
static void to_remedying(size_t n)
{
	with_remedies(n);
	to_watching();
	STEP(failing(HEALTHZ), T1 + WARMUP);
	STEP(failing(HEALTHZ), T1 + WARMUP + 10 * SEC);
	STEP(failing(HEALTHZ), TD);
}

/* The first remedy runs instead of a rollback; it works: after its
 * settle period the same release is watched for the rest of its window,
 * then promoted. */
START_TEST(test_remedy_fixes)
{
	to_remedying(2);
	RECORDED("remedying", WATCHING, REMEDYING, HZ_WHY "; trying remedy "
	    "flag-off (1 of 2) before a rollback of checkout v2");
	ck_assert_str_eq(acts(), "cancel-timer run-remedy(0 v2 k=v1 #1)");
	ck_assert_str_eq(action(RBD_ACT_RUN_REMEDY)->reason, st.reason);
	ck_assert_str_eq(updates(), "");
	ck_assert_str_eq(w->remedy_why, HZ_WHY);
	ck_assert_uint_eq(w->remedy, 0);
	ck_assert_uint_eq(w->remedy_watch_since, T1);
	ck_assert_uint_eq(w->n_auto, 1);
	ck_assert(!in_list(w->bad, w->n_bad, "v2"));
	ck_assert_uint_eq(rbd_watch_settle_end(w, &policy), 0);
	/* While the action runs, samples tell nothing of the remedy. */
	QUIET(failing(HEALTHZ), TD + SEC);
	QUIET(timer(), TD + 2 * SEC);
	QUIET(remedy_done(7, RBD_DEPLOY_OK, NULL), TD + 2 * SEC);
	STEP(remedy_done(1, RBD_DEPLOY_OK, "exited with status 0"), TD + 3 * SEC);
	RECORDED("remedy-ran", REMEDYING, REMEDYING, "remedy flag-off (1 of 2) "
	    "ran (exited with status 0); settling for 1m: every check must "
	    "recover");
	ck_assert_str_eq(acts(), "set-timer(1m)");
	ck_assert_uint_eq(w->fails[HEALTHZ], 0);
	ck_assert_uint_eq(rbd_watch_settle_end(w, &policy), TD + 3 * SEC + MIN);
	/* A failing sample that heals, then every check OK. */
	QUIET(failing(HEALTHZ), TD + 10 * SEC);
	QUIET(sample(HEALTHZ, RBD_SAMPLE_OK, "HTTP 200"), TD + 20 * SEC);
	QUIET(sample(ERRRATE, RBD_SAMPLE_OK, "0.001"), TD + 25 * SEC);
	early_timer(TD + 30 * SEC, "set-timer(33s)", __LINE__);
	STEP(timer(), TD + 3 * SEC + MIN);
	RECORDED("remedied", REMEDYING, WATCHING, "remedy flag-off (1 of 2) "
	    "fixed checkout v2: every check recovered within its settle period "
	    "(1m) after " HZ_WHY "; watching v2 for the rest of its window");
	ck_assert_str_eq(acts(), "cancel-timer set-timer(8m7s)");
	ck_assert_uint_eq(w->since, T1);
	ck_assert_uint_eq(w->window_ok[HEALTHZ], 1);
	STEP(timer(), T1 + DURATION);
	RECORDED("promoted", WATCHING, IDLE,
	    "v2 healthy for 10m; now the known-good release");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 promoted)");
}
END_TEST

/* A remedy whose action fails is recorded and the next runs; when the
 * last does not fix it within its settle period, the rollback. Every
 * remedy counts for the loop breaker. */
START_TEST(test_remedy_not_fixed)
{
	to_remedying(2);
	STEP(remedy_done(1, RBD_DEPLOY_FAILED, "exited with status 1"), TD + SEC);
	RECORDED("remedying", REMEDYING, REMEDYING, HZ_WHY "; remedy flag-off "
	    "(1 of 2) failed: exited with status 1; trying remedy restart (2 of "
	    "2) before a rollback of checkout v2");
	ck_assert_str_eq(acts(), "cancel-timer run-remedy(1 v2 k=v1 #2)");
	ck_assert_uint_eq(w->n_auto, 2);
	STEP(remedy_done(2, RBD_DEPLOY_OK, "HTTP 204"), TD + 2 * SEC);
	ck_assert_str_eq(acts(), "set-timer(2m)");
	STEP(failing(HEALTHZ), TD + 10 * SEC);
	STEP(failing(HEALTHZ), TD + 20 * SEC);
	STEP(failing(HEALTHZ), TD + 30 * SEC);
	RECORDED("degraded", REMEDYING, ROLLING_BACK, HZ_WHY "; remedy restart "
	    "(2 of 2) did not fix it: " HZ_WHY "; rolling back from v2 to v1");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer run-deploy(v2->v1 #3) "
	    "notify(v2 rolled_back)");
	ck_assert_str_eq(updates(), "v2=bad");
	ck_assert_uint_eq(w->n_auto, 3);
}
END_TEST

/* Recovered means every check had a healthy sample in the settle period
 * and its latest is healthy; else the next remedy (or the rollback). */
START_TEST(test_remedy_settle_rules)
{
	static const char *const why[] = {
		"healthz had no healthy sample during the settle period",
		"healthz still failing at the end of the settle period",
		"error-rate had no data at the end of the settle period",
	};

	to_remedying(1);
	STEP(remedy_done(1, RBD_DEPLOY_OK, NULL), TD + SEC);
	if (_i == 1) {
		QUIET(sample(HEALTHZ, RBD_SAMPLE_OK, NULL), TD + 10 * SEC);
		QUIET(failing(HEALTHZ), TD + 20 * SEC);
	} else if (_i == 2) {
		QUIET(sample(HEALTHZ, RBD_SAMPLE_OK, NULL), TD + 10 * SEC);
		QUIET(sample(ERRRATE, RBD_SAMPLE_OK, NULL), TD + 10 * SEC);
		QUIET(sample(ERRRATE, RBD_SAMPLE_UNKNOWN, "empty"), TD + 20 * SEC);
	}
	/* A sample at the end is too late: the period is judged first. */
	STEP(sample(HEALTHZ, RBD_SAMPLE_OK, NULL), TD + SEC + MIN);
	ck_assert_str_eq(st.event, "degraded");
	ck_assert_int_eq(w->state, RBD_STATE_ROLLING_BACK);
	ck_assert_msg(strstr(st.reason, why[_i]), "%s", st.reason);
}
END_TEST

/* Dry-run and a pause try nothing: they say which remedies would have
 * run; an operator's mark-bad tries none. */
START_TEST(test_remedy_not_run)
{
	with_remedies(2);
	if (_i == 0) {
		policy.mode = RBD_MODE_DRY_RUN;
		to_idle();
		DEGRADE("v2", T1);
		RECORDED("would-roll-back", WATCHING, HELD, "dry-run: would have "
		    "tried remedies flag-off, restart, then rolled back checkout "
		    "from v2 to v1 (" ERR_WHY "); nothing was run (mode: "
		    "dry-run)");
		ck_assert_uint_eq(w->n_auto, 1);
		return;
	}
	to_watching();
	STEP(operator(RBD_EV_MARK_BAD, "v2"), T1 + MIN);
	ck_assert_str_eq(st.event, "degraded");
	ck_assert_int_eq(w->state, RBD_STATE_ROLLING_BACK);
	ck_assert_str_eq(acts(), "stop-probes cancel-timer run-deploy(v2->v1 #1) "
	    "notify(v2 rolled_back)");
}
END_TEST

/* A pause during a remedy lets it finish; the next one does not run. */
START_TEST(test_remedy_paused)
{
	struct rbd_event pause = operator(RBD_EV_PAUSE, NULL);

	to_remedying(2);
	STEP(pause, TD + SEC);
	STEP(remedy_done(1, RBD_DEPLOY_TIMED_OUT, "timed out after 30s"),
	    TD + 31 * SEC);
	RECORDED("would-roll-back", REMEDYING, HELD, "paused: would have tried "
	    "remedy restart, then rolled back checkout from v2 to v1 (" HZ_WHY
	    "; remedy flag-off (1 of 2) failed: timed out after 30s); nothing "
	    "was run (paused by " ACTOR " until resumed)");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 held)");
}
END_TEST

/* An operator's rollback during a remedy goes straight to the rollback;
 * the remedy's result is then stale. So is a new release's announcement:
 * it supersedes the remedied one. */
START_TEST(test_remedy_operator)
{
	to_remedying(2);
	if (_i == 0) {
		STEP(operator(RBD_EV_ROLLBACK, NULL), TD + SEC);
		RECORDED("rollback-requested", REMEDYING, ROLLING_BACK,
		    "rollback to v1 requested by " ACTOR);
		ck_assert_str_eq(acts(), "stop-probes cancel-timer "
		    "run-deploy(v2->v1 #2) notify(v2 rolled_back)");
		QUIET(remedy_done(1, RBD_DEPLOY_OK, NULL), TD + 2 * SEC);
		return;
	}
	STEP(deployed("v3"), TD + SEC);
	ck_assert_str_eq(st.event, "deployed");
	ck_assert_str_eq(updates(), "v3=watching v2=superseded");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer start-probes "
	    "set-timer(10m) notify(v2 superseded)");
	QUIET(remedy_done(1, RBD_DEPLOY_OK, NULL), TD + 2 * SEC);
}
END_TEST

/* The loop breaker stands before every remedy and the rollback. */
START_TEST(test_remedy_loop_breaker)
{
	policy.max_automatic = 1;
	to_remedying(2);
	ck_assert_str_eq(st.event, "remedying");
	STEP(remedy_done(1, RBD_DEPLOY_FAILED, "exited with status 1"), TD + SEC);
	RECORDED("loop-breaker", REMEDYING, HELD, "1 automatic rollback of "
	    "checkout in the last 1h (rollback.max_automatic 1); not rolling "
	    "back v2 (" HZ_WHY "; remedy flag-off (1 of 2) failed: exited with "
	    "status 1): a person must decide");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 held)");
}
END_TEST

/* A restart while remedying runs the remedy again from its action, with a
 * fresh id; its settle period starts afresh. */
START_TEST(test_remedy_resume)
{
	to_remedying(2);
	STEP(remedy_done(1, RBD_DEPLOY_OK, NULL), TD + SEC);
	restart();
	w->remedy_settling = false;	/* not stored */
	w->remedy_at = 0;
	resume(TD + 5 * MIN);
	ck_assert_str_eq(acts(), "start-probes run-remedy(0 v2 k=v1 #2)");
	ck_assert_str_eq(action(RBD_ACT_RUN_REMEDY)->reason, w->reason);
	ck_assert_uint_eq(w->deploy_id, 2);
	STEP(remedy_done(2, RBD_DEPLOY_OK, NULL), TD + 6 * MIN);
	ck_assert_str_eq(st.event, "remedy-ran");
	/* A remedy a reload took away is given up at the next timer. */
	policy.n_remedies = 0;
	restart();
	resume(TD + 7 * MIN);
	ck_assert_str_eq(acts(), "start-probes set-timer(0s)");
	STEP(timer(), TD + 7 * MIN);
	RECORDED("degraded", REMEDYING, ROLLING_BACK, HZ_WHY "; remedy "
	    "(removed) (1 of 0) failed: it is no longer in the policy; rolling "
	    "back from v2 to v1");
}
END_TEST


/* Tests that build the scripted history get the fixture. */
static TCase *tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	return tc;
}

/* ---- Drill ---- */

#define DT	(T1 + DURATION + MIN)	/* a drill starts from idle(v2) */
#define DB	(DT + 2 * SEC)		/* its rollback's deploy ended */

static struct rbd_event drill_ev(const char *actor)
{
	return (struct rbd_event){ .type = RBD_EV_DRILL, .actor = actor,
	    .wall = UINT64_C(1700000000000000) };
}

static struct rbd_event abort_ev(void)
{
	return (struct rbd_event){ .type = RBD_EV_DRILL_ABORT, .actor = ACTOR };
}

/* idle(v2): v2 promoted, v1 known-good before it. */
static void to_drill_idle(void)
{
	to_watching();
	STEP(timer(), T1 + DURATION);
	ck_assert_int_eq(w->state, RBD_STATE_IDLE);
}

/* drilling, phase back: deploy #1 of v1 runs. */
static void to_drill_back(void)
{
	to_drill_idle();
	STEP(drill_ev(ACTOR), DT);
}

/* drilling, phase verify-back since DB: v1 live. */
static void to_drill_verify_back(void)
{
	to_drill_back();
	STEP(done(1, RBD_DEPLOY_OK, NULL), DB);
}

/* Both checks OK at t and t + 1s (healthy from t + 1s). */
static void both_ok(uint64_t t)
{
	STEP(sample(HEALTHZ, RBD_SAMPLE_OK, "HTTP 200"), t);
	STEP(sample(ERRRATE, RBD_SAMPLE_OK, "0.001"), t + SEC);
}

/* drilling, phase forward: deploy #2 of v2 runs, since DB + VERIFY. */
static void to_drill_forward(void)
{
	to_drill_verify_back();
	both_ok(DB + WARMUP);
	STEP(timer(), DB + VERIFY);
}

/* drilling, phase verify-forward since DB + VERIFY + 3s: v2 live. */
#define DF	(DB + VERIFY + 3 * SEC)
static void to_drill_verify_forward(void)
{
	to_drill_forward();
	STEP(done(2, RBD_DEPLOY_OK, NULL), DF);
}

/* A drill that passes: every transition, its record and its actions. */
START_TEST(test_drill_passes)
{
	to_drill_idle();
	STEP(drill_ev(ACTOR), DT);
	RECORDED("drill-started", IDLE, DRILLING, "drill requested by uid 1000 "
	    "pid 42: rolling back from v2 to v1 as an automatic rollback "
	    "would, verifying it for 5m, then rolling forward to v2 and "
	    "verifying it again");
	ck_assert_str_eq(acts(), "run-deploy(v2->v1 #1)");
	ck_assert_int_eq(w->drill_phase, RBD_DRILL_BACK);
	ck_assert_str_eq(w->target, "v1");
	ck_assert_str_eq(w->from, "v2");
	ck_assert_str_eq(w->live, "v2");

	STEP(done(1, RBD_DEPLOY_OK, NULL), DB);
	RECORDED("drill-rolled-back", DRILLING, DRILLING, "drill: deployed v1 "
	    "(rollback from v2) in 2.0s; verifying it for 5m");
	ck_assert_str_eq(acts(), "start-probes set-timer(5m)");
	ck_assert_int_eq(w->drill_phase, RBD_DRILL_VERIFY_BACK);
	ck_assert_str_eq(w->live, "v1");

	/* Warm-up samples are not judged; healthy once both checks are. */
	QUIET(sample(HEALTHZ, RBD_SAMPLE_OK, "HTTP 200"), DB + SEC);
	STEP(sample(HEALTHZ, RBD_SAMPLE_OK, "HTTP 200"), DB + WARMUP);
	ck_assert(!w->drill_legs[0].healthy);
	STEP(sample(ERRRATE, RBD_SAMPLE_OK, "0.001"), DB + WARMUP + SEC);
	ck_assert(w->drill_legs[0].healthy);
	ck_assert_uint_eq(w->drill_legs[0].healthy_usec, WARMUP + SEC);
	/* One failure below fail_after changes nothing. */
	QUIET(failing(HEALTHZ), DB + WARMUP + 10 * SEC);

	STEP(timer(), DB + VERIFY);
	RECORDED("drill-verified", DRILLING, DRILLING, "drill: v1 healthy for "
	    "5m (healthy after 31.0s): the rollback path works; rolling "
	    "forward to v2");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer run-deploy(v1->v2 #2)");
	ck_assert_int_eq(w->drill_phase, RBD_DRILL_FORWARD);
	ck_assert_int_eq(w->drill_legs[0].state, RBD_LEG_VERIFIED);

	STEP(done(2, RBD_DEPLOY_OK, NULL), DF);
	RECORDED("drill-rolled-forward", DRILLING, DRILLING, "drill: deployed "
	    "v2 again (roll forward from v1) in 3.0s; verifying it for 5m");
	ck_assert_str_eq(acts(), "start-probes set-timer(5m)");
	ck_assert_str_eq(w->live, "v2");
	both_ok(DF + WARMUP + 500 * RBD_USEC_PER_MSEC);

	STEP(timer(), DF + VERIFY);
	RECORDED("drill-passed", DRILLING, IDLE, "drill passed: rollback to "
	    "v1: deploy command 2.0s, healthy after 31.0s, verified for 5m; "
	    "roll forward to v2: deploy command 3.0s, healthy after 31.5s, "
	    "verified for 5m");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 drill_passed)");
	ck_assert_str_eq(action(RBD_ACT_NOTIFY)->reason, st.reason);
	ck_assert_int_eq(w->drill_phase, RBD_DRILL_NONE);
	ck_assert_int_eq(w->drill_last, RBD_DRILL_PASSED);
	ck_assert_str_eq(w->drill_last_reason, "passed");
	ck_assert_str_eq(w->drill_l, "v2");
	ck_assert_str_eq(w->drill_k, "v1");
	/* Nothing changed about the releases. */
	ck_assert_str_eq(w->live, "v2");
	ck_assert_uint_eq(w->n_good, 2);
	ck_assert_str_eq(w->good[0], "v2");
	ck_assert_str_eq(w->good[1], "v1");
	ck_assert_uint_eq(w->n_bad, 0);
	ck_assert_uint_eq(w->n_auto, 0);
	ck_assert_str_eq(updates(), "");
	/* A second drill starts afresh. */
	STEP(drill_ev(NULL), DF + VERIFY + MIN);
	RECORDED("drill-started", IDLE, DRILLING, "drill scheduled by the "
	    "policy: rolling back from v2 to v1 as an automatic rollback "
	    "would, verifying it for 5m, then rolling forward to v2 and "
	    "verifying it again");
	ck_assert_int_eq(w->drill_legs[0].state, RBD_LEG_PENDING);
	ck_assert_str_eq(acts(), "run-deploy(v2->v1 #3)");
}
END_TEST

/* The rollback target is unhealthy: L at once, the drill FAILED, K stays
 * known-good. */
START_TEST(test_drill_target_unhealthy)
{
	to_drill_verify_back();
	STEP(failing(HEALTHZ), DB + WARMUP);
	STEP(failing(HEALTHZ), DB + WARMUP + 10 * SEC);
	STEP(failing(HEALTHZ), DB + WARMUP + 20 * SEC);
	RECORDED("drill-target-unhealthy", DRILLING, DRILLING, "drill FAILED: "
	    "v1, the rollback target, is unhealthy: healthz: HTTP 500 for 3 "
	    "consecutive samples (fail_after 3); rolling forward to v2 at once "
	    "(v1 stays known-good: a drill is practice; rollbackctl mark-bad "
	    "checkout v1 keeps rollbacks away from it)");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer run-deploy(v1->v2 #2)");
	ck_assert_int_eq(w->drill_legs[0].state, RBD_LEG_UNHEALTHY);
	ck_assert(!w->drill_legs[0].healthy);
	STEP(done(2, RBD_DEPLOY_OK, NULL), DB + WARMUP + 22 * SEC);
	both_ok(DB + WARMUP + 22 * SEC + WARMUP);
	STEP(timer(), DB + WARMUP + 22 * SEC + VERIFY);
	RECORDED("drill-failed", DRILLING, IDLE, "drill FAILED: v1 unhealthy: "
	    "healthz: HTTP 500 for 3 consecutive samples (fail_after 3); v2 is "
	    "live and verified again; rollback to v1: deploy command 2.0s, "
	    "never healthy, UNHEALTHY after 50.0s; roll forward to v2: deploy "
	    "command 2.0s, healthy after 31.0s, verified for 5m");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 drill_failed)");
	ck_assert_int_eq(w->drill_last, RBD_DRILL_FAILED);
	ck_assert_str_eq(w->drill_last_reason, "v1 unhealthy: healthz: HTTP 500 "
	    "for 3 consecutive samples (fail_after 3)");
	ck_assert_uint_eq(w->drill_passed_wall, 0);
	ck_assert_str_eq(w->good[1], "v1");
	ck_assert_uint_eq(w->n_bad, 0);
}
END_TEST

/* No data on the target for the whole window fails the drill too. */
START_TEST(test_drill_target_no_data)
{
	to_drill_verify_back();
	for (unsigned i = 0; i < RBD_WATCH_INCONCLUSIVE_AFTER; i++)
		STEP(sample(HEALTHZ, RBD_SAMPLE_UNKNOWN, "timed out"),
		    DB + WARMUP + i * SEC);
	RECORDED("drill-target-unhealthy", DRILLING, DRILLING, "drill FAILED: "
	    "v1, the rollback target, is unhealthy: healthz: no data for 5 "
	    "consecutive samples (timed out); holding: a person must decide "
	    "(no_data: inconclusive, inconclusive_after 5); rolling forward to "
	    "v2 at once (v1 stays known-good: a drill is practice; rollbackctl "
	    "mark-bad checkout v1 keeps rollbacks away from it)");
	ck_assert_int_eq(w->drill_phase, RBD_DRILL_FORWARD);
}
END_TEST

/* The rollback's deploy command fails: L at once. */
START_TEST(test_drill_rollback_deploy_fails)
{
	to_drill_back();
	STEP(done(1, RBD_DEPLOY_FAILED, "exited with status 2"), DB);
	RECORDED("drill-rollback-failed", DRILLING, DRILLING, "drill FAILED: "
	    "rolling back from v2 to v1 failed after 2.0s: deploy command "
	    "exited with status 2; rolling forward to v2 at once");
	ck_assert_str_eq(acts(), "run-deploy(v1->v2 #2)");
	ck_assert_str_eq(w->live, "v2");
	ck_assert_str_eq(w->drill_failure, "the rollback to v1 failed: deploy "
	    "command exited with status 2");
	STEP(done(2, RBD_DEPLOY_OK, NULL), DB + SEC);
	STEP(timer(), DB + SEC + VERIFY);
	RECORDED("drill-failed", DRILLING, IDLE, "drill FAILED: the rollback to "
	    "v1 failed: deploy command exited with status 2; v2 is live and "
	    "verified again; rollback to v1: deploy command FAILED after 2.0s; "
	    "roll forward to v2: deploy command 1.0s, never healthy, verified "
	    "for 5m");
}
END_TEST

/* The roll forward fails, or L is unhealthy after it: held, loudly. */
START_TEST(test_drill_forward_fails)
{
	to_drill_forward();
	STEP(done(2, RBD_DEPLOY_TIMED_OUT, "timed out after 5m"), DF);
	RECORDED("drill-forward-failed", DRILLING, HELD, "drill FAILED: rolling "
	    "forward from v1 to v2 failed after 3.0s: deploy command timed out "
	    "after 5m; v2 may not be live: holding, a person must act");
	ck_assert_str_eq(acts(), "notify(v2 drill_failed)");
	ck_assert_int_eq(w->drill_last, RBD_DRILL_FAILED);
	ck_assert_int_eq(w->drill_phase, RBD_DRILL_NONE);
	ck_assert_str_eq(w->drill_last_reason, "rolling forward to v2 failed: "
	    "deploy command timed out after 5m");
}
END_TEST

START_TEST(test_drill_forward_unhealthy)
{
	to_drill_verify_forward();
	STEP(failing(ERRRATE), DF + WARMUP);
	STEP(failing(ERRRATE), DF + WARMUP + SEC);
	RECORDED("drill-forward-failed", DRILLING, HELD, "drill FAILED: rolled "
	    "forward to v2, but it is unhealthy: error-rate: 0.073 > 0.02 for 2 "
	    "consecutive samples (fail_after 2); holding, a person must decide");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer notify(v2 drill_failed)");
	ck_assert_str_eq(w->live, "v2");
	/* Neither release is marked bad by a drill. */
	ck_assert_uint_eq(w->n_bad, 0);
}
END_TEST

/* An abort in each phase returns to L: at once, after the deploy in
 * flight, or as soon as L is healthy. */
START_TEST(test_drill_abort)
{
	switch (_i) {
	case 0:		/* back: the deploy of K runs; L follows it */
		to_drill_back();
		STEP(abort_ev(), DT + SEC);
		RECORDED("drill-abort-requested", DRILLING, DRILLING, "drill "
		    "aborted by uid 1000 pid 42: rolling forward to v2 as soon "
		    "as the rollback's deploy command ends");
		ck_assert_str_eq(acts(), "");
		STEP(done(1, RBD_DEPLOY_OK, NULL), DB);
		RECORDED("drill-rolled-back", DRILLING, DRILLING, "drill: "
		    "deployed v1 (rollback from v2) in 2.0s; the drill was "
		    "aborted: rolling forward to v2");
		ck_assert_str_eq(acts(), "run-deploy(v1->v2 #2)");
		break;
	case 1:		/* verify-back: L at once */
		to_drill_verify_back();
		STEP(abort_ev(), DB + MIN);
		RECORDED("drill-abort-requested", DRILLING, DRILLING, "drill "
		    "aborted by uid 1000 pid 42: rolling forward to v2 now");
		ck_assert_str_eq(acts(), "stop-probes cancel-timer "
		    "run-deploy(v1->v2 #2)");
		ck_assert_int_eq(w->drill_legs[0].state, RBD_LEG_CUT);
		break;
	case 2:		/* forward: already on the way */
		to_drill_forward();
		STEP(abort_ev(), DB + VERIFY + SEC);
		RECORDED("drill-abort-requested", DRILLING, DRILLING, "drill "
		    "aborted by uid 1000 pid 42: already rolling forward to v2");
		ck_assert_str_eq(acts(), "");
		break;
	default:	/* verify-forward, L not healthy yet, then healthy */
		to_drill_verify_forward();
		STEP(abort_ev(), DF + SEC);
		RECORDED("drill-abort-requested", DRILLING, DRILLING, "drill "
		    "aborted by uid 1000 pid 42: v2 is live again; the drill "
		    "ends as soon as it is healthy");
		both_ok(DF + WARMUP);
		RECORDED("drill-aborted", DRILLING, IDLE, "drill aborted: v2 is "
		    "live and healthy again; rollback to v1: deploy command "
		    "2.0s, healthy after 31.0s, verified for 5m; roll forward to "
		    "v2: deploy command 3.0s, healthy after 31.0s, verification "
		    "cut short after 31.0s by the abort");
		ck_assert_str_eq(acts(), "stop-probes cancel-timer "
		    "notify(v2 drill_aborted)");
		ck_assert_int_eq(w->drill_last, RBD_DRILL_ABORTED);
		REFUSED(abort_ev(), DF + MIN, -EALREADY,
		    "checkout is not in a drill");
		return;
	}
	REFUSED(abort_ev(), last_t + SEC, -EALREADY, "the drill of checkout "
	    "is already being aborted");
	if (w->drill_phase != RBD_DRILL_VERIFY_FORWARD)
		STEP(done(2, RBD_DEPLOY_OK, NULL), last_t + SEC);
	ck_assert_int_eq(w->drill_phase, RBD_DRILL_VERIFY_FORWARD);
	both_ok(last_t + WARMUP);
	ck_assert_str_eq(st.event, "drill-aborted");
	ck_assert_int_eq(w->state, RBD_STATE_IDLE);
	ck_assert_str_eq(w->live, "v2");
	ck_assert_int_eq(w->drill_last, RBD_DRILL_ABORTED);
}
END_TEST

/* A drill starts only from idle with a healthy known-good L and a K. */
START_TEST(test_drill_refused)
{
	static const struct {
		enum fx fx;
		int err;
		const char *msg;
	} cases[] = {
		{ FX_FRESH, -EBUSY, NULL },
		{ FX_WATCHING, -EBUSY, "checkout is watching at v2, not idle: a "
		    "drill starts only when the service is idle and healthy" },
		{ FX_ROLLING, -EBUSY, "checkout is rolling_back at v2, not "
		    "idle: a drill starts only when the service is idle and "
		    "healthy" },
		{ FX_VERIFYING, -EBUSY, "checkout is verifying at v1, not idle: "
		    "a drill starts only when the service is idle and healthy" },
		{ FX_HELD, -EBUSY, "checkout is held at v2, not idle: a drill "
		    "starts only when the service is idle and healthy" },
		{ FX_IDLE, -ENOENT, "nothing to drill with: no known-good "
		    "release to roll back to" },
	};

	if (_i == 0) {
		REFUSED(drill_ev(ACTOR), T0, -ENOENT, "checkout has no live "
		    "release: a drill starts from a known-good release that "
		    "is live");
		return;
	}
	build(cases[_i].fx);
	REFUSED(drill_ev(ACTOR), T3, cases[_i].err, cases[_i].msg);
}
END_TEST

/* Paused, dry-run, a live release that is not known-good, a target that
 * needs a down-migration, a drill already running, and what a drill
 * refuses while it runs. */
START_TEST(test_drill_refused_more)
{
	to_drill_idle();
	STEP(pause_ev(0, "db maintenance", 0), DT - MIN);
	REFUSED(drill_ev(ACTOR), DT, -EBUSY, "checkout is paused by uid 1000 "
	    "pid 42 until resumed: db maintenance: resume it before a drill");
	STEP(resume_ev(ACTOR, 0), DT);
	policy.mode = RBD_MODE_DRY_RUN;
	REFUSED(drill_ev(ACTOR), DT, -EPERM, "checkout is in dry-run mode: a "
	    "drill runs the deploy command, and dry-run never does");
	policy.mode = RBD_MODE_ENFORCE;
	STEP(drill_ev(ACTOR), DT);
	REFUSED(drill_ev(ACTOR), DT + SEC, -EBUSY, "checkout is already in a "
	    "drill (back, from v2 to v1 and back); rollbackctl drill --abort "
	    "checkout ends it");
	REFUSED(operator(RBD_EV_ROLLBACK, NULL), DT + SEC, -EBUSY, "checkout "
	    "is in a drill (back, from v2 to v1 and back): let it end, or abort "
	    "it (rollbackctl drill --abort checkout), then roll back");
	REFUSED(deployed("v3"), DT + SEC, -EBUSY, "checkout is in a drill "
	    "(back, from v2 to v1 and back): let it end, or abort it "
	    "(rollbackctl drill --abort checkout), then announce a release");
	REFUSED(operator(RBD_EV_MARK_BAD, "v1"), DT + SEC, -EBUSY, "checkout "
	    "is in a drill (back, from v2 to v1 and back): let it end, or abort "
	    "it (rollbackctl drill --abort checkout), then mark it bad");
	REFUSED(operator(RBD_EV_MARK_GOOD, "v2"), DT + SEC, -EBUSY, "checkout "
	    "is in a drill (back, from v2 to v1 and back): let it end, or abort "
	    "it (rollbackctl drill --abort checkout), then mark it good");
	/* Another release is not the drill's business. */
	STEP(operator(RBD_EV_MARK_BAD, "v0"), DT + SEC);
	ck_assert_int_eq(w->state, RBD_STATE_DRILLING);
	/* A stale deploy result changes nothing. */
	QUIET(done(7, RBD_DEPLOY_OK, NULL), DT + SEC);
}
END_TEST

/* Idle on a release that is not known-good (marked good, then another
 * release announced and rolled back by hand... simplest: v1 marked bad
 * while idle on it). */
START_TEST(test_drill_live_not_good)
{
	to_drill_idle();
	STEP(operator(RBD_EV_MARK_BAD, "v2"), DT - MIN);
	REFUSED(drill_ev(ACTOR), DT, -ENOENT, "v2, the live release of "
	    "checkout, is not known-good: a drill starts from a known-good "
	    "release");
}
END_TEST

/* A restart resumes the drill from its phase: a deploy in flight is run
 * again, a verification continues. */
START_TEST(test_drill_resume)
{
	static void (*const to[])(void) = {
		to_drill_back, to_drill_verify_back, to_drill_forward,
		to_drill_verify_forward,
	};
	static const char *const want[] = {
		"run-deploy(v2->v1 #2)", "start-probes set-timer(5m)",
		"run-deploy(v1->v2 #3)", "start-probes set-timer(5m)",
	};
	uint64_t t;

	to[_i]();
	t = w->since;
	restart();
	resume(t);
	ck_assert_str_eq(acts(), want[_i]);
	ck_assert_int_eq(w->state, RBD_STATE_DRILLING);
	/* And it carries on to the end on v2. */
	if (w->drill_phase == RBD_DRILL_BACK)
		STEP(done(2, RBD_DEPLOY_OK, NULL), t + SEC);
	if (w->drill_phase == RBD_DRILL_VERIFY_BACK)
		STEP(timer(), w->since + VERIFY);
	if (w->drill_phase == RBD_DRILL_FORWARD)
		STEP(done(w->deploy_id, RBD_DEPLOY_OK, NULL), w->since + SEC);
	STEP(timer(), w->since + VERIFY);
	ck_assert_int_eq(w->state, RBD_STATE_IDLE);
	ck_assert_str_eq(w->live, "v2");
	ck_assert_str_eq(st.event, "drill-passed");
}
END_TEST

/* The names of the drill's enums, both ways. */
START_TEST(test_drill_names)
{
	enum rbd_drill_phase p;
	enum rbd_drill_result r;
	enum rbd_drill_leg_state l;
	enum rbd_state s;

	ck_assert_str_eq(rbd_state_str(RBD_STATE_DRILLING), "drilling");
	ck_assert_int_eq(rbd_state_from_str("drilling", &s), 0);
	ck_assert_int_eq(s, RBD_STATE_DRILLING);
	ck_assert_str_eq(rbd_event_type_str(RBD_EV_DRILL), "drill");
	ck_assert_str_eq(rbd_event_type_str(RBD_EV_DRILL_ABORT), "drill-abort");
	ck_assert_str_eq(rbd_verdict_str(RBD_VERDICT_DRILL_FAILED),
	    "drill_failed");
	for (int i = 0; i < _RBD_DRILL_PHASE_MAX; i++) {
		ck_assert_int_eq(rbd_drill_phase_from_str(
		    rbd_drill_phase_str(i), &p), 0);
		ck_assert_int_eq(p, i);
	}
	for (int i = 0; i < _RBD_DRILL_RESULT_MAX; i++) {
		ck_assert_int_eq(rbd_drill_result_from_str(
		    rbd_drill_result_str(i), &r), 0);
		ck_assert_int_eq(r, i);
	}
	for (int i = 0; i < _RBD_LEG_STATE_MAX; i++) {
		ck_assert_int_eq(rbd_drill_leg_state_from_str(
		    rbd_drill_leg_state_str(i), &l), 0);
		ck_assert_int_eq(l, i);
	}
	ck_assert_str_eq(rbd_drill_phase_str(RBD_DRILL_VERIFY_BACK),
	    "verify-back");
	ck_assert_int_eq(rbd_drill_phase_from_str("sideways", &p), -EINVAL);
}
END_TEST

/* Samples that change only counters (lib/watch.c's fast path). */

/* Feed sample ev at t, which must be quiet: the step says nothing, whatever
 * the output held before, and w is exactly as it was but for the counters
 * of ev's check (or guard), which the caller then checks. */
static void quiet_sample(struct rbd_event ev, uint64_t t, int line)
{
	struct snap s;
	size_t i = ev.check;

	snap_take(&s);
	memset(&st, 0xa5, sizeof(st));
	step_ok(ev, t, line);
	ck_assert_msg(!st.record && !st.event && st.from == s.w.state &&
	    st.to == s.w.state && !st.reason[0] && st.n_updates == 0 &&
	    st.n_actions == 0, "line %d: not a quiet step", line);
	if (ev.type == RBD_EV_GUARD_SAMPLE) {
		s.guard_fails[i] = w->guard_fails[i];
		s.guard_since_wall[i] = w->guard_since_wall[i];
		memcpy(s.guard_detail[i], w->guard_detail[i],
		    sizeof(s.guard_detail[i]));
	} else {
		s.fails[i] = w->fails[i];
		s.unknowns[i] = w->unknowns[i];
		s.window_ok[i] = w->window_ok[i];
		memcpy(s.window_no_data[i], w->window_no_data[i],
		    sizeof(s.window_no_data[i]));
	}
	snap_same(&s, line);
}
#define QUIET_SAMPLE(ev, t) quiet_sample((ev), (t), __LINE__)

/* Check i's counters are these. */
static void counts_are(size_t i, unsigned fails, unsigned unknowns,
    unsigned window_ok, const char *no_data, int line)
{
	ck_assert_msg(w->fails[i] == fails && w->unknowns[i] == unknowns &&
	    w->window_ok[i] == window_ok, "line %d: fails %u unknowns %u "
	    "window_ok %u, want %u %u %u", line, w->fails[i], w->unknowns[i],
	    w->window_ok[i], fails, unknowns, window_ok);
	ck_assert_msg(strcmp(w->window_no_data[i], no_data) == 0,
	    "line %d: window no data '%s', want '%s'", line,
	    w->window_no_data[i], no_data);
}
#define COUNTS(i, f, u, ok, nd) counts_are((i), (f), (u), (ok), (nd), __LINE__)

/* A sample that judges nothing, or only counts, changes nothing else in
 * the watch and makes an empty step; the one that completes fail_after
 * still degrades. */
START_TEST(test_sample_quiet)
{
	to_watching();
	/* In the warm-up: recorded nowhere, not even counted. */
	QUIET_SAMPLE(failing(HEALTHZ), T1 + SEC);
	COUNTS(HEALTHZ, 0, 0, 0, "");
	QUIET_SAMPLE(failing(HEALTHZ), T1 + WARMUP);
	COUNTS(HEALTHZ, 1, 0, 0, "");
	QUIET_SAMPLE(sample(ERRRATE, RBD_SAMPLE_OK, "0.001"), T1 + WARMUP);
	COUNTS(ERRRATE, 0, 0, 1, "");
	/* An unknown sample leaves the failures alone. */
	QUIET_SAMPLE(unknown(HEALTHZ, "timed out after 2s"),
	    T1 + WARMUP + 10 * SEC);
	COUNTS(HEALTHZ, 1, 1, 0, "timed out after 2s");
	QUIET_SAMPLE(unknown(HEALTHZ, NULL), T1 + WARMUP + 15 * SEC);
	COUNTS(HEALTHZ, 1, 2, 0, "unknown");
	QUIET_SAMPLE(failing(HEALTHZ), T1 + WARMUP + 20 * SEC);
	COUNTS(HEALTHZ, 2, 0, 0, "unknown");
	QUIET_SAMPLE(sample(ERRRATE, RBD_SAMPLE_OK, "0.001"),
	    T1 + WARMUP + 25 * SEC);
	COUNTS(ERRRATE, 0, 0, 2, "");
	STEP(failing(HEALTHZ), T1 + WARMUP + 30 * SEC);
	RECORDED("degraded", WATCHING, ROLLING_BACK, "healthz: HTTP 500 for 3 "
	    "consecutive samples (fail_after 3); rolling back from v2 to v1");
	ck_assert_str_eq(acts(), "stop-probes cancel-timer "
	    "run-deploy(v2->v1 #1) notify(v2 rolled_back)");
	/* No window: samples are not judged. */
	QUIET_SAMPLE(failing(ERRRATE), T1 + WARMUP + 40 * SEC);
	COUNTS(ERRRATE, 0, 0, 2, "");
}
END_TEST

/* The samples at the edges of the fast path: the window's end promotes,
 * inconclusive_after holds, no_data ignore and fail count as they
 * should. */
START_TEST(test_sample_quiet_edges)
{
	checks[ERRRATE].no_data = RBD_NO_DATA_IGNORE;
	checks[HEALTHZ].inconclusive_after = 2;
	to_first();
	QUIET_SAMPLE(unknown(ERRRATE, NO_SERIES), T0 + WARMUP);
	COUNTS(ERRRATE, 0, 0, 0, "");
	QUIET_SAMPLE(sample(HEALTHZ, RBD_SAMPLE_OK, "HTTP 200"),
	    T0 + DURATION - 1);
	COUNTS(HEALTHZ, 0, 0, 1, "");
	/* At the window's end: too late to count, the release is promoted. */
	STEP(failing(HEALTHZ), T0 + DURATION);
	RECORDED("promoted", WATCHING, IDLE, "v1 healthy for 10m; now the "
	    "known-good release");
	STEP(deployed("v2"), T1);
	QUIET_SAMPLE(unknown(HEALTHZ, NO_SERIES), T1 + WARMUP);
	COUNTS(HEALTHZ, 0, 1, 0, NO_SERIES);
	STEP(unknown(HEALTHZ, NO_SERIES), T1 + WARMUP + 10 * SEC);
	ck_assert_str_eq(st.event, "inconclusive");
	ck_assert_int_eq(w->state, RBD_STATE_HELD);
	teardown();
	setup();
	checks[ERRRATE].no_data = RBD_NO_DATA_FAIL;
	to_watching();
	QUIET_SAMPLE(unknown(ERRRATE, NULL), T1 + WARMUP);
	COUNTS(ERRRATE, 1, 0, 0, "");
	STEP(unknown(ERRRATE, NULL), T1 + WARMUP + 10 * SEC);
	RECORDED("degraded", WATCHING, ROLLING_BACK, "error-rate: no data: "
	    "unknown for 2 consecutive samples (fail_after 2); rolling back "
	    "from v2 to v1");
}
END_TEST

/* Guard samples are quiet in every state: only the guard's run changes. */
START_TEST(test_sample_quiet_guards)
{
	with_guards();
	to_watching();
	QUIET_SAMPLE(GFAIL(PG, W0), T1 + SEC);
	ck_assert_uint_eq(w->guard_fails[PG], 1);
	ck_assert_uint_eq(w->guard_since_wall[PG], W0);
	ck_assert_str_eq(w->guard_detail[PG], "connection refused");
	QUIET_SAMPLE(guard(PG, RBD_SAMPLE_UNKNOWN, NULL, W0 + SEC), T1 + 2 * SEC);
	ck_assert_uint_eq(w->guard_fails[PG], 1);
	QUIET_SAMPLE(guard(PG, RBD_SAMPLE_FAIL, "HTTP 503", W0 + 2 * SEC),
	    T1 + 3 * SEC);
	ck_assert_uint_eq(w->guard_fails[PG], 2);
	ck_assert_uint_eq(w->guard_since_wall[PG], W0);
	ck_assert_str_eq(w->guard_detail[PG], "HTTP 503");
	QUIET_SAMPLE(GFAIL(REDIS, W0), T1 + 4 * SEC);
	ck_assert_uint_eq(w->guard_fails[REDIS], 1);
	QUIET_SAMPLE(guard(PG, RBD_SAMPLE_OK, "HTTP 200", W0 + 3 * SEC),
	    T1 + 5 * SEC);
	ck_assert_uint_eq(w->guard_fails[PG], 0);
	ck_assert_uint_eq(w->guard_since_wall[PG], 0);
	ck_assert_str_eq(w->guard_detail[PG], "");
}
END_TEST

static Suite *watch_suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc;

	tc = tcase("deployed");
	tcase_add_test(tc, test_deploy_first);
	tcase_add_loop_test(tc, test_deploy_no_actor, 0, 2);
	tcase_add_test(tc, test_deploy_supersedes);
	tcase_add_test(tc, test_deploy_same_again);
	tcase_add_test(tc, test_deploy_bad_again);
	tcase_add_test(tc, test_deploy_from_verifying);
	tcase_add_test(tc, test_deploy_from_held);
	tcase_add_test(tc, test_deploy_refused_rolling_back);
	suite_add_tcase(s, tc);

	tc = tcase("window");
	tcase_add_test(tc, test_promote_on_timer);
	tcase_add_test(tc, test_promote_late_timer);
	tcase_add_test(tc, test_sample_at_end_promotes);
	tcase_add_test(tc, test_sample_before_end_rolls_back);
	tcase_add_test(tc, test_warmup_boundary);
	tcase_add_loop_test(tc, test_timer_without_window, 0, 4);
	suite_add_tcase(s, tc);

	tc = tcase("samples");
	tcase_add_test(tc, test_fail_after_per_check);
	tcase_add_test(tc, test_ok_resets);
	tcase_add_test(tc, test_unknown_neither);
	tcase_add_test(tc, test_fail_after_one);
	tcase_add_loop_test(tc, test_fail_no_detail, 0, 2);
	tcase_add_loop_test(tc, test_sample_bad_index, 0, 2);
	tcase_add_loop_test(tc, test_sample_outside_window, 0, 4);
	tcase_add_test(tc, test_degraded_rolls_back);
	tcase_add_test(tc, test_degraded_no_known_good);
	suite_add_tcase(s, tc);

	tc = tcase("no-data");
	tcase_add_test(tc, test_inconclusive_watching);
	tcase_add_test(tc, test_inconclusive_verifying);
	tcase_add_loop_test(tc, test_inconclusive_after, 0,
	    N_ELEMENTS(inconclusive_cases));
	tcase_add_test(tc, test_no_data_out_of_range);
	tcase_add_test(tc, test_no_data_fail);
	tcase_add_test(tc, test_no_data_fail_forms);
	tcase_add_test(tc, test_no_data_ignore);
	tcase_add_test(tc, test_unknowns_reset);
	tcase_add_test(tc, test_unknowns_reset_on_entry);
	tcase_add_loop_test(tc, test_whole_window_no_data, 0, 2);
	tcase_add_loop_test(tc, test_whole_window_rules, 0, 4);
	tcase_add_test(tc, test_whole_window_verifying);
	tcase_add_test(tc, test_whole_window_other_no_data);
	tcase_add_test(tc, test_whole_window_first_check);
	suite_add_tcase(s, tc);

	tc = tcase("rollback");
	tcase_add_test(tc, test_rollback_deploy_ok);
	tcase_add_loop_test(tc, test_rollback_deploy_failed, 0,
	    N_ELEMENTS(deploy_failures));
	tcase_add_test(tc, test_stale_deploy_done);
	tcase_add_test(tc, test_verified);
	tcase_add_test(tc, test_verify_window_rules);
	tcase_add_test(tc, test_verify_degraded_holds);
	tcase_add_test(tc, test_no_ping_pong);
	tcase_add_test(tc, test_bad_never_target);
	tcase_add_test(tc, test_rollback_target);
	tcase_add_test(tc, test_rollback_target_loaded);
	tcase_add_test(tc, test_good_list_bounded);
	tcase_add_test(tc, test_bad_list_bounded);
	tcase_add_test(tc, test_deploy_ids_unique);
	suite_add_tcase(s, tc);

	tc = tcase("operator");
	tcase_add_loop_test(tc, test_operator, 0, N_ELEMENTS(op_cases));
	tcase_add_test(tc, test_operator_no_actor);
	suite_add_tcase(s, tc);

	tc = tcase("hostile");
	tcase_add_loop_test(tc, test_hostile_version, 0,
	    N_ELEMENTS(hostile) * N_ELEMENTS(versioned));
	tcase_add_test(tc, test_hostile_messages);
	tcase_add_test(tc, test_malformed_events);
	suite_add_tcase(s, tc);

	tc = tcase("resume");
	tcase_add_loop_test(tc, test_resume_nothing, 0, 3);
	tcase_add_test(tc, test_resume_watching);
	tcase_add_test(tc, test_resume_verifying);
	tcase_add_test(tc, test_resume_rolling_back);
	suite_add_tcase(s, tc);

	tc = tcase("reload");
	tcase_add_test(tc, test_set_policy_by_name);
	tcase_add_test(tc, test_set_policy_keeps_unknowns);
	tcase_add_test(tc, test_set_policy_window_rule);
	tcase_add_test(tc, test_restart_resets_unknowns);
	tcase_add_test(tc, test_reset_counts);
	tcase_add_test(tc, test_set_policy_edges);
	tcase_add_test(tc, test_policy_mismatch);
	suite_add_tcase(s, tc);

	tc = tcase("loop-breaker");
	tcase_add_test(tc, test_new_names);
	tcase_add_loop_test(tc, test_loop_breaker_limit, 0, 4);
	tcase_add_loop_test(tc, test_loop_breaker_ages_out, 0, 2);
	tcase_add_test(tc, test_loop_breaker_zero);
	tcase_add_test(tc, test_loop_breaker_operator);
	tcase_add_test(tc, test_loop_breaker_bounded);
	suite_add_tcase(s, tc);

	tc = tcase("schema");
	tcase_add_test(tc, test_schema_recorded);
	tcase_add_test(tc, test_schema_refused);
	tcase_add_loop_test(tc, test_choose_target, 0,
	    N_ELEMENTS(target_cases));
	tcase_add_test(tc, test_choose_target_short);
	tcase_add_test(tc, test_irreversible_holds);
	tcase_add_test(tc, test_older_target_chosen);
	tcase_add_test(tc, test_migrate_down_order);
	tcase_add_loop_test(tc, test_migration_failed, 0,
	    N_ELEMENTS(migration_failures));
	tcase_add_test(tc, test_migrated_then_deploy_failed);
	tcase_add_test(tc, test_resume_migrating);
	tcase_add_test(tc, test_operator_rollback_schema);
	suite_add_tcase(s, tc);

	tc = tcase("guards");
	tcase_add_test(tc, test_guard_holds);
	tcase_add_test(tc, test_guard_fail_after_edge);
	tcase_add_loop_test(tc, test_guard_unknown, 0, 2);
	tcase_add_test(tc, test_guard_no_data_fail);
	tcase_add_test(tc, test_guard_since_first);
	tcase_add_test(tc, test_guard_recovers);
	tcase_add_test(tc, test_guard_verifying);
	tcase_add_test(tc, test_guard_forms);
	tcase_add_loop_test(tc, test_guard_every_state, 0, 6);
	tcase_add_test(tc, test_guard_refused);
	tcase_add_test(tc, test_guard_reload);
	suite_add_tcase(s, tc);

	tc = tcase("quiet samples");
	tcase_add_test(tc, test_sample_quiet);
	tcase_add_test(tc, test_sample_quiet_edges);
	tcase_add_test(tc, test_sample_quiet_guards);
	suite_add_tcase(s, tc);

	tc = tcase("remedies");
	tcase_add_test(tc, test_remedy_fixes);
	tcase_add_test(tc, test_remedy_not_fixed);
	tcase_add_loop_test(tc, test_remedy_settle_rules, 0, 3);
	tcase_add_loop_test(tc, test_remedy_not_run, 0, 2);
	tcase_add_test(tc, test_remedy_paused);
	tcase_add_loop_test(tc, test_remedy_operator, 0, 2);
	tcase_add_test(tc, test_remedy_loop_breaker);
	tcase_add_test(tc, test_remedy_resume);
	suite_add_tcase(s, tc);

	tc = tcase("dry-run");
	tcase_add_test(tc, test_dry_run);
	tcase_add_test(tc, test_dry_run_loop_breaker);
	tcase_add_test(tc, test_dry_run_forms);
	suite_add_tcase(s, tc);

	tc = tcase("pause");
	tcase_add_test(tc, test_pause_until_resumed);
	tcase_add_loop_test(tc, test_pause_for, 0, 3);
	tcase_add_loop_test(tc, test_pause_expiry_degrade, 0, 2);
	tcase_add_test(tc, test_pause_replaced);
	tcase_add_test(tc, test_resume_refused);
	tcase_add_test(tc, test_pause_operator);
	tcase_add_test(tc, test_pause_reason_refused);
	tcase_add_test(tc, test_pause_overflow);
	suite_add_tcase(s, tc);

	tc = tcase("drill");
	tcase_add_test(tc, test_drill_passes);
	tcase_add_test(tc, test_drill_target_unhealthy);
	tcase_add_test(tc, test_drill_target_no_data);
	tcase_add_test(tc, test_drill_rollback_deploy_fails);
	tcase_add_test(tc, test_drill_forward_fails);
	tcase_add_test(tc, test_drill_forward_unhealthy);
	tcase_add_loop_test(tc, test_drill_abort, 0, 4);
	tcase_add_loop_test(tc, test_drill_refused, 0, 6);
	tcase_add_test(tc, test_drill_refused_more);
	tcase_add_test(tc, test_drill_live_not_good);
	tcase_add_loop_test(tc, test_drill_resume, 0, 4);
	tcase_add_test(tc, test_drill_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(watch_suite());
}
