from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calmesh.engine.intervals import (
    Interval,
    Timeline,
    clip,
    from_micros,
    intersect,
    merge,
    micros,
    subtract,
    total,
)

BERLIN = ZoneInfo("Europe/Berlin")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def span(start: str, end: str) -> Interval:
    """An interval between two UTC wall times written "2026-03-02 09:00"."""
    return Interval(utc(start), utc(end))


# --- Interval ---------------------------------------------------------------


def test_interval_rejects_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(datetime(2026, 3, 2, 9), utc("2026-03-02 10:00"))


@pytest.mark.parametrize("end", ["2026-03-02 09:00", "2026-03-02 08:00"])
def test_interval_rejects_empty_or_reversed_range(end):
    with pytest.raises(ValueError, match="precede"):
        span("2026-03-02 09:00", end)


def test_interval_is_stored_in_utc_whatever_zone_it_arrives_in():
    interval = Interval(
        datetime(2026, 3, 2, 10, tzinfo=BERLIN), datetime(2026, 3, 2, 11, tzinfo=BERLIN)
    )
    assert interval.start.tzinfo is UTC
    assert interval == span("2026-03-02 09:00", "2026-03-02 10:00")


def test_interval_equal_by_instant_even_for_the_second_occurrence_in_a_fold():
    # 02:30 happens twice in Berlin on 2026-10-25; fold=1 is the CET one.
    second = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN)
    assert Interval(second, second + timedelta(hours=1)) == span(
        "2026-10-25 01:30", "2026-10-25 02:30"
    )


def test_interval_contains_its_start_but_not_its_end():
    interval = span("2026-03-02 09:00", "2026-03-02 10:00")
    assert utc("2026-03-02 09:00") in interval
    assert utc("2026-03-02 09:59:59") in interval
    assert utc("2026-03-02 10:00") not in interval


def test_touching_intervals_do_not_overlap():
    morning = span("2026-03-02 09:00", "2026-03-02 10:00")
    assert not morning.overlaps(span("2026-03-02 10:00", "2026-03-02 11:00"))
    assert morning.overlaps(span("2026-03-02 09:59", "2026-03-02 11:00"))


# --- merge ------------------------------------------------------------------


def test_merge_of_nothing_is_empty():
    assert merge([]) == []


def test_merge_joins_overlapping_and_touching_intervals_and_sorts():
    assert merge(
        [
            span("2026-03-02 13:00", "2026-03-02 14:00"),
            span("2026-03-02 10:00", "2026-03-02 11:00"),
            span("2026-03-02 09:00", "2026-03-02 10:00"),
            span("2026-03-02 10:30", "2026-03-02 10:45"),
        ]
    ) == [
        span("2026-03-02 09:00", "2026-03-02 11:00"),
        span("2026-03-02 13:00", "2026-03-02 14:00"),
    ]


def test_merge_treats_intervals_in_different_zones_as_instants():
    new_york = ZoneInfo("America/New_York")
    assert merge(
        [
            Interval(
                datetime(2026, 3, 2, 9, tzinfo=BERLIN), datetime(2026, 3, 2, 10, tzinfo=BERLIN)
            ),
            # 04:00 in New York (EST) is 10:00 in Berlin (CET): they touch.
            Interval(
                datetime(2026, 3, 2, 4, tzinfo=new_york), datetime(2026, 3, 2, 5, tzinfo=new_york)
            ),
        ]
    ) == [span("2026-03-02 08:00", "2026-03-02 10:00")]


def test_merge_accepts_a_generator():
    hours = (span(f"2026-03-02 {h:02}:00", f"2026-03-02 {h + 1:02}:00") for h in range(9, 12))
    assert merge(hours) == [span("2026-03-02 09:00", "2026-03-02 12:00")]


# --- subtract ---------------------------------------------------------------


