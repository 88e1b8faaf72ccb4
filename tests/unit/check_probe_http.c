/* HTTP probes against a real HTTP server: libevent's evhttp on 127.0.0.1,
 * on the same event_base as the prober. Every wait is a bounded poll of the
 * loop (never a sleep), and assertions are on counts and texts rather than
 * on tight timing, so that a loaded machine slows the tests down without
 * failing them. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "duration.h"
#include "probe_http.h"
#include "testutil.h"

#define MSEC		RBD_USEC_PER_MSEC
#define SEC		RBD_USEC_PER_SEC
#define WAIT		(20 * SEC)	/* bound on any wait; never reached when all is well */
#define PENDING_MAX	256		/* /slow and /hang requests held at once */
#define LIVE_MAX	4096		/* server connections tracked */
#define CLOSED_MAX	64
#define SAMPLES_MAX	256
#define BIG_SIZE	(1024 * 1024)
#define NEEDLE_AT	30000		/* inside the cap */
#define NEEDLE_LEN	5000		/* long: spans a chunk boundary somewhere */
#define BEYOND_AT	200000		/* past RBD_PROBE_BODY_MAX */
#define BEYOND		"beyond-the-cap"
#define SLOW_USEC	(300 * MSEC)
#define SKIPPED		"skipped: previous probe still running"
#define LONG_LABEL	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
/* A label over 63 bytes: no resolver can answer it, and none is asked. */
#define UNRESOLVABLE	LONG_LABEL ".invalid"
/* What /metrics serves: a small exposition page. */
#define METRICS_PAGE \
	"# HELP http_requests_total Requests served.\n" \
	"# TYPE http_requests_total counter\n" \
	"http_requests_total{code=\"200\",path=\"/\"} 1027\n" \
	"http_requests_total{code=\"500\",path=\"/\"} 3\n" \
	"# TYPE latency_seconds histogram\n" \
	"latency_seconds_bucket{le=\"0.1\"} 900\n" \
	"latency_seconds_bucket{le=\"+Inf\"} 1030\n" \
	"latency_seconds_sum 53.2\n" \
	"latency_seconds_count 1030 1700000000000\n"
#define METRICS_LEN	(sizeof(METRICS_PAGE) - 1)
#define CHUNK_SIZE	(64 * 1024)	/* of /big-chunked */
#define AUTH_MAX	128

/* A request answered later (/slow) or only at teardown (/hang). */
struct pending {
	struct evhttp_request *req;
	struct event *timer;		/* armed for /slow */
	bool used;
	bool gate;			/* /gate: answered by gate_open() */
};

struct server {
	struct evhttp *http;
	struct evconnlistener *closer;	/* accepts, then sends EOF */
	int port, closer_port, refused_port, refused_fd;
	int closed_fds[CLOSED_MAX];
	size_t n_closed_fds;
	struct pending pending[PENDING_MAX];
	unsigned hung, slow, slow_now, slow_max, gated;
	struct evhttp_connection *live[LIVE_MAX];
	size_t n_live;
	unsigned accepted;		/* HTTP connections seen */
	unsigned requests;		/* requests seen */
	unsigned auth_n;		/* of which with an Authorization header */
	bool auth_last_had;		/* the last request's Authorization */
	char auth_last[AUTH_MAX];
	char *big;
	char needle[NEEDLE_LEN + 1];
};

static struct event_base *base;
static struct server srv;
static struct rbd_prober *prober;
static struct event *wake;

/* Monotonic usec, as the prober counts. */
static uint64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* Send a reply with an optional body. */
static void reply(struct evhttp_request *req, int code, const char *reason,
    const char *body)
{
	struct evbuffer *b = evbuffer_new();

	ck_assert_ptr_nonnull(b);
	if (body)
		evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

/* A tracked connection went away. */
static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	size_t i;

	(void)arg;
	for (i = 0; i < srv.n_live; i++)
		if (srv.live[i] == evcon) {
			srv.live[i] = srv.live[--srv.n_live];
			return;
		}
}

/* Count the connection of req if it is new. */
static void conn_track(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	size_t i;

	for (i = 0; i < srv.n_live; i++)
		if (srv.live[i] == evcon)
			return;
	srv.accepted++;
	if (srv.n_live < LIVE_MAX) {
		srv.live[srv.n_live++] = evcon;
		evhttp_connection_set_closecb(evcon, conn_closed, NULL);
	}
}

/* A free slot for a request answered later, or NULL. */
static struct pending *pending_get(struct evhttp_request *req)
{
	size_t i;

	for (i = 0; i < PENDING_MAX; i++)
		if (!srv.pending[i].used) {
			srv.pending[i].used = true;
			srv.pending[i].req = req;
			return &srv.pending[i];
		}
	return NULL;
}

/* evhttp gave up on req (and calls us again for a last reply). */
static void pending_forget(struct evhttp_request *req)
{
	size_t i;

	for (i = 0; i < PENDING_MAX; i++)
		if (srv.pending[i].used && srv.pending[i].req == req) {
			evtimer_del(srv.pending[i].timer);
			srv.pending[i].used = false;
			if (srv.slow_now > 0)
				srv.slow_now--;
		}
}

/* /slow: answer 300ms after the request. */
static void slow_fire(evutil_socket_t fd, short kind, void *arg)
{
	struct pending *pd = arg;

	(void)fd;
	(void)kind;
	pd->used = false;
	srv.slow_now--;
	reply(pd->req, 200, "OK", "ok");
}

/* /slow and /hang: keep the request. */
static void hold(struct evhttp_request *req, bool answer)
{
	struct pending *pd = pending_get(req);
	struct timeval tv = { 0, SLOW_USEC };

	if (!pd) {
		reply(req, 503, "Busy", NULL);
		return;
	}
	if (!answer) {
		srv.hung++;
		return;
	}
	srv.slow++;
	if (++srv.slow_now > srv.slow_max)
		srv.slow_max = srv.slow_now;
	evtimer_add(pd->timer, &tv);
}

/* /gate: keep the request until gate_open(). */
static void gate(struct evhttp_request *req)
{
	struct pending *pd = pending_get(req);

	if (!pd) {
		reply(req, 503, "Busy", NULL);
		return;
	}
	pd->gate = true;
	srv.gated++;
}

/* Answer every /gate request at once. */
static void gate_open(void)
{
	size_t i;

	for (i = 0; i < PENDING_MAX; i++)
		if (srv.pending[i].used && srv.pending[i].gate) {
			srv.pending[i].used = false;
			srv.pending[i].gate = false;
			reply(srv.pending[i].req, 200, "OK", "gated");
		}
}

/* /big: 1 MiB, the needle inside the cap and BEYOND past it. */
static void big(struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();

	ck_assert_ptr_nonnull(b);
	evbuffer_add_reference(b, srv.big, BIG_SIZE, NULL, NULL);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* The same bytes in chunked encoding (no Content-Length), in pieces of at
 * most chunk bytes. */
static void chunked(struct evhttp_request *req, const char *body, size_t len,
    size_t chunk)
{
	size_t at, n;

	evhttp_send_reply_start(req, 200, "OK");
	for (at = 0; at < len; at += n) {
		struct evbuffer *b = evbuffer_new();

		ck_assert_ptr_nonnull(b);
		n = len - at < chunk ? len - at : chunk;
		evbuffer_add_reference(b, body + at, n, NULL, NULL);
		evhttp_send_reply_chunk(req, b);
		evbuffer_free(b);
	}
	evhttp_send_reply_end(req);
}

/* Note what Authorization header the request came with. */
static void auth_record(struct evhttp_request *req)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");

	srv.requests++;
	srv.auth_last_had = v != NULL;
	srv.auth_n += v != NULL;
	snprintf(srv.auth_last, sizeof(srv.auth_last), "%s", v ? v : "");
}

/* Every request of the test server. */
static void serve(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

	(void)arg;
	if (!path) {
		pending_forget(req);
		reply(req, 400, "Bad Request", NULL);
		return;
	}
	conn_track(req);
	auth_record(req);
	if (!strcmp(path, "/ok"))
		reply(req, 200, "OK", "ok");
	else if (!strcmp(path, "/500"))
		reply(req, 500, "Internal Server Error", "oops");
	else if (!strcmp(path, "/body-wrong"))
		reply(req, 200, "OK", "nope");
	else if (!strcmp(path, "/redirect")) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Location", "/ok");
		reply(req, 302, "Found", NULL);
	} else if (!strcmp(path, "/redirect-file")) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Location", "file:///etc/passwd");
		reply(req, 302, "Found", NULL);
	} else if (!strcmp(path, "/big"))
		big(req);
	else if (!strcmp(path, "/big-chunked"))
		chunked(req, srv.big, BIG_SIZE, CHUNK_SIZE);
	else if (!strcmp(path, "/metrics"))
		reply(req, 200, "OK", METRICS_PAGE);
	else if (!strcmp(path, "/metrics-chunked"))
		chunked(req, METRICS_PAGE, METRICS_LEN, METRICS_LEN / 3);
	else if (!strcmp(path, "/slow"))
		hold(req, true);
	else if (!strcmp(path, "/hang"))
		hold(req, false);
	else if (!strcmp(path, "/gate"))
		gate(req);
	else
		reply(req, 404, "Not Found", NULL);
}

/* The port a bound socket got. */
static int bound_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

/* The closer: accept, then half-close, so the client reads EOF. */
static void closer_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	(void)l;
	(void)sa;
	(void)socklen;
	(void)arg;
	shutdown(fd, SHUT_WR);
	if (srv.n_closed_fds < CLOSED_MAX)
		srv.closed_fds[srv.n_closed_fds++] = fd;
	else
		close(fd);
}

