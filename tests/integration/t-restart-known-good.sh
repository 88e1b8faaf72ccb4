#!/bin/sh
# Known-good releases survive a restart: a release promoted before a clean
# stop is still the known-good one after, and is what a bad release is
# rolled back to.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo duration=2s

step "v1 is announced and passes its window"
deploy_by_hand v1
assert_exit 0 "$CTL" deployed demo v1 --wait
wait_state demo idle v1 5
assert_eq v1 "$(svc_field demo known_good)" "known-good"

step "SIGTERM: a clean stop"
stop_daemon
assert_eq 0 "$DAEMON_RC" "rollbackd's exit status after SIGTERM"
[ -e "$SOCK" ] && fail "the socket $SOCK is left after a clean stop"
assert_exit 69 "$CTL" status
assert_contains "$ERR" "$SOCK" "unreachable message"

step "restart: v1 is still known-good"
start_daemon
assert_eq idle "$(svc_field demo state)" "state"
assert_eq v1 "$(svc_field demo live)" "live"
assert_eq v1 "$(svc_field demo known_good)" "known-good"
assert_contains "$(history_lines demo)" "promoted|watching|idle|v1" "history"

step "and a bad release goes back to it"
before=$(deploys_count)
deploy_by_hand v2-bad v1
assert_exit 0 "$CTL" deployed demo v2-bad
wait_state demo idle v1 15
assert_eq "deployed v2-bad
deployed v1" "$(deploys_after "$before")" "deploys after the bad release"
