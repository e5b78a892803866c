"""Writers wait their turn: every service transaction takes the write lock up front.

On SQLite a deferred transaction that has read cannot become a writer once
another writer committed meanwhile: it fails at once with "database is
locked", whatever the busy timeout. Each path here runs while another
connection holds the write lock and then commits a write; taking the lock at
BEGIN (``BEGIN IMMEDIATE``) makes it wait and succeed instead. On PostgreSQL
the same race must succeed as well.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import current_app

from calmesh.db import db, utcnow, write_transaction
from calmesh.engine.ical import EventDraft
from calmesh.models import OutboxItem, RateCounter, RemoteCalendar, WebhookDelivery
from calmesh.providers.base import ChangeSet, RemoteObject
from calmesh.services import booking_pages, calendars, connections, sync
from calmesh.services import webhooks as webhook_service
from tests.conftest import ROOT
from tests.factories import make_connection
from tests.settings import cfg

EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20260101T000000Z
DTSTART:20260310T090000Z
DTEND:20260310T100000Z
SUMMARY:Busy
END:VEVENT
END:VCALENDAR
"""


def race(app, path: Callable[[], object]) -> list[BaseException]:
    """Run ``path`` while another connection holds the write lock, then commits."""
    held, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other_writer() -> None:
        with app.app_context(), db.connection_context(), write_transaction():
            RateCounter.insert(key=f"race:{time.monotonic_ns()}", window=0, hits=1).execute()
            held.set()
            release.wait(10)

    def writer() -> None:
        with app.app_context(), db.connection_context():
            try:
                path()
            except BaseException as exc:
                errors.append(exc)

    blocker = threading.Thread(target=other_writer)
    blocker.start()
    assert held.wait(10)
    runner = threading.Thread(target=writer)
    runner.start()
    time.sleep(0.3)  # lets the path read (a deferred one) before the other commits
    release.set()
    blocker.join(20)
    runner.join(20)
    return errors


def _add_source(user):
    calendar = calendars.create(user, "work", "Work", "UTC")
    connection = make_connection(user)
    return lambda: calendars.add_source(calendar, connection.id)


def _store_written(user):
    remote = RemoteCalendar.get(RemoteCalendar.connection == make_connection(user))
    start = datetime(2026, 3, 10, 9, tzinfo=UTC)
    draft = EventDraft(
        uid="written@test", summary="Written", start=start, end=start + timedelta(hours=1)
    )
    return lambda: calendars.store_written(remote, "/cal/written.ics", draft, "UTC", cfg())


def _apply_changes(user):
    remote = RemoteCalendar.get(RemoteCalendar.connection == make_connection(user))
    changes = ChangeSet(
        changed=[RemoteObject(href="/cal/a.ics", etag="1", ical=EVENT.format(uid="a@test"))],
        token="t1",
    )
    window = (utcnow() - timedelta(days=400), utcnow() + timedelta(days=400))
    return lambda: sync.apply_changes(remote, changes, window, "UTC", cfg())


def _redeliver(user):
    webhook, _ = webhook_service.create(
        user, "http://127.0.0.1:9/hook", ["booking.created"], settings=current_app.config["CALMESH"]
    )
    delivery = webhook_service.ping(webhook)
    OutboxItem.update(status="failed").where(OutboxItem.id == delivery.outbox_item_id).execute()
    return lambda: webhook_service.redeliver(WebhookDelivery.get_by_id(delivery.id))


def _redeliver_failed(user):
    _redeliver(user)
    webhook = WebhookDelivery.get().webhook
    return lambda: webhook_service.redeliver_failed(webhook)


def _remove_source(user):
    calendar = calendars.create(user, "home", "Home", "UTC")
    source = calendars.add_source(calendar, make_connection(user).id)
    return lambda: calendars.remove_source(calendar, source.id)


def _booking_page_update(user):
    calendars.create(user, "pages", "Pages", "UTC")
    page = booking_pages.create(
        user, {"slug": "intro", "title": "Intro", "calendar": "pages", "timezone": "UTC"}
    )
    return lambda: booking_pages.update(page, {"title": "Intro call"})


def _calendar_enabled(user):
    connection = make_connection(user, calendars=2)
    remote = RemoteCalendar.get(RemoteCalendar.connection == connection)
    return lambda: connections.set_calendar_enabled(connection, remote.id, False)


def _upsert_calendars(user):
    from calmesh.providers.base import RemoteCalendarInfo

    connection = make_connection(user, calendars=2)
    return lambda: sync.upsert_calendars(connection, [RemoteCalendarInfo("/cal/new/", "New")])


PATHS = {
    "calendars.add_source": _add_source,
    "calendars.store_written": _store_written,
    "calendars.remove_source": _remove_source,
    "sync.apply_changes": _apply_changes,
    "sync.upsert_calendars": _upsert_calendars,
    "webhooks.redeliver": _redeliver,
    "webhooks.redeliver_failed": _redeliver_failed,
    "booking_pages.update": _booking_page_update,
    "connections.set_calendar_enabled": _calendar_enabled,
}


@pytest.mark.parametrize("name", PATHS)
def test_a_writer_waits_for_another_and_succeeds(app, alice, name):
    path = PATHS[name](alice)
    assert race(app, path) == []


def test_no_service_opens_a_deferred_transaction():
    """The audit kept: services write inside write_transaction(), never db.atomic()."""
    offenders = [
        f"{path.name}:{n}"
        for path in sorted((ROOT / "calmesh" / "services").glob("*.py"))
        for n, line in enumerate(Path(path).read_text().splitlines(), 1)
        if re.search(r"\bdb\.atomic\(", line)
    ]
    assert offenders == []
