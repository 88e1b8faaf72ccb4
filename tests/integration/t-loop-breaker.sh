#!/bin/sh
# The loop breaker: with rollback.max_automatic 2 per 1h, two bad releases
# in a row are rolled back to v1, and the third within the hour is not:
# held, event "loop-breaker", the deploy command not run, the reason saying
# how many and which limit. The count survives a restart.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo duration=2s verify=1s extra="rollback:
  max_automatic: 2
  per: 1h"
seed_good v1
assert_eq 0 "$(svc_json demo "['automatic_rollbacks']['count']")" \
    "automatic_rollbacks.count before any rollback"
assert_eq 2 "$(svc_json demo "['automatic_rollbacks']['max']")" \
    "automatic_rollbacks.max"
assert_eq 3600000000 "$(svc_json demo "['automatic_rollbacks']['per_usec']")" \
    "automatic_rollbacks.per_usec"

# bad_release N V: announce bad release V; it is rolled back to v1, the
# N-th automatic rollback.
bad_release() {
	n=$1 v=$2
	step "$v is announced and rolled back to v1 (automatic rollback $n of 2)"
	deploy_by_hand "$v" v1
	assert_exit 0 "$CTL" deployed demo "$v"
	wait_state demo idle v1 15
	assert_eq "$n" "$(rbd_deploy_calls)" "deploys started by rollbackd"
	assert_eq "v1 from=$v" "$(tail -n 1 "$SVC_DIR/deploy-calls.log" | cut -d' ' -f1-2)" \
	    "the rollback's deploy"
	assert_eq "$n" "$(svc_json demo "['automatic_rollbacks']['count']")" \
	    "automatic_rollbacks.count after rolling back $v"
}
bad_release 1 v2-bad
bad_release 2 v3-bad
assert_eq 3 "$(count_lines "$SVC_DIR/deploys.log" "deployed v1")" \
    "'deployed v1' lines (seed + 2 rollbacks)"

step "v4-bad: the third automatic rollback within the hour is refused"
deploy_by_hand v4-bad v1
assert_exit 0 "$CTL" deployed demo v4-bad
wait_state demo held v4-bad 15
hist=$(history_lines demo)
echo "$hist"
lb=$(echo "$hist" | grep '^loop-breaker|')
[ -n "$lb" ] || fail "no loop-breaker event in the history: $hist"
assert_eq 1 "$(echo "$lb" | wc -l | tr -d ' ')" "loop-breaker events"
assert_contains "$(echo "$hist" | head -n 1)" "loop-breaker|watching|held|v4-bad" \
    "newest history event"
reason=$(svc_field demo reason)
assert_contains "$reason" "2 automatic rollbacks" "held reason"
assert_contains "$reason" "max_automatic 2" "held reason"
assert_contains "$reason" "v4-bad" "held reason"
assert_contains "$reason" "healthz" "held reason (what failed)"
assert_contains "$lb" "max_automatic 2" "loop-breaker event's reason"

step "the deploy command was not run for v4-bad"
assert_eq 2 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq 3 "$(count_lines "$SVC_DIR/deploys.log" "deployed v1")" \
    "'deployed v1' lines"
assert_eq v4-bad "$(http_get /version)" "the live service's version"
assert_eq 2 "$(svc_json demo "['automatic_rollbacks']['count']")" \
    "automatic_rollbacks.count (the refused one is not counted)"
assert_eq v1 "$(svc_field demo known_good)" "known-good"

step "held stays held: nothing more is run for 6 intervals"
t_end=$(( $(now_ms) + 1500 ))
while [ "$(now_ms)" -lt "$t_end" ]; do
	state_is demo held || fail "left held: $(svc_field demo state)"
	sleep 0.1
done
assert_eq 2 "$(rbd_deploy_calls)" "deploys started by rollbackd"

step "v4-bad is recorded as bad: an operator cannot roll back to it"
assert_exit 4 "$CTL" rollback demo --to v4-bad
assert_contains "$ERR" "marked bad" "refusal"

step "what a user sees: rollbackctl status"
assert_exit 0 "$CTL" status demo
echo "$OUT"
assert_contains "$OUT" "held" "status"
assert_contains "$OUT" "max_automatic 2" "status"

step "a restart keeps the count: v5-bad is refused too"
stop_daemon
assert_eq 0 "$DAEMON_RC" "rollbackd's exit status after SIGTERM"
start_daemon
assert_eq held "$(svc_field demo state)" "state after the restart"
assert_eq 2 "$(svc_json demo "['automatic_rollbacks']['count']")" \
    "automatic_rollbacks.count after the restart"
deploy_by_hand v5-bad v4-bad
assert_exit 0 "$CTL" deployed demo v5-bad
wait_state demo held v5-bad 15
hist=$(history_lines demo)
assert_contains "$(echo "$hist" | head -n 1)" "loop-breaker|watching|held|v5-bad" \
    "newest history event"
assert_contains "$(svc_field demo reason)" "v5-bad" "held reason"
assert_eq 2 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq 3 "$(count_lines "$SVC_DIR/deploys.log" "deployed v1")" \
    "'deployed v1' lines"