/* The closer listener and a bound port nobody listens on. */
static void extra_ports(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.closer = evconnlistener_new_bind(base, closer_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof(sin));
	ck_assert_ptr_nonnull(srv.closer);
	srv.closer_port = bound_port(evconnlistener_get_fd(srv.closer));
	/* Bound but not listening: connecting to it is refused. */
	srv.refused_fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(srv.refused_fd, 0);
	ck_assert_int_eq(bind(srv.refused_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	srv.refused_port = bound_port(srv.refused_fd);
}

/* The big body and the needle hidden in it. */
static void big_body(void)
{
	size_t i;

	srv.big = malloc(BIG_SIZE);
	ck_assert_ptr_nonnull(srv.big);
	memset(srv.big, 'x', BIG_SIZE);
	for (i = 0; i < NEEDLE_LEN; i++)
		srv.needle[i] = (char)('a' + i % 23);
	srv.needle[NEEDLE_LEN] = '\0';
	memcpy(srv.big + NEEDLE_AT, srv.needle, NEEDLE_LEN);
	memcpy(srv.big + BEYOND_AT, BEYOND, strlen(BEYOND));
}

/* Start the server on base. */
static void server_start(void)
{
	struct evhttp_bound_socket *bs;
	size_t i;

	memset(&srv, 0, sizeof(srv));
	srv.http = evhttp_new(base);
	ck_assert_ptr_nonnull(srv.http);
	evhttp_set_gencb(srv.http, serve, NULL);
	bs = evhttp_bind_socket_with_handle(srv.http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	srv.port = bound_port(evhttp_bound_socket_get_fd(bs));
	for (i = 0; i < PENDING_MAX; i++) {
		srv.pending[i].timer = evtimer_new(base, slow_fire, &srv.pending[i]);
		ck_assert_ptr_nonnull(srv.pending[i].timer);
	}
	extra_ports();
	big_body();
}

/* Answer what is held (evhttp frees those requests), then stop. */
static void server_stop(void)
{
	size_t i;

	for (i = 0; i < PENDING_MAX; i++) {
		if (srv.pending[i].used)
			reply(srv.pending[i].req, 503, "Stopping", NULL);
		event_free(srv.pending[i].timer);
	}
	evhttp_free(srv.http);
	evconnlistener_free(srv.closer);
	for (i = 0; i < srv.n_closed_fds; i++)
		close(srv.closed_fds[i]);
	close(srv.refused_fd);
	free(srv.big);
}

/* Wakes the loop now and then, so that every wait meets its deadline. */
static void wake_cb(evutil_socket_t fd, short kind, void *arg)
{
	(void)fd;
	(void)kind;
	(void)arg;
}

/* A loop, the test server and a prober on it. */
static void setup(void)
{
	struct timeval tv = { 0, 50 * MSEC };

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	server_start();
	prober = rbd_prober_new(base);
	ck_assert_ptr_nonnull(prober);
	wake = event_new(base, -1, EV_PERSIST, wake_cb, NULL);
	ck_assert_ptr_nonnull(wake);
	event_add(wake, &tv);
}

/* The prober first, so the server sees its connections go. */
static void teardown(void)
{
	rbd_prober_free(prober);
	prober = NULL;
	server_stop();
	event_free(wake);
	event_base_free(base);
	base = NULL;
}

/* Run the loop until done(arg) or timeout; false on timeout. */
static bool run_until(bool (*done)(const void *), const void *arg,
    uint64_t timeout)
{
	uint64_t deadline = mono() + timeout;

	while (!done(arg)) {
		if (mono() >= deadline)
			return false;
		event_base_loop(base, EVLOOP_ONCE);
	}
	return true;
}

/* A URL on 127.0.0.1 (a small ring of buffers: several live at once). */
static const char *url(const char *scheme, int port, const char *path)
{
	static char ring[8][128];
	static unsigned next;
	char *buf = ring[next++ % 8];

	snprintf(buf, sizeof(ring[0]), "%s://127.0.0.1:%d%s", scheme, port, path);
	return buf;
}

/* ---- one probe's samples ---- */

struct sample {
	enum rbd_sample_result result;
	char detail[RBD_DETAIL_MAX];
	uint64_t planned, started, latency;
	long status;
	bool has_body;
	size_t body_len;
};

struct sink {
	struct rbd_probe *probe;
	struct sample s[SAMPLES_MAX];
	size_t n, ok, fail, unknown;
	size_t done;			/* samples that are not skips */
	size_t remove_self_at;		/* remove own probe at this count; 0: never */
	bool remove_on_unknown;
	bool remove_when_judged;	/* at the first ok or failed sample */
	bool remove_when_done;		/* at the first sample not a skip */
	bool fetch;			/* the probe is in fetch mode */
	char *body;			/* a copy of the last body delivered */
	size_t body_len;
	struct rbd_probe **victim;	/* removed at the first sample */
	size_t want;			/* for the wait predicates */
	uint64_t stall;			/* block the loop this long at the
					 * first ok sample; 0: never */
	size_t stalled_n;		/* samples when it did */
	unsigned requests_at_stall;	/* srv.requests then */
};

/* What every sample promises about its body, in either mode. */
static void body_promise(const struct sink *k, const struct rbd_probe_result *r)
{
	if (!k->fetch || r->result != RBD_SAMPLE_OK) {
		ck_assert_ptr_null(r->body);
		ck_assert_uint_eq(r->body_len, 0);
		return;
	}
	ck_assert_ptr_nonnull(r->body);
	ck_assert_msg(r->body[r->body_len] == '\0', "body not NUL-terminated");
	ck_assert_int_ne(r->result, RBD_SAMPLE_FAIL);
}

/* Keep a copy of the body, valid only during the callback. */
static void body_keep(struct sink *k, const struct rbd_probe_result *r)
{
	free(k->body);
	k->body = malloc(r->body_len + 1);
	ck_assert_ptr_nonnull(k->body);
	memcpy(k->body, r->body, r->body_len + 1);
	k->body_len = r->body_len;
}

/* Keep the loop from turning for usec, as a callback doing too much work
 * (or a stopped process) would: every timer due meanwhile fires late. */
static void block_loop(uint64_t usec)
{
	uint64_t until = mono() + usec, now;

	while ((now = mono()) < until) {
		uint64_t left = until - now;
		struct timespec ts = {
			.tv_sec = (time_t)(left / SEC),
			.tv_nsec = (long)(left % SEC) * 1000,
		};

		nanosleep(&ts, NULL);
	}
}

/* The probe callback of a sink. */
static void sink_cb(void *arg, const struct rbd_probe_result *r)
{
	struct sink *k = arg;
	struct sample *s = &k->s[k->n < SAMPLES_MAX ? k->n : SAMPLES_MAX - 1];

	ck_assert_ptr_nonnull(k->probe);
	body_promise(k, r);
	s->result = r->result;
	snprintf(s->detail, sizeof(s->detail), "%s", r->detail);
	s->planned = r->planned;
	s->started = r->started;
	s->latency = r->latency;
	s->status = r->status;
	s->has_body = r->body != NULL;
	s->body_len = r->body_len;
	if (r->body)
		body_keep(k, r);
	k->n++;
	k->ok += r->result == RBD_SAMPLE_OK;
	k->fail += r->result == RBD_SAMPLE_FAIL;
	k->unknown += r->result == RBD_SAMPLE_UNKNOWN;
	k->done += strcmp(r->detail, SKIPPED) != 0;
	if (k->stall && r->result == RBD_SAMPLE_OK) {
		k->stalled_n = k->n;
		k->requests_at_stall = srv.requests;
		block_loop(k->stall);
		k->stall = 0;
	}
	if (k->victim && *k->victim) {
		rbd_probe_remove(*k->victim);
		*k->victim = NULL;
	}
	if ((k->remove_self_at && k->n == k->remove_self_at) ||
	    (k->remove_on_unknown && r->result == RBD_SAMPLE_UNKNOWN) ||
	    (k->remove_when_judged && r->result != RBD_SAMPLE_UNKNOWN) ||
	    (k->remove_when_done && strcmp(r->detail, SKIPPED) != 0)) {
		rbd_probe_remove(k->probe);
		k->probe = NULL;
	}
}

/* Register a probe whose samples go to k. */
static void add(struct sink *k, const char *u, uint64_t interval,
    uint64_t timeout, const int *status, size_t n_status, const char *body)
{
	struct rbd_http_probe cfg = {
		.url = (char *)u,
		.timeout_usec = timeout,
		.expect_status = (int *)status,
		.n_expect_status = n_status,
		.expect_body = (char *)body,
	};

	ck_assert_int_eq(rbd_prober_add(prober, &cfg, interval, sink_cb, k,
	    &k->probe), 0);
	ck_assert_ptr_nonnull(k->probe);
}

/* Register a fetch whose samples go to k. */
static void add_fetch(struct sink *k, const char *u, uint64_t interval,
    uint64_t timeout, size_t body_max)
{
	k->fetch = true;
	ck_assert_int_eq(rbd_prober_add_fetch(prober, u, timeout, interval,
	    body_max, sink_cb, k, &k->probe), 0);
	ck_assert_ptr_nonnull(k->probe);
}

/* Wait predicate: at least want samples? */
static bool has_n(const void *arg)
{
	const struct sink *k = arg;

	return k->n >= k->want;
}

/* At least want ok samples? */
static bool has_ok(const void *arg)
{
	const struct sink *k = arg;

	return k->ok >= k->want;
}

/* At least want failed samples? */
static bool has_fail(const void *arg)
{
	const struct sink *k = arg;

	return k->fail >= k->want;
}

/* At least want samples that are ok or failed? */
static bool has_judged(const void *arg)
{
	const struct sink *k = arg;

	return k->ok + k->fail >= k->want;
}

/* Does the server hold at least *arg hanging requests? */
static bool has_hung(const void *arg)
{
	return srv.hung >= *(const unsigned *)arg;
}

/* At least want samples that are not skips? */
static bool has_done(const void *arg)
{
	const struct sink *k = arg;

	return k->done >= k->want;
}

/* Wait for k to have n samples that are not skips. */
static void wait_done(struct sink *k, size_t n)
{
	k->want = n;
	ck_assert_msg(run_until(has_done, k, WAIT), "%zu of %zu samples", k->done, n);
}

/* Wait for k to have n samples. */
static void wait_n(struct sink *k, size_t n)
{
	k->want = n;
	ck_assert_msg(run_until(has_n, k, WAIT), "%zu of %zu samples", k->n, n);
}

/* Wait until the server holds n hanging requests. */
static void wait_hung(unsigned n)
{
	ck_assert_msg(run_until(has_hung, &n, WAIT), "%u of %u hung", srv.hung, n);
}

/* A zeroed sink (large: on the heap). */
static struct sink *sink_new(void)
{
	struct sink *k = calloc(1, sizeof(*k));

	ck_assert_ptr_nonnull(k);
	return k;
}

/* A sink and the body it kept. */
static void sink_free(struct sink *k)
{
	free(k->body);
	free(k);
}

/* The prober's counters now. */
static struct rbd_prober_stats stats(void)
{
	struct rbd_prober_stats st;

	rbd_prober_stats(prober, &st);
	return st;
}

/* ---- every detail a person will read ---- */

enum target { SRV, REFUSED, CLOSER, NOHOST, TLS };

static const int st_200[] = { 200 };
static const int st_200_204[] = { 200, 204 };

static const struct {
	enum target target;
	const char *path;
	const int *status;
	size_t n_status;
	const char *body;		/* "@needle": the one hidden in /big */
	uint64_t timeout;
	enum rbd_sample_result result;
	long code;
	const char *detail;
	bool prefix;			/* detail is a prefix only */
} details[] = {
	{ SRV, "/ok", NULL, 0, NULL, SEC, RBD_SAMPLE_OK, 200, "HTTP 200", false },
	{ SRV, "/ok", st_200, 1, "ok", SEC, RBD_SAMPLE_OK, 200, "HTTP 200", false },
	{ SRV, "/500", NULL, 0, NULL, SEC, RBD_SAMPLE_FAIL, 500,
	    "HTTP 500 (expected 200)", false },
	{ SRV, "/500", st_200_204, 2, NULL, SEC, RBD_SAMPLE_FAIL, 500,
	    "HTTP 500 (expected 200, 204)", false },
	{ SRV, "/body-wrong", NULL, 0, "ok", SEC, RBD_SAMPLE_FAIL, 200,
	    "body does not contain 'ok'", false },
	{ SRV, "/redirect", NULL, 0, NULL, SEC, RBD_SAMPLE_FAIL, 302,
	    "HTTP 302 (expected 200)", false },
	/* Never followed, to another scheme least of all. */
	{ SRV, "/redirect-file", NULL, 0, NULL, SEC, RBD_SAMPLE_FAIL, 302,
	    "HTTP 302 (expected 200)", false },
	{ SRV, "/big", NULL, 0, NULL, SEC, RBD_SAMPLE_OK, 200, "HTTP 200", false },
	{ SRV, "/big", NULL, 0, "@needle", SEC, RBD_SAMPLE_OK, 200, "HTTP 200", false },
	{ SRV, "/big", NULL, 0, BEYOND, SEC, RBD_SAMPLE_FAIL, 200,
	    "body does not contain '" BEYOND "'", false },
	{ SRV, "/hang", NULL, 0, NULL, 200 * MSEC, RBD_SAMPLE_FAIL, 0,
	    "timed out after 200ms", false },
	{ SRV, "/hang", NULL, 0, NULL, 2 * SEC + 500 * MSEC, RBD_SAMPLE_FAIL, 0,
	    "timed out after 2s500ms", false },
	{ REFUSED, "/ok", NULL, 0, NULL, SEC, RBD_SAMPLE_FAIL, 0,
	    "connection refused", false },
	{ CLOSER, "/ok", NULL, 0, NULL, SEC, RBD_SAMPLE_FAIL, 0,
	    "Server returned nothing (no headers, no data)", false },
	{ NOHOST, "/ok", NULL, 0, NULL, SEC, RBD_SAMPLE_FAIL, 0,
	    "could not resolve host '" UNRESOLVABLE "'", false },
	{ TLS, "/ok", NULL, 0, NULL, SEC, RBD_SAMPLE_FAIL, 0, "TLS error: ", true },
};

/* The URL a detail case probes. */
static const char *detail_url(enum target t, const char *path)
{
	switch (t) {
	case SRV:
		return url("http", srv.port, path);
	case REFUSED:
		return url("http", srv.refused_port, path);
	case CLOSER:
		return url("http", srv.closer_port, path);
	case NOHOST:
		return "http://" UNRESOLVABLE "/ok";
	case TLS:
		return url("https", srv.port, path);
	}
	return NULL;
}

START_TEST(test_details)
{
	struct sink *k = sink_new();
	const char *body = details[_i].body;
	uint64_t t0 = mono();
	const struct sample *s;
	size_t i;

	if (body && !strcmp(body, "@needle"))
		body = srv.needle;
	k->remove_when_judged = true;
	add(k, detail_url(details[_i].target, details[_i].path), 300 * MSEC,
	    details[_i].timeout, details[_i].status, details[_i].n_status, body);
	k->want = 1;
	ck_assert(run_until(has_judged, k, WAIT));
	/* A timeout longer than the interval: the ticks meanwhile are skips. */
	for (i = 0; i + 1 < k->n; i++)
		ck_assert_str_eq(k->s[i].detail, SKIPPED);
	s = &k->s[k->n - 1];
	if (details[_i].prefix)
		ck_assert_msg(!strncmp(s->detail, details[_i].detail,
		    strlen(details[_i].detail)), "got '%s'", s->detail);
	else
		ck_assert_str_eq(s->detail, details[_i].detail);
	ck_assert_int_eq(s->result, details[_i].result);
	ck_assert_int_eq(s->status, details[_i].code);
	/* Times: on the schedule's clock, within the first interval. */
	ck_assert_uint_ge(s->planned, t0);
	ck_assert_uint_lt(s->planned, t0 + 300 * MSEC + 50 * MSEC);
	ck_assert_uint_ge(s->started + 5 * MSEC, s->planned);
	if (details[_i].timeout < SEC && s->result == RBD_SAMPLE_FAIL)
		ck_assert_uint_ge(s->latency, details[_i].timeout - 10 * MSEC);
	ck_assert_uint_eq(stats().probes, 0);
	ck_assert_uint_eq(stats().in_flight, 0);
	free(k);
}
END_TEST

/* ---- one hanging endpoint never delays the others ---- */

START_TEST(test_hang_isolation)
{
	struct sink *hang = sink_new(), *ok = sink_new();
	const struct sample *h;
	size_t i, during = 0;

	add(hang, url("http", srv.port, "/hang"), 300 * MSEC, 200 * MSEC, NULL, 0, NULL);
	add(ok, url("http", srv.port, "/ok"), 50 * MSEC, SEC, NULL, 0, NULL);
	hang->want = 3;
	ck_assert(run_until(has_fail, hang, WAIT));
	for (i = 0; i < hang->n; i++)
		ck_assert_msg(!strcmp(hang->s[i].detail, "timed out after 200ms") ||
		    !strcmp(hang->s[i].detail, SKIPPED), "%s", hang->s[i].detail);
	/* Three timeouts take at least 800ms: a sequential prober would have
	 * managed about four /ok samples meanwhile; 50ms apart makes 16. */
	ck_assert_uint_ge(ok->n, 8);
	ck_assert_uint_eq(ok->ok, ok->n);
	/* And while the first hanging request was out, /ok kept going. */
	h = &hang->s[0];
	for (i = 0; i < ok->n && i < SAMPLES_MAX; i++)
		if (ok->s[i].started > h->started &&
		    ok->s[i].started < h->started + h->latency)
			during++;
	ck_assert_uint_ge(during, 2);
	free(hang);
	free(ok);
}
END_TEST

/* ---- a probe still running is not doubled up ---- */

START_TEST(test_skip_not_double)
{
	struct sink *k = sink_new();
	size_t i;

	add(k, url("http", srv.port, "/slow"), 100 * MSEC, 2 * SEC, NULL, 0, NULL);
	k->want = 2;
	ck_assert(run_until(has_ok, k, WAIT));
	ck_assert_uint_ge(k->unknown, 2);
	ck_assert_uint_eq(k->fail, 0);
	for (i = 0; i < k->n; i++) {
		if (k->s[i].result == RBD_SAMPLE_UNKNOWN) {
			ck_assert_str_eq(k->s[i].detail, SKIPPED);
			ck_assert_int_eq(k->s[i].status, 0);
		} else {
			ck_assert_str_eq(k->s[i].detail, "HTTP 200");
			ck_assert_uint_ge(k->s[i].latency, SLOW_USEC - 10 * MSEC);
		}
	}
	/* Never two requests of one probe at the server at once. */
	ck_assert_uint_eq(srv.slow_max, 1);
	ck_assert_uint_le(srv.slow, k->ok + 1);
	ck_assert_uint_eq(stats().skipped, k->unknown);
	free(k);
}
END_TEST

/* ---- connections are reused ---- */

START_TEST(test_keepalive)
{
	struct sink *k = sink_new(), *capped = sink_new();
	struct rbd_prober_stats st;
	unsigned before;

	add(k, url("http", srv.port, "/ok"), 20 * MSEC, SEC, NULL, 0, NULL);
	wait_n(k, 30);
	ck_assert_uint_eq(k->ok, k->n);
	st = stats();
	ck_assert_uint_le(srv.accepted, 2);
	ck_assert_uint_ge(st.connects, 1);
	ck_assert_uint_le(st.connects, 2);
	rbd_probe_remove(k->probe);
	/* The counters do count: a capped body cannot leave its connection
	 * reusable, so every /big sample opens a new one. */
	before = srv.accepted;
	add(capped, url("http", srv.port, "/big"), 50 * MSEC, SEC, NULL, 0, NULL);
	wait_n(capped, 4);
	ck_assert_uint_ge(srv.accepted - before, 3);
	ck_assert_uint_ge(stats().connects - st.connects, 3);
	free(k);
	free(capped);
}
END_TEST

/* ---- thousands of probes are spread over their interval ---- */

#define SPREAD_N	1000
#define SPREAD_BUCKETS	20

struct once {
	struct rbd_probe *probe;
	uint64_t t_add, planned;
	unsigned n;
	bool ok;
};

static struct once *onces;
static size_t onces_done;

/* One sample per probe, then it removes itself. */
static void once_cb(void *arg, const struct rbd_probe_result *r)
{
	struct once *o = arg;

	if (o->n++ == 0) {
		o->planned = r->planned;
		o->ok = r->result == RBD_SAMPLE_OK;
		onces_done++;
	}
	rbd_probe_remove(o->probe);
}

/* Have *arg one-shot probes reported? */
static bool onces_all(const void *arg)
{
	return onces_done >= *(const size_t *)arg;
}

/* Add n one-shot probes of path at interval. */
static void add_onces(size_t n, const char *path, uint64_t interval)
{
	struct rbd_http_probe cfg = { .url = (char *)url("http", srv.port, path),
	    .timeout_usec = SEC };
	size_t i;

	onces = calloc(n, sizeof(*onces));
	ck_assert_ptr_nonnull(onces);
	onces_done = 0;
	for (i = 0; i < n; i++) {
		onces[i].t_add = mono();
		ck_assert_int_eq(rbd_prober_add(prober, &cfg, interval, once_cb,
		    &onces[i], &onces[i].probe), 0);
	}
}

/* 1000 requests a second: a fifth of what one sanitized thread serving
 * both ends can take, so that requests stay quick on a loaded machine. */
START_TEST(test_spread)
{
	const uint64_t interval = SEC, width = interval / SPREAD_BUCKETS;
	size_t i, n = SPREAD_N, bucket[SPREAD_BUCKETS] = { 0 };

	add_onces(n, "/ok", interval);
	ck_assert_msg(run_until(onces_all, &n, WAIT), "%zu of %zu", onces_done, n);
	for (i = 0; i < n; i++) {
		uint64_t off = onces[i].planned - onces[i].t_add;

		ck_assert_uint_eq(onces[i].n, 1);
		ck_assert(onces[i].ok);
		ck_assert_uint_ge(onces[i].planned, onces[i].t_add);
		ck_assert_uint_lt(off, interval + 5 * MSEC);
		bucket[off / width < SPREAD_BUCKETS ? off / width : SPREAD_BUCKETS - 1]++;
	}
	/* 50 per 50ms slot when even; a burst would fill a few slots. */
	for (i = 0; i < SPREAD_BUCKETS; i++)
		ck_assert_msg(bucket[i] >= 35 && bucket[i] <= 65,
		    "slot %zu holds %zu first ticks", i, bucket[i]);
	ck_assert_uint_eq(stats().probes, 0);
	free(onces);
}
END_TEST

/* ---- the pool stays small ---- */

#define POOL_N		400

struct counter {
	struct rbd_probe *probe;
	unsigned n, ok;
};

static struct counter *counters;
static size_t counters_n;

/* Count samples and the ok ones. */
static void counter_cb(void *arg, const struct rbd_probe_result *r)
{
	struct counter *c = arg;

	c->n++;
	c->ok += r->result == RBD_SAMPLE_OK;
}

/* Has every counter at least want samples? */
static bool counters_all(const void *arg)
{
	size_t i;

	for (i = 0; i < counters_n; i++)
		if (counters[i].n < *(const unsigned *)arg)
			return false;
	return true;
}

START_TEST(test_pool_small)
{
	struct rbd_http_probe cfg = { .url = (char *)url("http", srv.port, "/ok"),
	    .timeout_usec = SEC };
	struct rbd_prober_stats st;
	unsigned want = 2;
	uint64_t total = 0;
	size_t i;

	counters_n = POOL_N;
	counters = calloc(counters_n, sizeof(*counters));
	ck_assert_ptr_nonnull(counters);
	for (i = 0; i < counters_n; i++)
		ck_assert_int_eq(rbd_prober_add(prober, &cfg, 400 * MSEC,
		    counter_cb, &counters[i], &counters[i].probe), 0);
	ck_assert(run_until(counters_all, &want, WAIT));
	for (i = 0; i < counters_n; i++) {
		ck_assert_uint_eq(counters[i].ok, counters[i].n);
		total += counters[i].n;
	}
	st = stats();
	ck_assert_uint_eq(st.probes, POOL_N);
	ck_assert_uint_ge(st.samples, total);
	ck_assert_uint_ge(st.handles, 1);
	ck_assert_msg(st.handles <= POOL_N / 4, "%llu handles for %d probes",
	    (unsigned long long)st.handles, POOL_N);
	/* Connections too: shared, not one per probe. */
	ck_assert_msg(srv.accepted <= POOL_N / 4, "%u connections", srv.accepted);
	free(counters);
}
END_TEST

/* ---- removal from inside callbacks ---- */

START_TEST(test_remove_self)
{
	struct sink *a = sink_new(), *b = sink_new();

	a->remove_self_at = 1;
	add(a, url("http", srv.port, "/ok"), 30 * MSEC, SEC, NULL, 0, NULL);
	add(b, url("http", srv.port, "/ok"), 30 * MSEC, SEC, NULL, 0, NULL);
	wait_n(b, 10);
	ck_assert_uint_eq(a->n, 1);
	ck_assert_uint_eq(stats().probes, 1);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_remove_other_in_flight)
{
	struct sink *victim = sink_new(), *killer = sink_new();
	struct rbd_probe *v;

	/* Its next tick (a skip) is a second away: the killer is much sooner. */
	add(victim, url("http", srv.port, "/hang"), SEC, 10 * SEC, NULL, 0, NULL);
	wait_hung(1);
	ck_assert_uint_eq(stats().in_flight, 1);
	v = victim->probe;
	killer->victim = &v;
	add(killer, url("http", srv.port, "/ok"), 50 * MSEC, SEC, NULL, 0, NULL);
	wait_n(killer, 3);
	ck_assert_ptr_null(v);
	ck_assert_uint_eq(victim->n, 0);
	ck_assert_uint_eq(stats().probes, 1);
	rbd_probe_remove(killer->probe);
	ck_assert_uint_eq(stats().in_flight, 0);
	ck_assert_uint_eq(stats().probes, 0);
	free(victim);
	free(killer);
}
END_TEST

#define GROUP_N 20

struct group {
	struct rbd_probe *probes[GROUP_N];
	unsigned calls;
};

/* The first sample of any member removes every member, itself included. */
static void group_cb(void *arg, const struct rbd_probe_result *r)
{
	struct group *g = arg;
	size_t i;

	(void)r;
	if (g->calls++ > 0)
		return;
	for (i = 0; i < GROUP_N; i++)
		rbd_probe_remove(g->probes[i]);
}

/* Has any member of the group reported? */
static bool group_called(const void *arg)
{
	return ((const struct group *)arg)->calls > 0;
}

START_TEST(test_remove_all_from_callback)
{
	struct rbd_http_probe cfg = { .url = (char *)url("http", srv.port, "/slow"),
	    .timeout_usec = 5 * SEC };
	struct group g = { .calls = 0 };
	struct sink *control = sink_new();
	size_t i;

	for (i = 0; i < GROUP_N; i++)
		ck_assert_int_eq(rbd_prober_add(prober, &cfg, SEC, group_cb, &g,
		    &g.probes[i]), 0);
	ck_assert(run_until(group_called, &g, WAIT));
	ck_assert_uint_eq(stats().probes, 0);
	ck_assert_uint_eq(stats().in_flight, 0);
	add(control, url("http", srv.port, "/ok"), 30 * MSEC, SEC, NULL, 0, NULL);
	wait_n(control, 10);
	ck_assert_uint_eq(g.calls, 1);
	free(control);
}
END_TEST

START_TEST(test_remove_from_skip)
{
	struct sink *s = sink_new(), *control = sink_new();

	s->remove_on_unknown = true;
	add(s, url("http", srv.port, "/slow"), 50 * MSEC, 2 * SEC, NULL, 0, NULL);
	wait_n(s, 1);
	ck_assert_int_eq(s->s[0].result, RBD_SAMPLE_UNKNOWN);
	ck_assert_str_eq(s->s[0].detail, SKIPPED);
	ck_assert_uint_eq(stats().in_flight, 0);
	add(control, url("http", srv.port, "/ok"), 30 * MSEC, SEC, NULL, 0, NULL);
	wait_n(control, 10);
	/* The abandoned /slow request never came back as a sample. */
	ck_assert_uint_eq(s->n, 1);
	ck_assert_uint_eq(srv.slow, 1);
	free(s);
	free(control);
}
END_TEST

START_TEST(test_remove_outside_in_flight)
{
	struct sink *v = sink_new(), *c = sink_new();

	add(v, url("http", srv.port, "/hang"), SEC, 10 * SEC, NULL, 0, NULL);
	wait_hung(1);
	rbd_probe_remove(v->probe);
	rbd_probe_remove(NULL);
	ck_assert_uint_eq(stats().in_flight, 0);
	ck_assert_uint_eq(stats().probes, 0);
	add(c, url("http", srv.port, "/ok"), 30 * MSEC, SEC, NULL, 0, NULL);
	wait_n(c, 3);
	ck_assert_uint_eq(v->n, 0);
	free(v);
	free(c);
}
END_TEST

START_TEST(test_free_in_flight)
{
	struct sink *v = sink_new();

	add(v, url("http", srv.port, "/hang"), SEC, 10 * SEC, NULL, 0, NULL);
	wait_hung(1);
	/* Freed with a request out and a handle in the multi: no callback,
	 * nothing leaked (the sanitizer build checks). */
	rbd_prober_free(prober);
	prober = NULL;
	ck_assert_uint_eq(v->n, 0);
	free(v);
}
END_TEST

/* ---- counters ---- */

START_TEST(test_stats)
{
	struct sink *fast = sink_new(), *slow = sink_new();
	struct rbd_prober_stats st = stats();

	ck_assert_uint_eq(st.probes, 0);
	ck_assert_uint_eq(st.samples, 0);
	ck_assert_uint_eq(st.skipped, 0);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_uint_eq(st.handles, 0);
	add(fast, url("http", srv.port, "/ok"), 50 * MSEC, SEC, NULL, 0, NULL);
	add(slow, url("http", srv.port, "/slow"), 100 * MSEC, 2 * SEC, NULL, 0, NULL);
	ck_assert_uint_eq(stats().probes, 2);
	slow->want = 2;
	ck_assert(run_until(has_ok, slow, WAIT));
	wait_n(fast, 5);
	st = stats();
	ck_assert_uint_eq(st.probes, 2);
	ck_assert_uint_eq(st.samples, fast->ok + fast->fail + slow->ok + slow->fail);
	/* Every unknown sample is a skipped or a late tick. */
	ck_assert_uint_eq(st.skipped + st.late, fast->unknown + slow->unknown);
	ck_assert_uint_ge(st.skipped, 1);
	/* 1 / 50ms + 1 / 100ms */
	ck_assert_double_eq(st.intended_per_sec, 30.0);
	ck_assert_uint_ge(st.lateness.n, st.samples);
	ck_assert_uint_le(st.in_flight, 2);
	ck_assert_uint_ge(st.handles, st.in_flight);
	ck_assert_uint_ge(st.handles, 1);
	ck_assert_uint_ge(st.connects, 2);
	/* HTTP checks keep no body: no buffer is ever allocated for one. */
	ck_assert_uint_eq(st.body_grows, 0);
	rbd_probe_remove(fast->probe);
	rbd_probe_remove(slow->probe);
	st = stats();
	ck_assert_uint_eq(st.probes, 0);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_double_eq(st.intended_per_sec, 0.0);
	free(fast);
	free(slow);
}
END_TEST

/* ---- what rbd_prober_add refuses ---- */

static void cb_never(void *arg, const struct rbd_probe_result *r)
{
	(void)arg;
	(void)r;
	ck_abort_msg("called");
}

static const char *const bad_urls[] = {
	"ftp://127.0.0.1/x",
	"file:///etc/passwd",
	"gopher://127.0.0.1/x",
	"dict://127.0.0.1/x",
	"telnet://127.0.0.1/",
	"ldap://127.0.0.1/x",
	"smb://127.0.0.1/x",
	"scp://127.0.0.1/x",
	"ws://127.0.0.1/x",
	"127.0.0.1/ok",
	"not a url",
	"",
};

START_TEST(test_add_bad_url)
{
	struct rbd_http_probe cfg = { .url = (char *)bad_urls[_i] };
	struct rbd_probe *ret = (struct rbd_probe *)&cfg;

	ck_assert_int_eq(rbd_prober_add(prober, &cfg, SEC, cb_never, NULL, &ret), -EINVAL);
	ck_assert_ptr_eq(ret, (struct rbd_probe *)&cfg);
	ck_assert_uint_eq(stats().probes, 0);
}
END_TEST

START_TEST(test_add_bad_args)
{
	struct rbd_http_probe good = { .url = (char *)"http://127.0.0.1/" };
	struct rbd_http_probe nourl = { .url = NULL };
	struct rbd_http_probe nolist = { .url = (char *)"http://127.0.0.1/",
	    .n_expect_status = 1 };
	struct rbd_prober_stats st;
	struct rbd_probe *ret = NULL;

	ck_assert_int_eq(rbd_prober_add(NULL, &good, SEC, cb_never, NULL, &ret), -EINVAL);
	ck_assert_int_eq(rbd_prober_add(prober, NULL, SEC, cb_never, NULL, &ret), -EINVAL);
	ck_assert_int_eq(rbd_prober_add(prober, &nourl, SEC, cb_never, NULL, &ret), -EINVAL);
	ck_assert_int_eq(rbd_prober_add(prober, &nolist, SEC, cb_never, NULL, &ret), -EINVAL);
	ck_assert_int_eq(rbd_prober_add(prober, &good, 0, cb_never, NULL, &ret), -EINVAL);
	ck_assert_int_eq(rbd_prober_add(prober, &good, SEC, NULL, NULL, &ret), -EINVAL);
	ck_assert_int_eq(rbd_prober_add(prober, &good, SEC, cb_never, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(ret);
	rbd_prober_stats(NULL, &st);
	ck_assert_uint_eq(st.probes, 0);
	rbd_prober_free(NULL);
	ck_assert_ptr_null(rbd_prober_new(NULL));
}
END_TEST

/* ---- fetch mode: the body and status for the caller to judge ---- */

#define LARGER		"@larger"	/* "response larger than <body_max> bytes" */
#define BIG		"@big"		/* srv.big, whole */

static const struct {
	enum target target;
	const char *path;
	size_t body_max;
	uint64_t timeout;
	enum rbd_sample_result result;
	long code;
	const char *detail;		/* LARGER: from body_max */
	const char *body;		/* NULL: none delivered; BIG: srv.big */
	bool prefix;			/* detail is a prefix only */
} fetches[] = {
	{ SRV, "/metrics", 4096, SEC, RBD_SAMPLE_OK, 200, "HTTP 200",
	    METRICS_PAGE, false },
	{ SRV, "/metrics-chunked", 4096, SEC, RBD_SAMPLE_OK, 200, "HTTP 200",
	    METRICS_PAGE, false },
	/* Exactly body_max fits, one byte more does not, announced or not. */
	{ SRV, "/metrics", METRICS_LEN, SEC, RBD_SAMPLE_OK, 200, "HTTP 200",
	    METRICS_PAGE, false },
	{ SRV, "/metrics-chunked", METRICS_LEN, SEC, RBD_SAMPLE_OK, 200,
	    "HTTP 200", METRICS_PAGE, false },
	{ SRV, "/metrics", METRICS_LEN - 1, SEC, RBD_SAMPLE_UNKNOWN, 200, LARGER,
	    NULL, false },
	{ SRV, "/metrics-chunked", METRICS_LEN - 1, SEC, RBD_SAMPLE_UNKNOWN, 200,
	    LARGER, NULL, false },
	/* A large body, grown through many writes. */
	{ SRV, "/big", BIG_SIZE, SEC, RBD_SAMPLE_OK, 200, "HTTP 200", BIG, false },
	{ SRV, "/big-chunked", BIG_SIZE, SEC, RBD_SAMPLE_OK, 200, "HTTP 200", BIG,
	    false },
	{ SRV, "/big", RBD_PROBE_BODY_MAX, SEC, RBD_SAMPLE_UNKNOWN, 200, LARGER,
	    NULL, false },
	{ SRV, "/big-chunked", RBD_PROBE_BODY_MAX, SEC, RBD_SAMPLE_UNKNOWN, 200,
	    LARGER, NULL, false },
	/* Any status is data: the caller judges it. */
	{ SRV, "/nothing-here", 4096, SEC, RBD_SAMPLE_OK, 404, "HTTP 404", "",
	    false },
	{ SRV, "/500", 4096, SEC, RBD_SAMPLE_OK, 500, "HTTP 500", "oops", false },
	{ SRV, "/redirect", 4096, SEC, RBD_SAMPLE_OK, 302, "HTTP 302", "", false },
	{ SRV, "/redirect-file", 4096, SEC, RBD_SAMPLE_OK, 302, "HTTP 302", "",
	    false },
	/* No response is no data, never a failure. */
	{ SRV, "/hang", 4096, 200 * MSEC, RBD_SAMPLE_UNKNOWN, 0,
	    "timed out after 200ms", NULL, false },
	{ REFUSED, "/metrics", 4096, SEC, RBD_SAMPLE_UNKNOWN, 0,
	    "connection refused", NULL, false },
	{ CLOSER, "/metrics", 4096, SEC, RBD_SAMPLE_UNKNOWN, 0,
	    "Server returned nothing (no headers, no data)", NULL, false },
	{ NOHOST, "/ok", 4096, SEC, RBD_SAMPLE_UNKNOWN, 0,
	    "could not resolve host '" UNRESOLVABLE "'", NULL, false },
	{ TLS, "/metrics", 4096, SEC, RBD_SAMPLE_UNKNOWN, 0, "TLS error: ", NULL,
	    true },
};

START_TEST(test_fetch)
{
	struct sink *k = sink_new();
	const char *want = fetches[_i].detail, *body = fetches[_i].body;
	size_t body_max = fetches[_i].body_max;
	char larger[RBD_DETAIL_MAX];
	const struct sample *s;
	size_t i;

	if (!strcmp(want, LARGER)) {
		snprintf(larger, sizeof(larger), "response larger than %zu bytes",
		    body_max);
		want = larger;
	}
	k->remove_when_done = true;
	add_fetch(k, detail_url(fetches[_i].target, fetches[_i].path), 300 * MSEC,
	    fetches[_i].timeout, body_max);
	wait_done(k, 1);
	for (i = 0; i + 1 < k->n; i++)
		ck_assert_str_eq(k->s[i].detail, SKIPPED);
	s = &k->s[k->n - 1];
	if (fetches[_i].prefix)
		ck_assert_msg(!strncmp(s->detail, want, strlen(want)), "got '%s'",
		    s->detail);
	else
		ck_assert_str_eq(s->detail, want);
	ck_assert_int_eq(s->result, fetches[_i].result);
	ck_assert_int_eq(s->status, fetches[_i].code);
	if (!body) {
		ck_assert(!s->has_body);
		ck_assert_ptr_null(k->body);
	} else if (!strcmp(body, BIG)) {
		ck_assert(s->has_body);
		ck_assert_uint_eq(k->body_len, BIG_SIZE);
		ck_assert(!memcmp(k->body, srv.big, BIG_SIZE));
	} else {
		ck_assert(s->has_body);
		ck_assert_uint_eq(k->body_len, strlen(body));
		ck_assert_str_eq(k->body, body);
	}
	ck_assert_uint_eq(stats().probes, 0);
	ck_assert_uint_eq(stats().in_flight, 0);
	sink_free(k);
}
END_TEST

/* A fetch still running is skipped like a check: no data, no body. */
START_TEST(test_fetch_skip)
{
	struct sink *k = sink_new();
	size_t i;

	add_fetch(k, url("http", srv.port, "/slow"), 100 * MSEC, 2 * SEC, 4096);
	k->want = 2;
	ck_assert(run_until(has_ok, k, WAIT));
	ck_assert_uint_ge(k->unknown, 2);
	for (i = 0; i < k->n; i++) {
		if (k->s[i].result == RBD_SAMPLE_UNKNOWN) {
			ck_assert_str_eq(k->s[i].detail, SKIPPED);
			ck_assert(!k->s[i].has_body);
		} else {
			ck_assert_str_eq(k->s[i].detail, "HTTP 200");
			ck_assert_uint_eq(k->s[i].body_len, 2);
		}
	}
	ck_assert_str_eq(k->body, "ok");
	ck_assert_uint_eq(srv.slow_max, 1);
	sink_free(k);
}
END_TEST

/* Wait until k has n more samples that are not skips. */
static void wait_more(struct sink *k, size_t n)
{
	wait_done(k, k->done + n);
}

/* A header goes out with the next request and stays until replaced. */
START_TEST(test_fetch_header)
{
	struct sink *k = sink_new(), *chk = sink_new();
	char big_header[RBD_PROBE_HEADER_MAX + 2];
	unsigned before;
	size_t i;

	add_fetch(k, url("http", srv.port, "/metrics"), 30 * MSEC, SEC, 4096);
	/* Before the first tick: every request carries it. */
	ck_assert_int_eq(rbd_probe_set_header(k->probe,
	    "Authorization: Bearer xyz"), 0);
	wait_done(k, 3);
	ck_assert_uint_eq(srv.auth_n, srv.requests);
	ck_assert_str_eq(srv.auth_last, "Bearer xyz");
	ck_assert_str_eq(k->body, METRICS_PAGE);

	/* Refused: the previous one stays. */
	ck_assert_int_eq(rbd_probe_set_header(k->probe, "no colon"), -EINVAL);
	ck_assert_int_eq(rbd_probe_set_header(k->probe, ": no name"), -EINVAL);
	ck_assert_int_eq(rbd_probe_set_header(k->probe,
	    "Authorization: Bearer a\r\nX-Injected: 1"), -EINVAL);
	ck_assert_int_eq(rbd_probe_set_header(k->probe, "X-A: 1\n"), -EINVAL);
	memset(big_header, 'v', sizeof(big_header) - 1);
	memcpy(big_header, "X-Big: ", 7);
	big_header[sizeof(big_header) - 1] = '\0';
	ck_assert_int_eq(rbd_probe_set_header(k->probe, big_header), -EINVAL);
	ck_assert_int_eq(rbd_probe_set_header(NULL, "X-A: 1"), -EINVAL);
	wait_more(k, 2);
	ck_assert_str_eq(srv.auth_last, "Bearer xyz");

	/* Replaced: the last request has the new one. */
	ck_assert_int_eq(rbd_probe_set_header(k->probe,
	    "Authorization: Basic dXNlcjpwYXNz"), 0);
	wait_more(k, 3);
	ck_assert_str_eq(srv.auth_last, "Basic dXNlcjpwYXNz");

	/* Removed: gone from the next request on. */
	ck_assert_int_eq(rbd_probe_set_header(k->probe, NULL), 0);
	before = srv.requests - srv.auth_n;
	wait_more(k, 3);
	ck_assert(!srv.auth_last_had);
	ck_assert_uint_ge(srv.requests - srv.auth_n - before, 2);
	ck_assert_int_eq(rbd_probe_set_header(k->probe, NULL), 0);
	/* The longest accepted header goes out whole. */
	big_header[RBD_PROBE_HEADER_MAX] = '\0';
	ck_assert_int_eq(rbd_probe_set_header(k->probe, big_header), 0);
	ck_assert_int_eq(rbd_probe_set_header(k->probe, NULL), 0);
	/* A value never reaches a detail. */
	for (i = 0; i < k->n && i < SAMPLES_MAX; i++)
		ck_assert_ptr_null(strstr(k->s[i].detail, "xyz"));
	rbd_probe_remove(k->probe);

	/* An HTTP check sends one too. */
	add(chk, url("http", srv.port, "/ok"), 30 * MSEC, SEC, NULL, 0, NULL);
	ck_assert_int_eq(rbd_probe_set_header(chk->probe,
	    "Authorization: Bearer check"), 0);
	wait_n(chk, 3);
	ck_assert_uint_eq(chk->ok, chk->n);
	ck_assert_str_eq(srv.auth_last, "Bearer check");
	sink_free(k);
	sink_free(chk);
}
END_TEST

/* Has the server seen at least *arg /slow requests? */
static bool has_slow(const void *arg)
{
	return srv.slow >= *(const unsigned *)arg;
}

/* Wait until the server has seen n /slow requests. */
static void wait_slow(unsigned n)
{
	ck_assert_msg(run_until(has_slow, &n, WAIT), "%u of %u /slow", srv.slow, n);
}

/* Headers changed while a request is out: the request keeps what it was
 * sent with (its list lives until the transfer ends: the sanitized run
 * checks), the next one gets the last set. */
START_TEST(test_fetch_header_in_flight)
{
	struct sink *k = sink_new();

	add_fetch(k, url("http", srv.port, "/slow"), 500 * MSEC, 2 * SEC, 4096);
	ck_assert_int_eq(rbd_probe_set_header(k->probe, "Authorization: Bearer a"), 0);
	wait_slow(1);
	ck_assert_str_eq(srv.auth_last, "Bearer a");
	ck_assert_int_eq(rbd_probe_set_header(k->probe, "Authorization: Bearer b"), 0);
	ck_assert_int_eq(rbd_probe_set_header(k->probe, "Authorization: Bearer c"), 0);
	ck_assert_int_eq(rbd_probe_set_header(k->probe, NULL), 0);
	wait_done(k, 1);
	ck_assert_uint_eq(k->ok, 1);
	ck_assert_str_eq(k->body, "ok");
	wait_slow(2);
	ck_assert(!srv.auth_last_had);
	/* Freed with a request out and a replaced list on its handle. */
	ck_assert_int_eq(rbd_probe_set_header(k->probe, "Authorization: Bearer d"), 0);
	ck_assert_int_eq(rbd_probe_set_header(k->probe, "Authorization: Bearer e"), 0);
	rbd_prober_free(prober);
	prober = NULL;
	ck_assert_uint_eq(k->done, 1);
	sink_free(k);
}
END_TEST

/* ---- fetch buffers are reused ---- */

#define REUSE_N		100
#define GATE_N		80	/* more than the pool keeps idle (64) */

/* Count samples and those that delivered the page intact. */
static void page_cb(void *arg, const struct rbd_probe_result *r)
{
	struct counter *c = arg;

	if (!strcmp(r->detail, SKIPPED))
		return;		/* a loaded machine; not what is tested */
	c->n++;
	c->ok += r->result == RBD_SAMPLE_OK && r->status == 200 &&
	    r->body_len == METRICS_LEN && !memcmp(r->body, METRICS_PAGE, METRICS_LEN + 1);
}

START_TEST(test_fetch_reuse)
{
	struct sink *big = sink_new();
	struct rbd_prober_stats st0, st1;
	unsigned want = 2;
	size_t i;

	counters_n = REUSE_N;
	counters = calloc(counters_n, sizeof(*counters));
	ck_assert_ptr_nonnull(counters);
	for (i = 0; i < counters_n; i++)
		ck_assert_int_eq(rbd_prober_add_fetch(prober,
		    url("http", srv.port, "/metrics"), SEC, 200 * MSEC, 4096,
		    page_cb, &counters[i], &counters[i].probe), 0);
	ck_assert(run_until(counters_all, &want, WAIT));
	st0 = stats();
	ck_assert_uint_ge(st0.body_grows, 1);
	want = 8;
	ck_assert(run_until(counters_all, &want, WAIT));
	st1 = stats();
	for (i = 0; i < counters_n; i++)
		ck_assert_uint_eq(counters[i].ok, counters[i].n);
	/* Hundreds of samples: a buffer grows once for each handle the pool
	 * adds (none once it is warm), never once per sample. */
	ck_assert_uint_ge(st1.samples - st0.samples, 4 * REUSE_N);
	ck_assert_msg((st1.body_grows - st0.body_grows) * 10 <=
	    st1.samples - st0.samples, "%llu grows for %llu samples",
	    (unsigned long long)(st1.body_grows - st0.body_grows),
	    (unsigned long long)(st1.samples - st0.samples));
	/* The pool is sized to the requests in flight, never one handle per
	 * check: how many are in flight at once depends on the machine's
	 * load, the bound does not. */
	ck_assert_msg(st1.handles <= st1.in_flight_peak, "%llu handles for "
	    "at most %llu requests in flight", (unsigned long long)st1.handles,
	    (unsigned long long)st1.in_flight_peak);
	for (i = 0; i < counters_n; i++)
		rbd_probe_remove(counters[i].probe);
	free(counters);

	/* A 1 MiB body: grown once, then carried in the same buffer. */
	add_fetch(big, url("http", srv.port, "/big-chunked"), 100 * MSEC,
	    2 * SEC, BIG_SIZE);
	wait_done(big, 2);
	st0 = stats();
	wait_more(big, 5);
	st1 = stats();
	ck_assert_uint_eq(big->ok, big->done);
	ck_assert_uint_eq(big->body_len, BIG_SIZE);
	ck_assert(!memcmp(big->body, srv.big, BIG_SIZE));
	ck_assert_uint_eq(st1.body_grows - st0.body_grows,
	    st1.handles > st0.handles ? st1.handles - st0.handles : 0);
	sink_free(big);
}
END_TEST

/* Count samples and those that delivered "gated". */
static void gated_cb(void *arg, const struct rbd_probe_result *r)
{
	struct counter *c = arg;

	if (!strcmp(r->detail, SKIPPED))
		return;		/* the next ticks, while the gate is shut */
	c->n++;
	c->ok += r->result == RBD_SAMPLE_OK && r->body_len == 5 &&
	    !strcmp(r->body, "gated");
}

/* Has the server held at least *arg /gate requests? */
static bool has_gated(const void *arg)
{
	return srv.gated >= *(const unsigned *)arg;
}

/* More fetches finish at once than the pool keeps idle: the handles beyond
 * it are freed, but only after their bodies were delivered (the sanitized
 * run reads every body). */
START_TEST(test_fetch_pool_full)
{
	unsigned n = GATE_N, want = 1;
	size_t i;

	counters_n = GATE_N;
	counters = calloc(counters_n, sizeof(*counters));
	ck_assert_ptr_nonnull(counters);
	for (i = 0; i < counters_n; i++)
		ck_assert_int_eq(rbd_prober_add_fetch(prober,
		    url("http", srv.port, "/gate"), 10 * SEC, SEC, 4096,
		    gated_cb, &counters[i], &counters[i].probe), 0);
	ck_assert_msg(run_until(has_gated, &n, WAIT), "%u of %u held", srv.gated, n);
	ck_assert_uint_eq(stats().in_flight, GATE_N);
	ck_assert_uint_eq(stats().handles, GATE_N);
	gate_open();
	ck_assert(run_until(counters_all, &want, WAIT));
	for (i = 0; i < counters_n; i++) {
		ck_assert_uint_eq(counters[i].n, 1);
		ck_assert_uint_eq(counters[i].ok, 1);
	}
	ck_assert_uint_le(stats().handles, 64);
	free(counters);
}
END_TEST

/* ---- what rbd_prober_add_fetch refuses ---- */

START_TEST(test_fetch_bad_args)
{
	const char *u = url("http", srv.port, "/metrics");
	struct rbd_probe *ret = (struct rbd_probe *)&u;
	size_t i, len = RBD_PROBE_FETCH_URL_MAX + 1;
	char *long_url = malloc(len + 1);

	ck_assert_ptr_nonnull(long_url);
	ck_assert_int_eq(rbd_prober_add_fetch(NULL, u, SEC, SEC, 4096, cb_never,
	    NULL, &ret), -EINVAL);
	ck_assert_int_eq(rbd_prober_add_fetch(prober, NULL, SEC, SEC, 4096,
	    cb_never, NULL, &ret), -EINVAL);
	ck_assert_int_eq(rbd_prober_add_fetch(prober, u, SEC, 0, 4096, cb_never,
	    NULL, &ret), -EINVAL);
	ck_assert_int_eq(rbd_prober_add_fetch(prober, u, SEC, SEC, 0, cb_never,
	    NULL, &ret), -EINVAL);
	ck_assert_int_eq(rbd_prober_add_fetch(prober, u, SEC, SEC,
	    RBD_PROBE_FETCH_BODY_MAX + 1, cb_never, NULL, &ret), -EINVAL);
	ck_assert_int_eq(rbd_prober_add_fetch(prober, u, SEC, SEC, 4096, NULL,
	    NULL, &ret), -EINVAL);
	ck_assert_int_eq(rbd_prober_add_fetch(prober, u, SEC, SEC, 4096, cb_never,
	    NULL, NULL), -EINVAL);
	for (i = 0; i < N_ELEMENTS(bad_urls); i++)
		ck_assert_int_eq(rbd_prober_add_fetch(prober, bad_urls[i], SEC, SEC,
		    4096, cb_never, NULL, &ret), -EINVAL);
	/* A query string longer than a policy URL is fine, up to the limit. */
	memset(long_url, 'q', len);
	long_url[len] = '\0';
	memcpy(long_url, u, strlen(u));
	memcpy(long_url + strlen(u), "?query=", 7);
	ck_assert_int_eq(rbd_prober_add_fetch(prober, long_url, SEC, SEC, 4096,
	    cb_never, NULL, &ret), -EINVAL);
	ck_assert_ptr_eq(ret, (struct rbd_probe *)&u);
	ck_assert_uint_eq(stats().probes, 0);
	long_url[len - 1] = '\0';
	ck_assert_int_eq(rbd_prober_add_fetch(prober, long_url, SEC, 10 * SEC,
	    RBD_PROBE_FETCH_BODY_MAX, cb_never, NULL, &ret), 0);
	ck_assert_uint_eq(stats().probes, 1);
	rbd_probe_remove(ret);
	free(long_url);
}
END_TEST

/* ---- lateness: the last ticks in a ring, quantiles when asked ---- */

/* Nearest rank, the way the prober promises it, on a sorted copy. */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void reference(const uint32_t *v, size_t n,
    struct rbd_lateness_summary *ret)
{
	uint32_t *c = malloc((n ? n : 1) * sizeof(*c));

	ck_assert_ptr_nonnull(c);
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_u32);
	*ret = (struct rbd_lateness_summary){ .n = n };
	if (n) {
		ret->p50 = c[(n + 1) / 2 - 1];
		ret->p99 = c[(99 * n + 99) / 100 - 1];
		ret->max = c[n - 1];
	}
	free(c);
}

enum fill { ASC, DESC, SAME, SHUFFLED };

static const struct {
	const char *name;
	enum fill fill;
	size_t n;			/* values 1..n added */
	size_t kept;
	uint64_t p50, p99, max;
} lateness_cases[] = {
	{ "empty", ASC, 0, 0, 0, 0, 0 },
	{ "one", ASC, 1, 1, 1, 1, 1 },
	{ "two", ASC, 2, 2, 1, 2, 2 },
	{ "three, reversed", DESC, 3, 3, 2, 3, 3 },
	{ "a hundred, shuffled", SHUFFLED, 100, 100, 50, 99, 100 },
	{ "a thousand, reversed", DESC, 1000, 1000, 500, 990, 1000 },
	{ "all the same", SAME, 777, 777, 7, 7, 7 },
	/* The ring keeps the last 4096: 905..5000. */
	{ "past the ring", ASC, 5000, RBD_LATENESS_RING, 2952, 4960, 5000 },
	{ "past the ring, reversed", DESC, 5000, RBD_LATENESS_RING, 2048,
	    4056, 4096 },
};

/* Table: quantiles, the ring's wrap, and what is kept. */
START_TEST(test_lateness_table)
{
	struct rbd_lateness *l = calloc(1, sizeof(*l));
	struct rbd_lateness_summary sum;
	size_t n = lateness_cases[_i].n, i;
	uint32_t *order = calloc(n + 1, sizeof(*order));

	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_nonnull(order);
	for (i = 0; i < n; i++)
		order[i] = (uint32_t)(i + 1);
	/* A fixed shuffle (Fisher-Yates on a small LCG): the same every run. */
	if (lateness_cases[_i].fill == SHUFFLED) {
		uint32_t x = 12345;

		for (i = n - 1; i > 0; i--) {
			uint32_t j, t;

			x = x * 1103515245u + 12345u;
			j = (x >> 8) % (uint32_t)(i + 1);
			t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
	}
	for (i = 0; i < n; i++) {
		uint64_t v = order[i];

		if (lateness_cases[_i].fill == DESC)
			v = n - i;
		else if (lateness_cases[_i].fill == SAME)
			v = 7;
		rbd_lateness_add(l, v);
	}
	rbd_lateness_summary(l, &sum);
	ck_assert_msg(sum.n == lateness_cases[_i].kept &&
	    sum.p50 == lateness_cases[_i].p50 &&
	    sum.p99 == lateness_cases[_i].p99 &&
	    sum.max == lateness_cases[_i].max,
	    "%s: n %zu p50 %llu p99 %llu max %llu", lateness_cases[_i].name,
	    sum.n, (unsigned long long)sum.p50, (unsigned long long)sum.p99,
	    (unsigned long long)sum.max);
	free(order);
	free(l);
}
END_TEST

/* Random values, many duplicates or none, every size up to a full ring
 * and past it: the same answer as sorting. Fixed seeds. */
START_TEST(test_lateness_random)
{
	static const size_t sizes[] = { 1, 2, 3, 4, 5, 10, 99, 100, 101, 1000,
	    4095, 4096, 4097, 10000 };
	struct rbd_lateness *l = calloc(1, sizeof(*l));
	uint32_t *kept = calloc(RBD_LATENESS_RING, sizeof(*kept));
	struct rbd_lateness_summary got, want;
	uint64_t x = 0x9E3779B97F4A7C15u + (uint64_t)_i;

	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_nonnull(kept);
	for (size_t s = 0; s < N_ELEMENTS(sizes); s++) {
		size_t n = sizes[s], k;

		memset(l, 0, sizeof(*l));
		for (size_t i = 0; i < n; i++) {
			uint64_t v;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* Case 0: few distinct values; 1: microseconds up to
			 * an hour; 2: also past what a ring slot holds. */
			v = _i == 0 ? x % 7 : _i == 1 ? x % (3600 * SEC) : x >> 20;
			rbd_lateness_add(l, v);
			kept[i % RBD_LATENESS_RING] = v > UINT32_MAX ?
			    UINT32_MAX : (uint32_t)v;
		}
		k = n < RBD_LATENESS_RING ? n : RBD_LATENESS_RING;
		reference(kept, k, &want);
		rbd_lateness_summary(l, &got);
		ck_assert_msg(got.n == want.n && got.p50 == want.p50 &&
		    got.p99 == want.p99 && got.max == want.max,
		    "case %d, %zu values: got %llu/%llu/%llu, want %llu/%llu/%llu",
		    _i, n, (unsigned long long)got.p50,
		    (unsigned long long)got.p99, (unsigned long long)got.max,
		    (unsigned long long)want.p50, (unsigned long long)want.p99,
		    (unsigned long long)want.max);
	}
	free(kept);
	free(l);
}
END_TEST

/* ---- overload reports and latenesses in words ---- */

static const struct {
	struct rbd_overload_report o;
	const char *want;
} overload_words[] = {
	{ { RBD_OVERLOAD_START, 300, 37, 0, 0, 1400 * MSEC },
	    "overloaded: 37 samples late by up to 1.4s in the last 1s; they "
	    "count as unknown (status: schedule)" },
	{ { RBD_OVERLOAD_START, 2 * SEC + 400 * MSEC, 1, 0, 7, 1960 * MSEC },
	    "overloaded: 1 sample late by up to 2.0s, 7 missed in the last 2s; "
	    "they count as unknown (status: schedule)" },
	{ { RBD_OVERLOAD_ONGOING, 10 * SEC + 3 * MSEC, 1234, 5, 120, 130 * MSEC },
	    "overloaded: 1234 samples late by up to 130ms, 5 skipped, 120 missed "
	    "in the last 10s; they count as unknown (status: schedule)" },
	{ { RBD_OVERLOAD_ONGOING, 10 * SEC, 0, 1, 0, 0 },
	    "overloaded: 1 sample skipped in the last 10s; they count as unknown "
	    "(status: schedule)" },
	{ { RBD_OVERLOAD_START, 0, 0, 0, 3, 0 },
	    "overloaded: 3 samples missed in the last 1s; they count as unknown "
	    "(status: schedule)" },
	{ { RBD_OVERLOAD_CALM, 42 * SEC, 1234, 3, 12, 2 * SEC },
	    "schedule kept again: no sample late, skipped or missed for 10s "
	    "(overloaded for 42s: 1234 samples late, 3 skipped, 12 missed)" },
	{ { RBD_OVERLOAD_CALM, 0, 1, 0, 0, 200 * MSEC },
	    "schedule kept again: no sample late, skipped or missed for 10s "
	    "(overloaded for 1s: 1 sample late)" },
};

START_TEST(test_overload_words)
{
	char buf[RBD_OVERLOAD_STR_MAX], d[RBD_DURATION_STR_MAX];

	ck_assert_str_eq(rbd_overload_str(&overload_words[_i].o, buf,
	    sizeof(buf)), overload_words[_i].want);
	if (_i)
		return;
	ck_assert_str_eq(rbd_lateness_str(0, d, sizeof(d)), "0ms");
	ck_assert_str_eq(rbd_lateness_str(130 * MSEC + 400, d, sizeof(d)), "130ms");
	ck_assert_str_eq(rbd_lateness_str(1449 * MSEC, d, sizeof(d)), "1.4s");
	ck_assert_str_eq(rbd_lateness_str(59 * SEC, d, sizeof(d)), "59.0s");
	ck_assert_str_eq(rbd_lateness_str(125 * SEC + 300 * MSEC, d, sizeof(d)),
	    "2m5s");
	ck_assert_str_eq(rbd_overload_kind_str(RBD_OVERLOAD_CALM), "calm");
	ck_assert_str_eq(rbd_overload_kind_str(_RBD_OVERLOAD_MAX), "unknown");
}
END_TEST

/* ---- a late tick is an unknown sample, never a healthy one ---- */

#define LATE_IV		(200 * MSEC)
#define STALL		(3 * LATE_IV)	/* the next tick is >= 2 intervals late */
/* libevent may fire a timer a few ms before its time by our clock (its
 * own may be the coarse one), so a tick's start can precede its plan. */
#define SLACK		(10 * MSEC)
#define LATE		"late: started "
#define LATE_WHY	" (rollbackd cannot keep its schedule)"
#define REPORTS_MAX	8

struct reports {
	struct rbd_overload_report r[REPORTS_MAX];
	size_t samples_at[REPORTS_MAX];	/* the sink's samples by then */
	size_t n;
	const struct sink *k;
};

static void report_cb(void *arg, const struct rbd_overload_report *o)
{
	struct reports *rs = arg;

	if (rs->n < REPORTS_MAX) {
		rs->r[rs->n] = *o;
		rs->samples_at[rs->n] = rs->k ? rs->k->n : 0;
	}
	rs->n++;
}

static bool has_report(const void *arg)
{
	return ((const struct reports *)arg)->n > 0;
}

/* Does s end with suffix? */
static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* In either mode (_i 0: HTTP check, 1: fetch): the loop blocked for three
 * intervals at the first ok sample makes the next tick late by two or
 * more. It is delivered unknown at once, with no request sent and no body,
 * the ticks it missed are counted, status says overloaded, the episode is
 * reported before the probe's next tick, and then the probe samples as
 * before. Only lower bounds on times: a loaded machine makes things later,
 * never earlier. */
START_TEST(test_late_unknown)
{
	struct sink *k = sink_new();
	struct reports rs = { .k = k };
	struct rbd_prober_stats st;
	const struct sample *s;
	char want[RBD_OVERLOAD_STR_MAX], got[RBD_OVERLOAD_STR_MAX];
	char d[RBD_DURATION_STR_MAX];

	rbd_prober_on_overload(prober, report_cb, &rs);
	k->stall = STALL;
	if (_i == 0)
		add(k, url("http", srv.port, "/ok"), LATE_IV, LATE_IV / 2, NULL, 0, NULL);
	else
		add_fetch(k, url("http", srv.port, "/ok"), LATE_IV, LATE_IV / 2, 4096);
	k->want = 1;
	ck_assert(run_until(has_ok, k, WAIT));
	ck_assert_uint_eq(k->stall, 0);
	wait_n(k, k->stalled_n + 1);
	s = &k->s[k->stalled_n];
	ck_assert_int_eq(s->result, RBD_SAMPLE_UNKNOWN);
	ck_assert_msg(!strncmp(s->detail, LATE, strlen(LATE)) &&
	    strstr(s->detail, " after its time, ") &&
	    ends_with(s->detail, " missed" LATE_WHY), "%s", s->detail);
	ck_assert_uint_ge(s->started - s->planned, STALL - LATE_IV - SLACK);
	ck_assert_int_eq(s->status, 0);
	ck_assert(!s->has_body);
	ck_assert_uint_eq(s->latency, 0);
	/* No request went out for it: the server saw none since the stall. */
	ck_assert_uint_eq(srv.requests, k->requests_at_stall);
	st = stats();
	ck_assert_uint_ge(st.late, 1);
	ck_assert_uint_ge(st.missed, 1);
	ck_assert(st.overloaded);
	ck_assert(rbd_prober_overloaded(prober));
	ck_assert_uint_ge(st.recent_late, 1);
	ck_assert_uint_ge(st.recent_missed, 1);
	ck_assert_uint_ge(st.lateness.max, STALL - LATE_IV - SLACK);
	ck_assert_uint_le(st.lateness.n, st.samples + st.late + st.skipped +
	    st.missed);
	/* The first report, at once: before the probe's next tick. */
	ck_assert(run_until(has_report, &rs, WAIT));
	ck_assert_int_eq(rs.r[0].kind, RBD_OVERLOAD_START);
	ck_assert_uint_eq(rs.samples_at[0], k->stalled_n + 1);
	ck_assert_uint_ge(rs.r[0].late, 1);
	ck_assert_uint_ge(rs.r[0].missed, 1);
	ck_assert_uint_ge(rs.r[0].max_lateness, STALL - LATE_IV - SLACK);
	snprintf(want, sizeof(want), "overloaded: %llu sample%s late by up to "
	    "%s, %llu missed in the last 1s; they count as unknown (status: "
	    "schedule)", (unsigned long long)rs.r[0].late,
	    rs.r[0].late == 1 ? "" : "s",
	    rbd_lateness_str(rs.r[0].max_lateness, d, sizeof(d)),
	    (unsigned long long)rs.r[0].missed);
	ck_assert_str_eq(rbd_overload_str(&rs.r[0], got, sizeof(got)), want);
	/* The loop turns freely again: samples are taken and judged. */
	k->want = 2;
	ck_assert(run_until(has_ok, k, WAIT));
	ck_assert_uint_eq(k->fail, 0);
	rbd_prober_on_overload(prober, NULL, NULL);
	sink_free(k);
}
END_TEST

/* A tick late by less than half its interval is still a sample: the loop
 * blocked for 150ms against a 1s interval. */
START_TEST(test_late_within_half)
{
	struct sink *k = sink_new();

	k->stall = 150 * MSEC;
	add(k, url("http", srv.port, "/ok"), SEC, 200 * MSEC, NULL, 0, NULL);
	k->want = 2;
	ck_assert(run_until(has_ok, k, WAIT));
	ck_assert_uint_eq(k->n, 2);
	ck_assert_uint_eq(stats().late, 0);
	ck_assert_uint_eq(stats().missed, 0);
	sink_free(k);
}
END_TEST

/* ---- at most so many requests out at once ---- */

#define CAP		2
#define CAP_N		5
#define CAPPED		"skipped: 2 probes in flight, as many as rollbackd runs " \
			"at once (rollbackd cannot keep its schedule)"

/* With a cap of 2 and five probes of /hang, two requests go out; the
 * other probes' ticks are unknown samples that say why, counted as
 * skipped (and capped), and the prober says it is overloaded. Once the
 * two are removed, the others get their turn. */
START_TEST(test_in_flight_cap)
{
	struct sink *k[CAP_N];
	struct rbd_prober_stats st;
	size_t i, capped = 0, first = CAP_N;
	unsigned two = CAP;

	ck_assert_int_eq(rbd_prober_set_in_flight_max(prober, 0), -EINVAL);
	ck_assert_int_eq(rbd_prober_set_in_flight_max(prober, CAP), 0);
	for (i = 0; i < CAP_N; i++) {
		k[i] = sink_new();
		add(k[i], url("http", srv.port, "/hang"), 100 * MSEC, 10 * SEC,
		    NULL, 0, NULL);
	}
	wait_hung(CAP);
	for (i = 0; i < CAP_N; i++)
		wait_n(k[i], 3);
	ck_assert_uint_eq(srv.hung, CAP);
	st = stats();
	ck_assert_uint_eq(st.in_flight, CAP);
	ck_assert_uint_eq(st.in_flight_max, CAP);
	ck_assert_uint_ge(st.capped, 1);
	ck_assert_uint_ge(st.skipped, st.capped);
	ck_assert(st.overloaded);
	ck_assert_uint_ge(st.recent_skipped, st.capped);
	for (i = 0; i < CAP_N; i++) {
		for (size_t j = 0; j < k[i]->n; j++) {
			ck_assert_int_eq(k[i]->s[j].result, RBD_SAMPLE_UNKNOWN);
			ck_assert_msg(!strcmp(k[i]->s[j].detail, SKIPPED) ||
			    !strcmp(k[i]->s[j].detail, CAPPED), "%s",
			    k[i]->s[j].detail);
			capped += !strcmp(k[i]->s[j].detail, CAPPED);
		}
	}
	ck_assert_uint_eq(capped, st.capped);
	/* Remove the probes whose requests are out: the others go on. */
	for (i = 0; i < CAP_N; i++)
		if (!strcmp(k[i]->s[0].detail, SKIPPED) ||
		    (k[i]->n > 1 && !strcmp(k[i]->s[1].detail, SKIPPED))) {
			rbd_probe_remove(k[i]->probe);
			k[i]->probe = NULL;
		} else if (first == CAP_N) {
			first = i;
		}
	ck_assert_uint_lt(first, CAP_N);
	ck_assert_uint_eq(stats().in_flight, 0);
	two = 2 * CAP;
	wait_hung(two);
	for (i = 0; i < CAP_N; i++)
		free(k[i]);
}
END_TEST

/* ---- a timeout while the loop was behind is not the endpoint's ---- */

#define STALLED		"timed out after 200ms while rollbackd was "

/* The loop stopped for 500ms while a request to /hang (timeout 200ms) was
 * out: curl notices the deadline 300ms late, so the sample is unknown,
 * not failed; counted as stalled and in the overload episode. The next
 * sample, with the loop free, fails by timeout as always. */
START_TEST(test_timeout_while_stalled)
{
	struct sink *k = sink_new();
	struct rbd_prober_stats st;

	add(k, url("http", srv.port, "/hang"), SEC, 200 * MSEC, NULL, 0, NULL);
	wait_hung(1);
	block_loop(500 * MSEC);
	wait_n(k, 1);
	ck_assert_int_eq(k->s[0].result, RBD_SAMPLE_UNKNOWN);
	ck_assert_msg(!strncmp(k->s[0].detail, STALLED, strlen(STALLED)) &&
	    ends_with(k->s[0].detail, " behind" LATE_WHY), "%s", k->s[0].detail);
	ck_assert_int_eq(k->s[0].status, 0);
	st = stats();
	ck_assert_uint_eq(st.stalled, 1);
	ck_assert_uint_eq(st.samples, 1);
	ck_assert_uint_ge(st.recent_late, 1);
	ck_assert(st.overloaded);
	wait_n(k, 2);
	ck_assert_int_eq(k->s[1].result, RBD_SAMPLE_FAIL);
	ck_assert_str_eq(k->s[1].detail, "timed out after 200ms");
	ck_assert_uint_eq(stats().stalled, 1);
	sink_free(k);
}
END_TEST

/* A short stall is no excuse: 50ms of a 1s timeout (within a tenth), seen
 * by another probe's ticks, and the hanging endpoint still fails. */
START_TEST(test_timeout_short_stall)
{
	struct sink *k = sink_new(), *busy = sink_new();

	add(busy, url("http", srv.port, "/ok"), 10 * MSEC, SEC, NULL, 0, NULL);
	add(k, url("http", srv.port, "/hang"), 2 * SEC, SEC, NULL, 0, NULL);
	wait_hung(1);
	block_loop(50 * MSEC);
	wait_n(k, 1);
	ck_assert_int_eq(k->s[0].result, RBD_SAMPLE_FAIL);
	ck_assert_str_eq(k->s[0].detail, "timed out after 1s");
	ck_assert_uint_eq(stats().stalled, 0);
	sink_free(k);
	sink_free(busy);
}
END_TEST

/* ---- schedules of probes run elsewhere (unit checks) ---- */

/* A schedule of 1s from t0, ticked by hand: counted among the probes and
 * in intended_per_sec; on time, busy (skipped), late (and missed) ticks
 * as the prober's own are, and samples; not counted once stopped. */
START_TEST(test_sched)
{
	struct rbd_sched sc;
	struct rbd_prober_stats st;
	char detail[RBD_DETAIL_MAX];
	uint64_t t0 = mono() - 10 * SEC, planned, next;

	rbd_sched_start(&sc, prober, SEC, t0);
	st = stats();
	ck_assert_uint_eq(st.probes, 1);
	ck_assert_double_eq(st.intended_per_sec, 1.0);
	/* On time (5ms after its time): the next in 995ms. */
	ck_assert_int_eq(rbd_sched_tick(&sc, t0 + 5 * MSEC, false, &planned,
	    &next, detail, sizeof(detail)), RBD_TICK_ON_TIME);
	ck_assert_uint_eq(planned, t0);
	ck_assert_uint_eq(next, 995 * MSEC);
	rbd_sched_sample(&sc);
	/* Busy: skipped, whatever its lateness. */
	ck_assert_int_eq(rbd_sched_tick(&sc, t0 + SEC, true, &planned, &next,
	    detail, sizeof(detail)), RBD_TICK_SKIPPED);
	ck_assert_str_eq(detail, SKIPPED);
	ck_assert_uint_eq(planned, t0 + SEC);
	/* 3.6s after the third tick's time: late, three missed. */
	ck_assert_int_eq(rbd_sched_tick(&sc, t0 + 2 * SEC + 3600 * MSEC, false,
	    &planned, &next, detail, sizeof(detail)), RBD_TICK_LATE);
	ck_assert_str_eq(detail, "late: started 3.6s after its time, 3 samples "
	    "missed (rollbackd cannot keep its schedule)");
	ck_assert_uint_eq(planned, t0 + 2 * SEC);
	ck_assert_uint_eq(next, 400 * MSEC);
	st = stats();
	ck_assert_uint_eq(st.samples, 1);
	ck_assert_uint_eq(st.skipped, 1);
	ck_assert_uint_eq(st.capped, 0);
	ck_assert_uint_eq(st.late, 1);
	ck_assert_uint_eq(st.missed, 3);
	ck_assert_uint_eq(st.lateness.max, 3600 * MSEC);
	ck_assert(st.overloaded);
	rbd_sched_stop(&sc);
	rbd_sched_stop(&sc);
	st = stats();
	ck_assert_uint_eq(st.probes, 0);
	ck_assert_double_eq(st.intended_per_sec, 0.0);
	/* Without a prober: judged, counted nowhere. */
	rbd_sched_start(&sc, NULL, SEC, t0);
	ck_assert_int_eq(rbd_sched_tick(&sc, t0 + 700 * MSEC, false, &planned,
	    &next, detail, sizeof(detail)), RBD_TICK_LATE);
	ck_assert_str_eq(detail, "late: started 700ms after its time "
	    "(rollbackd cannot keep its schedule)");
	rbd_sched_stop(&sc);
	ck_assert_uint_eq(stats().late, 1);
}
END_TEST

/* Details, schedule, removal, fetches. */
static Suite *probe_http_suite(void)
{
	Suite *s = suite_create("probe_http");
	TCase *tc = tcase_create("details");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_details, 0, N_ELEMENTS(details));
	tcase_add_loop_test(tc, test_add_bad_url, 0, N_ELEMENTS(bad_urls));
	tcase_add_test(tc, test_add_bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("schedule");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_hang_isolation);
	tcase_add_test(tc, test_skip_not_double);
	tcase_add_test(tc, test_keepalive);
	tcase_add_test(tc, test_spread);
	tcase_add_test(tc, test_pool_small);
	tcase_add_test(tc, test_stats);
	suite_add_tcase(s, tc);

	tc = tcase_create("overload");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_lateness_table, 0, N_ELEMENTS(lateness_cases));
	tcase_add_loop_test(tc, test_lateness_random, 0, 3);
	tcase_add_loop_test(tc, test_overload_words, 0, N_ELEMENTS(overload_words));
	tcase_add_loop_test(tc, test_late_unknown, 0, 2);
	tcase_add_test(tc, test_late_within_half);
	tcase_add_test(tc, test_in_flight_cap);
	tcase_add_test(tc, test_timeout_while_stalled);
	tcase_add_test(tc, test_timeout_short_stall);
	tcase_add_test(tc, test_sched);
	suite_add_tcase(s, tc);

	tc = tcase_create("remove");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_remove_self);
	tcase_add_test(tc, test_remove_other_in_flight);
	tcase_add_test(tc, test_remove_all_from_callback);
	tcase_add_test(tc, test_remove_from_skip);
	tcase_add_test(tc, test_remove_outside_in_flight);
	tcase_add_test(tc, test_free_in_flight);
	suite_add_tcase(s, tc);

	tc = tcase_create("fetch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_fetch, 0, N_ELEMENTS(fetches));
	tcase_add_test(tc, test_fetch_skip);
	tcase_add_test(tc, test_fetch_header);
	tcase_add_test(tc, test_fetch_header_in_flight);
	tcase_add_test(tc, test_fetch_reuse);
	tcase_add_test(tc, test_fetch_pool_full);
	tcase_add_test(tc, test_fetch_bad_args);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite. */
int main(void)
{
	return rbd_test_run(probe_http_suite());
}
