/* Control requests: what rollbackctl asks, answered from the services and
 * the store. The protocol is documented in rollbackd(8). */
#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "daemon.h"
#include "duration.h"
#include "deploy_dir.h"
#include "log.h"
#include "probe_http.h"
#include "proto.h"
#include "prune.h"
#include "store.h"

#define ERRBUF_MAX 512
/* Upper bounds on the compact JSON of the parts of a status or history
 * reply, for the connection's output cap: a string the daemon did not
 * choose counts 6 bytes a byte (Jansson writes a control character as
 * \u00XX). A service's own fields (names, versions, reasons, its pause)
 * stay within 9 KiB so; a check's are its name and detail plus numbers. */
#define STATUS_HEAD_BOUND	(8 * 1024)	/* "probes" and "schedule" */
#define STATUS_SVC_BOUND	(16 * 1024)
#define STATUS_CHECK_BOUND(name) (512 + 6 * (strlen(name) + RBD_DETAIL_MAX))
#define HISTORY_ROW_BOUND	(512 + 6 * (32 + 3 * RBD_VERSION_MAX + \
	RBD_ACTOR_MAX + RBD_REASON_MAX))

/* Reply obj (stolen) and close. A big reply refused for now (others are
 * being sent) says so: the client may try again. */
static void reply_close(struct rbd_conn *c, json_t *obj)
{
	int r;

	if (!obj) {
		rbd_conn_fail(c, "internal", "out of memory");
		return;
	}
	r = rbd_conn_reply(c, obj);
	json_decref(obj);
	if (r == -EBUSY) {
		rbd_conn_fail(c, "busy", "rollbackd is sending large replies to "
		    "other clients; try again in a moment");
		return;
	}
	rbd_conn_close(c);
}

/* The service a request names, or a refusal sent to c. */
static struct rbd_svc *want_service(struct rbd_daemon *d, struct rbd_conn *c,
    const struct rbd_request *req)
{
	struct rbd_svc *s = daemon_find(d, req->service);

	if (!s)
		rbd_conn_fail(c, "refused", "unknown service '%s' (no policy for it "
		    "in %s)", req->service, d->config->policies_dir);
	return s;
}

/* The short state reply after a change. */
static json_t *state_json(const struct rbd_svc *s)
{
	return json_pack("{s:b, s:s, s:s, s:s?, s:s}", "ok", 1,
	    "service", s->name, "state", rbd_state_str(s->w->state),
	    "live", *s->w->live ? s->w->live : NULL, "reason", s->w->reason);
}

/* Map an engine or store refusal to its reply. */
static void fail_event(struct rbd_conn *c, int r, const char *err)
{
	rbd_conn_fail(c, r == -EIO || r == -ENOMEM || r == -ENOSPC ?
	    "internal" : "refused", "%s", err);
}

/* Log a request for the engine, with what it carries. Every value has
 * been checked by rbd_request_parse (no control characters). */
static void log_request(const struct rbd_svc *s, const struct rbd_request *req,
    const struct rbd_peer *peer)
{
	char d[RBD_DURATION_STR_MAX], what[64] = "";
	bool why = req->cmd == RBD_CMD_PAUSE && *req->reason;

	if (req->cmd == RBD_CMD_DEPLOYED && req->has_schema)
		snprintf(what, sizeof(what), " (schema %lld, migration %s)",
		    (long long)req->schema, rbd_migration_str(req->migration));
	else if (req->cmd == RBD_CMD_PAUSE && req->for_usec)
		snprintf(what, sizeof(what), " for %s",
		    rbd_duration_str(req->for_usec, d, sizeof(d)));
	else if (req->cmd == RBD_CMD_PAUSE)
		snprintf(what, sizeof(what), " until resumed");
	rbd_log(LOG_INFO, "%s: %s%s%s%s requested by %s%s%s", s->name,
	    rbd_cmd_str(req->cmd), *req->version ? " " : "", req->version,
	    what, peer->text, why ? ": " : "", why ? req->reason : "");
}

/* deployed, mark-good, mark-bad, rollback, pause, resume: one event for
 * the engine. */
