"""calmesh.services.write_backs: where a booking's calendar write-back stands
(queued, retrying, written, removed, failed), the owner's failed ones newest
first, and Retry and Dismiss on them. The pages here are on a calendar with no
source, so every real write-back fails for good."""

from __future__ import annotations

import pytest

from calmesh.effects import outbox
from calmesh.jobs.outbox import process_due
from calmesh.models import Booking, OutboxItem
from calmesh.services import bookings, calendars, write_backs
from tests.factories import make_connection
from tests.services.test_webhooks import book, make_page, slot


@pytest.fixture(autouse=True)
def request_context(app):
    with app.test_request_context():
        yield


def state(booking: Booking) -> str:
    return write_backs.state_of(Booking.get_by_id(booking.id)).state


def newest(booking: Booking) -> OutboxItem:
    return OutboxItem.get_by_id(write_backs.state_of(booking).item_id)


def test_a_write_back_goes_from_queued_to_retrying_to_failed(app, alice):
    booking = book(make_page(alice), 0)
    assert state(booking) == "queued"
    item = newest(booking)
    assert item.ordering_key == write_backs.ordering_key(booking.uid)
    outbox.claim(item.id)
    outbox.retry(item, "calendar down", app.config["CALMESH"])
    found = write_backs.state_of(booking)
    assert (found.state, found.error) == ("retrying", "calendar down")

    process_due(now=found.at)
    found = write_backs.state_of(Booking.get_by_id(booking.id))
    assert found.state == "failed" and "no sources" in found.error
    assert found.shows_failure


def test_written_and_removed_follow_the_booking(app, alice):
    connection = make_connection(alice)
    page = make_page(alice)
    booking = book(page, 0)
    remote = connection.calendars[0]
    OutboxItem.update(status="done").execute()
    Booking.update(remote_calendar=remote, remote_href="/cal/b.ics").where(
        Booking.id == booking.id
    ).execute()  # as a finished write leaves it
    found = write_backs.state_of(Booking.get_by_id(booking.id))
    assert (found.state, found.calendar.id) == ("written", remote.id)

    bookings.cancel(Booking.get_by_id(booking.id), "ill")
    assert state(booking) == "queued", "the removal is on its way"
    OutboxItem.update(status="done").execute()
    Booking.update(remote_href=None).where(Booking.id == booking.id).execute()
    assert state(booking) == "removed"


def test_a_request_not_yet_confirmed_has_nothing_to_write(app, alice):
    booking = book(make_page(alice, requires_confirmation=True), 0)
    process_due()
    assert state(booking) == "none"


def test_failed_write_backs_are_the_owners_newest_first_and_per_calendar(app, alice, bob):
    first = book(make_page(alice), 0)
    other = calendars.create(alice, "home", "Home", "UTC")
    second = book(make_page(alice, slug="other", calendar="home"), 2)
    book(make_page(bob), 4)
    process_due()

    failed = write_backs.failed_write_backs(alice)
    assert [f.booking.id for f in failed] == [second.id, first.id]
    assert all("no sources" in f.error for f in failed)
    assert [f.booking.id for f in write_backs.failed_write_backs(alice, other.id)] == [second.id]
    assert len(write_backs.failed_write_backs(bob)) == 1


def test_dismiss_hides_a_failure_until_the_next_one(app, alice):
    booking = book(make_page(alice), 0)
    with pytest.raises(write_backs.NothingToDo):
        write_backs.dismiss(booking)
    process_due()

    write_backs.dismiss(Booking.get_by_id(booking.id))
    assert write_backs.failed_write_backs(alice) == []
    found = write_backs.state_of(Booking.get_by_id(booking.id))
    assert found.state == "failed" and not found.shows_failure

    bookings.reschedule(Booking.get_by_id(booking.id), slot(3))  # a new write-back
    process_due()
    assert [f.booking.id for f in write_backs.failed_write_backs(alice)] == [booking.id]


def test_retry_queues_a_failed_write_back_again_with_a_fresh_budget(app, alice):
    booking = book(make_page(alice), 0)
    process_due()
    failed = newest(booking)

    write_backs.retry(Booking.get_by_id(booking.id))
    assert state(booking) == "queued" and newest(booking).attempts == 0
    assert newest(booking).id == failed.id, "the same item: no second write"
    with pytest.raises(write_backs.NothingToDo):
        write_backs.retry(Booking.get_by_id(booking.id))
    process_due()
    assert [f.booking.id for f in write_backs.failed_write_backs(alice)] == [booking.id]
