"""Booking-page slots, checked against hand-worked UTC instants.

The DST changes of 2026 used throughout (local wall times):
Europe/Berlin 03-29 02:00 CET -> 03:00 CEST, 10-25 03:00 CEST -> 02:00 CET;
America/New_York 03-08 02:00 EST -> 03:00 EDT, 11-01 02:00 EDT -> 01:00 EST;
Australia/Sydney 04-05 03:00 AEDT -> 02:00 AEST, 10-04 02:00 AEST -> 03:00 AEDT;
Asia/Kolkata stays +05:30 and UTC stays UTC. 2026-03-02 is a Monday.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calmesh.engine.hours import day_bounds, working_hours
from calmesh.engine.intervals import Interval, merge
from calmesh.engine.slots import (
    BEYOND_WINDOW,
    DAILY_LIMIT,
    DURATION_NOT_OFFERED,
    IN_THE_PAST,
    NOT_A_SLOT_START,
    OUTSIDE_HOURS,
    TAKEN,
    WEEKLY_LIMIT,
    Slot,
    SlotRules,
    check_slot,
    generate_slots,
    group_by_date,
)

MON_TO_FRI_9_TO_5 = {weekday: [("09:00", "17:00")] for weekday in range(5)}
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)
MONDAY = date(2026, 3, 2)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def span(start: str, end: str) -> Interval:
    """An interval between two UTC wall times written "2026-03-02 09:00"."""
    return Interval(utc(start), utc(end))


def page(**settings_) -> SlotRules:
    """Rules in UTC, Monday-Friday 09:00-17:00, 30 minutes, no window, unless told otherwise."""
    fields = {"timezone": "UTC", "weekly_hours": MON_TO_FRI_9_TO_5, "window_days": None}
    return SlotRules(**(fields | settings_))


def starts(
    rules: SlotRules,
    first: date = MONDAY,
    last: date | None = None,
    *,
    duration: int | None = None,
    busy: list[Interval] | None = None,
    bookings: list[Interval] | None = None,
    now: datetime = LONG_AGO,
) -> list[str]:
    """The UTC starts ("2026-03-02 09:00") offered on the page's local dates `first`..`last`."""
    slots = generate_slots(
        rules,
        duration=duration or rules.durations[0],
        range_start=day_bounds(first, rules.timezone).start,
        range_end=day_bounds(last or first, rules.timezone).end,
        busy=busy or [],
        bookings=bookings or [],
        now=now,
    )
    return [slot.start.strftime("%Y-%m-%d %H:%M") for slot in slots]


def on_monday(*times: str) -> list[str]:
    return [f"2026-03-02 {hour}" for hour in times]


# --- working hours, overrides, durations, interval --------------------------


def test_slots_step_by_the_duration_through_each_range_of_a_day():
    rules = page(weekly_hours={0: [("09:00", "10:00"), ("13:00", "14:00")]})
    assert starts(rules) == on_monday("09:00", "09:30", "13:00", "13:30")


def test_slot_must_end_inside_its_range():
    rules = page(weekly_hours={0: [("09:00", "10:15")]})
    assert starts(rules) == on_monday("09:00", "09:30")


def test_touching_ranges_each_start_their_own_grid_and_no_slot_straddles_them():
    rules = page(weekly_hours={0: [("09:00", "09:45"), ("09:45", "10:30")]})
    assert starts(rules) == on_monday("09:00", "09:45")


def test_overlapping_ranges_offer_each_start_once():
    rules = page(weekly_hours={0: [("09:00", "10:00"), ("09:30", "10:30")]})
    assert starts(rules) == on_monday("09:00", "09:30", "10:00")


def test_weekday_without_hours_offers_nothing():
    assert starts(page(), date(2026, 3, 7), date(2026, 3, 8)) == []


def test_night_range_offers_slots_past_midnight_on_the_next_date():
    rules = page(weekly_hours={0: [("23:00", "01:00")]}, durations=(60,))
    assert starts(rules, MONDAY, date(2026, 3, 3)) == ["2026-03-02 23:00", "2026-03-03 00:00"]
    # Asked for Tuesday alone, the range that began on Monday still counts.
    assert starts(rules, date(2026, 3, 3)) == ["2026-03-03 00:00"]


def test_override_replaces_the_hours_of_its_date_only():
    rules = page(date_overrides={date(2026, 3, 3): [("14:00", "15:00")]})
    assert starts(rules, date(2026, 3, 3)) == ["2026-03-03 14:00", "2026-03-03 14:30"]
    assert len(starts(rules, MONDAY)) == 16
    assert len(starts(rules, date(2026, 3, 4))) == 16


def test_override_with_no_ranges_is_a_day_off():
    rules = page(date_overrides={MONDAY: []})
    assert starts(rules) == []
    assert len(starts(rules, date(2026, 3, 3))) == 16


def test_override_opens_a_day_without_weekly_hours():
    saturday = date(2026, 3, 7)
    rules = page(date_overrides={saturday: [("10:00", "11:00")]})
    assert starts(rules, saturday) == ["2026-03-07 10:00", "2026-03-07 10:30"]


