#!/usr/bin/env bash
# Installs everything the tests need and runs them all: ruff, then the whole
# suite on SQLite, then the whole suite again on a throwaway PostgreSQL.
# Chromium and PostgreSQL come from Debian packages when missing (as root).
# Extra arguments go to pytest (e.g. -k booking -x).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
# The checkers of deploy/: systemd-analyze, nginx -t, caddy validate.
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
command -v nginx >/dev/null 2>&1 || need_apt+=(nginx-light)
command -v caddy >/dev/null 2>&1 || need_apt+=(caddy)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing ${need_apt[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # nginx and caddy are there to check configuration files: keep their services
    # from starting on install (policy-rc.d 101: "not now"), unless one says otherwise.
    no_start=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      no_start=/usr/sbin/policy-rc.d
      printf '#!/bin/sh\nexit 101\n' > "$no_start" && chmod +x "$no_start"
    fi
    status=0
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null || status=$?
    [ -z "$no_start" ] || rm -f "$no_start"
    [ "$status" = 0 ] || exit "$status"
  else
    echo "== not root: cannot install ${need_apt[*]}; tests that need them skip (they fail when CI=true)"
  fi
fi

echo "== installing Python requirements into .venv"
bash scripts/install.sh dev

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

echo "== tests on SQLite"
.venv/bin/python -m pytest -q "$@"

if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "== tests on PostgreSQL"
  eval "$(bash scripts/pg-throwaway.sh start)"
  trap 'bash scripts/pg-throwaway.sh stop "$PGTMP"' EXIT
  CALMESH_TEST_DATABASE_URL="$PG_URL" .venv/bin/python -m pytest -q "$@"
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL is missing: CI must run the suite on it too." >&2
  exit 1
else
  echo "== PostgreSQL not installed: the second run is skipped on this machine"
fi
