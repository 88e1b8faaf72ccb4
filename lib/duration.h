/* Durations as people write them: "250ms", "10s", "5m", "1h", "1h30m".
 *
 * One time type in rollbackd: uint64_t microseconds. */
#ifndef RBD_DURATION_H
#define RBD_DURATION_H

#include <stddef.h>
#include <stdint.h>

#define RBD_USEC_PER_MSEC UINT64_C(1000)
#define RBD_USEC_PER_SEC  UINT64_C(1000000)
#define RBD_USEC_PER_MIN  (60 * RBD_USEC_PER_SEC)
#define RBD_USEC_PER_HOUR (60 * RBD_USEC_PER_MIN)
#define RBD_USEC_PER_DAY  (24 * RBD_USEC_PER_HOUR)

/* Parse a duration: one or more <integer><unit> groups with units
 * "us", "ms", "s", "m", "h", "d", each unit at most once and from the
 * largest to the smallest ("1h30m", not "30m1h"). A bare "0" is zero.
 * Returns 0 and sets *ret_usec, or -EINVAL (with a reason in *ret_why, a
 * static string) / -ERANGE (over 365 days). Never writes *ret_usec on
 * failure. ret_why may be NULL. */
int rbd_duration_parse(const char *s, uint64_t *ret_usec, const char **ret_why);

/* Format usec the way rbd_duration_parse reads it ("1h30m", "250ms",
 * "0s"). Always NUL-terminates; 32 bytes are always enough. Returns buf. */
#define RBD_DURATION_STR_MAX 32
char *rbd_duration_str(uint64_t usec, char *buf, size_t len);

/* A measured time for a report, in buf (len bytes): milliseconds below a
 * second ("850ms"), tenths below a minute ("1.2s"), else whole seconds in
 * rbd_duration_str's form ("2m3s"). Returns buf. */
const char *rbd_elapsed_str(uint64_t usec, char *buf, size_t len);

#endif
