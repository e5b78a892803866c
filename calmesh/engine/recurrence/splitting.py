"""One VCALENDAR text per UID, for change detection on iCal-URL feeds."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import icalendar

from calmesh.engine.recurrence.parsing import UNWRITABLE, parse_calendar, stable_text, text, values

log = logging.getLogger(__name__)


def split_by_uid(data: bytes | str | icalendar.Calendar) -> dict[str, str]:
    """One VCALENDAR text per UID, for change detection on iCal-URL feeds.

    Each text holds the calendar properties that expansion reads, the
    VTIMEZONEs its events use and every VEVENT with that UID (master and
    overrides), so expanding it gives exactly that UID's occurrences, and a
    hash of it changes only when they may (see `stable_text` for what is
    left out). A UID whose events cannot be written back as iCalendar is
    left out and logged; its series is one the expansion skips as well.
    Keys are sorted; `data` is text or a calendar from `parse_calendar`.
    """
    calendar = data if isinstance(data, icalendar.Calendar) else parse_calendar(data)
    by_uid: dict[str, list[icalendar.Event]] = {}
    for event in calendar.walk("VEVENT"):
        by_uid.setdefault(text(event, "UID"), []).append(event)
    definitions: dict[str, icalendar.Timezone] = {}
    for vtimezone in calendar.walk("VTIMEZONE"):
        definitions.setdefault(text(vtimezone, "TZID"), vtimezone)
    header = icalendar.Calendar()
    for name in _CALENDAR_PROPERTIES:
        if name in calendar:
            header.add(name, text(calendar, name))
    begin, end = header.to_ical().removesuffix(b"END:VCALENDAR\r\n"), b"END:VCALENDAR\r\n"
    texts: dict[str, str] = {}
    for uid in sorted(by_uid):
        events = by_uid[uid]
        tzids = sorted({tzid for event in events for tzid in _tzids(event)})
        zones = [definitions[tzid] for tzid in tzids if tzid in definitions]
        try:
            body = [zone.to_ical() for zone in zones] + [stable_text(e) for e in events]
        except UNWRITABLE:
            log.warning("split_by_uid: cannot write back the events of UID %r", uid)
            continue
        texts[uid] = b"".join([begin, *body, end]).decode()
    return texts


# What expansion reads from the VCALENDAR itself, plus what makes it valid.
_CALENDAR_PROPERTIES = ("VERSION", "PRODID", "CALSCALE", "X-WR-TIMEZONE")


def _tzids(event: icalendar.Event) -> Iterator[str]:
    for value in event.values():
        for prop in values(value):
            tzid = getattr(prop, "params", {}).get("TZID")
            if tzid:
                yield str(tzid)
