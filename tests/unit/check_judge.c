/* Judging metric values: min / max, baselines, the Mann-Whitney test, and
 * the windows of samples. Reasons are compared exactly. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "judge.h"
#include "testutil.h"

static const double b3[] = { 0.3, 0.34, 0.38 };
static const double b5[] = { 0.30, 0.32, 0.34, 0.36, 0.38 };
static const double z5[] = { 0, 0, 0, 0, 0 };
static const double h5[] = { 90, 95, 100, 105, 110 };
static const double b10[] = {
	0.30, 0.31, 0.32, 0.33, 0.34, 0.35, 0.36, 0.37, 0.38, 0.39,
};
/* All above b10: U = 100, exact p = 1 / C(20, 10). */
static const double hi10[] = {
	0.50, 0.51, 0.52, 0.53, 0.54, 0.55, 0.56, 0.57, 0.58, 0.59,
};
/* Each just above one of b10: U = 1 + 2 + ... + 10 = 55, p = 0.37. */
static const double mid10[] = {
	0.305, 0.315, 0.325, 0.335, 0.345, 0.355, 0.365, 0.375, 0.385, 0.395,
};
static const double two[] = { 0.33, 0.35 };

#define MAX(x) .has_max = true, .max = (x)
#define MIN(x) .has_min = true, .min = (x)
#define BASE .baseline = true, .min_samples = 5
#define INC(x) .has_max_increase = true, .max_increase = (x)
#define DELTA(x) .has_max_delta = true, .max_delta = (x)
#define MWU .mann_whitney = true, .confidence = 0.95
#define S(a) a, N_ELEMENTS(a)
#define NONE NULL, 0

