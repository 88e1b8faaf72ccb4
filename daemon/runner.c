/* The action runner: see runner.h for the contract.
 *
 * A job's life: rbd_runner_start forks with every signal blocked (so that
 * no handler of ours, libevent's included, runs in the child before its
 * dispositions are reset), the child sets itself up and execs. The fork is
 * clone(CLONE_VM | CLONE_VFORK), as posix_spawn does it: the child runs on
 * a stack of its own in the daemon's memory, and the daemon waits until it
 * has exec'd or exited. A plain fork copies the page tables of the whole
 * daemon first: 0.35 ms at 15 MiB of RSS, 1.1 ms at 40 MiB on the
 * benchmark machine, all of it between a verdict and its rollback. The parent
 * watches three things on the loop: the output pipe, SIGCHLD, and the
 * timeout/grace timers. Once the child has exited and its output is
 * closed (or its group has been SIGKILLed), the job is "done" and its
 * completion runs from a fresh loop callback (done_ev), so the caller's
 * callback may start jobs, or free the runner, without pulling anything
 * from under a stack frame of ours. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

#include "clock.h"
#include "bus.h"
#include "duration.h"
#include "log.h"
#include "runner.h"
#include "runner_unit.h"

/* What execvp uses when the environment has no PATH. */
#define RUN_DEFAULT_PATH	"/bin:/usr/bin"
/* The exit status of a child that could not exec, as shells use it. */
#define RUN_EXEC_FAILED		127
/* Bytes read per call once the buffer is full (kept on the stack). */
#define RUN_SCRATCH		16384
/* Reads at completion: the group is dead, but a process that left it
 * (setsid) may still hold the pipe and write; do not follow it forever. */
#define RUN_DRAIN_READS		64
#define RUN_DETAIL_MAX		512
/* The child's stack between clone and exec: child_run needs little (no
 * allocation, a few syscall wrappers); posix_spawn's is smaller. */
#define RUN_CHILD_STACK		(256 * 1024)

struct rbd_job {
	struct rbd_runner *runner;
	TAILQ_ENTRY(rbd_job) entry;
	pid_t pid;			/* also its process group and session */
	char *name;			/* argv[0], for "could not run" */
	rbd_run_cb cb;
	void *arg;

	int out_fd;			/* stdout+stderr read end; -1 at EOF */
	int status_fd;			/* exec status read end */
	struct event *out_ev;
	struct event *timeout_ev;
	struct event *kill_ev;		/* SIGKILL at the end of the grace */
	struct event *done_ev;		/* the completion, from the loop */

	char *buf;			/* RBD_RUN_OUTPUT_MAX + 1 */
	size_t len, dropped;

	uint64_t started, ended, timeout, kill_at;	/* usec, monotonic */
	int code, status;		/* waitid's si_code and si_status */
	int exec_errno;			/* from the child, 0 when exec worked */
	int wait_errno;			/* waitid failed: exit status lost */
	bool exited, group_killed, timed_out, done;
	char detail[RUN_DETAIL_MAX];
};

struct rbd_runner {
	struct event_base *base;
	struct event *sigchld_ev;
	struct event *idle_ev;		/* calls done_cb on the loop */
	TAILQ_HEAD(, rbd_job) jobs;
	size_t n_jobs;
	uint64_t grace;
	bool stopping;
	struct rbd_unit_runner *units;	/* jobs as units, when set */
	struct rbd_bus *bus;		/* theirs */
	bool units_done;		/* units' shutdown is over */
	void (*done_cb)(void *arg);
	void *done_arg;
};

/* What the child needs, prepared before fork: after fork it calls only
 * async-signal-safe functions and allocates nothing. The child works on a
 * copy of its own: it shares the daemon's memory until exec, and changes
 * out_w and status_w. */
struct child_plan {
	char **paths;			/* where to try argv[0], NULL-terminated */
	char *const *argv;
	char *const *envp;
	int out_w, status_w;
	long max_fd;			/* for the close loop without close_range */
};

