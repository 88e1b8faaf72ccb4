#!/bin/sh
# An aborted drill: rollbackctl drill --abort while the drill verifies v1
# deploys v2 again at once; the drill's client exits 8 with the report. A
# drill in progress refuses another drill, a rollback and a deploy; a
# second abort and an abort without a drill are refused. Then a drill
# interrupted by kill -9 of the daemon is resumed after the restart and
# ends on v2.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo verify=30s
seed_good v1
deploy_by_hand v2 v1
assert_exit 0 "$CTL" deployed demo v2 --wait

phase_is() {
	[ "$(svc_json demo "['drill']['phase']")" = "$1" ]
}

step "no drill to abort"
run "$CTL" drill --abort demo
assert_eq 4 "$RC" "abort without a drill"
assert_contains "$ERR" "demo is not in a drill" "refusal"

step "start a drill; it verifies v1 for 30s"
"$CTL" drill demo > "$T/drill.out" 2> "$T/drill.err" &
drill_pid=$!
wait_for "the drill to verify v1" 10 phase_is verify-back
assert_eq v1 "$(http_get /version)" "v1 is live during the drill"

step "while drilling: drill, rollback, deployed are refused"
run "$CTL" drill demo
assert_eq 4 "$RC" "a second drill"
assert_contains "$ERR" "demo is already in a drill (verify-back, from v2 to v1 and back)" "refusal"
run "$CTL" rollback demo
assert_eq 4 "$RC" "rollback during a drill"
assert_contains "$ERR" "rollbackctl drill --abort demo), then roll back" "refusal"
run "$CTL" deployed demo v3
assert_eq 4 "$RC" "deployed during a drill"

step "abort: v2 is deployed again at once"
assert_exit 0 "$CTL" drill --abort demo
assert_contains "$OUT" "demo: drilling" "abort's reply"
run "$CTL" drill --abort demo
assert_eq 4 "$RC" "a second abort"
wait_for "the drill's client to exit" 20 not pid_alive "$drill_pid"
wait "$drill_pid"
rc=$?
cat "$T/drill.out"
assert_eq 8 "$rc" "drill exit code (aborted)"
assert_contains "$(cat "$T/drill.out")" "1. rollback to v1 (from v2): cut" "report: first step"
assert_contains "$(cat "$T/drill.out")" "verdict: aborted" "report: verdict"
assert_eq v2 "$(http_get /version)" "v2 is live again"
assert_eq idle "$(svc_field demo state)" "state"
assert_eq "drill-aborted drill-rolled-forward drill-abort-requested drill-rolled-back drill-started" \
    "$(history_events demo 5)" "drill events, newest first"
assert_contains "$(history_lines demo)" "drill aborted by uid " "who aborted"
assert_eq aborted "$(svc_json demo "['drill']['last']['result']")" "status"

step "kill -9 the daemon while a drill verifies v1: after the restart it ends on v2"
"$CTL" drill demo > /dev/null 2>&1 &
drill_pid=$!
wait_for "the drill to verify v1" 10 phase_is verify-back
crash_daemon
wait "$drill_pid" 2>/dev/null
sed -i 's/verify: 30s/verify: 1s/' "$POLICIES/demo.yaml"
start_daemon
wait_for "the drill to end" 20 state_is demo idle v2
assert_eq v2 "$(http_get /version)" "v2 is live after the resumed drill"
assert_eq passed "$(svc_json demo "['drill']['last']['result']")" "the resumed drill passed"
assert_eq "drill-passed drill-rolled-forward drill-verified" \
    "$(history_events demo 3)" "the resumed drill's events"
