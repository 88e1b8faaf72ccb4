/* The release-directory deployer: see deploy_dir.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-bus.h>

#include "bus.h"
#include "clock.h"
#include "deploy_dir.h"
#include "duration.h"
#include "policy.h"
#include "reldir.h"

#define SD_DEST		"org.freedesktop.systemd1"
#define SD_PATH		"/org/freedesktop/systemd1"
#define SD_MANAGER	"org.freedesktop.systemd1.Manager"
#define DETAIL_MAX	512
#define JOB_PATH_MAX	256

struct rbd_deploy_dir {
	struct event_base *base;
	struct rbd_bus *bus;		/* theirs; NULL without one */
	rbd_run_cb cb;
	void *arg;
	char unit[RBD_UNIT_NAME_MAX + 1];	/* "" with a restart command */
	uint64_t started, timeout;	/* usec, monotonic; timeout 0: none */
	struct event *done_ev;		/* the completion, from the loop */
	struct event *timeout_ev;	/* unit restarts only */
	sd_bus_slot *match, *call;	/* JobRemoved, RestartUnit */
	bool listening;			/* to the bus's changes */
	bool command_running;		/* the runner holds us as its arg */
	bool abandoned;			/* freed by its owner meanwhile */
	bool done;
	/* The RestartUnit job, and the last JobRemoved seen for the unit
	 * before its path was known. */
	char job[JOB_PATH_MAX];
	char seen_job[JOB_PATH_MAX], seen_result[32];
	struct rbd_run_result res;
	char switched[DETAIL_MAX];	/* "current -> /x/v2" */
	char detail[DETAIL_MAX * 2 + 8];
	char *output;			/* the restart command's, copied */
};

/* ---- the switch (synchronous, a few system calls) ---- */

/* A nonce for the temporary link: two daemons (or a stale link of a
 * crash) must not collide; a stale one is removed first anyway. */
static uint64_t tmp_nonce(void)
{
	static uint64_t counter;

	return ((uint64_t)getpid() << 40) ^ (rbd_mono_usec() << 8) ^ ++counter;
}

int rbd_deploy_dir_artifact(const char *releases, const char *version,
    char *why, size_t whylen)
{
	char target[RBD_RELDIR_BUF];
	struct stat st;
	int r = rbd_reldir_target(releases, version, target, sizeof(target));

	if (r < 0) {
		snprintf(why, whylen, "%s/%s: %s", releases, version,
		    r == -EINVAL ? "not a valid release name" : strerror(-r));
		return r;
	}
	if (stat(target, &st) < 0) {
		r = -errno;
		snprintf(why, whylen, "%s %s", target, r == -ENOENT ?
		    "does not exist" : strerror(-r));
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s is not a directory", target);
		return -ENOTDIR;
	}
	return 0;
}

int rbd_deploy_dir_current(const char *releases, const char *current,
    char *ret)
{
	char text[RBD_RELDIR_BUF];
	ssize_t n = readlink(current, text, sizeof(text) - 1);

	if (n < 0)
		return -errno;
	text[n] = '\0';
	return rbd_reldir_link_version(releases, current, text, ret);
}

/* fsync the directory that holds path, so that a rename in it is on
 * disk. Returns 0 or -errno. */
static int sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[RBD_RELDIR_BUF];
	int fd, r = 0;

	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path),
	    path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int rbd_deploy_dir_switch(const char *releases, const char *current,
    const char *version, char *why, size_t whylen)
{
	char target[RBD_RELDIR_BUF], tmp[RBD_RELDIR_BUF];
	struct stat st;
	int r;

	r = rbd_deploy_dir_artifact(releases, version, why, whylen);
	if (r < 0) {
		char sentence[DETAIL_MAX];

		snprintf(sentence, sizeof(sentence), "release directory %s", why);
		snprintf(why, whylen, "%s", sentence);
		return r;
	}
	rbd_reldir_target(releases, version, target, sizeof(target));
	/* rename() would refuse to replace a directory anyway (EISDIR);
	 * say what to do about it. */
	if (lstat(current, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "current %s is a directory, not a symlink: "
		    "move it away once", current);
		return -EISDIR;
	}
	r = rbd_reldir_tmp_link(current, tmp_nonce(), tmp, sizeof(tmp));
	if (r < 0) {
		snprintf(why, whylen, "current %s: %s", current, strerror(-r));
		return r;
	}
	if (unlink(tmp) < 0 && errno != ENOENT) {
		r = -errno;
		snprintf(why, whylen, "cannot remove %s: %s", tmp, strerror(-r));
		return r;
	}
	if (symlink(target, tmp) < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot create %s: %s", tmp, strerror(-r));
		return r;
	}
	if (rename(tmp, current) < 0) {
		r = -errno;
		unlink(tmp);
		snprintf(why, whylen, "cannot rename %s to %s: %s", tmp, current,
		    strerror(-r));
		return r;
	}
	r = sync_parent(current);
	if (r < 0) {
		snprintf(why, whylen, "current -> %s, but the directory could "
		    "not be synced: %s", target, strerror(-r));
		return r;
	}
	snprintf(why, whylen, "current -> %s", target);
	return 0;
}

