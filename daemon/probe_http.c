/* HTTP probes on the event loop: see probe_http.h for the contract.
 *
 * The hiperfifo pattern: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to wake it (CURLMOPT_TIMERFUNCTION);
 * libevent tells curl what happened (curl_multi_socket_action), and
 * curl_multi_info_read hands back the finished transfers.
 *
 * Lifetimes, because callbacks can remove probes:
 *   - user callbacks run only from transfer_done() and probe_tick(), never
 *     from inside a curl callback, so rbd_probe_remove() may call
 *     curl_multi_remove_handle() right away;
 *   - a transfer's easy handle is out of the multi and detached from its
 *     probe before the probe's callback runs, and back in the pool only
 *     after it returns (a fetched body lives in the handle's buffer, which
 *     the pool could free);
 *   - a probe removed while any user callback is on the stack is only
 *     unlinked; its memory and timer event are freed later by the reaper
 *     event, so no object is freed while its own callback is running.
 *
 * Steady state allocates nothing here: probe timers are allocated once per
 * probe, easy handles and socket watchers come from free lists. An HTTP
 * check's body is never stored, only scanned through a small window per
 * handle; a fetched body goes into a buffer of the handle's that grows to the
 * largest body it has carried and is kept, so it stops growing. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "clock.h"
#include "duration.h"
#include "probe_http.h"

/* Seconds of late, skipped and missed counts kept for "in the last 10s":
 * one slot a second, 11 so that the last 10 whole seconds and the current
 * one are all there. */
#define RECENT_SLOTS		11
/* Missed ticks whose lateness is kept, per tick that fires after them. */
#define MISSED_KEPT_MAX		64
/* Idle easy handles kept for reuse: enough for the bursts of a busy loop
 * (~9 KiB each), few enough that a burst of hanging endpoints does not pin
 * memory for good. */
#define IDLE_HANDLES_MAX	64
/* Cached connections: one per probe, so that distinct endpoints each keep
 * theirs, within [CONNS_MIN, CONNS_MAX] and half the descriptor limit. */
#define CONNS_MIN		16
#define CONNS_MAX		4096
#define USER_AGENT		"rollbackd"
#define SKIPPED_DETAIL		"skipped: previous probe still running"
/* How far behind the loop was, kept per LAG_SLOT_USEC of the monotonic
 * clock for the last LAG_SLOTS of them (12.8 s), for judging timeouts. */
#define LAG_SLOT_USEC		(50 * RBD_USEC_PER_MSEC)
#define LAG_SLOTS		256
#define CAPPED_WHY		"as many as rollbackd runs at once"
#define LATE_WHY		"rollbackd cannot keep its schedule"
#define NEEDLE_SHOWN_MAX	64	/* bytes of expect_body quoted in a detail */
#define FETCH_BUF_MIN		4096	/* first size of a fetch body buffer */

/* A socket curl asked us to watch. Kept for reuse; freed with the prober. */
struct rbd_sock {
	struct event *ev;
	short kind;			/* EV_READ | EV_WRITE watched, 0: none */
	curl_socket_t fd;
	struct rbd_sock *next_free;
	struct rbd_sock *next_all;
};

/* An easy handle with the state of the one transfer it carries. */
struct rbd_handle {
	CURL *easy;
	struct rbd_probe *probe;	/* NULL while idle */
	struct rbd_handle *next;	/* idle list */
	size_t body_seen;		/* bytes of body scanned (check) or
					 * stored (fetch), <= the cap */
	bool capped;			/* we stopped the transfer at the cap */
	bool body_found;
	bool nomem;			/* fetch: the body buffer could not grow */
	char *win;			/* carry of the last chunk + next head */
	size_t win_cap;
	size_t carry;
	char *buf;			/* fetch: the body, kept for reuse */
	size_t buf_cap;
	/* The header list the transfer was set up with, when the probe has
	 * replaced it since: curl still holds it, so it is freed only when the
	 * handle comes back to the pool. */
	struct curl_slist *retired;
	char errbuf[CURL_ERROR_SIZE];
};

struct rbd_probe {
	struct rbd_prober *prober;
	struct rbd_probe *prev, *next;	/* registered list; next links the
					 * zombies once removed */
	struct event *tick;
	rbd_probe_cb cb;
	void *arg;
	uint64_t interval;
	uint64_t next_tick;		/* planned time of the next tick */
	uint64_t planned, started;	/* of the sample in flight */
	uint64_t timeout_usec;
	long timeout_ms;
	struct rbd_handle *handle;	/* in flight, or NULL */
	bool removed;
	CURLU *cu;			/* url, parsed once (CURLOPT_CURLU) */
	const char *url;		/* these point into the same block */
	const char *host;
	const char *body;		/* expect_body, or NULL */
	size_t body_len;
	const int *status;
	size_t n_status;
	size_t fetch_max;		/* fetch mode: body_max; 0: HTTP check */
	struct curl_slist *headers;	/* the extra header, or NULL */
};

/* Late, skipped and missed ticks, and the largest lateness of the late. */
struct ov_counts {
	uint64_t late, skipped, missed, max_lateness;
};

/* One second's late, skipped and missed ticks. */
struct ov_slot {
	uint64_t sec;			/* the second counted, mono */
	uint64_t late, skipped, missed;
};

/* The overload episodes (see probe_http.h): their state, what has not been
 * reported yet, and one slot a second for status's "in the last 10s". */
struct overload {
	struct event *ev;		/* armed only during an episode */
	rbd_overload_cb cb;
	void *arg;
	enum { OV_CALM, OV_STARTING, OV_ON } state;
	uint64_t first, last;		/* mono usec: first and last bad tick
					 * of the episode; last 0: never */
	uint64_t reported;		/* mono usec of the last report */
	struct ov_counts pending;	/* since the last report */
	struct ov_counts episode;
	struct ov_slot recent[RECENT_SLOTS];
};

struct rbd_prober {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;		/* curl's single timeout */
	struct event *reaper;		/* frees removed probes off their stacks */
	struct rbd_probe *probes;
	struct rbd_probe *zombies;
	struct rbd_handle *idle;
	size_t n_idle;
	struct rbd_sock *free_socks;
	struct rbd_sock *all_socks;
	uint64_t seq;			/* probes ever added: spreads first ticks */
	unsigned depth;			/* user callbacks on the stack */
	long conns_max, conns_set;
	uint64_t n_curl;		/* probes of our own (not rbd_sched's) */
	uint64_t n_sched;		/* rbd_sched schedules counted */
	double sched_per_sec;		/* their intended samples a second */
	uint64_t in_flight_max;		/* requests out at once, at most */
	uint64_t timer_due;		/* mono usec curl's timer is due at */
	/* The largest lateness of a timer of ours due in each slot of
	 * LAG_SLOT_USEC: how far behind the loop was then. */
	struct lag_slot {
		uint64_t slot;		/* mono usec / LAG_SLOT_USEC */
		uint64_t lag;		/* usec */
	} lag[LAG_SLOTS];
	bool curl_global;
	struct rbd_prober_stats stats;
	struct rbd_lateness lateness;	/* of the last ticks */
	struct overload ov;
};

static void check_multi_info(struct rbd_prober *p);
static int handle_init(struct rbd_handle *h);
static void overload_count(struct rbd_prober *p, uint64_t now, bool late,
    bool skipped, uint64_t missed, uint64_t lateness);

/* Where in its interval probe number seq first fires. The fractional parts
 * of seq * golden ratio fall evenly over [0, 1) for any run of consecutive
 * seq (the three-distance theorem), so a thousand probes added at once land
 * about interval / 1000 apart instead of in one burst. */
