#!/bin/sh
# A failing down-migration stops the rollback at held: migrate_down ran
# once and failed, the code was not rolled back (the deploy command never
# ran), the history says migration-failed, and the schema is still 43.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo extra="$(migrate_down_yaml)"

step "v1, on schema 42, is known-good"
deploy_by_hand v1
assert_exit 0 "$CTL" deployed demo v1 --schema 42
assert_exit 0 "$CTL" mark-good demo v1
wait_state demo idle v1 5
before=$(deploys_count)

step "v2-bad migrated reversibly to 43; the down-migration will fail"
touch "$SVC_DIR/migrate-fail"
deploy_by_hand v2-bad v1
assert_exit 0 "$CTL" deployed demo v2-bad --schema 43 --migration reversible
wait_state demo held v2-bad 20

step "migrate_down ran once and failed; the code was not rolled back"
assert_eq "from=43 to=42 service=demo version=v1" "$(cat "$SVC_DIR/migrate-calls.log" 2>&1)" \
    "migrate_down's runs (migrate-calls.log)"
assert_eq "deployed v2-bad" "$(deploys_after "$before")" "deploys.log after the bad release"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq v2-bad "$(http_get /version)" "the live service's version"
assert_eq 43 "$(svc_field demo schema)" "schema after the failed down-migration"
assert_eq false "$(svc_field demo migrating)" "migrating while held"

step "history and reason: migration-failed"
hist=$(history_lines demo)
echo "$hist"
newest=$(echo "$hist" | head -n 1)
assert_contains "$newest" "migration-failed|rolling_back|held|" "newest history event"
assert_contains "$newest" "exited with status 3" "migration-failed event's reason"
assert_not_contains "$hist" "migrated-down|" "history"
assert_not_contains "$hist" "rolled-back|" "history"
reason=$(svc_field demo reason)
echo "reason: $reason"
assert_contains "$reason" "exited with status 3" "held reason"
assert_contains "$reason" "migrate_down" "held reason"
assert_contains "$reason" "not rolled back" "held reason"
assert_contains "$reason" "v1" "held reason"

step "held stays held: nothing more is run for 6 intervals"
t_end=$(( $(now_ms) + 1500 ))
while [ "$(now_ms)" -lt "$t_end" ]; do
	state_is demo held || fail "left held: $(svc_field demo state)"
	sleep 0.1
done
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq 1 "$(wc -l < "$SVC_DIR/migrate-calls.log" | tr -d ' ')" "migrate_down runs"
assert_eq "deployed v2-bad" "$(deploys_after "$before")" "deploys.log after the bad release"
