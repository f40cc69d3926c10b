#!/usr/bin/python3
"""Turns the raw CSV of bench.sh into latest.md (tables of ratios and the
issue-7 goals) and latest.png (gnuplot: scrape time and memory against the
number of processes).  Standard library only.

    report.py RESULTS.csv OUTDIR
"""
import csv
import math
import os
import subprocess
import sys

TOOLS = [("pidcar-agent", "pidcar agent"), ("pidcar-sidecar", "pidcar sidecar"),
         ("process-exporter", "process-exporter")]


def load(path):
    r = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            r[(row["n"], row["subject"], row["metric"])] = row["value"]
    return r


R = load(sys.argv[1])
OUT = sys.argv[2]


def v(n, s, m):
    x = R.get((str(n), s, m))
    if x is None or x in ("", "nan", "?"):
        return None
    try:
        return float(x)
    except ValueError:
        return None


def meta(m):
    return R.get(("0", "meta", m), "?")


def fmt(x, nd=None):
    if x is None:
        return "—"
    if nd is None:
        a = abs(x)
        nd = 0 if a >= 100 else 1 if a >= 10 else 2 if a >= 0.1 else 3
    return f"{x:,.{nd}f}".replace(",", " ")


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def rfmt(x):
    if x is None:
        return "—"
    return f"{x:.3f}" if x < 0.1 else f"{x:.2f}"


sizes = sorted({int(k[0]) for k in R if k[0] != "0" and k[1] == "floor"})
lines = []
p = lines.append
p(f"## pidcar benchmark ({meta('date')})")
p("")
p(f"Machine: {meta('cpus')} × {meta('cpu_model')}, {meta('mem_gib')} GiB, Linux "
  f"{meta('kernel')}; load average {meta('loadavg_start')} at the start, "
  f"{meta('loadavg_end')} at the end (other work shared the machine). "
  f"{meta('pidcar_version')} ({meta('pidcar_commit')}), "
  f"prometheus-process-exporter {meta('process_exporter')} (as packaged, grouping by comm), "
  f"forkstat {meta('forkstat')}. Target: a PID namespace of N sleeping "
  f"processes (nsinit {meta('target_args')}: chains of 4, 50 with 2 extra threads, "
  f"8 comm names). pidcar runs with `--refresh_age 0` (every GET reads /proc afresh, "
  f"as a 15 s Prometheus scrape would) and otherwise defaults (poll_interval 50ms). "
  f"Ratios compare tools within this one run; absolute times move with the machine's load.")
p("")

