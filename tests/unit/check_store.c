/* The SQLite store: what one step records survives a restart, and a store
 * that cannot be trusted or written is a clear error. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "duration.h"
#include "store.h"
#include "template.h"
#include "testutil.h"

#define WALL0	UINT64_C(1700000000000000)	/* Nov 2023, usec */
#define MONO0	(1000 * RBD_USEC_PER_SEC)

static const struct rbd_policy policy = { .n_checks = 2 };

/* Every test's directory lives under top, which main() removes. */
static char top[64];
static char dir[128];		/* this test's own mkdtemp directory */
static char dbpath[192];	/* dir/rollbackd.db */

/* Remove one entry of a tree (nftw callback). */
static int rm_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* Remove path and everything under it. */
static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Checked fixture: a fresh directory for each test. */
static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s/t.XXXXXX", top);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/%s", dir, RBD_STORE_FILE);
}

/* Checked fixture: remove the test's directory. */
static void teardown(void)
{
	rm_rf(dir);
}

/* Open the store in dir; the test fails with the message otherwise. */
static struct rbd_store *open_ok(void)
{
	struct rbd_store *s = NULL;
	char err[512] = "";
	int r = rbd_store_open(dir, &s, err, sizeof(err));

	ck_assert_msg(r == 0, "open: %d %s", r, err);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* Open the store in dir expecting failure r with message msg; returns
 * nothing and checks that *ret was not written. */
static void open_fails(int r, const char *msg)
{
	struct rbd_store *s = (struct rbd_store *)&s;
	char err[512] = "";

	ck_assert_int_eq(rbd_store_open(dir, &s, err, sizeof(err)), r);
	ck_assert_ptr_eq(s, (struct rbd_store *)&s);
	if (msg)
		ck_assert_str_eq(err, msg);
}

/* A recorded step as the engine would make one. */
static struct rbd_step mkstep(const char *event, enum rbd_state from,
    enum rbd_state to, const char *reason)
{
	struct rbd_step st;

	memset(&st, 0, sizeof(st));
	st.record = true;
	st.event = event;
	st.from = from;
	st.to = to;
	snprintf(st.reason, sizeof(st.reason), "%s", reason);
	return st;
}

/* Add a release status change to st. */
static void add_update(struct rbd_step *st, const char *version,
    enum rbd_release_status status)
{
	ck_assert_uint_lt(st->n_updates, RBD_STEP_UPDATES_MAX);
	snprintf(st->updates[st->n_updates].version,
	    sizeof(st->updates[0].version), "%s", version);
	st->updates[st->n_updates++].status = status;
}

/* Put w in a state, as a step would have left it. */
static void set_watch(struct rbd_watch *w, enum rbd_state state,
    uint64_t since, const char *live, const char *target, const char *from,
    const char *reason)
{
	w->state = state;
	w->since = since;
	snprintf(w->live, sizeof(w->live), "%s", live);
	snprintf(w->target, sizeof(w->target), "%s", target);
	snprintf(w->from, sizeof(w->from), "%s", from);
	snprintf(w->reason, sizeof(w->reason), "%s", reason);
}

/* Set a list of versions (good[] or bad[]) from a NULL-terminated list. */
static void set_list(char (*list)[RBD_VERSION_MAX + 1], size_t *n,
    const char *const *versions)
{
	for (*n = 0; versions[*n]; (*n)++)
		snprintf(list[*n], RBD_VERSION_MAX + 1, "%s", versions[*n]);
}

/* Commit a step; the test fails with the message otherwise. */
static void commit_ok(struct rbd_store *s, const char *service,
    const struct rbd_watch *w, const struct rbd_step *st,
    const struct rbd_event *ev, uint64_t mono, uint64_t wall)
{
	char err[512] = "";
	int r = rbd_store_commit(s, service, w, st, ev, mono, wall, err,
	    sizeof(err));

	ck_assert_msg(r == 0, "commit: %d %s", r, err);
}

/* Load service into a new watch; *found says whether it was there. */
static struct rbd_watch *load_ok(struct rbd_store *s, const char *service,
    uint64_t mono, uint64_t wall, bool *found)
{
	struct rbd_watch *w = rbd_watch_new(&policy);
	char err[512] = "";
	int r;

	ck_assert_ptr_nonnull(w);
	r = rbd_store_load(s, service, w, mono, wall, found, err, sizeof(err));
	ck_assert_msg(r == 0, "load: %d %s", r, err);
	return w;
}

/* Run SQL on the database file directly, as an outside tool would. */
static void raw_exec(const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg);
	sqlite3_close(db);
}

/* The first column of the first row of a query on the file, as text
 * (into buf) and as an integer. */
