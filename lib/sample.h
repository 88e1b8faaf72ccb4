/* A sample's verdict: what one probe result means for its check. Shared by
 * the watch engine and the judges of metric values. */
#ifndef RBD_SAMPLE_H
#define RBD_SAMPLE_H

/* One probe result. */
enum rbd_sample_result {
	RBD_SAMPLE_OK,
	RBD_SAMPLE_FAIL,
	/* Could not be taken in time (daemon behind, probe skipped): neither
	 * healthy nor failing; it does not count towards fail_after and does
	 * not reset the count either. */
	RBD_SAMPLE_UNKNOWN,
	_RBD_SAMPLE_RESULT_MAX,
};
const char *rbd_sample_result_str(enum rbd_sample_result r);

#endif
