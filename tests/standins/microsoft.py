"""A stand-in for Microsoft Graph (v1.0 calendars) and the Microsoft identity platform.

Documented behaviours it implements (and nothing else):

* OAuth (``/common/oauth2/v2.0/authorize``, ``/common/oauth2/v2.0/token``):
  a refresh token only when the scope has ``offline_access``;
  ``authorization_code`` and ``refresh_token`` grants; every refresh issues
  a new refresh token and the old one stops working (rotation, stricter than
  Graph's grace period, so a client that does not persist each refresh
  fails); ``invalid_grant`` once revoked.
* ``GET /v1.0/me/calendars``: ``id``, ``name``, ``hexColor``, ``canEdit``;
  paging with ``@odata.nextLink``.
* ``GET /v1.0/me/calendars/{id}/calendarView/delta``: the first request must
  name ``startDateTime`` and ``endDateTime`` (400 otherwise); occurrences of
  a series are pre-expanded, each with its own ``id`` and ``iCalUId``, ``type:
  "occurrence"``, ``seriesMasterId``, ``originalStart`` (UTC) and
  ``originalStartTimeZone``; an occurrence edited on its own becomes an
  ``exception``. ``Prefer: odata.maxpagesize=N`` (pages are never larger
  than ``page_size``) and ``Prefer: outlook.timezone="..."`` (IANA or Windows
  name; ``dateTime`` then comes as wall time in that zone with seven fraction
  digits, ``timeZone`` naming it; UTC without the header), echoed in
  ``Preference-Applied``; one or both in a single header, comma-separated, or
  in several. Pages link with ``@odata.nextLink`` (``$skiptoken``), the last
  ends with ``@odata.deltaLink`` (``$deltatoken``, which keeps the window).
  Following a delta link returns what changed since: changed events, and
  ``{"id", "@removed": {"reason": "deleted"}}`` for deleted ones and ones
  that left the window; cancelled meetings carry ``isCancelled: true``. An
  unknown or expired delta token (``expire_delta_links()``) answers 410
  ``SyncStateNotFound``. ``answer_zone = "W. Europe Standard Time"`` makes
  it answer in that zone whatever the Prefer header says.
* ``POST /v1.0/me/calendars/{id}/events``: 201 with the event; a
  ``transactionId`` seen before returns the event it created; a calendar
  without ``canEdit`` answers 403 ``ErrorAccessDenied``; whole-day events
  must start and end at midnight (400). ``PATCH .../events/{id}`` updates
  the given fields; ``DELETE .../events/{id}`` answers 204, 404 when unknown.
* Errors in Graph's shape: ``{"error": {"code", "message"}}``; 401
  ``InvalidAuthenticationToken`` for a missing or expired token.

Not implemented: ``/me/events``, ``/me/calendarView`` without delta,
attendees and invitations, ``getSchedule``, subscriptions, ``$select`` and
other query options, throttling headers.

Tests change the mailbox as its owner would in Outlook: ``add_event``,
``add_series``, ``change_event``, ``delete_event``, ``cancel_event``, and
read it with ``live_events``. Calendars: ``primary`` ("Calendar", editable)
and ``birthdays`` (read-only) exist from the start.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Response, jsonify, request

from tests.standins import StandIn

# The stand-in's own table (not the one CalMesh uses, so a test can catch a wrong mapping).
WINDOWS_ZONES = {
    "UTC": "UTC",
    "W. Europe Standard Time": "Europe/Berlin",
    "GMT Standard Time": "Europe/London",
    "Pacific Standard Time": "America/Los_Angeles",
    "Eastern Standard Time": "America/New_York",
    "India Standard Time": "Asia/Kolkata",
    "Tokyo Standard Time": "Asia/Tokyo",
}
_WINDOWS_NAME = {iana: windows for windows, iana in WINDOWS_ZONES.items()}
_GRAPH_CODES = {"authError": "InvalidAuthenticationToken", "backendError": "generalException"}


class _BadRequest(Exception):
    pass


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(WINDOWS_ZONES.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        raise _BadRequest(f"unknown time zone {name!r}") from None


def _new_id() -> str:
    return "AAMkA" + secrets.token_urlsafe(18) + "="


class MicrosoftStandIn(StandIn):
    kind = "microsoft"
    auth_path = "/common/oauth2/v2.0/authorize"
    token_path = "/common/oauth2/v2.0/token"
    api_path = "/v1.0"
    rotates_refresh_tokens = True

    def __post_init__(self) -> None:
        self.calendars: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, dict[str, Any]]] = {}  # calendar -> id -> event
        self.seq = 0
        self.answer_zone: str | None = None
        self._deltas: dict[str, tuple[str, datetime, datetime, int]] = {}
        self._pages: dict[str, tuple[list[dict[str, Any]], str]] = {}
        super().__post_init__()
        self.primary = self.add_calendar("Calendar")
        self.birthdays = self.add_calendar("Birthdays", can_edit=False, hex_color="#f7c2c2")

    def routes(self) -> None:
        add = self.app.add_url_rule
        add(f"{self.api_path}/me/calendars", "calendars", self.guard(self._calendars))
        add(
            f"{self.api_path}/me/calendars/<calendar_id>/calendarView/delta",
            "delta",
            self.guard(self._delta),
        )
        add(
            f"{self.api_path}/me/calendars/<calendar_id>/events",
            "create",
            self.guard(self._create),
            methods=["POST"],
        )
        add(
            f"{self.api_path}/me/calendars/<calendar_id>/events/<event_id>",
            "event",
            self.guard(self._event),
            methods=["PATCH", "DELETE"],
        )

    def _full_scope(self) -> str:
        return "offline_access Calendars.ReadWrite User.Read"

    def _offline(self, query: dict[str, str]) -> bool:
        return "offline_access" in query.get("scope", "").split()

    def error(self, status: int, reason: str, message: str) -> Response:
        response = jsonify(error={"code": _GRAPH_CODES.get(reason, reason), "message": message})
        response.status_code = status
        return response

    # --- the owner's side --------------------------------------------------------------------

    def add_calendar(self, name: str, *, can_edit: bool = True, hex_color: str = "#a4bdfc") -> str:
        calendar_id = _new_id()
        with self.lock:
            self.calendars[calendar_id] = {
                "id": calendar_id,
                "name": name,
                "color": "auto",
                "hexColor": hex_color,
                "canEdit": can_edit,
                "canShare": can_edit,
                "owner": {"name": "Alice", "address": "alice@example.org"},
            }
            self.events[calendar_id] = {}
        return calendar_id

    def add_event(
        self,
        calendar_id: str,
        subject: str,
        start: datetime | date,
        end: datetime | date,
        *,
        show_as: str = "busy",
        zone: str = "Europe/Berlin",
        body: str = "",
        location: str = "",
    ) -> str:
        """A single event, as Outlook makes it (HTML body). Dates make it all-day."""
        event = {
            "id": _new_id(),
            "ical_uid": "040000008200E00074C5B7101A82E008" + secrets.token_hex(24).upper(),
            "subject": subject,
            "body": f"<html><body>{body}</body></html>",
            "content_type": "html",
            "location": location,
            "start": start,
            "end": end,
            "all_day": not isinstance(start, datetime),
            "show_as": show_as,
            "is_cancelled": False,
            "type": "singleInstance",
            "series_master_id": None,
            "original_start": None,
            "zone": zone,
            "transaction_id": None,
            "removed": False,
        }
        with self.lock:
            self._store(calendar_id, event)
        return event["id"]

    def add_series(
        self,
        calendar_id: str,
        subject: str,
        start: datetime | date,
        end: datetime | date,
        *,
        every: timedelta = timedelta(days=1),
        count: int = 3,
        **kw: Any,
    ) -> list[str]:
        """A recurring series, expanded as the calendar view does; returns occurrence ids."""
        master = _new_id()
        ids = []
        with self.lock:
            for n in range(count):
                event_id = self.add_event(
                    calendar_id, subject, start + n * every, end + n * every, **kw
                )
                event = self.events[calendar_id][event_id]
                first = start + n * every
                if isinstance(first, datetime):
                    original = first.astimezone(UTC)
                else:  # a whole day starts at midnight in the series' zone
                    original = datetime.combine(first, time(), ZoneInfo(event["zone"]))
                event.update(
                    type="occurrence",
                    series_master_id=master,
                    original_start=original.astimezone(UTC),
                )
                ids.append(event_id)
        return ids

    def change_event(self, calendar_id: str, event_id: str, **fields: Any) -> None:
        """Edit as the owner: subject, start, end, show_as, location, body."""
        with self.lock:
            event = self.events[calendar_id][event_id]
            event.update(fields)
            if event["type"] == "occurrence":
                event["type"] = "exception"
            self._bump(event)

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        with self.lock:
            event = self.events[calendar_id][event_id]
            event["removed"] = True
            self._bump(event)

    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        """The organiser cancelled the meeting: it stays, with isCancelled."""
        with self.lock:
            event = self.events[calendar_id][event_id]
            event["is_cancelled"] = True
            self._bump(event)

    def expire_delta_links(self) -> None:
        """Every delta link issued so far answers 410 from now on."""
        with self.lock:
            self._deltas.clear()

    def live_events(self, calendar_id: str, zone: str = "UTC") -> dict[str, dict[str, Any]]:
        """The calendar's events that are not deleted, by id, as the API shows them in
        ``zone`` (a Windows or IANA name)."""
        with self.lock:
            return {
                i: self._json(e, zone)
                for i, e in self.events[calendar_id].items()
                if not e["removed"]
            }

    def _store(self, calendar_id: str, event: dict[str, Any]) -> None:
        self.events[calendar_id][event["id"]] = event
        self._bump(event)

    def _bump(self, event: dict[str, Any]) -> None:
        self.seq += 1
        event["seq"] = self.seq
        event["change_key"] = secrets.token_urlsafe(12)

    # --- the API ------------------------------------------------------------------------------

    def _calendars(self) -> Any:
        size = min(request.args.get("$top", 10, type=int), self.page_size)
        skip = request.args.get("$skip", 0, type=int)
        items = list(self.calendars.values())
        answer: dict[str, Any] = {
            "@odata.context": f"{self.url}{self.api_path}/$metadata#users('me')/calendars",
            "value": items[skip : skip + size],
        }
        if skip + size < len(items):
            link = f"{self.url}{self.api_path}/me/calendars?$top={size}&$skip={skip + size}"
            answer["@odata.nextLink"] = link
        return jsonify(answer)

    def _delta(self, calendar_id: str) -> Any:
        if calendar_id not in self.calendars:
            return self.error(404, "ErrorItemNotFound", "The specified object was not found.")
        preferences = _preferences()
        zone = self.answer_zone or preferences.get("outlook.timezone") or "UTC"
        try:
            _zone(zone)
        except _BadRequest:
            zone = "UTC"
        size = min(int(preferences.get("odata.maxpagesize", 1000)), self.page_size)
        link = f"{self.url}{self.api_path}/me/calendars/{quote(calendar_id, safe='')}"
        link += "/calendarView/delta"
        args = request.args
        if "$skiptoken" in args:
            if args["$skiptoken"] not in self._pages:
                return self.error(400, "ErrorInvalidUrlQuery", "Invalid skip token.")
            items, final = self._pages[args["$skiptoken"]]
        else:
            events = self.events[calendar_id].values()
            if "$deltatoken" in args:
                state = self._deltas.get(args["$deltatoken"])
                if state is None or state[0] != calendar_id:
                    return self.error(410, "SyncStateNotFound", "The sync state is not found.")
                _, low, high, seq = state
                items = [
                    self._json(e, zone)
                    if not e["removed"] and _overlaps(e, low, high)
                    else {
                        "@odata.type": "#microsoft.graph.event",
                        "id": e["id"],
                        "@removed": {"reason": "deleted"},
                    }
                    for e in sorted(events, key=lambda e: e["seq"])
                    if e["seq"] > seq
                ]
            else:
                try:
                    low = _window(args.get("startDateTime"))
                    high = _window(args.get("endDateTime"))
                except _BadRequest:
                    message = (
                        "This request requires a time window specified by the query string "
                        "parameters StartDateTime and EndDateTime."
                    )
                    return self.error(400, "ErrorInvalidParameter", message)
                chosen = [e for e in events if not e["removed"] and _overlaps(e, low, high)]
                chosen.sort(key=lambda e: (_utc_start(e), e["id"]))
                items = [self._json(e, zone) for e in chosen]
            token = secrets.token_urlsafe(16)
            self._deltas[token] = (calendar_id, low, high, self.seq)
            final = f"{link}?$deltatoken={token}"
        page, rest = items[:size], items[size:]
        answer: dict[str, Any] = {"@odata.context": f"{self.url}/$metadata#Collection(event)"}
        if rest:
            skip = secrets.token_urlsafe(16)
            self._pages[skip] = (rest, final)
            answer["@odata.nextLink"] = f"{link}?$skiptoken={skip}"
        else:
            answer["@odata.deltaLink"] = final
        answer["value"] = page
        response = jsonify(answer)
        applied = [f"odata.maxpagesize={size}"]
        if "outlook.timezone" in preferences and not self.answer_zone:
            applied.append(f'outlook.timezone="{zone}"')
        response.headers["Preference-Applied"] = ", ".join(applied)
        return response

    def _create(self, calendar_id: str) -> Any:
        calendar = self.calendars.get(calendar_id)
        if calendar is None:
            return self.error(404, "ErrorItemNotFound", "The specified object was not found.")
        if not calendar["canEdit"]:
            return self.error(403, "ErrorAccessDenied", "Access is denied.")
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or "start" not in body or "end" not in body:
            return self.error(400, "ErrorInvalidRequest", "Start and End are required.")
        transaction = body.get("transactionId")
        for events in self.events.values():
            for event in events.values():
                if transaction and event["transaction_id"] == transaction:
                    response = jsonify(self._json(event, "UTC"))
                    response.status_code = 201
                    return response
        event = {
            "id": _new_id(),
            "ical_uid": "040000008200E00074C5B7101A82E008" + secrets.token_hex(24).upper(),
            "subject": "",
            "body": "",
            "content_type": "text",
            "location": "",
            "all_day": False,
            "show_as": "busy",
            "is_cancelled": False,
            "type": "singleInstance",
            "series_master_id": None,
            "original_start": None,
            "transaction_id": transaction,
            "removed": False,
        }
        try:
            _apply(event, body)
        except _BadRequest as exc:
            return self.error(400, "ErrorInvalidRequest", str(exc))
        self._store(calendar_id, event)
        response = jsonify(self._json(event, "UTC"))
        response.status_code = 201
        return response

    def _event(self, calendar_id: str, event_id: str) -> Any:
        calendar = self.calendars.get(calendar_id)
        event = self.events.get(calendar_id, {}).get(event_id)
        if calendar is None or event is None or event["removed"]:
            return self.error(404, "ErrorItemNotFound", "The specified object was not found.")
        if not calendar["canEdit"]:
            return self.error(403, "ErrorAccessDenied", "Access is denied.")
        if request.method == "DELETE":
            event["removed"] = True
            self._bump(event)
            return Response(status=204)
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self.error(400, "ErrorInvalidRequest", "A JSON body is required.")
        try:
            _apply(event, body)
        except _BadRequest as exc:
            return self.error(400, "ErrorInvalidRequest", str(exc))
        self._bump(event)
        return jsonify(self._json(event, "UTC"))

    def _json(self, event: dict[str, Any], zone: str) -> dict[str, Any]:
        """An event as Graph shows it, its times in ``zone`` (a Windows or IANA name)."""
        windows = _WINDOWS_NAME.get(event["zone"], event["zone"])
        answer = {
            "@odata.etag": f'W/"{event["change_key"]}"',
            "id": event["id"],
            "changeKey": event["change_key"],
            "iCalUId": event["ical_uid"],
            "subject": event["subject"],
            "bodyPreview": _plain(event["body"])[:255],
            "body": {"contentType": event["content_type"], "content": event["body"]},
            "location": {"displayName": event["location"]},
            "isAllDay": event["all_day"],
            "showAs": event["show_as"],
            "isCancelled": event["is_cancelled"],
            "type": event["type"],
            "seriesMasterId": event["series_master_id"],
            "originalStartTimeZone": windows,
            "originalEndTimeZone": windows,
            "start": _graph_time(event["start"], zone),
            "end": _graph_time(event["end"], zone),
        }
        if event["original_start"] is not None:
            answer["originalStart"] = event["original_start"].strftime("%Y-%m-%dT%H:%M:%SZ")
        return answer


def _preferences() -> dict[str, str]:
    """The Prefer headers, one or several, each possibly a comma-separated list."""
    found = {}
    for header in request.headers.getlist("Prefer"):
        for part in header.split(","):
            name, _, value = part.strip().partition("=")
            found[name.strip()] = value.strip().strip('"')
    return found


def _window(value: str | None) -> datetime:
    try:
        moment = datetime.fromisoformat(value or "")
    except ValueError:
        raise _BadRequest(value) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _utc_start(event: dict[str, Any]) -> datetime:
    return _as_utc(event["start"])


def _as_utc(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.combine(value, time(), UTC)


def _overlaps(event: dict[str, Any], low: datetime, high: datetime) -> bool:
    start, end = _as_utc(event["start"]), _as_utc(event["end"])
    if start == end:
        return low <= start < high
    return start < high and end > low


def _graph_time(value: datetime | date, zone: str) -> dict[str, str]:
    if isinstance(value, datetime):
        wall = value.astimezone(_zone(zone))
    else:
        wall = datetime.combine(value, time())  # a whole day is midnight in any zone
    return {"dateTime": wall.strftime("%Y-%m-%dT%H:%M:%S") + ".0000000", "timeZone": zone}


def _plain(body: str) -> str:
    return body.replace("<html><body>", "").replace("</body></html>", "")


def _apply(event: dict[str, Any], body: dict[str, Any]) -> None:
    """Set an event from a create or update body (only the fields given)."""
    if "subject" in body:
        event["subject"] = body["subject"] or ""
    if "body" in body:
        event["body"] = body["body"].get("content") or ""
        event["content_type"] = body["body"].get("contentType", "text").lower()
    if "location" in body:
        event["location"] = (body["location"] or {}).get("displayName") or ""
    if "showAs" in body:
        event["show_as"] = body["showAs"]
    if "isAllDay" in body:
        event["all_day"] = bool(body["isAllDay"])
    for name in ("start", "end"):
        if name not in body:
            continue
        try:
            wall = datetime.fromisoformat(body[name]["dateTime"])
            zone = body[name].get("timeZone") or "UTC"
        except (KeyError, TypeError, ValueError):
            raise _BadRequest(f"Invalid {name}.") from None
        if event["all_day"]:
            if wall.time() != time():
                raise _BadRequest("All-day events must start and end at midnight.")
            event[name] = wall.date()
        else:
            event[name] = wall.replace(tzinfo=_zone(zone)).astimezone(UTC)
        if name == "start":
            event["zone"] = WINDOWS_ZONES.get(zone, zone)
