"""The outbox: side effects queued in the caller's transaction, delivered later.

``enqueue`` is called inside the transaction of the change (a booking, a
cancellation) so that the change and its side effects commit together or not
at all. The scheduler delivers due items in three lanes (mail, calendar
write-back, webhooks; see :mod:`calmesh.jobs.outbox`), several at once in
each: an item is claimed with a short lease that the deliverer renews while it
works, so a crashed worker's item is free again within :data:`LEASE` and a
slow one is never taken twice. Items sharing an ``ordering_key`` (the side
effects of one booking towards one recipient) run one at a time, oldest first.

A failure is retried with exponential back-off capped at
``outbox.max_backoff_seconds``, for ``outbox.retry_hours`` after the first
failure; then the item is ``failed`` and stays visible for a retry by hand.
A failure this host cannot fix but another host may (credentials it cannot
decrypt: :class:`Defer`) is retried without that deadline.

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

from flask import current_app
from peewee import JOIN

from calmesh.auth import crypto
from calmesh.db import utcnow, write_transaction
from calmesh.jobs.leases import holder
from calmesh.models import OutboxItem

log = logging.getLogger("calmesh.outbox")

# Renewed every LEASE / 3 while the item runs (calmesh.jobs.drain).
LEASE = timedelta(seconds=30)
RETRY_BASE_SECONDS = 30


class Retry(Exception):
    """A handler's failure worth retrying (provider down, SMTP busy)."""


class Defer(Retry):
    """This host cannot do the item (e.g. it cannot decrypt the credentials) but
    another host may: retried with back-off and never given up for it."""


class GiveUp(Exception):
    """A handler's failure that retrying cannot fix (address refused, event gone)."""


@dataclass(frozen=True)
class Handler:
    func: Callable[[dict[str, Any]], None]
    lane: str
    # Called (in the item's final transaction) when the item ends failed.
    on_give_up: Callable[[dict[str, Any], OutboxItem, str], None] | None = None


HANDLERS: dict[str, Handler] = {}
LANES = ("mail", "writeback", "webhooks")


