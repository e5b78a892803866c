"""The internals of recurring_ical_events that expansion builds on (see library.py)."""

from __future__ import annotations

import importlib.metadata
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from dateutil.rrule import rrule

from calmesh.engine.recurrence import Budget, expand, library, parse_calendar
from tests.engine.recurrence.helpers import calendar, utc

ROOT = Path(__file__).resolve().parents[3]
WEEKLY = calendar(
    "UID:weekly\nDTSTART;TZID=Europe/Berlin:20260302T090000\nDURATION:PT1H\n"
    "RRULE:FREQ=WEEKLY;UNTIL=20260330T070000Z\nSUMMARY:Standup",
    "UID:weekly\nRECURRENCE-ID;TZID=Europe/Berlin:20260316T090000\n"
    "DTSTART;TZID=Europe/Berlin:20260316T110000\nDURATION:PT1H\nSUMMARY:Moved",
)
MARCH = (utc("2026-03-01 00:00"), utc("2026-04-01 00:00"))


def query(data: str):
    return recurring_ical_events.of(
        parse_calendar(data),
        skip_bad_series=True,
        components=library.ONLY_EVENTS,
        calendar_query=library.Query,
    )


def test_the_library_is_the_version_pinned_in_requirements_and_named_in_library_py():
    """The internals below are those of this version: an upgrade is a decision."""
    pins = (ROOT / "requirements.txt").read_text()
    pinned = re.search(r"^recurring-ical-events==(\S+)$", pins, re.MULTILINE).group(1)
    assert importlib.metadata.version("recurring-ical-events") == pinned
    assert f"recurring-ical-events=={pinned}" in library.__doc__


def test_series_walk_their_rules_through_walked_rules():
    """`Series.RecurrenceRules` is still the strategy a series with rules uses,
    and it still sets up `start`, `tzinfo` and `rrules` before it is walked."""
    (series,) = list(query(WEEKLY).series)
    rules = series.recurrence
    assert isinstance(rules, library.WalkedRules)
    assert rules.start == datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    assert rules.tzinfo == ZoneInfo("Europe/Berlin")
    walked = [rule for rule in rules.rrules if isinstance(rule, rrule)]
    assert len(walked) == 1
    # rrulestr still hands back a rule carrying the library's `string` and `until`.
    assert walked[0].string.startswith("FREQ=WEEKLY")
    assert walked[0].until == datetime(2026, 3, 30, 7, tzinfo=UTC)
    assert walked[0]._cache is None, "our rrulestr made it uncached"


def test_rrule_between_is_what_the_library_asks_for_the_instances():
    budget = Budget()
    (series,) = list(query(WEEKLY).series)
    series.recurrence.budget = budget
    starts = [i.start for i in series.between(*MARCH)]
    assert len(starts) == 5  # UNTIL is 09:00 in Berlin on the 30th: inclusive
    assert budget.steps >= 5, "the instances were walked by WalkedRules.rrule_between"


def test_instances_are_handed_back_as_they_are_with_their_source_vevent():
    """`as_component` is still how the library turns an occurrence into its
    result, and `_adapter._component` is still the VEVENT it came from."""
    calendar_ = parse_calendar(WEEKLY)
    master, moved = calendar_.walk("VEVENT")
    results = list(
        recurring_ical_events.of(
            calendar_, components=library.ONLY_EVENTS, calendar_query=library.Query
        ).between(*MARCH)
    )
    assert all(isinstance(result, library.Instance) for result in results)
    sources = [result.source for result in results]
    assert sum(source is master for source in sources) == 4
    assert sum(source is moved for source in sources) == 1


def test_a_series_raising_one_of_our_suppressed_errors_is_skipped():
    """The library still reads `suppressed_errors` from the query class."""
    data = calendar(
        "UID:broken\nDTSTART:20260302T090000Z\nRRULE:FREQ=WEEKLY;BYDAY=XX",
        "UID:good\nDTSTART:20260303T090000Z\nDURATION:PT1H",
    )
    assert {o.uid for o in expand(data, *MARCH)} == {"good"}


# Each rule begun long enough before the window to be skipped ahead a lot, and
# the window across the start of summer time in Berlin (28 March 2027).
RULES = [
    ("FREQ=SECONDLY;INTERVAL=7;BYSECOND=0,30", "20270320T013000"),
    ("FREQ=MINUTELY;INTERVAL=17;BYHOUR=1,2,3,9", "20270101T235959"),
    ("FREQ=HOURLY;INTERVAL=5;BYMINUTE=0,45", "20230101T013000"),
    ("FREQ=DAILY;INTERVAL=3;BYHOUR=2,8,20", "20190331T013000"),
    ("FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,WE,SU", "20190331T023000"),
    ("FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=SA,SU", "20230101T020000"),
    ("FREQ=DAILY;UNTIL=20270330T000000", "20190331T020000"),
]
DST_WEEK = (utc("2027-03-26 00:00"), utc("2027-04-02 00:00"))


@pytest.mark.parametrize(("rule", "start"), RULES)
def test_skipping_ahead_gives_exactly_the_librarys_instances(rule, start):
    """Begun at its last period before the window, a rule yields what the
    library yields walking it from DTSTART."""
    data = calendar(f"UID:r\nDTSTART;TZID=Europe/Berlin:{start}\nDURATION:PT10M\nRRULE:{rule}")
    reference = sorted(
        instance.start.astimezone(UTC)
        for instance in recurring_ical_events.of(parse_calendar(data)).between(*DST_WEEK)
        if instance.start < DST_WEEK[1]
    )
    budget = Budget()
    ours = [o.start for o in expand(data, *DST_WEEK, budget=budget)]
    assert ours == reference and ours
    assert budget.steps <= len(ours) + 200, "walked from the window, not from DTSTART"
