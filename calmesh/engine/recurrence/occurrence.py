"""What recurrence expansion hands out: `Occurrence`, `CalendarDataError`, zone names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON


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
