#!/bin/sh
# Hostile versions and unknown services are refused with a message, by the
# client and by the daemon (a raw request on the socket), and nothing runs.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo
seed_good v1
before=$(deploys_count)
nl='
'
long=$(printf '%0200d' 0)

step "hostile versions through rollbackctl"
# shellcheck disable=SC2016 # not expanded: that is the point
for v in '$(touch /tmp/rbd-pwned)' '`id`' 'v1;reboot' 'v1 v2' "v1${nl}v2" \
    '../../etc/passwd' 'v1/../x' 'v1|cat' 'v1&' "v$long" 'vé' '{version}' \
    'v1..2'; do
	assert_exit 4 "$CTL" deployed demo "$v"
	[ -n "$ERR" ] || fail "no message for refused version '$v'"
	assert_exit 4 "$CTL" rollback demo --to "$v"
	assert_exit 4 "$CTL" mark-good demo "$v"
done
# An option-like or empty version may be taken as a usage error instead.
for v in '-rf' '--wait' ''; do
	assert_exit "4|64" "$CTL" deployed demo "$v"
	[ -n "$ERR" ] || fail "no message for refused version '$v'"
done

step "unknown services"
assert_exit 4 "$CTL" deployed nosuch v1
assert_contains "$ERR" "nosuch" "refusal"
assert_contains "$ERR" "unknown service" "refusal"
assert_exit 4 "$CTL" rollback nosuch
assert_exit 4 "$CTL" status nosuch
assert_exit 4 "$CTL" deployed '../demo' v1

step "the same hostile requests sent raw to the daemon"
python3 - "$SOCK" <<'PY' || fail "raw requests were not all refused"
import json, socket, sys
reqs = [
    {"cmd": "deployed", "service": "demo", "version": "$(touch /tmp/rbd-pwned)"},
    {"cmd": "deployed", "service": "demo", "version": "v1\nv2"},
    {"cmd": "deployed", "service": "demo", "version": "-rf"},
    {"cmd": "deployed", "service": "demo", "version": "../../etc/passwd"},
    {"cmd": "deployed", "service": "demo", "version": "v" * 300},
    {"cmd": "deployed", "service": "demo", "version": ""},
    {"cmd": "deployed", "service": "demo", "version": 42},
    {"cmd": "deployed", "service": "demo", "version": "v1", "meta": {"a b": "x"}},
    {"cmd": "deployed", "service": "demo", "version": "v1", "evil": True},
    {"cmd": "rollback", "service": "demo", "version": "v1;id"},
    {"cmd": "deployed", "service": "nosuch", "version": "v1"},
    {"cmd": "deployed", "service": "../demo", "version": "v1"},
    {"cmd": "rm -rf /"},
]
bad = 0
for r in reqs:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sys.argv[1])
    s.sendall((json.dumps(r) + "\n").encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    try:
        rep = json.loads(data.decode().splitlines()[0])
    except Exception as e:
        print("no JSON reply to %r: %r" % (r, data)); bad += 1; continue
    if rep.get("ok") is not False or rep.get("error") not in ("refused", "protocol") or not rep.get("message"):
        print("not refused: %r -> %r" % (r, rep)); bad += 1
    else:
        print("refused: %s -> %s: %s" % (json.dumps(r)[:80], rep["error"], rep["message"][:100]))
sys.exit(1 if bad else 0)
PY

step "nothing ran, nothing changed"
[ -e /tmp/rbd-pwned ] && fail "/tmp/rbd-pwned exists"
assert_eq "$before" "$(deploys_count)" "deploys.log lines"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq idle "$(svc_field demo state)" "state"
assert_eq v1 "$(svc_field demo live)" "live"
assert_eq "marked-good deployed " "$(history_lines demo | cut -d'|' -f1 | tr '\n' ' ')" "history"
