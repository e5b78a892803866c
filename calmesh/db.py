"""The one database object, initialised late from ``database_url``, and migrations.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy
timeout, one connection kept per worker thread; its folder and file are
created for the owner alone (0700, 0600; SQLite gives the -wal and -shm files
the database file's mode). PostgreSQL is pooled. Writes that must serialise
(bookings, leases) use :func:`write_transaction`.

Migrations: a fresh database gets every table of the current models and is
stamped with the newest migration; an existing one gets the migrations it has
not seen, in order. Each migration is a module ``calmesh/migrations/mNNNN_*.py``
with ``def up(migrator, db)``, written against the schema before it. Migrations
run inside the app's context when :func:`init_db` was given one, so that they
can encrypt with its secret key.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import peewee as pw
from playhouse.db_url import connect
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator

db = pw.DatabaseProxy()
# Entered around migrations (create_app passes its app_context).
_migration_context: Callable[[], AbstractContextManager] | None = None

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    "synchronous": "normal",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTimeField(pw.DateTimeField):
    """Stores instants as naive UTC; reads them back timezone-aware (UTC).

    Naive datetimes are refused on the way in: an instant without a zone is a bug.
    """

    def db_value(self, value):
        if value is None:
            return None
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{self.name}: naive datetime {value!r}; pass an aware one")
            value = value.astimezone(UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):
        if isinstance(value, str):
            # SQLite hands back text; fromisoformat (C) is far faster than
            # peewee's strptime loop, and this runs for every row read.
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                value = super().python_value(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class JSONField(pw.TextField):
    """Structured settings kept as JSON text (the same on SQLite and PostgreSQL)."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(pw.Model):
    class Meta:
        database = db
        legacy_table_names = False


def is_sqlite() -> bool:
    return isinstance(db.obj, pw.SqliteDatabase)


def make_database(url: str) -> pw.Database:
    """Build the peewee database for a URL: SQLite file or pooled PostgreSQL."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            _owner_only(Path(path))
        return pw.SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    if scheme in {"postgres", "postgresql"}:
        return connect(
            "postgresql+pool" + url[len(scheme) :],
            # A request needs one; the scheduler's worker up to ~25 at once (its
            # jobs, three outbox lanes and the sync pool). Opened only when used.
            max_connections=40,
            stale_timeout=300,
            timeout=10,
        )
    raise ValueError(
        f"database_url: unsupported scheme {scheme!r} (use sqlite:/// or postgresql://)"
    )


def _owner_only(path: Path) -> None:
    """Create the SQLite file (and its folder, when new) readable by the owner alone.

    SQLite keeps the mode of a file that exists and gives its -wal and -shm
    files the same; an existing file or folder is left as the admin set it.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def init_db(
    url: str, migration_context: Callable[[], AbstractContextManager] | None = None
) -> pw.Database:
    global _migration_context
    database = make_database(url)
    db.initialize(database)
    _migration_context = migration_context
    return database


@contextmanager
def write_transaction() -> Iterator[None]:
    """A transaction that takes the write lock at once.

    On SQLite ``BEGIN IMMEDIATE`` serialises writers across processes, so a
    read-check-insert inside it cannot interleave with another worker's. On
    PostgreSQL callers add row locks or rely on unique constraints.
    """
    if is_sqlite():
        with db.atomic("IMMEDIATE"):
            yield
    else:
        with db.atomic():
            yield


# --- migrations -------------------------------------------------------------


class SchemaVersion(BaseModel):
    name = pw.CharField(primary_key=True, max_length=200)
    applied_at = UTCDateTimeField(default=utcnow)


Migration = tuple[str, Callable[[SchemaMigrator, pw.Database], None]]


def discover_migrations() -> list[Migration]:
    from calmesh import migrations

    found = []
    for info in sorted(pkgutil.iter_modules(migrations.__path__), key=lambda m: m.name):
        if info.name.startswith("m"):
            module = importlib.import_module(f"calmesh.migrations.{info.name}")
            found.append((info.name, module.up))
    return found


def migrator_for(database: pw.Database) -> SchemaMigrator:
    if isinstance(database, pw.SqliteDatabase):
        return SqliteMigrator(database)
    return PostgresqlMigrator(database)


@contextmanager
def _foreign_keys_off(database: pw.Database) -> Iterator[None]:
    """SQLite: foreign keys off while migrating (outside the transaction, where
    the pragma takes effect). A migration that adds a NOT NULL column or drops
    a key rebuilds the table (copy, DROP, rename), and with foreign keys on
    the DROP would delete or clear every row that refers to the old table
    (https://www.sqlite.org/lang_altertable.html#otheralter)."""
    if not isinstance(database, pw.SqliteDatabase):
        yield
        return
    database.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        database.execute_sql("PRAGMA foreign_keys = ON")


def migrate(migrations: list[Migration] | None = None) -> list[str]:
    """Create or upgrade the schema; returns the names of the migrations applied."""
    from calmesh.models import ALL_MODELS

    migrations = discover_migrations() if migrations is None else migrations
    database = db.obj
    context = _migration_context() if _migration_context else nullcontext()
    with (
        context,
        database.connection_context(),
        _foreign_keys_off(database),
        write_transaction(),
    ):
        # Several workers may start at once: the write lock (SQLite) or an
        # advisory lock (PostgreSQL) lets one migrate while the others wait.
        if not isinstance(database, pw.SqliteDatabase):
            database.execute_sql("SELECT pg_advisory_xact_lock(7461)")
        fresh = not database.table_exists(SchemaVersion._meta.table_name)
        applied: list[str] = []
        if fresh:
            database.create_tables([SchemaVersion, *ALL_MODELS])
            if migrations:
                SchemaVersion.insert_many([{"name": name} for name, _ in migrations]).execute()
            return ["<created>"]
        seen = {row.name for row in SchemaVersion.select()}
        migrator = migrator_for(database)
        for name, up in migrations:
            if name not in seen:
                up(migrator, database)
                SchemaVersion.create(name=name)
                applied.append(name)
        # Tables added by a release are created here; existing ones are left alone.
        database.create_tables(ALL_MODELS, safe=True)
        if isinstance(database, pw.SqliteDatabase):
            broken = database.execute_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"a migration left rows with dangling keys: {broken[:5]}")
        return applied


def ping() -> str | None:
    """None when the database answers, else a short reason."""
    try:
        db.execute_sql("SELECT 1")
    except pw.PeeweeException as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None
