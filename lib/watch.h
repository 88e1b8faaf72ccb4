/* The per-service watch engine: the state machine of DESIGN.md section 3 as
 * a pure function.
 *
 *   rbd_watch_step(watch, policy, event, now) -> new watch state + a step
 *
 * It knows no clock, socket, file or process: the shell passes the current
 * time in (monotonic usec) and carries out the step it gets back. A step has
 * two parts, and the order matters:
 *
 *   1. the record: what to write to the store (an event with its reason,
 *      release status changes, the new state). The shell commits it
 *      *before* anything else (write-ahead), so a crash after the commit
 *      resumes from it (rbd_watch_resume) and a crash before it never
 *      happened.
 *   2. the actions, in order: start/stop probing, run a deploy command, arm
 *      the service's one timer, notify whoever waits for a verdict.
 *
 * States:  idle(K) -> watching(R) -> idle(R)                   promoted
 *                     watching(R) -> rolling_back(R->K)        degraded
 *          rolling_back -> verifying(K) -> idle(K)             restored
 *          rolling_back -> held, verifying -> held             failed
 *          watching(R) -> remedying(R) -> watching(R)          remedied
 *          remedying(R) -> rolling_back(R->K) or held          not remedied

 *          idle(L) -> drilling(L->K->L) -> idle(L) | held      a drill
 *
 * Time rules (all intervals half-open):
 *   - a window starts at the state's entry time S;
 *   - a sample taken at t with t < S + warmup is recorded, not judged;
 *     a sample at exactly S + warmup is judged;
 *   - a window is clean when now >= S + duration (verify for verifying);
 *     a sample at exactly S + duration is too late to count: the window
 *     has passed, so the release is promoted first and the sample is
 *     not judged.
 *
 * Samples (judged ones only, per check i of the policy):
 *   - OK resets fails[i] and unknowns[i] and counts in window_ok[i];
 *   - FAIL counts in fails[i] and resets unknowns[i]; fail_after in a row
 *     degrade the release (a rollback, or held without a target);
 *   - UNKNOWN (no data: see sample.h) depends on the check's no_data:
 *     fail       judged exactly as FAIL, its detail prefixed "no data: ";
 *     ignore     nothing at all;
 *     inconclusive (the default, and what a value out of range means)
 *                counts in unknowns[i] (fails[i] is left alone) and is
 *                remembered for the window; inconclusive_after in a row
 *                (0 means RBD_WATCH_INCONCLUSIVE_AFTER) put the service
 *                in held, event "inconclusive", from watching and from
 *                verifying alike: never a rollback, and the release is
 *                not marked bad (nothing says it is bad), a person
 *                decides.
 *   - a window never passes silently on no data: when it ends, a check
 *     with no_data inconclusive that had at least one judged UNKNOWN
 *     sample and no judged OK sample in the whole window puts the
 *     service in held (event "inconclusive") instead of promoting the
 *     release (or verifying the rollback). A window with no judged
 *     samples at all passes as before: the engine cannot tell probes
 *     that never ran from a shell that does not sample, so that is the
 *     shell's to report.
 * Entering watching or verifying zeroes every per-check counter.
 *
 * Before an automatic rollback (a degraded watch, including the watched
 * release marked bad by an operator, which rolls back on its own; not an
 * operator's ROLLBACK, and never in verifying, which holds as above), in
 * this order:
 *   1. guards: when any guard is failing (fail_after failing guard
 *      samples in a row; an unknown guard sample changes nothing), the
 *      deploy is probably not the cause: held, event "guarded", the
 *      release is not marked bad: "guard postgres failing since 10:42:07
 *      UTC (connection refused); not rolling back checkout v2.4.2
 *      (healthz: HTTP 500 for 3 consecutive samples (fail_after 3))".
 *      The time is the wall clock of the guard's first failing sample of
 *      its current run (ev->wall), printed in UTC, with the date in front
 *      ("2024-04-30 23:42:07 UTC") when it is not the day of the event
 *      that degraded; without a wall time "since ..." is left out. The
 *      first failing guard in policy order is named.
 *   2. the loop breaker: automatic rollbacks are remembered with their
 *      time (auto_times, which a restart keeps); when max_automatic of
 *      them fall within the last automatic_per (now - t < per; a time
 *      after now, from a clock that went back, counts too), held,
 *      event "loop-breaker", the release marked bad: "3 automatic
 *      rollbacks of checkout in the last 1h (rollback.max_automatic 3);
 *      not rolling back v2.4.2 (healthz: ...): a person must decide".
 *      max_automatic 0: "automatic rollbacks are off for checkout
 *      (rollback.max_automatic 0); not rolling back ...". A max_automatic
 *      above RBD_WATCH_AUTO_MAX counts as RBD_WATCH_AUTO_MAX.
 *   2a. remedies (policy->remedies, in order), unless an operator marked
 *      the release bad (a person judged it: straight on to 3), or dry-run
 *      or a pause is in force (then 4 names them: "dry-run: would have
 *      tried remedies flag-off, restart, then rolled back ..."): the next
 *      remedy is tried instead of a rollback, state remedying, event
 *      "remedying" ("healthz: ...; trying remedy flag-off (1 of 2) before
 *      a rollback of checkout v2.4.2"), RBD_ACT_RUN_REMEDY with a new
 *      deploy_id. The release is not marked bad and its waiter keeps
 *      waiting. A remedy counts in auto_times like a rollback. Rules 1
 *      and 2 apply again before every remedy after the first and before
 *      the rollback after the last, and the reason then says how the
 *      last remedy went: "healthz: ...; remedy flag-off (1 of 2) failed:
 *      exited with status 1" or "... did not fix it: healthz: ...".
 *      Remedying, in detail:
 *        - while the remedy's action runs, samples are not judged and no
 *          timer is armed (the action's timeout is the shell's);
 *          REMEDY_DONE with the current deploy_id ends it (any other is
 *          stale): a failure (non-zero exit, HTTP non-2xx, timeout) moves
 *          on to the next remedy at once; success starts the settle
 *          period (the remedy's settle) at that time, every check's
 *          counters at zero, event "remedy-ran", the timer armed for its
 *          end;
 *        - in the settle period samples are judged as in a window (no
 *          warm-up): a completed fail_after run means the remedy did not
 *          fix it: the next one at once; inconclusive_after unknown
 *          samples hold, as in watching; a sample at or after the end is
 *          too late and the period is judged first;
 *        - at the end of the settle period the release has recovered
 *          when every check had at least one judged OK sample in it and
 *          its latest judged sample was OK (no failing or unknown run
 *          open): event "remedied" ("remedy flag-off (1 of 2) fixed
 *          checkout v2.4.2: every check recovered within its settle
 *          period (30s) after healthz: ...; watching v2.4.2 for the rest
 *          of its window"), back to watching R with the window it had
 *          (since is the watch's start again, so the window's end is
 *          where it was, and a window already past promotes R at the
 *          timer that follows at once, per the normal rules); the settle
 *          period's tallies count in that window. Otherwise the next
 *          remedy ("did not fix it: healthz had no healthy sample during
 *          the settle period");
 *        - after the last remedy, rules 3 to 5 as without remedies: the
 *          release marked bad, the rollback (or held);
 *        - an operator's ROLLBACK, MARK_BAD of R (straight to 3) and
 *          MARK_GOOD of R (promoted) act as in watching; a DEPLOYED
 *          supersedes R as in watching; a PAUSE lets the remedy under way
 *          finish, and the next one does not run (rule 4);
 *        - a remedy a reload took away (its index past the policy's
 *          remedies) counts as failed ("it is no longer in the policy").
 *      After a restart (rbd_watch_resume) the remedy is run again from
 *      its action, with a fresh deploy_id, and its settle period starts
 *      afresh: remedies must be idempotent, like deploy commands
 *      ("turn flag X off"). Whether it was settling is not stored.
 *   3. the target (rbd_watch_choose_target): the newest known-good
 *      release, not live and not bad, that runs against the database's
 *      schema as the bad release left it (see there); a down-migration
 *      first when it needs one. None: held, event "degraded", the release
 *      marked bad, with the reason the candidates were refused ("healthz:
 *      ...; v2.5.0 migrated the schema irreversibly from 42 to 43; v2.4.1,
 *      the last known-good release, expects schema 42: not rolling back
 *      automatically, a person must decide"), or, with no known-good
 *      release at all, "healthz: ...; no known-good release to roll back
 *      to (rollbackctl mark-good seeds one)" as before.
 *   4. mode dry-run, or a pause in force: nothing runs; held, event
 *      "would-roll-back", the release marked bad (the judgement stands),
 *      notify "held": "dry-run: would have rolled back checkout from
 *      v2.4.2 to v2.4.1 (healthz: ...); nothing was run (mode: dry-run)",
 *      or "paused: would have rolled back ...; nothing was run (paused by
 *      uid 0 pid 7 until 10:52:07 UTC: db maintenance)" ("until resumed",
 *      or "for 8m more" without a wall time). With a down-migration:
 *      "would have migrated the schema down from 43 to 42, then rolled
 *      back ...". Dry-run wins when both apply. A would-be rollback counts
 *      for the loop breaker like a real one, so dry-run shows when the
 *      breaker would stop a real one.
 *   5. the rollback: recorded in auto_times; with a down-migration, state
 *      rolling_back with migrating set and RBD_ACT_RUN_MIGRATION first
 *      ("healthz: ...; migrating the schema down from 43 to 42, then
 *      rolling back from v2.5.0 to v2.4.1"); its DEPLOY_DONE OK records
 *      "migrated-down", sets w->schema to the migration's to_schema at
 *      once (the database is there now, whatever the code's deploy does)
 *      and starts the code's RBD_ACT_RUN_DEPLOY (same state, a new
 *      deploy_id, so the migration's id is stale from then on); a failure
 *      holds ("migration-failed"), the code is not rolled back.
 *
 * Schema: a DEPLOYED event may carry the schema version the release runs
 * against and how its migration went (ev->schema, ev->migration). The
 * watch keeps the database's schema as the live release left it
 * (w->schema), the one before (w->schema_before) and how the live release
 * moved it (w->migration), and each known-good release's schema
 * (good_schema[], RBD_SCHEMA_NONE when unknown). A rollback that succeeds
 * sets w->schema to what its target runs against (the migration's
 * to_schema, or the target's own when known; else it stays as it was),
 * w->schema_before to the same and w->migration none. A release pushed to
 * good[] records its schema in good_schema[]: the database's when it is
 * live (promoted, or marked good) and that is known, else what good_schema
 * already knew of it (a mark-good of a release not live: RBD_SCHEMA_NONE
 * unless it was known-good before). DEPLOYED refuses (-EINVAL) a schema
 * outside 0..RBD_SCHEMA_MAX other than RBD_SCHEMA_NONE, a migration out
 * of range, and a migration other than none without a schema.
 *
 * Pause: PAUSE (actor, text: the reason, duration: 0 for "until resumed")
 * pauses the service: judgement and records go on, automatic actions do
 * not run (rule 4 above). A pause is recorded (event "paused") and
 * changes no state; a PAUSE while paused replaces the pause ("pause
 * extended by ..." when it now lasts longer, else "pause changed by
 * ..."). A reason longer than RBD_PAUSE_REASON_MAX bytes or with a control
 * character is refused (-EINVAL). RESUME by an operator (any non-NULL
 * actor) ends it ("resumed"), and is refused with -EALREADY "checkout is
 * not paused" when rbd_watch_paused is false; RESUME with no actor is the
 * shell's pause timer, which ends the pause only when pause_until has
 * come (else it is stale and ignored, without a record). A pause whose
 * time has come is over whatever the timer does (rbd_watch_paused). The
 * engine arms no timer for a pause: the shell keeps its own, from
 * pause_until. A pause does not stop a rollback already under way (its
 * code deploy still follows a down-migration, and rbd_watch_resume still
 * re-runs it); a release held while paused stays held when it ends.
 *
 * An operator's ROLLBACK is a person's decision (also while remedying:
 * the remedy's result is then stale): guards, the loop breaker,
 * dry-run and pauses do not stop it, and it does not count for the loop
 * breaker. Without a version its target is rbd_watch_choose_target's
 * (refused, -ENOENT, with that function's reason, when there is none,
 * plus the way to insist when there are candidates: ": name a release to
 * roll back to it anyway (rollbackctl rollback checkout --to v2.4.1)");
 * with one, that release, after a down-migration when the rules of
 * rbd_watch_choose_target give it one, else as asked, with a reason that
 * says when its schema differs from the database's ("rollback to v2.4.1
 * requested by ...; v2.5.0 migrated the schema irreversibly from 42 to 43;
 * v2.4.1 expects schema 42: rolling back as asked, without migrate_down").
 *
 * Drills: DRILL (actor; NULL: the policy's schedule) practises the
 * rollback path. From idle(L), L known-good, not paused, no failing
 * guard, mode enforce, and K = rbd_watch_choose_target's target with no
 * down-migration, it enters state drilling (from = drill_l = L, target =
 * drill_k = K; refused otherwise, -EBUSY/-ENOENT/-EPERM/-EOPNOTSUPP with
 * the reason) and runs four phases, each entered at since:
 *   back            RUN_DEPLOY K from L, as a rollback runs it
 *                   ("drill-started"); its DEPLOY_DONE OK makes K live:
 *   verify-back     a window of the policy's verify ("drill-rolled-back"):
 *                   samples are judged as in verifying; passing it is
 *                   "drill-verified" and goes on to
 *   forward         RUN_DEPLOY L from K; its DEPLOY_DONE OK makes L live:
 *   verify-forward  a window of verify ("drill-rolled-forward"); passing
 *                   it ends the drill in idle(L), "drill-passed", NOTIFY L
 *                   drill_passed, the step's reason being the report.
 * K degraded or without data (the rules of verifying) or its deploy
 * failing ("drill-target-unhealthy", "drill-rollback-failed") sets
 * drill_failure and goes to forward at once; the drill then ends
 * "drill-failed" (NOTIFY drill_failed). K is not marked bad: a drill is
 * practice, a person decides. L's deploy failing or L degraded in
 * verify-forward: held, "drill-forward-failed", NOTIFY drill_failed.
 * Nothing a drill does counts for the loop breaker or marks a release.
 * DRILL_ABORT: in back, forward follows the deploy in flight; in
 * verify-back, forward at once; in forward, nothing more; in
 * verify-forward (or once reached) the drill ends "drill-aborted" as soon
 * as L is healthy. Each leg's timings (drill_legs) are measured on the
 * engine's clock: the deploy's duration, the time from its end until
 * every check's last judged sample was OK, and how long it was verified.
 * The last drill's result and wall time (ev->wall), and the last passed
 * one's, are kept for status and the schedule. While drilling, DEPLOYED,
 * ROLLBACK, another DRILL and MARK_GOOD/MARK_BAD of K or L are refused
 * (-EBUSY); a PAUSE does not stop a drill. rbd_watch_resume re-runs the
 * deploy of back or forward, or re-arms the verify window.
 *
 * Guard samples (GUARD_SAMPLE) are counted in every state and never make
 * a record of their own: OK zeroes the guard's run, FAIL extends it (the
 * first FAIL of a run sets guard_since_wall from ev->wall and every one
 * sets guard_detail), UNKNOWN changes nothing, except for a guard with
 * no_data fail, where it is a FAIL with "no data: " before its detail.
 * Entering a window does not reset guards; a restart
 * (rbd_watch_reset_counts) does.
 */
