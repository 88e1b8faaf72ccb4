/* sd_notify glue: see notify.h. */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "notify.h"
#include "probe_http.h"

/* STATUS= is one line for `systemctl status`: past this, the services
 * still to be named are only counted ("; and 12 more"). */
#define STATUS_MAX 1024
#define REJECTED_MAX 512

/* A rejected reload's reason, kept in STATUS= until a reload is accepted,
 * so that a transition after it does not hide why the new configuration
 * is not running. Empty when the last reload was accepted. */
static char rejected[REJECTED_MAX];
static struct event *watchdog_timer;

/* Send state; a failure only matters to someone debugging. */
static void notify(const char *state)
{
	int r = sd_notify(0, state);

	if (r < 0)
		rbd_log(LOG_DEBUG, "sd_notify: %s", strerror(-r));
}

/* The clause for a service that is not idle, or "" for an idle one. */
static void svc_words(const struct rbd_svc *s, char *buf, size_t len)
{
	const struct rbd_watch *w = s->w;

	*buf = '\0';
	if (s->broken) {
		snprintf(buf, len, "%s: stopped, its state cannot be recorded",
		    s->name);
		return;
	}
	switch (w->state) {
	case RBD_STATE_WATCHING:
		snprintf(buf, len, "%s: watching %s", s->name, w->live);
		break;
	case RBD_STATE_ROLLING_BACK:
		snprintf(buf, len, "%s: rolling back to %s", s->name, w->target);
		break;
	case RBD_STATE_VERIFYING:
		snprintf(buf, len, "%s: verifying %s", s->name, w->live);
		break;
	case RBD_STATE_HELD:
		snprintf(buf, len, "%s: held%s%s, a person must decide", s->name,
		    *w->live ? " at " : "", w->live);
		break;
	case RBD_STATE_REMEDYING:
		snprintf(buf, len, "%s: trying a remedy on %s", s->name, w->live);
		break;
	case RBD_STATE_DRILLING:
		snprintf(buf, len, "%s: drilling (%s, %s and back)", s->name,
		    rbd_drill_phase_str(w->drill_phase), w->target);
		break;
	default:
		break;
	}
}

/* "STATUS=..." for d into buf. */
static void status_text(const struct rbd_daemon *d, char *buf, size_t len)
{
	char clause[RBD_SERVICE_MAX + RBD_VERSION_MAX + 64];
	size_t used, more = 0;

	/* Overload first: it makes every other word less certain. */
	used = (size_t)snprintf(buf, len, "STATUS=%s%s%s%swatching %zu service%s",
	    rbd_prober_overloaded(d->prober) ? "overloaded: samples are late "
	    "and count as unknown (rollbackctl status)" : "",
	    rbd_prober_overloaded(d->prober) ? "; " : "",
	    rejected, *rejected ? "; " : "", d->n_svcs,
	    d->n_svcs == 1 ? "" : "s");
	if (used >= len)
		return;		/* truncated already; still one line */
	for (size_t i = 0; i < d->n_svcs; i++) {
		size_t n;

		svc_words(d->svcs[i], clause, sizeof(clause));
		if (!*clause)
			continue;
		n = strlen(clause) + 2;
		/* Leave room for "; and N more". */
		if (more || used + n + 32 >= len) {
			more++;
			continue;
		}
		used += (size_t)snprintf(buf + used, len - used, "; %s", clause);
	}
	if (more)
		snprintf(buf + used, len - used, "; and %zu more", more);
}

void rbd_notify_status(const struct rbd_daemon *d)
{
	char buf[STATUS_MAX];

	status_text(d, buf, sizeof(buf));
	notify(buf);
}

void rbd_notify_ready(const struct rbd_daemon *d)
{
	char buf[STATUS_MAX + 16];

	memcpy(buf, "READY=1\n", 8);
	status_text(d, buf + 8, sizeof(buf) - 8);
	notify(buf);
}

void rbd_notify_extend(uint64_t usec)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "EXTEND_TIMEOUT_USEC=%" PRIu64, usec);
	notify(buf);
}

void rbd_notify_reloading(void)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
	    rbd_mono_usec());
	notify(buf);
}

void rbd_notify_reloaded(const struct rbd_daemon *d, size_t n_errors,
    const char *path, const char *first_error)
{
	if (n_errors == 0)
		rejected[0] = '\0';
	else
		snprintf(rejected, sizeof(rejected), "reload rejected: %zu "
		    "error%s in %s%s%.200s%s; the old configuration keeps running",
		    n_errors, n_errors == 1 ? "" : "s", path,
		    first_error ? " (first: " : "", first_error ? first_error : "",
		    first_error ? ")" : "");
	rbd_notify_ready(d);
}

void rbd_notify_stopping(void)
{
	notify("STOPPING=1\nSTATUS=stopping");
}

/* The watchdog timer: the loop is turning. */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify("WATCHDOG=1");
}

int rbd_notify_watchdog_start(struct rbd_daemon *d)
{
	struct timeval half;
	uint64_t usec = 0;
	int r;

	r = sd_watchdog_enabled(0, &usec);
	if (r < 0) {
		rbd_log(LOG_WARNING, "watchdog: %s; not pinging it", strerror(-r));
		return 0;
	}
	if (r == 0 || usec == 0)
		return 0;
	half = rbd_usec_tv(usec / 2);
	watchdog_timer = event_new(d->base, -1, EV_PERSIST, on_watchdog, NULL);
	if (!watchdog_timer || event_add(watchdog_timer, &half) < 0) {
		rbd_notify_watchdog_stop();
		return -ENOMEM;
	}
	rbd_log(LOG_INFO, "watchdog: pinging every %" PRIu64 " ms", usec / 1000);
	notify("WATCHDOG=1");
	return 0;
}

void rbd_notify_watchdog_stop(void)
{
	if (watchdog_timer)
		event_free(watchdog_timer);
	watchdog_timer = NULL;
}
