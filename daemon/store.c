/* Durable state in SQLite: see store.h for the contract.
 *
 * Every statement is prepared with its values bound as parameters; no SQL
 * text is ever built from a value. The file is input as much as output: what
 * comes back from it is checked (state names, lengths, list positions)
 * before it reaches a struct rbd_watch. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "template.h"
#include "version.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* How long a statement waits for another connection's lock. */
#define STORE_BUSY_MS	5000

/* A watch rbd_store_load() resumed in this run. Its snapshot dates the
 * window's start on the wall clock of the run that wrote it: read with a
 * later alive_at, the time between that run's last sign of life and this
 * run's start would count as watched. So the next write of alive_at
 * (heartbeat or commit) first moves since_at to where the resumed watch
 * has it on this run's clock, and updated_at to the moment it resumed.
 * Until then a crash reloads the old row and the old alive_at, which give
 * the same time left. The move is skipped if the row changed meanwhile. */
struct resumed {
	char service[RBD_SERVICE_MAX + 1];
	sqlite3_int64 old_since, old_updated;	/* the row as loaded */
	sqlite3_int64 since, updated;		/* where it moves to */
};

struct rbd_store {
	sqlite3 *db;
	char *path;		/* <state_dir>/rollbackd.db, for messages */
	struct resumed *resumed;	/* not yet written, at most one per
					 * service */
	size_t n_resumed;
};

/* Schema migrations: migrations[i] takes a database from user_version i to
 * i + 1 and ends by setting that version. They run in order inside one
 * transaction. To change the schema, append one entry and raise
 * RBD_STORE_SCHEMA; never edit an entry that has shipped.
 *
 * The good[] and bad[] lists of a snapshot live in snapshot_lists with an
 * explicit position. Their order cannot be derived from the releases
 * table: the engine moves a release to the front of good[] when an operator
 * marks it good again, drops the oldest beyond its bounds while the release
 * keeps its status, and a release's updated time changes for reasons that
 * do not reorder the lists. The position column reloads exactly the order
 * the engine had. */
static const char *const migrations[] = {
	/* 0 -> 1: the first schema. Times are usec since the epoch. */
	"CREATE TABLE releases ("
	"  service TEXT NOT NULL,"
	"  version TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  announced_at INTEGER,"	/* NULL: never announced by a hook */
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
	"PRAGMA user_version = 1;",
	/* 1 -> 2: when the daemon was last known to be alive and watching
	 * (a heartbeat or a commit), so that time it was down is not counted
	 * as watched. One row. */
	"CREATE TABLE daemon ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  alive_at INTEGER NOT NULL"
	") STRICT;"
	"PRAGMA user_version = 2;",
};
_Static_assert(ARRAY_SIZE(migrations) == RBD_STORE_SCHEMA,
    "one migration per schema version: raise RBD_STORE_SCHEMA with it");

/* A value bound to one parameter of a statement. */
struct bind {
	enum { BIND_TEXT, BIND_INT } type;
	const char *s;		/* BIND_TEXT: NULL binds SQL NULL */
	size_t len;
	sqlite3_int64 i;
};
/* A NUL-terminated string (or NULL). */
#define B_STR(v)	((struct bind){ .type = BIND_TEXT, .s = (v), \
			    .len = (v) ? strlen(v) : 0 })
/* A fixed char array, never read past its end. */
#define B_ARR(a)	((struct bind){ .type = BIND_TEXT, .s = (a), \
			    .len = strnlen((a), sizeof(a)) })
#define B_INT(v)	((struct bind){ .type = BIND_INT, .i = (v) })

/* Replace control characters (quick_check output has newlines) so a
 * message stays one log line. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

/* Fill errbuf with "<path>: <message>" and return r, a negative errno. */
__attribute__((format(printf, 5, 6)))
static int fail(const char *path, int r, char *errbuf, size_t errlen,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!errbuf || !errlen)
		return r;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(errbuf, errlen, "%s: %s", path, msg);
	one_line(errbuf);
	return r;
}

/* The negative errno for an SQLite result code on db. */
static int errno_from_sqlite(sqlite3 *db, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
		return db && sqlite3_system_errno(db) == EROFS ? -EROFS : -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	default:		/* CORRUPT, NOTADB, IOERR, CONSTRAINT, ... */
		return -EIO;
	}
}

/* Report the last SQLite error of s after result code rc. */
static int sql_fail(struct rbd_store *s, int rc, char *errbuf, size_t errlen)
{
	return fail(s->path, errno_from_sqlite(s->db, rc), errbuf, errlen,
	    "%s", sqlite3_errmsg(s->db));
}

/* Prepare sql and bind v[0..n) to its parameters ?1..?n. */
static int stmt_open(struct rbd_store *s, const char *sql,
    const struct bind *v, size_t n, sqlite3_stmt **ret, char *errbuf,
    size_t errlen)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
		int k = (int)i + 1;

		if (v[i].type == BIND_INT)
			rc = sqlite3_bind_int64(st, k, v[i].i);
		else if (!v[i].s)
			rc = sqlite3_bind_null(st, k);
		else
			rc = sqlite3_bind_text64(st, k, v[i].s, v[i].len,
			    SQLITE_TRANSIENT, SQLITE_UTF8);
	}
	if (rc != SQLITE_OK) {
		int r = sql_fail(s, rc, errbuf, errlen);

		sqlite3_finalize(st);
		return r;
	}
	*ret = st;
	return 0;
}

