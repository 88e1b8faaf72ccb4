#!/bin/sh
# The rollback's deploy command exceeds its timeout and ignores SIGTERM: it
# is killed with its whole process group, the service is held with the
# reason, and no process is left behind.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo deploy_timeout=1s
seed_good v1

step "v2-bad, and the deploy command hangs, ignoring SIGTERM"
deploy_by_hand v2-bad v1
touch "$SVC_DIR/deploy-hang"
t0=$(now_ms)
assert_exit 0 "$CTL" deployed demo v2-bad
wait_for "the deploy to start" 10 test -s "$SVC_DIR/deploy-hang.pid"
hang=$(cat "$SVC_DIR/deploy-hang.pid")
# 1 s timeout, then SIGTERM (ignored), then SIGKILL after the grace period.
wait_for "demo held" 20 state_is demo held
elapsed=$(( $(now_ms) - t0 ))
echo "held after ${elapsed} ms"

step "the reason is recorded; the deploy's session is gone"
reason=$(svc_field demo reason)
assert_contains "$reason" "rollback from v2-bad to v1 failed" "held reason"
assert_contains "$reason" "timed out" "held reason"
wait_for "the deploy's session to be gone" 3 not session_alive "$hang"
pid_alive "$hang" && fail "the hanging deploy (pid $hang) is still running"
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_contains "$(history_lines demo | head -n 1)" "rollback-failed|rolling_back|held" "newest history event"

step "the daemon is still fine"
assert_exit 0 "$CTL" status
