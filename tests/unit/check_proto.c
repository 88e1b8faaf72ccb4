/* The control protocol's requests: every command, every way a request
 * can be wrong with the exact message a client sees, and the round trip
 * rbd_request_format -> rbd_request_parse. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "testutil.h"

#define LONG64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LONG65 LONG64 "a"
/* 256 bytes of reason: 128 two-byte characters. */
#define E16 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" \
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
#define REASON256 E16 E16 E16 E16 E16 E16 E16 E16

static const struct {
	const char *in;
	enum rbd_cmd cmd;
	const char *service;
	const char *version;
	const char *meta;	/* NULL: none */
	bool wait;
	size_t limit;
	const char *out;	/* rbd_request_format of the result */
} good[] = {
	{ "{\"cmd\":\"deployed\",\"service\":\"checkout\",\"version\":\"v2.4.2\"}",
	    RBD_CMD_DEPLOYED, "checkout", "v2.4.2", NULL, false, 0,
	    "{\"cmd\":\"deployed\",\"service\":\"checkout\",\"version\":\"v2.4.2\"}" },
	{ "{\"cmd\":\"deployed\",\"service\":\"checkout\",\"version\":\"v2.4.2\","
	    "\"meta\":{\"commit\":\"abc\",\"note\":\"hot fix\"},\"wait\":true}",
	    RBD_CMD_DEPLOYED, "checkout", "v2.4.2",
	    "{\"commit\":\"abc\",\"note\":\"hot fix\"}", true, 0,
	    "{\"cmd\":\"deployed\",\"service\":\"checkout\",\"version\":\"v2.4.2\","
	    "\"meta\":{\"commit\":\"abc\",\"note\":\"hot fix\"},\"wait\":true}" },
	/* Field order is free; an empty meta and wait false are dropped. */
	{ "{\"wait\":false,\"meta\":{},\"version\":\"1.0+build.7\",\"service\":"
	    "\"web_api-2\",\"cmd\":\"deployed\"}",
	    RBD_CMD_DEPLOYED, "web_api-2", "1.0+build.7", NULL, false, 0,
	    "{\"cmd\":\"deployed\",\"service\":\"web_api-2\",\"version\":\"1.0+build.7\"}" },
	/* Meta values may hold anything a string can; they stay JSON. */
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"meta\":"
	    "{\"note\":\"line 1\\nline 2 \\u00e9\"}}",
	    RBD_CMD_DEPLOYED, "a", "1", "{\"note\":\"line 1\\nline 2 \xc3\xa9\"}", false, 0,
	    "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"meta\":"
	    "{\"note\":\"line 1\\nline 2 \xc3\xa9\"}}" },
	{ " { \"cmd\" : \"status\" } \r", RBD_CMD_STATUS, "", "", NULL, false, 0,
	    "{\"cmd\":\"status\"}" },
	{ "{\"cmd\":\"status\",\"service\":\"checkout\"}", RBD_CMD_STATUS,
	    "checkout", "", NULL, false, 0, "{\"cmd\":\"status\",\"service\":\"checkout\"}" },
	{ "{\"cmd\":\"history\",\"service\":\"checkout\"}", RBD_CMD_HISTORY,
	    "checkout", "", NULL, false, RBD_PROTO_HISTORY_DEFAULT,
	    "{\"cmd\":\"history\",\"service\":\"checkout\",\"limit\":20}" },
	{ "{\"limit\":1,\"service\":\"checkout\",\"cmd\":\"history\"}", RBD_CMD_HISTORY,
	    "checkout", "", NULL, false, 1,
	    "{\"cmd\":\"history\",\"service\":\"checkout\",\"limit\":1}" },
	{ "{\"cmd\":\"history\",\"service\":\"checkout\",\"limit\":1000}", RBD_CMD_HISTORY,
	    "checkout", "", NULL, false, 1000,
	    "{\"cmd\":\"history\",\"service\":\"checkout\",\"limit\":1000}" },
	{ "{\"cmd\":\"mark-good\",\"service\":\"checkout\",\"version\":\"v2.4.1\"}",
	    RBD_CMD_MARK_GOOD, "checkout", "v2.4.1", NULL, false, 0,
	    "{\"cmd\":\"mark-good\",\"service\":\"checkout\",\"version\":\"v2.4.1\"}" },
	{ "{\"cmd\":\"mark-bad\",\"service\":\"checkout\",\"version\":\"v2.4.2\"}",
	    RBD_CMD_MARK_BAD, "checkout", "v2.4.2", NULL, false, 0,
	    "{\"cmd\":\"mark-bad\",\"service\":\"checkout\",\"version\":\"v2.4.2\"}" },
	{ "{\"cmd\":\"rollback\",\"service\":\"checkout\"}", RBD_CMD_ROLLBACK,
	    "checkout", "", NULL, false, 0, "{\"cmd\":\"rollback\",\"service\":\"checkout\"}" },
	{ "{\"cmd\":\"rollback\",\"service\":\"checkout\",\"version\":\"v2.4.0\"}",
	    RBD_CMD_ROLLBACK, "checkout", "v2.4.0", NULL, false, 0,
	    "{\"cmd\":\"rollback\",\"service\":\"checkout\",\"version\":\"v2.4.0\"}" },
	{ "{\"cmd\":\"reload\"}", RBD_CMD_RELOAD, "", "", NULL, false, 0,
	    "{\"cmd\":\"reload\"}" },
	/* The longest names there are. */
	{ "{\"cmd\":\"status\",\"service\":\"" LONG64 "\"}", RBD_CMD_STATUS,
	    LONG64, "", NULL, false, 0, "{\"cmd\":\"status\",\"service\":\"" LONG64 "\"}" },
	{ "{\"cmd\":\"mark-good\",\"service\":\"s\",\"version\":\"" LONG64 LONG64 "\"}",
	    RBD_CMD_MARK_GOOD, "s", LONG64 LONG64, NULL, false, 0,
	    "{\"cmd\":\"mark-good\",\"service\":\"s\",\"version\":\"" LONG64 LONG64 "\"}" },
	{ "{\"cmd\":\"deployed\",\"service\":\"s\",\"version\":\"1\",\"meta\":{\""
	    LONG64 "\":\"\",\"a.b_c-D9\":\"x\"}}", RBD_CMD_DEPLOYED, "s", "1",
	    "{\"" LONG64 "\":\"\",\"a.b_c-D9\":\"x\"}", false, 0,
	    "{\"cmd\":\"deployed\",\"service\":\"s\",\"version\":\"1\",\"meta\":{\""
	    LONG64 "\":\"\",\"a.b_c-D9\":\"x\"}}" },
};

