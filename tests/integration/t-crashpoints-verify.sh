#!/bin/sh
# Crash points (issue 9), the end of a rollback: kill -9 of the daemon
# before and after the commits of rolling_back -> verifying -> idle (the
# start: t-crashpoints-verify). After a restart the rollback is neither forgotten nor
# started more often than the contract allows: it is re-run only when the
# crash came after its deploy command started and before its result was
# recorded (deploy commands are idempotent), and verified.
# Runs the test build: make crash-build.
RBD_BUILD=${1:-build}/crash
if [ ! -x "$RBD_BUILD/rollbackd" ]; then
	echo "t-crashpoints-verify: $RBD_BUILD/rollbackd is missing (make crash-build)" >&2
	exit 1
fi
# shellcheck shell=dash
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=crashpoints.sh
. "$LIB_DIR/crashpoints.sh"

crash_setup
#          scenario    crash point                                  state live deploys check
crash_case deploy_bad 'before-commit:rolled-back:rolling_back>verifying' idle v1 2 one_rollback
crash_case deploy_bad 'after-commit:rolled-back:rolling_back>verifying' idle v1 1 one_rollback
crash_case deploy_bad 'before-commit:verified:verifying>idle'        idle v1 1 one_rollback
crash_case deploy_bad 'after-commit:verified:verifying>idle'         idle v1 1 one_rollback
echo "t-crashpoints-verify: $CRASH_CASES crash points passed"
