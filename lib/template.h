/* Placeholders in deploy command argv elements: {service}, {version},
 * {from_version}. Substitution happens inside one argv element at a time;
 * nothing ever goes through a shell, so a value can never become two
 * arguments or a command. "{{" and "}}" stand for literal braces. */
#ifndef RBD_TEMPLATE_H
#define RBD_TEMPLATE_H

#include <stddef.h>

/* Values for expansion. A NULL value expands to the empty string. */
struct rbd_template_vars {
	const char *service;
	const char *version;
	const char *from_version;
};

/* Check a template without expanding it: 0 if every placeholder is known
 * and every brace is balanced; otherwise -EINVAL with *ret_col set to the
 * 1-based offset of the problem within s and a message in errbuf such as
 * "unknown placeholder {verison}" or "unclosed '{'". */
int rbd_template_check(const char *s, unsigned *ret_col, char *errbuf,
    size_t errlen);

/* Expand one template into a new string owned by the caller (*ret).
 * Returns 0, -EINVAL for a template that does not pass rbd_template_check,
 * or -ENOMEM. */
int rbd_template_expand(const char *s, const struct rbd_template_vars *vars,
    char **ret);

/* Expand every element of a NULL-terminated argv into a new NULL-terminated
 * array (free with rbd_argv_free). Returns 0, -EINVAL or -ENOMEM. */
int rbd_argv_expand(char *const *argv, const struct rbd_template_vars *vars,
    char ***ret_argv);
void rbd_argv_free(char **argv);

#endif
