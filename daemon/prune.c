/* rollbackctl prune: see prune.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "prune.h"

#define HIDE_PREFIX	".rbd-prune-"

struct prune_job {
	struct event *ev;		/* the pipe's read end: the thread is done */
	int pipe_r, pipe_w;
	pthread_t thread;
	int dir_fd;			/* releases, O_DIRECTORY */
	char *releases;
	struct rbd_prune_item *items;
	uint64_t *mtimes;
	size_t n;
	rbd_prune_cb cb;
	void *arg;
};

static void job_free(struct prune_job *job)
{
	if (!job)
		return;
	if (job->ev)
		event_free(job->ev);
	if (job->pipe_r >= 0)
		close(job->pipe_r);
	if (job->pipe_w >= 0)
		close(job->pipe_w);
	if (job->dir_fd >= 0)
		close(job->dir_fd);
	for (size_t i = 0; i < job->n; i++)
		free(job->items[i].name);
	free(job->items);
	free(job->mtimes);
	free(job->releases);
	free(job);
}

/* ---- the worker thread: removal without following a symlink ---- */

/* Remove everything in directory fd (which is closed), depth levels
 * down from releases. Returns 0 or an errno. */
static int empty_dir(int fd, unsigned depth)
{
	DIR *d;
	struct dirent *e;
	int err = 0;

	if (depth > RBD_PRUNE_DEPTH_MAX) {
		close(fd);
		return ELOOP;
	}
	d = fdopendir(fd);
	if (!d) {
		err = errno;
		close(fd);
		return err;
	}
	while (!err) {
		struct stat st;
		int sub;

		errno = 0;
		e = readdir(d);
		if (!e) {
			err = errno;
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			err = errno == ENOENT ? 0 : errno;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			/* Files, and symlinks themselves, whatever they name. */
			if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT)
				err = errno;
			continue;
		}
		/* O_NOFOLLOW: a directory swapped for a symlink meanwhile is
		 * refused, never entered. */
		sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			err = errno;
			continue;
		}
		err = empty_dir(sub, depth + 1);
		if (!err && unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) < 0)
			err = errno;
	}
	closedir(d);
	return err;
}

/* Remove releases/name: hide it under a dot name first (so it leaves
 * releases whole), then empty and remove it. Returns 0 or an errno. */
static int remove_release(int dir_fd, const char *name)
{
	char hidden[NAME_MAX + 1];
	struct stat st;
	int fd, err;

	if ((size_t)snprintf(hidden, sizeof(hidden), HIDE_PREFIX "%s", name) >=
	    sizeof(hidden))
		return ENAMETOOLONG;
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno;
	if (!S_ISDIR(st.st_mode))
		return ENOTDIR;		/* changed since the plan: leave it */
	if (renameat(dir_fd, name, dir_fd, hidden) < 0)
		return errno;
	fd = openat(dir_fd, hidden, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0)
		return errno;
	err = empty_dir(fd, 1);
	if (!err && unlinkat(dir_fd, hidden, AT_REMOVEDIR) < 0)
		err = errno;
	return err;
}

