/* demo-service: the demo's and the integration tests' HTTP service.
 *
 *   demo-service --port PORT --version VERSION [--pidfile FILE]
 *                [--fail-after-requests N] [--flag-file FILE] [--verbose]
 *
 * A small evhttp server on 127.0.0.1 whose health depends on the version it
 * was started as, so that "deploying a bad release" is just starting it with
 * another version string:
 *
 *   GET /healthz   version contains "bad":   500 "unhealthy"
 *                  version contains "hang":  the request is accepted and
 *                                            never answered
 *                  version contains "slow":  200 "ok" after 3 s (but not
 *                                            "slow99", which is slow in its
 *                                            metrics only: see below)
 *                  version contains "flaky": 500 on every 2nd request
 *                  otherwise:                200 "ok"
 *                  --fail-after-requests N:  healthy for N requests, then
 *                                            500 (N = 0: always 500)
 *                  version contains "flagged", with --flag-file FILE:
 *                                            500 "feature flag on" while
 *                                            FILE exists (a release whose
 *                                            new feature is broken: a
 *                                            remedy turns the flag off)
 *   POST /flag/off remove the flag file: 204 (the flag service of the
 *                  remedy tests); POST /flag/on creates it: 204
 *   GET /version   the version
 *   GET /metrics   metrics in the Prometheus text exposition format 0.0.4
 *
 * Metrics follow the version, so that a release can raise its error ratio or
 * its latency without failing /healthz and without any client: every 10 ms
 * a timer records one *simulated* request (none when the version contains
 * "idle": a release with no traffic). Each simulated request draws three
 * numbers u1, u2, u3 in [0, 1) from a xorshift64* generator seeded with the
 * FNV-1a hash of the version, so a version's sequence is reproducible:
 *
 *   status   500 if the version contains "errors" and u1 < 0.20, else 200
 *   latency  version contains "slow99" and u2 < 0.05:
 *                0.550 + 0.100 * u3 s  (uniform 550..650 ms, the 5% tail)
 *            otherwise:
 *                0.010 + 0.020 * u3 s  (uniform 10..30 ms, mean 20 ms)
 *
 * so for "slow99" p99 is in the 0.5..1 s bucket (histogram_quantile: ~0.9 s)
 * while the median stays ~20 ms; otherwise p99 is ~49 ms. Real /healthz
 * requests are counted too, by the status they were answered with, with
 * their real duration (a held-back one when it is answered; a hanging one
 * never). Series:
 *
 *   demo_up 1                                        gauge
 *   demo_version_info{version="V"} 1                 gauge
 *   demo_http_requests_total{code="200"|"500"|...}   counter; 200 and 500
 *                                    are always there (0 until seen), other
 *                                    codes once seen
 *   demo_http_request_duration_seconds               histogram, buckets
 *                  0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 +Inf
 *
 * A version that contains "crash" serves normally (a healthy /healthz
 * included) for 1.5 s after it started, then says so on stderr and exits
 * with status 1, from the event loop: a release that crash-loops under a
 * service manager's Restart=.
 *
 * The pid is written to --pidfile once the port is bound, so a deploy script
 * that waits for the pidfile knows the port is open. SIGTERM and SIGINT stop
 * it cleanly (through libevent, not in a handler), with status 0. */
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>

#define SLOW_SEC	3
#define PENDING_MAX	1024	/* requests held back (slow, hang) at once */
#define TICK_USEC	10000	/* one simulated request every 10 ms */
#define ERROR_RATIO	0.20	/* of simulated requests, "errors" versions */
#define TAIL_RATIO	0.05	/* of simulated requests, "slow99" versions */
#define N_CODES		8	/* distinct status codes counted */
#define CRASH_USEC	1500000	/* "crash" versions exit after 1.5 s */

/* Upper bounds of the latency histogram's buckets; +Inf is implicit. */
static const double bucket_le[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5
};
static const char *const bucket_le_text[] = {
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5"
};
#define N_BUCKETS	(sizeof(bucket_le) / sizeof(bucket_le[0]))

