"""Bookings in the dashboard: the filtered list, and confirm, decline, cancel, reschedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calmesh.models import Booking
from calmesh.services import booking_pages, bookings, calendars
from calmesh.web import bookings as bookings_view
from tests.api.test_bookings import next_weekday_at
from tests.conftest import CSRF, signed_in_client
from tests.web.test_booking_pages_pages import XSS

BERLIN = ZoneInfo("Europe/Berlin")  # alice's zone: the list's times
NEW_YORK = ZoneInfo("America/New_York")  # the page's zone: its weekly hours
HTMX = {"HX-Request": "true"}


def make_page(user, slug: str = "intro", title: str = "Intro call", **settings):
    """A page on a calendar without sources: bookable Mon-Fri 09-17 New York time."""
    if calendars.get_for(user, "work") is None:
        calendars.create(user, "work", "Work", "Europe/Berlin")
    body = {"slug": slug, "title": title, "calendar": "work", "timezone": "America/New_York"}
    return booking_pages.create(
        user, booking_pages.NEW_PAGE.parse({**body, "min_notice": 60, **settings})
    )


def book(app, page, start: datetime, name: str = "Vera Visitor", email: str = "vera@example.net"):
    with app.test_request_context():
        booking, _ = bookings.book(
            page,
            start=start,
            duration=None,
            attendee=bookings.Attendee(name, email, "Asia/Tokyo"),
        )
    return booking


def status_of(booking) -> str:
    return Booking.get_by_id(booking.id).status


@pytest.fixture
def page(alice):
    return make_page(alice, requires_confirmation=True)


@pytest.fixture
def client(app, alice):
    return signed_in_client(app, alice)


def at(hour: int, days_ahead: int = 2) -> datetime:
    return next_weekday_at(hour, NEW_YORK, days_ahead)


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_list_shows_times_in_the_owners_zone(app, client, page):
    start = at(10)
    book(app, page, start)
    html = text(client.get("/bookings"))
    local = start.astimezone(BERLIN)
    assert f"{local:%H:%M}–{(local + timedelta(minutes=30)):%H:%M}" in html
    assert f"{local:%a %d %b %Y}" in html and "times in Europe/Berlin" in html
    assert "Vera Visitor" in html and "vera@example.net" in html and "Intro call" in html
    assert 'class="badge pending"' in html


def names_in(html: str) -> list[str]:
    """The attendees of the list, in the order shown."""
    found = [(html.find(f"with {n}<"), n) for n in ("Vera Visitor", "Sam Smith", "Lee Late")]
    return [n for at_, n in sorted(found) if at_ >= 0]


def test_tabs_search_and_filters(app, client, page, alice):
    other = make_page(alice, "other", "Other page")
    vera = book(app, page, at(10))
    sam = book(app, page, at(11), "Sam Smith", "sam@example.net")
    later = book(app, other, at(10, days_ahead=9), "Lee Late", "lee@example.net")
    with app.test_request_context():
        bookings.confirm(sam)

    def names(**query) -> list[str]:
        return names_in(text(client.get("/bookings", query_string=query)))

    # Upcoming first, soonest first; Unconfirmed only the pending request.
    assert names() == ["Vera Visitor", "Sam Smith", "Lee Late"]
    assert names(tab="unconfirmed") == ["Vera Visitor"]
    assert names(tab="cancelled") == [] and names(tab="past") == []
    assert names(page="other") == ["Lee Late"]
    assert names(q="SAM@EXAMPLE") == ["Sam Smith"]
    assert names(q="vera vis") == ["Vera Visitor"]
    assert names(tab="unconfirmed", q="sam") == []
    day = later.start.astimezone(BERLIN).date()
    assert names(**{"from": day.isoformat()}) == ["Lee Late"]
    assert names(to=(day - timedelta(days=1)).isoformat()) == ["Vera Visitor", "Sam Smith"]
    with app.test_request_context():
        bookings.cancel(vera, "Ill")
    assert names(tab="cancelled") == ["Vera Visitor"]
    # A bad filter is reported and ignored, not a 500.
    response = client.get("/bookings", query_string={"tab": "bogus", "from": "2030-02-31"})
    assert response.status_code == 200
    assert "Filter “tab” must be one of" in text(response) and "Sam Smith" in text(response)
    response = client.get("/bookings", query_string={"from": "0001-01-01", "to": "9999-12-31"})
    assert response.status_code == 200 and "must be between the years 1900 and 2200" in text(
        response
    )
    assert sam.uid in text(client.get("/bookings"))


def test_past_lists_the_latest_first_and_cancelled_keeps_declined(app, client, page):
    first, second = book(app, page, at(10)), book(app, page, at(11), "Sam Smith", "sam@x.net")
    declined = book(app, page, at(12), "Lee Late", "lee@example.net")
    with app.test_request_context():
        bookings.decline(declined, "Full")
    later = datetime.now(UTC) + timedelta(days=30)
    with app.test_request_context():
        past = bookings.search(page.user, statuses=["pending"], when="past", now=later)
        assert {b.uid for b in past} == {first.uid, second.uid}
    # Moved into the past (as time passes): Past shows the latest first.
    for booking, days in ((first, 3), (second, 2)):
        start = datetime.now(UTC) - timedelta(days=days)
        Booking.update(start=start, end=start + timedelta(minutes=30)).where(
            Booking.id == booking.id
        ).execute()
    assert names_in(text(client.get("/bookings?tab=past"))) == ["Sam Smith", "Vera Visitor"]
    assert names_in(text(client.get("/bookings?tab=cancelled"))) == ["Lee Late"]
    assert names_in(text(client.get("/bookings"))) == []


def test_the_menu_counts_unconfirmed_requests(app, client, page):
    assert 'class="count"' not in text(client.get("/profile"))
    vera = book(app, page, at(10))
    book(app, page, at(11), "Sam Smith", "sam@example.net")
    html = text(client.get("/profile"))
    assert '<span class="count">2<span class="visually-hidden"> unconfirmed</span>' in html
    with app.test_request_context():
        bookings.confirm(vera)
    assert '<span class="count">1<span class="visually-hidden"> unconfirmed</span>' in text(
        client.get("/profile")
    )


def test_htmx_filtering_answers_with_the_list_only(app, client, page):
    book(app, page, at(10))
    html = text(client.get("/bookings?tab=unconfirmed", headers=HTMX))
    assert "<html" not in html and 'id="bookings-list"' in html and "Vera Visitor" in html
    restore = {**HTMX, "HX-History-Restore-Request": "true"}
    assert "<html" in text(client.get("/bookings?tab=unconfirmed", headers=restore))


def test_pages_of_the_list(app, client, page, monkeypatch):
    monkeypatch.setattr(bookings_view, "PER_PAGE", 2)
    for hour, name in ((10, "Ann"), (11, "Ben"), (12, "Cy")):
        book(app, page, at(hour), name, f"{name.lower()}@example.net")
    first = text(client.get("/bookings"))
    assert "Ann" in first and "Ben" in first and "Cy" not in first and "Page 1 of 2" in first
    second = text(client.get("/bookings?p=2"))
    assert "Cy" in second and "Ann" not in second
    assert "Cy" in text(client.get("/bookings?p=99"))  # past the end: the last page


def test_confirm_with_htmx_swaps_the_row(app, client, page):
    booking = book(app, page, at(10))
    response = client.post(
        f"/bookings/{booking.uid}/confirm", data={"csrf_token": CSRF}, headers=HTMX
    )
    html = text(response)
    assert response.status_code == 200 and html.lstrip().startswith("<li")
    assert f'id="booking-{booking.uid}"' in html and 'class="badge accepted"' in html
    assert "Confirmed." in html and ">Confirm<" not in html
    assert status_of(booking) == "accepted"
    again = client.post(f"/bookings/{booking.uid}/confirm", data={"csrf_token": CSRF}, headers=HTMX)
    assert again.status_code == 200 and "cannot be confirmed" in text(again)


def test_decline_with_a_reason_without_javascript(app, client, page):
    booking = book(app, page, at(10))
    back = "/bookings?tab=unconfirmed"
    response = client.post(
        f"/bookings/{booking.uid}/decline",
        data={"csrf_token": CSRF, "reason": "Fully booked that week", "next": back},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(back)
    stored = Booking.get_by_id(booking.id)
    assert (stored.status, stored.reason) == ("declined", "Fully booked that week")
    assert "Vera Visitor: declined." in text(client.get(back))


def test_cancel_with_a_reason(app, client, page):
    booking = book(app, page, at(10))
    response = client.post(
        f"/bookings/{booking.uid}/cancel",
        data={"csrf_token": CSRF, "reason": "Ill"},
        headers=HTMX,
    )
    assert 'class="badge cancelled"' in text(response) and "Ill" in text(response)
    assert status_of(booking) == "cancelled"
    assert ">Cancel booking<" not in text(response)  # nothing left to do


def test_a_too_long_reason_is_refused(app, client, page):
    booking = book(app, page, at(10))
    response = client.post(
        f"/bookings/{booking.uid}/cancel",
        data={"csrf_token": CSRF, "reason": "x" * 2001},
        headers=HTMX,
    )
    assert "at most 2000 characters" in text(response) and status_of(booking) == "pending"


def test_reschedule_reads_the_time_in_the_owners_zone(app, client, page):
    booking = book(app, page, at(10))
    new = at(14, days_ahead=3)
    wall = new.astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        f"/bookings/{booking.uid}/reschedule",
        data={"csrf_token": CSRF, "start": wall, "reason": "Clash"},
        headers=HTMX,
    )
    assert response.status_code == 200 and "Moved." in text(response), text(response)
    stored = Booking.get_by_id(booking.id)
    assert stored.start == new.astimezone(UTC) and stored.end == stored.start + timedelta(
        minutes=30
    )
    assert (stored.uid, stored.status, stored.reason) == (booking.uid, "pending", "Clash")
    assert f'value="{wall}"' in text(response)


@pytest.mark.parametrize(
    ("wall", "message"),
    [
        ("", "give a date and a time"),
        ("tomorrow at ten", "give a date and a time"),
        ("2030-02-30T10:00", "give a date and a time"),
    ],
)
def test_reschedule_refuses_unreadable_input(app, client, page, wall, message):
    booking = book(app, page, at(10))
    response = client.post(
        f"/bookings/{booking.uid}/reschedule",
        data={"csrf_token": CSRF, "start": wall},
        headers=HTMX,
    )
    assert message in text(response)
    assert Booking.get_by_id(booking.id).start == booking.start


def test_reschedule_to_a_closed_time_shows_why(app, client, page):
    booking = book(app, page, at(10))
    saturday = at(10)
    while saturday.weekday() != 5:
        saturday += timedelta(days=1)
    wall = saturday.astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        f"/bookings/{booking.uid}/reschedule",
        data={"csrf_token": CSRF, "start": wall},
        headers=HTMX,
    )
    assert "the new time cannot be booked: outside the page" in text(response)
    assert Booking.get_by_id(booking.id).start == booking.start
    plain = client.post(
        f"/bookings/{booking.uid}/reschedule", data={"csrf_token": CSRF, "start": wall}
    )
    assert plain.status_code == 303
    assert "the new time cannot be booked" in text(client.get("/bookings"))


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "/bookings\r\nSet-Cookie: x=1", "/bookings\t//evil"]
)
def test_a_foreign_next_is_not_followed(app, client, page, target):
    booking = book(app, page, at(10))
    response = client.post(
        f"/bookings/{booking.uid}/confirm", data={"csrf_token": CSRF, "next": target}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/bookings"


def test_bob_can_neither_see_nor_change_alices_bookings(app, client, page, bob):
    booking = book(app, page, at(10))
    bobs = signed_in_client(app, bob)
    assert "Vera Visitor" not in text(bobs.get("/bookings"))
    assert bobs.get(f"/bookings/{booking.uid}").status_code == 404
    assert bobs.get(f"/bookings/{booking.uid}/event.ics").status_code == 404
    assert "Intro call" not in text(bobs.get("/bookings"))  # not even in the page filter
    for action in ("confirm", "decline", "cancel", "reschedule", "write-back/retry"):
        response = bobs.post(
            f"/bookings/{booking.uid}/{action}",
            data={"csrf_token": CSRF, "start": "2030-01-07T10:00"},
        )
        assert response.status_code == 404, action
    assert status_of(booking) == "pending"


def test_attendee_names_are_escaped(app, client, page):
    booking = book(app, page, at(10), name=XSS)
    for response in (
        client.get("/bookings"),
        client.get(f"/bookings/{booking.uid}"),
        client.post(f"/bookings/{booking.uid}/confirm", data={"csrf_token": CSRF}, headers=HTMX),
    ):
        assert XSS not in text(response) and "&lt;script&gt;alert(1)&lt;/script&gt;" in text(
            response
        )


def test_signed_out_visitors_are_sent_to_sign_in(app):
    response = app.test_client().get("/bookings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
