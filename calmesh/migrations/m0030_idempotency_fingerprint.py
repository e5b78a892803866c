"""Bind each booking's Idempotency-Key to the request it was first sent with.

Rows booked before keep a NULL fingerprint: a replay of their key is refused
(422) rather than trusted, since nothing shows it is the same request.
"""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import migrate


def up(migrator, db) -> None:
    migrate(
        migrator.add_column(
            "booking", "idempotency_fingerprint", pw.CharField(max_length=64, null=True)
        )
    )
