#!/bin/sh
# shellcheck shell=dash
# shellcheck disable=SC2317 # functions called from traps and wait_until
# make check-system: rollbackd under a real systemd.
#
#   sh tests/system/run.sh BUILD
#
# Boots a throw-away copy of a cached Debian 12 tree (tests/system/tree.sh)
# with systemd-nspawn, systemd as its PID 1, installs rollbackd into it with
# "make install DESTDIR=", and drives it from outside with
# "nsenter -t <its init> -a ...": socket activation and who may use the
# socket (group rollbackd), Type=notify, a bad deploy rolled back (and its
# journal entry), a rejected reload, the unit's sandbox score, the
# watchdog, a stop and start during a watch, and a crash-looping release
# of a real systemd unit caught by the unit check.
#
# One "ok" or "FAIL" line per step; the last line is
# "system: N passed, N failed"; the exit status is non-zero on any failure.
# Whatever happens, the container is powered off, the copy removed, and no
# process is left behind. Needs root (debootstrap, nspawn, nsenter).
#
# Environment: RBD_SYS_CACHE (default ~/.cache/rollbackd), RBD_SYS_KEEP=1
# keeps the copy and prints where it is (for debugging), RBD_SYS_MIRROR.

set -u

SYS_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$SYS_DIR/../.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
# shellcheck source-path=SCRIPTDIR source=tree.sh
. "$SYS_DIR/tree.sh"

PASSED=0
FAILED=0
W=
COPY=
NSPAWN_PID=
LEADER=
DEMO_DIR=/var/lib/rollbackd-demo
DEMO_LIB=/usr/local/lib/rollbackd-demo
PORT=8081
# Step 8's demo service, a real unit.
CRASH_UNIT=demo-crash.service
CRASH_PORT=8082
# Step 9's service, deployed from release directories and restarted by
# rollbackd through systemd (deploy.restart).
DIR_UNIT=demo-dir.service
DIR_PORT=8083
DIR_APP=$DEMO_DIR/dirapp
# Step 1's users: one in group rollbackd, one not.
MEMBER=rbd-member
OUTSIDER=rbd-outsider

now() { date +%s; }
T0=$(now)

ok() {
	PASSED=$((PASSED + 1))
	echo "ok: $*"
}
notok() {
	FAILED=$((FAILED + 1))
	echo "FAIL: $*"
}
# Stop here: report and clean up (the trap does).
die() {
	echo "system: $*" >&2
	FAILED=$((FAILED + 1))
	exit 1
}

# ------------------------------------------------------------ the container