/* Close *fd if open and mark it closed. */
static void fd_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- the child, between fork and exec ---- */

/* Every disposition back to the default; the mask stays full until exec
 * is near, so no handler inherited from the daemon can run here. */
static void child_reset_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++) {
		/* An all-zero kernel sigaction is SIG_DFL with an empty mask,
		 * whatever the architecture's field order. */
		unsigned long kernel_dfl[4] = { 0 };

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		/* glibc refuses its own real-time signals (32, 33); an ignored
		 * disposition of theirs inherited by the daemon would survive
		 * exec, so reset them with the system call itself. */
		if (sigaction(sig, &sa, NULL) < 0 && errno == EINVAL)
			syscall(SYS_rt_sigaction, sig, kernel_dfl, NULL,
			    (size_t)8 /* the kernel's sigset: 64 bits */);
	}
}

/* Move fd above the standard ones (a daemon started with some of 0-2
 * closed gets its pipes there), keeping it close-on-exec. */
static int child_fd_above_stdio(int fd)
{
	return fd > STDERR_FILENO ? fd : fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
}

/* Close every descriptor from 3 up, but keep. */
static void child_close_others(int keep, long max_fd)
{
	if (keep > 3 && close_range(3, (unsigned)keep - 1, 0) < 0)
		goto loop;
	if (close_range((unsigned)keep + 1, ~0U, 0) < 0)
		goto loop;
	return;
loop:
	for (long fd = 3; fd < max_fd; fd++)
		if (fd != keep)
			close((int)fd);
}

/* stdin from /dev/null, stdout and stderr into the pipe, nothing else but
 * the status pipe. Returns 0 or an errno. */
static int child_setup_fds(struct child_plan *p)
{
	int null_fd;

	p->out_w = child_fd_above_stdio(p->out_w);
	p->status_w = child_fd_above_stdio(p->status_w);
	if (p->out_w < 0 || p->status_w < 0)
		return errno;
	null_fd = open("/dev/null", O_RDONLY);
	if (null_fd < 0)
		return errno;
	if (null_fd != STDIN_FILENO && dup2(null_fd, STDIN_FILENO) < 0)
		return errno;
	if (dup2(p->out_w, STDOUT_FILENO) < 0 || dup2(p->out_w, STDERR_FILENO) < 0)
		return errno;
	child_close_others(p->status_w, p->max_fd);
	return 0;
}

/* execve each candidate in turn, as execvp does: go on past "not there"
 * and "not allowed", stop at any other error. Returns the errno to report
 * (EACCES if some candidate existed but could not be executed). */
static int child_exec(const struct child_plan *p)
{
	bool denied = false;
	int err = ENOENT;

	for (size_t i = 0; p->paths[i]; i++) {
		execve(p->paths[i], p->argv, p->envp);
		err = errno;
		switch (err) {
		case EACCES:
			denied = true;
			/* fall through */
		case ENOENT:
		case ESTALE:
		case ENOTDIR:
		case ENODEV:
		case ETIMEDOUT:
			continue;
		default:
			return err;
		}
	}
	return denied ? EACCES : err;
}

/* The child: new session, clean signals and descriptors, exec. Tells the
 * parent why through the status pipe if it cannot. */
static _Noreturn void child_run(struct child_plan *p)
{
	sigset_t none;
	int err;

	child_reset_signals();
	setsid();
	err = child_setup_fds(p);
	if (err == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		err = child_exec(p);
	}
	if (p->status_w >= 0 && write(p->status_w, &err, sizeof(err)) < 0) {
		/* nobody to tell */
	}
	_exit(RUN_EXEC_FAILED);
}

/* ---- where to look for argv[0] ---- */

