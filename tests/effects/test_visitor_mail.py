"""calmesh.effects.visitor_mail: what visitors and participants read: signed
links that each do one thing, the links and "add to calendar" lines while a
booking holds, "book another time" once it does not, and their language.
(That every text is translated in every language: tests/test_i18n.py.)"""

from __future__ import annotations

import pytest

from calmesh.auth import signing
from calmesh.effects import visitor_mail
from calmesh.models import Booking, Participant, PollOption
from calmesh.urls import links
from tests import test_i18n as i18n_tests
from tests.services.test_webhooks import book, make_page


@pytest.fixture
def booking(app, alice):
    app.config["CALMESH"]._values["server.base_url"] = "https://cal.example.org"
    with app.test_request_context():
        page = make_page(
            alice,
            location="Room 4",
            questions=[{"id": "ok", "label": "Agree", "type": "checkbox", "required": False}],
        )
        found = book(page, 0)
    Booking.update(notes="Agenda first", answers={"ok": True}).where(
        Booking.id == found.id
    ).execute()
    return Booking.get_by_id(found.id)


def test_each_link_token_does_only_its_own_thing(booking):
    for purpose in visitor_mail.LINK_PURPOSES:
        token = visitor_mail.visitor_token(booking, purpose)
        assert signing.verify(f"booking-{purpose}", token) == {"b": booking.uid}
        for other in set(visitor_mail.LINK_PURPOSES) - {purpose}:
            with pytest.raises(signing.BadToken):
                signing.verify(f"booking-{other}", token)


def test_the_visitors_links_lead_to_their_booking_and_the_page(app, booking):
    with app.test_request_context():
        mine = visitor_mail.booking_links(booking, links())
    assert mine["again"] == "https://cal.example.org/alice/intro"
    for name in ("reschedule", "cancel", "ics"):
        assert mine[name].startswith(f"https://cal.example.org/b/{booking.uid}")
        assert "token=" in mine[name]


def test_a_confirmation_tells_when_where_and_how_to_change_it(app, booking):
    with app.test_request_context():
        subject, body = visitor_mail.booking_notice(booking, "accepted", "", links())
    assert subject == "Confirmed: Intro call"
    assert body.startswith("Hello Vera Visitor,")
    assert "(America/New_York)" in body and "Where: Room 4" in body
    assert "Google Calendar: https://calendar.google.com/" in body
    assert "To reschedule: https://cal.example.org/b/" in body
    assert "To cancel: https://cal.example.org/b/" in body
    assert "Book another time" not in body and "Reason" not in body


def test_a_cancellation_gives_the_reason_and_the_page_to_book_again(app, booking):
    with app.test_request_context():
        subject, body = visitor_mail.booking_notice(booking, "cancelled", "ill", links())
    assert subject == "Cancelled: Intro call"
    assert "Reason: ill" in body
    assert "Book another time: https://cal.example.org/alice/intro" in body
    assert "To cancel" not in body and "calendar.google.com" not in body


def test_the_visitors_event_carries_their_links_only_while_it_holds(app, booking):
    with app.test_request_context():
        held = visitor_mail.visitor_draft(booking, links())
        gone = visitor_mail.visitor_draft(booking, links(), cancelled=True)
    assert held.description.splitlines()[:4] == [
        "Booked with Alice via CalMesh.",
        "",
        "Notes:",
        "Agenda first",
    ]
    assert "Agree: yes" in held.description and "Reschedule: https://" in held.description
    assert "Reschedule" not in gone.description and gone.status == "CANCELLED"


def test_the_visitors_language_is_the_one_stored_with_the_booking(app, booking):
    Booking.update(attendee_locale="de").where(Booking.id == booking.id).execute()
    with app.test_request_context():
        subject, body = visitor_mail.booking_notice(
            Booking.get_by_id(booking.id), "accepted", "", links()
        )
    assert subject == "Bestätigt: Intro call" and body.startswith("Hallo Vera Visitor,")


# A poll with two evening options in Berlin (a fixture, used by name).
poll = i18n_tests.poll


def test_a_saved_vote_lists_every_option_with_the_answer(app, poll):
    participant = Participant.create(poll=poll, name="Vera", email="v@example.org")
    first, second = PollOption.of(poll)
    subject, body = visitor_mail.vote_saved(
        poll, participant, [first, second], {first.id: "ifneedbe"}, "UTC", "https://x/p/1"
    )
    assert subject == "Your vote on “Team dinner”"
    lines = body.splitlines()
    assert any(line.endswith(": if need be") for line in lines)
    assert any(line.endswith(": no answer") for line in lines)
    assert lines[-1] == "To change it later: https://x/p/1"


def test_a_decision_invites_with_calendar_links_and_a_withdrawal_calls_it_off(app, poll):
    participant = Participant.create(poll=poll, name="Vera", email="v@example.org")
    option = PollOption.of(poll).first()
    with app.test_request_context():
        subject, body = visitor_mail.poll_invitation(
            poll, option, participant, "UTC", "REQUEST", links()
        )
        off_subject, off = visitor_mail.poll_invitation(
            poll, option, participant, "UTC", "CANCEL", links()
        )
    assert subject == "Decided: Team dinner" and "Where: Berlin" in body
    assert "calendar.google.com" in body and f"/p/{poll.public_id}" in body
    assert off_subject == "Cancelled: Team dinner" and "is called off" in off
    assert "calendar.google.com" not in off


def test_the_decided_event_speaks_the_participants_language(app, poll):
    participant = Participant.create(poll=poll, name="Vera", locale="de")
    option = PollOption.of(poll).first()
    with app.test_request_context():
        english = visitor_mail.poll_draft(poll, option)
        german = visitor_mail.poll_draft(poll, option, participant)
    assert english.description == "Decided in a CalMesh poll."
    assert german.description != english.description and german.attendees == (("Vera", ""),)