# c CMD...: run CMD inside the container, in all its namespaces, with a
# clean environment; bounded by ${C_TIMEOUT:-60} s.
c() {
	timeout "${C_TIMEOUT:-60}" nsenter -t "$LEADER" -a \
	    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	    LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# wait_until SECS CMD...: poll CMD every 0.2 s until it succeeds, at most
# SECS seconds; fails when it did not.
wait_until() {
	local secs="$1" deadline
	shift
	deadline=$(( $(now) + secs ))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(now)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# Processes whose root directory is inside the copy.
procs_in_copy() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case $r in "$COPY"|"$COPY"/*) echo "${p#/proc/}" ;; esac
	done
}

cleanup() {
	local rc=$? n left
	trap - EXIT INT TERM HUP
	if pid_alive "$LEADER"; then
		# SIGRTMIN+4: systemd's "poweroff" request.
		kill -s RTMIN+4 "$LEADER" 2>/dev/null ||
			kill -44 "$LEADER" 2>/dev/null
	fi
	if pid_alive "$NSPAWN_PID"; then
		n=0
		while pid_alive "$NSPAWN_PID" && [ "$n" -lt 150 ]; do
			sleep 0.2
			n=$((n + 1))
		done
		if pid_alive "$NSPAWN_PID"; then
			echo "system: the container did not power off within 30 s; killing it" >&2
			# Killing its init kills the whole PID namespace; nspawn follows.
			pid_alive "$LEADER" && kill -KILL "$LEADER" 2>/dev/null
			sleep 1
			pid_alive "$NSPAWN_PID" && kill -KILL "$NSPAWN_PID" 2>/dev/null
		fi
		wait "$NSPAWN_PID" 2>/dev/null
	fi
	if [ -n "$COPY" ]; then
		left=$(procs_in_copy)
		if [ -n "$left" ]; then
			echo "FAIL: processes left behind in the container: $left" >&2
			# shellcheck disable=SC2086
			kill -KILL $left 2>/dev/null
			FAILED=$((FAILED + 1))
		fi
	fi
	if [ -n "$W" ] && [ -d "$W" ]; then
		if [ "${RBD_SYS_KEEP:-0}" = 1 ]; then
			echo "system: kept $W (RBD_SYS_KEEP=1)" >&2
		else
			mountpoint -q "$W/root" 2>/dev/null && umount "$W/root"
			rm -rf "$W"
		fi
	fi
	if [ "$rc" -ne 0 ] && [ "$FAILED" -eq 0 ]; then
		echo "FAIL: the run was interrupted (exit status $rc)"
		FAILED=1
	fi
	echo "system: $PASSED passed, $FAILED failed ($(( $(now) - T0 )) s)"
	[ "$FAILED" -eq 0 ] && [ "$rc" -eq 0 ] && exit 0
	exit 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ------------------------------------------------------------ preparation

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, systemd-nspawn, nsenter)"
for f in rollbackd rollbackctl demo-service; do
	[ -x "$BUILD/$f" ] || die "$BUILD/$f is missing (make build-all)"
done
missing=
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
command -v systemd-nspawn >/dev/null 2>&1 || missing="$missing systemd-container"
if [ -n "$missing" ]; then
	echo "system: installing$missing"
	# shellcheck disable=SC2086 # a list of packages
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    $missing >/dev/null || die "apt-get install$missing failed"
fi

t=$(now)
TREE=$(sys_tree) || die "cannot build the Debian 12 tree"
echo "system: tree $TREE ready ($(( $(now) - t )) s)"

# The throw-away copy: an overlay on the cached tree when the kernel allows
# it, else a copy (reflinked where the file system can).
W=$(mktemp -d /var/tmp/rbd-sys.XXXXXX) || die "mktemp failed"
COPY=$W/root
mkdir -p "$W/upper" "$W/work" "$COPY"
t=$(now)
if mount -t overlay overlay -o "lowerdir=$TREE,upperdir=$W/upper,workdir=$W/work" \
    "$COPY" 2>/dev/null; then
	echo "system: overlay on the cached tree at $COPY"
else
	rmdir "$COPY"
	cp -a --reflink=auto "$TREE" "$COPY" || die "cannot copy $TREE"
	echo "system: copied the cached tree to $COPY ($(( $(now) - t )) s)"
fi

# rollbackd, as a user installs it.
make -s -C "$ROOT" BUILD="$BUILD" install DESTDIR="$COPY" PREFIX=/usr/local \
    > "$W/install.log" 2>&1 || { cat "$W/install.log"; die "make install failed"; }

# The demo service and its deploy command.
install -d "$COPY$DEMO_LIB" "$COPY$DEMO_DIR"
install -m 0755 "$BUILD/demo-service" "$COPY$DEMO_LIB/demo-service"
install -m 0755 "$ROOT/tests/demo/deploy" "$COPY$DEMO_LIB/deploy"
install -m 0755 "$ROOT/tests/demo/deploy-unit" "$COPY$DEMO_LIB/deploy-unit"

# Step 8's demo service as a real unit, started by deploy-unit only, which
# writes the release into its environment file. It restarts however often
# it crashes (no start limit): the unit check, not systemd giving up, must
# notice.
cat > "$COPY/etc/systemd/system/$CRASH_UNIT" <<EOF
[Unit]
Description=rollbackd system test: the demo service, restarted when it crashes
StartLimitIntervalSec=0

[Service]
EnvironmentFile=$DEMO_DIR/crash.env
ExecStart=$DEMO_LIB/demo-service --port $CRASH_PORT --version \${VERSION}
Restart=always
RestartSec=200ms
EOF

# Step 9's service: runs whatever release current points to.
cat > "$COPY/etc/systemd/system/$DIR_UNIT" <<EOF
[Unit]
Description=rollbackd system test: the demo service, run from release directories

[Service]
ExecStart=/bin/sh -c 'exec $DEMO_LIB/demo-service --port $DIR_PORT --version "\$\$(cat $DIR_APP/current/VERSION)" \$\$(cat $DIR_APP/current/args 2>/dev/null)'
EOF
for v in v1 v2-bad; do
	install -d "$COPY$DIR_APP/releases/$v"
	echo "$v" > "$COPY$DIR_APP/releases/$v/VERSION"
done
echo "--fail-after-requests 0" > "$COPY$DIR_APP/releases/v2-bad/args"

install -d "$COPY/etc/rollbackd/policies.d"
cp "$ROOT/conf/rollbackd.yaml" "$COPY/etc/rollbackd/rollbackd.yaml"
write_policy() {	# [extra text]
	cat > "$COPY/etc/rollbackd/policies.d/demo.yaml" <<EOF
# tests/system: the demo service on port $PORT.
service: demo
deploy:
  command:
    - $DEMO_LIB/deploy
    - --dir
    - $DEMO_DIR
    - --port
    - "$PORT"
    - --service
    - "{service}"
    - --version
    - "{version}"
    - --from
    - "{from_version}"
    - --bin
    - $DEMO_LIB/demo-service
  timeout: 20s
watch:
  duration: 120s
  interval: 250ms
  warmup: 0s
  verify: 2s
checks:
  - name: healthz
    http:
      url: "http://127.0.0.1:$PORT/healthz"
      timeout: 200ms
    fail_after: 3
${1:-}
EOF
}
write_policy

# The test's drop-in: the deploy command writes the demo's state (the unit's
# sandbox is strict), a short watchdog, no core dumps on the watchdog's
# SIGABRT.
install -d "$COPY/etc/systemd/system/rollbackd.service.d"
cat > "$COPY/etc/systemd/system/rollbackd.service.d/50-system-test.conf" <<EOF
[Service]
ReadWritePaths=$DEMO_DIR
WatchdogSec=4s
LimitCORE=0
EOF

# ------------------------------------------------------------ boot

: "${RBD_SYS_NETWORK=--private-network}"
t=$(now)
# shellcheck disable=SC2086 # RBD_SYS_NETWORK is empty or one option
systemd-nspawn -q -D "$COPY" --register=no --keep-unit --boot \
    --console=read-only $RBD_SYS_NETWORK --machine="rbd-sys-$$" \
    </dev/null > "$W/boot.log" 2>&1 &
NSPAWN_PID=$!

# Its init: the child of nspawn that runs systemd.
find_leader() {
	local p
	for p in $(pgrep -P "$NSPAWN_PID"); do
		if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = systemd ]; then
			LEADER=$p
			return 0
		fi
	done
	return 1
}
if ! wait_until 30 find_leader; then
	echo "--- nspawn output:"; tail -n 30 "$W/boot.log"
	die "systemd-nspawn did not start systemd in the container"
fi
booted() {
	local s
	s=$(C_TIMEOUT=5 c systemctl is-system-running 2>/dev/null)
	case $s in running|degraded) return 0 ;; esac
	return 1
}
if ! wait_until 90 booted; then
	echo "--- nspawn output:"; tail -n 40 "$W/boot.log"
	echo "--- systemctl is-system-running: $(C_TIMEOUT=5 c systemctl is-system-running 2>&1)"
	C_TIMEOUT=5 c systemctl --failed --no-legend 2>&1
	die "the container did not boot to running or degraded within 90 s"
fi
echo "system: booted in $(( $(now) - t )) s (init pid $LEADER): $(C_TIMEOUT=5 c systemctl is-system-running)"
failed_units=$(C_TIMEOUT=5 c systemctl --failed --no-legend --plain 2>/dev/null)
[ -n "$failed_units" ] && echo "system: failed units in the container (not ours): $failed_units"

# ------------------------------------------------------------ helpers

prop() {	# UNIT PROPERTY
	c systemctl show -p "$2" --value "$1"
}
ctl() { c rollbackctl "$@"; }
# svc_field FIELD [SERVICE]: one field of SERVICE (default demo) in
# status --json.
svc_field() {
	ctl status "${2:-demo}" --json 2>/dev/null | python3 -c 'import json, sys
d = json.loads(sys.stdin.readline())
v = [s for s in d["services"] if s["service"] == sys.argv[2]][0][sys.argv[1]]
print(v if isinstance(v, str) else json.dumps(v))' "$1" "${2:-demo}" 2>/dev/null
}
state_is() {	# STATE LIVE [SERVICE]
	[ "$(svc_field state "${3:-demo}")" = "$1" ] &&
	    [ "$(svc_field live "${3:-demo}")" = "$2" ]
}
# deploy_by_hand V [FROM]: what a user's deploy hook does, the demo service
# in a scope unit of its own (demo-V.scope).
deploy_by_hand() {
	c systemd-run --quiet --scope --unit="demo-$1-$$" \
	    "$DEMO_LIB/deploy" --dir "$DEMO_DIR" --port "$PORT" --service demo \
	    --version "$1" --from "${2:-}" --bin "$DEMO_LIB/demo-service" \
	    >> "$W/deploy-by-hand.log" 2>&1
}
journal_tail() {
	echo "--- journal of rollbackd.service (last 30 lines):"
	c journalctl -q -u rollbackd.service --no-pager -n 30 -o short-monotonic 2>&1 |
	    sed 's/^/    /'
}

# ------------------------------------------------------------ the steps

# 1. Socket activation.
if c systemctl daemon-reload && c systemctl enable --now rollbackd.socket >/dev/null 2>&1 &&
    [ "$(prop rollbackd.socket ActiveState)" = active ] &&
    [ "$(prop rollbackd.service ActiveState)" = inactive ]; then
	ok "systemctl enable --now rollbackd.socket: socket listening, daemon not started"
else
	notok "systemctl enable --now rollbackd.socket (socket $(prop rollbackd.socket ActiveState), service $(prop rollbackd.service ActiveState))"
	c systemctl status rollbackd.socket --no-pager 2>&1 | sed 's/^/    /'
fi

# 1b. The socket is root's and group rollbackd's, mode 0660. The group
# comes from the installed sysusers.d file: make install with DESTDIR=
# does not run systemd-sysusers, so systemd-sysusers.service created it at
# boot (the copy's first: no /etc/.updated), before sysinit.target, which
# the socket comes after. Someone outside the group is refused by the
# kernel, and does not start the daemon.
step1_group() {
	local g st out rc
	# The users first, so that 2b does not fail for a failure here.
	if ! c useradd -M -s /usr/sbin/nologin "$OUTSIDER" ||
	    ! c useradd -M -s /usr/sbin/nologin -G rollbackd "$MEMBER"; then
		echo "useradd failed"; return 1
	fi
	# The cached tree has no such group: systemd-sysusers.service, which
	# ran (RemainAfterExit=yes: active), made it.
	g=$(c getent group rollbackd) ||
		{ echo "no group rollbackd (systemd-sysusers.service: $(prop systemd-sysusers.service ActiveState))"; return 1; }
	[ "$(prop systemd-sysusers.service ActiveState)" = active ] ||
		{ echo "systemd-sysusers.service did not run at boot: $(prop systemd-sysusers.service ActiveState)"; return 1; }
	case $(prop rollbackd.socket After) in
	*sysinit.target*) ;;
	*) echo "rollbackd.socket is not ordered after sysinit.target (and so not after systemd-sysusers.service): After=$(prop rollbackd.socket After)"; return 1 ;;
	esac
	st=$(c stat -c '%A %U %G' /run/rollbackd/rollbackd.sock 2>&1)
	[ "$st" = "srw-rw---- root rollbackd" ] ||
		{ echo "/run/rollbackd/rollbackd.sock is '$st', not 'srw-rw---- root rollbackd'"; return 1; }
	out=$(c setpriv --reuid="$OUTSIDER" --regid="$OUTSIDER" --init-groups rollbackctl status 2>&1); rc=$?
	[ $rc -eq 69 ] ||
		{ echo "rollbackctl status as $OUTSIDER (not in group rollbackd) exited $rc, not 69: $out"; return 1; }
	case $out in
	*"Permission denied"*) ;;
	*) echo "rollbackctl status as $OUTSIDER does not say 'Permission denied': $out"; return 1 ;;
	esac
	[ "$(prop rollbackd.service ActiveState)" = inactive ] ||
		{ echo "a refused client started rollbackd.service"; return 1; }
	echo "    $st; $g; as $OUTSIDER: $out (exit $rc)"
}
if r=$(step1_group 2>&1); then
	echo "$r"
	ok "the socket is srw-rw---- root rollbackd (the group from sysusers.d, created at boot); a user outside the group gets 'Permission denied', exit 69, and the daemon stays stopped"
else
	notok "the socket's group and mode: $r"
	c ls -la /run/rollbackd 2>&1 | sed 's/^/    /'
fi

# 2. The first client starts the daemon; active only after READY=1.
out=$(ctl status 2>&1); rc=$?
state=$(prop rollbackd.service ActiveState)
# The daemon's "watching N services" line comes before systemd's "Started"
# line, which systemd writes when READY=1 arrives.
j=$(c journalctl -q -u rollbackd.service --no-pager -o cat 2>&1)
w_line=$(echo "$j" | grep -n 'watching 1 service' | head -n 1 | cut -d: -f1)
s_line=$(echo "$j" | grep -n '^Started ' | head -n 1 | cut -d: -f1)
if [ $rc -eq 0 ] && [ "$state" = active ] && [ -n "$w_line" ] && [ -n "$s_line" ] &&
    [ "$w_line" -lt "$s_line" ] && [ "$(prop rollbackd.service Type)" = notify ]; then
	ok "first rollbackctl status started the daemon through the socket; active after READY=1 (journal: 'watching' line $w_line, 'Started' line $s_line)"
else
	notok "socket activation: rollbackctl status rc=$rc ($out), ActiveState=$state, 'watching' at line ${w_line:-none}, 'Started' at line ${s_line:-none}"
	journal_tail
fi

# 2b. A user in group rollbackd who is not root (a deploy hook's user) may
# use it.
out=$(c setpriv --reuid="$MEMBER" --regid="$MEMBER" --init-groups rollbackctl status 2>&1); rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q '^demo '; then
	echo "$out" | sed 's/^/    /'
	ok "rollbackctl status as $MEMBER (not root, in group rollbackd): exit 0, demo listed"
else
	notok "rollbackctl status as $MEMBER (in group rollbackd): exit $rc: $out ($(c id "$MEMBER" 2>&1))"
fi

# 3. A bad deploy is rolled back; the journal has it under its MESSAGE_ID.
MSGID_ROLLBACK=67164cf0a506425b806a032995464492
step3() {
	deploy_by_hand v1 || { echo "deploy of v1 failed: $(tail -n 5 "$W/deploy-by-hand.log")"; return 1; }
	ctl deployed demo v1 >/dev/null || { echo "deployed v1 failed"; return 1; }
	ctl mark-good demo v1 >/dev/null || { echo "mark-good v1 failed"; return 1; }
	wait_until 10 state_is idle v1 || { echo "not idle(v1): $(svc_field state) $(svc_field live)"; return 1; }
	deploy_by_hand v2-bad v1 || { echo "deploy of v2-bad failed"; return 1; }
	ctl deployed demo v2-bad >/dev/null || { echo "deployed v2-bad failed"; return 1; }
	wait_until 30 state_is idle v1 || { echo "not rolled back to idle(v1): $(svc_field state) $(svc_field live)"; return 1; }
	[ "$(c curl -s -m 2 "http://127.0.0.1:$PORT/version")" = v1 ] ||
		{ echo "the live demo service is not v1"; return 1; }
	jv=$(c journalctl -q --no-pager -o verbose MESSAGE_ID=$MSGID_ROLLBACK 2>&1)
	case $jv in *ROLLBACKD_SERVICE=demo*) ;; *) echo "no ROLLBACKD_SERVICE=demo under MESSAGE_ID=$MSGID_ROLLBACK: $jv"; return 1 ;; esac
	case $jv in *ROLLBACKD_RELEASE=*) ;; *) echo "no ROLLBACKD_RELEASE= under MESSAGE_ID=$MSGID_ROLLBACK: $jv"; return 1 ;; esac
	echo "$jv" | grep -E '^ +(MESSAGE|ROLLBACKD_[A-Z]+)=' | sed 's/^ */    /'
}
if r=$(step3 2>&1); then
	echo "$r"
	ok "bad deploy (v1 good, v2-bad) rolled back to v1; journalctl MESSAGE_ID=$MSGID_ROLLBACK shows it with ROLLBACKD_SERVICE= and ROLLBACKD_RELEASE="
else
	notok "bad deploy rolled back: $r"
	journal_tail
fi

# 3b. The rollback's deploy command ran as a transient unit of its own:
# its output in the journal under rollbackd-deploy-demo-*.service, and the
# demo service it restored outside rollbackd.service's cgroup.
step_deploy_unit() {
	local jv out pid cg
	jv=$(c journalctl -q --no-pager -o verbose -u 'rollbackd-deploy-*' 2>&1)
	case $jv in *_SYSTEMD_UNIT=rollbackd-deploy-demo-*.service*) ;; *) echo "no journal entry with _SYSTEMD_UNIT=rollbackd-deploy-demo-*.service: $jv"; return 1 ;; esac
	out=$(c journalctl -q --no-pager -o cat -u 'rollbackd-deploy-*' 2>&1)
	case $out in *"deploy: deploying demo v1"*"demo v1 is live"*) ;; *) echo "the deploy's output is not in the unit's journal: $out"; return 1 ;; esac
	c journalctl -q --no-pager -o cat -u rollbackd.service | grep -q 'output: journalctl -u rollbackd-deploy-demo-' ||
		{ echo "rollbackd's journal does not point to the unit's output"; return 1; }
	pid=$(cat "$COPY$DEMO_DIR/demo.pid" 2>/dev/null)
	[ -n "$pid" ] || { echo "no $DEMO_DIR/demo.pid"; return 1; }
	cg=$(c cat "/proc/$pid/cgroup" 2>&1) || { echo "demo service (pid $pid) not running: $cg"; return 1; }
	case $cg in *rollbackd.service*|*rollbackd-deploy-*) echo "the demo service (pid $pid) is in $cg"; return 1 ;; esac
	echo "$jv" | grep -m 1 '_SYSTEMD_UNIT=rollbackd-deploy-' | sed 's/^ */    /'
	echo "    demo service pid $pid in $(echo "$cg" | grep '^0::')"
}
if r=$(step_deploy_unit 2>&1); then echo "$r"; ok "the rollback's deploy ran as a transient unit (rollbackd-deploy-demo-*.service, its output in its journal); the restored demo service is outside rollbackd.service's cgroup"; else notok "deploy as a transient unit: $r"; journal_tail; fi

