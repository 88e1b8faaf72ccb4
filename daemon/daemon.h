/* The daemon's shared state, and the services it watches.
 *
 * One event_base runs everything. Each service (struct rbd_svc) owns its
 * watch state (lib/watch.h), its timer, its probes, the deploy command in
 * flight and the clients waiting for a verdict. svc_event() is the one path
 * from an event to its effects: the engine decides, the store records the
 * decision, and only then are the actions carried out (write-ahead). */
#ifndef RBD_DAEMON_H
#define RBD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "judge.h"
#include "policy.h"
#include "unitcheck.h"
#include "watch.h"

struct event;
struct event_base;
struct json_t;
struct rbd_bus;
struct rbd_conn;
struct rbd_deploy_dir;
struct rbd_control;
struct rbd_job;
struct rbd_probe;
struct rbd_prober;
struct rbd_remedy_http_client;
struct rbd_remedy_job;
struct rbd_runner;
struct rbd_store;
struct rbd_unit_reader;
struct rbd_svc;

struct rbd_daemon {
	struct event_base *base;
	char *config_path;
	struct rbd_config *config;
	struct rbd_store *store;
	struct rbd_prober *prober;
	struct rbd_runner *runner;
	struct rbd_control *control;
	struct rbd_bus *bus;		/* the system bus, or NULL (see bus.h) */
	struct rbd_svc **svcs;		/* sorted by name, one per policy */
	size_t n_svcs;
	struct event *heartbeat;	/* armed only while a window runs */
	bool stopping;			/* SIGTERM: no new work */
	/* Remedies */
	struct rbd_remedy_http_client *remedy_http;	/* HTTP remedies */
};

/* One check (or guard) of a service: its probe, what metric checks
 * remember between samples, and the last sample for status. */
struct rbd_check_state {
	struct rbd_svc *svc;
	size_t index;			/* into policy->checks, or ->guards */
	bool guard;
	struct rbd_probe *probe;	/* NULL when not probing (HTTP and metric checks) */
	struct rbd_unit_reader *unit;	/* unit checks: NULL when not probing */
	struct rbd_unit_base unit_base;	/* unit checks: restarts when probing began */
	struct rbd_metric_state *metric;	/* scrape checks: previous page */
	struct rbd_window values;	/* metric checks: (time, value), for baselines */
	enum rbd_sample_result last;
	bool has_last;
	bool has_value;
	double value;			/* metric checks: the last value */
	char detail[RBD_DETAIL_MAX];
};

struct rbd_waiter {
	struct rbd_conn *conn;
	char version[RBD_VERSION_MAX + 1];
	struct rbd_svc *svc;
	struct rbd_waiter *next;
};

struct rbd_svc {
	struct rbd_daemon *d;
	/* A copy: an orphan outlives the configuration its policy was in. */
	char name[RBD_SERVICE_MAX + 1];
	const struct rbd_policy *policy;	/* owned by d->config; not for orphans */
	size_t n_checks;			/* entries in checks[] */
	struct rbd_watch *w;
	struct event *timer;
	struct rbd_check_state *checks;		/* policy->n_checks */
	struct rbd_check_state *guards;		/* policy->n_guards, probed always */
	size_t n_guards;			/* entries in guards[] */
	struct event *pause_timer;		/* ends a pause with a duration */
	struct rbd_job *job;			/* deploy command running, or NULL */
	struct rbd_deploy_dir *dir_job;		/* release-directory deploy, or NULL */
	bool deploying;				/* a deploy is running or reporting */
	const char *command;			/* what runs: "deploy command" or
						 * "migrate_down command" */
	struct rbd_waiter *waiters;
	bool broken;				/* its state could not be recorded */
	struct event *retry_timer;		/* a decision could not be recorded:
						 * try the store again (service.c) */
	uint64_t retry_usec;			/* the backoff; 0 when not retrying */
	bool orphan;				/* policy removed; freed when the deploy ends */
	uint64_t baseline_end;			/* monotonic: the last deploy from idle */
	/* Remedies */
	struct rbd_remedy_job *remedy_job;	/* its action in flight, or NULL */
	/* Drill: the policy's schedule: a timer for the next window in
	 * which a drill is due, and after a scheduled drill was refused
	 * (the service was busy), no new try before this wall time. */
	struct event *drill_timer;
	uint64_t drill_not_before;
};

