"""'Add to calendar' links: the web calendars that take an event in their address.

Google Calendar and Outlook (outlook.com for personal accounts, outlook.office.com
for Microsoft 365) open their "new event" form prefilled from the query string;
nothing is sent to them until the visitor saves it there. Every other calendar
takes the ``.ics`` download. Pure: an :class:`~calmesh.engine.ical.EventDraft`
in, URLs out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlencode

from calmesh.engine.ical import EventDraft

GOOGLE = "https://calendar.google.com/calendar/render"
OUTLOOK = "https://outlook.live.com/calendar/0/deeplink/compose"
OFFICE = "https://outlook.office.com/calendar/0/deeplink/compose"
# Addresses grow with the description; browsers and mail clients cut long ones.
_MAX_DETAILS = 1500


@dataclass(frozen=True)
class CalendarLinks:
    google: str
    outlook: str
    office: str
    ics: str


def links_for(draft: EventDraft, ics_url: str) -> CalendarLinks:
    details = draft.description[:_MAX_DETAILS]
    return CalendarLinks(
        google=f"{GOOGLE}?{urlencode(_google(draft, details))}",
        outlook=f"{OUTLOOK}?{urlencode(_outlook(draft, details))}",
        office=f"{OFFICE}?{urlencode(_outlook(draft, details))}",
        ics=ics_url,
    )


def _all_day(draft: EventDraft) -> bool:
    return not isinstance(draft.start, datetime)


def _google(draft: EventDraft, details: str) -> dict[str, str]:
    if _all_day(draft):
        dates = f"{draft.start:%Y%m%d}/{draft.end:%Y%m%d}"  # the end date is exclusive
    else:
        dates = f"{_utc(draft.start):%Y%m%dT%H%M%SZ}/{_utc(draft.end):%Y%m%dT%H%M%SZ}"
    params = {"action": "TEMPLATE", "text": draft.summary, "dates": dates, "details": details}
    if draft.location:
        params["location"] = draft.location
    return params


def _outlook(draft: EventDraft, details: str) -> dict[str, str]:
    params = {"path": "/calendar/action/compose", "rru": "addevent", "subject": draft.summary}
    if _all_day(draft):
        params.update(startdt=draft.start.isoformat(), enddt=draft.end.isoformat(), allday="true")
    else:
        params.update(startdt=_iso(draft.start), enddt=_iso(draft.end))
    params["body"] = details
    if draft.location:
        params["location"] = draft.location
    return params


def _utc(moment: datetime | date) -> datetime:
    assert isinstance(moment, datetime)
    return moment.astimezone(UTC)


def _iso(moment: datetime | date) -> str:
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
