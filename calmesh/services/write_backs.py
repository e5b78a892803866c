"""Where a booking's or a decided poll's write-back stands, for the owner:
written to which calendar, waiting, retrying, or failed and why; and the
owner's Retry and Dismiss.

Read from the outbox, never stored twice: the newest write-back item of a
booking or a poll (its ordering key) says how the last attempt went, and the
row keeps the calendar it was written to. A failure stays visible (on the
booking or the poll, the Overview, the calendar page) until a later write-back
succeeds, the owner retries it, or dismisses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from peewee import JOIN

from calmesh.db import write_transaction
from calmesh.effects import booking_writeback, outbox, poll_writeback
from calmesh.effects.booking_writeback import KIND
from calmesh.models import (
    ACTIVE,
    Booking,
    BookingPage,
    OutboxItem,
    Poll,
    RemoteCalendar,
    User,
)

STATES = ("none", "queued", "retrying", "written", "removed", "failed")
Row = Booking | Poll


def ordering_key(uid: str) -> str:
    """A booking's write-back key (the one :mod:`calmesh.effects.booking_writeback` queues)."""
    return booking_writeback.ordering_key(uid)


def _queue_of(row: Row) -> tuple[str, str]:
    """(outbox kind, ordering key) of ``row``'s write-backs."""
    if isinstance(row, Poll):
        return poll_writeback.KIND, poll_writeback.ordering_key(row.public_id)
    return KIND, ordering_key(row.uid)


def _wanted(row: Row) -> bool:
    """Whether ``row``'s event belongs in the calendar now."""
    if isinstance(row, Poll):
        return row.decided_option_id is not None
    return row.status in ACTIVE


@dataclass(frozen=True)
class WriteBack:
    """``state``: none (nothing to write yet: a pending request, an undecided
    poll), queued, retrying (failed, will try again), written, removed (a
    cancelled booking's or a withdrawn decision's event was deleted), failed
    (retries ended; the owner may retry)."""

    state: str
    calendar: RemoteCalendar | None = None  # written to (or, failing, would be)
    error: str = ""
    item_id: int | None = None
    at: datetime | None = None
    dismissed: bool = False

    @property
    def shows_failure(self) -> bool:
        return self.state == "failed" and not self.dismissed


def _newest(row: Row) -> OutboxItem | None:
    kind, key = _queue_of(row)
    return (
        OutboxItem.select()
        .where((OutboxItem.kind == kind) & (OutboxItem.ordering_key == key))
        .order_by(OutboxItem.id.desc())
        .first()
    )


def state_of(row: Row) -> WriteBack:
    """How the write-back of ``row`` (a booking or a poll) stands."""
    item = _newest(row)
    written = row.remote_calendar if row.remote_calendar_id else None
    if item is None:
        return WriteBack("none", written)
    if item.status == "pending":
        state = "retrying" if item.attempts else "queued"
        return WriteBack(state, written, item.last_error, item.id, item.next_attempt_at)
    if item.status == "done":
        if row.remote_href:
            return WriteBack("written", written, "", item.id, item.done_at)
        if written is not None and not _wanted(row):
            return WriteBack("removed", written, "", item.id, item.done_at)
        # A pending request moved: nothing was written, and nothing is to be yet.
        return WriteBack("none", written)
    return WriteBack(
        "failed",
        written,
        item.last_error,
        item.id,
        item.done_at,
        dismissed=row.dismissed_failure == item.id,
    )


@dataclass(frozen=True)
class FailedWriteBack:
    """A booking's (``booking``) or a decided poll's (``poll``) failed write-back."""

    error: str
    failed_at: datetime | None
    item_id: int
    booking: Booking | None = None
    poll: Poll | None = None


def _failed_items(user: User, kind: str) -> list[OutboxItem]:
    """The owner's newest write-back items of ``kind`` per row, where that one failed."""
    Newer = OutboxItem.alias()
    return list(
        OutboxItem.select()
        .join(
            Newer,
            JOIN.LEFT_OUTER,
            on=(
                (Newer.ordering_key == OutboxItem.ordering_key)
                & (Newer.kind == kind)
                & (Newer.id > OutboxItem.id)
            ),
        )
        .where(
            (OutboxItem.user == user)
            & (OutboxItem.kind == kind)
            & (OutboxItem.status == "failed")
            & Newer.id.is_null()
        )
    )


def _failures(user: User, model: type[Row], calendar_id: int | None) -> list[FailedWriteBack]:
    """The owner's bookings or polls (``model``) whose newest write-back failed and
    was not dismissed, newest failure first; ``calendar_id``: of one unified calendar."""
    if model is Poll:
        kind, name, key = poll_writeback.KIND, "poll", Poll.public_id
        query, on_calendar = Poll.select().where(Poll.user == user), Poll.calendar
    else:
        kind, name, key = KIND, "booking", Booking.uid
        query = Booking.select(Booking, BookingPage).join(BookingPage).where(Booking.user == user)
        on_calendar = BookingPage.calendar
    items = {item.payload.get(name): item for item in _failed_items(user, kind)}
    if not items:
        return []
    query = query.where(key.in_(list(items)))
    if calendar_id is not None:
        query = query.where(on_calendar == calendar_id)
    found = []
    for row in query:
        item = items[getattr(row, key.name)]
        if row.dismissed_failure != item.id:
            found.append(FailedWriteBack(item.last_error, item.done_at, item.id, **{name: row}))
    return sorted(found, key=lambda f: -f.item_id)


def failed_write_backs(user: User, calendar_id: int | None = None) -> list[FailedWriteBack]:
    """The owner's bookings whose calendar write-back failed (for the Overview, the
    bookings list and the calendar page)."""
    return _failures(user, Booking, calendar_id)


def failed_poll_write_backs(user: User, calendar_id: int | None = None) -> list[FailedWriteBack]:
    """The owner's decided polls whose event could not be written."""
    return _failures(user, Poll, calendar_id)


class NothingToDo(Exception):
    """Retry or Dismiss on a booking or poll whose write-back has not failed."""


def _failed_item(row: Row) -> OutboxItem:
    item = _newest(row)
    if item is None or item.status != "failed":
        what = "poll" if isinstance(row, Poll) else "booking"
        raise NothingToDo(f"this {what}'s calendar write-back has not failed")
    return item


def retry(row: Row) -> None:
    """Queue the failed write-back of ``row`` again, with a fresh retry budget."""
    outbox.retry_now(_failed_item(row))


def dismiss(row: Row) -> None:
    """Hide this failure (a later failure shows again)."""
    item = _failed_item(row)
    model = type(row)
    with write_transaction():
        model.update(dismissed_failure=item.id).where(model.id == row.id).execute()
