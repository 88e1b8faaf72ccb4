/* rollbackctl's human output: see ctl_format.h.
 *
 * Tables are printed in two passes over the reply (measure, then print),
 * each row's cells built into fixed buffers, so nothing is allocated. The
 * last column (a reason or a detail) is never padded nor cut. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl_format.h"
#include "duration.h"

#define CELL	160	/* bytes of one padded cell; longer ones end "..." */
#define GAP	2	/* spaces between columns */

/* The length of the UTF-8 sequence at s (2 to 4 bytes), 0 when it is
 * not one: such bytes are escaped, a lone 0x9b is a C1 control too. */
static size_t utf8_len(const char *s)
{
	unsigned char c = (unsigned char)s[0];
	size_t n = c >= 0xf5 ? 0 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 :
	    c >= 0xc2 ? 2 : 0;

	for (size_t i = 1; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* The escape of the character at s, written into tmp (9 bytes); returns
 * how many bytes of s it stands for. */
static size_t escape_one(const char *s, char *tmp)
{
	unsigned char c = (unsigned char)s[0], d = (unsigned char)s[1];
	size_t n;

	switch (c) {
	case '\n':
		strcpy(tmp, "\\n");
		return 1;
	case '\r':
		strcpy(tmp, "\\r");
		return 1;
	case '\t':
		strcpy(tmp, "\\t");
		return 1;
	}
	if (c < 0x20 || c == 0x7f) {
		snprintf(tmp, 9, "\\x%02x", c);
		return 1;
	}
	if (c < 0x80) {
		tmp[0] = (char)c;
		tmp[1] = '\0';
		return 1;
	}
	n = utf8_len(s);
	if (n == 0) {
		snprintf(tmp, 9, "\\x%02x", c);
		return 1;
	}
	/* U+0080..U+009F: C1 controls, which some terminals obey. */
	if (c == 0xc2 && d <= 0x9f) {
		snprintf(tmp, 9, "\\u%04x", d);
		return 2;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return n;
}

char *rbd_ctl_escape(const char *s, char *buf, size_t len)
{
	size_t off = 0;

	for (s = s ? s : "-"; *s;) {
		char tmp[9];
		size_t used = escape_one(s, tmp), n = strlen(tmp);

		if (off + n >= len) {
			/* Cut on a character boundary, leaving room for "...". */
			if (off > len - 4)
				off = len - 4;
			while (off > 0 && ((unsigned char)buf[off] & 0xc0) == 0x80)
				off--;
			strcpy(buf + off, "...");
			return buf;
		}
		memcpy(buf + off, tmp, n);
		off += n;
		s += used;
	}
	buf[off] = '\0';
	return buf;
}

void rbd_ctl_puts(FILE *out, const char *s)
{
	for (s = s ? s : "-"; *s;) {
		char tmp[9];

		s += escape_one(s, tmp);
		fputs(tmp, out);
	}
}

char *rbd_ctl_time(uint64_t usec, bool date, char *buf, size_t len)
{
	time_t t = (time_t)(usec / RBD_USEC_PER_SEC);
	struct tm tm;
	size_t n = 0;

	if (localtime_r(&t, &tm))
		n = date ? strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) :
		    strftime(buf, len, "%H:%M:%S", &tm);
	if (n == 0)
		snprintf(buf, len, "-");
	return buf;
}

/* A string member of obj; NULL when absent, null or not a string. */
static const char *str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* s, or "-" for a missing value. */
static const char *dash(const char *s)
{
	return s ? s : "-";
}

/* A wall-clock usec member of obj; 0 when absent or not positive. */
static uint64_t usec_of(const json_t *obj, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(obj, key));

	return v > 0 ? (uint64_t)v : 0;
}

/* Columns on a terminal: UTF-8 continuation bytes take none. */
static size_t width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Widen w[] to fit every cell of a row. */
static void widen(size_t *w, char cells[][CELL], size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (width(cells[i]) > w[i])
			w[i] = width(cells[i]);
}

/* Print the padded cells of a row; the caller prints the last column. */
static void put_cells(FILE *out, char cells[][CELL], const size_t *w,
    size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%*s", cells[i],
		    (int)(w[i] - width(cells[i]) + GAP), "");
}

/* A header row into cells. */
static void head(char cells[][CELL], const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snprintf(cells[i], CELL, "%s", names[i]);
}

/* "3m12s ago" for a wall-clock time, truncated to seconds; "-" unknown. */
static void ago(uint64_t then, uint64_t now, char *buf, size_t len)
{
	char d[RBD_DURATION_STR_MAX];
	uint64_t diff;

	if (!then) {
		snprintf(buf, len, "-");
		return;
	}
	diff = now > then ? now - then : 0;
	diff -= diff % RBD_USEC_PER_SEC;
	snprintf(buf, len, "%s ago", rbd_duration_str(diff, d, sizeof(d)));
}

