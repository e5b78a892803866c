"""Busy and free time of a calendar from its events.

The rules (SPEC §5 "Availability"): events marked free (iCalendar
TRANSP:TRANSPARENT, Google `transparency: transparent`, Graph
`showAs: free`) and cancelled events never block; all-day events block
their whole days in the *calendar's* zone, not in UTC or the asker's zone;
tentative events block unless the caller says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, get_args

from calmesh.engine.hours import Zone, as_zone, day_bounds
from calmesh.engine.intervals import Interval, clip, intersect, merge, near, subtract

__all__ = [
    "Availability",
    "BusyEvent",
    "Status",
    "availability",
    "blocking_intervals",
    "event_span",
    "is_blocking",
]

Status = Literal["confirmed", "tentative", "cancelled"]


@dataclass(frozen=True)
class BusyEvent:
    """One event (one occurrence of a recurring one) as the engine sees it.

    `start`/`end` are timezone-aware and used for timed events only. For an
    all-day event (`all_day=True`) the dates count instead: it covers
    `start_date` up to, not including, `end_date`, as iCalendar's DTEND; a
    missing or non-advancing `end_date` means the one day `start_date`.
    `busy=False` marks an event shown as free.
    """

    start: datetime
    end: datetime
    all_day: bool = False
    start_date: date | None = None
    end_date: date | None = None
    busy: bool = True
    status: Status = "confirmed"
    source_id: int | str | None = None
    summary: str = ""
    uid: str = ""

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"BusyEvent {name} must be timezone-aware, got {value!r}")
        if self.status not in get_args(Status):
            raise ValueError(f"unknown event status {self.status!r}")
        if self.all_day and self.start_date is None:
            raise ValueError("an all-day BusyEvent needs start_date")


@dataclass(frozen=True)
class Availability:
    """Busy and free time inside one window, each sorted, merged and in UTC."""

    busy: list[Interval]
    free: list[Interval]


def is_blocking(event: BusyEvent, *, tentative_busy: bool = True) -> bool:
    """Whether `event` makes its time busy."""
    if not event.busy or event.status == "cancelled":
        return False
    return tentative_busy or event.status != "tentative"


def event_span(event: BusyEvent, tz: Zone) -> Interval | None:
    """The instants `event` occupies, all-day events taken in the calendar zone `tz`.

    None for a timed event that lasts no time (or ends before it starts):
    it occupies no instant, so it can block nothing.
    """
    # __post_init__ guarantees an all-day event its start_date.
    if event.all_day and event.start_date is not None:
        last_day = event.start_date
        if event.end_date is not None and event.end_date > event.start_date:
            last_day = event.end_date - timedelta(days=1)
        return Interval(day_bounds(event.start_date, tz).start, day_bounds(last_day, tz).end)
    if event.start < event.end:
        return Interval(event.start, event.end)
    return None


def blocking_intervals(
    events: Iterable[BusyEvent], tz: Zone, tentative_busy: bool = True
) -> list[Interval]:
    """The merged time that `events` block, all-day events taken in the calendar zone `tz`."""
    zone = as_zone(tz)
    spans = (
        event_span(event, zone)
        for event in events
        if is_blocking(event, tentative_busy=tentative_busy)
    )
    return merge(span for span in spans if span is not None)


def availability(
    events: Iterable[BusyEvent],
    window: Interval,
    tz: Zone,
    *,
    working_hours: list[Interval] | None = None,
    min_duration: timedelta | None = None,
    tentative_busy: bool = True,
) -> Availability:
    """Busy and free time of a calendar in zone `tz` within `window`.

    `busy` is the blocked time clipped to `window`. `free` is `window` (or,
    when `working_hours` is given, the working hours inside `window`; an
    empty list means no working time at all) minus busy time, without the
    free ranges shorter than `min_duration`.
    """
    return free_time(
        blocking_intervals(events, tz, tentative_busy), window, working_hours, min_duration
    )


def free_time(
    blocked: list[Interval],
    window: Interval,
    working_hours: list[Interval] | None = None,
    min_duration: timedelta | None = None,
) -> Availability:
    """:func:`availability` from already merged blocked time (sorted, disjoint),
    as a cache of it keeps; only the part near ``window`` is looked at."""
    busy = clip(near(blocked, window), window)
    open_time = [window] if working_hours is None else intersect(working_hours, [window])
    free = subtract(open_time, busy)
    if min_duration is not None:
        free = [piece for piece in free if piece.duration >= min_duration]
    return Availability(busy=busy, free=free)
