/* The control socket: a Unix stream socket speaking one JSON object per
 * line in each direction (requests parsed by lib/proto.c).
 *
 * Created safely: the socket's directory must not be writable by others
 * (refused otherwise), a stale socket file is replaced, the socket gets
 * mode 0660. Every connection has a bounded line length, a read timeout
 * and a cap on pending output; the number of clients is capped. A
 * malformed, oversized or slow request closes that connection, with an
 * error reply where possible, and never disturbs the daemon or the other
 * clients. The peer's credentials (SO_PEERCRED) come with each request. */
#ifndef RBD_CONTROL_H
#define RBD_CONTROL_H

#include <stdbool.h>
#include <sys/types.h>

#include "proto.h"

struct event_base;
struct json_t;
struct rbd_control;
struct rbd_conn;

#define RBD_CONTROL_CLIENTS_MAX	256
#define RBD_CONTROL_TIMEOUT_SEC	10	/* to send a whole request line */
#define RBD_CONTROL_OUTPUT_MAX	(1024 * 1024)	/* pending reply bytes */

struct rbd_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char text[64];		/* "uid 1000 pid 4242", for history */
};

/* A parsed request arrived on c. The handler answers with rbd_conn_reply
 * (and usually rbd_conn_close); it may keep c open to stream (--wait),
 * having registered with rbd_conn_on_close to learn when the client goes. */
typedef void (*rbd_request_cb)(void *arg, struct rbd_conn *c,
    const struct rbd_request *req, const struct rbd_peer *peer);

/* Listen on path (or on fd when fd >= 0: a socket passed by systemd).
 * Returns 0 and the server, or a negative errno with a message in errbuf
 * ("/run/x: directory is writable by others"). */
int rbd_control_new(struct event_base *base, const char *path, int fd,
    rbd_request_cb cb, void *arg, struct rbd_control **ret, char *errbuf,
    size_t errlen);
/* Stop listening, close every connection (calling their close callbacks),
 * remove the socket file when we created it. */
void rbd_control_free(struct rbd_control *ctl);

/* Queue one reply line: obj serialised compactly plus '\n'. obj is not
 * stolen. Returns 0 or -ENOMEM / -ENOBUFS (output cap reached: the
 * connection is closed). */
int rbd_conn_reply(struct rbd_conn *c, const struct json_t *obj);
/* Close after every queued reply has been written. After this, c must not
 * be used by the caller. */
void rbd_conn_close(struct rbd_conn *c);
/* Called once when c goes away for any reason (client hung up, error,
 * rbd_conn_close done, server freed). Replaces any earlier callback. */
void rbd_conn_on_close(struct rbd_conn *c, void (*cb)(void *arg), void *arg);

/* One reply and close: {"ok":false,"error":code,"message":msg}. */
void rbd_conn_fail(struct rbd_conn *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
