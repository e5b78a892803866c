"""The rules of a calendar's windows, its availability memo and a new event, on
their own (the REST answers are tested in tests/api)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from calmesh.models import RemoteCalendar
from calmesh.services import calendar_events, calendars
from calmesh.services.errors import ServiceError
from tests.factories import add_event, make_connection
from tests.settings import cfg

START = datetime(2030, 3, 4, tzinfo=UTC)


def refusal(call, *args, **kw) -> ServiceError:
    with pytest.raises(ServiceError) as exc:
        call(*args, **kw)
    assert (exc.value.status, exc.value.code) == (400, "validation_error")
    return exc.value


def test_a_window_ends_after_it_starts_and_spans_at_most_a_year():
    calendar_events.check_window(START, START + calendar_events.MAX_WINDOW)
    backwards = refusal(calendar_events.check_window, START, START)
    assert backwards.details == [{"field": "end", "message": "must be after start"}]
    too_long = refusal(calendar_events.check_window, START, START + timedelta(days=367))
    assert too_long.details == [{"field": "end", "message": "at most 366 days after start"}]


def test_availability_is_asked_for_a_day_or_a_window_never_both():
    assert calendar_events.availability_window(date(2030, 3, 4), None, None, "Asia/Tokyo") == (
        datetime(2030, 3, 3, 15, tzinfo=UTC),
        datetime(2030, 3, 4, 15, tzinfo=UTC),
    )
    both = refusal(calendar_events.availability_window, date(2030, 3, 4), START, None, "UTC")
    assert both.details is None
    neither = refusal(calendar_events.availability_window, None, START, None, "UTC")
    assert neither.details == [{"field": "date", "message": "is required without start and end"}]
    refusal(calendar_events.availability_window, None, START, START, "UTC")


def test_availability_is_kept_until_its_inputs_change(alice, monkeypatch):
    calendar = calendars.create(alice, "work", "Work", "UTC")
    connection = make_connection(alice, name="Work")
    calendars.add_source(calendar, connection.id, None)
    remote = RemoteCalendar.get(RemoteCalendar.connection == connection)
    add_event(remote, START + timedelta(hours=9), START + timedelta(hours=10), status="tentative")
    end = START + timedelta(days=1)
    first = calendar_events.availability(
        calendar_events.availability_query(calendar, START, end, 30)
    )
    assert len(first.busy) == 1
    runs = []
    real = calendars.availability_of
    monkeypatch.setattr(calendars, "availability_of", lambda *a: runs.append(1) or real(*a))
    again = calendar_events.availability_query(calendar, START, end, 30)
    assert calendar_events.availability(again) is first and runs == []
    calendar.tentative_busy = False
    calendar.save()
    changed = calendar_events.availability(
        calendar_events.availability_query(calendar, START, end, 30)
    )
    assert runs == [1] and changed.busy == []


def test_an_event_must_end_after_it_starts_before_any_provider_is_asked(alice):
    calendar = calendars.create(alice, "work", "Work", "UTC")
    refusal(calendar_events.create_event, calendar, cfg(), start=START, end=START, summary="x")
    with pytest.raises(calendars.CalendarError, match="no sources"):
        calendar_events.create_event(
            calendar, cfg(), start=START, end=START + timedelta(hours=1), summary="x"
        )
