/* Placeholder expansion in argv elements: see template.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

#define PLACEHOLDER_NAME_MAX 64

/* The value of placeholder name (len bytes) in vars, or "" for a known
 * placeholder without a value; NULL for an unknown name. */
static const char *lookup(const char *name, size_t len,
    const struct rbd_template_vars *vars)
{
	static const struct rbd_template_vars none;
	const struct {
		const char *name;
		const char *value;
	} table[] = {
		{ "service", (vars ? vars : &none)->service },
		{ "version", (vars ? vars : &none)->version },
		{ "from_version", (vars ? vars : &none)->from_version },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strlen(table[i].name) == len &&
		    strncmp(table[i].name, name, len) == 0)
			return table[i].value ? table[i].value : "";
	return NULL;
}

/* "unknown placeholder {name}", the name cut and with control characters
 * shown as '?': the message ends up in a terminal and a log. */
static void unknown_placeholder(const char *name, size_t len, char *errbuf,
    size_t errlen)
{
	char shown[PLACEHOLDER_NAME_MAX + 1];
	size_t n = len > PLACEHOLDER_NAME_MAX ? PLACEHOLDER_NAME_MAX : len;

	for (size_t i = 0; i < n; i++)
		shown[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ?
		    '?' : name[i];
	shown[n] = '\0';
	if (len > PLACEHOLDER_NAME_MAX)
		snprintf(errbuf, errlen, "unknown placeholder {%s...}", shown);
	else
		snprintf(errbuf, errlen, "unknown placeholder {%s}"
		    " (known: {service}, {version}, {from_version})", shown);
}

/* Walk s once: check it and, when out is not NULL, write the expansion to
 * it. Returns 0 or -EINVAL with the problem's 1-based column and text. */
static int walk(const char *s, const struct rbd_template_vars *vars,
    FILE *out, unsigned *ret_col, char *errbuf, size_t errlen)
{
	for (const char *p = s; *p; p++) {
		const char *end;
		const char *value;

		if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
			if (out)
				fputc(*p, out);
			p++;
			continue;
		}
		if (*p == '}') {
			*ret_col = (unsigned)(p - s) + 1;
			snprintf(errbuf, errlen, "unmatched '}' (write '}}' for a literal brace)");
			return -EINVAL;
		}
		if (*p != '{') {
			if (out)
				fputc(*p, out);
			continue;
		}
		end = strchr(p + 1, '}');
		if (!end || memchr(p + 1, '{', (size_t)(end - p - 1))) {
			*ret_col = (unsigned)(p - s) + 1;
			snprintf(errbuf, errlen, "unclosed '{' (write '{{' for a literal brace)");
			return -EINVAL;
		}
		value = lookup(p + 1, (size_t)(end - p - 1), vars);
		if (!value) {
			*ret_col = (unsigned)(p - s) + 1;
			unknown_placeholder(p + 1, (size_t)(end - p - 1), errbuf, errlen);
			return -EINVAL;
		}
		if (out)
			fputs(value, out);
		p = end;
	}
	return 0;
}

int rbd_template_check(const char *s, unsigned *ret_col, char *errbuf,
    size_t errlen)
{
	unsigned col = 0;
	char buf[1];

	if (!errbuf) {
		errbuf = buf;
		errlen = sizeof(buf);
	}
	if (walk(s, NULL, NULL, &col, errbuf, errlen) < 0) {
		if (ret_col)
			*ret_col = col;
		return -EINVAL;
	}
	return 0;
}

int rbd_template_expand(const char *s, const struct rbd_template_vars *vars,
    char **ret)
{
	char *text = NULL, err[1];
	size_t len = 0;
	unsigned col;
	FILE *out;
	int r;

	out = open_memstream(&text, &len);
	if (!out)
		return -ENOMEM;
	r = walk(s, vars, out, &col, err, sizeof(err));
	if (fclose(out) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(text);
		return r;
	}
	*ret = text;
	return 0;
}

void rbd_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

int rbd_argv_expand(char *const *argv, const struct rbd_template_vars *vars,
    char ***ret_argv)
{
	size_t n = 0;
	char **out;

	while (argv[n])
		n++;
	out = calloc(n + 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = rbd_template_expand(argv[i], vars, &out[i]);

		if (r < 0) {
			rbd_argv_free(out);
			return r;
		}
	}
	*ret_argv = out;
	return 0;
}
