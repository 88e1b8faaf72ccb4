#!/bin/sh
# The rollback target is also unhealthy (v1 worked when it was promoted, but
# does not any more): one rollback, then held. No ping-pong.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo
seed_good v1
before=$(deploys_count)

step "v2-bad, and from now on every deploy starts an unhealthy service"
deploy_by_hand v2-bad v1
echo "--fail-after-requests 0" > "$SVC_DIR/deploy-args"
assert_exit 0 "$CTL" deployed demo v2-bad
wait_state demo held v1 15

step "one rollback, then held"
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq "deployed v2-bad
deployed v1" "$(deploys_after "$before")" "deploys after the bad release"
reason=$(svc_field demo reason)
assert_contains "$reason" "v1" "held reason"
assert_contains "$reason" "unhealthy" "held reason"
hist=$(history_lines demo)
echo "$hist"
assert_eq 2 "$(echo "$hist" | grep -c '^degraded|')" "degraded events"
assert_eq 1 "$(echo "$hist" | grep -c '^rolled-back|')" "rolled-back events"
assert_contains "$(echo "$hist" | head -n 1)" "degraded|verifying|held" "newest history event"

step "held stays held: nothing more is run for 8 intervals"
# A negative claim needs a window of observation: 2 s = 8 intervals.
t_end=$(( $(now_ms) + 2000 ))
while [ "$(now_ms)" -lt "$t_end" ]; do
	state_is demo held || fail "left held: $(svc_field demo state)"
	sleep 0.1
done
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"
