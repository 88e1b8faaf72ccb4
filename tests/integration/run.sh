#!/bin/sh
# shellcheck shell=dash
# Run every integration test: sh tests/integration/run.sh BUILD [t-name ...]
#
# Each tests/integration/t-*.sh runs in a process of its own with the build
# directory as its argument, its output in a log. One line per test, "ok
# t-name" or "FAIL t-name" followed by its log, then the summary line
# "integration: N passed, N failed"; the exit status is non-zero if any test
# failed. Names on the command line run only those tests (with or without
# "t-" and ".sh").
#
# The tests are independent (each has its own directory, socket and ports),
# so they run RBD_IT_JOBS at a time (default 4). RBD_IT_TIMEOUT bounds each
# test (default 120 s); RBD_IT_VERBOSE=1 prints every test's log;
# RBD_IT_KEEP=1 keeps a failed test's directory.
set -u
build=${1:-build}
[ $# -gt 0 ] && shift
dir=$(cd "$(dirname "$0")" && pwd)
jobs=${RBD_IT_JOBS:-4}
case $jobs in ''|*[!0-9]*|0) jobs=1 ;; esac
logs=$(mktemp -d /tmp/rbd-it-logs.XXXXXX) || exit 1
trap 'rm -rf "$logs"' EXIT
# Interrupted: stop the running tests through their timeout process, which
# passes SIGTERM on to the test, whose trap cleans up.
stop_tests() {
	for f in "$logs"/*.pid; do
		[ -s "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
	done
	wait
}
trap 'stop_tests; exit 130' INT
trap 'stop_tests; exit 143' TERM

if [ $# -gt 0 ]; then
	tests=
	for n in "$@"; do
		n=${n%.sh}
		n=t-${n#t-}
		[ -f "$dir/$n.sh" ] || { echo "run.sh: no test $n" >&2; exit 64; }
		tests="$tests $dir/$n.sh"
	done
else
	tests=$(ls "$dir"/t-*.sh)
fi

# One test in the background: its log, then its status and time in .rc.
start_test() {
	(
		t0=$(date +%s%3N)
		# A test that hangs is killed (its cleanup trap still runs).
		timeout -k 10 "${RBD_IT_TIMEOUT:-120}" sh "$1" "$build" \
		    > "$logs/$2.log" 2>&1 < /dev/null &
		echo $! > "$logs/$2.pid"
		wait $!
		rc=$?
		rm -f "$logs/$2.pid"
		echo "$rc $(( $(date +%s%3N) - t0 ))" > "$logs/$2.rc.tmp"
		mv "$logs/$2.rc.tmp" "$logs/$2.rc"
	) &
}

# Report a finished test, once.
report() {
	local name=$1 rc ms secs
	read -r rc ms < "$logs/$name.rc"
	secs=$(printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100)))
	if [ "$rc" -eq 0 ]; then
		echo "ok $name (${secs}s)"
		[ -n "${RBD_IT_VERBOSE:-}" ] && sed 's/^/    | /' "$logs/$name.log"
		passed=$((passed + 1))
	else
		echo "FAIL $name (exit $rc, ${secs}s)"
		sed 's/^/    | /' "$logs/$name.log"
		failed=$((failed + 1))
		failures="$failures $name"
	fi
	touch "$logs/$name.reported"
}

passed=0 failed=0 failures=''
start=$(date +%s)
running=0
for t in $tests; do
	name=$(basename "$t" .sh)
	while [ "$running" -ge "$jobs" ]; do
		running=0
		for r in $tests; do
			n=$(basename "$r" .sh)
			if [ -e "$logs/$n.started" ] && [ ! -e "$logs/$n.reported" ]; then
				if [ -e "$logs/$n.rc" ]; then
					report "$n"
				else
					running=$((running + 1))
				fi
			fi
		done
		[ "$running" -ge "$jobs" ] && sleep 0.1
	done
	touch "$logs/$name.started"
	start_test "$t" "$name"
	running=$((running + 1))
done
wait
for t in $tests; do
	name=$(basename "$t" .sh)
	[ -e "$logs/$name.reported" ] || report "$name"
done
[ -n "$failures" ] && echo "failed:$failures"
echo "($(( $(date +%s) - start ))s, $jobs at a time)"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
