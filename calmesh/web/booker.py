"""The booker: time zone and clock controls, a month view, the chosen day's times.

One booker serves the booking page and a visitor's reschedule
(:mod:`calmesh.web.public` holds their routes). Its whole state (zone, clock,
duration, month, day, start) travels in plain links and forms, so every step
works without JavaScript. The slots come from
:func:`calmesh.services.public_booking.free_slots`, the same objects the REST
API serialises; times are shown in the visitor's zone.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import request, url_for

from calmesh.db import utcnow
from calmesh.models import BookingPage
from calmesh.schema import iana_zones, iso
from calmesh.services import public_booking

# Offered first in the zone picker, west to east (the visitor's detected zone
# comes before them, in the browser).
COMMON_ZONES = (
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)


@cache
def zones() -> list[str]:
    return sorted(iana_zones())


@cache
def zone_groups() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every zone once: the common ones first, then the rest by region ("Europe"),
    zones without a region ("UTC") under "Other". The booker's select lists them so;
    booker.js reads that select once to build its searchable picker."""
    common = tuple(zone for zone in COMMON_ZONES if zone in iana_zones())
    regions: dict[str, list[str]] = {}
    for zone in zones():
        if zone not in common:
            region = zone.split("/", 1)[0] if "/" in zone else "Other"
            regions.setdefault(region, []).append(zone)
    return (("Common", common), *((r, tuple(z)) for r, z in sorted(regions.items())))


# --- formatting ---------------------------------------------------------------------


def clock_time(moment: datetime, clock: str) -> str:
    if clock == "12":
        return f"{moment.hour % 12 or 12}:{moment:%M}{'am' if moment.hour < 12 else 'pm'}"
    return f"{moment:%H:%M}"


def long_date(day: date) -> str:
    return f"{day:%A}, {day.day} {day:%B} {day.year}"


def span(start: datetime, end: datetime, tz: str, clock: str) -> str:
    """'Monday, 16 March 2026, 09:00–09:30' in ``tz``."""
    zone = ZoneInfo(tz)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    return (
        f"{long_date(local_start.date())}, "
        f"{clock_time(local_start, clock)}–{clock_time(local_end, clock)}"
    )


def minutes_label(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def is_web_url(text: str) -> bool:
    """Only these become links: a location such as ``javascript:...`` stays text."""
    return text.startswith(("https://", "http://")) and " " not in text


# --- the booker's state, read from the query string or the form -----------------------


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value and len(value) == 10 else None
    except ValueError:
        return None


def _month(value: str | None) -> date | None:
    return _day(f"{value}-01") if value and len(value) == 7 else None


def _add_month(first: date, months: int = 1) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(tz))


@dataclass(frozen=True)
class Time:
    label: str
    start: str  # UTC ISO 8601, as the links carry it


@dataclass(frozen=True)
class Cell:
    day: date
    label: str  # for screen readers: "Monday, 16 March 2026, 8 times"
    times: int
    selected: bool
    today: bool


