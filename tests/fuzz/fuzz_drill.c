/* libFuzzer harness for drill windows (lib/drill.c): the input, up to its
 * first NUL, is a drill.window as a policy writes it. Build and run:
 * "make fuzz" (see tests/fuzz/README).
 *
 * Refused: -EINVAL with a reason and an offset inside the input, the
 * output untouched. Accepted: a weekday, start < end <= 24:00, and
 * rbd_drill_window_str() writes it back in a form that parses to the
 * same window. The first bytes are also taken as a local time: the time
 * until the window is under a week, 0 exactly inside it, and a drill is
 * never due outside it. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drill.h"
#include "duration.h"

#define require(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rbd_drill_window w = { .wday = 99 }, back;
	struct rbd_local_time t;
	char buf[RBD_DRILL_WINDOW_STR_MAX];
	const char *why = NULL;
	size_t off = SIZE_MAX;
	char *s = malloc(size + 1);
	int r;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = rbd_drill_window_parse(s, &w, &why, &off);
	if (r < 0) {
		require(r == -EINVAL && why && *why && off <= strlen(s));
		require(w.wday == 99);
		require(rbd_drill_window_parse(s, &w, NULL, NULL) == r);
		free(s);
		return 0;
	}
	require(w.wday >= 0 && w.wday < 7 && w.start < w.end &&
	    w.end <= 1440);
	rbd_drill_window_str(&w, buf, sizeof(buf));
	require(rbd_drill_window_parse(buf, &back, NULL, NULL) == 0);
	require(back.wday == w.wday && back.start == w.start &&
	    back.end == w.end);
	if (size >= 3) {
		t.wday = data[0] % 7;
		t.minute = (unsigned)(data[1] | data[2] << 8) % 1440;
		t.second = data[size - 1] % 60;
		require(rbd_drill_until_window(&w, &t) < 7 * RBD_USEC_PER_DAY);
		require((rbd_drill_until_window(&w, &t) == 0) ==
		    rbd_drill_in_window(&w, &t));
		require(rbd_drill_in_window(&w, &t) ||
		    !rbd_drill_due(&w, RBD_USEC_PER_HOUR, 0, 0,
		    UINT64_C(1800000000000000), &t));
	}
	free(s);
	return 0;
}
