"""The bookable slots of a booking page (SPEC §5 "Slots" and "Book").

A page's rules are written in its owner's wall-clock time; slots are UTC
instants. The candidates are laid out per working-hours range of each local
day with :func:`calmesh.engine.hours.working_hours`, so a 09:00 start is 09:00
local on both sides of a DST change, a range across a spring-forward gap
offers no time that never shows on the clock, and a whole fall-back day
offers 25 hours. Starts step by the slot interval from each range's own
start (never from "now" or from the asked range, so the grid of a day does
not depend on who asks when), and a slot fits inside one range.

A candidate is then bookable when it is not in the past or inside the
minimum notice, lies on a local date of the booking window, falls on a day
and ISO week whose booking limits are not reached, and, widened by the
buffers, overlaps no busy time and no booking.

:func:`check_slot` re-checks one start for the "Book" request through the
very same generation, so a start is bookable exactly when the slot list
offered it, and otherwise says why.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfoNotFoundError

from calmesh.engine.hours import LocalRange, Zone, as_zone, day_bounds, local_dates, working_hours
from calmesh.engine.intervals import Interval, Timeline, from_micros, merge, micros, near

__all__ = [
    "BEYOND_WINDOW",
    "DAILY_LIMIT",
    "DURATION_NOT_OFFERED",
    "IN_THE_PAST",
    "NOT_A_SLOT_START",
    "OUTSIDE_HOURS",
    "TAKEN",
    "WEEKLY_LIMIT",
    "Slot",
    "SlotRules",
    "check_slot",
    "generate_slots",
    "group_by_date",
]

# Why check_slot refuses a start; names for callers that map them to errors.
# (Too little notice reads "too soon: at least N minutes' notice".)
DURATION_NOT_OFFERED = "duration not offered"
IN_THE_PAST = "in the past"
BEYOND_WINDOW = "beyond the booking window"
OUTSIDE_HOURS = "outside the page's hours"
NOT_A_SLOT_START = "not a slot start"
DAILY_LIMIT = "the daily limit is reached"
WEEKLY_LIMIT = "the weekly limit is reached"
TAKEN = "taken"

_ONE_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)
_MINUTE = 60_000_000  # in micros
# Any Monday: laying out one week of the weekly hours validates all of them.
_A_MONDAY = date(2026, 1, 5)


@dataclass(frozen=True)
class SlotRules:
    """A booking page's slot settings. Minutes are whole minutes; dates are
    local dates in `timezone`. Invalid settings raise `ValueError` here, so a
    page that was stored can always generate.

    `weekly_hours` maps a weekday (0 = Monday ... 6 = Sunday) to wall-clock
    ranges ("09:00", "17:00"); "24:00" may end a range and an end at or
    before its start lies on the next day. `date_overrides` replaces the
    weekly ranges of a date; an empty list makes it a day off.

    The booking window is `window_start`..`window_end` (inclusive; either
    side may stay open) when either is set, else today..today +
    `window_days` (today is day 0), else unbounded. `daily_limit` and
    `weekly_limit` count bookings starting on the local date, or in the ISO
    week (Monday to Sunday, local); when a count reaches its limit the day or
    week offers nothing more.
    """

    timezone: str
    weekly_hours: Mapping[int, Sequence[LocalRange]]
    date_overrides: Mapping[date, Sequence[LocalRange]] = field(default_factory=dict)
    durations: tuple[int, ...] = (30,)
    slot_interval: int | None = None
    buffer_before: int = 0
    buffer_after: int = 0
    min_notice: int = 0
    window_days: int | None = 60
    window_start: date | None = None
    window_end: date | None = None
    daily_limit: int | None = None
    weekly_limit: int | None = None

    def __post_init__(self) -> None:
        try:
            zone = as_zone(self.timezone)
        except ZoneInfoNotFoundError as error:
            raise ValueError(f"unknown time zone {self.timezone!r}") from error
        if not self.durations or any(minutes <= 0 for minutes in self.durations):
            raise ValueError(f"durations must be positive minutes, got {self.durations!r}")
        if self.slot_interval is not None and self.slot_interval <= 0:
            raise ValueError(f"slot_interval must be positive, got {self.slot_interval}")
        for name in ("buffer_before", "buffer_after", "min_notice", "window_days"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} cannot be negative, got {value}")
        for name in ("daily_limit", "weekly_limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if (
            self.window_start is not None
            and self.window_end is not None
            and self.window_start > self.window_end
        ):
            raise ValueError("window_start must not be after window_end")
        # Bad weekdays or times fail now rather than on a visitor's request.
        working_hours(self.weekly_hours, zone, _A_MONDAY, _A_MONDAY + 6 * _ONE_DAY)
        for day, ranges in self.date_overrides.items():
            working_hours({}, zone, day, day, {day: ranges})


@dataclass(frozen=True, order=True)
class Slot:
    """A bookable time: `start <= t < end`, both aware UTC."""

    start: datetime
    end: datetime


def generate_slots(
    rules: SlotRules,
    *,
    duration: int,
    range_start: datetime,
    range_end: datetime,
    busy: Sequence[Interval] | Timeline,
    bookings: Sequence[Interval],
    now: datetime,
) -> list[Slot]:
    """The bookable slots of `duration` minutes starting in [range_start, range_end), sorted.

    `busy` is the owner's busy time, merged (sorted and disjoint, as
    `blocking_intervals` returns it), or its :class:`Timeline` (which a caller
    may build once and share): it is searched by bisection, never scanned.
    `bookings` are the owner's pending and accepted bookings in any order;
    they block like busy time and count toward the limits, so for the weekly
    limit pass those of the ISO weeks the range touches (and leave out a
    booking that is being rescheduled). Work grows with the days
    in the range, not with the length of `busy`; keep the range to about
    two months. Raises `ValueError` for a duration the page does not offer
    or a naive datetime.
    """
    if duration not in rules.durations:
        raise ValueError(f"duration {duration} is not offered: {sorted(rules.durations)}")
    _require_aware(range_start=range_start, range_end=range_end, now=now)
    zone = as_zone(rules.timezone)
    # Notice and window are bounds on the start instant: clip the range to them.
    opens, closes = _window(rules, zone, now)
    low, high = max(range_start, _earliest(rules, now)), range_end
    if opens is not None:
        low = max(low, opens)
    if closes is not None:
        high = min(high, closes)
    if low >= high:
        return []
    days = local_dates(Interval(low, high), zone)
    full = _limited_days(rules, zone, bookings, days)
    # Everything below in integer microseconds: a candidate costs two bisections.
    before, after = rules.buffer_before * _MINUTE, rules.buffer_after * _MINUTE
    length, step = duration * _MINUTE, (rules.slot_interval or duration) * _MINUTE
    low_us, high_us = micros(low), micros(high)
    if isinstance(busy, Timeline):
        busy_line = busy
    else:
        # A plain list: only the stretch that can block a slot here, found by bisection.
        reach = Interval(
            low - timedelta(microseconds=before), high + timedelta(microseconds=length + after)
        )
        busy_line = Timeline(near(busy, reach))
    booked = Timeline(merge(bookings))
    # Timeline.hits, written out: this loop runs for every candidate.
    busy_starts, busy_ends, busy_count = busy_line.starts, busy_line.ends, len(busy_line)
    starts: set[int] = set()
    # A range started the day before may reach past midnight into the first day.
    for opens_at, closes_at in _ranges(rules, zone, days[0] - _ONE_DAY, days[-1]):
        for start in _grid(opens_at, closes_at, length, step, low_us, high_us):
            guard_low, guard_high = start - before, start + length + after
            index = bisect_right(busy_ends, guard_low)
            if index < busy_count and busy_starts[index] < guard_high:
                continue
            if booked and booked.hits(guard_low, guard_high):
                continue
            if full and from_micros(start).astimezone(zone).date() in full:
                continue
            starts.add(start)
    lasting = timedelta(microseconds=length)
    return [Slot(at, at + lasting) for at in map(from_micros, sorted(starts))]


def check_slot(
    rules: SlotRules,
    *,
    start: datetime,
    duration: int,
    busy: Sequence[Interval] | Timeline,
    bookings: Sequence[Interval],
    now: datetime,
) -> str | None:
    """None when `start` is bookable for `duration` minutes, else a readable reason.

    Bookable means exactly: :func:`generate_slots` offers this start (it is
    asked for the one-microsecond range at `start`). Only when it does not
    are the rules gone through in order to say why: the duration, the past,
    the notice, the window, the hours, the slot grid, the limits, and
    finally busy time or a booking ("taken").
    """
    if duration not in rules.durations:
        return DURATION_NOT_OFFERED
    _require_aware(start=start, now=now)
    offered = generate_slots(
        rules,
        duration=duration,
        range_start=start,
        range_end=start + _TICK,
        busy=busy,
        bookings=bookings,
        now=now,
    )
    if offered:
        return None
    zone = as_zone(rules.timezone)
    if start < now:
        return IN_THE_PAST
    if start < _earliest(rules, now):
        return f"too soon: at least {rules.min_notice} minutes' notice"
    opens, closes = _window(rules, zone, now)
    if (opens is not None and start < opens) or (closes is not None and start >= closes):
        return BEYOND_WINDOW
    length, step = duration * _MINUTE, (rules.slot_interval or duration) * _MINUTE
    at = micros(start)
    day = start.astimezone(zone).date()
    fitting = [
        (opens_at, closes_at)
        for opens_at, closes_at in _ranges(rules, zone, day - _ONE_DAY, day)
        if opens_at <= at and at + length <= closes_at
    ]
    if not fitting:
        return OUTSIDE_HOURS
    if not any(_grid(*hours, length, step, at, at + 1) for hours in fitting):
        return NOT_A_SLOT_START
    return _limited_days(rules, zone, bookings, [day]).get(day, TAKEN)


def group_by_date(slots: Iterable[Slot], tz: Zone) -> dict[date, list[Slot]]:
    """The slots by the local date of their start in `tz`, the visitor's zone; all in order."""
    zone = as_zone(tz)
    groups: dict[date, list[Slot]] = {}
    group: list[Slot] = []
    next_day: datetime | None = None
    for slot in sorted(slots, key=_start_and_end):
        # In order, so a day's slots run until its next local midnight: one
        # conversion per day, not per slot.
        if next_day is None or slot.start >= next_day:
            day = slot.start.astimezone(zone).date()
            next_day = _next_midnight(zone, day)
            group = groups.setdefault(day, [])
        group.append(slot)
    return groups