/* envp's PATH, or execvp's default when there is none. */
static const char *env_path(char *const envp[])
{
	for (size_t i = 0; envp[i]; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			return envp[i] + 5;
	return RUN_DEFAULT_PATH;
}

/* Free a NULL-terminated list of strings. */
static void strv_free(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* dir/file, or file alone for an empty dir (the current directory, as
 * execvp reads an empty PATH element). NULL when out of memory. */
static char *path_join(const char *dir, size_t dir_len, const char *file)
{
	size_t file_len = strlen(file);
	char *s;

	s = malloc(dir_len + 1 + file_len + 1);
	if (!s)
		return NULL;
	if (dir_len == 0) {
		memcpy(s, file, file_len + 1);
		return s;
	}
	memcpy(s, dir, dir_len);
	s[dir_len] = '/';
	memcpy(s + dir_len + 1, file, file_len + 1);
	return s;
}

/* Every path to try for file, as execvp would: file itself when it holds
 * a '/', else each element of the PATH in envp (never the daemon's).
 * Elements too long for PATH_MAX are skipped. Returns 0 or -ENOMEM. */
static int plan_paths(const char *file, char *const envp[], char ***ret)
{
	const char *path = env_path(envp), *p, *colon;
	size_t n = 1, i = 0;
	char **v;

	for (p = path; *p; p++)
		n += *p == ':';
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (strchr(file, '/')) {
		v[0] = strdup(file);
		if (!v[0])
			goto oom;
	} else if (*file) {
		for (p = path;; p = colon + 1) {
			colon = strchrnul(p, ':');
			if ((size_t)(colon - p) + 1 + strlen(file) < PATH_MAX &&
			    !(v[i++] = path_join(p, (size_t)(colon - p), file)))
				goto oom;
			if (!*colon)
				break;
		}
	}
	*ret = v;
	return 0;
oom:
	strv_free(v);
	return -ENOMEM;
}

/* ---- jobs ---- */

/* Send sig to the job's process group. Until the child has called
 * setsid() the group does not exist yet, so the child itself gets it
 * (pending under its full mask, delivered at exec time); its pid is ours
 * until we reap it. */
static void job_signal(const struct rbd_job *job, int sig)
{
	if (kill(-job->pid, sig) < 0 && errno == ESRCH)
		kill(job->pid, sig);
}

/* Free job and all it holds; touches nothing of the runner. */
static void job_free(struct rbd_job *job)
{
	if (!job)
		return;
	if (job->out_ev)
		event_free(job->out_ev);
	if (job->timeout_ev)
		event_free(job->timeout_ev);
	if (job->kill_ev)
		event_free(job->kill_ev);
	if (job->done_ev)
		event_free(job->done_ev);
	fd_close(&job->out_fd);
	fd_close(&job->status_fd);
	free(job->buf);
	free(job->name);
	free(job);
}

/* Read once from the output pipe: into the buffer up to the cap, past it
 * into scratch, counted and dropped. > 0 read, 0 nothing now, < 0 EOF or
 * error. */
static int job_read(struct rbd_job *job)
{
	char scratch[RUN_SCRATCH];
	size_t room = RBD_RUN_OUTPUT_MAX - job->len;
	char *dst = room ? job->buf + job->len : scratch;
	ssize_t n;

	if (!room)
		room = sizeof(scratch);
	n = read(job->out_fd, dst, room);
	if (n > 0) {
		if (dst == scratch)
			job->dropped += (size_t)n;
		else
			job->len += (size_t)n;
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return -1;
}

/* Stop reading the output. */
static void job_close_output(struct rbd_job *job)
{
	event_del(job->out_ev);
	fd_close(&job->out_fd);
}

/* What the exec status pipe says, once the child is gone. */
static void job_read_exec_status(struct rbd_job *job)
{
	int err;

	if (read(job->status_fd, &err, sizeof(err)) == (ssize_t)sizeof(err))
		job->exec_errno = err;
	fd_close(&job->status_fd);
}

/* The child has exited and its output is closed, or its group is dead:
 * finish it from a fresh loop callback. */
static void job_maybe_finish(struct rbd_job *job)
{
	if (job->done || !job->exited || (job->out_fd >= 0 && !job->group_killed))
		return;
	job->done = true;
	job->ended = rbd_mono_usec();
	event_del(job->timeout_ev);
	event_del(job->kill_ev);
	event_active(job->done_ev, EV_TIMEOUT, 0);
}

/* Reap the child if it has exited. The group is SIGKILLed first, while
 * the zombie still holds its pid (so the group id cannot have been reused
 * by then): whatever the command left behind dies with it. Returns true
 * once the child is reaped. */
static bool job_try_reap(struct rbd_job *job)
{
	siginfo_t si;

	if (job->exited)
		return true;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)job->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
		if (errno == EINTR)
			return false;
		/* ECHILD: someone else reaped it; its pid is no longer ours
		 * to signal. */
		job->wait_errno = errno;
		job->exited = job->group_killed = true;
		job_read_exec_status(job);
		return true;
	}
	if (si.si_pid == 0)
		return false;
	job_signal(job, SIGKILL);
	job->group_killed = true;
	job->code = si.si_code;
	job->status = si.si_status;
	waitpid(job->pid, NULL, WNOHANG);
	job->exited = true;
	job_read_exec_status(job);
	return true;
}

/* SIGTERM to the group (SIGCONT too, so that stopped members see it),
 * SIGKILL after grace unless one is due sooner. */
static void job_terminate(struct rbd_job *job, uint64_t grace)
{
	uint64_t kill_at = rbd_mono_usec() + grace;
	struct timeval tv = rbd_usec_tv(grace);

	if (job->exited || job->done)
		return;
	job_signal(job, SIGTERM);
	job_signal(job, SIGCONT);
	if (evtimer_pending(job->kill_ev, NULL) && job->kill_at <= kill_at)
		return;
	job->kill_at = kill_at;
	evtimer_add(job->kill_ev, &tv);
}

/* The output pipe is readable. */
static void on_output(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_job *job = arg;

	(void)fd;
	(void)what;
	if (job_read(job) >= 0)
		return;
	job_close_output(job);
	job_try_reap(job);	/* EOF often means exit: do not wait for SIGCHLD */
	job_maybe_finish(job);
}

/* The job's timeout: terminate, unless it has just exited. */
static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_job *job = arg;

	(void)fd;
	(void)what;
	if (job_try_reap(job)) {
		job_maybe_finish(job);
		return;
	}
	job->timed_out = true;
	job_terminate(job, job->runner->grace);
}

