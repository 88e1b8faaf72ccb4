/* One watched service: the glue between the engine, the store and the
 * effects. See daemon.h. */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "control.h"
#include "crashpoint.h"
#include "daemon.h"
#include "deploy_dir.h"
#include "duration.h"
#include "log.h"
#include "notify.h"
#include "probe_http.h"
#include "remedy_http.h"
#include "runner.h"
#include "store.h"
#include "template.h"

#define ERRBUF_MAX 512
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The engine's clock is CLOCK_MONOTONIC shifted by a century. The store
 * converts a watch's start between this clock and the wall clock across a
 * restart; after a reboot CLOCK_MONOTONIC starts near zero, and without the
 * offset a watch that began before the reboot could not be placed before
 * zero. */
#define MONO_OFFSET (UINT64_C(100) * 365 * RBD_USEC_PER_DAY)

uint64_t rbd_now_mono(void)
{
	return rbd_clock_usec(CLOCK_MONOTONIC) + MONO_OFFSET;
}

uint64_t rbd_mono_from_clock(uint64_t clock_monotonic_usec)
{
	return clock_monotonic_usec + MONO_OFFSET;
}

uint64_t rbd_now_wall(void)
{
	return rbd_clock_usec(CLOCK_REALTIME);
}

static void carry_out(struct rbd_svc *s, const struct rbd_step *step,
    uint64_t now);
static void pause_timer_arm(struct rbd_svc *s, uint64_t now);
static void drill_timer_arm(struct rbd_svc *s);

/* The name every message about s starts with. */
static const char *svc_name(const struct rbd_svc *s)
{
	return s->name;
}

/* ---- waiters (rollbackctl deployed --wait) ---- */

/* The client went away (or was closed): forget it. */
static void waiter_gone(void *arg)
{
	struct rbd_waiter *wt = arg;
	struct rbd_waiter **pp;

	for (pp = &wt->svc->waiters; *pp; pp = &(*pp)->next)
		if (*pp == wt) {
			*pp = wt->next;
			break;
		}
	free(wt);
}

/* Send obj to every waiter of s. */
static void waiters_send(struct rbd_svc *s, json_t *obj)
{
	if (!obj)
		return;
	for (struct rbd_waiter *wt = s->waiters; wt; wt = wt->next)
		rbd_conn_reply(wt->conn, obj);
	json_decref(obj);
}

/* Close every waiter of s whose release has its verdict (version NULL:
 * all of them, with an error). */
static void waiters_finish(struct rbd_svc *s, const char *version, json_t *obj)
{
	struct rbd_waiter *wt = s->waiters, *next;

	for (; wt; wt = next) {
		next = wt->next;
		if (version && strcmp(wt->version, version) != 0)
			continue;
		if (obj)
			rbd_conn_reply(wt->conn, obj);
		/* rbd_conn_close calls waiter_gone, which unlinks and frees. */
		rbd_conn_close(wt->conn);
	}
	json_decref(obj);
}

int svc_add_waiter(struct rbd_svc *s, struct rbd_conn *conn,
    const char *version)
{
	struct rbd_waiter *wt = calloc(1, sizeof(*wt));

	if (!wt)
		return -ENOMEM;
	wt->conn = conn;
	wt->svc = s;
	snprintf(wt->version, sizeof(wt->version), "%s", version);
	wt->next = s->waiters;
	s->waiters = wt;
	rbd_conn_on_close(conn, waiter_gone, wt);
	return 0;
}

/* ---- recording and logging a step ---- */

/* One MESSAGE_ID per kind of event, so that `journalctl MESSAGE_ID=...`
 * finds every event of a kind on the host. Fixed for ever: documented in
 * rollbackd(8), JOURNAL FIELDS; new kinds get new ids (systemd-id128 new). */
#define MSGID_DEPLOYED		"9fc746e2b714465e99f76a00047d9ed0"
#define MSGID_PROMOTED		"fbd66aab56144365be0550b390d65500"
#define MSGID_ROLLBACK_STARTED	"67164cf0a506425b806a032995464492"
#define MSGID_ROLLED_BACK	"3dd45f8e2cc3479e9d9f1145a8369dc8"
#define MSGID_ROLLBACK_FAILED	"7b11fbc5738649b383e2740a4853e3ab"
#define MSGID_VERIFIED		"4a82c0a8d9e44016a7739a4923a5fe33"
#define MSGID_HELD		"8ed67f7f1aae4c3f83c90c006d48cc2c"
#define MSGID_INCONCLUSIVE	"17c743b545fd453fade75fabdf20ef39"
#define MSGID_MARKED_GOOD	"90afaf50759b4943a8764c3da68bdb9f"
#define MSGID_MARKED_BAD	"f7dbc2dce1174d30b57ab023ec9d897a"
#define MSGID_PAUSED		"b2a9e30447af423481225cd0cc5e35d7"
#define MSGID_RESUMED		"5bf83c6adb15415abaded53d83520a99"
#define MSGID_MIGRATED_DOWN	"34408189e98b4931b3edf22637e1abb1"
#define MSGID_REMEDYING		"5d374f4173184174ae146a00a603749a"
#define MSGID_REMEDY_RAN	"afa3d0c8ad4f492aa18d9aca7691c3ab"
#define MSGID_REMEDIED		"5d1f3c3029464ad8be753b305245dfad"
#define MSGID_OTHER		"5ecfee27d46d404fa129a48bb3644e79"
/* Drill */
#define MSGID_DRILL_STARTED	"4617dab164b9477e8b91507010dd957a"
#define MSGID_DRILL_STEP	"b0c677935728487185749970cb8d06e5"
#define MSGID_DRILL_PASSED	"c50025fca88442b5a7569091bc3e146f"
#define MSGID_DRILL_FAILED	"1a5bc562456c46488b2b2c5ed2d52fb0"
#define MSGID_DRILL_ABORTED	"16cc712c697c4f04ae48b1754a749a23"

/* The MESSAGE_ID of step. Every entry into rolling_back is "rollback
 * started", whatever caused it (degraded, marked-bad, rollback-requested:
 * ROLLBACKD_EVENT= tells), so that one id lists every rollback; a
 * degradation that does not roll back (no target, a guard, the loop
 * breaker, dry-run or a pause, a failed down-migration) is "held". */
static const char *step_message_id(const struct rbd_step *step)
{
	static const struct {
		const char *event, *id;
	} ids[] = {
		{ "deployed", MSGID_DEPLOYED },
		{ "promoted", MSGID_PROMOTED },
		{ "rolled-back", MSGID_ROLLED_BACK },
		{ "rollback-failed", MSGID_ROLLBACK_FAILED },
		{ "verified", MSGID_VERIFIED },
		{ "degraded", MSGID_HELD },
		{ "inconclusive", MSGID_INCONCLUSIVE },
		{ "marked-good", MSGID_MARKED_GOOD },
		{ "marked-bad", MSGID_MARKED_BAD },
		{ "paused", MSGID_PAUSED },
		{ "resumed", MSGID_RESUMED },
		{ "migrated-down", MSGID_MIGRATED_DOWN },
		{ "remedying", MSGID_REMEDYING },
		{ "remedy-ran", MSGID_REMEDY_RAN },
		{ "remedied", MSGID_REMEDIED },
		/* Drill */
		{ "drill-started", MSGID_DRILL_STARTED },
		{ "drill-rolled-back", MSGID_DRILL_STEP },
		{ "drill-verified", MSGID_DRILL_STEP },
		{ "drill-rolled-forward", MSGID_DRILL_STEP },
		{ "drill-passed", MSGID_DRILL_PASSED },
		{ "drill-failed", MSGID_DRILL_FAILED },
		{ "drill-target-unhealthy", MSGID_DRILL_FAILED },
		{ "drill-rollback-failed", MSGID_DRILL_FAILED },
		{ "drill-forward-failed", MSGID_DRILL_FAILED },
		{ "drill-abort-requested", MSGID_DRILL_ABORTED },
		{ "drill-aborted", MSGID_DRILL_ABORTED },
	};

	if (step->to == RBD_STATE_ROLLING_BACK && step->from != step->to)
		return MSGID_ROLLBACK_STARTED;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (step->event && strcmp(step->event, ids[i].event) == 0)
			return ids[i].id;
	return step->to == RBD_STATE_HELD ? MSGID_HELD : MSGID_OTHER;
}

