#!/usr/bin/env python3
"""End-to-end tests of Baton: every shipped pathway through all five services (HTTP / HL7 v2 /
FHIR input -> router -> timer -> notifier webhook -> audit rows -> read API), scaling out, and
faults under a steady stream. Usage: e2e.py CASE (run by run.sh from ctest).

Each case brings its own stack (scripts/stack up in a temporary directory, with the test
pathways of tests/integration/e2e/pathways: seconds-scale clocks where timing matters) and
takes it down again whatever happens (BATON_KEEP_TMP=1 keeps the directory and its logs)."""
import base64
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import (HERE, Failure, Stack, Tail, Webhook, expect, expect_eq,  # noqa: E402
                     fail, iso, log, wait_until)
from e2e_model import Model, body_of, wait_instance, wait_stage  # noqa: E402
from e2e_checks import check_invariants, report_problems  # noqa: E402
import stream  # noqa: E402

PATHWAYS = os.path.join(HERE, "pathways")
SANITIZER = []  # sanitizer reports found in any stack's logs: the case fails
NOW = int(time.time())

# Who holds which role. Facility-wide shifts at F1 (and one at F2), unit shifts on 4W.
FACILITY_ROLES = {
    "pharmacist": "ph1", "pharmacy_lead": "pl1", "case_management_lead": "cml1",
    "transport": "tr1", "transport_dispatch": "td1", "evs_supervisor": "es1",
    "consultant": "con1", "consult_attending": "ca1", "backup_consultant": "bc1",
    "department_chair": "dc1", "utilization_review": "ur1", "prior_auth_specialist": "pa1",
    "prior_auth_lead": "pal1", "ordering_provider": "op1", "scheduler": "sch1",
    "referral_coordinator": "rc1", "referral_lead": "rl1", "primary_care_provider": "pcp1"}
UNIT_ROLES = {"case_manager": "cm1", "nurse": "n1", "charge_nurse": "cn1", "evs": "evs1"}
ROLES_OF = {}
for _r, _p in list(FACILITY_ROLES.items()) + list(UNIT_ROLES.items()):
    ROLES_OF.setdefault(_p, []).append(_r)


def roster(stack, hook, extra_shifts=(), extra_people=()):
    """People with webhook contacts and shifts with fixed absolute times (NOW-2h .. NOW+6h)."""
    start, end = NOW - 7200, NOW + 6 * 3600
    rows = [("F1", "", r, p, start, end) for r, p in FACILITY_ROLES.items()]
    rows += [("F1", "4W", r, p, start, end) for r, p in UNIT_ROLES.items()]
    rows += [("F2", "", "backup_consultant", "bc2", start, end)]
    rows += list(extra_shifts)
    people = set(r[3] for r in rows) | set(extra_people)
    for p in sorted(people):
        stack.put_person(p, hook.url(p))
    stack.import_shifts(rows)
    return people


def ev(eid, type_, encounter=None, patient=None, facility="F1", unit="4W", **attrs):
    e = {"id": eid, "type": type_, "tenant": "acme", "facility": facility,
         "occurred_at": iso(time.time() - 1), "attributes": attrs}
    if unit:
        e["unit"] = unit
    if encounter:
        e["encounter"] = encounter
    e["patient"] = patient or ("P-" + (encounter or "x"))
    return e


def hl7(msg_type, msg_id, patient, encounter, patient_class="I", disposition="", unit="4W",
        facility="F1", extra=""):
    ts = time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() - 1))
    pv1 = ["PV1", "1", patient_class, "%s^101^1^%s" % (unit, facility)] + [""] * 33
    pv1[19] = encounter
    pv1[36] = disposition
    segs = ["MSH|^~\\&|EHR|%s|BATON|BATON|%s||%s|%s|P|2.5" % (facility, ts, msg_type, msg_id),
            "EVN|%s|%s" % (msg_type.split("^")[1], ts),
            "PID|1||%s^^^%s^MR||DOE^PAT" % (patient, facility),
            "|".join(pv1)]
    if extra:
        segs += extra.split("\n")
    return "\r".join(segs) + "\r"