/* Monotonic time for the engine, usec. See daemon.c for the offset. */
uint64_t rbd_now_mono(void);
/* The engine's time for a CLOCK_MONOTONIC reading in usec (a probe's
 * start time). */
uint64_t rbd_mono_from_clock(uint64_t clock_monotonic_usec);
/* Wall-clock time, usec since the epoch, for records. */
uint64_t rbd_now_wall(void);

/* A service for policy, with its state loaded from the store and resumed
 * (an interrupted rollback is run again). Returns 0 or a negative errno,
 * logged. */
int svc_new(struct rbd_daemon *d, const struct rbd_policy *policy,
    struct rbd_svc **ret);
/* Stop probes and timers, drop waiters; free unless a deploy is running,
 * in which case it becomes an orphan freed when the deploy ends. */
void svc_retire(struct rbd_svc *s);
/* Shutdown: stop probes and the timer, close waiters; the state stays as
 * recorded so the next start resumes it. */
void svc_quiesce(struct rbd_svc *s);
/* Free now (shutdown: the runner has been stopped). */
void svc_free(struct rbd_svc *s);

/* Feed one event through the engine, record it, carry out the actions.
 * Returns 0, or a negative errno with a reason for the requester in errbuf
 * (a refusal by the engine, or a store failure). */
int svc_event(struct rbd_svc *s, const struct rbd_event *ev, uint64_t now,
    char *errbuf, size_t errlen);

/* A judged sample of check cs, taken at taken_mono: feed it to the engine
 * and to status. */
void svc_sample(struct rbd_svc *s, struct rbd_check_state *cs,
    enum rbd_sample_result result, const char *detail, uint64_t taken_mono);

/* The policy's check (or guard) that cs probes. */
const struct rbd_check *check_of(const struct rbd_check_state *cs);

/* Probing one check, by its type (checks.c). */
int check_start(struct rbd_svc *s, struct rbd_check_state *cs);
void check_stop(struct rbd_check_state *cs);
/* Free what check_start and the samples left in cs. */
void check_state_clear(struct rbd_check_state *cs);
/* Whether the check is probed in every state, not only during a window:
 * a baseline needs samples from before the deploy. */
bool check_always_probed(const struct rbd_check *chk);

/* After a reload kept this service: adopt its new policy. */
int svc_set_policy(struct rbd_svc *s, const struct rbd_policy *policy);

/* Stream progress of s to conn until the verdict on version, then close
 * conn. */
int svc_add_waiter(struct rbd_svc *s, struct rbd_conn *conn,
    const char *version);

/* The service's status as a JSON object (new reference), or NULL. */
struct json_t *svc_status_json(const struct rbd_svc *s, uint64_t now_mono,
    uint64_t now_wall);

/* The service's pause as status shows it ({"by", "reason", "until"}), or
 * JSON null when it is not paused at now_mono. A new reference. */
struct json_t *svc_pause_json(const struct rbd_svc *s, uint64_t now_mono);

/* Drill: the drill part of a service's status, and of a drill's verdict:
 * {"phase", "live", "target", "aborting", "failure", "steps": [the
 * report's two legs], "last": {"result", "at", "reason"} or null,
 * "last_passed": wall usec or null, "schedule": see
 * svc_drill_schedule_json}. A new reference (JSON null when out of
 * memory). */
struct json_t *svc_drill_json(const struct rbd_svc *s, uint64_t now_mono,
    uint64_t now_wall);
/* Drill: the policy's drill schedule as status shows it, or JSON null
 * without one. A new reference. */
struct json_t *svc_drill_schedule_json(const struct rbd_svc *s,
    uint64_t now_mono, uint64_t now_wall);

/* The service of that name, or NULL. */
struct rbd_svc *daemon_find(const struct rbd_daemon *d, const char *name);

/* Control requests (requests.c). */
struct rbd_request;
struct rbd_peer;
void daemon_on_request(void *arg, struct rbd_conn *c,
    const struct rbd_request *req, const struct rbd_peer *peer);

/* After a transition, a resume or a reload: run the heartbeat while any
 * service is watching or verifying (the store must hear that the daemon
 * is alive and watching), and stop it otherwise, so that an idle daemon
 * does not wake up for it (rollbackd.c). */
void daemon_heartbeat_update(struct rbd_daemon *d);

/* Reload the configuration: returns 0, or a negative errno with every
 * error in diag; the old configuration keeps running on failure. */
struct rbd_diag;
int daemon_reload(struct rbd_daemon *d, struct rbd_diag *diag);

#endif