/* One log line per transition, the state and release before and after:
 * "checkout: watching v2 -> rolling_back to v1 (reason)"; in the journal
 * with its MESSAGE_ID and fields. ROLLBACKD_RELEASE= is the release the
 * event is about: the one rolled back from when a rollback starts, the
 * live one otherwise. */
static void log_step(const struct rbd_svc *s, const struct rbd_step *step,
    const char *old_live)
{
	const struct rbd_watch *w = s->w;
	bool to_target = step->to == RBD_STATE_ROLLING_BACK;
	bool starts = to_target && step->from != step->to;
	const char *new_rel = to_target ? w->target : w->live;
	struct rbd_log_fields f = {
		.message_id = step_message_id(step), .service = svc_name(s),
		.release = starts && *old_live ? old_live : w->live,
		.target = step->to == RBD_STATE_ROLLING_BACK ||
		    step->to == RBD_STATE_VERIFYING ||
		    step->to == RBD_STATE_DRILLING ? w->target : NULL,
		.event = step->event,
		.state = rbd_state_str(step->to),
	};
	int prio = LOG_NOTICE;

	if (step->to == RBD_STATE_HELD || step->to == RBD_STATE_ROLLING_BACK ||
	    step->to == RBD_STATE_REMEDYING)
		prio = LOG_WARNING;
	/* Drill: a failed drill is news (its rollback target is broken). */
	if (strcmp(step_message_id(step), MSGID_DRILL_FAILED) == 0)
		prio = LOG_WARNING;
	if (step->from == step->to && strcmp(old_live, w->live) == 0) {
		rbd_log_event(prio == LOG_WARNING ? prio : LOG_NOTICE, &f,
		    "%s: %s (%s)", svc_name(s), step->event, step->reason);
		return;
	}
	rbd_log_event(prio, &f, "%s: %s%s%s -> %s%s%s (%s)", svc_name(s),
	    rbd_state_str(step->from), *old_live ? " " : "", old_live,
	    rbd_state_str(step->to), *new_rel ? (to_target ? " to " : " ") : "",
	    new_rel, step->reason);
}

/* The transition as a stream line for waiters. */
static json_t *transition_json(const struct rbd_svc *s,
    const struct rbd_step *step, uint64_t wall)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:I}",
	    "event", "transition", "service", svc_name(s),
	    "from", rbd_state_str(step->from), "to", rbd_state_str(step->to),
	    "live", *s->w->live ? s->w->live : NULL,
	    "target", *s->w->target ? s->w->target : NULL,
	    "reason", step->reason, "at", (json_int_t)wall);
}

/* Tries of the store after a decision could not be recorded: after 1 s,
 * then twice as long each time, up to 30 s. */
#define RETRY_FIRST_USEC	RBD_USEC_PER_SEC
#define RETRY_MAX_USEC		(30 * RBD_USEC_PER_SEC)

/* Arm the retry of s, backing off; an armed one stays as it is. */
static void retry_arm(struct rbd_svc *s)
{
	struct timeval tv;

	if (!s->retry_timer || evtimer_pending(s->retry_timer, NULL))
		return;
	s->retry_usec = !s->retry_usec ? RETRY_FIRST_USEC :
	    s->retry_usec >= RETRY_MAX_USEC / 2 ? RETRY_MAX_USEC :
	    2 * s->retry_usec;
	tv = rbd_usec_tv(s->retry_usec);
	evtimer_add(s->retry_timer, &tv);
}

/* The store could not record a decision: the engine's state is ahead of
 * the record, so go back to the record and act on nothing, then try the
 * store again until it can be written (retry_arm). */
static void record_failed(struct rbd_svc *s, const char *why, uint64_t now)
{
	char err[ERRBUF_MAX];
	bool found;

	rbd_log(LOG_CRIT, "%s: could not record the decision, not acting on it: %s",
	    svc_name(s), why);
	if (rbd_store_load(s->d->store, svc_name(s), s->w, now, rbd_now_wall(),
	    &found, err, sizeof(err)) < 0) {
		rbd_log(LOG_CRIT, "%s: cannot read the store either, this service "
		    "is stopped until it can: %s", svc_name(s), err);
		s->broken = true;
	}
	retry_arm(s);
}

/* Try the store again after a decision of s could not be recorded: once
 * it can be written (a heartbeat is a write), s goes on from its record
 * as after a restart: an interrupted rollback is run again, a window is
 * timed again. Until then, probing goes on, decisions are taken and
 * refused, and the log and status (rbd_store_write_error) say why. */
static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_svc *s = arg;
	char err[ERRBUF_MAX], d[RBD_DURATION_STR_MAX];
	struct rbd_step step;
	uint64_t now;
	bool found;

	(void)fd;
	(void)what;
	if (s->d->stopping)
		return;
	now = rbd_now_mono();
	if (rbd_store_heartbeat(s->d->store, rbd_now_wall(), err,
	    sizeof(err)) < 0 || (s->broken && rbd_store_load(s->d->store,
	    svc_name(s), s->w, now, rbd_now_wall(), &found, err,
	    sizeof(err)) < 0)) {
		retry_arm(s);
		rbd_log(LOG_ERR, "%s: the store still cannot be written, "
		    "decisions are not acted on; trying again in %s: %s",
		    svc_name(s), rbd_duration_str(s->retry_usec, d, sizeof(d)),
		    err);
		return;
	}
	s->retry_usec = 0;
	s->broken = false;
	rbd_log(LOG_NOTICE, "%s: the store can be written again; going on "
	    "from %s %s", svc_name(s), rbd_state_str(s->w->state), s->w->live);
	if (s->deploying)
		return;		/* its end is the next step */
	rbd_watch_resume(s->w, s->policy, now, &step);
	carry_out(s, &step, now);
	pause_timer_arm(s, now);
	daemon_heartbeat_update(s->d);
}

/* The release-directory deployer's warning about the rollback target's
 * artifact into buf: "" when the target's directory is there, or when
 * there is no target or no release directory. A stat() or two. */