class Ctx:
    def __init__(self, tmp, name="s", pathways=PATHWAYS, lease="5s"):
        self.stack = Stack(tmp, name, pathways, notifier_lease=lease)
        self.hook = Webhook(self.stack.env["BATON_WEBHOOK_SECRET"])
        self.tail = Tail(self.stack)
        self.soft = []

    def check(self, cond, msg):
        """A failed expectation that does not stop the case: reported at its end."""
        if not cond:
            log("FAILED (continuing): " + msg)
            self.soft.append(msg)

    def finish(self):
        if self.soft:
            fail("; ".join(self.soft))

    def close(self):
        for f in (self.tail.close, self.hook.close, self.stack.down):
            try:
                f()
            except Exception as e:  # keep cleaning up
                log("cleanup: %s" % e)
        for f, line in self.stack.sanitizer_reports():
            log("SANITIZER %s: %s" % (f, line))
            SANITIZER.append("%s: %s" % (f, line))

    def act(self, task_id, action, person, key=None, **kw):
        return self.stack.act(task_id, action, person, ROLES_OF.get(person, []), key=key, **kw)

    def notified(self, person, kind, task_id, timeout=30):
        def check():
            got, _ = self.hook.received()
            return [m for v in got.values() for (p, m) in v
                    if p == person and kind in (None, m.get("kind")) and
                    m.get("task_id") == task_id]
        return wait_until(check, timeout, "%s notification to %s for task %s" % (
            kind, person, task_id))

    def settle_quiet(self, timeout=90):
        """Waits until every notification is delivered and every event audited (or the
        timeout: the invariants then say precisely what is missing)."""
        def done():
            lc = self.tail.lifecycle()
            reqs = set(body_of(e)["notification_id"] for e in
                       self.tail.all("baton.notify.v1", "notification.requested"))
            rec = set(body_of(e)["notification_id"] for e in lc if e["type"] ==
                      "notification.receipt" and body_of(e).get("outcome") ==
                      "DELIVERY_OUTCOME_DELIVERED")
            if reqs - rec:
                return False
            try:
                n = int(self.stack.psql("select count(*) from audit_log"))
            except Failure:
                return False
            return n >= self.tail.count()
        try:
            wait_until(done, timeout, "every notification delivered and every event audited",
                       0.5)
        except Failure as e:
            log("settle: %s" % e)
        self.tail.quiet(1.5)

    def settle_and_check(self, triggers, allow_rejected=0):
        self.settle_quiet()
        problems, stats, model = check_invariants(self.stack, self.tail, self.hook, triggers,
                                                  allow_rejected=allow_rejected)
        report_problems(problems, stats, "invariants")
        return model


def read_instance(stack, pathway, **q):
    qs = "&".join("%s=%s" % kv for kv in q.items())
    lst = stack.get("/v1/instances?pathway=%s&%s" % (pathway, qs))["instances"]
    expect_eq(len(lst), 1, "read API: %s instances for %s" % (pathway, q))
    return stack.get("/v1/instances/" + lst[0]["id"])


def stage_of(detail, stage):
    for s in detail["stages"]:
        if s["stage"] == stage:
            return s
    fail("read API instance has no stage %s" % stage)


# ---------------------------------------------------------------------------------------------
# Pathway cases


