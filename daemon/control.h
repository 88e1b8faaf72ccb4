/* The control socket: a Unix stream socket speaking one JSON object per
 * line in each direction (requests parsed by lib/proto.c).
 *
 * Created safely: the socket's directory must belong to root or to us
 * and not be writable by others unless it is sticky (refused otherwise),
 * a stale socket file is replaced, the socket gets mode 0660 (0666 with
 * an access policy: rbd_control_set_access). Every connection has a
 * bounded line length, a read timeout and a cap on pending output; the
 * number of clients is capped (idle and slow ones make room for new
 * ones). A malformed, oversized or slow request closes that connection,
 * with an error reply where possible, and never disturbs the daemon or
 * the other clients. Complete requests are handed to the daemon a few per
 * turn of the loop, so that a burst of clients does not delay its timers.
 * The peer's credentials (SO_PEERCRED, SO_PEERGROUPS) come with each
 * request; rbd_access says what they allow. */
#ifndef RBD_CONTROL_H
#define RBD_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

struct event_base;
struct json_t;
struct rbd_control;
struct rbd_conn;

/* Connections at once. When full, the one that has waited longest
 * without sending its request is closed to make room (idle and slow
 * clients cannot lock real ones out); only when every connection has been
 * served already (--wait streams) is a new one refused. Each costs a
 * descriptor and about 1 KiB until it sends its request. */
#define RBD_CONTROL_CLIENTS_MAX	1024
#define RBD_CONTROL_TIMEOUT_SEC	10	/* to send a whole request line */
#define RBD_CONTROL_OUTPUT_MAX	(1024 * 1024)	/* pending reply bytes */
/* The longest reply line there can be, and the most a connection's cap
 * may be raised to (rbd_conn_set_output_max): rollbackctl reads reply
 * lines up to this long. */
#define RBD_CONTROL_REPLY_MAX	(256 * 1024 * 1024)
/* Replies above RBD_CONTROL_OUTPUT_MAX share this budget: one that would
 * take the bytes queued for every client past it while others are still
 * being sent is refused "busy" (rbd_conn_reply: -EBUSY), so that many
 * clients asking for a big status at once cannot exhaust memory. */
#define RBD_CONTROL_QUEUED_MAX	(64 * 1024 * 1024)

struct rbd_config;

struct rbd_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;		/* primary */
	gid_t *groups;		/* supplementary (SO_PEERGROUPS); may be NULL */
	size_t n_groups;
	char text[64];		/* "uid 1000 pid 4242", for history */
};

/* Who may use the control socket for what: the main config's read_group
 * and deploy_group, resolved. With neither (on false), every peer that
 * can connect may do everything: the socket file's mode decides, as it
 * always did. */
struct rbd_access {
	bool on;
	bool has_read, has_deploy;
	gid_t read_gid, deploy_gid;
	char read_name[64], deploy_name[64];	/* as configured */
};

/* Resolve cfg's groups (getgrnam(3), or a numeric gid that must exist).
 * Returns 0 and *ret, or -ENOENT with "file:line:col: read_group: no such
 * group 'x' (create it with groupadd, or name another)" added to diag for
 * each group that is not there (or -errno of a failed lookup). */
struct rbd_diag;
int rbd_access_resolve(const struct rbd_config *cfg, struct rbd_access *ret,
    struct rbd_diag *diag);

/* Whether peer is root, the daemon's own user (its effective uid), or a
 * member of gid (primary or supplementary). */
bool rbd_peer_privileged(const struct rbd_peer *peer);
bool rbd_peer_in_group(const struct rbd_peer *peer, gid_t gid);

/* A parsed request arrived on c. The handler answers with rbd_conn_reply
 * (and usually rbd_conn_close); it may keep c open to stream (--wait),
 * having registered with rbd_conn_on_close to learn when the client goes.
 * req is valid during the call only (copy what you keep); peer lives as
 * long as c. A request that does not parse never reaches the handler: it
 * is answered {"ok":false,"error":"protocol"|"refused",...} and closed.
 *
 * Lifetime of c: a handler that keeps c past its return registers a
 * close callback (rbd_conn_on_close) and forgets c there; c is valid
 * until that callback has run, and it runs exactly once:
 *   - from inside rbd_conn_close / rbd_conn_fail: the daemon hands c back
 *     (the queued replies are still flushed afterwards, by this module);
 *   - from the event loop when the client hangs up, a write fails or
 *     stalls, or a reply hit the output cap (never from inside
 *     rbd_conn_reply: a loop over waiters that replies stays safe);
 *   - from inside rbd_control_free.
 * After rbd_conn_close / rbd_conn_fail c must not be used. After a failed
 * rbd_conn_reply, c is dying: further replies return -EPIPE, and
 * rbd_conn_close is still the way to let go of it at once. Do not call
 * rbd_control_free from the request callback. */
