#!/bin/sh
# sd_notify, as systemd would see it: a Unix datagram socket in
# NOTIFY_SOCKET records every message. READY=1 comes only once the daemon
# watches its services and its control socket listens, after an
# EXTEND_TIMEOUT_USEC= for each slow start-up step; STATUS= follows
# every transition in words; a SIGHUP reload is RELOADING=1 with
# MONOTONIC_USEC= then READY=1, and a rejected one says why in STATUS=;
# SIGTERM sends STOPPING=1; with WATCHDOG_USEC= for its pid the daemon
# pings WATCHDOG=1 while its loop turns, and not while it is stopped.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

NSOCK=$T/notify.sock
NLOG=$T/notify.log
LISTENER_PID=

# The service manager's side: one line per datagram,
#   "<bytes in the daemon's log> <CLOCK_MONOTONIC usec> <socket> <fields>"
# with the fields joined by "|". <socket> is, for a datagram with READY=1,
# whether the control socket accepted a connection at that moment
# ("listening" or "closed"), and "-" otherwise.
start_listener() {
	python3 -c 'import os, socket, sys, time
path, out, dlog, ctl = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a") as f:
    while True:
        msg = s.recv(65536).decode("utf-8", "replace")
        size = os.path.getsize(dlog)
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        state = "-"
        if "READY=1" in msg.split("\n"):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(1)
            try:
                c.connect(ctl)
                state = "listening"
            except OSError:
                state = "closed"
            c.close()
        f.write("%d %d %s %s\n" % (size, now, state, "|".join(msg.strip("\n").split("\n"))))
        f.flush()' "$NSOCK" "$NLOG" "$DLOG" "$SOCK" &
	LISTENER_PID=$!
	wait_for "the notify listener" 5 test -S "$NSOCK"
}
stop_listener() {
	if [ -n "$LISTENER_PID" ]; then
		kill "$LISTENER_PID" 2>/dev/null
		wait "$LISTENER_PID" 2>/dev/null
		LISTENER_PID=
	fi
}
add_cleanup stop_listener

# How many datagrams so far; the fields of those after the first N.
msgs_count() {
	if [ -f "$NLOG" ]; then wc -l < "$NLOG" | tr -d ' '; else echo 0; fi
}
msgs_after() {
	tail -n "+$(($1 + 1))" "$NLOG" 2>/dev/null | cut -d' ' -f4-
}
# has_msg_after N PATTERN: a datagram after the first N matches the
# grep -E PATTERN (on its "|"-joined fields).
has_msg_after() {
	msgs_after "$1" | grep -Eq -- "$2"
}

: > "$NLOG"
start_listener
export NOTIFY_SOCKET="$NSOCK"

step "READY=1 once the daemon watches its services and listens"
setup_demo
wait_for "READY=1" 10 has_msg_after 0 '(^|\|)READY=1(\||$)'
ready=$(grep -m1 -E ' (READY=1|.*\|READY=1)(\||$)' "$NLOG")
echo "first READY: $ready"
log_at_ready=${ready%% *}
head -c "$log_at_ready" "$DLOG" | grep -q "watching 1 service" ||
	fail "READY=1 arrived before the daemon logged 'watching 1 service': $ready"
assert_eq listening "$(echo "$ready" | cut -d' ' -f3)" \
	"control socket when READY=1 arrived"
n=$(grep -c 'READY=1' "$NLOG")
assert_eq 1 "$n" "READY=1 messages at start"
assert_contains "$ready" "STATUS=watching 1 service" "status at start"
assert_not_contains "$(cat "$NLOG")" "WATCHDOG=1" "pings without WATCHDOG_USEC"

step "EXTEND_TIMEOUT_USEC= before READY=1: the store, then the services"
# A long recovery at start (the store's check and migrations, a rollback
# resumed) must not run into TimeoutStartSec=: each step asks for 60 s
# more first. Nothing asks for more once the daemon is ready (that would
# extend RuntimeMaxSec= instead).
ready_at=$(grep -n -m1 -E ' (READY=1|.*\|READY=1)(\||$)' "$NLOG" | cut -d: -f1)
extends=$(head -n "$ready_at" "$NLOG" | grep -c ' EXTEND_TIMEOUT_USEC=60000000$')
[ "$extends" -ge 2 ] ||
	fail "expected an EXTEND_TIMEOUT_USEC=60000000 per start-up step (2) before READY=1, got $extends: $(head -n "$ready_at" "$NLOG")"
assert_not_contains "$(tail -n "+$ready_at" "$NLOG")" "EXTEND_TIMEOUT_USEC=" \
	"messages from READY=1 on"

step "STATUS= follows the transitions"
n=$(msgs_count)
deploy_by_hand v1
assert_exit 0 "$CTL" deployed demo v1
wait_for "STATUS= for the watch" 5 has_msg_after "$n" \
	'^STATUS=watching 1 service; demo: watching v1$'
assert_exit 0 "$CTL" mark-good demo v1
wait_for "STATUS= back to idle" 5 has_msg_after "$n" \
	'^STATUS=watching 1 service$'
n=$(msgs_count)
deploy_by_hand v2-bad v1
assert_exit 0 "$CTL" deployed demo v2-bad
wait_state demo idle v1 15
msgs_after "$n"
has_msg_after "$n" '^STATUS=watching 1 service; demo: watching v2-bad$' ||
	fail "no STATUS= for the watch of v2-bad"
