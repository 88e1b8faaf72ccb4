/* The library floor: what N HTTP checks a second cost through bare libcurl
 * multi on a libevent loop, with nothing of rollbackd's around it. The
 * figure rollbackd's probe engine is held against (issue 7, item 2).
 *
 *   curl_floor --url http://127.0.0.1:P --n N --interval-ms MS --seconds S
 *	[--warmup S] [--fresh] [--timeout-ms MS] [--max-conns K]
 *
 * N checks, check i probing GET URL/e/<i> every MS milliseconds, check i
 * first at i * MS / N into the run (so the probes of a period are spread
 * evenly over it, as a real scheduler spreads its checks). A probe is ok
 * when curl completes it with status 200 within --timeout-ms (default:
 * the interval); anything else is an error. A probe is skipped when the
 * check's previous one is still running, or when it could only start a
 * whole interval late (the loop fell that far behind). Runs --warmup
 * seconds (default 3) unmeasured, then --seconds measured, then prints one
 * JSON line on stdout:
 *
 *   n, interval_ms, seconds	as given
 *   elapsed_usec		the measured period, CLOCK_MONOTONIC
 *   probes			probes completed in the measured period, any
 *				outcome: what cpu_usec paid for
 *   intended			n * elapsed / interval: the probes planned to
 *				start in the measured period
 *   achieved, achieved_ratio	of those, the ones started and completed
 *				before its end; / intended. (A backlog from the
 *				warm-up, caught up in the period, counts in
 *				probes but not here, so the ratio never
 *				exceeds 1 by catching up.)
 *   cpu_usec			getrusage(RUSAGE_SELF) user + system over the
 *				measured period only
 *   cpu_per_probe_usec		cpu_usec / probes
 *   rss_kib			VmRSS at the end
 *   lateness_p50_usec, lateness_p99_usec, lateness_max_usec
 *				actual start - planned start (CLOCK_MONOTONIC)
 *				of the probes planned in the measured period;
 *				"start" is the curl_multi_add_handle call;
 *				quantiles from a histogram, within 1.6%
 *   errors			probes (as above) that were not ok
 *   skipped			probes planned in the period and skipped
 *   connects, connects_per_probe
 *				new connections made (CURLINFO_NUM_CONNECTS),
 *				per probe
 *   handles			easy handles in the pool at the end
 *   fresh, max_conns		the options
 *
 * Exit status: 0 when probes > 0 and errors == 0, 3 when the run
 * completed with errors or no probes (the line is printed either way),
 * 1 on a setup failure, 2 on a usage error.
 *
 * The pattern is curl's hiperfifo: curl says which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to wake it (CURLMOPT_TIMERFUNCTION),
 * libevent tells it what happened. What is deliberately the least a
 * prober could do, so that this is a floor:
 *   - easy handles come from a pool that grows to the most probes ever in
 *     flight, not one per check, and keep their options: a probe sets
 *     only its URL;
 *   - keep-alive: any idle connection to the target can carry the next
 *     probe; with --fresh, every probe opens and closes its own connection
 *     (CURLOPT_FRESH_CONNECT + FORBID_REUSE);
 *   - at most --max-conns (default 256) probes in flight, so at most that
 *     many connections, open or cached (CURLMOPT_MAX_TOTAL_CONNECTIONS and
 *     CURLMOPT_MAXCONNECTS as well); due probes beyond it wait in the
 *     schedule (and show as lateness). Unbounded, a loop that falls behind
 *     starts hundreds of probes at once, each on a new connection, and
 *     curl 7.88 then does per-transfer work that grows with what it holds
 *     (curl_multi_remove_handle walks the connection cache for
 *     close_connect_only, and the pending list): every probe gets dearer
 *     and the poller never catches up. Seen on this machine, loaded: N =
 *     5,000, 4,870 transfers in flight, 130 usec a probe, 65% achieved;
 *   - the body is discarded unread;
 *   - the schedule is one timer and a cursor over (period, check): all
 *     checks share the interval, so the next due probe is always the next
 *     check in order, and no per-check timer is needed.
 * The event base is libevent's default, as rollbackd's, so lateness
 * compares like with like: epoll, and timers on CLOCK_MONOTONIC_COARSE
 * (4 ms ticks on this kernel), which makes a probe up to a tick late.
 *
 * Smoke size (< 5 s, for make check): with a target on port P,
 *   curl_floor --url http://127.0.0.1:P --n 200 --interval-ms 1000 \
 *	--seconds 2 --warmup 1 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "bench.h"
#include "clock.h"

#define N_MAX		1000000
#define MAX_CONNS	256		/* default bound on probes in flight */
#define URL_MAX		256
#define PROBE_URL_MAX	(URL_MAX + 16)
/* A pooled easy handle and the probe it carries. */
struct slot {
	CURL *easy;
	struct slot *next_free;
	uint32_t check;
	uint64_t planned;		/* the probe's planned start */
	char url[PROBE_URL_MAX];
	size_t url_prefix;		/* length of "URL/e/" in url */
};

