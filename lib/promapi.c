/* The Prometheus HTTP API's answer to an instant query, and its URL. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "promapi.h"

/* Bytes of a value, type or body quoted in a message: enough to recognise
 * it, never enough to crowd out the rest of the message. */
#define QUOTE_MAX	64

/* Fill r: status and a formatted reason. */
static void set_result(struct rbd_metric_result *r,
    enum rbd_metric_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_result(struct rbd_metric_result *r,
    enum rbd_metric_status status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	r->value = 0;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

/* Copy at most max bytes of src into dst (size > 3) for a message: control
 * characters become '?' (and, unless utf8, every non-ASCII byte too); a cut
 * never splits a UTF-8 sequence and ends in "...". Returns dst. */
static char *quote(char *dst, size_t size, const char *src, size_t len,
    size_t max, bool utf8)
{
	size_t n = len, i;

	if (max > size - 1)
		max = size - 1;
	if (n > max) {
		n = max - 3;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c == 0x7f || (!utf8 && c >= 0x80) ?
		    '?' : (char)c;
	}
	if (n < len) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
	return dst;
}

/* A JSON string's value quoted for a message. */
static char *quote_json(char *dst, size_t size, const json_t *s, size_t max)
{
	return quote(dst, size, json_string_value(s), json_string_length(s),
	    max, true);
}

/* One sample [<unix time>, "<value>"]: a value, NaN as no data. */
static void parse_sample(const json_t *sample, struct rbd_metric_result *r)
{
	const json_t *s = json_array_get(sample, 1);
	char q[QUOTE_MAX + 1];
	const char *str;
	char *end;
	double v;

	if (!json_is_array(sample) || json_array_size(sample) != 2 ||
	    !json_is_number(json_array_get(sample, 0)) || !json_is_string(s)) {
		set_result(r, RBD_METRIC_ERROR, "unexpected response: a sample "
		    "is not [<time>, \"<value>\"]");
		return;
	}
	str = json_string_value(s);
	/* Prometheus writes +Inf, -Inf, NaN, or a decimal number; strtod
	 * reads them all (and would skip leading blanks, which it must not). */
	v = strtod(str, &end);
	if (end == str || (size_t)(end - str) != json_string_length(s) ||
	    isspace((unsigned char)*str)) {
		set_result(r, RBD_METRIC_ERROR, "unexpected response: value "
		    "\"%s\" is not a number", quote_json(q, sizeof(q), s, 32));
		return;
	}
	if (isnan(v)) {
		set_result(r, RBD_METRIC_NO_DATA, "query result is NaN");
		return;
	}
	set_result(r, RBD_METRIC_VALUE, "%s", quote_json(q, sizeof(q), s,
	    QUOTE_MAX));
	r->value = v;
}

/* An instant vector: exactly one series is a value. */
static void parse_vector(const json_t *result, struct rbd_metric_result *r)
{
	const json_t *series = json_array_get(result, 0);
	size_t n = json_array_size(result);

	if (!json_is_array(result))
		set_result(r, RBD_METRIC_ERROR, "unexpected response: "
		    "\"data.result\" of a vector is not an array");
	else if (n == 0)
		set_result(r, RBD_METRIC_NO_DATA, "query returned no series");
	else if (n > 1)
		set_result(r, RBD_METRIC_ERROR, "query returned %zu series; "
		    "aggregate it to one, e.g. sum(...) or max(...)", n);
	else if (!json_is_object(series))
		set_result(r, RBD_METRIC_ERROR, "unexpected response: a series "
		    "is not an object");
	else
		parse_sample(json_object_get(series, "value"), r);
}

/* "data": its resultType decides how "result" reads. */
static void parse_data(const json_t *data, struct rbd_metric_result *r)
{
	const json_t *type = json_object_get(data, "resultType");
	const json_t *result = json_object_get(data, "result");
	char q[QUOTE_MAX + 1];
	const char *t;

	if (!json_is_object(data) || !json_is_string(type)) {
		set_result(r, RBD_METRIC_ERROR, "unexpected response: no "
		    "\"data.resultType\"");
		return;
	}
	t = json_string_value(type);
	if (strcmp(t, "vector") == 0)
		parse_vector(result, r);
	else if (strcmp(t, "scalar") == 0)
		parse_sample(result, r);
	else if (strcmp(t, "matrix") == 0 || strcmp(t, "string") == 0)
		set_result(r, RBD_METRIC_ERROR, "query returned a %s; use an "
		    "instant vector or scalar query", t);
	else
		set_result(r, RBD_METRIC_ERROR, "unexpected response: "
		    "resultType \"%s\"", quote_json(q, sizeof(q), type, 32));
}

/* An error answer: Prometheus's own words ("bad_data: parse error ..."). */
static void parse_error(const json_t *root, struct rbd_metric_result *r)
{
	const json_t *type = json_object_get(root, "errorType");
	const json_t *msg = json_object_get(root, "error");
	char t[QUOTE_MAX + 1], m[RBD_METRIC_WHY_MAX];

	if (json_is_string(type))
		quote_json(t, sizeof(t), type, 32);
	else
		strcpy(t, "error");
	if (json_is_string(msg))
		quote_json(m, sizeof(m), msg, sizeof(m) - 1 -
		    strlen("prometheus: : ") - strlen(t));
	else
		strcpy(m, "(no message)");
	set_result(r, RBD_METRIC_ERROR, "prometheus: %s: %s", t, m);
}

/* The parsed document: success, error, or something else. */
static void parse_root(const json_t *root, struct rbd_metric_result *r)
{
	const json_t *status = json_object_get(root, "status");
	char q[QUOTE_MAX + 1];

	if (!json_is_object(root))
		set_result(r, RBD_METRIC_ERROR, "unexpected response: not a "
		    "JSON object");
	else if (!json_is_string(status))
		set_result(r, RBD_METRIC_ERROR, "unexpected response: no "
		    "\"status\"");
	else if (strcmp(json_string_value(status), "error") == 0)
		parse_error(root, r);
	else if (strcmp(json_string_value(status), "success") != 0)
		set_result(r, RBD_METRIC_ERROR, "unexpected response: status "
		    "\"%s\"", quote_json(q, sizeof(q), status, 32));
	else
		parse_data(json_object_get(root, "data"), r);
}

int rbd_promapi_parse(const char *body, size_t len,
    struct rbd_metric_result *ret)
{
	char q[QUOTE_MAX + 1];
	json_error_t err;
	json_t *root;

	if (!body || len == 0) {
		set_result(ret, RBD_METRIC_ERROR, "unexpected response: "
		    "empty body");
		return 0;
	}
	root = json_loadb(body, len, 0, &err);
	if (!root) {
		/* A proxy's HTML error page, usually: show its start. */
		set_result(ret, RBD_METRIC_ERROR, "unexpected response: not "
		    "JSON: %s", quote(q, sizeof(q), body, len, 48, false));
		return 0;
	}
	parse_root(root, ret);
	json_decref(root);
	return 0;
}

/* RFC 3986's unreserved characters, which a query string keeps as they
 * are. */
static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

char *rbd_promapi_query_url(const char *base_url, const char *query)
{
	static const char path[] = "/api/v1/query?query=";
	static const char hex[] = "0123456789ABCDEF";
	size_t blen, qlen, i;
	char *url, *p;

	if (!base_url || !query)
		return NULL;
	blen = strlen(base_url);
	while (blen > 0 && base_url[blen - 1] == '/')
		blen--;
	qlen = strlen(query);
	if (qlen > (SIZE_MAX - blen - sizeof(path)) / 3)
		return NULL;
	url = malloc(blen + sizeof(path) + 3 * qlen);
	if (!url)
		return NULL;
	memcpy(url, base_url, blen);
	p = stpcpy(url + blen, path);
	for (i = 0; i < qlen; i++) {
		unsigned char c = (unsigned char)query[i];

		if (unreserved(c)) {
			*p++ = (char)c;
			continue;
		}
		*p++ = '%';
		*p++ = hex[c >> 4];
		*p++ = hex[c & 0xf];
	}
	*p = '\0';
	return url;
}

/* Base64 of len bytes of in into out (4 * ceil(len / 3) + 1 bytes): none
 * of the libraries rollbackd links exposes an encoder. */
static void base64(const unsigned char *in, size_t len, char *out)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 |
		    (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
		    (i + 2 < len ? in[i + 2] : 0);

		*out++ = abc[v >> 18 & 63];
		*out++ = abc[v >> 12 & 63];
		*out++ = i + 1 < len ? abc[v >> 6 & 63] : '=';
		*out++ = i + 2 < len ? abc[v & 63] : '=';
	}
	*out = '\0';
}

/* Whether s holds a control character. */
static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int rbd_promapi_auth_header(const char *token, const char *user,
    const char *password, char *buf, size_t len)
{
	char *pair, *enc;
	size_t n;
	int w;

	if (!token && !user) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	if (token) {
		if (has_control(token))
			return -EINVAL;
		w = snprintf(buf, len, "Authorization: Bearer %s", token);
		return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
	}
	if (!password || has_control(user) || has_control(password))
		return -EINVAL;
	if (asprintf(&pair, "%s:%s", user, password) < 0)
		return -ENOMEM;
	n = strlen(pair);
	enc = malloc(4 * ((n + 2) / 3) + 1);
	if (!enc) {
		free(pair);
		return -ENOMEM;
	}
	base64((const unsigned char *)pair, n, enc);
	w = snprintf(buf, len, "Authorization: Basic %s", enc);
	free(pair);
	free(enc);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}
