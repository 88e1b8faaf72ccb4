/* rollbackd: the daemon. Loads the configuration, opens the store, resumes
 * every service from it, and runs one event loop for the control socket,
 * probes, timers, deploy commands and signals.
 *
 * -t tests the configuration instead: every error as file:line:col:
 * message, like nginx -t. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "bus.h"
#include "control.h"
#include "daemon.h"
#include "diag.h"
#include "duration.h"
#include "log.h"
#include "notify.h"
#include "policy.h"
#include "probe_http.h"
#include "remedy_http.h"
#include "runner.h"
#include "runner_unit.h"
#include "store.h"

#define ERRBUF_MAX 512
/* How often the store learns that the daemon is alive and watching: a
 * crash loses at most this much watch time, which the watch then runs
 * longer (downtime is never counted as watched). */
#define HEARTBEAT_SEC 5
/* What each slow start-up step (the store, the services) may take past
 * the unit's TimeoutStartSec=: EXTEND_TIMEOUT_USEC=. A recovery that runs
 * longer than this, per step, gets the daemon killed as a failed start. */
#define STARTUP_STEP_USEC (60 * RBD_USEC_PER_SEC)

/* The listening socket systemd passed (socket activation), or -1. We own
 * it: rbd_control_free leaves it open, main closes it at exit. */
static int listen_fd = -1;

static void usage(FILE *out)
{
	fprintf(out,
	    "usage: rollbackd [-dt] [-c FILE]\n"
	    "  -c FILE  main configuration (default " RBD_DEFAULT_CONFIG ")\n"
	    "  -t       test the configuration and every policy, then exit\n"
	    "  -d       log per-sample detail (debug level)\n"
	    "  -h       this help\n");
}

/* Print every collected error, then how many were not kept. */
static void print_diag(const struct rbd_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "%s\n", d->msgs[i]);
	if (d->dropped)
		fprintf(stderr, "rollbackd: and %zu more errors\n", d->dropped);
}

/* Log every collected error. */
static void log_diag(const struct rbd_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		rbd_log(LOG_ERR, "%s", d->msgs[i]);
	if (d->dropped)
		rbd_log(LOG_ERR, "and %zu more errors", d->dropped);
}

/* Load path, printing every error; the summary counts checks. */
static int load_config(const char *path, struct rbd_config **ret)
{
	struct rbd_diag diag = { 0 };
	int r;

	r = rbd_config_load(path, ret, &diag);
	if (r < 0) {
		print_diag(&diag);
		if (!rbd_diag_count(&diag))
			fprintf(stderr, "%s: %s\n", path, strerror(-r));
		fprintf(stderr, "rollbackd: configuration %s has %zu error%s\n",
		    path, rbd_diag_count(&diag), rbd_diag_count(&diag) == 1 ? "" : "s");
	}
	rbd_diag_free(&diag);
	return r;
}

/* Checks in every policy of c. */
static size_t count_checks(const struct rbd_config *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_policies; i++)
		n += c->policies[i]->n_checks;
	return n;
}

static size_t count_guards(const struct rbd_config *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_policies; i++)
		n += c->policies[i]->n_guards;
	return n;
}

/* -t: exit 0 with a one-line summary when everything loads, 1 otherwise. */
static int test_config(const char *path)
{
	struct rbd_config *c = NULL;
	struct rbd_diag diag = { 0 };
	struct rbd_access access;
	size_t checks, guards;

	if (load_config(path, &c) < 0)
		return 1;
	if (rbd_access_resolve(c, &access, &diag) < 0) {
		print_diag(&diag);
		fprintf(stderr, "rollbackd: configuration %s has %zu error%s\n",
		    path, rbd_diag_count(&diag), rbd_diag_count(&diag) == 1 ? "" : "s");
		rbd_diag_free(&diag);
		rbd_config_free(c);
		return 1;
	}
	checks = count_checks(c);
	guards = count_guards(c);
	printf("rollbackd: configuration %s is ok: %zu polic%s, %zu check%s, "
	    "%zu guard%s\n", path, c->n_policies, c->n_policies == 1 ? "y" :
	    "ies", checks, checks == 1 ? "" : "s", guards,
	    guards == 1 ? "" : "s");
	rbd_config_free(c);
	return 0;
}

