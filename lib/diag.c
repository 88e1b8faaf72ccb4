/* Diagnostics list: see diag.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

void rbd_diag_free(struct rbd_diag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	d->msgs = NULL;
	d->n = d->cap = d->dropped = 0;
}

/* Keep msg (owned) at the end of the list, or count it as dropped once
 * RBD_DIAG_MAX are kept. */
static void diag_push(struct rbd_diag *d, char *msg)
{
	if (!msg || d->n >= RBD_DIAG_MAX) {
		free(msg);
		d->dropped++;
		return;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		char **m = realloc(d->msgs, cap * sizeof(*m));
		if (!m) {
			free(msg);
			d->dropped++;
			return;
		}
		d->msgs = m;
		d->cap = cap;
	}
	d->msgs[d->n++] = msg;
}

void rbd_diag_vadd(struct rbd_diag *d, const char *file, unsigned line,
    unsigned col, const char *fmt, va_list ap)
{
	char text[RBD_DIAG_MSG_MAX], where[RBD_DIAG_MSG_MAX / 2];
	char *msg;
	int n;

	if (!file)
		file = "(input)";
	if (line && col)
		snprintf(where, sizeof(where), "%s:%u:%u", file, line, col);
	else if (line)
		snprintf(where, sizeof(where), "%s:%u", file, line);
	else
		snprintf(where, sizeof(where), "%s", file);
	vsnprintf(text, sizeof(text), fmt, ap);
	n = asprintf(&msg, "%s: %s", where, text);
	diag_push(d, n < 0 ? NULL : msg);
}

void rbd_diag_add(struct rbd_diag *d, const char *file, unsigned line,
    unsigned col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rbd_diag_vadd(d, file, line, col, fmt, ap);
	va_end(ap);
}

size_t rbd_diag_count(const struct rbd_diag *d)
{
	return d->n + d->dropped;
}

void rbd_diag_move(struct rbd_diag *dst, struct rbd_diag *src)
{
	for (size_t i = 0; i < src->n; i++)
		diag_push(dst, src->msgs[i]);
	dst->dropped += src->dropped;
	free(src->msgs);
	src->msgs = NULL;
	src->n = src->cap = src->dropped = 0;
}

/* The escape sequence for byte c in out (up to 4 bytes); its length. */
static size_t escape(unsigned char c, char *out)
{
	static const char hex[] = "0123456789abcdef";

	if (c >= 0x20 && c < 0x7f && c != '\\') {
		out[0] = (char)c;
		return 1;
	}
	out[0] = '\\';
	switch (c) {
	case '\\':
		out[1] = '\\';
		return 2;
	case '\n':
		out[1] = 'n';
		return 2;
	case '\r':
		out[1] = 'r';
		return 2;
	case '\t':
		out[1] = 't';
		return 2;
	}
	out[1] = 'x';
	out[2] = hex[c >> 4];
	out[3] = hex[c & 0xf];
	return 4;
}

/* See diag.h. */
const char *rbd_show(const char *s, size_t len, char *buf, size_t max)
{
	size_t o = 0, i;
	char e[4];

	for (i = 0; i < len; i++) {
		size_t n = escape((unsigned char)s[i], e);

		if (o + n > max)
			break;
		memcpy(buf + o, e, n);
		o += n;
	}
	if (i < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}
