/* Durable state in SQLite: releases, an append-only event history, and a
 * snapshot of each service's watch state so a restart resumes where the
 * daemon stopped.
 *
 * The database is <state_dir>/rollbackd.db in WAL mode with
 * synchronous=FULL: a commit that returned has reached the disk. It is
 * checked with PRAGMA quick_check when opened, and its schema carries a
 * version (PRAGMA user_version) that is migrated forward, never back. A
 * store that cannot be opened or written is an error for the caller to
 * report loudly; there is no fallback to memory.
 *
 * Times: the store writes wall-clock microseconds (CLOCK_REALTIME) for
 * people; the engine runs on monotonic time. rbd_store_commit() and
 * rbd_store_load() take both "now"s and convert the watch's state-entry
 * time between them, so a watch interrupted by a restart continues with
 * the time it had left.
 *
 * Downtime is not counted: a watch resumes with the time it had left at
 * the last heartbeat or transition. The store keeps when the daemon was
 * last known alive and watching (rbd_store_heartbeat(), and every
 * commit); the time from then until the restart is time nobody watched
 * the release, so it must not bring the end of its window closer. */
#ifndef RBD_STORE_H
#define RBD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "watch.h"

#define RBD_STORE_FILE		"rollbackd.db"
#define RBD_STORE_SCHEMA	5	/* the schema this code writes */
#define RBD_STORE_META_MAX	4096	/* bytes of release metadata (JSON) */

struct rbd_store;

/* Open (creating if needed) the store in state_dir, which must exist.
 * Returns 0, or a negative errno with a message in errbuf naming the file
 * and what is wrong ("...: database disk image is malformed",
 * "...: attempt to write a readonly database", "schema version 7 is newer
 * than this rollbackd understands (2)"). Errors: -ENOENT/-ENOTDIR (no
 * state_dir), -EACCES/-EROFS (cannot write the file), -EIO (not a
 * database, damaged, quick_check failed), -ENOSPC, -EBUSY (locked by
 * another process beyond the busy timeout), -ENOTSUP (newer schema). */
int rbd_store_open(const char *state_dir, struct rbd_store **ret,
    char *errbuf, size_t errlen);
void rbd_store_free(struct rbd_store *s);

/* Write one step's record for service in one transaction: the event row,
 * the release status changes, the release announced by a DEPLOYED event
 * (actor, meta: a JSON object as text or NULL, schema and migration: set
 * ev->schema, RBD_SCHEMA_NONE when not announced), and the new snapshot
 * of w.
 * Call it after rbd_watch_step() and before carrying out step->actions.
 * A step without a record still refreshes nothing and returns 0.
 * Returns 0 or a negative errno with a message in errbuf; on failure
 * nothing is written and the caller must not carry out the actions.
 * -EINVAL: the step or w is not something the engine makes (bad state,
 * service name); -E2BIG: meta of RBD_STORE_META_MAX bytes or more (check
 * it before rbd_watch_step). Failure counts (w->fails) and guard runs are
 * not stored.
 * A commit also records the daemon alive at now_wall, as
 * rbd_store_heartbeat() does. */
int rbd_store_commit(struct rbd_store *s, const char *service,
    const struct rbd_watch *w, const struct rbd_step *step,
    const struct rbd_event *ev, uint64_t now_mono, uint64_t now_wall,
    char *errbuf, size_t errlen);

/* Fill w (made by rbd_watch_new for this service's policy) from the last
 * snapshot: state, releases, known-good (with their schemas) and bad
 * lists, the schema and a down-migration in flight, a pause, and the
 * automatic rollbacks the loop breaker counts. *ret_found is false
 * when the store has never seen the service (w is left idle). On failure
 * (-EIO for a snapshot or heartbeat that does not make sense, -ENOMEM) w
 * is unchanged. Failure counts are reset to 0.
 *
 * w->since, in a state with a window (watching, verifying): downtime is
 * not counted: a watch resumes with the time it had left at the last
 * heartbeat or transition. The time watched is from the state's start to
 * the daemon's last sign of life: the last heartbeat, but never earlier
 * than the snapshot was written (that commit was one too) nor later than
 * now_wall; it is 0 when that is before the start (a wall clock that went
 * backwards). w->since = now_mono - watched, clamped to 0 when watched
 * exceeds now_mono. The next heartbeat or commit rewrites the snapshot's
 * start on this run's clock, so a second restart does not count the
 * first one's downtime either; a crash before then reloads the same time
 * left. Load itself writes nothing (it also serves after a failed
 * commit, when the store may not be writable).
 *
 * w->since in the other states: as long before now_mono as the state
 * began before now_wall (clamped to 0 likewise); downtime counts there,
 * nothing is timed from it.
 *
 * Wall-clock times, converted the same way: w->auto_times[] (kept on the
 * wall clock, so a restart keeps their ages and the downtime counts: the
 * loop breaker's period is real time; one in the future of the wall clock
 * counts as now), and a pause's end: pause_until_wall is kept as stored,
 * pause_until = now_mono + (pause_until_wall - now_wall), or now_mono (but
 * never 0, which means until resumed) for a pause that ended while the
 * daemon was down: rbd_watch_paused() says it is over and the shell's pause
 * timer records its end. A pause until resumed keeps pause_until 0. */
