#!/usr/bin/env python3
"""Checks of the deployment files that need no cluster (python3 standard library only).

  check_deploy.py chart-text ROOT
      the chart's templates, read as text: per service a Deployment with liveness and readiness
      probes on the ops port, a PDB, a Service, the securityContext, the checksum annotations
  check_deploy.py compose ROOT HELPDIR COMPOSE.json
      `docker-compose config` as JSON: every service's env vars exist in its --help; every ops
      port is scraped by deploy/prometheus/prometheus.yml; pathways mounted
  check_deploy.py metrics ROOT METRICSDIR
      every metric the rules and dashboards use is exposed by a running service (METRICSDIR/<svc>.txt
      holds its /metrics), is a recording rule, or is a known external metric

Exits 1 with one line per problem.
"""
import json
import os
import re
import sys

SERVICES = ["ingest", "router", "timer", "notifier", "audit"]
PATHWAY_SERVICES = {"ingest", "router"}
# metrics the rules / dashboards may use that no Baton service exports
EXTERNAL_METRICS = {
    "up": "Prometheus (scrape health)",
    "kafka_consumergroup_lag": "the Kafka exporter (consumer-group lag)",
}

problems = []


def problem(msg):
    problems.append(msg)


def read(path):
    with open(path) as f:
        return f.read()


# ---------------------------------------------------------------- help tables


def help_vars(helpdir, svc):
    """BATON_* variables and defaults from `baton-<svc> --help`."""
    path = os.path.join(helpdir, svc + ".txt")
    if not os.path.exists(path):
        problem(f"{svc}: no --help output at {path}")
        return {}
    out = {}
    for line in read(path).splitlines():
        m = re.match(r"^\s+(BATON_[A-Z0-9_]+)\s+(\S+)\s+(\S*)", line)
        if m:
            out[m.group(1)] = m.group(3)
    if not out:
        problem(f"{svc}: --help lists no BATON_ variable")
    return out


def check_env_names(where, svc, names, known):
    for n in names:
        if n.startswith("BATON_KAFKA_") and n != "BATON_KAFKA_BOOTSTRAP":
            continue  # librdkafka passthrough: any property
        if n not in known:
            problem(f"{where}: {n} is not a configuration variable of baton-{svc} (see baton-{svc} --help)")


# ---------------------------------------------------------------- chart, as text


def chart_text(root):
    tdir = os.path.join(root, "helm/baton/templates")
    helpers = read(os.path.join(tdir, "_helpers.tpl"))
    for svc in SERVICES:
        d = os.path.join(tdir, svc)
        dep_path = os.path.join(d, "deployment.yaml")
        if not os.path.exists(dep_path):
            problem(f"chart: no templates/{svc}/deployment.yaml")
            continue
        dep = read(dep_path)
        where = f"templates/{svc}/deployment.yaml"
        if not re.search(r"^kind: Deployment$", dep, re.M):
            problem(f"{where}: not a Deployment")
        if f'command: ["baton-{svc}"]' not in dep:
            problem(f"{where}: does not run baton-{svc}")
        if not re.search(r"- name: ops\n\s+containerPort: \{\{ \$c\.opsPort \}\}", dep):
            problem(f"{where}: no container port named ops on .Values.{svc}.opsPort")
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            if not re.search(probe + r":\n\s+httpGet:\n\s+path: " + re.escape(path) + r"\n\s+port: ops\n", dep):
                problem(f"{where}: no {probe} GET {path} on the ops port")
        for key in ("runAsNonRoot: true", "readOnlyRootFilesystem: true", "allowPrivilegeEscalation: false"):
            if key not in dep:
                problem(f"{where}: securityContext lacks {key}")
        if "checksum/credentials:" not in dep:
            problem(f"{where}: no checksum/credentials annotation")
        if svc in PATHWAY_SERVICES and 'checksum/pathways: {{ include "baton.pathways.checksum" . }}' not in dep:
            problem(f"{where}: no checksum/pathways annotation")
        if f"$c := .Values.{svc}" not in dep:
            problem(f"{where}: does not read .Values.{svc}")
        for kind, helper in (("pdb", "baton.pdb"), ("service", "baton.service")):
            p = os.path.join(d, kind + ".yaml")
            if not os.path.exists(p) or f'include "{helper}"' not in read(p) or f'"component" "{svc}"' not in read(p):
                problem(f"chart: templates/{svc}/{kind}.yaml missing or not including {helper} for {svc}")
        hpa = os.path.join(d, "hpa.yaml")
        if not os.path.exists(hpa) or "HorizontalPodAutoscaler" not in read(hpa) + (helpers if "baton.hpa.lag" in read(hpa) else ""):
            problem(f"chart: templates/{svc}/hpa.yaml missing")
    if "kind: PodDisruptionBudget" not in helpers:
        problem("_helpers.tpl: baton.pdb does not make a PodDisruptionBudget")
    for name in ("configmap-pathways.yaml", "secret.yaml", "servicemonitor.yaml", "networkpolicy.yaml"):
        if not os.path.exists(os.path.join(tdir, name)):
            problem(f"chart: no templates/{name}")


