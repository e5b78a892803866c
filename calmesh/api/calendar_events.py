"""A unified calendar's merged events: list them, create one at a provider, delete one."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app

from calmesh.api.calendars import TAG, owned
from calmesh.api.framework import current_principal as who
from calmesh.api.framework import endpoint
from calmesh.api.serializers import iso
from calmesh.auth import apikeys
from calmesh.inputs import calendars as inputs
from calmesh.models import Booking, BookingPage, UnifiedCalendar
from calmesh.schema import Boolean, Choice, Date, DateTime, Integer, List, Object, String
from calmesh.services import calendar_events as rules
from calmesh.services import calendars as service
from calmesh.services.calendars import Event

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


def booking_titles(found: list[Event]) -> dict[str, str] | None:
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


def event_out(event: Event, tz: str, titles: dict[str, str] | None = None) -> dict:
    """The event; with ``titles`` (see booking_titles) a booking's summary is its page's
    title only."""
    out = _event_out(event, tz)
    if titles is not None and event.booking_uid:
        out["summary"] = f"{titles.get(event.booking_uid, 'Booking')} (booking)"
    return out


def _event_out(event: Event, tz: str) -> dict:
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


def owned_window(slug: str, query: dict) -> tuple[UnifiedCalendar, datetime, datetime, str]:
    """The caller's calendar and the window of a RANGE_QUERY, checked; the zone
    defaults to the calendar's."""
    calendar = owned(slug)
    rules.check_window(query["start"], query["end"])
    return calendar, query["start"], query["end"], query["tz"] or calendar.timezone


@endpoint(
    "/calendars/<slug:slug>/events",
    "GET",
    auth="read",
    query=inputs.RANGE_QUERY,
    response=Object(
        {"data": List(EVENT_OUT, max_items=100_000), "timezone": String()}, name="EventList"
    ),
    summary="Merged events of every source in a window, each tagged with its source",
    tag=TAG,
)
def list_calendar_events(slug, query):
    calendar, start, end, tz = owned_window(slug, query)
    found = service.events(calendar, start, end)
    titles = booking_titles(found)
    return {"data": [event_out(e, tz, titles) for e in found], "timezone": tz}


@endpoint(
    "/calendars/<slug:slug>/events",
    "POST",
    auth="full",
    body=inputs.NEW_EVENT,
    response=Object(
        {"uid": String(), "source_id": Integer(), "href": String()}, name="CreatedEvent"
    ),
    status=201,
    errors=(422, 502),
    summary="Create an event at the provider (default write target or a chosen source)",
    tag=TAG,
)
def create_calendar_event(slug, body):
    uid, source, href = rules.create_event(owned(slug), current_app.config["CALMESH"], **body)
    return {"uid": uid, "source_id": source.id, "href": href}


@endpoint(
    "/calendars/<slug:slug>/events",
    "DELETE",
    auth="full",
    query=inputs.EVENT_REF,
    response=Object({"uid": String(), "deleted": Integer()}, name="DeletedEvent"),
    errors=(422, 502),
    summary="Delete an event (all its occurrences) at its provider",
    tag=TAG,
)
def delete_calendar_event(slug, query):
    count = service.delete_event(
        owned(slug), query["uid"], current_app.config["CALMESH"], query["source_id"]
    )
    return {"uid": query["uid"], "deleted": count}
