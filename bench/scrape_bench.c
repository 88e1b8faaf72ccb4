/* What one scrape check's sample costs: a 500-series /metrics page fetched
 * by the probe engine and taken through what daemon/checks.c does with it
 * (rbd_prom_parse, rbd_metric_eval, rbd_judge against a max and a
 * baseline window).
 *
 *   scrape_bench live N PAGE [WARMUP_S MEASURE_S [fetch]]
 *	N fetch probes at a 1 s interval against an evhttp server serving
 *	PAGE at /metrics. The server runs in a forked child, so that
 *	getrusage(RUSAGE_SELF) in the parent is the prober's cost alone
 *	(fetch included); the server's CPU is measured apart, from its
 *	process CPU clock. Prints one line of key=value pairs. With
 *	"fetch", pages are fetched and dropped: the fetch's share alone.
 *   scrape_bench micro PAGE [RUNS ITERS]
 *	parse, parse + eval + judge, on in-memory pages, thread CPU time per
 *	sample; prints the median over RUNS runs of ITERS samples.
 *
 * The page's counters, histogram buckets, _count and _sum lines grow with
 * every page served (each by 0.1% of its value in the file, per page), so
 * that rates and bucket deltas exist and every sample reaches the judge,
 * as with a live service. Gauges and summary quantiles are served as read.
 *
 * Checks alternate between the two kinds a scrape check is written with:
 * even-numbered probes judge the p99 of http_request_duration_seconds (all
 * series), odd ones the 5xx ratio of http_requests_total; both with a max
 * and a baseline (median of a full 10-minute window, max_increase 50%). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "bench.h"
#include "judge.h"
#include "metric.h"
#include "probe_http.h"
#include "promtext.h"
#include "selector.h"
#include "watch.h"

#define USEC		1000000ULL
#define BODY_MAX	(2 * 1024 * 1024)	/* as daemon/checks.c */
#define INTERVAL	USEC
#define PAGE_FILE_MAX	(8 * 1024 * 1024)
#define GROWTH		1e-3		/* per page served, of the file's value */
/* Sample times: TBASE is the deploy; the baseline window before it is
 * full (one sample a second for 10 minutes). */
#define TBASE		(3600 * USEC)
#define BASE_WINDOW	(600 * USEC)
#define BASE_SAMPLES	600
#define WATCH_DURATION	(600 * USEC)

enum kind { K_HIST, K_RATIO, _K_MAX };
static const char *const kind_name[_K_MAX] = { "hist", "ratio" };

/* One line of the page: literal, or a value that grows. */
struct tline {
	const char *text;	/* the whole line, newline included */
	size_t len;
	size_t pre;		/* bytes before the value */
	size_t post;		/* offset of what follows the value */
	double base;
	bool grows, integral;
};

struct tmpl {
	char *file;
	size_t size;
	struct tline *lines;
	size_t n;
	char *out;		/* rendered page */
	size_t out_cap;
};

/* The shared definition of the two checks. */
struct defs {
	struct rbd_metric_spec spec[_K_MAX];
	struct rbd_condition cond[_K_MAX];
	double baseline[_K_MAX];	/* the value the baseline is built around */
};

/* One scrape check. */
struct bcheck {
	enum kind kind;
	struct rbd_metric_state *st;
	struct rbd_window values;
	struct rbd_probe *probe;
	struct bench *b;
};

struct counts {
	uint64_t samples, judged, ok, fail, unknown, nodata, fetch_failed;
};

