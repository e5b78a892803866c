"""A stand-in for the Google Calendar API v3 and Google's OAuth endpoints.

Documented behaviours it implements (and nothing else):

* OAuth (``/o/oauth2/v2/auth``, ``/token``): a refresh token only when the
  consent asked for ``access_type=offline``; ``authorization_code`` and
  ``refresh_token`` grants; a refresh answers without a new refresh token
  (Google's stays valid); ``invalid_grant`` once revoked.
* ``GET /calendar/v3/users/me/calendarList``: entries with ``id``,
  ``summary``, ``accessRole``, ``backgroundColor``, ``timeZone``; paging with
  ``maxResults`` / ``pageToken`` / ``nextPageToken``.
* ``GET /calendar/v3/calendars/{id}/events``, the expanded view only
  (``singleEvents=true``, else 400, except that a lookup by ``iCalUID``
  without it finds single events): recurring events are stored
  pre-expanded, one instance per occurrence with the id
  ``{series}_{20260330T070000Z}`` (``{series}_{20260330}`` for whole days),
  ``recurringEventId`` and ``originalStartTime``, as Google returns them.
  ``timeMin`` / ``timeMax`` (RFC 3339 with an offset; an event is listed when
  it ends after timeMin and starts before timeMax), ``showDeleted``,
  ``iCalUID``, ``maxResults`` (never more than ``page_size`` per page),
  ``pageToken`` / ``nextPageToken``, and ``nextSyncToken`` on the last page
  only. ``syncToken`` returns what changed since, cancelled events included;
  combined with ``timeMin``, ``timeMax``, ``q``, ``orderBy``, ``iCalUID``,
  ``updatedMin`` or an extended-property filter it is refused with 400;
  an unknown or expired token (``expire_sync_tokens()``) answers
  410 ``fullSyncRequired``.
* ``POST .../events`` (any ``sendUpdates``): a taken ``iCalUID`` answers
  409 ``duplicate``; a calendar with the reader role 403
  ``requiredAccessLevel``. ``PUT .../events/{eventId}`` replaces the event.
  ``DELETE .../events/{eventId}`` answers 204, 410 when deleted already, 404
  when unknown. A deleted event stays, with ``status: "cancelled"`` and only
  its identifying fields, so that syncs see it.
* Errors in Google's shape: ``{"error": {"code", "message", "errors":
  [{"domain", "reason", "message"}]}}``; 401 for a missing or expired token.

Not implemented: freeBusy, push channels, events.get/patch/import/instances,
unexpanded lists, conditional requests, quotas.

Tests change the account as its owner would in Google Calendar:
``add_event``, ``add_series``, ``change_event``, ``delete_event``, and read it
with ``live_events``. Calendars: ``primary`` (alice@example.org, owner,
Europe/Berlin) and ``holidays`` (reader) exist from the start.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, jsonify, request

from tests.standins import StandIn

_NOT_WITH_SYNC_TOKEN = {
    "timeMin",
    "timeMax",
    "q",
    "orderBy",
    "iCalUID",
    "updatedMin",
    "privateExtendedProperty",
    "sharedExtendedProperty",
}
_WRITERS = {"owner", "writer"}


class _BadRequest(Exception):
    pass


class GoogleStandIn(StandIn):
    kind = "google"
    auth_path = "/o/oauth2/v2/auth"
    token_path = "/token"
    api_path = "/calendar/v3"

    def __post_init__(self) -> None:
        self.calendars: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, dict[str, Any]]] = {}  # calendar -> id -> resource
        self.seq = 0
        self._sync_tokens: dict[str, tuple[str, int]] = {}  # token -> (calendar, seq)
        self._pages: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}
        super().__post_init__()
        self.primary = self.add_calendar("alice@example.org", "Alice", time_zone="Europe/Berlin")
        self.holidays = self.add_calendar(
            "en.german#holiday@group.v.calendar.google.com",
            "Holidays in Germany",
            access_role="reader",
            color="#16a765",
        )

    def routes(self) -> None:
        add = self.app.add_url_rule
        add(f"{self.api_path}/users/me/calendarList", "list", self.guard(self._calendar_list))
        add(
            f"{self.api_path}/calendars/<calendar_id>/events",
            "events",
            self.guard(self._events),
            methods=["GET", "POST"],
        )
        add(
            f"{self.api_path}/calendars/<calendar_id>/events/<event_id>",
            "event",
            self.guard(self._event),
            methods=["PUT", "DELETE"],
        )

    def _full_scope(self) -> str:
        return "https://www.googleapis.com/auth/calendar"

    def _offline(self, query: dict[str, str]) -> bool:
        return query.get("access_type") == "offline"

    def error(self, status: int, reason: str, message: str) -> Response:
        detail = {"domain": "global", "reason": reason, "message": message}
        response = jsonify(error={"code": status, "message": message, "errors": [detail]})
        response.status_code = status
        return response

    # --- the owner's side --------------------------------------------------------------------

    def add_calendar(
        self,
        calendar_id: str,
        summary: str,
        *,
        access_role: str = "owner",
        color: str = "#9fe1e7",
        time_zone: str = "Europe/Berlin",
    ) -> str:
        with self.lock:
            self.calendars[calendar_id] = {
                "kind": "calendar#calendarListEntry",
                "id": calendar_id,
                "summary": summary,
                "accessRole": access_role,
                "backgroundColor": color,
                "timeZone": time_zone,
            }
            self.events[calendar_id] = {}
        return calendar_id

    def add_event(
        self,
        calendar_id: str,
        summary: str,
        start: datetime | date,
        end: datetime | date,
        *,
        transparent: bool = False,
        tentative: bool = False,
        uid: str | None = None,
        description: str = "",
        location: str = "",
    ) -> str:
        """A single event; datetimes must be aware, dates make it all-day. Returns its id."""
        event_id = secrets.token_hex(13)
        with self.lock:
            zone = self.calendars[calendar_id]["timeZone"]
            resource = {
                "kind": "calendar#event",
                "id": event_id,
                "status": "tentative" if tentative else "confirmed",
                "summary": summary,
                "description": description,
                "location": location,
                "start": _time(start, zone),
                "end": _time(end, zone),
                "iCalUID": uid or f"{event_id}@google.com",
                "sequence": 0,
            }
            if transparent:
                resource["transparency"] = "transparent"
            self._store(calendar_id, resource)
        return event_id

    def add_series(
        self,
        calendar_id: str,
        summary: str,
        start: datetime | date,
        end: datetime | date,
        *,
        every: timedelta = timedelta(days=1),
        count: int = 3,
        **kw: Any,
    ) -> list[str]:
        """A recurring event, expanded as Google does; returns the instance ids in order."""
        series = secrets.token_hex(13)
        ids = []
        with self.lock:
            zone = self.calendars[calendar_id]["timeZone"]
            for n in range(count):
                first = self.add_event(
                    calendar_id, summary, start + n * every, end + n * every, **kw
                )
                resource = self.events[calendar_id].pop(first)
                when = start + n * every
                key = (
                    when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
                    if isinstance(when, datetime)
                    else when.strftime("%Y%m%d")
                )
                resource.update(
                    id=f"{series}_{key}",
                    iCalUID=kw.get("uid") or f"{series}@google.com",
                    recurringEventId=series,
                    originalStartTime=_time(when, zone),
                )
                self.events[calendar_id][resource["id"]] = resource
                ids.append(resource["id"])
        return ids

    def change_event(self, calendar_id: str, event_id: str, **fields: Any) -> None:
        """Edit as the owner: summary, description, location, start, end, transparent, tentative."""
        with self.lock:
            resource = self.events[calendar_id][event_id]
            zone = self.calendars[calendar_id]["timeZone"]
            for name, value in fields.items():
                if name in ("start", "end"):
                    resource[name] = _time(value, zone)
                elif name == "transparent":
                    resource.pop("transparency", None)
                    if value:
                        resource["transparency"] = "transparent"
                elif name == "tentative":
                    resource["status"] = "tentative" if value else "confirmed"
                else:
                    resource[name] = value
            self._bump(resource)

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Delete as the owner (or cancel one instance of a series)."""
        with self.lock:
            resource = self.events[calendar_id][event_id]
            resource["status"] = "cancelled"
            self._bump(resource)

    def expire_sync_tokens(self) -> None:
        """Every sync token issued so far answers 410 from now on."""
        with self.lock:
            self._sync_tokens.clear()

    def live_events(self, calendar_id: str) -> dict[str, dict[str, Any]]:
        """The calendar's events that are not cancelled, by id (copies)."""
        with self.lock:
            return {
                i: _public(r)
                for i, r in self.events[calendar_id].items()
                if r["status"] != "cancelled"
            }

    def _store(self, calendar_id: str, resource: dict[str, Any]) -> None:
        self.events[calendar_id][resource["id"]] = resource
        self._bump(resource)

    def _bump(self, resource: dict[str, Any]) -> None:
        self.seq += 1
        resource["_seq"] = self.seq
        resource["etag"] = f'"{3_000_000_000 + self.seq}"'
        resource["updated"] = datetime.now(UTC).isoformat(timespec="milliseconds")

    # --- the API ------------------------------------------------------------------------------

    def _calendar_list(self) -> Any:
        token = request.args.get("pageToken")
        if token:
            if token not in self._pages:
                return self.error(400, "invalid", "Invalid page token value.")
            items, final = self._pages[token]
        else:
            items, final = list(self.calendars.values()), {}
        return jsonify(self._paged(items, final, {"kind": "calendar#calendarList"}))

    def _events(self, calendar_id: str) -> Any:
        calendar = self.calendars.get(calendar_id)
        if calendar is None:
            return self.error(404, "notFound", "Not Found")
        if request.method == "POST":
            return self._insert(calendar)
        args = request.args
        expanded = args.get("singleEvents") == "true"
        if not expanded and not args.get("iCalUID"):
            return self.error(400, "invalid", "This stand-in lists expanded events only.")
        header = {"kind": "calendar#events", "summary": calendar["summary"]}
        header["timeZone"] = calendar["timeZone"]
        if args.get("pageToken"):
            if args["pageToken"] not in self._pages:
                return self.error(400, "invalid", "Invalid page token value.")
            items, final = self._pages[args["pageToken"]]
            return jsonify(self._paged(items, final, header))
        events = list(self.events[calendar_id].values())
        if args.get("syncToken"):
            mixed = _NOT_WITH_SYNC_TOKEN & set(args)
            if mixed:
                message = f"Sync token cannot be used with {', '.join(sorted(mixed))}."
                return self.error(400, "invalid", message)
            state = self._sync_tokens.get(args["syncToken"])
            if state is None or state[0] != calendar_id:
                message = "Sync token is no longer valid, a full sync is required."
                return self.error(410, "fullSyncRequired", message)
            events = [e for e in events if e["_seq"] > state[1]]
        else:
            if not expanded:  # an iCalUID lookup: the unexpanded view of single events
                events = [e for e in events if "recurringEventId" not in e]
            try:
                events = _filtered(events, args)
            except _BadRequest as exc:
                return self.error(400, "badRequest", str(exc))
        events.sort(key=lambda e: (_instant(e["start"]), e["id"]))
        token = "sync-" + secrets.token_urlsafe(12)
        self._sync_tokens[token] = (calendar_id, self.seq)
        return jsonify(self._paged([_public(e) for e in events], {"nextSyncToken": token}, header))

    def _paged(
        self, items: list[dict[str, Any]], final: dict[str, Any], header: dict[str, Any]
    ) -> dict[str, Any]:
        """One page; the rest is kept under a page token, ``final`` goes on the last page."""
        size = min(request.args.get("maxResults", 250, type=int), self.page_size)
        page, rest = items[:size], items[size:]
        answer = {**header, "items": [{k: v for k, v in i.items()} for i in page]}
        if rest:
            token = "page-" + secrets.token_urlsafe(12)
            self._pages[token] = (rest, final)
            answer["nextPageToken"] = token
        else:
            answer.update(final)
        return answer

    def _insert(self, calendar: dict[str, Any]) -> Any:
        if calendar["accessRole"] not in _WRITERS:
            return self.error(403, "requiredAccessLevel", "You need to have writer access.")
        body = request.get_json(silent=True)
        uid = body.get("iCalUID") if isinstance(body, dict) else None
        events = self.events[calendar["id"]]
        if uid and any(e["iCalUID"] == uid for e in events.values()):
            return self.error(409, "duplicate", "The requested identifier already exists.")
        event_id = secrets.token_hex(13)
        resource = {"kind": "calendar#event", "id": event_id, "iCalUID": uid or event_id}
        try:
            _apply(resource, body, calendar["timeZone"])
        except _BadRequest as exc:
            return self.error(400, "required", str(exc))
        self._store(calendar["id"], resource)
        return jsonify(_public(resource))

    def _event(self, calendar_id: str, event_id: str) -> Any:
        calendar = self.calendars.get(calendar_id)
        resource = self.events.get(calendar_id, {}).get(event_id)
        if calendar is None or resource is None:
            return self.error(404, "notFound", "Not Found")
        if calendar["accessRole"] not in _WRITERS:
            return self.error(403, "requiredAccessLevel", "You need to have writer access.")
        if request.method == "DELETE":
            if resource["status"] == "cancelled":
                return self.error(410, "deleted", "Resource has been deleted")
            resource["status"] = "cancelled"
            self._bump(resource)
            return Response(status=204)
        try:
            _apply(resource, request.get_json(silent=True), calendar["timeZone"])
        except _BadRequest as exc:
            return self.error(400, "required", str(exc))
        self._bump(resource)
        return jsonify(_public(resource))