/* Counters for /metrics. */
struct metrics {
	struct {
		int code;
		unsigned long long n;
	} codes[N_CODES];
	size_t n_codes;
	unsigned long long bucket[N_BUCKETS + 1];	/* not cumulative */
	unsigned long long count;
	double sum;
};

/* A request whose answer is held back: slow ones until their timer fires,
 * hanging ones until exit. */
struct pending {
	struct evhttp_request *req;
	struct event *timer;		/* NULL: never answered (hang) */
	struct pending *next, *prev;
	struct service *svc;
	double start;			/* arrival, monotonic seconds */
};

struct service {
	struct event_base *base;
	const char *version;
	long fail_after;		/* -1: not set */
	unsigned long healthz_requests;
	bool verbose;
	bool bad, hang, slow, flaky;
	bool errors, slow99, idle;	/* metrics: see the top */
	bool crash;			/* exit with status 1 after CRASH_USEC */
	bool crashed;			/* ... and the time has come */
	bool flagged;			/* unhealthy while flag_file exists */
	const char *flag_file;		/* NULL: no flag */
	uint64_t rng;			/* xorshift64* state, never 0 */
	struct event *tick;		/* synthetic traffic; NULL when idle */
	struct event *crash_timer;	/* NULL unless crash */
	struct metrics m;
	struct pending *pending;
	size_t n_pending;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: demo-service --port PORT --version VERSION "
	    "[--pidfile FILE] [--fail-after-requests N] [--flag-file FILE] "
	    "[--verbose]\n");
}

/* Answer req with status and a one-line text body. */
static void reply(struct evhttp_request *req, int status, const char *text)
{
	struct evbuffer *body = evbuffer_new();

	if (!body) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain");
	evbuffer_add_printf(body, "%s\n", text);
	evhttp_send_reply(req, status, status == 200 ? "OK" :
	    "Internal Server Error", body);
	evbuffer_free(body);
}

/* ---------------------------------------------------------------- metrics */

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* FNV-1a, 64 bits: the generator's seed from the version. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

/* xorshift64*: a uniform double in [0, 1). */
static double rng_next(struct service *svc)
{
	uint64_t x = svc->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	svc->rng = x;
	return (double)((x * 2685821657736338717ULL) >> 11) * 0x1p-53;
}

/* Record one request answered with code after secs. */
static void observe(struct service *svc, int code, double secs)
{
	struct metrics *m = &svc->m;
	size_t i;

	for (i = 0; i < m->n_codes && m->codes[i].code != code; i++)
		;
	if (i == m->n_codes && m->n_codes < N_CODES) {
		m->codes[i].code = code;
		m->n_codes++;
	}
	if (i < m->n_codes)
		m->codes[i].n++;
	for (i = 0; i < N_BUCKETS && secs > bucket_le[i]; i++)
		;
	m->bucket[i]++;
	m->count++;
	m->sum += secs;
}

/* One simulated request (the distribution is described at the top). */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct service *svc = arg;
	double u1 = rng_next(svc), u2 = rng_next(svc), u3 = rng_next(svc);
	int code = svc->errors && u1 < ERROR_RATIO ? 500 : 200;
	double secs = svc->slow99 && u2 < TAIL_RATIO ?
	    0.550 + 0.100 * u3 : 0.010 + 0.020 * u3;

	(void)fd;
	(void)what;
	observe(svc, code, secs);
}

/* s as a label value: backslash, double quote and newline escaped. */
static void add_label_value(struct evbuffer *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			evbuffer_add(b, "\\\\", 2);
		else if (*s == '"')
			evbuffer_add(b, "\\\"", 2);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, s, 1);
	}
}

