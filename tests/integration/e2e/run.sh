#!/usr/bin/env bash
# ctest entry point: run.sh CASE runs one case of e2e.py (Python 3 standard library only).
exec python3 "$(dirname "$0")/e2e.py" "$@"
