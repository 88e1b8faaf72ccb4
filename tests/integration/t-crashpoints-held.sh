#!/bin/sh
# Crash points (issue 9), the ways into held: kill -9 of the daemon around
# rolling_back -> held (the rollback's deploy command fails) and
# verifying -> held (the rolled-back release is unhealthy too). After a
# restart the service is held, the hold recorded once, and a failed deploy
# is re-run only when its result was not recorded.
# Runs the test build: make crash-build.
RBD_BUILD=${1:-build}/crash
if [ ! -x "$RBD_BUILD/rollbackd" ]; then
	echo "t-crashpoints-held: $RBD_BUILD/rollbackd is missing (make crash-build)" >&2
	exit 1
fi
# shellcheck shell=dash
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=crashpoints.sh
. "$LIB_DIR/crashpoints.sh"

# The failed rollback recorded once, nothing verified.
one_failure() {
	assert_eq 1 "$(count_events degraded)" "degraded events in the history"
	assert_eq 1 "$(count_events rollback-failed)" "rollback-failed events"
	assert_eq 0 "$(count_events rolled-back)" "rolled-back events"
	assert_eq 0 "$(rbd_deploy_calls_ok)" "deploys that completed"
}

# Rolled back once, then held because v1 is unhealthy too: no second
# rollback (no ping-pong).
held_after_verify() {
	assert_eq 2 "$(count_events degraded)" "degraded events (watching, verifying)"
	assert_eq 1 "$(count_events rolled-back)" "rolled-back events"
	assert_eq 0 "$(count_events verified)" "verified events"
	local h
	h=$(history_lines demo)
	assert_eq held "$(printf '%s\n' "$h" | head -n 1 | cut -d'|' -f3)" \
	    "the newest event's state"
}

# Deploys by rollbackd that went through (deploys.log has the two by hand).
rbd_deploy_calls_ok() {
	deploys_after 2 | grep -c .
}

crash_setup
#          scenario        crash point                                      state live deploys check
crash_case rollback_fails 'action-started:degraded:watching>rolling_back'    held v2-bad '1|2' one_failure
crash_case rollback_fails 'deploy-done:failed:rolling_back>rolling_back'     held v2-bad 2 one_failure
crash_case rollback_fails 'before-commit:rollback-failed:rolling_back>held'   held v2-bad 2 one_failure
crash_case rollback_fails 'after-commit:rollback-failed:rolling_back>held'    held v2-bad 1 one_failure
crash_case target_bad     'before-commit:degraded:verifying>held'           held v1 1 held_after_verify
crash_case target_bad     'after-commit:degraded:verifying>held'            held v1 1 held_after_verify
echo "t-crashpoints-held: $CRASH_CASES crash points passed"
