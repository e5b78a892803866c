"""Claiming rows with a lease, and the back-off between failed attempts.

One helper for every table whose rows are worked on by one process at a time
(named leases in :mod:`calmesh.jobs.leases`, outbox items, connections being
synced): a conditional ``UPDATE ... WHERE leased_until IS NULL OR
leased_until < now`` changes the row for exactly one caller, on SQLite (one
writer at a time) and on PostgreSQL (the second UPDATE waits for the first's
row lock, then re-checks the condition and changes nothing), across any number
of processes and hosts. A crashed holder's row is free again once its lease
runs out; a live one renews it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta

import peewee as pw

from calmesh.db import utcnow

RETRY_BASE_SECONDS = 30


def holder() -> str:
    """This process's name on the leases it holds."""
    # Recomputed after fork: a forked worker must not share its parent's identity.
    return f"{socket.gethostname()}:{os.getpid()}"


def _columns(model: type[pw.Model]) -> tuple[pw.Field, pw.Field]:
    fields = model._meta.fields
    return fields["leased_until"], fields.get("lease_holder") or fields["holder"]


def claim(
    model: type[pw.Model],
    where: pw.Expression,
    ttl: timedelta,
    *,
    now: datetime | None = None,
    who: str | None = None,
    again: bool = False,
    **fields,
) -> int:
    """Lease the rows of ``model`` matching ``where`` that nobody holds, for
    ``ttl``, setting ``fields`` with it; returns how many it took (for one row:
    1 for exactly one caller, 0 for the others). ``again``: a lease this
    process already holds is extended too."""
    now = now or utcnow()
    who = who or holder()
    until, held_by = _columns(model)
    free = until.is_null() | (until < now)
    if again:
        free = free | (held_by == who)
    return (
        model.update(
            {until: now + ttl, held_by: who, **{getattr(model, k): v for k, v in fields.items()}}
        )
        .where(where & free)
        .execute()
    )


def renew(
    model: type[pw.Model], ids: Iterable[int], ttl: timedelta, *, now: datetime | None = None
) -> int:
    """Extend this process's leases of the rows ``ids`` (still being worked on)."""
    ids = list(ids)
    if not ids:
        return 0
    until, held_by = _columns(model)
    now = now or utcnow()
    return (
        model.update({until: now + ttl})
        .where(model._meta.primary_key.in_(ids) & (held_by == holder()))
        .execute()
    )


def mine(model: type[pw.Model]) -> pw.Expression:
    """The condition that this process holds the row's lease (only the holder
    records the outcome of its work)."""
    return _columns(model)[1] == holder()


def backoff_seconds(failures: int, cap: float, base: float = RETRY_BASE_SECONDS) -> int:
    """The wait after the ``failures``-th failure in a row: ``base``, twice that,
    four times ... up to ``cap`` seconds."""
    return int(min(cap, base * 2 ** min(max(failures, 1) - 1, 30)))