typedef void (*rbd_request_cb)(void *arg, struct rbd_conn *c,
    const struct rbd_request *req, const struct rbd_peer *peer);

/* Listen on path (or on fd when fd >= 0: a listening socket passed by
 * systemd; it is made non-blocking, the caller keeps owning it and
 * rbd_control_free does not close it). Returns 0 and the server, or a negative errno with a message in
 * errbuf:
 *   -EPERM       "/run/x: the control socket's directory is writable
 *                by others (mode 0777) and not sticky; refusing to use
 *                it: chmod go-w /run/x" (or "by its group"), or "/run/x:
 *                the control socket's directory belongs to uid 1000
 *                (alice), not to root or to rollbackd's user (uid 0
 *                (root)); refusing to use it: chown root /run/x, or
 *                choose another socket path". The same rule holds for
 *                the directory of a socket passed in fd.
 *   -EADDRINUSE  "another rollbackd is listening on /run/x/x.sock"
 *   -EEXIST      "/run/x/x.sock: exists and is not a socket; refusing to
 *                replace it"
 *   -ENAMETOOLONG, -ENOENT, -ENOTDIR, ... "path: strerror"
 * A stale socket file (nothing answers on it) is replaced. The socket is
 * created with mode 0660. SIGPIPE must be ignored by the process. */
int rbd_control_new(struct event_base *base, const char *path, int fd,
    rbd_request_cb cb, void *arg, struct rbd_control **ret, char *errbuf,
    size_t errlen);
/* Stop listening, close every connection (calling their close callbacks,
 * synchronously, from here), remove the socket file when we created it
 * (and it is still ours). NULL is fine. */
void rbd_control_free(struct rbd_control *ctl);

/* Apply a resolved access (copied). With access on, the socket file that
 * rollbackd created itself gets mode 0666: every local user may connect
 * and the daemon answers each verb as the groups allow; off, 0660 as
 * created. A socket passed by systemd keeps its SocketMode=. Returns 0 or
 * -errno of chmod (logged by the caller; the old mode stays). */
int rbd_control_set_access(struct rbd_control *ctl, const struct rbd_access *a);
/* The access in force (never NULL). */
const struct rbd_access *rbd_control_access(const struct rbd_control *ctl);

/* For tests: the time a client has to send its request line (default
 * RBD_CONTROL_TIMEOUT_SEC; also the stall limit on flushing replies) and
 * the number of clients (default RBD_CONTROL_CLIENTS_MAX); 0 keeps the
 * default. Applies to connections accepted afterwards. */
void rbd_control_set_limits(struct rbd_control *ctl, uint64_t timeout_usec,
    unsigned clients_max);

/* Queue one reply line: obj (an object) serialised compactly plus '\n'.
 * obj is not stolen. Returns 0 or -ENOMEM / -EINVAL (not an object) /
 * -ENOBUFS (output cap reached: the connection is dropped) / -EBUSY (a
 * reply over RBD_CONTROL_OUTPUT_MAX that does not fit the shared budget
 * RBD_CONTROL_QUEUED_MAX now; nothing was queued, c stays open: answer
 * with rbd_conn_fail "busy") / -EPIPE (c is closing or gone). */
int rbd_conn_reply(struct rbd_conn *c, const struct json_t *obj);
/* Raise c's cap on pending output (default RBD_CONTROL_OUTPUT_MAX) for a
 * reply whose size scales with the configuration (status): bytes is
 * clamped to RBD_CONTROL_OUTPUT_MAX..RBD_CONTROL_REPLY_MAX. */
void rbd_conn_set_output_max(struct rbd_conn *c, size_t bytes);

/* Hand c back: its close callback runs now (if it has not run yet), and
 * the connection is closed once every queued reply has been written (or
 * the client stalls for the timeout). After this, c must not be used. */
void rbd_conn_close(struct rbd_conn *c);
/* cb(arg) runs once when c goes away for the caller, for any reason (see
 * the lifetime rules above); c must not be used from then on. Replaces
 * any earlier callback; cb NULL removes it. A client that shuts down its
 * writing side while c is open (before rbd_conn_close) counts as gone. */
void rbd_conn_on_close(struct rbd_conn *c, void (*cb)(void *arg), void *arg);

/* One reply and rbd_conn_close: {"ok":false,"error":code,"message":msg}.
 * Bytes that are not UTF-8 in msg are replaced by '?'. */
void rbd_conn_fail(struct rbd_conn *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
