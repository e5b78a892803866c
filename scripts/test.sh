#!/usr/bin/env bash
# Installs everything the tests need and runs them all: ruff, then the whole
# suite on SQLite and, side by side, the whole suite on a throwaway PostgreSQL.
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

# The two engines run side by side: most of a test's time is spent waiting on
# real servers (serve, Radicale, Chromium, PostgreSQL), so two runs share two
# cores well. Each run's output goes to its own log, printed when both ended.
# The SQLite run is measured by coverage.py (lines and branches, the servers
# and CLIs the tests start included: see [tool.coverage] in pyproject.toml);
# the PostgreSQL run runs the same code and is not, to keep CI short.
logs=$(mktemp -d /tmp/calmesh-tests.XXXXXX)
# Open to every user: a test runs `calmesh init` as nobody (setpriv), and that
# process writes its coverage data here too.
chmod 755 "$logs" && mkdir -m 1777 "$logs/coverage"
run_suite() {  # NAME [ENV=VALUE ...] -- MODULE...: the whole suite; output in $logs/NAME.log
  local name=$1 settings=(); shift
  while [ "$1" != "--" ]; do settings+=("$1"); shift; done
  shift
  env "${settings[@]}" .venv/bin/python -m "$@" -q -p no:cacheprovider "${pytest_args[@]}" \
    >"$logs/$name.log" 2>&1
}
pytest_args=("$@")
export COVERAGE_FILE="$logs/coverage/data"

pg=""
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  eval "$(bash scripts/pg-throwaway.sh start)"
  trap 'bash scripts/pg-throwaway.sh stop "$PGTMP"' EXIT
  pg=yes
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL is missing: CI must run the suite on it too." >&2
  exit 1
fi

started=$(date +%s)
echo "== tests on SQLite${pg:+ and, at the same time, on PostgreSQL}"
run_suite sqlite -- coverage run -m pytest & sqlite_pid=$!
if [ -n "$pg" ]; then
  run_suite postgresql CALMESH_TEST_DATABASE_URL="$PG_URL" -- pytest & pg_pid=$!
fi
status=0
wait "$sqlite_pid" || status=1
if [ -n "$pg" ]; then wait "$pg_pid" || status=1; fi

echo "== tests on SQLite"
cat "$logs/sqlite.log"
if [ -n "$pg" ]; then
  echo "== tests on PostgreSQL"
  cat "$logs/postgresql.log"
else
  echo "== PostgreSQL not installed: the second run is skipped on this machine"
fi
echo "== both runs took $(( $(date +%s) - started )) s"

# A run of part of the suite (extra arguments) measures part of the code: the
# report is printed, but only the whole suite is held to 90% of lines.
echo "== coverage of calmesh/ on SQLite (lines and branches)"
least=90
[ ${#pytest_args[@]} -eq 0 ] || least=0
if .venv/bin/python -m coverage combine -q "$logs/coverage"; then
  .venv/bin/python -m coverage report --fail-under=0
  .venv/bin/python -m coverage json -q -o "$logs/coverage.json"
  .venv/bin/python - "$logs/coverage.json" "$least" <<'SUMMARY' || status=1
import json, sys
totals = json.load(open(sys.argv[1]))["totals"]
lines = 100 * totals["covered_lines"] / max(1, totals["num_statements"])
branches = 100 * totals["covered_branches"] / max(1, totals["num_branches"])
print(f"calmesh/: {lines:.1f}% of lines, {branches:.1f}% of branches, "
      f"{totals['percent_covered']:.1f}% together (held to {sys.argv[2]}% of lines)")
sys.exit(lines < float(sys.argv[2]))
SUMMARY
else
  echo "no coverage data: the SQLite run did not start" >&2
  status=1
fi
rm -rf "$logs"
exit "$status"