def case_pathway_discharge(tmp):
    """Discharge: JSON order (SNF branch: placement + the care-transition pathway beside it),
    med_rec escalation notify -> reassign at 2s / 4s, 403 / 409, completion by EHR events
    (JSON snf.accepted, transport.completed; HL7 ADT^A03), override by the charge nurse; a
    second encounter (NDJSON, home: placement skipped) cancelled by HL7 ADT^A13."""
    c = Ctx(tmp)
    try:
        roster(c.stack, c.hook)
        c.stack.post_event(ev("dA-order", "order.discharge", "D-A", patient_class="inpatient",
                              disposition="snf"))
        c.stack.post_ndjson([
            ev("dB-order", "order.discharge", "D-B", patient_class="inpatient",
               disposition="home"),
            ev("dB-update", "adt.update", "D-B", note="x")])
        iid, med, _ = wait_stage(c.tail, "discharge", "med_rec", "D-A", status="ready",
                                 owner="ph1")
        _, plc, _ = wait_stage(c.tail, "discharge", "placement", "D-A", owner="cm1")
        _, edu, _ = wait_stage(c.tail, "discharge", "discharge_education", "D-A", owner="n1")
        wait_instance(c.tail, "care_transition_snf", "active", "D-A")
        wait_stage(c.tail, "care_transition_snf", "snf_referral", "D-A", owner="cm1")
        # D-B: placement skipped by its when (home)
        _, _, tb = wait_stage(c.tail, "discharge", "placement", "D-B", status="cancelled")
        expect_eq(tb["types"].get("task.skipped"), 1, "D-B placement skipped")
        expect(not c.tail.lifecycle("instance.started") or
               not [e for e in c.tail.lifecycle("instance.started")
                    if body_of(e)["pathway"] == "care_transition_snf" and
                    body_of(e)["encounter"] == "D-B"], "care_transition_snf started for home")
        c.notified("ph1", "assigned", med)
        # someone without the role may not act
        c.stack.act(med, "ack", "tr1", ["transport"], expect_status=403)
        # nobody acknowledges med_rec: notify at 2s (level 1), reassign at 4s (level 2)
        _, _, t = wait_stage(c.tail, "discharge", "med_rec", "D-A", owner="pl1", level=2,
                             status="ready", types={"task.escalated": 2,
                                                    "task.deadline_missed": 1})
        expect_eq(t["types"].get("task.reassigned"), 1, "med_rec reassigned once")
        c.notified("pl1", "escalation", med)
        c.act(med, "ack", "pl1", key="dA-med-ack")
        c.act(med, "complete", "pl1", key="dA-med-done")
        wait_stage(c.tail, "discharge", "med_rec", "D-A", status="completed")
        c.act(med, "ack", "pl1", expect_status=409)
        # placement: acknowledged by the case manager, completed by the SNF's event
        c.act(plc, "ack", "cm1", key="dA-plc-ack")
        wait_stage(c.tail, "discharge", "placement", "D-A", status="accepted")
        c.stack.post_event(ev("dA-snf", "snf.accepted", "D-A"))
        _, _, tp = wait_stage(c.tail, "discharge", "placement", "D-A", status="completed")
        done = [body_of(e) for e in tp["events"] if e["type"] == "task.completed"]
        expect_eq(done[0].get("by_event_id"), "dA-snf", "placement completed by")
        # education: completed by the charge nurse through override_roles
        c.act(edu, "complete", "cn1", key="dA-edu-done")
        _, _, te = wait_stage(c.tail, "discharge", "discharge_education", "D-A",
                              status="completed")
        done = [body_of(e) for e in te["events"] if e["type"] == "task.completed"]
        expect(done[0].get("override") is True and done[0].get("actor") == "cn1",
               "education completed by cn1 as override: %s" % done[0])
        _, trn, _ = wait_stage(c.tail, "discharge", "transport", "D-A", owner="tr1")
        c.stack.post_event(ev("dA-transport", "transport.completed", "D-A"))
        wait_stage(c.tail, "discharge", "room_turn", "D-A", owner="evs1", status="ready")
        c.stack.post_hl7(hl7("ADT^A03", "dA-a03", "P-D-A", "D-A", disposition="03"))
        wait_instance(c.tail, "discharge", "completed", "D-A")
        # the care transition beside it is cancelled by ADT^A13 (the discharge is done already)
        c.stack.post_hl7(hl7("ADT^A13", "dA-a13", "P-D-A", "D-A"))
        wait_instance(c.tail, "care_transition_snf", "cancelled", "D-A")
        c.stack.post_hl7(hl7("ADT^A13", "dB-a13", "P-D-B", "D-B"))
        wait_instance(c.tail, "discharge", "cancelled", "D-B")
        m = c.settle_and_check({"dA-order": ["discharge", "care_transition_snf"],
                                "dB-order": "discharge"})
        for tid, t in m.tasks.items():
            inst = m.instances[t["instance"]]
            if inst["status"] == "cancelled" and t["status"] not in ("completed",):
                expect(t["status"] == "cancelled", "task %s of a cancelled instance is %s" % (
                    t["stage"], t["status"]))
        # the read API says the same
        d = read_instance(c.stack, "discharge", encounter="D-A")
        expect_eq(d["status"], "completed", "read API D-A status")
        expect_eq([(s["stage"], s["status"], s["owner"]) for s in d["stages"]],
                  [("med_rec", "completed", "pl1"), ("placement", "completed", "cm1"),
                   ("discharge_education", "completed", "n1"),
                   ("transport", "completed", "tr1"), ("room_turn", "completed", "evs1")],
                  "read API D-A stages")
        s = stage_of(d, "med_rec")
        expect(s["ack_breached"] is True and s["escalation_level"] == 2,
               "med_rec breach / level in read API: %s" % s)
        d = read_instance(c.stack, "discharge", encounter="D-B")
        expect_eq(d["status"], "cancelled", "read API D-B status")
        expect(stage_of(d, "placement").get("skipped") is True, "D-B placement skipped")
        stats = c.stack.get("/v1/stats?pathway=discharge")
        g = [x for x in stats["groups"] if x["stage"] == "med_rec"]
        expect(g and g[0]["sla_breaches"]["ack"] >= 1 and g[0]["escalations"] >= 2,
               "stats for med_rec: %s" % g)
    finally:
        c.close()


