#!/usr/bin/env bash
# bench/ingest/run.sh — baton-ingest throughput and HL7 parsing speed.
#
# Builds (Release, in $BATON_BUILD_DIR, default build-bench), starts baton-devkafka, redis-server
# and baton-ingest on free loopback ports in a temporary directory, then measures with wrk over
# keep-alive connections:
#   1. single-event POST /v1/events, as fast as it goes (events/s, p50/p99)
#   2. single-event POST /v1/events at a fixed offered rate (p50/p99 latency)
#   3. NDJSON batches of $BATCH events (events/s)
# and the HL7 v2 parser (bench/ingest/hl7_bench.c) against npm simple-hl7 on the same sample
# messages in the same run. Writes bench/results/ingest.json and prints a summary.
#
# Environment: DURATION (s, default 10), CONNS (default 32), RATE (fixed-rate run, events/s,
# default 2000), BATCH (default 100), HL7_ROUNDS (default 300), BATON_BUILD_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BATON_BUILD_DIR:-$ROOT/build-bench}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
RATE=${RATE:-2000}
BATCH=${BATCH:-100}
HL7_ROUNDS=${HL7_ROUNDS:-300}
HL7_DIR=${HL7_DIR:-$ROOT/../shared/testdata/hl7/microsoft-FHIR-Converter}
OUT=$ROOT/bench/results/ingest.json

