"""Kind ``booking.writeback``: the booking's event in the owner's calendar.

Delivery makes the provider match the booking as it is *now* (a retry sees
the latest state): accepted bookings are written, pending ones hold time here
only, cancelled and declined ones are removed.
"""

from __future__ import annotations

from typing import Any

from calmesh.effects import writeback
from calmesh.effects.drafts import booking_draft
from calmesh.effects.outbox import Context, Item, add
from calmesh.models import ACTIVE, Booking, BookingPage

KIND = "booking.writeback"
LANE = "writeback"
ACTIONS = ("write", "delete")


def ordering_key(uid: str) -> str:
    """The key that keeps a booking's write-backs in order (and finds its newest)."""
    return f"booking:{uid}:writeback"


def queue(booking: Booking, action: str) -> None:
    """Queue writing (``write``) or removing (``delete``) ``booking``'s event."""
    add(item(booking, action))


def item(booking: Booking, action: str) -> Item:
    """The outbox item :func:`queue` writes, for a caller that writes it together
    with others in one insert."""
    assert action in ACTIONS, action
    return Item(
        KIND,
        {"booking": booking.uid, "action": action},
        booking.user_id,
        ordering_key(booking.uid),
    )


def deliver(payload: dict[str, Any], context: Context) -> None:
    booking = (
        Booking.select(Booking, BookingPage)
        .join(BookingPage)
        .where(Booking.uid == payload["booking"])
        .first()
    )
    if booking is None:
        return
    if booking.status not in ACTIVE or payload["action"] == "delete":
        writeback.remove(booking, context.settings)
    elif booking.status == "accepted":
        calendar = booking.page.calendar
        writeback.write(
            booking, booking_draft(booking), calendar, calendar.timezone, context.settings
        )


def gave_up(payload: dict[str, Any], error: str, context: Context) -> None:
    """Nothing else to mark: the failed item is what the owner sees and retries."""
