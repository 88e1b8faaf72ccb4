/* Deploy commands as transient units: see runner_unit.h for the contract.
 *
 * The connection is the shared one of bus.c, which drives it on the loop,
 * subscribes to systemd's signals and reconnects. Every call to systemd
 * is asynchronous. A job keeps a reference to the sd_bus it was started
 * on: when the bus tells us it is down, every job whose connection is not
 * the current one has lost its signals, and with them its result.
 *
 * A job's life: a match on PropertiesChanged of the unit's object path
 * (known from its name before it exists), then StartTransientUnit. systemd
 * sends the Service interface's properties (Result, ExecMain*) before the
 * Unit interface's (ActiveState) in each round, so when ActiveState says
 * "failed", or "inactive" after the command ran, everything needed for the
 * result is already here. The unit is garbage-collected then
 * (CollectMode=inactive-or-failed); systemd flushes its last change signal
 * before it removes it. The completion runs from a fresh loop callback,
 * as in runner.c. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-id128.h>

#include "clock.h"
#include "bus.h"
#include "duration.h"
#include "runner_unit.h"

#define SD_DEST		"org.freedesktop.systemd1"
#define SD_PATH		"/org/freedesktop/systemd1"
#define SD_MANAGER	"org.freedesktop.systemd1.Manager"
#define SD_UNIT_IFACE	"org.freedesktop.systemd1.Unit"
#define SD_UNIT_PREFIX	"/org/freedesktop/systemd1/unit"
/* What systemd reports when it could not execute the command. */
#define EXIT_EXEC	203
/* The part of a service name kept in a unit name (255 at most in all). */
#define UNIT_LABEL_MAX	100
#define UNIT_NAME_MAX	256
#define UNIT_DETAIL_MAX	512
#define UNIT_STATE_MAX	32
#define DEFAULT_PATH	"/bin:/usr/bin"

struct unit_job {
	struct rbd_unit_runner *u;
	TAILQ_ENTRY(unit_job) entry;
	char name[UNIT_NAME_MAX];	/* rollbackd-deploy-S-ID.service */
	char *path;			/* its object path */
	char *cmd;			/* argv[0], for "could not run" */
	char *exec;			/* ExecStart='s path */
	rbd_run_cb cb;
	void *arg;
	sd_bus *bus;			/* the connection it was started on */
	sd_bus_slot *match, *start_call, *stop_call;
	struct event *done_ev;
	uint64_t started, ended, timeout;
	char active_state[UNIT_STATE_MAX];
	char result[UNIT_STATE_MAX];	/* "success", "exit-code", "timeout"... */
	int main_code, main_status;	/* CLD_*, status or signal */
	uint32_t main_pid;
	bool seen_running, done;
	bool stop_asked;		/* our shutdown stopped it */
	bool lost;			/* the bus went away while it ran */
	char error[UNIT_DETAIL_MAX];	/* systemd refused the unit */
	char detail[UNIT_DETAIL_MAX + UNIT_NAME_MAX];
};

struct rbd_unit_runner {
	struct event_base *base;
	struct rbd_bus *bus;
	struct event *idle_ev;
	TAILQ_HEAD(, unit_job) jobs;
	size_t n_jobs;
	bool stopping;
	void (*done_cb)(void *arg);
	void *done_arg;
};

/* See runner_unit.h. */
bool rbd_unit_wanted(void)
{
	const char *force = getenv("ROLLBACKD_RUNNER");

	if (force && strcmp(force, "fork") == 0)
		return false;
	if (force && strcmp(force, "unit") == 0)
		return true;
	return getenv("INVOCATION_ID") && sd_booted() > 0;
}

/* ---- jobs ---- */

/* Free job and what it holds; touches nothing of the runner. */
static void job_free(struct unit_job *job)
{
	if (!job)
		return;
	sd_bus_slot_unref(job->match);
	sd_bus_slot_unref(job->start_call);
	sd_bus_slot_unref(job->stop_call);
	sd_bus_unref(job->bus);
	if (job->done_ev)
		event_free(job->done_ev);
	free(job->path);
	free(job->cmd);
	free(job->exec);
	free(job);
}

/* The job is over: finish it from a fresh loop callback. */
static void job_finish(struct unit_job *job)
{
	if (job->done)
		return;
	job->done = true;
	job->ended = rbd_mono_usec();
	/* No more signals for it. */
	job->match = sd_bus_slot_unref(job->match);
	event_active(job->done_ev, EV_TIMEOUT, 0);
}

/* The connection the job was started on is gone: no word of its end will
 * come. The unit itself runs on, to its end or its RuntimeMaxSec=. */
