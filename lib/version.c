/* Release versions and service names: see version.h.
 *
 * The rules are written out instead of using regcomp(): each broken rule
 * gets its own message, so a deploy script's author learns what to fix. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "version.h"

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* Name the first character of s that is not alphanumeric and not in
 * extra, as a static message; NULL when all are allowed. */
static const char *bad_char(const char *s, const char *extra)
{
	for (; *s; s++) {
		if (is_alnum(*s) || strchr(extra, *s))
			continue;
		switch (*s) {
		case '\n':
		case '\r':
			return "contains a newline";
		case ' ':
		case '\t':
		case '\v':
		case '\f':
			return "contains whitespace";
		case '/':
			return "contains '/'";
		case '+':
			return "contains '+'";
		}
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return "contains a control character";
		if ((unsigned char)*s >= 0x80)
			return "contains a non-ASCII character";
		if (strchr("$`'\"\\;&|<>(){}[]*?!~#%^=,:@", *s))
			return "contains a shell metacharacter";
		return "contains a character outside A-Z a-z 0-9 . _ + -";
	}
	return NULL;
}

/* The checks common to versions and names. */
static int name_check(const char *s, size_t max, const char *extra,
    const char *too_long, const char **ret_why)
{
	const char *why = NULL;

	if (!s || !*s)
		why = "is empty";
	else if (*s == '-')
		why = "must not start with '-'";
	else if (*s == '.')
		why = "must not start with '.'";
	else if ((why = bad_char(s, extra)) != NULL)
		;
	else if (!is_alnum(*s))
		why = "must start with a letter or a digit";
	else if (strlen(s) > max)
		why = too_long;
	else if (strstr(s, ".."))
		why = "contains '..'";
	if (why && ret_why)
		*ret_why = why;
	return why ? -EINVAL : 0;
}

int rbd_version_check(const char *s, const char **ret_why)
{
	return name_check(s, RBD_VERSION_MAX, "._+-",
	    "is longer than 128 characters", ret_why);
}

int rbd_service_check(const char *s, const char **ret_why)
{
	return name_check(s, RBD_SERVICE_MAX, "._-",
	    "is longer than 64 characters", ret_why);
}

/* The part of a unit name before its type, or before '@' and after it. */
static bool unit_chars_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr(":_.\\-", s[i]))
			return false;
	return true;
}

int rbd_unit_name_check(const char *s, const char **ret_why)
{
	static const char *const types[] = {
		".service", ".socket", ".target", ".device", ".mount",
		".automount", ".swap", ".timer", ".path", ".slice", ".scope",
	};
	const char *why = NULL, *dot, *at;
	size_t len = s ? strlen(s) : 0, i;

	if (!len) {
		why = "is empty";
		goto out;
	}
	if (len > RBD_UNIT_NAME_MAX) {
		why = "is longer than 255 characters";
		goto out;
	}
	dot = strrchr(s, '.');
	for (i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i]) == 0)
			break;
	if (!dot || i == sizeof(types) / sizeof(types[0])) {
		why = "must end in a unit type, e.g. \".service\"";
		goto out;
	}
	at = memchr(s, '@', (size_t)(dot - s));
	if (dot == s || at == s)
		why = "has no name before its type";
	else if (at && at + 1 == dot)
		why = "is a template: name an instance, e.g. \"foo@1.service\"";
	else if (at && memchr(at + 1, '@', (size_t)(dot - at - 1)))
		why = "contains more than one '@'";
	else if (!unit_chars_ok(s, (size_t)((at ? at : dot) - s)) ||
	    (at && !unit_chars_ok(at + 1, (size_t)(dot - at - 1))))
		why = "contains a character outside A-Z a-z 0-9 : _ . \\ - "
		    "(systemd-escape makes any name fit)";
	else if (*s == '-' || *s == '.')
		why = "must not start with '-' or '.'";
out:
	if (why && ret_why)
		*ret_why = why;
	return why ? -EINVAL : 0;
}
