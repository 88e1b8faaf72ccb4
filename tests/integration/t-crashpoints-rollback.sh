#!/bin/sh
# Crash points (issue 9), the start of a rollback: kill -9 of the daemon
# before and after the commit of watching -> rolling_back, while the
# rollback's deploy command starts, and after it ended before its result
# is recorded (the rest: t-crashpoints-verify). After a restart the rollback is neither forgotten nor
# started more often than the contract allows: it is re-run only when the
# crash came after its deploy command started and before its result was
# recorded (deploy commands are idempotent), and verified.
# Runs the test build: make crash-build.
RBD_BUILD=${1:-build}/crash
if [ ! -x "$RBD_BUILD/rollbackd" ]; then
	echo "t-crashpoints-rollback: $RBD_BUILD/rollbackd is missing (make crash-build)" >&2
	exit 1
fi
# shellcheck shell=dash
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=crashpoints.sh
. "$LIB_DIR/crashpoints.sh"

crash_setup
#          scenario    crash point                                  state live deploys check
crash_case deploy_bad 'before-commit:degraded:watching>rolling_back' idle v1 1 one_rollback
crash_case deploy_bad 'after-commit:degraded:watching>rolling_back'  idle v1 1 one_rollback
crash_case deploy_bad 'action-started:degraded:watching>rolling_back' idle v1 '1|2' one_rollback
crash_case deploy_bad 'deploy-done:ok:rolling_back>rolling_back'     idle v1 2 one_rollback
echo "t-crashpoints-rollback: $CRASH_CASES crash points passed"
