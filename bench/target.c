/* The benchmark's loopback HTTP target: one process, one thread, one
 * libevent evhttp server with as many endpoints as the probers want, each
 * of which can be made to fail or to hang, and counters a harness reads to
 * check the probers' work and to time detection.
 *
 *   target --port P [--pidfile F] [--port-file F]
 *	Listens on 127.0.0.1:P (P = 0: a free port). Prints the port on
 *	stdout as one line, and writes it to F with --port-file (written to
 *	F.tmp, then renamed, so a harness polling for F never reads half of
 *	it); --pidfile likewise writes the pid. Runs until SIGTERM or SIGINT,
 *	then prints its totals and CPU per request on stderr, removes the two
 *	files and exits 0.
 *
 *   GET /e/<i>		i any non-negative integer: 200 "ok\n" (keep-alive),
 *			500 while endpoint i fails, no answer while it hangs
 *   GET /ctl/fail/<i>	endpoint i answers 500 from now on; records the
 *			wall time of the flip (last_flip_wall_usec)
 *   GET /ctl/ok/<i>	endpoint i heals: answers 200 again
 *   GET /ctl/hang/<i>	endpoint i accepts requests and holds them unanswered
 *   GET /ctl/reset	every endpoint heals
 *   GET /stats		the counters, one JSON object:
 *	requests	/e/ requests answered or held, in total
 *	connections	TCP connections accepted, in total
 *	endpoints	1 + the highest endpoint requested so far
 *	by_endpoint_min, by_endpoint_max
 *			fewest and most requests of an endpoint in
 *			[0, endpoints): min > 0 says every one was probed
 *	failing, hanging, held
 *			endpoints failing, hanging; requests held now
 *	last_flip_wall_usec, last_flip_mono_usec, last_flip_endpoint
 *			the last /ctl/fail (CLOCK_REALTIME, CLOCK_MONOTONIC;
 *			0 and -1 before the first)
 *	cpu_usec, cpu_per_request_usec
 *			this process's user + system CPU (getrusage), in
 *			total and per /e/ request
 *	pid
 *
 * What it costs: the CPU per request printed at exit (and in /stats; a
 * harness may also read utime + stime from /proc/PID/stat, the pid from
 * --pidfile) shows whether the target could be the bottleneck: at 10,000
 * requests/s it must stay well below one core. Most of it is the kernel's
 * loopback TCP; of the rest, evhttp turning reads and writes on and off
 * around each request was the largest part (see new_base()).
 *
 * A held request stays ours until we answer it, also when its client has
 * gone: libevent 2.1 detaches a request the user has not finished from its
 * closed connection instead of freeing it, and evhttp_send_reply() then
 * just frees it. So held requests are answered (with the endpoint's new
 * state) when their endpoint stops hanging, and with 503 at exit.
 *
 * Endpoints up to ENDPOINTS_MAX - 1 are tracked (counted, and can be
 * failed or hung); higher ones answer 200 and count in "requests" and
 * "untracked" only. The descriptor limit is raised to its hard limit at
 * start so that 10,000 keep-alive clients fit (stderr says if it is
 * lower than that). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "bench.h"
#include "clock.h"

#define ENDPOINTS_MAX	(1u << 20)	/* tracked endpoints: 5 B each */
#define HELD_MAX	100000		/* requests held at once */
#define LISTEN_BACKLOG	4096
#define HEADERS_MAX	8192		/* bytes of request headers */
#define WANT_FDS	10240		/* 10,000 clients and some */
/* Idle keep-alive connections are closed after this long: longer than any
 * gap between a prober's requests, short enough that a prober that died
 * leaves nothing behind for long. */
#define IDLE_TIMEOUT_S	120

enum ep_state { EP_OK, EP_FAIL, EP_HANG };

struct held {
	struct evhttp_request *req;
	uint32_t ep;
};

struct target {
	struct event_base *base;
	struct evhttp *http;
	uint32_t *count;		/* requests per endpoint */
	uint8_t *state;			/* enum ep_state per endpoint */
	uint32_t cap;			/* entries in count and state */
	uint32_t hi;			/* 1 + highest endpoint requested */
	uint32_t failing, hanging;
	struct held *held;
	size_t n_held, held_cap;
	uint64_t requests, connections, untracked;
	uint64_t flip_wall, flip_mono;
	int64_t flip_ep;
};

/* Parse the decimal endpoint number that is all of s (a query string is
 * ignored). -EINVAL if s is not one, -ERANGE beyond UINT32_MAX. */