/* Run a statement that returns no rows: prepare, bind, step, finalize. */
static int store_exec(struct rbd_store *s, const char *sql,
    const struct bind *v, size_t n, char *errbuf, size_t errlen)
{
	sqlite3_stmt *st;
	int r = stmt_open(s, sql, v, n, &st, errbuf, errlen);
	int rc;

	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = sql_fail(s, rc, errbuf, errlen);
	sqlite3_finalize(st);
	return r;
}

/* Step st to its next row: 1 for a row, 0 at the end, or a negative errno. */
static int stmt_next(struct rbd_store *s, sqlite3_stmt *st, char *errbuf,
    size_t errlen)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return sql_fail(s, rc, errbuf, errlen);
}

/* Start a transaction: a write one takes the write lock at once (waiting
 * up to the busy timeout); a read one sees one consistent state. */
static int tx_begin(struct rbd_store *s, bool write, char *errbuf,
    size_t errlen)
{
	return store_exec(s, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, 0,
	    errbuf, errlen);
}

/* End the transaction: commit when r >= 0, else roll back. The first
 * error is the one reported. */
static int tx_end(struct rbd_store *s, int r, char *errbuf, size_t errlen)
{
	if (r >= 0) {
		int c = store_exec(s, "COMMIT", NULL, 0, errbuf, errlen);

		if (c < 0)
			r = c;
	}
	/* Some errors already rolled SQLite back; ROLLBACK would fail then. */
	if (r < 0 && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/* Wall clock usec as SQLite stores it (int64), clamped. */
static sqlite3_int64 wall_i64(uint64_t usec)
{
	return usec > INT64_MAX ? INT64_MAX : (sqlite3_int64)usec;
}

/* Copy text column i of st into dst[len]: true if it fit whole. NULL
 * reads as "". A value too long is truncated (and reported by false). */
static bool col_text(sqlite3_stmt *st, int i, char *dst, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;
	bool fits = n < len;

	if (!fits)
		n = len - 1;
	if (n)
		memcpy(dst, t, n);
	dst[n] = '\0';
	/* An embedded NUL would hide the rest: count it as not fitting. */
	return fits && strlen(dst) == n;
}

/* Integer column i of st as a uint64: false when it is not a
 * non-negative integer. */
static bool col_u64(sqlite3_stmt *st, int i, uint64_t *ret)
{
	sqlite3_int64 v;

	if (sqlite3_column_type(st, i) != SQLITE_INTEGER)
		return false;
	v = sqlite3_column_int64(st, i);
	if (v < 0)
		return false;
	*ret = (uint64_t)v;
	return true;
}

/* --- opening --- */

/* Read PRAGMA user_version into *ret; refuse a schema newer than ours. */
static int schema_version(struct rbd_store *s, int *ret, char *errbuf,
    size_t errlen)
{
	sqlite3_stmt *st;
	int r = stmt_open(s, "PRAGMA user_version", NULL, 0, &st, errbuf,
	    errlen);
	int v = 0;

	if (r < 0)
		return r;
	r = stmt_next(s, st, errbuf, errlen);
	if (r > 0)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	if (v < 0)
		return fail(s->path, -EIO, errbuf, errlen,
		    "schema version %d is not valid", v);
	if (v > RBD_STORE_SCHEMA)
		return fail(s->path, -ENOTSUP, errbuf, errlen,
		    "schema version %d is newer than this rollbackd "
		    "understands (%d)", v, RBD_STORE_SCHEMA);
	*ret = v;
	return 0;
}

/* Bring the schema up to RBD_STORE_SCHEMA in one transaction, reading
 * the version again under the write lock (another process may have
 * migrated it meanwhile). */
static int schema_migrate(struct rbd_store *s, char *errbuf, size_t errlen)
{
	int r = tx_begin(s, true, errbuf, errlen);
	int v = 0;

	if (r < 0)
		return r;
	r = schema_version(s, &v, errbuf, errlen);
	for (; r >= 0 && v < RBD_STORE_SCHEMA; v++) {
		int rc = sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL);
		int now = v;

		if (rc != SQLITE_OK) {
			r = fail(s->path, errno_from_sqlite(s->db, rc), errbuf,
			    errlen, "migrating schema %d to %d: %s", v, v + 1,
			    sqlite3_errmsg(s->db));
			break;
		}
		r = schema_version(s, &now, errbuf, errlen);
		if (r >= 0 && now != v + 1)
			r = fail(s->path, -EIO, errbuf, errlen,
			    "migration %d left schema version %d", v, now);
	}
	return tx_end(s, r, errbuf, errlen);
}

/* Run a pragma and copy the first column of its first row into buf[len]
 * ("" when it returns no row). */
static int pragma_text(struct rbd_store *s, const char *sql, char *buf,
    size_t len, char *errbuf, size_t errlen)
{
	sqlite3_stmt *st;
	int r = stmt_open(s, sql, NULL, 0, &st, errbuf, errlen);

	if (r < 0)
		return r;
	buf[0] = '\0';
	r = stmt_next(s, st, errbuf, errlen);
	if (r > 0)
		col_text(st, 0, buf, len);
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

/* PRAGMA quick_check: the first problem it finds is the error. */
static int store_quick_check(struct rbd_store *s, char *errbuf, size_t errlen)
{
	static const char head[] = "*** in database main ***\n";
	char out[512];
	const char *t = out;
	int r = pragma_text(s, "PRAGMA quick_check(1)", out, sizeof(out),
	    errbuf, errlen);

	if (r < 0 || strcmp(out, "ok") == 0)
		return r;
	/* One database: the header names nothing. */
	if (strncmp(t, head, strlen(head)) == 0)
		t += strlen(head);
	return fail(s->path, -EIO, errbuf, errlen, "quick_check: %s",
	    *t ? t : "no result");
}

/* WAL with synchronous=FULL (a commit that returned is on disk), foreign
 * keys enforced. */
static int store_pragmas(struct rbd_store *s, char *errbuf, size_t errlen)
{
	char mode[32];
	int r = pragma_text(s, "PRAGMA journal_mode = WAL", mode, sizeof(mode),
	    errbuf, errlen);

	if (r >= 0 && strcmp(mode, "wal") != 0)
		r = fail(s->path, -EIO, errbuf, errlen,
		    "cannot use WAL journal mode (journal mode is '%s')", mode);
	if (r >= 0)
		r = store_exec(s, "PRAGMA synchronous = FULL", NULL, 0,
		    errbuf, errlen);
	if (r >= 0)
		r = store_exec(s, "PRAGMA foreign_keys = ON", NULL, 0,
		    errbuf, errlen);
	return r;
}

/* A file SQLite could only open read-only: say so instead of failing at
 * the first write. */
static int store_writable(struct rbd_store *s, char *errbuf, size_t errlen)
{
	if (sqlite3_db_readonly(s->db, "main") != 1)
		return 0;
	/* access() tells a read-only file system from a permission. */
	return fail(s->path,
	    access(s->path, W_OK) < 0 && errno == EROFS ? -EROFS : -EACCES,
	    errbuf, errlen, "%s", sqlite3_errstr(SQLITE_READONLY));
}

/* Open s->path and make it a checked, current, WAL-mode store. */
static int store_setup(struct rbd_store *s, char *errbuf, size_t errlen)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX;
	int rc = sqlite3_open_v2(s->path, &s->db, flags, NULL);
	int v = 0;
	int r;

	if (rc != SQLITE_OK) {
		if (!s->db)
			return fail(s->path, -ENOMEM, errbuf, errlen, "%s",
			    sqlite3_errstr(rc));
		return sql_fail(s, rc, errbuf, errlen);
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	r = store_writable(s, errbuf, errlen);
	if (r >= 0)
		r = store_quick_check(s, errbuf, errlen);
	/* Refuse a newer schema before changing anything in the file. */
	if (r >= 0)
		r = schema_version(s, &v, errbuf, errlen);
	if (r >= 0)
		r = store_pragmas(s, errbuf, errlen);
	if (r >= 0 && v < RBD_STORE_SCHEMA)
		r = schema_migrate(s, errbuf, errlen);
	return r;
}

/* Open the store in state_dir: see store.h. */
int rbd_store_open(const char *state_dir, struct rbd_store **ret,
    char *errbuf, size_t errlen)
{
	struct rbd_store *s;
	struct stat st;
	int r;

	if (stat(state_dir, &st) < 0) {
		r = errno;
		return fail(state_dir, -r, errbuf, errlen,
		    "state directory: %s", strerror(r));
	}
	if (!S_ISDIR(st.st_mode))
		return fail(state_dir, -ENOTDIR, errbuf, errlen,
		    "state directory: %s", strerror(ENOTDIR));
	s = calloc(1, sizeof(*s));
	if (!s || asprintf(&s->path, "%s/%s", state_dir, RBD_STORE_FILE) < 0) {
		free(s);
		return fail(state_dir, -ENOMEM, errbuf, errlen, "%s",
		    strerror(ENOMEM));
	}
	r = store_setup(s, errbuf, errlen);
	if (r < 0) {
		rbd_store_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

/* Close the database; NULL and half-opened stores are fine. */
void rbd_store_free(struct rbd_store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s->path);
	free(s->resumed);
	free(s);
}

/* --- the daemon's sign of life --- */

/* Whether the engine times a window in state st (watch.h): only there
 * does a restart have to keep the time it had left. */
static bool has_window(enum rbd_state st)
{
	return st == RBD_STATE_WATCHING || st == RBD_STATE_VERIFYING;
}

/* Move the snapshots of the watches resumed in this run onto this run's
 * clock (struct resumed), inside the caller's transaction. A row that
 * changed since it was loaded (a commit wrote it) is left alone. */
static int put_resumed(struct rbd_store *s, char *errbuf, size_t errlen)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < s->n_resumed; i++) {
		const struct resumed *m = &s->resumed[i];
		const struct bind v[] = {
			B_ARR(m->service), B_INT(m->since), B_INT(m->updated),
			B_INT(m->old_since), B_INT(m->old_updated),
			B_STR(rbd_state_str(RBD_STATE_WATCHING)),
			B_STR(rbd_state_str(RBD_STATE_VERIFYING)),
		};

		r = store_exec(s,
		    "UPDATE snapshots SET since_at = ?2, updated_at = ?3"
		    " WHERE service = ?1 AND since_at = ?4 AND updated_at = ?5"
		    " AND state IN (?6, ?7)",
		    v, ARRAY_SIZE(v), errbuf, errlen);
	}
	return r;
}

/* Record the daemon alive at now_wall, inside the caller's transaction.
 * The resumed snapshots move first: with a later alive_at and their old
 * since_at, the downtime before this run would count as watched. */
static int put_alive(struct rbd_store *s, uint64_t now_wall, char *errbuf,
    size_t errlen)
{
	const struct bind v[] = { B_INT(wall_i64(now_wall)) };
	int r = put_resumed(s, errbuf, errlen);

	if (r >= 0)
		r = store_exec(s,
		    "INSERT INTO daemon (id, alive_at) VALUES (1, ?1)"
		    " ON CONFLICT (id) DO UPDATE SET alive_at = excluded.alive_at",
		    v, ARRAY_SIZE(v), errbuf, errlen);
	return r;
}

/* Record that the daemon is alive and watching: see store.h. */
int rbd_store_heartbeat(struct rbd_store *s, uint64_t now_wall,
    char *errbuf, size_t errlen)
{
	int r = tx_begin(s, true, errbuf, errlen);

	if (r < 0)
		return r;
	r = put_alive(s, now_wall, errbuf, errlen);
	r = tx_end(s, r, errbuf, errlen);
	if (r >= 0)
		s->n_resumed = 0;	/* all moved */
	return r;
}

/* --- writing one step --- */

/* Check what commit will write, before the transaction starts. */
static int commit_check(struct rbd_store *s, const char *service,
    const struct rbd_watch *w, const struct rbd_step *step,
    const struct rbd_event *ev, char *errbuf, size_t errlen)
{
	const char *bad = NULL;

	if (!service || rbd_service_check(service, NULL) < 0)
		bad = "invalid service name";
	else if (!step->event || !*step->event)
		bad = "step without an event name";
	else if ((unsigned)step->from >= _RBD_STATE_MAX ||
	    (unsigned)step->to >= _RBD_STATE_MAX ||
	    (unsigned)w->state >= _RBD_STATE_MAX)
		bad = "invalid state";
	else if (step->n_updates > RBD_STEP_UPDATES_MAX ||
	    w->n_good > RBD_WATCH_GOOD_MAX || w->n_bad > RBD_WATCH_BAD_MAX)
		bad = "list longer than its bound";
	else if (w->deploy_id > INT64_MAX || w->next_deploy_id > INT64_MAX)
		bad = "deploy id out of range";
	else if (ev && ev->type == RBD_EV_DEPLOYED && !ev->version)
		bad = "deployed event without a version";
	for (size_t i = 0; !bad && i < step->n_updates; i++)
		if ((unsigned)step->updates[i].status >= _RBD_RELEASE_STATUS_MAX)
			bad = "invalid release status";
	if (bad)
		return fail(s->path, -EINVAL, errbuf, errlen,
		    "cannot record %s: %s", service ? service : "(null)", bad);
	if (ev && ev->type == RBD_EV_DEPLOYED && ev->meta &&
	    strlen(ev->meta) >= RBD_STORE_META_MAX)
		return fail(s->path, -E2BIG, errbuf, errlen,
		    "release %s of %s: metadata is %zu bytes, more than %d",
		    ev->version, service, strlen(ev->meta),
		    RBD_STORE_META_MAX - 1);
	return 0;
}

/* The target worth showing in history: only rolling_back and verifying
 * have one (watch.h); elsewhere the field is stale. */
static const char *history_target(const struct rbd_watch *w)
{
	if (w->state == RBD_STATE_ROLLING_BACK ||
	    w->state == RBD_STATE_VERIFYING)
		return w->target;
	return "";
}

/* Who sent ev, or NULL when the daemon decided by itself. */
static const char *event_actor(const struct rbd_event *ev)
{
	return ev && ev->actor && *ev->actor ? ev->actor : NULL;
}

/* Append the event row of a step. */
static int put_event(struct rbd_store *s, const char *service,
    const struct rbd_watch *w, const struct rbd_step *step,
    const struct rbd_event *ev, uint64_t now_wall, char *errbuf,
    size_t errlen)
{
	const char *actor = event_actor(ev), *target = history_target(w);
	const struct bind v[] = {
		B_INT(wall_i64(now_wall)), B_STR(service), B_STR(step->event),
		B_STR(rbd_state_str(step->from)), B_STR(rbd_state_str(step->to)),
		B_ARR(w->live), B_STR(target), B_STR(actor),
		B_ARR(step->reason),
	};

	return store_exec(s,
	    "INSERT INTO events (at, service, event, from_state, to_state,"
	    " live, target, actor, reason)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	    v, ARRAY_SIZE(v), errbuf, errlen);
}

/* The release a deploy hook announced: who, when, its metadata. Its
 * status comes with the step's updates. Announcing a release again
 * replaces the announcement. */
static int put_announce(struct rbd_store *s, const char *service,
    const struct rbd_event *ev, uint64_t now_wall, char *errbuf,
    size_t errlen)
{
	const char *actor = event_actor(ev);
	const struct bind v[] = {
		B_STR(service), B_STR(ev->version), B_INT(wall_i64(now_wall)),
		B_STR(actor), B_STR(ev->meta),
	};

	return store_exec(s,
	    "INSERT INTO releases (service, version, status, announced_at,"
	    " announced_by, meta, updated_at)"
	    " VALUES (?1, ?2, 'watching', ?3, ?4, ?5, ?3)"
	    " ON CONFLICT (service, version) DO UPDATE SET"
	    " announced_at = excluded.announced_at,"
	    " announced_by = excluded.announced_by,"
	    " meta = excluded.meta, updated_at = excluded.updated_at",
	    v, ARRAY_SIZE(v), errbuf, errlen);
}

/* Set a release's status, creating its row when the store has not seen it
 * (a release marked good before any hook announced it). */
static int put_status(struct rbd_store *s, const char *service,
    const struct rbd_release_update *u, uint64_t now_wall, char *errbuf,
    size_t errlen)
{
	const struct bind v[] = {
		B_STR(service), B_ARR(u->version),
		B_STR(rbd_release_status_str(u->status)),
		B_INT(wall_i64(now_wall)),
	};

	return store_exec(s,
	    "INSERT INTO releases (service, version, status, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4)"
	    " ON CONFLICT (service, version) DO UPDATE SET"
	    " status = excluded.status, updated_at = excluded.updated_at",
	    v, ARRAY_SIZE(v), errbuf, errlen);
}

/* Replace one of the snapshot's lists with versions[0..n), in order. */
static int put_list(struct rbd_store *s, const char *service,
    const char *list, const char (*versions)[RBD_VERSION_MAX + 1], size_t n,
    char *errbuf, size_t errlen)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < n; i++) {
		const struct bind v[] = {
			B_STR(service), B_STR(list), B_INT((sqlite3_int64)i),
			B_ARR(versions[i]),
		};

		r = store_exec(s,
		    "INSERT INTO snapshot_lists (service, list, pos, version)"
		    " VALUES (?1, ?2, ?3, ?4)",
		    v, ARRAY_SIZE(v), errbuf, errlen);
	}
	return r;
}