/* ---- the job ---- */

static void on_bus_change(void *arg, bool connected);

/* Free dd and all it holds. */
static void dd_free(struct rbd_deploy_dir *dd)
{
	if (!dd)
		return;
	if (dd->listening)
		rbd_bus_unlisten(dd->bus, on_bus_change, dd);
	sd_bus_slot_unref(dd->match);
	sd_bus_slot_unref(dd->call);
	if (dd->done_ev)
		event_free(dd->done_ev);
	if (dd->timeout_ev)
		event_free(dd->timeout_ev);
	free(dd->output);
	free(dd);
}

/* The job ends with result: from a fresh loop callback. */
static void dd_finish(struct rbd_deploy_dir *dd, enum rbd_deploy_result result,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void dd_finish(struct rbd_deploy_dir *dd, enum rbd_deploy_result result,
    const char *fmt, ...)
{
	char what[DETAIL_MAX];
	va_list ap;

	if (dd->done)
		return;
	dd->done = true;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (*dd->switched && *what)
		snprintf(dd->detail, sizeof(dd->detail), "%s; %s", dd->switched,
		    what);
	else
		snprintf(dd->detail, sizeof(dd->detail), "%s", *what ? what :
		    dd->switched);
	dd->res.result = result;
	dd->res.detail = dd->detail;
	if (!dd->res.output)
		dd->res.output = "";
	if (dd->res.exit_status == 0 && result != RBD_DEPLOY_OK)
		dd->res.exit_status = -1;
	dd->res.duration = rbd_mono_usec() - dd->started;
	if (dd->timeout_ev)
		evtimer_del(dd->timeout_ev);
	dd->match = sd_bus_slot_unref(dd->match);
	dd->call = sd_bus_slot_unref(dd->call);
	event_active(dd->done_ev, EV_TIMEOUT, 0);
}

/* Call back, then free: nothing of dd is touched after the callback. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_deploy_dir *dd = arg;

	(void)fd;
	(void)what;
	dd->cb(dd->arg, &dd->res);
	dd_free(dd);
}

/* The restart command ended: its result is the deploy's. */
static void on_command_done(void *arg, const struct rbd_run_result *r)
{
	struct rbd_deploy_dir *dd = arg;

	dd->command_running = false;
	if (dd->abandoned) {
		dd_free(dd);
		return;
	}
	dd->output = strdup(r->output ? r->output : "");
	dd->res.output = dd->output;
	dd->res.output_len = dd->output ? strlen(dd->output) : 0;
	dd->res.output_dropped = r->output_dropped;
	dd->res.exit_status = r->exit_status;
	dd->res.signal = r->signal;
	dd->res.pid = r->pid;
	dd_finish(dd, r->result, "restart_command %s", r->detail);
}

/* JobRemoved(u id, o job, s unit, s result): our restart's end. */
static int on_job_removed(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct rbd_deploy_dir *dd = arg;
	const char *job, *unit, *result;
	uint32_t id;

	(void)err;
	if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0 ||
	    strcmp(unit, dd->unit) != 0)
		return 0;
	if (!*dd->job) {
		/* Before RestartUnit's reply: remember it for then. */
		snprintf(dd->seen_job, sizeof(dd->seen_job), "%s", job);
		snprintf(dd->seen_result, sizeof(dd->seen_result), "%s", result);
		return 0;
	}
	if (strcmp(job, dd->job) != 0)
		return 0;
	if (strcmp(result, "done") == 0)
		dd_finish(dd, RBD_DEPLOY_OK, "%s restarted", dd->unit);
	else
		dd_finish(dd, RBD_DEPLOY_FAILED, "restart of %s failed: job "
		    "result '%s' (journalctl -u %s)", dd->unit, result, dd->unit);
	return 0;
}

/* RestartUnit's reply: the job's path, or a refusal. */
static int on_restart_reply(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct rbd_deploy_dir *dd = arg;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	const char *job;

	(void)err;
	dd->call = sd_bus_slot_unref(dd->call);
	if (e) {
		dd_finish(dd, RBD_DEPLOY_FAILED, "cannot restart %s: %s", dd->unit,
		    e->message ? e->message : e->name);
		return 0;
	}
	if (sd_bus_message_read(m, "o", &job) < 0) {
		dd_finish(dd, RBD_DEPLOY_FAILED, "cannot restart %s: bad reply "
		    "from systemd", dd->unit);
		return 0;
	}
	snprintf(dd->job, sizeof(dd->job), "%s", job);
	if (*dd->seen_job && strcmp(dd->seen_job, dd->job) == 0)
		dd_finish(dd, strcmp(dd->seen_result, "done") == 0 ?
		    RBD_DEPLOY_OK : RBD_DEPLOY_FAILED, "%s restart: job result "
		    "'%s'", dd->unit, dd->seen_result);
	return 0;
}