@dataclass
class Booker:
    """Who is looking at which month, day and time, in which zone and clock.

    ``link(**changes)`` is the URL of the same view with some of it changed;
    every link keeps the rest (zone, clock, duration, embed, token).
    """

    page: BookingPage
    endpoint: str
    path: dict[str, str]  # the endpoint's path arguments
    fixed: dict[str, str]  # query parameters every link repeats (the manage token)
    tz: str
    duration: int
    clock: str
    month: date | None
    day: date | None
    start: datetime | None
    embed: bool = False
    detect: tuple[str, ...] = ()
    now: datetime = field(default_factory=utcnow)
    slots: dict[date, list[Time]] = field(default_factory=dict)

    @classmethod
    def read(
        cls,
        page: BookingPage,
        endpoint: str,
        path: dict[str, str],
        values: Any,
        *,
        zone: str,
        duration: int | None = None,
        fixed: dict[str, str] | None = None,
        detect: tuple[str, ...] = ("tz", "clock"),
    ) -> Booker:
        tz = values.get("tz") if values.get("tz") in iana_zones() else None
        clock = values.get("clock") if values.get("clock") in ("12", "24") else None
        wanted = values.get("duration", "")
        if duration is None:
            duration = int(wanted) if wanted.isdigit() and int(wanted) in page.durations else None
        return cls(
            page=page,
            endpoint=endpoint,
            path=path,
            fixed=fixed or {},
            tz=tz or zone,
            duration=duration or page.durations[0],
            clock=clock or "24",
            month=_month(values.get("month")),
            day=_day(values.get("date")),
            start=public_booking.read_start(values.get("start")),
            embed=request.args.get("embed") == "1",
            detect=tuple(name for name in detect if not {"tz": tz, "clock": clock}[name]),
        )

    # -- links ----------------------------------------------------------------------
    def state(self, **changes: Any) -> dict[str, str]:
        params: dict[str, Any] = {
            "tz": self.tz,
            "clock": self.clock,
            "duration": self.duration if len(self.page.durations) > 1 else None,
            "month": f"{self.month:%Y-%m}" if self.month else None,
            "date": self.day.isoformat() if self.day else None,
            "start": None,
            "embed": "1" if self.embed else None,
            **changes,
        }
        return {k: str(v) for k, v in params.items() if v not in (None, "")}

    def link(self, **changes: Any) -> str:
        return url_for(self.endpoint, **self.path, **self.fixed, **self.state(**changes))

    def base(self) -> str:
        """The URL a GET form submits to; it repeats ``fixed`` and the state as inputs."""
        return url_for(self.endpoint, **self.path)

    def post_url(self) -> str:
        """Where the booking form goes: the page itself, still framable when embedded."""
        return url_for(self.endpoint, **self.path, **({"embed": "1"} if self.embed else {}))

    # -- the month and its times ------------------------------------------------------
    def today(self) -> date:
        return self.now.astimezone(ZoneInfo(self.tz)).date()

    def first_month(self) -> date:
        first = self.today().replace(day=1)
        opens = self.page.window_start
        return max(first, opens.replace(day=1)) if opens else first

    def last_month(self) -> date:
        """The month of the last bookable date (a year ahead for an open window)."""
        today = self.now.astimezone(ZoneInfo(self.page.timezone)).date()
        if self.page.window_end:
            last = self.page.window_end
        elif self.page.window_days:
            last = today + timedelta(days=self.page.window_days)
        else:
            last = today + timedelta(days=366)
        return max(last.replace(day=1), self.first_month())

    def load(self) -> None:
        """Fill ``slots`` for the month (the chosen day's, or the first with times),
        and choose the day: the asked one, else the month's first with times."""
        asked = self.month or (self.day.replace(day=1) if self.day else None)
        self.month = min(max(asked or self.first_month(), self.first_month()), self.last_month())
        self.slots = self.month_slots()
        if asked is None and not self.slots and self.month < self.last_month():
            self.month = _add_month(self.month)  # nothing left this month: show the next
            self.slots = self.month_slots()
        if self.day is None or self.day.replace(day=1) != self.month:
            self.day = min(self.slots) if self.slots else None

    def month_slots(self) -> dict[date, list[Time]]:
        assert self.month is not None
        start = max(_midnight(self.month, self.tz), self.now)
        end = _midnight(_add_month(self.month), self.tz)
        if end <= start:
            return {}
        query = public_booking.slot_query(self.page, start, end, self.tz, self.duration)
        zone = ZoneInfo(self.tz)
        return {
            day: [
                Time(clock_time(s.start.astimezone(zone), self.clock), iso(s.start)) for s in times
            ]
            for day, times in public_booking.free_slots(query).items()
        }

    def weeks(self) -> list[list[Cell | None]]:
        assert self.month is not None
        today = self.today()
        rows = calendar.Calendar().monthdatescalendar(self.month.year, self.month.month)
        return [
            [
                Cell(
                    day=day,
                    label=_cell_label(day, len(self.slots.get(day, []))),
                    times=len(self.slots.get(day, [])),
                    selected=day == self.day,
                    today=day == today,
                )
                if day.month == self.month.month
                else None
                for day in week
            ]
            for week in rows
        ]

    def previous_month(self) -> date | None:
        assert self.month is not None
        return _add_month(self.month, -1) if self.month > self.first_month() else None

    def next_month(self) -> date | None:
        assert self.month is not None
        return _add_month(self.month) if self.month < self.last_month() else None

    def chosen(self) -> str:
        """The chosen start as the visitor reads it."""
        assert self.start is not None
        end = self.start + timedelta(minutes=self.duration)
        return span(self.start, end, self.tz, self.clock)

    def start_day(self) -> date | None:
        return self.start.astimezone(ZoneInfo(self.tz)).date() if self.start else None

    def day_times(self) -> list[Time]:
        return self.slots.get(self.day, []) if self.day else []


def _cell_label(day: date, times: int) -> str:
    if not times:
        return f"{long_date(day)}, no times"
    return f"{long_date(day)}, {times} time{'s' if times != 1 else ''} available"
