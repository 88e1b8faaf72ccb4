/* A small YAML document tree: see yamlnode.h.
 *
 * Why the event API (yaml_parser_parse) and not yaml_parser_load():
 * yaml_parser_load() builds libyaml's own document and follows aliases
 * while doing so, so a few hundred bytes of nested anchors ("billion
 * laughs") expand into gigabytes of nodes before we see any of them; and
 * it has no limit on nesting. Reading events ourselves, we see every
 * anchor, alias, tag and nesting level as it comes and refuse it there,
 * before anything is built from it. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "policy.h"
#include "yamlnode.h"

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

struct reader {
	const char *name;
	const char *buf;
	size_t len;
	struct rbd_diag *diag;
	yaml_parser_t parser;
	struct rbd_ynode *root;
	struct rbd_ynode *stack[RBD_POLICY_DEPTH_MAX];	/* open collections */
	size_t depth;
	unsigned docs;
	bool failed;		/* something was refused: the tree is not used */
};

/* One mapping key, for finding duplicates by sorting. */
struct key_ref {
	const struct rbd_ynode *key;
	size_t i;		/* pair index */
};

/* Report a refusal at a libyaml mark; parsing may go on to find more. */
static void refuse(struct reader *r, yaml_mark_t mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(struct reader *r, yaml_mark_t mark, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rbd_diag_vadd(r->diag, r->name, (unsigned)mark.line + 1,
	    (unsigned)mark.column + 1, fmt, ap);
	va_end(ap);
	r->failed = true;
}

/* Number of UTF-8 characters in s[0..len): columns count characters. */
static size_t utf8_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* The free-standing node, with no children and no value yet. */
static struct rbd_ynode *node_new(enum rbd_ynode_type type, yaml_mark_t mark)
{
	struct rbd_ynode *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->type = type;
	n->line = (unsigned)mark.line + 1;
	n->col = (unsigned)mark.column + 1;
	return n;
}

void rbd_ynode_free(struct rbd_ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_kids; i++)
		rbd_ynode_free(n->kids[i]);
	free(n->kids);
	free(n->value);
	free(n);
}

/* Append kid to parent's children. */
static int kid_add(struct rbd_ynode *parent, struct rbd_ynode *kid)
{
	if (parent->n_kids == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		struct rbd_ynode **k = realloc(parent->kids, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->n_kids++] = kid;
	return 0;
}

/* Hang a new node into the tree: as the root, a sequence item, or a
 * mapping key or value. On failure the node is freed. */
static int attach(struct reader *r, struct rbd_ynode *n, yaml_mark_t mark)
{
	struct rbd_ynode *parent;

	if (r->depth == 0) {
		r->root = n;
		return 0;
	}
	parent = r->stack[r->depth - 1];
	if (parent->type == RBD_YNODE_MAPPING && parent->n_kids % 2 == 0 &&
	    n->type != RBD_YNODE_SCALAR)
		refuse(r, mark, "mapping keys must be scalars");
	if (kid_add(parent, n) < 0) {
		rbd_ynode_free(n);
		return -ENOMEM;
	}
	return 0;
}

/* A tag as the user wrote it: "!!python/object", not the long form. */
static const char *tag_short(const char *tag, char *buf, size_t size)
{
	size_t plen = strlen(YAML_TAG_PREFIX);

	if (strncmp(tag, YAML_TAG_PREFIX, plen) != 0)
		return tag;
	snprintf(buf, size, "!!%s", tag + plen);
	return buf;
}

/* Check an explicit tag against the node it is on. Only the standard tags
 * that say what the schema expects anyway are allowed; anything else would
 * ask for a type we do not have, or for an object to be constructed. */
static enum rbd_ynode_tag tag_check(struct reader *r, const yaml_char_t *ytag,
    enum rbd_ynode_type type, yaml_mark_t mark)
{
	static const struct {
		const char *name;
		enum rbd_ynode_type type;
		enum rbd_ynode_tag tag;
	} known[] = {
		{ YAML_TAG_PREFIX "str", RBD_YNODE_SCALAR, RBD_YTAG_STR },
		{ YAML_TAG_PREFIX "int", RBD_YNODE_SCALAR, RBD_YTAG_INT },
		{ YAML_TAG_PREFIX "map", RBD_YNODE_MAPPING, RBD_YTAG_NONE },
		{ YAML_TAG_PREFIX "seq", RBD_YNODE_SEQUENCE, RBD_YTAG_NONE },
	};
	const char *tag = (const char *)ytag;
	char buf[128];

	if (!tag)
		return RBD_YTAG_NONE;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(tag, known[i].name) != 0)
			continue;
		if (known[i].type != type)
			refuse(r, mark, "tag %.64s cannot be used on a %s",
			    tag_short(tag, buf, sizeof(buf)),
			    type == RBD_YNODE_SCALAR ? "scalar" :
			    type == RBD_YNODE_MAPPING ? "mapping" : "sequence");
		return known[i].tag;
	}
	refuse(r, mark, "tags other than !!str, !!int, !!map and !!seq are "
	    "not supported (%.64s)", tag_short(tag, buf, sizeof(buf)));
	return RBD_YTAG_NONE;
}