static void do_event(struct rbd_daemon *d, struct rbd_conn *c,
    const struct rbd_request *req, const struct rbd_peer *peer)
{
	static const enum rbd_event_type types[_RBD_CMD_MAX] = {
		[RBD_CMD_DEPLOYED] = RBD_EV_DEPLOYED,
		[RBD_CMD_MARK_GOOD] = RBD_EV_MARK_GOOD,
		[RBD_CMD_MARK_BAD] = RBD_EV_MARK_BAD,
		[RBD_CMD_ROLLBACK] = RBD_EV_ROLLBACK,
		[RBD_CMD_PAUSE] = RBD_EV_PAUSE,
		[RBD_CMD_RESUME] = RBD_EV_RESUME,
		[RBD_CMD_DRILL] = RBD_EV_DRILL,
		[RBD_CMD_DRILL_ABORT] = RBD_EV_DRILL_ABORT,
	};
	struct rbd_svc *s = want_service(d, c, req);
	/* A request without a schema says nothing about it: schema 0 is a
	 * schema, so the event gets RBD_SCHEMA_NONE explicitly. */
	struct rbd_event ev = {
		.type = types[req->cmd],
		.version = *req->version ? req->version : NULL,
		.actor = peer->text,
		.meta = req->meta,
		.schema = req->has_schema ? req->schema : RBD_SCHEMA_NONE,
		.migration = req->has_schema ? req->migration :
		    RBD_MIGRATION_NONE,
		.text = *req->reason ? req->reason : NULL,
		.duration = req->for_usec,
	};
	char err[ERRBUF_MAX];
	json_t *reply;
	uint64_t now;
	int r;

	if (!s)
		return;
	log_request(s, req, peer);
	now = rbd_now_mono();
	r = svc_event(s, &ev, now, err, sizeof(err));
	if (r < 0) {
		fail_event(c, r, err);
		return;
	}
	reply = state_json(s);
	/* pause and resume change no state: the reply says what they did. */
	if (reply && (req->cmd == RBD_CMD_PAUSE || req->cmd == RBD_CMD_RESUME))
		json_object_set_new(reply, "paused", svc_pause_json(s, now));
	if ((req->cmd != RBD_CMD_DEPLOYED && req->cmd != RBD_CMD_DRILL) ||
	    !req->wait) {
		reply_close(c, reply);
		return;
	}
	/* --wait: the first line says the watch began; transitions and the
	 * verdict follow as they happen (service.c). A drill's verdict is
	 * told to the waiters of its L, the release it returns to. */
	json_object_set_new(reply, "waiting", json_true());
	rbd_conn_reply(c, reply);
	json_decref(reply);
	if (svc_add_waiter(s, c, req->cmd == RBD_CMD_DRILL ? s->w->drill_l :
	    req->version) < 0)
		rbd_conn_fail(c, "internal", "out of memory");
}

/* Whether the probe engine keeps its schedule: the "schedule" object of
 * status (rollbackd(8); benchmarks read it too, so names stay). */
static json_t *schedule_json(const struct rbd_prober_stats *st)
{
	return json_pack("{s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, "
	    "s:I, s:{s:I, s:I, s:I}}",
	    "checks", (json_int_t)st->probes,
	    "intended_per_second", st->intended_per_sec,
	    "samples", (json_int_t)st->samples,
	    "late", (json_int_t)st->late,
	    "skipped", (json_int_t)st->skipped,
	    "missed", (json_int_t)st->missed,
	    "lateness_p50_usec", (json_int_t)st->lateness.p50,
	    "lateness_p99_usec", (json_int_t)st->lateness.p99,
	    "lateness_max_usec", (json_int_t)st->lateness.max,
	    "overloaded", st->overloaded,
	    "connects", (json_int_t)st->connects,
	    "last_10s", "late", (json_int_t)st->recent_late,
	    "skipped", (json_int_t)st->recent_skipped,
	    "missed", (json_int_t)st->recent_missed);
}

/* The most bytes the status of s can take: the reply grows with the
 * checks configured, and so does the connection's cap (issue 7: one
 * service with 10,000 checks is a few MiB). */
static size_t status_bound(const struct rbd_svc *s)
{
	const struct rbd_policy *p = s->policy;
	size_t n = STATUS_SVC_BOUND;

	for (size_t i = 0; i < p->n_checks; i++)
		n += STATUS_CHECK_BOUND(p->checks[i].name);
	for (size_t i = 0; i < s->n_guards; i++)
		n += STATUS_CHECK_BOUND(p->guards[i].name);
	return n;
}

/* Whether the store can be written: the "store" object of status
 * (rollbackd(8)). */
