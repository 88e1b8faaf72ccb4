/* The control socket: a real server on a real event loop in a temporary
 * directory, and real client sockets driven from the test. Waits are
 * bounded polls of the loop (a 5 ms tick keeps it turning), never sleeps. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "control.h"
#include "testutil.h"

#define WAIT_USEC (10 * 1000000ull)	/* longest any wait may take */
#define TICK_USEC 5000
#define CLIENT_BUF (256 * 1024)

/* The server under test and what its handler saw. */
static struct {
	struct event_base *base;
	struct event *tick;
	struct rbd_control *ctl;
	char dir[64];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool keep;		/* the handler keeps the connection open */
	int requests;
	enum rbd_cmd cmd;
	char service[RBD_SERVICE_MAX + 1];
	struct rbd_peer peer;
	struct rbd_conn *kept;
	int closed;		/* close callbacks run */
} S;

struct client {
	int fd;
	char buf[CLIENT_BUF];
	size_t len;
	bool eof;		/* EOF or connection reset */
};

/* The monotonic clock in usec. */
static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Turn the loop until cond holds; fail after WAIT_USEC. */
#define WAIT_FOR(cond) do { \
	uint64_t dl_ = now_usec() + WAIT_USEC; \
	while (!(cond)) { \
		ck_assert_msg(now_usec() < dl_, "timed out waiting for %s", #cond); \
		event_base_loop(S.base, EVLOOP_ONCE); \
	} \
} while (0)

/* The loop's heartbeat: it makes EVLOOP_ONCE return at least this often. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* The handler learns that c is gone. */
static void on_close(void *arg)
{
	(void)arg;
	S.closed++;
	S.kept = NULL;
}

/* The handler: record, answer {"ok":true,"cmd":...}, close or keep. */
static void on_request(void *arg, struct rbd_conn *c,
    const struct rbd_request *req, const struct rbd_peer *peer)
{
	json_t *o = json_pack("{s:b,s:s}", "ok", 1, "cmd", rbd_cmd_str(req->cmd));

	ck_assert_ptr_eq(arg, &S);
	S.requests++;
	S.cmd = req->cmd;
	snprintf(S.service, sizeof(S.service), "%s", req->service);
	S.peer = *peer;
	rbd_conn_on_close(c, on_close, NULL);
	ck_assert_int_eq(rbd_conn_reply(c, o), 0);
	json_decref(o);
	if (S.keep)
		S.kept = c;
	else
		rbd_conn_close(c);
}

static void setup(void)
{
	struct timeval tv = { 0, TICK_USEC };

	signal(SIGPIPE, SIG_IGN);
	memset(&S, 0, sizeof(S));
	snprintf(S.dir, sizeof(S.dir), "/tmp/rbd-ctl-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(S.dir));
	snprintf(S.path, sizeof(S.path), "%s/rollbackd.sock", S.dir);
	S.base = event_base_new();
	ck_assert_ptr_nonnull(S.base);
	S.tick = event_new(S.base, -1, EV_PERSIST, tick_cb, NULL);
	ck_assert_int_eq(event_add(S.tick, &tv), 0);
}

static void teardown(void)
{
	char other[160];

	rbd_control_free(S.ctl);
	event_free(S.tick);
	event_base_free(S.base);
	unlink(S.path);
	snprintf(other, sizeof(other), "%s/other", S.dir);
	unlink(other);
	chmod(S.dir, 0700);
	rmdir(S.dir);
}

/* Start the server on S.path with these limits (0: defaults). */
static void server_start(uint64_t timeout_usec, unsigned clients_max)
{
	char err[256] = "";

	ck_assert_msg(rbd_control_new(S.base, S.path, -1, on_request, &S, &S.ctl,
	    err, sizeof(err)) == 0, "%s", err);
	rbd_control_set_limits(S.ctl, timeout_usec, clients_max);
}

/* A socket bound at path; listening when listening. */
static int bound_socket(const char *path, bool listening)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 8), 0);
	return fd;
}

