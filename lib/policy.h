/* The policy model and its loader: the main config (rollbackd.yaml) and one
 * policy file per service (policies.d/NAME.yaml), read with libyaml.
 *
 * Loading never stops at the first error: every problem in a file is added
 * to the caller's struct rbd_diag as "file:line:col: message", and only then
 * does the call fail. Unknown keys are errors, so a typo never silently
 * disables a check. The keys, their types, defaults and limits are
 * documented in man/rollbackd.policy.5; keep the two in step. */
#ifndef RBD_POLICY_H
#define RBD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "drill.h"
#include "judge.h"
#include "metric.h"

/* Limits on what a file may make us hold. */
#define RBD_POLICY_FILE_MAX	(1024 * 1024)	/* bytes in one file */
#define RBD_POLICY_SCALAR_MAX	(16 * 1024)	/* bytes in one scalar */
#define RBD_POLICY_DEPTH_MAX	16		/* nested mappings/sequences */
#define RBD_POLICY_CHECKS_MAX	10000		/* checks in one policy */
#define RBD_POLICY_ARGV_MAX	256		/* deploy.command elements */
#define RBD_POLICY_STATUS_MAX	32		/* expect_status entries */
#define RBD_POLICY_URL_MAX	2048
#define RBD_POLICY_QUERY_MAX	4096		/* prometheus.query bytes */
#define RBD_POLICY_SELECTOR_MAX	1024		/* a scrape selector's bytes */
#define RBD_POLICY_FILES_MAX	10000		/* policies in a directory */
#define RBD_POLICY_GUARDS_MAX	100		/* guards in one policy */
/* Remedies */
#define RBD_POLICY_REMEDIES_MAX	10		/* remedies in one policy */
#define RBD_POLICY_HEADERS_MAX	32		/* remedies[].http.headers */
#define RBD_POLICY_BODY_MAX	(16 * 1024)	/* remedies[].http.body bytes */

/* Main config defaults (the packaged layout). */
#define RBD_DEFAULT_CONFIG	"/etc/rollbackd/rollbackd.yaml"
#define RBD_DEFAULT_SOCKET	"/run/rollbackd/rollbackd.sock"
#define RBD_DEFAULT_STATE_DIR	"/var/lib/rollbackd"
#define RBD_DEFAULT_POLICIES	"/etc/rollbackd/policies.d"

enum rbd_check_type {
	RBD_CHECK_HTTP,
	RBD_CHECK_PROMETHEUS,		/* an instant PromQL query */
	RBD_CHECK_SCRAPE,		/* the service's own /metrics */
	RBD_CHECK_UNIT,			/* a systemd unit's state (sd-bus) */
	_RBD_CHECK_TYPE_MAX,
};
const char *rbd_check_type_str(enum rbd_check_type t);

struct rbd_http_probe {
	char *url;			/* http:// or https:// only */
	uint64_t timeout_usec;		/* < watch.interval */
	int *expect_status;		/* default { 200 } */
	size_t n_expect_status;
	char *expect_body;		/* substring; NULL: not checked */
};

struct rbd_prometheus_probe {
	char *url;			/* the server: http(s)://host:port[/prefix] */
	char *query;			/* PromQL, one series or a scalar */
	uint64_t timeout_usec;		/* < watch.interval */
	char *bearer_token_file;	/* NULL: none; read when probing starts */
	char *basic_user;		/* NULL: none */
	char *basic_password_file;	/* with basic_user */
};

struct rbd_scrape_probe {
	char *url;			/* the service's /metrics */
	uint64_t timeout_usec;		/* < watch.interval */
	struct rbd_metric_spec metric;	/* what to compute from each page */
};

struct rbd_unit_probe {
	char *unit;			/* a unit name (rbd_unit_name_check) */
	unsigned max_restarts;		/* NRestarts growth allowed; default 0 */
	uint64_t timeout_usec;		/* < watch.interval */
};

/* What an unknown sample (no data: an empty query, an absent metric, an
 * unreachable provider, too little traffic) counts as. */
