/* Judging a metric check's value: min / max, and a baseline taken from the
 * same check's samples before the deploy (median, with max_increase /
 * max_delta, optionally a Mann-Whitney test). Every reason shows the
 * numbers: value, threshold or baseline, sample count.
 *
 * Windows of samples are kept here too: bounded in count and in age. */
#ifndef RBD_JUDGE_H
#define RBD_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"

#define RBD_WINDOW_MAX 4096	/* samples kept per window */

struct rbd_window {
	uint64_t *t;		/* monotonic usec, oldest first (a ring) */
	double *v;
	size_t head, n, cap;
};
/* cap in [1, RBD_WINDOW_MAX], else -EINVAL; -ENOMEM. w is not written on
 * failure. */
int rbd_window_init(struct rbd_window *w, size_t cap);
void rbd_window_clear(struct rbd_window *w);		/* frees */
/* Append (t, v), dropping the oldest when full. */
void rbd_window_push(struct rbd_window *w, uint64_t t, double v);
/* Drop samples older than t_min (pushes come in time order). */
void rbd_window_prune(struct rbd_window *w, uint64_t t_min);
/* Copy the values taken in [from, to) into out (at most max); returns how
 * many. */
size_t rbd_window_values(const struct rbd_window *w, uint64_t from,
    uint64_t to, double *out, size_t max);

struct rbd_condition {
	bool has_min, has_max;
	double min, max;
	bool baseline;
	uint64_t baseline_window_usec;	/* default 10m */
	bool has_max_increase, has_max_delta;
	double max_increase;		/* fraction: 0.5 for "50%" */
	double max_delta;		/* absolute */
	bool mann_whitney;
	double confidence;		/* e.g. 0.95 */
	unsigned min_samples;		/* before a baseline is trusted; default 5 */
};

/* Judge value against c. before holds the baseline's values (taken before
 * the deploy), after this watch's judged values so far, value included.
 * Returns RBD_SAMPLE_OK, _FAIL, or _UNKNOWN (a baseline with fewer than
 * min_samples values, a NaN value), with the reason in detail (always
 * NUL-terminated when len > 0, cut to fit; the caller prefixes the check's
 * name):
 *
 * 1. min / max first: "0.031 > max 0.02", "0.4 < min 0.5".
 * 2. With a baseline, fewer than min_samples before values: UNKNOWN,
 *    "baseline has 3 samples; needs 5".
 * 3. The baseline is the median of before. max_increase allows
 *    baseline + |baseline| * max_increase (so a baseline of 0 allows no
 *    increase at all), max_delta allows baseline + max_delta. When both are
 *    set the value fails only when it exceeds both allowances: a tolerance
 *    that is relative for large values and absolute near zero.
 *    "0.62 is 82% above the baseline 0.34 (median of 60 samples; max_increase 50%)"
 *    "0.62 is 0.28 above the baseline 0.34 (median of 60 samples; max_delta 0.1)"
 *    "0.62 is 82% (0.28) above the baseline 0.34 (median of 60 samples; max_increase 50%, max_delta 0.1)"
 * 4. Then mann_whitney, when n_after and n_before are both >= min_samples
 *    (else the thresholds alone decide): FAIL when p < 1 - confidence (the
 *    one-sided test of "after is greater than before"; UNKNOWN if it cannot
 *    run, out of memory),
 *    "after is greater than before: p=0.003 < 0.05 (U=812, effect 0.91, 30 vs 60 samples)"
 *
 * OK reasons show the numbers too: "0.012 <= max 0.02",
 * "0.35 within 50% of the baseline 0.34 (median of 60 samples)",
 * "0.35 <= max 1; within 50% or 0.1 of the baseline 0.34 (median of 60
 * samples); Mann-Whitney p=0.41 >= 0.05 (U=812, effect 0.52, 30 vs 60 samples)".
 * Numbers have 3 significant digits (integer parts in full), more when a
 * value would otherwise read as its threshold; percentages are rounded. */
enum rbd_sample_result rbd_judge(const struct rbd_condition *c, double value,
    const double *before, size_t n_before, const double *after,
    size_t n_after, char *detail, size_t len);

#endif