static void artifact_warning(const struct rbd_svc *s, char *buf, size_t len)
{
	char path[RBD_DETAIL_MAX * 2], why[RBD_DETAIL_MAX * 2];
	const char *target;
	int64_t schema;
	int i, r;

	*buf = '\0';
	if (!s->policy || !s->policy->deploy_releases)
		return;
	i = rbd_watch_choose_target(s->w, s->policy, &schema, NULL, 0);
	if (i < 0)
		return;
	target = s->w->good[i];
	r = rbd_deploy_dir_artifact(s->policy->deploy_releases, target, why,
	    sizeof(why));
	if (r == 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", s->policy->deploy_releases, target);
	if (r == -ENOENT)
		snprintf(buf, len, "rollback target %s has no release directory "
		    "%s: a rollback would fail", target, path);
	else
		snprintf(buf, len, "rollback target %s: release directory %s: a "
		    "rollback would fail", target, why);
}

/* After a release is announced: say now, not during the incident, when
 * a rollback could not find its release directory. */
static void artifact_check(const struct rbd_svc *s)
{
	char warning[RBD_REASON_MAX * 2];

	artifact_warning(s, warning, sizeof(warning));
	if (*warning)
		rbd_log(LOG_WARNING, "%s: %s", svc_name(s), warning);
}

int svc_event(struct rbd_svc *s, const struct rbd_event *event, uint64_t now,
    char *errbuf, size_t errlen)
{
	char err[ERRBUF_MAX], old_live[RBD_VERSION_MAX + 1];
	struct rbd_step step;
	uint64_t wall = rbd_now_wall();
	struct rbd_event e = *event;
	const struct rbd_event *ev = &e;
	int r;

	/* Times of day in reasons ("failing since 10:42:07 UTC"). */
	if (!e.wall)
		e.wall = wall;
	if (s->broken) {
		snprintf(errbuf, errlen, "%s: its state cannot be recorded; "
		    "see the log and restart rollbackd", svc_name(s));
		return -EIO;
	}
	memcpy(old_live, s->w->live, sizeof(old_live));
	r = rbd_watch_step(s->w, s->policy, ev, now, &step, errbuf, errlen);
	if (r < 0)
		return r;
	if (step.record) {
		RBD_CRASHPOINT("before-commit", step.event, step.from, step.to);
		r = rbd_store_commit(s->d->store, svc_name(s), s->w, &step, ev,
		    now, wall, err, sizeof(err));
		if (r < 0) {
			record_failed(s, err, now);
			snprintf(errbuf, errlen, "the decision could not be recorded: %s", err);
			return r;
		}
		RBD_CRASHPOINT("after-commit", step.event, step.from, step.to);
		log_step(s, &step, old_live);
		rbd_notify_status(s->d);
		daemon_heartbeat_update(s->d);
		/* A fresh watch: the baseline is what came before it. */
		if (step.to == RBD_STATE_WATCHING && step.from != RBD_STATE_WATCHING)
			s->baseline_end = s->w->since;
		/* Drill: its phases are progress too. */
		if (step.from != step.to || step.to == RBD_STATE_DRILLING ||
		    step.from == RBD_STATE_DRILLING)
			waiters_send(s, transition_json(s, &step, wall));
	}
	carry_out(s, &step, now);
	pause_timer_arm(s, now);
	if (step.record)
		drill_timer_arm(s);

	if (ev->type == RBD_EV_DEPLOYED)
		artifact_check(s);
	return 0;
}

/* ---- probes ---- */

void svc_sample(struct rbd_svc *s, struct rbd_check_state *cs,
    enum rbd_sample_result result, const char *detail, uint64_t taken_mono)
{
	const struct rbd_check *chk = check_of(cs);
	struct rbd_event ev = {
		.type = cs->guard ? RBD_EV_GUARD_SAMPLE : RBD_EV_SAMPLE,
		.check = cs->index, .sample = result, .detail = detail,
	};
	char err[ERRBUF_MAX];

	cs->last = result;
	cs->has_last = true;
	snprintf(cs->detail, sizeof(cs->detail), "%s", detail ? detail : "");
	rbd_log(LOG_DEBUG, "%s: %s%s: %s (%s)", svc_name(s),
	    cs->guard ? "guard " : "", chk->name,
	    rbd_sample_result_str(result), cs->detail);
	/* Judged at the time the sample was taken, not when it arrived. */
	if (svc_event(s, &ev, taken_mono, err, sizeof(err)) < 0) {
		rbd_log(LOG_ERR, "%s: sample of %s not taken into account: %s",
		    svc_name(s), chk->name, err);
		return;
	}
	/* cs outlives the step (check states are only freed by a reload or
	 * at exit, never from an event), whatever the step stopped. */
	if (result != RBD_SAMPLE_OK && s->waiters && !cs->guard &&
	    cs->index < s->w->n_checks &&
	    (s->w->fails[cs->index] || s->w->unknowns[cs->index]))
		waiters_send(s, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}",
		    "event", "sample", "service", svc_name(s), "check", chk->name,
		    "result", rbd_sample_result_str(result), "detail", cs->detail,
		    "fails", (json_int_t)s->w->fails[cs->index],
		    "fail_after", (json_int_t)chk->fail_after,
		    "unknowns", (json_int_t)s->w->unknowns[cs->index]));
}

/* Start probing a guard or a check; log a failure. */
static void probe_start(struct rbd_svc *s, struct rbd_check_state *cs)
{
	int r = check_start(s, cs);

	if (r < 0)
		rbd_log(LOG_ERR, "%s: cannot probe %s%s: %s", svc_name(s),
		    cs->guard ? "guard " : "", check_of(cs)->name, strerror(-r));
}

/* Start sampling every check of the policy (only_always: just those that
 * are probed in every state, for their baselines), and every guard, which
 * is probed in every state: "failing since" needs its history. */
static void probes_start(struct rbd_svc *s, bool only_always)
{
	for (size_t i = 0; i < s->n_guards; i++)
		probe_start(s, &s->guards[i]);
	for (size_t i = 0; i < s->policy->n_checks; i++) {
		const struct rbd_check *chk = &s->policy->checks[i];

		if (only_always && !check_always_probed(chk))
			continue;
		probe_start(s, &s->checks[i]);
	}
}

/* Stop the probes of s: at the end of a window those that only run in
 * windows, or all of them (guards too). */
static void probes_stop(struct rbd_svc *s, bool all)
{
	for (size_t i = 0; i < s->n_checks; i++)
		if (all || !s->policy || !check_always_probed(&s->policy->checks[i]))
			check_stop(&s->checks[i]);
	for (size_t i = 0; all && i < s->n_guards; i++)
		check_stop(&s->guards[i]);
}

/* Free every check's probe and remembered samples. */
static void checks_free(struct rbd_check_state *checks, size_t n)
{
	for (size_t i = 0; checks && i < n; i++)
		check_state_clear(&checks[i]);
	free(checks);
}

/* ---- the deploy command ---- */

/* The deploy of s ended: tell the engine. */
static void on_deploy_done(void *arg, const struct rbd_run_result *res)
{
	struct rbd_svc *s = arg;
	struct rbd_event ev = {
		.type = RBD_EV_DEPLOY_DONE, .deploy_id = 0,
		.deploy = res->result, .detail = res->detail,
	};
	char err[ERRBUF_MAX], detail[RBD_DETAIL_MAX];
	const char *last = NULL;

	s->job = NULL;
	s->deploying = false;
	rbd_log(res->result == RBD_DEPLOY_OK ? LOG_INFO : LOG_ERR,
	    "%s: %s %s after %llums", svc_name(s), s->command, res->detail,
	    (unsigned long long)(res->duration / 1000));
	/* The output, line by line, capped by the runner. */
	for (const char *p = res->output; p && *p;) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		if (n > 0) {
			rbd_log(LOG_INFO, "%s: %s output: %.*s", svc_name(s),
			    s->command, n, p);
			last = p;
			snprintf(detail, sizeof(detail), "%s; last output: %.*s",
			    res->detail, n, p);
		}
		p += n + (nl ? 1 : 0);
	}
	if (res->output_dropped)
		rbd_log(LOG_INFO, "%s: %s output: (%zu more bytes not kept)",
		    svc_name(s), s->command, res->output_dropped);
	if (last && res->result != RBD_DEPLOY_OK)
		ev.detail = detail;
	if (s->orphan) {
		svc_free(s);	/* its policy was removed by a reload */
		return;
	}
	if (s->d->stopping)
		return;		/* killed by our shutdown: re-run at the next start */
	RBD_CRASHPOINT("deploy-done", rbd_deploy_result_str(res->result),
	    s->w->state, s->w->state);
	ev.deploy_id = s->w->deploy_id;
	if (svc_event(s, &ev, rbd_now_mono(), err, sizeof(err)) < 0)
		rbd_log(LOG_ERR, "%s: deploy result not taken into account: %s",
		    svc_name(s), err);
}