static const struct {
	struct rbd_condition c;
	double value;
	const double *before;
	size_t n_before;
	const double *after;
	size_t n_after;
	enum rbd_sample_result res;
	const char *detail;
} cases[] = {
	/* min / max */
	{ { MAX(0.02) }, 0.031, NONE, NONE, RBD_SAMPLE_FAIL, "0.031 > max 0.02" },
	{ { MAX(0.02) }, 0.012, NONE, NONE, RBD_SAMPLE_OK, "0.012 <= max 0.02" },
	{ { MAX(0.02) }, 0.02, NONE, NONE, RBD_SAMPLE_OK, "0.02 <= max 0.02" },
	{ { MIN(0.5) }, 0.4, NONE, NONE, RBD_SAMPLE_FAIL, "0.4 < min 0.5" },
	{ { MIN(0.5) }, 0.6, NONE, NONE, RBD_SAMPLE_OK, "0.6 >= min 0.5" },
	{ { MIN(0.5), MAX(1) }, 0.7, NONE, NONE, RBD_SAMPLE_OK,
	  "0.7 >= min 0.5, <= max 1" },
	{ { MIN(0.5), MAX(1) }, 1.5, NONE, NONE, RBD_SAMPLE_FAIL,
	  "1.5 > max 1" },
	/* Digits enough to tell a value from its threshold. */
	{ { MAX(0.1) }, 0.1004, NONE, NONE, RBD_SAMPLE_FAIL,
	  "0.1004 > max 0.1" },
	{ { MAX(1000) }, 1500, NONE, NONE, RBD_SAMPLE_FAIL, "1500 > max 1000" },
	{ { MAX(100000) }, 123456, NONE, NONE, RBD_SAMPLE_FAIL,
	  "123456 > max 100000" },
	{ { MAX(1e-6) }, 2.5e-6, NONE, NONE, RBD_SAMPLE_FAIL,
	  "2.5e-06 > max 1e-06" },
	{ { MAX(0.02) }, INFINITY, NONE, NONE, RBD_SAMPLE_FAIL,
	  "+Inf > max 0.02" },
	{ { MIN(0) }, -INFINITY, NONE, NONE, RBD_SAMPLE_FAIL, "-Inf < min 0" },
	{ { MAX(0.02) }, NAN, NONE, NONE, RBD_SAMPLE_UNKNOWN, "value is NaN" },
	/* min / max come first, and a baseline too small does not hide them. */
	{ { MAX(0.5), BASE, INC(0.5) }, 0.6, S(b3), NONE, RBD_SAMPLE_FAIL,
	  "0.6 > max 0.5" },
	{ { BASE, INC(0.5) }, 0.35, S(b3), NONE, RBD_SAMPLE_UNKNOWN,
	  "baseline has 3 samples; needs 5" },
	{ { BASE, INC(0.5) }, 0.35, NONE, NONE, RBD_SAMPLE_UNKNOWN,
	  "baseline has 0 samples; needs 5" },
	{ { .baseline = true, INC(0.5) }, 0.35, NONE, NONE, RBD_SAMPLE_UNKNOWN,
	  "baseline has 0 samples; needs 1" },
	/* max_increase */
	{ { BASE, INC(0.5) }, 0.62, S(b5), NONE, RBD_SAMPLE_FAIL,
	  "0.62 is 82% above the baseline 0.34 (median of 5 samples; "
	  "max_increase 50%)" },
	{ { BASE, INC(0.5) }, 0.35, S(b5), NONE, RBD_SAMPLE_OK,
	  "0.35 within 50% of the baseline 0.34 (median of 5 samples)" },
	{ { BASE, INC(0.5) }, 0.2, S(b5), NONE, RBD_SAMPLE_OK,
	  "0.2 within 50% of the baseline 0.34 (median of 5 samples)" },
	{ { BASE, INC(0.5) }, 150.3, S(h5), NONE, RBD_SAMPLE_FAIL,
	  "150.3 is 50.3% above the baseline 100 (median of 5 samples; "
	  "max_increase 50%)" },
	{ { BASE, INC(0.5) }, 149.7, S(h5), NONE, RBD_SAMPLE_OK,
	  "149.7 within 50% of the baseline 100 (median of 5 samples)" },
	{ { BASE, INC(0.125) }, 200, S(h5), NONE, RBD_SAMPLE_FAIL,
	  "200 is 100% above the baseline 100 (median of 5 samples; "
	  "max_increase 12.5%)" },
	/* A baseline of 0 allows no increase... */
	{ { BASE, INC(0.5) }, 0.001, S(z5), NONE, RBD_SAMPLE_FAIL,
	  "0.001 is above the baseline 0 (median of 5 samples; "
	  "max_increase 50%)" },
	{ { BASE, INC(0.5) }, 0, S(z5), NONE, RBD_SAMPLE_OK,
	  "0 within 50% of the baseline 0 (median of 5 samples)" },
	/* ...unless max_delta does. */
	{ { BASE, INC(0.5), DELTA(0.01) }, 0.005, S(z5), NONE, RBD_SAMPLE_OK,
	  "0.005 within 50% or 0.01 of the baseline 0 (median of 5 samples)" },
	{ { BASE, INC(0.5), DELTA(0.01) }, 0.02, S(z5), NONE, RBD_SAMPLE_FAIL,
	  "0.02 is 0.02 above the baseline 0 (median of 5 samples; "
	  "max_increase 50%, max_delta 0.01)" },
	/* max_delta */
	{ { BASE, DELTA(0.1) }, 0.62, S(b5), NONE, RBD_SAMPLE_FAIL,
	  "0.62 is 0.28 above the baseline 0.34 (median of 5 samples; "
	  "max_delta 0.1)" },
	{ { BASE, DELTA(0.1) }, 0.44, S(b5), NONE, RBD_SAMPLE_OK,
	  "0.44 within 0.1 of the baseline 0.34 (median of 5 samples)" },
	/* Both: the value must exceed both allowances. */
	{ { BASE, INC(0.5), DELTA(0.1) }, 0.62, S(b5), NONE, RBD_SAMPLE_FAIL,
	  "0.62 is 82% (0.28) above the baseline 0.34 (median of 5 samples; "
	  "max_increase 50%, max_delta 0.1)" },
	{ { BASE, INC(0.5), DELTA(10) }, 140, S(h5), NONE, RBD_SAMPLE_OK,
	  "140 within 50% or 10 of the baseline 100 (median of 5 samples)" },
	{ { BASE, INC(0.5), DELTA(10) }, 160, S(h5), NONE, RBD_SAMPLE_FAIL,
	  "160 is 60% (60) above the baseline 100 (median of 5 samples; "
	  "max_increase 50%, max_delta 10)" },
	{ { BASE, INC(0.05), DELTA(0.2) }, 0.5, S(b5), NONE, RBD_SAMPLE_OK,
	  "0.5 within 5% or 0.2 of the baseline 0.34 (median of 5 samples)" },
	/* Bounds and baseline together. */
	{ { MAX(1), BASE, INC(0.5) }, 0.35, S(b5), NONE, RBD_SAMPLE_OK,
	  "0.35 <= max 1; within 50% of the baseline 0.34 (median of 5 "
	  "samples)" },
	{ { BASE }, 0.35, S(b5), NONE, RBD_SAMPLE_OK,
	  "0.35; the baseline 0.34 (median of 5 samples)" },
	/* Mann-Whitney */
	{ { BASE, MWU }, 0.59, S(b10), S(hi10), RBD_SAMPLE_FAIL,
	  "after is greater than before: p=5.41e-06 < 0.05 (U=100, effect "
	  "1.00, 10 vs 10 samples)" },
	{ { BASE, MWU }, 0.395, S(b10), S(mid10), RBD_SAMPLE_OK,
	  "0.395; the baseline 0.345 (median of 10 samples); Mann-Whitney "
	  "p=0.37 >= 0.05 (U=55, effect 0.55, 10 vs 10 samples)" },
	{ { BASE, INC(0.5), MWU }, 0.395, S(b10), S(mid10), RBD_SAMPLE_OK,
	  "0.395 within 50% of the baseline 0.345 (median of 10 samples); "
	  "Mann-Whitney p=0.37 >= 0.05 (U=55, effect 0.55, 10 vs 10 samples)" },
	/* The threshold speaks first. */
	{ { BASE, INC(0.5), MWU }, 0.59, S(b10), S(hi10), RBD_SAMPLE_FAIL,
	  "0.59 is 71% above the baseline 0.345 (median of 10 samples; "
	  "max_increase 50%)" },
	/* A stricter confidence. */
	{ { BASE, .mann_whitney = true, .confidence = 0.99999999 }, 0.59,
	  S(b10), S(hi10), RBD_SAMPLE_OK, "0.59; the baseline 0.345 (median "
	  "of 10 samples); Mann-Whitney p=5.41e-06 >= 1e-08 (U=100, effect 1.00, 10 vs 10 "
	  "samples)" },
	/* Too few after the deploy: the thresholds alone decide. */
	{ { BASE, INC(0.5), MWU }, 0.35, S(b5), S(two), RBD_SAMPLE_OK,
	  "0.35 within 50% of the baseline 0.34 (median of 5 samples); the "
	  "Mann-Whitney test needs 5 samples after the deploy, has 2" },
	{ { BASE, INC(0.5), MWU }, 0.35, S(b5), NONE, RBD_SAMPLE_OK,
	  "0.35 within 50% of the baseline 0.34 (median of 5 samples); the "
	  "Mann-Whitney test needs 5 samples after the deploy, has 0" },
};

