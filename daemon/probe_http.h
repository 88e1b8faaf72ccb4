/* HTTP probes on the daemon's event loop: libcurl's multi socket interface
 * driven by libevent (the hiperfifo pattern).
 *
 * One prober serves every check of every service. Each registered probe
 * fires once per interval on its own libevent timer (a min-heap: no scan
 * over all probes per event), at an offset within the interval chosen so
 * that thousands of probes do not fire in the same millisecond. Easy
 * handles come from a small pool sized to the probes in flight, not one
 * per check; connections are kept alive in the multi handle's cache and
 * reused across samples. DNS goes through curl's threaded resolver, never
 * blocking the loop. Only http and https; redirects are not followed.
 *
 * Two modes:
 *   - HTTP check (rbd_prober_add): the prober judges each response itself
 *     (status list, expect_body). The body is never stored, only scanned up
 *     to RBD_PROBE_BODY_MAX as it streams by; the rest is discarded.
 *   - fetch (rbd_prober_add_fetch): for metric checks. The prober only
 *     transfers; each sample delivers the status and the whole body (up to
 *     the probe's body_max) and the caller judges both.
 *
 * A probe still running at its next tick is not doubled up: that tick
 * yields an RBD_SAMPLE_UNKNOWN result ("skipped: previous probe still
 * running").
 *
 * Overload is never silent, and never healthy. A tick that fires late (see
 * RBD_PROBE_LATE_DIVISOR) sends no request: it yields an RBD_SAMPLE_UNKNOWN
 * result at once, "late: started 1.2s after its time (rollbackd cannot
 * keep its schedule)", in either mode (a fetch then has no body). Sending
 * it would only add load to a loop that is behind already, and its answer
 * could not be judged as if on time. Ticks the loop fell a whole interval
 * or more behind on are not fired in a burst: they are counted as missed,
 * and the tick that does fire is then late by an interval or more, so it
 * is that unknown sample, its detail saying how many were missed ("late:
 * started 2.0s after its time, 7 samples missed (rollbackd cannot keep its
 * schedule)"), or a skipped one. So every tick of a probe is one of: a
 * sample taken on time, a late one (unknown), a skipped one (unknown) or a
 * missed one (counted in the next late or skipped one).
 *
 * At most RBD_PROBE_IN_FLIGHT_MAX requests are out at once (fewer when
 * half the descriptor limit is less). A tick on time that finds that many
 * out sends nothing either: it is an unknown sample, "skipped: 1024
 * probes in flight, as many as rollbackd runs at once (rollbackd cannot
 * keep its schedule)", counted as skipped. Without the cap a loop that
 * fell behind would send a backlog that makes every request dearer
 * (curl walks its connections per request) and so fall further behind.
 *
 * A timeout is a failure of the endpoint only when the loop kept up while
 * the request was out: when it did not (see RBD_PROBE_STALL_DIVISOR), an
 * answer that came in time may have gone unread until after the deadline,
 * so the sample is unknown, "timed out after 500ms while rollbackd was
 * 230ms behind (rollbackd cannot keep its schedule)", and counted in the
 * overload episode as a late one (and in the stats as stalled).
 *
 * The prober keeps the lateness of the last RBD_LATENESS_RING ticks for
 * quantiles computed on demand (rbd_prober_stats), and follows overload
 * episodes: the first late, skipped or missed tick after a calm period, a
 * summary at most every RBD_PROBE_CALM_USEC while it lasts, and the end
 * once RBD_PROBE_CALM_USEC went by without one, each reported to the
 * callback set with rbd_prober_on_overload(). Its timer is armed only
 * during an episode: an idle prober arms no timer at all. */
#ifndef RBD_PROBE_HTTP_H
#define RBD_PROBE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duration.h"
#include "policy.h"
#include "watch.h"

struct event_base;
struct rbd_prober;
struct rbd_probe;

#define RBD_PROBE_BODY_MAX (64 * 1024)	/* bytes of a body kept for expect_body */
/* Fetch mode: the largest body_max accepted, and the longest URL (longer
 * than a policy's URL: it may carry an encoded PromQL query). */
#define RBD_PROBE_FETCH_BODY_MAX (64 * 1024 * 1024)
#define RBD_PROBE_FETCH_URL_MAX	(64 * 1024)
/* The longest extra request header, "Name: value". */
#define RBD_PROBE_HEADER_MAX	(8 * 1024)

