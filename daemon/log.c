/* Logging: see log.h. */
#include <stdio.h>
#include <string.h>

#include "log.h"

#define LOG_LINE_MAX 4096

static int log_level = LOG_INFO;

void rbd_log_set_level(int max_priority)
{
	log_level = max_priority;
}

int rbd_log_level(void)
{
	return log_level;
}

void rbd_vlog(int priority, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];

	if (priority > log_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* One message, one line: a newline in a value (deploy output, a
	 * probe's detail) must not forge a second log entry. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "<%d>%s\n", priority, line);
}

void rbd_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rbd_vlog(priority, fmt, ap);
	va_end(ap);
}
