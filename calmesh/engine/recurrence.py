"""Recurrence expansion: iCalendar data in, stored occurrences out.

The sync engine calls `expand` for each source over its rolling horizon and
saves the result as rows, so no request ever expands a rule. Expansion itself
is `recurring_ical_events` (RRULE, RDATE, EXDATE, overridden and cancelled
instances, X-WR-TIMEZONE); this module reads the data defensively around it
and turns every instance into an `Occurrence` in UTC.

Decisions that hold throughout:

* A floating time, or one whose TZID names no zone we know, is wall time in
  the calendar's X-WR-TIMEZONE if it has one, else in `default_tz`.
* Whole-day events keep their dates; `start`/`end` are those dates at 00:00
  UTC, a sorting convention only. They are kept when they overlap the window
  in any time zone, because the reader's zone is not known here.
* Bad data raises `CalendarDataError` and nothing else. A broken series is
  skipped and the rest of the file still expands.
* Expansion is bounded (see `Budget`): a rule is walked one instance at a
  time, never as a list, and stops at a cap, so a 250-byte `FREQ=SECONDLY`
  event costs a few thousand instances, not the worker's memory. What a cap
  cut is reported, and the rest of the calendar still expands.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
from dateutil.rrule import rrule
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from recurring_ical_events.series import Series
from recurring_ical_events.util import compare_greater, convert_to_datetime

__all__ = [
    "Budget",
    "CalendarDataError",
    "Occurrence",
    "expand",
    "parse_calendar",
    "split_by_uid",
    "zone_from_name",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One instance of an event, as the sync engine stores it.

    `start` and `end` are aware UTC datetimes with `start <= end` (zero length
    is possible). For a whole-day event they are `start_date` and `end_date`
    (exclusive) at 00:00 UTC; consumers place the dates in their own zone.
    `recurrence_id` is None for a single event, otherwise the instance's
    original start in UTC ("2026-03-30T07:00:00Z", or "2026-03-30" for a
    whole-day series); with `uid` it identifies the instance.
    """

    uid: str
    recurrence_id: str | None
    start: datetime
    end: datetime
    all_day: bool
    start_date: date | None
    end_date: date | None
    busy: bool
    status: str
    summary: str
    location: str
    description: str
    recurring: bool


class CalendarDataError(ValueError):
    """The data cannot be read as iCalendar; the message is for an end user."""


def zone_from_name(name: str) -> ZoneInfo | None:
    """The IANA zone for an IANA or Windows name ("W. Europe Standard Time"), or None."""
    name = name.strip()
    for candidate in (name, WINDOWS_TO_OLSON.get(name)):
        if candidate:
            try:
                return ZoneInfo(candidate)
            # ZoneInfo reports odd names ("Europe" is a directory) as OSError.
            except (ZoneInfoNotFoundError, ValueError, OSError):
                continue
    return None


# --- Parsing -----------------------------------------------------------------


def parse_calendar(data: bytes | str) -> icalendar.Calendar:
    """Read iCalendar data into one calendar of its events and time zones.

    Raises `CalendarDataError` with a message naming the line when it can.
    Only what expansion reads is parsed (calendar properties, VTIMEZONEs and
    VEVENTs without their VALARMs): icalendar tolerates a broken property
    only inside a VEVENT, so a bad to-do or alarm would otherwise lose the
    whole file. Several VCALENDARs in one file are merged.

    The result is normalised for `expand` and `split_by_uid`, which expect a
    calendar from here: every event has a UID, every TZID means what this
    file says it means, and X-WR-TIMEZONE is an IANA name or absent.
    """
    text = _decode(data)
    wanted = _events_and_zones(text)
    try:
        # Clients such as Evolution and Lightning write "/vendor/Europe/Berlin";
        # icalendar resolves it by its Olson suffix, which is what we want,
        # and warns about the guess.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", icalendar.GloballyUniqueTZIDGuessed)
            calendars = icalendar.Calendar.from_ical(wanted, multiple=True)
        calendar = calendars[0]
        for other in calendars[1:]:
            calendar.subcomponents.extend(other.subcomponents)
        _normalise(calendar)
    except ValueError as exc:
        raise CalendarDataError(_describe(exc, text)) from exc
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        # icalendar's internals tripping over input (a VTIMEZONE with two
        # TZIDs): their message would mean nothing to the user.
        raise CalendarDataError("malformed iCalendar: the data could not be parsed") from exc
    except OSError as exc:
        # icalendar looks TZIDs up as file names: do not show the server's paths.
        raise CalendarDataError("malformed iCalendar: a TZID is not a time zone name") from exc
    return calendar


