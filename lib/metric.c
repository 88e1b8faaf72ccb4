/* Values computed from scraped pages: see metric.h. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metric.h"

#define TAB_MIN 64		/* hash chains to start with; a power of two */

/* A series seen at the last scrape: its key (name, then labels sorted by
 * name, each string NUL-terminated), its value then, and for a bucket its
 * upper bound, parsed once. */
struct series {
	struct series *next;	/* in its hash chain */
	uint64_t hash;
	uint64_t seen;		/* the scrape (st->gen) that last saw it */
	double value;
	double le;		/* NaN: not a bucket, or an unusable le */
	size_t key_len;
	char key[];
};

struct rbd_metric_state {
	struct series **tab;	/* hash chains; n_tab is a power of two */
	size_t n_tab;
	size_t n;		/* series held */
	size_t n_now;		/* of those, seen at this scrape */
	uint64_t gen;		/* scrapes evaluated, this one included */
	uint64_t prev_usec;	/* when the previous one was */
	char *key;		/* scratch: the key being looked up */
	size_t key_cap;
	struct rbd_bucket *bk;	/* scratch: this interval's bucket increases */
	size_t bk_cap, n_bk;
};

/* What one pass over a page adds up for one selector. */
struct tally {
	size_t matched;		/* samples that match */
	size_t known;		/* of those, series seen at the previous scrape */
	double increase;	/* the sum of their increases */
};

/* The words a policy uses for each kind (its key under "metric"). */
static const char *const kind_names[_RBD_METRIC_KIND_MAX] = {
	[RBD_METRIC_GAUGE] = "gauge",
	[RBD_METRIC_RATE] = "counter",
	[RBD_METRIC_RATIO] = "ratio",
	[RBD_METRIC_HISTOGRAM_QUANTILE] = "histogram",
	[RBD_METRIC_SUMMARY_QUANTILE] = "summary",
};

/* The kind's name for logs and status, as the policy writes it. */
const char *rbd_metric_kind_str(enum rbd_metric_kind k)
{
	if ((unsigned)k >= _RBD_METRIC_KIND_MAX)
		return "unknown";
	return kind_names[k];
}

/* Free the selectors and zero the spec; safe on a zeroed or cleared spec. */
void rbd_metric_spec_clear(struct rbd_metric_spec *spec)
{
	if (!spec)
		return;
	if (spec->sel)
		rbd_selector_free(spec->sel);
	if (spec->den)
		rbd_selector_free(spec->den);
	memset(spec, 0, sizeof(*spec));
}

/* A new, empty state: nothing is allocated until a series is seen. */
struct rbd_metric_state *rbd_metric_state_new(void)
{
	return calloc(1, sizeof(struct rbd_metric_state));
}

/* Free st and every series it holds; NULL is fine. */
void rbd_metric_state_free(struct rbd_metric_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_tab; i++) {
		struct series *s = st->tab[i], *next;

		for (; s; s = next) {
			next = s->next;
			free(s);
		}
	}
	free(st->tab);
	free(st->key);
	free(st->bk);
	free(st);
}

/* Fill *ret (status, value, a formatted why) and return 0. */
__attribute__((format(printf, 4, 5)))
static int result(struct rbd_metric_result *ret, enum rbd_metric_status status,
    double value, const char *fmt, ...)
{
	va_list ap;

	ret->status = status;
	ret->value = status == RBD_METRIC_VALUE ? value : NAN;
	va_start(ap, fmt);
	vsnprintf(ret->why, sizeof(ret->why), fmt, ap);
	va_end(ap);
	return 0;
}

/* v with as few digits as read back the same, as the client libraries
 * write quantile labels ("0.99", "0.5", not "0.98999999999999999"). */
static void fmt_shortest(char *buf, size_t len, double v)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* FNV-1a over the key's bytes. */
static uint64_t key_hash(const char *k, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)k[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Sort the label pointers in l by name (insertion sort: a handful). */
static void labels_sort(const struct rbd_prom_label **l, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		const struct rbd_prom_label *x = l[i];
		size_t j = i;

		for (; j > 0 && strcmp(l[j - 1]->name, x->name) > 0; j--)
			l[j] = l[j - 1];
		l[j] = x;
	}
}

/* Append s and its NUL at *pos in st->key (sized by the caller). */
static void key_put(struct rbd_metric_state *st, size_t *pos, const char *s)
{
	size_t n = strlen(s) + 1;

	memcpy(st->key + *pos, s, n);
	*pos += n;
}

