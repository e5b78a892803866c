#!/usr/bin/env bash
# Creates .venv and installs CalMesh into it, with its pinned requirements.
#   bash scripts/install.sh        runtime only
#   bash scripts/install.sh dev    runtime + test and build tools
# The project itself is installed editable (`pip install -e .`): .venv/bin/calmesh
# then works from any directory and always runs this checkout's code.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "CalMesh needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "${1:-}" = "dev" ]; then
  .venv/bin/python -m pip install --quiet -r requirements-dev.txt
else
  .venv/bin/python -m pip install --quiet -r requirements.txt
fi
# The project itself (its dependencies are the pins above): again only when
# pyproject.toml changed, as an editable install follows the code by itself.
if [ ! -x .venv/bin/calmesh ] || [ pyproject.toml -nt .venv/bin/calmesh ]; then
  .venv/bin/python -m pip install --quiet --no-deps -e .
fi
