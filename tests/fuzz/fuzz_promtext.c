/* libFuzzer harness for the exposition parser (lib/promtext.c), the
 * selector parser (lib/selector.c) and what scrape checks compute from a
 * page (lib/metric.c). Build and run: "make fuzz" (see tests/fuzz/README).
 *
 * Each input is parsed as a page; on success every sample is checked for
 * the parser's promises (names valid, family a prefix of the name, labels
 * findable by name), on failure the page is NULL and the message is
 * "line N: ..." (or "out of memory") in printable ASCII. The first line of
 * the input is also parsed as a selector and, when valid, matched against
 * every sample and used for each kind of metric over the page scraped
 * twice. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metric.h"
#include "promtext.h"
#include "selector.h"

#define require(cond) do { if (!(cond)) abort(); } while (0)

/* Abort unless sample s keeps the parser's promises. */
static void check_sample(const struct rbd_prom_sample *s)
{
	require(s && s->name && s->family &&
	    strncmp(s->name, s->family, strlen(s->family)) == 0);
	require((unsigned)s->type < _RBD_PROM_TYPE_MAX);
	require(s->n_labels <= RBD_PROM_LABELS_MAX);
	for (size_t i = 0; i < s->n_labels; i++)
		require(s->labels[i].name && s->labels[i].value &&
		    rbd_prom_label(s, s->labels[i].name) == s->labels[i].value);
}

/* A message: not empty, printable ASCII. */
static void check_message(const char *m)
{
	require(m[0] != '\0');
	for (; *m; m++)
		require((unsigned char)*m >= 0x20 && (unsigned char)*m < 0x7f);
}

/* Every kind of metric of sel over page, scraped twice. */
static void fuzz_metric(struct rbd_selector *sel,
    const struct rbd_prom_page *page, double q)
{
	for (unsigned k = 0; k < _RBD_METRIC_KIND_MAX; k++) {
		struct rbd_metric_spec spec = {
			.kind = (enum rbd_metric_kind)k, .sel = sel,
			.den = k == RBD_METRIC_RATIO ? sel : NULL,
			.quantile = q, .min_rate = 0,
		};
		struct rbd_metric_state *st = rbd_metric_state_new();
		struct rbd_metric_result r;

		if (!st)
			return;
		for (uint64_t t = 0; t < 2; t++) {
			memset(&r, 0xa5, sizeof(r));
			if (rbd_metric_eval(&spec, st, page, t * 10000000, &r) < 0)
				break;
			require((unsigned)r.status < _RBD_METRIC_STATUS_MAX);
			require(memchr(r.why, '\0', sizeof(r.why)) != NULL);
		}
		rbd_metric_state_free(st);
	}
}

/* The first line of data as a selector, matched against page. */
static void fuzz_selector(const uint8_t *data, size_t size,
    const struct rbd_prom_page *page)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t n = nl ? (size_t)(nl - data) : size;
	struct rbd_selector *sel = NULL;
	char *s = malloc(n + 1), err[256];
	unsigned col = 0;

	if (!s)
		return;
	memcpy(s, data, n);
	s[n] = '\0';
	if (rbd_selector_parse(s, &sel, &col, err, sizeof(err)) == 0) {
		require(rbd_selector_name(sel) && rbd_selector_str(sel));
		for (size_t i = 0; page && i < rbd_prom_page_count(page); i++)
			(void)rbd_selector_match(sel, rbd_prom_page_sample(page, i), "_bucket");
		if (page)
			fuzz_metric(sel, page, (double)(size % 101) / 100);
		rbd_selector_free(sel);
	} else {
		require(col >= 1 && col <= strlen(s) + 1);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rbd_prom_page *page = NULL;
	char err[256];
	int r;

	r = rbd_prom_parse((const char *)data, size, &page, err, sizeof(err));
	if (r == 0) {
		require(page != NULL);
		for (size_t i = 0; i < rbd_prom_page_count(page); i++)
			check_sample(rbd_prom_page_sample(page, i));
	} else {
		require(page == NULL);
		require(r == -EINVAL || r == -E2BIG || r == -ENOMEM);
		require(strncmp(err, "line ", 5) == 0 ||
		    (r == -ENOMEM && strcmp(err, "out of memory") == 0));
		check_message(err);
	}
	fuzz_selector(data, size, page);
	rbd_prom_page_free(page);
	return 0;
}