/* Build the command's environment from scratch: a deploy's, and a
 * down-migration's with its schemas (from, to: NULL for a deploy). */
static char **deploy_env(const struct rbd_svc *s, const struct rbd_action *a,
    const char *from_schema, const char *to_schema)
{
	const char *path = getenv("PATH"), *lang = getenv("LANG");
	char **env = calloc(9, sizeof(*env));
	int n = 0;

	if (!env)
		return NULL;
	if (asprintf(&env[n++], "PATH=%s", path ? path : DEFAULT_PATH) < 0 ||
	    asprintf(&env[n++], "LANG=%s", lang ? lang : "C.UTF-8") < 0 ||
	    asprintf(&env[n++], "ROLLBACKD_SERVICE=%s", svc_name(s)) < 0 ||
	    asprintf(&env[n++], "ROLLBACKD_VERSION=%s", a->version) < 0 ||
	    asprintf(&env[n++], "ROLLBACKD_FROM_VERSION=%s", a->from_version) < 0 ||
	    asprintf(&env[n++], "ROLLBACKD_REASON=%s", a->reason) < 0 ||
	    (from_schema && (asprintf(&env[n++], "ROLLBACKD_FROM_SCHEMA=%s",
	    from_schema) < 0 || asprintf(&env[n++], "ROLLBACKD_TO_SCHEMA=%s",
	    to_schema) < 0))) {
		env[n - 1] = NULL;	/* asprintf left it undefined */
		rbd_argv_free(env);
		return NULL;
	}
	return env;
}

/* The deploy could not even start: report it to the engine from the loop,
 * not from inside the step that asked for it. */
struct deferred_done {
	struct rbd_svc *svc;
	char detail[RBD_DETAIL_MAX];
};

static void deferred_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct deferred_done *dd = arg;
	struct rbd_run_result res = {
		.result = RBD_DEPLOY_FAILED, .exit_status = -1, .detail = dd->detail,
	};

	(void)fd;
	(void)what;
	on_deploy_done(dd->svc, &res);
	free(dd);
}

/* A release-directory deploy ended: as a command's would. */
static void on_dir_deploy_done(void *arg, const struct rbd_run_result *res)
{
	struct rbd_svc *s = arg;

	s->dir_job = NULL;	/* freed by deploy_dir after this call */
	on_deploy_done(s, res);
}

/* Deploy a->version with the policy's release directory (deploy_dir.h):
 * 0, or a negative errno when it could not start. */
static int deploy_dir_run(struct rbd_svc *s, const struct rbd_action *a,
    char *const env[], const struct rbd_template_vars *vars)
{
	char **argv = NULL;
	int r = 0;

	s->command = "release-directory deploy";
	if (s->policy->deploy_restart_argv)
		r = rbd_argv_expand(s->policy->deploy_restart_argv, vars, &argv);
	if (r >= 0)
		r = rbd_deploy_dir_start(s->d->base, s->d->runner, s->d->bus,
		    s->policy, svc_name(s), a->version, argv, env,
		    on_dir_deploy_done, s, &s->dir_job);
	rbd_argv_free(argv);
	return r;
}

/* Run the policy's deploy command for action a (RUN_DEPLOY), or its
 * migrate_down command (RUN_MIGRATION). */
static void deploy_run(struct rbd_svc *s, const struct rbd_action *a)
{
	bool migration = a->type == RBD_ACT_RUN_MIGRATION;
	char from_schema[24], to_schema[24];
	const struct rbd_template_vars vars = {
		.service = svc_name(s), .version = a->version,
		.from_version = a->from_version,
		.from_schema = migration ? from_schema : NULL,
		.to_schema = migration ? to_schema : NULL,
	};
	static const struct timeval now_tv = { 0, 0 };
	struct deferred_done *dd;
	char **argv = NULL, **env;
	char *const *tmpl = s->policy->deploy_argv;
	uint64_t timeout = s->policy->deploy_timeout_usec;
	int r;

	s->command = migration ? "migrate_down command" : "deploy command";
	snprintf(from_schema, sizeof(from_schema), "%lld", (long long)a->from_schema);
	snprintf(to_schema, sizeof(to_schema), "%lld", (long long)a->to_schema);
	if (migration) {
		rbd_log(LOG_NOTICE, "%s: running migrate_down from schema %s to "
		    "%s (before deploying %s)", svc_name(s), from_schema,
		    to_schema, a->version);
		tmpl = s->policy->migrate_down_argv;
		timeout = s->policy->migrate_down_timeout_usec;
	} else {
		rbd_log(LOG_NOTICE, "%s: deploying %s (from %s)", svc_name(s),
		    a->version, *a->from_version ? a->from_version : "nothing");
	}
	env = deploy_env(s, a, migration ? from_schema : NULL, to_schema);
	if (env && !migration && s->policy->deploy_releases)
		r = deploy_dir_run(s, a, env, &vars);
	else
		r = !env ? -ENOMEM : !tmpl ? -ENOEXEC :
		    rbd_argv_expand(tmpl, &vars, &argv);
	if (r >= 0 && argv)
		r = rbd_runner_start_labelled(s->d->runner, svc_name(s), argv,
		    env, timeout, on_deploy_done, s, &s->job);
	rbd_argv_free(argv);
	rbd_argv_free(env);
	s->deploying = true;	/* until on_deploy_done, whichever way */
	if (r >= 0)
		return;
	dd = calloc(1, sizeof(*dd));
	if (!dd) {
		rbd_log(LOG_CRIT, "%s: out of memory starting the deploy", svc_name(s));
		s->deploying = false;
		return;
	}
	dd->svc = s;
	snprintf(dd->detail, sizeof(dd->detail), "could not be started: %s",
	    r == -ENOEXEC ? "the policy has no migrate_down command" :
	    strerror(-r));
	event_base_once(s->d->base, -1, EV_TIMEOUT, deferred_done_cb, dd, &now_tv);
}

/* ---- Remedies: running a remedy's action ---- */

/* A remedy's action in flight: a command through the runner, or a
 * request through the remedy HTTP client. svc is NULL once the service
 * let go of it (freed, or a newer remedy started): its result is then
 * only logged. */
struct rbd_remedy_job {
	struct rbd_svc *svc;
	uint64_t id;			/* the RUN_REMEDY's deploy_id */
	struct rbd_remedy_req *req;	/* HTTP: in flight, or NULL */
	char name[RBD_SERVICE_MAX + 1];	/* the remedy's */
	char service[RBD_SERVICE_MAX + 1];
};

/* Let go of the remedy action of s, if any: a request is abandoned, a
 * command runs on and its result is only logged. */