static json_t *store_json(struct rbd_store *store)
{
	char err[512] = "";
	uint64_t since = 0, failures = 0;
	int r = rbd_store_write_error(store, &since, &failures, err, sizeof(err));

	return json_pack("{s:b, s:s?, s:o, s:I}", "writable", r == 0,
	    "error", r < 0 ? err : NULL,
	    "failing_since", r < 0 ? json_integer((json_int_t)since) : json_null(),
	    "failed_writes", (json_int_t)failures);
}

/* status [SERVICE] */
static void do_status(struct rbd_daemon *d, struct rbd_conn *c,
    const struct rbd_request *req)
{
	uint64_t mono = rbd_now_mono(), wall = rbd_now_wall();
	json_t *list = json_array();
	struct rbd_prober_stats st;
	struct rbd_svc *one = NULL;
	size_t bound = STATUS_HEAD_BOUND;

	if (*req->service && !(one = want_service(d, c, req))) {
		json_decref(list);
		return;
	}
	for (size_t i = 0; list && i < d->n_svcs; i++)
		if (!one || d->svcs[i] == one) {
			json_array_append_new(list, svc_status_json(d->svcs[i], mono, wall));
			bound += status_bound(d->svcs[i]);
		}
	rbd_conn_set_output_max(c, bound);
	rbd_prober_stats(d->prober, &st);
	reply_close(c, json_pack("{s:b, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:o, s:o}",
	    "ok", 1, "services", list, "probes",
	    "checks", (json_int_t)st.probes, "in_flight", (json_int_t)st.in_flight,
	    "samples", (json_int_t)st.samples, "skipped", (json_int_t)st.skipped,
	    "late", (json_int_t)st.late, "schedule", schedule_json(&st),
	    "store", store_json(d->store)));
}

/* One history row as JSON. */
static json_t *history_json(const struct rbd_history_entry *e)
{
	return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s}",
	    "id", (json_int_t)e->id, "at", (json_int_t)e->at_wall,
	    "event", e->event, "from", rbd_state_str(e->from),
	    "to", rbd_state_str(e->to),
	    "release", *e->release ? e->release : NULL,
	    "target", *e->target ? e->target : NULL,
	    "actor", *e->actor ? e->actor : NULL, "reason", e->reason);
}

/* history SERVICE [limit] */
static void do_history(struct rbd_daemon *d, struct rbd_conn *c,
    const struct rbd_request *req)
{
	struct rbd_history_entry *rows = NULL;
	char err[ERRBUF_MAX];
	size_t n = 0;
	json_t *list;

	if (!want_service(d, c, req))
		return;
	if (rbd_store_history(d->store, req->service, req->limit, &rows, &n,
	    err, sizeof(err)) < 0) {
		rbd_log(LOG_ERR, "history: %s", err);
		rbd_conn_fail(c, "internal", "%s", err);
		return;
	}
	list = json_array();
	rbd_conn_set_output_max(c, STATUS_HEAD_BOUND + n * HISTORY_ROW_BOUND);
	for (size_t i = 0; list && i < n; i++)
		json_array_append_new(list, history_json(&rows[i]));
	free(rows);
	reply_close(c, json_pack("{s:b, s:s, s:o}", "ok", 1,
	    "service", req->service, "events", list));
}

/* reload: answered once the new configuration is accepted or rejected. */
static void do_reload(struct rbd_daemon *d, struct rbd_conn *c,
    const struct rbd_peer *peer)
{
	struct rbd_diag diag = { 0 };
	json_t *errors;

	rbd_log(LOG_NOTICE, "reload requested by %s", peer->text);
	if (daemon_reload(d, &diag) == 0) {
		reply_close(c, json_pack("{s:b, s:s+}", "ok", 1, "message",
		    "configuration reloaded: ", d->config->file));
		rbd_diag_free(&diag);
		return;
	}
	errors = json_array();
	for (size_t i = 0; errors && i < diag.n; i++)
		json_array_append_new(errors, json_string(diag.msgs[i]));
	reply_close(c, json_pack("{s:b, s:s, s:s+, s:o}", "ok", 0,
	    "error", "rejected", "message", d->config_path,
	    ": the new configuration has errors; the old one keeps running",
	    "errors", errors));
	rbd_diag_free(&diag);
}

/* A prune in the worker thread, and the client waiting for it (NULL
 * once it has gone). */
