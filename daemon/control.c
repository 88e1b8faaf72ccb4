/* The control socket: see control.h.
 *
 * A connection goes READING -> OPEN -> CLOSING -> DEAD. It is only ever
 * freed from its own "kill" event, activated when it dies, so that no
 * callback (ours, libevent's or the daemon's handler) has it on its stack
 * when it goes; rbd_control_free is the one exception.
 *
 * Its close callback tells the daemon to forget c, and runs exactly once:
 * from rbd_conn_close (the daemon hands c back; the last replies are
 * flushed after that, on our own), or when c is freed (the client went,
 * a reply failed, the server is freed). */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "clock.h"
#include "control.h"
#include "diag.h"
#include "duration.h"
#include "policy.h"

/* As many as the clients at once: a burst of them waits in the kernel's
 * queue for accept() instead of failing (the kernel caps it). */
#define BACKLOG RBD_CONTROL_CLIENTS_MAX
#define ACCEPT_RETRY_USEC (100 * RBD_USEC_PER_MSEC)	/* after EMFILE */
#define MESSAGE_MAX 1024
#define SOCKET_MODE 0660
#define SOCKET_MODE_OPEN 0666	/* with access on: the daemon decides */
#define PEER_GROUPS_MAX 65536	/* NGROUPS_MAX of Linux */
/* Requests handed to the daemon per turn of the loop. A burst of clients
 * (hundreds asking for status at once) is served a few at a time between
 * the loop's timers, so probes keep their schedule; see drain_cb. */
#define DISPATCH_BATCH 8

enum conn_state {
	CONN_READING,	/* waiting for the request line */
	CONN_QUEUED,	/* the request line is in, waiting its turn */
	CONN_OPEN,	/* request handed over; the handler replies */
	CONN_CLOSING,	/* flushing the last replies */
	CONN_DEAD,	/* kill event pending: freed from the loop */
};

struct rbd_conn {
	struct rbd_control *ctl;
	struct rbd_conn *prev, *next;
	struct bufferevent *bev;
	struct event *kill;
	enum conn_state state;
	uint64_t deadline;	/* monotonic usec: the request line is due */
	size_t scanned;		/* input bytes known to hold no newline */
	size_t output_max;	/* cap on pending output */
	bool evicted;		/* closed to make room: no longer counted */
	bool queued;		/* in ctl->queue */
	bool hup;		/* the client shut down writing while queued */
	char *line;		/* queued: the request line */
	size_t line_len;
	TAILQ_ENTRY(rbd_conn) q;
	struct rbd_peer peer;
	void (*on_close)(void *arg);
	void *on_close_arg;
};

struct rbd_control {
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *resume;	/* accepting again after an accept error */
	rbd_request_cb cb;
	void *arg;
	char *path;		/* the socket file we created, or NULL */
	dev_t dev;
	ino_t ino;
	struct rbd_conn *conns;
	size_t n_conns;
	TAILQ_HEAD(, rbd_conn) queue;	/* complete requests, oldest first */
	struct event *drain;	/* hands the queue over, DISPATCH_BATCH a turn */
	uint64_t timeout_usec;
	size_t clients_max;
	struct rbd_access access;
};

/* Run c's close callback, if it has not run yet. */
static void conn_release(struct rbd_conn *c)
{
	void (*cb)(void *) = c->on_close;

	c->on_close = NULL;
	if (cb)
		cb(c->on_close_arg);
}

/* Free c now and run its close callback. */
static void conn_destroy(struct rbd_conn *c)
{
	void (*cb)(void *) = c->on_close;
	void *arg = c->on_close_arg;
	struct rbd_control *ctl = c->ctl;

	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (!c->evicted)
		ctl->n_conns--;
	if (c->queued)
		TAILQ_REMOVE(&ctl->queue, c, q);
	free(c->line);
	bufferevent_free(c->bev);
	event_free(c->kill);
	free(c->peer.groups);
	free(c);
	if (cb)
		cb(arg);
}