static void remedy_detach(struct rbd_svc *s)
{
	struct rbd_remedy_job *j = s->remedy_job;

	if (!j)
		return;
	s->remedy_job = NULL;
	if (j->req) {
		rbd_remedy_http_cancel(j->req);
		free(j);
		return;
	}
	j->svc = NULL;
}

/* A remedy's action ended: log it and tell the engine. */
static void remedy_finish(struct rbd_remedy_job *j,
    enum rbd_deploy_result result, const char *detail)
{
	struct rbd_svc *s = j->svc;
	struct rbd_event ev = {
		.type = RBD_EV_REMEDY_DONE, .deploy_id = j->id,
		.deploy = result, .detail = detail,
	};
	char err[ERRBUF_MAX];

	rbd_log(result == RBD_DEPLOY_OK ? LOG_INFO : LOG_WARNING,
	    "%s: remedy %s: %s%s", j->service, j->name, detail,
	    s ? "" : " (no longer awaited)");
	if (s && s->remedy_job == j)
		s->remedy_job = NULL;
	free(j);
	if (!s || s->d->stopping)
		return;
	if (svc_event(s, &ev, rbd_now_mono(), err, sizeof(err)) < 0)
		rbd_log(LOG_ERR, "%s: remedy result not taken into account: %s",
		    svc_name(s), err);
}

/* A remedy command ended; its output goes to the log, its last line into
 * the detail of a failure. */
static void on_remedy_command_done(void *arg, const struct rbd_run_result *res)
{
	struct rbd_remedy_job *j = arg;
	char detail[RBD_DETAIL_MAX];
	const char *d = res->detail;

	for (const char *p = res->output; p && *p;) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		if (n > 0) {
			rbd_log(LOG_INFO, "%s: remedy %s output: %.*s",
			    j->service, j->name, n, p);
			if (res->result != RBD_DEPLOY_OK) {
				snprintf(detail, sizeof(detail), "%s; last "
				    "output: %.*s", res->detail, n, p);
				d = detail;
			}
		}
		p += n + (nl ? 1 : 0);
	}
	remedy_finish(j, res->result, d);
}

/* A remedy request ended. */
static void on_remedy_http_done(void *arg, enum rbd_deploy_result result,
    const char *detail)
{
	struct rbd_remedy_job *j = arg;

	j->req = NULL;
	remedy_finish(j, result, detail);
}

/* A remedy that could not even start: reported from the loop, not from
 * inside the step that asked for it. */
struct remedy_deferred {
	struct rbd_remedy_job *job;
	char detail[RBD_DETAIL_MAX];
};

static void remedy_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct remedy_deferred *rd = arg;

	(void)fd;
	(void)what;
	remedy_finish(rd->job, RBD_DEPLOY_FAILED, rd->detail);
	free(rd);
}

/* Run the action of the remedy of a (RUN_REMEDY): its command with
 * deploy.command's placeholders and environment, or its request. */
static void remedy_start(struct rbd_svc *s, const struct rbd_action *a)
{
	const struct rbd_remedy *rm = a->remedy < s->policy->n_remedies ?
	    &s->policy->remedies[a->remedy] : NULL;
	const struct rbd_template_vars vars = {
		.service = svc_name(s), .version = a->version,
		.from_version = a->from_version,
	};
	static const struct timeval now_tv = { 0, 0 };
	struct rbd_remedy_job *j = calloc(1, sizeof(*j));
	struct remedy_deferred *rd;
	char **argv = NULL, **env = NULL;
	int r = -ENOENT;

	remedy_detach(s);
	if (!j) {
		rbd_log(LOG_CRIT, "%s: out of memory starting a remedy",
		    svc_name(s));
		return;
	}
	j->svc = s;
	j->id = a->deploy_id;
	snprintf(j->service, sizeof(j->service), "%s", svc_name(s));
	snprintf(j->name, sizeof(j->name), "%s", rm ? rm->name : "(removed)");
	s->remedy_job = j;
	if (rm && rm->type == RBD_REMEDY_COMMAND) {
		rbd_log(LOG_NOTICE, "%s: trying remedy %s (command) on %s",
		    svc_name(s), rm->name, a->version);
		env = deploy_env(s, a, NULL, NULL);
		r = !env ? -ENOMEM : rbd_argv_expand(rm->argv, &vars, &argv);
		if (r >= 0)
			r = rbd_runner_start_labelled(s->d->runner, svc_name(s),
			    argv, env, rm->timeout_usec, on_remedy_command_done,
			    j, NULL);
	} else if (rm) {
		rbd_log(LOG_NOTICE, "%s: trying remedy %s (%s %s) on %s",
		    svc_name(s), rm->name, rm->http.method, rm->http.url,
		    a->version);
		r = rbd_remedy_http_start(s->d->remedy_http, &rm->http,
		    rm->timeout_usec, on_remedy_http_done, j, &j->req);
	}
	rbd_argv_free(argv);
	rbd_argv_free(env);
	if (r >= 0)
		return;
	rd = calloc(1, sizeof(*rd));
	if (!rd) {
		rbd_log(LOG_CRIT, "%s: out of memory starting a remedy",
		    svc_name(s));
		s->remedy_job = NULL;
		free(j);
		return;
	}
	rd->job = j;
	snprintf(rd->detail, sizeof(rd->detail), "could not be started: %s",
	    r == -ENOENT ? "the remedy is no longer in the policy" :
	    strerror(-r));
	event_base_once(s->d->base, -1, EV_TIMEOUT, remedy_deferred_cb, rd,
	    &now_tv);
}

/* ---- actions ---- */

/* The service's one timer fired. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_svc *s = arg;
	struct rbd_event ev = { .type = RBD_EV_TIMER };
	char err[ERRBUF_MAX];

	(void)fd;
	(void)what;
	if (svc_event(s, &ev, rbd_now_mono(), err, sizeof(err)) < 0)
		rbd_log(LOG_ERR, "%s: timer: %s", svc_name(s), err);
}

/* A pause's time has come: tell the engine (which ignores a stale one). */
static void on_pause_timer(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_svc *s = arg;
	struct rbd_event ev = { .type = RBD_EV_RESUME, .actor = NULL };
	char err[ERRBUF_MAX];

	(void)fd;
	(void)what;
	if (svc_event(s, &ev, rbd_now_mono(), err, sizeof(err)) < 0)
		rbd_log(LOG_ERR, "%s: end of pause: %s", svc_name(s), err);
}

/* Keep the pause timer in step with the watch: armed for the end of a
 * pause with a duration, else off. Called after every step and load. */
static void pause_timer_arm(struct rbd_svc *s, uint64_t now)
{
	uint64_t in;
	struct timeval tv;

	if (!s->pause_timer)
		return;
	if (!s->w->paused || !s->w->pause_until) {
		evtimer_del(s->pause_timer);
		return;
	}
	in = s->w->pause_until > now ? s->w->pause_until - now : 0;
	tv = rbd_usec_tv(in);
	evtimer_add(s->pause_timer, &tv);
}

/* Drill: the local time of a wall time, for the schedule. */
static void drill_local_time(uint64_t wall, struct rbd_local_time *ret)
{
	time_t t = (time_t)(wall / RBD_USEC_PER_SEC);
	struct tm tm;

	memset(ret, 0, sizeof(*ret));
	if (!localtime_r(&t, &tm))
		return;
	ret->wday = tm.tm_wday;
	ret->minute = (unsigned)(tm.tm_hour * 60 + tm.tm_min);
	ret->second = tm.tm_sec > 59 ? 59 : (unsigned)tm.tm_sec;
}

