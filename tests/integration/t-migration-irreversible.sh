#!/bin/sh
# A bad release that migrated the schema irreversibly past what the
# known-good release expects is not rolled back: held, nothing run (neither
# the down-migration nor the deploy), and the reason names both releases
# and both schema versions.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo extra="$(migrate_down_yaml)"

step "v1, on schema 42, is known-good"
deploy_by_hand v1
assert_exit 0 "$CTL" deployed demo v1 --schema 42
assert_exit 0 "$CTL" mark-good demo v1
wait_state demo idle v1 5
assert_eq 42 "$(svc_field demo schema)" "schema after v1"
before=$(deploys_count)

step "v2-bad migrated irreversibly to schema 43, and is unhealthy"
deploy_by_hand v2-bad v1
assert_exit 0 "$CTL" deployed demo v2-bad --schema 43 --migration irreversible
assert_eq 43 "$(svc_field demo schema)" "schema after announcing v2-bad"
assert_eq 42 "$(svc_field demo schema_before)" "schema_before after announcing v2-bad"
assert_eq irreversible "$(svc_field demo migration)" "migration after announcing v2-bad"
wait_state demo held v2-bad 15

step "nothing was run"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq "deployed v2-bad" "$(deploys_after "$before")" "deploys after the bad release"
if [ -e "$SVC_DIR/migrate-calls.log" ]; then
	fail "migrate_down ran: $(cat "$SVC_DIR/migrate-calls.log")"
fi
assert_eq v2-bad "$(http_get /version)" "the live service's version"
assert_eq 43 "$(svc_field demo schema)" "schema while held"

step "the reason names both releases and both schemas"
reason=$(svc_field demo reason)
echo "reason: $reason"
assert_contains "$reason" "v2-bad" "held reason"
assert_contains "$reason" "v1" "held reason"
assert_contains "$reason" "42" "held reason"
assert_contains "$reason" "43" "held reason"
assert_contains "$reason" "irreversibl" "held reason"
assert_contains "$reason" "a person must decide" "held reason"
hist=$(history_lines demo)
echo "$hist"
assert_contains "$(echo "$hist" | head -n 1)" "|watching|held|v2-bad|" "newest history event"
assert_contains "$(echo "$hist" | head -n 1)" "irreversibl" "newest history event's reason"
assert_not_contains "$hist" "rolled-back|" "history"

step "held stays held: nothing is run for 6 intervals"
t_end=$(( $(now_ms) + 1500 ))
while [ "$(now_ms)" -lt "$t_end" ]; do
	state_is demo held || fail "left held: $(svc_field demo state)"
	sleep 0.1
done
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
if [ -e "$SVC_DIR/migrate-calls.log" ]; then
	fail "migrate_down ran: $(cat "$SVC_DIR/migrate-calls.log")"
fi

step "what a user sees: rollbackctl status"
assert_exit 0 "$CTL" status demo
echo "$OUT"
assert_contains "$OUT" "held" "status"
assert_contains "$OUT" "irreversibl" "status"