START_TEST(test_judge)
{
	char detail[512];
	enum rbd_sample_result res;

	memset(detail, 'x', sizeof(detail));
	res = rbd_judge(&cases[_i].c, cases[_i].value, cases[_i].before,
	    cases[_i].n_before, cases[_i].after, cases[_i].n_after, detail,
	    sizeof(detail));
	ck_assert_str_eq(detail, cases[_i].detail);
	ck_assert_msg(res == cases[_i].res, "got %s",
	    rbd_sample_result_str(res));
}
END_TEST

/* What a watch sees: 60 samples before, 30 after, a shift upwards. */
START_TEST(test_judge_shift)
{
	struct rbd_condition c = { BASE, MWU, INC(10) };
	double before[60], after[30];
	char detail[512];

	for (int i = 0; i < 60; i++)
		before[i] = 0.30 + 0.001 * ((i * 37) % 60);
	for (int i = 0; i < 30; i++)
		after[i] = 0.33 + 0.001 * ((i * 7) % 30) + 0.0005;
	ck_assert_int_eq(rbd_judge(&c, after[29], before, 60, after, 30,
	    detail, sizeof(detail)), RBD_SAMPLE_FAIL);
	ck_assert_str_eq(detail, "after is greater than before: p=3.51e-05 < "
	    "0.05 (U=1365, effect 0.76, 30 vs 60 samples)");
}
END_TEST

