/* The Prometheus text exposition format 0.0.4: see promtext.h.
 *
 * The input is cut into lines (a trailing '\r' is dropped, a missing final
 * newline is fine) and each line is parsed on its own. Everything a page
 * keeps lives in one arena of growing blocks, plus the sample array; the
 * table of names is scratch, freed before returning. So a page costs a
 * handful of allocations however many samples it holds.
 *
 * Where the format is silent we follow prometheus/common's expfmt text
 * parser (blanks around tokens, a trailing comma in a label set, TYPE names
 * case-insensitive, "__name__" reserved), and are stricter where its
 * leniency would hand the checks a wrong number: hexadecimal values, a
 * histogram bucket without a numeric "le", a summary sample without a
 * numeric "quantile", invalid UTF-8 or NUL in label values. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "promtext.h"

#define BLOCK_MIN	(16 * 1024)
#define BLOCK_FIRST_MAX	(4 * 1024 * 1024)
#define TABLE_MIN	256
#define QUOTE_MAX	40	/* bytes of user text quoted in a message */

struct block {
	struct block *next;
	size_t size;
	size_t used;
	max_align_t data[];
};

struct rbd_prom_page {
	struct block *blocks;		/* newest first */
	struct rbd_prom_sample *samples;
	size_t n_samples;
	size_t cap_samples;
};

/* What a sample name belongs to, beyond its family. */
enum role {
	ROLE_PLAIN,
	ROLE_BUCKET,
	ROLE_SUM,
	ROLE_COUNT,
	ROLE_TOTAL,
};

/* One name seen in HELP, TYPE or as a sample name. Sample names are
 * interned here: every sample of the same name shares the string. */
struct name {
	const char *str;		/* NUL-terminated, in the arena */
	size_t len;
	uint32_t hash;
	enum rbd_prom_type type;	/* from TYPE */
	bool typed;
	bool has_help;
	bool has_samples;
	/* For samples of exactly this name, fixed at the first one (a TYPE
	 * that would change it afterwards is an error). */
	enum rbd_prom_type s_type;
	const char *s_family;
	enum role s_role;
};

struct parser {
	struct rbd_prom_page *page;
	const char *buf_end;
	unsigned long line;
	struct name **tab;
	size_t tab_cap;
	size_t tab_n;
	char *err;
	size_t errlen;
	struct rbd_prom_label labels[RBD_PROM_LABELS_MAX];
};

/* A sample line being parsed. */
struct cur {
	const char *p;
	const char *end;
};

static const char *const type_names[_RBD_PROM_TYPE_MAX] = {
	[RBD_PROM_UNTYPED] = "untyped",
	[RBD_PROM_COUNTER] = "counter",
	[RBD_PROM_GAUGE] = "gauge",
	[RBD_PROM_HISTOGRAM] = "histogram",
	[RBD_PROM_SUMMARY] = "summary",
};

const char *rbd_prom_type_str(enum rbd_prom_type t)
{
	if ((unsigned)t >= _RBD_PROM_TYPE_MAX)
		return "invalid";
	return type_names[t];
}

