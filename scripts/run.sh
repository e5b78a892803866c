#!/usr/bin/env bash
# Quick start: install into .venv and serve on http://127.0.0.1:8000 (SQLite in ./data).
# Extra arguments go to `calmesh serve` (e.g. --port 9000 --workers 4).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/calmesh serve "$@"
