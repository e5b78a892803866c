"""Working hours and local days, checked against hand-worked UTC instants.

The DST changes of 2026 used throughout (local wall times):
Europe/Berlin 03-29 02:00 CET -> 03:00 CEST, 10-25 03:00 CEST -> 02:00 CET;
America/New_York 03-08 02:00 EST -> 03:00 EDT, 11-01 02:00 EDT -> 01:00 EST;
Australia/Sydney 04-05 03:00 AEDT -> 02:00 AEST, 10-04 02:00 AEST -> 03:00 AEDT;
Asia/Kolkata stays +05:30 and UTC stays UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calmesh.engine.hours import day_bounds, local_dates, local_to_utc, working_hours
from calmesh.engine.intervals import Interval

MON_TO_FRI_9_TO_5 = {weekday: [(time(9), time(17))] for weekday in range(5)}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def span(start: str, end: str) -> Interval:
    """An interval between two UTC wall times written "2026-03-02 09:00"."""
    return Interval(utc(start), utc(end))


def one_day(zone: str, day: date, *ranges: tuple[time | str, time | str]) -> list[Interval]:
    """`ranges` laid out on `day` alone, through an override so any weekday works."""
    return working_hours({}, zone, day, day, overrides={day: list(ranges)})


# --- the DST matrix ---------------------------------------------------------

# Monday-Friday 09:00-17:00 laid out from the Thursday before each change to
# the Tuesday after it: 09:00 local every working day, so UTC moves by an hour.
WEEK_OF_A_CHANGE = [
    (
        "Europe/Berlin",
        date(2026, 3, 26),
        ["2026-03-26 08:00", "2026-03-27 08:00", "2026-03-30 07:00", "2026-03-31 07:00"],
    ),
    (
        "Europe/Berlin",
        date(2026, 10, 22),
        ["2026-10-22 07:00", "2026-10-23 07:00", "2026-10-26 08:00", "2026-10-27 08:00"],
    ),
    (
        "America/New_York",
        date(2026, 3, 5),
        ["2026-03-05 14:00", "2026-03-06 14:00", "2026-03-09 13:00", "2026-03-10 13:00"],
    ),
    (
        "America/New_York",
        date(2026, 10, 29),
        ["2026-10-29 13:00", "2026-10-30 13:00", "2026-11-02 14:00", "2026-11-03 14:00"],
    ),
    (
        "Australia/Sydney",
        date(2026, 4, 2),
        ["2026-04-01 22:00", "2026-04-02 22:00", "2026-04-05 23:00", "2026-04-06 23:00"],
    ),
    (
        "Australia/Sydney",
        date(2026, 10, 1),
        ["2026-09-30 23:00", "2026-10-01 23:00", "2026-10-04 22:00", "2026-10-05 22:00"],
    ),
    (
        "Asia/Kolkata",
        date(2026, 3, 26),
        ["2026-03-26 03:30", "2026-03-27 03:30", "2026-03-30 03:30", "2026-03-31 03:30"],
    ),
    (
        "UTC",
        date(2026, 10, 29),
        ["2026-10-29 09:00", "2026-10-30 09:00", "2026-11-02 09:00", "2026-11-03 09:00"],
    ),
]


@pytest.mark.parametrize(("zone", "thursday", "starts"), WEEK_OF_A_CHANGE)
def test_weekday_hours_start_at_nine_local_on_both_sides_of_a_change(zone, thursday, starts):
    laid_out = working_hours(MON_TO_FRI_9_TO_5, zone, thursday, thursday + timedelta(days=5))
    assert laid_out == [Interval(utc(s), utc(s) + timedelta(hours=8)) for s in starts]
    local = ZoneInfo(zone)
    assert {i.start.astimezone(local).time() for i in laid_out} == {time(9)}


# A whole day, 00:00-24:00, on each change day: the same as the local day.
WHOLE_DAYS = [
    ("Europe/Berlin", date(2026, 3, 29), "2026-03-28 23:00", "2026-03-29 22:00", 23),
    ("Europe/Berlin", date(2026, 10, 25), "2026-10-24 22:00", "2026-10-25 23:00", 25),
    ("America/New_York", date(2026, 3, 8), "2026-03-08 05:00", "2026-03-09 04:00", 23),
    ("America/New_York", date(2026, 11, 1), "2026-11-01 04:00", "2026-11-02 05:00", 25),
    ("Australia/Sydney", date(2026, 4, 5), "2026-04-04 13:00", "2026-04-05 14:00", 25),
    ("Australia/Sydney", date(2026, 10, 4), "2026-10-03 14:00", "2026-10-04 13:00", 23),
    ("Asia/Kolkata", date(2026, 3, 29), "2026-03-28 18:30", "2026-03-29 18:30", 24),
    ("UTC", date(2026, 11, 1), "2026-11-01 00:00", "2026-11-02 00:00", 24),
]


@pytest.mark.parametrize(("zone", "day", "start", "end", "hours"), WHOLE_DAYS)
@pytest.mark.parametrize("whole_day", [(time(0), time(0)), ("00:00", "24:00")])
def test_whole_day_lasts_23_or_25_hours_on_change_days(zone, day, start, end, hours, whole_day):
    expected = span(start, end)
    assert expected.duration == timedelta(hours=hours)
    assert day_bounds(day, zone) == expected
    assert one_day(zone, day, whole_day) == [expected]


# --- gaps and folds ---------------------------------------------------------

# (zone, local wall time, as_end, UTC instant)
WALL_TIMES = [
    # Spring-forward gaps: the first instant after the gap, start or end.
    ("Europe/Berlin", "2026-03-29 02:30", False, "2026-03-29 01:00"),
    ("Europe/Berlin", "2026-03-29 02:30", True, "2026-03-29 01:00"),
    ("America/New_York", "2026-03-08 02:00", False, "2026-03-08 07:00"),
    ("Australia/Sydney", "2026-10-04 02:59:59", True, "2026-10-03 16:00"),
    # Fall-back folds: a start is the first occurrence, an end the second...
    ("Europe/Berlin", "2026-10-25 02:30", False, "2026-10-25 00:30"),
    ("Europe/Berlin", "2026-10-25 02:30", True, "2026-10-25 01:30"),
    ("America/New_York", "2026-11-01 01:30", False, "2026-11-01 05:30"),
    ("America/New_York", "2026-11-01 01:30", True, "2026-11-01 06:30"),
    ("Australia/Sydney", "2026-04-05 02:30", False, "2026-04-04 15:30"),
    ("Australia/Sydney", "2026-04-05 02:30", True, "2026-04-04 16:30"),
    # ...unless the end is where the repeat begins: the wall times before it
    # all come before the first occurrence.
    ("Europe/Berlin", "2026-10-25 02:00", True, "2026-10-25 00:00"),
    ("America/New_York", "2026-11-01 01:00", True, "2026-11-01 05:00"),
    # Ordinary times are the same either way.
    ("Asia/Kolkata", "2026-03-29 02:30", True, "2026-03-28 21:00"),
    ("Europe/Berlin", "2026-10-25 03:00", True, "2026-10-25 02:00"),
]


@pytest.mark.parametrize(("zone", "wall", "as_end", "instant"), WALL_TIMES)
def test_local_to_utc_resolves_gaps_and_folds(zone, wall, as_end, instant):
    assert local_to_utc(datetime.fromisoformat(wall), zone, as_end=as_end) == utc(instant)


def test_range_starting_in_the_gap_starts_when_the_clocks_resume():
    assert one_day("Europe/Berlin", date(2026, 3, 29), ("02:30", "04:00")) == [
        span("2026-03-29 01:00", "2026-03-29 02:00")
    ]


def test_range_wholly_inside_the_gap_is_dropped():
    assert one_day("America/New_York", date(2026, 3, 8), ("02:10", "02:50")) == []


def test_range_starting_in_the_fold_starts_at_the_first_occurrence():
    # 02:30 CEST to 04:00 CET: three and a half hours.
    assert one_day("Europe/Berlin", date(2026, 10, 25), ("02:30", "04:00")) == [
        span("2026-10-25 00:30", "2026-10-25 03:00")
    ]


def test_range_ending_in_the_fold_keeps_the_repeated_time():
    assert one_day("America/New_York", date(2026, 11, 1), ("00:00", "01:30")) == [
        span("2026-11-01 04:00", "2026-11-01 06:30")
    ]


def test_night_shift_ending_where_clocks_fall_back_stops_at_first_occurrence():
    # Saturday 22:00 CEST to Sunday 02:00 CEST; the repeated 02:00-03:00 follows.
    assert one_day("Europe/Berlin", date(2026, 10, 24), ("22:00", "02:00")) == [
        span("2026-10-24 20:00", "2026-10-25 00:00")
    ]


def test_night_shift_ending_in_the_gap_ends_when_the_clocks_resume():
    # Saturday 22:00 EST to Sunday 02:00, which does not exist: 03:00 EDT.
    assert one_day("America/New_York", date(2026, 3, 7), ("22:00", "02:00")) == [
        span("2026-03-08 03:00", "2026-03-08 07:00")
    ]


# --- weekly hours and overrides --------------------------------------------


def test_several_ranges_per_day_stay_apart_and_touching_ones_join():
    weekly = {0: [("09:00", "12:00"), ("13:00", "15:00"), ("15:00", "17:00")]}
    assert working_hours(weekly, "UTC", date(2026, 3, 2), date(2026, 3, 2)) == [
        span("2026-03-02 09:00", "2026-03-02 12:00"),
        span("2026-03-02 13:00", "2026-03-02 17:00"),
    ]


def test_weekdays_without_hours_are_days_off():
    # 2026-03-07 and 03-08 are a Saturday and a Sunday.
    assert working_hours(MON_TO_FRI_9_TO_5, "UTC", date(2026, 3, 7), date(2026, 3, 8)) == []


def test_override_replaces_the_weekly_hours_of_its_date():
    overrides = {date(2026, 3, 3): [("14:00", "16:00")], date(2026, 3, 7): [("10:00", "11:00")]}
    assert working_hours(
        MON_TO_FRI_9_TO_5, "Asia/Kolkata", date(2026, 3, 3), date(2026, 3, 7), overrides
    ) == [
        span("2026-03-03 08:30", "2026-03-03 10:30"),
        span("2026-03-04 03:30", "2026-03-04 11:30"),
        span("2026-03-05 03:30", "2026-03-05 11:30"),
        span("2026-03-06 03:30", "2026-03-06 11:30"),
        span("2026-03-07 04:30", "2026-03-07 05:30"),
    ]


def test_override_with_no_ranges_is_a_day_off():
    overrides = {date(2026, 3, 3): []}
    assert working_hours(
        MON_TO_FRI_9_TO_5, "UTC", date(2026, 3, 2), date(2026, 3, 3), overrides
    ) == [span("2026-03-02 09:00", "2026-03-02 17:00")]


def test_night_shift_reaches_past_the_last_date():
    assert working_hours({4: [("22:00", "06:00")]}, "UTC", date(2026, 3, 6), date(2026, 3, 6)) == [
        span("2026-03-06 22:00", "2026-03-07 06:00")
    ]


def test_fixed_offset_tzinfo_is_accepted_as_a_zone():
    minus_three = timezone(timedelta(hours=-3))
    assert one_day(minus_three, date(2026, 3, 2), (time(9), time(10))) == [
        span("2026-03-02 12:00", "2026-03-02 13:00")
    ]


@pytest.mark.parametrize(
    ("weekly", "message"),
    [({7: [("09:00", "17:00")]}, "weekdays"), ({0: [("24:00", "02:00")]}, "24:00")],
)
def test_invalid_weekly_hours_are_refused(weekly, message):
    with pytest.raises(ValueError, match=message):
        working_hours(weekly, "UTC", date(2026, 3, 2), date(2026, 3, 2))


def test_unknown_zone_name_is_refused():
    with pytest.raises(ZoneInfoNotFoundError):
        day_bounds(date(2026, 3, 2), "Mars/Olympus_Mons")


# --- local dates ------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "dates"),
    [
        ("Europe/Berlin", [date(2026, 3, 29)]),
        # 04:30 on the 29th to 03:30 on the 30th in India.
        ("Asia/Kolkata", [date(2026, 3, 29), date(2026, 3, 30)]),
        # 19:00 EDT on the 28th to 18:00 EDT on the 29th.
        ("America/New_York", [date(2026, 3, 28), date(2026, 3, 29)]),
    ],
)
def test_local_dates_of_berlins_short_day_in_other_zones(zone, dates):
    window = span("2026-03-28 23:00", "2026-03-29 22:00")
    assert local_dates(window, zone) == dates


def test_local_dates_exclude_a_date_the_window_ends_at():
    assert local_dates(span("2026-03-02 09:00", "2026-03-04 00:00"), "UTC") == [
        date(2026, 3, 2),
        date(2026, 3, 3),
    ]


# --- properties -------------------------------------------------------------

zones = st.sampled_from(
    ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
)
days_of_2026 = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))


@given(zones, days_of_2026)
def test_local_days_tile_and_last_23_to_25_hours(zone, day):
    today, tomorrow = day_bounds(day, zone), day_bounds(day + timedelta(days=1), zone)
    assert today.end == tomorrow.start
    assert timedelta(hours=23) <= today.duration <= timedelta(hours=25)
    assert local_dates(today, zone) == [day]


@given(zones, days_of_2026, st.times())
def test_resolved_instant_reads_the_wall_time_unless_it_is_skipped(zone, day, clock):
    wall = datetime.combine(day, clock)
    instant = local_to_utc(wall, zone)
    shown = instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    if shown != wall:
        # Skipped by a gap: the clocks jumped from before `wall` to after it.
        before = (instant - timedelta(seconds=1)).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        assert before < wall < shown
