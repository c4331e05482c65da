#!/usr/bin/env bash
# Checks of the deployment files (deploy/, helm/baton, docker-compose.yml) that can run without a
# Docker engine or a Kubernetes cluster. Usage: test_deploy.sh CASE
#
#   compose_config      docker-compose config -q (Debian's docker-compose 1.29: no engine needed);
#                       every service's env vars exist in its --help; ops ports scraped
#   lint                yamllint (values, Chart.yaml, compose, prometheus, grafana); dashboards are
#                       JSON and match tests/integration/deploy/dashboards.py; shell scripts parse
#   promtool_rules      promtool check rules / check config / test rules; the chart's copy of the
#                       rules is identical
#   chart_text          the chart's templates read as text (check_deploy.py chart-text)
#                       with three value sets, then checked object by object
#   dockerfile          multi-stage, non-root, healthcheck, no build tools in the final stage, and
#                       every shared library the binaries need installed there
#   prometheus_scrape   a real Prometheus (/usr/bin/prometheus) scrapes a local stack (scripts/stack
#                       up): every target up, every Baton rule evaluates without error, a recording
#                       rule has one series per service, BatonCoverageGap fires on real coverage
#                       gaps (discharge orders, nobody on shift); the image's healthcheck works
#   dashboard_sql       the clinical flow dashboard's PostgreSQL queries run against the audit
#                       schema of a live stack and show the coverage gap of a discharge order
#   metrics_exist       every metric (and label) the rules and dashboards use is exposed by a
#                       running service (after one discharge order, so lazily created series and
#                       their labels exist), is a recording rule, or is a declared external metric
set -euo pipefail
ROOT=${BATON_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
export BATON_BIN=${BATON_BIN:-$ROOT/build/bin}
HERE="$ROOT/tests/integration/deploy"
STACK="$ROOT/scripts/stack"
SERVICES=(ingest router timer notifier audit)
PY=python3

fail() { echo "FAIL: $*" >&2; exit 1; }

# require_tool BINARY DEBIAN-PACKAGE — a missing tool fails the test, it is never skipped
require_tool() {
  command -v "$1" >/dev/null 2>&1 \
    || fail "$1 is not installed: apt-get install $2 (scripts/bootstrap installs it)"
}

# the system python (Debian's python3-yaml, a dependency of yamllint and docker-compose)
sys_python_yaml() {
  [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import yaml' 2>/dev/null \
    || fail "/usr/bin/python3 cannot import yaml: apt-get install python3-yaml"
  echo /usr/bin/python3
}

TMP=$(mktemp -d)
chmod 755 "$TMP"
DIR="$TMP/stack"
PROM_PID=
cleanup() {
  if [ -n "$PROM_PID" ]; then
    kill "$PROM_PID" 2>/dev/null || true
    wait "$PROM_PID" 2>/dev/null || true
  fi
  [ -d "$DIR" ] && { "$STACK" down "$DIR" >/dev/null 2>&1 || true; }
  if [ -n "${BATON_KEEP_TMP:-}" ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

need_binaries() {
  local s
  for s in "${SERVICES[@]}"; do
    [ -x "$BATON_BIN/baton-$s" ] || fail "no binary $BATON_BIN/baton-$s (build every service first)"
  done
}

# the --help tables, the authority on env var names and default ops ports
help_dir() {
  need_binaries
  mkdir -p "$TMP/help"
  local s
  for s in "${SERVICES[@]}"; do
    "$BATON_BIN/baton-$s" --help >"$TMP/help/$s.txt" || fail "baton-$s --help exited non-zero"
  done
  echo "$TMP/help"
}

up() {
  need_binaries
  "$STACK" up "$DIR" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log" >&2; fail "stack up"; }
}
ops_port() { sed -n 's/^BATON_OPS_PORT=//p' "$DIR/env/$1.env"; }
# post_discharge ID ENCOUNTER — one inpatient discharge order through the API (202 expected)
post_discharge() {
  local code
  code=$(curl -s -o "$TMP/post.json" -w '%{http_code}' -X POST "$BATON_URL/v1/events" \
    -H "Authorization: Bearer $BATON_API_KEY" -H 'Content-Type: application/json' \
    -d "{\"id\": \"$1\", \"type\": \"order.discharge\", \"tenant\": \"acme\", \"facility\": \"F1\",
         \"unit\": \"4W\", \"patient\": \"P-$2\", \"encounter\": \"$2\", \"occurred_at\": \"2026-11-21T10:00:00Z\",
         \"attributes\": {\"disposition\": \"home\", \"patient_class\": \"inpatient\"}}")
  [ "$code" = 202 ] || fail "POST /v1/events answered $code: $(cat "$TMP/post.json")"
}
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

case_compose_config() {
  require_tool docker-compose docker-compose
  local helps py out rc=0
  helps=$(help_dir)
  py=$(sys_python_yaml)
  cd "$ROOT"
  docker-compose -f docker-compose.yml --env-file deploy/compose.env.example config -q \
    || fail "docker-compose config -q rejects docker-compose.yml"
  # without the secrets the file must refuse to start, naming what is missing
  : >"$TMP/empty.env"
  out=$(env -i PATH="$PATH" docker-compose -f docker-compose.yml --env-file "$TMP/empty.env" config -q 2>&1) || rc=$?
  [ "$rc" -ne 0 ] || fail "docker-compose config accepted the file without any secret set"
  grep -q "BATON_" <<<"$out" || fail "the missing-secret error does not name the variable: $out"
  docker-compose -f docker-compose.yml --env-file deploy/compose.env.example config \
    | "$py" -c 'import sys, yaml, json; json.dump(yaml.safe_load(sys.stdin), sys.stdout)' >"$TMP/compose.json"
  $PY "$HERE/check_deploy.py" compose "$ROOT" "$helps" "$TMP/compose.json"
}

case_lint() {
  require_tool yamllint yamllint
  cd "$ROOT"
  local f yamls=(helm/baton/values.yaml helm/baton/Chart.yaml docker-compose.yml deploy/yamllint.yml)
  while IFS= read -r f; do yamls+=("$f"); done < <(find deploy/prometheus deploy/grafana helm/baton/files \
    tests/integration/deploy -name '*.yml' -o -name '*.yaml' | sort)
  [ ${#yamls[@]} -ge 12 ] || fail "only ${#yamls[@]} YAML files found"
  yamllint -s -c deploy/yamllint.yml "${yamls[@]}" || fail "yamllint"
  local n=0
  for f in deploy/grafana/dashboards/*.json; do
    $PY -m json.tool "$f" >/dev/null || fail "$f is not valid JSON"
    n=$((n + 1))
  done
  [ "$n" -eq 6 ] || fail "expected 6 dashboards (5 services + clinical flow), found $n"
  $PY tests/integration/deploy/dashboards.py --check || fail "dashboards differ from tests/integration/deploy/dashboards.py"
  for f in deploy/healthcheck.sh deploy/kafka/create-topics.sh "$HERE/test_deploy.sh"; do
    bash -n "$f" || fail "$f does not parse"
  done
}

case_promtool_rules() {
  require_tool promtool prometheus
  cd "$ROOT"
  promtool check rules deploy/prometheus/rules/recording.yml deploy/prometheus/rules/alerts.yml \
    || fail "promtool check rules"
  promtool check config deploy/prometheus/prometheus.yml || fail "promtool check config"
  promtool test rules deploy/prometheus/tests/alerts_test.yml || fail "promtool test rules"
  local f
  for f in recording alerts; do
    cmp -s "deploy/prometheus/rules/$f.yml" "helm/baton/files/prometheus/$f.yml" \
      || fail "helm/baton/files/prometheus/$f.yml differs from deploy/prometheus/rules/$f.yml (copy it)"
  done
  # every alert has a runbook section in docs/operations.md
  local a n
  n=$(grep -c '^ *- alert: ' deploy/prometheus/rules/alerts.yml)
  [ "$(grep -c 'runbook_url: docs/operations.md#' deploy/prometheus/rules/alerts.yml)" -eq "$n" ] \
    || fail "not every alert has a runbook_url"
  for a in $(sed -n 's/^ *- alert: //p' deploy/prometheus/rules/alerts.yml | sort -u); do
    grep -A12 -- "- alert: $a\$" deploy/prometheus/rules/alerts.yml | grep -q "runbook_url: docs/operations.md#${a,,}\$" \
      || fail "alert $a: runbook_url is not docs/operations.md#${a,,}"
    grep -q "^### $a\$" docs/operations.md || fail "docs/operations.md has no runbook '### $a'"
  done
  # the alerts the issue asks for exist
  for a in BatonConsumerLagHigh BatonDeadLettersGrowing BatonTimerLate BatonSLABreachRateHigh \
    BatonCoverageGap BatonServiceDown; do
    grep -q -- "- alert: $a\$" deploy/prometheus/rules/alerts.yml || fail "no alert $a"
  done
}

case_chart_text() {
  $PY "$HERE/check_deploy.py" chart-text "$ROOT"
}

case_dockerfile() {
  local df="$ROOT/deploy/Dockerfile" final
  [ -f "$df" ] || fail "no deploy/Dockerfile"
  [ "$(grep -c '^FROM debian:.*-slim' "$df")" -ge 2 ] || fail "not multi-stage on Debian slim"
  final=$(awk '/^FROM /{n++} n>=2' "$df")  # the runtime stage
  grep -qE '^USER [1-9][0-9]*(:[0-9]+)?$' <<<"$final" || fail "the final stage has no numeric non-root USER"
  grep -q '^HEALTHCHECK ' <<<"$final" || fail "no HEALTHCHECK"
  if grep -qE 'build-essential|cmake|gcc|clang|pkg-config|-dev\b|protobuf-c-compiler' <<<"$final"; then
    fail "build tools or -dev packages in the final stage"
  fi
  grep -q -- '--from=build' <<<"$final" || fail "the final stage does not copy from the build stage"
  # every library a binary links directly must come from a package the final stage installs
  need_binaries
  local s lib pkg pkgs=()
  for s in "${SERVICES[@]}"; do
    grep -q "baton-\$s\|baton-$s" "$df" || fail "the Dockerfile does not install baton-$s"
    while read -r lib; do
      pkg=$(dpkg -S "*/$lib" 2>/dev/null | grep -v -E -- '-dev|i386|lib32|libx32' | head -1 | cut -d: -f1)
      [ -n "$pkg" ] || fail "cannot tell which package ships $lib"
      pkgs+=("$pkg")
    done < <(readelf -d "$BATON_BIN/baton-$s" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' |
      grep -v -E '^lib(a|ub|l|t)san\.so')  # a sanitizer test build links these; images never do
  done
  for pkg in $(printf '%s\n' "${pkgs[@]}" | sort -u); do
    [ "$pkg" = libc6 ] && continue
    grep -qw -- "$pkg" <<<"$final" || fail "the final stage does not install $pkg (needed by the binaries)"
  done
}

case_prometheus_scrape() {
  require_tool prometheus prometheus
  require_tool promtool prometheus
  require_tool curl curl
  up
  local s port cfg="$TMP/prometheus.yml"
  {
    echo "global: {scrape_interval: 1s, evaluation_interval: 1s}"
    echo "rule_files:"
    echo "  - $ROOT/deploy/prometheus/rules/recording.yml"
    echo "  - $ROOT/deploy/prometheus/rules/alerts.yml"
    echo "scrape_configs:"
    echo "  - job_name: baton"
    echo "    static_configs:"
    for s in "${SERVICES[@]}"; do
      echo "      - {targets: [\"127.0.0.1:$(ops_port "$s")\"], labels: {baton_service: $s}}"
    done
  } >"$cfg"
  promtool check config "$cfg" >/dev/null || fail "generated prometheus config: $(promtool check config "$cfg" 2>&1)"
  port=$(free_port)
  prometheus --config.file="$cfg" --storage.tsdb.path="$TMP/prom" --web.listen-address="127.0.0.1:$port" \
    --log.level=warn >"$TMP/prometheus.log" 2>&1 &
  PROM_PID=$!
  local api="http://127.0.0.1:$port/api/v1" ok=0 i
  for i in $(seq 1 120); do
    kill -0 "$PROM_PID" 2>/dev/null || fail "prometheus exited: $(tail -5 "$TMP/prometheus.log")"
    if curl -fsS "$api/targets" >"$TMP/targets.json" 2>/dev/null \
      && $PY - "$TMP/targets.json" "${SERVICES[@]}" <<'PYEOF'
import json, sys
t = json.load(open(sys.argv[1]))["data"]["activeTargets"]
up = {x["labels"].get("baton_service") for x in t if x["health"] == "up"}
sys.exit(0 if len(t) == len(sys.argv) - 2 and up == set(sys.argv[2:]) else 1)
PYEOF
    then ok=1; break; fi
    sleep 0.5
  done
  [ "$ok" = 1 ] || fail "not every target is up after 60 s: $(cat "$TMP/targets.json" 2>/dev/null)"
  # every rule evaluated at least once against the live data, without error
  ok=0
  for i in $(seq 1 60); do
    if curl -fsS "$api/rules" >"$TMP/rules.json" 2>/dev/null && $PY - "$TMP/rules.json" <<'PYEOF'
import json, sys
groups = json.load(open(sys.argv[1]))["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
bad = [f'{r["name"]}: {r.get("lastError")}' for r in rules if r["health"] != "ok"]
if bad:
    print("\n".join(bad))
sys.exit(0 if len(rules) >= 40 and not bad else 1)
PYEOF
    then ok=1; break; fi
    sleep 0.5
  done
  [ "$ok" = 1 ] || fail "rules are not all healthy: $(cat "$TMP/rules.json" 2>/dev/null | head -c 2000)"
  # a recording rule computed from the scrapes: one series per service, each 1 (evaluations
  # that ran before every target's first scrape see fewer: wait for a complete one)
  ok=0
  for i in $(seq 1 40); do
    curl -fsS "$api/query" --data-urlencode 'query=baton_service:up:ratio' >"$TMP/q.json" 2>/dev/null \
      && $PY - "$TMP/q.json" "${SERVICES[@]}" <<'PYEOF' && { ok=1; break; }
import json, sys
r = json.load(open(sys.argv[1]))["data"]["result"]
got = {x["metric"]["baton_service"]: x["value"][1] for x in r}
sys.exit(0 if got == {s: "1" for s in sys.argv[2:]} else 1)
PYEOF
    sleep 0.5
  done
  [ "$ok" = 1 ] || fail "baton_service:up:ratio: $(cat "$TMP/q.json")"
  # an alert end to end on real metrics: discharge orders in a stack where nobody is on shift
  # make coverage gaps; once Prometheus has seen the counter, a second order raises it and
  # BatonCoverageGap (increase over 15m > 0, no pending period) fires
  . "$DIR/stack.env"
  post_discharge deploy-prom-1 E-PROM-1
  ok=0
  for i in $(seq 1 60); do
    curl -fsS "$api/query" --data-urlencode 'query=baton_router_transitions_total{type="coverage.gap"} > 0' \
      2>/dev/null | grep -q '"baton_service":"router"' && { ok=1; break; }
    sleep 0.5
  done
  [ "$ok" = 1 ] || fail "Prometheus never saw baton_router_transitions_total{type=\"coverage.gap\"}"
  sleep 1.5
  post_discharge deploy-prom-2 E-PROM-2
  ok=0
  for i in $(seq 1 60); do
    curl -fsS "$api/alerts" >"$TMP/alerts.json" 2>/dev/null && $PY - "$TMP/alerts.json" <<'PYEOF' && { ok=1; break; }
import json, sys
alerts = json.load(open(sys.argv[1]))["data"]["alerts"]
sys.exit(0 if any(a["labels"]["alertname"] == "BatonCoverageGap" and a["state"] == "firing" for a in alerts) else 1)
PYEOF
    sleep 0.5
  done
  [ "$ok" = 1 ] || fail "BatonCoverageGap did not fire: $(cat "$TMP/alerts.json")"
  # and nothing says a service is down
  grep -q '"alertname":"BatonServiceDown"' "$TMP/alerts.json" && fail "BatonServiceDown is active: $(cat "$TMP/alerts.json")"
  # the image's HEALTHCHECK script, against a live ops port and a closed one
  local hc="$ROOT/deploy/healthcheck.sh" closed
  BATON_OPS_PORT=$(ops_port router) bash "$hc" || fail "healthcheck.sh fails against a healthy router"
  BATON_OPS_PORT=$(ops_port router) bash "$hc" /readyz || fail "healthcheck.sh /readyz fails against a ready router"
  closed=$(free_port)
  BATON_OPS_PORT=$closed bash "$hc" 2>/dev/null && fail "healthcheck.sh succeeds against a closed port"
  return 0
}

case_metrics_exist() {
  require_tool curl curl
  up
  # one discharge order, so the lazily created series exist (with their labels) too: the router's
  # lifecycle events by type, the timers it schedules, the rows audit writes. Nobody is on shift
  # in this stack, so the first task is a coverage gap (what BatonCoverageGap counts).
  . "$DIR/stack.env"
  post_discharge deploy-test-1 E-DEPLOY-1
  local want=('^baton_router_transitions_total\{type="instance\.started"\} 1$'
    '^baton_router_transitions_total\{type="coverage\.gap"\} [1-9]')
  local ok=0 w i
  for i in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$(ops_port router)/metrics" >"$TMP/router.txt" 2>/dev/null || true
    ok=1
    for w in "${want[@]}"; do grep -qE "$w" "$TMP/router.txt" || ok=0; done
    [ "$ok" = 1 ] && break
    sleep 0.2
  done
  [ "$ok" = 1 ] || fail "the router did not count instance.started and coverage.gap: $(grep transitions "$TMP/router.txt")"
  mkdir -p "$TMP/metrics"
  local s
  for s in "${SERVICES[@]}"; do
    curl -fsS "http://127.0.0.1:$(ops_port "$s")/metrics" >"$TMP/metrics/$s.txt" || fail "$s /metrics"
  done
  $PY "$HERE/check_deploy.py" metrics "$ROOT" "$TMP/metrics"
}

case_dashboard_sql() {
  require_tool psql postgresql-client
  up
  . "$DIR/stack.env"
  post_discharge deploy-sql-1 E-SQL-1
  # audit projects the router's lifecycle events into audit_tasks
  local i n=0
  for i in $(seq 1 100); do
    n=$(psql -qtA "$BATON_PG_ADMIN_DSN" -c "select count(*) from audit_tasks where unit = '4W'" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge 1 ] && break
    sleep 0.2
  done
  [ "${n:-0}" -ge 1 ] || fail "audit wrote no audit_tasks row for the discharge"
  # every PostgreSQL panel of the clinical flow dashboard, Grafana's macros replaced, must run
  mkdir -p "$TMP/sql"
  $PY - "$ROOT/deploy/grafana/dashboards/baton-clinical-flow.json" "$TMP/sql" <<'PYEOF'
import json, re, sys
d = json.load(open(sys.argv[1]))
n = 0
for p in d["panels"]:
    for t in p.get("targets", []):
        if "rawSql" not in t:
            continue
        q = t["rawSql"]
        q = re.sub(r"\$__unixEpochGroupAlias\(([^,]+),\s*\$__interval\)", r'floor((\1) / 60) * 60 AS "time"', q)
        q = q.replace("$__unixEpochFrom()", "0").replace("$__unixEpochTo()", "4102444800")
        if "$" in q:
            sys.exit(f"unreplaced macro in {p['title']}: {q}")
        n += 1
        open(f"{sys.argv[2]}/{n:02d}.sql", "w").write(f"-- {p['title']}\n{q};\n")
if n < 5:
    sys.exit(f"only {n} SQL panels")
PYEOF
  local f
  for f in "$TMP"/sql/*.sql; do
    psql -X -q -v ON_ERROR_STOP=1 "$BATON_PG_ADMIN_DSN" -f "$f" >"$f.out" 2>&1 \
      || fail "$(head -1 "$f") does not run: $(cat "$f.out")"
  done
  # the open-tasks panel shows the unit's uncovered tasks
  grep -l -- "-- Open tasks and coverage gaps by unit" "$TMP"/sql/*.sql >/dev/null || fail "no open-tasks panel"
  f=$(grep -l -- "-- Open tasks and coverage gaps by unit" "$TMP"/sql/*.sql)
  psql -X -qtA -F '|' "$BATON_PG_ADMIN_DSN" -f "$f" >"$TMP/open.txt"
  grep -qE '^F1 / 4W\|[a-z_]+\|[1-9][0-9]*\|[1-9]' "$TMP/open.txt" \
    || fail "open tasks by unit shows no coverage gap on F1 / 4W: $(cat "$TMP/open.txt")"
}

[ $# -eq 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2; }
declare -F "case_$1" >/dev/null || fail "unknown case '$1'"
"case_$1"
echo "1 passed, 0 failed"
