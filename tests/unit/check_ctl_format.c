/* rollbackctl's human output for what issue 6 added to status and
 * history: a dry-run, a pause, a down-migration, the schema, the loop
 * breaker's count and the guards, in words, from canned replies. Times
 * are local: the tests run in UTC. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_format.h"
#include "duration.h"
#include "testutil.h"

/* 2026-11-27 10:42:09 UTC. */
#define NOW	(UINT64_C(1795776129) * RBD_USEC_PER_SEC)
#define SEC	RBD_USEC_PER_SEC

/* What f printed into a memory stream, for comparing; free() it. */
struct capture {
	FILE *f;
	char *buf;
	size_t len;
};

static void cap_open(struct capture *c)
{
	c->buf = NULL;
	c->len = 0;
	c->f = open_memstream(&c->buf, &c->len);
	ck_assert_ptr_nonnull(c->f);
}

static char *cap_close(struct capture *c)
{
	ck_assert_int_eq(fclose(c->f), 0);
	return c->buf;
}

/* A reply from JSON text, with "%llu" for times filled in by the caller. */
static json_t *reply(const char *text)
{
	json_error_t e;
	json_t *r = json_loads(text, 0, &e);

	ck_assert_msg(r != NULL, "%s: %s", text, e.text);
	return r;
}

/* Status of every service: the table marks the state, and a line after
 * it says what a person must know, for the services that need one. */
START_TEST(test_status_every_service)
{
	char text[4096], *out;
	struct capture c;
	json_t *r;

	snprintf(text, sizeof(text), "{\"ok\":true,\"services\":["
	    "{\"service\":\"billing\",\"state\":\"held\",\"live\":\"v7\","
	    "\"known_good\":\"v6\",\"since\":%llu,\"reason\":\"dry-run: would "
	    "have rolled back\",\"mode\":\"dry-run\",\"paused\":null},"
	    "{\"service\":\"checkout\",\"state\":\"idle\",\"live\":\"v2.4.1\","
	    "\"known_good\":\"v2.4.1\",\"since\":%llu,\"reason\":\"promoted\","
	    "\"mode\":\"enforce\",\"paused\":{\"by\":\"uid 0 pid 42\","
	    "\"reason\":\"db maintenance\",\"until\":%llu}},"
	    "{\"service\":\"orders\",\"state\":\"rolling_back\",\"live\":"
	    "\"v2.5.0\",\"known_good\":\"v2.4.1\",\"target\":\"v2.4.1\","
	    "\"since\":%llu,\"reason\":\"degraded\",\"deploying\":true,"
	    "\"migrating\":true,\"schema\":43,\"target_schema\":42},"
	    "{\"service\":\"search\",\"state\":\"held\",\"live\":\"v3\","
	    "\"known_good\":\"v2\",\"since\":%llu,\"reason\":\"guard db "
	    "failing\",\"guards\":[{\"name\":\"db\",\"last\":\"fail\","
	    "\"detail\":\"connection refused\",\"fails\":3,\"fail_after\":3,"
	    "\"failing\":true,\"failing_since\":%llu},{\"name\":\"cache\","
	    "\"last\":\"ok\",\"failing\":false}]},"
	    "{\"service\":\"web\",\"state\":\"idle\",\"live\":\"v1\","
	    "\"known_good\":\"v1\",\"since\":%llu,\"reason\":\"promoted\","
	    "\"mode\":\"enforce\",\"paused\":null,\"migrating\":false,"
	    "\"guards\":[{\"name\":\"db\",\"last\":\"ok\",\"failing\":false}]}"
	    "]}",
	    (unsigned long long)(NOW - 60 * SEC),
	    (unsigned long long)(NOW - 3600 * SEC),
	    (unsigned long long)(NOW + 598 * SEC),
	    (unsigned long long)(NOW - 5 * SEC),
	    (unsigned long long)(NOW - 120 * SEC),
	    (unsigned long long)(NOW - 600 * SEC),
	    (unsigned long long)(NOW - 7 * 86400 * SEC));
	r = reply(text);
	cap_open(&c);
	ck_assert_int_eq(rbd_ctl_print_status(c.f, r, NOW, false), 0);
	out = cap_close(&c);
	ck_assert_str_eq(out,
	    "SERVICE   STATE                                    LIVE    KNOWN-GOOD  SINCE   REASON\n"
	    "billing   held (dry-run)                           v7      v6          1m ago  dry-run: would have rolled back\n"
	    "checkout  idle (paused)                            v2.4.1  v2.4.1      1h ago  promoted\n"
	    "orders    rolling_back to v2.4.1 (migrating down)  v2.5.0  v2.4.1      5s ago  degraded\n"
	    "search    held                                     v3      v2          2m ago  guard db failing\n"
	    "web       idle                                     v1      v1          7d ago  promoted\n"
	    "\n"
	    "billing: DRY-RUN: judging only, nothing is run\n"
	    "checkout: paused by uid 0 pid 42 until 10:52:07 (in 9m58s): db maintenance\n"
	    "orders: running migrate_down 43 -> 42 before deploying v2.4.1\n"
	    "search: guard db: FAILING since 10:32:09 (connection refused)\n");
	free(out);
	json_decref(r);
}
END_TEST