# 4. A reload with a broken policy is rejected; the old config keeps working.
step4() {
	write_policy "no_such_key: 1"
	if c systemctl reload rollbackd >/dev/null 2>&1; then
		echo "systemctl reload succeeded with a broken policy"; return 1
	fi
	ctl status >/dev/null 2>&1 || { echo "rollbackctl status fails after the rejected reload"; return 1; }
	[ -n "$(svc_field state)" ] || { echo "demo no longer watched after the rejected reload"; return 1; }
	[ "$(prop rollbackd.service ActiveState)" = active ] || { echo "rollbackd not active after the rejected reload"; return 1; }
	st=$(c systemctl status rollbackd --no-pager 2>&1)
	case $st in *"reload rejected"*) ;; *) echo "systemctl status does not say 'reload rejected':"; echo "$st"; return 1 ;; esac
	echo "$st" | grep 'Status:' | sed 's/^ */    /'
	write_policy
	c systemctl reload rollbackd >/dev/null 2>&1 || { echo "reload of the fixed policy failed"; return 1; }
	st=$(c systemctl status rollbackd --no-pager 2>&1)
	case $st in *"reload rejected"*) echo "still 'reload rejected' after a good reload"; return 1 ;; esac
	return 0
}
if r=$(step4 2>&1); then
	echo "$r"
	ok "systemctl reload with a broken policy fails, the old config keeps working, systemctl status shows 'reload rejected'"
