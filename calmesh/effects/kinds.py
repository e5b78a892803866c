"""Every outbox kind and the module that queues and delivers it: the one table
delivery looks a kind up in. A new kind is a module of the same shape (see
:mod:`calmesh.effects`) and a row here."""

from __future__ import annotations

from types import ModuleType

from calmesh.effects import booking_mail, booking_writeback, mail, poll_writeback, webhook
from calmesh.effects.outbox import LANES

KINDS: dict[str, ModuleType] = {
    mail.KIND: mail,
    booking_mail.KIND: booking_mail,
    booking_writeback.KIND: booking_writeback,
    poll_writeback.KIND: poll_writeback,
    webhook.KIND: webhook,
}
assert all(module.LANE in LANES for module in KINDS.values())


def kinds_of(lane: str) -> list[str]:
    """The kinds delivered in ``lane``."""
    return [kind for kind, module in KINDS.items() if lane == module.LANE]
