"""calmesh.web.public over HTTP, the parts tests/web/test_public_booking.py
(the booking page and the visitor's changes) leaves out: the confirmation page
and the booking's .ics behind a view link, the embed script, and the owner's
public profile."""

from __future__ import annotations

import icalendar
import pytest

from calmesh.effects.visitor_mail import visitor_token
from calmesh.services import bookings, users
from tests.web import test_public_booking as shared
from tests.web.test_public_booking import berlin, book_directly, make_page, text_of

# alice's page and a visitor's browser (fixtures, used by name).
page = shared.page
visitor = shared.visitor


@pytest.fixture
def booked(app, page):
    booking, _ = book_directly(app, page, berlin(11), name="Vera Visitor", tz="America/New_York")
    return booking


def test_the_confirmation_shows_the_time_in_the_visitors_zone_and_their_links(visitor, booked):
    view = visitor_token(booked, "view")
    answer = visitor.get(f"/b/{booked.uid}/confirmed?token={view}")
    assert answer.status_code == 200
    body = text_of(answer)
    assert "America/New_York" in body and "calendar.google.com" in body
    assert f"/b/{booked.uid}/reschedule?token=" in body and f"/b/{booked.uid}/cancel?token=" in body
    assert f"/b/{booked.uid}/event.ics?token={view}" in body


def test_the_confirmation_needs_the_bookings_own_link(app, visitor, booked, page):
    other, _ = book_directly(app, page, berlin(14), name="Otto")
    for token in ("", "forged", visitor_token(other, "view"), visitor_token(booked, "cancel")):
        assert visitor.get(f"/b/{booked.uid}/confirmed?token={token}").status_code == 403


def test_the_ics_is_the_visitors_copy_and_cancelled_once_the_booking_is(app, visitor, booked):
    url = f"/b/{booked.uid}/event.ics?token={visitor_token(booked, 'view')}"
    answer = visitor.get(url)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "attachment" in answer.headers["Content-Disposition"]
    (event,) = icalendar.Calendar.from_ical(answer.data).walk("VEVENT")
    assert str(event["UID"]) == booked.uid + "@booking.calmesh"
    assert event.decoded("DTSTART") == berlin(11)
    assert "Booked with Alice via CalMesh." in str(event["DESCRIPTION"])

    with app.test_request_context():
        bookings.cancel(booked, "ill")
    (gone,) = icalendar.Calendar.from_ical(visitor.get(url).data).walk("VEVENT")
    assert str(gone["STATUS"]) == "CANCELLED"
    assert visitor.get(f"/b/{booked.uid}/event.ics?token=forged").status_code == 403


def test_the_embed_script_is_served_at_the_root(visitor):
    with visitor.get("/embed.js") as root, visitor.get("/static/embed.js") as static:
        assert root.status_code == 200 and "javascript" in root.mimetype
        assert root.data == static.data


def test_the_profile_lists_active_pages_only_when_the_owner_lists_them(app, alice, visitor, page):
    make_page(alice, slug="deep-dive", title="Deep dive")
    assert visitor.get("/alice").status_code == 404, "not listed by default"
    users.set_public_profile(alice, True)
    body = text_of(visitor.get("/alice"))
    assert page.title in body and "Deep dive" in body and "/alice/deep-dive" in body
    assert visitor.get("/nobody-here").status_code == 404
