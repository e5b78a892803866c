"""The budget: a rule is walked one instance at a time and stops at a cap."""

from __future__ import annotations

import itertools
import tracemalloc
from datetime import timedelta

import pytest

from calmesh.engine.recurrence import WALK_FACTOR, Budget, Occurrence, expand
from tests.engine.recurrence.helpers import calendar, utc

# --- Bounded expansion ---------------------------------------------------------------

# The default sync horizon: 30 days back, 365 ahead.
HORIZON = (utc("2026-11-02 00:00"), utc("2027-12-03 00:00"))


def series(uid: str, rule: str, start: str = "20251101T000000Z", extra: str = "") -> str:
    return f"UID:{uid}\nDTSTART:{start}\nDURATION:PT1M\nRRULE:{rule}\nSUMMARY:{uid}\n{extra}"


def bounded(data: str, budget: Budget | None = None) -> tuple[list[Occurrence], Budget, int]:
    """Expand over HORIZON; also the peak of memory allocated meanwhile (bytes)."""
    budget = budget or Budget()
    tracemalloc.start()
    try:
        occurrences = expand(data, *HORIZON, budget=budget)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return occurrences, budget, peak


@pytest.mark.parametrize("freq", ["MINUTELY", "SECONDLY"])
def test_a_series_repeating_every_minute_or_second_stops_at_the_cap(freq):
    """Unbounded, a SECONDLY rule over the horizon is 34 million instances."""
    data = calendar(series("flood", f"FREQ={freq}"), "UID:lunch\nDTSTART:20270105T120000Z")
    occurrences, budget, peak = bounded(data)
    flood = [o for o in occurrences if o.uid == "flood"]
    assert len(flood) == budget.per_series == 5000
    # The first instances inside the horizon are kept: the first overlaps its start.
    assert HORIZON[0] - timedelta(minutes=1) < flood[0].start <= HORIZON[0] < flood[0].end
    assert [o.uid for o in occurrences if o.uid != "flood"] == ["lunch"]
    # Begun a year before the horizon, the rule was not walked from its DTSTART.
    assert budget.steps < budget.per_series + 10
    assert peak < 16 * 2**20
    assert budget.faults == [
        "series 'flood' has more than 5000 instances inside the horizon; the first 5000 are kept"
    ]


def test_a_huge_count_from_long_ago_is_walked_only_so_far():
    # A COUNT cannot be skipped ahead: each instance before the horizon counts.
    data = calendar(series("count", "FREQ=MINUTELY;COUNT=999999999", start="20201101T000000Z"))
    occurrences, budget, peak = bounded(data, Budget(per_series=1000))
    assert occurrences == []
    assert budget.steps == budget.per_series * WALK_FACTOR + 1
    assert peak < 16 * 2**20
    assert budget.faults == [
        "series 'count' repeats too often to be walked through the horizon; cut there"
    ]


def test_a_huge_count_inside_the_horizon_stops_at_the_cap():
    data = calendar(series("count", "FREQ=SECONDLY;COUNT=999999999", start="20261201T000000Z"))
    occurrences, budget, _ = bounded(data)
    assert len(occurrences) == budget.per_series
    assert budget.steps <= budget.per_series + 2  # and DTSTART itself, as the RDATE set


def test_many_series_stop_at_the_calendar_cap_and_keep_single_events():
    events = [series(f"s{i:02}", "FREQ=MINUTELY", start="20261201T000000Z") for i in range(40)]
    singles = [f"UID:single{i}\nDTSTART:2027010{i + 1}T100000Z" for i in range(5)]
    budget = Budget(per_series=300, per_calendar=2000)
    occurrences, budget, peak = bounded(calendar(*events, *singles), budget)
    recurring = [o for o in occurrences if o.recurring]
    assert len(recurring) == budget.instances == 2000
    assert {o.uid for o in occurrences if not o.recurring} == {f"single{i}" for i in range(5)}
    assert peak < 16 * 2**20
    assert budget.steps < 2000 + 300 + 40 * 2, "series after the cap are not walked"
    # Six series were cut at 300 each, the seventh at 200 and the others at once.
    assert len(budget.faults) == 40
    assert budget.faults[-1] == (
        "series 's39' is cut: the calendar has more than 2000 recurring instances "
        "inside the horizon"
    )


def test_series_are_not_begun_once_the_calendar_took_too_long():
    """A rule that never matches costs dateutil seconds without a step to count."""
    ticks = itertools.count(0, 40)  # each look at the clock: 40 s later
    budget = Budget(seconds=60, clock=lambda: next(ticks))
    events = [
        series("a", "FREQ=DAILY"),
        series("b", "FREQ=DAILY"),
        "UID:c\nDTSTART:20270105T120000Z",
    ]
    occurrences = expand(calendar(*events), *HORIZON, budget=budget)
    assert {o.uid for o in occurrences} == {"a", "c"}, "a single event is no series"
    assert budget.faults == ["series 'b' is left out: expanding the calendar took over 60 s"]


def test_one_budget_spans_several_calls():
    budget = Budget(per_series=100, per_calendar=150)
    first = expand(calendar(series("a", "FREQ=HOURLY")), *HORIZON, budget=budget)
    second = expand(calendar(series("b", "FREQ=HOURLY")), *HORIZON, budget=budget)
    assert (len(first), len(second), budget.instances) == (100, 50, 150)
