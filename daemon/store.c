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
	/* The last write that failed (rbd_store_write_error), "" since the
	 * last one that worked. */
	int write_errno;
	char write_error[512];
	uint64_t write_failed_since, write_failures;
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
	/* 2 -> 3: schema migrations, pauses and the loop breaker. A release
	 * keeps the schema it was announced with and how it migrated (NULL:
	 * not announced with one). A snapshot keeps the database's schema as
	 * the live release left it, the one before, how it moved, a
	 * down-migration in flight, and a pause (its end on the wall clock,
	 * NULL until resumed); each known-good release its schema (NULL:
	 * unknown; always NULL in the bad list); and the times of the
	 * automatic rollbacks the loop breaker counts, on the wall clock, in
	 * their own table. */
	"ALTER TABLE releases ADD COLUMN schema INTEGER CHECK (schema >= 0);"
	"ALTER TABLE releases ADD COLUMN migration TEXT"
	"  CHECK (migration IN ('none', 'reversible', 'irreversible'));"
	"ALTER TABLE snapshots ADD COLUMN schema INTEGER;"
	"ALTER TABLE snapshots ADD COLUMN schema_before INTEGER;"
	"ALTER TABLE snapshots ADD COLUMN migration TEXT NOT NULL"
	"  DEFAULT 'none';"
	"ALTER TABLE snapshots ADD COLUMN migrating INTEGER NOT NULL"
	"  DEFAULT 0;"
	"ALTER TABLE snapshots ADD COLUMN target_schema INTEGER;"
	"ALTER TABLE snapshots ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE snapshots ADD COLUMN pause_until INTEGER;"
	"ALTER TABLE snapshots ADD COLUMN pause_reason TEXT NOT NULL"
	"  DEFAULT '';"
	"ALTER TABLE snapshots ADD COLUMN paused_by TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE snapshot_lists ADD COLUMN schema INTEGER;"
	"CREATE TABLE snapshot_auto ("
	"  service TEXT NOT NULL"
	"    REFERENCES snapshots (service) ON DELETE CASCADE,"
	"  pos INTEGER NOT NULL CHECK (pos >= 0),"
	"  at INTEGER NOT NULL,"
	"  PRIMARY KEY (service, pos)"
	") STRICT;"
	"PRAGMA user_version = 3;",
	/* 3 -> 4: remedies. A snapshot in state remedying keeps the remedy
	 * being tried (its index in the policy's remedies), when the watch
	 * window it interrupted began (wall clock; NULL when not remedying)
	 * and the degradation that started the remedies. */
	"ALTER TABLE snapshots ADD COLUMN remedy INTEGER NOT NULL DEFAULT 0"
	"  CHECK (remedy >= 0);"
	"ALTER TABLE snapshots ADD COLUMN remedy_watch_since INTEGER;"
	"ALTER TABLE snapshots ADD COLUMN remedy_why TEXT NOT NULL DEFAULT '';"
	"PRAGMA user_version = 4;",
	/* 4 -> 5: drills. One row beside a service's snapshot: the drill in
	 * progress (its phase, whether an abort was asked, why it failed,
	 * each leg's state and timings in usec, healthy NULL when it never
	 * was) and the last drill that ended (its result, when, a line
	 * about it, and when one last passed; NULL never). */
	"CREATE TABLE snapshot_drill ("
	"  service TEXT PRIMARY KEY NOT NULL"
	"    REFERENCES snapshots (service) ON DELETE CASCADE,"
	"  phase TEXT NOT NULL,"
	"  aborting INTEGER NOT NULL,"
	"  failure TEXT NOT NULL,"
	"  back_state TEXT NOT NULL,"
	"  back_deploy INTEGER NOT NULL CHECK (back_deploy >= 0),"
	"  back_healthy INTEGER CHECK (back_healthy >= 0),"
	"  back_verify INTEGER NOT NULL CHECK (back_verify >= 0),"
	"  fwd_state TEXT NOT NULL,"
	"  fwd_deploy INTEGER NOT NULL CHECK (fwd_deploy >= 0),"
	"  fwd_healthy INTEGER CHECK (fwd_healthy >= 0),"
	"  fwd_verify INTEGER NOT NULL CHECK (fwd_verify >= 0),"
	"  last_result TEXT NOT NULL,"
	"  last_at INTEGER,"
	"  passed_at INTEGER,"
	"  last_reason TEXT NOT NULL,"
	"  l TEXT NOT NULL,"
	"  k TEXT NOT NULL"
	") STRICT;"
	"PRAGMA user_version = 5;",
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
#define B_NULL		((struct bind){ .type = BIND_TEXT, .s = NULL })

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

