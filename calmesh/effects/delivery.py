"""Running an outbox item: its kind's module (:data:`calmesh.effects.kinds.KINDS`)
does the work; the outcome goes to the item's retry state
(:mod:`calmesh.effects.outbox`)."""

from __future__ import annotations

import logging
from datetime import datetime

from calmesh.auth import crypto
from calmesh.effects import outbox
from calmesh.effects.kinds import KINDS
from calmesh.effects.outbox import Context, Defer, GiveUp, Retry
from calmesh.models import OutboxItem

log = logging.getLogger("calmesh.outbox")


def deliver(item_id: int, context: Context, now: datetime | None = None) -> str:
    """Run one item now if this process can claim it; returns its new status."""
    if not outbox.claim(item_id, now):
        return "busy"
    return run(item_id, context, now)


def run(item_id: int, context: Context, now: datetime | None = None) -> str:
    """Run an item this process has claimed; returns its new status."""
    item = OutboxItem.get_by_id(item_id)
    module = KINDS.get(item.kind)

    def gave_up(error: str) -> None:
        if module is not None:
            module.gave_up(item.payload, error, context)

    settings = context.settings
    try:
        if module is None:
            raise GiveUp(f"no outbox kind {item.kind!r}")
        module.deliver(item.payload, context)
    except GiveUp as exc:
        return outbox.finish(item, "failed", str(exc), now, gave_up)
    except crypto.CredentialsUnreadable as exc:
        error = f"this host cannot read the stored credentials: {exc}"
        return outbox.retry(item, error, settings, now, defer=True)
    except Retry as exc:
        return outbox.retry(item, str(exc), settings, now, isinstance(exc, Defer), gave_up)
    except Exception as exc:  # a bug: keep the item, say what happened, retry later
        log.exception("outbox item %s (%s) failed", item.id, item.kind)
        error = f"unexpected error: {type(exc).__name__}: {exc}"
        return outbox.retry(item, error, settings, now, on_give_up=gave_up)
    return outbox.finish(item, "done", "", now)


def process_due(context: Context, limit: int = 50, now: datetime | None = None) -> int:
    """Deliver what is due, one item after another (tests and the CLI; the
    scheduler delivers concurrently, see :mod:`calmesh.jobs.outbox`)."""
    done = 0
    for item_id in outbox.due_items(limit, now):
        if deliver(item_id, context, now) != "busy":
            done += 1
    return done
