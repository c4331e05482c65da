"""Library of the end-to-end and fault tests (Python 3 standard library only).

Everything here talks to Baton through its public contract (../shared/API.md, docs/events.md):
scripts/stack for the processes, the HTTP API of baton-ingest (events, HL7 v2, FHIR, rosters,
staff actions, the read API), a webhook receiver that checks X-Baton-Signature, baton-tail for
the Kafka topics, psql on BATON_PG_ADMIN_DSN, and `baton-audit verify`.

    stack = Stack(tmp, "s", pathways_dir)      # scripts/stack up; stack.down() in a finally
    hook = Webhook(stack.env["BATON_WEBHOOK_SECRET"])
    tail = Tail(stack)                          # follows every baton.* topic from the beginning
    ...
    model = Model.from_tail(tail)               # instances / tasks as the lifecycle topic says
"""
import base64
import collections
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.environ.get("BATON_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIN = os.environ.get("BATON_BIN") or os.path.join(ROOT, "build", "bin")
STACK = os.path.join(ROOT, "scripts", "stack")
HERE = os.path.dirname(os.path.abspath(__file__))
TOPICS = ["baton.inbound.v1", "baton.timers.v1", "baton.lifecycle.v1", "baton.notify.v1",
          "baton.dlq.v1"]
T0 = time.time()


def log(msg):
    sys.stderr.write("[%6.1fs] %s\n" % (time.time() - T0, msg))
    sys.stderr.flush()


class Failure(Exception):
    pass


def fail(msg):
    raise Failure(msg)


def expect(cond, msg):
    if not cond:
        fail(msg)


def expect_eq(got, want, what):
    if got != want:
        fail("%s: expected %r, got %r" % (what, want, got))


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_until(pred, timeout, what, interval=0.2):
    """Polls pred() until it returns a true value (returned) or the deadline passes (Failure)."""
    deadline = time.time() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Failure as e:
            last_exc = e
        if time.time() > deadline:
            fail("timed out after %ss waiting for %s%s" % (timeout, what,
                                                          (": %s" % last_exc) if last_exc else ""))
        time.sleep(interval)


def iso(t):
    """RFC 3339 UTC of a Unix time (seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mint_jwt(secret, sub, roles, tenant="acme", ttl=3600):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"sub": sub, "tenant": tenant, "roles": roles,
                                "exp": int(time.time()) + ttl}).encode())
    signing = ("%s.%s" % (header, claims)).encode()
    sig = hmac.new(secret.encode(), signing, hashlib.sha256).digest()
    return "%s.%s.%s" % (header, claims, b64url(sig))


# ---------------------------------------------------------------------------------------------
# The stack


class Stack:
    """One scripts/stack under DIR; env = DIR/stack.env as a dict."""

    def __init__(self, tmp, name, pathways_dir, notifier_lease="5s"):
        self.dir = os.path.join(tmp, name)
        self.name = name
        self.extra = {}  # name -> Popen of extra service instances
        self.accepted = set()  # ids of every input ingest accepted (202 / AA)
        self.stale_answers = collections.Counter()  # staff-action 403/404/409 then retried
        self.restarts = collections.Counter()
        env = dict(os.environ)
        env["BATON_PATHWAYS_DIR"] = pathways_dir
        env["BATON_BIN"] = BIN
        self.penv = env
        t = time.time()
        r = subprocess.run([STACK, "up", self.dir], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            self.down()
            fail("stack up %s failed:\n%s" % (name, r.stdout[-3000:]))
        self.env = {}
        with open(os.path.join(self.dir, "stack.env")) as f:
            for line in f:
                line = line.strip()
                if "=" in line:
                    k, v = line.split("=", 1)
                    self.env[k] = v
        self.url = self.env["BATON_URL"]
        self.key = self.env["BATON_API_KEY"]
        log("stack %s up in %.1fs (%s)" % (name, time.time() - t, self.dir))
        if notifier_lease:
            # crash recovery of the notifier's claimed jobs takes one lease (default 60s): a
            # short lease keeps the fault tests inside their time budget (operator config).
            self.set_env("notifier", {"BATON_NOTIFIER_LEASE": notifier_lease,
                                      "BATON_NOTIFIER_WEBHOOK_TIMEOUT": "2s"})
            self.kill("notifier")
            self.start("notifier")

    # -- processes

    def stack(self, *args, check=True, timeout=120):
        r = subprocess.run([STACK] + list(args), env=self.penv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=timeout)
        if check and r.returncode != 0:
            fail("stack %s failed: %s" % (" ".join(args[:1] + args[2:]), r.stdout[-2000:]))
        return r

    def kill(self, svc):
        log("%s: SIGKILL %s" % (self.name, svc))
        self.stack("kill", self.dir, svc)

    def kill_many(self, svcs):
        """SIGKILL several services at the same moment (by the pids the stack recorded)."""
        pids = []
        for svc in svcs:
            pid = self.pid(svc)
            pids.append(pid)
        log("%s: SIGKILL %s at once" % (self.name, "+".join(svcs)))
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not any(_alive(p) for p in pids), 10, "the killed services gone", 0.05)

    def start(self, svc):
        log("%s: start %s" % (self.name, svc))
        self.stack("start", self.dir, svc)

    def pause_kafka(self):
        log("%s: pause kafka" % self.name)
        self.stack("pause", self.dir, "kafka")

    def resume_kafka(self):
        log("%s: resume kafka" % self.name)
        self.stack("resume", self.dir, "kafka")

    def running(self, svc):
        try:
            with open(os.path.join(self.dir, "pids", svc + ".pid")) as f:
                os.kill(int(f.read().strip()), 0)
            return True
        except (OSError, ValueError):
            return False

    def pid(self, svc):
        with open(os.path.join(self.dir, "pids", svc + ".pid")) as f:
            return int(f.read().strip())

    def env_file(self, svc):
        out = {}
        with open(os.path.join(self.dir, "env", svc + ".env")) as f:
            for line in f:
                line = line.rstrip("\n")
                if "=" in line:
                    k, v = line.split("=", 1)
                    out[k] = v
        return out

    def set_env(self, svc, kv):
        with open(os.path.join(self.dir, "env", svc + ".env"), "a") as f:
            for k, v in kv.items():
                f.write("%s=%s\n" % (k, v))

    def start_extra(self, svc, tag="2"):
        """A second process of svc in the same consumer group: same env file, another ops port."""
        env = dict(os.environ)
        env.update(self.env_file(svc))
        port = free_port()
        env["BATON_OPS_PORT"] = str(port)
        name = "%s-%s" % (svc, tag)
        out = open(os.path.join(self.dir, "logs", name + ".log"), "ab")
        p = subprocess.Popen([os.path.join(BIN, "baton-" + svc)], env=env, stdout=out,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        out.close()
        self.extra[name] = (p, port)
        wait_until(lambda: self.ready(port), 60, "%s ready" % name)
        log("%s: started %s (pid %d, ops %d)" % (self.name, name, p.pid, port))
        return name

    def kill_extra(self, name):
        p, _ = self.extra[name]
        log("%s: SIGKILL %s (pid %d)" % (self.name, name, p.pid))
        p.send_signal(signal.SIGKILL)
        p.wait()

    def ops_port(self, svc):
        return int(self.env_file(svc)["BATON_OPS_PORT"])

    def ready(self, port):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port, timeout=2) as r:
                return r.status == 200
        except Exception:
            return False

    def supervise(self, services=("ingest", "router", "timer", "notifier", "audit")):
        """Restarts a service that exited on its own (as Kubernetes would); counts restarts."""
        for svc in services:
            if not self.running(svc):
                r = self.stack("start", self.dir, svc, check=False)
                self.restarts[svc] += 1
                log("%s: %s had exited; restarted (%s)" % (
                    self.name, svc, "ok" if r.returncode == 0 else r.stdout.strip()[-200:]))

    def down(self):
        for name, (p, _) in self.extra.items():
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
        # SIGTERM the services of this stack at once (each takes ~2s to leave its consumer
        # group); `stack down` then finds them gone and stops the rest
        pids = []
        for svc in ("ingest", "router", "timer", "notifier", "audit"):
            try:
                pid = self.pid(svc)
                os.kill(pid, signal.SIGTERM)
                pids.append(pid)
            except (OSError, ValueError):
                pass
        deadline = time.time() + 15
        while pids and time.time() < deadline:
            pids = [p for p in pids if _alive(p)]
            time.sleep(0.1)
        subprocess.run([STACK, "down", self.dir], env=self.penv, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def sanitizer_reports(self):
        """Sanitizer reports (ASan, LSan, UBSan) in the stack's logs: [(file, line)]."""
        out = []
        d = os.path.join(self.dir, "logs")
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, f), errors="replace") as fh:
                for line in fh:
                    if "ERROR: AddressSanitizer" in line or "ERROR: LeakSanitizer" in line or \
                            "runtime error:" in line:
                        out.append((f, line.strip()[:300]))
        return out

    def logs_tail(self, svc, n=15):
        try:
            with open(os.path.join(self.dir, "logs", svc + ".log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # -- HTTP

    def http(self, method, path, body=None, ctype="application/json", token=None, headers=None,
             timeout=15):
        """(status, headers dict, parsed JSON or text). Network errors give status 0."""
        data = None
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = body
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + (token or self.key))
        if data is not None:
            req.add_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, hdrs, raw = r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, raw = e.code, dict(e.headers), e.read()
        except (urllib.error.URLError, ConnectionError, socket.timeout, OSError) as e:
            return 0, {}, str(e)
        text = raw.decode("utf-8", "replace")
        try:
            return status, hdrs, json.loads(text)
        except ValueError:
            return status, hdrs, text

    def retrying(self, fn, ok, what, timeout=90):
        """Calls fn() until ok(status) (503, connection errors, ... are retried)."""
        deadline = time.time() + timeout
        while True:
            st, h, b = fn()
            if ok(st):
                return st, h, b
            if st not in (0, 500, 502, 503, 504) or time.time() > deadline:
                fail("%s: HTTP %s %s" % (what, st, str(b)[:400]))
            time.sleep(0.3)

    def put_person(self, pid, webhook_url, tenant="acme"):
        return self.retrying(lambda: self.http("PUT", "/v1/people/" + pid, {
            "tenant": tenant, "name": "Person " + pid,
            "contacts": [{"channel": "webhook", "address": webhook_url}]}),
            lambda s: s == 200, "PUT person %s" % pid)

    def import_shifts(self, rows):
        """rows: (facility, unit or '', role, person, start, end[, tier])."""
        lines = ["tenant,facility,unit,role,person,start,end,tier"]
        for r in rows:
            tier = r[6] if len(r) > 6 else 1
            lines.append("acme,%s,%s,%s,%s,%s,%s,%s" % (r[0], r[1], r[2], r[3], iso(r[4]),
                                                        iso(r[5]), tier))
        st, _, b = self.retrying(lambda: self.http("POST", "/v1/shifts:import",
                                                   "\n".join(lines) + "\n", "text/csv"),
                                 lambda s: s == 200, "shifts import")
        expect_eq(b.get("count"), len(rows), "shifts imported")
        return b

    def post_event(self, ev):
        st, _, b = self.retrying(lambda: self.http("POST", "/v1/events", ev),
                                 lambda s: s == 202, "POST /v1/events %s" % ev.get("id"))
        expect_eq(b.get("event_id"), ev.get("id"), "event_id of %s" % ev.get("id"))
        self.accepted.add(b["event_id"])
        return b

    def post_ndjson(self, evs):
        body = "\n".join(json.dumps(e) for e in evs) + "\n"
        st, _, b = self.retrying(lambda: self.http("POST", "/v1/events", body,
                                                   "application/x-ndjson"),
                                 lambda s: s == 202, "POST NDJSON")
        expect_eq(b.get("accepted"), len(evs), "NDJSON accepted")
        for r in b.get("results", []):
            self.accepted.add(r["event_id"])
        return b

    def post_hl7(self, msg):
        st, _, b = self.retrying(lambda: self.http("POST", "/v1/hl7v2", msg.replace("\n", "\r"),
                                                   "x-application/hl7-v2+er7"),
                                 lambda s: s in (202, 400, 422), "POST /v1/hl7v2")
        expect(st == 202 and "MSA|AA|" in b, "HL7 not accepted: %s %r" % (st, b))
        self.accepted.add(msg.split("\r")[0].split("|")[9])
        return b

    def post_fhir(self, path, res):
        st, _, b = self.retrying(lambda: self.http("POST", path, res, "application/fhir+json"),
                                 lambda s: s in (200, 201, 400, 422), "POST %s" % path)
        expect(st in (200, 201), "FHIR %s answered %s: %s" % (path, st, json.dumps(b)[:600]))
        return b

    def token(self, person, roles):
        return mint_jwt(self.env["BATON_JWT_SECRET"], person, roles)

    def act(self, task_id, action, person, roles, body=None, key=None, expect_status=202,
            timeout=45):
        """A staff action. Until the router's state (Redis) has caught up with what the
        lifecycle topic already shows, ingest answers 404 / 409: those are retried until
        timeout when 202 is expected."""
        hdrs = {"Idempotency-Key": key} if key else {}
        tok = self.token(person, roles)
        deadline = time.time() + timeout
        while True:
            st, _, b = self.http("POST", "/v1/tasks/%s/%s" % (task_id, action), body or {},
                                 token=tok, headers=hdrs)
            if st == expect_status:
                if st == 202:
                    self.accepted.add(b["event_id"])
                return b
            retry = st in (0, 500, 502, 503, 504) or (expect_status == 202 and
                                                      st in (403, 404, 409))
            if retry and st in (403, 404, 409):
                # the lifecycle topic runs ahead of the router's state in Redis (outputs are
                # produced before the state is written): counted, reported, retried
                self.stale_answers[st] += 1
                if self.stale_answers[st] <= 3:
                    log("%s: %s on %s by %s answered %s while the lifecycle topic already "
                        "allows it (retrying): %s" % (self.name, action, task_id, person, st,
                                                       str(b)[:160]))
            if not retry or time.time() > deadline:
                fail("%s %s by %s: expected %s, got %s %s" % (action, task_id, person,
                                                              expect_status, st, str(b)[:300]))
            time.sleep(0.3)

    def get(self, path, token=None):
        st, _, b = self.retrying(lambda: self.http("GET", path, token=token),
                                 lambda s: s == 200, "GET %s" % path, timeout=60)
        return b

    def audit_verify(self):
        env = dict(os.environ)
        env["BATON_PG_DSN"] = self.env["BATON_PG_DSN"]
        r = subprocess.run([os.path.join(BIN, "baton-audit"), "verify"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120)
        return r.returncode, r.stdout

    def psql(self, sql):
        r = subprocess.run(["psql", "-qtAX", self.env["BATON_PG_ADMIN_DSN"], "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        if r.returncode != 0:
            fail("psql: %s" % r.stderr.strip())
        return r.stdout.strip()


# ---------------------------------------------------------------------------------------------
# Webhook receiver


class Webhook:
    """POST /hook/<person>: checks X-Baton-Signature = sha256=HMAC(body, secret); answers 200.
    deliveries: every request, in order: dict(person, id, body, sig_ok)."""

    def __init__(self, secret):
        self.secret = secret.encode()
        self.lock = threading.Lock()
        self.deliveries = []
        hook = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                sig = self.headers.get("X-Baton-Signature", "")
                want = "sha256=" + hmac.new(hook.secret, raw, hashlib.sha256).hexdigest()
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with hook.lock:
                    hook.deliveries.append({
                        "person": self.path.rsplit("/", 1)[-1], "body": body,
                        "sig_ok": hmac.compare_digest(sig, want),
                        "ctype": self.headers.get("Content-Type", ""),
                        "header_id": self.headers.get("X-Baton-Notification-Id")})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, person):
        return "http://127.0.0.1:%d/hook/%s" % (self.port, person)

    def received(self):
        """notification id -> list of (person, member body) for every delivered notification
        (bundle members expanded), and the list of bad deliveries."""
        out = collections.defaultdict(list)
        bad = []
        with self.lock:
            ds = list(self.deliveries)
        for d in ds:
            b = d["body"]
            if not d["sig_ok"] or not isinstance(b, dict) or "id" not in b:
                bad.append(d)
                continue
            if not d["ctype"].startswith("application/json"):
                bad.append(d)
            if b.get("person") != d["person"]:
                bad.append(d)
            members = b.get("bundle") or [b]
            for m in members:
                out[m["id"]].append((d["person"], m))
        return out, bad

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------------------------------
# Kafka topics through baton-tail


class Tail:
    """Follows every baton.* topic from the beginning with one baton-tail process (restarted
    if it dies, e.g. across a broker outage); keeps each distinct (topic, event id) once and
    every copy for the duplicate checks."""

    def __init__(self, stack):
        self.stack = stack
        self.lock = threading.Lock()
        self.events = {}  # (topic, id) -> first record
        self.order = []  # keys in arrival order
        self.copies = collections.defaultdict(list)  # (topic, id) -> [record...]
        self.seen_offsets = set()
        self.stop = False
        self.proc = None
        self.n_lines = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        env = dict(os.environ)
        env["BATON_KAFKA_SESSION_TIMEOUT_MS"] = "6000"
        while not self.stop:
            self.proc = subprocess.Popen(
                [os.path.join(BIN, "baton-tail"), "-b", self.stack.env["BATON_KAFKA_BOOTSTRAP"]] +
                sum([["-t", t] for t in TOPICS], []) + ["--from-beginning"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
                start_new_session=True)
            for line in self.proc.stdout:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                self._add(rec)
            self.proc.wait()
            if not self.stop:
                time.sleep(0.5)

    def _add(self, rec):
        ev = rec.get("event")
        if not ev:
            return
        off = (rec["topic"], rec["partition"], rec["offset"])
        k = (rec["topic"], ev.get("id"))
        with self.lock:
            self.n_lines += 1
            if off in self.seen_offsets:  # re-read after a tail restart: not a Kafka duplicate
                return
            self.seen_offsets.add(off)
            self.copies[k].append(rec)
            if k not in self.events:
                self.events[k] = rec
                self.order.append(k)

    def close(self):
        self.stop = True
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def all(self, topic=None, type=None):
        with self.lock:
            keys = list(self.order)
            out = []
            for k in keys:
                rec = self.events[k]
                if topic and rec["topic"] != topic:
                    continue
                if type and rec["event"].get("type") != type:
                    continue
                out.append(rec["event"])
            return out

    def lifecycle(self, type=None):
        return self.all("baton.lifecycle.v1", type)

    def count(self):
        with self.lock:
            return len(self.order)

    def quiet(self, seconds):
        """Waits until no new distinct event arrived for `seconds`."""
        last, since = -1, time.time()
        while True:
            n = self.count()
            if n != last:
                last, since = n, time.time()
            elif time.time() - since >= seconds:
                return
            time.sleep(0.2)