/* The state-entry time on the wall clock: as long ago as it is on the
 * monotonic clock (never before the epoch, never in the future). */
static uint64_t since_to_wall(uint64_t since, uint64_t now_mono,
    uint64_t now_wall)
{
	uint64_t elapsed = now_mono > since ? now_mono - since : 0;

	return now_wall > elapsed ? now_wall - elapsed : 0;
}

/* Write the snapshot of w: one row and its good[] and bad[] lists. */
static int put_snapshot(struct rbd_store *s, const char *service,
    const struct rbd_watch *w, uint64_t now_mono, uint64_t now_wall,
    char *errbuf, size_t errlen)
{
	const struct bind v[] = {
		B_STR(service), B_STR(rbd_state_str(w->state)),
		B_INT(wall_i64(since_to_wall(w->since, now_mono, now_wall))),
		B_ARR(w->live), B_ARR(w->target), B_ARR(w->from),
		B_ARR(w->reason), B_INT((sqlite3_int64)w->deploy_id),
		B_INT((sqlite3_int64)w->next_deploy_id),
		B_INT(wall_i64(now_wall)),
	};
	int r = store_exec(s,
	    "INSERT INTO snapshots (service, state, since_at, live, target,"
	    " from_release, reason, deploy_id, next_deploy_id, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
	    " ON CONFLICT (service) DO UPDATE SET"
	    " state = excluded.state, since_at = excluded.since_at,"
	    " live = excluded.live, target = excluded.target,"
	    " from_release = excluded.from_release, reason = excluded.reason,"
	    " deploy_id = excluded.deploy_id,"
	    " next_deploy_id = excluded.next_deploy_id,"
	    " updated_at = excluded.updated_at",
	    v, ARRAY_SIZE(v), errbuf, errlen);

	if (r >= 0)
		r = store_exec(s,
		    "DELETE FROM snapshot_lists WHERE service = ?1",
		    v, 1, errbuf, errlen);
	if (r >= 0)
		r = put_list(s, service, "good",
		    w->good, w->n_good,
		    errbuf, errlen);
	if (r >= 0)
		r = put_list(s, service, "bad",
		    w->bad, w->n_bad,
		    errbuf, errlen);
	return r;
}