/* The kill event: c died earlier in this loop iteration. */
static void kill_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_destroy(arg);
}

/* Drop c: stop its I/O and free it from the loop, soon. */
static void conn_kill(struct rbd_conn *c)
{
	if (c->state == CONN_DEAD)
		return;
	c->state = CONN_DEAD;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(c->kill, EV_TIMEOUT, 1);
}

/* The error object; msg is made ASCII-safe when it is not UTF-8. */
static json_t *error_obj(const char *code, char *msg)
{
	json_t *o = json_pack("{s:b,s:s,s:s}", "ok", 0, "error", code,
	    "message", msg);

	if (o)
		return o;
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	return json_pack("{s:b,s:s,s:s}", "ok", 0, "error", code, "message", msg);
}

/* Bytes queued for every connection but c. */
static size_t queued_others(const struct rbd_conn *c)
{
	size_t n = 0;

	for (const struct rbd_conn *o = c->ctl->conns; o; o = o->next)
		if (o != c)
			n += evbuffer_get_length(bufferevent_get_output(o->bev));
	return n;
}

/* Queue obj as one line on c, within the output cap and, for a big reply,
 * the shared budget. */
static int conn_send(struct rbd_conn *c, const json_t *obj)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t n, others;
	char *s;
	int r = 0;

	if (!json_is_object(obj))
		return -EINVAL;
	s = json_dumps(obj, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	n = strlen(s);
	/* One big reply always gets through when nothing else is queued:
	 * memory stays within the budget plus the largest reply. */
	if (evbuffer_get_length(out) + n + 1 > c->output_max) {
		conn_kill(c);
		r = -ENOBUFS;
	} else if (n + 1 > RBD_CONTROL_OUTPUT_MAX &&
	    (others = queued_others(c)) > 0 &&
	    others + n + 1 > RBD_CONTROL_QUEUED_MAX) {
		r = -EBUSY;
	} else if (evbuffer_add(out, s, n) < 0 || evbuffer_add(out, "\n", 1) < 0) {
		conn_kill(c);
		r = -ENOMEM;
	}
	free(s);
	return r;
}

int rbd_conn_reply(struct rbd_conn *c, const json_t *obj)
{
	if (c->state != CONN_OPEN)
		return -EPIPE;
	return conn_send(c, obj);
}

void rbd_conn_set_output_max(struct rbd_conn *c, size_t bytes)
{
	if (bytes < RBD_CONTROL_OUTPUT_MAX)
		bytes = RBD_CONTROL_OUTPUT_MAX;
	c->output_max = bytes > RBD_CONTROL_REPLY_MAX ? RBD_CONTROL_REPLY_MAX :
	    bytes;
}

void rbd_conn_close(struct rbd_conn *c)
{
	conn_release(c);
	if (c->state == CONN_CLOSING || c->state == CONN_DEAD)
		return;
	c->state = CONN_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_kill(c);
}

void rbd_conn_on_close(struct rbd_conn *c, void (*cb)(void *arg), void *arg)
{
	c->on_close = cb;
	c->on_close_arg = arg;
}

