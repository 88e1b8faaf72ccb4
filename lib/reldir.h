/* The release-directory deployer's paths, pure: which paths a policy may
 * name, where release X lives, what the "current" symlink's text says,
 * the temporary name a new link is made under, and which release
 * directories "rollbackctl prune" may remove.
 *
 * Layout: releases/X is release X (a directory); current is a symlink
 * whose text is the absolute path releases/X. A deploy makes a new link
 * under a temporary name in current's directory and renames it over
 * current, so current always exists (daemon/deploy_dir.c). Nothing here
 * touches the file system. */
#ifndef RBD_RELDIR_H
#define RBD_RELDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "version.h"

/* The longest releases or current path a policy may name (bytes): room
 * is left under PATH_MAX for "/" and a version, or a temporary name. */
#define RBD_RELDIR_PATH_MAX	1024
/* Room for releases + "/" + a version, or a temporary link name. */
#define RBD_RELDIR_BUF		(RBD_RELDIR_PATH_MAX + RBD_VERSION_MAX + 64)
/* prune's --keep: the newest this many release directories stay. */
#define RBD_RELDIR_KEEP_DEFAULT	5
#define RBD_RELDIR_KEEP_MAX	1000
/* Entries of releases that prune looks at, at most. */
#define RBD_RELDIR_ENTRIES_MAX	10000

/* 0 if path may be a policy's releases or current: absolute, canonical
 * (no empty, "." or ".." component, no trailing '/'), not "/" itself, at
 * most RBD_RELDIR_PATH_MAX bytes, no control characters. -EINVAL
 * otherwise, with a static reason in *ret_why ("must be an absolute
 * path", "must not contain '..' components", ...); ret_why may be NULL. */
int rbd_reldir_path_check(const char *path, const char **ret_why);

/* Whether path is dir or lies beneath it ("/a/b" is under "/a", "/ab"
 * is not). Both canonical (rbd_reldir_path_check). */
bool rbd_reldir_is_under(const char *path, const char *dir);

/* releases/version into buf. The version is checked again here
 * (rbd_version_check, and neither '/' nor a "." or ".." name can pass):
 * -EINVAL when it is not valid, -ENAMETOOLONG when buf is too small. */
int rbd_reldir_target(const char *releases, const char *version, char *buf,
    size_t len);

/* The temporary name of a new link for current: ".<base>.rbd-<nonce>" in
 * current's directory. -ENAMETOOLONG when buf is too small. */
int rbd_reldir_tmp_link(const char *current, uint64_t nonce, char *buf,
    size_t len);

/* The release a link text names: text is releases/X (absolute), or a
 * relative text resolved against current's directory to releases/X;
 * trailing slashes are ignored. Returns 0 and X in ret (RBD_VERSION_MAX
 * + 1 bytes), or -ENOENT when the text names nothing under releases or
 * not a valid version. */
int rbd_reldir_link_version(const char *releases, const char *current,
    const char *text, char *ret);

/* One entry of releases, as the daemon found it (lstat, not followed). */
struct rbd_reldir_entry {
	const char *name;
	bool is_dir;			/* a directory, not a symlink to one */
	uint64_t mtime;			/* usec since the epoch */
};

/* Why prune keeps or removes an entry. */
enum rbd_prune_why {
	RBD_PRUNE_REMOVE,		/* older than the newest keep, unprotected */
	RBD_PRUNE_CURRENT,		/* current points to it */
	RBD_PRUNE_LIVE,			/* the live release */
	RBD_PRUNE_TARGET,		/* the rollback target (or a rollback's) */
	RBD_PRUNE_GOOD,			/* a known-good release */
	RBD_PRUNE_NEWEST,		/* among the newest keep directories */
	RBD_PRUNE_NOT_RELEASE,		/* not a valid version name: untouched */
	RBD_PRUNE_NOT_DIR,		/* not a directory (a symlink, a file) */
	_RBD_PRUNE_WHY_MAX,
};
/* "remove", "current", "live", "rollback target", "known-good", "newest",
 * "not a release name", "not a directory". */
const char *rbd_prune_why_str(enum rbd_prune_why w);

/* What must stay whatever its age. Any pointer may be NULL or "". */
struct rbd_prune_protect {
	const char *current;		/* the version current points to */
	const char *live;
	const char *target;		/* rbd_watch_rollback_target */
	const char *rolling_to;		/* a rollback in progress: its target */
	const char *const *good;	/* known-good releases */
	size_t n_good;
};

/* Decide for each of the n entries (n <= RBD_RELDIR_ENTRIES_MAX) into
 * ret_why[i]. Release directories (valid version names) are ranked newest
 * first by mtime (ties: the greater name first); one that protect names
 * stays for that reason (the first in the enum's order), whatever its
 * age; of the others, those ranked among the newest keep stay (NEWEST:
 * protected ones count in the ranking), the rest are removed. Entries
 * that are not directories or not release names are never removed.
 * Returns the number to remove, or -EINVAL (n too large), -ENOMEM. */
int rbd_reldir_prune_plan(const struct rbd_reldir_entry *entries, size_t n,
    unsigned keep, const struct rbd_prune_protect *protect,
    enum rbd_prune_why *ret_why);

#endif
