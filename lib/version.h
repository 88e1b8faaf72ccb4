/* Names that come from outside and end up in argv, the environment, file
 * names and SQL: release versions and service names (and, from policies,
 * the systemd unit names of unit checks). They are checked
 * against a strict character set before they are stored or expanded, so a
 * hostile string is refused, never passed on. */
#ifndef RBD_VERSION_H
#define RBD_VERSION_H

#include <stdbool.h>

/* ^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$ and no "..": 128 characters. */
#define RBD_VERSION_MAX 128
/* ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$: 64 characters. */
#define RBD_SERVICE_MAX 64

/* 0 if s is a valid release version; -EINVAL otherwise, with *ret_why
 * (static text, may be NULL) saying which rule was broken, e.g. "must not
 * start with '-'" or "contains a newline". */
int rbd_version_check(const char *s, const char **ret_why);

/* Same for a service name (also used for check names). */
int rbd_service_check(const char *s, const char **ret_why);

/* A systemd unit name a unit check may watch: PREFIX[@INSTANCE].TYPE with
 * PREFIX and INSTANCE of [A-Za-z0-9:_.\-] (systemd's escaping), TYPE one of
 * systemd's unit types, 255 characters at most. A template ("foo@.service")
 * has no state of its own and is refused. */
#define RBD_UNIT_NAME_MAX 255
int rbd_unit_name_check(const char *s, const char **ret_why);

#endif
