/* The system bus on the event loop: one sd-bus connection shared by the
 * deploy runner (runner_unit.c) and the unit checks (checks.c), driven by
 * libevent, and reconnected when it drops.
 *
 * sd-bus inside libevent: one event on the bus fd, re-armed after every
 * round with what sd_bus_get_events and sd_bus_get_timeout ask for; a round
 * calls sd_bus_process until it has nothing left to do (64 times at most:
 * the rest comes after the loop's other events). Users make only
 * asynchronous calls (sd_bus_call_async, sd_bus_match_signal_async) on the
 * sd_bus that rbd_bus_get returns, then call rbd_bus_kick so the loop
 * sends them.
 *
 * Connection life: rbd_bus_new connects at once (to the system bus, or to
 * the address given, for tests) and calls Manager.Subscribe, so systemd
 * sends unit signals. When the connection drops (dbus-daemon restarted,
 * sd_bus_process fails, the fd hangs up), every listener is told
 * (connected = false) and the bus is retried after 1 s, then 2, 4, ... up
 * to 30 s between attempts, each failure logged once per change of reason.
 * On success every listener is told (connected = true) and must re-add
 * its matches: they belonged to the old connection. A failed first
 * connect is not an error for rbd_bus_new: the bus is retried the same way
 * (the daemon may start before dbus).
 *
 * Calls pending when the connection drops (or is reset) get their
 * callback, on the loop, with an error reply made up by sd-bus
 * (org.freedesktop.DBus.Error.NoReply, "Connection terminated"), before
 * the listeners are told; sd_bus_is_open(sd_bus_message_get_bus(m)) is
 * then false in the callback. A listener is told false before it is told
 * true again, so a drop is never missed even when the bus is back by the
 * time the loop tells it. */
#ifndef RBD_BUS_H
#define RBD_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct rbd_bus;
typedef struct sd_bus sd_bus;

/* Told of every change of the connection, from the loop, never from within
 * an rbd_bus function. */
typedef void (*rbd_bus_listener)(void *arg, bool connected);

/* A bus on base. address NULL: the system bus (sd_bus_open_system);
 * otherwise a D-Bus address ("unix:path=/tmp/x"), for tests, where
 * Subscribe is still called but its failure (no systemd there) is only
 * logged at debug level. Returns 0 and the bus in *ret, or -ENOMEM (a
 * bus that cannot be reached yet is retried, see above). */
int rbd_bus_new(struct event_base *base, const char *address,
    struct rbd_bus **ret);
/* Flush (bounded by sd-bus's own timeout) and close. NULL is fine.
 * Listeners are not called; not from a listener or a bus callback. */
void rbd_bus_free(struct rbd_bus *b);

/* The pause before the first retry and the most between two (default 1 s
 * and 30 s), for tests. Applies from the next attempt on; a min below
 * 1 ms is 1 ms, a max below min is min. */
void rbd_bus_set_retry(struct rbd_bus *b, uint64_t min_usec, uint64_t max_usec);

/* The connection, or NULL while there is none (or b is NULL). Valid
 * until the next return to the loop: do not keep it across callbacks.
 * Right after a (re)connect it may still be authenticating: calls made
 * then are queued and sent once it is ready. */
sd_bus *rbd_bus_get(struct rbd_bus *b);
/* Whether rbd_bus_get returns a connection. */
bool rbd_bus_connected(const struct rbd_bus *b);
/* Why there is no connection ("cannot connect to the system bus: No such
 * file or directory", "system bus connection lost: Connection reset by
 * peer"), or "" when connected. b NULL: "no bus". */
const char *rbd_bus_error(const struct rbd_bus *b);

/* After queuing calls outside a bus callback: let the loop send them. */
void rbd_bus_kick(struct rbd_bus *b);

/* Add or remove a listener (arg identifies it with fn). Returns 0 or
 * -ENOMEM. Removing one that is not there is a no-op; a listener may
 * remove itself, or another, from its callback. */
int rbd_bus_listen(struct rbd_bus *b, rbd_bus_listener fn, void *arg);
void rbd_bus_unlisten(struct rbd_bus *b, rbd_bus_listener fn, void *arg);

/* Drop the connection as if it had failed (tests, and a caller that saw
 * a fatal error on it): from now on rbd_bus_get returns NULL; on the loop,
 * pending calls fail, listeners are told, a reconnect is scheduled. why
 * says what happened ("system bus connection lost: <why>"). Fine from a
 * bus callback. No-op when not connected. */
void rbd_bus_reset(struct rbd_bus *b, const char *why);

#endif
