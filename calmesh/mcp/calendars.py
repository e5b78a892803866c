"""Tools on unified calendars: list, events, availability, conflicts, create, manage."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from mcp_types import CallToolResult
from pydantic import BaseModel, Field

from calmesh.inputs import calendars as inputs
from calmesh.mcp.client import Api, ApiFailure
from calmesh.mcp.client import segment as seg
from calmesh.mcp.common import (
    CalendarSlug,
    ConnectionId,
    Cursor,
    Limit,
    NewSlug,
    Zone,
    at,
    bad_arguments,
    like,
    more,
    result,
    tool,
    untrusted,
    when,
)
from calmesh.schema import MAX_WINDOW_DAYS, minutes_field, slug_field

NEW_EVENT = inputs.NEW_EVENT.fields

WindowStart = when("Start of the window")
WindowEnd = when(
    f"End of the window (after start, at most {MAX_WINDOW_DAYS} days; a date alone "
    "includes that whole day)"
)
EVENT_TEXT = ("data[].summary", "data[].location")
ViewZone = Annotated[
    Zone | None,
    Field(
        description="IANA zone for the *_local times in the answer, e.g. America/New_York; "
        "default the calendar's own zone"
    ),
]


class NewSource(BaseModel):
    """One source: a whole connection, or one calendar of it. The same shape in
    calmesh_create_calendar's `sources` and calmesh_manage_calendar's `add_sources`."""

    connection_id: ConnectionId
    remote_calendar_id: like(
        inputs.NEW_SOURCE.fields["remote_calendar_id"],
        "One calendar of that connection (its id from calmesh_list_connections); "
        "leave out to add all of the connection's calendars",
        int,
        optional=True,
    ) = None


# calmesh_manage_calendar's parameters.
NewName = like(inputs.NEW_CALENDAR.fields["name"], "New display name", optional=True)
Rename = like(slug_field(), "Rename the slug (old one stops working)", optional=True)
NewZone = Annotated[Zone | None, Field(description="New IANA time zone")]
FeedMode = like(
    inputs.CALENDAR_PATCH.fields["feed_mode"],
    "Private iCal feed of the merged calendar: busy blocks only, full details, or off",
    optional=True,
)
RotateFeed = Annotated[bool, Field(description="Give the feed a new URL; old links stop working")]
AddSources = Annotated[
    list[NewSource],
    Field(max_length=50, description="Connections (or single calendars) to add"),
]
RemoveSources = Annotated[
    list[Annotated[int, Field(ge=1)]],
    Field(max_length=50, description="Source ids to remove (ids from `sources`)"),
]
SourceOrder = like(
    inputs.SOURCE_ORDER.fields["source_ids"],
    "Every source id in the new order, after adds and removals; the first writable "
    "one becomes the write target (read-only ones are skipped)",
    list,
    optional=True,
)
WriteCalendar = Annotated[
    int | None,
    Field(
        ge=0,
        description="Where bookings go: a writable remote calendar of the sources "
        "(its id from calmesh_list_connections; never an iCal URL); 0: back to the "
        "first writable one",
    ),
]
# One change of a calendar: (what it does, in words; method; path below the calendar; body).
Step = tuple[str, str, str, dict[str, Any] | None]


def _calendar_line(calendar: dict[str, Any]) -> str:
    sources = calendar.get("sources", [])
    names = ", ".join(
        f"{s['connection_name']} (source {s['id']}"
        + (f", calendar {s['remote_calendar_id']}" if s["remote_calendar_id"] else "")
        + (", write target" if s.get("write_target") else "")
        + (", read-only: skipped for writes" if s["read_only"] else "")
        + ")"
        for s in sources
    )
    goes_to = calendar.get("write_calendar_id")
    return (
        f"- {calendar['slug']}: {calendar['name']!r} in {calendar['timezone']}; "
        f"sources: {names or 'none yet'}; bookings go to "
        + (f"calendar {goes_to}" if goes_to else "nowhere (no writable source)")
    )


def _event_line(event: dict[str, Any]) -> str:
    if event["all_day"]:
        when = f"{event['start_date']} to {event['end_date']} (all day, end exclusive)"
    else:
        when = f"{event['start_local']} to {event['end_local']}"
    flags = [] if event["busy"] else ["free"]
    if event["status"] != "confirmed":
        flags.append(event["status"])
    extra = f" [{', '.join(flags)}]" if flags else ""
    origin = f"source {event['source_id']}" if event["source_id"] else "not in a source yet"
    if event.get("booking_id"):
        origin += f", booking {event['booking_id']}"
    return f"- {when}: {untrusted(event['summary'] or '(no title)')}{extra} ({origin})"


def _range_line(block: dict[str, Any]) -> str:
    return f"- {block['start_local']} to {block['end_local']}"


@tool("calmesh_list_calendars", "List unified calendars", "read", calls=["GET /calendars"])
async def list_calendars(api: Api, limit: Limit = 50, cursor: Cursor = None) -> CallToolResult:
    """List the owner's unified calendars: each merges one or more sources (calendar
    connections) and has a slug, a name, an IANA time zone and its sources in order
    (`write_target` marks where new events and bookings are written: the first writable
    source; read-only ones such as iCal URLs are skipped).

    Use it first to find the slug that calmesh_get_events, calmesh_check_availability,
    calmesh_find_conflicts and calmesh_manage_calendar need. The result has `data` (the
    calendars), `has_more` and `next_cursor`."""
    page = await api.get("/calendars", limit=limit, cursor=cursor)
    lines = [_calendar_line(c) for c in page["data"]]
    summary = f"{len(lines)} unified calendar(s):\n" + "\n".join(lines) if lines else ""
    return result((summary or "No unified calendars yet.") + more(page), page)


@tool("calmesh_get_events", "Get merged events", "read", calls=["GET /calendars/:slug/events"])
async def get_events(
    api: Api,
    calendar: CalendarSlug,
    start: WindowStart,
    end: WindowEnd,
    timezone: ViewZone = None,
) -> CallToolResult:
    """Get the events of a unified calendar that overlap a time window, merged from all
    of its sources, with recurring events expanded into single occurrences.

    Each event has `uid`, `summary`, `location`, `start`/`end` in UTC, `start_local`/
    `end_local` in the answer's zone, `all_day` (then `start_date`/`end_date`, the end
    exclusive), `busy` (false for events marked free), `status`, the `source_id` it
    came from, and `booking_id` when it is a CalMesh booking. Use
    calmesh_check_availability instead to learn when the owner is free."""
    data = await api.get(
        f"/calendars/{seg(calendar)}/events",
        start=await at(api, start),
        end=await at(api, end, end=True),
        tz=timezone,
    )
    lines = [_event_line(e) for e in data["data"]]
    head = f"{len(lines)} event(s) in {calendar!r} (times in {data['timezone']})"
    return result(head + (":\n" + "\n".join(lines) if lines else "."), data, EVENT_TEXT)


@tool(
    "calmesh_check_availability",
    "Check free and busy time",
    "read",
    calls=["GET /calendars/:slug/availability"],
)
async def check_availability(
    api: Api,
    calendar: CalendarSlug,
    date: Annotated[
        date | None,
        Field(description="A whole day, YYYY-MM-DD, in `timezone`; or give start and end"),
    ] = None,
    start: when("Window start (instead of date)", optional=True) = None,
    end: when("Window end (instead of date)", optional=True) = None,
    timezone: ViewZone = None,
    duration: like(
        minutes_field(), "Only list free ranges at least this many minutes", int, optional=True
    ) = None,
) -> CallToolResult:
    """Find when the owner is busy and free on a day or in a window, across every
    source of a unified calendar, and the calendar's own bookings (pending and accepted,
    each once). Events marked free and cancelled events do not block time; all-day
    events block the whole day in the calendar's zone.

    Give either `date` (a whole day in `timezone`) or both `start` and `end`. The result
    has `busy` and `free` lists of ranges, each with `start`/`end` in UTC and
    `start_local`/`end_local` in the answer's `timezone`. To offer bookable times of a
    booking page, use calmesh_get_slots instead: it also honours the page's rules."""
    if date is not None and (start or end):
        raise bad_arguments("give either date, or start and end, not both", "date")
    if date is None and (start is None or end is None):
        raise bad_arguments("is required without start and end", "date")
    data = await api.get(
        f"/calendars/{seg(calendar)}/availability",
        date=date,
        start=await at(api, start),
        end=await at(api, end, end=True),
        tz=timezone,
        duration=duration,
    )
    busy = [_range_line(b) for b in data["busy"]]
    free = [_range_line(f) for f in data["free"]]
    summary = (
        f"Availability of {calendar!r} (times in {data['timezone']}).\n"
        f"Busy ({len(busy)}):\n" + ("\n".join(busy) or "- nothing") + "\n"
        f"Free ({len(free)}):\n" + ("\n".join(free) or "- nothing")
    )
    return result(summary, data)


