"""Unified calendars: CRUD and sources. Their events, availability and conflicts
are in calendar_events.py, availability.py and conflicts.py."""

from __future__ import annotations

from calmesh.api.framework import current_principal as who
from calmesh.api.framework import endpoint, not_found
from calmesh.api.pagination import PAGE_QUERY, page_of, paginate
from calmesh.api.serializers import iso
from calmesh.inputs import calendars as inputs
from calmesh.models import CalendarSource, UnifiedCalendar
from calmesh.models.calendars import FEED_MODES
from calmesh.schema import (
    Boolean,
    Choice,
    DateTime,
    Integer,
    List,
    Object,
    String,
)
from calmesh.services import calendars as service
from calmesh.urls import links

TAG = "Unified calendars"

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
        "feed_mode": Choice("off", *FEED_MODES),
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
    feed = links().calendar_feed(feed_token) if feed_token else None
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


@endpoint(
    "/calendars",
    "POST",
    auth="full",
    body=inputs.NEW_CALENDAR,
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


@endpoint(
    "/calendars/<slug:slug>",
    "PATCH",
    auth="full",
    body=inputs.CALENDAR_PATCH,
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
    body=inputs.NEW_SOURCE,
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
    body=inputs.SOURCE_ORDER,
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