def test_subtract_cut_in_the_middle_splits_the_range():
    assert subtract(
        [span("2026-03-02 09:00", "2026-03-02 17:00")],
        [span("2026-03-02 12:00", "2026-03-02 13:00")],
    ) == [
        span("2026-03-02 09:00", "2026-03-02 12:00"),
        span("2026-03-02 13:00", "2026-03-02 17:00"),
    ]


def test_subtract_cut_spanning_two_ranges_removes_both():
    assert (
        subtract(
            [
                span("2026-03-02 09:00", "2026-03-02 10:00"),
                span("2026-03-02 11:00", "2026-03-02 12:00"),
            ],
            [span("2026-03-02 08:00", "2026-03-02 13:00")],
        )
        == []
    )


def test_subtract_cut_overlapping_two_ranges_trims_their_facing_ends():
    assert subtract(
        [
            span("2026-03-02 09:00", "2026-03-02 11:00"),
            span("2026-03-02 12:00", "2026-03-02 14:00"),
        ],
        [span("2026-03-02 10:00", "2026-03-02 13:00")],
    ) == [
        span("2026-03-02 09:00", "2026-03-02 10:00"),
        span("2026-03-02 13:00", "2026-03-02 14:00"),
    ]


def test_subtract_touching_cut_removes_nothing():
    base = [span("2026-03-02 09:00", "2026-03-02 10:00")]
    assert subtract(base, [span("2026-03-02 10:00", "2026-03-02 11:00")]) == base


def test_subtract_nothing_returns_the_merged_base():
    assert subtract(
        [
            span("2026-03-02 10:00", "2026-03-02 11:00"),
            span("2026-03-02 09:00", "2026-03-02 10:30"),
        ],
        [],
    ) == [span("2026-03-02 09:00", "2026-03-02 11:00")]


# --- intersect, clip, total -------------------------------------------------


def test_intersect_keeps_only_shared_time():
    assert intersect(
        [
            span("2026-03-02 09:00", "2026-03-02 12:00"),
            span("2026-03-02 14:00", "2026-03-02 18:00"),
        ],
        [span("2026-03-02 11:00", "2026-03-02 15:00")],
    ) == [
        span("2026-03-02 11:00", "2026-03-02 12:00"),
        span("2026-03-02 14:00", "2026-03-02 15:00"),
    ]


def test_intersect_of_touching_intervals_is_empty():
    assert (
        intersect(
            [span("2026-03-02 09:00", "2026-03-02 10:00")],
            [span("2026-03-02 10:00", "2026-03-02 11:00")],
        )
        == []
    )


def test_clip_trims_intervals_to_the_window_and_drops_those_outside():
    window = span("2026-03-02 00:00", "2026-03-03 00:00")
    assert clip(
        [
            span("2026-03-01 22:00", "2026-03-02 01:00"),
            span("2026-03-02 12:00", "2026-03-02 13:00"),
            span("2026-03-03 00:00", "2026-03-03 01:00"),
        ],
        window,
    ) == [
        span("2026-03-02 00:00", "2026-03-02 01:00"),
        span("2026-03-02 12:00", "2026-03-02 13:00"),
    ]


def test_total_counts_overlapping_time_once():
    assert total(
        [span("2026-03-02 09:00", "2026-03-02 11:00"), span("2026-03-02 10:00", "2026-03-02 12:00")]
    ) == timedelta(hours=3)


def test_total_of_nothing_is_zero():
    assert total([]) == timedelta()


# --- properties -------------------------------------------------------------

# Instants around the 2026 autumn changes of Berlin (10-25) and New York
# (11-01), shown in zones that include folds, so that wall times repeat.
ZONES = [
    UTC,
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=-8)),
    BERLIN,
    ZoneInfo("America/New_York"),
    ZoneInfo("Australia/Sydney"),
]
ORIGIN = datetime(2026, 10, 24, 20, tzinfo=UTC)
MINUTES = 12_000

zones = st.sampled_from(ZONES)


@st.composite
def instants(draw) -> datetime:
    return (ORIGIN + timedelta(minutes=draw(st.integers(0, MINUTES)))).astimezone(draw(zones))