/* The grace period is over: SIGKILL the group. */
static void on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_job *job = arg;

	(void)fd;
	(void)what;
	if (job->exited)
		return;
	job_signal(job, SIGKILL);
	job->group_killed = true;
}

/* SIGCHLD: reap those of our children that have exited; other children
 * of the process are left alone. */
static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_runner *r = arg;
	struct rbd_job *job;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(job, &r->jobs, entry) {
		if (!job->exited && job_try_reap(job))
			job_maybe_finish(job);
	}
}

/* "killed by signal 15 (SIGTERM)" and the like into job->detail. */
static void job_describe(const struct rbd_job *job, char *buf, size_t len)
{
	char d[RBD_DURATION_STR_MAX];
	const char *abbrev;

	if (job->exec_errno)
		snprintf(buf, len, "could not run %s: %s", job->name,
		    strerror(job->exec_errno));
	else if (job->timed_out)
		snprintf(buf, len, "timed out after %s (killed)",
		    rbd_duration_str(job->timeout, d, sizeof(d)));
	else if (job->wait_errno)
		snprintf(buf, len, "exit status lost: %s", strerror(job->wait_errno));
	else if (job->code == CLD_EXITED)
		snprintf(buf, len, "exited with status %d", job->status);
	else if ((abbrev = sigabbrev_np(job->status)))
		snprintf(buf, len, "killed by signal %d (SIG%s)", job->status, abbrev);
	else
		snprintf(buf, len, "killed by signal %d", job->status);
}

