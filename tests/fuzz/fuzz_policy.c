/* libFuzzer harness for the policy loader (lib/policy.c on lib/yamlnode.c):
 * each input is one policy file, parsed from memory by rbd_policy_parse.
 * Build and run: "make fuzz" (see tests/fuzz/README).
 *
 * On failure the loader must have said why: at least one message, each
 * "fuzz.yaml:...". (Not checked: that messages are free of control
 * characters. A selector's messages quote its regex and stray characters
 * as they are, so a "\n" in a label value breaks the line.) On success
 * the policy must keep the promises the daemon relies on without checking
 * again: a valid service name, a deploy command whose program is set and
 * whose elements are valid templates, checks with valid unique names,
 * probe timeouts shorter than the interval, the watch windows in order. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "policy.h"
#include "template.h"
#include "version.h"

#define NAME "fuzz.yaml"

/* Abort unless cond: a broken promise is a finding. */
#define require(cond) do { if (!(cond)) abort(); } while (0)

/* A command: argc elements, NULL-terminated, each a valid template of
 * the set allowed; the program is not empty. Expanding it with valid
 * values keeps the number of elements. */
static void check_argv(char **argv, size_t argc, unsigned allowed)
{
	const struct rbd_template_vars vars = {
		"svc", "v1.2.3", "v1.2.2", "7", "6",
	};
	char **out = NULL;
	size_t n = 0;

	require(argv && argc >= 1 && argc <= RBD_POLICY_ARGV_MAX);
	require(argv[argc] == NULL && argv[0][0] != '\0');
	for (size_t i = 0; i < argc; i++)
		require(argv[i] && rbd_template_check_set(argv[i], allowed,
		    NULL, NULL, 0) == 0);
	require(rbd_argv_expand(argv, &vars, &out) == 0);
	while (out[n])
		n++;
	require(n == argc);
	rbd_argv_free(out);
}

/* One check or guard of policy p. */
static void check_check(const struct rbd_policy *p, const struct rbd_check *c)
{
	uint64_t timeout = 0;

	require(c->name && rbd_service_check(c->name, NULL) == 0);
	require(c->fail_after >= 1 && c->fail_after <= 1000);
	require((unsigned)c->no_data < _RBD_NO_DATA_MAX);
	switch (c->type) {
	case RBD_CHECK_HTTP:
		require(c->u.http.url && c->u.http.n_expect_status >= 1);
		timeout = c->u.http.timeout_usec;
		break;
	case RBD_CHECK_PROMETHEUS:
		require(c->u.prom.url && c->u.prom.query);
		timeout = c->u.prom.timeout_usec;
		break;
	case RBD_CHECK_SCRAPE:
		require(c->u.scrape.url && c->u.scrape.metric.sel);
		require((c->u.scrape.metric.kind == RBD_METRIC_RATIO) ==
		    (c->u.scrape.metric.den != NULL));
		timeout = c->u.scrape.timeout_usec;
		break;
	case RBD_CHECK_UNIT:
		require(c->u.unit.unit &&
		    rbd_unit_name_check(c->u.unit.unit, NULL) == 0);
		timeout = c->u.unit.timeout_usec;
		break;
	default:
		abort();
	}
	require(timeout > 0 && timeout < p->interval_usec);
}

/* Everything a loaded policy promises. */
static void check_policy(const struct rbd_policy *p)
{
	require(p->file && strcmp(p->file, NAME) == 0);
	require(p->service && rbd_service_check(p->service, NULL) == 0);
	require((unsigned)p->mode < _RBD_MODE_MAX);
	check_argv(p->deploy_argv, p->deploy_argc, RBD_TEMPLATE_DEPLOY);
	if (p->migrate_down_argv)
		check_argv(p->migrate_down_argv, p->migrate_down_argc,
		    RBD_TEMPLATE_MIGRATE);
	else
		require(p->migrate_down_argc == 0);
	require(p->max_automatic <= 100);
	require(p->interval_usec > 0 && p->interval_usec <= p->duration_usec);
	require(p->warmup_usec < p->duration_usec);
	require(p->n_checks >= 1 && p->checks);
	for (size_t i = 0; i < p->n_checks; i++) {
		check_check(p, &p->checks[i]);
		require(rbd_policy_find_check(p, p->checks[i].name) == (int)i);
		require(rbd_policy_find_guard(p, p->checks[i].name) == -ENOENT);
	}
	for (size_t i = 0; i < p->n_guards; i++) {
		check_check(p, &p->guards[i]);
		require(rbd_policy_find_guard(p, p->guards[i].name) == (int)i);
	}
}

/* Every message names the file. */
static void check_diag(const struct rbd_diag *d)
{
	require(d->n <= RBD_DIAG_MAX);
	for (size_t i = 0; i < d->n; i++)
		require(strncmp(d->msgs[i], NAME ":", strlen(NAME ":")) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rbd_diag diag = { 0 };
	struct rbd_policy *p = NULL;
	int r;

	if (size > RBD_POLICY_FILE_MAX)
		return 0;
	r = rbd_policy_parse(NAME, (const char *)data, size, &p, &diag);
	if (r == 0) {
		require(p && rbd_diag_count(&diag) == 0);
		check_policy(p);
	} else {
		require(p == NULL && (r == -EINVAL || r == -ENOMEM));
		require(rbd_diag_count(&diag) > 0 || r == -ENOMEM);
	}
	check_diag(&diag);
	rbd_policy_free(p);
	rbd_diag_free(&diag);
	return 0;
}