/* The bus dropped: the job's signal is gone with it. */
static void on_bus_change(void *arg, bool connected)
{
	struct rbd_deploy_dir *dd = arg;

	if (!connected)
		dd_finish(dd, RBD_DEPLOY_FAILED, "the system bus connection was "
		    "lost while %s restarted; its result is unknown: "
		    "systemctl status %s", dd->unit, dd->unit);
}

/* The deploy's timeout, while the unit restarts. */
static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_deploy_dir *dd = arg;
	char d[RBD_DURATION_STR_MAX];

	(void)fd;
	(void)what;
	dd_finish(dd, RBD_DEPLOY_TIMED_OUT, "timed out after %s waiting for %s "
	    "to restart", rbd_duration_str(dd->timeout, d, sizeof(d)), dd->unit);
}

/* Ask systemd to restart the unit, listening for the job's end first. */
static void restart_unit(struct rbd_deploy_dir *dd)
{
	sd_bus *bus = rbd_bus_get(dd->bus);
	struct timeval tv = rbd_usec_tv(dd->timeout);
	int r;

	if (!bus) {
		dd_finish(dd, RBD_DEPLOY_FAILED, "cannot restart %s: %s", dd->unit,
		    dd->bus ? rbd_bus_error(dd->bus) : "no system bus");
		return;
	}
	r = sd_bus_match_signal_async(bus, &dd->match, SD_DEST, SD_PATH,
	    SD_MANAGER, "JobRemoved", on_job_removed, NULL, dd);
	if (r >= 0)
		r = sd_bus_call_method_async(bus, &dd->call, SD_DEST, SD_PATH,
		    SD_MANAGER, "RestartUnit", on_restart_reply, dd, "ss",
		    dd->unit, "replace");
	if (r >= 0 && rbd_bus_listen(dd->bus, on_bus_change, dd) >= 0)
		dd->listening = true;
	else if (r >= 0)
		r = -ENOMEM;
	rbd_bus_kick(dd->bus);
	if (r < 0) {
		dd_finish(dd, RBD_DEPLOY_FAILED, "cannot restart %s: %s", dd->unit,
		    strerror(-r));
		return;
	}
	if (dd->timeout)
		evtimer_add(dd->timeout_ev, &tv);
}

int rbd_deploy_dir_start(struct event_base *base, struct rbd_runner *runner,
    struct rbd_bus *bus, const struct rbd_policy *p, const char *label,
    const char *version, char *const restart_argv[], char *const envp[],
    rbd_run_cb cb, void *arg, struct rbd_deploy_dir **ret)
{
	struct rbd_deploy_dir *dd = calloc(1, sizeof(*dd));
	char why[DETAIL_MAX];
	int r;

	if (!dd)
		return -ENOMEM;
	dd->base = base;
	dd->bus = bus;
	dd->cb = cb;
	dd->arg = arg;
	dd->started = rbd_mono_usec();
	dd->timeout = p->deploy_timeout_usec;
	dd->res.exit_status = 0;
	dd->done_ev = event_new(base, -1, 0, on_done, dd);
	dd->timeout_ev = evtimer_new(base, on_timeout, dd);
	if (!dd->done_ev || !dd->timeout_ev) {
		dd_free(dd);
		return -ENOMEM;
	}
	snprintf(dd->unit, sizeof(dd->unit), "%s", p->deploy_restart_unit ?
	    p->deploy_restart_unit : "");
	*ret = dd;
	if (rbd_deploy_dir_switch(p->deploy_releases, p->deploy_current,
	    version, why, sizeof(why)) < 0) {
		dd_finish(dd, RBD_DEPLOY_FAILED, "%s", why);
		return 0;
	}
	snprintf(dd->switched, sizeof(dd->switched), "%s", why);
	if (!restart_argv) {
		restart_unit(dd);
		return 0;
	}
	r = rbd_runner_start_labelled(runner, label, restart_argv, envp,
	    dd->timeout, on_command_done, dd, NULL);
	if (r < 0)
		dd_finish(dd, RBD_DEPLOY_FAILED, "restart_command could not be "
		    "started: %s", strerror(-r));
	else
		dd->command_running = true;
	return 0;
}

void rbd_deploy_dir_free(struct rbd_deploy_dir *dd)
{
	if (!dd)
		return;
	if (dd->command_running) {
		/* The runner still holds dd: let its callback free it. */
		dd->abandoned = true;
		event_del(dd->done_ev);
		return;
	}
	dd_free(dd);
}