/* Refuse an anchor: see the comment at the top of the file. */
static void anchor_check(struct reader *r, const yaml_char_t *anchor,
    yaml_mark_t mark)
{
	if (anchor)
		refuse(r, mark, "anchors and aliases are not supported (&%.64s)",
		    (const char *)anchor);
}

/* The column where a scalar's value starts in the source, if the source
 * text is the value itself on one line (no escape, fold or tag); else 0.
 * Lets messages point inside a scalar. */
static unsigned text_col(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t width = ev->end_mark.column - ev->start_mark.column;
	size_t quotes;

	if (ev->data.scalar.tag || ev->start_mark.line != ev->end_mark.line)
		return 0;
	switch (ev->data.scalar.style) {
	case YAML_PLAIN_SCALAR_STYLE:
		quotes = 0;
		break;
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		quotes = 2;
		break;
	default:
		return 0;
	}
	if (utf8_chars(v, ev->data.scalar.length) + quotes != width)
		return 0;
	return (unsigned)ev->start_mark.column + 1 + (quotes ? 1 : 0);
}

/* Our style for libyaml's. */
static enum rbd_ynode_style style_of(yaml_scalar_style_t s)
{
	switch (s) {
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
		return RBD_YNODE_SINGLE_QUOTED;
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		return RBD_YNODE_DOUBLE_QUOTED;
	case YAML_LITERAL_SCALAR_STYLE:
		return RBD_YNODE_LITERAL;
	case YAML_FOLDED_SCALAR_STYLE:
		return RBD_YNODE_FOLDED;
	default:
		return RBD_YNODE_PLAIN;
	}
}

/* A scalar event: a new scalar node in the tree. An oversized value is
 * refused and not copied. */
static int on_scalar(struct reader *r, const yaml_event_t *ev)
{
	size_t len = ev->data.scalar.length;
	struct rbd_ynode *n;

	anchor_check(r, ev->data.scalar.anchor, ev->start_mark);
	if (len > RBD_POLICY_SCALAR_MAX) {
		refuse(r, ev->start_mark, "scalar longer than %d bytes",
		    RBD_POLICY_SCALAR_MAX);
		len = 0;
	}
	n = node_new(RBD_YNODE_SCALAR, ev->start_mark);
	if (!n)
		return -ENOMEM;
	n->style = style_of(ev->data.scalar.style);
	n->tag = tag_check(r, ev->data.scalar.tag, n->type, ev->start_mark);
	n->len = len;
	n->value = malloc(len + 1);
	if (!n->value) {
		rbd_ynode_free(n);
		return -ENOMEM;
	}
	memcpy(n->value, ev->data.scalar.value, len);
	n->value[len] = '\0';
	n->text_col = len == ev->data.scalar.length ? text_col(ev) : 0;
	if (n->tag == RBD_YTAG_INT && rbd_ynode_kind(n) != RBD_YKIND_INT) {
		char t[80];

		refuse(r, ev->start_mark, "'%s' is not an integer (!!int)",
		    rbd_ynode_show(n, t, sizeof(t)));
	}
	return attach(r, n, ev->start_mark);
}

