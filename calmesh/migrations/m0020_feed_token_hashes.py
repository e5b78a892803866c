"""Private feed tokens are kept as SHA-256 hashes only (``feed_token_hash``).

Existing tokens are hashed in place, so the feed URLs already handed out keep
working; they can no longer be read back from the database.
"""

from __future__ import annotations

import hashlib

import peewee as pw
from playhouse.migrate import migrate

TABLE = "unified_calendar"


def up(migrator, db) -> None:
    table = pw.Table(TABLE, ("id", "feed_token", "feed_token_hash")).bind(db)
    tokens = list(table.select(table.id, table.feed_token).where(table.feed_token.is_null(False)))
    migrate(
        migrator.drop_index(TABLE, f"{TABLE}_feed_token"),
        migrator.rename_column(TABLE, "feed_token", "feed_token_hash"),
    )
    for row in tokens:
        # The same hash as calmesh.auth.apikeys.hash_key, spelled out: a
        # migration must not change when that code does.
        digest = hashlib.sha256(row["feed_token"].encode()).hexdigest()
        table.update(feed_token_hash=digest).where(table.id == row["id"]).execute()
    migrate(migrator.add_index(TABLE, ("feed_token_hash",), unique=True))
