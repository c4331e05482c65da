"""Scale-out and fault cases: a steady stream of discharges driven through the whole system
while processes are killed, the broker goes down, Redis and PostgreSQL die and come back.

The driver is reactive and deterministic: every input has a fixed id (events, HL7 MSH-10,
staff actions through Idempotency-Key), rosters have fixed absolute times, and staff act only
after the lifecycle topic shows what they act on (med_rec only after its notify at 2s and
its reassignment at 4s). So a run with faults must end exactly as a run without: same
instance and task ids, same statuses, owners, escalation levels and lifecycle event counts
per task. Every case runs the same input against a fault-free reference stack (concurrently,
to stay inside the time budget) and compares."""
import os
import shutil
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from e2e_checks import check_invariants, compare_summaries
from e2e_lib import HERE, Failure, fail, log, wait_until
from e2e_model import Model

N_ENCOUNTERS = int(os.environ.get("BATON_E2E_STREAM", "24"))
ORDER_INTERVAL = 1.0  # seconds between two discharge orders
DONE_TIMEOUT = 150  # every instance completed within this after the last order


def stream_pathways(tmp):
    d = os.path.join(tmp, "pathways-stream")
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(HERE, "pathways", "discharge.yaml"), d)
    return d


class Driver:
    """Feeds N discharges into one stack and works their tasks as the staff would."""

    def __init__(self, ctx, n=N_ENCOUNTERS, name="run"):
        import e2e  # the roster, ids and message builders of the pathway cases
        self.e2e = e2e
        self.c = ctx
        self.n = n
        self.name = name
        self.encs = ["S-%02d" % i for i in range(n)]
        self.sent = set()  # action keys accepted
        self.inflight = set()
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(6)
        self.errors = []
        self.stop = False
        self.orders_done = threading.Event()
        self.gate = threading.Event()  # the second half of the orders waits for it
        self.gate.set()
        self.half_sent = threading.Event()

    # inputs -----------------------------------------------------------------------------

    def order(self, i):
        enc = self.encs[i]
        disp = "snf" if i % 2 else "home"
        if i % 3 == 0:
            msg = self.e2e.hl7("ORM^O01", "%s-order" % enc, "P-" + enc, enc, disposition=(
                "03" if disp == "snf" else "01"),
                extra="ORC|NW|O-%s\rOBR|1|O-%s||DISCHARGE^Discharge patient^L" % (enc, enc))
            self.c.stack.post_hl7(msg)
        else:
            self.c.stack.post_event(self.e2e.ev("%s-order" % enc, "order.discharge", enc,
                                                patient_class="inpatient", disposition=disp))

    def feed(self):
        try:
            for i in range(self.n):
                if self.stop:
                    return
                if i == self.n // 2:
                    self.half_sent.set()
                    if not self.gate.wait(120):
                        self.errors.append("the second half of the orders was never released")
                t = time.time()
                self.order(i)
                time.sleep(max(0.0, ORDER_INTERVAL - (time.time() - t)))
        except Exception as e:
            self.errors.append("order feed: %s" % e)
        finally:
            self.orders_done.set()

    def submit(self, key, fn):
        with self.lock:
            if key in self.sent or key in self.inflight:
                return
            self.inflight.add(key)

        def run():
            try:
                fn()
                with self.lock:
                    self.sent.add(key)
            except Exception as e:
                self.errors.append("%s: %s" % (key, e))
            finally:
                with self.lock:
                    self.inflight.discard(key)
        self.pool.submit(run)

    def act(self, key, task, action, person):
        self.submit(key, lambda: self.c.act(task, action, person, key=key, timeout=120))

    def event(self, key, type_, enc, hl7_type=None, i=0):
        if hl7_type:
            self.submit(key, lambda: self.c.stack.post_hl7(
                self.e2e.hl7(hl7_type, key, "P-" + enc, enc, disposition="01")))
        else:
            self.submit(key, lambda: self.c.stack.post_event(self.e2e.ev(key, type_, enc)))

    # the staff ----------------------------------------------------------------------------

    def step(self):
        """One look at the lifecycle topic; whatever can be acted on is acted on."""
        m = Model.from_tail(self.c.tail)
        done = 0
        for i, enc in enumerate(self.encs):
            found = m.find("discharge", enc)
            if len(found) != 1:
                continue
            iid, inst = found[0]
            if inst.get("status") == "completed":
                done += 1
                continue
            st = {}
            for tid, t in m.tasks.items():
                if t["instance"] == iid:
                    st[t["stage"]] = (tid, t)
            tid, t = st.get("med_rec", (None, None))
            if t and t["owner"] == "pl1" and t["level"] >= 2 and t["status"] == "ready":
                self.act("%s-med-ack" % enc, tid, "ack", "pl1")
            if t and t["status"] == "accepted":
                self.act("%s-med-done" % enc, tid, "complete", "pl1")
            tid, t = st.get("placement", (None, None))
            if t and t["status"] == "ready" and t["owner"] == "cm1":
                self.act("%s-plc-ack" % enc, tid, "ack", "cm1")
            if t and t["status"] == "accepted":
                self.event("%s-snf" % enc, "snf.accepted", enc)
            tid, t = st.get("discharge_education", (None, None))
            if t and t["status"] == "ready":
                self.act("%s-edu-done" % enc, tid, "complete", "n1")
            tid, t = st.get("transport", (None, None))
            if t and t["status"] == "ready":
                self.event("%s-trn" % enc, "transport.completed", enc)
            tid, t = st.get("room_turn", (None, None))
            if t and t["status"] == "ready":
                self.event("%s-dis" % enc, "adt.discharge", enc,
                           hl7_type="ADT^A03" if i % 2 else None)
        return done

    def run_until_done(self, timeout):
        """Drives until every instance completed (True) or the deadline passed (False)."""
        feeder = threading.Thread(target=self.feed, daemon=True)
        feeder.start()
        deadline = None
        done = 0
        while not self.stop:
            done = self.step()
            if done == self.n:
                break
            if self.orders_done.is_set() and deadline is None:
                deadline = time.time() + timeout
            if deadline and time.time() > deadline:
                break
            time.sleep(0.4)
        self.stop = True
        feeder.join(30)
        self.pool.shutdown(wait=True)
        log("%s: %d/%d discharges completed; %d actions / events sent; errors: %s" % (
            self.name, done, self.n, len(self.sent), self.errors[:5]))
        return done == self.n

    def triggers(self):
        return {"%s-order" % e: "discharge" for e in self.encs}