/* An alias is refused; a null scalar keeps its place so that parsing can
 * go on and report what else is wrong. */
static int on_alias(struct reader *r, const yaml_event_t *ev)
{
	struct rbd_ynode *n;

	refuse(r, ev->start_mark, "anchors and aliases are not supported (*%.64s)",
	    (const char *)ev->data.alias.anchor);
	n = node_new(RBD_YNODE_SCALAR, ev->start_mark);
	if (!n)
		return -ENOMEM;
	n->value = strdup("");
	if (!n->value) {
		rbd_ynode_free(n);
		return -ENOMEM;
	}
	return attach(r, n, ev->start_mark);
}

/* A sequence or mapping starts: a new node, and one level deeper. Going
 * past the limit stops the parse: there is no point in reading on. */
static int on_start(struct reader *r, const yaml_event_t *ev,
    enum rbd_ynode_type type)
{
	const yaml_char_t *anchor, *tag;
	struct rbd_ynode *n;
	int ret;

	if (r->depth == RBD_POLICY_DEPTH_MAX) {
		refuse(r, ev->start_mark, "nesting deeper than %d levels",
		    RBD_POLICY_DEPTH_MAX);
		return -EINVAL;
	}
	anchor = type == RBD_YNODE_MAPPING ? ev->data.mapping_start.anchor :
	    ev->data.sequence_start.anchor;
	tag = type == RBD_YNODE_MAPPING ? ev->data.mapping_start.tag :
	    ev->data.sequence_start.tag;
	anchor_check(r, anchor, ev->start_mark);
	tag_check(r, tag, type, ev->start_mark);
	n = node_new(type, ev->start_mark);
	if (!n)
		return -ENOMEM;
	ret = attach(r, n, ev->start_mark);
	if (ret < 0)
		return ret;
	r->stack[r->depth++] = n;
	return 0;
}

/* Order two scalars by their bytes. */
static int value_cmp(const struct rbd_ynode *a, const struct rbd_ynode *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->value, b->value, n);

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* Order keys by their bytes, then by position. */
static int key_cmp(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int c = value_cmp(x->key, y->key);

	if (c)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Report every duplicate key of mapping m, in file order. Sorting keeps
 * this O(n log n): a hostile file can hold a mapping of 100000 keys. */
static int dup_keys(struct reader *r, const struct rbd_ynode *m)
{
	size_t n = m->n_kids / 2, n_refs = 0;
	struct key_ref *refs;
	size_t *first;
	char t[80];

	if (n < 2)
		return 0;
	refs = calloc(n, sizeof(*refs));
	first = calloc(n, sizeof(*first));
	if (!refs || !first) {
		free(refs);
		free(first);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		first[i] = SIZE_MAX;
		if (m->kids[2 * i]->type == RBD_YNODE_SCALAR)
			refs[n_refs++] = (struct key_ref){ m->kids[2 * i], i };
	}
	qsort(refs, n_refs, sizeof(*refs), key_cmp);
	for (size_t i = 1, g = 0; i < n_refs; i++) {
		if (value_cmp(refs[i].key, refs[g].key) == 0)
			first[refs[i].i] = refs[g].i;
		else
			g = i;
	}
	for (size_t i = 0; i < n; i++) {
		const struct rbd_ynode *k = m->kids[2 * i];

		if (first[i] == SIZE_MAX)
			continue;
		rbd_diag_add(r->diag, r->name, k->line, k->col,
		    "duplicate key '%s' (first at line %u)",
		    rbd_ynode_show(k, t, sizeof(t)), m->kids[2 * first[i]]->line);
		r->failed = true;
	}
	free(refs);
	free(first);
	return 0;
}

/* A sequence or mapping ends: check a mapping's keys, one level up. */
static int on_end(struct reader *r)
{
	struct rbd_ynode *n = r->stack[--r->depth];

	if (n->type == RBD_YNODE_MAPPING)
		return dup_keys(r, n);
	return 0;
}

/* Handle one event. Returns 0 to go on, 1 at the end of the stream, or a
 * negative errno to stop. */
static int on_event(struct reader *r, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++r->docs > 1) {
			refuse(r, ev->start_mark, "more than one document");
			return -EINVAL;
		}
		return 0;
	case YAML_SCALAR_EVENT:
		return on_scalar(r, ev);
	case YAML_ALIAS_EVENT:
		return on_alias(r, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(r, ev, RBD_YNODE_SEQUENCE);
	case YAML_MAPPING_START_EVENT:
		return on_start(r, ev, RBD_YNODE_MAPPING);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(r);
	case YAML_STREAM_END_EVENT:
		return 1;
	default:
		return 0;
	}
}