def test_each_offered_duration_lays_out_its_own_slots():
    rules = page(weekly_hours={0: [("09:00", "11:00")]}, durations=(30, 60))
    assert starts(rules, duration=30) == on_monday("09:00", "09:30", "10:00", "10:30")
    assert starts(rules, duration=60) == on_monday("09:00", "10:00")


def test_duration_not_offered_is_refused():
    with pytest.raises(ValueError, match="not offered"):
        starts(page(durations=(30, 60)), duration=45)


def test_slot_interval_shorter_than_the_duration_offers_overlapping_slots():
    rules = page(weekly_hours={0: [("09:00", "11:00")]}, durations=(60,), slot_interval=15)
    assert starts(rules) == on_monday("09:00", "09:15", "09:30", "09:45", "10:00")


def test_slot_interval_longer_than_the_duration_leaves_gaps():
    rules = page(weekly_hours={0: [("09:00", "11:00")]}, slot_interval=45)
    assert starts(rules) == on_monday("09:00", "09:45", "10:30")


def test_slots_end_one_duration_after_they_start():
    rules = page(weekly_hours={0: [("09:00", "10:00")]}, durations=(20, 45))
    slots = generate_slots(
        rules,
        duration=45,
        range_start=utc("2026-03-02 00:00"),
        range_end=utc("2026-03-03 00:00"),
        busy=[],
        bookings=[],
        now=LONG_AGO,
    )
    assert slots == [Slot(utc("2026-03-02 09:00"), utc("2026-03-02 09:45"))]


def test_output_is_limited_to_slots_starting_in_the_asked_range_in_any_zone():
    berlin = ZoneInfo("Europe/Berlin")
    slots = generate_slots(
        page(),
        duration=30,
        # 09:30 to 10:30 UTC, asked in Berlin time.
        range_start=datetime(2026, 3, 2, 10, 30, tzinfo=berlin),
        range_end=datetime(2026, 3, 2, 11, 30, tzinfo=berlin),
        busy=[],
        bookings=[],
        now=LONG_AGO,
    )
    assert [slot.start for slot in slots] == [utc("2026-03-02 09:30"), utc("2026-03-02 10:00")]
    assert all(slot.start.tzinfo is UTC and slot.end.tzinfo is UTC for slot in slots)


# --- buffers, busy time and bookings ----------------------------------------

BUFFER_CASES = [
    (0, 0, ["09:00", "09:30", "11:00", "11:30"]),
    # Before a slot: kept free after the busy hour, so 11:00 goes.
    (15, 0, ["09:00", "09:30", "11:30"]),
    # After a slot: kept free before the busy hour, so 09:30 goes.
    (0, 15, ["09:00", "11:00", "11:30"]),
    (15, 15, ["09:00", "11:30"]),
    (60, 0, ["09:00", "09:30"]),
]


@pytest.mark.parametrize(("before", "after", "expected"), BUFFER_CASES)
@pytest.mark.parametrize("blocker", ["busy", "bookings"])
def test_buffers_keep_time_free_around_busy_time_and_bookings(before, after, expected, blocker):
    rules = page(weekly_hours={0: [("09:00", "12:00")]}, buffer_before=before, buffer_after=after)
    blocked = {blocker: [span("2026-03-02 10:00", "2026-03-02 11:00")]}
    assert starts(rules, **blocked) == on_monday(*expected)


def test_busy_time_touching_a_slot_does_not_take_it():
    rules = page(weekly_hours={0: [("09:00", "11:00")]})
    busy = [span("2026-03-02 09:30", "2026-03-02 10:00")]
    assert starts(rules, busy=busy) == on_monday("09:00", "10:00", "10:30")


def test_unsorted_overlapping_bookings_all_block():
    rules = page(weekly_hours={0: [("09:00", "12:00")]})
    bookings = [
        span("2026-03-02 11:00", "2026-03-02 11:30"),
        span("2026-03-02 09:00", "2026-03-02 09:30"),
        span("2026-03-02 09:15", "2026-03-02 10:00"),
    ]
    assert starts(rules, bookings=bookings) == on_monday("10:00", "10:30", "11:30")


# --- notice, the past, the window -------------------------------------------


def test_past_starts_are_never_offered():
    rules = page(weekly_hours={0: [("09:00", "11:00")]})
    assert starts(rules, now=utc("2026-03-02 09:10")) == on_monday("09:30", "10:00", "10:30")
    # A slot starting right now is still bookable.
    assert starts(rules, now=utc("2026-03-02 09:30")) == on_monday("09:30", "10:00", "10:30")


def test_min_notice_moves_the_first_start_but_not_the_grid():
    rules = page(weekly_hours={0: [("09:00", "12:00")]}, min_notice=60)
    assert starts(rules, now=utc("2026-03-02 09:10")) == on_monday("10:30", "11:00", "11:30")