/* Drill: the wall time at which the schedule next has a drill due (now
 * or later); 0 without a schedule. */
static uint64_t drill_next(const struct rbd_svc *s, uint64_t wall)
{
	const struct rbd_policy *p = s->policy;
	struct rbd_local_time lt;
	uint64_t next;

	if (!p || !p->has_drill)
		return 0;
	drill_local_time(wall, &lt);
	next = rbd_drill_next_due(&p->drill_window, p->drill_every_usec,
	    s->w->drill_passed_wall, s->w->drill_last_wall, wall, &lt);
	return next < s->drill_not_before ? s->drill_not_before : next;
}

/* Drill: arm the schedule's timer for the next window with a drill due
 * (not while a drill runs: its end arms it again). An idle daemon wakes
 * once a window, not more. */
static void drill_timer_arm(struct rbd_svc *s)
{
	uint64_t wall = rbd_now_wall(), next;
	struct timeval tv;

	if (!s->drill_timer)
		return;
	evtimer_del(s->drill_timer);
	if (s->orphan || s->d->stopping || s->w->state == RBD_STATE_DRILLING)
		return;
	next = drill_next(s, wall);
	if (!next)
		return;
	tv = rbd_usec_tv(next > wall ? next - wall : 0);
	evtimer_add(s->drill_timer, &tv);
}

/* Drill: the schedule's timer fired: start the drill when one is due
 * (the engine refuses it unless the service is idle and healthy); a
 * refused one is tried again in 5 minutes while the window lasts. */
static void on_drill_timer(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_svc *s = arg;
	const struct rbd_policy *p = s->policy;
	struct rbd_event ev = { .type = RBD_EV_DRILL, .actor = NULL };
	uint64_t wall = rbd_now_wall();
	struct rbd_local_time lt;
	char err[ERRBUF_MAX], win[RBD_DRILL_WINDOW_STR_MAX];

	(void)fd;
	(void)what;
	drill_local_time(wall, &lt);
	if (p && p->has_drill && wall >= s->drill_not_before &&
	    rbd_drill_due(&p->drill_window, p->drill_every_usec,
	    s->w->drill_passed_wall, s->w->drill_last_wall, wall, &lt)) {
		rbd_log(LOG_INFO, "%s: a drill is due (window %s)", svc_name(s),
		    rbd_drill_window_str(&p->drill_window, win, sizeof(win)));
		if (svc_event(s, &ev, rbd_now_mono(), err, sizeof(err)) == 0)
			return;
		rbd_log(LOG_NOTICE, "%s: scheduled drill not started: %s; "
		    "trying again in 5m while the window lasts", svc_name(s),
		    err);
		s->drill_not_before = wall + 5 * RBD_USEC_PER_MIN;
	}
	drill_timer_arm(s);
}

json_t *svc_drill_schedule_json(const struct rbd_svc *s, uint64_t now_mono,
    uint64_t now_wall)
{
	const struct rbd_policy *p = s->policy;
	char every[RBD_DURATION_STR_MAX], win[RBD_DRILL_WINDOW_STR_MAX];
	uint64_t next;

	(void)now_mono;
	if (!p || !p->has_drill)
		return json_null();
	next = drill_next(s, now_wall);
	return json_pack("{s:s, s:I, s:s, s:o}",
	    "every", rbd_duration_str(p->drill_every_usec, every, sizeof(every)),
	    "every_usec", (json_int_t)p->drill_every_usec,
	    "window", rbd_drill_window_str(&p->drill_window, win, sizeof(win)),
	    "next", s->w->state == RBD_STATE_DRILLING || !next ? json_null() :
	    json_integer((json_int_t)next));
}

/* Arm the timer for deadline (monotonic usec). */
static void timer_set(struct rbd_svc *s, uint64_t deadline, uint64_t now)
{
	struct timeval tv = rbd_usec_tv(deadline > now ? deadline - now : 0);

	evtimer_add(s->timer, &tv);
}

/* Tell waiters of a release their verdict, and close them. A drill's
 * verdict carries its report and the state it left. */
static void notify(struct rbd_svc *s, const struct rbd_action *a)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}",
	    "event", "verdict", "service", svc_name(s), "version", a->version,
	    "verdict", rbd_verdict_str(a->verdict), "reason", a->reason);

	if (o && (a->verdict == RBD_VERDICT_DRILL_PASSED ||
	    a->verdict == RBD_VERDICT_DRILL_FAILED ||
	    a->verdict == RBD_VERDICT_DRILL_ABORTED)) {
		json_object_set_new(o, "state",
		    json_string(rbd_state_str(s->w->state)));
		json_object_set_new(o, "drill", svc_drill_json(s, 0, 0));
	}
	waiters_finish(s, a->version, o);
}

/* Whether a is a command to run. */
static bool is_command(const struct rbd_action *a)
{
	return a->type == RBD_ACT_RUN_DEPLOY || a->type == RBD_ACT_RUN_MIGRATION;
}

/* Carry out a recorded step's actions, in order, except that a command
 * starts first: it is what a rollback waits for, and stopping a window's
 * probes (0.1-0.6 ms at 1,000 checks) before it would only delay it. They
 * all happen within this call, so nothing else can see the order. */
static void carry_out(struct rbd_svc *s, const struct rbd_step *step,
    uint64_t now)
{
	for (size_t i = 0; i < step->n_actions; i++)
		if (is_command(&step->actions[i]) && !s->d->stopping) {
			deploy_run(s, &step->actions[i]);
			RBD_CRASHPOINT("action-started", step->event,
			    step->from, step->to);
		}
	for (size_t i = 0; i < step->n_actions; i++) {
		const struct rbd_action *a = &step->actions[i];

		switch (a->type) {
		case RBD_ACT_START_PROBES:
			if (!s->d->stopping)
				probes_start(s, false);
			break;
		case RBD_ACT_STOP_PROBES:
			probes_stop(s, false);
			break;
		case RBD_ACT_SET_TIMER:
			timer_set(s, a->deadline, now);
			break;
		case RBD_ACT_CANCEL_TIMER:
			evtimer_del(s->timer);
			break;
		case RBD_ACT_NOTIFY:
			notify(s, a);
			break;
		case RBD_ACT_RUN_REMEDY:
			if (!s->d->stopping)
				remedy_start(s, a);
			break;
		default:
			break;
		}
	}
}

/* ---- life cycle ---- */

/* n check states of s, guards or checks; NULL when out of memory. */
static struct rbd_check_state *states_new(struct rbd_svc *s, size_t n,
    bool guard)
{
	struct rbd_check_state *cs = calloc(n ? n : 1, sizeof(*cs));

	for (size_t i = 0; cs && i < n; i++) {
		cs[i].svc = s;
		cs[i].index = i;
		cs[i].guard = guard;
	}
	return cs;
}

/* Allocate the per-check and per-guard state for s->policy. On failure
 * s->checks and s->guards are left as they were. */
static int checks_alloc(struct rbd_svc *s)
{
	struct rbd_check_state *checks, *guards;

	checks = states_new(s, s->policy->n_checks, false);
	guards = states_new(s, s->policy->n_guards, true);
	if (!checks || !guards) {
		free(checks);
		free(guards);
		return -ENOMEM;
	}
	s->checks = checks;
	s->n_checks = s->policy->n_checks;
	s->guards = guards;
	s->n_guards = s->policy->n_guards;
	return 0;
}