#ifndef RBD_WATCH_H
#define RBD_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "sample.h"
#include "version.h"

#define RBD_REASON_MAX		512
#define RBD_DETAIL_MAX		256
#define RBD_ACTOR_MAX		128
#define RBD_WATCH_GOOD_MAX	16	/* known-good releases kept, newest first */
#define RBD_WATCH_BAD_MAX	32	/* bad releases kept, newest first */
/* inconclusive_after when the check says 0 (not set). */
#define RBD_WATCH_INCONCLUSIVE_AFTER	5
/* Automatic rollback times kept for the loop breaker (max_automatic is
 * at most this). */
#define RBD_WATCH_AUTO_MAX	100
/* The longest reason a pause may carry (bytes; no control characters). */
#define RBD_PAUSE_REASON_MAX	255
/* No schema version: not announced, or not known. */
#define RBD_SCHEMA_NONE		INT64_C(-1)
/* The largest schema version a release may announce. */
#define RBD_SCHEMA_MAX		INT64_C(999999999999)

enum rbd_state {
	RBD_STATE_IDLE,
	RBD_STATE_WATCHING,
	RBD_STATE_ROLLING_BACK,
	RBD_STATE_VERIFYING,
	RBD_STATE_HELD,
	RBD_STATE_REMEDYING,	/* Remedies: trying one before a rollback */