# ---------------------------------------------------------------- chart, rendered


def compose(root, helpdir, config):
    cfg = json.load(open(config))
    services = cfg.get("services", {})
    prom = read(os.path.join(root, "deploy/prometheus/prometheus.yml"))
    for svc in SERVICES:
        known = help_vars(helpdir, svc)
        s = services.get(svc)
        if not s:
            problem(f"docker-compose.yml: no service {svc}")
            continue
        env = s.get("environment", {})
        if isinstance(env, list):
            env = dict(x.split("=", 1) for x in env)
        check_env_names(f"docker-compose.yml {svc}", svc, env, known)
        cmd = s.get("command")
        if cmd not in ([f"baton-{svc}"], f"baton-{svc}"):
            problem(f"docker-compose.yml {svc}: command {cmd!r} is not baton-{svc}")
        port = env.get("BATON_OPS_PORT")
        if not port:
            problem(f"docker-compose.yml {svc}: BATON_OPS_PORT not set")
        elif not re.search(rf'targets: \["{svc}:{port}"\]\s*\n\s*labels: \{{baton_service: {svc}\}}', prom):
            problem(f"deploy/prometheus/prometheus.yml: does not scrape {svc}:{port} with baton_service={svc}")
        if svc in PATHWAY_SERVICES:
            vols = [v if isinstance(v, str) else f"{v.get('source')}:{v.get('target')}" for v in s.get("volumes", [])]
            if not any(v.rstrip(":ro").endswith(":/etc/baton/pathways") and "pathways" in v.split(":")[0] for v in vols) \
                    or env.get("BATON_PATHWAYS_DIR") != "/etc/baton/pathways":
                problem(f"docker-compose.yml {svc}: pathways/ is not mounted at BATON_PATHWAYS_DIR=/etc/baton/pathways ({vols})")
        if "BATON_KAFKA_BOOTSTRAP" not in env or "kafka:9092" not in env["BATON_KAFKA_BOOTSTRAP"]:
            problem(f"docker-compose.yml {svc}: not pointed at the kafka service")
    k = services.get("kafka", {})
    kenv = k.get("environment", {})
    if not str(k.get("image", "")).startswith("apache/kafka:"):
        problem("docker-compose.yml: kafka is not the official apache/kafka image")
    if "controller" not in str(kenv.get("KAFKA_PROCESS_ROLES", "")):
        problem("docker-compose.yml: kafka does not run in KRaft mode (KAFKA_PROCESS_ROLES)")
    r = services.get("redis", {})
    rcmd = r.get("command") or []
    rcmd = rcmd.split() if isinstance(rcmd, str) else rcmd
    if "--appendonly" not in rcmd or rcmd[rcmd.index("--appendonly") + 1] != "yes":
        problem("docker-compose.yml: redis without --appendonly yes")
    if not any("/var/lib/postgresql/data" in str(v) for v in services.get("postgres", {}).get("volumes", [])):
        problem("docker-compose.yml: postgres data is not on a volume")
    if "kafka-init" not in services:
        problem("docker-compose.yml: no topic creation (kafka-init)")


# ---------------------------------------------------------------- metrics

PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "rate", "irate", "increase", "delta", "deriv", "by",
    "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
    "histogram_quantile", "changes", "absent", "clamp_min", "clamp_max", "vector", "label_values",
    "offset", "topk", "bottomk", "time", "abs", "le", "inf", "nan",
}


