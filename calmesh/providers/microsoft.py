"""Microsoft 365 / Outlook calendars through Microsoft Graph, with OAuth.

Sync reads the calendar view's delta (``calendarView/delta``), which Graph
expands itself: each occurrence of a series is an event of its own, with
``seriesMasterId`` and ``originalStart``. The first request names the window;
Graph then pages with ``@odata.nextLink`` and ends with ``@odata.deltaLink``,
which is kept whole as the sync token (it already carries the window). Links
are followed only to the configured Graph host, so a token is never sent
elsewhere (a stored delta link for another host, left from an earlier
``api_base``, counts as expired). Removed events (or ones moved out of the window) come as
``@removed``; cancelled meetings as ``isCancelled``. A 410 means the delta
state expired: the provider starts over and says ``full=True``.

Times are asked for in UTC (``Prefer: outlook.timezone="UTC"``); an answer in
another zone, which Graph names the Windows way ("W. Europe Standard Time"),
is placed with that zone.

Writing sets ``transactionId`` from the draft's UID, so a retried create
returns the event the first one made. Graph mints its own ``iCalUId``, and
attendees are left out because Graph would mail them itself.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

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

PAGE_SIZE = 200
_PREFER = [("Prefer", f"odata.maxpagesize={PAGE_SIZE}"), ("Prefer", 'outlook.timezone="UTC"')]
# showAs values that leave the time free for scheduling: Outlook's scheduling
# assistant does not count "working elsewhere" as a conflict either.
_FREE = {"free", "workingElsewhere"}
# transactionId is a UUID derived from the UID: the same draft, the same id.
_TRANSACTIONS = uuid.UUID("4f6b1c58-2f36-4d6e-9a0c-6d1a3c2b9e71")


class _DeltaGone(Exception):
    """The delta link expired (410): start over."""


class MicrosoftProvider(oauth.ApiProvider):
    """A Microsoft account's calendars. Credentials are the OAuth token dict."""

    kind = "microsoft"

    def _calendar_url(self, calendar_id: str) -> str:
        return f"{self._base}/me/calendars/{quote(calendar_id, safe='')}"

    def _on_graph(self, link: Any) -> bool:
        return isinstance(link, str) and urlsplit(link)[:2] == urlsplit(self._base)[:2]

    def _follow(self, link: Any) -> str:
        """A link Graph sent, if it stays on Graph (it will carry our token)."""
        if not self._on_graph(link):
            raise ProviderError("Microsoft Graph sent a link to another host; not following it")
        return link

    def list_calendars(self) -> list[RemoteCalendarInfo]:
        calendars = []
        with oauth.session(self.kind, self.info) as api:
            url: str | None = f"{self._base}/me/calendars"
            while url:
                page = _checked(api.request("GET", url))
                for item in _values(page):
                    try:
                        calendars.append(
                            RemoteCalendarInfo(
                                remote_id=item["id"],
                                name=item.get("name") or "",
                                color=item.get("hexColor") or "",
                                writable=bool(item.get("canEdit")),
                            )
                        )
                    except (KeyError, TypeError):
                        raise ProviderError("Graph listed a calendar without an id") from None
                link = page.get("@odata.nextLink")
                url = self._follow(link) if link else None
        return calendars

    def changes(
        self, calendar: RemoteCalendarInfo, token: str | None, window: tuple[datetime, datetime]
    ) -> ChangeSet:
        with oauth.session(self.kind, self.info) as api:
            # A link to another host was made for another api_base: as good as expired.
            if token and self._on_graph(token):
                try:
                    return self._delta(api, token, full=False)
                except _DeltaGone:
                    pass  # expired: a full sync, diffed by the caller
            query = urlencode(
                {"startDateTime": oauth.utc_key(window[0]), "endDateTime": oauth.utc_key(window[1])}
            )
            url = f"{self._calendar_url(calendar.remote_id)}/calendarView/delta?{query}"
            try:
                return self._delta(api, url, full=True)
            except _DeltaGone:
                raise ProviderError("Microsoft Graph lost the sync state while paging") from None

    def _delta(self, api: oauth.OAuthSession, url: str, full: bool) -> ChangeSet:
        entries: list[tuple[str, RemoteObject | None]] = []
        while True:
            response = api.request("GET", url, headers=_PREFER)
            if response.status_code == 410:
                raise _DeltaGone
            page = _checked(response)
            for item in _values(page):
                href, remote = _remote_object(item)
                if href is not None:
                    entries.append((href, remote))
            if page.get("@odata.nextLink"):
                url = self._follow(page["@odata.nextLink"])
            elif page.get("@odata.deltaLink"):
                token = self._follow(page["@odata.deltaLink"])
                return oauth.change_set(entries, token, full=full, requests=api.requests)
            else:
                raise ProviderError("Microsoft Graph ended the delta without a delta link")

    # --- writing ---------------------------------------------------------------------

    def create_event(self, calendar_id: str, event: EventDraft) -> str:
        body = _body(event) | {"transactionId": str(uuid.uuid5(_TRANSACTIONS, event.uid))}
        with oauth.session(self.kind, self.info) as api:
            response = api.request("POST", f"{self._calendar_url(calendar_id)}/events", json=body)
        return _event_id(_checked(response, writing=True))

    def update_event(self, calendar_id: str, href: str, event: EventDraft) -> str:
        url = f"{self._calendar_url(calendar_id)}/events/{quote(href, safe='')}"
        with oauth.session(self.kind, self.info) as api:
            response = api.request("PATCH", url, json=_body(event))
        return _event_id(_checked(response, writing=True))

    def delete_event(self, calendar_id: str, href: str) -> None:
        url = f"{self._calendar_url(calendar_id)}/events/{quote(href, safe='')}"
        with oauth.session(self.kind, self.info) as api:
            response = api.request("DELETE", url)
        if response.status_code not in (200, 204, 404):
            raise _error(response, writing=True)


