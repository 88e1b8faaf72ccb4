/* rollbackctl's human output: the status table, the history timeline and
 * the lines of a --wait stream, built from the daemon's reply objects
 * (their fields are documented in rollbackd(8)).
 *
 * Formatting only: the current wall clock comes in as a parameter and
 * nothing here talks to the daemon, so the output can be tested with
 * canned replies. Every string that came from the daemon is printed with
 * its control characters escaped, so that a reason (which may quote a
 * deploy command's output) cannot rewrite the operator's terminal. */
#ifndef RBD_CTL_FORMAT_H
#define RBD_CTL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Copy s into buf with control characters (C0, DEL and the UTF-8 encoded
 * C1 range) written as \n, \r, \t, \xNN or \u00NN, and bytes that are
 * not UTF-8 as \xNN. When the result does not fit,
 * it is cut and ends with "...". NULL s gives "-". len must be at least
 * 8. Returns buf. */
char *rbd_ctl_escape(const char *s, char *buf, size_t len);

/* Print s escaped as above, however long it is. NULL s prints "-". */
void rbd_ctl_puts(FILE *out, const char *s);

/* A status reply ({"ok":true,"services":[...]}) as a table: SERVICE,
 * STATE, LIVE, KNOWN-GOOD, SINCE (relative to now_usec, wall clock),
 * REASON. STATE says "(dry-run)", "(paused)", "(deploying)" or
 * "(migrating down)" after the state when the service's fields say so.
 *
 * Without checks (every service), a line after the table for each
 * service that needs one, "checkout: " first: "DRY-RUN: judging only,
 * nothing is run", "paused by uid 0 pid 42 until 10:52:07 (in 9m58s): db
 * maintenance" (or "until resumed"), "running migrate_down 43 -> 42
 * before deploying v2.4.1", "guard postgres: FAILING since 10:42:07
 * (connection refused)". With checks (one service), those lines and also
 * "schema 43 (irreversible migration from 42)", "automatic rollbacks: 1
 * of 3 in the last 1h" and a line for every guard ("guard postgres: ok"),
 * then its checks in a second table. Times of day are local, with the
 * date when it is not today. Fields a reply lacks print nothing.
 *
 * Before all of that, when the reply's "schedule" says the daemon is
 * overloaded, one line from its "last_10s" counts and its p99 lateness:
 * "rollbackd is overloaded: 37 samples late, 120 missed in the last 10s
 * (p99 1.4s); late samples count as unknown".
 * Returns 0, or -EBADMSG when the reply has no "services" array. */
int rbd_ctl_print_status(FILE *out, const json_t *reply, uint64_t now_usec,
    bool checks);

/* A history reply ({"ok":true,"service":..,"events":[...]}), newest first,
 * one line per event with its local time. Events with shorthand names are
 * shown in words ("loop-breaker": "held: too many rollbacks"); unknown
 * ones as they are. Returns 0, or -EBADMSG when the reply has no "events"
 * array. */
int rbd_ctl_print_history(FILE *out, const json_t *reply);

/* The state a request left a service in, from a reply with "service",
 * "state", "live" and "reason": "checkout: watching v2.4.2 (reason)". */
void rbd_ctl_print_state(FILE *out, const json_t *reply);

/* The reply to pause or resume (the state reply with "paused": null or
 * {"by", "reason", "until"}): "checkout: paused by uid 0 pid 42 until
 * 10:52:07 (in 10m0s): db maintenance", or with no pause "checkout:
 * resumed: automatic actions run again (idle v2.4.1)" (resumed) or
 * "checkout: not paused: ...". */
void rbd_ctl_print_paused(FILE *out, const json_t *reply, uint64_t now_usec,
    bool resumed);

/* One progress line of a --wait stream, prefixed with the local time of
 * its "at" (or of now_usec): the first reply, a "transition" or a "sample"
 * event. Other events print nothing, so that a newer daemon can add some. */
void rbd_ctl_print_progress(FILE *out, const json_t *msg, uint64_t now_usec);

/* Drill: a drill's verdict ({"event":"verdict", "verdict":"drill_passed",
 * "drill": {...}, ...}) as its report: L -> K -> L, each step with its
 * command, how long the deploy command took, the time until healthy and
 * how the verification ended, then the verdict ("passed", "FAILED: v2.4.1
 * unhealthy: ...", "aborted"). */
void rbd_ctl_print_drill_report(FILE *out, const json_t *ev);

/* The local time of a wall-clock usec into buf: "2026-11-27 15:04:05"
 * with date, "15:04:05" without. Returns buf. */
char *rbd_ctl_time(uint64_t usec, bool date, char *buf, size_t len);

#endif