static void job_lose(struct unit_job *job)
{
	if (job->done)
		return;
	job->lost = true;
	job_finish(job);
}

/* Whether the unit ran into its RuntimeMaxSec=. A stop of ours whose grace
 * ran out has Result "timeout" too: that one gets its real result. */
static bool job_timed_out(const struct unit_job *job)
{
	return !job->stop_asked && strcmp(job->result, "timeout") == 0;
}

/* The detail of the result, into job->detail. */
static void job_describe(const struct unit_job *job, char *buf, size_t len)
{
	char d[RBD_DURATION_STR_MAX], what[UNIT_DETAIL_MAX];
	const char *abbrev;

	if (job->lost) {
		snprintf(buf, len, "the system bus connection was lost while "
		    "unit %s ran; its result is unknown: journalctl -u %s",
		    job->name, job->name);
		return;
	}
	if (job->error[0])
		snprintf(what, sizeof(what), "could not start unit %s: %.200s",
		    job->name, job->error);
	else if (job_timed_out(job))
		snprintf(what, sizeof(what), "timed out after %s (stopped by systemd)",
		    rbd_duration_str(job->timeout, d, sizeof(d)));
	else if (job->main_code == CLD_EXITED && job->main_status == EXIT_EXEC)
		snprintf(what, sizeof(what), "could not run %s (systemd: exit "
		    "status 203/EXEC)", job->cmd);
	else if (job->main_code == CLD_EXITED)
		snprintf(what, sizeof(what), "exited with status %d", job->main_status);
	else if ((job->main_code == CLD_KILLED || job->main_code == CLD_DUMPED) &&
	    (abbrev = sigabbrev_np(job->main_status)))
		snprintf(what, sizeof(what), "killed by signal %d (SIG%s)",
		    job->main_status, abbrev);
	else if (job->main_code == CLD_KILLED || job->main_code == CLD_DUMPED)
		snprintf(what, sizeof(what), "killed by signal %d", job->main_status);
	else
		snprintf(what, sizeof(what), "unit %s: %s", job->active_state,
		    job->result[0] ? job->result : "no result");
	if (job->error[0])
		snprintf(buf, len, "%.400s", what);
	else
		snprintf(buf, len, "%.400s; output: journalctl -u %s", what, job->name);
}

/* The job is done: leave the runner, call back, free. Nothing of the
 * runner is touched after the callback, which may have freed it. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct unit_job *job = arg;
	struct rbd_unit_runner *u = job->u;
	bool known = !job->error[0] && !job->lost;
	bool exited = known && job->main_code == CLD_EXITED;
	bool killed = known && (job->main_code == CLD_KILLED ||
	    job->main_code == CLD_DUMPED);
	struct rbd_run_result res;

	(void)fd;
	(void)what;
	TAILQ_REMOVE(&u->jobs, job, entry);
	u->n_jobs--;
	if (u->stopping && u->n_jobs == 0)
		event_active(u->idle_ev, EV_TIMEOUT, 0);
	job_describe(job, job->detail, sizeof(job->detail));
	res = (struct rbd_run_result){
		.result = job->lost ? RBD_DEPLOY_FAILED :
		    job_timed_out(job) ? RBD_DEPLOY_TIMED_OUT :
		    exited && job->main_status == 0 &&
		    strcmp(job->result, "success") == 0 ?
		    RBD_DEPLOY_OK : RBD_DEPLOY_FAILED,
		.exit_status = exited ? job->main_status : -1,
		.signal = killed ? job->main_status : 0,
		.detail = job->detail,
		.output = "",
		.duration = job->ended - job->started,
		.pid = (int)job->main_pid,
	};
	job->cb(job->arg, &res);
	job_free(job);
}

/* Read one property value of type t (the variant is entered here). */
static int read_variant(sd_bus_message *m, char t, void *p)
{
	char sig[2] = { t, '\0' };
	int r;

	r = sd_bus_message_enter_container(m, 'v', sig);
	if (r <= 0)
		return r < 0 ? r : -EBADMSG;
	r = sd_bus_message_read_basic(m, t, p);
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

/* Copy s into a fixed buffer. */
static void set_str(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s ? s : "");
}

/* PropertiesChanged on the unit's path: note what matters; finish when
 * the unit is over. Property names are unique across the Unit and Service
 * interfaces we read, so the interface is not checked per property. */