void rbd_conn_fail(struct rbd_conn *c, const char *code, const char *fmt, ...)
{
	char msg[MESSAGE_MAX];
	json_t *o;
	va_list ap;

	if (c->state == CONN_CLOSING || c->state == CONN_DEAD) {
		rbd_conn_close(c);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = error_obj(code, msg);
	if (o)
		conn_send(c, o);
	json_decref(o);
	rbd_conn_close(c);
}

/* Give the client what is left of its time to send the request line;
 * bufferevent's own read timeout restarts at every read, which would let
 * a client trickle one byte at a time forever. */
static void conn_set_deadline(struct rbd_conn *c)
{
	uint64_t now = rbd_mono_usec();
	struct timeval rtv = rbd_usec_tv(c->deadline > now ? c->deadline - now : 1);
	struct timeval wtv = rbd_usec_tv(c->ctl->timeout_usec);

	bufferevent_set_timeouts(c->bev, &rtv, &wtv);
}

/* Parse the request line and hand it to the handler. */
static void conn_dispatch(struct rbd_conn *c, const char *line, size_t len)
{
	struct timeval wtv = rbd_usec_tv(c->ctl->timeout_usec);
	struct rbd_request req;
	char err[512];
	int r;

	r = rbd_request_parse(line, len, &req, err, sizeof(err));
	if (r < 0) {
		rbd_conn_fail(c, r == -EINVAL ? "refused" :
		    r == -ENOMEM ? "internal" : "protocol", "%s", err);
		return;
	}
	/* From here on the client may wait for a long time (--wait): no read
	 * timeout, but reading goes on to notice when it hangs up. */
	c->state = CONN_OPEN;
	bufferevent_set_timeouts(c->bev, NULL, &wtv);
	c->ctl->cb(c->ctl->arg, c, &req, &c->peer);
	rbd_request_clear(&req);
}

/* Hand the queued requests to the daemon, DISPATCH_BATCH at a time: a
 * zero timer, so that each batch runs in a turn of the loop of its own,
 * with the probes' timers that fell due meanwhile. */
static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval now = { 0, 0 };
	struct rbd_control *ctl = arg;
	struct rbd_conn *c;

	(void)fd;
	(void)what;
	for (int n = 0; n < DISPATCH_BATCH && (c = TAILQ_FIRST(&ctl->queue)); n++) {
		char *line = c->line;

		TAILQ_REMOVE(&ctl->queue, c, q);
		c->queued = false;
		c->line = NULL;
		conn_dispatch(c, line, c->line_len);
		free(line);
		/* Gone while it waited: a stream kept open ends here (a
		 * one-shot reply is still flushed). */
		if (c->hup && c->state == CONN_OPEN)
			conn_kill(c);
	}
	if (!TAILQ_EMPTY(&ctl->queue))
		evtimer_add(ctl->drain, &now);
}

/* The request line is in: queue c for its turn. No read timeout from
 * now on; reading goes on, to notice a client that goes. */
static void conn_enqueue(struct rbd_conn *c, char *line, size_t len)
{
	static const struct timeval now = { 0, 0 };
	struct timeval wtv = rbd_usec_tv(c->ctl->timeout_usec);
	struct rbd_control *ctl = c->ctl;

	c->state = CONN_QUEUED;
	c->line = line;
	c->line_len = len;
	c->queued = true;
	TAILQ_INSERT_TAIL(&ctl->queue, c, q);
	bufferevent_set_timeouts(c->bev, NULL, &wtv);
	if (!evtimer_pending(ctl->drain, NULL))
		evtimer_add(ctl->drain, &now);
}

/* Input: the request line, once; anything after it is ignored. */
static void read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct rbd_conn *c = arg;
	struct evbuffer_ptr eol;
	size_t len;
	char *line;

	if (c->state != CONN_READING) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	/* Search only what is new: a line sent a byte at a time must not
	 * cost the daemon quadratic time. */
	if (evbuffer_ptr_set(in, &eol, c->scanned, EVBUFFER_PTR_SET) == 0)
		eol = evbuffer_search_eol(in, &eol, NULL, EVBUFFER_EOL_LF);
	else
		eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
	c->scanned = evbuffer_get_length(in);
	if ((eol.pos < 0 && evbuffer_get_length(in) > RBD_PROTO_LINE_MAX) ||
	    (eol.pos >= 0 && (size_t)eol.pos > RBD_PROTO_LINE_MAX)) {
		rbd_conn_fail(c, "protocol", "request line longer than %d bytes",
		    RBD_PROTO_LINE_MAX);
		return;
	}
	if (eol.pos < 0) {
		conn_set_deadline(c);
		return;
	}
	line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
	if (!line) {
		rbd_conn_fail(c, "internal", "out of memory");
		return;
	}
	evbuffer_drain(in, evbuffer_get_length(in));
	conn_enqueue(c, line, len);
}

