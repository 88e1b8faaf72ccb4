#!/bin/sh
# kill -9 of the daemon in the middle of a rollback: after a restart the
# rollback is run again (deploy commands are idempotent) and verified.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo
seed_good v1

step "v2-bad, with a deploy command that takes 3 s"
deploy_by_hand v2-bad v1
touch "$SVC_DIR/deploy-slow"
assert_exit 0 "$CTL" deployed demo v2-bad
wait_for "the rollback's deploy to start" 10 test -s "$SVC_DIR/deploy-slow.pid"
assert_eq rolling_back "$(svc_field demo state)" "state during the deploy"
orphan=$(cat "$SVC_DIR/deploy-slow.pid")

step "kill -9 the daemon while the deploy runs"
pid_alive "$orphan" || fail "the deploy ended before the daemon could be killed"
crash_daemon
# The interrupted deploy lives on in its own session; let it end (it may
# finish its work, or die writing to the dead daemon's pipe) so that the
# re-run below does not race with it.
wait_for "the interrupted deploy to end" 10 not pid_alive "$orphan"
rm -f "$SVC_DIR/deploy-slow"

step "restart: the rollback is run again and verified"
start_daemon
wait_state demo idle v1 15
assert_eq 2 "$(rbd_deploy_calls)" "deploys started by rollbackd (interrupted + re-run)"
assert_eq "v1 from=v2-bad" "$(tail -n 1 "$SVC_DIR/deploy-calls.log" | cut -d' ' -f1-2)" "the re-run deploy"
assert_eq v1 "$(http_get /version)" "the live service's version"
assert_eq 200 "$(http_status /healthz)" "healthz"
hist=$(history_lines demo)
echo "$hist"
assert_contains "$(echo "$hist" | head -n 1)" "verified|verifying|idle" "newest history event"
assert_eq 1 "$(echo "$hist" | grep -c '^rolled-back|')" "rolled-back events"
assert_eq v1 "$(svc_field demo known_good)" "known-good"
