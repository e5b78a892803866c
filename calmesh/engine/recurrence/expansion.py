"""Expansion: a parsed calendar and a window in, `Occurrence`s in UTC out."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

import icalendar
import recurring_ical_events
from recurring_ical_events.series import Series

from calmesh.engine.recurrence.budget import Budget
from calmesh.engine.recurrence.library import (
    DATA_ERRORS,
    ONLY_EVENTS,
    Instance,
    Query,
    WalkedRules,
)
from calmesh.engine.recurrence.occurrence import CalendarDataError, Occurrence, zone_from_name
from calmesh.engine.recurrence.parsing import parse_calendar, text


def expand(
    data: bytes | str | icalendar.Calendar,
    window_start: datetime,
    window_end: datetime,
    default_tz: str = "UTC",
    budget: Budget | None = None,
) -> list[Occurrence]:
    """Every instance of every VEVENT overlapping [window_start, window_end),
    within ``budget`` (a fresh `Budget` when None).

    A timed instance is kept when `start < window_end` and `end >
    window_start` (a zero-length one when `window_start <= start <
    window_end`); a whole-day one when its dates overlap the window in some
    time zone. Cancelled instances and events are left out. The list is
    sorted by (start, uid, recurrence_id). A series over the budget keeps its
    first instances; what was cut is added to ``budget.faults``.

    `data` is iCalendar text or a calendar from `parse_calendar`.
    `default_tz` (IANA or Windows name) places floating times when the
    calendar has no X-WR-TIMEZONE. Raises `CalendarDataError` for data that
    cannot be read, ValueError for a naive window or unknown `default_tz`.
    """
    if window_start.utcoffset() is None or window_end.utcoffset() is None:
        raise ValueError("the window must be timezone-aware")
    fallback = zone_from_name(default_tz)
    if fallback is None:
        raise ValueError(f"unknown time zone {default_tz!r}")
    budget = Budget() if budget is None else budget
    calendar = data if isinstance(data, icalendar.Calendar) else parse_calendar(data)
    window = window_start.astimezone(UTC), window_end.astimezone(UTC)
    occurrences: list[Occurrence] = []
    try:
        zone = zone_from_name(text(calendar, "X-WR-TIMEZONE")) or fallback
        series = _Series.of(calendar)
        query = recurring_ical_events.of(
            calendar, skip_bad_series=True, components=ONLY_EVENTS, calendar_query=Query
        )
        for one in query.series:
            occurrences.extend(_expand_series(one, window, zone, series, budget))
    except DATA_ERRORS as exc:
        # Only a ValueError's message is written for people; the others are
        # internals, and an OSError's names files on this server.
        detail = str(exc) if isinstance(exc, ValueError) else "the data could not be read"
        raise CalendarDataError(f"cannot expand this calendar: {detail}") from exc
    occurrences.sort(key=lambda o: (o.start, o.uid, o.recurrence_id or "", o.end))
    return occurrences


def _expand_series(
    one: Series, window: tuple[datetime, datetime], zone: tzinfo, series: _Series, budget: Budget
) -> Iterator[Occurrence]:
    """The instances of one series inside ``window``, until a cap of ``budget``."""
    if one.uid in series.recurring and budget.out_of_time():
        budget.cut(one.uid, f"is left out: expanding the calendar took over {budget.seconds:g} s")
        return
    rules = one.recurrence if isinstance(one.recurrence, WalkedRules) else None
    if rules is not None:
        rules.budget, rules.uid = budget, one.uid
    # The library compares floating and whole-day values as if they were
    # UTC; a day either side covers every real zone, and _overlaps filters.
    # A series in a zone needs no margin (for a SECONDLY one it would be a
    # day of instances walked for nothing).
    margin = timedelta(days=1) if rules is None or rules.tzinfo is None else timedelta(0)
    instances = _instances(one, window[0] - margin, window[1] + margin)
    kept = 0
    for occurrence in _occurrences(instances, zone, series):
        if not _overlaps(occurrence, *window):
            continue
        if occurrence.recurring:
            if kept == budget.per_series:
                budget.cut(
                    one.uid,
                    f"has more than {budget.per_series} instances inside the horizon; "
                    f"the first {budget.per_series} are kept",
                )
                return
            if budget.instances >= budget.per_calendar:
                budget.cut(
                    one.uid,
                    f"is cut: the calendar has more than {budget.per_calendar} recurring "
                    "instances inside the horizon",
                )
                return
            kept += 1
            budget.instances += 1
        yield occurrence


def _instances(one: Series, start: datetime, stop: datetime) -> Iterator[Instance]:
    # A series that breaks is skipped from there on, as the library's
    # skip_bad_series does: what it gave before the error is kept.
    with contextlib.suppress(*Query.suppressed_errors):
        yield from one.between(start, stop)


@dataclass(frozen=True)
class _Series:
    """Which UIDs form a series, and which of those are whole-day series."""

    recurring: set[str]
    whole_day: set[str]

    @classmethod
    def of(cls, calendar: icalendar.Calendar) -> _Series:
        recurring, whole_day = set(), set()
        for event in calendar.walk("VEVENT"):
            uid = text(event, "UID")
            if "RRULE" in event or "RDATE" in event or "RECURRENCE-ID" in event:
                recurring.add(uid)
            start = event.get("DTSTART")
            if (
                "RECURRENCE-ID" not in event
                and isinstance(start, icalendar.vDDDTypes)
                and not isinstance(start.dt, datetime)
            ):
                whole_day.add(uid)
        return cls(recurring, whole_day & recurring)


def _occurrences(
    instances: Iterable[Instance], zone: tzinfo, series: _Series
) -> Iterator[Occurrence]:
    # A series shares its master's fields across thousands of instances:
    # read each source VEVENT once.
    fields_of: dict[int, dict[str, object] | None] = {}
    for instance in instances:
        source = instance.source
        if id(source) not in fields_of:
            fields_of[id(source)] = _fields(source, series.recurring)
        fields = fields_of[id(source)]
        if fields is None:
            continue
        start, end = instance.start, instance.end
        all_day = not isinstance(start, datetime)
        if all_day:
            if isinstance(end, datetime) or end <= start:
                # A whole day with no length (DTEND = DTSTART) is shown as its day.
                end = start + timedelta(days=1)
            start_utc = datetime.combine(start, datetime.min.time(), UTC)
            end_utc = datetime.combine(end, datetime.min.time(), UTC)
        else:
            start_utc, end_utc = _instant(start, zone), _instant(end, zone)
        yield Occurrence(
            recurrence_id=(
                _recurrence_key(
                    _original_start(start, source), zone, fields["uid"] in series.whole_day
                )
                if fields["recurring"]
                else None
            ),
            start=start_utc,
            # The library already swaps an end before its start (both corpus
            # files with one are plainly typed the wrong way round); this only
            # guards a wall-clock end that lands in a DST gap.
            end=max(end_utc, start_utc),
            all_day=all_day,
            start_date=start if all_day else None,
            end_date=end if all_day else None,
            **fields,
        )


def _fields(source: icalendar.Event, recurring: set[str]) -> dict[str, object] | None:
    """What every instance from `source` shares; None when it is cancelled."""
    status = text(source, "STATUS").upper()
    if status == "CANCELLED":
        return None
    uid = text(source, "UID")
    return {
        "uid": uid,
        "busy": text(source, "TRANSP").upper() != "TRANSPARENT",
        "status": "tentative" if status == "TENTATIVE" else "confirmed",
        "summary": text(source, "SUMMARY"),
        "location": text(source, "LOCATION"),
        "description": text(source, "DESCRIPTION"),
        "recurring": uid in recurring,
    }


def _instant(value: datetime, zone: tzinfo) -> datetime:
    """The UTC instant; a floating (or unknown-zone) value is wall time in `zone`."""
    if value.utcoffset() is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def _original_start(start: date, source: icalendar.Event) -> date:
    """The start this instance had in the unmodified series."""
    prop = source.get("RECURRENCE-ID")
    if prop is None:
        return start
    if str(prop.params.get("RANGE", "")).upper() != "THISANDFUTURE":
        return prop.dt
    # A THISANDFUTURE override moves every later instance by its own shift,
    # and the library hands them all its RECURRENCE-ID; undo the shift so each
    # instance keeps its own key.
    try:
        return start - (source["DTSTART"].dt - prop.dt)
    except TypeError:  # a date mixed with a datetime: no shift to undo
        return prop.dt


def _recurrence_key(value: date, zone: tzinfo, whole_day: bool) -> str:
    if isinstance(value, datetime) and not whole_day:
        return _instant(value, zone).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    # Outlook identifies an instance of a whole-day series by its local
    # midnight (RECURRENCE-ID;TZID=...:20200416T000000); the library matches
    # it by that wall date, and so do we, so the key stays "2020-04-16".
    return (value.date() if isinstance(value, datetime) else value).isoformat()


# An all-day date is a day somewhere between UTC+14 and UTC-12.
_EARLIEST_OFFSET, _LATEST_OFFSET = timedelta(hours=14), timedelta(hours=12)


def _overlaps(occurrence: Occurrence, window_start: datetime, window_end: datetime) -> bool:
    start, end = occurrence.start, occurrence.end
    if occurrence.all_day:
        return start - _EARLIEST_OFFSET < window_end and end + _LATEST_OFFSET > window_start
    if start == end:
        return window_start <= start < window_end
    return start < window_end and end > window_start