/* a and b hold the same request. */
static void assert_same(const struct rbd_request *a, const struct rbd_request *b)
{
	ck_assert_int_eq(a->cmd, b->cmd);
	ck_assert_str_eq(a->service, b->service);
	ck_assert_str_eq(a->version, b->version);
	ck_assert_int_eq(!a->meta, !b->meta);
	if (a->meta)
		ck_assert_str_eq(a->meta, b->meta);
	ck_assert_int_eq(a->wait, b->wait);
	ck_assert_uint_eq(a->limit, b->limit);
	ck_assert_int_eq(a->has_schema, b->has_schema);
	ck_assert_int_eq(a->schema, b->schema);
	ck_assert_int_eq(a->migration, b->migration);
	ck_assert_uint_eq(a->for_usec, b->for_usec);
	ck_assert_str_eq(a->reason, b->reason);
}

START_TEST(test_parse_good)
{
	struct rbd_request r, back;
	char err[256] = "";
	char *line;

	ck_assert_msg(rbd_request_parse(good[_i].in, strlen(good[_i].in), &r,
	    err, sizeof(err)) == 0, "%s: %s", good[_i].in, err);
	ck_assert_int_eq(r.cmd, good[_i].cmd);
	ck_assert_str_eq(r.service, good[_i].service);
	ck_assert_str_eq(r.version, good[_i].version);
	if (good[_i].meta)
		ck_assert_str_eq(r.meta, good[_i].meta);
	else
		ck_assert_ptr_null(r.meta);
	ck_assert_int_eq(r.wait, good[_i].wait);
	ck_assert_uint_eq(r.limit, good[_i].limit);
	/* Nothing of the fields it does not take. */
	ck_assert(!r.has_schema);
	ck_assert_int_eq(r.migration, RBD_MIGRATION_NONE);
	ck_assert_uint_eq(r.for_usec, 0);
	ck_assert_str_eq(r.reason, "");
	/* Compact, in a fixed field order; and it reads back the same. */
	line = rbd_request_format(&r);
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(line, good[_i].out);
	ck_assert_int_eq(rbd_request_parse(line, strlen(line), &back, NULL, 0), 0);
	assert_same(&r, &back);
	free(line);
	rbd_request_clear(&r);
	rbd_request_clear(&back);
	ck_assert_ptr_null(r.meta);
}
END_TEST

/* deployed with a schema, pause and resume: the fields good[] leaves
 * out, with the same round trip. */
static const struct {
	const char *in;
	enum rbd_cmd cmd;
	const char *service;
	const char *version;
	const char *meta;	/* NULL: none */
	bool wait;
	size_t limit;
	const char *out;	/* rbd_request_format of the result */
	bool has_schema;
	int64_t schema;
	enum rbd_migration migration;
	uint64_t for_usec;
	const char *reason;	/* NULL: none */
} good_new[] = {
	/* A release's schema and how it migrated. */
	{ "{\"cmd\":\"deployed\",\"service\":\"checkout\",\"version\":\"v2.5.0\","
	    "\"migration\":\"irreversible\",\"schema\":43,\"wait\":true}",
	    RBD_CMD_DEPLOYED, "checkout", "v2.5.0", NULL, true, 0,
	    "{\"cmd\":\"deployed\",\"service\":\"checkout\",\"version\":\"v2.5.0\","
	    "\"wait\":true,\"schema\":43,\"migration\":\"irreversible\"}",
	    true, 43, RBD_MIGRATION_IRREVERSIBLE, 0, NULL },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"schema\":7,"
	    "\"migration\":\"reversible\"}",
	    RBD_CMD_DEPLOYED, "a", "1", NULL, false, 0,
	    "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"schema\":7,"
	    "\"migration\":\"reversible\"}",
	    true, 7, RBD_MIGRATION_REVERSIBLE, 0, NULL },
	/* Schema 0 is a schema; "none" is the default and is dropped. */
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"schema\":0,"
	    "\"migration\":\"none\"}",
	    RBD_CMD_DEPLOYED, "a", "1", NULL, false, 0,
	    "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"schema\":0}",
	    true, 0, RBD_MIGRATION_NONE, 0, NULL },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\","
	    "\"schema\":999999999999}",
	    RBD_CMD_DEPLOYED, "a", "1", NULL, false, 0,
	    "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\","
	    "\"schema\":999999999999}",
	    true, RBD_SCHEMA_MAX, RBD_MIGRATION_NONE, 0, NULL },
	/* pause and resume. */
	{ "{\"cmd\":\"pause\",\"service\":\"checkout\"}", RBD_CMD_PAUSE,
	    "checkout", "", NULL, false, 0,
	    "{\"cmd\":\"pause\",\"service\":\"checkout\"}",
	    false, 0, RBD_MIGRATION_NONE, 0, NULL },
	{ "{\"reason\":\"db maintenance\",\"for_usec\":600000000,\"service\":"
	    "\"checkout\",\"cmd\":\"pause\"}", RBD_CMD_PAUSE, "checkout", "",
	    NULL, false, 0,
	    "{\"cmd\":\"pause\",\"service\":\"checkout\",\"for_usec\":600000000,"
	    "\"reason\":\"db maintenance\"}",
	    false, 0, RBD_MIGRATION_NONE, 600000000, "db maintenance" },
	/* The longest pause, the longest reason; any printable UTF-8. */
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"for_usec\":2592000000000,"
	    "\"reason\":\"" REASON256 "\"}", RBD_CMD_PAUSE, "a", "", NULL, false, 0,
	    "{\"cmd\":\"pause\",\"service\":\"a\",\"for_usec\":2592000000000,"
	    "\"reason\":\"" REASON256 "\"}",
	    false, 0, RBD_MIGRATION_NONE, 30 * RBD_USEC_PER_DAY, REASON256 },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"for_usec\":1,"
	    "\"reason\":\"Wartung \\u2013 \\\"DB\\\" \\ud83d\\ude00\"}", RBD_CMD_PAUSE,
	    "a", "", NULL, false, 0,
	    "{\"cmd\":\"pause\",\"service\":\"a\",\"for_usec\":1,"
	    "\"reason\":\"Wartung \xe2\x80\x93 \\\"DB\\\" \xf0\x9f\x98\x80\"}",
	    false, 0, RBD_MIGRATION_NONE, 1,
	    "Wartung \xe2\x80\x93 \"DB\" \xf0\x9f\x98\x80" },
	{ "{\"cmd\":\"resume\",\"service\":\"checkout\"}", RBD_CMD_RESUME,
	    "checkout", "", NULL, false, 0,
	    "{\"cmd\":\"resume\",\"service\":\"checkout\"}",
	    false, 0, RBD_MIGRATION_NONE, 0, NULL },	/* Drill: the drill and its abort. */
	{ "{\"cmd\":\"drill\",\"service\":\"checkout\",\"wait\":true}",
	    RBD_CMD_DRILL, "checkout", "", NULL, true, 0,
	    "{\"cmd\":\"drill\",\"service\":\"checkout\",\"wait\":true}",
	    false, 0, RBD_MIGRATION_NONE, 0, NULL },
	{ "{\"cmd\":\"drill-abort\",\"service\":\"checkout\"}",
	    RBD_CMD_DRILL_ABORT, "checkout", "", NULL, false, 0,
	    "{\"cmd\":\"drill-abort\",\"service\":\"checkout\"}",
	    false, 0, RBD_MIGRATION_NONE, 0, NULL },
};

