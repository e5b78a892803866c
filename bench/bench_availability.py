"""Availability over 31 days for a calendar of 3 sources and 5,000 stored
occurrences, under `serve`, against /api/health in the same run (goal: >= 0.5)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from common import ROOT, Server, ratio_line, wrk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    with Server(workers=2) as server:
        seeded = subprocess.run(
            [sys.executable, "bench/seed.py"],
            cwd=ROOT,
            env=server.env,
            capture_output=True,
            text=True,
            check=True,
        )
        key = seeded.stdout.strip().splitlines()[-1]
        start = datetime.now(UTC).replace(microsecond=0)
        query = urlencode(
            {"start": start.isoformat(), "end": (start + timedelta(days=31)).isoformat()}
        )
        url = f"{server.url}/api/v1/calendars/work/availability?{query}"
        headers = {"Authorization": f"Bearer {key}"}
        wrk(server.url + "/api/health", seconds=2)
        wrk(url, seconds=2, headers=headers)
        baseline = wrk(server.url + "/api/health", seconds=args.seconds)
        load = wrk(url, seconds=args.seconds, headers=headers)
        print("== Availability, 31 days, 3 sources, 5,000 occurrences (serve -w 2, wrk -t2 -c16)")
        print(ratio_line("/api/health (baseline)", baseline, baseline))
        print(ratio_line("availability 31 days", load, baseline))
        print(f"goal: ratio >= 0.5 -> {'met' if load.rps / baseline.rps >= 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
