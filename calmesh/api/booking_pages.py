"""Booking pages: owner CRUD, and the public slots and book endpoints."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, request

from calmesh.api.bookings import BOOKING_OUT, booking_out
from calmesh.api.framework import ApiError, cached_json, endpoint, not_found
from calmesh.api.framework import current_principal as who
from calmesh.api.pagination import PAGE_QUERY, page_of, paginate
from calmesh.api.serializers import iso
from calmesh.auth import ratelimit
from calmesh.db import utcnow
from calmesh.engine.slots import group_by_date
from calmesh.models import BookingPage
from calmesh.schema import (
    Boolean,
    DateTime,
    Email,
    Integer,
    List,
    Map,
    Object,
    String,
    TextOrFlag,
    TimeZone,
)
from calmesh.services import booking_pages as service
from calmesh.services import bookings
from calmesh.services.memo import Memo
from calmesh.urls import external_url

TAG = "Booking pages"
MAX_SLOT_RANGE = timedelta(days=62)

PAGE_OUT = Object(
    {
        "id": Integer(),
        "slug": String(),
        "url": String(description="The public page"),
        "embed_snippet": String(),
        **{k: f for k, f in service.SETTINGS.items() if k not in {"duration"}},
        "created_at": DateTime(),
    },
    name="BookingPage",
)


def page_out(page: BookingPage) -> dict:
    url = external_url("public.booking_page", handle=page.user.handle, slug=page.slug)
    script = external_url("static", filename="embed.js")
    return {
        "id": page.id,
        "slug": page.slug,
        "url": url,
        "embed_snippet": (
            f'<div data-calmesh-handle="{page.user.handle}" data-calmesh-slug="{page.slug}" '
            f'data-mode="inline"></div>\n<script src="{script}" defer></script>'
        ),
        "title": page.title,
        "description": page.description,
        "calendar": page.calendar.slug,
        "timezone": page.timezone,
        "durations": page.durations,
        "weekly_hours": {
            day: page.weekly_hours.get(str(i), []) for i, day in enumerate(service.DAYS)
        },
        "date_overrides": [{"date": d, "hours": h} for d, h in sorted(page.date_overrides.items())],
        "slot_interval": page.slot_interval,
        "buffer_before": page.buffer_before,
        "buffer_after": page.buffer_after,
        "min_notice": page.min_notice,
        "window_days": page.window_days,
        "window_start": page.window_start.isoformat() if page.window_start else None,
        "window_end": page.window_end.isoformat() if page.window_end else None,
        "daily_limit": page.daily_limit,
        "weekly_limit": page.weekly_limit,
        "requires_confirmation": page.requires_confirmation,
        "location": page.location,
        "questions": page.questions,
        "active": page.active,
        "created_at": iso(page.created_at),
    }


def owned(slug: str) -> BookingPage:
    page = service.get_for(who().user, slug)
    if page is None:
        raise not_found("booking page")
    return page


@endpoint(
    "/booking-pages",
    "POST",
    auth="full",
    body=service.NEW_PAGE,
    response=PAGE_OUT,
    status=201,
    errors=(409, 422),
    summary="Create a booking page on one of your unified calendars",
    tag=TAG,
)
def create_booking_page(body):
    return page_out(service.create(who().user, body))


@endpoint(
    "/booking-pages",
    "GET",
    auth="read",
    query=Object(PAGE_QUERY),
    response=page_of(PAGE_OUT, "BookingPagePage"),
    summary="List your booking pages",
    tag=TAG,
)
def list_booking_pages(query):
    return paginate(
        BookingPage.for_user(who().user), order=[BookingPage.id], serialize=page_out, **query
    )


@endpoint(
    "/booking-pages/<slug:slug>",
    "GET",
    auth="read",
    response=PAGE_OUT,
    summary="A booking page's settings",
    tag=TAG,
)
def get_booking_page(slug):
    return page_out(owned(slug))


@endpoint(
    "/booking-pages/<slug:slug>",
    "PATCH",
    auth="full",
    body=service.PAGE_PATCH,
    response=PAGE_OUT,
    errors=(409, 422),
    summary="Change a booking page's settings",
    tag=TAG,
)
def update_booking_page(slug, body):
    return page_out(service.update(owned(slug), body))


@endpoint(
    "/booking-pages/<slug:slug>",
    "DELETE",
    auth="full",
    response=Object({"id": Integer(), "deleted": Boolean()}),
    summary="Delete a booking page and its bookings",
    tag=TAG,
)
def delete_booking_page(slug):
    page = owned(slug)
    service.delete(page)
    return {"id": page.id, "deleted": True}


# --- public ---------------------------------------------------------------------------

SLOT_OUT = Object(
    {
        "start": DateTime(description="UTC"),
        "end": DateTime(description="UTC"),
        "start_local": String(),
        "end_local": String(),
    },
    name="Slot",
)
SLOTS_OUT = Object(
    {
        "slug": String(),
        "timezone": String(description="The zone the dates and *_local times are in"),
        "duration": Integer(),
        "durations": List(Integer()),
        "dates": Map(
            List(SLOT_OUT, max_items=1000), max_items=100, description="Local date -> its slots"
        ),
    },
    name="Slots",
)
SLOTS_QUERY = Object(
    {
        "start": DateTime(default=None, description="Default: now"),
        "end": DateTime(
            default=None, description="Default: start + 7 days; at most 62 days after start"
        ),
        "tz": TimeZone(default=None, description="The visitor's zone; default the page's"),
        "duration": Integer(
            minimum=1, maximum=1440, default=None, description="Minutes; default the page's first"
        ),
    }
)


def public(slug: str) -> BookingPage:
    page = service.public_page(slug)
    if page is None:
        raise not_found("booking page")
    return page


# Answers per worker, keyed by every input (see service.inputs_key): a popular
# page asked for the same weeks again costs three small queries, not a slot run.
# The pages keep the data, the API the encoded JSON.
_SLOTS = Memo(size=512)
_SLOTS_JSON = Memo(size=512)


def _slots_entry(page: BookingPage, start: datetime, end: datetime, tz: str, duration: int | None):
    minutes = service.duration_for(page, duration)
    now = utcnow()
    key = (*service.inputs_key(page, start, end, minutes, now), tz)
    return key, lambda: _compute_slots(page, start, end, tz, minutes, now)


def slots_payload(
    page: BookingPage, start: datetime, end: datetime, tz: str, duration: int | None
) -> dict:
    return _SLOTS.get(*_slots_entry(page, start, end, tz, duration))


def _compute_slots(
    page: BookingPage, start: datetime, end: datetime, tz: str, minutes: int, now: datetime
) -> dict:
    zone = ZoneInfo(tz)
    # The answer stands for the whole minute: count from the minute's end, so no
    # slot is offered that booking would refuse as too soon.
    found = service.slots(
        page, start, end, minutes, now=now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    )
    dates = {
        day.isoformat(): [
            {
                "start": iso(s.start),
                "end": iso(s.end),
                "start_local": s.start.astimezone(zone).isoformat(),
                "end_local": s.end.astimezone(zone).isoformat(),
            }
            for s in day_slots
        ]
        for day, day_slots in group_by_date(found, tz).items()
    }
    return {
        "slug": page.slug,
        "timezone": tz,
        "duration": minutes,
        "durations": page.durations,
        "dates": dates,
    }


@endpoint(
    "/booking-pages/<slug:slug>/slots",
    "GET",
    auth="public",
    query=SLOTS_QUERY,
    response=SLOTS_OUT,
    summary="Free slots of a booking page, grouped by date in the visitor's zone (public)",
    tag=TAG,
)
def booking_page_slots(slug, query):
    page = public(slug)
    start = query["start"] or utcnow().replace(second=0, microsecond=0)
    end = query["end"] or start + timedelta(days=7)
    if end <= start or end - start > MAX_SLOT_RANGE:
        raise ApiError(
            400,
            "validation_error",
            "end must be after start and at most 62 days later",
            [{"field": "end", "message": "must be after start, at most 62 days later"}],
        )
    return cached_json(
        _SLOTS_JSON,
        *_slots_entry(page, start, end, query["tz"] or page.timezone, query["duration"]),
    )


ATTENDEE = Object(
    {
        # One line: the name goes into e-mail subjects.
        "name": String(
            min_length=1,
            max_length=200,
            pattern=r"[^\x00-\x1f\x7f]+",
            pattern_help="must be one line of text",
        ),
        "email": Email(),
        "timezone": TimeZone(default="UTC"),
    },
    name="Attendee",
)
BOOK_BODY = Object(
    {
        "start": DateTime(description="ISO 8601 with an offset; naive times are refused"),
        "duration": Integer(minimum=1, maximum=1440, default=None),
        "attendee": ATTENDEE,
        "notes": String(max_length=5000, default=""),
        "answers": Map(
            TextOrFlag(), max_items=30, default=dict, description="Question id -> answer"
        ),
    },
    name="BookRequest",
)


def throttle_public(action: str) -> None:
    """Bookings and votes from one address, counted across workers."""
    limit = current_app.config["CALMESH"]["api.public_book_per_minute"]
    state = ratelimit.hit(f"public:{action}:{request.remote_addr}", limit, 60)
    if not state.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests; retry after {state.retry_after} s",
            headers={**state.headers(), "Retry-After": str(state.retry_after)},
        )


@endpoint(
    "/booking-pages/<slug:slug>/book",
    "POST",
    auth="public",
    body=BOOK_BODY,
    status=201,
    response=BOOKING_OUT,
    errors=(409, 422),
    summary="Book a slot (public). Send Idempotency-Key to make retries safe.",
    tag=TAG,
)
def book_slot(slug, body):
    throttle_public("book")
    page = public(slug)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 200):
        raise ApiError(400, "validation_error", "Idempotency-Key must be 1-200 characters")
    attendee = bookings.Attendee(**body["attendee"])
    # The key is bound to who sends it: an owner's key (or session) or an anonymous visitor.
    principal = who()
    booking, created = bookings.book(
        page,
        start=body["start"],
        duration=body["duration"],
        attendee=attendee,
        notes=body["notes"],
        answers=body["answers"],
        idempotency_key=key,
        caller=f"user:{principal.user.id}" if principal else "",
    )
    out = booking_out(booking, with_manage=True)
    response = current_app.json.response(out)
    response.status_code = 201 if created else 200
    return response
