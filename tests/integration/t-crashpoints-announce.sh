#!/bin/sh
# Crash points (issue 9), a release announced and promoted: kill -9 of the
# daemon before and after the commit of a deploy announced (idle ->
# watching) and of its promotion (watching -> idle).
# Before the commit the decision never happened and its client got an
# error, not an acknowledgement; after it, it is kept and carried out.
# Also: the production build has no crash points.
# Runs the test build: make crash-build.
PROD=${1:-build}/rollbackd
RBD_BUILD=${1:-build}/crash
if [ ! -x "$RBD_BUILD/rollbackd" ]; then
	echo "t-crashpoints-announce: $RBD_BUILD/rollbackd is missing (make crash-build)" >&2
	exit 1
fi
# shellcheck shell=dash
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=crashpoints.sh
. "$LIB_DIR/crashpoints.sh"

not_announced() {
	client_refused
	assert_eq 1 "$(count_events deployed)" "deployed events (the seed's v1)"
	history_lines demo | grep -q '^deployed|.*|v2|' &&
	    fail "v2's announcement is in the history though never acknowledged"
	assert_eq v1 "$(svc_field demo known_good)" "known-good"
}

promoted_once() {
	assert_eq 1 "$(history_lines demo | grep -c '^deployed|.*|v2|')" \
	    "v2's announcement in the history"
	assert_eq 1 "$(count_events promoted)" "promoted events"
	assert_eq v2 "$(svc_field demo known_good)" "known-good"
}

step "the production build ignores RBD_CRASHPOINT"
[ -x "$PROD" ] || fail "$PROD is missing"
if grep -q RBD_CRASHPOINT "$PROD"; then
	fail "$PROD mentions RBD_CRASHPOINT: built with crash points"
fi
grep -q RBD_CRASHPOINT "$RBD" || fail "$RBD has no crash points (make crash-build)"

crash_setup
#          scenario     crash point                                   state live deploys check                          policy
crash_case deploy_good 'before-commit:deployed:idle>watching'         idle v1 0 not_announced
crash_case deploy_good 'after-commit:deployed:idle>watching'          idle v2 0 promoted_once
crash_case deploy_good 'before-commit:promoted:watching>idle'         idle v2 0 promoted_once
crash_case deploy_good 'after-commit:promoted:watching>idle'          idle v2 0 promoted_once
echo "t-crashpoints-announce: $CRASH_CASES crash points passed"
