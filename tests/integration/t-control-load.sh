#!/bin/sh
# Issue 9: 1,000 control clients at once, half of them bad: 250 idle (they
# connect and send nothing) and 250 slow (they send their request a byte
# at a time), beside 500 real clients that all send at the same moment.
# Every real and slow client is answered, the real ones promptly; the
# daemon's memory stays bounded and returns its descriptors; the 100
# checks being watched meanwhile keep their schedule (no sample late,
# skipped or missed). rollbackctl works during the storm too.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

N_CHECKS=100
setup_demo interval=500ms duration=10m timeout=400ms verify=1s
seed_good v1

step "a policy with $N_CHECKS checks, watched"
python3 - "$POLICIES/demo.yaml" "$N_CHECKS" "$PORT" <<'PY' || fail "cannot write the policy"
import sys
path, n, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text = open(path).read()
head = text[:text.index("checks:")]
out = [head, "checks:\n"]
for i in range(n):
    out.append("- {name: healthz-%03d, http: {url: \"http://127.0.0.1:%s/healthz\", timeout: 400ms}}\n" % (i, port))
open(path, "w").write("".join(out))
PY
assert_exit 0 "$CTL" reload
deploy_by_hand v2 v1
assert_exit 0 "$CTL" deployed demo v2
wait_state demo watching v2 10
# Every check sampled: the probes run.
all_sampled() {
	[ "$(svc_json demo "['checks']" | python3 -c 'import json, sys
print(sum(1 for c in json.load(sys.stdin) if c["last"] == "ok"))')" = "$N_CHECKS" ]
}
wait_for "every check sampled" 10 all_sampled

rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status"
}
# The daemon's Unix sockets (the control socket, its clients, the log):
# its TCP connections to the demo service come and go with curl's cache.
fds() {
	python3 - "$DAEMON_PID" <<'PY'
import os, sys
unix = {l.split()[6] for l in open("/proc/net/unix").readlines()[1:]}
n = 0
for fd in os.listdir("/proc/%s/fd" % sys.argv[1]):
    try:
        t = os.readlink("/proc/%s/fd/%s" % (sys.argv[1], fd))
    except OSError:
        continue
    if t.startswith("socket:[") and t[8:-1] in unix:
        n += 1
print(n)
PY
}
RSS0=$(rss_kib)
FDS0=$(fds)

step "1,000 clients: 250 idle, 250 slow, 500 real at once"
python3 - "$SOCK" "$CTL" "$DAEMON_PID" > "$T/storm.out" 2>&1 <<'PY'
import json, os, resource, socket, subprocess, sys, threading, time
path, ctl, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
N_IDLE, N_SLOW, N_REAL = 250, 250, 500
REQ = b'{"cmd":"status","service":"demo"}\n'
bad = []

def rss():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def conn():
    # Blocking, as rollbackctl's: a full backlog makes it wait.
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(30)
    return s

def read_reply(s):
    data = b""
    while not data.endswith(b"\n"):
        c = s.recv(65536)
        if not c:
            break
        data += c
    return data

def status_sched():
    r = subprocess.run([ctl, "-s", path, "status", "--json"], capture_output=True, timeout=30)
    return json.loads(r.stdout)["schedule"]

sched0 = status_sched()
idle = [conn() for _ in range(N_IDLE)]
slow = [conn() for _ in range(N_SLOW)]

# The slow ones: one byte of the request each, every 20 ms in turn, so
# each sends a byte every ~40 ms and completes in about 1.5 s... 3 s.
slow_replies = [None] * N_SLOW
def trickle():
    for i in range(len(REQ)):
        for s in slow:
            s.send(REQ[i:i + 1])
        time.sleep(0.1)
    for k, s in enumerate(slow):
        slow_replies[k] = read_reply(s)
t_slow = threading.Thread(target=trickle)
t_slow.start()

# The real ones: all connected, then all send at once.
real = [conn() for _ in range(N_REAL)]
print("connected: %d idle, %d slow, %d real; daemon RSS %d KiB" % (
    len(idle), len(slow), len(real), rss()))
lat = [None] * N_REAL
go = threading.Barrier(N_REAL)
def client(k):
    s = real[k]
    go.wait()
    t0 = time.monotonic()
    s.sendall(REQ)
    rep = read_reply(s)
    lat[k] = time.monotonic() - t0
    try:
        ok = json.loads(rep)["ok"] is True
    except Exception:
        ok = False
    if not ok:
        bad.append("real client %d: %r" % (k, rep[:200]))
threads = [threading.Thread(target=client, args=(k,)) for k in range(N_REAL)]
for t in threads:
    t.start()
# rollbackctl meanwhile.
t0 = time.monotonic()
r = subprocess.run([ctl, "-s", path, "status"], capture_output=True, timeout=30)
ctl_ms = (time.monotonic() - t0) * 1000
if r.returncode != 0 or b"demo" not in r.stdout:
    bad.append("rollbackctl status: rc %d %r" % (r.returncode, r.stderr[:200]))
for t in threads:
    t.join()
peak = rss()
lat.sort()
p50, p99, mx = lat[len(lat) // 2], lat[int(len(lat) * 0.99)], lat[-1]
print("real: p50 %.0f ms, p99 %.0f ms, max %.0f ms; rollbackctl status %.0f ms" % (
    p50 * 1000, p99 * 1000, mx * 1000, ctl_ms))
if p99 > 2.0 or mx > 5.0:
    bad.append("real clients not answered promptly: p99 %.2f s, max %.2f s" % (p99, mx))
t_slow.join()
n_ok = sum(1 for r in slow_replies if r and json.loads(r)["ok"] is True)
print("slow clients answered: %d of %d" % (n_ok, N_SLOW))
if n_ok != N_SLOW:
    bad.append("slow clients answered: %d of %d" % (n_ok, N_SLOW))
# The idle ones are still connected, and cost little.
print("daemon RSS with the idle ones still connected: %d KiB (peak seen %d KiB)" % (rss(), peak))
sched1 = status_sched()
for k in ("late", "skipped", "missed"):
    d = sched1[k] - sched0[k]
    print("schedule %s: +%d" % (k, d))
    if d:
        bad.append("the probes fell behind: %s +%d" % (k, d))
if sched1["overloaded"]:
    bad.append("status says overloaded")
for s in idle + slow + real:
    s.close()
print("RSS_PEAK %d" % peak)
for b in bad:
    print("FAIL: " + b)
sys.exit(1 if bad else 0)
PY
rc=$?
sed 's/^/    /' "$T/storm.out"
[ $rc -eq 0 ] || fail "the storm: $(grep FAIL "$T/storm.out" | head -5)"

step "memory bounded, descriptors returned"
PEAK=$(awk '/^RSS_PEAK/ { print $2 }' "$T/storm.out")
echo "daemon RSS: $RSS0 KiB before, $PEAK KiB at the peak, growth $((PEAK - RSS0)) KiB for 1,000 clients"
[ $((PEAK - RSS0)) -lt 32768 ] || fail "RSS grew by $((PEAK - RSS0)) KiB for 1,000 clients"
fds_back() {
	[ "$(fds)" -le "$FDS0" ]
}
wait_for "the daemon's Unix sockets back to $FDS0" 15 fds_back
daemon_alive || fail "rollbackd died"
assert_eq watching "$(svc_field demo state)" "state"
