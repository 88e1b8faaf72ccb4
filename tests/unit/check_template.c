/* Placeholders in command argv: expansion inside one element, never a
 * shell; which placeholders a command may use. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"
#include "testutil.h"

static const struct rbd_template_vars vars = {
	.service = "checkout",
	.version = "v2.4.1",
	.from_version = "v2.4.2",
	.from_schema = "43",
	.to_schema = "42",
};

#define KNOWN_DEPLOY "(known: {service}, {version}, {from_version})"
#define KNOWN_MIGRATE "(known: {service}, {version}, {from_version}, " \
	"{from_schema}, {to_schema})"

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

/* A down-migration's placeholders: allowed in its set, expanded. */
static const struct {
	const char *in;
	const char *out;
} migrate_cases[] = {
	{ "{from_schema}", "43" },
	{ "--to={to_schema}", "--to=42" },
	{ "{service}@{from_version}:{from_schema}->{version}:{to_schema}",
	    "checkout@v2.4.2:43->v2.4.1:42" },
	{ "{{from_schema}}", "{from_schema}" },
};

START_TEST(test_migrate_expand)
{
	char *out = NULL;

	ck_assert_int_eq(rbd_template_check_set(migrate_cases[_i].in,
	    RBD_TEMPLATE_MIGRATE, NULL, NULL, 0), 0);
	ck_assert_int_eq(rbd_template_expand(migrate_cases[_i].in, &vars, &out), 0);
	ck_assert_str_eq(out, migrate_cases[_i].out);
	free(out);
}
END_TEST

/* Checked against a set: a placeholder that exists but is not in it is
 * -EPERM, one that does not exist -EINVAL; the message lists the set. */
static const struct {
	const char *in;
	unsigned set;
	int ret;
	unsigned col;
	const char *msg;
} set_cases[] = {
	{ "--from={from_schema}", RBD_TEMPLATE_DEPLOY, -EPERM, 8,
	    "placeholder {from_schema} is not allowed here (allowed: {service}, "
	    "{version}, {from_version})" },
	{ "{to_schema}", RBD_TEMPLATE_DEPLOY, -EPERM, 1,
	    "placeholder {to_schema} is not allowed here (allowed: {service}, "
	    "{version}, {from_version})" },
	{ "{version}", RBD_TEMPLATE_SERVICE, -EPERM, 1,
	    "placeholder {version} is not allowed here (allowed: {service})" },
	{ "{schema}", RBD_TEMPLATE_MIGRATE, -EINVAL, 1,
	    "unknown placeholder {schema} " KNOWN_MIGRATE },
	{ "{to_schema", RBD_TEMPLATE_MIGRATE, -EINVAL, 1,
	    "unclosed '{' (write '{{' for a literal brace)" },
	{ "{version}{x}", RBD_TEMPLATE_DEPLOY, -EINVAL, 10,
	    "unknown placeholder {x} " KNOWN_DEPLOY },
};

START_TEST(test_check_set)
{
	char err[256] = "";
	unsigned col = 0;

	ck_assert_int_eq(rbd_template_check_set(set_cases[_i].in,
	    set_cases[_i].set, &col, err, sizeof(err)), set_cases[_i].ret);
	ck_assert_uint_eq(col, set_cases[_i].col);
	ck_assert_str_eq(err, set_cases[_i].msg);
	/* without a place for the column or the message */
	ck_assert_int_eq(rbd_template_check_set(set_cases[_i].in,
	    set_cases[_i].set, NULL, NULL, 0), set_cases[_i].ret);
}
END_TEST

/* rbd_template_check is deploy.command's set: the schema versions are
 * refused there, and what it passes a down-migration passes too. */
START_TEST(test_check_is_deploy_set)
{
	unsigned col = 0;
	char err[256];

	ck_assert_int_eq(rbd_template_check("{from_schema}", &col, err,
	    sizeof(err)), -EPERM);
	ck_assert_uint_eq(col, 1);
	for (size_t i = 0; i < N_ELEMENTS(expand_cases); i++) {
		ck_assert_int_eq(rbd_template_check_set(expand_cases[i].in,
		    RBD_TEMPLATE_DEPLOY, NULL, NULL, 0), 0);
		ck_assert_int_eq(rbd_template_check_set(expand_cases[i].in,
		    RBD_TEMPLATE_MIGRATE, NULL, NULL, 0), 0);
	}
}
END_TEST

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
	{ "{verison}", 1, "unknown placeholder {verison} " KNOWN_DEPLOY },
	{ "--v={VERSION}", 5, "unknown placeholder {VERSION} " KNOWN_DEPLOY },
	{ "{}", 1, "unknown placeholder {} " KNOWN_DEPLOY },
	{ "x{version", 2, "unclosed '{' (write '{{' for a literal brace)" },
	{ "{ver{sion}", 1, "unclosed '{' (write '{{' for a literal brace)" },
	{ "{version}}", 10, "unmatched '}' (write '}}' for a literal brace)" },
	{ "a}b", 2, "unmatched '}' (write '}}' for a literal brace)" },
	{ "x{ver\nsion\x1b[31m}", 2, "unknown placeholder {ver?sion?[31m} " KNOWN_DEPLOY },
	{ "{$(reboot)}", 1, "unknown placeholder {$(reboot)} " KNOWN_DEPLOY },
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

/* A down-migration's argv: the schema versions are text the shell made. */
START_TEST(test_argv_migration)
{
	char *const argv[] = { "/usr/local/bin/migrate", "--down",
		"--from={from_schema}", "--to", "{to_schema}", "{version}", NULL };
	char **out = NULL;

	ck_assert_int_eq(rbd_argv_expand(argv, &vars, &out), 0);
	ck_assert_str_eq(out[2], "--from=43");
	ck_assert_str_eq(out[4], "42");
	ck_assert_str_eq(out[5], "v2.4.1");
	ck_assert_ptr_null(out[6]);
	rbd_argv_free(out);
}
END_TEST

START_TEST(test_argv_missing_values_and_errors)
{
	char *const argv[] = { "deploy", "{from_version}", "{to_schema}", NULL };
	char *const broken[] = { "deploy", "{nope}", NULL };
	char **out = NULL;

	ck_assert_int_eq(rbd_argv_expand(argv, NULL, &out), 0);
	ck_assert_str_eq(out[1], "");
	ck_assert_str_eq(out[2], "");
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
	tc = tcase_create("sets");
	tcase_add_loop_test(tc, test_migrate_expand, 0, N_ELEMENTS(migrate_cases));
	tcase_add_loop_test(tc, test_check_set, 0, N_ELEMENTS(set_cases));
	tcase_add_test(tc, test_check_is_deploy_set);
	suite_add_tcase(s, tc);
	tc = tcase_create("argv");
	tcase_add_test(tc, test_argv_values_stay_one_argument);
	tcase_add_test(tc, test_argv_migration);
	tcase_add_test(tc, test_argv_missing_values_and_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(template_suite());
}
