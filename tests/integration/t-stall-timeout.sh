#!/bin/sh
# A timeout caused by the daemon itself is not the service's failure. v2-slow
# answers /healthz after 3 s; the check's timeout is 3.5 s, every 4 s, and
# one failing sample would roll it back (fail_after 1). Right after a
# request went out the daemon is stopped (SIGSTOP) for 4 s, as a starved
# loop would be: the answer comes at 3 s while it is stopped, and when it
# goes on the deadline has passed, so curl reports a timeout. That sample
# must be unknown ("timed out after 3s500ms while rollbackd was 1.0s
# behind"), not a failure: no rollback, and the window ends promoted.
# (t-hang-endpoint.sh checks the other side: an endpoint that really hangs
# still fails by timeout.)
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# A daemon left stopped by a failure must still stop at cleanup.
resume_daemon() {
	[ -n "$DAEMON_PID" ] && kill -CONT "$DAEMON_PID" 2>/dev/null
	return 0
}
add_cleanup resume_daemon

# The samples the --wait stream has shown so far (those not ok).
samples_seen() {
	grep -c '"event": *"sample"' "$T/wait.out" 2>/dev/null
}

# Whether the stream has shown a sample.
has_sample() {
	[ "$(samples_seen)" -gt 0 ]
}

# Whether v2-slow is watched and its last sample was ok.
v2_sampled_ok() {
	state_is demo watching v2-slow &&
	    [ "$(svc_json demo "['checks'][0]['last']")" = ok ]
}

# Whether a request of the check is out now (status: probes.in_flight).
request_out() {
	[ "$("$CTL" status --json 2>/dev/null | python3 -c '
import json, sys
print(json.load(sys.stdin)["probes"]["in_flight"])' 2>/dev/null)" = 1 ]
}

setup_demo interval=4s timeout=3500ms fail_after=1 duration=16s verify=4s
seed_good v1

step "watching v2-slow: answers after 3 s, within the 3.5 s timeout"
deploy_by_hand v2-slow v1
timeout 90 "$CTL" deployed demo v2-slow --wait --json > "$T/wait.out" 2>&1 &
WAIT_PID=$!
wait_for "an ok sample of v2-slow" 15 v2_sampled_ok
# The next request goes out about 1 s after that answer (4 s after the
# last one): stop the daemon once it is out (the daemon says so), until
# past its deadline.
assert_eq 0 "$(samples_seen)" "samples not ok before the stall"
wait_for "the next request to be out" 15 request_out
kill -STOP "$DAEMON_PID"
sleep 4		# the stall: the answer comes at 3 s, the deadline at 3.5 s
kill -CONT "$DAEMON_PID"

step "the timeout while stopped is unknown, not a failure"
wait_for "the sample after the stall" 10 has_sample
stalled=$(grep -m 1 '"event": *"sample"' "$T/wait.out")
echo "$stalled"
assert_contains "$stalled" "timed out after 3s500ms while rollbackd was " "the sample"
assert_contains "$stalled" " behind (rollbackd cannot keep its schedule)" "the sample"
case $stalled in
*'"result": "unknown"'* | *'"result":"unknown"'*) ;;
*) fail "the stalled sample is not unknown: $stalled" ;;
esac
case $stalled in
*'"fails": 0,'* | *'"fails":0,'*) ;;
*) fail "the stalled sample counted as a failure: $stalled" ;;
esac
grep -q "overloaded: " "$DLOG" || fail "the log does not say the daemon fell behind"

step "the window ends promoted, nothing rolled back"
wait_for "the verdict on v2-slow" 40 not kill -0 "$WAIT_PID"
wait "$WAIT_PID"
assert_eq 0 "$?" "exit status of deployed --wait"
assert_contains "$(tail -n 1 "$T/wait.out")" '"promoted"' "verdict"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
grep '"event": *"sample"' "$T/wait.out" | grep -q '"result": *"fail"' &&
	fail "a failing sample: $(cat "$T/wait.out")"
echo "ok"