	RBD_STATE_DRILLING,	/* a drill (see "Drills" above): drill_phase */
	_RBD_STATE_MAX,
};
const char *rbd_state_str(enum rbd_state s);		/* "idle", ... */
int rbd_state_from_str(const char *s, enum rbd_state *ret);

/* What the store keeps for each release. */
enum rbd_release_status {
	RBD_RELEASE_WATCHING,
	RBD_RELEASE_GOOD,
	RBD_RELEASE_BAD,
	RBD_RELEASE_SUPERSEDED,
	_RBD_RELEASE_STATUS_MAX,
};
const char *rbd_release_status_str(enum rbd_release_status s);
int rbd_release_status_from_str(const char *s, enum rbd_release_status *ret);

/* How the release announced with a DEPLOYED event changed the schema. */
enum rbd_migration {
	RBD_MIGRATION_NONE,		/* it did not, or nothing was said */
	RBD_MIGRATION_REVERSIBLE,	/* migrate_down can undo it */
	RBD_MIGRATION_IRREVERSIBLE,	/* nothing can: no rollback below it */
	_RBD_MIGRATION_MAX,
};
const char *rbd_migration_str(enum rbd_migration m);	/* "none", ... */
int rbd_migration_from_str(const char *s, enum rbd_migration *ret);