/* The result the callback gets; points into job. */
static void job_result(struct rbd_job *job, struct rbd_run_result *res)
{
	bool exited = !job->wait_errno && job->code == CLD_EXITED;
	bool killed = !job->wait_errno && !exited;

	job_describe(job, job->detail, sizeof(job->detail));
	job->buf[job->len] = '\0';
	*res = (struct rbd_run_result){
		.result = job->timed_out ? RBD_DEPLOY_TIMED_OUT :
		    exited && job->status == 0 && !job->exec_errno ?
		    RBD_DEPLOY_OK : RBD_DEPLOY_FAILED,
		.exit_status = exited ? job->status : -1,
		.signal = killed ? job->status : 0,
		.detail = job->detail,
		.output = job->buf,
		.output_len = job->len,
		.output_dropped = job->dropped,
		.duration = job->ended - job->started,
		.pid = job->pid,
	};
}

/* The job is done: take what output is left, leave the runner, call back,
 * free. Nothing of the runner is touched after the callback, which may
 * have freed it. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_job *job = arg;
	struct rbd_runner *r = job->runner;
	struct rbd_run_result res;

	(void)fd;
	(void)what;
	for (int i = 0; job->out_fd >= 0 && i < RUN_DRAIN_READS; i++)
		if (job_read(job) <= 0)
			break;
	job_close_output(job);
	TAILQ_REMOVE(&r->jobs, job, entry);
	r->n_jobs--;
	if (r->stopping && r->n_jobs == 0 && (!r->units || r->units_done))
		event_active(r->idle_ev, EV_TIMEOUT, 0);
	job_result(job, &res);
	job->cb(job->arg, &res);
	job_free(job);
}

/* A job with its buffer, its events and its name; no process yet. */
static struct rbd_job *job_new(struct rbd_runner *r, const char *name,
    rbd_run_cb cb, void *arg)
{
	struct rbd_job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->runner = r;
	job->out_fd = job->status_fd = -1;
	job->cb = cb;
	job->arg = arg;
	job->name = strdup(name);
	job->buf = malloc(RBD_RUN_OUTPUT_MAX + 1);
	job->timeout_ev = evtimer_new(r->base, on_timeout, job);
	job->kill_ev = evtimer_new(r->base, on_grace, job);
	job->done_ev = event_new(r->base, -1, 0, on_done, job);
	if (!job->name || !job->buf || !job->timeout_ev || !job->kill_ev ||
	    !job->done_ev) {
		job_free(job);
		return NULL;
	}
	return job;
}

/* The pipes: output (read end non-blocking, the child's end blocking as
 * programs expect) and exec status; all close-on-exec. Returns 0 or
 * -errno. */
static int job_pipes(struct rbd_job *job, int *ret_out_w, int *ret_status_w)
{
	int out[2], st[2];

	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 ||
	    pipe2(st, O_CLOEXEC | O_NONBLOCK) < 0) {
		int err = -errno;

		close(out[0]);
		close(out[1]);
		return err;
	}
	job->out_fd = out[0];
	job->status_fd = st[0];
	*ret_out_w = out[1];
	*ret_status_w = st[1];
	return 0;
}

/* Arm the output event and the timeout before the fork, so that nothing
 * can fail after it. Returns 0 or -errno. */
static int job_arm(struct rbd_job *job, uint64_t timeout_usec)
{
	struct timeval tv = rbd_usec_tv(timeout_usec);

	job->out_ev = event_new(job->runner->base, job->out_fd,
	    EV_READ | EV_PERSIST, on_output, job);
	if (!job->out_ev || event_add(job->out_ev, NULL) < 0)
		return -ENOMEM;
	job->timeout = timeout_usec;
	if (timeout_usec && evtimer_add(job->timeout_ev, &tv) < 0)
		return -ENOMEM;
	return 0;
}

