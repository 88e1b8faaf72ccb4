/* Statistics for baselines: the median and the Mann-Whitney U test. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

/* Beyond this the exact distribution of U is not computed: the normal
 * approximation is good, and the table stays small ((21 x 401) doubles). */
#define MWU_EXACT_MAX	20

/* qsort order for doubles: a total order, NaN above everything. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	if (isnan(x) || isnan(y))
		return isnan(x) - isnan(y);
	return (x > y) - (x < y);
}

double rbd_median(const double *v, size_t n)
{
	double *s, m;

	if (!v || n == 0 || n > SIZE_MAX / sizeof(*s))
		return NAN;
	s = malloc(n * sizeof(*s));
	if (!s)
		return NAN;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	/* Halves first: the sum of two large values must not overflow. */
	m = n % 2 ? s[n / 2] : s[n / 2 - 1] / 2 + s[n / 2] / 2;
	free(s);
	return m;
}

struct obs {
	double v;
	bool after;
};

/* qsort order for observations by value. */
static int cmp_obs(const void *a, const void *b)
{
	const struct obs *x = a, *y = b;

	return (x->v > y->v) - (x->v < y->v);
}

/* True when any of the n values is NaN. */
static bool any_nan(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (isnan(v[i]))
			return true;
	return false;
}

/* Rank the pooled sample (average ranks for ties): the sum of the after
 * sample's ranks minus its minimum, i.e. U, and the tie term sum(t^3 - t). */
static int rank_u(const double *before, size_t na, const double *after,
    size_t nb, double *ret_u, double *ret_ties)
{
	size_t n = na + nb, i, j, k;
	double u = 0, ties = 0, rank, t;
	struct obs *o;

	o = calloc(n, sizeof(*o));
	if (!o)
		return -ENOMEM;
	for (i = 0; i < na; i++)
		o[i] = (struct obs){ before[i], false };
	for (i = 0; i < nb; i++)
		o[na + i] = (struct obs){ after[i], true };
	qsort(o, n, sizeof(*o), cmp_obs);
	for (i = 0, k = 0; i < n; i = j) {
		for (j = i + 1; j < n && o[j].v == o[i].v; j++)
			;
		t = (double)(j - i);
		rank = (double)(i + j + 1) / 2;	/* ranks i+1 .. j, averaged */
		ties += t * t * t - t;
		/* Subtracting each after value's rank among the after values
		 * (k + 1) keeps the sum at U's size, not R's. */
		for (; i < j; i++)
			if (o[i].after)
				u += rank - (double)++k;
	}
	free(o);
	*ret_u = u;
	*ret_ties = ties;
	return 0;
}

/* P(U >= u) for samples of m after and n before values without ties, from
 * the number of orderings giving each U: f(i, k, u) = f(i - 1, k, u - k) +
 * f(i, k - 1, u) (is the largest of the i + k values an after value, above
 * all k before values, or not). Counts stay below C(40, 20) < 2^53, so
 * doubles hold them exactly. */
static int exact_p(size_t m, size_t n, double u, double *ret)
{
	size_t w = m * n + 1, i, k, x, uu = (size_t)llround(u);
	double *f, tail = 0, all = 0;

	f = calloc((m + 1) * w, sizeof(*f));
	if (!f)
		return -ENOMEM;
	for (i = 0; i <= m; i++)
		f[i * w] = 1;		/* k = 0: U is 0 */
	for (k = 1; k <= n; k++)
		for (i = 1; i <= m; i++)
			for (x = w; x-- > k;)
				f[i * w + x] += f[(i - 1) * w + x - k];
	for (x = 0; x < w; x++) {
		all += f[m * w + x];
		if (x >= uu)
			tail += f[m * w + x];
	}
	free(f);
	*ret = tail / all;
	return 0;
}

/* The variance of U under the null hypothesis, corrected for ties. */
static double u_variance(size_t na, size_t nb, double ties)
{
	double n = (double)(na + nb), ab = (double)na * (double)nb;

	return ab / 12 * ((n + 1) - ties / (n * (n - 1)));
}

/* The normal approximation for U's upper tail, continuity-corrected. When
 * every value is tied U cannot vary: z 0, and P(U >= u) is 1. */
static void normal_approx(size_t na, size_t nb, double ties,
    struct rbd_mwu *r)
{
	double var = u_variance(na, nb, ties);

	if (!(var > 0)) {
		r->z = 0;
		r->p = 1;
		return;
	}
	r->z = (r->u - (double)na * (double)nb / 2 - 0.5) / sqrt(var);
	r->p = 0.5 * erfc(r->z / sqrt(2));
}

int rbd_mann_whitney(const double *before, size_t na, const double *after,
    size_t nb, struct rbd_mwu *ret)
{
	struct rbd_mwu r;
	double ties;
	int e;

	if (!before || !after || na == 0 || nb == 0 || !ret ||
	    na > SIZE_MAX / 2 || nb > SIZE_MAX / 2 - na ||
	    any_nan(before, na) || any_nan(after, nb))
		return -EINVAL;
	e = rank_u(before, na, after, nb, &r.u, &ties);
	if (e < 0)
		return e;
	normal_approx(na, nb, ties, &r);
	r.effect = r.u / ((double)na * (double)nb);
	if (ties == 0 && na <= MWU_EXACT_MAX && nb <= MWU_EXACT_MAX) {
		/* In the recurrence, the counted sample is the after one. */
		e = exact_p(nb, na, r.u, &r.p);
		if (e < 0)
			return e;
	}
	*ret = r;
	return 0;
}