static int on_properties(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct unit_job *job = arg;
	const char *iface, *name, *s;
	int r;

	(void)err;
	if (job->done)
		return 0;
	r = sd_bus_message_read(m, "s", &iface);
	if (r >= 0)
		r = sd_bus_message_enter_container(m, 'a', "{sv}");
	while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		r = sd_bus_message_read(m, "s", &name);
		if (r < 0)
			break;
		if (strcmp(name, "ActiveState") == 0 &&
		    (r = read_variant(m, 's', &s)) >= 0) {
			set_str(job->active_state, sizeof(job->active_state), s);
			if (strcmp(s, "inactive") != 0)
				job->seen_running = true;
		} else if (strcmp(name, "Result") == 0 &&
		    (r = read_variant(m, 's', &s)) >= 0)
			set_str(job->result, sizeof(job->result), s);
		else if (strcmp(name, "ExecMainCode") == 0)
			r = read_variant(m, 'i', &job->main_code);
		else if (strcmp(name, "ExecMainStatus") == 0)
			r = read_variant(m, 'i', &job->main_status);
		else if (strcmp(name, "ExecMainPID") == 0)
			r = read_variant(m, 'u', &job->main_pid);
		else
			r = sd_bus_message_skip(m, "v");
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
	}
	if (r < 0)
		return 0;	/* a message we cannot read: wait for the next */
	if (strcmp(iface, SD_UNIT_IFACE) != 0)
		return 0;
	/* A new unit starts "inactive": only "failed", or "inactive" once the
	 * command has run, ends it. */
	if (strcmp(job->active_state, "failed") == 0 ||
	    (strcmp(job->active_state, "inactive") == 0 &&
	    (job->seen_running || job->main_code != 0)))
		job_finish(job);
	return 0;
}

/* The reply to StartTransientUnit: a refusal ends the job. The NoReply
 * that a dying connection makes up is no refusal: the unit may run. */
static int on_started(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct unit_job *job = arg;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	(void)err;
	job->start_call = sd_bus_slot_unref(job->start_call);
	if (!e || job->done)
		return 0;
	if (sd_bus_is_open(sd_bus_message_get_bus(m)) <= 0) {
		job_lose(job);
		return 0;
	}
	set_str(job->error, sizeof(job->error), e->message ? e->message : e->name);
	job_finish(job);
	return 0;
}

/* The reply to StopUnit: nothing to do but forget it (the unit's
 * signals tell the end). */
static int on_stopped(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct unit_job *job = arg;

	(void)m;
	(void)err;
	job->stop_call = sd_bus_slot_unref(job->stop_call);
	return 0;
}

/* label, as a unit name allows it: [A-Za-z0-9:_.-], the rest as \xNN
 * (systemd's escaping), at most UNIT_LABEL_MAX bytes. */
static void unit_escape(const char *label, char *buf, size_t len)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)label;
	    *p && n + 5 < len && n < UNIT_LABEL_MAX; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == ':' || *p == '_' ||
		    *p == '.' || *p == '-')
			buf[n++] = (char)*p;
		else
			n += (size_t)snprintf(buf + n, len - n, "\\x%02x", *p);
	}
	buf[n] = '\0';
}

/* What ExecStart= runs: argv[0] itself when it holds a '/', else the
 * first executable of that name in envp's PATH (never the daemon's), as
 * the fork/exec runner looks it up; argv[0] when none is (systemd then
 * reports 203/EXEC). Returns a new string or NULL. */
