"""The calendar page's week: a time grid of days × hours (positions from
:mod:`calmesh.engine.weekgrid`), and the same events as a day list for phones.

Working hours of the calendar's booking pages shade the grid and bound the day's
availability, so "free" means bookable time, not 00:00-24:00.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from calmesh.db import utcnow
from calmesh.engine.availability import Availability
from calmesh.engine.hours import day_bounds
from calmesh.engine.intervals import Interval, intersect
from calmesh.engine.timefmt import clock_time
from calmesh.engine.weekgrid import ROWS_PER_HOUR, Block, DayFrame, Placed, day_frame, now_row
from calmesh.engine.weekgrid import place_day as place
from calmesh.models import UnifiedCalendar
from calmesh.services import booking_pages as pages
from calmesh.services import calendars as service

PALETTE_SIZE = 8  # .src-0 ... .src-7 in app.css
DEFAULT_FIRST_HOUR = 8  # where the grid opens without working hours or events


@dataclass
class Item:
    """One event of the week as the page shows it."""

    event: service.Event
    conflict: bool
    colour: str
    when: str  # "09:00–10:30", "all day", or "until 02:00" for a part of a longer one

    @property
    def busy(self):
        return self.event.busy_event

    @property
    def is_booking(self) -> bool:
        return self.event.booking_uid is not None


@dataclass
class Day:
    day: date
    frame: DayFrame
    all_day: list[Item] = field(default_factory=list)
    timed: list[tuple[Placed, Item]] = field(default_factory=list)
    open: list[Placed] = field(default_factory=list)  # working hours, for the shading
    now: int | None = None

    @property
    def items(self) -> list[Item]:
        """All of the day's events in order, all-day ones first: the phone's list."""
        return [*self.all_day, *(item for _, item in self.timed)]


def colours(sources) -> dict:
    return {s.id: f"src-{i % PALETTE_SIZE}" for i, s in enumerate(sources)}


def _when(start: datetime, end: datetime, day: date, zone: ZoneInfo, clock: str) -> str:
    """The event's times on ``day``: "09:00–10:30", "from 22:00", "until 02:00"."""
    first, last = start.astimezone(zone), end.astimezone(zone)
    begins, ends = clock_time(first, clock), clock_time(last, clock)
    if first.date() < day:
        return "all day" if last.date() > day else f"until {ends}"
    return f"from {begins}" if last.date() > day else f"{begins}–{ends}"


def _all_day_dates(busy) -> tuple[date, date]:
    last = busy.end_date - timedelta(days=1) if busy.end_date else busy.start_date
    return busy.start_date, max(last, busy.start_date)


def week(
    calendar: UnifiedCalendar,
    first_day: date,
    sources,
    now: datetime | None = None,
    clock: str = "24",
) -> dict:
    """The week from ``first_day`` (the owner's first weekday, whichever it is) in the
    calendar's zone: its days with placed events, the working hours, the now-line
    and how many events conflict; times on the owner's ``clock`` ("24" or "12")."""
    zone = ZoneInfo(calendar.timezone)
    start = day_bounds(first_day, zone).start
    end = day_bounds(first_day + timedelta(days=6), zone).end
    found = service.with_bookings(calendar, service.events(calendar, start, end), start, end)
    conflicting: set[int] = set()
    for conflict in service.conflicts_among(calendar, found):
        conflicting |= {id(conflict.a), id(conflict.b)}
    palette = colours(sources)
    hours = pages.hours_on(calendar, start, end)
    now = now or utcnow()
    days = [Day(d, day_frame(d, zone)) for d in (first_day + timedelta(days=i) for i in range(7))]

    def item(event: service.Event, when: str) -> Item:
        colour = "booking" if event.source is None else palette.get(event.source.id, "src-0")
        return Item(event, id(event.busy_event) in conflicting, colour, when)

    for event in (e for e in found if e.busy_event.all_day):
        first, last = _all_day_dates(event.busy_event)
        for d in days:
            if first <= d.day <= last:
                d.all_day.append(item(event, "all day"))
    blocks = {id(e.busy_event): e for e in found if not e.busy_event.all_day}
    timed = [Block(key, e.busy_event.start, e.busy_event.end) for key, e in blocks.items()]
    for d in days:
        for placed in place(timed, d.day, zone):
            busy = blocks[placed.key].busy_event
            d.timed.append(
                (placed, item(blocks[placed.key], _when(busy.start, busy.end, d.day, zone, clock)))
            )
        d.open = place([Block(i, h.start, h.end) for i, h in enumerate(hours)], d.day, zone)
        d.now = now_row(now, d.day, zone)
    return {
        "days": days,
        "zone": zone,
        "conflicts": len(conflicting),
        "hours": [clock_time(datetime(2000, 1, 1, h), clock) for h in range(24)],
        "rows_per_hour": ROWS_PER_HOUR,
        "scroll_row": _first_row(days),
        "has_hours": bool(hours),
    }


def _first_row(days: list[Day]) -> int:
    """The row the grid opens at: the earliest working hour or event, else 08:00."""
    rows = [p.row for d in days for p in d.open] or [p.row for d in days for p, _ in d.timed]
    first = min(rows, default=DEFAULT_FIRST_HOUR * ROWS_PER_HOUR + 1)
    return max(first - ROWS_PER_HOUR, 1)  # an hour of context above


def day_availability(calendar: UnifiedCalendar, day: date, clock: str = "24") -> dict:
    """The day's busy time, and its free time within the working hours of the
    calendar's booking pages (the whole day when it has none)."""
    zone = ZoneInfo(calendar.timezone)
    bounds = day_bounds(day, zone)
    found: Availability = service.availability_of(calendar, bounds.start, bounds.end)
    hours = pages.hours_on(calendar, bounds.start, bounds.end)
    free = intersect(found.free, hours) if hours else found.free
    return {
        "busy": [_span(i, day, zone, clock) for i in found.busy],
        "free": [_span(i, day, zone, clock) for i in free],
        "hours": [_span(i, day, zone, clock) for i in hours],
        "has_pages": pages.has_active_pages(calendar),
    }


def _span(interval: Interval, day: date, zone: ZoneInfo, clock: str) -> str:
    start, end = interval.start.astimezone(zone), interval.end.astimezone(zone)
    ends = (
        ("24:00" if clock == "24" else "midnight") if end.date() > day else clock_time(end, clock)
    )
    return f"{clock_time(start, clock)}–{ends}"