/* Connect cl to the server, non-blocking. */
static void client_connect(struct client *cl)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(cl, 0, sizeof(*cl));
	cl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(cl->fd, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", S.path);
	ck_assert_msg(connect(cl->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	    "connect: %s", strerror(errno));
}

static void client_close(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = -1;
}

/* Send s (small: it fits the socket buffer). */
static void client_send(struct client *cl, const char *s)
{
	ck_assert_int_eq(send(cl->fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Read what has arrived. */
static void client_poll(struct client *cl)
{
	while (!cl->eof && cl->len < sizeof(cl->buf) - 1) {
		ssize_t n = recv(cl->fd, cl->buf + cl->len,
		    sizeof(cl->buf) - 1 - cl->len, MSG_DONTWAIT);

		if (n > 0) {
			cl->len += (size_t)n;
			continue;
		}
		/* A server closing with our unread bytes in its queue makes
		 * Linux report ECONNRESET after the data: closed all the same. */
		if (n == 0 || errno == ECONNRESET)
			cl->eof = true;
		else
			ck_assert_msg(errno == EAGAIN, "recv: %s", strerror(errno));
		break;
	}
	cl->buf[cl->len] = '\0';
}

/* True once the server closed cl. */
static bool client_closed(struct client *cl)
{
	client_poll(cl);
	return cl->eof;
}

/* Complete lines received so far. */
static int client_lines(struct client *cl)
{
	int n = 0;

	client_poll(cl);
	for (size_t i = 0; i < cl->len; i++)
		n += cl->buf[i] == '\n';
	return n;
}

/* Line i (0-based) of what cl received, without its newline. */
static const char *client_line(struct client *cl, int i)
{
	static char line[4096];
	const char *p = cl->buf, *nl;

	for (; i > 0 && (nl = strchr(p, '\n')); i--)
		p = nl + 1;
	nl = strchr(p, '\n');
	ck_assert_ptr_nonnull(nl);
	ck_assert_uint_lt((size_t)(nl - p), sizeof(line));
	memcpy(line, p, (size_t)(nl - p));
	line[nl - p] = '\0';
	return line;
}

/* cl sends req and gets exactly the one line want, then EOF. */
static void client_request(const char *req, const char *want)
{
	struct client cl;

	client_connect(&cl);
	client_send(&cl, req);
	WAIT_FOR(client_closed(&cl));
	ck_assert_int_eq(client_lines(&cl), 1);
	ck_assert_str_eq(client_line(&cl, 0), want);
	client_close(&cl);
}

START_TEST(test_request_reply)
{
	char text[64];

	server_start(0, 0);
	client_request("{\"cmd\":\"status\",\"service\":\"checkout\"}\n",
	    "{\"ok\":true,\"cmd\":\"status\"}");
	ck_assert_int_eq(S.requests, 1);
	ck_assert_int_eq(S.cmd, RBD_CMD_STATUS);
	ck_assert_str_eq(S.service, "checkout");
	/* The client is this very process. */
	ck_assert_int_eq(S.peer.pid, getpid());
	ck_assert_uint_eq(S.peer.uid, getuid());
	ck_assert_uint_eq(S.peer.gid, getgid());
	snprintf(text, sizeof(text), "uid %u pid %d", (unsigned)getuid(), (int)getpid());
	ck_assert_str_eq(S.peer.text, text);
	ck_assert_int_eq(S.closed, 1);
}
END_TEST

START_TEST(test_bad_requests)
{
	server_start(0, 0);
	client_request("hello\n", "{\"ok\":false,\"error\":\"protocol\","
	    "\"message\":\"not JSON: invalid token near 'hello'\"}");
	client_request("{\"cmd\":\"status\",\"force\":1}\n", "{\"ok\":false,"
	    "\"error\":\"protocol\",\"message\":\"unknown field 'force' for status\"}");
	client_request("\x1b]0;pwned\x07\n", "{\"ok\":false,\"error\":\"protocol\","
	    "\"message\":\"not JSON: invalid token near '\\\\x1b'\"}");
	client_request("{\"cmd\":\"deployed\",\"service\":\"checkout\",\"version\":\"-rf\"}\n",
	    "{\"ok\":false,\"error\":\"refused\",\"message\":\"invalid release version"
	    " '-rf': must not start with '-'\"}");
	client_request("\n", "{\"ok\":false,\"error\":\"protocol\","
	    "\"message\":\"empty request\"}");
	ck_assert_int_eq(S.requests, 0);
	/* The server is still there for the next client. */
	client_request("{\"cmd\":\"reload\"}\r\n", "{\"ok\":true,\"cmd\":\"reload\"}");
	ck_assert_int_eq(S.requests, 1);
}
END_TEST

/* One request per connection: what follows the first line is ignored. */
START_TEST(test_one_request_per_connection)
{
	server_start(0, 0);
	client_request("{\"cmd\":\"status\"}\n{\"cmd\":\"reload\"}\ngarbage\n",
	    "{\"ok\":true,\"cmd\":\"status\"}");
	ck_assert_int_eq(S.requests, 1);
	ck_assert_int_eq(S.cmd, RBD_CMD_STATUS);
}
END_TEST

/* Send n bytes c as fast as the server takes them, until
 * all went or the server closed; returns the bytes sent. */
static size_t client_flood(struct client *cl, size_t n, char c)
{
	char chunk[8192];
	size_t sent = 0;
	uint64_t dl = now_usec() + WAIT_USEC;

	memset(chunk, c, sizeof(chunk));
	while (sent < n && !client_closed(cl)) {
		size_t want = n - sent < sizeof(chunk) ? n - sent : sizeof(chunk);
		ssize_t r = send(cl->fd, chunk, want, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r > 0)
			sent += (size_t)r;
		else if (errno == EPIPE || errno == ECONNRESET)
			break;
		else
			ck_assert_int_eq(errno, EAGAIN);
		ck_assert_msg(now_usec() < dl, "timed out sending");
		event_base_loop(S.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	return sent;
}

START_TEST(test_oversized_line)
{
	struct client cl;

	server_start(0, 0);
	client_connect(&cl);
	client_flood(&cl, 100 * 1024, 'x');
	WAIT_FOR(client_closed(&cl));
	ck_assert_int_eq(client_lines(&cl), 1);
	ck_assert_str_eq(client_line(&cl, 0), "{\"ok\":false,\"error\":\"protocol\","
	    "\"message\":\"request line longer than 65536 bytes\"}");
	client_close(&cl);
	ck_assert_int_eq(S.requests, 0);
	client_request("{\"cmd\":\"status\"}\n", "{\"ok\":true,\"cmd\":\"status\"}");
}
END_TEST

/* A line of exactly RBD_PROTO_LINE_MAX bytes is served; one more is not. */
START_TEST(test_line_max)
{
	static const char req[] = "{\"cmd\":\"status\"}";
	struct client cl;

	server_start(0, 0);
	for (size_t extra = 0; extra < 2; extra++) {
		client_connect(&cl);
		client_send(&cl, req);
		client_flood(&cl, RBD_PROTO_LINE_MAX - strlen(req) + extra, ' ');
		/* Too long: the server may be gone already, and that is fine. */
		(void)send(cl.fd, "\n", 1, MSG_NOSIGNAL);
		WAIT_FOR(client_closed(&cl));
		ck_assert_str_eq(client_line(&cl, 0), extra ?
		    "{\"ok\":false,\"error\":\"protocol\",\"message\":\"request line"
		    " longer than 65536 bytes\"}" : "{\"ok\":true,\"cmd\":\"status\"}");
		client_close(&cl);
	}
	ck_assert_int_eq(S.requests, 1);
}
END_TEST

START_TEST(test_idle_timeout)
{
	struct client idle;
	uint64_t t0 = now_usec(), elapsed;

	server_start(200 * 1000, 0);
	client_connect(&idle);
	/* Another client is served meanwhile. */
	client_request("{\"cmd\":\"status\"}\n", "{\"ok\":true,\"cmd\":\"status\"}");
	WAIT_FOR(client_closed(&idle));
	elapsed = now_usec() - t0;
	ck_assert_int_eq(client_lines(&idle), 1);
	ck_assert_str_eq(client_line(&idle, 0), "{\"ok\":false,\"error\":\"protocol\","
	    "\"message\":\"no complete request within 200ms\"}");
	/* Not before its time (libevent's clock may be coarse by a few ms). */
	ck_assert_msg(elapsed >= 150 * 1000, "closed after %llu us",
	    (unsigned long long)elapsed);
	client_close(&idle);
	ck_assert_int_eq(S.requests, 1);
}
END_TEST

/* A client trickling a byte every 20 ms still has to finish its line in
 * time: the timeout is for the whole line, not between bytes. */
START_TEST(test_trickle_timeout)
{
	struct client cl;
	uint64_t t0 = now_usec(), next = 0;

	server_start(300 * 1000, 0);
	client_connect(&cl);
	client_send(&cl, "{\"cmd\":\"status\"");
	while (!client_closed(&cl)) {
		ck_assert_msg(now_usec() < t0 + WAIT_USEC, "the trickler stays");
		if (now_usec() >= next) {
			/* Fails once the server is gone: that is what we wait for. */
			(void)send(cl.fd, " ", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			next = now_usec() + 20 * 1000;
		}
		event_base_loop(S.base, EVLOOP_ONCE);
	}
	ck_assert_uint_ge(now_usec() - t0, 250 * 1000);
	ck_assert_str_eq(client_line(&cl, 0), "{\"ok\":false,\"error\":\"protocol\","
	    "\"message\":\"no complete request within 300ms\"}");
	client_close(&cl);
}
END_TEST

/* A request cut short by the client's EOF gets an answer; one followed by
 * the client's EOF (shutdown(SHUT_WR), as socat does) is served. */
START_TEST(test_half_close)
{
	struct client cl;

	server_start(0, 0);
	client_connect(&cl);
	client_send(&cl, "{\"cmd\":\"status\"}\n");
	ck_assert_int_eq(shutdown(cl.fd, SHUT_WR), 0);
	WAIT_FOR(client_closed(&cl));
	ck_assert_str_eq(client_line(&cl, 0), "{\"ok\":true,\"cmd\":\"status\"}");
	client_close(&cl);
	client_connect(&cl);
	client_send(&cl, "{\"cmd\":\"status\"}");
	ck_assert_int_eq(shutdown(cl.fd, SHUT_WR), 0);
	WAIT_FOR(client_closed(&cl));
	ck_assert_str_eq(client_line(&cl, 0), "{\"ok\":false,\"error\":\"protocol\","
	    "\"message\":\"request not terminated by a newline\"}");
	client_close(&cl);
	ck_assert_int_eq(S.requests, 1);
}
END_TEST

START_TEST(test_client_cap)
{
	struct client idle[3], extra, kept[3];

	server_start(0, 3);
	for (size_t i = 0; i < N_ELEMENTS(idle); i++)
		client_connect(&idle[i]);
	/* Full: the client that has waited longest without a request makes
	 * room, and the new one is served. */
	client_connect(&extra);
	client_send(&extra, "{\"cmd\":\"status\"}\n");
	WAIT_FOR(client_closed(&extra) && client_closed(&idle[0]));
	ck_assert_str_eq(client_line(&extra, 0), "{\"ok\":true,\"cmd\":\"status\"}");
	ck_assert_str_eq(client_line(&idle[0], 0), "{\"ok\":false,\"error\":"
	    "\"protocol\",\"message\":\"closed to make room for another client: "
	    "too many clients (3) and no request from this one yet\"}");
	client_close(&extra);
	client_close(&idle[0]);
	for (size_t i = 1; i < N_ELEMENTS(idle); i++)
		ck_assert(!client_closed(&idle[i]) && idle[i].len == 0);
	ck_assert_int_eq(S.requests, 1);
	for (size_t i = 1; i < N_ELEMENTS(idle); i++)
		client_close(&idle[i]);
	/* Served connections kept open (--wait) are never pushed out: with
	 * every slot held by one, a new client is refused. */
	S.keep = true;
	for (size_t i = 0; i < N_ELEMENTS(kept); i++) {
		client_connect(&kept[i]);
		client_send(&kept[i], "{\"cmd\":\"status\"}\n");
		WAIT_FOR(client_lines(&kept[i]) == 1);
	}
	client_connect(&extra);
	WAIT_FOR(client_closed(&extra));
	ck_assert_str_eq(client_line(&extra, 0), "{\"ok\":false,\"error\":\"internal\","
	    "\"message\":\"too many clients (3); try again later\"}");
	client_close(&extra);
	for (size_t i = 0; i < N_ELEMENTS(kept); i++)
		client_close(&kept[i]);
}
END_TEST

START_TEST(test_stale_socket_replaced)
{
	struct stat st;

	close(bound_socket(S.path, false));
	ck_assert_int_eq(lstat(S.path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	server_start(0, 0);
	client_request("{\"cmd\":\"status\"}\n", "{\"ok\":true,\"cmd\":\"status\"}");
}
END_TEST

START_TEST(test_live_socket_refused)
{
	int fd = bound_socket(S.path, true);
	char err[256], want[256];
	struct client cl;

	ck_assert_int_eq(rbd_control_new(S.base, S.path, -1, on_request, &S, &S.ctl,
	    err, sizeof(err)), -EADDRINUSE);
	ck_assert_ptr_null(S.ctl);
	snprintf(want, sizeof(want), "another rollbackd is listening on %s", S.path);
	ck_assert_str_eq(err, want);
	/* The other one's socket is left alone. */
	client_connect(&cl);
	client_close(&cl);
	close(fd);
}
END_TEST

START_TEST(test_not_a_socket_refused)
{
	char err[256], want[256];
	struct stat st;
	int fd = open(S.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(rbd_control_new(S.base, S.path, -1, on_request, &S, &S.ctl,
	    err, sizeof(err)), -EEXIST);
	snprintf(want, sizeof(want), "%s: exists and is not a socket; refusing to"
	    " replace it", S.path);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(lstat(S.path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
}
END_TEST

START_TEST(test_writable_dir_refused)
{
	static const struct {
		mode_t mode;
		const char *who;
	} cases[] = {
		{ 0777, "others" }, { 0770, "its group" }, { 0702, "others" },
		{ 0775, "its group" },
	};
	char err[512], want[512];
	struct stat st;

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		snprintf(want, sizeof(want), "%s: the control socket's directory "
		    "is writable by %s (mode %04o) and not sticky; refusing to use "
		    "it: chmod go-w %s", S.dir, cases[i].who,
		    (unsigned)cases[i].mode, S.dir);
		ck_assert_int_eq(chmod(S.dir, cases[i].mode), 0);
		ck_assert_int_eq(rbd_control_new(S.base, S.path, -1, on_request, &S,
		    &S.ctl, err, sizeof(err)), -EPERM);
		ck_assert_str_eq(err, want);
		ck_assert_int_eq(lstat(S.path, &st), -1);
	}
	/* Sticky, like /tmp: no one else can remove or rename our socket. */
	ck_assert_int_eq(chmod(S.dir, 01777), 0);
	server_start(0, 0);
	rbd_control_free(S.ctl);
	S.ctl = NULL;
	/* Owner-writable only is fine. */
	ck_assert_int_eq(chmod(S.dir, 0755), 0);
	server_start(0, 0);
}
END_TEST

/* A directory that belongs to someone else (not root, not us) is refused,
 * for our own socket and for a passed one. Needs root to chown. */
START_TEST(test_foreign_dir_refused)
{
	char err[512], want[512];
	int fd;

	if (geteuid() != 0)
		return;
	fd = bound_socket(S.path, true);
	ck_assert_int_eq(chown(S.dir, 4242, 0), 0);
	snprintf(want, sizeof(want), "%s: the control socket's directory "
	    "belongs to uid 4242, not to root or to rollbackd's user (uid 0 "
	    "(root)); refusing to use it: chown root %s, or choose another "
	    "socket path", S.dir, S.dir);
	ck_assert_int_eq(rbd_control_new(S.base, NULL, fd, on_request, &S,
	    &S.ctl, err, sizeof(err)), -EPERM);
	ck_assert_str_eq(err, want);
	close(fd);
	unlink(S.path);
	ck_assert_int_eq(rbd_control_new(S.base, S.path, -1, on_request, &S,
	    &S.ctl, err, sizeof(err)), -EPERM);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(chown(S.dir, 0, 0), 0);
	server_start(0, 0);
}
END_TEST

/* A passed socket in a directory others may write to is refused too. */
START_TEST(test_passed_fd_writable_dir)
{
	int fd = bound_socket(S.path, true);
	char err[512], want[512];

	ck_assert_int_eq(chmod(S.dir, 0777), 0);
	snprintf(want, sizeof(want), "%s: the control socket's directory is "
	    "writable by others (mode 0777) and not sticky; refusing to use "
	    "it: chmod go-w %s", S.dir, S.dir);
	ck_assert_int_eq(rbd_control_new(S.base, NULL, fd, on_request, &S,
	    &S.ctl, err, sizeof(err)), -EPERM);
	ck_assert_str_eq(err, want);
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);	/* still the caller's */
	close(fd);
}
END_TEST

START_TEST(test_missing_dir_refused)
{
	char path[160], err[256], want[256];

	snprintf(path, sizeof(path), "%s/nope/rollbackd.sock", S.dir);
	ck_assert_int_eq(rbd_control_new(S.base, path, -1, on_request, &S, &S.ctl,
	    err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s/nope: No such file or directory", S.dir);
	ck_assert_str_eq(err, want);
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	ck_assert_int_eq(rbd_control_new(S.base, path, -1, on_request, &S, &S.ctl,
	    err, sizeof(err)), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_socket_mode)
{
	static const mode_t masks[] = { 0, 022, 077 };
	struct stat st;

	for (size_t i = 0; i < N_ELEMENTS(masks); i++) {
		mode_t old = umask(masks[i]);

		server_start(0, 0);
		umask(old);
		ck_assert_int_eq(lstat(S.path, &st), 0);
		ck_assert(S_ISSOCK(st.st_mode));
		ck_assert_uint_eq(st.st_mode & 07777, 0660);
		rbd_control_free(S.ctl);
		S.ctl = NULL;
		ck_assert_int_eq(lstat(S.path, &st), -1);
	}
}
END_TEST

START_TEST(test_free_closes_everything)
{
	struct client a, b, idle;
	struct stat st;

	S.keep = true;
	server_start(0, 0);
	client_connect(&a);
	client_send(&a, "{\"cmd\":\"status\"}\n");
	WAIT_FOR(client_lines(&a) == 1);
	client_connect(&b);
	client_send(&b, "{\"cmd\":\"reload\"}\n");
	WAIT_FOR(client_lines(&b) == 1);
	client_connect(&idle);
	ck_assert_int_eq(S.closed, 0);
	rbd_control_free(S.ctl);
	S.ctl = NULL;
	/* Both kept connections were told, once; the file is gone. */
	ck_assert_int_eq(S.closed, 2);
	ck_assert_int_eq(lstat(S.path, &st), -1);
	/* libevent closes the sockets from the loop (finalizers). */
	WAIT_FOR(client_closed(&a) && client_closed(&b) && client_closed(&idle));
	client_close(&a);
	client_close(&b);
	client_close(&idle);
}
END_TEST

/* A socket passed in (systemd) is used, and neither closed nor removed. */
START_TEST(test_passed_fd)
{
	int fd = bound_socket(S.path, true);
	char err[256] = "";
	struct stat st;

	ck_assert_msg(rbd_control_new(S.base, NULL, fd, on_request, &S, &S.ctl,
	    err, sizeof(err)) == 0, "%s", err);
	client_request("{\"cmd\":\"status\"}\n", "{\"ok\":true,\"cmd\":\"status\"}");
	rbd_control_free(S.ctl);
	S.ctl = NULL;
	ck_assert_int_eq(lstat(S.path, &st), 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
	close(fd);
}
END_TEST

/* Only the socket file we created is removed. */
START_TEST(test_free_keeps_a_replaced_socket)
{
	char other[160];
	struct stat st;

	server_start(0, 0);
	snprintf(other, sizeof(other), "%s/other", S.dir);
	close(bound_socket(other, false));
	ck_assert_int_eq(rename(other, S.path), 0);
	rbd_control_free(S.ctl);
	S.ctl = NULL;
	ck_assert_int_eq(lstat(S.path, &st), 0);
}
END_TEST

START_TEST(test_hangup_mid_stream)
{
	struct client cl;
	json_t *o = json_pack("{s:s}", "event", "sample");

	S.keep = true;
	server_start(0, 0);
	client_connect(&cl);
	client_send(&cl, "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"wait\":true}\n");
	WAIT_FOR(client_lines(&cl) == 1);
	ck_assert_ptr_nonnull(S.kept);
	ck_assert_int_eq(rbd_conn_reply(S.kept, o), 0);
	WAIT_FOR(client_lines(&cl) == 2);
	client_close(&cl);
	WAIT_FOR(S.closed > 0);
	ck_assert_ptr_null(S.kept);
	/* And never again. */
	for (int i = 0; i < 5; i++)
		event_base_loop(S.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	rbd_control_free(S.ctl);
	S.ctl = NULL;
	ck_assert_int_eq(S.closed, 1);
	json_decref(o);
}
END_TEST

START_TEST(test_stream_then_close)
{
	struct client cl;
	json_t *o;

	S.keep = true;
	server_start(0, 0);
	client_connect(&cl);
	client_send(&cl, "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"wait\":true}\n");
	WAIT_FOR(client_lines(&cl) == 1);
	for (int i = 1; i <= 3; i++) {
		o = json_pack("{s:s,s:i}", "event", "sample", "n", i);
		ck_assert_int_eq(rbd_conn_reply(S.kept, o), 0);
		json_decref(o);
		WAIT_FOR(client_lines(&cl) == i + 1);
		ck_assert(!cl.eof);
	}
	o = json_pack("{s:s,s:s}", "event", "verdict", "verdict", "promoted");
	ck_assert_int_eq(rbd_conn_reply(S.kept, o), 0);
	json_decref(o);
	/* Handing c back runs the close callback at once; the last line is
	 * still delivered. */
	rbd_conn_close(S.kept);
	ck_assert_int_eq(S.closed, 1);
	WAIT_FOR(client_closed(&cl));
	ck_assert_int_eq(client_lines(&cl), 5);
	ck_assert_str_eq(client_line(&cl, 0), "{\"ok\":true,\"cmd\":\"deployed\"}");
	ck_assert_str_eq(client_line(&cl, 2), "{\"event\":\"sample\",\"n\":2}");
	ck_assert_str_eq(client_line(&cl, 4), "{\"event\":\"verdict\",\"verdict\":\"promoted\"}");
	ck_assert_int_eq(S.closed, 1);
	client_close(&cl);
}
END_TEST

/* A client that does not read: replies pile up to the cap, then the
 * connection is dropped, and the handler learns it from the loop. */
/* A reply of n bytes of JSON: {"blob":"xxx..."}. */
static json_t *blob(size_t n)
{
	char *big = malloc(n - 11 + 1);
	json_t *o;

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', n - 11);
	big[n - 11] = '\0';
	o = json_pack("{s:s}", "blob", big);
	free(big);
	return o;
}

/* A cap raised for a reply that grows with the configuration (status)
 * lets it through; big replies share RBD_CONTROL_QUEUED_MAX: one that
 * would pass it while another is being sent is refused -EBUSY and the
 * connection stays usable. */
START_TEST(test_output_cap_raised)
{
	struct client a, b;
	struct rbd_conn *ca, *cb;
	json_t *o;

	S.keep = true;
	server_start(0, 0);
	client_connect(&a);
	client_send(&a, "{\"cmd\":\"status\"}\n");
	WAIT_FOR(S.kept != NULL);
	ca = S.kept;
	S.kept = NULL;
	client_connect(&b);
	client_send(&b, "{\"cmd\":\"status\"}\n");
	WAIT_FOR(S.kept != NULL);
	cb = S.kept;
	/* Over the default cap: dropped without the raise. */
	o = blob(RBD_CONTROL_OUTPUT_MAX + 1);
	rbd_conn_set_output_max(ca, 40 * 1024 * 1024);
	ck_assert_int_eq(rbd_conn_reply(ca, o), 0);
	json_decref(o);
	/* 33 MiB waiting for a (it reads nothing) ... */
	o = blob(33 * 1024 * 1024);
	ck_assert_int_eq(rbd_conn_reply(ca, o), 0);
	/* ... so 33 MiB more for b would pass 64 MiB: busy, nothing queued. */
	rbd_conn_set_output_max(cb, 40 * 1024 * 1024);
	ck_assert_int_eq(rbd_conn_reply(cb, o), -EBUSY);
	json_decref(o);
	/* A small reply still goes, and b is served once a is gone. */
	o = json_pack("{s:b}", "ok", 0);
	ck_assert_int_eq(rbd_conn_reply(cb, o), 0);
	json_decref(o);
	WAIT_FOR(client_lines(&b) == 2);
	ck_assert_str_eq(client_line(&b, 1), "{\"ok\":false}");
	client_close(&a);
	WAIT_FOR(S.closed == 1);
	o = blob(33 * 1024 * 1024);
	ck_assert_int_eq(rbd_conn_reply(cb, o), 0);
	json_decref(o);
	rbd_conn_close(cb);
	client_close(&b);
}
END_TEST

START_TEST(test_output_cap)
{
	struct client cl;
	char *big = malloc(64 * 1024);
	json_t *o;
	int r = 0, n;

	S.keep = true;
	server_start(0, 0);
	client_connect(&cl);
	client_send(&cl, "{\"cmd\":\"status\"}\n");
	WAIT_FOR(S.kept != NULL);
	memset(big, 'x', 64 * 1024 - 1);
	big[64 * 1024 - 1] = '\0';
	o = json_pack("{s:s}", "blob", big);
	for (n = 0; n < 100 && r == 0; n++)
		r = rbd_conn_reply(S.kept, o);
	ck_assert_int_eq(r, -ENOBUFS);
	ck_assert_int_le(n, RBD_CONTROL_OUTPUT_MAX / (64 * 1024) + 1);
	/* Dying, but still safe to call; the close callback comes later. */
	ck_assert_int_eq(rbd_conn_reply(S.kept, o), -EPIPE);
	ck_assert_int_eq(S.closed, 0);
	WAIT_FOR(S.closed == 1);
	WAIT_FOR(client_closed(&cl));
	json_decref(o);
	free(big);
	client_close(&cl);
}
END_TEST

/* rbd_conn_close on a connection that is already dying lets go of it at
 * once; the callback does not run twice. */
START_TEST(test_close_after_failed_reply)
{
	struct client cl;
	char *big = malloc(RBD_CONTROL_OUTPUT_MAX);
	json_t *o;

	S.keep = true;
	server_start(0, 0);
	client_connect(&cl);
	client_send(&cl, "{\"cmd\":\"status\"}\n");
	WAIT_FOR(S.kept != NULL);
	memset(big, 'x', RBD_CONTROL_OUTPUT_MAX - 1);
	big[RBD_CONTROL_OUTPUT_MAX - 1] = '\0';
	o = json_pack("{s:s}", "blob", big);
	ck_assert_int_eq(rbd_conn_reply(S.kept, o), -ENOBUFS);
	ck_assert_int_eq(S.closed, 0);
	rbd_conn_close(S.kept);
	ck_assert_int_eq(S.closed, 1);
	WAIT_FOR(client_closed(&cl));
	for (int i = 0; i < 5; i++)
		event_base_loop(S.base, EVLOOP_ONCE);
	ck_assert_int_eq(S.closed, 1);
	json_decref(o);
	free(big);
	client_close(&cl);
}
END_TEST

/* The client is gone but the server has not noticed: the handler's last
 * reply and close are fine, and the close callback runs once. */
START_TEST(test_close_while_client_gone)
{
	struct client cl;
	json_t *o;

	S.keep = true;
	server_start(0, 0);
	client_connect(&cl);
	client_send(&cl, "{\"cmd\":\"status\"}\n");
	WAIT_FOR(S.kept != NULL);
	client_close(&cl);
	/* The server has not noticed yet: a reply may still be queued. */
	o = json_pack("{s:s}", "a", "b");
	ck_assert_int_eq(rbd_conn_reply(S.kept, o), 0);
	rbd_conn_close(S.kept);
	ck_assert_int_eq(S.closed, 1);
	for (int i = 0; i < 5; i++)
		event_base_loop(S.base, EVLOOP_ONCE);
	ck_assert_int_eq(S.closed, 1);
	json_decref(o);
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("requests");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_request_reply);
	tcase_add_test(tc, test_bad_requests);
	tcase_add_test(tc, test_one_request_per_connection);
	tcase_add_test(tc, test_oversized_line);
	tcase_add_test(tc, test_line_max);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_trickle_timeout);
	tcase_add_test(tc, test_half_close);
	tcase_add_test(tc, test_client_cap);
	suite_add_tcase(s, tc);
	tc = tcase_create("socket");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_stale_socket_replaced);
	tcase_add_test(tc, test_live_socket_refused);
	tcase_add_test(tc, test_not_a_socket_refused);
	tcase_add_test(tc, test_writable_dir_refused);
	tcase_add_test(tc, test_foreign_dir_refused);
	tcase_add_test(tc, test_passed_fd_writable_dir);
	tcase_add_test(tc, test_missing_dir_refused);
	tcase_add_test(tc, test_socket_mode);
	tcase_add_test(tc, test_free_closes_everything);
	tcase_add_test(tc, test_passed_fd);
	tcase_add_test(tc, test_free_keeps_a_replaced_socket);
	suite_add_tcase(s, tc);
	tc = tcase_create("lifetime");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hangup_mid_stream);
	tcase_add_test(tc, test_stream_then_close);
	tcase_add_test(tc, test_output_cap);
	tcase_add_test(tc, test_output_cap_raised);
	tcase_add_test(tc, test_close_after_failed_reply);
	tcase_add_test(tc, test_close_while_client_gone);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(control_suite());
}
