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
from zoneinfo import ZoneInfo

from flask import current_app
from peewee import fn

from calmesh.auth import signing
from calmesh.db import db, is_sqlite, utcnow, write_transaction
from calmesh.engine.ical import EventDraft, build_calendar
from calmesh.models import ACTIVE, Booking, BookingPage, User
from calmesh.schema import Email, Object, String, TimeZone
from calmesh.services import booking_pages, events, mail, outbox
from calmesh.services.calendars import BOOKING_UID_DOMAIN
from calmesh.services.errors import ServiceError
from calmesh.urls import external_url

# The UID a booking's event carries everywhere (provider, .ics mails). The
# domain also lets busy-time readers skip these events: bookings block through
# their own rows, and must not block themselves when rescheduled.
UID_DOMAIN = BOOKING_UID_DOMAIN


# Who books, declared once: the public endpoint, the booking form and the MCP tool.
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


class BookingError(ServiceError):
    """Refused: 409 when the time is taken, 422 when it is not possible now."""


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str
    timezone: str


def event_uid(booking: Booking) -> str:
    return booking.uid + UID_DOMAIN


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


def manage_token(booking: Booking) -> str:
    return signing.sign("booking-manage", {"b": booking.uid})


def by_manage_token(uid: str, token: str) -> Booking:
    """The booking a visitor's signed link is for; BadToken for a tampered,
    expired or foreign one (a token for another booking does not open this one)."""
    data = signing.verify("booking-manage", token)
    if not isinstance(data, dict) or data.get("b") != uid:
        raise signing.BadToken("this link is for another booking")
    booking = (
        Booking.select(Booking, BookingPage).join(BookingPage).where(Booking.uid == uid).first()
    )
    if booking is None:
        raise signing.BadToken("this booking no longer exists")
    return booking


# --- side effects -------------------------------------------------------------------


def manage_url(booking: Booking) -> str:
    """The visitor's signed link to cancel or reschedule, on the trusted origin."""
    return external_url("public.manage_booking", uid=booking.uid, token=manage_token(booking))


def draft_for(booking: Booking, cancelled: bool = False) -> EventDraft:
    page, owner = booking.page, booking.page.user
    return EventDraft(
        uid=event_uid(booking),
        summary=f"{page.title}: {booking.attendee_name}",
        start=booking.start,
        end=booking.end,
        description=_describe(booking),
        location=page.location,
        sequence=booking.sequence,
        status="CANCELLED"
        if cancelled
        else ("TENTATIVE" if booking.status == "pending" else "CONFIRMED"),
        organizer_email=owner.email,
        organizer_name=owner.name or owner.handle,
        attendees=((booking.attendee_name, booking.attendee_email),),
        timezone=page.timezone,
    )


def _describe(booking: Booking) -> str:
    lines = [f"Booked by {booking.attendee_name} <{booking.attendee_email}> via CalMesh."]
    if booking.notes:
        lines += ["", "Notes:", booking.notes]
    for q in booking.page.questions:
        if q["id"] in booking.answers:
            value = booking.answers[q["id"]]
            lines.append(f"{q['label']}: {'yes' if value is True else value}")
    return "\n".join(lines)


def _when(booking: Booking, tz: str) -> str:
    zone = ZoneInfo(tz)
    start, end = booking.start.astimezone(zone), booking.end.astimezone(zone)
    return f"{start:%A, %d %B %Y, %H:%M}–{end:%H:%M} ({tz})"


def _mail(to: str, subject: str, body: str, booking: Booking, method: str | None) -> outbox.Item:
    ics = None
    if method:
        ics = build_calendar(draft_for(booking, cancelled=method == "CANCEL"), method=method)
    payload = {
        "to": to,
        "subject": subject,
        "body": body,
        "ics": ics,
        "ics_method": method or "",
        "user_id": booking.user_id,
        "message_id": mail.message_id(current_app.config["CALMESH"]),
    }
    return outbox.Item("mail", payload, booking.user_id, f"booking:{booking.uid}:mail:{to}")


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


def _notify(booking: Booking, what: str, reason: str = "", created: bool = False) -> None:
    """Queue the e-mails, the calendar write-back and the webhook events for a
    change of ``booking`` (inside the change's transaction)."""
    _queue(booking, _side_effects(booking, what, reason), what, created)


def _queue(booking: Booking, items: list[outbox.Item], what: str, created: bool = False) -> None:
    event = "booking.created" if created and what == "accepted" else EVENT_FOR[what]
    events.emit(booking.user_id, event, booking_data(booking), subject=booking.uid)
    outbox.enqueue_many(items)


def _side_effects(booking: Booking, what: str, reason: str = "") -> list[outbox.Item]:
    """The outbox items of a change: built from the booking alone, so that
    ``book`` can prepare them before it takes the owner's lock."""
    page, owner = booking.page, booking.page.user
    subject, line, method = {
        "requested": (
            f"Requested: {page.title}",
            "Your request was sent; you will hear when it is confirmed.",
            "REQUEST",
        ),
        "accepted": (f"Confirmed: {page.title}", "Your booking is confirmed.", "REQUEST"),
        "rescheduled": (f"Moved: {page.title}", "Your booking has a new time.", "REQUEST"),
        "declined": (f"Declined: {page.title}", "Sorry, this request was declined.", "CANCEL"),
        "cancelled": (f"Cancelled: {page.title}", "This booking is cancelled.", "CANCEL"),
    }[what]
    body = [
        f"Hello {booking.attendee_name},",
        "",
        line,
        "",
        _when(booking, booking.attendee_timezone),
    ]
    if page.location:
        body.append(f"Where: {page.location}")
    if reason:
        body += ["", f"Reason: {reason}"]
    if what not in ("declined", "cancelled"):
        body += ["", f"To cancel or reschedule: {manage_url(booking)}"]
    owner_lines = [
        f"{booking.attendee_name} <{booking.attendee_email}> — {page.title}",
        _when(booking, owner.timezone),
    ]
    if what == "requested":
        owner_lines.append("It waits for your confirmation in the dashboard.")
    if reason:
        owner_lines.append(f"Reason: {reason}")
    items = [
        _mail(booking.attendee_email, subject, "\n".join(body), booking, method),
        _mail(
            owner.email,
            f"[CalMesh] Booking {what}: {booking.attendee_name}",
            "\n".join(owner_lines),
            booking,
            None,
        ),
    ]
    action = {
        "accepted": "write",
        "rescheduled": "write",
        "declined": "delete",
        "cancelled": "delete",
    }.get(what)
    if action:
        items.append(
            outbox.Item(
                "booking.writeback",
                {"booking": booking.uid, "action": action},
                booking.user_id,
                f"booking:{booking.uid}:writeback",
            )
        )
    return items


