#!/bin/sh
# A Prometheus outage shorter than inconclusive_after extends nothing
# silently and decides nothing: the samples are unknown meanwhile (status
# shows them), and once Prometheus is back the watch continues and the
# release is promoted.
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
write_policy demo "$PORT" interval=1s duration=30s warmup=8s verify=12s extra="
  - name: error-rate
    prometheus:
      url: \"$PROM_URL\"
      query: 'sum(rate(demo_http_requests_total{code=\"500\"}[5s])) / sum(rate(demo_http_requests_total[5s]))'
      timeout: 900ms
    max: 0.05
    inconclusive_after: 25"
start_daemon
seed_good v1
prom_wait "v1's request rate" 30 'sum(rate(demo_http_requests_total[5s]))' '>' 10

step "v2 announced, then Prometheus stops"
deploy_by_hand v2 v1
assert_exit 0 "$CTL" deployed demo v2
prom_stop
unknowns() {
	"$CTL" status demo --json | python3 -c '
import json, sys
c = [c for c in json.load(sys.stdin)["services"][0]["checks"] if c["name"] == "error-rate"][0]
sys.exit(0 if c["unknowns"] >= 2 and "prometheus unreachable" in c["detail"] else 1)'
}
wait_for "status to show the unknown samples" 20 unknowns
assert_eq watching "$(svc_field demo state)" "the state while Prometheus is down"

step "Prometheus is back: the watch continues and v2 is promoted"
prom_start_again
wait_state demo idle v2 60
assert_eq v2 "$(svc_field demo known_good)" "the known-good release"
assert_contains "$(history_lines demo | head -n 1)" "promoted|watching|idle|v2" "the last event"
