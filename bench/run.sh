#!/bin/sh
# The benchmarks of issue 7, as "make bench" runs them: sh bench/run.sh BUILD
#
# Every section runs real processes on loopback: the target (bench/target,
# one libevent process answering /e/<i>) on one core, and the system under
# test (rollbackd, the floors, monit) pinned to the other, so that "one
# core" means one core (Prometheus + blackbox_exporter run on any core:
# see bench/peers.sh). Prints the tables and writes them, with the
# machine, date, commit and every command, to $RESULTS (bench/RESULTS.md).
# Each section runs in a subshell that stops what it started; one that
# fails is reported and the others still run; the exit status is then 1.
#
#   scrape     a scrape check's cost, 500-series page (bench/scrape.sh)
#   engine     N http checks at 1 s: rollbackd (the real daemon, one policy
#              of N checks, a release being watched), bench/curl_floor
#              (keep-alive and --fresh) and bench/raw_floor, interleaved run
#              by run so that each ratio is measured in the same run
#   peers      monit, Prometheus + blackbox_exporter (bench/peers.sh)
#   isolation  rollbackd, ISO_N checks: lateness with 0, then with ISO_HANG
#              endpoints hanging
#   detection  rollbackd, DETECT_N healthy checks: one endpoint flipped to
#              failing at a random moment, DETECT_COUNT times
#   startup    exec to READY=1 and to the first status, START_POLICIES
#              policies of one check
#   idle       wake-ups per second with those policies and nothing watched
#   overload   rollbackd driven past its capacity (OVER_SPECS)
#
# Knobs (defaults are the record's; BENCH_SMOKE=1 changes them to a smoke
# size that runs in well under 30 s, prints only and writes no RESULTS.md):
#   SECTIONS="scrape engine peers isolation detection startup idle overload"
#   SIZES="1000 5000 10000"  RUNS=3 (rollbackd, curl_floor keep-alive)
#   WARMUP=3  MEASURE=20  LAT_POLL=2
#   FLOOR_RUNS=1 (raw_floor)  FRESH_RUNS=$FLOOR_RUNS (curl_floor --fresh)
#   MONIT_SIZES="1000 5000 10000"  PROM_SIZES="1000 5000"  PEER_RUNS=1
#   ISO_N=5000 ISO_HANG=10 ISO_MEASURE=$MEASURE  DETECT_N=1000 DETECT_COUNT=30
#   START_POLICIES=1000 START_RUNS=3  IDLE_SECONDS=10
#   OVER_SPECS="10000x500ms 10000x200ms" (checks x interval, one or more)
#   OVER_SECONDS=10 (to say so) OVER_MEASURE=10 OVER_STALL=0 OVER_CTL_TIMEOUT=5
#   RESULTS=bench/RESULTS.md  BENCH_KEEP=1 (keep the temporary directory)
#   CPU_SUT=0 CPU_TARGET=1  PROM_PIN=0  SCHED_TIMEOUT=5
#   and bench/scrape.sh's SCRAPE_* knobs.
set -eu

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

SMOKE=${BENCH_SMOKE:-}
if [ -n "$SMOKE" ]; then
	: "${SECTIONS:=scrape engine isolation detection startup idle overload}"
	: "${SIZES:=200}" "${RUNS:=1}" "${FLOOR_RUNS:=1}" "${FRESH_RUNS:=0}" "${WARMUP:=1}" "${MEASURE:=2}"
	: "${ISO_N:=200}" "${ISO_HANG:=2}" "${ISO_MEASURE:=1}"
	: "${DETECT_N:=50}" "${DETECT_COUNT:=1}"
	: "${START_POLICIES:=50}" "${START_RUNS:=1}" "${IDLE_SECONDS:=1}"
	: "${OVER_SPECS:=200x100ms}" "${OVER_STALL:=1}" "${OVER_SECONDS:=2}" "${OVER_MEASURE:=1}" "${OVER_CTL_TIMEOUT:=2}"
	: "${SCRAPE_RUNS:=1}" "${SCRAPE_WARMUP:=1}" "${SCRAPE_MEASURE:=1}"
	: "${SCRAPE_SIZES:=}" "${SCRAPE_FETCH_SIZES:=}"
	: "${SCRAPE_MICRO_RUNS:=1}" "${SCRAPE_MICRO_ITERS:=100}"
	export SCRAPE_RUNS SCRAPE_WARMUP SCRAPE_MEASURE SCRAPE_SIZES \
	    SCRAPE_FETCH_SIZES SCRAPE_MICRO_RUNS SCRAPE_MICRO_ITERS