static char *exec_path(const char *file, char *const envp[])
{
	const char *path = DEFAULT_PATH, *p, *colon;
	char *s;

	if (strchr(file, '/'))
		return strdup(file);
	for (size_t i = 0; envp[i]; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			path = envp[i] + 5;
	for (p = path;; p = colon + 1) {
		colon = strchrnul(p, ':');
		if (colon > p && asprintf(&s, "%.*s/%s", (int)(colon - p), p,
		    file) >= 0) {
			if (s[0] == '/' && access(s, X_OK) == 0)
				return s;
			free(s);
		}
		if (!*colon)
			break;
	}
	return strdup(file);
}

/* Append one property (name, variant of type sig holding one basic). */
static int append_prop(sd_bus_message *m, const char *name, const char *sig,
    const void *value)
{
	int r = sd_bus_message_append(m, "s", name);

	if (r >= 0)
		r = sd_bus_message_open_container(m, 'v', sig);
	if (r >= 0)
		r = sd_bus_message_append_basic(m, sig[0], value);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	return r;
}

/* The StartTransientUnit call for job. Returns 0 or -errno. */
static int job_message(struct unit_job *job, char *const argv[],
    char *const envp[], uint64_t timeout_usec, sd_bus_message **ret)
{
	sd_bus_message *m = NULL;
	char desc[UNIT_NAME_MAX + 64];
	const char *exec = "exec", *no_coll = "inactive-or-failed",
	    *kill = "control-group", *journal = "journal";
	uint64_t grace = RBD_RUN_GRACE_USEC;
	int no = 0, r;

	snprintf(desc, sizeof(desc), "rollbackd deploy command %s", job->cmd);
	r = sd_bus_message_new_method_call(job->bus, &m, SD_DEST, SD_PATH,
	    SD_MANAGER, "StartTransientUnit");
	if (r >= 0)
		r = sd_bus_message_append(m, "ss", job->name, "fail");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "(sv)");
#define PROP(name, sig, value) \
	if (r >= 0 && (r = sd_bus_message_open_container(m, 'r', "sv")) >= 0 && \
	    (r = append_prop(m, name, sig, value)) >= 0) \
		r = sd_bus_message_close_container(m)
	PROP("Description", "s", desc);
	PROP("Type", "s", exec);
	PROP("RemainAfterExit", "b", &no);
	PROP("CollectMode", "s", no_coll);
	PROP("KillMode", "s", kill);
	PROP("StandardOutput", "s", journal);
	PROP("StandardError", "s", journal);
	/* systemd's stop at the timeout or at our shutdown: SIGTERM, then
	 * SIGKILL to the whole cgroup after the grace. */
	PROP("TimeoutStopUSec", "t", &grace);
	if (timeout_usec)
		PROP("RuntimeMaxUSec", "t", &timeout_usec);
#undef PROP
	/* ExecStart: a(sasb): path, argv, ignore failure. */
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'r', "sv");
	if (r >= 0)
		r = sd_bus_message_append(m, "s", "ExecStart");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'v', "a(sasb)");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "(sasb)");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'r', "sasb");
	if (r >= 0)
		r = sd_bus_message_append(m, "s", job->exec);
	if (r >= 0)
		r = sd_bus_message_append_strv(m, (char **)argv);
	if (r >= 0)
		r = sd_bus_message_append(m, "b", 0);
	for (int i = 0; i < 4 && r >= 0; i++)
		r = sd_bus_message_close_container(m);
	/* Environment: as, exactly what the daemon built. */
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'r', "sv");
	if (r >= 0)
		r = sd_bus_message_append(m, "s", "Environment");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'v', "as");
	if (r >= 0)
		r = sd_bus_message_append_strv(m, (char **)envp);
	for (int i = 0; i < 2 && r >= 0; i++)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_message_close_container(m);	/* a(sv) */
	if (r >= 0)
		r = sd_bus_message_append(m, "a(sa(sv))", 0);	/* no aux units */
	if (r < 0) {
		sd_bus_message_unref(m);
		return r;
	}
	*ret = m;
	return 0;
}

/* ---- the bus ---- */

/* The bus changed: down, every job on a connection that is not the
 * current one has lost it (the current one, if any, is newer: the bus
 * tells a drop before a reconnect). Up, nothing to redo: bus.c
 * subscribes again, and no job of the old connection is left. */
static void on_bus_change(void *arg, bool connected)
{
	struct rbd_unit_runner *u = arg;
	sd_bus *now = rbd_bus_get(u->bus);
	struct unit_job *job;

	(void)connected;
	TAILQ_FOREACH(job, &u->jobs, entry)
		if (job->bus != now)
			job_lose(job);
}

/* ---- the API ---- */

/* No job left after a shutdown: tell whoever asked, once. */
static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_unit_runner *u = arg;
	void (*cb)(void *) = u->done_cb;

	(void)fd;
	(void)what;
	u->done_cb = NULL;
	if (cb)
		cb(u->done_arg);
}

/* See runner_unit.h. */
int rbd_unit_runner_new(struct event_base *base, struct rbd_bus *bus,
    struct rbd_unit_runner **ret)
{
	struct rbd_unit_runner *u;

	if (!base || !bus)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->base = base;
	u->bus = bus;
	TAILQ_INIT(&u->jobs);
	u->idle_ev = event_new(base, -1, 0, on_idle, u);
	if (!u->idle_ev || rbd_bus_listen(bus, on_bus_change, u) < 0) {
		if (u->idle_ev)
			event_free(u->idle_ev);
		free(u);
		return -ENOMEM;
	}
	*ret = u;
	return 0;
}

/* See runner_unit.h. */
void rbd_unit_runner_free(struct rbd_unit_runner *u)
{
	struct unit_job *job;

	if (!u)
		return;
	rbd_bus_unlisten(u->bus, on_bus_change, u);
	while ((job = TAILQ_FIRST(&u->jobs))) {
		TAILQ_REMOVE(&u->jobs, job, entry);
		job_free(job);
	}
	if (u->idle_ev)
		event_free(u->idle_ev);
	free(u);
}