struct bench {
	const struct defs *d;
	struct bcheck *checks;
	size_t n;
	bool fetch_only;
	uint64_t mono0;
	struct counts c;
	char last_detail[_K_MAX][RBD_DETAIL_MAX];
};

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* Split the page into lines and find each growing value. */
static int tmpl_load(struct tmpl *t, const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 0;
	char *p, *end;

	memset(t, 0, sizeof(*t));
	if (!f)
		return -errno;
	t->file = malloc(PAGE_FILE_MAX + 1);
	if (!t->file) {
		fclose(f);
		return -ENOMEM;
	}
	t->size = fread(t->file, 1, PAGE_FILE_MAX, f);
	fclose(f);
	t->file[t->size] = '\0';
	for (p = t->file, end = t->file + t->size; p < end; ) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		struct tline *l;
		char *v, *ve;

		if (t->n == cap) {
			struct tline *nls;

			cap = cap ? cap * 2 : 1024;
			nls = realloc(t->lines, cap * sizeof(*nls));
			if (!nls)
				return -ENOMEM;
			t->lines = nls;
		}
		l = &t->lines[t->n++];
		memset(l, 0, sizeof(*l));
		l->text = p;
		l->len = len;
		p += len;
		if (l->text[0] == '#' || l->text[0] == '\n')
			continue;
		/* The value follows the name and its labels: after the
		 * closing brace (quotes and escapes skipped) or the name. */
		v = (char *)l->text;
		while (v < l->text + len && *v != '{' && *v != ' ' && *v != '\n')
			v++;
		if (!ends_with(l->text, (size_t)(v - l->text), "_total") &&
		    !ends_with(l->text, (size_t)(v - l->text), "_bucket") &&
		    !ends_with(l->text, (size_t)(v - l->text), "_count") &&
		    !ends_with(l->text, (size_t)(v - l->text), "_sum"))
			continue;
		if (*v == '{') {
			bool q = false;

			for (v++; v < l->text + len && (q || *v != '}'); v++) {
				if (q && *v == '\\')
					v++;
				else if (*v == '"')
					q = !q;
			}
			v++;
		}
		while (v < l->text + len && *v == ' ')
			v++;
		errno = 0;
		l->base = strtod(v, &ve);
		if (ve == v || errno || !isfinite(l->base) ||
		    (*ve != ' ' && *ve != '\n' && *ve != '\0'))
			continue;
		l->grows = true;
		l->integral = l->base == floor(l->base);
		l->pre = (size_t)(v - l->text);
		l->post = (size_t)(ve - l->text);
	}
	t->out_cap = t->size * 2 + 64 * t->n + 1;
	t->out = malloc(t->out_cap);
	return t->out ? 0 : -ENOMEM;
}

static void tmpl_free(struct tmpl *t)
{
	free(t->lines);
	free(t->file);
	free(t->out);
}

/* The page as served the k-th time; returns its length. Rounding down an
 * integral value keeps the buckets of a histogram cumulative. */
static size_t tmpl_render(struct tmpl *t, uint64_t k)
{
	double f = 1.0 + (double)k * GROWTH;
	size_t o = 0, i;

	for (i = 0; i < t->n; i++) {
		const struct tline *l = &t->lines[i];
		int w;

		if (!l->grows) {
			memcpy(t->out + o, l->text, l->len);
			o += l->len;
			continue;
		}
		memcpy(t->out + o, l->text, l->pre);
		o += l->pre;
		if (l->integral)
			w = snprintf(t->out + o, t->out_cap - o, "%.0f",
			    floor(l->base * f));
		else
			w = snprintf(t->out + o, t->out_cap - o, "%.6f",
			    l->base * f);
		o += (size_t)w;
		memcpy(t->out + o, l->text + l->post, l->len - l->post);
		o += l->len - l->post;
	}
	t->out[o] = '\0';
	return o;
}

static int selector(const char *s, struct rbd_selector **ret)
{
	char err[256];
	unsigned col;
	int r = rbd_selector_parse(s, ret, &col, err, sizeof(err));

	if (r < 0)
		fprintf(stderr, "scrape_bench: selector %s: %s\n", s, err);
	return r;
}

/* The two checks, and the value each one's baseline is built around: what
 * it computes between two pages served one second apart. */
