#!/bin/sh
# Issue 9: rollbackd refuses to start when the control socket's directory
# can be written by users other than its owner (and is not sticky), or
# belongs to someone other than root or the daemon's user, with a message
# that says what to fix; for its own socket and for one passed by socket
# activation. A sticky directory (like /tmp) and the test's own 0700 one
# are fine.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ACTIVATE=/usr/bin/systemd-socket-activate
[ -x "$ACTIVATE" ] || fail "$ACTIVATE is missing (Debian package systemd)"

PORT=$(free_port) || fail "no free port"
D=$T/sockdir
mkdir "$D"
SOCK=$D/rbd.sock
export ROLLBACKD_SOCKET="$SOCK"
write_config
write_policy demo "$PORT"

# start_refused WHAT: rollbackd exits 73 (EX_CANTCREAT) at once with the
# message WHAT in the log, and leaves no socket behind.
start_refused() {
	: > "$DLOG"
	timeout 20 "$RBD" -c "$CONF" >> "$DLOG" 2>&1
	rc=$?
	assert_eq 73 "$rc" "exit status"
	assert_contains "$(cat "$DLOG")" "$1" "log"
	[ -e "$SOCK" ] && fail "a socket was left in $D"
	return 0
}

step "a directory everyone may write to: refused"
chmod 0777 "$D"
start_refused "$D: the control socket's directory is writable by others (mode 0777) and not sticky; refusing to use it: chmod go-w $D"

step "group-writable: refused"
chmod 0775 "$D"
start_refused "$D: the control socket's directory is writable by its group (mode 0775) and not sticky; refusing to use it: chmod go-w $D"

if [ "$(id -u)" = 0 ]; then
	step "owned by another user: refused"
	chmod 0755 "$D"
	chown 4242 "$D"
	start_refused "$D: the control socket's directory belongs to uid 4242, not to root or to rollbackd's user (uid 0 (root)); refusing to use it: chown root $D, or choose another socket path"
	chown 0 "$D"
fi

step "sticky and world-writable (like /tmp): the daemon starts"
chmod 01777 "$D"
start_daemon
assert_exit 0 "$CTL" status
stop_daemon
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"

step "socket activation from a directory others may write to: refused"
chmod 0777 "$D"
: > "$DLOG"
"$ACTIVATE" -l "$SOCK" "$RBD" -c "$CONF" >> "$DLOG" 2>&1 &
DAEMON_PID=$!
wait_for "the activator to listen on $SOCK" 5 test -S "$SOCK"
# The first client starts rollbackd, which refuses the socket and exits.
timeout 10 "$CTL" status > /dev/null 2>&1
wait_for "rollbackd to refuse the passed socket" 10 grep -q "$D: the control socket's directory is writable by others (mode 0777) and not sticky" "$DLOG"
wait_for "rollbackd to exit" 10 not kill -0 "$DAEMON_PID"
wait "$DAEMON_PID"
assert_eq 73 "$?" "exit status of a refused passed socket"
DAEMON_PID=

step "socket activation from a 0755 directory: served"
chmod 0755 "$D"
rm -f "$SOCK"
"$ACTIVATE" -l "$SOCK" "$RBD" -c "$CONF" >> "$DLOG" 2>&1 &
DAEMON_PID=$!
wait_for "the activator to listen on $SOCK" 5 test -S "$SOCK"
RUN_TIMEOUT=20 assert_exit 0 "$CTL" status
assert_contains "$OUT" "demo" "status through the passed socket"
stop_daemon