/* Report libyaml's own error: "problem context" at the problem's mark.
 * Reader errors (bad encoding) only have a byte offset: count it out. */
static int syntax_error(struct reader *r)
{
	const yaml_parser_t *p = &r->parser;
	unsigned line = (unsigned)p->problem_mark.line + 1;
	unsigned col = (unsigned)p->problem_mark.column + 1;

	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (p->error == YAML_READER_ERROR) {
		size_t off = p->problem_offset < r->len ? p->problem_offset :
		    r->len;
		const char *nl = memrchr(r->buf, '\n', off);
		size_t bol = nl ? (size_t)(nl - r->buf) + 1 : 0;

		line = 1;
		for (size_t i = 0; i < bol; i++)
			line += r->buf[i] == '\n';
		col = (unsigned)utf8_chars(r->buf + bol, off - bol) + 1;
	}
	rbd_diag_add(r->diag, r->name, line, col, "%s%s%s",
	    p->problem ? p->problem : "syntax error",
	    p->context ? " " : "", p->context ? p->context : "");
	return -EINVAL;
}

/* Pull events until the end of the stream or a stop. */
static int read_events(struct reader *r)
{
	for (;;) {
		yaml_event_t ev;
		int ret;

		if (!yaml_parser_parse(&r->parser, &ev))
			return syntax_error(r);
		ret = on_event(r, &ev);
		yaml_event_delete(&ev);
		if (ret)
			return ret < 0 ? ret : 0;
	}
}

int rbd_ynode_parse(const char *name, const char *buf, size_t len,
    struct rbd_ynode **ret_root, struct rbd_diag *diag)
{
	struct reader r = { .name = name, .buf = buf ? buf : "", .len = len,
	    .diag = diag };
	int ret;