fi
SECTIONS=${SECTIONS:-scrape engine peers isolation detection startup idle overload}
SIZES=${SIZES:-1000 5000 10000}
RUNS=${RUNS:-3}
# The floors other than curl_floor keep-alive (the one a target is held
# against) and the peers get one run by default: with three of each the
# whole run would take well over 25 minutes.
FLOOR_RUNS=${FLOOR_RUNS:-1}
FRESH_RUNS=${FRESH_RUNS:-$FLOOR_RUNS}
WARMUP=${WARMUP:-3}
MEASURE=${MEASURE:-20}
MONIT_SIZES=${MONIT_SIZES-1000 5000 10000}
PROM_SIZES=${PROM_SIZES-1000 5000}
PEER_RUNS=${PEER_RUNS:-1}
ISO_N=${ISO_N:-5000}
ISO_HANG=${ISO_HANG:-10}
ISO_MEASURE=${ISO_MEASURE:-$MEASURE}
DETECT_N=${DETECT_N:-1000}
DETECT_COUNT=${DETECT_COUNT:-30}
START_POLICIES=${START_POLICIES:-1000}
START_RUNS=${START_RUNS:-3}
IDLE_SECONDS=${IDLE_SECONDS:-10}
OVER_SPECS=${OVER_SPECS:-10000x500ms 10000x200ms}
OVER_SECONDS=${OVER_SECONDS:-10}
OVER_MEASURE=${OVER_MEASURE:-10}
OVER_STALL=${OVER_STALL:-0}
OVER_CTL_TIMEOUT=${OVER_CTL_TIMEOUT:-5}
RESULTS=${RESULTS:-bench/RESULTS.md}
# Fewer runs than rollbackd's, where the defaults take them, for RESULTS.md.
RUNS_NOTE=
if [ "$FRESH_RUNS" -lt "$RUNS" ] || [ "$FLOOR_RUNS" -lt "$RUNS" ] || [ "$PEER_RUNS" -lt "$RUNS" ]; then
	RUNS_NOTE="rollbackd and curl_floor (keep-alive): $RUNS runs at each N; curl_floor --fresh: $FRESH_RUNS; raw_floor: $FLOOR_RUNS; each peer at each N: $PEER_RUNS; fewer than $RUNS where the whole run would otherwise take well over 25 minutes"
fi

BT=$(mktemp -d /tmp/rbd-bench.XXXXXX)
REC=$BT/records.jsonl
: >"$REC"
. "$ROOT/bench/lib.sh"
. "$ROOT/bench/scrape.sh"
. "$ROOT/bench/peers.sh"
trap 'stop_all; [ -n "${BENCH_KEEP:-}" ] && echo "bench: kept $BT" >&2 || rm -rf "$BT"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

has() {
	case " $SECTIONS " in *" $1 "*) return 0 ;; esac
	return 1
}

for f in "$RBD" "$CTL" "$TARGET_BIN" "$BUILD/bench/curl_floor" "$BUILD/bench/raw_floor"; do
	[ -x "$f" ] || die "$f is not built (make BUILD=$BUILD bench builds it)"
done
[ "$(ulimit -n)" -ge 12000 ] 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------- engine

# rbd_measure DIR SECTION N RUN INTERVAL_MS SECONDS [key=value...]: a
# measured period of SECONDS of a daemon already started and watching
# "bench": snapshots, the schedule polled, the last history event; a
# record in $REC.
rbd_measure() {
	local d=$1 section=$2 n=$3 run=$4 ivms=$5 secs=$6
	shift 6
	rbd_snap "$d/a" start
	measure_period "$d" "$secs"
	rbd_snap "$d/b" end
	timeout 10 "$CTL" -s "$RBD_DIR/run/s" history bench --json --limit 1 \
	    >"$d/hist.json" 2>/dev/null || echo '{}' >"$d/hist.json"
	$BENCH_PY engine rollbackd "$n" "$run" "$ivms" "$d" "$section" "$@" >"$d/rec" ||
		die "bench.py engine failed"
	cat "$d/rec" >>"$REC"
	$BENCH_PY brief <"$d/rec"
}

# rbd_engine N RUN: one measured run of the daemon with one policy of N
# http checks (fail_after 3, timeout 500ms, 1 s interval), the release
# announced so that they are probed.
rbd_engine() {
	local _d
	_d=$(rbd_dir engine)
	write_policy "$_d/pol/bench.yaml" bench "$1" 1 1s
	write_ping_policy "$_d"
	rbd_start "$_d"
	ctl deployed bench v1 >/dev/null || die "deployed failed"
	sleep "$WARMUP"
	rbd_measure "$_d" engine "$1" "$2" 1000 "$MEASURE"
	rbd_stop
}