has_msg_after "$n" '^STATUS=watching 1 service; demo: rolling back to v1$' ||
	fail "no STATUS= for the rollback to v1"
has_msg_after "$n" '^STATUS=watching 1 service; demo: verifying v1$' ||
	fail "no STATUS= for the verification of v1"

step "SIGHUP: RELOADING=1 with MONOTONIC_USEC=, then READY=1"
n=$(msgs_count)
kill -HUP "$DAEMON_PID"
wait_for "READY=1 after the reload" 5 has_msg_after "$n" '(^|\|)READY=1(\||$)'
msgs_after "$n"
first=$(tail -n "+$((n + 1))" "$NLOG" | head -n 1)
case $first in
*" RELOADING=1|MONOTONIC_USEC="[0-9]*) ;;
*) fail "the reload's first message is not RELOADING=1 with MONOTONIC_USEC=: $first" ;;
esac
# MONOTONIC_USEC= is CLOCK_MONOTONIC (the manager compares it with its
# own): within a second of when the listener received it.
received=$(echo "$first" | cut -d' ' -f2)
sent=${first##*MONOTONIC_USEC=}
diff=$((received - sent))
[ "$diff" -ge 0 ] && [ "$diff" -lt 1000000 ] ||
	fail "MONOTONIC_USEC=$sent is not CLOCK_MONOTONIC (received at $received)"
has_msg_after "$n" '^READY=1\|STATUS=watching 1 service$' ||
	fail "no READY=1 with the status after the reload"

step "a rejected reload says why in STATUS="
sed 's/^    fail_after:/    fial_after:/' "$POLICIES/demo.yaml" > "$T/broken.yaml"
mv "$T/broken.yaml" "$POLICIES/demo.yaml"
n=$(msgs_count)
kill -HUP "$DAEMON_PID"
wait_for "READY=1 after the rejected reload" 5 has_msg_after "$n" '(^|\|)READY=1(\||$)'
msgs_after "$n"
has_msg_after "$n" "^READY=1\|STATUS=reload rejected: 1 error in $CONF \(first: .*fial_after.*\); the old configuration keeps running; watching 1 service$" ||
	fail "STATUS= does not say that the reload was rejected and why"
daemon_alive || fail "rollbackd died on the broken policy"
# The reason stays until a reload is accepted, also across transitions.
n=$(msgs_count)
deploy_by_hand v3 v1
assert_exit 0 "$CTL" deployed demo v3
wait_for "STATUS= for the watch of v3" 5 has_msg_after "$n" \
	'^STATUS=reload rejected: .*; watching 1 service; demo: watching v3$'

step "SIGTERM: STOPPING=1"
n=$(msgs_count)
stop_daemon
assert_eq 0 "$DAEMON_RC" "exit status"
has_msg_after "$n" '(^|\|)STOPPING=1(\||$)' || fail "no STOPPING=1 on SIGTERM"
assert_not_contains "$(cat "$NLOG")" "WATCHDOG=1" "pings without WATCHDOG_USEC"

step "WATCHDOG_USEC=1s for the daemon's pid: WATCHDOG=1 twice a second"
printf '%s\n' "$(sed 's/^    fial_after:/    fail_after:/' "$POLICIES/demo.yaml")" > "$T/fixed.yaml"
mv "$T/fixed.yaml" "$POLICIES/demo.yaml"
: > "$NLOG"
echo "=== rollbackd started by $TEST_NAME with a watchdog" >> "$DLOG"
# exec: WATCHDOG_PID must be the daemon's own pid, as systemd sets it.
WATCHDOG_USEC=1000000 sh -c 'WATCHDOG_PID=$$ exec "$0" -c "$1"' \
	"$RBD" "$CONF" >> "$DLOG" 2>&1 &
DAEMON_PID=$!
wait_for "rollbackd to answer" 10 daemon_answers
pings() {
	grep -c '^[0-9]* [0-9]* - WATCHDOG=1$' "$NLOG"
}
pings_at_least() {
	[ "$(pings)" -ge "$1" ]
}
wait_for "four pings" 5 pings_at_least 4

step "a stopped loop stops pinging; it pings again when it runs"
kill -STOP "$DAEMON_PID"
before=$(pings)
sleep 1.5	# three intervals without a ping: what the manager would see
after=$(pings)
kill -CONT "$DAEMON_PID"
assert_eq "$before" "$after" "pings while the daemon was stopped"
wait_for "pings again" 5 pings_at_least $((after + 2))
grep -q '^[0-9]* [0-9]* [a-z]* READY=1' "$NLOG" || fail "no READY=1 with the watchdog"

step "a WATCHDOG_PID= that is not the daemon's: no pings"
stop_daemon
: > "$NLOG"
echo "=== rollbackd started by $TEST_NAME with another pid's watchdog" >> "$DLOG"
WATCHDOG_USEC=1000000 WATCHDOG_PID=1 "$RBD" -c "$CONF" >> "$DLOG" 2>&1 &
DAEMON_PID=$!
wait_for "rollbackd to answer" 10 daemon_answers
wait_for "READY=1" 5 grep -q 'READY=1' "$NLOG"
sleep 1	# two intervals
assert_eq 0 "$(pings)" "pings for another pid's watchdog"
stop_daemon
