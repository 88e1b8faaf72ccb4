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
