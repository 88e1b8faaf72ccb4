#!/bin/sh
# Socket activation, with systemd's own systemd-socket-activate(1): it
# listens on the control socket and starts rollbackd at the first
# connection, passing the listening socket as fd 3 (LISTEN_FDS=1). The
# clients that connected before the daemon was ready are served, and the
# daemon uses the passed socket instead of binding its own. A unit that
# passes the wrong sockets (two, or not a Unix stream socket) is refused
# with exit status 78 and a message saying why.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ACTIVATE=/usr/bin/systemd-socket-activate
[ -x "$ACTIVATE" ] || fail "$ACTIVATE is missing (Debian package systemd)"

PORT=$(free_port) || fail "no free port"
write_config
write_policy demo "$PORT"

# activate ARGS...: systemd-socket-activate ARGS... rollbackd -c $CONF in
# the background, as $DAEMON_PID; it execs rollbackd, so the pid stays.
activate() {
	echo "=== rollbackd socket-activated by $TEST_NAME: $*" >> "$DLOG"
	"$ACTIVATE" "$@" "$RBD" -c "$CONF" >> "$DLOG" 2>&1 &
	DAEMON_PID=$!
}

# Whether $DAEMON_PID has become rollbackd.
is_rollbackd() {
	[ "$(readlink "/proc/$DAEMON_PID/exe" 2>/dev/null)" = "$RBD" ]
}

step "the socket is listening; rollbackd is not started yet"
activate -l "$SOCK"
wait_for "the activator to listen on $SOCK" 5 test -S "$SOCK"
is_rollbackd && fail "rollbackd started before any client connected"
assert_not_contains "$(cat "$DLOG")" "watching" "the log before the first client"

step "the first clients start the daemon and are served"
for i in 1 2 3; do
	timeout 20 "$CTL" status > "$T/first-$i.out" 2>&1 &
	eval "client_$i=\$!"
done
# shellcheck disable=SC2154 # set by eval above
for pid in "$client_1" "$client_2" "$client_3"; do
	wait "$pid" || fail "a client that connected before the daemon was ready failed: $(cat "$T"/first-*.out)"
done
assert_contains "$(cat "$T/first-1.out")" "demo" "status through the passed socket"
is_rollbackd || fail "pid $DAEMON_PID is not rollbackd"
grep -q "control socket $SOCK (passed by the service manager)" "$DLOG" ||
	fail "rollbackd did not use the passed socket"

step "the passed socket carries the whole protocol"
seed_good v1
deploy_by_hand v2-bad v1
assert_exit 0 "$CTL" deployed demo v2-bad
wait_state demo idle v1 15

step "SIGTERM: a clean stop"
stop_daemon
assert_eq 0 "$DAEMON_RC" "exit status"

step "a restart on the same socket file resumes the state"
rm -f "$SOCK"
activate -l "$SOCK"
wait_for "the activator to listen on $SOCK" 5 test -S "$SOCK"
assert_exit 0 "$CTL" status demo
assert_eq v1 "$(svc_field demo known_good)" "known-good after the restart"
stop_daemon
assert_eq 0 "$DAEMON_RC" "exit status"


step "two sockets passed: refused, exit 78"
rm -f "$SOCK"
SOCK2=$T/run/second.sock
activate -l "$SOCK" -l "$SOCK2"
wait_for "the activator to listen" 5 test -S "$SOCK"
run "$CTL" status
wait "$DAEMON_PID"
DAEMON_RC=$?
DAEMON_PID=
assert_eq 78 "$DAEMON_RC" "exit status with two sockets"
grep -q "socket activation: 2 sockets passed, expected one" "$DLOG" ||
	fail "no message about the two sockets"

step "a TCP socket passed: refused, exit 78"
rm -f "$SOCK" "$SOCK2"
TCP_PORT=$(free_port) || fail "no free port"
activate -l "127.0.0.1:$TCP_PORT"
# A connection (accepted by the kernel as soon as the activator listens)
# is what starts the daemon.
tcp_connect() {
	python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1"
}
wait_for "a connection to port $TCP_PORT" 5 tcp_connect "$TCP_PORT"
wait_for "rollbackd to exit" 10 not kill -0 "$DAEMON_PID"
wait "$DAEMON_PID"
DAEMON_RC=$?
DAEMON_PID=
assert_eq 78 "$DAEMON_RC" "exit status with a TCP socket"
grep -q "socket activation: the passed socket is not a listening Unix stream socket" "$DLOG" ||
	fail "no message about the wrong socket type"