static int parse_ep(const char *s, uint32_t *ret_ep)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -ERANGE;
	}
	if (*p != '\0' && *p != '?')
		return -EINVAL;
	*ret_ep = (uint32_t)v;
	return 0;
}

/* Make room for endpoint ep in the per-endpoint arrays (doubling). */
static int ep_reserve(struct target *t, uint32_t ep)
{
	uint32_t cap = t->cap ? t->cap : 1024;
	uint32_t *c;
	uint8_t *s;

	if (ep < t->cap)
		return 0;
	if (ep >= ENDPOINTS_MAX)
		return -ERANGE;
	while (cap <= ep)
		cap *= 2;
	if (cap > ENDPOINTS_MAX)
		cap = ENDPOINTS_MAX;
	c = realloc(t->count, cap * sizeof(*c));
	if (!c)
		return -ENOMEM;
	t->count = c;
	s = realloc(t->state, cap);
	if (!s)
		return -ENOMEM;
	t->state = s;
	memset(c + t->cap, 0, (cap - t->cap) * sizeof(*c));
	memset(s + t->cap, EP_OK, cap - t->cap);
	t->cap = cap;
	return 0;
}

/* Answer one /e/ request as an endpoint in state st answers. */
static void answer(struct evhttp_request *req, enum ep_state st)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain");
	if (st == EP_FAIL) {
		evbuffer_add(out, "failing\n", 8);
		evhttp_send_reply(req, 500, "Internal Server Error", NULL);
	} else {
		evbuffer_add(out, "ok\n", 3);
		evhttp_send_reply(req, 200, "OK", NULL);
	}
}

/* Answer the requests held for ep (all of them with ep = UINT32_MAX) as
 * state st answers; 503 when st is EP_HANG (exit). */
static void release_held(struct target *t, uint32_t ep, enum ep_state st)
{
	size_t i, kept = 0;

	for (i = 0; i < t->n_held; i++) {
		struct held *h = &t->held[i];

		if (ep != UINT32_MAX && h->ep != ep) {
			t->held[kept++] = *h;
			continue;
		}
		if (st == EP_HANG)
			evhttp_send_reply(h->req, 503, "Service Unavailable", NULL);
		else
			answer(h->req, st);
	}
	t->n_held = kept;
}

/* Move endpoint ep to state st, releasing what it held. */
static void ep_set(struct target *t, uint32_t ep, enum ep_state st)
{
	enum ep_state old = (enum ep_state)t->state[ep];

	if (old == st)
		return;
	t->failing -= old == EP_FAIL;
	t->hanging -= old == EP_HANG;
	t->failing += st == EP_FAIL;
	t->hanging += st == EP_HANG;
	t->state[ep] = (uint8_t)st;
	if (old == EP_HANG)
		release_held(t, ep, st);
}

/* Hold req for ep; false when the hold list is full. */
static bool hold(struct target *t, struct evhttp_request *req, uint32_t ep)
{
	if (t->n_held == t->held_cap) {
		size_t cap = t->held_cap ? t->held_cap * 2 : 64;
		struct held *h;

		if (t->held_cap >= HELD_MAX)
			return false;
		if (cap > HELD_MAX)
			cap = HELD_MAX;
		h = realloc(t->held, cap * sizeof(*h));
		if (!h)
			return false;
		t->held = h;
		t->held_cap = cap;
	}
	t->held[t->n_held].req = req;
	t->held[t->n_held].ep = ep;
	t->n_held++;
	return true;
}

/* GET /e/<i>: the hot path. */
static void serve_endpoint(struct target *t, struct evhttp_request *req,
    const char *arg)
{
	enum ep_state st = EP_OK;
	uint32_t ep;

	if (parse_ep(arg, &ep) < 0) {
		evhttp_send_error(req, 404, "no such endpoint");
		return;
	}
	t->requests++;
	if (ep_reserve(t, ep) < 0) {
		t->untracked++;
		answer(req, EP_OK);
		return;
	}
	t->count[ep]++;
	if (ep >= t->hi)
		t->hi = ep + 1;
	st = (enum ep_state)t->state[ep];
	if (st == EP_HANG) {
		if (!hold(t, req, ep))
			evhttp_send_error(req, 503, "too many held requests");
		return;
	}
	answer(req, st);
}

/* Send a small text answer. */
static void reply_text(struct evhttp_request *req, int code, const char *reason,
    const char *text)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain");
	evbuffer_add_printf(evhttp_request_get_output_buffer(req), "%s\n", text);
	evhttp_send_reply(req, code, reason, NULL);
}

