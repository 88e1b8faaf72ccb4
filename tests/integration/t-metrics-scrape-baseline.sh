#!/bin/sh
# A release that raises p99 latency, while its health endpoint stays up, is
# rolled back by a scrape check judged against its own baseline: the p99
# the same service had before the deploy.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

PORT=$(free_port) || fail "no free port"
write_config
write_policy demo "$PORT" interval=500ms duration=15s verify=3s extra="
  - name: p99
    scrape:
      url: \"http://127.0.0.1:$PORT/metrics\"
      timeout: 400ms
      histogram: demo_http_request_duration_seconds
      quantile: 0.99
    baseline: { window: 1m, max_increase: 100%, min_samples: 5 }
    fail_after: 2"
start_daemon
seed_good v1

step "the baseline fills while v1 is idle"
p99_values() {
	"$CTL" status demo --json | python3 -c '
import json, sys
c = [c for c in json.load(sys.stdin)["services"][0]["checks"] if c["name"] == "p99"][0]
print(c.get("value", ""), c.get("last"), c.get("detail"))'
}
p99_has_value() { [ -n "$(p99_values | cut -d" " -f1)" ]; }
wait_for "a p99 value while idle" 10 p99_has_value
# min_samples is 5 at a 500ms interval: let the baseline take at least 8
# samples of v1 (the samples counter covers every check).
samples_seen() {
	[ "$("$CTL" status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["probes"]["samples"])')" -ge 16 ]
}
wait_for "baseline samples of v1" 15 samples_seen

step "deploy v2-slow99: healthz fine, p99 up"
deploy_by_hand v2-slow99 v1
assert_eq 200 "$(http_status /healthz)" "healthz of v2-slow99"
assert_exit 0 "$CTL" deployed demo v2-slow99
wait_state demo idle v1 30

step "the reason names the check and the numbers"
h=$(history_lines demo)
assert_contains "$h" "degraded|watching|rolling_back|v2-slow99|v1" "history"
assert_contains "$h" "p99: " "the degraded reason"
assert_contains "$h" "above the baseline" "the degraded reason"
assert_eq v1 "$(http_get /version)" "the live service's version"