/* A tick is late when it fires more than its interval /
 * RBD_PROBE_LATE_DIVISOR after its planned time, and more than
 * RBD_PROBE_LATE_MIN_USEC: its sample is then unknown, not taken (see
 * above), unless the previous one is still running, which makes it a
 * skipped tick. Half the interval: a sample that late is nearer to the
 * next one's time than to its own, so it no longer tells how the service
 * was doing when it was due. The floor matters only for intervals under
 * 200 ms: the loop's ordinary jitter must not make samples of a very short
 * interval unknown. With an interval of the floor or more (a policy's
 * watch.interval is 100 ms at least) a tick that comes after missed ones
 * is always late, so missed ticks never pass without an unknown sample. */
#define RBD_PROBE_LATE_DIVISOR	2
#define RBD_PROBE_LATE_MIN_USEC	(100 * RBD_USEC_PER_MSEC)
/* Requests out at once, at most (see above). 1024, not the 256 that
 * kept most throughput under overload (below): the ticks that were due
 * while the loop stalled (a fork, a synchronous commit) all fire in one
 * turn of the loop, before any answer can be read, and a burst of them
 * over the cap is unknown samples; a watch window that gets one sample a
 * check (a 1 s verification at a 1 s interval) is then held for no data
 * (make bench's detection section did so with 256 at 1,000 checks). The
 * way to have both is to queue a capped tick until a slot frees or its
 * time is up (not done yet). Measured with
 * 10,000 checks every 200 ms (five times what one core can do; bench/
 * overload): with no cap, 0.1% of the probes intended were made; with a
 * cap of 1024, 0.7%; 512, 9%; 256, 28%; 128, 24%; 32, 12% (a shared
 * machine: the figures move by some points). The price: 1024 endpoints
 * hanging at once hold every slot, and the other checks' ticks meanwhile
 * are unknown samples that say so (never silent, never healthy). A cap
 * of 1024 that fell to 256 only from a tick more than 20 ms late did no
 * better than 1024 (0.7% against 8.5% for 256, run after it): the backlog
 * is sent while the loop still looks on time. Defined here unless the
 * build sets it (benchmarks of other values). */
#ifndef RBD_PROBE_IN_FLIGHT_MAX
#define RBD_PROBE_IN_FLIGHT_MAX	1024
#endif
/* A timed-out request is unknown, not failed, when a timer of the
 * prober's due while it was out ran more than its timeout /
 * RBD_PROBE_STALL_DIVISOR late, and more than RBD_PROBE_STALL_MIN_USEC
 * (or curl noticed the deadline that late): the endpoint then had less
 * than nine tenths of its time, as far as the daemon can tell. The
 * loop's ordinary jitter (a few ms) stays under the floor, and a stall
 * that ends before the deadline does not count against an answer that
 * came later. The timers observed are the probes' ticks and curl's own
 * (which is due at each transfer's start and deadline), so with a single
 * probe a stall between those two goes unseen. */
#define RBD_PROBE_STALL_DIVISOR	10
#define RBD_PROBE_STALL_MIN_USEC (20 * RBD_USEC_PER_MSEC)
/* The prober is overloaded while a late, skipped or missed tick happened
 * within this long; an episode ends after this long without one. */
#define RBD_PROBE_CALM_USEC	(10 * RBD_USEC_PER_SEC)
/* Ticks whose lateness is kept for the quantiles: the most recent ones. */
#define RBD_LATENESS_RING	4096

/* One sample. detail is a short reason a person can read, distinct per
 * failure kind: "HTTP 200" (ok), "HTTP 500 (expected 200)", "timed out
 * after 2s", "connection refused", "body does not contain 'ok'",
 * "could not resolve host 'x'", "TLS error: ...", and for the unknown
 * samples of ticks that sent nothing "skipped: previous probe still
 * running" and "late: started 1.2s after its time (rollbackd cannot keep
 * its schedule)" (status 0, latency 0). Valid only during the callback.
 *
 * In fetch mode the result is RBD_SAMPLE_OK whenever a response came back,
 * whatever its status (detail "HTTP 404"), with the body in body/body_len:
 * NUL-terminated (body[body_len] == '\0'; "" when empty), owned by the
 * prober, valid only during the callback. Anything else is
 * RBD_SAMPLE_UNKNOWN (a provider that cannot be reached is no data, not a
 * failure), with body NULL: a transport failure (the details above,
 * status 0), "response larger than N bytes" past body_max (status as
 * received), or a skipped or late tick. Fetch mode never yields
 * RBD_SAMPLE_FAIL.
 * In HTTP-check mode body is always NULL and body_len 0. */
struct rbd_probe_result {
	enum rbd_sample_result result;
	const char *detail;
	uint64_t started;	/* monotonic usec: when the sample was taken */
	uint64_t planned;	/* monotonic usec: when the schedule wanted it
				 * (started - planned is the lateness) */
	uint64_t latency;	/* usec from start to completion */
	long status;		/* HTTP status, 0 when none */
	const char *body;	/* fetch mode, RBD_SAMPLE_OK only; else NULL */
	size_t body_len;
};