START_TEST(test_parse_good_new)
{
	struct rbd_request r, back;
	char err[256] = "";
	char *line;

	ck_assert_msg(rbd_request_parse(good_new[_i].in, strlen(good_new[_i].in),
	    &r, err, sizeof(err)) == 0, "%s: %s", good_new[_i].in, err);
	ck_assert_int_eq(r.cmd, good_new[_i].cmd);
	ck_assert_str_eq(r.service, good_new[_i].service);
	ck_assert_str_eq(r.version, good_new[_i].version);
	ck_assert_ptr_null(r.meta);
	ck_assert_int_eq(r.wait, good_new[_i].wait);
	ck_assert_uint_eq(r.limit, good_new[_i].limit);
	ck_assert_int_eq(r.has_schema, good_new[_i].has_schema);
	ck_assert_int_eq(r.schema, good_new[_i].schema);
	ck_assert_int_eq(r.migration, good_new[_i].migration);
	ck_assert_uint_eq(r.for_usec, good_new[_i].for_usec);
	ck_assert_str_eq(r.reason, good_new[_i].reason ? good_new[_i].reason : "");
	line = rbd_request_format(&r);
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(line, good_new[_i].out);
	ck_assert_int_eq(rbd_request_parse(line, strlen(line), &back, NULL, 0), 0);
	assert_same(&r, &back);
	free(line);
	rbd_request_clear(&r);
	rbd_request_clear(&back);
}
END_TEST

