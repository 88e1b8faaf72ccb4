# shellcheck shell=dash
# Helpers for bench/run.sh and bench/peers.sh: sourced, with BUILD, BT (the
# run's private temporary directory) and ROOT set.
#
# Processes under test run on CPU $CPU_SUT and the target on $CPU_TARGET
# (taskset), so that "one core" means one core and the two never compete.
# Every figure comes from snapshots taken around a measured period:
#   snap_proc FILE PID...	"t_usec cpu_ticks rss_kib" of the processes
#				(utime + stime of /proc/PID/stat, all threads;
#				VmRSS of /proc/PID/status), summed
#   snap_target PREFIX		the target's /stats in PREFIX.target and its
#				own "t cpu rss" in PREFIX.tproc
# and bench/bench.py turns two snapshots into one JSON record.
# Waits are bounded polls, never open-ended.

CPU_SUT=${CPU_SUT:-0}
CPU_TARGET=${CPU_TARGET:-1}
if [ "$(nproc)" -lt 2 ] || ! command -v taskset >/dev/null 2>&1; then
	PIN_SUT=
	PIN_TARGET=
else
	PIN_SUT="taskset -c $CPU_SUT"
	PIN_TARGET="taskset -c $CPU_TARGET"
fi
# Debian's python3 when there is one: a version manager's shim in PATH
# can take half a second to start, and bench.py runs after every run.
PY=python3
[ ! -x /usr/bin/python3 ] || PY=/usr/bin/python3
# shellcheck disable=SC2034 # used by the scripts that source this one
BENCH_PY="$PY $ROOT/bench/bench.py"
RBD=$BUILD/rollbackd
CTL=$BUILD/rollbackctl
TARGET_BIN=$BUILD/bench/target
TPID=
TPORT=
# Pids this run started and must stop: "pid pid ...".
BENCH_PIDS=

now_usec() {
	date +%s%6N
}

# say TEXT: progress, on stderr so that a table on stdout stays clean.
say() {
	echo "== $*" >&2
}

# die MESSAGE: on the run's stderr (fd 9), also from inside a wait_until
# condition whose output is discarded.
die() {
	echo "bench: $*" >&9
	exit 1
}
exec 9>&2

# wait_until SECS CMD...: poll CMD every 50 ms until it succeeds; 1 after
# SECS seconds.
wait_until() {
	local end=$(( $(date +%s%3N) + $1 * 1000 ))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s%3N)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