for n in sizes:
    fl, ps = "floor", "ps"
    p(f"### N = {n:,}".replace(",", " ") + f" processes ({fmt(v(n, 'target', 'processes'), 0)} in the namespace)")
    p("")
    p("| measure | pidcar agent | pidcar sidecar | process-exporter | /proc floor | ps -e | "
      "agent ÷ exporter | sidecar ÷ exporter | agent ÷ floor | sidecar ÷ floor |")
    p("|---|---|---|---|---|---|---|---|---|---|")

    def spread(s, key):
        med = v(n, s, f"{key}_median_ms")
        if med is None:
            return "—"
        return f"{fmt(med)} ({fmt(v(n, s, f'{key}_p10_ms'))}–{fmt(v(n, s, f'{key}_p90_ms'))})"

    def row(label, vals, floorv, psv, peer_col="exporter"):
        a, sc, pe = vals
        cells = [label] + [fmt(x) if not isinstance(x, str) else x for x in (a, sc, pe)]
        cells += [fmt(floorv), fmt(psv)]
        return cells

    for key, label in (("metrics", "GET /metrics ms, median (p10–p90)"),
                       ("processes", "GET /api/v1/processes ms, median (p10–p90)")):
        med = {s: v(n, s, f"{key}_median_ms") for s, _ in TOOLS}
        peer = med["process-exporter"]
        peer_note = ""
        if key == "processes":
            peer = v(n, ps, "median_ms")   # the process list's peer is ps
            peer_note = " (÷ ps)"
        floor = v(n, fl, "median_ms")
        p("| " + " | ".join([label, spread("pidcar-agent", key), spread("pidcar-sidecar", key),
                             spread("process-exporter", key) if key == "metrics" else "—",
                             f"{fmt(floor)} ({fmt(v(n, fl, 'min_ms'))}–{fmt(v(n, fl, 'max_ms'))})",
                             fmt(v(n, ps, "median_ms")),
                             rfmt(ratio(med["pidcar-agent"], peer)) + peer_note,
                             rfmt(ratio(med["pidcar-sidecar"], peer)) + peer_note,
                             rfmt(ratio(med["pidcar-agent"], floor)),
                             rfmt(ratio(med["pidcar-sidecar"], floor))]) + " |")
        cpu = {s: v(n, s, f"{key}_cpu_ms") for s, _ in TOOLS}
        cpeer = cpu["process-exporter"] if key == "metrics" else v(n, ps, "cpu_ms")
        fcpu = v(n, fl, "cpu_ms")
        p("| " + " | ".join([f"CPU ms per GET {'/metrics' if key == 'metrics' else '/api/v1/processes'}",
                             fmt(cpu["pidcar-agent"]), fmt(cpu["pidcar-sidecar"]),
                             fmt(cpu["process-exporter"]) if key == "metrics" else "—",
                             fmt(fcpu), fmt(v(n, ps, "cpu_ms")),
                             rfmt(ratio(cpu["pidcar-agent"], cpeer)) + peer_note,
                             rfmt(ratio(cpu["pidcar-sidecar"], cpeer)) + peer_note,
                             rfmt(ratio(cpu["pidcar-agent"], fcpu)),
                             rfmt(ratio(cpu["pidcar-sidecar"], fcpu))]) + " |")
        rq = {s: v(n, s, f"{key}_runq_ms") for s, _ in TOOLS}
        if any(x is not None for x in rq.values()):
            p("| " + " | ".join([f"… of which waiting for a CPU, ms per GET",
                                 fmt(rq["pidcar-agent"]), fmt(rq["pidcar-sidecar"]),
                                 fmt(rq["process-exporter"]) if key == "metrics" else "—",
                                 "—", "—", "—", "—", "—", "—"]) + " |")
    rss = {s: v(n, s, "rss_kb") for s, _ in TOOLS}
    p("| " + " | ".join(["RSS MiB after the GETs (peak)"] +
                        [f"{fmt(rss[s] / 1024 if rss[s] else None)} ({fmt((v(n, s, 'hwm_kb') or 0) / 1024)})" for s, _ in TOOLS] +
                        ["—", "—", rfmt(ratio(rss["pidcar-agent"], rss["process-exporter"])),
                         rfmt(ratio(rss["pidcar-sidecar"], rss["process-exporter"])), "—", "—"]) + " |")
    idle = {s: v(n, s, "idle_cpu_pct") for s, _ in TOOLS}
    p("| " + " | ".join([f"idle CPU, % of a core over {meta('idle_s')} s"] +
                        [fmt(idle[s], 2) for s, _ in TOOLS] + ["—", "—", "—", "—", "—", "—"]) + " |")
    up = {s: v(n, s, "startup_s") for s, _ in TOOLS}
    p("| " + " | ".join(["start-up to ready s"] + [fmt(up[s]) for s, _ in TOOLS] +
                        ["—", "—", rfmt(ratio(up["pidcar-agent"], up["process-exporter"])),
                         rfmt(ratio(up["pidcar-sidecar"], up["process-exporter"])), "—", "—"]) + " |")
    p("| " + " | ".join(["processes reported"] +
                        [fmt(v(n, s, "procs_counted"), 0) for s, _ in TOOLS] +
                        [fmt(v(n, fl, "pids"), 0), fmt(v(n, ps, "lines"), 0), "—", "—", "—", "—"]) + " |")
    p("")

# ---------------------------------------------------------------- storms
storm_n = [n for n in sizes if v(n, "none", "plain_fork_created") is not None or
           v(n, "none", "plain_exec_created") is not None]
