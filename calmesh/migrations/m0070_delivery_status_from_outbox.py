"""A webhook delivery's status is its outbox item's (and ``delivered_at``): the
column that repeated it goes. A delivery recorded as delivered keeps that
through ``delivered_at``."""

from __future__ import annotations

from playhouse.migrate import migrate


def up(migrator, db):
    db.execute_sql(
        "UPDATE webhook_delivery SET delivered_at = COALESCE(last_attempt_at, created_at) "
        "WHERE status = 'delivered' AND delivered_at IS NULL"
    )
    migrate(migrator.drop_column("webhook_delivery", "status"))
