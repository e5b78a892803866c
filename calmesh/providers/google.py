"""Google Calendar (API v3), through OAuth.

Sync reads the expanded view (``singleEvents=true``): Google expands
recurring events itself and each instance arrives as an event of its own,
with ``recurringEventId`` and ``originalStartTime``. A full sync asks for
everything ending after the window's start (no ``timeMax``: instances later
than today's horizon must already be stored when the horizon rolls forward,
because an incremental sync only reports what changed). The last page carries
``nextSyncToken``; an incremental sync sends that token and nothing that
narrows the query, as the API requires. A 410 means the token expired: the
provider starts over and says ``full=True``. Deletions, including cancelled
instances of a series, come as ``status: "cancelled"``.

Writing sends ``sendUpdates=none`` (CalMesh mails its own invitations) and
sets ``iCalUID`` to the draft's UID, which makes a retried insert come back
as 409: the provider then finds the event by that UID.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx

from calmesh.engine.ical import EventDraft
from calmesh.engine.recurrence import Occurrence, zone_from_name
from calmesh.providers import net, oauth
from calmesh.providers.base import (
    ChangeSet,
    ProviderError,
    ReadOnlyError,
    RemoteCalendarInfo,
    RemoteObject,
)

_WRITABLE_ROLES = {"owner", "writer"}
# 403s that are Google's way of saying "slow down", not "access refused".
_RATE_LIMITS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
_NOT_YOURS = {"requiredAccessLevel", "forbiddenForNonOrganizer"}
_LIST_PARAMS = {"singleEvents": "true", "showDeleted": "true", "maxResults": "250"}


class _TokenGone(Exception):
    """The sync token expired (410): start over."""


class GoogleProvider(oauth.ApiProvider):
    """A Google account's calendars. Credentials are the OAuth token dict."""

    kind = "google"

    def _events_url(self, calendar_id: str, event_id: str = "") -> str:
        url = f"{self._base}/calendars/{quote(calendar_id, safe='')}/events"
        return f"{url}/{quote(event_id, safe='')}" if event_id else url

    def list_calendars(self) -> list[RemoteCalendarInfo]:
        calendars = []
        with oauth.session(self.kind, self.info) as api:
            for page in self._pages(api, f"{self._base}/users/me/calendarList", {}):
                for item in _items(page):
                    try:
                        calendars.append(
                            RemoteCalendarInfo(
                                remote_id=item["id"],
                                name=item.get("summaryOverride") or item.get("summary") or "",
                                color=item.get("backgroundColor", ""),
                                writable=item.get("accessRole") in _WRITABLE_ROLES,
                                timezone=item.get("timeZone", ""),
                            )
                        )
                    except (KeyError, TypeError):
                        raise ProviderError("Google listed a calendar without an id") from None
        return calendars

    def changes(
        self, calendar: RemoteCalendarInfo, token: str | None, window: tuple[datetime, datetime]
    ) -> ChangeSet:
        with oauth.session(self.kind, self.info) as api:
            if token:
                try:
                    return self._sync(api, calendar, {"syncToken": token})
                except _TokenGone:
                    pass  # expired: a full sync, diffed by the caller
            changes = self._sync(api, calendar, {"timeMin": oauth.utc_key(window[0])})
            changes.full = True
            return changes

    def _sync(
        self, api: oauth.OAuthSession, calendar: RemoteCalendarInfo, params: dict[str, str]
    ) -> ChangeSet:
        entries: list[tuple[str, RemoteObject | None]] = []
        next_token = None
        zone = calendar.timezone or "UTC"
        pages = self._pages(api, self._events_url(calendar.remote_id), _LIST_PARAMS | params)
        for page in pages:
            entries.extend(_remote_object(item, zone) for item in _items(page))
            next_token = page.get("nextSyncToken", next_token)
        if not next_token:
            raise ProviderError("Google ended the event list without a sync token")
        return oauth.change_set(entries, next_token, full=False, requests=api.requests)

    def _pages(
        self, api: oauth.OAuthSession, url: str, params: dict[str, str]
    ) -> Iterator[dict[str, Any]]:
        """Each page of a list, following ``nextPageToken``."""
        page_token = None
        while True:
            query = params | ({"pageToken": page_token} if page_token else {})
            response = api.request("GET", url, params=query)
            if response.status_code == 410 and "syncToken" in params:
                raise _TokenGone
            page = _checked(response)
            yield page
            page_token = page.get("nextPageToken")
            if not page_token:
                return

    # --- writing ---------------------------------------------------------------------

    def create_event(self, calendar_id: str, event: EventDraft) -> str:
        with oauth.session(self.kind, self.info) as api:
            response = api.request(
                "POST",
                self._events_url(calendar_id),
                params={"sendUpdates": "none"},
                json=_body(event),
            )
            if response.status_code != 409:
                return _event_id(_checked(response, writing=True))
            # A retry of an insert that went through: the UID is taken.
            existing = _checked(
                api.request(
                    "GET",
                    self._events_url(calendar_id),
                    params={"iCalUID": event.uid, "showDeleted": "true"},
                ),
            )
            items = _items(existing)
            if not items:
                raise ProviderError(f"Google says UID {event.uid} exists but does not list it")
            event_id = _event_id(items[0])
            if items[0].get("status") == "cancelled":
                return self._put(api, calendar_id, event_id, event)
            return event_id

    def update_event(self, calendar_id: str, href: str, event: EventDraft) -> str:
        with oauth.session(self.kind, self.info) as api:
            return self._put(api, calendar_id, href, event)

    def _put(self, api: oauth.OAuthSession, calendar_id: str, href: str, event: EventDraft) -> str:
        response = api.request(
            "PUT",
            self._events_url(calendar_id, href),
            params={"sendUpdates": "none"},
            json=_body(event),
        )
        return _event_id(_checked(response, writing=True))

    def delete_event(self, calendar_id: str, href: str) -> None:
        with oauth.session(self.kind, self.info) as api:
            response = api.request(
                "DELETE", self._events_url(calendar_id, href), params={"sendUpdates": "none"}
            )
        if response.status_code not in (200, 204, 404, 410):  # 410: deleted already
            raise _error(response, writing=True)


