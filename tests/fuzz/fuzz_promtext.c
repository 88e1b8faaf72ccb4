/* libFuzzer harness for the exposition parser (lib/promtext.c) and the
 * selector parser (lib/selector.c). Not built by the Makefile; build and
 * run with clang 14 (Debian: clang-14, libclang-rt-14-dev):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilib \
 *       lib/promtext.c lib/selector.c tests/fuzz/fuzz_promtext.c \
 *       -o /tmp/fuzz_promtext
 *   mkdir -p /tmp/fuzz-corpus
 *   /tmp/fuzz_promtext -max_total_time=60 -max_len=4096 \
 *       /tmp/fuzz-corpus tests/data/promtext/valid
 *
 * Each input is parsed as a page; on success every sample is checked for
 * the parser's promises (names valid, family a prefix of the name, labels
 * NUL-free). The first line of the input is also parsed as a selector and,
 * when valid, matched against every sample. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "promtext.h"
#include "selector.h"

/* Abort unless sample s keeps the parser's promises. */
static void check_sample(const struct rbd_prom_sample *s)
{
	if (!s || !s->name || !s->family ||
	    strncmp(s->name, s->family, strlen(s->family)) != 0)
		abort();
	if ((unsigned)s->type >= _RBD_PROM_TYPE_MAX)
		abort();
	if (s->n_labels > RBD_PROM_LABELS_MAX)
		abort();
	for (size_t i = 0; i < s->n_labels; i++)
		if (!s->labels[i].name || !s->labels[i].value ||
		    rbd_prom_label(s, s->labels[i].name) == NULL)
			abort();
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
		for (size_t i = 0; page && i < rbd_prom_page_count(page); i++)
			(void)rbd_selector_match(sel, rbd_prom_page_sample(page, i), "_bucket");
		rbd_selector_free(sel);
	} else if (col == 0 || col > strlen(s) + 1) {
		abort();
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
		for (size_t i = 0; i < rbd_prom_page_count(page); i++)
			check_sample(rbd_prom_page_sample(page, i));
	} else if (page || strncmp(err, "line ", 5) != 0) {
		abort();
	}
	fuzz_selector(data, size, page);
	rbd_prom_page_free(page);
	return 0;
}
