/* The system bus on the event loop: see bus.h for the contract.
 *
 * Two states: connected (b->bus set, from a successful sd_bus_start on,
 * maybe still authenticating) and not (b->bus NULL, retry_ev pending).
 * A drop is seen after a round of sd_bus_process: it failed (in sd-bus, a
 * dead peer makes the bus "closing": pending calls get NoReply, then
 * "Disconnected", then every sd_bus_process fails with -ECONNRESET), or
 * the bus is no longer open. The old sd_bus is closed and unreferenced
 * there, from a loop callback, so a user's pointer from rbd_bus_get stays
 * valid for as long as the contract says. A reset goes the same way: the
 * socket is shut down (not closed: sd-bus owns it), so that sd-bus sees
 * the end of the stream and fails every pending call, on the loop, as it
 * does for a dead peer.
 *
 * Listeners are told from notify_ev, made active at every change, never
 * from inside an rbd_bus function: a listener may do anything (start a
 * deploy that falls back to a child, reset the bus) without running into
 * a half-changed bus. told_up is what they were told last; dropped
 * remembers a drop they have not heard of, so that a drop followed by a
 * reconnect before the loop came round is still told as false, then true.
 *
 * Backoff: retry_next doubles after every failed attempt, from retry_min
 * up to retry_max, and goes back to retry_min once a connection has been
 * answered (Hello's reply: sd_bus_is_ready), so a bus that accepts and then
 * hangs up at once is not hammered every second. The log says a failure
 * once per reason; the same reason again goes to the debug level. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-bus.h>

#include "clock.h"
#include "bus.h"
#include "duration.h"
#include "log.h"

#define SD_DEST		"org.freedesktop.systemd1"
#define SD_PATH		"/org/freedesktop/systemd1"
#define SD_MANAGER	"org.freedesktop.systemd1.Manager"
#define BUS_RETRY_MIN	(1 * RBD_USEC_PER_SEC)
#define BUS_RETRY_MAX	(30 * RBD_USEC_PER_SEC)
#define BUS_RETRY_FLOOR	RBD_USEC_PER_MSEC
/* sd_bus_process calls per loop callback: a busy bus must not starve the
 * probes and the control socket. The rest waits for the next round. */
#define BUS_ROUND_MAX	64
#define BUS_LABEL_MAX	160
#define BUS_ERROR_MAX	384

struct listener {
	rbd_bus_listener fn;		/* NULL: removed while dispatching */
	void *arg;
};

struct rbd_bus {
	struct event_base *base;
	char *address;			/* NULL: the system bus */
	char label[BUS_LABEL_MAX];	/* "system bus", "bus at unix:path=..." */
	sd_bus *bus;			/* NULL while not connected */
	sd_bus_slot *subscribe;		/* Manager.Subscribe in flight */
	struct event *io_ev;		/* the bus fd, or its timeout */
	struct event *retry_ev;		/* the next attempt */
	struct event *notify_ev;	/* tells the listeners */
	struct listener *listeners;
	size_t n_listeners, max_listeners;
	unsigned dispatching;		/* depth of listener calls */
	bool processing;		/* inside sd_bus_process */
	bool ready;			/* this connection was answered */
	bool ever_ready;		/* some connection was */
	bool told_up;			/* what the listeners heard last */
	bool dropped;			/* a drop they have not heard of */
	bool failing;			/* a failure was logged since ready */
	bool reset_pending;		/* rbd_bus_reset: closing, then dropped */
	uint64_t retry_min, retry_max, retry_next;
	char error[BUS_ERROR_MAX];	/* "" while connected */
	char logged[BUS_ERROR_MAX];	/* the reason logged last */
	char reset_why[BUS_ERROR_MAX];
};

static void bus_arm(struct rbd_bus *b);

/* "1 s", "30 s", "0.05 s": the pause before the next attempt. */
static const char *secs_str(uint64_t usec, char *buf, size_t len)
{
	if (usec % RBD_USEC_PER_SEC == 0)
		snprintf(buf, len, "%llu s",
		    (unsigned long long)(usec / RBD_USEC_PER_SEC));
	else
		snprintf(buf, len, "%g s", (double)usec / (double)RBD_USEC_PER_SEC);
	return buf;
}

/* ---- listeners ---- */

/* Tell every listener registered now; those added meanwhile heard
 * nothing they need (they can ask rbd_bus_connected). */