def test_window_days_count_from_todays_local_date_in_the_page_zone():
    # 22:00 on Monday in New York (03:00 Tuesday in UTC): today is Monday.
    rules = page(
        timezone="America/New_York",
        window_days=1,
        weekly_hours={day: [("09:00", "10:00")] for day in range(3)},
        durations=(60,),
    )
    offered = starts(rules, MONDAY, date(2026, 3, 4), now=utc("2026-03-03 03:00"))
    assert offered == ["2026-03-03 14:00"]


def test_window_days_zero_is_today_only():
    rules = page(window_days=0, durations=(480,))
    assert starts(rules, MONDAY, date(2026, 3, 6), now=utc("2026-03-02 06:00")) == on_monday(
        "09:00"
    )


def test_window_date_range_replaces_window_days():
    rules = page(
        durations=(480,),
        window_days=0,
        window_start=date(2026, 3, 3),
        window_end=date(2026, 3, 4),
    )
    assert starts(rules, MONDAY, date(2026, 3, 6)) == ["2026-03-03 09:00", "2026-03-04 09:00"]


def test_window_date_range_may_leave_its_end_open():
    rules = page(durations=(480,), window_start=date(2026, 3, 5))
    assert starts(rules, MONDAY, date(2026, 3, 9)) == [
        "2026-03-05 09:00",
        "2026-03-06 09:00",
        "2026-03-09 09:00",
    ]


def test_window_dates_are_local_to_the_page_zone():
    # Kolkata's 4 March runs from 18:30 UTC on the 3rd; its night shift starts then.
    rules = page(
        timezone="Asia/Kolkata",
        weekly_hours={day: [("00:00", "01:00")] for day in range(7)},
        durations=(60,),
        window_start=date(2026, 3, 4),
        window_end=date(2026, 3, 4),
    )
    assert starts(rules, MONDAY, date(2026, 3, 6)) == ["2026-03-03 18:30"]


# --- limits -----------------------------------------------------------------


def test_daily_limit_closes_the_day_once_reached():
    rules = page(daily_limit=2, durations=(480,))
    one = [span("2026-03-02 07:00", "2026-03-02 07:30")]
    two = [*one, span("2026-03-02 18:00", "2026-03-02 18:30")]
    week = (MONDAY, date(2026, 3, 3))
    assert starts(rules, *week, bookings=one) == ["2026-03-02 09:00", "2026-03-03 09:00"]
    assert starts(rules, *week, bookings=two) == ["2026-03-03 09:00"]


def test_daily_limit_counts_bookings_by_the_page_zones_date():
    # 23:30 UTC on Monday is 00:30 on Tuesday in Berlin: Tuesday's booking.
    rules = page(timezone="Europe/Berlin", daily_limit=1, durations=(480,))
    late = [span("2026-03-02 23:30", "2026-03-03 00:00")]
    assert starts(rules, MONDAY, date(2026, 3, 3), bookings=late) == ["2026-03-02 08:00"]


def test_weekly_limit_closes_the_iso_week_once_reached():
    rules = page(weekly_limit=2, durations=(480,))
    monday_and_friday = [
        span("2026-03-02 07:00", "2026-03-02 07:30"),
        span("2026-03-06 18:00", "2026-03-06 18:30"),
    ]
    offered = starts(rules, MONDAY, date(2026, 3, 10), bookings=monday_and_friday)
    assert offered == ["2026-03-09 09:00", "2026-03-10 09:00"]
    offered = starts(rules, MONDAY, date(2026, 3, 3), bookings=monday_and_friday[:1])
    assert offered == ["2026-03-02 09:00", "2026-03-03 09:00"]


def test_weekly_limit_counts_a_sunday_night_booking_in_its_local_week():
    # Sunday 8 March 23:30 in Berlin is 22:30 UTC: the week of 2 March, not of 9 March.
    rules = page(timezone="Europe/Berlin", weekly_limit=1, durations=(480,))
    sunday_night = [span("2026-03-08 22:30", "2026-03-08 23:00")]
    assert starts(rules, MONDAY, date(2026, 3, 9), bookings=sunday_night) == ["2026-03-09 08:00"]


# --- the DST matrix ---------------------------------------------------------