/* How a deploy command ended. */
enum rbd_deploy_result {
	RBD_DEPLOY_OK,
	RBD_DEPLOY_FAILED,	/* non-zero exit, killed by a signal, exec failed */
	RBD_DEPLOY_TIMED_OUT,
	_RBD_DEPLOY_RESULT_MAX,
};
const char *rbd_deploy_result_str(enum rbd_deploy_result r);

enum rbd_event_type {
	RBD_EV_DEPLOYED,	/* a deploy hook: version is live (actor, meta) */
	RBD_EV_SAMPLE,		/* check, result, detail */
	RBD_EV_TIMER,		/* the timer the engine armed has fired */
	RBD_EV_DEPLOY_DONE,	/* deploy_id, result, detail */
	RBD_EV_MARK_GOOD,	/* version (operator) */
	RBD_EV_MARK_BAD,	/* version (operator) */
	RBD_EV_ROLLBACK,	/* optional version: target (operator) */
	RBD_EV_GUARD_SAMPLE,	/* check (index into policy->guards), result, detail */
	RBD_EV_PAUSE,		/* actor, text (reason; may be NULL), duration */
	RBD_EV_RESUME,		/* actor; NULL: the pause timer */
	RBD_EV_REMEDY_DONE,	/* Remedies: deploy_id (the RUN_REMEDY's),
				 * deploy (its result), detail */

