#!/usr/bin/env python3
"""Generates deploy/grafana/dashboards/*.json: one dashboard per Baton service and one for the
clinical flow. Edit this file, not the JSON, then run it:

    python3 tests/integration/deploy/dashboards.py          # rewrite the JSON files
    python3 tests/integration/deploy/dashboards.py --check  # exit 1 when the JSON differs (the test runs this)

Prometheus panels use the dashboard variable ${datasource}; the clinical flow's per-unit panels
query the audit service's PostgreSQL projections through the datasource with uid "baton-pg"
(provisioned by deploy/grafana/provisioning/datasources/baton.yml; create it with that uid when
importing elsewhere, with a read-only role such as baton_reader). Every Baton target carries the
label baton_service (see deploy/prometheus/prometheus.yml and the chart's ServiceMonitor).
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "..", "deploy", "grafana", "dashboards")
PROM = {"type": "prometheus", "uid": "${datasource}"}
PG = {"type": "postgres", "uid": "baton-pg"}


class Board:
    def __init__(self, uid, title, description, tags):
        self.uid, self.title, self.description, self.tags = uid, title, description, tags
        self.panels, self.y, self.x, self.row_h, self.next_id = [], 0, 0, 0, 1

    def _place(self, w, h):
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def _add(self, panel, w, h):
        panel["id"] = self.next_id
        panel["gridPos"] = self._place(w, h)
        self.next_id += 1
        self.panels.append(panel)

    def row(self, title):
        self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        self._add({"type": "row", "title": title, "collapsed": False, "panels": []}, 24, 1)
        self.x, self.y, self.row_h = 0, self.y + 1, 0

    def ts(self, title, targets, unit="short", w=12, h=8, desc="", stack=False):
        """targets: list of (expr, legend)."""
        custom = {"lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
        if stack:
            custom["stacking"] = {"mode": "normal", "group": "A"}
        self._add({
            "type": "timeseries", "title": title, "description": desc, "datasource": PROM,
            "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": [{"datasource": PROM, "refId": chr(65 + i), "expr": e, "legendFormat": l}
                        for i, (e, l) in enumerate(targets)],
        }, w, h)

    def stat(self, title, expr, unit="short", w=4, h=4, desc="", thresholds=None, legend=""):
        steps = [{"color": "green", "value": None}]
        for value, color in thresholds or []:
            steps.append({"color": color, "value": value})
        self._add({
            "type": "stat", "title": title, "description": desc, "datasource": PROM,
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "background", "graphMode": "none", "textMode": "auto"},
            "targets": [{"datasource": PROM, "refId": "A", "expr": expr, "legendFormat": legend,
                         "instant": True}],
        }, w, h)

    def sql(self, title, query, kind="table", unit="short", w=12, h=9, desc=""):
        fmt = "table" if kind in ("table", "barchart") else "time_series"
        panel = {
            "type": kind, "title": title, "description": desc, "datasource": PG,
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"datasource": PG, "refId": "A", "rawQuery": True, "editorMode": "code",
                         "format": fmt, "rawSql": " ".join(query.split())}],
        }
        if kind == "barchart":
            panel["options"] = {"orientation": "horizontal", "stacking": "normal",
                                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}
        self._add(panel, w, h)

    def json(self, variables):
        return {
            "uid": self.uid, "title": self.title, "description": self.description,
            "tags": ["baton"] + self.tags, "editable": True, "schemaVersion": 39, "version": 1,
            "timezone": "browser", "refresh": "30s", "time": {"from": "now-6h", "to": "now"},
            "graphTooltip": 1, "links": [
                {"type": "dashboards", "tags": ["baton"], "asDropdown": True, "title": "Baton"}],
            "templating": {"list": variables}, "annotations": {"list": []},
            "panels": self.panels,
        }


def prom_vars(service):
    v = [{"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
          "current": {}, "hide": 0, "refresh": 1}]
    if service:
        v.append({"name": "instance", "label": "Instance", "type": "query", "datasource": PROM,
                  "query": {"query": f'label_values(up{{baton_service="{service}"}}, instance)',
                            "refId": "instance"},
                  "definition": f'label_values(up{{baton_service="{service}"}}, instance)',
                  "includeAll": True, "multi": True, "allValue": ".*", "current": {}, "hide": 0,
                  "refresh": 2, "sort": 1})
    return v


def health_row(b, svc):
    sel = f'baton_service="{svc}", instance=~"$instance"'
    b.row("Health")
    b.stat("Targets up", f'sum(up{{{sel}}})', w=4, legend="up",
           desc="Scraped targets answering /metrics")
    b.stat("Targets down", f'count(up{{{sel}}} == 0) or vector(0)', w=4,
           thresholds=[(1, "red")], legend="down")
    b.stat("Not ready", f'count(baton_ready{{{sel}}} == 0) or vector(0)', w=4,
           thresholds=[(1, "orange")], desc="Instances whose /readyz answers 503")
    b.stat("Restarts (1h)", f'sum(changes(process_start_time_seconds{{{sel}}}[1h]))', w=4,
           thresholds=[(1, "orange"), (4, "red")])
    b.stat("Version", f'count by (version) (baton_build_info{{{sel}}})', w=8, legend="{{version}}")
    b.ts("CPU", [(f'rate(process_cpu_seconds_total{{{sel}}}[5m])', "{{instance}}")],
         unit="percentunit", w=8)
    b.ts("Resident memory", [(f'process_resident_memory_bytes{{{sel}}}', "{{instance}}")],
         unit="bytes", w=8)
    b.ts("Open file descriptors", [(f'process_open_fds{{{sel}}}', "{{instance}}")], w=8)


def lag_panel(b, group, w=12):
    b.ts(f"Consumer lag ({group})",
         [(f'sum by (topic) (kafka_consumergroup_lag{{consumergroup="{group}"}})', "{{topic}}")],
         w=w, desc="From the Kafka exporter (kafka_consumergroup_lag): messages not yet consumed")


def q(metric, svc_sel, by="", fn="rate", window="5m"):
    grp = f"sum by ({by}) " if by else "sum "
    return f"{grp}({fn}({metric}{{{svc_sel}}}[{window}]))"


def quantiles(b, title, metric, sel, w=12, by=""):
    extra = f", {by}" if by else ""
    legend = f"{{{{{by}}}}} " if by else ""
    b.ts(title, [(f'histogram_quantile({p}, sum by (le{extra}) (rate({metric}_bucket{{{sel}}}[5m])))',
                  f"{legend}p{int(p * 100)}") for p in (0.5, 0.9, 0.99)], unit="s", w=w)


def ingest():
    b = Board("baton-ingest", "Baton / ingest", "The front door: HTTP, HL7 v2 (MLLP), FHIR R4", ["ingest"])
    sel = 'baton_service="ingest", instance=~"$instance"'
    health_row(b, "ingest")
    b.row("Events")
    b.ts("Accepted events by source", [(q("baton_ingest_events_accepted_total", sel, "source"), "{{source}}")],
         unit="reqps", stack=True)
    b.ts("Rejected events by reason", [(q("baton_ingest_events_rejected_total", sel, "source, reason"),
                                        "{{source}} {{reason}}")], unit="reqps", stack=True)
    b.ts("Idempotent replays (dedup hits)", [(q("baton_ingest_dedup_hits_total", sel, "source"), "{{source}}")],
         unit="reqps")
    quantiles(b, "Kafka produce latency (durable before ack)", "baton_ingest_kafka_produce_seconds", sel)
    b.ts("Kafka produce errors", [(q("baton_ingest_kafka_produce_errors_total", sel, "error"), "{{error}}")],
         unit="reqps", desc="Each answered 503 / MLLP AE: the sender retries")
    b.ts("Staff actions and roster writes",
         [(q("baton_ingest_staff_actions_total", sel, "action"), "action {{action}}"),
          (q("baton_ingest_roster_writes_total", sel, "kind"), "roster {{kind}}")], unit="reqps")
    b.row("HTTP")
    b.ts("Requests by route and status class",
         [(q("baton_http_requests_total", sel, "route, code"), "{{route}} {{code}}")], unit="reqps")
    quantiles(b, "Request latency by route (p99)", "baton_http_request_duration_seconds", sel, by="route")
    b.ts("5xx ratio", [(f'sum(rate(baton_http_requests_total{{{sel}, code="5xx"}}[5m])) / '
                        f'sum(rate(baton_http_requests_total{{{sel}}}[5m]))', "5xx")], unit="percentunit")
    b.ts("Requests in flight", [(f'sum(baton_http_requests_in_flight{{{sel}}})', "in flight")])
    b.row("HL7 v2 over MLLP")
    b.ts("MLLP connections", [(f'sum(baton_ingest_mllp_connections{{{sel}}})', "open"),
                              (q("baton_ingest_mllp_connections_refused_total", sel), "refused/s")])
    b.ts("HL7 ACKs by code", [(q("baton_ingest_hl7_acks_total", sel, "code"), "{{code}}")], unit="reqps",
         stack=True)
    b.ts("MLLP frames and garbage", [(q("baton_ingest_mllp_frames_total", sel), "frames/s"),
                                     (q("baton_ingest_mllp_garbage_bytes_total", sel), "garbage bytes/s")])
    return b


def router():
    b = Board("baton-router", "Baton / router", "Pathway state machines and role resolution", ["router"])
    sel = 'baton_service="router", instance=~"$instance"'
    health_row(b, "router")
    b.row("Throughput")
    b.ts("Inputs by kind", [(q("baton_router_events_in_total", sel, "kind"), "{{kind}}")], unit="reqps",
         stack=True)
    b.ts("Lifecycle events produced by type", [(q("baton_router_transitions_total", sel, "type"), "{{type}}")],
         unit="reqps", stack=True)
    b.ts("Messages produced by topic", [(q("baton_router_outputs_total", sel, "topic"), "{{topic}}")],
         unit="reqps")
    b.ts("Active pathway instances", [(f'sum(baton_router_instances_active{{{sel}}})', "active")])
    b.row("Latency and batches")
    quantiles(b, "Event latency (appended to Kafka → effects written)", "baton_router_event_latency_seconds", sel)
    quantiles(b, "Batch time (poll → commit)", "baton_router_batch_seconds", sel)
    quantiles(b, "Batch size", "baton_router_batch_size", sel)
    lag_panel(b, "baton-router")
    b.row("Failures")
    b.ts("Retries by phase", [(q("baton_router_retries_total", sel, "phase"), "{{phase}}")], unit="reqps")
    b.ts("Dead letters, commit failures, fencing",
         [(q("baton_router_dead_letters_total", sel), "dead letters"),
          (q("baton_router_commit_failures_total", sel), "commit failures"),
          (q("baton_router_fenced_total", sel), "fenced"),
          (q("baton_router_replays_skipped_total", sel), "replays skipped")], unit="reqps")
    return b


def timer():
    b = Board("baton-timer", "Baton / timer", "Durable acknowledgment, completion and escalation clocks", ["timer"])
    sel = 'baton_service="timer", instance=~"$instance"'
    health_row(b, "timer")
    b.row("Timers")
    b.ts("Schedules and cancels", [(q("baton_timer_schedules_total", sel), "scheduled"),
                                   (q("baton_timer_cancels_total", sel), "cancelled"),
                                   (q("baton_timer_invalid_total", sel), "invalid")], unit="reqps")
    b.ts("Fired (on time / late)", [(q("baton_timer_fired_total", sel, "late"), "late={{late}}")],
         unit="reqps", stack=True)
    quantiles(b, "Lateness (due → TimerFired acknowledged by Kafka)", "baton_timer_lateness_seconds", sel)
    b.ts("Pending timers by partition", [(f'sum by (partition) (baton_timer_pending{{{sel}}})', "p{{partition}}")],
         stack=True)
    b.ts("Errors by operation (retried)", [(q("baton_timer_errors_total", sel, "op"), "{{op}}")], unit="reqps")
    lag_panel(b, "baton-timer")
    return b


def notifier():
    b = Board("baton-notifier", "Baton / notifier", "Webhook, SMS, email and pager delivery", ["notifier"])
    sel = 'baton_service="notifier", instance=~"$instance"'
    health_row(b, "notifier")
    b.row("Delivery")
    b.ts("Outcomes by channel", [(q("baton_notifier_deliveries_total", sel, "channel, outcome"),
                                  "{{channel}} {{outcome}}")], unit="reqps")
    b.ts("Failed attempt ratio by channel",
         [(f'sum by (channel) (rate(baton_notifier_deliveries_total{{{sel}, outcome="failed"}}[5m])) / '
           f'sum by (channel) (rate(baton_notifier_attempts_total{{{sel}}}[5m]))', "{{channel}}")],
         unit="percentunit")
    quantiles(b, "Delivery latency (request → delivered) p90 by channel",
              "baton_notifier_delivery_latency_seconds", sel, by="channel")
    quantiles(b, "Attempt duration by channel", "baton_notifier_attempt_duration_seconds", sel, by="channel")
    b.ts("Requests consumed by result", [(q("baton_notifier_requests_total", sel, "result"), "{{result}}")],
         unit="reqps")
    b.ts("Dead letters by reason", [(q("baton_notifier_dlq_total", sel, "reason"), "{{reason}}")], unit="reqps")
    b.row("Queues")
    b.ts("Retry queue, in flight, outbox", [(f'sum(baton_notifier_retry_queue_depth{{{sel}}})', "retry queue"),
                                            (f'sum(baton_notifier_inflight{{{sel}}})', "in flight"),
                                            (f'sum(baton_notifier_outbox_pending{{{sel}}})', "outbox")])
    b.ts("Bundling and quiet hours", [(q("baton_notifier_bundles_total", sel), "bundles"),
                                      (q("baton_notifier_bundled_total", sel), "bundled"),
                                      (q("baton_notifier_held_total", sel), "held")], unit="reqps")
    b.ts("Errors by operation (retried)", [(q("baton_notifier_errors_total", sel, "op"), "{{op}}")], unit="reqps")
    lag_panel(b, "baton-notifier")
    return b


def audit():
    b = Board("baton-audit", "Baton / audit", "Hash-chained audit log and read projections", ["audit"])
    sel = 'baton_service="audit", instance=~"$instance"'
    health_row(b, "audit")
    b.row("Writing")
    b.ts("Rows written", [(q("baton_audit_rows_written_total", sel), "rows/s")], unit="reqps")
    b.ts("Skipped (replay / duplicate) and undecodable",
         [(q("baton_audit_events_skipped_total", sel, "reason"), "{{reason}}"),
          (q("baton_audit_undecodable_total", sel), "undecodable")], unit="reqps")
    quantiles(b, "Batch transaction time", "baton_audit_commit_seconds", sel)
    quantiles(b, "Batch size", "baton_audit_batch_size", sel)
    b.ts("Errors by kind", [(q("baton_audit_errors_total", sel, "kind"), "{{kind}}")], unit="reqps")
    b.ts("Consumer lag by topic", [(f'sum by (topic) (baton_audit_consumer_lag{{{sel}}})', "{{topic}}")],
         desc="Measured by baton-audit itself: high watermark minus position over its assigned partitions")
    return b


RANGE = "{col} >= $__unixEpochFrom() * 1000 AND {col} < $__unixEpochTo() * 1000"


def clinical():
    b = Board("baton-clinical-flow", "Baton / clinical flow",
              "Time to acknowledge, escalations and SLA breaches. Totals come from the router's "
              "metrics; per-unit views from the audit projections in PostgreSQL (no unit label "
              "exists on any metric).", ["clinical"])
    b.row("Now (all units)")
    b.stat("Active instances", "sum(baton_router_instances_active)", w=4)
    b.stat("Tasks assigned (1h)", 'sum(increase(baton_router_transitions_total{type="task.assigned"}[1h]))', w=4)
    b.stat("SLA breaches (1h)", 'sum(increase(baton_router_transitions_total{type="task.deadline_missed"}[1h]))',
           w=4, thresholds=[(1, "orange"), (10, "red")])
    b.stat("Breaches per assignment (1h)", "baton:sla_breaches_per_assignment:ratio_1h", unit="percentunit",
           w=4, thresholds=[(0.1, "orange"), (0.2, "red")],
           desc="Recording rule from deploy/prometheus/rules/recording.yml")
    b.stat("Escalations (1h)", 'sum(increase(baton_router_transitions_total{type="task.escalated"}[1h]))', w=4,
           thresholds=[(1, "orange")])
    b.stat("Coverage gaps (1h)", 'sum(increase(baton_router_transitions_total{type="coverage.gap"}[1h]))', w=4,
           thresholds=[(1, "red")])
    b.ts("Task lifecycle events", [('sum by (type) (rate(baton_router_transitions_total{type=~"task[.].*"}[5m]))',
                                    "{{type}}")], unit="reqps", w=12)
    b.ts("Escalations, breaches, coverage gaps",
         [('sum(rate(baton_router_transitions_total{type="task.escalated"}[5m]))', "escalations"),
          ('sum(rate(baton_router_transitions_total{type="task.deadline_missed"}[5m]))', "SLA breaches"),
          ('sum(rate(baton_router_transitions_total{type="coverage.gap"}[5m]))', "coverage gaps")],
         unit="reqps", w=12)
    b.ts("Notification delivery latency p90", [
        ('histogram_quantile(0.9, sum by (channel, le) (rate(baton_notifier_delivery_latency_seconds_bucket[5m])))',
         "{{channel}}")], unit="s", w=12)
    b.ts("Timer lateness p99 (escalation clocks)", [
        ('histogram_quantile(0.99, sum by (le) (rate(baton_timer_lateness_seconds_bucket[5m])))', "p99")],
        unit="s", w=12)
    b.row("Per unit (audit projections, PostgreSQL)")
    b.sql("Time to acknowledge by unit", f"""
        SELECT facility || ' / ' || unit AS unit,
          round((percentile_cont(0.5) WITHIN GROUP (ORDER BY acknowledged_at_ms - assigned_at_ms) / 60000.0)::numeric, 1) AS "p50 min",
          round((percentile_cont(0.9) WITHIN GROUP (ORDER BY acknowledged_at_ms - assigned_at_ms) / 60000.0)::numeric, 1) AS "p90 min",
          count(*) AS acknowledged
        FROM audit_tasks
        WHERE acknowledged_at_ms IS NOT NULL AND assigned_at_ms IS NOT NULL
          AND {RANGE.format(col="assigned_at_ms")}
        GROUP BY 1 ORDER BY 3 DESC""", w=12)
    b.sql("Time to acknowledge (p90, minutes)", f"""
        SELECT $__unixEpochGroupAlias(assigned_at_ms / 1000, $__interval),
          percentile_cont(0.9) WITHIN GROUP (ORDER BY acknowledged_at_ms - assigned_at_ms) / 60000.0 AS "p90"
        FROM audit_tasks
        WHERE acknowledged_at_ms IS NOT NULL AND assigned_at_ms IS NOT NULL
          AND {RANGE.format(col="assigned_at_ms")}
        GROUP BY 1 ORDER BY 1""", kind="timeseries", unit="m", w=12)
    b.sql("SLA breaches by unit", f"""
        SELECT facility || ' / ' || unit AS unit,
          count(*) FILTER (WHERE ack_breached) AS "ack breaches",
          count(*) FILTER (WHERE complete_breached) AS "completion breaches"
        FROM audit_tasks
        WHERE {RANGE.format(col="activated_at_ms")}
        GROUP BY 1 HAVING count(*) FILTER (WHERE ack_breached OR complete_breached) > 0
        ORDER BY count(*) FILTER (WHERE ack_breached OR complete_breached) DESC LIMIT 30""", kind="barchart", w=12)
    b.sql("Breach rate by unit and pathway", f"""
        SELECT facility || ' / ' || unit AS unit, pathway, count(*) AS tasks,
          round(100.0 * count(*) FILTER (WHERE ack_breached OR complete_breached) / count(*), 1) AS "breached %",
          sum(reassign_count) AS reassignments, sum(override_count) AS overrides
        FROM audit_tasks
        WHERE {RANGE.format(col="activated_at_ms")}
        GROUP BY 1, 2 ORDER BY 4 DESC""", w=12)
    b.sql("Escalations by unit and level", f"""
        SELECT t.facility || ' / ' || t.unit AS unit,
          count(*) FILTER (WHERE e.level = 1) AS "level 1",
          count(*) FILTER (WHERE e.level = 2) AS "level 2",
          count(*) FILTER (WHERE e.level >= 3) AS "level 3+"
        FROM audit_escalations e JOIN audit_tasks t ON t.task_id = e.task_id
        WHERE {RANGE.format(col="e.at_ms")}
        GROUP BY 1 ORDER BY count(*) DESC LIMIT 30""", kind="barchart", w=12)
    b.sql("Open tasks and coverage gaps by unit", """
        SELECT facility || ' / ' || unit AS unit, role, count(*) AS open,
          count(*) FILTER (WHERE coverage_gap) AS "coverage gap",
          count(*) FILTER (WHERE escalation_level > 0) AS escalated
        FROM audit_tasks
        WHERE closed_at_ms IS NULL
          AND status NOT IN ('completed', 'cancelled', 'failed', 'rejected')
        GROUP BY 1, 2 ORDER BY 3 DESC""", w=12)
    return b


BOARDS = {"baton-ingest.json": (ingest, "ingest"), "baton-router.json": (router, "router"),
          "baton-timer.json": (timer, "timer"), "baton-notifier.json": (notifier, "notifier"),
          "baton-audit.json": (audit, "audit"), "baton-clinical-flow.json": (clinical, None)}


def render():
    out = {}
    for name, (fn, svc) in BOARDS.items():
        out[name] = json.dumps(fn().json(prom_vars(svc)), indent=2, sort_keys=True) + "\n"
    return out


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, text in render().items():
        path = os.path.join(OUT, name)
        old = open(path).read() if os.path.exists(path) else None
        if old != text:
            stale.append(name)
            if not check:
                with open(path, "w") as f:
                    f.write(text)
    if check and stale:
        print("dashboards out of date (run python3 tests/integration/deploy/dashboards.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