# floor_run PROGRAM N RUN [--fresh]: one run of a floor program.
floor_run() {
	local _prog _n _r _d _sys _rc
	_prog=$1 _n=$2 _r=$3
	shift 3
	_d=$BT/floor
	rm -rf "$_d"
	mkdir -p "$_d"
	_sys=$_prog
	[ "${1:-}" = --fresh ] && _sys=${_prog}_fresh
	snap_target "$_d/a"
	_rc=0
	# shellcheck disable=SC2086 # PIN_SUT: a command and its arguments, or nothing
	timeout $((WARMUP + MEASURE + 60)) $PIN_SUT "$BUILD/bench/$_prog" --url "$TBASE" \
	    --n "$_n" --interval-ms 1000 --seconds "$MEASURE" --warmup "$WARMUP" "$@" \
	    >"$_d/out" 2>"$_d/err" || _rc=$?
	snap_target "$_d/b"
	# 3: the run completed with errors; the line says how many.
	[ "$_rc" = 0 ] || [ "$_rc" = 3 ] ||
		die "$_prog --n $_n $* exited $_rc: $(cat "$_d/err")"
	$BENCH_PY floor "$_sys" "$_n" "$_r" "$_d/out" "$_d" >"$_d/rec" ||
		die "bench.py floor failed"
	cat "$_d/rec" >>"$REC"
	$BENCH_PY brief <"$_d/rec"
}

engine_section() {
	local _r _n
	_r=1
	while [ "$_r" -le "$RUNS" ]; do
		for _n in $SIZES; do
			say "engine: rollbackd, N=$_n, run $_r of $RUNS (${WARMUP}s warm-up, ${MEASURE}s measured)"
			rbd_engine "$_n" "$_r"
			say "engine: curl_floor keep-alive, N=$_n, run $_r"
			floor_run curl_floor "$_n" "$_r"
			if [ "$_r" -le "$FRESH_RUNS" ]; then
				say "engine: curl_floor --fresh, N=$_n, run $_r"
				floor_run curl_floor "$_n" "$_r" --fresh
			fi
			if [ "$_r" -le "$FLOOR_RUNS" ]; then
				say "engine: raw_floor, N=$_n, run $_r"
				floor_run raw_floor "$_n" "$_r"
			fi
		done
		_r=$((_r + 1))
	done
}

peers_section() {
	local _r _n
	peers_install
	_r=1
	while [ "$_r" -le "$PEER_RUNS" ]; do
		if has_monit; then
			for _n in $MONIT_SIZES; do
				say "peers: monit, N=$_n, run $_r of $PEER_RUNS (${PEER_WARMUP}s warm-up, ${MEASURE}s measured)"
				monit_run "$_n" "$_r"
			done
		fi
		if has_prom; then
			for _n in $PROM_SIZES; do
				say "peers: Prometheus + blackbox_exporter, N=$_n, run $_r of $PEER_RUNS (${PROM_WARMUP}s warm-up, ${MEASURE}s measured)"
				prom_run "$_n" "$_r"
			done
		fi
		_r=$((_r + 1))
	done
}

# ---------------------------------------------------------------- isolation

# One daemon watching ISO_N checks: a measured period with every endpoint
# healthy, then ISO_HANG endpoints made to hang (each of their samples
# runs into its 500 ms timeout) and, after WARMUP, a second measured
# period: the lateness of the schedule both ways, in one run. fail_after
# is 1000 so that the hanging checks do not end the watch meanwhile.
isolation_section() {
	local _d _e
	target_heal
	say "isolation: rollbackd, N=$ISO_N, 0 then $ISO_HANG endpoints hanging (${WARMUP}s warm-up, ${ISO_MEASURE}s measured each)"
	_d=$(rbd_dir iso)
	write_policy "$_d/pol/bench.yaml" bench "$ISO_N" 1 1s fail_after=1000 \
	    inconclusive_after=1000
	write_ping_policy "$_d"
	rbd_start "$_d"
	ctl deployed bench v1 >/dev/null || die "deployed failed"
	sleep "$WARMUP"
	rbd_measure "$_d" isolation "$ISO_N" 1 1000 "$ISO_MEASURE" hanging=0
	_e=1
	while [ "$_e" -le "$ISO_HANG" ]; do
		tget "/ctl/hang/$_e" >/dev/null || die "target /ctl/hang failed"
		_e=$((_e + 1))
	done
	# A window of 4,096 ticks must not reach back before the hangs.
	sleep "$WARMUP"
	rbd_measure "$_d" isolation "$ISO_N" 1 1000 "$ISO_MEASURE" "hanging=$ISO_HANG"
	rbd_stop
	target_heal
}

