/* Series selectors: parsing with exact messages and columns, the
 * normalised text, and matching (absent labels, anchored regexes). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promtext.h"
#include "selector.h"
#include "testutil.h"

/* Parse s, which must succeed. */
static struct rbd_selector *sel_new(const char *s)
{
	struct rbd_selector *sel = NULL;
	unsigned col = 0;
	char err[256];
	int r = rbd_selector_parse(s, &sel, &col, err, sizeof(err));

	ck_assert_msg(r == 0, "%s: %d col %u %s", s, r, col, err);
	return sel;
}

static const struct {
	const char *in;
	const char *name;
	const char *str;
} good[] = {
	{ "http_requests_total", "http_requests_total", "http_requests_total" },
	{ "  up  ", "up", "up" },
	{ "up{}", "up", "up" },
	{ "up { } ", "up", "up" },
	{ "a:b:c", "a:b:c", "a:b:c" },
	{ "_x", "_x", "_x" },
	{ "x{a=\"1\"}", "x", "x{a=\"1\"}" },
	{ "x{a=\"x\",b!=\"y\",c=~\"5..\",d!~\"GET|HEAD\"}", "x",
	    "x{a=\"x\",b!=\"y\",c=~\"5..\",d!~\"GET|HEAD\"}" },
	{ "x{ a = 'single' , b =~ 'GET|HEAD' , }", "x",
	    "x{a=\"single\",b=~\"GET|HEAD\"}" },
	{ "x{a=\"q\\\"uote\",b='it\\'s',c=\"back\\\\slash\"}", "x",
	    "x{a=\"q\\\"uote\",b=\"it's\",c=\"back\\\\slash\"}" },
	{ "x{a=\"new\\nline\",b=\"t\\tab\"}", "x", "x{a=\"new\\nline\",b=\"t\\tab\"}" },
	{ "x{a='\"'}", "x", "x{a=\"\\\"\"}" },
	{ "x{path=~`C:\\\\.*`}", "x", "x{path=~\"C:\\\\\\\\.*\"}" },
	{ "x{a=\"\"}", "x", "x{a=\"\"}" },
	{ "x{a=~\"\"}", "x", "x{a=~\"\"}" },
	{ "x{a=\"1\",a!=\"2\"}", "x", "x{a=\"1\",a!=\"2\"}" },
	{ "x{city=\"Zürich\"}", "x", "x{city=\"Zürich\"}" },
	{ "x{le=~\"0\\\\.5|\\\\+Inf\"}", "x", "x{le=~\"0\\\\.5|\\\\+Inf\"}" },
	{ "x{a=~\"[)]\"}", "x", "x{a=~\"[)]\"}" },
	{ "x{a=~\"\\\\)\"}", "x", "x{a=~\"\\\\)\"}" },
	{ "x{a=~\"[[:digit:])]+\"}", "x", "x{a=~\"[[:digit:])]+\"}" },
	{ "x{a=~\"a+?b*?c??d{2}?\"}", "x", "x{a=~\"a+?b*?c??d{2}?\"}" },
	{ "x{a=~\"(a){1000}\"}", "x", "x{a=~\"(a){1000}\"}" },
	{ "x{a=~\"[0-9]{3}-[0-9]{4}|x{2,}|y{1,5}\"}", "x",
	    "x{a=~\"[0-9]{3}-[0-9]{4}|x{2,}|y{1,5}\"}" },
	{ "x{a=~\"(((a+)+)+)\"}", "x", "x{a=~\"(((a+)+)+)\"}" },
	{ "x{a=~\"(a|b)*(c?d)+.{0,100}|(x|)\"}", "x",
	    "x{a=~\"(a|b)*(c?d)+.{0,100}|(x|)\"}" },
};

START_TEST(test_good)
{
	struct rbd_selector *sel = sel_new(good[_i].in);
	struct rbd_selector *again;

	ck_assert_str_eq(rbd_selector_name(sel), good[_i].name);
	ck_assert_str_eq(rbd_selector_str(sel), good[_i].str);
	/* The normalised text reads back as itself. */
	again = sel_new(rbd_selector_str(sel));
	ck_assert_str_eq(rbd_selector_str(again), good[_i].str);
	rbd_selector_free(again);
	rbd_selector_free(sel);
}
END_TEST

