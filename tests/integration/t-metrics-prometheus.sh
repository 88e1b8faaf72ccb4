#!/bin/sh
# PromQL checks through a real Prometheus: a release raising the error ratio
# is rolled back; then, with Prometheus stopped in the middle of a watch,
# the service is held for no data and nothing is rolled back.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=prom.sh
. "$(dirname "$0")/prom.sh"

prom_require
PORT=$(free_port) || fail "no free port"
deploy_by_hand v1
prom_start "$PORT"
write_config
QUERY='sum(rate(demo_http_requests_total{code=\"500\"}[5s])) / sum(rate(demo_http_requests_total[5s]))'
# The query's 5s range lags the deploy: the warm-up (which applies to the
# verification of a rollback too) must cover it, or the restored release
# is judged on the bad one's errors.
write_policy demo "$PORT" interval=1s duration=30s warmup=8s verify=12s extra="
  - name: error-rate
    prometheus:
      url: \"$PROM_URL\"
      query: \"$QUERY\"
      timeout: 900ms
    max: 0.05
    fail_after: 2
    no_data: inconclusive
    inconclusive_after: 4"
start_daemon
assert_exit 0 "$CTL" deployed demo v1
assert_exit 0 "$CTL" mark-good demo v1
wait_state demo idle v1 5

step "Prometheus has v1's traffic"
prom_wait "v1's request rate" 30 'sum(rate(demo_http_requests_total[5s]))' '>' 10

step "v2-errors: healthz fine, 20% errors: rolled back by the PromQL check"
deploy_by_hand v2-errors v1
assert_eq 200 "$(http_status /healthz)" "healthz of v2-errors"
assert_exit 2 "$CTL" deployed demo v2-errors --wait --timeout 60s
wait_state demo idle v1 40
h=$(history_lines demo)
assert_contains "$h" "degraded|watching|rolling_back|v2-errors|v1" "history"
assert_contains "$h" "error-rate: " "the degraded reason"
assert_contains "$h" "> max 0.05" "the degraded reason"

step "Prometheus stops during the next watch: held for no data, no rollback"
prom_wait "v1's error ratio back to 0" 30 "$(echo "$QUERY" | sed 's/\\"/"/g')" '<' 0.001
calls=$(rbd_deploy_calls)
deploy_by_hand v3 v1
assert_exit 0 "$CTL" deployed demo v3
prom_stop
wait_state demo held v3 40
assert_eq "$calls" "$(rbd_deploy_calls)" "deploys started by rollbackd while Prometheus was down"
reason=$(svc_field demo reason)
assert_contains "$reason" "error-rate: no data for 4 consecutive samples" "the held reason"
assert_contains "$reason" "prometheus unreachable" "the held reason"
assert_not_contains "$(history_lines demo | head -n 1)" "bad" "the last event"
