/* The policy model and its loader: see policy.h.
 *
 * A file is read into a node tree (yamlnode.c, which refuses anchors,
 * aliases, odd tags, deep nesting and duplicate keys), then walked against
 * a table per mapping: key -> handler, the way Redis's config.c does it.
 * Handlers check one value each and report what is wrong with it; nothing
 * stops at the first error. Once the whole tree is walked, defaults are
 * filled in and the checks across keys run (timeout < interval, unique
 * names), still reporting every problem. Only then does the load fail. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include "template.h"
#include "version.h"
#include "yamlnode.h"

/* A duration not given (yet), or given and refused. */
#define UNSET UINT64_MAX
#define PATH_TEXT_MAX 128	/* "checks[9999].http.expect_status[31]" */
#define SHOW_MAX 80		/* a value quoted in a message */
#define KEY_MAX 32		/* longest key in a table */
#define SUGGEST_DISTANCE 2
#define EXPECT_BODY_MAX 4096
#define CONFIG_PATH_MAX 4096
#define SOCKET_PATH_MAX 107	/* sun_path holds 108 bytes with the NUL */

#define DEFAULT_DEPLOY_TIMEOUT	(5 * RBD_USEC_PER_MIN)
#define DEFAULT_DURATION	(10 * RBD_USEC_PER_MIN)
#define DEFAULT_INTERVAL	(10 * RBD_USEC_PER_SEC)
#define DEFAULT_WARMUP		0
#define DEFAULT_HTTP_TIMEOUT	(2 * RBD_USEC_PER_SEC)
#define DEFAULT_FAIL_AFTER	3
#define DEFAULT_STATUS		200

/* What one load is doing: where messages go, how paths resolve. */
struct ctx {
	const char *file;	/* name in messages */
	struct rbd_diag *diag;
	const char *base_dir;	/* main config: relative paths resolve here */
};

struct field;
typedef int (*field_fn)(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj);

/* One key of a mapping: its handler, where in obj the value goes, and
 * the limits of durations, integers and lengths. */
