/* The action runner: runs a deploy command as a child of the daemon,
 * without a shell, on the event loop.
 *
 * fork (clone with CLONE_VM | CLONE_VFORK, as posix_spawn does) + execve
 * of an explicit argv (argv[0] without a '/' is looked up in
 * the PATH of the environment given), in a new session and process group,
 * stdin from /dev/null, stdout and stderr into one pipe read on the loop up
 * to RBD_RUN_OUTPUT_MAX bytes (the rest is counted and discarded), every
 * other inherited descriptor closed, signal dispositions and mask reset, an
 * environment built from scratch by the caller. A timeout sends SIGTERM to
 * the whole process group, then SIGKILL after the grace period. The child
 * is reaped with waitpid(WNOHANG) from a SIGCHLD handler on the loop.
 *
 * The process group belongs to the command: when the child exits (normally
 * or not), whatever is left in its group is SIGKILLed, the output still in
 * the pipe is read, and the job ends; grandchildren holding the pipe open
 * cannot delay it. A deploy command that starts a long-running service
 * must detach it from the group (systemctl, systemd-run, or setsid(1));
 * "server &" dies with the command. A process that left the group keeps
 * running; the job does not wait for it to close the pipe.
 *
 * PATH lookup follows execvp: each element of envp's PATH in order (an
 * empty element is the current directory), "/bin:/usr/bin" when envp has
 * no PATH; the daemon's own environment is never read.
 *
 * SIGCHLD: rbd_runner_new adds an evsignal event on base and unblocks
 * SIGCHLD in the calling thread (the loop's). It reaps only its own children, one waitpid(pid)
 * each, so other code may fork and reap its children too, but nothing
 * else may reap with waitpid(-1) (a job whose child was stolen ends with
 * "exit status lost"). libevent delivers a signal to one event_base per
 * process: keep signal events on this base. */
#ifndef RBD_RUNNER_H
#define RBD_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "watch.h"

struct event_base;
struct rbd_bus;
struct rbd_runner;
struct rbd_job;

#define RBD_RUN_OUTPUT_MAX	(64 * 1024)
#define RBD_RUN_GRACE_USEC	(5 * UINT64_C(1000000))

struct rbd_run_result {
	enum rbd_deploy_result result;	/* ok, failed, timed out */
	int exit_status;		/* when exited normally, else -1 */
	int signal;			/* when killed by a signal, else 0 */
	/* "exited with status 0", "exited with status 2", "killed by signal
	 * 9 (SIGKILL)", "timed out after 5s (killed)", "could not run /x: No
	 * such file or directory" (then exit_status is 127) */
	const char *detail;
	const char *output;		/* captured stdout+stderr, NUL-terminated */
	size_t output_len;
	size_t output_dropped;		/* bytes past RBD_RUN_OUTPUT_MAX */
	uint64_t duration;		/* usec */
	int pid;
};

/* Called once per job on the loop, never from within a runner function,
 * after which the job is freed. r and its strings are valid only during
 * the call. The callback may start jobs, and may free the runner. A job
 * ended by rbd_runner_shutdown gets its real result ("killed by signal 15
 * (SIGTERM)"); result OK means exit status 0 only. */
typedef void (*rbd_run_cb)(void *arg, const struct rbd_run_result *r);

/* A runner on base; installs a SIGCHLD event (see above). NULL on
 * failure. */
struct rbd_runner *rbd_runner_new(struct event_base *base);
/* The grace between SIGTERM and SIGKILL when a job times out (default
 * RBD_RUN_GRACE_USEC). Applies to timeouts from now on; a shutdown uses its
 * own. */
void rbd_runner_set_grace(struct rbd_runner *r, uint64_t grace_usec);
/* Kills (SIGKILL to the group) and reaps nothing: call rbd_runner_shutdown
 * first for a clean stop. Frees jobs without calling their callbacks. */
void rbd_runner_free(struct rbd_runner *r);

/* Start argv (NULL-terminated) with envp (NULL-terminated; copied).
 * argv need not outlive the call. timeout_usec 0 means none. Returns 0
 * and the job in *ret (may be NULL when the caller does not need it), or a
 * negative errno, and then the callback is not called: -EINVAL (no argv[0],
 * no envp or no cb), -ESHUTDOWN (after rbd_runner_shutdown), fork or pipe
 * failures. An exec failure is reported through the callback as
 * RBD_DEPLOY_FAILED with the reason. */
int rbd_runner_start(struct rbd_runner *r, char *const argv[],
    char *const envp[], uint64_t timeout_usec, rbd_run_cb cb, void *arg,
    struct rbd_job **ret);

/* rbd_runner_start, for a job that label names (the service): under
 * rbd_runner_use_units, the unit is "rollbackd-deploy-<label>-<id>.service"
 * and *ret is set to NULL (there is no struct rbd_job then); while the bus
 * is down, the job is a child as without units, and *ret is set. */
int rbd_runner_start_labelled(struct rbd_runner *r, const char *label,
    char *const argv[], char *const envp[], uint64_t timeout_usec,
    rbd_run_cb cb, void *arg, struct rbd_job **ret);

/* From now on, run every job as a transient systemd unit (runner_unit.h)
 * over bus (which must outlive the runner) instead of a child. A job that
 * starts while the bus is down runs as a child, with a warning logged.
 * Returns 0, or -EINVAL (no bus), -ENOMEM, and then the runner forks as
 * before. */
int rbd_runner_use_units(struct rbd_runner *r, struct rbd_bus *bus);

/* Clean stop: SIGTERM every running job's group now, SIGKILL after grace
 * (or sooner, if a timeout's grace ends first); each job's callback is
 * called with its result, then done_cb, once, on the loop once no job is
 * left (at the next loop iteration if none). No job can start afterwards.
 * done_cb may free the runner. */
void rbd_runner_shutdown(struct rbd_runner *r, uint64_t grace_usec,
    void (*done_cb)(void *arg), void *arg);

/* Jobs running now. */
size_t rbd_runner_running(const struct rbd_runner *r);

#endif
