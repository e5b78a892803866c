"""m0100: users get a clock and a first day of the week, calendars the calendar
their bookings go to, bookings a dismissed write-back failure; old rows keep
working with the defaults (24h, Monday; a calendar without a choice writes to
its first writable one)."""

from __future__ import annotations

from playhouse.migrate import migrate as run_ops

from calmesh import db
from calmesh.models import Booking, BookingPage, UnifiedCalendar, User
from calmesh.services import booking_pages, calendars

NAME = "m0100_owner_basics"


def _as_before() -> None:
    migrator = db.migrator_for(db.db.obj)
    # SQLite's own DROP COLUMN refuses a foreign key column: rebuild the table.
    legacy = {"legacy": True} if db.is_sqlite() else {}
    if db.is_sqlite():  # that rebuild must not take the pages along (see db.migrate)
        db.db.execute_sql("PRAGMA foreign_keys = OFF")
    run_ops(
        migrator.drop_column("user", "clock"),
        migrator.drop_column("user", "week_start"),
        migrator.drop_column("unified_calendar", "write_calendar_id", **legacy),
        migrator.drop_column("booking", "dismissed_failure"),
    )
    if db.is_sqlite():
        db.db.execute_sql("PRAGMA foreign_keys = ON")
    db.SchemaVersion.delete().where(db.SchemaVersion.name == NAME).execute()


def test_old_rows_get_the_defaults(app, alice):
    calendars.create(alice, "home", "Home", "Europe/Berlin")
    page = booking_pages.create(
        alice, {"slug": "intro", "title": "Intro", "calendar": "home", "timezone": "UTC"}
    )
    _as_before()
    assert "clock" not in {c.name for c in db.db.get_columns("user")}

    assert db.migrate() == [NAME]

    # The tables rebuilt on SQLite keep what refers to them (foreign keys are
    # off while migrating): the page and its calendar are still there.
    assert BookingPage.get_by_id(page.id).calendar.slug == "home"

    user = User.get_by_id(alice.id)
    assert (user.clock, user.week_start) == ("24", 0)
    calendars.create(alice, "work", "Work", "Europe/Berlin")
    assert UnifiedCalendar.get(UnifiedCalendar.slug == "work").write_calendar_id is None
    assert "dismissed_failure" in {c.name for c in db.db.get_columns(Booking._meta.table_name)}
    assert db.migrate() == []
