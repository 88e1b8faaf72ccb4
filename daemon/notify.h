/* Telling systemd how the daemon is doing (sd_notify(3)): readiness,
 * reloads, shutdown, a one-line status in words, and the watchdog ping.
 *
 * Every call is a no-op when the daemon was not started by a service
 * manager (no NOTIFY_SOCKET), and a failure to notify is never fatal: it
 * is logged at debug level only, since the daemon's work goes on. */
#ifndef RBD_NOTIFY_H
#define RBD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct rbd_daemon;

/* The configuration is loaded, the store open, every service resumed and
 * the control socket listening: READY=1 with the current STATUS=. */
void rbd_notify_ready(const struct rbd_daemon *d);

/* STATUS= from d->svcs, in words: "watching 3 services; checkout:
 * rolling back to v2.4.1". Called after every transition, and when the
 * prober's overload starts and ends. A rejected reload's reason stays in
 * front until the next accepted one; while the prober is overloaded,
 * "overloaded: samples are late and count as unknown (rollbackctl
 * status)" comes first of all. */
void rbd_notify_status(const struct rbd_daemon *d);

/* A start-up step that may take long (opening the store runs its check
 * and migrations; resuming services may replay a rollback) begins:
 * EXTEND_TIMEOUT_USEC= tells the service manager that the start may go on
 * for usec from now, even past TimeoutStartSec=. Within TimeoutStartSec=
 * it changes nothing. */
void rbd_notify_extend(uint64_t usec);

/* A reload starts: RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC). */
void rbd_notify_reloading(void);

/* The reload ended: READY=1 and STATUS=. n_errors 0 means accepted;
 * otherwise STATUS= says that the reload was rejected, how many errors
 * path had (first_error, may be NULL, is quoted) and that the old
 * configuration keeps running. */
void rbd_notify_reloaded(const struct rbd_daemon *d, size_t n_errors,
    const char *path, const char *first_error);

/* Shutdown has begun: STOPPING=1. */
void rbd_notify_stopping(void);

/* When the service manager asked for a watchdog (WATCHDOG_USEC= for our
 * pid), ping it with WATCHDOG=1 from a timer on d->base at half the
 * interval: the timer only fires while the loop turns, so a wedged loop
 * stops the pings and gets the daemon restarted. Returns 0 (also without
 * a watchdog) or a negative errno. */
int rbd_notify_watchdog_start(struct rbd_daemon *d);
/* Stop the pings and free the timer; fine to call when none was started. */
void rbd_notify_watchdog_stop(void);

#endif
