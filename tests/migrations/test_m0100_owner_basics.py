"""m0100: users get a clock and a first day of the week, calendars the calendar
their bookings go to, bookings a dismissed write-back failure; old rows keep
working with the defaults (24h, Monday; a calendar without a choice writes to
its first writable one)."""

from __future__ import annotations

from playhouse.migrate import migrate as run_ops

from calmesh import db
from calmesh.models import Booking, UnifiedCalendar, User
from calmesh.services import calendars

NAME = "m0100_owner_basics"


def _as_before() -> None:
    migrator = db.migrator_for(db.db.obj)
    # SQLite's own DROP COLUMN refuses a foreign key column: rebuild the table.
    legacy = {"legacy": True} if db.is_sqlite() else {}
    run_ops(
        migrator.drop_column("user", "clock"),
        migrator.drop_column("user", "week_start"),
        migrator.drop_column("unified_calendar", "write_calendar_id", **legacy),
        migrator.drop_column("booking", "dismissed_failure"),
    )
    db.SchemaVersion.delete().where(db.SchemaVersion.name == NAME).execute()


def test_old_rows_get_the_defaults(app, alice):
    _as_before()
    assert "clock" not in {c.name for c in db.db.get_columns("user")}

    assert db.migrate() == [NAME]

    user = User.get_by_id(alice.id)
    assert (user.clock, user.week_start) == ("24", 0)
    calendars.create(alice, "work", "Work", "Europe/Berlin")
    assert UnifiedCalendar.get(UnifiedCalendar.slug == "work").write_calendar_id is None
    assert "dismissed_failure" in {c.name for c in db.db.get_columns(Booking._meta.table_name)}
    assert db.migrate() == []
