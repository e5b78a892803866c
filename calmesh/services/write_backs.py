"""Where a booking's write-back stands, for the owner: written to which calendar,
waiting, retrying, or failed and why; and the owner's Retry and Dismiss.

Read from the outbox, never stored twice: the newest ``booking.writeback``
item of a booking (its ordering key) says how the last attempt went, and the
booking keeps the calendar it was written to. A failure stays visible (on the
booking, the Overview, the calendar page) until a later write-back succeeds,
the owner retries it, or dismisses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from peewee import JOIN

from calmesh.db import write_transaction
from calmesh.effects import outbox
from calmesh.effects.booking_writeback import KIND
from calmesh.models import Booking, BookingPage, OutboxItem, RemoteCalendar, User

STATES = ("none", "queued", "retrying", "written", "removed", "failed")


def ordering_key(uid: str) -> str:
    return f"booking:{uid}:writeback"  # as services.bookings queues it


@dataclass(frozen=True)
class WriteBack:
    """``state``: none (nothing to write yet: a pending request), queued, retrying
    (failed, will try again), written, removed (a cancelled booking's event was
    deleted), failed (retries ended; the owner may retry)."""

    state: str
    calendar: RemoteCalendar | None = None  # written to (or, failing, would be)
    error: str = ""
    item_id: int | None = None
    at: datetime | None = None
    dismissed: bool = False

    @property
    def shows_failure(self) -> bool:
        return self.state == "failed" and not self.dismissed


def _newest(uid: str) -> OutboxItem | None:
    return (
        OutboxItem.select()
        .where((OutboxItem.kind == KIND) & (OutboxItem.ordering_key == ordering_key(uid)))
        .order_by(OutboxItem.id.desc())
        .first()
    )


def state_of(booking: Booking) -> WriteBack:
    item = _newest(booking.uid)
    written = booking.remote_calendar if booking.remote_calendar_id else None
    if item is None:
        return WriteBack("none", written)
    if item.status == "pending":
        state = "retrying" if item.attempts else "queued"
        return WriteBack(state, written, item.last_error, item.id, item.next_attempt_at)
    if item.status == "done":
        return WriteBack(
            "written" if booking.remote_href else "removed", written, "", item.id, item.done_at
        )
    return WriteBack(
        "failed",
        written,
        item.last_error,
        item.id,
        item.done_at,
        dismissed=booking.dismissed_failure == item.id,
    )


@dataclass(frozen=True)
class FailedWriteBack:
    booking: Booking
    error: str
    failed_at: datetime | None
    item_id: int


def failed_write_backs(user: User, calendar_id: int | None = None) -> list[FailedWriteBack]:
    """The owner's bookings whose newest write-back failed and was not dismissed,
    newest failure first (for the Overview and the calendar page; ``calendar_id``
    keeps those of one unified calendar)."""
    Newer = OutboxItem.alias()
    failed = list(
        OutboxItem.select()
        .join(
            Newer,
            JOIN.LEFT_OUTER,
            on=(
                (Newer.ordering_key == OutboxItem.ordering_key)
                & (Newer.kind == KIND)
                & (Newer.id > OutboxItem.id)
            ),
        )
        .where(
            (OutboxItem.user == user)
            & (OutboxItem.kind == KIND)
            & (OutboxItem.status == "failed")
            & Newer.id.is_null()
        )
        .order_by(OutboxItem.id.desc())
    )
    uids = {item.payload.get("booking"): item for item in failed}
    if not uids:
        return []
    query = (
        Booking.select(Booking, BookingPage)
        .join(BookingPage)
        .where((Booking.user == user) & Booking.uid.in_(list(uids)))
    )
    if calendar_id is not None:
        query = query.where(BookingPage.calendar == calendar_id)
    found = []
    for booking in query:
        item = uids[booking.uid]
        if booking.dismissed_failure != item.id:
            found.append(FailedWriteBack(booking, item.last_error, item.done_at, item.id))
    return sorted(found, key=lambda f: -f.item_id)


class NothingToDo(Exception):
    """Retry or Dismiss on a booking whose write-back has not failed."""


def _failed_item(booking: Booking) -> OutboxItem:
    item = _newest(booking.uid)
    if item is None or item.status != "failed":
        raise NothingToDo("this booking's calendar write-back has not failed")
    return item


def retry(booking: Booking) -> None:
    """Queue the failed write-back again, with a fresh retry budget."""
    outbox.retry_now(_failed_item(booking))


def dismiss(booking: Booking) -> None:
    """Hide this failure (a later failure shows again)."""
    item = _failed_item(booking)
    with write_transaction():
        Booking.update(dismissed_failure=item.id).where(Booking.id == booking.id).execute()
