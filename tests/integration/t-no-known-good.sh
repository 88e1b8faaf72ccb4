#!/bin/sh
# No known-good release: a degraded first release is held, with a reason
# that says what to do, and nothing is run.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo

step "the first release ever is bad"
deploy_by_hand v1-bad
assert_exit 3 "$CTL" deployed demo v1-bad --wait
echo "$OUT"
echo "$ERR"
assert_contains "$ERR$OUT" "no known-good" "--wait output"
wait_state demo held v1-bad 5
reason=$(svc_field demo reason)
assert_contains "$reason" "no known-good release" "held reason"
assert_contains "$reason" "healthz" "held reason"
assert_eq null "$(svc_field demo known_good)" "known-good"

step "nothing ran"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq "deployed v1-bad" "$(cat "$SVC_DIR/deploys.log")" "deploys.log"
assert_eq 500 "$(http_status /healthz)" "the bad release is still the one live"
hist=$(history_lines demo)
assert_contains "$(echo "$hist" | head -n 1)" "degraded|watching|held|v1-bad" "newest history event"
assert_not_contains "$hist" "rolling_back" "history"

step "what a user sees"
assert_exit 0 "$CTL" status
echo "$OUT"
assert_contains "$(echo "$OUT" | grep '^demo ')" "held" "status line"