	RBD_EV_DRILL,		/* actor; NULL: the policy's drill schedule */
	RBD_EV_DRILL_ABORT,	/* actor */
	_RBD_EV_MAX,
};
const char *rbd_event_type_str(enum rbd_event_type t);

struct rbd_event {
	enum rbd_event_type type;
	const char *version;		/* DEPLOYED, MARK_*, ROLLBACK (NULL: auto) */
	const char *actor;		/* who asked: "uid 1000 pid 42"; may be NULL */
	const char *meta;		/* DEPLOYED: metadata, a JSON object as text; may be NULL */
	size_t check;			/* SAMPLE: index into policy->checks */
	enum rbd_sample_result sample;	/* SAMPLE */
	const char *detail;		/* SAMPLE: "HTTP 500"; DEPLOY_DONE: "exit status 2" */
	uint64_t deploy_id;		/* DEPLOY_DONE: the id from RBD_ACT_RUN_DEPLOY
					 * or RBD_ACT_RUN_MIGRATION */
	enum rbd_deploy_result deploy;	/* DEPLOY_DONE */
	int64_t schema;			/* DEPLOYED: 0..RBD_SCHEMA_MAX, or
					 * RBD_SCHEMA_NONE (set it: 0 is a schema) */
	enum rbd_migration migration;	/* DEPLOYED: with a schema only */
	const char *text;		/* PAUSE: the reason; may be NULL */
	uint64_t duration;		/* PAUSE: usec; 0 until resumed */
	uint64_t wall;			/* every event: the shell's wall clock,
					 * usec since the epoch, for times of day
					 * in reasons; 0 unknown */
};

/* The verdict on a release, for whoever waits on it (rollbackctl --wait). */
enum rbd_verdict {
	RBD_VERDICT_PROMOTED,	/* passed its watch, or marked good */
	RBD_VERDICT_ROLLED_BACK,	/* degraded; rollback started */
	RBD_VERDICT_HELD,	/* degraded but not rolled back; a person must act */
	RBD_VERDICT_SUPERSEDED,	/* another release was announced during its watch */
	RBD_VERDICT_DRILL_PASSED,	/* a drill: see "Drills" */
	RBD_VERDICT_DRILL_FAILED,
	RBD_VERDICT_DRILL_ABORTED,
	_RBD_VERDICT_MAX,
};
const char *rbd_verdict_str(enum rbd_verdict v);

enum rbd_action_type {
	RBD_ACT_START_PROBES,	/* begin sampling every check of the policy */
	RBD_ACT_STOP_PROBES,
	RBD_ACT_RUN_DEPLOY,	/* version, from_version, reason, deploy_id */
	RBD_ACT_SET_TIMER,	/* deadline (monotonic usec); replaces any other */
	RBD_ACT_CANCEL_TIMER,
	RBD_ACT_NOTIFY,		/* version, verdict, reason */
	RBD_ACT_RUN_MIGRATION,	/* the policy's migrate_down: version (target),
				 * from_version, from_schema, to_schema,
				 * deploy_id, reason */
	RBD_ACT_RUN_REMEDY,	/* Remedies: remedy (index into
				 * policy->remedies), version (live),
				 * from_version (the newest known-good other
				 * release, "" none), deploy_id, reason */
	_RBD_ACT_MAX,
};
const char *rbd_action_type_str(enum rbd_action_type t);