struct field {
	const char *key;
	bool required;
	field_fn parse;
	size_t offset;
	uint64_t min, max;
	const char *limits;	/* min..max as a person reads them */
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

/* True if v is a sequence of 1..max entries; reports it otherwise. */
static bool want_sequence(struct ctx *c, const struct rbd_ynode *v,
    const char *path, size_t max)
{
	if (v->type != RBD_YNODE_SEQUENCE) {
		type_err(c, v, path, "a sequence");
		return false;
	}
	if (v->n_kids == 0) {
		err(c, v, path, "must not be empty");
		return false;
	}
	if (v->n_kids > max) {
		err(c, v, path, "too many entries (more than %zu)", max);
		return false;
	}
	return true;
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

/* Report every required key of fields that mapping m (NULL: an empty
 * document) lacks, at m's first key or m itself. */
static void missing_keys(struct ctx *c, const struct field *fields,
    const struct rbd_ynode *m, const char *path)
{
	const struct rbd_ynode *at = m && m->n_kids ? m->kids[0] : m;

	for (const struct field *f = fields; f->key; f++)
		if (f->required && !rbd_ynode_get(m, f->key))
			err(c, at, path, "missing required key '%s'", f->key);
}

/* Walk mapping m (NULL: empty) against fields, filling obj. */
static int walk(struct ctx *c, const struct field *fields,
    const struct rbd_ynode *m, const char *path, void *obj)
{
	for (size_t i = 0; m && i + 1 < m->n_kids; i += 2) {
		const struct rbd_ynode *k = m->kids[i];
		const struct field *f = field_find(fields, k);
		char sub[PATH_TEXT_MAX];
		int ret;

		if (!f) {
			unknown_key(c, fields, k, path);
			continue;
		}
		path_key(sub, path, f->key);
		ret = f->parse(c, f, m->kids[i + 1], sub, obj);
		if (ret < 0)
			return ret;
	}
	missing_keys(c, fields, m, path);
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

/* One deploy.command element: a string that is a valid template; the
 * program (element 0) is not empty and has no placeholder, so what runs
 * is always known from the policy alone. */
static int parse_argv_elem(struct ctx *c, const struct rbd_ynode *v,
    const char *path, size_t i, char **dst)
{
	char why[RBD_DIAG_MSG_MAX / 2];
	const char *s;
	unsigned off;
	size_t len;
	int at;

	if (!want_string(c, v, path, &s))
		return 0;
	if (i == 0 && !*s) {
		err(c, v, path, "must not be empty");
		return 0;
	}
	if (rbd_template_check(s, &off, why, sizeof(why)) < 0) {
		err_at(c, v->line, rbd_ynode_col_at(v, off - 1), path, "%s", why);
		return 0;
	}
	at = i == 0 ? first_placeholder(s, &len) : -1;
	if (at >= 0) {
		err_at(c, v->line, rbd_ynode_col_at(v, (size_t)at), path,
		    "placeholder %.*s is not allowed in the program",
		    (int)(len < 64 ? len : 64), s + at);
		return 0;
	}
	return set_string(dst, s);
}

/* Handler: deploy.command, a sequence of strings. */
static int parse_command(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_policy *p = obj;

	(void)f;
	if (!want_sequence(c, v, path, RBD_POLICY_ARGV_MAX))
		return 0;
	p->deploy_argv = calloc(v->n_kids + 1, sizeof(*p->deploy_argv));
	if (!p->deploy_argv)
		return -ENOMEM;
	p->deploy_argc = v->n_kids;
	for (size_t i = 0; i < v->n_kids; i++) {
		char sub[PATH_TEXT_MAX];
		int ret;

		path_index(sub, path, i);
		ret = parse_argv_elem(c, v->kids[i], sub, i, &p->deploy_argv[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static const struct field deploy_fields[] = {
	{ "command", true, parse_command, 0, 0, 0, NULL },
	{ "timeout", false, parse_duration,
	    offsetof(struct rbd_policy, deploy_timeout_usec),
	    RBD_USEC_PER_SEC, 24 * RBD_USEC_PER_HOUR, "1s..24h" },
	{ NULL, false, NULL, 0, 0, 0, NULL },
};

static const struct field watch_fields[] = {
	{ "duration", false, parse_duration,
	    offsetof(struct rbd_policy, duration_usec),
	    RBD_USEC_PER_SEC, 7 * RBD_USEC_PER_DAY, "1s..7d" },
	{ "interval", false, parse_duration,
	    offsetof(struct rbd_policy, interval_usec),
	    100 * RBD_USEC_PER_MSEC, RBD_USEC_PER_HOUR, "100ms..1h" },
	{ "warmup", false, parse_duration,
	    offsetof(struct rbd_policy, warmup_usec),
	    0, 7 * RBD_USEC_PER_DAY, "0..7d" },
	{ "verify", false, parse_duration,
	    offsetof(struct rbd_policy, verify_usec),
	    RBD_USEC_PER_SEC, 7 * RBD_USEC_PER_DAY, "1s..7d" },
	{ NULL, false, NULL, 0, 0, 0, NULL },
};

/* A section: mapping v walked against its own table. */
static int parse_section(struct ctx *c, const struct rbd_ynode *v,
    const char *path, const struct field *fields, void *obj)
{
	if (!want_mapping(c, v, path))
		return 0;
	return walk(c, fields, v, path, obj);
}

/* Handler: deploy. */
static int parse_deploy(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	(void)f;
	return parse_section(c, v, path, deploy_fields, obj);
}

/* Handler: watch. */
static int parse_watch(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	(void)f;
	return parse_section(c, v, path, watch_fields, obj);
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

/* Handler: checks[].http.url. */
static int parse_url(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	const char *s;
	bool ok;
	int ret;

	(void)f;
	if (!want_string(c, v, path, &s))
		return 0;
	if (v->len > RBD_POLICY_URL_MAX) {
		err(c, v, path, "is longer than %d bytes", RBD_POLICY_URL_MAX);
		return 0;
	}
	ret = check_url(c, v, path, s, &ok);
	if (ret < 0 || !ok)
		return ret;
	return set_string(&((struct rbd_http_probe *)obj)->url, s);
}

static const struct field status_field = {
	"expect_status", false, NULL, 0, 100, 599, "100..599",
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

static const struct field http_fields[] = {
	{ "url", true, parse_url, 0, 0, 0, NULL },
	{ "timeout", false, parse_duration,
	    offsetof(struct rbd_http_probe, timeout_usec),
	    RBD_USEC_PER_MSEC, UNSET - 1, "at least 1ms" },
	{ "expect_status", false, parse_expect_status, 0, 0, 0, NULL },
	{ "expect_body", false, parse_string,
	    offsetof(struct rbd_http_probe, expect_body),
	    1, EXPECT_BODY_MAX, NULL },
	{ NULL, false, NULL, 0, 0, 0, NULL },
};

/* Handler: checks[].http, the probe. */
static int parse_http(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_check *chk = obj;

	(void)f;
	chk->type = RBD_CHECK_HTTP;
	return parse_section(c, v, path, http_fields, &chk->u.http);
}

static const struct field check_fields[] = {
	{ "name", true, parse_check_name, 0, 0, 0, NULL },
	{ "http", true, parse_http, 0, 0, 0, NULL },
	{ "fail_after", false, parse_unsigned,
	    offsetof(struct rbd_check, fail_after), 1, 1000, "1..1000" },
	{ NULL, false, NULL, 0, 0, 0, NULL },
};

/* Handler: checks, a sequence of mappings. Every entry gets a check, so
 * checks[i] is item i of the sequence. */
static int parse_checks(struct ctx *c, const struct field *f,
    const struct rbd_ynode *v, const char *path, void *obj)
{
	struct rbd_policy *p = obj;

	(void)f;
	if (!want_sequence(c, v, path, RBD_POLICY_CHECKS_MAX))
		return 0;
	p->checks = calloc(v->n_kids, sizeof(*p->checks));
	if (!p->checks)
		return -ENOMEM;
	p->n_checks = v->n_kids;
	for (size_t i = 0; i < v->n_kids; i++) {
		struct rbd_check *chk = &p->checks[i];
		char sub[PATH_TEXT_MAX];
		int ret;

		chk->type = RBD_CHECK_HTTP;
		chk->u.http.timeout_usec = UNSET;
		chk->line = v->kids[i]->line;
		chk->col = v->kids[i]->col;
		path_index(sub, path, i);
		ret = parse_section(c, v->kids[i], sub, check_fields, chk);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static const struct field policy_fields[] = {
	{ "service", true, parse_service, 0, 0, 0, NULL },
	{ "deploy", true, parse_deploy, 0, 0, 0, NULL },
	{ "watch", false, parse_watch, 0, 0, 0, NULL },
	{ "checks", true, parse_checks, 0, 0, 0, NULL },
	{ NULL, false, NULL, 0, 0, 0, NULL },
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

/* Defaults of one check, and its timeout against the interval. */
static int finish_check(struct ctx *c, const struct rbd_policy *p,
    struct rbd_check *chk, const struct rbd_ynode *item, size_t i,
    bool interval_ok)
{
	struct rbd_http_probe *h = &chk->u.http;
	const struct rbd_ynode *hn = rbd_ynode_get(item, "http");
	uint64_t def = p->interval_usec / 2;
	char path[PATH_TEXT_MAX];

	if (!chk->fail_after && !rbd_ynode_get(item, "fail_after"))
		chk->fail_after = DEFAULT_FAIL_AFTER;
	if (!h->expect_status && !rbd_ynode_get(hn, "expect_status")) {
		h->expect_status = malloc(sizeof(*h->expect_status));
		if (!h->expect_status)
			return -ENOMEM;
		h->expect_status[0] = DEFAULT_STATUS;
		h->n_expect_status = 1;
	}
	if (def > DEFAULT_HTTP_TIMEOUT || !interval_ok)
		def = DEFAULT_HTTP_TIMEOUT;
	if (resolve(&h->timeout_usec, hn, "timeout", def) && interval_ok &&
	    h->timeout_usec >= p->interval_usec) {
		snprintf(path, sizeof(path), "checks[%zu].http.timeout", i);
		order_err(c, rbd_ynode_get(hn, "timeout"), path, h->timeout_usec,
		    "be shorter than", "watch.interval", p->interval_usec);
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

/* Report check names used twice, at the later check. */
static int dup_check_names(struct ctx *c, const struct rbd_policy *p)
{
	const char **names = calloc(p->n_checks ? p->n_checks : 1, sizeof(*names));
	size_t *first = NULL;
	int ret;

	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_checks; i++)
		names[i] = p->checks[i].name;
	ret = find_dups(names, p->n_checks, &first);
	for (size_t i = 0; ret == 0 && i < p->n_checks; i++) {
		char path[PATH_TEXT_MAX];

		if (first[i] == SIZE_MAX)
			continue;
		snprintf(path, sizeof(path), "checks[%zu].name", i);
		err_at(c, p->checks[i].line, p->checks[i].col, path,
		    "duplicate check name '%s' (first defined at line %u)",
		    names[i], p->checks[first[i]].line);
	}
	free(first);
	free(names);
	return ret;
}

/* After the walk: defaults, then every check across keys. */
static int finish_policy(struct ctx *c, struct rbd_policy *p,
    const struct rbd_ynode *root)
{
	const struct rbd_ynode *checks = rbd_ynode_get(root, "checks");
	bool interval_ok;

	resolve(&p->deploy_timeout_usec, rbd_ynode_get(root, "deploy"),
	    "timeout", DEFAULT_DEPLOY_TIMEOUT);
	finish_watch(c, p, rbd_ynode_get(root, "watch"), &interval_ok);
	for (size_t i = 0; i < p->n_checks; i++) {
		int ret = finish_check(c, p, &p->checks[i], checks->kids[i], i,
		    interval_ok);

		if (ret < 0)
			return ret;
	}
	return dup_check_names(c, p);
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
	p->deploy_timeout_usec = UNSET;
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

/* Free what one check holds. */
static void check_clear(struct rbd_check *chk)
{
	free(chk->name);
	free(chk->u.http.url);
	free(chk->u.http.expect_status);
	free(chk->u.http.expect_body);
}

void rbd_policy_free(struct rbd_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->deploy_argv && i < p->deploy_argc; i++)
		free(p->deploy_argv[i]);
	free(p->deploy_argv);
	for (size_t i = 0; p->checks && i < p->n_checks; i++)
		check_clear(&p->checks[i]);
	free(p->checks);
	free(p->service);
	free(p->file);
	free(p);
}

int rbd_policy_find_check(const struct rbd_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_checks; i++)
		if (strcmp(p->checks[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

const char *rbd_check_type_str(enum rbd_check_type t)
{
	static const char *const names[_RBD_CHECK_TYPE_MAX] = {
		[RBD_CHECK_HTTP] = "http",
	};

	if ((unsigned)t >= _RBD_CHECK_TYPE_MAX)
		return "unknown";
	return names[t];
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

static const struct field config_fields[] = {
	{ "socket", false, parse_path, offsetof(struct rbd_config, socket),
	    0, SOCKET_PATH_MAX, NULL },
	{ "state_dir", false, parse_path, offsetof(struct rbd_config, state_dir),
	    0, CONFIG_PATH_MAX, NULL },
	{ "policies", false, parse_path,
	    offsetof(struct rbd_config, policies_dir), 0, CONFIG_PATH_MAX, NULL },
	{ NULL, false, NULL, 0, 0, 0, NULL },
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