else
	notok "rejected reload: $r"
	journal_tail
fi

# 5. The sandbox: the installed unit file, as shipped (the test's drop-in
# is not part of it).
unit=$(c systemctl show -p FragmentPath --value rollbackd.service)
sec=$(c systemd-analyze security --offline=true --no-pager "$unit" 2>&1)
score=$(echo "$sec" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
	ok "systemd-analyze security --offline=true $unit: $score (<= 2.0)"
else
	notok "systemd-analyze security: score '${score:-none}' (want <= 2.0)"
	echo "$sec" | tail -n 30 | sed 's/^/    /'
fi
ver=$(c systemd-analyze verify rollbackd.service rollbackd.socket 2>&1); rc=$?
if [ $rc -eq 0 ] && [ -z "$ver" ]; then
	ok "systemd-analyze verify rollbackd.service rollbackd.socket prints nothing"
else
	notok "systemd-analyze verify rollbackd.service rollbackd.socket (rc=$rc):"
	echo "$ver" | sed 's/^/    /'
fi

# 6. The watchdog kills a SIGSTOPped daemon; systemd restarts it, and it
# resumes its watch. 7. systemctl stop during a watch, then start: the
# watch continues.
step67_setup() {
	deploy_by_hand v3 v1 || { echo "deploy of v3 failed: $(tail -n 5 "$W/deploy-by-hand.log")"; return 1; }
	ctl deployed demo v3 >/dev/null || { echo "deployed v3 failed"; return 1; }
	wait_until 10 state_is watching v3 || { echo "not watching v3: $(svc_field state) $(svc_field live)"; return 1; }
}
step6() {
	local pid0 nr0 pid1
	pid0=$(prop rollbackd.service MainPID)
	nr0=$(prop rollbackd.service NRestarts)
	[ "$(prop rollbackd.service WatchdogUSec)" = 4s ] || { echo "WatchdogUSec is $(prop rollbackd.service WatchdogUSec), not 4s"; return 1; }
	c kill -STOP "$pid0" || { echo "kill -STOP $pid0 failed"; return 1; }
	restarted() {
		pid1=$(prop rollbackd.service MainPID)
		[ "$(prop rollbackd.service NRestarts)" -gt "$nr0" ] &&
		    [ "$(prop rollbackd.service ActiveState)" = active ] &&
		    [ "$pid1" != 0 ] && [ "$pid1" != "$pid0" ]
	}
	wait_until 30 restarted || { echo "not restarted within 30 s: MainPID $(prop rollbackd.service MainPID), NRestarts $(prop rollbackd.service NRestarts), $(prop rollbackd.service ActiveState)"; return 1; }
	c journalctl -q -u rollbackd.service --no-pager -o cat | grep -q -i 'watchdog timeout' ||
		{ echo "no 'Watchdog timeout' in the journal"; return 1; }
	ctl status >/dev/null 2>&1 || { echo "rollbackctl status fails after the restart"; return 1; }
	wait_until 10 state_is watching v3 || { echo "watch not resumed: $(svc_field state) $(svc_field live)"; return 1; }
	echo "    MainPID $pid0 -> $pid1, NRestarts $nr0 -> $(prop rollbackd.service NRestarts)"
}
step7() {
	c systemctl stop rollbackd.service || { echo "systemctl stop failed"; return 1; }
	[ "$(prop rollbackd.service ActiveState)" = inactive ] || { echo "not inactive after stop"; return 1; }
	c systemctl start rollbackd.service || { echo "systemctl start failed"; return 1; }
	state_is watching v3 || { echo "after stop/start: $(svc_field state) $(svc_field live), not watching v3"; return 1; }
}
if r=$(step67_setup 2>&1); then
	if r=$(step6 2>&1); then
		echo "$r"
		ok "a SIGSTOPped daemon is killed by the watchdog (WatchdogSec=4s), restarted, answers, and watches v3 again"
	else
		notok "watchdog: $r"
		journal_tail
	fi
	if r=$(step7 2>&1); then
		ok "systemctl stop during a watch, then start: still watching v3"
	else
		notok "stop/start during a watch: $r"
		journal_tail
	fi
else
	notok "watchdog: setup: $r"
	notok "stop/start during a watch: setup: $r"
	journal_tail
fi

# 8. A release that crash-loops is caught by the unit check. democrash is
# demo-crash.service, a real unit with Restart=always: a "crash" release
# answers /healthz for 1.5 s, exits 1 and is restarted 200 ms later, over
# and over, so its lenient http check (fail_after 20) does not notice; the
# unit check (NRestarts grew, fail_after 2) does. Its policy comes last and
# by a reload, so that a daemon that does not know it fails this step only.
CRASH_POLICY=$COPY/etc/rollbackd/policies.d/democrash.yaml
write_crash_policy() {
	cat > "$CRASH_POLICY" <<EOF
# tests/system: $CRASH_UNIT, a real unit, on port $CRASH_PORT.
service: democrash
deploy:
  command:
    - $DEMO_LIB/deploy-unit
    - --unit
    - $CRASH_UNIT
    - --env-file
    - $DEMO_DIR/crash.env
    - --port
    - "$CRASH_PORT"
    - --version
    - "{version}"
    - --from
    - "{from_version}"
  timeout: 20s
watch:
  duration: 120s
  interval: 250ms
  warmup: 0s
  verify: 2s
checks:
  - name: healthz
    http:
      url: "http://127.0.0.1:$CRASH_PORT/healthz"
      timeout: 200ms
    fail_after: 20
  - name: unit
    unit:
      name: $CRASH_UNIT
      max_restarts: 0
      timeout: 200ms
    fail_after: 2
EOF
}
# deploy_unit_by_hand V [FROM]: what a deploy hook for a systemd service does.
deploy_unit_by_hand() {
	c "$DEMO_LIB/deploy-unit" --unit "$CRASH_UNIT" --env-file "$DEMO_DIR/crash.env" \
	    --port "$CRASH_PORT" --version "$1" --from "${2:-}" >> "$W/deploy-by-hand.log" 2>&1
}
crash_state() {
	echo "$(svc_field state democrash) $(svc_field live democrash)"
}
step8() {
	local out hist line pid cmd live
	write_crash_policy
	if ! out=$(c systemctl reload rollbackd 2>&1); then
		echo "systemctl reload with the democrash policy (a unit check) failed: $out"
		c systemctl status rollbackd --no-pager 2>&1 | grep 'Status:' | sed 's/^ */    /'
		# Leave the daemon as it was.
		rm -f "$CRASH_POLICY"
		c systemctl reload rollbackd >/dev/null 2>&1
		return 1
	fi
	deploy_unit_by_hand v1 || { echo "deploy of v1 failed: $(tail -n 5 "$W/deploy-by-hand.log")"; return 1; }
	ctl deployed democrash v1 >/dev/null || { echo "deployed democrash v1 failed"; return 1; }
	ctl mark-good democrash v1 >/dev/null || { echo "mark-good democrash v1 failed"; return 1; }
	wait_until 10 state_is idle v1 democrash || { echo "not idle(v1): $(crash_state)"; return 1; }
	deploy_unit_by_hand v2-crash v1 ||
		{ echo "deploy of v2-crash failed: $(tail -n 5 "$W/deploy-by-hand.log")"; return 1; }
	ctl deployed democrash v2-crash >/dev/null || { echo "deployed democrash v2-crash failed"; return 1; }
	# deployed is answered once the watch has begun: idle(v1) from here
	# on means rolled back and verified.
	wait_until 30 state_is idle v1 democrash ||
		{ echo "not rolled back to idle(v1) within 30 s: $(crash_state); $CRASH_UNIT NRestarts $(prop "$CRASH_UNIT" NRestarts)"; return 1; }
	hist=$(ctl history democrash 2>&1)
	line=$(echo "$hist" | grep 'degraded' | head -n 1)
	case $line in
	*" unit: "*"$CRASH_UNIT"*) ;;
	*) echo "the rollback's reason does not name the unit check ('unit: ... $CRASH_UNIT'): ${line:-no 'degraded' entry}"; echo "$hist"; return 1 ;;
	esac
	out=$(c curl -s -m 2 "http://127.0.0.1:$CRASH_PORT/version")
	[ "$out" = v1 ] || { echo "GET /version on port $CRASH_PORT answers '$out', not v1"; return 1; }
	[ "$(prop "$CRASH_UNIT" ActiveState)" = active ] ||
		{ echo "$CRASH_UNIT is $(prop "$CRASH_UNIT" ActiveState) $(prop "$CRASH_UNIT" SubState)"; return 1; }
	pid=$(prop "$CRASH_UNIT" MainPID)
	cmd=$(c cat "/proc/$pid/cmdline" 2>/dev/null | tr '\0' ' ')
	case $cmd in
	*"--version v1 "*) ;;
	*) echo "$CRASH_UNIT's main process ($pid) is '$cmd', not v1"; return 1 ;;
	esac
	# The v1 that the rollback's deploy started is the one that runs: it
	# has stayed up through the 2 s of verification. (Not "NRestarts is
	# 0": a "systemctl restart" while the unit waits out RestartSec= does
	# not reset the count.)
	live=$(c journalctl -q --no-pager -o cat -u 'rollbackd-deploy-democrash-*' 2>&1 |
	    sed -n 's/.* v1 is live (pid \([0-9]*\))$/\1/p' | tail -n 1)
	[ -n "$live" ] ||
		{ echo "no 'v1 is live (pid N)' from deploy-unit in the journal of rollbackd-deploy-democrash-*.service"; return 1; }
	[ "$pid" = "$live" ] ||
		{ echo "$CRASH_UNIT's main process is $pid, not $live, which the rollback started: v1 did not stay up"; return 1; }
	echo "    $line"
	echo "    $CRASH_UNIT active, pid $pid (started by the rollback): $cmd"
}
if r=$(step8 2>&1); then
	echo "$r"
	ok "a release of $CRASH_UNIT that crash-loops (Restart=always) is caught by the unit check and rolled back; $CRASH_UNIT runs v1 again"