/* Everything one step writes, inside the caller's transaction. A commit
 * proves the daemon alive; the resumed snapshots move before this one is
 * rewritten, so its own row ends up as the step left it. */
static int commit_rows(struct rbd_store *s, const char *service,
    const struct rbd_watch *w, const struct rbd_step *step,
    const struct rbd_event *ev, uint64_t now_mono, uint64_t now_wall,
    char *errbuf, size_t errlen)
{
	int r = put_event(s, service, w, step, ev, now_wall, errbuf, errlen);

	if (r >= 0 && ev && ev->type == RBD_EV_DEPLOYED)
		r = put_announce(s, service, ev, now_wall, errbuf, errlen);
	for (size_t i = 0; r >= 0 && i < step->n_updates; i++)
		r = put_status(s, service, &step->updates[i], now_wall, errbuf,
		    errlen);
	if (r >= 0)
		r = put_alive(s, now_wall, errbuf, errlen);
	if (r >= 0)
		r = put_snapshot(s, service, w, now_mono, now_wall, errbuf,
		    errlen);
	return r;
}

/* Write one step's record in one transaction: see store.h. */
int rbd_store_commit(struct rbd_store *s, const char *service,
    const struct rbd_watch *w, const struct rbd_step *step,
    const struct rbd_event *ev, uint64_t now_mono, uint64_t now_wall,
    char *errbuf, size_t errlen)
{
	int r;

	if (!step->record)
		return 0;
	r = commit_check(s, service, w, step, ev, errbuf, errlen);
	if (r >= 0)
		r = tx_begin(s, true, errbuf, errlen);
	if (r < 0)
		return r;
	r = commit_rows(s, service, w, step, ev, now_mono, now_wall, errbuf,
	    errlen);
	r = tx_end(s, r, errbuf, errlen);
	if (r >= 0)
		s->n_resumed = 0;	/* all moved */
	return r;
}

