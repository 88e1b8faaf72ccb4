#!/bin/sh
# A full disk under the state directory (a small tmpfs; a read-only one is
# t-store-readonly): a decision that cannot be recorded is not acted on (write-ahead: no
# rollback without its record); status (text and --json) and the log say
# so; probing goes on, operator commands are refused with the reason; once
# the store can be written again the daemon finds out by itself (retries
# with backoff) and goes on from its record: the rollback it could not
# record is decided again and run once.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# The state directory on its own small file system.
if ! mount -t tmpfs -o size=4m,mode=0700 tmpfs "$STATE" 2>"$T/mount.err"; then
	echo "SKIP: t-store-unwritable: cannot mount a tmpfs on $STATE (needs root" \
	    "and CAP_SYS_ADMIN): $(cat "$T/mount.err")"
	exit 0
fi
unmount_state() {
	umount -l "$STATE" 2>/dev/null
}
add_cleanup unmount_state

store_field() {	# FIELD: one field of status --json's "store"
	timeout 5 "$CTL" status --json 2>/dev/null | json_get "d['store']['$1']"
}
samples() {
	timeout 5 "$CTL" status --json 2>/dev/null | json_get "d['probes']['samples']"
}
samples_above() {
	[ "$(samples)" -gt "$1" ]
}
log_has() {
	grep -q -- "$1" "$DLOG"
}

setup_demo warmup=3s duration=6s verify=4s
seed_good v1
assert_eq true "$(store_field writable)" "store writable at start"
assert_eq null "$(store_field error)" "store error at start"

step "v2-bad announced, then the disk fills up during its warm-up"
deploy_by_hand v2-bad v1
assert_exit 0 "$CTL" deployed demo v2-bad
dd if=/dev/zero of="$STATE/filler" bs=64k 2>/dev/null
dd if=/dev/zero of="$STATE/filler2" bs=1k 2>/dev/null
dd if=/dev/zero of="$STATE/filler3" bs=1 count=4096 2>/dev/null
assert_eq 0 "$(df -P "$STATE" | awk 'NR == 2 { print $4 }')" "free space"

step "the degradation cannot be recorded: nothing is deployed, it says so"
wait_for "the refusal in the log" 15 log_has "could not record the decision, not acting on it"
assert_contains "$(grep 'could not record the decision' "$DLOG" | head -n 1)" \
    "database or disk is full" "the log line"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started without a record"
assert_eq watching "$(svc_field demo state)" "state (as recorded)"
assert_eq v2-bad "$(svc_field demo live)" "live (as recorded)"
assert_eq false "$(store_field writable)" "status store.writable"
assert_contains "$(store_field error)" "database or disk is full" "status store.error"
[ "$(store_field failing_since)" != null ] || fail "status store.failing_since is null"
assert_exit 0 "$CTL" status
assert_contains "$OUT" "rollbackd cannot record decisions since " "status text"
assert_contains "$OUT" "database or disk is full; it does not act on them until it can (retrying)" \
    "status text"

step "probing goes on, operator commands are refused"
n=$(samples)
wait_for "more samples" 10 samples_above $((n + 4))
run "$CTL" pause demo --reason full
[ "$RC" -ne 0 ] || fail "pause was accepted though it cannot be recorded"
assert_contains "$ERR" "could not be recorded" "pause's error"
assert_eq null "$(svc_json demo "['paused']")" "paused"
wait_for "a retry in the log" 15 log_has "the store still cannot be written"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started without a record"

step "space returns: the daemon notices by itself and rolls back, once"
rm -f "$STATE/filler" "$STATE/filler2" "$STATE/filler3"
wait_for "the store to be written again" 40 log_has "the store can be written again"
wait_state demo idle v1 30
assert_eq true "$(store_field writable)" "store writable after space returned"
assert_eq null "$(store_field error)" "store error after space returned"
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq v1 "$(http_get /version)" "the live service's version"
assert_exit 0 "$CTL" status
assert_not_contains "$OUT" "cannot record decisions" "status text"
assert_eq "verified rolled-back degraded deployed" "$(history_events demo 4)" \
    "newest history events"

