/* rollbackctl: the client of rollbackd's control socket, for deploy hooks
 * and people.
 *
 * One request per run. The arguments are checked here first, with the
 * rules the daemon applies (a hostile version is refused before anything
 * is sent); the request goes out as one JSON line (lib/proto.c) and the
 * replies come back as JSON lines until the daemon closes the connection.
 * Plain blocking I/O, with poll() for the time limits: this is a
 * short-lived command, not the daemon's loop.
 *
 * The exit codes are a contract with deploy scripts and CI pipelines,
 * documented in rollbackctl(1): see enum ctl_exit. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "control.h"
#include "ctl_format.h"
#include "duration.h"
#include "proto.h"
#include "version.h"

#define DEFAULT_SOCKET	"/run/rollbackd/rollbackd.sock"
/* Bytes in one reply line: a status grows with the daemon's checks (a few
 * MiB for 10,000), and the daemon never sends a longer one. */
#define REPLY_LINE_MAX	RBD_CONTROL_REPLY_MAX
#define REPLY_TIMEOUT	(60 * RBD_USEC_PER_SEC)	/* until the first reply */
#define CONNECT_TIMEOUT	10	/* seconds; a full backlog blocks connect() */
#define META_KEY_MAX	64
#define ECHO_MAX	100	/* bytes of a refused value shown back */

/* What the exit status says: distinct, documented in rollbackctl(1). */
enum ctl_exit {
	CTL_HELP = -1,		/* not an exit status: --help was printed */
	CTL_OK = 0,		/* done; with --wait: promoted */
	CTL_ERROR = 1,		/* internal or protocol error */
	CTL_ROLLED_BACK = 2,	/* --wait: the release was rolled back */
	CTL_HELD = 3,		/* held, or the request put nothing right */
	CTL_REFUSED = 4,	/* bad input, unknown service, engine refusal */
	CTL_SUPERSEDED = 5,	/* --wait: a newer release was announced */
	CTL_TIMEOUT = 6,	/* --wait --timeout: no verdict in time */
	CTL_DRILL_FAILED = 7,	/* drill: failed, and back on the live release */
	CTL_DRILL_ABORTED = 8,	/* drill: aborted, back on the live release */
	CTL_USAGE = EX_USAGE,
	CTL_UNREACHABLE = EX_UNAVAILABLE,
	CTL_DENIED = EX_NOPERM,	/* the caller's groups do not allow the verb */
};

/* The verbs' options: getopt values, in the order of their OPT_ bits. */
enum {
	LO_JSON = 256,
	LO_WAIT,
	LO_TIMEOUT,
	LO_META,
	LO_TO,
	LO_LIMIT,
	LO_SCHEMA,
	LO_MIGRATION,
	LO_FOR,
	LO_REASON,
	LO_ABORT,

	LO_KEEP,
};
#define OPT_BIT(lo)	(1u << ((lo) - LO_JSON))
#define OPT_JSON	OPT_BIT(LO_JSON)
#define OPT_WAIT	OPT_BIT(LO_WAIT)
#define OPT_TIMEOUT	OPT_BIT(LO_TIMEOUT)
#define OPT_META	OPT_BIT(LO_META)
#define OPT_TO		OPT_BIT(LO_TO)
#define OPT_LIMIT	OPT_BIT(LO_LIMIT)
#define OPT_SCHEMA	OPT_BIT(LO_SCHEMA)
#define OPT_MIGRATION	OPT_BIT(LO_MIGRATION)
#define OPT_FOR		OPT_BIT(LO_FOR)
#define OPT_REASON	OPT_BIT(LO_REASON)
#define OPT_ABORT	OPT_BIT(LO_ABORT)

#define OPT_KEEP	OPT_BIT(LO_KEEP)

