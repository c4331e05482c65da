"""The markdown of bench/results/latest.md (used by report.py)."""


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and v < 100:
        s = f"{v:.2f}".rstrip("0").rstrip(".")
    elif isinstance(v, (int, float)):
        s = f"{v:,.0f}"
    else:
        s = str(v)
    return s + unit


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


# figure key, label, unit, target text, met(figure, flat) -> bool|None, baseline key,
# ratio text and function
ROWS = [
    ("e2e.events_per_s", "e2e events/s sustained (accept → webhook)", "/s", "≥ 10,000/s",
     lambda v, f: v >= 10000, "e2e.baseline_msgs_per_s", "baseline / e2e ≤ 5",
     lambda v, f: ratio(f.get("e2e.baseline_msgs_per_s"), v), lambda r: r <= 5),
    ("e2e.audited_events_per_s", "e2e events/s with the audit trail keeping up", "/s",
     "— (10,000/s read strictly)", None, "e2e.baseline_msgs_per_s", "baseline / e2e",
     lambda v, f: ratio(f.get("e2e.baseline_msgs_per_s"), v), None),
    ("e2e.p99_ms", "e2e p99 latency at 2,000 events/s", " ms", "≤ 50 ms",
     lambda v, f: v <= 50, "e2e.baseline_p99_ms", "e2e / one raw Kafka hop",
     lambda v, f: ratio(v, f.get("e2e.baseline_p99_ms")), None),
    ("timer.schedules_per_s", "timer schedules/s", "/s", "≥ 50,000/s, ≥ 5× BullMQ",
     lambda v, f: v >= 50000 and v >= 5 * (f.get("timer.bullmq_schedules_per_s") or 1e18),
     "timer.bullmq_schedules_per_s", "timer / BullMQ",
     lambda v, f: ratio(v, f.get("timer.bullmq_schedules_per_s")), None),
    ("timer.p99_lateness_ms", "timer p99 firing lateness", " ms", "≤ 20 ms, < BullMQ",
     lambda v, f: v <= 20 and v < (f.get("timer.bullmq_p99_lateness_ms") or 0),
     "timer.bullmq_p99_lateness_ms", "timer / BullMQ",
     lambda v, f: ratio(v, f.get("timer.bullmq_p99_lateness_ms")), None),
    ("timer.pending", "timers pending during the lateness test", "", "1,000,000",
     lambda v, f: v >= 1000000, None, "", None, None),
    ("audit.rows_per_s", "audit rows/s into PostgreSQL", "/s", "—", None, None, "", None, None),
    ("hl7.msgs_per_s", "HL7 v2 parse msgs/s (libs/hl7)", "/s", "≥ 10× npm simple-hl7",
     lambda v, f: v >= 10 * (f.get("hl7.npm_msgs_per_s") or 1e18), "hl7.npm_msgs_per_s",
     "libs/hl7 / simple-hl7", lambda v, f: ratio(v, f.get("hl7.npm_msgs_per_s")), None),
    ("router.events_per_s", "router events/s (shipped discharge pathway)", "/s",
     "≥ 20,000/s, baseline ≤ 3×", lambda v, f: v >= 20000 and (f.get("router.ratio") or 99) <= 3,
     "router.baseline_msgs_per_s", "baseline / router", lambda v, f: f.get("router.ratio"), None),
    ("router.router_minimal.events_per_s", "router events/s (one-task pathway)", "/s",
     "≥ 20,000/s, baseline ≤ 3×",
     lambda v, f: v >= 20000 and (f.get("router.router_minimal.ratio") or 99) <= 3,
     "router.router_minimal.baseline_msgs_per_s", "baseline / router",
     lambda v, f: f.get("router.router_minimal.ratio"), None),
    ("ingest.http_ndjson.events_per_s", "ingest NDJSON events/s", "/s", "≥ 20,000/s",
     lambda v, f: v >= 20000, None, "", None, None),
    ("ingest.http_single.events_per_s", "ingest single-event POSTs/s", "/s", "≥ 5,000/s",
     lambda v, f: v >= 5000, None, "", None, None),
    ("notifier.throughput.deliveries_per_s", "notifier webhook deliveries/s", "/s", "≥ 5,000/s",
     lambda v, f: v >= 5000, None, "", None, None),
    ("notifier.latency.enqueue_to_delivered_ms.p99", "notifier p99 enqueue → delivered", " ms",
     "≤ 10 ms", lambda v, f: v <= 10, None, "", None, None),
]


