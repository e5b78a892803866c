"""What callers ask of a unified calendar's time: the window they ask about,
its busy and free time (kept per worker), and a new event at a provider.

The rules live here so the REST API, the MCP tools (through it) and the pages
apply the same ones: a window ends after it starts and spans at most
MAX_WINDOW_DAYS; availability is asked for a whole day or a start and end; an
event ends after it starts and gets a UID when the caller brings none.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from calmesh.config import Config
from calmesh.engine.availability import Availability
from calmesh.engine.hours import day_bounds
from calmesh.engine.ical import EventDraft
from calmesh.models import CalendarSource, UnifiedCalendar
from calmesh.schema import MAX_WINDOW_DAYS
from calmesh.services import calendars
from calmesh.services.errors import ServiceError
from calmesh.services.memo import Memo

MAX_WINDOW = timedelta(days=MAX_WINDOW_DAYS)
AFTER_START = [{"field": "end", "message": "must be after start"}]


def check_window(start: datetime, end: datetime) -> None:
    """An events, availability or conflicts window: ``end`` after ``start``, at
    most MAX_WINDOW_DAYS later (ServiceError 400 ``validation_error``)."""
    if end <= start:
        raise ServiceError("end must be after start", 400, "validation_error", details=AFTER_START)
    if end - start > MAX_WINDOW:
        raise ServiceError(
            f"the window may span at most {MAX_WINDOW_DAYS} days",
            400,
            "validation_error",
            details=[{"field": "end", "message": f"at most {MAX_WINDOW_DAYS} days after start"}],
        )


def availability_window(
    day: date | None, start: datetime | None, end: datetime | None, tz: str
) -> tuple[datetime, datetime]:
    """The window of an availability question: the whole ``day`` in ``tz``, or
    [start, end) checked as :func:`check_window` does."""
    if day is not None:
        if start or end:
            raise ServiceError(
                "give either date or start and end, not both", 400, "validation_error"
            )
        bounds = day_bounds(day, tz)
        return bounds.start, bounds.end
    if start is None or end is None:
        raise ServiceError(
            "give date=YYYY-MM-DD, or start and end",
            400,
            "validation_error",
            details=[{"field": "date", "message": "is required without start and end"}],
        )
    check_window(start, end)
    return start, end


# --- availability, kept per worker ---------------------------------------------------


@dataclass(frozen=True)
class AvailabilityQuery:
    """Busy and free time of ``calendar`` in [start, end), free ranges at least
    ``minutes`` long; ``key`` is every input, the version stamps of the calendar's
    sources included (see calendars.busy_key): any change anywhere gives a new key."""

    calendar: UnifiedCalendar
    start: datetime
    end: datetime
    minutes: int | None
    key: tuple


def availability_query(
    calendar: UnifiedCalendar, start: datetime, end: datetime, minutes: int | None
) -> AvailabilityQuery:
    key = (calendars.busy_key(calendar), start, end, minutes)
    return AvailabilityQuery(calendar, start, end, minutes, key)


_AVAILABILITY: Memo = Memo(size=512)


def availability(query: AvailabilityQuery) -> Availability:
    """The answer, from this worker's memo when it has it (read only: shared)."""
    return _AVAILABILITY.get(query.key, lambda: _compute(query))


def _compute(query: AvailabilityQuery) -> Availability:
    shortest = timedelta(minutes=query.minutes) if query.minutes else None
    return calendars.availability_of(query.calendar, query.start, query.end, shortest, query.key[0])


# --- a new event -----------------------------------------------------------------------


def create_event(
    calendar: UnifiedCalendar,
    settings: Config,
    *,
    start: datetime,
    end: datetime,
    summary: str,
    description: str = "",
    location: str = "",
    source_id: int | None = None,
    uid: str | None = None,
) -> tuple[str, CalendarSource, str]:
    """Create an event at the chosen source (default: the write target); returns
    (uid, source, href). A caller's own ``uid`` makes a retry land on the same event."""
    if end <= start:
        raise ServiceError("end must be after start", 400, "validation_error", details=AFTER_START)
    uid = uid or f"{secrets.token_hex(12)}@calmesh"
    draft = EventDraft(
        uid=uid,
        summary=summary,
        start=start,
        end=end,
        description=description,
        location=location,
        timezone=calendar.timezone,
    )
    source, _ = calendars.write_target(calendar, source_id)
    stored = calendars.create_event(calendar, draft, settings, source.id)
    return uid, source, stored.href
