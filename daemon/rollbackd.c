/* rollbackd: the daemon's entry point.
 *
 * This build knows the configuration test (-t): load the main config and
 * every policy, print each error as file:line:col: message, and exit
 * non-zero if there was any, like nginx -t. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "diag.h"
#include "policy.h"

static void usage(FILE *out)
{
	fprintf(out,
	    "usage: rollbackd [-t] [-c FILE]\n"
	    "  -c FILE  main configuration (default " RBD_DEFAULT_CONFIG ")\n"
	    "  -t       test the configuration and every policy, then exit\n"
	    "  -h       this help\n");
}

/* Print every collected error, then how many were not kept. */
static void print_diag(const struct rbd_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "%s\n", d->msgs[i]);
	if (d->dropped)
		fprintf(stderr, "rollbackd: and %zu more errors\n", d->dropped);
}

/* -t: exit 0 with a one-line summary when everything loads, 1 otherwise. */
static int test_config(const char *path)
{
	struct rbd_diag diag = { 0 };
	struct rbd_config *c = NULL;
	size_t checks = 0;
	int r;

	r = rbd_config_load(path, &c, &diag);
	if (r < 0) {
		print_diag(&diag);
		if (!rbd_diag_count(&diag))
			fprintf(stderr, "%s: %s\n", path, strerror(-r));
		fprintf(stderr, "rollbackd: configuration %s has %zu error%s\n",
		    path, rbd_diag_count(&diag), rbd_diag_count(&diag) == 1 ? "" : "s");
		rbd_diag_free(&diag);
		return 1;
	}
	for (size_t i = 0; i < c->n_policies; i++)
		checks += c->policies[i]->n_checks;
	printf("rollbackd: configuration %s is ok: %zu polic%s, %zu check%s\n",
	    path, c->n_policies, c->n_policies == 1 ? "y" : "ies",
	    checks, checks == 1 ? "" : "s");
	rbd_config_free(c);
	rbd_diag_free(&diag);
	return 0;
}

int main(int argc, char **argv)
{
	const char *config = RBD_DEFAULT_CONFIG;
	int test = 0, ch;

	while ((ch = getopt(argc, argv, "c:th")) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (!test) {
		fprintf(stderr, "rollbackd: this build only tests configurations; "
		    "run it with -t\n");
		return EX_SOFTWARE;
	}
	return test_config(config);
}
