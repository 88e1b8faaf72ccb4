/* The release-directory deployer's pure paths: what a policy may name,
 * where a release lives, what a link says, and what prune may remove. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reldir.h"
#include "testutil.h"

static const struct {
	const char *in;
	const char *why;	/* NULL: accepted */
} paths[] = {
	{ "/srv/checkout/releases", NULL },
	{ "/a", NULL },
	{ "/srv/.hidden/x", NULL },
	{ "/srv/a..b", NULL },
	{ "", "must not be empty" },
	{ "srv/releases", "must be an absolute path" },
	{ "./releases", "must be an absolute path" },
	{ "/", "must not be the root directory" },
	{ "/srv/releases/", "must not end with '/'" },
	{ "/srv//releases", "must not contain '//'" },
	{ "/srv/./releases", "must not contain '.' components" },
	{ "/srv/.", "must not contain '.' components" },
	{ "/srv/../etc", "must not contain '..' components" },
	{ "/srv/..", "must not contain '..' components" },
	{ "/srv/a\nb", "contains a control character" },
};

START_TEST(test_path_check)
{
	const char *why = "untouched";
	int r = rbd_reldir_path_check(paths[_i].in, &why);

	if (!paths[_i].why) {
		ck_assert_int_eq(r, 0);
		ck_assert_str_eq(why, "untouched");
	} else {
		ck_assert_int_eq(r, -EINVAL);
		ck_assert_str_eq(why, paths[_i].why);
	}
}
END_TEST

