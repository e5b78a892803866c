"""The visitor's booking as services declare it: the book request, the slots range
rule, reading a form, and the per-worker slots memo."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calmesh.schema import Invalid
from calmesh.services import booking_pages, public_booking
from calmesh.services.errors import ServiceError
from tests.web.test_public_booking import make_page

NOW = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)  # a Monday


def test_the_form_is_the_book_requests_own_fields():
    fields = public_booking.BOOK_FORM.fields
    assert fields["name"] is public_booking.BOOK_BODY.fields["attendee"].fields["name"]
    assert fields["notes"] is public_booking.BOOK_BODY.fields["notes"]
    with pytest.raises(Invalid) as exc:
        public_booking.BOOK_FORM.parse({"name": "", "email": "nope"})
    assert {d["field"] for d in exc.value.details} == {"name", "email"}


def test_a_range_past_the_limit_or_backwards_is_refused_with_the_apis_error():
    start = NOW
    public_booking.check_slot_range(start, start + public_booking.MAX_SLOT_RANGE)
    for end in (start, start - timedelta(hours=1), start + timedelta(days=63)):
        with pytest.raises(ServiceError) as exc:
            public_booking.check_slot_range(start, end)
        assert (exc.value.status, exc.value.code) == (400, "validation_error")
        assert exc.value.details == [
            {"field": "end", "message": "must be after start, at most 62 days later"}
        ]


def test_a_start_is_read_with_an_offset_only_and_never_years_away():
    assert public_booking.read_start("2030-03-04T09:00:00+01:00", NOW) == datetime(
        2030, 3, 4, 8, 0, tzinfo=UTC
    )
    for bad in (None, "", "2030-03-04T09:00:00", "tomorrow", "2045-01-01T00:00:00Z"):
        assert public_booking.read_start(bad, NOW) is None


def test_answers_are_read_by_question_ticks_as_true_and_blanks_left_out(alice):
    page = make_page(alice)
    ids = {q["id"]: q["type"] for q in page.questions}
    form = dict({f"answers.{qid}": "  yes  " for qid in ids})
    answers = public_booking.read_answers(page, form)
    for qid, kind in ids.items():
        assert answers[qid] == (True if kind == "checkbox" else "yes")
    assert public_booking.read_answers(page, dict({"answers.unknown": "x"})) == {}


def test_free_slots_are_grouped_by_local_date_and_kept_per_key(alice, monkeypatch):
    page = make_page(alice)
    start = datetime(2030, 3, 4, tzinfo=UTC)
    query = public_booking.slot_query(page, start, start + timedelta(days=2), "Asia/Tokyo", 30, NOW)
    found = public_booking.free_slots(query)
    assert found and all(isinstance(day, date) for day in found)
    for day, slots in found.items():
        assert all(s.start.astimezone(ZoneInfo("Asia/Tokyo")).date() == day for s in slots)
    runs = []
    real = booking_pages.slots
    monkeypatch.setattr(booking_pages, "slots", lambda *a, **k: runs.append(1) or real(*a, **k))
    assert public_booking.free_slots(query) is found  # same key: from the memo
    moved = public_booking.slot_query(page, start, start + timedelta(days=3), "Asia/Tokyo", 30, NOW)
    public_booking.free_slots(moved)
    assert runs == [1]


def test_a_duration_the_page_does_not_offer_is_refused(alice):
    page = make_page(alice)
    with pytest.raises(booking_pages.PageError) as exc:
        public_booking.slot_query(page, NOW, NOW + timedelta(days=1), "UTC", 45, NOW)
    assert exc.value.field == "duration"
