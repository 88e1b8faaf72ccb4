# shellcheck shell=dash
# Scrape cost (issue 4, issue 7 item 5), sourced by bench/run.sh: what one
# scrape check's sample of a 500-series /metrics page costs, fetch
# included, and parse + eval + judge alone. Each live figure is the median
# of SCRAPE_RUNS runs (a fresh process each); the micro figures are
# medians of SCRAPE_MICRO_RUNS runs in one process.
#
# scrape_section: prints the tables and leaves the RESULTS.md section in
# $BT/scrape.md and the commands in $BT/scrape.cmds.
#
# Knobs (the defaults are the record's): SCRAPE_RUNS=3 SCRAPE_WARMUP=2
# SCRAPE_MEASURE=10 SCRAPE_SIZES="1 50 200" SCRAPE_FETCH_SIZES=200
# SCRAPE_MICRO_RUNS=5 SCRAPE_MICRO_ITERS=2000

SCRAPE_BIN=$BUILD/bench/scrape_bench
SCRAPE_PAGE=tests/data/promtext/valid/service_500.prom
SCRAPE_RUNS=${SCRAPE_RUNS:-3}
SCRAPE_WARMUP=${SCRAPE_WARMUP:-2}
SCRAPE_MEASURE=${SCRAPE_MEASURE:-10}
SCRAPE_SIZES=${SCRAPE_SIZES-1 50 200}
SCRAPE_FETCH_SIZES=${SCRAPE_FETCH_SIZES-200}
SCRAPE_MICRO_RUNS=${SCRAPE_MICRO_RUNS:-5}
SCRAPE_MICRO_ITERS=${SCRAPE_MICRO_ITERS:-2000}

# field NAME: the value of NAME=... in each line on stdin.
field() {
	sed -n "s/.* $1=\([^ ]*\).*/\1/p; s/^$1=\([^ ]*\).*/\1/p"
}
# The median of the numbers on stdin; "m (min-max)" after it with -r.
median() {
	sort -g | awk -v range="${1:-}" '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "-"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			if (range != "" && NR > 1)
				printf "%s (%s-%s)\n", m, v[1], v[NR]
			else
				print m
		}'
}

# scrape_live N MODE: SCRAPE_RUNS runs of N probes, "check" (fetch, parse,
# eval, judge) or "fetch" (the page dropped), appended to $BT/MODE.N.
scrape_live() {
	local _r _extra
	_r=1
	while [ "$_r" -le "$SCRAPE_RUNS" ]; do
		say "scrape cost: N=$1 $2, run $_r of $SCRAPE_RUNS (${SCRAPE_WARMUP}s warm-up, ${SCRAPE_MEASURE}s measured)"
		_extra=; [ "$2" = fetch ] && _extra=fetch
		# shellcheck disable=SC2086 # _extra is one word or none
		$SCRAPE_BIN live "$1" "$SCRAPE_PAGE" "$SCRAPE_WARMUP" "$SCRAPE_MEASURE" $_extra \
		    >"$BT/scrape.out" 2>"$BT/scrape.err" || {
			cat "$BT/scrape.out" "$BT/scrape.err" >&2
			die "scrape live N=$1 $2 failed"
		}
		sed 's/^/   /' "$BT/scrape.out" >&2
		cat "$BT/scrape.out" >>"$BT/$2.$1"
		_r=$((_r + 1))
	done
}

