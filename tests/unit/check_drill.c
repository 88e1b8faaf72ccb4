/* Drill schedules (lib/drill.c): the window parser, and when a drill is
 * due. Messages are compared exactly. */
#include <errno.h>
#include <string.h>

#include "drill.h"
#include "duration.h"
#include "testutil.h"

#define MIN	RBD_USEC_PER_MIN
#define HOUR	RBD_USEC_PER_HOUR
#define DAY	RBD_USEC_PER_DAY
#define WEEK	(7 * DAY)

static const struct {
	const char *in;
	int wday;
	unsigned start, end;
	const char *out;
} good[] = {
	{ "Tue 10:00-12:00", 2, 600, 720, "Tue 10:00-12:00" },
	{ "tue 10:00-12:00", 2, 600, 720, "Tue 10:00-12:00" },
	{ "Sunday  00:00-24:00", 0, 0, 1440, "Sun 00:00-24:00" },
	{ "SAT\t23:59-24:00", 6, 1439, 1440, "Sat 23:59-24:00" },
	{ "Mon 09:30-09:31", 1, 570, 571, "Mon 09:30-09:31" },
};

START_TEST(test_window_good)
{
	struct rbd_drill_window w;
	char buf[RBD_DRILL_WINDOW_STR_MAX];
	const char *why = NULL;

	ck_assert_int_eq(rbd_drill_window_parse(good[_i].in, &w, &why, NULL), 0);
	ck_assert_int_eq(w.wday, good[_i].wday);
	ck_assert_uint_eq(w.start, good[_i].start);
	ck_assert_uint_eq(w.end, good[_i].end);
	ck_assert_str_eq(rbd_drill_window_str(&w, buf, sizeof(buf)),
	    good[_i].out);
}
END_TEST

static const struct {
	const char *in;
	size_t off;
	const char *why;
} bad[] = {
	{ "", 0, "expected a weekday first: Mon, Tue, Wed, Thu, Fri, Sat or Sun" },
	{ "Tus 10:00-12:00", 0, "expected a weekday first: Mon, Tue, Wed, Thu, "
	    "Fri, Sat or Sun" },
	{ "10:00-12:00", 0, "expected a weekday first: Mon, Tue, Wed, Thu, Fri, "
	    "Sat or Sun" },
	{ "Tue", 3, "expected a space after the weekday" },
	{ "Tue 10-12", 4, "expected a time range HH:MM-HH:MM (00:00 to 24:00) "
	    "after the weekday" },
	{ "Tue 10:00 12:00", 4, "expected a time range HH:MM-HH:MM (00:00 to "
	    "24:00) after the weekday" },
	{ "Tue 25:00-26:00", 4, "expected a time range HH:MM-HH:MM (00:00 to "
	    "24:00) after the weekday" },
	{ "Tue 10:60-12:00", 4, "expected a time range HH:MM-HH:MM (00:00 to "
	    "24:00) after the weekday" },
	{ "Tue 24:00-24:00", 4, "expected a time range HH:MM-HH:MM (00:00 to "
	    "24:00) after the weekday" },
	{ "Tue 10:00-24:30", 4, "expected a time range HH:MM-HH:MM (00:00 to "
	    "24:00) after the weekday" },
	{ "Tue 10:00-12:00 UTC", 15, "unexpected text after the time range" },
	{ "Tue 12:00-10:00", 4, "the window must end after it starts, on the "
	    "same day (it cannot cross midnight)" },
	{ "Fri 23:00-01:00", 4, "the window must end after it starts, on the "
	    "same day (it cannot cross midnight)" },
	{ "Tue 10:00-10:00", 4, "the window must end after it starts, on the "
	    "same day (it cannot cross midnight)" },
};

START_TEST(test_window_bad)
{
	struct rbd_drill_window w = { .wday = 42 };
	const char *why = NULL;
	size_t off = 999;

	ck_assert_int_eq(rbd_drill_window_parse(bad[_i].in, &w, &why, &off),
	    -EINVAL);
	ck_assert_str_eq(why, bad[_i].why);
	ck_assert_uint_eq(off, bad[_i].off);
	ck_assert_int_eq(w.wday, 42);	/* untouched */
	ck_assert_int_eq(rbd_drill_window_parse(bad[_i].in, &w, NULL, NULL),
	    -EINVAL);
}
END_TEST

static const struct rbd_drill_window tue = { 2, 600, 720 };	/* 10-12 */

/* A local time: weekday, HH:MM:SS. */
static struct rbd_local_time at(int wday, unsigned h, unsigned m, unsigned s)
{
	return (struct rbd_local_time){ wday, h * 60 + m, s };
}