# One 60-minute slot at 09:00 in the owner's zone every day, from the day
# before each change to the day after; each slot as (UTC start, the
# visitor's wall time). The owner's 09:00 holds, so UTC moves; the visitor
# sees it move again when their own clocks change.
DST_MATRIX = [
    # Owner Berlin, visitor New York.
    (
        "Europe/Berlin",
        "America/New_York",
        date(2026, 3, 7),
        [
            ("2026-03-07 08:00", "2026-03-07 03:00"),
            ("2026-03-08 08:00", "2026-03-08 04:00"),
            ("2026-03-09 08:00", "2026-03-09 04:00"),
        ],
    ),
    (
        "Europe/Berlin",
        "America/New_York",
        date(2026, 3, 28),
        [
            ("2026-03-28 08:00", "2026-03-28 04:00"),
            ("2026-03-29 07:00", "2026-03-29 03:00"),
            ("2026-03-30 07:00", "2026-03-30 03:00"),
        ],
    ),
    (
        "Europe/Berlin",
        "America/New_York",
        date(2026, 10, 24),
        [
            ("2026-10-24 07:00", "2026-10-24 03:00"),
            ("2026-10-25 08:00", "2026-10-25 04:00"),
            ("2026-10-26 08:00", "2026-10-26 04:00"),
        ],
    ),
    (
        "Europe/Berlin",
        "America/New_York",
        date(2026, 10, 31),
        [
            ("2026-10-31 08:00", "2026-10-31 04:00"),
            ("2026-11-01 08:00", "2026-11-01 03:00"),
            ("2026-11-02 08:00", "2026-11-02 03:00"),
        ],
    ),
    # Owner New York, visitor Berlin.
    (
        "America/New_York",
        "Europe/Berlin",
        date(2026, 3, 7),
        [
            ("2026-03-07 14:00", "2026-03-07 15:00"),
            ("2026-03-08 13:00", "2026-03-08 14:00"),
            ("2026-03-09 13:00", "2026-03-09 14:00"),
        ],
    ),
    (
        "America/New_York",
        "Europe/Berlin",
        date(2026, 3, 28),
        [
            ("2026-03-28 13:00", "2026-03-28 14:00"),
            ("2026-03-29 13:00", "2026-03-29 15:00"),
            ("2026-03-30 13:00", "2026-03-30 15:00"),
        ],
    ),
    (
        "America/New_York",
        "Europe/Berlin",
        date(2026, 10, 24),
        [
            ("2026-10-24 13:00", "2026-10-24 15:00"),
            ("2026-10-25 13:00", "2026-10-25 14:00"),
            ("2026-10-26 13:00", "2026-10-26 14:00"),
        ],
    ),
    (
        "America/New_York",
        "Europe/Berlin",
        date(2026, 10, 31),
        [
            ("2026-10-31 13:00", "2026-10-31 14:00"),
            ("2026-11-01 14:00", "2026-11-01 15:00"),
            ("2026-11-02 14:00", "2026-11-02 15:00"),
        ],
    ),
    # Owner Sydney, visitor Kolkata.
    (
        "Australia/Sydney",
        "Asia/Kolkata",
        date(2026, 4, 4),
        [
            ("2026-04-03 22:00", "2026-04-04 03:30"),
            ("2026-04-04 23:00", "2026-04-05 04:30"),
            ("2026-04-05 23:00", "2026-04-06 04:30"),
        ],
    ),
    (
        "Australia/Sydney",
        "Asia/Kolkata",
        date(2026, 10, 3),
        [
            ("2026-10-02 23:00", "2026-10-03 04:30"),
            ("2026-10-03 22:00", "2026-10-04 03:30"),
            ("2026-10-04 22:00", "2026-10-05 03:30"),
        ],
    ),
    # Owner Kolkata, visitor Sydney.
    (
        "Asia/Kolkata",
        "Australia/Sydney",
        date(2026, 4, 4),
        [
            ("2026-04-04 03:30", "2026-04-04 14:30"),
            ("2026-04-05 03:30", "2026-04-05 13:30"),
            ("2026-04-06 03:30", "2026-04-06 13:30"),
        ],
    ),
    (
        "Asia/Kolkata",
        "Australia/Sydney",
        date(2026, 10, 3),
        [
            ("2026-10-03 03:30", "2026-10-03 13:30"),
            ("2026-10-04 03:30", "2026-10-04 14:30"),
            ("2026-10-05 03:30", "2026-10-05 14:30"),
        ],
    ),
    # Owner Sydney, visitor Berlin: Sydney's Saturday 09:00 is midnight in Berlin.
    (
        "Australia/Sydney",
        "Europe/Berlin",
        date(2026, 4, 4),
        [
            ("2026-04-03 22:00", "2026-04-04 00:00"),
            ("2026-04-04 23:00", "2026-04-05 01:00"),
            ("2026-04-05 23:00", "2026-04-06 01:00"),
        ],
    ),
    # Owner Berlin, visitor Sydney: both change, in opposite seasons.
    (
        "Europe/Berlin",
        "Australia/Sydney",
        date(2026, 10, 24),
        [
            ("2026-10-24 07:00", "2026-10-24 18:00"),
            ("2026-10-25 08:00", "2026-10-25 19:00"),
            ("2026-10-26 08:00", "2026-10-26 19:00"),
        ],
    ),
]


@pytest.mark.parametrize(("owner", "visitor", "first", "expected"), DST_MATRIX)
def test_nine_oclock_stays_nine_for_the_owner_across_dst_in_both_zones(
    owner, visitor, first, expected
):
    rules = page(
        timezone=owner,
        weekly_hours={day: [("09:00", "10:00")] for day in range(7)},
        durations=(60,),
    )
    slots = generate_slots(
        rules,
        duration=60,
        range_start=day_bounds(first, owner).start,
        range_end=day_bounds(first + timedelta(days=2), owner).end,
        busy=[],
        bookings=[],
        now=LONG_AGO,
    )
    assert [slot.start for slot in slots] == [utc(start) for start, _ in expected]
    assert {slot.start.astimezone(ZoneInfo(owner)).time() for slot in slots} == {time(9)}
    seen = {
        day: [
            slot.start.astimezone(ZoneInfo(visitor)).strftime("%Y-%m-%d %H:%M")
            for slot in day_slots
        ]
        for day, day_slots in group_by_date(slots, visitor).items()
    }
    assert seen == {date.fromisoformat(wall[:10]): [wall] for _, wall in expected}


