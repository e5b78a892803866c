"""calmesh.services.bookings: booking a free time (once, however often the
same request is retried), the owner's and the visitor's changes with the
states each is allowed from, the signed links that open one booking only,
and the owner's search. Every change queues its mails and write-back with it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calmesh.auth import signing
from calmesh.db import utcnow
from calmesh.models import Booking, BookingChange, OutboxItem
from calmesh.services import bookings
from calmesh.services.bookings import Attendee, BookingError
from tests.services.test_webhooks import VERA, book, make_page, slot

OTTO = Attendee("Otto", "otto@example.net", "Europe/Berlin")


@pytest.fixture(autouse=True)
def request_context(app):
    with app.test_request_context():
        yield


def kinds() -> list[str]:
    return sorted(i.kind for i in OutboxItem.select())


def history(booking: Booking) -> list[tuple[str, str]]:
    return [(r.what, r.by) for r in BookingChange.of(booking)]


def test_a_free_time_is_booked_once_and_its_side_effects_queued_with_it(app, alice):
    page = make_page(alice)
    booking = book(page, 0)
    assert (booking.status, booking.start, booking.end) == (
        "accepted", slot(0), slot(0) + timedelta(minutes=30),
    )  # fmt: skip
    assert kinds() == ["booking.mail", "booking.mail", "booking.writeback"]
    assert history(booking) == [("booked", "visitor")]
    with pytest.raises(BookingError) as taken:
        bookings.book(page, start=slot(0), duration=None, attendee=OTTO)
    assert (taken.value.status, taken.value.code) == (409, "slot_taken")
    assert Booking.select().count() == 1


def test_a_time_outside_the_hours_is_refused(app, alice):
    page = make_page(alice)
    night = slot(0).replace(hour=3)
    with pytest.raises(BookingError) as refused:
        bookings.book(page, start=night, duration=None, attendee=VERA)
    assert (refused.value.status, refused.value.code) == (422, "slot_unavailable")


def test_a_retried_request_returns_the_first_booking_and_another_with_the_key_is_refused(
    app, alice
):
    page = make_page(alice)
    first, created = bookings.book(
        page, start=slot(1), duration=None, attendee=VERA, idempotency_key="k1"
    )
    again, created_again = bookings.book(
        page, start=slot(1), duration=None, attendee=VERA, idempotency_key="k1"
    )
    assert created and not created_again and again.id == first.id
    with pytest.raises(BookingError) as reused:
        bookings.book(page, start=slot(2), duration=None, attendee=VERA, idempotency_key="k1")
    assert reused.value.code == "idempotency_key_reused"
    assert Booking.select().count() == 1


def test_a_request_is_confirmed_or_declined_only_while_pending(app, alice):
    page = make_page(alice, requires_confirmation=True)
    request = book(page, 0)
    assert request.status == "pending"
    confirmed = bookings.confirm(request)
    assert (confirmed.status, confirmed.sequence) == ("accepted", 1)
    with pytest.raises(BookingError) as refused:
        bookings.confirm(confirmed)
    assert (refused.value.status, str(refused.value)) == (
        409, "an accepted booking cannot be confirmed",
    )  # fmt: skip
    declined = bookings.decline(book(page, 2), "busy")
    assert (declined.status, declined.reason) == ("declined", "busy")
    with pytest.raises(BookingError):
        bookings.cancel(declined)


def test_a_reschedule_keeps_the_uid_and_does_not_block_itself(app, alice):
    page = make_page(alice, slot_interval=15)
    booking = book(page, 0)
    book(page, 4)
    half_past = slot(0) + timedelta(minutes=15)  # overlaps only its own old time
    moved = bookings.reschedule(booking, half_past, "later", by="visitor")
    assert (moved.uid, moved.start, moved.sequence) == (booking.uid, half_past, 1)
    assert history(moved)[-1] == ("rescheduled", "visitor")
    with pytest.raises(BookingError) as taken:
        bookings.reschedule(moved, slot(4))
    assert taken.value.code == "slot_taken"
    assert Booking.get_by_id(booking.id).start == half_past


def test_a_cancelled_booking_frees_its_time(app, alice):
    page = make_page(alice)
    booking = bookings.cancel(book(page, 0), "ill", by="visitor")
    assert (booking.status, booking.reason, history(booking)[-1]) == (
        "cancelled", "ill", ("cancelled", "visitor"),
    )  # fmt: skip
    again, created = bookings.book(page, start=slot(0), duration=None, attendee=OTTO)
    assert created and again.id != booking.id


def test_a_visitors_token_opens_its_own_booking_for_its_own_purpose(app, alice):
    page = make_page(alice)
    mine, other = book(page, 0), book(page, 1)
    token = bookings.manage_token(mine)
    assert bookings.by_manage_token(mine.uid, token).id == mine.id
    with pytest.raises(signing.BadToken):
        bookings.by_manage_token(other.uid, token)
    cancel = signing.sign("booking-cancel", {"b": mine.uid})
    found, purpose = bookings.by_visitor_token(mine.uid, cancel, ("reschedule", "cancel"))
    assert (found.id, purpose) == (mine.id, "cancel")
    with pytest.raises(signing.BadToken):
        bookings.by_visitor_token(mine.uid, cancel, ("reschedule", "view"))
    Booking.delete().where(Booking.id == mine.id).execute()
    with pytest.raises(signing.BadToken, match="no longer exists"):
        bookings.by_manage_token(mine.uid, token)


def test_the_owner_finds_their_bookings_and_never_anothers(app, alice, bob):
    page, other_page = make_page(alice), make_page(alice, slug="other")
    first = book(page, 0)
    second, _ = bookings.book(other_page, start=slot(3), duration=None, attendee=OTTO)
    bookings.cancel(second)
    theirs = book(make_page(bob), 0)

    assert bookings.get_for(alice, first.uid).id == first.id
    assert bookings.get_for(alice, theirs.uid) is None
    ids = lambda query: [b.id for b in query.order_by(Booking.id)]  # noqa: E731
    assert ids(bookings.search(alice)) == [first.id, second.id]
    assert ids(bookings.search(alice, statuses=["cancelled"])) == [second.id]
    assert ids(bookings.search(alice, page_slug="intro")) == [first.id]
    assert ids(bookings.search(alice, attendee="OTTO")) == [second.id]
    assert ids(bookings.search(alice, start_after=slot(1))) == [second.id]
    assert ids(bookings.search(alice, start_before=slot(1))) == [first.id]
    assert ids(bookings.search(alice, when="past", now=utcnow())) == []
    assert ids(bookings.search(alice, when="upcoming", now=slot(3) + timedelta(hours=1))) == []


def test_booking_data_is_the_booking_as_json(app, alice):
    data = bookings.booking_data(book(make_page(alice), 0))
    assert data["host"] == {"handle": "alice", "name": "Alice"}
    assert data["duration"] == 30 and data["status"] == "accepted"
    assert data["start"].endswith("Z") and data["attendee"]["email"] == "vera@example.net"
