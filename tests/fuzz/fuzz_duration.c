/* libFuzzer harness for durations (lib/duration.c): the input, up to its
 * first NUL, is a duration as a policy writes it. Build and run: "make
 * fuzz" (see tests/fuzz/README).
 *
 * Refused: -EINVAL or -ERANGE with a reason, and the output untouched.
 * Accepted: at most 365 days, and rbd_duration_str() writes it back in a
 * form that parses to the same value. The first 8 bytes are also taken
 * as a number of microseconds: formatted, then parsed back, and formatted
 * into a buffer of any size, which must come back NUL-terminated. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

#define require(cond) do { if (!(cond)) abort(); } while (0)
#define MAX_USEC (365 * RBD_USEC_PER_DAY)

/* usec formatted and parsed back is usec. */
static void check_format(uint64_t usec)
{
	char buf[RBD_DURATION_STR_MAX];
	uint64_t back = 0;

	rbd_duration_str(usec, buf, sizeof(buf));
	require(strlen(buf) < sizeof(buf));
	require(rbd_duration_parse(buf, &back, NULL) == 0 && back == usec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint64_t canary = UINT64_C(0x5a5a5a5a5a5a5a5a);
	const char *why = NULL;
	uint64_t usec = canary, n;
	char *s = malloc(size + 1);
	int r;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = rbd_duration_parse(s, &usec, &why);
	if (r == 0) {
		require(usec <= MAX_USEC);
		check_format(usec);
	} else {
		require((r == -EINVAL || r == -ERANGE) && why && *why);
		require(usec == canary);
	}
	/* A NULL why is allowed and must give the same answer. */
	n = canary;
	require(rbd_duration_parse(s, &n, NULL) == r);
	require(r < 0 || n == usec);
	free(s);

	if (size >= sizeof(n)) {
		char buf[RBD_DURATION_STR_MAX];
		size_t len = data[0] % (sizeof(buf) + 1);

		memcpy(&n, data, sizeof(n));
		check_format(n % (MAX_USEC + 1));
		/* Any buffer size: NUL-terminated inside it, whole units. */
		memset(buf, 'x', sizeof(buf));
		require(rbd_duration_str(n, buf, len) == buf);
		require(len == 0 ? buf[0] == 'x' : memchr(buf, '\0', len) != NULL);
	}
	return 0;
}
