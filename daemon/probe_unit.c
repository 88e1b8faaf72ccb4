/* Reading a systemd unit's state over the bus: see probe_unit.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-bus.h>

#include "clock.h"
#include "bus.h"
#include "duration.h"
#include "probe_http.h"
#include "probe_unit.h"

#define SD_DEST		"org.freedesktop.systemd1"
#define SD_PATH		"/org/freedesktop/systemd1"
#define SD_MANAGER	"org.freedesktop.systemd1.Manager"
#define SD_SERVICE	"org.freedesktop.systemd1.Service"
#define PROPS_IFACE	"org.freedesktop.DBus.Properties"
#define DETAIL_MAX	256

struct rbd_unit_reader {
	struct event_base *base;
	struct rbd_bus *bus;
	char *unit;
	bool is_service;		/* has NRestarts */
	uint64_t timeout;
	rbd_unit_reading_cb cb;
	void *arg;
	struct event *tick;		/* the next tick of sched */
	struct rbd_sched sched;		/* counted with the prober's probes */
	struct event *deliver;		/* the reading, from a fresh callback */
	sd_bus_slot *call;		/* the call in flight, or NULL */
	/* The reading being made, then delivered. */
	uint64_t started;
	int error;
	char detail[DETAIL_MAX];
	struct rbd_unit_props props;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* End the reading: with an error when err < 0 (detail a printf format),
 * delivered from a fresh loop callback. */
static void finish(struct rbd_unit_reader *u, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(struct rbd_unit_reader *u, int err, const char *fmt, ...)
{
	va_list ap;

	u->call = sd_bus_slot_unref(u->call);
	u->error = err;
	u->detail[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(u->detail, sizeof(u->detail), fmt, ap);
		va_end(ap);
	}
	event_active(u->deliver, EV_TIMEOUT, 0);
}

/* A method error reply as a failed reading; returns whether it was one. */
static bool reply_failed(struct rbd_unit_reader *u, sd_bus_message *m,
    const char *what)
{
	const sd_bus_error *e = sd_bus_message_get_error(m);

	if (!e)
		return false;
	finish(u, -EIO, "systemd did not answer %s for %s: %.150s", what,
	    u->unit, e->message ? e->message : e->name);
	return true;
}

static void set_str(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s ? s : "");
}

/* The reply to Get(Service, NRestarts). */
static int on_restarts(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct rbd_unit_reader *u = arg;
	uint32_t n;
	int r;

	(void)err;
	if (reply_failed(u, m, "NRestarts"))
		return 0;
	r = sd_bus_message_read(m, "v", "u", &n);
	if (r < 0) {
		finish(u, r, "unreadable NRestarts of %s: %s", u->unit,
		    strerror(-r));
		return 0;
	}
	u->props.has_restarts = true;
	u->props.n_restarts = n;
	finish(u, 0, NULL);
	return 0;
}

/* Ask for a service's NRestarts at its object path. */
static int ask_restarts(struct rbd_unit_reader *u, sd_bus *bus,
    const char *path)
{
	sd_bus_message *m = NULL;
	int r;

	r = sd_bus_message_new_method_call(bus, &m, SD_DEST, path,
	    PROPS_IFACE, "Get");
	if (r >= 0)
		r = sd_bus_message_append(m, "ss", SD_SERVICE, "NRestarts");
	if (r >= 0)
		r = sd_bus_call_async(bus, &u->call, m, on_restarts, u,
		    u->timeout);
	sd_bus_message_unref(m);
	return r;
}

/* The reply to ListUnitsByNames: one a(ssssssouso) entry, the unit. */
static int on_list(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct rbd_unit_reader *u = arg;
	const char *name, *desc, *load, *active, *sub, *following, *path;
	const char *job_type, *job_path;
	uint32_t job_id;
	int r;

	(void)err;
	u->call = sd_bus_slot_unref(u->call);
	if (reply_failed(u, m, "ListUnitsByNames"))
		return 0;
	r = sd_bus_message_enter_container(m, 'a', "(ssssssouso)");
	if (r > 0)
		r = sd_bus_message_read(m, "(ssssssouso)", &name, &desc, &load,
		    &active, &sub, &following, &path, &job_id, &job_type,
		    &job_path);
	if (r <= 0) {
		finish(u, r < 0 ? r : -ENOENT, "systemd did not list %s%s%s",
		    u->unit, r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
		return 0;
	}
	set_str(u->props.load_state, sizeof(u->props.load_state), load);
	set_str(u->props.active_state, sizeof(u->props.active_state), active);
	set_str(u->props.sub_state, sizeof(u->props.sub_state), sub);
	if (!u->is_service || strcmp(load, "loaded") != 0) {
		finish(u, 0, NULL);
		return 0;
	}
	r = ask_restarts(u, sd_bus_message_get_bus(m), path);
	if (r < 0)
		finish(u, r, "cannot ask for NRestarts of %s: %s", u->unit,
		    strerror(-r));
	return 0;
}

/* Start one reading. */
static void read_unit(struct rbd_unit_reader *u)
{
	sd_bus *bus = u->bus ? rbd_bus_get(u->bus) : NULL;
	sd_bus_message *m = NULL;
	int r;

	memset(&u->props, 0, sizeof(u->props));
	u->started = rbd_mono_usec();
	if (!bus) {
		finish(u, -ENOTCONN, "no system bus: %s", !u->bus ?
		    "rollbackd is not running on a system booted with systemd" :
		    *rbd_bus_error(u->bus) ? rbd_bus_error(u->bus) :
		    "not connected");
		return;
	}
	r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH,
	    SD_MANAGER, "ListUnitsByNames");
	if (r >= 0)
		r = sd_bus_message_append_strv(m, (char *[]){ u->unit, NULL });
	if (r >= 0)
		r = sd_bus_call_async(bus, &u->call, m, on_list, u, u->timeout);
	sd_bus_message_unref(m);
	if (r < 0) {
		finish(u, r, "cannot ask systemd for %s: %s", u->unit,
		    strerror(-r));
		return;
	}
	rbd_bus_kick(u->bus);
}

