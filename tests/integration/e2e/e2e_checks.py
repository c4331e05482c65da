"""The whole-system invariants of the end-to-end tests and the comparison with a fault-free
run (Python 3 standard library only). See README.md for the list."""
import collections
import json

from e2e_lib import fail, log
from e2e_model import Model, body_of, task_ref


def check_invariants(stack, tail, hook, triggers, webhook_people=None, allow_rejected=0):
    """The invariants of the issue, once the system is quiet. Returns a list of problems
    (empty: all hold). triggers: input event ids each of which must have started exactly one
    instance (a dict id -> pathway)."""
    problems = []
    lc = tail.lifecycle()
    model = Model(lc)

    # durable before acknowledged: every input ingest accepted is on baton.inbound.v1
    inbound = set(e["id"] for e in tail.all("baton.inbound.v1"))
    lost = sorted(stack.accepted - inbound)
    if lost:
        problems.append("%d accepted inputs are not on baton.inbound.v1: %s" % (len(lost),
                                                                                lost[:8]))

    # distinct ids: copies of one id are the same event
    with tail.lock:
        copies = {k: list(v) for k, v in tail.copies.items() if len(v) > 1}
    for (topic, eid), recs in copies.items():
        a = dict(recs[0]["event"])
        for r in recs[1:]:
            b = dict(r["event"])
            for x in (a, b):
                x.pop("recorded_at_ms", None)
                x.pop("occurred_at_ms", None)
            if a.get("type") != b.get("type") or task_ref(a) != task_ref(b):
                problems.append("id %s on %s carried two different events: %s / %s" % (
                    eid, topic, json.dumps(a)[:300], json.dumps(b)[:300]))
    n_dups = sum(len(v) - 1 for v in copies.values())

    # every accepted trigger has its instance, exactly one
    started = collections.defaultdict(list)
    for ev in lc:
        if ev["type"] == "instance.started":
            b = body_of(ev)
            started[(b.get("trigger_event_id"), b.get("pathway"))].append(b["instance_id"])
    for eid, pathways in triggers.items():
        for pw in ([pathways] if isinstance(pathways, str) else pathways):
            got = started.get((eid, pw), [])
            if len(got) != 1:
                problems.append("trigger %s: %d %s instances (%s)" % (eid, len(got), pw, got))

    # every task: exactly one task.assigned per (task, cause) — by id
    assigned = collections.defaultdict(set)
    for ev in lc:
        if ev["type"] == "task.assigned":
            assigned[(task_ref(ev)["task_id"], ev.get("causation_id"))].add(ev["id"])
    for (tid, cause), ids in assigned.items():
        if len(ids) != 1:
            problems.append("task %s: %d task.assigned ids for one cause %s: %s" % (
                tid, len(ids), cause, sorted(ids)))
    for tid, t in model.tasks.items():
        if t["types"]["task.assigned"] == 0 and t["types"]["task.skipped"] == 0:
            problems.append("task %s (%s) has no task.assigned" % (tid, t["stage"]))

    # every notification: exactly one DELIVERED receipt (by id), and the webhook got it
    requests = {}
    for ev in tail.all("baton.notify.v1", "notification.requested"):
        b = body_of(ev)
        requests[b["notification_id"]] = b
    receipts = collections.defaultdict(set)
    outcomes = collections.defaultdict(list)
    for ev in lc:
        if ev["type"] == "notification.receipt":
            b = body_of(ev)
            outcomes[b["notification_id"]].append(b.get("outcome"))
            if b.get("outcome") == "DELIVERY_OUTCOME_DELIVERED":
                receipts[b["notification_id"]].add(ev["id"])
    got, bad = hook.received() if hook else ({}, [])
    if bad:
        problems.append("%d webhook deliveries with a bad signature / body: %s" % (
            len(bad), json.dumps(bad[:2])[:400]))
    for nid, req in requests.items():
        if len(receipts.get(nid, ())) != 1:
            problems.append("notification %s (%s to %s): %d DELIVERED receipt ids (outcomes %s)"
                            % (nid, req.get("kind"), req.get("person"),
                               len(receipts.get(nid, ())), outcomes.get(nid)))
        if hook and nid not in got:
            problems.append("notification %s (%s to %s) never reached the webhook" % (
                nid, req.get("kind"), req.get("person")))
        elif hook:
            for person, m in got[nid]:
                if person != req.get("person") or m.get("task_id") != req.get("task_id") or \
                        m.get("kind") != req.get("kind"):
                    problems.append("webhook body of %s differs from the request: %s" % (
                        nid, json.dumps(m)[:300]))
                    break
    for nid in receipts:
        if nid not in requests:
            problems.append("receipt for unknown notification %s" % nid)
    dup_deliveries = sum(len(v) - 1 for v in got.values())

    # dead letters and rejected actions
    dlq = tail.all("baton.dlq.v1")
    if dlq:
        problems.append("%d dead letters: %s" % (len(dlq), json.dumps(dlq[0])[:400]))
    rej = tail.lifecycle("action.rejected")
    if len(rej) > allow_rejected:
        problems.append("%d action.rejected: %s" % (len(rej), json.dumps([body_of(e)
                                                                          for e in rej])[:600]))

    # audit: every event of every topic exactly once; every instance its rows and projection
    rows = stack.psql("select topic || ' ' || event_id || ' ' || count(*) from audit_log "
                      "group by topic, event_id")
    audit = {}
    for line in rows.splitlines():
        topic, eid, n = line.split(" ")
        audit[(topic, eid)] = int(n)
    with tail.lock:
        kafka_keys = set(tail.events.keys())
    missing = [k for k in kafka_keys if k not in audit]
    if missing:
        problems.append("%d events on Kafka have no audit row, e.g. %s" % (len(missing),
                                                                            missing[:3]))
    twice = [(k, n) for k, n in audit.items() if n != 1]
    if twice:
        problems.append("%d events have more than one audit row, e.g. %s" % (len(twice),
                                                                            twice[:3]))
    for iid, inst in model.instances.items():
        st, _, detail = stack.http("GET", "/v1/instances/" + iid)
        if st != 200:
            problems.append("GET /v1/instances/%s: %s %s" % (iid, st, str(detail)[:200]))
            continue
        if detail.get("status") != inst.get("status"):
            problems.append("instance %s: read API status %s, lifecycle says %s" % (
                iid, detail.get("status"), inst.get("status")))
        for s in detail.get("stages", []):
            tid, t = model.stage(iid, s["stage"])
            if not t:
                if s.get("status") != "pending":
                    problems.append("instance %s stage %s: read API %s, no lifecycle event" % (
                        iid, s["stage"], s.get("status")))
                continue
            want = (t["status"], t["owner"] or None, t["level"])
            have = (s.get("status"), s.get("owner"), s.get("escalation_level"))
            if want != have:
                problems.append("instance %s stage %s: read API %s, lifecycle %s" % (
                    iid, s["stage"], have, want))
        st, _, aud = stack.http("GET", "/v1/instances/%s/audit" % iid)
        if st != 200:
            problems.append("GET /v1/instances/%s/audit: %s" % (iid, st))
            continue
        ids = collections.Counter(r["event_id"] for r in aud.get("events", [])
                                  if r.get("topic") == "baton.lifecycle.v1")
        for ev in inst["events"]:
            if ids.get(ev["id"]) != 1:
                problems.append("instance %s: lifecycle %s %s appears %d times in its audit" % (
                    iid, ev["type"], ev["id"], ids.get(ev["id"], 0)))
        for r in aud.get("events", []):
            if not r.get("hash") or len(r.get("hash", "")) != 64:
                problems.append("instance %s: audit row without a hash: %s" % (iid, r))
                break
    rc, out = stack.audit_verify()
    if rc != 0:
        problems.append("baton-audit verify exited %d: %s" % (rc, out.strip()[-400:]))
    stats = {"stale_staff_answers": dict(stack.stale_answers),
             "events": len(kafka_keys), "kafka_duplicates": n_dups, "instances":
             len(model.instances), "tasks": len(model.tasks), "notifications": len(requests),
             "webhook_duplicates": dup_deliveries}
    return problems, stats, model


def report_problems(problems, stats, what):
    log("%s: %s" % (what, json.dumps(stats)))
    if problems:
        for p in problems[:40]:
            log("  PROBLEM: " + p)
        fail("%s: %d invariant(s) violated; first: %s" % (what, len(problems), problems[0]))


def compare_summaries(ref, got):
    """Differences between two Model.summary() results."""
    diffs = []
    for k in sorted(set(ref) | set(got)):
        a, b = ref.get(k), got.get(k)
        if a is None or b is None:
            diffs.append("%s: only in %s" % (k, "reference" if b is None else "faulted run"))
            continue
        if a["instance_id"] != b["instance_id"]:
            diffs.append("%s: instance id %s vs %s" % (k, a["instance_id"], b["instance_id"]))
        if a["status"] != b["status"]:
            diffs.append("%s: status %s vs %s" % (k, a["status"], b["status"]))
        for s in sorted(set(a["stages"]) | set(b["stages"])):
            x, y = a["stages"].get(s), b["stages"].get(s)
            if x != y:
                diffs.append("%s stage %s: reference %s, faulted %s" % (k, s, x, y))
    return diffs
