#!/bin/sh
# A drill whose rollback target is broken: v1-bad (known-good, but its
# /healthz answers 500 now) is deployed by the drill, found unhealthy, and
# v2 is deployed again at once. The drill ends on v2, healthy, and the
# failure is reported loudly: exit 7, the report, history, the log at
# warning level and status. v1-bad is not marked bad (a drill is practice).
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo verify=10s
seed_good v1-bad
deploy_by_hand v2 v1-bad
assert_exit 0 "$CTL" deployed demo v2 --wait
assert_eq v2 "$(svc_field demo known_good)" "v2 promoted"

step "the drill finds v1-bad unhealthy and rolls forward at once"
start=$(now_ms)
run "$CTL" drill demo
took=$(( $(now_ms) - start ))
echo "$OUT"
echo "$ERR"
assert_eq 7 "$RC" "drill exit code (failed, back on v2)"
assert_contains "$OUT" "1. rollback to v1-bad (from v2): unhealthy" "first step"
assert_contains "$OUT" "never healthy, UNHEALTHY after" "first step's timing"
assert_contains "$OUT" "2. roll forward to v2 (from v1-bad): verified" "second step"
assert_contains "$OUT" "verdict: FAILED: v1-bad unhealthy: healthz: HTTP 500" "verdict"
assert_contains "$ERR" "drill of demo FAILED: drill FAILED: v1-bad unhealthy" "stderr"
# v1-bad was not verified for its whole 10 s: the roll forward came at once.
[ "$took" -lt 19000 ] || fail "the drill took ${took}ms: v2 was not deployed at once"

step "v2 is live and healthy; v1-bad is still known-good, not marked bad"
assert_eq v2 "$(http_get /version)" "the live service's version"
assert_eq 200 "$(http_status /healthz)" "healthz"
assert_eq idle "$(svc_field demo state)" "state"
assert_eq v2 "$(svc_field demo live)" "live"
assert_eq "v1-bad from=v2" "$(tail -n 2 "$SVC_DIR/deploy-calls.log" | head -n 1 | cut -d' ' -f1-2)" "the drill's rollback"
assert_eq "v2 from=v1-bad" "$(tail -n 1 "$SVC_DIR/deploy-calls.log" | cut -d' ' -f1-2)" "the drill's roll forward"
assert_eq "drill-failed drill-rolled-forward drill-target-unhealthy drill-rolled-back drill-started" \
    "$(history_events demo 5)" "drill events, newest first"
hist=$(history_lines demo)
assert_contains "$hist" "v1-bad, the rollback target, is unhealthy: healthz: HTTP 500" "history"
assert_not_contains "$hist" "marked-bad" "history"

step "status says the last drill FAILED, and why"
assert_eq failed "$(svc_json demo "['drill']['last']['result']")" "status --json"
run "$CTL" status
assert_contains "$OUT" "demo: last drill FAILED" "status of every service"
assert_contains "$OUT" "v1-bad unhealthy: healthz: HTTP 500" "status reason"
assert_contains "$OUT" "never passed" "status: never passed"
grep -q '^<4>demo: .*drill FAILED: v1-bad, the rollback target, is unhealthy' "$DLOG" ||
	fail "the log does not warn about the broken rollback target"

step "a rollback would still pick v1-bad: the team decides (mark-bad)"
assert_exit 0 "$CTL" mark-bad demo v1-bad
run "$CTL" drill demo
assert_eq 4 "$RC" "drill with no target left"
assert_contains "$ERR" "nothing to drill with: no known-good release to roll back to" "refusal"