struct prune_wait {
	struct rbd_conn *conn;
	char service[RBD_SERVICE_MAX + 1];
};

/* The client went away before the prune ended. */
static void prune_client_gone(void *arg)
{
	struct prune_wait *pw = arg;

	pw->conn = NULL;
}

/* The prune is over: log what went, answer the client if it is still
 * there. */
static void on_pruned(void *arg, const struct rbd_prune_result *r)
{
	struct prune_wait *pw = arg;
	json_t *removed = json_array(), *kept = json_array(), *failed = json_array();

	for (size_t i = 0; i < r->n_items; i++) {
		const struct rbd_prune_item *it = &r->items[i];

		if (it->why != RBD_PRUNE_REMOVE) {
			json_array_append_new(kept, json_pack("{s:s, s:s}", "name",
			    it->name, "why", rbd_prune_why_str(it->why)));
		} else if (it->error) {
			rbd_log(LOG_ERR, "%s: prune: cannot remove %s/%s: %s",
			    pw->service, r->releases, it->name, strerror(it->error));
			json_array_append_new(failed, json_pack("{s:s, s:s}", "name",
			    it->name, "error", strerror(it->error)));
		} else {
			rbd_log(LOG_NOTICE, "%s: prune: removed %s/%s", pw->service,
			    r->releases, it->name);
			json_array_append_new(removed, json_pack("{s:s}", "name",
			    it->name));
		}
	}
	if (pw->conn) {
		rbd_conn_on_close(pw->conn, NULL, NULL);
		reply_close(pw->conn, json_pack("{s:b, s:s, s:s, s:o, s:o, s:o}",
		    "ok", 1, "service", pw->service,
		    "releases", r->releases, "removed", removed, "kept", kept,
		    "failed", failed));
	} else {
		json_decref(removed);
		json_decref(kept);
		json_decref(failed);
	}
	free(pw);
}

/* prune SERVICE [keep]: old release directories, never one that a
 * deploy or a rollback may need (lib/reldir.h), removed in a thread. */
static void do_prune(struct rbd_daemon *d, struct rbd_conn *c,
    const struct rbd_request *req, const struct rbd_peer *peer)
{
	struct rbd_svc *s = want_service(d, c, req);
	char current[RBD_VERSION_MAX + 1] = "", err[ERRBUF_MAX];
	const char *good[RBD_WATCH_GOOD_MAX];
	struct rbd_prune_protect prot = { 0 };
	const struct rbd_policy *p;
	struct prune_wait *pw;
	int64_t schema;
	int i;

	if (!s)
		return;
	p = s->policy;
	if (!p->deploy_releases) {
		rbd_conn_fail(c, "refused", "%s deploys with a command, not a "
		    "release directory (deploy.releases): nothing to prune",
		    s->name);
		return;
	}
	if (s->deploying) {
		rbd_conn_fail(c, "refused", "%s: a deploy is running; prune "
		    "when it is done", s->name);
		return;
	}
	rbd_log(LOG_INFO, "%s: prune keeping %u requested by %s", s->name,
	    req->keep, peer->text);
	if (rbd_deploy_dir_current(p->deploy_releases, p->deploy_current,
	    current) < 0)
		current[0] = '\0';
	for (size_t k = 0; k < s->w->n_good; k++)
		good[k] = s->w->good[k];
	i = rbd_watch_choose_target(s->w, p, &schema, NULL, 0);
	prot = (struct rbd_prune_protect){
		.current = current, .live = s->w->live,
		.target = i >= 0 ? s->w->good[i] : rbd_watch_rollback_target(s->w),
		.rolling_to = s->w->target, .good = good, .n_good = s->w->n_good,
	};
	pw = calloc(1, sizeof(*pw));
	if (!pw) {
		rbd_conn_fail(c, "internal", "out of memory");
		return;
	}
	pw->conn = c;
	snprintf(pw->service, sizeof(pw->service), "%s", s->name);
	rbd_conn_on_close(c, prune_client_gone, pw);
	if (rbd_prune_start(d->base, p->deploy_releases, req->keep, &prot,
	    on_pruned, pw, err, sizeof(err)) < 0) {
		rbd_conn_on_close(c, NULL, NULL);
		free(pw);
		rbd_log(LOG_ERR, "%s: prune: %s", s->name, err);
		rbd_conn_fail(c, "internal", "%s", err);
	}
}

/* What a verb does to the daemon, for authorisation (rollbackd(8)):
 * reading needs the read group or more, changing the deploy group or
 * root. */
