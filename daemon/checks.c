/* Probing one check, by its type, and turning what comes back into a
 * judged sample: an HTTP check is judged by the probe engine itself; a
 * scrape check's page is parsed and its metric computed (lib/promtext.c,
 * lib/metric.c); a Prometheus check's answer is parsed (lib/promapi.c);
 * metric values are judged against their condition and baseline
 * (lib/judge.c); a unit check's reading of a systemd unit is judged by
 * lib/unitcheck.c, its restart count against the one its probing began
 * with. No data (a provider that cannot be reached, an empty
 * query, too little traffic) is an unknown sample, never a failure: the
 * check's no_data rule decides in the engine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "probe_http.h"
#include "probe_unit.h"
#include "promapi.h"
#include "promtext.h"

#define BODY_MAX (2 * 1024 * 1024)	/* a /metrics page or a query answer;
					 * pooled handles keep buffers this big */
#define SECRET_MAX 4096
#define HEADER_MAX (RBD_PROBE_HEADER_MAX)

const struct rbd_check *check_of(const struct rbd_check_state *cs)
{
	const struct rbd_policy *p = cs->svc->policy;

	return cs->guard ? &p->guards[cs->index] : &p->checks[cs->index];
}

bool check_always_probed(const struct rbd_check *chk)
{
	return rbd_check_is_metric(chk->type) && chk->cond.baseline;
}

/* The HTTP check's sample, judged by the probe engine. */
static void on_http(void *arg, const struct rbd_probe_result *res)
{
	struct rbd_check_state *cs = arg;

	svc_sample(cs->svc, cs, res->result, res->detail,
	    rbd_mono_from_clock(res->started));
}

/* Scratch space for the values judge_value compares: the daemon is one
 * thread, and a window never holds more than RBD_WINDOW_MAX values, so no
 * sample needs an allocation. */
static double scratch_before[RBD_WINDOW_MAX], scratch_after[RBD_WINDOW_MAX];

/* Judge a metric value taken at t against the check's condition: the
 * baseline is the window before the last deploy, "after" the values of
 * this watch past its warm-up. */
static void judge_value(struct rbd_check_state *cs, double value,
    uint64_t t)
{
	struct rbd_svc *s = cs->svc;
	const struct rbd_check *chk = check_of(cs);
	const struct rbd_condition *c = &chk->cond;
	uint64_t keep = c->baseline_window_usec + s->policy->duration_usec +
	    s->policy->verify_usec;
	uint64_t end = s->baseline_end ? s->baseline_end : t;
	uint64_t start = s->w->since + s->policy->warmup_usec;
	size_t n_before = 0, n_after;
	char detail[RBD_DETAIL_MAX];
	enum rbd_sample_result r;

	cs->has_value = true;
	cs->value = value;
	rbd_window_push(&cs->values, t, value);
	if (t > keep)
		rbd_window_prune(&cs->values, t - keep);
	if (c->baseline)
		n_before = rbd_window_values(&cs->values,
		    end > c->baseline_window_usec ? end - c->baseline_window_usec : 0,
		    end, scratch_before, RBD_WINDOW_MAX);
	n_after = rbd_window_values(&cs->values, start, t + 1, scratch_after,
	    RBD_WINDOW_MAX);
	r = rbd_judge(c, value, scratch_before, n_before, scratch_after,
	    n_after, detail, sizeof(detail));
	svc_sample(s, cs, r, detail, t);
}

/* A computed value, no data or an error, as a sample. */
static void metric_result(struct rbd_check_state *cs,
    const struct rbd_metric_result *m, uint64_t t)
{
	if (m->status == RBD_METRIC_VALUE) {
		judge_value(cs, m->value, t);
		return;
	}
	/* An error (several series for a gauge, a malformed histogram) is
	 * no data too: the policy or the service needs a person, and the
	 * engine holds after inconclusive_after of them. */
	svc_sample(cs->svc, cs, RBD_SAMPLE_UNKNOWN, m->why, t);
}

/* A scrape check's page arrived (or could not be fetched). */
static void on_scrape(void *arg, const struct rbd_probe_result *res)
{
	struct rbd_check_state *cs = arg;
	const struct rbd_check *chk = check_of(cs);
	uint64_t t = rbd_mono_from_clock(res->started);
	struct rbd_metric_result m;
	struct rbd_prom_page *page = NULL;
	char err[RBD_DETAIL_MAX], detail[RBD_DETAIL_MAX];

	if (res->result != RBD_SAMPLE_OK || res->status != 200) {
		snprintf(detail, sizeof(detail), "scrape failed: %s",
		    res->detail ? res->detail : "no answer");
		svc_sample(cs->svc, cs, RBD_SAMPLE_UNKNOWN, detail, t);
		return;
	}
	if (rbd_prom_parse(res->body, res->body_len, &page, err, sizeof(err)) < 0) {
		snprintf(detail, sizeof(detail), "unparsable metrics page: %.200s", err);
		svc_sample(cs->svc, cs, RBD_SAMPLE_UNKNOWN, detail, t);
		return;
	}
	if (rbd_metric_eval(&chk->u.scrape.metric, cs->metric, page, t, &m) < 0)
		snprintf(m.why, sizeof(m.why), "out of memory");
	rbd_prom_page_free(page);
	metric_result(cs, &m, t);
}

/* A Prometheus query's answer arrived (or Prometheus could not be
 * reached). */
