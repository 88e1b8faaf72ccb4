#!/bin/sh
# A release with no traffic is not judged: a scrape check's error ratio
# below its min_rate is no data, never a verdict, so the release is neither
# rolled back nor promoted: it is held for a person to decide.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

PORT=$(free_port) || fail "no free port"
write_config
write_policy demo "$PORT" interval=500ms duration=4s verify=2s extra="
  - name: error-ratio
    scrape:
      url: \"http://127.0.0.1:$PORT/metrics\"
      timeout: 400ms
      ratio:
        numerator: 'demo_http_requests_total{code=\"500\"}'
        denominator: demo_http_requests_total
        min_rate: 10
    max: 0.05
    inconclusive_after: 100"
start_daemon
seed_good v1
calls=$(rbd_deploy_calls)

step "v2-idle serves no traffic: held, not rolled back, not promoted"
deploy_by_hand v2-idle v1
assert_exit 0 "$CTL" deployed demo v2-idle
wait_state demo held v2-idle 20
reason=$(svc_field demo reason)
assert_contains "$reason" "error-ratio: no data during the whole window" "the held reason"
assert_contains "$reason" "too little traffic" "the held reason"
assert_contains "$reason" "not promoting on no data" "the held reason"
assert_eq "$calls" "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq v1 "$(svc_field demo known_good)" "the known-good release"