def table(flat):
    out = ["| figure | value | target | baseline (same run) | ratio | met? |",
           "|---|---|---|---|---|---|"]
    missed = []
    def num(k):
        x = flat.get(k) if k else None
        return x if isinstance(x, (int, float)) and not isinstance(x, bool) else None

    for key, label, unit, target, met, bkey, rlabel, rfn, rmet in ROWS:
        v = num(key)
        b = num(bkey)
        bunit = unit if bkey and not bkey.endswith("msgs_per_s") else ("/s" if bkey else "")
        r = rfn(v, flat) if (rfn and v is not None) else None
        r = r if isinstance(r, (int, float)) else None
        ok = None
        if v is not None and met:
            ok = bool(met(v, flat))
            if rmet and r is not None:
                ok = ok and bool(rmet(r))
        rtxt = f"{r:.2f}× ({rlabel})" if r is not None else ("—" if not rlabel else "n/a")
        oktxt = "—" if ok is None else ("**yes**" if ok else "**no**")
        if v is None:
            oktxt = "not measured"
        out.append(f"| {label} (`{key}`) | {fmt(v, unit)} | {target} | "
                   f"{fmt(b, bunit) if bkey else '—'}{f' (`{bkey}`)' if bkey else ''} | {rtxt} | {oktxt} |")
        if ok is False or v is None:
            missed.append(key)
    return "\n".join(out), missed


def trend(series_rows):
    """p50/p99 of the fixed phase's first and last 10 seconds (means of the per-second values)."""
    fx = [r for r in series_rows if r[0] == "fixed" and r[3] > 0]
    if len(fx) < 25:
        return None
    first, last = fx[1:11], fx[-11:-1]
    mean = lambda rows, i: sum(r[i] for r in rows) / len(rows)
    return {"first_p50": mean(first, 4), "first_p99": mean(first, 5),
            "last_p50": mean(last, 4), "last_p99": mean(last, 5),
            "first_rate": mean(first, 2), "last_rate": mean(last, 2),
            "first_t": (first[0][1], first[-1][1]), "last_t": (last[0][1], last[-1][1])}


def rdkafka_version():
    import subprocess
    try:
        return subprocess.check_output(["dpkg-query", "-W", "-f=${Version}", "librdkafka1"],
                                       text=True).split("-")[0]
    except (OSError, subprocess.CalledProcessError):
        return "?"


