"""The private iCal feed: one VEVENT per stored occurrence, "busy" hiding
everything but the time, stable UIDs that do not reveal the source's."""

from __future__ import annotations

from datetime import UTC, date, datetime

import icalendar

from calmesh.engine.feed import build_feed
from calmesh.engine.recurrence import Occurrence, expand

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def occurrence(**fields) -> Occurrence:
    values = {
        "uid": "standup@example.org",
        "recurrence_id": None,
        "start": datetime(2026, 3, 30, 7, tzinfo=UTC),
        "end": datetime(2026, 3, 30, 8, tzinfo=UTC),
        "all_day": False,
        "start_date": None,
        "end_date": None,
        "busy": True,
        "status": "confirmed",
        "summary": "Standup",
        "location": "Room 4",
        "description": "Secret agenda",
        "recurring": False,
    }
    return Occurrence(**(values | fields))


def events_of(text: str) -> list[icalendar.Event]:
    return icalendar.Calendar.from_ical(text).walk("VEVENT")


def test_a_full_feed_shows_summaries_and_places_but_never_descriptions():
    text = build_feed("Work", "Europe/Berlin", [occurrence()], "full", now=NOW)

    calendar = icalendar.Calendar.from_ical(text)
    assert (str(calendar["X-WR-CALNAME"]), str(calendar["X-WR-TIMEZONE"])) == (
        "Work",
        "Europe/Berlin",
    )
    (event,) = events_of(text)
    assert (str(event["SUMMARY"]), str(event["LOCATION"])) == ("Standup", "Room 4")
    assert event["DTSTART"].dt == datetime(2026, 3, 30, 7, tzinfo=UTC)
    assert event["DTSTAMP"].dt == NOW
    assert "Secret agenda" not in text


def test_a_busy_feed_shows_only_busy_blocks():
    text = build_feed("Work", "UTC", [occurrence()], "busy", now=NOW)

    (event,) = events_of(text)
    assert str(event["SUMMARY"]) == "Busy"
    assert "LOCATION" not in event
    for secret in ("Standup", "Room 4", "standup@example.org"):
        assert secret not in text


def test_uids_are_stable_distinct_per_instance_and_hide_the_source_uid():
    first = occurrence(recurrence_id="2026-03-30T07:00:00Z", recurring=True)
    second = occurrence(recurrence_id="2026-04-06T07:00:00Z", recurring=True)
    once = build_feed("W", "UTC", [first, second], "busy", now=NOW)
    again = build_feed("W", "UTC", [first, second], "busy", now=NOW)

    uids = [str(e["UID"]) for e in events_of(once)]
    assert len(set(uids)) == 2
    assert uids == [str(e["UID"]) for e in events_of(again)]
    assert all(uid.endswith("@calmesh") for uid in uids)


def test_whole_days_free_time_and_tentative_events_keep_their_nature():
    day = occurrence(
        all_day=True,
        start_date=date(2026, 4, 3),
        end_date=date(2026, 4, 4),
        start=datetime(2026, 4, 3, tzinfo=UTC),
        end=datetime(2026, 4, 4, tzinfo=UTC),
        busy=False,
        status="tentative",
        summary="",
        location="",
    )
    (event,) = events_of(build_feed("W", "UTC", [day], "full", now=NOW))

    assert event["DTSTART"].dt == date(2026, 4, 3) and event["DTEND"].dt == date(2026, 4, 4)
    assert str(event["TRANSP"]) == "TRANSPARENT"
    assert str(event["STATUS"]) == "TENTATIVE"
    assert str(event["SUMMARY"]) == "(no title)"


def test_the_feed_expands_back_to_the_same_times():
    occurrences = [
        occurrence(),
        occurrence(
            uid="b",
            start=datetime(2026, 3, 31, 9, tzinfo=UTC),
            end=datetime(2026, 3, 31, 10, tzinfo=UTC),
        ),
    ]
    text = build_feed("W", "UTC", occurrences, "full", now=NOW)

    back = expand(text, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
    assert [(o.start, o.end) for o in back] == [(o.start, o.end) for o in occurrences]