def handler(kind: str, lane: str, on_give_up: Callable | None = None) -> Callable:
    """Register the function that delivers items of ``kind``, in ``lane``."""
    assert lane in LANES, lane

    def register(func: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        HANDLERS[kind] = Handler(func, lane, on_give_up)
        return func

    return register


def kinds_of(lane: str) -> list[str]:
    import calmesh.services.handlers  # noqa: F401  (registers every handler)

    return [kind for kind, h in HANDLERS.items() if h.lane == lane]


def enqueue(
    kind: str, payload: dict[str, Any], *, user_id: int | None = None, ordering_key: str = ""
) -> OutboxItem:
    """Queue a side effect; call inside the transaction of the change that causes it."""
    import calmesh.services.handlers  # noqa: F401  (registers every handler)

    if kind not in HANDLERS:
        raise ValueError(f"no outbox handler for {kind!r}")
    return OutboxItem.create(kind=kind, payload=payload, user=user_id, ordering_key=ordering_key)


@dataclass(frozen=True)
class Item:
    """An outbox item not yet written (see enqueue_many)."""

    kind: str
    payload: dict[str, Any]
    user_id: int | None = None
    ordering_key: str = ""


def enqueue_many(items: list[Item]) -> None:
    """Queue several side effects in one insert (same rules as ``enqueue``)."""
    import calmesh.services.handlers  # noqa: F401  (registers every handler)

    for item in items:
        if item.kind not in HANDLERS:
            raise ValueError(f"no outbox handler for {item.kind!r}")
    if items:
        OutboxItem.insert_many(
            [
                {
                    "kind": i.kind,
                    "payload": i.payload,
                    "user": i.user_id,
                    "ordering_key": i.ordering_key,
                }
                for i in items
            ]
        ).execute()


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
    now = now or utcnow()
    return (
        OutboxItem.update(leased_until=now + LEASE, lease_holder=holder())
        .where(
            (OutboxItem.id == item_id)
            & (OutboxItem.status == "pending")
            & (OutboxItem.leased_until.is_null() | (OutboxItem.leased_until < now))
        )
        .execute()
        == 1
    )


def renew(item_ids: Iterable[int], now: datetime | None = None) -> int:
    """Extend this process's leases of ``item_ids`` (items still being worked on)."""
    item_ids = list(item_ids)
    if not item_ids:
        return 0
    now = now or utcnow()
    return (
        OutboxItem.update(leased_until=now + LEASE)
        .where(
            OutboxItem.id.in_(item_ids)
            & (OutboxItem.status == "pending")
            & (OutboxItem.lease_holder == holder())
        )
        .execute()
    )


# --- delivering -------------------------------------------------------------------------


def deliver(item_id: int, now: datetime | None = None) -> str:
    """Run one item now if this process can claim it; returns its new status."""
    if not claim(item_id, now):
        return "busy"
    return run(item_id, now)


def run(item_id: int, now: datetime | None = None) -> str:
    """Run an item this process has claimed; returns its new status."""
    import calmesh.services.handlers  # noqa: F401  (registers every handler)

    item = OutboxItem.get_by_id(item_id)
    spec = HANDLERS.get(item.kind)
    try:
        if spec is None:
            raise GiveUp(f"no handler for {item.kind!r}")
        spec.func(item.payload)
    except GiveUp as exc:
        return _finish(item, "failed", str(exc), now)
    except crypto.CredentialsUnreadable as exc:
        return _retry(item, f"this host cannot read the stored credentials: {exc}", now, True)
    except Retry as exc:
        return _retry(item, str(exc), now, isinstance(exc, Defer))
    except Exception as exc:  # a bug: keep the item, say what happened, retry later
        log.exception("outbox item %s (%s) failed", item.id, item.kind)
        return _retry(item, f"unexpected error: {type(exc).__name__}: {exc}", now)
    return _finish(item, "done", "", now)


def _mine(item: OutboxItem):
    # Only the holder of the lease records the outcome.
    return (OutboxItem.id == item.id) & (OutboxItem.lease_holder == holder())


def _finish(item: OutboxItem, status: str, error: str, now: datetime | None = None) -> str:
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
        spec = HANDLERS.get(item.kind)
        if status == "failed" and spec is not None and spec.on_give_up is not None:
            item.attempts += 1
            spec.on_give_up(item.payload, item, error)
    if status == "failed":
        log.warning("outbox item %s (%s) failed for good: %s", item.id, item.kind, error)
    return status


def backoff_seconds(attempts: int) -> int:
    """The wait after the ``attempts``-th failure: 30 s, 1 min, 2 min, ... up to the cap."""
    cap = current_app.config["CALMESH"]["outbox.max_backoff_seconds"]
    return int(min(cap, RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 30)))


def _retry(item: OutboxItem, error: str, now: datetime | None = None, defer: bool = False) -> str:
    now = now or utcnow()
    attempts = item.attempts + 1
    until = item.retry_until
    if until is None and not defer:
        until = now + timedelta(hours=current_app.config["CALMESH"]["outbox.retry_hours"])
    if not defer and now >= until:
        hours = current_app.config["CALMESH"]["outbox.retry_hours"]
        return _finish(
            item, "failed", f"gave up after {attempts} attempts in {hours} h: {error}", now
        )
    OutboxItem.update(
        attempts=attempts,
        last_error=error[:2000],
        leased_until=None,
        retry_until=until,
        next_attempt_at=now + timedelta(seconds=backoff_seconds(attempts)),
    ).where(_mine(item)).execute()
    return "pending"


def process_due(limit: int = 50, now: datetime | None = None) -> int:
    """Deliver what is due, one item after another (tests and the CLI; the
    scheduler delivers concurrently, see :mod:`calmesh.jobs.outbox`)."""
    done = 0
    for item_id in due_items(limit, now):
        if deliver(item_id, now) != "busy":
            done += 1
    return done


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