static const struct {
	const char *in;
	unsigned col;
	const char *msg;
} bad[] = {
	{ "", 1, "expected a metric name" },
	{ "   ", 4, "expected a metric name" },
	{ "5xx", 1, "expected a metric name" },
	{ "{a=\"b\"}", 1, "expected a metric name" },
	{ "http-requests", 5, "unexpected '-' after the selector" },
	{ "up down", 4, "unexpected 'd' after the selector" },
	{ "up{} x", 6, "unexpected 'x' after the selector" },
	{ "up{", 4, "expected a label name or '}'" },
	{ "up{1a=\"b\"}", 4, "expected a label name or '}'" },
	{ "up{,}", 4, "expected a label name or '}'" },
	{ "up{a=\"1\",,}", 10, "expected a label name or '}'" },
	{ "up{a}", 5, "expected a matcher operator (=, !=, =~ or !~)" },
	{ "up{a==\"b\"}", 6, "expected a quoted label value" },
	{ "up{a~\"b\"}", 5, "expected a matcher operator (=, !=, =~ or !~)" },
	{ "up{a=b}", 6, "expected a quoted label value" },
	{ "up{a=}", 6, "expected a quoted label value" },
	{ "up{a=\"b}", 6, "unterminated label value" },
	{ "up{a='b\"}", 6, "unterminated label value" },
	{ "up{a=`b}", 6, "unterminated label value" },
	{ "up{a=\"b\\", 6, "unterminated label value" },
	{ "up{a=\"b\\\"}", 6, "unterminated label value" },
	{ "up{a=\"\\d\"}", 7, "invalid escape sequence '\\d'" },
	{ "up{a=\"b\" c=\"d\"}", 10, "expected ',' or '}'" },
	{ "up{a=\"b\"", 9, "expected ',' or '}'" },
	{ "up{__name__=\"x\"}", 4, "write the metric name before '{', not as __name__" },
	{ "up{a=~\"x(\"}", 7,
	    "invalid regular expression 'x(': Unmatched ( or \\(" },
	{ "up{a!~\"*a\"}", 7,
	    "invalid regular expression '*a': Invalid preceding regular expression" },
	/* glibc would take the ')' as a literal and "^(a)|(b))$" would lose
	 * its anchoring. */
	{ "up{a=~\"a)|(b)\"}", 7, "invalid regular expression 'a)|(b)': unmatched ')'" },
	{ "up{a=~\"a)\"}", 7, "invalid regular expression 'a)': unmatched ')'" },
	/* What RE2 refuses too, and what glibc would expand into a tree of
	 * gigabytes (found by the fuzzer: "a" followed by 35 '+'). */
	{ "up{a=~\"a++\"}", 7, "invalid regular expression 'a++': nested repetition operator" },
	{ "up{a=~\"a**\"}", 7, "invalid regular expression 'a**': nested repetition operator" },
	{ "up{a=~\"a{2}{3}\"}", 7,
	    "invalid regular expression 'a{2}{3}': nested repetition operator" },
	{ "up{a=~\"a*?" "?\"}", 7,
	    "invalid regular expression 'a*?" "?': nested repetition operator" },
	{ "up{a=~\"a{\"}", 7, "invalid regular expression 'a{': Unmatched \\{" },
	{ "up{a=~\"(a){1000}(b){9001}\"}", 7,
	    "invalid regular expression '(a){1000}(b){9001}': too large once repetitions are expanded" },
	{ "up{a=~\"((a{100}){100}){100}\"}", 7,
	    "invalid regular expression '((a{100}){100}){100}': too large once repetitions are expanded" },
	{ "up{a=~\"((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)\"}", 7,
	    "invalid regular expression '((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)': "
	    "too large once repetitions are expanded" },
	/* What takes glibc gigabytes or hours although RE2 takes it: "(a?)*"
	 * thirty times in a row, "a{0,9999}" (1.5 GB), "\b" fifty times
	 * (650 MB); see also test_fuzz_found. */
	{ "up{a=~\"(a?)*\"}", 7, "invalid regular expression '(a?)*': "
	    "repetition of an expression that can match the empty string" },
	{ "up{a=~\"(a|)+\"}", 7, "invalid regular expression '(a|)+': "
	    "repetition of an expression that can match the empty string" },
	{ "up{a=~\"(.*){2}\"}", 7, "invalid regular expression '(.*){2}': "
	    "repetition of an expression that can match the empty string" },
	{ "up{a=~\"a{0,9999}\"}", 7, "invalid regular expression 'a{0,9999}': "
	    "too large once repetitions are expanded" },
	{ "up{a=~`\\b\\b\\b\\b\\b\\b\\b\\b\\b\\b\\b`}", 7,
	    "invalid regular expression "
	    "'\\\\b\\\\b\\\\b\\\\b\\\\b\\\\b\\\\b\\\\b\\\\b\\\\b\\\\b': "
	    "more than 10 anchors (^ $ \\b \\B \\< \\> \\` \\')" },
	{ "up{a=~\"(x)\\\\1\"}", 7,
	    "invalid regular expression '(x)\\\\1': backreferences are not supported" },
	{ "up{a=~\"((((((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))))))\"}", 7,
	    "invalid regular expression '((((((((((((((((((((((((((((((((((x)))))))))))))))))))))))))))))...': "
	    "nested too deeply" },
	/* A regular expression is quoted escaped: no raw control character
	 * reaches the terminal that shows the error. */
	{ "up{a=~`\n\x1b[2J(`}", 7,
	    "invalid regular expression '\\n\\x1b[2J(': Unmatched [, [^, [:, [., or [=" },
};

