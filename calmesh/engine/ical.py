"""Writing iCalendar: the events CalMesh creates (bookings, decided polls, API
events) as VEVENTs for CalDAV and as ``.ics`` invitations in e-mails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class EventDraft:
    """An event CalMesh writes to a provider or mails as an invitation."""

    uid: str
    summary: str
    start: datetime | date  # aware datetimes, or dates for all-day
    end: datetime | date
    description: str = ""
    location: str = ""
    sequence: int = 0
    status: str = "CONFIRMED"  # CONFIRMED | TENTATIVE | CANCELLED
    organizer_email: str = ""
    organizer_name: str = ""
    attendees: tuple[tuple[str, str], ...] = ()  # (name, email)
    timezone: str = "UTC"  # the zone to show it in, where the format carries one
    url: str = ""
