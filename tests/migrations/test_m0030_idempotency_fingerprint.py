"""m0030: bookings get an idempotency fingerprint; rows from before keep NULL."""

from __future__ import annotations

from playhouse.migrate import migrate as run_ops

from calmesh import db

NAME = "m0030_idempotency_fingerprint"


def test_the_column_is_added_and_empty_for_existing_rows(app):
    migrator = db.migrator_for(db.db.obj)
    run_ops(migrator.drop_column("booking", "idempotency_fingerprint"))
    db.SchemaVersion.delete().where(db.SchemaVersion.name == NAME).execute()
    assert "idempotency_fingerprint" not in {c.name for c in db.db.get_columns("booking")}

    assert db.migrate() == [NAME]

    column = next(c for c in db.db.get_columns("booking") if c.name == "idempotency_fingerprint")
    assert column.null is True
    assert db.migrate() == [], "applied once"
