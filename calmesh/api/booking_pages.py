"""Booking pages: owner CRUD, and the public slots and book endpoints."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import current_app, request

from calmesh.api.bookings import BOOKING_OUT, booking_out
from calmesh.api.framework import ApiError, cached_json, endpoint, not_found, throttle_public
from calmesh.api.framework import current_principal as who
from calmesh.api.pagination import PAGE_QUERY, page_of, paginate
from calmesh.api.serializers import iso
from calmesh.db import utcnow
from calmesh.models import BookingPage
from calmesh.schema import (
    MAX_SLOT_DAYS,
    Boolean,
    DateTime,
    Integer,
    List,
    Map,
    Object,
    String,
    TimeZone,
    minutes_field,
)
from calmesh.services import booking_pages as service
from calmesh.services import bookings, public_booking
from calmesh.services.memo import Memo
from calmesh.urls import links

TAG = "Booking pages"

PAGE_OUT = Object(
    {
        "id": Integer(),
        "slug": String(),
        "url": String(description="The public page"),
        "embed_snippet": String(description="Inline: the page inside your site"),
        "embed_popup_snippet": String(description="Popup: a button that opens it in a dialog"),
        **{k: f for k, f in service.SETTINGS.items() if k not in {"duration"}},
        "created_at": DateTime(),
    },
    name="BookingPage",
)


def page_out(page: BookingPage) -> dict:
    url = links().booking_page(page.user.handle, page.slug)
    return {
        "id": page.id,
        "slug": page.slug,
        "url": url,
        "embed_snippet": embed_snippet(page, "inline"),
        "embed_popup_snippet": embed_snippet(page, "popup"),
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


def embed_snippet(page: BookingPage, mode: str) -> str:
    """The seed's embed markup: the script from the instance's root, /embed.js."""
    script = links().embed_script()
    colour = ' data-color="#f97316"' if mode == "popup" else ""
    return (
        f'<div data-calmesh-handle="{page.user.handle}" data-calmesh-slug="{page.slug}" '
        f'data-mode="{mode}"{colour}></div>\n<script src="{script}" defer></script>'
    )


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
        "host": Object(
            {"handle": String(), "name": String()},
            description="The page's owner: its public address is /{handle}/{slug}",
        ),
        "url": String(description="The public page"),
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
            default=None,
            description=f"Default: start + 7 days; at most {MAX_SLOT_DAYS} days after start",
        ),
        "tz": TimeZone(default=None, description="The visitor's zone; default the page's"),
        "duration": minutes_field(default=None, description="Minutes; default the page's first"),
    }
)


def page_by_slug(slug: str) -> BookingPage:
    """The page the seed's ``/booking-pages/:slug/...`` form names. With a key or a
    session, it is one of the caller's own pages, never another owner's (their pages
    are reachable explicitly under ``/public/{handle}/{slug}``). Without, it is the
    one active page with that slug; several owners having one answers 409
    ``ambiguous_slug`` with each owner's address in ``details``."""
    principal = who()
    if principal is not None:
        page = service.get_for(principal.user, slug)
        if page is None or not page.active:
            raise ApiError(
                404,
                "not_found",
                "you have no active booking page with that slug; another owner's page is "
                "at /api/v1/public/{handle}/" + slug,
            )
        return page
    found = service.public_pages_with(slug)
    if not found:
        raise not_found("booking page")
    if len(found) > 1:
        raise ApiError(
            409,
            "ambiguous_slug",
            f"{len(found)} owners have a booking page {slug!r}: name the owner with "
            f"/api/v1/public/{{handle}}/{slug}/slots (or /book)",
            [
                {
                    "handle": page.user.handle,
                    "slots": f"/api/v1/public/{page.user.handle}/{slug}/slots",
                    "book": f"/api/v1/public/{page.user.handle}/{slug}/book",
                    "url": links().booking_page(page.user.handle, slug),
                }
                for page in found
            ],
        )
    return found[0]


def page_by_address(handle: str, slug: str) -> BookingPage:
    page = service.public_page(handle, slug)
    if page is None:
        raise not_found("booking page")
    return page


# The encoded answers per worker, by the key of their query (the slots themselves
# are kept by calmesh.services.public_booking).
_SLOTS_JSON = Memo(size=512)


def slots_out(query: public_booking.SlotQuery) -> dict:
    zone = ZoneInfo(query.tz)
    page = query.page
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
        for day, day_slots in public_booking.free_slots(query).items()
    }
    return {
        "slug": page.slug,
        "host": {"handle": page.user.handle, "name": page.user.name},
        "url": links().booking_page(page.user.handle, page.slug),
        "timezone": query.tz,
        "duration": query.minutes,
        "durations": page.durations,
        "dates": dates,
    }


SLOTS_SUMMARY = "Free slots of a booking page, grouped by date in the visitor's zone (public)"
AMBIGUOUS = (
    "With a key or a session, `slug` is one of your own pages. Without, it is the one "
    "active page with that slug on the instance; when several owners have one, the "
    "answer is 409 `ambiguous_slug` listing each owner's `/api/v1/public/{handle}/{slug}` "
    "in `details`."
)


@endpoint(
    "/booking-pages/<slug:slug>/slots",
    "GET",
    auth="public",
    query=SLOTS_QUERY,
    response=SLOTS_OUT,
    errors=(409,),
    summary=SLOTS_SUMMARY,
    description=AMBIGUOUS,
    tag=TAG,
)
def booking_page_slots(slug, query):
    _throttle_slots()
    return _slots(page_by_slug(slug), query)


@endpoint(
    "/public/<slug:handle>/<slug:slug>/slots",
    "GET",
    auth="public",
    query=SLOTS_QUERY,
    response=SLOTS_OUT,
    summary=SLOTS_SUMMARY + ", by its public address /{handle}/{slug}",
    tag=TAG,
)
def public_page_slots(handle, slug, query):
    _throttle_slots()
    return _slots(page_by_address(handle, slug), query)


def _throttle_slots() -> None:
    if who() is None:  # keys and sessions have their own limit
        throttle_public("slots")


def _slots(page: BookingPage, query: dict):
    start = query["start"] or utcnow().replace(second=0, microsecond=0)
    end = query["end"] or start + timedelta(days=7)
    public_booking.check_slot_range(start, end)
    found = public_booking.slot_query(
        page, start, end, query["tz"] or page.timezone, query["duration"]
    )
    return cached_json(_SLOTS_JSON, found.key, lambda: slots_out(found))


BOOK_SUMMARY = "Book a slot (public). Send Idempotency-Key to make retries safe."


@endpoint(
    "/booking-pages/<slug:slug>/book",
    "POST",
    auth="public",
    body=public_booking.BOOK_BODY,
    status=201,
    response=BOOKING_OUT,
    errors=(409, 422),
    summary=BOOK_SUMMARY,
    description=AMBIGUOUS,
    tag=TAG,
)
def book_slot(slug, body):
    throttle_public("book")
    return _book(page_by_slug(slug), body)


@endpoint(
    "/public/<slug:handle>/<slug:slug>/book",
    "POST",
    auth="public",
    body=public_booking.BOOK_BODY,
    status=201,
    response=BOOKING_OUT,
    errors=(409, 422),
    summary=BOOK_SUMMARY + " By the page's public address /{handle}/{slug}.",
    tag=TAG,
)
def public_page_book(handle, slug, body):
    throttle_public("book")
    return _book(page_by_address(handle, slug), body)


def _book(page: BookingPage, body: dict):
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
