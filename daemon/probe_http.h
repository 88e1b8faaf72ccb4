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
 * blocking the loop. Only http and https; redirects are not followed;
 * bodies are read up to RBD_PROBE_BODY_MAX and the rest is discarded.
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

/* One sample. detail is a short reason a person can read, distinct per
 * failure kind: "HTTP 200" (ok), "HTTP 500 (expected 200)", "timed out
 * after 2s", "connection refused", "body does not contain 'ok'",
 * "could not resolve host 'x'", "TLS error: ...". Valid only during the
 * callback. */
struct rbd_probe_result {
	enum rbd_sample_result result;
	const char *detail;
	uint64_t started;	/* monotonic usec: when the sample was taken */
	uint64_t planned;	/* monotonic usec: when the schedule wanted it
				 * (started - planned is the lateness) */
	uint64_t latency;	/* usec from start to completion */
	long status;		/* HTTP status, 0 when none */
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
};
void rbd_prober_stats(const struct rbd_prober *p, struct rbd_prober_stats *ret);

#endif