def whole_day(zone: str, day: date, *ranges: tuple[str, str]) -> list[Slot]:
    """The 30-minute slots of `ranges` on `day`, given as an override."""
    rules = page(timezone=zone, weekly_hours={}, date_overrides={day: list(ranges)})
    return generate_slots(
        rules,
        duration=30,
        range_start=day_bounds(day, zone).start - timedelta(days=1),
        range_end=day_bounds(day, zone).end + timedelta(days=1),
        busy=[],
        bookings=[],
        now=LONG_AGO,
    )


@pytest.mark.parametrize(
    ("zone", "day", "first", "last", "count"),
    [
        ("Europe/Berlin", date(2026, 10, 25), "2026-10-24 22:00", "2026-10-25 22:30", 50),
        ("America/New_York", date(2026, 11, 1), "2026-11-01 04:00", "2026-11-02 04:30", 50),
        ("Australia/Sydney", date(2026, 4, 5), "2026-04-04 13:00", "2026-04-05 13:30", 50),
        ("Europe/Berlin", date(2026, 3, 29), "2026-03-28 23:00", "2026-03-29 21:30", 46),
        ("America/New_York", date(2026, 3, 8), "2026-03-08 05:00", "2026-03-09 03:30", 46),
        ("Australia/Sydney", date(2026, 10, 4), "2026-10-03 14:00", "2026-10-04 12:30", 46),
        ("Asia/Kolkata", date(2026, 10, 25), "2026-10-24 18:30", "2026-10-25 18:00", 48),
    ],
)
def test_whole_day_offers_25_hours_on_fall_back_and_23_on_spring_forward(
    zone, day, first, last, count
):
    slots = whole_day(zone, day, ("00:00", "24:00"))
    assert (slots[0].start, slots[-1].start, len(slots)) == (utc(first), utc(last), count)


def test_fall_back_range_offers_the_repeated_hour_twice():
    slots = whole_day("Europe/Berlin", date(2026, 10, 25), ("02:00", "03:00"))
    assert [slot.start for slot in slots] == [
        utc("2026-10-25 00:00"),
        utc("2026-10-25 00:30"),
        utc("2026-10-25 01:00"),
        utc("2026-10-25 01:30"),
    ]
    walls = [
        slot.start.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M %Z") for slot in slots
    ]
    assert walls == ["02:00 CEST", "02:30 CEST", "02:00 CET", "02:30 CET"]


@pytest.mark.parametrize(
    ("zone", "day", "expected", "walls"),
    [
        (
            "Europe/Berlin",
            date(2026, 3, 29),
            ["2026-03-29 00:30", "2026-03-29 01:00"],
            ["01:30", "03:00"],
        ),
        (
            "America/New_York",
            date(2026, 3, 8),
            ["2026-03-08 06:30", "2026-03-08 07:00"],
            ["01:30", "03:00"],
        ),
        (
            "Australia/Sydney",
            date(2026, 10, 4),
            ["2026-10-03 15:30", "2026-10-03 16:00"],
            ["01:30", "03:00"],
        ),
    ],
)
def test_range_across_the_spring_gap_offers_no_nonexistent_time(zone, day, expected, walls):
    slots = whole_day(zone, day, ("01:30", "03:30"))
    assert [slot.start for slot in slots] == [utc(start) for start in expected]
    assert [slot.start.astimezone(ZoneInfo(zone)).strftime("%H:%M") for slot in slots] == walls


# --- grouping by the visitor's date -----------------------------------------


def test_grouping_follows_the_visitors_date_across_midnight():
    # 17:00-19:00 in New York on Monday 12 January is 23:00-01:00 in Berlin.
    rules = page(timezone="America/New_York", weekly_hours={0: [("17:00", "19:00")]})
    slots = generate_slots(
        rules,
        duration=30,
        range_start=utc("2026-01-12 00:00"),
        range_end=utc("2026-01-14 00:00"),
        busy=[],
        bookings=[],
        now=LONG_AGO,
    )
    in_berlin = group_by_date(slots, "Europe/Berlin")
    assert {day: [s.start for s in group] for day, group in in_berlin.items()} == {
        date(2026, 1, 12): [utc("2026-01-12 22:00"), utc("2026-01-12 22:30")],
        date(2026, 1, 13): [utc("2026-01-12 23:00"), utc("2026-01-12 23:30")],
    }
    assert list(group_by_date(slots, "America/New_York")) == [date(2026, 1, 12)]


def test_a_slot_at_2330_in_new_york_is_on_the_next_date_in_berlin():
    slot = Slot(utc("2026-01-13 04:30"), utc("2026-01-13 05:00"))
    assert list(group_by_date([slot], "America/New_York")) == [date(2026, 1, 12)]
    assert list(group_by_date([slot], "Europe/Berlin")) == [date(2026, 1, 13)]