def broker_note(d, series_rows):
    det = d.get("details") or {}
    t = trend(series_rows)
    perf = (det.get("perf") or {}).get("by_comm_dso", "")
    mock = 0.0
    for line in perf.splitlines():
        p = line.split()
        if len(p) >= 3 and p[1] == "rdk:mock" and p[0].endswith("%"):
            mock += float(p[0][:-1])
    L = []
    if t:
        L.append(f"- **Latency over time at a constant offered rate.** Fixed phase, seconds "
                 f"{t['first_t'][0]}–{t['first_t'][1]}: p50 {t['first_p50']:.0f} ms, p99 "
                 f"{t['first_p99']:.0f} ms at {t['first_rate']:.0f} events/s accepted; seconds "
                 f"{t['last_t'][0]}–{t['last_t'][1]}: p50 {t['last_p50']:.0f} ms, p99 "
                 f"{t['last_p99']:.0f} ms at {t['last_rate']:.0f}/s (plot above; per second in "
                 "bench/results/e2e-series.csv; per service in the timeline below).")
    bd = (det.get("breakdown") or {}).get("fixed") or {}
    k = (bd.get("cpu_us_per_event") or {}).get("kafka")
    b0, b1 = det.get("baseline") or {}, det.get("baseline_after_run") or {}
    l0, l1 = (b0.get("latency_ms") or {}), (b1.get("latency_ms") or {})
    if l0.get("p99") is not None and l1.get("p99") is not None:
        lat_slow = l1["p99"] > 2 * l0["p99"]
        tp0, tp1 = b0.get("msgs_per_s") or 0, b1.get("msgs_per_s") or 0
        tp_slow = tp0 and tp1 and tp1 * 2 < tp0
        verdict = ("At 2,000 msgs/s one hop is as fast on the full broker as on the empty one"
                   if not lat_slow else "One hop at 2,000 msgs/s is slower on the full broker")
        if tp_slow:
            verdict += (f"; its peak throughput fell {tp0 / tp1:.1f}× (with the services fetching "
                        "from full topics it has less CPU left over).")
        elif tp0 and tp1 and tp1 < 0.9 * tp0:
            verdict += (f"; its peak throughput was {100 * (1 - tp1 / tp0):.0f}% lower (the broker "
                        "keeps every message of the run in memory, and the idle services still "
                        "fetch).")
        else:
            verdict += "; its peak throughput held."
        L.append(f"- **The broker alone, before and after the run.** The same raw Kafka hop on a new "
                 f"topic of the same broker at 2,000 msgs/s: p50 {fmt(l0.get('p50'))} / p99 "
                 f"{fmt(l0.get('p99'))} ms before the run, p50 {fmt(l1.get('p50'))} / p99 "
                 f"{fmt(l1.get('p99'))} ms after it (its topics full, the idle services still "
                 f"fetching); peak throughput {fmt(tp0)} → {fmt(tp1)} msgs/s. " + verdict)
    fixed_s = ((det.get("run") or {}).get("fixed") or {}).get("seconds") or 0
    tl = [r for r in (det.get("timeline") or []) if r["t"] <= fixed_s and "kafka" in r["cores"]]
    grow = ""
    if len(tl) >= 3:
        c0, c1 = tl[0]["cores"]["kafka"], tl[-1]["cores"]["kafka"]
        grow = (f" Its CPU went from {fmt(c0)} cores in the first interval of the fixed phase to "
                f"{fmt(c1)} in the last, at the same offered rate"
                + (", consistent with a cost that grows with what its topics hold (librdkafka's own mock "
                   "broker finds a fetch offset by walking the partition's message sets from the oldest; "
                   "check that the devkafka log says `mock broker offset lookup: indexed`, "
                   "services/devkafka/README.md)." if c1 > 1.5 * c0 else "."))
    if k is not None:
        L.append(f"- **The development broker's CPU.** baton-devkafka (librdkafka "
                 f"{rdkafka_version()} mock cluster) used {fmt(k)} µs of CPU per event in the "
                 "fixed phase (every accepted event is its own produce request and message set: "
                 "ingest waits for each event's ack, linger.ms 0)"
                 + (f"; perf puts {mock:.1f}% of the machine's samples in the max phase in its "
                    "`rdk:mock` thread" if mock else "") + "." + grow)
    L.append("- **CPU is the ceiling.** At the fixed 2,000 events/s the co-located stack alone "
             f"keeps {fmt(bd.get('cpu_cores_busy'))} of {fmt(det.get('cpus'))} cores busy "
             f"({fmt(sum((bd.get('cpu_us_per_event') or {}).values()))} µs of CPU per event over all "
             "processes, table below), so queues form in every stage when anything else runs; "
             "the sustained max rate is bounded by cores / (CPU per event) of the max phase.")
    return "\n".join(L)


