#!/bin/sh
# The rollback's deploy command fails (exit status 2): held, the reason and
# the command's output recorded, nothing left running.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo
seed_good v1

step "v2-bad, and the deploy command is broken"
deploy_by_hand v2-bad v1
touch "$SVC_DIR/deploy-fail"
assert_exit 0 "$CTL" deployed demo v2-bad
wait_for "demo held" 15 state_is demo held
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"

step "the reason is recorded"
reason=$(svc_field demo reason)
assert_contains "$reason" "rollback from v2-bad to v1 failed" "held reason"
assert_contains "$reason" "status 2" "held reason"
hist=$(history_lines demo)
assert_contains "$(echo "$hist" | head -n 1)" "rollback-failed|rolling_back|held" "newest history event"
assert_contains "$(cat "$DLOG")" "deploy-fail is set" "the deploy's output in the daemon log"
assert_eq v2-bad "$(http_get /version)" "what runs"
