#!/usr/bin/env bash
# A PostgreSQL cluster on loopback for one test run, in a temporary folder.
#   eval "$(bash scripts/pg-throwaway.sh start)"   sets PG_URL and PGTMP
#   bash scripts/pg-throwaway.sh stop "$PGTMP"
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$1" in
  start)
    dir=$(mktemp -d /tmp/calmesh-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
    as_pg "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/log" \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300" start >/dev/null
    echo "PGTMP=$dir; PG_URL=postgresql://postgres@127.0.0.1:$port/postgres; export PGTMP PG_URL"
    ;;
  stop)
    as_pg "$bin/pg_ctl" -D "$2/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$2"
    ;;
esac