@lru_cache(maxsize=4096)
def _next_midnight(zone: tzinfo, day: date) -> datetime:
    """The instant `day` ends in `zone` (the same for every caller: laid out once)."""
    return day_bounds(day, zone).end


def _start_and_end(slot: Slot) -> tuple[datetime, datetime]:
    return slot.start, slot.end


def _require_aware(**values: datetime) -> None:
    for name, value in values.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def _earliest(rules: SlotRules, now: datetime) -> datetime:
    """The first instant a slot may start: `now` plus the minimum notice."""
    return now + timedelta(minutes=rules.min_notice)


def _window(
    rules: SlotRules, zone: tzinfo, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """The booking window as instants [opens, closes); None where it is open-ended.

    A start lies on a window date exactly when it lies between the first
    date's midnight and the midnight after the last date (local days tile).
    """
    if rules.window_start is not None or rules.window_end is not None:
        first, last = rules.window_start, rules.window_end
    elif rules.window_days is not None:
        first = now.astimezone(zone).date()
        last = first + timedelta(days=rules.window_days)
    else:
        return None, None
    return (
        day_bounds(first, zone).start if first is not None else None,
        day_bounds(last, zone).end if last is not None else None,
    )


def _ranges(rules: SlotRules, zone: tzinfo, first: date, last: date) -> Iterator[tuple[int, int]]:
    """Each working-hours range of the dates `first`..`last`, laid out on its own,
    as (start, end) in micros.

    One at a time because `working_hours` merges touching ranges, and the
    grid starts at each range's own start.
    """
    day = first
    while day <= last:
        ranges = rules.date_overrides.get(day, rules.weekly_hours.get(day.weekday(), ()))
        for local_range in ranges:
            yield from _laid_out(zone, day, tuple(local_range))
        day += _ONE_DAY


@lru_cache(maxsize=16384)
def _laid_out(zone: tzinfo, day: date, local_range: LocalRange) -> tuple[tuple[int, int], ...]:
    """One wall-clock range on one date as instants (none when it falls in a DST gap);
    the same for every page and request, so laid out once per process."""
    laid = working_hours({}, zone, day, day, {day: [local_range]})
    return tuple((micros(hours.start), micros(hours.end)) for hours in laid)


def _grid(opens_at: int, closes_at: int, length: int, step: int, low: int, high: int) -> range:
    """The starts `opens_at + k * step` in [low, high) with room for `length` before
    `closes_at` (all micros)."""
    # Ceiling division: the first step at or after `low`.
    first = opens_at + max(0, -((opens_at - low) // step)) * step
    return range(first, min(high, closes_at - length + 1), step)


def _limited_days(
    rules: SlotRules, zone: tzinfo, bookings: Iterable[Interval], days: Sequence[date]
) -> dict[date, str]:
    """The dates among `days` whose daily or weekly limit is reached, with the reason."""
    if rules.daily_limit is None and rules.weekly_limit is None:
        return {}
    monday = days[0] - timedelta(days=days[0].weekday())
    sunday = days[-1] + timedelta(days=6 - days[-1].weekday())
    counted = Interval(day_bounds(monday, zone).start, day_bounds(sunday, zone).end)
    per_day = Counter(
        booking.start.astimezone(zone).date() for booking in bookings if booking.start in counted
    )
    per_week = Counter[date]()
    for day, count in per_day.items():
        per_week[_monday_of(day)] += count
    full: dict[date, str] = {}
    for day in days:
        if rules.daily_limit is not None and per_day[day] >= rules.daily_limit:
            full[day] = DAILY_LIMIT
        elif rules.weekly_limit is not None and per_week[_monday_of(day)] >= rules.weekly_limit:
            full[day] = WEEKLY_LIMIT
    return full


def _monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())
