#!/bin/sh
# A broken policy on SIGHUP is rejected: the reason is logged (file:line:col)
# and the old policy keeps acting. rollbackctl reload says the same.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo
seed_good v1
good_policy=$(cat "$POLICIES/demo.yaml")

step "break the policy (a misspelt key) and send SIGHUP"
sed 's/^    fail_after:/    fial_after:/' "$POLICIES/demo.yaml" > "$T/broken.yaml"
mv "$T/broken.yaml" "$POLICIES/demo.yaml"
"$RBD" -t -c "$CONF" >/dev/null 2>&1 && fail "rollbackd -t accepts the broken policy"
kill -HUP "$DAEMON_PID"
wait_for "the rejection in the log" 5 grep -q "demo.yaml:[0-9]*:[0-9]*:.*fial_after" "$DLOG"
grep "fial_after\|reload\|keep" "$DLOG"
daemon_alive || fail "rollbackd died on SIGHUP with a broken policy"
assert_exit 0 "$CTL" status demo

step "rollbackctl reload: rejected, with the errors"
assert_exit 4 "$CTL" reload
echo "$ERR"
assert_contains "$ERR" "fial_after" "reload's message"

step "the old policy still acts: a bad release is rolled back"
before=$(deploys_count)
deploy_by_hand v2-bad v1
assert_exit 0 "$CTL" deployed demo v2-bad
wait_state demo idle v1 15
assert_eq "deployed v2-bad
deployed v1" "$(deploys_after "$before")" "deploys after the bad release"

step "a fixed policy is taken on the next SIGHUP"
printf '%s\n' "$good_policy" | sed 's/^  duration: .*/  duration: 7s/' > "$POLICIES/demo.yaml"
kill -HUP "$DAEMON_PID"
assert_exit 0 "$CTL" reload
deploy_by_hand v3 v1
assert_exit 0 "$CTL" deployed demo v3
assert_contains "$(svc_field demo reason)" "7s" "the new policy's duration in the reason"
