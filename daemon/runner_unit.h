/* The deploy runner under systemd: each command runs as a transient
 * service unit started through sd-bus, what "systemd-run" does.
 *
 * Used when rollbackd itself runs as a systemd service (rbd_unit_wanted):
 * the command then runs outside the daemon's sandbox, as root, in a cgroup
 * of its own ("rollbackd-deploy-<service>-<id>.service", KillMode=
 * control-group), so that the end of the unit, or its timeout, kills
 * everything it started, even what left its process group. A long-running
 * service it starts must be handed to the service manager (systemctl
 * start, systemd-run): a "setsid server &" dies with the unit.
 *
 * The timeout is the unit's RuntimeMaxUSec=: systemd stops the unit
 * (SIGTERM, SIGKILL after RBD_RUN_GRACE_USEC), even when the daemon itself
 * has died or is restarting meanwhile. The completion is read from the
 * unit's PropertiesChanged signals (Manager.Subscribe, which bus.c makes
 * on every connection), never by a blocking call. The output goes to the
 * journal under the unit's name; the result's output is empty and its
 * detail says "output: journalctl -u <unit>".
 *
 * The system bus is bus.c's, shared. When it drops, the signals of every
 * running job are gone with it: each fails (RBD_DEPLOY_FAILED, "the system
 * bus connection was lost while unit X ran; its result is unknown:
 * journalctl -u X"), though its unit runs on to its end. While the bus is
 * down no job starts (-ENOTCONN); runner.c runs it as a child instead.
 *
 * Same contract as runner.h otherwise: the callback is called once per
 * job, on the loop, never from within a function of this file's API. */
#ifndef RBD_RUNNER_UNIT_H
#define RBD_RUNNER_UNIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runner.h"

struct event_base;
struct rbd_bus;
struct rbd_unit_runner;

/* Whether deploy commands should run as transient units: the daemon is a
 * systemd service (INVOCATION_ID, which systemd sets for every unit it
 * starts, is in its environment) on a system booted with systemd
 * (sd_booted() > 0). ROLLBACKD_RUNNER=fork in the daemon's environment
 * forces the fork/exec runner, =unit this one. */
bool rbd_unit_wanted(void);

/* A runner on bus, which it listens to (bus must outlive it). Whether the
 * bus is connected now does not matter. Returns 0 and the runner in *ret,
 * or -EINVAL (no base or bus), -ENOMEM. */
int rbd_unit_runner_new(struct event_base *base, struct rbd_bus *bus,
    struct rbd_unit_runner **ret);
/* Frees jobs without calling their callbacks; their units keep running
 * until their RuntimeMaxUSec=. NULL is fine. */
void rbd_unit_runner_free(struct rbd_unit_runner *u);

/* Start argv with envp (both copied) as a transient unit named for label
 * ("job" when NULL). timeout_usec 0 means none. Returns 0 or -errno (then
 * the callback is not called): -EINVAL, -ESHUTDOWN, -ENOMEM, -ENOTCONN
 * (the bus is down: nothing was asked of systemd), other bus errors.
 * Systemd's refusal comes through the callback as RBD_DEPLOY_FAILED. */
int rbd_unit_runner_start(struct rbd_unit_runner *u, const char *label,
    char *const argv[], char *const envp[], uint64_t timeout_usec,
    rbd_run_cb cb, void *arg);

/* Clean stop: StopUnit for every running job (systemd gives each the
 * grace the unit was started with; with the bus down, a job fails as
 * lost); each callback gets its result, then done_cb is called once from
 * the loop when none is left. */
void rbd_unit_runner_shutdown(struct rbd_unit_runner *u,
    void (*done_cb)(void *arg), void *arg);

/* Jobs whose callback has not been called yet. */
size_t rbd_unit_runner_running(const struct rbd_unit_runner *u);

#endif
