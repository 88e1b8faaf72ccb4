/* The action runner: real processes on a real event loop.
 *
 * Every wait is a bounded poll of the loop (a tick timer wakes it so the
 * deadline is seen); nothing sleeps. Timeouts and graces are small, and no
 * assertion depends on how long anything took beyond "within the
 * deadline" and "not before the timeout". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "duration.h"
#include "runner.h"
#include "testutil.h"

#define DEADLINE_USEC	(10 * RBD_USEC_PER_SEC)
#define TICK_USEC	(20 * RBD_USEC_PER_MSEC)
#define SMALL_TIMEOUT	(200 * RBD_USEC_PER_MSEC)
#define SMALL_GRACE	(100 * RBD_USEC_PER_MSEC)
#define FIXTURES	RBD_SRCDIR "/tests/data/runner"

/* What a callback saw, copied out of the result. */
struct outcome {
	bool called;
	int order;			/* 1 for the first callback of a test */
	enum rbd_deploy_result result;
	int exit_status, signal, pid;
	char detail[512];
	char *output;
	size_t output_len, output_dropped;
	uint64_t duration;
};

static struct event_base *base;
static struct rbd_runner *runner;
static int n_callbacks;
static char *env_std[] = { "PATH=/usr/bin:/bin", NULL };

/* A fresh loop and runner for each test (each runs in its own process). */
static void setup(void)
{
	n_callbacks = 0;
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	runner = rbd_runner_new(base);
	ck_assert_ptr_nonnull(runner);
}

/* Free what setup made, unless a test already did. */
static void teardown(void)
{
	rbd_runner_free(runner);
	runner = NULL;
	event_base_free(base);
	base = NULL;
}

/* Monotonic time in usec. */
static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * RBD_USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* The tick: only wakes the loop. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Run the loop once, waking after a tick at the latest. */
static void loop_once(void)
{
	struct timeval tv = { 0, TICK_USEC };
	struct event *tick = evtimer_new(base, on_tick, NULL);

	ck_assert_ptr_nonnull(tick);
	evtimer_add(tick, &tv);
	event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
}

/* Run the loop until *flag is set or the deadline passes. */
static bool loop_until(const bool *flag)
{
	uint64_t deadline = now_usec() + DEADLINE_USEC;

	while (!*flag && now_usec() < deadline)
		loop_once();
	return *flag;
}

/* The callback: copy the result into the outcome. */
static void on_result(void *arg, const struct rbd_run_result *r)
{
	struct outcome *o = arg;

	ck_assert(!o->called);
	ck_assert_ptr_nonnull(r->output);
	ck_assert_int_eq(r->output[r->output_len], '\0');
	o->called = true;
	o->order = ++n_callbacks;
	o->result = r->result;
	o->exit_status = r->exit_status;
	o->signal = r->signal;
	o->pid = r->pid;
	snprintf(o->detail, sizeof(o->detail), "%s", r->detail);
	o->output = malloc(r->output_len + 1);
	ck_assert_ptr_nonnull(o->output);
	memcpy(o->output, r->output, r->output_len + 1);
	o->output_len = r->output_len;
	o->output_dropped = r->output_dropped;
	o->duration = r->duration;
}

/* Start argv with envp, failing the test if it does not start. */
static void start(const char *const argv[], char *const envp[],
    uint64_t timeout, struct outcome *o)
{
	int r = rbd_runner_start(runner, (char *const *)argv, envp, timeout,
	    on_result, o, NULL);

	ck_assert_int_eq(r, 0);
}

/* Run argv with envp to the end; o holds the outcome. */
static void run(const char *const argv[], char *const envp[],
    uint64_t timeout, struct outcome *o)
{
	start(argv, envp, timeout, o);
	ck_assert_msg(loop_until(&o->called), "%s: no result in time", argv[0]);
	ck_assert_uint_eq(rbd_runner_running(runner), 0);
}

/* The state letter, parent and process group of pid from /proc, or false
 * when it is gone. */
static bool proc_stat(long pid, char *ret_state, long *ret_ppid, long *ret_pgrp)
{
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && sscanf(p + 1, " %c %ld %ld", ret_state, ret_ppid, ret_pgrp) == 3;
}