/* Called on the loop for every sample. May call rbd_probe_remove() on this
 * or any other probe. */
typedef void (*rbd_probe_cb)(void *arg, const struct rbd_probe_result *r);

/* A prober on base. Returns NULL when curl or libevent cannot be set up. */
struct rbd_prober *rbd_prober_new(struct event_base *base);
/* Stops and frees every probe still registered, then the prober. Callbacks
 * are not called. Not from inside a probe callback. NULL is fine. */
void rbd_prober_free(struct rbd_prober *p);

/* Start probing cfg every interval_usec; the first sample comes within one
 * interval (spread by the prober). cfg is copied. Returns 0 and the probe in
 * *ret, or -ENOMEM / -EINVAL. */
int rbd_prober_add(struct rbd_prober *p, const struct rbd_http_probe *cfg,
    uint64_t interval_usec, rbd_probe_cb cb, void *arg,
    struct rbd_probe **ret);

/* Start fetching url every interval_usec, for metric checks: a GET whose
 * status and body (at most body_max bytes) are delivered to cb, judged by
 * nothing here (see struct rbd_probe_result). timeout_usec 0 means the
 * interval. url is copied; http and https only, at most
 * RBD_PROBE_FETCH_URL_MAX bytes; body_max from 1 to
 * RBD_PROBE_FETCH_BODY_MAX. No request header is added beyond curl's own
 * (no compression is asked for): see rbd_probe_set_header(). Returns 0 and
 * the probe in *ret, or -ENOMEM / -EINVAL (*ret untouched). */
int rbd_prober_add_fetch(struct rbd_prober *p, const char *url,
    uint64_t timeout_usec, uint64_t interval_usec, size_t body_max,
    rbd_probe_cb cb, void *arg, struct rbd_probe **ret);

/* One extra request header for probe, in either mode, e.g.
 * "Authorization: Bearer xyz": "Name: value", at most RBD_PROBE_HEADER_MAX
 * bytes, no CR or LF. Copied; it replaces the previous one and is sent from
 * the next request on (a request in flight keeps what it was sent with).
 * NULL removes it. The value is a secret as far as the prober knows: it is
 * never logged nor put in a detail. Returns 0, or -EINVAL (bad header,
 * NULL probe) / -ENOMEM, with the previous header kept. Safe from inside
 * any probe callback. */
int rbd_probe_set_header(struct rbd_probe *probe, const char *header);

/* Stop a probe: an in-flight request is abandoned and cb is not called
 * again. Safe from inside any probe callback. NULL is fine. */
void rbd_probe_remove(struct rbd_probe *probe);

/* The lateness of the most recent ticks (usec past their planned time),
 * in a ring of fixed size: adding one is a store, nothing is allocated.
 * Values above UINT32_MAX usec (71 minutes) are kept as UINT32_MAX. Zero
 * it to start empty. */
struct rbd_lateness {
	uint32_t v[RBD_LATENESS_RING];
	size_t n;		/* values kept, up to RBD_LATENESS_RING */
	size_t next;		/* where the next one goes */
};
void rbd_lateness_add(struct rbd_lateness *l, uint64_t usec);

/* Quantiles of the values kept, nearest rank (p50 is the smallest value
 * with at least half of them at or below it), and the largest; all 0 when
 * empty. O(n) on a copy: for status, not per sample. */
struct rbd_lateness_summary {
	size_t n;
	uint64_t p50, p99, max;	/* usec */
};
void rbd_lateness_summary(const struct rbd_lateness *l,
    struct rbd_lateness_summary *ret);

/* Counters for status and benchmarks. Every tick of a probe ends up in
 * exactly one of samples (a request sent on time and finished), late,
 * skipped or missed, or is still in flight (or failed to start: out of
 * memory, reported as an unknown sample). */
struct rbd_prober_stats {
	uint64_t probes;	/* registered */
	uint64_t in_flight;
	uint64_t samples;	/* requests completed since start */
	uint64_t skipped;	/* ticks skipped because still running, or
				 * because in_flight_max requests were out */
	uint64_t capped;	/* of those, the latter */
	uint64_t in_flight_max;
	uint64_t stalled;	/* samples that timed out while the loop was
				 * behind: unknown, not failed */
	uint64_t late;		/* ticks that fired late (see
				 * RBD_PROBE_LATE_DIVISOR): unknown samples,
				 * no request sent */
	uint64_t missed;	/* ticks dropped: the loop was a whole interval
				 * or more behind (no catch-up burst) */
	uint64_t connects;	/* new connections opened (keep-alive misses) */
	uint64_t handles;	/* easy handles allocated (pool size) */
	uint64_t in_flight_peak;	/* the most requests ever out at once */
	uint64_t body_grows;	/* fetch body buffers (re)allocated: flat in
				 * the steady state, as buffers are reused */
	/* Computed when asked for: */
	double intended_per_sec;	/* sum of 1 / interval over the probes */
	struct rbd_lateness_summary lateness;	/* of the last ticks fired,
						 * missed ones included */
	bool overloaded;	/* a late, skipped or missed tick within the
				 * last RBD_PROBE_CALM_USEC */
	/* Late, skipped and missed ticks in the last 10 to 11 seconds (whole
	 * seconds of the monotonic clock): never all 0 while overloaded. */
	uint64_t recent_late, recent_skipped, recent_missed;
};
void rbd_prober_stats(const struct rbd_prober *p, struct rbd_prober_stats *ret);