def case_pathway_consult(tmp):
    """Consult response from FHIR R4: a ServiceRequest (consult category, priority stat)
    starts it; the consultant accepts, calls back, sees the patient; a consult.note_signed
    event closes it. A second consult (JSON) at F2, where no consultant is on shift, is a
    coverage gap escalated (notify 5s, reassign to the backup consultant at 8s), then
    cancelled by a FHIR Encounter finished (adt.discharge)."""
    c = Ctx(tmp)
    try:
        roster(c.stack, c.hook)

        def sr(sid, enc, prio, facility):
            return {"resourceType": "ServiceRequest", "id": sid, "status": "active",
                    "intent": "order", "priority": prio,
                    "category": [{"coding": [{"system": "http://snomed.info/sct",
                                              "code": "11429006", "display": "Consultation"}]}],
                    "code": {"text": "Cardiology consult"},
                    "subject": {"reference": "Patient/P-" + enc},
                    "encounter": {"reference": "Encounter/" + enc},
                    "locationReference": [{"reference": "Location/4W"}],
                    "extension": [{"url": "urn:baton:fhir:extension:facility",
                                   "valueReference": {"reference": "Organization/" + facility}}],
                    "authoredOn": iso(time.time() - 1)}
        # the encounters (facility = serviceProvider), then the consult (facility extension)
        for enc, fac in (("C-A", "F1"), ("C-B", "F2")):
            c.stack.post_fhir("/fhir/r4/Encounter", {
                "resourceType": "Encounter", "id": enc, "status": "in-progress",
                "class": {"code": "IMP"}, "subject": {"reference": "Patient/P-" + enc},
                "serviceProvider": {"reference": "Organization/" + fac},
                "period": {"start": iso(time.time() - 3600)}})
        out = c.stack.post_fhir("/fhir/r4/ServiceRequest", sr("sr-ca", "C-A", "stat", "F1"))
        log("FHIR answer: %s" % json.dumps(out)[:300])
        iid, acc, t = wait_stage(c.tail, "consult_response", "accept", "C-A", status="ready")
        inst = Model.from_tail(c.tail).instances[iid]
        log("consult instance facility: %s" % inst["events"][0].get("facility"))
        c.check(t["owner"] == "con1" and inst["events"][0].get("facility") == "F1",
                "a FHIR ServiceRequest consult with the facility extension (F1) resolves the "
                "facility-scoped consultant: instance %s has facility %r and accept owner %r" % (
                    iid, inst["events"][0].get("facility"), t["owner"]))
        owner = t["owner"]
        c.act(acc, "ack", "con1", key="cA-acc-ack")
        _, stat, _ = wait_stage(c.tail, "consult_response", "stat_callback", "C-A",
                                owner=owner)
        c.act(acc, "complete", "con1", key="cA-acc-done")
        c.act(stat, "start", "con1", key="cA-stat-start")
        c.act(stat, "comment", "con1", body={"note": "called back"}, key="cA-stat-note")
        c.act(stat, "complete", "con1", key="cA-stat-done")
        _, see, _ = wait_stage(c.tail, "consult_response", "see_patient", "C-A", owner=owner)
        c.act(see, "complete", "con1", key="cA-see-done")
        _, note, _ = wait_stage(c.tail, "consult_response", "note_signed", "C-A", owner=owner)
        # a consultant cannot complete a complete_on stage by hand: 409
        c.act(note, "complete", "con1", expect_status=409)
        c.stack.post_event(ev("cA-note", "consult.note_signed", "C-A"))
        wait_instance(c.tail, "consult_response", "completed", "C-A")
        _, _, ts = wait_stage(c.tail, "consult_response", "stat_callback", "C-A")
        expect_eq(ts["types"].get("task.commented"), 1, "comment recorded")
        expect_eq(ts["types"].get("task.started"), 1, "start recorded")
        # F2: nobody covers consultant (a canonical JSON consult: it carries its facility)
        c.stack.post_event(ev("cB-consult", "consult.requested", "C-B", facility="F2",
                              priority="routine"))
        _, accb, tb = wait_stage(c.tail, "consult_response", "accept", "C-B", status="ready")
        expect_eq(tb["owner"], "", "C-B accept owner (coverage gap)")
        gaps = [body_of(e) for e in c.tail.lifecycle("coverage.gap")
                if body_of(e).get("task_id") == accb]
        expect(gaps and gaps[0]["role"] == "consultant", "coverage.gap for consultant: %s" % gaps)
        _, _, tb = wait_stage(c.tail, "consult_response", "accept", "C-B", owner="bc2", level=2,
                              types={"task.escalated": 2}, timeout=40)
        kinds = sorted(m.get("kind") for m in c.notified("bc2", None, accb))
        log("bc2 was told: %s" % kinds)
        c.stack.post_fhir("/fhir/r4/Encounter", {
            "resourceType": "Encounter", "id": "C-B", "status": "finished",
            "meta": {"versionId": "2"}, "class": {"code": "IMP"},
            "subject": {"reference": "Patient/P-C-B"},
            "serviceProvider": {"reference": "Organization/F2"},
            "period": {"start": iso(time.time() - 3600), "end": iso(time.time() - 1)}})
        wait_instance(c.tail, "consult_response", "cancelled", "C-B")
        m = c.settle_and_check({})
        expect_eq(len(m.find("consult_response")), 2, "consult instances")
        d = read_instance(c.stack, "consult_response", encounter="C-A")
        expect_eq(d["status"], "completed", "read API C-A")
        d = read_instance(c.stack, "consult_response", encounter="C-B")
        expect_eq(d["status"], "cancelled", "read API C-B")
        s = stage_of(d, "accept")
        expect(s["coverage_gap"] is True and s["owner"] == "bc2", "C-B accept: %s" % s)
        c.finish()
    finally:
        c.close()