static const struct option global_options[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Every verb's options; a verb accepts those in its opts, plus -s, -h. */
static const struct option verb_options[] = {
	{ "json", no_argument, NULL, LO_JSON },
	{ "wait", no_argument, NULL, LO_WAIT },
	{ "timeout", required_argument, NULL, LO_TIMEOUT },
	{ "meta", required_argument, NULL, LO_META },
	{ "to", required_argument, NULL, LO_TO },
	{ "limit", required_argument, NULL, LO_LIMIT },
	{ "schema", required_argument, NULL, LO_SCHEMA },
	{ "migration", required_argument, NULL, LO_MIGRATION },
	{ "for", required_argument, NULL, LO_FOR },
	{ "reason", required_argument, NULL, LO_REASON },
	{ "abort", no_argument, NULL, LO_ABORT },

	{ "keep", required_argument, NULL, LO_KEEP },
	{ "socket", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Reply lines from the socket, each at most REPLY_LINE_MAX bytes. */
struct reader {
	int fd;
	char *buf;
	size_t start, len, cap;
};

struct verb;

/* One run: the command line, the request and the connection. */
struct ctl {
	const char *socket;
	const struct verb *verb;
	char **args;		/* the positional arguments */
	int nargs;
	bool json;
	const char *to;		/* rollback --to */
	const char **metas;	/* the --meta KEY=VALUE arguments */
	size_t n_metas;
	uint64_t timeout;	/* --wait --timeout, usec; 0: none */
	bool migration;		/* --migration was given */
	uint64_t deadline;	/* monotonic usec; 0: none */
	struct rbd_request req;
	struct reader rd;
	const char *line;	/* the last reply line, for error messages */
};

/* A verb: its request, what it accepts, what it makes of the reply. */
struct verb {
	const char *name;
	enum rbd_cmd cmd;
	int min_args, max_args;
	unsigned opts;
	const char *usage;	/* what follows the verb */
	const char *help;	/* one line for --help */
	int (*reply)(struct ctl *c, const json_t *reply);
};

/* "rollbackctl: " and a message of ours on stderr. */
__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("rollbackctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "rollbackctl: ", a head of ours, then the daemon's text escaped. */
__attribute__((format(printf, 2, 3)))
static void say_text(const char *text, const char *fmt, ...)
{
	va_list ap;

	fputs("rollbackctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	rbd_ctl_puts(stderr, text);
	fputc('\n', stderr);
}

/* A string member of obj; NULL when absent, null or not a string. */
static const char *str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Wait until fd is readable or the monotonic deadline (0: none) passes:
 * 0, -ETIMEDOUT or -errno. */
static int wait_readable(int fd, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		int ms = -1, r;

		if (deadline) {
			uint64_t now = rbd_clock_usec(CLOCK_MONOTONIC), left;

			if (now >= deadline)
				return -ETIMEDOUT;
			left = (deadline - now + 999) / 1000;
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		r = poll(&p, 1, ms);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* Read more into r's buffer, keeping a byte spare for a NUL: the number
 * of bytes read, 0 at EOF, -ETIMEDOUT, -EMSGSIZE or -errno. */
static int fill(struct reader *r, uint64_t deadline)
{
	ssize_t n;
	int e;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->len - r->start);
		r->len -= r->start;
		r->start = 0;
	}
	if (r->len + 1 >= r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 4096;
		char *b;

		if (r->cap >= REPLY_LINE_MAX + 1)
			return -EMSGSIZE;
		if (cap > REPLY_LINE_MAX + 1)
			cap = REPLY_LINE_MAX + 1;
		if (!(b = realloc(r->buf, cap)))
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	if ((e = wait_readable(r->fd, deadline)) < 0)
		return e;
	do
		n = read(r->fd, r->buf + r->len, r->cap - r->len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	r->len += (size_t)n;
	return (int)n;
}

/* Hand out the line that starts at r->start and ends at end. */
static int take_line(struct reader *r, char *end, char **ret, size_t *ret_len)
{
	*end = '\0';
	*ret = r->buf + r->start;
	*ret_len = (size_t)(end - *ret);
	r->start = (size_t)(end - r->buf) + 1;
	if (r->start > r->len)
		r->start = r->len;
	return 1;
}

/* The next line, NUL-terminated and without its newline, in *ret (valid
 * until the next call): 1, or 0 at EOF, -ETIMEDOUT, -EMSGSIZE, -errno. A
 * last line without a newline still counts. */
static int read_line(struct reader *r, uint64_t deadline, char **ret,
    size_t *ret_len)
{
	for (;;) {
		char *nl = NULL;
		int n;

		if (r->len > r->start)
			nl = memchr(r->buf + r->start, '\n', r->len - r->start);
		if (nl)
			return take_line(r, nl, ret, ret_len);
		if ((n = fill(r, deadline)) < 0)
			return n;
		if (n == 0 && r->len > r->start)
			return take_line(r, r->buf + r->len, ret, ret_len);
		if (n == 0)
			return 0;
	}
}

/* A reply that is not what the protocol promises. */
static int unexpected(const struct ctl *c)
{
	char echo[200];

	say("unexpected reply from rollbackd: %s",
	    rbd_ctl_escape(c->line, echo, sizeof(echo)));
	return CTL_ERROR;
}

/* The next reply object: 1 and *ret (with --json, its line is printed
 * verbatim), 0 at EOF, -ETIMEDOUT, or another -errno after saying why. */
static int next_reply(struct ctl *c, uint64_t deadline, json_t **ret)
{
	json_t *obj;
	size_t len;
	char *line;
	int r;

	r = read_line(&c->rd, deadline, &line, &len);
	if (r == -EMSGSIZE)
		say("a reply from rollbackd is longer than %d bytes",
		    REPLY_LINE_MAX);
	else if (r < 0 && r != -ETIMEDOUT)
		say("cannot read from %s: %s", c->socket, strerror(-r));
	if (r <= 0)
		return r;
	c->line = line;
	obj = json_loadb(line, len, 0, NULL);
	if (!json_is_object(obj)) {
		json_decref(obj);
		unexpected(c);
		return -EBADMSG;
	}
	if (c->json) {
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	*ret = obj;
	return 1;
}

/* An "ok":false reply: its message, and a rejected reload's errors, on
 * stderr. Refused and rejected requests exit 4, denied ones 77, anything
 * else 1. */
static int reply_failed(const json_t *reply)
{
	const char *error = str(reply, "error"), *msg = str(reply, "message");
	const json_t *errors = json_object_get(reply, "errors"), *e;
	size_t i;

	if (msg)
		say_text(msg, "%s", "");
	else
		say_text(error, "request failed: ");
	json_array_foreach(errors, i, e) {
		rbd_ctl_puts(stderr, json_string_value(e));
		fputc('\n', stderr);
	}
	if (error && (strcmp(error, "refused") == 0 ||
	    strcmp(error, "rejected") == 0))
		return CTL_REFUSED;
	if (error && strcmp(error, "denied") == 0)
		return CTL_DENIED;
	return CTL_ERROR;
}

/* --wait ran out of time; the daemon goes on watching. */
static int timed_out(const struct ctl *c)
{
	char d[RBD_DURATION_STR_MAX];

	if (c->req.cmd == RBD_CMD_DRILL) {
		say("the drill of %s has not ended after %s; it goes on "
		    "(see: rollbackctl status %s; rollbackctl drill --abort %s "
		    "ends it)", c->req.service, rbd_duration_str(c->timeout,
		    d, sizeof(d)), c->req.service, c->req.service);
		return CTL_TIMEOUT;
	}
	say("no verdict on %s %s after %s; the watch goes on "
	    "(see: rollbackctl status %s)", c->req.service, c->req.version,
	    rbd_duration_str(c->timeout, d, sizeof(d)), c->req.service);
	return CTL_TIMEOUT;
}

/* The verdicts that end a --wait stream, and what each one says. */
static const struct {
	const char *name;
	int exit;
	const char *done;	/* stdout: "checkout v2.4.2 <done>: reason" */
	const char *fail;	/* stderr, for a non-zero exit */
} verdicts[] = {
	{ "promoted", CTL_OK, "promoted", NULL },
	{ "rolled_back", CTL_ROLLED_BACK, "rolled back", "was rolled back" },
	{ "held", CTL_HELD, "held", "is held" },
	{ "superseded", CTL_SUPERSEDED, "superseded", "was superseded" },
};
#define N_VERDICTS (sizeof(verdicts) / sizeof(verdicts[0]))

/* The verdict line: stdout always, stderr too when the release failed. */
static int verdict(const struct ctl *c, const json_t *ev)
{
	const char *name = str(ev, "verdict"), *reason = str(ev, "reason");

	for (size_t i = 0; name && i < N_VERDICTS; i++) {
		if (strcmp(name, verdicts[i].name) != 0)
			continue;
		if (!c->json) {
			printf("%s %s %s: ", c->req.service, c->req.version,
			    verdicts[i].done);
			rbd_ctl_puts(stdout, reason);
			putchar('\n');
		}
		if (verdicts[i].fail)
			say_text(reason, "%s %s %s: ", c->req.service,
			    c->req.version, verdicts[i].fail);
		return verdicts[i].exit;
	}
	return unexpected(c);
}

/* Drill: a drill's verdict: the report on stdout, and on stderr too
 * when it failed. Failed and back on L: 7; failed and held (the roll
 * forward did not work): 3; aborted: 8. */
static int drill_verdict(const struct ctl *c, const json_t *ev)
{
	const char *name = str(ev, "verdict"), *state = str(ev, "state");

	if (!c->json)
		rbd_ctl_print_drill_report(stdout, ev);
	if (strcmp(name, "drill_passed") == 0)
		return CTL_OK;
	if (strcmp(name, "drill_aborted") == 0)
		return CTL_DRILL_ABORTED;
	if (strcmp(name, "drill_failed") != 0)
		return unexpected(c);
	say_text(str(ev, "reason"), "drill of %s FAILED: ", c->req.service);
	if (state && strcmp(state, "held") == 0) {
		say("%s is held: a person must act", c->req.service);
		return CTL_HELD;
	}
	return CTL_DRILL_FAILED;
}

/* One message of a --wait stream: an exit code, or -1 to read on. */
static int stream_msg(const struct ctl *c, const json_t *msg)
{
	const char *event = str(msg, "event");
	const char *name = str(msg, "verdict");

	if (!event)
		return json_is_false(json_object_get(msg, "ok")) ?
		    reply_failed(msg) : unexpected(c);
	if (strcmp(event, "verdict") == 0 && name &&
	    strncmp(name, "drill_", 6) == 0)
		return drill_verdict(c, msg);
	if (strcmp(event, "verdict") == 0)
		return verdict(c, msg);
	if (!c->json)
		rbd_ctl_print_progress(stderr, msg, rbd_clock_usec(CLOCK_REALTIME));
	return -1;
}

/* deployed --wait: progress on stderr as it comes, then the verdict. */
static int wait_verdict(struct ctl *c, const json_t *first)
{
	if (!c->json)
		rbd_ctl_print_progress(stderr, first, rbd_clock_usec(CLOCK_REALTIME));
	for (;;) {
		json_t *msg;
		int r = next_reply(c, c->deadline, &msg);

		if (r == -ETIMEDOUT)
			return timed_out(c);
		if (r == 0)
			say("rollbackd closed the connection before the verdict "
			    "on %s%s%s", c->req.service, *c->req.version ? " " :
			    "", c->req.version);
		if (r <= 0)
			return CTL_ERROR;
		r = stream_msg(c, msg);
		json_decref(msg);
		if (r >= 0)
			return r;
	}
}

/* The state a request left; for mark-good and mark-bad. */
static int reply_state(struct ctl *c, const json_t *reply)
{
	if (!c->json)
		rbd_ctl_print_state(stdout, reply);
	return CTL_OK;
}

/* rollback (and deployed): a service left held was not put right. */
static int reply_changed(struct ctl *c, const json_t *reply)
{
	const char *state = str(reply, "state");

	reply_state(c, reply);
	if (state && strcmp(state, "held") == 0) {
		say_text(str(reply, "reason"), "%s is held: ", c->req.service);
		return CTL_HELD;
	}
	return CTL_OK;
}

/* deployed: the new state, or with --wait the stream up to the verdict. */
static int reply_deployed(struct ctl *c, const json_t *reply)
{
	return c->req.wait ? wait_verdict(c, reply) : reply_changed(c, reply);
}

/* drill: the stream up to the report; drill --abort: the state. */
static int reply_drill(struct ctl *c, const json_t *reply)
{
	return c->req.cmd == RBD_CMD_DRILL ? wait_verdict(c, reply) :
	    reply_state(c, reply);
}

/* status: the table; with one service, its checks too. */
static int reply_status(struct ctl *c, const json_t *reply)
{
	if (c->json)
		return CTL_OK;
	if (rbd_ctl_print_status(stdout, reply, rbd_clock_usec(CLOCK_REALTIME),
	    c->req.service[0] != '\0') < 0)
		return unexpected(c);
	return CTL_OK;
}

/* history: the timeline, newest first. */
static int reply_history(struct ctl *c, const json_t *reply)
{
	if (!c->json && rbd_ctl_print_history(stdout, reply) < 0)
		return unexpected(c);
	return CTL_OK;
}

/* pause and resume: the pause as status shows it, or that there is none. */
static int reply_paused(struct ctl *c, const json_t *reply)
{
	if (!c->json)
		rbd_ctl_print_paused(stdout, reply, rbd_clock_usec(CLOCK_REALTIME),
		    c->req.cmd == RBD_CMD_RESUME);
	return CTL_OK;
}

/* reload: the daemon's summary. */
static int reply_reload(struct ctl *c, const json_t *reply)
{
	if (!c->json) {
		rbd_ctl_puts(stdout, str(reply, "message"));
		putchar('\n');
	}
	return CTL_OK;
}

/* prune: what went, what stayed and why, what could not go (then exit
 * 1). */
static int reply_prune(struct ctl *c, const json_t *reply)
{
	const json_t *removed = json_object_get(reply, "removed");
	const json_t *kept = json_object_get(reply, "kept");
	const json_t *failed = json_object_get(reply, "failed"), *e;
	size_t i;

	if (!json_is_array(removed) || !json_is_array(kept) ||
	    !json_is_array(failed))
		return unexpected(c);
	if (!c->json) {
		json_array_foreach(removed, i, e) {
			fputs("removed ", stdout);
			rbd_ctl_puts(stdout, str(e, "name"));
			putchar('\n');
		}
		json_array_foreach(kept, i, e) {
			fputs("kept    ", stdout);
			rbd_ctl_puts(stdout, str(e, "name"));
			fputs(": ", stdout);
			rbd_ctl_puts(stdout, str(e, "why"));
			putchar('\n');
		}
		if (!json_array_size(removed))
			fputs("nothing to remove\n", stdout);
	}
	json_array_foreach(failed, i, e) {
		fputs("rollbackctl: could not remove ", stderr);
		rbd_ctl_puts(stderr, str(e, "name"));
		fputs(": ", stderr);
		rbd_ctl_puts(stderr, str(e, "error"));
		fputc('\n', stderr);
	}
	return json_array_size(failed) ? CTL_ERROR : CTL_OK;
}

static const struct verb verbs[] = {
	{ "deployed", RBD_CMD_DEPLOYED, 2, 2,
	  OPT_META | OPT_WAIT | OPT_TIMEOUT | OPT_JSON | OPT_SCHEMA |
	  OPT_MIGRATION,
	  "SERVICE VERSION [--schema N [--migration reversible|irreversible]]\n"
	  "      [--meta KEY=VALUE]... [--wait [--timeout DURATION]] [--json]",
	  "announce that VERSION of SERVICE is live (running against database\n"
	  "      schema N); --wait blocks until the verdict",
	  reply_deployed },
	{ "status", RBD_CMD_STATUS, 0, 1, OPT_JSON,
	  "[SERVICE] [--json]",
	  "each service's state, releases and last transition",
	  reply_status },
	{ "history", RBD_CMD_HISTORY, 1, 1, OPT_LIMIT | OPT_JSON,
	  "SERVICE [--limit N] [--json]",
	  "the service's timeline, newest first (default 20 events)",
	  reply_history },
	{ "rollback", RBD_CMD_ROLLBACK, 1, 1, OPT_TO | OPT_JSON,
	  "SERVICE [--to VERSION] [--json]",
	  "deploy the known-good release (or VERSION) again, now",
	  reply_changed },
	{ "mark-good", RBD_CMD_MARK_GOOD, 2, 2, OPT_JSON,
	  "SERVICE VERSION [--json]",
	  "record VERSION as known-good",
	  reply_state },
	{ "mark-bad", RBD_CMD_MARK_BAD, 2, 2, OPT_JSON,
	  "SERVICE VERSION [--json]",
	  "record VERSION as bad: never a rollback target",
	  reply_state },
	{ "pause", RBD_CMD_PAUSE, 1, 1, OPT_FOR | OPT_REASON | OPT_JSON,
	  "SERVICE [--for DURATION] [--reason TEXT] [--json]",
	  "stop automatic actions (until resumed, or for DURATION); judging\n"
	  "      and recording go on",
	  reply_paused },
	{ "resume", RBD_CMD_RESUME, 1, 1, OPT_JSON,
	  "SERVICE [--json]",
	  "end a pause: automatic actions run again",
	  reply_paused },
	{ "drill", RBD_CMD_DRILL, 1, 1, OPT_ABORT | OPT_TIMEOUT | OPT_JSON,
	  "SERVICE [--abort] [--timeout DURATION] [--json]",
	  "practise a rollback: deploy the rollback target, verify it, roll\n"
	  "      forward again and print the report; --abort ends a drill",
	  reply_drill },

	{ "prune", RBD_CMD_PRUNE, 1, 1, OPT_KEEP | OPT_JSON,
	  "SERVICE [--keep N] [--json]",
	  "remove old release directories (deploy.releases), keeping the\n"
	  "      newest N (default 5), known-good, live, current and the\n"
	  "      rollback target",
	  reply_prune },
	{ "reload", RBD_CMD_RELOAD, 0, 0, OPT_JSON,
	  "[--json]",
	  "reload the configuration and every policy",
	  reply_reload },
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

/* One verb's usage line. */
static void verb_usage(FILE *out, const struct verb *v)
{
	fprintf(out, "usage: rollbackctl [-s SOCKET] %s %s\n", v->name, v->usage);
}

/* Every verb, the global options, the exit codes. */
static void usage(FILE *out)
{
	fputs("usage: rollbackctl [-s SOCKET] VERB [ARGS...]\n\n", out);
	for (size_t i = 0; i < N_VERBS; i++)
		fprintf(out, "  %s %s\n      %s\n", verbs[i].name,
		    verbs[i].usage, verbs[i].help);
	fputs("\n"
	    "  -s, --socket SOCKET  rollbackd's control socket (default:\n"
	    "                       $ROLLBACKD_SOCKET, else " DEFAULT_SOCKET ")\n"
	    "  -h, --help           this help; rollbackctl VERB --help for one verb\n"
	    "\n"
	    "exit: 0 done/promoted/drill passed, 1 error, 2 rolled back, 3 held,\n"
	    "      4 refused, 5 superseded, 6 --timeout, 7 drill failed,\n"
	    "      8 drill aborted, 64 usage, 69 daemon unreachable,\n"
	    "      77 permission denied\n"
	    "See rollbackctl(1).\n", out);
}

/* The verb called name, or NULL. */
static const struct verb *find_verb(const char *name)
{
	for (size_t i = 0; i < N_VERBS; i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

/* A usage error about verb v: the message, then its usage. */
__attribute__((format(printf, 2, 3)))
static int usage_error(const struct verb *v, const char *fmt, ...)
{
	va_list ap;

	fputs("rollbackctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (v)
		verb_usage(stderr, v);
	else
		usage(stderr);
	return CTL_USAGE;
}

/* The name of option value ch, as it is typed ("--timeout", "-s"). */
static const char *option_name(int ch, char *buf, size_t len)
{
	for (size_t i = 0; verb_options[i].name; i++)
		if (verb_options[i].val == ch && ch >= LO_JSON) {
			snprintf(buf, len, "--%s", verb_options[i].name);
			return buf;
		}
	snprintf(buf, len, "-%c", ch);
	return buf;
}

/* getopt's complaint (opterr is off) as a usage error. */
static int bad_option(const struct verb *v, int ch, char *const *argv)
{
	char name[32], echo[ECHO_MAX];

	if (ch == ':')
		return usage_error(v, "option %s needs a value",
		    option_name(optopt, name, sizeof(name)));
	if (optopt)
		return usage_error(v, "unknown option %s",
		    option_name(optopt, name, sizeof(name)));
	return usage_error(v, "unknown option '%s'",
	    rbd_ctl_escape(argv[optind - 1], echo, sizeof(echo)));
}

/* --timeout DURATION: longer than zero, as rbd_duration_parse reads it. */
static int parse_timeout(struct ctl *c, const char *arg)
{
	const char *why = "invalid";
	char echo[ECHO_MAX];

	if (rbd_duration_parse(arg, &c->timeout, &why) < 0)
		return usage_error(c->verb, "invalid --timeout '%s': %s",
		    rbd_ctl_escape(arg, echo, sizeof(echo)), why);
	if (c->timeout == 0)
		return usage_error(c->verb, "--timeout must be longer than 0s");
	return CTL_OK;
}

/* --limit N: 1 to RBD_PROTO_HISTORY_MAX events. */
static int parse_limit(struct ctl *c, const char *arg)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || n < 1 ||
	    n > RBD_PROTO_HISTORY_MAX)
		return usage_error(c->verb, "--limit must be a number from 1 to %d",
		    RBD_PROTO_HISTORY_MAX);
	c->req.limit = n;
	return CTL_OK;
}

/* --keep N: 0 to RBD_PROTO_KEEP_MAX release directories. */
static int parse_keep(struct ctl *c, const char *arg)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' ||
	    n > RBD_PROTO_KEEP_MAX)
		return usage_error(c->verb, "--keep must be a number from 0 to %d",
		    RBD_PROTO_KEEP_MAX);
	c->req.has_keep = true;
	c->req.keep = (unsigned)n;
	return CTL_OK;
}

/* --schema N: a decimal number from 0 to RBD_SCHEMA_MAX. */
static int parse_schema(struct ctl *c, const char *arg)
{
	char echo[ECHO_MAX], *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || strspn(arg, "0123456789") !=
	    strlen(arg) || n > (unsigned long long)RBD_SCHEMA_MAX)
		return usage_error(c->verb, "invalid --schema '%s': must be a "
		    "number from 0 to %lld", rbd_ctl_escape(arg, echo,
		    sizeof(echo)), (long long)RBD_SCHEMA_MAX);
	c->req.has_schema = true;
	c->req.schema = (int64_t)n;
	return CTL_OK;
}

/* --migration none|reversible|irreversible. */
static int parse_migration(struct ctl *c, const char *arg)
{
	char echo[ECHO_MAX];

	if (rbd_migration_from_str(arg, &c->req.migration) < 0)
		return usage_error(c->verb, "invalid --migration '%s': must be "
		    "reversible, irreversible or none",
		    rbd_ctl_escape(arg, echo, sizeof(echo)));
	c->migration = true;
	return CTL_OK;
}

/* --for DURATION: longer than zero, at most RBD_PROTO_PAUSE_MAX. */
static int parse_for(struct ctl *c, const char *arg)
{
	char echo[ECHO_MAX], d[RBD_DURATION_STR_MAX];
	const char *why = "invalid";

	if (rbd_duration_parse(arg, &c->req.for_usec, &why) < 0)
		return usage_error(c->verb, "invalid --for '%s': %s",
		    rbd_ctl_escape(arg, echo, sizeof(echo)), why);
	if (c->req.for_usec == 0)
		return usage_error(c->verb, "--for must be longer than 0s "
		    "(leave it out to pause until resumed)");
	if (c->req.for_usec > RBD_PROTO_PAUSE_MAX)
		return usage_error(c->verb, "--for must be at most %s",
		    rbd_duration_str(RBD_PROTO_PAUSE_MAX, d, sizeof(d)));
	return CTL_OK;
}

/* --reason TEXT: what rbd_proto_reason_check takes. */
static int parse_reason(struct ctl *c, const char *arg)
{
	char echo[ECHO_MAX];
	const char *why = "is invalid";

	if (rbd_proto_reason_check(arg, strlen(arg), &why) < 0)
		return usage_error(c->verb, "invalid --reason '%s': %s",
		    rbd_ctl_escape(arg, echo, sizeof(echo)), why);
	snprintf(c->req.reason, sizeof(c->req.reason), "%s", arg);
	return CTL_OK;
}

/* Take one of the verb's options. */
static int verb_option(struct ctl *c, int ch, const char *arg)
{
	switch (ch) {
	case 's':
		if (!*arg)
			return usage_error(c->verb, "-s needs a socket path");
		c->socket = arg;
		break;
	case LO_JSON:
		c->json = true;
		break;
	case LO_WAIT:
		c->req.wait = true;
		break;
	case LO_TIMEOUT:
		return parse_timeout(c, arg);
	case LO_META:
		if (!strchr(arg, '='))
			return usage_error(c->verb, "--meta needs KEY=VALUE");
		c->metas[c->n_metas++] = arg;
		break;
	case LO_TO:
		c->to = arg;
		break;
	case LO_LIMIT:
		return parse_limit(c, arg);
	case LO_SCHEMA:
		return parse_schema(c, arg);
	case LO_MIGRATION:
		return parse_migration(c, arg);
	case LO_FOR:
		return parse_for(c, arg);
	case LO_REASON:
		return parse_reason(c, arg);
	case LO_ABORT:
		c->req.cmd = RBD_CMD_DRILL_ABORT;
		break;

	case LO_KEEP:
		return parse_keep(c, arg);
	}
	return CTL_OK;
}

/* The verb's options and arguments, in any order (GNU getopt permutes
 * them: "deployed checkout v2 --wait"); "--" ends the options. */
static int parse_verb(struct ctl *c, int argc, char **argv)
{
	char name[32];
	int ch, r;

	if (!(c->metas = calloc((size_t)argc, sizeof(*c->metas))))
		return CTL_ERROR;
	if (c->verb->cmd == RBD_CMD_HISTORY)
		c->req.limit = RBD_PROTO_HISTORY_DEFAULT;
	/* A drill always waits for its report (--abort does not). */
	c->req.cmd = c->verb->cmd;
	c->req.wait = c->verb->cmd == RBD_CMD_DRILL;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":s:h", verb_options, NULL)) != -1) {
		if (ch == '?' || ch == ':')
			return bad_option(c->verb, ch, argv);
		if (ch == 'h') {
			verb_usage(stdout, c->verb);
			printf("%s\n", c->verb->help);
			return CTL_HELP;
		}
		if (ch >= LO_JSON && !(c->verb->opts & OPT_BIT(ch)))
			return usage_error(c->verb, "%s does not apply to %s",
			    option_name(ch, name, sizeof(name)), c->verb->name);
		if ((r = verb_option(c, ch, optarg)) != CTL_OK)
			return r;
	}
	if (c->req.cmd == RBD_CMD_DRILL_ABORT) {
		if (c->timeout)
			return usage_error(c->verb, "--timeout does not apply "
			    "to --abort");
		c->req.wait = false;
	}
	if (c->timeout && !c->req.wait)
		return usage_error(c->verb, "--timeout needs --wait");
	if (c->migration && !c->req.has_schema)
		return usage_error(c->verb, "--migration needs --schema (the "
		    "schema VERSION runs against)");
	c->args = argv + optind;
	c->nargs = argc - optind;
	if (c->nargs < c->verb->min_args)
		return usage_error(c->verb, "missing arguments for %s",
		    c->verb->name);
	if (c->nargs > c->verb->max_args)
		return usage_error(c->verb, "too many arguments for %s",
		    c->verb->name);
	return CTL_OK;
}

/* The options before the verb, then the verb and its own. */
static int parse_args(struct ctl *c, int argc, char **argv)
{
	const char *env = getenv("ROLLBACKD_SOCKET");
	char echo[ECHO_MAX];
	int ch;

	c->socket = env && *env ? env : DEFAULT_SOCKET;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:s:h", global_options, NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			return CTL_HELP;
		}
		if (ch == '?' || ch == ':')
			return bad_option(NULL, ch, argv);
		if (!*optarg)
			return usage_error(NULL, "-s needs a socket path");
		c->socket = optarg;
	}
	if (optind >= argc)
		return usage_error(NULL, "missing a verb");
	if (!(c->verb = find_verb(argv[optind])))
		return usage_error(NULL, "unknown verb '%s'",
		    rbd_ctl_escape(argv[optind], echo, sizeof(echo)));
	return parse_verb(c, argc - optind, argv + optind);
}

/* Check a name as the daemon will and copy it into buf (sized for the
 * longest valid one); a hostile value is refused and echoed escaped. */
static int take_name(const char *s, const char *what,
    int (*check)(const char *, const char **), char *buf, size_t len)
{
	const char *why = "is invalid";
	char echo[ECHO_MAX];

	if (check(s, &why) < 0) {
		say("invalid %s '%s': %s", what,
		    rbd_ctl_escape(s, echo, sizeof(echo)), why);
		return CTL_REFUSED;
	}
	snprintf(buf, len, "%s", s);
	return CTL_OK;
}

/* Add one KEY=VALUE to the meta object, with the daemon's rules. */
static int add_meta(json_t *meta, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t klen = (size_t)(eq - arg);
	char key[META_KEY_MAX + 1], echo[ECHO_MAX];

	if (klen == 0 || klen > META_KEY_MAX ||
	    strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-") < klen) {
		say("invalid --meta key in '%s': keys are 1 to %d of "
		    "A-Z a-z 0-9 _ . -", rbd_ctl_escape(arg, echo, sizeof(echo)),
		    META_KEY_MAX);
		return CTL_REFUSED;
	}
	memcpy(key, arg, klen);
	key[klen] = '\0';
	if (json_object_get(meta, key)) {
		say("--meta %s given twice", key);
		return CTL_REFUSED;
	}
	if (json_object_size(meta) >= RBD_PROTO_META_KEYS) {
		say("at most %d --meta keys", RBD_PROTO_META_KEYS);
		return CTL_REFUSED;
	}
	if (json_object_set_new(meta, key, json_string(eq + 1)) < 0) {
		say("--meta %s: the value is not valid UTF-8", key);
		return CTL_REFUSED;
	}
	return CTL_OK;
}

/* The --meta pairs as the request's compact JSON object. */
static int build_meta(struct ctl *c)
{
	json_t *meta = json_object();
	int r = meta ? CTL_OK : CTL_ERROR;

	for (size_t i = 0; r == CTL_OK && i < c->n_metas; i++)
		r = add_meta(meta, c->metas[i]);
	if (r == CTL_OK && !(c->req.meta = json_dumps(meta, JSON_COMPACT)))
		r = CTL_ERROR;
	if (r == CTL_OK && strlen(c->req.meta) > RBD_PROTO_META_MAX) {
		say("--meta is longer than %d bytes as JSON", RBD_PROTO_META_MAX);
		r = CTL_REFUSED;
	}
	json_decref(meta);
	return r;
}

/* Fill the request from the arguments; nothing is sent if one is bad. */
static int build_request(struct ctl *c)
{
	int r = CTL_OK;

	if (c->req.cmd != RBD_CMD_DRILL_ABORT)
		c->req.cmd = c->verb->cmd;
	if (c->nargs >= 1)
		r = take_name(c->args[0], "service name", rbd_service_check,
		    c->req.service, sizeof(c->req.service));
	if (r == CTL_OK && c->nargs >= 2)
		r = take_name(c->args[1], "release version", rbd_version_check,
		    c->req.version, sizeof(c->req.version));
	if (r == CTL_OK && c->to)
		r = take_name(c->to, "release version", rbd_version_check,
		    c->req.version, sizeof(c->req.version));
	if (r == CTL_OK && c->n_metas)
		r = build_meta(c);
	return r;
}

/* A connected socket to path, or -errno. */
static int connect_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CONNECT_TIMEOUT };
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	/* Bounds both connect() (a full backlog) and send(). */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* The daemon could not be reached: say which socket, and why. */
static int unreachable(const struct ctl *c, int err)
{
	char echo[256];
	const char *hint = "";

	if (err == ENOENT || err == ECONNREFUSED)
		hint = " (is rollbackd running?)";
	say("cannot connect to %s: %s%s", rbd_ctl_escape(c->socket, echo,
	    sizeof(echo)), err == EAGAIN ? "no answer in time" : strerror(err),
	    hint);
	return CTL_UNREACHABLE;
}

/* Write all of s (no SIGPIPE when the daemon has gone): 0 or -errno. */
static int send_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The request as one line. */
static int send_request(struct ctl *c)
{
	char *line = rbd_request_format(&c->req);
	int r;

	if (!line) {
		say("cannot build the request: out of memory");
		return CTL_ERROR;
	}
	r = send_all(c->rd.fd, line, strlen(line));
	if (r == 0)
		r = send_all(c->rd.fd, "\n", 1);
	free(line);
	if (r < 0) {
		say("cannot send the request to %s: %s", c->socket, strerror(-r));
		return CTL_ERROR;
	}
	return CTL_OK;
}

/* The first reply, within REPLY_TIMEOUT or --timeout, whichever is first. */
static int first_reply(struct ctl *c, json_t **ret)
{
	uint64_t limit = rbd_clock_usec(CLOCK_MONOTONIC) + REPLY_TIMEOUT;
	bool ours = c->deadline && c->deadline < limit;
	int r = next_reply(c, ours ? c->deadline : limit, ret);

	if (r == 1)
		return CTL_OK;
	if (r == -ETIMEDOUT) {
		char d[RBD_DURATION_STR_MAX];

		say("no reply from rollbackd within %s", rbd_duration_str(ours ?
		    c->timeout : REPLY_TIMEOUT, d, sizeof(d)));
		return ours ? CTL_TIMEOUT : CTL_ERROR;
	}
	if (r == 0)
		say("rollbackd closed the connection without a reply");
	return CTL_ERROR;
}

/* Connect, send the request, and hand the first reply to the verb. */
static int run(struct ctl *c)
{
	json_t *reply;
	const json_t *ok;
	int r;

	if ((c->rd.fd = connect_socket(c->socket)) < 0)
		return unreachable(c, -c->rd.fd);
	if ((r = send_request(c)) != CTL_OK)
		return r;
	if (c->timeout)
		c->deadline = rbd_clock_usec(CLOCK_MONOTONIC) + c->timeout;
	if ((r = first_reply(c, &reply)) != CTL_OK)
		return r;
	ok = json_object_get(reply, "ok");
	if (json_is_false(ok))
		r = reply_failed(reply);
	else if (!json_is_true(ok))
		r = unexpected(c);
	else
		r = c->verb->reply(c, reply);
	json_decref(reply);
	return r;
}

/* Flush stdout: output that could not be written is an error too. */
static int finish(int r)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (r == CTL_OK) {
			say("cannot write the output: %s", strerror(errno));
			r = CTL_ERROR;
		}
	}
	return r;
}

int main(int argc, char **argv)
{
	struct ctl c = { .rd.fd = -1 };
	int r;

	r = parse_args(&c, argc, argv);
	if (r == CTL_OK)
		r = build_request(&c);
	if (r == CTL_OK)
		r = run(&c);
	if (c.rd.fd >= 0)
		close(c.rd.fd);
	free(c.rd.buf);
	free(c.req.meta);
	free(c.metas);
	return finish(r == CTL_HELP ? CTL_OK : r);
}
