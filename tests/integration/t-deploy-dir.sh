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
	if ! { ln -s "$REL/$1" "$APP/.by-hand" && mv -T "$APP/.by-hand" "$CUR"; }; then
		fail "switching current to $1 by hand"
	fi
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
seen = {os.readlink(cur)}
first_error = ""
open(out + ".ready", "w").close()
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
wait_for "the reader to start" 10 test -e "$T/reader.out.ready"

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
for f in "$APP"/.*rbd-*; do
	[ -e "$f" ] || [ -L "$f" ] && fail "a temporary link was left behind: $f"
done

step "a deploy of a release without a directory fails, current untouched"
assert_exit 0 "$CTL" mark-good demo v9
assert_exit 0 "$CTL" rollback demo --to v9
wait_state demo held v2 15
current_is v2 || fail "current -> $(readlink "$CUR") after a refused deploy"
assert_contains "$(svc_field demo reason)" "release directory $REL/v9 does not exist" \
    "reason of the hold"

step "the rollback target's missing directory is reported when a release is announced"
assert_exit 0 "$CTL" mark-bad demo v9
# The manual rollbacks left v1 and v2 marked bad: good again, v2 newest.
assert_exit 0 "$CTL" mark-good demo v1
assert_exit 0 "$CTL" mark-good demo v2
make_release v3 "--fail-after-requests 0"
switch_by_hand v3
rm -r "$REL/v2"
assert_exit 0 "$CTL" deployed demo v3
warning="rollback target v2 has no release directory $REL/v2: a rollback would fail"
assert_contains "$(cat "$DLOG")" "demo: $warning" "daemon log"
assert_eq "$warning" "$(svc_field demo artifact_warning)" "status --json"
assert_exit 0 "$CTL" status demo
assert_contains "$OUT" "WARNING: $warning" "status"
step "and the rollback does fail: held on v3, current still names v3"
wait_state demo held v3 15
current_is v3 || fail "current -> $(readlink "$CUR") after a failed rollback"
assert_contains "$(svc_field demo reason)" "release directory $REL/v2 does not exist" \
    "reason of the hold"
step "once the directory is back, status says nothing more"
make_release v2
wait_for "the warning to go" 5 not sh -c \
    "'$CTL' status demo --json | grep -q 'no release directory'"

step "prune refuses a service deployed with a command"
assert_exit 4 "$CTL" prune other
assert_contains "$ERR" "other deploys with a command, not a release directory" "refusal"

step "prune keeps the newest, current, live, known-good and the target"
# Old releases, oldest first; one holds a link out of releases, and a
# symlink, a file and a name that is no release lie beside them.
mkdir -p "$T/outside"
echo precious > "$T/outside/file"
for v in v0a v0b v0c; do
	make_release $v
done
ln -s "$T/outside" "$REL/v0a/escape"
ln -s "$T/outside/file" "$REL/v0b/file-link"
mkdir -p "$REL/v0c/deep/deeper"
echo x > "$REL/v0c/deep/deeper/f"
touch -h -d '2020-01-01' "$REL/v0a" "$REL/v0b" "$REL/v0c"
touch -h -d '2021-01-01' "$REL/v1"
touch -h -d '2022-01-01' "$REL/v2-bad"
ln -s "$T/outside" "$REL/v-link"
echo notes > "$REL/notes.txt"
mkdir "$REL/.partial"
# v3 is live and current (held there), v1 and v2 known-good, v2 the
# rollback target; keep 1: the newest (v2) stays anyway.
assert_exit 0 "$CTL" prune demo --keep 1
echo "$OUT"
assert_eq "removed v2-bad
removed v0c
removed v0b
removed v0a" "$(echo "$OUT" | grep '^removed')" "what prune removed"
assert_contains "$OUT" "kept    v3: current" "prune output"
assert_contains "$OUT" "kept    v2: rollback target" "prune output"
assert_contains "$OUT" "kept    v1: known-good" "prune output"
assert_contains "$OUT" "kept    v-link: not a directory" "prune output"
assert_contains "$OUT" "kept    .partial: not a release name" "prune output"
for v in v0a v0b v0c v2-bad; do
	[ ! -e "$REL/$v" ] || fail "$REL/$v is still there"
done
for v in v1 v2 v3 v-link notes.txt .partial; do
	[ -e "$REL/$v" ] || [ -L "$REL/$v" ] || fail "$REL/$v was removed"
done
assert_eq precious "$(cat "$T/outside/file")" "what a link in a release pointed to"
for f in "$REL"/.rbd-prune-*; do
	[ -e "$f" ] && fail "prune left a hidden directory: $f"
done
assert_contains "$(cat "$DLOG")" "demo: prune: removed $REL/v0a" "daemon log"

step "prune --json, and nothing left to remove"
assert_exit 0 "$CTL" prune demo --keep 0 --json
assert_eq "[]" "$(echo "$OUT" | json_get 'd["removed"]')" "removed"
assert_eq "current" "$(echo "$OUT" | json_get '[k["why"] for k in d["kept"] if k["name"] == "v3"][0]')" "why v3 stays"
