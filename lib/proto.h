/* The control protocol's requests: one JSON object per line over the
 * daemon's Unix socket (Jansson). Pure: text in, a checked request out,
 * and back. Replies are JSON objects too; their fields are documented in
 * rollbackd(8) and built where they are answered.
 *
 * Every name a request carries is validated here (rbd_service_check,
 * rbd_version_check) before it goes anywhere else, so the daemon never
 * sees a hostile version string. */
#ifndef RBD_PROTO_H
#define RBD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duration.h"
#include "version.h"
#include "watch.h"

#define RBD_PROTO_LINE_MAX	(64 * 1024)	/* bytes in one request line */
#define RBD_PROTO_META_MAX	4000		/* bytes of meta as compact JSON (the store keeps < 4096) */
#define RBD_PROTO_META_KEYS	32
#define RBD_PROTO_HISTORY_DEFAULT 20
#define RBD_PROTO_HISTORY_MAX	1000
#define RBD_PROTO_REASON_MAX	256		/* bytes of a pause reason */
#define RBD_PROTO_PAUSE_MAX	(30 * RBD_USEC_PER_DAY)	/* a pause's for_usec */
#define RBD_PROTO_KEEP_DEFAULT	5		/* prune's keep */
#define RBD_PROTO_KEEP_MAX	1000

enum rbd_cmd {
	RBD_CMD_DEPLOYED,
	RBD_CMD_STATUS,
	RBD_CMD_HISTORY,
	RBD_CMD_MARK_GOOD,
	RBD_CMD_MARK_BAD,
	RBD_CMD_ROLLBACK,
	RBD_CMD_RELOAD,
	RBD_CMD_PAUSE,
	RBD_CMD_RESUME,
	RBD_CMD_DRILL,		/* service, wait: stream until the report */
	RBD_CMD_DRILL_ABORT,	/* service */

	RBD_CMD_PRUNE,		/* old release directories (deploy.releases) */
	_RBD_CMD_MAX,
};
const char *rbd_cmd_str(enum rbd_cmd c);	/* "deployed", "mark-good", ... */
int rbd_cmd_from_str(const char *s, enum rbd_cmd *ret);

struct rbd_request {
	enum rbd_cmd cmd;
	char service[RBD_SERVICE_MAX + 1];	/* "" when absent (status) */
	char version[RBD_VERSION_MAX + 1];	/* "" when absent (rollback: auto) */
	char *meta;		/* deployed: compact JSON object of strings, or NULL */
	bool wait;		/* deployed: stream progress until the verdict */
	size_t limit;		/* history */
	/* deployed: the schema the release runs against, and how it got
	 * there. A zeroed request has none: has_schema false (schema is then
	 * 0 and means nothing; the engine's event gets RBD_SCHEMA_NONE), and
	 * migration RBD_MIGRATION_NONE, the only value allowed without a
	 * schema. */
	bool has_schema;
	int64_t schema;		/* with has_schema: 0..RBD_SCHEMA_MAX */
	enum rbd_migration migration;
	/* pause: how long (0: until resumed) and why ("" none given). */
	uint64_t for_usec;	/* 0, or 1..RBD_PROTO_PAUSE_MAX */
	char reason[RBD_PROTO_REASON_MAX + 1];
	/* prune: how many of the newest release directories stay, besides
	 * those that must (0..RBD_PROTO_KEEP_MAX; RBD_PROTO_KEEP_DEFAULT when
	 * has_keep is false). */
	bool has_keep;
	unsigned keep;
};

/* Parse one request line (without the newline). Returns 0 and fills *ret,
 * or fails with a message for the client in errbuf (errbuf may be NULL):
 *  -EPROTO  the request is malformed: "not JSON: ...", "empty request",
 *           "request must be a JSON object, got an array", "missing 'cmd'",
 *           "unknown command 'x'", "unknown field 'x' for deployed",
 *           "missing 'service'", "'limit' must be an integer, got a string",
 *           "meta values must be strings ('k' is an integer)", "'schema'
 *           must be an integer, got a string", "request line longer than
 *           65536 bytes" (reply "error":"protocol");
 *  -EINVAL  a value is refused: "invalid release version 'x': must not
 *           start with '-'", "invalid service name 'x': ...", "'limit' must
 *           be between 1 and 1000, got 0", "too many meta keys (33; at most
 *           32)", "meta is too big (...)", "invalid meta key 'x': ...",
 *           "'schema' must be between 0 and 999999999999, got -1",
 *           "'migration' must be none, reversible or irreversible, got
 *           'x'", "'migration' needs 'schema'", "'for_usec' must be
 *           between 1 and 2592000000000 (30 days), got 0", "invalid pause
 *           reason 'x': contains a control character", "'keep' must be
 *           between 0 and 1000, got -1" (reply
 *           "error":"refused");
 *  -ENOMEM.
 * A value from the peer is shown escaped (\n, \x1b, \xc3) and cut to 64
 * bytes with "...": the message is safe to print. *ret is not written on
 * failure. History's limit defaults to RBD_PROTO_HISTORY_DEFAULT, prune's
 * keep to RBD_PROTO_KEEP_DEFAULT (has_keep false); an empty
 * meta object gives meta NULL.
 * rbd_request_clear() frees what a parsed request holds. */
int rbd_request_parse(const char *line, size_t len, struct rbd_request *ret,
    char *errbuf, size_t errlen);
void rbd_request_clear(struct rbd_request *r);

/* The request as one compact JSON line without the newline, for the
 * client: only the fields r->cmd takes, and of those only the ones set
 * (service/version non-empty, meta non-NULL, wait true, limit non-zero,
 * schema with has_schema, migration not none, for_usec non-zero, reason
 * non-empty, keep with has_keep; limit 0 means the daemon's default). Values are not
 * validated here: the daemon refuses what rbd_request_parse refuses.
 * Returns a new string (free()), or NULL when out of memory or when meta
 * is not a JSON object (or a name or the reason is not UTF-8).
 * parse(format(r)) gives r back. */
char *rbd_request_format(const struct rbd_request *r);

/* Whether s (len bytes) may be a pause reason: 1 to RBD_PROTO_REASON_MAX
 * bytes of valid UTF-8 without control characters (C0, DEL, C1), so it
 * prints as one safe line in status, history and logs. Returns 0, or
 * -EINVAL with a static reason in *ret_why ("is empty", "is longer than
 * 256 bytes", "is not valid UTF-8", "contains a control character");
 * ret_why may be NULL. The client checks with it before sending. */
int rbd_proto_reason_check(const char *s, size_t len, const char **ret_why);

#endif
