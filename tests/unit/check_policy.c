/* Unit tests of the policy loader (lib/policy.c) and its YAML reader
 * (lib/yamlnode.c).
 *
 * tests/data/policy/invalid/NN-name.yaml are parsed from memory as
 * "NN-name.yaml"; the whole list of errors must equal NN-name.err, one
 * message per line, in order. tests/data/policy/valid/ files must load,
 * and their values are checked field by field. tests/data/config/ holds
 * main configs with their policy directories. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "duration.h"
#include "policy.h"
#include "testutil.h"
#include "yamlnode.h"

#define DATA RBD_SRCDIR "/tests/data"
#define INVALID DATA "/policy/invalid"
#define VALID DATA "/policy/valid"
#define CONFIG DATA "/config"
#define SEC RBD_USEC_PER_SEC
#define MIN RBD_USEC_PER_MIN

/* The invalid fixtures, sorted; filled before the suite runs. */
static char **invalid;
static size_t n_invalid;

/* A policy pointer no loader may write on failure. */
static struct rbd_policy *const UNTOUCHED = (struct rbd_policy *)&n_invalid;

/* The whole file at path, NUL-terminated, in a new buffer. */
static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	out = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(out);
	for (int c; (c = fgetc(f)) != EOF;)
		fputc(c, out);
	fclose(f);
	ck_assert_int_eq(fclose(out), 0);
	*ret_len = len;
	return buf;
}

/* Every error in d, one per line, to show when a comparison fails. */
static char *diag_text(const struct rbd_diag *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(out);
	for (size_t i = 0; i < d->n; i++)
		fprintf(out, "%s\n", d->msgs[i]);
	fclose(out);
	return text;
}

/* d must hold exactly the n messages of want, in order. */
static void assert_diag(const struct rbd_diag *d, const char *const *want,
    size_t n, const char *what)
{
	char *got = diag_text(d);

	ck_assert_msg(d->dropped == 0, "%s: %zu errors dropped", what, d->dropped);
	ck_assert_msg(d->n == n, "%s: %zu errors, expected %zu; got:\n%s",
	    what, d->n, n, got);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strcmp(d->msgs[i], want[i]) == 0,
		    "%s: error %zu is\n  %s\nexpected\n  %s", what, i + 1,
		    d->msgs[i], want[i]);
	free(got);
}

/* d must hold exactly the one message want. */
static void assert_diag1(const struct rbd_diag *d, const char *want)
{
	assert_diag(d, &want, 1, want);
}

/* Split text into its lines (text is modified). */
static size_t split_lines(char *text, const char **lines, size_t max)
{
	size_t n = 0;

	for (char *p = text; *p && n < max;) {
		char *nl = strchr(p, '\n');

		lines[n++] = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	return n;
}

/* Parse valid/name and require success without any error. */
static struct rbd_policy *load_valid(const char *name)
{
	struct rbd_diag d = { 0 };
	struct rbd_policy *p = NULL;
	char path[512], *buf, *got;
	size_t len;
	int r;

	snprintf(path, sizeof(path), VALID "/%s", name);
	buf = slurp(path, &len);
	r = rbd_policy_parse(name, buf, len, &p, &d);
	got = diag_text(&d);
	ck_assert_msg(r == 0, "%s: %d, errors:\n%s", name, r, got);
	ck_assert_msg(d.n == 0, "%s: errors on success:\n%s", name, got);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->file, name);
	free(got);
	free(buf);
	rbd_diag_free(&d);
	return p;
}

