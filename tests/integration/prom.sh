# shellcheck shell=dash
# A real Prometheus server for the integration tests: sourced after lib.sh,
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/prom.sh"
#   prom_require                       # fails with the apt-get line if absent
#   prom_start "$PORT" [PORT...]       # scrape these demo services, ready
#   prom_query 'sum(rate(demo_http_requests_total[10s]))'
#
# The server is Debian's /usr/bin/prometheus (package "prometheus"; PROM_BIN
# overrides it), run as a child of the test on a free loopback port
# ($PROM_PORT, never 9090), with a temporary config and storage under
# $T/prom: one job "demo" scraping /metrics of each 127.0.0.1:PORT every
# second (instance label "127.0.0.1:PORT"), rules evaluated every second, no
# remote write, retention 1 h. Its log is $PROM_LOG. lib.sh's cleanup stops
# it (SIGTERM, then SIGKILL after 10 s) before looking for processes left
# behind.
#
# prom_stop and prom_start_again (same port, same storage) are a Prometheus
# outage and its end. PROM_URL is the server's base URL for policies.

PROM_BIN=${PROM_BIN:-/usr/bin/prometheus}
PROM_DIR=$T/prom
PROM_LOG=$PROM_DIR/prometheus.log
PROM_CONF=$PROM_DIR/prometheus.yml
PROM_DATA=$PROM_DIR/data
PROM_PORT=
PROM_URL=
PROM_PID=
PROM_LOG_MARK=0
PROM_T0=0
PROM_STARTUP_MS=	# spawn to ready, of the last start

# Fail unless the Prometheus server is installed.
prom_require() {
	[ -x "$PROM_BIN" ] ||
		fail "$PROM_BIN is missing: apt-get install -y prometheus (make deps installs it)"
}

# Tail of the server's log, for failure messages: prom_log_tail [LINES].
# shellcheck disable=SC2120 # LINES is optional
prom_log_tail() {
	echo "--- prometheus log (last ${1:-20} lines of $PROM_LOG):"
	tail -n "${1:-20}" "$PROM_LOG" 2>/dev/null | sed 's/^/    /'
	echo "---"
}

# prom_write_config PORT...: the config scraping those demo services.
prom_write_config() {
	local p targets=''
	for p in "$@"; do
		case $p in ''|*[!0-9]*) fail "prom_write_config: bad port '$p'" ;; esac
		targets="$targets${targets:+, }'127.0.0.1:$p'"
	done
	cat > "$PROM_CONF" <<EOF
# $TEST_NAME: the demo services, every second.
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: demo
    metrics_path: /metrics
    static_configs:
      - targets: [$targets]
EOF
}

# Spawn the server on $PROM_PORT (no wait).
prom_spawn() {
	echo "=== prometheus started by $TEST_NAME on 127.0.0.1:$PROM_PORT" >> "$PROM_LOG"
	PROM_LOG_MARK=$(wc -l < "$PROM_LOG")
	"$PROM_BIN" \
	    --config.file="$PROM_CONF" \
	    --storage.tsdb.path="$PROM_DATA" \
	    --storage.tsdb.retention.time=1h \
	    --web.listen-address="127.0.0.1:$PROM_PORT" \
	    --web.max-connections=64 \
	    --log.level=warn \
	    </dev/null >> "$PROM_LOG" 2>&1 &
	PROM_PID=$!
}

# Whether the server answers ready; fails the test if it has exited.
prom_ready() {
	if ! kill -0 "$PROM_PID" 2>/dev/null; then
		return 2
	fi
	[ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$PROM_URL/-/ready")" = 200 ]
}

# prom_wait_ready [TIMEOUT_SECS]: bounded poll of /-/ready (default 30 s);
# fails the test with the server's log if it exits or is not ready in time.
# Sets PROM_STARTUP_MS (from the last spawn). Returns 2 (no failure) if the
# server exited because its port was taken, for prom_start to retry.
prom_wait_ready() {
	local deadline=$(( $(now_ms) + ${1:-30} * 1000 )) r
	while :; do
		prom_ready
		r=$?
		[ $r -eq 0 ] && break
		if [ $r -eq 2 ]; then
			wait "$PROM_PID" 2>/dev/null
			PROM_PID=
			if tail -n "+$((PROM_LOG_MARK + 1))" "$PROM_LOG" |
			    grep -q 'address already in use'; then
				return 2
			fi
			fail "prometheus exited at start: $(prom_log_tail)"
		fi
		if [ "$(now_ms)" -ge "$deadline" ]; then
			fail "prometheus not ready on $PROM_URL after ${1:-30}s: $(prom_log_tail)"
		fi
		sleep 0.1
	done
	# shellcheck disable=SC2034 # for the tests
	PROM_STARTUP_MS=$(( $(now_ms) - PROM_T0 ))
}

# prom_start PORT...: a new server scraping the demo services on those
# ports, on a free port, ready when this returns.
prom_start() {
	local try
	prom_require
	[ -z "$PROM_PID" ] || fail "prom_start: prometheus is already running"
	mkdir -p "$PROM_DATA" || fail "cannot create $PROM_DATA"
	prom_write_config "$@"
	add_cleanup prom_cleanup
	for try in 1 2 3; do
		PROM_PORT=$(free_port) || fail "no free port for prometheus"
		PROM_URL=http://127.0.0.1:$PROM_PORT
		PROM_T0=$(now_ms)
		prom_spawn
		prom_wait_ready 30 && return 0
		echo "prometheus: port $PROM_PORT was taken (try $try), another one"
	done
	fail "prometheus could not bind a port in 3 tries: $(prom_log_tail)"
}

