/* Series selectors as PromQL writes them: see selector.h.
 *
 * Grammar (blanks allowed between tokens):
 *   selector := name [ "{" [ matcher { "," matcher } [ "," ] ] "}" ]
 *   matcher  := label ( "=" | "!=" | "=~" | "!~" ) string
 *   string   := "..." | '...' (escapes \\ \" \' \n \t) | `...` (raw)
 * Regular expressions are compiled as "^(" re ")$", POSIX extended. */
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "selector.h"

#define MATCHERS_MAX	RBD_PROM_LABELS_MAX
#define SELECTOR_MAX	4096	/* bytes of selector text */
#define RE_DEPTH_MAX	32	/* nested groups in a regex */
#define RE_SIZE_MAX	10000	/* regex tree nodes, repetitions expanded */
/* What an optional copy ('?', '*', each copy past m in "{m,n}") counts
 * for in RE_SIZE_MAX: glibc's epsilon closures over a run of them grow
 * with the square of its length ("a{0,9999}" takes 1.5 GB). */
#define RE_OPTIONAL_COST 10
/* Zero-width assertions (^ $ \b \B \< \> \` \'): a run of them costs
 * glibc the cube of its length ("\b" 50 times takes 650 MB), and each
 * multiplies what a run of optional parts costs, so it counts for much. */
#define RE_ANCHORS_MAX	10
#define RE_ANCHOR_COST	1000

enum op {
	OP_EQ,
	OP_NE,
	OP_RE,
	OP_NRE,
};

static const char *const op_str[] = {
	[OP_EQ] = "=",
	[OP_NE] = "!=",
	[OP_RE] = "=~",
	[OP_NRE] = "!~",
};

struct matcher {
	char *label;
	char *value;
	enum op op;
	bool compiled;
	regex_t re;
};

struct rbd_selector {
	char *name;
	char *str;
	struct matcher m[MATCHERS_MAX];
	size_t n;
};

/* A regular expression quoted in an error: escaped, cut to this many bytes. */
#define REGEX_SHOW_MAX 64

/* The parse in progress. */
struct sp {
	const char *s;		/* the whole text, for columns */
	const char *p;
	struct rbd_selector *sel;
	unsigned col;		/* of the error */
	char *err;
	size_t errlen;
};