/* The child, from clone: on its own copy of the plan (see child_plan). */
static int child_entry(void *arg)
{
	struct child_plan p = *(const struct child_plan *)arg;

	child_run(&p);
}

/* Fork with every signal blocked, sharing memory until the child has
 * exec'd or exited (see the top of this file); the child never returns.
 * Returns the pid or -errno. The child's writes to errno land in ours;
 * nothing here reads errno but after a failed clone. */
static pid_t job_fork(struct child_plan *p)
{
	sigset_t all, old;
	void *stack;
	pid_t pid;
	int err;

	stack = mmap(NULL, RUN_CHILD_STACK, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -errno;
#ifdef __SANITIZE_ADDRESS__
	/* A child never returns from its frames, so AddressSanitizer never
	 * unpoisons them: a new mapping at the same address would inherit
	 * the poison. */
	ASAN_UNPOISON_MEMORY_REGION(stack, RUN_CHILD_STACK);
#endif
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);	/* the daemon has threads */
	pid = clone(child_entry, (char *)stack + RUN_CHILD_STACK,
	    CLONE_VM | CLONE_VFORK | SIGCHLD, p);
	err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	munmap(stack, RUN_CHILD_STACK);
	return pid < 0 ? -err : pid;
}

/* No job left after a shutdown: tell whoever asked, once. */
static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct rbd_runner *r = arg;
	void (*cb)(void *) = r->done_cb;

	(void)fd;
	(void)what;
	r->done_cb = NULL;
	if (cb)
		cb(r->done_arg);
}

/* A runner on base, reaping on SIGCHLD: see runner.h. */
struct rbd_runner *rbd_runner_new(struct event_base *base)
{
	struct rbd_runner *r = calloc(1, sizeof(*r));
	sigset_t chld;

