"""Leases: a row claimed with a conditional UPDATE, so that only one process in
any number of schedulers, on any number of hosts, does a piece of work at once."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import peewee as pw

from calmesh.db import db, utcnow
from calmesh.models import Lease


def holder() -> str:
    # Recomputed after fork: a forked worker must not share its parent's identity.
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(name: str, ttl: timedelta, who: str | None = None) -> bool:
    """Claim ``name`` for ``ttl``; true when this caller now holds it.

    Either the row does not exist yet (the insert wins once, the unique key
    refuses the others) or its lease ran out (the conditional update changes
    one row for exactly one caller).
    """
    who = who or holder()
    now = utcnow()
    until = now + ttl
    try:
        with db.atomic():  # a savepoint: on PostgreSQL a failed insert must not poison the caller
            Lease.insert(name=name, holder=who, leased_until=until).execute()
        return True
    except pw.IntegrityError:
        pass
    changed = (
        Lease.update(holder=who, leased_until=until)
        .where(
            (Lease.name == name)
            & ((Lease.leased_until.is_null()) | (Lease.leased_until < now) | (Lease.holder == who))
        )
        .execute()
    )
    return changed == 1


def release(name: str, who: str | None = None) -> None:
    Lease.update(leased_until=None).where(
        (Lease.name == name) & (Lease.holder == (who or holder()))
    ).execute()
