/* What the benchmark programs share: their own CPU and RSS, the
 * descriptor limit, and a lateness histogram. Header-only, since every
 * C file in bench/ is a program of its own. */
#ifndef RBD_BENCH_H
#define RBD_BENCH_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "duration.h"

/* This process's CPU time, user + system, in usec; 0 if unknown. */
static inline uint64_t self_cpu_usec(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * RBD_USEC_PER_SEC +
	    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* VmRSS of this process, KiB; -1 if unknown. */
static inline long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Raise the descriptor limit to the hard limit; returns the new limit. */
static inline rlim_t raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

/* Lateness histogram: values below 2^SUB_BITS exact, above in 2^SUB_BITS
 * buckets per power of two (within 1/64 = 1.6%), up to 2^40 usec. */
#define SUB_BITS	6
#define SUB		(1u << SUB_BITS)
#define HIST_BUCKETS	((40 - SUB_BITS + 1) * SUB)

struct lat_hist {
	uint64_t count, max;
	uint32_t b[HIST_BUCKETS];
};

static inline unsigned hist_bucket(uint64_t v)
{
	unsigned e;

	if (v < SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v) - (SUB_BITS - 1);	/* >= 1 */
	if (e > 40 - SUB_BITS)
		return HIST_BUCKETS - 1;
	return e * SUB + (unsigned)(v >> e) - SUB;
}

/* The middle of bucket b's values. */
static inline uint64_t hist_value(unsigned b)
{
	unsigned e = b / SUB;

	if (e == 0)
		return b;
	return (((uint64_t)(b % SUB + SUB)) << e) + ((1ull << e) >> 1);
}

static inline void hist_add(struct lat_hist *h, uint64_t v)
{
	h->b[hist_bucket(v)]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

/* The q-quantile (0 < q <= 1) of what was added; 0 when nothing was. */
static inline uint64_t hist_quantile(const struct lat_hist *h, double q)
{
	uint64_t rank = (uint64_t)((double)h->count * q + 0.999999), seen = 0;

	if (h->count == 0)
		return 0;
	if (rank < 1)
		rank = 1;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		seen += h->b[b];
		if (seen >= rank)
			return hist_value(b) < h->max ? hist_value(b) : h->max;
	}
	return h->max;
}

/* Option --name's value s, a whole number in min..max, into *ret; else a
 * message on stderr ("prog: --name: a whole number in 1..10") and
 * -EINVAL, *ret untouched. */
static inline int bench_parse_num(const char *prog, const char *name,
    const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "%s: --%s: a whole number in %ld..%ld\n",
		    prog, name, min, max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

#endif