/* GET /ctl/...: flip endpoints. */
static void serve_ctl(struct target *t, struct evhttp_request *req,
    const char *what)
{
	static const struct {
		const char *prefix;
		enum ep_state st;
	} verbs[] = {
		{ "fail/", EP_FAIL }, { "ok/", EP_OK }, { "hang/", EP_HANG },
	};
	uint32_t ep;
	size_t i;

	if (strcmp(what, "reset") == 0) {
		for (ep = 0; ep < t->cap; ep++)
			t->state[ep] = EP_OK;
		t->failing = t->hanging = 0;
		release_held(t, UINT32_MAX, EP_OK);
		reply_text(req, 200, "OK", "reset");
		return;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		size_t n = strlen(verbs[i].prefix);

		if (strncmp(what, verbs[i].prefix, n) != 0)
			continue;
		if (parse_ep(what + n, &ep) < 0 || ep_reserve(t, ep) < 0) {
			reply_text(req, 400, "Bad Request",
			    "endpoint: an integer below 1048576");
			return;
		}
		if (verbs[i].st == EP_FAIL) {
			t->flip_wall = rbd_clock_usec(CLOCK_REALTIME);
			t->flip_mono = rbd_clock_usec(CLOCK_MONOTONIC);
			t->flip_ep = ep;
		}
		ep_set(t, ep, verbs[i].st);
		reply_text(req, 200, "OK", verbs[i].prefix);
		return;
	}
	reply_text(req, 404, "Not Found", "ctl: fail/<i>, ok/<i>, hang/<i>, reset");
}

