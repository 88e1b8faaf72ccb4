/* libFuzzer harness for the control protocol's decoder (lib/proto.c):
 * each input is one request line from a client, as the daemon passes it
 * to rbd_request_parse. Build and run: "make fuzz" (see tests/fuzz/README).
 *
 * Refused: the error is -EPROTO or -EINVAL and its message one line of
 * printable ASCII (proto.h: "the message is safe to print"), and the
 * request is untouched. Accepted: every name passes the checks the daemon
 * relies on, each value is in its range, and the request survives the
 * round trip rbd_request_parse(rbd_request_format(r)) == r, formatting
 * the same line again. The input is also tried as a pause reason. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define require(cond) do { if (!(cond)) abort(); } while (0)

/* A message for a client: not empty, printable ASCII. */
static void check_message(const char *m)
{
	require(m[0] != '\0');
	for (; *m; m++)
		require((unsigned char)*m >= 0x20 && (unsigned char)*m < 0x7f);
}

/* What an accepted request promises. */
static void check_request(const struct rbd_request *r)
{
	require((unsigned)r->cmd < _RBD_CMD_MAX);
	require(!r->service[0] || rbd_service_check(r->service, NULL) == 0);
	require(!r->version[0] || rbd_version_check(r->version, NULL) == 0);
	require(r->cmd == RBD_CMD_STATUS || r->cmd == RBD_CMD_RELOAD ||
	    r->service[0]);
	require(r->cmd != RBD_CMD_HISTORY ||
	    (r->limit >= 1 && r->limit <= RBD_PROTO_HISTORY_MAX));
	require(!r->has_schema || (r->schema >= 0 && r->schema <= RBD_SCHEMA_MAX));
	require(r->has_schema || (r->schema == 0 &&
	    r->migration == RBD_MIGRATION_NONE));
	require(r->for_usec <= RBD_PROTO_PAUSE_MAX);
	require(!r->reason[0] ||
	    rbd_proto_reason_check(r->reason, strlen(r->reason), NULL) == 0);
	require(!r->meta || strlen(r->meta) <= RBD_PROTO_META_MAX);
}

/* Two requests are the same request. */
static void check_same(const struct rbd_request *a, const struct rbd_request *b)
{
	require(a->cmd == b->cmd);
	require(strcmp(a->service, b->service) == 0);
	require(strcmp(a->version, b->version) == 0);
	require((a->meta == NULL) == (b->meta == NULL));
	require(!a->meta || strcmp(a->meta, b->meta) == 0);
	require(a->wait == b->wait && a->limit == b->limit);
	require(a->has_schema == b->has_schema && a->schema == b->schema);
	require(a->migration == b->migration && a->for_usec == b->for_usec);
	require(strcmp(a->reason, b->reason) == 0);
}

/* format, parse, format again: the same request and the same line. */
static void check_round_trip(const struct rbd_request *r)
{
	struct rbd_request back;
	char err[512], *line, *again;

	line = rbd_request_format(r);
	require(line);
	require(strlen(line) <= RBD_PROTO_LINE_MAX && !strchr(line, '\n'));
	memset(&back, 0, sizeof(back));
	require(rbd_request_parse(line, strlen(line), &back, err,
	    sizeof(err)) == 0);
	check_same(r, &back);
	again = rbd_request_format(&back);
	require(again && strcmp(line, again) == 0);
	free(again);
	free(line);
	rbd_request_clear(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rbd_request r, untouched;
	const char *why = NULL;
	char err[512];
	int ret;

	memset(&r, 0xa5, sizeof(r));
	memcpy(&untouched, &r, sizeof(r));
	err[0] = '\0';
	ret = rbd_request_parse((const char *)data, size, &r, err, sizeof(err));
	if (ret == 0) {
		check_request(&r);
		check_round_trip(&r);
		rbd_request_clear(&r);
	} else {
		require(ret == -EPROTO || ret == -EINVAL || ret == -ENOMEM);
		require(memcmp(&r, &untouched, sizeof(r)) == 0);
		check_message(err);
	}

	/* Any bytes as a pause reason: accepted ones are printable UTF-8. */
	if (rbd_proto_reason_check((const char *)data, size, &why) == 0) {
		require(size >= 1 && size <= RBD_PROTO_REASON_MAX);
		for (size_t i = 0; i < size; i++)
			require(data[i] >= 0x20 && data[i] != 0x7f);
	} else {
		require(why != NULL);
	}
	return 0;
}