# --- reading answers -------------------------------------------------------------------


def _checked(response: httpx.Response, writing: bool = False) -> dict[str, Any]:
    if not response.is_success:
        raise _error(response, writing)
    return oauth.json_of(response, "Google")


def _error(response: httpx.Response, writing: bool = False) -> ProviderError:
    """A readable error; Google's 403 covers rate limits and read-only calendars too."""
    if response.status_code == 403:
        reasons = _reasons(response)
        if reasons & _RATE_LIMITS:
            return ProviderError("Google is limiting the request rate (403); retrying later")
        if writing and reasons & _NOT_YOURS:
            return ReadOnlyError("Google does not allow writing to this calendar (403)")
    return net.describe_status(response)


def _reasons(response: httpx.Response) -> set[str]:
    try:
        errors = response.json()["error"]["errors"]
        return {str(e.get("reason")) for e in errors}
    except (ValueError, KeyError, TypeError, AttributeError):
        return set()


def _items(page: dict[str, Any]) -> list[dict[str, Any]]:
    return oauth.objects_in(page, "items", "Google", "items")


def _event_id(item: dict[str, Any]) -> str:
    return oauth.event_id(item, "Google")


def _remote_object(item: dict[str, Any], zone: str) -> tuple[str, RemoteObject | None]:
    """(href, object); the object is None for a cancelled event or instance."""
    href = _event_id(item)
    if item.get("status") == "cancelled":
        return href, None
    try:
        occurrence = _occurrence(item, zone)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError(f"Google sent an event that cannot be read ({href}: {exc})") from None
    return href, RemoteObject(href=href, etag=item.get("etag", ""), occurrences=(occurrence,))


def _occurrence(item: dict[str, Any], zone: str) -> Occurrence:
    start, start_date = _when(item["start"], zone)
    end, end_date = _when(item["end"], zone)
    all_day = start_date is not None
    if all_day:
        if end_date is None or end_date <= start_date:
            end_date = start_date + timedelta(days=1)  # shown as its day, as in recurrence.py
        end = oauth.day_start(end_date)
    recurring = bool(item.get("recurringEventId"))
    recurrence_id = None
    if recurring and item.get("originalStartTime"):
        original, original_date = _when(item["originalStartTime"], zone)
        recurrence_id = original_date.isoformat() if original_date else oauth.utc_key(original)
    return Occurrence(
        uid=item.get("iCalUID") or item["id"],
        recurrence_id=recurrence_id,
        start=start,
        end=max(end, start),
        all_day=all_day,
        start_date=start_date,
        end_date=end_date if all_day else None,
        busy=item.get("transparency") != "transparent",
        status="tentative" if item.get("status") == "tentative" else "confirmed",
        summary=item.get("summary", ""),
        location=item.get("location", ""),
        description=item.get("description", ""),
        recurring=recurring,
    )


def _when(value: dict[str, Any], zone: str) -> tuple[datetime, date | None]:
    """(UTC instant, None) for ``dateTime``; (00:00 UTC of the day, day) for ``date``."""
    if "date" in value and "dateTime" not in value:
        day = date.fromisoformat(value["date"])
        return oauth.day_start(day), day
    moment = datetime.fromisoformat(value["dateTime"])
    if moment.tzinfo is None:
        # The API allows an offset-less time when a zone is named.
        tz = zone_from_name(value.get("timeZone") or zone)
        if tz is None:
            raise ValueError(f"unknown time zone {value.get('timeZone') or zone!r}")
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC), None


# --- writing ---------------------------------------------------------------------------


def _body(event: EventDraft) -> dict[str, Any]:
    zone = zone_from_name(event.timezone)
    body: dict[str, Any] = {
        "iCalUID": event.uid,
        "summary": event.summary,
        "description": event.description,
        "location": event.location,
        "start": _time(event.start, zone),
        "end": _time(event.end, zone),
        "status": event.status.lower(),
        "sequence": event.sequence,
    }
    if event.attendees:
        body["attendees"] = [
            {"email": email, **({"displayName": name} if name else {})}
            for name, email in event.attendees
        ]
    if event.url:
        body["source"] = {"title": event.summary, "url": event.url}
    return body


def _time(value: datetime | date, zone: ZoneInfo | None) -> dict[str, str]:
    if not isinstance(value, datetime):
        return {"date": value.isoformat()}
    if value.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    if zone is None:
        return {"dateTime": value.astimezone(UTC).isoformat(), "timeZone": "UTC"}
    return {"dateTime": value.astimezone(zone).isoformat(), "timeZone": zone.key}


# --- how it is offered --------------------------------------------------------

GOOGLE = oauth.consent_integration("google", "Google Calendar", GoogleProvider)