/* --- reading a snapshot back --- */

/* Report a snapshot that does not make sense: -EIO. */
__attribute__((format(printf, 5, 6)))
static int corrupt(struct rbd_store *s, const char *service, char *errbuf,
    size_t errlen, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fail(s->path, -EIO, errbuf, errlen,
	    "corrupt snapshot for service %s: %s", service, what);
}

/* Copy a version column into dst; "" only when may_be_empty. what names
 * it in messages. A version ends up in deploy argv: it must pass the same
 * check as one from a hook. */
static int col_version(struct rbd_store *s, const char *service,
    sqlite3_stmt *st, int i, char *dst, bool may_be_empty, const char *what,
    char *errbuf, size_t errlen)
{
	if (!col_text(st, i, dst, RBD_VERSION_MAX + 1))
		return corrupt(s, service, errbuf, errlen, "%s is too long",
		    what);
	if (!*dst && may_be_empty)
		return 0;
	if (rbd_version_check(dst, NULL) < 0)
		return corrupt(s, service, errbuf, errlen,
		    "%s '%s' is not a valid version", what, dst);
	return 0;
}

/* Read the service's good or bad list into versions[max], in order. */
static int load_list(struct rbd_store *s, const char *service,
    const char *list, char (*versions)[RBD_VERSION_MAX + 1], size_t max,
    size_t *ret_n, char *errbuf, size_t errlen)
{
	const struct bind v[] = { B_STR(service), B_STR(list) };
	sqlite3_stmt *st;
	size_t n = 0;
	int r = stmt_open(s,
	    "SELECT pos, version FROM snapshot_lists"
	    " WHERE service = ?1 AND list = ?2 ORDER BY pos",
	    v, ARRAY_SIZE(v), &st, errbuf, errlen);

	if (r < 0)
		return r;
	while ((r = stmt_next(s, st, errbuf, errlen)) > 0) {
		char what[32];
		uint64_t pos;

		if (n >= max || !col_u64(st, 0, &pos) || pos != n) {
			r = corrupt(s, service, errbuf, errlen,
			    "%s list entry %zu out of place", list, n);
			break;
		}
		snprintf(what, sizeof(what), "%s release #%zu", list, n);
		r = col_version(s, service, st, 1, versions[n], false, what,
		    errbuf, errlen);
		if (r < 0)
			break;
		n++;
	}
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	*ret_n = n;
	return 0;
}

