#!/bin/sh
# A dependency guard: while the guard "db" (an http check on a second demo
# service, the dependency) fails, a release that degrades is not rolled
# back: held, event "guarded", the reason names the guard, the release is
# not marked bad, the deploy command is not run. Once the dependency is
# healthy again, a bad release is rolled back as usual.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

DEP_DIR=$T/dep
mkdir -p "$DEP_DIR"

# deploy_dep V: (re)start the dependency as release V on $DEP_PORT.
deploy_dep() {
	"$DEPLOY" --dir "$DEP_DIR" --port "$DEP_PORT" --service db \
	    --version "$1" --bin "$DEMO" >> "$T/deploy-dep.log" 2>&1 ||
		fail "deploying the dependency as $1 failed: $(tail -n 5 "$T/deploy-dep.log")"
}
# Cleanup hook: lib.sh stops the services of $SVC_DIR only.
stop_dep() {
	[ -s "$DEP_DIR/db.pid" ] && kill -TERM "$(cat "$DEP_DIR/db.pid")" 2>/dev/null
	return 0
}
add_cleanup stop_dep

# guard_failing true|false: whether status says the guard is failing.
guard_failing() {
	[ "$(svc_json demo "['guards'][0]['failing']")" = "$1" ]
}

# guard_last ok|fail|unknown: whether the guard's last sample was that.
guard_last() {
	[ "$(svc_json demo "['guards'][0]['last']")" = "$1" ]
}

# guard_detail_has TEXT: whether the guard's last detail contains TEXT.
guard_detail_has() {
	case $(svc_json demo "['guards'][0]['detail']") in
	*"$1"*) return 0 ;;
	esac
	return 1
}

step "the dependency is up, and guarded"
# Started before the demo's port is chosen, so the two cannot collide.
DEP_PORT=$(free_port) || fail "no free port"
deploy_dep db-ok
setup_demo extra="guards:
  - name: db
    http:
      url: \"http://127.0.0.1:$DEP_PORT/healthz\"
      timeout: 200ms
    fail_after: 2"
seed_good v1
wait_for "guard db to pass a sample" 10 guard_last ok
assert_eq db "$(svc_json demo "['guards'][0]['name']")" "guard name"
assert_eq http "$(svc_json demo "['guards'][0]['type']")" "guard type"
assert_eq 2 "$(svc_json demo "['guards'][0]['fail_after']")" "guard fail_after"
assert_eq false "$(svc_json demo "['guards'][0]['failing']")" "guard failing"

step "the dependency fails (HTTP 500): the guard is failing"
deploy_dep db-bad
wait_for "guard db to be failing" 10 guard_failing true
assert_contains "$(svc_json demo "['guards'][0]['detail']")" "500" "guard detail"
since=$(svc_json demo "['guards'][0]['failing_since']")
case $since in
''|null|*[!0-9]*) fail "guard failing_since: expected a time, got '$since'" ;;
esac
assert_eq idle "$(svc_field demo state)" "state (a guard alone changes nothing)"

step "v2-bad degrades while the guard fails: held, not rolled back"
deploy_by_hand v2-bad v1
assert_exit 0 "$CTL" deployed demo v2-bad
wait_state demo held v2-bad 15
hist=$(history_lines demo)
echo "$hist"
assert_contains "$(echo "$hist" | head -n 1)" "guarded|watching|held|v2-bad" \
    "newest history event"
assert_not_contains "$hist" "rolled-back|" "history"
reason=$(svc_field demo reason)
echo "reason: $reason"
assert_contains "$reason" "guard db failing since " "held reason"
echo "$reason" | grep -Eq 'failing since [0-2][0-9]:[0-5][0-9]:[0-6][0-9] UTC' ||
	fail "held reason: expected 'failing since HH:MM:SS UTC', got: $reason"
assert_contains "$reason" "not rolling back demo v2-bad" "held reason"
assert_contains "$reason" "500" "held reason (the guard's failure)"
assert_contains "$reason" "healthz" "held reason (the release's failing check)"

step "nothing was run, and v2-bad is not marked bad"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq v2-bad "$(http_get /version)" "the live service's version"
assert_eq v1 "$(svc_field demo known_good)" "known-good"
# A release marked bad is refused as "marked bad"; v2-bad is only live.
assert_exit 4 "$CTL" rollback demo --to v2-bad
assert_not_contains "$ERR" "marked bad" "refusal of a rollback to v2-bad"
assert_contains "$ERR" "already live" "refusal of a rollback to v2-bad"

step "held stays held: nothing is run for 6 intervals"
t_end=$(( $(now_ms) + 1500 ))
while [ "$(now_ms)" -lt "$t_end" ]; do
	state_is demo held || fail "left held: $(svc_field demo state)"
	sleep 0.1
done
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"

step "the dependency stops: still failing, the same run (same failing_since)"
stop_dep
wait_for "the guard to see connection refused" 10 guard_detail_has "connection refused"
assert_eq true "$(svc_json demo "['guards'][0]['failing']")" "guard failing"
assert_eq "$since" "$(svc_json demo "['guards'][0]['failing_since']")" \
    "guard failing_since (a failing run goes on whatever the failure)"
assert_eq held "$(svc_field demo state)" "state"
assert_eq 0 "$(rbd_deploy_calls)" "deploys started by rollbackd"

step "control: the dependency is healthy again, and v3-bad is rolled back"
deploy_dep db-ok2
wait_for "guard db to stop failing" 10 guard_failing false
assert_eq null "$(svc_json demo "['guards'][0]['failing_since']")" \
    "guard failing_since once healthy"
before=$(deploys_count)
deploy_by_hand v3-bad v2-bad
assert_exit 0 "$CTL" deployed demo v3-bad
wait_state demo idle v1 15
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq "v1 from=v3-bad" "$(tail -n 1 "$SVC_DIR/deploy-calls.log" | cut -d' ' -f1-2)" \
    "the rollback's deploy"
assert_eq "deployed v3-bad
deployed v1" "$(deploys_after "$before")" "deploys after v3-bad"
hist=$(history_lines demo)
echo "$hist"
assert_eq 1 "$(echo "$hist" | grep -c '^guarded|')" "guarded events"
assert_contains "$(echo "$hist" | grep '^degraded|' | head -n 1)" \
    "rolling back from v3-bad to v1" "the control's degraded event"