def timeline_table(det):
    rows = det.get("timeline") or []
    if not rows:
        return ""
    fams = [("router:baton_router_event_latency_seconds", "router event"),
            ("notifier:baton_notifier_delivery_latency_seconds", "notifier delivery"),
            ("ingest:baton_http_request_duration_seconds", "ingest request"),
            ("ingest:baton_ingest_kafka_produce_seconds", "ingest produce"),
            ("router:baton_router_batch_seconds", "router batch"),
            ("audit:baton_audit_commit_seconds", "audit commit")]
    procs = ["machine", "kafka", "postgres", "audit", "ingest", "notifier", "redis", "router"]
    L = ["\n**Timeline** (every ~3–5 s through the whole e2e run, fixed phase first: p99 in ms of each service's "
         "histogram over the interval, and CPU cores used per process; `machine` = every process "
         "on the machine):\n"]
    L.append("| t s | " + " | ".join(n for _, n in fams) + " | " + " | ".join(procs) + " |")
    L.append("|---" * (1 + len(fams) + len(procs)) + "|")
    for r in rows:
        L.append(f"| {r['t']:.0f} | " + " | ".join(fmt(r['p99_ms'].get(k)) for k, _ in fams) + " | "
                 + " | ".join(fmt(r['cores'].get(p)) for p in procs) + " |")
    return "\n".join(L)


def md_table(L, title, header, rows):
    """A bold-titled markdown table appended to L (title: the text after the opening "**",
    closing "**" included); nothing when there are no rows."""
    if not rows:
        return
    L.append(f"\n**{title}\n")
    L.append("| " + " | ".join(header) + " |")
    L.append("|" + "---|" * len(header))
    L.extend("| " + " | ".join(str(c) for c in r) + " |" for r in rows)