	if (len > RBD_POLICY_FILE_MAX) {
		rbd_diag_add(diag, name, 0, 0, "file is larger than %d bytes",
		    RBD_POLICY_FILE_MAX);
		return -EFBIG;
	}
	if (!yaml_parser_initialize(&r.parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&r.parser, (const unsigned char *)r.buf, len);
	ret = read_events(&r);
	yaml_parser_delete(&r.parser);
	if (ret == 0 && r.failed)
		ret = -EINVAL;
	if (ret < 0) {
		rbd_ynode_free(r.root);
		return ret;
	}
	*ret_root = r.root;
	return 0;
}

size_t rbd_ynode_count(const struct rbd_ynode *n)
{
	if (!n || n->type == RBD_YNODE_SCALAR)
		return 0;
	return n->type == RBD_YNODE_MAPPING ? n->n_kids / 2 : n->n_kids;
}

const struct rbd_ynode *rbd_ynode_get(const struct rbd_ynode *m,
    const char *key)
{
	size_t klen = strlen(key);

	if (!m || m->type != RBD_YNODE_MAPPING)
		return NULL;
	for (size_t i = 0; i + 1 < m->n_kids; i += 2) {
		const struct rbd_ynode *k = m->kids[i];

		if (k->type == RBD_YNODE_SCALAR && k->len == klen &&
		    memcmp(k->value, key, klen) == 0)
			return m->kids[i + 1];
	}
	return NULL;
}

/* [-+]?[0-9]+ */
static bool is_int(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (!*s)
		return false;
	return strspn(s, "0123456789") == strlen(s);
}

/* The core schema's floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
 * and the .inf/.nan words. */
static bool is_float(const char *s)
{
	static const char *const words[] = { ".inf", "-.inf", "+.inf", ".nan" };
	size_t digits;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	if (*s == '-' || *s == '+')
		s++;
	digits = strspn(s, "0123456789");
	s += digits;
	if (*s == '.') {
		size_t frac = strspn(s + 1, "0123456789");

		digits += frac;
		s += 1 + frac;
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!*s)
			return false;
		s += strspn(s, "0123456789");
	}
	return *s == '\0';
}

/* What a plain scalar's text means. */
static enum rbd_ynode_kind plain_kind(const char *s)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	static const char *const bools[] = {
		"true", "True", "TRUE", "false", "False", "FALSE",
	};

	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(s, nulls[i]) == 0)
			return RBD_YKIND_NULL;
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
		if (strcmp(s, bools[i]) == 0)
			return RBD_YKIND_BOOL;
	if (is_int(s))
		return RBD_YKIND_INT;
	if (is_float(s))
		return RBD_YKIND_FLOAT;
	return RBD_YKIND_STRING;
}

enum rbd_ynode_kind rbd_ynode_kind(const struct rbd_ynode *n)
{
	if (n->type == RBD_YNODE_SEQUENCE)
		return RBD_YKIND_SEQUENCE;
	if (n->type == RBD_YNODE_MAPPING)
		return RBD_YKIND_MAPPING;
	if (n->tag == RBD_YTAG_STR || strlen(n->value) != n->len)
		return RBD_YKIND_STRING;
	if (n->tag == RBD_YTAG_INT)
		return is_int(n->value) ? RBD_YKIND_INT : RBD_YKIND_STRING;
	if (n->style != RBD_YNODE_PLAIN)
		return RBD_YKIND_STRING;
	return plain_kind(n->value);
}

const char *rbd_ynode_kind_str(enum rbd_ynode_kind k)
{
	static const char *const names[_RBD_YKIND_MAX] = {
		[RBD_YKIND_NULL] = "null",
		[RBD_YKIND_BOOL] = "a boolean",
		[RBD_YKIND_INT] = "an integer",
		[RBD_YKIND_FLOAT] = "a float",
		[RBD_YKIND_STRING] = "a string",
		[RBD_YKIND_SEQUENCE] = "a sequence",
		[RBD_YKIND_MAPPING] = "a mapping",
	};

	if ((unsigned)k >= _RBD_YKIND_MAX)
		return "something else";
	return names[k];
}

const char *rbd_ynode_show(const struct rbd_ynode *n, char *buf, size_t size)
{
	size_t max = size - 4, o = 0, i;

	for (i = 0; i < n->len && o < max; i++) {
		unsigned char c = (unsigned char)n->value[i];

		buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (i < n->len) {
		while (o && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
			o--;	/* do not cut a character in half */
		if (o && (unsigned char)buf[o - 1] >= 0xc0)
			o--;
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

unsigned rbd_ynode_col_at(const struct rbd_ynode *n, size_t off)
{
	if (!n->text_col || off > n->len)
		return n->col;
	return n->text_col + (unsigned)utf8_chars(n->value, off);
}
