"""Kind ``poll.writeback``: the decided poll's event in the linked calendar.

Delivery makes the calendar match the poll as it is *now*: a decided option
is written (or moved), a withdrawn decision is removed.
"""

from __future__ import annotations

from typing import Any

from calmesh.effects import writeback
from calmesh.effects.drafts import poll_draft
from calmesh.effects.outbox import Context, Item, add
from calmesh.models import Poll, PollOption

KIND = "poll.writeback"
LANE = "writeback"


def ordering_key(public_id: str) -> str:
    """The key that keeps a poll's write-backs in order (and finds its newest)."""
    return f"poll:{public_id}:writeback"


def queue(poll: Poll) -> None:
    """Queue bringing the linked calendar up to date with ``poll`` (nothing to
    do for a poll that has no calendar and was never written)."""
    if poll.calendar_id is not None or poll.remote_href:
        add(Item(KIND, {"poll": poll.public_id}, poll.user_id, ordering_key(poll.public_id)))


def deliver(payload: dict[str, Any], context: Context) -> None:
    poll = Poll.get_or_none(Poll.public_id == payload["poll"])
    if poll is None:
        return
    option = None
    if poll.decided_option_id is not None:
        option = PollOption.get_or_none(PollOption.id == poll.decided_option_id)
    if option is None:
        writeback.remove(poll, context.settings)
    else:
        calendar = poll.calendar if poll.calendar_id is not None else None
        writeback.write(poll, poll_draft(poll, option), calendar, poll.timezone, context.settings)


def gave_up(payload: dict[str, Any], error: str, context: Context) -> None:
    """Nothing else to mark: the failed item is what the owner sees and retries."""
