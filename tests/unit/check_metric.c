/* Values computed from scraped pages: gauges, rates across counter resets,
 * ratios with min_rate, histogram quantiles checked against Prometheus's
 * own numbers, summary quantiles; pages come from the real exposition
 * parser and selectors from the real selector parser. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metric.h"
#include "testutil.h"

#define INF INFINITY

/* Parse an exposition text that must be valid. */
static struct rbd_prom_page *page_parse(const char *text)
{
	struct rbd_prom_page *p = NULL;
	char err[256] = "";
	int r = rbd_prom_parse(text, strlen(text), &p, err, sizeof(err));

	ck_assert_msg(r == 0, "rbd_prom_parse: %d %s", r, err);
	return p;
}

/* Parse a selector that must be valid; NULL stays NULL. */
static struct rbd_selector *sel_parse(const char *s)
{
	struct rbd_selector *sel = NULL;
	char err[256] = "";
	unsigned col = 0;
	int r;

	if (!s)
		return NULL;
	r = rbd_selector_parse(s, &sel, &col, err, sizeof(err));
	ck_assert_msg(r == 0, "rbd_selector_parse(%s): %d col %u %s", s, r, col,
	    err);
	return sel;
}

/* Whether got is want: both NaN, the same infinity, or within a relative
 * 1e-12 (the reference values went through Go's formatting). */
static bool same(double got, double want)
{
	if (isnan(want) || isnan(got))
		return isnan(want) && isnan(got);
	if (isinf(want) || isinf(got))
		return got == want;
	return fabs(got - want) <= 1e-12 * fmax(1, fabs(want));
}

/* ---- histogram_quantile against Prometheus ---- */

/* The histograms of tests/data/metric/quantile.rules.test.yaml (cumulative
 * counts of one interval), in that file's order of h. */
static const struct {
	const char *name;
	struct rbd_bucket b[12];
	size_t n;
} hists[] = {
	{ "std", { { 0.1, 10 }, { 0.25, 30 }, { 0.5, 60 }, { 1, 90 },
	    { INF, 100 } }, 5 },
	{ "go", { { 0.005, 3 }, { 0.01, 7 }, { 0.025, 12 }, { 0.05, 19 },
	    { 0.1, 33 }, { 0.25, 50 }, { 0.5, 61 }, { 1, 70 }, { 2.5, 71 },
	    { 5, 71 }, { 10, 72 }, { INF, 72 } }, 12 },
	{ "tail", { { 0.1, 1 }, { 1, 2 }, { INF, 10 } }, 3 },
	{ "nonmono", { { 0.1, 10 }, { 0.5, 5 }, { 1, 20 }, { INF, 20 } }, 4 },
	{ "neg", { { -1, 2 }, { 0, 4 }, { 1, 10 }, { INF, 10 } }, 4 },
	/* Out of order and with le="0.5" and le="0.50": sorted and merged. */
	{ "dup", { { INF, 10 }, { 0.5, 3 }, { 1, 8 }, { 0.25, 2 }, { 0.5, 3 } },
	    5 },
	{ "empty", { { 0.1, 0 }, { INF, 0 } }, 2 },
	{ "infonly", { { INF, 10 } }, 1 },
	{ "noinf", { { 0.1, 5 }, { 1, 10 } }, 2 },
};

static const double qs[] = { -0.5, 0, 0.05, 0.25, 0.5, 0.9, 0.95, 0.99, 1, 1.5 };
#define N_QS N_ELEMENTS(qs)

/* What Prometheus answered for histogram_quantile(qs[j], hists[i]):
 *   promtool test rules tests/data/metric/quantile.rules.test.yaml
 * with promtool 2.42.0 (Debian 12, prometheus 2.42.0+ds-5+deb12u1); the
 * file's exp_samples are these numbers, and it passes. */