/* The deploy argv must be exactly want (and NULL-terminated). */
static void assert_argv(const struct rbd_policy *p, const char *const *want,
    size_t n)
{
	ck_assert_uint_eq(p->deploy_argc, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(p->deploy_argv[i], want[i]);
	ck_assert_ptr_null(p->deploy_argv[n]);
}

/* The statuses of an http probe must be exactly want. */
static void assert_status(const struct rbd_http_probe *h, const int *want,
    size_t n)
{
	ck_assert_uint_eq(h->n_expect_status, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(h->expect_status[i], want[i]);
}

/* Each invalid fixture fails with exactly the errors of its .err file. */
START_TEST(test_invalid_fixture)
{
	const char *name = invalid[_i];
	struct rbd_policy *p = UNTOUCHED;
	struct rbd_diag d = { 0 };
	char path[512], *buf, *err;
	const char *want[64];
	size_t len, elen, n;
	int r;

	snprintf(path, sizeof(path), INVALID "/%s", name);
	buf = slurp(path, &len);
	snprintf(path + strlen(path) - strlen(".yaml"), 8, ".err");
	err = slurp(path, &elen);
	n = split_lines(err, want, 64);
	ck_assert_msg(n > 0, "%s: empty .err file", path);
	r = rbd_policy_parse(name, buf, len, &p, &d);
	ck_assert_msg(r == -EINVAL, "%s: returned %d", name, r);
	ck_assert_msg(p == UNTOUCHED, "%s: *ret written on failure", name);
	assert_diag(&d, want, n, name);
	rbd_diag_free(&d);
	free(err);
	free(buf);
}
END_TEST

/* The fixture set is there, every .yaml with its .err. */
START_TEST(test_fixtures_present)
{
	ck_assert_msg(n_invalid >= 112, "only %zu invalid fixtures", n_invalid);
	for (size_t i = 0; i < n_invalid; i++) {
		char path[512];

		snprintf(path, sizeof(path), INVALID "/%.*s.err",
		    (int)(strlen(invalid[i]) - 5), invalid[i]);
		ck_assert_msg(access(path, R_OK) == 0, "%s is missing", path);
	}
}
END_TEST

/* Only the required keys: every default. */
START_TEST(test_valid_defaults)
{
	struct rbd_policy *p = load_valid("defaults.yaml");
	const char *argv[] = { "/usr/local/bin/deploy-billing", "{version}" };
	const struct rbd_check *c = &p->checks[0];

	ck_assert_str_eq(p->service, "billing");
	assert_argv(p, argv, 2);
	ck_assert_uint_eq(p->deploy_timeout_usec, 5 * MIN);
	ck_assert_uint_eq(p->duration_usec, 10 * MIN);
	ck_assert_uint_eq(p->interval_usec, 10 * SEC);
	ck_assert_uint_eq(p->warmup_usec, 0);
	ck_assert_uint_eq(p->verify_usec, 10 * MIN);
	ck_assert_uint_eq(p->n_checks, 1);
	ck_assert_str_eq(c->name, "healthz");
	ck_assert_int_eq(c->type, RBD_CHECK_HTTP);
	ck_assert_str_eq(c->u.http.url, "http://127.0.0.1:9000/healthz");
	ck_assert_uint_eq(c->u.http.timeout_usec, 2 * SEC);
	assert_status(&c->u.http, (int[]){ 200 }, 1);
	ck_assert_ptr_null(c->u.http.expect_body);
	ck_assert_uint_eq(c->fail_after, 3);
	ck_assert_uint_eq(c->line, 6);
	ck_assert_uint_eq(c->col, 5);
	/* the safety rules: enforce, the loop breaker at 3 per hour, no
	 * down-migration, no guards */
	ck_assert_int_eq(p->mode, RBD_MODE_ENFORCE);
	ck_assert_uint_eq(p->max_automatic, 3);
	ck_assert_uint_eq(p->automatic_per_usec, RBD_USEC_PER_HOUR);
	ck_assert_ptr_null(p->migrate_down_argv);
	ck_assert_uint_eq(p->migrate_down_argc, 0);
	ck_assert_uint_eq(p->migrate_down_timeout_usec, 0);
	ck_assert_ptr_null(p->guards);
	ck_assert_uint_eq(p->n_guards, 0);
	ck_assert_int_eq(rbd_policy_find_guard(p, "healthz"), -ENOENT);
	rbd_policy_free(p);
}
END_TEST

/* Every key set, in block style. */
START_TEST(test_valid_full)
{
	struct rbd_policy *p = load_valid("full.yaml");
	const char *argv[] = {
		"/usr/local/bin/deploy", "--service", "{service}", "--version",
		"{version}", "--from={from_version}",
	};
	const struct rbd_check *c = p->checks;

	ck_assert_str_eq(p->service, "checkout");
	assert_argv(p, argv, 6);
	ck_assert_uint_eq(p->deploy_timeout_usec, 15 * MIN);
	ck_assert_uint_eq(p->duration_usec, 20 * MIN);
	ck_assert_uint_eq(p->interval_usec, 15 * SEC);
	ck_assert_uint_eq(p->warmup_usec, 1 * MIN);
	ck_assert_uint_eq(p->verify_usec, 5 * MIN);
	ck_assert_uint_eq(p->n_checks, 3);

	ck_assert_str_eq(c[0].name, "healthz");
	ck_assert_str_eq(c[0].u.http.url, "http://127.0.0.1:8080/healthz");
	ck_assert_uint_eq(c[0].u.http.timeout_usec, 3 * SEC);
	assert_status(&c[0].u.http, (int[]){ 200, 204 }, 2);
	ck_assert_str_eq(c[0].u.http.expect_body, "ok");
	ck_assert_uint_eq(c[0].fail_after, 5);
	ck_assert_uint_eq(c[0].line, 18);

	ck_assert_str_eq(c[1].name, "cart-api.v2");
	ck_assert_str_eq(c[1].u.http.url,
	    "https://shop.example.com:8443/api/cart?probe=1");
	ck_assert_uint_eq(c[1].u.http.timeout_usec, 14 * SEC);
	assert_status(&c[1].u.http, (int[]){ 299 }, 1);
	ck_assert_ptr_null(c[1].u.http.expect_body);
	ck_assert_uint_eq(c[1].fail_after, 1000);

	ck_assert_str_eq(c[2].name, "search_1");
	ck_assert_str_eq(c[2].u.http.url, "http://[::1]:9200/_cluster/health");
	ck_assert_uint_eq(c[2].u.http.timeout_usec, 2 * SEC);
	assert_status(&c[2].u.http, (int[]){ 200 }, 1);
	ck_assert_str_eq(c[2].u.http.expect_body, "status: \"green\"");
	ck_assert_uint_eq(c[2].fail_after, 1);
	ck_assert_uint_eq(c[2].line, 31);
	ck_assert_uint_eq(c[2].col, 5);

	ck_assert_int_eq(rbd_policy_find_check(p, "healthz"), 0);
	ck_assert_int_eq(rbd_policy_find_check(p, "search_1"), 2);
	ck_assert_int_eq(rbd_policy_find_check(p, "search"), -ENOENT);
	rbd_policy_free(p);
}
END_TEST

/* Quoted, flow, block, folded and tagged scalars; literal braces. */
START_TEST(test_valid_styles)
{
	struct rbd_policy *p = load_valid("styles.yaml");
	const char *argv[] = {
		"/opt/orders/bin/deploy", "--json={{\"version\": \"{version}\"}}",
		"a }} b", "42", "it's", "tab\there", "7", "true",
	};
	const struct rbd_check *c = p->checks;

	ck_assert_str_eq(p->service, "orders");
	assert_argv(p, argv, 8);
	ck_assert_uint_eq(p->deploy_timeout_usec, 90 * SEC);
	ck_assert_uint_eq(p->interval_usec, 1 * SEC);
	ck_assert_uint_eq(p->duration_usec, 2 * MIN);
	ck_assert_uint_eq(p->verify_usec, 2 * MIN);
	ck_assert_uint_eq(p->n_checks, 2);

	ck_assert_str_eq(c[0].name, "ready");
	ck_assert_str_eq(c[0].u.http.url, "http://localhost/ready");
	ck_assert_uint_eq(c[0].u.http.timeout_usec, 500 * RBD_USEC_PER_MSEC);
	assert_status(&c[0].u.http, (int[]){ 503 }, 1);
	ck_assert_uint_eq(c[0].fail_after, 3);

	ck_assert_str_eq(c[1].name, "body");
	ck_assert_str_eq(c[1].u.http.url, "http://localhost:8080/body");
	ck_assert_str_eq(c[1].u.http.expect_body, "line one\nline two\n");
	assert_status(&c[1].u.http, (int[]){ 200, 201 }, 2);
	ck_assert_uint_eq(c[1].fail_after, 7);
	rbd_policy_free(p);
}
END_TEST

/* Every duration form. */
START_TEST(test_valid_durations)
{
	static const struct {
		const char *name;
		uint64_t usec;
	} want[] = {
		{ "us", 1000 },
		{ "ms", 250 * RBD_USEC_PER_MSEC },
		{ "s", 10 * SEC },
		{ "m", 5 * MIN },
		{ "hm", 59 * MIN },
		{ "all", RBD_USEC_PER_HOUR - 1 },
		{ "ms-us", 1500 },
	};
	struct rbd_policy *p = load_valid("durations.yaml");

	ck_assert_uint_eq(p->deploy_timeout_usec, SEC);
	ck_assert_uint_eq(p->interval_usec, RBD_USEC_PER_HOUR);
	ck_assert_uint_eq(p->duration_usec, RBD_USEC_PER_DAY);
	ck_assert_uint_eq(p->warmup_usec, 0);
	ck_assert_uint_eq(p->verify_usec, 2 * RBD_USEC_PER_DAY - 1);
	ck_assert_uint_eq(p->n_checks, N_ELEMENTS(want));
	for (size_t i = 0; i < p->n_checks; i++) {
		ck_assert_str_eq(p->checks[i].name, want[i].name);
		ck_assert_uint_eq(p->checks[i].u.http.timeout_usec, want[i].usec);
	}
	rbd_policy_free(p);
}
END_TEST

/* Defaults that depend on other keys; the limits themselves. */
START_TEST(test_valid_short_interval)
{
	struct rbd_policy *p = load_valid("short-interval.yaml");

	ck_assert_uint_eq(p->deploy_timeout_usec, 24 * RBD_USEC_PER_HOUR);
	ck_assert_uint_eq(p->interval_usec, 100 * RBD_USEC_PER_MSEC);
	ck_assert_uint_eq(p->duration_usec, 7 * RBD_USEC_PER_DAY);
	ck_assert_uint_eq(p->warmup_usec, 6 * RBD_USEC_PER_DAY +
	    23 * RBD_USEC_PER_HOUR);
	ck_assert_uint_eq(p->verify_usec, 7 * RBD_USEC_PER_DAY);
	/* default: the smaller of 2s and half the interval */
	ck_assert_uint_eq(p->checks[0].u.http.timeout_usec,
	    50 * RBD_USEC_PER_MSEC);
	ck_assert_uint_eq(p->checks[1].u.http.timeout_usec,
	    99 * RBD_USEC_PER_MSEC);
	ck_assert_str_eq(rbd_check_type_str(p->checks[0].type), "http");
	rbd_policy_free(p);
}
END_TEST

/* Selector sel must select name, and read back as str. */
static void assert_selector(const struct rbd_selector *sel, const char *name,
    const char *str)
{
	ck_assert_ptr_nonnull(sel);
	ck_assert_str_eq(rbd_selector_name(sel), name);
	ck_assert_str_eq(rbd_selector_str(sel), str);
}

/* A condition of only min and/or max: no baseline. */
static void assert_no_baseline(const struct rbd_condition *c)
{
	ck_assert(!c->baseline);
	ck_assert(!c->has_max_increase);
	ck_assert(!c->has_max_delta);
	ck_assert(!c->mann_whitney);
}

/* Both sources, every metric kind, every condition key. */
START_TEST(test_valid_metrics)
{
	struct rbd_policy *p = load_valid("metrics.yaml");
	const struct rbd_check *c = p->checks;
	const struct rbd_prometheus_probe *pr;
	const struct rbd_scrape_probe *sc;

	ck_assert_uint_eq(p->n_checks, 7);

	/* prometheus, bearer token */
	ck_assert_str_eq(c[0].name, "error-rate");
	ck_assert_int_eq(c[0].type, RBD_CHECK_PROMETHEUS);
	ck_assert_str_eq(rbd_check_type_str(c[0].type), "prometheus");
	pr = &c[0].u.prom;
	ck_assert_str_eq(pr->url, "http://127.0.0.1:9090");
	ck_assert_str_eq(pr->query, "sum(rate(http_requests_total{job=\"checkout\","
	    "code=~\"5..\"}[1m])) / sum(rate(http_requests_total"
	    "{job=\"checkout\"}[1m]))");
	ck_assert_uint_eq(pr->timeout_usec, 3 * SEC);
	ck_assert_str_eq(pr->bearer_token_file, "/etc/rollbackd/prometheus.token");
	ck_assert_ptr_null(pr->basic_user);
	ck_assert_ptr_null(pr->basic_password_file);
	ck_assert(!c[0].cond.has_min);
	ck_assert(c[0].cond.has_max);
	ck_assert_double_eq(c[0].cond.max, 0.02);
	assert_no_baseline(&c[0].cond);
	ck_assert_uint_eq(c[0].fail_after, 2);
	ck_assert_int_eq(c[0].no_data, RBD_NO_DATA_FAIL);
	ck_assert_str_eq(rbd_no_data_str(c[0].no_data), "fail");
	ck_assert_uint_eq(c[0].inconclusive_after, 5);
	ck_assert_uint_eq(c[0].line, 8);

	/* prometheus, basic auth, default timeout (2s < 15s / 2) */
	ck_assert_str_eq(c[1].name, "load");
	ck_assert_int_eq(c[1].type, RBD_CHECK_PROMETHEUS);
	pr = &c[1].u.prom;
	ck_assert_str_eq(pr->url, "https://prometheus.example.com:9443/prom");
	ck_assert_str_eq(pr->query, "max(node_load1)");
	ck_assert_uint_eq(pr->timeout_usec, 2 * SEC);
	ck_assert_ptr_null(pr->bearer_token_file);
	ck_assert_str_eq(pr->basic_user, "rollbackd");
	ck_assert_str_eq(pr->basic_password_file, "/etc/rollbackd/prometheus.pass");
	ck_assert(c[1].cond.has_min && c[1].cond.has_max);
	ck_assert_double_eq(c[1].cond.min, -1.5);
	ck_assert_double_eq(c[1].cond.max, 1000);
	ck_assert_int_eq(c[1].no_data, RBD_NO_DATA_IGNORE);
	ck_assert_str_eq(rbd_no_data_str(c[1].no_data), "ignore");
	ck_assert_uint_eq(c[1].fail_after, 3);

	/* scrape histogram with a baseline and a test */
	ck_assert_str_eq(c[2].name, "p99");
	ck_assert_int_eq(c[2].type, RBD_CHECK_SCRAPE);
	ck_assert_str_eq(rbd_check_type_str(c[2].type), "scrape");
	sc = &c[2].u.scrape;
	ck_assert_str_eq(sc->url, "http://127.0.0.1:8080/metrics");
	ck_assert_uint_eq(sc->timeout_usec, 1 * SEC);
	ck_assert_int_eq(sc->metric.kind, RBD_METRIC_HISTOGRAM_QUANTILE);
	assert_selector(sc->metric.sel, "http_request_duration_seconds",
	    "http_request_duration_seconds{handler=\"/\"}");
	ck_assert_ptr_null(sc->metric.den);
	ck_assert_double_eq(sc->metric.quantile, 0.99);
	ck_assert(!c[2].cond.has_min);
	ck_assert(c[2].cond.has_max);
	ck_assert_double_eq(c[2].cond.max, 0.5);
	ck_assert(c[2].cond.baseline);
	ck_assert_uint_eq(c[2].cond.baseline_window_usec, 30 * MIN);
	ck_assert(c[2].cond.has_max_increase);
	ck_assert_double_eq(c[2].cond.max_increase, 0.5);
	ck_assert(c[2].cond.has_max_delta);
	ck_assert_double_eq(c[2].cond.max_delta, 0.1);
	ck_assert(c[2].cond.mann_whitney);
	ck_assert_double_eq(c[2].cond.confidence, 0.99);
	ck_assert_uint_eq(c[2].cond.min_samples, 20);
	ck_assert_int_eq(c[2].no_data, RBD_NO_DATA_INCONCLUSIVE);
	ck_assert_str_eq(rbd_no_data_str(c[2].no_data), "inconclusive");
	ck_assert_uint_eq(c[2].inconclusive_after, 10);

	/* scrape gauge, flow style */
	ck_assert_str_eq(c[3].name, "queue");
	sc = &c[3].u.scrape;
	ck_assert_int_eq(sc->metric.kind, RBD_METRIC_GAUGE);
	assert_selector(sc->metric.sel, "queue_depth",
	    "queue_depth{queue=\"orders\"}");
	ck_assert_uint_eq(sc->timeout_usec, 2 * SEC);
	ck_assert_double_eq(c[3].cond.max, 100);
	assert_no_baseline(&c[3].cond);

	/* scrape counter: a rate */
	ck_assert_str_eq(c[4].name, "orders");
	sc = &c[4].u.scrape;
	ck_assert_int_eq(sc->metric.kind, RBD_METRIC_RATE);
	assert_selector(sc->metric.sel, "orders_total", "orders_total");
	ck_assert(c[4].cond.has_min && !c[4].cond.has_max);
	ck_assert_double_eq(c[4].cond.min, 0.5);

	/* scrape ratio with a minimum rate */
	ck_assert_str_eq(c[5].name, "errors");
	sc = &c[5].u.scrape;
	ck_assert_int_eq(sc->metric.kind, RBD_METRIC_RATIO);
	assert_selector(sc->metric.sel, "http_requests_total",
	    "http_requests_total{code=~\"5..\"}");
	assert_selector(sc->metric.den, "http_requests_total",
	    "http_requests_total");
	ck_assert_double_eq(sc->metric.min_rate, 1);
	ck_assert_double_eq(c[5].cond.max, 0.05);

	/* scrape summary, a baseline of a fractional percentage only */
	ck_assert_str_eq(c[6].name, "rpc");
	sc = &c[6].u.scrape;
	ck_assert_int_eq(sc->metric.kind, RBD_METRIC_SUMMARY_QUANTILE);
	assert_selector(sc->metric.sel, "rpc_duration_seconds",
	    "rpc_duration_seconds");
	ck_assert_double_eq(sc->metric.quantile, 0);
	ck_assert(!c[6].cond.has_min && !c[6].cond.has_max);
	ck_assert(c[6].cond.baseline);
	ck_assert(c[6].cond.has_max_increase && !c[6].cond.has_max_delta);
	ck_assert_double_eq_tol(c[6].cond.max_increase, 0.125, 1e-12);
	ck_assert(!c[6].cond.mann_whitney);
	ck_assert_uint_eq(c[6].cond.baseline_window_usec, 10 * MIN);
	ck_assert_double_eq(c[6].cond.confidence, 0.95);
	ck_assert_uint_eq(c[6].cond.min_samples, 5);
	ck_assert_int_eq(rbd_policy_find_check(p, "rpc"), 6);
	rbd_policy_free(p);
}
END_TEST

/* Metric checks with only the keys they need: every default. */
START_TEST(test_valid_metrics_defaults)
{
	struct rbd_policy *p = load_valid("metrics-defaults.yaml");
	const struct rbd_check *c = p->checks;

	ck_assert_uint_eq(p->n_checks, 4);
	for (size_t i = 0; i < p->n_checks; i++) {
		ck_assert_int_eq(c[i].no_data, RBD_NO_DATA_INCONCLUSIVE);
		ck_assert_uint_eq(c[i].inconclusive_after, 5);
		ck_assert_uint_eq(c[i].fail_after, 3);
	}
	/* http: no condition at all */
	ck_assert_int_eq(c[0].type, RBD_CHECK_HTTP);
	ck_assert_uint_eq(c[0].u.http.timeout_usec, 500 * RBD_USEC_PER_MSEC);
	ck_assert(!c[0].cond.has_min && !c[0].cond.has_max);
	assert_no_baseline(&c[0].cond);

	/* prometheus: half the interval, no credentials */
	ck_assert_int_eq(c[1].type, RBD_CHECK_PROMETHEUS);
	ck_assert_str_eq(c[1].u.prom.query, "up");
	ck_assert_uint_eq(c[1].u.prom.timeout_usec, 500 * RBD_USEC_PER_MSEC);
	ck_assert_ptr_null(c[1].u.prom.bearer_token_file);
	ck_assert_ptr_null(c[1].u.prom.basic_user);
	ck_assert_ptr_null(c[1].u.prom.basic_password_file);
	assert_no_baseline(&c[1].cond);

	/* ratio: no minimum rate; baseline defaults, a zero max_delta */
	ck_assert_int_eq(c[2].type, RBD_CHECK_SCRAPE);
	ck_assert_uint_eq(c[2].u.scrape.timeout_usec, 500 * RBD_USEC_PER_MSEC);
	ck_assert_int_eq(c[2].u.scrape.metric.kind, RBD_METRIC_RATIO);
	assert_selector(c[2].u.scrape.metric.sel, "errors_total", "errors_total");
	assert_selector(c[2].u.scrape.metric.den, "requests_total",
	    "requests_total");
	ck_assert_double_eq(c[2].u.scrape.metric.min_rate, 0);
	ck_assert(!c[2].cond.has_min && !c[2].cond.has_max);
	ck_assert(c[2].cond.baseline);
	ck_assert_uint_eq(c[2].cond.baseline_window_usec, 10 * MIN);
	ck_assert(!c[2].cond.has_max_increase);
	ck_assert(c[2].cond.has_max_delta);
	ck_assert_double_eq(c[2].cond.max_delta, 0);
	ck_assert(!c[2].cond.mann_whitney);
	ck_assert_double_eq(c[2].cond.confidence, 0.95);
	ck_assert_uint_eq(c[2].cond.min_samples, 5);

	/* a test alone is a comparison; the default confidence */
	ck_assert_int_eq(c[3].u.scrape.metric.kind, RBD_METRIC_HISTOGRAM_QUANTILE);
	ck_assert_double_eq(c[3].u.scrape.metric.quantile, 1);
	ck_assert(c[3].cond.baseline);
	ck_assert(c[3].cond.mann_whitney);
	ck_assert(!c[3].cond.has_max_increase && !c[3].cond.has_max_delta);
	ck_assert_double_eq(c[3].cond.confidence, 0.95);
	ck_assert_uint_eq(c[3].cond.min_samples, 5);
	ck_assert_uint_eq(c[3].cond.baseline_window_usec, 10 * MIN);
	rbd_policy_free(p);
}
END_TEST

/* Unit checks: the unit's name, max_restarts and timeout, and their
 * defaults; no condition. */
START_TEST(test_valid_unit)
{
	struct rbd_policy *p = load_valid("unit.yaml");
	const struct rbd_check *c = p->checks;

	ck_assert_uint_eq(p->n_checks, 3);
	ck_assert_int_eq(c[0].type, RBD_CHECK_HTTP);
	ck_assert_int_eq(c[1].type, RBD_CHECK_UNIT);
	ck_assert_str_eq(c[1].u.unit.unit, "checkout.service");
	ck_assert_uint_eq(c[1].u.unit.max_restarts, 2);
	ck_assert_uint_eq(c[1].u.unit.timeout_usec, 300 * RBD_USEC_PER_MSEC);
	ck_assert_uint_eq(c[1].fail_after, 2);
	ck_assert(!c[1].cond.has_min && !c[1].cond.has_max);
	assert_no_baseline(&c[1].cond);
	ck_assert_int_eq(c[2].type, RBD_CHECK_UNIT);
	ck_assert_str_eq(c[2].u.unit.unit, "checkout-worker@1.service");
	ck_assert_uint_eq(c[2].u.unit.max_restarts, 0);
	ck_assert_uint_eq(c[2].u.unit.timeout_usec, 500 * RBD_USEC_PER_MSEC);
	ck_assert_uint_eq(c[2].fail_after, 3);
	ck_assert_int_eq(c[2].no_data, RBD_NO_DATA_INCONCLUSIVE);
	ck_assert(!rbd_check_is_metric(RBD_CHECK_UNIT));
	ck_assert(!rbd_check_is_metric(RBD_CHECK_HTTP));
	ck_assert(rbd_check_is_metric(RBD_CHECK_SCRAPE));
	ck_assert(rbd_check_is_metric(RBD_CHECK_PROMETHEUS));
	ck_assert_str_eq(rbd_check_type_str(RBD_CHECK_UNIT), "unit");
	rbd_policy_free(p);
}
END_TEST

/* The down-migration's argv must be exactly want (and NULL-terminated). */
static void assert_migrate_argv(const struct rbd_policy *p,
    const char *const *want, size_t n)
{
	ck_assert_uint_eq(p->migrate_down_argc, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(p->migrate_down_argv[i], want[i]);
	ck_assert_ptr_null(p->migrate_down_argv[n]);
}

/* mode, rollback, migrate_down with every placeholder, and a guard of
 * each probe type with the keys of checks. */
START_TEST(test_valid_safety)
{
	struct rbd_policy *p = load_valid("safety.yaml");
	const char *argv[] = {
		"/usr/local/bin/checkout-migrate", "--down",
		"--service={service}", "--from", "{from_schema}", "--to",
		"{to_schema}", "--code={from_version}..{version}",
	};
	const struct rbd_check *g = p->guards;

	ck_assert_int_eq(p->mode, RBD_MODE_DRY_RUN);
	ck_assert_str_eq(rbd_mode_str(p->mode), "dry-run");
	ck_assert_uint_eq(p->deploy_timeout_usec, 2 * MIN);
	assert_migrate_argv(p, argv, N_ELEMENTS(argv));
	ck_assert_uint_eq(p->migrate_down_timeout_usec, 10 * MIN);
	ck_assert_uint_eq(p->max_automatic, 5);
	ck_assert_uint_eq(p->automatic_per_usec, 2 * RBD_USEC_PER_HOUR);
	ck_assert_uint_eq(p->n_checks, 1);
	ck_assert_uint_eq(p->n_guards, 4);

	/* http, with its defaults filled in as for a check */
	ck_assert_str_eq(g[0].name, "postgres");
	ck_assert_int_eq(g[0].type, RBD_CHECK_HTTP);
	ck_assert_str_eq(g[0].u.http.url, "http://127.0.0.1:6432/health");
	ck_assert_uint_eq(g[0].u.http.timeout_usec, 2 * SEC);
	assert_status(&g[0].u.http, (int[]){ 200, 204 }, 2);
	ck_assert_uint_eq(g[0].fail_after, 2);
	ck_assert_int_eq(g[0].no_data, RBD_NO_DATA_INCONCLUSIVE);
	ck_assert_uint_eq(g[0].inconclusive_after, 5);
	ck_assert_uint_eq(g[0].line, 29);
	ck_assert_uint_eq(g[0].col, 5);

	/* prometheus with a threshold and no_data */
	ck_assert_str_eq(g[1].name, "upstream-errors");
	ck_assert_int_eq(g[1].type, RBD_CHECK_PROMETHEUS);
	ck_assert_str_eq(g[1].u.prom.query, "sum(rate(upstream_errors_total[1m]))");
	ck_assert_uint_eq(g[1].u.prom.timeout_usec, 3 * SEC);
	ck_assert(g[1].cond.has_max && !g[1].cond.has_min);
	ck_assert_double_eq(g[1].cond.max, 5);
	assert_no_baseline(&g[1].cond);
	ck_assert_int_eq(g[1].no_data, RBD_NO_DATA_FAIL);
	ck_assert_uint_eq(g[1].fail_after, 3);

	/* scrape with a baseline and its defaults */
	ck_assert_str_eq(g[2].name, "cache-latency");
	ck_assert_int_eq(g[2].type, RBD_CHECK_SCRAPE);
	ck_assert_int_eq(g[2].u.scrape.metric.kind, RBD_METRIC_GAUGE);
	assert_selector(g[2].u.scrape.metric.sel, "redis_latency_seconds",
	    "redis_latency_seconds");
	ck_assert_uint_eq(g[2].u.scrape.timeout_usec, 2 * SEC);
	ck_assert(g[2].cond.baseline);
	ck_assert(g[2].cond.has_max_increase);
	ck_assert_double_eq(g[2].cond.max_increase, 1);
	ck_assert_uint_eq(g[2].cond.baseline_window_usec, 10 * MIN);
	ck_assert_double_eq(g[2].cond.confidence, 0.95);
	ck_assert_uint_eq(g[2].cond.min_samples, 5);
	ck_assert_uint_eq(g[2].inconclusive_after, 5);

	/* unit */
	ck_assert_str_eq(g[3].name, "pgbouncer");
	ck_assert_int_eq(g[3].type, RBD_CHECK_UNIT);
	ck_assert_str_eq(g[3].u.unit.unit, "pgbouncer.service");
	ck_assert_uint_eq(g[3].u.unit.max_restarts, 1);
	ck_assert_uint_eq(g[3].u.unit.timeout_usec, 2 * SEC);

	/* guards and checks are looked up apart */
	ck_assert_int_eq(rbd_policy_find_guard(p, "postgres"), 0);
	ck_assert_int_eq(rbd_policy_find_guard(p, "pgbouncer"), 3);
	ck_assert_int_eq(rbd_policy_find_guard(p, "healthz"), -ENOENT);
	ck_assert_int_eq(rbd_policy_find_check(p, "postgres"), -ENOENT);
	ck_assert_int_eq(rbd_policy_find_check(p, "healthz"), 0);
	rbd_policy_free(p);
}
END_TEST

/* The sections written with only what they require: a down-migration
 * takes the deploy's timeout, an empty rollback mapping the defaults, an
 * empty guards sequence no guard. */
START_TEST(test_valid_safety_defaults)
{
	struct rbd_policy *p = load_valid("safety-defaults.yaml");
	const char *argv[] = { "/usr/local/bin/checkout-migrate", "{to_schema}" };

	ck_assert_int_eq(p->mode, RBD_MODE_ENFORCE);
	ck_assert_uint_eq(p->deploy_timeout_usec, 7 * MIN);
	assert_migrate_argv(p, argv, 2);
	ck_assert_uint_eq(p->migrate_down_timeout_usec, 7 * MIN);
	ck_assert_uint_eq(p->max_automatic, 3);
	ck_assert_uint_eq(p->automatic_per_usec, RBD_USEC_PER_HOUR);
	ck_assert_uint_eq(p->n_guards, 0);
	ck_assert_ptr_null(p->guards);
	rbd_policy_free(p);
}
END_TEST

/* One value of a safety key in a policy built here: the limits at their
 * edges, and a suggestion for a near miss. */
static const struct {
	const char *yaml;		/* the line added to a minimal policy */
	const char *err;		/* the one error, or NULL */
	enum rbd_mode mode;
	unsigned max_automatic;
	uint64_t per;
} safety_cases[] = {
	{ "mode: enforce", NULL, RBD_MODE_ENFORCE, 3, RBD_USEC_PER_HOUR },
	{ "mode: dry-run", NULL, RBD_MODE_DRY_RUN, 3, RBD_USEC_PER_HOUR },
	{ "mode: dryrun", "s.yaml:4:7: mode: invalid value 'dryrun' (did you "
	    "mean 'dry-run'?)", 0, 0, 0 },
	{ "mode: Enforce", "s.yaml:4:7: mode: invalid value 'Enforce' (did you "
	    "mean 'enforce'?)", 0, 0, 0 },
	{ "mode: [dry-run]", "s.yaml:4:7: mode: expected a string, got a "
	    "sequence", 0, 0, 0 },
	{ "rollback: {max_automatic: 0}", NULL, RBD_MODE_ENFORCE, 0,
	    RBD_USEC_PER_HOUR },
	{ "rollback: {max_automatic: 100, per: 30d}", NULL, RBD_MODE_ENFORCE,
	    100, 30 * RBD_USEC_PER_DAY },
	{ "rollback: {per: 1m}", NULL, RBD_MODE_ENFORCE, 3, MIN },
	{ "rollback: {max_automatic: -1}", "s.yaml:4:27: rollback.max_automatic: "
	    "-1 is out of range (0..100)", 0, 0, 0 },
	{ "rollback: {max_automatic: '3'}", "s.yaml:4:27: rollback.max_automatic: "
	    "expected an integer, got a string", 0, 0, 0 },
	{ "rollback: {per: 30d1us}", "s.yaml:4:17: rollback.per: 30d1us is out "
	    "of range (1m..30d)", 0, 0, 0 },
	{ "rollback: {per: 60}", "s.yaml:4:17: rollback.per: invalid duration "
	    "'60': needs a unit, e.g. 60s", 0, 0, 0 },
	{ "rollback: 3", "s.yaml:4:11: rollback: expected a mapping, got an "
	    "integer", 0, 0, 0 },
	{ "migrate_down: {command: [/bin/m], timeout: 24h}", NULL,
	    RBD_MODE_ENFORCE, 3, RBD_USEC_PER_HOUR },
	{ "migrate_down: {command: []}", "s.yaml:4:25: migrate_down.command: "
	    "must not be empty", 0, 0, 0 },
	{ "migrate_down: {command: ['']}", "s.yaml:4:26: "
	    "migrate_down.command[0]: must not be empty", 0, 0, 0 },
	{ "migrate_down: {command: [/bin/m], timeout: 0}", "s.yaml:4:44: "
	    "migrate_down.timeout: 0 is out of range (1s..24h)", 0, 0, 0 },
	{ "guards: ~", "s.yaml:4:9: guards: expected a sequence, got null",
	    0, 0, 0 },
};

START_TEST(test_safety_values)
{
	static const char head[] =
	    "service: s\n"
	    "deploy: { command: [/bin/d] }\n"
	    "checks: [{ name: a, http: { url: 'http://h/' } }]\n";
	struct rbd_policy *p = UNTOUCHED;
	struct rbd_diag d = { 0 };
	char doc[512];
	int n = snprintf(doc, sizeof(doc), "%s%s\n", head, safety_cases[_i].yaml);
	int r = rbd_policy_parse("s.yaml", doc, (size_t)n, &p, &d);

	if (safety_cases[_i].err) {
		ck_assert_int_eq(r, -EINVAL);
		ck_assert(p == UNTOUCHED);
		assert_diag1(&d, safety_cases[_i].err);
	} else {
		ck_assert_msg(r == 0, "%s: %d, %zu errors", safety_cases[_i].yaml,
		    r, d.n);
		ck_assert_int_eq(p->mode, safety_cases[_i].mode);
		ck_assert_uint_eq(p->max_automatic, safety_cases[_i].max_automatic);
		ck_assert_uint_eq(p->automatic_per_usec, safety_cases[_i].per);
		rbd_policy_free(p);
	}
	rbd_diag_free(&d);
}
END_TEST

/* Drill: the drill key, its defaults and its errors with positions. */
static const struct {
	const char *yaml;
	const char *err;		/* the one error, or NULL */
	bool has_drill;
	uint64_t every;
	int wday;
	unsigned start, end;
} drill_cases[] = {
	{ "mode: enforce", NULL, false, 0, 0, 0, 0 },
	{ "drill: { window: \"Tue 10:00-12:00\" }", NULL, true,
	    7 * RBD_USEC_PER_DAY, 2, 600, 720 },
	{ "drill: { every: 1h, window: 'sunday 00:00-24:00' }", NULL, true,
	    RBD_USEC_PER_HOUR, 0, 0, 1440 },
	{ "drill: { every: 365d, window: Fri 16:30-17:00 }", NULL, true,
	    365 * RBD_USEC_PER_DAY, 5, 990, 1020 },
	{ "drill: { every: 7d }", "s.yaml:4:10: drill: missing required key "
	    "'window'", false, 0, 0, 0, 0 },
	{ "drill: { every: 59m, window: Tue 10:00-12:00 }", "s.yaml:4:17: "
	    "drill.every: 59m is out of range (1h..365d)", false, 0, 0, 0, 0 },
	{ "drill: { window: \"Tus 10:00-12:00\" }", "s.yaml:4:19: drill.window: "
	    "invalid window 'Tus 10:00-12:00': expected a weekday first: Mon, "
	    "Tue, Wed, Thu, Fri, Sat or Sun", false, 0, 0, 0, 0 },
	{ "drill: { window: \"Fri 23:00-01:00\" }", "s.yaml:4:23: drill.window: "
	    "invalid window 'Fri 23:00-01:00': the window must end after it "
	    "starts, on the same day (it cannot cross midnight)",
	    false, 0, 0, 0, 0 },
	{ "drill: { window: Tue 10:00-12:00, when: now }", "s.yaml:4:35: "
	    "drill: unknown key 'when'",
	    false, 0, 0, 0, 0 },
	{ "drill: 7d", "s.yaml:4:8: drill: expected a mapping, got a string",
	    false, 0, 0, 0, 0 },
};

START_TEST(test_drill_key)
{
	static const char head[] =
	    "service: s\n"
	    "deploy: { command: [/bin/d] }\n"
	    "checks: [{ name: a, http: { url: 'http://h/' } }]\n";
	struct rbd_policy *p = UNTOUCHED;
	struct rbd_diag d = { 0 };
	char doc[512];
	int n = snprintf(doc, sizeof(doc), "%s%s\n", head, drill_cases[_i].yaml);
	int r = rbd_policy_parse("s.yaml", doc, (size_t)n, &p, &d);

	if (drill_cases[_i].err) {
		ck_assert_int_eq(r, -EINVAL);
		ck_assert(p == UNTOUCHED);
		assert_diag1(&d, drill_cases[_i].err);
	} else {
		ck_assert_msg(r == 0, "%s: %d, %zu errors: %s",
		    drill_cases[_i].yaml, r, d.n, d.n ? d.msgs[0] : "");
		ck_assert_int_eq(p->has_drill, drill_cases[_i].has_drill);
		ck_assert_uint_eq(p->drill_every_usec, drill_cases[_i].every);
		if (p->has_drill) {
			ck_assert_int_eq(p->drill_window.wday,
			    drill_cases[_i].wday);
			ck_assert_uint_eq(p->drill_window.start,
			    drill_cases[_i].start);
			ck_assert_uint_eq(p->drill_window.end,
			    drill_cases[_i].end);
		}
		rbd_policy_free(p);
	}
	rbd_diag_free(&d);
}
END_TEST


/* Remedies: a full list, every field and default. */
START_TEST(test_valid_remedies)
{
	static const char doc[] =
	    "service: s\n"
	    "deploy: { command: [/bin/d] }\n"
	    "watch: { interval: 1s }\n"
	    "checks: [{ name: a, http: { url: 'http://h/' } }]\n"
	    "remedies:\n"
	    "  - name: flag-off\n"
	    "    command: [/bin/flag, off, '{service}', '{version}', "
	    "'{from_version}']\n"
	    "    settle: 30s\n"
	    "  - name: flag-service\n"
	    "    http:\n"
	    "      method: PUT\n"
	    "      url: https://flags.example/api/checkout/new-ui\n"
	    "      body: '{\"enabled\": false}'\n"
	    "      headers: { Content-Type: application/json, X-Token: abc }\n"
	    "    timeout: 5s\n"
	    "    settle: 1m\n"
	    "  - name: get\n"
	    "    http: { url: 'http://127.0.0.1:1/off' }\n"
	    "    settle: 1s\n";
	static const char *const argv[] = { "/bin/flag", "off", "{service}",
	    "{version}", "{from_version}" };
	struct rbd_policy *p = UNTOUCHED;
	struct rbd_diag d = { 0 };
	const struct rbd_remedy *r;
	int ret = rbd_policy_parse("s.yaml", doc, sizeof(doc) - 1, &p, &d);

	ck_assert_msg(ret == 0, "%d: %s", ret, d.n ? diag_text(&d) : "");
	ck_assert_uint_eq(p->n_remedies, 3);
	r = &p->remedies[0];
	ck_assert_str_eq(r->name, "flag-off");
	ck_assert_int_eq(r->type, RBD_REMEDY_COMMAND);
	ck_assert_uint_eq(r->argc, 5);
	for (size_t i = 0; i < 5; i++)
		ck_assert_str_eq(r->argv[i], argv[i]);
	ck_assert_ptr_null(r->argv[5]);
	ck_assert_uint_eq(r->timeout_usec, 30 * RBD_USEC_PER_SEC);
	ck_assert_uint_eq(r->settle_usec, 30 * RBD_USEC_PER_SEC);
	ck_assert_uint_eq(r->line, 6);
	r = &p->remedies[1];
	ck_assert_int_eq(r->type, RBD_REMEDY_HTTP);
	ck_assert_str_eq(r->http.method, "PUT");
	ck_assert_str_eq(r->http.url, "https://flags.example/api/checkout/new-ui");
	ck_assert_str_eq(r->http.body, "{\"enabled\": false}");
	ck_assert_uint_eq(r->http.n_headers, 2);
	ck_assert_str_eq(r->http.headers[0], "Content-Type: application/json");
	ck_assert_str_eq(r->http.headers[1], "X-Token: abc");
	ck_assert_uint_eq(r->timeout_usec, 5 * RBD_USEC_PER_SEC);
	ck_assert_uint_eq(r->settle_usec, MIN);
	r = &p->remedies[2];
	ck_assert_str_eq(r->http.method, "POST");
	ck_assert_ptr_null(r->http.body);
	ck_assert_uint_eq(r->http.n_headers, 0);
	ck_assert_uint_eq(r->settle_usec, RBD_USEC_PER_SEC);
	rbd_policy_free(p);
	rbd_diag_free(&d);
}
END_TEST

/* Remedies: what is wrong with one is reported, exactly. */
static const struct {
	const char *yaml;	/* after "remedies:\n" */
	const char *err[3];	/* the errors, in order */
} remedy_cases[] = {
	{ "  - { name: a, command: [/bin/x], settle: 10s, tiemout: 1s }",
	    { "s.yaml:6:48: remedies[0]: unknown key 'tiemout' (did you mean "
	    "'timeout'?)" } },
	{ "  - { name: a, command: [/bin/x], http: { url: 'http://h/' }, "
	    "settle: 10s }",
	    { "s.yaml:6:35: remedies[0]: 'http' cannot be used with 'command': "
	    "a remedy runs exactly one action" } },
	{ "  - { name: a, settle: 10s }",
	    { "s.yaml:6:7: remedies[0]: missing a remedy action: command or "
	    "http" } },
	{ "  - { name: a, command: [/bin/x] }",
	    { "s.yaml:6:7: remedies[0]: missing required key 'settle'" } },
	{ "  - { name: a, command: [/bin/x], settle: 0s }",
	    { "s.yaml:6:43: remedies[0].settle: 0s is out of range (1s..24h)" } },
	{ "  - { name: a, command: [/bin/x], settle: 5s }",
	    { "s.yaml:6:43: remedies[0].settle: 5s must not be shorter than "
	    "watch.interval (10s)" } },
	{ "  - { name: a, command: [/bin/x], settle: 10s, timeout: 2h }",
	    { "s.yaml:6:57: remedies[0].timeout: 2h is out of range (1s..1h)" } },
	{ "  - { name: a, command: ['{version}'], settle: 10s }",
	    { "s.yaml:6:27: remedies[0].command[0]: placeholder {version} is "
	    "not allowed in the program" } },
	{ "  - { name: a, command: [/bin/x, '{to_schema}'], settle: 10s }",
	    { "s.yaml:6:35: remedies[0].command[1]: placeholder {to_schema} is "
	    "only for migrate_down.command" } },
	{ "  - { name: 'a b', command: [/bin/x], settle: 10s }",
	    { "s.yaml:6:13: remedies[0].name: invalid remedy name 'a b': "
	    "contains whitespace" } },
	{ "  - { name: a, http: { url: 'ftp://h/' }, settle: 10s }",
	    { "s.yaml:6:29: remedies[0].http.url: URL scheme 'ftp' is not "
	    "supported (use http or https)" } },
	{ "  - { name: a, http: { url: 'http://h/', method: post }, "
	    "settle: 10s }",
	    { "s.yaml:6:50: remedies[0].http.method: unknown method 'post' "
	    "(GET, POST, PUT, PATCH or DELETE)" } },
	{ "  - { name: a, http: { url: 'http://h/', headers: { 'a b': c } }, "
	    "settle: 10s }",
	    { "s.yaml:6:55: remedies[0].http.headers: invalid character in "
	    "header name" } },
	{ "  - { name: a, http: { url: 'http://h/', headers: { a: \"x\\ny\" } },"
	    " settle: 10s }",
	    { "s.yaml:6:56: remedies[0].http.headers.a: contains a control "
	    "character" } },
	{ "  - { name: a, http: { method: GET }, settle: 10s }",
	    { "s.yaml:6:24: remedies[0].http: missing required key 'url'" } },
	{ "  - { name: a, command: [/bin/x], settle: 10s }\n"
	    "  - { name: a, command: [/bin/y], settle: 10s }",
	    { "s.yaml:7:5: remedies[1].name: duplicate remedy name 'a' (first "
	    "defined at line 6)" } },
	{ "  - [a]\n  - { name: b, settle: 0 }",
	    { "s.yaml:6:5: remedies[0]: expected a mapping, got a sequence",
	    "s.yaml:7:24: remedies[1].settle: 0 is out of range (1s..24h)",
	    "s.yaml:7:7: remedies[1]: missing a remedy action: command or "
	    "http" } },
	{ "  [" "{name: a, command: [/x], settle: 10s}, "
	    "{name: b, command: [/x], settle: 10s}, "
	    "{name: c, command: [/x], settle: 10s}, "
	    "{name: d, command: [/x], settle: 10s}, "
	    "{name: e, command: [/x], settle: 10s}, "
	    "{name: f, command: [/x], settle: 10s}, "
	    "{name: g, command: [/x], settle: 10s}, "
	    "{name: h, command: [/x], settle: 10s}, "
	    "{name: i, command: [/x], settle: 10s}, "
	    "{name: j, command: [/x], settle: 10s}, "
	    "{name: k, command: [/x], settle: 10s}]",
	    { "s.yaml:6:3: remedies: too many entries (more than 10)" } },
	{ "  {name: a}", { "s.yaml:6:3: remedies: expected a sequence, got a "
	    "mapping" } },
};

START_TEST(test_remedy_errors)
{
	static const char head[] =
	    "service: s\n"
	    "deploy: { command: [/bin/d] }\n"
	    "watch: { interval: 10s }\n"
	    "checks: [{ name: a, http: { url: 'http://h/' } }]\n"
	    "remedies:\n";
	struct rbd_policy *p = UNTOUCHED;
	struct rbd_diag d = { 0 };
	const char *const *want = remedy_cases[_i].err;
	char doc[2048];
	size_t n_want = 0;
	int n = snprintf(doc, sizeof(doc), "%s%s\n", head, remedy_cases[_i].yaml);
	int r = rbd_policy_parse("s.yaml", doc, (size_t)n, &p, &d);

	while (n_want < 3 && want[n_want])
		n_want++;
	ck_assert_msg(r == -EINVAL, "%s: %d", remedy_cases[_i].yaml, r);
	ck_assert(p == UNTOUCHED);
	assert_diag(&d, want, n_want, remedy_cases[_i].yaml);
	rbd_diag_free(&d);
}
END_TEST

/* The release-directory deployer: its paths and one way to restart,
 * no command. */
START_TEST(test_valid_reldir)
{
	struct rbd_policy *p = load_valid("reldir.yaml");

	ck_assert_ptr_null(p->deploy_argv);
	ck_assert_str_eq(p->deploy_releases, "/srv/checkout/releases");
	ck_assert_str_eq(p->deploy_current, "/srv/checkout/current");
	ck_assert_str_eq(p->deploy_restart_unit, "checkout.service");
	ck_assert_ptr_null(p->deploy_restart_argv);
	ck_assert_uint_eq(p->deploy_timeout_usec, 2 * MIN);
	rbd_policy_free(p);
	p = load_valid("reldir-command.yaml");
	ck_assert_ptr_null(p->deploy_argv);
	ck_assert_str_eq(p->deploy_current, "/srv/checkout-current");
	ck_assert_ptr_null(p->deploy_restart_unit);
	ck_assert_uint_eq(p->deploy_restart_argc, 3);
	ck_assert_str_eq(p->deploy_restart_argv[0],
	    "/usr/local/bin/restart-checkout");
	ck_assert_str_eq(p->deploy_restart_argv[2], "{from_version}");
	ck_assert_ptr_null(p->deploy_restart_argv[3]);
	ck_assert_uint_eq(p->deploy_timeout_usec, 5 * MIN);
	rbd_policy_free(p);
}
END_TEST

/* The names of types and no-data rules, for logs and status. */
START_TEST(test_enum_names)
{
	ck_assert_str_eq(rbd_check_type_str(RBD_CHECK_HTTP), "http");
	ck_assert_str_eq(rbd_check_type_str(RBD_CHECK_PROMETHEUS), "prometheus");
	ck_assert_str_eq(rbd_check_type_str(RBD_CHECK_SCRAPE), "scrape");
	ck_assert_str_eq(rbd_check_type_str(_RBD_CHECK_TYPE_MAX), "unknown");
	ck_assert_str_eq(rbd_no_data_str(RBD_NO_DATA_INCONCLUSIVE),
	    "inconclusive");
	ck_assert_str_eq(rbd_no_data_str(RBD_NO_DATA_FAIL), "fail");
	ck_assert_str_eq(rbd_no_data_str(RBD_NO_DATA_IGNORE), "ignore");
	ck_assert_str_eq(rbd_no_data_str(_RBD_NO_DATA_MAX), "unknown");
	ck_assert_str_eq(rbd_mode_str(RBD_MODE_ENFORCE), "enforce");
	ck_assert_str_eq(rbd_mode_str(RBD_MODE_DRY_RUN), "dry-run");
	ck_assert_str_eq(rbd_mode_str(_RBD_MODE_MAX), "unknown");
}
END_TEST

/* Every key a metric check has, each wrong at once, in a policy built
 * here: all errors are reported, and (under ASan) whatever was parsed
 * before the failure, selectors included, is freed. */
START_TEST(test_metric_all_errors)
{
	static const char doc[] =
	    "service: s\n"
	    "deploy: { command: [/bin/d] }\n"
	    "checks:\n"
	    "  - name: a\n"
	    "    scrape:\n"
	    "      url: http://h/metrics\n"
	    "      ratio: { numerator: 'a{x=\"1\"}', denominator: b }\n"
	    "      gauge: c\n"
	    "    http: { url: http://h/ }\n"
	    "    min: 2\n"
	    "    max: 1\n"
	    "  - name: b\n"
	    "    prometheus: { url: http://h/, query: q, bearer_token_file: /t }\n"
	    "    max: x\n";
	/* checks[1] has a condition, though a refused one: it is not also
	 * told that it needs one. */
	const char *want[] = {
		"m.yaml:8:7: checks[0].scrape: 'gauge' cannot be used with "
		    "'ratio': a scrape computes exactly one metric",
		"m.yaml:9:5: checks[0]: 'http' cannot be used with 'scrape': a "
		    "check has exactly one probe",
		"m.yaml:14:10: checks[1].max: expected a number, got a string",
		"m.yaml:10:10: checks[0].min: 2 must be less than max (1)",
	};
	struct rbd_policy *p = UNTOUCHED;
	struct rbd_diag d = { 0 };

	ck_assert_int_eq(rbd_policy_parse("m.yaml", doc, sizeof(doc) - 1, &p, &d),
	    -EINVAL);
	ck_assert(p == UNTOUCHED);
	assert_diag(&d, want, N_ELEMENTS(want), "m.yaml");
	rbd_diag_free(&d);
}
END_TEST

/* A temporary file of size bytes of YAML comment; its name in path. */
static void make_big_file(char *path, size_t size)
{
	int fd;
	char *buf = malloc(size);

	ck_assert_ptr_nonnull(buf);
	memset(buf, ' ', size);
	buf[0] = '#';
	buf[size - 1] = '\n';
	strcpy(path, "/tmp/check_policy.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, size), (ssize_t)size);
	close(fd);
	free(buf);
}

/* A file over the limit is refused before it is parsed. */
START_TEST(test_file_too_large)
{
	struct rbd_policy *p = UNTOUCHED;
	struct rbd_diag d = { 0 };
	char path[64], want[128];
	int r;

	make_big_file(path, RBD_POLICY_FILE_MAX + 1);
	r = rbd_policy_load_file(path, &p, &d);
	unlink(path);
	ck_assert_int_eq(r, -EFBIG);
	ck_assert(p == UNTOUCHED);
	snprintf(want, sizeof(want), "%s: file is larger than 1048576 bytes", path);
	assert_diag1(&d, want);
	rbd_diag_free(&d);
}
END_TEST

/* A file of exactly the limit is read. */
START_TEST(test_file_at_limit)
{
	struct rbd_policy *p = UNTOUCHED;
	struct rbd_diag d = { 0 };
	char path[64];
	int r;

	/* exactly the limit is read: a comment, so the keys are missing */
	make_big_file(path, RBD_POLICY_FILE_MAX);
	r = rbd_policy_load_file(path, &p, &d);
	unlink(path);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert(p == UNTOUCHED);
	ck_assert_uint_eq(d.n, 3);
	ck_assert_ptr_nonnull(strstr(d.msgs[0], ": missing required key 'service'"));
	rbd_diag_free(&d);
}
END_TEST

/* The limit holds for buffers too. */
START_TEST(test_parse_too_large)
{
	struct rbd_policy *p = UNTOUCHED;
	struct rbd_diag d = { 0 };
	char *buf = calloc(1, RBD_POLICY_FILE_MAX + 1);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(rbd_policy_parse("big.yaml", buf, RBD_POLICY_FILE_MAX + 1,
	    &p, &d), -EFBIG);
	ck_assert(p == UNTOUCHED);
	assert_diag1(&d, "big.yaml: file is larger than 1048576 bytes");
	rbd_diag_free(&d);
	free(buf);
}
END_TEST

/* Loading from a path: success, a missing file, a directory. */
START_TEST(test_load_file)
{
	struct rbd_policy *p = NULL;
	struct rbd_diag d = { 0 };

	ck_assert_int_eq(rbd_policy_load_file(VALID "/full.yaml", &p, &d), 0);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_str_eq(p->file, VALID "/full.yaml");
	ck_assert_str_eq(p->service, "checkout");
	rbd_policy_free(p);

	p = UNTOUCHED;
	ck_assert_int_eq(rbd_policy_load_file(VALID "/nope.yaml", &p, &d), -ENOENT);
	assert_diag1(&d, VALID "/nope.yaml: cannot open: No such file or directory");
	rbd_diag_free(&d);
	ck_assert_int_eq(rbd_policy_load_file(VALID, &p, &d), -EINVAL);
	assert_diag1(&d, VALID ": not a regular file");
	ck_assert(p == UNTOUCHED);
	rbd_diag_free(&d);
	rbd_policy_free(NULL);
}
END_TEST

/* YAML nested depth levels deep: a mapping, then sequences. */
static int parse_nested(int depth, struct rbd_diag *d)
{
	struct rbd_ynode *root = NULL;
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "a: %.*s1%.*s\n", depth - 1,
	    "[[[[[[[[[[[[[[[[[[[[", depth - 1, "]]]]]]]]]]]]]]]]]]]]");
	int r = rbd_ynode_parse("deep.yaml", buf, (size_t)n, &root, d);

	rbd_ynode_free(root);
	return r;
}

/* 16 levels of nesting are fine, 17 are refused. */
START_TEST(test_ynode_depth)
{
	struct rbd_diag d = { 0 };

	ck_assert_int_eq(parse_nested(RBD_POLICY_DEPTH_MAX, &d), 0);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_int_eq(parse_nested(RBD_POLICY_DEPTH_MAX + 1, &d), -EINVAL);
	assert_diag1(&d, "deep.yaml:1:19: nesting deeper than 16 levels");
	rbd_diag_free(&d);
}
END_TEST

/* Positions, styles and kinds of scalars. */
START_TEST(test_ynode_tree)
{
	static const char doc[] =
	    "a: plain {x}\n"
	    "b: \"quoted {x}\"\n"
	    "c: \"esc\\taped {x}\"\n"
	    "d: 'it''s {x}'\n"
	    "e: |\n  block\n"
	    "f: [1, -2, 3.5, true, ~, '7', !!str 8, !!int '9']\n";
	struct rbd_ynode *root = NULL;
	const struct rbd_ynode *n;
	struct rbd_diag d = { 0 };
	static const enum rbd_ynode_kind kinds[] = {
		RBD_YKIND_INT, RBD_YKIND_INT, RBD_YKIND_FLOAT, RBD_YKIND_BOOL,
		RBD_YKIND_NULL, RBD_YKIND_STRING, RBD_YKIND_STRING, RBD_YKIND_INT,
	};

	ck_assert_int_eq(rbd_ynode_parse("t", doc, sizeof(doc) - 1, &root, &d), 0);
	ck_assert_uint_eq(rbd_ynode_count(root), 6);
	n = rbd_ynode_get(root, "a");
	ck_assert_uint_eq(n->col, 4);
	ck_assert_uint_eq(rbd_ynode_col_at(n, 6), 10);	/* plain: inside */
	n = rbd_ynode_get(root, "b");
	ck_assert_int_eq(n->style, RBD_YNODE_DOUBLE_QUOTED);
	ck_assert_uint_eq(rbd_ynode_col_at(n, 7), 12);	/* after the quote */
	n = rbd_ynode_get(root, "c");
	ck_assert_uint_eq(rbd_ynode_col_at(n, 7), 4);	/* escapes: the start */
	n = rbd_ynode_get(root, "d");
	ck_assert_int_eq(n->style, RBD_YNODE_SINGLE_QUOTED);
	ck_assert_uint_eq(rbd_ynode_col_at(n, 5), 4);
	n = rbd_ynode_get(root, "e");
	ck_assert_int_eq(n->style, RBD_YNODE_LITERAL);
	ck_assert_str_eq(n->value, "block\n");
	n = rbd_ynode_get(root, "f");
	ck_assert_uint_eq(rbd_ynode_count(n), 8);
	for (size_t i = 0; i < 8; i++)
		ck_assert_int_eq(rbd_ynode_kind(n->kids[i]), kinds[i]);
	ck_assert_ptr_null(rbd_ynode_get(root, "g"));
	ck_assert_ptr_null(rbd_ynode_get(n, "a"));
	rbd_ynode_free(root);
	rbd_diag_free(&d);
}
END_TEST

/* Aliases are refused, never expanded. */
START_TEST(test_ynode_billion_laughs)
{
	/* With aliases followed this would be 10^9 nodes; here it is a
	 * refusal per anchor and alias, and nothing is expanded. */
	static const char doc[] =
	    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
	    "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
	    "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	struct rbd_ynode *root = NULL;
	struct rbd_diag d = { 0 };

	ck_assert_int_eq(rbd_ynode_parse("lol.yaml", doc, sizeof(doc) - 1,
	    &root, &d), -EINVAL);
	ck_assert_ptr_null(root);
	ck_assert_uint_eq(rbd_diag_count(&d), 9 + 80);
	ck_assert_str_eq(d.msgs[0],
	    "lol.yaml:1:4: anchors and aliases are not supported (&a)");
	ck_assert_str_eq(d.msgs[2],
	    "lol.yaml:2:8: anchors and aliases are not supported (*a)");
	rbd_diag_free(&d);
}
END_TEST

/* A wide mapping, and a duplicate key at its end. */
START_TEST(test_ynode_many_keys)
{
	/* Duplicate keys are found by sorting: a wide mapping stays fast. */
	size_t n = 50000, len = 0;
	char *buf = malloc(n * 16 + 32);
	struct rbd_ynode *root = NULL;
	struct rbd_diag d = { 0 };

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(buf + len, "k%zu: %zu\n", i, i);
	ck_assert_int_eq(rbd_ynode_parse("wide", buf, len, &root, &d), 0);
	ck_assert_uint_eq(rbd_ynode_count(root), n);
	rbd_ynode_free(root);
	len += (size_t)sprintf(buf + len, "k7: again\n");
	ck_assert_int_eq(rbd_ynode_parse("wide", buf, len, &root, &d), -EINVAL);
	assert_diag1(&d, "wide:50001:1: duplicate key 'k7' (first at line 8)");
	rbd_diag_free(&d);
	free(buf);
}
END_TEST

/* Load a config, requiring success without errors. */
static struct rbd_config *config_ok(const char *path)
{
	struct rbd_config *c = NULL;
	struct rbd_diag d = { 0 };
	int r = rbd_config_load(path, &c, &d);
	char *got = diag_text(&d);

	ck_assert_msg(r == 0 && d.n == 0, "%s: %d, errors:\n%s", path, r, got);
	free(got);
	rbd_diag_free(&d);
	return c;
}

/* A main config with relative paths and two policies. */
START_TEST(test_config_good)
{
	struct rbd_config *c = config_ok(CONFIG "/good/rollbackd.yaml");

	ck_assert_str_eq(c->file, CONFIG "/good/rollbackd.yaml");
	ck_assert_str_eq(c->socket, CONFIG "/good/run/rbd.sock");
	ck_assert_str_eq(c->state_dir, CONFIG "/good/state");
	ck_assert_str_eq(c->policies_dir, CONFIG "/good/policies");
	/* .hidden.yaml, notes.txt, *.bak, *~ and the dir.yaml directory are
	 * not policies: they would not load. */
	ck_assert_uint_eq(c->n_policies, 2);
	/* sorted by service, not by file name */
	ck_assert_str_eq(c->policies[0]->service, "alpha");
	ck_assert_str_eq(c->policies[0]->file,
	    CONFIG "/good/policies/b-alpha.yaml");
	ck_assert_uint_eq(c->policies[0]->duration_usec, MIN);
	ck_assert_str_eq(c->policies[1]->service, "zeta");
	ck_assert_ptr_eq(rbd_config_find(c, "zeta"), c->policies[1]);
	ck_assert_ptr_eq(rbd_config_find(c, "alpha"), c->policies[0]);
	ck_assert_ptr_null(rbd_config_find(c, "beta"));
	rbd_config_free(c);
	rbd_config_free(NULL);
}
END_TEST

/* A relative main config path. */
START_TEST(test_config_relative)
{
	char cwd[4096], want[4200];
	struct rbd_config *c;

	/* A relative config path still gives absolute paths, resolved against
	 * the working directory (as the kernel sees it: no symlinks). */
	ck_assert_int_eq(chdir(CONFIG), 0);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	c = config_ok("good/rollbackd.yaml");
	snprintf(want, sizeof(want), "%s/good/policies", cwd);
	ck_assert_str_eq(c->policies_dir, want);
	snprintf(want, sizeof(want), "%s/good/run/rbd.sock", cwd);
	ck_assert_str_eq(c->socket, want);
	ck_assert_uint_eq(c->n_policies, 2);
	rbd_config_free(c);
	ck_assert_int_eq(chdir("good"), 0);
	c = config_ok("rollbackd.yaml");
	snprintf(want, sizeof(want), "%s/good/state", cwd);
	ck_assert_str_eq(c->state_dir, want);
	rbd_config_free(c);
}
END_TEST

/* Defaults of the main config; an empty policy directory. */
START_TEST(test_config_defaults)
{
	struct rbd_config *c = config_ok(CONFIG "/defaults/rollbackd.yaml");

	ck_assert_str_eq(c->socket, RBD_DEFAULT_SOCKET);
	ck_assert_str_eq(c->state_dir, RBD_DEFAULT_STATE_DIR);
	ck_assert_str_eq(c->policies_dir, CONFIG "/defaults/policies");
	ck_assert_uint_eq(c->n_policies, 0);
	ck_assert_ptr_null(rbd_config_find(c, "x"));
	rbd_config_free(c);
}
END_TEST

/* Two files for one service: the later is blamed, naming the first. */
START_TEST(test_config_duplicate_service)
{
	struct rbd_config *c = NULL;
	struct rbd_diag d = { 0 };

	ck_assert_int_eq(rbd_config_load(CONFIG "/dup/rollbackd.yaml", &c, &d),
	    -EINVAL);
	ck_assert_ptr_null(c);
	assert_diag1(&d, CONFIG "/dup/policies/b.yaml:1:10: service "
	    "'checkout' is already defined in " CONFIG "/dup/policies/a.yaml:1:10");
	rbd_diag_free(&d);
}
END_TEST

/* Load a main config written from text into a temporary directory with an
 * empty policy directory: the return value, *ret on success, errors in d.
 * want, when not NULL, is the one error expected, after "<file>:". */
static int config_text(const char *text, struct rbd_config **ret,
    const char *want)
{
	char dir[] = "/tmp/check_policy.XXXXXX", path[256], w[512];
	struct rbd_diag d = { 0 };
	FILE *f;
	int r;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/p", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/rollbackd.yaml", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "policies: p\n%s", text);
	fclose(f);
	r = rbd_config_load(path, ret, &d);
	if (want) {
		snprintf(w, sizeof(w), "%s:%s", path, want);
		assert_diag1(&d, w);
	} else {
		ck_assert_uint_eq(rbd_diag_count(&d), 0);
	}
	rbd_diag_free(&d);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(path), 0);
	return r;
}

/* read_group and deploy_group: names or gids, where they were written;
 * absent, NULL. */
START_TEST(test_config_groups)
{
	struct rbd_config *c = NULL;

	ck_assert_int_eq(config_text("", &c, NULL), 0);
	ck_assert_ptr_null(c->read_group.name);
	ck_assert_ptr_null(c->deploy_group.name);
	rbd_config_free(c);
	ck_assert_int_eq(config_text("read_group: rollbackd-read\n"
	    "deploy_group:   1234\n", &c, NULL), 0);
	ck_assert_str_eq(c->read_group.name, "rollbackd-read");
	ck_assert_uint_eq(c->read_group.line, 2);
	ck_assert_uint_eq(c->read_group.col, 13);
	ck_assert_str_eq(c->deploy_group.name, "1234");
	ck_assert_uint_eq(c->deploy_group.line, 3);
	ck_assert_uint_eq(c->deploy_group.col, 17);
	rbd_config_free(c);
	c = NULL;
	ck_assert_int_eq(config_text("read_group: ''\n", &c,
	    "2:13: read_group: must not be empty"), -EINVAL);
	ck_assert_int_eq(config_text("deploy_group: a b\n", &c,
	    "2:16: deploy_group: invalid group name: only letters, digits, "
	    "'_', '.' and '-'"), -EINVAL);
	ck_assert_int_eq(config_text("deploy_group: -x\n", &c,
	    "2:15: deploy_group: invalid group name: must not start with '-'"),
	    -EINVAL);
	ck_assert_int_eq(config_text("read_group: "
	    "abcdefghijklmnopqrstuvwxyz0123456\n", &c,
	    "2:13: read_group: is longer than 32 bytes"), -EINVAL);
	ck_assert_int_eq(config_text("read_group: [a]\n", &c,
	    "2:13: read_group: expected a string, got a sequence"), -EINVAL);
	ck_assert_ptr_null(c);
}
END_TEST

/* A missing policy directory is named with its errno text. */
START_TEST(test_config_missing_dir)
{
	struct rbd_config *c = NULL;
	struct rbd_diag d = { 0 };

	ck_assert_int_eq(rbd_config_load(CONFIG "/missing/rollbackd.yaml", &c, &d),
	    -ENOENT);
	ck_assert_ptr_null(c);
	assert_diag1(&d, CONFIG "/missing/no-such-dir: cannot open policies "
	    "directory: No such file or directory");
	rbd_diag_free(&d);
}
END_TEST

/* A policy that cannot be read (here a dangling link) is an error, never
 * silently left out. */
START_TEST(test_config_dangling_policy)
{
	char dir[] = "/tmp/check_policy.XXXXXX", path[256], want[512];
	struct rbd_config *c = NULL;
	struct rbd_diag d = { 0 };
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rollbackd.yaml", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("policies: p\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/p", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/p/checkout.yaml", dir);
	ck_assert_int_eq(symlink("/nonexistent/checkout.yaml", path), 0);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	snprintf(path, sizeof(path), "%s/rollbackd.yaml", dir);
	ck_assert_int_lt(rbd_config_load(path, &c, &d), 0);
	ck_assert_ptr_null(c);
	assert_diag1(&d, want);
	rbd_diag_free(&d);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(path), 0);
}
END_TEST

