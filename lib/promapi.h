/* The Prometheus HTTP API's answer to an instant query (/api/v1/query),
 * parsed with Jansson: a scalar or a one-series vector is a value, an empty
 * vector is no data, several series is an error that says how many and
 * suggests an aggregation, an error status carries Prometheus's own words. */
#ifndef RBD_PROMAPI_H
#define RBD_PROMAPI_H

#include <stddef.h>

#include "metric.h"

/* Parse body (the HTTP status is the caller's: Prometheus answers errors
 * with 400/422/503 and the same JSON). Always fills *ret; returns 0. */
int rbd_promapi_parse(const char *body, size_t len,
    struct rbd_metric_result *ret);

/* The query string for url: "<url>/api/v1/query?query=<escaped>", a new
 * string, or NULL when out of memory. */
char *rbd_promapi_query_url(const char *base_url, const char *query);

/* The Authorization header for a query: "Authorization: Bearer TOKEN"
 * when token is set, else "Authorization: Basic base64(user:password)"
 * (RFC 7617) when user is set, else "". Returns 0, or -ENAMETOOLONG when
 * buf (len bytes) is too small, or -EINVAL for a token or password with a
 * control character (a header must stay one line). */
int rbd_promapi_auth_header(const char *token, const char *user,
    const char *password, char *buf, size_t len);

#endif
