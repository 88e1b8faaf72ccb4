#!/bin/sh
# make demo: the tour, unprivileged, in a temporary directory.
#
#   1. rollbackd -t on the shipped examples, and on a copy with typos.
#   2. A demo service (tests/demo/demo-service, whose health depends on the
#      version it was started as) runs v1. rollbackd watches it with a
#      250 ms interval and fail_after 3. A broken v2 is deployed the way a
#      user's deploy script does it (tests/demo/deploy, then "rollbackctl
#      deployed demo v2-bad --wait"). rollbackd notices, rolls back to v1,
#      verifies it; status and history at the end, with the time it took.
#
# Exits 0 only if v1 is live and healthy again at the end. Leaves no process
# behind.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd) || exit 1
rbd=$build/rollbackd
ctl=$build/rollbackctl
demo=$build/demo-service
deploy=$root/tests/demo/deploy

tmp=$(mktemp -d /tmp/rbd-demo.XXXXXX) || exit 1
chmod 0700 "$tmp"
daemon_pid='' tail_pid=''
cleanup() {
	rc=$?
	trap - EXIT INT TERM
	[ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
	if [ -n "$daemon_pid" ]; then
		kill -TERM "$daemon_pid" 2>/dev/null
		n=0
		while kill -0 "$daemon_pid" 2>/dev/null && [ $n -lt 200 ]; do
			sleep 0.05; n=$((n + 1))
		done
		kill -KILL "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
	fi
	[ -s "$tmp/svc/demo.pid" ] && kill -TERM "$(cat "$tmp/svc/demo.pid")" 2>/dev/null
	n=0
	while pgrep -f "$tmp" >/dev/null && [ $n -lt 100 ]; do
		sleep 0.05; n=$((n + 1))
	done
	if left=$(pgrep -f "$tmp"); then
		echo "demo: processes left behind, killing them: $left" >&2
		# shellcheck disable=SC2086 # a list of pids
		kill -KILL $left 2>/dev/null
		rc=1
	fi
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
	echo "demo: $*" >&2
	if [ -s "$tmp/rollbackd.log" ]; then
		echo "demo: the last lines of rollbackd's log:" >&2
		tail -n 20 "$tmp/rollbackd.log" >&2
	fi
	exit 1
}
now_ms() { date +%s%3N; }
ms_str() { printf '%d.%03d s' $(($1 / 1000)) $(($1 % 1000)); }

# ---------------------------------------------------------------- part 1

echo "== rollbackd -t on the shipped examples (conf/)"
"$rbd" -t -c "$root/conf/rollbackd.yaml" || die "the shipped examples do not load"

mkdir "$tmp/conf"
cp -R "$root/conf/." "$tmp/conf/"
sed -e 's/^    fail_after: 3/    fial_after: 3/' \
    -e 's/      timeout: 2s/      timeout: 10s/' \
    -e 's/"{version}"/"{verison}"/' \
    "$root/conf/policies.d/checkout.yaml" > "$tmp/conf/policies.d/checkout.yaml"
echo
echo "== the same with three typos in checkout.yaml"
if "$rbd" -t -c "$tmp/conf/rollbackd.yaml"; then
	die "the broken copy was accepted"
fi
echo "(refused: nothing would run with this configuration)"

# ---------------------------------------------------------------- part 2

[ -x "$ctl" ] || die "$ctl is missing"
[ -x "$demo" ] || die "$demo is missing"

# A free port: the first that refuses connections, from a random base.
port=
base=$(( 20000 + $$ % 20000 ))
for p in $(seq "$base" $((base + 50))); do
	curl -s -m 1 -o /dev/null "http://127.0.0.1:$p/" 2>/dev/null
	if [ $? -eq 7 ]; then
		port=$p
		break
	fi
done
[ -n "$port" ] || die "no free port near $base"

mkdir -p "$tmp/run" "$tmp/state" "$tmp/policies.d" "$tmp/svc"
chmod 0700 "$tmp/run"
export ROLLBACKD_SOCKET="$tmp/run/rollbackd.sock"
cat > "$tmp/rollbackd.yaml" <<EOF
socket: $tmp/run/rollbackd.sock
state_dir: $tmp/state
policies: $tmp/policies.d
EOF
cat > "$tmp/policies.d/demo.yaml" <<EOF
service: demo
deploy:
  command: [$deploy, --dir, $tmp/svc, --port, "$port", --bin, $demo,
            --service, "{service}", --version, "{version}", --from, "{from_version}"]
  timeout: 30s
watch:
  duration: 1m
  interval: 250ms
  verify: 2s
checks:
  - name: healthz
    http:
      url: "http://127.0.0.1:$port/healthz"
      timeout: 200ms
    fail_after: 3
EOF

# What a user's deploy script does, for the demo service.
deploy_release() {	# VERSION [FROM]
	"$deploy" --dir "$tmp/svc" --port "$port" --bin "$demo" \
	    --service demo --version "$1" --from "${2:-}" | sed 's/^/  /'
}

echo
echo "== the demo service and its policy ($tmp/policies.d/demo.yaml)"
sed 's/^/  /' "$tmp/policies.d/demo.yaml"
"$rbd" -t -c "$tmp/rollbackd.yaml" || die "the demo's configuration does not load"

echo
echo "== v1 goes live, rollbackd starts"
deploy_release v1
[ "$(curl -s -m 2 "http://127.0.0.1:$port/healthz")" = ok ] || die "v1 is not healthy"
"$rbd" -c "$tmp/rollbackd.yaml" > "$tmp/rollbackd.log" 2>&1 &
daemon_pid=$!
n=0
until "$ctl" status >/dev/null 2>&1; do
	kill -0 "$daemon_pid" 2>/dev/null || die "rollbackd exited"
	n=$((n + 1))
	[ $n -lt 200 ] || die "rollbackd does not answer on $ROLLBACKD_SOCKET"
	sleep 0.05
done
# Show what rollbackd logs, as it happens (its priority prefix made
# readable). tail writes into a FIFO so that its own pid is known.
mkfifo "$tmp/log.fifo"
sed -u 's/^<[0-7]>/  rollbackd: /' < "$tmp/log.fifo" &
tail -n +1 -f --pid="$daemon_pid" "$tmp/rollbackd.log" > "$tmp/log.fifo" 2>/dev/null &
tail_pid=$!

echo "\$ rollbackctl deployed demo v1"
"$ctl" deployed demo v1 || die "announcing v1 failed"
echo "\$ rollbackctl mark-good demo v1     # v1 has served for weeks: vouch for it"
"$ctl" mark-good demo v1 || die "marking v1 good failed"
echo "\$ rollbackctl status"
"$ctl" status

echo
echo "== a broken v2 is deployed, the way a deploy script does it"
echo "\$ deploy --service demo --version v2-bad && rollbackctl deployed demo v2-bad --wait"
deploy_release v2-bad v1
t0=$(now_ms)
"$ctl" deployed demo v2-bad --wait
rc=$?
t_verdict=$(now_ms)
echo "(rollbackctl exited $rc: a pipeline running it would turn red)"
[ $rc -eq 2 ] || die "expected exit status 2 (rolled back), got $rc"

# v1 serving healthy again, then the rollback verified (idle, v1 live).
t_restored=
n=0
while :; do
	if [ -z "$t_restored" ] &&
	    [ "$(curl -s -m 1 "http://127.0.0.1:$port/version")" = v1 ] &&
	    [ "$(curl -s -m 1 "http://127.0.0.1:$port/healthz")" = ok ]; then
		t_restored=$(now_ms)
	fi
	st=$("$ctl" status demo --json 2>/dev/null | tr -d ' ')
	case $st in
	*'"state":"idle"'*'"live":"v1"'* | *'"live":"v1"'*'"state":"idle"'*)
		[ -n "$t_restored" ] && break ;;
	*'"state":"held"'*)
		die "rollbackd holds demo: $("$ctl" status demo)" ;;
	esac
	n=$((n + 1))
	[ $n -lt 600 ] || die "v1 was not restored within 30 s"
	sleep 0.05
done
t_verified=$(now_ms)
sleep 0.2	# let the log tail catch up before the summary
kill "$tail_pid" 2>/dev/null
wait "$tail_pid" 2>/dev/null
tail_pid=

echo
echo "== the end: v1 is live again"
echo "\$ rollbackctl status"
"$ctl" status
echo
echo "\$ rollbackctl history demo"
"$ctl" history demo

echo
echo "== how long it took (interval 250ms, fail_after 3, verify 2s)"
echo "  v2-bad announced -> rollback decided:  $(ms_str $((t_verdict - t0)))"
echo "  v2-bad announced -> v1 serving again:  $(ms_str $((t_restored - t0)))"
echo "  v2-bad announced -> rollback verified: $(ms_str $((t_verified - t0)))"
if command -v python3 >/dev/null 2>&1; then
	"$ctl" history demo --json 2>/dev/null | python3 -c '
import json, sys
ev = json.loads(sys.stdin.readline())["events"]
def at(name, rel=None):
    for e in ev:   # newest first
        if e["event"] == name and (rel is None or e.get("release") == rel):
            return e["at"]
d, r, v = at("deployed", "v2-bad"), at("rolled-back"), at("verified")
if d and r:
    print("  by the history: deployed v2-bad -> rolled-back (v1 deployed): %.3f s" % ((r - d) / 1e6))
if d and v:
    print("  by the history: deployed v2-bad -> verified:                  %.3f s" % ((v - d) / 1e6))
' 2>/dev/null
fi

[ "$(curl -s -m 2 "http://127.0.0.1:$port/version")" = v1 ] || die "v1 is not live at the end"
[ "$(curl -s -m 2 "http://127.0.0.1:$port/healthz")" = ok ] || die "v1 is not healthy at the end"
echo
echo "demo: v1 is live and healthy again; nothing is left running."