/* A socket curl asked us to watch. Kept on a free list for reuse. */
struct sock {
	struct event *ev;
	short kind;
	curl_socket_t fd;
	struct sock *next_free;
	struct sock *next_all;
};

struct counts {
	uint64_t probes, achieved, errors, skipped, connects;
};

struct floor {
	struct event_base *base;
	CURLM *multi;
	struct event *curl_timer;	/* curl's one timeout */
	struct event *sched;		/* the next due probe */
	char url[URL_MAX];		/* without trailing slashes */
	uint32_t n;
	uint64_t interval;		/* usec */
	long timeout_ms;
	bool fresh;
	bool *busy;			/* per check: a probe in flight */
	struct slot *free_slots;
	struct slot **all_slots;	/* every slot, for cleanup */
	size_t n_slots;
	struct sock *free_socks, *all_socks;
	uint64_t t0;			/* planned start of period 0, check 0 */
	uint32_t in_flight, max_conns;
	bool blocked;			/* the schedule waits for max_conns */
	uint64_t period;		/* cursor: the next due probe */
	uint32_t next;
	bool measuring;
	uint64_t m0;			/* start of the measured period */
	bool failed;			/* a setup step failed mid-run */
	struct counts c;
	struct lat_hist lat;
	char first_error[CURL_ERROR_SIZE + 64];
};

/* Whether a probe planned at planned belongs to the measured period. */
static bool in_window(const struct floor *f, uint64_t planned)
{
	return f->measuring && planned >= f->m0;
}

/* CURLOPT_WRITEFUNCTION: the body is not looked at. */
static size_t discard(char *data, size_t size, size_t nmemb, void *userp)
{
	(void)data;
	(void)userp;
	return size * nmemb;
}

/* A new pooled handle with every option a probe shares. */
static struct slot *slot_new(struct floor *f)
{
	struct slot **all;
	struct slot *s;
	CURL *e;

	all = realloc(f->all_slots, (f->n_slots + 1) * sizeof(*all));
	if (!all)
		return NULL;
	f->all_slots = all;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->easy = e = curl_easy_init();
	s->url_prefix = (size_t)snprintf(s->url, sizeof(s->url), "%s/e/", f->url);
	if (!e || curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)s) ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_PROXY, "") ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, f->timeout_ms) ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard) ||
	    (f->fresh && (curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) ||
	    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L)))) {
		if (e)
			curl_easy_cleanup(e);
		free(s);
		return NULL;
	}
	f->all_slots[f->n_slots++] = s;
	return s;
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