/* Print a one-service status of reply text (with checks). */
static char *status_one(const char *text)
{
	struct capture c;
	json_t *r = reply(text);

	cap_open(&c);
	ck_assert_int_eq(rbd_ctl_print_status(c.f, r, NOW, true), 0);
	json_decref(r);
	return cap_close(&c);
}

/* One service: everything there is to say, in words. */
START_TEST(test_status_one_service)
{
	char text[4096], *out;

	snprintf(text, sizeof(text), "{\"ok\":true,\"services\":["
	    "{\"service\":\"checkout\",\"state\":\"watching\",\"live\":"
	    "\"v2.5.0\",\"known_good\":\"v2.4.1\",\"since\":%llu,\"reason\":"
	    "\"v2.5.0 announced\",\"mode\":\"dry-run\",\"paused\":{\"by\":"
	    "\"uid 0 pid 42\",\"reason\":null,\"until\":null},\"schema\":43,"
	    "\"schema_before\":42,\"migration\":\"irreversible\","
	    "\"migrating\":false,\"target_schema\":null,"
	    "\"automatic_rollbacks\":{\"count\":1,\"max\":3,\"per_usec\":3600000000},"
	    "\"guards\":[{\"name\":\"postgres\",\"last\":\"fail\",\"detail\":"
	    "\"connection refused\",\"fails\":3,\"fail_after\":3,\"failing\":"
	    "true,\"failing_since\":%llu},{\"name\":\"redis\",\"last\":\"ok\","
	    "\"detail\":\"PONG\",\"fails\":0,\"fail_after\":3,\"failing\":false,"
	    "\"failing_since\":null},{\"name\":\"api\",\"last\":\"fail\","
	    "\"detail\":\"HTTP 503\",\"fails\":1,\"fail_after\":3,\"failing\":"
	    "false,\"failing_since\":null},{\"name\":\"queue\",\"last\":null,"
	    "\"detail\":null,\"fails\":0,\"fail_after\":2,\"failing\":false,"
	    "\"failing_since\":null},{\"name\":\"dns\",\"last\":\"unknown\","
	    "\"detail\":\"timed out\",\"fails\":0,\"fail_after\":2,\"failing\":"
	    "false,\"failing_since\":null}],"
	    "\"checks\":[{\"name\":\"healthz\",\"type\":\"http\",\"last\":\"ok\","
	    "\"detail\":\"HTTP 200\",\"fails\":0,\"fail_after\":3,\"unknowns\":0,"
	    "\"inconclusive_after\":5}]}]}",
	    (unsigned long long)(NOW - 60 * SEC),
	    (unsigned long long)(NOW - 2 * 86400 * SEC));
	out = status_one(text);
	ck_assert_str_eq(out,
	    "SERVICE   STATE                       LIVE    KNOWN-GOOD  SINCE   REASON\n"
	    "checkout  watching (dry-run, paused)  v2.5.0  v2.4.1      1m ago  v2.5.0 announced\n"
	    "\n"
	    "DRY-RUN: judging only, nothing is run\n"
	    "paused by uid 0 pid 42 until resumed\n"
	    "schema 43 (irreversible migration from 42)\n"
	    "automatic rollbacks: 1 of 3 in the last 1h\n"
	    "guard postgres: FAILING since 2026-11-25 10:42:09 (connection refused)\n"
	    "guard redis: ok\n"
	    "guard api: ok so far, 1/3 failing samples in a row (HTTP 503)\n"
	    "guard queue: no sample yet\n"
	    "guard dns: ok, last sample: unknown (timed out)\n"
	    "\n"
	    "CHECK    LAST  FAILS  NO-DATA  DETAIL\n"
	    "healthz  ok    0/3    0/5      HTTP 200\n");
	free(out);
}
END_TEST