enum { ST_SERVICE, ST_STATE, ST_LIVE, ST_GOOD, ST_SINCE, ST_COLS };

static const char *const status_head[ST_COLS] = {
	"SERVICE", "STATE", "LIVE", "KNOWN-GOOD", "SINCE",
};

/* Whether the service's policy runs in dry-run mode. */
static bool dry_run(const json_t *svc)
{
	const char *mode = str(svc, "mode");

	return mode && strcmp(mode, "dry-run") == 0;
}

/* The cells of one service's status row: the state names its target
 * ("rolling_back to v2.4.1") and says when a deploy command (or the
 * down-migration before it) is running, and when nothing will be run
 * automatically (dry-run, paused). */
static void status_cells(const json_t *svc, uint64_t now, char cells[][CELL])
{
	const char *target = str(svc, "target");
	const char *flags[3];
	char state[2 * CELL];
	size_t n = 0, off;

	if (json_is_true(json_object_get(svc, "migrating")))
		flags[n++] = "migrating down";
	else if (json_is_true(json_object_get(svc, "deploying")))
		flags[n++] = "deploying";
	if (dry_run(svc))
		flags[n++] = "dry-run";
	if (json_is_object(json_object_get(svc, "paused")))
		flags[n++] = "paused";
	off = (size_t)snprintf(state, sizeof(state), "%s%s%s",
	    dash(str(svc, "state")), target ? " to " : "", target ? target : "");
	for (size_t i = 0; i < n && off < sizeof(state); i++)
		off += (size_t)snprintf(state + off, sizeof(state) - off, "%s%s%s",
		    i ? ", " : " (", flags[i], i + 1 == n ? ")" : "");
	rbd_ctl_escape(str(svc, "service"), cells[ST_SERVICE], CELL);
	rbd_ctl_escape(state, cells[ST_STATE], CELL);
	rbd_ctl_escape(str(svc, "live"), cells[ST_LIVE], CELL);
	rbd_ctl_escape(str(svc, "known_good"), cells[ST_GOOD], CELL);
	ago(usec_of(svc, "since"), now, cells[ST_SINCE], CELL);
}

enum { CK_NAME, CK_LAST, CK_FAILS, CK_NODATA, CK_COLS };

static const char *const check_head[CK_COLS] = {
	"CHECK", "LAST", "FAILS", "NO-DATA",
};

/* "n/limit" of two fields of ck, or "n" when the limit is absent. */
static void count_cell(const json_t *ck, const char *count, const char *limit,
    char *cell)
{
	const json_t *l = json_object_get(ck, limit);
	long long n = json_integer_value(json_object_get(ck, count));

	if (json_is_integer(l))
		snprintf(cell, CELL, "%lld/%lld", n, (long long)json_integer_value(l));
	else
		snprintf(cell, CELL, "%lld", n);
}

/* The cells of one check's row: FAILS is "2/3" (fails/fail_after), NO-DATA
 * the unknown samples in a row against inconclusive_after, so a metrics
 * outage shows as it happens. */
static void check_cells(const json_t *ck, char cells[][CELL])
{
	rbd_ctl_escape(str(ck, "name"), cells[CK_NAME], CELL);
	rbd_ctl_escape(str(ck, "last"), cells[CK_LAST], CELL);
	count_cell(ck, "fails", "fail_after", cells[CK_FAILS]);
	count_cell(ck, "unknowns", "inconclusive_after", cells[CK_NODATA]);
}

/* The checks of one service, as a table after a blank line. */
static void print_checks(FILE *out, const json_t *svc)
{
	const json_t *checks = json_object_get(svc, "checks"), *ck;
	char cells[CK_COLS][CELL];
	size_t w[CK_COLS] = { 0 }, i;

	if (!json_is_array(checks) || json_array_size(checks) == 0)
		return;
	head(cells, check_head, CK_COLS);
	widen(w, cells, CK_COLS);
	json_array_foreach(checks, i, ck) {
		check_cells(ck, cells);
		widen(w, cells, CK_COLS);
	}
	fputc('\n', out);
	head(cells, check_head, CK_COLS);
	put_cells(out, cells, w, CK_COLS);
	fputs("DETAIL\n", out);
	json_array_foreach(checks, i, ck) {
		check_cells(ck, cells);
		put_cells(out, cells, w, CK_COLS);
		rbd_ctl_puts(out, str(ck, "detail"));
		fputc('\n', out);
	}
}

