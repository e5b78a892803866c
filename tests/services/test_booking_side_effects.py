"""A booking's side effects against the real components: the event written to
a Radicale calendar (moved on reschedule, removed on cancel), and the e-mails
with their .ics received by a real SMTP server — and an outage of either only
delays them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import caldav
import icalendar
import pytest
from flask import current_app

from calmesh.jobs.outbox import process_due
from calmesh.models import Booking, BookingPage, OutboxItem
from calmesh.services import booking_pages, bookings, calendars, connections
from tests.providers import conftest as dav_fixtures
from tests.settings import cfg

# The session's Radicale (tests/providers/conftest.py), used here by name.
radicale = dav_fixtures.radicale


def next_weekday_at(hour: int) -> datetime:
    zone = ZoneInfo("Europe/Berlin")
    day = datetime.now(zone).date() + timedelta(days=3)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone)


@pytest.fixture
def setup(app, alice, radicale, smtp_server):
    app.config["CALMESH"]._values.update(smtp_server.settings())
    url = radicale.new_calendar("Bookings")
    connection = connections.create_with_credentials(
        alice,
        "caldav",
        "Radicale",
        radicale.url,
        radicale.username,
        radicale.password,
        settings=cfg(),
    )
    calendar = calendars.create(alice, "work", "Work", "Europe/Berlin")
    remote = next(c for c in connection.calendars if c.remote_id == url)
    calendars.add_source(calendar, connection.id, remote.id)
    page = booking_pages.create(
        alice,
        {
            "slug": "intro",
            "title": "Intro",
            "calendar": "work",
            "timezone": "Europe/Berlin",
            "duration": 30,
            "min_notice": 0,
        },
    )
    return {"page": page, "calendar_url": url, "smtp": smtp_server, "radicale": radicale}


def drain() -> None:
    """Deliver everything due, as the scheduler's outbox job does."""
    while process_due(current_app):
        pass


def events_at(radicale, url: str) -> list[icalendar.cal.Component]:
    with radicale.client() as client:
        calendar = caldav.Calendar(client=client, url=url)
        return [
            e
            for obj in calendar.events()
            for e in icalendar.Calendar.from_ical(obj.data).walk("VEVENT")
        ]


def invitations(smtp, to: str) -> list[icalendar.cal.Component]:
    found = []
    for received in smtp.messages:
        if to not in received.rcpt_tos:
            continue
        for part in received.message.walk():
            if part.get_content_type() == "text/calendar":
                found.append(icalendar.Calendar.from_ical(part.get_content()))
    return found


def test_booking_rescheduling_and_cancelling_reach_radicale_and_the_mailbox(app, setup):
    start = next_weekday_at(10)
    booking, _ = bookings.book(
        BookingPage.get_by_id(setup["page"].id),
        start=start,
        duration=None,
        attendee=bookings.Attendee("Vera", "vera@example.net", "America/New_York"),
    )
    drain()
    [event] = events_at(setup["radicale"], setup["calendar_url"])
    assert str(event["UID"]) == booking.uid + bookings.UID_DOMAIN
    assert event.decoded("DTSTART") == start.astimezone(UTC)
    [invite] = invitations(setup["smtp"], "vera@example.net")
    assert str(invite["METHOD"]) == "REQUEST"
    [vevent] = invite.walk("VEVENT")
    assert str(vevent["UID"]) == booking.uid + bookings.UID_DOMAIN and int(vevent["SEQUENCE"]) == 0
    owner_mail = [m for m in setup["smtp"].messages if "alice@example.org" in m.rcpt_tos]
    assert len(owner_mail) == 1

    later = start + timedelta(hours=2)
    bookings.reschedule(Booking.get_by_id(booking.id), later, "moved")
    drain()
    [event] = events_at(setup["radicale"], setup["calendar_url"])
    assert event.decoded("DTSTART") == later.astimezone(UTC)
    moved = invitations(setup["smtp"], "vera@example.net")[-1]
    assert int(moved.walk("VEVENT")[0]["SEQUENCE"]) == 1

    bookings.cancel(Booking.get_by_id(booking.id), "ill")
    drain()
    assert events_at(setup["radicale"], setup["calendar_url"]) == []
    cancelled = invitations(setup["smtp"], "vera@example.net")[-1]
    assert str(cancelled["METHOD"]) == "CANCEL"
    assert int(cancelled.walk("VEVENT")[0]["SEQUENCE"]) == 2
    assert OutboxItem.select().where(OutboxItem.status != "done").count() == 0


def test_an_smtp_outage_delays_the_mail_and_loses_nothing(app, setup):
    smtp = setup["smtp"]
    app.config["CALMESH"]._values["mail.port"] = (
        smtp.port + 1 if smtp.port < 65535 else smtp.port - 1
    )
    booking, _ = bookings.book(
        BookingPage.get_by_id(setup["page"].id),
        start=next_weekday_at(11),
        duration=None,
        attendee=bookings.Attendee("Otto", "otto@example.net", "UTC"),
    )
    drain()
    waiting = list(
        OutboxItem.select().where(
            (OutboxItem.kind == "booking.mail") & (OutboxItem.status == "pending")
        )
    )
    assert len(waiting) == 2 and all(i.attempts == 1 and i.last_error for i in waiting)
    assert Booking.get_by_id(booking.id).status == "accepted"  # the booking stands
    assert smtp.messages == []

    app.config["CALMESH"]._values["mail.port"] = smtp.port
    OutboxItem.update(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)).execute()
    drain()
    assert {r for m in smtp.messages for r in m.rcpt_tos} == {
        "otto@example.net",
        "alice@example.org",
    }


def test_a_calendar_outage_delays_the_write_back(app, setup):
    from calmesh.models import Connection

    connection = Connection.get()
    real = connection.endpoint
    Connection.update(endpoint="http://127.0.0.1:9/").execute()  # nothing listens there
    booking, _ = bookings.book(
        BookingPage.get_by_id(setup["page"].id),
        start=next_weekday_at(12),
        duration=None,
        attendee=bookings.Attendee("Pia", "pia@example.net", "UTC"),
    )
    drain()
    item = OutboxItem.get(OutboxItem.kind == "booking.writeback")
    assert item.status == "pending" and item.attempts == 1 and item.last_error
    Connection.update(endpoint=real).execute()
    OutboxItem.update(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)).execute()
    drain()
    [event] = events_at(setup["radicale"], setup["calendar_url"])
    assert str(event["UID"]) == booking.uid + bookings.UID_DOMAIN