/* Start check i's probe planned at planned (now is the clock). */
static void launch(struct floor *f, uint32_t i, uint64_t planned, uint64_t now)
{
	struct slot *s;
	size_t len;

	/* Still running, or so late that its next one is due: skipped, as a
	 * scheduler that falls behind must (launching the backlog would
	 * only add probes that time out). */
	if (f->busy[i] || now - planned >= f->interval) {
		if (in_window(f, planned))
			f->c.skipped++;
		return;
	}
	s = f->free_slots;
	if (s)
		f->free_slots = s->next_free;
	else if (!(s = slot_new(f))) {
		f->failed = true;
		event_base_loopbreak(f->base);
		return;
	}
	s->check = i;
	s->planned = planned;
	len = s->url_prefix + put_u32(s->url + s->url_prefix, i);
	s->url[len] = '\0';
	if (curl_easy_setopt(s->easy, CURLOPT_URL, s->url) != CURLE_OK ||
	    curl_multi_add_handle(f->multi, s->easy) != CURLM_OK) {
		s->next_free = f->free_slots;
		f->free_slots = s;
		f->failed = true;
		event_base_loopbreak(f->base);
		return;
	}
	f->busy[i] = true;
	f->in_flight++;
	if (in_window(f, planned))
		hist_add(&f->lat, now > planned ? now - planned : 0);
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

/* Start the probes that are due, in planned order, while fewer than
 * max_conns are in flight. At the bound the cursor waits, and the next
 * transfer to finish pumps again: the cursor is the queue. Far behind, one
 * period's worth of the schedule at a time, so the loop still serves the
 * sockets. */
static void pump(struct floor *f, uint64_t now)
{
	uint64_t planned;
	uint32_t done = 0;

	while (f->in_flight < f->max_conns &&
	    (planned = cursor_planned(f)) <= now && done < f->n) {
		launch(f, f->next, planned, now);
		if (++f->next == f->n) {
			f->next = 0;
			f->period++;
		}
		done++;
	}
	f->blocked = f->in_flight >= f->max_conns;
	if (f->blocked)
		evtimer_del(f->sched);
	else
		sched_arm(f, now);
}

/* The schedule timer: the next probe is due. */
static void sched_cb(evutil_socket_t fd, short kind, void *arg)
{
	(void)fd;
	(void)kind;
	pump(arg, rbd_mono_usec());
}

/* Collect finished transfers: account, return handles to the pool. */
static void check_multi_info(struct floor *f)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(f->multi, &left))) {
		CURL *e = m->easy_handle;
		CURLcode res = m->data.result;
		struct slot *s = NULL;
		long status = 0, connects = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
		curl_multi_remove_handle(f->multi, e);
		f->busy[s->check] = false;
		f->in_flight--;
		s->next_free = f->free_slots;
		f->free_slots = s;
		if (!f->measuring)
			continue;
		f->c.probes++;
		f->c.achieved += s->planned >= f->m0;
		f->c.connects += (uint64_t)connects;
		if (res != CURLE_OK || status != 200) {
			if (f->c.errors++ == 0)
				snprintf(f->first_error, sizeof(f->first_error),
				    "check %" PRIu32 ": %s, status %ld", s->check,
				    curl_easy_strerror(res), status);
		}
	}
	if (f->blocked && f->in_flight < f->max_conns)
		pump(f, rbd_mono_usec());
}

/* libevent saw activity on one of curl's sockets. */
static void sock_event_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct floor *f = arg;
	int action = (kind & EV_READ ? CURL_CSELECT_IN : 0) |
	    (kind & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;

	(void)curl_multi_socket_action(f->multi, fd, action, &running);
	check_multi_info(f);
}

/* CURLMOPT_SOCKETFUNCTION: watch socket s as curl asks. */
static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
	struct floor *f = userp;
	struct sock *sk = socketp;
	short kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (sk) {
			event_del(sk->ev);
			sk->kind = 0;
			sk->next_free = f->free_socks;
			f->free_socks = sk;
		}
		return 0;
	}
	if (!sk) {
		if ((sk = f->free_socks)) {
			f->free_socks = sk->next_free;
		} else {
			if (!(sk = calloc(1, sizeof(*sk))))
				return -1;
			if (!(sk->ev = event_new(f->base, -1, 0, NULL, NULL))) {
				free(sk);
				return -1;
			}
			sk->next_all = f->all_socks;
			f->all_socks = sk;
		}
		sk->kind = 0;
		if (curl_multi_assign(f->multi, s, sk) != CURLM_OK) {
			sk->next_free = f->free_socks;
			f->free_socks = sk;
			return -1;
		}
	}
	kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) |
	    (what & CURL_POLL_OUT ? EV_WRITE : 0));
	if (sk->kind == kind && sk->fd == s)
		return 0;
	/* event_assign only on a non-pending event. */
	event_del(sk->ev);
	sk->fd = s;
	sk->kind = kind;
	if (event_assign(sk->ev, f->base, s, kind | EV_PERSIST, sock_event_cb, f) < 0 ||
	    event_add(sk->ev, NULL) < 0) {
		sk->kind = 0;
		return -1;
	}
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: (re)arm or cancel curl's timer; never calls
 * curl from here (a 0 timeout fires from the loop). */