static const double prom[][N_QS] = {
	/* std */ { -INF, 0, 0.05, 0.2125, 0.41666666666666663, 1, 1, 1, 1, INF },
	/* go */ { -INF, 0, 5.75e-03, 4.642857142857143e-02, 1.264705882352941e-01,
	    7.111111111111109e-01, 9.111111111111106e-01, 6.400000000000006, 10,
	    INF },
	/* tail */ { -INF, 0, 0.05, 1, 1, 1, 1, 1, 1, INF },
	/* nonmono */ { -INF, 0, 1.0000000000000002e-02, 0.05, 0.1, 0.9, 0.95,
	    0.99, 1, INF },
	/* neg */ { -INF, -1, -1, -0.75, 1.6666666666666666e-01,
	    8.333333333333334e-01, 9.166666666666666e-01, 9.833333333333334e-01,
	    1, INF },
	/* dup */ { -INF, 0, 0.0625, 0.28125, 0.4375, 1, 1, 1, 1, INF },
	/* empty */ { -INF, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, INF },
	/* infonly */ { -INF, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, INF },
	/* noinf */ { -INF, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, INF },
};

START_TEST(test_quantile_prometheus)
{
	size_t h = (size_t)_i / N_QS, j = (size_t)_i % N_QS;
	struct rbd_bucket b[12];
	double got;

	ck_assert_uint_eq(N_ELEMENTS(prom), N_ELEMENTS(hists));
	memcpy(b, hists[h].b, sizeof(b));
	got = rbd_histogram_quantile(qs[j], b, hists[h].n);
	ck_assert_msg(same(got, prom[h][j]),
	    "histogram_quantile(%g, %s): got %.17g, Prometheus %.17g", qs[j],
	    hists[h].name, got, prom[h][j]);
}
END_TEST

START_TEST(test_quantile_degenerate)
{
	struct rbd_bucket b[] = { { 1, 5 }, { INF, 10 } };

	/* NaN q is NaN; no buckets is NaN (PromQL never asks). */
	ck_assert(isnan(rbd_histogram_quantile(NAN, b, 2)));
	ck_assert(isnan(rbd_histogram_quantile(0.5, b, 0)));
	ck_assert(rbd_histogram_quantile(-1, b, 0) == -INF);
	ck_assert(rbd_histogram_quantile(2, b, 0) == INF);
	/* Exactly at a bucket's upper bound. */
	ck_assert(same(rbd_histogram_quantile(0.5, b, 2), 1));
}
END_TEST

/* ---- rbd_metric_eval over sequences of scrapes ---- */

struct step {
	double t;			/* seconds */
	const char *text;		/* the page */
	enum rbd_metric_status status;
	double value;			/* VALUE only */
	const char *why;
};

struct scenario {
	const char *name;
	enum rbd_metric_kind kind;
	const char *sel, *den;
	double q, min_rate;
	struct step steps[10];		/* up to the first without text */
};

#define REQ(ok, err) "# TYPE req counter\n" \
	"req_total{code=\"200\"} " #ok "\n" \
	"req_total{code=\"500\"} " #err "\n"
#define REQ_OK(ok) "# TYPE req counter\nreq_total{code=\"200\"} " #ok "\n"
#define JOBS_A(a) "# TYPE jobs counter\njobs_total{q=\"a\"} " #a "\n"
#define JOBS_AB(a, b) JOBS_A(a) "jobs_total{q=\"b\"} " #b "\n"
#define OTHER "# TYPE other gauge\nother 1\n"
#define FIRST "first scrape; a rate needs two"

