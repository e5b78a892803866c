"""Kind ``booking.mail``: the mails of a booking change, queued as an intent
and rendered at delivery.

The booking request only writes what the mail is about (the booking, the
change, the recipient's role, and the booking's time, sequence and status at
that change, so a later change never rewrites an earlier mail); the text and
the ``.ics`` are built here, in the scheduler. The Message-ID is fixed when
queued (``message_key``), so a retry or a crash after commit never sends a
second copy a user would see as new. Mails of one booking to one recipient go
out in order (ordering key ``booking:<uid>:mail:<role>``).

The visitor's mail speaks the language stored with the booking
(:mod:`calmesh.effects.visitor_mail`); the owner's stays English.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from calmesh.auth import signing
from calmesh.effects import visitor_mail
from calmesh.effects.drafts import booking_draft
from calmesh.effects.mail import send_now
from calmesh.effects.outbox import Context, Item, add_many
from calmesh.engine.ical import build_calendar
from calmesh.models import Booking, BookingPage, User
from calmesh.services import owner_mails
from calmesh.services.mail import Mail, message_id, message_key
from calmesh.urls import Links

KIND = "booking.mail"
LANE = "mail"
ROLES = ("attendee", "owner")
CHANGES = ("requested", "accepted", "rescheduled", "declined", "cancelled")


def queue(
    booking: Booking,
    what: str,
    reason: str = "",
    *,
    created: bool = False,
    previous: tuple[datetime, datetime] | None = None,
) -> None:
    """Queue the attendee's and the owner's mail about ``what`` happened to
    ``booking`` (inside the change's transaction; no rendering here).
    ``created``: a new booking (not a confirmed request); ``previous``: the
    (start, end) a reschedule moved it from."""
    add_many(items(booking, what, reason, created=created, previous=previous))


def items(
    booking: Booking,
    what: str,
    reason: str = "",
    *,
    created: bool = False,
    previous: tuple[datetime, datetime] | None = None,
) -> list[Item]:
    """The outbox items :func:`queue` writes, for a caller that writes them together
    with others in one insert."""
    assert what in CHANGES, what
    state = {
        "booking": booking.uid,
        "what": what,
        "reason": reason,
        "start": booking.start.isoformat(),
        "end": booking.end.isoformat(),
        "sequence": booking.sequence,
        "status": booking.status,
        "created": created,
        "previous": [t.isoformat() for t in previous] if previous else None,
    }
    return [
        Item(
            KIND,
            {**state, "role": role, "message_key": message_key()},
            booking.user_id,
            f"booking:{booking.uid}:mail:{role}",
        )
        for role in ROLES
    ]


def deliver(payload: dict[str, Any], context: Context) -> None:
    booking = (
        Booking.select(Booking, BookingPage, User)
        .join(BookingPage)
        .join(User)
        .where(Booking.uid == payload["booking"])
        .first()
    )
    if booking is None:
        return  # deleted with its page or its owner: nobody left to tell
    # The booking as it was at the change this mail is about.
    booking.start = datetime.fromisoformat(payload["start"])
    booking.end = datetime.fromisoformat(payload["end"])
    booking.sequence, booking.status = payload["sequence"], payload["status"]
    if payload["role"] == "attendee":
        mail = attendee_mail(booking, payload["what"], payload["reason"], context.links)
    else:
        previous = payload.get("previous")
        mail = owner_mail(
            booking,
            payload["what"],
            payload["reason"],
            context.links,
            created=payload.get("created", False),
            previous=tuple(datetime.fromisoformat(t) for t in previous) if previous else None,
        )
    mail.user_id = booking.user_id
    mail.message_id = message_id(context.settings, payload["message_key"])
    send_now(mail, context)


def gave_up(payload: dict[str, Any], error: str, context: Context) -> None:
    """Nothing else to mark: the failed item is what the mail page shows."""


# --- the content ---------------------------------------------------------------------------


def manage_token(booking: Booking) -> str:
    """The signed token of the visitor's link to cancel or reschedule."""
    return signing.sign("booking-manage", {"b": booking.uid})


def when(booking: Booking, tz: str) -> str:
    zone = ZoneInfo(tz)
    start, end = booking.start.astimezone(zone), booking.end.astimezone(zone)
    return f"{start:%A, %d %B %Y, %H:%M}–{end:%H:%M} ({tz})"


def attendee_mail(booking: Booking, what: str, reason: str, links: Links) -> Mail:
    """The visitor's mail in their language (see :mod:`calmesh.effects.visitor_mail`),
    with their copy of the event as ``.ics`` (REQUEST or CANCEL)."""
    method = "CANCEL" if what in ("declined", "cancelled") else "REQUEST"
    subject, body = visitor_mail.booking_notice(booking, what, reason, links)
    draft = visitor_mail.visitor_draft(booking, links, cancelled=method == "CANCEL")
    return Mail(
        to=booking.attendee_email,
        subject=subject,
        body=body,
        ics=build_calendar(draft, method=method),
        ics_method=method,
    )


def owner_mail(
    booking: Booking,
    what: str,
    reason: str,
    links: Links,
    *,
    created: bool = False,
    previous: tuple[datetime, datetime] | None = None,
) -> Mail:
    """The owner's mail (see :mod:`calmesh.services.owner_mails`): answers, notes,
    a link to the booking, and the event as ``.ics`` for the owner's calendar app
    (PUBLISH; CANCEL once cancelled or declined)."""
    values = owner_mails.context(
        booking, what, links, reason=reason, created=created, previous=previous
    )
    subject, body = owner_mails.render(values)
    method = "CANCEL" if values["cancelled"] else "PUBLISH"
    ics = build_calendar(booking_draft(booking, cancelled=method == "CANCEL"), method=method)
    return Mail(to=booking.page.user.email, subject=subject, body=body, ics=ics, ics_method=method)