def case_pathway_handoff(tmp):
    """Shift handoff: the outgoing nurse's shift ends, the incoming nurse's begins; a
    handoff.given after the change goes to the incoming nurse, who finds the outgoing nurse's
    open work through GET /v1/tasks?assignee=; a decline hands the task to the next nurse;
    fall-risk check only for high-risk patients; a transfer (HL7 ADT^A02) cancels another."""
    c = Ctx(tmp)
    try:
        change = int(time.time()) + 12
        start, end = NOW - 7200, NOW + 6 * 3600
        roster(c.stack, c.hook, extra_shifts=[
            ("F1", "5E", "nurse", "nout", start, change),
            ("F1", "5E", "nurse", "nin", change, end),
            ("F1", "5E", "nurse", "nin2", change, end, 2),
            ("F1", "5E", "charge_nurse", "cn5", start, end)])
        ROLES_OF.update({"nout": ["nurse"], "nin": ["nurse"], "nin2": ["nurse"],
                         "cn5": ["charge_nurse"]})
        # before the change: a discharge on 5E gives the outgoing nurse open work
        c.stack.post_event(ev("h-dc", "order.discharge", "H-A", unit="5E",
                              patient_class="inpatient", disposition="home"))
        _, edu, _ = wait_stage(c.tail, "discharge", "discharge_education", "H-A", owner="nout")
        wait_until(lambda: time.time() > change + 1, 30, "the shift change")
        c.stack.post_event(ev("h-given", "handoff.given", "H-A", unit="5E",
                              fall_risk="high", outgoing="nout"))
        iid, acc, _ = wait_stage(c.tail, "shift_handoff", "accept_handoff", "H-A", owner="nin")
        open_out = c.stack.get("/v1/tasks?assignee=nout&status=open")["tasks"]
        expect([t for t in open_out if t["task_id"] == edu],
               "GET /v1/tasks?assignee=nout lists the outgoing nurse's open task: %s" % open_out)
        c.act(acc, "ack", "nin", key="h-acc-ack")
        c.act(acc, "complete", "nin", key="h-acc-done")
        _, conf, _ = wait_stage(c.tail, "shift_handoff", "confirm_open_tasks", "H-A", owner="nin")
        _, fall, _ = wait_stage(c.tail, "shift_handoff", "fall_risk_check", "H-A", owner="nin")
        c.act(conf, "decline", "nin", body={"note": "busy"}, key="h-conf-decline")
        _, _, tc = wait_stage(c.tail, "shift_handoff", "confirm_open_tasks", "H-A", owner="nin2",
                              status="ready")
        expect_eq(tc["types"].get("task.declined"), 1, "declined once")
        # the outgoing nurse's task goes to the incoming nurse by reassignment
        c.act(edu, "reassign", "nout", body={"to": "nin"}, key="h-edu-reassign")
        wait_stage(c.tail, "discharge", "discharge_education", "H-A", owner="nin")
        c.act(conf, "complete", "nin2", key="h-conf-done")
        c.act(fall, "complete", "cn5", key="h-fall-done")
        wait_instance(c.tail, "shift_handoff", "completed", "H-A")
        # a low-risk patient: no fall-risk check; a transfer cancels the handoff
        c.stack.post_event(ev("h-given-b", "handoff.given", "H-B", unit="5E", fall_risk="low"))
        _, accb, _ = wait_stage(c.tail, "shift_handoff", "accept_handoff", "H-B", owner="nin")
        c.act(accb, "complete", "nin", key="hb-acc-done")
        _, _, tf = wait_stage(c.tail, "shift_handoff", "fall_risk_check", "H-B")
        expect_eq(tf["status"], "cancelled", "H-B fall-risk check skipped")
        expect_eq(tf["types"].get("task.skipped"), 1, "H-B fall-risk check skipped")
        c.stack.post_hl7(hl7("ADT^A02", "h-a02", "P-H-B", "H-B", unit="6N"))
        wait_instance(c.tail, "shift_handoff", "cancelled", "H-B")
        c.settle_and_check({"h-given": "shift_handoff", "h-given-b": "shift_handoff",
                            "h-dc": "discharge"})
        st = c.stack.get("/v1/tasks?assignee=nin&status=open")["tasks"]
        expect([t for t in st if t["task_id"] == edu],
               "nin now holds the reassigned education task: %s" % st)
    finally:
        c.close()


