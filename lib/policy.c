/* The policy model and its loader: see policy.h.
 *
 * A file is read into a node tree (yamlnode.c, which refuses anchors,
 * aliases, odd tags, deep nesting and duplicate keys), then walked against
 * a table per mapping: key -> handler, the way Redis's config.c does it.
 * Handlers check one value each and report what is wrong with it; nothing
 * stops at the first error. Keys of a group (a check's probe, a scrape's
 * metric, a query's credentials) exclude each other, which walk() checks
 * from the table; what else a mapping's keys say together (a quantile
 * with a histogram, a condition on a metric check) is checked right after
 * its walk. Once the whole tree is walked, defaults are filled in and the
 * checks across values run (timeout < interval, min < max, a baseline
 * window that holds min_samples, unique names), still reporting every
 * problem. Only then does the load fail. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "duration.h"
#include "policy.h"
#include "reldir.h"
#include "template.h"
#include "version.h"
#include "yamlnode.h"

/* A duration not given (yet), or given and refused. */
#define UNSET UINT64_MAX
#define PATH_TEXT_MAX 128	/* "checks[9999].http.expect_status[31]" */
#define CHECK_PATH_MAX 32	/* "checks[9999]", "guards[99]" */
#define SHOW_MAX 80		/* a value quoted in a message */
#define KEY_MAX 32		/* longest key in a table */
#define SUGGEST_DISTANCE 2
#define EXPECT_BODY_MAX 4096
#define CONFIG_PATH_MAX 4096
#define SOCKET_PATH_MAX 107	/* sun_path holds 108 bytes with the NUL */

#define DEFAULT_DEPLOY_TIMEOUT	(5 * RBD_USEC_PER_MIN)
#define DEFAULT_MAX_AUTOMATIC	3
#define DEFAULT_AUTOMATIC_PER	RBD_USEC_PER_HOUR
#define DEFAULT_DURATION	(10 * RBD_USEC_PER_MIN)
#define DEFAULT_INTERVAL	(10 * RBD_USEC_PER_SEC)
#define DEFAULT_WARMUP		0
#define DEFAULT_PROBE_TIMEOUT	(2 * RBD_USEC_PER_SEC)
#define DEFAULT_FAIL_AFTER	3
#define DEFAULT_STATUS		200
#define DEFAULT_INCONCLUSIVE_AFTER 5
#define DEFAULT_BASELINE_WINDOW	(10 * RBD_USEC_PER_MIN)
#define DEFAULT_CONFIDENCE	0.95
#define DEFAULT_MIN_SAMPLES	5
#define DEFAULT_REMEDY_TIMEOUT	(30 * RBD_USEC_PER_SEC)
#define DEFAULT_REMEDY_METHOD	"POST"
#define HEADER_NAME_MAX		128
#define HEADER_VALUE_MAX	4096
#define MAX_INCREASE_PERCENT	10000
#define USERNAME_MAX		256	/* basic_auth.username, bytes */
#define N_ELEMENTS(a)		(sizeof(a) / sizeof((a)[0]))

/* What one load is doing: where messages go, how paths resolve. */
struct ctx {
	const char *file;	/* name in messages */
	struct rbd_diag *diag;
	const char *base_dir;	/* main config: relative paths resolve here */
};

struct field;
typedef int (*field_fn)(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj);

/* Keys of one mapping of which it may hold one at most and, when the
 * group is required, one at least: a check's probe, a scrape's metric, a
 * query's credentials. */
enum group {
	GROUP_NONE,
	GROUP_PROBE,
	GROUP_METRIC,
	GROUP_AUTH,
	GROUP_ACTION,		/* Remedies: a remedy's command or http */

	GROUP_DEPLOYER,
	GROUP_RESTART,
	_GROUP_MAX,
};

/* How a group's problems read: "missing a probe: http, prometheus or
 * scrape", "'scrape' cannot be used with 'http': a check has exactly one
 * probe". */
struct group_info {
	const char *what;
	const char *keys;
	bool required;
	const char *why;
};

static const struct group_info groups[_GROUP_MAX] = {
	[GROUP_PROBE] = { "probe", "http, prometheus, scrape or unit", true,
	    "a check has exactly one probe" },
	[GROUP_METRIC] = { "metric", "gauge, counter, ratio, histogram or "
	    "summary", true, "a scrape computes exactly one metric" },
	[GROUP_AUTH] = { "credential", "bearer_token_file or basic_auth", false,
	    "a query sends one kind of credentials" },
	[GROUP_ACTION] = { "remedy action", "command or http", true,
	    "a remedy runs exactly one action" },

	[GROUP_DEPLOYER] = { "deployer", "command or releases", true,
	    "a deploy runs a command or switches a release directory" },
	[GROUP_RESTART] = { "restart", "restart or restart_command", false,
	    "a release directory's service is restarted one way" },
};

/* One key of a mapping: its handler, where in obj the value goes, the
 * limits of durations, integers and lengths, and its group. */
struct field {
	const char *key;
	bool required;
	field_fn parse;
	size_t offset;
	uint64_t min, max;
	const char *limits;	/* min..max as a person reads them */
	enum group group;
};

/* A policy as loaded from a directory, with where its service is named. */
struct loaded {
	struct rbd_policy *p;
	unsigned line, col;
};

/* One name among many, for finding duplicates by sorting. */
struct name_ref {
	const char *name;
	size_t i;
};

