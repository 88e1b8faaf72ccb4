/* Control requests: what rollbackctl asks, answered from the services and
 * the store. The protocol is documented in rollbackd(8). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "daemon.h"
#include "duration.h"
#include "log.h"
#include "probe_http.h"
#include "proto.h"
#include "store.h"

#define ERRBUF_MAX 512

/* Reply obj (stolen) and close. */
static void reply_close(struct rbd_conn *c, json_t *obj)
{
	if (!obj) {
		rbd_conn_fail(c, "internal", "out of memory");
		return;
	}
	rbd_conn_reply(c, obj);
	json_decref(obj);
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
	if (req->cmd != RBD_CMD_DEPLOYED || !req->wait) {
		reply_close(c, reply);
		return;
	}
	/* --wait: the first line says the watch began; transitions and the
	 * verdict follow as they happen (service.c). */
	json_object_set_new(reply, "waiting", json_true());
	rbd_conn_reply(c, reply);
	json_decref(reply);
	if (svc_add_waiter(s, c, req->version) < 0)
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

	if (*req->service && !(one = want_service(d, c, req))) {
		json_decref(list);
		return;
	}
	for (size_t i = 0; list && i < d->n_svcs; i++)
		if (!one || d->svcs[i] == one)
			json_array_append_new(list, svc_status_json(d->svcs[i], mono, wall));
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

void daemon_on_request(void *arg, struct rbd_conn *c,
    const struct rbd_request *req, const struct rbd_peer *peer)
{
	struct rbd_daemon *d = arg;

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
	default:
		do_event(d, c, req, peer);
		break;
	}
}