/* Whether pid is a running (not zombie) process. Orphans are not always
 * reaped at once (here PID 1 does not reap at all), so zombies count as
 * gone. */
static bool proc_alive(long pid)
{
	char state;
	long ppid, pgrp;

	return proc_stat(pid, &state, &ppid, &pgrp) && state != 'Z' && state != 'X';
}

/* Whether any running process is in group pgid. */
static bool group_alive(long pgid)
{
	struct dirent *de;
	bool alive = false;
	DIR *d;

	if (kill((pid_t)-pgid, 0) < 0 && errno == ESRCH)
		return false;
	d = opendir("/proc");
	ck_assert_ptr_nonnull(d);
	while (!alive && (de = readdir(d))) {
		long pid = strtol(de->d_name, NULL, 10), ppid, pgrp;
		char state;

		if (pid > 0 && proc_stat(pid, &state, &ppid, &pgrp) && pgrp == pgid)
			alive = state != 'Z' && state != 'X';
	}
	closedir(d);
	return alive;
}

/* Poll (the loop) until group pgid and process pid are both gone. */
static bool wait_gone(long pgid, long pid)
{
	uint64_t deadline = now_usec() + DEADLINE_USEC;

	while (now_usec() < deadline) {
		if (!group_alive(pgid) && (pid <= 0 || !proc_alive(pid)))
			return true;
		loop_once();
	}
	return false;
}

/* The pid of a running child of ours, or 0. */
static long child_pid(void)
{
	struct dirent *de;
	long found = 0;
	DIR *d = opendir("/proc");

	ck_assert_ptr_nonnull(d);
	while (!found && (de = readdir(d))) {
		long pid = strtol(de->d_name, NULL, 10), ppid, pgrp;
		char state;

		if (pid > 0 && proc_stat(pid, &state, &ppid, &pgrp) &&
		    ppid == getpid() && state != 'Z')
			found = pid;
	}
	closedir(d);
	return found;
}

/* Whether pid ignores sig, from its SigIgn mask. */
static bool proc_ignores(long pid, int sig)
{
	char path[64], line[128];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigIgn: %llx", &mask) == 1)
			break;
	fclose(f);
	return mask & (1ULL << (sig - 1));
}

/* Poll until a child of ours ignores sig (its trap has run); its pid. */
static long wait_child_ignoring(int sig)
{
	uint64_t deadline = now_usec() + DEADLINE_USEC;
	long pid;

	while (now_usec() < deadline) {
		pid = child_pid();
		if (pid && proc_ignores(pid, sig))
			return pid;
		loop_once();
	}
	ck_abort_msg("no child ignoring signal %d", sig);
	return 0;
}

/* The number the command printed first, as a pid. */
static long first_pid(const struct outcome *o)
{
	long pid = strtol(o->output, NULL, 10);

	ck_assert_msg(pid > 1, "no pid in \"%s\"", o->output);
	return pid;
}

/* Free what on_result copied. */
static void outcome_clear(struct outcome *o)
{
	free(o->output);
	o->output = NULL;
}

/* ---- results and details ---- */