static void tell(struct rbd_bus *b, bool connected)
{
	size_t n = b->n_listeners, j = 0;

	b->dispatching++;
	for (size_t i = 0; i < n && i < b->n_listeners; i++) {
		struct listener l = b->listeners[i];

		if (l.fn)
			l.fn(l.arg, connected);
	}
	if (--b->dispatching > 0)
		return;
	/* Compact what was removed meanwhile. */
	for (size_t i = 0; i < b->n_listeners; i++)
		if (b->listeners[i].fn)
			b->listeners[j++] = b->listeners[i];
	b->n_listeners = j;
}

/* From the loop: tell the listeners what changed since they last heard. */
static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_bus *b = arg;
	bool down = b->told_up && (b->dropped || !b->bus);

	(void)fd;
	(void)what;
	b->dropped = false;
	if (down) {
		b->told_up = false;
		tell(b, false);
	}
	/* A listener told false may have reset nothing (no bus), but a
	 * listener told true may reset it: that comes round again. */
	if (!b->told_up && b->bus && !b->dropped) {
		b->told_up = true;
		tell(b, true);
	}
}

/* See bus.h. */
int rbd_bus_listen(struct rbd_bus *b, rbd_bus_listener fn, void *arg)
{
	struct listener *l;

	for (size_t i = 0; i < b->n_listeners; i++)
		if (b->listeners[i].fn == fn && b->listeners[i].arg == arg)
			return 0;
	if (b->n_listeners == b->max_listeners) {
		size_t max = b->max_listeners ? 2 * b->max_listeners : 4;

		l = realloc(b->listeners, max * sizeof(*l));
		if (!l)
			return -ENOMEM;
		b->listeners = l;
		b->max_listeners = max;
	}
	b->listeners[b->n_listeners++] = (struct listener){ fn, arg };
	return 0;
}

/* See bus.h. While listeners are being told, the entry is only emptied:
 * tell() compacts the array once it is done with it. */
void rbd_bus_unlisten(struct rbd_bus *b, rbd_bus_listener fn, void *arg)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_listeners; i++) {
		if (b->listeners[i].fn != fn || b->listeners[i].arg != arg)
			continue;
		if (b->dispatching) {
			b->listeners[i].fn = NULL;
			return;
		}
		memmove(&b->listeners[i], &b->listeners[i + 1],
		    (b->n_listeners - i - 1) * sizeof(*b->listeners));
		b->n_listeners--;
		return;
	}
}

/* ---- connecting ---- */

/* Log the failure in b->error, with when the next attempt comes: once per
 * reason, the same one again at the debug level only. */
static void log_failure(struct rbd_bus *b, int priority, uint64_t delay)
{
	char secs[32];

	if (strcmp(b->error, b->logged) == 0)
		priority = LOG_DEBUG;
	rbd_log(priority, "%s; retrying in %s", b->error,
	    secs_str(delay, secs, sizeof(secs)));
	snprintf(b->logged, sizeof(b->logged), "%s", b->error);
	b->failing = true;
}

/* Schedule the next attempt; returns how far away it is. */
static uint64_t retry_schedule(struct rbd_bus *b)
{
	uint64_t delay = b->retry_next;
	struct timeval tv = rbd_usec_tv(delay);

	b->retry_next = delay > b->retry_max / 2 ? b->retry_max : 2 * delay;
	evtimer_add(b->retry_ev, &tv);
	return delay;
}

/* Open and start a connection. Returns 0 and it in *ret, or -errno. */
static int bus_open(const struct rbd_bus *b, sd_bus **ret)
{
	sd_bus *bus = NULL;
	int r;

	if (!b->address)
		return sd_bus_open_system(ret);
	r = sd_bus_new(&bus);
	if (r >= 0)
		r = sd_bus_set_address(bus, b->address);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, 1);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0) {
		sd_bus_unref(bus);
		return r;
	}
	*ret = bus;
	return 0;
}

/* The reply to Manager.Subscribe: without it systemd sends no unit
 * signals, and deploy units would never be seen to end. */
static int on_subscribed(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct rbd_bus *b = arg;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	(void)err;
	b->subscribe = sd_bus_slot_unref(b->subscribe);
	/* A reply made up by a dying connection is the drop's to tell. */
	if (!e || sd_bus_is_open(sd_bus_message_get_bus(m)) <= 0)
		return 0;
	rbd_log(b->address ? LOG_DEBUG : LOG_WARNING, "%s: cannot subscribe to "
	    "systemd's signals (deploy units will not be seen to end): %s",
	    b->label, e->message ? e->message : e->name);
	return 0;
}

/* One attempt to connect. Returns 0, or -errno with the reason in
 * b->error. */
