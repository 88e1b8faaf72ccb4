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
int rbd_window_init(struct rbd_window *w, size_t cap);	/* -ENOMEM */
void rbd_window_clear(struct rbd_window *w);		/* frees */
/* Append (t, v), dropping the oldest when full. */
void rbd_window_push(struct rbd_window *w, uint64_t t, double v);
/* Drop samples older than t_min. */
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
 * min_samples values), with the reason in detail:
 *   "0.031 > max 0.02"
 *   "p99 0.62 is 82% above the baseline 0.34 (median of 60 samples; max_increase 50%)"
 *   "after is greater than before: p=0.003 < 0.05 (U=812, effect 0.91, 30 vs 60 samples)" */
enum rbd_sample_result rbd_judge(const struct rbd_condition *c, double value,
    const double *before, size_t n_before, const double *after,
    size_t n_after, char *detail, size_t len);

#endif
