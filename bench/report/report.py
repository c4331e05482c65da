#!/usr/bin/env python3
"""bench/report/report.py — merges the benchmark results of one ./bench/run into
bench/results/latest.json (flat dotted keys + details) and writes bench/results/latest.md
(machine, figure / target / baseline / ratio / met table, where the time goes when a target is
missed) and bench/results/e2e.png (gnuplot: latency and throughput over time of the e2e run).

  report.py --results DIR --status STATUS.tsv [--run-id ID] [--elapsed S] [--command CMD]

STATUS.tsv (written by bench/run): name, state (ok | timeout | failed-N | exit-N | missing |
no-time), seconds, bound, log. Only results of benchmarks whose state is ok or exit-N (results
written in this run) are used."""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tables  # noqa: E402


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def flatten(name, d):
    out = {}

    def walk(prefix, v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "details":
                    continue
                walk(f"{prefix}.{k}" if prefix else k, x)
        elif isinstance(v, bool) or isinstance(v, (int, float)):
            out[prefix] = v
        elif isinstance(v, str) and prefix in out:
            return
        elif isinstance(v, str) and len(v) <= 120 and prefix not in out:
            out[prefix] = v  # never over a number ({"router": {"ratio": 4.7}, "ratio": "text"})

    for k, v in (d or {}).items():
        if k == "details":
            continue
        if k.startswith(name + "."):
            walk(k, v)
        elif k == name:  # {"router": {...}} → router.*
            walk(name, v)
        else:
            walk(f"{name}.{k}", v)
    return out


def machine():
    m = {"nproc": os.cpu_count(), "kernel": platform.release(),
         "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    m["cpu_model"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    m["memory_gib"] = round(int(line.split()[1]) / 1048576, 1)
        with open("/proc/loadavg") as f:
            m["loadavg_at_end"] = " ".join(f.read().split()[:3])
    except OSError:
        pass
    try:
        m["nproc"] = int(subprocess.check_output(["nproc"], text=True).strip())
    except (OSError, subprocess.CalledProcessError, ValueError):
        pass
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    m["os"] = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return m


def plot(results_dir, png):
    csv = os.path.join(results_dir, "e2e-series.csv")
    if not os.path.exists(csv) or not shutil.which("gnuplot"):
        return "no plot (" + ("gnuplot missing" if os.path.exists(csv) else "no e2e series") + ")"
    rows = []
    with open(csv) as f:
        next(f, None)
        for line in f:
            p = line.strip().split(",")
            if len(p) == 6:
                rows.append((p[0], int(p[1]), int(p[2]), int(p[3]), float(p[4]), float(p[5])))
    fixed_len = max([r[1] for r in rows if r[0] == "fixed"], default=-1) + 1
    max_len = max([r[1] for r in rows if r[0] == "max"], default=-1) + 1
    offset = {"fixed": 0, "max": fixed_len + 2, "audited": fixed_len + max_len + 4}
    dat = os.path.join(results_dir, ".e2e-plot.dat")
    with open(dat, "w") as f:
        for ph in ("fixed", "max", "audited"):
            for r in rows:
                if r[0] != ph:
                    continue
                x = r[1] + offset[ph]
                lat50 = r[4] if r[3] else "NaN"
                lat99 = r[5] if r[3] else "NaN"
                f.write(f"{x} {r[2]} {r[3]} {lat50} {lat99}\n")
            f.write("\n\n")
    gp = f"""
set terminal pngcairo size 1100,800 font ",10"
set output "{png}"
set multiplot layout 2,1 title "Baton end-to-end (accept → webhook): fixed {fixed_len} s at the fixed rate, then max rate, then max rate held to the audit's pace"
set grid
set key top left
set ylabel "latency (ms), log"
set logscale y
set xlabel "seconds since the fixed-rate phase began (max-rate, then audited max-rate phase after the gaps)"
plot "{dat}" index 0 using 1:4 with lines lw 2 title "fixed: p50 send→webhook", \\
     "{dat}" index 0 using 1:5 with lines lw 2 title "fixed: p99", \\
     "{dat}" index 1 using 1:4 with lines lw 2 title "max: p50", \\
     "{dat}" index 1 using 1:5 with lines lw 2 title "max: p99", \\
     "{dat}" index 2 using 1:4 with lines lw 2 title "audited: p50", \\
     "{dat}" index 2 using 1:5 with lines lw 2 title "audited: p99", \\
     50 with lines dt 2 lc rgb "red" title "p99 target 50 ms"
unset logscale y
set ylabel "events / s"
plot "{dat}" index 0 using 1:2 with steps lw 2 title "fixed: accepted by ingest", \\
     "{dat}" index 0 using 1:3 with steps lw 2 title "fixed: webhooks delivered", \\
     "{dat}" index 1 using 1:2 with steps lw 2 title "max: accepted by ingest", \\
     "{dat}" index 1 using 1:3 with steps lw 2 title "max: webhooks delivered", \\
     "{dat}" index 2 using 1:2 with steps lw 2 title "audited: accepted by ingest", \\
     "{dat}" index 2 using 1:3 with steps lw 2 title "audited: webhooks delivered", \\
     10000 with lines dt 2 lc rgb "red" title "target 10,000/s"
unset multiplot
"""
    try:
        subprocess.run(["gnuplot"], input=gp, text=True, check=True, capture_output=True)
    except subprocess.CalledProcessError as e:
        return "gnuplot failed: " + e.stderr.strip()[:200]
    finally:
        os.unlink(dat)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--status", required=True)
    ap.add_argument("--run-id", default="")
    ap.add_argument("--elapsed", type=int, default=0)
    ap.add_argument("--command", default="./bench/run")
    a = ap.parse_args()

    status = {}
    with open(a.status) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 4:
                status[p[0]] = {"state": p[1], "seconds": int(p[2] or 0), "bound": int(p[3] or 0)}
    flat, details = {}, {}
    for name, st in status.items():
        if not (st["state"] == "ok" or st["state"].startswith("exit-")):
            continue
        d = load(os.path.join(a.results, name + ".json"))
        if d is None:
            st["state"] += " (no readable results)"
            continue
        details[name] = d
        flat.update(flatten(name, d))
    ing = details.get("ingest") or {}
    hl7 = ing.get("hl7_parse") or {}
    if hl7:
        flat["hl7.msgs_per_s"] = hl7.get("baton_parse_msgs_per_s")
        flat["hl7.npm_msgs_per_s"] = hl7.get("simple_hl7_parse_msgs_per_s")
    e2e = details.get("e2e") or {}
    base = ((e2e.get("details") or {}).get("baseline") or {})
    if base.get("latency_ms"):
        flat["e2e.baseline_p99_ms"] = base["latency_ms"].get("p99")
    mach = machine()
    png = os.path.join(a.results, "e2e.png")
    plot_err = plot(a.results, png) if "e2e" in details else "no e2e results"

    latest = {"run_id": a.run_id, "command": a.command, "elapsed_s": a.elapsed, "machine": mach,
              "benchmarks": status}
    latest.update(dict(sorted(flat.items())))
    latest["details"] = details
    with open(os.path.join(a.results, "latest.json"), "w") as f:
        json.dump(latest, f, indent=1)
    md = tables.markdown(latest, flat, details, status, mach, a, plot_err)
    with open(os.path.join(a.results, "latest.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
