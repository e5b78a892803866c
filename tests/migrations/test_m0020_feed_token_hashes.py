"""m0020: existing feed tokens become hashes, and their URLs keep working."""

from __future__ import annotations

import hashlib

import peewee as pw
from playhouse.migrate import migrate as run_ops

from calmesh import db
from calmesh.models import UnifiedCalendar
from calmesh.services import calendars

NAME = "m0020_feed_token_hashes"


def _as_before(token: str, calendar_id: int) -> None:
    """The schema and data of a database from before m0020."""
    migrator = db.migrator_for(db.db.obj)
    run_ops(
        migrator.drop_index("unified_calendar", "unified_calendar_feed_token_hash"),
        migrator.rename_column("unified_calendar", "feed_token_hash", "feed_token"),
        migrator.add_index("unified_calendar", ("feed_token",), unique=True),
    )
    table = pw.Table("unified_calendar", ("id", "feed_token")).bind(db.db)
    table.update(feed_token=token).where(table.id == calendar_id).execute()
    db.SchemaVersion.delete().where(db.SchemaVersion.name == NAME).execute()


def test_existing_tokens_are_hashed_and_their_urls_keep_working(app, alice, stranger):
    calendar = calendars.create(alice, "work", "Work", "Europe/Berlin")
    untouched = calendars.create(alice, "home", "Home", "Europe/Berlin")
    token = "old-feed-token-handed-out-long-ago"
    _as_before(token, calendar.id)

    assert db.migrate() == [NAME]

    rows = db.db.execute_sql("SELECT * FROM unified_calendar").fetchall()
    assert token not in repr(rows)
    assert UnifiedCalendar.get_by_id(calendar.id).feed_token_hash == (
        hashlib.sha256(token.encode()).hexdigest()
    )
    assert UnifiedCalendar.get_by_id(untouched.id).feed_token_hash is None
    assert stranger.get(f"/feeds/{token}.ics").status_code == 200
    assert db.migrate() == []