/* The wall-clock state-entry time back on the monotonic clock. A wall
 * clock that went backwards counts as no time elapsed; a time before the
 * monotonic clock's zero is clamped to it. */
static uint64_t since_from_wall(uint64_t since_wall, uint64_t now_mono,
    uint64_t now_wall)
{
	uint64_t elapsed = now_wall > since_wall ? now_wall - since_wall : 0;

	return now_mono > elapsed ? now_mono - elapsed : 0;
}

/* How long a window has been watched: from its start since_wall to the
 * daemon's last sign of life, the heartbeat alive_wall (has_alive: there
 * is one). The snapshot's own writing (updated_wall) was one too, and
 * nothing after now_wall is. The time the daemon was down after it is
 * not counted; a wall clock that went backwards counts as no time. */
static uint64_t window_elapsed(uint64_t since_wall, uint64_t updated_wall,
    bool has_alive, uint64_t alive_wall, uint64_t now_wall)
{
	uint64_t last = updated_wall;

	if (has_alive && alive_wall > last)
		last = alive_wall;
	if (last > now_wall)
		last = now_wall;
	return last > since_wall ? last - since_wall : 0;
}

/* Fill w from a snapshot row: state, times, releases, deploy ids. For a
 * window state, *ret_move says where the row moves to on this run's clock
 * (struct resumed) and *ret_moves is true. */
static int load_row(struct rbd_store *s, const char *service,
    sqlite3_stmt *st, struct rbd_watch *w, uint64_t now_mono,
    uint64_t now_wall, struct resumed *ret_move, bool *ret_moves,
    char *errbuf, size_t errlen)
{
	char state[32];
	uint64_t since_wall, updated_wall, alive_wall = 0;
	bool has_alive = sqlite3_column_type(st, 9) != SQLITE_NULL;
	int r;

	if (!col_text(st, 0, state, sizeof(state)) ||
	    rbd_state_from_str(state, &w->state) < 0)
		return corrupt(s, service, errbuf, errlen,
		    "unknown state '%s'", state);
	if (!col_u64(st, 1, &since_wall) || !col_u64(st, 6, &w->deploy_id) ||
	    !col_u64(st, 7, &w->next_deploy_id) ||
	    !col_u64(st, 8, &updated_wall))
		return corrupt(s, service, errbuf, errlen, "%s",
		    "times or deploy ids are not integers");
	if (has_alive && !col_u64(st, 9, &alive_wall))
		return fail(s->path, -EIO, errbuf, errlen, "%s",
		    "corrupt heartbeat: the daemon's last sign of life is not "
		    "a valid time");
	*ret_moves = has_window(w->state);
	if (*ret_moves) {
		uint64_t elapsed = window_elapsed(since_wall, updated_wall,
		    has_alive, alive_wall, now_wall);

		w->since = now_mono > elapsed ? now_mono - elapsed : 0;
		/* The row as it is, and as this run's watch has it. */
		ret_move->old_since = (sqlite3_int64)since_wall;
		ret_move->old_updated = (sqlite3_int64)updated_wall;
		ret_move->since = wall_i64(since_to_wall(w->since, now_mono,
		    now_wall));
		ret_move->updated = wall_i64(now_wall);
	} else {
		w->since = since_from_wall(since_wall, now_mono, now_wall);
	}
	r = col_version(s, service, st, 2, w->live, true, "live release",
	    errbuf, errlen);
	if (r >= 0)
		r = col_version(s, service, st, 3, w->target, true,
		    "rollback target", errbuf, errlen);
	if (r >= 0)
		r = col_version(s, service, st, 4, w->from, true,
		    "rolled-back release", errbuf, errlen);
	/* A reason is for people: a long one is cut, not refused. */
	if (r >= 0)
		col_text(st, 5, w->reason, sizeof(w->reason));
	return r;
}

