/* The release-directory deployer (daemon/deploy_dir.c) on a real file
 * system and a real loop: the switch and its refusals, the artifact and
 * current look-ups, the job with a restart command, a unit restart with
 * no bus, and a concurrent reader that must never find current missing
 * while the switch runs again and again. (The sd-bus restart itself is
 * tested against a fake systemd in check_bus.c.) */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "deploy_dir.h"
#include "duration.h"
#include "policy.h"
#include "runner.h"
#include "testutil.h"

#define DEADLINE_USEC	(10 * RBD_USEC_PER_SEC)

static char root[] = "/tmp/check_deploy_dir.XXXXXX";
static char rel[128], cur[128];
static struct event_base *base;
static struct rbd_runner *runner;

/* For nftw: remove one entry. */
static int remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* A fresh directory with releases/v1, releases/v2 and a file "v-file". */
static void setup(void)
{
	char p[256];
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(rel, sizeof(rel), "%s/releases", root);
	snprintf(cur, sizeof(cur), "%s/current", root);
	ck_assert_int_eq(mkdir(rel, 0755), 0);
	snprintf(p, sizeof(p), "%s/v1", rel);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/v2", rel);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/v-file", rel);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	runner = rbd_runner_new(base);
	ck_assert_ptr_nonnull(runner);
}