/* A schema version as SQLite stores it: NULL for RBD_SCHEMA_NONE. */
static struct bind schema_bind(int64_t schema)
{
	return schema == RBD_SCHEMA_NONE ? B_NULL :
	    B_INT((sqlite3_int64)schema);
}

/* Whether schema is RBD_SCHEMA_NONE or a version a release may announce. */
static bool schema_ok(int64_t schema)
{
	return schema == RBD_SCHEMA_NONE ||
	    (schema >= 0 && schema <= RBD_SCHEMA_MAX);
}

/* Schema column i of st: NULL reads as RBD_SCHEMA_NONE; false when it is
 * neither NULL nor an integer in 0..RBD_SCHEMA_MAX. */
static bool col_schema(sqlite3_stmt *st, int i, int64_t *ret)
{
	sqlite3_int64 v;

	if (sqlite3_column_type(st, i) == SQLITE_NULL) {
		*ret = RBD_SCHEMA_NONE;
		return true;
	}
	if (sqlite3_column_type(st, i) != SQLITE_INTEGER)
		return false;
	v = sqlite3_column_int64(st, i);
	if (v < 0 || v > RBD_SCHEMA_MAX)
		return false;
	*ret = v;
	return true;
}

/* Migration column i of st: NULL reads as none. */
static bool col_migration(sqlite3_stmt *st, int i, enum rbd_migration *ret)
{
	char m[32];

	if (sqlite3_column_type(st, i) == SQLITE_NULL) {
		*ret = RBD_MIGRATION_NONE;
		return true;
	}
	return col_text(st, i, m, sizeof(m)) &&
	    rbd_migration_from_str(m, ret) == 0;
}

