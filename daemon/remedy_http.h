/* Remedies: one-shot HTTP requests to a flag service, on the daemon's
 * event loop (libcurl's multi socket interface driven by libevent, the
 * hiperfifo pattern, as in probe_http.c).
 *
 * One client serves every service. A request sends the remedy's method,
 * URL, headers and body once; any 2xx response is success, anything else
 * (another status, a transport error, the timeout) a failure with a detail
 * a person can read: "HTTP 204", "HTTP 503 (expected 2xx)", "timed out
 * after 5s", "connection refused". Only http and https; redirects are not
 * followed; no proxy; the response body is read and discarded. DNS goes
 * through curl's threaded resolver, never blocking the loop. */
#ifndef RBD_REMEDY_HTTP_H
#define RBD_REMEDY_HTTP_H

#include <stdint.h>

#include "policy.h"
#include "watch.h"

struct event_base;
struct rbd_remedy_http_client;
struct rbd_remedy_req;

/* Called once per request on the loop, never from inside a call into the
 * client; detail is valid only during the call. The request is freed after
 * it returns. The callback may start and cancel other requests, but not
 * free the client. */
typedef void (*rbd_remedy_http_cb)(void *arg, enum rbd_deploy_result result,
    const char *detail);

/* A client on base, or NULL when curl or libevent cannot be set up. */
struct rbd_remedy_http_client *rbd_remedy_http_new(struct event_base *base);
/* Cancel every request in flight (their callbacks are not called), then
 * free the client. NULL is fine. Not from inside a callback. */
void rbd_remedy_http_free(struct rbd_remedy_http_client *c);

/* Send the request of h once, giving up after timeout_usec (at least 1ms).
 * h is copied. Returns 0 and the request in *ret (may be NULL), or -EINVAL
 * (no URL or method, bad header) / -ENOMEM, and then cb is not called. */
int rbd_remedy_http_start(struct rbd_remedy_http_client *c,
    const struct rbd_remedy_http *h, uint64_t timeout_usec,
    rbd_remedy_http_cb cb, void *arg, struct rbd_remedy_req **ret);

/* Abandon a request in flight: its callback is not called. NULL is fine.
 * Not for a request whose callback is running. */
void rbd_remedy_http_cancel(struct rbd_remedy_req *req);

#endif
