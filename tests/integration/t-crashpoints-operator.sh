#!/bin/sh
# Crash points (issue 9), decisions that come from an operator: kill -9 of
# the daemon before and after the commit of mark-bad of the live release
# (watching -> rolling_back) and mark-good (watching -> idle); a pause is
# t-crashpoints-pause.
# Before the commit the decision never happened and its client got an
# error, not an acknowledgement; after it, it is kept and carried out.
# Runs the test build: make crash-build.
RBD_BUILD=${1:-build}/crash
if [ ! -x "$RBD_BUILD/rollbackd" ]; then
	echo "t-crashpoints-operator: $RBD_BUILD/rollbackd is missing (make crash-build)" >&2
	exit 1
fi
# shellcheck shell=dash
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=crashpoints.sh
. "$LIB_DIR/crashpoints.sh"

rolled_back_marked_bad() {
	assert_eq 1 "$(count_events degraded)" "degraded events"
	assert_eq 1 "$(count_events verified)" "verified events"
	assert_contains "$(history_lines demo | grep '^degraded|')" \
	    "marked bad by" "the degradation's reason"
	assert_eq v1 "$(http_get /version)" "the live service's version"
}

not_marked() {
	client_refused
	assert_eq 0 "$(count_events degraded)" "degraded events"
	assert_eq 1 "$(count_events marked-good)" "marked-good events (the seed's v1)"
	assert_eq v1 "$(svc_field demo known_good)" "known-good"
}

marked_good() {
	assert_eq v2 "$(svc_field demo known_good)" "known-good"
	assert_eq 0 "$(count_events promoted)" "promoted events"
}

crash_setup
#          scenario     crash point                                   state live deploys check                          policy
crash_case mark_bad    'before-commit:degraded:watching>rolling_back' watching v2 0 not_marked duration=60s
crash_case mark_bad    'after-commit:degraded:watching>rolling_back'  idle v1 1 rolled_back_marked_bad duration=60s
crash_case mark_good   'before-commit:marked-good:watching>idle'      watching v2 0 not_marked duration=60s
crash_case mark_good   'after-commit:marked-good:watching>idle'       idle v2 0 marked_good duration=60s
echo "t-crashpoints-operator: $CRASH_CASES crash points passed"
