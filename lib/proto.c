/* The control protocol's requests: see proto.h.
 *
 * One table says which fields each command takes and which it requires;
 * parsing and formatting both follow it, so what rbd_request_format
 * writes, rbd_request_parse reads back unchanged. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "diag.h"
#include "proto.h"

/* A value from the peer quoted in a message: escaped, then cut to this
 * many bytes. The message is shown in terminals and logs. */
#define SHOW_MAX 64
#define SHOW_JSON_MAX 160	/* Jansson's own error text */
#define SHOW_BUF (SHOW_JSON_MAX + 4)
#define META_KEY_MAX 64

enum field {
	F_SERVICE,
	F_VERSION,
	F_META,
	F_WAIT,
	F_LIMIT,
	F_SCHEMA,
	F_MIGRATION,
	F_FOR,
	F_REASON,
	F_KEEP,
	_F_MAX,
};

#define S (1u << F_SERVICE)
#define V (1u << F_VERSION)
#define M (1u << F_META)
#define W (1u << F_WAIT)
#define L (1u << F_LIMIT)
#define SC (1u << F_SCHEMA)
#define MG (1u << F_MIGRATION)
#define FO (1u << F_FOR)
#define RE (1u << F_REASON)
#define KE (1u << F_KEEP)

static const char *const field_names[_F_MAX] = {
	[F_SERVICE] = "service",
	[F_VERSION] = "version",
	[F_META] = "meta",
	[F_WAIT] = "wait",
	[F_LIMIT] = "limit",
	[F_SCHEMA] = "schema",
	[F_MIGRATION] = "migration",
	[F_FOR] = "for_usec",
	[F_REASON] = "reason",
	[F_KEEP] = "keep",
};

/* Each command's name, the fields it takes and those it requires. */
static const struct {
	const char *name;
	unsigned allowed;
	unsigned required;
} cmds[_RBD_CMD_MAX] = {
	[RBD_CMD_DEPLOYED] = { "deployed", S | V | M | W | SC | MG, S | V },
	[RBD_CMD_STATUS] = { "status", S, 0 },
	[RBD_CMD_HISTORY] = { "history", S | L, S },
	[RBD_CMD_MARK_GOOD] = { "mark-good", S | V, S | V },
	[RBD_CMD_MARK_BAD] = { "mark-bad", S | V, S | V },
	[RBD_CMD_ROLLBACK] = { "rollback", S | V, S },
	[RBD_CMD_RELOAD] = { "reload", 0, 0 },
	[RBD_CMD_PAUSE] = { "pause", S | FO | RE, S },
	[RBD_CMD_RESUME] = { "resume", S, S },
	[RBD_CMD_DRILL] = { "drill", S | W, S },
	[RBD_CMD_DRILL_ABORT] = { "drill-abort", S, S },

	[RBD_CMD_PRUNE] = { "prune", S | KE, S },
};

/* Where a parse writes its message. */
struct perr {
	char *buf;
	size_t len;
};

const char *rbd_cmd_str(enum rbd_cmd c)
{
	if ((unsigned)c >= _RBD_CMD_MAX)
		return "unknown";
	return cmds[c].name;
}

