# shellcheck shell=dash
# The peers, sourced by bench/run.sh: monit and Prometheus +
# blackbox_exporter from their Debian packages, doing the same work as
# rollbackd (N HTTP checks of the target's /e/<i> every second), each in a
# private temporary directory with its own configuration, run in the
# foreground as our children on $CPU_SUT. Nothing under /etc is read or
# changed, and no system service is started.
#
#   peers_install		apt-get install what is missing (as root)
#   monit_run N RUN		one measured run: a record in $REC
#   prom_run N RUN		likewise
# The CPU per probe is the sum of the peer's processes' utime + stime over
# the measured period divided by the requests the target answered in it.

MONIT=${MONIT:-monit}
PROMETHEUS=${PROMETHEUS:-prometheus}
BLACKBOX=${BLACKBOX:-prometheus-blackbox-exporter}
PEER_WARMUP=${PEER_WARMUP:-5}
# Prometheus and blackbox_exporter are multi-threaded Go programs that
# need more than one core for N = 1,000 at 1 s (the issue's own figures:
# 1.5 ms of CPU per probe): pinned to one core they cannot do the work at
# all, which would say nothing about them. So by default they run on any
# core (PROM_PIN=1 pins them like the rest); monit, sequential, is pinned
# like rollbackd.
PROM_PIN=${PROM_PIN:-0}
PROM_WARMUP=${PROM_WARMUP:-10}
# peer_skip MESSAGE: why a peer was not measured, for RESULTS.md (a file:
# the sections run in subshells).
peer_skip() {
	say "peers: $*"
	echo "$*" >>"$BT/peer_skipped"
}

has_monit() {
	command -v "$MONIT" >/dev/null 2>&1
}

has_prom() {
	command -v "$BLACKBOX" >/dev/null 2>&1 && command -v "$PROMETHEUS" >/dev/null 2>&1
}

# peers_install: install monit and blackbox_exporter (and prometheus) with
# apt-get when they are missing and we are root; record what is missing.
peers_install() {
	local _missing
	_missing=
	command -v "$MONIT" >/dev/null 2>&1 || _missing="$_missing monit"
	command -v "$BLACKBOX" >/dev/null 2>&1 || _missing="$_missing prometheus-blackbox-exporter"
	command -v "$PROMETHEUS" >/dev/null 2>&1 || _missing="$_missing prometheus"
	if [ -n "$_missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		say "peers: apt-get install$_missing"
		# policy-rc.d may refuse to start the packages' services, which
		# is what we want: we run them ourselves.
		# shellcheck disable=SC2086 # a list of package names
		{ apt-get update && DEBIAN_FRONTEND=noninteractive \
		    apt-get install -y --no-install-recommends $_missing; } \
		    >"$BT/apt.log" 2>&1 || say "peers: apt-get failed: $(tail -n 3 "$BT/apt.log")"
	fi
	has_monit || peer_skip "monit: not installed, and could not be installed"
	has_prom ||
		peer_skip "Prometheus + blackbox_exporter: not installed, and could not be installed"
}

# peer_measure DIR PIDS: the measured period around the peer's processes.
peer_measure() {
	local _d
	_d=$1
	shift
	snap_proc "$_d/a.proc" "$@"
	snap_target "$_d/a"
	sleep "$MEASURE"
	snap_proc "$_d/b.proc" "$@"
	snap_target "$_d/b"
}

# monit_run N RUN: monit with N "check host" entries, a 1 s cycle.
monit_run() {
	local _n _d _mpid
	_n=$1
	_d=$BT/monit
	rm -rf "$_d"
	mkdir -p "$_d"
	{
		echo "set daemon 1"
		echo "set logfile $_d/monit.log"
		echo "set pidfile $_d/monit.pid"
		echo "set idfile $_d/monit.id"
		echo "set statefile $_d/monit.state"
		awk -v n="$_n" -v port="$TPORT" 'BEGIN {
			for (i = 1; i <= n; i++) {
				printf "check host e%d with address 127.0.0.1\n", i
				printf "  if failed port %d protocol http request \"/e/%d\" then alert\n", port, i
			}
		}'
	} >"$_d/monitrc"
	chmod 0600 "$_d/monitrc"	# monit refuses a control file others may read
	MONIT_CMD="$MONIT -I -c $_d/monitrc"
	echo "$MONIT_CMD" >"$BT/cmd.monit"
	# shellcheck disable=SC2086 # commands, split on purpose
	$PIN_SUT $MONIT_CMD >"$_d/out" 2>&1 &
	_mpid=$!
	BENCH_PIDS="$BENCH_PIDS $_mpid"
	sleep "$PEER_WARMUP"
	kill -0 "$_mpid" 2>/dev/null || {
		stop_pid "$_mpid"
		say "monit exited: $(tail -n 3 "$_d/out")"
		peer_skip "monit at N=$_n exited at start: $(tail -n 1 "$_d/out")"
		return 0
	}
	peer_measure "$_d" "$_mpid"
	stop_pid "$_mpid"
	$BENCH_PY engine monit "$_n" "$2" 1000 "$_d" peers >"$_d/rec" || die "bench.py failed"
	cat "$_d/rec" >>"$REC"
	$BENCH_PY brief <"$_d/rec"
}