struct rbd_action {
	enum rbd_action_type type;
	char version[RBD_VERSION_MAX + 1];
	char from_version[RBD_VERSION_MAX + 1];
	uint64_t deploy_id;
	uint64_t deadline;
	enum rbd_verdict verdict;
	int64_t from_schema, to_schema;	/* RUN_MIGRATION */
	/* RUN_DEPLOY, NOTIFY: why, for the log and the waiter; "" for others.
	 * Usually the step's reason; a superseded release's NOTIFY says what
	 * superseded it, and a resumed RUN_DEPLOY carries w->reason. */
	char reason[RBD_REASON_MAX];
	/* Remedies */
	size_t remedy;			/* RUN_REMEDY */
};

/* Drill: where a drill is (state drilling). */
enum rbd_drill_phase {
	RBD_DRILL_NONE,			/* not drilling */
	RBD_DRILL_BACK,			/* deploy command with K running */
	RBD_DRILL_VERIFY_BACK,		/* K live, verified for verify */
	RBD_DRILL_FORWARD,		/* deploy command with L running */
	RBD_DRILL_VERIFY_FORWARD,	/* L live again, verified for verify */
	_RBD_DRILL_PHASE_MAX,
};
const char *rbd_drill_phase_str(enum rbd_drill_phase p);	/* "back", ... */
int rbd_drill_phase_from_str(const char *s, enum rbd_drill_phase *ret);

/* Drill: how a drill ended. */
enum rbd_drill_result {
	RBD_DRILL_RESULT_NONE,		/* no drill has ended yet */
	RBD_DRILL_PASSED,
	RBD_DRILL_FAILED,
	RBD_DRILL_ABORTED,
	_RBD_DRILL_RESULT_MAX,
};
const char *rbd_drill_result_str(enum rbd_drill_result r);	/* "passed", ... */
int rbd_drill_result_from_str(const char *s, enum rbd_drill_result *ret);

/* Drill: what became of one leg (back to K, forward to L). */
enum rbd_drill_leg_state {
	RBD_LEG_PENDING,		/* not started, or its deploy runs */
	RBD_LEG_DEPLOY_FAILED,		/* its deploy command failed */
	RBD_LEG_VERIFYING,		/* deployed, being verified */
	RBD_LEG_UNHEALTHY,		/* degraded (or no data) while verified */
	RBD_LEG_VERIFIED,		/* healthy for the whole verify period */
	RBD_LEG_CUT,			/* verification cut short by an abort */
	_RBD_LEG_STATE_MAX,
};
const char *rbd_drill_leg_state_str(enum rbd_drill_leg_state s);
int rbd_drill_leg_state_from_str(const char *s, enum rbd_drill_leg_state *ret);

/* Drill: one leg's timings (engine usec). */
struct rbd_drill_leg {
	enum rbd_drill_leg_state state;
	uint64_t deploy_usec;	/* how long its deploy command took */
	bool healthy;		/* it became healthy: every check's last
				 * judged sample OK */
	uint64_t healthy_usec;	/* with healthy: from the deploy's end */
	uint64_t verify_usec;	/* how long it was verified */
};

/* A release status change to store with the record. */
struct rbd_release_update {
	char version[RBD_VERSION_MAX + 1];
	enum rbd_release_status status;
};

/* What one step decided. record is set when there is something for the
 * history: a transition, or an operator event that changed no state
 * (mark-good of an old release). Samples that change nothing produce no
 * record, so the history is not flooded. Only the first n_updates
 * updates and n_actions actions are set: a step of a sample that changes
 * nothing but counters (the common case; the whole step is over 5 KB) is
 * record false, event NULL, from = to, reason "" and no update or action,
 * the rest of the arrays left as they were. */
#define RBD_STEP_ACTIONS_MAX	8
#define RBD_STEP_UPDATES_MAX	4
struct rbd_step {
	bool record;
	const char *event;		/* "deployed", "promoted", "degraded", ...;
					 * static; NULL when !record */
	enum rbd_state from, to;
	char reason[RBD_REASON_MAX];	/* readable, never empty with record */
	struct rbd_release_update updates[RBD_STEP_UPDATES_MAX];
	size_t n_updates;
	struct rbd_action actions[RBD_STEP_ACTIONS_MAX];
	size_t n_actions;
};

