#!/bin/sh
# The metrics fixture, proved through a real Prometheus: the demo service's
# /metrics follow its version (v1 no errors and a fast p99, "errors" a 20%
# error ratio, "slow99" a p99 above 0.5 s with an unchanged median, "idle"
# no traffic at all) while /healthz stays healthy, and Prometheus scrapes
# them every second, survives a stop and a start on the same storage (the
# outage of the metric tests), and listens only where we told it. rollbackd
# is not involved.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=prom.sh
. "$(dirname "$0")/prom.sh"

prom_require
T_START=$(now_ms)
# The time since the start, for the log.
elapsed() {
	echo "($(( ($(now_ms) - T_START) / 1000 )) s) $*"
}

# deploy_svc SERVICE PORT VERSION: tests/demo/deploy, by hand.
deploy_svc() {
	"$DEPLOY" --dir "$SVC_DIR" --port "$2" --service "$1" --version "$3" \
	    --bin "$DEMO" >> "$T/deploy-by-hand.log" 2>&1 ||
		fail "deploy of $1 $3 failed: $(tail -n 5 "$T/deploy-by-hand.log")"
}

# Three services on three ports: "demo" (v1, then v2-errors), a slow one and
# an idle one. free_port may hand out a port twice: insist on three.
PORT=$(free_port) || fail "no free port"
P_SLOW=$PORT P_IDLE=$PORT n=0
while [ "$P_SLOW" = "$PORT" ] || [ "$P_IDLE" = "$PORT" ] || [ "$P_IDLE" = "$P_SLOW" ]; do
	[ $n -lt 20 ] || fail "no three distinct free ports"
	P_SLOW=$(free_port) || fail "no free port"
	P_IDLE=$(free_port) || fail "no free port"
	n=$((n + 1))
done
I_DEMO=127.0.0.1:$PORT I_SLOW=127.0.0.1:$P_SLOW I_IDLE=127.0.0.1:$P_IDLE

# The PromQL of the checks, for one instance.
q_ratio() {
	echo "sum(rate(demo_http_requests_total{instance=\"$1\",code=\"500\"}[10s])) / sum(rate(demo_http_requests_total{instance=\"$1\"}[10s]))"
}
q_rate() {
	echo "sum(rate(demo_http_requests_total{instance=\"$1\"}[10s]))"
}
q_quantile() {	# Q INSTANCE
	echo "histogram_quantile($1, sum by (le) (rate(demo_http_request_duration_seconds_bucket{instance=\"$2\"}[10s])))"
}
# Samples of this version on this instance (6 in the last 10 s), and none
# of another in the last 11 s: the 10 s rate windows hold only this release.
window_of() {	# INSTANCE VERSION
	prom_holds "(count_over_time(demo_version_info{instance=\"$1\",version=\"$2\"}[10s]) >= bool 6) unless on(instance) count_over_time(demo_version_info{instance=\"$1\",version!=\"$2\"}[11s])" == 1
}

step "deploy v1, v3-slow99 and v4-idle with tests/demo/deploy"
deploy_svc demo "$PORT" v1
deploy_svc slow "$P_SLOW" v3-slow99
deploy_svc idle "$P_IDLE" v4-idle

step "/metrics in the text format, /healthz healthy for all three"
for p in "$PORT" "$P_SLOW" "$P_IDLE"; do
	ct=$(curl -s -m 2 -o /dev/null -w '%{content_type}' "http://127.0.0.1:$p/metrics")
	assert_eq "text/plain; version=0.0.4" "$ct" "Content-Type of /metrics on $p"
	assert_eq 200 "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/healthz")" "healthz on $p"
done
t0=$(now_ms)
assert_eq 200 "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P_SLOW/healthz")" "healthz of v3-slow99"
dt=$(( $(now_ms) - t0 ))
[ $dt -lt 1000 ] || fail "healthz of v3-slow99 took $dt ms: slow99 must be slow in its metrics only"
m=$(curl -s -m 2 "http://127.0.0.1:$P_SLOW/metrics")
assert_contains "$m" "# TYPE demo_http_request_duration_seconds histogram" "/metrics"
assert_contains "$m" 'demo_version_info{version="v3-slow99"} 1' "/metrics"
assert_contains "$m" "demo_up 1" "/metrics"
assert_contains "$m" 'demo_http_request_duration_seconds_bucket{le="+Inf"}' "/metrics"
m=$(curl -s -m 2 "http://127.0.0.1:$P_IDLE/metrics")
assert_contains "$m" 'demo_http_requests_total{code="200"} 1
demo_http_requests_total{code="500"} 0' "/metrics of v4-idle: the one /healthz request only"
assert_contains "$m" "demo_http_request_duration_seconds_count 1" "/metrics of v4-idle"

