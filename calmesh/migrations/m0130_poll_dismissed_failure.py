"""A decided poll's failed calendar write-back the owner dismissed (as bookings
have had since m0100): a later failure shows again."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import migrate


def up(migrator, db):
    migrate(migrator.add_column("poll", "dismissed_failure", pw.BigIntegerField(null=True)))