struct rbd_svc *daemon_find(const struct rbd_daemon *d, const char *name)
{
	size_t lo = 0, hi = d->n_svcs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, d->svcs[mid]->name);

		if (c == 0)
			return d->svcs[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Services for every policy of cfg, keeping those of d that are still
 * configured (their watches go on) and making new ones. The result is in
 * policy order, which is sorted by service name. */
static int build_services(struct rbd_daemon *d, const struct rbd_config *cfg,
    struct rbd_svc ***ret, size_t *ret_n)
{
	struct rbd_svc **svcs = calloc(cfg->n_policies + 1, sizeof(*svcs));

	if (!svcs)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_policies; i++) {
		const struct rbd_policy *p = cfg->policies[i];
		struct rbd_svc *s = daemon_find(d, p->service);
		int r = s ? svc_set_policy(s, p) : svc_new(d, p, &s);

		if (r < 0) {
			/* Only out of memory or an unreadable store gets here;
			 * the service is left out and says why in the log. */
			rbd_log(LOG_ERR, "%s: not watched: %s", p->service, strerror(-r));
			if (s)
				svc_retire(s);
			continue;
		}
		svcs[(*ret_n)++] = s;
	}
	*ret = svcs;
	return 0;
}

int daemon_reload(struct rbd_daemon *d, struct rbd_diag *diag)
{
	struct rbd_config *cfg = NULL, *old = d->config;
	struct rbd_svc **svcs = NULL;
	struct rbd_access access;
	size_t n = 0;
	int r;

	/* Both ways in (SIGHUP, rollbackctl reload) tell systemd, which
	 * shows the unit "reloading" until READY=1. */
	rbd_notify_reloading();
	r = rbd_config_load(d->config_path, &cfg, diag);
	/* The groups are looked up in the system: the daemon's part. */
	if (r == 0 && (r = rbd_access_resolve(cfg, &access, diag)) < 0)
		rbd_config_free(cfg);
	if (r < 0) {
		if (!rbd_diag_count(diag))
			rbd_diag_add(diag, d->config_path, 0, 0, "%s", strerror(-r));
		rbd_log(LOG_ERR, "reload rejected, the old configuration keeps running:");
		log_diag(diag);
		rbd_notify_reloaded(d, rbd_diag_count(diag), d->config_path,
		    diag->n ? diag->msgs[0] : NULL);
		return r;
	}
	if (strcmp(cfg->socket, old->socket) || strcmp(cfg->state_dir, old->state_dir))
		rbd_log(LOG_WARNING, "reload: socket and state_dir changes take "
		    "effect at the next restart");
	r = build_services(d, cfg, &svcs, &n);
	if (r < 0) {
		rbd_diag_add(diag, d->config_path, 0, 0, "%s", strerror(-r));
		rbd_config_free(cfg);
		rbd_notify_reloaded(d, rbd_diag_count(diag), d->config_path,
		    diag->n ? diag->msgs[0] : NULL);
		return r;
	}
	/* Services whose policy is gone. */
	for (size_t i = 0; i < d->n_svcs; i++)
		if (!rbd_config_find(cfg, d->svcs[i]->name)) {
			rbd_log(LOG_NOTICE, "%s: policy removed, no longer watched",
			    d->svcs[i]->name);
			svc_retire(d->svcs[i]);
		}
	free(d->svcs);
	d->svcs = svcs;
	d->n_svcs = n;
	d->config = cfg;
	rbd_config_free(old);
	if (d->control && (r = rbd_control_set_access(d->control, &access)) < 0)
		rbd_log(LOG_ERR, "%s: cannot set the control socket's mode: %s",
		    cfg->socket, strerror(-r));
	daemon_heartbeat_update(d);
	rbd_log(LOG_NOTICE, "configuration reloaded: %zu polic%s, %zu checks",
	    n, n == 1 ? "y" : "ies", count_checks(cfg));
	rbd_notify_reloaded(d, 0, NULL, NULL);
	return 0;
}

/* SIGHUP: reload, logging the outcome. */
static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct rbd_diag diag = { 0 };

	(void)sig;
	(void)what;
	rbd_log(LOG_NOTICE, "SIGHUP: reloading");
	daemon_reload(arg, &diag);
	rbd_diag_free(&diag);
}

/* Tell the store the daemon is alive, so a watch resumes after a crash
 * with the time it had left. */
