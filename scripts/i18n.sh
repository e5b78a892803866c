#!/usr/bin/env bash
# The visitors' translations (calmesh/translations/<lang>/LC_MESSAGES/messages.po).
#   bash scripts/i18n.sh extract   update messages.pot and merge it into every .po
#   bash scripts/i18n.sh compile   write the .mo files (committed: installs need no build)
# tests/test_i18n.py fails when a .po lacks a translation or a .mo is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=${PYBABEL:-.venv/bin/pybabel}
DIR=calmesh/translations
case "${1:-}" in
  extract)
    "$PYBABEL" -q extract -F "$DIR/babel.cfg" -k lazy_gettext --no-location --sort-output \
      --omit-header -o "$DIR/messages.pot" .
    for lang in de fr es; do
      if [ -f "$DIR/$lang/LC_MESSAGES/messages.po" ]; then
        "$PYBABEL" -q update --no-fuzzy-matching --ignore-obsolete --width 100 -i "$DIR/messages.pot" -d "$DIR" -l "$lang"
      else
        "$PYBABEL" -q init -i "$DIR/messages.pot" -d "$DIR" -l "$lang"
      fi
    done
    ;;
  compile)
    "$PYBABEL" -q compile --statistics -d "$DIR"
    ;;
  *)
    echo "usage: bash scripts/i18n.sh extract|compile" >&2
    exit 2
    ;;
esac