/* The loop breaker at its limit, and off; a down-migration; schemas
 * without a migration or without the one before. */
static const struct {
	const char *fields;	/* the service object's new fields */
	const char *notes;	/* what status says of them */
} notes_cases[] = {
	{ "\"automatic_rollbacks\":{\"count\":3,\"max\":3,\"per_usec\":5400000000}",
	  "automatic rollbacks: 3 of 3 in the last 1h30m (the limit: a degraded "
	  "release is held, not rolled back)\n" },
	{ "\"automatic_rollbacks\":{\"count\":0,\"max\":0,\"per_usec\":3600000000}",
	  "automatic rollbacks: off (rollback.max_automatic 0); a degraded "
	  "release is held\n" },
	{ "\"schema\":43,\"schema_before\":42,\"migration\":\"reversible\","
	  "\"migrating\":true,\"target_schema\":42,\"target\":\"v2.4.1\"",
	  "running migrate_down 43 -> 42 before deploying v2.4.1\n"
	  "schema 43 (reversible migration from 42)\n" },
	{ "\"schema\":7,\"schema_before\":7,\"migration\":\"none\"",
	  "schema 7\n" },
	{ "\"schema\":0,\"schema_before\":null,\"migration\":\"irreversible\"",
	  "schema 0 (irreversible migration)\n" },
	{ "\"schema\":null,\"schema_before\":null,\"migration\":\"none\","
	  "\"mode\":\"enforce\",\"paused\":null,\"guards\":[]", "" },
	/* A pause whose end has come, one tomorrow, one in 59m59.5s: a
	 * countdown rounds up. */
	{ "\"paused\":{\"by\":\"uid 1000 pid 7\",\"reason\":\"deploy freeze\","
	  "\"until\":1795776129000000}",
	  "paused by uid 1000 pid 7 until 10:42:09 (ending now): deploy freeze\n" },
	{ "\"paused\":{\"by\":\"uid 1000 pid 7\",\"reason\":null,"
	  "\"until\":1795862529000000}",
	  "paused by uid 1000 pid 7 until 2026-11-28 10:42:09 (in 1d)\n" },
	{ "\"artifact_warning\":\"rollback target v0 has no release directory "
	  "/srv/r/v0: a rollback would fail\"",
	  "WARNING: rollback target v0 has no release directory /srv/r/v0: a "
	  "rollback would fail\n" },
	{ "\"artifact_warning\":null", "" },
	{ "\"paused\":{\"by\":\"uid 1000 pid 7\",\"reason\":\"a\\u001b[2Jb\","
	  "\"until\":1795779728500000}",
	  "paused by uid 1000 pid 7 until 11:42:08 (in 1h): a\\x1b[2Jb\n" },
	/* Remedies: settling, with a countdown; the action running. */
	{ "\"remedy\":{\"name\":\"flag-off\",\"index\":1,\"of\":2,"
	  "\"settling\":true,\"settle_until\":1795776154000000,\"why\":\"x\"}",
	  "remedying: trying flag-off (1 of 2), settling until 10:42:34 (in 25s)\n" },
	{ "\"remedy\":{\"name\":\"flag-off\",\"index\":2,\"of\":2,"
	  "\"settling\":false,\"settle_until\":null,\"why\":\"x\"}",
	  "remedying: trying flag-off (2 of 2), its action running\n" },
	{ "\"remedy\":null", "" },
};