# --- the changes ----------------------------------------------------------------------


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
    now = utcnow()
    booking = Booking(
        page=page,
        user=page.user_id,
        start=start,
        end=start + timedelta(minutes=minutes),
        status="pending" if page.requires_confirmation else "accepted",
        attendee_name=attendee.name,
        attendee_email=attendee.email,
        attendee_timezone=attendee.timezone,
        notes=notes,
        answers=clean_answers,
        idempotency_key=idempotency_key,
        idempotency_fingerprint=fingerprint,
        created_at=now,
        updated_at=now,
    )
    what = "requested" if booking.status == "pending" else "accepted"
    # Mails and .ics are built before the lock: it is held only to check and write.
    items = _side_effects(booking, what)
    with write_transaction():
        lock_owner(page.user_id)
        if idempotency_key:
            existing = Booking.get_or_none(
                (Booking.page == page) & (Booking.idempotency_key == idempotency_key)
            )
            if existing is not None:
                # A row from before fingerprints (None) cannot prove it is the same request.
                if existing.idempotency_fingerprint != fingerprint:
                    raise BookingError(
                        "this Idempotency-Key was already used for a different request; "
                        "send a new key for a new booking",
                        422,
                        "idempotency_key_reused",
                    )
                return existing, False
        reason = booking_pages.why_not_bookable(page, start, minutes)
        if reason:
            raise BookingError(f"this time cannot be booked: {reason}", *_status_for(reason))
        booking.save(force_insert=True)
        _queue(booking, items, what, created=True)
    return booking, True


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
        _notify(booking, "accepted")
    return booking


def decline(booking: Booking, reason: str = "") -> Booking:
    with write_transaction():
        booking = _change(booking, ("pending",), "declined")
        booking.status, booking.reason = "declined", reason
        booking.sequence, booking.updated_at = booking.sequence + 1, utcnow()
        booking.save()
        _notify(booking, "declined", reason)
    return booking


def cancel(booking: Booking, reason: str = "") -> Booking:
    with write_transaction():
        booking = _change(booking, ACTIVE, "cancelled")
        booking.status, booking.reason = "cancelled", reason
        booking.sequence, booking.updated_at = booking.sequence + 1, utcnow()
        booking.save()
        _notify(booking, "cancelled", reason)
    return booking


def reschedule(booking: Booking, start: datetime, reason: str = "") -> Booking:
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
        booking.start, booking.end = start, start + timedelta(minutes=minutes)
        booking.reason, booking.sequence, booking.updated_at = (
            reason,
            booking.sequence + 1,
            utcnow(),
        )
        booking.save()
        _notify(booking, "rescheduled", reason)
    return booking


# --- the write-back, run by the outbox ---------------------------------------------------


@outbox.handler("booking.writeback", lane="writeback")
def write_back(payload: dict[str, Any]) -> None:
    """Make the provider match the booking as it is now (retries see the latest state)."""
    from calmesh.providers.base import ProviderError
    from calmesh.services import calendars
    from calmesh.services.sync import provider_for

    booking = (
        Booking.select(Booking, BookingPage)
        .join(BookingPage)
        .where(Booking.uid == payload["booking"])
        .first()
    )
    if booking is None:
        return
    calendar = booking.page.calendar
    try:
        if booking.status not in ACTIVE or payload["action"] == "delete":
            if booking.remote_href and booking.remote_calendar_id:
                remote = booking.remote_calendar
                provider_for(remote.connection, current_app.config["CALMESH"]).delete_event(
                    remote.remote_id, booking.remote_href
                )
                calendars.forget_written(remote, booking.remote_href)
                Booking.update(remote_href=None).where(Booking.id == booking.id).execute()
            return
        if booking.status != "accepted":
            return  # pending bookings hold time here, not in the owner's calendar
        draft = draft_for(booking)
        if booking.remote_href and booking.remote_calendar_id:
            remote = booking.remote_calendar
            href = provider_for(remote.connection, current_app.config["CALMESH"]).update_event(
                remote.remote_id, booking.remote_href, draft
            )
        else:
            source, remote = calendars.write_target(calendar)
            href = provider_for(source.connection, current_app.config["CALMESH"]).create_event(
                remote.remote_id, draft
            )
        calendars.store_written(remote, href, draft, calendar.timezone)
        Booking.update(remote_calendar=remote, remote_href=href).where(
            Booking.id == booking.id
        ).execute()
    except calendars.CalendarError as exc:
        raise outbox.GiveUp(str(exc)) from None
    except ProviderError as exc:
        if exc.permanent:
            raise outbox.GiveUp(str(exc)) from None
        raise outbox.Retry(str(exc)) from None


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