int rbd_cmd_from_str(const char *s, enum rbd_cmd *ret)
{
	for (unsigned i = 0; s && i < _RBD_CMD_MAX; i++) {
		if (strcmp(cmds[i].name, s) == 0) {
			*ret = (enum rbd_cmd)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Fill the error message and return err. */
__attribute__((format(printf, 3, 4)))
static int fail(const struct perr *e, int err, const char *fmt, ...)
{
	va_list ap;

	if (e->buf && e->len) {
		va_start(ap, fmt);
		vsnprintf(e->buf, e->len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* A JSON string's value for a message. */
static const char *show_str(const json_t *v, char *buf)
{
	return rbd_show(json_string_value(v), json_string_length(v), buf, SHOW_MAX);
}

/* "an object", "a string", ... for "must be X, got Y". */
static const char *type_str(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

/* "'service' must be a string, got an integer". */
static int type_err(const struct perr *e, const char *name, const char *want,
    const json_t *v)
{
	return fail(e, -EPROTO, "'%s' must be %s, got %s", name, want, type_str(v));
}

/* A service name or release version, checked and copied to out. */
static int parse_name(const struct perr *e, const char *name, const json_t *v,
    bool is_version, char *out, size_t size)
{
	const char *s = json_string_value(v), *why = "is invalid";
	char buf[SHOW_BUF];

	if (!json_is_string(v))
		return type_err(e, name, "a string", v);
	if (strlen(s) != json_string_length(v) ||
	    (is_version ? rbd_version_check(s, &why) : rbd_service_check(s, &why)) < 0)
		return fail(e, -EINVAL, "invalid %s '%s': %s",
		    is_version ? "release version" : "service name",
		    show_str(v, buf), why);
	if (strlen(s) >= size)
		return fail(e, -EINVAL, "'%s' is too long", name);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

/* True if k is 1..64 characters of A-Z a-z 0-9 . _ - */
static bool meta_key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > META_KEY_MAX)
		return false;
	return strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n;
}

/* Check meta's keys and values, before it is serialised. */
static int check_meta(const struct perr *e, const json_t *v)
{
	char buf[SHOW_BUF];
	const char *k;
	json_t *x;

	if (!json_is_object(v))
		return type_err(e, "meta", "an object", v);
	if (json_object_size(v) > RBD_PROTO_META_KEYS)
		return fail(e, -EINVAL, "too many meta keys (%zu; at most %d)",
		    json_object_size(v), RBD_PROTO_META_KEYS);
	json_object_foreach((json_t *)v, k, x) {
		if (!meta_key_ok(k))
			return fail(e, -EINVAL, "invalid meta key '%s': must be"
			    " 1 to %d characters of A-Z a-z 0-9 . _ -",
			    rbd_show(k, strlen(k), buf, SHOW_MAX), META_KEY_MAX);
		if (!json_is_string(x))
			return fail(e, -EPROTO, "meta values must be strings"
			    " ('%s' is %s)", k, type_str(x));
	}
	return 0;
}

/* meta as compact JSON in *ret, NULL when empty. */
static int parse_meta(const struct perr *e, const json_t *v, char **ret)
{
	size_t n;
	char *s;
	int r;

	r = check_meta(e, v);
	if (r < 0)
		return r;
	if (json_object_size(v) == 0)
		return 0;
	s = json_dumps(v, JSON_COMPACT);
	if (!s)
		return fail(e, -ENOMEM, "out of memory");
	n = strlen(s);
	if (n > RBD_PROTO_META_MAX) {
		free(s);
		return fail(e, -EINVAL, "meta is too big (%zu bytes as JSON;"
		    " at most %d)", n, RBD_PROTO_META_MAX);
	}
	*ret = s;
	return 0;
}

/* history's limit: an integer in 1..RBD_PROTO_HISTORY_MAX. */
static int parse_limit(const struct perr *e, const json_t *v, size_t *ret)
{
	json_int_t n;

	if (!json_is_integer(v))
		return type_err(e, "limit", "an integer", v);
	n = json_integer_value(v);
	if (n < 1 || n > RBD_PROTO_HISTORY_MAX)
		return fail(e, -EINVAL, "'limit' must be between 1 and %d, got %lld",
		    RBD_PROTO_HISTORY_MAX, (long long)n);
	*ret = (size_t)n;
	return 0;
}

/* prune's keep: an integer in 0..RBD_PROTO_KEEP_MAX. */
static int parse_keep(const struct perr *e, const json_t *v,
    struct rbd_request *r)
{
	json_int_t n;

	if (!json_is_integer(v))
		return type_err(e, "keep", "an integer", v);
	n = json_integer_value(v);
	if (n < 0 || n > RBD_PROTO_KEEP_MAX)
		return fail(e, -EINVAL, "'keep' must be between 0 and %d, got %lld",
		    RBD_PROTO_KEEP_MAX, (long long)n);
	r->has_keep = true;
	r->keep = (unsigned)n;
	return 0;
}

/* deployed's schema: an integer in 0..RBD_SCHEMA_MAX. */
static int parse_schema(const struct perr *e, const json_t *v,
    struct rbd_request *r)
{
	json_int_t n;

	if (!json_is_integer(v))
		return type_err(e, "schema", "an integer", v);
	n = json_integer_value(v);
	if (n < 0 || n > RBD_SCHEMA_MAX)
		return fail(e, -EINVAL, "'schema' must be between 0 and %lld,"
		    " got %lld", (long long)RBD_SCHEMA_MAX, (long long)n);
	r->has_schema = true;
	r->schema = n;
	return 0;
}

/* deployed's migration: "none", "reversible" or "irreversible". */
static int parse_migration(const struct perr *e, const json_t *v,
    enum rbd_migration *ret)
{
	char buf[SHOW_BUF];

	if (!json_is_string(v))
		return type_err(e, "migration", "a string", v);
	if (strlen(json_string_value(v)) != json_string_length(v) ||
	    rbd_migration_from_str(json_string_value(v), ret) < 0)
		return fail(e, -EINVAL, "'migration' must be none, reversible"
		    " or irreversible, got '%s'", show_str(v, buf));
	return 0;
}

/* pause's for_usec: an integer in 1..RBD_PROTO_PAUSE_MAX. */
static int parse_for(const struct perr *e, const json_t *v, uint64_t *ret)
{
	json_int_t n;

	if (!json_is_integer(v))
		return type_err(e, "for_usec", "an integer", v);
	n = json_integer_value(v);
	if (n < 1 || (uint64_t)n > RBD_PROTO_PAUSE_MAX)
		return fail(e, -EINVAL, "'for_usec' must be between 1 and %llu"
		    " (30 days), got %lld",
		    (unsigned long long)RBD_PROTO_PAUSE_MAX, (long long)n);
	*ret = (uint64_t)n;
	return 0;
}

/* pause's reason: see rbd_proto_reason_check. */
static int parse_reason(const struct perr *e, const json_t *v, char *out,
    size_t size)
{
	const char *why = "is invalid";
	char buf[SHOW_BUF];

	if (!json_is_string(v))
		return type_err(e, "reason", "a string", v);
	if (rbd_proto_reason_check(json_string_value(v), json_string_length(v),
	    &why) < 0)
		return fail(e, -EINVAL, "invalid pause reason '%s': %s",
		    show_str(v, buf), why);
	if (json_string_length(v) >= size)
		return fail(e, -EINVAL, "'reason' is too long");
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* Field f's value v into r. */
static int parse_field(const struct perr *e, enum field f, const json_t *v,
    struct rbd_request *r)
{
	switch (f) {
	case F_SERVICE:
		return parse_name(e, "service", v, false, r->service,
		    sizeof(r->service));
	case F_VERSION:
		return parse_name(e, "version", v, true, r->version,
		    sizeof(r->version));
	case F_META:
		return parse_meta(e, v, &r->meta);
	case F_WAIT:
		if (!json_is_boolean(v))
			return type_err(e, "wait", "true or false", v);
		r->wait = json_is_true(v);
		return 0;
	case F_LIMIT:
		return parse_limit(e, v, &r->limit);
	case F_SCHEMA:
		return parse_schema(e, v, r);
	case F_MIGRATION:
		return parse_migration(e, v, &r->migration);
	case F_FOR:
		return parse_for(e, v, &r->for_usec);
	case F_REASON:
		return parse_reason(e, v, r->reason, sizeof(r->reason));
	case F_KEEP:
		return parse_keep(e, v, r);
	case _F_MAX:
		break;
	}
	return -EINVAL;
}

/* The field named k, or _F_MAX. */
static enum field field_from_str(const char *k)
{
	for (unsigned f = 0; f < _F_MAX; f++)
		if (strcmp(field_names[f], k) == 0)
			return (enum field)f;
	return _F_MAX;
}

/* The command named by root's "cmd". */
static int parse_cmd(const struct perr *e, const json_t *root,
    enum rbd_cmd *ret)
{
	const json_t *v = json_object_get(root, "cmd");
	char buf[SHOW_BUF];

	if (!v)
		return fail(e, -EPROTO, "missing 'cmd'");
	if (!json_is_string(v))
		return type_err(e, "cmd", "a string", v);
	if (strlen(json_string_value(v)) != json_string_length(v) ||
	    rbd_cmd_from_str(json_string_value(v), ret) < 0)
		return fail(e, -EPROTO, "unknown command '%s'", show_str(v, buf));
	return 0;
}

/* Refuse any field that cmd does not take. */
static int check_fields(const struct perr *e, const json_t *root,
    enum rbd_cmd cmd)
{
	char buf[SHOW_BUF];
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)root, k, v) {
		enum field f = field_from_str(k);

		if (strcmp(k, "cmd") == 0)
			continue;
		if (f == _F_MAX || !(cmds[cmd].allowed & (1u << f)))
			return fail(e, -EPROTO, "unknown field '%s' for %s",
			    rbd_show(k, strlen(k), buf, SHOW_MAX), cmds[cmd].name);
	}
	return 0;
}

/* A decoded request object into r (which the caller clears on failure). */
static int from_json(const struct perr *e, const json_t *root,
    struct rbd_request *r)
{
	int ret;

	if (!json_is_object(root))
		return fail(e, -EPROTO, "request must be a JSON object, got %s",
		    type_str(root));
	ret = parse_cmd(e, root, &r->cmd);
	if (ret < 0)
		return ret;
	ret = check_fields(e, root, r->cmd);
	if (ret < 0)
		return ret;
	if (r->cmd == RBD_CMD_HISTORY)
		r->limit = RBD_PROTO_HISTORY_DEFAULT;
	if (r->cmd == RBD_CMD_PRUNE)
		r->keep = RBD_PROTO_KEEP_DEFAULT;
	for (unsigned f = 0; f < _F_MAX; f++) {
		const json_t *v = json_object_get(root, field_names[f]);

		if (!(cmds[r->cmd].allowed & (1u << f)))
			continue;
		if (!v && (cmds[r->cmd].required & (1u << f)))
			return fail(e, -EPROTO, "missing '%s'", field_names[f]);
		if (!v)
			continue;
		ret = parse_field(e, (enum field)f, v, r);
		if (ret < 0)
			return ret;
	}
	/* How a schema changed means nothing without the schema. */
	if (json_object_get(root, "migration") && !r->has_schema)
		return fail(e, -EINVAL, "'migration' needs 'schema'");
	return 0;
}

/* True if s (len bytes) is only JSON whitespace. */
static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", s[i]) || s[i] == '\0')
			return false;
	return true;
}

int rbd_request_parse(const char *line, size_t len, struct rbd_request *ret,
    char *errbuf, size_t errlen)
{
	const struct perr e = { errbuf, errlen };
	struct rbd_request r = { 0 };
	char buf[SHOW_BUF];
	json_error_t jerr;
	json_t *root;
	int err;

	if (len > RBD_PROTO_LINE_MAX)
		return fail(&e, -EPROTO, "request line longer than %d bytes",
		    RBD_PROTO_LINE_MAX);
	if (!line || blank(line, len))
		return fail(&e, -EPROTO, "empty request");
	if (memchr(line, '\0', len))
		return fail(&e, -EPROTO, "request contains a NUL byte");
	root = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!root && json_error_code(&jerr) == json_error_out_of_memory)
		return fail(&e, -ENOMEM, "out of memory");
	if (!root && json_error_code(&jerr) == json_error_null_character)
		return fail(&e, -EPROTO, "not JSON: strings must not contain"
		    " \\u0000");
	if (!root)
		return fail(&e, -EPROTO, "not JSON: %s",
		    rbd_show(jerr.text, strlen(jerr.text), buf, SHOW_JSON_MAX));
	err = from_json(&e, root, &r);
	json_decref(root);
	if (err < 0) {
		rbd_request_clear(&r);
		return err;
	}
	*ret = r;
	return 0;
}

void rbd_request_clear(struct rbd_request *r)
{
	if (!r)
		return;
	free(r->meta);
	r->meta = NULL;
}

/* Set o[key] to v, taking v; false if v is NULL or on failure. */
static bool set(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

/* Add field f of r to o when r has it. */
static bool format_field(json_t *o, enum field f, const struct rbd_request *r)
{
	json_t *meta;

	switch (f) {
	case F_SERVICE:
		return !r->service[0] || set(o, "service", json_string(r->service));
	case F_VERSION:
		return !r->version[0] || set(o, "version", json_string(r->version));
	case F_META:
		if (!r->meta)
			return true;
		meta = json_loads(r->meta, 0, NULL);
		if (!json_is_object(meta)) {
			json_decref(meta);
			return false;
		}
		return set(o, "meta", meta);
	case F_WAIT:
		return !r->wait || set(o, "wait", json_true());
	case F_LIMIT:
		return !r->limit || set(o, "limit", json_integer((json_int_t)r->limit));
	case F_SCHEMA:
		return !r->has_schema || set(o, "schema", json_integer(r->schema));
	case F_MIGRATION:
		return r->migration == RBD_MIGRATION_NONE ||
		    set(o, "migration", json_string(rbd_migration_str(r->migration)));
	case F_FOR:
		return !r->for_usec || set(o, "for_usec",
		    json_integer((json_int_t)r->for_usec));
	case F_REASON:
		return !r->reason[0] || set(o, "reason", json_string(r->reason));
	case F_KEEP:
		return !r->has_keep || set(o, "keep", json_integer((json_int_t)r->keep));
	case _F_MAX:
		break;
	}
	return false;
}

char *rbd_request_format(const struct rbd_request *r)
{
	json_t *o;
	char *s = NULL;

	if (!r || (unsigned)r->cmd >= _RBD_CMD_MAX)
		return NULL;
	o = json_object();
	if (!o || !set(o, "cmd", json_string(cmds[r->cmd].name)))
		goto out;
	for (unsigned f = 0; f < _F_MAX; f++)
		if ((cmds[r->cmd].allowed & (1u << f)) &&
		    !format_field(o, (enum field)f, r))
			goto out;
	s = json_dumps(o, JSON_COMPACT);
out:
	json_decref(o);
	return s;
}

/* The length of the UTF-8 sequence at s (n bytes left), or 0 when it is
 * not a valid one: no overlong forms, no surrogates, nothing past
 * U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (s[0] == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f;		/* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;		/* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f;		/* past U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

_Static_assert(RBD_PROTO_REASON_MAX == 256, "the message says 256 bytes");

int rbd_proto_reason_check(const char *s, size_t len, const char **ret_why)
{
	const unsigned char *u = (const unsigned char *)s;
	const char *why = NULL;

	if (!s || len == 0)
		why = "is empty";
	else if (len > RBD_PROTO_REASON_MAX)
		why = "is longer than 256 bytes";
	for (size_t i = 0, n; !why && i < len; i += n) {
		n = utf8_seq(u + i, len - i);
		if (n == 0)
			why = "is not valid UTF-8";
		else if (u[i] < 0x20 || u[i] == 0x7f ||
		    (u[i] == 0xc2 && u[i + 1] < 0xa0))
			why = "contains a control character";	/* C0, DEL, C1 */
	}
	if (!why)
		return 0;
	if (ret_why)
		*ret_why = why;
	return -EINVAL;
}
