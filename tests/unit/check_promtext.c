/* The Prometheus text exposition parser: pages real exporters serve
 * (tests/data/promtext/valid/), values as Go's ParseFloat reads them,
 * family resolution, every malformed input with its exact message, and
 * the limits. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promtext.h"
#include "testutil.h"

#define DATA RBD_SRCDIR "/tests/data/promtext/valid/"

/* The contents of a fixture; its length in *ret_len. */
static char *slurp(const char *name, size_t *ret_len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), DATA "%s", name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*ret_len = (size_t)n;
	return buf;
}

/* Parse a fixture, which must succeed. */
static struct rbd_prom_page *parse_file(const char *name)
{
	struct rbd_prom_page *page = NULL;
	char err[256];
	size_t len;
	char *buf = slurp(name, &len);
	int r = rbd_prom_parse(buf, len, &page, err, sizeof(err));

	ck_assert_msg(r == 0, "%s: %d %s", name, r, err);
	free(buf);
	return page;
}

/* Parse a string, which must succeed. */
static struct rbd_prom_page *parse_str(const char *text)
{
	struct rbd_prom_page *page = NULL;
	char err[256];
	int r = rbd_prom_parse(text, strlen(text), &page, err, sizeof(err));

	ck_assert_msg(r == 0, "%s: %d %s", text, r, err);
	return page;
}

/* Whether s has exactly the labels "k=v,k=v" (no commas in values). */
static bool has_labels(const struct rbd_prom_sample *s, const char *want)
{
	char buf[512], *save = NULL;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", want);
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		const char *v;

		*eq = '\0';
		v = rbd_prom_label(s, kv);
		if (!v || strcmp(v, eq + 1) != 0)
			return false;
		n++;
	}
	return n == s->n_labels;
}

/* The one sample named name with exactly labels ("" for none). */
static const struct rbd_prom_sample *find(const struct rbd_prom_page *p,
    const char *name, const char *labels)
{
	const struct rbd_prom_sample *found = NULL;

	for (size_t i = 0; i < rbd_prom_page_count(p); i++) {
		const struct rbd_prom_sample *s = rbd_prom_page_sample(p, i);

		if (strcmp(s->name, name) == 0 && has_labels(s, labels)) {
			ck_assert_msg(found == NULL, "%s{%s} twice", name, labels);
			found = s;
		}
	}
	ck_assert_msg(found != NULL, "%s{%s} not found", name, labels);
	return found;
}

/* Assert sample name{labels} has value v, type t and family fam. */
static void expect(const struct rbd_prom_page *p, const char *name,
    const char *labels, double v, enum rbd_prom_type t, const char *fam)
{
	const struct rbd_prom_sample *s = find(p, name, labels);

	ck_assert_msg(s->value == v, "%s{%s}: %.17g, want %.17g", name, labels,
	    s->value, v);
	ck_assert_str_eq(rbd_prom_type_str(s->type), rbd_prom_type_str(t));
	ck_assert_str_eq(s->family, fam);
}

static const struct {
	const char *file;
	size_t count;
} corpus[] = {
	{ "node_exporter.prom", 34 },
	{ "go_client.prom", 24 },
	{ "python_client.prom", 32 },
	{ "timestamps_escapes.prom", 15 },
	{ "edge_syntax.prom", 18 },
	{ "service_500.prom", 500 },
};

START_TEST(test_corpus_parses)
{
	struct rbd_prom_page *p = parse_file(corpus[_i].file);

	ck_assert_uint_eq(rbd_prom_page_count(p), corpus[_i].count);
	for (size_t i = 0; i < rbd_prom_page_count(p); i++) {
		const struct rbd_prom_sample *s = rbd_prom_page_sample(p, i);

		ck_assert_ptr_nonnull(s->name);
		ck_assert_ptr_nonnull(s->family);
		/* A family is the name, or the name is family + suffix. */
		ck_assert_int_eq(strncmp(s->name, s->family, strlen(s->family)), 0);
	}
	ck_assert_ptr_null(rbd_prom_page_sample(p, corpus[_i].count));
	rbd_prom_page_free(p);
}
END_TEST