static void heartbeat(struct rbd_daemon *d)
{
	char err[ERRBUF_MAX];

	if (rbd_store_heartbeat(d->store, rbd_now_wall(), err, sizeof(err)) < 0)
		rbd_log(LOG_ERR, "heartbeat: %s", err);
}

/* The heartbeat timer. */
static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	heartbeat(arg);
}

/* Whether any service has a window running: only then does a crash lose
 * watch time (rbd_store_heartbeat). */
static bool watching_any(const struct rbd_daemon *d)
{
	for (size_t i = 0; i < d->n_svcs; i++) {
		enum rbd_state st = d->svcs[i]->w->state;

		if (st == RBD_STATE_WATCHING || st == RBD_STATE_VERIFYING ||
		    st == RBD_STATE_REMEDYING ||	/* Remedies: probing too */
		    st == RBD_STATE_DRILLING)
			return true;
	}
	return false;
}

void daemon_heartbeat_update(struct rbd_daemon *d)
{
	static const struct timeval beat = { HEARTBEAT_SEC, 0 };
	bool on;

	if (!d->heartbeat)
		return;		/* not running yet: daemon_run decides */
	on = !d->stopping && watching_any(d);
	if (on == (event_pending(d->heartbeat, EV_TIMEOUT, NULL) != 0))
		return;
	/* The transition that starts or ends a window was just committed,
	 * which recorded the daemon alive: the first beat is due in a
	 * whole period. */
	if (!on)
		event_del(d->heartbeat);
	else if (event_add(d->heartbeat, &beat) < 0)
		rbd_log(LOG_ERR, "cannot arm the heartbeat timer: a crash may "
		    "count the time until the restart as watched");
}

/* The prober fell behind its schedule, still is, or caught up again: say
 * so in the log (and in STATUS= when it starts and ends). */
static void on_overload(void *arg, const struct rbd_overload_report *o)
{
	struct rbd_daemon *d = arg;
	char line[RBD_OVERLOAD_STR_MAX];

	rbd_log(o->kind == RBD_OVERLOAD_CALM ? LOG_NOTICE : LOG_WARNING, "%s",
	    rbd_overload_str(o, line, sizeof(line)));
	if (o->kind != RBD_OVERLOAD_ONGOING)
		rbd_notify_status(d);
}

/* Every deploy command has stopped: leave the loop. */
static void on_runner_done(void *arg)
{
	struct rbd_daemon *d = arg;

	event_base_loopexit(d->base, NULL);
}

/* SIGTERM, SIGINT: no new work, children get their grace period. Every
 * decision is already committed: commits are synchronous. */
static void on_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct rbd_daemon *d = arg;

	(void)what;
	if (d->stopping)
		return;
	rbd_log(LOG_NOTICE, "%s: stopping", strsignal(sig));
	rbd_notify_stopping();
	d->stopping = true;
	heartbeat(d);
	daemon_heartbeat_update(d);	/* stopped: the last beat was this one */
	rbd_control_free(d->control);
	d->control = NULL;
	for (size_t i = 0; i < d->n_svcs; i++)
		svc_quiesce(d->svcs[i]);
	rbd_runner_shutdown(d->runner, RBD_RUN_GRACE_USEC, on_runner_done, d);
}

/* Make directory dir if it is missing; what names it in messages. */
static int dir_ensure(const char *dir, mode_t mode, const char *what)
{
	if (mkdir(dir, mode) < 0 && errno != EEXIST) {
		int r = -errno;

		rbd_log(LOG_ERR, "%s: cannot create the %s: %s", dir, what,
		    strerror(-r));
		return r;
	}
	return 0;
}

/* Make the control socket's directory if it is missing: readable by all,
 * writable by us only (the control socket refuses anything laxer). */
static int socket_dir_ensure(const char *socket)
{
	char *dir = strdup(socket), *slash;
	int r = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		r = dir_ensure(dir, 0755, "socket directory");
	}
	free(dir);
	return r;
}

/* Socket activation: the one listening Unix stream socket systemd passed
 * in *ret_fd, or -1 when none was passed (we bind our own). Anything else
 * passed is a unit file mistake: an exit status. LISTEN_* are unset, so
 * deploy commands never see them. */