static const struct scenario rates[] = {
	{ "two scrapes at known times", RBD_METRIC_RATE, "req_total", NULL, 0, 0, {
		{ 0, REQ(100, 5), RBD_METRIC_NO_DATA, 0, FIRST },
		{ 10, REQ(150, 15), RBD_METRIC_VALUE, 6, "6/s (60 in 10s, 2 series)" },
		{ 12.5, REQ(160, 20), RBD_METRIC_VALUE, 6, "6/s (15 in 2.5s, 2 series)" },
		{ 12.5, REQ(160, 20), RBD_METRIC_NO_DATA, 0,
		    "no time since the last scrape" },
		{ 14.5, REQ(161, 20), RBD_METRIC_VALUE, 0.5, "0.5/s (1 in 2s, 2 series)" },
	} },
	{ "a counter reset mid-run", RBD_METRIC_RATE, "req_total{code=\"200\"}",
	    NULL, 0, 0, {
		{ 0, REQ(100, 7), RBD_METRIC_NO_DATA, 0, FIRST },
		{ 10, REQ(130, 9), RBD_METRIC_VALUE, 3, "3/s (30 in 10s, 1 series)" },
		/* Restarted: 20 since the reset, not -110. */
		{ 20, REQ(20, 0), RBD_METRIC_VALUE, 2, "2/s (20 in 10s, 1 series)" },
		{ 30, REQ(50, 1), RBD_METRIC_VALUE, 3, "3/s (30 in 10s, 1 series)" },
		/* Back to 0 exactly: a reset with no new events. */
		{ 40, REQ(0, 1), RBD_METRIC_VALUE, 0, "0/s (0 in 10s, 1 series)" },
	} },
	{ "series appearing and disappearing", RBD_METRIC_RATE, "jobs_total",
	    NULL, 0, 0, {
		{ 0, JOBS_A(10), RBD_METRIC_NO_DATA, 0, FIRST },
		/* b counts from its first sight, not from 0. */
		{ 10, JOBS_AB(20, 1000), RBD_METRIC_VALUE, 1, "1/s (10 in 10s, 1 series)" },
		{ 20, JOBS_AB(30, 1010), RBD_METRIC_VALUE, 2, "2/s (20 in 10s, 2 series)" },
		{ 30, JOBS_A(40), RBD_METRIC_VALUE, 1, "1/s (10 in 10s, 1 series)" },
		/* b is back: a new series again, whatever its old value. */
		{ 40, JOBS_AB(50, 5000), RBD_METRIC_VALUE, 1, "1/s (10 in 10s, 1 series)" },
		{ 50, JOBS_AB(60, 5010), RBD_METRIC_VALUE, 2, "2/s (20 in 10s, 2 series)" },
		{ 60, OTHER, RBD_METRIC_NO_DATA, 0, "metric jobs_total absent" },
		{ 70, JOBS_A(70), RBD_METRIC_NO_DATA, 0,
		    "first scrape of jobs_total; a rate needs two" },
		{ 80, JOBS_A(80), RBD_METRIC_VALUE, 1, "1/s (10 in 10s, 1 series)" },
	} },
	{ "label order is not identity", RBD_METRIC_RATE, "m_total", NULL, 0, 0, {
		{ 0, "m_total{a=\"1\",b=\"2\"} 10\n", RBD_METRIC_NO_DATA, 0, FIRST },
		{ 10, "m_total{b=\"2\",a=\"1\"} 20\n", RBD_METRIC_VALUE, 1,
		    "1/s (10 in 10s, 1 series)" },
	} },
	{ "absent", RBD_METRIC_RATE, "req_total", NULL, 0, 0, {
		{ 0, OTHER, RBD_METRIC_NO_DATA, 0, "metric req_total absent" },
		{ 10, OTHER, RBD_METRIC_NO_DATA, 0, "metric req_total absent" },
	} },
};

#define ERRS "req_total{code=~\"5..\"}"