# --- reading answers -------------------------------------------------------------------


def _checked(response: httpx.Response, writing: bool = False) -> dict[str, Any]:
    if not response.is_success:
        raise _error(response, writing)
    return oauth.json_of(response, "Microsoft Graph")


def _error(response: httpx.Response, writing: bool) -> ProviderError:
    if writing and response.status_code == 403:
        # A calendar shared read-only: the connection itself is fine.
        return ReadOnlyError("Microsoft does not allow writing to this calendar (403)")
    return net.describe_status(response)


def _values(page: dict[str, Any]) -> list[dict[str, Any]]:
    return oauth.objects_in(page, "value", "Microsoft Graph", "values")


def _event_id(item: dict[str, Any]) -> str:
    return oauth.event_id(item, "Microsoft Graph")


def _remote_object(item: dict[str, Any]) -> tuple[str | None, RemoteObject | None]:
    """(href, object): the object is None for a removed or cancelled event; the
    href is None for a series master, which the calendar view does not send."""
    href = _event_id(item)
    if "@removed" in item or item.get("isCancelled"):
        return href, None
    if item.get("type") == "seriesMaster":
        return None, None
    try:
        occurrence = _occurrence(item)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError(
            f"Microsoft Graph sent an event that cannot be read ({href}: {exc})"
        ) from None
    etag = item.get("@odata.etag") or item.get("changeKey") or ""
    return href, RemoteObject(href=href, etag=etag, occurrences=(occurrence,))


def _occurrence(item: dict[str, Any]) -> Occurrence:
    all_day = bool(item.get("isAllDay"))
    start, end = _local(item["start"]), _local(item["end"])
    if all_day:
        # Midnight to midnight in whatever zone the answer uses: the dates are the days.
        start_date, end_date = start.date(), end.date()
        if end_date <= start_date:
            end_date = start_date + timedelta(days=1)
        start_utc, end_utc = oauth.day_start(start_date), oauth.day_start(end_date)
    else:
        start_date = end_date = None
        start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    recurring = bool(item.get("seriesMasterId"))
    recurrence_id = None
    if recurring and item.get("originalStart"):
        recurrence_id = _recurrence_key(item, all_day, start_date)
    show_as = item.get("showAs") or "busy"
    body = item.get("body") or {}
    if body.get("contentType") == "text":
        description = body.get("content") or ""
    else:  # HTML: Graph's plain-text preview instead
        description = item.get("bodyPreview") or ""
    return Occurrence(
        uid=item.get("iCalUId") or item["id"],
        recurrence_id=recurrence_id,
        start=start_utc,
        end=max(end_utc, start_utc),
        all_day=all_day,
        start_date=start_date,
        end_date=end_date,
        busy=show_as not in _FREE,
        status="tentative" if show_as == "tentative" else "confirmed",
        summary=item.get("subject") or "",
        location=(item.get("location") or {}).get("displayName") or "",
        description=description,
        recurring=recurring,
    )


def _local(value: dict[str, Any]) -> datetime:
    """A ``dateTimeTimeZone`` as an aware datetime in its zone (IANA or Windows name)."""
    moment = datetime.fromisoformat(value["dateTime"])
    if moment.tzinfo is not None:
        return moment
    name = value.get("timeZone") or "UTC"
    zone = zone_from_name(name)
    if zone is None:
        raise ValueError(f"unknown time zone {name!r}")
    return moment.replace(tzinfo=zone)


def _recurrence_key(item: dict[str, Any], all_day: bool, start_date: date | None) -> str:
    """The instance's original start: UTC for timed series, the day for whole-day ones."""
    original = datetime.fromisoformat(item["originalStart"])
    if original.tzinfo is None:
        original = original.replace(tzinfo=UTC)
    if not all_day:
        return oauth.utc_key(original)
    # Graph gives a whole day's original start as that midnight in the
    # series' zone, expressed in UTC: back in that zone it is the day.
    zone = zone_from_name(item.get("originalStartTimeZone") or "")
    if zone is None:
        return start_date.isoformat()
    return original.astimezone(zone).date().isoformat()


# --- writing ---------------------------------------------------------------------------


def _body(event: EventDraft) -> dict[str, Any]:
    all_day = not isinstance(event.start, datetime)
    return {
        "subject": event.summary,
        "body": {"contentType": "text", "content": event.description},
        "location": {"displayName": event.location},
        "start": _time(event.start),
        "end": _time(event.end),
        "isAllDay": all_day,
        "showAs": "tentative" if event.status.upper() == "TENTATIVE" else "busy",
    }


def _time(value: datetime | date) -> dict[str, str]:
    if not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time())  # whole days: midnight
    elif value.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    else:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return {"dateTime": value.isoformat(timespec="seconds"), "timeZone": "UTC"}


# --- how it is offered --------------------------------------------------------

MICROSOFT = oauth.consent_integration("microsoft", "Microsoft 365 / Outlook", MicrosoftProvider)