enum rbd_no_data {
	RBD_NO_DATA_INCONCLUSIVE,	/* inconclusive_after in a row: held */
	RBD_NO_DATA_FAIL,		/* a failing sample */
	RBD_NO_DATA_IGNORE,		/* nothing */
	_RBD_NO_DATA_MAX,
};
const char *rbd_no_data_str(enum rbd_no_data n);

struct rbd_check {
	char *name;			/* unique within the policy */
	enum rbd_check_type type;
	union {
		struct rbd_http_probe http;
		struct rbd_prometheus_probe prom;
		struct rbd_scrape_probe scrape;
		struct rbd_unit_probe unit;
	} u;
	struct rbd_condition cond;	/* metric checks: min, max, baseline */
	unsigned fail_after;		/* consecutive failing samples */
	enum rbd_no_data no_data;	/* default inconclusive */
	unsigned inconclusive_after;	/* consecutive unknown samples; default 5 */
	unsigned line, col;		/* where it was defined, for messages */
};

/* Remedies: what one remedy does. */
enum rbd_remedy_type {
	RBD_REMEDY_COMMAND,		/* an argv, like deploy.command */
	RBD_REMEDY_HTTP,		/* one request to a flag service */
	_RBD_REMEDY_TYPE_MAX,
};

/* A remedy's HTTP request: a 2xx response is success; redirects are
 * not followed. No placeholders: the text is sent as written. */
struct rbd_remedy_http {
	char *method;			/* GET, POST, PUT, PATCH, DELETE; default POST */
	char *url;			/* http:// or https:// only */
	char *body;			/* NULL: none */
	char **headers;			/* "Name: value", n_headers of them */
	size_t n_headers;
};

/* One remedy (policy key "remedies"): a cheaper action tried before a
 * rollback, then settle in which the checks must recover. */
struct rbd_remedy {
	char *name;			/* unique among the remedies */
	enum rbd_remedy_type type;
	char **argv;			/* command: NULL-terminated; templates
					 * unexpanded ({service}, {version},
					 * {from_version}) */
	size_t argc;
	struct rbd_remedy_http http;	/* http */
	uint64_t timeout_usec;		/* default 30s */
	uint64_t settle_usec;		/* required, > 0 */
	unsigned line, col;		/* where it was defined */
};

/* What the daemon does with its decisions (policy key "mode"). */
enum rbd_mode {
	RBD_MODE_ENFORCE,		/* the default: act on them */
	RBD_MODE_DRY_RUN,		/* judge and record; run nothing */
	_RBD_MODE_MAX,
};
const char *rbd_mode_str(enum rbd_mode m);	/* "enforce", "dry-run" */

struct rbd_policy {
	char *file;			/* the file it came from */
	char *service;
	enum rbd_mode mode;
	/* deploy: a command (deploy_argv), or a release directory
	 * (deploy_releases set): exactly one of them. */
	char **deploy_argv;		/* NULL-terminated; templates unexpanded;
					 * NULL with a release directory */
	size_t deploy_argc;
	uint64_t deploy_timeout_usec;	/* the whole deploy, restart included */
	/* The release-directory deployer (lib/reldir.h): releases/X is
	 * release X; current, a symlink re-pointed atomically to it; then
	 * the systemd unit restart is restarted (sd-bus), or restart_argv
	 * runs: exactly one of them. Paths canonical and absolute (see
	 * rbd_reldir_path_check), current not inside releases nor releases
	 * inside current. All NULL with a deploy command. */
	char *deploy_releases;
	char *deploy_current;
	char *deploy_restart_unit;	/* a unit name (rbd_unit_name_check) */
	char **deploy_restart_argv;	/* NULL-terminated; {service}, {version},
					 * {from_version} */
	size_t deploy_restart_argc;
	/* migrate_down (optional): the down-migration run before a code
	 * rollback across a reversible schema migration. Placeholders
	 * {service}, {version} (the rollback target), {from_version},
	 * {from_schema} and {to_schema}. NULL when the policy has none. */
	char **migrate_down_argv;	/* NULL-terminated; templates unexpanded */
	size_t migrate_down_argc;
	uint64_t migrate_down_timeout_usec;	/* default: deploy's timeout */
	/* rollback: the loop breaker. At most max_automatic automatic
	 * rollbacks within any period of automatic_per; past it, held.
	 * Defaults 3 and 1h; max_automatic 0 means never automatically. */
	unsigned max_automatic;
	uint64_t automatic_per_usec;
	/* watch */
	uint64_t duration_usec;		/* healthy this long => known-good */
	uint64_t interval_usec;		/* between two samples of one check */
	uint64_t warmup_usec;		/* samples before this are not judged */
	uint64_t verify_usec;		/* restored release must stay healthy */
	/* checks */
	struct rbd_check *checks;
	size_t n_checks;
	/* guards: checks of what the service depends on and the deploy did
	 * not change; the same syntax and probes as checks (fail_after says
	 * when a guard counts as failing). May be empty. */
	struct rbd_check *guards;
	size_t n_guards;
	/* Remedies: tried in order before an automatic rollback (see
	 * watch.h); may be empty. */
	struct rbd_remedy *remedies;
	size_t n_remedies;
	/* Drill: a schedule (policy key drill): a drill is started in the
	 * window when the last passed one is every old (see drill.h).
	 * has_drill false without the key (every is 0 then). */
	bool has_drill;
	uint64_t drill_every_usec;	/* 1h..365d, default 7d */
	struct rbd_drill_window drill_window;
};