static const struct scenario ratios[] = {
	{ "error ratio with min_rate", RBD_METRIC_RATIO, ERRS, "req_total", 0, 1, {
		{ 0, REQ(1000, 10), RBD_METRIC_NO_DATA, 0, FIRST },
		{ 10, REQ(1969, 41), RBD_METRIC_VALUE, 0.031, "0.031 (3.1/s of 100/s)" },
		{ 20, REQ(1970, 42), RBD_METRIC_NO_DATA, 0,
		    "too little traffic: 0.2/s < min_rate 1/s" },
		{ 30, REQ(1970, 42), RBD_METRIC_NO_DATA, 0,
		    "too little traffic: 0/s < min_rate 1/s" },
		/* Both restarted: 100 and 2 since. */
		{ 40, REQ(100, 2), RBD_METRIC_VALUE, 0.2 / 10.2,
		    "0.0196078 (0.2/s of 10.2/s)" },
		/* Exactly min_rate is enough. */
		{ 50, REQ(109, 3), RBD_METRIC_VALUE, 0.1, "0.1 (0.1/s of 1/s)" },
	} },
	{ "no traffic without min_rate", RBD_METRIC_RATIO, ERRS, "req_total", 0, 0, {
		{ 0, REQ(1000, 10), RBD_METRIC_NO_DATA, 0, FIRST },
		{ 10, REQ(1000, 10), RBD_METRIC_NO_DATA, 0, "no traffic" },
		{ 20, REQ(1001, 10), RBD_METRIC_VALUE, 0, "0 (0/s of 0.1/s)" },
	} },
	{ "no error series yet", RBD_METRIC_RATIO, ERRS, "req_total", 0, 1, {
		{ 0, REQ_OK(1000), RBD_METRIC_NO_DATA, 0, FIRST },
		{ 10, REQ_OK(2000), RBD_METRIC_VALUE, 0,
		    "0 (0/s of 100/s; no series match " ERRS ")" },
		/* The first 5xx series counts from its first sight. */
		{ 20, REQ(3000, 3), RBD_METRIC_VALUE, 0, "0 (0/s of 100/s)" },
		{ 30, REQ(3990, 13), RBD_METRIC_VALUE, 0.01, "0.01 (1/s of 100/s)" },
	} },
	{ "denominator absent", RBD_METRIC_RATIO, ERRS, "req_total", 0, 1, {
		{ 0, OTHER, RBD_METRIC_NO_DATA, 0, "metric req_total absent" },
		{ 10, OTHER, RBD_METRIC_NO_DATA, 0, "metric req_total absent" },
	} },
};

#define TEMP2 "# TYPE temp gauge\ntemp{room=\"a\"} 20\ntemp{room=\"b\"} 22\n"

static const struct scenario gauges[] = {
	{ "one series", RBD_METRIC_GAUGE, "temp", NULL, 0, 0, {
		{ 0, "# TYPE temp gauge\ntemp 21.5\n", RBD_METRIC_VALUE, 21.5, "21.5" },
		{ 10, "temp -3e2\n", RBD_METRIC_VALUE, -300, "-300" },
	} },
	{ "several series", RBD_METRIC_GAUGE, "temp", NULL, 0, 0, {
		{ 0, TEMP2, RBD_METRIC_ERROR, 0,
		    "2 series match temp; narrow the selector with labels" },
	} },
	{ "narrowed by a label", RBD_METRIC_GAUGE, "temp{room=\"b\"}", NULL, 0, 0, {
		{ 0, TEMP2, RBD_METRIC_VALUE, 22, "22" },
	} },
	{ "absent", RBD_METRIC_GAUGE, "temp", NULL, 0, 0, {
		{ 0, OTHER, RBD_METRIC_NO_DATA, 0, "metric temp absent" },
		{ 10, "temp_c 1\n", RBD_METRIC_NO_DATA, 0, "metric temp absent" },
	} },
	{ "NaN", RBD_METRIC_GAUGE, "temp", NULL, 0, 0, {
		{ 0, "temp NaN\n", RBD_METRIC_NO_DATA, 0, "temp is NaN" },
	} },
};

/* A two-series latency histogram: GET's and POST's cumulative buckets
 * (0.1, 0.25, 0.5, 1, +Inf) with _sum and _count, as clients serve it. */
