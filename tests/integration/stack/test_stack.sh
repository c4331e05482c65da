#!/usr/bin/env bash
# Integration tests of scripts/stack and of what every service binary must do: --help, the ops
# endpoints (/healthz, /readyz, /metrics) under a real stack, a clean exit 0 on SIGTERM,
# kill/start, broker pause/resume. Usage: test_stack.sh CASE
set -euo pipefail
ROOT=${BATON_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
export BATON_BIN=${BATON_BIN:-$ROOT/build/bin}
STACK="$ROOT/scripts/stack"
SERVICES=()
for s in ingest router timer notifier audit; do [ -x "$BATON_BIN/baton-$s" ] && SERVICES+=("$s"); done

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }

TMP=$(mktemp -d)
chmod 755 "$TMP"
DIR="$TMP/stack"
cleanup() {
  "$STACK" down "$DIR" >/dev/null 2>&1 || true
  [ -n "${BATON_KEEP_TMP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT

ops_port() { sed -n 's/^BATON_OPS_PORT=//p' "$DIR/env/$1.env"; }
http_code() { curl -s -o /dev/null -w '%{http_code}' "$1"; }

up() { "$STACK" up "$DIR" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log" >&2; fail "stack up"; }; . "$DIR/stack.env"; }

case_help() {
  local s out
  [ ${#SERVICES[@]} -gt 0 ] || fail "no service binary built in $BATON_BIN"
  for s in "${SERVICES[@]}" devkafka; do
    out=$("$BATON_BIN/baton-$s" --help) || fail "baton-$s --help exited non-zero"
    grep -q "BATON_" <<<"$out" || fail "baton-$s --help shows no BATON_ variables"
    "$BATON_BIN/baton-$s" --no-such-flag >/dev/null 2>&1 && fail "baton-$s accepted an unknown flag"
  done
  return 0
}

case_ops_endpoints() {
  up
  local s p
  for s in "${SERVICES[@]}"; do
    p=$(ops_port "$s")
    expect_eq "$(http_code "http://127.0.0.1:$p/healthz")" 200 "$s /healthz"
    expect_eq "$(http_code "http://127.0.0.1:$p/readyz")" 200 "$s /readyz"
    grep -q "^baton_build_info{service=\"$s\"" <<<"$(curl -fsS "http://127.0.0.1:$p/metrics")" \
      || fail "$s /metrics has no baton_build_info"
  done
  kcat -L -b "$BATON_KAFKA_BOOTSTRAP" -m 5 >"$TMP/meta" 2>&1 || fail "kcat -L"
  grep -q "1 brokers:" "$TMP/meta" || fail "kcat lists no broker: $(cat "$TMP/meta")"
  for t in inbound timers lifecycle notify dlq; do
    grep -q "topic \"baton.$t.v1\"" "$TMP/meta" || fail "topic baton.$t.v1 missing"
  done
  "$STACK" down "$DIR" >/dev/null 2>&1
  for f in "$DIR"/pids/*.pid; do [ -e "$f" ] && fail "pid file left: $f"; done
  pgrep -f "$DIR" >/dev/null && fail "processes of the stack still run after down"
  return 0
}

case_sigterm_clean_exit() {
  up
  local s pid rc
  for s in "${SERVICES[@]}"; do
    "$STACK" kill "$DIR" "$s"
    # run it as our own child to see its exit status
    ( set -a; . "$DIR/env/$s.env"; set +a; exec "$BATON_BIN/baton-$s" ) >"$TMP/$s.out" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
      [ "$(http_code "http://127.0.0.1:$(ops_port "$s")/readyz")" = 200 ] && break
      sleep 0.1
    done
    kill -TERM "$pid"
    rc=0; wait "$pid" || rc=$?
    expect_eq "$rc" 0 "$s exit status after SIGTERM (log: $(tail -3 "$TMP/$s.out"))"
  done
  return 0
}

case_kill_and_start() {
  up
  local s
  for s in "${SERVICES[@]}" redis postgres; do
    "$STACK" kill "$DIR" "$s"
    grep -q "^$s running" <<<"$("$STACK" status "$DIR")" && fail "$s still running after kill"
    "$STACK" start "$DIR" "$s" >/dev/null 2>&1 || fail "stack start $s"
    grep -q "^$s running" <<<"$("$STACK" status "$DIR")" || fail "$s not running after start"
  done
  redis-cli -u "$BATON_REDIS_URL" ping | grep -q PONG || fail "redis after restart"
  psql -qtA "$BATON_PG_ADMIN_DSN" -c "select 1" | grep -q 1 || fail "postgres after restart"
}

case_kafka_pause_resume() {
  up
  "$STACK" pause "$DIR" kafka
  sleep 0.5
  kcat -L -b "$BATON_KAFKA_BOOTSTRAP" -m 2 >/dev/null 2>&1 && fail "metadata answered while paused"
  "$STACK" resume "$DIR" kafka
  local ok=0
  for _ in $(seq 1 50); do
    kcat -L -b "$BATON_KAFKA_BOOTSTRAP" -m 2 >/dev/null 2>&1 && { ok=1; break; }
    sleep 0.2
  done
  expect_eq "$ok" 1 "metadata after resume"
}

case_rejects_bad_usage() {
  local out rc=0
  out=$("$STACK" frobnicate "$TMP/x" 2>&1) || rc=$?
  expect_eq "$rc" 1 "exit status of an unknown command"
  grep -q "unknown command 'frobnicate'" <<<"$out" || fail "message: $out"
  rc=0; out=$("$STACK" kill "$TMP/x" kafka 2>&1) || rc=$?
  grep -q "paused, not killed" <<<"$out" || fail "kill kafka message: $out"
}

# Two stacks brought up at the same moment (as the fault tests do) get disjoint ports, below
# the kernel's ephemeral range, reserved in the registry under their own DIR; `up` on a stopped
# stack's DIR says so at once.
case_concurrent_stacks_own_ports() {
  local dir2="$TMP/stack2" reg="$TMP/ports" lo p n
  export BATON_STACK_PORTS_DIR="$reg" BATON_STACK_SERVICES=ingest
  "$STACK" up "$DIR" >"$TMP/up1.log" 2>&1 &
  local pid1=$!
  "$STACK" up "$dir2" >"$TMP/up2.log" 2>&1 || { cat "$TMP/up2.log" >&2; fail "second stack up"; }
  wait "$pid1" || { cat "$TMP/up1.log" >&2; fail "first stack up"; }
  lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range)
  n=0
  for p in $(cut -d= -f2 "$DIR/ports.env" "$dir2/ports.env" | grep -E '^[0-9]+$'); do
    n=$((n + 1))
    [ "$p" -lt "$lo" ] || fail "port $p is in the ephemeral range (from $lo)"
  done
  expect_eq "$n" 18 "ports in the two ports.env"
  expect_eq "$(cut -d= -f2 "$DIR/ports.env" "$dir2/ports.env" | grep -E '^[0-9]+$' | sort -u | wc -l)" 18 \
    "distinct ports of the two stacks"
  for p in $(cut -d= -f2 "$dir2/ports.env" | grep -E '^[0-9]+$'); do
    expect_eq "$(cat "$reg/$p")" "$dir2" "owner of port $p"
  done
  "$STACK" down "$dir2" >/dev/null 2>&1
  local out rc=0
  out=$("$STACK" up "$dir2" 2>&1) || rc=$?
  expect_eq "$rc" 1 "exit status of up on a stopped stack's DIR"
  grep -q "holds a stopped stack" <<<"$out" || fail "message: $out"
  rm -rf "$dir2"
}

"case_$1"
echo "1 passed, 0 failed"