def e2e_where(d, series_rows=()):
    """Where the time goes in the e2e run (from bench/e2e's breakdown)."""
    det = d.get("details") or {}
    bd = det.get("breakdown") or {}
    run = det.get("run") or {}
    L = []
    fx, mx, au = run.get("fixed") or {}, run.get("max") or {}, run.get("audited") or {}
    L.append("End-to-end phases (bench/e2e, one stack; all processes on this machine):\n")
    L.append(f"- fixed rate: {fmt(fx.get('offered_per_s'))}/s offered, "
             f"{fmt(fx.get('achieved_send_per_s'))}/s sent; send → webhook p50 "
             f"{fmt((fx.get('send_to_webhook_ms') or {}).get('p50'))} ms, p99 "
             f"{fmt((fx.get('send_to_webhook_ms') or {}).get('p99'))} ms, p99.9 "
             f"{fmt((fx.get('send_to_webhook_ms') or {}).get('p999'))} ms; of which ingest's 202 "
             f"p50 {fmt((fx.get('ingest_ack_ms') or {}).get('p50'))} / p99 "
             f"{fmt((fx.get('ingest_ack_ms') or {}).get('p99'))} ms (includes waiting for a free "
             f"connection of the load generator, max lag {fmt(fx.get('generator_max_lag_ms'))} ms) and "
             f"202 → webhook p50 {fmt((fx.get('ack_to_webhook_ms') or {}).get('p50'))} / p99 "
             f"{fmt((fx.get('ack_to_webhook_ms') or {}).get('p99'))} ms; undelivered {fmt(fx.get('undelivered'))}.")
    L.append(f"- max rate: ingest accepted {fmt(mx.get('accepted_per_s'))}/s (capped at "
             f"{fmt(mx.get('max_inflight'))} events in flight), webhooks "
             f"{fmt(mx.get('steady_delivered_per_s'))}/s in the steady window; undelivered "
             f"{fmt(mx.get('undelivered'))}; the audit does not hold it back and fell behind: "
             f"its consumer lag was {fmt(mx.get('audit_lag_at_end'))} messages when sending "
             f"stopped (largest seen {fmt(mx.get('audit_lag_max_seen'))}).")
    if au:
        L.append(f"- audited max rate (the same, once the audit had caught up, which took "
                 f"{fmt(au.get('audit_catch_up_seconds'))} s; sending held while the audit's "
                 f"lag was above {fmt(au.get('max_audit_lag'))} messages): ingest accepted "
                 f"{fmt(au.get('accepted_per_s'))}/s, webhooks "
                 f"{fmt(au.get('steady_delivered_per_s'))}/s in the steady window, the audit's "
                 f"lag at most {fmt(au.get('audit_lag_max_seen'))}; undelivered "
                 f"{fmt(au.get('undelivered'))}.")
    if d.get("e2e.audit_offset_gaps"):
        L.append(f"- **The audit skipped {fmt(d['e2e.audit_offset_gaps'])} messages** the broker "
                 "had deleted before it read them (`baton_audit_offset_gap_total`): its figures "
                 "cover only part of the rows.")
    L.append("")
    L.append(broker_note(d, series_rows))
    for ph in ("fixed", "max", "audited"):
        b = bd.get(ph) or {}
        if not b.get("cpu_s"):
            continue
        L.append(f"\n**CPU per process, {ph} phase** ({fmt(b.get('wall_s'))} s wall; the stack kept "
                 f"{fmt(b.get('cpu_cores_busy'))} of {fmt(det.get('cpus'))} cores busy"
                 + (f", the whole machine {fmt(b.get('machine_cores_busy'))}, of which other "
                    f"processes (not this benchmark) {fmt(b.get('other_processes_cores_busy'))}"
                    if b.get("machine_cores_busy") is not None else "") + "):\n")
        L.append("| process | CPU s | µs per event | share |")
        L.append("|---|---|---|---|")
        tot = b.get("cpu_s_total") or 1
        for name, s in sorted(b["cpu_s"].items(), key=lambda kv: -kv[1]):
            L.append(f"| {name} | {fmt(s)} | {fmt(b['cpu_us_per_event'].get(name))} | "
                     f"{100 * s / tot:.0f}% |")
        L.append(f"| **total** | {fmt(b.get('cpu_s_total'))} | "
                 f"{fmt(sum(b['cpu_us_per_event'].values()))} | |")
        rc = b.get("redis_commands_per_event") or {}
        md_table(L, f"Redis by command, {ph} phase** (INFO commandstats, difference over the "
                 "phase, per event; µs measured inside Redis — a script's or EXEC's time "
                 "includes the commands it runs, which are also listed on their own):",
                 ["command", "calls per event", "µs per event"],
                 [[name, fmt(v["calls"]), fmt(v["us"])] for name, v in rc.items()])
        ps = b.get("pg_statements_per_event") or {}
        md_table(L, f"PostgreSQL by statement, {ph} phase** (pg_stat_statements, difference "
                 "over the phase, per event; time is execution wall time inside PostgreSQL, "
                 "waits for a CPU included):",
                 ["statement", "calls", "rows per event", "µs per event", "WAL bytes per event",
                  "share"],
                 [[name, fmt(v["calls"]), fmt(v["rows_per_event"]), fmt(v["us_per_event"]),
                   fmt(v["wal_bytes_per_event"]), f"{100 * v['share']:.0f}%"]
                  for name, v in ps.items()])
        hs = b.get("histograms") or {}
        if hs:
            L.append(f"\n**Per-service latency histograms, {ph} phase** (from each service's "
                     "/metrics, difference of the scrapes before and after the phase):\n")
            L.append("| service | histogram | labels | count | p50 ms | p90 ms | p99 ms | mean ms |")
            L.append("|---|---|---|---|---|---|---|---|")
            for svc in sorted(hs):
                for fam in sorted(hs[svc]):
                    for lab, v in sorted(hs[svc][fam].items()):
                        L.append(f"| {svc} | `{fam}` | {lab} | {fmt(v['count'])} | "
                                 f"{fmt(v['p50_ms'])} | {fmt(v['p90_ms'])} | {fmt(v['p99_ms'])} | "
                                 f"{fmt(v['mean_ms'])} |")
    L.append(timeline_table(det))
    perf = det.get("perf") or {}
    if perf:
        L.append("\n**perf** (whole machine sampled at 49 Hz in the max phase; top symbols per "
                 "process, % of all samples):\n")
        L.append("```")
        for name in ["by_comm_dso"] + sorted(k for k in perf if k != "by_comm_dso"):
            if name not in perf:
                continue
            lines = [l for l in perf[name].splitlines() if l.strip()][: (15 if name == "by_comm_dso" else 6)]
            L.append(f"-- {name}")
            L.extend(lines)
        L.append("```")
    return "\n".join(L)


