"""A unified calendar's availability over REST: busy and free, by day or window."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tests.factories import add_event


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_availability_of_a_day_in_another_zone(full, work):
    # 2026-03-29: Berlin springs forward at 01:00 UTC. New York is already on EDT.
    add_event(work["work"], utc(2026, 3, 29, 13), utc(2026, 3, 29, 14), "Call")
    add_event(work["home"], utc(2026, 3, 29, 13, 30), utc(2026, 3, 29, 15), "Overlap")
    add_event(work["home"], utc(2026, 3, 29, 16), utc(2026, 3, 29, 17), "Free time", busy=False)
    add_event(
        work["home"], utc(2026, 3, 29, 18), utc(2026, 3, 29, 19), "Cancelled", status="cancelled"
    )
    body = full.get(
        "/api/v1/calendars/work/availability?date=2026-03-29&tz=America/New_York"
    ).get_json()
    assert body["start"] == "2026-03-29T04:00:00Z" and body["end"] == "2026-03-30T04:00:00Z"
    assert [(b["start"], b["end"]) for b in body["busy"]] == [
        ("2026-03-29T13:00:00Z", "2026-03-29T15:00:00Z")
    ]
    assert body["busy"][0]["start_local"] == "2026-03-29T09:00:00-04:00"
    assert [(f["start"], f["end"]) for f in body["free"]] == [
        ("2026-03-29T04:00:00Z", "2026-03-29T13:00:00Z"),
        ("2026-03-29T15:00:00Z", "2026-03-30T04:00:00Z"),
    ]


def test_availability_all_day_event_blocks_the_calendars_whole_day(full, work):
    # The spring-forward day in Berlin is 23 hours long: 2026-03-28T23:00Z to 2026-03-29T22:00Z.
    add_event(work["work"], date(2026, 3, 29), date(2026, 3, 30), "Holiday")
    body = full.get(
        "/api/v1/calendars/work/availability?start=2026-03-28T12:00:00Z&end=2026-03-30T12:00:00Z"
    ).get_json()
    assert [(b["start"], b["end"]) for b in body["busy"]] == [
        ("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z")
    ]


def test_availability_duration_drops_short_gaps(full, work):
    add_event(work["work"], utc(2026, 3, 2, 9), utc(2026, 3, 2, 10))
    add_event(work["work"], utc(2026, 3, 2, 10, 20), utc(2026, 3, 2, 11))
    url = "/api/v1/calendars/work/availability?start=2026-03-02T09:00:00Z&end=2026-03-02T12:00:00Z&duration=30"
    assert [(f["start"], f["end"]) for f in full.get(url).get_json()["free"]] == [
        ("2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z")
    ]


def test_availability_needs_a_day_or_a_window(full, work):
    assert full.get("/api/v1/calendars/work/availability").status_code == 400
    assert full.get("/api/v1/calendars/work/availability?date=2026-02-30").status_code == 400
    assert (
        full.get("/api/v1/calendars/work/availability?date=2026-03-01&tz=Mars/Olympus").status_code
        == 400
    )


def test_tentative_blocks_unless_the_calendar_says_otherwise(full, work):
    add_event(work["work"], utc(2026, 3, 2, 9), utc(2026, 3, 2, 10), status="tentative")
    url = "/api/v1/calendars/work/availability?start=2026-03-02T08:00:00Z&end=2026-03-02T11:00:00Z"
    assert len(full.get(url).get_json()["busy"]) == 1
    full.patch("/api/v1/calendars/work", json={"tentative_busy": False})
    assert full.get(url).get_json()["busy"] == []
