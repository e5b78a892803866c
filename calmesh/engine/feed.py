"""The private iCal feed of a unified calendar: stored occurrences as VEVENTs.

Pure: takes plain values, returns iCalendar text. Each occurrence becomes its
own VEVENT (no RRULE), so every client shows exactly what CalMesh computed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event

from calmesh.engine.recurrence import Occurrence


def _uid(event: Occurrence) -> str:
    # Instances of one series need distinct UIDs once flattened; hashing keeps
    # them stable across refreshes and hides the source UID in busy-only feeds.
    raw = f"{event.uid}|{event.recurrence_id or ''}".encode()
    return hashlib.sha256(raw).hexdigest()[:32] + "@calmesh"


def build_feed(
    name: str, timezone: str, events: Iterable[Occurrence], mode: str, now: datetime | None = None
) -> str:
    """``mode`` "busy" shows only "Busy" blocks; "full" shows summaries and places."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    cal = Calendar()
    cal.add("prodid", "-//CalMesh//Unified calendar feed//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", timezone)
    cal.add("refresh-interval", timedelta(minutes=15), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT15M")
    for event in events:
        vevent = Event()
        vevent.add("uid", _uid(event))
        vevent.add("dtstamp", stamp)
        if event.all_day and event.start_date and event.end_date:
            vevent.add("dtstart", event.start_date)
            vevent.add("dtend", event.end_date)
        else:
            vevent.add("dtstart", event.start.astimezone(UTC))
            vevent.add("dtend", event.end.astimezone(UTC))
        vevent.add("summary", (event.summary or "(no title)") if mode == "full" else "Busy")
        if mode == "full" and event.location:
            vevent.add("location", event.location)
        vevent.add("transp", "OPAQUE" if event.busy else "TRANSPARENT")
        if event.status == "tentative":
            vevent.add("status", "TENTATIVE")
        cal.add_component(vevent)
    return cal.to_ical().decode()