def read_series(results_dir):
    rows = []
    try:
        with open(f"{results_dir}/e2e-series.csv") as f:
            next(f, None)
            for line in f:
                p = line.strip().split(",")
                if len(p) == 6:
                    rows.append((p[0], int(p[1]), int(p[2]), int(p[3]), float(p[4]), float(p[5])))
    except OSError:
        pass
    return rows


def markdown(latest, flat, details, status, mach, a, plot_err):
    L = ["# Baton benchmarks — latest run", ""]
    L.append(f"`{a.command}` — run {a.run_id}, {fmt(a.elapsed)} s in all.")
    L.append("")
    L.append(f"Machine: {mach.get('nproc')} CPUs ({mach.get('cpu_model', '?')}), "
             f"{mach.get('memory_gib', '?')} GiB memory, kernel {mach.get('kernel')}, "
             f"{mach.get('os', '')}, {mach.get('date')}; load average at the end "
             f"{mach.get('loadavg_at_end', '?')}. Everything co-located: the broker "
             "(baton-devkafka, librdkafka's mock cluster), redis-server, PostgreSQL, the "
             "services, the load generators and the receivers share these CPUs.")
    L.append("")
    L.append("| benchmark | state | seconds (bound) |")
    L.append("|---|---|---|")
    for name, st in status.items():
        L.append(f"| {name} | {st['state']} | {st['seconds']} ({st['bound']}) |")
    L.append("")
    tab, missed = table(flat)
    L.append("## Figures")
    L.append("")
    L.append(tab)
    L.append("")
    e2e = details.get("e2e")
    if e2e:
        cfg = (e2e.get("details") or {}).get("stack_config") or []
        L.append("e2e definitions: events/s = webhooks received per second in the steady part of "
                 "the max-rate phase (NDJSON batches of 100, back-pressured at a fixed number of "
                 "events in flight; the audit is not waited for); audited events/s = the same "
                 "with sending also held while the audit's consumer lag is above a bound; p99 = webhook received − the event's scheduled send time, "
                 "single-event POSTs at a fixed 2,000/s open loop, warm-up excluded; baseline = "
                 "raw librdkafka produce → consume (idempotent, acks=all, 300-byte messages) "
                 "through the same broker in the same run; the p99 baseline is one such hop at "
                 "2,000 msgs/s. Stack configuration for the bench (environment, no code "
                 "changes): " + ", ".join(f"`{c}`" for c in cfg) + ".")
        L.append("")
    L.append("![e2e latency and throughput over time](e2e.png)" if not plot_err
             else f"(plot: {plot_err})")
    L.append("")
    if missed:
        L.append("## Where the time goes (targets missed)")
        L.append("")
        if e2e and any(k.startswith("e2e.") for k in missed):
            L.append(e2e_where(e2e, read_series(a.results)))
            L.append("")
        others = sorted({k.split(".")[0] for k in missed if not k.startswith("e2e.")})
        for o in others:
            src = "ingest" if o == "hl7" else o
            st = status.get(src, {}).get("state", "not run")
            if src not in details:
                L.append(f"- **{o}**: not measured in this run (benchmark state: {st}).")
            else:
                L.append(f"- **{o}**: see `bench/results/{src}.json` (its own breakdown: "
                         + ", ".join(f"{k} = {fmt(v)}" for k, v in list(flatten_details(details[src]).items())[:8])
                         + ").")
        L.append("")
    return "\n".join(L) + "\n"


def flatten_details(d):
    out = {}

    def walk(p, v, depth):
        if depth > 4 or len(out) > 40:
            return
        if isinstance(v, dict):
            for k, x in v.items():
                walk(f"{p}.{k}" if p else k, x, depth + 1)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[p] = v

    walk("", d.get("details", d), 0)
    return out