/* A time of day for a note: local time, with the date when it is not
 * today's. */
static char *day_time(uint64_t usec, uint64_t now, char *buf, size_t len)
{
	time_t t = (time_t)(usec / RBD_USEC_PER_SEC);
	time_t n = (time_t)(now / RBD_USEC_PER_SEC);
	struct tm a, b;
	bool today = localtime_r(&t, &a) && localtime_r(&n, &b) &&
	    a.tm_year == b.tm_year && a.tm_yday == b.tm_yday;

	return rbd_ctl_time(usec, !today, buf, len);
}

/* How long until something, in whole seconds rounded up, as a countdown
 * shows it: a pause of 10m is "in 10m" right after it began, not
 * "in 9m59s". */
static char *secs_left(uint64_t usec, char *buf, size_t len)
{
	uint64_t part = usec % RBD_USEC_PER_SEC;

	return rbd_duration_str(part ? usec - part + RBD_USEC_PER_SEC : usec,
	    buf, len);
}

/* The head of a note: a blank line before the first (*blank says it is
 * out), then "checkout: " in the table of every service. */
static void note(FILE *out, const char *prefix, bool *blank)
{
	if (!*blank)
		fputc('\n', out);
	*blank = true;
	if (prefix) {
		rbd_ctl_puts(out, prefix);
		fputs(": ", out);
	}
}

/* "paused by uid 0 pid 42 until 10:52:07 (in 9m58s): db maintenance",
 * or "... until resumed". */
static void print_pause(FILE *out, const json_t *p, uint64_t now)
{
	uint64_t until = usec_of(p, "until");
	const char *reason = str(p, "reason");
	char t[32], d[RBD_DURATION_STR_MAX];

	fputs("paused by ", out);
	rbd_ctl_puts(out, str(p, "by"));
	if (!until)
		fputs(" until resumed", out);
	else if (until >= now + RBD_USEC_PER_SEC)
		fprintf(out, " until %s (in %s)", day_time(until, now, t,
		    sizeof(t)), secs_left(until - now, d, sizeof(d)));
	else
		fprintf(out, " until %s (ending now)", day_time(until, now, t,
		    sizeof(t)));
	if (reason) {
		fputs(": ", out);
		rbd_ctl_puts(out, reason);
	}
}

/* "running migrate_down 43 -> 42 before deploying v2.4.1". */
static void print_migrating(FILE *out, const json_t *svc)
{
	const json_t *from = json_object_get(svc, "schema");
	const json_t *to = json_object_get(svc, "target_schema");

	fputs("running migrate_down", out);
	if (json_is_integer(from))
		fprintf(out, " %lld", (long long)json_integer_value(from));
	if (json_is_integer(to))
		fprintf(out, " -> %lld", (long long)json_integer_value(to));
	fputs(" before deploying ", out);
	rbd_ctl_puts(out, str(svc, "target"));
}

/* Remedies: "remedying: trying flag-off (1 of 2), settling until
 * 10:42:07 (in 25s)", or "..., its action running". */
static void print_remedy(FILE *out, const json_t *r, uint64_t now)
{
	uint64_t until = usec_of(r, "settle_until");
	char t[32], d[RBD_DURATION_STR_MAX];

	fputs("remedying: trying ", out);
	rbd_ctl_puts(out, str(r, "name"));
	fprintf(out, " (%lld of %lld), ",
	    (long long)json_integer_value(json_object_get(r, "index")),
	    (long long)json_integer_value(json_object_get(r, "of")));
	if (!json_is_true(json_object_get(r, "settling")))
		fputs("its action running", out);
	else if (until >= now + RBD_USEC_PER_SEC)
		fprintf(out, "settling until %s (in %s)", day_time(until, now, t,
		    sizeof(t)), secs_left(until - now, d, sizeof(d)));
	else
		fprintf(out, "settling until %s (ending now)", day_time(until,
		    now, t, sizeof(t)));
}

/* "schema 43 (irreversible migration from 42)": the database's schema as
 * the live release left it. False when it is not known. */
static bool print_schema(FILE *out, const json_t *svc)
{
	const json_t *schema = json_object_get(svc, "schema");
	const json_t *before = json_object_get(svc, "schema_before");
	const char *migration = str(svc, "migration");

	if (!json_is_integer(schema))
		return false;
	fprintf(out, "schema %lld", (long long)json_integer_value(schema));
	if (migration && strcmp(migration, "none") != 0) {
		fputs(" (", out);
		rbd_ctl_puts(out, migration);
		fputs(" migration", out);
		if (json_is_integer(before))
			fprintf(out, " from %lld",
			    (long long)json_integer_value(before));
		fputc(')', out);
	}
	return true;
}