START_TEST(test_status_notes)
{
	char text[2048], want[2048], *out;

	snprintf(text, sizeof(text), "{\"ok\":true,\"services\":["
	    "{\"service\":\"checkout\",\"state\":\"idle\",\"live\":\"v1\","
	    "\"known_good\":\"v1\",\"since\":%llu,\"reason\":\"promoted\",%s}]}",
	    (unsigned long long)(NOW - 60 * SEC), notes_cases[_i].fields);
	out = status_one(text);
	/* Past the table's two lines. */
	snprintf(want, sizeof(want), "%s%s", *notes_cases[_i].notes ? "\n" : "",
	    notes_cases[_i].notes);
	ck_assert_ptr_nonnull(strchr(strchr(out, '\n') + 1, '\n'));
	ck_assert_str_eq(strchr(strchr(out, '\n') + 1, '\n') + 1, want);
	free(out);
}
END_TEST

/* A daemon from before issue 6: the output is what it always was. */
START_TEST(test_status_old_daemon)
{
	char text[1024], *out;
	struct capture c;
	json_t *r;

	snprintf(text, sizeof(text), "{\"ok\":true,\"services\":["
	    "{\"service\":\"checkout\",\"state\":\"idle\",\"live\":\"v1\","
	    "\"known_good\":\"v1\",\"since\":%llu,\"reason\":\"promoted\","
	    "\"deploying\":false,\"checks\":[]}]}",
	    (unsigned long long)(NOW - 60 * SEC));
	out = status_one(text);
	ck_assert_str_eq(out,
	    "SERVICE   STATE  LIVE  KNOWN-GOOD  SINCE   REASON\n"
	    "checkout  idle   v1    v1          1m ago  promoted\n");
	free(out);
	r = reply(text);
	cap_open(&c);
	ck_assert_int_eq(rbd_ctl_print_status(c.f, r, NOW, false), 0);
	out = cap_close(&c);
	ck_assert_str_eq(out,
	    "SERVICE   STATE  LIVE  KNOWN-GOOD  SINCE   REASON\n"
	    "checkout  idle   v1    v1          1m ago  promoted\n");
	free(out);
	json_decref(r);
}
END_TEST

/* History names the new events in words; the reason says the rest. */
START_TEST(test_history_events)
{
	static const char *const events[][2] = {
		{ "guarded", "held: guard failing" },
		{ "loop-breaker", "held: too many rollbacks" },
		{ "would-roll-back", "would roll back (not run)" },
		{ "paused", "paused" },
		{ "resumed", "resumed" },
		{ "migrated-down", "schema migrated down" },
		{ "migration-failed", "migrate_down failed" },
		{ "degraded", "degraded" },
		{ "some-new-event", "some-new-event" },
	};
	char text[512], want[512], *out;
	struct capture c;
	json_t *r;

	for (size_t i = 0; i < N_ELEMENTS(events); i++) {
		snprintf(text, sizeof(text), "{\"ok\":true,\"service\":\"demo\","
		    "\"events\":[{\"id\":1,\"at\":%llu,\"event\":\"%s\",\"from\":"
		    "\"watching\",\"to\":\"held\",\"release\":\"v2\",\"target\":null,"
		    "\"actor\":null,\"reason\":\"why\"}]}",
		    (unsigned long long)NOW, events[i][0]);
		r = reply(text);
		cap_open(&c);
		ck_assert_int_eq(rbd_ctl_print_history(c.f, r), 0);
		out = cap_close(&c);
		snprintf(want, sizeof(want), "2026-11-27 10:42:09  %s  "
		    "watching -> held  v2  why\n", events[i][1]);
		ck_assert_str_eq(out, want);
		free(out);
		json_decref(r);
	}
	/* A pause by an operator: said once, by whom. */
	snprintf(text, sizeof(text), "{\"ok\":true,\"service\":\"demo\","
	    "\"events\":[{\"id\":2,\"at\":%llu,\"event\":\"resumed\",\"from\":"
	    "\"idle\",\"to\":\"idle\",\"release\":\"v1\",\"target\":null,"
	    "\"actor\":\"uid 0 pid 9\",\"reason\":\"pause ended\"},{\"id\":1,"
	    "\"at\":%llu,\"event\":\"paused\",\"from\":\"idle\",\"to\":\"idle\","
	    "\"release\":\"v1\",\"target\":null,\"actor\":\"uid 0 pid 8\","
	    "\"reason\":\"paused by uid 0 pid 8 for 10m\"}]}",
	    (unsigned long long)NOW, (unsigned long long)(NOW - 60 * SEC));
	r = reply(text);
	cap_open(&c);
	ck_assert_int_eq(rbd_ctl_print_history(c.f, r), 0);
	out = cap_close(&c);
	ck_assert_str_eq(out,
	    "2026-11-27 10:42:09  resumed  idle -> idle  v1  pause ended (by uid 0 pid 9)\n"
	    "2026-11-27 10:41:09  paused   idle -> idle  v1  paused by uid 0 pid 8 for 10m\n");
	free(out);
	json_decref(r);
}
END_TEST

