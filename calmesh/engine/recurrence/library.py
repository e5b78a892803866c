"""The parts of `recurring_ical_events` that expansion builds on, beyond its public API.

Its public API (`of(calendar).between(...)`) is correct but, for what a
sync worker is handed, too costly in two ways, so this module reaches into
it at three points:

* Every instance would be a full copy of its VEVENT (`Occurrence.as_component`),
  about 70% of the time for a few hundred daily and weekly series. `Instance`
  hands itself back and reads its VEVENT from the adapter (`_adapter`,
  `_component`: private attributes).
* Every rule would be expanded by dateutil's `rrule.between`, a list of every
  instance, cached: for a 250-byte `FREQ=SECONDLY` event, tens of millions of
  datetimes. `WalkedRules` subclasses `Series.RecurrenceRules` (a nested
  class, not documented) and overrides `rrulestr` and `rrule_between`,
  relying on its attributes `rrules`, `start` and `tzinfo` and on the
  `string` and `until` it sets on each rule.
* The errors a bad series may raise are more than the library anticipates
  (`CalendarQuery.suppressed_errors`, documented) and the components are
  selected with `ComponentsWithName(adapter=, series=, occurrence=)` (public).

So the library is pinned (requirements.txt, recurring-ical-events==3.8.2) and
tests/engine/recurrence/test_library.py checks each internal relied on here;
when an upgrade breaks one, that test names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import icalendar
import recurring_ical_events
from dateutil.rrule import rrule
from recurring_ical_events.series import Series
from recurring_ical_events.util import compare_greater, convert_to_datetime

from calmesh.engine.recurrence.budget import Budget


class _EventAdapter(recurring_ical_events.EventAdapter):
    @property
    def component(self) -> icalendar.Event:
        return self._component


class Instance(recurring_ical_events.Occurrence):
    """An occurrence handed back as it is.

    The library's default copies the whole VEVENT for every instance, which
    was about 70% of the time for a few hundred daily and weekly series.
    """

    def as_component(self, keep_recurrence_attributes: bool) -> Instance:
        return self

    @property
    def source(self) -> icalendar.Event:
        """The VEVENT this instance comes from: the master or an override."""
        return self._adapter.component


# The step of each frequency whose instances repeat exactly when its DTSTART
# moves by whole steps (MONTHLY and YEARLY steps have no fixed length).
_STEP = {
    "SECONDLY": timedelta(seconds=1),
    "MINUTELY": timedelta(minutes=1),
    "HOURLY": timedelta(hours=1),
    "DAILY": timedelta(days=1),
    "WEEKLY": timedelta(weeks=1),
}


class WalkedRules(Series.RecurrenceRules):
    """A series' rules walked lazily, within a budget.

    The library asks dateutil for ``rule.between(...)``, a list of every
    instance in the span, built by walking the rule from DTSTART with a cache
    of all it walked: for ``FREQ=SECONDLY`` that is tens of millions of
    datetimes. Here each rule is a generator without a cache, begun at its last
    period before the span when that is exact, and stopped when the budget is
    spent.
    """

    def __init__(self, core) -> None:
        self.budget, self.uid = Budget(), ""  # `expand` hands each series its calendar's
        super().__init__(core)

    def rrulestr(self, rule_string: str) -> rrule:
        rule = super().rrulestr(rule_string)
        if not isinstance(rule, rrule):
            return rule
        uncached = rule.replace(cache=False)
        uncached.string, uncached.until = rule.string, rule.until
        return uncached

    def rrule_between(self, span_start, span_stop) -> Iterator:
        start = convert_to_datetime(span_start, self.tzinfo)
        stop = convert_to_datetime(span_stop, self.tzinfo)
        walked = 0
        for rule in self.rrules:
            for moment in self._from(rule, start):
                if moment > stop:
                    break
                walked += 1
                if not self.budget.step(walked):
                    self.budget.cut(
                        self.uid, "repeats too often to be walked through the horizon; cut there"
                    )
                    return
                if moment >= start and (
                    rule.until is None or not compare_greater(moment, rule.until)
                ):
                    yield moment

    def _from(self, rule, start: datetime):
        """``rule`` begun again at its last whole step more than one step before
        ``start``, when that gives exactly the same instances from ``start`` on:
        no COUNT (the skipped ones would count) and no BYSETPOS."""
        if not isinstance(rule, rrule):
            return rule  # the set of RDATEs and DTSTART: written out in the file
        try:
            recur = icalendar.vRecur.from_ical(rule.string)
            step = _STEP[str(recur["FREQ"][0]).upper()] * max(1, int(recur.get("INTERVAL", [1])[0]))
        except (ValueError, KeyError, TypeError, IndexError):
            return rule
        if "COUNT" in recur or "BYSETPOS" in recur:
            return rule
        begin = self.start
        local = start.astimezone(begin.tzinfo) if begin.tzinfo and start.tzinfo else start
        # Wall-clock arithmetic, as dateutil steps: a DST change moves nothing.
        steps = (local.replace(tzinfo=None) - begin.replace(tzinfo=None)) // step - 1
        if steps <= 0:
            return rule
        moved = rule.replace(dtstart=begin + step * steps)
        moved.string, moved.until = rule.string, rule.until
        return moved


class _BoundedSeries(Series):
    RecurrenceRules = WalkedRules


class Query(recurring_ical_events.CalendarQuery):
    # The library skips a bad series only for the errors it anticipates. Real
    # files also break as a missing DTSTART (KeyError), naive mixed with aware
    # values (TypeError), a rule it cannot read (ValueError), a year out of
    # range (OverflowError) or a repeated DTSTART, which reaches it as a list
    # (AttributeError); one such series must not lose the others.
    suppressed_errors = (ValueError, KeyError, TypeError, OverflowError, AttributeError)


ONLY_EVENTS = (
    recurring_ical_events.ComponentsWithName(
        "VEVENT", adapter=_EventAdapter, series=_BoundedSeries, occurrence=Instance
    ),
)

# What bad data raises below us, beyond what a single series can contain.
DATA_ERRORS = (*Query.suppressed_errors, OSError)
