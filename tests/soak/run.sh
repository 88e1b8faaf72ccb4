#!/bin/sh
# The soak run of issue 9, by hand (not in CI): sh tests/soak/run.sh MODE BUILD
#
# MODE asan:     the daemon built with AddressSanitizer + UBSan (BUILD is
#                that build's directory), SOAK_CHECKS http checks (default
#                2000) at a 1 s interval and a deploy every few seconds for
#                SOAK_MINUTES (default 30).
# MODE valgrind: the plain daemon (BUILD) under valgrind --leak-check=full,
#                SOAK_CHECKS (default 200) for SOAK_MINUTES (default 5).
#
# The load is the real daemon, the real rollbackctl and bench/target (one
# libevent process answering /e/<i>, from TARGET_BUILD, default build). It
# cycles through every path a release can take, so each is exercised every
# cycle:
#   superseded  three releases announced SOAK_DEPLOY_EVERY seconds apart
#   rolled back the next release is bad (one endpoint answers 500): rolled
#               back (the deploy command heals the target) and verified
#   promoted    the next release watched to the end of its window
# On a machine too slow for the size, late samples are unknown and a window
# ends held as inconclusive instead: counted and reported, and the next
# release is announced all the same.
# Every SOAK_SAMPLE seconds the daemon's RSS, open descriptors (sockets
# apart) and CPU go to soak.csv. The run fails when, after warm-up (the
# first SOAK_WARMUP_PCT percent of the time), RSS grew by more than
# SOAK_RSS_SLACK_KIB (default 2048) or the descriptors at a quiet moment
# grew at all, when there were ever more sockets than checks + 16; and, after a
# clean SIGTERM, when the sanitizer or valgrind reports anything (a leak,
# an invalid access). It prints a summary and keeps everything in
# SOAK_DIR (default a fresh /tmp/rbd-soak.XXXXXX).
set -eu

MODE=${1:-}
BUILD=${2:-}
case $MODE in
asan) : "${SOAK_CHECKS:=2000}" "${SOAK_MINUTES:=30}" ;;
valgrind) : "${SOAK_CHECKS:=200}" "${SOAK_MINUTES:=5}" ;;
*) echo "usage: sh tests/soak/run.sh asan|valgrind BUILD" >&2; exit 64 ;;
esac
[ -n "$BUILD" ] || { echo "soak: no build directory" >&2; exit 64; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
: "${SOAK_DEPLOY_EVERY:=3}" "${SOAK_SAMPLE:=10}" "${SOAK_WARMUP_PCT:=25}"
: "${SOAK_RSS_SLACK_KIB:=2048}" "${TARGET_BUILD:=build}"
BUILD=$(cd "$BUILD" && pwd) || exit 1
BT=${SOAK_DIR:-$(mktemp -d /tmp/rbd-soak.XXXXXX)}
mkdir -p "$BT"

# bench/lib.sh: the target, the daemon's directory and policy, ctl, and
# bounded waits.
. "$ROOT/bench/lib.sh"
TARGET_BIN=$TARGET_BUILD/bench/target
[ -x "$RBD" ] || die "no $RBD: build it first (make soak does)"
[ -x "$TARGET_BIN" ] || die "no $TARGET_BIN: build it first (make soak does)"

cleanup() {
	for p in $BENCH_PIDS; do
		stop_pid "$p"
	done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

target_start
D=$(rbd_dir soak)
# The rollback's deploy command heals the target, as a real one would.
write_policy "$D/pol/soak.yaml" soak "$SOAK_CHECKS" 0 1s fail_after=2 \
    duration=6s verify=3s timeout=500ms \
    "deploy=[\"/usr/bin/curl\", \"-s\", \"-o\", \"/dev/null\", \"-m\", \"5\", \"$TBASE/ctl/reset\"]"
write_ping_policy "$D"

case $MODE in
asan)
	# The daemon's only: rollbackctl is built with the sanitizers too.
	# A small quarantine (freed memory ASan holds back to catch a use
	# after free; 256 MiB by default) lets RSS level off after warm-up.
	RBD_WRAP="env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:quarantine_size_mb=16:log_path=$BT/asan \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$BT/ubsan"
	;;
valgrind)
	command -v valgrind >/dev/null || die "valgrind is not installed"
	RBD_WRAP="valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
	    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
	    --log-file=$BT/valgrind.log"
	;;
