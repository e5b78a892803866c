"""The outbox: side effects queued in the caller's transaction, delivered later,
and the one retry state they have.

:func:`add` is called (by a kind module's ``queue``) inside the transaction
of the change, so that the change and its side effects commit together or not
at all. The scheduler delivers due items in three lanes (mail, calendar
write-back, webhooks; see :mod:`calmesh.jobs.outbox`), several at once in
each: an item is claimed with a short lease that the deliverer renews while it
works (:mod:`calmesh.claims`), so a crashed worker's item is free again within
:data:`LEASE` and a slow one is never taken twice. Items sharing an
``ordering_key`` (the side effects of one booking towards one recipient) run
one at a time, oldest first.

A failure is retried with exponential back-off capped at
``outbox.max_backoff_seconds``, for ``outbox.retry_hours`` after the first
failure; then the item is ``failed`` and stays visible for a retry by hand.
A failure this host cannot fix but another host may (credentials it cannot
decrypt: :class:`Defer`) is retried without that deadline. The item's
``attempts``, ``last_error`` and ``status`` are the only record of how its
delivery went: webhook deliveries show these, they keep no count of their own.

Delivery is at least once: a crash after the receiver took an item and before
it was marked done repeats it. Every repeat carries the same identity (the
mail's Message-ID, the webhook's X-CalMesh-Delivery), so receivers can drop it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from peewee import JOIN

from calmesh import claims
from calmesh.config import Config
from calmesh.db import utcnow, write_transaction
from calmesh.models import OutboxItem
from calmesh.urls import Links

log = logging.getLogger("calmesh.outbox")

# Renewed every LEASE / 3 while the item runs (calmesh.jobs.drain).
LEASE = timedelta(seconds=30)
LANES = ("mail", "writeback", "webhooks")


class Retry(Exception):
    """A delivery's failure worth retrying (provider down, SMTP busy)."""


class Defer(Retry):
    """This host cannot do the item (e.g. it cannot decrypt the credentials) but
    another host may: retried with back-off and never given up for it."""


class GiveUp(Exception):
    """A delivery's failure that retrying cannot fix (address refused, event gone)."""


@dataclass(frozen=True)
class Context:
    """What a delivery may use of the running app: its settings and its links."""

    settings: Config
    links: Links


@dataclass(frozen=True)
class Item:
    """An outbox item not yet written (see :func:`add_many`)."""

    kind: str
    payload: dict[str, Any]
    user_id: int | None = None
    ordering_key: str = ""


def add(item: Item) -> OutboxItem:
    """Write one item; call inside the transaction of the change that causes it."""
    return OutboxItem.create(
        kind=item.kind, payload=item.payload, user=item.user_id, ordering_key=item.ordering_key
    )


def add_many(items: Iterable[Item]) -> None:
    """Write several items in one insert (same rules as :func:`add`)."""
    rows = [
        {"kind": i.kind, "payload": i.payload, "user": i.user_id, "ordering_key": i.ordering_key}
        for i in items
    ]
    if rows:
        OutboxItem.insert_many(rows).execute()


# --- picking and claiming -------------------------------------------------------------


def due(
    limit: int = 50,
    *,
    kinds: Iterable[str] | None = None,
    exclude: Iterable[int] = (),
    now: datetime | None = None,
) -> list[tuple[int, str]]:
    """(id, ordering_key) of due, unleased items that no older pending item of
    the same key holds back, oldest first."""
    now = now or utcnow()
    Older = OutboxItem.alias()
    query = (
        OutboxItem.select(OutboxItem.id, OutboxItem.ordering_key)
        .join(
            Older,
            JOIN.LEFT_OUTER,
            on=(
                (Older.ordering_key == OutboxItem.ordering_key)
                & (OutboxItem.ordering_key != "")
                & (Older.status == "pending")
                & (Older.id < OutboxItem.id)
            ),
        )
        .where(
            (OutboxItem.status == "pending")
            & (OutboxItem.next_attempt_at <= now)
            & (OutboxItem.leased_until.is_null() | (OutboxItem.leased_until < now))
            & Older.id.is_null()
        )
        .order_by(OutboxItem.id)
        .limit(limit)
    )
    if kinds is not None:
        query = query.where(OutboxItem.kind.in_(list(kinds)))
    exclude = list(exclude)
    if exclude:
        query = query.where(OutboxItem.id.not_in(exclude))
    return [(row.id, row.ordering_key) for row in query]


