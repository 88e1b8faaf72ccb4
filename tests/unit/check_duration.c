/* Durations: parsing as people write them, and formatting back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "testutil.h"

static const struct {
	const char *in;
	uint64_t usec;
} good[] = {
	{ "0", 0 },
	{ "0s", 0 },
	{ "1us", 1 },
	{ "250ms", 250 * RBD_USEC_PER_MSEC },
	{ "10s", 10 * RBD_USEC_PER_SEC },
	{ "5m", 5 * RBD_USEC_PER_MIN },
	{ "1h", RBD_USEC_PER_HOUR },
	{ "1h30m", 90 * RBD_USEC_PER_MIN },
	{ "2d3h4m5s6ms7us", 2 * RBD_USEC_PER_DAY + 3 * RBD_USEC_PER_HOUR +
	    4 * RBD_USEC_PER_MIN + 5 * RBD_USEC_PER_SEC + 6000 + 7 },
	{ "1500ms", 1500 * RBD_USEC_PER_MSEC },
	{ "90s", 90 * RBD_USEC_PER_SEC },
	{ "007s", 7 * RBD_USEC_PER_SEC },
	{ "365d", 365 * RBD_USEC_PER_DAY },
	{ "8760h", 365 * RBD_USEC_PER_DAY },
};

START_TEST(test_parse_good)
{
	uint64_t usec = 42;
	const char *why = NULL;

	ck_assert_int_eq(rbd_duration_parse(good[_i].in, &usec, &why), 0);
	ck_assert_msg(usec == good[_i].usec, "%s: got %llu", good[_i].in,
	    (unsigned long long)usec);
}
END_TEST

static const struct {
	const char *in;
	int err;
	const char *why;
} bad[] = {
	{ "", -EINVAL, "empty" },
	{ "10", -EINVAL, "needs a unit (us, ms, s, m, h, d)" },
	{ "5 m", -EINVAL, "unknown unit; use us, ms, s, m, h or d" },
	{ " 5m", -EINVAL, "expected a number followed by a unit (us, ms, s, m, h, d)" },
	{ "-1s", -EINVAL, "must not be negative" },
	{ "1.5s", -EINVAL, "fractions are not supported; use a smaller unit (1500ms, not 1.5s)" },
	{ "1m1h", -EINVAL, "units must go from the largest to the smallest, each once (1h30m)" },
	{ "1s1s", -EINVAL, "units must go from the largest to the smallest, each once (1h30m)" },
	{ "10x", -EINVAL, "unknown unit; use us, ms, s, m, h or d" },
	{ "s", -EINVAL, "expected a number followed by a unit (us, ms, s, m, h, d)" },
	{ "1hh", -EINVAL, "expected a number followed by a unit (us, ms, s, m, h, d)" },
	{ "10S", -EINVAL, "unknown unit; use us, ms, s, m, h or d" },
	{ "366d", -ERANGE, "longer than 365 days" },
	{ "365d1us", -ERANGE, "longer than 365 days" },
	{ "99999999999h", -ERANGE, "longer than 365 days" },
	{ "99999999999999999999999999s", -ERANGE, "longer than 365 days" },
};

START_TEST(test_parse_bad)
{
	uint64_t usec = 42;
	const char *why = NULL;

	ck_assert_int_eq(rbd_duration_parse(bad[_i].in, &usec, &why), bad[_i].err);
	ck_assert_str_eq(why, bad[_i].why);
	/* Never written on failure. */
	ck_assert_uint_eq(usec, 42);
}
END_TEST

START_TEST(test_parse_null_why)
{
	uint64_t usec;

	ck_assert_int_eq(rbd_duration_parse("nope", &usec, NULL), -EINVAL);
	ck_assert_int_eq(rbd_duration_parse(NULL, &usec, NULL), -EINVAL);
}
END_TEST

static const struct {
	uint64_t usec;
	const char *out;
} fmt[] = {
	{ 0, "0s" },
	{ 1, "1us" },
	{ 250 * RBD_USEC_PER_MSEC, "250ms" },
	{ 1500 * RBD_USEC_PER_MSEC, "1s500ms" },
	{ 90 * RBD_USEC_PER_MIN, "1h30m" },
	{ RBD_USEC_PER_DAY + 1, "1d1us" },
	{ 10 * RBD_USEC_PER_MIN, "10m" },
};

START_TEST(test_format)
{
	char buf[RBD_DURATION_STR_MAX];
	uint64_t back = 0;

	ck_assert_str_eq(rbd_duration_str(fmt[_i].usec, buf, sizeof(buf)), fmt[_i].out);
	/* What it prints, it reads. */
	ck_assert_int_eq(rbd_duration_parse(buf, &back, NULL), 0);
	ck_assert_uint_eq(back, fmt[_i].usec);
}
END_TEST

/* Measured times for reports: ms below a second, tenths below a minute,
 * whole seconds above. */
static const struct {
	uint64_t usec;
	const char *want;
} elapsed[] = {
	{ 0, "0ms" },
	{ 850 * 1000, "850ms" },
	{ 999999, "999ms" },
	{ 1000000, "1.0s" },
	{ 1234567, "1.2s" },
	{ 59999999, "59.9s" },
	{ 60000000, "1m" },
	{ 123456789, "2m3s" },
};

START_TEST(test_elapsed)
{
	char buf[RBD_DURATION_STR_MAX];

	ck_assert_str_eq(rbd_elapsed_str(elapsed[_i].usec, buf, sizeof(buf)),
	    elapsed[_i].want);
}
END_TEST

START_TEST(test_format_fits_and_truncates)
{
	char buf[RBD_DURATION_STR_MAX], tiny[4];
	uint64_t all = 2 * RBD_USEC_PER_DAY + 23 * RBD_USEC_PER_HOUR +
	    59 * RBD_USEC_PER_MIN + 59 * RBD_USEC_PER_SEC + 999999;

	rbd_duration_str(all, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2d23h59m59s999ms999us");
	/* A short buffer stays NUL-terminated and holds whole units only. */
	rbd_duration_str(all, tiny, sizeof(tiny));
	ck_assert_str_eq(tiny, "2d");
}
END_TEST

static Suite *duration_suite(void)
{
	Suite *s = suite_create("duration");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_parse_good, 0, N_ELEMENTS(good));
	tcase_add_loop_test(tc, test_parse_bad, 0, N_ELEMENTS(bad));
	tcase_add_test(tc, test_parse_null_why);
	suite_add_tcase(s, tc);
	tc = tcase_create("format");
	tcase_add_loop_test(tc, test_format, 0, N_ELEMENTS(fmt));
	tcase_add_test(tc, test_format_fits_and_truncates);
	tcase_add_loop_test(tc, test_elapsed, 0, N_ELEMENTS(elapsed));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(duration_suite());
}