esac
# rbd_start runs "$RBD": a one-line wrapper carries the tool.
printf '#!/bin/sh\nexec %s %s "$@"\n' "$RBD_WRAP" "$RBD" >"$BT/rollbackd"
chmod +x "$BT/rollbackd"
RBD=$BT/rollbackd
rbd_start "$D"

# last_event: the newest history event of soak ("" when none yet).
last_event() {
	ctl history soak --json --limit 1 2>/dev/null | $PY -c '
import json, sys
try:
    ev = json.load(sys.stdin).get("events") or [{}]
    print(ev[0].get("event", ""))
except ValueError:
    print("")'
}

# event_is NAME...: whether the newest event is one of NAMEs.
event_is() {
	local e
	e=$(last_event)
	for n in "$@"; do
		[ "$e" = "$n" ] && return 0
	done
	return 1
}

# fds: the daemon's open descriptors but sockets (probe connections come
# and go with curl's connection cache); sockets: those.
fds() {
	find /proc/"$RBD_PID"/fd -mindepth 1 -printf '%l\n' 2>/dev/null | grep -cv '^socket:'
}
sockets() {
	find /proc/"$RBD_PID"/fd -mindepth 1 -printf '%l\n' 2>/dev/null | grep -c '^socket:'
}

# sample: one line of soak.csv; also remembered as the latest quiet sample
# when called at a quiet moment (no deploy command running).
echo "t_s,rss_kib,fds,sockets,cpu_ticks,cycle" >"$BT/soak.csv"
T0=$(date +%s)
sample() {
	echo "$(( $(date +%s) - T0 )),$(rss_kib "$RBD_PID"),$(fds),$(sockets),$(cpu_ticks "$RBD_PID"),$CYCLE" \
	    >>"$BT/soak.csv"
}

ctl deployed soak v1 >/dev/null || die "deployed v1 failed"
ctl mark-good soak v1 >/dev/null || die "mark-good v1 failed"
wait_until 60 event_is promoted marked-good || die "v1 was never known-good"

END=$(( T0 + SOAK_MINUTES * 60 ))
WARM_END=$(( T0 + SOAK_MINUTES * 60 * SOAK_WARMUP_PCT / 100 ))
CYCLE=0
HELD=0	# windows held as inconclusive: the daemon could not keep up
V=1
NEXT_SAMPLE=0
WARM_RSS= WARM_FDS=
say "soak ($MODE): $SOAK_CHECKS checks, ${SOAK_MINUTES} min, in $BT"
while [ "$(date +%s)" -lt "$END" ]; do
	CYCLE=$((CYCLE + 1))
	# superseded: three releases in a row.
	for _ in 1 2 3; do
		V=$((V + 1))
		ctl deployed soak "v$V" >/dev/null || die "deployed v$V failed"
		sleep "$SOAK_DEPLOY_EVERY"
	done
	# rolled back: a bad release (one endpoint answers 500); the
	# rollback's deploy command heals it, and the rollback is verified.
	V=$((V + 1))
	bad=$(( (CYCLE * 7) % SOAK_CHECKS ))
	tget "/ctl/fail/$bad" >/dev/null || die "target flip failed"
	ctl deployed soak "v$V" >/dev/null || die "deployed v$V failed"
	wait_until 60 event_is verified inconclusive ||
		die "cycle $CYCLE: the rollback of v$V was not verified (last event: $(last_event))"
	[ "$(last_event)" = verified ] || HELD=$((HELD + 1))
	# promoted: watched to the end of its window.
	V=$((V + 1))
	ctl deployed soak "v$V" >/dev/null || die "deployed v$V failed"
	wait_until 60 event_is promoted inconclusive ||
		die "cycle $CYCLE: v$V was not promoted (last event: $(last_event))"
	[ "$(last_event)" = promoted ] || HELD=$((HELD + 1))
	# A quiet moment: nothing runs, nothing is in flight but probes.
	now=$(date +%s)
	if [ "$now" -ge "$NEXT_SAMPLE" ]; then
		sample
		NEXT_SAMPLE=$((now + SOAK_SAMPLE))
	fi
	if [ -z "$WARM_RSS" ] && [ "$now" -ge "$WARM_END" ]; then
		WARM_RSS=$(rss_kib "$RBD_PID")
		WARM_FDS=$(fds)
	fi
