/* Logging to stderr with sd-daemon priority prefixes ("<3>..."), so
 * journald (or a terminal) gets one line per message with its level. The
 * shell logs once, where an error is handled; lib/ never logs.
 *
 * Events a person may want to find later (a service's transitions) go
 * through rbd_log_event: when stderr is connected to the journal, they are
 * sent to it directly with a MESSAGE_ID= and structured fields (see
 * rollbackd(8), JOURNAL FIELDS); otherwise they are ordinary lines. */
#ifndef RBD_LOG_H
#define RBD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

/* Messages above this priority (LOG_ERR .. LOG_DEBUG) are dropped.
 * Default LOG_INFO. */
void rbd_log_set_level(int max_priority);
int rbd_log_level(void);

/* Find out, once at start, whether stderr is the journal: $JOURNAL_STREAM
 * ("device:inode", set by systemd) names the stream fd 2 is. */
void rbd_log_init(void);
bool rbd_log_to_journal(void);

void rbd_log(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rbd_vlog(int priority, const char *fmt, va_list ap);

/* The structured fields of an event. message_id is 32 lowercase hex
 * digits (a constant); the other fields may be NULL or "" when they do
 * not apply, and are then left out. Values are ours (validated names and
 * versions, state and event names), never free text. */
struct rbd_log_fields {
	const char *message_id;
	const char *service;	/* ROLLBACKD_SERVICE= */
	const char *release;	/* ROLLBACKD_RELEASE= */
	const char *target;	/* ROLLBACKD_TARGET= */
	const char *event;	/* ROLLBACKD_EVENT= */
	const char *state;	/* ROLLBACKD_STATE= */
};

/* Log one event: to the journal with f's fields when stderr is the
 * journal (falling back to stderr if the journal refuses it), else as an
 * ordinary line. */
void rbd_log_event(int priority, const struct rbd_log_fields *f,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