static const struct {
	const char *argv[5];
	char *envp[3];
	enum rbd_deploy_result result;
	int exit_status, signal;
	const char *detail;
} results[] = {
	{ { "/bin/true" }, { "PATH=/usr/bin:/bin" },
	    RBD_DEPLOY_OK, 0, 0, "exited with status 0" },
	{ { "/bin/false" }, { "PATH=/usr/bin:/bin" },
	    RBD_DEPLOY_FAILED, 1, 0, "exited with status 1" },
	{ { "/bin/sh", "-c", "exit 3" }, { "PATH=/usr/bin:/bin" },
	    RBD_DEPLOY_FAILED, 3, 0, "exited with status 3" },
	{ { "/bin/sh", "-c", "kill -TERM $$" }, { "PATH=/usr/bin:/bin" },
	    RBD_DEPLOY_FAILED, -1, SIGTERM, "killed by signal 15 (SIGTERM)" },
	{ { "/bin/sh", "-c", "kill -KILL $$" }, { "PATH=/usr/bin:/bin" },
	    RBD_DEPLOY_FAILED, -1, SIGKILL, "killed by signal 9 (SIGKILL)" },
	{ { "/bin/sh", "-c", "kill -SEGV $$" }, { "PATH=/usr/bin:/bin" },
	    RBD_DEPLOY_FAILED, -1, SIGSEGV, "killed by signal 11 (SIGSEGV)" },
	{ { "/nonexistent/deploy", "v1" }, { "PATH=/usr/bin:/bin" },
	    RBD_DEPLOY_FAILED, 127, 0,
	    "could not run /nonexistent/deploy: No such file or directory" },
	{ { "/dev/null" }, { "PATH=/usr/bin:/bin" },
	    RBD_DEPLOY_FAILED, 127, 0, "could not run /dev/null: Permission denied" },
	{ { "rbd-no-such-program" }, { "PATH=/usr/bin:/bin" },
	    RBD_DEPLOY_FAILED, 127, 0,
	    "could not run rbd-no-such-program: No such file or directory" },
	/* Looked up in the PATH given, not the test's. */
	{ { "sh", "-c", "exit 0" }, { "PATH=/nonexistent:/also/not" },
	    RBD_DEPLOY_FAILED, 127, 0, "could not run sh: No such file or directory" },
	{ { "sh", "-c", "exit 4" }, { "PATH=/nonexistent::/bin" },
	    RBD_DEPLOY_FAILED, 4, 0, "exited with status 4" },
	/* No PATH at all: execvp's default. */
	{ { "true" }, { "HOME=/" }, RBD_DEPLOY_OK, 0, 0, "exited with status 0" },
	{ { "" }, { "PATH=/bin" },
	    RBD_DEPLOY_FAILED, 127, 0, "could not run : No such file or directory" },
};

START_TEST(test_results)
{
	struct outcome o = { 0 };

	run(results[_i].argv, results[_i].envp, 0, &o);
	ck_assert_str_eq(o.detail, results[_i].detail);
	ck_assert_int_eq(o.result, results[_i].result);
	ck_assert_int_eq(o.exit_status, results[_i].exit_status);
	ck_assert_int_eq(o.signal, results[_i].signal);
	ck_assert_int_gt(o.pid, 0);
	/* Reaped: no longer a child of ours, not even a zombie. */
	ck_assert_int_eq(waitpid(o.pid, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	outcome_clear(&o);
}
END_TEST

START_TEST(test_bad_arguments)
{
	const char *none[] = { NULL };
	const char *argv[] = { "/bin/true", NULL };
	struct rbd_job *job = (struct rbd_job *)&job;

	ck_assert_int_eq(rbd_runner_start(runner, (char *const *)none, env_std,
	    0, on_result, NULL, &job), -EINVAL);
	ck_assert_int_eq(rbd_runner_start(runner, NULL, env_std, 0, on_result,
	    NULL, &job), -EINVAL);
	ck_assert_int_eq(rbd_runner_start(runner, (char *const *)argv, NULL, 0,
	    on_result, NULL, &job), -EINVAL);
	ck_assert_int_eq(rbd_runner_start(runner, (char *const *)argv, env_std,
	    0, NULL, NULL, &job), -EINVAL);
	/* Not written on failure. */
	ck_assert_ptr_eq(job, (struct rbd_job *)&job);
	ck_assert_uint_eq(rbd_runner_running(runner), 0);
}
END_TEST

/* ---- what the child gets ---- */

START_TEST(test_path_from_envp)
{
	const char *argv[] = { "rbd-runner-hello.sh", "v2", NULL };
	char *env_found[] = { "PATH=/nonexistent:" FIXTURES, NULL };
	char *env_missing[] = { "PATH=/usr/bin:/bin", NULL };
	struct outcome found = { 0 }, missing = { 0 };

	/* The test's own PATH would find it: the runner must not look. */
	ck_assert_int_eq(setenv("PATH", FIXTURES ":/usr/bin:/bin", 1), 0);
	run(argv, env_found, 0, &found);
	ck_assert_str_eq(found.detail, "exited with status 0");
	ck_assert_str_eq(found.output,
	    "hello from " FIXTURES "/rbd-runner-hello.sh v2\n");
	run(argv, env_missing, 0, &missing);
	ck_assert_str_eq(missing.detail,
	    "could not run rbd-runner-hello.sh: No such file or directory");
	outcome_clear(&found);
	outcome_clear(&missing);
}
END_TEST

START_TEST(test_environment_is_envp)
{
	const char *argv[] = { "/usr/bin/env", NULL };
	char *envp[] = { "PATH=/nonexistent", "ROLLBACKD_VERSION=v2.4.1",
	    "B=two words", "EMPTY=", NULL };
	struct outcome o = { 0 };

	ck_assert_int_eq(setenv("RBD_TEST_LEAK", "1", 1), 0);
	run(argv, envp, 0, &o);
	ck_assert_str_eq(o.detail, "exited with status 0");
	ck_assert_str_eq(o.output, "PATH=/nonexistent\nROLLBACKD_VERSION=v2.4.1\n"
	    "B=two words\nEMPTY=\n");
	outcome_clear(&o);
}
END_TEST

START_TEST(test_stdin_is_dev_null)
{
	const char *argv[] = { "/bin/sh", "-c",
	    "if read line; then echo \"read: $line\"; else echo eof; fi; "
	    "readlink /proc/$$/fd/0", NULL };
	struct outcome o = { 0 };

	run(argv, env_std, 0, &o);
	ck_assert_str_eq(o.output, "eof\n/dev/null\n");
	outcome_clear(&o);
}
END_TEST

START_TEST(test_fds_closed)
{
	const char *argv[] = { "/bin/sh", "-c", "ls /proc/$$/fd", NULL };
	struct outcome o = { 0 };
	int fd = open("/dev/null", O_RDONLY);	/* inheritable */

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, 200), 200);
	run(argv, env_std, 0, &o);
	ck_assert_str_eq(o.output, "0\n1\n2\n");
	outcome_clear(&o);
	close(fd);
	close(200);
}
END_TEST