log() { echo "bench: $*" >&2; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

command -v wrk >/dev/null || { log "installing wrk"; apt-get install -y wrk >/dev/null; }
command -v node >/dev/null || { log "node is required for the simple-hl7 comparison"; exit 1; }

log "building ($BUILD)"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target baton-ingest baton-devkafka baton_hl7 baton_core >/dev/null

TMP=$(mktemp -d /tmp/baton-bench-ingest.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$TMP/redis.pid" ] && kill "$(cat "$TMP/redis.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$TMP"
}
trap cleanup EXIT

cc -O2 -I"$ROOT/libs/core/include" -I"$ROOT/libs/hl7/include" "$ROOT/bench/ingest/hl7_bench.c" \
  "$BUILD/libs/hl7/libbaton_hl7.a" "$BUILD/libs/core/libbaton_core.a" -ljansson -lcrypto -lpthread \
  -o "$TMP/hl7_bench"

REDIS_PORT=$(free_port); HTTP_PORT=$(free_port); OPS_PORT=$(free_port); MLLP_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --pidfile "$TMP/redis.pid" --logfile "$TMP/redis.log" --dir "$TMP"
BATON_DEVKAFKA_BOOTSTRAP_FILE=$TMP/kafka.bootstrap "$BUILD/bin/baton-devkafka" >"$TMP/kafka.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do [ -s "$TMP/kafka.bootstrap" ] && break; sleep 0.1; done
[ -s "$TMP/kafka.bootstrap" ] || { log "devkafka did not start"; exit 1; }

KEY="bk_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SALT=benchsalt
HASH=$(printf '%s%s' "$SALT" "$KEY" | sha256sum | cut -d' ' -f1)
BATON_KAFKA_BOOTSTRAP=$(cat "$TMP/kafka.bootstrap") BATON_REDIS_URL=redis://127.0.0.1:$REDIS_PORT \
BATON_HTTP_BIND=127.0.0.1 BATON_HTTP_PORT=$HTTP_PORT BATON_OPS_BIND=127.0.0.1 BATON_OPS_PORT=$OPS_PORT \
BATON_MLLP_PORT=$MLLP_PORT BATON_API_KEYS="bench:bench:events:$SALT:$HASH" BATON_LOG_LEVEL=warn \
BATON_PATHWAYS_DIR=$ROOT/pathways BATON_REDIS_POOL=32 \
  "$BUILD/bin/baton-ingest" >"$TMP/ingest.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$OPS_PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$OPS_PORT/readyz" >/dev/null || { log "ingest not ready"; tail "$TMP/ingest.log"; exit 1; }

URL=http://127.0.0.1:$HTTP_PORT
export BENCH_KEY=$KEY

# run_wrk NAME SCRIPT CONNS [extra env...] — prints "rps p50_ms p99_ms non2xx"
run_wrk() {
  local name=$1 script=$2 conns=$3; shift 3
  local out="$TMP/wrk-$name.txt"
  env BENCH_RUN="$name$RANDOM" "$@" wrk -t2 -c"$conns" -d"${DURATION}s" --latency \
    -s "$ROOT/bench/ingest/$script" "$URL" >"$out" 2>&1
  python3 - "$out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    x = float(m.group(1)); u = m.group(2)
    return x / 1000 if u == "us" else x * 1000 if u == "s" else x
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"\n\s+50%\s+(\S+)", t).group(1))
p99 = ms(re.search(r"\n\s+99%\s+(\S+)", t).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
print(rps, p50, p99, bad.group(1) if bad else 0)
PY
}

log "warm-up"
DURATION=3 run_wrk warm single.lua 8 >/dev/null
log "single events, max throughput (${CONNS} connections, ${DURATION}s)"
read -r S_RPS S_P50 S_P99 S_BAD < <(run_wrk single single.lua "$CONNS")
log "single events at a fixed rate of $RATE/s"
# wrk paces each connection with delay() after every response (closed loop): the delay is the
# per-connection interval minus ~0.5 ms of service time; the achieved rate is reported.
PER_CONN=$(python3 -c "i=1000.0*$CONNS/$RATE; print(1000.0/max(i-0.5,0.1))")
read -r F_RPS F_P50 F_P99 F_BAD < <(run_wrk fixed single.lua "$CONNS" RATE_PER_CONN="$PER_CONN")
log "NDJSON batches of $BATCH"
read -r N_RPS N_P50 N_P99 N_BAD < <(run_wrk ndjson ndjson.lua 8 BATCH="$BATCH")
kill "${PIDS[1]}" 2>/dev/null || true   # ingest off: the parser runs need the CPU

log "HL7 parse: libs/hl7 ($HL7_ROUNDS rounds)"
C_JSON=$("$TMP/hl7_bench" "$HL7_DIR" "$HL7_ROUNDS")
log "HL7 parse: npm simple-hl7"
mkdir -p "$TMP/npm"
(cd "$TMP/npm" && npm install --silent --no-audit --no-fund simple-hl7@3.3.0 >/dev/null 2>&1)
JS_JSON=$(node "$ROOT/bench/ingest/simple_hl7_bench.js" "$TMP/npm/node_modules" "$HL7_DIR" "$HL7_ROUNDS")

mkdir -p "$(dirname "$OUT")"
python3 - "$OUT" <<PY
import json, sys, os, datetime
c = json.loads('''$C_JSON'''); js = json.loads('''$JS_JSON''')
r = {
  "benchmark": "ingest",
  "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
  "machine": {"cpus": os.cpu_count(), "note": "2 cores shared with other work; wrk, redis-server, baton-devkafka and baton-ingest on the same machine"},
  "settings": {"duration_s": $DURATION, "connections": $CONNS, "fixed_rate": $RATE, "batch": $BATCH, "hl7_rounds": $HL7_ROUNDS},
  "http_single": {"events_per_s": $S_RPS, "p50_ms": $S_P50, "p99_ms": $S_P99, "non_2xx": $S_BAD},
  "http_single_fixed_rate": {"offered_per_s": $RATE, "events_per_s": $F_RPS, "p50_ms": $F_P50, "p99_ms": $F_P99, "non_2xx": $F_BAD},
  "http_ndjson": {"batch": $BATCH, "requests_per_s": $N_RPS, "events_per_s": round($N_RPS * $BATCH), "p50_ms": $N_P50, "p99_ms": $N_P99, "non_2xx": $N_BAD},
  "hl7_parse": {"messages": c["messages"], "baton_parse_msgs_per_s": c["parse_msgs_per_s"],
                "baton_parse_map_ack_msgs_per_s": c["ingest_msgs_per_s"],
                "simple_hl7_messages": js["messages"], "simple_hl7_parse_msgs_per_s": js["parse_msgs_per_s"],
                "ratio_parse": round(c["parse_msgs_per_s"] / js["parse_msgs_per_s"], 1),
                "ratio_parse_map_ack": round(c["ingest_msgs_per_s"] / js["parse_msgs_per_s"], 1)},
  "targets": {"ndjson_events_per_s": 20000, "single_events_per_s": 5000, "hl7_ratio": 10},
}
r["targets_met"] = {
  "ndjson": r["http_ndjson"]["events_per_s"] >= 20000,
  "single": r["http_single"]["events_per_s"] >= 5000,
  "hl7": r["hl7_parse"]["ratio_parse"] >= 10,
}
json.dump(r, open(sys.argv[1], "w"), indent=2)
print(json.dumps(r, indent=2))
PY
log "wrote $OUT"