/* Report one error at line:col; path names the key ("" at the root). */
static void verr_at(struct ctx *c, unsigned line, unsigned col,
    const char *path, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
static void verr_at(struct ctx *c, unsigned line, unsigned col,
    const char *path, const char *fmt, va_list ap)
{
	char msg[RBD_DIAG_MSG_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	rbd_diag_add(c->diag, c->file, line, col, "%s%s%s", path,
	    *path ? ": " : "", msg);
}

/* Report one error at line:col. */
static void err_at(struct ctx *c, unsigned line, unsigned col,
    const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void err_at(struct ctx *c, unsigned line, unsigned col,
    const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(c, line, col, path, fmt, ap);
	va_end(ap);
}

/* Report one error at node n (NULL: no position). */
static void err(struct ctx *c, const struct rbd_ynode *n, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void err(struct ctx *c, const struct rbd_ynode *n, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(c, n ? n->line : 0, n ? n->col : 0, path, fmt, ap);
	va_end(ap);
}

/* A scalar's text for a message. */
static const char *show(const struct rbd_ynode *n, char *buf)
{
	return rbd_ynode_show(n, buf, SHOW_MAX);
}

/* "expected a mapping, got a sequence". */
static void type_err(struct ctx *c, const struct rbd_ynode *v,
    const char *path, const char *expected)
{
	err(c, v, path, "expected %s, got %s", expected,
	    rbd_ynode_kind_str(rbd_ynode_kind(v)));
}

/* True if v is a mapping; reports it otherwise. */
static bool want_mapping(struct ctx *c, const struct rbd_ynode *v,
    const char *path)
{
	if (v->type == RBD_YNODE_MAPPING)
		return true;
	type_err(c, v, path, "a mapping");
	return false;
}

/* True if v is a sequence of min..max entries (min 0 or 1); reports it
 * otherwise. */
static bool want_entries(struct ctx *c, const struct rbd_ynode *v,
    const char *path, size_t min, size_t max)
{
	if (v->type != RBD_YNODE_SEQUENCE) {
		type_err(c, v, path, "a sequence");
		return false;
	}
	if (v->n_kids < min) {
		err(c, v, path, "must not be empty");
		return false;
	}
	if (v->n_kids > max) {
		err(c, v, path, "too many entries (more than %zu)", max);
		return false;
	}
	return true;
}

/* True if v is a sequence of 1..max entries; reports it otherwise. */
static bool want_sequence(struct ctx *c, const struct rbd_ynode *v,
    const char *path, size_t max)
{
	return want_entries(c, v, path, 1, max);
}

/* The text of a string value in *ret. Any scalar but null is taken as
 * written ("command: [deploy, --retries, 3]"); a NUL byte is refused, it
 * would silently cut the string short. */
static bool want_string(struct ctx *c, const struct rbd_ynode *v,
    const char *path, const char **ret)
{
	enum rbd_ynode_kind k = rbd_ynode_kind(v);

	if (v->type != RBD_YNODE_SCALAR || k == RBD_YKIND_NULL) {
		type_err(c, v, path, "a string");
		return false;
	}
	if (strlen(v->value) != v->len) {
		err(c, v, path, "contains a NUL byte");
		return false;
	}
	*ret = v->value;
	return true;
}

/* An integer within min..max in *ret. */
static bool want_int(struct ctx *c, const struct rbd_ynode *v,
    const char *path, const struct field *f, uint64_t *ret)
{
	char t[SHOW_MAX];
	long long n;

	if (rbd_ynode_kind(v) != RBD_YKIND_INT) {
		type_err(c, v, path, "an integer");
		return false;
	}
	errno = 0;
	n = strtoll(v->value, NULL, 10);
	if (errno || n < 0 || (uint64_t)n < f->min || (uint64_t)n > f->max) {
		err(c, v, path, "%s is out of range (%s)", show(v, t), f->limits);
		return false;
	}
	*ret = (uint64_t)n;
	return true;
}

/* A duration within min..max in *ret. A YAML integer is not a duration:
 * "timeout: 5" could mean seconds or minutes, so it asks for a unit. */
static bool want_duration(struct ctx *c, const struct rbd_ynode *v,
    const char *path, const struct field *f, uint64_t *ret)
{
	const char *s, *why = NULL;
	char t[SHOW_MAX];
	uint64_t usec;

	if (v->type != RBD_YNODE_SCALAR || rbd_ynode_kind(v) == RBD_YKIND_NULL) {
		type_err(c, v, path, "a duration");
		return false;
	}
	if (!want_string(c, v, path, &s))
		return false;
	if (*s && strcmp(s, "0") != 0 && strspn(s, "0123456789") == strlen(s)) {
		err(c, v, path, "invalid duration '%s': needs a unit, e.g. %ss",
		    show(v, t), show(v, t));
		return false;
	}
	if (rbd_duration_parse(s, &usec, &why) < 0) {
		err(c, v, path, "invalid duration '%s': %s", show(v, t),
		    why ? why : "not a duration");
		return false;
	}
	if (usec < f->min || usec > f->max) {
		err(c, v, path, "%s is out of range (%s)", show(v, t), f->limits);
		return false;
	}
	*ret = usec;
	return true;
}

/* Replace the string at *dst with a copy of s. */
static int set_string(char **dst, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

/* path + "." + key, or key at the root. */
static void path_key(char *buf, const char *path, const char *key)
{
	snprintf(buf, PATH_TEXT_MAX, "%s%s%s", path, *path ? "." : "", key);
}

/* path + "[i]". */
static void path_index(char *buf, const char *path, size_t i)
{
	snprintf(buf, PATH_TEXT_MAX, "%s[%zu]", path, i);
}

/* Levenshtein distance between s (len bytes) and a table key, or
 * SUGGEST_DISTANCE + 1 when it is certainly larger than that. */
static size_t distance(const char *s, size_t len, const char *key)
{
	size_t klen = strlen(key), row[KEY_MAX + 1];

	if (klen > KEY_MAX || (len > klen ? len - klen : klen - len) >
	    SUGGEST_DISTANCE)
		return SUGGEST_DISTANCE + 1;
	for (size_t j = 0; j <= klen; j++)
		row[j] = j;
	for (size_t i = 1; i <= len; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= klen; j++) {
			size_t up = row[j];
			size_t best = diag + (s[i - 1] != key[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[klen];
}

/* "unknown key 'fial_after' (did you mean 'fail_after'?)": the closest
 * known key within SUGGEST_DISTANCE edits, the first of equals. */
static void unknown_key(struct ctx *c, const struct field *fields,
    const struct rbd_ynode *k, const char *path)
{
	const char *best = NULL;
	size_t best_d = SUGGEST_DISTANCE + 1;
	char t[SHOW_MAX];

	for (const struct field *f = fields; f->key; f++) {
		size_t d = distance(k->value, k->len, f->key);

		if (d < best_d) {
			best = f->key;
			best_d = d;
		}
	}
	if (best)
		err(c, k, path, "unknown key '%s' (did you mean '%s'?)",
		    show(k, t), best);
	else
		err(c, k, path, "unknown key '%s'", show(k, t));
}

/* The table entry for key node k, or NULL. */
static const struct field *field_find(const struct field *fields,
    const struct rbd_ynode *k)
{
	for (const struct field *f = fields; f->key; f++)
		if (strlen(f->key) == k->len &&
		    memcmp(f->key, k->value, k->len) == 0)
			return f;
	return NULL;
}

/* Where a mapping's missing keys are reported: its first key, or the
 * mapping itself (NULL: an empty document). */
static const struct rbd_ynode *missing_at(const struct rbd_ynode *m)
{
	return m && m->n_kids ? m->kids[0] : m;
}

/* Report every required key of fields that mapping m (NULL: an empty
 * document) lacks, at m's first key or m itself. */
static void missing_keys(struct ctx *c, const struct field *fields,
    const struct rbd_ynode *m, const char *path)
{
	for (const struct field *f = fields; f->key; f++)
		if (f->required && !rbd_ynode_get(m, f->key))
			err(c, missing_at(m), path, "missing required key '%s'",
			    f->key);
}

/* Report every required group of fields of which m holds no key. */
static void missing_groups(struct ctx *c, const struct field *fields,
    const struct rbd_ynode *m, const char *path,
    const struct rbd_ynode *const *seen)
{
	for (unsigned g = GROUP_NONE + 1; g < _GROUP_MAX; g++) {
		bool in_table = false;

		for (const struct field *f = fields; f->key; f++)
			in_table |= f->group == g;
		if (in_table && groups[g].required && !seen[g])
			err(c, missing_at(m), path, "missing a %s: %s",
			    groups[g].what, groups[g].keys);
	}
}

/* The key node of key in mapping m, or NULL. */
static const struct rbd_ynode *key_node(const struct rbd_ynode *m,
    const char *key)
{
	size_t len = strlen(key);

	if (!m || m->type != RBD_YNODE_MAPPING)
		return NULL;
	for (size_t i = 0; i + 1 < m->n_kids; i += 2)
		if (m->kids[i]->len == len &&
		    memcmp(m->kids[i]->value, key, len) == 0)
			return m->kids[i];
	return NULL;
}

/* The first key of mapping m (in file order) that belongs to group g of
 * fields, or NULL: the one walk() took. */
static const struct field *group_key(const struct field *fields,
    enum group g, const struct rbd_ynode *m)
{
	for (size_t i = 0; m && m->type == RBD_YNODE_MAPPING &&
	    i + 1 < m->n_kids; i += 2) {
		const struct field *f = field_find(fields, m->kids[i]);

		if (f && f->group == g)
			return f;
	}
	return NULL;
}

/* Walk mapping m (NULL: empty) against fields, filling obj. Of a group's
 * keys only the first is taken; each later one is reported, and its value
 * is not read, so that two probes never share one check. */
static int walk(struct ctx *c, const struct field *fields,
    const struct rbd_ynode *m, const char *path, void *obj)
{
	const struct rbd_ynode *seen[_GROUP_MAX] = { NULL };

	for (size_t i = 0; m && i + 1 < m->n_kids; i += 2) {
		const struct rbd_ynode *k = m->kids[i];
		const struct field *f = field_find(fields, k);
		char sub[PATH_TEXT_MAX], t[SHOW_MAX];
		int ret;

		if (!f) {
			unknown_key(c, fields, k, path);
			continue;
		}
		if (f->group && seen[f->group]) {
			err(c, k, path, "'%s' cannot be used with '%s': %s",
			    f->key, show(seen[f->group], t), groups[f->group].why);
			continue;
		}
		if (f->group)
			seen[f->group] = k;
		path_key(sub, path, f->key);
		ret = f->parse(c, f, m->kids[i + 1], sub, obj);
		if (ret < 0)
			return ret;
	}
	missing_keys(c, fields, m, path);
	missing_groups(c, fields, m, path, seen);
	return 0;
}

/* Handler: a duration into the uint64_t at f->offset. */
static int parse_duration(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	uint64_t usec;

	if (want_duration(c, v, path, f, &usec))
		*(uint64_t *)((char *)obj + f->offset) = usec;
	return 0;
}

/* Handler: an integer into the unsigned at f->offset. */
static int parse_unsigned(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	uint64_t n;

	if (want_int(c, v, path, f, &n))
		*(unsigned *)((char *)obj + f->offset) = (unsigned)n;
	return 0;
}

/* Handler: a string of f->min..f->max bytes into the char * at
 * f->offset. */
static int parse_string(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	const char *s;

	if (!want_string(c, v, path, &s))
		return 0;
	if (v->len < f->min) {
		err(c, v, path, "must not be empty");
		return 0;
	}
	if (v->len > f->max) {
		err(c, v, path, "is longer than %llu bytes",
		    (unsigned long long)f->max);
		return 0;
	}
	return set_string((char **)((char *)obj + f->offset), s);
}

/* A service or check name (what is "service name"), copied to *dst. */
static int parse_name(struct ctx *c, const struct rbd_ynode *v,
    const char *path, const char *what, char **dst)
{
	const char *s, *why = "is invalid";
	char t[SHOW_MAX];

	if (!want_string(c, v, path, &s))
		return 0;
	if (rbd_service_check(s, &why) < 0) {
		err(c, v, path, "invalid %s '%s': %s", what, show(v, t), why);
		return 0;
	}
	return set_string(dst, s);
}

/* Handler: policy.service. */
static int parse_service(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	(void)f;
	return parse_name(c, v, path, "service name",
	    &((struct rbd_policy *)obj)->service);
}

/* Handler: checks[].name. */
static int parse_check_name(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	(void)f;
	return parse_name(c, v, path, "check name",
	    &((struct rbd_check *)obj)->name);
}

/* The first placeholder in a template that passed rbd_template_check:
 * its offset and length, or -1 when there is none. "{{" is a brace. */
static int first_placeholder(const char *s, size_t *ret_len)
{
	for (const char *p = s; *p; p++) {
		if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
			p++;
			continue;
		}
		if (*p == '{') {
			*ret_len = strcspn(p, "}") + 1;
			return (int)(p - s);
		}
	}
	return -1;
}

/* One command element: a string that is a valid template of the
 * placeholders allowed (RBD_TEMPLATE_*); the program (element 0) is not
 * empty and has no placeholder, so what runs is always known from the
 * policy alone. */
static int parse_argv_elem(struct ctx *c, const struct rbd_ynode *v,
    const char *path, size_t i, unsigned allowed, char **dst)
{
	char why[RBD_DIAG_MSG_MAX / 2];
	const char *s;
	unsigned off;
	size_t len;
	int at, r;

	if (!want_string(c, v, path, &s))
		return 0;
	if (i == 0 && !*s) {
		err(c, v, path, "must not be empty");
		return 0;
	}
	r = rbd_template_check_set(s, allowed, &off, why, sizeof(why));
	/* A placeholder that exists but is refused here is one of the
	 * schema versions, which only a down-migration has. */
	if (r == -EPERM)
		err_at(c, v->line, rbd_ynode_col_at(v, off - 1), path,
		    "placeholder %.*s is only for migrate_down.command",
		    (int)strcspn(s + off - 1, "}") + 1, s + off - 1);
	else if (r < 0)
		err_at(c, v->line, rbd_ynode_col_at(v, off - 1), path, "%s", why);
	if (r < 0)
		return 0;
	at = i == 0 ? first_placeholder(s, &len) : -1;
	if (at >= 0) {
		err_at(c, v->line, rbd_ynode_col_at(v, (size_t)at), path,
		    "placeholder %.*s is not allowed in the program",
		    (int)(len < 64 ? len : 64), s + at);
		return 0;
	}
	return set_string(dst, s);
}

/* A command, a sequence of strings, into a new NULL-terminated *argv
 * and *argc; allowed is the set of placeholders it may use. */
static int parse_argv(struct ctx *c, const struct rbd_ynode *v,
    const char *path, unsigned allowed, char ***argv, size_t *argc)
{
	if (!want_sequence(c, v, path, RBD_POLICY_ARGV_MAX))
		return 0;
	*argv = calloc(v->n_kids + 1, sizeof(**argv));
	if (!*argv)
		return -ENOMEM;
	*argc = v->n_kids;
	for (size_t i = 0; i < v->n_kids; i++) {
		char sub[PATH_TEXT_MAX];
		int ret;

		path_index(sub, path, i);
		ret = parse_argv_elem(c, v->kids[i], sub, i, allowed, &(*argv)[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Handler: deploy.command. */
static int parse_command(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_policy *p = obj;

	(void)f;
	return parse_argv(c, v, path, RBD_TEMPLATE_DEPLOY, &p->deploy_argv,
	    &p->deploy_argc);
}

/* Handler: migrate_down.command, which has the schema versions too. */
static int parse_migrate_command(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_policy *p = obj;

	(void)f;
	return parse_argv(c, v, path, RBD_TEMPLATE_MIGRATE,
	    &p->migrate_down_argv, &p->migrate_down_argc);
}

/* One table entry for a command's timeout, into member of the policy. */
#define COMMAND_TIMEOUT_FIELD(member)					\
	{ "timeout", false, parse_duration, offsetof(struct rbd_policy, member), \
	    RBD_USEC_PER_SEC, 24 * RBD_USEC_PER_HOUR, "1s..24h", 0 }

/* Handler: deploy.releases and deploy.current, canonical absolute paths
 * (rbd_reldir_path_check) into the char * at f->offset. Whether they
 * exist is the deploy's business: "rollbackd -t" may run elsewhere. */
static int parse_reldir_path(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	const char *s, *why = "is invalid";

	if (!want_string(c, v, path, &s))
		return 0;
	if (rbd_reldir_path_check(s, &why) < 0) {
		err(c, v, path, "%s", why);
		return 0;
	}
	return set_string((char **)((char *)obj + f->offset), s);
}

/* A systemd unit name at v into *dst, or an error naming what is wrong. */
static int unit_name_into(struct ctx *c, const struct rbd_ynode *v,
    const char *path, char **dst)
{
	const char *s, *why = "is invalid";
	char t[SHOW_MAX];

	if (!want_string(c, v, path, &s))
		return 0;
	if (rbd_unit_name_check(s, &why) < 0) {
		err(c, v, path, "unit name %s %s", show(v, t), why);
		return 0;
	}
	return set_string(dst, s);
}

/* Handler: deploy.restart, the systemd unit restarted after a switch. */
static int parse_restart_unit(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	(void)f;
	return unit_name_into(c, v, path,
	    &((struct rbd_policy *)obj)->deploy_restart_unit);
}

/* Handler: deploy.restart_command, the deploy's placeholders. */
static int parse_restart_command(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_policy *p = obj;

	(void)f;
	return parse_argv(c, v, path, RBD_TEMPLATE_DEPLOY,
	    &p->deploy_restart_argv, &p->deploy_restart_argc);
}

static const struct field deploy_fields[] = {
	{ "command", false, parse_command, 0, 0, 0, NULL, GROUP_DEPLOYER },
	{ "releases", false, parse_reldir_path,
	    offsetof(struct rbd_policy, deploy_releases), 0, 0, NULL,
	    GROUP_DEPLOYER },
	{ "current", false, parse_reldir_path,
	    offsetof(struct rbd_policy, deploy_current), 0, 0, NULL, 0 },
	{ "restart", false, parse_restart_unit, 0, 0, 0, NULL, GROUP_RESTART },
	{ "restart_command", false, parse_restart_command, 0, 0, 0, NULL,
	    GROUP_RESTART },
	COMMAND_TIMEOUT_FIELD(deploy_timeout_usec),
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

static const struct field migrate_down_fields[] = {
	{ "command", true, parse_migrate_command, 0, 0, 0, NULL, 0 },
	COMMAND_TIMEOUT_FIELD(migrate_down_timeout_usec),
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

static const struct field rollback_fields[] = {
	{ "max_automatic", false, parse_unsigned,
	    offsetof(struct rbd_policy, max_automatic), 0, 100, "0..100", 0 },
	{ "per", false, parse_duration,
	    offsetof(struct rbd_policy, automatic_per_usec),
	    RBD_USEC_PER_MIN, 30 * RBD_USEC_PER_DAY, "1m..30d", 0 },
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

static const struct field watch_fields[] = {
	{ "duration", false, parse_duration,
	    offsetof(struct rbd_policy, duration_usec),
	    RBD_USEC_PER_SEC, 7 * RBD_USEC_PER_DAY, "1s..7d", 0 },
	{ "interval", false, parse_duration,
	    offsetof(struct rbd_policy, interval_usec),
	    100 * RBD_USEC_PER_MSEC, RBD_USEC_PER_HOUR, "100ms..1h", 0 },
	{ "warmup", false, parse_duration,
	    offsetof(struct rbd_policy, warmup_usec),
	    0, 7 * RBD_USEC_PER_DAY, "0..7d", 0 },
	{ "verify", false, parse_duration,
	    offsetof(struct rbd_policy, verify_usec),
	    RBD_USEC_PER_SEC, 7 * RBD_USEC_PER_DAY, "1s..7d", 0 },
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

/* A section: mapping v walked against its own table. */
static int parse_section(struct ctx *c, const struct rbd_ynode *v,
    const char *path, const struct field *fields, void *obj)
{
	if (!want_mapping(c, v, path))
		return 0;
	return walk(c, fields, v, path, obj);
}

/* The policy's sections whose keys all go into the policy itself. */
enum section {
	SECTION_DEPLOY,
	SECTION_MIGRATE_DOWN,
	SECTION_ROLLBACK,		/* the loop breaker */
	SECTION_WATCH,
	_SECTION_MAX,
};

static const struct field *const section_fields[_SECTION_MAX] = {
	[SECTION_DEPLOY] = deploy_fields,
	[SECTION_MIGRATE_DOWN] = migrate_down_fields,
	[SECTION_ROLLBACK] = rollback_fields,
	[SECTION_WATCH] = watch_fields,
};

/* Handler: deploy, migrate_down, rollback, watch: f->min is the enum
 * section whose table the mapping is walked against. */
static int parse_policy_section(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	return parse_section(c, v, path, section_fields[f->min], obj);
}

/* Why url is not a URL we can probe: libcurl's parser (parsing only, no
 * I/O) must accept it, its scheme must be http or https and it must name a
 * host. Returns CURLUE_OK, a libcurl code, or CURLUE_UNSUPPORTED_SCHEME
 * with the scheme in *ret_scheme (the caller's to curl_free). */
static CURLUcode url_problem(CURLU *u, const char *url, char **ret_scheme)
{
	char *host = NULL;
	CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);

	if (!rc)
		rc = curl_url_get(u, CURLUPART_SCHEME, ret_scheme, 0);
	if (rc)
		return rc;
	if (strcmp(*ret_scheme, "http") != 0 && strcmp(*ret_scheme, "https") != 0)
		return CURLUE_UNSUPPORTED_SCHEME;
	rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	if (!rc && !*host)
		rc = CURLUE_NO_HOST;
	curl_free(host);
	return rc;
}

/* Check a probe URL, reporting what is wrong with it. Returns 0, or
 * -ENOMEM; *ret_ok says whether it is fine. */
static int check_url(struct ctx *c, const struct rbd_ynode *v,
    const char *path, const char *url, bool *ret_ok)
{
	CURLU *u = curl_url();
	char *scheme = NULL, t[SHOW_MAX];
	CURLUcode rc;

	if (!u)
		return -ENOMEM;
	rc = url_problem(u, url, &scheme);
	curl_url_cleanup(u);
	if (rc == CURLUE_UNSUPPORTED_SCHEME && scheme)
		err(c, v, path, "URL scheme '%.32s' is not supported (use http "
		    "or https)", scheme);
	else if (rc == CURLUE_NO_HOST)
		err(c, v, path, "URL '%s' has no host", show(v, t));
	else if (rc && rc != CURLUE_OUT_OF_MEMORY)
		err(c, v, path, "invalid URL '%s': %s", show(v, t),
		    curl_url_strerror(rc));
	curl_free(scheme);
	if (rc == CURLUE_OUT_OF_MEMORY)
		return -ENOMEM;
	*ret_ok = rc == CURLUE_OK;
	return 0;
}

/* Handler: a probe's URL (http.url, prometheus.url, scrape.url) into the
 * char * at f->offset. */
static int parse_url(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	const char *s;
	bool ok;
	int ret;

	if (!want_string(c, v, path, &s))
		return 0;
	if (v->len > RBD_POLICY_URL_MAX) {
		err(c, v, path, "is longer than %d bytes", RBD_POLICY_URL_MAX);
		return 0;
	}
	ret = check_url(c, v, path, s, &ok);
	if (ret < 0 || !ok)
		return ret;
	return set_string((char **)((char *)obj + f->offset), s);
}

static const struct field status_field = {
	"expect_status", false, NULL, 0, 100, 599, "100..599", 0,
};

/* One expected status; a repeat of an earlier one is refused. */
static bool parse_status(struct ctx *c, const struct rbd_ynode *v,
    const char *path, const int *seen, size_t n_seen, int *ret)
{
	uint64_t n;

	if (!want_int(c, v, path, &status_field, &n))
		return false;
	for (size_t i = 0; i < n_seen; i++) {
		if (seen[i] == (int)n) {
			err(c, v, path, "duplicate status %d", (int)n);
			return false;
		}
	}
	*ret = (int)n;
	return true;
}

/* Handler: checks[].http.expect_status, an integer or a sequence of them. */
static int parse_expect_status(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_http_probe *h = obj;
	bool one = v->type == RBD_YNODE_SCALAR;
	size_t n = one ? 1 : v->n_kids;
	int *st;

	(void)f;
	if (v->type == RBD_YNODE_MAPPING) {
		type_err(c, v, path, "an integer or a sequence of integers");
		return 0;
	}
	if (!one && !want_sequence(c, v, path, RBD_POLICY_STATUS_MAX))
		return 0;
	st = calloc(n, sizeof(*st));
	if (!st)
		return -ENOMEM;
	free(h->expect_status);
	h->expect_status = st;
	h->n_expect_status = 0;
	if (one) {
		h->n_expect_status = parse_status(c, v, path, st, 0, st);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		char sub[PATH_TEXT_MAX];

		path_index(sub, path, i);
		if (parse_status(c, v->kids[i], sub, st, h->n_expect_status,
		    &st[h->n_expect_status]))
			h->n_expect_status++;
	}
	return 0;
}

/* One table entry for a probe's timeout: at least 1ms; shorter than the
 * interval, which finish_timeout() checks once the interval is known. */
#define TIMEOUT_FIELD(type)						\
	{ "timeout", false, parse_duration, offsetof(type, timeout_usec), \
	    RBD_USEC_PER_MSEC, UNSET - 1, "at least 1ms", 0 }

static const struct field http_fields[] = {
	{ "url", true, parse_url, offsetof(struct rbd_http_probe, url),
	    0, 0, NULL, 0 },
	TIMEOUT_FIELD(struct rbd_http_probe),
	{ "expect_status", false, parse_expect_status, 0, 0, 0, NULL, 0 },
	{ "expect_body", false, parse_string,
	    offsetof(struct rbd_http_probe, expect_body),
	    1, EXPECT_BODY_MAX, NULL, 0 },
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

/* Handler: checks[].http, the probe. */
static int parse_http(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_check *chk = obj;

	(void)f;
	chk->type = RBD_CHECK_HTTP;
	chk->u.http.timeout_usec = UNSET;
	return parse_section(c, v, path, http_fields, &chk->u.http);
}

/* Handler: an absolute path of at most f->max bytes into the char * at
 * f->offset. Only the text is checked: these name secrets, which the
 * daemon reads when probing starts (so that a rotated one is picked up at
 * the next watch) and which need not exist where "rollbackd -t" runs. */
static int parse_abs_path(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	const char *s;

	if (!want_string(c, v, path, &s))
		return 0;
	if (!*s) {
		err(c, v, path, "must not be empty");
		return 0;
	}
	if (*s != '/') {
		err(c, v, path, "must be an absolute path");
		return 0;
	}
	if (v->len > f->max) {
		err(c, v, path, "is longer than %llu bytes",
		    (unsigned long long)f->max);
		return 0;
	}
	return set_string((char **)((char *)obj + f->offset), s);
}

/* Handler: prometheus.basic_auth.username. Basic authentication joins
 * it to the password with a colon, so it cannot hold one (RFC 7617). */
static int parse_username(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	const char *s, *colon;

	(void)f;
	if (!want_string(c, v, path, &s))
		return 0;
	if (!*s) {
		err(c, v, path, "must not be empty");
		return 0;
	}
	if (v->len > USERNAME_MAX) {
		err(c, v, path, "is longer than %d bytes", USERNAME_MAX);
		return 0;
	}
	colon = strchr(s, ':');
	if (colon) {
		err_at(c, v->line, rbd_ynode_col_at(v, (size_t)(colon - s)), path,
		    "must not contain ':'");
		return 0;
	}
	return set_string(&((struct rbd_prometheus_probe *)obj)->basic_user, s);
}

static const struct field basic_auth_fields[] = {
	{ "username", true, parse_username, 0, 0, 0, NULL, 0 },
	{ "password_file", true, parse_abs_path,
	    offsetof(struct rbd_prometheus_probe, basic_password_file),
	    0, CONFIG_PATH_MAX, NULL, 0 },
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

/* Handler: prometheus.basic_auth. */
static int parse_basic_auth(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	(void)f;
	return parse_section(c, v, path, basic_auth_fields, obj);
}

static const struct field prometheus_fields[] = {
	{ "url", true, parse_url, offsetof(struct rbd_prometheus_probe, url),
	    0, 0, NULL, 0 },
	{ "query", true, parse_string,
	    offsetof(struct rbd_prometheus_probe, query),
	    1, RBD_POLICY_QUERY_MAX, NULL, 0 },
	TIMEOUT_FIELD(struct rbd_prometheus_probe),
	{ "bearer_token_file", false, parse_abs_path,
	    offsetof(struct rbd_prometheus_probe, bearer_token_file),
	    0, CONFIG_PATH_MAX, NULL, GROUP_AUTH },
	{ "basic_auth", false, parse_basic_auth, 0, 0, 0, NULL, GROUP_AUTH },
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

/* Handler: checks[].prometheus, an instant query. */
static int parse_prometheus(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_check *chk = obj;

	(void)f;
	chk->type = RBD_CHECK_PROMETHEUS;
	chk->u.prom.timeout_usec = UNSET;
	return parse_section(c, v, path, prometheus_fields, &chk->u.prom);
}

/* A number in *ret: a plain YAML integer or float ("5", "0.02", "1e-3"),
 * finite. A quoted number is a string, as for integers. */
static bool want_number(struct ctx *c, const struct rbd_ynode *v,
    const char *path, double *ret)
{
	enum rbd_ynode_kind k = rbd_ynode_kind(v);
	char t[SHOW_MAX], *end;
	double d;

	if (k != RBD_YKIND_INT && k != RBD_YKIND_FLOAT) {
		type_err(c, v, path, "a number");
		return false;
	}
	/* ".inf" and ".nan" are YAML floats that strtod() does not read;
	 * "1e999" is one it reads as infinity. Neither is a threshold. */
	d = strtod(v->value, &end);
	if (end != v->value + v->len || !isfinite(d)) {
		err(c, v, path, "%s is not a finite number", show(v, t));
		return false;
	}
	*ret = d;
	return true;
}

/* A number within lo..hi (bounds excluded when open) in *ret; limits
 * says the range as a person reads it. */
static bool want_number_in(struct ctx *c, const struct rbd_ynode *v,
    const char *path, double lo, double hi, bool open, const char *limits,
    double *ret)
{
	char t[SHOW_MAX];
	double d;

	if (!want_number(c, v, path, &d))
		return false;
	if (open ? d <= lo || d >= hi : d < lo || d > hi) {
		err(c, v, path, "%s is out of range (%s)", show(v, t), limits);
		return false;
	}
	*ret = d;
	return true;
}

/* A series selector (lib/selector.h) into *dst. Its errors point into
 * the scalar, like those of placeholders in deploy.command. */
static int parse_selector_into(struct ctx *c, const struct rbd_ynode *v,
    const char *path, struct rbd_selector **dst)
{
	char why[RBD_DIAG_MSG_MAX / 2] = "invalid selector";
	struct rbd_selector *sel = NULL;
	unsigned col = 0;
	const char *s;
	int r;

	if (!want_string(c, v, path, &s))
		return 0;
	if (!*s) {
		err(c, v, path, "must not be empty");
		return 0;
	}
	if (v->len > RBD_POLICY_SELECTOR_MAX) {
		err(c, v, path, "is longer than %d bytes", RBD_POLICY_SELECTOR_MAX);
		return 0;
	}
	r = rbd_selector_parse(s, &sel, &col, why, sizeof(why));
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		err_at(c, v->line, rbd_ynode_col_at(v, col ? col - 1 : 0), path,
		    "%s", why);
		return 0;
	}
	if (*dst)
		rbd_selector_free(*dst);
	*dst = sel;
	return 0;
}

/* Handler: a selector into the struct rbd_selector * at f->offset. */
static int parse_selector(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	return parse_selector_into(c, v, path,
	    (struct rbd_selector **)((char *)obj + f->offset));
}

/* Handler: scrape.gauge, .counter, .histogram and .summary, the metric's
 * selector; f->min is its enum rbd_metric_kind. */
static int parse_metric(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_scrape_probe *sp = obj;

	sp->metric.kind = (enum rbd_metric_kind)f->min;
	return parse_selector_into(c, v, path, &sp->metric.sel);
}

/* Handler: scrape.ratio.min_rate, per second, at least 0. */
static int parse_min_rate(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	(void)f;
	want_number_in(c, v, path, 0, INFINITY, false, "at least 0",
	    &((struct rbd_metric_spec *)obj)->min_rate);
	return 0;
}

static const struct field ratio_fields[] = {
	{ "numerator", true, parse_selector,
	    offsetof(struct rbd_metric_spec, sel), 0, 0, NULL, 0 },
	{ "denominator", true, parse_selector,
	    offsetof(struct rbd_metric_spec, den), 0, 0, NULL, 0 },
	{ "min_rate", false, parse_min_rate, 0, 0, 0, NULL, 0 },
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

/* Handler: scrape.ratio, the rate of one selector over another's. */
static int parse_ratio(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_scrape_probe *sp = obj;

	(void)f;
	sp->metric.kind = RBD_METRIC_RATIO;
	return parse_section(c, v, path, ratio_fields, &sp->metric);
}

/* Handler: scrape.quantile, 0 to 1. */
static int parse_quantile(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	(void)f;
	want_number_in(c, v, path, 0, 1, false, "0..1",
	    &((struct rbd_scrape_probe *)obj)->metric.quantile);
	return 0;
}

static const struct field scrape_fields[] = {
	{ "url", true, parse_url, offsetof(struct rbd_scrape_probe, url),
	    0, 0, NULL, 0 },
	TIMEOUT_FIELD(struct rbd_scrape_probe),
	{ "gauge", false, parse_metric, 0, RBD_METRIC_GAUGE, 0, NULL,
	    GROUP_METRIC },
	{ "counter", false, parse_metric, 0, RBD_METRIC_RATE, 0, NULL,
	    GROUP_METRIC },
	{ "ratio", false, parse_ratio, 0, RBD_METRIC_RATIO, 0, NULL,
	    GROUP_METRIC },
	{ "histogram", false, parse_metric, 0, RBD_METRIC_HISTOGRAM_QUANTILE,
	    0, NULL, GROUP_METRIC },
	{ "summary", false, parse_metric, 0, RBD_METRIC_SUMMARY_QUANTILE, 0,
	    NULL, GROUP_METRIC },
	{ "quantile", false, parse_quantile, 0, 0, 0, NULL, 0 },
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

/* A scrape's quantile goes with a histogram or a summary, and only
 * there. */
static void scrape_rules(struct ctx *c, const struct rbd_ynode *m,
    const char *path)
{
	const struct field *metric = group_key(scrape_fields, GROUP_METRIC, m);
	const struct rbd_ynode *q = key_node(m, "quantile");
	bool wants;

	if (!metric)
		return;
	wants = metric->min == RBD_METRIC_HISTOGRAM_QUANTILE ||
	    metric->min == RBD_METRIC_SUMMARY_QUANTILE;
	if (wants && !q)
		err(c, missing_at(m), path,
		    "missing required key 'quantile' for %s", metric->key);
	else if (!wants && q)
		err(c, q, path, "quantile applies to histogram and summary only");
}

/* Handler: checks[].scrape, the service's own /metrics. */
static int parse_scrape(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_check *chk = obj;
	int ret;

	(void)f;
	chk->type = RBD_CHECK_SCRAPE;
	chk->u.scrape.timeout_usec = UNSET;
	if (!want_mapping(c, v, path))
		return 0;
	ret = walk(c, scrape_fields, v, path, &chk->u.scrape);
	if (ret == 0)
		scrape_rules(c, v, path);
	return ret;
}

/* One of n words in *ret. Otherwise the closest within SUGGEST_DISTANCE
 * edits is suggested, as for keys, or else every word is listed. */
static bool want_word(struct ctx *c, const struct rbd_ynode *v,
    const char *path, const char *const *words, size_t n, const char *list,
    unsigned *ret)
{
	size_t best_d = SUGGEST_DISTANCE + 1;
	const char *s, *best = NULL;
	char t[SHOW_MAX];

	if (!want_string(c, v, path, &s))
		return false;
	for (size_t i = 0; i < n; i++) {
		size_t d;

		if (strcmp(s, words[i]) == 0) {
			*ret = (unsigned)i;
			return true;
		}
		d = distance(s, v->len, words[i]);
		if (d < best_d) {
			best = words[i];
			best_d = d;
		}
	}
	if (best)
		err(c, v, path, "invalid value '%s' (did you mean '%s'?)",
		    show(v, t), best);
	else
		err(c, v, path, "invalid value '%s' (expected %s)", show(v, t),
		    list);
	return false;
}

static const char *const no_data_names[_RBD_NO_DATA_MAX] = {
	[RBD_NO_DATA_INCONCLUSIVE] = "inconclusive",
	[RBD_NO_DATA_FAIL] = "fail",
	[RBD_NO_DATA_IGNORE] = "ignore",
};

static const char *const mode_names[_RBD_MODE_MAX] = {
	[RBD_MODE_ENFORCE] = "enforce",
	[RBD_MODE_DRY_RUN] = "dry-run",
};

/* Handler: mode. */
static int parse_mode(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	unsigned n;

	(void)f;
	if (want_word(c, v, path, mode_names, _RBD_MODE_MAX,
	    "enforce or dry-run", &n))
		((struct rbd_policy *)obj)->mode = (enum rbd_mode)n;
	return 0;
}

/* Handler: checks[].no_data. */
static int parse_no_data(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	unsigned n;

	(void)f;
	if (want_word(c, v, path, no_data_names, _RBD_NO_DATA_MAX,
	    "inconclusive, fail or ignore", &n))
		((struct rbd_check *)obj)->no_data = (enum rbd_no_data)n;
	return 0;
}

/* Handler: checks[].min. */
static int parse_min(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_condition *cond = &((struct rbd_check *)obj)->cond;

	(void)f;
	cond->has_min = want_number(c, v, path, &cond->min);
	return 0;
}

/* Handler: checks[].max. */
static int parse_max(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_condition *cond = &((struct rbd_check *)obj)->cond;

	(void)f;
	cond->has_max = want_number(c, v, path, &cond->max);
	return 0;
}

/* Handler: baseline.max_increase, a percentage ("50%", "12.5%") from 0%
 * to 10000%, kept as a fraction (0.5). A bare number is refused: 0.5
 * could mean half or half a percent. */
static int parse_percent(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_condition *cond = obj;
	char t[SHOW_MAX];
	const char *s;
	size_t n;
	double d;

	(void)f;
	if (!want_string(c, v, path, &s))
		return 0;
	n = strspn(s, "0123456789");
	if (n && s[n] == '.') {
		size_t frac = strspn(s + n + 1, "0123456789");

		n = frac ? n + 1 + frac : 0;
	}
	if (!n || strcmp(s + n, "%") != 0) {
		err(c, v, path, "invalid percentage '%s': write it as N%% or "
		    "N.N%%, e.g. 50%%", show(v, t));
		return 0;
	}
	d = strtod(s, NULL);
	if (d > MAX_INCREASE_PERCENT) {
		err(c, v, path, "%s is out of range (0%%..%d%%)", show(v, t),
		    MAX_INCREASE_PERCENT);
		return 0;
	}
	cond->max_increase = d / 100;
	cond->has_max_increase = true;
	return 0;
}

/* Handler: baseline.max_delta, at least 0. */
static int parse_max_delta(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_condition *cond = obj;

	(void)f;
	cond->has_max_delta = want_number_in(c, v, path, 0, INFINITY, false,
	    "at least 0", &cond->max_delta);
	return 0;
}

/* Handler: baseline.test; mann-whitney is the only one. */
static int parse_test(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	static const char *const tests[] = { "mann-whitney" };
	unsigned n;

	(void)f;
	if (want_word(c, v, path, tests, 1, "mann-whitney", &n))
		((struct rbd_condition *)obj)->mann_whitney = true;
	return 0;
}

/* Handler: baseline.confidence, strictly between 0.5 and 1. */
static int parse_confidence(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	(void)f;
	want_number_in(c, v, path, 0.5, 1, true, "more than 0.5, less than 1",
	    &((struct rbd_condition *)obj)->confidence);
	return 0;
}

static const struct field baseline_fields[] = {
	{ "window", false, parse_duration,
	    offsetof(struct rbd_condition, baseline_window_usec),
	    RBD_USEC_PER_MIN, 24 * RBD_USEC_PER_HOUR, "1m..24h", 0 },
	{ "max_increase", false, parse_percent, 0, 0, 0, NULL, 0 },
	{ "max_delta", false, parse_max_delta, 0, 0, 0, NULL, 0 },
	{ "test", false, parse_test, 0, 0, 0, NULL, 0 },
	{ "confidence", false, parse_confidence, 0, 0, 0, NULL, 0 },
	{ "min_samples", false, parse_unsigned,
	    offsetof(struct rbd_condition, min_samples), 2, 1000, "2..1000", 0 },
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

/* A baseline compares somehow; a confidence belongs to a test. */
static void baseline_rules(struct ctx *c, const struct rbd_ynode *m,
    const char *path)
{
	const struct rbd_ynode *conf = key_node(m, "confidence");

	if (!key_node(m, "max_increase") && !key_node(m, "max_delta") &&
	    !key_node(m, "test"))
		err(c, missing_at(m), path, "needs max_increase, max_delta or test");
	if (conf && !key_node(m, "test"))
		err(c, conf, path, "confidence applies with test only");
}

/* Handler: checks[].baseline. */
static int parse_baseline(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_condition *cond = &((struct rbd_check *)obj)->cond;
	int ret;

	(void)f;
	if (!want_mapping(c, v, path))
		return 0;
	cond->baseline = true;
	cond->baseline_window_usec = UNSET;
	ret = walk(c, baseline_fields, v, path, cond);
	if (ret == 0)
		baseline_rules(c, v, path);
	return ret;
}

/* Handler: unit.name, a systemd unit name. */
static int parse_unit_name(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	(void)f;
	return unit_name_into(c, v, path, &((struct rbd_unit_probe *)obj)->unit);
}

static const struct field unit_fields[] = {
	{ "name", true, parse_unit_name, 0, 0, 0, NULL, 0 },
	{ "max_restarts", false, parse_unsigned,
	    offsetof(struct rbd_unit_probe, max_restarts), 0, 1000, "0..1000",
	    0 },
	TIMEOUT_FIELD(struct rbd_unit_probe),
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

/* Handler: checks[].unit, a systemd unit's state over the bus. */
static int parse_unit(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_check *chk = obj;

	(void)f;
	chk->type = RBD_CHECK_UNIT;
	chk->u.unit.timeout_usec = UNSET;
	return parse_section(c, v, path, unit_fields, &chk->u.unit);
}

static const struct field check_fields[] = {
	{ "name", true, parse_check_name, 0, 0, 0, NULL, 0 },
	{ "http", false, parse_http, 0, 0, 0, NULL, GROUP_PROBE },
	{ "prometheus", false, parse_prometheus, 0, 0, 0, NULL, GROUP_PROBE },
	{ "scrape", false, parse_scrape, 0, 0, 0, NULL, GROUP_PROBE },
	{ "unit", false, parse_unit, 0, 0, 0, NULL, GROUP_PROBE },
	{ "min", false, parse_min, 0, 0, 0, NULL, 0 },
	{ "max", false, parse_max, 0, 0, 0, NULL, 0 },
	{ "baseline", false, parse_baseline, 0, 0, 0, NULL, 0 },
	{ "fail_after", false, parse_unsigned,
	    offsetof(struct rbd_check, fail_after), 1, 1000, "1..1000", 0 },
	{ "no_data", false, parse_no_data, 0, 0, 0, NULL, 0 },
	{ "inconclusive_after", false, parse_unsigned,
	    offsetof(struct rbd_check, inconclusive_after), 1, 1000, "1..1000",
	    0 },
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

/* What a check's keys say together: conditions belong to metric checks,
 * which need one; inconclusive_after counts only for no_data:
 * inconclusive. */
static void check_rules(struct ctx *c, const struct rbd_check *chk,
    const struct rbd_ynode *m, const char *path, bool guard)
{
	static const char *const conds[] = { "min", "max", "baseline" };
	static const char *const check_only[] = { "inconclusive_after" };
	const struct field *probe = group_key(check_fields, GROUP_PROBE, m);
	const struct rbd_ynode *k;
	bool any = false;

	for (size_t i = 0; i < N_ELEMENTS(conds); i++) {
		k = key_node(m, conds[i]);
		if (!k)
			continue;
		any = true;
		if (probe && !rbd_check_is_metric(chk->type))
			err(c, k, path, "%s applies to metric checks "
			    "(prometheus, scrape) only", conds[i]);
	}
	if (probe && rbd_check_is_metric(chk->type) && !any)
		err(c, m, path, "a %s check needs a condition: min, max or "
		    "baseline", probe->key);
	for (size_t i = 0; guard && i < N_ELEMENTS(check_only); i++)
		if ((k = key_node(m, check_only[i])))
			err(c, k, path, "%s applies to checks only: a guard "
			    "sample without data fails the guard (no_data: "
			    "fail) or changes nothing", check_only[i]);
	k = key_node(m, "inconclusive_after");
	if (!guard && k && chk->no_data != RBD_NO_DATA_INCONCLUSIVE)
		err(c, k, path, "inconclusive_after applies with no_data: "
		    "inconclusive only");
}

/* A sequence of min..max checks (checks, or guards when guard) into a
 * new *list of *n. Every entry gets a check, so (*list)[i] is item i of
 * the sequence. */
static int parse_check_list(struct ctx *c, const struct rbd_ynode *v,
    const char *path, size_t min, size_t max, bool guard,
    struct rbd_check **list, size_t *n)
{
	if (!want_entries(c, v, path, min, max) || v->n_kids == 0)
		return 0;
	*list = calloc(v->n_kids, sizeof(**list));
	if (!*list)
		return -ENOMEM;
	*n = v->n_kids;
	for (size_t i = 0; i < v->n_kids; i++) {
		struct rbd_check *chk = &(*list)[i];
		const struct rbd_ynode *item = v->kids[i];
		char sub[PATH_TEXT_MAX];
		int ret;

		/* The probe's handler sets the type and initialises its
		 * member of the union; until then it is all zero, which
		 * check_clear() frees as an empty http probe. */
		chk->type = RBD_CHECK_HTTP;
		chk->line = item->line;
		chk->col = item->col;
		path_index(sub, path, i);
		if (!want_mapping(c, item, sub))
			continue;
		ret = walk(c, check_fields, item, sub, chk);
		if (ret < 0)
			return ret;
		check_rules(c, chk, item, sub, guard);
	}
	return 0;
}

/* Handler: checks, at least one. */
static int parse_checks(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_policy *p = obj;

	(void)f;
	return parse_check_list(c, v, path, 1, RBD_POLICY_CHECKS_MAX, false,
	    &p->checks, &p->n_checks);
}

/* Handler: guards, checks with the same syntax; may be empty. */
static int parse_guards(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_policy *p = obj;

	(void)f;
	return parse_check_list(c, v, path, 0, RBD_POLICY_GUARDS_MAX, true,
	    &p->guards, &p->n_guards);
}

/* ---- Remedies ---- */

/* Handler: remedies[].name. */
static int parse_remedy_name(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	(void)f;
	return parse_name(c, v, path, "remedy name",
	    &((struct rbd_remedy *)obj)->name);
}

/* Handler: remedies[].command, an argv with deploy.command's rules. */
static int parse_remedy_command(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_remedy *r = obj;

	(void)f;
	r->type = RBD_REMEDY_COMMAND;
	return parse_argv(c, v, path, RBD_TEMPLATE_DEPLOY, &r->argv, &r->argc);
}

/* Handler: remedies[].http.method. */
static int parse_method(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	static const char *const methods[] = {
		"GET", "POST", "PUT", "PATCH", "DELETE",
	};
	const char *s;
	char t[SHOW_MAX];

	(void)f;
	if (!want_string(c, v, path, &s))
		return 0;
	for (size_t i = 0; i < N_ELEMENTS(methods); i++)
		if (strcmp(s, methods[i]) == 0)
			return set_string(&((struct rbd_remedy_http *)obj)->method,
			    s);
	err(c, v, path, "unknown method '%s' (GET, POST, PUT, PATCH or DELETE)",
	    show(v, t));
	return 0;
}

/* Whether c may be in a header name (an RFC 9110 token). */
static bool is_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= 'A' && ch <= 'Z') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* One header, name k and value v, as "Name: value" in *dst; reports what
 * is wrong with either. */
static int parse_header(struct ctx *c, const struct rbd_ynode *k,
    const struct rbd_ynode *v, const char *path, char **dst)
{
	const char *val;
	char sub[PATH_TEXT_MAX];

	path_key(sub, path, k->value);
	if (!k->len || k->len > HEADER_NAME_MAX) {
		err(c, k, path, "header name must be 1 to %d bytes",
		    HEADER_NAME_MAX);
		return 0;
	}
	for (size_t i = 0; i < k->len; i++)
		if (!is_tchar((unsigned char)k->value[i])) {
			err_at(c, k->line, rbd_ynode_col_at(k, i), path,
			    "invalid character in header name");
			return 0;
		}
	if (!want_string(c, v, sub, &val))
		return 0;
	if (v->len > HEADER_VALUE_MAX) {
		err(c, v, sub, "is longer than %d bytes", HEADER_VALUE_MAX);
		return 0;
	}
	for (size_t i = 0; i < v->len; i++)
		if ((unsigned char)val[i] < 0x20 && val[i] != '\t') {
			err_at(c, v->line, rbd_ynode_col_at(v, i), sub,
			    "contains a control character");
			return 0;
		}
	if (asprintf(dst, "%s: %s", k->value, val) < 0) {
		*dst = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Handler: remedies[].http.headers, a mapping of name to value. */
static int parse_headers(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_remedy_http *h = obj;
	size_t n;

	(void)f;
	if (!want_mapping(c, v, path))
		return 0;
	n = v->n_kids / 2;
	if (n > RBD_POLICY_HEADERS_MAX) {
		err(c, v, path, "too many headers (more than %d)",
		    RBD_POLICY_HEADERS_MAX);
		return 0;
	}
	h->headers = calloc(n ? n : 1, sizeof(*h->headers));
	if (!h->headers)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int ret = parse_header(c, v->kids[2 * i], v->kids[2 * i + 1],
		    path, &h->headers[h->n_headers]);

		if (ret < 0)
			return ret;
		if (h->headers[h->n_headers])
			h->n_headers++;
	}
	return 0;
}

static const struct field remedy_http_fields[] = {
	{ "method", false, parse_method, 0, 0, 0, NULL, 0 },
	{ "url", true, parse_url, offsetof(struct rbd_remedy_http, url),
	    0, 0, NULL, 0 },
	{ "body", false, parse_string, offsetof(struct rbd_remedy_http, body),
	    0, RBD_POLICY_BODY_MAX, NULL, 0 },
	{ "headers", false, parse_headers, 0, 0, 0, NULL, 0 },
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

/* Handler: remedies[].http, a request to a flag service. */
static int parse_remedy_http(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_remedy *r = obj;

	(void)f;
	r->type = RBD_REMEDY_HTTP;
	return parse_section(c, v, path, remedy_http_fields, &r->http);
}

static const struct field remedy_fields[] = {
	{ "name", true, parse_remedy_name, 0, 0, 0, NULL, 0 },
	{ "command", false, parse_remedy_command, 0, 0, 0, NULL, GROUP_ACTION },
	{ "http", false, parse_remedy_http, 0, 0, 0, NULL, GROUP_ACTION },
	{ "timeout", false, parse_duration,
	    offsetof(struct rbd_remedy, timeout_usec),
	    RBD_USEC_PER_SEC, RBD_USEC_PER_HOUR, "1s..1h", 0 },
	{ "settle", true, parse_duration,
	    offsetof(struct rbd_remedy, settle_usec),
	    RBD_USEC_PER_SEC, 24 * RBD_USEC_PER_HOUR, "1s..24h", 0 },
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

/* Handler: remedies, an ordered list of at most RBD_POLICY_REMEDIES_MAX;
 * may be empty. */
static int parse_remedies(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_policy *p = obj;

	(void)f;
	if (!want_entries(c, v, path, 0, RBD_POLICY_REMEDIES_MAX) ||
	    v->n_kids == 0)
		return 0;
	p->remedies = calloc(v->n_kids, sizeof(*p->remedies));
	if (!p->remedies)
		return -ENOMEM;
	p->n_remedies = v->n_kids;
	for (size_t i = 0; i < v->n_kids; i++) {
		struct rbd_remedy *r = &p->remedies[i];
		const struct rbd_ynode *item = v->kids[i];
		char sub[PATH_TEXT_MAX];
		int ret;

		r->timeout_usec = UNSET;
		r->line = item->line;
		r->col = item->col;
		path_index(sub, path, i);
		if (!want_mapping(c, item, sub))
			continue;
		ret = walk(c, remedy_fields, item, sub, r);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Drill: handler: drill.window, "Tue 10:00-12:00". */
static int parse_drill_window(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_policy *p = obj;
	const char *s, *why = "is invalid";
	char t[SHOW_MAX];
	size_t off = 0;

	(void)f;
	if (!want_string(c, v, path, &s))
		return 0;
	if (rbd_drill_window_parse(s, &p->drill_window, &why, &off) < 0)
		err_at(c, v->line, rbd_ynode_col_at(v, off), path,
		    "invalid window '%s': %s", show(v, t), why);
	return 0;
}

/* Drill: the drill section's keys. */
static const struct field drill_fields[] = {
	{ "every", false, parse_duration,
	    offsetof(struct rbd_policy, drill_every_usec),
	    RBD_USEC_PER_HOUR, 365 * RBD_USEC_PER_DAY, "1h..365d", 0 },
	{ "window", true, parse_drill_window, 0, 0, 0, NULL, 0 },
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

/* Drill: handler: drill, a schedule. */
static int parse_drill(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_policy *p = obj;

	(void)f;
	if (!want_mapping(c, v, path))
		return 0;
	p->has_drill = true;
	return walk(c, drill_fields, v, path, obj);
}


static const struct field policy_fields[] = {
	{ "service", true, parse_service, 0, 0, 0, NULL, 0 },
	{ "mode", false, parse_mode, 0, 0, 0, NULL, 0 },
	{ "deploy", true, parse_policy_section, 0, SECTION_DEPLOY, 0, NULL, 0 },
	{ "migrate_down", false, parse_policy_section, 0, SECTION_MIGRATE_DOWN,
	    0, NULL, 0 },
	{ "rollback", false, parse_policy_section, 0, SECTION_ROLLBACK, 0, NULL,
	    0 },
	{ "watch", false, parse_policy_section, 0, SECTION_WATCH, 0, NULL, 0 },
	{ "checks", true, parse_checks, 0, 0, 0, NULL, 0 },
	{ "guards", false, parse_guards, 0, 0, 0, NULL, 0 },
	{ "remedies", false, parse_remedies, 0, 0, 0, NULL, 0 },
	{ "drill", false, parse_drill, 0, 0, 0, NULL, 0 },
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

/* Fill in *v's default unless the key is in mapping m, which means it was
 * given and refused. Returns whether *v is usable for cross checks. */
static bool resolve(uint64_t *v, const struct rbd_ynode *m, const char *key,
    uint64_t def)
{
	if (*v != UNSET)
		return true;
	if (rbd_ynode_get(m, key))
		return false;
	*v = def;
	return true;
}

/* "a must be shorter than b (x)" and its kin, at a's node. */
static void order_err(struct ctx *c, const struct rbd_ynode *at,
    const char *path, uint64_t a, const char *rel, const char *other,
    uint64_t b)
{
	char x[RBD_DURATION_STR_MAX], y[RBD_DURATION_STR_MAX];

	err(c, at, path, "%s must %s %s (%s)", rbd_duration_str(a, x, sizeof(x)),
	    rel, other, rbd_duration_str(b, y, sizeof(y)));
}

/* Defaults and cross checks of the watch section. interval and duration
 * are blamed on whichever of them the file sets. */
static void finish_watch(struct ctx *c, struct rbd_policy *p,
    const struct rbd_ynode *w, bool *ret_interval_ok)
{
	bool iv = resolve(&p->interval_usec, w, "interval", DEFAULT_INTERVAL);
	bool du = resolve(&p->duration_usec, w, "duration", DEFAULT_DURATION);
	bool wu = resolve(&p->warmup_usec, w, "warmup", DEFAULT_WARMUP);
	bool ve = resolve(&p->verify_usec, w, "verify", du ? p->duration_usec : 0);
	const struct rbd_ynode *dn = rbd_ynode_get(w, "duration");

	*ret_interval_ok = iv;
	if (iv && du && p->duration_usec < p->interval_usec) {
		if (dn)
			order_err(c, dn, "watch.duration", p->duration_usec,
			    "not be shorter than", "watch.interval", p->interval_usec);
		else
			order_err(c, rbd_ynode_get(w, "interval"), "watch.interval",
			    p->interval_usec, "not be longer than", "watch.duration",
			    p->duration_usec);
	}
	if (wu && du && p->warmup_usec >= p->duration_usec)
		order_err(c, rbd_ynode_get(w, "warmup"), "watch.warmup",
		    p->warmup_usec, "be shorter than", "watch.duration",
		    p->duration_usec);
	if (ve && iv && rbd_ynode_get(w, "verify") &&
	    p->verify_usec < p->interval_usec)
		order_err(c, rbd_ynode_get(w, "verify"), "watch.verify",
		    p->verify_usec, "not be shorter than", "watch.interval",
		    p->interval_usec);
	/* Warm-up applies to verification too: a verify window inside the
	 * warm-up would pass a restored release without judging a sample. */
	if (ve && wu && rbd_ynode_get(w, "verify") &&
	    p->verify_usec <= p->warmup_usec)
		order_err(c, rbd_ynode_get(w, "verify"), "watch.verify",
		    p->verify_usec, "be longer than", "watch.warmup",
		    p->warmup_usec);
}

/* A probe's timeout: by default the smaller of DEFAULT_PROBE_TIMEOUT and
 * half the interval, and always shorter than the interval. One rule for
 * every kind of probe: probe is its mapping, path names its timeout. */
static void finish_timeout(struct ctx *c, const struct rbd_policy *p,
    uint64_t *timeout, const struct rbd_ynode *probe, const char *path,
    bool interval_ok)
{
	uint64_t def = p->interval_usec / 2;

	if (def > DEFAULT_PROBE_TIMEOUT || !interval_ok)
		def = DEFAULT_PROBE_TIMEOUT;
	if (resolve(timeout, probe, "timeout", def) && interval_ok &&
	    *timeout >= p->interval_usec)
		order_err(c, rbd_ynode_get(probe, "timeout"), path, *timeout,
		    "be shorter than", "watch.interval", p->interval_usec);
}

/* A metric check's condition: min below max; the baseline's defaults,
 * and a window that can hold min_samples samples at the interval (else
 * the baseline would never be trusted and every sample be unknown). at
 * is the check's path ("checks[2]"). */
static void finish_condition(struct ctx *c, const struct rbd_policy *p,
    struct rbd_check *chk, const struct rbd_ynode *item, const char *at,
    bool interval_ok)
{
	struct rbd_condition *cond = &chk->cond;
	const struct rbd_ynode *bn = rbd_ynode_get(item, "baseline");
	const struct rbd_ynode *wn = rbd_ynode_get(bn, "window");
	char path[PATH_TEXT_MAX], t[SHOW_MAX], u[SHOW_MAX];
	char x[RBD_DURATION_STR_MAX], y[RBD_DURATION_STR_MAX];
	uint64_t n;

	if (cond->has_min && cond->has_max && cond->min >= cond->max) {
		path_key(path, at, "min");
		err(c, rbd_ynode_get(item, "min"), path,
		    "%s must be less than max (%s)",
		    show(rbd_ynode_get(item, "min"), t),
		    show(rbd_ynode_get(item, "max"), u));
	}
	if (!cond->baseline)
		return;
	if (!cond->confidence && !rbd_ynode_get(bn, "confidence"))
		cond->confidence = DEFAULT_CONFIDENCE;
	if (!cond->min_samples && !rbd_ynode_get(bn, "min_samples"))
		cond->min_samples = DEFAULT_MIN_SAMPLES;
	if (!resolve(&cond->baseline_window_usec, bn, "window",
	    DEFAULT_BASELINE_WINDOW) || !interval_ok || !cond->min_samples)
		return;
	n = cond->baseline_window_usec / p->interval_usec;
	if (n >= cond->min_samples)
		return;
	rbd_duration_str(cond->baseline_window_usec, x, sizeof(x));
	rbd_duration_str(p->interval_usec, y, sizeof(y));
	path_key(path, at, wn ? "baseline.window" : "baseline");
	err(c, wn ? wn : missing_at(bn), path, "%s%s%s holds %llu samples at "
	    "watch.interval (%s), fewer than min_samples (%u)",
	    wn ? "" : "the default window (", x, wn ? "" : ")",
	    (unsigned long long)n, y, cond->min_samples);
}

/* Defaults of one check (or guard), its probe's timeout against the
 * interval and its condition. at is its path ("guards[0]"). */
static int finish_check(struct ctx *c, const struct rbd_policy *p,
    struct rbd_check *chk, const struct rbd_ynode *item, const char *at,
    bool interval_ok)
{
	const struct field *probe = group_key(check_fields, GROUP_PROBE, item);
	struct rbd_http_probe *h = &chk->u.http;
	const struct rbd_ynode *pn;
	char path[PATH_TEXT_MAX];
	uint64_t *timeout;

	if (!chk->fail_after && !rbd_ynode_get(item, "fail_after"))
		chk->fail_after = DEFAULT_FAIL_AFTER;
	if (!chk->inconclusive_after &&
	    !rbd_ynode_get(item, "inconclusive_after"))
		chk->inconclusive_after = DEFAULT_INCONCLUSIVE_AFTER;
	/* no_data's default, inconclusive, is the zero value. */
	if (!probe)
		return 0;
	pn = rbd_ynode_get(item, probe->key);
	if (chk->type == RBD_CHECK_HTTP) {
		if (!h->expect_status && !rbd_ynode_get(pn, "expect_status")) {
			h->expect_status = malloc(sizeof(*h->expect_status));
			if (!h->expect_status)
				return -ENOMEM;
			h->expect_status[0] = DEFAULT_STATUS;
			h->n_expect_status = 1;
		}
		timeout = &h->timeout_usec;
	} else if (chk->type == RBD_CHECK_PROMETHEUS) {
		timeout = &chk->u.prom.timeout_usec;
	} else if (chk->type == RBD_CHECK_UNIT) {
		timeout = &chk->u.unit.timeout_usec;
	} else {
		timeout = &chk->u.scrape.timeout_usec;
	}
	snprintf(path, sizeof(path), "%s.%s.timeout", at, probe->key);
	finish_timeout(c, p, timeout, pn, path, interval_ok);
	if (rbd_check_is_metric(chk->type))
		finish_condition(c, p, chk, item, at, interval_ok);
	return 0;
}

/* finish_check() for each of the n checks of list, the sequence seq
 * (NULL when absent) of the policy's key key. */
static int finish_check_list(struct ctx *c, const struct rbd_policy *p,
    struct rbd_check *list, size_t n, const struct rbd_ynode *seq,
    const char *key, bool interval_ok)
{
	for (size_t i = 0; i < n; i++) {
		char at[CHECK_PATH_MAX];
		int ret;

		snprintf(at, sizeof(at), "%s[%zu]", key, i);
		ret = finish_check(c, p, &list[i], seq->kids[i], at, interval_ok);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Order names (NULL last), then positions. */
static int name_cmp(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int r;

	if (!x->name || !y->name)
		r = !x->name - !y->name;
	else
		r = strcmp(x->name, y->name);
	if (r)
		return r;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* For each of n names (NULL: none), the index of the first equal name
 * before it in *ret_first, or SIZE_MAX. Sorting keeps this O(n log n). */
static int find_dups(const char *const *names, size_t n, size_t **ret_first)
{
	struct name_ref *refs = calloc(n ? n : 1, sizeof(*refs));
	size_t *first = calloc(n ? n : 1, sizeof(*first));

	if (!refs || !first) {
		free(refs);
		free(first);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		refs[i] = (struct name_ref){ names[i], i };
		first[i] = SIZE_MAX;
	}
	qsort(refs, n, sizeof(*refs), name_cmp);
	for (size_t i = 1, g = 0; i < n; i++) {
		if (refs[i].name && strcmp(refs[i].name, refs[g].name) == 0)
			first[refs[i].i] = refs[g].i;
		else
			g = i;
	}
	free(refs);
	*ret_first = first;
	return 0;
}

/* The check or guard i of the names that dup_names() sorts: the checks,
 * then the guards. */
static const struct rbd_check *nth_check(const struct rbd_policy *p,
    size_t i)
{
	return i < p->n_checks ? &p->checks[i] : &p->guards[i - p->n_checks];
}

/* Report names used twice, at the later one: among the checks, among the
 * guards, and a guard named like a check. Verdicts, status and history
 * name checks and guards alike, so one name must mean one thing. */
static int dup_names(struct ctx *c, const struct rbd_policy *p)
{
	size_t n = p->n_checks + p->n_guards, *first = NULL;
	const char **names = calloc(n ? n : 1, sizeof(*names));
	int ret;

	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		names[i] = nth_check(p, i)->name;
	ret = find_dups(names, n, &first);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		const struct rbd_check *chk = nth_check(p, i);
		bool guard = i >= p->n_checks;
		char path[PATH_TEXT_MAX];

		if (first[i] == SIZE_MAX)
			continue;
		snprintf(path, sizeof(path), "%s[%zu].name",
		    guard ? "guards" : "checks", guard ? i - p->n_checks : i);
		if (guard && first[i] < p->n_checks)
			err_at(c, chk->line, chk->col, path, "guard name '%s' is "
			    "already a check's name (defined at line %u): status "
			    "and history must tell them apart", names[i],
			    p->checks[first[i]].line);
		else
			err_at(c, chk->line, chk->col, path, "duplicate %s name "
			    "'%s' (first defined at line %u)",
			    guard ? "guard" : "check", names[i],
			    nth_check(p, first[i])->line);
	}
	free(first);
	free(names);
	return ret;
}

/* Defaults of the remedies, a settle period that can see a sample, and
 * unique names. */
static int finish_remedies(struct ctx *c, struct rbd_policy *p,
    const struct rbd_ynode *seq, bool interval_ok)
{
	for (size_t i = 0; i < p->n_remedies; i++) {
		struct rbd_remedy *r = &p->remedies[i];
		const struct rbd_ynode *item = seq->kids[i];
		char path[PATH_TEXT_MAX];

		resolve(&r->timeout_usec, item, "timeout",
		    DEFAULT_REMEDY_TIMEOUT);
		if (r->type == RBD_REMEDY_HTTP && !r->http.method &&
		    set_string(&r->http.method, DEFAULT_REMEDY_METHOD) < 0)
			return -ENOMEM;
		snprintf(path, sizeof(path), "remedies[%zu].settle", i);
		if (interval_ok && r->settle_usec &&
		    r->settle_usec < p->interval_usec)
			order_err(c, rbd_ynode_get(item, "settle"), path,
			    r->settle_usec, "not be shorter than",
			    "watch.interval", p->interval_usec);
		for (size_t j = 0; r->name && j < i; j++) {
			if (!p->remedies[j].name ||
			    strcmp(p->remedies[j].name, r->name) != 0)
				continue;
			snprintf(path, sizeof(path), "remedies[%zu].name", i);
			err_at(c, r->line, r->col, path, "duplicate remedy "
			    "name '%s' (first defined at line %u)", r->name,
			    p->remedies[j].line);
			break;
		}
	}
	return 0;
}

/* Defaults of the commands and of the loop breaker. A down-migration
 * may take as long as a deploy unless it says otherwise (the default
 * deploy timeout when the deploy's was refused: the load fails on that
 * error alone); without one, its timeout is 0. */
static void finish_actions(struct rbd_policy *p, const struct rbd_ynode *root)
{
	const struct rbd_ynode *md = rbd_ynode_get(root, "migrate_down");
	const struct rbd_ynode *rb = rbd_ynode_get(root, "rollback");

	if (!resolve(&p->deploy_timeout_usec, rbd_ynode_get(root, "deploy"),
	    "timeout", DEFAULT_DEPLOY_TIMEOUT))
		p->deploy_timeout_usec = DEFAULT_DEPLOY_TIMEOUT;
	if (md)
		resolve(&p->migrate_down_timeout_usec, md, "timeout",
		    p->deploy_timeout_usec);
	else
		p->migrate_down_timeout_usec = 0;
	/* 0 is a valid max_automatic: only a key not written takes the
	 * default (a refused one leaves the load failing anyway). */
	if (!rbd_ynode_get(rb, "max_automatic"))
		p->max_automatic = DEFAULT_MAX_AUTOMATIC;
	resolve(&p->automatic_per_usec, rb, "per", DEFAULT_AUTOMATIC_PER);
	/* Drill: every defaults to a week; without a drill it is 0. */
	if (!p->has_drill)
		p->drill_every_usec = 0;
	else
		resolve(&p->drill_every_usec, rbd_ynode_get(root, "drill"),
		    "every", 7 * RBD_USEC_PER_DAY);
}

/* The deploy section across its keys: a release directory needs current
 * and a way to restart, apart from its releases; a command takes none of
 * them. Each problem is reported at the key (or the section) it is
 * about. */
static void finish_deploy(struct ctx *c, const struct rbd_policy *p,
    const struct rbd_ynode *dn)
{
	static const char *const dir_keys[] = { "current", "restart",
	    "restart_command" };
	const struct rbd_ynode *k;

	if (!dn || dn->type != RBD_YNODE_MAPPING)
		return;
	if (!rbd_ynode_get(dn, "releases")) {
		/* A command (or nothing, already reported). */
		for (size_t i = 0; i < N_ELEMENTS(dir_keys); i++)
			if ((k = key_node(dn, dir_keys[i])))
				err(c, k, "deploy", "'%s' is only for a "
				    "release-directory deploy (with 'releases')",
				    dir_keys[i]);
		return;
	}
	if (rbd_ynode_get(dn, "command"))
		return;		/* reported by the walk: one deployer */
	if (!rbd_ynode_get(dn, "current"))
		err(c, missing_at(dn), "deploy", "missing required key "
		    "'current' (the symlink 'releases' is deployed through)");
	if (!rbd_ynode_get(dn, "restart") && !rbd_ynode_get(dn, "restart_command"))
		err(c, missing_at(dn), "deploy", "missing a restart: restart "
		    "(a systemd unit) or restart_command");
	if (!p->deploy_releases || !p->deploy_current)
		return;		/* refused above or by the walk */
	k = rbd_ynode_get(dn, "current");
	if (rbd_reldir_is_under(p->deploy_current, p->deploy_releases))
		err(c, k, "deploy.current", "must not be inside releases (%s): "
		    "prune and the deploy own what is there", p->deploy_releases);
	else if (rbd_reldir_is_under(p->deploy_releases, p->deploy_current))
		err(c, k, "deploy.current", "must not contain releases (%s): "
		    "the deploy replaces it with a symlink", p->deploy_releases);
}

/* After the walk: defaults, then every check across keys. */
static int finish_policy(struct ctx *c, struct rbd_policy *p,
    const struct rbd_ynode *root)
{
	bool interval_ok;
	int ret;

	finish_deploy(c, p, rbd_ynode_get(root, "deploy"));
	finish_actions(p, root);
	finish_watch(c, p, rbd_ynode_get(root, "watch"), &interval_ok);
	ret = finish_check_list(c, p, p->checks, p->n_checks,
	    rbd_ynode_get(root, "checks"), "checks", interval_ok);
	if (ret == 0)
		ret = finish_check_list(c, p, p->guards, p->n_guards,
		    rbd_ynode_get(root, "guards"), "guards", interval_ok);
	if (ret == 0)
		ret = dup_names(c, p);
	if (ret == 0)
		ret = finish_remedies(c, p, rbd_ynode_get(root, "remedies"),
		    interval_ok);
	return ret;
}

/* A policy with every duration unset. */
static struct rbd_policy *policy_new(const char *file)
{
	struct rbd_policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->file = strdup(file);
	if (!p->file) {
		free(p);
		return NULL;
	}
	p->deploy_timeout_usec = p->migrate_down_timeout_usec = UNSET;
	p->automatic_per_usec = UNSET;
	p->drill_every_usec = UNSET;
	p->duration_usec = p->interval_usec = UNSET;
	p->warmup_usec = p->verify_usec = UNSET;
	return p;
}

/* True for a document root that holds nothing: "---" alone, or "~". */
static bool is_empty_root(const struct rbd_ynode *root)
{
	return !root || rbd_ynode_kind(root) == RBD_YKIND_NULL;
}

/* Walk a parsed document into p. */
static int policy_walk(struct ctx *c, const struct rbd_ynode *root,
    struct rbd_policy *p)
{
	int ret;

	if (is_empty_root(root))
		root = NULL;
	else if (!want_mapping(c, root, ""))
		return 0;
	ret = walk(c, policy_fields, root, "", p);
	if (ret < 0)
		return ret;
	return finish_policy(c, p, root);
}

/* Parse a policy; on success also tell where its service is named. */
static int policy_parse(const char *name, const char *buf, size_t len,
    struct rbd_policy **ret, struct loaded *ret_at, struct rbd_diag *diag)
{
	struct ctx c = { .file = name, .diag = diag };
	size_t before = rbd_diag_count(diag);
	struct rbd_ynode *root = NULL;
	struct rbd_policy *p;
	int ret_val;

	ret_val = rbd_ynode_parse(name, buf, len, &root, diag);
	if (ret_val < 0)
		return ret_val;
	p = policy_new(name);
	ret_val = p ? policy_walk(&c, root, p) : -ENOMEM;
	if (ret_val == 0 && rbd_diag_count(diag) > before)
		ret_val = -EINVAL;
	if (ret_val == 0 && ret_at) {
		const struct rbd_ynode *s = rbd_ynode_get(root, "service");

		ret_at->line = s->line;
		ret_at->col = s->col;
	}
	rbd_ynode_free(root);
	if (ret_val < 0) {
		rbd_policy_free(p);
		return ret_val;
	}
	*ret = p;
	return 0;
}

int rbd_policy_parse(const char *name, const char *buf, size_t len,
    struct rbd_policy **ret, struct rbd_diag *diag)
{
	return policy_parse(name, buf, len, ret, NULL, diag);
}

/* Read fd to its end, refusing more than RBD_POLICY_FILE_MAX bytes
 * without reading much further: the file may have grown since fstat(). */
static int read_bounded(int fd, char **ret_buf, size_t *ret_len)
{
	char *buf = malloc(RBD_POLICY_FILE_MAX + 2);
	size_t len = 0;

	if (!buf)
		return -ENOMEM;
	while (len <= RBD_POLICY_FILE_MAX) {
		ssize_t n = read(fd, buf + len, RBD_POLICY_FILE_MAX + 1 - len);

		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;

			free(buf);
			return r;
		}
		len += (size_t)n;
	}
	if (len > RBD_POLICY_FILE_MAX) {
		free(buf);
		return -EFBIG;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

/* Read a regular file of at most RBD_POLICY_FILE_MAX bytes from fd; the
 * size is checked before anything is read. */
static int read_fd(int fd, char **ret_buf, size_t *ret_len)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size > RBD_POLICY_FILE_MAX)
		return -EFBIG;
	return read_bounded(fd, ret_buf, ret_len);
}

/* Read the file at path into a new NUL-terminated buffer, reporting why
 * it cannot be. O_NONBLOCK: opening a FIFO must not hang the loader. */
static int read_file(const char *path, char **ret_buf, size_t *ret_len,
    struct rbd_diag *diag)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int ret;

	if (fd < 0) {
		ret = -errno;
		rbd_diag_add(diag, path, 0, 0, "cannot open: %s", strerror(-ret));
		return ret;
	}
	ret = read_fd(fd, ret_buf, ret_len);
	close(fd);
	if (ret == -EFBIG)
		rbd_diag_add(diag, path, 0, 0, "file is larger than %d bytes",
		    RBD_POLICY_FILE_MAX);
	else if (ret == -EINVAL)
		rbd_diag_add(diag, path, 0, 0, "not a regular file");
	else if (ret < 0 && ret != -ENOMEM)
		rbd_diag_add(diag, path, 0, 0, "cannot read: %s", strerror(-ret));
	return ret;
}

/* Read and parse one policy file. */
static int policy_load(const char *path, struct rbd_policy **ret,
    struct loaded *ret_at, struct rbd_diag *diag)
{
	char *buf;
	size_t len;
	int r = read_file(path, &buf, &len, diag);

	if (r < 0)
		return r;
	r = policy_parse(path, buf, len, ret, ret_at, diag);
	free(buf);
	return r;
}

int rbd_policy_load_file(const char *path, struct rbd_policy **ret,
    struct rbd_diag *diag)
{
	return policy_load(path, ret, NULL, diag);
}

/* Free what one check holds: the member of the union its type says. */
static void check_clear(struct rbd_check *chk)
{
	free(chk->name);
	if (chk->type == RBD_CHECK_HTTP) {
		free(chk->u.http.url);
		free(chk->u.http.expect_status);
		free(chk->u.http.expect_body);
	} else if (chk->type == RBD_CHECK_PROMETHEUS) {
		free(chk->u.prom.url);
		free(chk->u.prom.query);
		free(chk->u.prom.bearer_token_file);
		free(chk->u.prom.basic_user);
		free(chk->u.prom.basic_password_file);
	} else if (chk->type == RBD_CHECK_SCRAPE) {
		free(chk->u.scrape.url);
		if (chk->u.scrape.metric.sel)
			rbd_selector_free(chk->u.scrape.metric.sel);
		if (chk->u.scrape.metric.den)
			rbd_selector_free(chk->u.scrape.metric.den);
	} else if (chk->type == RBD_CHECK_UNIT) {
		free(chk->u.unit.unit);
	}
}

/* Free a command's n elements (any of them NULL) and the array. */
static void argv_free(char **argv, size_t n)
{
	for (size_t i = 0; argv && i < n; i++)
		free(argv[i]);
	free(argv);
}

/* Remedies: free n remedies and the array. */
static void remedies_free(struct rbd_remedy *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++) {
		struct rbd_remedy *r = &list[i];

		free(r->name);
		argv_free(r->argv, r->argc);
		free(r->http.method);
		free(r->http.url);
		free(r->http.body);
		argv_free(r->http.headers, r->http.n_headers);
	}
	free(list);
}

/* Free n checks and the array. */
static void checks_free(struct rbd_check *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		check_clear(&list[i]);
	free(list);
}

void rbd_policy_free(struct rbd_policy *p)
{
	if (!p)
		return;
	argv_free(p->deploy_argv, p->deploy_argc);
	free(p->deploy_releases);
	free(p->deploy_current);
	free(p->deploy_restart_unit);
	argv_free(p->deploy_restart_argv, p->deploy_restart_argc);
	argv_free(p->migrate_down_argv, p->migrate_down_argc);
	checks_free(p->checks, p->n_checks);
	checks_free(p->guards, p->n_guards);
	remedies_free(p->remedies, p->n_remedies);
	free(p->service);
	free(p->file);
	free(p);
}

/* Index of the check called name among n, or -ENOENT. */
static int find_named(const struct rbd_check *list, size_t n,
    const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

int rbd_policy_find_check(const struct rbd_policy *p, const char *name)
{
	return find_named(p->checks, p->n_checks, name);
}

int rbd_policy_find_guard(const struct rbd_policy *p, const char *name)
{
	return find_named(p->guards, p->n_guards, name);
}

const char *rbd_mode_str(enum rbd_mode m)
{
	if ((unsigned)m >= _RBD_MODE_MAX)
		return "unknown";
	return mode_names[m];
}

bool rbd_check_is_metric(enum rbd_check_type t)
{
	return t == RBD_CHECK_PROMETHEUS || t == RBD_CHECK_SCRAPE;
}

const char *rbd_check_type_str(enum rbd_check_type t)
{
	static const char *const names[_RBD_CHECK_TYPE_MAX] = {
		[RBD_CHECK_HTTP] = "http",
		[RBD_CHECK_PROMETHEUS] = "prometheus",
		[RBD_CHECK_SCRAPE] = "scrape",
		[RBD_CHECK_UNIT] = "unit",
	};

	if ((unsigned)t >= _RBD_CHECK_TYPE_MAX)
		return "unknown";
	return names[t];
}

const char *rbd_no_data_str(enum rbd_no_data n)
{
	if ((unsigned)n >= _RBD_NO_DATA_MAX)
		return "unknown";
	return no_data_names[n];
}

/* rel against dir, or rel itself when it is absolute. */
static char *path_resolve(const char *dir, const char *rel)
{
	char *out;

	if (rel[0] == '/')
		return strdup(rel);
	if (asprintf(&out, "%s%s%s", dir,
	    dir[strlen(dir) - 1] == '/' ? "" : "/", rel) < 0)
		return NULL;
	return out;
}

/* The absolute directory of file: relative to the working directory when
 * file is relative, so that the config holds absolute paths. */
static int dir_of(const char *file, char **ret)
{
	const char *slash = strrchr(file, '/');
	char cwd[CONFIG_PATH_MAX + 1], *dir, *abs;

	dir = slash ? strndup(file, slash == file ? 1 : (size_t)(slash - file)) :
	    strdup(".");
	if (!dir)
		return -ENOMEM;
	if (dir[0] == '/') {
		*ret = dir;
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd))) {
		int r = -errno;

		free(dir);
		return r;
	}
	abs = strcmp(dir, ".") == 0 ? strdup(cwd) : path_resolve(cwd, dir);
	free(dir);
	if (!abs)
		return -ENOMEM;
	*ret = abs;
	return 0;
}

/* Handler: a path of the main config, resolved against its directory;
 * f->max bytes at most once resolved. */
static int parse_path(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	char **dst = (char **)((char *)obj + f->offset);
	const char *s;
	char *full;
	size_t len;

	if (!want_string(c, v, path, &s))
		return 0;
	if (!*s) {
		err(c, v, path, "must not be empty");
		return 0;
	}
	full = path_resolve(c->base_dir, s);
	if (!full)
		return -ENOMEM;
	len = strlen(full);
	if (len > f->max) {
		err(c, v, path, "path too long after resolving (%zu bytes, "
		    "at most %llu)",
		    len, (unsigned long long)f->max);
		free(full);
		return 0;
	}
	free(*dst);
	*dst = full;
	return 0;
}

/* Handler: read_group, deploy_group: a group name as groupadd(8) takes
 * it, or a numeric gid; resolved by the daemon, which says when there is
 * no such group. */
static int parse_group(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_config_group *g =
	    (struct rbd_config_group *)((char *)obj + f->offset);
	const char *s;
	size_t bad;

	if (!want_string(c, v, path, &s))
		return 0;
	if (!*s) {
		err(c, v, path, "must not be empty");
		return 0;
	}
	if (v->len > RBD_GROUP_NAME_MAX) {
		err(c, v, path, "is longer than %d bytes", RBD_GROUP_NAME_MAX);
		return 0;
	}
	bad = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-");
	if (bad < v->len) {
		err_at(c, v->line, rbd_ynode_col_at(v, bad), path,
		    "invalid group name: only letters, digits, '_', '.' and '-'");
		return 0;
	}
	if (s[0] == '-') {
		err(c, v, path, "invalid group name: must not start with '-'");
		return 0;
	}
	g->line = v->line;
	g->col = v->col;
	return set_string(&g->name, s);
}

static const struct field config_fields[] = {
	{ "socket", false, parse_path, offsetof(struct rbd_config, socket),
	    0, SOCKET_PATH_MAX, NULL, 0 },
	{ "state_dir", false, parse_path, offsetof(struct rbd_config, state_dir),
	    0, CONFIG_PATH_MAX, NULL, 0 },
	{ "policies", false, parse_path,
	    offsetof(struct rbd_config, policies_dir), 0, CONFIG_PATH_MAX, NULL, 0 },
	{ "read_group", false, parse_group,
	    offsetof(struct rbd_config, read_group), 0, 0, NULL, 0 },
	{ "deploy_group", false, parse_group,
	    offsetof(struct rbd_config, deploy_group), 0, 0, NULL, 0 },
	{ NULL, false, NULL, 0, 0, 0, NULL, 0 },
};

/* A default for the string at *dst unless key was given (and refused). */
static int default_string(char **dst, const struct rbd_ynode *root,
    const char *key, const char *def)
{
	if (*dst || rbd_ynode_get(root, key))
		return 0;
	return set_string(dst, def);
}

/* Walk the main config's document into c, with defaults. */
static int config_walk(struct ctx *c, const struct rbd_ynode *root,
    struct rbd_config *cfg)
{
	int ret;

	if (is_empty_root(root))
		root = NULL;
	else if (!want_mapping(c, root, ""))
		return 0;
	ret = walk(c, config_fields, root, "", cfg);
	if (ret == 0)
		ret = default_string(&cfg->socket, root, "socket",
		    RBD_DEFAULT_SOCKET);
	if (ret == 0)
		ret = default_string(&cfg->state_dir, root, "state_dir",
		    RBD_DEFAULT_STATE_DIR);
	if (ret == 0)
		ret = default_string(&cfg->policies_dir, root, "policies",
		    RBD_DEFAULT_POLICIES);
	return ret;
}

/* Read and walk the main config file at cfg->file. */
static int config_read(struct rbd_config *cfg, struct rbd_diag *diag)
{
	struct ctx c = { .file = cfg->file, .diag = diag };
	struct rbd_ynode *root = NULL;
	char *buf, *dir = NULL;
	size_t len;
	int ret = read_file(cfg->file, &buf, &len, diag);

	if (ret < 0)
		return ret;
	ret = dir_of(cfg->file, &dir);
	if (ret < 0 && ret != -ENOMEM)
		rbd_diag_add(diag, cfg->file, 0, 0,
		    "cannot resolve relative paths: %s", strerror(-ret));
	if (ret == 0)
		ret = rbd_ynode_parse(cfg->file, buf, len, &root, diag);
	c.base_dir = dir;
	if (ret == 0)
		ret = config_walk(&c, root, cfg);
	rbd_ynode_free(root);
	free(dir);
	free(buf);
	return ret;
}

/* Order strings with strcmp, for qsort. */
static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* True for a name the policies directory is read for: "*.yaml", not
 * hidden (editors' and package managers' leftovers start with '.'). */
static bool is_policy_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".yaml") == 0;
}

/* Free a list of n strings. */
static void names_free(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

/* Add dir entry name to the list if it names a regular file (following
 * symbolic links) of the right name. */
static int names_add(DIR *d, const char *name, char ***names, size_t *n)
{
	struct stat st;
	char **grown;

	/* A policy that cannot be read (a dangling link, a FIFO) is kept in
	 * the list so that loading it reports why: a policy must never
	 * silently disappear. Only directories are passed over. */
	if (!is_policy_name(name) ||
	    (fstatat(dirfd(d), name, &st, 0) == 0 && S_ISDIR(st.st_mode)))
		return 0;
	if (*n >= RBD_POLICY_FILES_MAX)
		return -E2BIG;
	grown = realloc(*names, (*n + 1) * sizeof(**names));
	if (!grown)
		return -ENOMEM;
	*names = grown;
	grown[*n] = strdup(name);
	if (!grown[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* The policy file names in dir, sorted with strcmp. */
static int list_policies(const char *dir, char ***ret_names, size_t *ret_n,
    struct rbd_diag *diag)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	struct dirent *de;
	size_t n = 0;
	int ret = 0;

	if (!d) {
		ret = -errno;
		rbd_diag_add(diag, dir, 0, 0, "cannot open policies directory: %s",
		    strerror(-ret));
		return ret;
	}
	while (ret == 0 && (errno = 0, de = readdir(d)) != NULL)
		ret = names_add(d, de->d_name, &names, &n);
	if (ret == 0 && errno)
		ret = -errno;
	closedir(d);
	if (ret == -E2BIG)
		rbd_diag_add(diag, dir, 0, 0, "more than %d policy files",
		    RBD_POLICY_FILES_MAX);
	else if (ret < 0 && ret != -ENOMEM)
		rbd_diag_add(diag, dir, 0, 0, "cannot read policies directory: %s",
		    strerror(-ret));
	if (ret < 0) {
		names_free(names, n);
		return ret;
	}
	if (n)
		qsort(names, n, sizeof(*names), str_cmp);
	*ret_names = names;
	*ret_n = n;
	return 0;
}

/* Load every named policy of dir into at[], counting them in *n_loaded
 * as they come (so that the caller can free them, even on failure). A
 * file with errors is reported and left out; the others still load. */
static int load_policies(const char *dir, char **names, size_t n,
    struct loaded *at, size_t *n_loaded, struct rbd_diag *diag)
{
	for (size_t i = 0; i < n; i++) {
		char *path = path_resolve(dir, names[i]);
		int r;

		if (!path)
			return -ENOMEM;
		r = policy_load(path, &at[*n_loaded].p, &at[*n_loaded], diag);
		free(path);
		if (r == 0)
			(*n_loaded)++;
		if (r == -ENOMEM)
			return r;
	}
	return 0;
}

/* Report a service defined by two files, at the later one. */
static int dup_services(const struct loaded *at, size_t n,
    struct rbd_diag *diag)
{
	const char **names = calloc(n ? n : 1, sizeof(*names));
	size_t *first = NULL;
	int ret;

	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		names[i] = at[i].p->service;
	ret = find_dups(names, n, &first);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		const struct loaded *f;

		if (first[i] == SIZE_MAX)
			continue;
		f = &at[first[i]];
		rbd_diag_add(diag, at[i].p->file, at[i].line, at[i].col,
		    "service '%s' is already defined in %s:%u:%u", names[i],
		    f->p->file, f->line, f->col);
	}
	free(first);
	free(names);
	return ret;
}

/* Order policies by service name. */
static int policy_cmp(const void *a, const void *b)
{
	const struct rbd_policy *x = *(struct rbd_policy *const *)a;
	const struct rbd_policy *y = *(struct rbd_policy *const *)b;

	return strcmp(x->service, y->service);
}

/* Load the policies directory into cfg->policies, sorted by service. */
static int config_policies(struct rbd_config *cfg, struct rbd_diag *diag)
{
	struct loaded *at = NULL;
	char **names = NULL;
	size_t n = 0, n_ok = 0;
	int ret = list_policies(cfg->policies_dir, &names, &n, diag);

	if (ret == 0 && !(at = calloc(n ? n : 1, sizeof(*at))))
		ret = -ENOMEM;
	if (ret == 0)
		ret = load_policies(cfg->policies_dir, names, n, at, &n_ok, diag);
	if (ret == 0)
		ret = dup_services(at, n_ok, diag);
	if (ret == 0 && !(cfg->policies = calloc(n_ok ? n_ok : 1,
	    sizeof(*cfg->policies))))
		ret = -ENOMEM;
	for (size_t i = 0; i < n_ok; i++) {
		if (ret == 0)
			cfg->policies[cfg->n_policies++] = at[i].p;
		else
			rbd_policy_free(at[i].p);
	}
	if (ret == 0)
		qsort(cfg->policies, cfg->n_policies, sizeof(*cfg->policies),
		    policy_cmp);
	free(at);
	names_free(names, n);
	return ret;
}

int rbd_config_load(const char *path, struct rbd_config **ret,
    struct rbd_diag *diag)
{
	size_t before = rbd_diag_count(diag);
	struct rbd_config *cfg = calloc(1, sizeof(*cfg));
	int r;

	if (!cfg)
		return -ENOMEM;
	cfg->file = strdup(path);
	r = cfg->file ? config_read(cfg, diag) : -ENOMEM;
	/* Policies are read even when the main config has errors, so that
	 * "rollbackd -t" shows every problem at once. */
	if ((r == 0 || r == -EINVAL) && cfg->policies_dir) {
		int rp = config_policies(cfg, diag);

		if (r == 0 || rp == -ENOMEM)
			r = rp;
	}
	if (r == 0 && rbd_diag_count(diag) > before)
		r = -EINVAL;
	if (r < 0) {
		rbd_config_free(cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}

void rbd_config_free(struct rbd_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->policies && i < c->n_policies; i++)
		rbd_policy_free(c->policies[i]);
	free(c->policies);
	free(c->policies_dir);
	free(c->read_group.name);
	free(c->deploy_group.name);
	free(c->state_dir);
	free(c->socket);
	free(c->file);
	free(c);
}

const struct rbd_policy *rbd_config_find(const struct rbd_config *c,
    const char *service)
{
	struct rbd_policy key = { .service = (char *)service };
	const struct rbd_policy *kp = &key;
	struct rbd_policy *const *found;

	if (!c->n_policies)
		return NULL;
	found = bsearch(&kp, c->policies, c->n_policies, sizeof(*c->policies),
	    policy_cmp);
	return found ? *found : NULL;
}
