#!/bin/sh
# Crash points (issue 9), a pause: kill -9 of the daemon before and after
# the commit of a pause (idle, no state change).
# Before the commit the decision never happened and its client got an
# error, not an acknowledgement; after it, it is kept and carried out.
# Runs the test build: make crash-build.
RBD_BUILD=${1:-build}/crash
if [ ! -x "$RBD_BUILD/rollbackd" ]; then
	echo "t-crashpoints-pause: $RBD_BUILD/rollbackd is missing (make crash-build)" >&2
	exit 1
fi
# shellcheck shell=dash
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=crashpoints.sh
. "$LIB_DIR/crashpoints.sh"

not_paused() {
	client_refused
	assert_eq null "$(svc_json demo "['paused']")" "paused"
	assert_eq 0 "$(count_events paused)" "paused events"
}

paused() {
	assert_eq crashpoints "$(svc_json demo "['paused']['reason']")" "pause reason"
	assert_eq 1 "$(count_events paused)" "paused events"
}

crash_setup
#          scenario     crash point                                   state live deploys check                          policy
crash_case pause       'before-commit:paused:idle>idle'               idle v1 0 not_paused
crash_case pause       'after-commit:paused:idle>idle'                idle v1 0 paused
echo "t-crashpoints-pause: $CRASH_CASES crash points passed"