START_TEST(test_node_exporter)
{
	struct rbd_prom_page *p = parse_file("node_exporter.prom");
	const struct rbd_prom_sample *s;

	expect(p, "node_cpu_seconds_total", "cpu=1,mode=user", 10112.3,
	    RBD_PROM_COUNTER, "node_cpu_seconds_total");
	expect(p, "node_boot_time_seconds", "", 1708338442, RBD_PROM_GAUGE,
	    "node_boot_time_seconds");
	expect(p, "node_filesystem_avail_bytes",
	    "device=/dev/nvme0n1p2,fstype=ext4,mountpoint=/", 103211868160.0,
	    RBD_PROM_GAUGE, "node_filesystem_avail_bytes");
	expect(p, "node_scrape_collector_duration_seconds", "collector=cpu",
	    0.000476533, RBD_PROM_GAUGE, "node_scrape_collector_duration_seconds");
	s = find(p, "node_uname_info", "domainname=(none),machine=x86_64,"
	    "nodename=web-01,release=6.1.0-18-amd64,sysname=Linux,"
	    "version=#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)");
	ck_assert(s->value == 1);
	s = rbd_prom_page_sample(p, 0);
	ck_assert(!s->has_timestamp);
	ck_assert_ptr_null(s->labels);
	rbd_prom_page_free(p);
}
END_TEST

START_TEST(test_go_client)
{
	struct rbd_prom_page *p = parse_file("go_client.prom");

	expect(p, "go_gc_duration_seconds", "quantile=0.75", 7.9411e-05,
	    RBD_PROM_SUMMARY, "go_gc_duration_seconds");
	expect(p, "go_gc_duration_seconds_sum", "", 0.013562785,
	    RBD_PROM_SUMMARY, "go_gc_duration_seconds");
	expect(p, "go_gc_duration_seconds_count", "", 187, RBD_PROM_SUMMARY,
	    "go_gc_duration_seconds");
	expect(p, "go_info", "version=go1.21.5", 1, RBD_PROM_GAUGE, "go_info");
	expect(p, "go_memstats_alloc_bytes_total", "", 1741318432,
	    RBD_PROM_COUNTER, "go_memstats_alloc_bytes_total");
	expect(p, "process_virtual_memory_max_bytes", "", 18446744073709551615.0,
	    RBD_PROM_GAUGE, "process_virtual_memory_max_bytes");
	expect(p, "promhttp_metric_handler_requests_total", "code=200", 4712,
	    RBD_PROM_COUNTER, "promhttp_metric_handler_requests_total");
	rbd_prom_page_free(p);
}
END_TEST

START_TEST(test_python_client)
{
	struct rbd_prom_page *p = parse_file("python_client.prom");

	expect(p, "app_request_latency_seconds_bucket", "le=+Inf,method=GET", 1539,
	    RBD_PROM_HISTOGRAM, "app_request_latency_seconds");
	expect(p, "app_request_latency_seconds_bucket", "le=0.025,method=GET", 1311,
	    RBD_PROM_HISTOGRAM, "app_request_latency_seconds");
	expect(p, "app_request_latency_seconds_count", "method=GET", 1539,
	    RBD_PROM_HISTOGRAM, "app_request_latency_seconds");
	expect(p, "app_request_latency_seconds_sum", "method=GET", 21.846338917000026,
	    RBD_PROM_HISTOGRAM, "app_request_latency_seconds");
	/* _created is a family of its own, declared as a gauge. */
	expect(p, "app_request_latency_seconds_created", "method=GET", 1708338442.1844,
	    RBD_PROM_GAUGE, "app_request_latency_seconds_created");
	expect(p, "app_requests_total", "method=GET,status=503", 7, RBD_PROM_COUNTER,
	    "app_requests_total");
	expect(p, "app_payload_bytes_count", "", 94, RBD_PROM_SUMMARY,
	    "app_payload_bytes");
	expect(p, "python_info", "implementation=CPython,major=3,minor=11,"
	    "patchlevel=2,version=3.11.2", 1, RBD_PROM_GAUGE, "python_info");
	rbd_prom_page_free(p);
}
END_TEST

START_TEST(test_timestamps_escapes)
{
	struct rbd_prom_page *p = parse_file("timestamps_escapes.prom");
	const struct rbd_prom_sample *s;

	s = find(p, "api_http_requests_total", "method=post,code=400");
	ck_assert(s->value == 3);
	ck_assert(s->has_timestamp);
	ck_assert_int_eq(s->timestamp_ms, 1395066363000LL);
	ck_assert_int_eq(s->type, RBD_PROM_COUNTER);
	s = rbd_prom_page_sample(p, 2);
	ck_assert_str_eq(s->name, "file_access_time_seconds");
	ck_assert_str_eq(rbd_prom_label(s, "path"), "C:\\DIR\\FILE.TXT");
	ck_assert_str_eq(rbd_prom_label(s, "error"), "Cannot find file:\n\"FILE.TXT\"");
	ck_assert_ptr_null(rbd_prom_label(s, "nope"));
	ck_assert(s->value == 1458255915);
	ck_assert_int_eq(s->type, RBD_PROM_UNTYPED);
	s = find(p, "something_weird", "problem=division by zero");
	ck_assert(isinf(s->value) && s->value > 0);
	ck_assert_int_eq(s->timestamp_ms, -3982045);
	ck_assert(isinf(find(p, "negative_infinity", "")->value));
	ck_assert(find(p, "negative_infinity", "")->value < 0);
	ck_assert(isnan(find(p, "not_a_number", "")->value));
	s = find(p, "rpc_duration_seconds", "quantile=0.99");
	ck_assert(isnan(s->value));
	ck_assert_int_eq(s->type, RBD_PROM_SUMMARY);
	expect(p, "rpc_duration_seconds_count", "", 2693, RBD_PROM_SUMMARY,
	    "rpc_duration_seconds");
	expect(p, "metric_without_timestamp_and_labels", "", 12.47, RBD_PROM_UNTYPED,
	    "metric_without_timestamp_and_labels");
	rbd_prom_page_free(p);
}
END_TEST

