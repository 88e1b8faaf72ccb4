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
 * running"). */
#ifndef RBD_PROBE_HTTP_H
#define RBD_PROBE_HTTP_H

#include <stdint.h>

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

/* One sample. detail is a short reason a person can read, distinct per
 * failure kind: "HTTP 200" (ok), "HTTP 500 (expected 200)", "timed out
 * after 2s", "connection refused", "body does not contain 'ok'",
 * "could not resolve host 'x'", "TLS error: ...". Valid only during the
 * callback.
 *
 * In fetch mode the result is RBD_SAMPLE_OK whenever a response came back,
 * whatever its status (detail "HTTP 404"), with the body in body/body_len:
 * NUL-terminated (body[body_len] == '\0'; "" when empty), owned by the
 * prober, valid only during the callback. Anything else is
 * RBD_SAMPLE_UNKNOWN (a provider that cannot be reached is no data, not a
 * failure), with body NULL: a transport failure (the details above,
 * status 0), "response larger than N bytes" past body_max (status as
 * received), or a skipped tick. Fetch mode never yields RBD_SAMPLE_FAIL.
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

/* Counters for status and benchmarks. */
struct rbd_prober_stats {
	uint64_t probes;	/* registered */
	uint64_t in_flight;
	uint64_t samples;	/* completed since start */
	uint64_t skipped;	/* ticks skipped because still running */
	uint64_t late;		/* samples started more than 100ms late */
	uint64_t missed;	/* ticks dropped: the loop was a whole interval
				 * or more behind (no catch-up burst) */
	uint64_t connects;	/* new connections opened (keep-alive misses) */
	uint64_t handles;	/* easy handles allocated (pool size) */
	uint64_t body_grows;	/* fetch body buffers (re)allocated: flat in
				 * the steady state, as buffers are reused */
};
void rbd_prober_stats(const struct rbd_prober *p, struct rbd_prober_stats *ret);

#endif
