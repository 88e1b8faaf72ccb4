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

enum rbd_state {
	RBD_STATE_IDLE,
	RBD_STATE_WATCHING,
	RBD_STATE_ROLLING_BACK,
	RBD_STATE_VERIFYING,
	RBD_STATE_HELD,
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
	uint64_t deploy_id;		/* DEPLOY_DONE: the id from RBD_ACT_RUN_DEPLOY */
	enum rbd_deploy_result deploy;	/* DEPLOY_DONE */
};

/* The verdict on a release, for whoever waits on it (rollbackctl --wait). */
enum rbd_verdict {
	RBD_VERDICT_PROMOTED,	/* passed its watch, or marked good */
	RBD_VERDICT_ROLLED_BACK,	/* degraded; rollback started */
	RBD_VERDICT_HELD,	/* degraded but not rolled back; a person must act */
	RBD_VERDICT_SUPERSEDED,	/* another release was announced during its watch */
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
	/* RUN_DEPLOY, NOTIFY: why, for the log and the waiter; "" for others.
	 * Usually the step's reason; a superseded release's NOTIFY says what
	 * superseded it, and a resumed RUN_DEPLOY carries w->reason. */
	char reason[RBD_REASON_MAX];
};

/* A release status change to store with the record. */
struct rbd_release_update {
	char version[RBD_VERSION_MAX + 1];
	enum rbd_release_status status;
};

/* What one step decided. record is set when there is something for the
 * history: a transition, or an operator event that changed no state
 * (mark-good of an old release). Samples that change nothing produce no
 * record, so the history is not flooded. */
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
	/* Releases marked bad, newest first (to refuse them as targets). */
	char bad[RBD_WATCH_BAD_MAX][RBD_VERSION_MAX + 1];
	size_t n_bad;
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
};

/* A new idle watch with no release, sized for policy's checks.
 * Returns NULL when out of memory. */
struct rbd_watch *rbd_watch_new(const struct rbd_policy *policy);
void rbd_watch_free(struct rbd_watch *w);		/* NULL is fine */

/* Zero every per-check counter and window tally of w (after a restart: the
 * counters are not stored, a resumed watch judges afresh). */
void rbd_watch_reset_counts(struct rbd_watch *w);

/* After a reload: adopt a new policy for the same service. The state and
 * releases are kept; the per-check counters and window tallies are kept
 * for checks whose name is unchanged and reset for the others. Returns 0
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
 * known-good release that is neither live nor marked bad. */
const char *rbd_watch_rollback_target(const struct rbd_watch *w);

#endif