static int defs_init(struct defs *d, struct tmpl *t)
{
	int k;

	memset(d, 0, sizeof(*d));
	d->spec[K_HIST].kind = RBD_METRIC_HISTOGRAM_QUANTILE;
	d->spec[K_HIST].quantile = 0.99;
	d->spec[K_RATIO].kind = RBD_METRIC_RATIO;
	d->spec[K_RATIO].min_rate = 1;
	if (selector("http_request_duration_seconds", &d->spec[K_HIST].sel) < 0 ||
	    selector("http_requests_total{code=~\"5..\"}", &d->spec[K_RATIO].sel) < 0 ||
	    selector("http_requests_total", &d->spec[K_RATIO].den) < 0)
		return -EINVAL;
	for (k = 0; k < _K_MAX; k++) {
		struct rbd_condition *c = &d->cond[k];
		struct rbd_metric_state *st = rbd_metric_state_new();
		struct rbd_metric_result m;
		struct rbd_prom_page *page;
		char err[256];
		int i;

		c->has_max = true;
		c->max = k == K_HIST ? 30 : 0.5;
		c->baseline = true;
		c->baseline_window_usec = BASE_WINDOW;
		c->has_max_increase = true;
		c->max_increase = 0.5;
		c->min_samples = 5;
		if (!st)
			return -ENOMEM;
		for (i = 0; i < 2; i++) {
			size_t len = tmpl_render(t, (uint64_t)i * 100);

			if (rbd_prom_parse(t->out, len, &page, err, sizeof(err)) < 0) {
				fprintf(stderr, "scrape_bench: page: %s\n", err);
				rbd_metric_state_free(st);
				return -EINVAL;
			}
			rbd_metric_eval(&d->spec[k], st, page, TBASE + (uint64_t)i * USEC, &m);
			rbd_prom_page_free(page);
		}
		rbd_metric_state_free(st);
		if (m.status != RBD_METRIC_VALUE) {
			fprintf(stderr, "scrape_bench: %s: %s\n", kind_name[k], m.why);
			return -EINVAL;
		}
		d->baseline[k] = m.value;
	}
	return 0;
}

static void defs_clear(struct defs *d)
{
	rbd_metric_spec_clear(&d->spec[K_HIST]);
	rbd_metric_spec_clear(&d->spec[K_RATIO]);
}

/* A check in the middle of a watch: its window holds the full baseline
 * before TBASE (values within 2% of the defining one). */
static int check_init(struct bcheck *c, const struct defs *d, enum kind k)
{
	int i;

	memset(c, 0, sizeof(*c));
	c->kind = k;
	if (!(c->st = rbd_metric_state_new()) ||
	    rbd_window_init(&c->values, RBD_WINDOW_MAX) < 0)
		return -ENOMEM;
	for (i = 0; i < BASE_SAMPLES; i++)
		rbd_window_push(&c->values,
		    TBASE - BASE_WINDOW + (uint64_t)i * USEC,
		    d->baseline[k] * (1 + 0.01 * (i % 5 - 2)));
	return 0;
}

static void check_clear(struct bcheck *c)
{
	rbd_metric_state_free(c->st);
	rbd_window_clear(&c->values);
}

/* Copy values of window w taken in [from, to) into a new array (as
 * daemon/checks.c). */
static double *window_slice(const struct rbd_window *w, uint64_t from,
    uint64_t to, size_t *ret_n)
{
	double *v = malloc((w->n ? w->n : 1) * sizeof(*v));

	*ret_n = v ? rbd_window_values(w, from, to, v, w->n) : 0;
	return v;
}

/* What daemon/checks.c's on_scrape, metric_result and judge_value do with
 * one fetched page taken at t, the deploy at TBASE. */
static void sample_page(struct bench *b, struct bcheck *c, const char *body,
    size_t len, uint64_t t)
{
	const struct rbd_condition *cond = &b->d->cond[c->kind];
	uint64_t keep = cond->baseline_window_usec + WATCH_DURATION;
	uint64_t end = TBASE, start = TBASE;
	struct rbd_metric_result m;
	struct rbd_prom_page *page = NULL;
	char err[RBD_DETAIL_MAX], detail[RBD_DETAIL_MAX];
	size_t n_before = 0, n_after = 0;
	double *before, *after;
	enum rbd_sample_result r;

	b->c.samples++;
	if (rbd_prom_parse(body, len, &page, err, sizeof(err)) < 0) {
		snprintf(detail, sizeof(detail), "unparsable metrics page: %.200s", err);
		b->c.unknown++;
		return;
	}
	if (rbd_metric_eval(&b->d->spec[c->kind], c->st, page, t, &m) < 0)
		snprintf(m.why, sizeof(m.why), "out of memory");
	rbd_prom_page_free(page);
	if (m.status != RBD_METRIC_VALUE) {
		b->c.nodata++;
		snprintf(b->last_detail[c->kind], RBD_DETAIL_MAX, "%s", m.why);
		return;
	}
	rbd_window_push(&c->values, t, m.value);
	if (t > keep)
		rbd_window_prune(&c->values, t - keep);
	before = window_slice(&c->values, end > cond->baseline_window_usec ?
	    end - cond->baseline_window_usec : 0, end, &n_before);
	after = window_slice(&c->values, start, t + 1, &n_after);
	if (!before || !after) {
		free(before);
		free(after);
		b->c.unknown++;
		return;
	}
	r = rbd_judge(cond, m.value, before, n_before, after, n_after, detail,
	    sizeof(detail));
	free(before);
	free(after);
	b->c.judged++;
	if (r == RBD_SAMPLE_OK)
		b->c.ok++;
	else if (r == RBD_SAMPLE_FAIL)
		b->c.fail++;
	else
		b->c.unknown++;
	memcpy(b->last_detail[c->kind], detail, sizeof(detail));
}