START_TEST(test_edge_syntax)
{
	struct rbd_prom_page *p = parse_file("edge_syntax.prom");
	const struct rbd_prom_sample *s;

	expect(p, "spaced_gauge", "a=1,b=2", 42, RBD_PROM_GAUGE, "spaced_gauge");
	expect(p, "trailing_comma", "x=y", 1, RBD_PROM_UNTYPED, "trailing_comma");
	expect(p, "empty_braces", "", 2, RBD_PROM_UNTYPED, "empty_braces");
	expect(p, "exponent_small", "", 1.5e-3, RBD_PROM_UNTYPED, "exponent_small");
	expect(p, "exponent_big", "", 2e10, RBD_PROM_UNTYPED, "exponent_big");
	expect(p, "leading_dot", "", 0.5, RBD_PROM_UNTYPED, "leading_dot");
	expect(p, "trailing_dot", "", 5, RBD_PROM_UNTYPED, "trailing_dot");
	expect(p, "signed_plus", "", 7, RBD_PROM_UNTYPED, "signed_plus");
	ck_assert(isnan(find(p, "lower_nan", "")->value));
	ck_assert(find(p, "upper_inf", "")->value == INFINITY);
	ck_assert(find(p, "word_infinity", "")->value == -INFINITY);
	expect(p, "colon:in:name", "", 3, RBD_PROM_UNTYPED, "colon:in:name");
	expect(p, "_leading_underscore", "", 4, RBD_PROM_UNTYPED, "_leading_underscore");
	s = find(p, "utf8_value", "city=Zürich,emoji=🚀");
	s = find(p, "empty_value", "v=");
	ck_assert_str_eq(rbd_prom_label(s, "v"), "");
	ck_assert_int_eq(find(p, "timestamp_negative", "")->timestamp_ms, -5);
	ck_assert_int_eq(find(p, "timestamp_plus", "")->timestamp_ms, 1700000000000LL);
	expect(p, "SHOUTED", "", 9, RBD_PROM_COUNTER, "SHOUTED");
	rbd_prom_page_free(p);
}
END_TEST

START_TEST(test_service_500)
{
	struct rbd_prom_page *p = parse_file("service_500.prom");
	size_t buckets = 0, hist = 0, summary = 0;

	for (size_t i = 0; i < rbd_prom_page_count(p); i++) {
		const struct rbd_prom_sample *s = rbd_prom_page_sample(p, i);

		if (strcmp(s->name, "http_request_duration_seconds_bucket") == 0)
			buckets++;
		if (strcmp(s->family, "http_request_duration_seconds") == 0) {
			ck_assert_int_eq(s->type, RBD_PROM_HISTOGRAM);
			hist++;
		}
		if (s->type == RBD_PROM_SUMMARY)
			summary++;
	}
	ck_assert_uint_eq(buckets, 20 * 12);
	ck_assert_uint_eq(hist, 20 * 14);
	ck_assert_uint_eq(summary, 5 * 5 + 7);	/* and go_gc_duration_seconds */
	/* The +Inf bucket is the count. */
	ck_assert(find(p, "http_request_duration_seconds_bucket",
	    "handler=/healthz,method=PUT,le=+Inf")->value ==
	    find(p, "http_request_duration_seconds_count",
	    "handler=/healthz,method=PUT")->value);
	rbd_prom_page_free(p);
}
END_TEST

