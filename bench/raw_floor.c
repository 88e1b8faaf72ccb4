/* The system-call floor: what N HTTP checks a second cost with nothing but
 * sockets and a libevent loop, each check keeping its own keep-alive TCP
 * connection. Below this no HTTP prober can go; bench/curl_floor is the
 * same schedule through libcurl (issue 7, item 2).
 *
 *   raw_floor --url http://127.0.0.1:P --n N --interval-ms MS --seconds S
 *	[--warmup S] [--timeout-ms MS]
 *
 * The schedule is curl_floor's: check i probes every MS milliseconds, first
 * at i * MS / N into the run, skipped when the previous one is still
 * running or it could only start a whole interval late. A probe writes
 * "GET /e/<i> HTTP/1.1\r\nHost: x\r\n\r\n" on the check's connection
 * (connecting first, non-blocking, if it has none) and reads the answer
 * just far enough to find its end: the status line, the Content-Length
 * and Connection headers, the blank line, Content-Length bytes of body. It
 * is ok when the status is 200 and the answer is complete within
 * --timeout-ms (default: the interval). The output is curl_floor's JSON
 * line (see there for each field) without handles, fresh and max_conns;
 * "start" for lateness is the send() or connect(), "connects" counts the
 * connections this program opened, and "retries" the probes sent again on
 * a new connection. Same exit status (0 all ok, 3 completed with errors or
 * no probes, 1 setup failure, 2 usage).
 *
 * Per probe, in steady state: one send(), one recv() (a loopback answer
 * arrives whole) and a share of one epoll_wait(). The connection's read
 * event stays registered while it lives, so epoll_ctl runs only on connect
 * and close, and a connection the server closed between probes is seen and
 * dropped at once; the probe's timeout (--timeout-ms, default the
 * interval) is the read event's timeout, set while a probe is in flight.
 * A probe whose reused connection turns out closed before any answer byte
 * is retried once on a new connection, as HTTP clients do.
 *
 * Only a numeric IPv4 host is supported, and answers with Content-Length
 * (no chunked encoding): enough for bench/target. Every check holds a
 * descriptor, so the descriptor limit is raised to the hard limit at start;
 * if that is below N + 64 the program says so and stops.
 *
 * Smoke size (< 5 s, for make check): with a target on port P,
 *   raw_floor --url http://127.0.0.1:P --n 200 --interval-ms 1000 \
 *	--seconds 2 --warmup 1 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench.h"
#include "clock.h"

#define N_MAX		1000000
#define FDS_SPARE	64		/* descriptors beyond one per check */
#define RECV_BUF	4096
#define LINE_KEEP	40		/* bytes of a header line looked at */
#define HEADERS_MAX	(16 * 1024)	/* bytes of headers before giving up */
#define BODY_MAX	(1024 * 1024)	/* announced body we are willing to read */
enum conn_state {
	C_NONE,			/* no connection */
	C_CONNECTING,		/* connect() in progress, request to send */
	C_IDLE,			/* connected, no probe in flight */
	C_WAITING,		/* request sent, reading the answer */
};

enum parse_phase { P_STATUS, P_HEADERS, P_BODY };

/* One check: its connection and the state of the probe in flight. */
struct check {
	struct event *ev;	/* EV_WRITE while connecting, else
				 * EV_READ | EV_PERSIST */
	int fd;
	uint32_t idx;
	uint8_t state;		/* enum conn_state */
	uint8_t phase;		/* enum parse_phase */
	uint8_t line_len;	/* length of the current line so far,
				 * saturating; its first LINE_KEEP bytes
				 * are in line */
	bool busy;		/* a probe is in flight */
	bool reused;		/* on a connection an earlier probe used */
	bool got_bytes;		/* some of the answer arrived */
	bool close_after;	/* the answer said Connection: close */
	bool have_length;
	uint16_t status;
	uint32_t header_bytes;
	uint32_t body_left;
	uint64_t planned;	/* the probe's planned start */
	char line[LINE_KEEP];
};

struct counts {
	uint64_t probes, achieved, errors, skipped, connects, retries;
};

struct floor {
	struct event_base *base;
	struct event *sched;
	struct sockaddr_in addr;
	struct timeval timeout;
	struct check *checks;
	uint32_t n;
	uint64_t interval;
	uint64_t t0;
	uint64_t period;
	uint32_t next;
	bool measuring;
	uint64_t m0;			/* start of the measured period */
	struct counts c;
	struct lat_hist lat;
	char first_error[128];
};

static void conn_event_cb(evutil_socket_t fd, short kind, void *arg);
static void connect_event_cb(evutil_socket_t fd, short kind, void *arg);