/* Record an error at column (at - s) + 1 and return -EINVAL. */
static int fail(struct sp *sp, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct sp *sp, const char *at, const char *fmt, ...)
{
	va_list ap;

	sp->col = (unsigned)(at - sp->s) + 1;
	if (sp->err && sp->errlen) {
		va_start(ap, fmt);
		vsnprintf(sp->err, sp->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Skip blanks. */
static void skip_space(struct sp *sp)
{
	while (*sp->p == ' ' || *sp->p == '\t' || *sp->p == '\n' || *sp->p == '\r')
		sp->p++;
}

/* Whether c may start a label name. */
static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Whether c may continue a label name. */
static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

/* A copy of s[0..n), or NULL. */
static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* The metric name at sp->p. */
static int parse_name(struct sp *sp)
{
	const char *s = sp->p;

	if (!is_name_start(*s) && *s != ':')
		return fail(sp, s, "expected a metric name");
	while (is_name_char(*sp->p) || *sp->p == ':')
		sp->p++;
	sp->sel->name = dup_n(s, (size_t)(sp->p - s));
	return sp->sel->name ? 0 : -ENOMEM;
}

/* The character an escape "\c" stands for inside quotes, or -1. */
static int unescape(char c)
{
	switch (c) {
	case '\\': case '"': case '\'':
		return c;
	case 'n':
		return '\n';
	case 't':
		return '\t';
	default:
		return -1;
	}
}

/* Scan the quoted string at sp->p: its end (the closing quote). */
static int scan_string(struct sp *sp, const char **ret_end)
{
	const char *open = sp->p, *p = open + 1;
	char q = *open;

	for (; *p && *p != q; p++) {
		if (*p != '\\' || q == '`')
			continue;
		if (!p[1])
			return fail(sp, open, "unterminated label value");
		if (unescape(p[1]) < 0)
			return fail(sp, p, "invalid escape sequence '\\%c'",
			    p[1] >= 0x20 && p[1] < 0x7f ? p[1] : '?');
		p++;
	}
	if (!*p)
		return fail(sp, open, "unterminated label value");
	*ret_end = p;
	return 0;
}

/* The quoted string at sp->p, unescaped, into *ret. */
static int parse_string(struct sp *sp, char **ret)
{
	const char *open = sp->p, *end = NULL, *s;
	char *v, *o;
	int r;

	if (*open != '"' && *open != '\'' && *open != '`')
		return fail(sp, open, "expected a quoted label value");
	if ((r = scan_string(sp, &end)) < 0)
		return r;
	if (!(v = malloc((size_t)(end - open))))
		return -ENOMEM;
	for (s = open + 1, o = v; s < end; s++)
		*o++ = (*s == '\\' && *open != '`') ? (char)unescape(*++s) : *s;
	*o = '\0';
	sp->p = end + 1;
	*ret = v;
	return 0;
}

/* The matcher operator at sp->p. */
static int parse_op(struct sp *sp, enum op *ret)
{
	/* Two-character operators first: "=~" before "=". */
	static const enum op order[] = { OP_NE, OP_RE, OP_NRE, OP_EQ };

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		size_t n = strlen(op_str[order[i]]);

		if (strncmp(sp->p, op_str[order[i]], n) == 0) {
			sp->p += n;
			*ret = order[i];
			return 0;
		}
	}
	return fail(sp, sp->p, "expected a matcher operator (=, !=, =~ or !~)");
}

/* Skip the bracket expression starting at s[i] ('['); the index after it,
 * or n when it does not end (regcomp will say so). */
static size_t skip_bracket(const char *s, size_t i, size_t n)
{
	size_t j = i + 1;

	if (j < n && s[j] == '^')
		j++;
	if (j < n && s[j] == ']')
		j++;
	while (j < n && s[j] != ']') {
		if (s[j] == '[' && j + 1 < n && strchr(":.=", s[j + 1])) {
			const char *close = strstr(s + j + 2, (char[]){ s[j + 1], ']', 0 });

			if (!close)
				return n;
			j = (size_t)(close - s) + 2;
		} else {
			j++;
		}
	}
	return j < n ? j + 1 : n;
}

/* a * b, or RE_SIZE_MAX + 1 when larger. */
static size_t sat_mul(size_t a, size_t b)
{
	return (b && a > (RE_SIZE_MAX + 1) / b) ? RE_SIZE_MAX + 1 : a * b;
}

/* The length of the interval "{m}", "{m,}" or "{m,n}" at s (0 when s
 * does not start one), its m and its n ("{m,}": m + 1, as glibc makes m
 * copies and a starred one). */
static size_t interval(const char *s, size_t *ret_m, size_t *ret_n)
{
	size_t i = 1, m = 0, n;

	if (s[i] < '0' || s[i] > '9')
		return 0;
	for (; s[i] >= '0' && s[i] <= '9'; i++)
		m = sat_mul(m, 10) + (size_t)(s[i] - '0');
	n = m;
	if (s[i] == ',') {
		n = m + 1;
		if (s[++i] >= '0' && s[i] <= '9')
			for (n = 0; s[i] >= '0' && s[i] <= '9'; i++)
				n = sat_mul(n, 10) + (size_t)(s[i] - '0');
	}
	if (s[i] != '}')
		return 0;
	*ret_m = m;
	*ret_n = n;
	return i + 1;
}

/* a + b, or RE_SIZE_MAX + 1 when larger. */
static size_t sat_add(size_t a, size_t b)
{
	return a + b > RE_SIZE_MAX ? RE_SIZE_MAX + 1 : a + b;
}

/* The size of the regex tree as glibc expands it, counted per group, and
 * what can match the empty string. */
struct re_size {
	size_t sum[RE_DEPTH_MAX + 1];	/* of the group so far */
	size_t last[RE_DEPTH_MAX + 1];	/* of its last element */
	bool last_empty[RE_DEPTH_MAX + 1]; /* that element can match "" */
	bool alt_empty[RE_DEPTH_MAX + 1]; /* the alternative so far can */
	bool alt_before[RE_DEPTH_MAX + 1]; /* ... before the last element */
	bool group_empty[RE_DEPTH_MAX + 1]; /* an earlier alternative can */
	int depth;
	unsigned anchors;
	bool after_rep;			/* the last token was a repetition */
	bool lazy;			/* ... followed by a '?' already */
};

/* Account for a repetition of the last element making copies of it, of
 * which optional ones may be left out, and none need be when empty_ok. */
static const char *re_repeat(struct re_size *z, char c, size_t copies,
    size_t optional, bool empty_ok)
{
	int d = z->depth;

	if (z->after_rep && (c != '?' || z->lazy))
		return "nested repetition operator";
	if (z->after_rep) {
		/* "*?", "+?": non-greedy in RE2, the same matches here. */
		z->lazy = true;
		return NULL;
	}
	/* "(a?)*", "(a|)+", "(){100}": glibc's time or memory grows
	 * exponentially with a run of these, and they match nothing that
	 * the expression without the repetition would not. */
	if (z->last_empty[d])
		return "repetition of an expression that can match the empty string";
	z->after_rep = true;
	z->lazy = false;
	z->sum[d] += sat_mul(z->last[d], copies - 1);
	z->last[d] = sat_mul(z->last[d], copies);
	z->sum[d] = sat_add(z->sum[d], sat_mul(optional, RE_OPTIONAL_COST));
	z->last[d] = sat_add(z->last[d], sat_mul(optional, RE_OPTIONAL_COST));
	if (empty_ok) {
		z->last_empty[d] = true;
		z->alt_empty[d] = z->alt_before[d];
	}
	return z->sum[d] > RE_SIZE_MAX ? "too large once repetitions are expanded" : NULL;
}

/* Account for an element of size n that can match the empty string or
 * not; NULL or what is wrong. */
static const char *re_element(struct re_size *z, size_t n, bool empty)
{
	int d = z->depth;

	z->after_rep = false;
	z->sum[d] = sat_add(z->sum[d], n);
	z->last[d] = n;
	z->last_empty[d] = empty;
	z->alt_before[d] = z->alt_empty[d];
	z->alt_empty[d] = z->alt_empty[d] && empty;
	return z->sum[d] > RE_SIZE_MAX ? "too large once repetitions are expanded" : NULL;
}

_Static_assert(RE_ANCHORS_MAX == 10, "the message says 10");

/* Account for a zero-width assertion. */
static const char *re_anchor(struct re_size *z)
{
	if (++z->anchors > RE_ANCHORS_MAX)
		return "more than 10 anchors (^ $ \\b \\B \\< \\> \\` \\')";
	return re_element(z, RE_ANCHOR_COST, true);
}

/* Start a group or an alternative of the group at z->depth. */
static void re_alternative(struct re_size *z)
{
	int d = z->depth;

	z->last[d] = 0;
	z->last_empty[d] = false;
	z->alt_empty[d] = z->alt_before[d] = true;
	z->after_rep = false;
}

/* Account for the token at re[*i] and move past it. */
static const char *re_token(struct re_size *z, const char *re, size_t n,
    size_t *i)
{
	size_t m = 0, hi = 0, k, inner;
	char c = re[*i];
	bool empty;

	if (c == '*' || c == '?' || c == '+') {
		(*i)++;
		return re_repeat(z, c, c == '+' ? 2 : 1, 1, c != '+');
	}
	if (c == '{' && (k = interval(re + *i, &m, &hi)) > 0) {
		*i += k;
		return re_repeat(z, c, hi > m ? hi : m, hi > m ? hi - m : 0, m == 0);
	}
	if (c == '(') {
		if (z->depth == RE_DEPTH_MAX)
			return "nested too deeply";
		z->depth++;
		z->sum[z->depth] = 0;
		z->group_empty[z->depth] = false;
		re_alternative(z);
		(*i)++;
		return NULL;
	}
	if (c == ')') {
		/* glibc takes a lone ')' as a literal, which would break out
		 * of the "^(...)$" wrapper and lose the anchoring. */
		if (z->depth == 0)
			return "unmatched ')'";
		inner = z->sum[z->depth];
		empty = z->group_empty[z->depth] || z->alt_empty[z->depth];
		z->depth--;
		(*i)++;
		return re_element(z, inner ? inner : 1, empty);
	}
	if (c == '|') {
		z->group_empty[z->depth] |= z->alt_empty[z->depth];
		re_alternative(z);
		(*i)++;
		return NULL;
	}
	if (c == '\\' && re[*i + 1] >= '1' && re[*i + 1] <= '9')
		return "backreferences are not supported";
	if (c == '^' || c == '$' ||
	    (c == '\\' && re[*i + 1] && strchr("bB<>`'", re[*i + 1]))) {
		*i += c == '\\' ? 2 : 1;
		return re_anchor(z);
	}
	if (c == '\\')
		*i = *i + 2 < n ? *i + 2 : n;
	else if (c == '[')
		*i = skip_bracket(re, *i, n);
	else
		(*i)++;
	return re_element(z, 1, false);
}

/* What makes re unfit for "^(" re ")$" under glibc, or NULL: a lone ')',
 * what RE2 (PromQL's engine) refuses too (nested repetitions like "a++",
 * backreferences), repetitions that glibc would expand into a huge tree
 * ("(a{1000}){1000}"; each '+' doubles its operand), and what takes glibc
 * gigabytes or minutes to compile although RE2 takes it: repetitions of
 * what can match the empty string, long runs of optional parts or of
 * anchors (found by the fuzzer: "((){100}){099}" took 3 GB). */
static const char *vet_regex(const char *re)
{
	struct re_size z = { .depth = 0 };
	size_t i = 0, n = strlen(re);
	const char *why = NULL;

	re_alternative(&z);
	while (i < n && !why)
		why = re_token(&z, re, n, &i);
	return why;
}

/* Compile m's regular expression, fully anchored. */
static int compile(struct sp *sp, const char *at, struct matcher *m)
{
	const char *why = vet_regex(m->value);
	size_t n = strlen(m->value);
	char *full, msg[128], shown[REGEX_SHOW_MAX + 4];
	int r;

	/* The value is unescaped: it may hold a newline or an escape
	 * sequence for the terminal that shows the error. */
	rbd_show(m->value, n, shown, REGEX_SHOW_MAX);
	if (why)
		return fail(sp, at, "invalid regular expression '%s': %s", shown, why);
	if (!(full = malloc(n + 5)))
		return -ENOMEM;
	snprintf(full, n + 5, "^(%s)$", m->value);
	r = regcomp(&m->re, full, REG_EXTENDED | REG_NOSUB);
	free(full);
	if (r == REG_ESPACE)
		return -ENOMEM;
	if (r != 0) {
		regerror(r, &m->re, msg, sizeof(msg));
		return fail(sp, at, "invalid regular expression '%s': %s", shown, msg);
	}
	m->compiled = true;
	return 0;
}

/* One matcher at sp->p into sel->m[sel->n]. */
static int parse_matcher(struct sp *sp)
{
	struct rbd_selector *sel = sp->sel;
	struct matcher *m = &sel->m[sel->n];
	const char *s = sp->p, *value_at;
	int r;

	if (sel->n == MATCHERS_MAX)
		return fail(sp, s, "more than %d matchers", MATCHERS_MAX);
	if (!is_name_start(*s))
		return fail(sp, s, "expected a label name or '}'");
	while (is_name_char(*sp->p))
		sp->p++;
	if (sp->p - s == 8 && strncmp(s, "__name__", 8) == 0)
		return fail(sp, s, "write the metric name before '{', not as __name__");
	if (!(m->label = dup_n(s, (size_t)(sp->p - s))))
		return -ENOMEM;
	sel->n++;	/* from here on, free() owns what m holds */
	skip_space(sp);
	if ((r = parse_op(sp, &m->op)) < 0)
		return r;
	skip_space(sp);
	value_at = sp->p;
	if ((r = parse_string(sp, &m->value)) < 0)
		return r;
	if (m->op == OP_RE || m->op == OP_NRE)
		return compile(sp, value_at, m);
	return 0;
}

/* "{" matchers "}" at sp->p. */
static int parse_matchers(struct sp *sp)
{
	int r;

	sp->p++;
	for (;;) {
		skip_space(sp);
		if (*sp->p == '}')
			break;
		if ((r = parse_matcher(sp)) < 0)
			return r;
		skip_space(sp);
		if (*sp->p == ',')
			sp->p++;
		else if (*sp->p != '}')
			return fail(sp, sp->p, "expected ',' or '}'");
	}
	sp->p++;
	return 0;
}

/* Append s to the buffer at *o, escaping as a double-quoted string. */
static char *put_quoted(char *o, const char *s)
{
	*o++ = '"';
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			*o++ = '\\', *o++ = *s;
		else if (*s == '\n')
			*o++ = '\\', *o++ = 'n';
		else if (*s == '\t')
			*o++ = '\\', *o++ = 't';
		else
			*o++ = *s;
	}
	*o++ = '"';
	return o;
}

/* Build sel->str: name{a="x",b=~"y"}, or name alone. */
static int build_str(struct rbd_selector *sel)
{
	size_t len = strlen(sel->name) + 3;
	char *o;

	for (size_t i = 0; i < sel->n; i++)
		len += strlen(sel->m[i].label) + 2 * strlen(sel->m[i].value) + 6;
	if (!(sel->str = malloc(len)))
		return -ENOMEM;
	o = stpcpy(sel->str, sel->name);
	for (size_t i = 0; i < sel->n; i++) {
		*o++ = i == 0 ? '{' : ',';
		o = stpcpy(o, sel->m[i].label);
		o = stpcpy(o, op_str[sel->m[i].op]);
		o = put_quoted(o, sel->m[i].value);
	}
	if (sel->n > 0)
		*o++ = '}';
	*o = '\0';
	return 0;
}

/* The whole selector at sp->p. */
static int parse_all(struct sp *sp)
{
	int r;

	if (strlen(sp->s) > SELECTOR_MAX)
		return fail(sp, sp->s + SELECTOR_MAX, "longer than %d bytes", SELECTOR_MAX);
	skip_space(sp);
	if ((r = parse_name(sp)) < 0)
		return r;
	skip_space(sp);
	if (*sp->p == '{' && (r = parse_matchers(sp)) < 0)
		return r;
	skip_space(sp);
	if (*sp->p)
		return fail(sp, sp->p, "unexpected '%c' after the selector",
		    *sp->p >= 0x20 && *sp->p < 0x7f ? *sp->p : '?');
	return build_str(sp->sel);
}

int rbd_selector_parse(const char *s, struct rbd_selector **ret,
    unsigned *ret_col, char *errbuf, size_t errlen)
{
	struct sp sp = { .s = s, .p = s, .err = errbuf, .errlen = errlen };
	int r;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!s || !ret)
		return -EINVAL;
	if (!(sp.sel = calloc(1, sizeof(*sp.sel))))
		return -ENOMEM;
	r = parse_all(&sp);
	if (r < 0) {
		rbd_selector_free(sp.sel);
		if (r == -EINVAL && ret_col)
			*ret_col = sp.col;
		if (r == -ENOMEM && errbuf && errlen)
			snprintf(errbuf, errlen, "out of memory");
		return r;
	}
	*ret = sp.sel;
	return 0;
}