/* Line endings and framing the format leaves open. */
static const struct {
	const char *in;
	size_t count;
	double last;
} framing[] = {
	{ "", 0, 0 },
	{ "\n\n\n", 0, 0 },
	{ "# only a comment", 0, 0 },
	{ "a 1", 1, 1 },
	{ "a 1\nb 2", 2, 2 },
	{ "a 1\r\nb 2\r\n", 2, 2 },
	{ "a 1\r\nb 2", 2, 2 },
	{ "a 1\r\nb 2 17\r", 2, 2 },
	{ "# HELP a text\r\n# TYPE a gauge\r\na 3\r\n", 1, 3 },
	{ "  \t\n\t a 4 \t\n", 1, 4 },
	{ "#\n#\t\n# HELP\n# TYPE\n# random words\na 5\n", 1, 5 },
};

START_TEST(test_framing)
{
	struct rbd_prom_page *p = parse_str(framing[_i].in);
	size_t n = rbd_prom_page_count(p);

	ck_assert_uint_eq(n, framing[_i].count);
	if (n > 0)
		ck_assert(rbd_prom_page_sample(p, n - 1)->value == framing[_i].last);
	rbd_prom_page_free(p);
}
END_TEST

START_TEST(test_null_buffer)
{
	struct rbd_prom_page *p = NULL;
	char err[64];

	ck_assert_int_eq(rbd_prom_parse(NULL, 0, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(rbd_prom_page_count(p), 0);
	rbd_prom_page_free(p);
	p = (struct rbd_prom_page *)err;
	ck_assert_int_eq(rbd_prom_parse(NULL, 3, &p, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_eq(p, (struct rbd_prom_page *)err);
	ck_assert_int_eq(rbd_prom_parse("a 1", 3, NULL, err, sizeof(err)), -EINVAL);
	rbd_prom_page_free(NULL);
	ck_assert_uint_eq(rbd_prom_page_count(NULL), 0);
	ck_assert_ptr_null(rbd_prom_page_sample(NULL, 0));
	ck_assert_ptr_null(rbd_prom_label(NULL, "a"));
}
END_TEST

/* Values as Go's ParseFloat reads them, but no hexadecimal. */
static const struct {
	const char *in;
	double v;
} good_values[] = {
	{ "1", 1 }, { "-1", -1 }, { "+1.5", 1.5 }, { ".5", 0.5 }, { "5.", 5 },
	{ "1e3", 1000 }, { "1E-3", 0.001 }, { "1.5e+2", 150 }, { "00012", 12 },
	{ "0", 0 }, { "1e-400", 0 }, { "1.7976931348623157e308", DBL_MAX },
	{ "4.9e-324", 4.9e-324 }, { "0.1", 0.1 },
	{ "Inf", INFINITY }, { "+Inf", INFINITY }, { "-Inf", -INFINITY },
	{ "inf", INFINITY }, { "INFINITY", INFINITY }, { "+infinity", INFINITY },
	{ "-iNfInItY", -INFINITY },
};

START_TEST(test_good_values)
{
	/* At the end of the buffer (strtod needs a copy), before a newline,
	 * a timestamp, a CRLF. */
	static const char *const ends[] = { "", "\n", " 5\n", "\r\n" };

	for (size_t f = 0; f < N_ELEMENTS(ends); f++) {
		char text[128];
		struct rbd_prom_page *p;

		snprintf(text, sizeof(text), "x %s%s", good_values[_i].in, ends[f]);
		p = parse_str(text);
		ck_assert_msg(rbd_prom_page_sample(p, 0)->value == good_values[_i].v,
		    "%s: %.17g", text, rbd_prom_page_sample(p, 0)->value);
		rbd_prom_page_free(p);
	}
}
END_TEST

START_TEST(test_nan_and_negative_zero)
{
	static const char *const nans[] = { "NaN", "nan", "NAN", "nAn" };
	struct rbd_prom_page *p;

	for (size_t i = 0; i < N_ELEMENTS(nans); i++) {
		char text[32];

		snprintf(text, sizeof(text), "x %s", nans[i]);
		p = parse_str(text);
		ck_assert(isnan(rbd_prom_page_sample(p, 0)->value));
		rbd_prom_page_free(p);
	}
	p = parse_str("x -0\n");
	ck_assert(signbit(rbd_prom_page_sample(p, 0)->value));
	rbd_prom_page_free(p);
}
END_TEST

static const char *const bad_values[] = {
	"0x1p3", "0x10", "1e", "1e+", "e5", ".", "+", "-", "1_000", "1.5.5",
	"+nan", "-NaN", "nan(1)", "1e999", "-1e999", "infinit", "infinityy",
	"--1", "1,5", "1.5f", "abc", "in", "+-1", "1e5.5", "٣",
};

START_TEST(test_bad_values)
{
	static const char *const ends[] = { "", "\n", " 5\n" };

	for (size_t f = 0; f < N_ELEMENTS(ends); f++) {
		char text[128], want[128], err[128];
		struct rbd_prom_page *p = NULL;

		snprintf(text, sizeof(text), "x %s%s", bad_values[_i], ends[f]);
		ck_assert_int_eq(rbd_prom_parse(text, strlen(text), &p, err, sizeof(err)),
		    -EINVAL);
		ck_assert_ptr_null(p);
		snprintf(want, sizeof(want), "line 1: invalid value '%s'", bad_values[_i]);
		if (strcmp(bad_values[_i], "٣") == 0)
			snprintf(want, sizeof(want), "line 1: invalid value '?" "?'");
		ck_assert_str_eq(err, want);
	}
}
END_TEST

/* Which family and type a sample gets. */
static const struct {
	const char *in;
	enum rbd_prom_type type;
	const char *family;
} families[] = {
	{ "# TYPE x histogram\nx_bucket{le=\"1\"} 1\n", RBD_PROM_HISTOGRAM, "x" },
	{ "# TYPE x histogram\nx_sum 1\n", RBD_PROM_HISTOGRAM, "x" },
	{ "# TYPE x histogram\nx_count 1\n", RBD_PROM_HISTOGRAM, "x" },
	{ "# TYPE x summary\nx_count 1\n", RBD_PROM_SUMMARY, "x" },
	{ "# TYPE x summary\nx{quantile=\"0.5\"} 1\n", RBD_PROM_SUMMARY, "x" },
	{ "# TYPE x counter\nx_total 1\n", RBD_PROM_COUNTER, "x" },
	{ "# TYPE x_total counter\nx_total 1\n", RBD_PROM_COUNTER, "x_total" },
	{ "x_bucket{le=\"1\"} 1\n", RBD_PROM_UNTYPED, "x_bucket" },
	{ "# TYPE x gauge\nx_count 1\n", RBD_PROM_UNTYPED, "x_count" },
	{ "# TYPE x summary\nx_bucket 1\n", RBD_PROM_UNTYPED, "x_bucket" },
	{ "# TYPE x gauge\nx_total 1\n", RBD_PROM_UNTYPED, "x_total" },
	{ "# TYPE x untyped\nx 1\n", RBD_PROM_UNTYPED, "x" },
	{ "# TYPE x_count counter\n# TYPE x histogram\nx_count 1\n",
	    RBD_PROM_COUNTER, "x_count" },
	{ "_count 1\n", RBD_PROM_UNTYPED, "_count" },
	{ "# TYPE x histogram\n# TYPE x_ gauge\nx__count 1\n", RBD_PROM_UNTYPED,
	    "x__count" },
	{ "# HELP x_sum has only help\n# TYPE x summary\nx_sum 1\n",
	    RBD_PROM_SUMMARY, "x" },
	{ "# TYPE x gauge\n# HELP x after TYPE and samples\nx 1\n# HELP y z\n",
	    RBD_PROM_GAUGE, "x" },
};

START_TEST(test_families)
{
	struct rbd_prom_page *p = parse_str(families[_i].in);
	const struct rbd_prom_sample *s = rbd_prom_page_sample(p, 0);

	ck_assert_uint_eq(rbd_prom_page_count(p), 1);
	ck_assert_str_eq(rbd_prom_type_str(s->type), rbd_prom_type_str(families[_i].type));
	ck_assert_str_eq(s->family, families[_i].family);
	rbd_prom_page_free(p);
}
END_TEST

START_TEST(test_type_str)
{
	ck_assert_str_eq(rbd_prom_type_str(RBD_PROM_UNTYPED), "untyped");
	ck_assert_str_eq(rbd_prom_type_str(RBD_PROM_COUNTER), "counter");
	ck_assert_str_eq(rbd_prom_type_str(RBD_PROM_GAUGE), "gauge");
	ck_assert_str_eq(rbd_prom_type_str(RBD_PROM_HISTOGRAM), "histogram");
	ck_assert_str_eq(rbd_prom_type_str(RBD_PROM_SUMMARY), "summary");
	ck_assert_str_eq(rbd_prom_type_str(_RBD_PROM_TYPE_MAX), "invalid");
}
END_TEST

/* Malformed pages: the first problem, exactly. len 0 means strlen. */
static const struct {
	const char *in;
	size_t len;
	const char *msg;
} bad[] = {
	{ "3foo 1\n", 0, "line 1: invalid metric name" },
	{ "a 1\nb 2\nfoo-bar 1\n", 0, "line 3: invalid metric name" },
	{ "x+1\n", 0, "line 1: invalid metric name" },
	{ "{a=\"b\"} 1\n", 0, "line 1: invalid metric name" },
	{ "x{a=\"b} 1\n", 0, "line 1: unterminated label value" },
	{ "x{a=\"b\\\"} 1\n", 0, "line 1: unterminated label value" },
	{ "x{a=\"b\\", 0, "line 1: unterminated label value" },
	{ "x abc\n", 0, "line 1: invalid value 'abc'" },
	{ "x{code=\"1\",code=\"2\"} 1\n", 0, "line 1: duplicate label 'code'" },
	{ "x 1\n# TYPE x gauge\n", 0, "line 2: TYPE for 'x' after its samples" },
	{ "x_bucket{le=\"1\"} 1\n# TYPE x histogram\n", 0,
	    "line 2: TYPE for 'x' after its samples" },
	{ "x_count 1\n# TYPE x summary\n", 0, "line 2: TYPE for 'x' after its samples" },
	{ "x_total 1\n# TYPE x counter\n", 0, "line 2: TYPE for 'x' after its samples" },
	{ "# TYPE x gauge\n# TYPE x counter\n", 0, "line 2: second TYPE for 'x'" },
	{ "# TYPE x gauge\nx 1\n# TYPE x gauge\n", 0, "line 3: second TYPE for 'x'" },
	{ "# HELP x a\n# HELP x b\n", 0, "line 2: second HELP for 'x'" },
	{ "# TYPE x gauge extra\n", 0, "line 1: unknown metric type 'gauge extra'" },
	{ "# TYPE x gaugehistogram\n", 0, "line 1: unknown metric type 'gaugehistogram'" },
	{ "# TYPE x \t\n", 0, "line 1: missing metric type for 'x'" },
	{ "# TYPE 1x gauge\n", 0, "line 1: invalid metric name in TYPE" },
	{ "# HELP x-y z\n", 0, "line 1: invalid metric name in HELP" },
	{ "# HELP x bad \\t escape\n", 0, "line 1: invalid escape sequence '\\t' in HELP" },
	{ "# HELP x bad \\\" escape\n", 0, "line 1: invalid escape sequence '\\\"' in HELP" },
	{ "# HELP x trailing \\", 0, "line 1: unterminated escape sequence in HELP" },
	{ "x{a=\"\\t\"} 1\n", 0, "line 1: invalid escape sequence '\\t' in label value" },
	{ "x{a=\"\\\x01\"} 1\n", 0, "line 1: invalid escape sequence '\\?' in label value" },
	{ "x{a=b} 1\n", 0, "line 1: expected '\"' to open the value of label 'a'" },
	{ "x{a='b'} 1\n", 0, "line 1: expected '\"' to open the value of label 'a'" },
	{ "x{a} 1\n", 0, "line 1: expected '=' after label name 'a'" },
	{ "x{a=\"b\" c=\"d\"} 1\n", 0, "line 1: expected ',' or '}' after label value" },
	{ "x{a=\"b\"", 0, "line 1: expected ',' or '}' after label value" },
	{ "x{", 0, "line 1: unterminated label set" },
	{ "x{a=\"b\",  ", 0, "line 1: unterminated label set" },
	{ "x{,} 1\n", 0, "line 1: expected a label name" },
	{ "x{a=\"b\",,} 1\n", 0, "line 1: expected a label name" },
	{ "x{1a=\"b\"} 1\n", 0, "line 1: invalid label name '1a'" },
	{ "x{a-b=\"c\"} 1\n", 0, "line 1: invalid label name 'a-b'" },
	{ "x{a:b=\"c\"} 1\n", 0, "line 1: invalid label name 'a:b'" },
	{ "x{__name__=\"y\"} 1\n", 0, "line 1: reserved label name '__name__'" },
	{ "x\n", 0, "line 1: missing value" },
	{ "x{}  \n", 0, "line 1: missing value" },
	{ "x 1 abc\n", 0, "line 1: invalid timestamp 'abc'" },
	{ "x 1 1.5\n", 0, "line 1: invalid timestamp '1.5'" },
	{ "x 1 9223372036854775808\n", 0, "line 1: invalid timestamp '9223372036854775808'" },
	{ "x 1 -\n", 0, "line 1: invalid timestamp '-'" },
	{ "x 1 2 3\n", 0, "line 1: unexpected text after timestamp" },
	{ "x{a=\"1\"}} 1\n", 0, "line 1: invalid value '}'" },
	{ "# TYPE h histogram\nh_bucket 1\n", 0,
	    "line 2: histogram sample without 'le' label" },
	{ "# TYPE h histogram\nh_bucket{le=\"big\"} 1\n", 0,
	    "line 2: invalid 'le' value 'big'" },
	{ "# TYPE h histogram\nh 1\n", 0,
	    "line 2: histogram sample 'h' needs a _bucket, _sum or _count suffix" },
	{ "# TYPE s summary\ns 1\n", 0, "line 2: summary sample without 'quantile' label" },
	{ "# TYPE s summary\ns{quantile=\"p99\"} 1\n", 0,
	    "line 2: invalid 'quantile' value 'p99'" },
	{ "x{a=\"\xff\"} 1\n", 0, "line 1: invalid UTF-8 in label value" },
	{ "x{a=\"\xc0\xaf\"} 1\n", 0, "line 1: invalid UTF-8 in label value" },
	{ "x{a=\"\xed\xa0\x80\"} 1\n", 0, "line 1: invalid UTF-8 in label value" },
	{ "x{a=\"\xf4\x90\x80\x80\"} 1\n", 0, "line 1: invalid UTF-8 in label value" },
	{ "x{a=\"\xe2\x82\"} 1\n", 0, "line 1: invalid UTF-8 in label value" },
	{ "x{a=\"\0\"} 1\n", 10, "line 1: NUL byte in label value" },
	{ "x\0 1\n", 5, "line 1: invalid metric name" },
	{ "a 1\r\nb\r\n", 0, "line 2: missing value" },
	{ "x 1\n\n\n  y{a=\"1\"} nope", 0, "line 4: invalid value 'nope'" },
	{ "x \x01\n", 0, "line 1: invalid value '?'" },
	{ "x 12345678901234567890123456789012345678901234567890z\n", 0,
	    "line 1: invalid value '1234567890123456789012345678901234567890...'" },
	/* The first problem only. */
	{ "x abc\ny def\n", 0, "line 1: invalid value 'abc'" },
};

START_TEST(test_bad)
{
	static char sentinel;
	struct rbd_prom_page *p = (struct rbd_prom_page *)&sentinel;
	char err[256];
	size_t len = bad[_i].len ? bad[_i].len : strlen(bad[_i].in);

	ck_assert_int_eq(rbd_prom_parse(bad[_i].in, len, &p, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, bad[_i].msg);
	/* Never written on failure. */
	ck_assert_ptr_eq(p, (struct rbd_prom_page *)&sentinel);
	/* No error buffer, or a tiny one, is fine. */
	ck_assert_int_eq(rbd_prom_parse(bad[_i].in, len, &p, NULL, 0), -EINVAL);
	ck_assert_int_eq(rbd_prom_parse(bad[_i].in, len, &p, err, 4), -EINVAL);
	ck_assert_str_eq(err, "lin");
}
END_TEST

/* A buffer of n copies of line. */
static char *repeat(const char *line, size_t n, size_t *ret_len)
{
	size_t l = strlen(line);
	char *buf = malloc(l * n + 1);

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < n; i++)
		memcpy(buf + i * l, line, l);
	buf[l * n] = '\0';
	*ret_len = l * n;
	return buf;
}

START_TEST(test_limit_samples)
{
	struct rbd_prom_page *p = NULL;
	char err[128];
	size_t len;
	char *buf = repeat("a 1\n", RBD_PROM_SAMPLES_MAX + 1, &len);

	ck_assert_int_eq(rbd_prom_parse(buf, len - 4, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(rbd_prom_page_count(p), RBD_PROM_SAMPLES_MAX);
	rbd_prom_page_free(p);
	p = NULL;
	ck_assert_int_eq(rbd_prom_parse(buf, len, &p, err, sizeof(err)), -E2BIG);
	ck_assert_str_eq(err, "line 100001: more than 100000 samples");
	ck_assert_ptr_null(p);
	free(buf);
}
END_TEST

/* A sample line with n labels l0..l(n-1). */
static char *labels_line(int n)
{
	char *buf = malloc(16 + (size_t)n * 16), *o = buf;

	ck_assert_ptr_nonnull(buf);
	o += sprintf(o, "x{");
	for (int i = 0; i < n; i++)
		o += sprintf(o, "l%d=\"%d\",", i, i);
	sprintf(o, "} 1\n");
	return buf;
}

START_TEST(test_limit_labels)
{
	struct rbd_prom_page *p = NULL;
	char err[128], *line = labels_line(RBD_PROM_LABELS_MAX);

	ck_assert_int_eq(rbd_prom_parse(line, strlen(line), &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(rbd_prom_page_sample(p, 0)->n_labels, RBD_PROM_LABELS_MAX);
	ck_assert_str_eq(rbd_prom_label(rbd_prom_page_sample(p, 0), "l63"), "63");
	rbd_prom_page_free(p);
	free(line);
	p = NULL;
	line = labels_line(RBD_PROM_LABELS_MAX + 1);
	ck_assert_int_eq(rbd_prom_parse(line, strlen(line), &p, err, sizeof(err)), -E2BIG);
	ck_assert_str_eq(err, "line 1: more than 64 labels");
	ck_assert_ptr_null(p);
	free(line);
}
END_TEST

START_TEST(test_limit_line)
{
	struct rbd_prom_page *p = NULL;
	char err[128];
	size_t n = RBD_PROM_LINE_MAX;
	char *buf = malloc(n + 16);

	/* Exactly the limit (the "\r\n" not counted) is fine: a label value
	 * fills it. */
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, "x{a=\"", 5);
	memset(buf + 5, 'v', n - 5 - 4);
	memcpy(buf + n - 4, "\"} 1\r\n", 6);
	ck_assert_int_eq(rbd_prom_parse(buf, n + 2, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(rbd_prom_label(rbd_prom_page_sample(p, 0), "a")), n - 9);
	rbd_prom_page_free(p);
	p = NULL;
	/* One more byte is not, even as a comment, and even on line 2. */
	memcpy(buf, "a 1\n#", 5);
	memset(buf + 5, ' ', n);
	ck_assert_int_eq(rbd_prom_parse(buf, n + 5, &p, err, sizeof(err)), -E2BIG);
	ck_assert_str_eq(err, "line 2: line longer than 65536 bytes");
	ck_assert_ptr_null(p);
	free(buf);
}
END_TEST

START_TEST(test_big_page_grows_arena)
{
	/* Many labels per short line: more arena than the first block. */
	struct rbd_prom_page *p = NULL;
	char err[128];
	size_t len;
	char *buf = repeat("x{a=\"\",b=\"\",c=\"\",d=\"\",e=\"\"} 1\n", 20000, &len);

	ck_assert_int_eq(rbd_prom_parse(buf, len, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(rbd_prom_page_count(p), 20000);
	ck_assert_str_eq(rbd_prom_label(rbd_prom_page_sample(p, 19999), "e"), "");
	rbd_prom_page_free(p);
	free(buf);
}
END_TEST

START_TEST(test_many_names)
{
	/* Thousands of distinct names: the name table grows. */
	struct rbd_prom_page *p = NULL;
	char err[128], *buf = malloc(5000 * 64), *o = buf;

	ck_assert_ptr_nonnull(buf);
	for (int i = 0; i < 5000; i++)
		o += sprintf(o, "# TYPE m%d_total counter\nm%d_total %d\n", i, i, i);
	ck_assert_int_eq(rbd_prom_parse(buf, (size_t)(o - buf), &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(rbd_prom_page_count(p), 5000);
	ck_assert_str_eq(rbd_prom_page_sample(p, 4321)->name, "m4321_total");
	ck_assert(rbd_prom_page_sample(p, 4321)->value == 4321);
	ck_assert_int_eq(rbd_prom_page_sample(p, 4321)->type, RBD_PROM_COUNTER);
	rbd_prom_page_free(p);
	free(buf);
}
END_TEST

static Suite *promtext_suite(void)
{
	Suite *s = suite_create("promtext");
	TCase *tc = tcase_create("corpus");

	tcase_add_loop_test(tc, test_corpus_parses, 0, N_ELEMENTS(corpus));
	tcase_add_test(tc, test_node_exporter);
	tcase_add_test(tc, test_go_client);
	tcase_add_test(tc, test_python_client);
	tcase_add_test(tc, test_timestamps_escapes);
	tcase_add_test(tc, test_edge_syntax);
	tcase_add_test(tc, test_service_500);
	suite_add_tcase(s, tc);
	tc = tcase_create("syntax");
	tcase_add_loop_test(tc, test_framing, 0, N_ELEMENTS(framing));
	tcase_add_test(tc, test_null_buffer);
	tcase_add_loop_test(tc, test_good_values, 0, N_ELEMENTS(good_values));
	tcase_add_test(tc, test_nan_and_negative_zero);
	tcase_add_loop_test(tc, test_bad_values, 0, N_ELEMENTS(bad_values));
	tcase_add_loop_test(tc, test_families, 0, N_ELEMENTS(families));
	tcase_add_test(tc, test_type_str);
	tcase_add_loop_test(tc, test_bad, 0, N_ELEMENTS(bad));
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_limit_samples);
	tcase_add_test(tc, test_limit_labels);
	tcase_add_test(tc, test_limit_line);
	tcase_add_test(tc, test_big_page_grows_arena);
	tcase_add_test(tc, test_many_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(promtext_suite());
}
