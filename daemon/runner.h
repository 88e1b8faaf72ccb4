/* The action runner: runs a deploy command as a child of the daemon,
 * without a shell, on the event loop.
 *
 * fork + execve of an explicit argv (argv[0] without a '/' is looked up in
 * the PATH of the environment given), in a new session and process group,
 * stdin from /dev/null, stdout and stderr into one pipe read on the loop up
 * to RBD_RUN_OUTPUT_MAX bytes (the rest is counted and discarded), every
 * other inherited descriptor closed, signal dispositions and mask reset, an
 * environment built from scratch by the caller. A timeout sends SIGTERM to
 * the whole process group, then SIGKILL after the grace period. The child
 * is reaped with waitpid(WNOHANG) from a SIGCHLD handler on the loop; the
 * job ends only when the child has exited AND its output pipe is closed or
 * the group has been killed, so grandchildren that keep the pipe open are
 * killed with the group on timeout. */
#ifndef RBD_RUNNER_H
#define RBD_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "watch.h"

struct event_base;
struct rbd_runner;
struct rbd_job;

#define RBD_RUN_OUTPUT_MAX	(64 * 1024)
#define RBD_RUN_GRACE_USEC	(5 * UINT64_C(1000000))

struct rbd_run_result {
	enum rbd_deploy_result result;	/* ok, failed, timed out */
	int exit_status;		/* when exited normally, else -1 */
	int signal;			/* when killed by a signal, else 0 */
	/* "exited with status 0", "exited with status 2", "killed by signal 9",
	 * "timed out after 5s (killed)", "could not run /x: No such file or
	 * directory" */
	const char *detail;
	const char *output;		/* captured stdout+stderr, NUL-terminated */
	size_t output_len;
	size_t output_dropped;		/* bytes past RBD_RUN_OUTPUT_MAX */
	uint64_t duration;		/* usec */
	int pid;
};

/* Called once per job on the loop, after which the job is freed. */
typedef void (*rbd_run_cb)(void *arg, const struct rbd_run_result *r);

/* A runner on base; installs a SIGCHLD event. NULL on failure. */
struct rbd_runner *rbd_runner_new(struct event_base *base);
/* Kills (SIGKILL to the group) and reaps nothing: call rbd_runner_shutdown
 * first for a clean stop. Frees jobs without calling their callbacks. */
void rbd_runner_free(struct rbd_runner *r);

/* Start argv (NULL-terminated) with envp (NULL-terminated; copied).
 * timeout_usec 0 means none. Returns 0 and the job in *ret (may be NULL
 * when the caller does not need it), or a negative errno (fork or pipe
 * failed: the callback is not called). An exec failure is reported through
 * the callback as RBD_DEPLOY_FAILED with the reason. */
int rbd_runner_start(struct rbd_runner *r, char *const argv[],
    char *const envp[], uint64_t timeout_usec, rbd_run_cb cb, void *arg,
    struct rbd_job **ret);

/* Clean stop: SIGTERM every running job's group now, SIGKILL after grace;
 * done_cb is called on the loop once no job is left (at once if none). */
void rbd_runner_shutdown(struct rbd_runner *r, uint64_t grace_usec,
    void (*done_cb)(void *arg), void *arg);

/* Jobs running now. */
size_t rbd_runner_running(const struct rbd_runner *r);

#endif
