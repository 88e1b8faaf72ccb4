/* The Prometheus API's answers: bodies captured from a real Prometheus
 * 2.42 (tests/data/promapi/README says how), shapes it should never send,
 * and the query URL. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promapi.h"
#include "testutil.h"

static const struct {
	const char *file;
	enum rbd_metric_status status;
	double value;
	const char *why;
} captured[] = {
	{ "vector.json", RBD_METRIC_VALUE, 1, "1" },
	{ "vector_one.json", RBD_METRIC_VALUE, 1, "1" },
	{ "vector_quantile.json", RBD_METRIC_VALUE, 0.099, "0.099" },
	{ "vector_empty.json", RBD_METRIC_NO_DATA, 0, "query returned no series" },
	{ "vector_nan.json", RBD_METRIC_NO_DATA, 0, "query result is NaN" },
	{ "vector_inf.json", RBD_METRIC_VALUE, INFINITY, "+Inf" },
	{ "multi3.json", RBD_METRIC_ERROR, 0, "query returned 3 series; "
	  "aggregate it to one, e.g. sum(...) or max(...)" },
	{ "scalar.json", RBD_METRIC_VALUE, 0.031, "0.031" },
	{ "scalar_nan.json", RBD_METRIC_NO_DATA, 0, "query result is NaN" },
	{ "scalar_inf.json", RBD_METRIC_VALUE, INFINITY, "+Inf" },
	{ "string.json", RBD_METRIC_ERROR, 0, "query returned a string; use an "
	  "instant vector or scalar query" },
	{ "matrix.json", RBD_METRIC_ERROR, 0, "query returned a matrix; use an "
	  "instant vector or scalar query" },
	{ "parse_error.json", RBD_METRIC_ERROR, 0, "prometheus: bad_data: "
	  "invalid parameter \"query\": 1:34: parse error: unclosed left "
	  "parenthesis" },
	/* 432 bytes of Prometheus's words, cut to fit with "...". */
	{ "exec_error.json", RBD_METRIC_ERROR, 0, "prometheus: execution: found "
	  "duplicate series for the match group {job=\"prometheus\"} on the "
	  "right hand-side of the operation: [{__name__=\"prometheus_http_"
	  "requests_total\", code=\"200\", handler=\"/api/v1/query\", "
	  "instance=\"127.0.0.1:39187\", job=\"prometheus\"..." },
};

/* The whole of a fixture, NUL-terminated, in a new buffer. */
static char *read_fixture(const char *name, size_t *len)
{
	char path[512];
	char *buf;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/data/promapi/%s", RBD_SRCDIR,
	    name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s", path);
	buf = calloc(1, 64 * 1024);
	ck_assert_ptr_nonnull(buf);
	*len = fread(buf, 1, 64 * 1024 - 1, f);
	fclose(f);
	return buf;
}

START_TEST(test_captured)
{
	struct rbd_metric_result r;
	size_t len;
	char *body = read_fixture(captured[_i].file, &len);

	ck_assert_int_eq(rbd_promapi_parse(body, len, &r), 0);
	ck_assert_msg(r.status == captured[_i].status, "%s: status %d (%s)",
	    captured[_i].file, r.status, r.why);
	ck_assert_str_eq(r.why, captured[_i].why);
	if (r.status == RBD_METRIC_VALUE)
		ck_assert_double_eq(r.value, captured[_i].value);
	ck_assert_uint_lt(strlen(r.why), RBD_METRIC_WHY_MAX);
	free(body);
}
END_TEST

