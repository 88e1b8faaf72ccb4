#!/bin/sh
# Run every fuzz harness built in BUILD/fuzz for SECONDS each and print,
# per harness, the executions per second and the coverage libFuzzer
# reached (cov: edges, ft: features, from its final status line).
#
#   sh tests/fuzz/run.sh BUILD SECONDS
#
# Seeds come from tests/fuzz/corpus/NAME (read only); what libFuzzer adds
# goes to BUILD/fuzz/corpus/NAME, a crash to BUILD/fuzz/artifacts/NAME/
# and the whole log to BUILD/fuzz/log/NAME.log. FUZZ_JOBS harnesses run at
# once (default 1). Exits 1 if any harness found a crash, a leak, a
# timeout or did not run. Called by "make fuzz" and "make fuzz-smoke".
set -u

build=${1:?usage: run.sh BUILD SECONDS}
secs=${2:?usage: run.sh BUILD SECONDS}
jobs=${FUZZ_JOBS:-1}
dir=$build/fuzz
src=tests/fuzz

# One harness: run it, then summarise its log in log/NAME.sum.
run_one() {
	name=$1
	prog=$dir/fuzz_$name
	log=$dir/log/$name.log
	seeds=
	[ -d "$src/corpus/$name" ] && seeds=$src/corpus/$name
	set --
	[ -f "$src/$name.dict" ] && set -- "-dict=$src/$name.dict"
	mkdir -p "$dir/corpus/$name" "$dir/artifacts/$name"
	"$prog" "$@" -max_total_time="$secs" -print_final_stats=1 \
		-timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-artifact_prefix="$dir/artifacts/$name/" \
		"$dir/corpus/$name" $seeds >"$log" 2>&1
	rc=$?
	status=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1)
	cov=$(echo "$status" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$status" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	seeds=$(find "$src/corpus/$name" -type f 2>/dev/null | wc -l)
	corp=$(find "$dir/corpus/$name" -type f | wc -l)
	if [ "$rc" = 0 ]; then
		printf '%-10s %9s execs %7s exec/s  cov: %-5s ft: %-6s seeds: %-4s new: %s\n' \
			"$name" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$seeds" "$corp" \
			>"$dir/log/$name.sum"
	else
		{
			printf '%-10s FAILED (exit %s): see %s\n' "$name" "$rc" "$log"
			grep -E 'ERROR: |SUMMARY: |Test unit written to' "$log" | sed 's/^/    /'
		} >"$dir/log/$name.sum"
	fi
	return "$rc"
}

names=""
for p in "$dir"/fuzz_*; do
	[ -x "$p" ] || continue
	names="$names ${p##*/fuzz_}"
done
if [ -z "$names" ]; then
	echo "fuzz: no harness in $dir" >&2
	exit 1
fi
mkdir -p "$dir/log"
echo "fuzz: each harness for ${secs}s, $jobs at a time; logs in $dir/log"

fail=0
n=0
for name in $names; do
	run_one "$name" &
	n=$((n + 1))
	if [ "$n" -ge "$jobs" ]; then
		wait
		n=0
	fi
done
wait

for name in $names; do
	cat "$dir/log/$name.sum" 2>/dev/null || { echo "$name: no result"; fail=1; }
	grep -q FAILED "$dir/log/$name.sum" 2>/dev/null && fail=1
done
exit $fail