def test_grouping_puts_dates_and_slots_in_order():
    later = Slot(utc("2026-03-03 09:00"), utc("2026-03-03 09:30"))
    early = Slot(utc("2026-03-02 10:00"), utc("2026-03-02 10:30"))
    earliest = Slot(utc("2026-03-02 09:00"), utc("2026-03-02 09:30"))
    grouped = group_by_date([later, early, earliest], "UTC")
    assert list(grouped.items()) == [(MONDAY, [earliest, early]), (date(2026, 3, 3), [later])]


# --- check_slot -------------------------------------------------------------

CHECKED = page(
    weekly_hours={day: [("09:00", "12:00")] for day in range(5)},
    durations=(30, 60),
    min_notice=120,
    window_days=14,
    daily_limit=1,
)
CHECK_BUSY = [span("2026-03-03 10:00", "2026-03-03 11:00")]
CHECK_BOOKINGS = [span("2026-03-04 09:00", "2026-03-04 09:30")]
CHECK_NOW = utc("2026-03-02 08:00")


@pytest.mark.parametrize(
    ("start", "duration", "reason"),
    [
        ("2026-03-02 10:00", 30, None),
        ("2026-03-03 09:30", 30, None),
        ("2026-03-02 10:00", 45, DURATION_NOT_OFFERED),
        ("2026-03-02 07:30", 30, IN_THE_PAST),
        ("2026-03-02 09:30", 30, "too soon: at least 120 minutes' notice"),
        ("2026-03-17 09:00", 30, BEYOND_WINDOW),
        ("2026-03-03 13:00", 30, OUTSIDE_HOURS),
        ("2026-03-03 11:45", 30, OUTSIDE_HOURS),
        ("2026-03-07 09:00", 30, OUTSIDE_HOURS),
        ("2026-03-03 09:10", 30, NOT_A_SLOT_START),
        ("2026-03-03 09:30", 60, NOT_A_SLOT_START),
        ("2026-03-04 10:00", 30, DAILY_LIMIT),
        ("2026-03-03 10:30", 30, TAKEN),
        ("2026-03-03 09:00", 60, None),
    ],
)
def test_check_slot_says_why_a_start_is_not_bookable(start, duration, reason):
    checked = check_slot(
        CHECKED,
        start=utc(start),
        duration=duration,
        busy=CHECK_BUSY,
        bookings=CHECK_BOOKINGS,
        now=CHECK_NOW,
    )
    assert checked == reason


def test_check_slot_reports_a_booking_with_its_buffer_as_taken():
    rules = page(buffer_after=15)
    booked = [span("2026-03-02 10:00", "2026-03-02 10:30")]
    reason = check_slot(
        rules, start=utc("2026-03-02 09:30"), duration=30, busy=[], bookings=booked, now=LONG_AGO
    )
    assert reason == TAKEN


def test_check_slot_reports_the_weekly_limit():
    rules = page(weekly_limit=1)
    booked = [span("2026-03-02 15:00", "2026-03-02 15:30")]
    reason = check_slot(
        rules, start=utc("2026-03-05 09:00"), duration=30, busy=[], bookings=booked, now=LONG_AGO
    )
    assert reason == WEEKLY_LIMIT


def test_check_slot_accepts_a_start_given_in_another_zone():
    start = datetime(2026, 3, 2, 4, 0, tzinfo=ZoneInfo("America/New_York"))  # 09:00 UTC
    assert check_slot(page(), start=start, duration=30, busy=[], bookings=[], now=LONG_AGO) is None


# --- refused input ----------------------------------------------------------


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        check_slot(
            page(), start=datetime(2026, 3, 2, 9), duration=30, busy=[], bookings=[], now=LONG_AGO
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_slots(
            page(),
            duration=30,
            range_start=utc("2026-03-02 00:00"),
            range_end=utc("2026-03-03 00:00"),
            busy=[],
            bookings=[],
            now=datetime(2026, 3, 1),
        )


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "unknown time zone"),
        ({"weekly_hours": {7: [("09:00", "17:00")]}}, "weekdays"),
        ({"weekly_hours": {0: [("9 am", "17:00")]}}, "format"),
        ({"weekly_hours": {0: [("24:00", "17:00")]}}, "24:00"),
        ({"date_overrides": {MONDAY: [("09:00", "25:00")]}}, "hour"),
        ({"durations": ()}, "durations"),
        ({"durations": (30, 0)}, "durations"),
        ({"slot_interval": 0}, "slot_interval"),
        ({"buffer_before": -5}, "buffer_before"),
        ({"min_notice": -1}, "min_notice"),
        ({"window_days": -1}, "window_days"),
        ({"daily_limit": 0}, "daily_limit"),
        ({"window_start": date(2026, 3, 5), "window_end": date(2026, 3, 4)}, "window_start"),
    ],
)
def test_invalid_rules_are_refused_when_made(settings_, message):
    with pytest.raises(ValueError, match=message):
        page(**settings_)


# --- properties -------------------------------------------------------------

