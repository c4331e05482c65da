#!/bin/bash
# baton-healthcheck — the container HEALTHCHECK: GET /healthz on this container's ops port.
# Uses bash's /dev/tcp so the runtime image needs no curl. The port is BATON_OPS_PORT, else the
# default of the service PID 1 runs (ingest 9101, router 9102, timer 9103, notifier 9104,
# audit 9105). Usage: baton-healthcheck [PATH]   (default /healthz; /readyz for readiness)
set -u
path=${1:-/healthz}
port=${BATON_OPS_PORT:-}
if [ -z "$port" ]; then
  cmd=$(tr '\0' ' ' </proc/1/cmdline 2>/dev/null)
  case "$cmd" in
    *baton-ingest*) port=9101 ;;
    *baton-router*) port=9102 ;;
    *baton-timer*) port=9103 ;;
    *baton-notifier*) port=9104 ;;
    *baton-audit*) port=9105 ;;
    *) echo "baton-healthcheck: set BATON_OPS_PORT (cannot tell the service from: $cmd)" >&2; exit 1 ;;
  esac
fi
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
IFS= read -r -t 3 status <&3 || exit 1
case "$status" in
  "HTTP/1."?" 200"*) exit 0 ;;
  *) echo "baton-healthcheck: $path answered: $status" >&2; exit 1 ;;
esac