def _decode(data: bytes | str) -> str:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            # Older Windows exporters write cp1252; a wrong guess costs an accent.
            data = data.decode("cp1252", errors="replace")
    return data.removeprefix("\ufeff")


def _events_and_zones(text: str) -> str:
    """The text of each VCALENDAR's properties, VTIMEZONEs and VEVENTs.

    Checks on the way that every BEGIN is closed, so a truncated file gets a
    message with a line number. An END with the wrong name closes the open
    component anyway, as icalendar does: the corpus has an exporter writing
    END:VTOOD, and a typo there should not lose every event. Content outside
    any VCALENDAR is ignored.
    """
    lines = text.split("\n")
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.upper() != "BEGIN:VCALENDAR":
        if not first:
            raise CalendarDataError("not an iCalendar file: it is empty")
        if first.startswith("<"):
            raise CalendarDataError("not an iCalendar file: it looks like a web page")
        raise CalendarDataError("not an iCalendar file: missing BEGIN:VCALENDAR")
    kept: list[str] = []
    stack: list[tuple[str, int]] = []
    keep = False
    for number, line in enumerate(lines, start=1):
        if line[:1] in (" ", "\t"):  # a folded continuation of the previous line
            if keep:
                kept.append(line)
            continue
        upper = line.strip().upper()
        if upper.startswith("BEGIN:"):
            stack.append((upper[6:].strip(), number))
            keep = _is_kept([name for name, _ in stack])
        elif upper.startswith("END:"):
            if not stack:
                keep = False
                continue
            if _is_kept([name for name, _ in stack]):
                # Write the END the open component needs, whatever the file says.
                kept.append(f"END:{stack[-1][0]}")
            stack.pop()
            keep = _is_kept([name for name, _ in stack])
            continue
        if keep and upper:
            kept.append(line)
    if stack:
        name, opened_at = stack[-1]
        raise CalendarDataError(
            f"malformed iCalendar: BEGIN:{name} at line {opened_at} is never closed "
            "(the file may be cut off)"
        )
    return "\n".join(kept)


def _is_kept(path: list[str]) -> bool:
    if not path or path[0] != "VCALENDAR":
        return False
    return len(path) == 1 or path[1] == "VTIMEZONE" or path[1:] == ["VEVENT"]


def _describe(exc: Exception, text: str) -> str:
    """A one-line message, with the line number if the error quotes a line or value."""
    message = " ".join(str(exc).split())[:200] or type(exc).__name__
    quoted = re.findall(r"'([^']{3,})'", message) + re.findall(r"got: (\S+)", message)
    for needle in quoted:
        for number, line in enumerate(text.split("\n"), start=1):
            if needle in line:
                return f"malformed iCalendar at line {number}: {message}"
    return f"malformed iCalendar: {message}"