/* A missing main config. */
START_TEST(test_config_missing_file)
{
	struct rbd_config *c = NULL;
	struct rbd_diag d = { 0 };

	ck_assert_int_eq(rbd_config_load(CONFIG "/nope.yaml", &c, &d), -ENOENT);
	ck_assert_ptr_null(c);
	assert_diag1(&d, CONFIG "/nope.yaml: cannot open: No such file or directory");
	rbd_diag_free(&d);
}
END_TEST

/* Errors in the main config and in a policy are all reported. */
START_TEST(test_config_errors)
{
	static const char sock[] = "this/relative/path/is/far/too/long/to/fit/"
	    "into/sun_path/once/it/is/resolved/against/the/directory/of/the/"
	    "config/rollbackd.sock";
	struct rbd_config *c = NULL;
	struct rbd_diag d = { 0 };
	char first[512];
	const char *want[] = {
		first,
		CONFIG "/bad/rollbackd.yaml:2:12: state_dir: must not be empty",
		CONFIG "/bad/rollbackd.yaml:3:1: unknown key 'polices' "
		    "(did you mean 'policies'?)",
		CONFIG "/bad/policies/b-broken.yaml:4:12: deploy.timeout: "
		    "invalid duration '5': needs a unit, e.g. 5s",
		CONFIG "/bad/policies/b-broken.yaml:5:9: checks: must not be empty",
	};

	/* Every error: the main config's, then each policy file's. */
	snprintf(first, sizeof(first), CONFIG "/bad/rollbackd.yaml:1:9: socket: "
	    "path too long after resolving (%zu bytes, at most 107)",
	    strlen(CONFIG "/bad/") + strlen(sock));
	ck_assert_int_eq(rbd_config_load(CONFIG "/bad/rollbackd.yaml", &c, &d),
	    -EINVAL);
	ck_assert_ptr_null(c);
	assert_diag(&d, want, 5, "bad/rollbackd.yaml");
	rbd_diag_free(&d);
}
END_TEST

