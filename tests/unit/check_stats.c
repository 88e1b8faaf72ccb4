/* Statistics: the median, and the Mann-Whitney U test checked against
 * published values. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "stats.h"
#include "testutil.h"

static const double m1[] = { 7 };
static const double m2[] = { 3, 1, 2 };
static const double m3[] = { 4, 1, 3, 2 };
static const double m4[] = { 0.3, 0.3, 0.3, 10 };
static const double m5[] = { -5, -1, -3 };
static const double m6[] = { DBL_MAX, DBL_MAX };
static const double m7[] = { 1, INFINITY, 2 };
static const double m8[] = { 1, NAN, 2 };
static const double m9[] = { NAN, NAN, 1 };

static const struct {
	const double *v;
	size_t n;
	double median;
} medians[] = {
	{ m1, N_ELEMENTS(m1), 7 },
	{ m2, N_ELEMENTS(m2), 2 },
	{ m3, N_ELEMENTS(m3), 2.5 },
	{ m4, N_ELEMENTS(m4), 0.3 },
	{ m5, N_ELEMENTS(m5), -3 },
	/* The mean of the middle two must not overflow. */
	{ m6, N_ELEMENTS(m6), DBL_MAX },
	{ m7, N_ELEMENTS(m7), 2 },
	/* NaN sorts above everything. */
	{ m8, N_ELEMENTS(m8), 2 },
	{ m9, N_ELEMENTS(m9), NAN },
	{ m1, 0, NAN },
	{ NULL, 3, NAN },
};

START_TEST(test_median)
{
	double copy[8], got;
	size_t n = medians[_i].n;

	if (medians[_i].v)
		memcpy(copy, medians[_i].v, n * sizeof(*copy));
	got = rbd_median(medians[_i].v, n);
	if (isnan(medians[_i].median))
		ck_assert_msg(isnan(got), "case %d: got %g", _i, got);
	else
		ck_assert_double_eq(got, medians[_i].median);
	/* The values are not changed (nor reordered). */
	if (medians[_i].v)
		ck_assert_mem_eq(copy, medians[_i].v, n * sizeof(*copy));
}
END_TEST

/* scipy.stats.mannwhitneyu's documentation (Examples), after Shier 2004:
 * ages at diagnosis, males [19, 22, 16, 29, 24], females [20, 11, 17, 12].
 * U_M = 17; exact one-sided p (females less than males) 0.05555555555555555;
 * asymptotic two-sided p 0.11134688653314041. */
static const double scipy_females[] = { 20, 11, 17, 12 };
static const double scipy_males[] = { 19, 22, 16, 29, 24 };
/* ClickHouse's mannWhitneyUTest documentation: samples {10, 11, 12} and
 * {1, 2, 3}, alternative 'greater' (continuity-corrected normal
 * approximation): (9, 0.04042779918503192). The exact p is 1/C(6,3). */
static const double ch_low[] = { 1, 2, 3 };
static const double ch_high[] = { 10, 11, 12 };
/* NAG Library g08ahf / g08amc example (ties): group 1 (16) and group 2
 * (23); U = 86 for group 1 (282 for group 2), normal statistic -2.8039,
 * approximate tail probability 0.0025 (tie-corrected, continuity-corrected;
 * group 2 as "after" turns the lower tail into our upper one). */
static const double nag_ties1[] = {
	13, 6, 12, 7, 12, 7, 10, 7, 10, 7, 16, 7, 10, 8, 9, 8,
};
static const double nag_ties2[] = {
	17, 6, 10, 8, 15, 8, 15, 10, 15, 10, 14, 10, 14, 11, 14, 11, 13, 12,
	13, 12, 13, 12, 12,
};
/* NAG Library g08ajf example (no ties): U = 86, normal statistic -2.7838,
 * tail probability 0.0027 (23 > 20 values: the normal approximation). */
static const double nag1[] = {
	13.0, 5.8, 11.7, 6.5, 12.3, 6.7, 9.2, 6.9, 10.0, 7.3, 16.0, 7.0, 10.5,
	8.5, 9.0, 7.5,
};
static const double nag2[] = {
	17.0, 6.2, 10.1, 8.0, 15.3, 8.2, 15.0, 9.6, 14.9, 10.4, 14.2, 9.8, 13.8,
	11.0, 14.0, 11.1, 12.9, 11.6, 12.8, 12.0, 13.1, 12.4, 11.9,
};
/* DolphinDB's mannWhitneyUTest documentation (ties, continuity-corrected
 * normal approximation): X = 5 1 4 3 5, Y = 2 4 7 -1 0 4: U = 11 (Y's,
 * the smaller; X's is 30 - 11 = 19), one-sided p-values 0.259011 and
 * 0.797036. X's U is above its mean 15, so "X above Y" is the 0.259
 * side (DolphinDB's rows name the alternatives the other way round). */