/* Read the snapshot of service into w: 1 if found, 0 if not. *ret_move
 * and *ret_moves as load_row() fills them. */
static int load_snapshot(struct rbd_store *s, const char *service,
    struct rbd_watch *w, uint64_t now_mono, uint64_t now_wall,
    struct resumed *ret_move, bool *ret_moves, char *errbuf, size_t errlen)
{
	const struct bind v[] = { B_STR(service) };
	sqlite3_stmt *st;
	int found;
	int r = stmt_open(s,
	    "SELECT state, since_at, live, target, from_release, reason,"
	    " deploy_id, next_deploy_id, updated_at,"
	    " (SELECT alive_at FROM daemon WHERE id = 1)"
	    " FROM snapshots WHERE service = ?1",
	    v, ARRAY_SIZE(v), &st, errbuf, errlen);

	if (r < 0)
		return r;
	found = stmt_next(s, st, errbuf, errlen);
	r = found;
	if (found > 0)
		r = load_row(s, service, st, w, now_mono, now_wall, ret_move,
		    ret_moves, errbuf, errlen);
	sqlite3_finalize(st);
	if (r < 0 || !found)
		return r;
	r = load_list(s, service, "good", w->good, RBD_WATCH_GOOD_MAX,
	    &w->n_good, errbuf, errlen);
	if (r >= 0)
		r = load_list(s, service, "bad", w->bad, RBD_WATCH_BAD_MAX,
		    &w->n_bad, errbuf, errlen);
	return r < 0 ? r : 1;
}

/* Remember that service's snapshot moves to *move at the next write of
 * alive_at (struct resumed), replacing what was remembered for it; NULL
 * forgets it. Returns 0 or -ENOMEM (nothing changed). */
static int resumed_set(struct rbd_store *s, const char *service,
    const struct resumed *move)
{
	size_t i;

	for (i = 0; i < s->n_resumed; i++)
		if (strcmp(s->resumed[i].service, service) == 0)
			break;
	if (!move) {
		if (i < s->n_resumed)
			s->resumed[i] = s->resumed[--s->n_resumed];
		return 0;
	}
	if (i == s->n_resumed) {
		struct resumed *a = reallocarray(s->resumed, i + 1,
		    sizeof(*a));

		if (!a)
			return -ENOMEM;
		s->resumed = a;
		s->n_resumed++;
	}
	s->resumed[i] = *move;
	return 0;
}

/* Fill w from the service's snapshot: see store.h. */
int rbd_store_load(struct rbd_store *s, const char *service,
    struct rbd_watch *w, uint64_t now_mono, uint64_t now_wall,
    bool *ret_found, char *errbuf, size_t errlen)
{
	struct rbd_watch tmp = *w;	/* w changes only on success */
	struct resumed move;
	bool moves = false;
	int r = tx_begin(s, false, errbuf, errlen);

	if (r < 0)
		return r;
	memset(&move, 0, sizeof(move));
	r = load_snapshot(s, service, &tmp, now_mono, now_wall, &move, &moves,
	    errbuf, errlen);
	r = tx_end(s, r, errbuf, errlen);
	if (r < 0)
		return r;
	/* A service name that does not fit was never committed, so it has
	 * no row to move (and a cut one could name another service). */
	if (r == 0 || strlen(service) > RBD_SERVICE_MAX)
		moves = false;
	if (moves)
		snprintf(move.service, sizeof(move.service), "%s", service);
	if (resumed_set(s, service, moves ? &move : NULL) < 0)
		return fail(s->path, -ENOMEM, errbuf, errlen, "%s",
		    strerror(ENOMEM));
	if (r > 0) {
		/* Failure counts are not stored: a resumed watch judges
		 * afresh. */
		rbd_watch_reset_counts(&tmp);
		*w = tmp;
	}
	*ret_found = r > 0;
	return 0;
}

/* --- queries for status and history --- */

/* Fill e from a history row; states are checked, text is cut to fit. */
static int history_row(struct rbd_store *s, const char *service,
    sqlite3_stmt *st, struct rbd_history_entry *e, char *errbuf,
    size_t errlen)
{
	char from[32], to[32];
	uint64_t at;

	memset(e, 0, sizeof(*e));
	e->id = sqlite3_column_int64(st, 0);
	if (!col_u64(st, 1, &at))
		return fail(s->path, -EIO, errbuf, errlen,
		    "corrupt history for service %s: event %lld has no time",
		    service, (long long)e->id);
	e->at_wall = at;
	col_text(st, 2, e->event, sizeof(e->event));
	col_text(st, 3, from, sizeof(from));
	col_text(st, 4, to, sizeof(to));
	if (rbd_state_from_str(from, &e->from) < 0 ||
	    rbd_state_from_str(to, &e->to) < 0)
		return fail(s->path, -EIO, errbuf, errlen,
		    "corrupt history for service %s: event %lld: unknown "
		    "state '%s' or '%s'", service, (long long)e->id, from, to);
	col_text(st, 5, e->release, sizeof(e->release));
	col_text(st, 6, e->target, sizeof(e->target));
	col_text(st, 7, e->actor, sizeof(e->actor));
	col_text(st, 8, e->reason, sizeof(e->reason));
	return 0;
}