def _normalise(calendar: icalendar.Calendar) -> None:
    # The library would use id(component) for a missing UID, which changes on
    # every run; a hash of the content (DTSTAMP aside) does not.
    for event in calendar.walk("VEVENT"):
        if isinstance(event.get("UID"), list):
            # The library keys series by UID and cannot hash a repeated one.
            uid = _text(event, "UID")
            event.pop("UID")
            event.add("UID", uid)
        if "UID" not in event:
            try:
                content = _stable_text(event)
            except _UNWRITABLE:
                content = repr(event).encode()
            event.add("UID", f"calmesh-{hashlib.sha256(content).hexdigest()[:32]}")
    _pin_custom_zones(calendar)
    if "X-WR-TIMEZONE" in calendar:
        # The library looks the name up with ZoneInfo and fails on a Windows
        # name or a typo; an unknown one falls back to default_tz.
        zone = zone_from_name(_text(calendar, "X-WR-TIMEZONE"))
        calendar.pop("X-WR-TIMEZONE")
        if zone is not None:
            calendar.add("X-WR-TIMEZONE", zone.key)


_ZONED_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE")


def _pin_custom_zones(calendar: icalendar.Calendar) -> None:
    """Make each custom TZID mean this file's own VTIMEZONE.

    icalendar caches a VTIMEZONE it cannot name (Outlook's "Customized Time
    Zone", "GMT Standard Time" with a definition) process-wide under its
    TZID, first definition wins. Another user's file with the same TZID, or
    one with no VTIMEZONE at all, would then silently get that definition.
    Zones from the IANA database are not affected and are left alone.
    """
    definitions: dict[str, icalendar.Timezone] = {}
    for vtimezone in calendar.walk("VTIMEZONE"):
        definitions.setdefault(_text(vtimezone, "TZID"), vtimezone)
    zones: dict[str, tzinfo | None] = {}
    for event in calendar.walk("VEVENT"):
        for name in _ZONED_PROPERTIES:
            for prop in _values(event.get(name)):
                if not isinstance(prop, (icalendar.vDDDTypes, icalendar.vDDDLists)):
                    continue  # a broken value: the library skips its series
                tzid = prop.params.get("TZID")
                if not tzid:
                    continue
                if tzid not in zones:
                    zones[tzid] = _own_zone(definitions.get(tzid)) or zone_from_name(tzid)
                for value in prop.dts:
                    value.dt = _rezone(value.dt, zones[tzid])


