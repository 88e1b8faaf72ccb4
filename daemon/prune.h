/* rollbackctl prune: old release directories of a release-directory
 * deployer, removed without blocking the loop.
 *
 * rbd_prune_start reads the releases directory (one readdir and an
 * fstatat per entry, on the loop), decides with lib/reldir.h's
 * rbd_reldir_prune_plan what goes, and hands the removals to a worker
 * thread: each doomed directory is first renamed to ".rbd-prune-NAME"
 * (so it disappears from releases at once and whole), then its tree is
 * removed with openat(O_NOFOLLOW | O_DIRECTORY), fstatat(AT_SYMLINK_
 * NOFOLLOW) and unlinkat, never following a symlink: a link inside a
 * release is removed, not what it points to. Nesting deeper than
 * RBD_PRUNE_DEPTH_MAX is refused. When the thread is done, the callback
 * runs on the loop with the outcome. */
#ifndef RBD_PRUNE_H
#define RBD_PRUNE_H

#include <stddef.h>

#include "reldir.h"

struct event_base;

#define RBD_PRUNE_DEPTH_MAX	64

/* One entry of releases and what became of it. */
struct rbd_prune_item {
	char *name;
	enum rbd_prune_why why;		/* REMOVE: it was to be removed */
	int error;			/* REMOVE: 0, or the errno that stopped it */
};

struct rbd_prune_result {
	const char *releases;
	struct rbd_prune_item *items;	/* newest first, as ranked */
	size_t n_items;
};

/* Called once on the loop, never from within rbd_prune_start; r is
 * valid during the call only. */
typedef void (*rbd_prune_cb)(void *arg, const struct rbd_prune_result *r);

/* Plan and start a prune of releases (see above). Returns 0 (cb will be
 * called), or a negative errno with a reason in err: releases cannot be
 * read, too many entries, no thread. */
int rbd_prune_start(struct event_base *base, const char *releases,
    unsigned keep, const struct rbd_prune_protect *protect, rbd_prune_cb cb,
    void *arg, char *err, size_t errlen);

#endif