step "a real Prometheus scraping the three every second"
prom_start "$PORT" "$P_SLOW" "$P_IDLE"
echo "$("$PROM_BIN" --version 2>&1 | head -n 1); ready in ${PROM_STARTUP_MS} ms on $PROM_URL"
if command -v ss >/dev/null 2>&1; then
	listen=$(ss -ltnpH 2>/dev/null | grep "pid=$PROM_PID," | awk '{print $4}' | sort -u | tr '\n' ' ')
	assert_eq "127.0.0.1:$PROM_PORT " "$listen" "prometheus's listening sockets"
fi
prom_wait "the three targets up" 20 'count(up{job="demo"} == 1)' == 3
elapsed "the three targets up"

step "wait until each has 10 s of samples"
wait_for "10 s of v1 samples" 40 window_of "$I_DEMO" v1
wait_for "10 s of v3-slow99 samples" 10 window_of "$I_SLOW" v3-slow99
wait_for "10 s of v4-idle samples" 10 window_of "$I_IDLE" v4-idle
elapsed "10 s of samples of each"

step "v1: no errors, p99 below 0.1 s"
prom_assert "v1 request rate/s" "$(q_rate "$I_DEMO")" ">" 20
prom_assert "v1 error ratio" "$(q_ratio "$I_DEMO")" "<" 0.01
prom_assert "v1 p99 s" "$(q_quantile 0.99 "$I_DEMO")" "<" 0.1
prom_assert "v1 p50 s" "$(q_quantile 0.5 "$I_DEMO")" "<" 0.05

step "v3-slow99: p99 above 0.5 s, the median unchanged, no errors"
prom_assert "v3-slow99 p99 s" "$(q_quantile 0.99 "$I_SLOW")" ">" 0.5
prom_assert "v3-slow99 p50 s" "$(q_quantile 0.5 "$I_SLOW")" "<" 0.05
prom_assert "v3-slow99 error ratio" "$(q_ratio "$I_SLOW")" "<" 0.01

step "v4-idle: no traffic, so no rate to judge"
prom_assert "v4-idle request rate/s" "$(q_rate "$I_IDLE")" "==" 0
v=$(prom_query "$(q_ratio "$I_IDLE")")
echo "v4-idle error ratio: $v"
assert_eq NaN "$v" "error ratio of an idle release (0/0)"
v=$(prom_query "$(q_quantile 0.99 "$I_IDLE")")
echo "v4-idle p99: $v"
assert_eq NaN "$v" "p99 of an idle release"

step "demo: v1 -> v2-errors on the same port, with a Prometheus restart"
deploy_svc demo "$PORT" v2-errors
assert_eq 200 "$(http_status /healthz)" "healthz of v2-errors"
# Real requests, to be counted: v4-idle's one /healthz request becomes 4.
for _ in 1 2 3; do
	curl -s -m 2 -o /dev/null "http://127.0.0.1:$P_IDLE/healthz"
done
# The outage, while the rate windows fill with v2-errors: it is over before
# they are (Prometheus scrapes again ~5 s after its start).
prom_stop
assert_eq 000 "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$PROM_URL/-/ready")" "ready while stopped"
ms=$(now_ms)
restarted=$((ms / 1000)).$(printf %03d $((ms % 1000)))
prom_start_again
echo "ready again in ${PROM_STARTUP_MS} ms, same port, same storage"
prom_assert "v1 samples kept across the restart" \
    "count_over_time(demo_version_info{instance=\"$I_DEMO\",version=\"v1\"}[5m])" ">=" 8
# up is still there from before the stop (lookback): only samples newer
# than the restart prove that it scrapes again.
prom_wait "scraping again after the restart" 20 \
    "count((timestamp(up{job=\"demo\"}) > $restarted) and (up{job=\"demo\"} == 1))" == 3
elapsed "scraping again after the restart"
wait_for "10 s of v2-errors samples only" 30 window_of "$I_DEMO" v2-errors
elapsed "10 s of v2-errors samples only"

step "v2-errors: an error ratio of ~0.2, p99 unchanged, healthz healthy"
prom_assert "v2-errors error ratio" "$(q_ratio "$I_DEMO")" ">" 0.12
prom_assert "v2-errors error ratio" "$(q_ratio "$I_DEMO")" "<" 0.28
prom_assert "v2-errors p99 s" "$(q_quantile 0.99 "$I_DEMO")" "<" 0.1

step "real /healthz requests are counted, by code"
prom_assert "v4-idle requests answered 200" \
    "demo_http_requests_total{instance=\"$I_IDLE\",code=\"200\"}" == 4
prom_assert "v4-idle requests answered 500" \
    "demo_http_requests_total{instance=\"$I_IDLE\",code=\"500\"}" == 0
elapsed "done"
