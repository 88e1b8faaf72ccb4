#!/bin/sh
# The release-directory deployer: rollbackd re-points "current" to
# releases/V (a new symlink renamed over the old one) and runs the
# restart_command, which starts whatever current holds. A concurrent
# reader never finds current missing; a bad release is rolled back to the
# previous release directory; a rollback target whose directory is gone
# is reported when a release is announced; prune removes old release
# directories but never one a deploy or a rollback needs, and never
# follows a symlink out of releases.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

APP=$T/app
REL=$APP/releases
CUR=$APP/current
RESTART=$ROOT/tests/demo/restart-current
mkdir -p "$REL"

PORT=$(free_port) || fail "no free port"
write_config
cat > "$POLICIES/demo.yaml" <<EOF2
# $TEST_NAME: the demo service deployed from release directories.
service: demo
deploy:
  releases: $REL
  current: $CUR
  restart_command: [$RESTART, --current, $CUR, --dir, $SVC_DIR,
    --port, "$PORT", --service, "{service}", --from, "{from_version}",
    --bin, $DEMO]
  timeout: 20s
watch:
  interval: 250ms
  duration: 3s
  warmup: 0s
  verify: 1s
checks:
  - name: healthz
    http:
      url: "http://127.0.0.1:$PORT/healthz"
      timeout: 200ms
    fail_after: 3
EOF2
# A service deployed with a command, for prune's refusal.
write_policy other "$(free_port)"
start_daemon

# make_release V [DEMO-ARGS]: releases/V with its VERSION (and args).
make_release() {
	mkdir -p "$REL/$1"
	echo "$1" > "$REL/$1/VERSION"
	[ $# -lt 2 ] || echo "$2" > "$REL/$1/args"
}

# switch_by_hand V: what the team's own deploy does, atomically too (a
# rename over current), then the restart; rollbackd is told afterwards.
switch_by_hand() {
	ln -s "$REL/$1" "$APP/.by-hand" && mv -T "$APP/.by-hand" "$CUR" ||
		fail "switching current to $1 by hand"
	"$RESTART" --current "$CUR" --dir "$SVC_DIR" --port "$PORT" \
	    --service demo --bin "$DEMO" >> "$T/deploy-by-hand.log" 2>&1 ||
		fail "restart of $1 by hand failed: $(tail -n 5 "$T/deploy-by-hand.log")"
}

current_is() {
	[ "$(readlink "$CUR")" = "$REL/$1" ]
}

step "seed v1 as known-good"
make_release v1
switch_by_hand v1
assert_exit 0 "$CTL" deployed demo v1
assert_exit 0 "$CTL" mark-good demo v1
wait_state demo idle v1 5

step "a concurrent reader watches current from now on"
cat > "$T/reader.py" <<'EOF2'
import os, sys
cur, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
n = fails = 0
seen = set()
first_error = ""
while not os.path.exists(stop):
    for _ in range(200):
        n += 1
        try:
            seen.add(os.readlink(cur))
            os.stat(cur)
        except OSError as e:
            fails += 1
            first_error = first_error or repr(e)
with open(out, "w") as f:
    f.write("%d %d %d %s\n" % (n, fails, len(seen), first_error))
EOF2
python3 "$T/reader.py" "$CUR" "$T/reader.stop" "$T/reader.out" &
READER=$!
stop_reader() {
	kill "$READER" 2>/dev/null
	wait "$READER" 2>/dev/null
}
add_cleanup stop_reader

step "a bad release is rolled back to the previous release directory"
make_release v2-bad "--fail-after-requests 0"
switch_by_hand v2-bad
assert_exit 0 "$CTL" deployed demo v2-bad
wait_state demo idle v1 20
current_is v1 || fail "current -> $(readlink "$CUR"), expected $REL/v1"
assert_eq v1 "$(http_get /version)" "the live service's version"
assert_eq "v1 from=v2-bad" "$(cut -d' ' -f1,2 "$SVC_DIR/deploy-calls.log")" \
    "the restart rollbackd ran"
assert_contains "$(cat "$DLOG")" "demo: release-directory deploy current -> $REL/v1; restart_command exited with status 0" \
    "daemon log"

step "rollbackd switches between release directories, again and again"
make_release v2
switch_by_hand v2
assert_exit 0 "$CTL" deployed demo v2
assert_exit 0 "$CTL" mark-good demo v2
wait_state demo idle v2 5
# A manual rollback marks the release it leaves bad: mark it good again.
for i in 1 2 3; do
	assert_exit 0 "$CTL" mark-good demo v1
	assert_exit 0 "$CTL" rollback demo --to v1
	wait_state demo idle v1 15
	current_is v1 || fail "round $i: current -> $(readlink "$CUR")"
	assert_exit 0 "$CTL" mark-good demo v2
	assert_exit 0 "$CTL" rollback demo --to v2
	wait_state demo idle v2 15
	current_is v2 || fail "round $i: current -> $(readlink "$CUR")"
	assert_eq v2 "$(http_get /version)" "round $i: the live version"
done
: > "$T/reader.stop"
wait "$READER"
read -r reads fails seen err < "$T/reader.out"
echo "reader: $reads reads of current, $fails failed, $seen targets seen $err"
assert_eq 0 "$fails" "reads of current that failed ($err)"
[ "$reads" -ge 2000 ] || fail "only $reads reads of current"
[ "$seen" -ge 3 ] || fail "the reader saw only $seen link targets"
ls -a "$APP" | grep -q rbd- && fail "a temporary link was left behind: $(ls -a "$APP")"

step "a deploy of a release without a directory fails, current untouched"
assert_exit 0 "$CTL" mark-good demo v9
assert_exit 0 "$CTL" rollback demo --to v9
wait_state demo held v2 15
current_is v2 || fail "current -> $(readlink "$CUR") after a refused deploy"
assert_contains "$(svc_field demo reason)" "release directory $REL/v9 does not exist" \
    "reason of the hold"