def due_items(limit: int = 50, now: datetime | None = None) -> list[int]:
    """The ids of :func:`due` items of every lane."""
    return [item_id for item_id, _ in due(limit, now=now)]


def claim(item_id: int, now: datetime | None = None) -> bool:
    """Take the item for :data:`LEASE`; true for exactly one caller."""
    where = (OutboxItem.id == item_id) & (OutboxItem.status == "pending")
    return claims.claim(OutboxItem, where, LEASE, now=now) == 1


def renew(item_ids: Iterable[int], now: datetime | None = None) -> int:
    """Extend this process's leases of ``item_ids`` (items still being worked on)."""
    return claims.renew(OutboxItem, item_ids, LEASE, now=now)


# --- recording the outcome ----------------------------------------------------------------


def _mine(item: OutboxItem):
    return (OutboxItem.id == item.id) & claims.mine(OutboxItem)


def finish(
    item: OutboxItem,
    status: str,
    error: str,
    now: datetime | None = None,
    on_give_up: Callable[[str], None] | None = None,
) -> str:
    """Record the item ``done`` or ``failed``; ``on_give_up(error)`` runs in the
    same transaction when it failed."""
    now = now or utcnow()
    with write_transaction():
        changed = (
            OutboxItem.update(
                status=status,
                attempts=item.attempts + 1,
                last_error=error[:2000],
                leased_until=None,
                done_at=now,
            )
            .where(_mine(item))
            .execute()
        )
        if not changed:
            log.warning("outbox item %s (%s): lease lost before it finished", item.id, item.kind)
            return status
        if status == "failed" and on_give_up is not None:
            on_give_up(error)
    if status == "failed":
        log.warning("outbox item %s (%s) failed for good: %s", item.id, item.kind, error)
    return status


def retry(
    item: OutboxItem,
    error: str,
    settings: Config,
    now: datetime | None = None,
    defer: bool = False,
    on_give_up: Callable[[str], None] | None = None,
) -> str:
    """Record a failed attempt: due again after the back-off, or ``failed`` once
    ``outbox.retry_hours`` have passed since the first failure (never for ``defer``)."""
    now = now or utcnow()
    attempts = item.attempts + 1
    hours = settings["outbox.retry_hours"]
    until = item.retry_until
    if until is None and not defer:
        until = now + timedelta(hours=hours)
    if not defer and now >= until:
        message = f"gave up after {attempts} attempts in {hours} h: {error}"
        return finish(item, "failed", message, now, on_give_up)
    wait = claims.backoff_seconds(attempts, settings["outbox.max_backoff_seconds"])
    OutboxItem.update(
        attempts=attempts,
        last_error=error[:2000],
        leased_until=None,
        retry_until=until,
        next_attempt_at=now + timedelta(seconds=wait),
    ).where(_mine(item)).execute()
    return "pending"


def requeue(item_id: int, now: datetime | None = None) -> int:
    """Make a pending or failed item due now with a fresh retry budget (unless a
    worker holds it: that attempt is already on its way). Rows changed."""
    now = now or utcnow()
    return (
        OutboxItem.update(
            status="pending", attempts=0, retry_until=None, next_attempt_at=now, leased_until=None
        )
        .where(
            (OutboxItem.id == item_id)
            & (OutboxItem.leased_until.is_null() | (OutboxItem.leased_until < now))
        )
        .execute()
    )


def retry_now(item: OutboxItem) -> None:
    """Put a failed item back in the queue (the owner's "retry" button)."""
    with write_transaction():
        requeue(item.id)
