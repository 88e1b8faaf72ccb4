/* Release versions and service names: what a deploy hook may send. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"
#include "testutil.h"

static const char *const good_versions[] = {
	"v2.4.1", "1", "2024.11.27-3", "abc123def", "v1.0.0+build.7",
	"1.0.0-rc.1", "release_42", "A", "0.0.0",
	/* 128 characters: the longest allowed */
	"a234567890123456789012345678901234567890123456789012345678901234"
	"5678901234567890123456789012345678901234567890123456789012345678",
};

START_TEST(test_version_good)
{
	const char *why = "untouched";

	ck_assert_int_eq(rbd_version_check(good_versions[_i], &why), 0);
	ck_assert_str_eq(why, "untouched");
}
END_TEST

static const struct {
	const char *in;
	const char *why;
} bad_versions[] = {
	{ "", "is empty" },
	{ "-rf", "must not start with '-'" },
	{ "--help", "must not start with '-'" },
	{ ".hidden", "must not start with '.'" },
	{ "_x", "must start with a letter or a digit" },
	{ "+1", "must start with a letter or a digit" },
	{ "/etc/passwd", "contains '/'" },
	{ "../../etc", "must not start with '.'" },
	{ "v1/../../x", "contains '/'" },
	{ "v1..2", "contains '..'" },
	{ "v1 2", "contains whitespace" },
	{ " v1", "contains whitespace" },
	{ "v1\t", "contains whitespace" },
	{ "v1\n", "contains a newline" },
	{ "v1\nrm -rf /", "contains a newline" },
	{ "v1\r", "contains a newline" },
	{ "v1;reboot", "contains a shell metacharacter" },
	{ "$(reboot)", "contains a shell metacharacter" },
	{ "v1`id`", "contains a shell metacharacter" },
	{ "v1|sh", "contains a shell metacharacter" },
	{ "v1&", "contains a shell metacharacter" },
	{ "v1>x", "contains a shell metacharacter" },
	{ "v*", "contains a shell metacharacter" },
	{ "v'1'", "contains a shell metacharacter" },
	{ "{version}", "contains a shell metacharacter" },
	{ "v1\x1b[2J", "contains a control character" },
	{ "v1\x7f", "contains a control character" },
	{ "v\xc3\xa9", "contains a non-ASCII character" },
	/* 129 characters */
	{ "a234567890123456789012345678901234567890123456789012345678901234"
	  "56789012345678901234567890123456789012345678901234567890123456789",
	  "is longer than 128 characters" },
};

START_TEST(test_version_bad)
{
	const char *why = NULL;

	ck_assert_int_eq(rbd_version_check(bad_versions[_i].in, &why), -EINVAL);
	ck_assert_str_eq(why, bad_versions[_i].why);
}
END_TEST

START_TEST(test_version_null)
{
	ck_assert_int_eq(rbd_version_check(NULL, NULL), -EINVAL);
	ck_assert_int_eq(rbd_version_check("v1 x", NULL), -EINVAL);
}
END_TEST

START_TEST(test_service_names)
{
	const char *why = NULL;

	ck_assert_int_eq(rbd_service_check("checkout", &why), 0);
	ck_assert_int_eq(rbd_service_check("billing-api.eu_1", &why), 0);
	ck_assert_int_eq(rbd_service_check("a+b", &why), -EINVAL);
	ck_assert_str_eq(why, "contains '+'");
	ck_assert_int_eq(rbd_service_check("-x", &why), -EINVAL);
	ck_assert_str_eq(why, "must not start with '-'");
	ck_assert_int_eq(rbd_service_check("check out", &why), -EINVAL);
	ck_assert_str_eq(why, "contains whitespace");
	ck_assert_int_eq(rbd_service_check(
	    "a2345678901234567890123456789012345678901234567890123456789012345", &why),
	    -EINVAL);
	ck_assert_str_eq(why, "is longer than 64 characters");
	ck_assert_int_eq(rbd_service_check(
	    "a234567890123456789012345678901234567890123456789012345678901234", &why), 0);
}
END_TEST

/* Unit names a unit check accepts, and why the others are refused. */
static const struct {
	const char *in;
	const char *why;	/* NULL: valid */
} unit_names[] = {
	{ "checkout.service", NULL },
	{ "checkout-worker@1.service", NULL },
	{ "sys-devices-x\\x2dy.device", NULL },
	{ "a:b_c.d-e.socket", NULL },
	{ "backup.timer", NULL },
	{ "", "is empty" },
	{ "checkout", "must end in a unit type, e.g. \".service\"" },
	{ "checkout.servic", "must end in a unit type, e.g. \".service\"" },
	{ ".service", "has no name before its type" },
	{ "@1.service", "has no name before its type" },
	{ "checkout@.service",
	  "is a template: name an instance, e.g. \"foo@1.service\"" },
	{ "a@b@c.service", "contains more than one '@'" },
	{ "../x.service", "contains a character outside A-Z a-z 0-9 : _ . \\ - "
	  "(systemd-escape makes any name fit)" },
	{ "x;reboot.service", "contains a character outside A-Z a-z 0-9 : _ . "
	  "\\ - (systemd-escape makes any name fit)" },
	{ "x y.service", "contains a character outside A-Z a-z 0-9 : _ . \\ - "
	  "(systemd-escape makes any name fit)" },
	{ "-x.service", "must not start with '-' or '.'" },
};

START_TEST(test_unit_names)
{
	const char *why = NULL;
	int r = rbd_unit_name_check(unit_names[_i].in, &why);

	if (!unit_names[_i].why) {
		ck_assert_msg(r == 0, "%s refused: %s", unit_names[_i].in, why);
		return;
	}
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_str_eq(why, unit_names[_i].why);
}
END_TEST

START_TEST(test_unit_name_length)
{
	char name[RBD_UNIT_NAME_MAX + 2];
	const char *why = NULL;

	memset(name, 'a', sizeof(name));
	strcpy(name + RBD_UNIT_NAME_MAX - 8, ".service");	/* 255 */
	ck_assert_int_eq(rbd_unit_name_check(name, &why), 0);
	strcpy(name + RBD_UNIT_NAME_MAX - 7, ".service");	/* 256 */
	ck_assert_int_eq(rbd_unit_name_check(name, &why), -EINVAL);
	ck_assert_str_eq(why, "is longer than 255 characters");
	ck_assert_int_eq(rbd_unit_name_check(NULL, NULL), -EINVAL);
}
END_TEST

static Suite *version_suite(void)
{
	Suite *s = suite_create("version");
	TCase *tc = tcase_create("version");

	tcase_add_loop_test(tc, test_version_good, 0,
	    N_ELEMENTS(good_versions));
	tcase_add_loop_test(tc, test_version_bad, 0,
	    N_ELEMENTS(bad_versions));
	tcase_add_test(tc, test_version_null);
	suite_add_tcase(s, tc);
	tc = tcase_create("service");
	tcase_add_test(tc, test_service_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("unit");
	tcase_add_loop_test(tc, test_unit_names, 0, N_ELEMENTS(unit_names));
	tcase_add_test(tc, test_unit_name_length);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(version_suite());
}
