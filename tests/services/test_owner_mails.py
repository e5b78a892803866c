"""The owner's mails about a booking: the visitor's answers and notes, times in
the owner's zone and clock, a link to the booking and an .ics for the owner's
own calendar app."""

from __future__ import annotations

import re

import icalendar
import pytest
from flask import current_app

from calmesh.jobs.outbox import process_due
from calmesh.models import Booking, BookingPage, MailMessage, User
from calmesh.services import bookings
from tests.web.test_bookings import BERLIN, at, make_page

QUESTIONS = [
    {"id": "company", "label": "Company", "type": "short_text", "required": False},
    {"id": "agenda", "label": "Agenda", "type": "long_text", "required": False},
    {"id": "nda", "label": "Sign an NDA?", "type": "checkbox", "required": False},
]


@pytest.fixture
def page(alice):
    return make_page(alice, questions=QUESTIONS, requires_confirmation=True)


def owner_mails(alice) -> list[MailMessage]:
    while process_due(current_app):  # one item per booking and recipient at a time
        pass
    return list(
        MailMessage.select().where(MailMessage.to_address == alice.email).order_by(MailMessage.id)
    )


def book(app, page) -> Booking:
    with app.test_request_context():
        booking, _ = bookings.book(
            BookingPage.get_by_id(page.id),
            start=at(10),
            duration=None,
            attendee=bookings.Attendee("Vera Visitor", "vera@example.net", "Asia/Tokyo"),
            notes="Ring me first.\nThanks!",
            answers={"company": "Acme", "agenda": "Prices\nSupport", "nda": True},
        )
    return booking


def test_the_requested_mail_carries_answers_notes_a_link_and_an_ics(app, alice, page):
    booking = book(app, page)
    [mail] = owner_mails(alice)
    assert mail.subject == "[CalMesh] Booking requested: Vera Visitor"
    body = mail.body
    assert "waits for your confirmation" in body
    assert "  Company: Acme\n  Agenda: Prices\n    Support\n  Sign an NDA?: yes" in body
    assert "Notes:\n  Ring me first.\n  Thanks!" in body
    assert re.search(rf"Confirm or decline it: https?://\S+/bookings/{booking.uid}\n", body)
    local = at(10).astimezone(BERLIN)
    assert f"{local:%H:%M}" in body and "(Europe/Berlin)" in body and "(Asia/Tokyo)" in body
    calendar = icalendar.Calendar.from_ical(mail.ics)
    assert str(calendar["METHOD"]) == "PUBLISH" and mail.ics_method == "PUBLISH"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == booking.uid + bookings.UID_DOMAIN
    assert str(event["STATUS"]) == "TENTATIVE"


def test_the_owners_clock_writes_the_times(app, alice, page):
    User.update(clock="12").where(User.id == alice.id).execute()
    book(app, page)
    [mail] = owner_mails(alice)
    local = at(10).astimezone(BERLIN)
    twelve = f"{local.hour % 12 or 12}:{local:%M}{'am' if local.hour < 12 else 'pm'}"
    assert twelve in mail.body and f"{local:%H:%M}–" not in mail.body


def test_moved_and_cancelled_mails_say_what_was_and_why(app, alice, page):
    booking = book(app, page)
    with app.test_request_context():
        bookings.confirm(Booking.get_by_id(booking.id))
        moved = bookings.reschedule(Booking.get_by_id(booking.id), at(14), "Clash")
        bookings.cancel(moved, "Ill", by="visitor")
    _requested, confirmed, rescheduled, cancelled = owner_mails(alice)
    assert confirmed.subject == "[CalMesh] Booking confirmed: Vera Visitor"
    assert "Was: " in rescheduled.body and "Reason: Clash" in rescheduled.body
    assert "Reason: Ill" in cancelled.body and cancelled.ics_method == "CANCEL"
    assert "removes it from your calendar app" in cancelled.body