static uint64_t spread_offset(uint64_t seq, uint64_t interval)
{
	uint64_t frac = seq * UINT64_C(0x9E3779B97F4A7C15);
	uint64_t off = (uint64_t)((double)(frac >> 11) * 0x1p-53 * (double)interval);

	return off < interval ? off : interval - 1;
}

/* A timer of ours due at due ran at now: note how far behind the loop was
 * (timers run early by our clock are on time). A store per timer, no
 * allocation: a tick costs the same with this as without. */
static void lag_note(struct rbd_prober *p, uint64_t due, uint64_t now)
{
	uint64_t slot = due / LAG_SLOT_USEC, lag = now > due ? now - due : 0;
	struct lag_slot *l = &p->lag[slot % LAG_SLOTS];

	if (l->slot != slot) {
		l->slot = slot;
		l->lag = lag;
	} else if (lag > l->lag) {
		l->lag = lag;
	}
}

/* The most the loop was behind for timers due from from to to (at most
 * the last LAG_SLOTS slots: those nearest to a timeout's end matter). */
static uint64_t lag_max(const struct rbd_prober *p, uint64_t from, uint64_t to)
{
	uint64_t first = from / LAG_SLOT_USEC, last = to / LAG_SLOT_USEC, max = 0;

	if (last - first >= LAG_SLOTS)
		first = last - (LAG_SLOTS - 1);
	for (uint64_t s = first; s <= last; s++) {
		const struct lag_slot *l = &p->lag[s % LAG_SLOTS];

		if (l->slot == s && l->lag > max)
			max = l->lag;
	}
	return max;
}

/* The most connections worth caching: half the descriptor limit, bounded. */
static long conns_limit(void)
{
	struct rlimit rl;
	rlim_t half;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return CONNS_MAX;
	half = rl.rlim_cur / 2;
	if (half < CONNS_MIN)
		return CONNS_MIN;
	return half > CONNS_MAX ? CONNS_MAX : (long)half;
}

/* Size the multi handle's connection cache to the probes registered. */
static void conns_update(struct rbd_prober *p)
{
	long want = p->n_curl > (uint64_t)p->conns_max ?
	    p->conns_max : (long)p->n_curl;

	if (want < CONNS_MIN)
		want = CONNS_MIN;
	if (want == p->conns_set)
		return;
	if (curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, want) == CURLM_OK)
		p->conns_set = want;
}

/* A socket watcher from the free list, or a new one. */
static struct rbd_sock *sock_get(struct rbd_prober *p)
{
	struct rbd_sock *sk = p->free_socks;

	if (sk) {
		p->free_socks = sk->next_free;
		return sk;
	}
	sk = calloc(1, sizeof(*sk));
	if (!sk)
		return NULL;
	sk->ev = event_new(p->base, -1, 0, NULL, NULL);
	if (!sk->ev) {
		free(sk);
		return NULL;
	}
	sk->next_all = p->all_socks;
	p->all_socks = sk;
	return sk;
}

/* Stop watching and keep the watcher for the next socket. */
static void sock_put(struct rbd_prober *p, struct rbd_sock *sk)
{
	event_del(sk->ev);
	sk->kind = 0;
	sk->next_free = p->free_socks;
	p->free_socks = sk;
}

/* libevent saw activity on a socket of curl's: tell curl. */
static void sock_event_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct rbd_prober *p = arg;
	int action = (kind & EV_READ ? CURL_CSELECT_IN : 0) |
	    (kind & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;

	(void)curl_multi_socket_action(p->multi, fd, action, &running);
	check_multi_info(p);
}

/* Watch fd for kind. event_assign only on a non-pending event, hence the
 * event_del first (also when curl changes direction on the same fd). */
static int sock_watch(struct rbd_prober *p, struct rbd_sock *sk,
    curl_socket_t fd, short kind)
{
	if (sk->kind == kind && sk->fd == fd)
		return 0;
	event_del(sk->ev);
	sk->kind = 0;
	sk->fd = fd;
	if (!kind)
		return 0;
	if (event_assign(sk->ev, p->base, fd, kind | EV_PERSIST, sock_event_cb, p) < 0 ||
	    event_add(sk->ev, NULL) < 0)
		return -1;
	sk->kind = kind;
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: what curl wants watched on socket s. */
static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
	struct rbd_prober *p = userp;
	struct rbd_sock *sk = socketp;
	short kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (sk)
			sock_put(p, sk);
		return 0;
	}
	if (!sk) {
		sk = sock_get(p);
		if (!sk)
			return -1;
		if (curl_multi_assign(p->multi, s, sk) != CURLM_OK) {
			sock_put(p, sk);
			return -1;
		}
	}
	kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) |
	    (what & CURL_POLL_OUT ? EV_WRITE : 0));
	return sock_watch(p, sk, s, kind);
}

/* CURLMOPT_TIMERFUNCTION: (re)arm or cancel curl's one timer. Never calls
 * curl from here: a 0 timeout fires from the loop. */
static int multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct rbd_prober *p = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(p->timer);
		return 0;
	}
	p->timer_due = rbd_mono_usec() + (uint64_t)timeout_ms * RBD_USEC_PER_MSEC;
	tv = rbd_usec_tv((uint64_t)timeout_ms * RBD_USEC_PER_MSEC);
	return evtimer_add(p->timer, &tv) < 0 ? -1 : 0;
}

/* curl's timer expired: let it run its timeouts. */
static void curl_timer_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct rbd_prober *p = arg;
	int running;

	(void)fd;
	(void)kind;
	/* First: a transfer that times out now is judged against it. */
	lag_note(p, p->timer_due, rbd_mono_usec());
	(void)curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi_info(p);
}

/* Free a probe that is unlinked and has nothing in flight. */
static void probe_free(struct rbd_probe *pr)
{
	if (pr->tick)
		event_free(pr->tick);
	curl_url_cleanup(pr->cu);
	curl_slist_free_all(pr->headers);
	free(pr);
}

/* Free the probes removed while callbacks were on the stack. */
static void reap(struct rbd_prober *p)
{
	struct rbd_probe *pr;

	while ((pr = p->zombies)) {
		p->zombies = pr->next;
		probe_free(pr);
	}
}

/* The reaper event: runs from the loop, off every probe's stack. */
static void reap_cb(evutil_socket_t fd, short kind, void *arg)
{
	(void)fd;
	(void)kind;
	reap(arg);
}

/* Release an easy handle for good. */
static void handle_destroy(struct rbd_prober *p, struct rbd_handle *h)
{
	curl_easy_cleanup(h->easy);
	curl_slist_free_all(h->retired);
	free(h->win);
	free(h->buf);
	free(h);
	p->stats.handles--;
}

/* An easy handle from the pool, or a new one. */
static struct rbd_handle *handle_get(struct rbd_prober *p)
{
	struct rbd_handle *h = p->idle;

