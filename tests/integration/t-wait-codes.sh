#!/bin/sh
# rollbackctl deployed --wait: exit 2 with the reason for a release that is
# rolled back, 0 for one that is promoted, 6 when --timeout elapses first.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo duration=2s
seed_good v1

step "--wait on a bad release: exit 2, the reason on stderr"
deploy_by_hand v2-bad v1
assert_exit 2 "$CTL" deployed demo v2-bad --wait
echo "stdout: $OUT"
echo "stderr: $ERR"
assert_contains "$ERR" "demo v2-bad was rolled back" "stderr"
assert_contains "$ERR" "healthz" "stderr"
assert_contains "$ERR" "rolling_back" "progress on stderr"
wait_state demo idle v1 15

step "--wait on a good release: exit 0"
deploy_by_hand v3 v1
assert_exit 0 "$CTL" deployed demo v3 --wait
echo "stdout: $OUT"
assert_contains "$OUT" "promoted" "stdout"
assert_eq v3 "$(svc_field demo known_good)" "known-good"

step "--wait --timeout shorter than the window: exit 6, the watch goes on"
deploy_by_hand v4 v3
assert_exit 6 "$CTL" deployed demo v4 --wait --timeout 500ms
assert_eq watching "$(svc_field demo state)" "state after the timeout"
wait_state demo idle v4 10
assert_eq v4 "$(svc_field demo known_good)" "known-good"