@tool(
    "calmesh_find_conflicts",
    "Find double-booked time",
    "read",
    calls=["GET /calendars/:slug/conflicts"],
)
async def find_conflicts(
    api: Api,
    calendar: CalendarSlug,
    start: WindowStart,
    end: WindowEnd,
    timezone: ViewZone = None,
) -> CallToolResult:
    """Find conflicts in a unified calendar: busy events from different sources that
    overlap (say a work meeting over a family appointment) within a window. The
    calendar's bookings count as one more source until they are written to one.

    Each conflict in `data` has the two events `a` and `b` (as calmesh_get_events shows
    events) and the `overlap` range. An empty list means no double-booking."""
    data = await api.get(
        f"/calendars/{seg(calendar)}/conflicts",
        start=await at(api, start),
        end=await at(api, end, end=True),
        tz=timezone,
    )
    lines = [
        f"- {untrusted(c['a']['summary'] or '(no title)')} ({_origin(c['a'])}) overlaps "
        f"{untrusted(c['b']['summary'] or '(no title)')} ({_origin(c['b'])}) from "
        f"{c['overlap']['start_local']} to {c['overlap']['end_local']}"
        for c in data["data"]
    ]
    head = f"{len(lines)} conflict(s) in {calendar!r} (times in {data['timezone']})"
    text = [f"data[].{side}.{f}" for side in ("a", "b") for f in ("summary", "location")]
    return result(head + (":\n" + "\n".join(lines) if lines else "."), data, text)