int svc_new(struct rbd_daemon *d, const struct rbd_policy *policy,
    struct rbd_svc **ret)
{
	struct rbd_svc *s = calloc(1, sizeof(*s));
	struct rbd_step step;
	char err[ERRBUF_MAX];
	uint64_t now = rbd_now_mono();
	bool found = false;
	int r;

	if (!s)
		return -ENOMEM;
	s->d = d;
	s->command = "deploy command";
	snprintf(s->name, sizeof(s->name), "%s", policy->service);
	s->policy = policy;
	s->w = rbd_watch_new(policy);
	s->timer = evtimer_new(d->base, on_timer, s);
	s->pause_timer = evtimer_new(d->base, on_pause_timer, s);
	s->drill_timer = evtimer_new(d->base, on_drill_timer, s);
	s->retry_timer = evtimer_new(d->base, on_retry, s);
	if (!s->w || !s->timer || !s->pause_timer || !s->drill_timer ||
	    !s->retry_timer ||
	    checks_alloc(s) < 0) {
		svc_free(s);
		return -ENOMEM;
	}
	r = rbd_store_load(d->store, policy->service, s->w, now, rbd_now_wall(),
	    &found, err, sizeof(err));
	if (r < 0) {
		rbd_log(LOG_ERR, "%s: %s", policy->service, err);
		svc_free(s);
		return r;
	}
	if (found && s->w->state != RBD_STATE_IDLE)
		rbd_log(LOG_NOTICE, "%s: resuming %s %s (%s)", policy->service,
		    rbd_state_str(s->w->state), s->w->live, s->w->reason);
	if (s->w->state == RBD_STATE_WATCHING || s->w->state == RBD_STATE_VERIFYING)
		s->baseline_end = s->w->since;
	probes_start(s, true);
	rbd_watch_resume(s->w, policy, now, &step);
	carry_out(s, &step, now);
	pause_timer_arm(s, now);
	drill_timer_arm(s);
	*ret = s;
	return 0;
}

int svc_set_policy(struct rbd_svc *s, const struct rbd_policy *policy)
{
	struct rbd_check_state *old_checks = s->checks, *old_guards = s->guards;
	size_t old_n = s->n_checks, old_ng = s->n_guards;
	const struct rbd_policy *old = s->policy;
	bool probing = s->w->state == RBD_STATE_WATCHING ||
	    s->w->state == RBD_STATE_VERIFYING ||
	    (s->w->state == RBD_STATE_DRILLING &&
	    (s->w->drill_phase == RBD_DRILL_VERIFY_BACK ||
	    s->w->drill_phase == RBD_DRILL_VERIFY_FORWARD));
	struct rbd_step step;
	uint64_t now;
	int r;

	s->policy = policy;
	if (checks_alloc(s) < 0) {
		s->policy = old;
		return -ENOMEM;
	}
	r = rbd_watch_set_policy(s->w, old, policy);
	if (r < 0) {
		checks_free(s->checks, s->n_checks);
		checks_free(s->guards, s->n_guards);
		s->policy = old;
		s->checks = old_checks;
		s->n_checks = old_n;
		s->guards = old_guards;
		s->n_guards = old_ng;
		return r;
	}
	/* The old probes point into the old check states: stop them first. */
	checks_free(old_checks, old_n);
	checks_free(old_guards, old_ng);
	probes_start(s, true);
	/* Remedies: the remedy in flight goes on; only the probes are new. */
	if (s->w->state == RBD_STATE_REMEDYING && !s->d->stopping)
		probes_start(s, false);
	if (probing) {
		/* The same watch, with the new checks and window: in these two
		 * states resume only starts probes and re-arms the timer. */
		now = rbd_now_mono();
		rbd_watch_resume(s->w, policy, now, &step);
		carry_out(s, &step, now);
	}
	drill_timer_arm(s);
	return 0;
}

void svc_free(struct rbd_svc *s)
{
	if (!s)
		return;
	checks_free(s->checks, s->n_checks);
	checks_free(s->guards, s->n_guards);
	remedy_detach(s);

	rbd_deploy_dir_free(s->dir_job);
	waiters_finish(s, NULL, NULL);
	if (s->timer)
		event_free(s->timer);
	if (s->pause_timer)
		event_free(s->pause_timer);
	if (s->drill_timer)
		event_free(s->drill_timer);
	if (s->retry_timer)
		event_free(s->retry_timer);
	rbd_watch_free(s->w);
	free(s);
}

/* Stop probing and timing s, and close its waiters with why. */
static void svc_stop_effects(struct rbd_svc *s, const char *why)
{
	probes_stop(s, true);
	evtimer_del(s->timer);
	evtimer_del(s->pause_timer);
	evtimer_del(s->drill_timer);
	evtimer_del(s->retry_timer);
	waiters_finish(s, NULL, json_pack("{s:b, s:s, s:s}", "ok", 0,
	    "error", "internal", "message", why));
}

void svc_quiesce(struct rbd_svc *s)
{
	svc_stop_effects(s, "rollbackd is stopping; the watch resumes when it "
	    "starts again");
}

void svc_retire(struct rbd_svc *s)
{
	svc_stop_effects(s, "the service's policy was removed by a reload");
	if (!s->deploying) {
		svc_free(s);
		return;
	}
	rbd_log(LOG_WARNING, "%s: policy removed while its deploy command runs; "
	    "its result will be logged, not acted on", svc_name(s));
	s->orphan = true;	/* freed by on_deploy_done */
}

/* ---- status ---- */

/* A wall-clock time for an engine time t (now_mono is now_wall). */
static json_int_t wall_of(uint64_t t, uint64_t now_mono, uint64_t now_wall)
{
	uint64_t ago = now_mono > t ? now_mono - t : 0;

	return (json_int_t)(t > now_mono ? now_wall + (t - now_mono) :
	    now_wall > ago ? now_wall - ago : 0);
}

/* Drill: the deploy command a leg ran (or would run), expanded as
 * deploy_run expands it, as a JSON array; null when it cannot be. */
static json_t *drill_command_json(const struct rbd_svc *s, const char *v,
    const char *from)
{
	const struct rbd_template_vars vars = {
		.service = svc_name(s), .version = v, .from_version = from,
	};
	char **argv = NULL;
	json_t *a;

	if (!s->policy || !s->policy->deploy_argv || !*v ||
	    rbd_argv_expand(s->policy->deploy_argv, &vars, &argv) < 0)
		return json_null();
	a = json_array();
	for (size_t i = 0; a && argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	rbd_argv_free(argv);
	return a ? a : json_null();
}

/* Drill: one leg of the report. */
static json_t *drill_leg_json(const struct rbd_svc *s, const char *step,
    const char *v, const char *from, const struct rbd_drill_leg *l)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:I, s:o, s:I}",
	    "step", step, "version", v, "from_version", from,
	    "command", drill_command_json(s, v, from),
	    "state", rbd_drill_leg_state_str(l->state),
	    "deploy_usec", (json_int_t)l->deploy_usec,
	    "healthy_usec", l->healthy ? json_integer((json_int_t)
	    l->healthy_usec) : json_null(),
	    "verify_usec", (json_int_t)l->verify_usec);
}

