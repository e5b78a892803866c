from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import combinations

from hypothesis import given
from hypothesis import strategies as st

from calmesh.engine.availability import BusyEvent
from calmesh.engine.conflicts import Conflict, find_conflicts
from calmesh.engine.intervals import Interval


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def span(start: str, end: str) -> Interval:
    """An interval between two UTC wall times written "2026-03-02 09:00"."""
    return Interval(utc(start), utc(end))


def event(start: str, end: str, source_id: int | str | None, **fields) -> BusyEvent:
    """A timed event between two UTC wall times."""
    return BusyEvent(start=utc(start), end=utc(end), source_id=source_id, **fields)


def test_overlapping_events_from_different_sources_conflict():
    standup = event("2026-03-02 09:00", "2026-03-02 10:00", 1, summary="Standup")
    dentist = event("2026-03-02 09:30", "2026-03-02 11:00", 2, summary="Dentist")
    assert find_conflicts([dentist, standup], "UTC") == [
        Conflict(a=standup, b=dentist, overlap=span("2026-03-02 09:30", "2026-03-02 10:00"))
    ]


def test_overlap_within_one_source_is_not_a_conflict():
    events = [
        event("2026-03-02 09:00", "2026-03-02 10:00", 1),
        event("2026-03-02 09:30", "2026-03-02 11:00", 1),
    ]
    assert find_conflicts(events, "UTC") == []


def test_back_to_back_events_do_not_conflict():
    events = [
        event("2026-03-02 09:00", "2026-03-02 10:00", 1),
        event("2026-03-02 10:00", "2026-03-02 11:00", 2),
    ]
    assert find_conflicts(events, "UTC") == []


def test_free_and_cancelled_events_never_conflict():
    events = [
        event("2026-03-02 09:00", "2026-03-02 10:00", 1),
        event("2026-03-02 09:00", "2026-03-02 10:00", 2, busy=False),
        event("2026-03-02 09:00", "2026-03-02 10:00", 3, status="cancelled"),
    ]
    assert find_conflicts(events, "UTC") == []


def test_tentative_event_conflicts_unless_tentative_does_not_count_as_busy():
    events = [
        event("2026-03-02 09:00", "2026-03-02 10:00", 1),
        event("2026-03-02 09:00", "2026-03-02 10:00", 2, status="tentative"),
    ]
    assert len(find_conflicts(events, "UTC")) == 1
    assert find_conflicts(events, "UTC", tentative_busy=False) == []


def test_same_meeting_seen_in_two_calendars_is_not_a_conflict():
    events = [
        event("2026-03-02 09:00", "2026-03-02 10:00", 1, uid="abc@example.com"),
        event("2026-03-02 09:00", "2026-03-02 10:00", 2, uid="abc@example.com"),
        event("2026-03-02 09:00", "2026-03-02 10:00", 3, uid=""),
    ]
    pairs = {(c.a.source_id, c.b.source_id) for c in find_conflicts(events, "UTC")}
    assert pairs == {(1, 3), (2, 3)}


def test_three_overlapping_sources_give_every_pair_sorted_by_overlap():
    one = event("2026-03-02 09:00", "2026-03-02 12:00", 1)
    two = event("2026-03-02 10:00", "2026-03-02 11:00", 2)
    three = event("2026-03-02 10:30", "2026-03-02 13:00", "ics:3")
    assert find_conflicts([three, two, one], "UTC") == [
        Conflict(a=one, b=two, overlap=span("2026-03-02 10:00", "2026-03-02 11:00")),
        Conflict(a=two, b=three, overlap=span("2026-03-02 10:30", "2026-03-02 11:00")),
        Conflict(a=one, b=three, overlap=span("2026-03-02 10:30", "2026-03-02 12:00")),
    ]


def test_long_event_conflicts_with_each_other_source_event_it_covers():
    workshop = event("2026-03-02 09:00", "2026-03-02 17:00", 1)
    calls = [
        event("2026-03-02 10:00", "2026-03-02 11:00", 2),
        event("2026-03-02 12:00", "2026-03-02 13:00", 2),
        event("2026-03-02 14:00", "2026-03-02 15:00", 1),
    ]
    conflicts = find_conflicts([workshop, *calls], "UTC")
    assert [(c.a, c.b) for c in conflicts] == [(workshop, calls[0]), (workshop, calls[1])]