static void *worker(void *arg)
{
	struct prune_job *job = arg;
	char done = 1;

	for (size_t i = 0; i < job->n; i++)
		if (job->items[i].why == RBD_PRUNE_REMOVE)
			job->items[i].error = remove_release(job->dir_fd,
			    job->items[i].name);
	while (write(job->pipe_w, &done, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

/* ---- on the loop ---- */

/* The thread is done: report, free. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct prune_job *job = arg;
	struct rbd_prune_result r = { .releases = job->releases,
	    .items = job->items, .n_items = job->n };
	char c;

	(void)what;
	if (read(fd, &c, 1) < 0 && errno == EAGAIN)
		return;
	pthread_join(job->thread, NULL);
	job->cb(job->arg, &r);
	job_free(job);
}

/* Newest first, as the plan ranks them; then the rest by name. */
static int cmp_items(const void *a, const void *b, void *arg)
{
	const struct prune_job *job = arg;
	size_t x = (size_t)(*(const struct rbd_prune_item *const *)a - job->items);
	size_t y = (size_t)(*(const struct rbd_prune_item *const *)b - job->items);

	if (job->mtimes[x] != job->mtimes[y])
		return job->mtimes[x] > job->mtimes[y] ? -1 : 1;
	return -strcmp(job->items[x].name, job->items[y].name);
}

/* Read releases into job->items (why unset) and job->mtimes. */
static int read_releases(struct prune_job *job, char *err, size_t errlen)
{
	int fd = dup(job->dir_fd);
	size_t cap = 0;
	struct dirent *e;
	DIR *d;

	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int r = -errno;

		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "%s: %s", job->releases, strerror(-r));
		return r;
	}
	while ((e = readdir(d))) {
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (job->n == RBD_RELDIR_ENTRIES_MAX) {
			closedir(d);
			snprintf(err, errlen, "%s has more than %d entries",
			    job->releases, RBD_RELDIR_ENTRIES_MAX);
			return -E2BIG;
		}
		if (job->n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			void *a = realloc(job->items, ncap * sizeof(*job->items));
			void *b = a ? realloc(job->mtimes, ncap * sizeof(*job->mtimes)) : NULL;

			if (a)
				job->items = a;
			if (b)
				job->mtimes = b;
			if (!a || !b) {
				closedir(d);
				snprintf(err, errlen, "out of memory");
				return -ENOMEM;
			}
			cap = ncap;
		}
		memset(&st, 0, sizeof(st));
		fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW);
		job->items[job->n] = (struct rbd_prune_item){
			.name = strdup(e->d_name),
			.why = S_ISDIR(st.st_mode) ? RBD_PRUNE_REMOVE : RBD_PRUNE_NOT_DIR,
		};
		job->mtimes[job->n] = (uint64_t)st.st_mtim.tv_sec * 1000000 +
		    (uint64_t)st.st_mtim.tv_nsec / 1000;
		if (!job->items[job->n].name) {
			closedir(d);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		job->n++;
	}
	closedir(d);
	return 0;
}

/* Decide with the plan, and order the items newest first. */
static int plan(struct prune_job *job, unsigned keep,
    const struct rbd_prune_protect *protect, char *err, size_t errlen)
{
	struct rbd_reldir_entry *e = calloc(job->n + 1, sizeof(*e));
	enum rbd_prune_why *why = calloc(job->n + 1, sizeof(*why));
	struct rbd_prune_item **order = calloc(job->n + 1, sizeof(*order));
	struct rbd_prune_item *sorted = calloc(job->n + 1, sizeof(*sorted));
	uint64_t *mtimes = calloc(job->n + 1, sizeof(*mtimes));
	int r = -ENOMEM;

	if (!e || !why || !order || !sorted || !mtimes)
		goto out;
	for (size_t i = 0; i < job->n; i++)
		e[i] = (struct rbd_reldir_entry){ .name = job->items[i].name,
		    .is_dir = job->items[i].why == RBD_PRUNE_REMOVE,
		    .mtime = job->mtimes[i] };
	r = rbd_reldir_prune_plan(e, job->n, keep, protect, why);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < job->n; i++) {
		job->items[i].why = why[i];
		order[i] = &job->items[i];
	}
	qsort_r(order, job->n, sizeof(*order), cmp_items, job);
	for (size_t i = 0; i < job->n; i++) {
		sorted[i] = *order[i];
		mtimes[i] = job->mtimes[order[i] - job->items];
	}
	free(job->items);
	free(job->mtimes);
	job->items = sorted;
	job->mtimes = mtimes;
	sorted = NULL;
	mtimes = NULL;
	r = 0;
out:
	if (r < 0)
		snprintf(err, errlen, "%s", strerror(-r));
	free(e);
	free(why);
	free(order);
	free(sorted);
	free(mtimes);
	return r;
}

int rbd_prune_start(struct event_base *base, const char *releases,
    unsigned keep, const struct rbd_prune_protect *protect, rbd_prune_cb cb,
    void *arg, char *err, size_t errlen)
{
	struct prune_job *job = calloc(1, sizeof(*job));
	sigset_t all, old;
	int p[2], r;

	if (!job) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	job->pipe_r = job->pipe_w = -1;
	job->cb = cb;
	job->arg = arg;
	job->releases = strdup(releases);
	job->dir_fd = open(releases, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (job->dir_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open %s: %s", releases, strerror(-r));
		goto fail;
	}
	r = !job->releases ? -ENOMEM : read_releases(job, err, errlen);
	if (r >= 0)
		r = plan(job, keep, protect, err, errlen);
	if (r < 0)
		goto fail;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(-r));
		goto fail;
	}
	job->pipe_r = p[0];
	job->pipe_w = p[1];
	job->ev = event_new(base, job->pipe_r, EV_READ | EV_PERSIST, on_done, job);
	if (!job->ev || event_add(job->ev, NULL) < 0) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* The thread runs with every signal blocked: they are the loop's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&job->thread, NULL, worker, job);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		snprintf(err, errlen, "cannot start a thread: %s", strerror(-r));
		goto fail;
	}
	return 0;
fail:
	job_free(job);
	return r;
}
