#!/bin/sh
# A release failing fewer than fail_after samples in a row is not rolled
# back: "v2-flaky" fails every second request, fail_after is 2.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo fail_after=2 duration=3s
seed_good v1
before=$(deploys_count)

step "v2-flaky fails one sample in two, and is promoted"
deploy_by_hand v2-flaky v1
assert_exit 0 "$CTL" deployed demo v2-flaky --wait --json
echo "$OUT"
# The service did fail samples while it was watched: the test means something.
nfail=$(echo "$OUT" | grep -c '"event": *"sample"')
[ "$nfail" -ge 2 ] || fail "expected at least 2 failing samples in the --wait stream, got $nfail"
assert_not_contains "$OUT" '"fails": 2' "--wait stream (2 failures in a row)"
assert_contains "$(echo "$OUT" | tail -n 1)" '"promoted"' "verdict"

wait_state demo idle v2-flaky 5
assert_eq v2-flaky "$(svc_field demo known_good)" "known-good"
assert_eq "deployed v2-flaky" "$(deploys_after "$before")" "deploys (none by rollbackd)"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_not_contains "$(history_lines demo)" "degraded" "history"
