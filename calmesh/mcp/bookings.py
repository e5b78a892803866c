"""Tools on bookings: slots, list, get, book, cancel, reschedule, confirm, decline.

A booking page is named by its slug (one of the owner's own pages) or, for another
owner's public page, explicitly: ``handle/slug`` or its public URL. Answers name
the page's owner, give times in the owner's zone first and the attendee's zone as
well, and mark what visitors wrote as untrusted.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from mcp_types import CallToolResult
from pydantic import Field

from calmesh.inputs.bookings import (
    ATTENDEE,
    BOOK_BODY,
    BOOKING_FILTERS,
    IDEMPOTENCY_KEY,
    REASON_TEXT,
)
from calmesh.mcp.client import Api, ApiFailure
from calmesh.mcp.client import segment as seg
from calmesh.mcp.common import (
    BookingId,
    Cursor,
    Limit,
    Minutes,
    Zone,
    at,
    bad_arguments,
    like,
    local,
    local_iso,
    more,
    result,
    tool,
    untrusted,
    when,
)
from calmesh.schema import MAX_SLOT_DAYS, SLUG_PATTERN, slug_field

Reason = like(REASON_TEXT, "Why; shown to the attendee in the notification")
PageRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description="Which booking page: the slug of one of the owner's pages (as "
        "calmesh_list_booking_pages shows it), or another owner's public page named "
        "explicitly as handle/slug or by its public URL (https://host/handle/slug)",
    ),
]
SlotStart = Annotated[
    str,
    Field(
        description="Start of the slot, as calmesh_get_slots gives it; ISO 8601 with "
        "a UTC offset or Z"
    ),
]
AttendeeName = like(ATTENDEE.fields["name"], "Who is booking (one line)")
AttendeeEmail = like(ATTENDEE.fields["email"], "Gets the confirmation with an .ics invitation")
AttendeeZone = like(ATTENDEE.fields["timezone"], "The attendee's IANA zone, e.g. America/Chicago")
Notes = like(BOOK_BODY.fields["notes"], "Notes from the attendee")
Answers = like(
    BOOK_BODY.fields["answers"], "Answers to the page's questions: question id -> answer", dict
)
RetryKey = like(
    IDEMPOTENCY_KEY,
    "Reuse the key of an earlier attempt to retry without booking twice",
    optional=True,
)
BOOKING_TEXT = ("attendee.name", "attendee.email", "notes", "answers", "reason")
STATUSES = ("pending", "accepted", "declined", "cancelled")
# Cal.com's names for the same things.
ALIASES: dict[str, tuple[str | None, str | None]] = {
    "unconfirmed": ("pending", None),
    "upcoming": ("pending,accepted", "upcoming"),
    "past": ("pending,accepted", "past"),
    "canceled": ("cancelled", None),
    "rejected": ("declined", None),
}

# calmesh_list_bookings' filters.
Period = like(
    BOOKING_FILTERS["when"],
    "upcoming (default): not ended yet, soonest first; past: ended, latest first; "
    "all: earliest first",
)
StatusFilter = Annotated[
    Literal[(*STATUSES, *ALIASES)] | None,  # type: ignore[valid-type]
    Field(
        description="Only bookings in this state: pending (= Cal.com's unconfirmed: "
        "awaiting confirmation), accepted, declined (= rejected), cancelled; "
        "Cal.com's upcoming and past mean pending or accepted ones, upcoming or past"
    ),
]
PageFilter = like(slug_field(), "Only this booking page's (its slug)", optional=True)
AttendeeFilter = like(
    BOOKING_FILTERS["attendee"], "Part of the attendee's name or e-mail", optional=True
)
StartAfter = when("Only starting at or after", optional=True)
StartBefore = when("Only starting before (a date alone: up to that day's end)", optional=True)


def page_path(booking_page: str, action: str) -> str:
    """The REST path that ``action`` (slots, book) of the named page takes: the owner's
    own page for a slug, the public address for ``handle/slug`` or a URL."""
    text = booking_page.strip()
    if "/" not in text:
        return f"/booking-pages/{seg(text)}/{action}"
    path = urlsplit(text).path if "://" in text else text
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or not all(re.fullmatch(SLUG_PATTERN, p) for p in parts[-2:]):
        raise bad_arguments(
            "must be a slug, handle/slug, or a booking page's URL https://host/handle/slug",
            "booking_page",
        )
    handle, slug = parts[-2:]
    return f"/public/{seg(handle)}/{seg(slug)}/{action}"


def whose(data: dict[str, Any]) -> str:
    host = data.get("host") or {}
    name = f" ({host['name']})" if host.get("name") else ""
    return (
        f"{host.get('handle', '?')}'s page {data.get('booking_page') or data.get('slug')!r}{name}"
    )


def with_times(booking: dict[str, Any], owner_zone: str) -> dict[str, Any]:
    """The booking plus ``times``: start and end in the owner's zone, then the
    attendee's, each labelled with its zone."""
    attendee_zone = booking["attendee"].get("timezone") or "UTC"
    return {
        **booking,
        "times": {
            who: {
                "timezone": zone,
                "start": local_iso(booking["start"], zone),
                "end": local_iso(booking["end"], zone),
            }
            for who, zone in (("owner", owner_zone), ("attendee", attendee_zone))
        },
    }