/* GET /stats. */
static void serve_stats(struct target *t, struct evhttp_request *req)
{
	uint32_t min = 0, max = 0, ep;
	uint64_t cpu = self_cpu_usec();

	for (ep = 0; ep < t->hi; ep++) {
		if (ep == 0 || t->count[ep] < min)
			min = t->count[ep];
		if (t->count[ep] > max)
			max = t->count[ep];
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evbuffer_add_printf(evhttp_request_get_output_buffer(req),
	    "{\"requests\":%" PRIu64 ",\"connections\":%" PRIu64
	    ",\"endpoints\":%" PRIu32 ",\"by_endpoint_min\":%" PRIu32
	    ",\"by_endpoint_max\":%" PRIu32 ",\"untracked\":%" PRIu64
	    ",\"failing\":%" PRIu32 ",\"hanging\":%" PRIu32 ",\"held\":%zu"
	    ",\"last_flip_wall_usec\":%" PRIu64 ",\"last_flip_mono_usec\":%" PRIu64
	    ",\"last_flip_endpoint\":%" PRId64 ",\"cpu_usec\":%" PRIu64
	    ",\"cpu_per_request_usec\":%.3f,\"pid\":%ld}\n",
	    t->requests, t->connections, t->hi, min, max, t->untracked,
	    t->failing, t->hanging, t->n_held, t->flip_wall, t->flip_mono,
	    t->flip_ep, cpu,
	    t->requests ? (double)cpu / (double)t->requests : 0.0,
	    (long)getpid());
	evhttp_send_reply(req, 200, "OK", NULL);
}

/* Every request: route on the path. */
static void serve(struct evhttp_request *req, void *arg)
{
	struct target *t = arg;
	const char *uri = evhttp_request_get_uri(req);

	if (strncmp(uri, "/e/", 3) == 0)
		serve_endpoint(t, req, uri + 3);
	else if (strncmp(uri, "/ctl/", 5) == 0)
		serve_ctl(t, req, uri + 5);
	else if (strcmp(uri, "/stats") == 0)
		serve_stats(t, req);
	else
		reply_text(req, 404, "Not Found", "not found: /e/<i>, /ctl/..., /stats");
}

/* evhttp asks for a bufferevent once per accepted connection: count it
 * and give it what it would have made itself. */
static struct bufferevent *new_conn(struct event_base *base, void *arg)
{
	struct target *t = arg;

	t->connections++;
	return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

static void on_signal(evutil_socket_t sig, short kind, void *arg)
{
	(void)sig;
	(void)kind;
	event_base_loopexit(arg, NULL);
}

/* Write "value\n" to path through path.tmp and a rename. */
static int write_file(const char *path, long value)
{
	char tmp[PATH_MAX];
	FILE *f;
	int r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%ld\n", value);
	if (fclose(f) != 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	return 0;
}

/* A listening socket on 127.0.0.1:port; its port in *ret_port. */
static int listen_loopback(unsigned port, unsigned *ret_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd, one = 1, r;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

/* The event base. evhttp turns reading and writing on and off around
 * every request; with epoll's changelist those changes are batched until
 * the next epoll_wait and the ones that cancel out are never made, which
 * takes most epoll_ctl calls off the hot path. */
static struct event_base *new_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (!cfg)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: target --port P [--pidfile F] [--port-file F]\n"
	    "  P = 0: any free port; it is printed on stdout either way\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "pidfile", required_argument, NULL, 'P' },
		{ "port-file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct target t = { .flip_ep = -1 };
	struct event *sigs[2] = { NULL, NULL };
	const char *pidfile = NULL, *portfile = NULL;
	unsigned port = 0;
	bool have_port = false, pid_written = false, port_written = false;
	uint64_t cpu;
	rlim_t nofile;
	char *end;
	long v;
	int c, fd, r, rc = 1;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 0 || v > 65535) {
				fprintf(stderr, "target: --port: 0..65535\n");
				return 2;
			}
			port = (unsigned)v;
			have_port = true;
			break;
		case 'P':
			pidfile = optarg;
			break;
		case 'f':
			portfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!have_port || optind != argc) {
		usage(stderr);
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	nofile = raise_nofile();
	if (nofile < WANT_FDS)
		fprintf(stderr, "target: descriptor limit %llu, below the %d that "
		    "10,000 keep-alive clients need: raise the hard limit "
		    "(ulimit -Hn)\n", (unsigned long long)nofile, WANT_FDS);
	fd = listen_loopback(port, &port);
	if (fd < 0) {
		fprintf(stderr, "target: listen on 127.0.0.1:%u: %s\n", port,
		    strerror(-fd));
		return 1;
	}
	t.base = new_base();
	t.http = t.base ? evhttp_new(t.base) : NULL;
	if (!t.http || !evhttp_accept_socket_with_handle(t.http, fd)) {
		fprintf(stderr, "target: evhttp setup failed\n");
		close(fd);
		goto out;
	}
	evhttp_set_allowed_methods(t.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(t.http, HEADERS_MAX);
	evhttp_set_max_body_size(t.http, 0);
	evhttp_set_timeout(t.http, IDLE_TIMEOUT_S);
	evhttp_set_gencb(t.http, serve, &t);
	evhttp_set_bevcb(t.http, new_conn, &t);
	sigs[0] = evsignal_new(t.base, SIGTERM, on_signal, t.base);
	sigs[1] = evsignal_new(t.base, SIGINT, on_signal, t.base);
	if (!sigs[0] || !sigs[1] || evsignal_add(sigs[0], NULL) < 0 ||
	    evsignal_add(sigs[1], NULL) < 0) {
		fprintf(stderr, "target: signal setup failed\n");
		goto out;
	}
	if (pidfile) {
		if ((r = write_file(pidfile, (long)getpid())) < 0) {
			fprintf(stderr, "target: %s: %s\n", pidfile, strerror(-r));
			goto out;
		}
		pid_written = true;
	}
	if (portfile) {
		if ((r = write_file(portfile, (long)port)) < 0) {
			fprintf(stderr, "target: %s: %s\n", portfile, strerror(-r));
			goto out;
		}
		port_written = true;
	}
	printf("%u\n", port);
	fflush(stdout);

	if (event_base_dispatch(t.base) < 0) {
		fprintf(stderr, "target: event loop failed\n");
		goto out;
	}
	cpu = self_cpu_usec();
	fprintf(stderr, "target: requests=%" PRIu64 " connections=%" PRIu64
	    " cpu_usec=%" PRIu64 " cpu_per_request_usec=%.3f"
	    " fd_limit=%llu\n", t.requests, t.connections, cpu,
	    t.requests ? (double)cpu / (double)t.requests : 0.0,
	    (unsigned long long)nofile);
	rc = 0;
out:
	/* Held requests are ours, connection or not: answer them before the
	 * server and its connections go. */
	release_held(&t, UINT32_MAX, EP_HANG);
	if (t.http)
		evhttp_free(t.http);
	if (sigs[0])
		event_free(sigs[0]);
	if (sigs[1])
		event_free(sigs[1]);
	if (t.base)
		event_base_free(t.base);
	free(t.held);
	free(t.count);
	free(t.state);
	if (pid_written)
		unlink(pidfile);
	if (port_written)
		unlink(portfile);
	return rc;
}
