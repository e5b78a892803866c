"""Outbox drain rate with real receivers: an SMTP sink (tests/smtp.py), calendar
write-back to a real Radicale, and a webhook receiver (tests/webhook_receiver.py).

Each booking queues four items (two mails, one write-back, one webhook). The
baseline, measured in the same run, delivers one item after another (what the
outbox did before it had lanes: ``calmesh.jobs.outbox.process_due``); then the scheduler's
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


def slow_smtp_server():
    """The SMTP sink, answering DATA after ``latency`` seconds (a server far away)."""
    import asyncio

    from tests.smtp import SmtpServer

    class SlowSmtp(SmtpServer):
        latency = 0.0

        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(self.latency)
            return await super().handle_DATA(server, session, envelope)

    return SlowSmtp().start()


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
    from calmesh.effects import delivery, outbox
    from calmesh.effects.kinds import KINDS
    from calmesh.jobs.outbox import context
    from calmesh.models import OutboxItem

    took: dict[str, float] = {}
    while pending():
        for item_id in outbox.due_items(200):
            kind = OutboxItem.get_by_id(item_id).kind
            began = time.perf_counter()
            delivery.deliver(item_id, context())
            lane = KINDS[kind].LANE
            took[lane] = took.get(lane, 0.0) + time.perf_counter() - began
    for name, seconds in took.items():
        print(f"  {name:10s} items took {seconds:6.2f} s in all")


def drain_in_lanes(app) -> None:
    from calmesh.db import db
    from calmesh.effects import outbox
    from calmesh.jobs.outbox import deliver_lane

    took: dict[str, tuple[int, float]] = {}

    def lane(name: str) -> None:
        began, count = time.perf_counter(), 0
        with app.app_context(), db.connection_context():
            while done := deliver_lane(app, name):
                count += done
        took[name] = (count, time.perf_counter() - began)

    threads = [threading.Thread(target=lane, args=(name,)) for name in outbox.LANES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, (count, seconds) in took.items():
        print(
            f"  {name:10s} lane: {count:4d} items in {seconds:6.2f} s  {count / seconds:7.1f} items/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bookings", type=int, default=50, help="per phase (4 items each)")
    parser.add_argument(
        "--latency", type=float, default=0.1, help="seconds the SMTP sink and receiver take"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="calmesh-bench-outbox-"))
    radicale, url = start_radicale(tmp / "radicale")
    from tests.webhook_receiver import Receiver

    smtp = slow_smtp_server()
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
                user, "caldav", "Work", url, "bench", "x", settings=app.config["CALMESH"]
            )
            assert sync.sync_connection(connection.id, app.config["CALMESH"]).status == "ok"
            calendar = calendars.create(user, "work", "Work", "UTC")
            calendars.add_source(calendar, connection.id)
            page = booking_pages.create(user, {
                "slug": "bench", "title": "Bench", "calendar": "work", "timezone": "UTC",
                "duration": 30, "min_notice": 0, "weekly_hours": EVERY_DAY})  # fmt: skip
            _, receiver.secret = webhook_service.create(
                user, receiver.url, ["booking.created"], settings=app.config["CALMESH"]
            )

            items = 4 * args.bookings
            first, ratios = 0, []
            for latency in (0.0, args.latency):
                smtp.latency = receiver.delay = latency
                print(f"== receivers answering after {latency * 1000:.0f} ms "
                      "(SMTP DATA, webhook; Radicale local)")  # fmt: skip
                results = []
                for name, drain in (
                    ("one after another (baseline)", drain_one_by_one),
                    ("three lanes, concurrent", lambda: drain_in_lanes(app)),
                ):
                    queue_bookings(page, first, args.bookings)
                    first += args.bookings
                    assert pending() == items, pending()
                    began = time.perf_counter()
                    drain()
                    took = time.perf_counter() - began
                    results.append(items / took)
                    print(f"{name:32s} {items} items in {took:6.2f} s  {items / took:7.1f} items/s")
                ratios.append(results[1] / results[0])
                print(f"ratio lanes/baseline: {ratios[-1]:.2f}")
        assert len(smtp.messages) == 8 * args.bookings, len(smtp.messages)
        assert len(receiver.accepted) == 4 * args.bookings and not receiver.duplicates
        print(
            f"== outbox drain, {4 * args.bookings} bookings in all: every mail and webhook once; "
            f"concurrency {app.config['CALMESH']['outbox.concurrency']} per lane"
        )
    finally:
        receiver.close()
        smtp.stop()
        radicale.terminate()
        radicale.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
