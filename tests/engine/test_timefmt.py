"""calmesh.engine.timefmt: an owner's times in their zone, on their clock, in
weeks that start on their day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

from calmesh.engine import timefmt
from calmesh.engine.timefmt import Habits

BERLIN_24 = Habits("Europe/Berlin", "24", 0)
NEW_YORK_12 = Habits("America/New_York", "12", 6)
# Monday 16 March 2026, 13:30 UTC: 14:30 in Berlin (CET), 9:30 in New York (EDT).
MOMENT = datetime(2026, 3, 16, 13, 30, tzinfo=UTC)


def test_habits_are_read_from_any_object_with_the_three_choices():
    user = SimpleNamespace(timezone="Asia/Tokyo", clock="12", week_start=6)
    assert timefmt.habits_of(user) == Habits("Asia/Tokyo", "12", 6)
    assert Habits().zone.key == "UTC" and Habits().clock == "24"


def test_a_moment_is_shown_in_the_owners_zone_on_their_clock():
    assert timefmt.time_of(MOMENT, BERLIN_24) == "14:30"
    assert timefmt.time_of(MOMENT, NEW_YORK_12) == "9:30am"
    assert timefmt.day_of(MOMENT, BERLIN_24) == "Mon 16 Mar 2026"
    assert timefmt.long_day(MOMENT, BERLIN_24) == "Monday, 16 March 2026"
    assert timefmt.moment_of(MOMENT, NEW_YORK_12) == "Mon 16 Mar 2026, 9:30am"
    assert timefmt.stamp_of(MOMENT, BERLIN_24) == "2026-03-16 14:30 CET"
    assert timefmt.stamp_of(MOMENT, NEW_YORK_12) == "2026-03-16 9:30am EDT"


def test_the_twelve_hour_clock_has_no_zero_hour():
    at = datetime(2026, 1, 1, 0, 5)
    assert timefmt.clock_time(at, "12") == "12:05am"
    assert timefmt.clock_time(at.replace(hour=12), "12") == "12:05pm"
    assert timefmt.clock_time(at.replace(hour=23), "12") == "11:05pm"
    assert timefmt.clock_time(at, "24") == "00:05"


def test_the_local_date_is_the_zones_not_utcs():
    late = datetime(2026, 3, 16, 23, 30, tzinfo=UTC)
    assert timefmt.day_of(late, BERLIN_24) == "Tue 17 Mar 2026"
    assert timefmt.day_of(late, NEW_YORK_12) == "Mon 16 Mar 2026"


def test_a_span_names_the_end_day_only_when_it_differs():
    end = datetime(2026, 3, 16, 14, 0, tzinfo=UTC)
    assert timefmt.span_of(MOMENT, end, BERLIN_24) == "Monday, 16 March 2026, 14:30–15:00"
    assert timefmt.span_of(MOMENT, end, BERLIN_24, zone_name=True).endswith("15:00 (Europe/Berlin)")
    overnight = datetime(2026, 3, 16, 23, 30, tzinfo=UTC)
    assert timefmt.span_of(MOMENT, overnight, BERLIN_24) == (
        "Monday, 16 March 2026, 14:30–Tuesday, 17 March 2026, 00:30"
    )


def test_across_the_dst_change_the_clock_time_follows_the_zone():
    before = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Saturday, CET
    after = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)  # Sunday, CEST
    assert timefmt.time_of(before, BERLIN_24) == "13:00"
    assert timefmt.time_of(after, BERLIN_24) == "14:00"
    assert timefmt.stamp_of(after, BERLIN_24).endswith("CEST")


def test_weeks_start_on_the_owners_day():
    wednesday = date(2026, 3, 18)
    assert timefmt.week_of(wednesday, 0) == date(2026, 3, 16)
    assert timefmt.week_of(wednesday, 6) == date(2026, 3, 15)
    assert timefmt.week_of(date(2026, 3, 15), 6) == date(2026, 3, 15), "its own first day"
    assert timefmt.weekday_order(0) == [0, 1, 2, 3, 4, 5, 6]
    assert timefmt.weekday_order(6) == [6, 0, 1, 2, 3, 4, 5]
    assert [timefmt.WEEKDAYS[d] for d in timefmt.weekday_order(6)][:2] == ["Sunday", "Monday"]
