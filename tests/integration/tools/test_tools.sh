#!/usr/bin/env bash
# The operator tools: baton-pathway-lint. Usage: test_tools.sh CASE
set -euo pipefail
ROOT=${BATON_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
BIN=${BATON_BIN:-$ROOT/build/bin}
fail() { echo "FAIL: $*" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

case_lint_shipped() {
  local out
  out=$("$BIN/baton-pathway-lint" "$ROOT/pathways" "$ROOT/tools/demo/pathways") || fail "lint of shipped pathways: $out"
  for p in discharge consult_response shift_handoff prior_authorization referral care_transition_snf; do
    grep -q "ok: $p v1" <<<"$out" || fail "$p not listed: $out"
  done
}

case_lint_errors() {
  printf 'pathway: x\nversion: 1\ntrigger: {event: a.b}\ncorrelation: encounter\nstages:\n  - id: a\n    owner: {role: r, scope: ward}\n' >"$TMP/bad.yaml"
  printf 'pathway: y\nversion: 1\ntrigger: {event: a.b}\ncorrelation: encounter\nstages:\n  - id: a\n    owner: {role: r, scope: unit}\n    ack_within: 2h\n    complete_within: 1h\n' >"$TMP/bad2.yaml"
  local out rc=0
  out=$("$BIN/baton-pathway-lint" "$TMP/bad.yaml" "$TMP/bad2.yaml" 2>&1) || rc=$?
  [ "$rc" = 1 ] || fail "exit status $rc, expected 1"
  grep -qx "bad.yaml:7: unknown scope 'ward' (expected unit or facility)" <<<"$out" || fail "scope error: $out"
  grep -qx "bad2.yaml:9: stage 'a': complete_within 1h is shorter than ack_within 2h" <<<"$out" \
    || fail "complete_within < ack_within: $out"
  rc=0; "$BIN/baton-pathway-lint" >/dev/null 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "no arguments: exit $rc, expected 2"
}

"case_$1"
echo "1 passed, 0 failed"
