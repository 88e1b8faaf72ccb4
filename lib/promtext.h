/* The Prometheus text exposition format (version 0.0.4), as a service's
 * /metrics serves it: "# HELP", "# TYPE", comments, samples with optional
 * labels (escaped values: \\ \" \n), values including NaN, +Inf, -Inf and
 * exponent notation, and optional millisecond timestamps.
 *
 * Pure: a buffer in, a page of samples out. One page is one allocation
 * arena (a scrape is parsed once per interval per check: no allocation per
 * sample). Limits: RBD_PROM_LINE_MAX per line, RBD_PROM_SAMPLES_MAX samples,
 * RBD_PROM_LABELS_MAX labels per sample. */
#ifndef RBD_PROMTEXT_H
#define RBD_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RBD_PROM_LINE_MAX	(64 * 1024)
#define RBD_PROM_SAMPLES_MAX	100000
#define RBD_PROM_LABELS_MAX	64

enum rbd_prom_type {
	RBD_PROM_UNTYPED,
	RBD_PROM_COUNTER,
	RBD_PROM_GAUGE,
	RBD_PROM_HISTOGRAM,
	RBD_PROM_SUMMARY,
	_RBD_PROM_TYPE_MAX,
};
const char *rbd_prom_type_str(enum rbd_prom_type t);

struct rbd_prom_label {
	const char *name;
	const char *value;		/* unescaped */
};

struct rbd_prom_sample {
	const char *name;		/* full name: "http_request_duration_seconds_bucket" */
	const struct rbd_prom_label *labels;
	size_t n_labels;
	double value;
	bool has_timestamp;
	int64_t timestamp_ms;
	enum rbd_prom_type type;	/* of its family (from # TYPE; suffixes
					 * _bucket/_sum/_count/_total resolved) */
	const char *family;		/* the family's name: "http_request_duration_seconds" */
};

struct rbd_prom_page;

/* Parse buf. Returns 0 and a page, or -EINVAL with "line N: message" in
 * errbuf (the first error; a page is all or nothing), or -ENOMEM / -E2BIG
 * (over a limit, named in errbuf). */
int rbd_prom_parse(const char *buf, size_t len, struct rbd_prom_page **ret,
    char *errbuf, size_t errlen);
void rbd_prom_page_free(struct rbd_prom_page *p);

size_t rbd_prom_page_count(const struct rbd_prom_page *p);
const struct rbd_prom_sample *rbd_prom_page_sample(const struct rbd_prom_page *p,
    size_t i);
/* The value of label name in s, or NULL. */
const char *rbd_prom_label(const struct rbd_prom_sample *s, const char *name);

#endif