static const struct {
	const char *body;
	enum rbd_metric_status status;
	double value;
	const char *why;
} shapes[] = {
	{ "", RBD_METRIC_ERROR, 0, "unexpected response: empty body" },
	{ "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>",
	  RBD_METRIC_ERROR, 0, "unexpected response: not JSON: <html>?\?"
	  "<head><title>502 Bad Gateway</title><..." },
	{ "\xc3\xa9t\xc3\xa9\x01", RBD_METRIC_ERROR, 0,
	  "unexpected response: not JSON: ??t???" },
	{ "[]", RBD_METRIC_ERROR, 0, "unexpected response: not a JSON object" },
	{ "{}", RBD_METRIC_ERROR, 0, "unexpected response: no \"status\"" },
	{ "{\"status\":1}", RBD_METRIC_ERROR, 0,
	  "unexpected response: no \"status\"" },
	{ "{\"status\":\"pending\"}", RBD_METRIC_ERROR, 0,
	  "unexpected response: status \"pending\"" },
	{ "{\"status\":\"success\"}", RBD_METRIC_ERROR, 0,
	  "unexpected response: no \"data.resultType\"" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"histogram\","
	  "\"result\":[]}}", RBD_METRIC_ERROR, 0,
	  "unexpected response: resultType \"histogram\"" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	  "\"result\":{}}}", RBD_METRIC_ERROR, 0, "unexpected response: "
	  "\"data.result\" of a vector is not an array" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	  "\"result\":[1]}}", RBD_METRIC_ERROR, 0,
	  "unexpected response: a series is not an object" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	  "\"result\":[{\"metric\":{}}]}}", RBD_METRIC_ERROR, 0,
	  "unexpected response: a sample is not [<time>, \"<value>\"]" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	  "\"result\":[1700000000.123,0.5]}}", RBD_METRIC_ERROR, 0,
	  "unexpected response: a sample is not [<time>, \"<value>\"]" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	  "\"result\":[1700000000.123,\"0.5\",1]}}", RBD_METRIC_ERROR, 0,
	  "unexpected response: a sample is not [<time>, \"<value>\"]" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	  "\"result\":[\"1700000000.123\",\"0.5\"]}}", RBD_METRIC_ERROR, 0,
	  "unexpected response: a sample is not [<time>, \"<value>\"]" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	  "\"result\":[1700000000.123,\"abc\"]}}", RBD_METRIC_ERROR, 0,
	  "unexpected response: value \"abc\" is not a number" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	  "\"result\":[1700000000.123,\" 1\"]}}", RBD_METRIC_ERROR, 0,
	  "unexpected response: value \" 1\" is not a number" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	  "\"result\":[1700000000.123,\"1x\"]}}", RBD_METRIC_ERROR, 0,
	  "unexpected response: value \"1x\" is not a number" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	  "\"result\":[1700000000.123,\"\"]}}", RBD_METRIC_ERROR, 0,
	  "unexpected response: value \"\" is not a number" },
	/* Cut, and a control character made visible. */
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	  "\"result\":[1,\"\\u001b[31m0123456789012345678901234567890123456789\"]}}",
	  RBD_METRIC_ERROR, 0, "unexpected response: value "
	  "\"?[31m012345678901234567890123...\" is not a number" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	  "\"result\":[1,\"1e3\"]}}", RBD_METRIC_VALUE, 1000, "1e3" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	  "\"result\":[1,\"-Inf\"]}}", RBD_METRIC_VALUE, -INFINITY, "-Inf" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	  "\"result\":[{\"metric\":{\"job\":\"api\"},\"value\":"
	  "[1700000000.123,\"0.031\"]}]},\"warnings\":[\"x\"]}",
	  RBD_METRIC_VALUE, 0.031, "0.031" },
	{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	  "\"result\":[{},{}]}}", RBD_METRIC_ERROR, 0, "query returned 2 "
	  "series; aggregate it to one, e.g. sum(...) or max(...)" },
	{ "{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":"
	  "\"query timed out in expression evaluation\"}", RBD_METRIC_ERROR, 0,
	  "prometheus: timeout: query timed out in expression evaluation" },
	{ "{\"status\":\"error\",\"error\":\"bad\\nthing\\u0001\"}",
	  RBD_METRIC_ERROR, 0, "prometheus: error: bad?thing?" },
	{ "{\"status\":\"error\",\"errorType\":\"unavailable\"}",
	  RBD_METRIC_ERROR, 0, "prometheus: unavailable: (no message)" },
	/* A cut never splits a UTF-8 sequence. */
	{ "{\"status\":\"pendin\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	  "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\"}", RBD_METRIC_ERROR, 0,
	  "unexpected response: status \"pendin\u00e9\u00e9\u00e9\u00e9"
	  "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9...\"" },
};

START_TEST(test_shapes)
{
	struct rbd_metric_result r;

	ck_assert_int_eq(rbd_promapi_parse(shapes[_i].body,
	    strlen(shapes[_i].body), &r), 0);
	ck_assert_str_eq(r.why, shapes[_i].why);
	ck_assert_int_eq(r.status, shapes[_i].status);
	if (r.status == RBD_METRIC_VALUE)
		ck_assert_double_eq(r.value, shapes[_i].value);
}
END_TEST

