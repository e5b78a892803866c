"""Bookings: list, get, confirm, decline, reschedule, cancel (owner or visitor token)."""

from __future__ import annotations

from calmesh.api.framework import ApiError, endpoint, not_found
from calmesh.api.framework import current_principal as who
from calmesh.api.pagination import PAGE_QUERY, page_of, paginate
from calmesh.auth import apikeys, signing
from calmesh.inputs import bookings as inputs
from calmesh.models import BOOKING_STATUSES, Booking
from calmesh.schema import Choice, DateTime, Integer, Map, Object, String, TextOrFlag
from calmesh.services import bookings as service
from calmesh.urls import links

TAG = "Bookings"

BOOKING_OUT = Object(
    {
        "id": String(description="The booking's public uid"),
        "uid": String(),
        "booking_page": String(description="The page's slug"),
        "host": Object(
            {"handle": String(), "name": String()},
            description="The page's owner: its public address is /{handle}/{booking_page}",
        ),
        "title": String(),
        "status": Choice(*BOOKING_STATUSES),
        "start": DateTime(),
        "end": DateTime(),
        "duration": Integer(),
        "attendee": Object({"name": String(), "email": String(), "timezone": String()}),
        "notes": String(),
        "answers": Map(TextOrFlag()),
        "location": String(),
        "sequence": Integer(),
        "reason": String(max_length=2000),  # as long as the inputs allow
        "manage_url": String(
            nullable=True, description="The visitor's signed link (only to the visitor)"
        ),
        "created_at": DateTime(),
        "updated_at": DateTime(),
    },
    name="Booking",
)


def booking_out(booking: Booking, with_manage: bool = False) -> dict:
    """The booking; ``manage_url`` (the visitor's signed link) only to the visitor."""
    manage = service.manage_url(booking, links()) if with_manage else None
    return {**service.booking_data(booking), "manage_url": manage}


def owned(uid: str) -> Booking:
    booking = service.get_for(who().user, uid)
    if booking is None:
        raise not_found("booking")
    return booking


@endpoint(
    "/bookings",
    "GET",
    auth="book",
    query=Object({**PAGE_QUERY, **inputs.BOOKING_FILTERS}),
    response=page_of(BOOKING_OUT, "BookingPage_"),
    summary="List bookings (filter by status, upcoming or past, page, attendee, start range)",
    tag=TAG,
)
def list_bookings(query):
    found = service.search(
        who().user,
        statuses=query["status"].split(",") if query["status"] else None,
        when=query["when"],
        page_slug=query["booking_page"],
        attendee=query["attendee"],
        start_after=query["start_after"],
        start_before=query["start_before"],
    )
    return paginate(
        found,
        order=[Booking.start, Booking.id],
        serialize=booking_out,
        limit=query["limit"],
        cursor=query["cursor"],
        descending=query["when"] == "past",
    )


@endpoint(
    "/bookings/<token:uid>",
    "GET",
    auth="book",
    response=BOOKING_OUT,
    summary="A booking by its uid",
    tag=TAG,
)
def get_booking(uid):
    return booking_out(owned(uid))


@endpoint(
    "/bookings/<token:uid>/confirm",
    "POST",
    auth="book",
    response=BOOKING_OUT,
    errors=(409,),
    summary="Confirm a pending booking",
    tag=TAG,
)
def confirm_booking(uid):
    return booking_out(service.confirm(owned(uid)))


@endpoint(
    "/bookings/<token:uid>/decline",
    "POST",
    auth="book",
    body=inputs.REASON,
    response=BOOKING_OUT,
    errors=(409,),
    summary="Decline a pending booking",
    tag=TAG,
)
def decline_booking(uid, body):
    return booking_out(service.decline(owned(uid), body["reason"]))


@endpoint(
    "/bookings/<token:uid>/reschedule",
    "POST",
    auth="book",
    body=inputs.RESCHEDULE,
    response=BOOKING_OUT,
    errors=(409, 422),
    summary="Move a pending or accepted booking (keeps its uid)",
    tag=TAG,
)
def reschedule_booking(uid, body):
    return booking_out(service.reschedule(owned(uid), body["start"], body["reason"]))


@endpoint(
    "/bookings/<token:uid>/cancel",
    "PATCH",
    auth="public",
    body=inputs.CANCEL,
    response=BOOKING_OUT,
    errors=(
        401,
        403,
        409,
    ),
    summary="Cancel a booking: by the owner (auth, book scope) or the visitor (signed token)",
    scope_label="book, or the visitor's signed token",
    tag=TAG,
)
def cancel_booking(uid, body):
    if body["token"]:
        try:
            # The mail's cancel link, or an older manage link; never a reschedule link.
            booking, _ = service.by_visitor_token(uid, body["token"], ("cancel", "manage"))
        except signing.BadToken as exc:
            raise ApiError(403, "forbidden", str(exc)) from None
        return booking_out(service.cancel(booking, body["reason"], by="visitor"))
    principal = who()
    if principal is None:
        raise ApiError(401, "unauthorized", "sign in, send an API key, or give the visitor's token")
    if not apikeys.scope_allows(principal.scope, "book"):
        raise ApiError(
            403, "forbidden", f"this needs the 'book' scope; the key has '{principal.scope}'"
        )
    return booking_out(service.cancel(owned(uid), body["reason"]))
