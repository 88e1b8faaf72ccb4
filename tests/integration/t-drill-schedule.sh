#!/bin/sh
# A scheduled drill: the policy's drill window holds the current local
# time and no drill has passed yet, so rollbackd starts one by itself
# (history: "drill scheduled by the policy"), it passes, and status shows
# it with the next window a week on. A window elsewhere in the week does
# not start one.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

day=$(LC_ALL=C date +%a)
h=$(date +%H)
m=$(date +%M)
if [ "$h$m" -ge 2355 ]; then
	# A window to 24:00 would end before the drill starts; the rest of
	# the test is the same at any other time.
	echo "== $TEST_NAME: skipped near midnight ($h:$m)"
	exit 0
fi
end_h=$(( ${h#0} + 1 ))
[ $end_h -gt 24 ] && end_h=24
end=$(printf '%02d:%s' $end_h "$m")
[ $end_h -eq 24 ] && end=24:00
window="$day $h:$m-$end"
# Another day of the week: no drill.
other=$(LC_ALL=C date -d tomorrow +%a)

PORT=$(free_port) || fail "no free port"
write_config
write_policy demo "$PORT" verify=1s "extra=drill: { every: 7d, window: \"$other 00:00-24:00\" }"
start_daemon
seed_good v1
deploy_by_hand v2 v1
assert_exit 0 "$CTL" deployed demo v2 --wait

step "a window on another day: no drill, the next one is shown"
assert_eq "$other 00:00-24:00" "$(svc_json demo "['drill']['schedule']['window']")" "schedule in status"
next=$(svc_json demo "['drill']['schedule']['next']")
now_us=$(( $(date +%s) * 1000000 ))
[ "$next" -gt "$now_us" ] || fail "next drill $next is not in the future ($now_us)"
run "$CTL" status demo
assert_contains "$OUT" "never drilled; scheduled every 7d in $other 00:00-24:00, next " "status text"
assert_eq none "$(svc_json demo "['drill']['phase']")" "no drill"

step "a window now: rollbackd starts the drill by itself"
write_policy demo "$PORT" verify=1s "extra=drill: { every: 7d, window: \"$window\" }"
assert_exit 0 "$CTL" reload
drill_passed() {
	[ "$(svc_json demo "['drill']['last']['result']")" = passed ]
}
wait_for "the scheduled drill to pass" 20 drill_passed
wait_state demo idle v2 5
hist=$(history_lines demo)
assert_contains "$hist" "drill-started|idle|drilling|v2|v1||drill scheduled by the policy: rolling back from v2 to v1" "history"
assert_eq v2 "$(http_get /version)" "v2 live after the drill"

step "it passed: the next one is a week on, not now"
next=$(svc_json demo "['drill']['schedule']['next']")
now_us=$(( $(date +%s) * 1000000 ))
[ "$next" -gt $(( now_us + 6 * 86400 * 1000000 )) ] || fail "next drill $next is not a week on ($now_us)"
run "$CTL" status demo
assert_contains "$OUT" "last drill passed" "status text"
assert_eq 1 "$(history_lines demo | grep -c '^drill-started|')" "drills started"