START_TEST(test_null_body)
{
	struct rbd_metric_result r;

	ck_assert_int_eq(rbd_promapi_parse(NULL, 10, &r), 0);
	ck_assert_int_eq(r.status, RBD_METRIC_ERROR);
	ck_assert_str_eq(r.why, "unexpected response: empty body");
}
END_TEST

/* The length given, not the NUL, bounds the body. */
START_TEST(test_length)
{
	static const char body[] = "{\"status\":\"success\",\"data\":{"
	    "\"resultType\":\"scalar\",\"result\":[1,\"2\"]}}garbage";
	struct rbd_metric_result r;

	ck_assert_int_eq(rbd_promapi_parse(body, strlen(body) - 7, &r), 0);
	ck_assert_int_eq(r.status, RBD_METRIC_VALUE);
	ck_assert_double_eq(r.value, 2);
}
END_TEST

static const struct {
	const char *base, *query, *url;
} urls[] = {
	{ "http://prom:9090", "up", "http://prom:9090/api/v1/query?query=up" },
	{ "http://prom:9090/", "up", "http://prom:9090/api/v1/query?query=up" },
	{ "https://h/prometheus//", "up",
	  "https://h/prometheus/api/v1/query?query=up" },
	{ "http://prom:9090", "", "http://prom:9090/api/v1/query?query=" },
	{ "http://prom:9090", "a-b.c_d~e", "http://prom:9090/api/v1/query?"
	  "query=a-b.c_d~e" },
	{ "http://prom:9090",
	  "sum(rate(http_requests_total{code=~\"5..\"}[5m])) / 2 + 1",
	  "http://prom:9090/api/v1/query?query=sum%28rate%28http_requests_"
	  "total%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29%20%2F%202%20%2B%201" },
	{ "http://prom:9090", "up{job=\"caf\u00e9\"}&x=1#y%",
	  "http://prom:9090/api/v1/query?query=up%7Bjob%3D%22caf%C3%A9%22%7D"
	  "%26x%3D1%23y%25" },
};

START_TEST(test_url)
{
	char *url = rbd_promapi_query_url(urls[_i].base, urls[_i].query);

	ck_assert_ptr_nonnull(url);
	ck_assert_str_eq(url, urls[_i].url);
	free(url);
}
END_TEST

START_TEST(test_url_null)
{
	ck_assert_ptr_null(rbd_promapi_query_url(NULL, "up"));
	ck_assert_ptr_null(rbd_promapi_query_url("http://p", NULL));
}
END_TEST

/* Authorization headers: RFC 7617's own example for Basic. */
START_TEST(test_auth_header)
{
	char buf[128], tiny[16];

	ck_assert_int_eq(rbd_promapi_auth_header(NULL, "Aladdin", "open sesame",
	    buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	ck_assert_int_eq(rbd_promapi_auth_header(NULL, "a", "bc", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "Authorization: Basic YTpiYw==");
	ck_assert_int_eq(rbd_promapi_auth_header(NULL, "ab", "cd", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "Authorization: Basic YWI6Y2Q=");
	ck_assert_int_eq(rbd_promapi_auth_header("s3cr3t", NULL, NULL, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "Authorization: Bearer s3cr3t");
	ck_assert_int_eq(rbd_promapi_auth_header(NULL, NULL, NULL, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	/* A header stays one line, and fits or is refused. */
	ck_assert_int_eq(rbd_promapi_auth_header("a\r\nX-Evil: 1", NULL, NULL,
	    buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(rbd_promapi_auth_header(NULL, "u", "p\n", buf, sizeof(buf)),
	    -EINVAL);
	ck_assert_int_eq(rbd_promapi_auth_header("0123456789", NULL, NULL, tiny,
	    sizeof(tiny)), -ENAMETOOLONG);
}
END_TEST

static Suite *promapi_suite(void)
{
	Suite *s = suite_create("promapi");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_captured, 0, N_ELEMENTS(captured));
	tcase_add_test(tc, test_auth_header);
	tcase_add_loop_test(tc, test_shapes, 0, N_ELEMENTS(shapes));
	tcase_add_test(tc, test_null_body);
	tcase_add_test(tc, test_length);
	suite_add_tcase(s, tc);
	tc = tcase_create("url");
	tcase_add_loop_test(tc, test_url, 0, N_ELEMENTS(urls));
	tcase_add_test(tc, test_url_null);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(promapi_suite());
}