	if (!r)
		return NULL;
	r->base = base;
	r->grace = RBD_RUN_GRACE_USEC;
	TAILQ_INIT(&r->jobs);
	r->sigchld_ev = evsignal_new(base, SIGCHLD, on_sigchld, r);
	r->idle_ev = event_new(base, -1, 0, on_idle, r);
	if (!r->sigchld_ev || !r->idle_ev || event_add(r->sigchld_ev, NULL) < 0) {
		rbd_runner_free(r);
		return NULL;
	}
	/* A SIGCHLD blocked by whoever started us would never reach the
	 * loop, and no job would ever end. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
	return r;
}

/* SIGKILL what still runs, free every job without its callback. */
void rbd_runner_free(struct rbd_runner *r)
{
	struct rbd_job *job;

	if (!r)
		return;
	while ((job = TAILQ_FIRST(&r->jobs))) {
		TAILQ_REMOVE(&r->jobs, job, entry);
		if (!job->exited)
			job_signal(job, SIGKILL);
		job_free(job);
	}
	rbd_unit_runner_free(r->units);
	if (r->sigchld_ev)
		event_free(r->sigchld_ev);
	if (r->idle_ev)
		event_free(r->idle_ev);
	free(r);
}

/* The grace after a timeout's SIGTERM. */
void rbd_runner_set_grace(struct rbd_runner *r, uint64_t grace_usec)
{
	r->grace = grace_usec;
}

/* Start the child of job, ready and armed. Returns 0 or -errno. */
static int job_spawn(struct rbd_job *job, char *const argv[],
    char *const envp[], uint64_t timeout_usec)
{
	struct child_plan p = { .argv = argv, .envp = envp, .out_w = -1,
	    .status_w = -1 };
	pid_t pid;
	int err;

	err = plan_paths(argv[0], envp, &p.paths);
	if (err >= 0)
		err = job_pipes(job, &p.out_w, &p.status_w);
	if (err >= 0)
		err = job_arm(job, timeout_usec);
	if (err >= 0) {
		p.max_fd = sysconf(_SC_OPEN_MAX);
		if (p.max_fd < 0 || p.max_fd > INT_MAX)
			p.max_fd = 65536;
		job->started = rbd_mono_usec();
		pid = job_fork(&p);
		err = pid < 0 ? (int)pid : 0;
		job->pid = pid;
	}
	fd_close(&p.out_w);
	fd_close(&p.status_w);
	strv_free(p.paths);
	return err;
}

/* Start a job: see runner.h. */
int rbd_runner_start(struct rbd_runner *r, char *const argv[],
    char *const envp[], uint64_t timeout_usec, rbd_run_cb cb, void *arg,
    struct rbd_job **ret)
{
	return rbd_runner_start_labelled(r, NULL, argv, envp, timeout_usec,
	    cb, arg, ret);
}

/* Jobs as transient units: see runner.h. */
int rbd_runner_use_units(struct rbd_runner *r, struct rbd_bus *bus)
{
	struct rbd_unit_runner *u;
	int err;

	if (!bus)
		return -EINVAL;
	if (r->units)
		return 0;
	err = rbd_unit_runner_new(r->base, bus, &u);
	if (err < 0)
		return err;
	r->units = u;
	r->bus = bus;
	return 0;
}

/* Start a job, named for label: see runner.h. */
int rbd_runner_start_labelled(struct rbd_runner *r, const char *label,
    char *const argv[], char *const envp[], uint64_t timeout_usec,
    rbd_run_cb cb, void *arg, struct rbd_job **ret)
{
	struct rbd_job *job;
	int err;

	if (!r || !argv || !argv[0] || !envp || !cb)
		return -EINVAL;
	if (r->stopping)
		return -ESHUTDOWN;
	if (r->units) {
		err = rbd_unit_runner_start(r->units, label, argv, envp,
		    timeout_usec, cb, arg);
		if (err >= 0 && ret)
			*ret = NULL;
		if (err != -ENOTCONN)
			return err;
		/* Better a deploy inside our sandbox than none. */
		rbd_log(LOG_WARNING, "%s: %s runs as a child of the daemon, not "
		    "as a transient unit: %s", label ? label : "deploy", argv[0],
		    *rbd_bus_error(r->bus) ? rbd_bus_error(r->bus) :
		    "the system bus connection is closing");
	}
	job = job_new(r, argv[0], cb, arg);
	if (!job)
		return -ENOMEM;
	err = job_spawn(job, argv, envp, timeout_usec);
	if (err < 0) {
		job_free(job);
		return err;
	}
	TAILQ_INSERT_TAIL(&r->jobs, job, entry);
	r->n_jobs++;
	if (ret)
		*ret = job;
	return 0;
}

/* The units' shutdown is over: the runner's too, once no child is left. */
static void on_units_done(void *arg)
{
	struct rbd_runner *r = arg;

	r->units_done = true;
	if (r->n_jobs == 0)
		event_active(r->idle_ev, EV_TIMEOUT, 0);
}

/* Terminate every job, then call done_cb from the loop. */
void rbd_runner_shutdown(struct rbd_runner *r, uint64_t grace_usec,
    void (*done_cb)(void *arg), void *arg)
{
	struct rbd_job *job;

	r->stopping = true;
	r->done_cb = done_cb;
	r->done_arg = arg;
	TAILQ_FOREACH(job, &r->jobs, entry)
		job_terminate(job, grace_usec);
	/* Units stop with the grace they were started with. */
	if (r->units)
		rbd_unit_runner_shutdown(r->units, on_units_done, r);
	else if (r->n_jobs == 0)
		event_active(r->idle_ev, EV_TIMEOUT, 0);
}

/* Jobs whose callback has not been called yet. */
size_t rbd_runner_running(const struct rbd_runner *r)
{
	return r->n_jobs + rbd_unit_runner_running(r->units);
}