static const double ddb_x[] = { 5, 1, 4, 3, 5 };
static const double ddb_y[] = { 2, 4, 7, -1, 0, 4 };
/* Wikipedia, "Mann-Whitney U test", Illustration of calculation methods:
 * finishing order T H H H H H T T T T T H, U_T = 11, U_H = 25. As times,
 * the hares being slower ("after > before") is a tortoise beating a hare. */
static const double tortoises[] = { 1, 7, 8, 9, 10, 11 };
static const double hares[] = { 2, 3, 4, 5, 6, 12 };

#define S(a) a, N_ELEMENTS(a)
static const struct {
	const char *what;
	const double *before;
	size_t na;
	const double *after;
	size_t nb;
	double u;
	double p, p_tol;	/* NAN: not published */
	double z, z_tol;
	double p_normal, pn_tol;	/* 0.5 erfc(z / sqrt 2) */
} published[] = {
	{ "scipy exact", S(scipy_females), S(scipy_males), 17,
	  0.05555555555555555, 1e-15, NAN, 0, NAN, 0 },
	{ "scipy asymptotic", S(scipy_females), S(scipy_males), 17,
	  NAN, 0, NAN, 0, 0.11134688653314041 / 2, 1e-15 },
	{ "scipy reversed", S(scipy_males), S(scipy_females), 3,
	  NAN, 0, NAN, 0, NAN, 0 },
	{ "clickhouse", S(ch_low), S(ch_high), 9, 1.0 / 20, 1e-15,
	  NAN, 0, 0.04042779918503192, 1e-12 },
	{ "nag ties", S(nag_ties1), S(nag_ties2), 282, 0.0025, 5e-5,
	  2.8039, 5e-5, NAN, 0 },
	{ "nag", S(nag1), S(nag2), 282, 0.0027, 5e-5, 2.7838, 5e-5, NAN, 0 },
	{ "nag reversed", S(nag2), S(nag1), 86, NAN, 0, NAN, 0, NAN, 0 },
	{ "dolphindb x above y", S(ddb_y), S(ddb_x), 19, 0.259011, 5e-7,
	  NAN, 0, NAN, 0 },
	{ "dolphindb y above x", S(ddb_x), S(ddb_y), 11, 0.797036, 5e-7,
	  NAN, 0, NAN, 0 },
	{ "wikipedia tortoise", S(tortoises), S(hares), 11, NAN, 0,
	  NAN, 0, NAN, 0 },
	{ "wikipedia hare", S(hares), S(tortoises), 25, NAN, 0,
	  NAN, 0, NAN, 0 },
};

START_TEST(test_published)
{
	struct rbd_mwu m;
	double pn;

	ck_assert_int_eq(rbd_mann_whitney(published[_i].before,
	    published[_i].na, published[_i].after, published[_i].nb, &m), 0);
	ck_assert_msg(m.u == published[_i].u, "%s: U %g", published[_i].what,
	    m.u);
	ck_assert_double_eq_tol(m.effect, published[_i].u /
	    (double)(published[_i].na * published[_i].nb), 1e-15);
	if (!isnan(published[_i].p))
		ck_assert_msg(fabs(m.p - published[_i].p) <= published[_i].p_tol,
		    "%s: p %.17g", published[_i].what, m.p);
	if (!isnan(published[_i].z))
		ck_assert_msg(fabs(m.z - published[_i].z) <= published[_i].z_tol,
		    "%s: z %.17g", published[_i].what, m.z);
	pn = 0.5 * erfc(m.z / sqrt(2));
	if (!isnan(published[_i].p_normal))
		ck_assert_msg(fabs(pn - published[_i].p_normal) <=
		    published[_i].pn_tol, "%s: normal p %.17g",
		    published[_i].what, pn);
}
END_TEST

/* Critical values of U, two-tailed alpha 0.05 (so 0.025 in each tail), as
 * tabled e.g. at numeracy-bank.net ("if alpha = 0.05, n1 = 20 and n2 = 20,
 * then Ucritical = 127") and in the Real Statistics Mann-Whitney tables:
 * U <= crit has probability <= 0.025, U <= crit + 1 more. They pin the exact
 * distribution, up to 20 x 20. */
static const struct {
	size_t na, nb;
	unsigned crit;
} critical[] = {
	{ 5, 5, 2 },
	{ 10, 10, 23 },
	{ 12, 11, 33 },
	{ 13, 16, 59 },
	{ 5, 20, 20 },
	{ 20, 20, 127 },
};

/* Samples without ties whose U (after > before pairs) is u: before at
 * 0, 2, 4, ...; each after value just above as many before values as
 * remain to be counted. */
static void make_samples(size_t na, size_t nb, unsigned u, double *before,
    double *after)
{
	for (size_t i = 0; i < na; i++)
		before[i] = 2.0 * (double)i;
	for (size_t i = 0; i < nb; i++) {
		unsigned k = u > na ? (unsigned)na : u;

		after[i] = 2.0 * k - 1 + (double)i / 1024;
		u -= k;
	}
}

