/* Remedies: the one-shot HTTP requests of daemon/remedy_http.c against a
 * loopback evhttp server on the same event loop: what is sent (method,
 * body, headers), what counts as success (any 2xx), and the details of
 * the failures, exactly. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "duration.h"
#include "remedy_http.h"
#include "testutil.h"

#define MS	RBD_USEC_PER_MSEC

static struct event_base *base;
static struct evhttp *http;
static int port;
static struct rbd_remedy_http_client *client;

/* What the server saw last. */
static char seen_method[16], seen_path[64], seen_body[256], seen_type[64];
static struct evhttp_request *held;	/* /hang: never answered */

/* What the callback got. */
static int n_done;
static enum rbd_deploy_result got;
static char got_detail[256];

static const char *method_str(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_DELETE: return "DELETE";
	default: return "?";
	}
}

/* /ok: 204; /created: 201; /fail: 503; /hang: never; else 404. */
static void serve(struct evhttp_request *req, void *arg)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *type = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Content-Type");
	const char *uri = evhttp_request_get_uri(req);
	size_t n = evbuffer_get_length(in);

	(void)arg;
	snprintf(seen_method, sizeof(seen_method), "%s",
	    method_str(evhttp_request_get_command(req)));
	snprintf(seen_path, sizeof(seen_path), "%s", uri);
	if (n >= sizeof(seen_body))
		n = sizeof(seen_body) - 1;
	evbuffer_copyout(in, seen_body, n);
	seen_body[n] = '\0';
	snprintf(seen_type, sizeof(seen_type), "%s", type ? type : "");
	if (strcmp(uri, "/ok") == 0)
		evhttp_send_reply(req, 204, "No Content", NULL);
	else if (strcmp(uri, "/created") == 0)
		evhttp_send_reply(req, 201, "Created", NULL);
	else if (strcmp(uri, "/fail") == 0)
		evhttp_send_reply(req, 503, "Unavailable", NULL);
	else if (strcmp(uri, "/hang") == 0)
		held = req;
	else
		evhttp_send_reply(req, 404, "Not Found", NULL);
}

static void done(void *arg, enum rbd_deploy_result r, const char *detail)
{
	(void)arg;
	n_done++;
	got = r;
	snprintf(got_detail, sizeof(got_detail), "%s", detail);
	event_base_loopbreak(base);
}

static void setup(void)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	http = evhttp_new(base);
	ck_assert_ptr_nonnull(http);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(http, serve, NULL);
	bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	client = rbd_remedy_http_new(base);
	ck_assert_ptr_nonnull(client);
	n_done = 0;
	held = NULL;
	seen_method[0] = seen_path[0] = seen_body[0] = seen_type[0] = '\0';
}

static void teardown(void)
{
	rbd_remedy_http_free(client);
	if (held)
		evhttp_send_reply(held, 503, "Stopping", NULL);
	evhttp_free(http);
	event_base_free(base);
}

/* Start h with timeout and run the loop until the callback (or 5 s). */
static void request(struct rbd_remedy_http *h, uint64_t timeout)
{
	static const struct timeval limit = { 5, 0 };

	ck_assert_int_eq(rbd_remedy_http_start(client, h, timeout, done, NULL,
	    NULL), 0);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	ck_assert_int_eq(n_done, 1);
}

static void url(char *buf, size_t len, const char *path)
{
	snprintf(buf, len, "http://127.0.0.1:%d%s", port, path);
}

/* A PUT with a body and a header: sent as written; 204 is success. */
START_TEST(test_success)
{
	char u[64], hdr[] = "Content-Type: application/json";
	char *headers[] = { hdr };
	struct rbd_remedy_http h = { .method = "PUT", .url = u,
	    .body = "{\"enabled\": false}", .headers = headers, .n_headers = 1 };

	url(u, sizeof(u), "/ok");
	request(&h, 2000 * MS);
	ck_assert_int_eq(got, RBD_DEPLOY_OK);
	ck_assert_str_eq(got_detail, "HTTP 204");
	ck_assert_str_eq(seen_method, "PUT");
	ck_assert_str_eq(seen_path, "/ok");
	ck_assert_str_eq(seen_body, "{\"enabled\": false}");
	ck_assert_str_eq(seen_type, "application/json");
}
END_TEST

/* Every method, with and without a body; any 2xx is success. */
START_TEST(test_methods)
{
	static const char *const methods[] = { "GET", "POST", "PATCH",
	    "DELETE" };
	char u[64];
	struct rbd_remedy_http h = { .method = (char *)methods[_i], .url = u };

	url(u, sizeof(u), "/created");
	request(&h, 2000 * MS);
	ck_assert_int_eq(got, RBD_DEPLOY_OK);
	ck_assert_str_eq(got_detail, "HTTP 201");
	ck_assert_str_eq(seen_method, methods[_i]);
	ck_assert_str_eq(seen_body, "");
}
END_TEST

/* Failures, each in words. */
START_TEST(test_failures)
{
	char u[64];
	struct rbd_remedy_http h = { .method = "POST", .url = u };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	url(u, sizeof(u), "/fail");
	request(&h, 2000 * MS);
	ck_assert_int_eq(got, RBD_DEPLOY_FAILED);
	ck_assert_str_eq(got_detail, "HTTP 503 (expected 2xx)");

	n_done = 0;
	url(u, sizeof(u), "/hang");
	request(&h, 200 * MS);
	ck_assert_int_eq(got, RBD_DEPLOY_TIMED_OUT);
	ck_assert_str_eq(got_detail, "timed out after 200ms");

	/* A port bound but not listening: refused. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/ok", ntohs(sa.sin_port));
	n_done = 0;
	request(&h, 2000 * MS);
	close(fd);
	ck_assert_int_eq(got, RBD_DEPLOY_FAILED);
	ck_assert_str_eq(got_detail, "connection refused");
}
END_TEST

/* A cancelled request never calls back; bad arguments are refused. */
START_TEST(test_cancel_and_refused)
{
	static const struct timeval a_while = { 0, 300000 };
	char u[64];
	struct rbd_remedy_http h = { .method = "POST", .url = u };
	struct rbd_remedy_http none = { .method = "POST" };
	struct rbd_remedy_req *req = NULL;

	url(u, sizeof(u), "/ok");
	ck_assert_int_eq(rbd_remedy_http_start(client, &h, 2000 * MS, done,
	    NULL, &req), 0);
	ck_assert_ptr_nonnull(req);
	rbd_remedy_http_cancel(req);
	event_base_loopexit(base, &a_while);
	event_base_dispatch(base);
	ck_assert_int_eq(n_done, 0);
	ck_assert_int_eq(rbd_remedy_http_start(client, &none, 2000 * MS, done,
	    NULL, NULL), -EINVAL);
	ck_assert_int_eq(rbd_remedy_http_start(client, &h, 0, done, NULL,
	    NULL), -EINVAL);
	/* Two in flight at once, one left at free (not called back). */
	url(u, sizeof(u), "/hang");
	ck_assert_int_eq(rbd_remedy_http_start(client, &h, 2000 * MS, done,
	    NULL, NULL), 0);
	url(u, sizeof(u), "/ok");
	request(&h, 2000 * MS);
	ck_assert_str_eq(got_detail, "HTTP 204");
}
END_TEST

static Suite *remedy_http_suite(void)
{
	Suite *s = suite_create("remedy_http");
	TCase *tc = tcase_create("requests");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_success);
	tcase_add_loop_test(tc, test_methods, 0, 4);
	tcase_add_test(tc, test_failures);
	tcase_add_test(tc, test_cancel_and_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(remedy_http_suite());
}
