#!/bin/sh
# mode: dry-run: a bad release is judged and the rollback it would get is
# recorded ("would have rolled back ... to v1"), but nothing runs: held, the
# deploy command never started, the bad release still serving. Judgement
# goes on: a healthy release is still promoted.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo duration=2s extra="mode: dry-run"
assert_eq dry-run "$(svc_field demo mode)" "mode in status"
seed_good v1
before=$(deploys_count)

step "v2-bad degrades: held, with what would have been done"
deploy_by_hand v2-bad v1
assert_exit 0 "$CTL" deployed demo v2-bad
wait_state demo held v2-bad 15
hist=$(history_lines demo)
echo "$hist"
newest=$(echo "$hist" | head -n 1)
assert_contains "$newest" "would-roll-back|watching|held|v2-bad" "newest history event"
assert_contains "$newest" "would have rolled back" "would-roll-back event's reason"
assert_contains "$newest" "v1" "would-roll-back event's reason"
assert_contains "$newest" "nothing was run" "would-roll-back event's reason"
assert_not_contains "$hist" "rolled-back|" "history"
reason=$(svc_field demo reason)
echo "reason: $reason"
assert_contains "$reason" "would have rolled back demo from v2-bad to v1" "held reason"
assert_contains "$reason" "healthz" "held reason (what failed)"
assert_contains "$reason" "mode: dry-run" "held reason"
assert_eq 1 "$(svc_json demo "['automatic_rollbacks']['count']")" \
    "automatic_rollbacks.count (a would-be rollback counts)"

step "nothing was run: the bad release still serves"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
if [ -e "$SVC_DIR/deploy-calls.log" ]; then
	fail "rollbackd ran the deploy command: $(cat "$SVC_DIR/deploy-calls.log")"
fi
assert_eq "deployed v2-bad" "$(deploys_after "$before")" "deploys after the bad release"
assert_eq v2-bad "$(http_get /version)" "the live service's version"
assert_eq 500 "$(http_status /healthz)" "the live service's healthz"

step "held stays held: nothing is run for 6 intervals"
t_end=$(( $(now_ms) + 1500 ))
while [ "$(now_ms)" -lt "$t_end" ]; do
	state_is demo held || fail "left held: $(svc_field demo state)"
	sleep 0.1
done
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"

step "what a user sees: rollbackctl status and history"
assert_exit 0 "$CTL" status demo
echo "$OUT"
assert_contains "$OUT" "would have rolled back" "status"
assert_exit 0 "$CTL" history demo
echo "$OUT"
assert_contains "$OUT" "would have rolled back" "history output"

step "judgement goes on: a healthy v3 is still promoted"
deploy_by_hand v3 v2-bad
assert_exit 0 "$CTL" deployed demo v3 --wait
assert_contains "$OUT" "promoted" "verdict on v3"
wait_state demo idle v3 5
assert_eq v3 "$(svc_field demo known_good)" "known-good"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
