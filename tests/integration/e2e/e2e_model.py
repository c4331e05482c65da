"""Instances and tasks as the lifecycle topic describes them, and waits on them (Python 3
standard library only)."""
import collections

from e2e_lib import Failure, fail, wait_until


def body_of(ev):
    for k, v in ev.items():
        if isinstance(v, dict) and k not in ("attributes",):
            return v
    return {}


def task_ref(ev):
    b = body_of(ev)
    return b.get("task") if isinstance(b.get("task"), dict) else None


class Model:
    """Instances and tasks as the distinct lifecycle events say (in arrival order per key,
    which is the router's order: one instance, one partition)."""

    def __init__(self, events):
        self.instances = {}  # id -> dict(pathway, status, trigger, key, tasks: {task_id})
        self.tasks = {}  # task_id -> dict(stage, status, owner, level, instance, types Counter)
        for ev in events:
            t = ev.get("type")
            b = body_of(ev)
            if t == "instance.started":
                self.instances[b["instance_id"]] = {
                    "pathway": b["pathway"], "version": b.get("pathway_version"),
                    "status": "active", "trigger": b.get("trigger_event_id"),
                    "encounter": b.get("encounter", ""), "patient": b.get("patient", ""),
                    "key": ev.get("correlation_key"), "events": [ev]}
            elif t in ("instance.completed", "instance.cancelled"):
                inst = self.instances.setdefault(b["instance_id"], {"events": []})
                inst["status"] = t.split(".")[1]
                inst["events"].append(ev)
            tr = task_ref(ev)
            if tr:
                task = self.tasks.setdefault(tr["task_id"], {"types": collections.Counter(),
                                                              "events": []})
                task.update({"stage": tr.get("stage"), "status": tr.get("status"),
                             "owner": tr.get("owner", ""), "level": tr.get("escalation_level", 0),
                             "instance": tr.get("instance_id"), "role": tr.get("role"),
                             "pathway": tr.get("pathway")})
                task["types"][t] += 1
                task["events"].append(ev)
                inst = self.instances.get(tr.get("instance_id"))
                if inst is not None:
                    inst["events"].append(ev)
            elif t == "coverage.gap":
                inst = self.instances.get(b.get("instance_id"))
                if inst is not None:
                    inst["events"].append(ev)

    @classmethod
    def from_tail(cls, tail):
        return cls(tail.lifecycle())

    def find(self, pathway, encounter=None, patient=None):
        out = [(i, v) for i, v in self.instances.items() if v.get("pathway") == pathway and
               (encounter is None or v.get("encounter") == encounter) and
               (patient is None or v.get("patient") == patient)]
        return out

    def one(self, pathway, encounter=None, patient=None):
        out = self.find(pathway, encounter, patient)
        if len(out) != 1:
            fail("expected one %s instance for %s, found %d" % (pathway, encounter or patient,
                                                               len(out)))
        return out[0]

    def stage(self, instance_id, stage):
        for tid, t in self.tasks.items():
            if t["instance"] == instance_id and t["stage"] == stage:
                return tid, t
        return None, None

    def summary(self):
        """Timestamps and derived ids normalised: per instance (pathway, correlation key) its
        status and per stage (status, owner, level, lifecycle types as counts)."""
        out = {}
        for iid, inst in self.instances.items():
            stages = {}
            for tid, t in self.tasks.items():
                if t["instance"] == iid:
                    stages[t["stage"]] = {"task_id": tid, "status": t["status"],
                                          "owner": t["owner"], "level": t["level"],
                                          "types": dict(sorted(t["types"].items()))}
            out["%s|%s" % (inst.get("pathway"), inst.get("key"))] = {
                "instance_id": iid, "status": inst.get("status"), "stages": stages}
        return out


def wait_stage(tail, pathway, stage, encounter=None, patient=None, status=None, owner=None,
               level=None, timeout=40, types=None):
    """Waits until the instance's stage task stands as asked; returns (instance id, task id,
    task dict)."""
    def check():
        m = Model.from_tail(tail)
        found = m.find(pathway, encounter, patient)
        if len(found) != 1:
            return None
        iid = found[0][0]
        tid, t = m.stage(iid, stage)
        if not t:
            return None
        if status and t["status"] != status:
            return None
        if owner is not None and t["owner"] != owner:
            return None
        if level is not None and t["level"] != level:
            return None
        for ty, n in (types or {}).items():
            if t["types"][ty] < n:
                return None
        return iid, tid, t
    desc = "%s/%s of %s status=%s owner=%s level=%s %s" % (
        pathway, stage, encounter or patient, status, owner, level, types or "")
    try:
        return wait_until(check, timeout, desc)
    except Failure as e:
        m = Model.from_tail(tail)
        found = m.find(pathway, encounter, patient)
        state = "no instance"
        if len(found) == 1:
            iid = found[0][0]
            state = "instance %s %s; stages: %s" % (iid, found[0][1].get("status"), {
                t["stage"]: (t["status"], t["owner"], t["level"], dict(t["types"]))
                for t in m.tasks.values() if t["instance"] == iid})
        fail("%s; now: %s" % (e, state))


def wait_instance(tail, pathway, status, encounter=None, patient=None, timeout=40):
    def check():
        m = Model.from_tail(tail)
        found = m.find(pathway, encounter, patient)
        return found[0] if len(found) == 1 and found[0][1].get("status") == status else None
    try:
        return wait_until(check, timeout, "%s of %s %s" % (pathway, encounter or patient, status))
    except Failure as e:
        m = Model.from_tail(tail)
        found = m.find(pathway, encounter, patient)
        fail("%s; now: %s" % (e, [(i, v.get("status"), {
            t["stage"]: (t["status"], t["owner"], t["level"]) for t in m.tasks.values()
            if t["instance"] == i}) for i, v in found]))
