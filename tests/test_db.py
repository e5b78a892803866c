from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import peewee as pw
import pytest
from playhouse.migrate import migrate as run_ops

from calmesh import db
from calmesh.models import User
from tests.conftest import PG_URL, make_user


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):
    if PG_URL:
        pytest.skip("SQLite pragmas only; this run is on PostgreSQL")
    assert db.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_postgresql_urls_get_a_connection_pool():
    from playhouse.pool import PooledPostgresqlDatabase

    database = db.make_database("postgresql://user:pw@127.0.0.1:5432/calmesh")
    assert isinstance(database, PooledPostgresqlDatabase)


def test_unknown_database_scheme_is_refused():
    with pytest.raises(ValueError, match="unsupported scheme"):
        db.make_database("mysql://x@y/z")


def test_init_is_idempotent(app):
    assert db.migrate() == []
    assert db.migrate() == []


def test_a_later_migration_upgrades_an_existing_database_and_keeps_its_data(app):
    make_user("carol")

    def add_locale(migrator, database):
        run_ops(migrator.add_column("user", "locale", pw.CharField(default="en")))

    assert db.migrate([("m9001_add_locale", add_locale)]) == ["m9001_add_locale"]
    rows = db.db.execute_sql('SELECT handle, locale FROM "user"').fetchall()
    assert [tuple(r) for r in rows] == [("carol", "en")]
    assert db.SchemaVersion.get_or_none(name="m9001_add_locale") is not None
    # Running again applies nothing.
    assert db.migrate([("m9001_add_locale", add_locale)]) == []


def test_instants_are_stored_in_utc_and_read_back_aware(app):
    user = make_user("dora")
    berlin_noon = datetime(2026, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    User.update(created_at=berlin_noon).where(User.id == user.id).execute()
    stored = User.get_by_id(user.id).created_at
    assert stored == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert stored.tzinfo is UTC


def test_naive_datetimes_are_refused_on_the_way_in(app):
    user = make_user("erin")
    with pytest.raises(ValueError, match="naive datetime"):
        User.update(created_at=datetime(2026, 7, 1, 12, 0)).where(User.id == user.id).execute()


def test_ping_reports_a_reachable_database(app):
    assert db.ping() is None


@pytest.mark.parametrize(
    ("migration", "table", "column"),
    [
        ("m0030_idempotency_fingerprint", "booking", "idempotency_fingerprint"),
        ("m0031_calendar_object_fault", "calendar_object", "fault"),
    ],
)
def test_a_migration_adds_its_column_to_an_old_database(app, migration, table, column):
    run_ops(db.migrator_for(db.db).drop_column(table, column, cascade=False))
    assert column not in {c.name for c in db.db.get_columns(table)}
    db.SchemaVersion.delete().where(db.SchemaVersion.name == migration).execute()
    assert db.migrate() == [migration]
    assert column in {c.name for c in db.db.get_columns(table)}


def test_the_data_folder_database_and_secret_key_are_owner_only(tmp_path):
    import os
    import stat

    from tests.conftest import make_app

    loose = os.umask(0o022)  # the usual umask: files 0644, folders 0755 unless made otherwise
    try:
        app = make_app(tmp_path)  # the first start, in an empty folder
        with app.app_context():
            make_user("frank")  # a write: the WAL and shared-memory files exist now
            data = tmp_path / "data"
            modes = {
                p.name: stat.S_IMODE(p.stat().st_mode)
                for p in (data, *data.iterdir())
                if p.name in {"data", "secret_key"} or p.name.startswith("calmesh.db")
            }
            db.db.close()
    finally:
        os.umask(loose)
    assert modes.pop("data") == 0o700
    assert modes.pop("secret_key") == 0o600
    if not PG_URL:
        assert set(modes) == {"calmesh.db", "calmesh.db-wal", "calmesh.db-shm"}
    assert set(modes.values()) <= {0o600}, modes