/* The shipped example configuration loads. */
START_TEST(test_config_shipped)
{
	struct rbd_config *c = config_ok(RBD_SRCDIR "/conf/rollbackd.yaml");
	const struct rbd_policy *p;

	ck_assert_str_eq(c->socket, "/run/rollbackd/rollbackd.sock");
	ck_assert_str_eq(c->state_dir, "/var/lib/rollbackd");
	ck_assert_str_eq(c->policies_dir, RBD_SRCDIR "/conf/policies.d");
	ck_assert_uint_eq(c->n_policies, 4);
	ck_assert_ptr_nonnull(rbd_config_find(c, "billing"));
	/* the release-directory deployer */
	p = rbd_config_find(c, "storefront");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(p->deploy_argv);
	ck_assert_str_eq(p->deploy_releases, "/srv/storefront/releases");
	ck_assert_str_eq(p->deploy_current, "/srv/storefront/current");
	ck_assert_str_eq(p->deploy_restart_unit, "storefront.service");
	p = rbd_config_find(c, "checkout");
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->warmup_usec, 75 * SEC);
	ck_assert_uint_eq(p->n_checks, 5);
	ck_assert_int_eq(p->checks[2].type, RBD_CHECK_PROMETHEUS);
	ck_assert_int_eq(p->checks[3].type, RBD_CHECK_SCRAPE);
	ck_assert(p->checks[3].cond.baseline);
	ck_assert_int_eq(p->checks[4].type, RBD_CHECK_UNIT);
	ck_assert_str_eq(p->checks[4].u.unit.unit, "checkout.service");
	/* the safety rules, each shown */
	ck_assert_int_eq(p->mode, RBD_MODE_ENFORCE);
	ck_assert_uint_eq(p->max_automatic, 3);
	ck_assert_uint_eq(p->automatic_per_usec, RBD_USEC_PER_HOUR);
	ck_assert_uint_eq(p->migrate_down_argc, 6);
	ck_assert_str_eq(p->migrate_down_argv[3], "{from_schema}");
	ck_assert_str_eq(p->migrate_down_argv[5], "{to_schema}");
	ck_assert_uint_eq(p->migrate_down_timeout_usec, 10 * MIN);
	ck_assert_uint_eq(p->n_guards, 1);
	ck_assert_int_eq(p->guards[0].type, RBD_CHECK_HTTP);
	ck_assert_int_eq(rbd_policy_find_guard(p, "db-proxy"), 0);
	/* Remedies */
	ck_assert_uint_eq(p->n_remedies, 2);
	ck_assert_int_eq(p->remedies[0].type, RBD_REMEDY_COMMAND);
	ck_assert_str_eq(p->remedies[0].argv[3], "off");
	ck_assert_uint_eq(p->remedies[0].settle_usec, MIN);
	ck_assert_int_eq(p->remedies[1].type, RBD_REMEDY_HTTP);
	ck_assert_str_eq(p->remedies[1].http.method, "PUT");
	ck_assert_uint_eq(p->remedies[1].http.n_headers, 1);
	/* a configuration released like code: its version a commit id */
	p = rbd_config_find(c, "checkout-config");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->file, RBD_SRCDIR "/conf/policies.d/checkout-config.yaml");
	ck_assert_uint_eq(p->deploy_argc, 3);
	ck_assert_str_eq(p->deploy_argv[0], "/usr/local/bin/apply-config");
	ck_assert_str_eq(p->deploy_argv[2], "{version}");
	ck_assert_ptr_null(p->migrate_down_argv);
	ck_assert_uint_eq(p->max_automatic, 2);
	ck_assert_uint_eq(p->n_checks, 3);
	ck_assert_uint_eq(p->n_guards, 0);
	rbd_config_free(c);
}
END_TEST