static const struct {
	const char *in;
	int err;
	const char *msg;
} bad[] = {
	/* Not a request at all. */
	{ "", -EPROTO, "empty request" },
	{ " \t\r", -EPROTO, "empty request" },
	{ "hello", -EPROTO, "not JSON: invalid token near 'hello'" },
	{ "{\"cmd\":\"status\"", -EPROTO, "not JSON: '}' expected near end of file" },
	{ "{\"cmd\":\"status\"} x", -EPROTO, "not JSON: end of file expected near 'x'" },
	{ "{\"cmd\":\"status\"}{}", -EPROTO, "not JSON: end of file expected near '{'" },
	{ "{\"cmd\":\"status\",\"cmd\":\"status\"}", -EPROTO,
	    "not JSON: duplicate object key near '\"cmd\"'" },
	{ "{\"cmd\":\"reload\",\"cmd\":\"status\"}", -EPROTO,
	    "not JSON: duplicate object key near '\"cmd\"'" },
	{ "{\"cmd\":\"st\\u0000atus\"}", -EPROTO, "not JSON: strings must not contain \\u0000" },
	{ "{\"cmd\":\"a\x01" "b\"}", -EPROTO, "not JSON: control character 0x1 near '\"a'" },
	{ "{\x1b[31m", -EPROTO, "not JSON: string or '}' expected near '\\x1b'" },
	{ "{\"cmd\":\"\xff\"}", -EPROTO, "not JSON: unable to decode byte 0xff near '\"'" },
	{ "[{\"cmd\":\"status\"}]", -EPROTO, "request must be a JSON object, got an array" },
	{ "\"status\"", -EPROTO, "request must be a JSON object, got a string" },
	{ "42", -EPROTO, "request must be a JSON object, got an integer" },
	{ "null", -EPROTO, "request must be a JSON object, got null" },
	{ "true", -EPROTO, "request must be a JSON object, got a boolean" },
	/* The command. */
	{ "{}", -EPROTO, "missing 'cmd'" },
	{ "{\"service\":\"checkout\"}", -EPROTO, "missing 'cmd'" },
	{ "{\"cmd\":7}", -EPROTO, "'cmd' must be a string, got an integer" },
	{ "{\"cmd\":[\"status\"]}", -EPROTO, "'cmd' must be a string, got an array" },
	{ "{\"cmd\":\"destroy\"}", -EPROTO, "unknown command 'destroy'" },
	{ "{\"cmd\":\"STATUS\"}", -EPROTO, "unknown command 'STATUS'" },
	{ "{\"cmd\":\"sta\\u001btus\"}", -EPROTO, "unknown command 'sta\\x1btus'" },
	{ "{\"cmd\":\"" LONG65 LONG65 "\"}", -EPROTO, "unknown command '" LONG64 "...'" },
	/* Fields the command does not take. */
	{ "{\"cmd\":\"status\",\"force\":true}", -EPROTO, "unknown field 'force' for status" },
	{ "{\"cmd\":\"status\",\"limit\":5}", -EPROTO, "unknown field 'limit' for status" },
	{ "{\"cmd\":\"reload\",\"service\":\"x\"}", -EPROTO, "unknown field 'service' for reload" },
	{ "{\"cmd\":\"rollback\",\"service\":\"x\",\"wait\":true}", -EPROTO,
	    "unknown field 'wait' for rollback" },
	{ "{\"cmd\":\"history\",\"service\":\"x\",\"meta\":{}}", -EPROTO,
	    "unknown field 'meta' for history" },
	{ "{\"cmd\":\"status\",\"x\\nrm -rf /\":1}", -EPROTO,
	    "unknown field 'x\\nrm -rf /' for status" },
	{ "{\"cmd\":\"status\",\"\\u00e9\":1}", -EPROTO, "unknown field '\\xc3\\xa9' for status" },
	/* Missing fields. */
	{ "{\"cmd\":\"deployed\",\"version\":\"v1\"}", -EPROTO, "missing 'service'" },
	{ "{\"cmd\":\"deployed\",\"service\":\"checkout\"}", -EPROTO, "missing 'version'" },
	{ "{\"cmd\":\"history\"}", -EPROTO, "missing 'service'" },
	{ "{\"cmd\":\"mark-good\",\"service\":\"checkout\"}", -EPROTO, "missing 'version'" },
	{ "{\"cmd\":\"mark-bad\",\"version\":\"v1\"}", -EPROTO, "missing 'service'" },
	{ "{\"cmd\":\"rollback\"}", -EPROTO, "missing 'service'" },
	/* Wrong types. */
	{ "{\"cmd\":\"status\",\"service\":5}", -EPROTO, "'service' must be a string, got an integer" },
	{ "{\"cmd\":\"rollback\",\"service\":\"a\",\"version\":null}", -EPROTO,
	    "'version' must be a string, got null" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":1.5}", -EPROTO,
	    "'version' must be a string, got a number" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"wait\":\"yes\"}",
	    -EPROTO, "'wait' must be true or false, got a string" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"meta\":\"x=y\"}",
	    -EPROTO, "'meta' must be an object, got a string" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"meta\":{\"n\":1}}",
	    -EPROTO, "meta values must be strings ('n' is an integer)" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"meta\":{\"n\":{}}}",
	    -EPROTO, "meta values must be strings ('n' is an object)" },
	{ "{\"cmd\":\"history\",\"service\":\"a\",\"limit\":\"x\"}", -EPROTO,
	    "'limit' must be an integer, got a string" },
	{ "{\"cmd\":\"history\",\"service\":\"a\",\"limit\":2.5}", -EPROTO,
	    "'limit' must be an integer, got a number" },
	{ "{\"cmd\":\"history\",\"service\":\"a\",\"limit\":99999999999999999999}", -EPROTO,
	    "not JSON: too big integer near '99999999999999999999'" },
	/* Values refused. */
	{ "{\"cmd\":\"history\",\"service\":\"a\",\"limit\":0}", -EINVAL,
	    "'limit' must be between 1 and 1000, got 0" },
	{ "{\"cmd\":\"history\",\"service\":\"a\",\"limit\":1001}", -EINVAL,
	    "'limit' must be between 1 and 1000, got 1001" },
	{ "{\"cmd\":\"history\",\"service\":\"a\",\"limit\":-5}", -EINVAL,
	    "'limit' must be between 1 and 1000, got -5" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"-rf\"}", -EINVAL,
	    "invalid release version '-rf': must not start with '-'" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"v1;reboot\"}", -EINVAL,
	    "invalid release version 'v1;reboot': contains a shell metacharacter" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"a\\nb\"}", -EINVAL,
	    "invalid release version 'a\\nb': contains a newline" },
	{ "{\"cmd\":\"mark-bad\",\"service\":\"a\",\"version\":\"../x\"}", -EINVAL,
	    "invalid release version '../x': must not start with '.'" },
	{ "{\"cmd\":\"mark-bad\",\"service\":\"a\",\"version\":\"v1/../x\"}", -EINVAL,
	    "invalid release version 'v1/../x': contains '/'" },
	{ "{\"cmd\":\"rollback\",\"service\":\"a\",\"version\":\"\"}", -EINVAL,
	    "invalid release version '': is empty" },
	{ "{\"cmd\":\"rollback\",\"service\":\"a\",\"version\":\"\\u001b[2J\"}", -EINVAL,
	    "invalid release version '\\x1b[2J': contains a control character" },
	{ "{\"cmd\":\"rollback\",\"service\":\"a\",\"version\":\"v1\\u001b[2J\"}", -EINVAL,
	    "invalid release version 'v1\\x1b[2J': contains a control character" },
	{ "{\"cmd\":\"rollback\",\"service\":\"a\",\"version\":\"v\\u00e9\"}", -EINVAL,
	    "invalid release version 'v\\xc3\\xa9': contains a non-ASCII character" },
	{ "{\"cmd\":\"rollback\",\"service\":\"a\",\"version\":\"v1\\\\x\"}", -EINVAL,
	    "invalid release version 'v1\\\\x': contains a shell metacharacter" },
	{ "{\"cmd\":\"mark-good\",\"service\":\"a\",\"version\":\"" LONG64 LONG65 "\"}",
	    -EINVAL, "invalid release version '" LONG64 "...': is longer than 128 characters" },
	{ "{\"cmd\":\"status\",\"service\":\"../etc\"}", -EINVAL,
	    "invalid service name '../etc': must not start with '.'" },
	{ "{\"cmd\":\"status\",\"service\":\"a+b\"}", -EINVAL,
	    "invalid service name 'a+b': contains '+'" },
	{ "{\"cmd\":\"status\",\"service\":\"" LONG65 "\"}", -EINVAL,
	    "invalid service name '" LONG64 "...': is longer than 64 characters" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"meta\":{\"bad key\":\"x\"}}",
	    -EINVAL, "invalid meta key 'bad key': must be 1 to 64 characters of A-Z a-z 0-9 . _ -" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"meta\":{\"\":\"x\"}}",
	    -EINVAL, "invalid meta key '': must be 1 to 64 characters of A-Z a-z 0-9 . _ -" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"meta\":{\"" LONG65 "\":\"x\"}}",
	    -EINVAL, "invalid meta key '" LONG64 "...': must be 1 to 64 characters of A-Z a-z 0-9 . _ -" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"meta\":{\"k\\r\":\"x\"}}",
	    -EINVAL, "invalid meta key 'k\\r': must be 1 to 64 characters of A-Z a-z 0-9 . _ -" },
	/* deployed: schema and migration. */
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"schema\":\"42\"}",
	    -EPROTO, "'schema' must be an integer, got a string" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"schema\":4.2}",
	    -EPROTO, "'schema' must be an integer, got a number" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"schema\":null}",
	    -EPROTO, "'schema' must be an integer, got null" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"schema\":-1}",
	    -EINVAL, "'schema' must be between 0 and 999999999999, got -1" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\","
	    "\"schema\":1000000000000}",
	    -EINVAL, "'schema' must be between 0 and 999999999999, got 1000000000000" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\","
	    "\"migration\":\"irreversible\"}",
	    -EINVAL, "'migration' needs 'schema'" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\","
	    "\"migration\":\"none\"}",
	    -EINVAL, "'migration' needs 'schema'" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"schema\":1,"
	    "\"migration\":\"maybe\"}",
	    -EINVAL, "'migration' must be none, reversible or irreversible, got 'maybe'" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"schema\":1,"
	    "\"migration\":\"Reversible\"}",
	    -EINVAL, "'migration' must be none, reversible or irreversible, got 'Reversible'" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"schema\":1,"
	    "\"migration\":\"x\\u001b[2J\"}",
	    -EINVAL, "'migration' must be none, reversible or irreversible, got 'x\\x1b[2J'" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"schema\":1,"
	    "\"migration\":true}",
	    -EPROTO, "'migration' must be a string, got a boolean" },
	{ "{\"cmd\":\"mark-good\",\"service\":\"a\",\"version\":\"1\",\"schema\":1}",
	    -EPROTO, "unknown field 'schema' for mark-good" },
	{ "{\"cmd\":\"rollback\",\"service\":\"a\",\"migration\":\"none\"}",
	    -EPROTO, "unknown field 'migration' for rollback" },
	/* pause and resume. */
	{ "{\"cmd\":\"pause\"}", -EPROTO, "missing 'service'" },
	{ "{\"cmd\":\"resume\"}", -EPROTO, "missing 'service'" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"version\":\"1\"}", -EPROTO,
	    "unknown field 'version' for pause" },
	{ "{\"cmd\":\"resume\",\"service\":\"a\",\"for_usec\":5}", -EPROTO,
	    "unknown field 'for_usec' for resume" },
	{ "{\"cmd\":\"resume\",\"service\":\"a\",\"reason\":\"done\"}", -EPROTO,
	    "unknown field 'reason' for resume" },
	/* Drill. */
	{ "{\"cmd\":\"drill\"}", -EPROTO, "missing 'service'" },
	{ "{\"cmd\":\"drill\",\"service\":\"a\",\"version\":\"1\"}",
	    -EPROTO, "unknown field 'version' for drill" },
	{ "{\"cmd\":\"drill-abort\",\"service\":\"a\",\"wait\":true}",
	    -EPROTO, "unknown field 'wait' for drill-abort" },
	{ "{\"cmd\":\"deployed\",\"service\":\"a\",\"version\":\"1\",\"for_usec\":5}",
	    -EPROTO, "unknown field 'for_usec' for deployed" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"for_usec\":\"10m\"}", -EPROTO,
	    "'for_usec' must be an integer, got a string" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"for_usec\":1.5}", -EPROTO,
	    "'for_usec' must be an integer, got a number" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"for_usec\":0}", -EINVAL,
	    "'for_usec' must be between 1 and 2592000000000 (30 days), got 0" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"for_usec\":-600000000}", -EINVAL,
	    "'for_usec' must be between 1 and 2592000000000 (30 days), got -600000000" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"for_usec\":2592000000001}", -EINVAL,
	    "'for_usec' must be between 1 and 2592000000000 (30 days), got 2592000000001" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"reason\":7}", -EPROTO,
	    "'reason' must be a string, got an integer" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"reason\":\"\"}", -EINVAL,
	    "invalid pause reason '': is empty" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"reason\":\"" LONG64 LONG64 LONG64
	    LONG65 "\"}", -EINVAL,
	    "invalid pause reason '" LONG64 "...': is longer than 256 bytes" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"reason\":\"" REASON256 "x\"}",
	    -EINVAL, "invalid pause reason '\\xc3\\xa9\\xc3\\xa9\\xc3\\xa9\\xc3\\xa9"
	    "\\xc3\\xa9\\xc3\\xa9\\xc3\\xa9\\xc3\\xa9...': is longer than 256 bytes" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"reason\":\"db\\nrm -rf\"}", -EINVAL,
	    "invalid pause reason 'db\\nrm -rf': contains a control character" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"reason\":\"\\u001b[2Jhi\"}", -EINVAL,
	    "invalid pause reason '\\x1b[2Jhi': contains a control character" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"reason\":\"tab\\there\"}", -EINVAL,
	    "invalid pause reason 'tab\\there': contains a control character" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"reason\":\"del\\u007f\"}", -EINVAL,
	    "invalid pause reason 'del\\x7f': contains a control character" },
	/* C1 controls (U+0085, U+009B: CSI on some terminals). */
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"reason\":\"a\\u0085b\"}", -EINVAL,
	    "invalid pause reason 'a\\xc2\\x85b': contains a control character" },
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"reason\":\"\\u009b31m\"}", -EINVAL,
	    "invalid pause reason '\\xc2\\x9b31m': contains a control character" },
	/* Not UTF-8: Jansson refuses it before anything else does. */
	{ "{\"cmd\":\"pause\",\"service\":\"a\",\"reason\":\"\xc0\xaf\"}", -EPROTO,
	    "not JSON: unable to decode byte 0xc0 near '\"'" },
};