/* ---- live: a prober against a server in a child process ---- */

static void serve(struct evhttp_request *req, void *arg)
{
	static uint64_t served;
	struct tmpl *t = arg;
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	size_t len;

	if (strcmp(evhttp_request_get_uri(req), "/metrics") != 0) {
		evhttp_send_error(req, 404, NULL);
		return;
	}
	len = tmpl_render(t, ++served);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4");
	evbuffer_add(out, t->out, len);
	evhttp_send_reply(req, 200, "OK", NULL);
}

/* The child: serve until killed (or the parent is gone). */
static void server_main(int fd, struct tmpl *t)
{
	struct event_base *base;
	struct evhttp *http;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
		_exit(1);
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	http = base ? evhttp_new(base) : NULL;
	if (!http || !evhttp_accept_socket_with_handle(http, fd)) {
		fprintf(stderr, "scrape_bench: server setup failed\n");
		_exit(1);
	}
	evhttp_set_gencb(http, serve, t);
	event_base_dispatch(base);
	_exit(0);
}

static void on_scrape(void *arg, const struct rbd_probe_result *res)
{
	struct bcheck *c = arg;
	struct bench *b = c->b;
	uint64_t t = TBASE + (res->started - b->mono0);

	if (res->result != RBD_SAMPLE_OK || res->status != 200) {
		b->c.samples++;
		b->c.fetch_failed++;
		snprintf(b->last_detail[c->kind], RBD_DETAIL_MAX,
		    "scrape failed: %s", res->detail ? res->detail : "no answer");
		return;
	}
	if (b->fetch_only) {
		b->c.samples++;
		return;
	}
	sample_page(b, c, res->body, res->body_len, t);
}

static uint64_t clock_usec(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * USEC + (uint64_t)ts.tv_nsec / 1000;
}

