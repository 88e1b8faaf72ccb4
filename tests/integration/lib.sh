# shellcheck shell=dash
# Helpers for the integration tests: sourced by each t-*.sh as
#
#   RBD_BUILD=${1:-build}              # the build directory
#   . "$(dirname "$0")/lib.sh"
#
# Each test gets a private temporary directory $T holding the main config,
# the policies, the state, the control socket, the daemon's log and the demo
# service's state (pidfiles, deploys.log). Waits are bounded polls
# (wait_for), never fixed sleeps. On exit, whatever happened, the daemon and
# every demo-service are stopped, the test fails if any other process that
# mentions $T is left behind, and $T is removed.
#
# The demo service's state directory $SVC_DIR holds, from tests/demo/deploy:
#   deploys.log       "deployed V", one line per completed deploy (by hand
#                     or by rollbackd)
#   deploy-calls.log  one line per deploy started by rollbackd:
#                     "V from=F reason=..."
#   deploy-env.last   the environment rollbackd gave the last deploy
#   deploy-fail, deploy-hang, deploy-slow, deploy-args: faults to inject

set -u

LIB_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$LIB_DIR/../.." && pwd)
BUILD=${RBD_BUILD:-build}
if ! BUILD=$(cd "$BUILD" 2>/dev/null && pwd); then
	echo "lib.sh: build directory '${RBD_BUILD:-build}' not found" >&2
	exit 1
fi
RBD=$BUILD/rollbackd
CTL=$BUILD/rollbackctl
DEMO=$BUILD/demo-service
DEPLOY=$ROOT/tests/demo/deploy
TEST_NAME=$(basename "$0" .sh)

for f in "$RBD" "$CTL" "$DEMO"; do
	if [ ! -x "$f" ]; then
		echo "lib.sh: $f is missing (make build-all)" >&2
		exit 1
	fi
done

# Short, so that the socket path stays far below the 108-byte limit.
T=$(mktemp -d /tmp/rbd-it.XXXXXX) || exit 1
chmod 0700 "$T"
CONF=$T/rollbackd.yaml
POLICIES=$T/policies.d
STATE=$T/state
SOCK=$T/run/rbd.sock
DLOG=$T/rollbackd.log
SVC_DIR=$T/svc
mkdir -p "$POLICIES" "$STATE" "$T/run" "$SVC_DIR"
chmod 0700 "$T/run"
: > "$DLOG"
export ROLLBACKD_SOCKET="$SOCK"
DAEMON_PID=
FAILED_MSG=
# Functions that cleanup calls first, before it stops the daemon and looks
# for processes left behind: helpers that start other servers (prom.sh)
# add their stop function here with add_cleanup.
CLEANUP_HOOKS=
# fail() reports on fd 3, the test's output, even from inside a wait_for
# condition whose output is discarded.
exec 3>&1

# ---------------------------------------------------------------- reporting

# Tail of the daemon's log, for failure messages.
daemon_log_tail() {
	echo "--- rollbackd log (last ${1:-40} lines of $DLOG):"
	tail -n "${1:-40}" "$DLOG" 2>/dev/null | sed 's/^/    /'
	echo "---"
}

# Fail the test: the message, what status says, the daemon's log; exit 1.
fail() {
	_fail "$@" >&3 2>&1
	exit 1
}
_fail() {
	FAILED_MSG=$*
	echo "FAIL: $TEST_NAME: $*"
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		echo "--- rollbackctl status --json:"
		timeout 3 "$CTL" status --json 2>&1 | sed 's/^/    /'
	fi
	if [ -s "$SVC_DIR/deploys.log" ]; then
		echo "--- deploys.log:"
		sed 's/^/    /' "$SVC_DIR/deploys.log"
	fi
	daemon_log_tail 60
}

# A step of the test, for the log.
step() {
	echo "== $TEST_NAME: $*"
}

# ---------------------------------------------------------------- asserts

assert_eq() {	# EXPECTED ACTUAL [WHAT]
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}

assert_contains() {	# HAYSTACK NEEDLE [WHAT]
	case $1 in
	*"$2"*) ;;
	*) fail "${3:-output}: expected to contain '$2', got: $1" ;;
	esac
}

assert_not_contains() {	# HAYSTACK NEEDLE [WHAT]
	case $1 in
	*"$2"*) fail "${3:-output}: expected not to contain '$2', got: $1" ;;
	esac
}

