#!/bin/sh
# Remedies before rollback, when none works: v2-flagged is unhealthy while
# its flag is on, and no remedy turns it off. The first remedy runs and
# succeeds but the checks fail again within its settle period; the second
# fails outright (exit status 1). After the last, the rollback runs as
# before: v1 redeployed and verified, and the degradation's reason says
# how the last remedy went. Remedies and the rollback all count for the
# loop breaker. An operator's rollback during a remedy goes straight to
# the rollback.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

FLAG=$SVC_DIR/flag
PORT=$(free_port) || fail "no free port"
write_config
write_policy demo "$PORT" duration=4s verify=1s extra="rollback:
  max_automatic: 10
remedies:
  - name: noop
    command: [/bin/true]
    settle: 3s
  - name: broken
    command: [/bin/sh, -c, 'echo flag service unreachable; exit 1']
    settle: 1s
  - name: never
    command: [/bin/sleep, '30']
    timeout: 20s
    settle: 1s"
echo "--flag-file $FLAG" > "$SVC_DIR/deploy-args"
start_daemon
seed_good v1
# Only two remedies for the first part: the third is for the operator's.
write_policy demo "$PORT" duration=4s verify=1s extra="rollback:
  max_automatic: 10
remedies:
  - name: noop
    command: [/bin/true]
    settle: 3s
  - name: broken
    command: [/bin/sh, -c, 'echo flag service unreachable; exit 1']
    settle: 1s"
assert_exit 0 "$CTL" reload

step "v2-flagged degrades; noop runs, but the checks fail again in its settle"
touch "$FLAG"
deploy_by_hand v2-flagged v1
assert_exit 0 "$CTL" deployed demo v2-flagged

step "after the last remedy, the rollback to v1"
wait_state demo idle v1 20
hist=$(history_lines demo)
echo "$hist"
assert_eq "verified rolled-back degraded remedying remedy-ran remedying deployed" \
    "$(history_events demo 7)" "history"
deg=$(echo "$hist" | grep '^degraded|')
assert_contains "$deg" "degraded|remedying|rolling_back|v2-flagged|v1" "degraded event"
assert_contains "$deg" "healthz: HTTP 500" "degraded reason (what failed)"
assert_contains "$deg" "remedy broken (2 of 2) failed: exited with status 1; last output: flag service unreachable" \
    "degraded reason (how the last remedy went)"
assert_contains "$deg" "rolling back from v2-flagged to v1" "degraded reason"
assert_contains "$hist" "remedy noop (1 of 2) did not fix it: healthz: HTTP 500" \
    "the second remedying event says why noop did not do"
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"
assert_eq "v1 from=v2-flagged" "$(tail -n 1 "$SVC_DIR/deploy-calls.log" | cut -d' ' -f1-2)" \
    "the rollback's deploy"
assert_eq 3 "$(svc_json demo "['automatic_rollbacks']['count']")" \
    "two remedies and a rollback count for the loop breaker"

step "an operator's rollback during a remedy goes straight to the rollback"
write_policy demo "$PORT" duration=4s verify=1s extra="rollback:
  max_automatic: 10
remedies:
  - name: never
    command: [/bin/sleep, '30']
    timeout: 20s
    settle: 1s"
assert_exit 0 "$CTL" reload
deploy_by_hand v3-flagged v1
assert_exit 0 "$CTL" deployed demo v3-flagged
wait_state demo remedying v3-flagged 10
run "$CTL" status demo
assert_contains "$OUT" "remedying: trying never (1 of 1), its action running" \
    "status while the remedy runs"
assert_exit 0 "$CTL" rollback demo
wait_state demo idle v1 20
assert_eq "rollback-requested remedying" "$(history_events demo 4 | cut -d' ' -f3-4)" \
    "history"
assert_eq 2 "$(rbd_deploy_calls)" "deploys started by rollbackd"