/* Output flushed: a closing connection is done. */
static void write_cb(struct bufferevent *bev, void *arg)
{
	struct rbd_conn *c = arg;

	if (c->state == CONN_CLOSING &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_kill(c);
}

/* End of input, an error or a timeout. Once the request is dispatched,
 * EOF means the client is gone (a closing connection reads no more). */
static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct rbd_conn *c = arg;
	char t[RBD_DURATION_STR_MAX];
	size_t pending_in = evbuffer_get_length(bufferevent_get_input(bev));

	if (c->state == CONN_READING && (what & BEV_EVENT_TIMEOUT) &&
	    (what & BEV_EVENT_READING)) {
		rbd_conn_fail(c, "protocol", "no complete request within %s",
		    rbd_duration_str(c->ctl->timeout_usec, t, sizeof(t)));
		return;
	}
	if (c->state == CONN_READING && (what & BEV_EVENT_EOF) && pending_in) {
		rbd_conn_fail(c, "protocol", "request not terminated by a newline");
		return;
	}
	/* A request sent, then the writing side shut: it is still answered
	 * (as when it was served at once), then c goes. */
	if (c->state == CONN_QUEUED && (what & BEV_EVENT_EOF)) {
		c->hup = true;
		return;
	}
	conn_kill(c);
}

/* The peer's supplementary groups (SO_PEERGROUPS, Linux 4.13): a new
 * array in *ret (NULL when there are none) and its length, or -errno. A
 * kernel without it gives none: only the primary group counts then. */
static int peer_groups(int fd, gid_t **ret, size_t *ret_n)
{
	gid_t small[64], *g = small;
	socklen_t len = sizeof(small);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
		if (errno == ENOPROTOOPT) {
			*ret = NULL;
			*ret_n = 0;
			return 0;
		}
		if (errno != ERANGE || len > PEER_GROUPS_MAX * sizeof(gid_t))
			return -errno;
		/* len is what it takes now. */
		if (!(g = malloc(len)))
			return -ENOMEM;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
			int r = -errno;

			free(g);
			return r;
		}
	}
	*ret_n = len / sizeof(gid_t);
	if (g == small && *ret_n) {
		if (!(g = malloc(len)))
			return -ENOMEM;
		memcpy(g, small, len);
	}
	if (!*ret_n && g != small)
		free(g);
	*ret = *ret_n ? g : NULL;
	return 0;
}

/* Fill peer from fd's SO_PEERCRED and SO_PEERGROUPS. */
static int peer_get(int fd, struct rbd_peer *peer)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	r = peer_groups(fd, &peer->groups, &peer->n_groups);
	if (r < 0)
		return r;
	peer->pid = uc.pid;
	peer->uid = uc.uid;
	peer->gid = uc.gid;
	snprintf(peer->text, sizeof(peer->text), "uid %u pid %d",
	    (unsigned)uc.uid, (int)uc.pid);
	return 0;
}

bool rbd_peer_privileged(const struct rbd_peer *peer)
{
	return peer->uid == 0 || peer->uid == geteuid();
}

bool rbd_peer_in_group(const struct rbd_peer *peer, gid_t gid)
{
	if (peer->gid == gid)
		return true;
	for (size_t i = 0; i < peer->n_groups; i++)
		if (peer->groups[i] == gid)
			return true;
	return false;
}

/* One error line to a client we will not serve, without blocking; then
 * the socket is closed. */
