"""Slots over 31 days for a page whose calendar holds 5,000 stored occurrences
across 3 sources: req/s and p99 at 16 connections under `serve`, divided by
/api/health req/s in the same run (goal >= 0.5, p99 < 50 ms). Both the repeated
query (answered from the per-worker memo) and distinct queries (every request
computes: a wrk script moves the start by a minute each time) are measured.
Then concurrent bookings per second on distinct slots (goal: 500/s, SQLite, 2 workers)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from common import ROOT, Server, ratio_line, wrk

# wrk script: each request asks for a start one minute later than the last.
DISTINCT = """
counter = 0
request = function()
  counter = counter + 1
  local path = base .. "&start=" .. os.date("!%Y-%m-%dT%H:%M:00Z", now + 60 * counter)
  return wrk.format("GET", path)
end
"""
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--bookings", type=int, default=2000)
    args = parser.parse_args()
    with Server(workers=2, CALMESH_API_PUBLIC_BOOK_PER_MINUTE="100000000") as server:
        seeded = subprocess.run(
            [sys.executable, "bench/seed.py"],
            cwd=ROOT,
            env=server.env,
            capture_output=True,
            text=True,
            check=True,
        )
        key = seeded.stdout.strip().splitlines()[-1]
        api = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        api.post(
            "/api/v1/booking-pages",
            json={
                "slug": "bench",
                "title": "Bench",
                "calendar": "work",
                "timezone": "Europe/Berlin",
                "duration": 30,
                "min_notice": 0,
                "window_days": 400,
                "weekly_hours": {d: [["08:00", "18:00"]] for d in DAYS},
            },
        ).raise_for_status()
        start = datetime.now(UTC).replace(second=0, microsecond=0)
        query = urlencode(
            {
                "start": start.isoformat(),
                "end": (start + timedelta(days=31)).isoformat(),
                "tz": "America/New_York",
            }
        )
        repeated = f"{server.url}/api/v1/booking-pages/bench/slots?{query}"
        wrk(server.url + "/api/health", seconds=2)
        wrk(repeated, seconds=2)
        baseline = wrk(server.url + "/api/health", seconds=args.seconds)
        cached = wrk(repeated, seconds=args.seconds)
        base = "/api/v1/booking-pages/bench/slots?tz=America%2FNew_York"
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(f'base = "{base}"\nnow = {int(start.timestamp())}\n{DISTINCT}')
        distinct = wrk(server.url + base, seconds=args.seconds, script=script.name)
        Path(script.name).unlink()
        print("== Slots, 31 days, 3 sources, 5,000 occurrences (serve -w 2, wrk -t2 -c16)")
        print(ratio_line("/api/health (baseline)", baseline, baseline))
        print(ratio_line("slots, repeated query", cached, baseline))
        print(ratio_line("slots, distinct (7 days)", distinct, baseline))
        ok = cached.rps / baseline.rps >= 0.5 and cached.p99_ms < 50
        print(
            f"goal (repeated query): ratio >= 0.5 and p99 < 50 ms -> {'met' if ok else 'NOT met'}"
        )

        # Concurrent bookings on distinct slots: each one a write transaction.
        first = start.replace(minute=0) + timedelta(days=1)
        slots = [first + timedelta(minutes=30 * i) for i in range(args.bookings * 3)]
        slots = [s for s in slots if 8 <= s.astimezone(_berlin()).hour < 18][: args.bookings]

        with httpx.Client(
            base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=32)
        ) as client:

            def book(when: datetime) -> int:
                body = {
                    "start": when.isoformat(),
                    "attendee": {"name": "Bench", "email": "b@example.net"},
                }
                return client.post("/api/v1/booking-pages/bench/book", json=body).status_code

            began = time.perf_counter()
            with ThreadPoolExecutor(max_workers=16) as pool:
                codes = list(pool.map(book, slots))
            took = time.perf_counter() - began
        created = codes.count(201)
        rate = created / took
        print(
            f"bookings: {created}/{len(slots)} created in {took:.2f} s -> {rate:.0f} bookings/s "
            f"(goal 500/s: {'met' if rate >= 500 else 'NOT met'}); other answers: {sorted(set(codes) - {201})}"
        )


def _berlin():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")


if __name__ == "__main__":
    main()
