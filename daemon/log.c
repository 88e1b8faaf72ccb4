/* Logging: see log.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_LINE_MAX 4096
/* "ROLLBACKD_SERVICE=" and the like plus a value: names and versions are
 * bounded far below this (lib/policy.h, lib/version.h). */
#define LOG_FIELD_MAX 256
#define LOG_FIELDS_MAX 9

static int log_level = LOG_INFO;
static bool to_journal;

void rbd_log_set_level(int max_priority)
{
	log_level = max_priority;
}

int rbd_log_level(void)
{
	return log_level;
}

void rbd_log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	to_journal = false;
	if (!js || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return;
	/* The variable is inherited by whatever we start; only the stream it
	 * was made for counts, not a redirected stderr. */
	if (fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino)
		to_journal = true;
}

bool rbd_log_to_journal(void)
{
	return to_journal;
}

/* The message as one line: a newline in a value (deploy output, a
 * probe's detail) must not forge a second log entry. */
static void format_line(char *line, size_t len, const char *fmt, va_list ap)
{
	vsnprintf(line, len, fmt, ap);
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

void rbd_vlog(int priority, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];

	if (priority > log_level)
		return;
	format_line(line, sizeof(line), fmt, ap);
	fprintf(stderr, "<%d>%s\n", priority, line);
}

void rbd_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rbd_vlog(priority, fmt, ap);
	va_end(ap);
}

/* Append "NAME=value" to iov when value is set. */
static void field_add(struct iovec *iov, int *n, char buf[][LOG_FIELD_MAX],
    const char *name, const char *value)
{
	int len;

	if (!value || !*value)
		return;
	len = snprintf(buf[*n], LOG_FIELD_MAX, "%s=%s", name, value);
	if (len < 0 || len >= LOG_FIELD_MAX)
		return;		/* cannot happen with our bounded values */
	iov[*n].iov_base = buf[*n];
	iov[*n].iov_len = (size_t)len;
	(*n)++;
}

/* Send line with f's fields to the journal: 0 or a negative errno. */
static int journal_send(int priority, const struct rbd_log_fields *f,
    const char *line)
{
	char buf[LOG_FIELDS_MAX][LOG_FIELD_MAX], prio[2] = { 0 };
	char *msg = NULL;
	struct iovec iov[LOG_FIELDS_MAX + 1];
	int n = 0, r;

	if (asprintf(&msg, "MESSAGE=%s", line) < 0)
		return -1;
	iov[n].iov_base = msg;
	iov[n].iov_len = strlen(msg);
	n++;
	prio[0] = (char)('0' + (priority & 7));
	field_add(iov, &n, buf, "PRIORITY", prio);
	field_add(iov, &n, buf, "SYSLOG_IDENTIFIER", "rollbackd");
	field_add(iov, &n, buf, "MESSAGE_ID", f->message_id);
	field_add(iov, &n, buf, "ROLLBACKD_SERVICE", f->service);
	field_add(iov, &n, buf, "ROLLBACKD_RELEASE", f->release);
	field_add(iov, &n, buf, "ROLLBACKD_TARGET", f->target);
	field_add(iov, &n, buf, "ROLLBACKD_EVENT", f->event);
	field_add(iov, &n, buf, "ROLLBACKD_STATE", f->state);
	r = sd_journal_sendv(iov, n);
	free(msg);
	return r;
}

void rbd_log_event(int priority, const struct rbd_log_fields *f,
    const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;

	if (priority > log_level)
		return;
	va_start(ap, fmt);
	format_line(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* A journal that refuses the entry must not lose the transition:
	 * the stderr line reaches it through the stream anyway. */
	if (to_journal && journal_send(priority, f, line) >= 0)
		return;
	fprintf(stderr, "<%d>%s\n", priority, line);
}
