"""Bookings: book, confirm, decline, reschedule, cancel — one atomic function each.

No double booking, on SQLite and PostgreSQL, under any number of workers: the
slot is re-checked and the booking inserted in one transaction that first
takes the owner's lock (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR
UPDATE`` on the owner's row on PostgreSQL). Every side effect (write-back,
e-mails) goes to the outbox in that same transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from peewee import fn

from calmesh.auth import signing
from calmesh.db import db, is_sqlite, utcnow, write_transaction
from calmesh.effects import booking_mail, booking_writeback, outbox
from calmesh.effects.booking_mail import manage_token
from calmesh.models import ACTIVE, Booking, BookingChange, BookingPage, User
from calmesh.services import booking_pages, events
from calmesh.services.calendars import BOOKING_UID_DOMAIN
from calmesh.services.errors import ServiceError
from calmesh.urls import Links

# The UID domain of a booking's event everywhere (provider, .ics mails; see
# effects.drafts.booking_uid). It also lets busy-time readers skip these
# events: bookings block through their own rows, and must not block
# themselves when rescheduled.
UID_DOMAIN = BOOKING_UID_DOMAIN


class BookingError(ServiceError):
    """Refused: 409 when the time is taken, 422 when it is not possible now."""


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str
    timezone: str
    locale: str = "en"  # the language of the visitor's mails


def lock_owner(user_id: int) -> None:
    """Serialise booking changes of one owner (call inside write_transaction)."""
    if not is_sqlite():  # SQLite's BEGIN IMMEDIATE already holds the write lock
        db.execute_sql('SELECT id FROM "user" WHERE id = %s FOR UPDATE', (user_id,))


def get_for(user: User, uid: str) -> Booking | None:
    """The owner's booking by uid, or None (another user's answers 404)."""
    return (
        Booking.select(Booking, BookingPage)
        .join(BookingPage)
        .where((Booking.uid == uid) & (Booking.user == user))
        .first()
    )


def by_visitor_token(uid: str, token: str, purposes: tuple[str, ...]) -> tuple[Booking, str]:
    """The booking and the purpose ``token`` was signed for, the first of
    ``purposes`` it verifies for; BadToken when none."""
    for purpose in purposes[:-1]:
        try:
            return by_manage_token(uid, token, purpose), purpose
        except signing.BadToken:
            continue
    return by_manage_token(uid, token, purposes[-1]), purposes[-1]


def by_manage_token(uid: str, token: str, purpose: str = "manage") -> Booking:
    """The booking a visitor's signed link is for; BadToken for a tampered,
    expired or foreign one (a token for another booking does not open this one)."""
    data = signing.verify(f"booking-{purpose}", token)
    if not isinstance(data, dict) or data.get("b") != uid:
        raise signing.BadToken("this link is for another booking")
    booking = (
        Booking.select(Booking, BookingPage).join(BookingPage).where(Booking.uid == uid).first()
    )
    if booking is None:
        raise signing.BadToken("this booking no longer exists")
    return booking


# --- side effects -------------------------------------------------------------------


def manage_url(booking: Booking, links: Links) -> str:
    """The visitor's signed link to cancel or reschedule, on the trusted origin."""
    return links.manage_booking(booking.uid, manage_token(booking))