static void reject(int fd, const char *code, const char *fmt, ...)
{
	char msg[MESSAGE_MAX];
	json_t *o;
	char *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = error_obj(code, msg);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (s) {
		size_t n = strlen(s);

		s[n] = '\n';	/* json_dumps' NUL: the line ends here */
		(void)send(fd, s, n + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	free(s);
	json_decref(o);
	close(fd);
}

/* A new connection object for fd, listed in ctl. */
static int conn_new(struct rbd_control *ctl, int fd, const struct rbd_peer *peer)
{
	struct rbd_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->ctl = ctl;
	c->peer = *peer;
	c->output_max = RBD_CONTROL_OUTPUT_MAX;
	c->kill = event_new(ctl->base, -1, 0, kill_cb, c);
	c->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->kill || !c->bev) {
		if (c->bev)
			bufferevent_free(c->bev);	/* closes fd */
		else
			close(fd);
		if (c->kill)
			event_free(c->kill);
		free(c);
		return -ENOMEM;
	}
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	/* Read no more than a whole line and its newline before looking. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, RBD_PROTO_LINE_MAX + 1);
	c->deadline = rbd_mono_usec() + ctl->timeout_usec;
	conn_set_deadline(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = ctl->conns;
	if (ctl->conns)
		ctl->conns->prev = c;
	ctl->conns = c;
	ctl->n_conns++;
	return 0;
}

/* Full: make room by closing the connection that has waited longest
 * without sending its request (idle, or trickling it a byte at a time).
 * A client that sends its request when it connects is served at once, so
 * idle and slow clients can only ever push out each other, never a real
 * one, and never a connection already served (a --wait stream). Returns
 * whether one was closed: its slot is free now (the kill event frees the
 * memory), or false when every connection is past its request. */
static bool evict_idle(struct rbd_control *ctl)
{
	struct rbd_conn *oldest = NULL;

	/* Newest first: the last one reading is the oldest. */
	for (struct rbd_conn *c = ctl->conns; c; c = c->next)
		if (c->state == CONN_READING)
			oldest = c;
	if (!oldest)
		return false;
	rbd_conn_fail(oldest, "protocol", "closed to make room for another "
	    "client: too many clients (%zu) and no request from this one yet",
	    ctl->clients_max);
	/* It stays listed until its kill event: do not count it. */
	ctl->n_conns--;
	oldest->evicted = true;
	return true;
}

/* A client connected. */
static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct rbd_control *ctl = arg;
	struct rbd_peer peer;

	(void)lev;
	(void)sa;
	(void)salen;
	if (ctl->n_conns >= ctl->clients_max && !evict_idle(ctl)) {
		reject(fd, "internal", "too many clients (%zu); try again later",
		    ctl->clients_max);
		return;
	}
	if (peer_get(fd, &peer) < 0) {
		close(fd);
		return;
	}
	/* Out of memory closes fd: the client sees EOF. */
	if (conn_new(ctl, fd, &peer) < 0)
		free(peer.groups);
}

/* accept() failed (out of descriptors, most likely): pause accepting for
 * a moment instead of spinning on a listening socket that stays ready. */
static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct rbd_control *ctl = arg;
	struct timeval tv = rbd_usec_tv(ACCEPT_RETRY_USEC);

	evconnlistener_disable(lev);
	evtimer_add(ctl->resume, &tv);
}

/* Accept again after a pause. */
static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_control *ctl = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(ctl->listener);
}