static int multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct floor *f = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(f->curl_timer);
		return 0;
	}
	tv = rbd_usec_tv((uint64_t)timeout_ms * RBD_USEC_PER_MSEC);
	return evtimer_add(f->curl_timer, &tv) < 0 ? -1 : 0;
}

static void curl_timer_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct floor *f = arg;
	int running;

	(void)fd;
	(void)kind;
	(void)curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi_info(f);
}

/* Run the loop for usec; false if it stopped for a failure. */
static bool run_for(struct floor *f, uint64_t usec)
{
	struct timeval tv = rbd_usec_tv(usec);

	event_base_loopexit(f->base, &tv);
	return event_base_dispatch(f->base) >= 0 && !f->failed;
}

static void floor_free(struct floor *f)
{
	struct sock *sk, *next;
	size_t i;

	for (i = 0; i < f->n_slots; i++) {
		/* Out of the multi before cleanup; a no-op if not in it. */
		if (f->multi)
			curl_multi_remove_handle(f->multi, f->all_slots[i]->easy);
		curl_easy_cleanup(f->all_slots[i]->easy);
		free(f->all_slots[i]);
	}
	free(f->all_slots);
	if (f->multi)
		curl_multi_cleanup(f->multi);
	for (sk = f->all_socks; sk; sk = next) {
		next = sk->next_all;
		event_free(sk->ev);
		free(sk);
	}
	if (f->curl_timer)
		event_free(f->curl_timer);
	if (f->sched)
		event_free(f->sched);
	if (f->base)
		event_base_free(f->base);
	free(f->busy);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: curl_floor --url http://127.0.0.1:P --n N "
	    "--interval-ms MS --seconds S\n"
	    "                  [--warmup S] [--fresh] [--timeout-ms MS] [--max-conns K]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "n", required_argument, NULL, 'n' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "fresh", no_argument, NULL, 'f' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct floor *f;
	long n = 0, interval_ms = 0, seconds = 0, warmup = 3, timeout_ms = -1, v;
	long max_conns = MAX_CONNS;
	uint64_t cpu0, cpu1, m0, m1;
	double intended;
	const char *url = NULL;
	bool fresh = false;
	size_t len;
	long rss;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			url = optarg;
			break;
		case 'n':
			if (bench_parse_num("curl_floor", "n", optarg, 1, N_MAX, &n) < 0)
				return 2;
			break;
		case 'i':
			if (bench_parse_num("curl_floor", "interval-ms", optarg, 1, 3600000, &interval_ms) < 0)
				return 2;
			break;
		case 's':
			if (bench_parse_num("curl_floor", "seconds", optarg, 1, 86400, &seconds) < 0)
				return 2;
			break;
		case 'w':
			if (bench_parse_num("curl_floor", "warmup", optarg, 0, 3600, &warmup) < 0)
				return 2;
			break;
		case 't':
			if (bench_parse_num("curl_floor", "timeout-ms", optarg, 1, 3600000, &v) < 0)
				return 2;
			timeout_ms = v;
			break;
		case 'm':
			if (bench_parse_num("curl_floor", "max-conns", optarg, 1, N_MAX, &max_conns) < 0)
				return 2;
			break;
		case 'f':
			fresh = true;
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
	if (strlen(url) >= URL_MAX || strncmp(url, "http://", 7) != 0) {
		fprintf(stderr, "curl_floor: --url: http://HOST:PORT, under %d bytes\n",
		    URL_MAX);
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	(void)raise_nofile();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "curl_floor: curl_global_init failed\n");
		return 1;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		fprintf(stderr, "curl_floor: out of memory\n");
		return 1;
	}
	/* Trailing slashes would double up in URL/e/<i>. */
	snprintf(f->url, sizeof(f->url), "%s", url);
	for (len = strlen(f->url); len > 7 && f->url[len - 1] == '/'; len--)
		f->url[len - 1] = '\0';
	f->n = (uint32_t)n;
	f->interval = (uint64_t)interval_ms * RBD_USEC_PER_MSEC;
	f->timeout_ms = timeout_ms > 0 ? timeout_ms : interval_ms;
	f->fresh = fresh;
	f->max_conns = (uint32_t)max_conns;
	f->busy = calloc(f->n, sizeof(*f->busy));
	f->base = event_base_new();
	f->multi = curl_multi_init();
	if (!f->busy || !f->base || !f->multi ||
	    !(f->curl_timer = evtimer_new(f->base, curl_timer_cb, f)) ||
	    !(f->sched = evtimer_new(f->base, sched_cb, f)) ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, (void *)f) ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb) ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, (void *)f) ||
	    curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, max_conns) ||
	    curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_conns)) {
		fprintf(stderr, "curl_floor: setup failed\n");
		goto out;
	}

	f->t0 = rbd_mono_usec();
	sched_arm(f, f->t0);
	if (warmup && !run_for(f, (uint64_t)warmup * RBD_USEC_PER_SEC)) {
		fprintf(stderr, "curl_floor: out of memory or curl refused a probe\n");
		goto out;
	}
	m0 = f->m0 = rbd_mono_usec();
	f->measuring = true;
	cpu0 = self_cpu_usec();
	if (!run_for(f, (uint64_t)seconds * RBD_USEC_PER_SEC)) {
		fprintf(stderr, "curl_floor: out of memory or curl refused a probe\n");
		goto out;
	}
	cpu1 = self_cpu_usec();
	m1 = rbd_mono_usec();
	rss = rss_kib();

	intended = (double)f->n * (double)(m1 - m0) / (double)f->interval;
	printf("{\"n\":%" PRIu32 ",\"interval_ms\":%ld,\"seconds\":%ld"
	    ",\"elapsed_usec\":%" PRIu64 ",\"fresh\":%s,\"probes\":%" PRIu64
	    ",\"intended\":%.0f,\"achieved\":%" PRIu64 ",\"achieved_ratio\":%.4f,\"cpu_usec\":%" PRIu64
	    ",\"cpu_per_probe_usec\":%.2f,\"rss_kib\":%ld"
	    ",\"lateness_p50_usec\":%" PRIu64 ",\"lateness_p99_usec\":%" PRIu64
	    ",\"lateness_max_usec\":%" PRIu64 ",\"errors\":%" PRIu64
	    ",\"skipped\":%" PRIu64 ",\"connects\":%" PRIu64
	    ",\"connects_per_probe\":%.4f,\"handles\":%zu,\"max_conns\":%ld}\n",
	    f->n, interval_ms, seconds, m1 - m0, fresh ? "true" : "false",
	    f->c.probes, intended, f->c.achieved,
	    intended > 0 ? (double)f->c.achieved / intended : 0.0,
	    cpu1 - cpu0,
	    f->c.probes ? (double)(cpu1 - cpu0) / (double)f->c.probes : 0.0,
	    rss, hist_quantile(&f->lat, 0.50), hist_quantile(&f->lat, 0.99),
	    f->lat.max, f->c.errors, f->c.skipped, f->c.connects,
	    f->c.probes ? (double)f->c.connects / (double)f->c.probes : 0.0,
	    f->n_slots, max_conns);
	fflush(stdout);
	if (f->c.errors)
		fprintf(stderr, "curl_floor: %" PRIu64 " errors; the first: %s\n",
		    f->c.errors, f->first_error);
	rc = f->c.probes > 0 && f->c.errors == 0 ? 0 : 3;
out:
	floor_free(f);
	free(f);
	curl_global_cleanup();
	return rc;
}