enum verb_access {
	VERB_CHANGE,	/* 0: a verb missing from the table changes state */
	VERB_READ,
};

/* Every verb declares itself here. One that is not listed (a verb added
 * without a line) counts as VERB_CHANGE: refused to readers, never let
 * through by mistake. */
static const enum verb_access verb_access[_RBD_CMD_MAX] = {
	[RBD_CMD_STATUS] = VERB_READ,
	[RBD_CMD_HISTORY] = VERB_READ,
	[RBD_CMD_DEPLOYED] = VERB_CHANGE,
	[RBD_CMD_MARK_GOOD] = VERB_CHANGE,
	[RBD_CMD_MARK_BAD] = VERB_CHANGE,
	[RBD_CMD_ROLLBACK] = VERB_CHANGE,
	[RBD_CMD_RELOAD] = VERB_CHANGE,
	[RBD_CMD_PAUSE] = VERB_CHANGE,
	[RBD_CMD_RESUME] = VERB_CHANGE,
	[RBD_CMD_DRILL] = VERB_CHANGE,
	[RBD_CMD_DRILL_ABORT] = VERB_CHANGE,
	[RBD_CMD_PRUNE] = VERB_CHANGE,
};

/* Whether peer may run cmd under a. */
static bool allowed(const struct rbd_access *a, const struct rbd_peer *peer,
    enum rbd_cmd cmd)
{
	if (!a->on || rbd_peer_privileged(peer))
		return true;
	if (a->has_deploy && rbd_peer_in_group(peer, a->deploy_gid))
		return true;
	return verb_access[cmd] == VERB_READ && a->has_read &&
	    rbd_peer_in_group(peer, a->read_gid);
}

/* Refuse cmd to peer: "permission denied: uid 1000 (alice) is not in
 * deploy group rollbackd-deploy; rollback needs it", to the client and
 * the log. */
static void deny(struct rbd_conn *c, const struct rbd_access *a,
    const struct rbd_request *req, const struct rbd_peer *peer)
{
	/* Only now, for a refusal, the user's name: a local lookup. */
	const struct passwd *pw = getpwuid(peer->uid);
	const char *cmd = rbd_cmd_str(req->cmd);
	char who[128], why[256];

	snprintf(who, sizeof(who), "uid %u%s%s%s", (unsigned)peer->uid,
	    pw ? " (" : "", pw ? pw->pw_name : "", pw ? ")" : "");
	if (verb_access[req->cmd] == VERB_READ && a->has_read && a->has_deploy)
		snprintf(why, sizeof(why), "is not in read group %s or deploy "
		    "group %s; %s needs one of them", a->read_name,
		    a->deploy_name, cmd);
	else if (verb_access[req->cmd] == VERB_READ && a->has_read)
		snprintf(why, sizeof(why), "is not in read group %s; %s needs it",
		    a->read_name, cmd);
	else if (a->has_deploy)
		snprintf(why, sizeof(why), "is not in deploy group %s; %s needs it",
		    a->deploy_name, cmd);
	else
		snprintf(why, sizeof(why), "is not root and no deploy_group is "
		    "configured; %s needs one", cmd);
	rbd_log(LOG_WARNING, "denied %s%s%s to pid %d: %s %s", cmd,
	    *req->service ? " " : "", req->service, (int)peer->pid, who, why);
	rbd_conn_fail(c, "denied", "permission denied: %s %s", who, why);
}

void daemon_on_request(void *arg, struct rbd_conn *c,
    const struct rbd_request *req, const struct rbd_peer *peer)
{
	struct rbd_daemon *d = arg;
	const struct rbd_access *a = rbd_control_access(d->control);

	if (!allowed(a, peer, req->cmd)) {
		deny(c, a, req, peer);
		return;
	}
	if (d->stopping) {
		rbd_conn_fail(c, "refused", "rollbackd is shutting down");
		return;
	}
	switch (req->cmd) {
	case RBD_CMD_STATUS:
		do_status(d, c, req);
		break;
	case RBD_CMD_HISTORY:
		do_history(d, c, req);
		break;
	case RBD_CMD_RELOAD:
		do_reload(d, c, peer);
		break;
	case RBD_CMD_PRUNE:
		do_prune(d, c, req, peer);
		break;
	default:
		do_event(d, c, req, peer);
		break;
	}
}
