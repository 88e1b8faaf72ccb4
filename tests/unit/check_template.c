/* Placeholders in deploy argv: expansion inside one element, never a shell. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"
#include "testutil.h"

static const struct rbd_template_vars vars = {
	.service = "checkout",
	.version = "v2.4.1",
	.from_version = "v2.4.2",
};

static const struct {
	const char *in;
	const char *out;
} expand_cases[] = {
	{ "plain", "plain" },
	{ "", "" },
	{ "{version}", "v2.4.1" },
	{ "--version={version}", "--version=v2.4.1" },
	{ "{service}:{from_version}->{version}", "checkout:v2.4.2->v2.4.1" },
	{ "{{version}}", "{version}" },
	{ "{{{version}}}", "{v2.4.1}" },
	{ "a}}b{{c", "a}b{c" },
	{ "/srv/{service}/releases/{version}", "/srv/checkout/releases/v2.4.1" },
};

START_TEST(test_expand)
{
	char *out = NULL;

	ck_assert_int_eq(rbd_template_check(expand_cases[_i].in, NULL, NULL, 0), 0);
	ck_assert_int_eq(rbd_template_expand(expand_cases[_i].in, &vars, &out), 0);
	ck_assert_str_eq(out, expand_cases[_i].out);
	free(out);
}
END_TEST

static const struct {
	const char *in;
	unsigned col;
	const char *msg;
} bad_cases[] = {
	{ "{verison}", 1, "unknown placeholder {verison} (known: {service}, {version}, {from_version})" },
	{ "--v={VERSION}", 5, "unknown placeholder {VERSION} (known: {service}, {version}, {from_version})" },
	{ "{}", 1, "unknown placeholder {} (known: {service}, {version}, {from_version})" },
	{ "x{version", 2, "unclosed '{' (write '{{' for a literal brace)" },
	{ "{ver{sion}", 1, "unclosed '{' (write '{{' for a literal brace)" },
	{ "{version}}", 10, "unmatched '}' (write '}}' for a literal brace)" },
	{ "a}b", 2, "unmatched '}' (write '}}' for a literal brace)" },
	{ "x{ver\nsion\x1b[31m}", 2, "unknown placeholder {ver?sion?[31m} (known: {service}, {version}, {from_version})" },
	{ "{$(reboot)}", 1, "unknown placeholder {$(reboot)} (known: {service}, {version}, {from_version})" },
};

START_TEST(test_check_bad)
{
	char err[256] = "";
	unsigned col = 0;
	char *out = (char *)"untouched";

	ck_assert_int_eq(rbd_template_check(bad_cases[_i].in, &col, err, sizeof(err)), -EINVAL);
	ck_assert_uint_eq(col, bad_cases[_i].col);
	ck_assert_str_eq(err, bad_cases[_i].msg);
	ck_assert_int_eq(rbd_template_expand(bad_cases[_i].in, &vars, &out), -EINVAL);
	ck_assert_str_eq(out, "untouched");
}
END_TEST

START_TEST(test_long_unknown_name_is_cut)
{
	char name[200], err[256];
	unsigned col;

	memset(name, 'x', sizeof(name));
	name[0] = '{';
	name[198] = '}';
	name[199] = '\0';
	ck_assert_int_eq(rbd_template_check(name, &col, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(strlen(err), strlen("unknown placeholder {...}") + 64);
}
END_TEST

/* A value is one argument, whatever it contains: no splitting, no shell. */
START_TEST(test_argv_values_stay_one_argument)
{
	char *const argv[] = { "/usr/local/bin/deploy", "--version", "{version}",
		"{service}", NULL };
	const struct rbd_template_vars hostile = {
		.service = "a b", .version = "$(reboot); rm -rf /",
	};
	char **out = NULL;

	ck_assert_int_eq(rbd_argv_expand(argv, &hostile, &out), 0);
	ck_assert_str_eq(out[0], "/usr/local/bin/deploy");
	ck_assert_str_eq(out[1], "--version");
	ck_assert_str_eq(out[2], "$(reboot); rm -rf /");
	ck_assert_str_eq(out[3], "a b");
	ck_assert_ptr_null(out[4]);
	rbd_argv_free(out);
}
END_TEST

START_TEST(test_argv_missing_values_and_errors)
{
	char *const argv[] = { "deploy", "{from_version}", NULL };
	char *const broken[] = { "deploy", "{nope}", NULL };
	char **out = NULL;

	ck_assert_int_eq(rbd_argv_expand(argv, NULL, &out), 0);
	ck_assert_str_eq(out[1], "");
	rbd_argv_free(out);
	out = NULL;
	ck_assert_int_eq(rbd_argv_expand(broken, &vars, &out), -EINVAL);
	ck_assert_ptr_null(out);
	rbd_argv_free(NULL);
}
END_TEST

static Suite *template_suite(void)
{
	Suite *s = suite_create("template");
	TCase *tc = tcase_create("template");

	tcase_add_loop_test(tc, test_expand, 0, N_ELEMENTS(expand_cases));
	tcase_add_loop_test(tc, test_check_bad, 0, N_ELEMENTS(bad_cases));
	tcase_add_test(tc, test_long_unknown_name_is_cut);
	suite_add_tcase(s, tc);
	tc = tcase_create("argv");
	tcase_add_test(tc, test_argv_values_stay_one_argument);
	tcase_add_test(tc, test_argv_missing_values_and_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(template_suite());
}