/* Order names with strcmp, for qsort. */
static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The invalid fixtures' names, sorted. */
static void list_invalid(void)
{
	DIR *d = opendir(INVALID);
	struct dirent *de;

	if (!d) {
		perror(INVALID);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len <= 5 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		invalid = realloc(invalid, (n_invalid + 1) * sizeof(*invalid));
		if (!invalid || !(invalid[n_invalid++] = strdup(de->d_name)))
			abort();
	}
	closedir(d);
	qsort(invalid, n_invalid, sizeof(*invalid), name_cmp);
}

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("invalid");

	tcase_add_test(tc, test_fixtures_present);
	tcase_add_loop_test(tc, test_invalid_fixture, 0, (int)n_invalid);
	suite_add_tcase(s, tc);
	tc = tcase_create("valid");
	tcase_add_test(tc, test_valid_defaults);
	tcase_add_test(tc, test_valid_remedies);
	tcase_add_loop_test(tc, test_remedy_errors, 0,
	    (int)(sizeof(remedy_cases) / sizeof(remedy_cases[0])));
	tcase_add_test(tc, test_valid_full);
	tcase_add_test(tc, test_valid_styles);
	tcase_add_test(tc, test_valid_durations);
	tcase_add_test(tc, test_valid_short_interval);
	tcase_add_test(tc, test_valid_metrics);
	tcase_add_test(tc, test_valid_metrics_defaults);
	tcase_add_test(tc, test_valid_unit);
	tcase_add_test(tc, test_valid_reldir);
	tcase_add_test(tc, test_valid_safety);
	tcase_add_test(tc, test_valid_safety_defaults);
	tcase_add_loop_test(tc, test_safety_values, 0, N_ELEMENTS(safety_cases));
	tcase_add_loop_test(tc, test_drill_key, 0, N_ELEMENTS(drill_cases));
	tcase_add_test(tc, test_enum_names);
	tcase_add_test(tc, test_metric_all_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("files");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_file_too_large);
	tcase_add_test(tc, test_file_at_limit);
	tcase_add_test(tc, test_parse_too_large);
	tcase_add_test(tc, test_load_file);
	suite_add_tcase(s, tc);
	tc = tcase_create("yamlnode");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ynode_depth);
	tcase_add_test(tc, test_ynode_tree);
	tcase_add_test(tc, test_ynode_billion_laughs);
	tcase_add_test(tc, test_ynode_many_keys);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_test(tc, test_config_good);
	tcase_add_test(tc, test_config_relative);
	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_config_duplicate_service);
	tcase_add_test(tc, test_config_missing_dir);
	tcase_add_test(tc, test_config_missing_file);
	tcase_add_test(tc, test_config_dangling_policy);
	tcase_add_test(tc, test_config_groups);
	tcase_add_test(tc, test_config_errors);
	tcase_add_test(tc, test_config_shipped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int status;

	list_invalid();
	status = rbd_test_run(policy_suite());
	for (size_t i = 0; i < n_invalid; i++)
		free(invalid[i]);
	free(invalid);
	return status;
}