def booking_line(booking: dict[str, Any]) -> str:
    attendee, times = booking["attendee"], booking["times"]
    owner, guest = times["owner"], times["attendee"]
    their = ""
    if guest["timezone"] != owner["timezone"]:
        their = f"; attendee's time {local(booking['start'], guest['timezone'])}"
    return (
        f"- {booking['id']}: {booking['title']!r} with {untrusted(attendee['name'])} "
        f"<{untrusted(attendee['email'])}>, owner's time "
        f"{local(booking['start'], owner['timezone'])}{their}, {booking['duration']} min, "
        f"{booking['status']} (on {whose(booking)})"
    )


def _fields(prefix: str) -> list[str]:
    return [prefix + f for f in BOOKING_TEXT]


async def one(api: Api, data: dict[str, Any]) -> dict[str, Any]:
    """One booking as the API answered it, with its times in the owner's zone."""
    return with_times(data, await api.zone())


@tool(
    "calmesh_get_slots",
    "Get bookable slots",
    "book",
    calls=["GET /booking-pages/:slug/slots", "GET /public/:handle/:slug/slots"],
    read_only=True,
)
async def get_slots(
    api: Api,
    booking_page: PageRef,
    start: when("From when; default now", optional=True) = None,
    end: when(
        f"Until when; default start + 7 days, at most {MAX_SLOT_DAYS} days (a date alone "
        "includes that day)",
        optional=True,
    ) = None,
    timezone: Annotated[
        Zone | None,
        Field(
            description="The attendee's IANA zone, e.g. Asia/Tokyo: dates and *_local "
            "times are in it; default the page's zone"
        ),
    ] = None,
    duration: Minutes = None,
) -> CallToolResult:
    """Get the free, bookable start times of a booking page, honouring everything the
    page sets (weekly hours, date overrides, buffers, minimum notice, booking window,
    daily and weekly limits), busy time from every source of its calendar, and the
    owner's other bookings.

    A slug means one of the owner's own pages; another owner's page must be named as
    handle/slug or by its URL, and `host` in the answer says whose page it is. The
    result groups slots by date in `timezone`: `dates` maps YYYY-MM-DD to slots, each
    with `start`/`end` in UTC and `start_local`/`end_local`. Pass a slot's `start`
    unchanged to calmesh_create_booking or calmesh_reschedule_booking."""
    await api.require_scope("book")
    zone = await api.zone()
    data = await api.get(
        page_path(booking_page, "slots"),
        start=await at(api, start),
        end=await at(api, end, end=True),
        tz=timezone,
        duration=duration,
    )
    days = data["dates"]
    count = sum(len(slots) for slots in days.values())
    shown = data["timezone"]

    def label(slot: dict[str, Any]) -> str:
        text = slot["start_local"][11:16]
        if shown != zone:
            text += f" (owner {local_iso(slot['start'], zone)[11:16]})"
        return text

    lines = [
        f"- {day}: " + ", ".join(label(s) for s in slots) for day, slots in days.items() if slots
    ]
    head = f"{count} free {data['duration']}-minute slot(s) on {whose(data)} (times in {shown}"
    head += f"; the owner's zone is {zone})" if shown != zone else ")"
    return result(head + (":\n" + "\n".join(lines) if lines else "."), data)