# ---------------------------------------------------------------- detection

svc_state() {
	ctl status bench --json 2>/dev/null |
	    $PY -c 'import json, sys; print(json.load(sys.stdin)["services"][0]["state"])'
}

state_is() {
	[ "$(svc_state)" = "$1" ]
}

lines_at_least() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

# DETECT_N healthy checks (1 s interval, fail_after 3) on a watched
# release; v1 is the known-good. Each round: announce a new release, wait
# a random 1-2 s, flip a random endpoint to failing; rollbackd degrades
# the release and runs the deploy command, which appends its start time
# (date +%s%N) to a file and heals the target; after the 1 s
# verification the service is idle again, and the next round starts.
detection_section() {
	local _d _deploy _i _wait _ep
	_d=$(rbd_dir detect)
	# bash's $EPOCHREALTIME is read without a fork: the line is written
	# as soon as bash runs (its own start-up is measured below).
	_deploy="[\"/bin/bash\", \"-c\", \"echo \$EPOCHREALTIME >> $_d/deploys; exec /usr/bin/curl -s -o /dev/null -m 5 $TBASE/ctl/reset\", \"deploy\", \"{version}\"]"
	write_policy "$_d/pol/bench.yaml" bench "$DETECT_N" 1 1s verify=1s "deploy=$_deploy"
	write_ping_policy "$_d"
	target_heal
	rbd_start "$_d"
	ctl deployed bench v1 >/dev/null || die "deployed v1 failed"
	ctl mark-good bench v1 >/dev/null || die "mark-good v1 failed"
	wait_until 15 state_is idle || die "bench not idle after mark-good: $(svc_state)"
	$BENCH_PY bashstart >>"$REC" || die "bench.py bashstart failed"
	_i=1
	while [ "$_i" -le "$DETECT_COUNT" ]; do
		ctl deployed bench "v$((_i + 1))" >/dev/null || die "deployed v$((_i + 1)) failed"
		_wait=$(awk -v s="$$$_i" 'BEGIN { srand(s); printf "%.3f", 1 + rand() }')
		_ep=$(awk -v s="$_i$$" -v n="$DETECT_N" 'BEGIN { srand(s); print 1 + int(rand() * n) }')
		sleep "$_wait"
		tget "/ctl/fail/$_ep" >/dev/null || die "target /ctl/fail failed"
		tget /stats >"$_d/flip.json"
		wait_until 20 lines_at_least "$_d/deploys" "$_i" ||
			die "detection: no rollback within 20 s of flip $_i: $(svc_state); $(tail -n 3 "$_d/log")"
		target_heal
		wait_until 20 state_is idle ||
			die "detection: not idle again after rollback $_i: $(svc_state); $(tail -n 3 "$_d/log")"
		ctl history bench --json --limit 10 >"$_d/history.json" ||
			die "history failed"
		$BENCH_PY detect "$_i" "$_d/flip.json" "$_d/history.json" "$_d/deploys" 1000 3 \
		    >"$_d/rec" || die "bench.py detect failed"
		cat "$_d/rec" >>"$REC"
		say "detection: flip $_i of $DETECT_COUNT, endpoint $_ep after ${_wait}s"
		$BENCH_PY brief <"$_d/rec"
		_i=$((_i + 1))
	done
	rbd_stop
}

# ---------------------------------------------------------------- start-up, idle

write_many_policies() {	# DIR COUNT: COUNT policies of one http check
	awk -v dir="$1" -v n="$2" -v port="$TPORT" 'BEGIN {
		for (i = 1; i <= n; i++) {
			f = sprintf("%s/s%05d.yaml", dir, i)
			printf "service: s%05d\ndeploy:\n  command: [\"/bin/true\"]\n", i > f
			printf "watch:\n  duration: 1h\n  interval: 1s\n" > f
			printf "checks:\n  - name: e%d\n    http:\n", i > f
			printf "      url: http://127.0.0.1:%d/e/%d\n      timeout: 500ms\n", port, i > f
			close(f)
		}
	}'
}

startup_section() {
	local _d _r
	_d=$(rbd_dir startup)
	write_many_policies "$_d/pol" "$START_POLICIES"
	_r=1
	while [ "$_r" -le "$START_RUNS" ]; do
		say "startup: rollbackd with $START_POLICIES policies, run $_r of $START_RUNS"
		# shellcheck disable=SC2086 # PIN_SUT is a command or nothing
		BENCH_N=$START_POLICIES $PY "$ROOT/bench/startup.py" "$_r" "$RBD" "$CTL" \
		    "$_d/rbd.yaml" "$_d/run/s" $PIN_SUT >"$_d/rec" || die "startup.py failed"
		cat "$_d/rec" >>"$REC"
		$BENCH_PY brief <"$_d/rec"
		_r=$((_r + 1))
	done
}