	if (h) {
		p->idle = h->next;
		p->n_idle--;
		h->next = NULL;
		return h;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->easy = curl_easy_init();
	if (!h->easy) {
		free(h);
		return NULL;
	}
	p->stats.handles++;
	if (handle_init(h) < 0) {
		handle_destroy(p, h);
		return NULL;
	}
	return h;
}

/* Back to the pool (out of the multi already), or freed beyond the bound. */
static void handle_put(struct rbd_prober *p, struct rbd_handle *h)
{
	h->probe = NULL;
	if (h->retired) {
		curl_slist_free_all(h->retired);
		h->retired = NULL;
	}
	if (p->n_idle >= IDLE_HANDLES_MAX) {
		handle_destroy(p, h);
		return;
	}
	h->next = p->idle;
	p->idle = h;
	p->n_idle++;
}

/* Look for the needle in one more chunk of body. Only the last len - 1
 * bytes are carried over, so a needle split across chunks is found without
 * keeping the body. */
static void body_scan(struct rbd_handle *h, const char *buf, size_t len)
{
	const struct rbd_probe *pr = h->probe;
	size_t n = pr->body_len, head, wlen, keep;

	if (!pr->body || h->body_found || len == 0)
		return;
	if (n <= 1) {
		h->body_found = n == 0 || memchr(buf, pr->body[0], len);
		return;
	}
	head = len < n - 1 ? len : n - 1;
	memcpy(h->win + h->carry, buf, head);
	wlen = h->carry + head;
	if ((h->carry && memmem(h->win, wlen, pr->body, n)) ||
	    memmem(buf, len, pr->body, n)) {
		h->body_found = true;
		return;
	}
	if (len >= n - 1) {
		memcpy(h->win, buf + len - (n - 1), n - 1);
		h->carry = n - 1;
		return;
	}
	keep = wlen < n - 1 ? wlen : n - 1;
	memmove(h->win, h->win + wlen - keep, keep);
	h->carry = keep;
}

/* CURLOPT_WRITEFUNCTION: scan the body up to the cap, then stop the
 * transfer (a write error we recognise later as "capped", not a failure). */
static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct rbd_handle *h = userp;
	size_t n = size * nmemb;
	size_t room = RBD_PROBE_BODY_MAX - h->body_seen;
	size_t take = n < room ? n : room;

	body_scan(h, data, take);
	h->body_seen += take;
	if (take < n) {
		h->capped = true;
		return 0;
	}
	return n;
}

/* Room for need bytes in a fetch body buffer: doubling, so that a body
 * costs a few reallocations the first time and none once the handle has
 * carried one as large; never beyond max (body_max + 1 for the NUL). */
static int buf_reserve(struct rbd_handle *h, size_t need, size_t max)
{
	size_t cap = h->buf_cap ? h->buf_cap : FETCH_BUF_MIN;
	char *b;

	if (need <= h->buf_cap)
		return 0;
	while (cap < need && cap < max)
		cap = cap > max / 2 ? max : 2 * cap;
	if (cap > max)
		cap = max;
	b = realloc(h->buf, cap);
	if (!b)
		return -ENOMEM;
	h->buf = b;
	h->buf_cap = cap;
	if (h->probe)
		h->probe->prober->stats.body_grows++;
	return 0;
}

/* CURLOPT_WRITEFUNCTION in fetch mode: keep the body up to body_max, then
 * stop the transfer (a write error, recognised later as "capped"). */
static size_t fetch_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct rbd_handle *h = userp;
	size_t max = h->probe->fetch_max;
	size_t n = size * nmemb;
	size_t room = max - h->body_seen;
	size_t take = n < room ? n : room;

	if (take) {
		if (buf_reserve(h, h->body_seen + take + 1, max + 1) < 0) {
			h->nomem = true;
			return 0;
		}
		memcpy(h->buf + h->body_seen, data, take);
		h->body_seen += take;
	}
	if (take < n) {
		h->capped = true;
		return 0;
	}
	return n;
}

/* Room in the scan window for a needle of n bytes (grows, never shrinks). */
static int win_reserve(struct rbd_handle *h, size_t n)
{
	size_t need = n > 1 ? 2 * (n - 1) : 0;
	char *w;

	if (need <= h->win_cap)
		return 0;
	w = realloc(h->win, need);
	if (!w)
		return -ENOMEM;
	h->win = w;
	h->win_cap = need;
	return 0;
}

/* Only http and https, also for redirects should one ever be followed. */
static CURLcode set_protocols(CURL *e)
{
#if LIBCURL_VERSION_NUM >= 0x075500
	CURLcode c = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");

	if (c == CURLE_OK)
		c = curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (c != CURLE_UNKNOWN_OPTION)
		return c;
	/* Built against 7.85+, running on an older libcurl. */
#endif
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	if (curl_easy_setopt(e, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK)
		return CURLE_FAILED_INIT;
	return curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#pragma GCC diagnostic pop
}

/* The options every transfer of every probe has, set once when the
 * handle is made and kept across samples (never curl_easy_reset: that
 * and setting these again cost some 6,000 instructions a sample, a
 * twentieth of one; bench/profile.sh). */
static int handle_init(struct rbd_handle *h)
{
	CURL *e = h->easy;

	if (curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)h) ||
	    set_protocols(e) ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) ||
	    curl_easy_setopt(e, CURLOPT_PROXY, "") ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT) ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf) ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)h))
		return -ENOMEM;
	return 0;
}

/* Set the options of one sample of pr on a pooled handle: every option
 * that differs between probes is set here, each time, so nothing of the
 * handle's last probe is left. */
static int handle_setup(struct rbd_handle *h, struct rbd_probe *pr)
{
	CURL *e = h->easy;

	h->probe = pr;
	h->body_seen = 0;
	h->capped = false;
	h->body_found = false;
	h->nomem = false;
	h->carry = 0;
	h->errbuf[0] = '\0';
	if (win_reserve(h, pr->body_len) < 0)
		return -ENOMEM;
	/* Parsed once per probe, not once per request: curl copies it. */
	if (curl_easy_setopt(e, CURLOPT_CURLU, pr->cu) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, pr->timeout_ms) ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION,
	    pr->fetch_max ? fetch_write_cb : write_cb) ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, pr->headers))
		return -ENOMEM;
	/* A body announced larger than the cap is refused before it is read
	 * (curl 7.88 checks only the announced length; the write callback
	 * catches the rest). 0: no limit, for HTTP checks. */
	if (curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)pr->fetch_max))
		return -ENOMEM;
	return 0;
}

/* Take pr's in-flight transfer out of the multi; its handle is returned,
 * for the caller to put back in the pool. */
static struct rbd_handle *probe_unhook(struct rbd_probe *pr)
{
	struct rbd_prober *p = pr->prober;
	struct rbd_handle *h = pr->handle;

	if (!h)
		return NULL;
	(void)curl_multi_remove_handle(p->multi, h->easy);
	pr->handle = NULL;
	p->stats.in_flight--;
	return h;
}

/* Take pr's in-flight transfer out of the multi and its handle back to the
 * pool. */
static void probe_detach(struct rbd_probe *pr)
{
	struct rbd_handle *h = probe_unhook(pr);

	if (h)
		handle_put(pr->prober, h);
}

/* Hand one sample to the probe's owner. The owner may remove any probe. */
static void probe_report(struct rbd_probe *pr, const struct rbd_probe_result *r)
{
	struct rbd_prober *p = pr->prober;

	p->depth++;
	pr->cb(pr->arg, r);
	p->depth--;
}

/* Append to a detail being built; truncation is harmless. */
static size_t append(char *buf, size_t len, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t append(char *buf, size_t len, size_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (at >= len)
		return at;
	va_start(ap, fmt);
	n = vsnprintf(buf + at, len - at, fmt, ap);
	va_end(ap);
	return n < 0 ? at : at + (size_t)n;
}

/* Is status one the check accepts (200 when it names none)? */
static bool status_expected(const struct rbd_probe *pr, long status)
{
	size_t i;

	if (pr->n_status == 0)
		return status == 200;
	for (i = 0; i < pr->n_status; i++)
		if (pr->status[i] == status)
			return true;
	return false;
}

/* "HTTP 500 (expected 200, 204)" */
static void describe_status(const struct rbd_probe *pr, long status,
    char *buf, size_t len)
{
	size_t at = append(buf, len, 0, "HTTP %ld (expected ", status);
	size_t i;

	if (pr->n_status == 0)
		at = append(buf, len, at, "200");
	for (i = 0; i < pr->n_status; i++)
		at = append(buf, len, at, "%s%d", i ? ", " : "", pr->status[i]);
	append(buf, len, at, ")");
}

/* Is this curl error about TLS? */
static bool is_tls_error(CURLcode code)
{
	switch (code) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
		return true;
	default:
		return false;
	}
}