free_port() {
	$PY -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- /proc

# cpu_ticks PID...: utime + stime of the processes, in clock ticks. The
# fields are counted after the ")" that ends comm, which may hold spaces.
cpu_ticks() {
	local t=0 p v
	for p in "$@"; do
		v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null |
		    awk '{ print $12 + $13 }') || v=0
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

rss_kib() {
	local t=0 p v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || v=0
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# ctxt_switches PID: voluntary + nonvoluntary context switches of every
# thread of the process: each is one wake-up (or preemption).
ctxt_switches() {
	cat /proc/"$1"/task/*/status 2>/dev/null |
	    awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s + 0 }'
}

# snap_proc FILE PID...
snap_proc() {
	local f=$1
	shift
	echo "$(now_usec) $(cpu_ticks "$@") $(rss_kib "$@")" >"$f"
}

# ---------------------------------------------------------------- target

# target_start: the loopback target on $CPU_TARGET; sets TPID and TPORT.
target_start() {
	rm -f "$BT/target.port" "$BT/target.pid"
	$PIN_TARGET "$TARGET_BIN" --port 0 --port-file "$BT/target.port" \
	    --pidfile "$BT/target.pid" >"$BT/target.out" 2>"$BT/target.err" &
	TPID=$!
	BENCH_PIDS="$BENCH_PIDS $TPID"
	wait_until 10 test -s "$BT/target.port" ||
		die "target did not start: $(cat "$BT/target.err")"
	TPORT=$(cat "$BT/target.port")
	TBASE=http://127.0.0.1:$TPORT
}

# tget PATH: the target's answer to GET PATH (fails on no answer in 5 s).
tget() {
	curl -sf -m 5 "$TBASE$1"
}

# snap_target PREFIX: PREFIX.target (/stats) and PREFIX.tproc.
snap_target() {
	tget /stats >"$1.target" || die "target /stats failed"
	snap_proc "$1.tproc" "$TPID"
}

# target_heal: every endpoint answers 200 again.
target_heal() {
	tget /ctl/reset >/dev/null || die "target /ctl/reset failed"
}

# ---------------------------------------------------------------- rollbackd

# rbd_dir NAME: a fresh directory $BT/NAME with a main config, an empty
# policies directory and a short socket path; prints it.
rbd_dir() {
	local d=$BT/$1
	rm -rf "$d"
	mkdir -p "$d/pol" "$d/state" "$d/run"
	cat >"$d/rbd.yaml" <<EOF
socket: $d/run/s
state_dir: $d/state
policies: $d/pol
EOF
	echo "$d"
}

# write_policy FILE SERVICE N FIRST INTERVAL [key=value...]: a policy with
# N http checks e<FIRST>..e<FIRST+N-1> on the target's /e/<i>. Keys:
# fail_after=3 timeout=500ms duration=1h verify=1h inconclusive_after=
# (default) deploy=ARGV (a YAML flow sequence, default ["/bin/true"]).
write_policy() {
	local _f=$1 _svc=$2 _n=$3 _first=$4 _iv=$5
	shift 5
	local _fa=3 _to=500ms _dur=1h _ver=1h _inc='' _dep='["/bin/true"]'
	local _extra='' _kv
	for _kv in "$@"; do
		case $_kv in
		fail_after=*) _fa=${_kv#*=} ;;
		timeout=*) _to=${_kv#*=} ;;
		duration=*) _dur=${_kv#*=} ;;
		verify=*) _ver=${_kv#*=} ;;
		inconclusive_after=*) _inc=${_kv#*=} ;;
		deploy=*) _dep=${_kv#*=} ;;
		extra=*) _extra=${_kv#*=} ;;
		*) die "write_policy: unknown key $_kv" ;;
		esac
	done
	{
		cat <<EOF
service: $_svc
deploy:
  command: $_dep
  timeout: 30s
rollback:
  max_automatic: 100
  per: 1m
watch:
  duration: $_dur
  interval: $_iv
  verify: $_ver
$_extra
checks:
EOF
		# Flow style, one check a line: 10,000 checks stay below the
		# loader's 1 MiB limit on a file.
		awk -v n="$_n" -v first="$_first" -v port="$TPORT" \
		    -v to="$_to" -v fa="$_fa" -v inc="$_inc" 'BEGIN {
			for (i = first; i < first + n; i++) {
				printf "  - {name: e%d, http: {url: \"http://127.0.0.1:%d/e/%d\", timeout: %s}", i, port, i, to
				if (fa != 3)
					printf ", fail_after: %s", fa
				if (inc != "")
					printf ", inconclusive_after: %s", inc
				printf "}\n"
			}
		}'
	} >"$_f"
}

# write_ping_policy DIR: the policy of "zz-ping", one check that is never
# announced, so never probed. "rollbackctl status zz-ping --json" is then
# a small reply that still carries the daemon-wide "schedule" object: the
# way to read it at any N (a full status of 10,000 checks is larger than
# the daemon's 1 MiB reply limit) and cheaply enough to poll during a
# measured period.
write_ping_policy() {
	cat >"$1/pol/zz-ping.yaml" <<EOF
service: zz-ping
deploy:
  command: ["/bin/true"]
checks:
  - {name: ping, http: {url: "http://127.0.0.1:$TPORT/e/0"}}
EOF
}

# rbd_start DIR: the daemon on $CPU_SUT with DIR's config, its log in
# DIR/log; sets RBD_PID and waits until it answers status.
rbd_start() {
	RBD_DIR=$1
	$PIN_SUT "$RBD" -c "$1/rbd.yaml" >"$1/log" 2>&1 &
	RBD_PID=$!
	BENCH_PIDS="$BENCH_PIDS $RBD_PID"
	wait_until 60 rbd_answers ||
		die "rollbackd did not answer within 60 s: $(tail -n 5 "$1/log")"
}

# Whether the daemon answers: status of a service it does not know is
# refused (4), quickly, whatever the size of the configuration. (A full
# status reply of 10,000 checks is larger than the daemon's 1 MiB reply
# limit: see bench/RESULTS.md.)
rbd_answers() {
	local rc=0
	kill -0 "$RBD_PID" 2>/dev/null || die "rollbackd exited: $(tail -n 5 "$RBD_DIR/log")"
	ctl status zz-ping >/dev/null 2>&1 || rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 4 ]
}

# ctl ARGS...: rollbackctl on the running daemon's socket, bounded by
# CTL_TIMEOUT seconds (default 30).
ctl() {
	timeout "${CTL_TIMEOUT:-30}" "$CTL" -s "$RBD_DIR/run/s" "$@"
}

# stop_pid PID: SIGTERM, up to 15 s, then SIGKILL; reaped.
stop_pid() {
	local n=0
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || true
	while kill -0 "$1" 2>/dev/null && [ "$n" -lt 300 ]; do
		# A zombie child is gone for our purposes: wait reaps it below.
		case $(ps -o stat= -p "$1" 2>/dev/null) in Z*) break ;; esac
		sleep 0.05
		n=$((n + 1))
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	BENCH_PIDS=$(echo "$BENCH_PIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
	return 0
}

rbd_stop() {
	stop_pid "$RBD_PID"
	RBD_PID=
}

# rbd_snap PREFIX start|end: a snapshot of the daemon and the target
# around a measured period. The daemon's schedule (status zz-ping) is read
# outside the measured period: before the counters at the start, after
# them at the end.
rbd_snap() {
	if [ "$2" = start ]; then
		sched_get "$1.status"
		snap_proc "$1.proc" "$RBD_PID"
		snap_target "$1"
	else
		snap_proc "$1.proc" "$RBD_PID"
		snap_target "$1"
		sched_get "$1.status"
	fi
}

# sched_get FILE: status zz-ping --json in FILE ({} when no answer within
# SCHED_TIMEOUT seconds, default 5, or CTL_TIMEOUT when that is set).
sched_get() {
	timeout "${SCHED_TIMEOUT:-5}" "$CTL" -s "$RBD_DIR/run/s" status zz-ping --json \
	    >"$1" 2>/dev/null || echo '{}' >"$1"
}

# measure_period DIR SECONDS: sleep through the measured period, reading
# the schedule every LAT_POLL seconds (default 2) into DIR/lat.jsonl. The
# daemon's lateness quantiles cover its last 4,096 ticks only (a window of
# 4096 / N seconds at N checks a second), so one reading at the end would
# see a fraction of the period; the polls see several windows. Reading it
# is cheap (a reply of one service) and the daemon computes the figures
# before it answers, so a poll does not show its own cost.
measure_period() {
	local end=$(( $(now_usec) + $2 * 1000000 )) left
	: >"$1/lat.jsonl"
	while :; do
		left=$(( end - $(now_usec) ))
		[ "$left" -gt 0 ] || break
		if [ "$left" -gt "${LAT_POLL:-2}000000" ]; then
			sleep "${LAT_POLL:-2}"
			sched_get "$1/lat.one"
			cat "$1/lat.one" >>"$1/lat.jsonl"
			echo >>"$1/lat.jsonl"
		else
			sleep "$(awk -v u="$left" 'BEGIN { printf "%.3f", u / 1e6 }')"
		fi
	done
}

# stop_all: every process this run started (the EXIT trap).
stop_all() {
	local p
	for p in $BENCH_PIDS; do
		stop_pid "$p"
	done
}