done
sample
END_RSS=$(rss_kib "$RBD_PID")
END_FDS=$(fds)
MAX_SOCKETS=$(awk -F, 'NR > 1 && $4 > m { m = $4 } END { print m + 0 }' "$BT/soak.csv")
[ -n "$WARM_RSS" ] || { WARM_RSS=$END_RSS; WARM_FDS=$END_FDS; }

# A clean stop: the sanitizer's leak check and valgrind's run at exit.
kill -TERM "$RBD_PID"
rc=0
n=0
while kill -0 "$RBD_PID" 2>/dev/null && [ "$n" -lt 1200 ]; do
	sleep 0.1
	n=$((n + 1))
done
wait "$RBD_PID" 2>/dev/null || rc=$?
BENCH_PIDS=$(echo "$BENCH_PIDS" | tr ' ' '\n' | grep -vx "$RBD_PID" | tr '\n' ' ')

fail=0
echo "soak ($MODE): $SOAK_CHECKS checks, $SOAK_MINUTES min, $CYCLE cycles, releases v1..v$V"
echo "  RSS after warm-up ${WARM_RSS} KiB, at the end ${END_RSS} KiB ($((END_RSS - WARM_RSS)) KiB)"
echo "  descriptors (not sockets) after warm-up ${WARM_FDS}, at the end ${END_FDS}"
echo "  sockets at most $MAX_SOCKETS (probe connections; $SOAK_CHECKS checks)"
echo "  windows held inconclusive (samples unknown: the daemon fell behind): $HELD"
echo "  daemon exit status $rc; samples in $BT/soak.csv"
# Under valgrind RSS holds its translation cache, which grows with every
# new code path: reported, judged under ASan only.
if [ "$MODE" = asan ] && [ $((END_RSS - WARM_RSS)) -gt "$SOAK_RSS_SLACK_KIB" ]; then
	echo "FAIL: RSS grew by more than $SOAK_RSS_SLACK_KIB KiB after warm-up"
	fail=1
fi
if [ "$END_FDS" -gt "$WARM_FDS" ]; then
	echo "FAIL: descriptors grew after warm-up"
	fail=1
fi
if [ "$MAX_SOCKETS" -gt $((SOAK_CHECKS + 16)) ]; then
	echo "FAIL: more sockets than checks: connections are not reused or closed"
	fail=1
fi
if [ "$rc" != 0 ]; then
	echo "FAIL: the daemon exited with status $rc"
	fail=1
fi
for f in "$BT"/asan.* "$BT"/ubsan.*; do
	[ -e "$f" ] || continue
	echo "FAIL: sanitizer report $f:"
	head -n 40 "$f"
	fail=1
done
if [ "$MODE" = valgrind ] && [ -s "$BT/valgrind.log" ]; then
	echo "FAIL: valgrind reported (see $BT/valgrind.log):"
	head -n 40 "$BT/valgrind.log"
	fail=1
fi
[ "$fail" = 0 ] && echo "soak: ok"
exit "$fail"