static void metrics(struct service *svc, struct evhttp_request *req)
{
	struct metrics *m = &svc->m;
	struct evbuffer *b = evbuffer_new();
	unsigned long long cum = 0;

	if (!b) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evbuffer_add_printf(b,
	    "# HELP demo_up Whether the demo service is up.\n"
	    "# TYPE demo_up gauge\n"
	    "demo_up 1\n"
	    "# HELP demo_version_info The version the service was started as.\n"
	    "# TYPE demo_version_info gauge\n"
	    "demo_version_info{version=\"");
	add_label_value(b, svc->version);
	evbuffer_add_printf(b, "\"} 1\n"
	    "# HELP demo_http_requests_total Requests answered, simulated "
	    "and /healthz, by status code.\n"
	    "# TYPE demo_http_requests_total counter\n");
	for (size_t i = 0; i < m->n_codes; i++)
		evbuffer_add_printf(b,
		    "demo_http_requests_total{code=\"%d\"} %llu\n",
		    m->codes[i].code, m->codes[i].n);
	evbuffer_add_printf(b,
	    "# HELP demo_http_request_duration_seconds Request latency, "
	    "simulated and /healthz.\n"
	    "# TYPE demo_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i <= N_BUCKETS; i++) {
		cum += m->bucket[i];
		evbuffer_add_printf(b,
		    "demo_http_request_duration_seconds_bucket{le=\"%s\"} "
		    "%llu\n", i < N_BUCKETS ? bucket_le_text[i] : "+Inf", cum);
	}
	evbuffer_add_printf(b,
	    "demo_http_request_duration_seconds_sum %.9g\n"
	    "demo_http_request_duration_seconds_count %llu\n",
	    m->sum, m->count);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* ---------------------------------------------------------------- healthz */

/* Answer a /healthz request that arrived at start, and count it. */
static void healthz_reply(struct service *svc, struct evhttp_request *req,
    double start, int status, const char *text)
{
	observe(svc, status, now_sec() - start);
	reply(req, status, text);
}

static void pending_unlink(struct service *svc, struct pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		svc->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	svc->n_pending--;
}

/* The slow answer is due. If the client has gone meanwhile, evhttp has
 * detached the request and evhttp_send_reply just frees it. */
static void slow_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	(void)what;
	pending_unlink(p->svc, p);
	healthz_reply(p->svc, p->req, p->start, 200, "ok");
	event_free(p->timer);
	free(p);
}

/* Hold req back: answered after SLOW_SEC when slow, never when not. */
static void hold(struct service *svc, struct evhttp_request *req, bool slow,
    double start)
{
	struct timeval tv = { SLOW_SEC, 0 };
	struct pending *p;

	if (svc->n_pending >= PENDING_MAX) {
		healthz_reply(svc, req, start, 503, "busy");
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		healthz_reply(svc, req, start, 500, "out of memory");
		return;
	}
	p->req = req;
	p->svc = svc;
	p->start = start;
	if (slow) {
		p->timer = evtimer_new(svc->base, slow_cb, p);
		if (!p->timer || evtimer_add(p->timer, &tv) < 0) {
			if (p->timer)
				event_free(p->timer);
			free(p);
			healthz_reply(svc, req, start, 500, "out of memory");
			return;
		}
	}
	p->next = svc->pending;
	if (p->next)
		p->next->prev = p;
	svc->pending = p;
	svc->n_pending++;
}

static void healthz(struct service *svc, struct evhttp_request *req)
{
	unsigned long n = ++svc->healthz_requests;
	double start = now_sec();

	if (svc->fail_after >= 0 && n > (unsigned long)svc->fail_after) {
		healthz_reply(svc, req, start, 500, "unhealthy");
		return;
	}
	if (svc->bad || (svc->flaky && n % 2 == 0)) {
		healthz_reply(svc, req, start, 500, "unhealthy");
		return;
	}
	if (svc->flagged && svc->flag_file && access(svc->flag_file, F_OK) == 0) {
		healthz_reply(svc, req, start, 500, "feature flag on");
		return;
	}
	if (svc->hang || svc->slow) {
		hold(svc, req, svc->slow, start);
		return;
	}
	healthz_reply(svc, req, start, 200, "ok");
}

