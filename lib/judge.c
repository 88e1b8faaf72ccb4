/* Judging a metric check's value, and the windows of samples it uses. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "stats.h"

#define NUM_MAX	32	/* one formatted number */

int rbd_window_init(struct rbd_window *w, size_t cap)
{
	uint64_t *t;
	double *v;

	if (!w || cap == 0 || cap > RBD_WINDOW_MAX)
		return -EINVAL;
	t = calloc(cap, sizeof(*t));
	v = calloc(cap, sizeof(*v));
	if (!t || !v) {
		free(t);
		free(v);
		return -ENOMEM;
	}
	*w = (struct rbd_window){ .t = t, .v = v, .cap = cap };
	return 0;
}

void rbd_window_clear(struct rbd_window *w)
{
	if (!w)
		return;
	free(w->t);
	free(w->v);
	*w = (struct rbd_window){ 0 };
}

void rbd_window_push(struct rbd_window *w, uint64_t t, double v)
{
	size_t i;

	if (!w || w->cap == 0)
		return;
	if (w->n == w->cap) {
		/* Full: the oldest slot becomes the newest. */
		i = w->head;
		w->head = (w->head + 1) % w->cap;
	} else {
		i = (w->head + w->n++) % w->cap;
	}
	w->t[i] = t;
	w->v[i] = v;
}

void rbd_window_prune(struct rbd_window *w, uint64_t t_min)
{
	if (!w)
		return;
	while (w->n > 0 && w->t[w->head] < t_min) {
		w->head = (w->head + 1) % w->cap;
		w->n--;
	}
	if (w->n == 0)
		w->head = 0;
}

size_t rbd_window_values(const struct rbd_window *w, uint64_t from,
    uint64_t to, double *out, size_t max)
{
	size_t i, j, n = 0;

	if (!w || !out)
		return 0;
	for (i = 0; i < w->n && n < max; i++) {
		j = (w->head + i) % w->cap;
		if (w->t[j] >= from && w->t[j] < to)
			out[n++] = w->v[j];
	}
	return n;
}

/* A reason being written into the caller's buffer. */
struct reason {
	char *buf;
	size_t len, off;
};