/* "automatic rollbacks: 1 of 3 in the last 1h", and what the loop
 * breaker does at its limit. False when the reply has no such object. */
static bool print_automatic(FILE *out, const json_t *svc)
{
	const json_t *a = json_object_get(svc, "automatic_rollbacks");
	long long count = json_integer_value(json_object_get(a, "count"));
	long long max = json_integer_value(json_object_get(a, "max"));
	char d[RBD_DURATION_STR_MAX];

	if (!json_is_object(a))
		return false;
	if (max <= 0) {
		fputs("automatic rollbacks: off (rollback.max_automatic 0); "
		    "a degraded release is held", out);
		return true;
	}
	fprintf(out, "automatic rollbacks: %lld of %lld in the last %s", count,
	    max, rbd_duration_str(usec_of(a, "per_usec"), d, sizeof(d)));
	if (count >= max)
		fputs(" (the limit: a degraded release is held, not rolled "
		    "back)", out);
	return true;
}

/* "guard postgres: FAILING since 10:42:07 (connection refused)", "guard
 * postgres: ok". */
static void print_guard(FILE *out, const json_t *g, uint64_t now)
{
	const char *last = str(g, "last"), *detail = str(g, "detail");
	uint64_t since = usec_of(g, "failing_since");
	char t[32];

	fputs("guard ", out);
	rbd_ctl_puts(out, str(g, "name"));
	if (json_is_true(json_object_get(g, "failing"))) {
		fputs(": FAILING", out);
		if (since)
			fprintf(out, " since %s", day_time(since, now, t,
			    sizeof(t)));
	} else if (!last) {
		fputs(": no sample yet", out);
		detail = NULL;
	} else if (strcmp(last, "fail") == 0) {
		char cells[CK_COLS][CELL];

		check_cells(g, cells);
		fprintf(out, ": ok so far, %s failing samples in a row",
		    cells[CK_FAILS]);
	} else if (strcmp(last, "ok") == 0) {
		fputs(": ok", out);
		detail = NULL;
	} else {
		fputs(": ok, last sample: ", out);
		rbd_ctl_puts(out, last);
	}
	if (detail) {
		fputs(" (", out);
		rbd_ctl_puts(out, detail);
		fputc(')', out);
	}
	fputc('\n', out);
}

/* Drill: whether the last drill failed (worth a line in every status). */
static bool drill_failed(const json_t *svc)
{
	const json_t *last = json_object_get(json_object_get(svc, "drill"),
	    "last");
	const char *r = str(last, "result");

	return r && strcmp(r, "failed") == 0;
}

/* Drill: "last drill passed 3d ago", "last drill FAILED 2h ago: v2.4.1
 * unhealthy: ...; last passed 9d ago", "never drilled"; then the phase of
 * a drill under way and the schedule. */
static void print_drill(FILE *out, const json_t *svc, uint64_t now)
{
	const json_t *d = json_object_get(svc, "drill");
	const json_t *last = json_object_get(d, "last");
	const json_t *sched = json_object_get(d, "schedule");
	const char *result = str(last, "result"), *phase = str(d, "phase");
	uint64_t passed = usec_of(d, "last_passed");
	char a[64];

	if (!result) {
		fputs("never drilled", out);
	} else {
		ago(usec_of(last, "at"), now, a, sizeof(a));
		fprintf(out, "last drill %s %s", strcmp(result, "failed") == 0 ?
		    "FAILED" : result, a);
		if (strcmp(result, "failed") == 0) {
			fputs(": ", out);
			rbd_ctl_puts(out, str(last, "reason"));
		}
		if (strcmp(result, "passed") != 0) {
			ago(passed, now, a, sizeof(a));
			fprintf(out, "; %s%s", passed ? "last passed " :
			    "never passed", passed ? a : "");
		}
	}
	if (phase && strcmp(phase, "none") != 0) {
		fputs("; drilling now (", out);
		rbd_ctl_puts(out, phase);
		fputs(", ", out);
		rbd_ctl_puts(out, str(d, "live"));
		fputs(" -> ", out);
		rbd_ctl_puts(out, str(d, "target"));
		fputs(" -> ", out);
		rbd_ctl_puts(out, str(d, "live"));
		fputs(json_is_true(json_object_get(d, "aborting")) ?
		    ", aborting)" : ")", out);
	}
	if (json_is_object(sched)) {
		uint64_t next = usec_of(sched, "next");
		char t[32];

		fputs("; scheduled every ", out);
		rbd_ctl_puts(out, str(sched, "every"));
		fputs(" in ", out);
		rbd_ctl_puts(out, str(sched, "window"));
		if (next) {
			fprintf(out, ", next %s", day_time(next, now, t,
			    sizeof(t)));
		}
	} else {
		fputs("; not scheduled", out);
	}
}