static long long raw_query(const char *sql, char *buf, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	if (buf)
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Write n bytes of b at offset off of path. */
static void overwrite(const char *path, off_t off, int b, size_t n)
{
	char *buf = malloc(n);
	int fd = open(path, O_WRONLY);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_ge(fd, 0);
	memset(buf, b, n);
	ck_assert_int_eq(pwrite(fd, buf, n, off), (ssize_t)n);
	ck_assert_int_eq(fsync(fd), 0);
	close(fd);
	free(buf);
}

/* --- a deploy, a degradation and a rollback, recorded and reloaded --- */

/* Record: v1 announced and promoted, v2 announced, degraded, rolled back
 * to v1 and verified. Returns the watch as the engine would have it. */
static struct rbd_watch *record_rollback(struct rbd_store *s)
{
	static const char *const good[] = { "v1", "v0.9", "v0.8", NULL };
	static const char *const bad[] = { "v2", "v1.5", NULL };
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_event ev = { .type = RBD_EV_DEPLOYED, .version = "v1",
	    .actor = "uid 1000 pid 42", .meta = "{\"commit\":\"abc123\"}",
	    .schema = RBD_SCHEMA_NONE };
	struct rbd_event timer = { .type = RBD_EV_TIMER };
	struct rbd_step st;
	uint64_t m = MONO0, t = WALL0, min = RBD_USEC_PER_MIN;

	ck_assert_ptr_nonnull(w);
	set_watch(w, RBD_STATE_WATCHING, m, "v1", "", "", "v1 announced");
	st = mkstep("deployed", RBD_STATE_IDLE, RBD_STATE_WATCHING,
	    "v1 announced by uid 1000 pid 42; watching for 10m");
	add_update(&st, "v1", RBD_RELEASE_WATCHING);
	commit_ok(s, "checkout", w, &st, &ev, m, t);

	set_watch(w, RBD_STATE_IDLE, m + 10 * min, "v1", "", "", "promoted");
	set_list(w->good, &w->n_good, good + 2);	/* v0.8 */
	st = mkstep("promoted", RBD_STATE_WATCHING, RBD_STATE_IDLE,
	    "v1 healthy for 10m; now the known-good release");
	add_update(&st, "v1", RBD_RELEASE_GOOD);
	commit_ok(s, "checkout", w, &st, &timer, m + 10 * min, t + 10 * min);

	ev = (struct rbd_event){ .type = RBD_EV_DEPLOYED, .version = "v2",
	    .actor = "ci", .schema = RBD_SCHEMA_NONE };
	set_watch(w, RBD_STATE_WATCHING, m + 20 * min, "v2", "", "",
	    "v2 announced");
	st = mkstep("deployed", RBD_STATE_IDLE, RBD_STATE_WATCHING,
	    "v2 announced by ci; watching for 10m");
	add_update(&st, "v2", RBD_RELEASE_WATCHING);
	commit_ok(s, "checkout", w, &st, &ev, m + 20 * min, t + 20 * min);

	set_watch(w, RBD_STATE_ROLLING_BACK, m + 22 * min, "v2", "v1", "v2",
	    "rolling back");
	set_list(w->bad, &w->n_bad, bad);
	w->deploy_id = 1;
	w->next_deploy_id = 2;
	st = mkstep("degraded", RBD_STATE_WATCHING, RBD_STATE_ROLLING_BACK,
	    "healthz: HTTP 500 for 3 consecutive samples (fail_after 3); "
	    "rolling back from v2 to v1");
	add_update(&st, "v2", RBD_RELEASE_BAD);
	commit_ok(s, "checkout", w, &st, NULL, m + 22 * min, t + 22 * min);

	set_watch(w, RBD_STATE_IDLE, m + 30 * min, "v1", "v1", "v2",
	    "rollback to v1 verified: healthy for 5m");
	set_list(w->good, &w->n_good, good);
	st = mkstep("verified", RBD_STATE_VERIFYING, RBD_STATE_IDLE, w->reason);
	commit_ok(s, "checkout", w, &st, &timer, m + 30 * min, t + 30 * min);
	return w;
}

/* Check a loaded list against the expected NULL-terminated one. */
static void assert_list(char (*list)[RBD_VERSION_MAX + 1], size_t n,
    const char *const *want)
{
	size_t i;

	for (i = 0; want[i]; i++) {
		ck_assert_uint_lt(i, n);
		ck_assert_str_eq(list[i], want[i]);
	}
	ck_assert_uint_eq(n, i);
}

START_TEST(test_transition_survives_reopen)
{
	static const char *const good[] = { "v1", "v0.9", "v0.8", NULL };
	static const char *const bad[] = { "v2", "v1.5", NULL };
	static const char *const events[] = { "verified", "degraded",
	    "deployed", "promoted", "deployed" };
	struct rbd_store *s = open_ok();
	struct rbd_watch *before = record_rollback(s), *w;
	struct rbd_history_entry *h = NULL;
	struct rbd_release rel;
	char err[512] = "", **names = NULL;
	size_t n = 0;
	bool found = false;

	rbd_store_free(s);
	s = open_ok();
	w = load_ok(s, "checkout", MONO0, WALL0 + 31 * RBD_USEC_PER_MIN, &found);
	ck_assert(found);
	ck_assert_int_eq(w->state, RBD_STATE_IDLE);
	ck_assert_str_eq(w->live, "v1");
	ck_assert_str_eq(w->reason, "rollback to v1 verified: healthy for 5m");
	ck_assert_uint_eq(w->deploy_id, 1);
	ck_assert_uint_eq(w->next_deploy_id, 2);
	assert_list(w->good, w->n_good, good);
	assert_list(w->bad, w->n_bad, bad);
	ck_assert_str_eq(w->target, before->target);
	ck_assert_str_eq(w->from, before->from);

	ck_assert_int_eq(rbd_store_history(s, "checkout", 10, &h, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, N_ELEMENTS(events));
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(h[i].event, events[i]);
	ck_assert_int_eq(h[1].from, RBD_STATE_WATCHING);
	ck_assert_int_eq(h[1].to, RBD_STATE_ROLLING_BACK);
	ck_assert_str_eq(h[1].release, "v2");
	ck_assert_str_eq(h[1].target, "v1");
	ck_assert_str_eq(h[1].actor, "");
	ck_assert_str_eq(h[1].reason, "healthz: HTTP 500 for 3 consecutive "
	    "samples (fail_after 3); rolling back from v2 to v1");
	ck_assert_uint_eq(h[1].at_wall, WALL0 + 22 * RBD_USEC_PER_MIN);
	ck_assert_str_eq(h[0].target, "");	/* idle has no target */
	ck_assert_str_eq(h[4].actor, "uid 1000 pid 42");
	ck_assert_str_eq(h[4].release, "v1");
	ck_assert_int_eq(h[4].from, RBD_STATE_IDLE);
	ck_assert_int_eq(h[4].to, RBD_STATE_WATCHING);
	free(h);

	ck_assert_int_eq(rbd_store_release(s, "checkout", "v1", &rel, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(rel.version, "v1");
	ck_assert_int_eq(rel.status, RBD_RELEASE_GOOD);
	ck_assert_str_eq(rel.announced_by, "uid 1000 pid 42");
	ck_assert_str_eq(rel.meta, "{\"commit\":\"abc123\"}");
	ck_assert_uint_eq(rel.announced_wall, WALL0);
	ck_assert_uint_eq(rel.updated_wall, WALL0 + 10 * RBD_USEC_PER_MIN);
	ck_assert_int_eq(rbd_store_release(s, "checkout", "v2", &rel, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(rel.status, RBD_RELEASE_BAD);
	ck_assert_str_eq(rel.announced_by, "ci");
	ck_assert_str_eq(rel.meta, "");
	ck_assert_int_eq(rel.schema, RBD_SCHEMA_NONE);
	ck_assert_int_eq(rel.migration, RBD_MIGRATION_NONE);

	ck_assert_int_eq(rbd_store_services(s, &names, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(names[0], "checkout");
	ck_assert_ptr_null(names[1]);
	rbd_argv_free(names);
	rbd_watch_free(before);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

START_TEST(test_release_unknown_and_seeded)
{
	struct rbd_store *s = open_ok();
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_event ev = { .type = RBD_EV_MARK_GOOD, .version = "v0",
	    .actor = "uid 0" };
	struct rbd_step st = mkstep("marked-good", RBD_STATE_IDLE,
	    RBD_STATE_IDLE, "v0 marked good by uid 0");
	struct rbd_release rel;
	char err[512] = "";

	memset(&rel, 'x', sizeof(rel));
	ck_assert_int_eq(rbd_store_release(s, "checkout", "v9", &rel, err,
	    sizeof(err)), -ENOENT);
	ck_assert_int_eq(rel.version[0], 'x');	/* untouched */
	add_update(&st, "v0", RBD_RELEASE_GOOD);
	commit_ok(s, "checkout", w, &st, &ev, MONO0, WALL0);
	/* A release no hook announced: created by its status change. */
	ck_assert_int_eq(rbd_store_release(s, "checkout", "v0", &rel, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(rel.status, RBD_RELEASE_GOOD);
	ck_assert_uint_eq(rel.announced_wall, 0);
	ck_assert_uint_eq(rel.updated_wall, WALL0);
	ck_assert_str_eq(rel.announced_by, "");
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* --- a rollback interrupted by a crash --- */

START_TEST(test_interrupted_rollback_resumes)
{
	struct rbd_watch *w;
	struct rbd_store *s;
	bool found = false;
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* The daemon: record the rollback, then die without closing
		 * the store (the commit is in the WAL, not checkpointed). */
		struct rbd_store *cs = NULL;
		struct rbd_watch *cw = rbd_watch_new(&policy);
		struct rbd_step st = mkstep("degraded", RBD_STATE_WATCHING,
		    RBD_STATE_ROLLING_BACK, "healthz: HTTP 500 (fail_after 1); "
		    "rolling back from v2 to v1");
		char err[512];

		set_watch(cw, RBD_STATE_ROLLING_BACK, MONO0, "v2", "v1", "v2",
		    st.reason);
		cw->deploy_id = 7;
		cw->next_deploy_id = 8;
		add_update(&st, "v2", RBD_RELEASE_BAD);
		if (rbd_store_open(dir, &cs, err, sizeof(err)) < 0 ||
		    rbd_store_commit(cs, "checkout", cw, &st, NULL, MONO0, WALL0,
		    err, sizeof(err)) < 0)
			_exit(1);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	s = open_ok();
	w = load_ok(s, "checkout", 5 * RBD_USEC_PER_SEC, WALL0, &found);
	ck_assert(found);
	ck_assert_int_eq(w->state, RBD_STATE_ROLLING_BACK);
	ck_assert_str_eq(w->live, "v2");
	ck_assert_str_eq(w->target, "v1");
	ck_assert_str_eq(w->from, "v2");
	ck_assert_uint_eq(w->deploy_id, 7);
	ck_assert_uint_eq(w->next_deploy_id, 8);
	ck_assert_str_eq(w->reason,
	    "healthz: HTTP 500 (fail_after 1); rolling back from v2 to v1");
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* --- the state entry time across a restart --- */

#define WINDOW	(10 * RBD_USEC_PER_MIN)	/* the watch window in these tests */

/* What is left at mono of a 10m window that w began at w->since. */
static uint64_t left_at(const struct rbd_watch *w, uint64_t mono)
{
	uint64_t end = w->since + WINDOW;

	return end > mono ? end - mono : 0;
}

/* Record the daemon alive at wall; the test fails with the message
 * otherwise. */
static void heartbeat_ok(struct rbd_store *s, uint64_t wall)
{
	char err[512] = "";
	int r = rbd_store_heartbeat(s, wall, err, sizeof(err));

	ck_assert_msg(r == 0, "heartbeat: %d %s", r, err);
}

/* Before heartbeats, the time from the commit to the restart counted as
 * watched: "one minute down" had 6m left and "window passed while down"
 * 0. Downtime no longer counts, so both keep the 7m they had at the
 * commit; the cases with a heartbeat show that time the daemon was alive
 * after the commit still counts, up to the end of the window. */
static const struct {
	const char *name;
	uint64_t beat;			/* a heartbeat after the commit; 0: none */
	uint64_t mono2, wall2;		/* the clocks after the restart */
	uint64_t left;			/* of the 10m window, after load */
} since_cases[] = {
	/* 3 of 10 minutes had passed at the commit; restarted at once, new
	 * boot. */
	{ "restart at once", 0, 500 * RBD_USEC_PER_SEC, WALL0,
	  7 * RBD_USEC_PER_MIN },
	{ "one minute down", 0, 777 * RBD_USEC_PER_SEC,
	  WALL0 + RBD_USEC_PER_MIN, 7 * RBD_USEC_PER_MIN },
	{ "window would have passed while down", 0, 9000 * RBD_USEC_PER_SEC,
	  WALL0 + 8 * RBD_USEC_PER_MIN, 7 * RBD_USEC_PER_MIN },
	{ "alive 2 more minutes, down an hour", WALL0 + 2 * RBD_USEC_PER_MIN,
	  500 * RBD_USEC_PER_SEC,
	  WALL0 + 2 * RBD_USEC_PER_MIN + RBD_USEC_PER_HOUR,
	  5 * RBD_USEC_PER_MIN },
	/* Watched to the end, died before promoting: nothing left. */
	{ "window passed while alive", WALL0 + 8 * RBD_USEC_PER_MIN,
	  9000 * RBD_USEC_PER_SEC, WALL0 + RBD_USEC_PER_HOUR, 0 },
	/* The wall clock went back an hour: counted as no time elapsed at
	 * all, so the whole 10m window again, never more. */
	{ "wall clock backwards", 0, 500 * RBD_USEC_PER_SEC,
	  WALL0 - RBD_USEC_PER_HOUR, 10 * RBD_USEC_PER_MIN },
	/* A heartbeat later than the clock now: counted up to now only. */
	{ "heartbeat ahead of the clock", WALL0 + 5 * RBD_USEC_PER_MIN,
	  500 * RBD_USEC_PER_SEC, WALL0 + 2 * RBD_USEC_PER_MIN,
	  5 * RBD_USEC_PER_MIN },
	/* The clock went back after the commit: the commit itself still
	 * proves the 3 minutes. */
	{ "heartbeat behind the commit", WALL0 - RBD_USEC_PER_HOUR,
	  500 * RBD_USEC_PER_SEC, WALL0 + RBD_USEC_PER_HOUR,
	  7 * RBD_USEC_PER_MIN },
};

START_TEST(test_since_conversion)
{
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_step st = mkstep("deployed", RBD_STATE_IDLE,
	    RBD_STATE_WATCHING, "v1 announced; watching for 10m");
	struct rbd_store *s = open_ok();
	bool found = false;

	/* Committed 3 minutes after the watch began (a later transition
	 * in the same state rewrites the snapshot, e.g. mark-good). */
	set_watch(w, RBD_STATE_WATCHING, MONO0, "v1", "", "", st.reason);
	commit_ok(s, "checkout", w, &st, NULL, MONO0 + 3 * RBD_USEC_PER_MIN,
	    WALL0);
	if (since_cases[_i].beat)
		heartbeat_ok(s, since_cases[_i].beat);
	rbd_store_free(s);
	rbd_watch_free(w);

	s = open_ok();
	w = load_ok(s, "checkout", since_cases[_i].mono2, since_cases[_i].wall2,
	    &found);
	ck_assert(found);
	ck_assert_msg(left_at(w, since_cases[_i].mono2) == since_cases[_i].left,
	    "%s: since %llu", since_cases[_i].name,
	    (unsigned long long)w->since);
	ck_assert_uint_le(w->since, since_cases[_i].mono2);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* The daemon dies (no close) 3 minutes into a 10m watch, right after a
 * heartbeat, and comes back an hour later on a new boot: 7 minutes left.
 * It watches 1 more minute, beats, dies again: an hour later 6 minutes
 * are left, not "window passed": the first hour down does not count at
 * the second restart either. */
START_TEST(test_heartbeat_resumes_time_left)
{
	uint64_t wall1 = WALL0 + 3 * RBD_USEC_PER_MIN + RBD_USEC_PER_HOUR;
	uint64_t wall2 = wall1 + RBD_USEC_PER_MIN + RBD_USEC_PER_HOUR;
	uint64_t mono1 = 500 * RBD_USEC_PER_SEC;
	struct rbd_watch *w;
	struct rbd_store *s;
	bool found = false;
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rbd_store *cs = NULL;
		struct rbd_watch *cw = rbd_watch_new(&policy);
		struct rbd_step st = mkstep("deployed", RBD_STATE_IDLE,
		    RBD_STATE_WATCHING, "v1 announced; watching for 10m");
		char err[512];

		set_watch(cw, RBD_STATE_WATCHING, MONO0, "v1", "", "",
		    st.reason);
		if (rbd_store_open(dir, &cs, err, sizeof(err)) < 0 ||
		    rbd_store_commit(cs, "checkout", cw, &st, NULL, MONO0,
		    WALL0, err, sizeof(err)) < 0)
			_exit(1);
		for (int i = 1; i <= 3; i++)
			if (rbd_store_heartbeat(cs, WALL0 + (uint64_t)i *
			    RBD_USEC_PER_MIN, err, sizeof(err)) < 0)
				_exit(2);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	s = open_ok();
	w = load_ok(s, "checkout", mono1, wall1, &found);
	ck_assert(found);
	ck_assert_int_eq(w->state, RBD_STATE_WATCHING);
	ck_assert_uint_eq(left_at(w, mono1), 7 * RBD_USEC_PER_MIN);
	rbd_watch_free(w);
	/* Dies before its first heartbeat: nothing watched is lost or
	 * gained. */
	rbd_store_free(s);
	s = open_ok();
	w = load_ok(s, "checkout", mono1, wall1 + RBD_USEC_PER_HOUR, &found);
	ck_assert_uint_eq(left_at(w, mono1), 7 * RBD_USEC_PER_MIN);
	rbd_watch_free(w);
	rbd_store_free(s);

	/* Resumed at wall1, one minute watched, a heartbeat, dead. */
	s = open_ok();
	w = load_ok(s, "checkout", mono1, wall1, &found);
	rbd_watch_free(w);
	heartbeat_ok(s, wall1 + RBD_USEC_PER_MIN);
	rbd_store_free(s);
	s = open_ok();
	w = load_ok(s, "checkout", 42 * RBD_USEC_PER_MIN, wall2, &found);
	ck_assert(found);
	ck_assert_uint_eq(left_at(w, 42 * RBD_USEC_PER_MIN),
	    6 * RBD_USEC_PER_MIN);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* With no heartbeat after the last commit, the watch is counted up to
 * that commit: a commit of any service, since it proves the daemon was
 * alive and watching them all. */
START_TEST(test_counted_up_to_last_commit)
{
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_step st = mkstep("deployed", RBD_STATE_IDLE,
	    RBD_STATE_WATCHING, "v1 announced; watching for 10m");
	struct rbd_store *s = open_ok();
	uint64_t mono = 500 * RBD_USEC_PER_SEC;
	bool found = false;

	/* checkout: watching from WALL0, rewritten 2 minutes in by a
	 * mark-good of an old release. search: watching from 1 minute
	 * in. */
	set_watch(w, RBD_STATE_WATCHING, MONO0, "v1", "", "", st.reason);
	commit_ok(s, "checkout", w, &st, NULL, MONO0, WALL0);
	set_watch(w, RBD_STATE_WATCHING, MONO0 + RBD_USEC_PER_MIN, "v7", "",
	    "", st.reason);
	commit_ok(s, "search", w, &st, NULL, MONO0 + RBD_USEC_PER_MIN,
	    WALL0 + RBD_USEC_PER_MIN);
	set_watch(w, RBD_STATE_WATCHING, MONO0, "v1", "", "", st.reason);
	st = mkstep("marked-good", RBD_STATE_WATCHING, RBD_STATE_WATCHING,
	    "v0 marked good");
	commit_ok(s, "checkout", w, &st, NULL, MONO0 + 2 * RBD_USEC_PER_MIN,
	    WALL0 + 2 * RBD_USEC_PER_MIN);
	rbd_watch_free(w);
	rbd_store_free(s);

	s = open_ok();
	w = load_ok(s, "checkout", mono, WALL0 + RBD_USEC_PER_HOUR, &found);
	ck_assert(found);
	ck_assert_uint_eq(left_at(w, mono), 8 * RBD_USEC_PER_MIN);
	rbd_watch_free(w);
	/* Its own last commit was at 1 minute in; checkout's at 2 says the
	 * daemon watched search until then too. */
	w = load_ok(s, "search", mono, WALL0 + RBD_USEC_PER_HOUR, &found);
	ck_assert(found);
	ck_assert_uint_eq(left_at(w, mono), 9 * RBD_USEC_PER_MIN);

	/* Both resumed; a minute later a commit for a third service, then
	 * down for two hours: one more minute for each, not the hour that
	 * passed before they resumed. */
	set_watch(w, RBD_STATE_IDLE, mono, "v3", "", "", "v3 marked good");
	st = mkstep("marked-good", RBD_STATE_IDLE, RBD_STATE_IDLE,
	    "v3 marked good");
	commit_ok(s, "cart", w, &st, NULL, mono + RBD_USEC_PER_MIN,
	    WALL0 + RBD_USEC_PER_HOUR + RBD_USEC_PER_MIN);
	rbd_watch_free(w);
	rbd_store_free(s);
	s = open_ok();
	w = load_ok(s, "checkout", mono, WALL0 + 3 * RBD_USEC_PER_HOUR, &found);
	ck_assert_uint_eq(left_at(w, mono), 7 * RBD_USEC_PER_MIN);
	rbd_watch_free(w);
	w = load_ok(s, "search", mono, WALL0 + 3 * RBD_USEC_PER_HOUR, &found);
	ck_assert_uint_eq(left_at(w, mono), 8 * RBD_USEC_PER_MIN);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* A heartbeat the store cannot write is an error and writes nothing, not
 * even the move of a resumed snapshot; the next one writes it all. */
START_TEST(test_heartbeat_failure)
{
	uint64_t wall1 = WALL0 + RBD_USEC_PER_HOUR, mono1 = MONO0;
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_step st = mkstep("deployed", RBD_STATE_IDLE,
	    RBD_STATE_WATCHING, "v1 announced; watching for 10m");
	struct rbd_store *s = open_ok();
	char err[512] = "", want[512];
	bool found = false;

	set_watch(w, RBD_STATE_WATCHING, MONO0, "v1", "", "", st.reason);
	commit_ok(s, "checkout", w, &st, NULL, MONO0, WALL0);
	heartbeat_ok(s, WALL0 + RBD_USEC_PER_MIN);
	rbd_watch_free(w);
	rbd_store_free(s);

	/* Resumed an hour later with 9 minutes left. */
	s = open_ok();
	w = load_ok(s, "checkout", mono1, wall1, &found);
	ck_assert_uint_eq(left_at(w, mono1), 9 * RBD_USEC_PER_MIN);
	rbd_watch_free(w);
	raw_exec("CREATE TRIGGER nope BEFORE UPDATE ON daemon "
	    "BEGIN SELECT RAISE(ABORT, 'disk says no'); END;");
	ck_assert_int_eq(rbd_store_heartbeat(s, wall1 + RBD_USEC_PER_MIN, err,
	    sizeof(err)), -EIO);
	snprintf(want, sizeof(want), "%s: disk says no", dbpath);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(raw_query("SELECT alive_at FROM daemon", NULL, 0),
	    WALL0 + RBD_USEC_PER_MIN);
	ck_assert_int_eq(raw_query("SELECT since_at FROM snapshots", NULL, 0),
	    WALL0);

	/* Writable again: moved onto this run's clock, 2 minutes watched
	 * since the resume. */
	raw_exec("DROP TRIGGER nope");
	heartbeat_ok(s, wall1 + 2 * RBD_USEC_PER_MIN);
	ck_assert_int_eq(raw_query("SELECT since_at FROM snapshots", NULL, 0),
	    wall1 - RBD_USEC_PER_MIN);
	ck_assert_int_eq(raw_query("SELECT alive_at FROM daemon", NULL, 0),
	    wall1 + 2 * RBD_USEC_PER_MIN);
	rbd_store_free(s);
	s = open_ok();
	w = load_ok(s, "checkout", mono1, wall1 + RBD_USEC_PER_HOUR, &found);
	ck_assert_uint_eq(left_at(w, mono1), 7 * RBD_USEC_PER_MIN);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

START_TEST(test_since_clamped)
{
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_step st = mkstep("deployed", RBD_STATE_IDLE,
	    RBD_STATE_WATCHING, "v1 announced");
	struct rbd_store *s = open_ok();
	bool found = false;

	/* 3 minutes elapsed, but after the restart the monotonic clock is
	 * only at 1 minute: since cannot go below 0. */
	set_watch(w, RBD_STATE_WATCHING, MONO0, "v1", "", "", st.reason);
	commit_ok(s, "a", w, &st, NULL, MONO0 + 3 * RBD_USEC_PER_MIN, WALL0);
	/* A state entered "in the future" counts as just now; a wall clock
	 * near the epoch cannot go before it. */
	w->since = MONO0 + RBD_USEC_PER_HOUR;
	commit_ok(s, "b", w, &st, NULL, MONO0, WALL0);
	w->since = 0;
	commit_ok(s, "c", w, &st, NULL, MONO0, 5);
	rbd_watch_free(w);
	rbd_store_free(s);

	s = open_ok();
	w = load_ok(s, "a", RBD_USEC_PER_MIN, WALL0, &found);
	ck_assert_uint_eq(w->since, 0);
	rbd_watch_free(w);
	w = load_ok(s, "b", 42, WALL0, &found);
	ck_assert_uint_eq(w->since, 42);
	rbd_watch_free(w);
	ck_assert_int_eq(raw_query("SELECT since_at FROM snapshots "
	    "WHERE service = 'c'", NULL, 0), 0);
	rbd_store_free(s);
}
END_TEST

/* --- history --- */

START_TEST(test_history_newest_first_with_limit)
{
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_store *s = open_ok();
	struct rbd_history_entry *h = (struct rbd_history_entry *)&h;
	char err[512] = "", reason[32];
	size_t n = 99;

	for (int i = 1; i <= 5; i++) {
		struct rbd_step st;

		snprintf(reason, sizeof(reason), "step %d", i);
		st = mkstep("marked-good", RBD_STATE_IDLE, RBD_STATE_IDLE,
		    reason);
		commit_ok(s, "checkout", w, &st, NULL, MONO0, WALL0 + i);
		if (i <= 2)
			commit_ok(s, "search", w, &st, NULL, MONO0, WALL0 + i);
	}
	ck_assert_int_eq(rbd_store_history(s, "checkout", 3, &h, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(h[0].reason, "step 5");
	ck_assert_str_eq(h[1].reason, "step 4");
	ck_assert_str_eq(h[2].reason, "step 3");
	ck_assert_uint_eq(h[0].at_wall, WALL0 + 5);
	ck_assert_int_gt(h[0].id, h[1].id);
	ck_assert_int_gt(h[1].id, h[2].id);
	free(h);
	ck_assert_int_eq(rbd_store_history(s, "checkout", 100, &h, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(h[4].reason, "step 1");
	free(h);
	ck_assert_int_eq(rbd_store_history(s, "search", 100, &h, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(h[0].reason, "step 2");
	free(h);
	ck_assert_int_eq(rbd_store_history(s, "search", 0, &h, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(h);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* --- what is not written --- */

START_TEST(test_no_record_writes_nothing)
{
	struct rbd_watch *w = rbd_watch_new(&policy), *got;
	struct rbd_step st = mkstep("sample", RBD_STATE_WATCHING,
	    RBD_STATE_WATCHING, "nothing");
	struct rbd_store *s = open_ok();
	struct rbd_history_entry *h = NULL;
	struct rbd_release rel;
	char err[512] = "", **names = NULL;
	size_t n = 99;
	bool found = true;

	set_watch(w, RBD_STATE_WATCHING, MONO0, "v1", "", "", "watching");
	add_update(&st, "v1", RBD_RELEASE_WATCHING);
	st.record = false;
	ck_assert_int_eq(rbd_store_commit(s, "checkout", w, &st, NULL, MONO0,
	    WALL0, err, sizeof(err)), 0);
	got = load_ok(s, "checkout", MONO0, WALL0, &found);
	ck_assert(!found);
	ck_assert_int_eq(got->state, RBD_STATE_IDLE);	/* left as made */
	ck_assert_str_eq(got->live, "");
	rbd_watch_free(got);
	ck_assert_int_eq(rbd_store_history(s, "checkout", 10, &h, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(rbd_store_release(s, "checkout", "v1", &rel, err,
	    sizeof(err)), -ENOENT);
	ck_assert_int_eq(rbd_store_services(s, &names, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(names[0]);
	rbd_argv_free(names);

	/* Nor does it overwrite a snapshot that exists. */
	st.record = true;
	commit_ok(s, "checkout", w, &st, NULL, MONO0, WALL0);
	set_watch(w, RBD_STATE_HELD, MONO0, "v9", "", "", "held");
	st.record = false;
	ck_assert_int_eq(rbd_store_commit(s, "checkout", w, &st, NULL, MONO0,
	    WALL0, err, sizeof(err)), 0);
	got = load_ok(s, "checkout", MONO0, WALL0, &found);
	ck_assert(found);
	ck_assert_int_eq(got->state, RBD_STATE_WATCHING);
	ck_assert_str_eq(got->live, "v1");
	rbd_watch_free(got);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* A failed commit leaves no trace: no event, no release, no snapshot. */
static void assert_empty(struct rbd_store *s)
{
	struct rbd_history_entry *h = NULL;
	struct rbd_release rel;
	char err[512] = "", **names = NULL;
	size_t n = 99;

	ck_assert_int_eq(rbd_store_history(s, "checkout", 10, &h, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(rbd_store_release(s, "checkout", "v1", &rel, err,
	    sizeof(err)), -ENOENT);
	ck_assert_int_eq(rbd_store_services(s, &names, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	rbd_argv_free(names);
}

START_TEST(test_failed_commit_is_rolled_back)
{
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_event ev = { .type = RBD_EV_DEPLOYED, .version = "v1" };
	struct rbd_step st = mkstep("deployed", RBD_STATE_IDLE,
	    RBD_STATE_WATCHING, "v1 announced");
	struct rbd_store *s = open_ok();
	char err[512] = "", want[512], meta[RBD_STORE_META_MAX + 1];
	uint64_t since, failures;

	set_watch(w, RBD_STATE_WATCHING, MONO0, "v1", "", "", st.reason);
	set_list(w->good, &w->n_good, (const char *const[]){ "v0", NULL });
	add_update(&st, "v1", RBD_RELEASE_WATCHING);
	/* The last write of the transaction fails (another connection adds
	 * a trigger): the event and release rows written before it go too. */
	raw_exec("CREATE TRIGGER boom BEFORE INSERT ON snapshot_lists "
	    "BEGIN SELECT RAISE(ABORT, 'disk says no'); END;");
	ck_assert_int_eq(rbd_store_commit(s, "checkout", w, &st, &ev, MONO0,
	    WALL0, err, sizeof(err)), -EIO);
	snprintf(want, sizeof(want), "%s: disk says no", dbpath);
	ck_assert_str_eq(err, want);
	assert_empty(s);

	ck_assert_int_eq(rbd_store_commit(s, "check/out", w, &st, &ev, MONO0,
	    WALL0, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: cannot record check/out: invalid "
	    "service name", dbpath);
	ck_assert_str_eq(err, want);
	memset(meta, 'm', sizeof(meta) - 1);
	meta[sizeof(meta) - 1] = '\0';
	ev.meta = meta;
	ck_assert_int_eq(rbd_store_commit(s, "checkout", w, &st, &ev, MONO0,
	    WALL0, err, sizeof(err)), -E2BIG);
	assert_empty(s);

	/* Status says the store cannot be written, and since when: the
	 * first failed write (refusals before the store was tried do not
	 * count), until one works. */
	ck_assert_int_eq(rbd_store_commit(s, "checkout", w, &st, NULL, MONO0,
	    WALL0 + 5, err, sizeof(err)), -EIO);
	since = failures = 0;
	ck_assert_int_eq(rbd_store_write_error(s, &since, &failures, err,
	    sizeof(err)), -EIO);
	snprintf(want, sizeof(want), "%s: disk says no", dbpath);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(since, WALL0);
	ck_assert_uint_eq(failures, 2);
	raw_exec("DROP TRIGGER boom");
	ck_assert_int_eq(rbd_store_heartbeat(s, WALL0 + 9, err, sizeof(err)), 0);
	since = 7;
	strcpy(err, "untouched");
	ck_assert_int_eq(rbd_store_write_error(s, &since, &failures, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(since, 7);
	ck_assert_str_eq(err, "untouched");
	ck_assert_uint_eq(failures, 2);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* --- schemas, pauses and the loop breaker --- */

/* Set w's known-good list with a schema for each release. */
static void set_good(struct rbd_watch *w, const char *const *versions,
    const int64_t *schemas)
{
	set_list(w->good, &w->n_good, versions);
	for (size_t i = 0; i < w->n_good; i++)
		w->good_schema[i] = schemas[i];
}

/* A deployed event announcing version with a schema and a migration. */
static struct rbd_event deployed(const char *version, int64_t schema,
    enum rbd_migration migration)
{
	return (struct rbd_event){ .type = RBD_EV_DEPLOYED, .version = version,
	    .actor = "ci", .schema = schema, .migration = migration };
}

/* The schema a release was announced with, its migration, and whether
 * the store holds SQL NULL for both. */
static void assert_release_schema(struct rbd_store *s, const char *version,
    int64_t schema, enum rbd_migration migration, bool null)
{
	struct rbd_release rel;
	char err[512] = "", sql[256];

	ck_assert_int_eq(rbd_store_release(s, "checkout", version, &rel, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(rel.schema, schema);
	ck_assert_int_eq(rel.migration, migration);
	snprintf(sql, sizeof(sql), "SELECT schema IS NULL AND migration IS NULL"
	    " FROM releases WHERE version = '%s'", version);
	ck_assert_int_eq(raw_query(sql, NULL, 0), null);
}

/* A rollback across a reversible migration, interrupted while migrate_down
 * runs: the schema, the one before, how it moved, the migration in flight
 * and the known-good releases' schemas all come back; then a watch with no
 * schema at all comes back with none (not schema 0). */
START_TEST(test_schema_survives_reopen)
{
	static const char *const good[] = { "v2.4.1", "v2.4.0", "v2.3.0", NULL };
	static const int64_t schemas[] = { 42, RBD_SCHEMA_NONE, 0 };
	struct rbd_store *s = open_ok();
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_event ev = deployed("v2.5.0", 43, RBD_MIGRATION_REVERSIBLE);
	struct rbd_step st = mkstep("deployed", RBD_STATE_IDLE,
	    RBD_STATE_WATCHING, "v2.5.0 announced by ci; watching for 10m");
	bool found = false;

	ck_assert_ptr_nonnull(w);
	set_watch(w, RBD_STATE_WATCHING, MONO0, "v2.5.0", "", "", st.reason);
	set_good(w, good, schemas);
	w->schema = 43;
	w->schema_before = 42;
	w->migration = RBD_MIGRATION_REVERSIBLE;
	add_update(&st, "v2.5.0", RBD_RELEASE_WATCHING);
	commit_ok(s, "checkout", w, &st, &ev, MONO0, WALL0);

	st = mkstep("degraded", RBD_STATE_WATCHING, RBD_STATE_ROLLING_BACK,
	    "running migrate_down 43 -> 42, then rolling back to v2.4.1");
	set_watch(w, RBD_STATE_ROLLING_BACK, MONO0 + RBD_USEC_PER_MIN,
	    "v2.5.0", "v2.4.1", "v2.5.0", st.reason);
	w->migrating = true;
	w->target_schema = 42;
	w->deploy_id = 4;
	w->next_deploy_id = 5;
	commit_ok(s, "checkout", w, &st, NULL, MONO0 + RBD_USEC_PER_MIN,
	    WALL0 + RBD_USEC_PER_MIN);
	rbd_watch_free(w);
	rbd_store_free(s);

	s = open_ok();
	w = load_ok(s, "checkout", MONO0, WALL0 + RBD_USEC_PER_HOUR, &found);
	ck_assert(found);
	ck_assert_int_eq(w->state, RBD_STATE_ROLLING_BACK);
	ck_assert_int_eq(w->schema, 43);
	ck_assert_int_eq(w->schema_before, 42);
	ck_assert_int_eq(w->migration, RBD_MIGRATION_REVERSIBLE);
	ck_assert(w->migrating);
	ck_assert_int_eq(w->target_schema, 42);
	ck_assert_uint_eq(w->deploy_id, 4);
	assert_list(w->good, w->n_good, good);
	for (size_t i = 0; i < N_ELEMENTS(schemas); i++)
		ck_assert_int_eq(w->good_schema[i], schemas[i]);

	/* Rolled back to a release that did not say: nothing is known. */
	st = mkstep("verified", RBD_STATE_VERIFYING, RBD_STATE_IDLE,
	    "rollback to v2.3.9 verified: healthy for 5m");
	set_watch(w, RBD_STATE_IDLE, MONO0, "v2.3.9", "", "", st.reason);
	w->schema = w->schema_before = w->target_schema = RBD_SCHEMA_NONE;
	w->migration = RBD_MIGRATION_NONE;
	w->migrating = false;
	set_good(w, (const char *const[]){ "v2.3.9", NULL },
	    (const int64_t[]){ RBD_SCHEMA_NONE });
	commit_ok(s, "checkout", w, &st, NULL, MONO0, WALL0 + RBD_USEC_PER_HOUR);
	rbd_watch_free(w);
	w = load_ok(s, "checkout", MONO0, WALL0 + RBD_USEC_PER_HOUR, &found);
	ck_assert_int_eq(w->schema, RBD_SCHEMA_NONE);
	ck_assert_int_eq(w->schema_before, RBD_SCHEMA_NONE);
	ck_assert_int_eq(w->target_schema, RBD_SCHEMA_NONE);
	ck_assert_int_eq(w->migration, RBD_MIGRATION_NONE);
	ck_assert(!w->migrating);
	ck_assert_uint_eq(w->n_good, 1);
	ck_assert_int_eq(w->good_schema[0], RBD_SCHEMA_NONE);
	ck_assert_int_eq(raw_query("SELECT count(*) FROM snapshot_lists"
	    " WHERE schema IS NULL", NULL, 0), 1);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* A release keeps the schema and migration it was announced with; one
 * announced without a schema has neither (SQL NULL), schema 0 is a
 * schema, and announcing a release again replaces them. */
START_TEST(test_release_schema)
{
	struct rbd_store *s = open_ok();
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_step st = mkstep("deployed", RBD_STATE_IDLE,
	    RBD_STATE_WATCHING, "announced");
	struct rbd_event ev = deployed("v2.5.0", 43,
	    RBD_MIGRATION_IRREVERSIBLE);

	set_watch(w, RBD_STATE_WATCHING, MONO0, "v2.5.0", "", "", st.reason);
	commit_ok(s, "checkout", w, &st, &ev, MONO0, WALL0);
	ev = deployed("v2.5.1", RBD_SCHEMA_NONE, RBD_MIGRATION_NONE);
	commit_ok(s, "checkout", w, &st, &ev, MONO0, WALL0 + 1);
	ev = deployed("v0.1", 0, RBD_MIGRATION_NONE);
	commit_ok(s, "checkout", w, &st, &ev, MONO0, WALL0 + 2);
	assert_release_schema(s, "v2.5.0", 43, RBD_MIGRATION_IRREVERSIBLE, false);
	assert_release_schema(s, "v2.5.1", RBD_SCHEMA_NONE, RBD_MIGRATION_NONE,
	    true);
	assert_release_schema(s, "v0.1", 0, RBD_MIGRATION_NONE, false);

	/* Announced again after a fix, now with a reversible migration;
	 * then again without a schema at all. */
	ev = deployed("v2.5.0", 44, RBD_MIGRATION_REVERSIBLE);
	commit_ok(s, "checkout", w, &st, &ev, MONO0, WALL0 + 3);
	assert_release_schema(s, "v2.5.0", 44, RBD_MIGRATION_REVERSIBLE, false);
	ev = deployed("v2.5.0", RBD_SCHEMA_NONE, RBD_MIGRATION_NONE);
	commit_ok(s, "checkout", w, &st, &ev, MONO0, WALL0 + 4);
	assert_release_schema(s, "v2.5.0", RBD_SCHEMA_NONE, RBD_MIGRATION_NONE,
	    true);
	/* A status change keeps them. */
	ev = deployed("v2.6.0", 45, RBD_MIGRATION_NONE);
	commit_ok(s, "checkout", w, &st, &ev, MONO0, WALL0 + 5);
	st = mkstep("promoted", RBD_STATE_WATCHING, RBD_STATE_IDLE, "promoted");
	add_update(&st, "v2.6.0", RBD_RELEASE_GOOD);
	commit_ok(s, "checkout", w, &st, NULL, MONO0, WALL0 + 6);
	assert_release_schema(s, "v2.6.0", 45, RBD_MIGRATION_NONE, false);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* What the engine cannot have made is refused before anything is
 * written. */
START_TEST(test_schema_refused)
{
	static const struct {
		int64_t ev_schema, w_schema, good_schema;
		enum rbd_migration ev_migration;
		size_t n_auto;
		const char *msg;
	} cases[] = {
		{ -2, RBD_SCHEMA_NONE, 1, RBD_MIGRATION_NONE, 0,
		  "deployed event with an invalid schema or migration" },
		{ RBD_SCHEMA_MAX + 1, RBD_SCHEMA_NONE, 1, RBD_MIGRATION_NONE, 0,
		  "deployed event with an invalid schema or migration" },
		{ 1, RBD_SCHEMA_NONE, 1, _RBD_MIGRATION_MAX, 0,
		  "deployed event with an invalid schema or migration" },
		{ 1, -7, 1, RBD_MIGRATION_NONE, 0,
		  "invalid schema or migration" },
		{ 1, RBD_SCHEMA_NONE, -7, RBD_MIGRATION_NONE, 0,
		  "invalid schema of a known-good release" },
		{ 1, RBD_SCHEMA_NONE, 1, RBD_MIGRATION_NONE,
		  RBD_WATCH_AUTO_MAX + 1, "list longer than its bound" },
	};
	struct rbd_store *s = open_ok();
	char err[512], want[512];

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct rbd_watch *w = rbd_watch_new(&policy);
		struct rbd_event ev = deployed("v1", cases[i].ev_schema,
		    cases[i].ev_migration);
		struct rbd_step st = mkstep("deployed", RBD_STATE_IDLE,
		    RBD_STATE_WATCHING, "v1 announced");

		set_watch(w, RBD_STATE_WATCHING, MONO0, "v1", "", "", st.reason);
		set_good(w, (const char *const[]){ "v0", NULL },
		    &cases[i].good_schema);
		w->schema = cases[i].w_schema;
		w->schema_before = w->target_schema = RBD_SCHEMA_NONE;
		w->n_auto = cases[i].n_auto;
		ck_assert_int_eq(rbd_store_commit(s, "checkout", w, &st, &ev,
		    MONO0, WALL0, err, sizeof(err)), -EINVAL);
		snprintf(want, sizeof(want), "%s: cannot record checkout: %s",
		    dbpath, cases[i].msg);
		ck_assert_str_eq(err, want);
		rbd_watch_free(w);
	}
	assert_empty(s);
	rbd_store_free(s);
}
END_TEST

#define MIN	RBD_USEC_PER_MIN

/* A pause committed at (MONO0, WALL0), reloaded after a restart. */
static const struct {
	const char *name;
	bool paused;
	uint64_t until, until_wall;	/* as the engine had them */
	uint64_t mono2, wall2;		/* the clocks after the restart */
	uint64_t want_until, want_until_wall;
} pause_cases[] = {
	/* 10 minutes, back after 3 on a new boot: 7 minutes left. */
	{ "pause 10m, down 3m", true, MONO0 + 10 * MIN, WALL0 + 10 * MIN,
	  500 * RBD_USEC_PER_SEC, WALL0 + 3 * MIN,
	  500 * RBD_USEC_PER_SEC + 7 * MIN, WALL0 + 10 * MIN },
	/* It ended while the daemon was down: due at once, and still a
	 * pause with an end (0 would mean until resumed). */
	{ "expired while down", true, MONO0 + 10 * MIN, WALL0 + 10 * MIN,
	  500 * RBD_USEC_PER_SEC, WALL0 + RBD_USEC_PER_HOUR,
	  500 * RBD_USEC_PER_SEC, WALL0 + 10 * MIN },
	{ "expired, engine clock at zero", true, MONO0 + 10 * MIN,
	  WALL0 + 10 * MIN, 0, WALL0 + RBD_USEC_PER_HOUR,
	  1, WALL0 + 10 * MIN },
	{ "ends exactly now", true, MONO0 + 10 * MIN, WALL0 + 10 * MIN,
	  500 * RBD_USEC_PER_SEC, WALL0 + 10 * MIN,
	  500 * RBD_USEC_PER_SEC, WALL0 + 10 * MIN },
	{ "until resumed", true, 0, 0, 500 * RBD_USEC_PER_SEC,
	  WALL0 + RBD_USEC_PER_HOUR, 0, 0 },
	/* An engine that had no wall time for it: worked out from its own
	 * clock. */
	{ "no wall time from the engine", true, MONO0 + 10 * MIN, 0,
	  500 * RBD_USEC_PER_SEC, WALL0 + 4 * MIN,
	  500 * RBD_USEC_PER_SEC + 6 * MIN, WALL0 + 10 * MIN },
	/* Resumed: what is left of the pause is not kept. */
	{ "not paused", false, MONO0 + 10 * MIN, WALL0 + 10 * MIN,
	  500 * RBD_USEC_PER_SEC, WALL0 + 3 * MIN, 0, 0 },
};

START_TEST(test_pause_survives_restart)
{
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_event ev = { .type = RBD_EV_PAUSE, .actor = "uid 0 (pid 42)",
	    .text = "db maintenance", .duration = 10 * MIN };
	struct rbd_step st = mkstep("paused", RBD_STATE_IDLE, RBD_STATE_IDLE,
	    "paused by uid 0 (pid 42) for 10m: db maintenance");
	struct rbd_store *s = open_ok();
	bool found = false, paused = pause_cases[_i].paused;

	set_watch(w, RBD_STATE_IDLE, MONO0, "v1", "", "", st.reason);
	w->paused = paused;
	w->pause_until = pause_cases[_i].until;
	w->pause_until_wall = pause_cases[_i].until_wall;
	snprintf(w->pause_reason, sizeof(w->pause_reason), "db maintenance");
	snprintf(w->paused_by, sizeof(w->paused_by), "uid 0 (pid 42)");
	commit_ok(s, "checkout", w, &st, &ev, MONO0, WALL0);
	rbd_store_free(s);
	rbd_watch_free(w);

	s = open_ok();
	w = load_ok(s, "checkout", pause_cases[_i].mono2, pause_cases[_i].wall2,
	    &found);
	ck_assert(found);
	ck_assert_msg(w->paused == paused, "%s", pause_cases[_i].name);
	ck_assert_msg(w->pause_until == pause_cases[_i].want_until,
	    "%s: pause_until %llu", pause_cases[_i].name,
	    (unsigned long long)w->pause_until);
	ck_assert_msg(w->pause_until_wall == pause_cases[_i].want_until_wall,
	    "%s: pause_until_wall %llu", pause_cases[_i].name,
	    (unsigned long long)w->pause_until_wall);
	ck_assert_str_eq(w->pause_reason, paused ? "db maintenance" : "");
	ck_assert_str_eq(w->paused_by, paused ? "uid 0 (pid 42)" : "");
	ck_assert_str_eq(w->live, "v1");
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* Remedies: the remedy being tried, the window it interrupted and why
 * survive a restart; whether it was settling does not (it runs again). */
START_TEST(test_remedy_survives_restart)
{
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_event ev = { .type = RBD_EV_REMEDY_DONE, .deploy_id = 3 };
	struct rbd_step st = mkstep("remedying", RBD_STATE_REMEDYING,
	    RBD_STATE_REMEDYING, "healthz: HTTP 500; trying remedy restart");
	struct rbd_store *s = open_ok();
	bool found = false;

	set_watch(w, RBD_STATE_REMEDYING, MONO0, "v2", "", "", st.reason);
	w->remedy = 1;
	w->remedy_settling = true;
	w->remedy_at = MONO0;
	w->remedy_watch_since = MONO0 - 2 * MIN;
	snprintf(w->remedy_why, sizeof(w->remedy_why), "healthz: HTTP 500");
	commit_ok(s, "checkout", w, &st, &ev, MONO0, WALL0);
	rbd_store_free(s);
	rbd_watch_free(w);

	s = open_ok();
	w = load_ok(s, "checkout", MONO0 + MIN, WALL0 + MIN, &found);
	ck_assert(found);
	ck_assert_int_eq(w->state, RBD_STATE_REMEDYING);
	ck_assert_uint_eq(w->remedy, 1);
	ck_assert(!w->remedy_settling);
	ck_assert_uint_eq(w->remedy_at, 0);
	ck_assert_uint_eq(w->remedy_watch_since, MONO0 - 2 * MIN);
	ck_assert_str_eq(w->remedy_why, "healthz: HTTP 500");
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* The loop breaker's memory: three automatic rollbacks, 50, 20 and 1
 * minutes before a commit, are 60, 30 and 11 minutes old after ten
 * minutes down (the loop breaker's period is real time: downtime counts),
 * on a new boot with another monotonic clock. The store keeps them on
 * the wall clock. */
START_TEST(test_auto_times_survive_restart)
{
	static const uint64_t before[] = { 50 * MIN, 20 * MIN, 1 * MIN };
	static const uint64_t after[] = { 60 * MIN, 30 * MIN, 11 * MIN };
	uint64_t mono = 10000 * RBD_USEC_PER_SEC, mono2 = 7777 * RBD_USEC_PER_SEC;
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_step st = mkstep("degraded", RBD_STATE_WATCHING,
	    RBD_STATE_ROLLING_BACK, "rolling back");
	struct rbd_store *s = open_ok();
	bool found = false;

	set_watch(w, RBD_STATE_ROLLING_BACK, mono, "v2", "v1", "v2", st.reason);
	for (size_t i = 0; i < N_ELEMENTS(before); i++)
		w->auto_times[i] = mono - before[i];
	w->n_auto = N_ELEMENTS(before);
	commit_ok(s, "checkout", w, &st, NULL, mono, WALL0);
	ck_assert_int_eq(raw_query("SELECT at FROM snapshot_auto WHERE pos = 0",
	    NULL, 0), WALL0 - 50 * MIN);
	rbd_store_free(s);
	rbd_watch_free(w);

	s = open_ok();
	w = load_ok(s, "checkout", mono2, WALL0 + 10 * MIN, &found);
	ck_assert(found);
	ck_assert_uint_eq(w->n_auto, N_ELEMENTS(after));
	for (size_t i = 0; i < N_ELEMENTS(after); i++)
		ck_assert_uint_eq(mono2 - w->auto_times[i], after[i]);
	rbd_watch_free(w);

	/* A wall clock that went back an hour: they all count as now, never
	 * as older than they are. */
	w = load_ok(s, "checkout", mono2, WALL0 - RBD_USEC_PER_HOUR, &found);
	ck_assert_uint_eq(w->n_auto, N_ELEMENTS(after));
	for (size_t i = 0; i < N_ELEMENTS(after); i++)
		ck_assert_uint_eq(w->auto_times[i], mono2);

	/* The engine dropped the old ones: so does the store. */
	w->auto_times[0] = w->auto_times[2];
	w->n_auto = 1;
	commit_ok(s, "checkout", w, &st, NULL, mono2, WALL0 + 10 * MIN);
	ck_assert_int_eq(raw_query("SELECT count(*) FROM snapshot_auto", NULL,
	    0), 1);
	rbd_watch_free(w);

	/* As many as the engine keeps. */
	w = rbd_watch_new(&policy);
	set_watch(w, RBD_STATE_IDLE, mono, "v1", "", "", "idle");
	for (size_t i = 0; i < RBD_WATCH_AUTO_MAX; i++)
		w->auto_times[i] = mono - (RBD_WATCH_AUTO_MAX - i) * MIN;
	w->n_auto = RBD_WATCH_AUTO_MAX;
	commit_ok(s, "checkout", w, &st, NULL, mono, WALL0);
	rbd_watch_free(w);
	w = load_ok(s, "checkout", mono, WALL0, &found);
	ck_assert_uint_eq(w->n_auto, RBD_WATCH_AUTO_MAX);
	ck_assert_uint_eq(w->auto_times[0], mono - RBD_WATCH_AUTO_MAX * MIN);
	ck_assert_uint_eq(w->auto_times[RBD_WATCH_AUTO_MAX - 1], mono - MIN);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* Drill: a drill in progress and the last one's result survive a
 * restart: the phase, the abort, the failure, each leg's timings, L and
 * K, and when the last drill ended and last passed. */
START_TEST(test_drill_survives_restart)
{
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_step st = mkstep("drill-rolled-back", RBD_STATE_DRILLING,
	    RBD_STATE_DRILLING, "drill: deployed v1 (rollback from v2) in 2.0s");
	struct rbd_store *s = open_ok();
	struct rbd_history_entry *h = NULL;
	char err[512];
	bool found = false;
	size_t n = 0;

	set_watch(w, RBD_STATE_DRILLING, MONO0, "v1", "v1", "v2", st.reason);
	w->drill_phase = RBD_DRILL_VERIFY_BACK;
	w->drill_abort = true;
	snprintf(w->drill_failure, sizeof(w->drill_failure), "v1 unhealthy");
	snprintf(w->drill_l, sizeof(w->drill_l), "v2");
	snprintf(w->drill_k, sizeof(w->drill_k), "v1");
	w->drill_legs[0] = (struct rbd_drill_leg){ RBD_LEG_VERIFYING, 2000000,
	    true, 31000000, 0 };
	w->drill_legs[1] = (struct rbd_drill_leg){ RBD_LEG_PENDING, 0, false,
	    0, 0 };
	w->drill_last = RBD_DRILL_FAILED;
	w->drill_last_wall = WALL0 - 3 * RBD_USEC_PER_DAY;
	w->drill_passed_wall = WALL0 - 10 * RBD_USEC_PER_DAY;
	snprintf(w->drill_last_reason, sizeof(w->drill_last_reason), "v0 bad");
	commit_ok(s, "checkout", w, &st, NULL, MONO0, WALL0);
	rbd_store_free(s);
	rbd_watch_free(w);

	s = open_ok();
	w = load_ok(s, "checkout", MONO0 + MIN, WALL0 + MIN, &found);
	ck_assert(found);
	ck_assert_int_eq(w->state, RBD_STATE_DRILLING);
	ck_assert_int_eq(w->drill_phase, RBD_DRILL_VERIFY_BACK);
	ck_assert(w->drill_abort);
	ck_assert_str_eq(w->drill_failure, "v1 unhealthy");
	ck_assert_str_eq(w->drill_l, "v2");
	ck_assert_str_eq(w->drill_k, "v1");
	ck_assert_str_eq(w->target, "v1");
	ck_assert_int_eq(w->drill_legs[0].state, RBD_LEG_VERIFYING);
	ck_assert_uint_eq(w->drill_legs[0].deploy_usec, 2000000);
	ck_assert(w->drill_legs[0].healthy);
	ck_assert_uint_eq(w->drill_legs[0].healthy_usec, 31000000);
	ck_assert(!w->drill_legs[1].healthy);
	ck_assert_int_eq(w->drill_last, RBD_DRILL_FAILED);
	ck_assert_uint_eq(w->drill_last_wall, WALL0 - 3 * RBD_USEC_PER_DAY);
	ck_assert_uint_eq(w->drill_passed_wall, WALL0 - 10 * RBD_USEC_PER_DAY);
	ck_assert_str_eq(w->drill_last_reason, "v0 bad");
	/* A drill's window resumes with the time it had left: the minute
	 * the daemon was down is not counted. */
	ck_assert_uint_eq(w->since, MONO0 + MIN);
	/* The history shows the drill's target. */
	ck_assert_int_eq(rbd_store_history(s, "checkout", 5, &h, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(h[0].target, "v1");
	ck_assert_int_eq(h[0].to, RBD_STATE_DRILLING);
	free(h);
	rbd_watch_free(w);

	/* A drilling snapshot without its drill row is corrupt. */
	raw_exec("DELETE FROM snapshot_drill");
	w = rbd_watch_new(&policy);
	ck_assert_int_eq(rbd_store_load(s, "checkout", w, MONO0, WALL0, &found,
	    err, sizeof(err)), -EIO);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* --- schema --- */

START_TEST(test_migrate_empty_file)
{
	char mode[16];
	int fd = open(dbpath, O_WRONLY | O_CREAT | O_EXCL, 0600);
	struct rbd_store *s;

	ck_assert_int_ge(fd, 0);
	close(fd);
	s = open_ok();
	rbd_store_free(s);
	ck_assert_int_eq(raw_query("PRAGMA user_version", NULL, 0),
	    RBD_STORE_SCHEMA);
	raw_query("PRAGMA journal_mode", mode, sizeof(mode));
	ck_assert_str_eq(mode, "wal");
	ck_assert_int_eq(raw_query("SELECT count(*) FROM sqlite_schema WHERE "
	    "name IN ('releases', 'events', 'snapshots', 'snapshot_lists',"
	    " 'daemon', 'snapshot_auto')", NULL, 0), 6);
	/* Opening a current store again migrates nothing (and fails on
	 * nothing: "table already exists"). */
	s = open_ok();
	rbd_store_free(s);
	ck_assert_int_eq(raw_query("PRAGMA user_version", NULL, 0),
	    RBD_STORE_SCHEMA);
}
END_TEST

/* Schema version 1 as rollbackd wrote it: a frozen copy of migrations[0]
 * in store.c (a migration that has shipped never changes). */
static const char schema_v1[] =
	"CREATE TABLE releases ("
	"  service TEXT NOT NULL,"
	"  version TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  announced_at INTEGER,"
	"  announced_by TEXT,"
	"  meta TEXT,"
	"  updated_at INTEGER NOT NULL,"
	"  PRIMARY KEY (service, version)"
	") STRICT;"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at INTEGER NOT NULL,"
	"  service TEXT NOT NULL,"
	"  event TEXT NOT NULL,"
	"  from_state TEXT NOT NULL,"
	"  to_state TEXT NOT NULL,"
	"  live TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  actor TEXT,"
	"  reason TEXT NOT NULL"
	") STRICT;"
	"CREATE INDEX events_by_service ON events (service, id);"
	"CREATE TRIGGER events_append_only BEFORE UPDATE ON events"
	"  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
	"CREATE TABLE snapshots ("
	"  service TEXT PRIMARY KEY NOT NULL,"
	"  state TEXT NOT NULL,"
	"  since_at INTEGER NOT NULL,"
	"  live TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  from_release TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  deploy_id INTEGER NOT NULL,"
	"  next_deploy_id INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE snapshot_lists ("
	"  service TEXT NOT NULL"
	"    REFERENCES snapshots (service) ON DELETE CASCADE,"
	"  list TEXT NOT NULL CHECK (list IN ('good', 'bad')),"
	"  pos INTEGER NOT NULL CHECK (pos >= 0),"
	"  version TEXT NOT NULL,"
	"  PRIMARY KEY (service, list, pos)"
	") STRICT;"
	"PRAGMA user_version = 1;";

/* A version-1 store with a watch 3 minutes into v2, as the last commit
 * before an upgrade left it, migrates to the current schema with all of
 * it; with no heartbeat on record, the watch counts up to that commit. */
START_TEST(test_migrate_from_v1)
{
	static const char *const good[] = { "v1", NULL };
	struct rbd_history_entry *h = NULL;
	struct rbd_release rel;
	struct rbd_watch *w;
	struct rbd_store *s;
	char err[512] = "", sql[1024];
	size_t n = 0;
	bool found = false;

	raw_exec("PRAGMA journal_mode = WAL");
	raw_exec(schema_v1);
	snprintf(sql, sizeof(sql),
	    "INSERT INTO releases VALUES ('checkout', 'v2', 'watching',"
	    " %llu, 'ci', '{}', %llu);"
	    "INSERT INTO events (at, service, event, from_state, to_state,"
	    " live, target, actor, reason) VALUES (%llu, 'checkout',"
	    " 'deployed', 'idle', 'watching', 'v2', '', 'ci',"
	    " 'v2 announced by ci; watching for 10m');"
	    "INSERT INTO snapshots VALUES ('checkout', 'watching', %llu, 'v2',"
	    " '', '', 'v2 announced by ci; watching for 10m', 0, 3, %llu);"
	    "INSERT INTO snapshot_lists VALUES ('checkout', 'good', 0, 'v1');",
	    (unsigned long long)WALL0, (unsigned long long)WALL0,
	    (unsigned long long)WALL0,
	    (unsigned long long)(WALL0 - 3 * RBD_USEC_PER_MIN),
	    (unsigned long long)WALL0);
	raw_exec(sql);
	ck_assert_int_eq(raw_query("PRAGMA user_version", NULL, 0), 1);

	s = open_ok();
	ck_assert_int_eq(raw_query("PRAGMA user_version", NULL, 0),
	    RBD_STORE_SCHEMA);
	ck_assert_int_eq(raw_query("SELECT count(*) FROM daemon", NULL, 0), 0);
	w = load_ok(s, "checkout", 500 * RBD_USEC_PER_SEC,
	    WALL0 + RBD_USEC_PER_HOUR, &found);
	ck_assert(found);
	ck_assert_int_eq(w->state, RBD_STATE_WATCHING);
	ck_assert_str_eq(w->live, "v2");
	ck_assert_uint_eq(w->next_deploy_id, 3);
	assert_list(w->good, w->n_good, good);
	ck_assert_uint_eq(left_at(w, 500 * RBD_USEC_PER_SEC),
	    7 * RBD_USEC_PER_MIN);
	rbd_watch_free(w);
	ck_assert_int_eq(rbd_store_history(s, "checkout", 10, &h, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(h[0].event, "deployed");
	ck_assert_str_eq(h[0].actor, "ci");
	free(h);
	ck_assert_int_eq(rbd_store_release(s, "checkout", "v2", &rel, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(rel.status, RBD_RELEASE_WATCHING);
	ck_assert_uint_eq(rel.announced_wall, WALL0);
	/* The new table takes heartbeats. */
	heartbeat_ok(s, WALL0 + RBD_USEC_PER_HOUR);
	ck_assert_int_eq(raw_query("SELECT alive_at FROM daemon", NULL, 0),
	    WALL0 + RBD_USEC_PER_HOUR);
	rbd_store_free(s);
}
END_TEST

/* What migrations[1] in store.c added to schema version 1 (frozen too). */
static const char schema_v2[] =
	"CREATE TABLE daemon ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  alive_at INTEGER NOT NULL"
	") STRICT;"
	"PRAGMA user_version = 2;";

/* A version-2 store, as rollbackd left it with v2.4.2 being rolled back
 * to v2.4.1, migrates to the current schema: everything it had comes
 * back, and what it could not know reads as unknown (no schema anywhere,
 * no pause, no automatic rollbacks on record). The new columns and table
 * then take what a commit writes. */
START_TEST(test_migrate_from_v2)
{
	static const char *const good[] = { "v2.4.1", "v2.4.0", NULL };
	static const char *const bad[] = { "v2.4.2", NULL };
	struct rbd_release rel;
	struct rbd_watch *w;
	struct rbd_store *s;
	struct rbd_event ev = deployed("v2.5.0", 43,
	    RBD_MIGRATION_IRREVERSIBLE);
	struct rbd_step st = mkstep("deployed", RBD_STATE_IDLE,
	    RBD_STATE_WATCHING, "v2.5.0 announced by ci; watching for 10m");
	char err[512] = "", sql[2048];
	bool found = false;

	raw_exec("PRAGMA journal_mode = WAL");
	raw_exec(schema_v1);
	raw_exec(schema_v2);
	snprintf(sql, sizeof(sql),
	    "INSERT INTO releases VALUES ('checkout', 'v2.4.2', 'bad',"
	    " %llu, 'ci', '{}', %llu);"
	    "INSERT INTO events (at, service, event, from_state, to_state,"
	    " live, target, actor, reason) VALUES (%llu, 'checkout',"
	    " 'degraded', 'watching', 'rolling_back', 'v2.4.2', 'v2.4.1', NULL,"
	    " 'healthz: HTTP 500; rolling back from v2.4.2 to v2.4.1');"
	    "INSERT INTO snapshots VALUES ('checkout', 'rolling_back', %llu,"
	    " 'v2.4.2', 'v2.4.1', 'v2.4.2', 'rolling back', 6, 7, %llu);"
	    "INSERT INTO snapshot_lists VALUES ('checkout', 'good', 0, 'v2.4.1'),"
	    " ('checkout', 'good', 1, 'v2.4.0'), ('checkout', 'bad', 0, 'v2.4.2');"
	    "INSERT INTO daemon VALUES (1, %llu);",
	    (unsigned long long)WALL0, (unsigned long long)WALL0,
	    (unsigned long long)WALL0, (unsigned long long)WALL0,
	    (unsigned long long)WALL0, (unsigned long long)WALL0);
	raw_exec(sql);
	ck_assert_int_eq(raw_query("PRAGMA user_version", NULL, 0), 2);

	s = open_ok();
	ck_assert_int_eq(raw_query("PRAGMA user_version", NULL, 0),
	    RBD_STORE_SCHEMA);
	w = load_ok(s, "checkout", MONO0, WALL0 + RBD_USEC_PER_MIN, &found);
	ck_assert(found);
	ck_assert_int_eq(w->state, RBD_STATE_ROLLING_BACK);
	ck_assert_str_eq(w->live, "v2.4.2");
	ck_assert_str_eq(w->target, "v2.4.1");
	ck_assert_uint_eq(w->deploy_id, 6);
	assert_list(w->good, w->n_good, good);
	assert_list(w->bad, w->n_bad, bad);
	ck_assert_int_eq(w->good_schema[0], RBD_SCHEMA_NONE);
	ck_assert_int_eq(w->good_schema[1], RBD_SCHEMA_NONE);
	ck_assert_int_eq(w->schema, RBD_SCHEMA_NONE);
	ck_assert_int_eq(w->schema_before, RBD_SCHEMA_NONE);
	ck_assert_int_eq(w->migration, RBD_MIGRATION_NONE);
	ck_assert(!w->migrating);
	ck_assert_int_eq(w->target_schema, RBD_SCHEMA_NONE);
	ck_assert(!w->paused);
	ck_assert_uint_eq(w->pause_until, 0);
	ck_assert_str_eq(w->pause_reason, "");
	ck_assert_uint_eq(w->n_auto, 0);
	ck_assert_int_eq(rbd_store_release(s, "checkout", "v2.4.2", &rel, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(rel.status, RBD_RELEASE_BAD);
	ck_assert_int_eq(rel.schema, RBD_SCHEMA_NONE);
	ck_assert_int_eq(rel.migration, RBD_MIGRATION_NONE);

	/* Then a release with a schema, a pause and a rollback on record. */
	set_watch(w, RBD_STATE_WATCHING, MONO0, "v2.5.0", "", "", st.reason);
	w->schema = 43;
	w->schema_before = 42;
	w->migration = RBD_MIGRATION_IRREVERSIBLE;
	w->good_schema[0] = 42;
	w->paused = true;
	snprintf(w->paused_by, sizeof(w->paused_by), "uid 0");
	w->auto_times[0] = MONO0 - MIN;
	w->n_auto = 1;
	add_update(&st, "v2.5.0", RBD_RELEASE_WATCHING);
	commit_ok(s, "checkout", w, &st, &ev, MONO0, WALL0 + RBD_USEC_PER_MIN);
	rbd_watch_free(w);
	rbd_store_free(s);
	s = open_ok();
	w = load_ok(s, "checkout", MONO0, WALL0 + RBD_USEC_PER_MIN, &found);
	ck_assert_int_eq(w->schema, 43);
	ck_assert_int_eq(w->schema_before, 42);
	ck_assert_int_eq(w->migration, RBD_MIGRATION_IRREVERSIBLE);
	ck_assert_int_eq(w->good_schema[0], 42);
	ck_assert_int_eq(w->good_schema[1], RBD_SCHEMA_NONE);
	ck_assert(w->paused);
	ck_assert_uint_eq(w->pause_until, 0);
	ck_assert_str_eq(w->paused_by, "uid 0");
	ck_assert_uint_eq(w->n_auto, 1);
	ck_assert_uint_eq(w->auto_times[0], MONO0 - MIN);
	assert_release_schema(s, "v2.5.0", 43, RBD_MIGRATION_IRREVERSIBLE, false);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

START_TEST(test_events_are_append_only)
{
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_step st = mkstep("marked-good", RBD_STATE_IDLE,
	    RBD_STATE_IDLE, "v1 marked good");
	struct rbd_store *s = open_ok();
	sqlite3 *db;

	commit_ok(s, "checkout", w, &st, NULL, MONO0, WALL0);
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_ne(sqlite3_exec(db, "UPDATE events SET reason = 'x'",
	    NULL, NULL, NULL), SQLITE_OK);
	ck_assert_str_eq(sqlite3_errmsg(db), "events are append-only");
	sqlite3_close(db);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

START_TEST(test_newer_schema_refused)
{
	char want[512], mode[16];

	raw_exec("CREATE TABLE future (x); PRAGMA user_version = 7;");
	snprintf(want, sizeof(want), "%s: schema version 7 is newer than this "
	    "rollbackd understands (%d)", dbpath, RBD_STORE_SCHEMA);
	open_fails(-ENOTSUP, want);
	/* Refused without changing the file. */
	ck_assert_int_eq(raw_query("PRAGMA user_version", NULL, 0), 7);
	raw_query("PRAGMA journal_mode", mode, sizeof(mode));
	ck_assert_str_eq(mode, "delete");
}
END_TEST

/* --- damaged and unusable files --- */

START_TEST(test_garbage_file)
{
	static const char junk[] = "this is not a database, it is a shopping list\n";
	char want[512];
	FILE *f = fopen(dbpath, "w");

	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 200; i++)
		fputs(junk, f);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(want, sizeof(want), "%s: file is not a database", dbpath);
	open_fails(-EIO, want);
}
END_TEST

START_TEST(test_damaged_page)
{
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_store *s = open_ok();
	char want[512], err[512] = "";
	long long root, pagesize;

	for (int i = 0; i < 20; i++) {
		struct rbd_step st = mkstep("marked-good", RBD_STATE_IDLE,
		    RBD_STATE_IDLE, "a reason long enough to fill a page or "
		    "two of the events table with rows");

		commit_ok(s, "checkout", w, &st, NULL, MONO0, WALL0 + i);
	}
	rbd_store_free(s);
	root = raw_query("SELECT rootpage FROM sqlite_schema "
	    "WHERE name = 'events'", NULL, 0);
	pagesize = raw_query("PRAGMA page_size", NULL, 0);
	ck_assert_int_gt(root, 1);
	/* The events table is not read when a store opens: only
	 * quick_check can notice the damage. */
	overwrite(dbpath, (off_t)((root - 1) * pagesize), 0x5a,
	    (size_t)pagesize);
	s = (struct rbd_store *)&s;
	ck_assert_int_eq(rbd_store_open(dir, &s, err, sizeof(err)), -EIO);
	ck_assert_ptr_eq(s, (struct rbd_store *)&s);
	/* "<path>: quick_check: Page 4: btreeInitPage() returns error code
	 * 11"; what follows the page number is SQLite's wording. */
	snprintf(want, sizeof(want), "%s: quick_check: Page %lld: ", dbpath,
	    root);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0 &&
	    strlen(err) > strlen(want) + 5, "message: %s", err);
	ck_assert_ptr_null(strchr(err, '\n'));
	rbd_watch_free(w);
}
END_TEST

/* Open the store as an unprivileged user in a child process; returns the
 * result and the message. Root ignores file modes, so the child drops to
 * nobody (65534) first when it runs as root. */
static int open_unprivileged(char *err, size_t len)
{
	int fds[2], status, r = 0;
	ssize_t got;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rbd_store *s = NULL;
		char msg[512] = "";

		close(fds[0]);
		if (geteuid() == 0 && (setgroups(0, NULL) < 0 ||
		    setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0))
			_exit(2);
		r = rbd_store_open(dir, &s, msg, sizeof(msg));
		rbd_store_free(s);
		if (write(fds[1], &r, sizeof(r)) != sizeof(r) ||
		    write(fds[1], msg, sizeof(msg)) != sizeof(msg))
			_exit(3);
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &r, sizeof(r)), sizeof(r));
	got = read(fds[0], err, len - 1);
	ck_assert_int_gt(got, 0);
	err[got] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child status %d", status);
	return r;
}

/* The directory's mode: read-only, or writable by anyone (SQLite could
 * then create its -wal and -shm files next to the read-only database). */
static const mode_t ro_dir_modes[] = { 0555, 0777 };

START_TEST(test_read_only_database)
{
	struct rbd_store *s = open_ok();
	char err[512] = "", want[512];
	int r;

	rbd_store_free(s);
	ck_assert_int_eq(chmod(dbpath, 0444), 0);
	ck_assert_int_eq(chmod(dir, ro_dir_modes[_i]), 0);
	r = open_unprivileged(err, sizeof(err));
	chmod(dir, 0700);
	ck_assert_int_eq(r, -EACCES);
	snprintf(want, sizeof(want), "%s: attempt to write a readonly database",
	    dbpath);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_missing_state_dir)
{
	char want[512];

	snprintf(want, sizeof(want), "%s/nope: state directory: No such file "
	    "or directory", dir);
	strcat(dir, "/nope");
	open_fails(-ENOENT, want);
	dir[strlen(dir) - strlen("/nope")] = '\0';
	/* A file where the directory should be. */
	close(open(dbpath, O_WRONLY | O_CREAT, 0600));
	strcat(dir, "/" RBD_STORE_FILE);
	snprintf(want, sizeof(want), "%s: state directory: Not a directory",
	    dir);
	open_fails(-ENOTDIR, want);
	dir[strlen(dir) - strlen("/" RBD_STORE_FILE)] = '\0';
}
END_TEST

/* --- what the file says is checked before it is believed --- */

static const struct {
	const char *sql;	/* damage done to a valid snapshot */
	const char *msg;	/* after "<path>: " */
} corrupt_cases[] = {
	{ "UPDATE snapshots SET state = 'foo'",
	  "corrupt snapshot for service checkout: unknown state 'foo'" },
	{ "UPDATE snapshots SET live = '../../etc/passwd'",
	  "corrupt snapshot for service checkout: live release "
	  "'../../etc/passwd' is not a valid version" },
	{ "UPDATE snapshots SET target = '-rf'",
	  "corrupt snapshot for service checkout: rollback target '-rf' is not "
	  "a valid version" },
	{ "UPDATE snapshot_lists SET pos = 5 WHERE list = 'good' AND pos = 1",
	  "corrupt snapshot for service checkout: good list entry 1 out of "
	  "place" },
	{ "UPDATE snapshots SET since_at = -1",
	  "corrupt snapshot for service checkout: times or deploy ids are not "
	  "integers" },
	{ "UPDATE snapshots SET updated_at = -1",
	  "corrupt snapshot for service checkout: times or deploy ids are not "
	  "integers" },
	{ "UPDATE daemon SET alive_at = -5",
	  "corrupt heartbeat: the daemon's last sign of life is not a valid "
	  "time" },
	{ "UPDATE snapshot_lists SET version = "
	  "replace(hex(zeroblob(100)), '0', 'v') WHERE list = 'bad'",
	  "corrupt snapshot for service checkout: bad release #0 is too long" },
	{ "UPDATE snapshot_lists SET version = '' WHERE list = 'good'",
	  "corrupt snapshot for service checkout: good release #0 '' is not a "
	  "valid version" },
	{ "UPDATE snapshot_lists SET schema = -7 WHERE list = 'good' AND pos = 1",
	  "corrupt snapshot for service checkout: good release #1 has an "
	  "invalid schema" },
	{ "UPDATE snapshot_drill SET phase = 'sideways'",
	  "corrupt snapshot for service checkout: the drill is not valid" },
	{ "UPDATE snapshot_drill SET phase = 'back'",
	  "corrupt snapshot for service checkout: state idle with drill phase "
	  "back" },
	{ "UPDATE snapshot_drill SET k = '-rf'",
	  "corrupt snapshot for service checkout: drill's rollback target "
	  "'-rf' is not a valid version" },
	{ "UPDATE snapshots SET schema = -2",
	  "corrupt snapshot for service checkout: the schema or migration is "
	  "not valid" },
	{ "UPDATE snapshots SET target_schema = 1000000000000",
	  "corrupt snapshot for service checkout: the schema or migration is "
	  "not valid" },
	{ "UPDATE snapshots SET migration = 'maybe'",
	  "corrupt snapshot for service checkout: the schema or migration is "
	  "not valid" },
	{ "UPDATE snapshots SET migrating = 2",
	  "corrupt snapshot for service checkout: the schema or migration is "
	  "not valid" },
	{ "UPDATE snapshots SET paused = -1",
	  "corrupt snapshot for service checkout: the pause is not valid" },
	{ "UPDATE snapshots SET paused = 1, pause_until = 0",
	  "corrupt snapshot for service checkout: the pause is not valid" },
	{ "INSERT INTO snapshot_auto VALUES ('checkout', 0, 500),"
	  " ('checkout', 1, 400)",
	  "corrupt snapshot for service checkout: automatic rollback #1 out of "
	  "place" },
	{ "INSERT INTO snapshot_auto VALUES ('checkout', 1, 500)",
	  "corrupt snapshot for service checkout: automatic rollback #0 out of "
	  "place" },
	{ "INSERT INTO snapshot_auto VALUES ('checkout', 0, -500)",
	  "corrupt snapshot for service checkout: automatic rollback #0 out of "
	  "place" },
};

START_TEST(test_corrupt_snapshot)
{
	static const char *const good[] = { "v1", "v0", NULL };
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_step st = mkstep("verified", RBD_STATE_VERIFYING,
	    RBD_STATE_IDLE, "verified");
	struct rbd_store *s = open_ok();
	char err[512] = "", want[600];
	bool found = false;

	set_watch(w, RBD_STATE_IDLE, MONO0, "v1", "v1", "v2", "verified");
	set_list(w->good, &w->n_good, good);
	set_list(w->bad, &w->n_bad, good + 1);
	commit_ok(s, "checkout", w, &st, NULL, MONO0, WALL0);
	rbd_watch_free(w);
	raw_exec(corrupt_cases[_i].sql);

	w = rbd_watch_new(&policy);
	ck_assert_int_eq(rbd_store_load(s, "checkout", w, MONO0, WALL0, &found,
	    err, sizeof(err)), -EIO);
	snprintf(want, sizeof(want), "%s: %s", dbpath, corrupt_cases[_i].msg);
	ck_assert_str_eq(err, want);
	/* Nothing half-loaded. */
	ck_assert_int_eq(w->state, RBD_STATE_IDLE);
	ck_assert_str_eq(w->live, "");
	ck_assert_uint_eq(w->n_good, 0);
	ck_assert(!found);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

START_TEST(test_corrupt_release_and_history)
{
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_step st = mkstep("marked-bad", RBD_STATE_IDLE,
	    RBD_STATE_IDLE, "v1 marked bad");
	struct rbd_store *s = open_ok();
	struct rbd_history_entry *h = (struct rbd_history_entry *)&h;
	struct rbd_release rel;
	char err[512] = "", want[600];
	size_t n = 99;

	add_update(&st, "v1", RBD_RELEASE_BAD);
	commit_ok(s, "checkout", w, &st, NULL, MONO0, WALL0);
	raw_exec("UPDATE releases SET status = 'meh';"
	    "DROP TRIGGER events_append_only;"
	    "UPDATE events SET to_state = 'gone';");
	ck_assert_int_eq(rbd_store_release(s, "checkout", "v1", &rel, err,
	    sizeof(err)), -EIO);
	snprintf(want, sizeof(want), "%s: corrupt release v1 of service "
	    "checkout: unknown status 'meh'", dbpath);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(rbd_store_history(s, "checkout", 10, &h, &n, err,
	    sizeof(err)), -EIO);
	snprintf(want, sizeof(want), "%s: corrupt history for service "
	    "checkout: event 1: unknown state 'idle' or 'gone'", dbpath);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_eq(h, (struct rbd_history_entry *)&h);
	ck_assert_uint_eq(n, 99);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

START_TEST(test_corrupt_release_schema)
{
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_step st = mkstep("deployed", RBD_STATE_IDLE,
	    RBD_STATE_WATCHING, "v1 announced");
	struct rbd_event ev = deployed("v1", 3, RBD_MIGRATION_REVERSIBLE);
	struct rbd_store *s = open_ok();
	struct rbd_release rel;
	char err[512] = "", want[600];

	commit_ok(s, "checkout", w, &st, &ev, MONO0, WALL0);
	raw_exec("UPDATE releases SET schema = 1000000000000");
	ck_assert_int_eq(rbd_store_release(s, "checkout", "v1", &rel, err,
	    sizeof(err)), -EIO);
	snprintf(want, sizeof(want), "%s: corrupt release v1 of service "
	    "checkout: bad schema or migration", dbpath);
	ck_assert_str_eq(err, want);
	rbd_watch_free(w);
	rbd_store_free(s);
}
END_TEST

/* --- kill -9 in the middle of writes --- */

/* Rounds of kill -9, and how long (usec, at most) a writer runs before it. */
#define KILL_ROUNDS	30
#define KILL_AFTER_MAX	20000

/* The writer: commit decision first, first + 1, ... for ever (each a
 * marked-good event with its number in the reason, a release status and
 * the snapshot rewritten, a heartbeat now and then), and write each
 * number to fd once its commit has returned: that is the acknowledgement
 * the daemon would act on. Never returns. */
static _Noreturn void commit_forever(int fd, int first)
{
	struct rbd_watch *w = rbd_watch_new(&policy);
	struct rbd_store *s = NULL;
	char err[512], version[32];

	if (!w || rbd_store_open(dir, &s, err, sizeof(err)) < 0)
		_exit(2);
	for (int i = first;; i++) {
		struct rbd_step st;

		snprintf(version, sizeof(version), "v%d", i);
		set_watch(w, RBD_STATE_IDLE, MONO0, version, "", "",
		    "decision");
		snprintf(w->good[0], sizeof(w->good[0]), "%s", version);
		w->n_good = 1;
		snprintf(err, sizeof(err), "decision %d", i);
		st = mkstep("marked-good", RBD_STATE_IDLE, RBD_STATE_IDLE, err);
		add_update(&st, version, RBD_RELEASE_GOOD);
		if (rbd_store_commit(s, "checkout", w, &st, NULL, MONO0,
		    WALL0 + (uint64_t)i, err, sizeof(err)) < 0)
			_exit(3);
		if (i % 7 == 0 && rbd_store_heartbeat(s, WALL0 + (uint64_t)i,
		    err, sizeof(err)) < 0)
			_exit(4);
		if (write(fd, &i, sizeof(i)) != sizeof(i))
			_exit(5);
	}
}

/* The store after the kill: integrity_check passes, it opens, and it holds
 * every decision from 1 up, in order, each once, up to at least the last
 * acknowledged one (one more may have reached the disk before its
 * acknowledgement). Returns the newest decision. */
static int check_after_kill(int acked)
{
	struct rbd_history_entry *h = NULL;
	struct rbd_store *s;
	struct rbd_watch *w;
	char buf[512], err[512] = "";
	long long n, newest;
	size_t got = 0;
	bool found;

	raw_query("PRAGMA integrity_check", buf, sizeof(buf));
	ck_assert_str_eq(buf, "ok");
	s = open_ok();
	ck_assert_int_eq(rbd_store_history(s, "checkout", 1, &h, &got, err,
	    sizeof(err)), 0);
	n = raw_query("SELECT count(*) FROM events", NULL, 0);
	newest = acked;
	if (got) {
		ck_assert_int_eq(sscanf(h[0].reason, "decision %lld", &newest), 1);
		free(h);
	}
	ck_assert_msg(newest == acked || newest == acked + 1,
	    "acknowledged decision %d, the store's newest is %lld", acked,
	    newest);
	ck_assert_int_eq(n, newest);
	ck_assert_int_eq(raw_query("SELECT count(DISTINCT reason) FROM events",
	    NULL, 0), newest);
	/* The snapshot went with its event, in the same transaction. */
	w = load_ok(s, "checkout", MONO0, WALL0 + (uint64_t)newest, &found);
	if (newest > 0) {
		snprintf(buf, sizeof(buf), "v%lld", newest);
		ck_assert(found);
		ck_assert_str_eq(w->live, buf);
		ck_assert_str_eq(w->good[0], buf);
	}
	rbd_watch_free(w);
	rbd_store_free(s);
	return (int)newest;
}

START_TEST(test_kill_during_commits)
{
	int newest = 0;

	srand((unsigned)getpid());
	for (int round = 0; round < KILL_ROUNDS; round++) {
		int fds[2], acked = newest, v, status;
		pid_t pid;

		ck_assert_int_eq(pipe(fds), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			commit_forever(fds[1], newest + 1);
		}
		close(fds[1]);
		/* The first acknowledgement: the writer is in its loop. */
		ck_assert_int_eq(read(fds[0], &v, sizeof(v)), sizeof(v));
		acked = v;
		usleep((useconds_t)(rand() % KILL_AFTER_MAX));
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFSIGNALED(status), "writer ended by itself: %d",
		    status);
		while (read(fds[0], &v, sizeof(v)) == sizeof(v))
			acked = v;
		close(fds[0]);
		newest = check_after_kill(acked);
	}
	ck_assert_int_gt(newest, KILL_ROUNDS);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("durable");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_transition_survives_reopen);
	tcase_add_test(tc, test_release_unknown_and_seeded);
	tcase_add_test(tc, test_interrupted_rollback_resumes);
	tcase_add_loop_test(tc, test_since_conversion, 0,
	    N_ELEMENTS(since_cases));
	tcase_add_test(tc, test_since_clamped);
	tcase_add_test(tc, test_heartbeat_resumes_time_left);
	tcase_add_test(tc, test_counted_up_to_last_commit);
	tcase_add_test(tc, test_heartbeat_failure);
	tcase_add_test(tc, test_history_newest_first_with_limit);
	tcase_add_test(tc, test_no_record_writes_nothing);
	tcase_add_test(tc, test_failed_commit_is_rolled_back);
	tcase_add_test(tc, test_schema_survives_reopen);
	tcase_add_test(tc, test_release_schema);
	tcase_add_test(tc, test_schema_refused);
	tcase_add_loop_test(tc, test_pause_survives_restart, 0,
	    N_ELEMENTS(pause_cases));
	tcase_add_test(tc, test_auto_times_survive_restart);
	tcase_add_test(tc, test_remedy_survives_restart);
	tcase_add_test(tc, test_drill_survives_restart);
	tcase_add_test(tc, test_kill_during_commits);
	suite_add_tcase(s, tc);

	tc = tcase_create("schema");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_migrate_empty_file);
	tcase_add_test(tc, test_migrate_from_v1);
	tcase_add_test(tc, test_migrate_from_v2);
	tcase_add_test(tc, test_events_are_append_only);
	tcase_add_test(tc, test_newer_schema_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_garbage_file);
	tcase_add_test(tc, test_damaged_page);
	tcase_add_loop_test(tc, test_read_only_database, 0,
	    N_ELEMENTS(ro_dir_modes));
	tcase_add_test(tc, test_missing_state_dir);
	tcase_add_loop_test(tc, test_corrupt_snapshot, 0,
	    N_ELEMENTS(corrupt_cases));
	tcase_add_test(tc, test_corrupt_release_and_history);
	tcase_add_test(tc, test_corrupt_release_schema);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int status;

	snprintf(top, sizeof(top), "/tmp/check_store.XXXXXX");
	if (!mkdtemp(top) || chmod(top, 0755) < 0) {
		perror("check_store: mkdtemp");
		return EXIT_FAILURE;
	}
	status = rbd_test_run(store_suite());
	rm_rf(top);
	return status;
}