json_t *svc_drill_json(const struct rbd_svc *s, uint64_t now_mono,
    uint64_t now_wall)
{
	const struct rbd_watch *w = s->w;
	bool any = w->drill_phase != RBD_DRILL_NONE ||
	    w->drill_last != RBD_DRILL_RESULT_NONE;
	json_t *o = json_pack("{s:s, s:s?, s:s?, s:b, s:s?}",
	    "phase", rbd_drill_phase_str(w->drill_phase),
	    "live", *w->drill_l ? w->drill_l : NULL,
	    "target", *w->drill_k ? w->drill_k : NULL,
	    "aborting", w->drill_abort,
	    "failure", *w->drill_failure ? w->drill_failure : NULL);

	if (!o)
		return json_null();
	json_object_set_new(o, "steps", !any || !*w->drill_k ? json_array() :
	    json_pack("[o, o]", drill_leg_json(s, "rollback", w->drill_k,
	    w->drill_l, &w->drill_legs[0]), drill_leg_json(s, "roll forward",
	    w->drill_l, w->drill_k, &w->drill_legs[1])));
	json_object_set_new(o, "last", w->drill_last == RBD_DRILL_RESULT_NONE ?
	    json_null() : json_pack("{s:s, s:I, s:s}",
	    "result", rbd_drill_result_str(w->drill_last),
	    "at", (json_int_t)w->drill_last_wall,
	    "reason", w->drill_last_reason));
	json_object_set_new(o, "last_passed", w->drill_passed_wall ?
	    json_integer((json_int_t)w->drill_passed_wall) : json_null());
	json_object_set_new(o, "schedule", svc_drill_schedule_json(s, now_mono,
	    now_wall));
	return o;
}

/* A guard's status object: a check's, with whether it is failing. */
static json_t *guard_json(const struct rbd_svc *s, size_t i)
{
	const struct rbd_check_state *cs = &s->guards[i];
	const struct rbd_check *chk = &s->policy->guards[i];
	bool counted = i < s->w->n_guards;
	unsigned fails = counted ? s->w->guard_fails[i] : 0;
	uint64_t since = counted ? s->w->guard_since_wall[i] : 0;

	return json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:I, s:b, s:o}",
	    "name", chk->name, "type", rbd_check_type_str(chk->type),
	    "last", cs->has_last ? rbd_sample_result_str(cs->last) : NULL,
	    "detail", cs->has_last ? cs->detail : NULL,
	    "fails", (json_int_t)fails, "fail_after", (json_int_t)chk->fail_after,
	    "failing", fails >= chk->fail_after && fails > 0,
	    "failing_since", fails && since ? json_integer((json_int_t)since) :
	    json_null());
}

json_t *svc_pause_json(const struct rbd_svc *s, uint64_t now_mono)
{
	const struct rbd_watch *w = s->w;

	if (!rbd_watch_paused(w, now_mono))
		return json_null();
	return json_pack("{s:s, s:s?, s:o}", "by", w->paused_by,
	    "reason", *w->pause_reason ? w->pause_reason : NULL,
	    "until", w->pause_until && w->pause_until_wall ?
	    json_integer((json_int_t)w->pause_until_wall) : json_null());
}

/* Remedies: the remedy being tried, for status ("remedying: trying
 * flag-off (1 of 2), settling until 10:42:07"), or JSON null. */
static json_t *remedy_json(const struct rbd_svc *s, uint64_t now_mono,
    uint64_t now_wall)
{
	const struct rbd_watch *w = s->w;
	const struct rbd_policy *p = s->policy;
	uint64_t end = rbd_watch_settle_end(w, p);

	if (w->state != RBD_STATE_REMEDYING)
		return json_null();
	return json_pack("{s:s, s:I, s:I, s:b, s:o, s:s}",
	    "name", w->remedy < p->n_remedies ? p->remedies[w->remedy].name :
	    "(removed)", "index", (json_int_t)w->remedy + 1,
	    "of", (json_int_t)p->n_remedies, "settling", w->remedy_settling,
	    "settle_until", end ? json_integer(wall_of(end, now_mono,
	    now_wall)) : json_null(), "why", w->remedy_why);
}

/* A schema version, or JSON null. */
static json_t *schema_json(int64_t v)
{
	return v == RBD_SCHEMA_NONE ? json_null() : json_integer((json_int_t)v);
}

/* One check's status object. */
static json_t *check_json(const struct rbd_svc *s, size_t i)
{
	const struct rbd_check_state *cs = &s->checks[i];
	const struct rbd_check *chk = &s->policy->checks[i];

	bool counted = i < s->w->n_checks;
	json_t *o;

	o = json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:I, s:I, s:I}",
	    "name", chk->name, "type", rbd_check_type_str(chk->type),
	    "last", cs->has_last ? rbd_sample_result_str(cs->last) : NULL,
	    "detail", cs->has_last ? cs->detail : NULL,
	    "fails", (json_int_t)(counted ? s->w->fails[i] : 0),
	    "fail_after", (json_int_t)chk->fail_after,
	    "unknowns", (json_int_t)(counted ? s->w->unknowns[i] : 0),
	    "inconclusive_after", (json_int_t)(chk->inconclusive_after ?
	    chk->inconclusive_after : RBD_WATCH_INCONCLUSIVE_AFTER));
	if (o && cs->has_value)
		json_object_set_new(o, "value", json_real(cs->value));
	return o;
}

json_t *svc_status_json(const struct rbd_svc *s, uint64_t now_mono,
    uint64_t now_wall)
{
	const struct rbd_watch *w = s->w;
	const struct rbd_policy *p = s->policy;
	json_t *checks = json_array(), *guards = json_array(), *o;
	char warning[RBD_REASON_MAX * 2];

	if (!checks || !guards) {
		json_decref(checks);
		json_decref(guards);
		return NULL;
	}
	for (size_t i = 0; i < p->n_checks; i++)
		json_array_append_new(checks, check_json(s, i));
	for (size_t i = 0; i < s->n_guards; i++)
		json_array_append_new(guards, guard_json(s, i));
	o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:I, s:s, s:b, s:o, s:o}",
	    "service", svc_name(s), "state", rbd_state_str(w->state),
	    "live", *w->live ? w->live : NULL,
	    "known_good", w->n_good ? w->good[0] : NULL,
	    "target", *w->target ? w->target : NULL,
	    "since", wall_of(w->since, now_mono, now_wall),
	    "reason", w->reason, "deploying", s->deploying, "checks", checks,
	    "guards", guards);
	if (!o)
		return NULL;
	json_object_set_new(o, "mode", json_string(rbd_mode_str(p->mode)));
	json_object_set_new(o, "paused", svc_pause_json(s, now_mono));
	json_object_set_new(o, "schema", schema_json(w->schema));
	json_object_set_new(o, "schema_before", schema_json(w->schema_before));
	json_object_set_new(o, "migration",
	    json_string(rbd_migration_str(w->migration)));
	json_object_set_new(o, "migrating", json_boolean(w->migrating &&
	    w->state == RBD_STATE_ROLLING_BACK));
	json_object_set_new(o, "target_schema", w->migrating ?
	    schema_json(w->target_schema) : json_null());
	json_object_set_new(o, "remedy", remedy_json(s, now_mono, now_wall));

	artifact_warning(s, warning, sizeof(warning));
	json_object_set_new(o, "artifact_warning", *warning ?
	    json_string(warning) : json_null());
	json_object_set_new(o, "automatic_rollbacks", json_pack("{s:I, s:I, s:I}",
	    "count", (json_int_t)rbd_watch_auto_count(w, p, now_mono),
	    "max", (json_int_t)p->max_automatic,
	    "per_usec", (json_int_t)p->automatic_per_usec));
	json_object_set_new(o, "drill", svc_drill_json(s, now_mono, now_wall));
	return o;
}
