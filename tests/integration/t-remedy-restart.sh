#!/bin/sh
# A restart in the middle of a remedy: rollbackd is killed (SIGKILL) while
# a remedy's command runs. On the next start the service is still
# remedying, and the remedy is run again from its action (remedies are
# idempotent, like deploy commands); its settle period starts afresh, the
# checks recover, and the release is kept: no rollback.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

FLAG=$SVC_DIR/flag
CALLS=$SVC_DIR/remedy-calls.log
PORT=$(free_port) || fail "no free port"
write_config
write_policy demo "$PORT" duration=20s extra="remedies:
  - name: slow-flag-off
    command: [/bin/sh, -c, 'echo \"\$ROLLBACKD_VERSION\" >> $CALLS; sleep 3; rm -f $FLAG']
    timeout: 10s
    settle: 2s"
echo "--flag-file $FLAG" > "$SVC_DIR/deploy-args"
start_daemon
seed_good v1

step "v2-flagged degrades; the remedy's command starts"
touch "$FLAG"
deploy_by_hand v2-flagged v1
assert_exit 0 "$CTL" deployed demo v2-flagged
wait_for "the remedy's command to start" 10 test -s "$CALLS"
state_is demo remedying v2-flagged || fail "not remedying: $(svc_field demo state)"

step "rollbackd is killed while the command runs, and started again"
crash_daemon
start_daemon
assert_eq remedying "$(svc_field demo state)" "state after the restart"
assert_eq slow-flag-off "$(svc_json demo "['remedy']['name']")" "the remedy"
grep -q 'resuming remedying v2-flagged' "$DLOG" || fail "no 'resuming' in the log"
wait_for "the remedy to be run again" 10 sh -c "[ \$(wc -l < '$CALLS') -ge 2 ]"
assert_eq "v2-flagged
v2-flagged" "$(cat "$CALLS")" "remedy runs (ROLLBACKD_VERSION)"

step "the checks recover: remedied, no rollback"
wait_for "remedied" 20 sh -c "'$CTL' history demo --json | grep -q '\"remedied\"'"
assert_eq watching "$(svc_field demo state)" "state after the remedy"
assert_eq v2-flagged "$(svc_field demo live)" "live release"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_contains "$(history_lines demo | grep '^remedied|')" \
    "remedy slow-flag-off (1 of 1) fixed demo v2-flagged" "remedied reason"
