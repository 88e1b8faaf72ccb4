/* demo-service: the demo's and the integration tests' HTTP service.
 *
 *   demo-service --port PORT --version VERSION [--pidfile FILE]
 *                [--fail-after-requests N] [--verbose]
 *
 * A small evhttp server on 127.0.0.1 whose health depends on the version it
 * was started as, so that "deploying a bad release" is just starting it with
 * another version string:
 *
 *   GET /healthz   version contains "bad":   500 "unhealthy"
 *                  version contains "hang":  the request is accepted and
 *                                            never answered
 *                  version contains "slow":  200 "ok" after 3 s
 *                  version contains "flaky": 500 on every 2nd request
 *                  otherwise:                200 "ok"
 *                  --fail-after-requests N:  healthy for N requests, then
 *                                            500 (N = 0: always 500)
 *   GET /version   the version
 *
 * The pid is written to --pidfile once the port is bound, so a deploy script
 * that waits for the pidfile knows the port is open. SIGTERM and SIGINT stop
 * it cleanly (through libevent, not in a handler). */
#include <errno.h>
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

/* A request whose answer is held back: slow ones until their timer fires,
 * hanging ones until exit. */
struct pending {
	struct evhttp_request *req;
	struct event *timer;		/* NULL: never answered (hang) */
	struct pending *next, *prev;
	struct service *svc;
};

struct service {
	struct event_base *base;
	const char *version;
	long fail_after;		/* -1: not set */
	unsigned long healthz_requests;
	bool verbose;
	bool bad, hang, slow, flaky;
	struct pending *pending;
	size_t n_pending;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: demo-service --port PORT --version VERSION "
	    "[--pidfile FILE] [--fail-after-requests N] [--verbose]\n");
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
	reply(p->req, 200, "ok");
	event_free(p->timer);
	free(p);
}

/* Hold req back: answered after SLOW_SEC when slow, never when not. */
static void hold(struct service *svc, struct evhttp_request *req, bool slow)
{
	struct timeval tv = { SLOW_SEC, 0 };
	struct pending *p;

	if (svc->n_pending >= PENDING_MAX) {
		reply(req, 503, "busy");
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		reply(req, 500, "out of memory");
		return;
	}
	p->req = req;
	p->svc = svc;
	if (slow) {
		p->timer = evtimer_new(svc->base, slow_cb, p);
		if (!p->timer || evtimer_add(p->timer, &tv) < 0) {
			if (p->timer)
				event_free(p->timer);
			free(p);
			reply(req, 500, "out of memory");
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

	if (svc->fail_after >= 0 && n > (unsigned long)svc->fail_after) {
		reply(req, 500, "unhealthy");
		return;
	}
	if (svc->bad || (svc->flaky && n % 2 == 0)) {
		reply(req, 500, "unhealthy");
		return;
	}
	if (svc->hang || svc->slow) {
		hold(svc, req, svc->slow);
		return;
	}
	reply(req, 200, "ok");
}

/* Every request: route on the path, GET only. */
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
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET)
		reply(req, 405, "method not allowed");
	else if (path && strcmp(path, "/healthz") == 0)
		healthz(svc, req);
	else if (path && strcmp(path, "/version") == 0)
		reply(req, 200, svc->version);
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
	svc.slow = strstr(svc.version, "slow") != NULL;
	svc.flaky = strstr(svc.version, "flaky") != NULL;

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
	rc = 0;
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
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (http)
		evhttp_free(http);
	event_base_free(svc.base);
	return rc;
}
