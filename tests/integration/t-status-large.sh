#!/bin/sh
# Issue 7: a service with 10,000 checks. Its full status is a few MiB, more
# than the control socket's default 1 MiB of pending output: status, status
# SERVICE and status --json must still answer, whole, while the service is
# watched (every check with a sample and a detail).
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

N=10000
PORT=$(free_port)
write_config
# A long interval and window: each check is probed every 20 s,
# so 10,000 of them stay cheap, and the window outlasts the test.
write_policy demo "$PORT" interval=20s duration=10m verify=1m timeout=5s

step "a policy with $N checks, all on the demo service's /healthz"
python3 - "$POLICIES/demo.yaml" "$N" "$PORT" <<'PY' || fail "cannot write the policy"
import sys
path, n, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text = open(path).read()
head = text[:text.index("checks:")]
out = [head, "checks:\n"]
for i in range(n):
    # One line each: a policy file holds at most 1 MiB.
    out.append("- {name: healthz-%05d, http: {url: \"http://127.0.0.1:%s/healthz\"}}\n"
               % (i, port))
open(path, "w").write("".join(out))
PY
assert_exit 0 "$RBD" -t -c "$CONF"
assert_contains "$OUT" "$N checks" "rollbackd -t"
start_daemon
seed_good v1
deploy_by_hand v2
assert_exit 0 "$CTL" deployed demo v2
wait_state demo watching v2 10

# Every check probed once: the first round is spread over one interval.
checks_sampled() {
	timeout 10 "$CTL" status demo --json | python3 -c 'import json, sys
d = json.loads(sys.stdin.readline())
c = d["services"][0]["checks"]
n = sum(1 for x in c if x.get("last"))
sys.exit(0 if len(c) == int(sys.argv[1]) and n == len(c) else 1)' "$N"
}
step "waiting for a sample of each of the $N checks"
wait_for "every check sampled" 90 checks_sampled

step "status --json: one line, larger than 1 MiB, every check in it"
for args in "status --json" "status demo --json"; do
	# shellcheck disable=SC2086 # two words
	assert_exit 0 "$CTL" $args
	printf '%s\n' "$OUT" > "$T/status.json"
	bytes=$(wc -c < "$T/status.json")
	[ "$bytes" -gt 1048576 ] ||
		fail "$args: $bytes bytes; the test needs a reply over 1 MiB"
	python3 - "$T/status.json" "$N" <<'PY' || fail "$args: incomplete reply"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, "%d lines" % len(lines)
d = json.loads(lines[0])
assert d["ok"] is True
s = d["services"][0]
assert s["service"] == "demo" and s["state"] == "watching", s["state"]
names = [c["name"] for c in s["checks"]]
assert len(names) == int(sys.argv[2]), len(names)
assert names[0] == "healthz-00000" and names[-1] == "healthz-%05d" % (int(sys.argv[2]) - 1)
assert all(c["last"] == "ok" for c in s["checks"]), "a check not passing"
print("%d bytes, %d checks" % (len(lines[0]), len(names)))
PY
	echo "$args: $bytes bytes"
done

step "status and status demo: the table, every check listed"
assert_exit 0 "$CTL" status
assert_contains "$OUT" "demo" "status"
assert_contains "$OUT" "watching" "status"
assert_exit 0 "$CTL" status demo
assert_contains "$OUT" "healthz-00000" "status demo"
assert_contains "$OUT" "healthz-09999" "status demo"
n=$(printf '%s\n' "$OUT" | grep -c 'healthz-[0-9]')
assert_eq "$N" "$n" "checks listed by status demo"

step "the daemon is still up and watching"
daemon_alive || fail "rollbackd died"
assert_eq watching "$(svc_field demo state)" "state"