# prom_run N RUN: Prometheus scraping blackbox_exporter's /probe for N
# targets every second, both on $CPU_SUT, storage in the run's directory.
# Bounded in time like any other run: when it cannot keep up, that is
# what is measured, and the series it has (count(probe_success)) say
# whether anything would have noticed.
prom_run() {
	local _n _d _bport _pport _bpid _ppid _series _ok _up _pin
	_n=$1
	_d=$BT/prom
	rm -rf "$_d"
	mkdir -p "$_d/tsdb"
	_bport=$(free_port)
	_pport=$(free_port)
	cat >"$_d/blackbox.yml" <<EOF
modules:
  http_2xx:
    prober: http
    timeout: 1s
    http:
      preferred_ip_protocol: ip4
      valid_status_codes: [200]
EOF
	{
		cat <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params:
      module: [http_2xx]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:$_bport
    static_configs:
      - targets:
EOF
		awk -v n="$_n" -v port="$TPORT" 'BEGIN {
			for (i = 1; i <= n; i++)
				printf "          - http://127.0.0.1:%d/e/%d\n", port, i
		}'
	} >"$_d/prometheus.yml"
	BLACKBOX_CMD="$BLACKBOX --config.file=$_d/blackbox.yml --web.listen-address=127.0.0.1:$_bport"
	PROM_CMD="$PROMETHEUS --config.file=$_d/prometheus.yml --storage.tsdb.path=$_d/tsdb --web.listen-address=127.0.0.1:$_pport --log.level=warn"
	echo "$BLACKBOX_CMD" >"$BT/cmd.blackbox"
	echo "$PROM_CMD" >"$BT/cmd.prom"
	_pin=
	[ "$PROM_PIN" = 0 ] || _pin=$PIN_SUT
	# shellcheck disable=SC2086 # commands, split on purpose
	$_pin $BLACKBOX_CMD >"$_d/blackbox.out" 2>&1 &
	_bpid=$!
	BENCH_PIDS="$BENCH_PIDS $_bpid"
	# shellcheck disable=SC2086
	$_pin $PROM_CMD >"$_d/prometheus.out" 2>&1 &
	_ppid=$!
	BENCH_PIDS="$BENCH_PIDS $_ppid"
	if ! wait_until 60 curl -sf -m 2 "http://127.0.0.1:$_pport/-/ready" ||
	    ! kill -0 "$_bpid" 2>/dev/null; then
		say "Prometheus or blackbox_exporter did not start: $(tail -n 3 "$_d/prometheus.out" "$_d/blackbox.out")"
		peer_skip "Prometheus at N=$_n did not start: $(tail -n 1 "$_d/prometheus.out")"
		stop_pid "$_ppid"
		stop_pid "$_bpid"
		return 0
	fi
	sleep "$PROM_WARMUP"
	peer_measure "$_d" "$_bpid" "$_ppid"
	# What an alert on probe_success would see: how many of the N series
	# exist, and how many scrapes succeeded, at the end of the run.
	_q() {
		curl -sf -m 10 "http://127.0.0.1:$_pport/api/v1/query" --data-urlencode "query=$1" |
		    $PY -c 'import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(int(float(r[0]["value"][1])) if r else 0)
except Exception:
    print("null")'
	}
	_series=$(_q 'count(probe_success)')
	_ok=$(_q 'count(probe_success == 1)')
	_up=$(_q 'count(up == 1)')
	stop_pid "$_ppid"
	stop_pid "$_bpid"
	$BENCH_PY engine prometheus "$_n" "$2" 1000 "$_d" peers \
	    "probe_success_series=$_series" "probe_success_ok=$_ok" "up_series=$_up" \
	    >"$_d/rec" || die "bench.py failed"
	cat "$_d/rec" >>"$REC"
	$BENCH_PY brief <"$_d/rec"
	say "   Prometheus series at the end: probe_success $_series of $_n (== 1: $_ok), up == 1: $_up"
}