def run_stream(ctx, name, faults=None):
    """Roster, stream, faults (a function run beside the stream), invariants. Returns the
    summary of the final state and the list of problems."""
    import e2e
    e2e.roster(ctx.stack, ctx.hook)
    d = Driver(ctx, name=name)
    fault_errors = []
    ft = None
    if faults:
        def fwrap():
            try:
                faults(ctx, d)
            except Exception as e:
                fault_errors.append("fault script: %s" % e)
                log("%s: fault script failed: %s" % (name, e))
        ft = threading.Thread(target=fwrap, daemon=True)
        ft.start()
    t = time.time()
    completed = d.run_until_done(DONE_TIMEOUT)
    if ft:
        ft.join(180)
    log("%s: stream took %.1fs" % (name, time.time() - t))
    problems = list(fault_errors) + list(d.errors)
    if not completed:
        m = Model.from_tail(ctx.tail)
        stuck = []
        for enc in d.encs:
            f = m.find("discharge", enc)
            if len(f) != 1:
                stuck.append("%s: %d instances" % (enc, len(f)))
            elif f[0][1].get("status") != "completed":
                iid = f[0][0]
                stuck.append("%s (%s): %s" % (enc, iid, {
                    x["stage"]: (x["status"], x["owner"], x["level"]) for x in m.tasks.values()
                    if x["instance"] == iid}))
        problems.append("not every discharge completed: %s" % "; ".join(stuck[:6]))
    ctx.settle_quiet()
    inv, stats, model = check_invariants(ctx.stack, ctx.tail, ctx.hook, d.triggers())
    log("%s: %s" % (name, stats))
    problems += inv
    return model.summary(), problems, stats


