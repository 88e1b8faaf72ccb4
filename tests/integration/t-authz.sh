#!/bin/sh
# Issue 9: who may do what. With read_group and deploy_group in the main
# config, real non-root peers (setpriv) are answered by their credentials:
# the read group may read, the deploy group (and root) may also change
# state, anyone else is refused with exit 77 and a log line naming them.
# An unknown group stops -t and the start; without the keys the socket is
# 0660 and every peer that can connect may do everything, as before.
#
# Needs root (useradd, groupadd, setpriv): the CI runs as root.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || fail "needs root to add a user and groups (useradd, setpriv)"

# Names unique to this run; removed at exit whatever happens.
TAG=$(basename "$T" | tr -dc 'a-zA-Z0-9' | tail -c 6 | tr '[:upper:]' '[:lower:]')
RGROUP=rbdr-$TAG
DGROUP=rbdd-$TAG
USER_NAME=rbdu-$TAG
remove_ids() {
	userdel "$USER_NAME" 2>/dev/null
	groupdel "$RGROUP" 2>/dev/null
	groupdel "$DGROUP" 2>/dev/null
	return 0
}
add_cleanup remove_ids
groupadd "$RGROUP" || fail "groupadd $RGROUP"
groupadd "$DGROUP" || fail "groupadd $DGROUP"
useradd -M -N -g "$RGROUP" -s /usr/sbin/nologin "$USER_NAME" || fail "useradd"
UID_U=$(id -u "$USER_NAME")
GID_R=$(getent group "$RGROUP" | cut -d: -f3)
GID_D=$(getent group "$DGROUP" | cut -d: -f3)
# A group that is neither.
GID_NONE=$(getent group nogroup | cut -d: -f3)
if [ -z "$UID_U" ] || [ -z "$GID_R" ] || [ -z "$GID_D" ] || [ -z "$GID_NONE" ]; then
	fail "cannot look up the test user and groups"
fi

# The user must reach the socket: $T and $T/run are searchable by all
# (and still writable by root only).
chmod 0711 "$T" "$T/run"

# $AS GID GROUPS CMD...: run CMD as the test user with primary group GID
# and supplementary GROUPS ("" none, else "g1,g2"). A script, so that run
# and timeout can start it.
AS=$T/as-user
cat > "$AS" <<EOF
#!/bin/sh
gid=\$1 groups=\$2
shift 2
if [ -n "\$groups" ]; then
	exec setpriv --reuid=$UID_U --regid="\$gid" --groups="\$groups" -- "\$@"
fi
exec setpriv --reuid=$UID_U --regid="\$gid" --clear-groups -- "\$@"
EOF
chmod 0755 "$AS"

PORT=$(free_port)
write_config
write_policy demo "$PORT"

step "an unknown group: rollbackd -t and the start fail, saying where"
printf 'read_group: rbd-no-such-group-%s\ndeploy_group: %s\n' "$TAG" "$DGROUP" >> "$CONF"
assert_exit 1 "$RBD" -t -c "$CONF"
assert_contains "$ERR" "$CONF:4:13: read_group: no such group 'rbd-no-such-group-$TAG'" "-t"
"$RBD" -c "$CONF" >> "$DLOG" 2>&1
assert_eq 78 "$?" "exit status of a start with an unknown group"
assert_contains "$(cat "$DLOG")" "read_group: no such group" "log"

step "read_group $RGROUP, deploy_group $DGROUP"
write_config
printf 'read_group: %s\ndeploy_group: %s\n' "$RGROUP" "$DGROUP" >> "$CONF"
assert_exit 0 "$RBD" -t -c "$CONF"
start_daemon
seed_good v1
assert_eq 666 "$(stat -c %a "$SOCK")" "socket mode with groups configured"

step "in neither group: everything refused, exit 77"
for verb in "status" "history demo" "pause demo" "rollback demo" "reload"; do
	# shellcheck disable=SC2086 # verb and its argument
	assert_exit 77 "$AS" "$GID_NONE" "" "$CTL" $verb