/* Whether the table of every service needs a note on svc: something is
 * not run (dry-run, a pause), a down-migration runs, a guard fails. */
static bool notable(const json_t *svc)
{
	const json_t *guards = json_object_get(svc, "guards"), *g;
	size_t i;

	if (dry_run(svc) || json_is_object(json_object_get(svc, "paused")) ||
	    json_is_true(json_object_get(svc, "migrating")) ||
	    json_is_object(json_object_get(svc, "remedy")) ||
	    drill_failed(svc))
		return true;
	json_array_foreach(guards, i, g)
		if (json_is_true(json_object_get(g, "failing")))
			return true;
	return false;
}

/* What status says besides the table: what nothing runs because of
 * (dry-run, a pause), a down-migration in flight and failing guards; with
 * all, also the schema, the loop breaker's count and every guard. With a
 * prefix (the service's name) each line starts with it; the first line
 * printed comes after a blank one, unless *blank says it is out. */
static void print_notes(FILE *out, const json_t *svc, uint64_t now,
    const char *prefix, bool all, bool *blank)
{
	const json_t *paused = json_object_get(svc, "paused");
	const json_t *guards = json_object_get(svc, "guards"), *g;
	size_t i;

	if (dry_run(svc)) {
		note(out, prefix, blank);
		fputs("DRY-RUN: judging only, nothing is run\n", out);
	}
	if (json_is_object(paused)) {
		note(out, prefix, blank);
		print_pause(out, paused, now);
		fputc('\n', out);
	}
	if (json_is_string(json_object_get(svc, "artifact_warning"))) {
		note(out, prefix, blank);
		fputs("WARNING: ", out);
		rbd_ctl_puts(out, json_string_value(json_object_get(svc,
		    "artifact_warning")));
		fputc('\n', out);
	}
	if (json_is_true(json_object_get(svc, "migrating"))) {
		note(out, prefix, blank);
		print_migrating(out, svc);
		fputc('\n', out);
	}
	if (json_is_object(json_object_get(svc, "remedy"))) {
		note(out, prefix, blank);
		print_remedy(out, json_object_get(svc, "remedy"), now);
		fputc('\n', out);
	}
	if (all && json_is_integer(json_object_get(svc, "schema"))) {
		note(out, prefix, blank);
		print_schema(out, svc);
		fputc('\n', out);
	}
	if (all && json_is_object(json_object_get(svc, "automatic_rollbacks"))) {
		note(out, prefix, blank);
		print_automatic(out, svc);
		fputc('\n', out);
	}
	json_array_foreach(guards, i, g) {
		if (!all && !json_is_true(json_object_get(g, "failing")))
			continue;
		note(out, prefix, blank);
		print_guard(out, g, now);
	}
	if (json_is_object(json_object_get(svc, "drill")) &&
	    (all || drill_failed(svc))) {
		note(out, prefix, blank);
		print_drill(out, svc, now);
		fputc('\n', out);
	}
}

/* A non-negative integer member of obj; 0 when absent or negative. */
static uint64_t count_of(const json_t *obj, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(obj, key));

	return v > 0 ? (uint64_t)v : 0;
}

/* A lateness as rollbackd's log writes it: "130ms", "1.4s", "2m5s". */
static char *lateness_str(uint64_t usec, char *buf, size_t len)
{
	if (usec < RBD_USEC_PER_SEC)
		snprintf(buf, len, "%llums", (unsigned long long)
		    ((usec + RBD_USEC_PER_MSEC / 2) / RBD_USEC_PER_MSEC));
	else if (usec < RBD_USEC_PER_MIN)
		snprintf(buf, len, "%.1fs", (double)usec / RBD_USEC_PER_SEC);
	else
		rbd_duration_str((usec + RBD_USEC_PER_SEC / 2) /
		    RBD_USEC_PER_SEC * RBD_USEC_PER_SEC, buf, len);
	return buf;
}

/* The one line about the daemon itself, when its "schedule" says it is
 * overloaded: "rollbackd is overloaded: 37 samples late, 3 missed in the
 * last 10s (p99 1.4s); late samples count as unknown". */