/* A transfer that ended in a curl error, in words. */
static void describe_error(const struct rbd_probe *pr, CURL *e,
    const char *errbuf, CURLcode code, char *buf, size_t len)
{
	char d[RBD_DURATION_STR_MAX];
	long os_errno = 0;

	switch (code) {
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(buf, len, "timed out after %s",
		    rbd_duration_str(pr->timeout_usec, d, sizeof(d)));
		return;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
		if (os_errno == ECONNREFUSED)
			snprintf(buf, len, "connection refused");
		else if (os_errno > 0 && os_errno < INT_MAX)
			snprintf(buf, len, "could not connect: %s", strerror((int)os_errno));
		else
			snprintf(buf, len, "could not connect");
		return;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(buf, len, "could not resolve host '%s'", pr->host);
		return;
	case CURLE_FILESIZE_EXCEEDED:	/* fetch: announced over the cap */
		snprintf(buf, len, "response larger than %zu bytes", pr->fetch_max);
		return;
	default:
		if (is_tls_error(code))
			snprintf(buf, len, "TLS error: %.200s",
			    errbuf[0] ? errbuf : curl_easy_strerror(code));
		else
			snprintf(buf, len, "%s", curl_easy_strerror(code));
	}
}

/* A finished fetch: any response is data (the caller judges its status and
 * body); no response, or one past the cap, is no data. */
static void classify_fetch(struct rbd_handle *h, CURLcode code,
    struct rbd_probe_result *r, char *buf, size_t len)
{
	const struct rbd_probe *pr = h->probe;
	long status = r->status;

	r->result = RBD_SAMPLE_UNKNOWN;
	if (code == CURLE_WRITE_ERROR && h->capped) {
		snprintf(buf, len, "response larger than %zu bytes", pr->fetch_max);
	} else if (code == CURLE_WRITE_ERROR && h->nomem) {
		snprintf(buf, len, "out of memory reading the response");
	} else if (code != CURLE_OK) {
		if (code != CURLE_FILESIZE_EXCEEDED)
			r->status = 0;
		describe_error(pr, h->easy, h->errbuf, code, buf, len);
	} else {
		snprintf(buf, len, "HTTP %ld", status);
		r->result = RBD_SAMPLE_OK;
		/* buf_reserve kept room for the NUL whenever a byte came. */
		if (h->buf) {
			h->buf[h->body_seen] = '\0';
			r->body = h->buf;
		} else {
			r->body = "";
		}
		r->body_len = h->body_seen;
	}
}

/* How late a timeout may be noticed before it is no longer the
 * endpoint's: see RBD_PROBE_STALL_DIVISOR. */
static uint64_t stall_limit(const struct rbd_probe *pr)
{
	uint64_t limit = pr->timeout_usec / RBD_PROBE_STALL_DIVISOR;

	return limit > RBD_PROBE_STALL_MIN_USEC ? limit : RBD_PROBE_STALL_MIN_USEC;
}

/* "timed out after 500ms while rollbackd was 230ms behind (rollbackd
 * cannot keep its schedule)" */
static void stalled_detail(const struct rbd_probe *pr, uint64_t behind,
    char *buf, size_t len)
{
	char d[RBD_DURATION_STR_MAX], l[RBD_DURATION_STR_MAX];

	snprintf(buf, len, "timed out after %s while rollbackd was %s behind "
	    "(" LATE_WHY ")", rbd_duration_str(pr->timeout_usec, d, sizeof(d)),
	    rbd_lateness_str(behind, l, sizeof(l)));
}

/* How far behind the loop was while the transfer of h ran, from started
 * to now: the prober's timers due meanwhile, and curl's own count of how
 * late it noticed the end of a timed-out transfer. Only for timeouts: a
 * late loop makes an answer that came in time look like none. */
static uint64_t behind_during(const struct rbd_prober *p,
    const struct rbd_handle *h, uint64_t started, uint64_t now)
{
	uint64_t behind = lag_max(p, started, now);
	curl_off_t total = 0;
	uint64_t timeout = h->probe->timeout_usec;

	if (curl_easy_getinfo(h->easy, CURLINFO_TOTAL_TIME_T, &total) == CURLE_OK &&
	    total > 0 && (uint64_t)total > timeout && (uint64_t)total - timeout > behind)
		behind = (uint64_t)total - timeout;
	return behind;
}

/* Judge a finished transfer: result, status and detail into r and buf.
 * behind: how far the loop was behind meanwhile (see behind_during). */
static void classify(struct rbd_handle *h, CURLcode code, uint64_t behind,
    struct rbd_probe_result *r, char *buf, size_t len)
{
	const struct rbd_probe *pr = h->probe;
	long status = 0;

	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
	r->status = status;
	r->result = RBD_SAMPLE_FAIL;
	r->detail = buf;
	r->body = NULL;
	r->body_len = 0;
	if (pr->fetch_max) {
		classify_fetch(h, code, r, buf, len);
		return;
	}
	if (code == CURLE_WRITE_ERROR && h->capped)
		code = CURLE_OK;
	if (code == CURLE_OPERATION_TIMEDOUT && behind > stall_limit(pr)) {
		r->status = 0;
		r->result = RBD_SAMPLE_UNKNOWN;
		stalled_detail(pr, behind, buf, len);
	} else if (code != CURLE_OK) {
		r->status = 0;
		describe_error(pr, h->easy, h->errbuf, code, buf, len);
	} else if (!status_expected(pr, status)) {
		describe_status(pr, status, buf, len);
	} else if (pr->body && !h->body_found) {
		snprintf(buf, len, "body does not contain '%.*s%s'",
		    NEEDLE_SHOWN_MAX, pr->body,
		    pr->body_len > NEEDLE_SHOWN_MAX ? "..." : "");
	} else {
		snprintf(buf, len, "HTTP %ld", status);
		r->result = RBD_SAMPLE_OK;
	}
}

/* A transfer finished: judge it, tell the owner, then pool its handle
 * (which holds a fetched body until the callback returns). */
static void transfer_done(struct rbd_prober *p, CURL *easy, CURLcode code)
{
	char detail[RBD_DETAIL_MAX];
	struct rbd_probe_result r;
	struct rbd_handle *h;
	struct rbd_probe *pr;
	char *priv = NULL;
	long connects = 0;
	uint64_t now, behind = 0;

	if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK || !priv)
		return;		/* not ours: impossible, but never fatal */
	h = (struct rbd_handle *)(void *)priv;
	pr = h->probe;
	now = rbd_mono_usec();
	if (code == CURLE_OPERATION_TIMEDOUT)
		behind = behind_during(p, h, pr->started, now);
	classify(h, code, behind, &r, detail, sizeof(detail));
	if (code == CURLE_OPERATION_TIMEDOUT && r.result == RBD_SAMPLE_UNKNOWN &&
	    !pr->fetch_max) {
		p->stats.stalled++;
		overload_count(p, now, true, false, 0, behind);
	}
	if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK &&
	    connects > 0)
		p->stats.connects += (uint64_t)connects;
	r.planned = pr->planned;
	r.started = pr->started;
	r.latency = now - pr->started;
	(void)probe_unhook(pr);		/* h itself */
	p->stats.samples++;
	probe_report(pr, &r);
	handle_put(p, h);
}