#define LAT(g1, g2, g3, g4, g5, p1, p2, p3, p4, p5) \
	"# HELP lat Request latency.\n# TYPE lat histogram\n" \
	"lat_bucket{method=\"GET\",le=\"0.1\"} " #g1 "\n" \
	"lat_bucket{method=\"GET\",le=\"0.25\"} " #g2 "\n" \
	"lat_bucket{method=\"GET\",le=\"0.5\"} " #g3 "\n" \
	"lat_bucket{method=\"GET\",le=\"1\"} " #g4 "\n" \
	"lat_bucket{method=\"GET\",le=\"+Inf\"} " #g5 "\n" \
	"lat_sum{method=\"GET\"} 12.5\nlat_count{method=\"GET\"} " #g5 "\n" \
	"lat_bucket{method=\"POST\",le=\"0.1\"} " #p1 "\n" \
	"lat_bucket{method=\"POST\",le=\"0.25\"} " #p2 "\n" \
	"lat_bucket{method=\"POST\",le=\"0.5\"} " #p3 "\n" \
	"lat_bucket{method=\"POST\",le=\"1\"} " #p4 "\n" \
	"lat_bucket{method=\"POST\",le=\"+Inf\"} " #p5 "\n" \
	"lat_sum{method=\"POST\"} 3\nlat_count{method=\"POST\"} " #p5 "\n"
#define LAT0 LAT(5, 10, 20, 30, 35, 1, 2, 3, 4, 5)
/* Increases of GET (6, 20, 40, 60, 65) and POST (4, 10, 20, 30, 35): the
 * "std" histogram summed. */
#define LAT1 LAT(11, 30, 60, 90, 100, 5, 12, 23, 34, 40)
#define TAIL(a, b, c) "# TYPE lat histogram\n" \
	"lat_bucket{le=\"0.1\"} " #a "\nlat_bucket{le=\"1\"} " #b "\n" \
	"lat_bucket{le=\"+Inf\"} " #c "\n"
#define NOINF(a, b) "lat_bucket{le=\"0.1\"} " #a "\nlat_bucket{le=\"1\"} " #b "\n"
#define INFONLY(a) "# TYPE lat histogram\nlat_bucket{le=\"+Inf\"} " #a "\n"
#define FIRST_Q "first scrape; a quantile needs two"

