/* The shared bus (daemon/bus.c) against a real, private dbus-daemon, and
 * the deploy runner's units on it: connecting, a call through the loop,
 * a bus that dies and comes back, one that is not there yet, resets, the
 * backoff and what the log says, and the jobs that a drop takes with it.
 *
 * Each test starts its own dbus-daemon on a socket in a temporary
 * directory, configured as a session bus without any service to activate:
 * with the system's session service files, a call to systemd activates
 * its stand-in (/bin/false), and a helper of the dying daemon that still
 * holds the listening socket can accept a connection after the kill. Every wait is a bounded poll of the loop (a tick
 * timer wakes it so the deadline is seen); nothing sleeps. The retry
 * backoff is shortened to 20..100 ms. The suite is skipped, with a
 * message, when dbus-daemon is not installed. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-bus.h>

#include "bus.h"
#include "deploy_dir.h"
#include "duration.h"
#include "log.h"
#include "policy.h"
#include "runner.h"
#include "runner_unit.h"
#include "testutil.h"

#define DEADLINE_USEC	(10 * RBD_USEC_PER_SEC)
#define TICK_USEC	(20 * RBD_USEC_PER_MSEC)
#define RETRY_MIN	(20 * RBD_USEC_PER_MSEC)
#define RETRY_MAX	(100 * RBD_USEC_PER_MSEC)
#define LOG_MAX		(64 * 1024)

static char dbus_daemon[256];		/* its path; "" when not installed */
static struct event_base *base;
static struct rbd_bus *bus;
static char root[] = "/tmp/check_bus.XXXXXX";	/* the run's, removed by main */
static char dir[48];				/* the test's, in root */
static char sock_path[128], address[160], log_path[128], dbus_log_path[128];
static char conf_path[128];
static pid_t daemon_pid = -1;
static int saved_stderr = -1;

/* ---- time and the loop ---- */

/* Monotonic time in usec. */
static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * RBD_USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* The tick: only wakes the loop. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Run the loop once, waking after a tick at the latest. */
static void loop_once(void)
{
	struct timeval tv = { 0, TICK_USEC };
	struct event *tick = evtimer_new(base, on_tick, NULL);

	ck_assert_ptr_nonnull(tick);
	evtimer_add(tick, &tv);
	event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
}

/* Run the loop until cond(arg) holds or the deadline passes. */
static bool loop_until(bool (*cond)(void *), void *arg)
{
	uint64_t deadline = now_usec() + DEADLINE_USEC;

	while (!cond(arg) && now_usec() < deadline)
		loop_once();
	return cond(arg);
}

/* ---- the dbus-daemon ---- */

/* dbus-daemon's path into dbus_daemon, or "" when there is none. */
static void find_dbus_daemon(void)
{
	const char *path = getenv("PATH"), *p, *colon;

	dbus_daemon[0] = '\0';
	if (access("/usr/bin/dbus-daemon", X_OK) == 0) {
		snprintf(dbus_daemon, sizeof(dbus_daemon), "/usr/bin/dbus-daemon");
		return;
	}
	for (p = path ? path : ""; *p; p = *colon ? colon + 1 : colon) {
		colon = strchrnul(p, ':');
		snprintf(dbus_daemon, sizeof(dbus_daemon), "%.*s/dbus-daemon",
		    (int)(colon - p), p);
		if (dbus_daemon[0] == '/' && access(dbus_daemon, X_OK) == 0)
			return;
	}
	dbus_daemon[0] = '\0';
}

/* The private bus's configuration: a session bus that activates nothing
 * and lets anyone own and call anything. */
static void write_conf(void)
{
	FILE *f = fopen(conf_path, "we");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "<!DOCTYPE busconfig PUBLIC "
	    "\"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
	    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
	    "<busconfig>\n"
	    "  <type>session</type>\n"
	    "  <listen>%s</listen>\n"
	    "  <auth>EXTERNAL</auth>\n"
	    "  <policy context=\"default\">\n"
	    "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
	    "    <allow eavesdrop=\"true\"/>\n"
	    "    <allow own=\"*\"/>\n"
	    "  </policy>\n"
	    "</busconfig>\n", address);
	ck_assert_int_eq(fclose(f), 0);
}

/* Start a dbus-daemon on sock_path and wait until it listens (it prints
 * its address then). It dies with the test process, whatever happens.
 * Its stderr goes to dbus_log_path. */