/* Every message is safe to print: printable ASCII only. */
static void assert_printable(const char *msg)
{
	for (const char *p = msg; *p; p++)
		ck_assert_msg((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
		    "byte 0x%02x in \"%s\"", (unsigned char)*p, msg);
}

START_TEST(test_parse_bad)
{
	struct rbd_request r;
	char err[256] = "";

	memset(&r, 0x5a, sizeof(r));
	ck_assert_int_eq(rbd_request_parse(bad[_i].in, strlen(bad[_i].in), &r,
	    err, sizeof(err)), bad[_i].err);
	ck_assert_str_eq(err, bad[_i].msg);
	assert_printable(err);
	/* Never written on failure. */
	ck_assert_uint_eq((unsigned char)r.service[0], 0x5a);
	ck_assert_uint_eq(r.limit & 0xff, 0x5a);
}
END_TEST

/* A request line with n bytes: {"cmd":"status"} padded with spaces. */
static char *padded(size_t n)
{
	static const char req[] = "{\"cmd\":\"status\"}";
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, ' ', n);
	memcpy(s, req, strlen(req));
	s[n] = '\0';
	return s;
}

START_TEST(test_line_max)
{
	char *s = padded(RBD_PROTO_LINE_MAX + 1);
	struct rbd_request r;
	char err[256];

	ck_assert_int_eq(rbd_request_parse(s, RBD_PROTO_LINE_MAX, &r, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(r.cmd, RBD_CMD_STATUS);
	ck_assert_int_eq(rbd_request_parse(s, RBD_PROTO_LINE_MAX + 1, &r, err,
	    sizeof(err)), -EPROTO);
	ck_assert_str_eq(err, "request line longer than 65536 bytes");
	free(s);
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char line[] = "{\"cmd\":\"status\"}\0{\"cmd\":\"reload\"}";
	struct rbd_request r;
	char err[256];

	ck_assert_int_eq(rbd_request_parse(line, sizeof(line) - 1, &r, err,
	    sizeof(err)), -EPROTO);
	ck_assert_str_eq(err, "request contains a NUL byte");
}
END_TEST

/* A deployed request whose meta has n keys k0.. with values of vlen 'v's. */
static char *meta_request(size_t n, size_t vlen)
{
	size_t size = 128 + n * (vlen + 16);
	char *s = malloc(size), *v = malloc(vlen + 1);
	size_t o;

	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(v);
	memset(v, 'v', vlen);
	v[vlen] = '\0';
	o = (size_t)snprintf(s, size, "{\"cmd\":\"deployed\",\"service\":\"a\","
	    "\"version\":\"1\",\"meta\":{");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, size - o, "%s\"k%zu\":\"%s\"",
		    i ? "," : "", i, v);
	snprintf(s + o, size - o, "}}");
	free(v);
	return s;
}

START_TEST(test_meta_limits)
{
	struct rbd_request r;
	char err[256], want[256];
	char *s;

	/* 32 keys fit, 33 do not. */
	s = meta_request(RBD_PROTO_META_KEYS, 1);
	ck_assert_int_eq(rbd_request_parse(s, strlen(s), &r, err, sizeof(err)), 0);
	rbd_request_clear(&r);
	free(s);
	s = meta_request(RBD_PROTO_META_KEYS + 1, 1);
	ck_assert_int_eq(rbd_request_parse(s, strlen(s), &r, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "too many meta keys (33; at most 32)");
	free(s);
	/* {"k0":"vvv..."}: 9 bytes around the value; the limit fits, one
	 * more byte does not. */
	s = meta_request(1, RBD_PROTO_META_MAX - 9);
	ck_assert_int_eq(rbd_request_parse(s, strlen(s), &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(r.meta), RBD_PROTO_META_MAX);
	rbd_request_clear(&r);
	free(s);
	s = meta_request(1, RBD_PROTO_META_MAX - 8);
	ck_assert_int_eq(rbd_request_parse(s, strlen(s), &r, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "meta is too big (%d bytes as JSON; at most %d)",
	    RBD_PROTO_META_MAX + 1, RBD_PROTO_META_MAX);
	ck_assert_str_eq(err, want);
	free(s);
}
END_TEST

/* What rollbackctl does: fill the struct, format it, send it. */
START_TEST(test_format_from_struct)
{
	struct rbd_request r = { .cmd = RBD_CMD_DEPLOYED, .wait = true };
	struct rbd_request back;
	char *line;

	snprintf(r.service, sizeof(r.service), "checkout");
	snprintf(r.version, sizeof(r.version), "v2.4.2");
	r.meta = strdup("{\"commit\": \"abc\", \"by\": \"ci \\\"bot\\\"\"}");
	line = rbd_request_format(&r);
	ck_assert_str_eq(line, "{\"cmd\":\"deployed\",\"service\":\"checkout\","
	    "\"version\":\"v2.4.2\",\"meta\":{\"commit\":\"abc\",\"by\":\"ci \\\"bot\\\"\"},"
	    "\"wait\":true}");
	ck_assert_int_eq(rbd_request_parse(line, strlen(line), &back, NULL, 0), 0);
	ck_assert_str_eq(back.meta, "{\"commit\":\"abc\",\"by\":\"ci \\\"bot\\\"\"}");
	ck_assert_str_eq(back.service, "checkout");
	ck_assert_int_eq(back.wait, true);
	free(line);
	rbd_request_clear(&back);
	/* Fields the command does not take are left out; limit 0 too. */
	r.cmd = RBD_CMD_STATUS;
	line = rbd_request_format(&r);
	ck_assert_str_eq(line, "{\"cmd\":\"status\",\"service\":\"checkout\"}");
	free(line);
	r.cmd = RBD_CMD_HISTORY;
	line = rbd_request_format(&r);
	ck_assert_str_eq(line, "{\"cmd\":\"history\",\"service\":\"checkout\"}");
	ck_assert_int_eq(rbd_request_parse(line, strlen(line), &back, NULL, 0), 0);
	ck_assert_uint_eq(back.limit, RBD_PROTO_HISTORY_DEFAULT);
	free(line);
	rbd_request_clear(&r);
}
END_TEST

/* The same for the fields of issue 6: a zeroed request has no schema
 * (schema 0 is only sent with has_schema), and a pause no end or reason. */
START_TEST(test_format_new_fields)
{
	struct rbd_request r = { .cmd = RBD_CMD_DEPLOYED }, back;
	char *line;

	snprintf(r.service, sizeof(r.service), "checkout");
	snprintf(r.version, sizeof(r.version), "v2.5.0");
	line = rbd_request_format(&r);
	ck_assert_str_eq(line, "{\"cmd\":\"deployed\",\"service\":\"checkout\","
	    "\"version\":\"v2.5.0\"}");
	ck_assert_int_eq(rbd_request_parse(line, strlen(line), &back, NULL, 0), 0);
	ck_assert(!back.has_schema);
	free(line);
	r.has_schema = true;
	line = rbd_request_format(&r);
	ck_assert_str_eq(line, "{\"cmd\":\"deployed\",\"service\":\"checkout\","
	    "\"version\":\"v2.5.0\",\"schema\":0}");
	ck_assert_int_eq(rbd_request_parse(line, strlen(line), &back, NULL, 0), 0);
	ck_assert(back.has_schema);
	ck_assert_int_eq(back.schema, 0);
	free(line);
	r.schema = 43;
	r.migration = RBD_MIGRATION_IRREVERSIBLE;
	line = rbd_request_format(&r);
	ck_assert_str_eq(line, "{\"cmd\":\"deployed\",\"service\":\"checkout\","
	    "\"version\":\"v2.5.0\",\"schema\":43,\"migration\":\"irreversible\"}");
	ck_assert_int_eq(rbd_request_parse(line, strlen(line), &back, NULL, 0), 0);
	assert_same(&r, &back);
	free(line);
	/* Not for pause; pause's own fields, when set. */
	r.cmd = RBD_CMD_PAUSE;
	line = rbd_request_format(&r);
	ck_assert_str_eq(line, "{\"cmd\":\"pause\",\"service\":\"checkout\"}");
	free(line);
	r.has_schema = false;
	r.schema = 0;
	r.migration = RBD_MIGRATION_NONE;
	r.version[0] = '\0';
	r.for_usec = 10 * RBD_USEC_PER_MIN;
	snprintf(r.reason, sizeof(r.reason), "db maintenance");
	line = rbd_request_format(&r);
	ck_assert_str_eq(line, "{\"cmd\":\"pause\",\"service\":\"checkout\","
	    "\"for_usec\":600000000,\"reason\":\"db maintenance\"}");
	ck_assert_int_eq(rbd_request_parse(line, strlen(line), &back, NULL, 0), 0);
	assert_same(&r, &back);
	free(line);
	r.cmd = RBD_CMD_RESUME;
	line = rbd_request_format(&r);
	ck_assert_str_eq(line, "{\"cmd\":\"resume\",\"service\":\"checkout\"}");
	free(line);
}
END_TEST

/* prune: keep defaults to 5, 0 is a value, the round trip keeps it. */
START_TEST(test_prune)
{
	static const struct {
		const char *line;
		int ret;
		const char *err;
	} bad_keep[] = {
		{ "{\"cmd\":\"prune\",\"service\":\"a\",\"keep\":-1}", -EINVAL,
		    "'keep' must be between 0 and 1000, got -1" },
		{ "{\"cmd\":\"prune\",\"service\":\"a\",\"keep\":1001}", -EINVAL,
		    "'keep' must be between 0 and 1000, got 1001" },
		{ "{\"cmd\":\"prune\",\"service\":\"a\",\"keep\":\"3\"}", -EPROTO,
		    "'keep' must be an integer, got a string" },
		{ "{\"cmd\":\"prune\"}", -EPROTO, "missing 'service'" },
		{ "{\"cmd\":\"status\",\"keep\":1}", -EPROTO,
		    "unknown field 'keep' for status" },
	};
	const char *line = "{\"cmd\":\"prune\",\"service\":\"a\"}";
	struct rbd_request r, back;
	char err[256];
	char *out;

	ck_assert_int_eq(rbd_request_parse(line, strlen(line), &r, NULL, 0), 0);
	ck_assert_int_eq(r.cmd, RBD_CMD_PRUNE);
	ck_assert_str_eq(rbd_cmd_str(RBD_CMD_PRUNE), "prune");
	ck_assert(!r.has_keep);
	ck_assert_uint_eq(r.keep, RBD_PROTO_KEEP_DEFAULT);
	out = rbd_request_format(&r);
	ck_assert_str_eq(out, line);
	free(out);
	rbd_request_clear(&r);
	line = "{\"cmd\":\"prune\",\"service\":\"a\",\"keep\":0}";
	ck_assert_int_eq(rbd_request_parse(line, strlen(line), &r, NULL, 0), 0);
	ck_assert(r.has_keep);
	ck_assert_uint_eq(r.keep, 0);
	out = rbd_request_format(&r);
	ck_assert_str_eq(out, line);
	ck_assert_int_eq(rbd_request_parse(out, strlen(out), &back, NULL, 0), 0);
	ck_assert(back.has_keep && back.keep == 0);
	free(out);
	rbd_request_clear(&back);
	rbd_request_clear(&r);
	for (size_t i = 0; i < N_ELEMENTS(bad_keep); i++) {
		ck_assert_int_eq(rbd_request_parse(bad_keep[i].line,
		    strlen(bad_keep[i].line), &r, err, sizeof(err)), bad_keep[i].ret);
		ck_assert_str_eq(err, bad_keep[i].err);
	}
}
END_TEST

/* What rollbackctl checks --reason with, for bytes JSON cannot carry. */
START_TEST(test_reason_check)
{
	static const struct {
		const char *s;
		const char *why;	/* NULL: valid */
	} cases[] = {
		{ "db maintenance", NULL },
		{ "\xc3\xa9t\xc3\xa9 \xe2\x80\x93 \xf0\x9f\x98\x80", NULL },
		{ "\xc2\xa0non-breaking", NULL },	/* U+00A0: past C1 */
		{ REASON256, NULL },
		{ "", "is empty" },
		{ REASON256 "x", "is longer than 256 bytes" },
		{ "a\nb", "contains a control character" },
		{ "\x1b[2J", "contains a control character" },
		{ "\x7f", "contains a control character" },
		{ "\xc2\x80", "contains a control character" },
		{ "\xc2\x9f", "contains a control character" },
		{ "\xff", "is not valid UTF-8" },
		{ "\x80", "is not valid UTF-8" },		/* continuation */
		{ "\xc0\xaf", "is not valid UTF-8" },	/* overlong '/' */
		{ "\xe0\x80\xaf", "is not valid UTF-8" },	/* overlong */
		{ "\xf0\x80\x80\xaf", "is not valid UTF-8" },	/* overlong */
		{ "\xed\xa0\x80", "is not valid UTF-8" },	/* surrogate */
		{ "\xf4\x90\x80\x80", "is not valid UTF-8" },	/* > U+10FFFF */
		{ "ab\xe2\x82", "is not valid UTF-8" },	/* cut short */
		{ "\xe2\x28\xa1", "is not valid UTF-8" },
	};

	ck_assert_uint_eq(strlen(REASON256), RBD_PROTO_REASON_MAX);
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const char *why = "untouched";
		int r = rbd_proto_reason_check(cases[i].s, strlen(cases[i].s),
		    &why);

		if (!cases[i].why) {
			ck_assert_msg(r == 0, "case %zu: %s", i, why);
			ck_assert_str_eq(why, "untouched");
		} else {
			ck_assert_msg(r == -EINVAL, "case %zu", i);
			ck_assert_str_eq(why, cases[i].why);
		}
	}
	/* A NUL inside the length counts too; NULL is empty. */
	ck_assert_int_eq(rbd_proto_reason_check("a\0b", 3, NULL), -EINVAL);
	ck_assert_int_eq(rbd_proto_reason_check(NULL, 0, NULL), -EINVAL);
}
END_TEST

START_TEST(test_format_refuses)
{
	struct rbd_request r = { .cmd = RBD_CMD_DEPLOYED };

	snprintf(r.service, sizeof(r.service), "a");
	snprintf(r.version, sizeof(r.version), "1");
	r.meta = (char *)"[1]";
	ck_assert_ptr_null(rbd_request_format(&r));
	r.meta = (char *)"{";
	ck_assert_ptr_null(rbd_request_format(&r));
	r.meta = NULL;
	r.cmd = _RBD_CMD_MAX;
	ck_assert_ptr_null(rbd_request_format(&r));
	ck_assert_ptr_null(rbd_request_format(NULL));
}
END_TEST

START_TEST(test_cmd_names)
{
	enum rbd_cmd c;

	for (unsigned i = 0; i < _RBD_CMD_MAX; i++) {
		ck_assert_int_eq(rbd_cmd_from_str(rbd_cmd_str(i), &c), 0);
		ck_assert_int_eq(c, i);
	}
	ck_assert_str_eq(rbd_cmd_str(RBD_CMD_MARK_GOOD), "mark-good");
	ck_assert_str_eq(rbd_cmd_str(_RBD_CMD_MAX), "unknown");
	c = RBD_CMD_RELOAD;
	ck_assert_int_eq(rbd_cmd_from_str("mark_good", &c), -EINVAL);
	ck_assert_int_eq(rbd_cmd_from_str(NULL, &c), -EINVAL);
	ck_assert_int_eq(c, RBD_CMD_RELOAD);
}
END_TEST

START_TEST(test_small_errbuf)
{
	struct rbd_request r;
	char err[8];

	ck_assert_int_eq(rbd_request_parse("{\"cmd\":\"destroy\"}", 17, &r, err,
	    sizeof(err)), -EPROTO);
	ck_assert_str_eq(err, "unknown");
	ck_assert_int_eq(rbd_request_parse("x", 1, &r, NULL, 0), -EPROTO);
	ck_assert_int_eq(rbd_request_parse(NULL, 0, &r, NULL, 0), -EPROTO);
}
END_TEST

/* Garbage in any shape: no crash, and a printable message every time. */
START_TEST(test_garbage)
{
	static const char alphabet[] = "{}[]\":,\\ \n\x01\x1b\xc3\xa9\xff"
	    "cmdserviceversionmetawaitlimitstatus0123456789-.tfnul";
	unsigned seed = 12345;
	char line[96], err[256];
	struct rbd_request r;

	for (int i = 0; i < 20000; i++) {
		size_t n = (seed = seed * 1103515245 + 12345) % sizeof(line);

		for (size_t j = 0; j < n; j++) {
			seed = seed * 1103515245 + 12345;
			line[j] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		if (rbd_request_parse(line, n, &r, err, sizeof(err)) == 0)
			rbd_request_clear(&r);
		else
			assert_printable(err);
	}
}
END_TEST

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_parse_good, 0, N_ELEMENTS(good));
	tcase_add_loop_test(tc, test_parse_good_new, 0, N_ELEMENTS(good_new));
	tcase_add_loop_test(tc, test_parse_bad, 0, N_ELEMENTS(bad));
	tcase_add_test(tc, test_line_max);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_meta_limits);
	tcase_add_test(tc, test_small_errbuf);
	tcase_add_test(tc, test_garbage);
	suite_add_tcase(s, tc);
	tc = tcase_create("format");
	tcase_add_test(tc, test_format_from_struct);
	tcase_add_test(tc, test_format_new_fields);
	tcase_add_test(tc, test_format_refuses);
	tcase_add_test(tc, test_reason_check);
	tcase_add_test(tc, test_prune);
	tcase_add_test(tc, test_cmd_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rbd_test_run(proto_suite());
}