/* A job named for label, on bus, with its object path; no unit yet. */
static struct unit_job *job_new(struct rbd_unit_runner *u, sd_bus *bus,
    const char *label, char *const argv[], char *const envp[], rbd_run_cb cb,
    void *arg)
{
	struct unit_job *job = calloc(1, sizeof(*job));
	char esc[UNIT_LABEL_MAX + 8];
	sd_id128_t id;

	if (!job)
		return NULL;
	job->u = u;
	job->bus = sd_bus_ref(bus);
	job->cb = cb;
	job->arg = arg;
	/* Unique across restarts of the daemon: a unit of the last one may
	 * still run. */
	if (sd_id128_randomize(&id) < 0)
		id = SD_ID128_NULL;
	unit_escape(label ? label : "job", esc, sizeof(esc));
	snprintf(job->name, sizeof(job->name), "rollbackd-deploy-%s-%02x%02x%02x%02x%02x%02x.service",
	    esc, id.bytes[0], id.bytes[1], id.bytes[2], id.bytes[3],
	    id.bytes[4], id.bytes[5]);
	job->cmd = strdup(argv[0]);
	job->exec = exec_path(argv[0], envp);
	job->done_ev = event_new(u->base, -1, 0, on_done, job);
	if (!job->cmd || !job->exec || !job->done_ev ||
	    sd_bus_path_encode(SD_UNIT_PREFIX, job->name, &job->path) < 0) {
		job_free(job);
		return NULL;
	}
	return job;
}

/* See runner_unit.h. */
int rbd_unit_runner_start(struct rbd_unit_runner *u, const char *label,
    char *const argv[], char *const envp[], uint64_t timeout_usec,
    rbd_run_cb cb, void *arg)
{
	sd_bus_message *m = NULL;
	struct unit_job *job;
	sd_bus *bus;
	int r;

	if (!u || !argv || !argv[0] || !envp || !cb)
		return -EINVAL;
	if (u->stopping)
		return -ESHUTDOWN;
	bus = rbd_bus_get(u->bus);
	if (!bus)
		return -ENOTCONN;
	job = job_new(u, bus, label, argv, envp, cb, arg);
	if (!job)
		return -ENOMEM;
	job->timeout = timeout_usec;
	/* The match before the unit exists, so no signal of it is missed. */
	r = sd_bus_match_signal_async(bus, &job->match, SD_DEST, job->path,
	    "org.freedesktop.DBus.Properties", "PropertiesChanged",
	    on_properties, NULL, job);
	if (r >= 0)
		r = job_message(job, argv, envp, timeout_usec, &m);
	if (r >= 0)
		r = sd_bus_call_async(bus, &job->start_call, m, on_started, job, 0);
	sd_bus_message_unref(m);
	if (r < 0) {
		job_free(job);
		rbd_bus_kick(u->bus);
		/* A connection that is closing and not yet dropped. */
		return r == -ENOTCONN || r == -ECONNRESET ? -ENOTCONN : r;
	}
	job->started = rbd_mono_usec();
	TAILQ_INSERT_TAIL(&u->jobs, job, entry);
	u->n_jobs++;
	rbd_bus_kick(u->bus);
	return 0;
}

/* See runner_unit.h. */
void rbd_unit_runner_shutdown(struct rbd_unit_runner *u,
    void (*done_cb)(void *arg), void *arg)
{
	sd_bus *bus = rbd_bus_get(u->bus);
	struct unit_job *job;

	u->stopping = true;
	u->done_cb = done_cb;
	u->done_arg = arg;
	TAILQ_FOREACH(job, &u->jobs, entry) {
		if (job->done || job->stop_call)
			continue;
		if (job->bus != bus) {
			job_lose(job);	/* nobody left to ask */
			continue;
		}
		job->stop_asked = true;
		if (sd_bus_call_method_async(bus, &job->stop_call, SD_DEST,
		    SD_PATH, SD_MANAGER, "StopUnit", on_stopped, job, "ss",
		    job->name, "replace") < 0) {
			set_str(job->error, sizeof(job->error),
			    "could not ask systemd to stop it");
			job_finish(job);
		}
	}
	rbd_bus_kick(u->bus);
	if (u->n_jobs == 0)
		event_active(u->idle_ev, EV_TIMEOUT, 0);
}

/* See runner_unit.h. */
size_t rbd_unit_runner_running(const struct rbd_unit_runner *u)
{
	return u ? u->n_jobs : 0;
}
