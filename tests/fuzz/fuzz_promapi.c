/* libFuzzer harness for the Prometheus HTTP API's answers (lib/promapi.c,
 * on Jansson): each input is the body of an /api/v1/query response, as
 * the daemon hands it to rbd_promapi_parse. Build and run: "make fuzz"
 * (see tests/fuzz/README).
 *
 * Whatever the body, the result is filled in: a known status, a value
 * only with status VALUE (and never NaN: NaN is no data), and a reason
 * that is NUL-terminated, not empty and free of control characters (it
 * is shown in status, history and the journal). The first line of the
 * input is also used as a query and as credentials: the query URL must
 * keep only unreserved characters and %XX escapes after its base, and an
 * Authorization header that is built is one line. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "promapi.h"

#define require(cond) do { if (!(cond)) abort(); } while (0)
#define BASE "http://127.0.0.1:9090"

/* What every result promises. */
static void check_result(const struct rbd_metric_result *r)
{
	require((unsigned)r->status < _RBD_METRIC_STATUS_MAX);
	require(memchr(r->why, '\0', sizeof(r->why)) && r->why[0]);
	for (const char *p = r->why; *p; p++)
		require((unsigned char)*p >= 0x20 && *p != 0x7f);
	require(r->status == RBD_METRIC_VALUE ? !isnan(r->value) :
	    r->value == 0);
}

/* The query URL for q: the base, the path, then an escaped query. */
static void check_url(const char *q)
{
	static const char prefix[] = BASE "/api/v1/query?query=";
	char *url = rbd_promapi_query_url(BASE "//", q);
	const char *p;

	require(url && strncmp(url, prefix, strlen(prefix)) == 0);
	for (p = url + strlen(prefix); *p; p++) {
		if (*p == '%') {
			require(strchr("0123456789ABCDEF", p[1]) && p[1]);
			require(strchr("0123456789ABCDEF", p[2]) && p[2]);
			p += 2;
			continue;
		}
		require((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p));
	}
	free(url);
}

/* Headers from s as a token, and as a user and password (split at the
 * first ':'): built ones are a single line. */
static void check_auth(char *s)
{
	char buf[512], *colon = strchr(s, ':');
	int r;

	r = rbd_promapi_auth_header(s, NULL, NULL, buf, sizeof(buf));
	require(r == 0 || r == -EINVAL || r == -ENAMETOOLONG);
	if (r == 0)
		require(!strpbrk(buf, "\r\n"));
	if (colon)
		*colon = '\0';
	r = rbd_promapi_auth_header(NULL, s, colon ? colon + 1 : "", buf,
	    sizeof(buf));
	require(r == 0 || r == -EINVAL || r == -ENAMETOOLONG || r == -ENOMEM);
	if (r == 0)
		require(!strpbrk(buf, "\r\n"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rbd_metric_result r;
	const uint8_t *nl;
	char *line;
	size_t n;

	memset(&r, 0xa5, sizeof(r));
	require(rbd_promapi_parse((const char *)data, size, &r) == 0);
	check_result(&r);

	nl = memchr(data, '\n', size);
	n = nl ? (size_t)(nl - data) : size;
	if (n > 4096)
		return 0;
	line = malloc(n + 1);
	if (!line)
		return 0;
	memcpy(line, data, n);
	line[n] = '\0';
	check_url(line);
	check_auth(line);
	free(line);
	return 0;
}
