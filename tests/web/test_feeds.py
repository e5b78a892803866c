"""The private iCal feed at /feeds/<token>.ics: the calendar's events of the
last 30 and next 365 days, busy-only or in full, never a description, and
nothing for a wrong, rotated or revoked token."""

from __future__ import annotations

from datetime import timedelta

import icalendar
import pytest

from calmesh.db import utcnow
from calmesh.models import RemoteCalendar
from calmesh.services import calendars
from tests.factories import add_event, make_connection


@pytest.fixture
def feed(alice):
    """alice's "work" calendar with one source and its feed token (busy mode)."""
    unified = calendars.create(alice, "work", "Work", "Europe/Berlin")
    connection = make_connection(alice)
    calendars.add_source(unified, connection.id)
    remote = RemoteCalendar.get(RemoteCalendar.connection == connection)
    unified, token = calendars.update(unified, feed_mode="busy")
    return unified, token, remote


def summaries(response) -> list[str]:
    calendar = icalendar.Calendar.from_ical(response.get_data())
    return sorted(str(event["SUMMARY"]) for event in calendar.walk("VEVENT"))


def test_the_feed_holds_the_horizons_events_busy_only(app, feed):
    _, token, remote = feed
    now = utcnow()
    add_event(remote, now + timedelta(days=1), now + timedelta(days=1, hours=1), "Dentist")
    add_event(remote, now - timedelta(days=40), now - timedelta(days=40, hours=-1), "Too old")
    add_event(remote, now + timedelta(days=400), now + timedelta(days=400, hours=1), "Too far")

    answer = app.test_client().get(f"/feeds/{token}.ics")

    assert answer.status_code == 200
    assert answer.mimetype == "text/calendar"
    assert answer.headers["Content-Disposition"] == 'inline; filename="work.ics"'
    assert answer.headers["Cache-Control"] == "private, max-age=300"
    assert summaries(answer) == ["Busy"]
    assert "Dentist" not in answer.get_data(as_text=True)


def test_a_full_feed_shows_summaries(app, feed):
    unified, token, remote = feed
    now = utcnow()
    add_event(remote, now + timedelta(days=1), now + timedelta(days=1, hours=1), "Dentist")
    calendars.update(unified, feed_mode="full")

    assert summaries(app.test_client().get(f"/feeds/{token}.ics")) == ["Dentist"]


def test_a_wrong_rotated_or_revoked_token_gets_nothing(app, feed):
    unified, token, _ = feed
    client = app.test_client()
    assert client.get("/feeds/not-the-token.ics").status_code == 404

    unified, rotated = calendars.update(unified, rotate_feed=True)
    assert client.get(f"/feeds/{token}.ics").status_code == 404
    assert client.get(f"/feeds/{rotated}.ics").status_code == 200

    calendars.update(unified, feed_mode="off")
    assert client.get(f"/feeds/{rotated}.ics").status_code == 404