/* Create the flag file; whether it is there. */
static bool flag_on(const char *file)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Every request: route on the path, GET only (POST for the flag). */
static void request_cb(struct evhttp_request *req, void *arg)
{
	struct service *svc = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evhttp_uri *u = evhttp_uri_parse(uri);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;

	if (svc->verbose)
		fprintf(stderr, "demo-service %s: %s %s\n", svc->version,
		    evhttp_request_get_command(req) == EVHTTP_REQ_GET ?
		    "GET" : "other", uri);
	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST && path &&
	    svc->flag_file && strcmp(path, "/flag/off") == 0)
		reply(req, unlink(svc->flag_file) == 0 || errno == ENOENT ?
		    204 : 500, "");
	else if (evhttp_request_get_command(req) == EVHTTP_REQ_POST && path &&
	    svc->flag_file && strcmp(path, "/flag/on") == 0)
		reply(req, flag_on(svc->flag_file) ? 204 : 500, "");
	else if (evhttp_request_get_command(req) != EVHTTP_REQ_GET)
		reply(req, 405, "method not allowed");
	else if (path && strcmp(path, "/healthz") == 0)
		healthz(svc, req);
	else if (path && strcmp(path, "/version") == 0)
		reply(req, 200, svc->version);
	else if (path && strcmp(path, "/metrics") == 0)
		metrics(svc, req);
	else
		reply(req, 404, "not found");
	if (u)
		evhttp_uri_free(u);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct service *svc = arg;

	(void)what;
	if (svc->verbose)
		fprintf(stderr, "demo-service %s: signal %d, exiting\n",
		    svc->version, (int)sig);
	event_base_loopbreak(svc->base);
}

/* A "crash" version's time is up: leave the loop, to exit with status 1. */
static void crash_cb(evutil_socket_t fd, short what, void *arg)
{
	struct service *svc = arg;

	(void)fd;
	(void)what;
	fprintf(stderr, "demo-service %s: crashing (the version contains "
	    "\"crash\"), exit status 1\n", svc->version);
	svc->crashed = true;
	event_base_loopexit(svc->base, NULL);
}

/* Write our pid to path, atomically (a reader never sees half a pid). */
static int write_pidfile(const char *path)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		int r = -errno;

		unlink(tmp);
		return r;
	}
	return 0;
}

/* Whether s contains "slow" other than as part of "slow99". */
static bool has_slow(const char *s)
{
	for (const char *p = s; (p = strstr(p, "slow")) != NULL; p += 4)
		if (strncmp(p + 4, "99", 2) != 0)
			return true;
	return false;
}

/* A decimal number in [min, max], or -1. */
static long parse_num(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	return v;
}