@tool(
    "calmesh_create_calendar",
    "Create a unified calendar",
    "full",
    calls=["POST /calendars", "POST /calendars/:slug/sources"],
)
async def create_calendar(
    api: Api,
    slug: NewSlug,
    name: like(inputs.NEW_CALENDAR.fields["name"], "Display name"),
    timezone: Annotated[
        Zone, Field(description="The calendar's IANA time zone, e.g. Europe/Berlin")
    ],
    sources: Annotated[
        list[NewSource],
        Field(
            max_length=50,
            description="Connections (or single calendars of them) to merge into it, in "
            "order; the same shape as calmesh_manage_calendar's add_sources",
        ),
    ] = [],  # noqa: B006 - pydantic copies defaults; the schema shows []
) -> CallToolResult:
    """Create a unified calendar that merges calendar connections into one view, in one
    IANA time zone. Booking pages and polls are built on a unified calendar.

    Add sources now with `sources` (each {connection_id} for all of a connection's
    calendars, or {connection_id, remote_calendar_id} for one) or later with
    calmesh_manage_calendar. If adding a source fails, the answer says which were
    added and which not; the calendar itself stays. The result is the calendar with
    its `slug`, `name`, `timezone` and `sources`."""
    data = await api.post("/calendars", {"slug": slug, "name": name, "timezone": timezone})
    steps = [(_source_step(new), "POST", "/sources", _source_body(new)) for new in sources]
    data = await run_steps(api, data, steps, done=[f"create calendar {data['slug']!r}"])
    return result("Created unified calendar:\n" + _calendar_line(data), data)


