/* Statistics for baselines: the median of a window and the Mann-Whitney U
 * test (the rank statistic Kayenta uses for canary judgement), here
 * comparing a check's samples after a deploy with the same host's samples
 * before it. */
#ifndef RBD_STATS_H
#define RBD_STATS_H

#include <stddef.h>

/* The median of n values (n > 0); the values are not changed. NaN for n 0
 * or out of memory. NaN values sort above +Inf (the order stays total, so
 * any NaN among the values moves the median up, or makes it NaN). */
double rbd_median(const double *v, size_t n);

struct rbd_mwu {
	double u;	/* U of the after sample: pairs (before, after) with after > before, ties 1/2 */
	double z;	/* normal approximation, tie- and continuity-corrected */
	double p;	/* one-sided: P(U >= u) if after is not greater than before */
	double effect;	/* common-language effect size U / (na nb): the probability that
			 * an after sample exceeds a before sample */
};

/* One-sided Mann-Whitney U test of "after is stochastically greater than
 * before". Exact p for na, nb <= 20 without ties (else the normal
 * approximation). Returns 0, -EINVAL (an empty sample, NaN values), or
 * -ENOMEM. */
int rbd_mann_whitney(const double *before, size_t na, const double *after,
    size_t nb, struct rbd_mwu *ret);

#endif