/* The replies to pause and resume. */
START_TEST(test_paused_reply)
{
	static const struct {
		const char *reply;
		bool resumed;
		const char *out;
	} cases[] = {
		{ "{\"ok\":true,\"service\":\"demo\",\"state\":\"idle\",\"live\":"
		  "\"v1\",\"reason\":\"promoted\",\"paused\":{\"by\":\"uid 0 pid 4\","
		  "\"reason\":\"db maintenance\",\"until\":1795776729000000}}", false,
		  "demo: paused by uid 0 pid 4 until 10:52:09 (in 10m): db maintenance\n" },
		{ "{\"ok\":true,\"service\":\"demo\",\"state\":\"held\",\"live\":"
		  "\"v2\",\"reason\":\"x\",\"paused\":{\"by\":\"uid 0 pid 4\","
		  "\"reason\":null,\"until\":null}}", false,
		  "demo: paused by uid 0 pid 4 until resumed\n" },
		{ "{\"ok\":true,\"service\":\"demo\",\"state\":\"idle\",\"live\":"
		  "\"v1\",\"reason\":\"promoted\",\"paused\":null}", true,
		  "demo: resumed: automatic actions run again (idle v1)\n" },
		{ "{\"ok\":true,\"service\":\"demo\",\"state\":\"idle\","
		  "\"reason\":\"promoted\"}", false,
		  "demo: not paused: automatic actions run (idle)\n" },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct capture c;
		json_t *r = reply(cases[i].reply);
		char *out;

		cap_open(&c);
		rbd_ctl_print_paused(c.f, r, NOW, cases[i].resumed);
		out = cap_close(&c);
		ck_assert_str_eq(out, cases[i].out);
		free(out);
		json_decref(r);
	}
}
END_TEST

/* Drill: status says when the last drill passed, or failed and why, and
 * the schedule; every service's table only when the last one failed. */
static const struct {
	const char *drill;	/* the "drill" object */
	const char *one;	/* the drill line with one service */
	bool every;		/* the line in every service's status too */
} drill_status_cases[] = {
	{ "{\"phase\":\"none\",\"last\":null,\"last_passed\":null,"
	  "\"schedule\":null}", "never drilled; not scheduled\n", false },
	{ "{\"phase\":\"none\",\"last\":{\"result\":\"passed\",\"at\":"
	  "1795516929000000,\"reason\":\"passed\"},\"last_passed\":"
	  "1795516929000000,\"schedule\":{\"every\":\"7d\",\"window\":"
	  "\"Tue 10:00-12:00\",\"next\":1795860000000000}}",
	  "last drill passed 3d ago; scheduled every 7d in Tue 10:00-12:00, "
	  "next 2026-11-28 10:00:00\n", false },
	{ "{\"phase\":\"none\",\"last\":{\"result\":\"failed\",\"at\":"
	  "1795768929000000,\"reason\":\"v2.4.1 unhealthy: healthz: HTTP 500\"},"
	  "\"last_passed\":1794998529000000,\"schedule\":null}",
	  "last drill FAILED 2h ago: v2.4.1 unhealthy: healthz: HTTP 500; last "
	  "passed 9d ago; not scheduled\n", true },
	{ "{\"phase\":\"verify-back\",\"live\":\"v2\",\"target\":\"v1\","
	  "\"aborting\":true,\"last\":{\"result\":\"aborted\",\"at\":"
	  "1795776069000000,\"reason\":\"aborted\"},\"last_passed\":null,"
	  "\"schedule\":null}",
	  "last drill aborted 1m ago; never passed; drilling now (verify-back, "
	  "v2 -> v1 -> v2, aborting); not scheduled\n", false },
};

