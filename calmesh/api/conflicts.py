"""Overlapping busy events of a unified calendar's sources (bookings count as one)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from calmesh.api.availability import BLOCK_OUT, block_out
from calmesh.api.calendar_events import EVENT_OUT, booking_titles, event_out, owned_window
from calmesh.api.calendars import TAG
from calmesh.api.framework import endpoint
from calmesh.inputs import calendars as inputs
from calmesh.schema import List, Object, String
from calmesh.services import calendars as service

CONFLICT_OUT = Object(
    {"a": EVENT_OUT, "b": EVENT_OUT, "overlap": BLOCK_OUT},
    name="Conflict",
)


@endpoint(
    "/calendars/<slug:slug>/conflicts",
    "GET",
    auth="read",
    query=inputs.RANGE_QUERY,
    response=Object(
        {"data": List(CONFLICT_OUT, max_items=100_000), "timezone": String()}, name="ConflictList"
    ),
    summary="Overlapping busy events from different sources (bookings count as one)",
    tag=TAG,
)
def calendar_conflicts(slug, query):
    calendar, start, end, tz = owned_window(slug, query)
    found = service.with_bookings(calendar, service.events(calendar, start, end), start, end)
    by_key = {id(e.busy_event): e for e in found}
    conflicts = service.conflicts_among(calendar, found)
    titles = booking_titles(found)
    zone = ZoneInfo(tz)
    return {
        "data": [
            {
                "a": event_out(by_key[id(c.a)], tz, titles),
                "b": event_out(by_key[id(c.b)], tz, titles),
                "overlap": block_out(c.overlap, zone),
            }
            for c in conflicts
        ],
        "timezone": tz,
    }
