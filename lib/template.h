/* Placeholders in command argv elements: {service}, {version},
 * {from_version} in deploy.command, and {from_schema} and {to_schema} too
 * in migrate_down.command. Substitution happens inside one argv element
 * at a time; nothing ever goes through a shell, so a value can never
 * become two arguments or a command. "{{" and "}}" stand for literal
 * braces. */
#ifndef RBD_TEMPLATE_H
#define RBD_TEMPLATE_H

#include <stddef.h>

/* Values for expansion. A NULL value expands to the empty string. The
 * schema versions are text: the shell formats its integers, and a
 * command that has none to give passes NULL. */
struct rbd_template_vars {
	const char *service;
	const char *version;
	const char *from_version;
	const char *from_schema;	/* migrate_down: the schema now */
	const char *to_schema;		/* migrate_down: the one to go down to */
};

/* The placeholders, as bits of a set that a command may use. */
enum {
	RBD_TEMPLATE_SERVICE		= 1u << 0,
	RBD_TEMPLATE_VERSION		= 1u << 1,
	RBD_TEMPLATE_FROM_VERSION	= 1u << 2,
	RBD_TEMPLATE_FROM_SCHEMA	= 1u << 3,
	RBD_TEMPLATE_TO_SCHEMA		= 1u << 4,
};
/* deploy.command's set, and migrate_down.command's. */
#define RBD_TEMPLATE_DEPLOY	(RBD_TEMPLATE_SERVICE | RBD_TEMPLATE_VERSION | \
				 RBD_TEMPLATE_FROM_VERSION)
#define RBD_TEMPLATE_MIGRATE	(RBD_TEMPLATE_DEPLOY | \
				 RBD_TEMPLATE_FROM_SCHEMA | RBD_TEMPLATE_TO_SCHEMA)

/* Check a template without expanding it, against the placeholders of
 * allowed (a set of RBD_TEMPLATE_* bits): 0 if every placeholder is in
 * the set and every brace is balanced. Otherwise *ret_col is the 1-based
 * offset of the problem within s and errbuf holds a message:
 *   -EINVAL  a brace out of place, or a name that is no placeholder:
 *            "unclosed '{'", "unknown placeholder {verison} (known:
 *            {service}, {version}, {from_version})", listing the set;
 *   -EPERM   a placeholder that exists but is not in the set:
 *            "placeholder {from_schema} is not allowed here (allowed: ...)".
 * ret_col and errbuf may be NULL. */
int rbd_template_check_set(const char *s, unsigned allowed, unsigned *ret_col,
    char *errbuf, size_t errlen);

/* rbd_template_check_set(s, RBD_TEMPLATE_DEPLOY, ...): deploy.command's
 * rules. */
int rbd_template_check(const char *s, unsigned *ret_col, char *errbuf,
    size_t errlen);

/* Expand one template into a new string owned by the caller (*ret). Every
 * placeholder is expanded: which ones a command may use is the loader's
 * check. Returns 0, -EINVAL for a template that does not pass
 * rbd_template_check_set with every placeholder allowed, or -ENOMEM. */
int rbd_template_expand(const char *s, const struct rbd_template_vars *vars,
    char **ret);

/* Expand every element of a NULL-terminated argv into a new NULL-terminated
 * array (free with rbd_argv_free). Returns 0, -EINVAL or -ENOMEM. */
int rbd_argv_expand(char *const *argv, const struct rbd_template_vars *vars,
    char ***ret_argv);
void rbd_argv_free(char **argv);

#endif