def _time(value: datetime | date, zone: str) -> dict[str, str]:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("stand-in times must be aware")
        return {"dateTime": value.astimezone(ZoneInfo(zone)).isoformat(), "timeZone": zone}
    return {"date": value.isoformat()}


def _instant(when: dict[str, str]) -> datetime:
    if "date" in when:
        return datetime.combine(date.fromisoformat(when["date"]), datetime.min.time(), UTC)
    return datetime.fromisoformat(when["dateTime"])


def _rfc3339(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _BadRequest(f"{name} must be an RFC 3339 timestamp with an offset")
    return moment


def _filtered(events: list[dict[str, Any]], args: Any) -> list[dict[str, Any]]:
    if args.get("showDeleted") != "true":
        events = [e for e in events if e["status"] != "cancelled"]
    if args.get("iCalUID"):
        events = [e for e in events if e["iCalUID"] == args["iCalUID"]]
    if args.get("timeMin"):
        low = _rfc3339(args["timeMin"], "timeMin")
        events = [e for e in events if _instant(e["end"]) > low]
    if args.get("timeMax"):
        high = _rfc3339(args["timeMax"], "timeMax")
        events = [e for e in events if _instant(e["start"]) < high]
    return events


def _apply(resource: dict[str, Any], body: Any, zone: str) -> None:
    """Set an event from an insert or update body."""
    if not isinstance(body, dict) or "start" not in body or "end" not in body:
        raise _BadRequest("Missing start or end time.")
    for name in ("start", "end"):
        when = body[name]
        if "date" in when:
            resource[name] = {"date": date.fromisoformat(when["date"]).isoformat()}
            continue
        try:
            moment = datetime.fromisoformat(when["dateTime"])
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=ZoneInfo(when["timeZone"]))
            resource[name] = _time(moment, when.get("timeZone") or zone)
        except (KeyError, ValueError) as exc:
            raise _BadRequest(f"Invalid {name} time: {exc}") from None
    for name in ("summary", "description", "location", "attendees", "source"):
        if name in body:
            resource[name] = body[name]
    resource["status"] = body.get("status", "confirmed")
    resource["sequence"] = body.get("sequence", 0)
    resource.pop("transparency", None)
    if body.get("transparency") == "transparent":
        resource["transparency"] = "transparent"


def _public(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource as the API shows it; a cancelled one keeps only what identifies it."""
    if resource["status"] == "cancelled":
        keep = ("kind", "etag", "id", "status", "recurringEventId", "originalStartTime")
        return {k: resource[k] for k in keep if k in resource}
    return {k: v for k, v in resource.items() if not k.startswith("_")}