def _own_zone(vtimezone: icalendar.Timezone | None) -> tzinfo | None:
    if vtimezone is None:
        return None
    definition = vtimezone.copy(recursive=True)
    for observance in definition.subcomponents:
        # Outlook leaves TZNAME out; the zone's tzname() is then None, and
        # X-WR-TIMEZONE handling takes a None tzname for a floating time and
        # moves the event into the calendar's zone.
        if "TZNAME" not in observance:
            observance.add("TZNAME", _text(vtimezone, "TZID"))
    try:
        return definition.to_tz(lookup_tzid=False)  # built afresh, never from the cache
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def _rezone(value: object, zone: tzinfo | None) -> object:
    """Put a datetime (or a period's) from a non-IANA zone into `zone`; None makes it floating."""
    if isinstance(value, tuple):
        return tuple(_rezone(part, zone) for part in value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value if isinstance(value.tzinfo, ZoneInfo) else value.replace(tzinfo=zone)
    return value


def _values(prop: object) -> list:
    """A property's values: icalendar gives a list when a property repeats."""
    if prop is None:
        return []
    return prop if isinstance(prop, list) else [prop]


def _stable_text(event: icalendar.Event) -> bytes:
    """The event as iCalendar without DTSTAMP or alarms.

    Exporters such as Google stamp every event with the download time, so
    DTSTAMP would change a content hash on every fetch without changing any
    occurrence; alarms do not change occurrences either.
    """
    stable = event.copy()  # properties only, no alarms
    stable.pop("DTSTAMP", None)
    return stable.to_ical()


# What icalendar raises for parsed values it cannot write back, such as an
# RDATE period that ends before it starts.
_UNWRITABLE = (ValueError, TypeError)


def _text(component: icalendar.Component, name: str) -> str:
    values = _values(component.get(name))
    return str(values[0]) if values else ""


# --- Expansion ---------------------------------------------------------------


class _EventAdapter(recurring_ical_events.EventAdapter):
    @property
    def component(self) -> icalendar.Event:
        return self._component


class _Instance(recurring_ical_events.Occurrence):
    """An occurrence handed back as it is.

    The library's default copies the whole VEVENT for every instance, which
    was about 70% of the time for a few hundred daily and weekly series.
    """

    def as_component(self, keep_recurrence_attributes: bool) -> _Instance:
        return self

    @property
    def source(self) -> icalendar.Event:
        """The VEVENT this instance comes from: the master or an override."""
        return self._adapter.component


# Walking a rule to the window may cost this many steps per instance the
# budget allows: enough for any real series that cannot skip ahead (a COUNT,
# BYSETPOS, MONTHLY or YEARLY rule begun decades ago), not for a SECONDLY one.
WALK_FACTOR = 10


@dataclass
class Budget:
    """How much recurrence expansion may still produce.

    One budget spans every `expand` call for one calendar, so its cap holds
    across the calendar's objects. A series yields at most `per_series`
    instances inside the window and all series together `per_calendar`;
    walking the rules (from DTSTART, or from the last period before the window
    where that is exact) costs at most `WALK_FACTOR` times as many steps.
    Single events are not counted: each is one instance of one VEVENT
    received. What was cut is described in `faults`, one line per series.

    The defaults are far above what people schedule: a daily series over a
    13-month horizon has about 400 instances, one every two hours around the
    clock about 4,750; 50,000 is 125 daily series in one calendar.
    """

    per_series: int = 5_000
    per_calendar: int = 50_000
    # A rule whose filters never match (BYMONTH=2;BYMONTHDAY=30) yields nothing
    # but makes dateutil walk to the year 9999 first, several seconds a series,
    # out of reach of any step count: no series is begun after this (single
    # events still are: they cost nothing).
    seconds: float = 60.0
    clock: Callable[[], float] = time.monotonic
    instances: int = 0  # recurring instances produced so far (the sync adds what it keeps)
    steps: int = 0  # rule instances walked so far
    faults: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def out_of_time(self) -> bool:
        return self.clock() - self.started > self.seconds

    def give_back(self, instances: int) -> None:
        """Stored instances that are replaced no longer count."""
        self.instances = max(0, self.instances - instances)

    def step(self, walked: int) -> bool:
        """Count one more step of a series that walked ``walked`` so far; False
        once that series or the calendar has walked too far."""
        self.steps += 1
        return (
            walked <= self.per_series * WALK_FACTOR
            and self.steps <= self.per_calendar * WALK_FACTOR
        )

    def cut(self, uid: str, why: str) -> None:
        # The UID comes from the feed: short enough for the connection's last_error.
        self.faults.append(f"series {uid[:80]!r} {why}")


# The step of each frequency whose instances repeat exactly when its DTSTART
# moves by whole steps (MONTHLY and YEARLY steps have no fixed length).
_STEP = {
    "SECONDLY": timedelta(seconds=1),
    "MINUTELY": timedelta(minutes=1),
    "HOURLY": timedelta(hours=1),
    "DAILY": timedelta(days=1),
    "WEEKLY": timedelta(weeks=1),
}


class _WalkedRules(Series.RecurrenceRules):
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
    RecurrenceRules = _WalkedRules


class _Query(recurring_ical_events.CalendarQuery):
    # The library skips a bad series only for the errors it anticipates. Real
    # files also break as a missing DTSTART (KeyError), naive mixed with aware
    # values (TypeError), a rule it cannot read (ValueError), a year out of
    # range (OverflowError) or a repeated DTSTART, which reaches it as a list
    # (AttributeError); one such series must not lose the others.
    suppressed_errors = (ValueError, KeyError, TypeError, OverflowError, AttributeError)


_ONLY_EVENTS = (
    recurring_ical_events.ComponentsWithName(
        "VEVENT", adapter=_EventAdapter, series=_BoundedSeries, occurrence=_Instance
    ),
)

# What bad data raises below us, beyond what a single series can contain.
_DATA_ERRORS = (*_Query.suppressed_errors, OSError)


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
        zone = zone_from_name(_text(calendar, "X-WR-TIMEZONE")) or fallback
        series = _Series.of(calendar)
        query = recurring_ical_events.of(
            calendar, skip_bad_series=True, components=_ONLY_EVENTS, calendar_query=_Query
        )
        for one in query.series:
            occurrences.extend(_expand_series(one, window, zone, series, budget))
    except _DATA_ERRORS as exc:
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
    rules = one.recurrence if isinstance(one.recurrence, _WalkedRules) else None
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


def _instances(one: Series, start: datetime, stop: datetime) -> Iterator[_Instance]:
    # A series that breaks is skipped from there on, as the library's
    # skip_bad_series does: what it gave before the error is kept.
    with contextlib.suppress(*_Query.suppressed_errors):
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
            uid = _text(event, "UID")
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
    instances: Iterable[_Instance], zone: tzinfo, series: _Series
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
    status = _text(source, "STATUS").upper()
    if status == "CANCELLED":
        return None
    uid = _text(source, "UID")
    return {
        "uid": uid,
        "busy": _text(source, "TRANSP").upper() != "TRANSPARENT",
        "status": "tentative" if status == "TENTATIVE" else "confirmed",
        "summary": _text(source, "SUMMARY"),
        "location": _text(source, "LOCATION"),
        "description": _text(source, "DESCRIPTION"),
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


# --- Splitting ---------------------------------------------------------------


def split_by_uid(data: bytes | str | icalendar.Calendar) -> dict[str, str]:
    """One VCALENDAR text per UID, for change detection on iCal-URL feeds.

    Each text holds the calendar properties that expansion reads, the
    VTIMEZONEs its events use and every VEVENT with that UID (master and
    overrides), so expanding it gives exactly that UID's occurrences, and a
    hash of it changes only when they may (see `_stable_text` for what is
    left out). A UID whose events cannot be written back as iCalendar is
    left out and logged; its series is one the expansion skips as well.
    Keys are sorted; `data` is text or a calendar from `parse_calendar`.
    """
    calendar = data if isinstance(data, icalendar.Calendar) else parse_calendar(data)
    by_uid: dict[str, list[icalendar.Event]] = {}
    for event in calendar.walk("VEVENT"):
        by_uid.setdefault(_text(event, "UID"), []).append(event)
    definitions: dict[str, icalendar.Timezone] = {}
    for vtimezone in calendar.walk("VTIMEZONE"):
        definitions.setdefault(_text(vtimezone, "TZID"), vtimezone)
    header = icalendar.Calendar()
    for name in _CALENDAR_PROPERTIES:
        if name in calendar:
            header.add(name, _text(calendar, name))
    begin, end = header.to_ical().removesuffix(b"END:VCALENDAR\r\n"), b"END:VCALENDAR\r\n"
    texts: dict[str, str] = {}
    for uid in sorted(by_uid):
        events = by_uid[uid]
        tzids = sorted({tzid for event in events for tzid in _tzids(event)})
        zones = [definitions[tzid] for tzid in tzids if tzid in definitions]
        try:
            body = [zone.to_ical() for zone in zones] + [_stable_text(e) for e in events]
        except _UNWRITABLE:
            log.warning("split_by_uid: cannot write back the events of UID %r", uid)
            continue
        texts[uid] = b"".join([begin, *body, end]).decode()
    return texts


# What expansion reads from the VCALENDAR itself, plus what makes it valid.
_CALENDAR_PROPERTIES = ("VERSION", "PRODID", "CALSCALE", "X-WR-TIMEZONE")


def _tzids(event: icalendar.Event) -> Iterator[str]:
    for value in event.values():
        for prop in _values(value):
            tzid = getattr(prop, "params", {}).get("TZID")
            if tzid:
                yield str(tzid)