/* The floor every check points back to: one per process. */
static struct floor *g_floor;

/* Whether a probe planned at planned belongs to the measured period. */
static bool in_window(const struct floor *f, uint64_t planned)
{
	return f->measuring && planned >= f->m0;
}

/* Drop check k's connection, if any. Its event is kept for the next
 * connection (event_del, unlike event_free, is safe from the event's own
 * callback). */
static void conn_close(struct check *k)
{
	if (k->ev)
		event_del(k->ev);
	if (k->fd >= 0) {
		close(k->fd);
		k->fd = -1;
	}
	k->state = C_NONE;
}

/* The probe in flight on k is over: count it. */
static void probe_done(struct floor *f, struct check *k, bool ok,
    const char *why)
{
	k->busy = false;
	if (!f->measuring)
		return;
	f->c.probes++;
	f->c.achieved += k->planned >= f->m0;
	if (!ok && f->c.errors++ == 0)
		snprintf(f->first_error, sizeof(f->first_error),
		    "check %" PRIu32 ": %s", k->idx, why);
}

/* Fail the probe in flight and drop the connection. */
static void probe_fail(struct floor *f, struct check *k, const char *why)
{
	conn_close(k);
	probe_done(f, k, false, why);
}

/* Decimal digits of v into buf; returns the length (no NUL). */
static size_t put_u32(char *buf, uint32_t v)
{
	char tmp[10];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

/* Write k's request and wait for the answer; false if the write failed
 * (the caller decides). A short write counts as failed: a 40-byte request
 * into an idle socket's empty buffer is never split unless the peer has
 * stopped reading. */
static bool send_request(struct floor *f, struct check *k)
{
	static const char head[] = "GET /e/";
	static const char tail[] = " HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[sizeof(head) + 10 + sizeof(tail)];
	size_t len = sizeof(head) - 1;
	ssize_t w;

	memcpy(buf, head, len);
	len += put_u32(buf + len, k->idx);
	memcpy(buf + len, tail, sizeof(tail) - 1);
	len += sizeof(tail) - 1;
	w = send(k->fd, buf, len, MSG_NOSIGNAL);
	if (w != (ssize_t)len)
		return false;
	k->phase = P_STATUS;
	k->line_len = 0;
	k->got_bytes = false;
	k->close_after = false;
	k->have_length = false;
	k->status = 0;
	k->header_bytes = 0;
	k->body_left = 0;
	k->state = C_WAITING;
	/* The read event is pending already: this only sets its timeout
	 * (libevent's heap, no system call). */
	event_add(k->ev, &f->timeout);
	return true;
}

/* Watch k's socket: for the end of a connect (EV_WRITE, with the probe's
 * timeout) or, once connected, for reads for as long as it lives. The
 * event is not pending here (new, deleted, or a one-shot that fired), as
 * event_assign wants. */
static int watch(struct floor *f, struct check *k, bool connecting)
{
	if (connecting)
		return event_assign(k->ev, f->base, k->fd, EV_WRITE,
		    connect_event_cb, k) < 0 ||
		    event_add(k->ev, &f->timeout) < 0 ? -EIO : 0;
	return event_assign(k->ev, f->base, k->fd, EV_READ | EV_PERSIST,
	    conn_event_cb, k) < 0 || event_add(k->ev, NULL) < 0 ? -EIO : 0;
}

/* Open a connection for k's probe; its request goes out once connected. */
static void conn_open(struct floor *f, struct check *k)
{
	int fd, one = 1;

	if (!k->ev && !(k->ev = event_new(f->base, -1, 0, NULL, NULL))) {
		probe_done(f, k, false, "out of memory");
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		probe_done(f, k, false, strerror(errno));
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	k->fd = fd;
	k->reused = false;
	if (f->measuring)
		f->c.connects++;
	if (connect(fd, (struct sockaddr *)&f->addr, sizeof(f->addr)) == 0) {
		if (watch(f, k, false) < 0 || !send_request(f, k))
			probe_fail(f, k, "connected, but the request failed");
		return;
	}
	if (errno != EINPROGRESS) {
		probe_fail(f, k, strerror(errno));
		return;
	}
	k->state = C_CONNECTING;
	if (watch(f, k, true) < 0)
		probe_fail(f, k, "cannot watch the socket");
}

/* The non-blocking connect finished (or timed out). */
static void connect_event_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct check *k = arg;
	struct floor *f = g_floor;
	socklen_t len = sizeof(int);
	int err = 0;

	if (kind & EV_TIMEOUT) {
		probe_fail(f, k, "connect timed out");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		probe_fail(f, k, strerror(err));
		return;
	}
	if (watch(f, k, false) < 0 || !send_request(f, k))
		probe_fail(f, k, "connected, but the request failed");
}

/* The current line is complete: the status line or a header. line_len
 * is its full length without the newline (saturating at UINT8_MAX), of
 * which the first LINE_KEEP bytes are in line. Returns 1 at the blank line
 * that ends the headers, 0 for another line, -1 when the answer is not one
 * this client reads. */
static int line_end(struct check *k)
{
	const char *l = k->line;
	size_t full = k->line_len;
	size_t kept = full < LINE_KEEP ? full : LINE_KEEP;
	bool whole = full <= LINE_KEEP;

	k->line_len = 0;
	if (whole && kept && l[kept - 1] == '\r')
		kept--;
	if (k->phase == P_STATUS) {
		/* "HTTP/1.x NNN ...": only its first 12 bytes matter. */
		if (kept < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[8] != ' ' ||
		    l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' ||
		    l[11] < '0' || l[11] > '9')
			return -1;
		k->status = (uint16_t)((l[9] - '0') * 100 + (l[10] - '0') * 10 +
		    (l[11] - '0'));
		k->phase = P_HEADERS;
		return 0;
	}
	if (!whole)		/* a long header: neither of ours */
		return 0;
	if (kept == 0)
		return k->have_length ? 1 : -1;
	if (kept > 15 && strncasecmp(l, "content-length:", 15) == 0) {
		uint64_t v = 0;
		size_t i = 15;

		while (i < kept && (l[i] == ' ' || l[i] == '\t'))
			i++;
		if (i == kept)
			return -1;
		for (; i < kept && l[i] >= '0' && l[i] <= '9'; i++)
			if ((v = v * 10 + (uint64_t)(l[i] - '0')) > BODY_MAX)
				return -1;
		while (i < kept && (l[i] == ' ' || l[i] == '\t'))
			i++;
		if (i != kept)
			return -1;
		k->body_left = (uint32_t)v;
		k->have_length = true;
	} else if (kept > 11 && strncasecmp(l, "connection:", 11) == 0) {
		size_t i = 11;

		while (i < kept && (l[i] == ' ' || l[i] == '\t'))
			i++;
		if (kept - i >= 5 && strncasecmp(l + i, "close", 5) == 0)
			k->close_after = true;
	} else if (kept > 18 && strncasecmp(l, "transfer-encoding:", 18) == 0) {
		return -1;	/* chunked: not for this client */
	}
	return 0;
}

/* Take n more bytes of the answer. Returns 1 when it is complete, 0 when
 * more is to come, -1 when it cannot be parsed. Bytes past its end (a
 * server that sends more than it announced) are an error too. */
static int parse(struct check *k, const char *p, size_t n)
{
	size_t i = 0;
	int r;

	while (i < n && k->phase != P_BODY) {
		/* Headers, a byte at a time: an answer is ~100 bytes. */
		char ch = p[i++];

		if (++k->header_bytes > HEADERS_MAX)
			return -1;
		if (ch != '\n') {
			if (k->line_len < LINE_KEEP)
				k->line[k->line_len] = ch;
			if (k->line_len < UINT8_MAX)
				k->line_len++;
			continue;
		}
		if ((r = line_end(k)) < 0)
			return -1;
		if (r == 1)
			k->phase = P_BODY;
	}
	if (k->phase != P_BODY)
		return 0;
	if (n - i > k->body_left)
		return -1;
	k->body_left -= (uint32_t)(n - i);
	return k->body_left == 0 ? 1 : 0;
}

/* The connection's read event: the answer (or a close, or the timeout). */
static void conn_event_cb(evutil_socket_t fd, short kind, void *arg)
{
	static char buf[RECV_BUF];
	struct check *k = arg;
	struct floor *f = g_floor;
	ssize_t r;
	int done;

	if (kind & EV_TIMEOUT) {
		probe_fail(f, k, "timed out");
		return;
	}
	r = recv(fd, buf, sizeof(buf), 0);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (k->state != C_WAITING) {
		/* Between probes: the server closed, or sent what nobody
		 * asked for. Either way the connection is done. */
		conn_close(k);
		return;
	}
	if (r <= 0) {
		const char *why = r == 0 ? "connection closed" : strerror(errno);

		if (k->reused && !k->got_bytes) {
			/* A kept connection the server had closed: once more
			 * on a new one. */
			conn_close(k);
			if (f->measuring)
				f->c.retries++;
			conn_open(f, k);
			return;
		}
		probe_fail(f, k, why);
		return;
	}
	k->got_bytes = true;
	done = parse(k, buf, (size_t)r);
	if (done == 0)
		return;
	if (done < 0) {
		probe_fail(f, k, "unparsable answer");
		return;
	}
	/* Complete: keep the connection, with no timeout while idle. */
	k->state = C_IDLE;
	k->reused = true;
	if (k->close_after)
		conn_close(k);
	else
		event_remove_timer(k->ev);
	if (k->status == 200)
		probe_done(f, k, true, NULL);
	else {
		char why[32];

		snprintf(why, sizeof(why), "status %u", (unsigned)k->status);
		probe_done(f, k, false, why);
	}
}

/* Start check i's probe planned at planned (now is the clock). */
static void launch(struct floor *f, uint32_t i, uint64_t planned, uint64_t now)
{
	struct check *k = &f->checks[i];

	/* Still running, or so late that its next one is due: skipped, as a
	 * scheduler that falls behind must (launching the backlog would
	 * only add probes that time out). */
	if (k->busy || now - planned >= f->interval) {
		if (in_window(f, planned))
			f->c.skipped++;
		return;
	}
	k->busy = true;
	k->planned = planned;
	if (in_window(f, planned))
		hist_add(&f->lat, now > planned ? now - planned : 0);
	if (k->state == C_IDLE) {
		if (send_request(f, k))
			return;
		/* The kept connection is gone: a new one. */
		conn_close(k);
		if (f->measuring)
			f->c.retries++;
	}
	conn_open(f, k);
}

/* Planned start of the cursor's probe. */
static uint64_t cursor_planned(const struct floor *f)
{
	return f->t0 + f->period * f->interval +
	    (uint64_t)f->next * f->interval / f->n;
}

/* Arm the schedule timer for the cursor's probe. */
static void sched_arm(struct floor *f, uint64_t now)
{
	uint64_t at = cursor_planned(f);
	struct timeval tv = rbd_usec_tv(at > now ? at - now : 0);

	evtimer_add(f->sched, &tv);
}

/* The schedule timer: start every probe that is due, in order; far
 * behind, one period's worth at a time. */
static void sched_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct floor *f = arg;
	uint64_t now = rbd_mono_usec(), planned;
	uint32_t done = 0;

	(void)fd;
	(void)kind;
	while ((planned = cursor_planned(f)) <= now && done < f->n) {
		launch(f, f->next, planned, now);
		if (++f->next == f->n) {
			f->next = 0;
			f->period++;
		}
		done++;
	}
	sched_arm(f, now);
}

