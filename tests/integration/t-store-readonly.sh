#!/bin/sh
# A read-only state directory under a running daemon (chattr +i on the
# database, its WAL and the directory: the daemon's open descriptors can
# no longer write; not on the -shm index, which SQLite maps: a store to a
# mapping of an immutable file is SIGBUS, something no real read-only file
# system does to a mapping made before): a decision that cannot be recorded is not acted on,
# status (text and --json) and the log say so, operator commands are
# refused; once it is writable again the daemon finds out by itself and
# rolls back, once. (A read-only directory at start is a fatal error:
# check_store's test_read_only_database.)
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

store_field() {	# FIELD: one field of status --json's "store"
	timeout 5 "$CTL" status --json 2>/dev/null | json_get "d['store']['$1']"
}
make_writable() {
	chattr -i "$STATE/rollbackd.db" "$STATE/rollbackd.db-wal" "$STATE" 2>/dev/null
}
add_cleanup make_writable

# Whether this file system refuses writes to an immutable file through a
# descriptor opened before (ext4 does; tmpfs does not).
immutable_enforced() {
	local f=$STATE/.probe rc
	: > "$f"
	exec 8>>"$f"
	chattr +i "$f" 2>/dev/null || { exec 8>&-; rm -f "$f"; return 1; }
	echo x >&8 2>/dev/null
	rc=$?
	exec 8>&-
	chattr -i "$f"
	rm -f "$f"
	[ $rc -ne 0 ]
}
if ! immutable_enforced; then
	echo "SKIP: t-store-readonly: chattr +i does not stop writes on $STATE's" \
	    "file system (needs root and e.g. ext4)"
	exit 0
fi

setup_demo warmup=3s duration=6s verify=4s
seed_good v1
step "the state directory becomes read-only (chattr +i) while v3-bad is watched"
deploy_by_hand v3-bad v1
assert_exit 0 "$CTL" deployed demo v3-bad
if ! chattr +i "$STATE/rollbackd.db" "$STATE/rollbackd.db-wal" "$STATE" 2>"$T/chattr.err"; then
	fail "chattr +i failed: $(cat "$T/chattr.err")"
fi
log_has() {
	grep -q -- "$1" "$DLOG"
}
wait_for "the refusal in the log" 15 log_has "could not record the decision, not acting on it"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq watching "$(svc_field demo state)" "state (as recorded)"
assert_eq v3-bad "$(svc_field demo live)" "live (as recorded)"
assert_eq false "$(store_field writable)" "status store.writable"
err=$(store_field error)
echo "status store.error: $err"
assert_contains "$err" "$STATE/rollbackd.db: disk I/O error" "status store.error"
assert_exit 0 "$CTL" status
assert_contains "$OUT" "rollbackd cannot record decisions since " "status text"
run "$CTL" mark-bad demo v3-bad
[ "$RC" -ne 0 ] || fail "mark-bad was accepted though it cannot be recorded"
assert_contains "$ERR" "could not be recorded" "mark-bad's error"

step "writable again: rolled back by itself"
make_writable
wait_state demo idle v1 40
assert_eq true "$(store_field writable)" "store writable again"
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq v1 "$(http_get /version)" "the live service's version"
assert_eq "verified rolled-back degraded deployed" "$(history_events demo 4)" \
    "newest history events"
raw=$(python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' \
    "$STATE/rollbackd.db")
assert_eq ok "$raw" "integrity_check"