/* Append to a reason; what does not fit is cut (snprintf's rules). */
static void add(struct reason *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add(struct reason *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->off >= r->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->buf + r->off, r->len - r->off, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->off += (size_t)n;
}

/* v with prec significant digits (more for the integer part, so 1234
 * never reads 1.23e+03), Prometheus's spelling of the non-finite. */
static void fmt_num(char *buf, double v, int prec)
{
	double digits;

	if (isnan(v)) {
		snprintf(buf, NUM_MAX, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, NUM_MAX, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	digits = v == 0 ? 1 : floor(log10(fabs(v))) + 1;
	if (digits > prec && digits <= 15)
		prec = (int)digits;
	snprintf(buf, NUM_MAX, "%.*g", prec, v);
}

/* a and b, readable, with digits enough to tell them apart: never
 * "0.1 > max 0.1". */
static void fmt_pair(char *sa, double a, char *sb, double b)
{
	for (int prec = 3; prec <= 17; prec++) {
		fmt_num(sa, a, prec);
		fmt_num(sb, b, prec);
		if (strcmp(sa, sb) != 0 || a == b)
			return;
	}
}

/* A percentage rounded (82), with decimals when it would read as the
 * limit it is compared with. */
static void fmt_pct(char *buf, double pct, const char *limit)
{
	for (int dec = 0; dec <= 3; dec++) {
		snprintf(buf, NUM_MAX, "%.*f", dec, pct);
		if (strcmp(buf, limit) != 0)
			return;
	}
}

/* min / max: FAIL with the reason, or OK with the reason started. */
static enum rbd_sample_result judge_bounds(const struct rbd_condition *c,
    double value, struct reason *r)
{
	char sv[NUM_MAX], smin[NUM_MAX], smax[NUM_MAX];

	if (c->has_max && value > c->max) {
		fmt_pair(sv, value, smax, c->max);
		add(r, "%s > max %s", sv, smax);
		return RBD_SAMPLE_FAIL;
	}
	if (c->has_min && value < c->min) {
		fmt_pair(sv, value, smin, c->min);
		add(r, "%s < min %s", sv, smin);
		return RBD_SAMPLE_FAIL;
	}
	if (c->has_max)
		fmt_pair(sv, value, smax, c->max);
	if (c->has_min)
		fmt_pair(sv, value, smin, c->min);
	if (c->has_min && c->has_max)
		add(r, "%s >= min %s, <= max %s", sv, smin, smax);
	else if (c->has_max)
		add(r, "%s <= max %s", sv, smax);
	else if (c->has_min)
		add(r, "%s >= min %s", sv, smin);
	return RBD_SAMPLE_OK;
}

/* The allowances' words: "max_increase 50%, max_delta 0.1". */
static void add_limits(struct reason *r, const struct rbd_condition *c)
{
	char s[NUM_MAX];

	if (c->has_max_increase) {
		fmt_num(s, c->max_increase * 100, 3);
		add(r, "max_increase %s%%%s", s, c->has_max_delta ? ", " : "");
	}
	if (c->has_max_delta) {
		fmt_num(s, c->max_delta, 3);
		add(r, "max_delta %s", s);
	}
}

/* The largest value max_increase and max_delta allow; with both, the
 * larger allowance holds: a tolerance relative for large values and
 * absolute near zero. +Inf when neither is set. */
static double allowance(const struct rbd_condition *c, double base)
{
	double a = -INFINITY;

	if (c->has_max_increase)
		a = base + fabs(base) * c->max_increase;
	if (c->has_max_delta)
		a = fmax(a, base + c->max_delta);
	return c->has_max_increase || c->has_max_delta ? a : INFINITY;
}

/* The value with the digits that tell it from its allowance (150.3, not
 * 150, when 150 is allowed). */
static void fmt_value(char *sv, double value, double allowed)
{
	char tmp[NUM_MAX];

	if (isfinite(allowed))
		fmt_pair(sv, value, tmp, allowed);
	else
		fmt_num(sv, value, 3);
}

/* The failure of max_increase / max_delta: "0.62 is 82% above the
 * baseline 0.34 (median of 60 samples; max_increase 50%)". */
static void add_exceeded(struct reason *r, const struct rbd_condition *c,
    double value, double base, size_t n_before)
{
	char sv[NUM_MAX], sb[NUM_MAX], sp[NUM_MAX], sl[NUM_MAX];
	char sd[NUM_MAX], sdl[NUM_MAX];
	double pct = (value - base) / fabs(base) * 100;
	bool has_pct = c->has_max_increase && isfinite(pct);

	fmt_value(sv, value, allowance(c, base));
	fmt_pair(sd, value, sb, base);	/* sd: scratch until the delta */
	add(r, "%s is ", sv);
	if (has_pct) {
		fmt_num(sl, c->max_increase * 100, 3);
		fmt_pct(sp, pct, sl);
		add(r, "%s%%%s", sp, c->has_max_delta ? " (" : " ");
	}
	if (c->has_max_delta) {
		fmt_pair(sd, value - base, sdl, c->max_delta);
		add(r, "%s%s", sd, has_pct ? ") " : " ");
	}
	add(r, "above the baseline %s (median of %zu samples; ", sb, n_before);
	add_limits(r, c);
	add(r, ")");
}

/* The OK words for the baseline: "0.35 within 50% of the baseline 0.34
 * (median of 60 samples)", the value left out after the bounds' words. */
static void add_within(struct reason *r, const struct rbd_condition *c,
    double value, double base, size_t n_before)
{
	char sv[NUM_MAX], sb[NUM_MAX], s[NUM_MAX];
	bool limits = c->has_max_increase || c->has_max_delta;

	fmt_value(sv, value, allowance(c, base));
	fmt_pair(s, value, sb, base);
	if (r->off == 0)
		add(r, "%s%s", sv, limits ? " within " : "; ");
	else
		add(r, "; %s", limits ? "within " : "");
	if (c->has_max_increase) {
		fmt_num(s, c->max_increase * 100, 3);
		add(r, "%s%%%s", s, c->has_max_delta ? " or " : " ");
	}
	if (c->has_max_delta) {
		fmt_num(s, c->max_delta, 3);
		add(r, "%s ", s);
	}
	add(r, "%s baseline %s (median of %zu samples)", limits ? "of the" :
	    "the", sb, n_before);
}

/* The Mann-Whitney numbers: "p=0.003 < 0.05 (U=812, effect 0.91, 30 vs
 * 60 samples)". */
static void add_mwu(struct reason *r, const struct rbd_mwu *m, double alpha,
    size_t n_after, size_t n_before)
{
	char sp[NUM_MAX], sa[NUM_MAX];

	fmt_pair(sp, m->p, sa, alpha);
	add(r, "p=%s %s %s (U=%.10g, effect %.2f, %zu vs %zu samples)", sp,
	    m->p < alpha ? "<" : ">=", sa, m->u, m->effect, n_after, n_before);
}

/* The Mann-Whitney test, when both samples are large enough: FAIL when
 * after is significantly greater than before. */
static enum rbd_sample_result judge_mwu(const struct rbd_condition *c,
    const double *before, size_t n_before, const double *after,
    size_t n_after, size_t min, struct reason *r)
{
	double alpha = 1 - c->confidence;
	struct rbd_mwu m;
	int e;

	if (n_after < min) {
		add(r, "; the Mann-Whitney test needs %zu samples after the "
		    "deploy, has %zu", min, n_after);
		return RBD_SAMPLE_OK;
	}
	e = rbd_mann_whitney(before, n_before, after, n_after, &m);
	if (e < 0) {
		r->off = 0;
		add(r, "Mann-Whitney test: %s", e == -ENOMEM ? "out of memory" :
		    "NaN among the samples");
		return RBD_SAMPLE_UNKNOWN;
	}
	if (m.p < alpha) {
		r->off = 0;
		add(r, "after is greater than before: ");
		add_mwu(r, &m, alpha, n_after, n_before);
		return RBD_SAMPLE_FAIL;
	}
	add(r, "; Mann-Whitney ");
	add_mwu(r, &m, alpha, n_after, n_before);
	return RBD_SAMPLE_OK;
}

/* The baseline: enough samples, the thresholds, then the test. */
static enum rbd_sample_result judge_baseline(const struct rbd_condition *c,
    double value, const double *before, size_t n_before,
    const double *after, size_t n_after, struct reason *r)
{
	size_t min = c->min_samples > 0 ? c->min_samples : 1;
	double base;

	if (n_before < min || !before) {
		r->off = 0;
		add(r, "baseline has %zu samples; needs %zu", before ?
		    n_before : 0, min);
		return RBD_SAMPLE_UNKNOWN;
	}
	base = rbd_median(before, n_before);
	if (isnan(base)) {
		r->off = 0;
		add(r, "baseline: out of memory");
		return RBD_SAMPLE_UNKNOWN;
	}
	if (value > allowance(c, base)) {
		r->off = 0;
		add_exceeded(r, c, value, base, n_before);
		return RBD_SAMPLE_FAIL;
	}
	add_within(r, c, value, base, n_before);
	if (!c->mann_whitney)
		return RBD_SAMPLE_OK;
	return judge_mwu(c, before, n_before, after, after ? n_after : 0, min,
	    r);
}

enum rbd_sample_result rbd_judge(const struct rbd_condition *c, double value,
    const double *before, size_t n_before, const double *after,
    size_t n_after, char *detail, size_t len)
{
	struct reason r = { detail, len, 0 };
	enum rbd_sample_result res;

	if (detail && len > 0)
		detail[0] = '\0';
	if (isnan(value)) {
		add(&r, "value is NaN");
		return RBD_SAMPLE_UNKNOWN;
	}
	res = judge_bounds(c, value, &r);
	if (res != RBD_SAMPLE_OK || !c->baseline)
		return res;
	return judge_baseline(c, value, before, n_before, after, n_after, &r);
}