@tool(
    "calmesh_manage_calendar",
    "Change a unified calendar and its sources",
    "full",
    calls=[
        "PATCH /calendars/:slug",
        "POST /calendars/:slug/sources",
        "DELETE /calendars/:slug/sources/:sourceId",
        "PATCH /calendars/:slug/sources/reorder",
    ],
    destructive=True,
)
async def manage_calendar(
    api: Api,
    calendar: CalendarSlug,
    name: NewName = None,
    new_slug: Rename = None,
    timezone: NewZone = None,
    feed_mode: FeedMode = None,
    rotate_feed: RotateFeed = False,
    add_sources: AddSources = [],  # noqa: B006
    remove_sources: RemoveSources = [],  # noqa: B006
    source_order: SourceOrder = None,
    write_calendar_id: WriteCalendar = None,
) -> CallToolResult:
    """Change a unified calendar: its name, slug, IANA time zone and private feed, and
    its sources: add connections (or one calendar of a connection), remove sources, and
    reorder them (the first writable source is where new events and bookings are written,
    unless `write_calendar_id` names the calendar bookings go to).

    Steps run in this order: settings, additions, removals, new order, where bookings
    go; the first that
    fails stops the rest, and the error says what was done and what was not. Removing a
    source hides its events from the calendar (the connection itself stays). The result
    is the calendar as it is now; when the feed was just turned on or given a new URL,
    it carries that URL (``feed_url``) this once: CalMesh keeps only a hash of it."""
    settings = {
        "name": name,
        "slug": new_slug,
        "timezone": timezone,
        "feed_mode": feed_mode,
        "rotate_feed": rotate_feed or None,
    }
    steps = _changes(
        {k: v for k, v in settings.items() if v is not None},
        add_sources,
        remove_sources,
        source_order,
        write_calendar_id,
    )
    if not steps:
        data = await api.get(f"/calendars/{seg(calendar)}")
        return result("Nothing to change:\n" + _calendar_line(data), data)
    data = await run_steps(api, {"slug": calendar}, steps, done=[])
    feed_url = data.get("feed_url")
    shown = f"\nPrivate feed URL (shown only this once): {feed_url}" if feed_url else ""
    return result(f"Done: {', '.join(s[0] for s in steps)}.\n" + _calendar_line(data) + shown, data)


@tool(
    "calmesh_create_event",
    "Create an event on a unified calendar",
    "full",
    calls=["POST /calendars/:slug/events"],
    open_world=True,
)
async def create_event(
    api: Api,
    calendar: CalendarSlug,
    summary: like(NEW_EVENT["summary"], "The title"),
    start: when("Start (a date alone: that day's midnight in the owner's zone)"),
    end: when("End, after start"),
    description: like(NEW_EVENT["description"], "Details") = "",
    location: like(NEW_EVENT["location"], "Where") = "",
    source_id: like(
        NEW_EVENT["source_id"],
        "A source id to write to; default the write target",
        int,
        optional=True,
    ) = None,
    uid: like(
        NEW_EVENT["uid"],
        "Your own UID makes a retry idempotent; default generated",
        optional=True,
    ) = None,
) -> CallToolResult:
    """Create an event in the owner's calendar account through a unified calendar:
    it is written to the provider (the calendar's write target, or `source_id`) and
    counts as busy at once. Read-only sources (iCal URLs) cannot be written.

    The result has the event's `uid` (for calmesh_delete_event), the `source_id` it
    went to, and its `href` at the provider."""
    data = await api.post(
        f"/calendars/{seg(calendar)}/events",
        {
            "summary": summary,
            "start": await at(api, start),
            "end": await at(api, end),
            "description": description,
            "location": location,
            "source_id": source_id,
            "uid": uid,
        },
    )
    return result(f"Created event {summary!r} ({data['uid']}) in source {data['source_id']}.", data)


