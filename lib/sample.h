/* A sample's verdict: what one probe result means for its check. Shared by
 * the watch engine and the judges of metric values. */
#ifndef RBD_SAMPLE_H
#define RBD_SAMPLE_H

/* One probe result. */
enum rbd_sample_result {
	RBD_SAMPLE_OK,
	RBD_SAMPLE_FAIL,
	/* No data: the sample could not be taken in time (daemon behind,
	 * probe skipped) or had nothing to judge (an empty query, an absent
	 * metric, a scrape or provider that failed, too little traffic); the
	 * detail says which. Neither healthy nor failing: what it counts as
	 * is the check's no_data (policy.h), see watch.h. With inconclusive
	 * (the default) it does not count towards fail_after nor reset that
	 * count; inconclusive_after in a row hold the service, never roll it
	 * back. */
	RBD_SAMPLE_UNKNOWN,
	_RBD_SAMPLE_RESULT_MAX,
};
const char *rbd_sample_result_str(enum rbd_sample_result r);

#endif
