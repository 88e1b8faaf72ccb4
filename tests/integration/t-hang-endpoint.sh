#!/bin/sh
# An endpoint that accepts connections and never answers: its samples fail
# by timeout (a reason distinct from a wrong status), and the daemon answers
# status promptly all along. fail_after 12 keeps the watch going for about
# 3 s, long enough for several status calls on a loaded machine.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_demo timeout=200ms fail_after=12 duration=10s
seed_good v1

step "v2-hang: every health check hangs"
deploy_by_hand v2-hang v1
assert_exit 0 "$CTL" deployed demo v2-hang
n=0 slow=0
while state_is demo watching; do
	t0=$(now_ms)
	timeout 5 "$CTL" status > /dev/null || fail "status failed while v2-hang was watched"
	dt=$(( $(now_ms) - t0 ))
	[ $dt -gt $slow ] && slow=$dt
	n=$((n + 1))
	[ $n -lt 200 ] || fail "still watching v2-hang after 200 status calls"
done
echo "status answered $n times while watching, slowest ${slow} ms"
[ $n -ge 3 ] || fail "only $n status calls during the watch"
[ $slow -lt 1000 ] || fail "status took $slow ms while a probe was hanging"

step "rolled back because of timeouts"
wait_state demo idle v1 15
degraded=$(history_lines demo | grep '^degraded|')
assert_contains "$degraded" "healthz" "reason of the rollback"
case $degraded in
*[Tt]ime*) ;;
*) fail "the rollback's reason does not say timeout: $degraded" ;;
esac
assert_not_contains "$degraded" "HTTP 500" "reason of the rollback"
assert_eq 1 "$(rbd_deploy_calls)" "deploys started by rollbackd"