/* Fill errbuf with "line N: message" and return err. */
static int fail(struct parser *ps, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct parser *ps, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ps->err || ps->errlen == 0)
		return err;
	n = snprintf(ps->err, ps->errlen, "line %lu: ", ps->line);
	if (n >= 0 && (size_t)n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* Copy user text into out for a message: printable ASCII only (others
 * become '?'), at most QUOTE_MAX bytes, "..." when cut. */
static const char *quote(char *out, const char *s, size_t n)
{
	size_t i, k = n > QUOTE_MAX ? QUOTE_MAX : n;

	for (i = 0; i < k; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (k < n)
		memcpy(out + i, "...", 4);
	else
		out[i] = '\0';
	return out;
}

/* ---- arena ---- */

/* Add a block of at least size bytes to the page. */
static struct block *block_new(struct rbd_prom_page *pg, size_t size)
{
	struct block *b;

	if (pg->blocks && size < 2 * pg->blocks->size)
		size = 2 * pg->blocks->size;
	if (size < BLOCK_MIN)
		size = BLOCK_MIN;
	b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->size = size;
	b->used = 0;
	b->next = pg->blocks;
	pg->blocks = b;
	return b;
}

/* size bytes from the page's arena, aligned to align (a power of two). */
static void *arena_alloc(struct rbd_prom_page *pg, size_t size, size_t align)
{
	struct block *b = pg->blocks;
	size_t off;

	if (b) {
		off = (b->used + align - 1) & ~(align - 1);
		if (off <= b->size && size <= b->size - off) {
			b->used = off + size;
			return (char *)b->data + off;
		}
	}
	b = block_new(pg, size);
	if (!b)
		return NULL;
	b->used = size;
	return b->data;
}

/* ---- names ---- */

/* FNV-1a of s[0..n), continued from h. */
static uint32_t hash_more(uint32_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* Whether entry e is the name a followed by b. */
static bool name_eq(const struct name *e, uint32_t h, const char *a,
    size_t alen, const char *b, size_t blen)
{
	return e->hash == h && e->len == alen + blen &&
	    memcmp(e->str, a, alen) == 0 && memcmp(e->str + alen, b, blen) == 0;
}

/* The table slot for the name a followed by b: its entry or an empty one. */
static struct name **name_slot(struct parser *ps, uint32_t h, const char *a,
    size_t alen, const char *b, size_t blen)
{
	size_t mask = ps->tab_cap - 1, i = h & mask;

	while (ps->tab[i] && !name_eq(ps->tab[i], h, a, alen, b, blen))
		i = (i + 1) & mask;
	return &ps->tab[i];
}

/* The entry for the name a followed by b, or NULL. */
static struct name *name_find(struct parser *ps, const char *a, size_t alen,
    const char *b)
{
	size_t blen = strlen(b);
	uint32_t h = hash_more(hash_more(2166136261u, a, alen), b, blen);

	return *name_slot(ps, h, a, alen, b, blen);
}

/* Double the table once it is half full. */
static int table_grow(struct parser *ps)
{
	size_t cap = ps->tab_cap ? 2 * ps->tab_cap : TABLE_MIN;
	struct name **old = ps->tab, **t;
	size_t old_cap = ps->tab_cap;

	t = calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	ps->tab = t;
	ps->tab_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			*name_slot(ps, old[i]->hash, old[i]->str, old[i]->len,
			    "", 0) = old[i];
	free(old);
	return 0;
}

/* The entry for name s[0..n), created when new. */
static int name_get(struct parser *ps, const char *s, size_t n,
    struct name **ret)
{
	uint32_t h = hash_more(2166136261u, s, n);
	struct name **slot, *e;
	char *str;
	int r;

	slot = name_slot(ps, h, s, n, "", 0);
	if (*slot) {
		*ret = *slot;
		return 0;
	}
	if (2 * (ps->tab_n + 1) > ps->tab_cap) {
		if ((r = table_grow(ps)) < 0)
			return r;
		slot = name_slot(ps, h, s, n, "", 0);
	}
	e = arena_alloc(ps->page, sizeof(*e), _Alignof(struct name));
	str = arena_alloc(ps->page, n + 1, 1);
	if (!e || !str)
		return -ENOMEM;
	memcpy(str, s, n);
	str[n] = '\0';
	*e = (struct name){ .str = str, .len = n, .hash = h };
	*slot = e;
	ps->tab_n++;
	*ret = e;
	return 0;
}

/* ---- lexical pieces ---- */

/* Whether c may start a label name. */
static bool is_label_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Whether c may continue a label name. */
static bool is_label_char(char c)
{
	return is_label_start(c) || (c >= '0' && c <= '9');
}

/* Whether s[0..n) is a metric name: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static bool valid_metric_name(const char *s, size_t n)
{
	if (n == 0 || !(is_label_start(s[0]) || s[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_label_char(s[i]) && s[i] != ':')
			return false;
	return true;
}

/* Whether s[0..n) is a label name: [a-zA-Z_][a-zA-Z0-9_]*. */
static bool valid_label_name(const char *s, size_t n)
{
	if (n == 0 || !is_label_start(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_label_char(s[i]))
			return false;
	return true;
}

/* Whether s[0..n) is valid UTF-8 (no overlong forms, no surrogates, at
 * most U+10FFFF: what Go's utf8.ValidString accepts). */
static bool valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, min;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return false;
		if (n - i <= need)
			return false;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

/* Skip spaces and tabs. */
static void skip_blanks(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* The token at c up to a blank or the end of the line; its length. */
static size_t token(struct cur *c, const char **ret)
{
	const char *s = c->p;

	while (c->p < c->end && *c->p != ' ' && *c->p != '\t')
		c->p++;
	*ret = s;
	return (size_t)(c->p - s);
}

/* Case-insensitive prefix length shared by s[0..n) and word. */
static size_t common_prefix(const char *s, size_t n, const char *word)
{
	size_t i = 0;

	while (i < n && word[i] && (s[i] | 0x20) == word[i])
		i++;
	return i;
}

/* Whether s[0..n) is one of Go's special float spellings; its value. */
static bool special_float(const char *s, size_t n, double *ret)
{
	double sign = 1;
	size_t k;

	if (n == 3 && common_prefix(s, n, "nan") == 3) {
		*ret = NAN;
		return true;
	}
	if (n > 0 && (s[0] == '+' || s[0] == '-')) {
		sign = s[0] == '-' ? -1 : 1;
		s++, n--;
	}
	k = common_prefix(s, n, "infinity");
	if (k == n && (n == 3 || n == 8)) {
		*ret = sign * INFINITY;
		return true;
	}
	return false;
}

/* Whether s[0..n) is a decimal float: [+-]?(d+(.d*)?|.d+)([eE][+-]?d+)?.
 * Only these reach strtod, so hexadecimal floats, "nan(...)" and the like
 * (which strtod would take, Go's ParseFloat mostly not) are refused. */
static bool decimal_syntax(const char *s, size_t n)
{
	size_t i = 0, digits = 0;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		digits++;
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	if (digits == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i == n || s[i] < '0' || s[i] > '9')
			return false;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i == n;
}

/* Parse the float s[0..n) as Go's ParseFloat would (but no hex), into
 * *ret. Values too large for a double are errors, too small round to 0,
 * as in Go. strtod follows LC_NUMERIC's decimal point: the daemon runs in
 * the C locale; under another the end check below makes "1.5" fail loudly
 * rather than read as 1. */
static int parse_float(struct parser *ps, const char *s, size_t n,
    double *ret)
{
	char *copy = NULL, *end;
	double v;

	if (special_float(s, n, ret))
		return 0;
	if (!decimal_syntax(s, n))
		return -EINVAL;
	/* strtod wants a terminator: any byte after the token in the buffer
	 * (a blank, '\r' or '\n') stops it; at the very end, copy. */
	if (s + n >= ps->buf_end) {
		copy = arena_alloc(ps->page, n + 1, 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, s, n);
		copy[n] = '\0';
		s = copy;
	}
	errno = 0;
	v = strtod(s, &end);
	if (end != s + n || (errno == ERANGE && isinf(v)))
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Parse the integer s[0..n) as Go's ParseInt(s, 10, 64). */
static bool parse_int64(const char *s, size_t n, int64_t *ret)
{
	uint64_t v = 0, lim = INT64_MAX;
	bool neg = false;
	size_t i = 0;

	if (n > 0 && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		lim += neg;
		i++;
	}
	if (i == n)
		return false;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (lim - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* ---- comments: HELP and TYPE ---- */

/* Check the escapes of a HELP text: only \\ and \n. */
static int check_help(struct parser *ps, struct cur *c)
{
	for (const char *p = c->p; p < c->end; p++) {
		if (*p != '\\')
			continue;
		if (++p == c->end)
			return fail(ps, -EINVAL, "unterminated escape sequence in HELP");
		if (*p != '\\' && *p != 'n') {
			char q[QUOTE_MAX + 4];

			return fail(ps, -EINVAL, "invalid escape sequence '\\%s' in HELP",
			    quote(q, p, 1));
		}
	}
	return 0;
}

/* "# HELP name text": the text is validated, not kept. */
static int parse_help(struct parser *ps, struct cur *c, struct name *e)
{
	int r;

	if (e->has_help)
		return fail(ps, -EINVAL, "second HELP for '%s'", e->str);
	skip_blanks(c);
	if ((r = check_help(ps, c)) < 0)
		return r;
	e->has_help = true;
	return 0;
}

/* Whether a sample named e->str + suffix was seen and resolved without
 * e (so a TYPE for e now comes after its samples). */
static bool suffix_seen(struct parser *ps, const struct name *e,
    const char *suffix)
{
	const struct name *s = name_find(ps, e->str, e->len, suffix);

	return s && s->has_samples && !s->typed;
}

/* Whether samples that a TYPE t for e would claim were already seen. */
static bool type_too_late(struct parser *ps, const struct name *e,
    enum rbd_prom_type t)
{
	if (e->has_samples)
		return true;
	switch (t) {
	case RBD_PROM_HISTOGRAM:
		return suffix_seen(ps, e, "_bucket") || suffix_seen(ps, e, "_sum") ||
		    suffix_seen(ps, e, "_count");
	case RBD_PROM_SUMMARY:
		return suffix_seen(ps, e, "_sum") || suffix_seen(ps, e, "_count");
	case RBD_PROM_COUNTER:
		return suffix_seen(ps, e, "_total");
	default:
		return false;
	}
}

/* "# TYPE name type". */
static int parse_type(struct parser *ps, struct cur *c, struct name *e)
{
	const char *s;
	size_t n;
	char q[QUOTE_MAX + 4];

	skip_blanks(c);
	s = c->p;
	n = (size_t)(c->end - s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0)
		return fail(ps, -EINVAL, "missing metric type for '%s'", e->str);
	for (int t = 0; t < _RBD_PROM_TYPE_MAX; t++) {
		if (strlen(type_names[t]) != n || strncasecmp(s, type_names[t], n) != 0)
			continue;
		if (e->typed)
			return fail(ps, -EINVAL, "second TYPE for '%s'", e->str);
		if (type_too_late(ps, e, (enum rbd_prom_type)t))
			return fail(ps, -EINVAL, "TYPE for '%s' after its samples", e->str);
		e->typed = true;
		e->type = (enum rbd_prom_type)t;
		return 0;
	}
	return fail(ps, -EINVAL, "unknown metric type '%s'", quote(q, s, n));
}

/* A line starting with '#': HELP, TYPE, or a comment to ignore. */
static int parse_comment(struct parser *ps, struct cur *c)
{
	const char *kw, *name;
	size_t kwn, n;
	struct name *e;
	int r;

	c->p++;
	skip_blanks(c);
	kwn = token(c, &kw);
	if (!((kwn == 4 && memcmp(kw, "HELP", 4) == 0) ||
	    (kwn == 4 && memcmp(kw, "TYPE", 4) == 0)))
		return 0;
	skip_blanks(c);
	n = token(c, &name);
	if (n == 0)
		return 0;	/* a bare "# HELP": expfmt ignores it too */
	if (!valid_metric_name(name, n))
		return fail(ps, -EINVAL, "invalid metric name in %.4s", kw);
	if ((r = name_get(ps, name, n, &e)) < 0)
		return r;
	return kw[0] == 'H' ? parse_help(ps, c, e) : parse_type(ps, c, e);
}

/* ---- samples ---- */

/* The entry of a typed family base + suffix of one of the given types. */
static const struct name *typed_base(struct parser *ps, const struct name *e,
    const char *suffix, enum rbd_prom_type t1, enum rbd_prom_type t2)
{
	size_t sl = strlen(suffix);
	const struct name *b;

	if (e->len <= sl || memcmp(e->str + e->len - sl, suffix, sl) != 0)
		return NULL;
	b = name_find(ps, e->str, e->len - sl, "");
	if (!b || !b->typed || (b->type != t1 && b->type != t2))
		return NULL;
	return b;
}

/* Fix the family, type and role of samples named e (at its first sample).
 * Its own TYPE wins; then X_bucket, X_sum, X_count of a histogram X,
 * X_sum, X_count of a summary X, X_total of a counter X; else untyped. */
static void resolve(struct parser *ps, struct name *e)
{
	static const struct {
		const char *suffix;
		enum rbd_prom_type t1, t2;
		enum role role;
	} rules[] = {
		{ "_bucket", RBD_PROM_HISTOGRAM, RBD_PROM_HISTOGRAM, ROLE_BUCKET },
		{ "_sum", RBD_PROM_HISTOGRAM, RBD_PROM_SUMMARY, ROLE_SUM },
		{ "_count", RBD_PROM_HISTOGRAM, RBD_PROM_SUMMARY, ROLE_COUNT },
		{ "_total", RBD_PROM_COUNTER, RBD_PROM_COUNTER, ROLE_TOTAL },
	};

	e->s_type = e->typed ? e->type : RBD_PROM_UNTYPED;
	e->s_family = e->str;
	e->s_role = ROLE_PLAIN;
	if (e->typed)
		return;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const struct name *b = typed_base(ps, e, rules[i].suffix,
		    rules[i].t1, rules[i].t2);

		if (b) {
			e->s_type = b->type;
			e->s_family = b->str;
			e->s_role = rules[i].role;
			return;
		}
	}
}

/* Parse the quoted label value at c->p (after the '"') into the arena. */
static int label_value(struct parser *ps, struct cur *c, const char **ret)
{
	const char *s = c->p, *p;
	char *v, *o, q[QUOTE_MAX + 4];

	for (p = s; p < c->end && *p != '"'; p++) {
		if (*p != '\\')
			continue;
		if (++p == c->end)
			break;
		if (*p != '\\' && *p != '"' && *p != 'n')
			return fail(ps, -EINVAL, "invalid escape sequence '\\%s' in label value",
			    quote(q, p, 1));
	}
	if (p >= c->end)
		return fail(ps, -EINVAL, "unterminated label value");
	if (!(v = arena_alloc(ps->page, (size_t)(p - s) + 1, 1)))
		return -ENOMEM;
	for (o = v; s < p; s++)
		*o++ = *s == '\\' ? (*++s == 'n' ? '\n' : *s) : *s;
	*o = '\0';
	if (memchr(v, '\0', (size_t)(o - v)))
		return fail(ps, -EINVAL, "NUL byte in label value");
	if (!valid_utf8((const unsigned char *)v, (size_t)(o - v)))
		return fail(ps, -EINVAL, "invalid UTF-8 in label value");
	c->p = p + 1;
	*ret = v;
	return 0;
}

/* Parse one "name=\"value\"" into ps->labels[n]. */
static int label_pair(struct parser *ps, struct cur *c, size_t n)
{
	const char *s = c->p;
	char *name, q[QUOTE_MAX + 4];
	size_t len;

	while (c->p < c->end && is_label_char(*c->p))
		c->p++;
	len = (size_t)(c->p - s);
	while (c->p < c->end && strchr(" \t=,}\"", *c->p) == NULL)
		c->p++;
	if (c->p == s)
		return fail(ps, -EINVAL, "expected a label name");
	if (!valid_label_name(s, (size_t)(c->p - s)))
		return fail(ps, -EINVAL, "invalid label name '%s'",
		    quote(q, s, (size_t)(c->p - s)));
	if (len == 8 && memcmp(s, "__name__", 8) == 0)
		return fail(ps, -EINVAL, "reserved label name '__name__'");
	for (size_t i = 0; i < n; i++)
		if (strlen(ps->labels[i].name) == len &&
		    memcmp(ps->labels[i].name, s, len) == 0)
			return fail(ps, -EINVAL, "duplicate label '%.*s'", (int)len, s);
	if (n == RBD_PROM_LABELS_MAX)
		return fail(ps, -E2BIG, "more than %d labels", RBD_PROM_LABELS_MAX);
	if (!(name = arena_alloc(ps->page, len + 1, 1)))
		return -ENOMEM;
	memcpy(name, s, len);
	name[len] = '\0';
	ps->labels[n].name = name;
	skip_blanks(c);
	if (c->p == c->end || *c->p != '=')
		return fail(ps, -EINVAL, "expected '=' after label name '%s'", name);
	c->p++;
	skip_blanks(c);
	if (c->p == c->end || *c->p != '"')
		return fail(ps, -EINVAL, "expected '\"' to open the value of label '%s'",
		    name);
	c->p++;
	return label_value(ps, c, &ps->labels[n].value);
}

/* Parse "{...}" at c->p into ps->labels; the count in *ret_n. */
static int label_set(struct parser *ps, struct cur *c, size_t *ret_n)
{
	size_t n = 0;
	int r;

	c->p++;
	for (;;) {
		skip_blanks(c);
		if (c->p == c->end)
			return fail(ps, -EINVAL, "unterminated label set");
		if (*c->p == '}')
			break;
		if ((r = label_pair(ps, c, n)) < 0)
			return r;
		n++;
		skip_blanks(c);
		if (c->p < c->end && *c->p == ',')
			c->p++;
		else if (c->p == c->end || *c->p != '}')
			return fail(ps, -EINVAL, "expected ',' or '}' after label value");
	}
	c->p++;
	*ret_n = n;
	return 0;
}

/* The value of label name among ls[0..n), or NULL. */
static const char *find_label(const struct rbd_prom_label *ls, size_t n,
    const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ls[i].name, name) == 0)
			return ls[i].value;
	return NULL;
}

/* A histogram bucket needs a numeric "le", a summary's quantile sample a
 * numeric "quantile": the checks compute with them. */
static int check_family_labels(struct parser *ps, const struct name *e,
    size_t n)
{
	const char *want = NULL, *v;
	char q[QUOTE_MAX + 4];
	double d;

	if (e->s_type == RBD_PROM_HISTOGRAM && e->s_role == ROLE_BUCKET)
		want = "le";
	else if (e->s_type == RBD_PROM_SUMMARY && e->s_role == ROLE_PLAIN)
		want = "quantile";
	else if (e->s_type == RBD_PROM_HISTOGRAM && e->s_role == ROLE_PLAIN)
		return fail(ps, -EINVAL,
		    "histogram sample '%s' needs a _bucket, _sum or _count suffix", e->str);
	if (!want)
		return 0;
	if (!(v = find_label(ps->labels, n, want)))
		return fail(ps, -EINVAL, "%s sample without '%s' label",
		    rbd_prom_type_str(e->s_type), want);
	/* Strings from the arena end in NUL; no copy needed here. */
	if (!special_float(v, strlen(v), &d) && !decimal_syntax(v, strlen(v)))
		return fail(ps, -EINVAL, "invalid '%s' value '%s'", want,
		    quote(q, v, strlen(v)));
	return 0;
}

/* Value and optional timestamp after the name and labels. */
static int value_and_time(struct parser *ps, struct cur *c,
    struct rbd_prom_sample *s)
{
	const char *t;
	size_t n;
	char q[QUOTE_MAX + 4];
	int r;

	skip_blanks(c);
	if ((n = token(c, &t)) == 0)
		return fail(ps, -EINVAL, "missing value");
	if ((r = parse_float(ps, t, n, &s->value)) == -ENOMEM)
		return r;
	if (r < 0)
		return fail(ps, -EINVAL, "invalid value '%s'", quote(q, t, n));
	skip_blanks(c);
	if (c->p == c->end)
		return 0;
	n = token(c, &t);
	if (!parse_int64(t, n, &s->timestamp_ms))
		return fail(ps, -EINVAL, "invalid timestamp '%s'", quote(q, t, n));
	s->has_timestamp = true;
	skip_blanks(c);
	if (c->p != c->end)
		return fail(ps, -EINVAL, "unexpected text after timestamp");
	return 0;
}

/* Room for one more sample. */
static int samples_reserve(struct parser *ps)
{
	struct rbd_prom_page *pg = ps->page;
	struct rbd_prom_sample *s;
	size_t cap;

	if (pg->n_samples == RBD_PROM_SAMPLES_MAX)
		return fail(ps, -E2BIG, "more than %d samples", RBD_PROM_SAMPLES_MAX);
	if (pg->n_samples < pg->cap_samples)
		return 0;
	cap = pg->cap_samples * 2;
	if (cap > RBD_PROM_SAMPLES_MAX)
		cap = RBD_PROM_SAMPLES_MAX;
	s = realloc(pg->samples, cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	pg->samples = s;
	pg->cap_samples = cap;
	return 0;
}

/* The sample name at the start of the line, interned and resolved. */
static int sample_name(struct parser *ps, struct cur *c, struct name **ret)
{
	const char *s = c->p;
	struct name *e;
	int r;

	while (c->p < c->end && *c->p != ' ' && *c->p != '\t' && *c->p != '{')
		c->p++;
	if (!valid_metric_name(s, (size_t)(c->p - s)))
		return fail(ps, -EINVAL, "invalid metric name");
	if ((r = name_get(ps, s, (size_t)(c->p - s), &e)) < 0)
		return r;
	if (!e->has_samples) {
		resolve(ps, e);
		e->has_samples = true;
	}
	*ret = e;
	return 0;
}

/* A sample line: name, optional labels, value, optional timestamp. */
static int parse_sample(struct parser *ps, struct cur *c)
{
	struct rbd_prom_sample s = { 0 };
	struct rbd_prom_label *ls = NULL;
	struct name *e = NULL;
	size_t n = 0;
	int r;

	if ((r = samples_reserve(ps)) < 0 || (r = sample_name(ps, c, &e)) < 0)
		return r;
	skip_blanks(c);
	if (c->p < c->end && *c->p == '{' && (r = label_set(ps, c, &n)) < 0)
		return r;
	if ((r = value_and_time(ps, c, &s)) < 0 ||
	    (r = check_family_labels(ps, e, n)) < 0)
		return r;
	if (n > 0) {
		ls = arena_alloc(ps->page, n * sizeof(*ls), _Alignof(struct rbd_prom_label));
		if (!ls)
			return -ENOMEM;
		memcpy(ls, ps->labels, n * sizeof(*ls));
	}
	s.name = e->str;
	s.labels = ls;
	s.n_labels = n;
	s.type = e->s_type;
	s.family = e->s_family;
	ps->page->samples[ps->page->n_samples++] = s;
	return 0;
}

/* One line, without its '\n' (and '\r'). */
static int parse_line(struct parser *ps, const char *p, const char *end)
{
	struct cur c = { p, end };

	skip_blanks(&c);
	if (c.p == c.end)
		return 0;
	if (*c.p == '#')
		return parse_comment(ps, &c);
	return parse_sample(ps, &c);
}

/* Every line of buf. */
static int parse_lines(struct parser *ps, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	int r;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		ps->line++;
		if (le > p && le[-1] == '\r')
			le--;
		if ((size_t)(le - p) > RBD_PROM_LINE_MAX)
			return fail(ps, -E2BIG, "line longer than %d bytes",
			    RBD_PROM_LINE_MAX);
		if ((r = parse_line(ps, p, le)) < 0)
			return r;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* A new page sized for len bytes of input. */
static struct rbd_prom_page *page_new(size_t len)
{
	struct rbd_prom_page *pg = calloc(1, sizeof(*pg));
	size_t first = len + len / 2 + 1024;

	if (!pg)
		return NULL;
	/* One line holds at least 4 bytes ("a 1\n"); most are 40 or more. */
	pg->cap_samples = len / 48 + 16;
	if (pg->cap_samples > RBD_PROM_SAMPLES_MAX)
		pg->cap_samples = RBD_PROM_SAMPLES_MAX;
	pg->samples = malloc(pg->cap_samples * sizeof(*pg->samples));
	if (!pg->samples || !block_new(pg, first < BLOCK_FIRST_MAX ? first : BLOCK_FIRST_MAX)) {
		rbd_prom_page_free(pg);
		return NULL;
	}
	return pg;
}

int rbd_prom_parse(const char *buf, size_t len, struct rbd_prom_page **ret,
    char *errbuf, size_t errlen)
{
	struct parser ps = { .err = errbuf, .errlen = errlen };
	int r;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!ret || (!buf && len > 0))
		return -EINVAL;
	if (!buf)
		buf = "";
	ps.buf_end = buf + len;
	ps.page = page_new(len);
	r = ps.page ? table_grow(&ps) : -ENOMEM;
	if (r == 0)
		r = parse_lines(&ps, buf, len);
	free(ps.tab);
	if (r < 0) {
		if (r == -ENOMEM && errbuf && errlen)
			snprintf(errbuf, errlen, "out of memory");
		rbd_prom_page_free(ps.page);
		return r;
	}
	*ret = ps.page;
	return 0;
}

void rbd_prom_page_free(struct rbd_prom_page *p)
{
	struct block *b, *next;

	if (!p)
		return;
	for (b = p->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	free(p->samples);
	free(p);
}

size_t rbd_prom_page_count(const struct rbd_prom_page *p)
{
	return p ? p->n_samples : 0;
}

const struct rbd_prom_sample *rbd_prom_page_sample(const struct rbd_prom_page *p,
    size_t i)
{
	if (!p || i >= p->n_samples)
		return NULL;
	return &p->samples[i];
}

const char *rbd_prom_label(const struct rbd_prom_sample *s, const char *name)
{
	if (!s || !name)
		return NULL;
	return find_label(s->labels, s->n_labels, name);
}