def exprs_of(root):
    """(where, expr) of every rule and dashboard query, and the recorded names."""
    out, recorded = [], set()
    for f in ("recording.yml", "alerts.yml"):
        text = read(os.path.join(root, "deploy/prometheus/rules", f))
        # the rule files are flat enough to read without a YAML parser
        for m in re.finditer(r"^\s+- record: (\S+)", text, re.M):
            recorded.add(m.group(1))
        for m in re.finditer(r"^(\s+)expr: (\|\n((?:\1  .*\n)+)|(.*)\n)", text, re.M):
            out.append((f"deploy/prometheus/rules/{f}", m.group(3) or m.group(4)))
    ddir = os.path.join(root, "deploy/grafana/dashboards")
    for f in sorted(os.listdir(ddir)):
        d = json.load(open(os.path.join(ddir, f)))
        for p in d["panels"]:
            for t in p.get("targets", []):
                if "expr" in t:
                    out.append((f"deploy/grafana/dashboards/{f} '{p['title']}'", t["expr"]))
        for v in d.get("templating", {}).get("list", []):
            if isinstance(v.get("query"), dict):
                out.append((f"deploy/grafana/dashboards/{f} ${v['name']}", v["query"]["query"]))
    return out, recorded


def strip_promql(expr):
    expr = re.sub(r"label_values\((.*),\s*[a-zA-Z_]+\)$", r"\1", expr)  # Grafana: (selector, label)
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)           # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)                      # label matchers
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)                     # ranges
    return expr


def label_uses(expr):
    """(metric, label) pairs: matchers metric{label=...} and `by (labels) (...metric...)`."""
    uses = []
    for m in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}", expr):
        for lm in re.finditer(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)", m.group(2)):
            uses.append((m.group(1), lm.group(1)))
    for m in re.finditer(r"\bby \(([^)]*)\) \((?:[a-z_]+\()?([a-zA-Z_:][a-zA-Z0-9_:]*)", expr):
        for label in m.group(1).split(","):
            uses.append((m.group(2), label.strip()))
    return uses


def scraped(metricsdir):
    """metric family → set of label names seen, from the services' /metrics."""
    fams, types = {}, {}
    for svc in SERVICES:
        path = os.path.join(metricsdir, svc + ".txt")
        if not os.path.exists(path):
            problem(f"metrics: no /metrics of {svc} at {path}")
            continue
        for line in read(path).splitlines():
            m = re.match(r"# TYPE (\S+) (\S+)", line)
            if m:
                types[m.group(1)] = m.group(2)
                fams.setdefault(m.group(1), set())
                if m.group(2) == "histogram":
                    for suf in ("_bucket", "_sum", "_count"):
                        fams.setdefault(m.group(1) + suf, set())
                continue
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s", line)
            if m and not line.startswith("#"):
                labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
                fams.setdefault(m.group(1), set()).update(labels)
    # a histogram's labels are those of its series
    for name, t in types.items():
        if t == "histogram":
            fams[name] |= fams.get(name + "_bucket", set())
    return fams


def metrics(root, metricsdir):
    fams = scraped(metricsdir)
    exprs, recorded = exprs_of(root)
    if len(exprs) < 40:
        problem(f"metrics: only {len(exprs)} expressions found in the rules and dashboards (parser broken?)")
    target_labels = {"baton_service", "instance", "job", "le", "__name__"}
    missing = {}
    for where, expr in exprs:
        for tok in set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", strip_promql(expr))):
            if tok in PROMQL_WORDS or tok.startswith("$") or re.fullmatch(r"[0-9e]+", tok):
                continue
            if ":" in tok:
                if tok not in recorded:
                    missing.setdefault(tok, set()).add(f"{where} (no such recording rule)")
            elif tok not in fams and tok not in EXTERNAL_METRICS:
                missing.setdefault(tok, set()).add(where)
        for metric, label in label_uses(expr):
            if label in target_labels or metric in EXTERNAL_METRICS or ":" in metric or metric not in fams:
                continue
            if label not in fams[metric] and fams[metric]:
                problem(f"{where}: label {label!r} does not exist on {metric} (it has {sorted(fams[metric])})")
    for tok, wheres in sorted(missing.items()):
        problem(f"metric {tok} is used but no service exposes it: " + "; ".join(sorted(wheres)))


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "chart-text":
        chart_text(args[0])
    elif cmd == "compose":
        compose(args[0], args[1], args[2])
    elif cmd == "metrics":
        metrics(args[0], args[1])
    else:
        print(f"unknown command {cmd}")
        return 2
    for p in problems:
        print("FAIL:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