done
assert_exit 77 "$AS" "$GID_NONE" "" "$CTL" status
assert_contains "$ERR" "permission denied: uid $UID_U ($USER_NAME) is not in read group $RGROUP or deploy group $DGROUP; status needs one of them" "status refused"

step "in the read group (primary, then supplementary): reading only"
for who in "$GID_R|" "$GID_NONE|$GID_R"; do
	gid=${who%%|*}
	groups=${who#*|}
	assert_exit 0 "$AS" "$gid" "$groups" "$CTL" status
	assert_contains "$OUT" "demo" "status as a reader"
	assert_exit 0 "$AS" "$gid" "$groups" "$CTL" history demo
	assert_exit 0 "$AS" "$gid" "$groups" "$CTL" status demo --json
	for verb in "deployed demo v9" "rollback demo" "mark-good demo v1" \
	    "mark-bad demo v0" "pause demo" "resume demo" "reload"; do
		# shellcheck disable=SC2086
		assert_exit 77 "$AS" "$gid" "$groups" "$CTL" $verb
	done
done
assert_exit 77 "$AS" "$GID_R" "" "$CTL" rollback demo
assert_contains "$ERR" "permission denied: uid $UID_U ($USER_NAME) is not in deploy group $DGROUP; rollback needs it" "rollback refused"
assert_eq idle "$(svc_field demo state)" "state after refused changes"
assert_eq null "$(svc_field demo paused)" "not paused by a refused pause"

step "the refusals are logged with who asked"
wait_for "a refusal in the log" 5 grep -q "denied rollback demo to pid [0-9]*: uid $UID_U ($USER_NAME) is not in deploy group $DGROUP" "$DLOG"

step "in the deploy group (supplementary, then primary): changes too"
assert_exit 0 "$AS" "$GID_NONE" "$GID_D" "$CTL" pause demo --reason "authz test"
assert_contains "$(svc_field demo paused)" "uid $UID_U" "paused by"
assert_exit 0 "$AS" "$GID_D" "" "$CTL" resume demo
assert_exit 0 "$AS" "$GID_D" "" "$CTL" status
assert_exit 0 "$AS" "$GID_D" "" "$CTL" history demo
assert_exit 0 "$AS" "$GID_NONE" "$GID_R,$GID_D" "$CTL" mark-bad demo v0
assert_exit 0 "$AS" "$GID_D" "" "$CTL" reload

step "root may do everything"
assert_exit 0 "$CTL" pause demo
assert_exit 0 "$CTL" resume demo

step "reload without read_group: readers are refused now"
write_config
echo "deploy_group: $DGROUP" >> "$CONF"
assert_exit 0 "$CTL" reload
assert_exit 77 "$AS" "$GID_R" "" "$CTL" status
assert_contains "$ERR" "is not in deploy group $DGROUP; status needs it" "status refused"
assert_exit 0 "$AS" "$GID_D" "" "$CTL" status

step "reload with an unknown group: rejected, the old groups stay"
echo "read_group: rbd-no-such-group-$TAG" >> "$CONF"
assert_exit 4 "$CTL" reload
assert_contains "$ERR" "read_group: no such group" "reload rejected"
assert_exit 77 "$AS" "$GID_R" "" "$CTL" status
assert_exit 0 "$AS" "$GID_D" "" "$CTL" status

step "reload without groups: the socket is 0660 again, as by default"
write_config
assert_exit 0 "$CTL" reload
assert_eq 660 "$(stat -c %a "$SOCK")" "socket mode without groups"
assert_exit 69 "$AS" "$GID_D" "" "$CTL" status
assert_contains "$ERR" "Permission denied" "a user outside the socket's group"
assert_exit 0 "$CTL" status

step "the daemon is up and its state intact"
daemon_alive || fail "rollbackd died"
assert_eq idle "$(svc_field demo state)" "state"
assert_eq v1 "$(svc_field demo known_good)" "known-good"