idle_section() {
	local _d _c0 _c1 _t0 _k0 _t1 _k1 _tck _
	_d=$(rbd_dir idle)
	write_many_policies "$_d/pol" "$START_POLICIES"
	say "idle: rollbackd with $START_POLICIES policies, nothing watched, ${IDLE_SECONDS}s"
	rbd_start "$_d"
	sleep 0.5
	_c0=$(ctxt_switches "$RBD_PID")
	snap_proc "$_d/a.proc" "$RBD_PID"
	sleep "$IDLE_SECONDS"
	_c1=$(ctxt_switches "$RBD_PID")
	snap_proc "$_d/b.proc" "$RBD_PID"
	rbd_stop
	read -r _t0 _k0 _ <"$_d/a.proc"
	read -r _t1 _k1 _ <"$_d/b.proc"
	_tck=$(getconf CLK_TCK)
	$BENCH_PY record section=idle system=rollbackd "n=$START_POLICIES" run=1 \
	    "seconds=$(awk -v a="$_t0" -v b="$_t1" 'BEGIN { print (b - a) / 1e6 }')" \
	    "wakeups=$((_c1 - _c0))" \
	    "wakeups_per_second=$(awk -v c="$((_c1 - _c0))" -v a="$_t0" -v b="$_t1" 'BEGIN { print c / ((b - a) / 1e6) }')" \
	    "cpu_usec_per_second=$(awk -v k="$((_k1 - _k0))" -v h="$_tck" -v a="$_t0" -v b="$_t1" 'BEGIN { print k * 1e6 / h / ((b - a) / 1e6) }')" \
	    >"$_d/rec"
	cat "$_d/rec" >>"$REC"
	$BENCH_PY brief <"$_d/rec"
}

# ---------------------------------------------------------------- overload

# overloaded_now: whether status says the schedule is overloaded.
overloaded_now() {
	sched_get "$BT/over.status"
	[ "$($BENCH_PY get "$BT/over.status" "(d.get('schedule') or {}).get('overloaded')")" = true ]
}