@tool(
    "calmesh_delete_event",
    "Delete an event from a unified calendar",
    "full",
    calls=["DELETE /calendars/:slug/events"],
    destructive=True,
    idempotent=True,
    open_world=True,
)
async def delete_event(
    api: Api,
    calendar: CalendarSlug,
    uid: like(inputs.EVENT_REF.fields["uid"], "The event's uid (calmesh_get_events)"),
    source_id: like(
        inputs.EVENT_REF.fields["source_id"],
        "Only from this source; default any",
        int,
        optional=True,
    ) = None,
) -> CallToolResult:
    """Delete an event (every occurrence of it) at its provider and from CalMesh.
    Cannot be undone. A CalMesh booking's event is better cancelled with
    calmesh_cancel_booking, which also tells the attendee."""
    path = f"/calendars/{seg(calendar)}/events"
    data = await api.request("DELETE", path, params={"uid": uid, "source_id": source_id})
    return result(f"Deleted event {uid} ({data['deleted']} object(s)).", data)


TOOLS = (
    list_calendars,
    get_events,
    check_availability,
    find_conflicts,
    create_calendar,
    manage_calendar,
    create_event,
    delete_event,
)


def _changes(
    settings: dict[str, Any],
    add_sources: list[NewSource],
    remove_sources: list[int],
    source_order: list[int] | None,
    write_calendar_id: int | None,
) -> list[Step]:
    """calmesh_manage_calendar's steps, in the order it promises."""
    steps: list[Step] = []
    if settings:
        steps.append(("update the settings", "PATCH", "", settings))
    for new in add_sources:
        steps.append((_source_step(new), "POST", "/sources", _source_body(new)))
    for source_id in remove_sources:
        steps.append((f"remove source {source_id}", "DELETE", f"/sources/{source_id}", None))
    if source_order is not None:
        body = {"source_ids": source_order}
        steps.append(("reorder the sources", "PATCH", "/sources/reorder", body))
    if write_calendar_id is not None:
        body = {"write_calendar_id": write_calendar_id or None}
        steps.append(("choose where bookings go", "PATCH", "", body))
    return steps


def _source_step(new: NewSource) -> str:
    what = f"add connection {new.connection_id}"
    if new.remote_calendar_id:
        what += f" (calendar {new.remote_calendar_id})"
    return what


def _source_body(new: NewSource) -> dict[str, Any]:
    return new.model_dump(exclude_none=True)


def _origin(event: dict[str, Any]) -> str:
    if event["source_id"] is None:
        return f"booking {event['booking_id']}, not in a source yet"
    return f"source {event['source_id']}"


async def run_steps(
    api: Api,
    data: dict[str, Any],
    steps: list[Step],
    done: list[str],
) -> dict[str, Any]:
    """Run calendar changes in order; the first failure stops the rest, and its
    message says what was done and what was not (nothing is rolled back). A feed URL
    answered by any step (shown only once) is kept in the result."""
    feed_url = data.get("feed_url")
    for index, (what, method, path, body) in enumerate(steps):
        try:
            data = await api.request(method, f"/calendars/{seg(data['slug'])}{path}", body=body)
        except ApiFailure as failure:
            left = [s[0] for s in steps[index + 1 :]]
            failure.message = (
                f"could not {what}"
                + (f" (done: {', '.join(done)})" if done else " (nothing was changed)")
                + (f" (not done: {', '.join(left)})" if left else "")
                + f": {failure.message}"
            )
            raise
        feed_url = data.get("feed_url") or feed_url
        done.append(what)
    return {**data, "feed_url": feed_url} if feed_url else data