START_TEST(test_status_drill)
{
	char text[2048], want[1024], *out;
	struct capture c;
	json_t *r;

	snprintf(text, sizeof(text), "{\"ok\":true,\"services\":["
	    "{\"service\":\"checkout\",\"state\":\"idle\",\"live\":\"v2\","
	    "\"known_good\":\"v2\",\"since\":%llu,\"reason\":\"x\","
	    "\"drill\":%s}]}", (unsigned long long)(NOW - 60 * SEC),
	    drill_status_cases[_i].drill);
	out = status_one(text);
	snprintf(want, sizeof(want), "\n%s", drill_status_cases[_i].one);
	ck_assert_str_eq(strchr(strchr(out, '\n') + 1, '\n') + 1, want);
	free(out);
	r = reply(text);
	cap_open(&c);
	ck_assert_int_eq(rbd_ctl_print_status(c.f, r, NOW, false), 0);
	out = cap_close(&c);
	snprintf(want, sizeof(want), "\ncheckout: %s",
	    drill_status_cases[_i].one);
	if (drill_status_cases[_i].every)
		ck_assert_str_eq(strchr(strchr(out, '\n') + 1, '\n') + 1, want);
	else
		ck_assert_ptr_null(strstr(out, "drill"));
	free(out);
	json_decref(r);
}
END_TEST

/* Drill: the report, from a drill's verdict. */
START_TEST(test_drill_report)
{
	static const char leg[] =
	    "{\"step\":\"%s\",\"version\":\"%s\",\"from_version\":\"%s\","
	    "\"command\":[\"/usr/bin/deploy\",\"--version\",\"%s\",\"a b\"],"
	    "\"state\":\"%s\",\"deploy_usec\":%s,\"healthy_usec\":%s,"
	    "\"verify_usec\":%s}";
	char l1[512], l2[512], text[2048], *out;
	struct capture c;
	json_t *r;

	snprintf(l1, sizeof(l1), leg, "rollback", "v1", "v2", "v1", "unhealthy",
	    "12345678", "null", "50000000");
	snprintf(l2, sizeof(l2), leg, "roll forward", "v2", "v1", "v2",
	    "verified", "850000", "31000000", "300000000");
	snprintf(text, sizeof(text), "{\"event\":\"verdict\",\"service\":"
	    "\"checkout\",\"version\":\"v2\",\"verdict\":\"drill_failed\","
	    "\"reason\":\"...\",\"state\":\"idle\",\"drill\":{\"phase\":\"none\","
	    "\"live\":\"v2\",\"target\":\"v1\",\"failure\":\"v1 unhealthy: "
	    "healthz: HTTP 500\",\"steps\":[%s,%s]}}", l1, l2);
	r = reply(text);
	cap_open(&c);
	rbd_ctl_print_drill_report(c.f, r);
	out = cap_close(&c);
	ck_assert_str_eq(out,
	    "drill of checkout: v2 -> v1 -> v2\n"
	    "  1. rollback to v1 (from v2): unhealthy\n"
	    "     command: /usr/bin/deploy --version v1 'a b'\n"
	    "     deploy command 12.3s, never healthy, UNHEALTHY after 50.0s\n"
	    "  2. roll forward to v2 (from v1): verified\n"
	    "     command: /usr/bin/deploy --version v2 'a b'\n"
	    "     deploy command 850ms, healthy after 31.0s, verified for 5m\n"
	    "verdict: FAILED: v1 unhealthy: healthz: HTTP 500\n");
	free(out);
	json_decref(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl_format");
	TCase *tc = tcase_create("issue6");

	setenv("TZ", "UTC", 1);
	tzset();
	tcase_add_test(tc, test_status_every_service);
	tcase_add_test(tc, test_status_one_service);
	tcase_add_loop_test(tc, test_status_notes, 0, N_ELEMENTS(notes_cases));
	tcase_add_test(tc, test_status_old_daemon);
	tcase_add_test(tc, test_history_events);
	tcase_add_test(tc, test_paused_reply);
	tcase_add_loop_test(tc, test_status_drill, 0,
	    N_ELEMENTS(drill_status_cases));
	tcase_add_test(tc, test_drill_report);
	suite_add_tcase(s, tc);
	return rbd_test_run(s);
}