void rbd_selector_free(struct rbd_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++) {
		free(sel->m[i].label);
		free(sel->m[i].value);
		if (sel->m[i].compiled)
			regfree(&sel->m[i].re);
	}
	free(sel->name);
	free(sel->str);
	free(sel);
}

const char *rbd_selector_name(const struct rbd_selector *sel)
{
	return sel ? sel->name : NULL;
}

const char *rbd_selector_str(const struct rbd_selector *sel)
{
	return sel ? sel->str : NULL;
}

/* Whether name is sel's name followed by suffix (or exactly it). */
static bool name_matches(const struct rbd_selector *sel, const char *name,
    const char *suffix)
{
	size_t n = strlen(sel->name);

	if (strncmp(name, sel->name, n) != 0)
		return false;
	return strcmp(name + n, suffix ? suffix : "") == 0;
}

/* Whether one matcher holds for value v. */
static bool matcher_holds(const struct matcher *m, const char *v)
{
	switch (m->op) {
	case OP_EQ:
		return strcmp(v, m->value) == 0;
	case OP_NE:
		return strcmp(v, m->value) != 0;
	case OP_RE:
		return regexec(&m->re, v, 0, NULL, 0) == 0;
	case OP_NRE:
		return regexec(&m->re, v, 0, NULL, 0) != 0;
	}
	return false;
}

bool rbd_selector_match(const struct rbd_selector *sel,
    const struct rbd_prom_sample *s, const char *name_suffix)
{
	if (!sel || !s || !name_matches(sel, s->name, name_suffix))
		return false;
	for (size_t i = 0; i < sel->n; i++) {
		const char *v = rbd_prom_label(s, sel->m[i].label);

		if (!matcher_holds(&sel->m[i], v ? v : ""))
			return false;
	}
	return true;
}