static bool run_for(struct floor *f, uint64_t usec)
{
	struct timeval tv = rbd_usec_tv(usec);

	event_base_loopexit(f->base, &tv);
	return event_base_dispatch(f->base) >= 0;
}

/* "http://A.B.C.D:PORT" with an optional trailing slash. */
static int parse_url(const char *url, struct sockaddr_in *ret)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[INET_ADDRSTRLEN];
	const char *h, *colon;
	char *end;
	long port;

	if (strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	h = url + 7;
	colon = strchr(h, ':');
	if (!colon || (size_t)(colon - h) >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, (size_t)(colon - h));
	host[colon - h] = '\0';
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || port < 1 || port > 65535 ||
	    (*end && strcmp(end, "/") != 0))
		return -EINVAL;
	sa.sin_port = htons((uint16_t)port);
	*ret = sa;
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: raw_floor --url http://A.B.C.D:P --n N "
	    "--interval-ms MS --seconds S\n"
	    "                 [--warmup S] [--timeout-ms MS]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "n", required_argument, NULL, 'n' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct floor *f;
	long n = 0, interval_ms = 0, seconds = 0, warmup = 3, timeout_ms = -1, v;
	uint64_t cpu0, cpu1, m0, m1;
	const char *url = NULL;
	double intended;
	rlim_t nofile;
	uint32_t i;
	long rss;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			url = optarg;
			break;
		case 'n':
			if (bench_parse_num("raw_floor", "n", optarg, 1, N_MAX, &n) < 0)
				return 2;
			break;
		case 'i':
			if (bench_parse_num("raw_floor", "interval-ms", optarg, 1, 3600000, &interval_ms) < 0)
				return 2;
			break;
		case 's':
			if (bench_parse_num("raw_floor", "seconds", optarg, 1, 86400, &seconds) < 0)
				return 2;
			break;
		case 'w':
			if (bench_parse_num("raw_floor", "warmup", optarg, 0, 3600, &warmup) < 0)
				return 2;
			break;
		case 't':
			if (bench_parse_num("raw_floor", "timeout-ms", optarg, 1, 3600000, &v) < 0)
				return 2;
			timeout_ms = v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!url || !n || !interval_ms || !seconds || optind != argc) {
		usage(stderr);
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	nofile = raise_nofile();
	if (nofile < (rlim_t)n + FDS_SPARE) {
		fprintf(stderr, "raw_floor: %ld checks need %ld descriptors, the "
		    "hard limit allows %llu: raise it (ulimit -Hn)\n", n,
		    n + FDS_SPARE, (unsigned long long)nofile);
		return 1;
	}
	f = g_floor = calloc(1, sizeof(*f));
	if (!f) {
		fprintf(stderr, "raw_floor: out of memory\n");
		return 1;
	}
	if (parse_url(url, &f->addr) < 0) {
		fprintf(stderr, "raw_floor: --url: http://A.B.C.D:PORT (numeric IPv4)\n");
		free(f);
		return 2;
	}
	f->n = (uint32_t)n;
	f->interval = (uint64_t)interval_ms * RBD_USEC_PER_MSEC;
	f->timeout = rbd_usec_tv((uint64_t)(timeout_ms > 0 ? timeout_ms : interval_ms) *
	    RBD_USEC_PER_MSEC);
	f->checks = calloc(f->n, sizeof(*f->checks));
	f->base = event_base_new();
	if (!f->checks || !f->base ||
	    !(f->sched = evtimer_new(f->base, sched_cb, f))) {
		fprintf(stderr, "raw_floor: setup failed\n");
		goto out;
	}
	for (i = 0; i < f->n; i++) {
		f->checks[i].fd = -1;
		f->checks[i].idx = i;
	}

	f->t0 = rbd_mono_usec();
	sched_arm(f, f->t0);
	if (warmup && !run_for(f, (uint64_t)warmup * RBD_USEC_PER_SEC)) {
		fprintf(stderr, "raw_floor: event loop failed\n");
		goto out;
	}
	m0 = f->m0 = rbd_mono_usec();
	f->measuring = true;
	cpu0 = self_cpu_usec();
	if (!run_for(f, (uint64_t)seconds * RBD_USEC_PER_SEC)) {
		fprintf(stderr, "raw_floor: event loop failed\n");
		goto out;
	}
	cpu1 = self_cpu_usec();
	m1 = rbd_mono_usec();
	rss = rss_kib();

	intended = (double)f->n * (double)(m1 - m0) / (double)f->interval;
	printf("{\"n\":%" PRIu32 ",\"interval_ms\":%ld,\"seconds\":%ld"
	    ",\"elapsed_usec\":%" PRIu64 ",\"probes\":%" PRIu64
	    ",\"intended\":%.0f,\"achieved\":%" PRIu64 ",\"achieved_ratio\":%.4f,\"cpu_usec\":%" PRIu64
	    ",\"cpu_per_probe_usec\":%.2f,\"rss_kib\":%ld"
	    ",\"lateness_p50_usec\":%" PRIu64 ",\"lateness_p99_usec\":%" PRIu64
	    ",\"lateness_max_usec\":%" PRIu64 ",\"errors\":%" PRIu64
	    ",\"skipped\":%" PRIu64 ",\"connects\":%" PRIu64
	    ",\"connects_per_probe\":%.4f,\"retries\":%" PRIu64 "}\n",
	    f->n, interval_ms, seconds, m1 - m0, f->c.probes, intended,
	    f->c.achieved, intended > 0 ? (double)f->c.achieved / intended : 0.0,
	    cpu1 - cpu0,
	    f->c.probes ? (double)(cpu1 - cpu0) / (double)f->c.probes : 0.0,
	    rss, hist_quantile(&f->lat, 0.50), hist_quantile(&f->lat, 0.99),
	    f->lat.max, f->c.errors, f->c.skipped, f->c.connects,
	    f->c.probes ? (double)f->c.connects / (double)f->c.probes : 0.0,
	    f->c.retries);
	fflush(stdout);
	if (f->c.errors)
		fprintf(stderr, "raw_floor: %" PRIu64 " errors; the first: %s\n",
		    f->c.errors, f->first_error);
	rc = f->c.probes > 0 && f->c.errors == 0 ? 0 : 3;
out:
	if (f->checks)
		for (i = 0; i < f->n; i++) {
			conn_close(&f->checks[i]);
			if (f->checks[i].ev)
				event_free(f->checks[i].ev);
		}
	free(f->checks);
	if (f->sched)
		event_free(f->sched);
	if (f->base)
		event_base_free(f->base);
	free(f);
	return rc;
}