START_TEST(test_new_session)
{
	const char *argv[] = { "/bin/cat", "/proc/self/stat", NULL };
	struct outcome o = { 0 };
	int pid, pgrp, session;
	char *p;

	run(argv, env_std, 0, &o);
	ck_assert_int_eq(sscanf(o.output, "%d", &pid), 1);
	p = strrchr(o.output, ')');
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + 1, " %*c %*d %d %d", &pgrp, &session), 2);
	ck_assert_int_eq(pid, o.pid);
	ck_assert_int_eq(pgrp, pid);
	ck_assert_int_eq(session, pid);
	outcome_clear(&o);
}
END_TEST

/* The "Name:\tvalue" line of a /proc status text, value only. */
static void status_field(const char *status, const char *name, char *buf,
    size_t len)
{
	const char *p = strstr(status, name);

	ck_assert_msg(p != NULL, "%s not in status", name);
	p += strlen(name);
	p += strspn(p, ":\t ");
	snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
}

START_TEST(test_signals_reset)
{
	const char *argv[] = { "/bin/cat", "/proc/self/status", NULL };
	struct outcome o = { 0 };
	sigset_t set;
	char blk[32], ign[32];

	/* The daemon may block and ignore; its children must not inherit. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, &set, NULL), 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	run(argv, env_std, 0, &o);
	status_field(o.output, "\nSigBlk", blk, sizeof(blk));
	status_field(o.output, "\nSigIgn", ign, sizeof(ign));
	ck_assert_str_eq(blk, "0000000000000000");
	ck_assert_str_eq(ign, "0000000000000000");
	outcome_clear(&o);
}
END_TEST

/* ---- output ---- */

START_TEST(test_output_captured)
{
	const char *argv[] = { "/bin/sh", "-c",
	    "echo to stdout; echo to stderr >&2; exit 2", NULL };
	struct outcome o = { 0 };

	run(argv, env_std, 0, &o);
	ck_assert_str_eq(o.detail, "exited with status 2");
	ck_assert_str_eq(o.output, "to stdout\nto stderr\n");
	ck_assert_uint_eq(o.output_len, strlen("to stdout\nto stderr\n"));
	ck_assert_uint_eq(o.output_dropped, 0);
	outcome_clear(&o);
}
END_TEST

START_TEST(test_output_capped)
{
	const char *argv[] = { "/bin/sh", "-c",
	    "yes 0123456789abcdef | head -c 1048576", NULL };
	struct outcome o = { 0 };

	run(argv, env_std, 0, &o);
	ck_assert_str_eq(o.detail, "exited with status 0");
	ck_assert_uint_eq(o.output_len, RBD_RUN_OUTPUT_MAX);
	ck_assert_uint_eq(o.output_dropped, 1048576 - RBD_RUN_OUTPUT_MAX);
	ck_assert_uint_eq(strlen(o.output), RBD_RUN_OUTPUT_MAX);
	ck_assert_int_eq(strncmp(o.output, "0123456789abcdef\n0123", 21), 0);
	outcome_clear(&o);
}
END_TEST

/* ---- timeouts and what is left behind ---- */

START_TEST(test_timeout_term_ignored)
{
	const char *argv[] = { "/bin/sh", "-c",
	    "trap '' TERM; sleep 60 & echo $!; wait; wait", NULL };
	struct outcome o = { 0 };
	long grandchild;

	rbd_runner_set_grace(runner, SMALL_GRACE);
	run(argv, env_std, SMALL_TIMEOUT, &o);
	ck_assert_int_eq(o.result, RBD_DEPLOY_TIMED_OUT);
	ck_assert_str_eq(o.detail, "timed out after 200ms (killed)");
	ck_assert_int_eq(o.signal, SIGKILL);
	ck_assert_int_eq(o.exit_status, -1);
	ck_assert_uint_ge(o.duration, SMALL_TIMEOUT);
	grandchild = first_pid(&o);
	ck_assert(wait_gone(o.pid, grandchild));
	outcome_clear(&o);
}
END_TEST

START_TEST(test_timeout_term_obeyed)
{
	const char *argv[] = { "/bin/sh", "-c", "sleep 60", NULL };
	struct outcome o = { 0 };

	/* A grace longer than the deadline: ending at all proves SIGTERM. */
	rbd_runner_set_grace(runner, 3600 * RBD_USEC_PER_SEC);
	run(argv, env_std, SMALL_TIMEOUT, &o);
	ck_assert_int_eq(o.result, RBD_DEPLOY_TIMED_OUT);
	ck_assert_str_eq(o.detail, "timed out after 200ms (killed)");
	ck_assert_int_eq(o.signal, SIGTERM);
	ck_assert(wait_gone(o.pid, 0));
	outcome_clear(&o);
}
END_TEST

START_TEST(test_grandchild_after_exit_killed)
{
	/* Holding the output pipe, or not. */
	static const char *const scripts[] = {
		"sleep 60 & echo $!",
		"sleep 60 >/dev/null 2>&1 & echo $!",
		"trap '' TERM HUP; sleep 60 & echo $!; exit 5",
	};
	const char *argv[] = { "/bin/sh", "-c", scripts[_i], NULL };
	struct outcome o = { 0 };
	long grandchild;

	run(argv, env_std, 0, &o);
	ck_assert_str_eq(o.detail, _i == 2 ? "exited with status 5" :
	    "exited with status 0");
	grandchild = first_pid(&o);
	ck_assert(wait_gone(o.pid, grandchild));
	outcome_clear(&o);
}
END_TEST

START_TEST(test_escaped_grandchild_does_not_hold_job)
{
	/* It leaves the group (setsid) keeping the pipe; the command waits
	 * until it has, then exits. The job ends anyway. */
	const char *argv[] = { "/bin/sh", "-c",
	    "setsid sleep 60 & p=$!; "
	    "until [ \"$(cut -d' ' -f6 /proc/$p/stat)\" = \"$p\" ]; do :; done; "
	    "echo $p", NULL };
	struct outcome o = { 0 };
	long escaped;

	run(argv, env_std, 5 * RBD_USEC_PER_SEC, &o);
	ck_assert_str_eq(o.detail, "exited with status 0");
	escaped = first_pid(&o);
	ck_assert(proc_alive(escaped));		/* out of our reach, by design */
	ck_assert_int_eq(kill((pid_t)escaped, SIGKILL), 0);
	ck_assert(wait_gone(o.pid, escaped));
	outcome_clear(&o);
}
END_TEST

/* ---- several jobs ---- */

START_TEST(test_two_jobs)
{
	const char *slow[] = { "/bin/sh", "-c", "sleep 0.3; echo slow; exit 1",
	    NULL };
	const char *fast[] = { "/bin/sh", "-c", "echo fast; exit 2", NULL };
	struct outcome a = { 0 }, b = { 0 };

	start(slow, env_std, 0, &a);
	start(fast, env_std, 0, &b);
	ck_assert_uint_eq(rbd_runner_running(runner), 2);
	ck_assert(loop_until(&b.called));
	ck_assert(loop_until(&a.called));
	ck_assert_uint_eq(rbd_runner_running(runner), 0);
	ck_assert_str_eq(a.output, "slow\n");
	ck_assert_str_eq(a.detail, "exited with status 1");
	ck_assert_str_eq(b.output, "fast\n");
	ck_assert_str_eq(b.detail, "exited with status 2");
	ck_assert_int_ne(a.pid, b.pid);
	outcome_clear(&a);
	outcome_clear(&b);
}
END_TEST

/* A second job, started from the first one's callback. */
static struct outcome chained;

/* Callback that starts another job. */
static void on_result_chain(void *arg, const struct rbd_run_result *r)
{
	const char *argv[] = { "/bin/sh", "-c", "echo second", NULL };

	on_result(arg, r);
	start(argv, env_std, 0, &chained);
}

START_TEST(test_start_from_callback)
{
	const char *argv[] = { "/bin/true", NULL };
	struct outcome o = { 0 };

	ck_assert_int_eq(rbd_runner_start(runner, (char *const *)argv, env_std,
	    0, on_result_chain, &o, NULL), 0);
	ck_assert(loop_until(&chained.called));
	ck_assert(o.called);
	ck_assert_str_eq(chained.output, "second\n");
	outcome_clear(&o);
	outcome_clear(&chained);
}
END_TEST

/* Callback that frees the runner (the daemon's last job on a stop). */
static void on_result_free(void *arg, const struct rbd_run_result *r)
{
	on_result(arg, r);
	rbd_runner_free(runner);
	runner = NULL;
}

START_TEST(test_free_from_callback)
{
	const char *quick[] = { "/bin/true", NULL };
	const char *slow[] = { "/bin/sh", "-c", "sleep 60", NULL };
	struct outcome o = { 0 }, other = { 0 };
	struct rbd_job *job = NULL;

	ck_assert_int_eq(rbd_runner_start(runner, (char *const *)quick, env_std,
	    0, on_result_free, &o, &job), 0);
	ck_assert_ptr_nonnull(job);
	start(slow, env_std, 0, &other);
	ck_assert(loop_until(&o.called));
	ck_assert_ptr_null(runner);
	/* The other job was killed with the runner, without a callback. */
	loop_once();
	ck_assert(!other.called);
	outcome_clear(&o);
}
END_TEST

START_TEST(test_free_kills_running)
{
	const char *argv[] = { "/bin/sh", "-c", "trap '' TERM; echo $$; sleep 60",
	    NULL };
	struct outcome o = { 0 };
	uint64_t deadline = now_usec() + DEADLINE_USEC;
	long pid = 0;

	start(argv, env_std, 0, &o);
	while (!(pid = child_pid()) && now_usec() < deadline)
		loop_once();
	ck_assert_int_gt(pid, 0);
	rbd_runner_free(runner);
	runner = NULL;
	ck_assert(wait_gone(pid, 0));
	ck_assert(!o.called);
}
END_TEST

/* ---- shutdown ---- */

struct stopped {
	bool called;
	int order;
};

/* done_cb of rbd_runner_shutdown. */
static void on_stopped(void *arg)
{
	struct stopped *s = arg;

	ck_assert(!s->called);
	s->called = true;
	s->order = ++n_callbacks;
}

START_TEST(test_shutdown_terminates)
{
	const char *argv[] = { "/bin/sh", "-c", "sleep 60", NULL };
	const char *after[] = { "/bin/true", NULL };
	struct outcome a = { 0 }, b = { 0 };
	struct stopped s = { 0 };

	start(argv, env_std, 0, &a);
	start(argv, env_std, 0, &b);
	/* A grace longer than the deadline: ending at all proves SIGTERM. */
	rbd_runner_shutdown(runner, 3600 * RBD_USEC_PER_SEC, on_stopped, &s);
	ck_assert(!s.called);
	ck_assert(loop_until(&s.called));
	ck_assert(a.called && b.called);
	ck_assert_int_eq(s.order, 3);
	ck_assert_int_eq(a.result, RBD_DEPLOY_FAILED);
	ck_assert_str_eq(a.detail, "killed by signal 15 (SIGTERM)");
	ck_assert_str_eq(b.detail, "killed by signal 15 (SIGTERM)");
	ck_assert_uint_eq(rbd_runner_running(runner), 0);
	ck_assert_int_eq(rbd_runner_start(runner, (char *const *)after, env_std,
	    0, on_result, &a, NULL), -ESHUTDOWN);
	outcome_clear(&a);
	outcome_clear(&b);
}
END_TEST

START_TEST(test_shutdown_kills_after_grace)
{
	const char *argv[] = { "/bin/sh", "-c",
	    "trap '' TERM; sleep 60 & echo $!; wait; wait", NULL };
	struct outcome o = { 0 };
	struct stopped s = { 0 };
	long grandchild;

	/* A timeout far away: the shutdown's grace is what counts. */
	start(argv, env_std, 3600 * RBD_USEC_PER_SEC, &o);
	wait_child_ignoring(SIGTERM);
	rbd_runner_shutdown(runner, SMALL_GRACE, on_stopped, &s);
	ck_assert(loop_until(&s.called));
	ck_assert_int_lt(o.order, s.order);
	ck_assert_int_eq(o.result, RBD_DEPLOY_FAILED);
	ck_assert_str_eq(o.detail, "killed by signal 9 (SIGKILL)");
	grandchild = first_pid(&o);
	ck_assert(wait_gone(o.pid, grandchild));
	outcome_clear(&o);
}
END_TEST

/* done_cb that frees the runner, as the daemon may. */
static void on_stopped_free(void *arg)
{
	on_stopped(arg);
	rbd_runner_free(runner);
	runner = NULL;
}

START_TEST(test_shutdown_idle)
{
	struct stopped s = { 0 };

	rbd_runner_shutdown(runner, SMALL_GRACE, on_stopped_free, &s);
	/* On the loop, not from inside the call. */
	ck_assert(!s.called);
	ck_assert(loop_until(&s.called));
	ck_assert_ptr_null(runner);
}
END_TEST

START_TEST(test_sigchld_blocked_at_start)
{
	/* Output closed well before the exit: only SIGCHLD can end it. */
	const char *argv[] = { "/bin/sh", "-c", "exec >&- 2>&-; sleep 0.2; exit 6",
	    NULL };
	struct outcome o = { 0 };
	sigset_t set;

	/* Whoever started the daemon may have left SIGCHLD blocked. */
	rbd_runner_free(runner);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, &set, NULL), 0);
	runner = rbd_runner_new(base);
	ck_assert_ptr_nonnull(runner);
	run(argv, env_std, 0, &o);
	ck_assert_str_eq(o.detail, "exited with status 6");
	outcome_clear(&o);
}
END_TEST

