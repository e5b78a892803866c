"""Named leases (one scheduler's job at a time, across every host): a row of
:class:`~calmesh.models.Lease` per name, claimed like any leased row
(:func:`calmesh.claims.claim`)."""

from __future__ import annotations

from datetime import timedelta

import peewee as pw

from calmesh.claims import claim as claim_rows
from calmesh.claims import holder
from calmesh.db import db
from calmesh.models import Lease

__all__ = ["claim", "holder", "release"]


def claim(name: str, ttl: timedelta, who: str | None = None) -> bool:
    """Claim ``name`` for ``ttl``; true when this caller now holds it.

    Either the row does not exist yet (the insert wins once, the unique key
    refuses the others) or it is free or already ours (the conditional update
    changes one row for exactly one caller).
    """
    who = who or holder()
    try:
        with db.atomic():  # a savepoint: on PostgreSQL a failed insert must not poison the caller
            Lease.insert(name=name, holder=who, leased_until=None).execute()
    except pw.IntegrityError:
        pass
    return claim_rows(Lease, Lease.name == name, ttl, who=who, again=True) == 1


def release(name: str, who: str | None = None) -> None:
    Lease.update(leased_until=None).where(
        (Lease.name == name) & (Lease.holder == (who or holder()))
    ).execute()
