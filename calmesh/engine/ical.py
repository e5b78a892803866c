"""Writing iCalendar: the events CalMesh creates (bookings, decided polls, API
events) as VEVENTs for CalDAV and as ``.ics`` invitations in e-mails."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import icalendar


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


PRODID = "-//CalMesh//CalMesh//EN"
METHODS = ("REQUEST", "CANCEL", "PUBLISH")
STATUSES = ("CONFIRMED", "TENTATIVE", "CANCELLED")

# C0 controls other than TAB and LF (and DEL) are not allowed in iCalendar
# text; CR is folded into LF first, so "\r\n" stays one line break.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Deliberately narrow: an address goes into a property value unescaped
# ("mailto:..."), so nothing that could end the value or the line may pass.
_EMAIL = re.compile(r"[^\s@:;,<>\"\\]+@[^\s@:;,<>\"\\]+")


def build_calendar(
    draft: EventDraft, method: str | None = None, *, dtstamp: datetime | None = None
) -> str:
    """``draft`` as iCalendar text: one VCALENDAR with one VEVENT, CRLF line ends, folded.

    Times are written in UTC ("Z"), which every server reads the same way;
    ``draft.timezone`` is only a display hint and is not written. Dates are
    written as ``VALUE=DATE`` (whole-day events, end exclusive). DTEND is
    always written (iCloud refuses an event without one).

    ``method`` is for e-mailed invitations (iTIP, RFC 5546): REQUEST, CANCEL
    or PUBLISH; CANCEL marks the event CANCELLED. Leave it out for CalDAV,
    where a stored resource must not carry METHOD (RFC 4791 §4.1).

    Text fields are escaped by icalendar, so a summary holding "\\r\\nATTENDEE:..."
    stays inside SUMMARY. Raises ValueError for data that cannot be written
    safely: naive datetimes, an end before the start, a malformed e-mail
    address or URL, an unknown method or status.
    """
    if method is not None and method not in METHODS:
        raise ValueError(f"unknown iTIP method {method!r}; use one of {', '.join(METHODS)}")
    status = "CANCELLED" if method == "CANCEL" else draft.status
    if status not in STATUSES:
        raise ValueError(f"unknown event status {status!r}; use one of {', '.join(STATUSES)}")
    if method in ("REQUEST", "CANCEL") and not draft.organizer_email:
        raise ValueError(f"an invitation with METHOD:{method} needs an organizer")
    start, end = _when(draft.start, draft.end)

    event = icalendar.Event()
    event.add("uid", _text(draft.uid))
    event.add("dtstamp", (dtstamp or datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("sequence", int(draft.sequence))
    event.add("status", status)
    event.add("summary", _text(draft.summary))
    for name, value in (("description", draft.description), ("location", draft.location)):
        if value:
            event.add(name, _text(value))
    if draft.url:
        event.add("url", _url(draft.url))
    if draft.organizer_email:
        event.add("organizer", _address(draft.organizer_email, draft.organizer_name))
    for name, email in draft.attendees:
        attendee = _address(email, name)
        attendee.params["ROLE"] = "REQ-PARTICIPANT"
        attendee.params["PARTSTAT"] = "NEEDS-ACTION"
        attendee.params["RSVP"] = "TRUE"
        event.add("attendee", attendee)

    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    if method:
        calendar.add("method", method)
    calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")


def _when(start: datetime | date, end: datetime | date) -> tuple[datetime | date, datetime | date]:
    if isinstance(start, datetime) != isinstance(end, datetime):
        raise ValueError("start and end must both be datetimes or both be dates")
    if isinstance(start, datetime) and isinstance(end, datetime):
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware datetimes")
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end < start:
            raise ValueError("the event ends before it starts")
    elif end <= start:
        raise ValueError("a whole-day event ends after its first day (the end date is exclusive)")
    return start, end


def _text(value: str) -> str:
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def _address(email: str, name: str) -> icalendar.vCalAddress:
    if not _EMAIL.fullmatch(email):
        raise ValueError(f"not an e-mail address: {email!r}")
    address = icalendar.vCalAddress(f"mailto:{email}")
    if name:
        # A parameter holds one line; icalendar quotes it and escapes quotes (RFC 6868).
        address.params["CN"] = " ".join(_text(name).split())
    return address


def _url(url: str) -> str:
    if not re.fullmatch(r"https?://[^\s\x00-\x1f\x7f]+", url):
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url