/* Drain curl's finished transfers. A callback may remove other probes:
 * curl_multi_remove_handle drops their pending messages too. */
static void check_multi_info(struct rbd_prober *p)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(p->multi, &left)))
		if (msg->msg == CURLMSG_DONE)
			transfer_done(p, msg->easy_handle, msg->data.result);
}

/* Start one sample of pr now. */
static int probe_start(struct rbd_probe *pr, uint64_t planned, uint64_t now)
{
	struct rbd_prober *p = pr->prober;
	struct rbd_handle *h = handle_get(p);
	int r;

	if (!h)
		return -ENOMEM;
	r = handle_setup(h, pr);
	if (r >= 0 && curl_multi_add_handle(p->multi, h->easy) != CURLM_OK)
		r = -ENOMEM;
	if (r < 0) {
		handle_put(p, h);
		return r;
	}
	pr->handle = h;
	pr->planned = planned;
	pr->started = now;
	p->stats.in_flight++;
	if (p->stats.in_flight > p->stats.in_flight_peak)
		p->stats.in_flight_peak = p->stats.in_flight;
	return 0;
}

/* ---- overload episodes ---- */

/* The slot of "in the last 10s" for the second of now. */
static void recent_count(struct overload *ov, uint64_t now, bool late,
    bool skipped, uint64_t missed)
{
	uint64_t sec = now / RBD_USEC_PER_SEC;
	struct ov_slot *slot = &ov->recent[sec % RECENT_SLOTS];

	if (slot->sec != sec) {
		slot->sec = sec;
		slot->late = slot->skipped = slot->missed = 0;
	}
	slot->late += late;
	slot->skipped += skipped;
	slot->missed += missed;
}

static void counts_add(struct ov_counts *c, bool late, bool skipped,
    uint64_t missed, uint64_t lateness)
{
	c->late += late;
	c->skipped += skipped;
	c->missed += missed;
	if (late && lateness > c->max_lateness)
		c->max_lateness = lateness;
}

/* A late, skipped or missed tick at now. The first after a calm period
 * starts an episode, reported from the loop right after the callbacks
 * that are due now (a stalled loop fires a burst of late ticks at once:
 * they make one report, not one each). Later ones are only counted, for
 * the timer that is already armed. */
static void overload_count(struct rbd_prober *p, uint64_t now, bool late,
    bool skipped, uint64_t missed, uint64_t lateness)
{
	struct overload *ov = &p->ov;
	static const struct timeval at_once = { 0, 0 };

	recent_count(ov, now, late, skipped, missed);
	counts_add(&ov->pending, late, skipped, missed, lateness);
	counts_add(&ov->episode, late, skipped, missed, lateness);
	ov->last = now;
	if (ov->state != OV_CALM)
		return;
	ov->state = OV_STARTING;
	ov->first = now;
	/* If the timer cannot be armed, the episode is still counted, and
	 * status shows it; only the log lines are lost. */
	(void)evtimer_add(ov->ev, &at_once);
}

/* Tell the owner, if any. Off every probe's stack: from the timer. */
static void overload_report(struct rbd_prober *p, enum rbd_overload_kind kind,
    const struct ov_counts *c, uint64_t period)
{
	struct rbd_overload_report o = {
		.kind = kind, .period = period, .late = c->late,
		.skipped = c->skipped, .missed = c->missed,
		.max_lateness = c->max_lateness,
	};

	if (p->ov.cb)
		p->ov.cb(p->ov.arg, &o);
}

static bool counts_any(const struct ov_counts *c)
{
	return c->late || c->skipped || c->missed;
}

/* The episode timer: the first report, then a summary at most every
 * RBD_PROBE_CALM_USEC while bad ticks come, and the end once none came for
 * that long. Re-armed for whichever is next; not armed once calm. */
static void overload_timer_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct rbd_prober *p = arg;
	struct overload *ov = &p->ov;
	uint64_t now = rbd_mono_usec(), due;
	struct timeval tv;

	(void)fd;
	(void)kind;
	if (ov->state == OV_STARTING) {
		overload_report(p, RBD_OVERLOAD_START, &ov->pending, now - ov->first);
		ov->pending = (struct ov_counts){ 0 };
		ov->reported = now;
		ov->state = OV_ON;
	} else if (counts_any(&ov->pending) &&
	    now - ov->reported >= RBD_PROBE_CALM_USEC) {
		overload_report(p, RBD_OVERLOAD_ONGOING, &ov->pending,
		    now - ov->reported);
		ov->pending = (struct ov_counts){ 0 };
		ov->reported = now;
	}
	if (!counts_any(&ov->pending) && now - ov->last >= RBD_PROBE_CALM_USEC) {
		ov->state = OV_CALM;
		overload_report(p, RBD_OVERLOAD_CALM, &ov->episode,
		    ov->last - ov->first);
		ov->episode = (struct ov_counts){ 0 };
		return;
	}
	due = counts_any(&ov->pending) ? ov->reported + RBD_PROBE_CALM_USEC :
	    ov->last + RBD_PROBE_CALM_USEC;
	tv = rbd_usec_tv(due > now ? due - now : 0);
	(void)evtimer_add(ov->ev, &tv);
}

void rbd_prober_on_overload(struct rbd_prober *p, rbd_overload_cb cb,
    void *arg)
{
	if (!p)
		return;
	p->ov.cb = cb;
	p->ov.arg = arg;
}

static const char *const overload_kinds[_RBD_OVERLOAD_MAX] = {
	[RBD_OVERLOAD_START] = "start",
	[RBD_OVERLOAD_ONGOING] = "ongoing",
	[RBD_OVERLOAD_CALM] = "calm",
};

const char *rbd_overload_kind_str(enum rbd_overload_kind k)
{
	return (unsigned)k < _RBD_OVERLOAD_MAX ? overload_kinds[k] : "unknown";
}

char *rbd_lateness_str(uint64_t usec, char *buf, size_t len)
{
	if (usec < RBD_USEC_PER_SEC)
		snprintf(buf, len, "%llums", (unsigned long long)
		    ((usec + RBD_USEC_PER_MSEC / 2) / RBD_USEC_PER_MSEC));
	else if (usec < 60 * RBD_USEC_PER_SEC)
		snprintf(buf, len, "%.1fs", (double)usec / RBD_USEC_PER_SEC);
	else
		rbd_duration_str((usec + RBD_USEC_PER_SEC / 2) /
		    RBD_USEC_PER_SEC * RBD_USEC_PER_SEC, buf, len);
	return buf;
}

/* Whole seconds of a period, at least 1: "in the last 1s". */
static char *period_str(uint64_t usec, char *buf, size_t len)
{
	uint64_t sec = (usec + RBD_USEC_PER_SEC / 2) / RBD_USEC_PER_SEC;

	return rbd_duration_str((sec ? sec : 1) * RBD_USEC_PER_SEC, buf, len);
}

/* "37 samples late by up to 1.4s, 2 skipped, 120 missed": the first
 * count says "samples"; those that are 0 are left out. */
