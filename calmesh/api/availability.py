"""A unified calendar's busy blocks and free ranges, in the asked zone and UTC."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from calmesh.api.calendars import TAG, owned
from calmesh.api.framework import cached_json, endpoint
from calmesh.api.serializers import TIME_RANGE_FIELDS, iso, time_range_out
from calmesh.engine.intervals import Interval
from calmesh.inputs import calendars as inputs
from calmesh.schema import DateTime, List, Object, String
from calmesh.services import calendar_events as rules
from calmesh.services.memo import Memo

BLOCK_OUT = Object(TIME_RANGE_FIELDS, name="TimeRange")
AVAILABILITY_OUT = Object(
    {
        "timezone": String(),
        "start": DateTime(),
        "end": DateTime(),
        "busy": List(BLOCK_OUT, max_items=100_000),
        "free": List(BLOCK_OUT, max_items=100_000),
    },
    name="Availability",
)


def block_out(interval: Interval, zone: ZoneInfo) -> dict:
    return time_range_out(interval, zone)


@endpoint(
    "/calendars/<slug:slug>/availability",
    "GET",
    auth="read",
    query=inputs.AVAILABILITY_QUERY,
    response=AVAILABILITY_OUT,
    summary="Busy blocks and free ranges (in the asked zone and UTC); the calendar's "
    "pending and accepted bookings count as busy, each once",
    tag=TAG,
)
def calendar_availability(slug, query):
    calendar = owned(slug)
    tz = query["tz"] or calendar.timezone
    start, end = rules.availability_window(query["date"], query["start"], query["end"], tz)
    asked = rules.availability_query(calendar, start, end, query["duration"])
    return cached_json(_AVAILABILITY_JSON, (asked.key, tz), lambda: availability_out(asked, tz))


# The encoded answers per worker (the answers themselves are kept by
# calmesh.services.calendar_events), keyed by the query's key and the zone.
_AVAILABILITY_JSON = Memo(size=512)


def availability_out(asked: rules.AvailabilityQuery, tz: str) -> dict:
    result = rules.availability(asked)
    zone = ZoneInfo(tz)
    return {
        "timezone": tz,
        "start": iso(asked.start),
        "end": iso(asked.end),
        "busy": [block_out(i, zone) for i in result.busy],
        "free": [block_out(i, zone) for i in result.free],
    }
