#!/bin/sh
# Instructions per probe of the real daemon, under valgrind's callgrind:
#   sh bench/profile.sh BUILD [N] [SECONDS] [OUT]
# A repeatable count on a shared, noisy machine, where CPU time per probe
# moves by tens of percent from run to run: rollbackd watches one policy
# of N http checks (1 s interval, as bench/run.sh's engine section) on the
# bench target for SECONDS after a 2 s warm-up, under callgrind with
# instrumentation off until the warm-up ends (callgrind_control -i on), so
# that start-up and the policy's loading are left out. Prints the
# instructions (Ir) of the measured period, the probes the target served
# meanwhile, and Ir per probe; the profile is in OUT (default
# /tmp/rbd-callgrind.out) for callgrind_annotate. Valgrind runs the daemon
# some 50 times slower: N = 200 (the default) keeps it on its schedule
# on a quiet machine, 100 on a busy one (bench/PROFILE.md used 100).
set -eu

BUILD=${1:-build}
N=${2:-200}
SECONDS_=${3:-10}
OUT=${4:-/tmp/rbd-callgrind.out}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

command -v valgrind >/dev/null || { echo "profile: valgrind is not installed" >&2; exit 1; }
BT=$(mktemp -d /tmp/rbd-profile.XXXXXX)
. "$ROOT/bench/lib.sh"
trap 'stop_all; rm -rf "$BT"' EXIT
PIN_SUT=
# rbd_start runs "$RBD" -c FILE: a wrapper, exec'd, so RBD_PID is valgrind's.
printf '#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=%s %s "$@"\n' \
    "$OUT" "$RBD" >"$BT/rollbackd"
chmod +x "$BT/rollbackd"
RBD=$BT/rollbackd

target_start
d=$(rbd_dir prof)
write_policy "$d/pol/bench.yaml" bench "$N" 1 1s
write_ping_policy "$d"
rbd_start "$d"
ctl deployed bench v1 >/dev/null || die "deployed failed"
sleep 2
tget /stats >"$BT/a.json"
callgrind_control -i on "$RBD_PID" >/dev/null
sleep "$SECONDS_"
callgrind_control -i off "$RBD_PID" >/dev/null
tget /stats >"$BT/b.json"
sched=$(ctl status zz-ping --json 2>/dev/null | $PY -c 'import json, sys
s = json.load(sys.stdin)["schedule"]
print("late %d skipped %d missed %d lateness p99 %.1f ms" % (s["late"],
    s["skipped"], s["missed"], s["lateness_p99_usec"] / 1000))') || sched=
rbd_stop
$PY - "$BT/a.json" "$BT/b.json" "$OUT" "$N" "$SECONDS_" "$sched" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
ir = 0
for line in open(sys.argv[3]):
    if line.startswith("summary:") or line.startswith("totals:"):
        ir = int(line.split()[1])
probes = b["requests"] - a["requests"]
print("N=%s, %s s measured: %d probes, %d Ir, %.0f Ir per probe (%s)" %
      (sys.argv[4], sys.argv[5], probes, ir, ir / probes if probes else 0,
       sys.argv[6]))
EOF