@tool(
    "calmesh_list_bookings",
    "List bookings",
    "book",
    calls=["GET /bookings"],
    read_only=True,
)
async def list_bookings(
    api: Api,
    when: Period = "upcoming",
    status: StatusFilter = None,
    booking_page: PageFilter = None,
    attendee: AttendeeFilter = None,
    start_after: StartAfter = None,
    start_before: StartBefore = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CallToolResult:
    """List the owner's bookings: by default the upcoming ones, soonest first.
    Filter by `when` (upcoming, past, all), status (Cal.com's names work too),
    booking page, attendee and start range.

    Each booking has its `id` (use it with the other booking tools), `title`,
    `booking_page` and its `host`, `status`, `start`/`end` in UTC, `times` in the
    owner's zone and the attendee's (labelled), `duration`, the `attendee` (name,
    e-mail, IANA zone), `notes` and `answers`. The result has `data`, `has_more` and
    `next_cursor`."""
    statuses, period = _unaliased(status, when)
    page = await api.get(
        "/bookings",
        when=period,
        status=statuses,
        booking_page=booking_page,
        attendee=attendee,
        start_after=await at(api, start_after),
        start_before=await at(api, start_before, end=True),
        limit=limit,
        cursor=cursor,
    )
    zone = await api.zone() if page["data"] else "UTC"
    page = {**page, "data": [with_times(b, zone) for b in page["data"]]}
    lines = [booking_line(b) for b in page["data"]]
    summary = f"{len(lines)} {period} booking(s):\n" + "\n".join(lines) if lines else ""
    return result(
        (summary or f"No {period} bookings match.") + more(page), page, _fields("data[].")
    )


def _unaliased(status: str | None, period: str) -> tuple[str | None, str]:
    """(statuses, period) for the API: Cal.com's status names in CalMesh's words."""
    if status not in ALIASES:
        return status, period
    statuses, implied = ALIASES[status]
    return statuses, implied or period


@tool(
    "calmesh_get_booking",
    "Get a booking",
    "book",
    calls=["GET /bookings/:uid"],
    read_only=True,
)
async def get_booking(api: Api, booking_id: BookingId) -> CallToolResult:
    """Get one booking by its id: `status` (pending, accepted, declined, cancelled),
    `start`/`end` in UTC, `times` in the owner's and the attendee's zones, `duration`,
    `attendee` (name, e-mail, IANA zone), `notes`, `answers` to the page's questions,
    `location`, and the `reason` of the last change. Use it to check the details before
    rescheduling or cancelling."""
    data = await one(api, await api.get(f"/bookings/{seg(booking_id)}"))
    return result("Booking:\n" + booking_line(data), data, BOOKING_TEXT)


@tool(
    "calmesh_create_booking",
    "Book a slot",
    "book",
    calls=["POST /booking-pages/:slug/book", "POST /public/:handle/:slug/book"],
    open_world=True,
)
async def create_booking(
    api: Api,
    booking_page: PageRef,
    start: SlotStart,
    attendee_name: AttendeeName,
    attendee_email: AttendeeEmail,
    attendee_timezone: AttendeeZone = "UTC",
    duration: Minutes = None,
    notes: Notes = "",
    answers: Answers = {},  # noqa: B006 - pydantic copies defaults
    idempotency_key: RetryKey = None,
) -> CallToolResult:
    """Book a slot on a booking page for an attendee. Find free slots first with
    calmesh_get_slots. A slug means one of the owner's own pages; another owner's page
    must be named as handle/slug or by its URL (the booking is then theirs, and the
    answer's `host` names them). The instance checks the slot again atomically: a slot
    taken in the meantime is refused (409) and nothing is booked.

    The booking is `accepted`, or `pending` when the page requires confirmation; it is
    written to the page's calendar and the attendee is e-mailed an invitation. The
    result is the booking with its `id`, `status`, `times` and the attendee's
    `manage_url`."""
    await api.require_scope("book")
    body = {
        "start": start,
        "duration": duration,
        "attendee": {"name": attendee_name, "email": attendee_email, "timezone": attendee_timezone},
        "notes": notes,
        "answers": answers,
    }
    key = idempotency_key or f"mcp-{secrets.token_urlsafe(16)}"
    data = await one(api, await _book_once(api, page_path(booking_page, "book"), body, key))
    return result(f"Booked ({data['status']}):\n" + booking_line(data), data, BOOKING_TEXT)


async def _book_once(api: Api, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    """POST the booking under an idempotency key; a call that got no answer (it may
    have booked) says how to retry without booking twice."""
    try:
        return await api.request("POST", path, body=body, headers={"Idempotency-Key": key})
    except ApiFailure as failure:
        if failure.status is None:
            failure.hint = f"Retry with idempotency_key={key!r} so it is booked only once."
        raise


@tool(
    "calmesh_cancel_booking",
    "Cancel a booking",
    "book",
    calls=["PATCH /bookings/:uid/cancel"],
    destructive=True,
    idempotent=True,
    open_world=True,
)
async def cancel_booking(api: Api, booking_id: BookingId, reason: Reason = "") -> CallToolResult:
    """Cancel a booking, optionally with a reason: it is removed from the calendar and
    the attendee is e-mailed a cancellation. Cannot be undone. The result is the
    booking, now `cancelled`."""
    data = await one(
        api, await api.patch(f"/bookings/{seg(booking_id)}/cancel", {"reason": reason})
    )
    return result("Cancelled:\n" + booking_line(data), data, BOOKING_TEXT)


@tool(
    "calmesh_reschedule_booking",
    "Move a booking",
    "book",
    calls=["POST /bookings/:uid/reschedule"],
    open_world=True,
)
async def reschedule_booking(
    api: Api,
    booking_id: BookingId,
    start: Annotated[
        str,
        Field(description="The new start (a free slot); ISO 8601 with a UTC offset or Z"),
    ],
    reason: Reason = "",
) -> CallToolResult:
    """Move a pending or accepted booking to a new start, keeping its id and duration.
    The new time must be free under the page's rules (check calmesh_get_slots first);
    otherwise it is refused and the booking stays as it was. The calendar event is
    updated and the attendee notified. The result is the booking with its new times."""
    data = await one(
        api,
        await api.post(
            f"/bookings/{seg(booking_id)}/reschedule", {"start": start, "reason": reason}
        ),
    )
    return result("Rescheduled:\n" + booking_line(data), data, BOOKING_TEXT)


@tool(
    "calmesh_confirm_booking",
    "Confirm a pending booking",
    "book",
    calls=["POST /bookings/:uid/confirm"],
    idempotent=True,
    open_world=True,
)
async def confirm_booking(api: Api, booking_id: BookingId) -> CallToolResult:
    """Confirm a booking that awaits the owner's approval (status `pending`, Cal.com's
    unconfirmed, on pages that require confirmation): it becomes `accepted` and the
    attendee is told. Other states are refused. The result is the booking."""
    data = await one(api, await api.post(f"/bookings/{seg(booking_id)}/confirm"))
    return result("Confirmed:\n" + booking_line(data), data, BOOKING_TEXT)


@tool(
    "calmesh_decline_booking",
    "Decline a pending booking",
    "book",
    calls=["POST /bookings/:uid/decline"],
    destructive=True,
    idempotent=True,
    open_world=True,
)
async def decline_booking(api: Api, booking_id: BookingId, reason: Reason = "") -> CallToolResult:
    """Decline a booking that awaits the owner's approval (status `pending`): it
    becomes `declined`, its time is free again and the attendee is told, with the
    reason if given. Other states are refused. The result is the booking."""
    data = await one(
        api, await api.post(f"/bookings/{seg(booking_id)}/decline", {"reason": reason})
    )
    return result("Declined:\n" + booking_line(data), data, BOOKING_TEXT)


TOOLS = (
    get_slots,
    list_bookings,
    get_booking,
    create_booking,
    cancel_booking,
    reschedule_booking,
    confirm_booking,
    decline_booking,
)
