"""Tools on booking pages and bookings: slots, list, get, book, cancel, reschedule, confirm."""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from mcp_types import CallToolResult
from pydantic import Field

from calmesh.mcp.client import Api, ApiFailure
from calmesh.mcp.client import segment as seg
from calmesh.mcp.common import (
    OFFSET_HELP,
    BookingId,
    Cursor,
    Instant,
    Limit,
    PageSlug,
    Registrar,
    Zone,
    local,
    more,
    result,
)

Reason = Annotated[
    str,
    Field(max_length=2000, description="Why; shown to the attendee in the notification"),
]


def booking_line(booking: dict[str, Any]) -> str:
    attendee = booking["attendee"]
    zone = attendee.get("timezone") or None
    return (
        f"- {booking['id']}: {booking['title']!r} with {attendee['name']} <{attendee['email']}>, "
        f"{local(booking['start'], zone)}, {booking['duration']} min, {booking['status']} "
        f"(page {booking['booking_page']})"
    )


def _page_line(page: dict[str, Any]) -> str:
    minutes = "/".join(str(d) for d in page["durations"])
    state = "" if page["active"] else ", inactive"
    confirm = ", needs confirmation" if page["requires_confirmation"] else ""
    return (
        f"- {page['slug']}: {page['title']!r}, {minutes} min, calendar {page['calendar']}, "
        f"{page['timezone']}{confirm}{state}; {page['url']}"
    )


