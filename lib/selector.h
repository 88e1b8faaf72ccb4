/* Series selectors as PromQL writes them, for scrape checks:
 *   http_requests_total
 *   http_requests_total{code=~"5..",method!="OPTIONS"}
 * Matchers: = != =~ !~ ; regular expressions are fully anchored, like
 * PromQL's, compiled with POSIX extended syntax (regcomp). */
#ifndef RBD_SELECTOR_H
#define RBD_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "promtext.h"

struct rbd_selector;

/* Parse s. Returns 0 and a selector, or -EINVAL with the 1-based column of
 * the problem in *ret_col and a message in errbuf ("unterminated label
 * value", "invalid regular expression 'x(': ..."), or -ENOMEM. */
int rbd_selector_parse(const char *s, struct rbd_selector **ret,
    unsigned *ret_col, char *errbuf, size_t errlen);
void rbd_selector_free(struct rbd_selector *sel);

/* The metric name it selects. */
const char *rbd_selector_name(const struct rbd_selector *sel);
/* The selector as text, normalised, for messages. */
const char *rbd_selector_str(const struct rbd_selector *sel);

/* Whether sample s matches: same name (exactly, or name_suffix appended
 * when not NULL: "_bucket", "_count", "_sum") and every matcher; a label
 * that is absent has the empty value, as in PromQL. */
bool rbd_selector_match(const struct rbd_selector *sel,
    const struct rbd_prom_sample *s, const char *name_suffix);

#endif