static void daemon_start(void)
{
	char arg[320], conf[320], line[256];
	pid_t parent = getpid();
	uint64_t deadline = now_usec() + DEADLINE_USEC;
	size_t len = 0;
	int fds[2];

	ck_assert_int_eq(daemon_pid, -1);
	unlink(sock_path);	/* a killed daemon leaves its socket */
	snprintf(arg, sizeof(arg), "--address=%s", address);
	snprintf(conf, sizeof(conf), "--config-file=%s", conf_path);
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	daemon_pid = fork();
	ck_assert_int_ge(daemon_pid, 0);
	if (daemon_pid == 0) {
		/* Its own log: its lines must not cut into the daemon's. */
		int log_fd = open(dbus_log_path, O_WRONLY | O_CREAT | O_APPEND |
		    O_CLOEXEC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || dup2(fds[1], STDOUT_FILENO) < 0 ||
		    log_fd < 0 || dup2(log_fd, STDERR_FILENO) < 0)
			_exit(127);
		execl(dbus_daemon, "dbus-daemon", conf, "--nofork", arg,
		    "--print-address", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (len < sizeof(line) - 1 && !memchr(line, '\n', len) &&
	    now_usec() < deadline) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fds[0], line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fds[0]);
	line[len] = '\0';
	ck_assert_msg(strncmp(line, address, strlen(address)) == 0,
	    "dbus-daemon did not start: printed \"%s\"", line);
}

/* Kill the dbus-daemon as a crash would, and reap it. */
static void daemon_kill(void)
{
	ck_assert_int_gt(daemon_pid, 0);
	kill(daemon_pid, SIGKILL);
	ck_assert_int_eq(waitpid(daemon_pid, NULL, 0), daemon_pid);
	daemon_pid = -1;
}

/* ---- the log ---- */

/* The daemon's log so far (stderr goes to log_path), into buf. */
static const char *log_text(char *buf, size_t len)
{
	int fd = open(log_path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* How many log lines start with prefix. */
static int log_count(const char *prefix)
{
	static char buf[LOG_MAX];
	const char *p = log_text(buf, sizeof(buf));
	int n = 0;

	for (; *p; p = strchrnul(p, '\n'), p += *p == '\n') {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			n++;
	}
	return n;
}

/* Exactly n log lines start with prefix; the log says what was there. */
static void assert_logged(const char *prefix, int n)
{
	static char buf[LOG_MAX];
	int got = log_count(prefix);

	ck_assert_msg(got == n, "%d lines, not %d, start with \"%s\" in the "
	    "log:\n%s", got, n, prefix, log_text(buf, sizeof(buf)));
}

/* For loop_until: at least *(int *)arg lines start with the failure to
 * connect to our bus. */
static bool log_failures_at_least(void *arg)
{
	char prefix[512];
	int n;

	snprintf(prefix, sizeof(prefix), "<3>cannot connect to the bus at %s",
	    address);
	n = log_count(prefix);
	prefix[1] = '7';
	return n + log_count(prefix) >= *(int *)arg;
}

/* ---- fixtures ---- */

/* Remove the test's directory. A failed test does not get here: main
 * removes what is left in root. */
static void remove_files(void)
{
	unlink(sock_path);
	unlink(log_path);
	unlink(dbus_log_path);
	unlink(conf_path);
	rmdir(dir);
}

/* For nftw: remove one entry, the contents of a directory first. */
static int remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* A temporary directory for the socket, the log as stderr, a loop. */
static void setup(void)
{
	int fd;

	snprintf(dir, sizeof(dir), "%s/t.XXXXXX", root);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/bus", dir);
	snprintf(address, sizeof(address), "unix:path=%s", sock_path);
	snprintf(log_path, sizeof(log_path), "%s/log", dir);
	snprintf(dbus_log_path, sizeof(dbus_log_path), "%s/dbus-daemon.log", dir);
	snprintf(conf_path, sizeof(conf_path), "%s/bus.conf", dir);
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
	    0600);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	close(fd);
	write_conf();
	rbd_log_set_level(LOG_INFO);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
}

/* Undo setup, and whatever a test left. */
static void teardown(void)
{
	rbd_bus_free(bus);
	bus = NULL;
	if (daemon_pid > 0)
		daemon_kill();
	event_base_free(base);
	base = NULL;
	if (saved_stderr >= 0) {
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
		saved_stderr = -1;
	}
	remove_files();
}

/* A bus on our address with the short backoff; connected or not. */
static void bus_new(void)
{
	ck_assert_int_eq(rbd_bus_new(base, address, &bus), 0);
	ck_assert_ptr_nonnull(bus);
	rbd_bus_set_retry(bus, RETRY_MIN, RETRY_MAX);
}

/* ---- listeners and calls ---- */

/* What the callbacks of a test saw, in order: 1, 2, ... */
static int n_events;

struct seen {
	int n_true, n_false;
	int first_false;		/* n_events then */
	bool unlisten;			/* remove itself when called */
};

/* A listener: count what it is told. */
static void on_change(void *arg, bool connected)
{
	struct seen *s = arg;

	if (connected)
		s->n_true++;
	else if (!s->n_false++)
		s->first_false = ++n_events;
	if (s->unlisten)
		rbd_bus_unlisten(bus, on_change, s);
}

static bool told_down(void *arg)
{
	return ((struct seen *)arg)->n_false > 0;
}

static bool told_up(void *arg)
{
	return ((struct seen *)arg)->n_true > 0;
}

struct reply {
	bool done, error;
	bool reset;			/* rbd_bus_reset from the callback */
	bool open;			/* the bus was open in the callback */
	int order;			/* n_events then */
	char text[256];			/* the id, or the error */
};

/* GetId's reply. */
static int on_id(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct reply *r = arg;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	const char *id = NULL;

	(void)err;
	r->done = true;
	r->order = ++n_events;
	r->open = sd_bus_is_open(sd_bus_message_get_bus(m)) > 0;
	if (e) {
		r->error = true;
		snprintf(r->text, sizeof(r->text), "%s", e->name);
	} else if (sd_bus_message_read(m, "s", &id) >= 0)
		snprintf(r->text, sizeof(r->text), "%s", id);
	if (r->reset)
		rbd_bus_reset(bus, "reset from a callback");
	return 0;
}

static bool replied(void *arg)
{
	return ((struct reply *)arg)->done;
}

/* Ask the bus daemon for its id, through the loop; fails the test
 * without an answer. */
static void get_id(struct reply *r)
{
	sd_bus *b = rbd_bus_get(bus);

	ck_assert_ptr_nonnull(b);
	ck_assert_int_ge(sd_bus_call_method_async(b, NULL, "org.freedesktop.DBus",
	    "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId", on_id, r,
	    ""), 0);
	rbd_bus_kick(bus);
	ck_assert_msg(loop_until(replied, r), "no reply to GetId");
	ck_assert_msg(!r->error, "GetId failed: %s", r->text);
	ck_assert_uint_eq(strlen(r->text), 32);
}

/* A fake systemd: a second connection that owns org.freedesktop.systemd1
 * and swallows every call, answering none, as a busy manager would. */
struct fake {
	sd_bus *bus;
	int get_units;			/* GetUnit calls seen */
	int starts;			/* StartTransientUnit calls seen */
};

/* Every message to the fake: count, never answer. */
static int on_fake(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct fake *f = arg;

	(void)err;
	if (!sd_bus_message_is_method_call(m, NULL, NULL))
		return 0;
	if (sd_bus_message_is_method_call(m, "org.freedesktop.systemd1.Manager",
	    "GetUnit"))
		f->get_units++;
	if (sd_bus_message_is_method_call(m, "org.freedesktop.systemd1.Manager",
	    "StartTransientUnit"))
		f->starts++;
	return 1;
}

/* Connect the fake and take the name. */
static void fake_start(struct fake *f)
{
	ck_assert_int_ge(sd_bus_new(&f->bus), 0);
	ck_assert_int_ge(sd_bus_set_address(f->bus, address), 0);
	ck_assert_int_ge(sd_bus_set_bus_client(f->bus, 1), 0);
	ck_assert_int_ge(sd_bus_start(f->bus), 0);
	ck_assert_int_ge(sd_bus_add_filter(f->bus, NULL, on_fake, f), 0);
	ck_assert_int_ge(sd_bus_request_name(f->bus, "org.freedesktop.systemd1",
	    0), 0);
}

/* For loop_until: the fake has been asked to start a unit. */
static bool fake_started(void *arg)
{
	struct fake *f = arg;

	while (sd_bus_process(f->bus, NULL) > 0)
		;
	return f->starts > 0;
}

/* For loop_until: the fake has been asked for a unit. */
static bool fake_called(void *arg)
{
	struct fake *f = arg;

	while (sd_bus_process(f->bus, NULL) > 0)
		;
	return f->get_units > 0;
}

/* A call to the fake, which it will never answer. */
static void ask_fake(struct fake *f, struct reply *r)
{
	ck_assert_int_ge(sd_bus_call_method_async(rbd_bus_get(bus), NULL,
	    "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
	    "org.freedesktop.systemd1.Manager", "GetUnit", on_id, r, "s",
	    "demo.service"), 0);
	rbd_bus_kick(bus);
	ck_assert_msg(loop_until(fake_called, f), "the call did not reach the fake");
	ck_assert(!r->done);
}

/* The call of r failed because the connection went, before the
 * listener s heard of it. */
static void assert_failed_first(const struct reply *r, const struct seen *s)
{
	ck_assert(r->done);
	ck_assert(r->error);
	ck_assert(!r->open);
	ck_assert_str_eq(r->text, "org.freedesktop.DBus.Error.NoReply");
	ck_assert_int_gt(s->first_false, r->order);
}

/* ---- tests ---- */

/* Connected at once; a call goes out and its reply comes back through
 * the loop; nothing is logged above info (Subscribe, refused on a bus
 * without systemd, only at debug level). */
START_TEST(test_connect_and_call)
{
	struct reply r = { 0 };

	ck_assert_ptr_null(rbd_bus_get(NULL));
	ck_assert(!rbd_bus_connected(NULL));
	ck_assert_str_eq(rbd_bus_error(NULL), "no bus");
	rbd_bus_free(NULL);
	daemon_start();
	bus_new();
	ck_assert(rbd_bus_connected(bus));
	ck_assert_str_eq(rbd_bus_error(bus), "");
	get_id(&r);
	assert_logged("<3>", 0);
	assert_logged("<4>", 0);
}
END_TEST

/* The dbus-daemon dies: a pending call fails, then listeners hear it
 * from the loop, the error says so, a warning is logged once, then each failed attempt once per reason
 * with the backoff doubling up to its cap. A new dbus-daemon on the same
 * socket: listeners hear it, a notice is logged, calls work again. */
START_TEST(test_lost_and_back)
{
	char expect[512], buf[LOG_MAX];
	struct seen s = { 0 };
	struct reply r1 = { 0 }, r2 = { 0 }, pending = { 0 };
	struct fake f = { 0 };
	const char *p;
	double prev = 0;
	int want = 4, n = 0;

	rbd_log_set_level(LOG_DEBUG);
	daemon_start();
	bus_new();
	ck_assert_int_eq(rbd_bus_listen(bus, on_change, &s), 0);
	get_id(&r1);
	fake_start(&f);
	ask_fake(&f, &pending);
	daemon_kill();
	ck_assert_msg(loop_until(told_down, &s), "drop not told");
	assert_failed_first(&pending, &s);
	sd_bus_close_unref(f.bus);
	ck_assert_int_eq(s.n_false, 1);
	ck_assert_int_eq(s.n_true, 0);
	ck_assert(!rbd_bus_connected(bus));
	ck_assert_ptr_null(rbd_bus_get(bus));
	snprintf(expect, sizeof(expect), "bus at %s connection lost: ", address);
	ck_assert_msg(strncmp(rbd_bus_error(bus), expect, strlen(expect)) == 0,
	    "error: %s", rbd_bus_error(bus));
	snprintf(expect, sizeof(expect), "<4>bus at %s connection lost: ", address);
	assert_logged(expect, 1);

	/* Four failed attempts: the first one's reason logged as an error,
	 * the same reason again only at debug level. */
	ck_assert(loop_until(log_failures_at_least, &want));
	snprintf(expect, sizeof(expect), "<3>cannot connect to the bus at %s: "
	    "Connection refused; retrying in ", address);
	assert_logged(expect, 1);
	expect[1] = '7';
	ck_assert_int_ge(log_count(expect), 3);
	snprintf(expect, sizeof(expect), "cannot connect to the bus at %s: "
	    "Connection refused", address);
	ck_assert_str_eq(rbd_bus_error(bus), expect);
	/* 0.02 s after the loss, then 0.04, 0.08, 0.1, 0.1 ... */
	for (p = log_text(buf, sizeof(buf)); (p = strstr(p, "retrying in ")); n++) {
		double secs = strtod(p + strlen("retrying in "), NULL);

		ck_assert_msg(n > 0 || secs == 0.02, "first retry in %g s", secs);
		if (n > 0)
			ck_assert_msg(secs == (prev * 2 > 0.1 ? 0.1 : prev * 2),
			    "retry %d in %g s after %g s", n, secs, prev);
		prev = secs;
		p++;
	}
	ck_assert_int_ge(n, 4);
	ck_assert_int_eq(s.n_true, 0);

	daemon_start();
	ck_assert_msg(loop_until(told_up, &s), "reconnect not told");
	ck_assert_int_eq(s.n_true, 1);
	ck_assert_int_eq(s.n_false, 1);
	ck_assert(rbd_bus_connected(bus));
	ck_assert_str_eq(rbd_bus_error(bus), "");
	get_id(&r2);
	ck_assert_str_ne(r1.text, r2.text);	/* another daemon answered */
	snprintf(expect, sizeof(expect), "<5>bus at %s connection restored",
	    address);
	assert_logged(expect, 1);
}
END_TEST

/* No bus yet is no error for rbd_bus_new: it says why, logs it once, and
 * connects when the bus appears. */
START_TEST(test_bus_appears_later)
{
	char expect[512];
	struct seen s = { 0 };
	struct reply r = { 0 };

	bus_new();
	ck_assert(!rbd_bus_connected(bus));
	ck_assert_ptr_null(rbd_bus_get(bus));
	snprintf(expect, sizeof(expect), "cannot connect to the bus at %s: "
	    "No such file or directory", address);
	ck_assert_str_eq(rbd_bus_error(bus), expect);
	/* Logged by rbd_bus_new, before the test's shorter backoff. */
	snprintf(expect, sizeof(expect), "<3>cannot connect to the bus at %s: "
	    "No such file or directory; retrying in 1 s", address);
	assert_logged(expect, 1);
	ck_assert_int_eq(rbd_bus_listen(bus, on_change, &s), 0);
	daemon_start();
	ck_assert_msg(loop_until(told_up, &s), "connect not told");
	ck_assert_int_eq(s.n_false, 0);
	get_id(&r);
	snprintf(expect, sizeof(expect), "<5>connected to the bus at %s", address);
	assert_logged(expect, 1);
}
END_TEST

/* A reset drops the connection at once, but its pending calls fail, and
 * then listeners hear it, from the loop, then the reconnect; a listener that removes itself while told is
 * not told again, the others are. A connection that worked is "lost": a
 * warning, and the backoff starts over. */
START_TEST(test_reset)
{
	char expect[512];
	struct seen a = { .unlisten = true }, b = { 0 };
	struct reply r0 = { 0 }, r = { 0 }, pending = { 0 };
	struct fake f = { 0 };

	daemon_start();
	bus_new();
	get_id(&r0);
	fake_start(&f);
	ask_fake(&f, &pending);
	ck_assert_int_eq(rbd_bus_listen(bus, on_change, &a), 0);
	ck_assert_int_eq(rbd_bus_listen(bus, on_change, &b), 0);
	ck_assert_int_eq(rbd_bus_listen(bus, on_change, &b), 0);	/* once */
	rbd_bus_reset(bus, "a test said so");
	ck_assert(!rbd_bus_connected(bus));
	snprintf(expect, sizeof(expect), "bus at %s connection lost: a test "
	    "said so", address);
	ck_assert_str_eq(rbd_bus_error(bus), expect);
	ck_assert_ptr_null(rbd_bus_get(bus));
	ck_assert_int_eq(a.n_false + b.n_false, 0);	/* not from within */
	ck_assert(!pending.done);
	ck_assert(loop_until(told_down, &b));
	assert_failed_first(&pending, &b);
	ck_assert(loop_until(told_up, &b));
	ck_assert_int_eq(b.n_false, 1);
	ck_assert_int_eq(b.n_true, 1);
	ck_assert_int_eq(a.n_false, 1);
	ck_assert_int_eq(a.n_true, 0);
	get_id(&r);
	snprintf(expect, sizeof(expect), "<4>bus at %s connection lost: a test "
	    "said so; retrying in 0.02 s", address);
	assert_logged(expect, 1);
	rbd_bus_unlisten(bus, on_change, &b);
	rbd_bus_unlisten(bus, on_change, &b);	/* not there: no-op */
	sd_bus_close_unref(f.bus);
}
END_TEST

/* A reset from a bus callback takes effect once the round is over. */
START_TEST(test_reset_from_callback)
{
	struct seen s = { 0 };
	struct reply r1 = { .reset = true }, r2 = { 0 };

	daemon_start();
	bus_new();
	ck_assert_int_eq(rbd_bus_listen(bus, on_change, &s), 0);
	ck_assert_int_ge(sd_bus_call_method_async(rbd_bus_get(bus), NULL,
	    "org.freedesktop.DBus", "/org/freedesktop/DBus",
	    "org.freedesktop.DBus", "GetId", on_id, &r1, ""), 0);
	rbd_bus_kick(bus);
	ck_assert(loop_until(told_down, &s));
	ck_assert(r1.done);
	ck_assert(loop_until(told_up, &s));
	ck_assert_int_eq(s.n_false, 1);
	get_id(&r2);
}
END_TEST

/* ---- the deploy runner's units on the bus ---- */

struct outcome {
	bool called;
	enum rbd_deploy_result result;
	int exit_status;
	char detail[768];
	char output[64];
};

/* A deploy result: copy it. */
static void on_result(void *arg, const struct rbd_run_result *res)
{
	struct outcome *o = arg;

	ck_assert(!o->called);
	o->called = true;
	o->result = res->result;
	o->exit_status = res->exit_status;
	snprintf(o->detail, sizeof(o->detail), "%s", res->detail);
	snprintf(o->output, sizeof(o->output), "%s", res->output);
}

static bool called(void *arg)
{
	return ((struct outcome *)arg)->called;
}

static bool flag_set(void *arg)
{
	return *(bool *)arg;
}

/* The runner's shutdown is over. */
static void on_shutdown(void *arg)
{
	*(bool *)arg = true;
}

/* detail says that the bus was lost while its unit ran, naming the same
 * rollbackd-deploy-demo-*.service twice. */
static void assert_lost(const char *detail)
{
	const char *head = "the system bus connection was lost while unit ";
	char unit[256], expect[768];
	const char *end;

	ck_assert_msg(strncmp(detail, head, strlen(head)) == 0, "detail: %s",
	    detail);
	end = strstr(detail, " ran;");
	ck_assert_ptr_nonnull(end);
	snprintf(unit, sizeof(unit), "%.*s", (int)(end - detail - strlen(head)),
	    detail + strlen(head));
	ck_assert_msg(strncmp(unit, "rollbackd-deploy-demo-", 22) == 0, "unit %s",
	    unit);
	snprintf(expect, sizeof(expect), "%s%s ran; its result is unknown: "
	    "journalctl -u %s", head, unit, unit);
	ck_assert_str_eq(detail, expect);
}

static char *argv_true[] = { "true", NULL };
static char *env_std[] = { "PATH=/usr/bin:/bin", NULL };

/* A unit job whose start systemd has not answered when the bus dies:
 * it fails, its result unknown and where to look said; no job starts
 * while the bus is down. */
START_TEST(test_unit_job_lost_with_bus)
{
	struct rbd_unit_runner *u = NULL;
	struct fake f = { 0 };
	struct outcome o = { 0 }, o2 = { 0 };

	daemon_start();
	bus_new();
	fake_start(&f);
	ck_assert_int_eq(rbd_unit_runner_new(base, NULL, &u), -EINVAL);
	ck_assert_int_eq(rbd_unit_runner_new(base, bus, &u), 0);
	ck_assert_int_eq(rbd_unit_runner_start(u, "demo", argv_true, env_std, 0,
	    on_result, &o), 0);
	ck_assert_uint_eq(rbd_unit_runner_running(u), 1);
	ck_assert_msg(loop_until(fake_started, &f), "StartTransientUnit not sent");
	daemon_kill();
	ck_assert_msg(loop_until(called, &o), "the job did not end with the bus");
	ck_assert_int_eq(o.result, RBD_DEPLOY_FAILED);
	ck_assert_int_eq(o.exit_status, -1);
	assert_lost(o.detail);
	ck_assert_uint_eq(rbd_unit_runner_running(u), 0);
	ck_assert_int_eq(rbd_unit_runner_start(u, "demo", argv_true, env_std, 0,
	    on_result, &o2), -ENOTCONN);
	rbd_unit_runner_free(u);
	sd_bus_close_unref(f.bus);
}
END_TEST

/* A shutdown that comes after the drop but before the loop told the
 * runner: the job cannot be stopped, it is lost, and the shutdown ends. */
START_TEST(test_unit_shutdown_after_drop)
{
	struct rbd_unit_runner *u = NULL;
	struct fake f = { 0 };
	struct outcome o = { 0 };
	bool done = false;

	daemon_start();
	bus_new();
	fake_start(&f);
	ck_assert_int_eq(rbd_unit_runner_new(base, bus, &u), 0);
	ck_assert_int_eq(rbd_unit_runner_start(u, "demo", argv_true, env_std, 0,
	    on_result, &o), 0);
	ck_assert(loop_until(fake_started, &f));
	rbd_bus_reset(bus, "gone");
	rbd_unit_runner_shutdown(u, on_shutdown, &done);
	ck_assert(!o.called);		/* from the loop only */
	ck_assert(loop_until(flag_set, &done));
	ck_assert(o.called);
	assert_lost(o.detail);
	rbd_unit_runner_free(u);
	sd_bus_close_unref(f.bus);
}
END_TEST

/* The runner with units while the bus is down: the deploy runs as a
 * child, and the log says why. */
START_TEST(test_runner_falls_back_to_child)
{
	char *argv[] = { "sh", "-c", "echo child", NULL };
	struct rbd_runner *r = rbd_runner_new(base);
	struct rbd_job *job = NULL;
	struct outcome o = { 0 };
	char expect[512];

	ck_assert_ptr_nonnull(r);
	bus_new();
	ck_assert(!rbd_bus_connected(bus));
	ck_assert_int_eq(rbd_runner_use_units(r, NULL), -EINVAL);
	ck_assert_int_eq(rbd_runner_use_units(r, bus), 0);
	ck_assert_int_eq(rbd_runner_start_labelled(r, "demo", argv, env_std, 0,
	    on_result, &o, &job), 0);
	ck_assert_ptr_nonnull(job);	/* a child, not a unit */
	ck_assert(loop_until(called, &o));
	ck_assert_int_eq(o.result, RBD_DEPLOY_OK);
	ck_assert_str_eq(o.output, "child\n");
	snprintf(expect, sizeof(expect), "<4>demo: sh runs as a child of the "
	    "daemon, not as a transient unit: cannot connect to the bus at %s: "
	    "No such file or directory", address);
	assert_logged(expect, 1);
	rbd_runner_free(r);
}
END_TEST

/* ---- the release-directory deployer's restart (deploy_dir.c) ---- */

/* A fake systemd that restarts units: it answers RestartUnit with a job,
 * announces another unit's job end first (to be ignored), then its own
 * with result; or refuses (refuse set), or never ends it (result NULL). */
struct restarter {
	sd_bus *bus;
	const char *result;
	bool refuse;
	int restarts;
	char mode[16];
	struct outcome *o;
};

static int on_restarter(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	static const char job[] = "/org/freedesktop/systemd1/job/42";
	struct restarter *f = arg;
	const char *unit, *mode;

	(void)err;
	if (!sd_bus_message_is_method_call(m, "org.freedesktop.systemd1.Manager",
	    "RestartUnit"))
		return 0;
	ck_assert_int_ge(sd_bus_message_read(m, "ss", &unit, &mode), 0);
	f->restarts++;
	snprintf(f->mode, sizeof(f->mode), "%s", mode);
	if (f->refuse) {
		sd_bus_reply_method_errorf(m, "org.freedesktop.systemd1.NoSuchUnit",
		    "Unit %s not found.", unit);
		return 1;
	}
	ck_assert_int_ge(sd_bus_reply_method_return(m, "o", job), 0);
	if (f->result) {
		sd_bus_emit_signal(f->bus, "/org/freedesktop/systemd1",
		    "org.freedesktop.systemd1.Manager", "JobRemoved", "uoss", 41,
		    "/org/freedesktop/systemd1/job/41", "other.service", "failed");
		sd_bus_emit_signal(f->bus, "/org/freedesktop/systemd1",
		    "org.freedesktop.systemd1.Manager", "JobRemoved", "uoss", 42,
		    job, unit, f->result);
	}
	return 1;
}

/* For loop_until: our bus is connected. */
static bool bus_is_connected(void *arg)
{
	(void)arg;
	return rbd_bus_connected(bus);
}

/* For loop_until: the deploy ended (the fake answers meanwhile). */
static bool restart_done(void *arg)
{
	struct restarter *f = arg;

	while (sd_bus_process(f->bus, NULL) > 0)
		;
	return f->o->called;
}

static const struct {
	const char *result;
	bool refuse;
	enum rbd_deploy_result want;
	const char *detail;	/* after "current -> .../v1; " */
} restarts[] = {
	{ "done", false, RBD_DEPLOY_OK, "app.service restarted" },
	{ "failed", false, RBD_DEPLOY_FAILED, "restart of app.service failed: "
	    "job result 'failed' (journalctl -u app.service)" },
	{ "done", true, RBD_DEPLOY_FAILED, "cannot restart app.service: Unit "
	    "app.service not found." },
	{ NULL, false, RBD_DEPLOY_TIMED_OUT, "timed out after 300ms waiting for "
	    "app.service to restart" },
};

/* Switch, RestartUnit ("replace"), the job's end from JobRemoved. */
START_TEST(test_deploy_dir_restart)
{
	struct rbd_runner *r = rbd_runner_new(base);
	struct outcome o = { 0 };
	struct restarter f = { .result = restarts[_i].result,
	    .refuse = restarts[_i].refuse, .o = &o };
	struct rbd_policy p = { 0 };
	struct rbd_deploy_dir *dd;
	char rel[128], cur[128], v1[160], want[1024];

	snprintf(rel, sizeof(rel), "%s/releases", dir);
	snprintf(cur, sizeof(cur), "%s/current", dir);
	snprintf(v1, sizeof(v1), "%s/v1", rel);
	ck_assert_int_eq(mkdir(rel, 0700), 0);
	ck_assert_int_eq(mkdir(v1, 0700), 0);
	p.deploy_releases = rel;
	p.deploy_current = cur;
	p.deploy_restart_unit = "app.service";
	p.deploy_timeout_usec = 300 * RBD_USEC_PER_MSEC;
	daemon_start();
	bus_new();
	ck_assert_int_ge(sd_bus_new(&f.bus), 0);
	ck_assert_int_ge(sd_bus_set_address(f.bus, address), 0);
	ck_assert_int_ge(sd_bus_set_bus_client(f.bus, 1), 0);
	ck_assert_int_ge(sd_bus_start(f.bus), 0);
	ck_assert_int_ge(sd_bus_add_filter(f.bus, NULL, on_restarter, &f), 0);
	ck_assert_int_ge(sd_bus_request_name(f.bus, "org.freedesktop.systemd1",
	    0), 0);
	ck_assert(loop_until(bus_is_connected, NULL));
	ck_assert_int_eq(rbd_deploy_dir_start(base, r, bus, &p, "app", "v1",
	    NULL, env_std, on_result, &o, &dd), 0);
	ck_assert_msg(loop_until(restart_done, &f), "no result");
	ck_assert_int_eq(f.restarts, 1);
	ck_assert_str_eq(f.mode, "replace");
	ck_assert_int_eq(o.result, restarts[_i].want);
	snprintf(want, sizeof(want), "current -> %s; %s", v1, restarts[_i].detail);
	ck_assert_str_eq(o.detail, want);
	rbd_runner_free(r);
	sd_bus_close_unref(f.bus);
	unlink(cur);
	rmdir(v1);
	rmdir(rel);
}
END_TEST

static Suite *bus_suite(void)
{
	Suite *s = suite_create("bus");
	TCase *tc = tcase_create("bus");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_connect_and_call);
	tcase_add_test(tc, test_lost_and_back);
	tcase_add_test(tc, test_bus_appears_later);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_reset_from_callback);
	suite_add_tcase(s, tc);

	tc = tcase_create("units");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_unit_job_lost_with_bus);
	tcase_add_test(tc, test_unit_shutdown_after_drop);
	tcase_add_test(tc, test_runner_falls_back_to_child);
	tcase_add_loop_test(tc, test_deploy_dir_restart, 0,
	    (int)(sizeof(restarts) / sizeof(restarts[0])));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int r;

	find_dbus_daemon();
	if (!dbus_daemon[0]) {
		printf("check_bus: skipped: dbus-daemon is not installed "
		    "(apt-get install dbus-daemon)\n");
		return EXIT_SUCCESS;
	}
	if (!mkdtemp(root)) {
		perror(root);
		return EXIT_FAILURE;
	}
	r = rbd_test_run(bus_suite());
	nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return r;
}