static int bus_connect(struct rbd_bus *b)
{
	sd_bus *bus = NULL;
	int r;

	r = bus_open(b, &bus);
	/* Signals of units are sent only to subscribers; the subscription
	 * belongs to the connection, so every new one makes its own. */
	if (r >= 0)
		r = sd_bus_call_method_async(bus, &b->subscribe, SD_DEST,
		    SD_PATH, SD_MANAGER, "Subscribe", on_subscribed, b, "");
	if (r < 0) {
		sd_bus_close_unref(bus);
		snprintf(b->error, sizeof(b->error), "cannot connect to the %s: %s",
		    b->label, strerror(-r));
		return r;
	}
	b->bus = bus;
	b->ready = false;
	b->error[0] = '\0';
	bus_arm(b);
	event_active(b->notify_ev, EV_TIMEOUT, 0);
	return 0;
}

/* The retry timer: try again, or schedule the next attempt. */
static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_bus *b = arg;

	(void)fd;
	(void)what;
	if (b->bus || bus_connect(b) >= 0)
		return;
	log_failure(b, LOG_ERR, retry_schedule(b));
}

/* Close the connection (not from inside sd_bus_process), note why, tell
 * the listeners from the loop, schedule a reconnect. A connection that
 * had been answered is "lost" (a warning, and the backoff starts over);
 * one that never was is a failed attempt like any other. */
static void bus_drop(struct rbd_bus *b, const char *why)
{
	bool was_ready = b->ready;
	uint64_t delay;

	if (!b->bus)
		return;
	event_del(b->io_ev);
	b->subscribe = sd_bus_slot_unref(b->subscribe);
	b->bus = sd_bus_close_unref(b->bus);
	b->ready = b->reset_pending = false;
	b->dropped = true;
	event_active(b->notify_ev, EV_TIMEOUT, 0);
	snprintf(b->error, sizeof(b->error), "%s connection lost: %.200s",
	    b->label, why);
	if (was_ready)
		b->retry_next = b->retry_min;
	delay = retry_schedule(b);
	if (was_ready) {
		b->logged[0] = '\0';
		log_failure(b, LOG_WARNING, delay);
	} else
		log_failure(b, LOG_ERR, delay);
}

/* The first answer on this connection: it works. */
static void bus_became_ready(struct rbd_bus *b)
{
	b->ready = true;
	b->retry_next = b->retry_min;
	if (b->failing)
		rbd_log(LOG_NOTICE, b->ever_ready ? "%s connection restored" :
		    "connected to the %s", b->label);
	b->ever_ready = true;
	b->failing = false;
	b->logged[0] = '\0';
}

/* ---- the bus on the loop ---- */

/* The bus fd is ready, or its timeout is due: process what there is (up
 * to BUS_ROUND_MAX messages), then re-arm, or drop a dead connection. */
static void on_bus(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_bus *b = arg;
	int r = 0, n = 0;

	(void)fd;
	(void)what;
	if (!b->bus)
		return;
	b->processing = true;
	while (n++ < BUS_ROUND_MAX && (r = sd_bus_process(b->bus, NULL)) > 0)
		;
	b->processing = false;
	if (r < 0 || (r == 0 && (b->reset_pending ||
	    sd_bus_is_open(b->bus) <= 0))) {
		bus_drop(b, b->reset_pending ? b->reset_why : r < 0 ?
		    strerror(-r) : "the connection was closed");
		return;
	}
	if (!b->ready && sd_bus_is_ready(b->bus) > 0)
		bus_became_ready(b);
	/* More to do (a busy bus, or a closing one failing its calls one by
	 * one): after the others' turn. */
	if (r > 0 && sd_bus_is_open(b->bus) <= 0) {
		event_assign(b->io_ev, b->base, -1, 0, on_bus, b);
		event_active(b->io_ev, EV_TIMEOUT, 0);
		return;
	}
	bus_arm(b);
	if (r > 0)
		event_active(b->io_ev, EV_TIMEOUT, 0);
}

/* Watch the bus fd for what sd-bus waits for, until its timeout. A bus
 * that cannot say (closed under us) gets a round at once, which finds
 * out and drops it. */
static void bus_arm(struct rbd_bus *b)
{
	int fd = sd_bus_get_fd(b->bus), events = sd_bus_get_events(b->bus);
	uint64_t until = UINT64_MAX, now;
	struct timeval tv;
	short flags = 0;

	event_del(b->io_ev);
	if (fd < 0 || events < 0) {
		event_assign(b->io_ev, b->base, -1, 0, on_bus, b);
		event_active(b->io_ev, EV_TIMEOUT, 0);
		return;
	}
	if (events & POLLIN)
		flags |= EV_READ;
	if (events & POLLOUT)
		flags |= EV_WRITE;
	event_assign(b->io_ev, b->base, fd, flags, on_bus, b);
	if (sd_bus_get_timeout(b->bus, &until) < 0 || until == UINT64_MAX) {
		event_add(b->io_ev, NULL);
		return;
	}
	now = rbd_mono_usec();
	tv = rbd_usec_tv(until > now ? until - now : 0);
	event_add(b->io_ev, &tv);
}