/* Write sample s's key into st->key, growing it only when a longer key
 * comes (so a steady page allocates nothing); its length in *ret_len. */
static int key_build(struct rbd_metric_state *st,
    const struct rbd_prom_sample *s, size_t *ret_len)
{
	const struct rbd_prom_label *l[RBD_PROM_LABELS_MAX];
	size_t n = s->n_labels, len = strlen(s->name) + 1, pos = 0;

	/* The parser's limit: more labels cannot come from it. */
	assert(n <= RBD_PROM_LABELS_MAX);
	for (size_t i = 0; i < n; i++) {
		l[i] = &s->labels[i];
		len += strlen(l[i]->name) + strlen(l[i]->value) + 2;
	}
	labels_sort(l, n);
	if (len > st->key_cap) {
		char *k = realloc(st->key, len);

		if (!k)
			return -ENOMEM;
		st->key = k;
		st->key_cap = len;
	}
	key_put(st, &pos, s->name);
	for (size_t i = 0; i < n; i++) {
		key_put(st, &pos, l[i]->name);
		key_put(st, &pos, l[i]->value);
	}
	*ret_len = len;
	return 0;
}

/* The series with key st->key (len bytes, hash h), or NULL. */
static struct series *tab_find(const struct rbd_metric_state *st, size_t len,
    uint64_t h)
{
	if (!st->n_tab)
		return NULL;
	for (struct series *s = st->tab[h & (st->n_tab - 1)]; s; s = s->next)
		if (s->hash == h && s->key_len == len &&
		    memcmp(s->key, st->key, len) == 0)
			return s;
	return NULL;
}

/* Double the chains (or make the first ones) once there are as many
 * series as chains. */
