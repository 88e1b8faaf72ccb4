/* Placeholder expansion in argv elements: see template.h. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

#define PLACEHOLDER_NAME_MAX 64
#define ALL_PLACEHOLDERS RBD_TEMPLATE_MIGRATE
#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* Every placeholder: its name, its bit, where its value is in vars. */
static const struct placeholder {
	const char *name;
	unsigned bit;
	size_t offset;
} placeholders[] = {
	{ "service", RBD_TEMPLATE_SERVICE,
	    offsetof(struct rbd_template_vars, service) },
	{ "version", RBD_TEMPLATE_VERSION,
	    offsetof(struct rbd_template_vars, version) },
	{ "from_version", RBD_TEMPLATE_FROM_VERSION,
	    offsetof(struct rbd_template_vars, from_version) },
	{ "from_schema", RBD_TEMPLATE_FROM_SCHEMA,
	    offsetof(struct rbd_template_vars, from_schema) },
	{ "to_schema", RBD_TEMPLATE_TO_SCHEMA,
	    offsetof(struct rbd_template_vars, to_schema) },
};

/* The placeholder called name (len bytes), or NULL. */
static const struct placeholder *lookup(const char *name, size_t len)
{
	for (size_t i = 0; i < N_ELEMENTS(placeholders); i++)
		if (strlen(placeholders[i].name) == len &&
		    strncmp(placeholders[i].name, name, len) == 0)
			return &placeholders[i];
	return NULL;
}

/* The value of placeholder ph in vars (NULL: none); "" when it has none. */
static const char *value_of(const struct placeholder *ph,
    const struct rbd_template_vars *vars)
{
	const char *v;

	if (!vars)
		return "";
	v = *(const char *const *)((const char *)vars + ph->offset);
	return v ? v : "";
}

/* "{service}, {version}, {from_version}": the names of a set. */
static void set_names(unsigned allowed, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_ELEMENTS(placeholders); i++) {
		int n;

		if (!(allowed & placeholders[i].bit))
			continue;
		n = snprintf(buf + used, len - used, "%s{%s}", used ? ", " : "",
		    placeholders[i].name);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}

/* "unknown placeholder {name} (known: ...)", or "placeholder {name} is
 * not allowed here (allowed: ...)" for one outside the set, the name cut
 * and with control characters shown as '?': the message ends up in a
 * terminal and a log. */
static void placeholder_err(const char *name, size_t len, bool known,
    unsigned allowed, char *errbuf, size_t errlen)
{
	char shown[PLACEHOLDER_NAME_MAX + 1], names[128];
	size_t n = len > PLACEHOLDER_NAME_MAX ? PLACEHOLDER_NAME_MAX : len;

	for (size_t i = 0; i < n; i++)
		shown[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ?
		    '?' : name[i];
	shown[n] = '\0';
	set_names(allowed, names, sizeof(names));
	if (len > PLACEHOLDER_NAME_MAX)
		snprintf(errbuf, errlen, "unknown placeholder {%s...}", shown);
	else if (known)
		snprintf(errbuf, errlen, "placeholder {%s} is not allowed here"
		    " (allowed: %s)", shown, names);
	else
		snprintf(errbuf, errlen, "unknown placeholder {%s} (known: %s)",
		    shown, names);
}

/* Walk s once: check it against the set allowed and, when out is not
 * NULL, write the expansion to it. Returns 0, or -EINVAL or -EPERM with
 * the problem's 1-based column and text. */
static int walk(const char *s, unsigned allowed,
    const struct rbd_template_vars *vars, FILE *out, unsigned *ret_col,
    char *errbuf, size_t errlen)
{
	for (const char *p = s; *p; p++) {
		const struct placeholder *ph;
		const char *end;
		size_t len;

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
		len = (size_t)(end - p - 1);
		ph = lookup(p + 1, len);
		if (!ph || !(allowed & ph->bit)) {
			*ret_col = (unsigned)(p - s) + 1;
			placeholder_err(p + 1, len, ph != NULL, allowed, errbuf,
			    errlen);
			return ph ? -EPERM : -EINVAL;
		}
		if (out)
			fputs(value_of(ph, vars), out);
		p = end;
	}
	return 0;
}

int rbd_template_check_set(const char *s, unsigned allowed, unsigned *ret_col,
    char *errbuf, size_t errlen)
{
	unsigned col = 0;
	char buf[1];
	int r;

	if (!errbuf) {
		errbuf = buf;
		errlen = sizeof(buf);
	}
	r = walk(s, allowed, NULL, NULL, &col, errbuf, errlen);
	if (r < 0 && ret_col)
		*ret_col = col;
	return r;
}

int rbd_template_check(const char *s, unsigned *ret_col, char *errbuf,
    size_t errlen)
{
	return rbd_template_check_set(s, RBD_TEMPLATE_DEPLOY, ret_col, errbuf,
	    errlen);
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
	r = walk(s, ALL_PLACEHOLDERS, vars, out, &col, err, sizeof(err));
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
