/* Crash points of a test build: see crashpoint.h. Empty in any other. */
#include "crashpoint.h"

#ifdef RBD_CRASHPOINTS
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Die here if RBD_CRASHPOINT matches this point's key. */
void rbd_crashpoint(const char *point, const char *event, enum rbd_state from,
    enum rbd_state to)
{
	const char *pattern = getenv("RBD_CRASHPOINT");
	char key[256], line[300];
	int n;

	if (!pattern || !*pattern)
		return;
	snprintf(key, sizeof(key), "%s:%s:%s>%s", point, event ? event : "",
	    rbd_state_str(from), rbd_state_str(to));
	if (fnmatch(pattern, key, 0) != 0)
		return;
	/* One write(2), unbuffered: the test reads it from the log. */
	n = snprintf(line, sizeof(line), "rollbackd: crash point %s\n", key);
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* dying anyway */
	}
	raise(SIGKILL);
	abort();	/* not reached */
}
#else
/* ISO C wants something in a translation unit. */
typedef int rbd_crashpoint_unused;
#endif