def test_all_day_event_conflicts_only_within_its_day_in_the_calendar_zone():
    # 2026-03-02 in Sydney (AEDT, +11) is 03-01 13:00 to 03-02 13:00 UTC.
    holiday = BusyEvent(
        start=utc("2026-03-02 00:00"),
        end=utc("2026-03-03 00:00"),
        all_day=True,
        start_date=date(2026, 3, 2),
        end_date=date(2026, 3, 3),
        source_id=1,
    )
    that_morning = event("2026-03-01 22:00", "2026-03-01 23:00", 2)
    next_morning = event("2026-03-02 22:00", "2026-03-02 23:00", 2)
    assert find_conflicts([holiday, that_morning, next_morning], "Australia/Sydney") == [
        Conflict(a=holiday, b=that_morning, overlap=span("2026-03-01 22:00", "2026-03-01 23:00"))
    ]


def _alternating(count: int) -> list[BusyEvent]:
    """Back-to-back half hours from alternating sources, plus an event every
    500 slots that overlaps the next one."""
    start = utc("2026-01-05 00:00")
    return [
        BusyEvent(
            start=start + timedelta(minutes=30 * n),
            end=start + timedelta(minutes=30 * n + (45 if n % 500 == 0 else 30)),
            source_id=n % 2,
        )
        for n in range(count)
    ]


def _fastest_of_five(events: list[BusyEvent]) -> float:
    """The least CPU time of five runs: CPU time of this process, not wall
    time, so that other processes on a busy machine do not count."""
    times = []
    for _ in range(5):
        began = time.process_time()
        find_conflicts(events, "UTC")
        times.append(time.process_time() - began)
    return min(times)


def test_five_thousand_events_are_checked_by_a_sweep_not_by_pairs():
    small, large = _alternating(500), _alternating(5_000)
    assert len(find_conflicts(large, "UTC")) == 10
    # Ten times the events: a sweep takes about ten times as long, a comparison
    # of all pairs a hundred times. A ratio measured in the same run, not a time.
    ratio = _fastest_of_five(large) / _fastest_of_five(small)
    assert ratio < 40, ratio


# --- property ---------------------------------------------------------------

ORIGIN = datetime(2026, 3, 2, tzinfo=UTC)


@st.composite
def busy_events(draw) -> BusyEvent:
    start = ORIGIN + timedelta(minutes=draw(st.integers(0, 600)))
    return BusyEvent(
        start=start,
        end=start + timedelta(minutes=draw(st.integers(0, 120))),
        busy=draw(st.booleans()),
        status=draw(st.sampled_from(["confirmed", "tentative", "cancelled"])),
        source_id=draw(st.sampled_from([1, 2, "x", None])),
        uid=draw(st.sampled_from(["", "", "u1", "u2"])),
    )


@given(st.lists(busy_events(), max_size=25), st.booleans())
def test_sweep_finds_exactly_the_pairs_a_comparison_of_all_pairs_finds(events, tentative_busy):
    # Number the events through their summary to recognise them in the result.
    events = [replace(e, summary=str(n)) for n, e in enumerate(events)]

    def blocks(e: BusyEvent) -> bool:
        return e.busy and e.status != "cancelled" and (tentative_busy or e.status != "tentative")

    expected = set()
    for (i, a), (j, b) in combinations(enumerate(events), 2):
        same_meeting = a.uid != "" and a.uid == b.uid
        if blocks(a) and blocks(b) and a.source_id != b.source_id and not same_meeting:
            start, end = max(a.start, b.start), min(a.end, b.end)
            if start < end:
                expected.add((frozenset((i, j)), start, end))

    found = find_conflicts(events, "UTC", tentative_busy=tentative_busy)

    assert {
        (frozenset((int(c.a.summary), int(c.b.summary))), c.overlap.start, c.overlap.end)
        for c in found
    } == expected
    assert len(found) == len(expected)
    assert [c.overlap for c in found] == sorted(c.overlap for c in found)
    assert all(c.a.start <= c.b.start for c in found)
