#!/bin/sh
# rollbackctl pause: while a service is paused, a bad release is judged and
# held with the rollback it would have had ("would have rolled back ...
# paused"), but the deploy command is not run; a pause with --for ends by
# itself, and then a bad release is rolled back again. A pause survives a
# restart of the daemon (kill -9), keeps its end, and one that ended while
# the daemon was down is over when it comes back.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# Whether status shows no pause for demo.
not_paused() {
	[ "$(svc_json demo "['paused']")" = null ]
}

# Whether the wall clock (usec) has passed $1.
wall_past() {
	[ "$(date +%s%6N)" -gt "$1" ]
}

setup_demo duration=2s
seed_good v1
assert_eq null "$(svc_json demo "['paused']")" "paused before any pause"

step "resume when not paused is refused"
assert_exit 4 "$CTL" resume demo
assert_contains "$ERR" "not paused" "refusal of resume"

step "pause until resumed, then resume"
assert_exit 0 "$CTL" pause demo
assert_contains "$OUT" "demo: paused by uid " "pause output"
assert_contains "$OUT" "until resumed" "pause output"
assert_eq null "$(svc_json demo "['paused']['until']")" "paused.until"
assert_exit 0 "$CTL" resume demo
assert_contains "$OUT" "demo: resumed" "resume output"
not_paused || fail "still paused after resume: $(svc_json demo "['paused']")"
assert_eq "resumed paused" "$(history_events demo 2)" "newest history events"

step "invalid pauses are refused before anything is sent"
assert_exit 64 "$CTL" pause demo --for 0s
assert_exit 64 "$CTL" pause demo --for 31d
assert_exit 64 "$CTL" pause demo --reason "$(printf 'a\033[2Jb')"
not_paused || fail "paused by an invalid request"

step "pause for 12s: status shows it"
# Deployed by hand first (nothing judges it before it is announced), so
# that the judgement fits well within the pause.
deploy_by_hand v2-bad v1
# Long enough that a loaded machine still judges the release within it.
assert_exit 0 "$CTL" pause demo --for 12s --reason "db maintenance"
assert_contains "$OUT" "demo: paused by uid " "pause output"
assert_contains "$OUT" ": db maintenance" "pause output"
assert_eq "db maintenance" "$(svc_json demo "['paused']['reason']")" "paused.reason"
until=$(svc_json demo "['paused']['until']")
case $until in
''|null|*[!0-9]*) fail "paused.until is not a time: '$until'" ;;
esac
assert_exit 0 "$CTL" status
echo "$OUT"
assert_contains "$(echo "$OUT" | grep '^demo ')" "(paused)" "status table"
assert_contains "$OUT" "demo: paused by uid " "status"
assert_contains "$OUT" "db maintenance" "status"
assert_exit 0 "$CTL" status demo
echo "$OUT"
assert_contains "$OUT" "paused by uid " "status demo"

step "a bad release during the pause: judged, held, nothing run"
assert_exit 0 "$CTL" deployed demo v2-bad
wait_state demo held v2-bad 15
hist=$(history_lines demo)
echo "$hist"
# The pause may have ended since ("resumed"): the decision is the newest
# event before that.
newest=$(echo "$hist" | grep -v '^resumed|' | head -n 1)
assert_contains "$newest" "would-roll-back|watching|held|v2-bad" "newest history event"
assert_contains "$newest" "would have rolled back" "would-roll-back event's reason"
assert_contains "$newest" "v1" "would-roll-back event's reason"
assert_contains "$newest" "paused" "would-roll-back event's reason"
assert_contains "$newest" "db maintenance" "would-roll-back event's reason"
assert_not_contains "$hist" "rolled-back|" "history"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
if [ -e "$SVC_DIR/deploy-calls.log" ]; then
	fail "rollbackd ran the deploy command: $(cat "$SVC_DIR/deploy-calls.log")"
fi
assert_eq v2-bad "$(http_get /version)" "the live service's version"
assert_exit 0 "$CTL" history demo
echo "$OUT"
assert_contains "$OUT" "would roll back (not run)" "history output"
assert_contains "$OUT" "would have rolled back" "history output"

step "the pause ends by itself"
wait_for "the pause to end" 25 not_paused
hist=$(history_lines demo)
echo "$hist"
resumed=$(echo "$hist" | grep '^resumed|' | head -n 1)
assert_contains "$resumed" "resumed|held|held|v2-bad" "resumed event"
assert_contains "$resumed" "db maintenance" "resumed event's reason"
assert_eq "" "$(echo "$resumed" | cut -d'|' -f6)" "resumed event's actor (the daemon)"
assert_eq held "$(svc_field demo state)" "state after the pause (a person decides)"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_exit 4 "$CTL" resume demo
assert_contains "$ERR" "not paused" "refusal of resume after the pause"

step "a bad release after the pause is rolled back"
deploy_by_hand v3-bad v2-bad
assert_exit 0 "$CTL" deployed demo v3-bad
wait_state demo idle v1 15
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq "v1 from=v3-bad" "$(tail -n 1 "$SVC_DIR/deploy-calls.log" | cut -d' ' -f1-2)" \
    "the rollback's deploy"
assert_eq v1 "$(http_get /version)" "the live service's version"

step "a pause survives kill -9 and a restart, with its end"
assert_exit 0 "$CTL" pause demo --for 10s --reason "restart drill"
until=$(svc_json demo "['paused']['until']")
crash_daemon
start_daemon
assert_eq "restart drill" "$(svc_json demo "['paused']['reason']")" \
    "paused.reason after the restart"
assert_eq "$until" "$(svc_json demo "['paused']['until']")" \
    "paused.until after the restart"
wait_for "the pause to end after the restart" 15 not_paused
hist=$(history_lines demo)
assert_contains "$(echo "$hist" | head -n 1)" "resumed|idle|idle|v1" \
    "newest history event"

step "a pause that ends while the daemon is down is over when it comes back"
assert_exit 0 "$CTL" pause demo --for 1s --reason "short"
until=$(svc_json demo "['paused']['until']")
stop_daemon
wait_for "the pause's end to pass" 10 wall_past "$until"
start_daemon
wait_for "the pause to be over" 5 not_paused
hist=$(history_lines demo)
newest=$(echo "$hist" | head -n 1)
assert_contains "$newest" "resumed|idle|idle|v1" "newest history event"
assert_contains "$newest" "short" "resumed event's reason"
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"