# assert_exit CODE CMD...: run CMD, its stdout in $OUT and stderr in $ERR;
# fail unless it exits with CODE. CODE may be a list: "4|64".
assert_exit() {
	local want="$1" got
	shift
	run "$@"
	got=$RC
	case "|$want|" in
	*"|$got|"*) ;;
	*) fail "'$*' exited $got, expected $want; stdout: $OUT; stderr: $ERR" ;;
	esac
}

# run CMD...: stdout in $OUT, stderr in $ERR, status in $RC; never fails.
# Bounded by $RUN_TIMEOUT seconds (default 30): status 124 when it took
# longer, so a client that blocks for ever fails the test, not the suite.
run() {
	timeout "${RUN_TIMEOUT:-30}" "$@" > "$T/.out" 2> "$T/.err"
	RC=$?
	[ $RC -eq 124 ] && echo "(timed out after ${RUN_TIMEOUT:-30}s: $*)" >> "$T/.err"
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
}

# ---------------------------------------------------------------- time, waits

# not CMD...: succeeds when CMD fails (for wait_for).
not() {
	! "$@"
}

now_ms() {
	date +%s%3N
}

# wait_for DESC TIMEOUT_SECS CMD...: poll CMD every 50 ms until it succeeds;
# fail with DESC and the daemon's log after TIMEOUT_SECS.
wait_for() {
	local desc="$1" secs="$2" deadline
	shift 2
	deadline=$(( $(now_ms) + secs * 1000 ))
	while :; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		if [ "$(now_ms)" -ge "$deadline" ]; then
			fail "timed out after ${secs}s waiting for: $desc"
		fi
		sleep 0.05
	done
}

# A free TCP port on 127.0.0.1 (bound then released by the kernel's choice).
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- config

# The main config: private socket, state and policies.
write_config() {
	cat > "$CONF" <<EOF
socket: $SOCK
state_dir: $STATE
policies: $POLICIES
EOF
}

# write_policy SERVICE PORT [key=value ...]: a policy for the demo service on
# PORT, deployed with tests/demo/deploy. Keys and defaults: interval=250ms
# duration=3s warmup=0s verify=2s fail_after=3 timeout=200ms
# deploy_timeout=10s; extra=TEXT is appended verbatim (to break the file).
write_policy() {
	local svc="$1" port="$2" interval=250ms duration=3s warmup=0s verify=2s
	local fail_after=3 timeout=200ms deploy_timeout=10s extra='' kv
	shift 2
	for kv in "$@"; do
		case $kv in
		interval=*) interval=${kv#*=} ;;
		duration=*) duration=${kv#*=} ;;
		warmup=*) warmup=${kv#*=} ;;
		verify=*) verify=${kv#*=} ;;
		fail_after=*) fail_after=${kv#*=} ;;
		timeout=*) timeout=${kv#*=} ;;
		deploy_timeout=*) deploy_timeout=${kv#*=} ;;
		extra=*) extra=${kv#*=} ;;
		*) echo "write_policy: unknown key $kv" >&2; exit 1 ;;
		esac
	done
	cat > "$POLICIES/$svc.yaml" <<EOF
# $TEST_NAME: the demo service on port $port.
service: $svc
deploy:
  command:
    - $DEPLOY
    - --dir
    - $SVC_DIR
    - --port
    - "$port"
    - --service
    - "{service}"
    - --version
    - "{version}"
    - --from
    - "{from_version}"
    - --bin
    - $DEMO
  timeout: $deploy_timeout
watch:
  duration: $duration
  interval: $interval
  warmup: $warmup
  verify: $verify
checks:
  - name: healthz
    http:
      url: "http://127.0.0.1:$port/healthz"
      timeout: $timeout
    fail_after: $fail_after
$extra
EOF
}

# ---------------------------------------------------------------- processes

# Start rollbackd in the background, its stderr (and stdout) appended to
# $DLOG, and wait until it answers status. RBD_IT_MARKER is put in its
# environment to check that deploy commands do not inherit it.
start_daemon() {
	echo "=== rollbackd started by $TEST_NAME" >> "$DLOG"
	RBD_IT_MARKER=inherited "$RBD" -c "$CONF" >> "$DLOG" 2>&1 &
	DAEMON_PID=$!
	wait_for "rollbackd to answer on $SOCK" 10 daemon_answers
}

