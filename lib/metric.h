/* Values computed from scraped pages for scrape checks: a gauge, a
 * counter's per-second rate between consecutive scrapes (surviving counter
 * resets), the ratio of two rates with a minimum denominator rate, a
 * histogram's quantile over the last interval (bucket deltas, interpolated
 * as PromQL's histogram_quantile does), a summary's quantile.
 *
 * Pure: the page and the time come in; what must be remembered between
 * scrapes (previous counter values per series, bucket counts) lives in a
 * struct rbd_metric_state the caller keeps per check. */
#ifndef RBD_METRIC_H
#define RBD_METRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "promtext.h"
#include "selector.h"

#define RBD_METRIC_WHY_MAX 256

enum rbd_metric_kind {
	RBD_METRIC_GAUGE,		/* exactly one matching series */
	RBD_METRIC_RATE,		/* sum over matching counter series */
	RBD_METRIC_RATIO,		/* rate(numerator) / rate(denominator) */
	RBD_METRIC_HISTOGRAM_QUANTILE,	/* over the buckets of matching series */
	RBD_METRIC_SUMMARY_QUANTILE,	/* the one series with quantile="q" */
	_RBD_METRIC_KIND_MAX,
};
const char *rbd_metric_kind_str(enum rbd_metric_kind k);

struct rbd_metric_spec {
	enum rbd_metric_kind kind;
	struct rbd_selector *sel;	/* owned; the numerator for a ratio */
	struct rbd_selector *den;	/* owned; ratio only */
	double quantile;		/* histogram, summary: [0, 1] */
	double min_rate;		/* ratio: denominator per second below
					 * which the sample is no data; 0: none */
};

enum rbd_metric_status {
	RBD_METRIC_VALUE,
	RBD_METRIC_NO_DATA,	/* absent metric, first scrape, too little traffic */
	RBD_METRIC_ERROR,	/* several series for a gauge, a malformed histogram */
	_RBD_METRIC_STATUS_MAX,
};

struct rbd_metric_result {
	enum rbd_metric_status status;
	double value;				/* VALUE only */
	char why[RBD_METRIC_WHY_MAX];		/* readable, always set: "0.031 (3.1
						 * 5xx/s of 100 req/s)", "metric
						 * http_requests_total absent",
						 * "too little traffic: 0.2/s <
						 * min_rate 1/s" */
};

/* The state remembers the series seen at the last scrape (name and labels,
 * value): at most RBD_METRIC_SERIES_MAX; a page with more matching series
 * is an error. A series is allocated when first seen and freed at the first
 * scrape it is missing from: a steady page allocates nothing. */
#define RBD_METRIC_SERIES_MAX 10000

struct rbd_metric_state;
struct rbd_metric_state *rbd_metric_state_new(void);
void rbd_metric_state_free(struct rbd_metric_state *st);

/* Compute spec's value from page scraped at now_usec (monotonic), updating
 * st for the next scrape. Always fills *ret; returns 0, or -ENOMEM.
 *   gauge: no series is no data ("metric X absent"), several an error.
 *   rate, ratio, histogram: increases since the previous scrape, per series
 *   (by name and labels; a lower value is a counter reset, counted from 0);
 *   a series new or missing at the previous scrape counts from now, so the
 *   first scrape is no data. ratio: no data without denominator series,
 *   below min_rate, or at a denominator rate of 0; a numerator without any
 *   series is 0 (clients create a series at its first event).
 *   histogram: the matching series' _bucket samples summed per le; no data
 *   without observations in the interval; an error without +Inf.
 *   summary: the series whose quantile label equals quantile (as a number);
 *   NaN (no observations) is no data. */
int rbd_metric_eval(const struct rbd_metric_spec *spec,
    struct rbd_metric_state *st, const struct rbd_prom_page *page,
    uint64_t now_usec, struct rbd_metric_result *ret);

/* PromQL's histogram_quantile (promql/quantile.go, bucketQuantile) over n
 * cumulative buckets in any order: NaN q gives NaN, q < 0 -Inf, q > 1 +Inf;
 * otherwise NaN when there is no bucket, the highest is not +Inf, only +Inf
 * is left after merging equal bounds, or there are no observations. The
 * quantile interpolates linearly within its bucket (from 0 in the first
 * bucket when its bound is above 0); in the +Inf bucket it is the highest
 * finite bound. Works in place, like PromQL: b is sorted by le, equal
 * bounds are merged into the first n' entries and counts are made
 * monotonic. No allocation. */
struct rbd_bucket {
	double le;
	double count;
};
double rbd_histogram_quantile(double q, struct rbd_bucket *b, size_t n);

void rbd_metric_spec_clear(struct rbd_metric_spec *spec);

#endif
