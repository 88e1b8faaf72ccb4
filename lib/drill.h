/* Drill schedules: the policy's `drill: { every: 7d, window: "Tue
 * 10:00-12:00" }`, and when a drill is due. Pure: the shell passes the
 * wall clock and the local time of day it reads (localtime_r); nothing
 * here reads a clock, a time zone or the environment.
 *
 * A window is one weekday and a range of local time on it, start
 * included, end excluded: "Tue 10:00-12:00" is Tuesdays from 10:00:00 to
 * 11:59:59. It does not cross midnight ("24:00" may end it). A drill is
 * due at a time inside a window when no drill has passed yet, or when
 * the last passed one will be at least `every` old at the window's end:
 * so a drill that passed at 10:05 one Tuesday is due again in the next
 * Tuesday's window with every: 7d, not a week later. A window in which
 * a drill already ended, whatever its result, has no other one: a failed
 * drill is not repeated until the next window. */
#ifndef RBD_DRILL_H
#define RBD_DRILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RBD_DRILL_WINDOW_STR_MAX	32	/* "Tue 10:00-12:00" and NUL */

struct rbd_drill_window {
	int wday;		/* 0 Sunday .. 6 Saturday, as struct tm */
	unsigned start, end;	/* minutes of the day, start < end <= 1440 */
};

/* A local time as the shell reads it: weekday (0 Sunday), minute of the
 * day (0..1439) and second of the minute (0..60). */
struct rbd_local_time {
	int wday;
	unsigned minute;
	unsigned second;
};

/* Parse "Tue 10:00-12:00": a weekday (Mon, Tue, Wed, Thu, Fri, Sat, Sun
 * or the full name, any case), spaces, HH:MM-HH:MM with 00..23 hours
 * (24:00 as the end only) and 00..59 minutes, the end after the start.
 * Returns 0 and fills *ret, or -EINVAL with a static reason in *ret_why
 * ("expected a weekday first: Mon, Tue, Wed, Thu, Fri, Sat or Sun",
 * "expected a space after the weekday", "expected a time range
 * HH:MM-HH:MM (00:00 to 24:00) after the weekday", "unexpected text after
 * the time range", "the window must end after it starts, on the same day
 * (it cannot cross midnight)") and the 0-based byte offset of the problem
 * in *ret_off. ret_why and ret_off may be NULL; *ret is not written on
 * failure. */
int rbd_drill_window_parse(const char *s, struct rbd_drill_window *ret,
    const char **ret_why, size_t *ret_off);

/* "Tue 10:00-12:00". Returns buf (at least RBD_DRILL_WINDOW_STR_MAX). */
char *rbd_drill_window_str(const struct rbd_drill_window *w, char *buf,
    size_t len);

/* Whether now is inside the window. */
bool rbd_drill_in_window(const struct rbd_drill_window *w,
    const struct rbd_local_time *now);

/* usec from now until the window next starts: 0 inside it. */
uint64_t rbd_drill_until_window(const struct rbd_drill_window *w,
    const struct rbd_local_time *now);

/* usec from now until the end of the window, when inside it; 0 outside. */
uint64_t rbd_drill_window_left(const struct rbd_drill_window *w,
    const struct rbd_local_time *now);

/* Whether a drill is due at now (now_wall, wall usec, and its local time
 * now): inside the window, no drill ended in it (last_wall, wall usec of
 * the last drill's end, whatever its result; 0 never), and
 * last_passed_wall (the last passed one; 0 never) is 0 or at least every
 * old at the window's end. */
bool rbd_drill_due(const struct rbd_drill_window *w, uint64_t every,
    uint64_t last_passed_wall, uint64_t last_wall, uint64_t now_wall,
    const struct rbd_local_time *now);

/* The wall time (usec) of the next window in which a drill will be due,
 * seen from now (now_wall and its local time now): now when one is due
 * now, else the start of the first window from now on whose end is at
 * least every after last_passed_wall. Days are taken as 24 hours (a
 * daylight saving change moves it by an hour; the shell looks again when
 * it gets there). */
uint64_t rbd_drill_next_due(const struct rbd_drill_window *w, uint64_t every,
    uint64_t last_passed_wall, uint64_t last_wall, uint64_t now_wall,
    const struct rbd_local_time *now);

#endif