START_TEST(test_judge_short_buffer)
{
	struct rbd_condition c = { MAX(0.02) };
	char tiny[10];

	ck_assert_int_eq(rbd_judge(&c, 0.031, NULL, 0, NULL, 0, tiny,
	    sizeof(tiny)), RBD_SAMPLE_FAIL);
	ck_assert_str_eq(tiny, "0.031 > m");
	ck_assert_int_eq(rbd_judge(&c, 0.031, NULL, 0, NULL, 0, NULL, 0),
	    RBD_SAMPLE_FAIL);
	c = (struct rbd_condition){ MAX(1), BASE, INC(0.5), MWU };
	ck_assert_int_eq(rbd_judge(&c, 0.35, b5, 5, two, 2, tiny,
	    sizeof(tiny)), RBD_SAMPLE_OK);
	ck_assert_str_eq(tiny, "0.35 <= m");
}
END_TEST

/* The window's values in order, oldest first. */
static size_t all_values(const struct rbd_window *w, double *out)
{
	return rbd_window_values(w, 0, UINT64_MAX, out, RBD_WINDOW_MAX);
}

START_TEST(test_window_ring)
{
	static double out[RBD_WINDOW_MAX];
	struct rbd_window w;

	ck_assert_int_eq(rbd_window_init(&w, 3), 0);
	ck_assert_uint_eq(all_values(&w, out), 0);
	for (int i = 1; i <= 5; i++)
		rbd_window_push(&w, (uint64_t)i * 10, i);
	/* Full: the oldest two were dropped. */
	ck_assert_uint_eq(all_values(&w, out), 3);
	ck_assert_double_eq(out[0], 3);
	ck_assert_double_eq(out[1], 4);
	ck_assert_double_eq(out[2], 5);
	/* [from, to) and max. */
	ck_assert_uint_eq(rbd_window_values(&w, 40, 50, out, 8), 1);
	ck_assert_double_eq(out[0], 4);
	ck_assert_uint_eq(rbd_window_values(&w, 0, 100, out, 2), 2);
	ck_assert_double_eq(out[1], 4);
	rbd_window_prune(&w, 40);
	ck_assert_uint_eq(all_values(&w, out), 2);
	ck_assert_double_eq(out[0], 4);
	rbd_window_push(&w, 60, 6);
	rbd_window_push(&w, 70, 7);
	ck_assert_uint_eq(all_values(&w, out), 3);
	ck_assert_double_eq(out[0], 5);
	ck_assert_double_eq(out[2], 7);
	rbd_window_prune(&w, 1000);
	ck_assert_uint_eq(all_values(&w, out), 0);
	rbd_window_push(&w, 80, 8);
	ck_assert_uint_eq(all_values(&w, out), 1);
	ck_assert_double_eq(out[0], 8);
	rbd_window_clear(&w);
	ck_assert_ptr_null(w.v);
	/* Cleared: pushes are ignored, clearing again is fine. */
	rbd_window_push(&w, 90, 9);
	ck_assert_uint_eq(all_values(&w, out), 0);
	rbd_window_clear(&w);
}
END_TEST

START_TEST(test_window_max)
{
	static double out[RBD_WINDOW_MAX];
	struct rbd_window w = { .cap = 42 };

	ck_assert_int_eq(rbd_window_init(&w, 0), -EINVAL);
	ck_assert_int_eq(rbd_window_init(&w, RBD_WINDOW_MAX + 1), -EINVAL);
	ck_assert_uint_eq(w.cap, 42);
	ck_assert_int_eq(rbd_window_init(&w, RBD_WINDOW_MAX), 0);
	for (int i = 0; i < 3 * RBD_WINDOW_MAX; i++)
		rbd_window_push(&w, (uint64_t)i, i);
	ck_assert_uint_eq(all_values(&w, out), RBD_WINDOW_MAX);
	ck_assert_double_eq(out[0], 2 * RBD_WINDOW_MAX);
	ck_assert_double_eq(out[RBD_WINDOW_MAX - 1], 3 * RBD_WINDOW_MAX - 1);
	rbd_window_clear(&w);
}
END_TEST

static Suite *judge_suite(void)
{
	Suite *s = suite_create("judge");
	TCase *tc = tcase_create("judge");

	tcase_add_loop_test(tc, test_judge, 0, N_ELEMENTS(cases));
	tcase_add_test(tc, test_judge_shift);
	tcase_add_test(tc, test_judge_short_buffer);
	suite_add_tcase(s, tc);
	tc = tcase_create("window");
	tcase_add_test(tc, test_window_ring);
	tcase_add_test(tc, test_window_max);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(judge_suite());
}
