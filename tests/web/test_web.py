"""calmesh.web (the package): whole pages or htmx fragments from one view, the
"done; next step" flash, and the dashboard menu with its count of requests
waiting for the owner."""

from __future__ import annotations

from datetime import timedelta

from flask import get_flashed_messages

from calmesh.db import utcnow
from calmesh.web import NAV, next_step
from tests.conftest import signed_in_client
from tests.models.test_bookings import booking, page


def test_htmx_gets_the_fragment_and_a_boosted_or_plain_request_the_page(app, alice):
    client = signed_in_client(app, alice)

    plain = client.get("/bookings").get_data(as_text=True)
    fragment = client.get("/bookings", headers={"HX-Request": "true"}).get_data(as_text=True)
    boosted = client.get(
        "/bookings", headers={"HX-Request": "true", "HX-Boosted": "true"}
    ).get_data(as_text=True)
    restored = client.get(
        "/bookings", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    ).get_data(as_text=True)

    assert "<html" in plain and "<html" in boosted and "<html" in restored
    assert "<html" not in fragment and fragment.strip()


def test_the_menu_lists_every_section_and_counts_only_waiting_requests(app, alice, bob):
    intro = page(alice)
    soon = utcnow() + timedelta(days=1)
    booking(intro, status="pending", start=soon, end=soon + timedelta(minutes=30))
    booking(intro, status="pending", start=soon, end=soon + timedelta(minutes=30))
    booking(intro, status="accepted", start=soon, end=soon + timedelta(minutes=30))
    past = utcnow() - timedelta(days=1)
    booking(intro, status="pending", start=past, end=past + timedelta(minutes=30))
    booking(page(bob), status="pending", start=soon, end=soon + timedelta(minutes=30))

    html = signed_in_client(app, alice).get("/calendars").get_data(as_text=True)

    for label, _ in NAV:
        assert label in html
    assert '<span class="count">2<span class="visually-hidden"> unconfirmed</span></span>' in html
    assert "Booking pages" in html and "Mail log" in html
    theirs = signed_in_client(app, bob).get("/calendars").get_data(as_text=True)
    assert '<span class="count">1<span class="visually-hidden"> unconfirmed' in theirs


def test_a_signed_out_page_has_no_menu(app):
    html = app.test_client().get("/login").get_data(as_text=True)

    assert "Mail log" not in html and "API keys" not in html


def test_next_step_flashes_what_was_done_with_an_escaped_link(app):
    with app.test_request_context("/"):
        next_step('Created "<Intro>".', "copy its <link>", "/booking-pages?x=1&y=2")
        (flashed,) = get_flashed_messages()

    assert str(flashed) == (
        'Created &#34;&lt;Intro&gt;&#34;. <a href="/booking-pages?x=1&amp;y=2">'
        "Next: copy its &lt;link&gt;</a>"
    )