int main(int argc, char **argv)
{
	struct service svc = { .fail_after = -1 };
	const char *pidfile = NULL;
	long port = -1;
	struct evhttp *http = NULL;
	struct evhttp_bound_socket *bound;
	struct event *sigterm = NULL, *sigint = NULL;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--verbose") == 0) {
			svc.verbose = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (!v) {
			usage(stderr);
			return 64;
		}
		i++;
		if (strcmp(a, "--port") == 0)
			port = parse_num(v, 1, 65535);
		else if (strcmp(a, "--version") == 0)
			svc.version = v;
		else if (strcmp(a, "--pidfile") == 0)
			pidfile = v;
		else if (strcmp(a, "--flag-file") == 0)
			svc.flag_file = v;
		else if (strcmp(a, "--fail-after-requests") == 0) {
			svc.fail_after = parse_num(v, 0, LONG_MAX - 1);
			if (svc.fail_after < 0) {
				fprintf(stderr, "demo-service: bad "
				    "--fail-after-requests '%s'\n", v);
				return 64;
			}
		} else {
			usage(stderr);
			return 64;
		}
	}
	if (port < 0 || !svc.version || !*svc.version) {
		usage(stderr);
		return 64;
	}
	svc.bad = strstr(svc.version, "bad") != NULL;
	svc.hang = strstr(svc.version, "hang") != NULL;
	svc.slow = has_slow(svc.version);
	svc.flaky = strstr(svc.version, "flaky") != NULL;
	svc.errors = strstr(svc.version, "errors") != NULL;
	svc.slow99 = strstr(svc.version, "slow99") != NULL;
	svc.idle = strstr(svc.version, "idle") != NULL;
	svc.crash = strstr(svc.version, "crash") != NULL;
	svc.flagged = strstr(svc.version, "flagged") != NULL;
	svc.rng = fnv1a(svc.version);
	/* 200 and 500 are always exposed, so that an error ratio is 0, not
	 * missing, before the first error (as client libraries advise). */
	svc.m.codes[0].code = 200;
	svc.m.codes[1].code = 500;
	svc.m.n_codes = 2;

	signal(SIGPIPE, SIG_IGN);
	svc.base = event_base_new();
	if (!svc.base) {
		fprintf(stderr, "demo-service: event_base_new failed\n");
		return 1;
	}
	http = evhttp_new(svc.base);
	if (!http) {
		fprintf(stderr, "demo-service: evhttp_new failed\n");
		goto out;
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST);
	evhttp_set_gencb(http, request_cb, &svc);
	/* evhttp_bind_socket_with_handle sets SO_REUSEADDR on the socket. */
	bound = evhttp_bind_socket_with_handle(http, "127.0.0.1",
	    (ev_uint16_t)port);
	if (!bound) {
		fprintf(stderr, "demo-service: cannot listen on "
		    "127.0.0.1:%ld: %s\n", port, strerror(errno));
		goto out;
	}
	sigterm = evsignal_new(svc.base, SIGTERM, signal_cb, &svc);
	sigint = evsignal_new(svc.base, SIGINT, signal_cb, &svc);
	if (!sigterm || !sigint || evsignal_add(sigterm, NULL) < 0 ||
	    evsignal_add(sigint, NULL) < 0) {
		fprintf(stderr, "demo-service: cannot install signal events\n");
		goto out;
	}
	if (!svc.idle) {
		struct timeval tick = { 0, TICK_USEC };

		svc.tick = event_new(svc.base, -1, EV_PERSIST, tick_cb, &svc);
		if (!svc.tick || evtimer_add(svc.tick, &tick) < 0) {
			fprintf(stderr, "demo-service: cannot add the "
			    "traffic timer\n");
			goto out;
		}
	}
	if (svc.crash) {
		struct timeval after = { CRASH_USEC / 1000000,
		    CRASH_USEC % 1000000 };

		svc.crash_timer = evtimer_new(svc.base, crash_cb, &svc);
		if (!svc.crash_timer ||
		    evtimer_add(svc.crash_timer, &after) < 0) {
			fprintf(stderr, "demo-service: cannot add the "
			    "crash timer\n");
			goto out;
		}
	}
	if (pidfile) {
		int r = write_pidfile(pidfile);

		if (r < 0) {
			fprintf(stderr, "demo-service: %s: %s\n", pidfile,
			    strerror(-r));
			goto out;
		}
	}
	if (svc.verbose)
		fprintf(stderr, "demo-service %s: listening on "
		    "127.0.0.1:%ld\n", svc.version, port);
	if (event_base_dispatch(svc.base) < 0) {
		fprintf(stderr, "demo-service: event loop failed\n");
		goto out;
	}
	rc = svc.crashed ? 1 : 0;
out:
	/* Held-back requests are freed with their connections by
	 * evhttp_free; only our bookkeeping is ours to free. */
	while (svc.pending) {
		struct pending *p = svc.pending;

		pending_unlink(&svc, p);
		if (p->timer)
			event_free(p->timer);
		free(p);
	}
	if (pidfile && rc == 0) {
		/* Remove the pidfile only if it is still ours: a newer
		 * instance may have replaced it. */
		FILE *f = fopen(pidfile, "r");
		long pid = 0;

		if (f) {
			if (fscanf(f, "%ld", &pid) != 1)
				pid = 0;
			fclose(f);
			if (pid == (long)getpid())
				unlink(pidfile);
		}
	}
	if (svc.tick)
		event_free(svc.tick);
	if (svc.crash_timer)
		event_free(svc.crash_timer);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (http)
		evhttp_free(http);
	event_base_free(svc.base);
	return rc;
}
