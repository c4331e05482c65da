#!/usr/bin/env python3
"""bench/report/e2e_result.py WORK OUT — turns one bench/e2e/run work directory into
bench/results/e2e.json: the flat e2e.* keys, the driver's figures, the baseline, and for each
phase where the time went: every service's *_seconds histograms (p50/p90/p99 over the phase,
from /metrics scraped before and after) and every process's CPU seconds (per event, too), plus
the top of a `perf` profile when one was taken."""
import datetime
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prom  # noqa: E402


def load_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def commandstats(text):
    """INFO commandstats → {command: (calls, usec)}"""
    out = {}
    for line in text.splitlines():
        if not line.startswith("cmdstat_"):
            continue
        name, _, rest = line[len("cmdstat_"):].partition(":")
        kv = dict(x.split("=", 1) for x in rest.split(",") if "=" in x)
        try:
            out[name] = (int(kv["calls"]), int(kv["usec"]))
        except (KeyError, ValueError):
            pass
    return out


def redis_commands(before, after, events):
    """Per event of the phase, by Redis command (most CPU first): calls and µs inside Redis."""
    a, b = commandstats(before), commandstats(after)
    if not b or not events:
        return {}
    rows = []
    for name, (calls, usec) in b.items():
        c0, u0 = a.get(name, (0, 0))
        if calls > c0:
            rows.append((usec - u0, calls - c0, name))
    rows.sort(reverse=True)
    return {name: {"calls": round(c / events, 2), "us": round(u / events, 2)} for u, c, name in rows[:12]}


def pg_statements_table(text):
    """pg_stat_statements dump (bench/e2e/hook) → {queryid: [calls, rows, ms, wal_bytes, query]}."""
    out = {}
    for line in text.splitlines():
        f = line.split("\t")
        if len(f) < 6:
            continue
        try:
            calls, rows, ms, wal = int(f[1]), int(f[2]), float(f[3]), int(f[4] or 0)
        except ValueError:
            continue
        e = out.setdefault(f[0], [0, 0, 0.0, 0, f[5]])
        e[0] += calls
        e[1] += rows
        e[2] += ms
        e[3] += wal
    return out


def statement_name(q):
    """A short name for a statement: its verb and table ("merge audit_tasks" for the
    projections' WITH ... UPDATE ... INSERT)."""
    m = re.search(r"\bUPDATE (\w+)", q)
    if q.startswith("WITH") and m:
        return "merge " + m.group(1)
    for pat, verb in ((r"^COPY (\w+)", "COPY"), (r"^INSERT INTO (\w+)", "INSERT"),
                      (r"^UPDATE (\w+)", "UPDATE"), (r"^SELECT .*? FROM (\w+)", "SELECT")):
        m = re.search(pat, q)
        if m:
            return f"{verb} {m.group(1)}"
    return q[:40]


def pg_statements(before, after, events):
    """Per event of the phase, by statement (most time first): calls, rows, ms of execution
    (pg_stat_statements' total_exec_time: wall time inside the statement, waits for CPU
    included), WAL bytes, and the share of all statements' time."""
    a, b = pg_statements_table(before), pg_statements_table(after)
    if not b or not events:
        return {}
    rows = []
    for qid, (calls, nrows, ms, wal, q) in b.items():
        c0, r0, m0, w0, _ = a.get(qid, [0, 0, 0.0, 0, q])
        if calls > c0:
            rows.append((ms - m0, calls - c0, nrows - r0, wal - w0, q))
    total = sum(r[0] for r in rows) or 1
    rows.sort(reverse=True)
    out = {}
    for ms, calls, nrows, wal, q in rows[:8]:
        name = statement_name(q)
        while name in out:
            name += "'"
        out[name] = {"calls": calls, "rows_per_event": round(nrows / events, 2),
                     "us_per_event": round(ms * 1000 / events, 1),
                     "wal_bytes_per_event": round(wal / events), "share": round(ms / total, 3)}
    return out