CHANGES = [date(2026, 3, 8), date(2026, 3, 29), date(2026, 4, 5), date(2026, 10, 4)]
CHANGES += [date(2026, 10, 25), date(2026, 11, 1), date(2026, 6, 15)]
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]

wall_times = st.integers(0, 24 * 12 - 1).map(lambda fives: time(fives // 12, fives % 12 * 5))
day_hours = st.lists(st.tuples(wall_times, wall_times), max_size=3)


@st.composite
def scenarios(draw):
    """Random rules around a DST change, with busy time, bookings, a range and a now."""
    zone = draw(st.sampled_from(ZONES))
    base = draw(st.sampled_from(CHANGES)) + timedelta(days=draw(st.integers(-2, 1)))
    durations = st.lists(
        st.sampled_from([15, 20, 30, 45, 60, 90]), min_size=1, max_size=3, unique=True
    )
    window = st.one_of(
        st.builds(dict, window_days=st.none() | st.integers(0, 90)),
        st.just({"window_start": base, "window_end": base + timedelta(days=1)}),
    )
    rules = SlotRules(
        timezone=zone,
        weekly_hours=draw(st.dictionaries(st.integers(0, 6), day_hours, min_size=4)),
        date_overrides=draw(
            st.dictionaries(st.sampled_from([base, base + timedelta(days=1)]), day_hours)
        ),
        durations=tuple(draw(durations)),
        slot_interval=draw(st.none() | st.sampled_from([5, 10, 15, 25, 30, 60])),
        buffer_before=draw(st.sampled_from([0, 5, 15, 30])),
        buffer_after=draw(st.sampled_from([0, 5, 15, 30])),
        min_notice=draw(st.sampled_from([0, 30, 90, 600])),
        daily_limit=draw(st.none() | st.integers(1, 3)),
        weekly_limit=draw(st.none() | st.integers(1, 4)),
        **draw(window),
    )
    origin = day_bounds(base, zone).start - timedelta(hours=6)
    fives = st.integers(0, 4 * 24 * 12).map(lambda n: origin + timedelta(minutes=5 * n))
    lengths = st.integers(1, 36).map(lambda n: timedelta(minutes=5 * n))
    intervals = st.tuples(fives, lengths).map(lambda pair: Interval(pair[0], pair[0] + pair[1]))
    range_start = draw(fives)
    return {
        "rules": rules,
        "duration": draw(st.sampled_from(rules.durations)),
        "range_start": range_start,
        "range_end": range_start + timedelta(minutes=draw(st.integers(1, 3 * 24 * 60))),
        "busy": merge(draw(st.lists(intervals, max_size=12))),
        "bookings": draw(st.lists(intervals, max_size=4)),
        "now": origin + timedelta(minutes=draw(st.integers(-3 * 24 * 60, 24 * 60))),
    }


def reference(scenario) -> tuple[list[datetime], list[datetime]]:
    """(every grid start in the range, the bookable ones), the slow obvious way:
    each rule applied to each start, scanning every busy interval and booking."""
    rules, duration, now = scenario["rules"], scenario["duration"], scenario["now"]
    zone = ZoneInfo(rules.timezone)
    length = timedelta(minutes=duration)
    step = timedelta(minutes=rules.slot_interval or duration)
    low, high = scenario["range_start"], scenario["range_end"]
    grid: set[datetime] = set()
    day = low.astimezone(zone).date() - timedelta(days=1)
    while day <= high.astimezone(zone).date():
        for local_range in rules.date_overrides.get(day, rules.weekly_hours.get(day.weekday(), [])):
            for hours in working_hours({}, zone, day, day, {day: [local_range]}):
                start = hours.start
                while start + length <= hours.end:
                    grid.add(start)
                    start += step
        day += timedelta(days=1)
    grid = {start for start in grid if low <= start < high}

    if rules.window_start is not None or rules.window_end is not None:
        first, last = rules.window_start or date.min, rules.window_end or date.max
    elif rules.window_days is not None:
        first = now.astimezone(zone).date()
        last = first + timedelta(days=rules.window_days)
    else:
        first, last = date.min, date.max

    def local(instant: datetime) -> date:
        return instant.astimezone(zone).date()

    def week(instant: datetime) -> tuple[int, int]:
        return local(instant).isocalendar()[:2]

    def bookable(start: datetime) -> bool:
        booked = scenario["bookings"]
        guarded = Interval(
            start - timedelta(minutes=rules.buffer_before),
            start + length + timedelta(minutes=rules.buffer_after),
        )
        return (
            start >= now + timedelta(minutes=rules.min_notice)
            and first <= local(start) <= last
            and (
                rules.daily_limit is None
                or sum(local(b.start) == local(start) for b in booked) < rules.daily_limit
            )
            and (
                rules.weekly_limit is None
                or sum(week(b.start) == week(start) for b in booked) < rules.weekly_limit
            )
            and not any(guarded.overlaps(blocker) for blocker in [*scenario["busy"], *booked])
        )

    return sorted(grid), [start for start in sorted(grid) if bookable(start)]


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_generated_slots_are_sorted_free_inside_hours_and_match_a_naive_reference(scenario):
    rules, duration = scenario["rules"], scenario["duration"]
    low, high = scenario["range_start"], scenario["range_end"]
    asked = {key: scenario[key] for key in ("duration", "busy", "bookings", "now")}
    slots = generate_slots(rules, range_start=low, range_end=high, **asked)
    starts_ = [slot.start for slot in slots]
    assert starts_ == sorted(set(starts_))
    assert starts_ == reference(scenario)[1]

    dates = (low.date() - timedelta(days=2), high.date() + timedelta(days=1))
    hours = working_hours(rules.weekly_hours, rules.timezone, *dates, rules.date_overrides)
    before, after = timedelta(minutes=rules.buffer_before), timedelta(minutes=rules.buffer_after)
    for slot in slots:
        assert slot.end - slot.start == timedelta(minutes=duration)
        assert low <= slot.start < high
        assert slot.start >= scenario["now"] + timedelta(minutes=rules.min_notice)
        assert any(piece.start <= slot.start and slot.end <= piece.end for piece in hours)
        guarded = Interval(slot.start - before, slot.end + after)
        assert not any(
            guarded.overlaps(blocker) for blocker in [*scenario["busy"], *scenario["bookings"]]
        )


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.lists(st.integers(0, 3 * 24 * 12), max_size=10))
def test_check_slot_accepts_exactly_the_generated_starts(scenario, offsets):
    rules, low, high = scenario["rules"], scenario["range_start"], scenario["range_end"]
    asked = {key: scenario[key] for key in ("duration", "busy", "bookings", "now")}
    offered = {
        slot.start for slot in generate_slots(rules, range_start=low, range_end=high, **asked)
    }
    grid = reference(scenario)[0]
    # Every grid start (a sample when there are many), and a few starts anywhere in the range.
    anywhere = [low + timedelta(minutes=5 * offset) for offset in offsets]
    for probe in grid[:: max(1, len(grid) // 40)] + [start for start in anywhere if start < high]:
        reason = check_slot(rules, start=probe, **asked)
        assert (reason is None) == (probe in offered)
        # Only a start off the grid is refused for the hours or the grid.
        assert (reason in (OUTSIDE_HOURS, NOT_A_SLOT_START)) <= (probe not in grid)
        if probe not in grid:
            assert reason is not None


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.integers(1, 99))
def test_splitting_the_asked_range_does_not_change_the_slots(scenario, percent):
    # The grid belongs to the working hours, not to the range a visitor asks for.
    low, high = scenario["range_start"], scenario["range_end"]
    middle = low + (high - low) * percent / 100
    asked = {key: scenario[key] for key in ("rules", "duration", "busy", "bookings", "now")}
    whole = generate_slots(range_start=low, range_end=high, **asked)
    halves = generate_slots(range_start=low, range_end=middle, **asked) + generate_slots(
        range_start=middle, range_end=high, **asked
    )
    assert whole == halves


# --- speed ------------------------------------------------------------------


def fastest(run: Callable[[], object], repeat: int = 7) -> float:
    """The best of `repeat` timings: the least disturbed by the rest of the machine."""
    best = float("inf")
    for _ in range(repeat):
        started = clock.perf_counter()
        run()
        best = min(best, clock.perf_counter() - started)
    return best


def busy_list(first: datetime, every: timedelta, length: timedelta) -> list[Interval]:
    return [Interval(first + n * every, first + n * every + length) for n in range(5000)]


@pytest.mark.parametrize(
    "busy",
    [
        # A year of meetings, 20 minutes every 105 minutes: a few hundred in the month asked.
        busy_list(utc("2026-01-01 00:00"), timedelta(minutes=105), timedelta(minutes=20)),
        # All 5,000 inside the month asked, one minute every nine: every slot is taken.
        busy_list(utc("2026-03-01 00:00"), timedelta(minutes=9), timedelta(minutes=1)),
    ],
    ids=["spread-over-a-year", "packed-into-the-month"],
)
def test_5000_busy_intervals_hardly_slow_a_month_of_slots(busy):
    rules = page(
        timezone="Europe/Berlin", weekly_hours={day: [("09:00", "17:00")] for day in range(7)}
    )
    month = {"range_start": utc("2026-03-01 00:00"), "range_end": utc("2026-04-01 00:00")}

    def generate(blocked: list[Interval]) -> list[Slot]:
        return generate_slots(rules, duration=30, busy=blocked, bookings=[], now=LONG_AGO, **month)

    assert len(generate([])) == 31 * 16
    baseline, loaded = fastest(lambda: generate([])), fastest(lambda: generate(busy))
    assert loaded < 20 * baseline

    start = utc("2026-03-16 09:00")
    asked = {"duration": 30, "bookings": [], "now": LONG_AGO, "start": start}
    baseline = fastest(lambda: check_slot(rules, busy=[], **asked), repeat=50)
    loaded = fastest(lambda: check_slot(rules, busy=busy, **asked), repeat=50)
    assert loaded < 20 * baseline