static int passed_socket(int *ret_fd)
{
	int n = sd_listen_fds(1), r;

	if (n < 0) {
		rbd_log(LOG_ERR, "socket activation: %s", strerror(-n));
		return EX_OSERR;
	}
	if (n == 0) {
		*ret_fd = -1;
		return 0;
	}
	if (n > 1) {
		rbd_log(LOG_ERR, "socket activation: %d sockets passed, expected "
		    "one (ListenStream= for the control socket only)", n);
		return EX_CONFIG;
	}
	r = sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0);
	if (r <= 0) {
		rbd_log(LOG_ERR, "socket activation: the passed socket is not a "
		    "listening Unix stream socket%s%s", r < 0 ? ": " : "",
		    r < 0 ? strerror(-r) : "");
		return EX_CONFIG;
	}
	*ret_fd = SD_LISTEN_FDS_START;
	return 0;
}

/* The system bus, when there is one to talk to: deploy commands run as
 * transient units over it (under systemd), unit checks ask it. With
 * $ROLLBACKD_BUS_ADDRESS, that bus instead (tests: a private dbus-daemon).
 * Neither: d->bus stays NULL. The bus connects on its own, now or later.
 * Returns 0 or -ENOMEM. */
static int bus_start(struct rbd_daemon *d)
{
	const char *address = getenv("ROLLBACKD_BUS_ADDRESS");
	bool units = rbd_unit_wanted();
	int r;

	if (address && !*address)
		address = NULL;
	if (!address && !units && sd_booted() <= 0)
		return 0;
	r = rbd_bus_new(d->base, address, &d->bus);
	if (r < 0)
		return r;
	/* Under systemd, deploy commands run as transient units, outside our
	 * sandbox; while the bus is down, as our children (inside it). */
	if (!units)
		return 0;
	r = rbd_runner_use_units(d->runner, d->bus);
	if (r < 0)
		return r;
	if (rbd_bus_connected(d->bus))
		rbd_log(LOG_INFO, "deploy commands run as transient systemd units");
	else
		rbd_log(LOG_WARNING, "deploy commands run as children of the "
		    "daemon until the system bus can be reached");
	return 0;
}

/* Descriptors enough for RBD_CONTROL_CLIENTS_MAX control clients beside
 * the probes: systemd's default soft limit is 1024 (for select(), which
 * nothing here uses); the hard limit allows more. */
#define NOFILE_WANT 4096

static void nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= NOFILE_WANT)
		return;
	rl.rlim_cur = rl.rlim_max < NOFILE_WANT ? rl.rlim_max : NOFILE_WANT;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		rbd_log(LOG_WARNING, "cannot raise the descriptor limit to %ju: %s",
		    (uintmax_t)rl.rlim_cur, strerror(errno));
}

/* Everything but the loop. Returns 0 or an exit status. */
static int daemon_start(struct rbd_daemon *d)
{
	struct rbd_diag diag = { 0 };
	struct rbd_access access;
	char err[ERRBUF_MAX];
	size_t n = 0;
	int r;

	/* First: a wrong socket from the unit file must stop us before any
	 * interrupted rollback is resumed. */
	r = passed_socket(&listen_fd);
	if (r != 0)
		return r;
	nofile_raise();
	if (load_config(d->config_path, &d->config) < 0)
		return EX_CONFIG;
	if (rbd_access_resolve(d->config, &access, &diag) < 0) {
		log_diag(&diag);
		rbd_diag_free(&diag);
		return EX_CONFIG;
	}
	if (dir_ensure(d->config->state_dir, 0750, "state directory") < 0)
		return EX_CANTCREAT;
	/* quick_check and migrations: long on a big or damaged store. */
	rbd_notify_extend(STARTUP_STEP_USEC);
	if (rbd_store_open(d->config->state_dir, &d->store, err, sizeof(err)) < 0) {
		rbd_log(LOG_ERR, "cannot open the store: %s", err);
		return EX_CANTCREAT;
	}
	d->base = event_base_new();
	d->prober = d->base ? rbd_prober_new(d->base) : NULL;
	d->runner = d->base ? rbd_runner_new(d->base) : NULL;
	d->remedy_http = d->base ? rbd_remedy_http_new(d->base) : NULL;
	if (!d->prober || !d->runner || !d->remedy_http) {
		rbd_log(LOG_ERR, "cannot set up the event loop");
		return EX_OSERR;
	}
	rbd_prober_on_overload(d->prober, on_overload, d);
	if (bus_start(d) < 0) {
		rbd_log(LOG_ERR, "cannot set up the system bus connection");
		return EX_OSERR;
	}
	/* Resuming may run an interrupted rollback's deploy command again. */
	rbd_notify_extend(STARTUP_STEP_USEC);
	if (build_services(d, d->config, &d->svcs, &n) < 0)
		return EX_OSERR;
	d->n_svcs = n;
	if (listen_fd < 0 && socket_dir_ensure(d->config->socket) < 0)
		return EX_CANTCREAT;
	if (rbd_control_new(d->base, d->config->socket, listen_fd,
	    daemon_on_request, d, &d->control, err, sizeof(err)) < 0) {
		rbd_log(LOG_ERR, "%s", err);
		return EX_CANTCREAT;
	}
	if ((r = rbd_control_set_access(d->control, &access)) < 0) {
		rbd_log(LOG_ERR, "%s: %s", d->config->socket, strerror(-r));
		return EX_CANTCREAT;
	}
	rbd_log(LOG_NOTICE, "watching %zu service%s, %zu checks; control socket %s%s",
	    n, n == 1 ? "" : "s", count_checks(d->config), d->config->socket,
	    listen_fd >= 0 ? " (passed by the service manager)" : "");
	return 0;
}