/* At most max requests out at once (see RBD_PROBE_IN_FLIGHT_MAX): for
 * tests and benchmarks. Returns 0, or -EINVAL for max 0. */
int rbd_prober_set_in_flight_max(struct rbd_prober *p, uint64_t max);

/* The schedule of a probe the prober does not run (a unit check, see
 * probe_unit.h), counted in the prober's statistics, lateness quantiles
 * and overload episodes like its own probes: the owner arms its own
 * timer with what rbd_sched_tick says and sends nothing on a tick that is
 * not RBD_TICK_ON_TIME, reporting an unknown sample with the detail
 * instead. Embedded by the owner; prober NULL: counted nowhere. */
struct rbd_sched {
	struct rbd_prober *prober;
	uint64_t interval;	/* usec */
	uint64_t next_tick;	/* mono usec: the next tick's planned time */
};
enum rbd_tick {
	RBD_TICK_ON_TIME,	/* take the sample */
	RBD_TICK_LATE,		/* unknown, nothing sent */
	RBD_TICK_SKIPPED,	/* unknown: the last one is still running */
};
/* Count s among p's probes, first tick planned at first (mono usec). */
void rbd_sched_start(struct rbd_sched *s, struct rbd_prober *p,
    uint64_t interval_usec, uint64_t first);
/* Stop counting it. Twice is fine. */
void rbd_sched_stop(struct rbd_sched *s);
/* s's timer fired at now (busy: its last sample still running): what
 * this tick is (the detail of an unknown one into detail), its planned
 * time, and in *ret_next how long from now the next one is due. */
enum rbd_tick rbd_sched_tick(struct rbd_sched *s, uint64_t now, bool busy,
    uint64_t *ret_planned, uint64_t *ret_next, char *detail, size_t len);
/* A sample of s was taken (counted in samples). */
void rbd_sched_sample(struct rbd_sched *s);

/* Whether p is overloaded now (as in the stats), cheaply: no quantiles. */
bool rbd_prober_overloaded(const struct rbd_prober *p);

/* An overload episode, as the prober reports it. */
enum rbd_overload_kind {
	RBD_OVERLOAD_START,	/* the first late, skipped or missed tick
				 * after a calm period (and any more in the
				 * same loop iteration) */
	RBD_OVERLOAD_ONGOING,	/* a summary, at most every
				 * RBD_PROBE_CALM_USEC, while there are more */
	RBD_OVERLOAD_CALM,	/* none for RBD_PROBE_CALM_USEC: it is over */
	_RBD_OVERLOAD_MAX,
};
const char *rbd_overload_kind_str(enum rbd_overload_kind k);

struct rbd_overload_report {
	enum rbd_overload_kind kind;
	/* START, ONGOING: the ticks since the last report, over period;
	 * CALM: those of the whole episode, which lasted period (from its
	 * first bad tick to its last). */
	uint64_t period;	/* usec */
	uint64_t late, skipped, missed;
	uint64_t max_lateness;	/* usec, of the late ticks counted */
};

/* Called on the loop, never from inside a probe callback or a call into
 * the prober. NULL cb: no reports. */
typedef void (*rbd_overload_cb)(void *arg, const struct rbd_overload_report *o);
void rbd_prober_on_overload(struct rbd_prober *p, rbd_overload_cb cb,
    void *arg);

/* A report in words, the log line: "overloaded: 37 samples late by up to
 * 1.4s, 2 skipped, 120 missed in the last 1s; they count as unknown
 * (status: schedule)", or for CALM "schedule kept again: no sample late,
 * skipped or missed for 10s (overloaded for 42s: 1234 late, 3 skipped, 12
 * missed)". Always NUL-terminated; returns buf. */
#define RBD_OVERLOAD_STR_MAX 256
char *rbd_overload_str(const struct rbd_overload_report *o, char *buf,
    size_t len);

/* A lateness as people read it: "130ms", "1.4s", "2m5s". Returns buf. */
char *rbd_lateness_str(uint64_t usec, char *buf, size_t len);

#endif