scrape_section() {
	local _micro_cmd _live_cmd _n _f _what _cpu _ach _rss _srv _con
	[ -x "$SCRAPE_BIN" ] || die "$SCRAPE_BIN not built (make bench)"
	say "scrape cost: parse + eval + judge alone ($SCRAPE_MICRO_RUNS runs of $SCRAPE_MICRO_ITERS samples)"
	_micro_cmd="$SCRAPE_BIN micro $SCRAPE_PAGE $SCRAPE_MICRO_RUNS $SCRAPE_MICRO_ITERS"
	$_micro_cmd >"$BT/micro" 2>"$BT/micro.err" || {
		cat "$BT/micro" "$BT/micro.err" >&2
		die "scrape micro failed"
	}
	_live_cmd="$SCRAPE_BIN live N $SCRAPE_PAGE $SCRAPE_WARMUP $SCRAPE_MEASURE"
	for _n in $SCRAPE_SIZES; do
		scrape_live "$_n" check
	done
	for _n in $SCRAPE_FETCH_SIZES; do
		scrape_live "$_n" fetch
	done
	{
		echo "| check | CPU µs per sample |"
		echo "|---|---|"
		echo "| parse only | $(field parse_us <"$BT/micro") |"
		echo "| parse + eval + judge, histogram p99 | $(field hist_us <"$BT/micro") |"
		echo "| parse + eval + judge, 5xx ratio | $(field ratio_us <"$BT/micro") |"
	} >"$BT/micro.md"
	{
		echo "| N | sample | CPU µs per sample (min-max) | achieved / intended | RSS MiB | server CPU µs per request | new connections |"
		echo "|---|---|---|---|---|---|---|"
		for _f in $(for _n in $SCRAPE_SIZES; do echo "check.$_n"; done) \
		    $(for _n in $SCRAPE_FETCH_SIZES; do echo "fetch.$_n"; done); do
			_n=${_f#*.}
			_what="fetch + parse + eval + judge"
			[ "${_f%%.*}" = fetch ] && _what="fetch only (page dropped)"
			_f=$BT/$_f
			_cpu=$(field us_per_sample <"$_f" | median -r)
			_ach=$(field achieved <"$_f" | median)
			_rss=$(field rss_kib <"$_f" | median | awk '{ printf "%.1f", $1 / 1024 }')
			_srv=$(field server_us_per_req <"$_f" | median)
			_con=$(field connects <"$_f" | median)
			echo "| $_n | $_what | $_cpu | $_ach | $_rss | $_srv | $_con |"
		done
	} >"$BT/live.md"
	{
		echo "  - \`$_micro_cmd\`"
		[ -z "$SCRAPE_SIZES" ] ||
			echo "  - \`$_live_cmd\` for N in $SCRAPE_SIZES, $SCRAPE_RUNS runs each"
		[ -z "$SCRAPE_FETCH_SIZES" ] ||
			echo "  - \`$_live_cmd fetch\` for N in $SCRAPE_FETCH_SIZES, $SCRAPE_RUNS runs each"
	} >"$BT/scrape.cmds"
	cat >"$BT/scrape.md" <<EOF
## Scrape cost: a 500-series /metrics page

The page is \`$SCRAPE_PAGE\` (500 samples, $(wc -c <"$SCRAPE_PAGE" | tr -d ' ') bytes).
Each sample goes through what \`daemon/checks.c\` does for a scrape check:
\`rbd_prom_parse\`, \`rbd_metric_eval\`, then \`rbd_judge\` against a max and
a baseline (the median of a full 10-minute window of 600 samples,
max_increase 50%), with the window kept as checks.c keeps it. Checks
alternate between the two kinds: the p99 of
\`http_request_duration_seconds\` (a histogram, all series) and the ratio
\`http_requests_total{code=~"5.."}\` / \`http_requests_total\`. The page's
counters, buckets, \`_count\` and \`_sum\` grow with every page served, so
every sample after a check's first is computed and judged.

Parse + eval + judge alone, on in-memory pages, thread CPU time per sample
(median of $SCRAPE_MICRO_RUNS runs of $SCRAPE_MICRO_ITERS samples):

$(cat "$BT/micro.md")

Fetch included: N fetch probes (\`rbd_prober_add_fetch\`) at a 1 s
interval against an evhttp server on 127.0.0.1 in a forked child process,
so the prober's \`getrusage(RUSAGE_SELF)\` (user + system) excludes the
server; the server's CPU is read from its process CPU clock. ${SCRAPE_WARMUP}s
warm-up, ${SCRAPE_MEASURE}s measured; median of $SCRAPE_RUNS runs, each a fresh process
(the range in parentheses). RSS is the prober process's VmRSS at the end.
With N=1 the one check is the histogram p99. The "fetch only" rows fetch
the same page and drop it: the fetch's share of a sample; the rest is
parse + eval + judge as it runs in the daemon, with cold caches, which
costs more than the same work repeated in a tight loop above.

$(cat "$BT/live.md")
EOF
	echo
	echo "Scrape cost: parse + eval + judge alone, in memory (median of $SCRAPE_MICRO_RUNS runs of $SCRAPE_MICRO_ITERS samples):"
	echo
	cat "$BT/micro.md"
	echo
	echo "Scrape cost: one scrape check per probe, 1 s interval, fetch included (median of $SCRAPE_RUNS runs):"
	echo
	cat "$BT/live.md"
}
