/* Logging to stderr with sd-daemon priority prefixes ("<3>..."), so
 * journald (or a terminal) gets one line per message with its level. The
 * shell logs once, where an error is handled; lib/ never logs. */
#ifndef RBD_LOG_H
#define RBD_LOG_H

#include <stdarg.h>
#include <syslog.h>

/* Messages above this priority (LOG_ERR .. LOG_DEBUG) are dropped.
 * Default LOG_INFO. */
void rbd_log_set_level(int max_priority);
int rbd_log_level(void);

void rbd_log(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rbd_vlog(int priority, const char *fmt, va_list ap);

#endif
