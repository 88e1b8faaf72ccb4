/* libFuzzer harness for release versions and service names
 * (lib/version.c) and the expansion of command templates (lib/template.c):
 * what a deploy hook sends ends up in the argv of a deploy command. Build
 * and run: "make fuzz" (see tests/fuzz/README).
 *
 * The input is NUL-separated fields: a version, a service name, a
 * from_version, then any number of argv templates. Checked:
 *  - rbd_version_check and rbd_service_check accept exactly what their
 *    regular expressions in version.h say (written out again here), and
 *    a unit name rbd_unit_name_check accepts has the form unit checks need;
 *  - a template rbd_template_check_set refuses comes with a column inside
 *    it and a printable message, and cannot be expanded;
 *  - with accepted values, a template expands to what the placeholders
 *    say and every byte that did not come from the template's own text
 *    is in the version's character set [A-Za-z0-9._+-]; an element that
 *    starts with a value does not start with '-' (no option injection);
 *    and rbd_argv_expand gives exactly one element per template. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"
#include "version.h"

#define require(cond) do { if (!(cond)) abort(); } while (0)
#define MAX_TEMPLATES 16

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* ^[A-Za-z0-9][A-Za-z0-9<extra>]{0,max-1}$ and no "..". */
static bool ref_name_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || !alnum(s[0]) || strstr(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!alnum(s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

/* A byte a version, a service name or a schema number may hold. */
static bool value_char(char c)
{
	return alnum(c) || c == '.' || c == '_' || c == '+' || c == '-';
}

/* What the checks promise about a name, both ways. */
static void check_names(const char *s)
{
	const char *why = NULL;
	int r;

	r = rbd_version_check(s, &why);
	require((r == 0) == ref_name_ok(s, RBD_VERSION_MAX, "._+-"));
	require(r == 0 || (r == -EINVAL && why && *why));
	why = NULL;
	r = rbd_service_check(s, &why);
	require((r == 0) == ref_name_ok(s, RBD_SERVICE_MAX, "._-"));
	require(r == 0 || (r == -EINVAL && why && *why));
	why = NULL;
	r = rbd_unit_name_check(s, &why);
	if (r == 0) {
		const char *dot = strrchr(s, '.');

		require(strlen(s) <= RBD_UNIT_NAME_MAX && dot && dot != s);
		require(s[0] != '-' && s[0] != '.' && s[0] != '@');
		for (const char *p = s; *p; p++)
			require(alnum(*p) || strchr(":_.\\-@", *p));
	} else {
		require(r == -EINVAL && why && *why);
	}
}

/* The value of placeholder name (len bytes), or NULL when it is none. */
static const char *ref_value(const char *name, size_t len,
    const struct rbd_template_vars *v, bool *ret_known)
{
	static const char *const names[] = {
		"service", "version", "from_version", "from_schema", "to_schema",
	};
	const char *const vals[] = {
		v->service, v->version, v->from_version, v->from_schema,
		v->to_schema,
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) {
			*ret_known = true;
			return vals[i] ? vals[i] : "";
		}
	}
	*ret_known = false;
	return NULL;
}

/* Expand t the way template.h says, independently of template.c, into
 * out (of t's expansion's length) and, for each byte, whether it comes
 * from the template's text (true) or a value (false). Returns the
 * length, or -1 when t is not a template. */
static long ref_expand(const char *t, const struct rbd_template_vars *v,
    char *out, bool *literal)
{
	size_t o = 0;

	for (const char *p = t; *p; p++) {
		const char *end, *val;
		bool known;

		if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
			literal[o] = true;
			out[o++] = *p++;
			continue;
		}
		if (*p == '}')
			return -1;
		if (*p != '{') {
			literal[o] = true;
			out[o++] = *p;
			continue;
		}
		end = strchr(p + 1, '}');
		if (!end || memchr(p + 1, '{', (size_t)(end - p - 1)))
			return -1;
		val = ref_value(p + 1, (size_t)(end - p - 1), v, &known);
		if (!known)
			return -1;
		for (; *val; val++) {
			literal[o] = false;
			out[o++] = *val;
		}
		p = end;
	}
	return (long)o;
}

/* The longest expansion of t: each byte of it may become the longest
 * value. */
static size_t expansion_max(const char *t)
{
	return strlen(t) * (RBD_VERSION_MAX + 1) + 1;
}

/* One template t under vars (whose values are all valid). */
static void check_template(const char *t, const struct rbd_template_vars *v,
    bool *ret_ok)
{
	char errbuf[256], *got = NULL, *want;
	unsigned col = 0;
	bool *literal;
	long n;
	int r, rd;

	errbuf[0] = '\0';
	r = rbd_template_check_set(t, RBD_TEMPLATE_MIGRATE, &col, errbuf,
	    sizeof(errbuf));
	/* The deploy set is a subset of the migration set: it refuses the
	 * malformed templates too, and at most some more placeholders. */
	rd = rbd_template_check(t, NULL, NULL, 0);
	require(r == 0 ? rd == 0 || rd == -EPERM : rd < 0);
	want = malloc(expansion_max(t));
	literal = malloc(expansion_max(t));
	require(want && literal);
	n = ref_expand(t, v, want, literal);
	*ret_ok = r == 0;
	if (r < 0) {
		require(r == -EINVAL && n < 0);
		require(col >= 1 && col <= strlen(t) + 1 && errbuf[0]);
		for (const char *p = errbuf; *p; p++)
			require((unsigned char)*p >= 0x20 && *p != 0x7f);
		require(rbd_template_expand(t, v, &got) == -EINVAL);
		goto out;
	}
	require(n >= 0);
	require(rbd_template_expand(t, v, &got) == 0);
	require(strlen(got) == (size_t)n && memcmp(got, want, (size_t)n) == 0);
	for (long i = 0; i < n; i++)
		require(literal[i] || value_char(got[i]));
	/* A value never starts an element: no option injection ("-rf"). */
	require(n == 0 || literal[0] || got[0] != '-');
out:
	free(got);
	free(want);
	free(literal);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *field[3 + MAX_TEMPLATES];
	char *argv[MAX_TEMPLATES + 1], **out = NULL;
	struct rbd_template_vars vars;
	size_t nf = 0, argc = 0, n = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (char *p = buf; nf < 3 + MAX_TEMPLATES; p += strlen(p) + 1) {
		field[nf++] = p;
		if (p + strlen(p) >= buf + size)
			break;
	}
	for (size_t i = 0; i < nf && i < 3; i++)
		check_names(field[i]);
	/* Values as the daemon passes them: only once they are accepted. */
	if (nf < 4 || rbd_version_check(field[0], NULL) < 0 ||
	    rbd_service_check(field[1], NULL) < 0 ||
	    (field[2][0] && rbd_version_check(field[2], NULL) < 0))
		goto out;
	vars.version = field[0];
	vars.service = field[1];
	vars.from_version = field[2][0] ? field[2] : NULL;
	vars.from_schema = size % 3 ? "42" : NULL;
	vars.to_schema = size % 3 ? "999999999999" : NULL;
	for (size_t i = 3; i < nf; i++) {
		bool ok;

		check_template(field[i], &vars, &ok);
		if (ok)
			argv[argc++] = field[i];
	}
	argv[argc] = NULL;
	require(rbd_argv_expand(argv, &vars, &out) == 0);
	while (out[n])
		n++;
	require(n == argc);
	rbd_argv_free(out);
out:
	free(buf);
	return 0;
}