static void print_schedule(FILE *out, const json_t *sched)
{
	const json_t *recent = json_object_get(sched, "last_10s");
	static const char *const kinds[] = { "late", "skipped", "missed" };
	char d[RBD_DURATION_STR_MAX];
	bool first = true;

	if (!json_is_true(json_object_get(sched, "overloaded")))
		return;
	fputs("rollbackd is overloaded:", out);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		uint64_t n = count_of(recent, kinds[i]);

		if (!n)
			continue;
		fprintf(out, "%s %llu%s %s", first ? "" : ",",
		    (unsigned long long)n, !first ? "" : n == 1 ? " sample" :
		    " samples", kinds[i]);
		first = false;
	}
	fprintf(out, "%s in the last 10s (p99 %s); late samples count as "
	    "unknown\n", first ? " samples late, skipped or missed" : "",
	    lateness_str(count_of(sched, "lateness_p99_usec"), d, sizeof(d)));
}

/* The line about the daemon's store, when its "store" says it cannot be
 * written: "rollbackd cannot record decisions since 10:42:07: ...: database
 * or disk is full; it does not act on them until it can (retrying)". */
static void print_store(FILE *out, const json_t *store)
{
	char t[32];

	if (!json_is_false(json_object_get(store, "writable")))
		return;
	fprintf(out, "rollbackd cannot record decisions since %s: ",
	    rbd_ctl_time(usec_of(store, "failing_since"), false, t, sizeof(t)));
	rbd_ctl_puts(out, str(store, "error"));
	fputs("; it does not act on them until it can (retrying)\n", out);
}

int rbd_ctl_print_status(FILE *out, const json_t *reply, uint64_t now_usec,
    bool checks)
{
	const json_t *svcs = json_object_get(reply, "services"), *svc;
	char cells[ST_COLS][CELL];
	size_t w[ST_COLS] = { 0 }, i;
	bool blank;

	if (!json_is_array(svcs))
		return -EBADMSG;
	/* First: they make every row below less certain. */
	print_store(out, json_object_get(reply, "store"));
	print_schedule(out, json_object_get(reply, "schedule"));
	if (json_array_size(svcs) == 0) {
		fputs("no services are configured\n", out);
		return 0;
	}
	head(cells, status_head, ST_COLS);
	widen(w, cells, ST_COLS);
	json_array_foreach(svcs, i, svc) {
		status_cells(svc, now_usec, cells);
		widen(w, cells, ST_COLS);
	}
	head(cells, status_head, ST_COLS);
	put_cells(out, cells, w, ST_COLS);
	fputs("REASON\n", out);
	json_array_foreach(svcs, i, svc) {
		status_cells(svc, now_usec, cells);
		put_cells(out, cells, w, ST_COLS);
		rbd_ctl_puts(out, str(svc, "reason"));
		fputc('\n', out);
	}
	/* One service: all there is to say about it, then its checks. Every
	 * service: what a person must know, a line each, after a blank. */
	blank = false;
	json_array_foreach(svcs, i, svc) {
		if (checks) {
			blank = false;
			print_notes(out, svc, now_usec, NULL, true, &blank);
			print_checks(out, svc);
		} else if (notable(svc)) {
			print_notes(out, svc, now_usec, str(svc, "service"),
			    false, &blank);
		}
	}
	return 0;
}

enum { HI_AT, HI_EVENT, HI_MOVE, HI_RELEASE, HI_COLS };

/* History's words for the events whose names are shorthand; the others
 * ("deployed", "promoted", "rolled-back", ...) say what happened as they
 * are, and a name this table does not know is shown as it is. */
static const struct {
	const char *event, *words;
} event_words[] = {
	{ "guarded", "held: guard failing" },
	{ "loop-breaker", "held: too many rollbacks" },
	{ "would-roll-back", "would roll back (not run)" },
	{ "paused", "paused" },
	{ "resumed", "resumed" },
	{ "migrated-down", "schema migrated down" },
	{ "migration-failed", "migrate_down failed" },
	{ "remedying", "trying a remedy" },
	{ "remedy-ran", "remedy ran, settling" },
	{ "remedied", "remedied: no rollback" },
};

/* How history names an event. */
static const char *event_str(const char *event)
{
	for (size_t i = 0; event && i < sizeof(event_words) /
	    sizeof(event_words[0]); i++)
		if (strcmp(event, event_words[i].event) == 0)
			return event_words[i].words;
	return event;
}

/* The cells of one history line: local time, event, "from -> to",
 * the release and, for a rollback under way, "-> target" (once the target
 * is live, the release alone). */
