/* Durations as people write them: see duration.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

#define DURATION_MAX (365 * RBD_USEC_PER_DAY)

/* Units from the largest to the smallest: the order they must appear in. */
static const struct {
	const char *name;
	uint64_t usec;
} units[] = {
	{ "d", RBD_USEC_PER_DAY },
	{ "h", RBD_USEC_PER_HOUR },
	{ "m", RBD_USEC_PER_MIN },
	{ "s", RBD_USEC_PER_SEC },
	{ "ms", RBD_USEC_PER_MSEC },
	{ "us", 1 },
};
#define N_UNITS (sizeof(units) / sizeof(units[0]))

/* Index of the unit that s starts with (longest match: "ms" before "m"),
 * storing its length in *ret_len; -1 when there is none. */
static int unit_at(const char *s, size_t *ret_len)
{
	int best = -1;
	size_t best_len = 0;

	for (size_t i = 0; i < N_UNITS; i++) {
		size_t n = strlen(units[i].name);

		if (n > best_len && strncmp(s, units[i].name, n) == 0) {
			best = (int)i;
			best_len = n;
		}
	}
	*ret_len = best_len;
	return best;
}

/* Set *ret_why (if wanted) and return err. */
static int fail(const char **ret_why, const char *why, int err)
{
	if (ret_why)
		*ret_why = why;
	return err;
}

int rbd_duration_parse(const char *s, uint64_t *ret_usec, const char **ret_why)
{
	uint64_t total = 0;
	int last = -1;

	if (!s || !*s)
		return fail(ret_why, "empty", -EINVAL);
	if (strcmp(s, "0") == 0) {
		*ret_usec = 0;
		return 0;
	}
	while (*s) {
		uint64_t n = 0;
		size_t len;
		int u;

		if (*s < '0' || *s > '9')
			return fail(ret_why, *s == '-' ? "must not be negative" :
			    "expected a number followed by a unit (us, ms, s, m, h, d)",
			    -EINVAL);
		for (; *s >= '0' && *s <= '9'; s++) {
			if (n > DURATION_MAX)
				return fail(ret_why, "longer than 365 days", -ERANGE);
			n = n * 10 + (uint64_t)(*s - '0');
		}
		if (!*s)
			return fail(ret_why, "needs a unit (us, ms, s, m, h, d)", -EINVAL);
		if (*s == '.' || *s == ',')
			return fail(ret_why, "fractions are not supported; use a smaller unit (1500ms, not 1.5s)", -EINVAL);
		u = unit_at(s, &len);
		if (u < 0)
			return fail(ret_why, "unknown unit; use us, ms, s, m, h or d", -EINVAL);
		if (u <= last)
			return fail(ret_why, "units must go from the largest to the smallest, each once (1h30m)", -EINVAL);
		if (n > DURATION_MAX / units[u].usec ||
		    total + n * units[u].usec > DURATION_MAX)
			return fail(ret_why, "longer than 365 days", -ERANGE);
		total += n * units[u].usec;
		last = u;
		s += len;
	}
	*ret_usec = total;
	return 0;
}

char *rbd_duration_str(uint64_t usec, char *buf, size_t len)
{
	size_t off = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	if (usec == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	for (size_t i = 0; i < N_UNITS && usec; i++) {
		uint64_t n = usec / units[i].usec;
		int w;

		if (!n)
			continue;
		w = snprintf(buf + off, len - off, "%llu%s",
		    (unsigned long long)n, units[i].name);
		if (w < 0 || (size_t)w >= len - off) {
			buf[off] = '\0';	/* whole units only */
			break;
		}
		off += (size_t)w;
		usec -= n * units[i].usec;
	}
	return buf;
}

/* See duration.h. */
const char *rbd_elapsed_str(uint64_t usec, char *buf, size_t len)
{
	if (usec < RBD_USEC_PER_SEC)
		snprintf(buf, len, "%llums", (unsigned long long)
		    (usec / RBD_USEC_PER_MSEC));
	else if (usec < RBD_USEC_PER_MIN)
		snprintf(buf, len, "%llu.%llus", (unsigned long long)
		    (usec / RBD_USEC_PER_SEC), (unsigned long long)
		    (usec % RBD_USEC_PER_SEC / (RBD_USEC_PER_SEC / 10)));
	else
		rbd_duration_str(usec - usec % RBD_USEC_PER_SEC, buf, len);
	return buf;
}