def phase_breakdown(work, phase, events):
    a, b = os.path.join(work, "scrape", phase + "-start"), os.path.join(work, "scrape", phase + "-end")
    out = {"histograms": {}, "cpu_s": {}, "cpu_us_per_event": {}, "counters": {}}
    if not os.path.isdir(a) or not os.path.isdir(b):
        return out
    for fn in sorted(os.listdir(b)):
        if not fn.endswith(".prom"):
            continue
        svc = fn[:-5]
        before = prom.parse(read(os.path.join(a, fn)))
        after = prom.parse(read(os.path.join(b, fn)))
        h = prom.histograms(before, after)
        if h:
            out["histograms"][svc] = h
        for c in ("baton_router_events_in_total", "baton_router_outputs_total",
                  "baton_notifier_deliveries_total", "baton_audit_rows_written_total",
                  "baton_ingest_events_accepted_total", "baton_timer_schedules_total"):
            d = prom.counter_delta(before, after, c)
            if d:
                out["counters"][c] = int(d)
    rc = redis_commands(read(os.path.join(a, "redis-commandstats.txt")),
                        read(os.path.join(b, "redis-commandstats.txt")), events)
    if rc:
        out["redis_commands_per_event"] = rc
    ps = pg_statements(read(os.path.join(a, "pg-statements.tsv")),
                       read(os.path.join(b, "pg-statements.tsv")), events)
    if ps:
        out["pg_statements_per_event"] = ps
    ca, cb = load_json(os.path.join(a, "cpu.json"), {}), load_json(os.path.join(b, "cpu.json"), {})
    wall = cb.get("_time", 0) - ca.get("_time", 0)
    out["wall_s"] = round(wall, 2)
    total = 0.0
    for name, v in cb.items():
        if name in ("_time", "_machine_busy_s") or name not in ca:
            continue
        d = max(0.0, v["cpu_s"] - ca[name]["cpu_s"])
        label = "driver (load + webhook receiver)" if name == "_driver" else name
        out["cpu_s"][label] = round(d, 2)
        total += d
        if events:
            out["cpu_us_per_event"][label] = round(d * 1e6 / events, 1)
    out["cpu_s_total"] = round(total, 2)
    if wall > 0:
        out["cpu_cores_busy"] = round(total / wall, 2)
    if "_machine_busy_s" in ca and "_machine_busy_s" in cb and wall > 0:
        machine = cb["_machine_busy_s"] - ca["_machine_busy_s"]
        out["machine_cores_busy"] = round(machine / wall, 2)
        out["other_processes_cores_busy"] = round(max(0.0, machine - total) / wall, 2)
    return out


TS_HIST = [("router", "baton_router_event_latency_seconds"),
           ("notifier", "baton_notifier_delivery_latency_seconds"),
           ("ingest", "baton_http_request_duration_seconds"),
           ("ingest", "baton_ingest_kafka_produce_seconds"),
           ("router", "baton_router_batch_seconds"),
           ("audit", "baton_audit_commit_seconds")]


def timeline(work):
    """Per 3-second interval: p99 of the main per-service histograms and CPU cores per process."""
    base = os.path.join(work, "scrape")
    if not os.path.isdir(base):
        return []
    snaps = sorted(d for d in os.listdir(base) if d.startswith("ts-"))
    rows, prev = [], None
    t0 = None
    for snap in snaps:
        d = os.path.join(base, snap)
        cur = {"cpu": load_json(os.path.join(d, "cpu.json"), {}), "prom": {}}
        for svc in {s for s, _ in TS_HIST}:
            cur["prom"][svc] = prom.parse(read(os.path.join(d, svc + ".prom")))
        if prev and cur["cpu"].get("_time") and prev["cpu"].get("_time"):
            wall = cur["cpu"]["_time"] - prev["cpu"]["_time"]
            if t0 is None:
                t0 = prev["cpu"]["_time"]
            row = {"t": round(cur["cpu"]["_time"] - t0, 1), "p99_ms": {}, "cores": {}}
            for svc, fam in TS_HIST:
                h = prom.histograms(prev["prom"].get(svc, {}), cur["prom"].get(svc, {}))
                for lab, v in (h.get(fam) or {}).items():
                    if fam == "baton_http_request_duration_seconds" and "events" not in lab:
                        continue
                    if fam == "baton_notifier_delivery_latency_seconds" and "webhook" not in lab:
                        continue
                    row["p99_ms"][f"{svc}:{fam}"] = v["p99_ms"]
            for name, v in cur["cpu"].items():
                if name.startswith("_") or name not in prev["cpu"] or wall <= 0:
                    continue
                row["cores"][name] = round((v["cpu_s"] - prev["cpu"][name]["cpu_s"]) / wall, 2)
            if "_machine_busy_s" in cur["cpu"] and "_machine_busy_s" in prev["cpu"] and wall > 0:
                row["cores"]["machine"] = round(
                    (cur["cpu"]["_machine_busy_s"] - prev["cpu"]["_machine_busy_s"]) / wall, 2)
            rows.append(row)
        prev = cur
    return rows


