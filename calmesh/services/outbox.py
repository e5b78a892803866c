"""The outbox: side effects queued in the caller's transaction, delivered later.

``enqueue`` is called inside the transaction of the change (a booking, a
cancellation) so that the change and its side effects commit together or not
at all. The scheduler's ``outbox`` job claims due items with a lease (any
number of schedulers may run), hands each to its handler, and on failure
retries with exponential back-off; after ``outbox.max_attempts`` the item is
marked ``failed`` and stays visible for a retry by hand. Items sharing an
``ordering_key`` run one at a time, oldest first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from peewee import JOIN

from calmesh.db import db, utcnow
from calmesh.models import OutboxItem

log = logging.getLogger("calmesh.outbox")

LEASE = timedelta(minutes=5)
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 3600


class Retry(Exception):
    """A handler's failure worth retrying (provider down, SMTP busy)."""


class GiveUp(Exception):
    """A handler's failure that retrying cannot fix (address refused, event gone)."""


HANDLERS: dict[str, Callable[[dict[str, Any]], None]] = {}


def handler(kind: str) -> Callable:
    def register(func: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        HANDLERS[kind] = func
        return func

    return register


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


def due_items(limit: int = 50) -> list[int]:
    """Due, unleased items that no older pending item of the same key holds back."""
    now = utcnow()
    Older = OutboxItem.alias()
    query = (
        OutboxItem.select(OutboxItem.id)
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
    return [row.id for row in query]


def claim(item_id: int) -> bool:
    now = utcnow()
    return (
        OutboxItem.update(leased_until=now + LEASE)
        .where(
            (OutboxItem.id == item_id)
            & (OutboxItem.status == "pending")
            & (OutboxItem.leased_until.is_null() | (OutboxItem.leased_until < now))
        )
        .execute()
        == 1
    )


def deliver(item_id: int) -> str:
    """Run one item now if this process can claim it; returns its new status."""
    if not claim(item_id):
        return "busy"
    import calmesh.services.handlers  # noqa: F401  (registers every handler)

    item = OutboxItem.get_by_id(item_id)
    try:
        if item.kind not in HANDLERS:
            raise GiveUp(f"no handler for {item.kind!r}")
        HANDLERS[item.kind](item.payload)
    except GiveUp as exc:
        return _finish(item, "failed", str(exc))
    except Retry as exc:
        return _retry(item, str(exc))
    except Exception as exc:  # a bug: keep the item, say what happened, retry later
        log.exception("outbox item %s (%s) failed", item.id, item.kind)
        return _retry(item, f"unexpected error: {type(exc).__name__}: {exc}")
    return _finish(item, "done", "")


def _finish(item: OutboxItem, status: str, error: str) -> str:
    OutboxItem.update(
        status=status,
        attempts=item.attempts + 1,
        last_error=error[:2000],
        leased_until=None,
        done_at=utcnow(),
    ).where(OutboxItem.id == item.id).execute()
    if status == "failed":
        log.warning("outbox item %s (%s) failed for good: %s", item.id, item.kind, error)
    return status


def _retry(item: OutboxItem, error: str) -> str:
    attempts = item.attempts + 1
    if attempts >= current_app.config["CALMESH"]["outbox.max_attempts"]:
        return _finish(item, "failed", f"gave up after {attempts} attempts: {error}")
    delay = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempts - 1))
    OutboxItem.update(
        attempts=attempts,
        last_error=error[:2000],
        leased_until=None,
        next_attempt_at=utcnow() + timedelta(seconds=delay),
    ).where(OutboxItem.id == item.id).execute()
    return "pending"


def process_due(limit: int = 50) -> int:
    """Deliver what is due (the scheduler's job; also callable from tests and the CLI)."""
    done = 0
    for item_id in due_items(limit):
        if deliver(item_id) != "busy":
            done += 1
    return done


def retry_now(item: OutboxItem) -> None:
    """Put a failed item back in the queue (the owner's "retry" button)."""
    with db.atomic():
        OutboxItem.update(
            status="pending", attempts=0, next_attempt_at=utcnow(), leased_until=None
        ).where(OutboxItem.id == item.id).execute()
