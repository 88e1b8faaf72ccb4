#!/bin/sh
# A bad release whose schema migration is reversible is rolled back with the
# policy's migrate_down first, then the code: the schema goes down from 43
# to 42 before v1 is deployed, in that order, and the rollback is verified.
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

step "v2-bad migrated reversibly to schema 43, and is unhealthy"
deploy_by_hand v2-bad v1
assert_exit 0 "$CTL" deployed demo v2-bad --schema 43 --migration reversible
wait_state demo idle v1 20

step "migrate_down ran once, before the code's deploy"
assert_eq "deployed v2-bad
migrate_down 43 42
deployed v1" "$(deploys_after "$before")" "deploys.log after the bad release"
assert_eq "from=43 to=42 service=demo version=v1" "$(cat "$SVC_DIR/migrate-calls.log" 2>&1)" \
    "migrate_down's runs (migrate-calls.log)"
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_contains "$(cat "$SVC_DIR/deploy-calls.log")" "v1 from=v2-bad" "deploy-calls.log"
assert_eq v1 "$(http_get /version)" "the live service's version"
assert_eq 200 "$(http_status /healthz)" "healthz after the rollback"

step "status: back on v1 and schema 42"
assert_eq 42 "$(svc_field demo schema)" "schema after the rollback"
assert_eq none "$(svc_field demo migration)" "migration after the rollback"
assert_eq false "$(svc_field demo migrating)" "migrating after the rollback"
assert_eq v1 "$(svc_field demo known_good)" "known-good"

step "history: degraded, migrated-down, rolled-back, verified"
hist=$(history_lines demo)
echo "$hist"
assert_eq "verified rolled-back migrated-down degraded deployed" \
    "$(history_events demo 5)" "newest history events"
md=$(echo "$hist" | grep '^migrated-down|')
assert_contains "$md" "43" "migrated-down event"
assert_contains "$md" "42" "migrated-down event"
degraded=$(echo "$hist" | grep '^degraded|' | head -n 1)
assert_contains "$degraded" "v2-bad" "degraded event"
assert_contains "$degraded" "v1" "degraded event"
assert_contains "$degraded" "from 43 to 42" "degraded event (the schema goes down first)"