/* Run the loop for usec. */
static void run_for(struct event_base *base, uint64_t usec)
{
	struct timeval tv = { (time_t)(usec / USEC), (suseconds_t)(usec % USEC) };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static int live(size_t n, const char *path, unsigned warm_s, unsigned measure_s,
    bool fetch_only)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	struct tmpl t;
	struct defs d;
	struct bench b = { 0 };
	struct event_base *base = NULL;
	struct rbd_prober *p = NULL;
	struct rbd_prober_stats s0, s1;
	struct counts c0;
	clockid_t srv_clock;
	uint64_t cpu0, cpu1, srv0, srv1, wall0, wall1;
	char url[64];
	pid_t pid;
	int fd, r = 1, status;
	size_t i;

	if (tmpl_load(&t, path) < 0) {
		fprintf(stderr, "scrape_bench: cannot read %s\n", path);
		tmpl_free(&t);
		return 1;
	}
	if (defs_init(&d, &t) < 0)
		goto out_tmpl;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1024) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen) < 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		perror("scrape_bench: listen");
		goto out_defs;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("scrape_bench: fork");
		close(fd);
		goto out_defs;
	}
	if (pid == 0)
		server_main(fd, &t);
	close(fd);
	if (clock_getcpuclockid(pid, &srv_clock) != 0)
		srv_clock = (clockid_t)-1;
	signal(SIGPIPE, SIG_IGN);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics",
	    (unsigned)ntohs(sa.sin_port));

	b.d = &d;
	b.n = n;
	b.fetch_only = fetch_only;
	b.mono0 = clock_usec(CLOCK_MONOTONIC);
	b.checks = calloc(n, sizeof(*b.checks));
	base = event_base_new();
	p = base ? rbd_prober_new(base) : NULL;
	if (!b.checks || !p) {
		fprintf(stderr, "scrape_bench: prober setup failed\n");
		goto out_child;
	}
	for (i = 0; i < n; i++) {
		struct bcheck *c = &b.checks[i];

		if (check_init(c, &d, i % 2 ? K_RATIO : K_HIST) < 0 ||
		    rbd_prober_add_fetch(p, url, 0, INTERVAL, BODY_MAX,
		    on_scrape, c, &c->probe) < 0) {
			fprintf(stderr, "scrape_bench: cannot add probe %zu\n", i);
			goto out_child;
		}
		c->b = &b;
	}

	run_for(base, (uint64_t)warm_s * USEC);
	c0 = b.c;
	rbd_prober_stats(p, &s0);
	srv0 = srv_clock != (clockid_t)-1 ? clock_usec(srv_clock) : 0;
	wall0 = clock_usec(CLOCK_MONOTONIC);
	cpu0 = self_cpu_usec();
	run_for(base, (uint64_t)measure_s * USEC);
	cpu1 = self_cpu_usec();
	wall1 = clock_usec(CLOCK_MONOTONIC);
	srv1 = srv_clock != (clockid_t)-1 ? clock_usec(srv_clock) : 0;
	rbd_prober_stats(p, &s1);

	{
		uint64_t samples = b.c.samples - c0.samples;
		uint64_t judged = b.c.judged - c0.judged;
		double intended = (double)n * (double)(wall1 - wall0) / (double)INTERVAL;

		printf("n=%zu mode=%s cpu_us=%llu samples=%llu intended=%.0f achieved=%.3f"
		    " judged=%llu ok=%llu fail=%llu unknown=%llu nodata=%llu"
		    " fetch_failed=%llu us_per_sample=%.1f server_us_per_req=%.1f"
		    " rss_kib=%ld connects=%llu late=%llu skipped=%llu\n",
		    n, fetch_only ? "fetch" : "check",
		    (unsigned long long)(cpu1 - cpu0),
		    (unsigned long long)samples, intended,
		    intended > 0 ? (double)samples / intended : 0,
		    (unsigned long long)judged,
		    (unsigned long long)(b.c.ok - c0.ok),
		    (unsigned long long)(b.c.fail - c0.fail),
		    (unsigned long long)(b.c.unknown - c0.unknown),
		    (unsigned long long)(b.c.nodata - c0.nodata),
		    (unsigned long long)(b.c.fetch_failed - c0.fetch_failed),
		    samples ? (double)(cpu1 - cpu0) / (double)samples : 0,
		    samples && srv_clock != (clockid_t)-1 ?
		    (double)(srv1 - srv0) / (double)samples : -1,
		    rss_kib(),
		    (unsigned long long)(s1.connects - s0.connects),
		    (unsigned long long)(s1.late - s0.late),
		    (unsigned long long)(s1.skipped - s0.skipped));
		for (i = 0; i < _K_MAX && i < n && !fetch_only; i++)
			fprintf(stderr, "scrape_bench: last %s sample: %s\n",
			    kind_name[i], b.last_detail[i]);
		if (fetch_only)
			r = samples > 0 && b.c.fetch_failed == 0 ? 0 : 1;
		else	/* only a check's first sample may be no data */
			r = judged > 0 && b.c.fetch_failed == c0.fetch_failed &&
			    judged + (b.c.nodata - c0.nodata) == samples &&
			    b.c.nodata - c0.nodata <= n ? 0 : 1;
		if (r)
			fprintf(stderr, "scrape_bench: not every sample was %s\n",
			    fetch_only ? "fetched" : "judged");
	}

out_child:
	rbd_prober_free(p);
	if (base)
		event_base_free(base);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (b.checks)
		for (i = 0; i < n; i++)
			check_clear(&b.checks[i]);
	free(b.checks);
out_defs:
	defs_clear(&d);
out_tmpl:
	tmpl_free(&t);
	return r;
}

/* ---- micro: parse, eval and judge alone ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define RUNS_MAX 101

/* Each run: a fresh check of each kind with a full baseline, then iters
 * pages 0.3 s apart (the run spans the baseline window: its "after" grows
 * to iters values, nothing is pruned). Each page is rendered outside the
 * timed part; thread CPU time, per sample. */
