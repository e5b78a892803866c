"""Issue #15's table in one run: what a visitor waits for, as ratios.

A bare Flask "hello" under serve's gunicorn settings and ``serve`` itself
(2 workers, SQLite) run side by side; the owner's calendar is 3 iCal feeds
with 5,000 busy events over 395 days, served by this process and synced by
the app as a user's would be (``POST /api/v1/connections/ics``). Every row
is wrk -t2 -c16 against one URL (or a script of URLs) and is divided by
``/api/health`` of the same run; health itself by hello.

Then bookings on distinct free slots (wrk posting, each thread its own share
of the slots): a 5-minute page and a 30-minute one on a calendar without a
writable source, on SQLite with 2 workers and, unless ``--no-postgres``, on a
throwaway PostgreSQL with 4 workers. The SQL statements of one booking
request are counted (bench/sqlcount.py) and printed.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import httpx
from common import ROOT, WRK_BOOK, Load, Server, socket_port, start, stop, wrk

EVENTS = 5_000
FEEDS = 3
DAYS_SPAN = 395
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# wrk script: thread t asks for windows starting t, t + T, t + 2T, ... minutes after
# `now` (T threads), so no two requests of the run share a window.
DISTINCT = """
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  counter = 0
end
request = function()
  counter = counter + 1
  local t = now + 60 * (counter * 2 + tid)
  local path = base .. "&start=" .. os.date("!%Y-%m-%dT%H:%M:00Z", t)
    .. "&end=" .. os.date("!%Y-%m-%dT%H:%M:00Z", t + 31 * 86400)
  return wrk.format("GET", path)
end
"""
# wrk script: the paths in `paths`, in turn.
CYCLE = """
function init(args)
  i = 0
end
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
"""


def feeds(events: int = EVENTS, count: int = FEEDS) -> list[bytes]:
    """``count`` iCal files holding ``events`` busy events between them, 07:00-19:00 UTC
    starts on random days from 30 days ago to 365 ahead."""
    rng = random.Random(42)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(days=30)
    files = []
    for n in range(count):
        lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//CalMesh bench//EN"]
        for i in range(events // count + (1 if n < events % count else 0)):
            begin = start + timedelta(
                days=rng.randrange(DAYS_SPAN),
                hours=rng.randrange(7, 19),
                minutes=rng.choice((0, 15, 30, 45)),
            )
            end = begin + timedelta(minutes=rng.choice((30, 45, 60, 90)))
            lines += [
                "BEGIN:VEVENT",
                f"UID:{n}-{i}@bench",
                "DTSTAMP:20260101T000000Z",
                f"DTSTART:{begin:%Y%m%dT%H%M%SZ}",
                f"DTEND:{end:%Y%m%dT%H%M%SZ}",
                f"SUMMARY:Event {i}",
                "END:VEVENT",
            ]
        lines.append("END:VCALENDAR")
        files.append(("\r\n".join(lines) + "\r\n").encode())
    return files


class FeedServer:
    """The iCal feeds over HTTP at /feed/<n>.ics, from a thread of this process."""

    def __init__(self, files: list[bytes]):
        bodies = {f"/feed/{n}.ics": body for n, body in enumerate(files)}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = bodies.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.count = len(files)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


class HelloServer:
    """bench/hello.py (Flask "hello" under serve's gunicorn settings)."""

    def __init__(self, workers: int = 2):
        with socket_port() as port:
            self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.tmp = tempfile.mkdtemp(prefix="calmesh-hello-")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CALMESH_")},
            "CALMESH_DATA_DIR": self.tmp,
            "CALMESH_SERVER_WORKERS": str(workers),
            "CALMESH_LOGGING_LEVEL": "ERROR",
        }

    def __enter__(self) -> HelloServer:
        command = [sys.executable, "bench/hello.py", "--port", str(self.port)]
        self.proc = start(command, self.env, self.url, "hello")
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.proc, self.tmp)


