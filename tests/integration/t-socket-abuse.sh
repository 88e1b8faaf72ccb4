#!/bin/sh
# Garbage, oversized, slow and idle connections on the control socket: each
# is closed (with an error reply where possible), the daemon stays up, and
# the next real client is answered promptly.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
write_config
write_policy demo "$PORT"

step "no daemon: rollbackctl says the daemon is unreachable"
assert_exit 69 "$CTL" status
assert_contains "$ERR" "$SOCK" "unreachable message"
assert_exit 69 "$CTL" -s "$T/run/nothing.sock" status

start_daemon
seed_good v1

step "garbage, oversized, half-sent and idle connections"
python3 - "$SOCK" "$CTL" <<'PY' || fail "the daemon misbehaved"
import json, os, socket, subprocess, sys, time
path, ctl = sys.argv[1], sys.argv[2]
bad = 0

def conn():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    return s

def read_all(s, limit=5):
    s.settimeout(limit)
    data = b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                return data, True
            data += c
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, True

def expect_error(name, payload):
    global bad
    s = conn()
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass
    data, closed = read_all(s)
    s.close()
    first = data.split(b"\n")[0]
    try:
        rep = json.loads(first) if first else None
    except ValueError:
        rep = "not JSON: %r" % first[:100]
    ok = closed and (rep is None or (isinstance(rep, dict) and rep.get("ok") is False))
    print("%-28s closed=%s reply=%s" % (name, closed, str(rep)[:120]))
    if not closed:
        print("  FAIL: %s: the connection was not closed" % name); bad += 1
    elif not ok:
        print("  FAIL: %s: unexpected reply" % name); bad += 1
    elif rep is None and name.startswith("garbage"):
        print("  FAIL: %s: closed without an error reply" % name); bad += 1

def status_prompt(what):
    global bad
    t0 = time.time()
    r = subprocess.run([ctl, "-s", path, "status", "--json"], capture_output=True, timeout=10)
    dt = time.time() - t0
    ok = r.returncode == 0 and json.loads(r.stdout.decode().splitlines()[0]).get("ok") is True
    print("status %s: rc=%d %.0f ms" % (what, r.returncode, dt * 1000))
    if not ok or dt > 2:
        print("  FAIL: status %s: rc=%d in %.1f s: %r" % (what, r.returncode, dt, r.stderr[:200])); bad += 1

expect_error("garbage text", b"hello, is this the daemon?\n")
expect_error("garbage binary", b"\x00\xff\xfe{{{[[[\x01\n")
expect_error("garbage json array", b"[1,2,3]\n")
expect_error("garbage unknown cmd", b'{"cmd":"format-disk"}\n')
expect_error("garbage truncated json", b'{"cmd":"status"\n')
status_prompt("after garbage")
expect_error("oversized, no newline", b"a" * (200 * 1024))
expect_error("oversized valid json", b'{"cmd":"status","x":"' + b"a" * (100 * 1024) + b'"}\n')
status_prompt("after oversized")

# Idle connections and a half-sent request stay open meanwhile.
idle = [conn() for _ in range(20)]
half = conn()
half.sendall(b'{"cmd":"sta')
status_prompt("with 20 idle connections and a half-sent request")
# A client that disconnects in the middle of a request.
s = conn(); s.sendall(b'{"cmd":"dep'); s.close()
# A client that asks for a streamed reply and goes away.
s = conn(); s.sendall(b'{"cmd":"history","service":"demo","limit":1000}\n'); s.close()
status_prompt("after clients that went away")

# The daemon's read timeout closes the half-sent request (10 s).
t0 = time.time()
data, closed = read_all(half, 20)
print("half-sent request closed after %.1f s (closed=%s, reply=%r)" % (time.time() - t0, closed, data[:120]))
if not closed:
    print("  FAIL: a half-sent request was never closed"); bad += 1
for s in idle:
    s.close()
status_prompt("at the end")
sys.exit(1 if bad else 0)
PY

step "the daemon is up and its state intact"
daemon_alive || fail "rollbackd died"
assert_eq idle "$(svc_field demo state)" "state"
assert_eq v1 "$(svc_field demo known_good)" "known-good"