def case_pathway_prior_auth(tmp):
    """Prior authorization (correlated by patient): documentation, submission (reassigned to
    another specialist), the payer's decision by event; a denial adds the peer-to-peer review,
    an approval skips it; an order.cancelled cancels the second."""
    c = Ctx(tmp)
    try:
        start, end = NOW - 7200, NOW + 6 * 3600
        roster(c.stack, c.hook, extra_shifts=[("F1", "", "prior_auth_specialist", "pa2", start,
                                               end, 2)])
        ROLES_OF["pa2"] = ["prior_auth_specialist"]
        c.stack.post_event(ev("pa-order-1", "order.placed", None, patient="PA-1", unit=None,
                              prior_auth_required="true"))
        c.stack.post_event(ev("pa-order-x", "order.placed", None, patient="PA-9", unit=None,
                              prior_auth_required="false"))
        _, gd, _ = wait_stage(c.tail, "prior_authorization", "gather_documentation",
                              patient="PA-1", owner="pa1")
        c.act(gd, "ack", "pa1", key="pa1-gd-ack")
        c.act(gd, "complete", "pa1", key="pa1-gd-done")
        _, sub, _ = wait_stage(c.tail, "prior_authorization", "submit_request", patient="PA-1",
                               owner="pa1")
        c.act(sub, "reassign", "pa1", body={"to": "pa2"}, key="pa1-sub-reassign")
        wait_stage(c.tail, "prior_authorization", "submit_request", patient="PA-1", owner="pa2")
        c.act(sub, "complete", "pa2", key="pa1-sub-done")
        wait_stage(c.tail, "prior_authorization", "payer_decision", patient="PA-1", owner="pa1")
        c.stack.post_event(ev("pa-decided-1", "prior_auth.decided", None, patient="PA-1",
                              unit=None, decision="denied"))
        _, p2p, _ = wait_stage(c.tail, "prior_authorization", "peer_to_peer", patient="PA-1",
                               owner="op1")
        c.act(p2p, "ack", "op1", key="pa1-p2p-ack")
        c.act(p2p, "complete", "op1", key="pa1-p2p-done")
        _, sch, _ = wait_stage(c.tail, "prior_authorization", "schedule_service",
                               patient="PA-1", owner="sch1")
        c.act(sch, "complete", "sch1", key="pa1-sch-done")
        wait_instance(c.tail, "prior_authorization", "completed", patient="PA-1")
        # approved: no peer-to-peer; then the order is cancelled
        c.stack.post_event(ev("pa-order-2", "order.placed", None, patient="PA-2", unit=None,
                              prior_auth_required="true"))
        _, gd2, _ = wait_stage(c.tail, "prior_authorization", "gather_documentation",
                               patient="PA-2", owner="pa1")
        c.act(gd2, "complete", "pa1", key="pa2-gd-done")
        _, sub2, _ = wait_stage(c.tail, "prior_authorization", "submit_request",
                                patient="PA-2", owner="pa1")
        c.act(sub2, "complete", "pa1", key="pa2-sub-done")
        wait_stage(c.tail, "prior_authorization", "payer_decision", patient="PA-2")
        c.stack.post_event(ev("pa-decided-2", "prior_auth.decided", None, patient="PA-2",
                              unit=None, decision="approved"))
        _, _, tp = wait_stage(c.tail, "prior_authorization", "peer_to_peer", patient="PA-2",
                              status="cancelled")
        expect_eq(tp["types"].get("task.skipped"), 1, "PA-2 peer_to_peer skipped")
        wait_stage(c.tail, "prior_authorization", "schedule_service", patient="PA-2",
                   owner="sch1")
        c.stack.post_event(ev("pa-cancel-2", "order.cancelled", None, patient="PA-2", unit=None))
        wait_instance(c.tail, "prior_authorization", "cancelled", patient="PA-2")
        m = c.settle_and_check({"pa-order-1": "prior_authorization",
                                "pa-order-2": "prior_authorization"})
        expect(not m.find("prior_authorization", patient="PA-9"),
               "an order without prior_auth_required started an instance")
    finally:
        c.close()