def set_up(server: Server, feed: FeedServer, sync_timeout: float = 600) -> tuple[str, float]:
    """A user, a key, the feeds as iCal connections in one calendar, synced; two
    booking pages on it (5- and 30-minute slots, every day 08:00-18:00). Returns
    the key and how long the sync took."""
    server.cli(
        "create-user",
        "--email",
        "bench@example.org",
        "--handle",
        "bench",
        "--password",
        "bench-password-1",
        "--timezone",
        "Europe/Berlin",
    )
    key = server.cli("create-api-key", "--user", "bench", "--scope", "full").strip().splitlines()
    key = key[-1]
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    api.post(
        "/api/v1/calendars", json={"slug": "work", "name": "Work", "timezone": "Europe/Berlin"}
    ).raise_for_status()
    began = time.monotonic()
    ids = []
    for n in range(feed.count):
        answer = _retrying(
            api,
            "/api/v1/connections/ics",
            {"url": f"{feed.url}/feed/{n}.ics", "name": f"Feed {n}"},
        )
        ids.append(answer.json()["id"])
    deadline = time.monotonic() + sync_timeout
    pending = set(ids)
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"the feeds did not sync within {sync_timeout} s")
        for connection_id in list(pending):
            answer = api.get(f"/api/v1/connections/{connection_id}")
            if answer.status_code == 503:  # a sync is writing: ask again
                continue
            row = answer.json()
            if "error" in row:
                raise SystemExit(f"connection {connection_id}: {row['error']}")
            if row["last_error"]:
                raise SystemExit(f"sync failed: {row['last_error']}")
            if row["last_sync_at"] and row["calendars"]:
                pending.discard(connection_id)
        time.sleep(0.5)
    synced = time.monotonic() - began
    for connection_id in ids:
        _retrying(api, "/api/v1/calendars/work/sources", {"connection_id": connection_id})
    for slug, minutes in (("five", 5), ("thirty", 30)):
        api.post(
            "/api/v1/booking-pages",
            json={
                "slug": slug,
                "title": f"{minutes} minutes",
                "calendar": "work",
                "timezone": "Europe/Berlin",
                "duration": minutes,
                "min_notice": 0,
                "window_days": 400,
                "weekly_hours": {d: [["08:00", "18:00"]] for d in DAYS},
            },
        ).raise_for_status()
    return key, synced


def _retrying(api: httpx.Client, path: str, body: dict) -> httpx.Response:
    """POST, again while the answer is 503: a running sync of a feed holds SQLite's
    write lock longer than the busy timeout on a loaded machine (said in the output)."""
    for _ in range(30):
        answer = api.post(path, json=body)
        if answer.status_code != 503:
            answer.raise_for_status()
            return answer
        print(f"  ({path} answered 503 while a sync wrote; trying again)", flush=True)
        time.sleep(2)
    answer.raise_for_status()
    return answer


def free_slots(server: Server, slug: str, count: int, first: datetime) -> list[str]:
    found: list[str] = []
    window = first
    while len(found) < count:
        answer = httpx.get(
            f"{server.url}/api/v1/booking-pages/{slug}/slots",
            params={
                "start": window.isoformat(),
                "end": (window + timedelta(days=31)).isoformat(),
            },
            timeout=60,
        ).json()
        if "dates" not in answer:
            raise SystemExit(f"slots: {answer}")
        found += [slot["start"] for day in answer["dates"].values() for slot in day]
        window += timedelta(days=31)
        if window > first + timedelta(days=390):
            break
    return found[:count]


def lua(**tables: object) -> str:
    """A temporary wrk script: the given globals, then the script text in ``body``."""
    body = tables.pop("body")
    lines = []
    for name, value in tables.items():
        if isinstance(value, list):
            value = "{" + ",".join(f'"{v}"' for v in value) + "}"
        elif isinstance(value, str):
            value = f'"{value}"'
        lines.append(f"{name} = {value}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n" + str(body))
    return script.name


def book(server: Server, slug: str, seconds: int, first: datetime, per_second: int = 1500):
    """wrk posting bookings on distinct free slots of page ``slug`` for ``seconds``.
    Returns (load, bookings created, slots offered)."""
    slots = free_slots(server, slug, per_second * seconds, first)
    script = lua(slots=slots, body=WRK_BOOK)
    before = count_bookings(server)
    load = wrk(f"{server.url}/api/v1/booking-pages/{slug}/book", seconds=seconds, script=script)
    Path(script).unlink()
    return load, count_bookings(server) - before, len(slots)


def count_bookings(server: Server) -> int:
    out = subprocess.run(
        [sys.executable, "bench/sqlcount.py", "--count-bookings"],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.strip().splitlines()[-1])


def sql_per_booking(server: Server, slug: str) -> str:
    out = subprocess.run(
        [sys.executable, "bench/sqlcount.py", "--page", slug],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = out.strip().splitlines()
    print("\n".join(lines[:-1]), flush=True)
    return lines[-1]


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, name: str, load: Load | str, ratio: str = "", goal: str = "") -> None:
        self.rows.append((name, str(load), ratio, goal))
        print(f"  {name:<44} {load}  {ratio}  {goal}", flush=True)

    def markdown(self) -> str:
        out = ["| measure | result | ratio | goal |", "|---|---|---|---|"]
        out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in self.rows]
        return "\n".join(out)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def short(load: Load) -> str:
    return f"{load.rps:,.0f} req/s, p99 {load.p99_ms:.1f} ms" + (
        f", {load.non_2xx} non-2xx" if load.non_2xx else ""
    )


