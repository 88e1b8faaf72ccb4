/* Unit tests of the unit check's judge (lib/unitcheck.c): states, the
 * restart base, its reset by a manual restart, max_restarts at its edge. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "unitcheck.h"

static struct rbd_unit_probe probe = { .unit = "checkout.service" };

/* Props of a loaded service. */
static struct rbd_unit_props svc(const char *active, const char *sub,
    uint32_t restarts)
{
	struct rbd_unit_props p = { .has_restarts = true, .n_restarts = restarts };

	strcpy(p.load_state, "loaded");
	strcpy(p.active_state, active);
	strcpy(p.sub_state, sub);
	return p;
}

static enum rbd_sample_result judge(struct rbd_unit_props p,
    struct rbd_unit_base *b, char *detail)
{
	return rbd_unit_judge(&probe, &p, b, detail, 256);
}

START_TEST(test_active_ok)
{
	struct rbd_unit_base b = { 0 };
	char d[256];

	probe.max_restarts = 0;
	ck_assert_int_eq(judge(svc("active", "running", 7), &b, d), RBD_SAMPLE_OK);
	ck_assert_str_eq(d, "checkout.service: active (running), 0 restarts "
	    "since the watch began");
	/* the first reading is the base, whatever it is */
	ck_assert(b.set);
	ck_assert_uint_eq(b.n_restarts, 7);
	ck_assert_int_eq(judge(svc("reloading", "reload", 7), &b, d),
	    RBD_SAMPLE_OK);
}
END_TEST

START_TEST(test_not_up)
{
	static const char *const states[][2] = {
		{ "failed", "failed" }, { "inactive", "dead" },
		{ "activating", "auto-restart" }, { "deactivating", "stop-sigterm" },
		{ "activating", "start" },
	};
	struct rbd_unit_base b = { 0 };
	char d[256], want[256];

	probe.max_restarts = 0;
	for (size_t i = 0; i < N_ELEMENTS(states); i++) {
		ck_assert_int_eq(judge(svc(states[i][0], states[i][1], 0), &b, d),
		    RBD_SAMPLE_FAIL);
		snprintf(want, sizeof(want), "checkout.service is %s (%s)",
		    states[i][0], states[i][1]);
		ck_assert_str_eq(d, want);
	}
}
END_TEST

/* A crash loop: the count grows past max_restarts and stays failing even
 * while the unit is up between crashes. */
START_TEST(test_crash_loop)
{
	struct rbd_unit_base b = { 0 };
	char d[256];

	probe.max_restarts = 1;
	ck_assert_int_eq(judge(svc("active", "running", 0), &b, d), RBD_SAMPLE_OK);
	ck_assert_int_eq(judge(svc("active", "running", 1), &b, d), RBD_SAMPLE_OK);
	ck_assert_str_eq(d, "checkout.service: active (running), 1 restart "
	    "since the watch began");
	ck_assert_int_eq(judge(svc("active", "running", 2), &b, d),
	    RBD_SAMPLE_FAIL);
	ck_assert_str_eq(d, "checkout.service restarted 2 times since the watch "
	    "began (max_restarts 1); active (running)");
	ck_assert_int_eq(judge(svc("activating", "auto-restart", 3), &b, d),
	    RBD_SAMPLE_FAIL);
	ck_assert_str_eq(d, "checkout.service restarted 3 times since the watch "
	    "began (max_restarts 1); activating (auto-restart)");
	ck_assert_uint_eq(b.n_restarts, 0);
}
END_TEST

/* systemd resets NRestarts on a manual start: a lower count is a new
 * base, never a huge unsigned growth. */
START_TEST(test_manual_restart_rebases)
{
	struct rbd_unit_base b = { 0 };
	char d[256];

	probe.max_restarts = 0;
	ck_assert_int_eq(judge(svc("active", "running", 5), &b, d), RBD_SAMPLE_OK);
	ck_assert_int_eq(judge(svc("active", "running", 0), &b, d), RBD_SAMPLE_OK);
	ck_assert_uint_eq(b.n_restarts, 0);
	ck_assert_int_eq(judge(svc("active", "running", 1), &b, d),
	    RBD_SAMPLE_FAIL);
	ck_assert_str_eq(d, "checkout.service restarted 1 time since the watch "
	    "began (max_restarts 0); active (running)");
}
END_TEST

START_TEST(test_not_loaded)
{
	struct rbd_unit_base b = { 0 };
	struct rbd_unit_props p = svc("inactive", "dead", 0);
	char d[256];

	strcpy(p.load_state, "not-found");
	ck_assert_int_eq(judge(p, &b, d), RBD_SAMPLE_FAIL);
	ck_assert_str_eq(d, "checkout.service is not loaded: not-found");
	ck_assert(!b.set);
	strcpy(p.load_state, "masked");
	ck_assert_int_eq(judge(p, &b, d), RBD_SAMPLE_FAIL);
	ck_assert_str_eq(d, "checkout.service is not loaded: masked");
}
END_TEST

/* A unit that is not a service has no NRestarts: its state alone. */
START_TEST(test_no_restarts)
{
	struct rbd_unit_base b = { 0 };
	struct rbd_unit_props p = svc("active", "listening", 0);
	struct rbd_unit_probe sock = { .unit = "checkout.socket" };
	char d[256];

	p.has_restarts = false;
	ck_assert_int_eq(rbd_unit_judge(&sock, &p, &b, d, sizeof(d)),
	    RBD_SAMPLE_OK);
	ck_assert_str_eq(d, "checkout.socket: active (listening)");
	ck_assert(!b.set);
}
END_TEST

/* A short buffer truncates, never overflows. */
START_TEST(test_short_detail)
{
	struct rbd_unit_base b = { 0 };
	char d[8];
	struct rbd_unit_props p = svc("active", "running", 0);

	ck_assert_int_eq(rbd_unit_judge(&probe, &p, &b, d, sizeof(d)),
	    RBD_SAMPLE_OK);
	ck_assert_str_eq(d, "checkou");
}
END_TEST

static Suite *unitcheck_suite(void)
{
	Suite *s = suite_create("unitcheck");
	TCase *tc = tcase_create("judge");

	tcase_add_test(tc, test_active_ok);
	tcase_add_test(tc, test_not_up);
	tcase_add_test(tc, test_crash_loop);
	tcase_add_test(tc, test_manual_restart_rebases);
	tcase_add_test(tc, test_not_loaded);
	tcase_add_test(tc, test_no_restarts);
	tcase_add_test(tc, test_short_detail);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(unitcheck_suite());
}