static const struct scenario histograms[] = {
	{ "median over two series, then a reset", RBD_METRIC_HISTOGRAM_QUANTILE,
	    "lat", NULL, 0.5, 0, {
		{ 0, LAT0, RBD_METRIC_NO_DATA, 0, FIRST_Q },
		/* Prometheus: std at 0.5. */
		{ 10, LAT1, RBD_METRIC_VALUE, 0.41666666666666663,
		    "0.416667 (0.5 quantile of 100 observations)" },
		{ 20, LAT1, RBD_METRIC_NO_DATA, 0,
		    "no observations since the last scrape" },
		/* GET restarted: its buckets count from 0 again. */
		{ 30, LAT(2, 4, 6, 8, 10, 5, 12, 23, 34, 40), RBD_METRIC_VALUE,
		    0.375, "0.375 (0.5 quantile of 10 observations)" },
	} },
	{ "one series selected by a label", RBD_METRIC_HISTOGRAM_QUANTILE,
	    "lat{method=\"POST\"}", NULL, 0.9, 0, {
		{ 0, LAT0, RBD_METRIC_NO_DATA, 0, FIRST_Q },
		/* POST's increases 4, 10, 20, 30, 35: rank 31.5 in +Inf. */
		{ 10, LAT1, RBD_METRIC_VALUE, 1,
		    "1 (0.9 quantile of 35 observations)" },
	} },
	{ "q=0", RBD_METRIC_HISTOGRAM_QUANTILE, "lat", NULL, 0, 0, {
		{ 0, LAT0, RBD_METRIC_NO_DATA, 0, FIRST_Q },
		{ 10, LAT1, RBD_METRIC_VALUE, 0, "0 (0 quantile of 100 observations)" },
	} },
	{ "in the +Inf bucket", RBD_METRIC_HISTOGRAM_QUANTILE, "lat", NULL,
	    0.99, 0, {
		{ 0, TAIL(0, 0, 0), RBD_METRIC_NO_DATA, 0, FIRST_Q },
		/* Prometheus: tail at 0.99. */
		{ 10, TAIL(1, 2, 10), RBD_METRIC_VALUE, 1,
		    "1 (0.99 quantile of 10 observations)" },
		/* The same increases again, on top of 1, 2, 10. */
		{ 20, TAIL(2, 4, 20), RBD_METRIC_VALUE, 1,
		    "1 (0.99 quantile of 10 observations)" },
	} },
	{ "in the first bucket", RBD_METRIC_HISTOGRAM_QUANTILE, "lat", NULL,
	    0.05, 0, {
		{ 0, TAIL(0, 0, 0), RBD_METRIC_NO_DATA, 0, FIRST_Q },
		/* Prometheus: tail at 0.05. */
		{ 10, TAIL(1, 2, 10), RBD_METRIC_VALUE, 0.05,
		    "0.05 (0.05 quantile of 10 observations)" },
	} },
	{ "no +Inf bucket", RBD_METRIC_HISTOGRAM_QUANTILE, "lat", NULL, 0.5, 0, {
		{ 0, NOINF(1, 2), RBD_METRIC_NO_DATA, 0, FIRST_Q },
		{ 10, NOINF(5, 10), RBD_METRIC_ERROR, 0,
		    "histogram lat has no le=\"+Inf\" bucket" },
	} },
	{ "only the +Inf bucket", RBD_METRIC_HISTOGRAM_QUANTILE, "lat", NULL,
	    0.5, 0, {
		{ 0, INFONLY(0), RBD_METRIC_NO_DATA, 0, FIRST_Q },
		{ 10, INFONLY(0), RBD_METRIC_NO_DATA, 0,
		    "no observations since the last scrape" },
		{ 20, INFONLY(10), RBD_METRIC_ERROR, 0,
		    "histogram lat has only the le=\"+Inf\" bucket" },
	} },
	{ "absent", RBD_METRIC_HISTOGRAM_QUANTILE, "lat", NULL, 0.5, 0, {
		{ 0, OTHER, RBD_METRIC_NO_DATA, 0, "metric lat absent" },
		/* lat_sum and lat_count alone are not buckets. */
		{ 10, "lat_sum 1\nlat_count 2\n", RBD_METRIC_NO_DATA, 0,
		    "metric lat absent" },
	} },
};

#define RPC(a, b, c) "# TYPE rpc summary\n" \
	"rpc{quantile=\"0.5\"} " #a "\nrpc{quantile=\"0.9\"} " #b "\n" \
	"rpc{quantile=\"0.99\"} " #c "\nrpc_sum 100\nrpc_count 1000\n"
#define RPC2 "# TYPE rpc summary\n" \
	"rpc{instance=\"a\",quantile=\"0.99\"} 0.25\n" \
	"rpc{instance=\"b\",quantile=\"0.99\"} 0.5\n"

static const struct scenario summaries[] = {
	{ "p99", RBD_METRIC_SUMMARY_QUANTILE, "rpc", NULL, 0.99, 0, {
		{ 0, RPC(0.05, 0.08, 0.2), RBD_METRIC_VALUE, 0.2, "0.2" },
		{ 10, RPC(0.05, 0.08, NaN), RBD_METRIC_NO_DATA, 0, "no observations" },
	} },
	{ "median", RBD_METRIC_SUMMARY_QUANTILE, "rpc", NULL, 0.5, 0, {
		{ 0, RPC(0.05, 0.08, 0.2), RBD_METRIC_VALUE, 0.05, "0.05" },
	} },
	{ "quantile not served", RBD_METRIC_SUMMARY_QUANTILE, "rpc", NULL, 0.75, 0, {
		{ 0, RPC(0.05, 0.08, 0.2), RBD_METRIC_NO_DATA, 0,
		    "metric rpc has no quantile=\"0.75\" series" },
	} },
	{ "several series", RBD_METRIC_SUMMARY_QUANTILE, "rpc", NULL, 0.99, 0, {
		{ 0, RPC2, RBD_METRIC_ERROR, 0,
		    "2 series match rpc with quantile=\"0.99\"; narrow the selector with labels" },
	} },
	{ "narrowed by a label", RBD_METRIC_SUMMARY_QUANTILE,
	    "rpc{instance=\"b\"}", NULL, 0.99, 0, {
		{ 0, RPC2, RBD_METRIC_VALUE, 0.5, "0.5" },
	} },
	{ "absent", RBD_METRIC_SUMMARY_QUANTILE, "rpc", NULL, 0.99, 0, {
		{ 0, OTHER, RBD_METRIC_NO_DATA, 0, "metric rpc absent" },
	} },
};

