#!/usr/bin/env python3
"""The arithmetic of bench/run.sh: snapshots in, JSON records out, and the
records turned into the tables and the targets of bench/RESULTS.md.

  bench.py engine SYSTEM N RUN INTERVAL_MS DIR SECTION
      a record from DIR/a.* and DIR/b.* (see bench/lib.sh: .proc, .tproc,
      .target, and .status for rollbackd)
  bench.py floor SYSTEM N RUN OUT DIR
      a record from a floor program's JSON line OUT and the target's
      snapshots DIR/a.* and DIR/b.* around it
  bench.py get FILE EXPR
      eval(EXPR) on the JSON object in FILE as d; strings as they are
  bench.py quantiles VALUES...
      "p50 p99 max" of the numbers
  bench.py report RECORDS.jsonl
      the Markdown tables and the targets, on stdout

Records are one JSON object per line with at least "section", "system",
"n" and "run". Nothing here measures anything: it only divides.
"""
import json
import os
import sys

CLK_TCK = os.sysconf("SC_CLK_TCK")


def load_json(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return json.loads(text) if text else {}
    except (OSError, ValueError):
        return {}


def proc(path):
    """'t_usec ticks rss_kib' -> (t_usec, cpu_usec, rss_kib)."""
    with open(path) as f:
        t, ticks, rss = f.read().split()
    return int(t), int(ticks) * 1e6 / CLK_TCK, int(rss)


def div(a, b):
    return a / b if b else None


def quantile(values, q):
    """Nearest-rank quantile of a list (None when empty)."""
    v = sorted(values)
    if not v:
        return None
    k = max(0, min(len(v) - 1, int(-(-q * len(v) // 1)) - 1))
    return v[k]


def median(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2


def schedule_of(status):
    """The daemon's schedule counters: the "schedule" object when the
    daemon has one, else what the older "probes" object says."""
    if isinstance(status.get("schedule"), dict):
        return status["schedule"], "schedule"
    if isinstance(status.get("probes"), dict):
        return status["probes"], "probes"
    return {}, None


def delta(b, a, key):
    if key in b and key in a and b[key] is not None and a[key] is not None:
        return b[key] - a[key]
    return None


def extras(kvs):
    """key=value arguments: values as JSON where they parse, else text."""
    out = {}
    for kv in kvs:
        k, _, v = kv.partition("=")
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def cmd_engine(system, n, run, interval_ms, d, section, *kvs):
    n, interval_ms = int(n), float(interval_ms)
    ta, ca, _ = proc(f"{d}/a.proc")
    tb, cb, rss = proc(f"{d}/b.proc")
    _, tca, _ = proc(f"{d}/a.tproc")
    _, tcb, _ = proc(f"{d}/b.tproc")
    ga, gb = load_json(f"{d}/a.target"), load_json(f"{d}/b.target")
    secs = (tb - ta) / 1e6
    req = gb["requests"] - ga["requests"]
    conns = gb["connections"] - ga["connections"]
    cpu = cb - ca
    intended = n * secs * 1000 / interval_ms
    rec = {
        "section": section, "system": system, "n": n, "run": int(run),
        "interval_ms": interval_ms, "seconds": round(secs, 3),
        "probes": req, "intended": round(intended),
        "achieved_ratio": div(req, intended),
        "cpu_usec": round(cpu), "cpu_per_probe_usec": div(cpu, req),
        "rss_kib": rss, "connections_per_probe": div(conns, req),
        "target_cpu_per_request_usec": div(tcb - tca, req),
    }
    if os.path.exists(f"{d}/b.status"):
        sa, _ = schedule_of(load_json(f"{d}/a.status"))
        sb, src = schedule_of(load_json(f"{d}/b.status"))
        rec["schedule_source"] = src
        for k in ("samples", "late", "skipped", "missed", "connects"):
            rec[k] = delta(sb, sa, k)
        for k in ("overloaded", "intended_per_second"):
            rec[k] = sb.get(k)
        # Since the daemon started, for the overload section: the ticks
        # it could not take may all fall before the measured period.
        for k in ("late", "skipped", "missed"):
            rec[k + "_total"] = sb.get(k)
        # The lateness quantiles cover the daemon's last 4,096 ticks: each
        # reading is a window. p50 is the median of the windows' p50, p99
        # the worst window's p99 (the strict reading; the median of the
        # windows' p99 is kept too), max the largest.
        wins = []
        try:
            with open(f"{d}/lat.jsonl") as f:
                for line in f:
                    line = line.strip()
                    if line:
                        try:
                            w, _ = schedule_of(json.loads(line))
                        except ValueError:
                            continue
                        if "lateness_p99_usec" in w:
                            wins.append(w)
        except OSError:
            pass
        if "lateness_p99_usec" in sb:
            wins.append(sb)
        if wins:
            rec["lateness_windows"] = len(wins)
            rec["lateness_p50_usec"] = median([w["lateness_p50_usec"] for w in wins])
            rec["lateness_p99_usec"] = max(w["lateness_p99_usec"] for w in wins)
            rec["lateness_p99_median_usec"] = median([w["lateness_p99_usec"] for w in wins])
            rec["lateness_max_usec"] = max(w["lateness_max_usec"] for w in wins)
            rec["overloaded_windows"] = sum(1 for w in wins if w.get("overloaded"))
        hist = load_json(f"{d}/hist.json").get("events") or []
        rec["last_event"] = hist[0].get("event") if hist else None
        full = load_json(f"{d}/full.status")
        if full.get("services"):
            rec["states"] = sorted({s.get("state") for s in full["services"]})
            rec["checks_last_unknown"] = sum(
                1 for s in full["services"] for c in s.get("checks") or []
                if c.get("last") == "unknown")
    rec.update(extras(kvs))
    print(json.dumps(rec))


def cmd_floor(system, n, run, out, d):
    f = load_json(out)
    if not f:
        sys.exit(f"bench.py: {out}: no JSON line from the floor")
    _, tca, _ = proc(f"{d}/a.tproc")
    _, tcb, _ = proc(f"{d}/b.tproc")
    ga, gb = load_json(f"{d}/a.target"), load_json(f"{d}/b.target")
    req = gb["requests"] - ga["requests"]
    conns = gb["connections"] - ga["connections"]
    rec = {
        "section": "engine", "system": system, "n": int(n), "run": int(run),
        "interval_ms": f.get("interval_ms", 1000), "seconds": f.get("seconds"),
        "probes": f.get("probes"), "intended": f.get("intended"),
        "achieved_ratio": f.get("achieved_ratio"),
        "cpu_usec": f.get("cpu_usec"),
        "cpu_per_probe_usec": f.get("cpu_per_probe_usec"),
        "rss_kib": f.get("rss_kib"),
        "lateness_p50_usec": f.get("lateness_p50_usec"),
        "lateness_p99_usec": f.get("lateness_p99_usec"),
        "lateness_max_usec": f.get("lateness_max_usec"),
        "errors": f.get("errors"), "skipped": f.get("skipped"),
        # Over the whole run, warm-up included: the floor measures its own
        # period, the target cannot see where it starts.
        "connections_per_probe": f.get("connects_per_probe", div(conns, req)),
        "target_cpu_per_request_usec": div(tcb - tca, req),
    }
    print(json.dumps(rec))


def cmd_detect(run, stats, history, deploys, interval_ms, fail_after):
    """One flip: from the target's flip time to the newest degraded
    event's time and to the run-th line of the deploy log (the rollback
    command's start, date +%s%N)."""
    run, interval_usec = int(run), int(float(interval_ms) * 1000)
    flip = load_json(stats).get("last_flip_wall_usec")
    ev = [e for e in load_json(history).get("events", []) if e.get("event") == "degraded"]
    verdict = ev[0]["at"] if ev else None
    starts = []
    with open(deploys) as f:
        starts = [round(float(x) * 1e6) for x in f.read().split()]
    start = starts[run - 1] if len(starts) >= run else None
    rec = {"section": "detection", "system": "rollbackd", "n": None, "run": run,
           "interval_usec": interval_usec,
           "theoretical_usec": interval_usec * int(fail_after),
           "flip_wall_usec": flip,
           "verdict_usec": verdict - flip if verdict and flip else None,
           "rollback_start_usec": start - flip if start and flip else None,
           "start_after_verdict_usec": start - verdict if start and verdict else None,
           "degraded_reason": ev[0].get("reason") if ev else None}
    print(json.dumps(rec))


def cmd_bashstart(runs=20):
    """How long bash takes from a fork to reading $EPOCHREALTIME, the
    detection's clock for the rollback command's start: the median and
    the largest of runs, as a record."""
    import subprocess
    import time
    v = []
    for _ in range(int(runs)):
        t0 = time.time()
        out = subprocess.run(["/bin/bash", "-c", "echo $EPOCHREALTIME"],
                             capture_output=True, text=True).stdout
        v.append((float(out) - t0) * 1e6)
    print(json.dumps({"section": "detection_cal", "system": "bash", "n": None,
                      "run": 1, "bash_start_p50_usec": median(v),
                      "bash_start_max_usec": max(v)}))


def cmd_brief():
    """A one-line summary of the record on stdin, for progress output."""
    r = json.loads(sys.stdin.readline())
    keys = ("cpu_per_probe_usec", "achieved_ratio", "rss_kib", "lateness_p99_usec",
            "connections_per_probe", "target_cpu_per_request_usec", "verdict_usec",
            "start_after_verdict_usec", "ready_usec", "status_usec",
            "wakeups_per_second", "overloaded", "late", "skipped")
    parts = []
    for k in keys:
        v = r.get(k)
        if v is None:
            continue
        parts.append(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}")
    print("   " + " ".join(parts), file=sys.stderr)


def cmd_get(path, expr):
    d = load_json(path)
    try:
        v = eval(expr, {}, {"d": d})
    except Exception:
        sys.exit(1)
    print(v if isinstance(v, str) else json.dumps(v))


# ---------------------------------------------------------------- report

SYSTEMS = [
    ("rollbackd", "rollbackd"),
    ("curl_floor", "bare libcurl multi, keep-alive"),
    ("curl_floor_fresh", "bare libcurl multi, new connection per probe"),
    ("raw_floor", "raw keep-alive sockets"),
    ("monit", "monit 5.33 (sequential cycle)"),
    ("prometheus", "Prometheus 2.42 + blackbox_exporter 0.23"),
]
FLOORS = ("curl_floor", "curl_floor_fresh", "raw_floor")


def fmt(v, nd=1, scale=1.0):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return f"{v * scale:,.{nd}f}"


def fmt_range(vals, nd=1, scale=1.0):
    v = [x for x in vals if x is not None]
    if not v:
        return "-"
    m = fmt(median(v), nd, scale)
    if len(v) == 1:
        return m
    return f"{m} ({fmt(min(v), nd, scale)}–{fmt(max(v), nd, scale)})"


def unknown_ticks(rs):
    """The median of each of late / skipped / missed, where known."""
    v = [median([r.get(k) for r in rs]) for k in ("late", "skipped", "missed")]
    if all(x is None for x in v):
        return "-"
    return " / ".join(fmt(x, 0) for x in v)


class Report:
    def __init__(self, recs):
        self.recs = recs
        self.targets = []

    def pick(self, section, system=None, n=None):
        return [r for r in self.recs if r.get("section") == section
                and (system is None or r.get("system") == system)
                and (n is None or r.get("n") == n)]

    def col(self, recs, key):
        return [r.get(key) for r in recs]

    def med(self, section, system, n, key):
        return median(self.col(self.pick(section, system, n), key))

    def same_run_ratio(self, n, other):
        """rollbackd's CPU per probe / other's, run by run (same run, same
        N), then the median and range of those ratios."""
        rb = {r["run"]: r for r in self.pick("engine", "rollbackd", n)}
        out = []
        for r in self.pick("engine", other, n):
            a = rb.get(r["run"])
            if a and a.get("cpu_per_probe_usec") and r.get("cpu_per_probe_usec"):
                out.append(a["cpu_per_probe_usec"] / r["cpu_per_probe_usec"])
        return out

    def target(self, what, value, met):
        self.targets.append((what, value, met))

    def engine_table(self):
        ns = sorted({r["n"] for r in self.pick("engine")}
                    | {r["n"] for r in self.pick("peers")})
        if not ns:
            return []
        out = [
            "| system | N | CPU µs per probe, median (min–max) | rollbackd ÷ this | "
            "achieved / intended | RSS MiB | lateness p50 / p99 ms | "
            "connections per probe | target CPU µs per request | unknown ticks (late / skipped / missed) | runs |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for n in ns:
            rbd = self.med("engine", "rollbackd", n, "cpu_per_probe_usec")
            for sysname, label in SYSTEMS:
                rs = self.pick("engine", sysname, n) + self.pick("peers", sysname, n)
                if not rs:
                    continue
                cpu = self.col(rs, "cpu_per_probe_usec")
                if sysname == "rollbackd":
                    ratio = "1"
                elif sysname in FLOORS:
                    ratio = fmt_range(self.same_run_ratio(n, sysname), 2)
                else:
                    ratio = fmt(div(rbd, median(cpu)) if rbd else None, 3)
                p50 = median(self.col(rs, "lateness_p50_usec"))
                p99 = median(self.col(rs, "lateness_p99_usec"))
                late = "-" if p50 is None and p99 is None else \
                    f"{fmt(p50, 2, 1e-3)} / {fmt(p99, 2, 1e-3)}"
                out.append(
                    f"| {label} | {n:,} | {fmt_range(cpu, 1)} | {ratio} | "
                    f"{fmt_range(self.col(rs, 'achieved_ratio'), 3)} | "
                    f"{fmt(median(self.col(rs, 'rss_kib')), 1, 1 / 1024)} | "
                    f"{late} | {fmt(median(self.col(rs, 'connections_per_probe')), 3)} | "
                    f"{fmt(median(self.col(rs, 'target_cpu_per_request_usec')), 1)} | "
                    f"{unknown_ticks(rs)} | {len(rs)} |")
        return out

    def rss_growth(self):
        """KiB of RSS per added check between each pair of sizes, from
        rollbackd's medians."""
        ns = sorted({r["n"] for r in self.pick("engine", "rollbackd")})
        med = {n: self.med("engine", "rollbackd", n, "rss_kib") for n in ns}
        out = []
        for i in range(len(ns)):
            for j in range(i + 1, len(ns)):
                a, b = ns[i], ns[j]
                if med[a] is not None and med[b] is not None:
                    out.append((a, b, (med[b] - med[a]) / (b - a)))
        return out

    def engine_targets(self):
        ns = sorted({r["n"] for r in self.pick("engine", "rollbackd")})
        if not ns:
            return
        vals = []
        ok = True
        for n in ns:
            r = self.same_run_ratio(n, "curl_floor")
            m = median(r)
            note = []
            a = self.med("engine", "rollbackd", n, "achieved_ratio")
            f = self.med("engine", "curl_floor", n, "achieved_ratio")
            # A ratio means little when either side did not do the work.
            if a is not None and a < 0.99:
                note.append(f"rollbackd achieved {fmt(a, 3)}")
            if f is not None and f < 0.99:
                note.append(f"the floor achieved {fmt(f, 3)}")
            vals.append(f"{fmt(m, 2)}× at {n:,}" + (f" ({', '.join(note)})" if note else ""))
            ok = ok and m is not None and m <= 1.2 and (a is None or a >= 0.99)
        self.target("CPU per probe ≤ 1.2× the bare libcurl poller (keep-alive) at every N",
                    ", ".join(vals), ok)
        if self.pick("peers", "monit", 1000) and self.pick("engine", "rollbackd", 1000):
            a = self.med("engine", "rollbackd", 1000, "cpu_per_probe_usec")
            b = self.med("peers", "monit", 1000, "cpu_per_probe_usec")
            self.target("CPU per probe ≤ monit's at N = 1,000",
                        f"{fmt(a)} µs vs monit {fmt(b)} µs ({fmt(div(a, b), 2)}×)",
                        a is not None and b is not None and a <= b)
        else:
            self.target("CPU per probe ≤ monit's at N = 1,000", "monit not measured", None)
        top = max(ns)
        ach = self.med("engine", "rollbackd", top, "achieved_ratio")
        self.target("10,000 checks a second on schedule on one core (achieved ≥ 0.99)",
                    fmt(ach, 3) + ("" if top >= 10000 else f" (at N = {top:,} only: 10,000 not run)"),
                    (ach is not None and ach >= 0.99) if top >= 10000 else None)
        g = self.rss_growth()
        if g:
            a, b, kib = g[-1] if len(g) == 1 else [x for x in g if x[0] == min(ns) and x[1] == max(ns)][0]
            self.target("≤ 4 KiB of RSS per added check",
                        f"{fmt(kib, 2)} KiB per check ({a:,} → {b:,})", kib <= 4)
        prom = [n for n in (1000, 5000) if self.pick("peers", "prometheus", n)]
        if prom:
            vals, ok = [], True
            for n in prom:
                a = self.med("engine", "rollbackd", n, "cpu_per_probe_usec")
                b = self.med("peers", "prometheus", n, "cpu_per_probe_usec")
                r = div(b, a) if a else None
                pa = self.med("peers", "prometheus", n, "achieved_ratio")
                vals.append(f"{fmt(r, 0)}× less at {n:,} (Prometheus achieved {fmt(pa, 3)})")
                ok = ok and r is not None and r >= 20
            self.target("≥ 20× less CPU per probe than Prometheus + blackbox_exporter",
                        ", ".join(vals), ok)
        else:
            self.target("≥ 20× less CPU per probe than Prometheus + blackbox_exporter",
                        "Prometheus not measured", None)
        if self.pick("engine", "rollbackd", 5000):
            p99 = self.med("engine", "rollbackd", 5000, "lateness_p99_usec")
            self.target("schedule lateness p99 ≤ 20 ms at 5,000 checks",
                        "not reported by the daemon" if p99 is None else f"{fmt(p99, 2, 1e-3)} ms",
                        None if p99 is None else p99 <= 20000)

    def isolation(self):
        rs = self.pick("isolation", "rollbackd")
        if not rs:
            return []
        out = ["| N | hanging endpoints | lateness p50 / p99 / max ms | achieved / intended "
               "(all checks) | CPU µs per probe | samples late / skipped |",
               "|---|---|---|---|---|---|"]
        by = {}
        for r in rs:
            by.setdefault(r["hanging"], []).append(r)
        for h in sorted(by):
            x = by[h]
            out.append(
                f"| {x[0]['n']:,} | {h} | {fmt(median(self.col(x, 'lateness_p50_usec')), 2, 1e-3)} / "
                f"{fmt(median(self.col(x, 'lateness_p99_usec')), 2, 1e-3)} / "
                f"{fmt(median(self.col(x, 'lateness_max_usec')), 2, 1e-3)} | "
                f"{fmt(median(self.col(x, 'achieved_ratio')), 3)} | "
                f"{fmt(median(self.col(x, 'cpu_per_probe_usec')), 1)} | "
                f"{fmt(median(self.col(x, 'late')), 0)} / {fmt(median(self.col(x, 'skipped')), 0)} |")
        p0 = median(self.col(by.get(0, []), "lateness_p99_usec"))
        hs = [h for h in by if h > 0]
        ph = median(self.col(by[max(hs)], "lateness_p99_usec")) if hs else None
        base = by.get(0, [])
        base_ok = base and all((r.get("achieved_ratio") or 0) >= 0.99 and
                               r.get("last_event") in (None, "deployed") for r in base)
        if p0 is not None and ph is not None and not base_ok:
            self.target(f"isolation: {max(hs)} of {rs[0]['n']:,} endpoints hanging do not move lateness p99",
                        f"no valid baseline: without hanging endpoints the daemon did not keep its "
                        f"schedule (achieved {fmt(median(self.col(base, 'achieved_ratio')), 3)}, "
                        f"p99 {fmt(p0, 2, 1e-3)} ms)", False)
        elif p0 is None or ph is None:
            self.target("isolation: 10 of 5,000 endpoints hanging do not move lateness p99",
                        "lateness not reported by the daemon", None)
        else:
            # Noise: how far p99 moves between runs of the same work (the
            # engine runs at this N), and never below the loop's 1 ms timer
            # resolution.
            e = self.col(self.pick("engine", "rollbackd", rs[0]["n"]), "lateness_p99_usec")
            e = [v for v in e if v is not None]
            noise = max(1000, (max(e) - min(e)) if len(e) > 1 else 0)
            hang = by[max(hs)]
            hang_ok = all((r.get("achieved_ratio") or 0) >= 0.99 * (1 - max(hs) / r["n"]) and
                          r.get("last_event") in (None, "deployed") for r in hang)
            self.target(f"isolation: {max(hs)} of {rs[0]['n']:,} endpoints hanging do not move lateness p99",
                        f"{fmt(p0, 2, 1e-3)} ms → {fmt(ph, 2, 1e-3)} ms (noise {fmt(noise, 2, 1e-3)} ms)",
                        ph - p0 <= noise and hang_ok)
        return out

    def detection(self):
        rs = self.pick("detection", "rollbackd")
        if not rs:
            return []
        verdict = [r["verdict_usec"] for r in rs if r.get("verdict_usec") is not None]
        start = [r["rollback_start_usec"] for r in rs if r.get("rollback_start_usec") is not None]
        gap = [r["start_after_verdict_usec"] for r in rs if r.get("start_after_verdict_usec") is not None]
        theo = rs[0]["theoretical_usec"]
        missed = sum(1 for r in rs if r.get("verdict_usec") is None)
        out = [f"{len(rs)} flips, {missed} without a verdict; theoretical "
               f"interval × fail_after = {theo / 1e3:,.0f} ms (the first failing sample comes "
               "0–1 interval after the flip, so the verdict lands between "
               f"{(theo - rs[0]['interval_usec']) / 1e3:,.0f} and {theo / 1e3:,.0f} ms).", "",
               "| from the flip to | p50 ms | p99 ms | max ms |", "|---|---|---|---|"]
        for label, v in (("the verdict (degraded event)", verdict),
                         ("the rollback command's start", start),
                         ("(the command's start after the verdict)", gap)):
            out.append(f"| {label} | {fmt(quantile(v, .5), 1, 1e-3)} | "
                       f"{fmt(quantile(v, .99), 1, 1e-3)} | {fmt(max(v) if v else None, 1, 1e-3)} |")
        cal = self.pick("detection_cal")
        if cal:
            out += ["", f"The command's start is the time bash reads $EPOCHREALTIME, first thing: "
                    f"bash takes {fmt(cal[0]['bash_start_p50_usec'], 2, 1e-3)} ms "
                    f"(max {fmt(cal[0]['bash_start_max_usec'], 2, 1e-3)} ms) from a fork in "
                    "Python to that point on this machine, so the true start is about that much earlier."]
        p99 = quantile(verdict, .99)
        self.target("detection p99 ≤ interval × fail_after + 20 ms",
                    f"{fmt(p99, 1, 1e-3)} ms vs {theo / 1e3 + 20:,.0f} ms",
                    p99 is not None and missed == 0 and p99 <= theo + 20000)
        g99 = quantile(gap, .99)
        # The instrument's own delay: bash's start, measured apart.
        bash = cal[0]["bash_start_p50_usec"] if cal else 0
        c99 = g99 - bash if g99 is not None else None
        self.target("the rollback command starts within 5 ms of the verdict",
                    f"p99 {fmt(g99, 2, 1e-3)} ms as bash sees it, {fmt(c99, 2, 1e-3)} ms less bash's "
                    f"own start ({fmt(bash, 2, 1e-3)} ms); max {fmt(max(gap) if gap else None, 2, 1e-3)} ms",
                    c99 is not None and c99 <= 5000)
        return out

    def startup(self):
        rs = self.pick("startup", "rollbackd")
        if not rs:
            return []
        out = ["| policies | to READY=1 ms, median (min–max) | to the first answered status ms | RSS MiB |",
               "|---|---|---|---|"]
        out.append(f"| {rs[0]['n']:,} | {fmt_range(self.col(rs, 'ready_usec'), 1, 1e-3)} | "
                   f"{fmt_range(self.col(rs, 'status_usec'), 1, 1e-3)} | "
                   f"{fmt(median(self.col(rs, 'rss_kib')), 1, 1 / 1024)} |")
        return out

    def idle(self):
        rs = self.pick("idle", "rollbackd")
        if not rs:
            return []
        r = rs[0]
        out = ["| policies (nothing watched) | seconds | wake-ups per second | CPU µs per second |",
               "|---|---|---|---|",
               f"| {r['n']:,} | {r['seconds']:.1f} | {fmt(r['wakeups_per_second'], 2)} | "
               f"{fmt(r['cpu_usec_per_second'], 0)} |"]
        self.target("idle is idle: ≤ 1 wake-up a second with nothing watched",
                    f"{fmt(r['wakeups_per_second'], 2)} wake-ups/s", r["wakeups_per_second"] <= 1)
        return out

    def overload(self):
        rs = self.pick("overload", "rollbackd")
        if not rs:
            return []
        out = ["| checks × interval | intended probes/s | achieved / intended | CPU cores used | "
               "status says overloaded after ms | slowest status answer ms | log says so after ms | "
               "late / skipped / missed ticks "
               "since the start | checks whose last sample is unknown | last event |",
               "|---|---|---|---|---|---|---|---|---|---|"]
        ok = True
        for r in rs:
            iv = r["interval_ms"] * 1000
            out.append(
                f"| {r['n']:,} × {r['interval_ms']:.0f} ms | {r['intended'] / r['seconds']:,.0f} | "
                f"{fmt(r['achieved_ratio'], 3)} | {fmt(r['cpu_usec'] / r['seconds'] / 1e6, 2)} | "
                f"{fmt(r.get('overloaded_after_usec'), 0, 1e-3)} | {fmt(r.get('status_slowest_usec'), 0, 1e-3)} | "
                f"{fmt(r.get('log_after_usec'), 0, 1e-3)} | "
                f"{fmt(r.get('late_total'), 0)} / {fmt(r.get('skipped_total'), 0)} / {fmt(r.get('missed_total'), 0)} | "
                f"{fmt(r.get('checks_last_unknown'), 0)} | {r.get('last_event') or '-'} |")
            # Within one interval of the overload's start, which is at
            # the latest the end of the first interval after the announce;
            # 0.5 s for the 100 ms polls and a busy daemon's answer.
            limit = 2 * iv + 500000
            unknown = sum(r.get(k + "_total") or 0 for k in ("late", "skipped", "missed"))
            said = r.get("overloaded_after_usec")
            logged = r.get("log_after_usec")
            ok = ok and unknown > 0 and said is not None and logged is not None \
                and said <= limit and logged <= limit
        lines = [r.get("log_line") for r in rs if r.get("log_line")]
        if lines:
            out += ["", f"The log's first line about it: `{lines[0]}`"]
        last = rs[-1]
        self.target("overload is never silent: status and the log say so within one interval "
                    "(≤ 2 intervals after the announce, + 0.5 s for polling), late ticks count as unknown",
                    "; ".join(f"{r['n']:,} × {r['interval_ms']:.0f} ms: status after "
                              f"{fmt(r.get('overloaded_after_usec'), 0, 1e-3)} ms, log after "
                              f"{fmt(r.get('log_after_usec'), 0, 1e-3)} ms, {fmt(sum(r.get(k + '_total') or 0 for k in ('late', 'skipped', 'missed')), 0)} unknown ticks"
                              for r in rs), ok)
        return out

    def notes(self):
        """Runs whose watch ended before the measured period did."""
        out = []
        for r in self.recs:
            if r.get("system") == "rollbackd" and r.get("section") in ("engine", "isolation") \
                    and r.get("last_event") not in (None, "deployed"):
                out.append(f"- {r['section']} N={r['n']:,} run {r['run']}: the watch ended "
                           f"(last event \"{r['last_event']}\"): probing stopped there.")
        return out


def cmd_report(path):
    recs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    rp = Report(recs)
    sections = []
    t = rp.engine_table()
    if t:
        sections.append(("Probe engine, floors and peers (1 s interval)", t))
        g = rp.rss_growth()
        if g:
            sections.append(("RSS per added check (rollbackd, medians)",
                             ["| from N | to N | KiB per added check |", "|---|---|---|"] +
                             [f"| {a:,} | {b:,} | {k:.2f} |" for a, b, k in g]))
        rp.engine_targets()
    for title, fn in (("Isolation: hanging endpoints", rp.isolation),
                      ("Detection: one endpoint flipped to failing", rp.detection),
                      ("Start-up", rp.startup),
                      ("Idle", rp.idle),
                      ("Overload, on purpose", rp.overload)):
        t = fn()
        if t:
            sections.append((title, t))
    n = rp.notes()
    if n:
        sections.append(("Notes", n))
    for title, lines in sections:
        print(f"### {title}\n")
        print("\n".join(lines))
        print()
    print("### Targets\n")
    print("| target (issue 7) | measured | met |")
    print("|---|---|---|")
    for what, value, met in rp.targets:
        m = "not measured" if met is None else ("met" if met else "**NOT met**")
        print(f"| {what} | {value} | {m} |")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "engine":
        cmd_engine(*args)
    elif cmd == "floor":
        cmd_floor(*args)
    elif cmd == "record":
        print(json.dumps(extras(args)))
    elif cmd == "detect":
        cmd_detect(*args)
    elif cmd == "bashstart":
        cmd_bashstart(*args)
    elif cmd == "brief":
        cmd_brief()
    elif cmd == "get":
        cmd_get(*args)
    elif cmd == "quantiles":
        v = [float(x) for x in args]
        print(quantile(v, .5), quantile(v, .99), max(v) if v else None)
    elif cmd == "report":
        cmd_report(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