# prom_stop: SIGTERM, bounded (10 s, then SIGKILL); the server is gone when
# this returns. Never fails (cleanup calls it).
prom_stop() {
	local n=0
	[ -n "$PROM_PID" ] || return 0
	kill -TERM "$PROM_PID" 2>/dev/null
	while kill -0 "$PROM_PID" 2>/dev/null && [ $n -lt 200 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	if kill -0 "$PROM_PID" 2>/dev/null; then
		echo "prometheus did not stop within 10 s of SIGTERM; killing it"
		kill -KILL "$PROM_PID" 2>/dev/null
	fi
	wait "$PROM_PID" 2>/dev/null
	PROM_PID=
}

# prom_start_again: after prom_stop, the same server again: same port, same
# config, same storage (the data scraped before the outage is kept).
prom_start_again() {
	[ -n "$PROM_PORT" ] || fail "prom_start_again: prom_start was never called"
	[ -z "$PROM_PID" ] || fail "prom_start_again: prometheus is running"
	PROM_T0=$(now_ms)
	prom_spawn
	prom_wait_ready 30 || fail "prometheus could not bind 127.0.0.1:$PROM_PORT again: $(prom_log_tail)"
}

prom_cleanup() {
	prom_stop >/dev/null 2>&1
}

# ---------------------------------------------------------------- queries

# One python3 process per query (on a loaded machine its start is what
# costs): python3 -c "$PROM_PY" MODE URL EXPR [OP BOUND], MODE one of
#   value  print the value of a scalar or one-series vector as Prometheus
#          spells it ("0.2", "NaN"); exit 1 (nothing printed) for an empty
#          vector, 2 with a message for an error, several series, another
#          type or no answer
#   holds  exit 0 if that value is a finite number and "value OP BOUND"
#          (OP: < <= > >= == !=), 1 if not or empty, 2 as above; the value
#          is printed
#   all    every series of a vector, "{labels} value" a line
PROM_PY='import json, math, operator, sys, urllib.parse, urllib.request
mode, url, expr = sys.argv[1:4]
def die(msg):
    print("prom_query: %s" % msg, file=sys.stderr)
    sys.exit(2)
try:
    with urllib.request.urlopen(url + "/api/v1/query?" +
            urllib.parse.urlencode({"query": expr}), timeout=5) as f:
        d = json.load(f)
except urllib.error.HTTPError as e:
    try:
        d = json.load(e)
    except ValueError:
        die("HTTP %d" % e.code)
except (OSError, ValueError) as e:
    die("%s: %s" % (url, e))
if d.get("status") != "success":
    die("%s: %s" % (d.get("errorType"), d.get("error")))
t, r = d["data"]["resultType"], d["data"]["result"]
if mode == "all":
    if t == "scalar":
        print(r[1])
    for s in r if t == "vector" else []:
        print("{%s} %s" % (",".join("%s=\"%s\"" % kv for kv in
            sorted(s["metric"].items())), s["value"][1]))
    sys.exit(0)
if t == "scalar":
    v = r[1]
elif t == "vector":
    if not r:
        sys.exit(1)
    if len(r) > 1:
        die("%d series: %s" % (len(r), [s["metric"] for s in r]))
    v = r[0]["value"][1]
else:
    die("result type %s" % t)
print(v)
if mode == "holds":
    op, bound = sys.argv[4], float(sys.argv[5])
    ops = {"<": operator.lt, "<=": operator.le, ">": operator.gt,
           ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
    v = float(v)
    sys.exit(0 if math.isfinite(v) and ops[op](v, bound) else 1)'

# prom_query EXPR: an instant query; see "value" above.
prom_query() {
	python3 -c "$PROM_PY" value "$PROM_URL" "$1"
}

# prom_query_all EXPR: every series of a vector, "{labels} value" a line.
prom_query_all() {
	python3 -c "$PROM_PY" all "$PROM_URL" "$1"
}

# prom_holds EXPR OP BOUND: whether EXPR has a finite value that compares
# so (NaN never does); the value on stdout. For wait_for.
prom_holds() {
	python3 -c "$PROM_PY" holds "$PROM_URL" "$1" "$2" "$3"
}

# prom_empty EXPR: whether EXPR is an empty vector (for wait_for).
prom_empty() {
	local r
	prom_query "$1" >/dev/null 2>&1
	r=$?
	[ $r -eq 1 ]
}

# prom_wait DESC TIMEOUT_SECS EXPR OP BOUND: bounded poll until it holds.
prom_wait() {
	local desc="$1" secs="$2" deadline v
	shift 2
	deadline=$(( $(now_ms) + secs * 1000 ))
	until prom_holds "$@" >/dev/null 2>&1; do
		if [ "$(now_ms)" -ge "$deadline" ]; then
			v=$(prom_query "$1" 2>&1) || v="no data ($v)"
			fail "timed out after ${secs}s waiting for: $desc ($1 $2 $3; last value: $v)"
		fi
		sleep 0.2
	done
}

# prom_assert WHAT EXPR OP BOUND: fail unless EXPR has a finite value that
# compares so; prints "WHAT: value" for the log.
prom_assert() {
	local v r
	v=$(prom_holds "$2" "$3" "$4" 2>&1)
	r=$?
	[ $r -eq 1 ] && [ -z "$v" ] && v="no data (empty vector)"
	echo "$1: $v"
	[ $r -eq 0 ] || fail "$1: expected $3 $4, got $v (query: $2)"
}