static void on_query(void *arg, const struct rbd_probe_result *res)
{
	struct rbd_check_state *cs = arg;
	uint64_t t = rbd_mono_from_clock(res->started);
	struct rbd_metric_result m;
	char detail[RBD_DETAIL_MAX];

	if (res->result != RBD_SAMPLE_OK || !res->body) {
		snprintf(detail, sizeof(detail), "prometheus unreachable: %s",
		    res->detail ? res->detail : "no answer");
		svc_sample(cs->svc, cs, RBD_SAMPLE_UNKNOWN, detail, t);
		return;
	}
	rbd_promapi_parse(res->body, res->body_len, &m);
	metric_result(cs, &m, t);
}

/* A unit check's reading arrived (or could not be made: no bus, no
 * answer, which is no data). */
static void on_unit(void *arg, const struct rbd_unit_reading *rd)
{
	struct rbd_check_state *cs = arg;
	const struct rbd_check *chk = check_of(cs);
	uint64_t t = rbd_mono_from_clock(rd->started);
	char detail[RBD_DETAIL_MAX];
	enum rbd_sample_result r;

	if (rd->error) {
		svc_sample(cs->svc, cs, RBD_SAMPLE_UNKNOWN, rd->detail, t);
		return;
	}
	r = rbd_unit_judge(&chk->u.unit, rd->props, &cs->unit_base, detail,
	    sizeof(detail));
	svc_sample(cs->svc, cs, r, detail, t);
}

/* The first line of file path, without its newline, into buf. Small local
 * files read once per probe start: a rotated secret is picked up at the
 * next watch or reload. */
static int read_secret(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		r = ferror(f) ? -EIO : -ENODATA;
	fclose(f);
	if (r == 0)
		buf[strcspn(buf, "\r\n")] = '\0';
	return r;
}

/* The Authorization header of a Prometheus check into buf ("" for none),
 * its secret read from the policy's file. */
static int prom_auth_header(const struct rbd_prometheus_probe *pq, char *buf,
    size_t len)
{
	const char *file = pq->bearer_token_file ? pq->bearer_token_file :
	    pq->basic_password_file;
	char secret[SECRET_MAX];
	int r;

	buf[0] = '\0';
	if (!file)
		return 0;
	r = read_secret(file, secret, sizeof(secret));
	if (r < 0)
		return r;
	return rbd_promapi_auth_header(pq->bearer_token_file ? secret : NULL,
	    pq->basic_user, secret, buf, len);
}

/* Start a Prometheus query check. */
static int start_query(struct rbd_svc *s, struct rbd_check_state *cs,
    const struct rbd_check *chk)
{
	const struct rbd_prometheus_probe *pq = &chk->u.prom;
	char header[HEADER_MAX];
	char *url;
	int r;

	r = prom_auth_header(pq, header, sizeof(header));
	if (r < 0) {
		rbd_log(LOG_ERR, "%s: %s: cannot use the credentials in %s: %s",
		    s->name, chk->name, pq->bearer_token_file ?
		    pq->bearer_token_file : pq->basic_password_file, strerror(-r));
		/* Probed all the same: Prometheus's refusal shows in status. */
		header[0] = '\0';
	}
	url = rbd_promapi_query_url(pq->url, pq->query);
	if (!url)
		return -ENOMEM;
	r = rbd_prober_add_fetch(s->d->prober, url, pq->timeout_usec,
	    s->policy->interval_usec, BODY_MAX, on_query, cs, &cs->probe);
	free(url);
	if (r >= 0 && header[0])
		r = rbd_probe_set_header(cs->probe, header);
	return r;
}

int check_start(struct rbd_svc *s, struct rbd_check_state *cs)
{
	const struct rbd_check *chk = check_of(cs);

	if (cs->probe || cs->unit)
		return 0;
	if (rbd_check_is_metric(chk->type) && !cs->values.cap &&
	    rbd_window_init(&cs->values, RBD_WINDOW_MAX) < 0)
		return -ENOMEM;
	switch (chk->type) {
	case RBD_CHECK_HTTP:
		return rbd_prober_add(s->d->prober, &chk->u.http,
		    s->policy->interval_usec, on_http, cs, &cs->probe);
	case RBD_CHECK_SCRAPE:
		if (!cs->metric && !(cs->metric = rbd_metric_state_new()))
			return -ENOMEM;
		return rbd_prober_add_fetch(s->d->prober, chk->u.scrape.url,
		    chk->u.scrape.timeout_usec, s->policy->interval_usec,
		    BODY_MAX, on_scrape, cs, &cs->probe);
	case RBD_CHECK_PROMETHEUS:
		return start_query(s, cs, chk);
	case RBD_CHECK_UNIT:
		/* Restarts count from the first reading of this probing. */
		cs->unit_base = (struct rbd_unit_base){ 0 };
		return rbd_unit_reader_new(s->d->base, s->d->bus, s->d->prober,
		    chk->u.unit.unit, s->policy->interval_usec,
		    chk->u.unit.timeout_usec, on_unit, cs, &cs->unit);
	default:
		return -EINVAL;
	}
}

void check_stop(struct rbd_check_state *cs)
{
	rbd_probe_remove(cs->probe);
	cs->probe = NULL;
	rbd_unit_reader_free(cs->unit);
	cs->unit = NULL;
}

void check_state_clear(struct rbd_check_state *cs)
{
	check_stop(cs);
	rbd_metric_state_free(cs->metric);
	cs->metric = NULL;
	rbd_window_clear(&cs->values);
}
