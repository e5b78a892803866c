"""calmesh.effects.booking_writeback (kind ``booking.writeback``): the owner's
calendar at a real Radicale matches the booking as it is when the item runs:
accepted ones are written (and moved), pending ones are not, cancelled ones
are removed."""

from __future__ import annotations

from calmesh.effects import booking_writeback
from calmesh.effects.drafts import booking_uid
from calmesh.models import Booking, OutboxItem
from calmesh.services import bookings
from tests.effects.conftest import events_at
from tests.services.test_webhooks import book, make_page, slot


def writebacks() -> list[OutboxItem]:
    return list(OutboxItem.select().where(OutboxItem.kind == booking_writeback.KIND))


def test_an_accepted_booking_is_written_moved_and_removed(app, alice, dav_work, deliver_due):
    _calendar, url, radicale = dav_work
    with app.test_request_context():
        booking = book(make_page(alice), 0)
    deliver_due()
    (event,) = events_at(radicale, url)
    assert str(event["UID"]) == booking_uid(booking)
    assert event.decoded("DTSTART") == slot(0)
    assert Booking.get_by_id(booking.id).remote_href

    with app.test_request_context():
        bookings.reschedule(Booking.get_by_id(booking.id), slot(3))
    deliver_due()
    (moved,) = events_at(radicale, url)
    assert moved.decoded("DTSTART") == slot(3)

    with app.test_request_context():
        bookings.cancel(Booking.get_by_id(booking.id), "ill")
    deliver_due()
    assert events_at(radicale, url) == []
    assert Booking.get_by_id(booking.id).remote_href is None
    assert {i.status for i in writebacks()} == {"done"}


def test_a_pending_request_holds_time_here_only(app, alice, dav_work, deliver_due):
    _calendar, url, radicale = dav_work
    with app.test_request_context():
        booking = book(make_page(alice, requires_confirmation=True), 0)
    assert booking.status == "pending"
    deliver_due()
    assert events_at(radicale, url) == []


def test_a_retry_writes_the_latest_state_not_the_queued_one(app, alice, dav_work, deliver_due):
    _calendar, url, radicale = dav_work
    with app.test_request_context():
        booking = book(make_page(alice), 0)
        bookings.cancel(booking, "changed my mind")  # before the write ran
    deliver_due()
    deliver_due()
    assert events_at(radicale, url) == [], "the first item saw it cancelled: nothing written"


def test_a_write_is_queued_per_booking_in_order(app, alice):
    with app.test_request_context():
        booking = book(make_page(alice), 0)
    OutboxItem.delete().execute()
    booking_writeback.queue(booking, "delete")
    (item,) = writebacks()
    assert item.payload == {"booking": booking.uid, "action": "delete"}
    assert item.ordering_key == f"booking:{booking.uid}:writeback"
    assert item.user_id == alice.id


def test_a_booking_gone_from_the_database_is_nothing_to_do(app, alice, dav_work, deliver_due):
    _calendar, url, radicale = dav_work
    with app.test_request_context():
        booking = book(make_page(alice), 0)
    Booking.delete().where(Booking.id == booking.id).execute()
    deliver_due()
    assert [(i.status, i.last_error) for i in writebacks()] == [("done", "")]
    assert events_at(radicale, url) == []