/* A boolean column (0 or 1). */
static bool col_bool(sqlite3_stmt *st, int i, bool *ret)
{
	uint64_t v;

	if (!col_u64(st, i, &v) || v > 1)
		return false;
	*ret = v == 1;
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
	/* A drill times its phases and its verify windows alike. */
	return st == RBD_STATE_WATCHING || st == RBD_STATE_VERIFYING ||
	    st == RBD_STATE_DRILLING;
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
			B_STR(rbd_state_str(RBD_STATE_DRILLING)),
		};

		r = store_exec(s,
		    "UPDATE snapshots SET since_at = ?2, updated_at = ?3"
		    " WHERE service = ?1 AND since_at = ?4 AND updated_at = ?5"
		    " AND state IN (?6, ?7, ?8)",
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

/* Remember how a write transaction went, for rbd_store_write_error: r
 * and its message err. */
static void write_result(struct rbd_store *s, int r, const char *err,
    uint64_t now_wall)
{
	if (r >= 0) {
		s->write_errno = 0;
		s->write_error[0] = '\0';
		s->write_failed_since = 0;
		return;
	}
	if (!s->write_errno)
		s->write_failed_since = now_wall;
	s->write_errno = r;
	s->write_failures++;
	snprintf(s->write_error, sizeof(s->write_error), "%s", err);
}

/* Record that the daemon is alive and watching: see store.h. */
int rbd_store_heartbeat(struct rbd_store *s, uint64_t now_wall,
    char *errbuf, size_t errlen)
{
	char err[sizeof(s->write_error)] = "";
	int r = tx_begin(s, true, err, sizeof(err));

	if (r >= 0)
		r = put_alive(s, now_wall, err, sizeof(err));
	r = tx_end(s, r, err, sizeof(err));
	write_result(s, r, err, now_wall);
	if (r < 0) {
		snprintf(errbuf, errlen, "%s", err);
		return r;
	}
	s->n_resumed = 0;	/* all moved */
	return r;
}

/* The last write's failure: see store.h. */
int rbd_store_write_error(const struct rbd_store *s, uint64_t *ret_since,
    uint64_t *ret_failures, char *errbuf, size_t errlen)
{
	if (ret_failures)
		*ret_failures = s->write_failures;
	if (!s->write_errno)
		return 0;
	if (ret_since)
		*ret_since = s->write_failed_since;
	snprintf(errbuf, errlen, "%s", s->write_error);
	return s->write_errno;
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
	else if (ev && ev->type == RBD_EV_DEPLOYED && (!schema_ok(ev->schema) ||
	    (unsigned)ev->migration >= _RBD_MIGRATION_MAX))
		bad = "deployed event with an invalid schema or migration";
	else if (!schema_ok(w->schema) || !schema_ok(w->schema_before) ||
	    !schema_ok(w->target_schema) ||
	    (unsigned)w->migration >= _RBD_MIGRATION_MAX)
		bad = "invalid schema or migration";
	else if (w->n_auto > RBD_WATCH_AUTO_MAX)
		bad = "list longer than its bound";
	for (size_t i = 0; !bad && i < w->n_good; i++)
		if (!schema_ok(w->good_schema[i]))
			bad = "invalid schema of a known-good release";
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
	    w->state == RBD_STATE_VERIFYING ||
	    w->state == RBD_STATE_DRILLING)
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

/* The release a deploy hook announced: who, when, its metadata, the
 * schema it runs against and how it migrated (NULL both without a
 * schema). Its status comes with the step's updates. Announcing a release
 * again replaces the announcement. */
static int put_announce(struct rbd_store *s, const char *service,
    const struct rbd_event *ev, uint64_t now_wall, char *errbuf,
    size_t errlen)
{
	const char *actor = event_actor(ev);
	bool has_schema = ev->schema != RBD_SCHEMA_NONE;
	const struct bind v[] = {
		B_STR(service), B_STR(ev->version), B_INT(wall_i64(now_wall)),
		B_STR(actor), B_STR(ev->meta), schema_bind(ev->schema),
		has_schema ? B_STR(rbd_migration_str(ev->migration)) : B_NULL,
	};

	return store_exec(s,
	    "INSERT INTO releases (service, version, status, announced_at,"
	    " announced_by, meta, updated_at, schema, migration)"
	    " VALUES (?1, ?2, 'watching', ?3, ?4, ?5, ?3, ?6, ?7)"
	    " ON CONFLICT (service, version) DO UPDATE SET"
	    " announced_at = excluded.announced_at,"
	    " announced_by = excluded.announced_by,"
	    " meta = excluded.meta, updated_at = excluded.updated_at,"
	    " schema = excluded.schema, migration = excluded.migration",
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

/* Write one of the snapshot's lists, versions[0..n) in order, each with
 * its schema (schemas NULL: none, the bad list). */
static int put_list(struct rbd_store *s, const char *service,
    const char *list, const char (*versions)[RBD_VERSION_MAX + 1],
    const int64_t *schemas, size_t n, char *errbuf, size_t errlen)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < n; i++) {
		const struct bind v[] = {
			B_STR(service), B_STR(list), B_INT((sqlite3_int64)i),
			B_ARR(versions[i]),
			schema_bind(schemas ? schemas[i] : RBD_SCHEMA_NONE),
		};

		r = store_exec(s,
		    "INSERT INTO snapshot_lists (service, list, pos, version,"
		    " schema) VALUES (?1, ?2, ?3, ?4, ?5)",
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

/* Write the loop breaker's automatic rollback times, oldest first, on
 * the wall clock (as long ago as they are on the engine's). */
static int put_auto(struct rbd_store *s, const char *service,
    const struct rbd_watch *w, uint64_t now_mono, uint64_t now_wall,
    char *errbuf, size_t errlen)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < w->n_auto; i++) {
		const struct bind v[] = {
			B_STR(service), B_INT((sqlite3_int64)i),
			B_INT(wall_i64(since_to_wall(w->auto_times[i], now_mono,
			    now_wall))),
		};

		r = store_exec(s,
		    "INSERT INTO snapshot_auto (service, pos, at)"
		    " VALUES (?1, ?2, ?3)",
		    v, ARRAY_SIZE(v), errbuf, errlen);
	}
	return r;
}

/* When a pause ends on the wall clock, for the snapshot: NULL when w is
 * not paused or paused until resumed. The engine's wall time is the one
 * people were shown; it is worked out from the engine's clock when the
 * engine has none. */
static struct bind pause_until_bind(const struct rbd_watch *w,
    uint64_t now_mono, uint64_t now_wall)
{
	uint64_t wall = w->pause_until_wall;

	if (!w->paused || !w->pause_until)
		return B_NULL;
	if (!wall && w->pause_until >= now_mono)
		wall = now_wall + (w->pause_until - now_mono);
	else if (!wall)
		wall = since_to_wall(w->pause_until, now_mono, now_wall);
	return B_INT(wall_i64(wall));
}

/* Write the snapshot of w: one row, its good[] and bad[] lists and its
 * automatic rollback times. The fields of a pause are kept while w is
 * paused, and only then. */
static int put_snapshot(struct rbd_store *s, const char *service,
    const struct rbd_watch *w, uint64_t now_mono, uint64_t now_wall,
    char *errbuf, size_t errlen)
{
	bool remedying = w->state == RBD_STATE_REMEDYING;
	const struct bind v[] = {
		B_STR(service), B_STR(rbd_state_str(w->state)),
		B_INT(wall_i64(since_to_wall(w->since, now_mono, now_wall))),
		B_ARR(w->live), B_ARR(w->target), B_ARR(w->from),
		B_ARR(w->reason), B_INT((sqlite3_int64)w->deploy_id),
		B_INT((sqlite3_int64)w->next_deploy_id),
		B_INT(wall_i64(now_wall)),
		schema_bind(w->schema), schema_bind(w->schema_before),
		B_STR(rbd_migration_str(w->migration)), B_INT(w->migrating),
		schema_bind(w->target_schema), B_INT(w->paused),
		pause_until_bind(w, now_mono, now_wall),
		w->paused ? B_ARR(w->pause_reason) : B_STR(""),
		w->paused ? B_ARR(w->paused_by) : B_STR(""),
		/* Remedies */
		B_INT(remedying ? (sqlite3_int64)w->remedy : 0),
		remedying ? B_INT(wall_i64(since_to_wall(w->remedy_watch_since,
		    now_mono, now_wall))) : B_NULL,
		remedying ? B_ARR(w->remedy_why) : B_STR(""),
	};
	int r = store_exec(s,
	    "INSERT INTO snapshots (service, state, since_at, live, target,"
	    " from_release, reason, deploy_id, next_deploy_id, updated_at,"
	    " schema, schema_before, migration, migrating, target_schema,"
	    " paused, pause_until, pause_reason, paused_by,"
	    " remedy, remedy_watch_since, remedy_why)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	    " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
	    " ON CONFLICT (service) DO UPDATE SET"
	    " state = excluded.state, since_at = excluded.since_at,"
	    " live = excluded.live, target = excluded.target,"
	    " from_release = excluded.from_release, reason = excluded.reason,"
	    " deploy_id = excluded.deploy_id,"
	    " next_deploy_id = excluded.next_deploy_id,"
	    " updated_at = excluded.updated_at,"
	    " schema = excluded.schema, schema_before = excluded.schema_before,"
	    " migration = excluded.migration, migrating = excluded.migrating,"
	    " target_schema = excluded.target_schema,"
	    " paused = excluded.paused, pause_until = excluded.pause_until,"
	    " pause_reason = excluded.pause_reason,"
	    " paused_by = excluded.paused_by,"
	    " remedy = excluded.remedy,"
	    " remedy_watch_since = excluded.remedy_watch_since,"
	    " remedy_why = excluded.remedy_why",
	    v, ARRAY_SIZE(v), errbuf, errlen);

	if (r >= 0)
		r = store_exec(s,
		    "DELETE FROM snapshot_lists WHERE service = ?1",
		    v, 1, errbuf, errlen);
	if (r >= 0)
		r = store_exec(s,
		    "DELETE FROM snapshot_auto WHERE service = ?1",
		    v, 1, errbuf, errlen);
	if (r >= 0)
		r = put_list(s, service, "good", w->good, w->good_schema,
		    w->n_good, errbuf, errlen);
	if (r >= 0)
		r = put_list(s, service, "bad", w->bad, NULL, w->n_bad,
		    errbuf, errlen);
	if (r >= 0)
		r = put_auto(s, service, w, now_mono, now_wall, errbuf, errlen);
	return r;
}

/* Drill: a leg's healthy time, NULL when it never was healthy. */
static struct bind healthy_bind(const struct rbd_drill_leg *l)
{
	return l->healthy ? B_INT((sqlite3_int64)l->healthy_usec) : B_NULL;
}

/* Drill: a wall time, NULL for 0 (never). */
static struct bind wall_bind(uint64_t wall)
{
	return wall ? B_INT(wall_i64(wall)) : B_NULL;
}

/* Drill: write the drill row of w, after its snapshot row. */
static int put_drill(struct rbd_store *s, const char *service,
    const struct rbd_watch *w, char *errbuf, size_t errlen)
{
	const struct rbd_drill_leg *b = &w->drill_legs[0], *f = &w->drill_legs[1];
	const struct bind v[] = {
		B_STR(service), B_STR(rbd_drill_phase_str(w->drill_phase)),
		B_INT(w->drill_abort), B_ARR(w->drill_failure),
		B_STR(rbd_drill_leg_state_str(b->state)),
		B_INT((sqlite3_int64)b->deploy_usec), healthy_bind(b),
		B_INT((sqlite3_int64)b->verify_usec),
		B_STR(rbd_drill_leg_state_str(f->state)),
		B_INT((sqlite3_int64)f->deploy_usec), healthy_bind(f),
		B_INT((sqlite3_int64)f->verify_usec),
		B_STR(rbd_drill_result_str(w->drill_last)),
		wall_bind(w->drill_last_wall), wall_bind(w->drill_passed_wall),
		B_ARR(w->drill_last_reason), B_ARR(w->drill_l),
		B_ARR(w->drill_k),
	};

	return store_exec(s,
	    "INSERT OR REPLACE INTO snapshot_drill (service, phase, aborting,"
	    " failure, back_state, back_deploy, back_healthy, back_verify,"
	    " fwd_state, fwd_deploy, fwd_healthy, fwd_verify, last_result,"
	    " last_at, passed_at, last_reason, l, k) VALUES (?1, ?2, ?3, ?4,"
	    " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
	    " ?18)",
	    v, ARRAY_SIZE(v), errbuf, errlen);
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
	if (r >= 0)
		r = put_drill(s, service, w, errbuf, errlen);
	return r;
}

/* Write one step's record in one transaction: see store.h. */
int rbd_store_commit(struct rbd_store *s, const char *service,
    const struct rbd_watch *w, const struct rbd_step *step,
    const struct rbd_event *ev, uint64_t now_mono, uint64_t now_wall,
    char *errbuf, size_t errlen)
{
	char err[sizeof(s->write_error)] = "";
	int r;

	if (!step->record)
		return 0;
	r = commit_check(s, service, w, step, ev, errbuf, errlen);
	if (r < 0)
		return r;	/* nothing was tried on the store */
	r = tx_begin(s, true, err, sizeof(err));
	if (r >= 0)
		r = commit_rows(s, service, w, step, ev, now_mono, now_wall,
		    err, sizeof(err));
	r = tx_end(s, r, err, sizeof(err));
	write_result(s, r, err, now_wall);
	if (r < 0) {
		snprintf(errbuf, errlen, "%s", err);
		return r;
	}
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

/* Read the service's good or bad list into versions[max], in order, and
 * each release's schema into schemas[max] (NULL: not wanted). */
static int load_list(struct rbd_store *s, const char *service,
    const char *list, char (*versions)[RBD_VERSION_MAX + 1],
    int64_t *schemas, size_t max, size_t *ret_n, char *errbuf,
    size_t errlen)
{
	const struct bind v[] = { B_STR(service), B_STR(list) };
	sqlite3_stmt *st;
	size_t n = 0;
	int r = stmt_open(s,
	    "SELECT pos, version, schema FROM snapshot_lists"
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
		if (schemas && !col_schema(st, 2, &schemas[n])) {
			r = corrupt(s, service, errbuf, errlen,
			    "%s has an invalid schema", what);
			break;
		}
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

/* The loop breaker's automatic rollback times back on the engine's clock,
 * as long before now_mono as they were before now_wall (one in the future
 * of a wall clock that went back counts as now, so it is not forgotten
 * early). They must be in order, oldest first. */
static int load_auto(struct rbd_store *s, const char *service,
    struct rbd_watch *w, uint64_t now_mono, uint64_t now_wall,
    char *errbuf, size_t errlen)
{
	const struct bind v[] = { B_STR(service) };
	sqlite3_stmt *st;
	uint64_t prev = 0;
	size_t n = 0;
	int r = stmt_open(s,
	    "SELECT pos, at FROM snapshot_auto WHERE service = ?1 ORDER BY pos",
	    v, ARRAY_SIZE(v), &st, errbuf, errlen);

	if (r < 0)
		return r;
	while ((r = stmt_next(s, st, errbuf, errlen)) > 0) {
		uint64_t pos, at;

		if (n >= RBD_WATCH_AUTO_MAX || !col_u64(st, 0, &pos) ||
		    pos != n || !col_u64(st, 1, &at) || at < prev) {
			r = corrupt(s, service, errbuf, errlen,
			    "automatic rollback #%zu out of place", n);
			break;
		}
		prev = at;
		w->auto_times[n++] = since_from_wall(at, now_mono, now_wall);
	}
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	w->n_auto = n;
	return 0;
}

/* A pause from a snapshot row (columns 15 to 18), if w is paused. Its end
 * comes back on the engine's clock as far ahead of now_mono as it is of
 * now_wall; one that passed while the daemon was down is due now (never
 * 0, which would mean until resumed), and the pause timer ends it. */
static int load_pause(struct rbd_store *s, const char *service,
    sqlite3_stmt *st, struct rbd_watch *w, uint64_t now_mono,
    uint64_t now_wall, char *errbuf, size_t errlen)
{
	uint64_t until_wall = 0;

	if (!col_bool(st, 15, &w->paused) ||
	    (sqlite3_column_type(st, 16) != SQLITE_NULL &&
	    (!col_u64(st, 16, &until_wall) || until_wall == 0)))
		return corrupt(s, service, errbuf, errlen, "%s",
		    "the pause is not valid");
	w->pause_until = 0;
	w->pause_until_wall = 0;
	w->pause_reason[0] = '\0';
	w->paused_by[0] = '\0';
	if (!w->paused)
		return 0;
	if (until_wall) {
		w->pause_until_wall = until_wall;
		w->pause_until = until_wall > now_wall ?
		    now_mono + (until_wall - now_wall) : now_mono;
		if (w->pause_until == 0)
			w->pause_until = 1;
	}
	/* For people: a long one is cut, not refused. */
	col_text(st, 17, w->pause_reason, sizeof(w->pause_reason));
	col_text(st, 18, w->paused_by, sizeof(w->paused_by));
	return 0;
}

/* Remedies: the remedy columns of a snapshot row (19 to 21), read only in
 * state remedying. Whether its settle period had begun is not stored: a
 * resumed remedy runs again (rbd_watch_resume). */
static int load_remedy(struct rbd_store *s, const char *service,
    sqlite3_stmt *st, struct rbd_watch *w, uint64_t now_mono,
    uint64_t now_wall, char *errbuf, size_t errlen)
{
	uint64_t remedy = 0, since_wall = 0;

	w->remedy = 0;
	w->remedy_settling = false;
	w->remedy_at = 0;
	w->remedy_watch_since = 0;
	w->remedy_why[0] = '\0';
	if (w->state != RBD_STATE_REMEDYING)
		return 0;
	if (!col_u64(st, 19, &remedy) || remedy >= SIZE_MAX ||
	    !col_u64(st, 20, &since_wall))
		return corrupt(s, service, errbuf, errlen, "%s",
		    "the remedy being tried is not valid");
	w->remedy = (size_t)remedy;
	w->remedy_watch_since = since_from_wall(since_wall, now_mono, now_wall);
	/* For people: a long one is cut, not refused. */
	col_text(st, 21, w->remedy_why, sizeof(w->remedy_why));
	return 0;
}

/* The schema columns of a snapshot row (10 to 14). */
static int load_schema(struct rbd_store *s, const char *service,
    sqlite3_stmt *st, struct rbd_watch *w, char *errbuf, size_t errlen)
{
	if (!col_schema(st, 10, &w->schema) ||
	    !col_schema(st, 11, &w->schema_before) ||
	    !col_migration(st, 12, &w->migration) ||
	    !col_bool(st, 13, &w->migrating) ||
	    !col_schema(st, 14, &w->target_schema))
		return corrupt(s, service, errbuf, errlen, "%s",
		    "the schema or migration is not valid");
	return 0;
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
	if (r >= 0)
		r = load_schema(s, service, st, w, errbuf, errlen);
	if (r >= 0)
		r = load_pause(s, service, st, w, now_mono, now_wall, errbuf,
		    errlen);
	if (r >= 0)
		r = load_remedy(s, service, st, w, now_mono, now_wall, errbuf,
		    errlen);
	return r;
}

/* Drill: one leg from columns i (state), i + 1 (deploy), i + 2 (healthy,
 * NULL never), i + 3 (verify). */
static bool col_leg(sqlite3_stmt *st, int i, struct rbd_drill_leg *l)
{
	char state[32];

	memset(l, 0, sizeof(*l));
	if (!col_text(st, i, state, sizeof(state)) ||
	    rbd_drill_leg_state_from_str(state, &l->state) < 0 ||
	    !col_u64(st, i + 1, &l->deploy_usec) ||
	    !col_u64(st, i + 3, &l->verify_usec))
		return false;
	l->healthy = sqlite3_column_type(st, i + 2) != SQLITE_NULL;
	return !l->healthy || col_u64(st, i + 2, &l->healthy_usec);
}

/* Drill: a wall time column, NULL for never (0). */
static bool col_wall(sqlite3_stmt *st, int i, uint64_t *ret)
{
	*ret = 0;
	return sqlite3_column_type(st, i) == SQLITE_NULL || col_u64(st, i, ret);
}

/* Drill: the drill row of service into w; none (a store from before
 * drills, or a service that never drilled) leaves w's drill fields as
 * rbd_watch_new made them. A drilling snapshot needs its row. */
static int load_drill(struct rbd_store *s, const char *service,
    struct rbd_watch *w, char *errbuf, size_t errlen)
{
	const struct bind v[] = { B_STR(service) };
	char phase[32], last[32];
	sqlite3_stmt *st;
	int r = stmt_open(s,
	    "SELECT phase, aborting, failure, back_state, back_deploy,"
	    " back_healthy, back_verify, fwd_state, fwd_deploy, fwd_healthy,"
	    " fwd_verify, last_result, last_at, passed_at, last_reason, l, k"
	    " FROM snapshot_drill WHERE service = ?1",
	    v, ARRAY_SIZE(v), &st, errbuf, errlen);

	if (r < 0)
		return r;
	r = stmt_next(s, st, errbuf, errlen);
	if (r > 0 && (!col_text(st, 0, phase, sizeof(phase)) ||
	    rbd_drill_phase_from_str(phase, &w->drill_phase) < 0 ||
	    !col_bool(st, 1, &w->drill_abort) ||
	    !col_leg(st, 3, &w->drill_legs[0]) ||
	    !col_leg(st, 7, &w->drill_legs[1]) ||
	    !col_text(st, 11, last, sizeof(last)) ||
	    rbd_drill_result_from_str(last, &w->drill_last) < 0 ||
	    !col_wall(st, 12, &w->drill_last_wall) ||
	    !col_wall(st, 13, &w->drill_passed_wall)))
		r = corrupt(s, service, errbuf, errlen, "%s",
		    "the drill is not valid");
	else if (r > 0 && (col_version(s, service, st, 15, w->drill_l, true,
	    "drill's live release", errbuf, errlen) < 0 ||
	    col_version(s, service, st, 16, w->drill_k, true,
	    "drill's rollback target", errbuf, errlen) < 0))
		r = -EIO;	/* col_version said why */
	else if (r > 0) {
		/* For people: a long one is cut, not refused. */
		col_text(st, 2, w->drill_failure, sizeof(w->drill_failure));
		col_text(st, 14, w->drill_last_reason,
		    sizeof(w->drill_last_reason));
	}
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	if ((w->state == RBD_STATE_DRILLING) !=
	    (w->drill_phase != RBD_DRILL_NONE))
		return corrupt(s, service, errbuf, errlen, "state %s with drill "
		    "phase %s", rbd_state_str(w->state),
		    rbd_drill_phase_str(w->drill_phase));
	return 0;
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
	    " (SELECT alive_at FROM daemon WHERE id = 1),"
	    " schema, schema_before, migration, migrating, target_schema,"
	    " paused, pause_until, pause_reason, paused_by,"
	    " remedy, remedy_watch_since, remedy_why"
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
	r = load_list(s, service, "good", w->good, w->good_schema,
	    RBD_WATCH_GOOD_MAX, &w->n_good, errbuf, errlen);
	if (r >= 0)
		r = load_list(s, service, "bad", w->bad, NULL,
		    RBD_WATCH_BAD_MAX, &w->n_bad, errbuf, errlen);
	if (r >= 0)
		r = load_auto(s, service, w, now_mono, now_wall, errbuf,
		    errlen);
	if (r >= 0)
		r = load_drill(s, service, w, errbuf, errlen);
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

/* Fill rel from a releases row (status, times, who, meta, schema). */
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
	if (!col_schema(st, 5, &rel->schema) ||
	    !col_migration(st, 6, &rel->migration))
		return fail(s->path, -EIO, errbuf, errlen,
		    "corrupt release %s of service %s: bad schema or migration",
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
	    "SELECT status, announced_at, updated_at, announced_by, meta,"
	    " schema, migration"
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