def reads(table: Table, server: Server, key: str, seconds: int) -> Load:
    """The read rows against ``server``; returns its health load."""
    auth = {"Authorization": f"Bearer {key}"}
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    span = {"start": now.isoformat(), "end": (now + timedelta(days=31)).isoformat()}
    repeated = f"{server.url}/api/v1/booking-pages/thirty/slots?{urlencode(span)}"
    wrk(server.url + "/api/health", seconds=2)
    wrk(repeated, seconds=2)
    health = wrk(server.url + "/api/health", seconds=seconds)

    def row(name: str, load: Load, goal: float, p99: float | None = None) -> None:
        ratio = load.rps / health.rps
        ok = ratio >= goal and (p99 is None or load.p99_ms < p99) and not load.non_2xx
        want = f">= {goal} x health" + (f", p99 < {p99:.0f} ms" if p99 else "")
        table.add(name, short(load), f"{ratio:.2f} x health", f"{want}: {verdict(ok)}")

    script = lua(
        base="/api/v1/booking-pages/thirty/slots?tz=America%2FNew_York",
        now=int(now.timestamp()),
        body=DISTINCT,
    )
    row(
        "slots, 31 days, every request distinct",
        wrk(server.url + "/", seconds=seconds, script=script),
        0.5,
        50,
    )
    Path(script).unlink()
    row("slots, 31 days, the same query repeated", wrk(repeated, seconds=seconds), 0.8)
    script = lua(
        base="/api/v1/calendars/work/availability?tz=Europe%2FBerlin",
        now=int(now.timestamp()),
        body=DISTINCT,
    )
    row(
        "availability, 31 days, every request distinct",
        wrk(server.url + "/", seconds=seconds, script=script, headers=auth),
        0.5,
    )
    Path(script).unlink()
    row(
        "booking page /{handle}/{slug} (HTML)",
        wrk(server.url + "/bench/thirty", seconds=seconds),
        0.4,
    )
    today = now.date()
    days = [(today + timedelta(days=d)).isoformat() for d in range(1, 60)]
    script = lua(paths=[f"/bench/thirty?date={d}&tz=Europe%2FBerlin" for d in days], body=CYCLE)
    row(
        "its day-slots fragment (htmx, 59 days in turn)",
        wrk(server.url + "/", seconds=seconds, script=script, headers={"HX-Request": "true"}),
        0.4,
    )
    Path(script).unlink()
    return health


def bookings(table: Table, server: Server, engine: str, seconds: int, first: datetime) -> None:
    for slug, shape in (("five", "5-minute slots"), ("thirty", "30-minute slots")):
        load, made, offered = book(server, slug, seconds, first)
        rate = made / seconds
        ok = rate >= 500 and load.non_2xx == 0 and load.p99_ms < 100
        table.add(
            f"bookings, {engine}, {shape}",
            f"{rate:,.0f} bookings/s, p99 {load.p99_ms:.1f} ms, {load.non_2xx} errors "
            f"({made} of {offered} free slots)",
            "",
            f">= 500/s, 0 errors, p99 < 100 ms: {verdict(ok)}",
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--book-seconds", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--only-reads", action="store_true")
    args = parser.parse_args()
    feed = FeedServer(feeds())
    table = Table()
    limits = {
        "CALMESH_API_PUBLIC_BOOK_PER_MINUTE": "100000000",
        "CALMESH_API_PUBLIC_SLOTS_PER_MINUTE": "100000000",
    }
    print(
        "== Issue #15: serve -w 2 (SQLite) and Flask hello, wrk -t2 -c16, "
        f"{EVENTS:,} events in {FEEDS} iCal feeds over {DAYS_SPAN} days",
        flush=True,
    )
    with HelloServer() as hello, Server(workers=2, **limits) as server:
        key, synced = set_up(server, feed)
        table.add("sync of the 3 feeds (as a user's)", f"{synced:.1f} s")
        wrk(hello.url + "/api/health", seconds=2)
        flask = wrk(hello.url + "/api/health", seconds=args.seconds)
        health = reads(table, server, key, args.seconds)
        ratio = health.rps / flask.rps
        table.add("Flask hello (same gunicorn settings)", short(flask), "1.00 x hello")
        table.add(
            "/api/health",
            short(health),
            f"{ratio:.2f} x hello",
            f">= 0.6 x hello: {verdict(ratio >= 0.6)}",
        )
        if args.only_reads:
            print(table.markdown())
            return
        first = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=1)
        table.add("SQL statements per booking request", sql_per_booking(server, "five"), "", "<= 8")
        bookings(table, server, "SQLite 2 workers", args.book_seconds, first)
    if not args.no_postgres:
        started = subprocess.run(
            ["bash", "scripts/pg-throwaway.sh", "start"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        env = dict(part.split("=", 1) for part in started.split("; ")[:2])
        try:
            with Server(workers=4, CALMESH_DATABASE_URL=env["PG_URL"], **limits) as server:
                key, synced = set_up(server, feed)
                first = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=1)
                table.add(
                    "SQL statements per booking request, PostgreSQL",
                    sql_per_booking(server, "five"),
                    "",
                    "<= 8",
                )
                bookings(table, server, "PostgreSQL 4 workers", args.book_seconds, first)
        finally:
            subprocess.run(["bash", "scripts/pg-throwaway.sh", "stop", env["PGTMP"]], cwd=ROOT)
    print()
    print(table.markdown())


if __name__ == "__main__":
    main()