else
	notok "crash loop caught by the unit check: $r"
	journal_tail
	echo "--- rollbackctl status democrash:"
	ctl status democrash 2>&1 | sed 's/^/    /'
	echo "--- rollbackctl history democrash:"
	ctl history democrash 2>&1 | sed 's/^/    /'
	echo "--- systemctl status $CRASH_UNIT:"
	c systemctl status "$CRASH_UNIT" --no-pager -n 10 2>&1 | sed 's/^/    /'
fi

# 9. The release-directory deployer under systemd: a bad release is rolled
# back by re-pointing current and restarting $DIR_UNIT over the bus.
DIR_POLICY=$COPY/etc/rollbackd/policies.d/demodir.yaml
dir_switch_by_hand() {	# V: atomically, then restart, as a release script would
	c ln -s "$DIR_APP/releases/$1" "$DIR_APP/.next" &&
	    c mv -T "$DIR_APP/.next" "$DIR_APP/current" &&
	    c systemctl restart "$DIR_UNIT"
}
dir_state() {
	echo "$(svc_field state demodir) $(svc_field live demodir)"
}
dir_answers() {
	c curl -sf -m 1 "http://127.0.0.1:$DIR_PORT/healthz" >/dev/null
}
step9() {
	local out
	cat > "$DIR_POLICY" <<EOF
service: demodir
deploy:
  releases: $DIR_APP/releases
  current: $DIR_APP/current
  restart: $DIR_UNIT
  timeout: 20s
watch:
  duration: 120s
  interval: 250ms
  warmup: 0s
  verify: 2s
checks:
  - name: healthz
    http:
      url: "http://127.0.0.1:$DIR_PORT/healthz"
      timeout: 200ms
    fail_after: 3
EOF
	out=$(c systemctl reload rollbackd 2>&1) || { echo "reload with demodir failed: $out"; return 1; }
	dir_switch_by_hand v1 || { echo "switching to v1 by hand failed"; return 1; }
	wait_until 10 dir_answers || { echo "$DIR_UNIT v1 does not answer"; return 1; }
	{ ctl deployed demodir v1 >/dev/null && ctl mark-good demodir v1 >/dev/null; } ||
		{ echo "announcing v1 failed"; return 1; }
	wait_until 10 state_is idle v1 demodir || { echo "not idle(v1): $(dir_state)"; return 1; }
	dir_switch_by_hand v2-bad || { echo "switching to v2-bad by hand failed"; return 1; }
	ctl deployed demodir v2-bad >/dev/null || { echo "deployed demodir v2-bad failed"; return 1; }
	wait_until 30 state_is idle v1 demodir ||
		{ echo "not rolled back to idle(v1) within 30 s: $(dir_state)"; return 1; }
	out=$(c readlink "$DIR_APP/current")
	[ "$out" = "$DIR_APP/releases/v1" ] || { echo "current -> $out, not v1"; return 1; }
	out=$(c curl -s -m 2 "http://127.0.0.1:$DIR_PORT/version")
	[ "$out" = v1 ] || { echo "GET /version on port $DIR_PORT answers '$out', not v1"; return 1; }
	out=$(c journalctl -q --no-pager -o cat -u rollbackd.service 2>&1 |
	    grep "demodir: release-directory deploy current -> $DIR_APP/releases/v1; $DIR_UNIT restarted")
	[ -n "$out" ] || { echo "no 'current -> ...v1; $DIR_UNIT restarted' in the journal"; return 1; }
	echo "    $out"
}
if r=$(step9 2>&1); then
	echo "$r"
	ok "a bad release of $DIR_UNIT run from release directories is rolled back: current re-pointed, $DIR_UNIT restarted through systemd, v1 answers"
else
	notok "release-directory rollback under systemd: $r"
	journal_tail
	echo "--- rollbackctl status demodir:"
	ctl status demodir 2>&1 | sed 's/^/    /'
fi

exit 0