static void teardown(void)
{
	rbd_runner_free(runner);
	event_base_free(base);
	nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* current's text, or "" when there is no link. */
static const char *link_text(void)
{
	static char buf[512];
	ssize_t n = readlink(cur, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* How many entries root holds (no temporary link may be left). */
static int entries(void)
{
	char cmd[256];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A %s | wc -l", root);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

START_TEST(test_switch)
{
	char why[512], want[256], v[RBD_VERSION_MAX + 1] = "untouched";

	ck_assert_int_eq(rbd_deploy_dir_current(rel, cur, v), -ENOENT);
	ck_assert_int_eq(rbd_deploy_dir_switch(rel, cur, "v1", why, sizeof(why)), 0);
	snprintf(want, sizeof(want), "current -> %s/v1", rel);
	ck_assert_str_eq(why, want);
	snprintf(want, sizeof(want), "%s/v1", rel);
	ck_assert_str_eq(link_text(), want);
	ck_assert_int_eq(rbd_deploy_dir_current(rel, cur, v), 0);
	ck_assert_str_eq(v, "v1");
	ck_assert_int_eq(rbd_deploy_dir_switch(rel, cur, "v2", why, sizeof(why)), 0);
	ck_assert_int_eq(rbd_deploy_dir_current(rel, cur, v), 0);
	ck_assert_str_eq(v, "v2");
	/* Idempotent: deploying v2 again changes nothing. */
	ck_assert_int_eq(rbd_deploy_dir_switch(rel, cur, "v2", why, sizeof(why)), 0);
	ck_assert_int_eq(entries(), 2);		/* releases, current */
}
END_TEST

START_TEST(test_switch_refused)
{
	char why[512], want[256];

	ck_assert_int_eq(rbd_deploy_dir_switch(rel, cur, "v1", why, sizeof(why)), 0);
	ck_assert_int_eq(rbd_deploy_dir_switch(rel, cur, "v9", why, sizeof(why)),
	    -ENOENT);
	snprintf(want, sizeof(want), "release directory %s/v9 does not exist", rel);
	ck_assert_str_eq(why, want);
	ck_assert_int_eq(rbd_deploy_dir_switch(rel, cur, "v-file", why,
	    sizeof(why)), -ENOTDIR);
	snprintf(want, sizeof(want), "release directory %s/v-file is not a "
	    "directory", rel);
	ck_assert_str_eq(why, want);
	ck_assert_int_eq(rbd_deploy_dir_switch(rel, cur, "..", why, sizeof(why)),
	    -EINVAL);
	snprintf(want, sizeof(want), "release directory %s/..: not a valid "
	    "release name", rel);
	ck_assert_str_eq(why, want);
	snprintf(want, sizeof(want), "%s/v1", rel);
	ck_assert_str_eq(link_text(), want);	/* untouched */
	/* A real directory as current is not replaced. */
	ck_assert_int_eq(unlink(cur), 0);
	ck_assert_int_eq(mkdir(cur, 0755), 0);
	ck_assert_int_eq(rbd_deploy_dir_switch(rel, cur, "v2", why, sizeof(why)),
	    -EISDIR);
	snprintf(want, sizeof(want), "current %s is a directory, not a symlink: "
	    "move it away once", cur);
	ck_assert_str_eq(why, want);
	ck_assert_int_eq(entries(), 2);
}
END_TEST

START_TEST(test_artifact)
{
	char why[512] = "untouched", want[256];

	ck_assert_int_eq(rbd_deploy_dir_artifact(rel, "v1", why, sizeof(why)), 0);
	ck_assert_str_eq(why, "untouched");
	ck_assert_int_eq(rbd_deploy_dir_artifact(rel, "v7", why, sizeof(why)),
	    -ENOENT);
	snprintf(want, sizeof(want), "%s/v7 does not exist", rel);
	ck_assert_str_eq(why, want);
}
END_TEST

/* A reader process hammers current while the switch runs 2000 times:
 * readlink and stat must never fail. */
START_TEST(test_switch_atomic)
{
	char why[512], stop[256];
	int status;
	pid_t pid;

	ck_assert_int_eq(rbd_deploy_dir_switch(rel, cur, "v1", why, sizeof(why)), 0);
	snprintf(stop, sizeof(stop), "%s/stop", root);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct stat st;
		char buf[512];
		long n = 0, fails = 0;

		while (access(stop, F_OK) < 0 || n < 1000) {
			n++;
			if (readlink(cur, buf, sizeof(buf)) < 0 || stat(cur, &st) < 0)
				fails++;
		}
		_exit(fails ? 1 : 0);
	}
	for (int i = 0; i < 2000; i++)
		ck_assert_int_eq(rbd_deploy_dir_switch(rel, cur, i % 2 ? "v1" : "v2",
		    why, sizeof(why)), 0);
	close(open(stop, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the reader found current missing");
}
END_TEST

/* ---- the job ---- */

struct outcome {
	bool done;
	enum rbd_deploy_result result;
	char detail[1024];
	char output[256];
};

static void on_result(void *arg, const struct rbd_run_result *r)
{
	struct outcome *o = arg;

	o->done = true;
	o->result = r->result;
	snprintf(o->detail, sizeof(o->detail), "%s", r->detail);
	snprintf(o->output, sizeof(o->output), "%s", r->output ? r->output : "");
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Run the loop until o is done (bounded). */
static void wait_done(struct outcome *o)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert(!o->done);	/* never from within the start */
	while (!o->done) {
		struct timeval tv = { 0, 20000 };
		struct event *tick = evtimer_new(base, on_tick, NULL);

		evtimer_add(tick, &tv);
		event_base_loop(base, EVLOOP_ONCE);
		event_free(tick);
		clock_gettime(CLOCK_MONOTONIC, &t);
		ck_assert_msg((uint64_t)(t.tv_sec - t0.tv_sec) < DEADLINE_USEC / RBD_USEC_PER_SEC,
		    "no result");
	}
}

/* A policy of the release-directory kind (only what the job reads). */
static struct rbd_policy policy_dir(const char *unit)
{
	struct rbd_policy p = { 0 };

	p.deploy_releases = rel;
	p.deploy_current = cur;
	p.deploy_restart_unit = (char *)unit;
	p.deploy_timeout_usec = 5 * RBD_USEC_PER_SEC;
	return p;
}

START_TEST(test_job_command)
{
	struct rbd_policy p = policy_dir(NULL);
	char *ok_argv[] = { "/bin/sh", "-c", "echo restarted; readlink current", NULL };
	char *bad_argv[] = { "/bin/sh", "-c", "exit 3", NULL };
	char *env[] = { "PATH=/usr/bin:/bin", NULL };
	struct rbd_deploy_dir *dd;
	struct outcome o = { 0 };
	char want[1024];

	/* The command runs in the daemon's working directory: cd first. */
	ck_assert_int_eq(chdir(root), 0);
	ck_assert_int_eq(rbd_deploy_dir_start(base, runner, NULL, &p, "t", "v2",
	    ok_argv, env, on_result, &o, &dd), 0);
	wait_done(&o);
	ck_assert_int_eq(o.result, RBD_DEPLOY_OK);
	snprintf(want, sizeof(want), "current -> %s/v2; restart_command exited "
	    "with status 0", rel);
	ck_assert_str_eq(o.detail, want);
	/* The command saw the new link. */
	snprintf(want, sizeof(want), "restarted\n%s/v2\n", rel);
	ck_assert_str_eq(o.output, want);

	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(rbd_deploy_dir_start(base, runner, NULL, &p, "t", "v1",
	    bad_argv, env, on_result, &o, &dd), 0);
	wait_done(&o);
	ck_assert_int_eq(o.result, RBD_DEPLOY_FAILED);
	snprintf(want, sizeof(want), "current -> %s/v1; restart_command exited "
	    "with status 3", rel);
	ck_assert_str_eq(o.detail, want);

	/* A missing release: refused before anything runs. */
	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(rbd_deploy_dir_start(base, runner, NULL, &p, "t", "v9",
	    ok_argv, env, on_result, &o, &dd), 0);
	wait_done(&o);
	ck_assert_int_eq(o.result, RBD_DEPLOY_FAILED);
	snprintf(want, sizeof(want), "release directory %s/v9 does not exist", rel);
	ck_assert_str_eq(o.detail, want);
	snprintf(want, sizeof(want), "%s/v1", rel);
	ck_assert_str_eq(link_text(), want);
}
END_TEST

START_TEST(test_job_no_bus)
{
	struct rbd_policy p = policy_dir("app.service");
	char *env[] = { "PATH=/usr/bin:/bin", NULL };
	struct rbd_deploy_dir *dd;
	struct outcome o = { 0 };
	char want[1024];

	ck_assert_int_eq(rbd_deploy_dir_start(base, runner, NULL, &p, "t", "v1",
	    NULL, env, on_result, &o, &dd), 0);
	wait_done(&o);
	ck_assert_int_eq(o.result, RBD_DEPLOY_FAILED);
	snprintf(want, sizeof(want), "current -> %s/v1; cannot restart "
	    "app.service: no system bus", rel);
	ck_assert_str_eq(o.detail, want);
}
END_TEST

/* A job forgotten before its end calls nobody. */
START_TEST(test_job_free)
{
	struct rbd_policy p = policy_dir(NULL);
	char *argv[] = { "/bin/sh", "-c", "exit 0", NULL };
	char *env[] = { "PATH=/usr/bin:/bin", NULL };
	struct rbd_deploy_dir *dd = NULL;
	struct outcome o = { 0 };

	ck_assert_int_eq(rbd_deploy_dir_start(base, runner, NULL, &p, "t", "v1",
	    argv, env, on_result, &o, &dd), 0);
	rbd_deploy_dir_free(dd);
	for (int i = 0; i < 50 && rbd_runner_running(runner); i++) {
		struct timeval tv = { 0, 20000 };
		struct event *tick = evtimer_new(base, on_tick, NULL);

		evtimer_add(tick, &tv);
		event_base_loop(base, EVLOOP_ONCE);
		event_free(tick);
	}
	ck_assert_uint_eq(rbd_runner_running(runner), 0);
	ck_assert(!o.done);
}
END_TEST

static Suite *deploy_dir_suite(void)
{
	Suite *s = suite_create("deploy_dir");
	TCase *tc = tcase_create("switch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_switch);
	tcase_add_test(tc, test_switch_refused);
	tcase_add_test(tc, test_artifact);
	tcase_add_test(tc, test_switch_atomic);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	tc = tcase_create("job");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_job_command);
	tcase_add_test(tc, test_job_no_bus);
	tcase_add_test(tc, test_job_free);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(deploy_dir_suite());
}