static size_t counts_str(const struct rbd_overload_report *o, bool by,
    char *buf, size_t len)
{
	char d[RBD_DURATION_STR_MAX];
	const struct {
		uint64_t n;
		const char *what;
	} c[] = {
		{ o->late, "late" }, { o->skipped, "skipped" },
		{ o->missed, "missed" },
	};
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (!c[i].n)
			continue;
		at = append(buf, len, at, "%s%llu%s %s", at ? ", " : "",
		    (unsigned long long)c[i].n, at ? "" : c[i].n == 1 ?
		    " sample" : " samples", c[i].what);
		if (by && i == 0)
			at = append(buf, len, at, " by up to %s",
			    rbd_lateness_str(o->max_lateness, d, sizeof(d)));
	}
	return at;
}

char *rbd_overload_str(const struct rbd_overload_report *o, char *buf,
    size_t len)
{
	char counts[RBD_OVERLOAD_STR_MAX], d[RBD_DURATION_STR_MAX];
	char calm[RBD_DURATION_STR_MAX];

	if (!len)
		return buf;
	counts_str(o, true, counts, sizeof(counts));
	if (o->kind != RBD_OVERLOAD_CALM) {
		snprintf(buf, len, "overloaded: %s in the last %s; they count as "
		    "unknown (status: schedule)", counts,
		    period_str(o->period, d, sizeof(d)));
		return buf;
	}
	counts_str(o, false, counts, sizeof(counts));
	rbd_duration_str(RBD_PROBE_CALM_USEC, calm, sizeof(calm));
	snprintf(buf, len, "schedule kept again: no sample late, skipped or "
	    "missed for %s (overloaded for %s: %s)", calm,
	    period_str(o->period, d, sizeof(d)), counts);
	return buf;
}

/* ---- lateness quantiles ---- */

void rbd_lateness_add(struct rbd_lateness *l, uint64_t usec)
{
	l->v[l->next] = usec > UINT32_MAX ? UINT32_MAX : (uint32_t)usec;
	l->next = (l->next + 1) % RBD_LATENESS_RING;
	if (l->n < RBD_LATENESS_RING)
		l->n++;
}

/* The k-th smallest of v[0..n) (0-based), reordering v: Hoare's select,
 * O(n) on average. */
static uint32_t select_kth(uint32_t *v, long n, long k)
{
	long lo = 0, hi = n - 1;

	while (lo < hi) {
		uint32_t a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi];
		/* The median of three: no bad case on sorted input. */
		uint32_t pivot = a < b ? (b < c ? b : a < c ? c : a) :
		    (a < c ? a : b < c ? c : b);
		long i = lo, j = hi;

		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				uint32_t t = v[i];

				v[i++] = v[j];
				v[j--] = t;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return v[k];
	}
	return v[k];
}

void rbd_lateness_summary(const struct rbd_lateness *l,
    struct rbd_lateness_summary *ret)
{
	uint32_t v[RBD_LATENESS_RING];
	long n = (long)l->n, k50, k99;
	uint32_t max = 0;

	*ret = (struct rbd_lateness_summary){ .n = l->n };
	if (!n)
		return;
	memcpy(v, l->v, (size_t)n * sizeof(v[0]));
	for (long i = 0; i < n; i++)
		if (v[i] > max)
			max = v[i];
	/* Nearest rank: the ceil(q n)-th smallest. */
	k50 = (n + 1) / 2 - 1;
	k99 = (99 * n + 99) / 100 - 1;
	ret->p50 = select_kth(v, n, k50);
	/* Everything from k50 on is at least v[k50]: search only there. */
	ret->p99 = select_kth(v + k50, n - k50, k99 - k50);
	ret->max = max;
}

/* Report a tick that produced no request as an unknown sample. */
static void probe_unknown(struct rbd_probe *pr, uint64_t planned, uint64_t now,
    const char *detail)
{
	struct rbd_probe_result r = {
		.result = RBD_SAMPLE_UNKNOWN,
		.detail = detail,
		.started = now,
		.planned = planned,
	};

	probe_report(pr, &r);
}

/* The next tick after the one planned at *next_tick, from the ideal
 * schedule, so that it never drifts. A loop that fell a whole interval or
 * more behind drops the missed ticks rather than firing them in a burst:
 * how many, in *ret_missed. */
static void next_tick(uint64_t interval, uint64_t *next_tick, uint64_t now,
    uint64_t *ret_missed)
{
	uint64_t next = *next_tick + interval, behind = 0;

	if (next <= now) {
		behind = (now - next) / interval + 1;
		next += behind * interval;
	}
	*ret_missed = behind;
	*next_tick = next;
}

/* Arm pr's next tick (see next_tick). */
static int probe_schedule(struct rbd_probe *pr, uint64_t now,
    uint64_t *ret_missed)
{
	struct timeval tv;

	next_tick(pr->interval, &pr->next_tick, now, ret_missed);
	tv = rbd_usec_tv(pr->next_tick - now);
	return evtimer_add(pr->tick, &tv);
}

/* Is a tick this late too late to be a sample? See probe_http.h. */
static bool too_late(uint64_t interval, uint64_t lateness)
{
	uint64_t limit = interval / RBD_PROBE_LATE_DIVISOR;

	return lateness > (limit > RBD_PROBE_LATE_MIN_USEC ? limit :
	    RBD_PROBE_LATE_MIN_USEC);
}

/* Keep the lateness of a tick that fired and of the ones missed after it
 * (each as late as it is now: leaving them out would hide exactly the
 * worst of a stall): at most MISSED_KEPT_MAX of those, the furthest
 * behind, so that after a long stall thousands of probes do not each
 * write a ring's worth at the moment the loop is most behind. */
static void lateness_keep(struct rbd_prober *p, uint64_t interval,
    uint64_t lateness, uint64_t missed)
{
	rbd_lateness_add(&p->lateness, lateness);
	if (missed > MISSED_KEPT_MAX)
		missed = MISSED_KEPT_MAX;
	for (uint64_t i = 1; i <= missed && i * interval <= lateness; i++)
		rbd_lateness_add(&p->lateness, lateness - i * interval);
}

/* "late: started 1.2s after its time (rollbackd cannot keep its
 * schedule)", with the ticks missed before it when there were any. */
static void late_detail(uint64_t lateness, uint64_t missed, char *buf,
    size_t len)
{
	char d[RBD_DURATION_STR_MAX];

	rbd_lateness_str(lateness, d, sizeof(d));
	if (missed)
		snprintf(buf, len, "late: started %s after its time, %llu "
		    "sample%s missed (" LATE_WHY ")", d,
		    (unsigned long long)missed, missed == 1 ? "" : "s");
	else
		snprintf(buf, len, "late: started %s after its time (" LATE_WHY ")", d);
}

/* A tick planned at planned fired at now, after missed ones were dropped:
 * on time, late, or skipped because the last one is still running (busy)
 * or, when capped applies, because the most requests are out already.
 * Counted in p's statistics and overload episodes (p NULL: nowhere). The
 * detail of an unknown sample into buf. */
static enum rbd_tick tick_judge(struct rbd_prober *p, uint64_t interval,
    uint64_t planned, uint64_t now, uint64_t missed, bool busy,
    bool cap_applies, char *buf, size_t len)
{
	uint64_t lateness = now > planned ? now - planned : 0;
	bool late, capped;

	/* One still running is a skip, late or not: either way no request
	 * is sent, and "still running" says more. */
	late = !busy && too_late(interval, lateness);
	capped = p && cap_applies && !busy && !late &&
	    p->stats.in_flight >= p->in_flight_max;
	if (p) {
		lag_note(p, planned, now);
		lateness_keep(p, interval, lateness, missed);
		p->stats.missed += missed;
		p->stats.late += late;
		p->stats.skipped += busy || capped;
		p->stats.capped += capped;
		if (late || busy || capped || missed)
			overload_count(p, now, late, busy || capped, missed,
			    lateness);
	}
	if (busy) {
		snprintf(buf, len, "%s", SKIPPED_DETAIL);
		return RBD_TICK_SKIPPED;
	}
	if (capped) {
		snprintf(buf, len, "skipped: %llu probes in flight, " CAPPED_WHY
		    " (" LATE_WHY ")", (unsigned long long)p->in_flight_max);
		return RBD_TICK_SKIPPED;
	}
	if (late) {
		late_detail(lateness, missed, buf, len);
		return RBD_TICK_LATE;
	}
	return RBD_TICK_ON_TIME;
}

