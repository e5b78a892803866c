"""calmesh.effects.writeback: the one create/update/delete-at-the-provider
routine of bookings and polls, against a real Radicale: what it wrote is
remembered on the row and counts as busy at once; a provider that is down is
retried, one that refuses the owner's credentials or a calendar with nowhere
to write is given up."""

from __future__ import annotations

import pytest

from calmesh.auth import crypto
from calmesh.effects import writeback
from calmesh.effects.drafts import booking_draft, booking_uid
from calmesh.effects.outbox import GiveUp, Retry
from calmesh.models import Booking, Connection, Occurrence
from calmesh.services import calendars
from tests.effects.conftest import events_at
from tests.services.test_webhooks import book, make_page
from tests.settings import cfg


@pytest.fixture
def booking(app, alice, dav_work):
    with app.test_request_context():
        return book(make_page(alice), 0)


def stored_events(booking: Booking) -> list[Occurrence]:
    return list(Occurrence.select().where(Occurrence.uid == booking_uid(booking)))


def fresh(row: Booking) -> Booking:
    return Booking.get_by_id(row.id)


def test_a_row_is_written_remembered_updated_and_removed(app, booking, dav_work):
    calendar, url, radicale = dav_work
    writeback.write(booking, booking_draft(booking), calendar, "Europe/Berlin", cfg())
    row = fresh(booking)
    assert row.remote_href and row.remote_calendar.remote_id == url
    assert len(events_at(radicale, url)) == 1
    (stored,) = stored_events(booking)  # cached at once: counts before the next sync
    assert (stored.start, stored.end) == (booking.start, booking.end)

    row.notes = "changed"
    writeback.write(row, booking_draft(row), None, "Europe/Berlin", cfg())  # where it is
    assert fresh(booking).remote_href == row.remote_href
    assert len(events_at(radicale, url)) == 1, "updated, not written twice"

    writeback.remove(fresh(booking), cfg())
    assert fresh(booking).remote_href is None and events_at(radicale, url) == []
    assert stored_events(booking) == [], "forgotten with it"


def test_nothing_is_done_for_a_row_never_written_and_no_calendar(app, booking, dav_work):
    _calendar, url, radicale = dav_work
    writeback.write(booking, booking_draft(booking), None, "UTC", cfg())
    writeback.remove(booking, cfg())
    assert fresh(booking).remote_href is None and events_at(radicale, url) == []


def test_a_provider_that_is_down_is_retried(app, booking, dav_work):
    calendar, _url, _radicale = dav_work
    Connection.update(endpoint="http://127.0.0.1:9/").execute()
    with pytest.raises(Retry):
        writeback.write(booking, booking_draft(booking), calendar, "UTC", cfg())
    assert fresh(booking).remote_href is None


def test_refused_credentials_are_given_up(app, booking, dav_work):
    calendar, _url, radicale = dav_work
    wrong = crypto.encrypt({"username": radicale.username, "password": "wrong"})
    Connection.update(credentials=wrong).execute()
    with pytest.raises(GiveUp):
        writeback.write(booking, booking_draft(booking), calendar, "UTC", cfg())


def test_a_calendar_with_nowhere_to_write_is_given_up(app, alice, booking):
    empty = calendars.create(alice, "empty", "Empty", "UTC")
    with pytest.raises(GiveUp, match="no sources"):
        writeback.write(booking, booking_draft(booking), empty, "UTC", cfg())