/* In the window, start included, end excluded; the time until it. */
START_TEST(test_window_times)
{
	struct rbd_local_time t;

	t = at(2, 10, 0, 0);
	ck_assert(rbd_drill_in_window(&tue, &t));
	ck_assert_uint_eq(rbd_drill_until_window(&tue, &t), 0);
	ck_assert_uint_eq(rbd_drill_window_left(&tue, &t), 2 * HOUR);
	t = at(2, 11, 59, 59);
	ck_assert(rbd_drill_in_window(&tue, &t));
	ck_assert_uint_eq(rbd_drill_window_left(&tue, &t), RBD_USEC_PER_SEC);
	t = at(2, 12, 0, 0);
	ck_assert(!rbd_drill_in_window(&tue, &t));
	ck_assert_uint_eq(rbd_drill_window_left(&tue, &t), 0);
	ck_assert_uint_eq(rbd_drill_until_window(&tue, &t), WEEK - 2 * HOUR);
	t = at(2, 9, 59, 30);
	ck_assert(!rbd_drill_in_window(&tue, &t));
	ck_assert_uint_eq(rbd_drill_until_window(&tue, &t), 30 * RBD_USEC_PER_SEC);
	t = at(1, 10, 0, 0);		/* Monday 10:00: a day ahead */
	ck_assert_uint_eq(rbd_drill_until_window(&tue, &t), DAY);
	t = at(3, 10, 0, 0);		/* Wednesday 10:00: six days */
	ck_assert_uint_eq(rbd_drill_until_window(&tue, &t), 6 * DAY);
	t = at(0, 0, 0, 0);		/* Sunday midnight */
	ck_assert_uint_eq(rbd_drill_until_window(&tue, &t), 2 * DAY + 10 * HOUR);
}
END_TEST

/* Due: in the window, never passed or old enough at the window's end. */
#define NOW	(UINT64_C(1800000000) * RBD_USEC_PER_SEC)
START_TEST(test_due)
{
	struct rbd_local_time in = at(2, 10, 30, 0), out = at(2, 12, 30, 0);
	uint64_t last;

	ck_assert(rbd_drill_due(&tue, WEEK, 0, 0, NOW, &in));
	ck_assert(!rbd_drill_due(&tue, WEEK, 0, 0, NOW, &out));
	/* Passed last Tuesday at 10:45: due again today at 10:30. */
	last = NOW - WEEK + 15 * MIN;
	ck_assert(rbd_drill_due(&tue, WEEK, last, last, NOW, &in));
	/* ... but not with every: 14d. */
	ck_assert(!rbd_drill_due(&tue, 2 * WEEK, last, last, NOW, &in));
	/* Passed an hour ago, in this window. */
	ck_assert(!rbd_drill_due(&tue, WEEK, NOW - HOUR, NOW - HOUR, NOW, &in));
	/* A drill that failed in this window is not repeated in it; one that
	 * failed last week does not stop this one. */
	ck_assert(!rbd_drill_due(&tue, WEEK, 0, NOW - 10 * MIN, NOW, &in));
	ck_assert(rbd_drill_due(&tue, WEEK, 0, NOW - 31 * MIN, NOW, &in));
	ck_assert(rbd_drill_due(&tue, WEEK, NOW - WEEK, NOW - WEEK + HOUR, NOW,
	    &in));
	ck_assert_uint_eq(rbd_drill_next_due(&tue, WEEK, 0, NOW - 10 * MIN, NOW,
	    &in), NOW - 30 * MIN + WEEK);
	/* A last pass in the future (a clock set back) is not old enough. */
	ck_assert(!rbd_drill_due(&tue, WEEK, NOW + HOUR, NOW + HOUR, NOW, &in));
}
END_TEST

/* The next window with a drill due. */
START_TEST(test_next_due)
{
	struct rbd_local_time in = at(2, 10, 30, 0), mon = at(1, 10, 0, 0);
	uint64_t h = NOW - HOUR, d3 = NOW - 3 * DAY;

	/* Due now. */
	ck_assert_uint_eq(rbd_drill_next_due(&tue, WEEK, 0, 0, NOW, &in), NOW);
	/* Monday: tomorrow's window. */
	ck_assert_uint_eq(rbd_drill_next_due(&tue, WEEK, 0, 0, NOW, &mon),
	    NOW + DAY);
	/* Passed in this window: next week's. */
	ck_assert_uint_eq(rbd_drill_next_due(&tue, WEEK, h, h, NOW, &in),
	    NOW - 30 * MIN + WEEK);
	/* every: 14d, passed today: the window two weeks on. */
	ck_assert_uint_eq(rbd_drill_next_due(&tue, 2 * WEEK, h, h, NOW, &in),
	    NOW - 30 * MIN + 2 * WEEK);
	/* every: 1d, passed an hour ago, seen on Monday: tomorrow's window
	 * ends more than a day after it. */
	ck_assert_uint_eq(rbd_drill_next_due(&tue, DAY, h, h, NOW, &mon),
	    NOW + DAY);
	/* every: 30d, passed 3 days ago, seen on Monday: the window in 4
	 * weeks and a day is the first to end 30 days after it. */
	ck_assert_uint_eq(rbd_drill_next_due(&tue, 30 * DAY, d3, d3, NOW, &mon),
	    NOW + DAY + 4 * WEEK);
}
END_TEST

static Suite *drill_suite(void)
{
	Suite *s = suite_create("drill");
	TCase *tc = tcase_create("window");

	tcase_add_loop_test(tc, test_window_good, 0, N_ELEMENTS(good));
	tcase_add_loop_test(tc, test_window_bad, 0, N_ELEMENTS(bad));
	tcase_add_test(tc, test_window_times);
	suite_add_tcase(s, tc);
	tc = tcase_create("due");
	tcase_add_test(tc, test_due);
	tcase_add_test(tc, test_next_due);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(drill_suite());
}