def register(tool: Registrar, api: Api) -> None:
    @tool("calmesh_list_booking_pages", "List booking pages", "read")
    async def list_booking_pages(limit: Limit = 50, cursor: Cursor = None) -> CallToolResult:
        """List the owner's booking pages (like Calendly event types): each has a `slug`,
        `title`, allowed `durations` in minutes, the unified `calendar` it books into, its
        IANA `timezone`, `weekly_hours`, buffers, notice and limits, whether bookings need
        confirmation, custom `questions`, and the public `url`.

        Use it to find the slug that calmesh_get_slots and calmesh_create_booking need.
        The result has `data`, `has_more` and `next_cursor`."""
        page = await api.get("/booking-pages", limit=limit, cursor=cursor)
        lines = [_page_line(p) for p in page["data"]]
        summary = f"{len(lines)} booking page(s):\n" + "\n".join(lines) if lines else ""
        return result((summary or "No booking pages yet.") + more(page), page)

    @tool("calmesh_get_slots", "Get bookable slots", "read")
    async def get_slots(
        booking_page: PageSlug,
        start: Annotated[
            Instant | None, Field(description=f"From when; default now. {OFFSET_HELP}")
        ] = None,
        end: Annotated[
            Instant | None,
            Field(
                description=f"Until when; default start + 7 days, at most 62 days. {OFFSET_HELP}"
            ),
        ] = None,
        timezone: Annotated[
            Zone | None,
            Field(
                description="The attendee's IANA zone, e.g. Asia/Tokyo: dates and *_local "
                "times are in it; default the page's zone"
            ),
        ] = None,
        duration: Annotated[
            int | None,
            Field(ge=1, le=1440, description="Minutes; one of the page's durations"),
        ] = None,
    ) -> CallToolResult:
        """Get the free, bookable start times of a booking page, honouring everything the
        page sets (weekly hours, date overrides, buffers, minimum notice, booking window,
        daily and weekly limits) and busy time from every source of its calendar.

        The result groups slots by date in `timezone`: `dates` maps YYYY-MM-DD to a list of
        slots, each with `start`/`end` in UTC and `start_local`/`end_local`. Pass a slot's
        `start` unchanged to calmesh_create_booking or calmesh_reschedule_booking."""
        data = await api.get(
            f"/booking-pages/{seg(booking_page)}/slots",
            start=start,
            end=end,
            tz=timezone,
            duration=duration,
        )
        days = data["dates"]
        count = sum(len(slots) for slots in days.values())
        lines = [
            f"- {day}: " + ", ".join(s["start_local"][11:16] for s in slots)
            for day, slots in days.items()
            if slots
        ]
        head = (
            f"{count} free {data['duration']}-minute slot(s) on {booking_page!r} "
            f"(times in {data['timezone']})"
        )
        return result(head + (":\n" + "\n".join(lines) if lines else "."), data)

    @tool("calmesh_list_bookings", "List bookings", "read")
    async def list_bookings(
        status: Annotated[
            Literal["pending", "accepted", "declined", "cancelled"] | None,
            Field(description="Only bookings in this state; pending ones await confirmation"),
        ] = None,
        booking_page: Annotated[
            str | None, Field(max_length=60, description="Only this booking page's (its slug)")
        ] = None,
        attendee: Annotated[
            str | None,
            Field(max_length=254, description="Part of the attendee's name or e-mail"),
        ] = None,
        start_after: Annotated[
            Instant | None, Field(description=f"Only starting at or after. {OFFSET_HELP}")
        ] = None,
        start_before: Annotated[
            Instant | None, Field(description=f"Only starting before. {OFFSET_HELP}")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> CallToolResult:
        """List the owner's bookings, earliest start first, optionally filtered by status,
        booking page, attendee and start range (for "upcoming": start_after = now).

        Each booking has its `id` (use it with the other booking tools), `title`,
        `booking_page`, `status`, `start`/`end` in UTC, `duration`, the `attendee` (name,
        e-mail, IANA zone), `notes` and `answers`. The result has `data`, `has_more` and
        `next_cursor`."""
        page = await api.get(
            "/bookings",
            status=status,
            booking_page=booking_page,
            attendee=attendee,
            start_after=start_after,
            start_before=start_before,
            limit=limit,
            cursor=cursor,
        )
        lines = [booking_line(b) for b in page["data"]]
        summary = f"{len(lines)} booking(s):\n" + "\n".join(lines) if lines else ""
        return result((summary or "No bookings match.") + more(page), page)

    @tool("calmesh_get_booking", "Get a booking", "read")
    async def get_booking(booking_id: BookingId) -> CallToolResult:
        """Get one booking by its id: `status` (pending, accepted, declined, cancelled),
        `start`/`end` in UTC, `duration`, `attendee` (name, e-mail, IANA zone), `notes`,
        `answers` to the page's questions, `location`, and the `reason` of the last change.
        Use it to check the details before rescheduling or cancelling."""
        data = await api.get(f"/bookings/{seg(booking_id)}")
        return result("Booking:\n" + booking_line(data), data)

    @tool("calmesh_create_booking", "Book a slot", "book", open_world=True)
    async def create_booking(
        booking_page: PageSlug,
        start: Annotated[
            Instant,
            Field(description=f"Start of the slot, as calmesh_get_slots gives it. {OFFSET_HELP}"),
        ],
        attendee_name: Annotated[
            str, Field(min_length=1, max_length=200, description="Who is booking")
        ],
        attendee_email: Annotated[
            str,
            Field(
                min_length=3,
                max_length=254,
                pattern=r"^[^@\s]+@[^@\s]+$",
                description="Gets the confirmation with an .ics invitation",
            ),
        ],
        attendee_timezone: Annotated[
            Zone, Field(description="The attendee's IANA zone, e.g. America/Chicago")
        ] = "UTC",
        duration: Annotated[
            int | None,
            Field(ge=1, le=1440, description="Minutes; one of the page's durations"),
        ] = None,
        notes: Annotated[str, Field(max_length=5000, description="Notes from the attendee")] = "",
        answers: Annotated[
            dict[str, str | bool],
            Field(description="Answers to the page's questions: question id -> answer"),
        ] = {},  # noqa: B006 - pydantic copies defaults
        idempotency_key: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=200,
                description="Reuse the key of an earlier attempt to retry without booking twice",
            ),
        ] = None,
    ) -> CallToolResult:
        """Book a slot on a booking page for an attendee. Find free slots first with
        calmesh_get_slots. The instance checks the slot again atomically: a slot taken in
        the meantime is refused (409) and nothing is booked.

        The booking is `accepted`, or `pending` when the page requires confirmation; it is
        written to the page's calendar and the attendee is e-mailed an invitation. The
        result is the booking with its `id`, `status`, `start`/`end` in UTC and the
        attendee's `manage_url`."""
        await api.require_scope("book")
        key = idempotency_key or f"mcp-{secrets.token_urlsafe(16)}"
        try:
            data = await api.request(
                "POST",
                f"/booking-pages/{seg(booking_page)}/book",
                body={
                    "start": start,
                    "duration": duration,
                    "attendee": {
                        "name": attendee_name,
                        "email": attendee_email,
                        "timezone": attendee_timezone,
                    },
                    "notes": notes,
                    "answers": answers,
                },
                headers={"Idempotency-Key": key},
            )
        except ApiFailure as failure:
            if failure.status is None:  # no answer: it may have been booked
                failure.hint = f"Retry with idempotency_key={key!r} so it is booked only once."
            raise
        return result(f"Booked ({data['status']}):\n" + booking_line(data), data)

    @tool(
        "calmesh_cancel_booking",
        "Cancel a booking",
        "book",
        destructive=True,
        idempotent=True,
        open_world=True,
    )
    async def cancel_booking(booking_id: BookingId, reason: Reason = "") -> CallToolResult:
        """Cancel a booking: it is removed from the calendar and the attendee is e-mailed a
        cancellation. Cannot be undone. The result is the booking, now `cancelled`."""
        data = await api.patch(f"/bookings/{seg(booking_id)}/cancel", {"reason": reason})
        return result("Cancelled:\n" + booking_line(data), data)

    @tool("calmesh_reschedule_booking", "Move a booking", "book", open_world=True)
    async def reschedule_booking(
        booking_id: BookingId,
        start: Annotated[Instant, Field(description=f"The new start (a free slot). {OFFSET_HELP}")],
        reason: Reason = "",
    ) -> CallToolResult:
        """Move a pending or accepted booking to a new start, keeping its id and duration.
        The new time must be free under the page's rules (check calmesh_get_slots first);
        otherwise it is refused and the booking stays as it was. The calendar event is
        updated and the attendee notified. The result is the booking with its new times."""
        data = await api.post(
            f"/bookings/{seg(booking_id)}/reschedule", {"start": start, "reason": reason}
        )
        return result("Rescheduled:\n" + booking_line(data), data)

    @tool(
        "calmesh_confirm_booking",
        "Confirm a pending booking",
        "book",
        idempotent=True,
        open_world=True,
    )
    async def confirm_booking(booking_id: BookingId) -> CallToolResult:
        """Confirm a booking that awaits the owner's approval (status `pending`, on pages
        that require confirmation): it becomes `accepted` and the attendee is told. Other
        states are refused. The result is the booking."""
        data = await api.post(f"/bookings/{seg(booking_id)}/confirm")
        return result("Confirmed:\n" + booking_line(data), data)