def metric(port, name):
    """Sum of a metric's samples on an ops port (0 when absent or unreachable)."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=3) as r:
            text = r.read().decode()
    except Exception:
        return 0
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


WORK_METRIC = {"router": "baton_router_events_in_total", "timer": "baton_timer_schedules_total",
               "notifier": "baton_notifier_requests_total",
               "audit": "baton_audit_rows_written_total"}


def with_reference(tmp, faulted_name, setup, faults):
    """Runs the stream on a reference stack (no faults) and on a faulted one at the same
    time; returns after comparing. setup(ctx) prepares the faulted stack before the stream."""
    import e2e
    pathways = stream_pathways(tmp)
    results = {}

    def run(name, do_setup, do_faults):
        ctx = None
        try:
            ctx = e2e.Ctx(tmp, name, pathways)
            if do_setup:
                do_setup(ctx)
            results[name] = run_stream(ctx, name, do_faults)
        except Failure as e:
            results[name] = (None, ["%s: %s" % (name, e)], {})
        except Exception as e:
            results[name] = (None, ["%s: %r" % (name, e)], {})
        finally:
            if ctx:
                ctx.close()
    ref = threading.Thread(target=run, args=("reference", None, None))
    ref.start()
    run(faulted_name, setup, faults)
    ref.join(400)
    ref_sum, ref_problems, _ = results.get("reference", (None, ["reference did not finish"], {}))
    got_sum, got_problems, _ = results[faulted_name]
    msgs = []
    if ref_problems:
        msgs.append("the fault-free reference run itself failed: %s" % "; ".join(
            ref_problems[:5]))
    if got_problems:
        for p in got_problems[:30]:
            log("  PROBLEM (%s): %s" % (faulted_name, p))
        msgs.append("%s: %d invariant(s) violated: %s" % (faulted_name, len(got_problems),
                                                         "; ".join(got_problems[:5])))
    if ref_sum is not None and got_sum is not None:
        diffs = compare_summaries(ref_sum, got_sum)
        for dd in diffs[:30]:
            log("  DIFF: " + dd)
        if diffs:
            msgs.append("%d difference(s) from the fault-free run, e.g. %s" % (
                len(diffs), "; ".join(diffs[:3])))
        else:
            log("final states equal the fault-free run (%d instances)" % len(got_sum))
    if msgs:
        fail(" | ".join(msgs))


# ---------------------------------------------------------------------------------------------


def case_scale_out(tmp):
    """Two processes each of router, timer, notifier and audit in one consumer group; after
    both did work, one of each is SIGKILLed mid-stream (their partitions move to the other);
    the outcome equals a one-process run of the same input."""
    extras = {}

    def setup(ctx):
        for svc in ("router", "timer", "notifier", "audit"):
            extras[svc] = ctx.stack.start_extra(svc)

    def faults(ctx, d):
        st = ctx.stack
        d.gate.clear()  # half the orders before the kill, half after
        # both processes of each service must have done work before one of them goes
        def both_working():
            out = {}
            for svc, name in extras.items():
                a = metric(st.ops_port(svc), WORK_METRIC[svc])
                b = metric(st.extra[name][1], WORK_METRIC[svc])
                out[svc] = (a, b)
            return out if all(a > 0 and b > 0 for a, b in out.values()) else None
        try:
            work = wait_until(both_working, 60, "both processes of every service doing work", 1)
            log("scale_out: work before the kill (first, second process): %s" % work)
        except Failure as e:
            d.errors.append("scale-out: %s" % e)
            d.gate.set()
            return
        # kill the first process of router and timer, the second of notifier and audit
        for svc in ("router", "timer"):
            st.kill(svc)
        for svc in ("notifier", "audit"):
            st.kill_extra(extras[svc])
        m = Model.from_tail(ctx.tail)
        log("scale_out: killed mid-stream: %d instances started, %d completed" % (
            len(m.instances), sum(1 for i in m.instances.values()
                                  if i.get("status") == "completed")))
        d.gate.set()
        # the survivors take over: their work counters keep rising
        base = {svc: metric(st.extra[extras[svc]][1] if svc in ("router", "timer")
                            else st.ops_port(svc), WORK_METRIC[svc]) for svc in extras}
        d.orders_done.wait(120)

        def survivors_working():
            for svc in extras:
                port = st.extra[extras[svc]][1] if svc in ("router", "timer") else \
                    st.ops_port(svc)
                if metric(port, WORK_METRIC[svc]) <= base[svc]:
                    return None
            return True
        try:
            wait_until(survivors_working, 60, "the surviving processes taking over", 1)
        except Failure as e:
            d.errors.append("scale-out: %s (before: %s)" % (e, base))
        for svc in ("router", "timer"):
            if st.extra[extras[svc]][0].poll() is not None:
                d.errors.append("the second %s process exited (%s): %s" % (
                    svc, st.extra[extras[svc]][0].returncode, st.logs_tail(extras[svc], 5)))

    with_reference(tmp, "scaled", setup, faults)


def case_faults_services(tmp):
    """SIGKILL of each service in turn (router, timer, notifier, audit, then those four at
    once, then ingest) under a steady stream, each restarted 1s later; afterwards the
    invariants hold and the final states equal the fault-free run."""
    def faults(ctx, d):
        time.sleep(2)
        rounds = [("router",), ("timer",), ("notifier",), ("audit",),
                  ("router", "timer", "notifier", "audit"), ("ingest",)]
        for svcs in rounds:
            if len(svcs) == 1:
                ctx.stack.kill(svcs[0])
            else:
                ctx.stack.kill_many(svcs)
            time.sleep(1)
            for svc in svcs:
                ctx.stack.start(svc)
            time.sleep(1.2)

    with_reference(tmp, "faulted", None, faults)


def case_faults_infra(tmp):
    """Under a steady stream: the broker down for 6s (stack pause/resume kafka), redis-server
    SIGKILLed and restarted 7s later from its AOF, PostgreSQL killed (the whole server) and
    restarted.
    A service that exits on its own meanwhile is restarted as Kubernetes would (counted and
    reported). Afterwards the invariants hold and the final states equal the fault-free run."""
    def faults(ctx, d):
        st = ctx.stack
        stop = threading.Event()

        def supervisor():
            while not stop.is_set():
                st.supervise()
                stop.wait(1)
        sup = threading.Thread(target=supervisor, daemon=True)
        time.sleep(3)
        st.pause_kafka()
        time.sleep(6)
        st.resume_kafka()
        sup.start()
        time.sleep(4)
        st.kill("redis")
        time.sleep(7)  # longer than the notifier's BATON_NOTIFIER_REDIS_RETRY (5s)
        st.start("redis")
        time.sleep(4)
        st.kill("postgres")
        time.sleep(2)
        st.start("postgres")
        d.orders_done.wait(120)
        time.sleep(5)
        stop.set()
        sup.join(60)
        if st.restarts:
            log("faults_infra: services restarted after exiting on their own: %s" % dict(
                st.restarts))
            for svc in st.restarts:
                log("  %s log tail:\n%s" % (svc, st.logs_tail(svc, 6)))

    with_reference(tmp, "infra", None, faults)
