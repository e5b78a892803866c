#!/usr/bin/env bash
# Builds the single binary: one self-contained executable for Linux x86_64
# (PyInstaller one-file: the interpreter, CalMesh and every requirement in one
# file; the target needs no Python). Writes OUT/calmesh and OUT/calmesh.sha256.
#   bash scripts/build-binary.sh [OUT]      OUT defaults to dist/
# Uses .venv (scripts/install.sh dev pins pyinstaller) or $PYTHON; builds offline.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)
PYTHON=${PYTHON:-.venv/bin/python}
if ! "$PYTHON" -c 'import PyInstaller' 2>/dev/null; then
  echo "PyInstaller is missing: bash scripts/install.sh dev (or set PYTHON)." >&2
  exit 1
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# gunicorn loads its worker and logger classes by name, and the migrations are
# found by listing their package: name them all, or the analysis misses them.
# Templates, static files and the compiled translations (.mo) are package data,
# found beside calmesh/__init__.py; Babel's CLDR locale data is collected too.
"$PYTHON" -m PyInstaller --noconfirm --clean --onefile --log-level WARN \
  --name calmesh \
  --distpath "$WORK/dist" --workpath "$WORK/build" --specpath "$WORK" \
  --paths "$ROOT" \
  --collect-submodules calmesh \
  --collect-data calmesh \
  --hidden-import gunicorn.glogging \
  --hidden-import gunicorn.workers.sync \
  --hidden-import gunicorn.workers.gthread \
  --collect-submodules gunicorn.ctl \
  --collect-data tzdata \
  --collect-data icalendar \
  --collect-data babel \
  "$ROOT/calmesh/__main__.py"

mv "$WORK/dist/calmesh" "$OUT/calmesh"
(cd "$OUT" && sha256sum calmesh > calmesh.sha256)
echo "Built $OUT/calmesh ($(du -h "$OUT/calmesh" | cut -f1)); checksum in $OUT/calmesh.sha256"