static Suite *runner_suite(void)
{
	Suite *s = suite_create("runner");
	TCase *tc = tcase_create("results");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_results, 0, N_ELEMENTS(results));
	tcase_add_test(tc, test_bad_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("child");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_path_from_envp);
	tcase_add_test(tc, test_environment_is_envp);
	tcase_add_test(tc, test_stdin_is_dev_null);
	tcase_add_test(tc, test_fds_closed);
	tcase_add_test(tc, test_new_session);
	tcase_add_test(tc, test_signals_reset);
	tcase_add_test(tc, test_output_captured);
	tcase_add_test(tc, test_output_capped);
	suite_add_tcase(s, tc);

	tc = tcase_create("kill");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_timeout_term_ignored);
	tcase_add_test(tc, test_timeout_term_obeyed);
	tcase_add_loop_test(tc, test_grandchild_after_exit_killed, 0, 3);
	tcase_add_test(tc, test_escaped_grandchild_does_not_hold_job);
	suite_add_tcase(s, tc);

	tc = tcase_create("runner");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_two_jobs);
	tcase_add_test(tc, test_start_from_callback);
	tcase_add_test(tc, test_free_from_callback);
	tcase_add_test(tc, test_free_kills_running);
	tcase_add_test(tc, test_shutdown_terminates);
	tcase_add_test(tc, test_shutdown_kills_after_grace);
	tcase_add_test(tc, test_shutdown_idle);
	tcase_add_test(tc, test_sigchld_blocked_at_start);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(runner_suite());
}
