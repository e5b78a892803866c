"""calmesh.effects.booking_mail (kind ``booking.mail``): a booking change queues
an intent per recipient, rendered at delivery as the booking was at that
change, with a Message-ID fixed when queued; the visitor's copy invites
(REQUEST) or cancels (CANCEL), the owner's publishes."""

from __future__ import annotations

from datetime import timedelta

import icalendar

from calmesh import i18n
from calmesh.auth import signing
from calmesh.db import utcnow
from calmesh.effects import booking_mail
from calmesh.models import Booking, MailMessage, OutboxItem
from calmesh.services import bookings
from tests.services.test_webhooks import book, make_page, slot
from tests.settings import configure


def sent_to(smtp_server, address: str) -> list:
    return [m for m in smtp_server.messages if address in m.message["To"]]


def method_of(received) -> str:
    for part in received.message.walk():
        if part.get_content_type() == "text/calendar":
            return str(icalendar.Calendar.from_ical(part.get_payload(decode=True))["METHOD"])
    return ""


def test_booking_mails_are_queued_as_intents_with_their_own_message_ids(app, alice):
    book(make_page(alice), 0)
    queued = list(OutboxItem.select().where(OutboxItem.kind == "booking.mail"))
    assert sorted(i.payload["role"] for i in queued) == ["attendee", "owner"]
    assert {i.ordering_key.rsplit(":", 1)[1] for i in queued} == {"attendee", "owner"}
    keys = [i.payload["message_key"] for i in queued]
    assert len(set(keys)) == 2
    # Nothing is rendered on the request path: no text, no .ics, no address.
    assert not any({"body", "ics", "subject", "to"} & set(i.payload) for i in queued)


def test_a_retried_booking_mail_keeps_its_message_id(
    app, alice, smtp_server, monkeypatch, deliver_due
):
    configure(monkeypatch, app, smtp_server.settings())
    book(make_page(alice), 0)
    smtp_server.data_reply = "451 4.3.0 try again later"
    deliver_due()
    smtp_server.data_reply = None
    deliver_due(now=utcnow() + timedelta(minutes=1))

    ids = [m.message_id for m in MailMessage.select().order_by(MailMessage.id)]
    assert len(ids) == 4 and len(set(ids)) == 2  # two mails, each tried twice
    assert sorted(m.message["Message-ID"] for m in smtp_server.messages) == sorted(set(ids))


def test_a_mail_tells_of_the_booking_as_it_was_at_its_change(
    app, alice, smtp_server, monkeypatch, deliver_due
):
    configure(monkeypatch, app, smtp_server.settings())
    with app.test_request_context():
        booking = book(make_page(alice), 0)
        bookings.reschedule(booking, slot(5), "moved")
    deliver_due()
    deliver_due()  # one mail per recipient per pass: theirs stay in order
    (confirmed, moved) = sent_to(smtp_server, "vera@example.net")
    assert confirmed.message["Subject"].startswith("Confirmed")
    assert moved.message["Subject"].startswith("Moved")
    first, later = (m.message.get_body(("plain",)).get_content() for m in (confirmed, moved))
    half_hour, zone = timedelta(minutes=30), booking.attendee_timezone
    with app.test_request_context():  # English, the visitor's language
        assert i18n.span(slot(0), slot(0) + half_hour, zone) in first
        assert i18n.span(slot(5), slot(5) + half_hour, zone) in later
    assert i18n.span(slot(0), slot(0) + half_hour, zone) not in later
    assert method_of(confirmed) == method_of(moved) == "REQUEST"


def test_a_cancellation_cancels_the_visitors_event_and_the_owners(
    app, alice, smtp_server, monkeypatch, deliver_due
):
    configure(monkeypatch, app, smtp_server.settings())
    with app.test_request_context():
        booking = book(make_page(alice), 0)
    OutboxItem.delete().execute()
    with app.test_request_context():
        bookings.cancel(booking, "ill")
    deliver_due()
    (visitor,) = sent_to(smtp_server, "vera@example.net")
    (owner,) = sent_to(smtp_server, "alice@example.org")
    assert method_of(visitor) == method_of(owner) == "CANCEL"
    assert "ill" in visitor.message.get_body(("plain",)).get_content()


def test_the_owners_copy_publishes_the_event_for_their_calendar(
    app, alice, smtp_server, monkeypatch, deliver_due
):
    configure(monkeypatch, app, smtp_server.settings())
    with app.test_request_context():
        book(make_page(alice), 0)
    deliver_due()
    (owner,) = sent_to(smtp_server, "alice@example.org")
    assert method_of(owner) == "PUBLISH"


def test_a_deleted_booking_sends_nothing(app, alice, smtp_server, monkeypatch, deliver_due):
    configure(monkeypatch, app, smtp_server.settings())
    with app.test_request_context():
        booking = book(make_page(alice), 0)
    Booking.delete().where(Booking.id == booking.id).execute()
    deliver_due()
    assert smtp_server.messages == []
    assert {i.status for i in OutboxItem.select()} == {"done"}


def test_the_visitors_manage_token_names_the_booking(app, alice):
    with app.test_request_context():
        booking = book(make_page(alice), 0)
    assert signing.verify("booking-manage", booking_mail.manage_token(booking)) == {
        "b": booking.uid
    }