START_TEST(test_bad)
{
	static char sentinel;
	struct rbd_selector *sel = (struct rbd_selector *)&sentinel;
	unsigned col = 0;
	char err[256];

	ck_assert_int_eq(rbd_selector_parse(bad[_i].in, &sel, &col, err, sizeof(err)),
	    -EINVAL);
	ck_assert_str_eq(err, bad[_i].msg);
	ck_assert_uint_eq(col, bad[_i].col);
	ck_assert_ptr_eq(sel, (struct rbd_selector *)&sentinel);
	/* No column or error buffer wanted: fine too. */
	ck_assert_int_eq(rbd_selector_parse(bad[_i].in, &sel, NULL, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(test_limits_and_null)
{
	struct rbd_selector *sel = NULL;
	unsigned col = 0;
	char err[128], *s = malloc(70 * 8 + 8), *o = s;

	ck_assert_ptr_nonnull(s);
	o += sprintf(o, "x{");
	for (int i = 0; i < 65; i++)
		o += sprintf(o, "l%d=\"\",", i);
	sprintf(o, "}");
	ck_assert_int_eq(rbd_selector_parse(s, &sel, &col, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "more than 64 matchers");
	ck_assert_uint_eq(col, strlen(s) - strlen("l64=\"\",}") + 1);
	free(s);
	s = malloc(5000);
	ck_assert_ptr_nonnull(s);
	memset(s, 'a', 4999);
	s[4999] = '\0';
	ck_assert_int_eq(rbd_selector_parse(s, &sel, &col, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "longer than 4096 bytes");
	ck_assert_uint_eq(col, 4097);
	free(s);
	ck_assert_int_eq(rbd_selector_parse(NULL, &sel, &col, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(rbd_selector_parse("x", NULL, &col, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(sel);
	rbd_selector_free(NULL);
	ck_assert_ptr_null(rbd_selector_name(NULL));
	ck_assert_ptr_null(rbd_selector_str(NULL));
	ck_assert(!rbd_selector_match(NULL, NULL, NULL));
}
END_TEST

/* Inputs the fuzzer found (tests/data/selector/), refused at once. */
static const struct {
	const char *file;
	unsigned col;
	const char *msg;
} found[] = {
	{ "oom-repeated-empty-group.txt", 6, "invalid regular expression "
	    "'((){100}){099}': repetition of an expression that can match the "
	    "empty string" },
};

START_TEST(test_fuzz_found)
{
	char path[512], buf[4097], err[256];
	struct rbd_selector *sel = NULL;
	unsigned col = 0;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/data/selector/%s", RBD_SRCDIR,
	    found[_i].file);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s", path);
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	ck_assert_int_eq(rbd_selector_parse(buf, &sel, &col, err, sizeof(err)),
	    -EINVAL);
	ck_assert_str_eq(err, found[_i].msg);
	ck_assert_uint_eq(col, found[_i].col);
	ck_assert_ptr_null(sel);
}
END_TEST

/* A page every matching case looks into. */
static const char page_text[] =
	"# TYPE http_requests_total counter\n"
	"http_requests_total{code=\"200\",method=\"GET\"} 10\n"
	"http_requests_total{code=\"500\",method=\"GET\"} 1\n"
	"http_requests_total{code=\"503\",method=\"HEAD\"} 2\n"
	"http_requests_total{code=\"1500\",method=\"POST\"} 3\n"
	"http_requests_total{code=\"404\"} 4\n"
	"http_requests_total{code=\"200\",method=\"GETS\"} 5\n"
	"# TYPE lat histogram\n"
	"lat_bucket{le=\"0.5\",handler=\"/a\"} 1\n"
	"lat_count{handler=\"/a\"} 1\n"
	"lat_sum{handler=\"/a\"} 0.2\n"
	"other{path=\"a\\\\b\"} 1\n";

static const struct {
	const char *sel;
	const char *suffix;
	const char *want;	/* values of the matching samples, in order */
} cases[] = {
	{ "http_requests_total", NULL, "10 1 2 3 4 5" },
	{ "http_requests_total{}", NULL, "10 1 2 3 4 5" },
	{ "http_requests_total{code=\"200\"}", NULL, "10 5" },
	{ "http_requests_total{code!=\"200\"}", NULL, "1 2 3 4" },
	/* Fully anchored: "5.." does not match "1500". */
	{ "http_requests_total{code=~\"5..\"}", NULL, "1 2" },
	{ "http_requests_total{code!~\"5..\"}", NULL, "10 3 4 5" },
	{ "http_requests_total{code=~\"5\"}", NULL, "" },
	{ "http_requests_total{code=~\".*00\"}", NULL, "10 1 3 5" },
	/* "GET|HEAD" is "^(GET|HEAD)$": not "GETS". */
	{ "http_requests_total{method=~\"GET|HEAD\"}", NULL, "10 1 2" },
	{ "http_requests_total{method!~\"GET|HEAD\"}", NULL, "3 4 5" },
	/* An absent label has the empty value. */
	{ "http_requests_total{method=\"\"}", NULL, "4" },
	{ "http_requests_total{method!=\"\"}", NULL, "10 1 2 3 5" },
	{ "http_requests_total{method=~\"\"}", NULL, "4" },
	{ "http_requests_total{method=~\"G?E?T?\"}", NULL, "10 1 4" },
	{ "http_requests_total{nolabel=\"\"}", NULL, "10 1 2 3 4 5" },
	{ "http_requests_total{nolabel=~\".+\"}", NULL, "" },
	{ "http_requests_total{nolabel!=\"x\"}", NULL, "10 1 2 3 4 5" },
	{ "http_requests_total{code=~\"5..\",method=\"GET\"}", NULL, "1" },
	{ "http_requests_total{code=~\"[[:digit:]]{3}\"}", NULL, "10 1 2 4 5" },
	{ "http_requests_total{code=~\"5.+?\"}", NULL, "1 2" },
	/* Names: exactly, or with the suffix. */
	{ "http_requests", NULL, "" },
	{ "http_requests", "_total", "10 1 2 3 4 5" },
	{ "http_requests_total", "_total", "" },
	{ "lat", NULL, "" },
	{ "lat", "_bucket", "1" },
	{ "lat{handler=\"/a\"}", "_count", "1" },
	{ "lat", "_sum", "0.2" },
	{ "la", "t_sum", "0.2" },
	{ "other{path=\"a\\\\b\"}", NULL, "1" },
	{ "other{path=`a\\b`}", NULL, "1" },
	{ "other{path=~\"a.b\"}", NULL, "1" },
};

START_TEST(test_match)
{
	struct rbd_prom_page *page = NULL;
	struct rbd_selector *sel = sel_new(cases[_i].sel);
	char got[256] = "", err[128];

	ck_assert_int_eq(rbd_prom_parse(page_text, strlen(page_text), &page, err,
	    sizeof(err)), 0);
	for (size_t i = 0; i < rbd_prom_page_count(page); i++) {
		const struct rbd_prom_sample *s = rbd_prom_page_sample(page, i);
		size_t n = strlen(got);

		if (rbd_selector_match(sel, s, cases[_i].suffix))
			snprintf(got + n, sizeof(got) - n, "%s%g", n ? " " : "", s->value);
	}
	ck_assert_msg(strcmp(got, cases[_i].want) == 0, "%s%s: got '%s', want '%s'",
	    cases[_i].sel, cases[_i].suffix ? cases[_i].suffix : "", got, cases[_i].want);
	rbd_selector_free(sel);
	rbd_prom_page_free(page);
}
END_TEST

static Suite *selector_suite(void)
{
	Suite *s = suite_create("selector");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_good, 0, N_ELEMENTS(good));
	tcase_add_loop_test(tc, test_bad, 0, N_ELEMENTS(bad));
	tcase_add_test(tc, test_limits_and_null);
	tcase_add_loop_test(tc, test_fuzz_found, 0, N_ELEMENTS(found));
	suite_add_tcase(s, tc);
	tc = tcase_create("match");
	tcase_add_loop_test(tc, test_match, 0, N_ELEMENTS(cases));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(selector_suite());
}
