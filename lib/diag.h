/* Diagnostics: every error a parser finds, as "file:line:col: message".
 *
 * Parsers in lib/ do not stop at the first problem and do not log: they
 * append each error here and the caller decides how to show them (the
 * daemon's -t prints them all, a reload logs them). Lines and columns are
 * 1-based, as editors count them; 0 means "not known" and is left out of
 * the text ("file: message"). */
#ifndef RBD_DIAG_H
#define RBD_DIAG_H

#include <stdarg.h>
#include <stddef.h>

/* Beyond this many, errors are only counted (dropped), so a hostile file
 * cannot make the list grow without bound; show "and N more" for them. */
#define RBD_DIAG_MAX 200
#define RBD_DIAG_MSG_MAX 512

struct rbd_diag {
	char **msgs;	/* each "file:line:col: message", NUL-terminated */
	size_t n;
	size_t cap;
	size_t dropped;	/* errors past RBD_DIAG_MAX, counted but not kept */
};

/* A zeroed struct rbd_diag is an empty list; rbd_diag_free() empties it. */
void rbd_diag_free(struct rbd_diag *d);

/* Append one error. file may be NULL ("(input)"); line/col 0 are omitted.
 * Out of memory is recorded as a dropped error, never lost silently. */
void rbd_diag_add(struct rbd_diag *d, const char *file, unsigned line,
    unsigned col, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void rbd_diag_vadd(struct rbd_diag *d, const char *file, unsigned line,
    unsigned col, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* s (len bytes) made safe to quote in a message shown in terminals and
 * logs: printable ASCII as it is, anything else escaped (\n, \r, \t, \\,
 * \x1b, and non-ASCII bytes too), cut after max bytes with "...". buf
 * holds max + 4 bytes. Returns buf. */
const char *rbd_show(const char *s, size_t len, char *buf, size_t max);

/* Number of errors seen, kept or dropped. */
size_t rbd_diag_count(const struct rbd_diag *d);

/* Move every entry of src to the end of dst; src is left empty. */
void rbd_diag_move(struct rbd_diag *dst, struct rbd_diag *src);

#endif
