"""Local wall-clock times laid out as instants, exact across DST changes.

Working hours are written in wall-clock time ("Monday 09:00-17:00 in
Europe/Berlin"); availability needs instants. Two kinds of wall time have no
single instant and are resolved the same way everywhere in the engine:

* a time in a spring-forward gap (02:30 on the night clocks jump from 02:00
  to 03:00) does not exist; it resolves to the first instant after the gap,
  so a range 02:30-04:00 that night starts at 03:00;
* a time in a fall-back fold (02:30 on the night 03:00 goes back to 02:00)
  happens twice; a range *start* takes the first occurrence and a range
  *end* the second, so a range keeps every wall time it names, the repeated
  ones included. (An end exactly where the repeat begins, 02:00 that night,
  takes the first: the repeated times are not before it.)

So a 00:00-24:00 day lasts 25 hours on a fall-back day and 23 on a
spring-forward day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from calmesh.engine.intervals import Interval, merge

__all__ = [
    "LocalRange",
    "Zone",
    "as_zone",
    "day_bounds",
    "local_dates",
    "local_to_utc",
    "working_hours",
]

Zone = str | tzinfo
"""An IANA zone name ("Europe/Berlin") or a tzinfo object."""

LocalRange = tuple[time | str, time | str]
"""A wall-clock range (start, end): `time` objects or "HH:MM" strings.

An end at or before the start lies on the next day, so (22:00, 02:00) is a
night shift and (00:00, 00:00) or ("00:00", "24:00") the whole day.
"""

_ONE_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)


def as_zone(tz: Zone) -> tzinfo:
    """The tzinfo for `tz`; raises `ZoneInfoNotFoundError` for an unknown name."""
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def local_to_utc(wall: datetime, tz: Zone, *, as_end: bool = False) -> datetime:
    """The UTC instant at which the clocks of `tz` read `wall` (naive; any tzinfo is ignored).

    A time in a DST gap gives the first instant after the gap. A time in a
    DST fold gives its first occurrence, or with `as_end=True` the instant
    that ends the range of wall times before it, which is the second
    occurrence unless `wall` is the very start of the repeated span.
    """
    zone = as_zone(tz)
    wall = wall.replace(tzinfo=None, fold=0)
    first = wall.replace(tzinfo=zone).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if _wall_at(first, zone) != wall:
        # The wall time never shows on the clock: it lies in a gap.
        return _first_instant_reading(wall, zone, min(first, second), max(first, second))
    # In a fold the second occurrence ends the range only when the clock
    # just before it reads earlier than `wall`, i.e. `wall` is repeated
    # after a stretch of earlier wall times, not where the repeat begins.
    if as_end and second != first and _wall_at(second - _TICK, zone) < wall:
        return second
    return first


def day_bounds(day: date, tz: Zone) -> Interval:
    """The local calendar day `day` in `tz`: local midnight to next local midnight.

    23 or 25 hours long on DST change days; consecutive days tile exactly.
    """
    return Interval(_midnight(day, tz), _midnight(day + _ONE_DAY, tz))


def local_dates(window: Interval, tz: Zone) -> list[date]:
    """The local dates in `tz` that share at least one instant with `window`."""
    zone = as_zone(tz)
    first = window.start.astimezone(zone).date()
    # The window is half-open, so its last instant is just before `end`.
    last = (window.end - _TICK).astimezone(zone).date()
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def working_hours(
    weekly: Mapping[int, Sequence[LocalRange]],
    tz: Zone,
    first_date: date,
    last_date: date,
    overrides: Mapping[date, Sequence[LocalRange]] | None = None,
) -> list[Interval]:
    """Weekly hours in `tz` laid out on each date from `first_date` to `last_date` inclusive.

    `weekly` maps a weekday (0 = Monday ... 6 = Sunday) to its ranges; a
    missing weekday is a day off. `overrides` maps a date to the ranges that
    replace that day's weekly hours; an empty list makes it a day off. A
    range belongs to the date it starts on, so a night shift may reach past
    `last_date`. Returns merged UTC intervals.
    """
    unknown = set(weekly) - set(range(7))
    if unknown:
        raise ValueError(f"weekdays are 0 (Monday) to 6 (Sunday), got {sorted(unknown)}")
    zone = as_zone(tz)
    overrides = overrides or {}
    laid_out: list[Interval] = []
    day = first_date
    while day <= last_date:
        ranges = overrides[day] if day in overrides else weekly.get(day.weekday(), ())
        for local_range in ranges:
            interval = _lay_out(day, local_range, zone)
            if interval is not None:
                laid_out.append(interval)
        day += _ONE_DAY
    return merge(laid_out)


def _lay_out(day: date, local_range: LocalRange, zone: tzinfo) -> Interval | None:
    """One range on one date, or None when it falls wholly in a DST gap."""
    start_time = _parse_time(local_range[0], is_end=False)
    end_time = _parse_time(local_range[1], is_end=True)
    end_day = day + _ONE_DAY if end_time <= start_time else day
    start = local_to_utc(datetime.combine(day, start_time), zone)
    end = local_to_utc(datetime.combine(end_day, end_time), zone, as_end=True)
    return Interval(start, end) if start < end else None


def _parse_time(value: time | str, *, is_end: bool) -> time:
    """A `time`, or "HH:MM[:SS]"; "24:00" (end of day) is accepted as an end only."""
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise ValueError(f"working hours are wall-clock times, got {value!r}")
        return value
    if value.strip() == "24:00":
        if not is_end:
            raise ValueError("24:00 can only end a range")
        # An end at or before the start means the next day, so 00:00 is 24:00.
        return time(0, 0)
    return time.fromisoformat(value.strip())


def _midnight(day: date, tz: Zone) -> datetime:
    return local_to_utc(datetime.combine(day, time(0, 0)), tz)


def _wall_at(instant: datetime, zone: tzinfo) -> datetime:
    """What the clocks of `zone` read at `instant`, as a naive datetime."""
    return instant.astimezone(zone).replace(tzinfo=None)


def _first_instant_reading(wall: datetime, zone: tzinfo, low: datetime, high: datetime) -> datetime:
    """The first instant in [low, high] whose wall time in `zone` is at or after `wall`.

    Used for a gap, where the wall clock jumps over `wall` somewhere between
    `low` (before the jump) and `high` (after it). zoneinfo does not expose
    the transition instant, but transitions fall on whole seconds, so a
    bisection over whole-second timestamps finds it exactly.
    """
    lo, hi = math.floor(low.timestamp()), math.ceil(high.timestamp())
    while lo < hi:
        mid = (lo + hi) // 2
        if _wall_at(datetime.fromtimestamp(mid, UTC), zone) >= wall:
            hi = mid
        else:
            lo = mid + 1
    return datetime.fromtimestamp(lo, UTC)
