"""Keep on each calendar object why a cap cut its recurrence expansion, so the
connection shows the fault for as long as the cut data is stored."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import migrate


def up(migrator, db) -> None:
    migrate(migrator.add_column("calendar_object", "fault", pw.TextField(default="")))