int rbd_store_load(struct rbd_store *s, const char *service,
    struct rbd_watch *w, uint64_t now_mono, uint64_t now_wall,
    bool *ret_found, char *errbuf, size_t errlen);

/* Record that the daemon is alive and watching at now_wall (wall usec):
 * call it every few seconds while any service is watching or verifying,
 * and at a clean shutdown. When the daemon stops, however it stops, the
 * time after its last heartbeat (or commit) is not counted as watched, so
 * the interval bounds what a crash loses: that much more watching after
 * the restart. In the same transaction it rewrites the snapshots of the
 * watches rbd_store_load() resumed since the last heartbeat or commit
 * (see there). Returns 0 or a negative errno with a message in errbuf
 * (-EACCES/-EROFS: the store cannot be written, -EBUSY, -ENOSPC, -EIO);
 * on failure nothing is written, and a later heartbeat or commit writes
 * it all. */
int rbd_store_heartbeat(struct rbd_store *s, uint64_t now_wall,
    char *errbuf, size_t errlen);

/* Whether the store could be written the last time a commit or heartbeat
 * tried (a commit refused before the store was tried, -EINVAL or -E2BIG,
 * does not count): 0 when it could, or when nothing has been written yet;
 * else that write's negative errno (-ENOSPC: the file system is full,
 * -EROFS/-EACCES: read-only, -EIO, -EBUSY), with its message in errbuf
 * and, in *ret_since, the wall time (usec) of the first of the writes
 * that have failed since the last one that worked. *ret_failures (may be
 * NULL) is always set: how many writes have failed since the store was
 * opened. Nothing else is written on 0. */
int rbd_store_write_error(const struct rbd_store *s, uint64_t *ret_since,
    uint64_t *ret_failures, char *errbuf, size_t errlen);

/* One row of the history, for rollbackctl history. */
struct rbd_history_entry {
	int64_t id;
	uint64_t at_wall;		/* usec since the epoch */
	char event[32];
	enum rbd_state from, to;
	char release[RBD_VERSION_MAX + 1];	/* live release after the step */
	char target[RBD_VERSION_MAX + 1];	/* rollback target, "" if none */
	char actor[RBD_ACTOR_MAX];		/* "" when the daemon decided */
	char reason[RBD_REASON_MAX];
};

/* The newest entries first, at most limit of them, into a new array owned
 * by the caller (free()); NULL with *ret_n == 0 when there are none. */
int rbd_store_history(struct rbd_store *s, const char *service, size_t limit,
    struct rbd_history_entry **ret, size_t *ret_n, char *errbuf,
    size_t errlen);

/* One release, for status output. */
struct rbd_release {
	char version[RBD_VERSION_MAX + 1];
	enum rbd_release_status status;
	uint64_t announced_wall;	/* 0: never announced by a deploy hook */
	uint64_t updated_wall;
	char announced_by[RBD_ACTOR_MAX];
	char meta[RBD_STORE_META_MAX];
	/* As the deploy hook announced it: the schema the release runs
	 * against (RBD_SCHEMA_NONE: not said) and how it migrated (none when
	 * not said). */
	int64_t schema;
	enum rbd_migration migration;
};

/* A release of service by version; -ENOENT when unknown. */
int rbd_store_release(struct rbd_store *s, const char *service,
    const char *version, struct rbd_release *ret, char *errbuf, size_t errlen);

/* Services the store has a snapshot of, sorted; free with rbd_argv_free(). */
int rbd_store_services(struct rbd_store *s, char ***ret, size_t *ret_n,
    char *errbuf, size_t errlen);

#endif