/* Per-service state. Plain data but for the per-check arrays (fails[],
 * unknowns[], window_ok[], window_no_data[]), n_checks entries each, for
 * the policy it was made for; the watch owns them. */
struct rbd_watch {
	enum rbd_state state;
	uint64_t since;				/* entry time of this state */
	char live[RBD_VERSION_MAX + 1];		/* release believed live; "" none */
	char target[RBD_VERSION_MAX + 1];	/* rolling_back/verifying: K */
	char from[RBD_VERSION_MAX + 1];		/* rolling_back/verifying: R */
	char reason[RBD_REASON_MAX];		/* of the last transition */
	uint64_t deploy_id;			/* the deploy in flight (rolling_back) */
	uint64_t next_deploy_id;		/* ids are never reused */
	/* Known-good releases, newest first; never holds a bad release. */
	char good[RBD_WATCH_GOOD_MAX][RBD_VERSION_MAX + 1];
	size_t n_good;
	/* The schema each known-good release runs against, parallel to
	 * good[]; RBD_SCHEMA_NONE when unknown. */
	int64_t good_schema[RBD_WATCH_GOOD_MAX];
	/* Releases marked bad, newest first (to refuse them as targets). */
	char bad[RBD_WATCH_BAD_MAX][RBD_VERSION_MAX + 1];
	size_t n_bad;
	/* The database's schema as the live release left it, the one before
	 * its migration, and how it migrated (see the header comment). */
	int64_t schema, schema_before;
	enum rbd_migration migration;
	/* rolling_back: the down-migration runs (deploy_id is its id), and
	 * the schema it goes to; the code's deploy follows. */
	bool migrating;
	int64_t target_schema;
	/* The loop breaker: when automatic rollbacks (and would-be ones in
	 * dry-run or a pause) were decided, oldest first, on the engine's
	 * clock; entries older than the policy's automatic_per are dropped
	 * at the next one. */
	uint64_t auto_times[RBD_WATCH_AUTO_MAX];
	size_t n_auto;
	/* A pause: until pause_until (engine clock; 0: until resumed). */
	bool paused;
	uint64_t pause_until;
	uint64_t pause_until_wall;		/* for reasons; 0 none */
	char pause_reason[RBD_REASON_MAX];	/* "" none given */
	char paused_by[RBD_ACTOR_MAX];
	/* Consecutive failing samples per check (judged samples only). */
	unsigned *fails;
	size_t n_checks;
	/* Consecutive unknown samples per check with no_data inconclusive
	 * (judged samples only). */
	unsigned *unknowns;
	/* The current window so far, per check: judged OK samples, and the
	 * detail of the last judged unknown sample of a no_data inconclusive
	 * check ("" none), for the whole-window rule. */
	unsigned *window_ok;
	char (*window_no_data)[RBD_DETAIL_MAX];
	/* Per guard of the policy (n_guards entries each): failing samples
	 * in a row, the wall time of the first of them (0: none), and the
	 * detail of the last one. Judged in every state; not stored. */
	size_t n_guards;
	unsigned *guard_fails;
	uint64_t *guard_since_wall;
	char (*guard_detail)[RBD_DETAIL_MAX];
	/* Remedies (state remedying): the remedy being tried (index into
	 * policy->remedies), whether its action succeeded and its settle
	 * period runs since remedy_at (not stored: a restart runs the remedy
	 * again), the start of the watch window it interrupted, to resume it,
	 * and the degradation that started the remedies. */
	size_t remedy;
	bool remedy_settling;
	uint64_t remedy_at;
	uint64_t remedy_watch_since;
	char remedy_why[RBD_REASON_MAX];

	/* Drill (state drilling: from is L, target K; since is the phase's
	 * entry time; deploy_id the deploy in flight). */
	enum rbd_drill_phase drill_phase;	/* RBD_DRILL_NONE unless drilling */
	char drill_l[RBD_VERSION_MAX + 1];	/* the drill's L and K, kept */
	char drill_k[RBD_VERSION_MAX + 1];	/* after its end for the report */
	bool drill_abort;			/* an abort was asked */
	char drill_failure[RBD_REASON_MAX];	/* why it failed; "" not (yet) */
	struct rbd_drill_leg drill_legs[2];	/* [0] back to K, [1] forward to L;
						 * kept after the end for the report */
	/* The last drill that ended (wall clock, for status and the
	 * schedule): its result, when, a line about it, and when one last
	 * passed. */
	enum rbd_drill_result drill_last;
	uint64_t drill_last_wall;		/* 0: never */
	uint64_t drill_passed_wall;		/* 0: never */
	char drill_last_reason[RBD_REASON_MAX];
};

