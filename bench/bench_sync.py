"""Sync cost: a full sync of a 5,000-event CalDAV calendar from a real Radicale,
against a plain ``caldav`` client fetching the same calendar in the same run,
then a no-change incremental sync.

Prints seconds and HTTP requests of each and two ratios: full sync ÷ plain
client (goal: at most 1.5; the sync also parses, expands and stores every
event) and incremental ÷ full (goal: at most 1/20)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//CalMesh bench//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20260101T000000Z
DTSTART:{start:%Y%m%dT%H%M%SZ}
DTEND:{end:%Y%m%dT%H%M%SZ}
SUMMARY:Event {n}
END:VEVENT
END:VCALENDAR
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_radicale_folder(root: Path, events: int) -> None:
    """Write the calendar straight into Radicale's storage (as 5,000 PUTs would)."""
    collection = root / "collection-root" / "bench" / "work"
    collection.mkdir(parents=True)
    (collection / ".Radicale.props").write_text(
        json.dumps({"tag": "VCALENDAR", "D:displayname": "Work"})
    )
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for n in range(events):
        begin = start + timedelta(hours=7 * n % (24 * 300))
        (collection / f"event-{n}.ics").write_text(
            EVENT.format(
                uid=f"event-{n}@bench", start=begin, end=begin + timedelta(minutes=45), n=n
            )
        )


def plain_fetch(url: str) -> tuple[float, int]:
    """Seconds a bare caldav client takes to fetch every event of the calendar
    (one calendar-query REPORT with the data), and how many it got."""
    import caldav

    began = time.perf_counter()
    with caldav.get_davclient(
        url=url,
        username="bench",
        password="x",
        check_config_file=False,
        environment=False,
        timeout=300,
    ) as client:
        calendar = client.calendar(url=url + "work/")
        count = len([o.data for o in calendar.get_events()])
    return time.perf_counter() - began, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="calmesh-bench-sync-"))
    seed_radicale_folder(tmp / "radicale", args.events)
    port = free_port()
    radicale = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "radicale",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--auth-type",
            "none",
            "--storage-filesystem-folder",
            str(tmp / "radicale"),
            "--logging-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/bench/"
        for _ in range(100):
            try:
                httpx.request("PROPFIND", url, headers={"Depth": "0"})
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        os.environ.update(
            CALMESH_DATA_DIR=str(tmp / "data"),
            CALMESH_LOGGING_LEVEL="WARNING",
            CALMESH_SECURITY_ALLOW_PRIVATE_ADDRESSES="true",
            # One REPORT carries the whole calendar: on a busy machine it may take longer.
            CALMESH_SYNC_TIMEOUT_SECONDS="300",
        )
        from calmesh import create_app, db
        from calmesh.services import connections, sync
        from calmesh.services.users import create_user

        app = create_app()
        db.migrate()
        with app.app_context(), db.db.connection_context():
            user = create_user(email="b@example.org", handle="bench", password="bench-password-1")
            connection = connections.create_with_credentials(
                user, "caldav", "Work", url, "bench", "x", settings=app.config["CALMESH"]
            )
            # Radicale builds its item cache on the first read of each event:
            # one untimed fetch first, so neither side pays it.
            plain_fetch(url)
            plain_s, plain_count = plain_fetch(url)
            began = time.perf_counter()
            full = sync.sync_connection(connection.id, app.config["CALMESH"])
            full_s = time.perf_counter() - began
            # The faster of two plain fetches, one before and one after: the
            # ratio is never flattered by a slow baseline.
            plain_s = min(plain_s, plain_fetch(url)[0])
            began = time.perf_counter()
            incremental = sync.sync_connection(connection.id, app.config["CALMESH"])
            incr_s = time.perf_counter() - began
        assert full.status == incremental.status == "ok", (full, incremental)
        print(f"== CalDAV sync, {args.events} events in Radicale")
        print(
            f"full sync          {full_s:8.3f} s  {full.requests:5d} requests  {full.occurrences} stored"
        )
        print(f"plain caldav fetch {plain_s:8.3f} s      1 request   {plain_count} events")
        vs_plain = full_s / plain_s
        print(
            f"ratio full sync/plain caldav fetch: {vs_plain:.2f} "
            f"(goal <= 1.5: {'met' if vs_plain <= 1.5 else 'NOT met'})"
        )
        print(
            f"incremental, none  {incr_s:8.3f} s  {incremental.requests:5d} requests  {incremental.changed} changed"
        )
        ratio = incr_s / full_s
        print(
            f"ratio incremental/full: {ratio:.4f} of the time, "
            f"{incremental.requests / max(1, full.requests):.3f} of the requests "
            f"(goal <= 0.05: {'met' if ratio <= 0.05 else 'NOT met'})"
        )
    finally:
        radicale.terminate()
        radicale.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