START_TEST(test_path_long)
{
	char p[RBD_RELDIR_PATH_MAX + 2];
	const char *why = NULL;

	memset(p, 'a', sizeof(p));
	p[0] = '/';
	p[RBD_RELDIR_PATH_MAX] = '\0';
	ck_assert_int_eq(rbd_reldir_path_check(p, &why), 0);
	p[RBD_RELDIR_PATH_MAX] = 'a';
	p[RBD_RELDIR_PATH_MAX + 1] = '\0';
	ck_assert_int_eq(rbd_reldir_path_check(p, &why), -EINVAL);
	ck_assert_str_eq(why, "is longer than 1024 bytes");
	ck_assert_int_eq(rbd_reldir_path_check(NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_is_under)
{
	ck_assert(rbd_reldir_is_under("/srv/r/current", "/srv/r"));
	ck_assert(rbd_reldir_is_under("/srv/r", "/srv/r"));
	ck_assert(!rbd_reldir_is_under("/srv/rc", "/srv/r"));
	ck_assert(!rbd_reldir_is_under("/srv", "/srv/r"));
}
END_TEST

START_TEST(test_target)
{
	char buf[64] = "untouched";

	ck_assert_int_eq(rbd_reldir_target("/srv/rel", "v2.4.1", buf,
	    sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/srv/rel/v2.4.1");
	strcpy(buf, "untouched");
	ck_assert_int_eq(rbd_reldir_target("/srv/rel", "..", buf, sizeof(buf)),
	    -EINVAL);
	ck_assert_int_eq(rbd_reldir_target("/srv/rel", ".", buf, sizeof(buf)),
	    -EINVAL);
	ck_assert_int_eq(rbd_reldir_target("/srv/rel", "a/b", buf, sizeof(buf)),
	    -EINVAL);
	ck_assert_int_eq(rbd_reldir_target("/srv/rel", "v1..2", buf,
	    sizeof(buf)), -EINVAL);
	ck_assert_int_eq(rbd_reldir_target("/srv/rel", "", buf, sizeof(buf)),
	    -EINVAL);
	ck_assert_int_eq(rbd_reldir_target("/srv/rel", "v1\n", buf,
	    sizeof(buf)), -EINVAL);
	ck_assert_str_eq(buf, "untouched");
	ck_assert_int_eq(rbd_reldir_target("/srv/rel", "v2.4.1", buf, 15),
	    -ENAMETOOLONG);
}
END_TEST

START_TEST(test_tmp_link)
{
	char buf[128];

	ck_assert_int_eq(rbd_reldir_tmp_link("/srv/app/current", 0x2a, buf,
	    sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/srv/app/.current.rbd-000000000000002a");
	ck_assert_int_eq(rbd_reldir_tmp_link("/current", 1, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/.current.rbd-0000000000000001");
	ck_assert_int_eq(rbd_reldir_tmp_link("/srv/app/current", 1, buf, 10),
	    -ENAMETOOLONG);
}
END_TEST

static const struct {
	const char *text;
	const char *version;	/* NULL: -ENOENT */
} links[] = {
	{ "/srv/app/releases/v2", "v2" },
	{ "/srv/app/releases/v2/", "v2" },
	{ "releases/v2", "v2" },		/* relative to /srv/app */
	{ "/srv/app/releases", NULL },
	{ "/srv/app/releases/", NULL },
	{ "/srv/app/releases/v2/bin", NULL },
	{ "/srv/app/releasesX/v2", NULL },
	{ "/srv/app/releases/..", NULL },
	{ "/srv/app/releases/.hidden", NULL },
	{ "/elsewhere/v2", NULL },
	{ "", NULL },
};

START_TEST(test_link_version)
{
	char v[RBD_VERSION_MAX + 1] = "untouched";
	int r = rbd_reldir_link_version("/srv/app/releases", "/srv/app/current",
	    links[_i].text, v);

	if (links[_i].version) {
		ck_assert_int_eq(r, 0);
		ck_assert_str_eq(v, links[_i].version);
	} else {
		ck_assert_int_eq(r, -ENOENT);
		ck_assert_str_eq(v, "untouched");
	}
}
END_TEST

/* Seven releases v1 (oldest) .. v7 (newest), a stray file, a symlink and
 * a name that is not a release. */
static const struct rbd_reldir_entry plan_entries[] = {
	{ "v3", true, 300 },
	{ "v1", true, 100 },
	{ "v7", true, 700 },
	{ "v2", true, 200 },
	{ "notes.txt", false, 50 },
	{ "v5", true, 500 },
	{ "link", false, 10 },
	{ ".tmp", true, 5 },
	{ "v6", true, 600 },
	{ "v4", true, 400 },
	{ "v0", false, 1 },
};

START_TEST(test_prune_plan)
{
	const char *good[] = { "v6", "v2" };
	const struct rbd_prune_protect prot = {
		.current = "v7", .live = "v7", .target = "v6", .good = good,
		.n_good = 2,
	};
	enum rbd_prune_why why[N_ELEMENTS(plan_entries)];
	/* keep 2: v7 (current) and v6 (target) are the newest two; v5, v4,
	 * v3, v1 go; v2 is known-good. */
	static const enum rbd_prune_why want[] = {
		RBD_PRUNE_REMOVE, RBD_PRUNE_REMOVE, RBD_PRUNE_CURRENT,
		RBD_PRUNE_GOOD, RBD_PRUNE_NOT_DIR, RBD_PRUNE_REMOVE,
		RBD_PRUNE_NOT_DIR, RBD_PRUNE_NOT_RELEASE, RBD_PRUNE_TARGET,
		RBD_PRUNE_REMOVE, RBD_PRUNE_NOT_DIR,
	};

	ck_assert_int_eq(rbd_reldir_prune_plan(plan_entries,
	    N_ELEMENTS(plan_entries), 2, &prot, why), 4);
	for (size_t i = 0; i < N_ELEMENTS(want); i++)
		ck_assert_msg(why[i] == want[i], "%s: %s, want %s",
		    plan_entries[i].name, rbd_prune_why_str(why[i]),
		    rbd_prune_why_str(want[i]));
}
END_TEST

START_TEST(test_prune_keep)
{
	const struct rbd_prune_protect none = { 0 };
	enum rbd_prune_why why[N_ELEMENTS(plan_entries)];

	/* keep 4 of seven: v7 v6 v5 v4 newest, v3 v2 v1 removed. */
	ck_assert_int_eq(rbd_reldir_prune_plan(plan_entries,
	    N_ELEMENTS(plan_entries), 4, &none, why), 3);
	ck_assert_int_eq(why[0], RBD_PRUNE_REMOVE);	/* v3 */
	ck_assert_int_eq(why[9], RBD_PRUNE_NEWEST);	/* v4 */
	/* keep 0, only the live release protected. */
	const struct rbd_prune_protect live = { .live = "v1" };
	ck_assert_int_eq(rbd_reldir_prune_plan(plan_entries,
	    N_ELEMENTS(plan_entries), 0, &live, why), 6);
	ck_assert_int_eq(why[1], RBD_PRUNE_LIVE);
	/* keep more than there are: nothing goes. */
	ck_assert_int_eq(rbd_reldir_prune_plan(plan_entries,
	    N_ELEMENTS(plan_entries), 100, &none, why), 0);
	ck_assert_int_eq(rbd_reldir_prune_plan(plan_entries, 0, 1, &none, why),
	    0);
	ck_assert_int_eq(rbd_reldir_prune_plan(plan_entries,
	    RBD_RELDIR_ENTRIES_MAX + 1, 1, &none, why), -EINVAL);
}
END_TEST

START_TEST(test_prune_ties)
{
	const struct rbd_reldir_entry e[] = {
		{ "v10", true, 5 }, { "v09", true, 5 }, { "v11", true, 5 },
	};
	const struct rbd_prune_protect none = { 0 };
	enum rbd_prune_why why[3];

	/* Same mtime: the greater name is the newer. */
	ck_assert_int_eq(rbd_reldir_prune_plan(e, 3, 1, &none, why), 2);
	ck_assert_int_eq(why[2], RBD_PRUNE_NEWEST);
	ck_assert_int_eq(why[0], RBD_PRUNE_REMOVE);
	ck_assert_str_eq(rbd_prune_why_str(RBD_PRUNE_TARGET), "rollback target");
	ck_assert_str_eq(rbd_prune_why_str(_RBD_PRUNE_WHY_MAX), "unknown");
}
END_TEST

static Suite *reldir_suite(void)
{
	Suite *s = suite_create("reldir");
	TCase *tc = tcase_create("paths");

	tcase_add_loop_test(tc, test_path_check, 0, N_ELEMENTS(paths));
	tcase_add_test(tc, test_path_long);
	tcase_add_test(tc, test_is_under);
	tcase_add_test(tc, test_target);
	tcase_add_test(tc, test_tmp_link);
	tcase_add_loop_test(tc, test_link_version, 0, N_ELEMENTS(links));
	suite_add_tcase(s, tc);
	tc = tcase_create("prune");
	tcase_add_test(tc, test_prune_plan);
	tcase_add_test(tc, test_prune_keep);
	tcase_add_test(tc, test_prune_ties);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(reldir_suite());
}