def case_pathway_care_transition(tmp):
    """Care transition to a SNF, triggered by an HL7 ORM^O01 discharge order (PV1-36 = SNF):
    referral packet, the SNF's acceptance (event), insurance in parallel, medication list,
    nurse-to-nurse call, transport completed by ADT^A03 over MLLP."""
    c = Ctx(tmp)
    try:
        roster(c.stack, c.hook)
        orm = hl7("ORM^O01", "ct-orm", "P-T-A", "T-A", disposition="03",
                  extra="ORC|NW|ORD-1\rOBR|1|ORD-1||DISCHARGE^Discharge patient^L")
        c.stack.post_hl7(orm)
        iid, ref, _ = wait_stage(c.tail, "care_transition_snf", "snf_referral", "T-A",
                                 owner="cm1")
        wait_instance(c.tail, "discharge", "active", "T-A")
        c.act(ref, "ack", "cm1", key="ct-ref-ack")
        c.act(ref, "complete", "cm1", key="ct-ref-done")
        _, acc, _ = wait_stage(c.tail, "care_transition_snf", "snf_acceptance", "T-A",
                               owner="cm1")
        _, ins, _ = wait_stage(c.tail, "care_transition_snf", "insurance_auth", "T-A",
                               owner="ur1")
        c.stack.post_event(ev("ct-snf", "snf.accepted", "T-A"))
        wait_stage(c.tail, "care_transition_snf", "snf_acceptance", "T-A", status="completed")
        # the same event completed the discharge's placement stage
        wait_stage(c.tail, "discharge", "placement", "T-A", status="completed")
        _, med, _ = wait_stage(c.tail, "care_transition_snf", "med_list", "T-A", owner="ph1")
        c.act(med, "ack", "ph1", key="ct-med-ack")
        c.act(med, "complete", "ph1", key="ct-med-done")
        c.act(ins, "complete", "ur1", key="ct-ins-done")
        _, call, _ = wait_stage(c.tail, "care_transition_snf", "nurse_handoff_call", "T-A",
                                owner="n1")
        c.act(call, "complete", "n1", key="ct-call-done")
        _, trn, _ = wait_stage(c.tail, "care_transition_snf", "transport", "T-A", owner="tr1")
        # ADT^A03 over MLLP
        msg = hl7("ADT^A03", "ct-a03", "P-T-A", "T-A", disposition="03")
        with socket.create_connection(("127.0.0.1", int(c.stack.env["BATON_MLLP_PORT"])),
                                      timeout=15) as s:
            s.sendall(b"\x0b" + msg.encode() + b"\x1c\r")
            ack = b""
            while not ack.endswith(b"\x1c\r"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                ack += chunk
        expect(b"MSA|AA|ct-a03" in ack, "MLLP ACK: %r" % ack)
        wait_instance(c.tail, "care_transition_snf", "completed", "T-A")
        c.settle_and_check({"ct-orm": ["care_transition_snf", "discharge"]})
        d = read_instance(c.stack, "care_transition_snf", encounter="T-A")
        expect_eq(d["status"], "completed", "read API T-A")
        expect_eq(stage_of(d, "transport")["status"], "completed", "transport via A03")
    finally:
        c.close()


def case_pathway_referral(tmp):
    """Referral from HL7 REF^I12 (correlated by patient): triage declined by the only
    coordinator goes up the escalation chain (reassign to the referral lead), scheduling, the
    appointment kept by event, the loop closed by the primary-care provider. A second
    referral is cancelled by referral.cancelled."""
    c = Ctx(tmp)
    try:
        roster(c.stack, c.hook)
        ts = time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() - 1))
        ref = "\r".join([
            "MSH|^~\\&|EHR|CLINIC9|BATON|F1|%s||REF^I12|rf-1|P|2.5" % ts,
            "RF1|P^Pending|R^Routine|SP^Specialty||||||||Cardiology",
            "PRD|RP|SMITH^JOHN||^^^F1",
            "PRD|RT|JONES^MARY||^^^F1|||CARD1",
            "PID|1||R-1^^^F1^MR||DOE^PAT"]) + "\r"
        c.stack.post_hl7(ref)
        iid, tri, t = wait_stage(c.tail, "referral", "triage", patient="R-1", status="ready")
        inst = Model.from_tail(c.tail).instances[iid]
        expect_eq(t["owner"], "rc1", "triage owner (facility %s)" % (
            inst["events"][0].get("facility")))
        c.act(tri, "decline", "rc1", body={"note": "not ours"}, key="rf-tri-decline")
        _, _, t = wait_stage(c.tail, "referral", "triage", patient="R-1", owner="rl1",
                             status="ready")
        expect_eq(t["types"].get("task.declined"), 1, "triage declined")
        c.act(tri, "ack", "rl1", key="rf-tri-ack")
        c.act(tri, "complete", "rl1", key="rf-tri-done")
        _, sch, _ = wait_stage(c.tail, "referral", "schedule", patient="R-1", owner="sch1")
        c.act(sch, "complete", "sch1", key="rf-sch-done")
        wait_stage(c.tail, "referral", "appointment_kept", patient="R-1", owner="rc1")
        c.stack.post_event(ev("rf-appt", "referral.appointment_completed", None, patient="R-1",
                              unit=None))
        _, cl, _ = wait_stage(c.tail, "referral", "close_loop", patient="R-1", owner="pcp1")
        c.act(cl, "ack", "pcp1", key="rf-cl-ack")
        c.act(cl, "complete", "pcp1", key="rf-cl-done")
        wait_instance(c.tail, "referral", "completed", patient="R-1")
        ref2 = ref.replace("|rf-1|", "|rf-2|").replace("R-1^^^", "R-2^^^")
        c.stack.post_hl7(ref2)
        wait_stage(c.tail, "referral", "triage", patient="R-2", owner="rc1")
        c.stack.post_event(ev("rf-cancel-2", "referral.cancelled", None, patient="R-2",
                              unit=None))
        wait_instance(c.tail, "referral", "cancelled", patient="R-2")
        c.settle_and_check({"rf-1": "referral", "rf-2": "referral"})
        lst = c.stack.get("/v1/instances?pathway=referral&status=completed")["instances"]
        expect_eq(len(lst), 1, "completed referrals in the read API")
        # the trail: the router's events from start to completion, the staff actions, and a
        # delivery receipt for every notification (the notifier was killed: receipts may be
        # recorded after the completion, and reach the audit log a moment later)
        deadline = time.time() + 15
        while True:
            aud = c.stack.get("/v1/instances/%s/audit" % iid)["events"]
            types = [r["type"] for r in aud]
            requested = {r["event"]["notification_request"]["notification_id"]
                         for r in aud if r["type"] == "notification.requested"}
            receipted = {r["event"]["notification_receipt"]["notification_id"]
                         for r in aud if r["type"] == "notification.receipt"}
            if requested <= receipted or time.time() > deadline:
                break
            time.sleep(0.3)
        routed = [t for t in types if t != "notification.receipt"]
        expect(routed[0] == "instance.started" and routed[-1] == "instance.completed" and
               "task.declined" in types and "staff.action" in types and requested and
               requested <= receipted, "audit trail of the referral: %s" % types)
    finally:
        c.close()


