/* Drill schedules: see drill.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "drill.h"
#include "duration.h"

#define MIN_PER_DAY	1440u
#define USEC_PER_WEEK	(7 * RBD_USEC_PER_DAY)

static const char *const days[7] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char *const long_days[7] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday",
};

/* Fail with why at offset off. */
static int fail(const char **ret_why, size_t *ret_off, const char *why,
    size_t off)
{
	if (ret_why)
		*ret_why = why;
	if (ret_off)
		*ret_off = off;
	return -EINVAL;
}

/* Two digits at s, 0..max, into *ret. */
static bool two_digits(const char *s, unsigned max, unsigned *ret)
{
	unsigned n;

	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return false;
	n = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	if (n > max)
		return false;
	*ret = n;
	return true;
}

/* "HH:MM" at s into minutes of the day (24:00 when end). */
static bool hhmm(const char *s, bool end, unsigned *ret)
{
	unsigned h, m;

	if (!two_digits(s, 24, &h) || s[2] != ':' || !two_digits(s + 3, 59, &m))
		return false;
	if (h == 24 && (!end || m != 0))
		return false;
	*ret = h * 60 + m;
	return true;
}

int rbd_drill_window_parse(const char *s, struct rbd_drill_window *ret,
    const char **ret_why, size_t *ret_off)
{
	struct rbd_drill_window w;
	size_t n = strcspn(s, " \t"), off;

	w.wday = -1;
	for (int i = 0; i < 7; i++)
		if ((n == 3 && strncasecmp(s, days[i], 3) == 0) ||
		    (n == strlen(long_days[i]) &&
		    strncasecmp(s, long_days[i], n) == 0))
			w.wday = i;
	if (w.wday < 0)
		return fail(ret_why, ret_off, "expected a weekday first: Mon, "
		    "Tue, Wed, Thu, Fri, Sat or Sun", 0);
	off = n + strspn(s + n, " \t");
	if (off == n)
		return fail(ret_why, ret_off, "expected a space after the "
		    "weekday", n);
	if (strlen(s + off) < 11 || !hhmm(s + off, false, &w.start) ||
	    s[off + 5] != '-' || !hhmm(s + off + 6, true, &w.end))
		return fail(ret_why, ret_off, "expected a time range HH:MM-HH:MM "
		    "(00:00 to 24:00) after the weekday", off);
	if (s[off + 11])
		return fail(ret_why, ret_off, "unexpected text after the time "
		    "range", off + 11);
	if (w.end <= w.start)
		return fail(ret_why, ret_off, "the window must end after it "
		    "starts, on the same day (it cannot cross midnight)", off);
	*ret = w;
	return 0;
}

char *rbd_drill_window_str(const struct rbd_drill_window *w, char *buf,
    size_t len)
{
	snprintf(buf, len, "%s %02u:%02u-%02u:%02u",
	    w->wday >= 0 && w->wday < 7 ? days[w->wday] : "?",
	    w->start / 60, w->start % 60, w->end / 60, w->end % 60);
	return buf;
}

/* usec since the start of the local day. */
static uint64_t day_usec(const struct rbd_local_time *now)
{
	return (uint64_t)now->minute * RBD_USEC_PER_MIN +
	    (uint64_t)now->second * RBD_USEC_PER_SEC;
}

bool rbd_drill_in_window(const struct rbd_drill_window *w,
    const struct rbd_local_time *now)
{
	return now->wday == w->wday && now->minute >= w->start &&
	    now->minute < w->end;
}

uint64_t rbd_drill_until_window(const struct rbd_drill_window *w,
    const struct rbd_local_time *now)
{
	uint64_t start = (uint64_t)w->start * RBD_USEC_PER_MIN;
	uint64_t t = day_usec(now);
	int days_ahead = ((w->wday - now->wday) % 7 + 7) % 7;

	if (rbd_drill_in_window(w, now))
		return 0;
	/* Today's window has passed (or is later today: days_ahead 0). */
	if (days_ahead == 0 && t >= start)
		days_ahead = 7;
	return (uint64_t)days_ahead * RBD_USEC_PER_DAY + start - t;
}

uint64_t rbd_drill_window_left(const struct rbd_drill_window *w,
    const struct rbd_local_time *now)
{
	uint64_t end = (uint64_t)w->end * RBD_USEC_PER_MIN, t = day_usec(now);

	if (!rbd_drill_in_window(w, now) || t >= end)
		return 0;
	return end - t;
}

/* Whether a window ending at end_wall is late enough after last. */
static bool old_enough(uint64_t every, uint64_t last, uint64_t end_wall)
{
	return !last || (end_wall > last && end_wall - last >= every);
}

bool rbd_drill_due(const struct rbd_drill_window *w, uint64_t every,
    uint64_t last_passed_wall, uint64_t last_wall, uint64_t now_wall,
    const struct rbd_local_time *now)
{
	uint64_t since_start;

	if (!rbd_drill_in_window(w, now))
		return false;
	since_start = day_usec(now) - (uint64_t)w->start * RBD_USEC_PER_MIN;
	if (last_wall && now_wall >= since_start &&
	    last_wall >= now_wall - since_start)
		return false;		/* one ended in this window already */
	return old_enough(every, last_passed_wall,
	    now_wall + rbd_drill_window_left(w, now));
}

uint64_t rbd_drill_next_due(const struct rbd_drill_window *w, uint64_t every,
    uint64_t last_passed_wall, uint64_t last_wall, uint64_t now_wall,
    const struct rbd_local_time *now)
{
	uint64_t len = (uint64_t)(w->end - w->start) * RBD_USEC_PER_MIN;
	uint64_t start;

	if (rbd_drill_due(w, every, last_passed_wall, last_wall, now_wall, now))
		return now_wall;
	start = now_wall + rbd_drill_until_window(w, now);
	if (rbd_drill_in_window(w, now))	/* this one is too early */
		start = now_wall - (day_usec(now) - (uint64_t)w->start *
		    RBD_USEC_PER_MIN) + USEC_PER_WEEK;
	if (!old_enough(every, last_passed_wall, start + len)) {
		/* Whole weeks until a window ends every after last. */
		uint64_t need = last_passed_wall + every - (start + len);

		start += (need + USEC_PER_WEEK - 1) / USEC_PER_WEEK *
		    USEC_PER_WEEK;
	}
	return start;
}