/* A probe's timer: start a sample, unless the last one is still running,
 * the tick is too late or the most requests are out already. */
static void probe_tick(evutil_socket_t fd, short kind, void *arg)
{
	struct rbd_probe *pr = arg;
	struct rbd_prober *p = pr->prober;
	uint64_t now = rbd_mono_usec(), planned = pr->next_tick, missed = 0;
	char detail[RBD_DETAIL_MAX];

	(void)fd;
	(void)kind;
	/* Re-armed first: the callbacks below may remove the probe. */
	if (probe_schedule(pr, now, &missed) < 0) {
		probe_unknown(pr, planned, now, "probe stopped: cannot arm its timer");
		return;
	}
	if (tick_judge(p, pr->interval, planned, now, missed, pr->handle != NULL,
	    true, detail, sizeof(detail)) != RBD_TICK_ON_TIME)
		probe_unknown(pr, planned, now, detail);
	else if (probe_start(pr, planned, now) < 0)
		probe_unknown(pr, planned, now, "could not start probe: out of memory");
}

/* ---- schedules of probes run elsewhere (unit checks) ---- */

void rbd_sched_start(struct rbd_sched *s, struct rbd_prober *p,
    uint64_t interval_usec, uint64_t first)
{
	*s = (struct rbd_sched){ .prober = p, .interval = interval_usec,
	    .next_tick = first };
	if (!p)
		return;
	p->stats.probes++;
	p->n_sched++;
	p->sched_per_sec += (double)RBD_USEC_PER_SEC / (double)interval_usec;
}

void rbd_sched_stop(struct rbd_sched *s)
{
	struct rbd_prober *p = s->prober;

	if (!p)
		return;
	p->stats.probes--;
	/* Summed, not recomputed: exact again once none is left. */
	if (--p->n_sched == 0)
		p->sched_per_sec = 0;
	else
		p->sched_per_sec -= (double)RBD_USEC_PER_SEC / (double)s->interval;
	s->prober = NULL;
}

enum rbd_tick rbd_sched_tick(struct rbd_sched *s, uint64_t now, bool busy,
    uint64_t *ret_planned, uint64_t *ret_next, char *detail, size_t len)
{
	uint64_t planned = s->next_tick, missed;
	enum rbd_tick t;

	next_tick(s->interval, &s->next_tick, now, &missed);
	t = tick_judge(s->prober, s->interval, planned, now, missed, busy,
	    false, detail, len);
	*ret_planned = planned;
	*ret_next = s->next_tick - now;
	return t;
}

void rbd_sched_sample(struct rbd_sched *s)
{
	if (s->prober)
		s->prober->stats.samples++;
}

/* An http(s) URL parsed, for every request of its probe, and its host;
 * -EINVAL for anything else. */
static int url_parse(const char *url, char **ret_host, CURLU **ret_u)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *h;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "https")) &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		h = strdup(host);
		r = h ? 0 : -ENOMEM;
	}
	curl_free(scheme);
	curl_free(host);
	if (r < 0) {
		curl_url_cleanup(u);
		return r;
	}
	*ret_host = h;
	*ret_u = u;
	return 0;
}

/* Copy cfg into one block: the probe, its status list and its strings. */
static struct rbd_probe *probe_alloc(const struct rbd_http_probe *cfg,
    const char *host)
{
	size_t nstat = cfg->n_expect_status * sizeof(int);
	size_t lurl = strlen(cfg->url) + 1, lhost = strlen(host) + 1;
	size_t lbody = cfg->expect_body ? strlen(cfg->expect_body) + 1 : 0;
	struct rbd_probe *pr = calloc(1, sizeof(*pr) + nstat + lurl + lhost + lbody);
	char *s;

	if (!pr)
		return NULL;
	s = (char *)(pr + 1) + nstat;
	if (nstat)
		memcpy(pr + 1, cfg->expect_status, nstat);
	pr->status = (const int *)(pr + 1);
	pr->n_status = cfg->n_expect_status;
	pr->url = memcpy(s, cfg->url, lurl);
	pr->host = memcpy(s + lurl, host, lhost);
	if (lbody) {
		pr->body = memcpy(s + lurl + lhost, cfg->expect_body, lbody);
		pr->body_len = lbody - 1;
	}
	return pr;
}

/* Is cfg something we can probe? */
static bool cfg_valid(const struct rbd_http_probe *cfg)
{
	return cfg && cfg->url && strlen(cfg->url) <= RBD_POLICY_URL_MAX &&
	    cfg->n_expect_status <= RBD_POLICY_STATUS_MAX &&
	    (cfg->n_expect_status == 0 || cfg->expect_status) &&
	    (!cfg->expect_body || strlen(cfg->expect_body) <= RBD_POLICY_SCALAR_MAX);
}

/* Timeouts: the check's, or the interval when it has none; whole ms. */
static void probe_set_timeout(struct rbd_probe *pr, uint64_t timeout_usec,
    uint64_t interval_usec)
{
	uint64_t usec = timeout_usec ? timeout_usec : interval_usec;
	uint64_t ms = (usec + RBD_USEC_PER_MSEC - 1) / RBD_USEC_PER_MSEC;

	if (ms > LONG_MAX)
		ms = LONG_MAX;
	pr->timeout_usec = usec;
	pr->timeout_ms = (long)ms;
}

/* Register a probe of either mode (fetch_max 0: HTTP check) from a checked
 * cfg; its first tick is spread within one interval. */
static int probe_add(struct rbd_prober *p, const struct rbd_http_probe *cfg,
    size_t fetch_max, uint64_t interval_usec, rbd_probe_cb cb, void *arg,
    struct rbd_probe **ret)
{
	struct rbd_probe *pr;
	struct timeval tv;
	char *host = NULL;
	CURLU *u = NULL;
	uint64_t off;
	int r;

	r = url_parse(cfg->url, &host, &u);
	if (r < 0)
		return r;
	pr = probe_alloc(cfg, host);
	free(host);
	if (!pr) {
		curl_url_cleanup(u);
		return -ENOMEM;
	}
	pr->cu = u;
	pr->prober = p;
	pr->cb = cb;
	pr->arg = arg;
	pr->interval = interval_usec;
	pr->fetch_max = fetch_max;
	probe_set_timeout(pr, cfg->timeout_usec, interval_usec);
	pr->tick = evtimer_new(p->base, probe_tick, pr);
	off = spread_offset(++p->seq, interval_usec);
	pr->next_tick = rbd_mono_usec() + off;
	tv = rbd_usec_tv(off);
	if (!pr->tick || evtimer_add(pr->tick, &tv) < 0) {
		probe_free(pr);
		return -ENOMEM;
	}
	pr->next = p->probes;
	if (p->probes)
		p->probes->prev = pr;
	p->probes = pr;
	p->stats.probes++;
	p->n_curl++;
	conns_update(p);
	*ret = pr;
	return 0;
}