/* Free everything, in the reverse order of daemon_start. */
static void daemon_stop(struct rbd_daemon *d)
{
	for (size_t i = 0; i < d->n_svcs; i++)
		svc_free(d->svcs[i]);
	free(d->svcs);
	rbd_control_free(d->control);
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
	rbd_notify_watchdog_stop();
	if (d->heartbeat)
		event_free(d->heartbeat);
	d->heartbeat = NULL;
	rbd_runner_free(d->runner);
	rbd_remedy_http_free(d->remedy_http);
	/* After everything that listens to it or holds its calls. */
	rbd_bus_free(d->bus);
	rbd_prober_free(d->prober);
	rbd_store_free(d->store);
	rbd_config_free(d->config);
	if (d->base)
		event_base_free(d->base);
}

/* Run the loop with its signal handlers until a clean stop. */
static int daemon_run(struct rbd_daemon *d)
{
	struct event *ev[3];
	int sigs[3] = { SIGHUP, SIGTERM, SIGINT };
	int r;

	/* Nothing else runs on a timer while no service is watched (probes
	 * of idle services only for baselines and guards): an idle daemon
	 * sleeps until a request, a signal or the watchdog wakes it. */
	d->heartbeat = event_new(d->base, -1, EV_PERSIST, on_heartbeat, d);
	if (!d->heartbeat) {
		rbd_log(LOG_ERR, "cannot set up the heartbeat timer");
		return EX_OSERR;
	}
	daemon_heartbeat_update(d);
	ev[0] = evsignal_new(d->base, SIGHUP, on_sighup, d);
	ev[1] = evsignal_new(d->base, SIGTERM, on_sigterm, d);
	ev[2] = evsignal_new(d->base, SIGINT, on_sigterm, d);
	for (int i = 0; i < 3; i++)
		if (!ev[i] || evsignal_add(ev[i], NULL) < 0) {
			rbd_log(LOG_ERR, "cannot handle signal %d", sigs[i]);
			return EX_OSERR;
		}
	if (rbd_notify_watchdog_start(d) < 0) {
		rbd_log(LOG_ERR, "cannot set up the watchdog timer");
		return EX_OSERR;
	}
	/* Config loaded, store open, every service resumed, the control
	 * socket listening, signals handled: ready. */
	rbd_notify_ready(d);
	r = event_base_dispatch(d->base);
	for (int i = 0; i < 3; i++)
		event_free(ev[i]);
	rbd_log(LOG_NOTICE, "stopped");
	return r < 0 ? EX_SOFTWARE : 0;
}

int main(int argc, char **argv)
{
	struct rbd_daemon d = { 0 };
	const char *config = RBD_DEFAULT_CONFIG;
	int test = 0, ch, r;

	while ((ch = getopt(argc, argv, "c:dth")) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			rbd_log_set_level(LOG_DEBUG);
			break;
		case 't':
			test = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (test)
		return test_config(config);
	rbd_log_init();
	/* A client that hangs up must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	d.config_path = (char *)config;
	r = daemon_start(&d);
	if (r == 0)
		r = daemon_run(&d);
	daemon_stop(&d);
	return r;
}
