# shellcheck shell=dash
# Crash points, table-driven: sourced by t-crashpoints-*.sh after lib.sh.
#
# Those tests run the test build ($BUILD/crash, "make crash-build"), whose
# daemon SIGKILLs itself where RBD_CRASHPOINT matches the point's key
# "POINT:EVENT:FROM>TO" (daemon/crashpoint.h). One case:
#
#   crash_case SCENARIO PATTERN STATE LIVE DEPLOYS [CHECK]
#
# starts from nothing (empty store, demo service stopped), seeds v1 as
# known-good with a daemon without crash points, restarts the daemon with
# RBD_CRASHPOINT=PATTERN, plays SCENARIO (a function, below) until the
# daemon dies at the point (the case fails if it does not, or dies
# elsewhere), restarts it without crash points, and checks that it ends in
# STATE with LIVE live, having started DEPLOYS deploy commands over both
# runs (a number, or "1|2": where the crash came while a deploy command
# was starting, it may die on its first write to the dead daemon's pipe
# before it notes itself in deploy-calls.log), then runs CHECK (a function;
# may fail). One line per case: "crash point KEY: ok, ...".

CRASH_CASES=0

# Start the test build with RBD_CRASHPOINT in its environment.
start_crashing_daemon() {
	RBD_CRASHPOINT=$1
	export RBD_CRASHPOINT
	start_daemon
	unset RBD_CRASHPOINT
}

# Whether no deploy command started by the dead daemon is left running.
no_deploy_running() {
	! pgrep -f "$DEPLOY --dir $SVC_DIR" >/dev/null 2>&1
}

# Back to nothing: no daemon, no demo service, no store, no logs.
reset_case() {
	local pid
	[ -n "$DAEMON_PID" ] && stop_daemon >/dev/null 2>&1
	wait_for "deploy commands to end" 15 no_deploy_running
	if [ -s "$SVC_DIR/demo.pid" ]; then
		pid=$(cat "$SVC_DIR/demo.pid")
		kill -TERM "$pid" 2>/dev/null
		wait_for "the demo service to stop" 10 not pid_alive "$pid"
	fi
	rm -rf "$STATE" "$SVC_DIR"
	mkdir -p "$STATE" "$SVC_DIR"
}

# The daemon is dead: reap it, and check it died at a point matching
# PATTERN (not of something else).
crashed_at() {
	local pattern=$1 line
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	line=$(grep '^rollbackd: crash point ' "$DLOG" | tail -n 1)
	[ -n "$line" ] || fail "rollbackd died, but not at a crash point"
	# shellcheck disable=SC2254 # PATTERN is a pattern
	case ${line#rollbackd: crash point } in
	$pattern) ;;
	*) fail "rollbackd died at '$line', not at '$pattern'" ;;
	esac
	CRASH_KEY=${line#rollbackd: crash point }
}

daemon_dead() {
	! pid_alive "$DAEMON_PID"
}

# ---------------------------------------------------------------- scenarios
# Each starts in idle(v1) with v1 live and known-good, and returns once it
# has done what should reach the crash point (the test then waits for it).

# A healthy release announced: deployed, then promoted.
scn_deploy_good() {
	deploy_by_hand v2 v1
	run "$CTL" deployed demo v2
}

# A bad release: degraded, rolled back, verified.
scn_deploy_bad() {
	deploy_by_hand v2-bad v1
	run "$CTL" deployed demo v2-bad
}

# A bad release whose rollback's deploy command fails: held.
scn_rollback_fails() {
	deploy_by_hand v2-bad v1
	touch "$SVC_DIR/deploy-fail"
	run "$CTL" deployed demo v2-bad
}

# A bad release whose rollback target is unhealthy too: verifying -> held.
scn_target_bad() {
	deploy_by_hand v2-bad v1
	echo "--fail-after-requests 0" > "$SVC_DIR/deploy-args"
	run "$CTL" deployed demo v2-bad
}

# A healthy release (in a long window) that an operator marks bad.
scn_mark_bad() {
	scn_deploy_good
	wait_state demo watching v2 10
	run "$CTL" mark-bad demo v2
}

# A healthy release (in a long window) that an operator marks good.
scn_mark_good() {
	scn_deploy_good
	wait_state demo watching v2 10
	run "$CTL" mark-good demo v2
}

# An operator pauses the service.
scn_pause() {
	run "$CTL" pause demo --reason crashpoints
}

# ---------------------------------------------------------------- checks

# count_events EVENT: how many EVENT entries the history has.
count_events() {
	history_lines demo | cut -d'|' -f1 | grep -cx -- "$1"
}

# ---------------------------------------------------------------- the case

# crash_case SCENARIO PATTERN STATE LIVE DEPLOYS [CHECK] [policy k=v ...]
crash_case() {
	local scn=$1 pattern=$2 want_state=$3 want_live=$4 want_deploys=$5
	local check=${6:-} t0 calls
	shift 5
	[ $# -gt 0 ] && shift
	t0=$(now_ms)
	CRASH_CASES=$((CRASH_CASES + 1))
	step "case $CRASH_CASES: $scn, crash at $pattern"
	reset_case
	write_policy demo "$PORT" "$@"
	start_daemon
	seed_good v1
	stop_daemon
	echo "=== case $CRASH_CASES: $scn, RBD_CRASHPOINT=$pattern" >> "$DLOG"
	start_crashing_daemon "$pattern"
	"scn_$scn"
	CTL_RC=$RC
	wait_for "rollbackd to crash at $pattern" 20 daemon_dead
	crashed_at "$pattern"
	echo "=== rollbackd crashed at $CRASH_KEY" >> "$DLOG"
	# What the dead daemon started lives on in its own session; let it end
	# (it may finish or die on the dead daemon's pipe), as a person who
	# restarts the daemon after a crash would find it.
	wait_for "the interrupted deploy to end" 15 no_deploy_running
	start_daemon
	wait_state demo "$want_state" "$want_live" 20
	calls=$(rbd_deploy_calls)
	case "|$want_deploys|" in
	*"|$calls|"*) ;;
	*) fail "deploy commands started by rollbackd (crash at $CRASH_KEY):" \
	    "expected $want_deploys, got $calls" ;;
	esac
	[ -n "$check" ] && "$check"
	stop_daemon
	echo "crash point $CRASH_KEY: ok: $want_state $want_live, $calls deploy" \
	    "command(s) started, $(( ($(now_ms) - t0) / 100 ))00 ms"
}

# Set up the tree for crash_case: a port, the config; the test build.
crash_setup() {
	PORT=$(free_port) || fail "no free port"
	write_config
}

# ---------------------------------------------------------------- checks
# What several of the t-crashpoints-* scripts check after a case.

# The client was told its request failed.
client_refused() {
	[ "$CTL_RC" -ne 0 ] || fail "rollbackctl exited 0 for a decision" \
	    "that was never recorded"
}

# One degradation, one rollback recorded, verified: whatever the crash.
one_rollback() {
	assert_eq 1 "$(count_events degraded)" "degraded events in the history"
	assert_eq 1 "$(count_events rolled-back)" "rolled-back events in the history"
	assert_eq 1 "$(count_events verified)" "verified events in the history"
	assert_eq v1 "$(http_get /version)" "the live service's version"
	assert_eq v1 "$(svc_field demo known_good)" "known-good"
	assert_eq v1 "$(tail -n 1 "$SVC_DIR/deploy-calls.log" | cut -d' ' -f1)" \
	    "the last deploy's release"
}