for n in storm_n:
    p(f"### Event capture: fork storms in the N = {n} namespace ({meta('storm')}, full rate)")
    p("")
    p("| case | storm | listener | created | storm rate /s | seen | lost | lost % | "
      "ENOBUFS (pidcar: events_lost_total Δ) | listener CPU s | CPU µs per event | ÷ bare listener |")
    p("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for case in ("plain", "stall"):
        for mode in ("fork", "exec"):
            k = f"{case}_{mode}"
            if v(n, "none", f"{k}_created") is None:
                continue
            base = v(n, "cnlisten", f"{k}_cpu_us_per_event")
            for lst, name in (("none", "none (the machine's rate)"), ("forkstat", "forkstat -q -S"),
                              ("cnlisten", "bare listener (cnlisten)"), ("pidcar", "pidcar agent")):
                cr = v(n, lst, f"{k}_created")
                if cr is None:
                    continue
                cu = v(n, lst, f"{k}_cpu_us_per_event")
                p("| " + " | ".join([
                    case if case == "plain" else f"stall ({fmt(v(n, lst, f'{k}_loop_scrapes'), 0)} scans)",
                    "fork+exit" if mode == "fork" else "fork+exec", name, fmt(cr, 0),
                    fmt(v(n, lst, f"{k}_rate"), 0), fmt(v(n, lst, f"{k}_seen"), 0),
                    fmt(v(n, lst, f"{k}_lost"), 0), fmt(v(n, lst, f"{k}_lost_pct"), 2),
                    fmt(v(n, lst, f"{k}_nobufs"), 0), fmt(v(n, lst, f"{k}_cpu_s"), 2),
                    fmt(cu, 2), rfmt(ratio(cu, base)) if lst != "none" else "—"]) + " |")
    p("")
    p("*stall*: a scan of every process runs in a loop during the storm — for pidcar its own "
      "`GET /api/v1/processes` (its event loop has to serve it), for the others the /proc floor "
      "program (the same load on the machine). *seen*: fork events of the storm's processes "
      "the listener counted (pidcar: `pidcar_forks_total` Δ minus the storm and its workers). "
      "CPU µs per event = listener CPU ÷ (created × 2 for fork+exit, × 3 for fork+exec+exit); "
      "in the stall rows pidcar's CPU includes serving the scans, so only the plain rows "
      "compare per-event cost. pidcar's buffer is its own (8 MiB SO_RCVBUFFORCE); the bare "
      "listener asks for the same; forkstat keeps the default.")
    p("")

# ---------------------------------------------------------------- accounting
acct_n = [n for n in sizes if v(n, "truth", "acct_cpu_s") is not None]
for n in acct_n:
    t = v(n, "truth", "acct_cpu_s")
    p(f"### Accounting: {fmt(v(n, 'truth', 'acct_burners'), 0)} short-lived burners "
      f"(~{int(os.environ.get('BENCH_BURN_MS', '5'))} ms of CPU each, comm `burn5ms`) in the N = {n} namespace")
    p("")
    p(f"Truth: the burners' parent measured {fmt(t, 3)} s of CPU for its children "
      f"(getrusage RUSAGE_CHILDREN). Every tool was scraped once a second during the burn.")
    p("")
    p("| observer | burn5ms group CPU Δ s | error vs truth | burnparent group CPU Δ s | "
      "both groups less the parent's own CPU: error vs truth |")
    p("|---|---|---|---|---|")
    for s, name in TOOLS:
        b = v(n, s, "acct_burners_cpu_s")
        e = v(n, s, "acct_error_pct")
        p(f"| {name} | {fmt(b, 3)} | {fmt(e, 1)} % | {fmt(v(n, s, 'acct_parent_cpu_s'), 3)} | "
          f"{fmt(v(n, s, 'acct_both_error_pct'), 1)} % |")
    p("")
    p(f"The parent's own CPU: {fmt(v(n, 'truth', 'acct_parent_self_cpu_s'), 3)} s. The goal counts "
      "the burners' own group (`burn5ms`); the last column shows where CPU went when a tool "
      "books a reaped child's CPU to its parent's group instead.")
    p("")

# ---------------------------------------------------------------- goals
p("### Issue 7 goals in this run")
p("")
p("| goal | measured | met |")
p("|---|---|---|")


def goal(text, measured, ok):
    p(f"| {text} | {measured} | {'—' if ok is None else ('yes' if ok else '**no**')} |")


big = 10000 if 10000 in sizes else None
if big:
    for s, name in TOOLS[:2]:
        m, pe, fl = (v(big, s, "metrics_median_ms"), v(big, "process-exporter", "metrics_median_ms"),
                     v(big, "floor", "median_ms"))
        c, pc = v(big, s, "metrics_cpu_ms"), v(big, "process-exporter", "metrics_cpu_ms")
        r1, r2, r3 = ratio(m, pe), ratio(c, pc), ratio(m, fl)
        goal(f"N=10 000, {name}: /metrics ≤ 1/10 of the exporter's median time",
             rfmt(r1), r1 is not None and r1 <= 0.1)
        goal(f"N=10 000, {name}: /metrics CPU ≤ 1/10 of the exporter's", rfmt(r2),
             r2 is not None and r2 <= 0.1)
        goal(f"N=10 000, {name}: /metrics ≤ 1.3 × the /proc floor", rfmt(r3),
             r3 is not None and r3 <= 1.3)
        r4 = ratio(v(big, s, "rss_kb"), v(big, "process-exporter", "rss_kb"))
        goal(f"N=10 000, {name}: RSS ≤ 1/3 of the exporter's", rfmt(r4), r4 is not None and r4 <= 1 / 3)
    i = v(big, "pidcar-sidecar", "idle_cpu_pct")
    goal("sidecar at 10 000 idle processes: < 2 % of a core", f"{fmt(i, 2)} %", i is not None and i < 2)
else:
    goal("N=10 000 goals", "not measured (BENCH_SIZES)", None)
if 1000 in sizes:
    for s, name in TOOLS[:2]:
        r = ratio(v(1000, s, "processes_median_ms"), v(1000, "floor", "median_ms"))
        goal(f"N=1 000, {name}: /api/v1/processes ≤ 1.3 × the /proc floor", rfmt(r),
             r is not None and r <= 1.3)
for n in storm_n:
    for mode in ("fork", "exec"):
        k = f"plain_{mode}"
        if v(n, "pidcar", f"{k}_lost") is None:
            continue
        peers0 = all((v(n, l, f"{k}_lost") or 0) <= 0 for l in ("forkstat", "cnlisten"))
        pl = v(n, "pidcar", f"{k}_lost")
        goal(f"{mode} storm: pidcar loses none where forkstat and the bare listener lose none",
             f"pidcar {fmt(pl, 0)}, forkstat {fmt(v(n, 'forkstat', f'{k}_lost'), 0)}, "
             f"bare {fmt(v(n, 'cnlisten', f'{k}_lost'), 0)}",
             True if pl <= 0 else (False if peers0 else None))
        r = ratio(v(n, "pidcar", f"{k}_cpu_us_per_event"), v(n, "cnlisten", f"{k}_cpu_us_per_event"))
        goal(f"{mode} storm: pidcar CPU per event ≤ 2 × the bare listener's", rfmt(r),
             r is not None and r <= 2)
        ks = f"stall_{mode}"
        if v(n, "pidcar", f"{ks}_lost") is not None:
            sl = v(n, "pidcar", f"{ks}_lost")
            goal(f"{mode} storm with a {n}-process scrape looping: pidcar loses none",
                 f"{fmt(sl, 0)} lost, events_lost_total Δ {fmt(v(n, 'pidcar', f'{ks}_nobufs'), 0)}",
                 sl <= 0 and (v(n, "pidcar", f"{ks}_nobufs") or 0) == 0)
for n in acct_n:
    for s, name in TOOLS:
        e = v(n, s, "acct_error_pct")
        goal(f"short-lived CPU, {name}: within 3 % of the truth" if s != "process-exporter"
             else "short-lived CPU, process-exporter (for comparison)",
             f"{fmt(e, 1)} %", (e is not None and abs(e) <= 3) if s != "process-exporter" else None)
p("")
p("Raw numbers: `latest.csv` (n,subject,metric,value,unit). Plot: `latest.png`.")

md = "\n".join(lines) + "\n"
with open(os.path.join(OUT, "latest.md"), "w") as f:
    f.write(md)

# ---------------------------------------------------------------- plot
dat = os.path.join(OUT, ".plot.dat")
with open(dat, "w") as f:
    f.write("# n pe_ms agent_ms sidecar_ms agent_list_ms sidecar_list_ms floor_ms ps_ms pe_rss agent_rss sidecar_rss\n")
    for n in sizes:
        vals = [v(n, "process-exporter", "metrics_median_ms"), v(n, "pidcar-agent", "metrics_median_ms"),
                v(n, "pidcar-sidecar", "metrics_median_ms"), v(n, "pidcar-agent", "processes_median_ms"),
                v(n, "pidcar-sidecar", "processes_median_ms"), v(n, "floor", "median_ms"),
                v(n, "ps", "median_ms")]
        vals += [(v(n, s, "rss_kb") or math.nan) / 1024 for s in ("process-exporter", "pidcar-agent", "pidcar-sidecar")]
        f.write(f"{n} " + " ".join("NaN" if x is None else f"{x:.4f}" for x in vals) + "\n")
gp = f"""
set terminal pngcairo size 1100,440 font ",10"
set output "{os.path.join(OUT, 'latest.png')}"
set datafile missing "NaN"
set multiplot layout 1,2 title "pidcar vs process-exporter, {meta('date')} ({meta('cpus')} CPUs, load {meta('loadavg_start')})"
set logscale xy
set xlabel "processes in the target namespace"
set key top left
set grid
set ylabel "median GET time, ms"
set title "scrape time"
plot "{dat}" u 1:2 w lp lw 2 t "process-exporter /metrics", \\
     "" u 1:3 w lp lw 2 t "pidcar agent /metrics", \\
     "" u 1:4 w lp lw 2 t "pidcar sidecar /metrics", \\
     "" u 1:5 w lp dt 2 t "pidcar agent /api/v1/processes", \\
     "" u 1:6 w lp dt 2 t "pidcar sidecar /api/v1/processes", \\
     "" u 1:7 w lp dt 3 lc rgb "black" t "/proc floor (stat+status+cmdline)", \\
     "" u 1:8 w lp dt 3 lc rgb "gray40" t "ps -e"
unset logscale y
set yrange [0:*]
set ylabel "RSS, MiB"
set title "resident memory after the GETs"
plot "{dat}" u 1:9 w lp lw 2 t "process-exporter", \\
     "" u 1:10 w lp lw 2 t "pidcar agent", \\
     "" u 1:11 w lp lw 2 t "pidcar sidecar"
unset multiplot
"""
subprocess.run(["gnuplot"], input=gp, text=True, check=True)
os.unlink(dat)
