"""calmesh.services.booking_pages: pages found by their owner or their public
address (active ones only), the owner's listed profile, the settings checked
together, the visitor's answers checked against the questions, and the slots
and bookability of a time (an injected clock)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calmesh.models import BookingPage
from calmesh.schema import Invalid
from calmesh.services import booking_pages, users
from calmesh.services.booking_pages import PageError
from calmesh.urls import links
from tests.services.test_webhooks import book, make_page, slot


@pytest.fixture(autouse=True)
def request_context(app):
    with app.test_request_context():
        yield


QUESTIONS = [
    {"id": "topic", "label": "Topic", "type": "select", "required": True,
     "options": ["Sales", "Support"]},
    {"id": "ok", "label": "Agree", "type": "checkbox", "required": False},
]  # fmt: skip


def test_pages_are_found_by_their_owner_and_at_their_public_address(app, alice, bob):
    page = make_page(alice)
    theirs = make_page(bob)
    assert booking_pages.get_for(alice, "intro").id == page.id
    assert booking_pages.get_for(bob, "intro").id == theirs.id
    found = booking_pages.public_page("alice", "intro")
    assert found.id == page.id and found.user.handle == "alice" and found.calendar.slug == "work"
    assert [p.user.handle for p in booking_pages.public_pages_with("intro")] == ["alice", "bob"]

    BookingPage.update(active=False).where(BookingPage.id == page.id).execute()
    assert booking_pages.public_page("alice", "intro") is None
    assert booking_pages.paused_page("alice", "intro").id == page.id
    assert booking_pages.paused_page("bob", "intro") is None, "bob's is not paused"
    assert [p.user.handle for p in booking_pages.public_pages_with("intro")] == ["bob"]


def test_the_profile_lists_active_pages_only_when_the_owner_chose_it(app, alice):
    make_page(alice, title="B call")
    make_page(alice, slug="a", title="A call")
    make_page(alice, slug="off", title="Off", active=False)
    assert booking_pages.listed_pages("alice") is None
    users.set_public_profile(alice, True)
    owner, pages = booking_pages.listed_pages("alice")
    assert owner.id == alice.id and [p.title for p in pages] == ["A call", "B call"]
    assert booking_pages.listed_pages("nobody") is None


def test_a_window_needs_both_ends_in_order(app, alice):
    with pytest.raises(PageError) as refused:
        make_page(alice, window_start="2031-05-01")
    assert refused.value.field == "window_start"
    with pytest.raises(PageError) as refused:
        make_page(alice, window_start="2031-05-10", window_end="2031-05-01")
    assert refused.value.field == "window_end"
    page = make_page(alice)
    booking_pages.update(page, {"title": "Renamed"})
    assert BookingPage.get_by_id(page.id).title == "Renamed"


def test_answers_are_checked_against_the_pages_questions(app, alice):
    page = make_page(alice, questions=QUESTIONS)
    assert booking_pages.check_answers(page, {"topic": " Sales ", "ok": True}) == {
        "topic": "Sales",
        "ok": True,
    }
    with pytest.raises(Invalid) as refused:
        booking_pages.check_answers(page, {"topic": "Other", "ok": "yes", "extra": "x"})
    assert {d["field"] for d in refused.value.details} == {
        "answers.topic", "answers.ok", "answers.extra",
    }  # fmt: skip
    with pytest.raises(Invalid, match="needs an answer"):
        booking_pages.check_answers(page, {})


def test_durations_are_the_pages_own(app, alice):
    page = make_page(alice, durations=[30, 60])
    assert booking_pages.duration_for(page, None) == 30
    assert booking_pages.duration_for(page, 60) == 60
    with pytest.raises(PageError, match="one of 30, 60"):
        booking_pages.duration_for(page, 45)


def test_slots_leave_out_booked_times_and_a_booked_time_is_not_bookable(app, alice):
    page = make_page(alice)
    day_start = slot(0) - timedelta(hours=1)
    before = booking_pages.slots(page, day_start, day_start + timedelta(hours=4))
    assert slot(0) in [s.start for s in before]
    book(page, 0)
    after = booking_pages.slots(page, day_start, day_start + timedelta(hours=4))
    assert slot(0) not in [s.start for s in after] and len(after) == len(before) - 1
    assert "taken" in booking_pages.why_not_bookable(page, slot(0), 30)
    assert booking_pages.why_not_bookable(page, slot(1), 30) is None
    too_late = booking_pages.why_not_bookable(page, slot(1), 30, now=slot(1) + timedelta(1))
    assert too_late is not None


def test_the_inputs_key_changes_with_a_booking_and_the_minute(app, alice):
    page = make_page(alice)
    start, end = slot(0), slot(0) + timedelta(hours=2)
    now = slot(0) - timedelta(days=1)
    first = booking_pages.inputs_key(page, start, end, 30, now)
    assert first == booking_pages.inputs_key(page, start, end, 30, now + timedelta(seconds=20))
    assert first != booking_pages.inputs_key(page, start, end, 30, now + timedelta(minutes=1))
    book(page, 0)
    assert first != booking_pages.inputs_key(page, start, end, 30, now)


def test_the_embed_snippet_and_whether_a_calendar_has_active_pages(app, alice):
    page = make_page(alice)
    snippet = booking_pages.embed_snippet(page, "popup", links())
    assert 'data-calmesh-handle="alice"' in snippet and 'data-mode="popup"' in snippet
    assert snippet.endswith('/embed.js" defer></script>')
    assert booking_pages.has_active_pages(page.calendar)
    booking_pages.delete(page)
    assert not booking_pages.has_active_pages(page.calendar)