/* ---- the API ---- */

/* See bus.h. */
int rbd_bus_new(struct event_base *base, const char *address,
    struct rbd_bus **ret)
{
	struct rbd_bus *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->base = base;
	b->retry_min = b->retry_next = BUS_RETRY_MIN;
	b->retry_max = BUS_RETRY_MAX;
	if (address) {
		b->address = strdup(address);
		snprintf(b->label, sizeof(b->label), "bus at %.140s", address);
	} else
		snprintf(b->label, sizeof(b->label), "system bus");
	b->io_ev = event_new(base, -1, 0, on_bus, b);
	b->retry_ev = evtimer_new(base, on_retry, b);
	b->notify_ev = event_new(base, -1, 0, on_notify, b);
	if ((address && !b->address) || !b->io_ev || !b->retry_ev ||
	    !b->notify_ev) {
		rbd_bus_free(b);
		return -ENOMEM;
	}
	/* Connected at once, there is nobody to tell yet: told_up says so.
	 * Not connected, it is retried; the daemon may start before dbus. */
	if (bus_connect(b) >= 0)
		b->told_up = true;
	else
		log_failure(b, LOG_ERR, retry_schedule(b));
	*ret = b;
	return 0;
}

/* See bus.h. Only a connection that was answered is flushed: one still
 * authenticating would make sd_bus_flush wait for its Hello. */
void rbd_bus_free(struct rbd_bus *b)
{
	if (!b)
		return;
	b->subscribe = sd_bus_slot_unref(b->subscribe);
	if (b->bus && b->ready)
		sd_bus_flush_close_unref(b->bus);
	else
		sd_bus_close_unref(b->bus);
	if (b->io_ev)
		event_free(b->io_ev);
	if (b->retry_ev)
		event_free(b->retry_ev);
	if (b->notify_ev)
		event_free(b->notify_ev);
	free(b->listeners);
	free(b->address);
	free(b);
}

/* See bus.h. */
void rbd_bus_set_retry(struct rbd_bus *b, uint64_t min_usec, uint64_t max_usec)
{
	if (min_usec < BUS_RETRY_FLOOR)
		min_usec = BUS_RETRY_FLOOR;
	if (max_usec < min_usec)
		max_usec = min_usec;
	b->retry_min = min_usec;
	b->retry_max = max_usec;
	if (b->retry_next < min_usec)
		b->retry_next = min_usec;
	if (b->retry_next > max_usec)
		b->retry_next = max_usec;
	/* An attempt already scheduled further away comes sooner. */
	if (evtimer_pending(b->retry_ev, NULL)) {
		struct timeval tv = rbd_usec_tv(min_usec);

		evtimer_add(b->retry_ev, &tv);
	}
}

/* See bus.h. A connection being reset is no longer one to use. */
sd_bus *rbd_bus_get(struct rbd_bus *b)
{
	return b && !b->reset_pending ? b->bus : NULL;
}

/* See bus.h. */
bool rbd_bus_connected(const struct rbd_bus *b)
{
	return b && b->bus && !b->reset_pending;
}

/* See bus.h. */
const char *rbd_bus_error(const struct rbd_bus *b)
{
	return b ? b->error : "no bus";
}

/* See bus.h. Inside a round the re-arm comes at its end. */
void rbd_bus_kick(struct rbd_bus *b)
{
	if (b && b->bus && !b->processing && !b->reset_pending)
		bus_arm(b);
}

/* See bus.h. The bus is not closed here, under sd-bus's feet or the
 * caller's: its socket is shut down, and the next round (at once, or the
 * rest of this one) sees it end, fails the pending calls and drops it. */
void rbd_bus_reset(struct rbd_bus *b, const char *why)
{
	int fd;

	if (!b || !b->bus || b->reset_pending)
		return;
	snprintf(b->reset_why, sizeof(b->reset_why), "%s", why);
	snprintf(b->error, sizeof(b->error), "%s connection lost: %.200s",
	    b->label, b->reset_why);
	b->reset_pending = true;
	fd = sd_bus_get_fd(b->bus);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	if (b->processing)
		return;
	event_del(b->io_ev);
	event_assign(b->io_ev, b->base, -1, 0, on_bus, b);
	event_active(b->io_ev, EV_TIMEOUT, 0);
}