/* Register an HTTP check. */
int rbd_prober_add(struct rbd_prober *p, const struct rbd_http_probe *cfg,
    uint64_t interval_usec, rbd_probe_cb cb, void *arg,
    struct rbd_probe **ret)
{
	if (!p || !cfg_valid(cfg) || !cb || !ret || interval_usec == 0)
		return -EINVAL;
	return probe_add(p, cfg, 0, interval_usec, cb, arg, ret);
}

/* Register a fetch: the same probe with no judgement and a kept body. */
int rbd_prober_add_fetch(struct rbd_prober *p, const char *url,
    uint64_t timeout_usec, uint64_t interval_usec, size_t body_max,
    rbd_probe_cb cb, void *arg, struct rbd_probe **ret)
{
	struct rbd_http_probe cfg = { .timeout_usec = timeout_usec };

	if (!p || !url || strnlen(url, RBD_PROBE_FETCH_URL_MAX + 1) >
	    RBD_PROBE_FETCH_URL_MAX || body_max == 0 ||
	    body_max > RBD_PROBE_FETCH_BODY_MAX || !cb || !ret ||
	    interval_usec == 0)
		return -EINVAL;
	cfg.url = (char *)url;		/* only read, then copied */
	return probe_add(p, &cfg, body_max, interval_usec, cb, arg, ret);
}

/* Is header one line of "Name: value" within the limit? */
static bool header_valid(const char *header)
{
	size_t len = strnlen(header, RBD_PROBE_HEADER_MAX + 1);
	const char *colon = memchr(header, ':', len);

	return len <= RBD_PROBE_HEADER_MAX && colon && colon > header &&
	    !memchr(header, '\r', len) && !memchr(header, '\n', len);
}

/* Replace the probe's extra header. The list is built here, once per
 * change, and only handed to curl by each request; one a transfer in
 * flight was set up with stays alive until that transfer's handle is
 * pooled. */
int rbd_probe_set_header(struct rbd_probe *pr, const char *header)
{
	struct curl_slist *list = NULL, *old;

	if (!pr || pr->removed || (header && !header_valid(header)))
		return -EINVAL;
	if (header) {
		list = curl_slist_append(NULL, header);
		if (!list)
			return -ENOMEM;
	}
	old = pr->headers;
	pr->headers = list;
	if (!old)
		return 0;
	if (pr->handle && !pr->handle->retired)
		pr->handle->retired = old;	/* the one in flight uses it */
	else
		curl_slist_free_all(old);	/* set after that one: unused */
	return 0;
}

/* Stop a probe now; free it now or, inside a callback, from the loop. */
void rbd_probe_remove(struct rbd_probe *pr)
{
	struct rbd_prober *p;

	if (!pr || pr->removed)
		return;
	p = pr->prober;
	pr->removed = true;
	event_del(pr->tick);
	probe_detach(pr);
	if (pr->prev)
		pr->prev->next = pr->next;
	else
		p->probes = pr->next;
	if (pr->next)
		pr->next->prev = pr->prev;
	p->stats.probes--;
	p->n_curl--;
	conns_update(p);
	if (p->depth == 0) {
		probe_free(pr);
		return;
	}
	/* A callback is on the stack (maybe pr's own): free it from the loop. */
	pr->prev = NULL;
	pr->next = p->zombies;
	p->zombies = pr;
	event_active(p->reaper, EV_TIMEOUT, 0);
}

/* Hook curl's multi handle to the loop. */
static int multi_setup(struct rbd_prober *p)
{
	if (curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) ||
	    curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, (void *)p) ||
	    curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb) ||
	    curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, (void *)p))
		return -EINVAL;
	conns_update(p);
	return 0;
}

/* A prober with curl's multi handle hooked to base. */
struct rbd_prober *rbd_prober_new(struct event_base *base)
{
	struct rbd_prober *p;

	if (!base)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->base = base;
	p->conns_max = conns_limit();
	/* Every request out holds a descriptor: never more than the
	 * connections we may cache, half the descriptor limit. */
	p->in_flight_max = (uint64_t)p->conns_max < RBD_PROBE_IN_FLIGHT_MAX ?
	    (uint64_t)p->conns_max : RBD_PROBE_IN_FLIGHT_MAX;
	/* Reference-counted by curl; the matching cleanup is in _free. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(p);
		return NULL;
	}
	p->curl_global = true;
	p->timer = evtimer_new(base, curl_timer_cb, p);
	p->reaper = event_new(base, -1, 0, reap_cb, p);
	p->ov.ev = evtimer_new(base, overload_timer_cb, p);
	p->multi = curl_multi_init();
	if (!p->timer || !p->reaper || !p->ov.ev || !p->multi ||
	    multi_setup(p) < 0) {
		rbd_prober_free(p);
		return NULL;
	}
	return p;
}

/* Free the socket watchers. curl has told us to drop every socket by now
 * (curl_multi_cleanup closes its cached connections through sock_cb). */
static void socks_free(struct rbd_prober *p)
{
	struct rbd_sock *sk;

	while ((sk = p->all_socks)) {
		p->all_socks = sk->next_all;
		event_free(sk->ev);
		free(sk);
	}
	p->free_socks = NULL;
}

/* Remove every probe, then close curl's connections and free the rest. */
void rbd_prober_free(struct rbd_prober *p)
{
	struct rbd_handle *h;

	if (!p)
		return;
	while (p->probes)
		rbd_probe_remove(p->probes);
	reap(p);
	if (p->multi)
		curl_multi_cleanup(p->multi);
	while ((h = p->idle)) {
		p->idle = h->next;
		handle_destroy(p, h);
	}
	socks_free(p);
	if (p->timer)
		event_free(p->timer);
	if (p->reaper)
		event_free(p->reaper);
	if (p->ov.ev)
		event_free(p->ov.ev);
	if (p->curl_global)
		curl_global_cleanup();
	free(p);
}

int rbd_prober_set_in_flight_max(struct rbd_prober *p, uint64_t max)
{
	if (!p || max == 0)
		return -EINVAL;
	p->in_flight_max = max;
	return 0;
}

bool rbd_prober_overloaded(const struct rbd_prober *p)
{
	return p && p->ov.last &&
	    rbd_mono_usec() - p->ov.last < RBD_PROBE_CALM_USEC;
}

/* A copy of the counters, with what is computed on demand. */
void rbd_prober_stats(const struct rbd_prober *p, struct rbd_prober_stats *ret)
{
	uint64_t sec = rbd_mono_usec() / RBD_USEC_PER_SEC;

	if (!ret)
		return;
	if (!p) {
		memset(ret, 0, sizeof(*ret));
		return;
	}
	*ret = p->stats;
	ret->in_flight_max = p->in_flight_max;
	ret->intended_per_sec = p->sched_per_sec;
	for (const struct rbd_probe *pr = p->probes; pr; pr = pr->next)
		ret->intended_per_sec += (double)RBD_USEC_PER_SEC / (double)pr->interval;
	rbd_lateness_summary(&p->lateness, &ret->lateness);
	ret->overloaded = rbd_prober_overloaded(p);
	ret->recent_late = ret->recent_skipped = ret->recent_missed = 0;
	for (size_t i = 0; i < RECENT_SLOTS; i++)
		if (p->ov.recent[i].sec + (RECENT_SLOTS - 1) >= sec &&
		    p->ov.recent[i].sec <= sec) {
			ret->recent_late += p->ov.recent[i].late;
			ret->recent_skipped += p->ov.recent[i].skipped;
			ret->recent_missed += p->ov.recent[i].missed;
		}
}