def case_lib_selftest(tmp):
    """The checks of this library can fail: a wrongly signed webhook is caught, a JWT is
    HS256 over header.claims, and a changed owner / status shows as a difference."""
    import hashlib
    import hmac
    import urllib.request
    from e2e_checks import compare_summaries
    from e2e_lib import b64url, mint_jwt
    hook = Webhook("s3cret")
    try:
        body = json.dumps({"id": "n1", "kind": "assigned", "person": "p1", "task_id": "t"})
        for sig in ("sha256=" + hmac.new(b"s3cret", body.encode(), hashlib.sha256).hexdigest(),
                    "sha256=" + hmac.new(b"other", body.encode(), hashlib.sha256).hexdigest()):
            req = urllib.request.Request(hook.url("p1"), data=body.encode(), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "X-Baton-Signature": sig})
            urllib.request.urlopen(req, timeout=5).read()
        got, bad = hook.received()
        expect_eq(len(got.get("n1", [])), 1, "well-signed delivery kept")
        expect_eq(len(bad), 1, "badly signed delivery caught")
    finally:
        hook.close()
    tok = mint_jwt("k", "p1", ["nurse"])
    h, c, sig = tok.split(".")
    expect_eq(sig, b64url(hmac.new(b"k", ("%s.%s" % (h, c)).encode(), hashlib.sha256).digest()),
              "JWT signature")
    claims = json.loads(base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)))
    expect_eq((claims["sub"], claims["tenant"], claims["roles"]), ("p1", "acme", ["nurse"]),
              "JWT claims")
    a = {"discharge|acme/E": {"instance_id": "i", "status": "completed", "stages": {
        "med_rec": {"status": "completed", "owner": "pl1", "level": 2, "types": {}}}}}
    b = json.loads(json.dumps(a))
    expect_eq(compare_summaries(a, b), [], "equal summaries")
    b["discharge|acme/E"]["stages"]["med_rec"]["owner"] = "ph1"
    expect_eq(len(compare_summaries(a, b)), 1, "a changed owner is a difference")
    m = Model([{"type": "instance.started", "id": "e1", "correlation_key": "acme/E",
                "instance_started": {"instance_id": "i", "pathway": "discharge",
                                     "encounter": "E", "trigger_event_id": "o"}},
               {"type": "task.assigned", "id": "e2", "causation_id": "o", "task_assigned": {
                   "task": {"task_id": "t", "instance_id": "i", "stage": "med_rec",
                            "status": "ready", "owner": "ph1"}, "person": "ph1"}}])
    expect_eq(m.summary()["discharge|acme/E"]["stages"]["med_rec"]["owner"], "ph1",
              "model from lifecycle events")


# ---------------------------------------------------------------------------------------------
# Scaling out and faults (the stream driver is in stream.py)


def case_scale_out(tmp):
    stream.case_scale_out(tmp)


def case_faults_services(tmp):
    stream.case_faults_services(tmp)


def case_faults_infra(tmp):
    stream.case_faults_infra(tmp)


def main():
    if len(sys.argv) != 2 or "case_" + sys.argv[1] not in globals():
        sys.stderr.write("usage: e2e.py CASE\n")
        return 2
    tmp = tempfile.mkdtemp(prefix="baton-e2e-")
    os.chmod(tmp, 0o755)
    t = time.time()
    rc = 0
    try:
        globals()["case_" + sys.argv[1]](tmp)
        if SANITIZER:
            raise Failure("sanitizer reports in the service logs: %s" % SANITIZER[:3])
        print("PASS %s (%.1fs)" % (sys.argv[1], time.time() - t))
    except Failure as e:
        print("FAIL %s (%.1fs): %s" % (sys.argv[1], time.time() - t, e))
        rc = 1
    except Exception:
        traceback.print_exc()
        print("FAIL %s (%.1fs): exception" % (sys.argv[1], time.time() - t))
        rc = 1
    finally:
        if os.environ.get("BATON_KEEP_TMP"):
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