/* Run scenario sc step by step on one state, checking every result. */
static void scenario_run(const struct scenario *sc)
{
	struct rbd_metric_spec spec = {
		.kind = sc->kind, .sel = sel_parse(sc->sel),
		.den = sel_parse(sc->den), .quantile = sc->q,
		.min_rate = sc->min_rate,
	};
	struct rbd_metric_state *st = rbd_metric_state_new();

	ck_assert_ptr_nonnull(st);
	for (size_t i = 0; i < N_ELEMENTS(sc->steps) && sc->steps[i].text; i++) {
		const struct step *s = &sc->steps[i];
		struct rbd_prom_page *p = page_parse(s->text);
		/* A result starts with garbage: eval must fill all of it. */
		struct rbd_metric_result res = { .status = _RBD_METRIC_STATUS_MAX,
		    .value = 42, .why = "stale" };
		uint64_t now = 1000000000000ULL + (uint64_t)(s->t * 1e6);

		ck_assert_int_eq(rbd_metric_eval(&spec, st, p, now, &res), 0);
		ck_assert_msg(res.status == s->status, "%s, step %zu: status %d, want %d (%s)",
		    sc->name, i, res.status, s->status, res.why);
		ck_assert_msg(strcmp(res.why, s->why) == 0,
		    "%s, step %zu: why \"%s\", want \"%s\"", sc->name, i, res.why,
		    s->why);
		if (s->status == RBD_METRIC_VALUE)
			ck_assert_msg(same(res.value, s->value),
			    "%s, step %zu: %.17g, want %.17g", sc->name, i,
			    res.value, s->value);
		else
			ck_assert(isnan(res.value));
		rbd_prom_page_free(p);
	}
	rbd_metric_state_free(st);
	rbd_metric_spec_clear(&spec);
	ck_assert_ptr_null(spec.sel);
	ck_assert_ptr_null(spec.den);
}

START_TEST(test_rate)
{
	scenario_run(&rates[_i]);
}
END_TEST

START_TEST(test_ratio)
{
	scenario_run(&ratios[_i]);
}
END_TEST

START_TEST(test_gauge)
{
	scenario_run(&gauges[_i]);
}
END_TEST

START_TEST(test_histogram)
{
	scenario_run(&histograms[_i]);
}
END_TEST

START_TEST(test_summary)
{
	scenario_run(&summaries[_i]);
}
END_TEST

/* ---- the bound on the state ---- */

/* A page of n counters c_total{i="from".."from+n-1"}, each at value v. */
static struct rbd_prom_page *counters_page(unsigned from, unsigned n, unsigned v)
{
	size_t cap = (size_t)n * 40 + 64, len = 0;
	char *buf = malloc(cap);
	struct rbd_prom_page *p;

	ck_assert_ptr_nonnull(buf);
	len += (size_t)snprintf(buf, cap, "# TYPE c counter\n");
	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len,
		    "c_total{i=\"%u\"} %u\n", from + i, v);
	p = page_parse(buf);
	free(buf);
	return p;
}

/* Evaluate a rate of c_total on page at t seconds into *res. */
static void rate_at(struct rbd_metric_state *st, struct rbd_selector *sel,
    struct rbd_prom_page *p, unsigned t, struct rbd_metric_result *res)
{
	struct rbd_metric_spec spec = { .kind = RBD_METRIC_RATE, .sel = sel };

