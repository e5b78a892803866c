"""Unified calendars: their settings, sources, and the windows events,
availability and conflicts are asked for."""

from __future__ import annotations

from calmesh.models.calendars import FEED_MODES
from calmesh.schema import (
    Boolean,
    Choice,
    Date,
    DateTime,
    Integer,
    List,
    Object,
    String,
    TimeZone,
    minutes_field,
    slug_field,
)

SLUG = slug_field()

NEW_CALENDAR = Object(
    {
        "slug": SLUG,
        "name": String(min_length=1, max_length=200),
        "timezone": TimeZone(),
        "tentative_busy": Boolean(default=True, description="Do tentative events block time?"),
    },
    name="NewUnifiedCalendar",
)


CALENDAR_PATCH = Object(
    {
        "slug": slug_field(default=None),
        "name": String(min_length=1, max_length=200, default=None),
        "timezone": TimeZone(default=None),
        "tentative_busy": Boolean(default=None, nullable=True),
        "feed_mode": Choice(
            "off",
            *FEED_MODES,
            default=None,
            description="Publish the private iCal feed: busy blocks only, full details, or off",
        ),
        "rotate_feed": Boolean(
            default=False, description="Give the feed a new URL (old links stop working)"
        ),
        "write_calendar_id": Integer(
            nullable=True,
            required=False,
            description="Where bookings go: a writable remote calendar of the sources "
            "(422 for an iCal URL or a read-only one); null: the first writable one",
        ),
    },
    name="UnifiedCalendarUpdate",
)


NEW_SOURCE = Object(
    {
        "connection_id": Integer(minimum=1),
        "remote_calendar_id": Integer(
            minimum=1,
            default=None,
            nullable=True,
            description="Default: all of the connection's calendars",
        ),
    },
    name="NewCalendarSource",
)
SOURCE_ORDER = Object(
    {
        "source_ids": List(
            Integer(minimum=1),
            min_items=1,
            description="Every source id in the new order",
        )
    },
    name="SourceOrder",
)


RANGE_QUERY = Object(
    {
        "start": DateTime(description="Window start, ISO 8601 with offset"),
        "end": DateTime(description="Window end, ISO 8601 with offset"),
        "tz": TimeZone(
            default=None, description="Zone for the *_local fields; default the calendar's"
        ),
    }
)
NEW_EVENT = Object(
    {
        "start": DateTime(),
        "end": DateTime(),
        "summary": String(min_length=1, max_length=500),
        "description": String(max_length=10_000, default=""),
        "location": String(max_length=500, default=""),
        "source_id": Integer(
            minimum=1,
            default=None,
            nullable=True,
            description="Default: the write target (the first writable source)",
        ),
        "uid": String(
            min_length=1,
            max_length=255,
            pattern=r"[A-Za-z0-9@._:-]+",
            default=None,
            nullable=True,
            pattern_help="letters, digits and @._:-",
            description="Your own UID makes retries idempotent; default: generated",
        ),
    },
    name="NewEvent",
)

EVENT_REF = Object(
    {
        "uid": String(min_length=1, max_length=300, description="The event's uid"),
        "source_id": Integer(minimum=1, default=None),
    }
)
AVAILABILITY_QUERY = Object(
    {
        "date": Date(default=None, description="A whole day in tz (instead of start/end)"),
        "start": DateTime(default=None),
        "end": DateTime(default=None),
        "tz": TimeZone(
            default=None,
            description="Zone of the day and the *_local fields; default the calendar's",
        ),
        "duration": minutes_field(
            default=None,
            description="Only free ranges at least this many minutes long",
        ),
    }
)
