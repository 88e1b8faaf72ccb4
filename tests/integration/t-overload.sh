#!/bin/sh
# Overload is never silent, and never healthy. While v2 is watched every
# 250 ms the daemon is stopped (SIGSTOP) for 2 s, as a loop that cannot
# keep up would be: the tick that fires when it goes on is about 2 s late
# and the ones after it were missed. Then status says so (its "schedule"
# object: overloaded, late, missed, the lateness; rollbackctl status
# prints a line), the log warns, and the late sample counts as unknown:
# the --wait stream shows it with "fails": 0, so it neither failed nor
# passed the check, it changes no state, and the verdict comes at the end
# of the window from the samples taken on time.
# Once nothing was late for 10 s, overloaded is false again and the log
# says the schedule is kept. Idle at last (no watch, no baseline check, no
# guard), the daemon does not wake up, nor write its store.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# A field of status's "schedule", as JSON: sched "['late']".
sched() {
	timeout 5 "$CTL" status --json 2>/dev/null | json_get "d['schedule']$1"
}

# Whether status says overloaded is $1 (true or false).
overloaded_is() {
	[ "$(sched "['overloaded']")" = "$1" ]
}

# Whether v2 is watched and its last sample was ok (one taken on time).
v2_sampled_ok() {
	state_is demo watching v2 &&
	    [ "$(svc_json demo "['checks'][0]['last']")" = ok ]
}

# Context switches of the daemon, every thread: one per wake-up when idle.
wakeups() {
	cat /proc/"$DAEMON_PID"/task/*/status 2>/dev/null |
	    awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'
}

# A daemon left stopped by a failure must still stop at cleanup.
resume_daemon() {
	[ -n "$DAEMON_PID" ] && kill -CONT "$DAEMON_PID" 2>/dev/null
	return 0
}
add_cleanup resume_daemon

setup_demo interval=250ms duration=15s
seed_good v1

step "status has the schedule object"
keys=$(timeout 5 "$CTL" status --json | json_get "sorted(d['schedule'])")
assert_eq '["checks", "connects", "intended_per_second", "last_10s", "late", "lateness_max_usec", "lateness_p50_usec", "lateness_p99_usec", "missed", "overloaded", "samples", "skipped"]' \
    "$keys" "the keys of schedule"

step "watching v2: samples on time"
deploy_by_hand v2 v1
timeout 60 "$CTL" deployed demo v2 --wait --json > "$T/wait.out" 2>&1 &
WAIT_PID=$!
wait_for "an ok sample of v2" 10 v2_sampled_ok
assert_eq 1 "$(sched "['checks']")" "schedule checks while watching"
assert_eq 4.0 "$(sched "['intended_per_second']")" "intended per second (1 / 250ms)"
late0=$(sched "['late']")
missed0=$(sched "['missed']")

step "the daemon stops for 2 s, then goes on"
kill -STOP "$DAEMON_PID"
sleep 2		# the stall itself
kill -CONT "$DAEMON_PID"
t0=$(now_ms)
wait_for "status to say overloaded" 5 overloaded_is true
echo "status said overloaded $(( $(now_ms) - t0 )) ms after SIGCONT"
st=$(timeout 5 "$CTL" status --json) || fail "status failed"
late=$(echo "$st" | json_get "d['schedule']['late']")
missed=$(echo "$st" | json_get "d['schedule']['missed']")
[ "$((late - late0))" -ge 1 ] || fail "no late sample counted ($late0 -> $late)"
[ "$((missed - missed0))" -ge 1 ] || fail "no missed sample counted ($missed0 -> $missed)"
[ "$(echo "$st" | json_get "d['schedule']['last_10s']['late']")" -ge 1 ] ||
	fail "no late sample in last_10s: $st"
# The tick due first was at least 2 s - 250 ms late.
max=$(echo "$st" | json_get "d['schedule']['lateness_max_usec']")
[ "$max" -ge 1500000 ] || fail "lateness_max_usec $max, expected 1.5 s or more"
[ "$(echo "$st" | json_get "d['schedule']['lateness_p99_usec']")" -le "$max" ] ||
	fail "p99 above max: $st"
wait_for "the log to warn" 5 grep -q \
    "overloaded: .* late by up to .* in the last .*; they count as unknown (status: schedule)" "$DLOG"
assert_exit 0 "$CTL" status
assert_contains "$OUT" "rollbackd is overloaded: " "rollbackctl status"
assert_contains "$OUT" "late samples count as unknown" "rollbackctl status"
assert_eq "rollbackd is overloaded:" "$(echo "$OUT" | head -n 1 | cut -d' ' -f1-3)" \
    "the first line of rollbackctl status"

step "the late sample was unknown; the verdict comes from samples on time"
wait_for "the verdict on v2" 30 not kill -0 "$WAIT_PID"
wait "$WAIT_PID"
rc=$?
out=$(cat "$T/wait.out")
echo "$out"
assert_eq 0 "$rc" "exit status of deployed --wait"
late_line=$(echo "$out" | grep '"event": *"sample"' | grep 'late: started ')
[ -n "$late_line" ] || fail "no late sample in the --wait stream: $out"
assert_contains "$late_line" "after its time, " "the late sample"
assert_contains "$late_line" " missed (rollbackd cannot keep its schedule)" "the late sample"
case $late_line in
*'"result": "unknown"'* | *'"result":"unknown"'*) ;;
*) fail "the late sample is not unknown: $late_line" ;;
esac
case $late_line in
*'"fails": 0,'* | *'"fails":0,'*) ;;
*) fail "the late sample counted as a failure: $late_line" ;;
esac
# The late sample changed no state: the one transition comes after it,
# at the end of the window, from the samples taken on time.
events=$(echo "$out" | sed -n 's/.*"event": *"\([a-z]*\)".*/\1/p' | tr '\n' ' ')
case $events in
*"sample transition verdict ") ;;
*) fail "expected the late sample, then the promotion: $events" ;;
esac
assert_contains "$(echo "$out" | grep '"event": *"transition"')" \
    "v2 healthy for 15s; now the known-good release" "the transition"
assert_contains "$(echo "$out" | tail -n 1)" '"promoted"' "verdict"
assert_eq "promoted deployed" "$(history_events demo 2)" "newest history events"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"

step "calm again"
wait_for "overloaded to be false again" 25 overloaded_is false
wait_for "the log to say the schedule is kept" 5 grep -q \
    "schedule kept again: no sample late, skipped or missed for 10s (overloaded for " "$DLOG"
assert_exit 0 "$CTL" status
assert_not_contains "$OUT" "overloaded" "rollbackctl status once calm"

step "idle is idle"
state_is demo idle v2 || fail "demo is not idle with v2"
assert_eq 0 "$(sched "['checks']")" "probes while idle"
# Longer than the heartbeat's period (5 s), which must not run while
# nothing is watched: it would wake the daemon and write the store.
store0=$(stat -c '%s %y' "$STATE"/rollbackd.db*)
w0=$(wakeups)
sleep 6		# the measurement
w1=$(wakeups)
store1=$(stat -c '%s %y' "$STATE"/rollbackd.db*)
echo "rollbackd woke up $((w1 - w0)) times in 6 s while idle"
[ "$((w1 - w0))" -lt 3 ] || fail "rollbackd woke up $((w1 - w0)) times in 6 s while idle"
assert_eq "$store0" "$store1" "the store's files while idle"