static int micro(const char *path, unsigned runs, unsigned iters)
{
	double parse[RUNS_MAX], full[_K_MAX][RUNS_MAX];
	struct tmpl t;
	struct defs d;
	struct bench b = { 0 };
	unsigned run, i;
	int k, r = 1;

	if (runs < 1 || runs > RUNS_MAX || iters < 2) {
		fprintf(stderr, "scrape_bench: runs 1..%d, iters >= 2\n", RUNS_MAX);
		return 1;
	}
	if (tmpl_load(&t, path) < 0) {
		fprintf(stderr, "scrape_bench: cannot read %s\n", path);
		tmpl_free(&t);
		return 1;
	}
	if (defs_init(&d, &t) < 0)
		goto out;
	b.d = &d;
	for (run = 0; run < runs; run++) {
		struct bcheck c[_K_MAX];
		uint64_t tp = 0, tk[_K_MAX] = { 0 };

		bool failed = false;

		for (k = 0; k < _K_MAX; k++)
			if (check_init(&c[k], &d, (enum kind)k) < 0)
				failed = true;
		for (i = 0; i < iters && !failed; i++) {
			size_t len = tmpl_render(&t, (uint64_t)i);
			uint64_t now = TBASE + (uint64_t)i * 300000;
			struct rbd_prom_page *page;
			char err[256];
			uint64_t t0;

			t0 = clock_usec(CLOCK_THREAD_CPUTIME_ID);
			if (rbd_prom_parse(t.out, len, &page, err, sizeof(err)) < 0) {
				fprintf(stderr, "scrape_bench: %s\n", err);
				failed = true;
				break;
			}
			rbd_prom_page_free(page);
			tp += clock_usec(CLOCK_THREAD_CPUTIME_ID) - t0;
			for (k = 0; k < _K_MAX; k++) {
				t0 = clock_usec(CLOCK_THREAD_CPUTIME_ID);
				sample_page(&b, &c[k], t.out, len, now);
				tk[k] += clock_usec(CLOCK_THREAD_CPUTIME_ID) - t0;
			}
		}
		/* The first sample of each check is no data (no previous
		 * page): all the others must have been judged. */
		for (k = 0; k < _K_MAX; k++)
			check_clear(&c[k]);
		if (failed)
			goto out;
		parse[run] = (double)tp / iters;
		for (k = 0; k < _K_MAX; k++)
			full[k][run] = (double)tk[k] / iters;
	}
	printf("micro runs=%u iters=%u parse_us=%.1f hist_us=%.1f ratio_us=%.1f"
	    " judged=%llu ok=%llu nodata=%llu\n", runs, iters,
	    median(parse, runs), median(full[K_HIST], runs),
	    median(full[K_RATIO], runs), (unsigned long long)b.c.judged,
	    (unsigned long long)b.c.ok, (unsigned long long)b.c.nodata);
	for (k = 0; k < _K_MAX; k++)
		fprintf(stderr, "scrape_bench: last %s sample: %s\n",
		    kind_name[k], b.last_detail[k]);
	r = b.c.judged == (uint64_t)runs * _K_MAX * (iters - 1) ? 0 : 1;
	if (r)
		fprintf(stderr, "scrape_bench: not every sample was judged\n");
out:
	defs_clear(&d);
	tmpl_free(&t);
	return r;
}

static void usage(void)
{
	fprintf(stderr,
	    "usage: scrape_bench live N PAGE [WARMUP_S MEASURE_S [fetch]]\n"
	    "       scrape_bench micro PAGE [RUNS ITERS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "live") == 0) {
		long n = strtol(argv[2], NULL, 10);
		unsigned warm = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 2;
		unsigned measure = argc > 5 ? (unsigned)strtoul(argv[5], NULL, 10) : 10;
		bool fetch = argc > 6 && strcmp(argv[6], "fetch") == 0;

		if (n < 1 || n > 100000 || measure < 1 || (argc > 6 && !fetch))
			usage();
		return live((size_t)n, argv[3], warm, measure, fetch);
	}
	if (argc >= 3 && strcmp(argv[1], "micro") == 0) {
		unsigned runs = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 5;
		unsigned iters = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 2000;

		return micro(argv[2], runs, iters);
	}
	usage();
	return 2;
}