# OVER_SPECS, each "CHECKSxINTERVAL": rollbackd driven past what it can
# do, on purpose. One policy per 5,000 checks (with the keys below, 10,000
# would pass the loader's 1 MiB limit on a file), all announced at once;
# timeout half the interval. fail_after and inconclusive_after are 1000 so
# that the watch goes on and can be read; with the default
# inconclusive_after (5), five samples in a row that could not be taken
# hold the service. Status (the schedule, from zz-ping) is polled every
# 100 ms, and the log read, for when each first says so; then a measured
# period. Status calls are bounded by OVER_CTL_TIMEOUT seconds: a daemon
# too busy to answer is a finding too.
overload_section() {
	local _spec _n _iv _ivms _d _first _k _cnt _t0 _j _said _logged _end _line _slow _watch _q0
	for _spec in $OVER_SPECS; do
		_n=${_spec%%x*}
		_iv=${_spec#*x}
		_ivms=$($PY -c 'import sys
v = sys.argv[1]
print(int(float(v[:-2])) if v.endswith("ms") else int(float(v[:-1]) * 1000))' "$_iv")
		say "overload: rollbackd, $_n checks every $_iv (${OVER_SECONDS}s to say so, then ${OVER_MEASURE}s measured)"
		_d=$(rbd_dir over)
		_first=1
		_k=0
		while [ "$_first" -le "$_n" ]; do
			_cnt=$((_n - _first + 1))
			[ "$_cnt" -le 5000 ] || _cnt=5000
			write_policy "$_d/pol/over$_k.yaml" "over$_k" "$_cnt" "$_first" "$_iv" \
			    inconclusive_after=1000 fail_after=1000 "timeout=$((_ivms / 2))ms"
			_first=$((_first + _cnt))
			_k=$((_k + 1))
		done
		write_ping_policy "$_d"
		rbd_start "$_d"
		CTL_TIMEOUT=$OVER_CTL_TIMEOUT
		_t0=$(now_usec)
		_j=0
		while [ "$_j" -lt "$_k" ]; do
			ctl deployed "over$_j" v1 >/dev/null || die "deployed over$_j failed"
			_j=$((_j + 1))
		done
		# OVER_STALL: the daemon stopped (SIGSTOP) for that long first, a
		# loop that cannot keep up made certain (the smoke run's way to a
		# small, quick overload).
		if [ "$OVER_STALL" != 0 ]; then
			kill -STOP "$RBD_PID"
			sleep "$OVER_STALL"
			kill -CONT "$RBD_PID"
			_t0=$(now_usec)
		fi
		_said='' _logged='' _slow=0
		_end=$(( _t0 + OVER_SECONDS * 1000000 ))
		# The log is watched on its own, every 50 ms, so that a status
		# call the busy daemon is slow to answer does not delay it.
		(
			while [ "$(now_usec)" -lt "$_end" ]; do
				if grep -q 'overloaded:' "$_d/log"; then
					echo $(( $(now_usec) - _t0 )) >"$_d/logged"
					break
				fi
				sleep 0.05
			done
		) &
		_watch=$!
		while [ "$(now_usec)" -lt "$_end" ] && [ -z "$_said" ]; do
			_q0=$(now_usec)
			if overloaded_now; then
				_said=$(( $(now_usec) - _t0 ))
			fi
			# The slowest status answer (or the timeout).
			_q0=$(( $(now_usec) - _q0 ))
			[ "$_q0" -le "$_slow" ] || _slow=$_q0
			sleep 0.1
		done
		wait "$_watch" || true
		[ ! -s "$_d/logged" ] || _logged=$(cat "$_d/logged")
		rbd_snap "$_d/a" start
		sleep "$OVER_MEASURE"
		rbd_snap "$_d/b" end
		ctl status over0 --json >"$_d/full.status" 2>/dev/null ||
			echo '{}' >"$_d/full.status"
		ctl history over0 --json --limit 1 >"$_d/hist.json" 2>/dev/null ||
			echo '{}' >"$_d/hist.json"
		unset CTL_TIMEOUT
		rbd_stop
		_line=$(grep -m 1 'overloaded:' "$_d/log" | cut -c 1-200 || true)
		$BENCH_PY engine rollbackd "$_n" 1 "$_ivms" "$_d" overload \
		    "overloaded_after_usec=${_said:-null}" "log_after_usec=${_logged:-null}" \
		    "log_line=${_line:-}" "status_slowest_usec=$_slow" poll_usec=100000 \
		    >"$_d/rec" || die "bench.py engine failed"
		cat "$_d/rec" >>"$REC"
		$BENCH_PY brief <"$_d/rec"
	done
}

# ---------------------------------------------------------------- main

# run_section NAME: NAME_section in a subshell that stops what it started
# when it ends, however it ends: a section that fails (a daemon that does
# not answer, a peer that will not start) is reported, and the others
# still run.
FAILED_SECTIONS=
run_section() {
	local rc=0
	has "$1" || return 0
	(
		BENCH_PIDS=
		trap 'stop_all' EXIT
		"${1}_section"
	) || rc=$?
	if [ "$rc" != 0 ]; then
		say "$1: failed (exit $rc); the other sections go on"
		FAILED_SECTIONS="$FAILED_SECTIONS $1"
	fi
}

target_start
run_section scrape >"$BT/scrape.print"
run_section engine
[ -n "$SMOKE" ] || run_section peers
run_section isolation
run_section detection
run_section startup
run_section idle
run_section overload
stop_pid "$TPID"
T_END=$(date +%s)
FAILED_SECTIONS=${FAILED_SECTIONS# }
PEER_SKIPPED=$(paste -sd ';' "$BT/peer_skipped" 2>/dev/null | sed 's/;/; /g' || true)
MONIT_CMD=$(cat "$BT/cmd.monit" 2>/dev/null || true)
BLACKBOX_CMD=$(cat "$BT/cmd.blackbox" 2>/dev/null || true)
PROM_CMD=$(cat "$BT/cmd.prom" 2>/dev/null || true)

$BENCH_PY report "$REC" >"$BT/report.md" || die "bench.py report failed"
echo
[ ! -s "$BT/scrape.print" ] || cat "$BT/scrape.print"
echo
cat "$BT/report.md"
echo
echo "bench: $(( (T_END - T_START) / 60 )) min $(( (T_END - T_START) % 60 )) s"
[ -z "$FAILED_SECTIONS" ] || echo "bench: FAILED sections: $FAILED_SECTIONS"
if [ -n "$SMOKE" ]; then
	echo "bench: smoke run (BENCH_SMOKE=1): $RESULTS not written"
	[ -z "$FAILED_SECTIONS" ] || exit 1
	exit 0
fi

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] ||
	commit="$commit, with uncommitted changes in the working tree"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
pin="the system under test on CPU $CPU_SUT (taskset -c $CPU_SUT: rollbackd, the floors, monit), the target on CPU $CPU_TARGET; Prometheus and blackbox_exporter on any CPU (PROM_PIN=$PROM_PIN, see Commands)"
[ -n "$PIN_SUT" ] || pin="none (fewer than 2 CPUs, or no taskset)"
peers_line=
if has_monit; then
	peers_line="monit $($MONIT -V 2>/dev/null | sed -n 's/.*version \([^ ]*\).*/\1/p' | head -n 1)"
fi
if has_prom; then
	peers_line="${peers_line:+$peers_line, }$($PROMETHEUS --version 2>&1 | head -n 1 | cut -d' ' -f1-3), $($BLACKBOX --version 2>&1 | head -n 1 | cut -d' ' -f1-3)"
fi
{
	cat <<EOF
# Benchmark results

Generated by \`make bench\` (\`sh bench/run.sh $BUILD\`); do not edit by hand.
Issue 7 defines what is measured; bench/run.sh says how, at its top.

- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r), $(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release)
- date: $(date -u '+%Y-%m-%d %H:%M UTC'); the whole run took $(( (T_END - T_START) / 60 )) min $(( (T_END - T_START) % 60 )) s
- commit: $commit
- load average (1, 5, 15 min) at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg). The machine is shared: other work runs beside the benchmark, which is why every comparison below is a ratio measured in the same run
- pinning: $pin
- peers: ${peers_line:-none installed}
- knobs: SIZES="$SIZES" RUNS=$RUNS FLOOR_RUNS=$FLOOR_RUNS FRESH_RUNS=$FRESH_RUNS WARMUP=$WARMUP MEASURE=$MEASURE LAT_POLL=${LAT_POLL:-2} MONIT_SIZES="$MONIT_SIZES" PROM_SIZES="$PROM_SIZES" PEER_RUNS=$PEER_RUNS PEER_WARMUP=$PEER_WARMUP PROM_WARMUP=$PROM_WARMUP ISO_N=$ISO_N ISO_HANG=$ISO_HANG ISO_MEASURE=$ISO_MEASURE DETECT_N=$DETECT_N DETECT_COUNT=$DETECT_COUNT START_POLICIES=$START_POLICIES START_RUNS=$START_RUNS IDLE_SECONDS=$IDLE_SECONDS OVER_SPECS="$OVER_SPECS" OVER_SECONDS=$OVER_SECONDS OVER_MEASURE=$OVER_MEASURE
${RUNS_NOTE:+- runs: $RUNS_NOTE
}${PEER_SKIPPED:+- peers not measured: $PEER_SKIPPED
}${FAILED_SECTIONS:+- **sections that failed** (their figures are missing or partial: see the output of the run): $FAILED_SECTIONS
}
## Commands

One target for the whole run, on CPU $CPU_TARGET:
\`$TARGET_BIN --port 0 --port-file F --pidfile F\`. Every other process is
started afresh for each run and stopped after it. CPU is utime + stime of
/proc/PID/stat (all threads) over the measured period; probes are the
target's /stats request count over the same period; RSS is VmRSS at its
end; the target's CPU per request comes from its /proc/PID/stat.

- **rollbackd**: \`$RBD -c rbd.yaml\`, rbd.yaml giving a private socket,
  state directory and policies directory. One policy, "bench", of N checks
  written in flow style (\`- {name: e<i>, http: {url:
  "http://127.0.0.1:P/e/<i>", timeout: 500ms}}\`: fail_after 3 and
  inconclusive_after 5 by default), \`watch: {duration: 1h, interval: 1s}\`,
  deploy command \`/bin/true\`; and a policy "zz-ping" of one check that is
  never announced. Then \`$CTL -s SOCK deployed bench v1\`, ${WARMUP} s of
  warm-up, ${MEASURE} s measured. Lateness: \`rollbackctl status zz-ping
  --json\`, whose "schedule" object is the whole daemon's, read every
  ${LAT_POLL:-2} s during the measured period and once at its end. The daemon's
  quantiles cover its last 4,096 ticks (at N checks a second, the last
  4096 / N seconds), so each reading is a window: p50 is the median of the
  windows' p50, **p99 the worst window's p99**. (status zz-ping, not a
  full status: a full status of 10,000 checks is larger than the daemon's
  1 MiB reply limit and fails.) "unknown ticks" are the schedule's late,
  skipped and missed counts over the measured period.
- **floors**: \`$BUILD/bench/curl_floor --url http://127.0.0.1:P --n N --interval-ms 1000 --seconds $MEASURE --warmup $WARMUP\`,
  the same with \`--fresh\`, and \`$BUILD/bench/raw_floor --url http://127.0.0.1:P --n N --interval-ms 1000 --seconds $MEASURE --warmup $WARMUP\`:
  their own JSON line (CPU of the measured period, lateness over all its
  probes). Run after rollbackd at the same N in the same round, so that
  each ratio is measured in the same run.
- **monit**: \`${MONIT_CMD:-monit -I -c monitrc}\` on CPU $CPU_SUT, the control
  file holding \`set daemon 1\`, log, pid, id and state files in the run's
  directory, and per check \`check host e<i> with address 127.0.0.1\` /
  \`if failed port P protocol http request "/e/<i>" then alert\`;
  ${PEER_WARMUP} s warm-up, ${MEASURE} s measured.
- **Prometheus + blackbox_exporter**: \`${BLACKBOX_CMD:-prometheus-blackbox-exporter --config.file=blackbox.yml ...}\`
  (module http_2xx: prober http, timeout 1s, ip4, 200 only) and
  \`${PROM_CMD:-prometheus --config.file=prometheus.yml ...}\`
  scraping /probe?module=http_2xx&target=http://127.0.0.1:P/e/<i> for the N
  targets (the usual relabelling), scrape_interval and scrape_timeout 1s.
  ${PROM_WARMUP} s warm-up after /-/ready, ${MEASURE} s measured; CPU and RSS
  are the two processes' together. They run on any CPU: pinned to one,
  they cannot do N = 1,000 at all. At the end, \`count(probe_success)\`,
  \`count(probe_success == 1)\` and \`count(up == 1)\` are queried: what an
  alert on probe_success would have had to go on.
- **isolation**: one daemon as above with N=$ISO_N, fail_after and
  inconclusive_after 1000 (so that neither the hanging checks nor late
  samples end the watch), ${WARMUP} s warm-up, a measured period of
  ${ISO_MEASURE} s with every endpoint healthy, then \`GET /ctl/hang/<i>\` for
  i = 1..$ISO_HANG (each of their samples runs into its 500 ms timeout), ${WARMUP} s, and a second measured period of ${ISO_MEASURE} s.
- **detection**: $DETECT_N checks, fail_after 3, interval 1s, verify 1s;
  deploy command \`/bin/bash -c 'echo \$EPOCHREALTIME >> deploys; exec
  curl -s .../ctl/reset'\` (it records its start and heals the target);
  \`rollbackctl deployed bench v1\` and \`rollbackctl mark-good bench v1\`
  seed the known-good. Then $DETECT_COUNT rounds: \`rollbackctl deployed bench
  v<k>\`, a random 1-2 s, \`GET /ctl/fail/<random i>\`; wait for the
  rollback, the target healed, the service idle again. The flip's time is
  the target's last_flip_wall_usec, the verdict's the "at" of the newest
  "degraded" event in \`rollbackctl history bench --json\`, the command's
  start its line in deploys.
- **start-up**: \`$PY bench/startup.py\` runs \`$RBD -c rbd.yaml\` on CPU $CPU_SUT with
  NOTIFY_SOCKET set to a datagram socket it listens on and $START_POLICIES
  policies of one check each (nothing watched), and times READY=1 and the
  first \`rollbackctl status\` that answers, from just before the exec.
- **idle**: the same $START_POLICIES policies, nothing watched,
  ${IDLE_SECONDS} s: voluntary + nonvoluntary context switches of every
  thread (/proc/PID/task/*/status): each is a wake-up.
- **overload**: $OVER_SPECS (checks × interval), one policy per 5,000
  checks (fail_after and inconclusive_after 1000 make 10,000 larger than
  the loader's 1 MiB limit on a file), timeout half the interval,
  fail_after and inconclusive_after 1000 so that the watch goes on and can
  be read, all announced at once${OVER_STALL:+ }$( [ "$OVER_STALL" = 0 ] || echo "after a ${OVER_STALL} s SIGSTOP"). Status (zz-ping) polled every 100 ms
  (each call bounded by ${OVER_CTL_TIMEOUT} s) and the log every 50 ms for when
  each first says so, up to ${OVER_SECONDS} s; then ${OVER_MEASURE} s measured.
$(sed 's/^  - /- **scrape**: /' "$BT/scrape.cmds" 2>/dev/null || true)

## Results

Medians over the runs, the range (min–max) in parentheses. "rollbackd ÷
this" is rollbackd's CPU per probe divided by the row's: for the floors
run by run (same run, same N) and then the median of those ratios; for
the peers, the ratio of the medians. Below 1, rollbackd is the cheaper.
Lateness is the start of a probe minus its planned time: over every probe
of the period for the floors, the worst window of 4,096 ticks for
rollbackd (see Commands).

$(cat "$BT/report.md")

$(cat "$BT/scrape.md" 2>/dev/null || true)
EOF
} >"$RESULTS"
echo "bench: wrote $RESULTS"
[ -z "$FAILED_SECTIONS" ] || exit 1
