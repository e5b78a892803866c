#!/usr/bin/env bash
# Runs every benchmark (bench/bench_*.py) against a real `serve`; prints ratios.
#   bash bench/run.sh            all
#   bash bench/run.sh api        only bench_api.py
#   bash bench/run.sh outbox     only bench_outbox.py (drain rate, no wrk needed)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
  apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
bash scripts/install.sh dev
for script in bench/bench_${1:-*}.py; do
  .venv/bin/python "$script"
done