START_TEST(test_critical)
{
	size_t na = critical[_i].na, nb = critical[_i].nb;
	unsigned u = (unsigned)(na * nb) - critical[_i].crit;
	double before[20], after[20];
	struct rbd_mwu m;

	/* After above before: the lower tail of before's U is our upper. */
	make_samples(na, nb, u, before, after);
	ck_assert_int_eq(rbd_mann_whitney(before, na, after, nb, &m), 0);
	ck_assert_double_eq(m.u, u);
	ck_assert_msg(m.p <= 0.025, "%zu x %zu: p(U >= %u) %g", na, nb, u, m.p);
	make_samples(na, nb, u - 1, before, after);
	ck_assert_int_eq(rbd_mann_whitney(before, na, after, nb, &m), 0);
	ck_assert_double_eq(m.u, u - 1);
	ck_assert_msg(m.p > 0.025, "%zu x %zu: p(U >= %u) %g", na, nb, u - 1,
	    m.p);
}
END_TEST

START_TEST(test_exact_ends)
{
	double before[20], after[20];
	struct rbd_mwu m;

	/* 20 x 20, all after above all before: 1 / C(40, 20). */
	make_samples(20, 20, 400, before, after);
	ck_assert_int_eq(rbd_mann_whitney(before, 20, after, 20, &m), 0);
	ck_assert_double_eq(m.u, 400);
	ck_assert_double_eq_tol(m.p, 1 / 137846528820.0, 1e-25);
	ck_assert_double_eq(m.effect, 1);
	/* All below: P(U >= 0) is 1. */
	make_samples(20, 20, 0, before, after);
	ck_assert_int_eq(rbd_mann_whitney(before, 20, after, 20, &m), 0);
	ck_assert_double_eq(m.u, 0);
	ck_assert_double_eq(m.p, 1);
	ck_assert_double_eq(m.effect, 0);
}
END_TEST

START_TEST(test_all_tied)
{
	static const double a[] = { 0.5, 0.5, 0.5 }, b[] = { 0.5, 0.5 };
	struct rbd_mwu m;

	ck_assert_int_eq(rbd_mann_whitney(a, 3, b, 2, &m), 0);
	ck_assert_double_eq(m.u, 3);
	ck_assert_double_eq(m.effect, 0.5);
	ck_assert_double_eq(m.z, 0);
	ck_assert_double_eq(m.p, 1);
}
END_TEST

/* The largest windows: a shift the test must see, and none it must not. */
START_TEST(test_large)
{
	static double before[4096], after[4096];
	struct rbd_mwu m;

	for (size_t i = 0; i < 4096; i++) {
		before[i] = (double)(i * 7919 % 4096);
		after[i] = before[i] + 100;
	}
	ck_assert_int_eq(rbd_mann_whitney(before, 4096, after, 4096, &m), 0);
	ck_assert_msg(m.p < 0.05, "p %g", m.p);
	ck_assert_double_eq_tol(m.effect, 0.5 + 100.0 / 4096, 1e-3);
	for (size_t i = 0; i < 4096; i++)
		after[i] = before[(i + 1) % 4096];
	ck_assert_int_eq(rbd_mann_whitney(before, 4096, after, 4096, &m), 0);
	ck_assert_msg(m.p > 0.4, "p %g", m.p);
}
END_TEST

START_TEST(test_invalid)
{
	static const double a[] = { 1, 2 }, n[] = { 1, NAN };
	struct rbd_mwu m = { .u = 42 };

	ck_assert_int_eq(rbd_mann_whitney(a, 0, a, 2, &m), -EINVAL);
	ck_assert_int_eq(rbd_mann_whitney(a, 2, a, 0, &m), -EINVAL);
	ck_assert_int_eq(rbd_mann_whitney(NULL, 2, a, 2, &m), -EINVAL);
	ck_assert_int_eq(rbd_mann_whitney(a, 2, NULL, 2, &m), -EINVAL);
	ck_assert_int_eq(rbd_mann_whitney(n, 2, a, 2, &m), -EINVAL);
	ck_assert_int_eq(rbd_mann_whitney(a, 2, n, 2, &m), -EINVAL);
	ck_assert_int_eq(rbd_mann_whitney(a, 2, a, 2, NULL), -EINVAL);
	/* Never written on failure. */
	ck_assert_double_eq(m.u, 42);
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("median");

	tcase_add_loop_test(tc, test_median, 0, N_ELEMENTS(medians));
	suite_add_tcase(s, tc);
	tc = tcase_create("mann-whitney");
	tcase_add_loop_test(tc, test_published, 0, N_ELEMENTS(published));
	tcase_add_loop_test(tc, test_critical, 0, N_ELEMENTS(critical));
	tcase_add_test(tc, test_exact_ends);
	tcase_add_test(tc, test_all_tied);
	tcase_add_test(tc, test_large);
	tcase_add_test(tc, test_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(stats_suite());
}
