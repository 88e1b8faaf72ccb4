#!/bin/sh
# A clean release is promoted after its window, and is the target of the
# next rollback.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo duration=2s
seed_good v1

step "v2 is healthy for its window: promoted"
deploy_by_hand v2 v1
assert_exit 0 "$CTL" deployed demo v2
assert_eq watching "$(svc_field demo state)" "state right after the announcement"
wait_state demo idle v2 10
assert_eq v2 "$(svc_field demo known_good)" "known-good after the window"
hist=$(history_lines demo)
assert_contains "$(echo "$hist" | head -n 1)" "promoted|watching|idle|v2" "newest history event"

step "v3-bad is rolled back to v2, not v1"
before=$(deploys_count)
deploy_by_hand v3-bad v2
assert_exit 0 "$CTL" deployed demo v3-bad
wait_state demo idle v2 15
assert_eq "deployed v3-bad
deployed v2" "$(deploys_after "$before")" "deploys after the bad release"
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq v2 "$(http_get /version)" "the live service's version"
assert_contains "$(history_lines demo)" "rolling back from v3-bad to v2" "history"
