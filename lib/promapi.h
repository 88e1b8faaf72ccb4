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

#endif
