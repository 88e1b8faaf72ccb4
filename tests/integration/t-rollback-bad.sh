#!/bin/sh
# A bad release is rolled back: the deploy command ran exactly once, with the
# known-good release, the service answers healthy again, the rollback was
# verified, and the history tells the story.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo
seed_good v1
before=$(deploys_count)

step "deploy v2-bad and announce it"
deploy_by_hand v2-bad v1
assert_exit 0 "$CTL" deployed demo v2-bad
wait_state demo idle v1 15

step "the deploy command ran exactly once, with v1"
assert_eq "deployed v2-bad
deployed v1" "$(deploys_after "$before")" "deploys after the bad release"
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_contains "$(cat "$SVC_DIR/deploy-calls.log")" "v1 from=v2-bad" "deploy-calls.log"
assert_eq v1 "$(http_get /version)" "the live service's version"
assert_eq 200 "$(http_status /healthz)" "healthz after the rollback"

step "the deploy command's environment was built from scratch"
envf=$(cat "$SVC_DIR/deploy-env.last")
assert_contains "$envf" "ROLLBACKD_SERVICE=demo" "deploy environment"
assert_contains "$envf" "ROLLBACKD_VERSION=v1" "deploy environment"
assert_contains "$envf" "ROLLBACKD_FROM_VERSION=v2-bad" "deploy environment"
assert_contains "$envf" "ROLLBACKD_REASON=" "deploy environment"
assert_contains "$envf" "PATH=" "deploy environment"
assert_not_contains "$envf" "RBD_IT_MARKER" "deploy environment"
assert_not_contains "$envf" "ROLLBACKD_SOCKET" "deploy environment"

step "status and history"
assert_eq v1 "$(svc_field demo known_good)" "known-good"
hist=$(history_lines demo)
echo "$hist"
assert_contains "$hist" "degraded|watching|rolling_back|v2-bad" "history"
assert_contains "$hist" "rolled-back|rolling_back|verifying" "history"
assert_contains "$hist" "verified|verifying|idle" "history"
degraded=$(echo "$hist" | grep '^degraded|')
assert_contains "$degraded" "healthz" "reason of the rollback"
assert_contains "$degraded" "HTTP 500" "reason of the rollback"
assert_contains "$degraded" "rolling back from v2-bad to v1" "reason of the rollback"
# newest first: verified, rolled-back, degraded, deployed v2-bad
order=$(echo "$hist" | cut -d'|' -f1 | head -n 4 | tr '\n' ' ')
assert_eq "verified rolled-back degraded deployed " "$order" "newest history events"

step "what a user sees: rollbackctl status and history"
assert_exit 0 "$CTL" status
echo "$OUT"
line=$(echo "$OUT" | grep '^demo ')
assert_contains "$line" "idle" "status line"
assert_contains "$line" "v1" "status line"
assert_exit 0 "$CTL" history demo
echo "$OUT"
assert_contains "$OUT" "rolling back from v2-bad to v1" "history output"

step "the daemon's log has one line for the transition"
assert_contains "$(cat "$DLOG")" "demo: watching v2-bad -> rolling_back to v1" "daemon log"

step "a release marked bad is never a rollback target"
assert_exit 4 "$CTL" rollback demo --to v2-bad
assert_contains "$ERR" "v2-bad" "refusal"
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"