#define RBD_GROUP_NAME_MAX	32	/* bytes in read_group, deploy_group */

/* A group named in the main config: a name (letters, digits, '_', '.',
 * '-', not starting with '-') or a numeric gid, with where it was written
 * so that the daemon, which resolves it, can say "file:line:col". name is
 * NULL when the key is absent. */
struct rbd_config_group {
	char *name;
	unsigned line, col;
};

struct rbd_config {
	char *file;			/* the main config file */
	char *socket;			/* absolute paths, resolved against */
	char *state_dir;		/* the main config's directory */
	char *policies_dir;
	/* Who may do what on the control socket (rollbackd(8)): members of
	 * read_group may read (status, history), members of deploy_group
	 * (and root) may also change state. Both absent: whoever can connect
	 * may do everything, as the socket's mode allows. */
	struct rbd_config_group read_group;
	struct rbd_config_group deploy_group;
	struct rbd_policy **policies;	/* sorted by service name */
	size_t n_policies;
};

/* Parse one policy from memory. name is used in messages ("file:line:col").
 * Returns 0 and a new policy in *ret, or -EINVAL with every error added to
 * diag (or -ENOMEM). */
int rbd_policy_parse(const char *name, const char *buf, size_t len,
    struct rbd_policy **ret, struct rbd_diag *diag);

/* Read and parse one policy file (refusing files over RBD_POLICY_FILE_MAX). */
int rbd_policy_load_file(const char *path, struct rbd_policy **ret,
    struct rbd_diag *diag);

void rbd_policy_free(struct rbd_policy *p);

/* Whether a check of this type computes a value judged by a condition
 * (prometheus, scrape), rather than judging its own result (http, unit). */
bool rbd_check_is_metric(enum rbd_check_type t);

/* Index of the check with this name, or -ENOENT. */
int rbd_policy_find_check(const struct rbd_policy *p, const char *name);
/* Index of the guard with this name, or -ENOENT. */
int rbd_policy_find_guard(const struct rbd_policy *p, const char *name);

/* Load the main config at path and every ".yaml" policy in its policies
 * directory (sorted by file name; other files ignored). Two files for one
 * service is an error naming both. Returns 0 and a complete config in
 * *ret, or a negative errno with every error in diag. Nothing is partially
 * returned: a reload either gets a whole new config or keeps the old one. */
int rbd_config_load(const char *path, struct rbd_config **ret,
    struct rbd_diag *diag);

void rbd_config_free(struct rbd_config *c);

/* The policy for a service, or NULL. */
const struct rbd_policy *rbd_config_find(const struct rbd_config *c,
    const char *service);

#endif