@st.composite
def intervals(draw) -> Interval:
    start = draw(st.integers(0, MINUTES - 1))
    length = draw(st.integers(1, 600))
    return Interval(
        (ORIGIN + timedelta(minutes=start)).astimezone(draw(zones)),
        (ORIGIN + timedelta(minutes=start + length)).astimezone(draw(zones)),
    )


interval_lists = st.lists(intervals(), max_size=12)


def covers(intervals: list[Interval], instant: datetime) -> bool:
    return any(instant in interval for interval in intervals)


def assert_canonical(intervals: list[Interval]) -> None:
    """Sorted, and each interval ends strictly before the next begins."""
    for earlier, later in pairwise(intervals):
        assert earlier.end < later.start


@given(interval_lists)
def test_merge_is_sorted_disjoint_and_idempotent(intervals):
    merged = merge(intervals)
    assert_canonical(merged)
    assert merge(merged) == merged
    assert merge(reversed(intervals)) == merged


@given(interval_lists)
def test_total_of_merge_is_at_most_the_sum_of_durations(intervals):
    assert total(intervals) <= sum((i.duration for i in intervals), timedelta())


@given(interval_lists, interval_lists)
def test_subtract_result_lies_in_base_and_outside_cuts(base, cuts):
    rest = subtract(base, cuts)
    assert_canonical(rest)
    assert intersect(rest, cuts) == []
    assert subtract(rest, base) == []


@given(interval_lists, interval_lists)
def test_base_minus_cuts_joined_with_base_within_cuts_is_base(base, cuts):
    assert merge(subtract(base, cuts) + intersect(base, cuts)) == merge(base)


@given(interval_lists, interval_lists)
def test_intersect_is_commutative_and_canonical(a, b):
    assert_canonical(intersect(a, b))
    assert intersect(a, b) == intersect(b, a)


@given(interval_lists, intervals())
def test_clip_lies_inside_the_window(intervals, window):
    clipped = clip(intervals, window)
    assert_canonical(clipped)
    assert all(window.start <= i.start and i.end <= window.end for i in clipped)


@given(interval_lists, interval_lists, st.lists(instants(), min_size=1, max_size=20))
def test_every_instant_is_where_set_algebra_says(a, b, probes):
    union, difference, common = merge(a), subtract(a, b), intersect(a, b)
    for instant in probes + [i.start for i in a + b] + [i.end for i in a + b]:
        in_a, in_b = covers(a, instant), covers(b, instant)
        assert covers(union, instant) == in_a
        assert covers(difference, instant) == (in_a and not in_b)
        assert covers(common, instant) == (in_a and in_b)


# --- Timeline -----------------------------------------------------------------


@given(instants())
def test_micros_and_back_is_the_same_instant(instant):
    # Compared in UTC: `==` across zones is False in a DST fold (PEP 495).
    assert from_micros(micros(instant)) == instant.astimezone(UTC)
    # One microsecond later in absolute time (in UTC: local `+` is wall-clock
    # arithmetic and drops the fold, PEP 495).
    later = instant.astimezone(UTC) + timedelta(microseconds=1)
    assert micros(later) == micros(instant) + 1


@given(interval_lists, intervals())
def test_a_timeline_hits_exactly_what_overlaps(intervals, probe):
    merged = merge(intervals)
    line = Timeline(merged)
    assert len(line) == len(merged) and bool(line) == bool(merged)
    expected = any(piece.overlaps(probe) for piece in merged)
    assert line.hits(micros(probe.start), micros(probe.end)) == expected


def test_a_timeline_is_not_hit_by_a_probe_that_only_touches():
    line = Timeline([span("2026-03-02 09:00", "2026-03-02 10:00")])
    nine, ten = micros(utc("2026-03-02 09:00")), micros(utc("2026-03-02 10:00"))
    assert not line.hits(ten, ten + 60_000_000)
    assert not line.hits(nine - 60_000_000, nine)
    assert line.hits(ten - 1, ten)
