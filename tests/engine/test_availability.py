"""Busy and free time, checked against hand-worked UTC instants.

The DST changes of 2026 used here (local wall times):
Europe/Berlin 03-29 02:00 CET -> 03:00 CEST, 10-25 03:00 CEST -> 02:00 CET;
America/New_York 03-08 02:00 EST -> 03:00 EDT, 11-01 02:00 EDT -> 01:00 EST;
Australia/Sydney 04-05 03:00 AEDT -> 02:00 AEST, 10-04 02:00 AEST -> 03:00 AEDT;
Asia/Kolkata stays +05:30 and UTC stays UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from calmesh.engine.availability import (
    Availability,
    BusyEvent,
    availability,
    blocking_intervals,
    is_blocking,
)
from calmesh.engine.hours import working_hours
from calmesh.engine.intervals import Interval

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
MON_TO_FRI_9_TO_5 = {weekday: [(time(9), time(17))] for weekday in range(5)}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def span(start: str, end: str) -> Interval:
    """An interval between two UTC wall times written "2026-03-02 09:00"."""
    return Interval(utc(start), utc(end))


def event(start: str, end: str, **fields) -> BusyEvent:
    """A timed event between two UTC wall times."""
    return BusyEvent(start=utc(start), end=utc(end), **fields)


def all_day(first: date, end: date | None = None, **fields) -> BusyEvent:
    """An all-day event whose start/end carry UTC midnights, as some providers send."""
    start = datetime.combine(first, time(0), tzinfo=UTC)
    return BusyEvent(
        start=start,
        end=start + timedelta(days=1),
        all_day=True,
        start_date=first,
        end_date=end,
        **fields,
    )


MONDAY = span("2026-03-02 00:00", "2026-03-03 00:00")


# --- what blocks ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "blocks"),
    [
        ({}, True),
        ({"busy": False}, False),
        ({"status": "cancelled"}, False),
        ({"status": "tentative"}, True),
    ],
)
def test_only_busy_uncancelled_events_block(fields, blocks):
    meeting = event("2026-03-02 09:00", "2026-03-02 10:00", **fields)
    assert is_blocking(meeting) is blocks
    assert blocking_intervals([meeting], "UTC") == (
        [span("2026-03-02 09:00", "2026-03-02 10:00")] if blocks else []
    )


def test_tentative_event_is_free_when_tentative_does_not_count_as_busy():
    maybe = event("2026-03-02 09:00", "2026-03-02 10:00", status="tentative")
    assert blocking_intervals([maybe], "UTC", tentative_busy=False) == []
    result = availability([maybe], MONDAY, "UTC", tentative_busy=False)
    assert result == Availability(busy=[], free=[MONDAY])


def test_event_lasting_no_time_blocks_nothing():
    assert blocking_intervals([event("2026-03-02 09:00", "2026-03-02 09:00")], "UTC") == []


def test_blocking_intervals_are_merged_across_sources():
    assert blocking_intervals(
        [
            event("2026-03-02 09:00", "2026-03-02 10:00", source_id=1),
            event("2026-03-02 09:30", "2026-03-02 11:00", source_id=2),
            event("2026-03-02 11:00", "2026-03-02 11:30", source_id="google:3"),
        ],
        "UTC",
    ) == [span("2026-03-02 09:00", "2026-03-02 11:30")]


# --- all-day events ---------------------------------------------------------

# An all-day event on each change day blocks the local day of the calendar's
# zone, whatever UTC midnights its start and end carry.
ALL_DAY_ON_A_CHANGE = [
    ("Europe/Berlin", date(2026, 3, 29), "2026-03-28 23:00", "2026-03-29 22:00", 23),
    ("Europe/Berlin", date(2026, 10, 25), "2026-10-24 22:00", "2026-10-25 23:00", 25),
    ("America/New_York", date(2026, 3, 8), "2026-03-08 05:00", "2026-03-09 04:00", 23),
    ("America/New_York", date(2026, 11, 1), "2026-11-01 04:00", "2026-11-02 05:00", 25),
    ("Australia/Sydney", date(2026, 4, 5), "2026-04-04 13:00", "2026-04-05 14:00", 25),
    ("Australia/Sydney", date(2026, 10, 4), "2026-10-03 14:00", "2026-10-04 13:00", 23),
    ("Asia/Kolkata", date(2026, 10, 25), "2026-10-24 18:30", "2026-10-25 18:30", 24),
    ("UTC", date(2026, 3, 8), "2026-03-08 00:00", "2026-03-09 00:00", 24),
]


@pytest.mark.parametrize(("zone", "day", "start", "end", "hours"), ALL_DAY_ON_A_CHANGE)
def test_all_day_event_blocks_the_whole_local_day_of_the_calendar(zone, day, start, end, hours):
    blocked = blocking_intervals([all_day(day, day + timedelta(days=1))], zone)
    assert blocked == [span(start, end)]
    assert blocked[0].duration == timedelta(hours=hours)


def test_all_day_event_on_new_york_fall_back_day_blocks_25_hours_for_a_berlin_asker():
    berlin = ZoneInfo("Europe/Berlin")
    window = Interval(datetime(2026, 11, 1, tzinfo=berlin), datetime(2026, 11, 3, tzinfo=berlin))
    result = availability([all_day(date(2026, 11, 1))], window, "America/New_York")
    assert result.busy == [span("2026-11-01 04:00", "2026-11-02 05:00")]
    assert result.free == [
        span("2026-10-31 23:00", "2026-11-01 04:00"),
        span("2026-11-02 05:00", "2026-11-02 23:00"),
    ]


def test_multi_day_all_day_event_ends_before_its_end_date():
    # Friday to Sunday in Berlin; Sunday is the short spring-forward day.
    blocked = blocking_intervals([all_day(date(2026, 3, 27), date(2026, 3, 30))], "Europe/Berlin")
    assert blocked == [span("2026-03-26 23:00", "2026-03-29 22:00")]


@pytest.mark.parametrize("end", [None, date(2026, 3, 2)])
def test_all_day_event_without_a_later_end_date_blocks_one_day(end):
    assert blocking_intervals([all_day(date(2026, 3, 2), end)], "Asia/Kolkata") == [
        span("2026-03-01 18:30", "2026-03-02 18:30")
    ]


def test_free_all_day_event_blocks_nothing():
    assert blocking_intervals([all_day(date(2026, 3, 2), busy=False)], "UTC") == []


# --- availability -----------------------------------------------------------


def test_busy_is_clipped_to_the_window_and_free_is_the_rest():
    result = availability(
        [
            event("2026-03-01 23:00", "2026-03-02 01:00"),
            event("2026-03-02 12:00", "2026-03-02 13:00"),
            event("2026-03-02 12:30", "2026-03-02 14:00"),
            event("2026-03-03 00:00", "2026-03-03 02:00"),
        ],
        MONDAY,
        "UTC",
    )
    assert result.busy == [
        span("2026-03-02 00:00", "2026-03-02 01:00"),
        span("2026-03-02 12:00", "2026-03-02 14:00"),
    ]
    assert result.free == [
        span("2026-03-02 01:00", "2026-03-02 12:00"),
        span("2026-03-02 14:00", "2026-03-03 00:00"),
    ]


def test_free_time_lies_within_working_hours():
    hours = working_hours(MON_TO_FRI_9_TO_5, "UTC", date(2026, 3, 2), date(2026, 3, 2))
    result = availability(
        [
            event("2026-03-02 08:00", "2026-03-02 10:00"),
            event("2026-03-02 20:00", "2026-03-02 21:00"),
        ],
        MONDAY,
        "UTC",
        working_hours=hours,
    )
    assert result.busy == [
        span("2026-03-02 08:00", "2026-03-02 10:00"),
        span("2026-03-02 20:00", "2026-03-02 21:00"),
    ]
    assert result.free == [span("2026-03-02 10:00", "2026-03-02 17:00")]


def test_empty_working_hours_leave_no_free_time():
    assert availability([], MONDAY, "UTC", working_hours=[]).free == []


def test_free_ranges_shorter_than_min_duration_are_dropped():
    result = availability(
        [
            event("2026-03-02 09:29", "2026-03-02 10:00"),
            event("2026-03-02 10:30", "2026-03-02 23:00"),
        ],
        span("2026-03-02 09:00", "2026-03-03 00:00"),
        "UTC",
        min_duration=timedelta(minutes=30),
    )
    # 09:00-09:29 is too short; 10:00-10:30 is exactly long enough.
    assert result.free == [
        span("2026-03-02 10:00", "2026-03-02 10:30"),
        span("2026-03-02 23:00", "2026-03-03 00:00"),
    ]


# --- the DST matrix ---------------------------------------------------------

# The owner works Monday-Friday 09:00-17:00 and has a daily 09:00-10:00 event,
# both in the owner's zone, from the Friday before a change to the Monday
# after. Expected: the events, then the free time 10:00-17:00 on Friday and
# Monday, all still at local wall times on both sides of the change.
OWNER_CASES = {
    "Europe/Berlin spring": (
        "Europe/Berlin",
        date(2026, 3, 27),
        ["2026-03-27 08:00", "2026-03-28 08:00", "2026-03-29 07:00", "2026-03-30 07:00"],
        [("2026-03-27 09:00", "2026-03-27 16:00"), ("2026-03-30 08:00", "2026-03-30 15:00")],
    ),
    "Europe/Berlin autumn": (
        "Europe/Berlin",
        date(2026, 10, 23),
        ["2026-10-23 07:00", "2026-10-24 07:00", "2026-10-25 08:00", "2026-10-26 08:00"],
        [("2026-10-23 08:00", "2026-10-23 15:00"), ("2026-10-26 09:00", "2026-10-26 16:00")],
    ),
    "America/New_York spring": (
        "America/New_York",
        date(2026, 3, 6),
        ["2026-03-06 14:00", "2026-03-07 14:00", "2026-03-08 13:00", "2026-03-09 13:00"],
        [("2026-03-06 15:00", "2026-03-06 22:00"), ("2026-03-09 14:00", "2026-03-09 21:00")],
    ),
    "America/New_York autumn": (
        "America/New_York",
        date(2026, 10, 30),
        ["2026-10-30 13:00", "2026-10-31 13:00", "2026-11-01 14:00", "2026-11-02 14:00"],
        [("2026-10-30 14:00", "2026-10-30 21:00"), ("2026-11-02 15:00", "2026-11-02 22:00")],
    ),
    "Australia/Sydney April": (
        "Australia/Sydney",
        date(2026, 4, 3),
        ["2026-04-02 22:00", "2026-04-03 22:00", "2026-04-04 23:00", "2026-04-05 23:00"],
        [("2026-04-02 23:00", "2026-04-03 06:00"), ("2026-04-06 00:00", "2026-04-06 07:00")],
    ),
    "Australia/Sydney October": (
        "Australia/Sydney",
        date(2026, 10, 2),
        ["2026-10-01 23:00", "2026-10-02 23:00", "2026-10-03 22:00", "2026-10-04 22:00"],
        [("2026-10-02 00:00", "2026-10-02 07:00"), ("2026-10-04 23:00", "2026-10-05 06:00")],
    ),
    "Asia/Kolkata": (
        "Asia/Kolkata",
        date(2026, 3, 27),
        ["2026-03-27 03:30", "2026-03-28 03:30", "2026-03-29 03:30", "2026-03-30 03:30"],
        [("2026-03-27 04:30", "2026-03-27 11:30"), ("2026-03-30 04:30", "2026-03-30 11:30")],
    ),
    "UTC": (
        "UTC",
        date(2026, 10, 30),
        ["2026-10-30 09:00", "2026-10-31 09:00", "2026-11-01 09:00", "2026-11-02 09:00"],
        [("2026-10-30 10:00", "2026-10-30 17:00"), ("2026-11-02 10:00", "2026-11-02 17:00")],
    ),
}

MATRIX = [
    pytest.param(case, asker, id=f"{case} asked from {asker}")
    for case, (owner, *_) in OWNER_CASES.items()
    for asker in ZONES
    if asker != owner
]


@pytest.mark.parametrize(("case", "asker"), MATRIX)
def test_owner_hours_and_daily_event_keep_local_time_for_an_asker_elsewhere(case, asker):
    owner, friday, event_starts, free = OWNER_CASES[case]
    owner_zone, asker_zone = ZoneInfo(owner), ZoneInfo(asker)
    monday = friday + timedelta(days=3)
    daily = [
        BusyEvent(
            start=datetime.combine(day, time(9), tzinfo=owner_zone),
            end=datetime.combine(day, time(10), tzinfo=owner_zone),
            source_id=1,
        )
        for day in (friday + timedelta(days=n) for n in range(4))
    ]
    # The asker asks for their own Wednesday to Wednesday, which holds
    # everything above whatever the two zones.
    window = Interval(
        datetime.combine(friday - timedelta(days=2), time(0), tzinfo=asker_zone),
        datetime.combine(friday + timedelta(days=5), time(0), tzinfo=asker_zone),
    )
    hours = working_hours(MON_TO_FRI_9_TO_5, owner, friday, monday)

    result = availability(daily, window, owner, working_hours=hours)

    assert result.busy == [Interval(utc(s), utc(s) + timedelta(hours=1)) for s in event_starts]
    assert result.free == [span(start, end) for start, end in free]
    assert {i.start.astimezone(owner_zone).time() for i in result.busy} == {time(9)}
    assert {i.start.astimezone(owner_zone).time() for i in result.free} == {time(10)}


# Berlin owner (09:00-17:00, daily 09:00-10:00 event) seen from New York on one
# of the asker's days: the gap between the zones is 6 hours, then 5 while only
# the US has changed, then 6 again.
@pytest.mark.parametrize(
    ("asker_day", "window", "free", "free_in_new_york"),
    [
        (
            date(2026, 3, 6),
            ("2026-03-06 05:00", "2026-03-07 05:00"),
            ("2026-03-06 09:00", "2026-03-06 16:00"),
            (time(4), time(11)),
        ),
        (
            date(2026, 3, 9),
            ("2026-03-09 04:00", "2026-03-10 04:00"),
            ("2026-03-09 09:00", "2026-03-09 16:00"),
            (time(5), time(12)),
        ),
        (
            date(2026, 3, 30),
            ("2026-03-30 04:00", "2026-03-31 04:00"),
            ("2026-03-30 08:00", "2026-03-30 15:00"),
            (time(4), time(11)),
        ),
    ],
)
def test_berlin_owner_seen_from_new_york_across_both_spring_changes(
    asker_day, window, free, free_in_new_york
):
    berlin, new_york = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
    asked = Interval(
        datetime.combine(asker_day, time(0), tzinfo=new_york),
        datetime.combine(asker_day + timedelta(days=1), time(0), tzinfo=new_york),
    )
    assert asked == span(*window)
    daily = [
        BusyEvent(
            start=datetime.combine(day, time(9), tzinfo=berlin),
            end=datetime.combine(day, time(10), tzinfo=berlin),
        )
        for day in (asker_day + timedelta(days=n) for n in range(-1, 2))
    ]
    hours = working_hours(
        MON_TO_FRI_9_TO_5,
        "Europe/Berlin",
        asker_day - timedelta(days=1),
        asker_day + timedelta(days=1),
    )

    result = availability(daily, asked, "Europe/Berlin", working_hours=hours)

    assert result.free == [span(*free)]
    shown = result.free[0]
    assert (shown.start.astimezone(new_york).time(), shown.end.astimezone(new_york).time()) == (
        free_in_new_york
    )


# --- validation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start": datetime(2026, 3, 2, 9)}, "timezone-aware"),
        ({"status": "maybe"}, "status"),
        ({"all_day": True}, "start_date"),
    ],
)
def test_malformed_busy_event_is_refused(fields, message):
    values = {"start": utc("2026-03-02 09:00"), "end": utc("2026-03-02 10:00")} | fields
    with pytest.raises(ValueError, match=message):
        BusyEvent(**values)
