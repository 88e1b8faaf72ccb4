#!/bin/sh
# A drill that passes: from idle(v2), v2 and v1 known-good, rollbackctl
# drill deploys v1 with the policy's deploy command, verifies it, deploys
# v2 again, verifies it, and prints the report; the history has every step
# and status says when the last drill passed.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo verify=1s
seed_good v1

step "a drill is refused while v2 is being watched"
deploy_by_hand v2 v1
assert_exit 0 "$CTL" deployed demo v2
run "$CTL" drill demo
assert_eq 4 "$RC" "drill while watching"
assert_contains "$ERR" "demo is watching at v2, not idle: a drill starts only when the service is idle and healthy" "refusal"
wait_state demo idle v2 10
assert_eq v2 "$(svc_field demo known_good)" "v2 promoted"
calls0=$(rbd_deploy_calls)

step "status before any drill"
run "$CTL" status demo
assert_contains "$OUT" "never drilled; not scheduled" "status before"

step "the drill: v2 -> v1 -> v2"
run "$CTL" drill demo
echo "$OUT"
assert_eq 0 "$RC" "drill exit code (passed)"
assert_contains "$OUT" "drill of demo: v2 -> v1 -> v2" "report head"
assert_contains "$OUT" "1. rollback to v1 (from v2): verified" "first step"
assert_contains "$OUT" "--version v1 --from v2" "first step's command"
assert_contains "$OUT" "2. roll forward to v2 (from v1): verified" "second step"
assert_contains "$OUT" "--version v2 --from v1" "second step's command"
assert_contains "$OUT" "healthy after" "time until healthy"
assert_contains "$OUT" "verified for 1." "verify period"
assert_contains "$OUT" "verdict: passed" "verdict"
assert_contains "$ERR" "drilling -> drilling" "progress on stderr"

step "the deploy command ran twice, as a rollback runs it, and v2 is live"
assert_eq $((calls0 + 2)) "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq "v1 from=v2" "$(tail -n 2 "$SVC_DIR/deploy-calls.log" | head -n 1 | cut -d' ' -f1-2)" "the drill's rollback"
assert_eq "v2 from=v1" "$(tail -n 1 "$SVC_DIR/deploy-calls.log" | cut -d' ' -f1-2)" "the drill's roll forward"
assert_eq v2 "$(http_get /version)" "the live service's version"
assert_eq idle "$(svc_field demo state)" "state after the drill"
assert_eq v2 "$(svc_field demo live)" "live after the drill"
assert_eq v2 "$(svc_field demo known_good)" "known-good after the drill"

step "history: every step, with its reason"
assert_eq "drill-passed drill-rolled-forward drill-verified drill-rolled-back drill-started" \
    "$(history_events demo 5)" "drill events, newest first"
hist=$(history_lines demo)
assert_contains "$hist" "drill-started|idle|drilling|v2|v1|uid " "drill-started row"
assert_contains "$hist" "drill passed: rollback to v1: deploy command" "report in history"

step "status: last drill passed"
assert_eq passed "$(svc_json demo "['drill']['last']['result']")" "status --json last result"
assert_eq none "$(svc_json demo "['drill']['phase']")" "no drill under way"
run "$CTL" status demo
assert_contains "$OUT" "last drill passed" "status text"
grep -q "drill passed" "$DLOG" || fail "the log does not say the drill passed"