/* Re-arm the tick due in next usec. */
static int arm(struct rbd_unit_reader *u, uint64_t next)
{
	struct timeval tv = rbd_usec_tv(next);

	return event_add(u->tick, &tv);
}

/* Tell the owner about a tick that read nothing, from the tick's own
 * callback: nothing of u is touched after (the owner may free it). */
static void tick_unknown(struct rbd_unit_reader *u, uint64_t now,
    int error, const char *detail)
{
	struct rbd_unit_reading r = {
		.started = now,
		.error = error,
		.detail = detail,
	};

	u->cb(u->arg, &r);
}

/* The tick of the schedule: a reading, unless the last one is still
 * running (a skip, or the end of a call that overran its timeout) or the
 * tick is late. Those are counted in the prober's schedule like its own. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_unit_reader *u = arg;
	char d[RBD_DURATION_STR_MAX], detail[DETAIL_MAX];
	uint64_t now = rbd_mono_usec(), planned, next;
	bool undelivered = event_pending(u->deliver, EV_TIMEOUT, NULL);
	enum rbd_tick t;

	(void)fd;
	(void)what;
	t = rbd_sched_tick(&u->sched, now, u->call || undelivered, &planned,
	    &next, detail, sizeof(detail));
	if (arm(u, next) < 0) {
		tick_unknown(u, now, -ENOMEM, "unit check stopped: cannot arm "
		    "its timer");
		return;
	}
	if (undelivered)
		return;		/* the last reading is not delivered yet */
	/* sd-bus times a call out by itself; a call on a connection that
	 * was dropped and replaced may never end, so it is ended here. */
	if (u->call && now - u->started >= u->timeout) {
		finish(u, -ETIMEDOUT, "no answer from systemd about %s "
		    "within %s", u->unit,
		    rbd_duration_str(u->timeout, d, sizeof(d)));
		return;
	}
	if (t != RBD_TICK_ON_TIME) {
		tick_unknown(u, now, t == RBD_TICK_LATE ? -ETIME : -EBUSY, detail);
		return;
	}
	read_unit(u);
}

static void on_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_unit_reader *u = arg;
	struct rbd_unit_reading r = {
		.started = u->started,
		.error = u->error,
		.detail = u->detail,
		.props = u->error ? NULL : &u->props,
	};

	(void)fd;
	(void)what;
	rbd_sched_sample(&u->sched);
	u->cb(u->arg, &r);
}

int rbd_unit_reader_new(struct event_base *base, struct rbd_bus *bus,
    struct rbd_prober *prober, const char *unit, uint64_t interval_usec,
    uint64_t timeout_usec, rbd_unit_reading_cb cb, void *arg,
    struct rbd_unit_reader **ret)
{
	struct rbd_unit_reader *u;

	if (!base || !unit || !cb || !interval_usec || !timeout_usec)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->base = base;
	u->bus = bus;
	u->unit = strdup(unit);
	u->is_service = ends_with(unit, ".service");
	u->timeout = timeout_usec;
	u->cb = cb;
	u->arg = arg;
	u->tick = evtimer_new(base, on_tick, u);
	u->deliver = event_new(base, -1, 0, on_deliver, u);
	if (!u->unit || !u->tick || !u->deliver) {
		rbd_unit_reader_free(u);
		return -ENOMEM;
	}
	/* The first reading now: it sets the watch's restart base. The
	 * tick re-arms itself from the schedule. */
	rbd_sched_start(&u->sched, prober, interval_usec, rbd_mono_usec());
	event_active(u->tick, EV_TIMEOUT, 0);
	*ret = u;
	return 0;
}

void rbd_unit_reader_free(struct rbd_unit_reader *u)
{
	if (!u)
		return;
	rbd_sched_stop(&u->sched);
	sd_bus_slot_unref(u->call);
	if (u->tick)
		event_free(u->tick);
	if (u->deliver)
		event_free(u->deliver);
	free(u->unit);
	free(u);
}
