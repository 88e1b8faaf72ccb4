# shellcheck shell=dash
# The pristine Debian 12 tree that tests/system/run.sh boots, built once per
# machine with debootstrap and cached under ~/.cache/rollbackd/, keyed by a
# hash of this file: change the package list (or anything else here) and
# the next run builds a new tree. Sourced by run.sh; defines sys_tree, which
# prints the cached tree's path, building it first if needed.
#
# The packages: systemd as PID 1 and its bus; the daemon's run-time
# libraries (ldd build/rollbackd: libevent, libcurl, libyaml, libjansson,
# libsqlite3; libsystemd0 comes with systemd); what tests/demo/deploy and the
# test itself run inside (curl, python3, ps from procps, flock and setsid
# from util-linux, which minbase has); man-db, for "systemd-analyze verify",
# which runs man on every Documentation= entry.

SYS_SUITE=bookworm
SYS_MIRROR=${RBD_SYS_MIRROR:-http://deb.debian.org/debian}
SYS_INCLUDE=systemd,systemd-sysv,dbus,libevent-2.1-7,libcurl4,libyaml-0-2,libjansson4,libsqlite3-0,curl,python3,procps,man-db

sys_tree() {
	local key cache tree tmp
	key=$(sha256sum < "$SYS_DIR/tree.sh" | cut -c1-16)
	cache=${RBD_SYS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rollbackd}
	tree=$cache/debian12-$key
	if [ -f "$tree/.complete" ]; then
		echo "$tree"
		return 0
	fi
	mkdir -p "$cache" || return 1
	tmp=$(mktemp -d "$cache/.building.XXXXXX") || return 1
	echo "system: building the Debian 12 tree in $tree (debootstrap, once per machine)" >&2
	if ! debootstrap --variant=minbase --include="$SYS_INCLUDE" \
	    "$SYS_SUITE" "$tmp/root" "$SYS_MIRROR" > "$tmp.log" 2>&1; then
		echo "system: debootstrap failed; see $tmp.log" >&2
		tail -n 20 "$tmp.log" >&2
		rm -rf "$tmp"
		return 1
	fi
	# A booted copy needs a machine id (nspawn gives it one if empty) and
	# nothing that waits for a console or a network that is not there.
	: > "$tmp/root/etc/machine-id"
	echo rbd-system > "$tmp/root/etc/hostname"
	rm -f "$tmp/root/var/cache/apt/archives/"*.deb
	touch "$tmp/root/.complete"
	# Another run may have finished the same tree meanwhile: keep theirs.
	if ! mv -T "$tmp/root" "$tree" 2>/dev/null; then
		rm -rf "$tmp/root"
	fi
	rm -rf "$tmp" "$tmp.log"
	[ -f "$tree/.complete" ] || return 1
	echo "$tree"
}
