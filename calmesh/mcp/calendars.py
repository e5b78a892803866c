"""Tools on unified calendars: list, events, availability, conflicts, create, manage."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from mcp_types import CallToolResult
from pydantic import BaseModel, Field

from calmesh.mcp.client import Api, ApiFailure
from calmesh.mcp.client import segment as seg
from calmesh.mcp.common import (
    OFFSET_HELP,
    CalendarSlug,
    ConnectionId,
    Cursor,
    Instant,
    Limit,
    Registrar,
    Zone,
    bad_arguments,
    more,
    result,
)

WindowStart = Annotated[Instant, Field(description=f"Start of the window. {OFFSET_HELP}")]
WindowEnd = Annotated[
    Instant, Field(description=f"End of the window (after start, at most 366 days). {OFFSET_HELP}")
]
ViewZone = Annotated[
    Zone | None,
    Field(
        description="IANA zone for the *_local times in the answer, e.g. America/New_York; "
        "default the calendar's own zone"
    ),
]


class NewSource(BaseModel):
    connection_id: ConnectionId
    remote_calendar_id: Annotated[
        int | None,
        Field(
            ge=1,
            description="One calendar of that connection (its id from calmesh_list_connections); "
            "leave out to add all of the connection's calendars",
        ),
    ] = None


def _calendar_line(calendar: dict[str, Any]) -> str:
    sources = calendar.get("sources", [])
    names = ", ".join(
        f"{s['connection_name']} (source {s['id']}"
        + (f", calendar {s['remote_calendar_id']}" if s["remote_calendar_id"] else "")
        + (", write target" if s["sort_order"] == 0 else "")
        + (", read-only" if s["read_only"] else "")
        + ")"
        for s in sources
    )
    return (
        f"- {calendar['slug']}: {calendar['name']!r} in {calendar['timezone']}; "
        f"sources: {names or 'none yet'}"
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
    return f"- {when}: {event['summary'] or '(no title)'}{extra} (source {event['source_id']})"


def _range_line(block: dict[str, Any]) -> str:
    return f"- {block['start_local']} to {block['end_local']}"


def register(tool: Registrar, api: Api) -> None:
    @tool("calmesh_list_calendars", "List unified calendars", "read")
    async def list_calendars(limit: Limit = 50, cursor: Cursor = None) -> CallToolResult:
        """List the owner's unified calendars: each merges one or more sources (calendar
        connections) and has a slug, a name, an IANA time zone and its sources in order (the
        first, sort_order 0, is where new events and bookings are written).

        Use it first to find the slug that calmesh_get_events, calmesh_check_availability,
        calmesh_find_conflicts and calmesh_manage_calendar need. The result has `data` (the
        calendars), `has_more` and `next_cursor`."""
        page = await api.get("/calendars", limit=limit, cursor=cursor)
        lines = [_calendar_line(c) for c in page["data"]]
        summary = f"{len(lines)} unified calendar(s):\n" + "\n".join(lines) if lines else ""
        return result((summary or "No unified calendars yet.") + more(page), page)

    @tool("calmesh_get_events", "Get merged events", "read")
    async def get_events(
        calendar: CalendarSlug,
        start: WindowStart,
        end: WindowEnd,
        timezone: ViewZone = None,
    ) -> CallToolResult:
        """Get the events of a unified calendar that overlap a time window, merged from all
        of its sources, with recurring events expanded into single occurrences.

        Each event has `uid`, `summary`, `location`, `start`/`end` in UTC, `start_local`/
        `end_local` in the answer's zone, `all_day` (then `start_date`/`end_date`, the end
        exclusive), `busy` (false for events marked free), `status` and the `source_id` it
        came from. Use calmesh_check_availability instead to learn when the owner is free."""
        data = await api.get(
            f"/calendars/{seg(calendar)}/events", start=start, end=end, tz=timezone
        )
        lines = [_event_line(e) for e in data["data"]]
        head = f"{len(lines)} event(s) in {calendar!r} (times in {data['timezone']})"
        return result(head + (":\n" + "\n".join(lines) if lines else "."), data)

    @tool("calmesh_check_availability", "Check free and busy time", "read")
    async def check_availability(
        calendar: CalendarSlug,
        date: Annotated[
            date | None,
            Field(description="A whole day, YYYY-MM-DD, in `timezone`; or give start and end"),
        ] = None,
        start: Annotated[
            Instant | None, Field(description=f"Window start (instead of date). {OFFSET_HELP}")
        ] = None,
        end: Annotated[
            Instant | None, Field(description=f"Window end (instead of date). {OFFSET_HELP}")
        ] = None,
        timezone: ViewZone = None,
        duration: Annotated[
            int | None,
            Field(ge=1, le=1440, description="Only list free ranges at least this many minutes"),
        ] = None,
    ) -> CallToolResult:
        """Find when the owner is busy and free on a day or in a window, across every
        source of a unified calendar. Events marked free and cancelled events do not block
        time; all-day events block the whole day in the calendar's zone.

        Give either `date` (a whole day in `timezone`) or both `start` and `end`. The result
        has `busy` and `free` lists of ranges, each with `start`/`end` in UTC and
        `start_local`/`end_local` in the answer's `timezone`. To offer bookable times of a
        booking page, use calmesh_get_slots instead: it also honours the page's rules."""
        if date is not None and (start or end):
            raise bad_arguments("give either date, or start and end, not both")
        if date is None and (start is None or end is None):
            raise bad_arguments("give date (YYYY-MM-DD), or both start and end")
        data = await api.get(
            f"/calendars/{seg(calendar)}/availability",
            date=date,
            start=start,
            end=end,
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

    @tool("calmesh_find_conflicts", "Find double-booked time", "read")
    async def find_conflicts(
        calendar: CalendarSlug,
        start: WindowStart,
        end: WindowEnd,
        timezone: ViewZone = None,
    ) -> CallToolResult:
        """Find conflicts in a unified calendar: busy events from different sources that
        overlap (say a work meeting over a family appointment) within a window.

        Each conflict in `data` has the two events `a` and `b` (as calmesh_get_events shows
        events) and the `overlap` range. An empty list means no double-booking."""
        data = await api.get(
            f"/calendars/{seg(calendar)}/conflicts", start=start, end=end, tz=timezone
        )
        lines = [
            f"- {c['a']['summary'] or '(no title)'} (source {c['a']['source_id']}) overlaps "
            f"{c['b']['summary'] or '(no title)'} (source {c['b']['source_id']}) from "
            f"{c['overlap']['start_local']} to {c['overlap']['end_local']}"
            for c in data["data"]
        ]
        head = f"{len(lines)} conflict(s) in {calendar!r} (times in {data['timezone']})"
        return result(head + (":\n" + "\n".join(lines) if lines else "."), data)

    @tool("calmesh_create_calendar", "Create a unified calendar", "full")
    async def create_calendar(
        slug: Annotated[
            str,
            Field(
                min_length=1,
                max_length=60,
                description="Short id for URLs and tools: lowercase letters, digits, hyphens",
            ),
        ],
        name: Annotated[str, Field(min_length=1, max_length=200, description="Display name")],
        timezone: Annotated[
            Zone, Field(description="The calendar's IANA time zone, e.g. Europe/Berlin")
        ],
        sources: Annotated[
            list[ConnectionId],
            Field(
                max_length=50,
                description="Connection ids to merge into it, in order (the first becomes the "
                "write target); all calendars of each connection are added",
            ),
        ] = [],  # noqa: B006 - pydantic copies defaults; the schema shows []
    ) -> CallToolResult:
        """Create a unified calendar that merges calendar connections into one view, in one
        IANA time zone. Booking pages and polls are built on a unified calendar.

        Add connections with `sources` now or later with calmesh_manage_calendar. The result
        is the calendar with its `slug`, `name`, `timezone` and `sources` (each with its
        source `id` and `sort_order`)."""
        data = await api.post("/calendars", {"slug": slug, "name": name, "timezone": timezone})
        for connection_id in sources:
            try:
                data = await api.post(
                    f"/calendars/{seg(data['slug'])}/sources", {"connection_id": connection_id}
                )
            except ApiFailure as failure:
                failure.message = (
                    f"created calendar {data['slug']!r}, but adding connection {connection_id} "
                    f"failed: {failure.message}"
                )
                raise
        return result("Created unified calendar:\n" + _calendar_line(data), data)

    @tool(
        "calmesh_manage_calendar",
        "Change a unified calendar and its sources",
        "full",
        destructive=True,
    )
    async def manage_calendar(
        calendar: CalendarSlug,
        name: Annotated[
            str | None, Field(min_length=1, max_length=200, description="New display name")
        ] = None,
        new_slug: Annotated[
            str | None,
            Field(
                min_length=1, max_length=60, description="Rename the slug (old one stops working)"
            ),
        ] = None,
        timezone: Annotated[Zone | None, Field(description="New IANA time zone")] = None,
        feed_mode: Annotated[
            Literal["off", "busy", "full"] | None,
            Field(
                description="Private iCal feed of the merged calendar: busy blocks only, "
                "full details, or off"
            ),
        ] = None,
        rotate_feed: Annotated[
            bool, Field(description="Give the feed a new URL; old links stop working")
        ] = False,
        add_sources: Annotated[
            list[NewSource],
            Field(max_length=50, description="Connections (or single calendars) to add"),
        ] = [],  # noqa: B006
        remove_sources: Annotated[
            list[Annotated[int, Field(ge=1)]],
            Field(max_length=50, description="Source ids to remove (ids from `sources`)"),
        ] = [],  # noqa: B006
        source_order: Annotated[
            list[Annotated[int, Field(ge=1)]] | None,
            Field(
                description="Every source id in the new order, after adds and removals; the "
                "first becomes the write target"
            ),
        ] = None,
    ) -> CallToolResult:
        """Change a unified calendar: its name, slug, IANA time zone and private feed, and
        its sources: add connections (or one calendar of a connection), remove sources, and
        reorder them (the first is where new events and bookings are written).

        Steps run in this order: settings, additions, removals, new order; the first that
        fails stops the rest and says so. Removing a source hides its events from the
        calendar (the connection itself stays). The result is the calendar as it is now;
        when the feed was just turned on or given a new URL, it carries that URL
        (``feed_url``) this once: CalMesh keeps only a hash of it."""
        settings = {
            "name": name,
            "slug": new_slug,
            "timezone": timezone,
            "feed_mode": feed_mode,
            "rotate_feed": rotate_feed or None,
        }
        settings = {k: v for k, v in settings.items() if v is not None}
        steps: list[tuple[str, str, str, dict[str, Any] | None]] = []
        slug = calendar
        if settings:
            steps.append(("update the settings", "PATCH", "", settings))
        for new in add_sources:
            what = f"add connection {new.connection_id}"
            if new.remote_calendar_id:
                what += f" (calendar {new.remote_calendar_id})"
            steps.append((what, "POST", "/sources", new.model_dump(exclude_none=True)))
        for source_id in remove_sources:
            steps.append((f"remove source {source_id}", "DELETE", f"/sources/{source_id}", None))
        if source_order is not None:
            body = {"source_ids": source_order}
            steps.append(("reorder the sources", "PATCH", "/sources/reorder", body))
        if not steps:
            data = await api.get(f"/calendars/{seg(slug)}")
            return result("Nothing to change:\n" + _calendar_line(data), data)
        done: list[str] = []
        feed_url = None
        for what, method, path, body in steps:
            try:
                data = await api.request(method, f"/calendars/{seg(slug)}{path}", body=body)
            except ApiFailure as failure:
                before = f" (done: {', '.join(done)})" if done else ""
                failure.message = f"could not {what}{before}: {failure.message}"
                raise
            slug = data["slug"]
            feed_url = data.get("feed_url") or feed_url  # answered once, by the settings step
            done.append(what)
        data["feed_url"] = feed_url
        shown = f"\nPrivate feed URL (shown only this once): {feed_url}" if feed_url else ""
        return result(f"Done: {', '.join(done)}.\n" + _calendar_line(data) + shown, data)
