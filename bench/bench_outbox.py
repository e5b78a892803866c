"""Outbox drain rate with real receivers: an SMTP sink (tests/smtp.py), calendar
write-back to a real Radicale, and a webhook receiver (tests/webhook_receiver.py).

Each booking queues four items (two mails, one write-back, one webhook). The
baseline, measured in the same run, delivers one item after another (what the
outbox did before it had lanes: ``outbox.process_due``); then the scheduler's
way: the three lanes at once, ``outbox.concurrency`` items each. Prints items/s
of both and the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.bench_sync import free_port, seed_radicale_folder

EVERY_DAY = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def start_radicale(folder: Path) -> tuple[subprocess.Popen, str]:
    seed_radicale_folder(folder, 0)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--server-hosts", f"127.0.0.1:{port}",
         "--auth-type", "none", "--storage-filesystem-folder", str(folder),
         "--logging-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/bench/"
    for _ in range(100):
        try:
            httpx.request("PROPFIND", url, headers={"Depth": "0"})
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return process, url


def pending() -> int:
    from calmesh.models import OutboxItem

    return OutboxItem.select().where(OutboxItem.status == "pending").count()


def queue_bookings(page, first: int, count: int) -> None:
    from calmesh.services import bookings

    start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    for n in range(first, first + count):
        attendee = bookings.Attendee(f"Visitor {n}", f"v{n}@example.net", "UTC")
        bookings.book(page, start=start + timedelta(minutes=30 * n), duration=None,
                      attendee=attendee)  # fmt: skip


def drain_one_by_one() -> None:
    from calmesh.services import outbox

    while pending():
        outbox.process_due(limit=200)


def drain_in_lanes(app) -> None:
    from calmesh.db import db
    from calmesh.jobs.outbox import deliver_lane
    from calmesh.services import outbox

    def lane(name: str) -> None:
        with app.app_context(), db.connection_context():
            while deliver_lane(app, name):
                pass

    threads = [threading.Thread(target=lane, args=(name,)) for name in outbox.LANES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bookings", type=int, default=100, help="per phase (4 items each)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="calmesh-bench-outbox-"))
    radicale, url = start_radicale(tmp / "radicale")
    from tests.smtp import SmtpServer
    from tests.webhook_receiver import Receiver

    smtp = SmtpServer().start()
    receiver = Receiver()
    receiver.start()
    try:
        os.environ.update(
            CALMESH_DATA_DIR=str(tmp / "data"),
            CALMESH_LOGGING_LEVEL="WARNING",
            CALMESH_SECURITY_ALLOW_PRIVATE_ADDRESSES="true",
            CALMESH_API_PUBLIC_BOOK_PER_MINUTE="100000000",
        )
        from calmesh import create_app, db
        from calmesh.services import booking_pages, calendars, connections, sync
        from calmesh.services import webhooks as webhook_service
        from calmesh.services.users import create_user

        app = create_app(smtp.settings())
        db.migrate()
        with app.app_context(), db.db.connection_context():
            user = create_user(email="b@example.org", handle="bench", password="bench-password-1")
            connection = connections.create_with_credentials(
                user, "caldav", "Work", url, "bench", "x"
            )
            assert sync.sync_connection(connection.id).status == "ok"
            calendar = calendars.create(user, "work", "Work", "UTC")
            calendars.add_source(calendar, connection.id)
            page = booking_pages.create(user, {
                "slug": "bench", "title": "Bench", "calendar": "work", "timezone": "UTC",
                "duration": 30, "min_notice": 0, "weekly_hours": EVERY_DAY})  # fmt: skip
            _, receiver.secret = webhook_service.create(user, receiver.url, ["booking.created"])

            items = 4 * args.bookings
            results = {}
            for name, first, drain in (
                ("one after another (baseline)", 0, drain_one_by_one),
                ("three lanes, concurrent", args.bookings, lambda: drain_in_lanes(app)),
            ):
                queue_bookings(page, first, args.bookings)
                assert pending() == items, pending()
                began = time.perf_counter()
                drain()
                took = time.perf_counter() - began
                results[name] = items / took
                print(f"{name:32s} {items} items in {took:6.2f} s  {items / took:7.1f} items/s")
        baseline, lanes = results.values()
        assert len(smtp.messages) == 4 * args.bookings, len(smtp.messages)
        assert len(receiver.accepted) == 2 * args.bookings and not receiver.duplicates
        print(f"== outbox drain: {2 * args.bookings} bookings, SMTP sink + Radicale + webhook")
        print(
            f"ratio lanes/baseline: {lanes / baseline:.2f} "
            f"(concurrency {app.config['CALMESH']['outbox.concurrency']} per lane)"
        )
    finally:
        receiver.close()
        smtp.stop()
        radicale.terminate()
        radicale.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