daemon_answers() {
	kill -0 "$DAEMON_PID" 2>/dev/null || fail "rollbackd exited at start"
	timeout 5 "$CTL" status >/dev/null 2>&1
}

daemon_alive() {
	[ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null
}

# Stop rollbackd with SIGTERM; its exit status in $DAEMON_RC. Bounded: it
# has the runner's grace period (5 s) for children, then it is killed.
stop_daemon() {
	local n=0
	DAEMON_RC=
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	while kill -0 "$DAEMON_PID" 2>/dev/null && [ $n -lt 240 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	if kill -0 "$DAEMON_PID" 2>/dev/null; then
		echo "rollbackd did not stop within 12 s of SIGTERM; killing it"
		kill -KILL "$DAEMON_PID" 2>/dev/null
	fi
	wait "$DAEMON_PID"
	# shellcheck disable=SC2034 # for the tests
	DAEMON_RC=$?
	DAEMON_PID=
}

# kill -9 the daemon, as a crash would.
crash_daemon() {
	kill -KILL "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	echo "=== rollbackd killed with SIGKILL by $TEST_NAME" >> "$DLOG"
}

# Whether a process with this pid is running. A zombie is not: orphans
# wait for init to reap them, which some inits (containers) do slowly.
pid_alive() {
	case $(ps -o stat= -p "$1" 2>/dev/null) in
	''|Z*) return 1 ;;
	esac
	return 0
}

# Whether any process (not a zombie) is in session $1 (rollbackd starts each
# deploy in a session of its own: its pid is the session id).
session_alive() {
	ps -e -o sid=,stat= |
	    awk -v s="$1" '$1 == s && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# deploy_by_hand VERSION [FROM]: what a user's deploy script does.
deploy_by_hand() {
	"$DEPLOY" --dir "$SVC_DIR" --port "$PORT" --service demo \
	    --version "$1" --from "${2:-}" --bin "$DEMO" >> "$T/deploy-by-hand.log" 2>&1 ||
		fail "deploy by hand of $1 failed: $(tail -n 5 "$T/deploy-by-hand.log")"
}

# The demo service's answers.
http_get() {	# PATH: the body; fails on no answer within 2 s
	curl -s -m 2 "http://127.0.0.1:$PORT$1"
}
http_status() {	# PATH: the status code ("000" for none)
	curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$1"
}

# ---------------------------------------------------------------- state

# json_get EXPR: read one JSON object from stdin as d, print eval(EXPR):
# strings as they are, anything else as JSON (null, true, 3, [...]).
json_get() {
	python3 -c 'import json, sys
d = json.loads(sys.stdin.readline())
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

# svc_field SERVICE FIELD: one field of the service in status --json.
svc_field() {
	timeout 5 "$CTL" status "$1" --json 2>/dev/null |
	    json_get "[s for s in d['services'] if s['service'] == '$1'][0]['$2']" 2>/dev/null
}

# state_is SERVICE STATE [LIVE]: whether status shows that.
state_is() {
	local st live
	st=$(svc_field "$1" state) || return 1
	[ "$st" = "$2" ] || return 1
	[ $# -lt 3 ] && return 0
	live=$(svc_field "$1" live) || return 1
	[ "$live" = "$3" ]
}

# wait_state SERVICE STATE [LIVE] [TIMEOUT]
wait_state() {
	local what="$1 $2${3:+ with $3 live}"
	wait_for "$what" "${4:-15}" state_is "$1" "$2" ${3:+"$3"}
}

# history_lines SERVICE: the history, newest first, one event a line:
# "event|from|to|release|target|actor|reason".
history_lines() {
	timeout 5 "$CTL" history "$1" --json --limit 1000 |
	    python3 -c 'import json, sys
d = json.loads(sys.stdin.readline())
for e in d["events"]:
    print("|".join("" if e.get(k) is None else str(e.get(k)) for k in
        ("event", "from", "to", "release", "target", "actor", "reason")))'
}

# count_lines FILE LINE: how many lines of FILE are exactly LINE (0 if no file).
count_lines() {
	if [ -f "$1" ]; then
		grep -cxF -- "$2" "$1"
	else
		echo 0
	fi
}

# Lines of deploys.log after the first N.
deploys_after() {
	tail -n "+$(($1 + 1))" "$SVC_DIR/deploys.log" 2>/dev/null
}
deploys_count() {
	if [ -f "$SVC_DIR/deploys.log" ]; then
		wc -l < "$SVC_DIR/deploys.log" | tr -d ' '
	else
		echo 0
	fi
}
rbd_deploy_calls() {	# how many deploys rollbackd started
	if [ -f "$SVC_DIR/deploy-calls.log" ]; then
		wc -l < "$SVC_DIR/deploy-calls.log" | tr -d ' '
	else
		echo 0
	fi
}

# ---------------------------------------------------------------- scenarios

# setup_demo [policy key=value ...]: config, policy for "demo" on a free
# port ($PORT), the daemon running.
setup_demo() {
	PORT=$(free_port) || fail "no free port"
	write_config
	write_policy demo "$PORT" "$@"
	start_daemon
}

# seed_good V: deploy V by hand, announce it and mark it good: idle(V).
seed_good() {
	deploy_by_hand "$1"
	assert_exit 0 "$CTL" deployed demo "$1"
	assert_exit 0 "$CTL" mark-good demo "$1"
	wait_state demo idle "$1" 5
	assert_eq "$1" "$(svc_field demo known_good)" "known-good after mark-good"
}

# ---------------------------------------------------------------- cleanup

# add_cleanup FUNCTION: call FUNCTION (no arguments) at the start of
# cleanup; it must not exit.
add_cleanup() {
	CLEANUP_HOOKS="$CLEANUP_HOOKS $1"
}

cleanup() {
	local rc=$? left n=0 f h
	trap - EXIT INT TERM HUP
	for h in $CLEANUP_HOOKS; do
		"$h"
	done
	if [ -n "$DAEMON_PID" ]; then
		stop_daemon >/dev/null 2>&1
	fi
	for f in "$SVC_DIR"/*.pid; do
		[ -s "$f" ] || continue
		case $f in *deploy-*.pid) continue ;; esac
		kill -TERM "$(cat "$f")" 2>/dev/null
	done
	# Anything else that mentions $T (a deploy, a demo-service without a
	# pidfile, a daemon) must be gone by now, or soon: it was left behind.
	while left=$(pgrep -f "$T") && [ $n -lt 100 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	if [ -n "$left" ]; then
		echo "FAIL: $TEST_NAME: processes left behind:"
		# shellcheck disable=SC2086 # a list of pids
		ps -o pid,sid,args -p "$(echo $left | tr ' ' ',')" 2>&1 | sed 's/^/    /'
		# shellcheck disable=SC2086
		kill -KILL $left 2>/dev/null
		rc=1
	fi
	if [ $rc -ne 0 ] && [ -z "$FAILED_MSG" ]; then
		daemon_log_tail 60
	fi
	if [ -n "${RBD_IT_KEEP:-}" ] && [ $rc -ne 0 ]; then
		echo "(kept $T)"
	else
		rm -rf "$T"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT HUP
trap 'exit 143' TERM

# ---------------------------------------------------------------- issue 6
# (appended: helpers for the tests of guards, migrations, the loop breaker
# and dry-run)

MIGRATE=$ROOT/tests/demo/migrate

# svc_json SERVICE SUBSCRIPTS: a nested field of the service in status
# --json, SUBSCRIPTS a chain of Python subscripts, e.g.
# "['automatic_rollbacks']['count']" or "['guards'][0]['failing']".
svc_json() {
	timeout 5 "$CTL" status "$1" --json 2>/dev/null |
	    json_get "[s for s in d['services'] if s['service'] == '$1'][0]$2" 2>/dev/null
}

# history_events SERVICE [N]: the names of the newest N events (default
# all), newest first, on one line separated by spaces.
history_events() {
	local h
	# Not history_lines | head: a reader that stops early breaks its pipe.
	h=$(history_lines "$1") || return 1
	printf '%s\n' "$h" | cut -d'|' -f1 | head -n "${2:-1000}" | tr '\n' ' ' |
	    sed 's/ $//'
}

# migrate_down_yaml: a policy's migrate_down section running
# tests/demo/migrate in $SVC_DIR (for write_policy's extra=).
migrate_down_yaml() {
	cat <<YAML
migrate_down:
  command:
    - $MIGRATE
    - --dir
    - $SVC_DIR
    - --from
    - "{from_schema}"
    - --to
    - "{to_schema}"
    - --service
    - "{service}"
    - --version
    - "{version}"
  timeout: 10s
YAML
}
