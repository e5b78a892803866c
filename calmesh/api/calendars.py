"""Unified calendars: CRUD, sources, merged events, availability, conflicts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from calmesh.api.framework import ApiError, cached_json, endpoint, not_found
from calmesh.api.framework import current_principal as who
from calmesh.api.pagination import PAGE_QUERY, page_of, paginate
from calmesh.api.serializers import iso
from calmesh.auth import apikeys
from calmesh.engine.hours import day_bounds
from calmesh.engine.ical import EventDraft
from calmesh.engine.intervals import Interval
from calmesh.models import Booking, BookingPage, CalendarSource, UnifiedCalendar
from calmesh.schema import (
    MAX_WINDOW_DAYS,
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
from calmesh.services import calendars as service
from calmesh.services.calendars import SLUG
from calmesh.services.memo import Memo
from calmesh.urls import external_url

TAG = "Unified calendars"
MAX_RANGE = timedelta(days=MAX_WINDOW_DAYS)

SOURCE_OUT = Object(
    {
        "id": Integer(),
        "connection_id": Integer(),
        "connection_name": String(),
        "provider": String(),
        "remote_calendar_id": Integer(
            nullable=True, description="null: all of the connection's calendars"
        ),
        "sort_order": Integer(description="Position; read-only sources are skipped for writes"),
        "read_only": Boolean(
            description="An iCal URL, or no enabled writable calendar: never written to"
        ),
        "write_target": Boolean(
            description="Where new events and bookings go: the first writable source in order"
        ),
    },
    name="CalendarSource",
)
CALENDAR_OUT = Object(
    {
        "id": Integer(),
        "slug": String(),
        "name": String(),
        "timezone": String(),
        "tentative_busy": Boolean(),
        "feed_mode": Choice("off", "busy", "full"),
        "feed_url": String(
            nullable=True,
            description="The private iCal feed (anyone with it can read). Only in the answer "
            "that turns the feed on or rotates it: it is stored as a hash, never shown again",
        ),
        "sources": List(SOURCE_OUT),
        "write_calendar_id": Integer(
            nullable=True,
            description="Where bookings are written: the id of a writable remote calendar of "
            "the sources (the owner's choice, else the first writable one); null when none is",
        ),
        "created_at": DateTime(),
    },
    name="UnifiedCalendar",
)


def source_out(source: CalendarSource, target: CalendarSource | None) -> dict:
    return {
        "id": source.id,
        "connection_id": source.connection_id,
        "connection_name": source.connection.name,
        "provider": source.connection.provider,
        "remote_calendar_id": source.remote_calendar_id,
        "sort_order": source.sort_order,
        "read_only": service.writable_calendar(source) is None,
        "write_target": target is not None and source.id == target.id,
    }


def calendar_out(calendar: UnifiedCalendar, feed_token: str | None = None) -> dict:
    """The calendar; ``feed_token`` only right after the feed was made or rotated."""
    sources = service.sources(calendar)
    goes_to = service.bookings_go_to(calendar, sources)
    target = goes_to[0] if goes_to else None
    feed = external_url("web.calendar_feed", token=feed_token) if feed_token else None
    return {
        "id": calendar.id,
        "slug": calendar.slug,
        "name": calendar.name,
        "timezone": calendar.timezone,
        "tentative_busy": calendar.tentative_busy,
        "feed_mode": calendar.feed_mode if calendar.feed_token_hash else "off",
        "feed_url": feed,
        "sources": [source_out(s, target) for s in sources],
        "write_calendar_id": goes_to[1].id if goes_to else None,
        "created_at": iso(calendar.created_at),
    }


def owned(slug: str) -> UnifiedCalendar:
    calendar = service.get_for(who().user, slug)
    if calendar is None:
        raise not_found("calendar")
    return calendar


NEW_CALENDAR = Object(
    {
        "slug": SLUG,
        "name": String(min_length=1, max_length=200),
        "timezone": TimeZone(),
        "tentative_busy": Boolean(default=True, description="Do tentative events block time?"),
    },
    name="NewUnifiedCalendar",
)


@endpoint(
    "/calendars",
    "POST",
    auth="full",
    body=NEW_CALENDAR,
    response=CALENDAR_OUT,
    status=201,
    errors=(409,),
    summary="Create a unified calendar",
    tag=TAG,
)
def create_calendar(body):
    return calendar_out(service.create(who().user, **body))


@endpoint(
    "/calendars",
    "GET",
    auth="read",
    query=Object(PAGE_QUERY),
    response=page_of(CALENDAR_OUT, "CalendarPage"),
    summary="List unified calendars",
    tag=TAG,
)
def list_calendars(query):
    return paginate(
        UnifiedCalendar.for_user(who().user),
        order=[UnifiedCalendar.id],
        serialize=calendar_out,
        **query,
    )


@endpoint(
    "/calendars/<slug:slug>",
    "GET",
    auth="read",
    response=CALENDAR_OUT,
    summary="A unified calendar",
    tag=TAG,
)
def get_calendar(slug):
    return calendar_out(owned(slug))


CALENDAR_PATCH = Object(
    {
        "slug": slug_field(default=None),
        "name": String(min_length=1, max_length=200, default=None),
        "timezone": TimeZone(default=None),
        "tentative_busy": Boolean(default=None, nullable=True),
        "feed_mode": Choice(
            "off",
            "busy",
            "full",
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


@endpoint(
    "/calendars/<slug:slug>",
    "PATCH",
    auth="full",
    body=CALENDAR_PATCH,
    response=CALENDAR_OUT,
    errors=(409, 422),
    summary="Update a unified calendar (name, slug, zone, feed, where bookings go)",
    tag=TAG,
)
def update_calendar(slug, body):
    return calendar_out(*service.update(owned(slug), **body))


@endpoint(
    "/calendars/<slug:slug>",
    "DELETE",
    auth="full",
    response=Object({"id": Integer(), "deleted": Boolean()}),
    summary="Delete a unified calendar (its connections stay)",
    tag=TAG,
)
def delete_calendar(slug):
    calendar = owned(slug)
    service.delete(calendar)
    return {"id": calendar.id, "deleted": True}


@endpoint(
    "/calendars/<slug:slug>/sources",
    "POST",
    auth="full",
    body=Object(
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
    ),
    response=CALENDAR_OUT,
    status=201,
    errors=(409,),
    summary="Add a connection (or one of its calendars)",
    tag=TAG,
)
def add_calendar_source(slug, body):
    calendar = owned(slug)
    service.add_source(calendar, body["connection_id"], body["remote_calendar_id"])
    return calendar_out(calendar)


@endpoint(
    "/calendars/<slug:slug>/sources/reorder",
    "PATCH",
    auth="full",
    body=Object(
        {
            "source_ids": List(
                Integer(minimum=1),
                min_items=1,
                description="Every source id in the new order",
            )
        },
        name="SourceOrder",
    ),
    response=CALENDAR_OUT,
    errors=(422,),
    summary="Reorder sources (the first writable one is the default write target)",
    description=(
        "Read-only sources (iCal URLs, calendars without write access) are skipped for "
        "writes wherever they stand: the write target is the first *writable* source in "
        "the new order (`write_target` in the answer). A read-only source first is "
        "accepted and never written to."
    ),
    tag=TAG,
)
def reorder_calendar_sources(slug, body):
    calendar = owned(slug)
    service.reorder(calendar, body["source_ids"])
    return calendar_out(calendar)


@endpoint(
    "/calendars/<slug:slug>/sources/<int:source_id>",
    "DELETE",
    auth="full",
    response=CALENDAR_OUT,
    summary="Remove a source from the calendar",
    tag=TAG,
)
def remove_calendar_source(slug, source_id):
    calendar = owned(slug)
    if not service.remove_source(calendar, source_id):
        raise not_found("source")
    return calendar_out(calendar)


# --- events ------------------------------------------------------------------------

RANGE_QUERY = {
    "start": DateTime(description="Window start, ISO 8601 with offset"),
    "end": DateTime(description="Window end, ISO 8601 with offset"),
    "tz": TimeZone(default=None, description="Zone for the *_local fields; default the calendar's"),
}

EVENT_OUT = Object(
    {
        "id": Integer(nullable=True, description="Stored occurrence id; null for a booking"),
        "uid": String(),
        "recurrence_id": String(nullable=True),
        "source_id": Integer(
            nullable=True, description="null: a booking no source holds yet (pending ones)"
        ),
        "connection_id": Integer(nullable=True),
        "booking_id": String(
            nullable=True, description="The CalMesh booking this event is (written back or not)"
        ),
        "summary": String(),
        "location": String(),
        "start": DateTime(description="UTC"),
        "end": DateTime(description="UTC"),
        "start_local": String(description="In the asked zone"),
        "end_local": String(description="In the asked zone"),
        "all_day": Boolean(),
        "start_date": Date(nullable=True),
        "end_date": Date(nullable=True, description="Exclusive"),
        "busy": Boolean(description="false for events marked free/transparent"),
        "status": Choice("confirmed", "tentative", "cancelled"),
    },
    name="Event",
)


def _window(query: dict) -> tuple[datetime, datetime, str]:
    start, end = query["start"], query["end"]
    if end <= start:
        raise ApiError(
            400,
            "validation_error",
            "end must be after start",
            [{"field": "end", "message": "must be after start"}],
        )
    if end - start > MAX_RANGE:
        raise ApiError(
            400,
            "validation_error",
            f"the window may span at most {MAX_WINDOW_DAYS} days",
            [{"field": "end", "message": f"at most {MAX_WINDOW_DAYS} days after start"}],
        )
    return start, end, query["tz"]


def booking_titles(found: list[service.Event]) -> dict[str, str] | None:
    """For a key below 'book' (which must not see who booked): booking uid -> its
    page's title, to show instead of the event's summary ("Intro call: <name>").
    None when the caller may see the names."""
    if apikeys.scope_allows(who().scope, "book"):
        return None
    uids = [e.booking_uid for e in found if e.booking_uid]
    if not uids:
        return {}
    rows = (
        Booking.select(Booking.uid, BookingPage.title)
        .join(BookingPage)
        .where(Booking.uid.in_(uids))
        .tuples()
    )
    return dict(rows)


def event_out(event: service.Event, tz: str, titles: dict[str, str] | None = None) -> dict:
    """The event; with ``titles`` (see booking_titles) a booking's summary is its page's
    title only."""
    out = _event_out(event, tz)
    if titles is not None and event.booking_uid:
        out["summary"] = f"{titles.get(event.booking_uid, 'Booking')} (booking)"
    return out


def _event_out(event: service.Event, tz: str) -> dict:
    occ = event.occurrence
    zone = ZoneInfo(tz)
    if occ is None:  # a booking that no source holds yet
        booking, busy = event.booking, event.busy_event
        return {
            "id": None,
            "uid": busy.uid,
            "recurrence_id": None,
            "source_id": None,
            "connection_id": None,
            "booking_id": booking.uid,
            "summary": busy.summary,
            "location": booking.page.location,
            "start": iso(booking.start),
            "end": iso(booking.end),
            "start_local": booking.start.astimezone(zone).isoformat(),
            "end_local": booking.end.astimezone(zone).isoformat(),
            "all_day": False,
            "start_date": None,
            "end_date": None,
            "busy": True,
            "status": "tentative" if booking.status == "pending" else "confirmed",
        }
    return {
        "id": occ.id,
        "uid": occ.uid,
        "recurrence_id": occ.recurrence_id,
        "source_id": event.source.id,
        "connection_id": event.source.connection_id,
        "booking_id": event.booking_uid,
        "summary": occ.summary,
        "location": occ.location,
        "start": iso(occ.start),
        "end": iso(occ.end),
        "start_local": occ.start_date.isoformat()
        if occ.all_day
        else occ.start.astimezone(zone).isoformat(),
        "end_local": occ.end_date.isoformat()
        if occ.all_day
        else occ.end.astimezone(zone).isoformat(),
        "all_day": occ.all_day,
        "start_date": occ.start_date.isoformat() if occ.start_date else None,
        "end_date": occ.end_date.isoformat() if occ.end_date else None,
        "busy": occ.busy,
        "status": occ.status,
    }


@endpoint(
    "/calendars/<slug:slug>/events",
    "GET",
    auth="read",
    query=Object(RANGE_QUERY),
    response=Object(
        {"data": List(EVENT_OUT, max_items=100_000), "timezone": String()}, name="EventList"
    ),
    summary="Merged events of every source in a window, each tagged with its source",
    tag=TAG,
)
def list_calendar_events(slug, query):
    calendar = owned(slug)
    start, end, tz = _window(query)
    tz = tz or calendar.timezone
    found = service.events(calendar, start, end)
    titles = booking_titles(found)
    return {"data": [event_out(e, tz, titles) for e in found], "timezone": tz}


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


@endpoint(
    "/calendars/<slug:slug>/events",
    "POST",
    auth="full",
    body=NEW_EVENT,
    response=Object(
        {"uid": String(), "source_id": Integer(), "href": String()}, name="CreatedEvent"
    ),
    status=201,
    errors=(422, 502),
    summary="Create an event at the provider (default write target or a chosen source)",
    tag=TAG,
)
def create_calendar_event(slug, body):
    import secrets

    calendar = owned(slug)
    if body["end"] <= body["start"]:
        raise ApiError(
            400,
            "validation_error",
            "end must be after start",
            [{"field": "end", "message": "must be after start"}],
        )
    uid = body["uid"] or f"{secrets.token_hex(12)}@calmesh"
    draft = EventDraft(
        uid=uid,
        summary=body["summary"],
        start=body["start"],
        end=body["end"],
        description=body["description"],
        location=body["location"],
        timezone=calendar.timezone,
    )
    source, _ = service.write_target(calendar, body["source_id"])
    obj = service.create_event(calendar, draft, source.id)
    return {"uid": uid, "source_id": source.id, "href": obj.href}


@endpoint(
    "/calendars/<slug:slug>/events",
    "DELETE",
    auth="full",
    query=Object(
        {
            "uid": String(min_length=1, max_length=300, description="The event's uid"),
            "source_id": Integer(minimum=1, default=None),
        }
    ),
    response=Object({"uid": String(), "deleted": Integer()}, name="DeletedEvent"),
    errors=(422, 502),
    summary="Delete an event (all its occurrences) at its provider",
    tag=TAG,
)
def delete_calendar_event(slug, query):
    count = service.delete_event(owned(slug), query["uid"], query["source_id"])
    return {"uid": query["uid"], "deleted": count}


# --- availability and conflicts -----------------------------------------------------------

BLOCK_OUT = Object(
    {
        "start": DateTime(description="UTC"),
        "end": DateTime(description="UTC"),
        "start_local": String(),
        "end_local": String(),
    },
    name="TimeRange",
)
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


def block_out(interval: Interval, zone: ZoneInfo) -> dict:
    return {
        "start": iso(interval.start),
        "end": iso(interval.end),
        "start_local": interval.start.astimezone(zone).isoformat(),
        "end_local": interval.end.astimezone(zone).isoformat(),
    }


def _availability_window(calendar: UnifiedCalendar, query: dict) -> tuple[datetime, datetime, str]:
    tz = query["tz"] or calendar.timezone
    if query["date"] is not None:
        if query["start"] or query["end"]:
            raise ApiError(400, "validation_error", "give either date or start and end, not both")
        day: date = query["date"]
        bounds = day_bounds(day, tz)
        return bounds.start, bounds.end, tz
    if query["start"] is None or query["end"] is None:
        raise ApiError(
            400,
            "validation_error",
            "give date=YYYY-MM-DD, or start and end",
            [{"field": "date", "message": "is required without start and end"}],
        )
    start, end, _ = _window({**query, "tz": tz})
    return start, end, tz


@endpoint(
    "/calendars/<slug:slug>/availability",
    "GET",
    auth="read",
    query=AVAILABILITY_QUERY,
    response=AVAILABILITY_OUT,
    summary="Busy blocks and free ranges (in the asked zone and UTC); the calendar's "
    "pending and accepted bookings count as busy, each once",
    tag=TAG,
)
def calendar_availability(slug, query):
    calendar = owned(slug)
    start, end, tz = _availability_window(calendar, query)
    key = (service.busy_key(calendar), start, end, tz, query["duration"])
    return cached_json(
        _AVAILABILITY,
        key,
        lambda: _availability(calendar, key[0], start, end, tz, query["duration"]),
    )


# Answers per worker, keyed by every input, including the version stamps of the
# calendar's sources: any change anywhere gives a new key.
_AVAILABILITY = Memo(size=512)


def _availability(calendar, busy_key, start, end, tz, minutes) -> dict:
    result = service.availability_of(
        calendar, start, end, timedelta(minutes=minutes) if minutes else None, busy_key
    )
    zone = ZoneInfo(tz)
    return {
        "timezone": tz,
        "start": iso(start),
        "end": iso(end),
        "busy": [block_out(i, zone) for i in result.busy],
        "free": [block_out(i, zone) for i in result.free],
    }


CONFLICT_OUT = Object(
    {"a": EVENT_OUT, "b": EVENT_OUT, "overlap": BLOCK_OUT},
    name="Conflict",
)


@endpoint(
    "/calendars/<slug:slug>/conflicts",
    "GET",
    auth="read",
    query=Object(RANGE_QUERY),
    response=Object(
        {"data": List(CONFLICT_OUT, max_items=100_000), "timezone": String()}, name="ConflictList"
    ),
    summary="Overlapping busy events from different sources (bookings count as one)",
    tag=TAG,
)
def calendar_conflicts(slug, query):
    calendar = owned(slug)
    start, end, tz = _window(query)
    tz = tz or calendar.timezone
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