	ck_assert_int_eq(rbd_metric_eval(&spec, st, p,
	    (uint64_t)t * 1000000, res), 0);
	rbd_prom_page_free(p);
}

START_TEST(test_series_bound)
{
	struct rbd_selector *sel = sel_parse("c_total");
	struct rbd_metric_state *st = rbd_metric_state_new();
	struct rbd_metric_result res;

	ck_assert_ptr_nonnull(st);
	rate_at(st, sel, counters_page(0, RBD_METRIC_SERIES_MAX, 1), 1, &res);
	ck_assert_str_eq(res.why, FIRST);
	rate_at(st, sel, counters_page(0, RBD_METRIC_SERIES_MAX, 2), 2, &res);
	ck_assert_int_eq(res.status, RBD_METRIC_VALUE);
	ck_assert(same(res.value, RBD_METRIC_SERIES_MAX));
	/* All new series: the old ones make room while the page is read. */
	rate_at(st, sel, counters_page(RBD_METRIC_SERIES_MAX,
	    RBD_METRIC_SERIES_MAX, 5), 3, &res);
	ck_assert_str_eq(res.why, "first scrape of c_total; a rate needs two");
	/* One more than the bound: an error that says what to do. */
	rate_at(st, sel, counters_page(0, RBD_METRIC_SERIES_MAX + 1, 7), 4, &res);
	ck_assert_int_eq(res.status, RBD_METRIC_ERROR);
	ck_assert_str_eq(res.why,
	    "more than 10000 series match c_total; narrow the selector with labels");
	/* And back below it, the state still works. */
	rate_at(st, sel, counters_page(0, 3, 7), 5, &res);
	rate_at(st, sel, counters_page(0, 3, 9), 7, &res);
	ck_assert_int_eq(res.status, RBD_METRIC_VALUE);
	ck_assert(same(res.value, 3));
	ck_assert_str_eq(res.why, "3/s (6 in 2s, 3 series)");
	rbd_metric_state_free(st);
	rbd_selector_free(sel);
}
END_TEST

START_TEST(test_kind_str)
{
	/* The words of the policy's metric keys. */
	ck_assert_str_eq(rbd_metric_kind_str(RBD_METRIC_GAUGE), "gauge");
	ck_assert_str_eq(rbd_metric_kind_str(RBD_METRIC_RATE), "counter");
	ck_assert_str_eq(rbd_metric_kind_str(RBD_METRIC_RATIO), "ratio");
	ck_assert_str_eq(rbd_metric_kind_str(RBD_METRIC_HISTOGRAM_QUANTILE),
	    "histogram");
	ck_assert_str_eq(rbd_metric_kind_str(RBD_METRIC_SUMMARY_QUANTILE),
	    "summary");
	ck_assert_str_eq(rbd_metric_kind_str(_RBD_METRIC_KIND_MAX), "unknown");
	/* Freeing nothing is fine. */
	rbd_metric_state_free(NULL);
	rbd_metric_spec_clear(NULL);
}
END_TEST

static Suite *metric_suite(void)
{
	Suite *s = suite_create("metric");
	TCase *tc = tcase_create("histogram_quantile");

	tcase_add_loop_test(tc, test_quantile_prometheus, 0,
	    N_ELEMENTS(hists) * N_QS);
	tcase_add_test(tc, test_quantile_degenerate);
	suite_add_tcase(s, tc);
	tc = tcase_create("eval");
	tcase_add_loop_test(tc, test_rate, 0, N_ELEMENTS(rates));
	tcase_add_loop_test(tc, test_ratio, 0, N_ELEMENTS(ratios));
	tcase_add_loop_test(tc, test_gauge, 0, N_ELEMENTS(gauges));
	tcase_add_loop_test(tc, test_histogram, 0, N_ELEMENTS(histograms));
	tcase_add_loop_test(tc, test_summary, 0, N_ELEMENTS(summaries));
	suite_add_tcase(s, tc);
	tc = tcase_create("state");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_series_bound);
	tcase_add_test(tc, test_kind_str);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(metric_suite());
}