/* A new idle watch with no release, sized for policy's checks and guards.
 * Returns NULL when out of memory. */
struct rbd_watch *rbd_watch_new(const struct rbd_policy *policy);
void rbd_watch_free(struct rbd_watch *w);		/* NULL is fine */

/* Zero every per-check counter and window tally of w, and every guard's
 * run (after a restart: none of them is stored, a resumed watch judges
 * afresh). */
void rbd_watch_reset_counts(struct rbd_watch *w);

/* After a reload: adopt a new policy for the same service. The state and
 * releases are kept; the per-check counters and window tallies are kept
 * for checks whose name is unchanged and reset for the others, and so are
 * the guards' runs. Returns 0
 * or -ENOMEM (w unchanged). */
int rbd_watch_set_policy(struct rbd_watch *w, const struct rbd_policy *old,
    const struct rbd_policy *new_policy);

/* Advance w by one event at time now. On success returns 0, updates *w and
 * fills *ret_step. An event the engine refuses (a manual rollback with no
 * target, a target that is marked bad, a check index out of range) returns
 * a negative errno, leaves *w and *ret_step untouched and writes a reason a
 * person can read into errbuf. Versions are assumed already validated by
 * rbd_version_check; an invalid one is refused with -EINVAL all the same.
 * Never allocates: the per-check arrays of w are only written, in place,
 * once the event is accepted. */
int rbd_watch_step(struct rbd_watch *w, const struct rbd_policy *policy,
    const struct rbd_event *ev, uint64_t now, struct rbd_step *ret_step,
    char *errbuf, size_t errlen);

/* After a restart: the actions that continue what w was doing at time now
 * (re-run an interrupted rollback, resume a watch with the time it had
 * left). Never records anything: resuming is not a transition. */
void rbd_watch_resume(struct rbd_watch *w, const struct rbd_policy *policy,
    uint64_t now, struct rbd_step *ret_step);

/* The release a rollback would return to now, or NULL: the newest
 * known-good release that is neither live nor marked bad. Schemas are
 * not considered: see rbd_watch_choose_target. */
const char *rbd_watch_rollback_target(const struct rbd_watch *w);

/* The rollback target for w under policy, schemas considered: the newest
 * known-good release K, neither live nor bad, that is compatible with the
 * database as the live release left it (schema S = w->schema, migration M
 * = w->migration):
 *   - S unknown (RBD_SCHEMA_NONE): any K, as rbd_watch_rollback_target;
 *   - K's schema equals S: K, no migration;
 *   - K's schema unknown: K when M is not irreversible, else refused
 *     ("schema unknown");
 *   - K's schema above S: refused (it expects a newer schema);
 *   - K's schema below S: K after a down-migration from S to K's schema,
 *     only when M is reversible, the policy has migrate_down, and K's
 *     schema is not below w->schema_before (the down-migration undoes
 *     the live release's migration, nothing older); refused otherwise.
 * When the schema before is unknown, no older K is within reach.
 * Returns the index into w->good of K and sets *ret_to_schema (K's schema
 * when a down-migration is needed, RBD_SCHEMA_NONE when not), or -ENOENT
 * (*ret_to_schema untouched). Either way why (may be NULL) gets a sentence
 * for the reason, cut to whylen: when K is not the newest candidate, K's
 * name and why it was chosen ("v2.4.0, the newest known-good release that
 * runs against schema 43 (v2.4.1 expects 42)"); "" when K is the newest
 * candidate (a down-migration is told by *ret_to_schema, not in why); and
 * without K why there is none: "no known-good release to roll back to"
 * when there is no candidate at all, else why the newest was refused and
 * how many older ones were too ("...; 2 older known-good releases are not
 * compatible either"). */
int rbd_watch_choose_target(const struct rbd_watch *w,
    const struct rbd_policy *policy, int64_t *ret_to_schema, char *why,
    size_t whylen);

/* Whether w is paused at time now: paused, and pause_until not yet come. */
bool rbd_watch_paused(const struct rbd_watch *w, uint64_t now);

/* Remedies: when the settle period of the remedy being tried ends (engine
 * clock), or 0 when w is not settling one. */
uint64_t rbd_watch_settle_end(const struct rbd_watch *w,
    const struct rbd_policy *policy);

/* Automatic rollbacks in the loop breaker's period ending at now (for
 * status: "1 of 3 in the last 1h"). */
size_t rbd_watch_auto_count(const struct rbd_watch *w,
    const struct rbd_policy *policy, uint64_t now);

#endif