static void history_cells(const json_t *ev, char cells[][CELL])
{
	const char *target = str(ev, "target");
	char buf[2 * CELL];

	if (target && str(ev, "release") && strcmp(target, str(ev, "release")) == 0)
		target = NULL;
	rbd_ctl_time(usec_of(ev, "at"), true, cells[HI_AT], CELL);
	rbd_ctl_escape(event_str(str(ev, "event")), cells[HI_EVENT], CELL);
	snprintf(buf, sizeof(buf), "%s -> %s", dash(str(ev, "from")),
	    dash(str(ev, "to")));
	rbd_ctl_escape(buf, cells[HI_MOVE], CELL);
	snprintf(buf, sizeof(buf), "%s%s%s", dash(str(ev, "release")),
	    target ? " -> " : "", target ? target : "");
	rbd_ctl_escape(buf, cells[HI_RELEASE], CELL);
}

int rbd_ctl_print_history(FILE *out, const json_t *reply)
{
	const json_t *events = json_object_get(reply, "events"), *ev;
	char cells[HI_COLS][CELL];
	size_t w[HI_COLS] = { 0 }, i;

	if (!json_is_array(events))
		return -EBADMSG;
	if (json_array_size(events) == 0) {
		rbd_ctl_puts(out, str(reply, "service"));
		fputs(": no history yet\n", out);
		return 0;
	}
	json_array_foreach(events, i, ev) {
		history_cells(ev, cells);
		widen(w, cells, HI_COLS);
	}
	json_array_foreach(events, i, ev) {
		const char *actor = str(ev, "actor"), *reason = str(ev, "reason");

		history_cells(ev, cells);
		put_cells(out, cells, w, HI_COLS);
		rbd_ctl_puts(out, reason);
		/* Said once: reasons often name who asked already. */
		if (actor && !(reason && strstr(reason, actor))) {
			fputs(" (by ", out);
			rbd_ctl_puts(out, actor);
			fputc(')', out);
		}
		fputc('\n', out);
	}
	return 0;
}

void rbd_ctl_print_state(FILE *out, const json_t *reply)
{
	const char *live = str(reply, "live"), *target = str(reply, "target");
	const char *reason = str(reply, "reason");

	rbd_ctl_puts(out, str(reply, "service"));
	fputs(": ", out);
	rbd_ctl_puts(out, str(reply, "state"));
	if (live) {
		fputc(' ', out);
		rbd_ctl_puts(out, live);
	}
	if (target) {
		fputs(" to ", out);
		rbd_ctl_puts(out, target);
	}
	if (reason) {
		fputs(" (", out);
		rbd_ctl_puts(out, reason);
		fputc(')', out);
	}
	fputc('\n', out);
}

void rbd_ctl_print_paused(FILE *out, const json_t *reply, uint64_t now_usec,
    bool resumed)
{
	const json_t *p = json_object_get(reply, "paused");

	rbd_ctl_puts(out, str(reply, "service"));
	fputs(": ", out);
	if (json_is_object(p)) {
		print_pause(out, p, now_usec);
		fputs("\n", out);
		return;
	}
	fputs(resumed ? "resumed: automatic actions run again (" :
	    "not paused: automatic actions run (", out);
	rbd_ctl_puts(out, str(reply, "state"));
	if (str(reply, "live")) {
		fputc(' ', out);
		rbd_ctl_puts(out, str(reply, "live"));
	}
	fputs(")\n", out);
}

/* "checkout: watching -> rolling_back to v2.4.1 (reason)": the target
 * only while it is not live yet. */
static void print_transition(FILE *out, const json_t *ev)
{
	const char *target = str(ev, "target"), *live = str(ev, "live");

	if (target && live && strcmp(target, live) == 0)
		target = NULL;

	rbd_ctl_puts(out, str(ev, "service"));
	fputs(": ", out);
	rbd_ctl_puts(out, str(ev, "from"));
	fputs(" -> ", out);
	rbd_ctl_puts(out, str(ev, "to"));
	if (target) {
		fputs(" to ", out);
		rbd_ctl_puts(out, target);
	}
	fputs(" (", out);
	rbd_ctl_puts(out, str(ev, "reason"));
	fputs(")\n", out);
}

/* "checkout: healthz fail 2/3: HTTP 500 (expected 200)". */
static void print_sample(FILE *out, const json_t *ev)
{
	char cells[CK_COLS][CELL];
	const char *detail = str(ev, "detail");

	rbd_ctl_puts(out, str(ev, "service"));
	fputs(": ", out);
	rbd_ctl_puts(out, str(ev, "check"));
	fputc(' ', out);
	rbd_ctl_puts(out, str(ev, "result"));
	check_cells(ev, cells);
	fprintf(out, " %s", cells[CK_FAILS]);
	if (detail) {
		fputs(": ", out);
		rbd_ctl_puts(out, detail);
	}
	fputc('\n', out);
}

