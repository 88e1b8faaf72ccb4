/* The release-directory deployer's paths: see reldir.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reldir.h"

int rbd_reldir_path_check(const char *path, const char **ret_why)
{
	const char *why = NULL;
	size_t len = path ? strlen(path) : 0;

	if (!path || !*path)
		why = "must not be empty";
	else if (*path != '/')
		why = "must be an absolute path";
	else if (len > RBD_RELDIR_PATH_MAX)
		why = "is longer than 1024 bytes";
	else if (len == 1)
		why = "must not be the root directory";
	else if (path[len - 1] == '/')
		why = "must not end with '/'";
	for (const char *p = path; !why && *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			why = "contains a control character";
		else if (*p != '/')
			continue;
		else if (p[1] == '/')
			why = "must not contain '//'";
		else if (p[1] == '.' && (p[2] == '/' || !p[2]))
			why = "must not contain '.' components";
		else if (p[1] == '.' && p[2] == '.' && (p[3] == '/' || !p[3]))
			why = "must not contain '..' components";
	}
	if (!why)
		return 0;
	if (ret_why)
		*ret_why = why;
	return -EINVAL;
}

bool rbd_reldir_is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A release name that may become one path component. rbd_version_check
 * already refuses '/' and ".."; a name of dots alone is refused here too,
 * so that a change there can never make releases/X leave releases. */
static bool version_ok(const char *version)
{
	return rbd_version_check(version, NULL) == 0 && !strchr(version, '/') &&
	    strcmp(version, ".") != 0 && strcmp(version, "..") != 0;
}

int rbd_reldir_target(const char *releases, const char *version, char *buf,
    size_t len)
{
	int n;

	if (!version_ok(version))
		return -EINVAL;
	n = snprintf(buf, len, "%s/%s", releases, version);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int rbd_reldir_tmp_link(const char *current, uint64_t nonce, char *buf,
    size_t len)
{
	const char *slash = strrchr(current, '/');
	int n;

	if (!slash)
		return -EINVAL;
	n = snprintf(buf, len, "%.*s/.%s.rbd-%016" PRIx64,
	    (int)(slash - current), current, slash + 1, nonce);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int rbd_reldir_link_version(const char *releases, const char *current,
    const char *text, char *ret)
{
	char full[RBD_RELDIR_BUF * 2];
	const char *slash = strrchr(current, '/');
	size_t rl = strlen(releases), n;
	const char *name;
	int w;

	if (!slash || !*text)
		return -ENOENT;
	if (*text == '/')
		w = snprintf(full, sizeof(full), "%s", text);
	else
		w = snprintf(full, sizeof(full), "%.*s/%s",
		    (int)(slash - current), current, text);
	if (w < 0 || (size_t)w >= sizeof(full))
		return -ENOENT;
	n = (size_t)w;
	while (n > 1 && full[n - 1] == '/')
		full[--n] = '\0';
	/* A relative text "./releases/x" would need normalising; the
	 * deployer writes absolute texts, and anything else is not ours. */
	if (strncmp(full, releases, rl) != 0 || full[rl] != '/')
		return -ENOENT;
	name = full + rl + 1;
	if (strlen(name) > RBD_VERSION_MAX || !version_ok(name))
		return -ENOENT;
	strcpy(ret, name);
	return 0;
}

const char *rbd_prune_why_str(enum rbd_prune_why w)
{
	static const char *const names[_RBD_PRUNE_WHY_MAX] = {
		[RBD_PRUNE_REMOVE] = "remove",
		[RBD_PRUNE_CURRENT] = "current",
		[RBD_PRUNE_LIVE] = "live",
		[RBD_PRUNE_TARGET] = "rollback target",
		[RBD_PRUNE_GOOD] = "known-good",
		[RBD_PRUNE_NEWEST] = "newest",
		[RBD_PRUNE_NOT_RELEASE] = "not a release name",
		[RBD_PRUNE_NOT_DIR] = "not a directory",
	};

	if ((unsigned)w >= _RBD_PRUNE_WHY_MAX)
		return "unknown";
	return names[w];
}

/* Whether s is set and equal to name. */
static bool names(const char *s, const char *name)
{
	return s && *s && strcmp(s, name) == 0;
}

/* Why protect keeps name, or RBD_PRUNE_REMOVE when it does not. */
static enum rbd_prune_why protected_why(const struct rbd_prune_protect *p,
    const char *name)
{
	if (names(p->current, name))
		return RBD_PRUNE_CURRENT;
	if (names(p->live, name))
		return RBD_PRUNE_LIVE;
	if (names(p->target, name) || names(p->rolling_to, name))
		return RBD_PRUNE_TARGET;
	for (size_t i = 0; i < p->n_good; i++)
		if (names(p->good[i], name))
			return RBD_PRUNE_GOOD;
	return RBD_PRUNE_REMOVE;
}

/* Newest first by mtime, then the greater name first. */
static int cmp_newest(const void *a, const void *b, void *arg)
{
	const struct rbd_reldir_entry *e = arg;
	const struct rbd_reldir_entry *x = &e[*(const size_t *)a];
	const struct rbd_reldir_entry *y = &e[*(const size_t *)b];

	if (x->mtime != y->mtime)
		return x->mtime > y->mtime ? -1 : 1;
	return -strcmp(x->name, y->name);
}

int rbd_reldir_prune_plan(const struct rbd_reldir_entry *entries, size_t n,
    unsigned keep, const struct rbd_prune_protect *protect,
    enum rbd_prune_why *ret_why)
{
	size_t *order, n_rel = 0, rank = 0;
	int removed = 0;

	if (n > RBD_RELDIR_ENTRIES_MAX)
		return -EINVAL;
	order = calloc(n ? n : 1, sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!version_ok(entries[i].name))
			ret_why[i] = RBD_PRUNE_NOT_RELEASE;
		else if (!entries[i].is_dir)
			ret_why[i] = RBD_PRUNE_NOT_DIR;
		else
			order[n_rel++] = i;
	}
	qsort_r(order, n_rel, sizeof(*order), cmp_newest, (void *)entries);
	for (size_t k = 0; k < n_rel; k++, rank++) {
		size_t i = order[k];
		enum rbd_prune_why why = protected_why(protect, entries[i].name);

		if (why == RBD_PRUNE_REMOVE && rank < keep)
			why = RBD_PRUNE_NEWEST;
		ret_why[i] = why;
		removed += why == RBD_PRUNE_REMOVE;
	}
	free(order);
	return removed;
}