/* Fill errbuf; return err. */
__attribute__((format(printf, 4, 5)))
static int fail(char *errbuf, size_t errlen, int err, const char *fmt, ...)
{
	va_list ap;

	if (errbuf && errlen) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* "uid 1000 (alice)", or "uid 1000" when it has no name. */
static const char *uid_str(uid_t uid, char *buf, size_t len)
{
	const struct passwd *pw = getpwuid(uid);

	snprintf(buf, len, "uid %u%s%s%s", (unsigned)uid, pw ? " (" : "",
	    pw ? pw->pw_name : "", pw ? ")" : "");
	return buf;
}

/* The directory that holds path must exist, belong to root or to us, and
 * be writable by its owner only, unless it is sticky (like /tmp, where no
 * one can remove or rename what is ours): anyone else who can write there
 * could swap the socket for one of their own. Checked at start, for our
 * own socket and for one passed by systemd (/run/rollbackd, root's, 0755). */
static int check_dir(const char *path, char *errbuf, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], who[96], me[96];
	struct stat st;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (stat(dir, &st) < 0)
		return fail(errbuf, errlen, -errno, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(errbuf, errlen, -ENOTDIR, "%s: %s", dir, strerror(ENOTDIR));
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return fail(errbuf, errlen, -EPERM, "%s: the control socket's "
		    "directory belongs to %s, not to root or to rollbackd's user "
		    "(%s); refusing to use it: chown root %s, or choose another "
		    "socket path", dir, uid_str(st.st_uid, who, sizeof(who)),
		    uid_str(geteuid(), me, sizeof(me)), dir);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		return fail(errbuf, errlen, -EPERM, "%s: the control socket's "
		    "directory is writable by %s (mode %04o) and not sticky; "
		    "refusing to use it: chmod go-w %s", dir,
		    (st.st_mode & S_IWOTH) ? "others" : "its group",
		    (unsigned)(st.st_mode & 07777), dir);
	return 0;
}

/* Whether something listens on the socket file at path: 1 yes, 0 no (a
 * stale file), or a negative errno. */
static int socket_alive(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int r = 1;

	if (fd < 0)
		return -errno;
	/* Non-blocking: a listener with a full backlog says EAGAIN, alive. */
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0 &&
	    errno != EAGAIN && errno != EINPROGRESS)
		r = errno == ECONNREFUSED ? 0 : -errno;
	close(fd);
	return r;
}