def booking_data(booking: Booking) -> dict[str, Any]:
    """A booking as plain JSON-ready data (REST answers and webhook bodies)."""
    return {
        "id": booking.uid,
        "uid": booking.uid,
        "booking_page": booking.page.slug,
        "host": {"handle": booking.page.user.handle, "name": booking.page.user.name},
        "title": booking.page.title,
        "status": booking.status,
        "start": _iso(booking.start),
        "end": _iso(booking.end),
        "duration": int((booking.end - booking.start).total_seconds() // 60),
        "attendee": {
            "name": booking.attendee_name,
            "email": booking.attendee_email,
            "timezone": booking.attendee_timezone,
        },
        "notes": booking.notes,
        "answers": booking.answers,
        "location": booking.page.location,
        "sequence": booking.sequence,
        "reason": booking.reason,
        "created_at": _iso(booking.created_at),
        "updated_at": _iso(booking.updated_at),
    }


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


EVENT_FOR = {
    "requested": "booking.requested",
    "accepted": "booking.confirmed",
    "rescheduled": "booking.rescheduled",
    "declined": "booking.declined",
    "cancelled": "booking.cancelled",
}


WRITE_BACK = {
    "accepted": "write",
    "rescheduled": "write",
    "declined": "delete",
    "cancelled": "delete",
}


def _notify(
    booking: Booking, what: str, reason: str = "", created: bool = False, previous=None
) -> None:
    """Queue the e-mails, the calendar write-back and the webhook events for a
    change of ``booking`` (inside the change's transaction). Only the intent is
    written: the mails are rendered when they are delivered. ``previous`` is
    the (start, end) a reschedule moved the booking from."""
    event = "booking.created" if created and what == "accepted" else EVENT_FOR[what]
    # A page read by booking_pages' lookups says whether its owner has webhooks.
    hooks = getattr(booking.page, "owner_has_webhooks", True)
    events.emit(
        booking.user_id, event, booking_data(booking), subject=booking.uid, webhooks=bool(hooks)
    )
    # The mails and the write-back in one insert: one statement fewer per change.
    queued = booking_mail.items(booking, what, reason, created=created, previous=previous)
    if what in WRITE_BACK:
        queued.append(booking_writeback.item(booking, WRITE_BACK[what]))
    outbox.add_many(queued)


# --- the changes ----------------------------------------------------------------------


def _record(booking: Booking, what: str, by: str, reason: str = "", old=None) -> None:
    """One line of the booking's history (inside the change's transaction);
    ``old`` is the (start, end) a reschedule moved it from."""
    BookingChange.create(
        booking=booking,
        what=what,
        by=by,
        reason=reason,
        old_start=old[0] if old else None,
        old_end=old[1] if old else None,
        at=booking.updated_at,
    )


def book(
    page: BookingPage,
    *,
    start: datetime,
    duration: int | None,
    attendee: Attendee,
    notes: str = "",
    answers: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    caller: str = "",
) -> tuple[Booking, bool]:
    """Book ``start`` on ``page``; returns (booking, created).

    A retry with the same idempotency key and the same request (see
    :func:`request_fingerprint`; ``caller`` names who sends it, "" for an
    anonymous visitor) returns the first booking instead of booking twice. The
    same key with any other request is refused with 422
    ``idempotency_key_reused`` and learns nothing of the first booking: a key
    is not a way to read someone else's booking or its manage link.
    """
    minutes = booking_pages.duration_for(page, duration)
    clean_answers = booking_pages.check_answers(page, answers or {})
    fingerprint = None
    if idempotency_key:
        fingerprint = request_fingerprint(
            page, caller, start, minutes, attendee, notes, clean_answers
        )
    booking = _new_booking(page, start, minutes, attendee, notes, clean_answers)
    booking.idempotency_key, booking.idempotency_fingerprint = idempotency_key, fingerprint
    what = "requested" if booking.status == "pending" else "accepted"
    with write_transaction():
        lock_owner(page.user_id)
        existing = _earlier_attempt(page, idempotency_key, fingerprint)
        if existing is not None:
            return existing, False
        reason = booking_pages.why_not_bookable(page, start, minutes)
        if reason:
            raise BookingError(f"this time cannot be booked: {reason}", *_status_for(reason))
        booking.save(force_insert=True)
        _record(booking, "requested" if what == "requested" else "booked", "visitor")
        _notify(booking, what, created=True)
    return booking, True


def _new_booking(
    page: BookingPage,
    start: datetime,
    minutes: int,
    attendee: Attendee,
    notes: str,
    answers: dict[str, Any],
) -> Booking:
    """The booking row, not saved yet."""
    now = utcnow()
    return Booking(
        page=page,
        user=page.user_id,
        start=start,
        end=start + timedelta(minutes=minutes),
        status="pending" if page.requires_confirmation else "accepted",
        attendee_name=attendee.name,
        attendee_email=attendee.email,
        attendee_timezone=attendee.timezone,
        attendee_locale=attendee.locale,
        notes=notes,
        answers=answers,
        created_at=now,
        updated_at=now,
    )


def _earlier_attempt(
    page: BookingPage, idempotency_key: str | None, fingerprint: str | None
) -> Booking | None:
    """The booking an earlier request with this key made, if it was the same request;
    the key reused for another request is refused."""
    if not idempotency_key:
        return None
    existing = Booking.get_or_none(
        (Booking.page == page) & (Booking.idempotency_key == idempotency_key)
    )
    # A row from before fingerprints (None) cannot prove it is the same request.
    if existing is not None and existing.idempotency_fingerprint != fingerprint:
        raise BookingError(
            "this Idempotency-Key was already used for a different request; "
            "send a new key for a new booking",
            422,
            "idempotency_key_reused",
        )
    return existing


def request_fingerprint(
    page: BookingPage,
    caller: str,
    start: datetime,
    minutes: int,
    attendee: Attendee,
    notes: str,
    answers: dict[str, Any],
) -> str:
    """What an idempotency key is bound to: the SHA-256 of the request as
    canonical JSON (sorted keys, the instant in UTC, the resolved duration), so
    that only a true retry of the same booking by the same caller matches."""
    canonical = json.dumps(
        {
            "page": page.id,
            "caller": caller,
            "start": _iso(start),
            "minutes": minutes,
            "attendee": [attendee.name, attendee.email, attendee.timezone],
            "notes": notes,
            "answers": answers,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _status_for(reason: str) -> tuple[int, str]:
    return (409, "slot_taken") if "taken" in reason else (422, "slot_unavailable")


def _change(booking: Booking, allowed: tuple[str, ...], verb: str) -> Booking:
    """Re-read ``booking`` under the owner's lock and check its status allows ``verb``."""
    lock_owner(booking.user_id)
    fresh = (
        Booking.select(Booking, BookingPage).join(BookingPage).where(Booking.id == booking.id).get()
    )
    if fresh.status not in allowed:
        article = "an" if fresh.status[0] in "aeiou" else "a"
        raise BookingError(
            f"{article} {fresh.status} booking cannot be {verb}", 409, "invalid_state"
        )
    return fresh


def confirm(booking: Booking) -> Booking:
    with write_transaction():
        booking = _change(booking, ("pending",), "confirmed")
        booking.status, booking.sequence, booking.updated_at = (
            "accepted",
            booking.sequence + 1,
            utcnow(),
        )
        booking.save()
        _record(booking, "confirmed", "owner")
        _notify(booking, "accepted")
    return booking


def decline(booking: Booking, reason: str = "") -> Booking:
    with write_transaction():
        booking = _change(booking, ("pending",), "declined")
        booking.status, booking.reason = "declined", reason
        booking.sequence, booking.updated_at = booking.sequence + 1, utcnow()
        booking.save()
        _record(booking, "declined", "owner", reason)
        _notify(booking, "declined", reason)
    return booking


def cancel(booking: Booking, reason: str = "", by: str = "owner") -> Booking:
    """Cancel a pending or accepted booking; ``by`` the owner or the visitor."""
    with write_transaction():
        booking = _change(booking, ACTIVE, "cancelled")
        booking.status, booking.reason = "cancelled", reason
        booking.sequence, booking.updated_at = booking.sequence + 1, utcnow()
        booking.save()
        _record(booking, "cancelled", by, reason)
        _notify(booking, "cancelled", reason)
    return booking


def reschedule(booking: Booking, start: datetime, reason: str = "", by: str = "owner") -> Booking:
    """Move a pending or accepted booking, keeping its uid; the new time is
    checked like a new booking, but the booking does not block itself."""
    with write_transaction():
        booking = _change(booking, ACTIVE, "rescheduled")
        minutes = int((booking.end - booking.start).total_seconds() // 60)
        problem = booking_pages.why_not_bookable(
            booking.page, start, minutes, exclude_uid=booking.uid
        )
        if problem:
            raise BookingError(f"the new time cannot be booked: {problem}", *_status_for(problem))
        old = (booking.start, booking.end)
        booking.start, booking.end = start, start + timedelta(minutes=minutes)
        booking.reason, booking.sequence, booking.updated_at = (
            reason,
            booking.sequence + 1,
            utcnow(),
        )
        booking.save()
        _record(booking, "rescheduled", by, reason, old)
        _notify(booking, "rescheduled", reason, previous=old)
    return booking


# --- reading -----------------------------------------------------------------------------


def search(
    user: User,
    *,
    statuses: list[str] | None = None,
    when: str = "all",
    page_slug: str | None = None,
    attendee: str | None = None,
    start_after: datetime | None = None,
    start_before: datetime | None = None,
    now: datetime | None = None,
):
    """The owner's bookings by filter; ``when`` is upcoming (not ended yet), past
    (ended) or all."""
    query = Booking.select(Booking, BookingPage).join(BookingPage).where(Booking.user == user)
    if statuses:
        query = query.where(Booking.status.in_(statuses))
    if when != "all":
        moment = now or utcnow()
        query = query.where(Booking.end > moment if when == "upcoming" else Booking.end <= moment)
    if page_slug:
        query = query.where(BookingPage.slug == page_slug)
    if attendee:
        needle = attendee.lower()
        query = query.where(
            Booking.attendee_email.contains(needle)
            | fn.LOWER(Booking.attendee_name).contains(needle)
        )
    if start_after:
        query = query.where(Booking.start >= start_after)
    if start_before:
        query = query.where(Booking.start < start_before)
    return query