/* Drill: one word of a command, quoted when a shell would need it. */
static void put_word(FILE *out, const char *w)
{
	if (w && *w && !w[strcspn(w, " \t'\"\\$`;&|<>(){}*?[]#~")]) {
		rbd_ctl_puts(out, w);
		return;
	}
	fputc('\'', out);
	for (const char *p = w ? w : ""; *p; p++) {
		char one[2] = { *p, '\0' };

		if (*p == '\'')
			fputs("'\\''", out);
		else
			rbd_ctl_puts(out, one);
	}
	fputc('\'', out);
}

/* Drill: one leg of the report. */
static void print_leg(FILE *out, size_t n, const json_t *leg)
{
	const json_t *cmd = json_object_get(leg, "command"), *w;
	const json_t *healthy = json_object_get(leg, "healthy_usec");
	const char *state = str(leg, "state");
	char t[RBD_DURATION_STR_MAX];
	size_t i;

	fprintf(out, "  %zu. ", n);
	rbd_ctl_puts(out, str(leg, "step"));
	fputs(" to ", out);
	rbd_ctl_puts(out, str(leg, "version"));
	fputs(" (from ", out);
	rbd_ctl_puts(out, str(leg, "from_version"));
	fputs("): ", out);
	rbd_ctl_puts(out, state);
	fputs("\n     command: ", out);
	if (!json_is_array(cmd))
		fputs("-", out);
	json_array_foreach(cmd, i, w) {
		if (i)
			fputc(' ', out);
		put_word(out, json_string_value(w));
	}
	fputs("\n     ", out);
	if (state && strcmp(state, "pending") == 0) {
		fputs("not run\n", out);
		return;
	}
	fprintf(out, "deploy command %s", rbd_elapsed_str(usec_of(leg,
	    "deploy_usec"), t, sizeof(t)));
	if (state && strcmp(state, "deploy-failed") == 0) {
		fputs(" (FAILED)\n", out);
		return;
	}
	if (json_is_integer(healthy))
		fprintf(out, ", healthy after %s", rbd_elapsed_str((uint64_t)
		    json_integer_value(healthy), t, sizeof(t)));
	else
		fputs(", never healthy", out);
	rbd_elapsed_str(usec_of(leg, "verify_usec"), t, sizeof(t));
	if (state && strcmp(state, "verified") == 0)
		fprintf(out, ", verified for %s", t);
	else if (state && strcmp(state, "unhealthy") == 0)
		fprintf(out, ", UNHEALTHY after %s", t);
	else if (state && strcmp(state, "cut") == 0)
		fprintf(out, ", verification cut short after %s", t);
	fputc('\n', out);
}

void rbd_ctl_print_drill_report(FILE *out, const json_t *ev)
{
	const json_t *d = json_object_get(ev, "drill");
	const json_t *steps = json_object_get(d, "steps"), *leg;
	const char *verdict = str(ev, "verdict");
	const char *result = verdict && strncmp(verdict, "drill_", 6) == 0 ?
	    verdict + 6 : verdict;
	size_t i;

	fputs("drill of ", out);
	rbd_ctl_puts(out, str(ev, "service"));
	fputs(": ", out);
	rbd_ctl_puts(out, str(d, "live"));
	fputs(" -> ", out);
	rbd_ctl_puts(out, str(d, "target"));
	fputs(" -> ", out);
	rbd_ctl_puts(out, str(d, "live"));
	fputc('\n', out);
	json_array_foreach(steps, i, leg)
		print_leg(out, i + 1, leg);
	fputs("verdict: ", out);
	if (result && strcmp(result, "failed") == 0) {
		fputs("FAILED: ", out);
		rbd_ctl_puts(out, str(d, "failure"));
		fputs(json_is_string(json_object_get(ev, "state")) &&
		    strcmp(str(ev, "state"), "held") == 0 ?
		    " (held: a person must act)" : "", out);
	} else {
		rbd_ctl_puts(out, result);
	}
	fputc('\n', out);
}

void rbd_ctl_print_progress(FILE *out, const json_t *msg, uint64_t now_usec)
{
	const char *event = str(msg, "event");
	uint64_t at = usec_of(msg, "at");
	char t[32];

	rbd_ctl_time(at ? at : now_usec, false, t, sizeof(t));
	if (!event && json_object_get(msg, "ok")) {
		fprintf(out, "%s ", t);
		rbd_ctl_print_state(out, msg);
	} else if (event && strcmp(event, "transition") == 0) {
		fprintf(out, "%s ", t);
		print_transition(out, msg);
	} else if (event && strcmp(event, "sample") == 0) {
		fprintf(out, "%s ", t);
		print_sample(out, msg);
	}
}
