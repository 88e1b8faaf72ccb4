/* The release-directory deployer: "deploy version X" without a deploy
 * tool. The policy names releases, current and a way to restart
 * (lib/policy.h); deploying X
 *   1. refuses unless releases/X is a directory (a symlink to one is
 *      fine: the service sees what it points to);
 *   2. makes a symlink to releases/X under a temporary name in current's
 *      directory (lib/reldir.h) and rename()s it over current, so current
 *      always exists and names the old or the new release, never nothing;
 *      then fsyncs the directory, so the switch survives a crash;
 *   3. restarts the service: RestartUnit over sd-bus ("replace") and the
 *      job's result from the Manager's JobRemoved signal, or the policy's
 *      restart_command through the runner (a child, or a transient unit
 *      under systemd).
 * The whole deploy is one asynchronous job with the runner's result
 * (runner.h): OK, FAILED or TIMED_OUT after the policy's deploy timeout,
 * with a detail such as "current -> /srv/checkout/releases/v2.4.1;
 * checkout.service restarted" or "release directory
 * /srv/checkout/releases/v2.4.1 does not exist". Step 2 is a handful of
 * system calls on a local directory, made on the loop; step 3 never
 * blocks it.
 *
 * Under the packaged unit (ProtectSystem=strict) the daemon can write
 * current's directory only when a drop-in grants it (ReadWritePaths=). */
#ifndef RBD_DEPLOY_DIR_H
#define RBD_DEPLOY_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "runner.h"

struct event_base;
struct rbd_bus;
struct rbd_policy;
struct rbd_runner;
struct rbd_deploy_dir;

/* Re-point current to releases/version, atomically (step 2 alone).
 * Returns 0 and "current -> target" in why, or a negative errno and the
 * reason in why ("release directory /x/v2 does not exist", "current
 * /x/current is a directory, not a symlink: move it away once", "cannot
 * rename ... : Permission denied"). */
int rbd_deploy_dir_switch(const char *releases, const char *current,
    const char *version, char *why, size_t whylen);

/* Whether release version has its directory: 0, or a negative errno and
 * a sentence in why ("/x/v2 does not exist", "/x/v2 is not a
 * directory"). Follows symlinks, as a deploy would. */
int rbd_deploy_dir_artifact(const char *releases, const char *version,
    char *why, size_t whylen);

/* The release current points to into ret (RBD_VERSION_MAX + 1 bytes):
 * 0, -ENOENT (no current, or it names nothing under releases), or
 * another negative errno from readlink. */
int rbd_deploy_dir_current(const char *releases, const char *current,
    char *ret);

/* Deploy version under policy p (whose deploy_releases is set): steps 1
 * to 3 above. restart_argv is the policy's restart_command expanded
 * (NULL: restart the unit over bus, which may be NULL: then the restart
 * fails with "no system bus"); envp is the command's environment; both
 * are copied by the runner. label names the job (the service). cb is
 * called once, from the loop, never from within this call; the job is
 * freed after it returns. Returns 0 and the job in *ret, or -ENOMEM (the
 * callback is not called then). */
int rbd_deploy_dir_start(struct event_base *base, struct rbd_runner *runner,
    struct rbd_bus *bus, const struct rbd_policy *p, const char *label,
    const char *version, char *const restart_argv[], char *const envp[],
    rbd_run_cb cb, void *arg, struct rbd_deploy_dir **ret);

/* Forget a job without calling its callback (the service is going). A
 * restart command still running reports to nobody when it ends; a unit's
 * restart goes on in systemd. NULL is fine. */
void rbd_deploy_dir_free(struct rbd_deploy_dir *dd);

#endif