/* Append one zeroed entry to *arr (of *n, room for *cap). */
static struct rbd_history_entry *history_grow(struct rbd_history_entry **arr,
    size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct rbd_history_entry *a = reallocarray(*arr, c, sizeof(**arr));

		if (!a)
			return NULL;
		*arr = a;
		*cap = c;
	}
	return &(*arr)[(*n)++];
}

/* The service's history, newest first: see store.h. */
int rbd_store_history(struct rbd_store *s, const char *service, size_t limit,
    struct rbd_history_entry **ret, size_t *ret_n, char *errbuf,
    size_t errlen)
{
	const struct bind v[] = {
		B_STR(service),
		B_INT(limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit),
	};
	struct rbd_history_entry *arr = NULL, *e;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	int r = stmt_open(s,
	    "SELECT id, at, event, from_state, to_state, live, target, actor,"
	    " reason FROM events WHERE service = ?1 ORDER BY id DESC LIMIT ?2",
	    v, ARRAY_SIZE(v), &st, errbuf, errlen);

	if (r < 0)
		return r;
	while ((r = stmt_next(s, st, errbuf, errlen)) > 0) {
		e = history_grow(&arr, &n, &cap);
		r = e ? history_row(s, service, st, e, errbuf, errlen) :
		    fail(s->path, -ENOMEM, errbuf, errlen, "%s",
			strerror(ENOMEM));
		if (r < 0)
			break;
	}
	sqlite3_finalize(st);
	if (r < 0) {
		free(arr);
		return r;
	}
	*ret = arr;
	*ret_n = n;
	return 0;
}

/* Fill rel from a releases row (status, times, who, meta). */
static int release_row(struct rbd_store *s, const char *service,
    const char *version, sqlite3_stmt *st, struct rbd_release *rel,
    char *errbuf, size_t errlen)
{
	char status[32];

	memset(rel, 0, sizeof(*rel));
	snprintf(rel->version, sizeof(rel->version), "%s", version);
	if (!col_text(st, 0, status, sizeof(status)) ||
	    rbd_release_status_from_str(status, &rel->status) < 0)
		return fail(s->path, -EIO, errbuf, errlen,
		    "corrupt release %s of service %s: unknown status '%s'",
		    version, service, status);
	/* announced_at is NULL for a release no hook announced: 0. */
	if ((sqlite3_column_type(st, 1) != SQLITE_NULL &&
	    !col_u64(st, 1, &rel->announced_wall)) ||
	    !col_u64(st, 2, &rel->updated_wall) ||
	    !col_text(st, 4, rel->meta, sizeof(rel->meta)))
		return fail(s->path, -EIO, errbuf, errlen,
		    "corrupt release %s of service %s: bad time or metadata",
		    version, service);
	col_text(st, 3, rel->announced_by, sizeof(rel->announced_by));
	return 0;
}

/* One release of a service: see store.h. */
int rbd_store_release(struct rbd_store *s, const char *service,
    const char *version, struct rbd_release *ret, char *errbuf, size_t errlen)
{
	const struct bind v[] = { B_STR(service), B_STR(version) };
	struct rbd_release rel;
	sqlite3_stmt *st;
	int r = stmt_open(s,
	    "SELECT status, announced_at, updated_at, announced_by, meta"
	    " FROM releases WHERE service = ?1 AND version = ?2",
	    v, ARRAY_SIZE(v), &st, errbuf, errlen);

	if (r < 0)
		return r;
	r = stmt_next(s, st, errbuf, errlen);
	if (r > 0)
		r = release_row(s, service, version, st, &rel, errbuf, errlen);
	else if (r == 0)
		r = fail(s->path, -ENOENT, errbuf, errlen,
		    "service %s has no release %s", service, version);
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	*ret = rel;
	return 0;
}

/* The services with a snapshot, sorted: see store.h. */
int rbd_store_services(struct rbd_store *s, char ***ret, size_t *ret_n,
    char *errbuf, size_t errlen)
{
	char **arr = calloc(1, sizeof(*arr));
	size_t n = 0;
	sqlite3_stmt *st;
	int r = arr ? stmt_open(s,
	    "SELECT service FROM snapshots ORDER BY service",
	    NULL, 0, &st, errbuf, errlen) :
	    fail(s->path, -ENOMEM, errbuf, errlen, "%s", strerror(ENOMEM));

	if (r < 0) {
		free(arr);
		return r;
	}
	while ((r = stmt_next(s, st, errbuf, errlen)) > 0) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		char **a;

		if (!t || rbd_service_check(t, NULL) < 0) {
			r = fail(s->path, -EIO, errbuf, errlen,
			    "corrupt snapshot: invalid service name '%.64s'",
			    t ? t : "");
			break;
		}
		a = reallocarray(arr, n + 2, sizeof(*arr));
		if (a)
			arr = a;
		if (!a || !(arr[n] = strdup(t))) {
			r = fail(s->path, -ENOMEM, errbuf, errlen, "%s",
			    strerror(ENOMEM));
			break;
		}
		arr[++n] = NULL;
	}
	sqlite3_finalize(st);
	if (r < 0) {
		rbd_argv_free(arr);
		return r;
	}
	*ret = arr;
	*ret_n = n;
	return 0;
}
