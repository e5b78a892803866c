"""The owner's choices: how times are written (12h/24h, first day of the week),
where a calendar's bookings are written, and a dismissed failed write-back.
(The booking history table is new: it is created with the other new tables.)"""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import migrate


class _RemoteCalendar(pw.Model):
    """The remote calendar table as this migration knows it (only its key)."""

    class Meta:
        table_name = "remote_calendar"


def up(migrator, db):
    _RemoteCalendar._meta.set_database(db)
    migrate(
        migrator.add_column("user", "clock", pw.CharField(max_length=2, default="24")),
        migrator.add_column("user", "week_start", pw.IntegerField(default=0)),
        migrator.add_column(
            "unified_calendar",
            "write_calendar_id",
            pw.ForeignKeyField(
                _RemoteCalendar, field=_RemoteCalendar.id, null=True, on_delete="SET NULL"
            ),
        ),
        migrator.add_column("booking", "dismissed_failure", pw.BigIntegerField(null=True)),
    )