static int tab_grow(struct rbd_metric_state *st)
{
	size_t n = st->n_tab ? st->n_tab * 2 : TAB_MIN;
	struct series **tab;

	if (st->n < st->n_tab)
		return 0;
	tab = calloc(n, sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	for (size_t i = 0; i < st->n_tab; i++) {
		struct series *s = st->tab[i], *next;

		for (; s; s = next) {
			next = s->next;
			s->next = tab[s->hash & (n - 1)];
			tab[s->hash & (n - 1)] = s;
		}
	}
	free(st->tab);
	st->tab = tab;
	st->n_tab = n;
	return 0;
}

/* A bucket's upper bound from its le label: NaN when absent or not a
 * number (PromQL skips such samples). */
static double le_parse(const struct rbd_prom_sample *smp)
{
	const char *v = rbd_prom_label(smp, "le");
	char *end;
	double le;

	if (!v || !*v)
		return NAN;
	le = strtod(v, &end);
	return *end ? NAN : le;
}

/* Free the series this scrape did not see: a series that comes back later
 * counts from then on, as a new one. */
static void tab_sweep(struct rbd_metric_state *st)
{
	if (st->n_now == st->n)
		return;
	for (size_t i = 0; i < st->n_tab; i++) {
		struct series **p = &st->tab[i];

		while (*p) {
			struct series *s = *p;

			if (s->seen == st->gen) {
				p = &s->next;
				continue;
			}
			*p = s->next;
			free(s);
			st->n--;
		}
	}
}

/* Add a series for sample smp under st->key (len bytes, hash h), seen now,
 * and put it in *ret. */
static int tab_add(struct rbd_metric_state *st,
    const struct rbd_prom_sample *smp, size_t len, uint64_t h,
    struct series **ret)
{
	struct series *s;
	size_t i;

	/* Full: make room by dropping the series this page has not shown
	 * (yet). Those it shows later count from then on; only a page with
	 * more matching series than the bound is an error. */
	if (st->n >= RBD_METRIC_SERIES_MAX)
		tab_sweep(st);
	if (st->n >= RBD_METRIC_SERIES_MAX)
		return -E2BIG;
	if (tab_grow(st) < 0)
		return -ENOMEM;
	s = malloc(sizeof(*s) + len);
	if (!s)
		return -ENOMEM;
	s->hash = h;
	s->seen = st->gen;
	s->value = smp->value;
	s->le = le_parse(smp);
	s->key_len = len;
	memcpy(s->key, st->key, len);
	i = h & (st->n_tab - 1);
	s->next = st->tab[i];
	st->tab[i] = s;
	st->n++;
	st->n_now++;
	*ret = s;
	return 0;
}

/* Record sample smp for this scrape. Its increase since the previous
 * scrape goes to *ret_inc, and *ret_known says whether there was one: a
 * value lower than before is a counter reset (the increase is the new
 * value, as PromQL's rate has it); a series new or missing from the
 * previous scrape counts from now (increase 0, not known). Returns 0,
 * 1 when the series was already seen on this page (a duplicate: ignored),
 * -E2BIG when the state is full, -ENOMEM. */
static int observe(struct rbd_metric_state *st,
    const struct rbd_prom_sample *smp, double *ret_inc, bool *ret_known,
    struct series **ret_s)
{
	struct series *s;
	size_t len;
	uint64_t h;
	int r;

	r = key_build(st, smp, &len);
	if (r < 0)
		return r;
	h = key_hash(st->key, len);
	s = tab_find(st, len, h);
	if (!s) {
		r = tab_add(st, smp, len, h, ret_s);
		if (r < 0)
			return r;
		*ret_inc = 0;
		*ret_known = false;
		return 0;
	}
	if (s->seen == st->gen)
		return 1;
	*ret_known = s->seen + 1 == st->gen;
	*ret_inc = !*ret_known ? 0 :
	    smp->value >= s->value ? smp->value - s->value : smp->value;
	s->seen = st->gen;
	s->value = smp->value;
	st->n_now++;
	*ret_s = s;
	return 0;
}

/* Add sample smp's increase to t. */
static void tally_add(struct tally *t, double inc, bool known)
{
	t->matched++;
	if (known) {
		t->known++;
		t->increase += inc;
	}
}

/* One pass over page for a rate or a ratio: every sample matching the
 * numerator (sel) or the denominator (den, may be NULL) is observed once,
 * so a series in both is not counted twice as an increase of zero. */
static int pass_counters(const struct rbd_metric_spec *spec,
    struct rbd_metric_state *st, const struct rbd_prom_page *page,
    struct tally *num, struct tally *den)
{
	size_t n = rbd_prom_page_count(page);

	for (size_t i = 0; i < n; i++) {
		const struct rbd_prom_sample *smp = rbd_prom_page_sample(page, i);
		bool in_num = rbd_selector_match(spec->sel, smp, NULL);
		bool in_den = spec->den && rbd_selector_match(spec->den, smp, NULL);
		struct series *s;
		double inc;
		bool known;
		int r;

		if (!in_num && !in_den)
			continue;
		r = observe(st, smp, &inc, &known, &s);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		if (in_num)
			tally_add(num, inc, known);
		if (in_den)
			tally_add(den, inc, known);
	}
	return 0;
}

/* The result for a pass that failed with r (-E2BIG or -ENOMEM). */
static int pass_failed(const struct rbd_metric_spec *spec, int r,
    struct rbd_metric_result *ret)
{
	if (r == -E2BIG)
		return result(ret, RBD_METRIC_ERROR, 0,
		    "more than %d series match %s; narrow the selector with labels",
		    RBD_METRIC_SERIES_MAX, rbd_selector_str(spec->sel));
	result(ret, RBD_METRIC_ERROR, 0, "out of memory");
	return r;
}

/* Seconds between the previous scrape and now; 0 when time did not pass. */
static double interval_sec(const struct rbd_metric_state *st, uint64_t now)
{
	if (now <= st->prev_usec)
		return 0;
	return (double)(now - st->prev_usec) / 1e6;
}

/* No data because t has nothing to compare with: the first scrape, or a
 * metric that appeared only now. */
static int first_scrape(const struct rbd_metric_state *st,
    const struct rbd_selector *sel, const char *what,
    struct rbd_metric_result *ret)
{
	if (st->gen == 1)
		return result(ret, RBD_METRIC_NO_DATA, 0,
		    "first scrape; a %s needs two", what);
	return result(ret, RBD_METRIC_NO_DATA, 0,
	    "first scrape of %s; a %s needs two", rbd_selector_str(sel), what);
}

/* A gauge: the one series that matches. */
static int eval_gauge(const struct rbd_metric_spec *spec,
    const struct rbd_prom_page *page, struct rbd_metric_result *ret)
{
	size_t n = rbd_prom_page_count(page), matched = 0;
	double v = NAN;

	for (size_t i = 0; i < n; i++) {
		const struct rbd_prom_sample *smp = rbd_prom_page_sample(page, i);

		if (rbd_selector_match(spec->sel, smp, NULL)) {
			matched++;
			v = smp->value;
		}
	}
	if (matched == 0)
		return result(ret, RBD_METRIC_NO_DATA, 0, "metric %s absent",
		    rbd_selector_str(spec->sel));
	if (matched > 1)
		return result(ret, RBD_METRIC_ERROR, 0,
		    "%zu series match %s; narrow the selector with labels",
		    matched, rbd_selector_str(spec->sel));
	if (isnan(v))
		return result(ret, RBD_METRIC_NO_DATA, 0, "%s is NaN",
		    rbd_selector_str(spec->sel));
	return result(ret, RBD_METRIC_VALUE, v, "%g", v);
}

/* Whether the counters tallied in t (matching sel) give a rate: no when
 * the metric is absent, on its first scrape, or with no time since the
 * last one, with that no-data result already in *ret. */
static bool rate_ready(const struct tally *t, const struct rbd_selector *sel,
    struct rbd_metric_state *st, double dt, struct rbd_metric_result *ret)
{
	if (t->matched == 0)
		result(ret, RBD_METRIC_NO_DATA, 0, "metric %s absent",
		    rbd_selector_str(sel));
	else if (t->known == 0)
		first_scrape(st, sel, "rate", ret);
	else if (dt <= 0)
		result(ret, RBD_METRIC_NO_DATA, 0,
		    "no time since the last scrape");
	else
		return true;
	return false;
}

/* A counter's per-second rate, summed over the matching series. */
static int eval_rate(const struct rbd_metric_spec *spec,
    struct rbd_metric_state *st, const struct rbd_prom_page *page,
    double dt, struct rbd_metric_result *ret)
{
	struct tally t = { 0 }, none = { 0 };
	int r;

	r = pass_counters(spec, st, page, &t, &none);
	if (r < 0)
		return pass_failed(spec, r, ret);
	if (!rate_ready(&t, spec->sel, st, dt, ret))
		return 0;
	return result(ret, RBD_METRIC_VALUE, t.increase / dt,
	    "%g/s (%g in %gs, %zu series)", t.increase / dt, t.increase, dt,
	    t.known);
}

/* The ratio of two rates. The denominator decides whether there is data;
 * a numerator without any series is a rate of 0 (client libraries create
 * a series on its first event: no 5xx series means no 5xx yet). */
static int eval_ratio(const struct rbd_metric_spec *spec,
    struct rbd_metric_state *st, const struct rbd_prom_page *page,
    double dt, struct rbd_metric_result *ret)
{
	struct tally num = { 0 }, den = { 0 };
	double nr, dr;
	int r;

	r = pass_counters(spec, st, page, &num, &den);
	if (r < 0)
		return pass_failed(spec, r, ret);
	if (!rate_ready(&den, spec->den, st, dt, ret))
		return 0;
	nr = num.increase / dt;
	dr = den.increase / dt;
	if (spec->min_rate > 0 && dr < spec->min_rate)
		return result(ret, RBD_METRIC_NO_DATA, 0,
		    "too little traffic: %g/s < min_rate %g/s", dr, spec->min_rate);
	if (dr <= 0)
		return result(ret, RBD_METRIC_NO_DATA, 0, "no traffic");
	if (num.matched == 0)
		return result(ret, RBD_METRIC_VALUE, 0,
		    "0 (0/s of %g/s; no series match %s)", dr,
		    rbd_selector_str(spec->sel));
	return result(ret, RBD_METRIC_VALUE, nr / dr, "%g (%g/s of %g/s)",
	    nr / dr, nr, dr);
}

/* Append (le, inc) to st's bucket scratch, growing it only when a page has
 * more buckets than any before. */
static int bucket_push(struct rbd_metric_state *st, double le, double inc)
{
	if (st->n_bk == st->bk_cap) {
		size_t cap = st->bk_cap ? st->bk_cap * 2 : 32;
		struct rbd_bucket *bk = realloc(st->bk, cap * sizeof(*bk));

		if (!bk)
			return -ENOMEM;
		st->bk = bk;
		st->bk_cap = cap;
	}
	st->bk[st->n_bk++] = (struct rbd_bucket){ .le = le, .count = inc };
	return 0;
}

/* One pass over page for a histogram: each matching _bucket series'
 * increase goes into st->bk with its bound. Equal bounds from several
 * series are summed later by rbd_histogram_quantile's merging, which is
 * what PromQL's sum by (le) followed by histogram_quantile computes. */
static int pass_buckets(const struct rbd_metric_spec *spec,
    struct rbd_metric_state *st, const struct rbd_prom_page *page,
    struct tally *t, double *ret_obs)
{
	size_t n = rbd_prom_page_count(page);

	st->n_bk = 0;
	*ret_obs = 0;
	for (size_t i = 0; i < n; i++) {
		const struct rbd_prom_sample *smp = rbd_prom_page_sample(page, i);
		struct series *s;
		double inc;
		bool known;
		int r;

		if (!rbd_selector_match(spec->sel, smp, "_bucket"))
			continue;
		r = observe(st, smp, &inc, &known, &s);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		tally_add(t, inc, known);
		if (isnan(s->le))
			continue;
		if (isinf(s->le) && s->le > 0 && known)
			*ret_obs += inc;
		if (known && bucket_push(st, s->le, inc) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Whether st's buckets include +Inf. */
static bool has_inf_bucket(const struct rbd_metric_state *st)
{
	for (size_t i = 0; i < st->n_bk; i++)
		if (isinf(st->bk[i].le) && st->bk[i].le > 0)
			return true;
	return false;
}

/* A histogram's quantile over the buckets' increases since the last
 * scrape. */
static int eval_histogram(const struct rbd_metric_spec *spec,
    struct rbd_metric_state *st, const struct rbd_prom_page *page,
    struct rbd_metric_result *ret)
{
	const char *name = rbd_selector_str(spec->sel);
	struct tally t = { 0 };
	char qs[32];
	double obs, v;
	int r;

	r = pass_buckets(spec, st, page, &t, &obs);
	if (r < 0)
		return pass_failed(spec, r, ret);
	if (t.matched == 0)
		return result(ret, RBD_METRIC_NO_DATA, 0, "metric %s absent", name);
	if (t.known == 0)
		return first_scrape(st, spec->sel, "quantile", ret);
	if (!has_inf_bucket(st))
		return result(ret, RBD_METRIC_ERROR, 0,
		    "histogram %s has no le=\"+Inf\" bucket", name);
	if (obs <= 0)
		return result(ret, RBD_METRIC_NO_DATA, 0,
		    "no observations since the last scrape");
	v = rbd_histogram_quantile(spec->quantile, st->bk, st->n_bk);
	if (isnan(v))
		return result(ret, RBD_METRIC_ERROR, 0,
		    "histogram %s has only the le=\"+Inf\" bucket", name);
	fmt_shortest(qs, sizeof(qs), spec->quantile);
	return result(ret, RBD_METRIC_VALUE, v,
	    "%g (%s quantile of %g observations)", v, qs, obs);
}

/* Whether sample smp's quantile label is q (compared as numbers, so
 * "0.99" and "0.990" are the same quantile). */
static bool quantile_is(const struct rbd_prom_sample *smp, double q)
{
	const char *v = rbd_prom_label(smp, "quantile");
	char *end;
	double x;

	if (!v || !*v)
		return false;
	x = strtod(v, &end);
	return !*end && x == q;
}

/* A summary's quantile: the one series with quantile="q". */
static int eval_summary(const struct rbd_metric_spec *spec,
    const struct rbd_prom_page *page, struct rbd_metric_result *ret)
{
	const char *name = rbd_selector_str(spec->sel);
	size_t n = rbd_prom_page_count(page), any = 0, matched = 0;
	double v = NAN;
	char qs[32];

	fmt_shortest(qs, sizeof(qs), spec->quantile);
	for (size_t i = 0; i < n; i++) {
		const struct rbd_prom_sample *smp = rbd_prom_page_sample(page, i);

		if (!rbd_selector_match(spec->sel, smp, NULL))
			continue;
		any++;
		if (quantile_is(smp, spec->quantile)) {
			matched++;
			v = smp->value;
		}
	}
	if (any == 0)
		return result(ret, RBD_METRIC_NO_DATA, 0, "metric %s absent", name);
	if (matched == 0)
		return result(ret, RBD_METRIC_NO_DATA, 0,
		    "metric %s has no quantile=\"%s\" series", name, qs);
	if (matched > 1)
		return result(ret, RBD_METRIC_ERROR, 0,
		    "%zu series match %s with quantile=\"%s\"; narrow the selector with labels",
		    matched, name, qs);
	if (isnan(v))
		return result(ret, RBD_METRIC_NO_DATA, 0, "no observations");
	return result(ret, RBD_METRIC_VALUE, v, "%g", v);
}

/* Compute spec's value from page; see metric.h. */
int rbd_metric_eval(const struct rbd_metric_spec *spec,
    struct rbd_metric_state *st, const struct rbd_prom_page *page,
    uint64_t now_usec, struct rbd_metric_result *ret)
{
	double dt = interval_sec(st, now_usec);
	int r;

	st->gen++;
	st->n_now = 0;
	switch (spec->kind) {
	case RBD_METRIC_GAUGE:
		r = eval_gauge(spec, page, ret);
		break;
	case RBD_METRIC_RATE:
		r = eval_rate(spec, st, page, dt, ret);
		break;
	case RBD_METRIC_RATIO:
		r = eval_ratio(spec, st, page, dt, ret);
		break;
	case RBD_METRIC_HISTOGRAM_QUANTILE:
		r = eval_histogram(spec, st, page, ret);
		break;
	case RBD_METRIC_SUMMARY_QUANTILE:
		r = eval_summary(spec, page, ret);
		break;
	default:
		r = result(ret, RBD_METRIC_ERROR, 0, "unknown metric kind %d",
		    (int)spec->kind);
		break;
	}
	tab_sweep(st);
	st->prev_usec = now_usec;
	return r;
}

/* Order buckets by upper bound (a NaN bound, which PromQL does not expect,
 * first, so the order stays total). */
static int bucket_cmp(const void *a, const void *b)
{
	double x = ((const struct rbd_bucket *)a)->le;
	double y = ((const struct rbd_bucket *)b)->le;

	if (isnan(x) || isnan(y))
		return isnan(y) - isnan(x);
	return (x > y) - (x < y);
}

/* Merge buckets with equal bounds (b sorted); returns how many are left. */
static size_t buckets_coalesce(struct rbd_bucket *b, size_t n)
{
	size_t i = 0;

	for (size_t j = 1; j < n; j++) {
		if (b[j].le == b[i].le)
			b[i].count += b[j].count;
		else
			b[++i] = b[j];
	}
	return i + 1;
}

/* Undo float rounding that makes counts differ by a relative 1e-12 or
 * less, as Prometheus's correctPrecisionErrors does (sums of rates). */
static void buckets_fix_precision(struct rbd_bucket *b, size_t n)
{
	double prev = b[0].count;

	for (size_t i = 1; i < n; i++) {
		double d = fabs(b[i].count - prev);

		if (d == 0)
			continue;
		if (d / b[i].count <= 1e-12)
			b[i].count = prev;
		else
			prev = b[i].count;
	}
}

/* Make counts non-decreasing with the bound: a count lower than one
 * before it takes that count (PromQL's ensureMonotonic). */
static void buckets_monotonic(struct rbd_bucket *b, size_t n)
{
	double max = b[0].count;

	for (size_t i = 1; i < n; i++) {
		if (b[i].count > max)
			max = b[i].count;
		else if (b[i].count < max)
			b[i].count = max;
	}
}

/* The quantile's value within sorted, merged, monotonic buckets b. */
static double bucket_interpolate(double q, const struct rbd_bucket *b,
    size_t n)
{
	double rank = q * b[n - 1].count, start = 0, count;
	size_t i = 0;

	/* The first bucket (but +Inf) whose count reaches rank. */
	while (i < n - 1 && b[i].count < rank)
		i++;
	if (i == n - 1)
		return b[n - 2].le;
	if (i == 0 && b[0].le <= 0)
		return b[0].le;
	count = b[i].count;
	if (i > 0) {
		start = b[i - 1].le;
		count -= b[i - 1].count;
		rank -= b[i - 1].count;
	}
	return start + (b[i].le - start) * (rank / count);
}

/* PromQL's bucketQuantile; see metric.h. */
double rbd_histogram_quantile(double q, struct rbd_bucket *b, size_t n)
{
	if (isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	if (n == 0)
		return NAN;
	qsort(b, n, sizeof(*b), bucket_cmp);
	if (!(isinf(b[n - 1].le) && b[n - 1].le > 0))
		return NAN;
	n = buckets_coalesce(b, n);
	buckets_fix_precision(b, n);
	buckets_monotonic(b, n);
	if (n < 2 || b[n - 1].count == 0)
		return NAN;
	return bucket_interpolate(q, b, n);
}