def main():
    work, out_path = sys.argv[1], sys.argv[2]
    run = load_json(os.path.join(work, "run.json"), {})
    base = load_json(os.path.join(work, "baseline.json"), {})
    base_after = load_json(os.path.join(work, "baseline-after.json"), {})
    fixed, mx, au = run.get("fixed", {}), run.get("max", {}), run.get("audited", {})
    eps = mx.get("steady_delivered_per_s")
    p99 = (fixed.get("send_to_webhook_ms") or {}).get("p99")
    bmps = base.get("msgs_per_s")
    r = {
        "e2e.events_per_s": eps,
        "e2e.p99_ms": p99,
        "e2e.p50_ms": (fixed.get("send_to_webhook_ms") or {}).get("p50"),
        "e2e.p999_ms": (fixed.get("send_to_webhook_ms") or {}).get("p999"),
        "e2e.p99_ack_to_webhook_ms": (fixed.get("ack_to_webhook_ms") or {}).get("p99"),
        "e2e.fixed_rate_per_s": fixed.get("offered_per_s"),
        "e2e.fixed_achieved_per_s": fixed.get("achieved_send_per_s"),
        "e2e.max_accepted_per_s": mx.get("accepted_per_s"),
        "e2e.max_audit_lag_at_end": mx.get("audit_lag_at_end"),
        "e2e.audited_events_per_s": au.get("steady_delivered_per_s"),
        "e2e.undelivered": sum((p.get("undelivered") or 0) for p in (fixed, mx, au)),
        "e2e.duplicates": (run.get("receiver") or {}).get("duplicates"),
        "e2e.baseline_msgs_per_s": bmps,
        "e2e.baseline_ratio": round(bmps / eps, 2) if bmps and eps else None,
        "e2e.baseline_p99_ms": (base.get("latency_ms") or {}).get("p99"),
        "e2e.baseline_after_run_p99_ms": (base_after.get("latency_ms") or {}).get("p99"),
        "e2e.baseline_after_run_msgs_per_s": base_after.get("msgs_per_s"),
    }
    # offsets the audit never received over the whole run (deleted by the broker first): the
    # counter at the last scrape (the audit started with the stack)
    for ph in ("audited-end", "max-end", "fixed-end"):
        f = os.path.join(work, "scrape", ph, "audit.prom")
        if os.path.exists(f):
            r["e2e.audit_offset_gaps"] = int(prom.counter_delta({}, prom.parse(read(f)),
                                                                 "baton_audit_offset_gap_total"))
            break
    stack_cfg = [l for l in read(os.path.join(work, "stack-config.txt")).splitlines() if l]
    perf = {}
    pdir = os.path.join(work, "perf")
    if os.path.isdir(pdir):
        for fn in sorted(os.listdir(pdir)):
            txt = read(os.path.join(pdir, fn)).rstrip()
            if txt:
                perf[fn[:-4]] = txt
    r["details"] = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpus": os.cpu_count(),
        "definitions": {
            "e2e.events_per_s": "max phase: webhooks received per second in the steady window "
                                "(NDJSON batches as fast as ingest answers, at most max_inflight "
                                "events accepted and not yet delivered)",
            "e2e.audited_events_per_s": "audited phase: as the max phase, once the audit has "
                                        "caught up on its backlog, with sending also held while "
                                        "baton-audit's consumer lag is above max_audit_lag "
                                        "messages: the rate the audit trail keeps up with",
            "e2e.max_audit_lag_at_end": "baton-audit's consumer lag (messages) when the max "
                                        "phase stopped sending: how far the audit fell behind",
            "e2e.p99_ms": "fixed phase (open loop, single-event POSTs at fixed_rate_per_s): "
                          "webhook received minus the event's scheduled send time, warm-up excluded",
            "e2e.baseline_msgs_per_s": "raw librdkafka produce -> consume through the same broker "
                                       "(idempotent, acks=all, 300-byte messages)",
        },
        "stack_config": stack_cfg,
        "run": run,
        "baseline": base,
        "baseline_after_run": base_after,
        "breakdown": {
            "fixed": phase_breakdown(work, "fixed", fixed.get("accepted")),
            "max": phase_breakdown(work, "max", mx.get("accepted")),
            "audited": phase_breakdown(work, "audited", au.get("accepted")),
        },
        "perf": perf,
        "timeline": timeline(work),
    }
    with open(out_path, "w") as f:
        json.dump(r, f, indent=1)
    print(json.dumps({k: v for k, v in r.items() if k != "details"}, indent=1))


if __name__ == "__main__":
    main()