/* Make room at path: nothing there, or a stale socket that goes. */
static int clear_path(const struct sockaddr_un *sun, char *errbuf, size_t errlen)
{
	const char *path = sun->sun_path;
	struct stat st;
	int r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 :
		    fail(errbuf, errlen, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return fail(errbuf, errlen, -EEXIST, "%s: exists and is not a"
		    " socket; refusing to replace it", path);
	r = socket_alive(sun);
	if (r > 0)
		return fail(errbuf, errlen, -EADDRINUSE,
		    "another rollbackd is listening on %s", path);
	if (r < 0)
		return fail(errbuf, errlen, r, "%s: %s", path, strerror(-r));
	if (unlink(path) < 0 && errno != ENOENT)
		return fail(errbuf, errlen, -errno, "%s: cannot remove the stale"
		    " socket: %s", path, strerror(errno));
	return 0;
}

/* bind() and listen(). Linux creates the socket file with the socket's
 * own mode minus the umask: with fchmod() first the file is never more
 * open than 0660, without touching the process-wide umask. */
static int bind_listen(int fd, const struct sockaddr_un *sun, char *errbuf,
    size_t errlen)
{
	int r;

	if (fchmod(fd, SOCKET_MODE) < 0 ||
	    bind(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0)
		return fail(errbuf, errlen, -errno, "%s: %s", sun->sun_path,
		    strerror(errno));
	/* The umask may have taken more away. */
	if (chmod(sun->sun_path, SOCKET_MODE) < 0 || listen(fd, BACKLOG) < 0) {
		r = fail(errbuf, errlen, -errno, "%s: %s", sun->sun_path,
		    strerror(errno));
		unlink(sun->sun_path);
		return r;
	}
	return 0;
}

/* Create the listening socket at path; remember which file is ours. */
static int socket_create(struct rbd_control *ctl, const char *path,
    int *ret_fd, char *errbuf, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(sun.sun_path))
		return fail(errbuf, errlen, -ENAMETOOLONG, "%s: socket path longer"
		    " than %zu bytes", path, sizeof(sun.sun_path) - 1);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	r = check_dir(path, errbuf, errlen);
	if (r >= 0)
		r = clear_path(&sun, errbuf, errlen);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fail(errbuf, errlen, -errno, "socket: %s", strerror(errno));
	r = bind_listen(fd, &sun, errbuf, errlen);
	if (r >= 0 && lstat(path, &st) < 0)
		r = fail(errbuf, errlen, -errno, "%s: %s", path, strerror(errno));
	if (r >= 0 && !(ctl->path = strdup(path))) {
		unlink(path);
		r = fail(errbuf, errlen, -ENOMEM, "out of memory");
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	*ret_fd = fd;
	return 0;
}

/* Remove the socket file if it is still the one we created. */
static void socket_remove(const struct rbd_control *ctl)
{
	struct stat st;

	if (ctl->path && lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino)
		unlink(ctl->path);
}

/* A socket passed by systemd: the same rule for the directory of its
 * file (an abstract or unnamed socket has none). */
static int check_passed(int fd, char *errbuf, size_t errlen)
{
	struct sockaddr_un sun = { 0 };
	socklen_t len = sizeof(sun);
	size_t n;

	if (getsockname(fd, (struct sockaddr *)&sun, &len) < 0)
		return fail(errbuf, errlen, -errno, "control socket: %s",
		    strerror(errno));
	if (sun.sun_family != AF_UNIX || len <= offsetof(struct sockaddr_un,
	    sun_path) || sun.sun_path[0] == '\0')
		return 0;
	n = len - offsetof(struct sockaddr_un, sun_path);
	if (n >= sizeof(sun.sun_path))
		n = sizeof(sun.sun_path) - 1;
	sun.sun_path[n] = '\0';
	return check_dir(sun.sun_path, errbuf, errlen);
}

/* Start accepting on the listening socket fd. */
static int listen_start(struct rbd_control *ctl, int fd, bool own,
    char *errbuf, size_t errlen)
{
	unsigned flags = LEV_OPT_CLOSE_ON_EXEC | (own ? LEV_OPT_CLOSE_ON_FREE : 0);

	/* A socket from systemd is blocking; libevent accepts until EAGAIN. */
	if (evutil_make_socket_nonblocking(fd) < 0)
		return fail(errbuf, errlen, -errno, "control socket: %s",
		    strerror(errno));
	ctl->resume = evtimer_new(ctl->base, resume_cb, ctl);
	if (!ctl->resume)
		return fail(errbuf, errlen, -ENOMEM, "out of memory");
	/* backlog -1: fd listens already (ours, or systemd's). */
	ctl->listener = evconnlistener_new(ctl->base, accept_cb, ctl, flags, -1, fd);
	if (!ctl->listener)
		return fail(errbuf, errlen, -ENOMEM, "cannot listen on the control"
		    " socket");
	evconnlistener_set_error_cb(ctl->listener, accept_error_cb);
	return 0;
}

int rbd_control_new(struct event_base *base, const char *path, int fd,
    rbd_request_cb cb, void *arg, struct rbd_control **ret, char *errbuf,
    size_t errlen)
{
	struct rbd_control *ctl = calloc(1, sizeof(*ctl));
	bool own = fd < 0;
	int r = 0;

	if (!ctl)
		return fail(errbuf, errlen, -ENOMEM, "out of memory");
	ctl->base = base;
	ctl->cb = cb;
	ctl->arg = arg;
	ctl->timeout_usec = RBD_CONTROL_TIMEOUT_SEC * RBD_USEC_PER_SEC;
	ctl->clients_max = RBD_CONTROL_CLIENTS_MAX;
	TAILQ_INIT(&ctl->queue);
	ctl->drain = evtimer_new(base, drain_cb, ctl);
	if (!ctl->drain)
		r = fail(errbuf, errlen, -ENOMEM, "out of memory");
	else if (own && !path)
		r = fail(errbuf, errlen, -EINVAL, "no control socket path");
	else if (own)
		r = socket_create(ctl, path, &fd, errbuf, errlen);
	else
		r = check_passed(fd, errbuf, errlen);
	if (r >= 0)
		r = listen_start(ctl, fd, own, errbuf, errlen);
	if (r < 0) {
		/* Our socket is not the listener's yet: close it here. The
		 * socket file goes with rbd_control_free. */
		if (own && ctl->path && !ctl->listener)
			close(fd);
		rbd_control_free(ctl);
		return r;
	}
	*ret = ctl;
	return 0;
}

void rbd_control_set_limits(struct rbd_control *ctl, uint64_t timeout_usec,
    unsigned clients_max)
{
	ctl->timeout_usec = timeout_usec ? timeout_usec :
	    RBD_CONTROL_TIMEOUT_SEC * RBD_USEC_PER_SEC;
	ctl->clients_max = clients_max ? clients_max : RBD_CONTROL_CLIENTS_MAX;
}

/* One group of cfg: its gid, or an error naming where it was written. */
static int group_resolve(const struct rbd_config *cfg, const char *key,
    const struct rbd_config_group *g, gid_t *ret_gid, char *ret_name,
    size_t name_len, struct rbd_diag *diag)
{
	const char *s = g->name;
	struct group *gr;
	char *end;

	errno = 0;
	if (s[strspn(s, "0123456789")] == '\0') {
		unsigned long n = strtoul(s, &end, 10);

		gr = n <= (unsigned long)INT_MAX ? getgrgid((gid_t)n) : NULL;
	} else {
		gr = getgrnam(s);
	}
	if (!gr && errno && errno != ENOENT && errno != ESRCH &&
	    errno != EBADF && errno != EPERM) {
		int r = -errno;

		rbd_diag_add(diag, cfg->file, g->line, g->col, "%s: cannot look "
		    "up group '%s': %s", key, s, strerror(-r));
		return r;
	}
	if (!gr) {
		rbd_diag_add(diag, cfg->file, g->line, g->col, "%s: no such group"
		    " '%s' (create it with groupadd, or name another)", key, s);
		return -ENOENT;
	}
	*ret_gid = gr->gr_gid;
	snprintf(ret_name, name_len, "%s", gr->gr_name);
	return 0;
}

int rbd_access_resolve(const struct rbd_config *cfg, struct rbd_access *ret,
    struct rbd_diag *diag)
{
	struct rbd_access a = { 0 };
	int r = 0, r2 = 0;

	if (cfg->read_group.name) {
		a.has_read = true;
		r = group_resolve(cfg, "read_group", &cfg->read_group, &a.read_gid,
		    a.read_name, sizeof(a.read_name), diag);
	}
	/* Both are looked up: -t shows every error at once. */
	if (cfg->deploy_group.name) {
		a.has_deploy = true;
		r2 = group_resolve(cfg, "deploy_group", &cfg->deploy_group,
		    &a.deploy_gid, a.deploy_name, sizeof(a.deploy_name), diag);
	}
	if (r < 0 || r2 < 0)
		return r < 0 ? r : r2;
	a.on = a.has_read || a.has_deploy;
	*ret = a;
	return 0;
}

int rbd_control_set_access(struct rbd_control *ctl, const struct rbd_access *a)
{
	mode_t mode = a->on ? SOCKET_MODE_OPEN : SOCKET_MODE;
	struct stat st;

	ctl->access = *a;
	/* Only the file we created, and only while it is still ours. */
	if (!ctl->path || lstat(ctl->path, &st) < 0 || st.st_dev != ctl->dev ||
	    st.st_ino != ctl->ino || (st.st_mode & 07777) == mode)
		return 0;
	if (chmod(ctl->path, mode) < 0)
		return -errno;
	return 0;
}

const struct rbd_access *rbd_control_access(const struct rbd_control *ctl)
{
	return &ctl->access;
}

void rbd_control_free(struct rbd_control *ctl)
{
	if (!ctl)
		return;
	if (ctl->listener)
		evconnlistener_free(ctl->listener);
	if (ctl->resume)
		event_free(ctl->resume);
	while (ctl->conns)
		conn_destroy(ctl->conns);
	if (ctl->drain)
		event_free(ctl->drain);
	socket_remove(ctl);
	free(ctl->path);
	free(ctl);
}
